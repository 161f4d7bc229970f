/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HttpDNS server (see hdns_srv.h): the configuration turned into
 * http_limits and listeners, the handler that maps an HTTP request to
 * hdns_handle() and back, and the metrics of every request.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "hdns_srv.h"
#include "http.h"
#include "metrics.h"
#include "edgelb/log.h"
#include "edgelb/util.h"

/* The old server's bounds on the header values it keeps (431 above). */
#define CTYPE_MAX  127
#define ACCEPT_MAX 255
#define XRIP_MAX   63
#define XFF_MAX	   511
#define TARGET_MAX (HDNS_QUERY_MAX + 255) /* 414 above */

#define REQ_SERIES_MAX 256 /* (dialect, qtype, status) triples counted */

/* Requests by (dialect, qtype, status): counted on whichever thread
 * served them, rendered on the daemon's at scrape time. */
struct req_series {
	uint8_t dialect;
	const char *qtype; /* a static string of the core */
	int status;
	uint64_t n;
};

enum { CONN_H1, CONN_H1_TLS, CONN_H2C, CONN_H2, CONN_KINDS };

static const char *const conn_names[CONN_KINDS] = {
	"http/1.1",
	"http/1.1+tls",
	"h2c",
	"h2",
};

/* One generation of listeners: a server on the daemon's loop, or
 * workers on threads. */
struct hdns_http {
	struct http_server *hs;
	struct http_workers *w;
};

struct hdns_srv {
	struct event_base *base;
	pthread_t owner;      /* the daemon's thread, which made s */
	pthread_mutex_t lock; /* conf, for hdns_handle on worker threads */
	struct hdns_conf conf;
	struct hdns_source src;
	struct hdns_http http;
	struct metrics *m;
	struct metrics_family *f_lat;
	struct http_metrics *hm;
	/* under lock */
	struct req_series req[REQ_SERIES_MAX];
	size_t nreq;
	uint64_t conns[CONN_KINDS];
	struct http_ratelimit rl;
};

/* ---- metrics ------------------------------------------------------------- */

static const char *const dialect_names[HDNS_DIALECT_MAX] = {
	"json", "text", "doh", "doh-json", "other",
};

static void
metrics_setup(struct hdns_srv *s)
{
	static const double b[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
				    0.005,  0.01,    0.025,  0.1 };

	s->f_lat =
		metrics_family(s->m, "edgelbd_httpdns_request_duration_seconds",
			       "Time to answer one HttpDNS request.",
			       METRICS_HISTOGRAM, b, sizeof(b) / sizeof(b[0]));
}

/* The registry belongs to the daemon's thread: the histogram is observed
 * only there (workers = 1). Not s->http: a reload swaps it. */
static bool
metrics_here(const struct hdns_srv *s)
{
	return s->m != NULL && pthread_equal(pthread_self(), s->owner);
}

/* Count one request (any thread). */
static void
count_req(struct hdns_srv *s, const struct hdns_resp *resp)
{
	const char *qtype = resp->qtype != NULL ? resp->qtype : "none";
	size_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->nreq; i++)
		if (s->req[i].dialect == resp->dialect &&
		    s->req[i].status == resp->status &&
		    strcmp(s->req[i].qtype, qtype) == 0)
			break;
	if (i == s->nreq && s->nreq < REQ_SERIES_MAX) {
		s->req[i].dialect = resp->dialect;
		s->req[i].qtype = qtype;
		s->req[i].status = resp->status;
		s->nreq++;
	}
	if (i < s->nreq)
		s->req[i].n++;
	pthread_mutex_unlock(&s->lock);
}

/* At scrape time, on the daemon's thread. */
static int
collect(void *arg, struct metrics *m)
{
	struct hdns_srv *s = arg;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nreq; i++) {
		const struct req_series *r = &s->req[i];
		char st[8];
		struct metrics_label l[3] = {
			{ "dialect", dialect_names[r->dialect] },
			{ "qtype", r->qtype },
			{ "status", st },
		};

		snprintf(st, sizeof(st), "%d", r->status);
		metrics_put(m, "edgelbd_httpdns_requests_total",
			    "HttpDNS requests by dialect, query type and HTTP "
			    "status.",
			    METRICS_COUNTER, l, 3, (double)r->n);
	}
	for (int i = 0; i < CONN_KINDS; i++) {
		struct metrics_label l = { "proto", conn_names[i] };

		if (s->conns[i] > 0)
			metrics_put(m, "edgelbd_httpdns_connections_total",
				    "HttpDNS connections by protocol.",
				    METRICS_COUNTER, &l, 1,
				    (double)s->conns[i]);
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void
sum_stats(void *arg, struct http_stats *sum)
{
	struct hdns_srv *s = arg;

	if (s->http.hs != NULL)
		http_server_stats_read(s->http.hs, sum);
	for (unsigned int i = 0;
	     s->http.w != NULL && i < http_workers_count(s->http.w); i++)
		http_server_stats_read(http_workers_server(s->http.w, i), sum);
}

/* Seconds of the monotonic clock. */
static double
now_s(void)
{
	return (double)lb_now_ns() / 1e9;
}

/* ---- the handler ---------------------------------------------------------- */

static void
on_conn(void *arg, const char *proto, bool tls)
{
	struct hdns_srv *s = arg;
	bool h2 = strcmp(proto, "h2") == 0;

	pthread_mutex_lock(&s->lock);
	s->conns[h2 ? (tls ? CONN_H2 : CONN_H2C)
		    : (tls ? CONN_H1_TLS : CONN_H1)]++;
	pthread_mutex_unlock(&s->lock);
}

/* A header value the old server kept in a buffer of max + 1 bytes. */
static bool
header_fits(const struct http_msg *m, const char *name, size_t max,
	    const char **out)
{
	*out = http_msg_header(m, name);
	return *out == NULL || strlen(*out) <= max;
}

static void
reply(struct http_req *req, const struct hdns_resp *resp)
{
	char cc[32];
	struct http_header hd[2] = {
		{ "Content-Type", resp->content_type != NULL
					  ? resp->content_type
					  : "text/plain" },
		{ "Cache-Control", cc },
	};

	if (resp->max_age >= 0)
		snprintf(cc, sizeof(cc), "max-age=%d", (int)resp->max_age);
	else
		snprintf(cc, sizeof(cc), "no-store");
	http_resp_full(req, resp->status, hd, 2, resp->body, resp->len);
}

static void
on_request(void *arg, struct http_req *req)
{
	struct hdns_srv *s = arg;
	const struct http_msg *m = http_req_msg(req);
	struct hdns_resp resp = { .content_type = "text/plain", .max_age = -1 };
	struct hdns_req hr = { 0 };
	const struct sockaddr *sa = http_req_peer(req, NULL);
	double t0 = now_s();
	size_t blen;
	int rc;

	if (strlen(m->target) > TARGET_MAX) {
		resp.status = 414;
		reply(req, &resp);
		return;
	}
	if (!header_fits(m, "Content-Type", CTYPE_MAX, &hr.content_type) ||
	    !header_fits(m, "Accept", ACCEPT_MAX, &hr.accept) ||
	    !header_fits(m, "X-Real-IP", XRIP_MAX, &hr.x_real_ip) ||
	    !header_fits(m, "X-Forwarded-For", XFF_MAX, &hr.x_forwarded_for)) {
		resp.status = 431;
		reply(req, &resp);
		return;
	}
	hr.method = m->method;
	hr.path = m->path;
	hr.query = m->query;
	hr.body = (const uint8_t *)http_req_body(req, &blen);
	hr.body_len = blen;
	if (sa->sa_family == AF_INET)
		lb_addr_from_bytes(&hr.peer,
				   &((const struct sockaddr_in *)sa)->sin_addr,
				   4);
	else if (sa->sa_family == AF_INET6)
		lb_addr_from_bytes(
			&hr.peer, &((const struct sockaddr_in6 *)sa)->sin6_addr,
			16);
	hr.now = (int64_t)time(NULL);
	pthread_mutex_lock(&s->lock);
	rc = hdns_handle(&s->conf, &s->src, &hr, &resp);
	pthread_mutex_unlock(&s->lock);
	if (rc < 0) {
		http_log_rl(&s->rl, LOG_ERR, "httpdns: request: %s",
			    strerror(-rc));
		hdns_resp_release(&resp);
		resp.status = 500;
		resp.content_type = "text/plain";
		resp.max_age = -1;
	}
	reply(req, &resp);
	count_req(s, &resp);
	if (metrics_here(s) && s->f_lat != NULL) {
		struct metrics_label l = { "dialect",
					   dialect_names[resp.dialect] };

		metrics_observe(metrics_series(s->f_lat, &l, 1), now_s() - t0);
	}
	hdns_resp_release(&resp);
}

static const struct http_handler handler = {
	.on_request = on_request,
	.on_conn = on_conn,
};

/* ---- listeners ------------------------------------------------------------ */

static void
limits_of(const struct hdns_conf *c, struct http_limits *l)
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

/* Does moving from a to b need new listeners? */
static bool
http_changed(const struct hdns_conf *a, const struct hdns_conf *b)
{
	return a->has_listen != b->has_listen ||
	       (b->has_listen &&
		(a->listen_port != b->listen_port ||
		 !lb_addr_equal(&a->listen_addr, &b->listen_addr))) ||
	       a->has_https != b->has_https ||
	       (b->has_https &&
		(a->https_port != b->https_port ||
		 !lb_addr_equal(&a->https_addr, &b->https_addr) ||
		 strcmp(a->cert, b->cert) != 0 ||
		 strcmp(a->key, b->key) != 0)) ||
	       a->workers != b->workers || a->max_conns != b->max_conns ||
	       a->max_conns_per_addr != b->max_conns_per_addr ||
	       a->max_header_size != b->max_header_size ||
	       a->max_body != b->max_body ||
	       a->header_timeout_ms != b->header_timeout_ms ||
	       a->idle_timeout_ms != b->idle_timeout_ms ||
	       a->max_streams != b->max_streams;
}

static void
http_free(struct hdns_http *h)
{
	http_server_free(h->hs);
	http_workers_free(h->w);
	h->hs = NULL;
	h->w = NULL;
}

static int
listen_one(struct hdns_srv *s, struct hdns_http *h, const struct lb_addr *a,
	   uint16_t port, const struct http_tls *tls)
{
	struct http_listen_opts o = { .tls = tls, .reuseport = true };
	char buf[LB_ADDRPORTSTRLEN];
	int rc;

	(void)s;
	if (h->hs != NULL)
		rc = http_server_listen_opts(h->hs, a, port, &o);
	else
		rc = http_workers_listen(h->w, a, port, tls);
	if (rc < 0)
		LB_ERR("[httpdns] listen %s%s: %s",
		       lb_addr_port_format(a, port, buf, sizeof(buf)),
		       tls != NULL ? " (https)" : "", strerror(-rc));
	return rc;
}

/* A new generation of listeners for c. 0 or -errno (h is then empty). */
static int
http_open(struct hdns_srv *s, const struct hdns_conf *c, struct hdns_http *h)
{
	struct http_tls_cert cert = { NULL, c->cert, c->key };
	struct http_tls tls = { &cert, 1 };
	struct http_limits lim;
	int rc = -ENOMEM;

	limits_of(c, &lim);
	memset(h, 0, sizeof(*h));
	if (c->workers <= 1)
		h->hs = http_server_new(s->base, &lim, &handler, s);
	else
		h->w = http_workers_new(c->workers, &lim, &handler, s);
	if (h->hs == NULL && h->w == NULL) {
		rc = -errno;
		goto err;
	}
	if (c->has_listen) {
		rc = listen_one(s, h, &c->listen_addr, c->listen_port, NULL);
		if (rc < 0)
			goto err;
	}
	if (c->has_https) {
		rc = listen_one(s, h, &c->https_addr, c->https_port, &tls);
		if (rc < 0)
			goto err;
	}
	if (h->w != NULL) {
		rc = http_workers_start(h->w);
		if (rc < 0)
			goto err;
	}
	return 0;
err:
	http_free(h);
	return rc;
}

/* ---- life cycle ------------------------------------------------------------- */

struct hdns_srv *
hdns_srv_new(struct event_base *base, const struct hdns_conf *c,
	     const struct hdns_source *src, struct metrics *m)
{
	struct hdns_srv *s = calloc(1, sizeof(*s));
	int rc;

	if (s == NULL)
		return NULL;
	s->base = base;
	s->owner = pthread_self();
	s->src = *src;
	s->m = m;
	s->rl.burst = 10;
	pthread_mutex_init(&s->lock, NULL);
	hdns_conf_init(&s->conf);
	rc = hdns_conf_copy(&s->conf, c);
	if (rc == 0)
		rc = http_open(s, c, &s->http);
	if (rc == 0 && m != NULL) {
		metrics_setup(s);
		s->hm = http_metrics_register(m, "httpdns", sum_stats, s);
		if (s->hm == NULL || metrics_add_collector(m, collect, s) < 0)
			rc = -ENOMEM;
	}
	if (rc < 0) {
		hdns_srv_free(s);
		errno = -rc;
		return NULL;
	}
	return s;
}

int
hdns_srv_update(struct hdns_srv *s, const struct hdns_conf *c)
{
	struct hdns_http old = s->http, h = { 0 };
	struct hdns_conf copy, prev;
	int rc = hdns_conf_copy(&copy, c);

	if (rc < 0)
		return rc;
	if (http_changed(&s->conf, c)) {
		rc = http_open(s, c, &h);
		if (rc < 0) {
			hdns_conf_release(&copy);
			return rc;
		}
	}
	pthread_mutex_lock(&s->lock);
	prev = s->conf;
	s->conf = copy;
	pthread_mutex_unlock(&s->lock);
	hdns_conf_release(&prev);
	if (h.hs != NULL || h.w != NULL) {
		/* the new listeners took over (SO_REUSEPORT): old ones go */
		s->http = h;
		http_free(&old);
	}
	return 0;
}

void
hdns_srv_drain(struct hdns_srv *s)
{
	if (s->http.hs != NULL)
		http_server_drain(s->http.hs);
	if (s->http.w != NULL)
		http_workers_drain(s->http.w);
}

bool
hdns_srv_drained(struct hdns_srv *s)
{
	if (s->http.hs != NULL && http_server_active(s->http.hs) > 0)
		return false;
	return s->http.w == NULL || http_workers_drained(s->http.w);
}

void
hdns_srv_free(struct hdns_srv *s)
{
	if (s == NULL)
		return;
	http_metrics_unregister(s->hm);
	http_free(&s->http); /* no thread counts any more */
	if (s->m != NULL)
		metrics_del_collector(s->m, collect, s);
	hdns_conf_release(&s->conf);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

unsigned int
hdns_srv_connections(const struct hdns_srv *s)
{
	struct http_stats st = { 0 };

	sum_stats((void *)s, &st);
	return (unsigned int)st.conns_open;
}
