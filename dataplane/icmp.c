/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICMP echo responder. See icmp.h.
 */
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include "icmp.h"
#include "port.h"
#include "dp_tx.h"

#define ICMP_REPLY_TTL 64

void
icmp_input(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
	   const struct pkt_info *pi)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = pkt_at(m, struct rte_ipv4_hdr *, pi->l2_len);
	struct rte_icmp_hdr *ih =
		pkt_at(m, struct rte_icmp_hdr *, pi->l2_len + pi->l3_len);
	uint16_t icmp_len = pi->ip_len - pi->l3_len;
	uint32_t addr;

	if (ih->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || ih->icmp_code != 0) {
		dp_worker_drop(w, m, DP_DROP_ICMP_UNSUPPORTED);
		return;
	}
	if (pi->flags & PKT_F_FRAG) {
		dp_worker_drop(w, m, DP_DROP_FRAGMENT);
		return;
	}
	if (rte_raw_cksum(ih, icmp_len) != 0xffff) {
		dp_worker_drop(w, m, DP_DROP_BAD_ICMP_CSUM);
		return;
	}
	/* drop Ethernet padding so that the reply is the request's size */
	if (rte_pktmbuf_data_len(m) > pi->l2_len + pi->ip_len)
		rte_pktmbuf_trim(m, rte_pktmbuf_data_len(m) -
					    (pi->l2_len + pi->ip_len));

	ih->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	ih->icmp_cksum = 0;
	ih->icmp_cksum = pkt_cksum(ih, icmp_len);

	addr = ip->src_addr;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = addr;
	ip->time_to_live = ICMP_REPLY_TTL;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = pkt_cksum(ip, pi->l3_len);

	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(&w->dp->ports[port]->mac, &eth->src_addr);
	dp_worker_tx(w, port, m);
}
