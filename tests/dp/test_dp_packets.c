/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dataplane packet test: crafted frames in (in.pcap), the real edgelb-dp
 * on a net_pcap port, its output (out.pcap) asserted field by field.
 *
 * The run: write in.pcap from the case table; start edgelb-dp with
 * `wait_config = yes` (RX held); add a TCP service over dp.sock; release
 * RX with CONFIG_SET; wait until the port counted every input frame and
 * every expected output; SIGTERM (which flushes out.pcap); then check
 * that each case produced exactly its expected frame or its drop
 * counter, and that nothing else came out.
 *
 * usage: test_dp_packets /path/to/edgelb-dp
 */
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dp_harness.h"

#define PORT_MAC  "\x02\x00\x00\x00\x00\x01"
#define PEER_MAC  "\x02\x00\x00\x00\x00\x02"
#define GW_MAC	  "\x02\x00\x00\x00\x00\xfe"
#define OTHER_MAC "\x02\x00\x00\x00\x00\x77"
#define BCAST_MAC "\xff\xff\xff\xff\xff\xff"
#define MCAST_MAC "\x01\x00\x5e\x00\x00\x01"
#define ZERO_MAC  "\x00\x00\x00\x00\x00\x00"
#define PORT_IP	  "10.0.0.1"
#define PEER_IP	  "10.0.0.2"
#define VIP	  "10.0.0.100"
#define GW_IP	  "10.0.0.254"
/* p1: on VLAN 100 */
#define P1_MAC	   "\x02\x00\x00\x00\x05\x01"
#define P1_IP	   "10.5.0.1"
#define P1_PEER_IP "10.5.0.2"

static const char ini[] =
	"; edgelbd's sections are skipped by edgelb-dp\n"
	"[global]\n"
	"whatever = 1\n"
	"[service web]\n"
	"vip = 10.0.0.100:80\n"
	"\n"
	"[dataplane]\n"
	"log_level = info\n"
	"wait_config = yes\n"
	"max_services = 64\n"
	"max_backends = 256\n"
	"mbufs = 4095\n"
	"arp_retry_ms = 60000\n"
	"route = 192.168.0.0/16 via " GW_IP "\n"
	"\n"
	"[port p0]\n"
	"devargs = net_pcap0,rx_pcap=@DIR@/in.pcap,tx_pcap=@DIR@/out.pcap\n"
	"mac = 02:00:00:00:00:01\n"
	"address = " PORT_IP "/24\n"
	"\n"
	"[port p1]\n"
	"devargs = net_pcap1,rx_pcap=@DIR@/in1.pcap,tx_pcap=@DIR@/out1.pcap\n"
	"mac = 02:00:00:00:05:01\n"
	"address = " P1_IP "/24\n"
	"vlan = 100\n";

/* ---- frame building ------------------------------------------------------ */

struct frame {
	uint8_t b[256];
	size_t len;
};

static uint32_t
ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
eth(struct frame *f, const char *dst, const char *src, uint16_t type)
{
	memcpy(f->b, dst, 6);
	memcpy(f->b + 6, src, 6);
	put16(f->b + 12, type);
	f->len = 14;
}

static void
arp(struct frame *f, uint16_t op, const char *sha, const char *sip,
    const char *tip, const char *eth_dst)
{
	uint8_t *a = f->b + 14;
	uint32_t s = ip4(sip), t = ip4(tip);

	memset(f->b, 0, sizeof(f->b));
	eth(f, eth_dst, sha, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	memcpy(a + 14, &s, 4);
	memcpy(a + 24, &t, 4);
	f->len = 60;
}

/* IPv4 header at 14 with l4len bytes of payload space after it. */
static uint8_t *
ipv4(struct frame *f, const char *src, const char *dst, uint8_t proto,
     uint8_t ttl, size_t l4len)
{
	uint8_t *ip = f->b + 14;
	uint32_t s = ip4(src), d = ip4(dst);

	memset(f->b, 0, sizeof(f->b));
	eth(f, PORT_MAC, PEER_MAC, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + l4len));
	put16(ip + 4, 0x4242);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = ttl;
	ip[9] = proto;
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	put16(ip + 10, dp_cksum(ip, 20));
	f->len = 14 + 20 + l4len;
	return ip + 20;
}

static void
icmp_echo(struct frame *f, const char *dst, uint16_t id, uint16_t seq)
{
	uint8_t *ic = ipv4(f, PEER_IP, dst, 1, 64, 8 + 24);

	ic[0] = 8;
	put16(ic + 4, id);
	put16(ic + 6, seq);
	for (int i = 0; i < 24; i++)
		ic[8 + i] = (uint8_t)('a' + i);
	put16(ic + 2, dp_cksum(ic, 8 + 24));
}

static void
tcp_syn(struct frame *f, const char *dst, uint16_t dport, uint8_t ttl)
{
	uint8_t *th = ipv4(f, PEER_IP, dst, 6, ttl, 20);

	put16(th, 40000);
	put16(th + 2, dport);
	th[12] = 5 << 4;
	th[13] = 0x02; /* SYN */
	put16(th + 14, 65535);
}

/* Insert a tag (tpid, vid) after the MAC addresses. */
static void
vlan_tag(struct frame *f, uint16_t tpid, uint16_t vid)
{
	memmove(f->b + 16, f->b + 12, f->len - 12);
	put16(f->b + 12, tpid);
	put16(f->b + 14, vid);
	f->len += 4;
}

/* ---- VLANs -------------------------------------------------------------- */

static void
b_tagged_on_untagged(struct frame *f)
{
	icmp_echo(f, PORT_IP, 0x6001, 1);
	vlan_tag(f, 0x8100, 100);
}

/* 802.1ad S-tag: edgelb serves one 802.1Q tag at most (so does xdp_steer) */
static void
b_qinq_8021ad(struct frame *f)
{
	icmp_echo(f, PORT_IP, 0x6002, 1);
	vlan_tag(f, 0x8100, 100);
	vlan_tag(f, 0x88a8, 7);
}

static void
b_qinq_stacked(struct frame *f)
{
	icmp_echo(f, PORT_IP, 0x6003, 1);
	vlan_tag(f, 0x8100, 100);
	vlan_tag(f, 0x8100, 7);
}

/* Echo request to p1's address from its peer, untagged (tag it after). */
static void
echo_p1(struct frame *f, uint16_t id)
{
	uint8_t *ic = ipv4(f, P1_PEER_IP, P1_IP, 1, 64, 8 + 24);

	memcpy(f->b, P1_MAC, 6);
	ic[0] = 8;
	put16(ic + 4, id);
	put16(ic + 6, 1);
	for (int i = 0; i < 24; i++)
		ic[8 + i] = (uint8_t)('a' + i);
	put16(ic + 2, dp_cksum(ic, 8 + 24));
}

static void
v_echo_100(struct frame *f)
{
	echo_p1(f, 0x7100);
	vlan_tag(f, 0x8100, 100);
}

static void
v_echo_pcp_100(struct frame *f)
{
	echo_p1(f, 0x7101);
	vlan_tag(f, 0x8100, 5 << 13 | 100); /* priority 5: the VID counts */
}

static void
v_arp_100(struct frame *f)
{
	arp(f, 1, PEER_MAC, P1_PEER_IP, P1_IP, BCAST_MAC);
	vlan_tag(f, 0x8100, 100);
}

static void
v_echo_untagged(struct frame *f)
{
	echo_p1(f, 0x7102);
}

static void
v_echo_200(struct frame *f)
{
	echo_p1(f, 0x7103);
	vlan_tag(f, 0x8100, 200);
}

static void
v_qinq(struct frame *f)
{
	echo_p1(f, 0x7104);
	vlan_tag(f, 0x8100, 100);
	vlan_tag(f, 0x88a8, 100);
}

/* ---- the case table ------------------------------------------------------ */

struct tcase {
	const char *desc;
	void (*build)(struct frame *f);
	const char *drop; /* drop counter expected, or NULL: a reply */
	/* returns 1 if out matches this case's reply, checks fields */
	int (*match)(const uint8_t *p, size_t len, int check);
};

static void
b_arp_port(struct frame *f)
{
	arp(f, 1, PEER_MAC, PEER_IP, PORT_IP, BCAST_MAC);
}

static void
b_arp_vip(struct frame *f)
{
	arp(f, 1, PEER_MAC, PEER_IP, VIP, BCAST_MAC);
}

static void
b_arp_other(struct frame *f)
{
	arp(f, 1, PEER_MAC, PEER_IP, "10.0.0.50", BCAST_MAC);
}

static void
b_arp_gw_reply(struct frame *f)
{
	arp(f, 2, GW_MAC, GW_IP, PORT_IP, PORT_MAC);
}

/* After the gateway's answer: replies nobody asked for must not move it. */
static void
b_arp_gw_unsolicited(struct frame *f)
{
	arp(f, 2, OTHER_MAC, GW_IP, PORT_IP, PORT_MAC);
}

static void
b_arp_gw_mcast(struct frame *f)
{
	arp(f, 2, MCAST_MAC, GW_IP, PORT_IP, PORT_MAC);
}

static void
b_arp_gw_bcast(struct frame *f)
{
	arp(f, 2, BCAST_MAC, GW_IP, PORT_IP, PORT_MAC);
}

static void
b_arp_gw_zero(struct frame *f)
{
	arp(f, 2, ZERO_MAC, GW_IP, PORT_IP, PORT_MAC);
}

/* A reply from a host we never asked (no entry). */
static void
b_arp_stranger_reply(struct frame *f)
{
	arp(f, 2, OTHER_MAC, "10.0.0.77", PORT_IP, PORT_MAC);
}

/* A request from a zero sender MAC: answering would send to 00:00:... */
static void
b_arp_req_zero(struct frame *f)
{
	arp(f, 1, ZERO_MAC, PEER_IP, PORT_IP, BCAST_MAC);
}

static void
b_echo_vip(struct frame *f)
{
	icmp_echo(f, VIP, 0x1234, 1);
}

static void
b_echo_port(struct frame *f)
{
	icmp_echo(f, PORT_IP, 0x5678, 2);
}

static void
b_truncated(struct frame *f)
{
	ipv4(f, PEER_IP, VIP, 6, 64, 20);
	f->len = 14 + 10;
}

static void
b_bad_ihl(struct frame *f)
{
	uint8_t *ip = f->b + 14;

	tcp_syn(f, VIP, 80, 64);
	ip[0] = 0x44;
	put16(ip + 10, 0);
	put16(ip + 10, dp_cksum(ip, 20));
}

static void
b_bad_total_len(struct frame *f)
{
	uint8_t *ip = f->b + 14;

	tcp_syn(f, VIP, 80, 64);
	put16(ip + 2, 200); /* frame holds 40 bytes of IP */
	put16(ip + 10, 0);
	put16(ip + 10, dp_cksum(ip, 20));
}

static void
b_bad_csum(struct frame *f)
{
	tcp_syn(f, VIP, 80, 64);
	f->b[14 + 10] ^= 0xff;
}

static void
b_ttl1(struct frame *f)
{
	tcp_syn(f, VIP, 80, 1);
}

static void
b_ttl0(struct frame *f)
{
	tcp_syn(f, VIP, 80, 0);
}

static void
b_no_service(struct frame *f)
{
	tcp_syn(f, VIP, 81, 64);
}

static void
b_not_ours(struct frame *f)
{
	tcp_syn(f, "10.0.0.200", 80, 64);
}

static void
b_service(struct frame *f)
{
	tcp_syn(f, VIP, 80, 64);
}

static void
b_other_host(struct frame *f)
{
	tcp_syn(f, VIP, 80, 64);
	memcpy(f->b, OTHER_MAC, 6);
}

static void
b_ipv6(struct frame *f)
{
	memset(f->b, 0, sizeof(f->b));
	eth(f, PORT_MAC, PEER_MAC, 0x86dd);
	f->b[14] = 0x60;
	f->len = 14 + 40;
}

static void
b_icmp_bad_csum(struct frame *f)
{
	icmp_echo(f, VIP, 0x9999, 3);
	f->b[14 + 20 + 2] ^= 0x55;
}

/*
 * ICMP port unreachable from the peer about a UDP datagram VIP:80 ->
 * peer:40000 (20-byte header + 8 bytes quoted); frag is the quoted
 * header's flags/offset field.
 */
static void
icmp_error(struct frame *f, uint16_t frag)
{
	uint8_t *ic = ipv4(f, PEER_IP, VIP, 1, 64, 8 + 28), *in = ic + 8;
	uint32_t s = ip4(VIP), d = ip4(PEER_IP);

	ic[0] = 3;
	ic[1] = 3;
	in[0] = 0x45;
	put16(in + 2, 20 + 8 + 100);
	put16(in + 6, frag);
	in[8] = 63;
	in[9] = 17;
	memcpy(in + 12, &s, 4);
	memcpy(in + 16, &d, 4);
	put16(in + 10, dp_cksum(in, 20));
	put16(in + 20, 80);
	put16(in + 22, 40000);
	put16(in + 24, 8 + 100);
	put16(ic + 2, dp_cksum(ic, 8 + 28));
}

static void
b_icmp_err_bad_csum(struct frame *f)
{
	icmp_error(f, 0);
	f->b[14 + 20 + 3] ^= 0x21;
}

static void
b_icmp_err_fragment(struct frame *f)
{
	icmp_error(f, 1480 / 8); /* a later fragment: no UDP header */
}

/* ARP reply to a request for `asked`, sent to the peer. */
static int
arp_reply_check(const uint8_t *p, size_t len, const char *asked, int check)
{
	uint32_t sip, tip;

	if (len < 42 || get16(p + 12) != 0x0806 || get16(p + 20) != 2)
		return 0;
	memcpy(&sip, p + 28, 4);
	if (sip != ip4(asked))
		return 0;
	if (!check)
		return 1;
	memcpy(&tip, p + 38, 4);
	CHECK(memcmp(p, PEER_MAC, 6) == 0, "arp %s: eth dst", asked);
	CHECK(memcmp(p + 6, PORT_MAC, 6) == 0, "arp %s: eth src", asked);
	CHECK(get16(p + 14) == 1 && get16(p + 16) == 0x0800 && p[18] == 6 &&
		      p[19] == 4,
	      "arp %s: hw/proto", asked);
	CHECK(memcmp(p + 22, PORT_MAC, 6) == 0, "arp %s: sha", asked);
	CHECK(memcmp(p + 32, PEER_MAC, 6) == 0, "arp %s: tha", asked);
	CHECK(tip == ip4(PEER_IP), "arp %s: tip", asked);
	return 1;
}

static int
m_arp_port(const uint8_t *p, size_t len, int check)
{
	return arp_reply_check(p, len, PORT_IP, check);
}

static int
m_arp_vip(const uint8_t *p, size_t len, int check)
{
	return arp_reply_check(p, len, VIP, check);
}

static int
echo_reply_check(const uint8_t *p, size_t len, const char *from, uint16_t id,
		 int check)
{
	const uint8_t *ip = p + 14, *ic = p + 34;
	uint8_t copy[64];
	uint32_t s, d;

	if (len < 34 + 8 || get16(p + 12) != 0x0800 || ip[9] != 1 ||
	    get16(ic + 4) != id)
		return 0;
	if (!check)
		return 1;
	memcpy(&s, ip + 12, 4);
	memcpy(&d, ip + 16, 4);
	CHECK(len == 14 + 20 + 32, "echo %s: length %zu", from, len);
	CHECK(memcmp(p, PEER_MAC, 6) == 0, "echo %s: eth dst", from);
	CHECK(memcmp(p + 6, PORT_MAC, 6) == 0, "echo %s: eth src", from);
	CHECK(s == ip4(from) && d == ip4(PEER_IP), "echo %s: addresses", from);
	CHECK(ip[8] == 64, "echo %s: ttl %u", from, ip[8]);
	CHECK(get16(ip + 2) == 20 + 32, "echo %s: total length", from);
	memcpy(copy, ip, 20);
	put16(copy + 10, 0);
	CHECK(get16(ip + 10) == dp_cksum(copy, 20),
	      "echo %s: ip checksum %04x, expected %04x", from, get16(ip + 10),
	      dp_cksum(copy, 20));
	CHECK(ic[0] == 0 && ic[1] == 0, "echo %s: type/code", from);
	memcpy(copy, ic, 32);
	put16(copy + 2, 0);
	CHECK(get16(ic + 2) == dp_cksum(copy, 32),
	      "echo %s: icmp checksum %04x, expected %04x", from, get16(ic + 2),
	      dp_cksum(copy, 32));
	for (int i = 0; i < 24; i++)
		if (ic[8 + i] != 'a' + i) {
			CHECK(0, "echo %s: payload byte %d", from, i);
			break;
		}
	return 1;
}

static int
m_echo_vip(const uint8_t *p, size_t len, int check)
{
	return echo_reply_check(p, len, VIP, 0x1234, check);
}

static int
m_echo_port(const uint8_t *p, size_t len, int check)
{
	return echo_reply_check(p, len, PORT_IP, 0x5678, check);
}

/* ICMP time exceeded for the SYN with TTL ttl (b_ttl1, b_ttl0): from the
 * VIP back to the peer's MAC, quoting the whole 40-byte SYN. */
static int
ttl_exceeded_check(const uint8_t *p, size_t len, uint8_t ttl, int check)
{
	const uint8_t *ip = p + 14, *ic = p + 34, *q = p + 42;
	uint8_t copy[64];
	uint32_t s, d, qd;

	if (len < 42 + 20 || get16(p + 12) != 0x0800 || ip[9] != 1 ||
	    ic[0] != 11 || q[8] != ttl)
		return 0;
	if (!check)
		return 1;
	memcpy(&s, ip + 12, 4);
	memcpy(&d, ip + 16, 4);
	memcpy(&qd, q + 16, 4);
	CHECK(len == 14 + 28 + 40, "time exceeded (ttl %u): length %zu", ttl,
	      len);
	CHECK(memcmp(p, PEER_MAC, 6) == 0, "time exceeded: eth dst");
	CHECK(memcmp(p + 6, PORT_MAC, 6) == 0, "time exceeded: eth src");
	CHECK(s == ip4(VIP) && d == ip4(PEER_IP), "time exceeded: addresses");
	CHECK(get16(ip + 2) == 28 + 40, "time exceeded: total length");
	CHECK(dp_cksum(ip, 20) == 0, "time exceeded: ip checksum");
	CHECK(ic[1] == 0, "time exceeded: code %u", ic[1]);
	if (len >= 14 + 28 + 40) {
		memcpy(copy, ic, 48);
		CHECK(dp_cksum(copy, 48) == 0, "time exceeded: icmp checksum");
	}
	CHECK(qd == ip4(VIP) && get16(q + 22) == 80,
	      "time exceeded: quoted destination");
	return 1;
}

static int
m_ttl1(const uint8_t *p, size_t len, int check)
{
	return ttl_exceeded_check(p, len, 1, check);
}

static int
m_ttl0(const uint8_t *p, size_t len, int check)
{
	return ttl_exceeded_check(p, len, 0, check);
}

static const struct tcase cases[] = {
	{ "ARP request for the port address", b_arp_port, NULL, m_arp_port },
	{ "ARP request for a VIP", b_arp_vip, NULL, m_arp_vip },
	{ "ARP request for someone else", b_arp_other, "arp_not_ours", NULL },
	{ "ARP reply from the gateway", b_arp_gw_reply, NULL, NULL },
	{ "unsolicited ARP reply for the gateway, other MAC",
	  b_arp_gw_unsolicited, "arp_unsolicited", NULL },
	{ "ARP reply with a multicast sender MAC", b_arp_gw_mcast,
	  "arp_bad_sender_mac", NULL },
	{ "ARP reply with the broadcast sender MAC", b_arp_gw_bcast,
	  "arp_bad_sender_mac", NULL },
	{ "ARP reply with a zero sender MAC", b_arp_gw_zero,
	  "arp_bad_sender_mac", NULL },
	{ "ARP reply from a host never asked", b_arp_stranger_reply,
	  "arp_unsolicited", NULL },
	{ "ARP request from a zero sender MAC", b_arp_req_zero,
	  "arp_bad_sender_mac", NULL },
	{ "ICMP echo to a VIP", b_echo_vip, NULL, m_echo_vip },
	{ "ICMP echo to the port address", b_echo_port, NULL, m_echo_port },
	{ "ICMP echo with a bad checksum", b_icmp_bad_csum, "bad_icmp_csum",
	  NULL },
	{ "truncated IPv4 header", b_truncated, "truncated", NULL },
	{ "IHL 4", b_bad_ihl, "bad_ihl", NULL },
	{ "total length beyond the frame", b_bad_total_len, "bad_total_len",
	  NULL },
	{ "bad IPv4 header checksum", b_bad_csum, "bad_ip_csum", NULL },
	{ "TTL 1 to a service", b_ttl1, "ttl_exceeded", m_ttl1 },
	{ "TTL 0 to a service", b_ttl0, "ttl_exceeded", m_ttl0 },
	{ "VIP, port without a service", b_no_service, "no_service", NULL },
	{ "address that is not ours", b_not_ours, "not_ours", NULL },
	{ "TCP SYN to a service without backends", b_service, "no_backend",
	  NULL },
	{ "unicast to another MAC", b_other_host, "other_host", NULL },
	{ "IPv6", b_ipv6, "ipv6_unsupported", NULL },
	{ "ICMP error with a bad checksum", b_icmp_err_bad_csum,
	  "icmp_err_bad_csum", NULL },
	{ "ICMP error quoting a later fragment", b_icmp_err_fragment,
	  "icmp_err_fragment", NULL },
	{ "802.1Q-tagged frame on an untagged port", b_tagged_on_untagged,
	  "vlan_tagged", NULL },
	{ "802.1ad (QinQ) frame", b_qinq_8021ad, "qinq", NULL },
	{ "two stacked 802.1Q tags", b_qinq_stacked, "qinq", NULL },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Port p1 (vlan = 100): in1.pcap; replies are checked in out1.pcap. */
struct vcase {
	const char *desc;
	void (*build)(struct frame *f);
	const char *drop; /* drop counter expected, or NULL: a reply */
	uint16_t echo_id; /* the reply's echo id; 0: an ARP reply */
};

static const struct vcase vcases[] = {
	{ "echo tagged with the port's VLAN", v_echo_100, NULL, 0x7100 },
	{ "echo tagged with the port's VLAN, priority 5", v_echo_pcp_100, NULL,
	  0x7101 },
	{ "ARP request tagged with the port's VLAN", v_arp_100, NULL, 0 },
	{ "untagged echo on a VLAN port", v_echo_untagged, "vlan_untagged", 0 },
	{ "echo tagged with another VLAN", v_echo_200, "vlan_other", 0 },
	{ "802.1ad frame on a VLAN port", v_qinq, "qinq", 0 },
};
#define NVCASES (sizeof(vcases) / sizeof(vcases[0]))

/* How many frames of both tables expect drop counter d. */
static unsigned int
drops_expected(const char *d)
{
	unsigned int n = 0;

	for (size_t j = 0; j < NCASES; j++)
		n += cases[j].drop != NULL && strcmp(cases[j].drop, d) == 0;
	for (size_t j = 0; j < NVCASES; j++)
		n += vcases[j].drop != NULL && strcmp(vcases[j].drop, d) == 0;
	return n;
}

/* Frames edgelb-dp sends on its own: GARP for the port address, the ARP
 * request for the static route's gateway, GARP for the VIP. */
static int
is_garp(const uint8_t *p, size_t len, const char *ip)
{
	uint32_t s, t;

	if (len < 42 || get16(p + 12) != 0x0806 || get16(p + 20) != 1)
		return 0;
	memcpy(&s, p + 28, 4);
	memcpy(&t, p + 38, 4);
	return memcmp(p, BCAST_MAC, 6) == 0 &&
	       memcmp(p + 6, PORT_MAC, 6) == 0 &&
	       memcmp(p + 22, PORT_MAC, 6) == 0 && s == ip4(ip) && t == ip4(ip);
}

static int
is_gw_request(const uint8_t *p, size_t len)
{
	uint32_t s, t;

	if (len < 42 || get16(p + 12) != 0x0806 || get16(p + 20) != 1)
		return 0;
	memcpy(&s, p + 28, 4);
	memcpy(&t, p + 38, 4);
	return memcmp(p, BCAST_MAC, 6) == 0 && s == ip4(PORT_IP) &&
	       t == ip4(GW_IP);
}

static int
write_input(struct dp_run *r)
{
	pcap_t *pd = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d = pcap_dump_open(pd, dp_run_file(r, "in.pcap"));

	if (d == NULL)
		return -1;
	for (size_t i = 0; i < NCASES; i++) {
		struct frame f;
		struct pcap_pkthdr h = { 0 };

		cases[i].build(&f);
		h.caplen = h.len = (uint32_t)f.len;
		h.ts.tv_usec = (long)i;
		pcap_dump((u_char *)d, &h, f.b);
	}
	pcap_dump_close(d);
	d = pcap_dump_open(pd, dp_run_file(r, "in1.pcap"));
	if (d == NULL)
		return -1;
	for (size_t i = 0; i < NVCASES; i++) {
		struct frame f;
		struct pcap_pkthdr h = { 0 };

		vcases[i].build(&f);
		h.caplen = h.len = (uint32_t)f.len;
		h.ts.tv_usec = (long)i;
		pcap_dump((u_char *)d, &h, f.b);
	}
	pcap_dump_close(d);
	pcap_close(pd);
	return 0;
}

/*
 * out1.pcap: every frame carries VLAN 100 (priority 0); one echo reply per
 * echo case and one ARP reply, to the peer, from p1. Returns the frames.
 */
static unsigned int
check_output_p1(struct dp_run *r)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(dp_run_file(r, "out1.pcap"), errbuf);
	int seen[NVCASES] = { 0 }, arp_replies = 0;
	unsigned int total = 0;
	struct pcap_pkthdr *h;
	const u_char *p;

	CHECK(pc != NULL, "cannot open out1.pcap: %s", errbuf);
	if (pc == NULL)
		return 0;
	while (pcap_next_ex(pc, &h, &p) == 1) {
		total++;
		if (h->caplen < 18 || get16(p + 12) != 0x8100 ||
		    get16(p + 14) != 100) {
			CHECK(0, "p1 sent a frame without VLAN 100 (type %04x)",
			      h->caplen >= 14 ? get16(p + 12) : 0);
			continue;
		}
		CHECK(memcmp(p + 6, P1_MAC, 6) == 0, "p1 frame: eth src");
		if (get16(p + 16) == 0x0806 && h->caplen >= 18 + 28 &&
		    get16(p + 18 + 6) == 2) {
			CHECK(memcmp(p, PEER_MAC, 6) == 0, "p1 ARP reply: dst");
			arp_replies++;
			continue;
		}
		if (get16(p + 16) != 0x0800 || h->caplen < 18 + 20 + 8 ||
		    p[18 + 9] != 1 || p[18 + 20] != 0)
			continue; /* GARP, requests */
		for (size_t i = 0; i < NVCASES; i++)
			if (vcases[i].echo_id != 0 &&
			    get16(p + 18 + 20 + 4) == vcases[i].echo_id)
				seen[i]++;
	}
	pcap_close(pc);
	for (size_t i = 0; i < NVCASES; i++)
		if (vcases[i].drop == NULL && vcases[i].echo_id != 0)
			CHECK(seen[i] == 1, "%s: %d replies, expected 1",
			      vcases[i].desc, seen[i]);
	CHECK(arp_replies == 1, "p1: %d ARP replies, expected 1", arp_replies);
	return total;
}

static int
add_service(struct dp_run *r)
{
	struct nl_msg *m = lbmsg_new(LB_MSG_SERVICE_NEW, 0);
	struct lb_addr vip;

	lb_addr_parse(VIP, &vip);
	lbmsg_put_svc_key(m, IPPROTO_TCP, &vip, 80);
	nla_put_string(m, LB_ATTR_SCHED, "rr");
	nla_put_u8(m, LB_ATTR_MODE, LB_MODE_DR);
	return dp_req(r, m, NULL, NULL);
}

static int
neigh_part(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	int *found = arg;
	struct lb_addr a;

	(void)nlh;
	if (tb[LB_ATTR_ADDR] == NULL ||
	    lbmsg_get_addr(tb[LB_ATTR_ADDR], &a) < 0 || a.v4 != ip4(GW_IP))
		return 0;
	*found = 1;
	CHECK(tb[LB_ATTR_STATE] != NULL &&
		      nla_get_u8(tb[LB_ATTR_STATE]) == LB_NEIGH_REACHABLE,
	      "gateway neighbour is not REACHABLE");
	CHECK(tb[LB_ATTR_LLADDR] != NULL &&
		      memcmp(nla_data(tb[LB_ATTR_LLADDR]), GW_MAC, 6) == 0,
	      "gateway neighbour has the wrong MAC");
	return 0;
}

static void
check_output(struct dp_run *r, unsigned int expect_total)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(dp_run_file(r, "out.pcap"), errbuf);
	int seen[NCASES] = { 0 }, garp_port = 0, garp_vip = 0, gw_req = 0;
	unsigned int total = 0, unknown = 0;
	struct pcap_pkthdr *h;
	const u_char *p;

	CHECK(pc != NULL, "cannot open out.pcap: %s", errbuf);
	if (pc == NULL)
		return;
	while (pcap_next_ex(pc, &h, &p) == 1) {
		int hit = 0;

		total++;
		for (size_t i = 0; i < NCASES && !hit; i++)
			if (cases[i].match != NULL &&
			    cases[i].match(p, h->caplen, 0)) {
				cases[i].match(p, h->caplen, 1);
				seen[i]++;
				hit = 1;
			}
		if (hit)
			continue;
		if (is_garp(p, h->caplen, PORT_IP))
			garp_port++;
		else if (is_garp(p, h->caplen, VIP))
			garp_vip++;
		else if (is_gw_request(p, h->caplen))
			gw_req++;
		else
			unknown++;
	}
	pcap_close(pc);
	for (size_t i = 0; i < NCASES; i++)
		if (cases[i].match != NULL)
			CHECK(seen[i] == 1, "%s: %d replies, expected 1",
			      cases[i].desc, seen[i]);
	CHECK(garp_port == 1, "gratuitous ARP for the port address: %d",
	      garp_port);
	CHECK(garp_vip == 1, "gratuitous ARP for the VIP: %d", garp_vip);
	CHECK(gw_req == 1, "ARP request for the gateway: %d", gw_req);
	CHECK(unknown == 0, "%u unexpected frames in out.pcap", unknown);
	CHECK(total == expect_total, "out.pcap holds %u frames, expected %u",
	      total, expect_total);
}

int
main(int argc, char **argv)
{
	static struct dp_stats before, after;
	static struct dp_run r;
	unsigned int nreplies = 0, expect_out;
	int found = 0, status;

	if (argc != 2) {
		fprintf(stderr, "usage: %s EDGELB_DP_BINARY\n", argv[0]);
		return 2;
	}
	alarm(120);
	dp_run_init(&r);
	if (write_input(&r) < 0 || dp_run_start(&r, argv[1], ini) < 0)
		return 1;
	for (size_t i = 0; i < NCASES; i++)
		nreplies += cases[i].match != NULL;
	expect_out = nreplies + 3; /* GARP port, GARP VIP, gateway request */

	CHECK(add_service(&r) == 0, "SERVICE_NEW failed");
	CHECK(dp_stats_get(&r, &before) == 0, "STATS_GET failed");
	CHECK(dp_stat(&before, "p0", "rx_packets_total") == 0,
	      "RX ran before CONFIG_SET");
	CHECK(dp_req(&r, lbmsg_new(LB_MSG_CONFIG_SET, 0), NULL, NULL) == 0,
	      "CONFIG_SET failed");

	CHECK(dp_stat_wait(&r, "p0", "rx_packets_total", NCASES, 10000) ==
		      NCASES,
	      "port did not receive %zu frames", NCASES);
	CHECK(dp_stat_wait(&r, "p0", "tx_packets_total", expect_out, 10000) ==
		      expect_out,
	      "port did not send %u frames", expect_out);
	CHECK(dp_stat_wait(&r, "p1", "rx_packets_total", NVCASES, 10000) ==
		      NVCASES,
	      "p1 did not receive %zu frames", NVCASES);
	/* 3 replies; GARP for p1's address */
	CHECK(dp_stat_wait(&r, "p1", "tx_packets_total", 4, 10000) >= 4,
	      "p1 did not send its replies");
	/* ARP replies are judged by the control thread, a moment later */
	dp_stat_wait(&r, "drop", "arp_unsolicited",
		     drops_expected("arp_unsolicited"), 10000);
	CHECK(dp_stats_get(&r, &after) == 0, "STATS_GET failed");
	for (size_t i = 0; i < NCASES; i++) {
		const char *d = cases[i].drop;
		unsigned int want = 0;

		if (d == NULL)
			continue;
		want = drops_expected(d);
		CHECK(dp_stat(&after, "drop", d) -
				      dp_stat(&before, "drop", d) ==
			      want,
		      "%s: drop counter %s is %lu, expected %u", cases[i].desc,
		      d, (unsigned long)dp_stat(&after, "drop", d), want);
	}
	/* and no other drop counter moved */
	for (unsigned int i = 0; i < after.n; i++) {
		const struct dp_counter *c = &after.c[i];
		int expected = 0;

		if (strcmp(c->scope, "drop") != 0 || c->value == 0)
			continue;
		expected = drops_expected(c->name) > 0;
		CHECK(expected, "unexpected drops: %s = %lu", c->name,
		      (unsigned long)c->value);
	}
	CHECK(dp_stat(&after, "lcore", "rx_packets_total") == NCASES + NVCASES,
	      "lcore rx_packets_total");
	/* the answers generated, in the lcore parts lbctl and edgelbd's
	 * metrics show: two time exceeded, no answer held back */
	CHECK(dp_stat(&after, "lcore", "icmp_time_exceeded_sent_total") == 2,
	      "lcore icmp_time_exceeded_sent_total is %lu, expected 2",
	      (unsigned long)dp_stat(&after, "lcore",
				     "icmp_time_exceeded_sent_total"));
	CHECK(dp_stat(&after, "lcore", "icmp_ratelimited_total") == 0,
	      "lcore icmp_ratelimited_total");
	CHECK(dp_stat(&after, "lcore", "rx_bursts_total") >= 1 &&
		      dp_stat(&after, "lcore", "busy_cycles_total") > 0,
	      "lcore bursts/busy cycles not counted");

	CHECK(dp_req(&r, lbmsg_new(LB_MSG_NEIGH_GET, NLM_F_DUMP), neigh_part,
		     &found) == 0,
	      "NEIGH_GET failed");
	CHECK(found, "gateway not in the neighbour table");

	status = dp_run_stop(&r);
	CHECK(status == 0, "edgelb-dp exit status %d", status);
	check_output(&r, expect_out);
	CHECK(check_output_p1(&r) == dp_stat(&after, "p1", "tx_packets_total"),
	      "out1.pcap and p1's tx counter disagree");
	if (dp_failures > 0)
		dp_run_dump_log(&r);
	printf("%s: %zu cases, %d failures\n", argv[0], NCASES + NVCASES,
	       dp_failures);
	return dp_failures == 0 ? 0 : 1;
}
