/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet tests of the XDP programs (bpf/xdp_steer.bpf.c, bpf/tun_decap.bpf.c)
 * through BPF_PROG_TEST_RUN: tables of {description, input packet, expected
 * verdict, expected output packet, expected counter deltas}. The steering
 * cases run with a real AF_XDP socket in xsks_map, bound to a veth in a
 * network namespace private to the test process, so a redirect decision
 * returns XDP_REDIRECT.
 *
 * Needs root and the compiled objects ($EDGELB_BPF_DIR); exits 77 (skip)
 * without them.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>

#include <check.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>

#include "steer.h"
#include "tun_decap.h"
#include "xdp_steer.h"

#define PKT_MAX	  512
#define NO_REASON (-1)

static const char *obj_dir;

/* ---- packet builder ---------------------------------------------------- */

struct pkt {
	uint8_t b[PKT_MAX];
	size_t len;
};

/*
 * What to build. L3 is chosen by ethertype; src/dst are the IP addresses
 * (for ARP: sender and target). Zero fields take natural defaults.
 */
struct spec {
	uint16_t ethertype; /* ETH_P_IP, ETH_P_IPV6, ETH_P_ARP, other */
	uint16_t vlan;	    /* VLAN id; 0 = untagged */
	uint16_t tpid;	    /* of that tag; 0 = 802.1Q */
	uint16_t vlan2;	    /* a second (inner) 802.1Q tag; 0 = none */
	const char *src, *dst;
	uint8_t proto;	 /* L4 protocol / next header */
	uint8_t ihl;	 /* 0 = 5 */
	uint8_t version; /* 0 = natural */
	uint16_t frag;	 /* IPv4 frag_off field, host order */
	uint16_t dport;	 /* TCP/UDP */
	uint8_t icmp6;	 /* ICMPv6 type; ND target = target */
	const char *target;
	uint16_t arp_op;  /* 0 = request */
	uint16_t arp_hrd; /* 0 = Ethernet */
	size_t trunc;	  /* > 0: cut the frame to this length */
};

static const uint8_t mac_dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t mac_src[6] = { 0x02, 0, 0, 0, 0, 0x01 };

static void
put(struct pkt *p, const void *d, size_t n)
{
	ck_assert_uint_le(p->len + n, PKT_MAX);
	memcpy(p->b + p->len, d, n);
	p->len += n;
}

static void
put16(struct pkt *p, uint16_t v)
{
	v = htons(v);
	put(p, &v, 2);
}

static void
put_addr(struct pkt *p, int family, const char *s)
{
	uint8_t a[16];

	ck_assert_int_eq(inet_pton(family, s, a), 1);
	put(p, a, family == AF_INET ? 4 : 16);
}

static uint16_t
csum(const uint8_t *d, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (d[i] << 8) | d[i + 1];
	if (n & 1)
		s += d[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

static void
put_eth(struct pkt *p, uint16_t ethertype, uint16_t vlan)
{
	put(p, mac_dst, 6);
	put(p, mac_src, 6);
	if (vlan) {
		put16(p, ETH_P_8021Q);
		put16(p, vlan);
	}
	put16(p, ethertype);
}

/* L4 bytes: TCP (20) or UDP (8 + 8 payload), or 8 opaque bytes. */
static void
put_l4(struct pkt *p, const struct spec *s)
{
	static const uint8_t payload[8] = "edgelb!";

	if (s->proto == IPPROTO_TCP) {
		put16(p, 40000);
		put16(p, s->dport);
		put(p, "\0\0\0\1\0\0\0\0\x50\x02\xff\xff\0\0\0\0", 16);
	} else if (s->proto == IPPROTO_UDP) {
		put16(p, 40000);
		put16(p, s->dport);
		put16(p, 16);
		put16(p, 0);
		put(p, payload, 8);
	} else if (s->proto == IPPROTO_ICMPV6 && s->icmp6) {
		uint8_t h[8] = { s->icmp6, 0, 0, 0, 0, 0, 0, 0 };

		put(p, h, 8);
		put_addr(p, AF_INET6, s->target);
	} else {
		put(p, "\x08\0\0\0\0\1\0\1", 8);
	}
}

static void
put_ipv4(struct pkt *p, const struct spec *s, size_t l4len)
{
	uint8_t ihl = s->ihl ? s->ihl : 5;
	size_t start = p->len, i;
	uint16_t c;

	put16(p, ((s->version ? s->version : 4) << 12) | (ihl << 8));
	put16(p, ihl * 4 + l4len);
	put16(p, 0x1234);
	put16(p, s->frag);
	put16(p, (64 << 8) | s->proto);
	put16(p, 0);
	put_addr(p, AF_INET, s->src);
	put_addr(p, AF_INET, s->dst);
	/* Options: NOPs then EOL, so a parser that reads ports at offset
	 * 20 instead of ihl * 4 finds port 0x0101, not the VIP's. */
	for (i = 5; i < ihl; i++)
		put(p, i + 1 < ihl ? "\1\1\1\1" : "\1\1\1\0", 4);
	c = htons(csum(p->b + start, ihl * 4));
	memcpy(p->b + start + 10, &c, 2);
}

/* The L3 packet (no Ethernet header) described by s. */
static void
build_l3(struct pkt *p, const struct spec *s)
{
	struct pkt l4 = { .len = 0 };

	if (s->ethertype == ETH_P_ARP) {
		put16(p, s->arp_hrd ? s->arp_hrd : 1);
		put16(p, ETH_P_IP);
		put(p, "\x06\x04", 2);
		put16(p, s->arp_op ? s->arp_op : 1);
		put(p, mac_src, 6);
		put_addr(p, AF_INET, s->src);
		put(p, "\0\0\0\0\0\0", 6);
		put_addr(p, AF_INET, s->dst);
		return;
	}
	if (s->ethertype != ETH_P_IP && s->ethertype != ETH_P_IPV6) {
		put(p, "\0\1\2\3\4\5\6\7\0\1\2\3\4\5\6\7", 16);
		return;
	}
	put_l4(&l4, s);
	if (s->ethertype == ETH_P_IP) {
		put_ipv4(p, s, l4.len);
	} else {
		put16(p, (s->version ? s->version : 6) << 12);
		put16(p, 0);
		put16(p, l4.len);
		put16(p, (s->proto << 8) | 64);
		put_addr(p, AF_INET6, s->src);
		put_addr(p, AF_INET6, s->dst);
	}
	put(p, l4.b, l4.len);
}

static void
build(struct pkt *p, const struct spec *s)
{
	p->len = 0;
	if (s->tpid || s->vlan2) {
		put(p, mac_dst, 6);
		put(p, mac_src, 6);
		put16(p, s->tpid ? s->tpid : ETH_P_8021Q);
		put16(p, s->vlan);
		if (s->vlan2) {
			put16(p, ETH_P_8021Q);
			put16(p, s->vlan2);
		}
		put16(p, s->ethertype);
	} else {
		put_eth(p, s->ethertype, s->vlan);
	}
	build_l3(p, s);
	if (s->trunc)
		p->len = s->trunc;
}

/* ---- BPF plumbing ------------------------------------------------------ */

static struct bpf_object *
load(const char *file)
{
	char path[512];
	struct bpf_object *obj;

	snprintf(path, sizeof(path), "%s/%s", obj_dir, file);
	obj = bpf_object__open_file(path, NULL);
	ck_assert_msg(libbpf_get_error(obj) == 0, "open %s", path);
	ck_assert_int_eq(bpf_object__load(obj), 0);
	return obj;
}

static int
map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	ck_assert_ptr_nonnull(m);
	return bpf_map__fd(m);
}

static int
prog_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, name);

	ck_assert_ptr_nonnull(p);
	return bpf_program__fd(p);
}

/* Pin the object's map name at dir/name. */
static int
xdp_pin(struct bpf_object *obj, const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return bpf_obj_pin(map_fd(obj, name), path);
}

/* Packets per slot of a PERCPU_ARRAY of {packets, bytes}, summed. */
static void
read_counters(int fd, uint64_t *out, unsigned int n)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[2 * 1024];
	unsigned int i;
	int c;

	ck_assert_int_gt(ncpu, 0);
	ck_assert_int_le(ncpu, 1024);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(bpf_map_lookup_elem(fd, &i, v), 0);
		out[i] = 0;
		for (c = 0; c < ncpu; c++)
			out[i] += v[2 * c];
	}
}

/* Run prog on in; return the verdict, output in out. */
static int
run(int fd, const struct pkt *in, struct pkt *out)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->b,
		    .data_size_in = in->len, .data_out = out->b,
		    .data_size_out = sizeof(out->b), .repeat = 1);

	ck_assert_int_eq(bpf_prog_test_run_opts(fd, &o), 0);
	out->len = o.data_size_out;
	return o.retval;
}

/* Exactly slots a and b (if >= 0) grew by one; the others are unchanged. */
static void
check_deltas(const char *desc, const uint64_t *before, const uint64_t *after,
	     unsigned int n, int a, int b)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t want = before[i] + ((int)i == a) + ((int)i == b);

		ck_assert_msg(after[i] == want,
			      "%s: counter %u is %llu, expected %llu", desc, i,
			      (unsigned long long)after[i],
			      (unsigned long long)want);
	}
}

/* ---- steering ---------------------------------------------------------- */

struct steer_case {
	const char *desc;
	struct spec in;
	int action;
	int reason; /* extra counter, or NO_REASON */
};

#define V4(...)	 .ethertype = ETH_P_IP, .src = "198.51.100.7", __VA_ARGS__
#define V6(...)	 .ethertype = ETH_P_IPV6, .src = "2001:db8:ff::7", __VA_ARGS__
#define ARP(...) .ethertype = ETH_P_ARP, .src = "10.0.0.254", __VA_ARGS__

static const struct steer_case steer_cases[] = {
	{ "VIP TCP",
	  { V4(.dst = "10.0.0.1", .proto = 6, .dport = 80) },
	  XDP_REDIRECT,
	  NO_REASON },
	{ "VIP UDP",
	  { V4(.dst = "10.0.0.1", .proto = 17, .dport = 53) },
	  XDP_REDIRECT,
	  NO_REASON },
	{ "VIP, port not served",
	  { V4(.dst = "10.0.0.1", .proto = 6, .dport = 8080) },
	  XDP_PASS,
	  NO_REASON },
	{ "VIP, UDP to the TCP port",
	  { V4(.dst = "10.0.0.1", .proto = 17, .dport = 80) },
	  XDP_PASS,
	  NO_REASON },
	{ "VIP ICMP: the ARP-only entry does not match IP",
	  { V4(.dst = "10.0.0.1", .proto = 1) },
	  XDP_PASS,
	  NO_REASON },
	{ "other address",
	  { V4(.dst = "10.0.0.2", .proto = 6, .dport = 80) },
	  XDP_PASS,
	  NO_REASON },
	{ "address entry, TCP any port",
	  { V4(.dst = "10.0.0.9", .proto = 6, .dport = 12345) },
	  XDP_REDIRECT,
	  NO_REASON },
	{ "address entry, ICMP",
	  { V4(.dst = "10.0.0.9", .proto = 1) },
	  XDP_REDIRECT,
	  NO_REASON },
	{ "protocol entry: UDP any port to 10.0.0.3",
	  { V4(.dst = "10.0.0.3", .proto = 17, .dport = 9999) },
	  XDP_REDIRECT,
	  NO_REASON },
	{ "protocol entry: TCP to 10.0.0.3 not matched",
	  { V4(.dst = "10.0.0.3", .proto = 6, .dport = 9999) },
	  XDP_PASS,
	  NO_REASON },
	{ "drop entry",
	  { V4(.dst = "10.0.0.7", .proto = 6, .dport = 22) },
	  XDP_DROP,
	  NO_REASON },
	{ "VLAN-tagged VIP TCP",
	  { V4(.vlan = 100, .dst = "10.0.0.1", .proto = 6, .dport = 80) },
	  XDP_REDIRECT,
	  NO_REASON },
	/* edgelb-dp serves one 802.1Q tag at most and drops 802.1ad and
	 * stacked tags (qinq): never steer them to it, leave them to the
	 * kernel */
	{ "802.1ad (QinQ) S-tag, VIP TCP",
	  { V4(.vlan = 100, .tpid = 0x88a8, .dst = "10.0.0.1", .proto = 6,
	       .dport = 80) },
	  XDP_PASS,
	  NO_REASON },
	{ "802.1ad S-tag over an 802.1Q tag, VIP TCP",
	  { V4(.vlan = 100, .tpid = 0x88a8, .vlan2 = 200, .dst = "10.0.0.1",
	       .proto = 6, .dport = 80) },
	  XDP_PASS,
	  NO_REASON },
	{ "two 802.1Q tags, VIP TCP",
	  { V4(.vlan = 100, .vlan2 = 200, .dst = "10.0.0.1", .proto = 6,
	       .dport = 80) },
	  XDP_PASS,
	  NO_REASON },
	{ "ARP request for a VIP (ARP-only entry)",
	  { ARP(.dst = "10.0.0.1") },
	  XDP_REDIRECT,
	  NO_REASON },
	{ "ARP request for an address entry",
	  { ARP(.dst = "10.0.0.9") },
	  XDP_REDIRECT,
	  NO_REASON },
	{ "ARP reply to an address entry",
	  { ARP(.dst = "10.0.0.9", .arp_op = 2) },
	  XDP_REDIRECT,
	  NO_REASON },
	{ "ARP for another address",
	  { ARP(.dst = "10.0.0.2") },
	  XDP_PASS,
	  NO_REASON },
	{ "ARP for a port-only VIP",
	  { ARP(.dst = "10.0.0.3") },
	  XDP_PASS,
	  NO_REASON },
	{ "ARP, not Ethernet hardware",
	  { ARP(.dst = "10.0.0.9", .arp_hrd = 6) },
	  XDP_PASS,
	  NO_REASON },
	{ "ARP, unknown opcode",
	  { ARP(.dst = "10.0.0.9", .arp_op = 8) },
	  XDP_PASS,
	  NO_REASON },
	{ "ARP truncated",
	  { ARP(.dst = "10.0.0.9", .trunc = 14 + 20) },
	  XDP_PASS,
	  LB_STEER_STAT_PARSE_ERR },
	{ "not IP or ARP (LLDP)",
	  { .ethertype = 0x88cc },
	  XDP_PASS,
	  NO_REASON },
	{ "VLAN tag truncated",
	  { V4(.vlan = 100, .dst = "10.0.0.1", .proto = 6, .dport = 80,
	       .trunc = 16) },
	  XDP_PASS,
	  LB_STEER_STAT_PARSE_ERR },
	{ "IPv4 header truncated",
	  { V4(.dst = "10.0.0.1", .proto = 6, .dport = 80, .trunc = 14 + 19) },
	  XDP_PASS,
	  LB_STEER_STAT_PARSE_ERR },
	{ "TCP header truncated",
	  { V4(.dst = "10.0.0.1", .proto = 6, .dport = 80,
	       .trunc = 14 + 20 + 19) },
	  XDP_PASS,
	  LB_STEER_STAT_PARSE_ERR },
	{ "UDP header truncated",
	  { V4(.dst = "10.0.0.1", .proto = 17, .dport = 53,
	       .trunc = 14 + 20 + 7) },
	  XDP_PASS,
	  LB_STEER_STAT_PARSE_ERR },
	{ "IP options (IHL 6), VIP TCP",
	  { V4(.dst = "10.0.0.1", .proto = 6, .dport = 80, .ihl = 6) },
	  XDP_REDIRECT,
	  NO_REASON },
	{ "IP options (IHL 15), VIP UDP",
	  { V4(.dst = "10.0.0.1", .proto = 17, .dport = 53, .ihl = 15) },
	  XDP_REDIRECT,
	  NO_REASON },
	{ "IP options (IHL 6), other port",
	  { V4(.dst = "10.0.0.1", .proto = 6, .dport = 257, .ihl = 6) },
	  XDP_PASS,
	  NO_REASON },
	{ "IP options truncated",
	  { V4(.dst = "10.0.0.1", .proto = 6, .dport = 80, .ihl = 6,
	       .trunc = 14 + 22) },
	  XDP_PASS,
	  LB_STEER_STAT_PARSE_ERR },
	{ "IHL below 5",
	  { V4(.dst = "10.0.0.9", .proto = 6, .ihl = 4) },
	  XDP_PASS,
	  LB_STEER_STAT_PARSE_ERR },
	{ "version 6 in an IPv4 frame",
	  { V4(.dst = "10.0.0.9", .proto = 6, .version = 6) },
	  XDP_PASS,
	  LB_STEER_STAT_PARSE_ERR },
	{ "first fragment to VIP TCP (MF)",
	  { V4(.dst = "10.0.0.1", .proto = 6, .dport = 80, .frag = 0x2000) },
	  XDP_REDIRECT,
	  NO_REASON },
	{ "non-first fragment to a port-only VIP",
	  { V4(.dst = "10.0.0.1", .proto = 6, .dport = 80, .frag = 0x0010) },
	  XDP_PASS,
	  NO_REASON },
	{ "non-first fragment to an address entry",
	  { V4(.dst = "10.0.0.9", .proto = 6, .dport = 80, .frag = 0x0010) },
	  XDP_REDIRECT,
	  NO_REASON },
	{ "non-first fragment to a protocol entry",
	  { V4(.dst = "10.0.0.3", .proto = 17, .dport = 1, .frag = 0x0020) },
	  XDP_REDIRECT,
	  NO_REASON },
	{ "IPv6 VIP TCP",
	  { V6(.dst = "2001:db8::1", .proto = 6, .dport = 443) },
	  XDP_REDIRECT,
	  NO_REASON },
	{ "IPv6 VIP, other port",
	  { V6(.dst = "2001:db8::1", .proto = 6, .dport = 444) },
	  XDP_PASS,
	  NO_REASON },
	{ "IPv6 other address",
	  { V6(.dst = "2001:db8::2", .proto = 6, .dport = 443) },
	  XDP_PASS,
	  NO_REASON },
	{ "IPv6 address entry, UDP",
	  { V6(.dst = "2001:db8::9", .proto = 17, .dport = 7) },
	  XDP_REDIRECT,
	  NO_REASON },
	{ "IPv6 hop-by-hop header to an address entry",
	  { V6(.dst = "2001:db8::9", .proto = 0) },
	  XDP_PASS,
	  NO_REASON },
	{ "IPv6 fragment header to an address entry",
	  { V6(.dst = "2001:db8::9", .proto = 44) },
	  XDP_PASS,
	  NO_REASON },
	{ "IPv6 neighbour solicitation for a VIP",
	  { V6(.dst = "ff02::1:ff00:1", .proto = 58, .icmp6 = 135,
	       .target = "2001:db8::1") },
	  XDP_REDIRECT,
	  NO_REASON },
	{ "IPv6 neighbour solicitation for another address",
	  { V6(.dst = "ff02::1:ff00:2", .proto = 58, .icmp6 = 135,
	       .target = "2001:db8::2") },
	  XDP_PASS,
	  NO_REASON },
	{ "IPv6 neighbour solicitation truncated",
	  { V6(.dst = "ff02::1:ff00:1", .proto = 58, .icmp6 = 135,
	       .target = "2001:db8::1", .trunc = 14 + 40 + 20) },
	  XDP_PASS,
	  LB_STEER_STAT_PARSE_ERR },
	{ "IPv6 header truncated",
	  { V6(.dst = "2001:db8::1", .proto = 6, .dport = 443,
	       .trunc = 14 + 39) },
	  XDP_PASS,
	  LB_STEER_STAT_PARSE_ERR },
	{ "IPv6 TCP header truncated",
	  { V6(.dst = "2001:db8::1", .proto = 6, .dport = 443,
	       .trunc = 14 + 40 + 10) },
	  XDP_PASS,
	  LB_STEER_STAT_PARSE_ERR },
};

static struct bpf_object *steer_obj;
static struct xsk_umem *umem;
static struct xsk_socket *xsk;
static void *umem_area;
#define UMEM_FRAMES 64
#define UMEM_SIZE   (UMEM_FRAMES * XSK_UMEM__DEFAULT_FRAME_SIZE)

static void
steer_entry(const char *addr, uint8_t proto, uint16_t port, uint32_t flags)
{
	struct steer_value val = { .flags = flags };
	struct steer_key key;
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;

	memset(&key, 0, sizeof(key));
	key.family = family;
	key.proto = proto;
	key.port = htons(port);
	ck_assert_int_eq(inet_pton(family, addr, key.addr), 1);
	ck_assert_int_eq(bpf_map_update_elem(map_fd(steer_obj, LB_STEER_MAP),
					     &key, &val, BPF_NOEXIST),
			 0);
}

/*
 * Load xdp_steer and fill steer_map; with_xsk: in a private network
 * namespace, create a veth pair and an AF_XDP socket on queue 0 of one end,
 * and put it in xsks_map[0] (the queue BPF_PROG_TEST_RUN reports).
 */
static void
steer_setup_common(int with_xsk)
{
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	struct xsk_socket_config cfg = {
		.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS,
		.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.xdp_flags = XDP_FLAGS_SKB_MODE,
		.bind_flags = XDP_COPY,
	};
	uint32_t zero = 0;
	int fd;

	steer_obj = load("xdp_steer.o");
	steer_entry("10.0.0.1", IPPROTO_TCP, 80, 0);
	steer_entry("10.0.0.1", IPPROTO_UDP, 53, 0);
	steer_entry("10.0.0.1", 0, 0, LB_STEER_F_NEIGH);
	steer_entry("10.0.0.3", IPPROTO_UDP, 0, 0);
	steer_entry("10.0.0.7", IPPROTO_TCP, 22, LB_STEER_F_DROP);
	steer_entry("10.0.0.9", 0, 0, 0);
	steer_entry("2001:db8::1", IPPROTO_TCP, 443, 0);
	steer_entry("2001:db8::1", 0, 0, LB_STEER_F_NEIGH);
	steer_entry("2001:db8::9", 0, 0, 0);
	if (!with_xsk)
		return;

	ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
	ck_assert_int_eq(system("ip link add xt0 type veth peer name xt1 && "
				"ip link set xt0 up && ip link set xt1 up"),
			 0);
	umem_area = mmap(NULL, UMEM_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(umem_area, MAP_FAILED);
	ck_assert_int_eq(xsk_umem__create(&umem, umem_area, UMEM_SIZE, &fill,
					  &comp, NULL),
			 0);
	ck_assert_int_eq(
		xsk_socket__create(&xsk, "xt0", 0, umem, &rx, &tx, &cfg), 0);
	fd = xsk_socket__fd(xsk);
	ck_assert_int_eq(
		bpf_map_update_elem(map_fd(steer_obj, LB_STEER_XSKS_MAP), &zero,
				    &fd, BPF_ANY),
		0);
}

static void
steer_setup(void)
{
	steer_setup_common(1);
}

static void
steer_setup_noxsk(void)
{
	steer_setup_common(0);
}

static void
steer_teardown(void)
{
	if (xsk != NULL)
		xsk_socket__delete(xsk);
	if (umem != NULL)
		xsk_umem__delete(umem);
	if (umem_area != NULL)
		munmap(umem_area, UMEM_SIZE);
	bpf_object__close(steer_obj);
	xsk = NULL;
	umem = NULL;
	umem_area = NULL;
	steer_obj = NULL;
}

static int
steer_verdict_slot(int action)
{
	switch (action) {
	case XDP_REDIRECT:
		return LB_STEER_STAT_REDIRECTED;
	case XDP_DROP:
		return LB_STEER_STAT_DROPPED;
	}
	return LB_STEER_STAT_PASSED;
}

START_TEST(test_steer_table)
{
	const struct steer_case *tc = &steer_cases[_i];
	uint64_t before[LB_STEER_STAT_MAX], after[LB_STEER_STAT_MAX];
	int sfd = map_fd(steer_obj, LB_STEER_STATS_MAP);
	struct pkt in, out;
	int action;

	build(&in, &tc->in);
	read_counters(sfd, before, LB_STEER_STAT_MAX);
	action = run(prog_fd(steer_obj, LB_STEER_PROG), &in, &out);
	read_counters(sfd, after, LB_STEER_STAT_MAX);
	ck_assert_msg(action == tc->action, "%s: verdict %d, expected %d",
		      tc->desc, action, tc->action);
	check_deltas(tc->desc, before, after, LB_STEER_STAT_MAX,
		     steer_verdict_slot(tc->action), tc->reason);
	/* Steering never rewrites a packet. */
	ck_assert_msg(out.len == in.len && memcmp(out.b, in.b, in.len) == 0,
		      "%s: packet changed", tc->desc);
}
END_TEST

/* Without a socket on the queue, a steered packet goes to the kernel. */
START_TEST(test_steer_no_xsk)
{
	static const struct spec vip = { V4(.dst = "10.0.0.1", .proto = 6,
					    .dport = 80) };
	static const struct spec other = { V4(.dst = "10.0.0.2", .proto = 6,
					      .dport = 80) };
	uint64_t before[LB_STEER_STAT_MAX], after[LB_STEER_STAT_MAX];
	int sfd = map_fd(steer_obj, LB_STEER_STATS_MAP);
	int pfd = prog_fd(steer_obj, LB_STEER_PROG);
	struct pkt in, out;

	build(&in, &vip);
	read_counters(sfd, before, LB_STEER_STAT_MAX);
	ck_assert_int_eq(run(pfd, &in, &out), XDP_PASS);
	read_counters(sfd, after, LB_STEER_STAT_MAX);
	check_deltas("VIP without XSK", before, after, LB_STEER_STAT_MAX,
		     LB_STEER_STAT_PASSED, LB_STEER_STAT_NO_XSK);

	build(&in, &other);
	memcpy(before, after, sizeof(before));
	ck_assert_int_eq(run(pfd, &in, &out), XDP_PASS);
	read_counters(sfd, after, LB_STEER_STAT_MAX);
	check_deltas("other without XSK", before, after, LB_STEER_STAT_MAX,
		     LB_STEER_STAT_PASSED, NO_REASON);
}
END_TEST

/* Bytes are counted too, per verdict. */
START_TEST(test_steer_bytes)
{
	static const struct spec vip = { V4(.dst = "10.0.0.1", .proto = 17,
					    .dport = 53) };
	int sfd = map_fd(steer_obj, LB_STEER_STATS_MAP);
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[2 * 1024], bytes = 0;
	uint32_t idx = LB_STEER_STAT_REDIRECTED;
	struct pkt in, out;
	int c;

	build(&in, &vip);
	ck_assert_int_eq(run(prog_fd(steer_obj, LB_STEER_PROG), &in, &out),
			 XDP_REDIRECT);
	ck_assert_int_eq(run(prog_fd(steer_obj, LB_STEER_PROG), &in, &out),
			 XDP_REDIRECT);
	ck_assert_int_eq(bpf_map_lookup_elem(sfd, &idx, v), 0);
	for (c = 0; c < ncpu; c++)
		bytes += v[2 * c + 1];
	ck_assert_uint_eq(bytes, 2 * in.len);
}
END_TEST

/*
 * The user-space API (bpf/steer.h) on maps pinned in a bpffs private to
 * the test: entries it adds and deletes change the program's verdicts,
 * and its counters are the program's.
 */
START_TEST(test_steer_api)
{
	static const struct spec pkt = { V4(.dst = "10.0.0.5", .proto = 6,
					    .dport = 8443) };
	char dir[] = "/tmp/edgelb-steer-XXXXXX";
	struct steer_counters c0, c1;
	struct lb_addr a = { .family = AF_INET };
	char buf[LB_STEER_KEYSTRLEN];
	struct steer_key key;
	struct pkt in, out;
	struct steer *h;
	int pfd = prog_fd(steer_obj, LB_STEER_PROG);

	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL),
			 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(mount("bpf", dir, "bpf", 0, NULL), 0);

	errno = 0;
	ck_assert_ptr_null(steer_open(dir));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(xdp_pin(steer_obj, dir, LB_STEER_MAP), 0);
	ck_assert_int_eq(xdp_pin(steer_obj, dir, LB_STEER_STATS_MAP), 0);
	h = steer_open(dir);
	ck_assert_ptr_nonnull(h);

	ck_assert_int_eq(inet_pton(AF_INET, "10.0.0.5", &a.v4), 1);
	ck_assert_int_eq(steer_key_init(&key, &a, 0, 80), -EINVAL);
	ck_assert_int_eq(steer_key_init(&key, &a, IPPROTO_TCP, 8443), 0);
	ck_assert_str_eq(steer_key_format(&key, buf, sizeof(buf)),
			 "tcp 10.0.0.5:8443");

	build(&in, &pkt);
	ck_assert_int_eq(steer_stats(h, &c0), 0);
	ck_assert_int_eq(run(pfd, &in, &out), XDP_PASS);
	ck_assert_int_eq(steer_add(h, &key), 0);
	ck_assert_int_eq(run(pfd, &in, &out), XDP_REDIRECT);
	ck_assert_int_eq(steer_del(h, &key), 0);
	ck_assert_int_eq(steer_del(h, &key), -ENOENT);
	ck_assert_int_eq(run(pfd, &in, &out), XDP_PASS);
	ck_assert_int_eq(steer_stats(h, &c1), 0);
	ck_assert_uint_eq(c1.packets[LB_STEER_STAT_REDIRECTED],
			  c0.packets[LB_STEER_STAT_REDIRECTED] + 1);
	ck_assert_uint_eq(c1.packets[LB_STEER_STAT_PASSED],
			  c0.packets[LB_STEER_STAT_PASSED] + 2);
	ck_assert_uint_eq(c1.bytes[LB_STEER_STAT_REDIRECTED],
			  c0.bytes[LB_STEER_STAT_REDIRECTED] + in.len);
	ck_assert_str_eq(steer_stat_name(LB_STEER_STAT_NO_XSK), "no_xsk");

	steer_close(h);
	umount(dir);
	rmdir(dir);
}
END_TEST

/* ---- decapsulation ----------------------------------------------------- */

enum expect_out { OUT_SAME, OUT_INNER, OUT_ANY };

struct decap_case {
	const char *desc;
	uint16_t ethertype;  /* of the outer frame; 0 = IPv4 */
	uint8_t outer_proto; /* 4, 41, or anything else */
	uint8_t outer_ihl;   /* 0 = 5 */
	uint16_t outer_frag;
	const char *outer_dst; /* 0 = 192.0.2.10 */
	const char *outer_src; /* 0 = 192.0.2.1, an allowed balancer */
	struct spec inner;     /* L3 only */
	size_t trunc;	       /* cut the outer frame */
	int filter;	       /* filter on, only 192.0.2.10 accepted */
	uint32_t any;	       /* LB_DECAP_F_ANY_SRC / _ANY_VIP */
	int action;
	enum expect_out out;
	int verdict, reason; /* counter slots */
};

#define IN4 .ethertype = ETH_P_IP, .src = "198.51.100.7", .dst = "10.0.0.1"
#define IN6                                                                    \
	.ethertype = ETH_P_IPV6, .src = "2001:db8:ff::7", .dst = "2001:db8::1"

static const struct decap_case decap_cases[] = {
	{ "IPIP, inner UDP", .outer_proto = 4,
	  .inner = { IN4, .proto = 17, .dport = 53 }, .action = XDP_PASS,
	  .out = OUT_INNER, .verdict = LB_DECAP_STAT_DECAPSULATED,
	  .reason = NO_REASON },
	{ "IPIP, inner TCP", .outer_proto = 4,
	  .inner = { IN4, .proto = 6, .dport = 80 }, .action = XDP_PASS,
	  .out = OUT_INNER, .verdict = LB_DECAP_STAT_DECAPSULATED,
	  .reason = NO_REASON },
	{ "IPIP, outer IP options (IHL 7)", .outer_proto = 4, .outer_ihl = 7,
	  .inner = { IN4, .proto = 6, .dport = 80 }, .action = XDP_PASS,
	  .out = OUT_INNER, .verdict = LB_DECAP_STAT_DECAPSULATED,
	  .reason = NO_REASON },
	{ "IPv6 in IPv4", .outer_proto = 41,
	  .inner = { IN6, .proto = 6, .dport = 443 }, .action = XDP_PASS,
	  .out = OUT_INNER, .verdict = LB_DECAP_STAT_DECAPSULATED,
	  .reason = NO_REASON },
	{ "not IPIP (UDP)", .outer_proto = 17, .inner = { .ethertype = 0x1234 },
	  .action = XDP_PASS, .out = OUT_SAME, .verdict = LB_DECAP_STAT_PASSED,
	  .reason = NO_REASON },
	{ "not IPv4 (ARP)", .ethertype = ETH_P_ARP,
	  .inner = { .ethertype = 0x1234 }, .action = XDP_PASS, .out = OUT_SAME,
	  .verdict = LB_DECAP_STAT_PASSED, .reason = NO_REASON },
	{ "outer header truncated", .outer_proto = 4,
	  .inner = { IN4, .proto = 17, .dport = 53 }, .trunc = 14 + 12,
	  .action = XDP_PASS, .out = OUT_SAME, .verdict = LB_DECAP_STAT_PASSED,
	  .reason = NO_REASON },
	{ "outer options truncated", .outer_proto = 4, .outer_ihl = 8,
	  .inner = { IN4, .proto = 17, .dport = 53 }, .trunc = 14 + 30,
	  .action = XDP_PASS, .out = OUT_SAME, .verdict = LB_DECAP_STAT_PASSED,
	  .reason = NO_REASON },
	{ "outer fragment", .outer_proto = 4, .outer_frag = 0x2000,
	  .inner = { IN4, .proto = 17, .dport = 53 }, .action = XDP_PASS,
	  .out = OUT_SAME, .verdict = LB_DECAP_STAT_PASSED,
	  .reason = NO_REASON },
	{ "inner header truncated", .outer_proto = 4,
	  .inner = { IN4, .proto = 17, .dport = 53 }, .trunc = 14 + 20 + 12,
	  .action = XDP_DROP, .out = OUT_ANY, .verdict = LB_DECAP_STAT_DROPPED,
	  .reason = NO_REASON },
	{ "inner version is not 4", .outer_proto = 4,
	  .inner = { IN4, .proto = 17, .dport = 53, .version = 6 },
	  .action = XDP_DROP, .out = OUT_ANY, .verdict = LB_DECAP_STAT_DROPPED,
	  .reason = NO_REASON },
	{ "filter accepts the outer destination", .outer_proto = 4, .filter = 1,
	  .inner = { IN4, .proto = 17, .dport = 53 }, .action = XDP_PASS,
	  .out = OUT_INNER, .verdict = LB_DECAP_STAT_DECAPSULATED,
	  .reason = NO_REASON },
	{ "filter excludes the outer destination", .outer_proto = 4,
	  .filter = 1, .outer_dst = "192.0.2.11",
	  .inner = { IN4, .proto = 17, .dport = 53 }, .action = XDP_PASS,
	  .out = OUT_SAME, .verdict = LB_DECAP_STAT_PASSED,
	  .reason = LB_DECAP_STAT_FILTERED },
	{ "no filter: any outer destination", .outer_proto = 4,
	  .outer_dst = "192.0.2.11", .inner = { IN4, .proto = 17, .dport = 53 },
	  .action = XDP_PASS, .out = OUT_INNER,
	  .verdict = LB_DECAP_STAT_DECAPSULATED, .reason = NO_REASON },
	/* who may tunnel: balancers 192.0.2.1 only, VIPs 10.0.0.1 and
	 * 2001:db8::1 only (decap_setup) */
	{ "outer source is not a balancer", .outer_proto = 4,
	  .outer_src = "192.0.2.66", .inner = { IN4, .proto = 6, .dport = 80 },
	  .action = XDP_DROP, .out = OUT_ANY, .verdict = LB_DECAP_STAT_DROPPED,
	  .reason = LB_DECAP_STAT_REFUSED_SRC },
	{ "inner destination is not a VIP", .outer_proto = 4,
	  .inner = { .ethertype = ETH_P_IP,
		     .src = "198.51.100.7",
		     .dst = "10.0.0.2",
		     .proto = 6,
		     .dport = 22 },
	  .action = XDP_DROP, .out = OUT_ANY, .verdict = LB_DECAP_STAT_DROPPED,
	  .reason = LB_DECAP_STAT_REFUSED_VIP },
	{ "inner IPv6 destination is not a VIP", .outer_proto = 41,
	  .inner = { .ethertype = ETH_P_IPV6,
		     .src = "2001:db8:ff::7",
		     .dst = "2001:db8::2",
		     .proto = 6,
		     .dport = 22 },
	  .action = XDP_DROP, .out = OUT_ANY, .verdict = LB_DECAP_STAT_DROPPED,
	  .reason = LB_DECAP_STAT_REFUSED_VIP },
	{ "any source allowed by the operator", .outer_proto = 4,
	  .outer_src = "192.0.2.66", .any = LB_DECAP_F_ANY_SRC,
	  .inner = { IN4, .proto = 6, .dport = 80 }, .action = XDP_PASS,
	  .out = OUT_INNER, .verdict = LB_DECAP_STAT_DECAPSULATED,
	  .reason = NO_REASON },
	{ "any inner destination allowed by the operator", .outer_proto = 4,
	  .any = LB_DECAP_F_ANY_VIP,
	  .inner = { .ethertype = ETH_P_IP,
		     .src = "198.51.100.7",
		     .dst = "10.0.0.2",
		     .proto = 6,
		     .dport = 22 },
	  .action = XDP_PASS, .out = OUT_INNER,
	  .verdict = LB_DECAP_STAT_DECAPSULATED, .reason = NO_REASON },
};

static struct bpf_object *decap_obj;

static void
decap_allow(const char *map, int family, const char *addr)
{
	uint8_t a[16];
	uint32_t one = 1;

	ck_assert_int_eq(inet_pton(family, addr, a), 1);
	ck_assert_int_eq(
		bpf_map_update_elem(map_fd(decap_obj, map), a, &one, BPF_ANY),
		0);
}

static void
decap_setup(void)
{
	decap_obj = load("tun_decap.o");
	decap_allow(LB_DECAP_FILTER_MAP, AF_INET, "192.0.2.10");
	decap_allow(LB_DECAP_SRC_MAP, AF_INET, "192.0.2.1");
	decap_allow(LB_DECAP_VIP_MAP, AF_INET, "10.0.0.1");
	decap_allow(LB_DECAP_VIP6_MAP, AF_INET6, "2001:db8::1");
}

static void
decap_teardown(void)
{
	bpf_object__close(decap_obj);
	decap_obj = NULL;
}

static void
decap_set_filter(int on, uint32_t any)
{
	struct decap_cfg cfg = { .flags = (on ? LB_DECAP_F_FILTER : 0) | any };
	uint32_t zero = 0;

	ck_assert_int_eq(
		bpf_map_update_elem(map_fd(decap_obj, LB_DECAP_CFG_MAP), &zero,
				    &cfg, BPF_ANY),
		0);
}

START_TEST(test_decap_table)
{
	const struct decap_case *tc = &decap_cases[_i];
	uint64_t before[LB_DECAP_STAT_MAX], after[LB_DECAP_STAT_MAX];
	int sfd = map_fd(decap_obj, LB_DECAP_STATS_MAP);
	struct spec outer = {
		.ethertype = tc->ethertype ? tc->ethertype : ETH_P_IP,
		.src = tc->outer_src ? tc->outer_src : "192.0.2.1",
		.dst = tc->outer_dst ? tc->outer_dst : "192.0.2.10",
		.proto = tc->outer_proto,
		.ihl = tc->outer_ihl,
		.frag = tc->outer_frag,
	};
	struct pkt inner = { .len = 0 }, in = { .len = 0 }, want, out;
	int action;

	build_l3(&inner, &tc->inner);
	put_eth(&in, outer.ethertype, 0);
	if (outer.ethertype == ETH_P_IP)
		put_ipv4(&in, &outer, inner.len);
	else
		build_l3(&in, &outer);
	put(&in, inner.b, inner.len);
	if (tc->trunc)
		in.len = tc->trunc;

	/* Expected: the same MACs, the inner packet's EtherType, the inner
	 * packet byte for byte. */
	want.len = 0;
	put_eth(&want, tc->inner.ethertype, 0);
	put(&want, inner.b, inner.len);

	decap_set_filter(tc->filter, tc->any);
	read_counters(sfd, before, LB_DECAP_STAT_MAX);
	action = run(prog_fd(decap_obj, LB_DECAP_PROG), &in, &out);
	read_counters(sfd, after, LB_DECAP_STAT_MAX);
	ck_assert_msg(action == tc->action, "%s: verdict %d, expected %d",
		      tc->desc, action, tc->action);
	check_deltas(tc->desc, before, after, LB_DECAP_STAT_MAX, tc->verdict,
		     tc->reason);
	if (tc->out == OUT_SAME)
		ck_assert_msg(out.len == in.len &&
				      memcmp(out.b, in.b, in.len) == 0,
			      "%s: packet changed", tc->desc);
	else if (tc->out == OUT_INNER)
		ck_assert_msg(out.len == want.len &&
				      memcmp(out.b, want.b, want.len) == 0,
			      "%s: output (%zu bytes) is not the inner packet "
			      "(%zu bytes)",
			      tc->desc, out.len, want.len);
}
END_TEST

/* ---- suite ------------------------------------------------------------- */

static Suite *
bpf_suite(void)
{
	Suite *s = suite_create("bpf");
	TCase *tc;

	tc = tcase_create("steer");
	tcase_add_checked_fixture(tc, steer_setup, steer_teardown);
	tcase_add_loop_test(tc, test_steer_table, 0,
			    sizeof(steer_cases) / sizeof(steer_cases[0]));
	tcase_add_test(tc, test_steer_bytes);
	tcase_add_test(tc, test_steer_api);
	suite_add_tcase(s, tc);

	tc = tcase_create("steer_no_xsk");
	tcase_add_checked_fixture(tc, steer_setup_noxsk, steer_teardown);
	tcase_add_test(tc, test_steer_no_xsk);
	suite_add_tcase(s, tc);

	tc = tcase_create("decap");
	tcase_add_checked_fixture(tc, decap_setup, decap_teardown);
	tcase_add_loop_test(tc, test_decap_table, 0,
			    sizeof(decap_cases) / sizeof(decap_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	char path[512];
	SRunner *sr;
	int failed;

	obj_dir = getenv("EDGELB_BPF_DIR");
	if (geteuid() != 0) {
		fprintf(stderr, "skip: needs root\n");
		return 77;
	}
	if (obj_dir == NULL) {
		fprintf(stderr, "skip: EDGELB_BPF_DIR not set\n");
		return 77;
	}
	snprintf(path, sizeof(path), "%s/xdp_steer.o", obj_dir);
	if (access(path, R_OK) != 0) {
		fprintf(stderr, "skip: no %s\n", path);
		return 77;
	}
	setrlimit(RLIMIT_MEMLOCK, &rl);
	sr = srunner_create(bpf_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
