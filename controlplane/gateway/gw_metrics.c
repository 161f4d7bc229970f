/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The gateway's Prometheus series (see gw_metrics.h).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_metrics.h"
#include "metrics.h"

#define NB	  13	/* histogram bounds */
#define HASH_SIZE 16384 /* slots, a power of two over 2 x series */
#define STAGE_MAX 32

static const double bounds[NB] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				   0.25,  0.5,	  1,	 2.5,  5,     10 };

static const char *const class_names[6] = { "none", "1xx", "2xx",
					    "3xx",  "4xx", "5xx" };

enum ent_kind {
	ENT_ROUTE,
	ENT_UPSTREAM,
	ENT_UNROUTED,
};

struct ent {
	enum ent_kind kind;
	char stage[STAGE_MAX];
	char name[GW_NAME_MAX];
	uint64_t cls[6];
	uint64_t retries;
	/* durations not yet in the histogram: counts per bucket (NB: +Inf)
	 * and their sum */
	uint64_t pend[NB + 1];
	double pend_sum;
	struct metrics_series *hist; /* daemon's thread */
	/* upstreams: what retired tables counted */
	uint64_t base_connect, base_eject;
};

struct gw_metrics {
	pthread_mutex_t mu;
	struct metrics *reg;
	struct metrics_family *f_lat;
	size_t n;
	struct ent *ents;   /* GW_METRICS_SERIES_MAX */
	int32_t *slot;	    /* HASH_SIZE: index in ents, -1 empty */
	uint64_t dropped;   /* series over GW_METRICS_SERIES_MAX */
	uint64_t totals[6]; /* every request, by class */
};

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
	double secs = d->end_ns > d->start_ns
			      ? (double)(d->end_ns - d->start_ns) / 1e9
			      : 0.0;
	uint32_t retries = d->attempts > 1 ? d->attempts - 1 : 0;
	struct ent *e;
	size_t b;

	pthread_mutex_lock(&gm->mu);
	gm->totals[cls]++;
	if (d->route == NULL) {
		e = ent_get(gm, ENT_UNROUTED, stage, "");
		if (e != NULL)
			e->cls[cls]++;
		pthread_mutex_unlock(&gm->mu);
		return;
	}
	e = ent_get(gm, ENT_ROUTE, stage, d->route->conf->name);
	if (e != NULL) {
		e->cls[cls]++;
		e->retries += retries;
		for (b = 0; b < NB && secs > bounds[b]; b++)
			;
		e->pend[b]++;
		e->pend_sum += secs;
	}
	if (d->upstream != NULL) {
		e = ent_get(gm, ENT_UPSTREAM, "", d->upstream);
		if (e != NULL) {
			e->cls[cls]++;
			e->retries += retries;
		}
	}
	pthread_mutex_unlock(&gm->mu);
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
	}
	pthread_mutex_unlock(&gm->mu);
}

/*
 * Move the pending durations of e into its histogram series. The
 * registry takes one observation at a time: each pending one is observed
 * at the lowest value of its bucket (0, or just above the bound below),
 * which puts it in the right bucket and adds at most its true value to
 * the sum; the rest of the true sum is added after.
 */
static void
flush_hist(struct gw_metrics *gm, struct ent *e)
{
	double added = 0;

	if (gm->f_lat == NULL)
		return;
	if (e->hist == NULL) {
		struct metrics_label l[2] = { { "stage", e->stage },
					      { "route", e->name } };

		e->hist = metrics_series(gm->f_lat, l, 2);
		if (e->hist == NULL)
			return;
	}
	for (size_t b = 0; b <= NB; b++) {
		double v = b == 0 ? 0.0 : nextafter(bounds[b - 1], INFINITY);

		for (uint64_t k = 0; k < e->pend[b]; k++) {
			metrics_observe(e->hist, v);
			added += v;
		}
		e->pend[b] = 0;
	}
	if (e->pend_sum > added)
		metrics_add(e->hist, e->pend_sum - added);
	e->pend_sum = 0;
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

		if (e->kind != ENT_UPSTREAM)
			continue;
		for (size_t j = 0; j < nups; j++)
			if (strcmp(ups[j].name, e->name) == 0) {
				conn += ups[j].st.connect_errors;
				ej += ups[j].st.ejections;
			}
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

void
gw_metrics_totals(struct gw_metrics *gm, uint64_t cls[6], uint64_t *dropped)
{
	pthread_mutex_lock(&gm->mu);
	memcpy(cls, gm->totals, sizeof(gm->totals));
	*dropped = gm->dropped;
	pthread_mutex_unlock(&gm->mu);
}
