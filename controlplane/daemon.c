/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelbd life cycle (see daemon.h): start-up, signals and the drain,
 * reload, the dataplane timer, /metrics.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "ctlsrv.h"
#include "daemon.h"
#include "dpclient.h"
#include "dpsync.h"
#include "health.h"
#include "http/http.h"
#include "metrics.h"
#include "modules.h"
#include "view.h"
#include "edgelb/log.h"
#include "edgelb/util.h"

/* Health transitions change the desired form of one service. */
static void
on_health(void *arg, const struct hc_info *t, int state)
{
	struct lbd *d = arg;
	const struct cfg_service *s = cfg_service_find(d->cfg, t->service);

	(void)state;
	view_refresh(d->view, d->cfg, d->hc);
	if (s != NULL)
		dpsync_service(d->sync, s->proto, &s->vip, s->vport, NULL,
			       NULL);
}

/* ---- timers ------------------------------------------------------------ */

static void
arm(struct event *ev, uint32_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

/* Every LBD_DP_RETRY_MS: reconnect, heartbeat, retry a pending change. */
static void
on_dp_timer(evutil_socket_t fd, short what, void *arg)
{
	struct lbd *d = arg;

	(void)fd;
	(void)what;
	if (!dpc_connected(d->dpc)) {
		if (dpc_connect(d->dpc) == 0) {
			LB_NOTICE("dataplane %s connected; reconciling",
				  dpc_path(d->dpc));
			metrics_add(d->m.dp_connects, 1);
			dpsync_reconcile(d->sync, NULL, NULL);
		}
	} else if (dpsync_due(d->sync)) {
		dpsync_reconcile(d->sync, NULL, NULL);
	} else if (dpc_pending(d->dpc) == 0) {
		/* heartbeat: notices a dataplane restart within a period */
		struct nl_msg *msg = lbmsg_new(LB_MSG_CONFIG_GET, NLM_F_DUMP);

		if (msg != NULL) {
			dpc_request(d->dpc, msg, NULL, NULL, NULL);
			nlmsg_free(msg);
		}
	}
	metrics_set(d->m.dp_connected, dpc_connected(d->dpc));
	arm(d->dp_timer, LBD_DP_RETRY_MS);
}

static void
on_rec_timer(evutil_socket_t fd, short what, void *arg)
{
	struct lbd *d = arg;

	(void)fd;
	(void)what;
	if (dpc_connected(d->dpc)) /* repairs changes made behind our back */
		dpsync_reconcile(d->sync, NULL, NULL);
	if (d->cfg->reconcile_ms)
		arm(d->rec_timer, d->cfg->reconcile_ms);
}

/* ---- metrics ----------------------------------------------------------- */

/* The limits of the /metrics listener: scrapers are few and send no body. */
static const struct http_limits metrics_limits = {
	.max_conns = 64,
	.max_conns_per_addr = 16,
	.max_head_bytes = 8192,
	.max_body_bytes = 4096,
	.head_timeout_ms = 10000,
	.idle_timeout_ms = 10000,
	.out_high_water = 256 * 1024,
	.accept_backoff_ms = 100,
};

/* A /metrics answer waiting for the dataplane's counters. */
struct lbd_scrape {
	struct dpc_sink sink; /* first: dpc_collect's callback argument */
	struct lbd_scrape *next;
	struct lbd *d;
	struct http_req *req;
};

static void
scrape_unlink(struct lbd_scrape *sc)
{
	struct lbd_scrape **p = &sc->d->scrapes;

	while (*p != sc)
		p = &(*p)->next;
	*p = sc->next;
	metrics_free(sc->sink.m);
	free(sc);
}

/* Render the registry (and dp, the dataplane's samples, if any). */
static void
scrape_answer(struct lbd *d, struct http_req *req, const struct metrics *dp)
{
	char *page = NULL;
	size_t len = 0;

	if (metrics_render_string_extra(d->metrics, dp, &page, &len) < 0) {
		http_resp_simple(req, 500, NULL, NULL, 0);
		return;
	}
	http_resp_simple(req, 200, "text/plain; version=0.0.4; charset=utf-8",
			 page, len);
	free(page);
}

static void
scrape_done(void *arg, int rc, const char *err)
{
	struct lbd_scrape *sc = arg;

	if (rc < 0)
		LB_WARN("dataplane stats: %s", err);
	scrape_answer(sc->d, sc->req, rc == 0 ? sc->sink.m : NULL);
	scrape_unlink(sc);
}

static void
on_metrics(void *arg, struct http_req *req)
{
	static const struct http_header allow = { "Allow", "GET, HEAD" };
	const struct http_msg *m = http_req_msg(req);
	struct lbd *d = arg;
	struct lbd_scrape *sc;

	if (strcmp(m->method, "GET") != 0 && strcmp(m->method, "HEAD") != 0) {
		if (http_resp_start(req, 405, &allow, 1, 0) == 0)
			http_resp_end(req);
		return;
	}
	if (strcmp(m->path, d->cfg->metrics_path) != 0) {
		http_resp_simple(req, 404, NULL, NULL, 0);
		return;
	}
	if (!dpc_connected(d->dpc)) {
		scrape_answer(d, req, NULL);
		return;
	}
	/* the dataplane's counters come back later: answer then */
	sc = calloc(1, sizeof(*sc));
	if (sc != NULL)
		sc->sink.m = metrics_scrape_new(d->metrics);
	if (sc == NULL || sc->sink.m == NULL ||
	    dpc_collect(d->dpc, &sc->sink, scrape_done) < 0) {
		if (sc != NULL)
			metrics_free(sc->sink.m);
		free(sc);
		scrape_answer(d, req, NULL);
		return;
	}
	sc->d = d;
	sc->req = req;
	sc->next = d->scrapes;
	d->scrapes = sc;
}

/* The scraper left before its answer: forget it. */
static void
on_metrics_abort(void *arg, struct http_req *req)
{
	struct lbd *d = arg;

	for (struct lbd_scrape *sc = d->scrapes; sc != NULL; sc = sc->next)
		if (sc->req == req) {
			dpc_cancel(d->dpc, &sc->sink);
			scrape_unlink(sc);
			return;
		}
}

/* The /metrics listener's own counters. */
static void
collect_http(struct lbd *d, struct metrics *m)
{
	static const char *const results[] = { "accepted", "refused_total",
					       "refused_per_addr" };
	static const char *const reasons[] = { "bad_request", "head_too_large",
					       "body_too_large",
					       "head_timeout" };
	const struct http_stats *st;
	uint64_t conns[3], rejected[4];

	if (d->metrics_http == NULL)
		return;
	st = http_server_stats(d->metrics_http);
	conns[0] = st->conns_accepted;
	conns[1] = st->conns_refused_total;
	conns[2] = st->conns_refused_per_addr;
	rejected[0] = st->bad_requests;
	rejected[1] = st->head_too_large;
	rejected[2] = st->body_too_large;
	rejected[3] = st->head_timeouts;
	for (size_t i = 0; i < 3; i++) {
		struct metrics_label l[2] = { { "listener", "metrics" },
					      { "result", results[i] } };

		metrics_put(m, "edgelbd_http_connections_total",
			    "Connections to an HTTP listener, by result.",
			    METRICS_COUNTER, l, 2, (double)conns[i]);
	}
	for (size_t i = 0; i < 4; i++) {
		struct metrics_label l[2] = { { "listener", "metrics" },
					      { "reason", reasons[i] } };

		metrics_put(m, "edgelbd_http_rejected_total",
			    "Requests refused by an HTTP listener's limits.",
			    METRICS_COUNTER, l, 2, (double)rejected[i]);
	}
	{
		struct metrics_label l = { "listener", "metrics" };

		metrics_put(m, "edgelbd_http_connections_open",
			    "Open connections of an HTTP listener.",
			    METRICS_GAUGE, &l, 1, (double)st->conns_open);
		metrics_put(m, "edgelbd_http_accept_errors_total",
			    "Failed accept() calls (EMFILE and kin pause the "
			    "listener).",
			    METRICS_COUNTER, &l, 1, (double)st->accept_errors);
		metrics_put(m, "edgelbd_http_requests_total",
			    "Requests read by an HTTP listener.",
			    METRICS_COUNTER, &l, 1, (double)st->requests);
	}
}

/* Totals of the desired state, at scrape time. */
static int
collect_daemon(void *arg, struct metrics *m)
{
	struct lbd *d = arg;
	uint32_t nb = 0;

	for (uint32_t i = 0; i < d->cfg->nservices; i++)
		nb += d->cfg->services[i].nbackends;
	metrics_set(d->m.services, d->cfg->nservices);
	metrics_set(d->m.backends, nb);
	metrics_set(d->m.dp_connected, dpc_connected(d->dpc));
	collect_http(d, m);
	return 0;
}

static struct metrics_series *
one(struct metrics *m, const char *name, const char *help, enum metrics_type t,
    const char *lname, const char *lvalue)
{
	static const double b[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5 };
	struct metrics_label l = { lname, lvalue };

	return metrics_series(metrics_family(m, name, help, t, b, 8), &l,
			      lname != NULL ? 1 : 0);
}

/* The /metrics server's counters; it is recreated when its address
 * changes, so they count from that moment. */
static void
metrics_http_stats(void *arg, struct http_stats *sum)
{
	struct lbd *d = arg;

	if (d->metrics_http != NULL)
		http_server_stats_read(d->metrics_http, sum);
}

static int
init_metrics(struct lbd *d)
{
	struct metrics *m = d->metrics;

	metrics_set(one(m, "edgelbd_build_info", "Version of edgelbd.",
			METRICS_GAUGE, "version", EDGELB_VERSION),
		    1);
	d->m.reload_ok = one(m, "edgelbd_reloads_total",
			     "Configuration reloads (SIGHUP), by result.",
			     METRICS_COUNTER, "result", "ok");
	d->m.reload_err = one(m, "edgelbd_reloads_total", NULL, METRICS_COUNTER,
			      "result", "error");
	d->m.dp_connected =
		one(m, "edgelbd_dataplane_connected",
		    "1 while connected to dp.sock.", METRICS_GAUGE, NULL, NULL);
	d->m.dp_connects = one(m, "edgelbd_dataplane_connects_total",
			       "Connections made to dp.sock.", METRICS_COUNTER,
			       NULL, NULL);
	d->m.services = one(m, "edgelbd_services", "Desired services.",
			    METRICS_GAUGE, NULL, NULL);
	d->m.backends = one(m, "edgelbd_backends",
			    "Configured backends of all services.",
			    METRICS_GAUGE, NULL, NULL);
	if (d->m.reload_ok == NULL || d->m.reload_err == NULL ||
	    d->m.dp_connected == NULL || d->m.dp_connects == NULL ||
	    d->m.services == NULL || d->m.backends == NULL)
		return -ENOMEM;
	/* the /metrics listener's own edgelb_http_* series */
	d->metrics_hm =
		http_metrics_register(m, "metrics", metrics_http_stats, d);
	if (d->metrics_hm == NULL)
		return -ENOMEM;
	return metrics_add_collector(m, collect_daemon, d);
}

static int
listen_metrics(struct lbd *d, const struct cfg *c)
{
	static const struct http_handler h = { .on_request = on_metrics,
					       .on_abort = on_metrics_abort };
	char a[LB_ADDRPORTSTRLEN];
	int rc;

	if (!c->metrics_enabled)
		return 0;
	d->metrics_http = http_server_new(d->base, &metrics_limits, &h, d);
	if (d->metrics_http == NULL)
		return -errno;
	rc = http_server_listen(d->metrics_http, &c->metrics_addr,
				c->metrics_port);
	if (rc < 0) {
		LB_ERR("[metrics] listen %s: %s",
		       lb_addr_port_format(&c->metrics_addr, c->metrics_port, a,
					   sizeof(a)),
		       strerror(-rc));
		http_server_free(d->metrics_http);
		d->metrics_http = NULL;
		return rc;
	}
	return 0;
}

/* ---- signals, the drain and the life cycle ----------------------------- */

static bool
all_drained(struct lbd *d)
{
	for (size_t i = 0; i < d->nmodules; i++)
		if (d->mod_state[i] != NULL && d->modules[i]->drained != NULL &&
		    !d->modules[i]->drained(d->mod_state[i]))
			return false;
	return true;
}

static void
on_drain_timer(evutil_socket_t fd, short what, void *arg)
{
	struct lbd *d = arg;

	(void)fd;
	(void)what;
	if (all_drained(d)) {
		LB_NOTICE("drained: exiting");
	} else if (lb_now_ms() >= d->drain_deadline) {
		LB_NOTICE("shutdown_grace of %u ms passed: exiting with work "
			  "in flight",
			  d->cfg->shutdown_grace_ms);
	} else {
		arm(d->drain_timer, LBD_DRAIN_POLL_MS);
		return;
	}
	event_base_loopbreak(d->base);
}

/* SIGTERM: drain every module, then exit once drained or at the grace. */
static void
start_drain(struct lbd *d, int sig)
{
	uint32_t grace = d->cfg->shutdown_grace_ms;

	if (d->drain_deadline != 0 || grace == 0) {
		LB_NOTICE("signal %d: exiting", sig);
		event_base_loopbreak(d->base);
		return;
	}
	LB_NOTICE("signal %d: draining (at most %u ms)", sig, grace);
	d->drain_deadline = lb_now_ms() + grace;
	for (size_t i = 0; i < d->nmodules; i++) {
		int rc;

		if (d->mod_state[i] == NULL || d->modules[i]->drain == NULL)
			continue;
		rc = d->modules[i]->drain(d, d->mod_state[i]);
		if (rc < 0)
			LB_WARN("module %s: drain: %s", d->modules[i]->name,
				strerror(-rc));
	}
	arm(d->drain_timer, 0);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct lbd *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		if (d->drain_deadline == 0)
			lbd_reload(d);
		return;
	}
	start_drain(d, (int)sig);
}

static bool
same_addr_port(const struct cfg *a, const struct cfg *b)
{
	return a->metrics_enabled == b->metrics_enabled &&
	       a->metrics_port == b->metrics_port &&
	       lb_addr_equal(&a->metrics_addr, &b->metrics_addr) &&
	       strcmp(a->metrics_path, b->metrics_path) == 0;
}

int
lbd_reload(struct lbd *d)
{
	const struct cfg_module_ops *mods[CFG_MAX_MODULES];
	struct cfg_errors e = { 0 };
	struct cfg *old = d->cfg, *c;
	size_t nmods = lbd_modules_cfg(d->modules, d->nmodules, mods);

	c = cfg_load(d->cfg_path, mods, nmods, &e);
	for (size_t i = 0; i < e.n; i++)
		LB_ERR("%s", e.msg[i]);
	cfg_errors_free(&e);
	if (c == NULL) {
		LB_ERR("reload of %s failed: keeping the running configuration",
		       d->cfg_path);
		metrics_add(d->m.reload_err, 1);
		return -EINVAL;
	}
	lb_log_set_level(c->log_level);
	if (strcmp(c->ctl_socket, old->ctl_socket) != 0) {
		struct ctlsrv *s = ctlsrv_open(d, c->ctl_socket);

		if (s == NULL) {
			LB_ERR("ctl_socket %s: %s; keeping %s", c->ctl_socket,
			       strerror(errno), old->ctl_socket);
			strcpy(c->ctl_socket, old->ctl_socket);
		} else {
			ctlsrv_close(d->ctl);
			d->ctl = s;
		}
	}
	if (strcmp(c->dp_socket, old->dp_socket) != 0) {
		struct dpc *p =
			dpc_new(d->base, c->dp_socket, LBD_DP_TIMEOUT_MS);

		if (p != NULL) {
			dpc_free(d->dpc);
			d->dpc = p;
		}
	}
	if (!same_addr_port(c, old)) {
		struct http_server *h = d->metrics_http;

		d->metrics_http = NULL;
		http_server_free(h);
		listen_metrics(d, c);
	}
	for (size_t i = 0; i < d->nmodules; i++)
		if (d->modules[i]->apply != NULL &&
		    d->modules[i]->apply(d, d->mod_state[i], old, c) < 0)
			LB_ERR("reload: module %s kept its old configuration",
			       d->modules[i]->name);
	d->cfg = c;
	if (hc_sync(d->hc, c) < 0)
		LB_ERR("health checks: out of memory; targets not updated");
	view_refresh(d->view, c, d->hc);
	cfg_free(old);
	if (c->reconcile_ms)
		arm(d->rec_timer, c->reconcile_ms);
	LB_NOTICE("reloaded %s: %u services, %u health checks", d->cfg_path,
		  c->nservices, c->nchecks);
	metrics_add(d->m.reload_ok, 1);
	dpsync_reconcile(d->sync, NULL, NULL);
	return 0;
}

int
lbd_init_with(struct lbd *d, const char *cfg_path, struct cfg *cfg,
	      const struct lbd_module *const *mods, size_t nmods)
{
	int rc = -ENOMEM;

	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->modules = mods;
	d->nmodules = nmods < CFG_MAX_MODULES ? nmods : CFG_MAX_MODULES;
	snprintf(d->cfg_path, sizeof(d->cfg_path), "%s", cfg_path);
	signal(SIGPIPE, SIG_IGN);
	d->base = event_base_new();
	d->metrics = metrics_new();
	if (d->base == NULL || d->metrics == NULL || init_metrics(d) < 0)
		goto err;
	d->sig_hup = evsignal_new(d->base, SIGHUP, on_signal, d);
	d->sig_term = evsignal_new(d->base, SIGTERM, on_signal, d);
	d->sig_int = evsignal_new(d->base, SIGINT, on_signal, d);
	d->dp_timer = evtimer_new(d->base, on_dp_timer, d);
	d->rec_timer = evtimer_new(d->base, on_rec_timer, d);
	d->drain_timer = evtimer_new(d->base, on_drain_timer, d);
	if (d->sig_hup == NULL || d->sig_term == NULL || d->sig_int == NULL ||
	    d->dp_timer == NULL || d->rec_timer == NULL ||
	    d->drain_timer == NULL)
		goto err;
	evsignal_add(d->sig_hup, NULL);
	evsignal_add(d->sig_term, NULL);
	evsignal_add(d->sig_int, NULL);
	d->hc = hc_new(d->base, d->metrics, on_health, d);
	d->dpc = dpc_new(d->base, cfg->dp_socket, LBD_DP_TIMEOUT_MS);
	d->sync = d->dpc != NULL ? dpsync_new(d) : NULL;
	d->view = calloc(1, sizeof(*d->view));
	if (d->hc == NULL || d->sync == NULL || d->view == NULL ||
	    view_refresh(d->view, cfg, d->hc) < 0)
		goto err;
	rc = listen_metrics(d, cfg);
	if (rc < 0)
		goto err;
	d->ctl = ctlsrv_open(d, cfg->ctl_socket);
	if (d->ctl == NULL) {
		rc = -errno;
		LB_ERR("ctl_socket %s: %s", cfg->ctl_socket, strerror(-rc));
		goto err;
	}
	for (size_t i = 0; i < d->nmodules; i++) {
		if (d->modules[i]->start == NULL)
			continue;
		rc = d->modules[i]->start(d, cfg, &d->mod_state[i]);
		if (rc == 0 && d->modules[i]->collect != NULL)
			rc = metrics_add_collector(d->metrics,
						   d->modules[i]->collect,
						   d->mod_state[i]);
		if (rc < 0) {
			LB_ERR("module %s: %s", d->modules[i]->name,
			       strerror(-rc));
			goto err;
		}
	}
	rc = -ENOMEM;
	if (hc_sync(d->hc, cfg) < 0 || view_refresh(d->view, cfg, d->hc) < 0)
		goto err;
	arm(d->dp_timer, 0); /* connect at once */
	if (cfg->reconcile_ms)
		arm(d->rec_timer, cfg->reconcile_ms);
	return 0;
err:
	lbd_fini(d);
	return rc;
}

int
lbd_init(struct lbd *d, const char *cfg_path, struct cfg *cfg)
{
	return lbd_init_with(d, cfg_path, cfg, lbd_modules, lbd_nmodules);
}

int
lbd_run(struct lbd *d)
{
	LB_NOTICE("edgelbd " EDGELB_VERSION " running: %u services, ctl %s, "
		  "dataplane %s",
		  d->cfg->nservices, d->cfg->ctl_socket, d->cfg->dp_socket);
	return event_base_dispatch(d->base) < 0 ? -EIO : 0;
}

void
lbd_fini(struct lbd *d)
{
	for (size_t i = d->nmodules; i-- > 0;) {
		if (d->mod_state[i] == NULL)
			continue;
		if (d->modules[i]->collect != NULL)
			metrics_del_collector(d->metrics,
					      d->modules[i]->collect,
					      d->mod_state[i]);
		if (d->modules[i]->stop != NULL)
			d->modules[i]->stop(d, d->mod_state[i]);
	}
	/* the users of dpc and dpsync first: they cancel what they wait for */
	if (d->ctl != NULL)
		ctlsrv_close(d->ctl);
	http_server_free(d->metrics_http);
	http_metrics_unregister(d->metrics_hm);
	hc_free(d->hc);
	dpc_free(d->dpc);
	dpsync_free(d->sync);
	if (d->view != NULL)
		view_pub_fini(d->view);
	free(d->view);
	if (d->sig_hup != NULL)
		event_free(d->sig_hup);
	if (d->sig_term != NULL)
		event_free(d->sig_term);
	if (d->sig_int != NULL)
		event_free(d->sig_int);
	if (d->dp_timer != NULL)
		event_free(d->dp_timer);
	if (d->rec_timer != NULL)
		event_free(d->rec_timer);
	if (d->drain_timer != NULL)
		event_free(d->drain_timer);
	metrics_free(d->metrics);
	if (d->base != NULL)
		event_base_free(d->base);
	cfg_free(d->cfg);
	memset(d, 0, sizeof(*d));
}
