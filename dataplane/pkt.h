/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet parsing and sanity checks for the workers: Ethernet, one 802.1Q
 * tag, ARP, IPv4 (IPv6 recognised only), TCP, UDP, ICMP. pkt_parse()
 * reads the frame once, checks every length before it reads a field, and
 * fills a struct pkt_info that the later stages use instead of re-parsing.
 */
#ifndef EDGELB_DP_PKT_H
#define EDGELB_DP_PKT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "counters.h"

enum pkt_l3 {
	PKT_L3_OTHER = 0,
	PKT_L3_ARP,
	PKT_L3_IPV4,
	PKT_L3_IPV6,
};

#define PKT_F_VLAN	(1u << 0) /* an 802.1Q tag follows the MACs */
#define PKT_F_FRAG	(1u << 1) /* IPv4 MF set or offset != 0 */
#define PKT_F_FRAG_HEAD (1u << 2) /* ... and it is the first fragment */
#define PKT_F_L4	(1u << 3) /* l4 header present and in bounds */
#define PKT_F_BCAST	(1u << 4) /* Ethernet broadcast/multicast dst */
#define PKT_F_HINT	(1u << 5) /* hint/hint_gen filled (see below) */
#define PKT_F_REPLY	(1u << 6) /* ... and it names a reply: try reverse */

struct pkt_info {
	uint8_t l3;    /* enum pkt_l3 */
	uint8_t proto; /* IPv4 protocol */
	uint8_t ttl;
	uint8_t flags;	 /* PKT_F_* */
	uint16_t l2_len; /* Ethernet (+ VLAN) header */
	uint16_t l3_len; /* IPv4 header (IHL * 4), or ARP length */
	uint16_t l4_len; /* L4 header when PKT_F_L4 */
	uint16_t ip_len; /* IPv4 total length (the frame may be padded) */
	uint16_t vlan_tci;
	uint16_t sport; /* host order; TCP/UDP; ICMP: echo id */
	uint16_t dport; /* host order; TCP/UDP */
	uint32_t saddr; /* network order */
	uint32_t daddr;
	/*
	 * With PKT_F_HINT: the forwarding stage's own lookup of this 5-tuple,
	 * done for the whole burst by its dp_prepare_fn; opaque elsewhere.
	 */
	uint32_t hint_gen;
	void *hint;
};

/*
 * Parse m. Headers must lie in the first segment (DP_DROP_TRUNCATED
 * otherwise); the IP datagram may go on in more (an mbuf chain, as
 * reassembly makes). Returns DP_PASS when the frame is fine (pi
 * filled), else the reason to count it dropped.
 *
 * Checks: frame holds the Ethernet (+VLAN) header, at most one 802.1Q
 * tag and no 802.1ad tag (else DP_DROP_QINQ); ARP: fixed Ethernet/
 * IPv4 layout; IPv4: version 4, IHL >= 5 and within the frame, header
 * checksum, total length >= IHL*4 and <= frame; L4 header (TCP data
 * offset >= 5, UDP 8 bytes, ICMP 8 bytes) within the total length unless
 * the packet is a non-first fragment (a first fragment too short for it:
 * DP_DROP_FRAG_SHORT). TTL is only recorded: whether 0/1
 * matters depends on what happens to the packet next.
 */
enum dp_drop pkt_parse(struct rte_mbuf *m, struct pkt_info *pi);

/*
 * VLANs. A port either has no VLAN (vid 0: untagged frames only) or one
 * 802.1Q VID (tagged frames of that VID only; the priority bits are not
 * looked at). pkt_vlan_rx() checks a parsed frame against its port's vid
 * and strips the tag, so everything after it sees untagged frames (pi is
 * updated); pkt_vlan_tx() inserts the port's tag (priority 0) when a
 * frame leaves. 802.1ad S-tags (0x88a8) and stacked tags (QinQ) are never
 * served: pkt_parse() drops them (DP_DROP_QINQ) on any port, and
 * xdp_steer, on net_af_xdp ports, leaves them to the kernel.
 *
 * pkt_vlan_rx: DP_PASS to go on, or DP_DROP_VLAN_UNTAGGED (vid set, frame
 * untagged), DP_DROP_VLAN_TAGGED (no vid, frame tagged),
 * DP_DROP_VLAN_OTHER (another VID).
 * pkt_vlan_tx: DP_PASS, or DP_DROP_NO_HEADROOM (no room for the tag),
 * DP_DROP_TRUNCATED (shared or runt mbuf); m is then not changed.
 */
enum dp_drop pkt_vlan_rx(struct rte_mbuf *m, struct pkt_info *pi, uint16_t vid);
enum dp_drop pkt_vlan_tx(struct rte_mbuf *m, uint16_t vid);

/* Pointer to offset off in m's first segment (checked by pkt_parse). */
#define pkt_at(m, type, off) rte_pktmbuf_mtod_offset(m, type, off)

/* RFC 1071 checksum of len bytes (folded, complemented). */
uint16_t pkt_cksum(const void *buf, size_t len);

#endif
