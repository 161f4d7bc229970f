/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelbd life cycle (see daemon.h): start-up, signals, reload, the
 * desired state and its reconciliation with the dataplane, /metrics.
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
#include "health.h"
#include "http/http.h"
#include "metrics.h"
#include "modules.h"
#include "svcmap.h"
#include "edgelb/log.h"
#include "edgelb/util.h"

/* ---- desired state ----------------------------------------------------- */

/* The desired form of s: health applied to its backends. 0 or -ENOMEM. */
static int
desired_one(const struct cfg_service *s, const struct hc *hc, struct rec_svc *r)
{
	memset(r, 0, sizeof(*r));
	r->proto = s->proto;
	r->vip = s->vip;
	r->vport = s->vport;
	snprintf(r->name, sizeof(r->name), "%s", s->name);
	r->mode = s->mode;
	snprintf(r->sched, sizeof(r->sched), "%s", s->sched);
	r->persist = s->persist;
	r->flags = s->flags;
	r->mh_size = s->mh_size;
	r->backends =
		calloc(s->nbackends ? s->nbackends : 1, sizeof(*r->backends));
	r->laddrs = calloc(s->nladdrs ? s->nladdrs : 1, sizeof(*r->laddrs));
	if (r->backends == NULL || r->laddrs == NULL)
		return -ENOMEM;
	if (s->nladdrs > 0)
		memcpy(r->laddrs, s->laddrs, s->nladdrs * sizeof(*r->laddrs));
	r->nladdrs = s->nladdrs;
	for (uint32_t j = 0; j < s->nbackends; j++) {
		const struct cfg_backend *b = &s->backends[j];
		int st = hc != NULL && s->check[0]
				 ? hc_state(hc, s->name, &b->addr, b->port)
				 : LB_HEALTH_UNKNOWN;
		struct rec_backend *rb = &r->backends[r->nbackends];

		if (!hc_state_healthy(st) && s->on_fail == CFG_ON_FAIL_REMOVE)
			continue;
		rb->addr = b->addr;
		rb->port = b->port;
		rb->weight = hc_state_healthy(st) ? b->weight : 0;
		/* tells the dataplane a failed backend from a drained one */
		rb->flags = hc_state_healthy(st) ? 0 : LB_BACKEND_F_DOWN;
		r->nbackends++;
	}
	return 0;
}

int
lbd_desired(const struct cfg *c, const struct hc *hc, struct rec_svc **out,
	    size_t *n)
{
	struct rec_svc *v = calloc(c->nservices ? c->nservices : 1, sizeof(*v));

	if (v == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < c->nservices; i++) {
		if (desired_one(&c->services[i], hc, &v[i]) < 0) {
			rec_svcs_free(v, i + 1);
			return -ENOMEM;
		}
	}
	*out = v;
	*n = c->nservices;
	return 0;
}

/* ---- the applied state ------------------------------------------------- */

static size_t
key_of(const struct rec_svc *r, uint8_t k[SVCMAP_KEY_MAX])
{
	return svcmap_svc_key(r->proto, &r->vip, r->vport, k);
}

static void
free_one(void *arg, void *v)
{
	(void)arg;
	rec_svcs_free(v, 1);
}

/* Forget the applied state: the next change waits for a full reconcile. */
static void
applied_forget(struct lbd *d)
{
	if (d->applied != NULL) {
		svcmap_foreach(d->applied, free_one, NULL);
		svcmap_clear(d->applied);
	}
	d->applied_ok = false;
}

/*
 * Record r (its arrays move into the record, r is left without them) as
 * what the dataplane holds for r's key. 0 or -ENOMEM (record unchanged).
 */
static int
applied_put(struct lbd *d, struct rec_svc *r)
{
	struct rec_svc *n = malloc(sizeof(*n)), *old;
	uint8_t k[SVCMAP_KEY_MAX];
	size_t klen = key_of(r, k);

	if (n == NULL)
		return -ENOMEM;
	old = svcmap_get(d->applied, k, klen);
	if (svcmap_put(d->applied, k, klen, n) < 0) {
		free(n);
		return -ENOMEM;
	}
	*n = *r;
	r->backends = NULL;
	r->laddrs = NULL;
	r->nbackends = r->nladdrs = 0;
	if (old != NULL)
		rec_svcs_free(old, 1);
	return 0;
}

static void
release(struct rec_svc *r)
{
	free(r->backends);
	free(r->laddrs);
	r->backends = NULL;
	r->laddrs = NULL;
}

/* ---- sending plans ----------------------------------------------------- */

/* Send the operations of plan in order; the number that failed. */
static size_t
send_plan(struct lbd *d, const struct rec_plan *plan, int *first)
{
	char err[LBMSG_ERRMSG_MAX];
	size_t failed = 0;

	for (size_t i = 0; i < plan->n && dpc_connected(d->dpc); i++) {
		const struct rec_op *op = &plan->ops[i];
		char vip[LB_ADDRPORTSTRLEN], x[LB_ADDRPORTSTRLEN] = "";
		struct metrics_label l = { "op", rec_op_name(op->type) };
		int rc;

		lb_addr_port_format(&op->svc->vip, op->svc->vport, vip,
				    sizeof(vip));
		if (op->be != NULL)
			lb_addr_port_format(&op->be->addr, op->be->port, x,
					    sizeof(x));
		else if (op->laddr != NULL)
			lb_addr_format(op->laddr, x, sizeof(x));
		rc = dpc_apply_op(d->dpc, op, err, sizeof(err));
		metrics_add(metrics_series(d->rec_ops, &l, 1), 1);
		if (rc < 0) {
			LB_WARN("reconcile: %s %s %s %s: %s",
				rec_op_name(op->type),
				lb_proto_name(op->svc->proto), vip, x, err);
			if (*first == 0)
				*first = rc;
			failed++;
		} else {
			LB_INFO("reconcile: %s %s %s %s", rec_op_name(op->type),
				lb_proto_name(op->svc->proto), vip, x);
		}
	}
	if (*first == 0 && !dpc_connected(d->dpc))
		*first = -ENOTCONN;
	return failed;
}

/* A full reconcile at the next tick of the dataplane timer, after ms. */
static void
schedule_full(struct lbd *d, uint32_t ms)
{
	if (!d->dirty) /* else one is due already (maybe backing off) */
		d->retry_at = lb_now_ms() + ms;
	d->dirty = true;
}

int
lbd_reconcile(struct lbd *d)
{
	struct rec_svc *want = NULL, *have = NULL;
	size_t nwant = 0, nhave = 0, failed = 0;
	struct rec_plan plan = { 0 };
	char err[LBMSG_ERRMSG_MAX];
	uint64_t t0 = lb_now_ms();
	int rc, first = 0;

	if (!dpc_connected(d->dpc))
		return -ENOTCONN;
	applied_forget(d);
	rc = dpc_dump_services(d->dpc, &have, &nhave, err, sizeof(err));
	if (rc < 0) {
		LB_WARN("reconcile: dump of %s failed: %s", dpc_path(d->dpc),
			err);
		goto out;
	}
	rc = lbd_desired(d->cfg, d->hc, &want, &nwant);
	if (rc == 0)
		rc = rec_diff(want, nwant, have, nhave, &plan);
	if (rc < 0)
		goto out;
	failed = send_plan(d, &plan, &first);
	rc = first;
	if (plan.n)
		LB_INFO("reconcile: %zu operations, %zu failed", plan.n,
			failed);
	/* the dataplane now holds want: record it */
	for (size_t i = 0; rc == 0 && i < nwant; i++)
		rc = applied_put(d, &want[i]);
	d->applied_ok = rc == 0;
	if (rc < 0)
		applied_forget(d);
out:
	metrics_add(rc == 0 ? d->m.rec_ok : d->m.rec_err, 1);
	metrics_observe(d->m.rec_duration, (double)(lb_now_ms() - t0) / 1e3);
	d->dirty = rc != 0;
	if (rc != 0)
		d->retry_at = lb_now_ms() + LBD_RETRY_FAILED_MS;
	rec_plan_free(&plan);
	rec_svcs_free(want, nwant);
	rec_svcs_free(have, nhave);
	return rc;
}

int
lbd_apply_service(struct lbd *d, uint8_t proto, const struct lb_addr *vip,
		  uint16_t vport)
{
	const struct cfg_service *s =
		cfg_service_find_key(d->cfg, proto, vip, vport);
	struct rec_svc want = { 0 }, *have;
	struct rec_plan plan = { 0 };
	uint8_t k[SVCMAP_KEY_MAX];
	size_t klen = svcmap_svc_key(proto, vip, vport, k), failed;
	int rc, first = 0;

	if (!dpc_connected(d->dpc)) {
		d->dirty = true; /* the reconnect reconciles */
		return -ENOTCONN;
	}
	if (!d->applied_ok) {
		schedule_full(d, 0);
		return -EAGAIN;
	}
	have = svcmap_get(d->applied, k, klen);
	rc = s != NULL ? desired_one(s, d->hc, &want) : 0;
	if (rc == 0)
		rc = rec_diff(&want, s != NULL, have, have != NULL, &plan);
	if (rc < 0)
		goto err;
	failed = send_plan(d, &plan, &first);
	rc = first;
	if (rc < 0) {
		LB_WARN("apply: %zu of %zu operations failed; full reconcile "
			"scheduled",
			failed, plan.n);
		goto err;
	}
	if (s != NULL) {
		rc = applied_put(d, &want);
	} else if (have != NULL) {
		svcmap_del(d->applied, k, klen);
		rec_svcs_free(have, 1);
	}
	if (rc < 0)
		goto err;
	rec_plan_free(&plan);
	release(&want);
	return 0;
err:
	/* the dataplane may hold anything for this service now */
	applied_forget(d);
	schedule_full(d, 0);
	rec_plan_free(&plan);
	release(&want);
	return rc;
}

int
lbd_save_state(struct lbd *d)
{
	int rc;

	if (d->cfg->state_file[0] == '\0')
		return -ENOENT;
	rc = cfg_save_state(d->cfg, d->cfg->state_file);
	if (rc < 0)
		LB_ERR("state file %s: %s", d->cfg->state_file, strerror(-rc));
	return rc;
}

/* Health targets follow the configuration when there are checks at all. */
static void
sync_health(struct lbd *d)
{
	if ((d->cfg->nchecks || hc_count(d->hc)) && hc_sync(d->hc, d->cfg) < 0)
		LB_ERR("health checks: out of memory; targets not updated");
}

int
lbd_changed(struct lbd *d, const uint8_t *proto, const struct lb_addr *vip,
	    uint16_t vport)
{
	sync_health(d);
	if (d->cfg->state_file[0])
		lbd_save_state(d);
	if (proto == NULL) {
		d->dirty = true;
		d->retry_at = 0;
		return lbd_reconcile(d);
	}
	return lbd_apply_service(d, *proto, vip, vport);
}

static void
on_health(void *arg, const struct hc_info *t, int state)
{
	struct lbd *d = arg;
	const struct cfg_service *s = cfg_service_find(d->cfg, t->service);

	(void)state;
	if (s != NULL)
		lbd_apply_service(d, s->proto, &s->vip, s->vport);
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
			lbd_reconcile(d);
		}
	} else if (d->dirty && lb_now_ms() >= d->retry_at) {
		lbd_reconcile(d);
	} else {
		/* heartbeat: notices a dataplane restart within a period */
		struct nl_msg *msg = lbmsg_new(LB_MSG_CONFIG_GET, NLM_F_DUMP);
		char err[LBMSG_ERRMSG_MAX];

		if (msg != NULL) {
			dpc_request(d->dpc, msg, NULL, NULL, err, sizeof(err));
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
	if (dpc_connected(d->dpc))
		lbd_reconcile(d); /* repairs changes made behind our back */
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

static void
on_metrics(void *arg, struct http_req *req)
{
	static const struct http_header allow = { "Allow", "GET, HEAD" };
	const struct http_msg *m = http_req_msg(req);
	struct lbd *d = arg;
	char *page = NULL;
	size_t len = 0;

	if (strcmp(m->method, "GET") != 0 && strcmp(m->method, "HEAD") != 0) {
		if (http_resp_start(req, 405, &allow, 1, 0) == 0)
			http_resp_end(req);
		return;
	}
	if (strcmp(m->path, d->cfg->metrics_path) != 0) {
		http_resp_simple(req, 404, NULL, NULL, 0);
		return;
	}
	if (metrics_render_string(d->metrics, &page, &len) < 0) {
		http_resp_simple(req, 500, NULL, NULL, 0);
		return;
	}
	http_resp_simple(req, 200, "text/plain; version=0.0.4; charset=utf-8",
			 page, len);
	free(page);
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

static int
metrics_init(struct lbd *d)
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
	d->m.rec_ok = one(m, "edgelbd_reconcile_runs_total",
			  "Reconciliations with the dataplane, by result.",
			  METRICS_COUNTER, "result", "ok");
	d->m.rec_err = one(m, "edgelbd_reconcile_runs_total", NULL,
			   METRICS_COUNTER, "result", "error");
	d->m.rec_duration =
		one(m, "edgelbd_reconcile_duration_seconds",
		    "Time of one reconciliation (dump, diff, apply).",
		    METRICS_HISTOGRAM, NULL, NULL);
	d->rec_ops = metrics_family(m, "edgelbd_reconcile_ops_total",
				    "Operations sent to the dataplane.",
				    METRICS_COUNTER, NULL, 0);
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
	if (d->m.reload_ok == NULL || d->m.rec_duration == NULL ||
	    d->rec_ops == NULL || d->m.backends == NULL)
		return -ENOMEM;
	return metrics_add_collector(m, collect_daemon, d);
}

static int
metrics_listen(struct lbd *d, const struct cfg *c)
{
	static const struct http_handler h = { .on_request = on_metrics };
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

/* ---- signals and life cycle -------------------------------------------- */

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct lbd *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		lbd_reload(d);
		return;
	}
	LB_NOTICE("signal %d: exiting", (int)sig);
	event_base_loopbreak(d->base);
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
	const struct cfg_module_ops *const *mods;
	struct cfg_errors e = { 0 };
	struct cfg *old = d->cfg, *c;
	size_t nmods;

	mods = lbd_cfg_modules(&nmods);
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
		struct dpc *p = dpc_new(c->dp_socket, LBD_DP_TIMEOUT_MS);

		if (p != NULL) {
			dpc_free(d->dpc);
			d->dpc = p;
		}
	}
	if (!same_addr_port(c, old)) {
		struct http_server *h = d->metrics_http;

		d->metrics_http = NULL;
		http_server_free(h);
		metrics_listen(d, c);
	}
	for (size_t i = 0; i < lbd_nmodules; i++)
		if (lbd_modules[i]->apply != NULL &&
		    lbd_modules[i]->apply(d, d->mod_state[i], old, c) < 0)
			LB_ERR("reload: module %s kept its old configuration",
			       lbd_modules[i]->name);
	d->cfg = c;
	if (hc_sync(d->hc, c) < 0)
		LB_ERR("health checks: out of memory; targets not updated");
	cfg_free(old);
	if (c->reconcile_ms)
		arm(d->rec_timer, c->reconcile_ms);
	LB_NOTICE("reloaded %s: %u services, %u health checks", d->cfg_path,
		  c->nservices, c->nchecks);
	metrics_add(d->m.reload_ok, 1);
	d->dirty = true;
	d->retry_at = 0;
	lbd_reconcile(d);
	return 0;
}

int
lbd_init(struct lbd *d, const char *cfg_path, struct cfg *cfg)
{
	int rc = -ENOMEM;

	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	snprintf(d->cfg_path, sizeof(d->cfg_path), "%s", cfg_path);
	signal(SIGPIPE, SIG_IGN);
	d->base = event_base_new();
	d->metrics = metrics_new();
	if (d->base == NULL || d->metrics == NULL || metrics_init(d) < 0)
		goto err;
	d->sig_hup = evsignal_new(d->base, SIGHUP, on_signal, d);
	d->sig_term = evsignal_new(d->base, SIGTERM, on_signal, d);
	d->sig_int = evsignal_new(d->base, SIGINT, on_signal, d);
	d->dp_timer = evtimer_new(d->base, on_dp_timer, d);
	d->rec_timer = evtimer_new(d->base, on_rec_timer, d);
	d->applied = svcmap_new();
	if (d->applied == NULL || d->sig_hup == NULL || d->sig_term == NULL ||
	    d->sig_int == NULL || d->dp_timer == NULL || d->rec_timer == NULL)
		goto err;
	evsignal_add(d->sig_hup, NULL);
	evsignal_add(d->sig_term, NULL);
	evsignal_add(d->sig_int, NULL);
	d->hc = hc_new(d->base, d->metrics, on_health, d);
	d->dpc = dpc_new(cfg->dp_socket, LBD_DP_TIMEOUT_MS);
	if (d->hc == NULL || d->dpc == NULL ||
	    metrics_add_collector(d->metrics, dpc_collect, d->dpc) < 0)
		goto err;
	rc = metrics_listen(d, cfg);
	if (rc < 0)
		goto err;
	d->ctl = ctlsrv_open(d, cfg->ctl_socket);
	if (d->ctl == NULL) {
		rc = -errno;
		LB_ERR("ctl_socket %s: %s", cfg->ctl_socket, strerror(-rc));
		goto err;
	}
	for (size_t i = 0; i < lbd_nmodules; i++) {
		if (lbd_modules[i]->start == NULL)
			continue;
		rc = lbd_modules[i]->start(d, cfg, &d->mod_state[i]);
		if (rc < 0) {
			LB_ERR("module %s: %s", lbd_modules[i]->name,
			       strerror(-rc));
			goto err;
		}
	}
	rc = -ENOMEM;
	if (hc_sync(d->hc, cfg) < 0)
		goto err;
	d->dirty = true;
	arm(d->dp_timer, 0); /* connect at once */
	if (cfg->reconcile_ms)
		arm(d->rec_timer, cfg->reconcile_ms);
	return 0;
err:
	lbd_fini(d);
	return rc;
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
	for (size_t i = lbd_nmodules; i-- > 0;)
		if (d->mod_state[i] != NULL && lbd_modules[i]->stop != NULL)
			lbd_modules[i]->stop(d, d->mod_state[i]);
	if (d->ctl != NULL)
		ctlsrv_close(d->ctl);
	http_server_free(d->metrics_http);
	hc_free(d->hc);
	dpc_free(d->dpc);
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
	applied_forget(d);
	svcmap_free(d->applied);
	metrics_free(d->metrics);
	if (d->base != NULL)
		event_base_free(d->base);
	cfg_free(d->cfg);
	memset(d, 0, sizeof(*d));
}
