/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers the forwarding modes share (fwd_dr.c, fwd_nat.c, fwd_tun.c,
 * fwd_fnat.c, fwd_icmp.c): the Ethernet header reset, the route and next
 * hop, the TTL decrement and the address/port rewrite with incremental
 * checksums. See fwd.h.
 */
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "csum.h"
#include "dp_tx.h"
#include "fwd.h"
#include "route.h"

struct rte_ipv4_hdr *
fwd_l2_reset(struct rte_mbuf *m, const struct pkt_info *pi)
{
	struct rte_ether_hdr *eth;

	if (pi->l2_len > sizeof(*eth))
		rte_pktmbuf_adj(m, (uint16_t)(pi->l2_len - sizeof(*eth)));
	if (rte_pktmbuf_pkt_len(m) > sizeof(*eth) + pi->ip_len)
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_pkt_len(m) -
					       sizeof(*eth) - pi->ip_len));
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	return (struct rte_ipv4_hdr *)(eth + 1);
}

int
fwd_route(struct dp_worker *w, struct rte_mbuf *m, uint32_t dst, uint16_t *port,
	  uint32_t *nh)
{
	if (route_lookup(w->dp->route, dst, port, nh) < 0) {
		dp_worker_drop(w, m, DP_DROP_NO_ROUTE);
		return -ENOENT;
	}
	return 0;
}

void
fwd_ttl_dec(struct rte_ipv4_hdr *ip)
{
	uint8_t b[2]; /* TTL and protocol, the checksum's 16-bit word */
	uint16_t old, new;

	/* one load and one store of the word: storing the TTL byte and
	 * loading the word back would stall on store forwarding */
	memcpy(b, &ip->time_to_live, 2);
	memcpy(&old, b, 2);
	b[0]--;
	memcpy(&new, b, 2);
	memcpy(&ip->time_to_live, b, 2);
	csum_replace2(CSUM_FIELD(ip, hdr_checksum), old, new);
}

void
fwd_rewrite(struct rte_ipv4_hdr *ip, void *l4, uint8_t proto, uint32_t saddr,
	    uint16_t sport, uint32_t daddr, uint16_t dport)
{
	uint16_t *ports = l4; /* source, destination: same place in both */
	void *sum = NULL;

	if (proto == IPPROTO_TCP)
		sum = CSUM_FIELD((struct rte_tcp_hdr *)l4, cksum);
	else if (proto == IPPROTO_UDP &&
		 ((struct rte_udp_hdr *)l4)->dgram_cksum != 0)
		sum = CSUM_FIELD((struct rte_udp_hdr *)l4, dgram_cksum);
	csum_replace4(CSUM_FIELD(ip, hdr_checksum), ip->src_addr, saddr);
	csum_replace4(CSUM_FIELD(ip, hdr_checksum), ip->dst_addr, daddr);
	if (sum != NULL) {
		csum_replace4(sum, ip->src_addr, saddr);
		csum_replace4(sum, ip->dst_addr, daddr);
		csum_replace2(sum, ports[0], sport);
		csum_replace2(sum, ports[1], dport);
		if (proto == IPPROTO_UDP)
			csum_udp_fix(sum);
	}
	ip->src_addr = saddr;
	ip->dst_addr = daddr;
	ports[0] = sport;
	ports[1] = dport;
}
