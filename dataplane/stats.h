/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control-thread side of the dataplane counters (counters.h: what
 * each worker counts per port, per lcore and by drop reason, written by
 * its owner without atomics): it sums them for STATS_GET and zeroes them
 * for STATS_ZERO.
 *
 * Zeroing never writes a worker's counters (that would race with the
 * worker's plain increments): STATS_ZERO records the current sums as a
 * baseline and every later read subtracts it.
 */
#ifndef EDGELB_DP_STATS_H
#define EDGELB_DP_STATS_H

#include <stdint.h>

#include "edgelb/lbmsg.h"
#include "counters.h"

/* The counter name of a drop reason ("unnamed" for one without). */
const char *stats_drop_name(enum dp_drop d);

struct dp_ctx;

/*
 * STATS_GET: parts of kind LB_STATS_PORT (one per port), LB_STATS_LCORE
 * (one per worker), LB_STATS_DROP (one per worker and one for the control
 * thread, each with LB_ATTR_LCORE), then the service table's own parts.
 * srv: the control socket's counters now. 0 or -errno.
 */
struct lbmsg_server_stats;
int stats_dump(struct dp_ctx *dp, struct lbmsg_req *req,
	       const struct lbmsg_server_stats *srv);

/*
 * STATS_ZERO: make every counter read as 0 from now on (see above); srv
 * as for stats_dump.
 */
void stats_zero(struct dp_ctx *dp, const struct lbmsg_server_stats *srv);

/*
 * dp.sock handlers (stats_ctrl.c; req->ctx is the struct dp_ctx):
 * STATS_GET (stats_dump, then the connection tables' parts) and
 * STATS_ZERO. 0 or -errno.
 */
int stats_ctrl_get(struct lbmsg_req *req);
int stats_ctrl_zero(struct lbmsg_req *req);

/* Allocate the baseline storage; 0 or -ENOMEM. */
int stats_init(struct dp_ctx *dp);
void stats_fini(struct dp_ctx *dp);

/* Sum of a drop reason over the workers and the control thread (minus
 * the baseline); for logs and tests. */
uint64_t stats_drop_total(struct dp_ctx *dp, enum dp_drop d);

#endif
