/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Service table: lookup structure, versions, RCU reclamation, stable slots
 * with their counters, and the set of our addresses.
 *
 * Lookup. One rte_hash with RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF (and an
 * extendable bucket table, so every one of max_services keys fits) maps
 * (proto, family, vport, vip) to the current struct svc. Readers never
 * block and never retry on a lock; the single writer (the control thread)
 * replaces a key's data with one release store, so a worker sees either
 * the old or the new version, whole. A hash rather than an own table
 * published by RCU: updates touch one entry instead of copying the table,
 * which matters when 65536 services are created one message at a time.
 * A service with vport 0 matches any port: the worker looks the exact key
 * up first and the vport-0 key second, the latter only while at least one
 * such service exists.
 *
 * Versions. A change copies the current version into a struct svc_edit,
 * edits it, and builds a new version in one allocation (struct svc, its
 * backends, its local addresses) with a freshly created scheduler state.
 * The new version is published by the hash's data swap; the old one goes
 * to a FIFO of retired objects with a token from rte_rcu_qsbr_start().
 * svc_table_reclaim() frees every head entry whose token every worker has
 * acknowledged (rte_rcu_qsbr_check without waiting), together with the
 * hash key positions (the LF hash does not free them on delete) and slots
 * the entry carries. Tokens grow along the FIFO, so the walk stops at the
 * first entry still in its grace period. Only when a table is full while
 * retired objects are waiting does the control thread wait for one grace
 * period (rte_rcu_qsbr_synchronize) to make room; svc_table_reclaim itself
 * never blocks.
 *
 * Slots and counters. Services and backends get stable slot ids from a
 * pool (a never-used mark plus a stack of released ids). Per-worker
 * counters are indexed by slot and allocated per chunk of 1024 slots, per
 * worker, when a slot of the chunk is first handed out: memory follows the
 * high-water mark of slots in use (64 B x workers per slot), not the
 * configured maximum, and chunks of different workers never share a cache
 * line. A slot is released after its grace period, and only when its
 * connection references (`refs`, summed over workers; not the gauges,
 * which a state change writes in two stores) are back to zero, so conns
 * of a deleted backend never count on a new one; until then it waits on
 * a draining list that every reclaim re-checks. Zeroing keeps a
 * baseline per slot on the control thread instead of writing into the
 * workers' counters, so a zero never races with an increment.
 *
 * Addresses. VIPs and local addresses live in a second LF rte_hash whose
 * data is a reference count, read and written by the control thread only;
 * workers just test membership. A key is deleted when its count drops to
 * zero and its position freed after a grace period.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "edgelb/log.h"
#include "svc_priv.h"

#define SVC_MAX_WORKERS	       1024u
#define SVC_LIMIT_SERVICES     (1u << 24)
#define SVC_LIMIT_BACKENDS     (1u << 26)
#define SVC_MAX_LADDRS_PER_SVC 1024u

/* rte_hash key of an address in the set; padding zeroed. */
/* 32 bytes, like struct svc_key: compared with vector loads. */
struct svc_addr_key {
	uint8_t family;
	uint8_t pad[3];
	uint8_t a[16];
	uint8_t zero[12];
};

/* ---- versions and reclamation ------------------------------------------ */

static void
ver_free(struct svc_table *t, struct svc *s)
{
	if (s->sched_state != NULL)
		s->sched->destroy(s->sched_state);
	/* a reader that still held s would now see it dead */
	__atomic_store_n(&s->magic, SVC_MAGIC_DEAD, __ATOMIC_RELEASE);
	rte_free(s);
	t->st.freed++;
}

/* Release r's slots, key position and version. */
static void
retire_do(struct svc_table *t, struct svc *ver, bool all_bslots,
	  struct rte_hash *h, int32_t pos, uint32_t svc_slot,
	  const uint32_t *bslots, uint32_t nbslots)
{
	uint32_t i;

	if (ver != NULL && all_bslots)
		for (i = 0; i < ver->nbackends; i++)
			svc_pool_release(&t->backends, ver->backends[i].slot);
	for (i = 0; i < nbslots; i++)
		svc_pool_release(&t->backends, bslots[i]);
	if (svc_slot != SVC_SLOT_NONE)
		svc_pool_release(&t->svcs, svc_slot);
	if (pos >= 0)
		rte_hash_free_key_with_position(h, pos);
	if (ver != NULL)
		ver_free(t, ver);
}

static void
retire_free(struct svc_table *t, struct svc_retire *r)
{
	retire_do(t, r->ver, r->all_bslots, r->h, r->pos, r->svc_slot,
		  r->bslots, r->nbslots);
	free(r);
}

/*
 * Queue what was just unpublished. Cannot fail: without memory for the
 * entry, wait for a grace period and free at once.
 */
static void
retire(struct svc_table *t, struct svc *ver, bool all_bslots,
       struct rte_hash *h, int32_t pos, uint32_t svc_slot,
       const uint32_t *bslots, uint32_t nbslots)
{
	struct svc_retire *r;

	if (ver != NULL)
		t->st.retired++;
	r = malloc(sizeof(*r) + (size_t)nbslots * sizeof(uint32_t));
	if (r == NULL) {
		rte_rcu_qsbr_synchronize(t->qsbr, RTE_QSBR_THRID_INVALID);
		t->st.sync_waits++;
		retire_do(t, ver, all_bslots, h, pos, svc_slot, bslots,
			  nbslots);
		return;
	}
	r->next = NULL;
	r->ver = ver;
	r->all_bslots = all_bslots;
	r->h = h;
	r->pos = pos;
	r->svc_slot = svc_slot;
	r->nbslots = nbslots;
	if (nbslots > 0)
		memcpy(r->bslots, bslots, nbslots * sizeof(uint32_t));
	/* after the unpublishing stores: the token orders them */
	r->token = rte_rcu_qsbr_start(t->qsbr);
	if (t->rtail != NULL)
		t->rtail->next = r;
	else
		t->rhead = r;
	t->rtail = r;
	t->npending++;
}

void
svc_table_reclaim(struct svc_table *t)
{
	struct svc_retire *r;

	while ((r = t->rhead) != NULL &&
	       rte_rcu_qsbr_check(t->qsbr, r->token, false) == 1) {
		t->rhead = r->next;
		if (t->rhead == NULL)
			t->rtail = NULL;
		t->npending--;
		retire_free(t, r);
	}
	svc_pool_drain(&t->svcs);
	svc_pool_drain(&t->backends);
}

/* A table is full: if retired objects hold room, wait for them. */
static bool
sync_reclaim(struct svc_table *t)
{
	if (t->rhead == NULL)
		return false;
	rte_rcu_qsbr_synchronize(t->qsbr, RTE_QSBR_THRID_INVALID);
	t->st.sync_waits++;
	svc_table_reclaim(t);
	return true;
}

static int
slot_alloc(struct svc_table *t, struct svc_pool *p, uint32_t *slot)
{
	int rc = svc_pool_alloc(p, slot);

	if (rc == -ENOSPC && sync_reclaim(t))
		rc = svc_pool_alloc(p, slot);
	return rc;
}

/* Build a version from e with a new scheduler state. */
static struct svc *
ver_build(struct svc_table *t, const struct svc_edit *e, char *err,
	  size_t errlen)
{
	struct sched_params sp = { .nworkers = t->nworkers,
				   .mh_size = e->s.mh_size,
				   .flags = e->s.flags };
	struct sched_backend *sb = NULL;
	struct svc *s;
	size_t sz;
	uint32_t i;

	sz = sizeof(*s) + (size_t)e->nb * sizeof(struct svc_backend) +
	     (size_t)e->nl * sizeof(struct lb_addr);
	s = rte_zmalloc_socket("svc", sz, RTE_CACHE_LINE_SIZE, t->socket_id);
	if (s == NULL)
		goto nomem;
	*s = e->s;
	s->magic = SVC_MAGIC_LIVE;
	s->nbackends = e->nb;
	s->backends = e->nb ? (struct svc_backend *)(s + 1) : NULL;
	s->nladdrs = e->nl;
	s->laddrs = e->nl ? (struct lb_addr *)((struct svc_backend *)(s + 1) +
					       e->nb)
			  : NULL;
	if (e->nb > 0)
		memcpy(s->backends, e->b, e->nb * sizeof(*e->b));
	if (e->nl > 0)
		memcpy(s->laddrs, e->l, e->nl * sizeof(*e->l));
	s->sched_state = NULL;
	if (e->nb > 0) {
		sb = calloc(e->nb, sizeof(*sb));
		if (sb == NULL)
			goto nomem;
	}
	for (i = 0; i < e->nb; i++) {
		sb[i].addr = e->b[i].addr;
		sb[i].port = e->b[i].port;
		sb[i].weight = e->b[i].weight;
	}
	errno = 0;
	s->sched_state = s->sched->create(sb, e->nb, &sp);
	if (s->sched_state == NULL) {
		int e2 = errno ? errno : ENOMEM;

		snprintf(err, errlen, "scheduler %s refused the service: %s",
			 s->sched->name, strerror(e2));
		free(sb);
		rte_free(s);
		errno = e2;
		return NULL;
	}
	free(sb);
	return s;
nomem:
	snprintf(err, errlen, "out of memory for the service");
	free(sb);
	rte_free(s);
	errno = ENOMEM;
	return NULL;
}

/* ---- address set ------------------------------------------------------- */

static void
addr_key(struct svc_addr_key *k, const struct lb_addr *a)
{
	memset(k, 0, sizeof(*k));
	k->family = a->family;
	memcpy(k->a, a->bytes, lb_addr_len(a));
}

/* Take a reference; *first tells whether a was new. 0 or -ENOSPC. */
static int
addr_ref(struct svc_table *t, const struct lb_addr *a, bool *first)
{
	struct svc_addr_key k;
	void *d;
	int rc;

	addr_key(&k, a);
	*first = false;
	if (rte_hash_lookup_data(t->addrs, &k, &d) >= 0) {
		d = (void *)((uintptr_t)d + 1);
		rc = rte_hash_add_key_data(t->addrs, &k, d);
		return rc < 0 ? rc : 0;
	}
	rc = rte_hash_add_key_data(t->addrs, &k, (void *)(uintptr_t)1);
	if (rc == -ENOSPC && sync_reclaim(t))
		rc = rte_hash_add_key_data(t->addrs, &k, (void *)(uintptr_t)1);
	if (rc < 0)
		return rc;
	*first = true;
	return 0;
}

/* Drop a reference; the callback hears of a last one unless quiet. */
static void
addr_unref(struct svc_table *t, const struct lb_addr *a, bool quiet)
{
	struct svc_addr_key k;
	uintptr_t n;
	int32_t pos;
	void *d;

	addr_key(&k, a);
	if (rte_hash_lookup_data(t->addrs, &k, &d) < 0)
		return;
	n = (uintptr_t)d;
	if (n > 1) {
		rte_hash_add_key_data(t->addrs, &k, (void *)(n - 1));
		return;
	}
	pos = rte_hash_del_key(t->addrs, &k);
	if (pos >= 0)
		retire(t, NULL, false, t->addrs, pos, SVC_SLOT_NONE, NULL, 0);
	if (!quiet && t->addr_cb != NULL)
		t->addr_cb(t->addr_arg, a, false);
}

static void
addr_announce(struct svc_table *t, const struct lb_addr *a, bool first)
{
	if (first && t->addr_cb != NULL)
		t->addr_cb(t->addr_arg, a, true);
}

bool
svc_addr_is_ours(struct svc_table *t, const struct lb_addr *addr)
{
	struct svc_addr_key k;

	addr_key(&k, addr);
	return rte_hash_lookup(t->addrs, &k) >= 0;
}

/* ---- table ------------------------------------------------------------- */

static struct rte_hash *
hash_create(const char *what, const void *t, uint32_t entries, uint32_t keylen,
	    int socket_id)
{
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = RTE_MAX(entries, 16u),
		.key_len = keylen,
		.socket_id = socket_id,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			      RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};

	snprintf(name, sizeof(name), "%s%" PRIxPTR, what, (uintptr_t)t);
	return rte_hash_create(&hp);
}

struct svc_table *
svc_table_create(const struct svc_table_conf *conf)
{
	struct svc_table *t;
	uint32_t nsvc, nbe;
	size_t sz;
	int err = ENOMEM;

	if (conf == NULL || conf->nworkers > SVC_MAX_WORKERS) {
		errno = EINVAL;
		return NULL;
	}
	nsvc = conf->max_services ? conf->max_services
				  : SVC_DEFAULT_MAX_SERVICES;
	nbe = conf->max_backends ? conf->max_backends
				 : SVC_DEFAULT_MAX_BACKENDS;
	if (nsvc > SVC_LIMIT_SERVICES || nbe > SVC_LIMIT_BACKENDS) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->nworkers = conf->nworkers ? conf->nworkers : 1;
	t->socket_id = conf->socket_id;
	t->max_laddrs =
		conf->max_laddrs ? conf->max_laddrs : SVC_DEFAULT_MAX_LADDRS;
	if (svc_pool_init(&t->svcs, nsvc, t->nworkers, t->socket_id) < 0 ||
	    svc_pool_init(&t->backends, nbe, t->nworkers, t->socket_id) < 0)
		goto err;
	t->by_slot = calloc(nsvc, sizeof(*t->by_slot));
	t->bmark = calloc((nbe + 63) / 64, sizeof(uint64_t));
	if (t->by_slot == NULL || t->bmark == NULL)
		goto err;
	t->h = hash_create("svc", t, nsvc, sizeof(struct svc_key),
			   t->socket_id);
	t->addrs = hash_create("svca", t, nsvc + t->max_laddrs,
			       sizeof(struct svc_addr_key), t->socket_id);
	if (t->h == NULL || t->addrs == NULL)
		goto err;
	sz = rte_rcu_qsbr_get_memsize(t->nworkers);
	t->qsbr = rte_zmalloc_socket("svc_qsbr", sz, RTE_CACHE_LINE_SIZE,
				     t->socket_id);
	if (t->qsbr == NULL)
		goto err;
	if (rte_rcu_qsbr_init(t->qsbr, t->nworkers) != 0) {
		err = EINVAL;
		goto err;
	}
	return t;
err:
	svc_table_destroy(t);
	errno = err;
	return NULL;
}

/* Workers must be offline: everything is freed at once. */
void
svc_table_destroy(struct svc_table *t)
{
	struct svc_retire *r;
	uint32_t i;

	if (t == NULL)
		return;
	while ((r = t->rhead) != NULL) {
		t->rhead = r->next;
		if (r->ver != NULL)
			ver_free(t, r->ver);
		free(r);
	}
	if (t->by_slot != NULL)
		for (i = 0; i < t->svcs.max; i++)
			if (t->by_slot[i] != NULL)
				ver_free(t, t->by_slot[i]);
	rte_hash_free(t->h);
	rte_hash_free(t->addrs);
	rte_free(t->qsbr);
	svc_pool_fini(&t->svcs);
	svc_pool_fini(&t->backends);
	free(t->by_slot);
	free(t->bmark);
	free(t);
}

void
svc_table_set_addr_cb(struct svc_table *t, svc_addr_cb cb, void *arg)
{
	t->addr_cb = cb;
	t->addr_arg = arg;
}

uint32_t
svc_table_count(const struct svc_table *t)
{
	return t->nservices;
}

void
svc_table_get_stats(const struct svc_table *t, struct svc_table_stats *st)
{
	*st = t->st;
	st->pending = t->npending;
	st->draining = t->svcs.ndrain + t->backends.ndrain;
	st->backends = t->backends.used;
	st->laddrs = t->nladdrs;
}

/* ---- changes (control thread) ------------------------------------------ */

static void
svc_key_make(struct svc_key *k, uint8_t proto, const struct lb_addr *vip,
	     uint16_t vport)
{
	memset(k, 0, sizeof(*k));
	k->proto = proto;
	k->family = vip->family;
	k->vport = vport;
	memcpy(k->addr, vip->bytes, lb_addr_len(vip));
}

struct svc *
svc_find(struct svc_table *t, uint8_t proto, const struct lb_addr *vip,
	 uint16_t vport)
{
	struct svc_key k;
	void *d;

	svc_key_make(&k, proto, vip, vport);
	return rte_hash_lookup_data(t->h, &k, &d) >= 0 ? d : NULL;
}

/* Give new backends of e a slot; on failure none keeps one. */
static int
edit_slots(struct svc_table *t, struct svc_edit *e, char *err, size_t errlen)
{
	uint32_t i;
	int rc;

	free(e->fresh);
	e->fresh = NULL;
	e->nfresh = 0;
	if (e->nb == 0)
		return 0;
	e->fresh = malloc(e->nb * sizeof(*e->fresh));
	if (e->fresh == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < e->nb; i++) {
		if (e->b[i].slot != SVC_SLOT_NONE)
			continue;
		rc = slot_alloc(t, &t->backends, &e->b[i].slot);
		if (rc < 0) {
			e->b[i].slot = SVC_SLOT_NONE;
			snprintf(err, errlen,
				 rc == -ENOSPC
					 ? "backend table full (%u backends)"
					 : "out of memory for counters (%u)",
				 t->backends.max);
			return rc;
		}
		e->fresh[e->nfresh++] = i;
	}
	return 0;
}

/* Undo edit_slots(). */
static void
edit_unslots(struct svc_table *t, struct svc_edit *e)
{
	uint32_t k;

	for (k = 0; k < e->nfresh; k++) {
		svc_pool_unalloc(&t->backends, e->b[e->fresh[k]].slot);
		e->b[e->fresh[k]].slot = SVC_SLOT_NONE;
	}
	e->nfresh = 0;
}

static bool
laddr_in(const struct lb_addr *a, const struct lb_addr *l, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (lb_addr_equal(a, &l[i]))
			return true;
	return false;
}

static int
laddr_room(struct svc_table *t, uint32_t now, uint32_t want, char *err,
	   size_t errlen)
{
	if (want > SVC_MAX_LADDRS_PER_SVC) {
		snprintf(err, errlen,
			 "a service has at most %u local addresses",
			 SVC_MAX_LADDRS_PER_SVC);
		return -ENOSPC;
	}
	if (want > now && t->nladdrs + (want - now) > t->max_laddrs) {
		snprintf(err, errlen, "local address table full (%u)",
			 t->max_laddrs);
		return -ENOSPC;
	}
	return 0;
}

int
svc_create(struct svc_table *t, struct svc_edit *e, char *err, size_t errlen)
{
	struct svc *s = NULL;
	struct svc_key k;
	bool *first = NULL;
	uint32_t i, nref = 0;
	int32_t pos;
	int rc;

	if (svc_find(t, e->s.proto, &e->s.vip, e->s.vport) != NULL) {
		snprintf(err, errlen, "service exists");
		return -EEXIST;
	}
	rc = laddr_room(t, 0, e->nl, err, errlen);
	if (rc < 0)
		return rc;
	rc = slot_alloc(t, &t->svcs, &e->s.slot);
	if (rc < 0) {
		e->s.slot = SVC_SLOT_NONE;
		snprintf(err, errlen,
			 rc == -ENOSPC ? "service table full (%u services)"
				       : "out of memory for counters (%u)",
			 t->svcs.max);
		return rc;
	}
	for (i = 0; i < e->nb; i++)
		e->b[i].slot = SVC_SLOT_NONE;
	rc = edit_slots(t, e, err, errlen);
	if (rc < 0)
		goto err;
	s = ver_build(t, e, err, errlen);
	first = calloc(1 + e->nl, sizeof(*first));
	if (s == NULL || first == NULL) {
		rc = s == NULL ? -errno : -ENOMEM;
		if (s != NULL)
			snprintf(err, errlen, "out of memory");
		goto err;
	}
	/* last steps that can fail: address references, the hash entry */
	rc = addr_ref(t, &s->vip, &first[0]);
	if (rc < 0)
		goto err_addr;
	nref = 1;
	for (i = 0; i < s->nladdrs; i++, nref++) {
		rc = addr_ref(t, &s->laddrs[i], &first[1 + i]);
		if (rc < 0)
			goto err_addr;
	}
	svc_key_make(&k, s->proto, &s->vip, s->vport);
	pos = rte_hash_add_key_data(t->h, &k, s);
	if (pos == -ENOSPC && sync_reclaim(t))
		pos = rte_hash_add_key_data(t->h, &k, s);
	if (pos < 0) {
		rc = pos;
		goto err_addr;
	}
	t->by_slot[s->slot] = s;
	t->nservices++;
	t->nladdrs += s->nladdrs;
	t->st.published++;
	if (s->vport == 0)
		__atomic_add_fetch(&t->nany, 1, __ATOMIC_RELAXED);
	addr_announce(t, &s->vip, first[0]);
	for (i = 0; i < s->nladdrs; i++)
		addr_announce(t, &s->laddrs[i], first[1 + i]);
	free(first);
	return 0;
err_addr:
	snprintf(err, errlen, "address table full");
	for (i = 0; i < nref; i++)
		addr_unref(t, i == 0 ? &s->vip : &s->laddrs[i - 1], true);
err:
	if (s != NULL) {
		s->sched->destroy(s->sched_state);
		rte_free(s);
	}
	free(first);
	edit_unslots(t, e);
	svc_pool_unalloc(&t->svcs, e->s.slot);
	e->s.slot = SVC_SLOT_NONE;
	return rc;
}

int
svc_update(struct svc_table *t, struct svc *old, struct svc_edit *e, char *err,
	   size_t errlen)
{
	uint32_t *rm = NULL, nrm = 0, i, nref = 0;
	struct svc *s = NULL;
	struct svc_key k;
	bool *first = NULL;
	int32_t pos;
	int rc;

	rc = laddr_room(t, old->nladdrs, e->nl, err, errlen);
	if (rc < 0)
		return rc;
	e->s.slot = old->slot;
	rc = edit_slots(t, e, err, errlen);
	if (rc < 0)
		return rc;
	s = ver_build(t, e, err, errlen);
	first = calloc(1 + e->nl, sizeof(*first));
	rm = malloc((old->nbackends + 1) * sizeof(*rm));
	if (s == NULL || first == NULL || rm == NULL) {
		rc = s == NULL ? -errno : -ENOMEM;
		if (s != NULL)
			snprintf(err, errlen, "out of memory");
		goto err;
	}
	/* backends of old that s no longer has: release after the grace */
	for (i = 0; i < s->nbackends; i++)
		t->bmark[s->backends[i].slot / 64] |=
			1ull << (s->backends[i].slot % 64);
	for (i = 0; i < old->nbackends; i++) {
		uint32_t sl = old->backends[i].slot;

		if (!(t->bmark[sl / 64] & (1ull << (sl % 64))))
			rm[nrm++] = sl;
	}
	for (i = 0; i < s->nbackends; i++)
		t->bmark[s->backends[i].slot / 64] = 0;
	for (i = 0; i < s->nladdrs; i++) {
		if (laddr_in(&s->laddrs[i], old->laddrs, old->nladdrs))
			continue;
		rc = addr_ref(t, &s->laddrs[i], &first[i]);
		if (rc < 0) {
			snprintf(err, errlen, "address table full");
			goto err_addr;
		}
		nref = i + 1;
	}
	svc_key_make(&k, s->proto, &s->vip, s->vport);
	pos = rte_hash_add_key_data(t->h, &k, s); /* replaces old */
	if (pos < 0) {
		rc = pos;
		snprintf(err, errlen, "service hash update failed");
		goto err_addr;
	}
	t->by_slot[s->slot] = s;
	t->nladdrs = t->nladdrs - old->nladdrs + s->nladdrs;
	t->st.published++;
	for (i = 0; i < old->nladdrs; i++)
		if (!laddr_in(&old->laddrs[i], s->laddrs, s->nladdrs))
			addr_unref(t, &old->laddrs[i], false);
	retire(t, old, false, NULL, -1, SVC_SLOT_NONE, rm, nrm);
	for (i = 0; i < s->nladdrs; i++)
		addr_announce(t, &s->laddrs[i], first[i]);
	free(rm);
	free(first);
	return 0;
err_addr:
	for (i = 0; i < nref; i++)
		if (!laddr_in(&s->laddrs[i], old->laddrs, old->nladdrs))
			addr_unref(t, &s->laddrs[i], true);
err:
	if (s != NULL) {
		s->sched->destroy(s->sched_state);
		rte_free(s);
	}
	free(rm);
	free(first);
	edit_unslots(t, e);
	return rc;
}

void
svc_delete(struct svc_table *t, struct svc *old)
{
	struct svc_key k;
	int32_t pos;
	uint32_t i;

	svc_key_make(&k, old->proto, &old->vip, old->vport);
	pos = rte_hash_del_key(t->h, &k);
	t->by_slot[old->slot] = NULL;
	t->nservices--;
	t->nladdrs -= old->nladdrs;
	if (old->vport == 0)
		__atomic_sub_fetch(&t->nany, 1, __ATOMIC_RELAXED);
	addr_unref(t, &old->vip, false);
	for (i = 0; i < old->nladdrs; i++)
		addr_unref(t, &old->laddrs[i], false);
	retire(t, old, true, t->h, pos, old->slot, NULL, 0);
}

/* ---- workers ----------------------------------------------------------- */

void
svc_worker_online(struct svc_table *t, unsigned int worker)
{
	rte_rcu_qsbr_thread_register(t->qsbr, worker);
	rte_rcu_qsbr_thread_online(t->qsbr, worker);
}

void
svc_worker_offline(struct svc_table *t, unsigned int worker)
{
	rte_rcu_qsbr_thread_offline(t->qsbr, worker);
	rte_rcu_qsbr_thread_unregister(t->qsbr, worker);
}

void
svc_worker_quiescent(struct svc_table *t, unsigned int worker)
{
	rte_rcu_qsbr_quiescent(t->qsbr, worker);
}

const struct svc *
svc_lookup(struct svc_table *t, uint8_t proto, const struct lb_addr *vip,
	   uint16_t vport)
{
	struct svc_key k;
	void *d;

	svc_key_make(&k, proto, vip, vport);
	if (rte_hash_lookup_data(t->h, &k, &d) >= 0)
		return d;
	if (vport == 0 || __atomic_load_n(&t->nany, __ATOMIC_RELAXED) == 0)
		return NULL;
	k.vport = 0;
	if (rte_hash_lookup_data(t->h, &k, &d) >= 0)
		return d;
	return NULL;
}

const struct svc_backend *
svc_schedule(const struct svc *s, unsigned int worker,
	     const struct sched_flow *f, const struct sched_load *l)
{
	const struct svc_backend *b;
	int32_t i;

	if (s->nbackends == 0)
		return NULL;
	i = s->sched->pick(s->sched_state, worker, f, l);
	if (i < 0 || (uint32_t)i >= s->nbackends)
		return NULL;
	b = &s->backends[i];
	return b->weight > 0 ? b : NULL;
}

struct svc_counters *
svc_counters(struct svc_table *t, unsigned int worker, uint32_t svc_slot)
{
	return svc_pool_cnt(&t->svcs, worker, svc_slot);
}

struct svc_counters *
svc_backend_counters(struct svc_table *t, unsigned int worker,
		     uint32_t backend_slot)
{
	return svc_pool_cnt(&t->backends, worker, backend_slot);
}
