/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lrt: least response time. The dataplane measures, per backend and per
 * worker, a smoothed time from forwarding a client's SYN to seeing the
 * backend's SYN-ACK (NAT and FULL-NAT, where replies pass through us);
 * this scheduler picks, among the backends of weight above 0, the one
 * with the least expected wait for a new connection:
 *
 *	score = (active + 1) * rtt_us / weight
 *
 * i.e. its response time scaled by the connections it already carries
 * (the new one included) and divided by its share. Scores are compared as
 * products in 128 bits (no division, no overflow); a tie goes to the
 * first backend in list order.
 *
 * A backend with no measurement yet (rtt_us 0, e.g. just added) is scored
 * with the mean response time of the measured eligible backends: it is
 * neither starved nor flooded, and gets connections, hence a measurement,
 * as soon as it looks no slower than the rest. When no eligible backend
 * has a measurement (or no rtt array is given) lrt falls back to wlc
 * (IPVS overhead per weight), which is what a fresh service starts with.
 */
#include <errno.h>
#include <stdlib.h>

#include "sched_ops.h"
#include "sched_private.h"

static void *
lrt_create(const struct sched_backend *b, uint32_t n,
	   const struct sched_params *p)
{
	return sched_wstate_create(b, n, p);
}

static void
lrt_destroy(void *state)
{
	free(state);
}

static int32_t
lrt_pick(void *state, unsigned int worker, const struct sched_flow *f,
	 const struct sched_load *l)
{
	const struct sched_wstate *st = state;
	unsigned __int128 best_num = 0, best_w = 0, num, w;
	uint64_t sum = 0, known = 0, mean, rtt;
	int32_t best = -1;

	(void)f;
	if (worker >= st->nworkers)
		return -1;
	if (l != NULL && l->rtt_us != NULL) {
		for (uint32_t i = 0; i < st->n; i++) {
			if (st->weight[i] > 0 && l->rtt_us[i] > 0) {
				sum += l->rtt_us[i];
				known++;
			}
		}
	}
	if (known == 0)
		return sched_wlc_select(st, l);
	mean = sum / known;
	if (mean == 0)
		mean = 1;
	for (uint32_t i = 0; i < st->n; i++) {
		if (st->weight[i] == 0)
			continue;
		rtt = l->rtt_us[i] > 0 ? l->rtt_us[i] : mean;
		num = (unsigned __int128)(sched_load_at(l->active, i) + 1ull) *
		      rtt;
		w = st->weight[i];
		if (best < 0 || num * best_w < best_num * w) {
			best = (int32_t)i;
			best_num = num;
			best_w = w;
		}
	}
	return best;
}

const struct sched_ops sched_lrt_ops = {
	.name = "lrt",
	.load_aware = true,
	.create = lrt_create,
	.destroy = lrt_destroy,
	.pick = lrt_pick,
};
