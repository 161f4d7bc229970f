/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rr: round robin over the backends whose weight is above 0, in list
 * order, ignoring the weight's value and the load.
 *
 * Each worker has its own cursor in its own cache line, so workers never
 * share a written line; worker w starts at position w * k / nworkers of
 * the k eligible backends, so that the first connections of all workers
 * do not land on the same backend after each rebuild. Over any k picks
 * a worker hands each eligible backend exactly one connection.
 */
#include <errno.h>
#include <stdlib.h>

#include "sched_ops.h"
#include "sched_private.h"

struct rr_worker {
	uint32_t cursor; /* index into elig[] of this worker's next pick */
} __attribute__((aligned(SCHED_CACHE_LINE)));

_Static_assert(sizeof(struct rr_worker) == SCHED_CACHE_LINE,
	       "one cache line per worker");

struct rr_state {
	struct rr_worker *workers; /* nworkers slots */
	unsigned int nworkers;
	uint32_t nelig;
	int32_t *elig; /* indexes of the backends with a weight, list order */
};

static void *
rr_create(const struct sched_backend *b, uint32_t n,
	  const struct sched_params *p)
{
	struct rr_state *st;
	size_t hdr, wsz;
	uint8_t *mem;

	if (sched_check_args(b, n, p) < 0) {
		errno = EINVAL;
		return NULL;
	}
	hdr = sched_cl_roundup(sizeof(*st));
	wsz = (size_t)p->nworkers * sizeof(struct rr_worker);
	mem = sched_zalloc(hdr + wsz + (size_t)n * sizeof(int32_t));
	if (mem == NULL)
		return NULL;
	st = (struct rr_state *)mem;
	st->workers = (struct rr_worker *)(mem + hdr);
	st->elig = (int32_t *)(mem + hdr + wsz);
	st->nworkers = p->nworkers;
	for (uint32_t i = 0; i < n; i++)
		if (b[i].weight > 0)
			st->elig[st->nelig++] = (int32_t)i;
	for (unsigned int w = 0; w < p->nworkers; w++)
		st->workers[w].cursor =
			(uint32_t)((uint64_t)w * st->nelig / p->nworkers);
	return st;
}

static void
rr_destroy(void *state)
{
	free(state);
}

static int32_t
rr_pick(void *state, unsigned int worker, const struct sched_flow *f,
	const struct sched_load *l)
{
	struct rr_state *st = state;
	struct rr_worker *w;
	uint32_t c;

	(void)f;
	(void)l;
	if (worker >= st->nworkers || st->nelig == 0)
		return -1;
	w = &st->workers[worker];
	c = w->cursor;
	w->cursor = c + 1 == st->nelig ? 0 : c + 1;
	return st->elig[c];
}

const struct sched_ops sched_rr_ops = {
	.name = "rr",
	.create = rr_create,
	.destroy = rr_destroy,
	.pick = rr_pick,
};
