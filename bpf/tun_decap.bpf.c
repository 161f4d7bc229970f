/* SPDX-License-Identifier: BSD-3-Clause OR GPL-2.0 */
/*
 * tun_decap: XDP IPIP decapsulation for TUNNEL-mode backends.
 *
 * The load balancer forwards a client packet to a TUNNEL backend inside an
 * outer IPv4 header (protocol 4, or 41 for IPv6 inside IPv4). On the
 * backend this program strips the outer header with bpf_xdp_adjust_head,
 * rewrites the EtherType for the inner packet (the MAC addresses stay) and
 * passes the inner packet up the kernel's stack, which answers the client
 * directly from the VIP it holds on lo -- as an ipip device would, without
 * needing one.
 *
 * Who may tunnel (outer source, inner destination), verdicts and counters:
 * see tun_decap.h. Untagged Ethernet only: a
 * VLAN-tagged frame is passed untouched (attach to the VLAN device).
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "parsing.h"
#include "tun_decap.h"

#define LB_IP_MF     0x2000
#define LB_IP_OFFSET 0x1fff

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct decap_cfg);
} decap_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_DECAP_FILTER_MAX);
	__type(key, __u32);
	__type(value, __u32);
} decap_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_DECAP_SRC_MAX);
	__type(key, __u32);
	__type(value, __u32);
} decap_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_DECAP_VIP_MAX);
	__type(key, __u32);
	__type(value, __u32);
} decap_vip SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_DECAP_VIP_MAX);
	__type(key, struct in6_addr);
	__type(value, __u32);
} decap_vip6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_DECAP_STAT_MAX);
	__type(key, __u32);
	__type(value, struct decap_counter);
} decap_stats SEC(".maps");

static __always_inline void
count(__u32 idx, __u64 bytes)
{
	struct decap_counter *cnt = bpf_map_lookup_elem(&decap_stats, &idx);

	/* Cannot fail for idx < LB_DECAP_STAT_MAX; the verdict never
	 * depends on the counters. */
	if (cnt == NULL)
		return;
	cnt->packets++;
	cnt->bytes += bytes;
}

/* Whether the outer destination passes the optional filter. */
static __always_inline int
filter_accepts(const struct decap_cfg *cfg, struct iphdr *iph)
{
	__u32 daddr;

	if (!(cfg->flags & LB_DECAP_F_FILTER))
		return 1;
	daddr = iph->daddr;
	return bpf_map_lookup_elem(&decap_filter, &daddr) != NULL;
}

/* Whether the outer source is an allowed balancer. */
static __always_inline int
src_allowed(const struct decap_cfg *cfg, struct iphdr *iph)
{
	__u32 saddr;

	if (cfg->flags & LB_DECAP_F_ANY_SRC)
		return 1;
	saddr = iph->saddr;
	return bpf_map_lookup_elem(&decap_src, &saddr) != NULL;
}

/* Whether the inner destination (header bounds checked) is a VIP. */
static __always_inline int
vip_allowed(const struct decap_cfg *cfg, const void *inner, int v6)
{
	if (cfg->flags & LB_DECAP_F_ANY_VIP)
		return 1;
	if (v6) {
		struct in6_addr a;

		__builtin_memcpy(&a, &((const struct ipv6hdr *)inner)->daddr,
				 sizeof(a));
		return bpf_map_lookup_elem(&decap_vip6, &a) != NULL;
	}
	__u32 d = ((const struct iphdr *)inner)->daddr;

	return bpf_map_lookup_elem(&decap_vip, &d) != NULL;
}

SEC("xdp")
int
tun_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct hdr_cursor c = { .pos = data, .end = data_end };
	__u32 verdict = LB_DECAP_STAT_PASSED;
	__u32 reason = LB_DECAP_STAT_MAX;
	__u64 len = data_end - data;
	int action = XDP_PASS;
	struct decap_cfg *cfg;
	struct ethhdr eth_copy;
	struct ethhdr *eth;
	__u32 key = 0;
	struct iphdr *iph;
	__u8 *inner;
	int outer_len;

	eth = cursor_pull(&c, sizeof(*eth));
	if (eth == NULL || eth->h_proto != bpf_htons(ETH_P_IP))
		goto out;
	iph = parse_iphdr(&c);
	if (iph == NULL)
		goto out;
	if (iph->protocol != IPPROTO_IPIP && iph->protocol != IPPROTO_IPV6)
		goto out;
	/* Outer fragments are the kernel's to reassemble. */
	if (iph->frag_off & bpf_htons(LB_IP_MF | LB_IP_OFFSET))
		goto out;

	cfg = bpf_map_lookup_elem(&decap_cfg, &key);
	if (cfg == NULL)
		goto drop;
	if (!filter_accepts(cfg, iph)) {
		reason = LB_DECAP_STAT_FILTERED;
		goto out;
	}
	if (!src_allowed(cfg, iph)) {
		reason = LB_DECAP_STAT_REFUSED_SRC;
		goto drop;
	}

	__builtin_memcpy(&eth_copy, eth, sizeof(eth_copy));
	inner = c.pos;
	if (iph->protocol == IPPROTO_IPIP) {
		if ((void *)inner + sizeof(struct iphdr) > data_end ||
		    (inner[0] >> 4) != 4)
			goto drop;
		eth_copy.h_proto = bpf_htons(ETH_P_IP);
	} else {
		if ((void *)inner + sizeof(struct ipv6hdr) > data_end ||
		    (inner[0] >> 4) != 6)
			goto drop;
		eth_copy.h_proto = bpf_htons(ETH_P_IPV6);
	}
	if (!vip_allowed(cfg, inner, iph->protocol == IPPROTO_IPV6)) {
		reason = LB_DECAP_STAT_REFUSED_VIP;
		goto drop;
	}

	outer_len = (void *)inner - (void *)(eth + 1);
	if (bpf_xdp_adjust_head(ctx, outer_len))
		goto drop;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		goto drop;
	__builtin_memcpy(eth, &eth_copy, sizeof(*eth));
	verdict = LB_DECAP_STAT_DECAPSULATED;
	goto out;
drop:
	action = XDP_DROP;
	verdict = LB_DECAP_STAT_DROPPED;
out:
	count(verdict, len);
	if (reason != LB_DECAP_STAT_MAX)
		count(reason, len);
	return action;
}

char _license[] SEC("license") = "Dual BSD/GPL";
