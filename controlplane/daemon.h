/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelbd's life cycle on its one event loop (the main thread): start-up,
 * signals, reload, the dataplane connection timer, /metrics, and the
 * SIGTERM drain. The context is struct lbd (lbd.h); the dataplane's
 * synchronisation is dpsync.h, the control socket ctlsrv.h.
 *
 * SIGTERM (or SIGINT): every module's drain hook is called, then its
 * drained hook is polled every LBD_DRAIN_POLL_MS until all are true or
 * [global] shutdown_grace passed (0: no wait); then the loop ends and
 * lbd_fini stops the modules. The dataplane is told nothing: it keeps
 * forwarding with what it holds. A second signal ends the drain at once.
 */
#ifndef EDGELBD_DAEMON_H
#define EDGELBD_DAEMON_H

#include <stddef.h>

#include "config.h"
#include "lbd.h"

struct lbd_module;

#define LBD_DP_RETRY_MS	  500  /* reconnect / heartbeat period */
#define LBD_DP_TIMEOUT_MS 2000 /* a dp.sock request without a reply */
#define LBD_DRAIN_POLL_MS 100  /* drained() is polled this often */

/*
 * Start everything for cfg (ownership passes to d, also on failure):
 * event base, signals, metrics listener, control socket, health checks,
 * modules, dataplane connection. 0 or -errno (logged).
 */
int lbd_init(struct lbd *d, const char *cfg_path, struct cfg *cfg);

/* The same with another module table (tests; lbd_init: lbd_modules). */
int lbd_init_with(struct lbd *d, const char *cfg_path, struct cfg *cfg,
		  const struct lbd_module *const *mods, size_t nmods);

/* Run the loop until SIGTERM/SIGINT and the drain after it. 0 or -errno. */
int lbd_run(struct lbd *d);
void lbd_fini(struct lbd *d);

/* SIGHUP: load the file again; on success apply only the difference. */
int lbd_reload(struct lbd *d);

#endif
