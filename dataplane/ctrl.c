/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp.sock handlers. See ctrl.h.
 */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <rte_ethdev.h>

#include "edgelb/log.h"
#include "arp.h"
#include "ctrl.h"
#include "neigh.h"
#include "port.h"
#include "route.h"
#include "stats.h"
#include "conn.h"
#include "svc.h"

/* CONN_GET dumps in progress at once (more: EBUSY). */
#define CTRL_DUMPS_MAX 8

struct ctrl {
	struct lbmsg_server *srv;
	struct conn_dump *dumps[CTRL_DUMPS_MAX];
	unsigned int ndumps;
	uint64_t dumps_failed; /* dropped: client gone or stalled */
};

/* ---- helpers ------------------------------------------------------------ */

/* An IPv4 address attribute: 0 or -EINVAL (explained). */
static int
get_v4(struct lbmsg_req *req, int attr, uint32_t *out)
{
	struct lb_addr a;

	if (lbmsg_get_addr(req->tb[attr], &a) < 0 || a.family != AF_INET)
		return lbmsg_req_errf(req, -EINVAL, "%s: IPv4 address expected",
				      lbmsg_attr_name(attr));
	*out = a.v4;
	return 0;
}

static int
put_v4(struct nl_msg *msg, int attr, uint32_t v4)
{
	struct lb_addr a = { .family = AF_INET, .v4 = v4 };

	return lbmsg_put_addr(msg, attr, &a);
}

/* Port index named by LB_ATTR_IFNAME: >= 0 or -ENODEV (explained). */
static int
get_port(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	const char *name = nla_get_string(req->tb[LB_ATTR_IFNAME]);
	int p = port_find(dp, name);

	if (p < 0)
		return lbmsg_req_errf(req, -ENODEV, "no port '%s'", name);
	return p;
}

static int
get_plen(struct lbmsg_req *req, uint8_t *plen)
{
	*plen = nla_get_u8(req->tb[LB_ATTR_PREFIXLEN]);
	if (*plen > 32)
		return lbmsg_req_errf(req, -EINVAL,
				      "prefix length %u is above 32", *plen);
	return 0;
}

/* ---- services: the service table answers ------------------------------- */

static int
h_svc(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;

	return svc_ctrl_handle(dp->svc, req);
}

/* ---- routes ------------------------------------------------------------- */

static int
h_route_new(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	uint32_t dst = 0, gw = 0, nh;
	uint16_t port;
	uint8_t plen;
	int rc, p = -1;

	if ((rc = get_v4(req, LB_ATTR_DST, &dst)) < 0 ||
	    (rc = get_plen(req, &plen)) < 0)
		return rc;
	if ((dst & ~dpconf_mask(plen)) != 0)
		return lbmsg_req_errf(req, -EINVAL,
				      "destination has host bits set for /%u",
				      plen);
	if (req->tb[LB_ATTR_GATEWAY] != NULL &&
	    (rc = get_v4(req, LB_ATTR_GATEWAY, &gw)) < 0)
		return rc;
	if (req->tb[LB_ATTR_IFNAME] != NULL && (p = get_port(req)) < 0)
		return p;
	if (gw == 0 && p < 0)
		return lbmsg_req_errf(req, -EINVAL,
				      "a route needs a GATEWAY or an IFNAME");
	if (p < 0) {
		if (route_lookup(dp->route, gw, &port, &nh) < 0 || nh != gw)
			return lbmsg_req_errf(req, -ENETUNREACH,
					      "gateway is not on a connected "
					      "subnet");
		p = port;
	}
	rc = route_add(dp->route, dst, plen, gw, (uint16_t)p);
	if (rc == -EEXIST)
		return lbmsg_req_errf(req, rc, "a route to that prefix exists");
	if (rc < 0)
		return lbmsg_req_errf(req, rc, "cannot add the route: %s",
				      strerror(-rc));
	if (gw != 0)
		neigh_probe(dp->neigh, (uint16_t)p, gw);
	return 0;
}

static int
h_route_del(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	uint32_t dst = 0;
	uint8_t plen;
	int rc;

	if ((rc = get_v4(req, LB_ATTR_DST, &dst)) < 0 ||
	    (rc = get_plen(req, &plen)) < 0)
		return rc;
	rc = route_del(dp->route, dst, plen);
	if (rc == -ENOENT)
		return lbmsg_req_errf(req, rc, "no route to that prefix");
	if (rc == -EPERM)
		return lbmsg_req_errf(req, rc,
				      "a connected route goes with its port "
				      "address");
	return rc;
}

static int
route_part(void *arg, const struct route_info *ri)
{
	struct lbmsg_req *req = arg;
	struct dp_ctx *dp = req->ctx;
	struct nl_msg *msg = lbmsg_req_part(req);

	if (msg == NULL)
		return -ENOMEM;
	if (put_v4(msg, LB_ATTR_DST, ri->dst) < 0 ||
	    nla_put_u8(msg, LB_ATTR_PREFIXLEN, ri->plen) < 0 ||
	    (ri->gw != 0 && put_v4(msg, LB_ATTR_GATEWAY, ri->gw) < 0) ||
	    nla_put_string(msg, LB_ATTR_IFNAME, dp->ports[ri->port]->name) <
		    0 ||
	    nla_put_u32(msg, LB_ATTR_FLAGS, ri->flags) < 0) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	return lbmsg_req_send(req, msg);
}

static int
h_route_get(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;

	return route_walk(dp->route, route_part, req);
}

/* ---- neighbours --------------------------------------------------------- */

static int
h_neigh_new(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	const uint8_t *mac = nla_data(req->tb[LB_ATTR_LLADDR]);
	uint32_t ip = 0;
	int rc, p;

	if ((rc = get_v4(req, LB_ATTR_ADDR, &ip)) < 0)
		return rc;
	if ((p = get_port(req)) < 0)
		return p;
	if ((mac[0] & 1) || !memcmp(mac, "\0\0\0\0\0\0", 6))
		return lbmsg_req_errf(req, -EINVAL,
				      "LLADDR: unicast MAC expected");
	rc = neigh_add(dp->neigh, ip, (uint16_t)p, mac);
	if (rc == -EEXIST)
		return lbmsg_req_errf(req, rc, "a permanent entry exists");
	if (rc == -ENOSPC)
		return lbmsg_req_errf(req, rc, "neighbour table full (%u)",
				      dp->conf.max_neighbours);
	return rc;
}

static int
h_neigh_del(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	uint32_t ip = 0;
	int rc;

	if ((rc = get_v4(req, LB_ATTR_ADDR, &ip)) < 0)
		return rc;
	if (req->tb[LB_ATTR_IFNAME] != NULL && (rc = get_port(req)) < 0)
		return rc;
	rc = neigh_del(dp->neigh, ip);
	if (rc == -ENOENT)
		return lbmsg_req_errf(req, rc, "no such neighbour");
	return rc;
}

static int
neigh_part(void *arg, const struct neigh_info *ni)
{
	struct lbmsg_req *req = arg;
	struct dp_ctx *dp = req->ctx;
	struct nl_msg *msg = lbmsg_req_part(req);

	if (msg == NULL)
		return -ENOMEM;
	if (put_v4(msg, LB_ATTR_ADDR, ni->ip) < 0 ||
	    (ni->state != LB_NEIGH_INCOMPLETE &&
	     nla_put(msg, LB_ATTR_LLADDR, 6, ni->mac) < 0) ||
	    nla_put_string(msg, LB_ATTR_IFNAME, dp->ports[ni->port]->name) <
		    0 ||
	    nla_put_u8(msg, LB_ATTR_STATE, ni->state) < 0 ||
	    nla_put_u32(msg, LB_ATTR_EXPIRES, ni->expires_s) < 0) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	return lbmsg_req_send(req, msg);
}

static int
h_neigh_get(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;

	return neigh_walk(dp->neigh, neigh_part, req);
}

/* ---- port addresses and ports ------------------------------------------ */

static int
h_portaddr_new(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	char why[128];
	uint32_t ip = 0;
	uint8_t plen;
	int rc, p;

	if ((p = get_port(req)) < 0)
		return p;
	if ((rc = get_v4(req, LB_ATTR_ADDR, &ip)) < 0 ||
	    (rc = get_plen(req, &plen)) < 0)
		return rc;
	rc = port_addr_add(dp, (uint16_t)p, ip, plen, why, sizeof(why));
	if (rc < 0)
		return lbmsg_req_errf(req, rc, "%s", why);
	arp_send_garp(dp, (uint16_t)p, ip);
	return 0;
}

static int
h_portaddr_del(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	uint32_t ip = 0;
	int rc, p;

	if ((p = get_port(req)) < 0)
		return p;
	if ((rc = get_v4(req, LB_ATTR_ADDR, &ip)) < 0)
		return rc;
	rc = port_addr_del(dp, (uint16_t)p, ip);
	if (rc == -ENOENT)
		return lbmsg_req_errf(req, rc, "no such address on port %s",
				      dp->ports[p]->name);
	return rc;
}

static int
h_portaddr_get(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	const struct port_addr_set *s = dp->addrs;
	int rc;

	for (uint32_t i = 0; i < s->n; i++) {
		struct nl_msg *msg = lbmsg_req_part(req);

		if (msg == NULL)
			return -ENOMEM;
		if (nla_put_string(msg, LB_ATTR_IFNAME,
				   dp->ports[s->a[i].port]->name) < 0 ||
		    put_v4(msg, LB_ATTR_ADDR, s->a[i].addr) < 0 ||
		    nla_put_u8(msg, LB_ATTR_PREFIXLEN, s->a[i].plen) < 0) {
			nlmsg_free(msg);
			return -EMSGSIZE;
		}
		rc = lbmsg_req_send(req, msg);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
h_port_get(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	int rc;

	for (unsigned int i = 0; i < dp->nports; i++) {
		const struct dp_port *p = dp->ports[i];
		struct nl_msg *msg = lbmsg_req_part(req);
		struct rte_eth_link link = { 0 };

		if (msg == NULL)
			return -ENOMEM;
		rte_eth_link_get_nowait(p->id, &link);
		if (nla_put_string(msg, LB_ATTR_IFNAME, p->name) < 0 ||
		    nla_put_u16(msg, LB_ATTR_PORT_ID, p->id) < 0 ||
		    nla_put(msg, LB_ATTR_LLADDR, 6, p->mac.addr_bytes) < 0 ||
		    nla_put_u32(msg, LB_ATTR_MTU, p->mtu) < 0 ||
		    nla_put_u8(msg, LB_ATTR_LINK, link.link_status) < 0) {
			nlmsg_free(msg);
			return -EMSGSIZE;
		}
		rc = lbmsg_req_send(req, msg);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- statistics and configuration -------------------------------------- */

static int
h_stats_get(struct lbmsg_req *req)
{
	int rc = stats_dump(req->ctx, req);

	return rc < 0 ? rc : conn_stats_dump(req->ctx, req);
}

/* The dump goes on in ctrl_poll(), a bounded piece per call. */
static int
h_conn_get(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	struct ctrl *c = dp->ctrl;
	struct conn_dump *d;

	if (c->ndumps == CTRL_DUMPS_MAX)
		return lbmsg_req_errf(req, -EBUSY,
				      "%u connection dumps in progress: try "
				      "again later",
				      CTRL_DUMPS_MAX);
	d = conn_dump_start(dp, req);
	if (d == NULL)
		return -errno;
	c->dumps[c->ndumps++] = d;
	return LBMSG_DEFERRED;
}

static int
h_stats_zero(struct lbmsg_req *req)
{
	stats_zero(req->ctx);
	return 0;
}

static const struct {
	int attr;
	size_t off;
} tmo_attrs[] = {
	{ LB_ATTR_TMO_SYN_RECV, offsetof(struct dpconf_timeouts, syn_recv) },
	{ LB_ATTR_TMO_ESTABLISHED,
	  offsetof(struct dpconf_timeouts, established) },
	{ LB_ATTR_TMO_FIN_WAIT, offsetof(struct dpconf_timeouts, fin_wait) },
	{ LB_ATTR_TMO_TIME_WAIT, offsetof(struct dpconf_timeouts, time_wait) },
	{ LB_ATTR_TMO_CLOSE, offsetof(struct dpconf_timeouts, close) },
	{ LB_ATTR_TMO_UDP, offsetof(struct dpconf_timeouts, udp) },
};

static int
h_config_set(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	struct dpconf_timeouts tmo = dp->tmo;
	uint8_t pol = dp->del_policy;

	/* validate everything, then apply */
	for (size_t i = 0; i < RTE_DIM(tmo_attrs); i++) {
		const struct nlattr *a = req->tb[tmo_attrs[i].attr];
		uint32_t v;

		if (a == NULL)
			continue;
		v = nla_get_u32(a);
		if (v < 1 || v > DPCONF_TIMEOUT_MAX)
			return lbmsg_req_errf(
				req, -ERANGE,
				"%s: %u is not in [1, %u] seconds",
				lbmsg_attr_name(tmo_attrs[i].attr), v,
				DPCONF_TIMEOUT_MAX);
		*(uint32_t *)((char *)&tmo + tmo_attrs[i].off) = v;
	}
	if (req->tb[LB_ATTR_DEL_POLICY] != NULL) {
		pol = nla_get_u8(req->tb[LB_ATTR_DEL_POLICY]);
		if (pol != LB_DEL_EXPIRE && pol != LB_DEL_RESET)
			return lbmsg_req_errf(req, -EINVAL,
					      "DEL_POLICY: %u is not 0 or 1",
					      pol);
	}
	if (req->tb[LB_ATTR_FLAGS] != NULL &&
	    nla_get_u32(req->tb[LB_ATTR_FLAGS]) != 0)
		return lbmsg_req_errf(req, -EINVAL,
				      "FLAGS: no flag is defined");
	dp->tmo = tmo;
	dp->del_policy = pol;
	if (!dp->rx_enabled) {
		LB_NOTICE("configuration received: starting RX");
		__atomic_store_n(&dp->rx_enabled, 1, __ATOMIC_RELEASE);
	}
	return 0;
}

static int
h_config_get(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	struct nl_msg *msg = lbmsg_req_part(req);
	uint32_t flags = dp->rx_enabled ? 0 : CTRL_CONFIG_F_RX_HELD;

	if (msg == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < RTE_DIM(tmo_attrs); i++)
		if (nla_put_u32(msg, tmo_attrs[i].attr,
				*(const uint32_t *)((const char *)&dp->tmo +
						    tmo_attrs[i].off)) < 0)
			goto full;
	if (nla_put_u8(msg, LB_ATTR_DEL_POLICY, dp->del_policy) < 0 ||
	    nla_put_u32(msg, LB_ATTR_FLAGS, flags) < 0)
		goto full;
	return lbmsg_req_send(req, msg);
full:
	nlmsg_free(msg);
	return -EMSGSIZE;
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
	[LB_MSG_ROUTE_NEW] = h_route_new,
	[LB_MSG_ROUTE_DEL] = h_route_del,
	[LB_MSG_ROUTE_GET] = h_route_get,
	[LB_MSG_NEIGH_NEW] = h_neigh_new,
	[LB_MSG_NEIGH_DEL] = h_neigh_del,
	[LB_MSG_NEIGH_GET] = h_neigh_get,
	[LB_MSG_PORTADDR_NEW] = h_portaddr_new,
	[LB_MSG_PORTADDR_DEL] = h_portaddr_del,
	[LB_MSG_PORTADDR_GET] = h_portaddr_get,
	[LB_MSG_PORT_GET] = h_port_get,
	[LB_MSG_STATS_GET] = h_stats_get,
	[LB_MSG_STATS_ZERO] = h_stats_zero,
	[LB_MSG_CONFIG_SET] = h_config_set,
	[LB_MSG_CONFIG_GET] = h_config_get,
	[LB_MSG_CONN_GET] = h_conn_get,
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

/* Advance every dump by one bounded step. True if one could go on. */
static bool
dumps_step(struct dp_ctx *dp)
{
	struct ctrl *c = dp->ctrl;
	uint64_t now = dp_now_ms();
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
