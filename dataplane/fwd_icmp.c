/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICMP for the forwarding stage: the errors it generates (time exceeded
 * for a packet whose TTL runs out here, fragmentation needed for a DF
 * packet larger than the egress port's MTU, in every mode and both
 * directions), each through icmp.h's rate limit; and the translation of
 * ICMP errors about tracked connections (destination unreachable, time
 * exceeded, parameter problem), whose embedded header is rewritten to
 * the tuple the other side knows. fwd.c looks the connection up and hands over the packet;
 * see fwd.h.
 *
 * An error is believed only when its ICMP checksum is right, and only
 * when it quotes the first fragment (offset 0) of a packet with at least
 * 8 bytes of its TCP/UDP header: a later fragment quotes payload bytes
 * where the ports would be, which could name any connection. Others are
 * dropped with their reason (icmp_err_bad_csum, icmp_err_fragment,
 * icmp_err_short), whether or not a connection would have matched.
 */
#include <errno.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "csum.h"
#include "fwd.h"
#include "icmp.h"
#include "neigh.h"
#include "port.h"
#include "route.h"
#include "dp_tx.h"

#define ICMP_DEST_UNREACH   3
#define ICMP_TIME_EXCEEDED  11
#define ICMP_PARAMETER_PROB 12

/* Complete an IPv4 header of total length len in place. */
static void
ip_fill(struct rte_ipv4_hdr *ip, uint8_t tos, uint16_t len, uint16_t id,
	uint16_t frag, uint8_t proto, uint32_t src, uint32_t dst)
{
	*ip = (struct rte_ipv4_hdr){
		.version_ihl = RTE_IPV4_VHL_DEF,
		.type_of_service = tos,
		.total_length = rte_cpu_to_be_16(len),
		.packet_id = rte_cpu_to_be_16(id),
		.fragment_offset = frag,
		.time_to_live = 64,
		.next_proto_id = proto,
		.src_addr = src,
		.dst_addr = dst,
	};
	ip->hdr_checksum = pkt_cksum(ip, sizeof(*ip));
}

/* ---- ICMP errors the dataplane generates ----------------------------------- */

/*
 * May m (parsed as pi) be answered with an ICMP error at all? Not when
 * it is an ICMP error itself (RFC 1122 3.2.2: or we could answer each
 * other's errors forever; an ICMP packet too short to tell counts as
 * one), nor a fragment other than the first.
 */
static bool
icmp_answerable(const struct rte_mbuf *m, const struct pkt_info *pi)
{
	const struct rte_ipv4_hdr *ip =
		pkt_at(m, const struct rte_ipv4_hdr *, pi->l2_len);
	const struct rte_icmp_hdr *icmp;

	/* (PKT_F_FRAG is set for the first fragment too: it is answered) */
	if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK))
		return false;
	if (pi->proto != IPPROTO_ICMP)
		return true;
	if (!(pi->flags & PKT_F_L4))
		return false;
	icmp = pkt_at(m, const struct rte_icmp_hdr *, pi->l2_len + pi->l3_len);
	switch (icmp->icmp_type) {
	case RTE_IP_ICMP_ECHO_REQUEST:
	case RTE_IP_ICMP_ECHO_REPLY:
	case 13: /* timestamp */
	case 14: /* timestamp reply */
		return true;
	default:
		return false;
	}
}

/*
 * Turn m (received on port, parsed as pi) into the ICMP error type/code
 * (rest of header: info, network order) about it, from `from`, and send
 * it back to the frame's Ethernet source on port: the hop that brought
 * the packet is the way back to its sender, and an answer needs neither
 * a route nor ARP (so a spoofed source cannot make us resolve
 * anything). Quotes the datagram up to 576 bytes in all (RFC 1812
 * 4.3.2.3). Goes through the rate limit; never about an ICMP error or a
 * later fragment. Returns true when sent; consumes m either way (not
 * counted as a drop: the caller counts why it did not forward m).
 */
static bool
icmp_error_send(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
		const struct pkt_info *pi, uint8_t type, uint8_t code,
		uint32_t info, uint32_t from)
{
	struct fwd_worker *fw = fwd_worker_of(w);
	const uint16_t hdrs = sizeof(struct rte_ipv4_hdr) + 8;
	uint16_t keep = RTE_MIN(pi->ip_len, (uint16_t)(576 - hdrs));
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ether_addr back = eth->src_addr;
	struct rte_ipv4_hdr *ip;
	struct rte_icmp_hdr *icmp;
	uint32_t to = pi->saddr;
	char *p;

	/* a frame from a multicast or zero MAC has no way back */
	if (!rte_is_unicast_ether_addr(&back) ||
	    rte_is_zero_ether_addr(&back) || !icmp_answerable(m, pi) ||
	    !icmp_rl_allow(w, to))
		goto drop;
	/* one segment holding the whole datagram: pkt_parse() saw to it */
	fwd_l2_reset(m, pi);
	rte_pktmbuf_trim(m, (uint16_t)(pi->ip_len - keep));
	p = rte_pktmbuf_prepend(m, hdrs);
	if (p == NULL)
		goto drop;
	eth = (struct rte_ether_hdr *)p;
	/* what was the Ethernet header moves to the front: rewrite it */
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	eth->dst_addr = back;
	rte_ether_addr_copy(&w->dp->ports[port]->mac, &eth->src_addr);
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	icmp = (struct rte_icmp_hdr *)(ip + 1);
	icmp->icmp_type = type;
	icmp->icmp_code = code;
	icmp->icmp_cksum = 0;
	memcpy(&icmp->icmp_ident, &info, 4);
	icmp->icmp_cksum = pkt_cksum(icmp, 8u + keep);
	ip_fill(ip, 0xc0, (uint16_t)(hdrs + keep), fw->ip_id++, 0, IPPROTO_ICMP,
		from, to);
	dp_worker_tx(w, port, m);
	return true;
drop:
	rte_pktmbuf_free(m);
	return false;
}

/* The address an answer about c's packet in direction dir comes from. */
static uint32_t
icmp_from(struct dp_worker *w, uint16_t port, const struct pkt_info *pi,
	  const struct conn *c, unsigned int dir)
{
	uint32_t a;

	if (dir == CONN_DIR_IN)
		return c->vaddr; /* the address the client talks to */
	a = port_addr_source(w->dp, port, pi->saddr);
	return a != 0 ? a : c->vaddr;
}

void
fwd_icmp_time_exceeded(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
		       const struct pkt_info *pi, uint32_t from)
{
	w->drops[DP_DROP_TTL_EXCEEDED]++;
	if (icmp_error_send(w, m, port, pi, ICMP_TIME_EXCEEDED, 0, 0, from))
		w->icmp_st.time_exceeded++;
}

void
fwd_icmp_time_exceeded_conn(struct dp_worker *w, struct rte_mbuf *m,
			    uint16_t port, const struct pkt_info *pi,
			    const struct conn *c, unsigned int dir)
{
	fwd_icmp_time_exceeded(w, m, port, pi, icmp_from(w, port, pi, c, dir));
}

/* The smallest MTU of our ports: no packet below it needs a lookup. */
static uint16_t
mtu_min(const struct dp_ctx *dp)
{
	uint16_t min = UINT16_MAX;

	for (unsigned int i = 0; i < dp->nports; i++)
		min = RTE_MIN(min, dp->ports[i]->mtu);
	return min;
}

bool
fwd_icmp_mtu_ok(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
		const struct pkt_info *pi, const struct conn *c,
		unsigned int dir)
{
	const struct rte_ipv4_hdr *ip =
		pkt_at(m, const struct rte_ipv4_hdr *, pi->l2_len);
	/* TUNNEL adds the outer header; TOA and PROXY v2 add theirs only
	 * when the result fits (fwd_fnat.c) */
	uint16_t extra = c->mode == LB_MODE_TUNNEL && dir == CONN_DIR_IN
				 ? (uint16_t)sizeof(struct rte_ipv4_hdr)
				 : 0;
	uint16_t oport, mtu;
	uint32_t nh, info;

	if ((uint32_t)pi->ip_len + extra <= mtu_min(w->dp))
		return true;
	if (route_lookup(w->dp->route, dir == CONN_DIR_IN ? c->baddr : c->caddr,
			 &oport, &nh) < 0)
		return true; /* the mode counts no_route */
	mtu = w->dp->ports[oport]->mtu;
	if ((uint32_t)pi->ip_len + extra <= mtu)
		return true;
	if (!(ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)))
		return true; /* the TX path fragments it (ipfrag.h) */
	w->drops[DP_DROP_FRAG_NEEDED]++;
	info = rte_cpu_to_be_32((uint32_t)(mtu - extra));
	if (icmp_error_send(w, m, port, pi, ICMP_DEST_UNREACH, 4, info,
			    icmp_from(w, port, pi, c, dir)))
		w->icmp_st.frag_needed++;
	return false;
}

/* ---- ICMP errors about connections ---------------------------------------- */

int
fwd_icmp_error_key(struct rte_mbuf *m, const struct pkt_info *pi,
		   struct conn_key *k, enum dp_drop *why)
{
	uint16_t off = (uint16_t)(pi->l2_len + pi->l3_len);
	uint16_t icmp_len = (uint16_t)(pi->ip_len - pi->l3_len);
	struct rte_icmp_hdr *icmp;
	struct rte_ipv4_hdr *in;
	uint16_t ihl, *ports, avail;

	if (!(pi->flags & PKT_F_L4) || (pi->flags & PKT_F_FRAG) ||
	    rte_pktmbuf_data_len(m) < off + icmp_len)
		return -EINVAL;
	icmp = pkt_at(m, struct rte_icmp_hdr *, off);
	if (icmp->icmp_type != ICMP_DEST_UNREACH &&
	    icmp->icmp_type != ICMP_TIME_EXCEEDED &&
	    icmp->icmp_type != ICMP_PARAMETER_PROB)
		return -EINVAL;
	/* before anything quoted in it is believed */
	if (rte_raw_cksum(icmp, icmp_len) != 0xffff) {
		*why = DP_DROP_ICMP_ERR_BAD_CSUM;
		return -EBADMSG;
	}
	if (icmp_len < 8 + 20) {
		*why = DP_DROP_ICMP_ERR_SHORT;
		return -EBADMSG;
	}
	in = (struct rte_ipv4_hdr *)(icmp + 1);
	ihl = (uint16_t)((in->version_ihl & 0xf) * 4);
	avail = (uint16_t)(icmp_len - 8);
	if ((in->version_ihl >> 4) != 4 || ihl < 20 ||
	    (in->next_proto_id != IPPROTO_TCP &&
	     in->next_proto_id != IPPROTO_UDP))
		return -EINVAL;
	/* a later fragment quotes payload where the ports would be */
	if (in->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK)) {
		*why = DP_DROP_ICMP_ERR_FRAGMENT;
		return -EBADMSG;
	}
	if (avail < ihl + 8) {
		*why = DP_DROP_ICMP_ERR_SHORT;
		return -EBADMSG;
	}
	ports = (uint16_t *)((char *)in + ihl);
	/* the embedded packet went the other way: look up its reverse */
	memset(k, 0, sizeof(*k));
	k->saddr = in->dst_addr;
	k->daddr = in->src_addr;
	k->sport = ports[1];
	k->dport = ports[0];
	k->proto = in->next_proto_id;
	return 0;
}

/*
 * Rewrite an ICMP error in place: outer addresses (0 = keep), embedded
 * header's addresses and ports, its checksums, the ICMP checksum.
 */
static void
icmp_xlate(struct rte_ipv4_hdr *ip, struct rte_icmp_hdr *icmp,
	   uint16_t icmp_len, struct rte_ipv4_hdr *in, uint16_t in_avail,
	   uint32_t osrc, uint32_t odst, uint32_t isrc, uint16_t isport,
	   uint32_t idst, uint16_t idport)
{
	uint16_t ihl = (uint16_t)((in->version_ihl & 0xf) * 4);
	uint16_t *ports = (uint16_t *)((char *)in + ihl);
	void *l4sum = NULL;

	if (in->next_proto_id == IPPROTO_TCP && in_avail >= ihl + 18)
		l4sum = CSUM_FIELD((struct rte_tcp_hdr *)ports, cksum);
	else if (in->next_proto_id == IPPROTO_UDP && in_avail >= ihl + 8 &&
		 ((struct rte_udp_hdr *)ports)->dgram_cksum != 0)
		l4sum = CSUM_FIELD((struct rte_udp_hdr *)ports, dgram_cksum);
	if (l4sum != NULL) {
		csum_replace4(l4sum, in->src_addr, isrc);
		csum_replace4(l4sum, in->dst_addr, idst);
		csum_replace2(l4sum, ports[0], isport);
		csum_replace2(l4sum, ports[1], idport);
	}
	csum_replace4(CSUM_FIELD(in, hdr_checksum), in->src_addr, isrc);
	csum_replace4(CSUM_FIELD(in, hdr_checksum), in->dst_addr, idst);
	in->src_addr = isrc;
	in->dst_addr = idst;
	ports[0] = isport;
	ports[1] = idport;
	if (osrc != 0) {
		csum_replace4(CSUM_FIELD(ip, hdr_checksum), ip->src_addr, osrc);
		ip->src_addr = osrc;
	}
	if (odst != 0) {
		csum_replace4(CSUM_FIELD(ip, hdr_checksum), ip->dst_addr, odst);
		ip->dst_addr = odst;
	}
	icmp->icmp_cksum = 0;
	icmp->icmp_cksum = pkt_cksum(icmp, icmp_len);
}

void
fwd_icmp_error_xmit(struct dp_worker *w, struct rte_mbuf *m,
		    const struct pkt_info *pi, const struct conn *c,
		    unsigned int dir)
{
	uint16_t icmp_len = (uint16_t)(pi->ip_len - pi->l3_len);
	uint16_t avail = (uint16_t)(icmp_len - 8), oport;
	struct rte_ipv4_hdr *ip = fwd_l2_reset(m, pi), *in;
	struct rte_icmp_hdr *icmp;
	uint32_t nh;

	icmp = (struct rte_icmp_hdr *)((char *)ip + pi->l3_len);
	in = (struct rte_ipv4_hdr *)(icmp + 1);
	if (dir == CONN_DIR_OUT) {
		/* from the backend side about what we sent it: to client */
		icmp_xlate(ip, icmp, icmp_len, in, avail, c->vaddr, c->caddr,
			   c->caddr, c->cport, c->vaddr, c->vport);
		nh = c->caddr;
	} else {
		/* from the client side about the VIP's reply: to backend */
		icmp_xlate(ip, icmp, icmp_len, in, avail,
			   c->mode == LB_MODE_FNAT ? c->laddr : 0, c->baddr,
			   c->baddr, c->bport, c->laddr, c->lport);
		nh = c->baddr;
	}
	fwd_ttl_dec(ip);
	if (fwd_route(w, m, nh, &oport, &nh) == 0)
		neigh_output(w, m, oport, nh);
}
