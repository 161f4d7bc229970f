/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker lcores' poll loop. The helpers every packet-path stage uses
 * to send or drop a packet are in dp_tx.h.
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

#include <rte_mbuf.h>

#include "dp.h"

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
 * Classify and forward the whole datagrams other workers reassembled for
 * w's flows (ipfrag_handoff()), at most DP_BURST; returns how many.
 * Called by worker_iterate(); exposed for tests.
 */
unsigned int worker_frag_input(struct dp_worker *w);

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
