/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dplab: a dataplane context built in process, for the programs that
 * drive the dataplane's stages directly instead of running edgelb-dp
 * (tests/dp/test_fwd, tests/fuzz/fuzz_pkt, tests/bench/bench_own).
 * The caller has initialised the EAL and made an mbuf pool.
 *
 * The pieces:
 *  - dplab_ctx_init(): the context itself (default configuration, the
 *    workers, the RCU variable);
 *  - dplab_addrs(), dplab_svc_table(): the port addresses and an empty
 *    service table sized for a lab;
 *  - dplab_ctrl(), dplab_service(): program the service table with
 *    lbmsg requests, through svc_ctrl_handle() as dp.sock does;
 *  - dplab_pair_up()/dplab_down(): the two-port lab of test_fwd and
 *    fuzz_pkt, on fake ports (no ethdev: what the workers send stays in
 *    their TX buffers):
 *      port 0  10.0.0.1/24, clients behind the router 10.0.0.254
 *              (route 203.0.113.0/24 via it)
 *      port 1  10.1.0.1/24, backends 10.1.0.10 and 10.1.0.11
 *    with the neighbour entries of the router and both backends.
 *
 * int functions return 0 or a negative errno. A request that the caller
 * built and that lbmsg_parse() refuses is a bug in the caller: dplab_ctrl
 * aborts on it.
 */
#ifndef EDGELB_TESTS_DPLAB_H
#define EDGELB_TESTS_DPLAB_H

#include <stddef.h>
#include <stdint.h>

#include <rte_byteorder.h>

#include "edgelb/lbmsg.h"
#include "dp.h"
#include "fwd.h"
#include "port.h"

/* a.b.c.d in network order */
#define DPLAB_IP(a, b, c, d)                                                   \
	RTE_BE32((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

/* The MACs of the two-port lab. */
extern const uint8_t dplab_mac_port[2][6];
extern const uint8_t dplab_mac_router[6]; /* 10.0.0.254 */
extern const uint8_t dplab_mac_b10[6];	  /* 10.1.0.10 */
extern const uint8_t dplab_mac_b11[6];	  /* 10.1.0.11 */

/*
 * Zero dp, give it the default configuration, nworkers workers (index
 * and back pointer set, nothing else) and an RCU variable for them;
 * mbufs the dataplane makes come from pool. -ENOMEM.
 */
int dplab_ctx_init(struct dp_ctx *dp, unsigned int nworkers,
		   struct rte_mempool *pool);

/* Publish the addresses a[0..n) as dp's port addresses. -ENOMEM. */
int dplab_addrs(struct dp_ctx *dp, const struct port_addr *a, unsigned int n);

/* An empty service table for dp's workers: 64 services, 256 backends,
 * max_laddrs local addresses. -ENOMEM. */
int dplab_svc_table(struct dp_ctx *dp, uint32_t max_laddrs);

/*
 * Hand the request m (built with lbmsg_new; freed here, NULL counts as
 * -ENOMEM) to t. Returns what svc_ctrl_handle() returns, its message
 * copied to why[0..whylen) ("" when it gave none).
 */
int dplab_ctrl(struct svc_table *t, struct nl_msg *m, char *why, size_t whylen);

struct dplab_backend {
	uint32_t addr; /* network order */
	uint16_t port;
	uint32_t weight;
};

struct dplab_svc {
	uint8_t proto;
	uint32_t vip; /* network order */
	uint16_t vport;
	uint8_t mode;
	const char *sched;
	uint32_t flags;
	uint32_t persist; /* 0: not sent */
	uint32_t mh_size; /* 0: not sent */
	const struct dplab_backend *b;
	unsigned int nb;
	uint32_t laddr;	     /* network order; 0: none */
	unsigned int nladdr; /* laddr and the nladdr - 1 addresses after */
};

/*
 * SERVICE_NEW for d with its backends, then LADDR_NEW for each local
 * address. Stops at the first refused request: its errno, its message in
 * why as dplab_ctrl() says.
 */
int dplab_service(struct svc_table *t, const struct dplab_svc *d, char *why,
		  size_t whylen);

/*
 * An RSS set-up for the two-port lab: TCP and UDP ports hashed, the
 * common default Toeplitz key (40 bytes), 128 table entries that go to
 * worker 0 and 1 by threes. For fwd_rss_set(); a check recomputes the
 * hash from r->key.
 */
void dplab_rss_conf(struct fwd_rss *r);

/*
 * The two-port lab (see above) in dp, on ports[0..1], two workers, no
 * service table yet, no forwarding stage; mbufs from pool. -ENOMEM, or
 * what a table refused.
 */
int dplab_pair_up(struct dp_ctx *dp, struct dp_port ports[2],
		  struct rte_mempool *pool);

/* Free what dp holds: the forwarding stage, service, neighbour and route
 * tables, the rings, addresses, RCU variable and workers (not the pool,
 * not what the workers left in their TX buffers). */
void dplab_down(struct dp_ctx *dp);

#endif
