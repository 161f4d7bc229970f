/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelbd's context and its life cycle: one struct lbd, passed first to
 * every call, holds the event loop, the current configuration (the desired
 * state), the metrics registry, the health checker, the dataplane client,
 * the control socket and the state of every module of modules.h. No other
 * mutable state exists in the daemon.
 *
 * Desired state = the configured services, with each backend's weight
 * multiplied by its health (a backend that is DOWN gets weight 0 and
 * LB_BACKEND_F_DOWN, or is left out with on_fail = remove).
 *
 * The daemon records what it last applied to the dataplane (the applied
 * state: a desired-form copy of every service, by key). A change of one
 * service (lbctl, a health transition) is diffed against that record
 * alone and only its operations are sent: O(size of the service), no
 * dump. A full reconcile (dump the dataplane's services, diff against the
 * whole desired state, apply, record) runs when the dataplane
 * (re)connects, every reconcile_interval, on SIGHUP and SERVICE_FLUSH, and
 * after an operation failed (then the record is dropped and the next
 * tick of the dataplane timer reconciles once, however many changes came
 * in between).
 */
#ifndef EDGELBD_DAEMON_H
#define EDGELBD_DAEMON_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "reconcile.h"

struct event;
struct event_base;
struct http_server;
struct hc;
struct dpc;
struct ctlsrv;
struct metrics;
struct metrics_series;
struct svcmap;

#define LBD_DP_RETRY_MS	    500	 /* reconnect / heartbeat period */
#define LBD_DP_TIMEOUT_MS   2000 /* one dp.sock request */
#define LBD_RETRY_FAILED_MS 5000 /* after a failed reconcile */

struct lbd {
	struct event_base *base;
	char cfg_path[PATH_MAX];
	struct cfg *cfg;
	struct metrics *metrics;
	struct hc *hc;
	struct dpc *dpc;
	struct ctlsrv *ctl;
	struct http_server *metrics_http;
	struct event *sig_hup;
	struct event *sig_term;
	struct event *sig_int;
	struct event *dp_timer;
	struct event *rec_timer;
	void *mod_state[CFG_MAX_MODULES];
	bool dirty;		/* a full reconcile is due */
	uint64_t retry_at;	/* ms: no full reconcile before */
	struct svcmap *applied; /* key -> struct rec_svc *: on the dataplane */
	bool applied_ok; /* false: applied unknown, wait for a full one */
	struct {
		struct metrics_series *reload_ok, *reload_err;
		struct metrics_series *rec_ok, *rec_err;
		struct metrics_series *dp_connected, *dp_connects;
		struct metrics_series *services, *backends;
		struct metrics_series *rec_duration;
	} m;
	struct metrics_family *rec_ops;
};

/*
 * Start everything for cfg (ownership passes to d, also on failure):
 * event base, signals, metrics listener, control socket, health checks,
 * modules, dataplane connection. 0 or -errno (logged).
 */
int lbd_init(struct lbd *d, const char *cfg_path, struct cfg *cfg);

/* Run the loop until SIGTERM/SIGINT. 0 or -errno. */
int lbd_run(struct lbd *d);
void lbd_fini(struct lbd *d);

/* SIGHUP: load the file again; on success apply only the difference. */
int lbd_reload(struct lbd *d);

/*
 * The desired services of c given the health states in hc (may be NULL:
 * all healthy), for rec_diff. 0 or -ENOMEM; free with rec_svcs_free.
 */
int lbd_desired(const struct cfg *c, const struct hc *hc, struct rec_svc **out,
		size_t *n);

/*
 * Full reconcile: dump, diff, apply, record the applied state. 0,
 * -ENOTCONN, or the first failure (then retried after
 * LBD_RETRY_FAILED_MS).
 */
int lbd_reconcile(struct lbd *d);

/*
 * Bring the dataplane's copy of the one service with this key (present
 * in the desired state or not) up to date: diff its desired form against
 * the applied record and send only those operations. 0; -ENOTCONN (the
 * reconnect reconciles); -EAGAIN when the applied state is unknown (a
 * full reconcile is scheduled); or the first failed operation (the
 * record is dropped and a full reconcile scheduled).
 */
int lbd_apply_service(struct lbd *d, uint8_t proto, const struct lb_addr *vip,
		      uint16_t vport);

/*
 * The desired state was edited (lbctl): re-sync health targets (when any
 * check exists), persist the state file when configured, then apply the
 * service with key (*proto, vip, vport), or reconcile fully when proto is
 * NULL (many services changed). Returns that result; the edit itself
 * stays either way.
 */
int lbd_changed(struct lbd *d, const uint8_t *proto, const struct lb_addr *vip,
		uint16_t vport);

/* Write the state file now. 0, -ENOENT (none configured) or -errno. */
int lbd_save_state(struct lbd *d);

#endif
