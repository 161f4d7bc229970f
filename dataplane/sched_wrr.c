/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wrr: smooth weighted round robin, as nginx's upstream balancer
 * (ngx_http_upstream_get_peer): on each pick every eligible backend's
 * current weight grows by its weight, the one with the largest current
 * weight (the first in list order on a tie) is picked and its current
 * weight is lowered by the total weight.
 *
 * Over any cycle of W = sum of weights picks (from the all-zero start)
 * each backend is picked exactly weight times, and picks of a heavy
 * backend are spread out rather than bunched: weights 5:1:1 give
 * a a b a c a a. Backends of weight 0 take no part.
 *
 * Each worker has its own current weights (its own cache lines), so the
 * ratios hold per worker and workers never write shared memory. A pick
 * costs O(k) for k eligible backends.
 */
#include <errno.h>
#include <stdlib.h>

#include "sched_ops.h"
#include "sched_private.h"

struct wrr_worker {
	int64_t *cur; /* current weight of each eligible backend */
} __attribute__((aligned(SCHED_CACHE_LINE)));

_Static_assert(sizeof(struct wrr_worker) == SCHED_CACHE_LINE,
	       "one cache line per worker");

struct wrr_state {
	struct wrr_worker *workers; /* nworkers slots */
	unsigned int nworkers;
	uint32_t nelig;
	int64_t total;	 /* sum of weights, at most 2^52 */
	int32_t *elig;	 /* indexes of the backends with a weight */
	int64_t *weight; /* weight of elig[k] */
};

static void *
wrr_create(const struct sched_backend *b, uint32_t n,
	   const struct sched_params *p)
{
	struct wrr_state *st;
	size_t hdr, wsz, csz, esz;
	uint8_t *mem;

	if (sched_check_args(b, n, p) < 0) {
		errno = EINVAL;
		return NULL;
	}
	hdr = sched_cl_roundup(sizeof(*st));
	wsz = (size_t)p->nworkers * sizeof(struct wrr_worker);
	csz = sched_cl_roundup((size_t)n * sizeof(int64_t));
	esz = sched_cl_roundup((size_t)n * sizeof(int32_t));
	mem = sched_zalloc(hdr + wsz + esz + csz * (1 + p->nworkers));
	if (mem == NULL)
		return NULL;
	st = (struct wrr_state *)mem;
	st->workers = (struct wrr_worker *)(mem + hdr);
	st->elig = (int32_t *)(mem + hdr + wsz);
	st->weight = (int64_t *)(mem + hdr + wsz + esz);
	st->nworkers = p->nworkers;
	for (unsigned int w = 0; w < p->nworkers; w++)
		st->workers[w].cur =
			(int64_t *)(mem + hdr + wsz + esz + csz * (1 + w));
	for (uint32_t i = 0; i < n; i++) {
		if (b[i].weight == 0)
			continue;
		st->elig[st->nelig] = (int32_t)i;
		st->weight[st->nelig++] = b[i].weight;
		st->total += b[i].weight;
	}
	return st;
}

static void
wrr_destroy(void *state)
{
	free(state);
}

static int32_t
wrr_pick(void *state, unsigned int worker, const struct sched_flow *f,
	 const struct sched_load *l)
{
	struct wrr_state *st = state;
	int64_t *cur, bestv = 0;
	uint32_t best = 0;

	(void)f;
	(void)l;
	if (worker >= st->nworkers || st->nelig == 0)
		return -1;
	cur = st->workers[worker].cur;
	for (uint32_t k = 0; k < st->nelig; k++) {
		cur[k] += st->weight[k];
		if (k == 0 || cur[k] > bestv) {
			best = k;
			bestv = cur[k];
		}
	}
	cur[best] -= st->total;
	return st->elig[best];
}

const struct sched_ops sched_wrr_ops = {
	.name = "wrr",
	.create = wrr_create,
	.destroy = wrr_destroy,
	.pick = wrr_pick,
};
