/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mh: Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and
 * Reliable Software Network Load Balancer", NSDI 2016, section 3.4), with
 * weights (which IPVS's ip_vs_mh supports too, by another rule).
 *
 * A lookup table of M entries (M prime, SCHED_MH_DEFAULT_SIZE by default)
 * maps hash(flow source) to a backend. Each backend i has a preference
 * list over the table, the permutation
 *
 *	perm_i(j) = (offset_i + j * skip_i) mod M,
 *	offset_i = h1(addr:port) mod M, skip_i = h2(addr:port) mod (M-1) + 1
 *
 * (M prime makes every skip generate all M slots); h1 and h2 are two
 * independently seeded hashes of the backend's family, address and port,
 * so every load balancer host derives the same permutations from the same
 * backends, whatever their order in the list: backends take their turns
 * sorted by (h1, h2) (then list index), not in list order. The table is
 * populated in rounds: in each round every backend that still has quota
 * claims the next slot of its preference list that is still free.
 *
 * Weights (an extension of the paper's equal shares): backend i's quota
 * is its weight's share of M, floor(M * w_i / W), the M - sum(floor)
 * remaining slots going one each to the largest remainders (ties by turn
 * order). Shares are exact to within one slot of M * w_i / W, equal
 * weights give every backend floor(M/N) or ceil(M/N) slots, and weight 0
 * backends get none. With equal weights this is exactly the paper's
 * algorithm. M >= N is required; a backend whose share is below one slot
 * may own none.
 *
 * Build cost: walking to a free slot takes M / free probes, about M ln M in
 * all, most of them in the last few hundred slots. Each probe is a bit test
 * in a flat bitmap that stays in L1/L2, the walk advancing by an add and a
 * conditional subtract (no division). Once only about sqrt(M) slots are
 * free, the build switches to an endgame with the same outcome: the first
 * free slot on a walk from c with step s is the free slot x with the least
 * (x - c) * s^-1 mod M, found by a scan of the free list. About 1 ms for
 * M = 65537 and N = 1000, 11-14 ms for M = 655373. Lookup is one hash and
 * one table load.
 *
 * When a backend leaves, its slots are refilled by others and, as the
 * paper measures, a small share of other slots moves too (a few percent
 * when 1% of the backends go).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sched_ops.h"
#include "sched_private.h"
#include "edgelb/util.h"

#define MH_MAGIC 0x4d41474cu /* tells sched_mh_table() an mh state */

struct mh_state {
	uint32_t magic;
	unsigned int nworkers;
	uint32_t flags;
	uint32_t size;	/* M, prime */
	int32_t *table; /* M backend indexes */
};

/* A backend during population, in turn order. */
struct mh_perm {
	uint32_t next; /* next slot of its permutation to try */
	uint32_t skip;
	uint32_t left; /* slots still to claim */
	int32_t idx;
	uint32_t inv; /* skip^-1 mod M, for the endgame */
};

/* An eligible backend while quotas are worked out. */
struct mh_member {
	uint64_t key;  /* h1 << 32 | h2 */
	uint64_t rem;  /* M * w mod W, for the largest remainder rounding */
	uint64_t sort; /* what mh_sort() orders by */
	uint32_t weight;
	uint32_t pos; /* turn order */
	int32_t idx;
};

/* Population in progress: whose turn it is, in the current round. */
struct mh_fill {
	int32_t *table;
	uint64_t *bm; /* M bits: slot taken */
	struct mh_perm *perm;
	uint32_t *act; /* perm[] indexes with quota left, in turn order */
	uint32_t M;
	uint32_t nact;	/* entries of act[] in this round */
	uint32_t a;	/* act[a] has the turn */
	uint32_t keep;	/* act[0..keep) stay for the next round */
	uint32_t left;	/* free slots */
	uint64_t magic; /* floor(2^64 / M), for mh_mulmod() */
};

/* a^-1 mod m for 0 < a < m, m prime (extended Euclid). */
static uint32_t
mh_inverse(uint32_t a, uint32_t m)
{
	int64_t t = 0, nt = 1, r = m, nr = a, q, tmp;

	while (nr != 0) {
		q = r / nr;
		tmp = t - q * nt;
		t = nt;
		nt = tmp;
		tmp = r - q * nr;
		r = nr;
		nr = tmp;
	}
	return (uint32_t)(t < 0 ? t + m : t);
}

/* a * b mod M for a, b < M < 2^24, by Barrett reduction (no division). */
static inline uint32_t
mh_mulmod(uint32_t a, uint32_t b, uint32_t M, uint64_t magic)
{
	uint64_t p = (uint64_t)a * b;
	uint64_t q = (uint64_t)(((unsigned __int128)p * magic) >> 64);
	uint64_t r = p - q * M;

	return (uint32_t)(r >= M ? r - M : r);
}

/*
 * Stable sort of m[0..k) by ascending .sort (LSD radix, 8 bits a pass;
 * passes where every element has the same digit are skipped). tmp has room
 * for k members. Returns the sorted array: m or tmp.
 */
static struct mh_member *
mh_sort(struct mh_member *m, struct mh_member *tmp, uint32_t k)
{
	uint32_t cnt[257];

	for (unsigned int shift = 0; shift < 64; shift += 8) {
		struct mh_member *swap;

		memset(cnt, 0, sizeof(cnt));
		for (uint32_t e = 0; e < k; e++)
			cnt[((m[e].sort >> shift) & 255) + 1]++;
		if (cnt[((m[0].sort >> shift) & 255) + 1] == k)
			continue;
		for (int d = 0; d < 256; d++)
			cnt[d + 1] += cnt[d];
		for (uint32_t e = 0; e < k; e++)
			tmp[cnt[(m[e].sort >> shift) & 255]++] = m[e];
		swap = m;
		m = tmp;
		tmp = swap;
	}
	return m;
}

/* The backend whose turn it was claimed slot c: record it, pass the turn. */
static inline void
mh_claimed(struct mh_fill *F, struct mh_perm *q, uint32_t c)
{
	uint32_t n = c + q->skip;

	F->table[c] = q->idx;
	q->next = n >= F->M ? n - F->M : n;
	F->left--;
	if (--q->left > 0)
		F->act[F->keep++] = F->act[F->a];
	if (++F->a == F->nact) {
		F->nact = F->keep;
		F->keep = 0;
		F->a = 0;
	}
}

/*
 * Turns until only `until` slots are free: each backend walks its
 * permutation to the first free slot. Cheap while the table is sparse;
 * walks grow as M / free.
 */
static void
mh_fill_walk(struct mh_fill *F, uint32_t until)
{
	const uint32_t M = F->M;
	uint64_t *bm = F->bm;

	while (F->left > until) {
		struct mh_perm *q = &F->perm[F->act[F->a]];
		uint32_t c = q->next, s = q->skip;

		while (bm[c >> 6] & (1ull << (c & 63))) {
			c += s;
			c = c >= M ? c - M : c;
		}
		bm[c >> 6] |= 1ull << (c & 63);
		mh_claimed(F, q, c);
	}
}

/*
 * The remaining turns, with the same outcome as mh_fill_walk() but a cost
 * bounded by the number of free slots rather than M / free: the first free
 * slot on a backend's walk from slot c is the free slot x with the least
 * step count (x - c) * skip^-1 mod M.
 */
static void
mh_fill_endgame(struct mh_fill *F, uint32_t *freel)
{
	const uint32_t M = F->M;
	uint32_t nfree = 0;

	for (uint32_t w = 0; w < (M + 63) / 64; w++) {
		uint64_t v = ~F->bm[w];

		while (v != 0) {
			uint32_t x = w * 64 + (uint32_t)__builtin_ctzll(v);

			if (x < M)
				freel[nfree++] = x;
			v &= v - 1;
		}
	}
	for (uint32_t a = 0; a < F->nact; a++) {
		struct mh_perm *q = &F->perm[F->act[a]];

		q->inv = mh_inverse(q->skip, M);
	}
	while (F->left > 0) {
		struct mh_perm *q = &F->perm[F->act[F->a]];
		uint32_t c = q->next, best = UINT32_MAX, bj = 0;

		for (uint32_t j = 0; j < nfree; j++) {
			uint32_t dx =
				freel[j] >= c ? freel[j] - c : freel[j] + M - c;
			uint32_t d = mh_mulmod(dx, q->inv, M, F->magic);

			if (d < best) {
				best = d;
				bj = j;
			}
		}
		c = freel[bj];
		freel[bj] = freel[--nfree];
		mh_claimed(F, q, c);
	}
}

/*
 * Claim every slot of the M-entry table for the k backends of perm[] (in
 * turn order, quotas summing to M), in rounds. bm is a zeroed bitmap of
 * M bits; act[] has room for k entries, freel[] for `endgame` + 1.
 */
static void
mh_fill_table(int32_t *table, uint32_t M, struct mh_perm *perm, uint32_t k,
	      uint64_t *bm, uint32_t *act, uint32_t *freel, uint32_t endgame)
{
	struct mh_fill F = {
		.table = table,
		.bm = bm,
		.perm = perm,
		.act = act,
		.M = M,
		.left = M,
		.magic = UINT64_MAX / M,
	};

	for (uint32_t e = 0; e < k; e++)
		if (perm[e].left > 0)
			act[F.nact++] = e;
	mh_fill_walk(&F, endgame);
	mh_fill_endgame(&F, freel);
}

/* Free slots left to the endgame: about where both methods cost the same. */
static uint32_t
mh_endgame_size(uint32_t M)
{
	uint32_t r = 1;

	while ((uint64_t)r * r < M)
		r++;
	return r;
}

/* Populate st->table from b. Returns 0 or -ENOMEM. */
static int
mh_populate(struct mh_state *st, const struct sched_backend *b, uint32_t n)
{
	struct mh_member *m = NULL, *tmp = NULL, *sorted;
	struct mh_perm *perm = NULL;
	uint32_t *act = NULL, *freel = NULL, k = 0, M = st->size, given = 0;
	uint32_t endgame = mh_endgame_size(M);
	uint64_t *bm = NULL, W = 0;
	int ret = -ENOMEM;

	for (uint32_t i = 0; i < n; i++)
		if (b[i].weight > 0)
			k++;
	if (k == 0) {
		for (uint32_t c = 0; c < M; c++)
			st->table[c] = -1;
		return 0;
	}
	m = calloc(k, sizeof(*m));
	tmp = calloc(k, sizeof(*tmp));
	perm = calloc(k, sizeof(*perm));
	act = calloc(k, sizeof(*act));
	bm = calloc((M + 63) / 64, sizeof(*bm));
	freel = calloc(endgame + 1, sizeof(*freel));
	if (m == NULL || tmp == NULL || perm == NULL || act == NULL ||
	    bm == NULL || freel == NULL)
		goto out;
	k = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (b[i].weight == 0)
			continue;
		m[k].key = sched_backend_key(&b[i]);
		m[k].sort = m[k].key;
		m[k].weight = b[i].weight;
		m[k++].idx = (int32_t)i;
		W += b[i].weight;
	}
	/* turn order: by key, then (stable) list order */
	sorted = mh_sort(m, tmp, k);
	for (uint32_t e = 0; e < k; e++) {
		/* M < 2^24 and w < 2^32: M * w fits in 64 bits */
		uint64_t mw = (uint64_t)M * sorted[e].weight;

		sorted[e].pos = e;
		sorted[e].rem = mw % W;
		sorted[e].sort = ~sorted[e].rem;
		perm[e].left = (uint32_t)(mw / W);
		perm[e].idx = sorted[e].idx;
		perm[e].next = (uint32_t)(sorted[e].key >> 32) % M;
		perm[e].skip = (uint32_t)sorted[e].key % (M - 1) + 1;
		given += perm[e].left;
	}
	/*
	 * M - given < k: one more slot to each of the largest remainders,
	 * ties in turn order (the sort is stable)
	 */
	sorted = mh_sort(sorted, sorted == m ? tmp : m, k);
	for (uint32_t e = 0; given < M; e++, given++)
		perm[sorted[e].pos].left++;
	mh_fill_table(st->table, M, perm, k, bm, act, freel, endgame);
	ret = 0;
out:
	free(m);
	free(tmp);
	free(perm);
	free(act);
	free(bm);
	free(freel);
	return ret;
}

static void *
mh_create(const struct sched_backend *b, uint32_t n,
	  const struct sched_params *p)
{
	struct mh_state *st;
	uint32_t M;
	int ret;

	if (sched_check_args(b, n, p) < 0)
		goto einval;
	M = p->mh_size != 0 ? p->mh_size : SCHED_MH_DEFAULT_SIZE;
	if (M > SCHED_MH_MAX_SIZE || M < n || !lb_is_prime(M))
		goto einval;
	st = sched_zalloc(sizeof(*st));
	if (st == NULL)
		return NULL;
	st->table = sched_zalloc((size_t)M * sizeof(st->table[0]));
	if (st->table == NULL)
		goto err;
	st->size = M;
	ret = mh_populate(st, b, n);
	if (ret < 0) {
		errno = -ret;
		goto err;
	}
	st->magic = MH_MAGIC;
	st->nworkers = p->nworkers;
	st->flags = p->flags;
	return st;
err:
	free(st->table);
	free(st);
	return NULL;
einval:
	errno = EINVAL;
	return NULL;
}

static void
mh_destroy(void *state)
{
	struct mh_state *st = state;

	if (st == NULL)
		return;
	free(st->table);
	free(st);
}

static int32_t
mh_pick(void *state, unsigned int worker, const struct sched_flow *f,
	const struct sched_load *l)
{
	const struct mh_state *st = state;

	(void)l;
	if (worker >= st->nworkers || f == NULL)
		return -1;
	return st->table[sched_reduce(sched_flow_hash(f, st->flags), st->size)];
}

int
sched_mh_table(const void *state, const int32_t **table, uint32_t *size)
{
	const struct mh_state *st = state;

	if (st == NULL || st->magic != MH_MAGIC)
		return -EINVAL;
	if (table != NULL)
		*table = st->table;
	if (size != NULL)
		*size = st->size;
	return 0;
}

const struct sched_ops sched_mh_ops = {
	.name = "mh",
	.create = mh_create,
	.destroy = mh_destroy,
	.pick = mh_pick,
};
