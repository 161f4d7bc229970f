/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dataplane synchronisation (see dpsync.h): the desired state, the
 * applied record, and the queue of jobs that send plans over dp.sock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>

#include "dpclient.h"
#include "dpsync.h"
#include "health.h"
#include "lbd.h"
#include "metrics.h"
#include "svcmap.h"
#include "edgelb/util.h"
#include "edgelb/log.h"

struct waiter {
	struct waiter *next;
	dpsync_done_fn fn;
	void *arg;
};

struct job {
	struct job *next;
	bool full;
	uint8_t proto; /* a service job's key */
	struct lb_addr vip;
	uint16_t vport;
	struct waiter *waiters;
};

struct op_ctx {
	struct run *run;
	size_t i;
};

/* The job in flight and what its operations point into. */
struct run {
	struct dpsync *s;
	struct job *job;
	struct rec_svc *want, *have; /* full: desired, dumped */
	size_t nwant, nhave;
	struct rec_svc one; /* service job: its desired form */
	bool has_one;
	struct rec_plan plan;
	struct op_ctx *ctx;
	size_t left, failed;
	int first;
	uint64_t t0;
};

struct dpsync {
	struct lbd *d;
	struct svcmap *applied; /* key -> struct rec_svc *: on the dataplane */
	bool applied_ok; /* false: applied unknown, wait for a full one */
	bool dirty;	 /* a full reconcile is due */
	uint64_t retry_at;
	struct job *queue, **qtail;
	struct run *run;
	struct event *kick;
	struct metrics_series *rec_ok, *rec_err, *rec_duration;
	struct metrics_family *rec_ops;
};

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
	r->max_conns = s->max_conns;
	r->conn_rate = s->conn_rate;
	r->syn_src_rate = s->syn_src_rate;
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
		rb->u_thresh = b->u_thresh;
		rb->l_thresh = b->l_thresh;
		/* tells the dataplane a failed backend from a drained one */
		rb->flags = hc_state_healthy(st) ? 0 : LB_BACKEND_F_DOWN;
		r->nbackends++;
	}
	return 0;
}

int
dpsync_desired(const struct cfg *c, const struct hc *hc, struct rec_svc **out,
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
applied_forget(struct dpsync *s)
{
	svcmap_foreach(s->applied, free_one, NULL);
	svcmap_clear(s->applied);
	s->applied_ok = false;
}

/*
 * Record r (its arrays move into the record, r is left without them) as
 * what the dataplane holds for r's key. 0 or -ENOMEM (record unchanged).
 */
static int
applied_put(struct dpsync *s, struct rec_svc *r)
{
	struct rec_svc *n = malloc(sizeof(*n)), *old;
	uint8_t k[SVCMAP_KEY_MAX];
	size_t klen = key_of(r, k);

	if (n == NULL)
		return -ENOMEM;
	old = svcmap_get(s->applied, k, klen);
	if (svcmap_put(s->applied, k, klen, n) < 0) {
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

/* A full reconcile at the next tick of the dataplane timer, after ms. */
static void
schedule_full(struct dpsync *s, uint32_t ms)
{
	if (!s->dirty) /* else one is due already (maybe backing off) */
		s->retry_at = lb_now_ms() + ms;
	s->dirty = true;
}

/* ---- running jobs ------------------------------------------------------ */

static void
run_free(struct run *r)
{
	rec_plan_free(&r->plan);
	rec_svcs_free(r->want, r->nwant);
	rec_svcs_free(r->have, r->nhave);
	release(&r->one);
	free(r->ctx);
	free(r);
}

/* Tell the waiters of j its result rc and free it. */
static void
tell(struct job *j, int rc)
{
	while (j->waiters != NULL) {
		struct waiter *w = j->waiters;

		j->waiters = w->next;
		w->fn(w->arg, rc);
		free(w);
	}
	free(j);
}

/* The job ended with rc: tell its waiters, go on with the queue. */
static void
finish(struct dpsync *s, struct run *r, int rc)
{
	struct job *j = r->job;

	s->run = NULL;
	run_free(r);
	tell(j, rc);
	if (s->queue != NULL)
		event_active(s->kick, EV_TIMEOUT, 1);
}

static void
end_full(struct dpsync *s, struct run *r, int rc)
{
	if (r->plan.n)
		LB_INFO("reconcile: %zu operations, %zu failed", r->plan.n,
			r->failed);
	/* the dataplane now holds want: record it */
	for (size_t i = 0; rc == 0 && i < r->nwant; i++)
		rc = applied_put(s, &r->want[i]);
	s->applied_ok = rc == 0;
	if (rc < 0)
		applied_forget(s);
	metrics_add(rc == 0 ? s->rec_ok : s->rec_err, 1);
	metrics_observe(s->rec_duration, (double)(lb_now_ms() - r->t0) / 1e3);
	s->dirty = rc != 0;
	if (rc != 0)
		s->retry_at = lb_now_ms() + DPSYNC_RETRY_FAILED_MS;
	finish(s, r, rc);
}

static void
end_service(struct dpsync *s, struct run *r, int rc)
{
	const struct job *j = r->job;

	if (rc < 0) {
		LB_WARN("apply: %zu of %zu operations failed; full reconcile "
			"scheduled",
			r->failed, r->plan.n);
	} else if (r->has_one) {
		rc = applied_put(s, &r->one);
	} else {
		uint8_t k[SVCMAP_KEY_MAX];
		size_t klen = svcmap_svc_key(j->proto, &j->vip, j->vport, k);
		struct rec_svc *have = svcmap_del(s->applied, k, klen);

		if (have != NULL)
			rec_svcs_free(have, 1);
	}
	if (rc < 0) {
		/* the dataplane may hold anything for this service now */
		applied_forget(s);
		schedule_full(s, 0);
	}
	finish(s, r, rc);
}

static void
end_run(struct run *r)
{
	if (r->job->full)
		end_full(r->s, r, r->first);
	else
		end_service(r->s, r, r->first);
}

static void
describe(const struct rec_op *op, char *vip, char *x)
{
	lb_addr_port_format(&op->svc->vip, op->svc->vport, vip,
			    LB_ADDRPORTSTRLEN);
	x[0] = '\0';
	if (op->be != NULL)
		lb_addr_port_format(&op->be->addr, op->be->port, x,
				    LB_ADDRPORTSTRLEN);
	else if (op->laddr != NULL)
		lb_addr_format(op->laddr, x, LB_ADDRPORTSTRLEN);
}

static void
op_done(void *arg, int rc, const char *err)
{
	struct op_ctx *c = arg;
	struct run *r = c->run;
	const struct rec_op *op = &r->plan.ops[c->i];
	char vip[LB_ADDRPORTSTRLEN], x[LB_ADDRPORTSTRLEN];

	describe(op, vip, x);
	if (rc < 0) {
		if (rc != -ECANCELED)
			LB_WARN("reconcile: %s %s %s %s: %s",
				rec_op_name(op->type),
				lb_proto_name(op->svc->proto), vip, x, err);
		if (r->first == 0)
			r->first = rc;
		r->failed++;
	} else {
		LB_INFO("reconcile: %s %s %s %s", rec_op_name(op->type),
			lb_proto_name(op->svc->proto), vip, x);
	}
	if (--r->left == 0)
		end_run(r);
}

/* Queue every operation of r's plan; ends r when none is in flight. */
static void
send_plan(struct dpsync *s, struct run *r)
{
	r->ctx = calloc(r->plan.n ? r->plan.n : 1, sizeof(*r->ctx));
	if (r->ctx == NULL) {
		r->first = -ENOMEM;
		end_run(r);
		return;
	}
	r->left = 1; /* held until all are queued */
	for (size_t i = 0; i < r->plan.n; i++) {
		struct metrics_label l = { "op",
					   rec_op_name(r->plan.ops[i].type) };
		int rc;

		r->ctx[i] = (struct op_ctx){ r, i };
		rc = dpc_apply_op(s->d->dpc, &r->plan.ops[i], op_done,
				  &r->ctx[i]);
		metrics_add(metrics_series(s->rec_ops, &l, 1), 1);
		if (rc < 0) {
			if (r->first == 0)
				r->first = rc;
			r->failed++;
		} else {
			r->left++;
		}
	}
	if (--r->left == 0)
		end_run(r);
}

static void
on_dump(void *arg, int rc, const char *err, struct rec_svc *v, size_t n)
{
	struct run *r = arg;
	struct dpsync *s = r->s;

	r->have = v;
	r->nhave = n;
	if (rc < 0) {
		if (rc != -ECANCELED)
			LB_WARN("reconcile: dump of %s failed: %s",
				dpc_path(s->d->dpc), err);
		r->first = rc;
		end_run(r);
		return;
	}
	rc = dpsync_desired(s->d->cfg, s->d->hc, &r->want, &r->nwant);
	if (rc == 0)
		rc = rec_diff(r->want, r->nwant, r->have, r->nhave, &r->plan);
	if (rc < 0) {
		r->first = rc;
		end_run(r);
		return;
	}
	send_plan(s, r);
}

static void
start_full(struct dpsync *s, struct run *r)
{
	int rc;

	if (!dpc_connected(s->d->dpc)) {
		s->dirty = true; /* the reconnect reconciles: no run counted */
		finish(s, r, -ENOTCONN);
		return;
	}
	applied_forget(s);
	rc = dpc_dump_services(s->d->dpc, on_dump, r);
	if (rc < 0) {
		r->first = rc;
		end_run(r);
	}
}

static void
start_service(struct dpsync *s, struct run *r)
{
	const struct job *j = r->job;
	const struct cfg_service *c =
		cfg_service_find_key(s->d->cfg, j->proto, &j->vip, j->vport);
	uint8_t k[SVCMAP_KEY_MAX];
	size_t klen = svcmap_svc_key(j->proto, &j->vip, j->vport, k);
	const struct rec_svc *have;
	int rc = 0;

	if (!dpc_connected(s->d->dpc)) {
		s->dirty = true; /* the reconnect reconciles */
		finish(s, r, -ENOTCONN);
		return;
	}
	if (!s->applied_ok) {
		schedule_full(s, 0);
		finish(s, r, -EAGAIN);
		return;
	}
	have = svcmap_get(s->applied, k, klen);
	if (c != NULL) {
		rc = desired_one(c, s->d->hc, &r->one);
		r->has_one = true;
	}
	if (rc == 0)
		rc = rec_diff(&r->one, c != NULL, have, have != NULL, &r->plan);
	if (rc < 0) {
		r->first = rc;
		end_run(r);
		return;
	}
	send_plan(s, r);
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct dpsync *s = arg;
	struct run *r;
	struct job *j;

	(void)fd;
	(void)what;
	if (s->run != NULL || s->queue == NULL)
		return;
	j = s->queue;
	s->queue = j->next;
	if (s->queue == NULL)
		s->qtail = &s->queue;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		/* retried by the timer: a full reconcile is due */
		LB_ERR("dataplane sync: out of memory");
		schedule_full(s, 0);
		tell(j, -ENOMEM);
		if (s->queue != NULL)
			event_active(s->kick, EV_TIMEOUT, 1);
		return;
	}
	r->s = s;
	r->job = j;
	r->t0 = lb_now_ms();
	s->run = r;
	if (j->full)
		start_full(s, r);
	else
		start_service(s, r);
}

/* ---- the queue --------------------------------------------------------- */

static void
add_waiter(struct job *j, dpsync_done_fn fn, void *arg)
{
	struct waiter *w;

	if (fn == NULL)
		return;
	w = malloc(sizeof(*w));
	if (w == NULL) {
		fn(arg, -ENOMEM); /* only when out of memory: at once */
		return;
	}
	w->fn = fn;
	w->arg = arg;
	w->next = j->waiters;
	j->waiters = w;
}

/* A queued full reconcile, which covers whatever comes after it. */
static struct job *
queued_full(const struct dpsync *s)
{
	for (struct job *j = s->queue; j != NULL; j = j->next)
		if (j->full)
			return j;
	return NULL;
}

static void
enqueue(struct dpsync *s, struct job *j)
{
	*s->qtail = j;
	s->qtail = &j->next;
	event_active(s->kick, EV_TIMEOUT, 1);
}

void
dpsync_reconcile(struct dpsync *s, dpsync_done_fn done, void *arg)
{
	struct job *j = queued_full(s);

	s->dirty = true;
	s->retry_at = 0;
	if (j == NULL) {
		j = calloc(1, sizeof(*j));
		if (j == NULL) {
			if (done != NULL)
				done(arg, -ENOMEM);
			return;
		}
		j->full = true;
		enqueue(s, j);
	}
	add_waiter(j, done, arg);
}

void
dpsync_service(struct dpsync *s, uint8_t proto, const struct lb_addr *vip,
	       uint16_t vport, dpsync_done_fn done, void *arg)
{
	struct job *j = queued_full(s);

	for (struct job *q = s->queue; j == NULL && q != NULL; q = q->next)
		if (q->proto == proto && q->vport == vport &&
		    lb_addr_equal(&q->vip, vip))
			j = q;
	if (j == NULL) {
		j = calloc(1, sizeof(*j));
		if (j == NULL) {
			schedule_full(s, 0);
			if (done != NULL)
				done(arg, -ENOMEM);
			return;
		}
		j->proto = proto;
		j->vip = *vip;
		j->vport = vport;
		enqueue(s, j);
	}
	add_waiter(j, done, arg);
}

static void
cancel_waiters(struct job *j, void *arg)
{
	struct waiter **pw = &j->waiters;

	while (*pw != NULL) {
		struct waiter *w = *pw;

		if (w->arg == arg) {
			*pw = w->next;
			free(w);
		} else {
			pw = &w->next;
		}
	}
}

void
dpsync_cancel(struct dpsync *s, void *arg)
{
	for (struct job *j = s->queue; j != NULL; j = j->next)
		cancel_waiters(j, arg);
	if (s->run != NULL)
		cancel_waiters(s->run->job, arg);
}

bool
dpsync_due(const struct dpsync *s)
{
	return s->dirty && lb_now_ms() >= s->retry_at && s->run == NULL &&
	       queued_full(s) == NULL;
}

void
dpsync_mark_dirty(struct dpsync *s)
{
	s->dirty = true;
	s->retry_at = 0;
}

bool
dpsync_idle(const struct dpsync *s)
{
	return s->run == NULL && s->queue == NULL;
}

bool
dpsync_applied_ok(const struct dpsync *s)
{
	return s->applied_ok;
}

bool
dpsync_dirty(const struct dpsync *s)
{
	return s->dirty;
}

uint64_t
dpsync_retry_at(const struct dpsync *s)
{
	return s->retry_at;
}

/* ---- life cycle -------------------------------------------------------- */

static struct metrics_series *
one(struct metrics *m, const char *name, const char *help, enum metrics_type t,
    const char *lvalue)
{
	static const double b[] = { 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5 };
	struct metrics_label l = { "result", lvalue };

	return metrics_series(metrics_family(m, name, help, t, b, 8), &l,
			      lvalue != NULL ? 1 : 0);
}

struct dpsync *
dpsync_new(struct lbd *d)
{
	struct dpsync *s = calloc(1, sizeof(*s));
	struct metrics *m = d->metrics;

	if (s == NULL)
		return NULL;
	s->d = d;
	s->qtail = &s->queue;
	s->dirty = true;
	s->applied = svcmap_new();
	s->kick = event_new(d->base, -1, 0, on_kick, s);
	s->rec_ok = one(m, "edgelbd_reconcile_runs_total",
			"Reconciliations with the dataplane, by result.",
			METRICS_COUNTER, "ok");
	s->rec_err = one(m, "edgelbd_reconcile_runs_total", NULL,
			 METRICS_COUNTER, "error");
	s->rec_duration = one(m, "edgelbd_reconcile_duration_seconds",
			      "Time of one reconciliation (dump, diff, apply).",
			      METRICS_HISTOGRAM, NULL);
	s->rec_ops = metrics_family(m, "edgelbd_reconcile_ops_total",
				    "Operations sent to the dataplane.",
				    METRICS_COUNTER, NULL, 0);
	if (s->applied == NULL || s->kick == NULL || s->rec_ok == NULL ||
	    s->rec_err == NULL || s->rec_duration == NULL ||
	    s->rec_ops == NULL) {
		dpsync_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

void
dpsync_free(struct dpsync *s)
{
	if (s == NULL)
		return;
	/* what still waits is told; nothing is in flight after dpc_free */
	if (s->run != NULL)
		finish(s, s->run, -ECANCELED);
	while (s->queue != NULL) {
		struct job *j = s->queue;

		s->queue = j->next;
		tell(j, -ECANCELED);
	}
	if (s->kick != NULL)
		event_free(s->kick);
	if (s->applied != NULL) {
		applied_forget(s);
		svcmap_free(s->applied);
	}
	free(s);
}
