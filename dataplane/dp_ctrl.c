/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp.sock handlers of the process's run-time settings: CONFIG_SET
 * (connection timeouts, the deleted-backend policy; the first one starts
 * RX when [dataplane] wait_config holds it) and CONFIG_GET (control
 * thread; ctrl.c dispatches to them). Everything is validated before
 * anything is applied.
 */
#include <errno.h>
#include <stddef.h>

#include <rte_common.h>

#include "edgelb/log.h"
#include "ctrl.h"
#include "dp.h"

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

int
dp_ctrl_config_set(struct lbmsg_req *req)
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

int
dp_ctrl_config_get(struct lbmsg_req *req)
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
