/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sh: source hashing. A flow's source address (and port, with
 * LB_SVC_F_SH_PORT) is hashed to one of SH_NBUCKETS buckets, and each
 * bucket is owned by one backend, so a source keeps its backend for as
 * long as the backend set is unchanged, on every load balancer host.
 *
 * Unlike IPVS's ip_vs_sh, which deals its 256 buckets out to backends in
 * list order (so one weight change reshuffles most sources), bucket owners
 * are chosen by weighted rendezvous (highest random weight) hashing
 * (Thaler and Ravishankar, "Using name-based mappings to increase hit
 * rates", IEEE/ACM ToN 1998; weights as in Schindelhauer and Schomaker,
 * "Weighted distributed hash tables", SPAA 2005): for bucket j and backend
 * i, u = hash(j, addr:port of i) in (0, 1), and j goes to the backend with
 * the least -ln(u) / weight. The owner of each bucket is thus a function
 * of the bucket and the set of eligible backends only:
 *  - backend i owns a weight_i / sum(weight) share of the buckets in
 *    expectation (exact for this exponential race), so shares follow
 *    weights within the binomial noise of 2^14 buckets (about 1% of a 10%
 *    share);
 *  - when a backend goes to weight 0 (quiesced) or is removed, only its
 *    own buckets move, spread over the others by weight; every other
 *    source stays where it was, and it comes back to the same buckets
 *    when restored. The list order does not matter.
 * Weight 0 backends own no bucket. Lookup is one hash and one load.
 *
 * Building costs O(SH_NBUCKETS * k) hashes for k eligible backends, but a
 * logarithm only per distinct weight: within backends of equal weight the
 * least -ln(u)/w is the greatest u. About 25 ms for 1000 backends, paid
 * on the control thread when the list or a weight changes.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "sched_ops.h"
#include "sched_private.h"

#define SH_BUCKET_BITS 14
#define SH_NBUCKETS    (1u << SH_BUCKET_BITS)
#define SH_SEED	       0x243f6a8885a308d3ull /* bucket keys; fixed forever */

struct sh_state {
	unsigned int nworkers;
	uint32_t flags;
	int32_t bucket[SH_NBUCKETS]; /* backend index, or -1: none eligible */
};

/*
 * The random weight of (bucket, backend): one multiply-xorshift round over
 * two already well mixed 64-bit values, bijective in each argument.
 */
static inline uint64_t
sh_pair(uint64_t bucket_key, uint64_t backend_key)
{
	uint64_t h = bucket_key ^ backend_key;

	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return h;
}

/* An eligible backend during the build. */
struct sh_member {
	uint64_t key;
	uint32_t weight;
	int32_t idx;
};

static int
sh_member_cmp(const void *a, const void *b)
{
	const struct sh_member *x = a, *y = b;

	if (x->weight != y->weight)
		return x->weight < y->weight ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Fill st->bucket from the k members sorted by weight (runs of equal
 * weight are the groups).
 */
static void
sh_fill(struct sh_state *st, const struct sh_member *m, uint32_t k)
{
	for (uint32_t j = 0; j < SH_NBUCKETS; j++) {
		uint64_t bk = sched_mix64(SH_SEED + j);
		double best_s = INFINITY;
		int32_t best = -1;
		uint32_t g = 0;

		while (g < k) {
			uint64_t h, top = 0;
			int32_t top_idx = -1;
			uint32_t e = g;
			double u, s;

			for (; e < k && m[e].weight == m[g].weight; e++) {
				h = sh_pair(bk, m[e].key);
				if (top_idx < 0 || h > top) {
					top = h;
					top_idx = m[e].idx;
				}
			}
			if (g == 0 && e == k) { /* one weight: no log needed */
				best = top_idx;
				break;
			}
			u = ((double)(top >> 11) + 0.5) * 0x1p-53;
			s = -log(u) / m[g].weight;
			if (s < best_s || (s == best_s && top_idx < best)) {
				best_s = s;
				best = top_idx;
			}
			g = e;
		}
		st->bucket[j] = best;
	}
}

static void *
sh_create(const struct sched_backend *b, uint32_t n,
	  const struct sched_params *p)
{
	struct sh_member *m = NULL;
	struct sh_state *st;
	uint32_t k = 0;

	if (sched_check_args(b, n, p) < 0) {
		errno = EINVAL;
		return NULL;
	}
	st = sched_zalloc(sizeof(*st));
	if (st == NULL)
		return NULL;
	if (n > 0) {
		m = calloc(n, sizeof(*m));
		if (m == NULL) {
			errno = ENOMEM;
			goto err;
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		if (b[i].weight == 0)
			continue;
		m[k].key = sched_backend_key(&b[i]);
		m[k].weight = b[i].weight;
		m[k++].idx = (int32_t)i;
	}
	if (k > 0)
		qsort(m, k, sizeof(*m), sh_member_cmp);
	sh_fill(st, m, k);
	free(m);
	st->nworkers = p->nworkers;
	st->flags = p->flags;
	return st;
err:
	free(st);
	return NULL;
}

static void
sh_destroy(void *state)
{
	free(state);
}

static int32_t
sh_pick(void *state, unsigned int worker, const struct sched_flow *f,
	const struct sched_load *l)
{
	const struct sh_state *st = state;
	uint32_t h;

	(void)l;
	if (worker >= st->nworkers || f == NULL)
		return -1;
	h = sched_flow_hash(f, st->flags);
	return st->bucket[h >> (32 - SH_BUCKET_BITS)];
}

const struct sched_ops sched_sh_ops = {
	.name = "sh",
	.create = sh_create,
	.destroy = sh_destroy,
	.pick = sh_pick,
};
