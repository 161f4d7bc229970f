/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker lcores' poll loop and the helpers every packet-path stage
 * uses to send or drop a packet.
 *
 * A worker polls its RX queue of every port in bursts of DP_BURST, parses
 * and classifies each packet, queues what it sends in a per-port TX
 * buffer flushed at the end of the iteration, reports an RCU quiescent
 * state and measures busy/idle TSC cycles. It takes no lock, allocates
 * nothing (beyond mbufs), makes no system call. Worker 0 also transmits
 * what the control thread queued on the ports' control rings.
 */
#ifndef EDGELB_DP_WORKER_H
#define EDGELB_DP_WORKER_H

#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dp.h"
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

/* Queue m for TX on port (our port index). Consumes m. */
static inline void
dp_worker_tx(struct dp_worker *w, uint16_t port, struct rte_mbuf *m)
{
	struct dp_txbuf *tb = &w->tx[port];

	tb->pkts[tb->n++] = m;
	if (tb->n == DP_BURST)
		dp_worker_flush(w, port);
}

/* Count m as dropped for why and free it. */
static inline void
dp_worker_drop(struct dp_worker *w, struct rte_mbuf *m, enum dp_drop why)
{
	w->drops[why]++;
	rte_pktmbuf_free(m);
}

/*
 * The unmap guard. net_memif (DPDK 22.11) unmaps a connection's shared
 * rings from the EAL interrupt thread as soon as its peer leaves, just
 * after clearing the "connected" flag its RX/TX bursts test once on entry;
 * a worker already inside a burst then reads unmapped memory (SIGSEGV).
 * worker.c therefore defines munmap(): while the guard is armed, a call
 * from any thread but a worker first waits for a grace period of v (every
 * online worker reports a quiescent state between bursts), then unmaps.
 * worker_main() arms it when it starts and disarms it when it stops; the
 * last worker out disarms it for good. Exposed for tests.
 */
struct rte_rcu_qsbr;
void dp_unmap_guard_arm(struct rte_rcu_qsbr *v);
void dp_unmap_guard_disarm(void);

/* Set up dp->workers[] (index, lcore) for every worker lcore. 0/-ENOMEM */
int worker_init(struct dp_ctx *dp);
void worker_fini(struct dp_ctx *dp);

/*
 * Handle pkts[0..n) (n <= DP_BURST) received on port as the poll loop
 * does: count, parse, drop what is malformed or not for us, let the
 * forwarding stage look the burst up (fwd_prepare), then ARP, ICMP or
 * forward each packet. Consumes every mbuf: queued in w->tx[] (sent at
 * the next flush), handed to the control thread or another worker, or
 * dropped and counted. Used by worker_iterate(); exposed for tests and the
 * packet-path fuzz target.
 */
void worker_rx_burst(struct dp_worker *w, uint16_t port, struct rte_mbuf **pkts,
		     uint16_t n);

/*
 * One iteration of the poll loop: an RX burst of every port through
 * parse, prepare and the packet path, worker 0's control TX, the
 * forwarding stage's poll, the TX flush and the quiescent states; the
 * cycles since *prev count as busy (packets handled) or idle, and *prev
 * becomes now. Returns the packets handled. worker_main() loops on it;
 * exposed so that a benchmark can drive the real loop body itself.
 */
unsigned int worker_iterate(struct dp_worker *w, uint64_t *prev);

/* rte_eal_remote_launch() entry; arg is the struct dp_worker. */
int worker_main(void *arg);

#endif
