/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lc and wlc: least connection and weighted least connection, as IPVS's
 * ip_vs_lc and ip_vs_wlc.
 *
 * The load of a backend is IPVS's overhead, active * 256 + inactive:
 * established connections cost far more than ones being set up or torn
 * down. lc picks the least overhead among backends of weight above 0,
 * ignoring the weight's value; wlc the least overhead per unit of weight,
 * compared as overhead_a * weight_b < overhead_b * weight_a in 128 bits so
 * that no load or weight overflows. A tie goes to the first backend in
 * list order, so the choice is deterministic. The load is the calling
 * worker's view (struct sched_load); the state is only the weights.
 */
#include <errno.h>
#include <stdlib.h>

#include "sched_ops.h"
#include "sched_private.h"

static void *
lc_create(const struct sched_backend *b, uint32_t n,
	  const struct sched_params *p)
{
	return sched_wstate_create(b, n, p);
}

static void
lc_destroy(void *state)
{
	free(state);
}

static int32_t
lc_pick(void *state, unsigned int worker, const struct sched_flow *f,
	const struct sched_load *l)
{
	const struct sched_wstate *st = state;
	uint64_t least_oh = 0, oh;
	int32_t least = -1;

	(void)f;
	if (worker >= st->nworkers)
		return -1;
	for (uint32_t i = 0; i < st->n; i++) {
		if (st->weight[i] == 0)
			continue;
		oh = sched_overhead(l, i);
		if (least < 0 || oh < least_oh) {
			least = (int32_t)i;
			least_oh = oh;
		}
	}
	return least;
}

static int32_t
wlc_pick(void *state, unsigned int worker, const struct sched_flow *f,
	 const struct sched_load *l)
{
	const struct sched_wstate *st = state;

	(void)f;
	if (worker >= st->nworkers)
		return -1;
	return sched_wlc_select(st, l);
}

const struct sched_ops sched_lc_ops = {
	.name = "lc",
	.load_aware = true,
	.create = lc_create,
	.destroy = lc_destroy,
	.pick = lc_pick,
};

const struct sched_ops sched_wlc_ops = {
	.name = "wlc",
	.load_aware = true,
	.create = lc_create,
	.destroy = lc_destroy,
	.pick = wlc_pick,
};
