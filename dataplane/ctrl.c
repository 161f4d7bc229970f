/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dp.sock server: the table of {message type -> handler}, the helpers
 * handlers share, and the deferred dumps it steps between requests. The
 * handlers live beside their tables (*_ctrl.c). See ctrl.h.
 */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "edgelb/log.h"
#include "conn.h"
#include "ctrl.h"
#include "neigh.h"
#include "port.h"
#include "route.h"
#include "stats.h"
#include "svc.h"
#include "edgelb/util.h"

struct ctrl {
	struct lbmsg_server *srv;
	struct conn_dump *dumps[CTRL_DUMPS_MAX];
	unsigned int ndumps;
	uint64_t dumps_failed; /* dropped: client gone or stalled */
};

/* ---- helpers ------------------------------------------------------------ */

/* An IPv4 address attribute: 0 or -EINVAL (explained). */
int
ctrl_get_v4(struct lbmsg_req *req, int attr, uint32_t *out)
{
	struct lb_addr a;

	if (lbmsg_get_addr(req->tb[attr], &a) < 0 || a.family != AF_INET)
		return lbmsg_req_errf(req, -EINVAL, "%s: IPv4 address expected",
				      lbmsg_attr_name(attr));
	*out = a.v4;
	return 0;
}

int
ctrl_put_v4(struct nl_msg *msg, int attr, uint32_t v4)
{
	struct lb_addr a = { .family = AF_INET, .v4 = v4 };

	return lbmsg_put_addr(msg, attr, &a);
}

/* Port index named by LB_ATTR_IFNAME: >= 0 or -ENODEV (explained). */
int
ctrl_get_port(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	const char *name = nla_get_string(req->tb[LB_ATTR_IFNAME]);
	int p = port_find(dp, name);

	if (p < 0)
		return lbmsg_req_errf(req, -ENODEV, "no port '%s'", name);
	return p;
}

int
ctrl_get_plen(struct lbmsg_req *req, uint8_t *plen)
{
	*plen = nla_get_u8(req->tb[LB_ATTR_PREFIXLEN]);
	if (*plen > 32)
		return lbmsg_req_errf(req, -EINVAL,
				      "prefix length %u is above 32", *plen);
	return 0;
}

/* ---- dispatch ---------------------------------------------------------- */

/* The service table's handler takes the table (tests hand it their own). */
static int
h_svc(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;

	return svc_ctrl_handle(dp->svc, req);
}

static const lbmsg_handler_fn handlers[LB_MSG_MAX + 1] = {
	[LB_MSG_SERVICE_NEW] = h_svc,
	[LB_MSG_SERVICE_DEL] = h_svc,
	[LB_MSG_SERVICE_SET] = h_svc,
	[LB_MSG_SERVICE_GET] = h_svc,
	[LB_MSG_SERVICE_FLUSH] = h_svc,
	[LB_MSG_BACKEND_NEW] = h_svc,
	[LB_MSG_BACKEND_DEL] = h_svc,
	[LB_MSG_BACKEND_SET] = h_svc,
	[LB_MSG_BACKEND_GET] = h_svc,
	[LB_MSG_LADDR_NEW] = h_svc,
	[LB_MSG_LADDR_DEL] = h_svc,
	[LB_MSG_LADDR_GET] = h_svc,
	[LB_MSG_ROUTE_NEW] = route_ctrl_new,
	[LB_MSG_ROUTE_DEL] = route_ctrl_del,
	[LB_MSG_ROUTE_GET] = route_ctrl_get,
	[LB_MSG_NEIGH_NEW] = neigh_ctrl_new,
	[LB_MSG_NEIGH_DEL] = neigh_ctrl_del,
	[LB_MSG_NEIGH_GET] = neigh_ctrl_get,
	[LB_MSG_PORTADDR_NEW] = port_ctrl_addr_new,
	[LB_MSG_PORTADDR_DEL] = port_ctrl_addr_del,
	[LB_MSG_PORTADDR_GET] = port_ctrl_addr_get,
	[LB_MSG_PORT_GET] = port_ctrl_get,
	[LB_MSG_STATS_GET] = stats_ctrl_get,
	[LB_MSG_STATS_ZERO] = stats_ctrl_zero,
	[LB_MSG_CONFIG_SET] = dp_ctrl_config_set,
	[LB_MSG_CONFIG_GET] = dp_ctrl_config_get,
	[LB_MSG_CONN_GET] = conn_ctrl_get,
	/* HEALTH_GET, SAVE: edgelbd only */
};

/* ---- server ------------------------------------------------------------- */

int
ctrl_open(struct dp_ctx *dp, char *err, size_t errlen)
{
	const char *path = dp->conf.socket;
	char dir[sizeof(dp->conf.socket)];
	unsigned int mode = 0600;
	int gid = -1;
	char *slash;

	if (dp->conf.socket_group[0] != '\0') {
		struct group *g = getgrnam(dp->conf.socket_group);

		if (g == NULL) {
			snprintf(err, errlen,
				 "socket_group '%s': no such group",
				 dp->conf.socket_group);
			return -ENOENT;
		}
		gid = (int)g->gr_gid;
		mode = 0660;
	}
	/* /run/edgelb may not exist yet on a fresh boot */
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			return -errno;
		}
	}
	dp->ctrl = calloc(1, sizeof(*dp->ctrl));
	if (dp->ctrl == NULL)
		return -ENOMEM;
	dp->ctrl->srv = lbmsg_server_open(path, mode, gid, handlers, dp);
	if (dp->ctrl->srv == NULL) {
		int rc = -errno;

		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(dp->ctrl);
		dp->ctrl = NULL;
		return rc;
	}
	return 0;
}

void
ctrl_close(struct dp_ctx *dp)
{
	if (dp->ctrl == NULL)
		return;
	for (unsigned int i = 0; i < dp->ctrl->ndumps; i++)
		conn_dump_free(dp->ctrl->dumps[i]);
	lbmsg_server_close(dp->ctrl->srv);
	free(dp->ctrl);
	dp->ctrl = NULL;
}

bool
ctrl_can_defer(const struct dp_ctx *dp)
{
	return dp->ctrl->ndumps < CTRL_DUMPS_MAX;
}

void
ctrl_defer(struct dp_ctx *dp, struct conn_dump *d)
{
	dp->ctrl->dumps[dp->ctrl->ndumps++] = d;
}

/* Advance every dump by one bounded step. True if one could go on. */
static bool
dumps_step(struct dp_ctx *dp)
{
	struct ctrl *c = dp->ctrl;
	uint64_t now = lb_now_ms();
	bool busy = false;
	unsigned int i = 0;

	while (i < c->ndumps) {
		int rc = conn_dump_step(dp, c->dumps[i], now);

		if (rc == CONN_DUMP_MORE || rc == CONN_DUMP_BLOCKED) {
			busy |= rc == CONN_DUMP_MORE;
			i++;
			continue;
		}
		if (rc == CONN_DUMP_FAILED) {
			c->dumps_failed++;
			LB_WARN("dp.sock: a connection dump was dropped "
				"(client gone or not reading)");
		}
		conn_dump_free(c->dumps[i]);
		c->dumps[i] = c->dumps[--c->ndumps];
	}
	return busy;
}

int
ctrl_poll(struct dp_ctx *dp, int timeout_ms)
{
	struct ctrl *c = dp->ctrl;
	int rc;

	/* a dump with more to send must not wait for a request; one that
	 * waits for its reader is looked at again soon */
	if (c->ndumps > 0)
		timeout_ms = dumps_step(dp) ? 0 : RTE_MIN(timeout_ms, 1);
	rc = lbmsg_server_poll(c->srv, timeout_ms);
	if (c->ndumps > 0)
		dumps_step(dp);
	return rc;
}

void
ctrl_server_stats(struct dp_ctx *dp, struct lbmsg_server_stats *st)
{
	if (dp->ctrl == NULL) {
		memset(st, 0, sizeof(*st));
		return;
	}
	lbmsg_server_get_stats(dp->ctrl->srv, st);
}
