/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp.sock handlers of the counters: STATS_GET (ports, lcores, drops, the
 * control thread, XDP, services and backends, then the connection
 * tables) and STATS_ZERO (control thread; ctrl.c dispatches to them).
 * The control socket's own counters come from ctrl.c and are handed to
 * stats.c, which does not look at the socket.
 */
#include "conn.h"
#include "ctrl.h"
#include "stats.h"

int
stats_ctrl_get(struct lbmsg_req *req)
{
	struct lbmsg_server_stats srv;
	int rc;

	ctrl_server_stats(req->ctx, &srv);
	rc = stats_dump(req->ctx, req, &srv);
	return rc < 0 ? rc : conn_stats_dump(req->ctx, req);
}

int
stats_ctrl_zero(struct lbmsg_req *req)
{
	struct lbmsg_server_stats srv;

	ctrl_server_stats(req->ctx, &srv);
	stats_zero(req->ctx, &srv);
	return 0;
}
