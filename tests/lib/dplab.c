/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dplab: an in-process dataplane context for tests, fuzzing and
 * benchmarks; see dplab.h.
 */
#include "dplab.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "dpconf.h"
#include "fwd.h"
#include "neigh.h"
#include "route.h"
#include "svc.h"
#include "worker.h"

const uint8_t dplab_mac_port[2][6] = { { 2, 0, 0, 0, 0, 1 },
				       { 2, 0, 0, 0, 0, 2 } };
const uint8_t dplab_mac_router[6] = { 2, 0, 0, 0, 0, 0xfe };
const uint8_t dplab_mac_b10[6] = { 2, 0, 0, 0, 1, 10 };
const uint8_t dplab_mac_b11[6] = { 2, 0, 0, 0, 1, 11 };

int
dplab_ctx_init(struct dp_ctx *dp, unsigned int nworkers,
	       struct rte_mempool *pool)
{
	memset(dp, 0, sizeof(*dp));
	dpconf_defaults(&dp->conf);
	dp->tmo = dp->conf.tmo;
	dp->pool = pool;
	dp->nworkers = nworkers;
	dp->workers =
		rte_zmalloc("dplab_w", nworkers * sizeof(dp->workers[0]), 64);
	dp->qsv = rte_zmalloc("dplab_qsv", rte_rcu_qsbr_get_memsize(nworkers),
			      64);
	if (dp->workers == NULL || dp->qsv == NULL ||
	    rte_rcu_qsbr_init(dp->qsv, nworkers) != 0)
		goto err;
	for (unsigned int i = 0; i < nworkers; i++) {
		dp->workers[i].dp = dp;
		dp->workers[i].index = i;
	}
	return 0;
err:
	rte_free(dp->workers);
	rte_free(dp->qsv);
	dp->workers = NULL;
	dp->qsv = NULL;
	return -ENOMEM;
}

int
dplab_addrs(struct dp_ctx *dp, const struct port_addr *a, unsigned int n)
{
	struct port_addr_set *as =
		rte_zmalloc("dplab_as", sizeof(*as) + n * sizeof(as->a[0]), 0);

	if (as == NULL)
		return -ENOMEM;
	as->n = n;
	memcpy(as->a, a, n * sizeof(as->a[0]));
	dp->addrs = as;
	return 0;
}

int
dplab_svc_table(struct dp_ctx *dp, uint32_t max_laddrs)
{
	struct svc_table_conf sc = { .nworkers = dp->nworkers,
				     .max_services = 64,
				     .max_backends = 256,
				     .socket_id = SOCKET_ID_ANY,
				     .max_laddrs = max_laddrs };

	dp->svc = svc_table_create(&sc);
	return dp->svc != NULL ? 0 : -ENOMEM;
}

int
dplab_ctrl(struct svc_table *t, struct nl_msg *m, char *why, size_t whylen)
{
	struct nlattr *tb[LB_ATTR_MAX + 1];
	struct lbmsg_req req = { 0 };
	struct nlmsghdr *h;
	char err[256];
	int rc;

	if (whylen > 0)
		why[0] = '\0';
	if (m == NULL)
		return -ENOMEM;
	h = nlmsg_hdr(m);
	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (lbmsg_parse(h, h->nlmsg_len, tb, err, sizeof(err)) != 0) {
		fprintf(stderr,
			"dplab: a request built here does not parse: %s\n",
			err);
		abort();
	}
	req.nlh = h;
	req.tb = tb;
	req.fd = -1;
	rc = svc_ctrl_handle(t, &req);
	if (whylen > 0)
		snprintf(why, whylen, "%s", req.errmsg);
	nlmsg_free(m);
	return rc;
}

int
dplab_service(struct svc_table *t, const struct dplab_svc *d, char *why,
	      size_t whylen)
{
	struct nl_msg *m = lbmsg_new(LB_MSG_SERVICE_NEW, 0);
	struct lb_addr v = { .family = AF_INET, .v4 = d->vip };
	struct nlattr *list;
	int rc;

	if (m != NULL) {
		lbmsg_put_svc_key(m, d->proto, &v, d->vport);
		nla_put_u8(m, LB_ATTR_MODE, d->mode);
		nla_put_string(m, LB_ATTR_SCHED, d->sched);
		nla_put_u32(m, LB_ATTR_SVC_FLAGS, d->flags);
		if (d->persist)
			nla_put_u32(m, LB_ATTR_PERSIST, d->persist);
		if (d->mh_size)
			nla_put_u32(m, LB_ATTR_MH_SIZE, d->mh_size);
		list = nla_nest_start(m, LB_ATTR_BACKENDS);
		for (unsigned int i = 0; i < d->nb; i++) {
			struct lb_addr ba = { .family = AF_INET,
					      .v4 = d->b[i].addr };
			struct nlattr *r = nla_nest_start(m, LB_ATTR_BACKEND);

			lbmsg_put_addr(m, LB_ATTR_ADDR, &ba);
			nla_put_u16(m, LB_ATTR_PORT, d->b[i].port);
			nla_put_u32(m, LB_ATTR_WEIGHT, d->b[i].weight);
			nla_nest_end(m, r);
		}
		nla_nest_end(m, list);
	}
	rc = dplab_ctrl(t, m, why, whylen);
	for (unsigned int i = 0; rc == 0 && d->laddr != 0 && i < d->nladdr;
	     i++) {
		struct lb_addr la = {
			.family = AF_INET,
			.v4 = htonl(ntohl(d->laddr) + i),
		};

		m = lbmsg_new(LB_MSG_LADDR_NEW, 0);
		if (m != NULL) {
			lbmsg_put_svc_key(m, d->proto, &v, d->vport);
			lbmsg_put_addr(m, LB_ATTR_ADDR, &la);
		}
		rc = dplab_ctrl(t, m, why, whylen);
	}
	return rc;
}

void
dplab_rss_conf(struct fwd_rss *r)
{
	static const uint8_t key[40] = {
		0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
		0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
		0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
		0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
	};

	*r = (struct fwd_rss){
		.on = true, .l4_tcp = true, .l4_udp = true, .reta_size = 128
	};
	memcpy(r->key, key, sizeof(key));
	for (unsigned int i = 0; i < 128; i++)
		r->reta[i] = (uint16_t)((i / 3) % 2);
}

int
dplab_pair_up(struct dp_ctx *dp, struct dp_port ports[2],
	      struct rte_mempool *pool)
{
	static const struct port_addr addrs[2] = {
		{ DPLAB_IP(10, 0, 0, 1), 24, 0 },
		{ DPLAB_IP(10, 1, 0, 1), 24, 1 },
	};
	int rc;

	rc = dplab_ctx_init(dp, 2, pool);
	if (rc < 0)
		return rc;
	dp->conf.max_backends = 256;
	for (uint16_t p = 0; p < 2; p++) {
		ports[p] = (struct dp_port){ .id = p, .index = p, .mtu = 1500 };
		memcpy(ports[p].mac.addr_bytes, dplab_mac_port[p], 6);
		dp->ports[p] = &ports[p];
	}
	dp->nports = 2;
	rc = dplab_addrs(dp, addrs, 2);
	if (rc < 0)
		return rc;
	dp->route = route_create(64, NULL, SOCKET_ID_ANY);
	if (dp->route == NULL)
		return -ENOMEM;
	rc = route_connected_add(dp->route, DPLAB_IP(10, 0, 0, 0), 24, 0);
	if (rc == 0)
		rc = route_connected_add(dp->route, DPLAB_IP(10, 1, 0, 0), 24,
					 1);
	if (rc == 0)
		rc = route_add(dp->route, DPLAB_IP(203, 0, 113, 0), 24,
			       DPLAB_IP(10, 0, 0, 254), 0);
	if (rc != 0)
		return rc;
	if (neigh_create(dp) == NULL)
		return -ENOMEM;
	rc = neigh_add(dp->neigh, DPLAB_IP(10, 0, 0, 254), 0, dplab_mac_router);
	if (rc == 0)
		rc = neigh_add(dp->neigh, DPLAB_IP(10, 1, 0, 10), 1,
			       dplab_mac_b10);
	if (rc == 0)
		rc = neigh_add(dp->neigh, DPLAB_IP(10, 1, 0, 11), 1,
			       dplab_mac_b11);
	return rc;
}

void
dplab_down(struct dp_ctx *dp)
{
	fwd_fini(dp);
	svc_table_destroy(dp->svc);
	dp->svc = NULL;
	neigh_destroy(dp->neigh);
	dp->neigh = NULL;
	dp->neigh_pub = NULL;
	route_destroy(dp->route);
	dp->route = NULL;
	rte_ring_free(dp->arp_ring);
	rte_ring_free(dp->pend_ring);
	dp->arp_ring = dp->pend_ring = NULL;
	rte_free(dp->addrs);
	rte_free(dp->qsv);
	rte_free(dp->workers);
	dp->addrs = NULL;
	dp->qsv = NULL;
	dp->workers = NULL;
}
