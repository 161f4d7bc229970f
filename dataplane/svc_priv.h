/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Service table internals shared by svc.c (table, versions, RCU
 * reclamation, address set), svc_slots.c (the slot pool and its
 * per-worker counters) and svc_ctrl.c (dp.sock handlers, dumps, the
 * STATS_GET parts). Control thread only, except where a comment says
 * otherwise.
 */
#ifndef EDGELB_SVC_PRIV_H
#define EDGELB_SVC_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "svc.h"

struct rte_hash;
struct rte_rcu_qsbr;

#define SVC_SLOT_NONE UINT32_MAX

/* Counters are allocated per chunk of slots, per worker, on first use. */
#define SVC_CHUNK_SHIFT 10
#define SVC_CHUNK_SLOTS (1u << SVC_CHUNK_SHIFT)

/* Stable ids for services or backends, with their per-worker counters. */
struct svc_pool {
	uint32_t max;	/* slots */
	uint32_t used;	/* allocated, including pending and draining */
	uint32_t next;	/* slots >= next were never used */
	uint32_t nfree; /* free[] is a stack of released slots */
	uint32_t *free;
	uint32_t ndrain; /* released, conns still count on them */
	size_t capdrain;
	uint32_t *drain;
	unsigned int nworkers;
	uint32_t nchunks;
	int socket_id;
	/* cnt[w * nchunks + c]: worker w's counters of chunk c, or NULL */
	struct svc_counters **cnt;
	/* base[c]: values summed at the last svc_stats_zero() */
	struct svc_counters **base;
};

/* rte_hash key of a service; padding zeroed. */
/* 32 bytes: rte_hash compares keys of that size with vector loads. */
struct svc_key {
	uint8_t proto;
	uint8_t family;
	uint16_t vport;
	uint8_t addr[16];
	uint8_t zero[12];
};

/* Something unpublished that is freed once its grace period has passed. */
struct svc_retire {
	struct svc_retire *next;
	uint64_t token;	    /* rte_rcu_qsbr_start() after unpublish */
	struct svc *ver;    /* version to free, or NULL */
	bool all_bslots;    /* release every backend slot of ver */
	struct rte_hash *h; /* hash whose key position to free */
	int32_t pos;	    /* that position, or -1 */
	uint32_t svc_slot;  /* service slot to release, or NONE */
	uint32_t nbslots;   /* backend slots to release */
	uint32_t bslots[];
};

struct svc_table {
	unsigned int nworkers;
	int socket_id;
	uint32_t max_laddrs;
	uint32_t nladdrs;
	uint32_t nservices;
	uint32_t nany;		/* services with vport 0; read by workers */
	struct rte_hash *h;	/* svc_key -> struct svc * (current) */
	struct rte_hash *addrs; /* VIPs and local addrs -> refcount */
	struct rte_rcu_qsbr *qsbr;
	struct svc **by_slot; /* current version by service slot */
	uint64_t *bmark;      /* scratch bitmap over backend slots */
	struct svc_pool svcs;
	struct svc_pool backends;
	struct svc_retire *rhead, *rtail;
	uint32_t npending;
	struct svc_table_stats st;
	svc_addr_cb addr_cb;
	void *addr_arg;
};

/*
 * A mutable service being edited on the control thread before it becomes
 * a version. Backends with slot SVC_SLOT_NONE are new.
 */
struct svc_edit {
	struct svc s; /* parameters; backends/laddrs below */
	struct svc_backend *b;
	uint32_t nb;
	size_t capb;
	struct lb_addr *l;
	uint32_t nl;
	size_t capl;
	uint32_t *fresh; /* indexes into b of slots allocated by a commit */
	uint32_t nfresh;
};

/* Load e from the current version s (copies its lists). 0 or -ENOMEM. */
int svc_edit_from(struct svc_edit *e, const struct svc *s);
void svc_edit_release(struct svc_edit *e);
int svc_edit_add_backend(struct svc_edit *e, const struct svc_backend *b);
int svc_edit_add_laddr(struct svc_edit *e, const struct lb_addr *a);

/* Exact lookup on the control thread. */
struct svc *svc_find(struct svc_table *t, uint8_t proto,
		     const struct lb_addr *vip, uint16_t vport);

/*
 * Publish e as a new service / as the next version of old / delete old.
 * On failure nothing changed and the text for the error is in err.
 * 0, -EEXIST, -ENOSPC, -ENOMEM, -EINVAL (scheduler refused its params).
 */
int svc_create(struct svc_table *t, struct svc_edit *e, char *err,
	       size_t errlen);
int svc_update(struct svc_table *t, struct svc *old, struct svc_edit *e,
	       char *err, size_t errlen);
void svc_delete(struct svc_table *t, struct svc *old);

int svc_pool_init(struct svc_pool *p, uint32_t max, unsigned int nworkers,
		  int socket_id);
void svc_pool_fini(struct svc_pool *p);
/* A slot whose counters are zero. 0, -ENOSPC or -ENOMEM. */
int svc_pool_alloc(struct svc_pool *p, uint32_t *slot);
/* Give back a slot no worker has seen (rollback). */
void svc_pool_unalloc(struct svc_pool *p, uint32_t slot);
/* A slot after its grace period: free now, or drain until its conns end. */
void svc_pool_release(struct svc_pool *p, uint32_t slot);
/* Free the draining slots whose conns have ended. */
void svc_pool_drain(struct svc_pool *p);

/* Worker w's counters of a slot (any thread; the slot's chunk exists). */
static inline struct svc_counters *
svc_pool_cnt(const struct svc_pool *p, unsigned int w, uint32_t slot)
{
	return &p->cnt[(size_t)w * p->nchunks + (slot >> SVC_CHUNK_SHIFT)]
		      [slot & (SVC_CHUNK_SLOTS - 1)];
}

/* Sum of one slot's counters over workers, minus the zero baseline for
 * the totals (gauges are not baselined). */
void svc_pool_sum(const struct svc_pool *p, uint32_t slot,
		  struct svc_counters *out);
void svc_pool_zero(struct svc_pool *p, uint32_t slot);

/* Does s match the PROTO/VIP/VPORT attributes present in tb? */
bool svc_key_filter(struct nlattr **tb, const struct svc *s);
/* PROTO, VIP, VPORT of s. 0 or -EMSGSIZE. */
int svc_put_key(struct nl_msg *m, const struct svc *s);

#endif
