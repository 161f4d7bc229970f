/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The gateway's Prometheus series (docs/gateway.md, "Metrics"), kept
 * across route table rebuilds, by name:
 *
 *   edgelbd_gateway_requests_total{stage,route,class}
 *   edgelbd_gateway_request_duration_seconds{stage,route}   (histogram)
 *   edgelbd_gateway_retries_total{stage,route}
 *   edgelbd_gateway_unrouted_total{stage}                   (404 no route)
 *   edgelbd_gateway_upstream_requests_total{upstream,class}
 *   edgelbd_gateway_upstream_retries_total{upstream}
 *   edgelbd_gateway_upstream_connect_errors_total{upstream}
 *   edgelbd_gateway_upstream_ejections_total{upstream}
 *   edgelbd_gateway_upstream_pending_overflow_total{upstream}
 *   edgelbd_gateway_upstream_max_requests_total{upstream}
 *   edgelbd_gateway_upstream_instances{stage,upstream,state} (gauge)
 *
 * class is 1xx .. 5xx, or "none" when no answer was sent (the client went
 * away first). gw_metrics_done counts one request on any thread without a
 * lock (into the thread's own shard: a hash lookup by name and relaxed
 * atomic counters); the collector, on the daemon's thread, adds the
 * shards up at scrape time and observes the durations counted since the
 * last scrape into the histogram family registered on the daemon's
 * registry. The upstream counters that the balancer keeps
 * (connect errors, ejections) are the sum over the live tables plus what
 * retired tables had counted (gw_metrics_retire_upstream). Every stage
 * has its own instance of each upstream (its own passive ejections), so
 * the counters add the stages up and the instance gauge is per stage.
 */
#ifndef EDGELBD_GW_METRICS_H
#define EDGELBD_GW_METRICS_H

#include <stdint.h>

#include "gw_proxy.h"
#include "gw_upstream.h"

#define GW_METRICS_SERIES_MAX 8192 /* (stage, route) and upstreams */

struct metrics;
struct gw_metrics;

/* On reg (the daemon's registry, may be NULL: counting only). NULL with
 * errno ENOMEM or EINVAL. */
struct gw_metrics *gw_metrics_new(struct metrics *reg);
void gw_metrics_free(struct gw_metrics *gm);

/* One request ended (any thread). */
void gw_metrics_done(struct gw_metrics *gm, const char *stage,
		     const struct gw_done *d);

/* A table with upstream name goes: keep what its balancer counted. */
void gw_metrics_retire_upstream(struct gw_metrics *gm, const char *name,
				const struct gw_upstream_stats *st);

/* The balancer's counters of a live upstream, for one scrape. */
struct gw_metrics_up {
	const char *stage;
	const char *name;
	struct gw_upstream_stats st;
	uint32_t available, unavailable;
};

/*
 * Render into m (a scrape-time registry) with the live upstreams' ups
 * (the same name may come several times: one per stage; they add up).
 * Daemon's thread. 0 or -ENOMEM.
 */
int gw_metrics_collect(struct gw_metrics *gm, struct metrics *m,
		       const struct gw_metrics_up *ups, size_t nups);

struct gw_table;

/*
 * The filter counters of stage's table t (gw_route_filter_stats) into m
 * (a scrape-time registry), per route and filter:
 *   edgelbd_gateway_filter_passed_total{stage,route,filter,type}
 *   edgelbd_gateway_filter_answered_total{stage,route,filter,type,reason}
 * and each filter instance's own counters (struct gw_fcounter: the
 * cache's, degradation's, transforms') once per stage:
 *   edgelbd_gateway_NAME{stage,filter[,label]}
 * They belong to the table: a rebuilt table counts from 0 again.
 */
void gw_metrics_collect_filters(struct metrics *m, const char *stage,
				const struct gw_table *t);

/*
 * The WebSocket and gRPC counters of the proxies (s: their sum) into m:
 *   edgelbd_gateway_websocket_{upgrades,refused,failed,early,held,
 *     idle_closes}_total, edgelbd_gateway_websocket_active (gauge),
 *   edgelbd_gateway_websocket_bytes_total{direction="up"|"down"},
 *   edgelbd_gateway_grpc_errors_total,
 *   edgelbd_gateway_trailers_total{direction="in"|"out"}.
 */
void gw_metrics_collect_proxy(struct metrics *m,
			      const struct gw_proxy_stats *s);

/* Totals for lbctl: requests by class (0: none), series dropped. */
void gw_metrics_totals(struct gw_metrics *gm, uint64_t cls[6],
		       uint64_t *dropped);

#endif
