/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TUNNEL (IPIP, RFC 2003): the client's datagram, TTL decremented, is
 * wrapped in an outer IPv4 header from the address of our egress port
 * (the port the route to the backend uses) to the backend, which
 * decapsulates it (an ipip device, or bpf/tun_decap) and, holding the
 * VIP on loopback, answers the client directly.
 *
 * Outer header: TTL 64, TOS and DF copied from the inner header, IP ID
 * from a per-worker counter. fwd.c's MTU check (fwd_icmp_mtu_ok) has
 * answered a client whose DF packet would exceed the egress port's MTU
 * with the outer header (fragmentation needed, MTU - 20) before we get
 * here; what still does not fit with DF (an ICMP error passed on to a
 * backend) is dropped as too_big; without DF, the outer packet is
 * fragmented on the way out (ipfrag.h).
 */
#include <string.h>

#include "fwd.h"
#include "neigh.h"
#include "port.h"
#include "dp_tx.h"

#define IPIP_HLEN ((uint16_t)sizeof(struct rte_ipv4_hdr))

static enum dp_drop
tun_conn_init(struct fwd_worker *fw, struct conn *c, const struct svc *s)
{
	RTE_SET_USED(fw);
	RTE_SET_USED(c);
	RTE_SET_USED(s);
	return DP_PASS;
}

static void
tun_xmit(struct fwd_worker *fw, struct dp_worker *w, struct rte_mbuf *m,
	 const struct pkt_info *pi, struct conn *c, unsigned int dir)
{
	const struct rte_ipv4_hdr *orig =
		pkt_at(m, const struct rte_ipv4_hdr *, pi->l2_len);
	uint16_t df =
		orig->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	struct rte_ipv4_hdr *ip, *outer;
	uint16_t port, mtu;
	uint32_t nh;
	char *p;

	RTE_SET_USED(dir);
	if (fwd_route(w, m, c->baddr, &port, &nh) < 0)
		return;
	mtu = w->dp->ports[port]->mtu;
	/* without DF, the TX path fragments the outer packet (ipfrag.h) */
	if (df != 0 && (uint32_t)pi->ip_len + IPIP_HLEN > mtu) {
		dp_worker_drop(w, m, DP_DROP_TOO_BIG);
		return;
	}
	ip = fwd_l2_reset(m, pi);
	fwd_ttl_dec(ip);
	p = rte_pktmbuf_prepend(m, IPIP_HLEN);
	if (p == NULL) {
		dp_worker_drop(w, m, DP_DROP_NO_HEADROOM);
		return;
	}
	ip = (struct rte_ipv4_hdr *)(p + sizeof(struct rte_ether_hdr) +
				     IPIP_HLEN);
	((struct rte_ether_hdr *)p)->ether_type =
		rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	outer = (struct rte_ipv4_hdr *)(p + sizeof(struct rte_ether_hdr));
	*outer = (struct rte_ipv4_hdr){
		.version_ihl = RTE_IPV4_VHL_DEF,
		.type_of_service = ip->type_of_service,
		.total_length =
			rte_cpu_to_be_16((uint16_t)(pi->ip_len + IPIP_HLEN)),
		.packet_id = rte_cpu_to_be_16(fw->ip_id++),
		.fragment_offset = df,
		.time_to_live = 64,
		.next_proto_id = IPPROTO_IPIP,
		.src_addr = port_addr_source(w->dp, port, c->baddr),
		.dst_addr = c->baddr,
	};
	outer->hdr_checksum = pkt_cksum(outer, sizeof(*outer));
	neigh_output(w, m, port, nh);
}

const struct fwd_mode_ops fwd_tun_ops = {
	.name = "tunnel",
	.mode = LB_MODE_TUNNEL,
	.replies = false,
	.conn_init = tun_conn_init,
	.xmit = tun_xmit,
};
