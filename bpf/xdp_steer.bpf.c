/* SPDX-License-Identifier: BSD-3-Clause OR GPL-2.0 */
/*
 * xdp_steer: the XDP program in front of the dataplane's AF_XDP ports.
 *
 * Traffic the dataplane owns -- a destination (address, protocol, port)
 * or address listed in steer_map, and ARP/IPv6 neighbour discovery whose
 * target address is listed as an address-only entry -- is redirected into
 * the XSK socket of the receive queue (xsks_map[rx_queue_index]; the DPDK
 * net_af_xdp PMD fills that map when given xdp_prog=). Everything else
 * (SSH, BGP, health checks, the host's own traffic) goes to the kernel
 * untouched, so the host needs no exception path through the dataplane.
 *
 * Anything the program cannot parse is passed to the kernel, never dropped:
 * the kernel validates it again and counts its own errors. The lookup
 * order and the counters are described in xdp_steer.h.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmpv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "parsing.h"
#include "xdp_steer.h"

#define LB_AF_INET	 2
#define LB_AF_INET6	 10
#define LB_ARPHRD_ETHER	 1
#define LB_ARPOP_REQUEST 1
#define LB_ARPOP_REPLY	 2
#define LB_IP_OFFSET	 0x1fff
#define LB_ND_SOLICIT	 135
#define LB_ND_ADVERT	 136

/* What parsing decided. */
enum steer_parse {
	STEER_LOOKUP, /* key filled in: look it up */
	STEER_NEIGH,  /* ARP/ND: key is the target address */
	STEER_SKIP,   /* not for the dataplane: pass */
	STEER_BAD,    /* truncated/malformed: pass, count a parse error */
};

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, LB_STEER_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_STEER_MAX_ENTRIES);
	__type(key, struct steer_key);
	__type(value, struct steer_value);
} steer_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_STEER_STAT_MAX);
	__type(key, __u32);
	__type(value, struct steer_counter);
} steer_stats SEC(".maps");

static __always_inline void
count(__u32 idx, __u64 bytes)
{
	struct steer_counter *cnt = bpf_map_lookup_elem(&steer_stats, &idx);

	/* Cannot fail for idx < LB_STEER_STAT_MAX; the verdict never
	 * depends on the counters. */
	if (cnt == NULL)
		return;
	cnt->packets++;
	cnt->bytes += bytes;
}

/* TCP/UDP destination port; other protocols match with port 0. */
static __always_inline enum steer_parse
parse_l4(struct hdr_cursor *c, struct steer_key *key)
{
	struct l4_ports *ports;

	if (key->proto == IPPROTO_TCP) {
		ports = cursor_pull(c, sizeof(struct tcphdr));
		if (ports == NULL)
			return STEER_BAD;
		key->port = ports->dest;
	} else if (key->proto == IPPROTO_UDP) {
		ports = cursor_pull(c, sizeof(struct udphdr));
		if (ports == NULL)
			return STEER_BAD;
		key->port = ports->dest;
	}
	return STEER_LOOKUP;
}

static __always_inline enum steer_parse
parse_arp(struct hdr_cursor *c, struct steer_key *key)
{
	struct arp_eth_ipv4 *arp = cursor_pull(c, sizeof(*arp));

	if (arp == NULL)
		return STEER_BAD;
	if (arp->ar_hrd != bpf_htons(LB_ARPHRD_ETHER) ||
	    arp->ar_pro != bpf_htons(ETH_P_IP) || arp->ar_hln != ETH_ALEN ||
	    arp->ar_pln != 4)
		return STEER_SKIP;
	if (arp->ar_op != bpf_htons(LB_ARPOP_REQUEST) &&
	    arp->ar_op != bpf_htons(LB_ARPOP_REPLY))
		return STEER_SKIP;
	key->family = LB_AF_INET;
	__builtin_memcpy(key->addr, arp->ar_tip, 4);
	return STEER_NEIGH;
}

static __always_inline enum steer_parse
parse_ipv4(struct hdr_cursor *c, struct steer_key *key)
{
	struct iphdr *iph = parse_iphdr(c);

	if (iph == NULL)
		return STEER_BAD;
	key->family = LB_AF_INET;
	key->proto = iph->protocol;
	__builtin_memcpy(key->addr, &iph->daddr, 4);
	/* A non-first fragment carries no L4 header: address entries only. */
	if (iph->frag_off & bpf_htons(LB_IP_OFFSET))
		return STEER_LOOKUP;
	return parse_l4(c, key);
}

static __always_inline int
is_ipv6_ext(__u8 nexthdr)
{
	switch (nexthdr) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_FRAGMENT:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case IPPROTO_ESP:
	case IPPROTO_MH:
	case 139: /* HIP */
	case 140: /* Shim6 */
		return 1;
	}
	return 0;
}

static __always_inline enum steer_parse
parse_ipv6(struct hdr_cursor *c, struct steer_key *key)
{
	struct ipv6hdr *ip6h = parse_ipv6hdr(c);
	struct icmp6hdr *icmp6;
	struct icmp6_nd *nd;

	if (ip6h == NULL)
		return STEER_BAD;
	/* Extension headers are not walked: the kernel keeps them. */
	if (is_ipv6_ext(ip6h->nexthdr))
		return STEER_SKIP;
	key->family = LB_AF_INET6;
	key->proto = ip6h->nexthdr;
	__builtin_memcpy(key->addr, &ip6h->daddr, 16);
	if (key->proto != IPPROTO_ICMPV6)
		return parse_l4(c, key);

	/* Neighbour discovery is steered by its target, like ARP. */
	icmp6 = c->pos;
	if ((void *)icmp6 + 4 > c->end)
		return STEER_BAD;
	if (icmp6->icmp6_type != LB_ND_SOLICIT &&
	    icmp6->icmp6_type != LB_ND_ADVERT)
		return STEER_LOOKUP;
	nd = cursor_pull(c, sizeof(*nd));
	if (nd == NULL)
		return STEER_BAD;
	key->proto = 0;
	__builtin_memcpy(key->addr, nd->target, 16);
	return STEER_NEIGH;
}

/* (addr, proto, port), then (addr, proto, 0), then (addr, 0, 0). */
static __always_inline struct steer_value *
steer_lookup(struct steer_key *key)
{
	struct steer_value *val;

	if (key->port != 0) {
		val = bpf_map_lookup_elem(&steer_map, key);
		if (val != NULL)
			return val;
		key->port = 0;
	}
	if (key->proto != 0) {
		val = bpf_map_lookup_elem(&steer_map, key);
		if (val != NULL)
			return val;
		key->proto = 0;
	}
	return bpf_map_lookup_elem(&steer_map, key);
}

SEC("xdp")
int
xdp_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor c = { .pos = data, .end = data_end };
	__u32 verdict = LB_STEER_STAT_PASSED;
	__u32 reason = LB_STEER_STAT_MAX;
	struct steer_value *val;
	struct steer_key key;
	enum steer_parse rc;
	int action = XDP_PASS;
	__be16 proto;

	__builtin_memset(&key, 0, sizeof(key));
	if (parse_ethhdr(&c, &proto) == NULL)
		rc = STEER_BAD;
	else if (proto == bpf_htons(ETH_P_IP))
		rc = parse_ipv4(&c, &key);
	else if (proto == bpf_htons(ETH_P_IPV6))
		rc = parse_ipv6(&c, &key);
	else if (proto == bpf_htons(ETH_P_ARP))
		rc = parse_arp(&c, &key);
	else
		rc = STEER_SKIP;

	if (rc == STEER_BAD) {
		reason = LB_STEER_STAT_PARSE_ERR;
		goto out;
	}
	if (rc == STEER_SKIP)
		goto out;
	val = steer_lookup(&key);
	if (val == NULL)
		goto out;
	if ((val->flags & LB_STEER_F_NEIGH) && rc != STEER_NEIGH)
		goto out;
	if (val->flags & LB_STEER_F_DROP) {
		action = XDP_DROP;
		verdict = LB_STEER_STAT_DROPPED;
		goto out;
	}
	/* Falls back to XDP_PASS when the queue has no XSK socket. */
	action = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
	if (action == XDP_REDIRECT)
		verdict = LB_STEER_STAT_REDIRECTED;
	else
		reason = LB_STEER_STAT_NO_XSK;
out:
	count(verdict, data_end - data);
	if (reason != LB_STEER_STAT_MAX)
		count(reason, data_end - data);
	return action;
}

char _license[] SEC("license") = "Dual BSD/GPL";
