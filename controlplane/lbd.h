/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelbd's one context, passed first to every call: the event loop, the
 * current configuration (the desired state), the metrics registry, the
 * health checker, the dataplane client and its synchronisation, the
 * published view of services and health, the control socket, and the
 * module table with each module's state. No
 * other mutable state exists in the daemon. This header only declares
 * the struct; daemon.h has the life cycle that fills it.
 */
#ifndef EDGELBD_LBD_H
#define EDGELBD_LBD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct event;
struct event_base;
struct http_server;
struct hc;
struct dpc;
struct dpsync;
struct ctlsrv;
struct metrics;
struct metrics_series;
struct lbd_module;
struct lbd_scrape;
struct view_pub;

struct lbd {
	struct event_base *base;
	char cfg_path[PATH_MAX];
	struct cfg *cfg;
	struct metrics *metrics;
	struct hc *hc;
	struct dpc *dpc;
	struct dpsync *sync;
	struct view_pub *view; /* services and health for every thread */
	struct ctlsrv *ctl;
	struct http_server *metrics_http;
	struct http_metrics *metrics_hm; /* its edgelb_http_* series */
	struct lbd_scrape *scrapes;	 /* /metrics answers waiting for dp */
	struct event *sig_hup;
	struct event *sig_term;
	struct event *sig_int;
	struct event *dp_timer;
	struct event *rec_timer;
	struct event *drain_timer;
	uint64_t drain_deadline; /* ms; 0: not draining */
	const struct lbd_module *const *modules;
	size_t nmodules;
	void *mod_state[CFG_MAX_MODULES];
	struct {
		struct metrics_series *reload_ok, *reload_err;
		struct metrics_series *dp_connected, *dp_connects;
		struct metrics_series *services, *backends;
	} m;
};

#endif
