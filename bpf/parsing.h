/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet parsing for the edgelb XDP programs: a cursor that walks the
 * headers of an xdp_md buffer. Every helper checks the bounds of what it
 * is about to read against data_end before the read and returns NULL when
 * the packet is too short, so callers only dereference pointers the
 * verifier has seen checked. BPF-only (included by *.bpf.c).
 */
#ifndef EDGELB_BPF_PARSING_H
#define EDGELB_BPF_PARSING_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

/* The position of the next header to parse; data_end bounds it. */
struct hdr_cursor {
	void *pos;
	void *end;
};

struct vlan_hdr {
	__be16 h_vlan_TCI;
	__be16 h_vlan_encapsulated_proto;
};

/* ARP for Ethernet/IPv4 (RFC 826), the only kind steered. */
struct arp_eth_ipv4 {
	__be16 ar_hrd;
	__be16 ar_pro;
	__u8 ar_hln;
	__u8 ar_pln;
	__be16 ar_op;
	__u8 ar_sha[ETH_ALEN];
	__u8 ar_sip[4];
	__u8 ar_tha[ETH_ALEN];
	__u8 ar_tip[4];
} __attribute__((packed));

/* An ICMPv6 neighbour solicitation/advertisement up to its target. */
struct icmp6_nd {
	__u8 type;
	__u8 code;
	__be16 cksum;
	__be32 reserved;
	__u8 target[16];
};

/* Only the destination port is read from TCP and UDP headers. */
struct l4_ports {
	__be16 source;
	__be16 dest;
};

/*
 * Take len bytes at the cursor: the start of them, or NULL (cursor
 * unchanged) if the packet ends before.
 */
static __always_inline void *
cursor_pull(struct hdr_cursor *c, __u32 len)
{
	void *p = c->pos;

	if (p + len > c->end)
		return NULL;
	c->pos = p + len;
	return p;
}

/*
 * Ethernet header, then at most one 802.1Q tag. Returns the Ethernet
 * header and sets *proto (network order) to the EtherType of what follows,
 * or NULL if truncated. An 802.1ad S-tag (0x88a8), or a second tag after
 * the 802.1Q one, is not looked into: *proto is then ETH_P_8021AD or
 * ETH_P_8021Q, which no caller serves. This is the set edgelb-dp's parser
 * accepts (dataplane/pkt.h: it drops QinQ as `qinq`), so xdp_steer never
 * hands the dataplane a frame it would drop for its tags.
 */
static __always_inline struct ethhdr *
parse_ethhdr(struct hdr_cursor *c, __be16 *proto)
{
	struct ethhdr *eth = cursor_pull(c, sizeof(*eth));
	struct vlan_hdr *vlan;

	if (eth == NULL)
		return NULL;
	*proto = eth->h_proto;
	if (*proto == bpf_htons(ETH_P_8021Q)) {
		vlan = cursor_pull(c, sizeof(*vlan));
		if (vlan == NULL)
			return NULL;
		*proto = vlan->h_vlan_encapsulated_proto;
	}
	return eth;
}

/*
 * IPv4 header including options (ihl * 4 bytes). NULL if truncated, if
 * the version is not 4 or if ihl < 5.
 */
static __always_inline struct iphdr *
parse_iphdr(struct hdr_cursor *c)
{
	struct iphdr *iph = c->pos;
	__u32 hlen;

	if ((void *)(iph + 1) > c->end)
		return NULL;
	if (iph->version != 4)
		return NULL;
	hlen = iph->ihl * 4;
	if (hlen < sizeof(*iph))
		return NULL;
	if (c->pos + hlen > c->end)
		return NULL;
	c->pos += hlen;
	return iph;
}

/* Fixed IPv6 header; NULL if truncated or the version is not 6. */
static __always_inline struct ipv6hdr *
parse_ipv6hdr(struct hdr_cursor *c)
{
	struct ipv6hdr *ip6h = cursor_pull(c, sizeof(*ip6h));

	if (ip6h == NULL || ip6h->version != 6)
		return NULL;
	return ip6h;
}

#endif
