/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals shared by the scheduler files (dataplane/sched*.c): the ops of
 * each scheduler for the registry, argument checks, cache-line aligned
 * allocation and the hashes. Nothing outside dataplane/sched*.c includes
 * this header.
 */
#ifndef EDGELB_SCHED_PRIVATE_H
#define EDGELB_SCHED_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched_ops.h"

#define SCHED_CACHE_LINE 64

/* One scheduler per file, registered in sched.c. */
extern const struct sched_ops sched_rr_ops;
extern const struct sched_ops sched_wrr_ops;
extern const struct sched_ops sched_lc_ops;
extern const struct sched_ops sched_wlc_ops;
extern const struct sched_ops sched_sh_ops;
extern const struct sched_ops sched_mh_ops;
extern const struct sched_ops sched_lrt_ops;

/*
 * The checks every create() starts with: p not NULL, 1 <= p->nworkers <=
 * SCHED_MAX_WORKERS, n <= SCHED_MAX_BACKENDS, b not NULL when n > 0.
 * Returns 0 or -EINVAL.
 */
int sched_check_args(const struct sched_backend *b, uint32_t n,
		     const struct sched_params *p);

/* Round size up to a whole number of cache lines. */
size_t sched_cl_roundup(size_t size);

/*
 * size zeroed bytes aligned to a cache line (size is rounded up), or
 * NULL with errno ENOMEM. Free with free().
 */
void *sched_zalloc(size_t size);

/*
 * 32-bit hash of len bytes (a MurmurHash3-style mix). The bytes are read
 * one at a time, so the result is the same on every host whatever its
 * byte order: all load balancer hosts must agree.
 */
uint32_t sched_hash32(const void *data, size_t len, uint32_t seed);

/* A bijective 64-bit finaliser (full avalanche). */
uint64_t sched_mix64(uint64_t x);

/*
 * A backend's identity as 64 bits: two independent 32-bit hashes of its
 * family, address and port (high word seeded differently from the low
 * word). Depends only on addr:port, not on the list position.
 */
uint64_t sched_backend_key(const struct sched_backend *b);

/*
 * The state of the schedulers that only look at weights and load (lc,
 * wlc, lrt): the weights, in list order. Nothing in it is written after
 * create, so it needs no per-worker slots.
 */
struct sched_wstate {
	unsigned int nworkers;
	uint32_t n;
	uint32_t weight[];
};

/* Returns NULL with errno EINVAL or ENOMEM. Free with free(). */
struct sched_wstate *sched_wstate_create(const struct sched_backend *b,
					 uint32_t n,
					 const struct sched_params *p);

/*
 * wlc's choice: among backends of weight above 0, the least overhead per
 * weight, i.e. the backend a minimising overhead_a / weight_a compared as
 * overhead_a * weight_b < overhead_b * weight_a without overflow; the
 * first in list order on a tie. -1 when no backend has a weight.
 */
int32_t sched_wlc_select(const struct sched_wstate *st,
			 const struct sched_load *l);

/* Reduce a 32-bit hash to [0, range) without a division (Lemire). */
static inline uint32_t
sched_reduce(uint32_t h, uint32_t range)
{
	return (uint32_t)(((uint64_t)h * range) >> 32);
}

static inline uint32_t
sched_load_at(const uint32_t *a, uint32_t i)
{
	return a == NULL ? 0 : a[i];
}

/* IPVS's overhead of a backend: active * 256 + inactive. */
static inline uint64_t
sched_overhead(const struct sched_load *l, uint32_t i)
{
	if (l == NULL)
		return 0;
	return ((uint64_t)sched_load_at(l->active, i) << 8) +
	       sched_load_at(l->inactive, i);
}

#endif
