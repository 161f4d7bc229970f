/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The gateway's proxy handler (gw_proxy.h). One struct gw_call per client
 * request, hung on the http_req (http_req_set_data) from on_head until
 * both the answer ended and the upstream request is done, or the client
 * went away (on_abort). Upstream attempts are http_client requests; the
 * call holds a reference to the table it matched in, so that a swap of
 * the router's table never frees its route or upstream under it.
 *
 * A WebSocket upgrade that got its 101 leaves the call for a struct
 * gw_tunnel: the two bufferevents (the client's from http_resp_upgrade,
 * the upstream's from on_upgrade), an idle timer and a table reference;
 * it lives on its loop's list until one of its ends closes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <syslog.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "gw_filter.h"
#include "gw_proxy.h"
#include "edgelb/util.h"

#define HOLD_MAX (1u << 20) /* bytes of one direction held, at most */

struct profile {
	uint32_t connect_ms, head_ms, idle_ms;
	uint32_t max_conns, max_idle; /* the upstream's pool keys */
	uint32_t max_pending;
	struct http_client *cl;
};

/* The loop's lag is sampled every LAG_PERIOD_MS while it had a request in
 * the last LAG_IDLE_MS (an idle loop has no timer of ours). */
#define LAG_PERIOD_MS 20
#define LAG_IDLE_MS   10000

/* What belongs to one event loop: its clients, its calls, its log
 * limiter, its lag timer. Used only from that loop's thread. */
struct gw_loop {
	struct event_base *base;
	struct event *lag_ev; /* NULL until its first request */
	struct gw_lag lag;
	bool lag_on;
	uint64_t last_req_ns;
	struct http_client *def; /* routes without their own timeouts */
	size_t nprof;
	struct profile prof[GW_PROXY_PROFILES];
	struct gw_call *calls; /* in flight, for gw_proxy_free */
	struct gw_tunnel *tunnels;
	struct http_ratelimit rl;
};

/* A WebSocket after its 101: side 0 the client, side 1 the upstream. */
struct gw_tunnel {
	struct gw_tunnel *prev, *next;
	struct gw_proxy *p;
	struct gw_loop *lp;
	struct gw_table *t; /* a reference: route stays */
	struct bufferevent *b[2];
	bool eof[2];	 /* side i sent its last byte */
	bool shut[2];	 /* side i's writing is shut down */
	bool paused[2];	 /* side i's reading waits for the other's output */
	bool tls_client; /* side 0 is TLS: closed, not shut down */
	struct event *idle;
	uint32_t idle_ms;
	uint64_t last_ms; /* a byte moved */
};

struct gw_proxy {
	struct gw_router *router;
	struct http_client_opts copts;
	char via_name[48];
	char via_resp[56];  /* "1.1 name" */
	pthread_mutex_t mu; /* guards loops[] (looked up per request) */
	size_t nloops;
	struct gw_loop *loops[GW_PROXY_LOOPS];
	struct gw_proxy_stats st; /* relaxed atomics: any loop writes */
	uint64_t retries_active;  /* atomic */
	uint64_t tunnels;	  /* atomic: open, for GW_MAX_TUNNELS */
	void (*on_done)(void *arg, const struct gw_done *d);
	void *on_done_arg;
};

enum call_kind {
	CALL_PROXY,
	CALL_ANSWER, /* an answer of ours at the request's end */
};

struct gw_call {
	struct gw_call *prev, *next;
	struct gw_proxy *p;
	struct gw_loop *lp;
	struct http_req *req; /* NULL once the answer ended or aborted */
	struct gw_table *t;
	struct gw_route *route;
	struct http_client *cl;
	enum call_kind kind;
	/* our own answer (CALL_ANSWER) */
	int a_status;
	const char *a_error; /* JSON error text; NULL: the route's */
	struct gw_freq *fr;  /* the route's filter chain state, or NULL */
	bool f_answer;	     /* a filter answers (gw_freq_answer) */
	int sent_status;     /* our own answer's, once sent */
	struct event *delay; /* a filter holds the request (leaky bucket) */
	/* upstream attempt */
	struct http_client_req *up;
	int inst;
	unsigned attempts;
	bool retrying; /* counted in retries_active */
	bool entered;  /* counted in the upstream's max_requests */
	bool retry_5xx;
	bool head_seen; /* the upstream's head came */
	int up_status;
	uint64_t t0_us;
	uint64_t hash;
	/* request, kept for retries and the spec */
	char *target;
	char *authority;
	char *fwd; /* the forwarding header values */
	struct http_header hdrs[HTTP_MAX_HEADERS];
	size_t nhdrs;
	bool has_body;
	int64_t body_len;
	bool req_done; /* the client's body ended */
	bool up_ended; /* http_client_req_end called */
	char *qheld;   /* request bytes the upstream did not take */
	size_t qheld_n;
	/* the body's copy for a retry: every byte the client sent, while
	 * kb_on; counted in retry_body_bytes by its capacity */
	char *kb;
	size_t kb_n, kb_cap;
	bool kb_on;	  /* copying: the copy is the whole body so far */
	bool replay;	  /* the copy's first kb_replay bytes still to send */
	size_t kb_replay; /* on the current (retry) attempt */
	/* response */
	bool resp_started;
	char *rheld; /* response bytes the client did not take */
	size_t rheld_n;
	bool up_done; /* the upstream ended the response */
	/* protocols */
	bool upgrade;		  /* a WebSocket upgrade */
	bool grpc;		  /* content-type application/grpc */
	bool tls_client;	  /* the client came over TLS */
	struct bufferevent *cbev; /* the client's, after its 101 */
	struct http_header *qtr;  /* request trailers, copied */
	size_t nqtr;
	struct http_header *rtr; /* response trailers, copied */
	size_t nrtr;
	/* for on_done (opts): what the request was and how it went */
	char *d_info; /* "method\0host\0path"; NULL without on_done */
	bool d_has_host, d_reported;
	struct sockaddr_storage d_peer;
	uint64_t d_start_ns, d_head_ns, d_bytes_in, d_bytes_out;
	int d_status;
	const char *d_error;
};

/* ---- helpers -------------------------------------------------------------- */

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#define STAT_ADD(field, v) __atomic_add_fetch(&(field), (v), __ATOMIC_RELAXED)

static bool
idempotent(const char *m)
{
	static const char *const ok[] = { "GET",   "HEAD", "OPTIONS",
					  "TRACE", "PUT",  "DELETE" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(m, ok[i]) == 0)
			return true;
	return false;
}

/* Is name listed in a Connection header's value (comma separated)? */
static bool
in_list(const char *list, const char *name)
{
	size_t nl = strlen(name);
	const char *p = list;

	while (p != NULL && *p != '\0') {
		const char *e;
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		e = strchr(p, ',');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == nl && strncasecmp(p, name, nl) == 0)
			return true;
		p = e;
	}
	return false;
}

/* Hop-by-hop (RFC 9110 7.6.1), framing, or named by Connection. */
static bool
hop_by_hop(const char *name, const char *conn)
{
	static const char *const hop[] = {
		"Connection",
		"Keep-Alive",
		"TE",
		"Trailer",
		"Transfer-Encoding",
		"Upgrade",
		"Content-Length",
		"Host",
		"HTTP2-Settings",
	};

	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (strcasecmp(name, hop[i]) == 0)
			return true;
	if (strncasecmp(name, "Proxy-", 6) == 0)
		return true;
	return conn != NULL && in_list(conn, name);
}

static void
client_sockaddr(const struct sockaddr *sa, char *buf, size_t len, bool brk)
{
	buf[0] = '\0';
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET && len >= INET_ADDRSTRLEN) {
		/* by hand: inet_ntop formats with sprintf */
		const uint8_t *a =
			(const uint8_t *)&((const struct sockaddr_in *)sa)
				->sin_addr;
		char *p = buf;

		for (int i = 0; i < 4; i++) {
			if (a[i] >= 100)
				*p++ = (char)('0' + a[i] / 100);
			if (a[i] >= 10)
				*p++ = (char)('0' + a[i] / 10 % 10);
			*p++ = (char)('0' + a[i] % 10);
			*p++ = i < 3 ? '.' : '\0';
		}
	} else if (sa->sa_family == AF_INET6 && len > 2) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			inet_ntop(AF_INET, &a->s6_addr[12], buf,
				  (socklen_t)len);
			return;
		}
		if (brk) {
			/* RFC 7239: "[v6]" in a quoted string */
			buf[0] = '[';
			inet_ntop(AF_INET6, a, buf + 1, (socklen_t)len - 2);
			strcat(buf, "]");
		} else {
			inet_ntop(AF_INET6, a, buf, (socklen_t)len);
		}
	}
}

/* A copy of h[0..n) in one allocation (*out NULL when n is 0). */
static int
hdrs_copy(const struct http_header *h, size_t n, struct http_header **out,
	  size_t *nout)
{
	size_t need = n * sizeof(**out);
	struct http_header *c;
	char *p;

	*out = NULL;
	*nout = 0;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		need += strlen(h[i].name) + strlen(h[i].value) + 2;
	c = malloc(need);
	if (c == NULL)
		return -ENOMEM;
	p = (char *)(c + n);
	for (size_t i = 0; i < n; i++) {
		c[i].name = p;
		p = stpcpy(p, h[i].name) + 1;
		c[i].value = p;
		p = stpcpy(p, h[i].value) + 1;
	}
	*out = c;
	*nout = n;
	return 0;
}

/* ---- the body's copy for a retry --------------------------------------------- */

static void
kb_free(struct gw_call *c)
{
	if (c->kb_cap > 0)
		STAT_ADD(c->p->st.retry_body_bytes, -(uint64_t)c->kb_cap);
	free(c->kb);
	c->kb = NULL;
	c->kb_n = 0;
	c->kb_cap = 0;
}

/* No retry can use the copy any more: copying stops, the copy goes (at
 * the end of a replay that still needs it). */
static void
kb_stop(struct gw_call *c)
{
	c->kb_on = false;
	if (!c->replay)
		kb_free(c);
}

/* Copy the body of a request that a retry may send again: one with a
 * body, on a route that retries, of a method it retries, not declared
 * larger than retry_body_max. */
static void
kb_start(struct gw_call *c, const char *method)
{
	const struct gw_route_conf *rc = c->route->conf;

	if (!c->has_body || rc->retries == 0 || rc->retry_body_max == 0 ||
	    (!rc->retry_non_idempotent && !idempotent(method)) ||
	    c->body_len > (int64_t)rc->retry_body_max)
		return;
	c->kb_on = true;
	STAT_ADD(c->p->st.retry_bodies, 1);
}

/* A piece the client sent. Over retry_body_max, over the proxy's
 * GW_RETRY_BODY_TOTAL or out of memory the copy stops: the request is
 * then not retried. */
static void
kb_add(struct gw_call *c, const char *b, size_t n)
{
	size_t max = c->route->conf->retry_body_max, cap;
	uint64_t total;
	char *nb;

	if (!c->kb_on || n == 0)
		return;
	if (n > max - c->kb_n) {
		kb_stop(c);
		return;
	}
	if (n <= c->kb_cap - c->kb_n) {
		memcpy(c->kb + c->kb_n, b, n);
		c->kb_n += n;
		return;
	}
	cap = c->kb_cap > 0 ? c->kb_cap
			    : (c->body_len > 0 ? (size_t)c->body_len : 16384);
	while (cap < c->kb_n + n)
		cap *= 2;
	if (cap > max)
		cap = max;
	total = STAT_ADD(c->p->st.retry_body_bytes, cap - c->kb_cap);
	nb = total <= GW_RETRY_BODY_TOTAL ? realloc(c->kb, cap) : NULL;
	if (nb == NULL) {
		STAT_ADD(c->p->st.retry_body_bytes,
			 -(uint64_t)(cap - c->kb_cap));
		kb_stop(c);
		return;
	}
	c->kb = nb;
	c->kb_cap = cap;
	memcpy(c->kb + c->kb_n, b, n);
	c->kb_n += n;
}

/* ---- answers of our own ------------------------------------------------------ */

static void call_free(struct gw_call *c);
static int hold_request(struct gw_call *c);
static struct gw_loop *loop_of(struct gw_proxy *p, struct event_base *base);
static uint64_t loop_lag(struct gw_loop *lp);
static void filters_resumed(void *arg, enum gw_fverdict v);
static int head_go(struct gw_call *c);

/* Tell on_done how the request went, once. */
static void
report(struct gw_call *c, const char *why)
{
	struct gw_done d = { 0 };
	const char *s = c->d_info;

	if (c->d_reported || c->p->on_done == NULL || s == NULL)
		return;
	c->d_reported = true;
	if (why != NULL && c->d_error == NULL)
		c->d_error = why;
	d.route = c->route;
	if (c->attempts > 0 && c->route != NULL && c->route->up != NULL)
		d.upstream = c->route->up->conf.name;
	d.client = (const struct sockaddr *)&c->d_peer;
	d.method = s;
	s += strlen(s) + 1;
	d.host = c->d_has_host ? s : NULL;
	d.path = s + strlen(s) + 1;
	d.status = c->d_status;
	d.bytes_in = c->d_bytes_in;
	d.bytes_out = c->d_bytes_out;
	d.start_ns = c->d_start_ns;
	d.upstream_head_ns = c->d_head_ns;
	d.end_ns = lb_now_ns();
	d.attempts = c->attempts;
	d.error = c->d_error;
	c->p->on_done(c->p->on_done_arg, &d);
}

/* Keep what on_done is told of the request (its strings end with it). */
static int
note_request(struct gw_call *c, const struct http_msg *m, const char *host)
{
	size_t ml = strlen(m->method), hl = host != NULL ? strlen(host) : 0;
	size_t pl = strlen(m->path);
	const struct sockaddr *sa;
	socklen_t len = 0;

	c->d_start_ns = lb_now_ns();
	if (c->p->on_done == NULL)
		return 0;
	c->d_info = malloc(ml + hl + pl + 3);
	if (c->d_info == NULL)
		return -ENOMEM;
	memcpy(c->d_info, m->method, ml + 1);
	memcpy(c->d_info + ml + 1, host != NULL ? host : "", hl + 1);
	memcpy(c->d_info + ml + hl + 2, m->path, pl + 1);
	c->d_has_host = host != NULL;
	sa = http_req_peer(c->req, &len);
	if (sa != NULL && len > 0 && len <= sizeof(c->d_peer))
		memcpy(&c->d_peer, sa, len);
	return 0;
}

static void
count_resp(struct gw_call *c, int status)
{
	int cls = status / 100 < 6 ? status / 100 : 0;

	STAT_ADD(c->p->st.responses[cls], 1);
	c->d_status = status;
	if (c->route != NULL)
		STAT_ADD(c->route->st.responses[cls], 1);
}

/* The answer ended: the call goes once the upstream is done too. */
static void
answer_ended(struct gw_call *c)
{
	report(c, NULL);
	if (c->req != NULL)
		http_req_set_data(c->req, NULL);
	c->req = NULL;
	if (c->up == NULL)
		call_free(c);
}

/* gRPC's status for an HTTP status of ours (gRPC's http-grpc mapping). */
static int
grpc_status_of(int http)
{
	switch (http) {
	case 400:
		return 13; /* INTERNAL */
	case 401:
		return 16; /* UNAUTHENTICATED */
	case 403:
		return 7; /* PERMISSION_DENIED */
	case 404:
		return 12; /* UNIMPLEMENTED */
	case 429:
	case 502:
	case 503:
	case 504:
		return 14; /* UNAVAILABLE */
	default:
		return 2; /* UNKNOWN */
	}
}

/* Our error to a gRPC client: trailers-only (200, grpc-status and
 * grpc-message in the one HEADERS frame that ends the stream). */
static void
grpc_answer(struct gw_call *c)
{
	struct http_header h[3];
	char st[16], msg[160];
	size_t n = 0;

	snprintf(st, sizeof(st), "%d", grpc_status_of(c->a_status));
	/* grpc-message is percent-encoded: ours are plain ASCII */
	for (const char *e = c->a_error; *e != '\0' && n + 4 < sizeof(msg);
	     e++) {
		unsigned char ch = (unsigned char)*e;

		if (ch < 0x20 || ch > 0x7e || ch == '%')
			n += (size_t)snprintf(msg + n, sizeof(msg) - n,
					      "%%%02X", ch);
		else
			msg[n++] = (char)ch;
	}
	msg[n] = '\0';
	h[0] = (struct http_header){ "content-type", "application/grpc" };
	h[1] = (struct http_header){ "grpc-status", st };
	h[2] = (struct http_header){ "grpc-message", msg };
	STAT_ADD(c->p->st.grpc_errors, 1);
	count_resp(c, 200);
	(void)http_resp_full(c->req, 200, h, 3, NULL, 0);
}

static void
send_answer(struct gw_call *c)
{
	const struct gw_route_conf *rc =
		c->route != NULL ? c->route->conf : NULL;
	struct http_header h[2];
	char body[GW_BODY_MAX + 128];
	const struct http_header *fh;
	const char *fb;
	size_t fnh, fbl;
	int n, rcode;

	if (!c->f_answer && c->a_error != NULL && c->a_status >= 500 &&
	    gw_freq_fallback(c->fr, c->a_status, now_us() * 1000))
		c->f_answer = true; /* a stale entry or a fallback body */
	if (c->f_answer)
		gw_freq_answer(c->fr, &c->a_status, &fh, &fnh, &fb, &fbl);
	if (!c->f_answer && c->grpc && c->a_error != NULL) {
		c->sent_status = 200;
		grpc_answer(c);
		answer_ended(c);
		return;
	}
	c->sent_status =
		c->f_answer || c->a_error != NULL ? c->a_status : rc->status;
	count_resp(c, c->sent_status);
	if (c->f_answer) {
		rcode = http_resp_full(c->req, c->a_status, fh, fnh, fb, fbl);
	} else if (c->a_error != NULL) {
		n = snprintf(body, sizeof(body),
			     "{\"error\":\"%s\",\"route\":%s%s%s}\n",
			     c->a_error, rc != NULL ? "\"" : "",
			     rc != NULL ? rc->name : "null",
			     rc != NULL ? "\"" : "");
		rcode = http_resp_simple(c->req, c->a_status,
					 "application/json", body, (size_t)n);
		c->d_bytes_out += (uint64_t)n;
	} else if (rc->action == GW_ACT_REDIRECT) {
		h[0].name = "Location";
		h[0].value = rc->location;
		rcode = http_resp_full(c->req, rc->status, h, 1, NULL, 0);
	} else {
		rcode = http_resp_simple(c->req, rc->status,
					 rc->content_type[0] != '\0'
						 ? rc->content_type
						 : "text/plain",
					 rc->body, strlen(rc->body));
		c->d_bytes_out += strlen(rc->body);
	}
	(void)rcode; /* -EPIPE: the connection is closing; nothing to add */
	answer_ended(c);
}

/* Answer with our own status now if the request is complete, else at its
 * end (the body is read and dropped meanwhile). */
static void
answer(struct gw_call *c, int status, const char *error)
{
	bool held = c->qheld_n > 0 || c->replay;

	c->kind = CALL_ANSWER;
	c->a_status = status;
	c->a_error = error;
	c->replay = false;
	kb_stop(c);
	if (c->req != NULL && !c->req_done && held) {
		/* held for an upstream that is gone: the rest of the body is
		 * read (and dropped) so that the answer can go */
		c->qheld_n = 0;
		http_req_pause_body(c->req, false);
	}
	c->d_error = error;
	if (c->req != NULL && c->req_done)
		send_answer(c);
}

/* ---- the upstream side -------------------------------------------------------- */

static const struct http_client_req_ops up_ops;

/* The client of the route's timeouts and the upstream's pool sizes
 * (a profile); the default client when neither is set or no profile is
 * left. */
static struct http_client *
client_for(struct gw_proxy *p, struct gw_loop *lp,
	   const struct gw_route_conf *rc, const struct gw_upstream_conf *uc)
{
	struct http_client_opts o;
	struct profile *pf;

	if (rc->connect_timeout_ms == 0 && rc->request_timeout_ms == 0 &&
	    rc->idle_timeout_ms == 0 && uc->max_conns == GW_POOL_DEFAULT &&
	    uc->max_idle_conns == GW_POOL_DEFAULT &&
	    uc->max_pending == GW_PENDING_DEFAULT)
		return lp->def;
	for (size_t i = 0; i < lp->nprof; i++) {
		pf = &lp->prof[i];
		if (pf->connect_ms == rc->connect_timeout_ms &&
		    pf->head_ms == rc->request_timeout_ms &&
		    pf->idle_ms == rc->idle_timeout_ms &&
		    pf->max_conns == uc->max_conns &&
		    pf->max_idle == uc->max_idle_conns &&
		    pf->max_pending == uc->max_pending)
			return pf->cl;
	}
	if (lp->nprof >= GW_PROXY_PROFILES) {
		STAT_ADD(p->st.profiles_full, 1);
		return lp->def;
	}
	o = p->copts;
	if (rc->connect_timeout_ms != 0)
		o.connect_timeout_ms = rc->connect_timeout_ms;
	if (rc->request_timeout_ms != 0)
		o.head_timeout_ms = rc->request_timeout_ms;
	if (rc->idle_timeout_ms != 0)
		o.read_timeout_ms = rc->idle_timeout_ms;
	if (uc->max_conns != GW_POOL_DEFAULT)
		o.max_conns_per_host = uc->max_conns;
	if (uc->max_idle_conns != GW_POOL_DEFAULT)
		o.max_idle_per_host = uc->max_idle_conns;
	o.max_queued_per_host = uc->max_pending;
	pf = &lp->prof[lp->nprof];
	pf->cl = http_client_new(lp->base, &o);
	if (pf->cl == NULL)
		return lp->def;
	pf->connect_ms = rc->connect_timeout_ms;
	pf->head_ms = rc->request_timeout_ms;
	pf->idle_ms = rc->idle_timeout_ms;
	pf->max_conns = uc->max_conns;
	pf->max_idle = uc->max_idle_conns;
	pf->max_pending = uc->max_pending;
	lp->nprof++;
	return pf->cl;
}

/* Start an attempt on an instance other than exclude. 0, or an answer
 * was set (503 when none is available, 502 when the client refused);
 * a retry that finds no other instance answers none and returns
 * -EHOSTUNREACH (the caller answers with the first attempt's error). */
static int
attempt(struct gw_call *c, int exclude)
{
	struct gw_upstream *u = c->route->up;
	struct http_client_spec s = { 0 };
	const struct gw_instance *in;
	int i;

	i = gw_upstream_pick(u, c->hash, exclude, now_us() / 1000);
	if (i < 0 && exclude >= 0)
		return -EHOSTUNREACH;
	if (i < 0) {
		STAT_ADD(c->route->st.no_instance, 1);
		answer(c, 503, "no upstream instance available");
		return -EHOSTUNREACH;
	}
	in = &u->inst[i];
	s.proto = u->conf.proto;
	s.addr = in->addr;
	s.port = in->port;
	s.method = http_req_msg(c->req)->method;
	s.target = c->target;
	s.authority = c->authority;
	s.headers = c->hdrs;
	s.nheaders = c->nhdrs;
	s.body_len = c->has_body ? c->body_len : 0;
	s.upgrade = c->upgrade;
	c->inst = i;
	c->head_seen = false;
	c->retry_5xx = false;
	c->t0_us = now_us();
	c->attempts++;
	STAT_ADD(c->p->st.attempts, 1);
	c->up = http_client_request(c->cl, &s, &up_ops, c);
	if (c->up == NULL) {
		int e = errno;

		gw_upstream_done(u, i, GW_OUT_CANCELED, 0, c->t0_us / 1000);
		if (e == EBUSY) { /* max_pending wait for a connection */
			gw_upstream_pending_full(u);
			answer(c, 503, "upstream max_pending requests waiting");
		} else {
			answer(c, 502, "upstream request refused");
		}
		return -e;
	}
	return 0;
}

static bool
may_retry(struct gw_call *c)
{
	const struct gw_route_conf *rc = c->route->conf;
	struct gw_proxy *p = c->p;
	uint64_t allowed;

	if (c->req == NULL || c->resp_started || c->attempts > rc->retries)
		return false;
	if (!rc->retry_non_idempotent &&
	    !idempotent(http_req_msg(c->req)->method))
		return false;
	if (c->has_body && !c->kb_on) {
		/* larger than retry_body_max, or no room to copy it */
		STAT_ADD(p->st.retries_skipped_body, 1);
		return false;
	}
	allowed = __atomic_load_n(&p->st.active, __ATOMIC_RELAXED) *
		  rc->retry_budget_pct / 100;
	if (allowed < 1)
		allowed = 1;
	if (!c->retrying &&
	    __atomic_load_n(&p->retries_active, __ATOMIC_RELAXED) >= allowed) {
		STAT_ADD(p->st.retries_refused, 1);
		STAT_ADD(c->route->st.retries_refused, 1);
		return false;
	}
	return true;
}

/* Is an instance other than the current one available? Otherwise a
 * 5xx is passed on rather than dropped for a retry that cannot be. */
static bool
other_available(struct gw_call *c)
{
	struct gw_upstream *u = c->route->up;
	uint64_t now = now_us() / 1000;

	for (size_t i = 0; i < u->n; i++)
		if ((int)i != c->inst && gw_upstream_available(u, i, now))
			return true;
	return false;
}

/* Another attempt; false when no other instance is available. */
static bool
retry(struct gw_call *c)
{
	if (c->has_body && !c->kb_on)
		return false;
	if (attempt(c, c->inst) == -EHOSTUNREACH)
		return false;
	if (c->has_body && c->up != NULL) {
		/* the copy first (what was held for the last attempt is in
		 * it), then the rest as it comes (flush_request) */
		c->qheld_n = 0;
		c->replay = true;
		c->kb_replay = c->kb_n;
		c->up_ended = false;
		STAT_ADD(c->p->st.retries_body, 1);
	}
	if (!c->retrying) {
		c->retrying = true;
		STAT_ADD(c->p->retries_active, 1);
	}
	STAT_ADD(c->p->st.retries, 1);
	STAT_ADD(c->route->st.retries, 1);
	return true;
}

/* Move held request bytes upstream; end the body when all went. */
static void
body_refused(struct gw_call *c)
{
	http_client_req_cancel(c->up);
	c->up = NULL;
	gw_upstream_done(c->route->up, c->inst, GW_OUT_CANCELED, 0,
			 now_us() / 1000);
	answer(c, 502, "upstream request body refused");
}

static void
flush_request(struct gw_call *c)
{
	int rc;

	if (c->up == NULL)
		return;
	if (c->replay) {
		/* a retry: the body so far, from the copy */
		rc = http_client_req_write(c->up, c->kb, c->kb_replay);
		if (rc == -EAGAIN || rc == -EPIPE)
			return; /* on_writable; or on_done ran */
		c->replay = false;
		if (!c->kb_on)
			kb_free(c);
		if (rc < 0) {
			body_refused(c);
			return;
		}
		if (c->qheld_n == 0 && c->req != NULL)
			http_req_pause_body(c->req, false);
	}
	if (c->qheld_n > 0) {
		rc = http_client_req_write(c->up, c->qheld, c->qheld_n);
		if (rc == -EAGAIN)
			return;
		if (rc == -EPIPE)
			return; /* on_done ran: the call moved on */
		c->qheld_n = 0;
		if (c->req != NULL)
			http_req_pause_body(c->req, false);
		if (rc < 0) {
			body_refused(c);
			return;
		}
	}
	if (c->req_done && !c->up_ended && c->has_body) {
		rc = http_client_req_end_trailers(c->up, c->qtr, c->nqtr);
		if (rc == -EAGAIN)
			return; /* not on a connection yet: on_writable */
		c->up_ended = true;
		if (rc == 0 && c->nqtr > 0)
			STAT_ADD(c->p->st.trailers_in, 1);
	}
}

static int
hold(char **buf, size_t *n, const char *p, size_t len)
{
	char *nb;

	if (*n + len > HOLD_MAX)
		return -ENOBUFS;
	nb = realloc(*buf, *n + len);
	if (nb == NULL)
		return -ENOMEM;
	memcpy(nb + *n, p, len);
	*buf = nb;
	*n += len;
	return 0;
}

static void tunnel_new(struct gw_call *c, struct bufferevent *up);

/* The upstream switched (the client asked for an upgrade: http_client
 * lets no other 101 through): relay it; the tunnel starts at
 * on_upgrade. */
static int
relay_101(struct gw_call *c, const struct http_header *h, size_t n)
{
	int rc = http_resp_upgrade(c->req, h, n, &c->cbev);

	if (rc < 0) {
		STAT_ADD(c->p->st.ws_failed, 1);
		http_log_rl(&c->lp->rl, LOG_NOTICE,
			    "gateway: route %s: 101 not relayed: %s",
			    c->route->conf->name, strerror(-rc));
		answer(c, 502, "upstream switch could not be relayed");
		return -EPROTO;
	}
	if (evbuffer_get_length(bufferevent_get_input(c->cbev)) > 0)
		STAT_ADD(c->p->st.ws_early, 1); /* forwarded in the tunnel */
	c->resp_started = true;
	count_resp(c, 101);
	report(c, NULL); /* the request's answer; the tunnel is not one */
	/* the request is gone with its connection (no on_abort follows) */
	c->req = NULL;
	return 0;
}

static void
up_upgrade(void *arg, struct http_client_req *r, struct bufferevent *bev)
{
	struct gw_call *c = arg;

	(void)r;
	if (c->cbev == NULL) {
		bufferevent_free(bev);
		return;
	}
	tunnel_new(c, bev);
}

static int
up_head(void *arg, struct http_client_req *r, const struct http_msg *m)
{
	struct gw_call *c = arg;
	const struct gw_route_conf *rc = c->route->conf;
	struct http_header tmp[HTTP_MAX_HEADERS + 1], out[HTTP_MAX_HEADERS + 2];
	const char *conn = http_msg_header(m, "Connection");
	size_t n = 0, nout = 0;
	int64_t len;
	int frc = 0;

	(void)r;
	c->head_seen = true;
	c->up_status = m->status;
	c->d_head_ns = lb_now_ns();
	if (m->status >= 500 && m->status <= 599 &&
	    rc->retry_on[m->status - 500] && other_available(c) &&
	    may_retry(c)) {
		c->retry_5xx = true;
		return -ECANCELED; /* on_done starts the next attempt */
	}
	if (c->req == NULL)
		return -ECANCELED;
	for (size_t i = 0; i < m->nheaders; i++)
		if (!hop_by_hop(m->headers[i].name, conn))
			tmp[n++] = m->headers[i];
	if (m->status == 101 && n < HTTP_MAX_HEADERS &&
	    http_msg_header(m, "Upgrade") != NULL) {
		/* hop-by-hop, but what the switch is about (http_client
		 * lets no 101 without it through) */
		tmp[n].name = "Upgrade";
		tmp[n++].value = http_msg_header(m, "Upgrade");
	}
	tmp[n].name = "Via";
	tmp[n++].value = c->p->via_resp;
	if (gw_hdr_apply(rc->resp_hdrs, rc->nresp_hdrs, tmp, n, out,
			 HTTP_MAX_HEADERS, &nout) < 0 ||
	    (frc = gw_freq_post(c->fr, m->status, now_us() * 1000, out, &nout,
				HTTP_MAX_HEADERS)) < 0) {
		answer(c, 502, "upstream response has too many headers");
		return -E2BIG;
	}
	if (frc > 0) { /* a filter answers instead (cache, fallback) */
		c->f_answer = true;
		answer(c, 0, NULL);
		return -ECANCELED;
	}
	if (m->status == 101)
		return relay_101(c, out, nout);
	if (c->upgrade)
		STAT_ADD(c->p->st.ws_refused, 1);
	len = m->chunked ? -1 : m->content_length;
	/* HTTP/2 HEADERS that end the stream (gRPC trailers-only): so
	 * they stay one frame toward an HTTP/2 client */
	if (len < 0 && http_client_req_head_ended(r))
		len = 0;
	if (http_resp_start(c->req, m->status, out, nout, len) < 0) {
		http_log_rl(&c->lp->rl, LOG_NOTICE,
			    "gateway: route %s: response head refused",
			    rc->name);
		answer(c, 502, "upstream response head refused");
		return -EPROTO;
	}
	c->resp_started = true;
	kb_stop(c); /* no retry after this */
	count_resp(c, m->status);
	return 0;
}

static int
up_body(void *arg, struct http_client_req *r, const char *p, size_t n)
{
	struct gw_call *c = arg;
	int rc;

	if (c->req == NULL)
		return -ECANCELED;
	gw_freq_body(c->fr, p, n); /* the cache keeps a copy */
	if (c->rheld_n == 0) {
		rc = http_resp_write(c->req, p, n);
		if (rc == 0) {
			c->d_bytes_out += n;
			return 0;
		}
		if (rc != -EAGAIN)
			return rc;
	}
	/* the client is slow: hold this piece, stop the upstream */
	STAT_ADD(c->p->st.resp_held, 1);
	http_client_req_pause(r, true);
	return hold(&c->rheld, &c->rheld_n, p, n);
}

static void
up_writable(void *arg, struct http_client_req *r)
{
	struct gw_call *c = arg;

	(void)r;
	flush_request(c);
}

static bool
connect_err(int err)
{
	return err == -ECONNREFUSED || err == -ENETUNREACH ||
	       err == -EHOSTUNREACH || err == -ECONNRESET ||
	       err == -ECONNABORTED || err == -EPROTO || err == -ETIMEDOUT;
}

/* The upstream's answer ended: end ours, with its trailers if whole. */
static void
end_answer(struct gw_call *c, bool whole)
{
	if (whole)
		gw_freq_body(c->fr, NULL, 0); /* the body is all there */
	if (whole && c->nrtr > 0) {
		STAT_ADD(c->p->st.trailers_out, 1);
		(void)http_resp_end_trailers(c->req, c->rtr, c->nrtr);
	} else {
		(void)http_resp_end(c->req);
	}
	answer_ended(c);
}

static void
up_done(void *arg, struct http_client_req *r, int err)
{
	struct gw_call *c = arg;
	struct gw_upstream *u = c->route->up;
	uint64_t now = now_us();
	enum gw_outcome o;

	(void)r;
	c->up = NULL;
	if (err == 0 || c->head_seen)
		o = c->up_status >= 500 ? GW_OUT_5XX : GW_OUT_OK;
	else if (connect_err(err))
		o = GW_OUT_CONNECT;
	else
		o = GW_OUT_CANCELED;
	if (err == 0 && c->head_seen && c->up_status < 500)
		o = GW_OUT_OK;
	gw_upstream_done(u, c->inst, o, now - c->t0_us, now / 1000);
	if (o == GW_OUT_CONNECT)
		STAT_ADD(c->route->st.connect_errors, 1);
	if (err == -ETIMEDOUT)
		STAT_ADD(c->route->st.timeouts, 1);

	if (c->cbev != NULL) {
		/* a 101 relayed, no tunnel made (on_upgrade took it, or the
		 * upstream connection failed in between) */
		STAT_ADD(c->p->st.ws_failed, 1);
		http_upgraded_free(c->cbev);
		c->cbev = NULL;
	}
	if (err == 0 && c->req != NULL) {
		const struct http_header *tr;
		size_t ntr;

		tr = http_client_req_trailers(r, &ntr);
		if (hdrs_copy(tr, ntr, &c->rtr, &c->nrtr) < 0)
			err = -ENOMEM; /* cut rather than end without them */
	}
	if (c->req == NULL) {
		call_free(c); /* the answer ended or the client went */
		return;
	}
	if ((c->retry_5xx ||
	     (!c->head_seen && connect_err(err) && may_retry(c))) &&
	    retry(c))
		return;
	if (c->retry_5xx) {
		/* the 5xx's body was dropped for a retry that cannot be */
		answer(c, 502, "upstream failed, no instance to retry on");
		return;
	}
	if (!c->resp_started) {
		if (c->upgrade)
			STAT_ADD(c->p->st.ws_failed, 1);
		if (c->kind == CALL_ANSWER)
			return; /* ours is set (sent now or at the end) */
		if (err == -ETIMEDOUT)
			answer(c, 504, "upstream timeout");
		else if (connect_err(err))
			answer(c, 502, "upstream connect failed or reset");
		else
			answer(c, 502, "upstream response invalid");
		return;
	}
	c->up_done = true;
	if (err != 0)
		c->d_error = "upstream failed mid-answer";
	if (err != 0)
		http_log_rl(&c->lp->rl, LOG_NOTICE,
			    "gateway: route %s: upstream failed mid-answer: %s",
			    c->route->conf->name, strerror(-err));
	if (c->rheld_n == 0 || err != 0) {
		/* short: the client sees a cut */
		end_answer(c, err == 0);
	}
}

static const struct http_client_req_ops up_ops = {
	.on_head = up_head,
	.on_body = up_body,
	.on_writable = up_writable,
	.on_done = up_done,
	.on_upgrade = up_upgrade,
};

/* ---- WebSocket tunnels ------------------------------------------------------------ */

static uint64_t
now_ms(void)
{
	return now_us() / 1000;
}

static void
tunnel_free(struct gw_tunnel *tn)
{
	struct gw_proxy *p = tn->p;

	if (tn->prev != NULL)
		tn->prev->next = tn->next;
	else
		tn->lp->tunnels = tn->next;
	if (tn->next != NULL)
		tn->next->prev = tn->prev;
	http_upgraded_free(tn->b[0]);
	bufferevent_free(tn->b[1]);
	event_free(tn->idle);
	gw_table_put(tn->t);
	STAT_ADD(p->st.ws_active, -1);
	STAT_ADD(p->tunnels, -1);
	free(tn);
}

static int
side_of(const struct gw_tunnel *tn, const struct bufferevent *bev)
{
	return bev == tn->b[0] ? 0 : 1;
}

/* Side o got everything the other side will send: end its writing. True
 * when the tunnel is gone. */
static bool
tunnel_shut(struct gw_tunnel *tn, int o)
{
	if (tn->shut[o])
		return false;
	tn->shut[o] = true;
	if (o == 0 && tn->tls_client) {
		/* TLS has no half close here: the client connection goes */
		tunnel_free(tn);
		return true;
	}
	shutdown(bufferevent_getfd(tn->b[o]), SHUT_WR);
	if (tn->shut[0] && tn->shut[1]) {
		tunnel_free(tn);
		return true;
	}
	return false;
}

/* Move what side i read into side o's output; pause i above the high
 * water (o's write callback resumes it). */
static void
tunnel_move(struct gw_tunnel *tn, int i)
{
	struct evbuffer *in = bufferevent_get_input(tn->b[i]);
	struct evbuffer *out = bufferevent_get_output(tn->b[1 - i]);
	size_t n = evbuffer_get_length(in);

	if (n == 0)
		return;
	if (evbuffer_add_buffer(out, in) < 0)
		return; /* kept in the input; the next read tries again */
	STAT_ADD(*(i == 0 ? &tn->p->st.ws_bytes_up : &tn->p->st.ws_bytes_down),
		 n);
	tn->last_ms = now_ms();
	if (evbuffer_get_length(out) >= GW_TUNNEL_HIGH && !tn->paused[i]) {
		tn->paused[i] = true;
		STAT_ADD(tn->p->st.ws_held, 1);
		bufferevent_disable(tn->b[i], EV_READ);
	}
}

static void
tunnel_read(struct bufferevent *bev, void *arg)
{
	struct gw_tunnel *tn = arg;

	tunnel_move(tn, side_of(tn, bev));
}

/* Side o's output fell to the low water (or emptied). */
static void
tunnel_write(struct bufferevent *bev, void *arg)
{
	struct gw_tunnel *tn = arg;
	int o = side_of(tn, bev), i = 1 - o;

	if (tn->paused[i] && !tn->eof[i]) {
		tn->paused[i] = false;
		bufferevent_enable(tn->b[i], EV_READ);
		tunnel_move(tn, i); /* what waited in its input */
	}
	if (tn->eof[i] &&
	    evbuffer_get_length(bufferevent_get_input(tn->b[i])) == 0 &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		(void)tunnel_shut(tn, o);
}

static void
tunnel_event(struct bufferevent *bev, short what, void *arg)
{
	struct gw_tunnel *tn = arg;
	int i = side_of(tn, bev), o = 1 - i;

	if (!(what & BEV_EVENT_EOF) || (what & BEV_EVENT_ERROR)) {
		tunnel_free(tn); /* reset or error: both go */
		return;
	}
	/* i's last bytes: passed on, then o's writing ends */
	tunnel_move(tn, i);
	tn->eof[i] = true;
	bufferevent_disable(bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(bev)) == 0 &&
	    evbuffer_get_length(bufferevent_get_output(tn->b[o])) == 0 &&
	    tunnel_shut(tn, o))
		return;
	if (tn->eof[o] && tn->shut[i] && tn->shut[o])
		tunnel_free(tn);
}

static void
tunnel_idle(evutil_socket_t fd, short what, void *arg)
{
	struct gw_tunnel *tn = arg;
	uint64_t now = now_ms(), due = tn->last_ms + tn->idle_ms;
	struct timeval tv;

	(void)fd;
	(void)what;
	if (now >= due) {
		STAT_ADD(tn->p->st.ws_idle_closes, 1);
		tunnel_free(tn);
		return;
	}
	tv.tv_sec = (time_t)((due - now) / 1000);
	tv.tv_usec = (suseconds_t)((due - now) % 1000) * 1000;
	evtimer_add(tn->idle, &tv);
}

/* The 101 went to the client (c->cbev) and up is the upstream's
 * connection: join them. On failure both close. */
static void
tunnel_new(struct gw_call *c, struct bufferevent *up)
{
	struct gw_tunnel *tn = calloc(1, sizeof(*tn));
	uint32_t ms = c->route->conf->idle_timeout_ms;
	struct timeval tv;

	if (tn == NULL ||
	    (tn->idle = evtimer_new(c->lp->base, tunnel_idle, tn)) == NULL) {
		free(tn);
		STAT_ADD(c->p->st.ws_failed, 1);
		bufferevent_free(up);
		return; /* up_done frees c->cbev */
	}
	tn->p = c->p;
	tn->lp = c->lp;
	tn->t = c->t;
	gw_table_get(tn->t);
	tn->b[0] = c->cbev;
	tn->b[1] = up;
	c->cbev = NULL;
	tn->tls_client = c->tls_client;
	tn->idle_ms = ms != 0 ? ms : GW_TUNNEL_IDLE_MS;
	tn->last_ms = now_ms();
	tn->next = c->lp->tunnels;
	if (c->lp->tunnels != NULL)
		c->lp->tunnels->prev = tn;
	c->lp->tunnels = tn;
	STAT_ADD(c->p->st.ws_upgrades, 1);
	STAT_ADD(c->p->st.ws_active, 1);
	STAT_ADD(c->p->tunnels, 1);
	for (int i = 0; i < 2; i++) {
		bufferevent_setcb(tn->b[i], tunnel_read, tunnel_write,
				  tunnel_event, tn);
		/* at most the high water read ahead per side */
		bufferevent_setwatermark(tn->b[i], EV_READ, 0, GW_TUNNEL_HIGH);
		bufferevent_setwatermark(tn->b[i], EV_WRITE, GW_TUNNEL_HIGH / 2,
					 0);
		bufferevent_enable(tn->b[i], EV_READ | EV_WRITE);
	}
	tv.tv_sec = (time_t)(tn->idle_ms / 1000);
	tv.tv_usec = (suseconds_t)(tn->idle_ms % 1000) * 1000;
	evtimer_add(tn->idle, &tv);
	/* bytes already read: the client's early frames, the upstream's
	 * first ones after its 101 */
	tunnel_move(tn, 0);
	tunnel_move(tn, 1);
}

/* ---- the client side ----------------------------------------------------------- */

/* The request headers to send: client's minus hop-by-hop, forwarding
 * headers, the route's rewrites. 0 or -E2BIG / -ENOMEM. */
static int
build_headers(struct gw_call *c, const struct http_msg *m, const char *host)
{
	const struct gw_route_conf *rc = c->route->conf;
	const char *conn = http_msg_header(m, "Connection");
	const char *xff = http_msg_header(m, "X-Forwarded-For");
	const char *fwd = http_msg_header(m, "Forwarded");
	struct http_header tmp[HTTP_MAX_HEADERS + 5];
	char ip[LB_ADDRSTRLEN + 2], ipb[LB_ADDRSTRLEN + 4];
	const char *proto = http_req_tls(c->req) ? "https" : "http";
	size_t n = 0, cap, off = 0, start = 0;
	char *b;

	client_sockaddr(http_req_peer(c->req, NULL), ip, sizeof(ip), false);
	/* RFC 7239: "[v6]" in a quoted string (IPv4 text has no ':') */
	if (strchr(ip, ':') != NULL)
		snprintf(ipb, sizeof(ipb), "[%s]", ip);
	else
		memcpy(ipb, ip, sizeof(ip));
	cap = (xff != NULL ? strlen(xff) : 0) +
	      (fwd != NULL ? strlen(fwd) : 0) + strlen(host) * 2 +
	      3 * sizeof(ip) + 160;
	b = malloc(cap);
	if (b == NULL)
		return -ENOMEM;
	c->fwd = b;
	for (size_t i = 0; i < m->nheaders; i++) {
		const char *nm = m->headers[i].name;

		if (hop_by_hop(nm, conn) ||
		    strcasecmp(nm, "X-Forwarded-For") == 0 ||
		    strcasecmp(nm, "X-Forwarded-Proto") == 0 ||
		    strcasecmp(nm, "X-Forwarded-Host") == 0 ||
		    strcasecmp(nm, "Forwarded") == 0 ||
		    strcasecmp(nm, "Via") == 0)
			continue;
		tmp[n++] = m->headers[i];
	}
	/* kept from the hop-by-hop ones: what the upstream must see too */
	if (in_list(http_msg_header(m, "TE"), "trailers") &&
	    n < HTTP_MAX_HEADERS) {
		tmp[n].name = "te";
		tmp[n++].value = "trailers";
	}
	if (c->upgrade && n < HTTP_MAX_HEADERS) {
		tmp[n].name = "Upgrade";
		tmp[n++].value = http_msg_header(m, "Upgrade");
	}
	if (n + 5 > sizeof(tmp) / sizeof(tmp[0]))
		return -E2BIG;
		/* the values, one after the other in b (concatenated, not
	 * formatted: this runs for every request) */
#define CAT(str)                                                               \
	do {                                                                   \
		size_t l_ = strlen(str);                                       \
		if (off + l_ >= cap)                                           \
			return -E2BIG;                                         \
		memcpy(b + off, str, l_);                                      \
		off += l_;                                                     \
	} while (0)
#define END(NM)                                                                \
	do {                                                                   \
		b[off++] = '\0';                                               \
		tmp[n].name = NM;                                              \
		tmp[n++].value = b + start;                                    \
		start = off;                                                   \
	} while (0)
	if (xff != NULL) {
		CAT(xff);
		CAT(", ");
	}
	CAT(ip);
	END("X-Forwarded-For");
	CAT(proto);
	END("X-Forwarded-Proto");
	CAT(host);
	END("X-Forwarded-Host");
	if (fwd != NULL) {
		CAT(fwd);
		CAT(", ");
	}
	CAT("for=\"");
	CAT(ipb);
	CAT("\";proto=");
	CAT(proto);
	CAT(";host=\"");
	CAT(host);
	CAT("\"");
	END("Forwarded");
	{
		const char *via = http_msg_header(m, "Via");

		if (via != NULL) {
			CAT(via);
			CAT(", ");
		}
		CAT(strcmp(http_req_proto(c->req), "h2") == 0 ? "2" : "1.1");
		CAT(" ");
		CAT(c->p->via_name);
		END("Via");
	}
#undef CAT
#undef END
	return gw_hdr_apply(rc->req_hdrs, rc->nreq_hdrs, tmp, n, c->hdrs,
			    HTTP_MAX_HEADERS, &c->nhdrs);
}

static void
call_free(struct gw_call *c)
{
	struct gw_proxy *p = c->p;

	report(c, "gateway stopped");
	if (c->up != NULL) {
		http_client_req_cancel(c->up);
		gw_upstream_done(c->route->up, c->inst, GW_OUT_CANCELED, 0,
				 now_us() / 1000);
	}
	if (c->req != NULL)
		http_req_set_data(c->req, NULL);
	if (c->retrying)
		STAT_ADD(p->retries_active, -1);
	if (c->entered)
		gw_upstream_leave(c->route->up);
	if (c->delay != NULL)
		event_free(c->delay);
	if (c->fr != NULL) {
		struct gw_fdone d = { 0 };

		d.forwarded = c->attempts > 0;
		d.status = c->resp_started ? c->up_status : c->sent_status;
		d.failed = d.forwarded && d.status >= 500;
		d.now_ns = now_us() * 1000;
		gw_freq_done(c->fr, &d);
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->lp->calls = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	STAT_ADD(p->st.active, -1);
	gw_table_put(c->t);
	free(c->target);
	free(c->authority);
	free(c->fwd);
	free(c->qheld);
	kb_free(c);
	free(c->rheld);
	free(c->qtr);
	free(c->rtr);
	if (c->cbev != NULL)
		http_upgraded_free(c->cbev);
	free(c->d_info);
	free(c);
}

/* application/grpc, application/grpc+proto, application/grpc;... */
static bool
is_grpc(const char *ct)
{
	return ct != NULL && strncasecmp(ct, "application/grpc", 16) == 0 &&
	       (ct[16] == '\0' || ct[16] == '+' || ct[16] == ';');
}

static int
on_head(void *arg, struct http_req *req)
{
	struct gw_proxy *p = arg;
	const struct http_msg *m = http_req_msg(req);
	const char *host = http_msg_header(m, "Host");
	struct gw_match_in in = { 0 };
	struct gw_loop *lp;
	struct gw_call *c;

	STAT_ADD(p->st.requests, 1);
	lp = loop_of(p, http_req_base(req));
	if (lp == NULL)
		return -ENOMEM; /* the server answers 500 */
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->p = p;
	c->lp = lp;
	c->req = req;
	c->inst = -1;
	c->next = lp->calls;
	if (lp->calls != NULL)
		lp->calls->prev = c;
	lp->calls = c;
	STAT_ADD(p->st.active, 1);
	http_req_set_data(req, c);
	c->has_body = m->chunked || m->content_length > 0;
	c->body_len = m->chunked ? -1 : m->content_length;
	c->grpc = is_grpc(http_msg_header(m, "Content-Type"));
	c->tls_client = http_req_tls(req);
	c->upgrade = http_req_wants_upgrade(req, "websocket") &&
		     strcmp(m->method, "GET") == 0 && !c->has_body;
	if (note_request(c, m, host) < 0)
		return -ENOMEM;

	c->t = gw_router_get(p->router);
	in.method = m->method;
	in.host = host;
	in.path = m->path;
	in.query = m->query;
	in.headers = m->headers;
	in.nheaders = m->nheaders;
	c->route = c->t != NULL ? gw_table_match(c->t, &in) : NULL;
	if (c->route == NULL) {
		STAT_ADD(p->st.no_route, 1);
		answer(c, 404, "no route");
		return 0;
	}
	STAT_ADD(c->route->st.requests, 1);
	if (c->route->chain != NULL) {
		struct gw_freq_in fin = { m,
					  http_req_peer(req, NULL),
					  now_us() * 1000,
					  (int64_t)time(NULL),
					  lp->base,
					  filters_resumed,
					  c,
					  loop_lag(lp) };
		enum gw_fverdict v;

		c->fr = gw_freq_new(c->route);
		if (c->fr == NULL)
			return -ENOMEM;
		v = gw_freq_pre(c->fr, &fin);
		if (v == GW_FV_PENDING) {
			/* a filter asks elsewhere (a Redis limit) */
			http_req_pause_body(req, true);
			return 0;
		}
		if (v == GW_FV_ANSWER) {
			c->f_answer = true;
			answer(c, 0, NULL);
			return 0;
		}
	}
	return head_go(c);
}

/* A waiting filter answered: the request goes on or is answered. */
static void
filters_resumed(void *arg, enum gw_fverdict v)
{
	struct gw_call *c = arg;

	http_req_pause_body(c->req, false);
	if (v == GW_FV_ANSWER) {
		c->f_answer = true;
		answer(c, 0, NULL);
	} else if (head_go(c) < 0) {
		answer(c, 500, "out of memory");
	}
}

/* The request head after the filters let it pass. 0 or -ENOMEM. */
static int
head_go(struct gw_call *c)
{
	struct gw_proxy *p = c->p;
	struct gw_loop *lp = c->lp;
	struct http_req *req = c->req;
	const struct http_msg *m = http_req_msg(req);
	const char *host = http_msg_header(m, "Host");
	const char *path, *query;
	struct gw_route *nr = gw_freq_rerouted(c->fr);
	size_t tl;
	int rc;

	if (nr != NULL) /* a degrade filter's smaller route serves it */
		c->route = nr;
	if (c->route->conf->action != GW_ACT_PROXY) {
		c->kind = CALL_ANSWER;
		if (c->req_done) /* the request ended while a filter waited */
			send_answer(c);
		return 0;
	}
	c->kind = CALL_PROXY;
	if (c->upgrade && c->route->up->conf.proto != HTTP_CLIENT_H1) {
		STAT_ADD(p->st.ws_failed, 1);
		answer(c, 501, "websocket needs an h1 upstream");
		return 0;
	}
	if (c->upgrade &&
	    __atomic_load_n(&p->tunnels, __ATOMIC_RELAXED) >= GW_MAX_TUNNELS) {
		STAT_ADD(p->st.ws_failed, 1);
		answer(c, 503, "too many websocket tunnels");
		return 0;
	}
	/* a transform's path and query, or the client's */
	path = gw_freq_path(c->fr, m->path);
	query = gw_freq_query(c->fr, m->query);
	tl = strlen(path) + (query != NULL ? strlen(query) : 0) + GW_PATH_MAX +
	     2;
	c->target = malloc(tl);
	/* no Host (HTTP/1.0): the client writes the instance's address */
	c->authority = host != NULL ? strdup(host) : NULL;
	if (c->target == NULL || (host != NULL && c->authority == NULL))
		return -ENOMEM;
	if (gw_route_rewrite_target(c->route, path, query, c->target, tl) < 0)
		return -ENOMEM; /* cannot be: tl has room for the prefix */
	rc = build_headers(c, m, host != NULL ? host : "");
	if (rc == 0)
		rc = gw_freq_req_headers(c->fr, c->hdrs, &c->nhdrs,
					 HTTP_MAX_HEADERS);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		STAT_ADD(p->st.too_many_headers, 1);
		answer(c, 431, "too many request headers to forward");
		return 0;
	}
	c->cl = client_for(p, lp, c->route->conf, &c->route->up->conf);
	c->hash = c->route->up->ops->hashed
			  ? gw_upstream_key_hash(c->route->up, m,
						 http_req_peer(req, NULL))
			  : 0;
	if (!gw_upstream_enter(c->route->up)) {
		answer(c, 503, "upstream max_requests in flight");
		return 0;
	}
	c->entered = true;
	kb_start(c, m->method);
	if (gw_freq_delay_ms(c->fr) > 0 && hold_request(c) == 0)
		return 0; /* attempt when the filter's delay is over */
	(void)attempt(c, -1);
	return 0;
}

static void
delay_over(evutil_socket_t fd, short ev, void *arg)
{
	struct gw_call *c = arg;

	(void)fd;
	(void)ev;
	event_free(c->delay);
	c->delay = NULL;
	http_req_pause_body(c->req, false); /* the call is freed with req */
	(void)attempt(c, -1);
}

/* Hold the request for the chain's delay, its body paused. 0 or
 * -ENOMEM (then it goes at once). */
static int
hold_request(struct gw_call *c)
{
	uint32_t ms = gw_freq_delay_ms(c->fr);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	c->delay = evtimer_new(c->lp->base, delay_over, c);
	if (c->delay == NULL || evtimer_add(c->delay, &tv) < 0) {
		if (c->delay != NULL)
			event_free(c->delay);
		c->delay = NULL;
		return -ENOMEM;
	}
	http_req_pause_body(c->req, true);
	return 0;
}

static int
on_body(void *arg, struct http_req *req, const char *b, size_t n)
{
	struct gw_call *c = http_req_data(req);
	int rc;

	(void)arg;
	if (c != NULL)
		c->d_bytes_in += n;
	if (c == NULL || c->kind != CALL_PROXY || c->up == NULL) {
		if (c != NULL)
			kb_stop(c);
		return 0; /* answered by us, or gone: dropped */
	}
	kb_add(c, b, n); /* before the write: a retry may start in it */
	if (c->qheld_n == 0 && !c->replay) {
		rc = http_client_req_write(c->up, b, n);
		if (rc == 0)
			return 0;
		if (rc == -EPIPE)
			return 0; /* on_done ran and answered */
		if (rc != -EAGAIN)
			return rc;
	}
	STAT_ADD(c->p->st.req_held, 1);
	http_req_pause_body(req, true);
	return hold(&c->qheld, &c->qheld_n, b, n);
}

static void
on_request(void *arg, struct http_req *req)
{
	struct gw_call *c = http_req_data(req);

	(void)arg;
	if (c == NULL)
		return;
	c->req_done = true;
	if (c->kind == CALL_ANSWER) {
		send_answer(c);
		return;
	}
	{
		size_t ntr;
		const struct http_header *tr = http_req_trailers(req, &ntr);

		if (hdrs_copy(tr, ntr, &c->qtr, &c->nqtr) < 0) {
			/* the body went without them: cut the request */
			if (c->up != NULL) {
				http_client_req_cancel(c->up);
				c->up = NULL;
				gw_upstream_done(c->route->up, c->inst,
						 GW_OUT_CANCELED, 0,
						 now_us() / 1000);
			}
			answer(c, 502, "out of memory for trailers");
			return;
		}
	}
	flush_request(c);
}

static void
on_drain(void *arg, struct http_req *req)
{
	struct gw_call *c = http_req_data(req);
	int rc;

	(void)arg;
	if (c == NULL || c->rheld_n == 0)
		return;
	rc = http_resp_write(req, c->rheld, c->rheld_n);
	if (rc == -EAGAIN)
		return;
	if (rc == 0)
		c->d_bytes_out += c->rheld_n;
	c->rheld_n = 0;
	if (c->up_done) {
		end_answer(c, rc == 0);
		return;
	}
	if (rc < 0) {
		answer_ended(c); /* the client is going: cancel upstream */
		return;
	}
	if (c->up != NULL)
		http_client_req_pause(c->up, false);
}

static void
on_abort(void *arg, struct http_req *req)
{
	struct gw_call *c = http_req_data(req);

	(void)arg;
	if (c == NULL)
		return;
	STAT_ADD(c->p->st.client_aborts, 1);
	report(c, "client went away");
	c->req = NULL;
	if (!c->resp_started)
		STAT_ADD(c->p->st.responses[0], 1);
	call_free(c);
}

const struct http_handler gw_proxy_handler = {
	.on_head = on_head,
	.on_body = on_body,
	.on_request = on_request,
	.on_drain = on_drain,
	.on_abort = on_abort,
};

/* ---- the proxy ----------------------------------------------------------------- */

static void
lag_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct gw_loop *lp = arg;
	uint64_t now = lb_now_ns();
	struct timeval tv = { 0, LAG_PERIOD_MS * 1000 };

	(void)fd;
	(void)ev;
	gw_lag_tick(&lp->lag, now);
	lp->lag_on = now - lp->last_req_ns < LAG_IDLE_MS * 1000000ull &&
		     evtimer_add(lp->lag_ev, &tv) == 0;
}

/* A request on lp's loop: the lag timer runs (from now if it was off),
 * and the loop's lag now. */
static uint64_t
loop_lag(struct gw_loop *lp)
{
	uint64_t now = lb_now_ns();
	struct timeval tv = { 0, LAG_PERIOD_MS * 1000 };

	lp->last_req_ns = now;
	if (lp->lag_on)
		return gw_lag_now(&lp->lag, now);
	if (lp->lag_ev == NULL)
		lp->lag_ev = evtimer_new(lp->base, lag_tick, lp);
	if (lp->lag_ev == NULL || evtimer_add(lp->lag_ev, &tv) < 0)
		return 0; /* not measured */
	gw_lag_start(&lp->lag, LAG_PERIOD_MS * 1000000ull, now);
	lp->lag_on = true;
	return 0;
}

static void
loop_free(struct gw_loop *lp)
{
	if (lp == NULL)
		return;
	if (lp->lag_ev != NULL)
		event_free(lp->lag_ev);
	while (lp->calls != NULL)
		call_free(lp->calls);
	while (lp->tunnels != NULL)
		tunnel_free(lp->tunnels);
	for (size_t i = 0; i < lp->nprof; i++)
		http_client_free(lp->prof[i].cl);
	http_client_free(lp->def);
	free(lp);
}

/* The state of base's loop, made on its first request (on its thread).
 * NULL with errno ENOMEM, ENOSPC (over GW_PROXY_LOOPS) or the client's. */
static struct gw_loop *
loop_of(struct gw_proxy *p, struct event_base *base)
{
	struct gw_loop *lp = NULL;

	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->nloops; i++)
		if (p->loops[i]->base == base) {
			lp = p->loops[i];
			goto out;
		}
	if (p->nloops >= GW_PROXY_LOOPS) {
		errno = ENOSPC;
		goto out;
	}
	lp = calloc(1, sizeof(*lp));
	if (lp == NULL)
		goto out;
	lp->base = base;
	lp->rl.burst = 10;
	lp->def = http_client_new(base, &p->copts);
	if (lp->def == NULL) {
		free(lp);
		lp = NULL;
		goto out;
	}
	p->loops[p->nloops++] = lp;
out:
	pthread_mutex_unlock(&p->mu);
	return lp;
}

struct gw_proxy *
gw_proxy_new(struct event_base *base, struct gw_router *r,
	     const struct gw_proxy_opts *o)
{
	struct gw_proxy *p;

	if (r == NULL) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	p->router = r;
	p->copts = o != NULL && o->client != NULL ? *o->client
						  : http_client_default_opts;
	snprintf(p->via_name, sizeof(p->via_name), "%s",
		 o != NULL && o->via != NULL ? o->via : "edgelb");
	snprintf(p->via_resp, sizeof(p->via_resp), "1.1 %s", p->via_name);
	if (p->copts.max_queued_per_host == 0) /* the default max_pending */
		p->copts.max_queued_per_host = GW_PENDING_DEFAULT;
	if (o != NULL) {
		p->on_done = o->on_done;
		p->on_done_arg = o->on_done_arg;
	}
	pthread_mutex_init(&p->mu, NULL);
	/* one loop known now: its client's errors show here */
	if (base != NULL && loop_of(p, base) == NULL) {
		int e = errno;

		pthread_mutex_destroy(&p->mu);
		free(p);
		errno = e;
		return NULL;
	}
	return p;
}

void
gw_proxy_free(struct gw_proxy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nloops; i++)
		loop_free(p->loops[i]);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

const struct gw_proxy_stats *
gw_proxy_stats(const struct gw_proxy *p)
{
	return &p->st;
}
