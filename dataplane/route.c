/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing table on rte_lpm. See route.h.
 */
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "dpconf.h"
#include "route.h"

struct route_entry {
	uint32_t dst;
	uint8_t plen;
	bool used;
	bool freeing; /* deleted, slot waits for a grace period */
	uint16_t port;
	uint16_t flags;
	uint32_t gw;
	uint64_t token; /* rte_rcu_qsbr_start() at deletion */
};

struct route_table *
route_create(uint32_t max, struct rte_rcu_qsbr *qsv, int socket)
{
	struct rte_lpm_config lc = {
		.max_rules = max,
		.number_tbl8s = 256,
	};
	struct rte_lpm_rcu_config rc = {
		.v = qsv,
		.mode = RTE_LPM_QSBR_MODE_DQ,
	};
	struct route_table *rt;

	if (max == 0 || max > (1u << 24)) {
		errno = EINVAL;
		return NULL;
	}
	rt = rte_zmalloc_socket("dp_route", sizeof(*rt), 0, socket);
	if (rt == NULL)
		goto nomem;
	rt->max = max;
	rt->qsv = qsv;
	rt->nh = rte_zmalloc_socket("dp_route_nh", max * sizeof(rt->nh[0]),
				    RTE_CACHE_LINE_SIZE, socket);
	rt->e = rte_zmalloc_socket("dp_route_e", max * sizeof(rt->e[0]), 0,
				   socket);
	if (rt->nh == NULL || rt->e == NULL)
		goto nomem;
	rt->lpm = rte_lpm_create("dp_lpm", socket, &lc);
	if (rt->lpm == NULL)
		goto nomem;
	if (qsv != NULL && rte_lpm_rcu_qsbr_add(rt->lpm, &rc) != 0)
		goto nomem;
	return rt;
nomem:
	route_destroy(rt);
	errno = ENOMEM;
	return NULL;
}

void
route_destroy(struct route_table *rt)
{
	if (rt == NULL)
		return;
	rte_lpm_free(rt->lpm);
	rte_free(rt->nh);
	rte_free(rt->e);
	rte_free(rt);
}

static int
find(const struct route_table *rt, uint32_t dst, uint8_t plen)
{
	for (uint32_t i = 0; i < rt->max; i++)
		if (rt->e[i].used && rt->e[i].dst == dst &&
		    rt->e[i].plen == plen)
			return (int)i;
	return -ENOENT;
}

/* A free slot whose previous user no worker can still see. */
static int
slot_alloc(struct route_table *rt)
{
	for (uint32_t i = 0; i < rt->max; i++) {
		struct route_entry *e = &rt->e[i];

		if (e->used)
			continue;
		if (e->freeing && rt->qsv != NULL &&
		    rte_rcu_qsbr_check(rt->qsv, e->token, false) != 1)
			continue;
		e->freeing = false;
		return (int)i;
	}
	return -ENOSPC;
}

static int
add(struct route_table *rt, uint32_t dst, uint8_t plen, uint32_t gw,
    uint16_t port, uint16_t flags)
{
	struct route_entry *e;
	int idx, rc;

	if (plen > 32 || (dst & ~dpconf_mask(plen)) != 0)
		return -EINVAL;
	if (find(rt, dst, plen) >= 0)
		return -EEXIST;
	idx = slot_alloc(rt);
	if (idx < 0)
		return idx;
	e = &rt->e[idx];
	__atomic_store_n(&rt->nh[idx],
			 ROUTE_NH_VALID | ((uint64_t)port << 32) | gw,
			 __ATOMIC_RELEASE);
	rc = rte_lpm_add(rt->lpm, rte_be_to_cpu_32(dst), plen, (uint32_t)idx);
	if (rc < 0) {
		__atomic_store_n(&rt->nh[idx], 0, __ATOMIC_RELEASE);
		return rc;
	}
	*e = (struct route_entry){
		.dst = dst,
		.plen = plen,
		.used = true,
		.port = port,
		.flags = flags,
		.gw = gw,
	};
	rt->count++;
	return 0;
}

static int
del(struct route_table *rt, uint32_t dst, uint8_t plen, bool connected)
{
	struct route_entry *e;
	int idx = find(rt, dst, plen);

	if (idx < 0)
		return idx;
	e = &rt->e[idx];
	if (((e->flags & ROUTE_F_CONNECTED) != 0) != connected)
		return -EPERM;
	rte_lpm_delete(rt->lpm, rte_be_to_cpu_32(dst), plen);
	/* the word stays valid: a worker that found idx still sends it */
	e->used = false;
	e->freeing = true;
	if (rt->qsv != NULL)
		e->token = rte_rcu_qsbr_start(rt->qsv);
	rt->count--;
	return 0;
}

int
route_add(struct route_table *rt, uint32_t dst, uint8_t plen, uint32_t gw,
	  uint16_t port)
{
	return add(rt, dst, plen, gw, port, 0);
}

int
route_del(struct route_table *rt, uint32_t dst, uint8_t plen)
{
	return del(rt, dst, plen, false);
}

int
route_connected_add(struct route_table *rt, uint32_t dst, uint8_t plen,
		    uint16_t port)
{
	return add(rt, dst, plen, 0, port, ROUTE_F_CONNECTED);
}

int
route_connected_del(struct route_table *rt, uint32_t dst, uint8_t plen)
{
	return del(rt, dst, plen, true);
}

static void
info_of(const struct route_entry *e, struct route_info *ri)
{
	*ri = (struct route_info){
		.dst = e->dst,
		.plen = e->plen,
		.gw = e->gw,
		.port = e->port,
		.flags = e->flags,
	};
}

int
route_walk(const struct route_table *rt,
	   int (*fn)(void *arg, const struct route_info *ri), void *arg)
{
	struct route_info ri;
	int rc;

	for (uint32_t i = 0; i < rt->max; i++) {
		if (!rt->e[i].used)
			continue;
		info_of(&rt->e[i], &ri);
		rc = fn(arg, &ri);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
route_get(const struct route_table *rt, uint32_t dst, uint8_t plen,
	  struct route_info *ri)
{
	int idx = find(rt, dst, plen);

	if (idx < 0)
		return idx;
	info_of(&rt->e[idx], ri);
	return 0;
}
