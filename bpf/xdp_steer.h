/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * xdp_steer: the map layout shared by the XDP steering program
 * (xdp_steer.bpf.c) and the user-space code that keeps its map in sync
 * (steer.c, the edgelb-bpf loader, the dataplane).
 *
 * With AF_XDP ports, xdp_steer redirects only the traffic the dataplane
 * owns (VIPs, local FULL-NAT addresses, ARP/ND for them) into the port's
 * XSK sockets and leaves everything else to the kernel. What the dataplane
 * owns is the set of keys in steer_map.
 *
 * This header is included by BPF code and by user space, so it uses only
 * the kernel's __u8/__u16/__u32/__u64 types.
 */
#ifndef EDGELB_XDP_STEER_H
#define EDGELB_XDP_STEER_H

#include <linux/types.h>

/* Map names, as user space looks them up in the loaded object. */
#define LB_STEER_XSKS_MAP  "xsks_map"
#define LB_STEER_MAP	   "steer_map"
#define LB_STEER_STATS_MAP "steer_stats"
#define LB_STEER_PROG	   "xdp_steer"

#define LB_STEER_MAX_ENTRIES 16384
#define LB_STEER_MAX_QUEUES  64

/*
 * steer_map key. The whole struct is the hash key, so it must be zeroed
 * before it is filled in (there is no padding: 20 bytes).
 *
 * family: AF_INET (2) or AF_INET6 (10).
 * proto:  IPPROTO_TCP, IPPROTO_UDP, ... ; 0 = any protocol.
 * port:   destination port in network byte order; 0 = any port.
 * addr:   destination address in network byte order; an IPv4 address
 *         fills addr[0..3] and leaves the rest zero.
 *
 * A packet matches, in this order: (addr, proto, port), then
 * (addr, proto, 0), then (addr, 0, 0). So an entry with proto = port = 0
 * means "all traffic to that address" (e.g. a FULL-NAT local address), and
 * it is also the only kind of entry ARP and IPv6 neighbour discovery
 * (looked up by their target address) can match; non-first IPv4 fragments
 * (no L4 header) match (addr, proto, 0) or (addr, 0, 0) entries only.
 */
struct steer_key {
	__u8 family;
	__u8 proto;
	__u16 port;
	__u8 addr[16];
};

/* steer_map value. */
struct steer_value {
	__u32 flags; /* LB_STEER_F_* */
};

/* Drop matching packets instead of redirecting them. */
#define LB_STEER_F_DROP 0x1u
/*
 * On an address-only entry: match only ARP and neighbour discovery for the
 * address, not IP traffic to it. A VIP served on some ports gets this
 * entry (so the dataplane answers ARP for it) plus one entry per port.
 */
#define LB_STEER_F_NEIGH 0x2u

/*
 * steer_stats indexes (PERCPU_ARRAY of struct steer_counter).
 * Every packet is counted in exactly one of REDIRECTED, PASSED and
 * DROPPED (the verdict). PARSE_ERR and NO_XSK are reasons counted in
 * addition: PARSE_ERR for a truncated or malformed header (passed to the
 * kernel, which drops it and counts it itself); NO_XSK for a packet that
 * matched steer_map but arrived on a queue without an XSK socket in
 * xsks_map (passed to the kernel).
 */
enum lb_steer_stat {
	LB_STEER_STAT_REDIRECTED = 0,
	LB_STEER_STAT_PASSED,
	LB_STEER_STAT_DROPPED,
	LB_STEER_STAT_PARSE_ERR,
	LB_STEER_STAT_NO_XSK,
	LB_STEER_STAT_MAX,
};

struct steer_counter {
	__u64 packets;
	__u64 bytes;
};

#endif
