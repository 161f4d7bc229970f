/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICMP for the forwarding stage: the fragmentation-needed error TUNNEL
 * sends to a client, and the translation of ICMP errors about tracked
 * connections (destination unreachable, time exceeded, parameter
 * problem), whose embedded header is rewritten to the tuple the other
 * side knows. fwd.c looks the connection up and hands over the packet;
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
#include "neigh.h"
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

void
fwd_icmp_frag_needed(struct dp_worker *w, struct rte_mbuf *m,
		     const struct pkt_info *pi, uint32_t from, uint16_t mtu)
{
	struct fwd_worker *fw = fwd_worker_of(w);
	const uint16_t hdrs = sizeof(struct rte_ipv4_hdr) + 8;
	uint16_t keep = RTE_MIN(pi->ip_len, (uint16_t)(576 - hdrs));
	struct rte_ipv4_hdr *ip = fwd_l2_reset(m, pi);
	uint32_t to = ip->src_addr, nh;
	struct rte_icmp_hdr *icmp;
	uint16_t port;
	char *p;

	rte_pktmbuf_trim(m, (uint16_t)(pi->ip_len - keep));
	p = rte_pktmbuf_prepend(m, hdrs);
	if (p == NULL) {
		dp_worker_drop(w, m, DP_DROP_NO_HEADROOM);
		return;
	}
	((struct rte_ether_hdr *)p)->ether_type =
		rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(p + sizeof(struct rte_ether_hdr));
	icmp = (struct rte_icmp_hdr *)(ip + 1);
	icmp->icmp_type = ICMP_DEST_UNREACH;
	icmp->icmp_code = 4; /* fragmentation needed and DF set */
	icmp->icmp_cksum = 0;
	icmp->icmp_ident = 0;
	icmp->icmp_seq_nb = rte_cpu_to_be_16(mtu);
	icmp->icmp_cksum = pkt_cksum(icmp, 8u + keep);
	ip_fill(ip, 0xc0, (uint16_t)(hdrs + keep), fw->ip_id++, 0, IPPROTO_ICMP,
		from, to);
	if (fwd_route(w, m, to, &port, &nh) == 0)
		neigh_output(w, m, port, nh);
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
