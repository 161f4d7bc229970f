/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP responder and originator. See arp.h.
 */
#include <string.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ring.h>

#include "arp.h"
#include "port.h"
#include "svc.h"
#include "dp_tx.h"

static bool
addr_is_ours(struct dp_ctx *dp, uint16_t port, uint32_t ip)
{
	struct lb_addr a = { .family = AF_INET, .v4 = ip };

	if (port_addr_find(dp, ip) == (int)port)
		return true;
	return dp->svc != NULL && svc_addr_is_ours(dp->svc, &a);
}

/* A sender MAC a neighbour may have: unicast and not all zero. */
static bool
sender_mac_ok(const struct rte_ether_addr *a)
{
	return !rte_is_multicast_ether_addr(a) && !rte_is_zero_ether_addr(a);
}

void
arp_input(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
	  const struct pkt_info *pi)
{
	struct dp_ctx *dp = w->dp;
	const struct rte_ether_addr *mac = &dp->ports[port]->mac;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *arp = pkt_at(m, struct rte_arp_hdr *, pi->l2_len);
	struct rte_arp_ipv4 *d = &arp->arp_data;
	uint32_t tip = d->arp_tip;

	switch (rte_be_to_cpu_16(arp->arp_opcode)) {
	case RTE_ARP_OP_REQUEST:
		if (!addr_is_ours(dp, port, tip)) {
			dp_worker_drop(w, m, DP_DROP_ARP_NOT_OURS);
			return;
		}
		if (!sender_mac_ok(&d->arp_sha)) {
			dp_worker_drop(w, m, DP_DROP_ARP_BAD_SHA);
			return;
		}
		if (d->arp_sip == 0) {
			/* a probe (RFC 5227): no reply */
			dp_worker_drop(w, m, DP_DROP_ARP_BAD);
			return;
		}
		arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
		d->arp_tha = d->arp_sha;
		d->arp_tip = d->arp_sip;
		rte_ether_addr_copy(mac, &d->arp_sha);
		d->arp_sip = tip;
		rte_ether_addr_copy(&d->arp_tha, &eth->dst_addr);
		rte_ether_addr_copy(mac, &eth->src_addr);
		dp_worker_tx(w, port, m);
		return;
	case RTE_ARP_OP_REPLY:
		if (!sender_mac_ok(&d->arp_sha)) {
			dp_worker_drop(w, m, DP_DROP_ARP_BAD_SHA);
			return;
		}
		/* the control thread owns the neighbour cache */
		m->port = port;
		if (rte_ring_mp_enqueue(dp->arp_ring, m) != 0)
			dp_worker_drop(w, m, DP_DROP_CTRL_RING_FULL);
		return;
	default:
		dp_worker_drop(w, m, DP_DROP_ARP_BAD);
	}
}

/* Build an ARP frame; NULL when the pool is empty. */
static struct rte_mbuf *
arp_build(struct dp_ctx *dp, uint16_t port, uint16_t op, uint32_t sip,
	  uint32_t tip)
{
	const struct rte_ether_addr *mac = &dp->ports[port]->mac;
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pool);
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *arp;
	/* 60 bytes: the Ethernet minimum without the FCS */
	const uint16_t len = RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN;

	if (m == NULL)
		return NULL;
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, len);
	if (eth == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memset(eth, 0, len);
	memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
	rte_ether_addr_copy(mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	arp = (struct rte_arp_hdr *)(eth + 1);
	arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(op);
	rte_ether_addr_copy(mac, &arp->arp_data.arp_sha);
	arp->arp_data.arp_sip = sip;
	arp->arp_data.arp_tip = tip;
	return m;
}

void
arp_send_request(struct dp_ctx *dp, uint16_t port, uint32_t sip, uint32_t tip)
{
	struct rte_mbuf *m = arp_build(dp, port, RTE_ARP_OP_REQUEST, sip, tip);

	if (m == NULL) {
		dp->ctrl_drops[DP_DROP_TX_FULL]++;
		return;
	}
	port_ctrl_tx(dp, port, m);
}

void
arp_send_garp(struct dp_ctx *dp, uint16_t port, uint32_t ip)
{
	arp_send_request(dp, port, ip, ip);
}

void
arp_svc_addr_cb(void *arg, const struct lb_addr *addr, bool added)
{
	struct dp_ctx *dp = arg;

	if (!added || addr->family != AF_INET)
		return;
	for (unsigned int p = 0; p < dp->nports; p++)
		arp_send_garp(dp, (uint16_t)p, addr->v4);
}
