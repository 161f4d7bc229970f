/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dp.sock control server, run on the control thread (main lcore).
 *
 * One handler per lbmsg type: SERVICE_*, BACKEND_* and LADDR_* go to the
 * service table (svc_ctrl_handle); ROUTE_*, NEIGH_*, PORTADDR_*,
 * PORT_GET, STATS_GET/ZERO and CONFIG_GET/SET are answered here. Every
 * attribute was checked against its policy by lbmsg; handlers check the
 * values (address family, ranges, names) and answer -EINVAL, -ENODEV,
 * -EEXIST, -ENOENT ... with a one-line explanation.
 */
#ifndef EDGELB_DP_CTRL_H
#define EDGELB_DP_CTRL_H

#include "edgelb/lbmsg.h"
#include "dp.h"

/* LB_ATTR_FLAGS of the CONFIG_GET reply. */
#define CTRL_CONFIG_F_RX_HELD LB_CONFIG_F_RX_HELD

/* Listen on dp->conf.socket. 0 or -errno with err set. */
int ctrl_open(struct dp_ctx *dp, char *err, size_t errlen);
void ctrl_close(struct dp_ctx *dp);

/* Serve requests for at most timeout_ms. Returns requests answered or
 * -errno. */
int ctrl_poll(struct dp_ctx *dp, int timeout_ms);

/* The socket server's counters (zeros before ctrl_open). */
void ctrl_server_stats(struct dp_ctx *dp, struct lbmsg_server_stats *st);

#endif
