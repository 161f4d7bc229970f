/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp.sock handlers of the routing table: ROUTE_NEW, ROUTE_DEL and the
 * ROUTE_GET dump (control thread; ctrl.c dispatches to them). IPv4 only;
 * a route with a gateway starts resolving it (neigh_probe).
 */
#include <errno.h>
#include <string.h>

#include "ctrl.h"
#include "neigh.h"
#include "port.h"
#include "route.h"

int
route_ctrl_new(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	uint32_t dst = 0, gw = 0, nh;
	uint16_t port;
	uint8_t plen;
	int rc, p = -1;

	if ((rc = ctrl_get_v4(req, LB_ATTR_DST, &dst)) < 0 ||
	    (rc = ctrl_get_plen(req, &plen)) < 0)
		return rc;
	if ((dst & ~dpconf_mask(plen)) != 0)
		return lbmsg_req_errf(req, -EINVAL,
				      "destination has host bits set for /%u",
				      plen);
	if (req->tb[LB_ATTR_GATEWAY] != NULL &&
	    (rc = ctrl_get_v4(req, LB_ATTR_GATEWAY, &gw)) < 0)
		return rc;
	if (req->tb[LB_ATTR_IFNAME] != NULL && (p = ctrl_get_port(req)) < 0)
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

int
route_ctrl_del(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	uint32_t dst = 0;
	uint8_t plen;
	int rc;

	if ((rc = ctrl_get_v4(req, LB_ATTR_DST, &dst)) < 0 ||
	    (rc = ctrl_get_plen(req, &plen)) < 0)
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
	if (ctrl_put_v4(msg, LB_ATTR_DST, ri->dst) < 0 ||
	    nla_put_u8(msg, LB_ATTR_PREFIXLEN, ri->plen) < 0 ||
	    (ri->gw != 0 && ctrl_put_v4(msg, LB_ATTR_GATEWAY, ri->gw) < 0) ||
	    nla_put_string(msg, LB_ATTR_IFNAME, dp->ports[ri->port]->name) <
		    0 ||
	    nla_put_u32(msg, LB_ATTR_FLAGS, ri->flags) < 0) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	return lbmsg_req_send(req, msg);
}

int
route_ctrl_get(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;

	return route_walk(dp->route, route_part, req);
}
