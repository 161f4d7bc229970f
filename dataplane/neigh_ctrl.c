/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp.sock handlers of the neighbour cache: NEIGH_NEW (a PERMANENT entry),
 * NEIGH_DEL and the NEIGH_GET dump (control thread; ctrl.c dispatches to
 * them).
 */
#include <errno.h>
#include <string.h>

#include "ctrl.h"
#include "neigh.h"
#include "port.h"

int
neigh_ctrl_new(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	const uint8_t *mac = nla_data(req->tb[LB_ATTR_LLADDR]);
	uint32_t ip = 0;
	int rc, p;

	if ((rc = ctrl_get_v4(req, LB_ATTR_ADDR, &ip)) < 0)
		return rc;
	if ((p = ctrl_get_port(req)) < 0)
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

int
neigh_ctrl_del(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	uint32_t ip = 0;
	int rc;

	if ((rc = ctrl_get_v4(req, LB_ATTR_ADDR, &ip)) < 0)
		return rc;
	if (req->tb[LB_ATTR_IFNAME] != NULL && (rc = ctrl_get_port(req)) < 0)
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
	if (ctrl_put_v4(msg, LB_ATTR_ADDR, ni->ip) < 0 ||
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

int
neigh_ctrl_get(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;

	return neigh_walk(dp->neigh, neigh_part, req);
}
