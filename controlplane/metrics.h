/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A registry of metrics (counters, gauges, histograms with label sets) and
 * its rendering in the Prometheus text exposition format 0.0.4.
 *
 * A family has a name ([a-zA-Z_:][a-zA-Z0-9_:]*; counters end in _total),
 * a HELP text and a type; its series are identified by their label set.
 * Modules register families at start and update series as events happen.
 * Values that live elsewhere (health states, listener counters) come
 * through collectors: callbacks run at each render that fill a
 * scrape-time registry, rendered after the persistent one. The
 * dataplane's counters arrive later than a render may wait: the daemon
 * fills a registry of its own (metrics_scrape_new) from the STATS_GET
 * answer and renders it with metrics_render_string_extra.
 *
 * Not thread-safe: used from the daemon's main loop only (a service
 * thread hands its counts to the main loop, or keeps them per thread and
 * a collector sums them with relaxed atomic loads).
 */
#ifndef EDGELBD_METRICS_H
#define EDGELBD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
};

struct metrics_label {
	const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, not starting "__" */
	const char *value; /* any UTF-8; escaped on output */
};

struct metrics;
struct metrics_family;
struct metrics_series;

/* A collector adds samples to m (a scrape-time registry). 0 or -errno. */
typedef int (*metrics_collect_fn)(void *arg, struct metrics *m);

/* NULL with errno ENOMEM. */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/*
 * The family name, created on first use. For histograms, bounds are the
 * upper bounds of the buckets in increasing order (+Inf is implied).
 * Returns NULL with errno EINVAL (bad name, counter not ending in _total,
 * bounds not increasing, the name registered with another type) or ENOMEM.
 */
struct metrics_family *metrics_family(struct metrics *m, const char *name,
				      const char *help, enum metrics_type type,
				      const double *bounds, size_t nbounds);

/*
 * The series of f with these labels (order matters for identity and
 * output), created on first use at value 0. NULL with errno EINVAL (bad
 * label name, more than 16 labels) or ENOMEM.
 */
struct metrics_series *metrics_series(struct metrics_family *f,
				      const struct metrics_label *labels,
				      size_t nlabels);

/* Counters only grow: a negative add is ignored. */
void metrics_add(struct metrics_series *s, double v);
void metrics_set(struct metrics_series *s, double v);	  /* gauges */
void metrics_observe(struct metrics_series *s, double v); /* histograms */
double metrics_value(const struct metrics_series *s);
uint64_t metrics_hist_count(const struct metrics_series *s);

/* Forget every series of f (e.g. a service was removed). */
void metrics_family_clear(struct metrics_family *f);

/*
 * Shortcuts: family + series + update in one call; errors are counted in
 * metrics_errors() rather than returned. For collectors.
 */
void metrics_put(struct metrics *m, const char *name, const char *help,
		 enum metrics_type type, const struct metrics_label *labels,
		 size_t nlabels, double v);

/* Register a collector run at every render. 0 or -ENOMEM. */
int metrics_add_collector(struct metrics *m, metrics_collect_fn fn, void *arg);
void metrics_del_collector(struct metrics *m, metrics_collect_fn fn, void *arg);

/*
 * Render the registry and every collector's samples to out. A collector
 * family whose name is already registered here is skipped and counted.
 * 0 or -EIO.
 */
int metrics_render(struct metrics *m, FILE *out);

/* Render into a malloc'd string (*len bytes, NUL-terminated). 0/-errno */
int metrics_render_string(struct metrics *m, char **buf, size_t *len);

/*
 * A scrape-time registry filled outside a render (e.g. from an answer
 * that came later): names registered in parent are refused in it, as in
 * a collector's. NULL with errno ENOMEM. Free with metrics_free.
 */
struct metrics *metrics_scrape_new(const struct metrics *parent);

/* metrics_render_string, then the families of extra (may be NULL). */
int metrics_render_string_extra(struct metrics *m, const struct metrics *extra,
				char **buf, size_t *len);

/* Samples dropped because of an invalid name, label or type clash. */
uint64_t metrics_errors(const struct metrics *m);

/* Escaping rules of the format, exposed for tests: write to out. */
void metrics_escape_label(FILE *out, const char *s); /* \\ \" \n */
void metrics_escape_help(FILE *out, const char *s);  /* \\ \n */
/* A sample value: integers exactly, +Inf/-Inf/NaN, else %.17g. */
void metrics_format_value(FILE *out, double v);

bool metrics_name_valid(const char *name);
bool metrics_label_name_valid(const char *name);

#endif
