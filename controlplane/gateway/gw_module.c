/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The API gateway module of edgelbd (see gw_module.h): stages and their
 * route tables, listener generations, the view follower, metrics, lbctl
 * and the life cycle. The sections' hooks are in gw_module_conf.c.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "daemon.h"
#include "gw_api.h"
#include "gw_log.h"
#include "gw_metrics.h"
#include "gw_module.h"
#include "gw_module_priv.h"
#include "gw_proxy.h"
#include "gw_route.h"
#include "metrics.h"
#include "view.h"
#include "edgelb/lbmsg.h"
#include "edgelb/log.h"
#include "edgelb/util.h"

#define GW_TICK_MS	 200   /* view follower, log flush, retired gens */
#define GW_RETIRE_MAX_MS 60000 /* a retired generation is cut after */

/* ---- runtime ------------------------------------------------------------------- */

/*
 * A partition's limits and counters, kept over reloads and listener
 * generations (never freed before the module): the servers of every
 * generation count their connections in share, the requests that its
 * gates let through in inflight (until the proxy's on_done).
 */
struct gw_prt {
	char name[GW_PART_NAME_MAX];
	struct http_conn_share share; /* max: max_connections */
	uint32_t max_requests;	      /* atomic; 0: no limit */
	uint32_t retry_after;	      /* atomic; s */
	uint32_t inflight;	      /* atomic */
	uint64_t requests;	      /* atomic: let through */
	uint64_t refused;	      /* atomic: 503 over max_requests */
	uint32_t workers;	      /* of the current generation */
	bool live;		      /* in the current configuration */
};

/* A route table and what serves it: one stage of one partition. */
struct gw_stage {
	struct gw_mod *m;
	char name[GW_STAGE_NAME_MAX];
	char part[GW_PART_NAME_MAX];   /* "": the default partition */
	char label[GW_STAGE_NAME_MAX]; /* series, log: "STAGE[/PARTITION]" */
	struct gw_prt *prt;	       /* NULL: the default partition */
	struct gw_router *router;
};

/* A partition's server hands requests to the proxy through its gate:
 * the request limit of its partition. */
struct gw_gate {
	struct gw_prt *prt;
	struct gw_proxy *proxy;
};

/* A generation of listeners: per stage that has listeners, a server on
 * the daemon's loop (workers = 1) or worker threads, and its proxy. */
struct gw_gen {
	struct gw_gen *next; /* retired list */
	uint64_t retired_ms;
	size_t n;
	struct {
		struct gw_stage *stage;
		struct gw_proxy *proxy;
		struct http_server *hs;
		struct http_workers *w;
		struct gw_gate gate;
	} srv[GW_STAGE_MAX];
};

struct gw_mod {
	struct lbd *d;
	struct gw_mod_conf conf; /* of the current generation */
	struct gw_parts parts;	 /* of the current generation */
	size_t nprts;
	struct gw_prt prts[GW_PART_MAX];
	size_t nstages;
	struct gw_stage stages[GW_STAGE_MAX];
	struct gw_gen *gen;	/* NULL: no listener */
	struct gw_gen *retired; /* draining after a listener change */
	struct gw_log *log;
	struct gw_metrics *gm;
	struct http_metrics *hm;
	struct event *tick;
	uint64_t view_gen;
	bool draining;
	uint64_t rebuilds, rebuild_errors, health_changes;
	struct gw_proxy_stats gone; /* of freed generations */
	/* API store ([gateway] api_db; NULL: none) and lbctl api counts */
	struct gw_api_store *api;
	uint64_t api_cmds, api_cmd_errors;
};

static void
on_done(void *arg, const struct gw_done *d)
{
	struct gw_stage *st = arg;

	/* every request of a partition's proxy came through its gate */
	if (st->prt != NULL)
		__atomic_sub_fetch(&st->prt->inflight, 1, __ATOMIC_RELAXED);
	gw_metrics_done(st->m->gm, st->label, d);
	gw_log_write(st->m->log, st->label, d);
}

static struct gw_stage *
stage_find(struct gw_mod *m, const char *name, const char *part)
{
	for (size_t i = 0; i < m->nstages; i++)
		if (strcmp(m->stages[i].name, name) == 0 &&
		    strcmp(m->stages[i].part, part) == 0)
			return &m->stages[i];
	return NULL;
}

static struct gw_prt *
prt_find(struct gw_mod *m, const char *name)
{
	for (size_t i = 0; i < m->nprts; i++)
		if (strcmp(m->prts[i].name, name) == 0)
			return &m->prts[i];
	return NULL;
}

/* Every partition of c has its counters (kept when it goes: a retired
 * generation may still count in them). 0 or -ENOSPC. */
static int
prts_ensure(struct gw_mod *m, const struct gw_parts *ps, char *err,
	    size_t errlen)
{
	for (size_t i = 0; i < ps->n; i++) {
		struct gw_prt *pt;

		if (prt_find(m, ps->p[i].name) != NULL)
			continue;
		if (m->nprts >= GW_PART_MAX)
			return lb_errf(err, errlen, -ENOSPC,
				       "at most %d partitions over the "
				       "daemon's life",
				       GW_PART_MAX);
		pt = &m->prts[m->nprts++];
		snprintf(pt->name, sizeof(pt->name), "%s", ps->p[i].name);
	}
	return 0;
}

/* The limits of ps go live (a request limit at once; the connection
 * limit for the connections accepted from now on). */
static void
prts_set(struct gw_mod *m, const struct gw_parts *ps)
{
	for (size_t i = 0; i < m->nprts; i++) {
		struct gw_prt *pt = &m->prts[i];
		const struct gw_part_conf *pc = gw_mod_part_find(ps, pt->name);

		pt->live = pc != NULL;
		if (pc == NULL)
			continue;
		__atomic_store_n(&pt->share.max, pc->max_conns,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&pt->max_requests, pc->max_requests,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&pt->retry_after, pc->retry_after,
				 __ATOMIC_RELAXED);
	}
}

/* Every (stage, partition) of c exists (never removed: a retired
 * listener generation may still serve one). 0 or -ENOSPC / -ENOMEM. */
static int
stages_ensure(struct gw_mod *m, const struct cfg *c, char *err, size_t errlen)
{
	struct gw_unit un[GW_STAGE_MAX];
	size_t n = gw_mod_cfg_units(c, un, GW_STAGE_MAX);
	int rc = prts_ensure(m, gw_mod_cfg_parts(c), err, errlen);

	if (rc < 0)
		return rc;
	if (n > GW_STAGE_MAX)
		n = GW_STAGE_MAX; /* refused by the validation */
	for (size_t i = 0; i < n; i++) {
		struct gw_stage *s;

		if (stage_find(m, un[i].stage, un[i].part) != NULL)
			continue;
		if (m->nstages >= GW_STAGE_MAX)
			return lb_errf(err, errlen, -ENOSPC,
				       "at most %d (stage, partition) pairs "
				       "over the daemon's life",
				       GW_STAGE_MAX);
		s = &m->stages[m->nstages];
		s->router = gw_router_new();
		if (s->router == NULL)
			return lb_errf(err, errlen, -ENOMEM, "out of memory");
		s->m = m;
		snprintf(s->name, sizeof(s->name), "%s", un[i].stage);
		snprintf(s->part, sizeof(s->part), "%s", un[i].part);
		if (un[i].part[0] != '\0') {
			s->prt = prt_find(m, un[i].part);
			snprintf(s->label, sizeof(s->label), "%s/%s",
				 un[i].stage, un[i].part);
		} else {
			snprintf(s->label, sizeof(s->label), "%s", un[i].stage);
		}
		m->nstages++;
	}
	return 0;
}

/* ---- health from the view -------------------------------------------------- */

/* Set the health of t's service-bound upstreams from v (a backend v
 * does not know yet, e.g. during a reload, counts as unchecked: up);
 * whether any upstream's instances differ from the service's backends
 * in c. */
static bool
health_sync(struct gw_mod *m, struct gw_table *t, const struct cfg *c,
	    const struct view *v)
{
	const struct gw_sect *us = cfg_module_state(c, &gw_ups_cfg_ops);
	bool changed = false;

	for (size_t i = 0; us != NULL && i < gw_table_nupstreams(t); i++) {
		struct gw_upstream *u = gw_table_upstream(t, i);
		const struct gw_extra *x = gw_mod_extra_find(us, u->conf.name);
		const struct cfg_service *cs;
		const struct view_service *vs;

		if (x == NULL || x->service[0] == '\0')
			continue;
		cs = cfg_service_find(c, x->service);
		if (cs == NULL || (cs->nbackends < GW_MAX_INSTANCES
					   ? cs->nbackends
					   : GW_MAX_INSTANCES) != u->n)
			changed = true;
		vs = v != NULL ? view_find(v, x->service) : NULL;
		for (size_t k = 0; k < u->n; k++) {
			const struct gw_instance *in = &u->inst[k];
			bool ok = true; /* not in the view yet: as unchecked */

			if (cs != NULL && k < cs->nbackends &&
			    (!lb_addr_equal(&cs->backends[k].addr, &in->addr) ||
			     cs->backends[k].port != in->port ||
			     gw_mod_inst_weight(cs->backends[k].weight) !=
				     in->weight))
				changed = true;
			for (uint32_t b = 0; vs != NULL && b < vs->nbackends;
			     b++)
				if (vs->backends[b].port == in->port &&
				    lb_addr_equal(&vs->backends[b].addr,
						  &in->addr))
					ok = vs->backends[b].usable;
			if (ok != in->healthy) {
				gw_upstream_set_healthy(u, k, ok);
				m->health_changes++;
			}
		}
	}
	return changed;
}

/* ---- route tables ------------------------------------------------------------ */

/* Build every stage's table from c into t[]; nothing is published. */
static int
tables_build(struct gw_mod *m, const struct cfg *c, struct gw_table **t,
	     char *err, size_t errlen)
{
	struct view *v = view_get(m->d->view);
	int rc = 0;

	for (size_t i = 0; i < m->nstages; i++)
		t[i] = NULL;
	for (size_t i = 0; rc == 0 && i < m->nstages; i++) {
		struct gw_unit un = { m->stages[i].name, m->stages[i].part };
		struct gw_conf gc;

		rc = gw_mod_stage_conf(m, c, &un, &gc, err, errlen);
		if (rc < 0)
			break;
		t[i] = gw_table_build(&gc, err, errlen);
		gw_conf_fini(&gc);
		if (t[i] == NULL) {
			rc = -errno;
			gw_mod_err_line(c, err, errlen);
			break;
		}
		(void)health_sync(m, t[i], c, v);
	}
	view_put(v);
	if (rc < 0)
		for (size_t i = 0; i < m->nstages; i++)
			gw_table_put(t[i]);
	return rc;
}

static void
tables_publish(struct gw_mod *m, struct gw_table **t)
{
	for (size_t i = 0; i < m->nstages; i++) {
		struct gw_table *old = gw_router_get(m->stages[i].router);

		for (size_t k = 0; old != NULL && k < gw_table_nupstreams(old);
		     k++) {
			struct gw_upstream *u = gw_table_upstream(old, k);
			struct gw_upstream_stats s;

			gw_upstream_stats_read(u, &s);
			gw_metrics_retire_upstream(m->gm, u->conf.name, &s);
		}
		gw_router_publish(m->stages[i].router, t[i]);
		gw_table_put(old);
	}
	m->rebuilds++;
}

static int
rebuild_from(struct gw_mod *m, const struct cfg *c, char *err, size_t errlen)
{
	struct gw_table *t[GW_STAGE_MAX];
	int rc = tables_build(m, c, t, err, errlen);

	if (rc < 0) {
		m->rebuild_errors++;
		return rc;
	}
	tables_publish(m, t);
	return 0;
}

/*
 * What a stage's table has besides the file's [route] and [upstream]
 * sections, appended to out before it is built. 0 or -errno with err set.
 */
int
gw_mod_extra_conf(struct gw_mod *m, const char *stage, struct gw_conf *out,
		  char *err, size_t errlen)
{
	/* API store: the stage's live API routes after the INI's */
	if (m->api == NULL)
		return 0;
	return gw_api_stage_conf(m->api, stage, out, err, errlen);
}

int
gw_mod_rebuild(struct gw_mod *m, char *err, size_t errlen)
{
	return rebuild_from(m, m->d->cfg, err, errlen);
}

/* ---- a partition's gate ------------------------------------------------------- */

/* The data of a request the gate refused: the proxy never sees it. */
static char gate_refused;

/* Over max_requests: 503 with Retry-After, the proxy never sees it. */
static int
gate_refuse(struct gw_prt *pt, struct http_req *req)
{
	char ra[16], body[96];
	struct http_header h[2] = { { "Retry-After", ra },
				    { "Content-Type", "application/json" } };
	int n;

	http_req_set_data(req, NULL);
	snprintf(ra, sizeof(ra), "%u",
		 __atomic_load_n(&pt->retry_after, __ATOMIC_RELAXED));
	n = snprintf(body, sizeof(body),
		     "{\"error\":\"partition busy\",\"partition\":\"%s\"}\n",
		     pt->name);
	return http_resp_full(req, 503, h, 2, body, (size_t)n);
}

static int
gate_head(void *arg, struct http_req *req)
{
	struct gw_gate *g = arg;
	struct gw_prt *pt = g->prt;
	uint32_t max = __atomic_load_n(&pt->max_requests, __ATOMIC_RELAXED);
	int rc;

	/* taken before the check: two threads cannot both take the last
	 * place; given back by on_done (or here when the proxy made no
	 * call of it; a call whose on_done notes could not be allocated
	 * keeps its place: ENOMEM) */
	if (__atomic_add_fetch(&pt->inflight, 1, __ATOMIC_RELAXED) > max &&
	    max != 0) {
		const struct http_msg *m = http_req_msg(req);

		__atomic_sub_fetch(&pt->inflight, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&pt->refused, 1, __ATOMIC_RELAXED);
		/* with a body: now, the body is not read, the connection
		 * closes; without: at the request's end, it stays */
		if (m->chunked || m->content_length > 0)
			return gate_refuse(pt, req);
		http_req_set_data(req, &gate_refused);
		return 0;
	}
	__atomic_add_fetch(&pt->requests, 1, __ATOMIC_RELAXED);
	rc = gw_proxy_handler.on_head(g->proxy, req);
	if (rc < 0 && http_req_data(req) == NULL)
		__atomic_sub_fetch(&pt->inflight, 1, __ATOMIC_RELAXED);
	return rc;
}

static int
gate_body(void *arg, struct http_req *req, const char *p, size_t n)
{
	struct gw_gate *g = arg;

	if (http_req_data(req) == &gate_refused)
		return 0;
	return gw_proxy_handler.on_body(g->proxy, req, p, n);
}

static void
gate_request(void *arg, struct http_req *req)
{
	struct gw_gate *g = arg;

	if (http_req_data(req) == &gate_refused) {
		if (gate_refuse(g->prt, req) < 0)
			LB_DEBUG("gateway: partition %s: 503 not sent",
				 g->prt->name);
		return;
	}
	gw_proxy_handler.on_request(g->proxy, req);
}

static void
gate_drain(void *arg, struct http_req *req)
{
	struct gw_gate *g = arg;

	if (http_req_data(req) == &gate_refused)
		return;
	gw_proxy_handler.on_drain(g->proxy, req);
}

static void
gate_abort(void *arg, struct http_req *req)
{
	struct gw_gate *g = arg;

	if (http_req_data(req) == &gate_refused) {
		http_req_set_data(req, NULL);
		return;
	}
	gw_proxy_handler.on_abort(g->proxy, req);
}

/* The proxy's handler behind a partition's request limit. A refused
 * request never reaches the proxy (its callbacks find no call of it). */
static const struct http_handler gate_handler = {
	.on_head = gate_head,
	.on_body = gate_body,
	.on_request = gate_request,
	.on_drain = gate_drain,
	.on_abort = gate_abort,
};

/* ---- listeners ------------------------------------------------------------------ */

static void
limits_of(const struct gw_mod_conf *c, struct http_limits *l)
{
	*l = http_default_limits;
	l->max_conns = c->max_conns;
	l->max_conns_per_addr = c->max_conns_per_addr;
	l->max_head_bytes = c->max_header_size;
	l->max_body_bytes = c->max_body;
	l->head_timeout_ms = c->header_timeout_ms;
	l->idle_timeout_ms = c->idle_timeout_ms;
	l->max_streams = c->max_streams;
}

static void
gen_stats(struct gw_gen *g, struct gw_proxy_stats *sum)
{
	for (size_t i = 0; g != NULL && i < g->n; i++) {
		const struct gw_proxy_stats *s =
			gw_proxy_stats(g->srv[i].proxy);
		const uint64_t *a = (const uint64_t *)s;
		uint64_t *b = (uint64_t *)sum;

		for (size_t k = 0; k < sizeof(*s) / sizeof(uint64_t); k++)
			b[k] += __atomic_load_n(&a[k], __ATOMIC_RELAXED);
	}
}

static void
gen_free(struct gw_mod *m, struct gw_gen *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->n; i++) {
		if (g->srv[i].w != NULL)
			http_workers_stop(g->srv[i].w);
		http_server_free(g->srv[i].hs); /* aborts what is in flight */
		g->srv[i].hs = NULL;
	}
	for (size_t i = 0; i < g->n; i++)
		if (g->srv[i].proxy == NULL)
			g->n = i; /* a generation that failed half made */
	gen_stats(g, &m->gone);
	m->gone.active = 0;
	m->gone.ws_active = 0; /* their tunnels closed with the proxies */
	m->gone.retry_body_bytes = 0; /* their requests ended */
	for (size_t i = 0; i < g->n; i++) {
		gw_proxy_free(g->srv[i].proxy);
		http_workers_free(g->srv[i].w);
	}
	free(g);
}

static int
gen_listen(struct gw_gen *g, size_t i, const struct gw_listen *l,
	   const struct http_tls *tls)
{
	struct http_listen_opts o = { .tls = l->tls ? tls : NULL,
				      .reuseport = true };
	char buf[LB_ADDRPORTSTRLEN];
	int rc;

	if (g->srv[i].hs != NULL)
		rc = http_server_listen_opts(g->srv[i].hs, &l->addr, l->port,
					     &o);
	else
		rc = http_workers_listen(g->srv[i].w, &l->addr, l->port, o.tls);
	if (rc < 0)
		LB_ERR("[gateway] listen %s%s (line %d): %s",
		       lb_addr_port_format(&l->addr, l->port, buf, sizeof(buf)),
		       l->tls ? " tls" : "", l->line, strerror(-rc));
	return rc;
}

/* The listeners of stage st in ls[0..n) into out; how many. */
static size_t
unit_listeners(const struct gw_listen *ls, size_t n, const char *st,
	       const struct gw_listen **out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (strcmp(ls[i].stage, st) == 0)
			out[k++] = &ls[i];
	return k;
}

/* Set up srv[i] of g for stage s: its proxy and its server (the
 * daemon's loop or threads), listening on ls. 0 or -errno. */
static int
gen_unit(struct gw_mod *m, struct gw_gen *g, size_t i, struct gw_stage *s,
	 const struct gw_mod_conf *c, const struct gw_part_conf *pc,
	 const struct gw_listen **ls, size_t nls, const struct http_tls *tls)
{
	struct http_client_opts copts = http_client_default_opts;
	struct gw_proxy_opts po = { .on_done = on_done, .on_done_arg = s };
	uint32_t workers = pc != NULL ? pc->workers : c->workers;
	struct http_limits lim;
	int rc;

	limits_of(c, &lim);
	if (pc != NULL) {
		/* per server the whole limit: the shared count binds first */
		lim.max_conns = pc->max_conns;
		if (lim.max_conns_per_addr > pc->max_conns)
			lim.max_conns_per_addr = pc->max_conns;
		if (pc->max_upstream_conns != 0) {
			/* every thread has its own upstream clients */
			copts.max_conns_per_host =
				pc->max_upstream_conns / pc->workers;
			if (copts.max_conns_per_host == 0)
				copts.max_conns_per_host = 1;
			copts.max_idle_per_host = copts.max_conns_per_host;
		}
		po.client = &copts;
		g->srv[i].gate.prt = s->prt;
	}
	g->srv[i].stage = s;
	g->n++;
	/* a partition always runs on threads of its own */
	g->srv[i].proxy = gw_proxy_new(
		pc == NULL && workers <= 1 ? m->d->base : NULL, s->router, &po);
	if (g->srv[i].proxy == NULL)
		return -errno;
	g->srv[i].gate.proxy = g->srv[i].proxy;
	if (pc == NULL && workers <= 1)
		g->srv[i].hs = http_server_new(
			m->d->base, &lim, &gw_proxy_handler, g->srv[i].proxy);
	else if (pc == NULL)
		g->srv[i].w = http_workers_new(workers, &lim, &gw_proxy_handler,
					       g->srv[i].proxy);
	else
		g->srv[i].w = http_workers_new(workers, &lim, &gate_handler,
					       &g->srv[i].gate);
	if (g->srv[i].hs == NULL && g->srv[i].w == NULL)
		return -errno;
	if (pc != NULL)
		http_workers_share_conns(g->srv[i].w, &s->prt->share);
	for (size_t k = 0; k < nls; k++) {
		rc = gen_listen(g, i, ls[k], tls);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* A generation serving c's listeners and those of the partitions ps.
 * NULL with errno. */
static struct gw_gen *
gen_open(struct gw_mod *m, const struct gw_mod_conf *c,
	 const struct gw_parts *ps)
{
	struct http_tls_cert certs[GW_CERT_MAX];
	struct http_tls tls = { certs, c->ncerts };
	struct gw_gen *g = calloc(1, sizeof(*g));
	int rc = -ENOMEM;

	if (g == NULL)
		goto err;
	for (size_t i = 0; i < c->ncerts; i++) {
		certs[i].server_name =
			c->certs[i].sni[0] != '\0' ? c->certs[i].sni : NULL;
		certs[i].cert = c->certs[i].cert;
		certs[i].key = c->certs[i].key;
	}
	for (size_t i = 0; i < m->nstages; i++) {
		struct gw_stage *s = &m->stages[i];
		const struct gw_part_conf *pc =
			s->prt != NULL ? gw_mod_part_find(ps, s->part) : NULL;
		const struct gw_listen *ls[GW_LISTEN_MAX];
		size_t nls;

		if (s->prt == NULL)
			nls = unit_listeners(c->listen, c->nlisten, s->name,
					     ls);
		else if (pc != NULL)
			nls = unit_listeners(pc->listen, pc->nlisten, s->name,
					     ls);
		else
			nls = 0; /* a partition gone from the file */
		if (nls == 0)
			continue;
		rc = gen_unit(m, g, g->n, s, c, pc, ls, nls, &tls);
		if (rc < 0)
			goto err;
	}
	for (size_t i = 0; i < g->n; i++)
		if (g->srv[i].w != NULL) {
			rc = http_workers_start(g->srv[i].w);
			if (rc < 0)
				goto err;
		}
	for (size_t i = 0; i < m->nprts; i++)
		m->prts[i].workers = 0;
	for (size_t i = 0; i < g->n; i++)
		if (g->srv[i].gate.prt != NULL)
			g->srv[i].gate.prt->workers +=
				http_workers_count(g->srv[i].w);
	return g;
err:
	gen_free(m, g);
	errno = -rc;
	return NULL;
}

static void
gen_drain(struct gw_gen *g)
{
	for (size_t i = 0; g != NULL && i < g->n; i++) {
		if (g->srv[i].hs != NULL)
			http_server_drain(g->srv[i].hs);
		if (g->srv[i].w != NULL)
			http_workers_drain(g->srv[i].w);
	}
}

static bool
gen_drained(struct gw_gen *g)
{
	for (size_t i = 0; g != NULL && i < g->n; i++) {
		if (g->srv[i].hs != NULL &&
		    http_server_active(g->srv[i].hs) > 0)
			return false;
		if (g->srv[i].w != NULL && !http_workers_drained(g->srv[i].w))
			return false;
		if (__atomic_load_n(&gw_proxy_stats(g->srv[i].proxy)->active,
				    __ATOMIC_RELAXED) > 0)
			return false;
	}
	return true;
}

static bool
listen_differ(const struct gw_listen *x, const struct gw_listen *y)
{
	return x->port != y->port || x->tls != y->tls ||
	       !lb_addr_equal(&x->addr, &y->addr) ||
	       strcmp(x->stage, y->stage) != 0;
}

/* Do the partitions a and b need different listeners? Not for their
 * max_requests and retry_after (prts_set), nor for their routes. */
static bool
parts_changed(const struct gw_parts *a, const struct gw_parts *b)
{
	if (a->n != b->n)
		return true;
	for (size_t i = 0; i < a->n; i++) {
		const struct gw_part_conf *x = &a->p[i], *y = &b->p[i];

		if (strcmp(x->name, y->name) != 0 || x->nlisten != y->nlisten ||
		    x->workers != y->workers || x->max_conns != y->max_conns ||
		    x->max_upstream_conns != y->max_upstream_conns)
			return true;
		for (size_t k = 0; k < x->nlisten; k++)
			if (listen_differ(&x->listen[k], &y->listen[k]))
				return true;
	}
	return false;
}

/* Do a and b need different listeners? */
static bool
listeners_changed(const struct gw_mod_conf *a, const struct gw_mod_conf *b)
{
	if (a->nlisten != b->nlisten || a->ncerts != b->ncerts ||
	    a->workers != b->workers || a->max_conns != b->max_conns ||
	    a->max_conns_per_addr != b->max_conns_per_addr ||
	    a->header_timeout_ms != b->header_timeout_ms ||
	    a->idle_timeout_ms != b->idle_timeout_ms ||
	    a->max_header_size != b->max_header_size ||
	    a->max_body != b->max_body || a->max_streams != b->max_streams)
		return true;
	for (size_t i = 0; i < a->nlisten; i++)
		if (listen_differ(&a->listen[i], &b->listen[i]))
			return true;
	for (size_t i = 0; i < a->ncerts; i++)
		if (strcmp(a->certs[i].sni, b->certs[i].sni) != 0 ||
		    strcmp(a->certs[i].cert, b->certs[i].cert) != 0 ||
		    strcmp(a->certs[i].key, b->certs[i].key) != 0)
			return true;
	return false;
}

static void
conf_copy(struct gw_mod_conf *dst, const struct gw_mod_conf *src)
{
	struct gw_cert *certs = dst->certs;

	*dst = *src;
	dst->certs = certs;
	if (src->ncerts > 0)
		memcpy(certs, src->certs, src->ncerts * sizeof(*certs));
}

/* c's [gateway], or the defaults for a cfg made without the module's
 * sections (cfg_new(NULL, 0) in tests). */
static const struct gw_mod_conf *
conf_of(const struct cfg *c, struct gw_mod_conf *defaults)
{
	const struct gw_mod_conf *gc = cfg_module_state(c, &gw_cfg_ops);

	if (gc != NULL)
		return gc;
	gw_mod_conf_init(defaults);
	defaults->certs = NULL;
	return defaults;
}

/* ---- the timer: view, log, retired generations ------------------------------- */

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct gw_mod *m = arg;
	struct view *v = view_get(m->d->view);
	struct gw_gen **pp = &m->retired;
	uint64_t now = lb_now_ns() / 1000000;
	bool rebuild = false;

	(void)fd;
	(void)what;
	if (v != NULL && v->generation != m->view_gen) {
		m->view_gen = v->generation;
		for (size_t i = 0; i < m->nstages; i++) {
			struct gw_table *t = gw_router_get(m->stages[i].router);

			if (t != NULL)
				rebuild |= health_sync(m, t, m->d->cfg, v);
			gw_table_put(t);
		}
	}
	view_put(v);
	if (rebuild) {
		char err[256] = "";

		if (gw_mod_rebuild(m, err, sizeof(err)) < 0)
			LB_ERR("gateway: service backends changed, route "
			       "tables kept: %s",
			       err);
		else
			LB_NOTICE("gateway: service backends changed, route "
				  "tables rebuilt");
	}
	gw_log_flush(m->log);
	while (*pp != NULL) {
		struct gw_gen *g = *pp;

		if (gen_drained(g) || now - g->retired_ms > GW_RETIRE_MAX_MS) {
			*pp = g->next;
			gen_free(m, g);
		} else {
			pp = &g->next;
		}
	}
}

/* ---- metrics ------------------------------------------------------------------- */

static void
sum_http(void *arg, struct http_stats *sum)
{
	struct gw_mod *m = arg;

	for (struct gw_gen *g = m->gen; g != NULL;
	     g = g == m->gen ? m->retired : g->next)
		for (size_t i = 0; i < g->n; i++) {
			if (g->srv[i].hs != NULL)
				http_server_stats_read(g->srv[i].hs, sum);
			for (unsigned int k = 0;
			     g->srv[i].w != NULL &&
			     k < http_workers_count(g->srv[i].w);
			     k++)
				http_server_stats_read(
					http_workers_server(g->srv[i].w, k),
					sum);
		}
}

/* The partitions' series (docs/gateway.md, "Partitions"). */
static void
collect_prts(struct gw_mod *m, struct metrics *reg)
{
	for (size_t i = 0; i < m->nprts; i++) {
		const struct gw_prt *pt = &m->prts[i];
		struct metrics_label l[2] = { { "partition", pt->name },
					      { "reason", "requests" } };

		metrics_put(reg, "edgelbd_gateway_partition_requests_total",
			    "Requests a partition let through to its routes.",
			    METRICS_COUNTER, l, 1,
			    (double)__atomic_load_n(&pt->requests,
						    __ATOMIC_RELAXED));
		metrics_put(reg, "edgelbd_gateway_partition_requests_active",
			    "Requests of a partition in flight.", METRICS_GAUGE,
			    l, 1,
			    (double)__atomic_load_n(&pt->inflight,
						    __ATOMIC_RELAXED));
		metrics_put(reg, "edgelbd_gateway_partition_connections",
			    "Client connections open on a partition's "
			    "listeners.",
			    METRICS_GAUGE, l, 1,
			    (double)__atomic_load_n(&pt->share.open,
						    __ATOMIC_RELAXED));
		metrics_put(reg, "edgelbd_gateway_partition_refused_total",
			    "Requests a partition refused over its limits: "
			    "503 over max_requests (reason requests), "
			    "connections over max_connections (reason "
			    "connections).",
			    METRICS_COUNTER, l, 2,
			    (double)__atomic_load_n(&pt->refused,
						    __ATOMIC_RELAXED));
		l[1].value = "connections";
		metrics_put(reg, "edgelbd_gateway_partition_refused_total",
			    "Requests a partition refused over its limits: "
			    "503 over max_requests (reason requests), "
			    "connections over max_connections (reason "
			    "connections).",
			    METRICS_COUNTER, l, 2,
			    (double)__atomic_load_n(&pt->share.refused,
						    __ATOMIC_RELAXED));
	}
}

static int
mod_collect(void *state, struct metrics *reg)
{
	struct gw_mod *m = state;
	size_t max = m->nstages * GW_MAX_UPSTREAMS, n = 0;
	struct gw_metrics_up *ups = calloc(max + 1, sizeof(*ups));
	uint64_t now = lb_now_ns() / 1000000;
	struct gw_log_stats ls;
	int rc;

	if (ups == NULL)
		return -ENOMEM;

	for (size_t i = 0; i < m->nstages; i++) {
		struct gw_table *t = gw_router_get(m->stages[i].router);

		for (size_t k = 0;
		     t != NULL && k < gw_table_nupstreams(t) && n < max; k++) {
			struct gw_upstream *u = gw_table_upstream(t, k);
			struct gw_metrics_up *x = &ups[n++];

			x->stage = m->stages[i].label;
			x->name = u->conf.name; /* t stays: the router's ref */
			gw_upstream_stats_read(u, &x->st);
			x->available = x->unavailable = 0;
			for (size_t j = 0; j < u->n; j++) {
				if (gw_upstream_available(u, j, now))
					x->available++;
				else
					x->unavailable++;
			}
		}
		gw_table_put(t);
	}
	gw_log_stats_read(m->log, &ls);
	metrics_put(reg, "edgelbd_gateway_access_log_lines_total",
		    "Access log lines written.", METRICS_COUNTER, NULL, 0,
		    (double)ls.lines);
	metrics_put(reg, "edgelbd_gateway_access_log_dropped_total",
		    "Access log lines lost: too long, or a failed write.",
		    METRICS_COUNTER, NULL, 0, (double)(ls.dropped + ls.errors));
	/* the filters' counters and the proxies' WebSocket/gRPC ones */
	{
		struct gw_proxy_stats ps = m->gone;

		gen_stats(m->gen, &ps);
		for (struct gw_gen *g = m->retired; g != NULL; g = g->next)
			gen_stats(g, &ps);
		gw_metrics_collect_proxy(reg, &ps);
		for (size_t i = 0; i < m->nstages; i++) {
			struct gw_table *t = gw_router_get(m->stages[i].router);

			gw_metrics_collect_filters(reg, m->stages[i].label, t);
			gw_table_put(t);
		}
	}
	collect_prts(m, reg);
	rc = gw_metrics_collect(m->gm, reg, ups, n);
	free(ups);
	return rc;
}

/* ---- life cycle ------------------------------------------------------------------ */

static void
mod_free(struct gw_mod *m)
{
	if (m == NULL)
		return;
	if (m->tick != NULL)
		event_free(m->tick);
	http_metrics_unregister(m->hm);
	gen_free(m, m->gen);
	while (m->retired != NULL) {
		struct gw_gen *g = m->retired;

		m->retired = g->next;
		gen_free(m, g);
	}
	for (size_t i = 0; i < m->nstages; i++)
		gw_router_free(m->stages[i].router);
	gw_log_free(m->log);
	gw_metrics_free(m->gm);
	gw_api_close(m->api);
	free(m->conf.certs);
	free(m);
}

/* The API store at path, or NULL (none configured, or it failed: then
 * *rc < 0 and err says why). */
static struct gw_api_store *
api_open(const char *path, int *rc, char *err, size_t errlen)
{
	struct gw_api_store *s;

	*rc = 0;
	if (path[0] == '\0')
		return NULL;
	s = gw_api_open(path, err, errlen);
	if (s == NULL)
		*rc = -errno;
	return s;
}

static int
mod_start(struct lbd *d, const struct cfg *c, void **state)
{
	struct gw_mod_conf defaults;
	const struct gw_mod_conf *gc = conf_of(c, &defaults);
	struct gw_mod *m = calloc(1, sizeof(*m));
	struct timeval tv = { 0, GW_TICK_MS * 1000 };
	char err[256] = "";
	int rc = -ENOMEM;

	if (m == NULL)
		return -ENOMEM;
	m->d = d;
	m->conf.certs = calloc(GW_CERT_MAX, sizeof(*m->conf.certs));
	m->log = gw_log_new();
	m->gm = gw_metrics_new(d->metrics);
	m->tick = event_new(d->base, -1, EV_PERSIST, on_tick, m);
	if (m->conf.certs == NULL || m->log == NULL || m->gm == NULL ||
	    m->tick == NULL)
		goto err;
	conf_copy(&m->conf, gc);
	rc = gw_log_set_target(m->log, gc->access_log, err, sizeof(err));
	if (rc < 0)
		goto err_msg;
	/* API store: open before the first build, which serves its routes */
	m->api = api_open(gc->api_db, &rc, err, sizeof(err));
	if (rc < 0)
		goto err_msg;
	rc = stages_ensure(m, c, err, sizeof(err));
	if (rc == 0)
		rc = rebuild_from(m, c, err, sizeof(err));
	if (rc < 0)
		goto err_msg;
	m->parts = *gw_mod_cfg_parts(c);
	prts_set(m, &m->parts);
	if (gc->nlisten > 0 || m->parts.n > 0) {
		m->gen = gen_open(m, gc, &m->parts);
		if (m->gen == NULL) {
			rc = -errno;
			goto err;
		}
	}
	if (d->metrics != NULL) {
		m->hm = http_metrics_register(d->metrics, "gateway", sum_http,
					      m);
		if (m->hm == NULL)
			goto err;
	}
	event_add(m->tick, &tv);
	if (gc->nlisten > 0 || m->parts.n > 0)
		LB_NOTICE("gateway: %zu listeners, %zu stages, %zu partitions",
			  gc->nlisten, m->nstages, m->parts.n);
	*state = m;
	return 0;
err_msg:
	LB_ERR("gateway: %s", err);
err:
	mod_free(m);
	return rc < 0 ? rc : -ENOMEM;
}

static int
mod_apply(struct lbd *d, void *state, const struct cfg *old,
	  const struct cfg *new)
{
	struct gw_mod_conf defaults;
	const struct gw_mod_conf *gc = conf_of(new, &defaults);
	struct gw_mod *m = state;
	struct gw_table *t[GW_STAGE_MAX];
	const struct gw_parts *ps = gw_mod_cfg_parts(new);
	struct gw_gen *g = NULL;
	bool relisten =
		listeners_changed(&m->conf, gc) || parts_changed(&m->parts, ps);
	struct gw_api_store *api_old = m->api;
	char err[256] = "";
	int rc;

	(void)d;
	(void)old;
	if (strcmp(gc->api_db, m->conf.api_db) != 0) {
		/* API store: a new api_db is opened; the old one is closed
		 * once the tables built from the new one are published */
		m->api = api_open(gc->api_db, &rc, err, sizeof(err));
		if (rc < 0) {
			m->api = api_old;
			LB_ERR("gateway: reload: %s; old configuration kept",
			       err);
			return rc;
		}
	}
	if (gw_log_reopen(m->log) < 0)
		LB_WARN("gateway: access log: reopen failed, writing on");
	if (strcmp(gc->access_log, m->conf.access_log) != 0 &&
	    gw_log_set_target(m->log, gc->access_log, err, sizeof(err)) < 0) {
		LB_ERR("gateway: %s; old access log kept", err);
		err[0] = '\0';
	}
	rc = stages_ensure(m, new, err, sizeof(err));
	if (rc == 0)
		rc = tables_build(m, new, t, err, sizeof(err));
	if (rc < 0) {
		m->rebuild_errors++;
		LB_ERR("gateway: reload: %s; old configuration kept", err);
		goto api_back;
	}
	/* the new limits before new listeners take connections */
	prts_set(m, ps);
	if (relisten && (gc->nlisten > 0 || ps->n > 0) && !m->draining) {
		g = gen_open(m, gc, ps);
		if (g == NULL) {
			rc = -errno;
			prts_set(m, &m->parts);
			for (size_t i = 0; i < m->nstages; i++)
				gw_table_put(t[i]);
			m->rebuild_errors++;
			LB_ERR("gateway: reload: listeners: %s; old "
			       "configuration kept",
			       strerror(-rc));
			goto api_back;
		}
	}
	tables_publish(m, t);
	if (m->api != api_old)
		gw_api_close(api_old);
	if (relisten && !m->draining) {
		/* the new listeners took over (SO_REUSEPORT); the old ones
		 * finish what they serve and go */
		if (m->gen != NULL) {
			gen_drain(m->gen);
			m->gen->retired_ms = lb_now_ns() / 1000000;
			m->gen->next = m->retired;
			m->retired = m->gen;
		}
		m->gen = g;
	}
	conf_copy(&m->conf, gc);
	m->parts = *ps;
	LB_NOTICE("gateway: reloaded: %zu stages, %zu partitions%s", m->nstages,
		  ps->n, relisten ? ", new listeners" : "");
	return 0;
api_back:
	if (m->api != api_old) {
		gw_api_close(m->api);
		m->api = api_old;
	}
	return rc;
}

static int
mod_drain(struct lbd *d, void *state)
{
	struct gw_mod *m = state;

	(void)d;
	m->draining = true;
	gen_drain(m->gen);
	for (struct gw_gen *g = m->retired; g != NULL; g = g->next)
		gen_drain(g);
	return 0;
}

static bool
mod_drained(void *state)
{
	struct gw_mod *m = state;

	if (!gen_drained(m->gen))
		return false;
	for (struct gw_gen *g = m->retired; g != NULL; g = g->next)
		if (!gen_drained(g))
			return false;
	gw_log_flush(m->log);
	return true;
}

static void
mod_stop(struct lbd *d, void *state)
{
	(void)d;
	mod_free(state);
}

/* "partition_NAME_KEY": NAME lower case, '.' and '-' as '_' (lbctl's
 * counter names are [a-z0-9_]). */
static void
ctl_name(char *buf, size_t len, const char *part, const char *key)
{
	int n = snprintf(buf, len, "partition_%s_%s", part, key);

	for (int i = 0; i < n && (size_t)i < len; i++) {
		buf[i] = (char)tolower((unsigned char)buf[i]);
		if (buf[i] == '.' || buf[i] == '-')
			buf[i] = '_';
	}
}

static int
mod_ctl_show(struct lbd *d, void *state, struct nl_msg *part)
{
	struct gw_mod *m = state;
	struct gw_proxy_stats s = m->gone;
	struct gw_log_stats ls;
	uint64_t cls[6], dropped, routes = 0, ups = 0, retired = 0;
	struct nlattr *cnt;
	int rc = 0;

	(void)d;
	gen_stats(m->gen, &s);
	for (struct gw_gen *g = m->retired; g != NULL; g = g->next) {
		gen_stats(g, &s);
		retired++;
	}
	for (size_t i = 0; i < m->nstages; i++) {
		struct gw_table *t = gw_router_get(m->stages[i].router);

		routes += t != NULL ? gw_table_nroutes(t) : 0;
		ups += t != NULL ? gw_table_nupstreams(t) : 0;
		gw_table_put(t);
	}
	gw_log_stats_read(m->log, &ls);
	gw_metrics_totals(m->gm, cls, &dropped);
	cnt = nla_nest_start(part, LB_ATTR_COUNTERS);
	if (cnt == NULL)
		return -EMSGSIZE;
#define C(name, v)                                                             \
	do {                                                                   \
		if (rc == 0)                                                   \
			rc = lbmsg_put_counter(part, name, (uint64_t)(v));     \
	} while (0)
	C("stages", m->nstages);
	C("listeners", m->conf.nlisten);
	C("routes", routes);
	C("upstreams", ups);
	C("requests", s.requests);
	C("active", s.active);
	C("no_route", s.no_route);
	C("attempts", s.attempts);
	C("retries", s.retries);
	C("retries_refused", s.retries_refused);
	C("retries_body", s.retries_body);
	C("retries_skipped_body", s.retries_skipped_body);
	C("retry_bodies", s.retry_bodies);
	C("retry_body_bytes", s.retry_body_bytes);
	C("profiles_full", s.profiles_full);
	C("client_aborts", s.client_aborts);
	C("responses_1xx", s.responses[1]);
	C("responses_2xx", s.responses[2]);
	C("responses_3xx", s.responses[3]);
	C("responses_4xx", s.responses[4]);
	C("responses_5xx", s.responses[5]);
	C("rebuilds", m->rebuilds);
	C("rebuild_errors", m->rebuild_errors);
	C("health_changes", m->health_changes);
	C("retired_listener_sets", retired);
	C("access_log_lines", ls.lines);
	C("access_log_dropped", ls.dropped);
	C("access_log_errors", ls.errors);
	C("answered_none", cls[0]);
	C("metrics_series_dropped", dropped);
	C("ws_upgrades", s.ws_upgrades);
	C("ws_active", s.ws_active);
	C("ws_refused", s.ws_refused);
	C("ws_failed", s.ws_failed);
	C("ws_early", s.ws_early);
	C("ws_bytes_up", s.ws_bytes_up);
	C("ws_bytes_down", s.ws_bytes_down);
	C("ws_held", s.ws_held);
	C("ws_idle_closes", s.ws_idle_closes);
	C("grpc_errors", s.grpc_errors);
	C("trailers_in", s.trailers_in);
	C("trailers_out", s.trailers_out);
	C("api_commands", m->api_cmds);
	C("api_command_errors", m->api_cmd_errors);
	C("partitions", m->parts.n);
	for (size_t i = 0; rc == 0 && i < m->nprts; i++) {
		const struct gw_prt *pt = &m->prts[i];
		char name[GW_PART_NAME_MAX + 32];

		if (!pt->live)
			continue;
#define P(key, v)                                                              \
	do {                                                                   \
		ctl_name(name, sizeof(name), pt->name, key);                   \
		C(name, v);                                                    \
	} while (0)
		P("workers", pt->workers);
		P("max_requests",
		  __atomic_load_n(&pt->max_requests, __ATOMIC_RELAXED));
		P("max_connections",
		  __atomic_load_n(&pt->share.max, __ATOMIC_RELAXED));
		P("requests", __atomic_load_n(&pt->requests, __ATOMIC_RELAXED));
		P("active", __atomic_load_n(&pt->inflight, __ATOMIC_RELAXED));
		P("connections",
		  __atomic_load_n(&pt->share.open, __ATOMIC_RELAXED));
		P("refused_requests",
		  __atomic_load_n(&pt->refused, __ATOMIC_RELAXED));
		P("refused_connections",
		  __atomic_load_n(&pt->share.refused, __ATOMIC_RELAXED));
#undef P
	}
#undef C
	if (rc == 0)
		nla_nest_end(part, cnt);
	return rc;
}

/* API store: a change rebuilds every stage before the store commits it. */
static int
api_apply(void *arg, char *err, size_t errlen)
{
	return gw_mod_rebuild(arg, err, errlen);
}

/* lbctl api (LB_MSG_MODULE_CMD): gw_api_ctl.c. */
static int
mod_ctl_cmd(struct lbd *d, void *state, struct nl_msg *req,
	    struct nl_msg *reply, char *err, size_t errlen)
{
	struct gw_mod *m = state;
	int rc;

	(void)d;
	m->api_cmds++;
	if (m->api == NULL)
		rc = lb_errf(err, errlen, -EOPNOTSUPP,
			     "no API store: set [gateway] api_db");
	else
		rc = gw_api_ctl_cmd(m->api, req, reply, api_apply, m, err,
				    errlen);
	if (rc < 0)
		m->api_cmd_errors++;
	return rc;
}

const struct lbd_module gw_module = {
	.name = "gateway",
	.cfg = &gw_cfg_ops,
	.start = mod_start,
	.apply = mod_apply,
	.collect = mod_collect,
	.ctl_show = mod_ctl_show,
	.ctl_cmd = mod_ctl_cmd,
	.drain = mod_drain,
	.drained = mod_drained,
	.stop = mod_stop,
};

/* [route] and [upstream] are the gateway's: their entries only carry the
 * sections (started, so that lbctl shows them running, not reserved). */
static int
sect_start(struct lbd *d, const struct cfg *c, void **state)
{
	(void)d;
	(void)c;
	*state = NULL;
	return 0;
}

const struct lbd_module gw_route_module = {
	.name = "route",
	.cfg = &gw_route_cfg_ops,
	.start = sect_start,
};

const struct lbd_module gw_upstream_module = {
	.name = "upstream",
	.cfg = &gw_ups_cfg_ops,
	.start = sect_start,
};

const struct lbd_module gw_partition_module = {
	.name = "partition",
	.cfg = &gw_part_cfg_ops,
	.start = sect_start,
};
