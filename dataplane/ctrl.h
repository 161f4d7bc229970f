/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dp.sock control server, run on the control thread (main lcore).
 *
 * ctrl.c dispatches each lbmsg type to a handler that lives beside its
 * table: SERVICE_*, BACKEND_*, LADDR_* to svc_ctrl.c, ROUTE_* to
 * route_ctrl.c, NEIGH_* to neigh_ctrl.c, PORTADDR_* and PORT_GET to
 * port_ctrl.c, STATS_GET/ZERO to stats_ctrl.c, CONN_GET to conn_ctrl.c,
 * CONFIG_SET/GET to dp_ctrl.c. Every attribute was checked against its
 * policy by lbmsg; handlers check the values (address family, ranges,
 * names) and answer -EINVAL, -ENODEV, -EEXIST, -ENOENT ... with a
 * one-line explanation. A dump that cannot be sent at once (CONN_GET) is
 * handed back here and stepped by ctrl_poll() between requests.
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

/* ---- for the handlers ---------------------------------------------------- */

/* Dumps in progress at once (more: EBUSY). */
#define CTRL_DUMPS_MAX 8

struct conn_dump;

/* Room for one more deferred dump? */
bool ctrl_can_defer(const struct dp_ctx *dp);

/*
 * Take d over (its handler returns LBMSG_DEFERRED): ctrl_poll() steps it
 * until it ends, then frees it. Only after ctrl_can_defer() said yes.
 */
void ctrl_defer(struct dp_ctx *dp, struct conn_dump *d);

/* An IPv4 address attribute: 0 or -EINVAL (explained). */
int ctrl_get_v4(struct lbmsg_req *req, int attr, uint32_t *out);

/* Put an IPv4 address attribute. 0 or -EMSGSIZE/-EINVAL. */
int ctrl_put_v4(struct nl_msg *msg, int attr, uint32_t v4);

/* Port index named by LB_ATTR_IFNAME: >= 0 or -ENODEV (explained). */
int ctrl_get_port(struct lbmsg_req *req);

/* LB_ATTR_PREFIXLEN, at most 32: 0 or -EINVAL (explained). */
int ctrl_get_plen(struct lbmsg_req *req, uint8_t *plen);

#endif
