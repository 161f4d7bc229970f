/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet parsing: a cursor over the first segment with a bounds check
 * before every header is read.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "pkt.h"

uint16_t
pkt_cksum(const void *buf, size_t len)
{
	uint16_t sum = rte_raw_cksum(buf, len);

	return (uint16_t)~sum;
}

/*
 * Whether the IPv4 header at ip (ihl bytes) sums to 0xffff. The usual
 * 20-byte header is summed as five 32-bit words (the one's-complement sum
 * folds to the same 16 bits as a sum of 16-bit words); the generic loop
 * is left for headers with options.
 */
static inline bool
ip_csum_ok(const void *ip, uint16_t ihl)
{
	uint32_t w[5];
	uint64_t s;

	if (ihl != sizeof(w))
		return rte_raw_cksum(ip, ihl) == 0xffff;
	memcpy(w, ip, sizeof(w));
	s = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

static enum dp_drop
parse_arp(struct rte_mbuf *m, struct pkt_info *pi, uint16_t avail)
{
	const struct rte_arp_hdr *arp;

	if (avail < sizeof(*arp))
		return DP_DROP_TRUNCATED;
	arp = pkt_at(m, const struct rte_arp_hdr *, pi->l2_len);
	if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4)
		return DP_DROP_ARP_BAD;
	pi->l3 = PKT_L3_ARP;
	pi->l3_len = sizeof(*arp);
	pi->saddr = arp->arp_data.arp_sip;
	pi->daddr = arp->arp_data.arp_tip;
	return DP_PASS;
}

static enum dp_drop
parse_l4(struct rte_mbuf *m, struct pkt_info *pi)
{
	uint16_t off = pi->l2_len + pi->l3_len;
	uint16_t avail = pi->ip_len - pi->l3_len;
	/* a first fragment too short for its header is no bad packet but
	 * a fragment attack (ipfrag.h) */
	const enum dp_drop bad =
		pi->flags & PKT_F_FRAG ? DP_DROP_FRAG_SHORT : DP_DROP_BAD_L4;
	/* of a chain (a reassembled datagram), the first segment */
	uint16_t seg = (uint16_t)(rte_pktmbuf_data_len(m) - off);

	switch (pi->proto) {
	case IPPROTO_TCP: {
		const struct rte_tcp_hdr *th;
		uint16_t hl;

		if (avail < sizeof(*th))
			return bad;
		if (seg < sizeof(*th))
			return DP_DROP_TRUNCATED;
		th = pkt_at(m, const struct rte_tcp_hdr *, off);
		hl = (uint16_t)((th->data_off >> 4) * 4);
		if (hl < sizeof(*th) || hl > avail)
			return bad;
		if (hl > seg)
			return DP_DROP_TRUNCATED;
		pi->l4_len = hl;
		pi->sport = rte_be_to_cpu_16(th->src_port);
		pi->dport = rte_be_to_cpu_16(th->dst_port);
		break;
	}
	case IPPROTO_UDP: {
		const struct rte_udp_hdr *uh;
		uint16_t ulen;

		if (avail < sizeof(*uh))
			return bad;
		if (seg < sizeof(*uh))
			return DP_DROP_TRUNCATED;
		uh = pkt_at(m, const struct rte_udp_hdr *, off);
		ulen = rte_be_to_cpu_16(uh->dgram_len);
		/* a fragmented datagram's length covers every fragment */
		if (ulen < sizeof(*uh) ||
		    (!(pi->flags & PKT_F_FRAG) && ulen > avail))
			return DP_DROP_BAD_L4;
		pi->l4_len = sizeof(*uh);
		pi->sport = rte_be_to_cpu_16(uh->src_port);
		pi->dport = rte_be_to_cpu_16(uh->dst_port);
		break;
	}
	case IPPROTO_ICMP: {
		const struct rte_icmp_hdr *ih;

		if (avail < sizeof(*ih))
			return bad;
		if (seg < sizeof(*ih))
			return DP_DROP_TRUNCATED;
		ih = pkt_at(m, const struct rte_icmp_hdr *, off);
		pi->l4_len = sizeof(*ih);
		pi->sport = rte_be_to_cpu_16(ih->icmp_ident);
		break;
	}
	default:
		return DP_PASS; /* other protocols: no L4 view */
	}
	pi->flags |= PKT_F_L4;
	return DP_PASS;
}

static enum dp_drop
parse_ipv4(struct rte_mbuf *m, struct pkt_info *pi, uint16_t avail)
{
	/* the datagram may go on in further segments; its headers may not */
	uint32_t frame = rte_pktmbuf_pkt_len(m) - pi->l2_len;
	const struct rte_ipv4_hdr *ip;
	uint16_t ihl, frag;

	if (avail < sizeof(*ip))
		return DP_DROP_TRUNCATED;
	ip = pkt_at(m, const struct rte_ipv4_hdr *, pi->l2_len);
	if ((ip->version_ihl >> 4) != 4)
		return DP_DROP_BAD_VERSION;
	ihl = (uint16_t)((ip->version_ihl & 0xf) * 4);
	if (ihl < sizeof(*ip) || ihl > avail)
		return DP_DROP_BAD_IHL;
	pi->ip_len = rte_be_to_cpu_16(ip->total_length);
	if (pi->ip_len < ihl || pi->ip_len > frame)
		return DP_DROP_BAD_TOTAL_LEN;
	if (!ip_csum_ok(ip, ihl))
		return DP_DROP_BAD_IP_CSUM;
	pi->l3 = PKT_L3_IPV4;
	pi->l3_len = ihl;
	pi->proto = ip->next_proto_id;
	pi->ttl = ip->time_to_live;
	pi->saddr = ip->src_addr;
	pi->daddr = ip->dst_addr;
	frag = rte_be_to_cpu_16(ip->fragment_offset);
	if (frag & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) {
		pi->flags |= PKT_F_FRAG;
		if ((frag & RTE_IPV4_HDR_OFFSET_MASK) == 0)
			pi->flags |= PKT_F_FRAG_HEAD;
		else
			return DP_PASS; /* no L4 header in this one */
	}
	return parse_l4(m, pi);
}

enum dp_drop
pkt_parse(struct rte_mbuf *m, struct pkt_info *pi)
{
	const struct rte_ether_hdr *eth;
	uint16_t len = rte_pktmbuf_data_len(m);
	uint16_t type;

	pi->l3 = PKT_L3_OTHER;
	pi->flags = 0;
	pi->proto = 0;
	pi->l4_len = 0;
	pi->sport = 0;
	pi->dport = 0;
	if (len < sizeof(*eth))
		return DP_DROP_TRUNCATED;
	eth = pkt_at(m, const struct rte_ether_hdr *, 0);
	if (rte_is_multicast_ether_addr(&eth->dst_addr))
		pi->flags |= PKT_F_BCAST;
	type = eth->ether_type;
	pi->l2_len = sizeof(*eth);
	/* 802.1ad S-tags and stacked tags are not served (see pkt.h) */
	if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_QINQ))
		return DP_DROP_QINQ;
	if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN)) {
		const struct rte_vlan_hdr *vh;

		if (len < sizeof(*eth) + sizeof(*vh))
			return DP_DROP_TRUNCATED;
		vh = pkt_at(m, const struct rte_vlan_hdr *, sizeof(*eth));
		pi->flags |= PKT_F_VLAN;
		pi->vlan_tci = rte_be_to_cpu_16(vh->vlan_tci);
		type = vh->eth_proto;
		pi->l2_len += sizeof(*vh);
		if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN) ||
		    type == rte_cpu_to_be_16(RTE_ETHER_TYPE_QINQ))
			return DP_DROP_QINQ;
	}
	switch (rte_be_to_cpu_16(type)) {
	case RTE_ETHER_TYPE_ARP:
		return parse_arp(m, pi, len - pi->l2_len);
	case RTE_ETHER_TYPE_IPV4:
		return parse_ipv4(m, pi, len - pi->l2_len);
	case RTE_ETHER_TYPE_IPV6:
		pi->l3 = PKT_L3_IPV6;
		return DP_PASS;
	default:
		return DP_DROP_BAD_L2;
	}
}

enum dp_drop
pkt_vlan_rx(struct rte_mbuf *m, struct pkt_info *pi, uint16_t vid)
{
	if (!(pi->flags & PKT_F_VLAN))
		return vid == 0 ? DP_PASS : DP_DROP_VLAN_UNTAGGED;
	if (vid == 0)
		return DP_DROP_VLAN_TAGGED;
	if ((pi->vlan_tci & RTE_VLAN_ID_MASK) != vid)
		return DP_DROP_VLAN_OTHER;
	/* pkt_parse checked the tag is in the first segment */
	if (rte_vlan_strip(m) != 0)
		return DP_DROP_TRUNCATED;
	pi->flags &= (uint8_t)~PKT_F_VLAN;
	pi->l2_len -= (uint16_t)sizeof(struct rte_vlan_hdr);
	return DP_PASS;
}

enum dp_drop
pkt_vlan_tx(struct rte_mbuf *m, uint16_t vid)
{
	m->vlan_tci = vid;
	switch (rte_vlan_insert(&m)) {
	case 0:
		return DP_PASS;
	case -ENOSPC:
		return DP_DROP_NO_HEADROOM;
	default:
		return DP_DROP_TRUNCATED;
	}
}
