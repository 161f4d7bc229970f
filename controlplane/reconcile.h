/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reconciliation: the operations that turn the dataplane's actual
 * services into the desired ones, touching nothing that is already right.
 *
 * rec_diff() is a pure function of two service lists; dpsync.c builds
 * the desired list from the configuration and the health states, the
 * actual one from a SERVICE_GET + LADDR_GET dump (dpclient), and sends the
 * plan's operations in order (pipelined: the dataplane applies them in
 * the order sent). Order of the plan: services to delete first
 * (a VIP freed before another service may take it), then, per desired
 * service in its order: SERVICE_NEW or SERVICE_SET, LADDR_NEW,
 * BACKEND_NEW, BACKEND_SET, BACKEND_DEL, LADDR_DEL, so that a service never
 * passes through a state with fewer backends than both before and after.
 * A change of forwarding mode cannot be made in place: SERVICE_DEL, then
 * SERVICE_NEW and all its children.
 */
#ifndef EDGELBD_RECONCILE_H
#define EDGELBD_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include "edgelb/types.h"

struct rec_backend {
	struct lb_addr addr;
	uint16_t port;
	uint32_t weight;
	uint32_t flags; /* LB_BACKEND_F_* */
	uint32_t u_thresh, l_thresh;
};

struct rec_svc {
	uint8_t proto;
	uint16_t vport;
	struct lb_addr vip;
	char name[LB_NAME_MAX + 1]; /* "" in actual = not reported */
	uint8_t mode;
	char sched[LB_SCHED_NAME_MAX + 1];
	uint32_t persist;
	uint32_t flags;
	uint32_t mh_size; /* desired 0 = whatever the dataplane uses */
	uint32_t max_conns, conn_rate, syn_src_rate; /* 0 = none */
	struct rec_backend *backends;
	uint32_t nbackends;
	struct lb_addr *laddrs;
	uint32_t nladdrs;
	size_t cap_laddrs; /* allocated (dpc_dump_services grows laddrs) */
};

enum rec_op_type {
	REC_SVC_DEL,
	REC_SVC_NEW,
	REC_SVC_SET,
	REC_LADDR_NEW,
	REC_BACKEND_NEW,
	REC_BACKEND_SET,
	REC_BACKEND_DEL,
	REC_LADDR_DEL,
};

/*
 * One operation. svc is the desired service (the actual one for
 * REC_SVC_DEL); be / laddr point into the desired service for NEW/SET and
 * into the actual one for DEL. Valid while both input lists live.
 */
struct rec_op {
	enum rec_op_type type;
	const struct rec_svc *svc;
	const struct rec_backend *be;
	const struct lb_addr *laddr;
};

struct rec_plan {
	struct rec_op *ops;
	size_t n;
	size_t cap;
};

/*
 * Fill plan (empty on entry) with the operations that turn have into
 * want. Returns 0 or -ENOMEM (plan then holds what was built so far;
 * free it with rec_plan_free).
 */
int rec_diff(const struct rec_svc *want, size_t nwant,
	     const struct rec_svc *have, size_t nhave, struct rec_plan *plan);
void rec_plan_free(struct rec_plan *plan);

const char *rec_op_name(enum rec_op_type t); /* "SERVICE_NEW", ... */

/* Free the arrays owned by a list of services built by the daemon. */
void rec_svcs_free(struct rec_svc *v, size_t n);

#endif
