/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The slot pool: stable slot ids for services and backends with their
 * per-worker counters (see svc.c for why they are chunked), the sums
 * STATS_GET reads and the baselines STATS_ZERO sets. Control thread only;
 * workers reach the counters through svc_pool_cnt(). The STATS_GET parts
 * themselves are built in svc_ctrl.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_malloc.h>

#include "edgelb/log.h"
#include "edgelb/util.h"
#include "svc_priv.h"

int
svc_pool_init(struct svc_pool *p, uint32_t max, unsigned int nworkers,
	      int socket_id)
{
	memset(p, 0, sizeof(*p));
	p->max = max;
	p->nworkers = nworkers;
	p->socket_id = socket_id;
	p->nchunks = (max + SVC_CHUNK_SLOTS - 1) >> SVC_CHUNK_SHIFT;
	/* calloc of large arrays maps pages lazily: untouched ids cost
	 * no memory */
	p->free = calloc(max, sizeof(*p->free));
	p->cnt = calloc((size_t)nworkers * p->nchunks, sizeof(*p->cnt));
	p->base = calloc(p->nchunks, sizeof(*p->base));
	if (p->free == NULL || p->cnt == NULL || p->base == NULL)
		return -ENOMEM;
	return 0;
}

void
svc_pool_fini(struct svc_pool *p)
{
	size_t i;

	if (p->cnt != NULL)
		for (i = 0; i < (size_t)p->nworkers * p->nchunks; i++)
			rte_free(p->cnt[i]);
	if (p->base != NULL)
		for (i = 0; i < p->nchunks; i++)
			free(p->base[i]);
	free(p->cnt);
	free(p->base);
	free(p->free);
	free(p->drain);
	memset(p, 0, sizeof(*p));
}

/* Allocate chunk c's counters for every worker (base[c] marks done). */
static int
pool_chunk(struct svc_pool *p, uint32_t c)
{
	const size_t sz = SVC_CHUNK_SLOTS * sizeof(struct svc_counters);
	struct svc_counters *base;
	unsigned int w;

	if (p->base[c] != NULL)
		return 0;
	base = calloc(SVC_CHUNK_SLOTS, sizeof(*base));
	if (base == NULL)
		return -ENOMEM;
	for (w = 0; w < p->nworkers; w++) {
		struct svc_counters **pc = &p->cnt[(size_t)w * p->nchunks + c];

		if (*pc == NULL)
			*pc = rte_zmalloc_socket("svc_cnt", sz,
						 RTE_CACHE_LINE_SIZE,
						 p->socket_id);
		if (*pc == NULL) {
			/* chunks already made stay for the next try */
			free(base);
			return -ENOMEM;
		}
	}
	p->base[c] = base;
	return 0;
}

/* A slot whose counters are zero. 0, -ENOSPC or -ENOMEM. */
int
svc_pool_alloc(struct svc_pool *p, uint32_t *slot)
{
	struct svc_counters *b;
	unsigned int w;
	uint32_t s;
	int rc;

	if (p->nfree > 0) {
		s = p->free[--p->nfree];
	} else if (p->next < p->max) {
		/* a slot never used: its chunk may not exist yet */
		s = p->next;
		rc = pool_chunk(p, s >> SVC_CHUNK_SHIFT);
		if (rc < 0)
			return rc;
		p->next++;
	} else {
		return -ENOSPC;
	}
	/* no worker touches a released slot: it is safe to write */
	for (w = 0; w < p->nworkers; w++)
		memset(svc_pool_cnt(p, w, s), 0, sizeof(struct svc_counters));
	b = &p->base[s >> SVC_CHUNK_SHIFT][s & (SVC_CHUNK_SLOTS - 1)];
	memset(b, 0, sizeof(*b));
	p->used++;
	*slot = s;
	return 0;
}

/* Give back a slot no worker has seen (rollback). */
void
svc_pool_unalloc(struct svc_pool *p, uint32_t slot)
{
	p->free[p->nfree++] = slot;
	p->used--;
}

/* Do conns still reference the slot? `refs` only, see svc_counters. */
static bool
pool_busy(const struct svc_pool *p, uint32_t slot)
{
	uint64_t n = 0;
	unsigned int w;

	for (w = 0; w < p->nworkers; w++) {
		const struct svc_counters *c = svc_pool_cnt(p, w, slot);

		n += __atomic_load_n(&c->refs, __ATOMIC_ACQUIRE);
	}
	return n != 0;
}

/* A slot after its grace period: free now, or drain until its conns end. */
void
svc_pool_release(struct svc_pool *p, uint32_t slot)
{
	if (pool_busy(p, slot)) {
		if (lb_array_grow(&p->drain, &p->capdrain,
				  (size_t)p->ndrain + 1,
				  sizeof(*p->drain)) < 0) {
			/* cannot track it: leak the slot, loudly */
			LB_ERR("svc: out of memory, slot %u lost", slot);
			return;
		}
		p->drain[p->ndrain++] = slot;
		return;
	}
	svc_pool_unalloc(p, slot);
}

void
svc_pool_drain(struct svc_pool *p)
{
	uint32_t i = 0;

	while (i < p->ndrain) {
		if (pool_busy(p, p->drain[i])) {
			i++;
			continue;
		}
		svc_pool_unalloc(p, p->drain[i]);
		p->drain[i] = p->drain[--p->ndrain];
	}
}

void
svc_pool_sum(const struct svc_pool *p, uint32_t slot, struct svc_counters *out)
{
	const struct svc_counters *b;
	unsigned int w;

	memset(out, 0, sizeof(*out));
	for (w = 0; w < p->nworkers; w++) {
		const struct svc_counters *c = svc_pool_cnt(p, w, slot);

		out->conns += __atomic_load_n(&c->conns, __ATOMIC_RELAXED);
		out->pkts_in += __atomic_load_n(&c->pkts_in, __ATOMIC_RELAXED);
		out->pkts_out +=
			__atomic_load_n(&c->pkts_out, __ATOMIC_RELAXED);
		out->bytes_in +=
			__atomic_load_n(&c->bytes_in, __ATOMIC_RELAXED);
		out->bytes_out +=
			__atomic_load_n(&c->bytes_out, __ATOMIC_RELAXED);
		out->active += __atomic_load_n(&c->active, __ATOMIC_RELAXED);
		out->inactive +=
			__atomic_load_n(&c->inactive, __ATOMIC_RELAXED);
	}
	b = &p->base[slot >> SVC_CHUNK_SHIFT][slot & (SVC_CHUNK_SLOTS - 1)];
	out->conns -= b->conns;
	out->pkts_in -= b->pkts_in;
	out->pkts_out -= b->pkts_out;
	out->bytes_in -= b->bytes_in;
	out->bytes_out -= b->bytes_out;
}

void
svc_pool_zero(struct svc_pool *p, uint32_t slot)
{
	struct svc_counters *b, now;

	b = &p->base[slot >> SVC_CHUNK_SHIFT][slot & (SVC_CHUNK_SLOTS - 1)];
	svc_pool_sum(p, slot, &now); /* already net of the old base */
	b->conns += now.conns;
	b->pkts_in += now.pkts_in;
	b->pkts_out += now.pkts_out;
	b->bytes_in += now.bytes_in;
	b->bytes_out += now.bytes_out;
}

/* ---- STATS_ZERO ------------------------------------------------------- */

/* Zero every slot of a live service or backend (a baseline per slot). */
void
svc_stats_zero(struct svc_table *t)
{
	uint32_t i, j;

	for (i = 0; i < t->svcs.next; i++) {
		const struct svc *s = t->by_slot[i];

		if (s == NULL)
			continue;
		svc_pool_zero(&t->svcs, s->slot);
		for (j = 0; j < s->nbackends; j++)
			svc_pool_zero(&t->backends, s->backends[j].slot);
	}
}
