/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The edgelb-dp process context and the per-worker context.
 *
 * One struct dp_ctx per process, built by main.c and handed to every
 * module. Workers are numbered 0..nworkers-1 (the index the service table
 * takes); each owns one cache-aligned struct dp_worker in dp->workers[],
 * which nobody else writes while it runs: its TX buffers and counters are
 * plain memory, read (not written) by the control thread for statistics.
 *
 * Tables the control thread writes and workers read (port addresses,
 * neighbours, routes, services) are published with RCU: the workers
 * report a quiescent state on dp->qsv once per poll iteration, and
 * dp_defer_free() releases an old version after a grace period.
 */
#ifndef EDGELB_DP_H
#define EDGELB_DP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>

#include "dpconf.h"
#include "stats.h"

#define DP_MAX_PORTS   DPCONF_MAX_PORTS
#define DP_MAX_WORKERS 64
#define DP_BURST       32

struct pkt_info;
struct svc;
struct dp_worker;
struct dp_port;
struct svc_table;
struct route_table;
struct neigh_table;
struct neigh_pub;
struct port_addr_set;
struct stats_base;
struct ctrl;
struct rte_rcu_qsbr;
struct rte_rcu_qsbr_dq;
struct rte_ring;

/*
 * The forwarding stage: called by a worker for a TCP/UDP packet to a VIP
 * for which svc_lookup() found s (valid until the worker's next quiescent
 * state). It owns m from then on: it sends it (dp_worker_tx) or drops it
 * (dp_worker_drop). pi describes m as parsed; port is the port index m
 * arrived on. Connection tracking installs its own function in
 * dp->forward before the workers start; dp_forward_unimplemented (the
 * default) counts DP_DROP_FWD_UNIMPLEMENTED and drops.
 */
typedef void (*dp_forward_fn)(struct dp_worker *w, struct rte_mbuf *m,
			      uint16_t port, const struct pkt_info *pi,
			      const struct svc *s);

void dp_forward_unimplemented(struct dp_worker *w, struct rte_mbuf *m,
			      uint16_t port, const struct pkt_info *pi,
			      const struct svc *s);

/*
 * The reply path (installed by fwd_init, NULL before): offered a packet
 * classify would otherwise drop or answer itself (not to a VIP, to a VIP
 * or local address without a service, ICMP to a VIP). Returns true when
 * it took m (sent, handed to another worker or dropped and counted).
 */
typedef bool (*dp_reverse_fn)(struct dp_worker *w, struct rte_mbuf *m,
			      uint16_t port, const struct pkt_info *pi);

/*
 * Called by a worker with each receive burst once it is parsed (pi[0..n),
 * every packet well formed and addressed to us), before any packet of it
 * is handled: the forwarding stage's chance to look the burst up at once
 * and leave PKT_F_HINT results in pi. NULL when there is no forwarding
 * stage.
 */
typedef void (*dp_prepare_fn)(struct dp_worker *w, struct pkt_info *pi,
			      uint16_t n);

/* Per-iteration work of the forwarding stage (NULL when none). */
typedef void (*dp_poll_fn)(struct dp_worker *w);

struct fwd;
struct xdp_ctx;

struct dp_txbuf {
	uint16_t n;
	struct rte_mbuf *pkts[DP_BURST];
};

struct dp_worker {
	struct dp_ctx *dp;
	unsigned int index; /* 0..nworkers-1: RX/TX queue id on every port */
	unsigned int lcore;
	struct dp_txbuf tx[DP_MAX_PORTS];
	/* counters: written by this worker only */
	struct stats_port port_st[DP_MAX_PORTS];
	struct stats_lcore lcore_st;
	uint64_t drops[DP_DROP_MAX];
} __rte_cache_aligned;

struct dp_ctx {
	struct dpconf conf;
	const char *conf_path;
	volatile int quit;	 /* set by the signal handler */
	volatile int rx_enabled; /* 0 while held by wait_config */
	unsigned int main_lcore;
	unsigned int nworkers;
	struct dp_worker *workers; /* [nworkers], cache-aligned */
	unsigned int nports;
	struct dp_port *ports[DP_MAX_PORTS];
	struct rte_mempool *pool;
	struct rte_rcu_qsbr *qsv;
	struct rte_rcu_qsbr_dq *dq; /* deferred rte_free of old versions */
	struct svc_table *svc;
	struct route_table *route;
	struct neigh_table *neigh;
	struct neigh_pub *neigh_pub; /* published; see neigh.h */
	struct port_addr_set *addrs; /* published; see port.h */
	/* workers -> control thread (multi-producer, single consumer) */
	struct rte_ring *arp_ring;  /* ARP frames to learn neighbours from */
	struct rte_ring *pend_ring; /* packets waiting for a next hop */
	dp_forward_fn forward;
	dp_reverse_fn reverse;
	dp_prepare_fn prepare;
	dp_poll_fn poll;
	struct fwd *fwd;	    /* forwarding state (fwd.h) */
	struct dpconf_timeouts tmo; /* for connection tracking */
	uint8_t del_policy;	    /* enum lb_del_policy */
	struct ctrl *ctrl;
	struct xdp_ctx *xdp; /* XDP steering (xdp.h); NULL without af_xdp */
	uint64_t ctrl_drops[DP_DROP_MAX]; /* control thread's own drops */
	struct stats_base *stats_base;	  /* see stats.c */
};

/*
 * Free p with rte_free() once every worker has passed a quiescent state
 * (control thread only). Falls back to waiting for the grace period when
 * the defer queue is full, so it never leaks.
 */
void dp_defer_free(struct dp_ctx *dp, void *p);

/* Current time in milliseconds (monotonic); control thread. */
uint64_t dp_now_ms(void);

#endif
