/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tun_decap: the map layout shared by the XDP IPIP decapsulation program
 * (tun_decap.bpf.c) and the edgelb-bpf loader.
 *
 * TUNNEL-mode backends receive client packets encapsulated in IPv4
 * (protocol 4, IPIP; protocol 41, IPv6-in-IPv4). tun_decap strips the
 * outer header in XDP and hands the inner packet to the kernel, so a
 * backend needs no ipip device (or ipip module).
 *
 * Included by BPF code and user space: kernel __u* types only.
 */
#ifndef EDGELB_TUN_DECAP_H
#define EDGELB_TUN_DECAP_H

#include <linux/types.h>

#define LB_DECAP_PROG	    "tun_decap"
#define LB_DECAP_FILTER_MAP "decap_filter"
#define LB_DECAP_CFG_MAP    "decap_cfg"
#define LB_DECAP_STATS_MAP  "decap_stats"
#define LB_DECAP_SRC_MAP    "decap_src"
#define LB_DECAP_VIP_MAP    "decap_vip"
#define LB_DECAP_VIP6_MAP   "decap_vip6"

#define LB_DECAP_FILTER_MAX 1024
#define LB_DECAP_SRC_MAX    256	 /* load balancer addresses */
#define LB_DECAP_VIP_MAX    4096 /* VIPs, per family */

/*
 * decap_cfg (ARRAY, one entry at index 0). With LB_DECAP_F_FILTER set,
 * only packets whose outer destination is a key of decap_filter (__u32,
 * IPv4 address in network order; value __u32, unused) are decapsulated;
 * the rest are passed untouched. With the flag clear (the default, and
 * what the loader leaves when it was given no address), every IPIP packet
 * is decapsulated.
 */
struct decap_cfg {
	__u32 flags;
};

#define LB_DECAP_F_FILTER  0x1u
#define LB_DECAP_F_ANY_SRC 0x2u /* skip the outer source check */
#define LB_DECAP_F_ANY_VIP 0x4u /* skip the inner destination check */

/*
 * Who may tunnel to us. An IPIP packet (to an accepted outer destination)
 * is decapsulated only when its outer source is a key of decap_src (__u32,
 * network order: the load balancers' addresses) and its inner destination
 * a key of decap_vip (__u32) or, for IPv6 inside IPv4, decap_vip6 (16
 * bytes): the VIPs the backend serves. Values are __u32, unused. Anything
 * else is dropped and counted (REFUSED_SRC, REFUSED_VIP): the kernel must
 * not see a packet someone else wrapped for a VIP. The checks are on by
 * default, so a program whose maps are empty refuses every tunnel; an
 * operator who wants any source or any inner destination sets
 * LB_DECAP_F_ANY_SRC / LB_DECAP_F_ANY_VIP (edgelb-bpf --any-src/--any-vip).
 */

/*
 * decap_stats indexes (PERCPU_ARRAY of struct decap_counter). Every
 * packet is counted in exactly one of DECAPSULATED, PASSED, DROPPED;
 * FILTERED (IPIP to an address not in decap_filter, passed untouched) is
 * counted in addition to PASSED; REFUSED_SRC and REFUSED_VIP in addition
 * to DROPPED.
 *
 * Verdicts: not IPv4, not IPIP, truncated outer headers, outer fragments
 * -> XDP_PASS untouched (the kernel's IP layer validates and counts them);
 * IPIP whose inner header is truncated or of the wrong version -> XDP_DROP
 * (no one else on the host would take it).
 */
enum lb_decap_stat {
	LB_DECAP_STAT_DECAPSULATED = 0,
	LB_DECAP_STAT_PASSED,
	LB_DECAP_STAT_DROPPED,
	LB_DECAP_STAT_FILTERED,
	LB_DECAP_STAT_REFUSED_SRC, /* outer source not allowed (+ DROPPED) */
	LB_DECAP_STAT_REFUSED_VIP, /* inner destination not a VIP (+ DROPPED) */
	LB_DECAP_STAT_MAX,
};

struct decap_counter {
	__u64 packets;
	__u64 bytes;
};

#endif
