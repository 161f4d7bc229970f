/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The edgelb_http_* metrics of one HTTP service (see http.h): a collector
 * in the daemon's registry that asks the service for the sum of its
 * servers' counters at every scrape (read with relaxed atomic loads, so
 * that servers on worker threads need no lock) and renders them with the
 * label service=NAME.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "metrics.h"

struct http_metrics {
	struct metrics *m;
	char service[64];
	http_stats_fn stats;
	void *arg;
};

static void
put(struct metrics *m, const char *name, const char *help,
    enum metrics_type type, const char *service, const char *lname,
    const char *lvalue, uint64_t v)
{
	struct metrics_label l[2] = { { "service", service },
				      { lname, lvalue } };

	metrics_put(m, name, help, type, l, lname != NULL ? 2 : 1, (double)v);
}

static int
collect(void *arg, struct metrics *m)
{
	struct http_metrics *hm = arg;
	const char *svc = hm->service;
	struct http_stats st = { 0 };

	hm->stats(hm->arg, &st);
	put(m, "edgelb_http_connections_open", "Open HTTP connections.",
	    METRICS_GAUGE, svc, NULL, NULL, st.conns_open);
	put(m, "edgelb_http_connections_total", "HTTP connections accepted.",
	    METRICS_COUNTER, svc, NULL, NULL, st.conns_accepted);
#define REFUSED(reason, v)                                                     \
	put(m, "edgelb_http_refused_total",                                    \
	    "HTTP connections refused by a limit.", METRICS_COUNTER, svc,      \
	    "reason", reason, v)
	REFUSED("max_conns", st.conns_refused_total);
	REFUSED("per_addr", st.conns_refused_per_addr);
	REFUSED("fd_budget", st.conns_refused_fd_budget);
#undef REFUSED
#define ERRORS(reason, v)                                                      \
	put(m, "edgelb_http_errors_total",                                     \
	    "HTTP requests or connections ended by an error or a limit.",      \
	    METRICS_COUNTER, svc, "reason", reason, v)
	ERRORS("bad_request", st.bad_requests);
	ERRORS("head_too_large", st.head_too_large);
	ERRORS("body_too_large", st.body_too_large);
	ERRORS("head_timeout", st.head_timeouts);
	ERRORS("idle", st.idle_closes);
	ERRORS("streams", st.streams_refused);
	ERRORS("tls", st.tls_errors);
#undef ERRORS
	put(m, "edgelb_http_accept_backoffs_total",
	    "HTTP listener pauses after accept() ran out of descriptors.",
	    METRICS_COUNTER, svc, NULL, NULL, st.accept_backoffs);
	put(m, "edgelb_http_requests_total", "HTTP requests read.",
	    METRICS_COUNTER, svc, "proto", "http1",
	    st.requests - st.requests_h2);
	put(m, "edgelb_http_requests_total", "HTTP requests read.",
	    METRICS_COUNTER, svc, "proto", "h2", st.requests_h2);
	return 0;
}

struct http_metrics *
http_metrics_register(struct metrics *m, const char *service,
		      http_stats_fn stats, void *arg)
{
	struct http_metrics *hm;

	if (m == NULL || service == NULL || stats == NULL ||
	    strlen(service) >= sizeof(hm->service)) {
		errno = EINVAL;
		return NULL;
	}
	hm = calloc(1, sizeof(*hm));
	if (hm == NULL)
		return NULL;
	hm->m = m;
	snprintf(hm->service, sizeof(hm->service), "%s", service);
	hm->stats = stats;
	hm->arg = arg;
	if (metrics_add_collector(m, collect, hm) < 0) {
		free(hm);
		errno = ENOMEM;
		return NULL;
	}
	return hm;
}

void
http_metrics_unregister(struct http_metrics *hm)
{
	if (hm == NULL)
		return;
	metrics_del_collector(hm->m, collect, hm);
	free(hm);
}
