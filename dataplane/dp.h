/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The edgelb-dp process context and the per-worker context, with what
 * every module gets from the context (dp.c: dp_defer_free) and
 * the dp.sock handlers of the run-time settings (dp_ctrl.c).
 *
 * One struct dp_ctx per process, built by main.c and handed to every
 * module. Workers are numbered 0..nworkers-1 (the index the service table
 * takes); each owns one cache-aligned struct dp_worker in dp->workers[],
 * which nobody else writes while it runs: its TX buffers and counters are
 * plain memory, read (not written) by the control thread for statistics.
 *
 * Tables the control thread writes and workers read are published with
 * RCU, in two grace-period domains:
 *   dp->qsv  port addresses and neighbours (old versions freed with
 *            dp_defer_free()), routes (rte_lpm's RCU and route.c's
 *            tokens) and NAT's reverse map (rte_hash's RCU);
 *   the service table's own QSBR variable (svc.c): service versions,
 *            their hash key positions and slots.
 * A worker reports a quiescent state on both at the same point, once per
 * poll-loop iteration (worker_iterate), so the two grace periods end
 * together. The service table keeps its own variable because it is built
 * and tested as a library without a dataplane context (test_svc creates
 * tables on their own) and reclaims object by object with tokens; the
 * cost is one more store per worker iteration.
 */
#ifndef EDGELB_DP_H
#define EDGELB_DP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>

#include "dpconf.h"
#include "counters.h"
#include "icmp_rl.h"

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

struct fwd;
struct xdp_ctx;
struct ipfrag;

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
	struct stats_icmp icmp_st;
	struct stats_synproxy sp_st; /* synproxy.h */
	struct icmp_rl icmp_rl;	     /* ICMP answer limit (icmp.h) */
	struct stats_frag frag_st;
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
	struct rte_rcu_qsbr *qsv;   /* see the top: not the services */
	struct rte_rcu_qsbr_dq *dq; /* deferred rte_free of old versions */
	struct svc_table *svc;
	struct route_table *route;
	struct neigh_table *neigh;
	struct neigh_pub *neigh_pub; /* published; see neigh.h */
	struct port_addr_set *addrs; /* published; see port.h */
	/* workers -> control thread (multi-producer, single consumer) */
	struct rte_ring *arp_ring;  /* ARP frames to learn neighbours from */
	struct rte_ring *pend_ring; /* packets waiting for a next hop */
	struct fwd *fwd;	    /* forwarding state (fwd.h); NULL before */
	struct dpconf_timeouts tmo; /* for connection tracking */
	uint8_t del_policy;	    /* enum lb_del_policy */
	struct ctrl *ctrl;
	struct xdp_ctx *xdp; /* XDP steering (xdp.h); NULL without af_xdp */
	struct ipfrag *frag; /* reassembly (ipfrag.h); NULL when off */
	uint64_t ctrl_drops[DP_DROP_MAX]; /* control thread's own drops */
	struct stats_base *stats_base;	  /* see stats.c */
};

/*
 * Free p with rte_free() once every worker has passed a quiescent state
 * (control thread only). Falls back to waiting for the grace period when
 * the defer queue is full, so it never leaks.
 */
void dp_defer_free(struct dp_ctx *dp, void *p);

/*
 * dp.sock handlers of the run-time settings (dp_ctrl.c; req->ctx is the
 * struct dp_ctx): CONFIG_SET (timeouts, DEL_POLICY; the first one starts
 * RX when it was held) and CONFIG_GET. 0 or -errno, explained.
 */
struct lbmsg_req;
int dp_ctrl_config_set(struct lbmsg_req *req);
int dp_ctrl_config_get(struct lbmsg_req *req);

#endif
