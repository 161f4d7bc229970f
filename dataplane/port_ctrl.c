/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp.sock handlers of the ports: PORTADDR_NEW (announced with a
 * gratuitous ARP once added), PORTADDR_DEL, the PORTADDR_GET and PORT_GET
 * dumps (control thread; ctrl.c dispatches to them).
 */
#include <errno.h>
#include <string.h>

#include <rte_ethdev.h>

#include "arp.h"
#include "ctrl.h"
#include "port.h"

int
port_ctrl_addr_new(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	char why[128];
	uint32_t ip = 0;
	uint8_t plen;
	int rc, p;

	if ((p = ctrl_get_port(req)) < 0)
		return p;
	if ((rc = ctrl_get_v4(req, LB_ATTR_ADDR, &ip)) < 0 ||
	    (rc = ctrl_get_plen(req, &plen)) < 0)
		return rc;
	rc = port_addr_add(dp, (uint16_t)p, ip, plen, why, sizeof(why));
	if (rc < 0)
		return lbmsg_req_errf(req, rc, "%s", why);
	arp_send_garp(dp, (uint16_t)p, ip);
	return 0;
}

int
port_ctrl_addr_del(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	uint32_t ip = 0;
	int rc, p;

	if ((p = ctrl_get_port(req)) < 0)
		return p;
	if ((rc = ctrl_get_v4(req, LB_ATTR_ADDR, &ip)) < 0)
		return rc;
	rc = port_addr_del(dp, (uint16_t)p, ip);
	if (rc == -ENOENT)
		return lbmsg_req_errf(req, rc, "no such address on port %s",
				      dp->ports[p]->name);
	return rc;
}

int
port_ctrl_addr_get(struct lbmsg_req *req)
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
		    ctrl_put_v4(msg, LB_ATTR_ADDR, s->a[i].addr) < 0 ||
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

int
port_ctrl_get(struct lbmsg_req *req)
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
