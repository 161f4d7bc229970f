/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Scheduler registry and the helpers the schedulers share: argument
 * checks, cache-line aligned allocation for per-worker slots, and the
 * hashes of flows and backends.
 *
 * The hashes must give the same value on every load balancer host for the
 * same input (sh and mh tables are built and looked up independently on
 * each host behind ECMP), so they read their input byte by byte and never
 * depend on the host's byte order or on pointer values.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "edgelb/lbmsg.h"
#include "sched_ops.h"
#include "sched_private.h"

/* Seeds: arbitrary odd constants, fixed forever (they shape the tables). */
#define SCHED_FLOW_SEED	  0x5ca1ab1eu
#define SCHED_KEY_SEED_HI 0x9e3779b9u
#define SCHED_KEY_SEED_LO 0x85ebca6bu

static const struct sched_ops *const sched_registry[] = {
	&sched_rr_ops, &sched_wrr_ops, &sched_lc_ops,  &sched_wlc_ops,
	&sched_sh_ops, &sched_mh_ops,  &sched_lrt_ops,
};

#define SCHED_NREGISTERED                                                      \
	((int)(sizeof(sched_registry) / sizeof(sched_registry[0])))

const struct sched_ops *
sched_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (int i = 0; i < SCHED_NREGISTERED; i++)
		if (strcmp(sched_registry[i]->name, name) == 0)
			return sched_registry[i];
	return NULL;
}

int
sched_list(const char **names, int n)
{
	for (int i = 0; i < SCHED_NREGISTERED && i < n; i++)
		names[i] = sched_registry[i]->name;
	return SCHED_NREGISTERED;
}

int
sched_check_args(const struct sched_backend *b, uint32_t n,
		 const struct sched_params *p)
{
	if (p == NULL || p->nworkers == 0 || p->nworkers > SCHED_MAX_WORKERS)
		return -EINVAL;
	if (n > SCHED_MAX_BACKENDS || (n > 0 && b == NULL))
		return -EINVAL;
	return 0;
}

size_t
sched_cl_roundup(size_t size)
{
	return (size + SCHED_CACHE_LINE - 1) & ~(size_t)(SCHED_CACHE_LINE - 1);
}

void *
sched_zalloc(size_t size)
{
	void *p;

	size = sched_cl_roundup(size == 0 ? 1 : size);
	if (posix_memalign(&p, SCHED_CACHE_LINE, size) != 0) {
		errno = ENOMEM;
		return NULL;
	}
	memset(p, 0, size);
	return p;
}

static inline uint32_t
rotl32(uint32_t x, unsigned int r)
{
	return (x << r) | (x >> (32 - r));
}

static inline uint32_t
fmix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

uint32_t
sched_hash32(const void *data, size_t len, uint32_t seed)
{
	const uint8_t *p = data;
	const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
	uint32_t h = seed, k;
	size_t i = 0;

	for (; i + 4 <= len; i += 4) {
		k = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 |
		    (uint32_t)p[i + 2] << 16 | (uint32_t)p[i + 3] << 24;
		k = rotl32(k * c1, 15) * c2;
		h = rotl32(h ^ k, 13) * 5 + 0xe6546b64u;
	}
	k = 0;
	switch (len & 3) {
	case 3:
		k ^= (uint32_t)p[i + 2] << 16;
		/* fall through */
	case 2:
		k ^= (uint32_t)p[i + 1] << 8;
		/* fall through */
	case 1:
		k ^= p[i];
		h ^= rotl32(k * c1, 15) * c2;
	}
	return fmix32(h ^ (uint32_t)len);
}

uint64_t
sched_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/*
 * Serialise an address (and optionally a port, most significant byte
 * first) into buf: family byte, address bytes, port bytes. Returns the
 * length used (at most 19).
 */
static size_t
sched_addr_bytes(uint8_t buf[20], const struct lb_addr *a, bool with_port,
		 uint16_t port)
{
	size_t len = 0, alen;

	alen = a->family == AF_INET ? 4 : a->family == AF_INET6 ? 16 : 0;
	buf[len++] = a->family;
	memcpy(buf + len, a->bytes, alen);
	len += alen;
	if (with_port) {
		buf[len++] = (uint8_t)(port >> 8);
		buf[len++] = (uint8_t)port;
	}
	return len;
}

uint32_t
sched_flow_hash(const struct sched_flow *f, uint32_t flags)
{
	uint8_t buf[20];
	size_t len;

	len = sched_addr_bytes(buf, &f->saddr, flags & LB_SVC_F_SH_PORT,
			       f->sport);
	return sched_hash32(buf, len, SCHED_FLOW_SEED);
}

uint64_t
sched_backend_key(const struct sched_backend *b)
{
	uint8_t buf[20];
	size_t len;

	len = sched_addr_bytes(buf, &b->addr, true, b->port);
	return (uint64_t)sched_hash32(buf, len, SCHED_KEY_SEED_HI) << 32 |
	       sched_hash32(buf, len, SCHED_KEY_SEED_LO);
}

struct sched_wstate *
sched_wstate_create(const struct sched_backend *b, uint32_t n,
		    const struct sched_params *p)
{
	struct sched_wstate *st;

	if (sched_check_args(b, n, p) < 0) {
		errno = EINVAL;
		return NULL;
	}
	st = sched_zalloc(sizeof(*st) + (size_t)n * sizeof(st->weight[0]));
	if (st == NULL)
		return NULL;
	st->nworkers = p->nworkers;
	st->n = n;
	for (uint32_t i = 0; i < n; i++)
		st->weight[i] = b[i].weight;
	return st;
}

int32_t
sched_wlc_select(const struct sched_wstate *st, const struct sched_load *l)
{
	unsigned __int128 least_oh = 0, least_w = 0, oh, w;
	int32_t least = -1;

	for (uint32_t i = 0; i < st->n; i++) {
		if (st->weight[i] == 0)
			continue;
		oh = sched_overhead(l, i);
		w = st->weight[i];
		if (least < 0 || oh * least_w < least_oh * w) {
			least = (int32_t)i;
			least_oh = oh;
			least_w = w;
		}
	}
	return least;
}
