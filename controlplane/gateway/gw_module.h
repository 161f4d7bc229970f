/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The API gateway as an edgelbd module (docs/gateway.md, "Running it in
 * edgelbd"): the [gateway] section (listeners, certificates, workers,
 * HTTP limits, access log), the [route NAME] and [upstream NAME]
 * sections (gw_conf_key, plus `stage =` on a route and `service =` on
 * an upstream), and the life cycle of what serves them.
 *
 * Stages: every listener serves one stage (`listen = ... stage=NAME`,
 * default prod); each stage has its own route table (one gw_router) and
 * proxy. A [route] serves every stage unless `stage = A,B` names some.
 *
 * An upstream with `service = NAME` takes the INI service's backends as
 * its instances (backend weight 0: an instance kept out of rotation) and
 * their health from edgelbd's checks through the view (view.h): a timer
 * on the main loop follows the view, sets gw_upstream_set_healthy on
 * every live table and rebuilds when the backends themselves changed.
 *
 * Partitions ([partition NAME], docs/gateway.md "Partitions"): a route
 * with `partition = NAME` is served only by that partition's listeners,
 * on its own worker threads, under its own limits: client connections
 * (a count shared by its threads, http_conn_share), requests in flight
 * (over it: 503 with Retry-After, counted per partition) and upstream
 * connections (its own upstream clients). Routes without it, and the
 * API store's, belong to the default partition: [gateway]'s listeners
 * and workers. Each (stage, partition) pair has its own route table.
 *
 * SIGHUP (apply): every stage's table is built aside from the new
 * configuration and published only when all built (gw_router_publish:
 * requests in flight keep the table they matched in); listeners are
 * replaced only when [gateway]'s listeners, certificates, limits or
 * workers changed (or a partition's listeners, workers, max_conns or
 * max_upstream_conns), the old ones then drained (not cut) and freed when
 * idle. On any failure nothing changes and the error is logged. The
 * access log file is reopened (logrotate). SIGTERM: drain.
 */
#ifndef EDGELBD_GW_MODULE_H
#define EDGELBD_GW_MODULE_H

#include <stddef.h>

#include "modules.h"

extern const struct cfg_module_ops gw_cfg_ops;	     /* [gateway] */
extern const struct cfg_module_ops gw_route_cfg_ops; /* [route NAME] */
extern const struct cfg_module_ops gw_ups_cfg_ops;   /* [upstream NAME] */
extern const struct cfg_module_ops gw_part_cfg_ops;  /* [partition NAME] */

extern const struct lbd_module gw_module; /* [gateway] + [route]/[upstream] */
extern const struct lbd_module gw_route_module;	    /* the sections only */
extern const struct lbd_module gw_upstream_module;  /* the sections only */
extern const struct lbd_module gw_partition_module; /* the sections only */

struct gw_mod; /* the module's runtime state */

/*
 * Rebuild every stage's route table from the loaded config's [route] and
 * [upstream] sections (plus the API store's routes of that stage, see
 * the "API store" marks in gw_module.c), and publish each stage
 * atomically (gw_router_publish). On failure nothing changes and err
 * says why. Main loop only. 0 or -errno (EINVAL: a bad route table,
 * ENOMEM).
 */
int gw_mod_rebuild(struct gw_mod *m, char *err, size_t errlen);

#endif
