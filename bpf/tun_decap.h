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

#define LB_DECAP_FILTER_MAX 1024

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

#define LB_DECAP_F_FILTER 0x1u

/*
 * decap_stats indexes (PERCPU_ARRAY of struct decap_counter). Every
 * packet is counted in exactly one of DECAPSULATED, PASSED, DROPPED;
 * FILTERED (IPIP to an address not in decap_filter, passed untouched) is
 * counted in addition to PASSED.
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
	LB_DECAP_STAT_MAX,
};

struct decap_counter {
	__u64 packets;
	__u64 bytes;
};

#endif
