/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4 routing table: connected routes (one per port address subnet) and
 * static routes (INI `route =`, ROUTE_NEW), looked up with rte_lpm.
 *
 * The control thread writes; workers look up lock-free. rte_lpm is told
 * about the dataplane's RCU variable so that tbl8 groups are reused only
 * after a grace period, and each route's next hop is one 64-bit word that
 * workers read atomically; a deleted route's slot is reused only after a
 * grace period too, so a worker never sees a next hop change under it.
 */
#ifndef EDGELB_DP_ROUTE_H
#define EDGELB_DP_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_lpm.h>

#include "edgelb/lbmsg.h"

/* LB_ATTR_FLAGS of ROUTE_GET parts. */
#define ROUTE_F_CONNECTED LB_ROUTE_F_CONNECTED

/* A published next-hop word: valid bit, port index << 32, gateway. */
#define ROUTE_NH_VALID (1ull << 63)

struct rte_rcu_qsbr;

struct route_table {
	struct rte_lpm *lpm;
	uint64_t *nh; /* [max] published next hops, see route_nh_word() */
	struct route_entry *e; /* [max] control-thread view */
	struct rte_rcu_qsbr *qsv;
	uint32_t max;
	uint32_t count;
};

/* What a route says, as walked for a dump. */
struct route_info {
	uint32_t dst; /* network order */
	uint8_t plen;
	uint32_t gw; /* network order, 0 = on-link */
	uint16_t port;
	uint16_t flags; /* ROUTE_F_* */
};

/* NULL with errno (EINVAL, ENOMEM). qsv: the workers' RCU variable. */
struct route_table *route_create(uint32_t max, struct rte_rcu_qsbr *qsv,
				 int socket);
void route_destroy(struct route_table *rt);

/*
 * Add a static route; gw 0 means the destination is on-link on port.
 * Errors: -EINVAL (plen > 32 or host bits set), -EEXIST (same prefix),
 * -ENOSPC (table full), or rte_lpm's error.
 */
int route_add(struct route_table *rt, uint32_t dst, uint8_t plen, uint32_t gw,
	      uint16_t port);

/* Delete a static route: 0, -ENOENT, -EPERM (it is a connected route). */
int route_del(struct route_table *rt, uint32_t dst, uint8_t plen);

/* Connected routes, managed by the port addresses (port.c). */
int route_connected_add(struct route_table *rt, uint32_t dst, uint8_t plen,
			uint16_t port);
int route_connected_del(struct route_table *rt, uint32_t dst, uint8_t plen);

/* Call fn for every route; stops at and returns fn's first non-zero. */
int route_walk(const struct route_table *rt,
	       int (*fn)(void *arg, const struct route_info *ri), void *arg);

/* Exact-match find (control thread): 0 and *ri, or -ENOENT. */
int route_get(const struct route_table *rt, uint32_t dst, uint8_t plen,
	      struct route_info *ri);

/* ---- lookup (workers and control thread) ------------------------------- */

/*
 * Longest match for dst: 0 with the output port and the next hop to
 * resolve (the gateway, or dst itself when on-link), or -ENOENT.
 */
static inline int
route_lookup(const struct route_table *rt, uint32_t dst, uint16_t *port,
	     uint32_t *nexthop)
{
	uint32_t idx;
	uint64_t w;

	if (rte_lpm_lookup(rt->lpm, rte_be_to_cpu_32(dst), &idx) != 0)
		return -ENOENT;
	w = __atomic_load_n(&rt->nh[idx], __ATOMIC_ACQUIRE);
	if ((w & ROUTE_NH_VALID) == 0)
		return -ENOENT;
	*port = (uint16_t)(w >> 32);
	*nexthop = (uint32_t)w != 0 ? (uint32_t)w : dst;
	return 0;
}

/*
 * dp.sock handlers (route_ctrl.c; req->ctx is the struct dp_ctx):
 * ROUTE_NEW, ROUTE_DEL, the ROUTE_GET dump. 0 or -errno, explained.
 */
int route_ctrl_new(struct lbmsg_req *req);
int route_ctrl_del(struct lbmsg_req *req);
int route_ctrl_get(struct lbmsg_req *req);

#endif
