/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sending and dropping on a worker: the primitives every packet-path
 * stage (ARP, ICMP, neighbours, forwarding modes, the poll loop) uses.
 *
 * Each worker queues what it sends in a per-port TX buffer
 * (dp_worker_tx), flushed when full and at the end of its poll-loop
 * iteration (dp_worker_flush), and counts what it drops by reason
 * (dp_worker_drop). Worker-only: the buffers and counters are the
 * calling worker's own, written without atomics.
 */
#ifndef EDGELB_DP_TX_H
#define EDGELB_DP_TX_H

#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dp.h"
#include "ipfrag.h"
#include "pkt.h"
#include "port.h"

/* Tag the buffered packets of a VLAN port; drop (counted) what fails. */
static inline void
dp_worker_tag(struct dp_worker *w, uint16_t port)
{
	struct dp_txbuf *tb = &w->tx[port];
	uint16_t vid = w->dp->ports[port]->vlan, kept = 0;

	for (uint16_t i = 0; i < tb->n; i++) {
		enum dp_drop why = pkt_vlan_tx(tb->pkts[i], vid);

		if (why != DP_PASS) {
			w->drops[why]++;
			rte_pktmbuf_free(tb->pkts[i]);
			continue;
		}
		tb->pkts[kept++] = tb->pkts[i];
	}
	tb->n = kept;
}

/* Send the buffered packets of port now; count what the queue refused. */
static inline void
dp_worker_flush(struct dp_worker *w, uint16_t port)
{
	struct dp_txbuf *tb = &w->tx[port];
	struct stats_port *st = &w->port_st[port];
	uint64_t bytes = 0;
	uint16_t sent;

	if (tb->n == 0)
		return;
	if (w->dp->ports[port]->vlan != 0)
		dp_worker_tag(w, port);
	for (uint16_t i = 0; i < tb->n; i++)
		bytes += rte_pktmbuf_pkt_len(tb->pkts[i]);
	sent = rte_eth_tx_burst(w->dp->ports[port]->id, (uint16_t)w->index,
				tb->pkts, tb->n);
	for (uint16_t i = sent; i < tb->n; i++) {
		bytes -= rte_pktmbuf_pkt_len(tb->pkts[i]);
		rte_pktmbuf_free(tb->pkts[i]);
	}
	st->tx_packets += sent;
	st->tx_bytes += bytes;
	st->tx_dropped += (uint64_t)(tb->n - sent);
	w->drops[DP_DROP_TX_FULL] += (uint64_t)(tb->n - sent);
	tb->n = 0;
}

/* Queue the one-segment frame m, that fits port's MTU, for TX on port. */
static inline void
dp_worker_txq(struct dp_worker *w, uint16_t port, struct rte_mbuf *m)
{
	struct dp_txbuf *tb = &w->tx[port];

	tb->pkts[tb->n++] = m;
	if (tb->n == DP_BURST)
		dp_worker_flush(w, port);
}

/* dp_worker_tx's slow path, out of line: its array stays off the
 * stack of the common case. */
static __rte_noinline void
dp_worker_tx_split(struct dp_worker *w, uint16_t port, struct rte_mbuf *m)
{
	struct rte_mbuf *out[IPFRAG_OUT_MAX];
	unsigned int n = ipfrag_split(w, m, w->dp->ports[port]->mtu, out);

	for (unsigned int i = 0; i < n; i++)
		dp_worker_txq(w, port, out[i]);
}

/*
 * Queue m for TX on port (our port index). Consumes m. An mbuf chain (a
 * reassembled datagram) or a datagram over the port's MTU goes through
 * ipfrag_split() first: one segment again, or fragments (ipfrag.h).
 */
static inline void
dp_worker_tx(struct dp_worker *w, uint16_t port, struct rte_mbuf *m)
{
	uint32_t max = (uint32_t)w->dp->ports[port]->mtu + RTE_ETHER_HDR_LEN;

	if (likely(m->nb_segs == 1 && rte_pktmbuf_pkt_len(m) <= max)) {
		dp_worker_txq(w, port, m);
		return;
	}
	dp_worker_tx_split(w, port, m);
}

/* Count m as dropped for why and free it. */
static inline void
dp_worker_drop(struct dp_worker *w, struct rte_mbuf *m, enum dp_drop why)
{
	w->drops[why]++;
	rte_pktmbuf_free(m);
}

#endif
