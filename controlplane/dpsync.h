/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Synchronisation of the dataplane with the desired state, on the
 * daemon's loop and never blocking it.
 *
 * Desired state = the configured services (d->cfg), with each backend's
 * weight multiplied by its health (d->hc): a backend that is DOWN gets
 * weight 0 and LB_BACKEND_F_DOWN, or is left out with on_fail = remove.
 *
 * The applied state is a desired-form copy of every service as last
 * sent to the dataplane, by key. A change of one service (lbctl, a
 * health transition) is diffed against that record alone and only its
 * operations are sent: O(size of the service), no dump. A full
 * reconcile (dump the dataplane's services, diff against the whole
 * desired state, send, record) runs when the dataplane (re)connects,
 * every reconcile_interval, on SIGHUP and SERVICE_FLUSH, and after an
 * operation failed (then the record is dropped and the next tick of the
 * daemon's dataplane timer reconciles once, however many changes came in
 * between).
 *
 * Work is queued as jobs run one at a time, each job's operations
 * pipelined on dp.sock; a job reads the desired state when it starts, so
 * a full reconcile queued after a change covers it (changes queued
 * behind a full one wait for it instead of running again).
 */
#ifndef EDGELBD_DPSYNC_H
#define EDGELBD_DPSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "reconcile.h"

struct lbd;
struct hc;
struct dpsync;

#define DPSYNC_RETRY_FAILED_MS 5000 /* after a failed full reconcile */

/*
 * A job's end: 0; -ENOTCONN (the reconnect reconciles); -EAGAIN (a
 * service change while the applied state is unknown: a full reconcile is
 * scheduled); -ECANCELED (stopping); or the first failed operation.
 */
typedef void (*dpsync_done_fn)(void *arg, int rc);

/* Reads d->cfg, d->hc, d->dpc when jobs run. NULL with errno ENOMEM. */
struct dpsync *dpsync_new(struct lbd *d);
/* Call after dpc_free (which completes the operations in flight). */
void dpsync_free(struct dpsync *s);

/*
 * The desired services of c given the health states in hc (may be NULL:
 * all healthy), for rec_diff. 0 or -ENOMEM; free with rec_svcs_free.
 */
int dpsync_desired(const struct cfg *c, const struct hc *hc,
		   struct rec_svc **out, size_t *n);

/* Queue a full reconcile; done (may be NULL) gets its result. */
void dpsync_reconcile(struct dpsync *s, dpsync_done_fn done, void *arg);

/*
 * Queue the update of the one service with this key (present in the
 * desired state or not): diff its desired form against the applied
 * record, send only those operations. done (may be NULL) gets the result.
 */
void dpsync_service(struct dpsync *s, uint8_t proto, const struct lb_addr *vip,
		    uint16_t vport, dpsync_done_fn done, void *arg);

/* Queued or running jobs do not call back arg any more. */
void dpsync_cancel(struct dpsync *s, void *arg);

/* A full reconcile is due (dirty and not backing off) and none queued. */
bool dpsync_due(const struct dpsync *s);
/* Mark a full reconcile due now (e.g. the dataplane reconnected). */
void dpsync_mark_dirty(struct dpsync *s);
/* No job queued or running. */
bool dpsync_idle(const struct dpsync *s);
/* The applied record is known (a full reconcile succeeded since). */
bool dpsync_applied_ok(const struct dpsync *s);
bool dpsync_dirty(const struct dpsync *s);
/* Monotonic ms before which no due full reconcile runs. */
uint64_t dpsync_retry_at(const struct dpsync *s);

#endif
