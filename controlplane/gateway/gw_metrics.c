/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The gateway's Prometheus series (see gw_metrics.h).
 *
 * Requests are counted without a lock: every thread that ends requests
 * has a shard of its own (found through a thread-local cache, made and
 * linked into the list under the mutex on the thread's first request),
 * with its own hash of (kind, stage, name) entries. Only that thread
 * writes a shard, with relaxed atomic stores; entries are appended to
 * fixed chunks and published by a release store of the count, so the
 * collector reads every shard while its thread counts on. The collector
 * (under the mutex) adds the shards up into the global entries, which
 * keep the histogram series and what was already observed into them.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_filter.h"
#include "gw_metrics.h"
#include "gw_route.h"
#include "metrics.h"

#define NB	  13	/* histogram bounds */
#define HASH_SIZE 16384 /* slots, a power of two over 2 x series */
#define STAGE_MAX 32
#define CHUNK	  256 /* shard entries per chunk */
#define NCHUNKS	  (GW_METRICS_SERIES_MAX / CHUNK)
#define TLS_CACHE 4 /* gw_metrics instances a thread remembers */

static const double bounds[NB] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				   0.25,  0.5,	  1,	 2.5,  5,     10 };

static const char *const class_names[6] = { "none", "1xx", "2xx",
					    "3xx",  "4xx", "5xx" };

enum ent_kind {
	ENT_ROUTE,
	ENT_UPSTREAM,
	ENT_UNROUTED,
};

/* One thread's counts of one series. */
struct sent {
	enum ent_kind kind;
	char stage[STAGE_MAX];
	char name[GW_NAME_MAX];
	uint64_t cls[6];
	uint64_t retries;
	uint64_t hist[NB + 1]; /* durations by bucket (NB: +Inf) */
	uint64_t sum_ns;       /* and their sum */
};

/* What one thread counted; written by that thread only. */
struct shard {
	struct shard *next; /* gm->shards, under gm->mu */
	size_t n;	    /* entries published (release/acquire) */
	struct sent *chunk[NCHUNKS];
	int32_t *slot; /* HASH_SIZE: entry index, -1 empty */
	uint64_t dropped;
	uint64_t totals[6]; /* every request, by class */
};

/* A series as the collector keeps it (under mu). */
struct ent {
	enum ent_kind kind;
	char stage[STAGE_MAX];
	char name[GW_NAME_MAX];
	/* the shards' sums at this scrape */
	uint64_t cls[6];
	uint64_t retries;
	uint64_t hist[NB + 1];
	uint64_t sum_ns;
	/* what the histogram series has had */
	uint64_t seen[NB + 1];
	uint64_t seen_sum_ns;
	struct metrics_series *hist_s; /* daemon's thread */
	/* upstreams: what retired tables counted */
	uint64_t base_connect, base_eject;
	uint64_t base_pending, base_maxreq; /* max_pending, max_requests */
};

struct gw_metrics {
	pthread_mutex_t mu;
	uint64_t id; /* for the threads' caches: never reused */
	struct metrics *reg;
	struct metrics_family *f_lat;
	size_t n;
	struct ent *ents; /* GW_METRICS_SERIES_MAX */
	int32_t *slot;	  /* HASH_SIZE: index in ents, -1 empty */
	uint64_t dropped; /* series over GW_METRICS_SERIES_MAX */
	struct shard *shards;
};

static uint64_t next_id = 1; /* atomic */

static __thread struct {
	uint64_t id;
	struct shard *sh;
} tls_cache[TLS_CACHE];

/* Relaxed: only the owner writes, the collector reads. */
#define BUMP(field, v)                                                         \
	__atomic_store_n(&(field),                                             \
			 __atomic_load_n(&(field), __ATOMIC_RELAXED) + (v),    \
			 __ATOMIC_RELAXED)
#define READ(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

struct gw_metrics *
gw_metrics_new(struct metrics *reg)
{
	struct gw_metrics *gm = calloc(1, sizeof(*gm));

	if (gm == NULL)
		return NULL;
	gm->ents = calloc(GW_METRICS_SERIES_MAX, sizeof(*gm->ents));
	gm->slot = malloc(HASH_SIZE * sizeof(*gm->slot));
	if (gm->ents == NULL || gm->slot == NULL)
		goto err;
	for (size_t i = 0; i < HASH_SIZE; i++)
		gm->slot[i] = -1;
	gm->reg = reg;
	if (reg != NULL) {
		gm->f_lat = metrics_family(
			reg, "edgelbd_gateway_request_duration_seconds",
			"Time from a request's head to the end of its answer, "
			"by stage and route.",
			METRICS_HISTOGRAM, bounds, NB);
		if (gm->f_lat == NULL)
			goto err;
	}
	pthread_mutex_init(&gm->mu, NULL);
	gm->id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
	return gm;
err:
	free(gm->ents);
	free(gm->slot);
	free(gm);
	errno = ENOMEM;
	return NULL;
}

void
gw_metrics_free(struct gw_metrics *gm)
{
	if (gm == NULL)
		return;
	pthread_mutex_destroy(&gm->mu);
	while (gm->shards != NULL) {
		struct shard *sh = gm->shards;

		gm->shards = sh->next;
		for (size_t i = 0; i < NCHUNKS; i++)
			free(sh->chunk[i]);
		free(sh->slot);
		free(sh);
	}
	free(gm->ents);
	free(gm->slot);
	free(gm);
}

static uint32_t
hash_key(enum ent_kind k, const char *stage, const char *name)
{
	uint32_t h = 2166136261u ^ (uint32_t)k;

	for (; *stage != '\0'; stage++)
		h = (h ^ (unsigned char)*stage) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

/* The entry of (kind, stage, name), made on first use; NULL when full.
 * Under mu. */
static struct ent *
ent_get(struct gw_metrics *gm, enum ent_kind k, const char *stage,
	const char *name)
{
	uint32_t h = hash_key(k, stage, name) & (HASH_SIZE - 1);
	struct ent *e;

	for (;; h = (h + 1) & (HASH_SIZE - 1)) {
		int32_t i = gm->slot[h];

		if (i < 0)
			break;
		e = &gm->ents[i];
		if (e->kind == k && strcmp(e->stage, stage) == 0 &&
		    strcmp(e->name, name) == 0)
			return e;
	}
	if (gm->n >= GW_METRICS_SERIES_MAX) {
		gm->dropped++;
		return NULL;
	}
	e = &gm->ents[gm->n];
	e->kind = k;
	snprintf(e->stage, sizeof(e->stage), "%s", stage);
	snprintf(e->name, sizeof(e->name), "%s", name);
	gm->slot[h] = (int32_t)gm->n++;
	return e;
}

/* The calling thread's shard of gm, made on first use; NULL on ENOMEM. */
static struct shard *
shard_get(struct gw_metrics *gm)
{
	struct shard *sh;
	size_t free_i = TLS_CACHE;

	for (size_t i = 0; i < TLS_CACHE; i++) {
		if (tls_cache[i].id == gm->id)
			return tls_cache[i].sh;
		if (free_i == TLS_CACHE && tls_cache[i].id == 0)
			free_i = i;
	}
	sh = calloc(1, sizeof(*sh));
	if (sh == NULL)
		return NULL;
	sh->slot = malloc(HASH_SIZE * sizeof(*sh->slot));
	if (sh->slot == NULL) {
		free(sh);
		return NULL;
	}
	for (size_t i = 0; i < HASH_SIZE; i++)
		sh->slot[i] = -1;
	pthread_mutex_lock(&gm->mu);
	sh->next = gm->shards;
	gm->shards = sh;
	pthread_mutex_unlock(&gm->mu);
	/* a thread that served more instances forgets the oldest: a new
	 * shard for it then (still linked, still counted) */
	if (free_i == TLS_CACHE) {
		memmove(&tls_cache[0], &tls_cache[1],
			(TLS_CACHE - 1) * sizeof(tls_cache[0]));
		free_i = TLS_CACHE - 1;
	}
	tls_cache[free_i].id = gm->id;
	tls_cache[free_i].sh = sh;
	return sh;
}

static struct sent *
sent_at(const struct shard *sh, size_t i)
{
	return &sh->chunk[i / CHUNK][i % CHUNK];
}

/* The shard's entry of (kind, stage, name), made on first use; NULL when
 * full or out of memory. The shard's thread only. */
static struct sent *
sent_get(struct shard *sh, enum ent_kind k, const char *stage, const char *name)
{
	uint32_t h = hash_key(k, stage, name) & (HASH_SIZE - 1);
	size_t n = sh->n;
	struct sent *e;

	for (;; h = (h + 1) & (HASH_SIZE - 1)) {
		int32_t i = sh->slot[h];

		if (i < 0)
			break;
		e = sent_at(sh, (size_t)i);
		if (e->kind == k && strcmp(e->name, name) == 0 &&
		    strcmp(e->stage, stage) == 0)
			return e;
	}
	if (n >= GW_METRICS_SERIES_MAX) {
		BUMP(sh->dropped, 1);
		return NULL;
	}
	if (sh->chunk[n / CHUNK] == NULL) {
		sh->chunk[n / CHUNK] = calloc(CHUNK, sizeof(struct sent));
		if (sh->chunk[n / CHUNK] == NULL) {
			BUMP(sh->dropped, 1);
			return NULL;
		}
	}
	e = sent_at(sh, n);
	e->kind = k;
	snprintf(e->stage, sizeof(e->stage), "%s", stage);
	snprintf(e->name, sizeof(e->name), "%s", name);
	sh->slot[h] = (int32_t)n;
	__atomic_store_n(&sh->n, n + 1, __ATOMIC_RELEASE);
	return e;
}

static int
class_of(int status)
{
	return status >= 100 && status < 600 ? status / 100 : 0;
}

void
gw_metrics_done(struct gw_metrics *gm, const char *stage,
		const struct gw_done *d)
{
	int cls = class_of(d->status);
	uint64_t ns = d->end_ns > d->start_ns ? d->end_ns - d->start_ns : 0;
	double secs = (double)ns / 1e9;
	uint32_t retries = d->attempts > 1 ? d->attempts - 1 : 0;
	struct shard *sh = shard_get(gm);
	struct sent *e;
	size_t b;

	if (sh == NULL) {
		pthread_mutex_lock(&gm->mu);
		gm->dropped++;
		pthread_mutex_unlock(&gm->mu);
		return;
	}
	BUMP(sh->totals[cls], 1);
	if (d->route == NULL) {
		e = sent_get(sh, ENT_UNROUTED, stage, "");
		if (e != NULL)
			BUMP(e->cls[cls], 1);
		return;
	}
	e = sent_get(sh, ENT_ROUTE, stage, d->route->conf->name);
	if (e != NULL) {
		BUMP(e->cls[cls], 1);
		if (retries > 0)
			BUMP(e->retries, retries);
		for (b = 0; b < NB && secs > bounds[b]; b++)
			;
		BUMP(e->hist[b], 1);
		BUMP(e->sum_ns, ns);
	}
	if (d->upstream != NULL) {
		e = sent_get(sh, ENT_UPSTREAM, "", d->upstream);
		if (e != NULL) {
			BUMP(e->cls[cls], 1);
			if (retries > 0)
				BUMP(e->retries, retries);
		}
	}
}

/* Every shard added up into the global entries (their sums). Under mu. */
static void
gather(struct gw_metrics *gm)
{
	for (size_t i = 0; i < gm->n; i++) {
		struct ent *e = &gm->ents[i];

		memset(e->cls, 0, sizeof(e->cls));
		memset(e->hist, 0, sizeof(e->hist));
		e->retries = e->sum_ns = 0;
	}
	for (struct shard *sh = gm->shards; sh != NULL; sh = sh->next) {
		size_t n = __atomic_load_n(&sh->n, __ATOMIC_ACQUIRE);

		for (size_t i = 0; i < n; i++) {
			struct sent *s = sent_at(sh, i);
			struct ent *e = ent_get(gm, s->kind, s->stage, s->name);

			if (e == NULL)
				continue;
			for (int c = 0; c < 6; c++)
				e->cls[c] += READ(s->cls[c]);
			e->retries += READ(s->retries);
			for (size_t b = 0; b <= NB; b++)
				e->hist[b] += READ(s->hist[b]);
			e->sum_ns += READ(s->sum_ns);
		}
	}
}

void
gw_metrics_retire_upstream(struct gw_metrics *gm, const char *name,
			   const struct gw_upstream_stats *st)
{
	struct ent *e;

	pthread_mutex_lock(&gm->mu);
	e = ent_get(gm, ENT_UPSTREAM, "", name);
	if (e != NULL) {
		e->base_connect += st->connect_errors;
		e->base_eject += st->ejections;
		e->base_pending += st->pending_overflow;
		e->base_maxreq += st->max_requests;
	}
	pthread_mutex_unlock(&gm->mu);
}

/*
 * Observe into e's histogram series what the shards counted since the
 * last scrape. The registry takes one observation at a time: each new one
 * is observed at the lowest value of its bucket (0, or just above the
 * bound below), which puts it in the right bucket and adds at most its
 * true value to the sum; the rest of the true sum is added after.
 */
static void
flush_hist(struct gw_metrics *gm, struct ent *e)
{
	double added = 0, sum;

	if (gm->f_lat == NULL)
		return;
	if (e->hist_s == NULL) {
		struct metrics_label l[2] = { { "stage", e->stage },
					      { "route", e->name } };

		e->hist_s = metrics_series(gm->f_lat, l, 2);
		if (e->hist_s == NULL)
			return;
	}
	for (size_t b = 0; b <= NB; b++) {
		double v = b == 0 ? 0.0 : nextafter(bounds[b - 1], INFINITY);

		for (uint64_t k = e->seen[b]; k < e->hist[b]; k++) {
			metrics_observe(e->hist_s, v);
			added += v;
		}
		if (e->hist[b] > e->seen[b])
			e->seen[b] = e->hist[b];
	}
	if (e->sum_ns > e->seen_sum_ns) {
		sum = (double)(e->sum_ns - e->seen_sum_ns) / 1e9;
		if (sum > added)
			metrics_add(e->hist_s, sum - added);
		e->seen_sum_ns = e->sum_ns;
	}
}

static void
put_classes(struct metrics *m, const char *name, const char *help,
	    struct metrics_label *l, size_t nl, const uint64_t cls[6])
{
	for (int c = 0; c < 6; c++) {
		if (cls[c] == 0)
			continue;
		l[nl].name = "class";
		l[nl].value = class_names[c];
		metrics_put(m, name, help, METRICS_COUNTER, l, nl + 1,
			    (double)cls[c]);
	}
}

int
gw_metrics_collect(struct gw_metrics *gm, struct metrics *m,
		   const struct gw_metrics_up *ups, size_t nups)
{
	pthread_mutex_lock(&gm->mu);
	for (size_t j = 0; j < nups; j++) /* shown before their 1st request */
		(void)ent_get(gm, ENT_UPSTREAM, "", ups[j].name);
	gather(gm);
	for (size_t i = 0; i < gm->n; i++) {
		struct ent *e = &gm->ents[i];
		struct metrics_label l[3];

		switch (e->kind) {
		case ENT_ROUTE:
			l[0] = (struct metrics_label){ "stage", e->stage };
			l[1] = (struct metrics_label){ "route", e->name };
			put_classes(m, "edgelbd_gateway_requests_total",
				    "Gateway requests by stage, route and "
				    "status class.",
				    l, 2, e->cls);
			metrics_put(m, "edgelbd_gateway_retries_total",
				    "Upstream attempts after the first, by "
				    "stage and route.",
				    METRICS_COUNTER, l, 2, (double)e->retries);
			flush_hist(gm, e);
			break;
		case ENT_UNROUTED:
			l[0] = (struct metrics_label){ "stage", e->stage };
			metrics_put(m, "edgelbd_gateway_unrouted_total",
				    "Gateway requests no route matched (404).",
				    METRICS_COUNTER, l, 1,
				    (double)(e->cls[4] + e->cls[0]));
			break;
		case ENT_UPSTREAM:
			l[0] = (struct metrics_label){ "upstream", e->name };
			put_classes(m,
				    "edgelbd_gateway_upstream_requests_total",
				    "Gateway requests sent to an upstream, by "
				    "the status class of the answer.",
				    l, 1, e->cls);
			metrics_put(m, "edgelbd_gateway_upstream_retries_total",
				    "Upstream attempts after the first.",
				    METRICS_COUNTER, l, 1, (double)e->retries);
			break;
		}
	}
	for (size_t i = 0; i < gm->n; i++) {
		struct ent *e = &gm->ents[i];
		struct metrics_label l = { "upstream", e->name };
		uint64_t conn = e->base_connect, ej = e->base_eject;
		uint64_t pend = e->base_pending, maxreq = e->base_maxreq;

		if (e->kind != ENT_UPSTREAM)
			continue;
		for (size_t j = 0; j < nups; j++)
			if (strcmp(ups[j].name, e->name) == 0) {
				conn += ups[j].st.connect_errors;
				ej += ups[j].st.ejections;
				pend += ups[j].st.pending_overflow;
				maxreq += ups[j].st.max_requests;
			}
		metrics_put(m,
			    "edgelbd_gateway_upstream_pending_overflow_total",
			    "Requests answered 503 because max_pending already "
			    "waited for a connection to the instance.",
			    METRICS_COUNTER, &l, 1, (double)pend);
		metrics_put(m, "edgelbd_gateway_upstream_max_requests_total",
			    "Requests answered 503 because max_requests were "
			    "in flight on the upstream.",
			    METRICS_COUNTER, &l, 1, (double)maxreq);
		metrics_put(m, "edgelbd_gateway_upstream_connect_errors_total",
			    "Upstream connections that failed, were refused "
			    "or reset before an answer.",
			    METRICS_COUNTER, &l, 1, (double)conn);
		metrics_put(m, "edgelbd_gateway_upstream_ejections_total",
			    "Instances ejected by passive health checking.",
			    METRICS_COUNTER, &l, 1, (double)ej);
	}
	for (size_t j = 0; j < nups; j++) {
		struct metrics_label s[3] = { { "stage", ups[j].stage },
					      { "upstream", ups[j].name },
					      { "state", "up" } };

		metrics_put(m, "edgelbd_gateway_upstream_instances",
			    "Instances of an upstream in a stage's table by "
			    "state: up (healthy, not ejected) or down.",
			    METRICS_GAUGE, s, 3, (double)ups[j].available);
		s[2].value = "down";
		metrics_put(m, "edgelbd_gateway_upstream_instances",
			    "Instances of an upstream in a stage's table by "
			    "state: up (healthy, not ejected) or down.",
			    METRICS_GAUGE, s, 3, (double)ups[j].unavailable);
	}
	pthread_mutex_unlock(&gm->mu);
	return 0;
}

struct inst_arg {
	struct metrics *m;
	const char *stage;
};

/* One filter instance's own counters (gw_filters_each). */
static void
put_instance(void *arg, const char *name, const char *type,
	     const struct gw_fcounter *c, size_t n)
{
	struct inst_arg *a = arg;
	char full[128];

	(void)type;
	for (size_t i = 0; i < n; i++) {
		struct metrics_label l[3] = {
			{ "stage", a->stage },
			{ "filter", name },
			{ c[i].lkey, c[i].lval },
		};

		snprintf(full, sizeof(full), "edgelbd_gateway_%s", c[i].name);
		metrics_put(a->m, full, c[i].help,
			    c[i].gauge ? METRICS_GAUGE : METRICS_COUNTER, l,
			    c[i].lkey != NULL ? 3 : 2, (double)c[i].v);
	}
}

void
gw_metrics_collect_filters(struct metrics *m, const char *stage,
			   const struct gw_table *t)
{
	struct inst_arg a = { m, stage };

	gw_filters_each(t, put_instance, &a);
	for (size_t i = 0; t != NULL && i < gw_table_nroutes(t); i++) {
		const struct gw_route *r = gw_table_route(t, i);

		for (size_t k = 0; k < gw_route_nfilters(r); k++) {
			const struct gw_filter_stats *st =
				gw_route_filter_stats(r, k);
			struct metrics_label l[5] = {
				{ "stage", stage },
				{ "route", r->conf->name },
				{ "filter", gw_route_filter_name(r, k) },
				{ "type", gw_route_filter_type(r, k) },
			};

			if (st == NULL)
				continue;
			metrics_put(m, "edgelbd_gateway_filter_passed_total",
				    "Requests a route's filter let through.",
				    METRICS_COUNTER, l, 4,
				    (double)READ(st->passed));
			for (int w = 0; w < GW_FR_MAX; w++) {
				uint64_t v = READ(st->reasons[w]);

				if (v == 0)
					continue;
				l[4] = (struct metrics_label){
					"reason",
					gw_freason_label((enum gw_freason)w)
				};
				metrics_put(
					m,
					"edgelbd_gateway_filter_answered_"
					"total",
					"Requests a route's filter answered "
					"itself, by reason.",
					METRICS_COUNTER, l, 5, (double)v);
			}
		}
	}
}

void
gw_metrics_collect_proxy(struct metrics *m, const struct gw_proxy_stats *s)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} c[] = {
#define C(N, F, H)                                                             \
	{ "edgelbd_gateway_" N, H, offsetof(struct gw_proxy_stats, F) }
		C("websocket_upgrades_total", ws_upgrades,
		  "WebSocket tunnels opened (a 101 relayed)."),
		C("websocket_refused_total", ws_refused,
		  "WebSocket upgrades the upstream answered without a 101."),
		C("websocket_failed_total", ws_failed,
		  "WebSocket upgrades that failed before a tunnel."),
		C("websocket_early_total", ws_early,
		  "WebSocket upgrades whose client sent bytes before the "
		  "101."),
		C("websocket_held_total", ws_held,
		  "Times a WebSocket tunnel side paused for the other's "
		  "output."),
		C("websocket_idle_closes_total", ws_idle_closes,
		  "WebSocket tunnels closed by the idle timeout."),
		C("grpc_errors_total", grpc_errors,
		  "Gateway answers to gRPC requests in gRPC's form "
		  "(grpc-status)."),
#undef C
	};
	struct metrics_label dir;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		metrics_put(m, c[i].name, c[i].help, METRICS_COUNTER, NULL, 0,
			    (double)*(const uint64_t *)((const char *)s +
							c[i].off));
	metrics_put(m, "edgelbd_gateway_websocket_active",
		    "WebSocket tunnels open.", METRICS_GAUGE, NULL, 0,
		    (double)s->ws_active);
	dir = (struct metrics_label){ "direction", "up" };
	metrics_put(m, "edgelbd_gateway_websocket_bytes_total",
		    "Bytes through WebSocket tunnels: up (client to "
		    "upstream) or down.",
		    METRICS_COUNTER, &dir, 1, (double)s->ws_bytes_up);
	dir.value = "down";
	metrics_put(m, "edgelbd_gateway_websocket_bytes_total",
		    "Bytes through WebSocket tunnels: up (client to "
		    "upstream) or down.",
		    METRICS_COUNTER, &dir, 1, (double)s->ws_bytes_down);
	dir.value = "in";
	metrics_put(m, "edgelbd_gateway_trailers_total",
		    "Messages relayed with trailers: in (requests) or out "
		    "(answers).",
		    METRICS_COUNTER, &dir, 1, (double)s->trailers_in);
	dir.value = "out";
	metrics_put(m, "edgelbd_gateway_trailers_total",
		    "Messages relayed with trailers: in (requests) or out "
		    "(answers).",
		    METRICS_COUNTER, &dir, 1, (double)s->trailers_out);
}

void
gw_metrics_totals(struct gw_metrics *gm, uint64_t cls[6], uint64_t *dropped)
{
	pthread_mutex_lock(&gm->mu);
	memset(cls, 0, 6 * sizeof(*cls));
	*dropped = gm->dropped;
	for (struct shard *sh = gm->shards; sh != NULL; sh = sh->next) {
		for (int c = 0; c < 6; c++)
			cls[c] += READ(sh->totals[c]);
		*dropped += READ(sh->dropped);
	}
	pthread_mutex_unlock(&gm->mu);
}
