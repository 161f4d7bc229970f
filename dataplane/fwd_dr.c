/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DR (direct routing, LVS "gatewaying"): the packet keeps its addresses;
 * only the Ethernet destination becomes the backend's MAC, so the
 * backend, which holds the VIP on a loopback interface, accepts it and
 * answers the client directly. The backend must be on a connected
 * subnet of one of our ports; replies never pass through us, so the
 * connection has no out tuple and TCP is tracked with IPVS's input-only
 * state table.
 */
#include "fwd.h"
#include "neigh.h"
#include "dp_tx.h"

static enum dp_drop
dr_conn_init(struct fwd_worker *fw, struct conn *c, const struct svc *s)
{
	RTE_SET_USED(fw);
	RTE_SET_USED(c);
	RTE_SET_USED(s);
	return DP_PASS;
}

static void
dr_xmit(struct fwd_worker *fw, struct dp_worker *w, struct rte_mbuf *m,
	const struct pkt_info *pi, struct conn *c, unsigned int dir)
{
	struct rte_ipv4_hdr *ip;
	uint16_t port;
	uint32_t nh;

	RTE_SET_USED(fw);
	RTE_SET_USED(dir);
	if (fwd_route(w, m, c->baddr, &port, &nh) < 0)
		return;
	if (nh != c->baddr) {
		/* behind a gateway: a MAC rewrite cannot reach it */
		dp_worker_drop(w, m, DP_DROP_NO_ROUTE);
		return;
	}
	ip = fwd_l2_reset(m, pi);
	fwd_ttl_dec(ip);
	neigh_output(w, m, port, nh);
}

const struct fwd_mode_ops fwd_dr_ops = {
	.name = "dr",
	.mode = LB_MODE_DR,
	.replies = false,
	.conn_init = dr_conn_init,
	.xmit = dr_xmit,
};
