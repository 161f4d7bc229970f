/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Health checks (see health.h): the pure state machine, then the targets
 * and their executors on libevent. Every executor is one non-blocking
 * socket (a bufferevent for TCP and HTTP(S), a plain event for UDP) that
 * either finishes (exec_done) or is cancelled by the state machine's
 * timeout (exec_cancel); both free it, so a hanging backend never holds
 * more than one socket.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "health.h"
#include "metrics.h"
#include "edgelb/log.h"
#include "edgelb/util.h"

/* ---- state machine ----------------------------------------------------- */

void
hc_sm_init(struct hc_sm *sm, uint64_t now)
{
	memset(sm, 0, sizeof(*sm));
	sm->state = LB_HEALTH_UNKNOWN;
	sm->next = now;
}

/* Record a result; returns the new state or 0. */
static int
sm_feed(struct hc_sm *sm, const struct hc_params *p, uint64_t now, bool ok)
{
	sm->in_flight = false;
	sm->checks++;
	sm->next = sm->started + p->interval_ms;
	if (sm->next < now)
		sm->next = now;
	if (ok) {
		sm->oks++;
		sm->ok_run++;
		sm->fail_run = 0;
		if (sm->state != LB_HEALTH_UP && sm->ok_run >= p->rise) {
			sm->state = LB_HEALTH_UP;
			sm->rises++;
			return LB_HEALTH_UP;
		}
	} else {
		sm->failures++;
		sm->fail_run++;
		sm->ok_run = 0;
		if (sm->state != LB_HEALTH_DOWN && sm->fail_run >= p->fall) {
			sm->state = LB_HEALTH_DOWN;
			sm->falls++;
			return LB_HEALTH_DOWN;
		}
	}
	return 0;
}

enum hc_action
hc_sm_poll(struct hc_sm *sm, const struct hc_params *p, uint64_t now,
	   int *change)
{
	*change = 0;
	if (sm->in_flight) {
		if (now < sm->deadline)
			return HC_ACT_NONE;
		sm->timeouts++;
		*change = sm_feed(sm, p, now, false);
		return HC_ACT_TIMEOUT;
	}
	if (now < sm->next)
		return HC_ACT_NONE;
	sm->in_flight = true;
	sm->started = now;
	sm->deadline = now + p->timeout_ms;
	return HC_ACT_START;
}

int
hc_sm_result(struct hc_sm *sm, const struct hc_params *p, uint64_t now, bool ok)
{
	if (!sm->in_flight)
		return -EALREADY;
	return sm_feed(sm, p, now, ok);
}

uint64_t
hc_sm_next_event(const struct hc_sm *sm)
{
	return sm->in_flight ? sm->deadline : sm->next;
}

const char *
hc_state_name(int state)
{
	switch (state) {
	case LB_HEALTH_UP:
		return "up";
	case LB_HEALTH_DOWN:
		return "down";
	default:
		return "unknown";
	}
}

/* ---- targets ----------------------------------------------------------- */

struct hc_target {
	struct hc *hc;
	char service[LB_NAME_MAX + 1];
	struct cfg_check check; /* a copy: the cfg may be replaced */
	struct hc_params params;
	struct lb_addr addr;
	uint16_t port; /* the backend's */
	struct hc_sm sm;
	struct event *timer;
	/* the check in flight */
	struct bufferevent *bev;
	int udp_fd;
	struct event *udp_ev;
	uint64_t t0_ns;
	char last_error[96];
	bool keep; /* hc_sync mark */
};

struct hc {
	struct event_base *base;
	struct metrics *metrics;
	struct metrics_family *duration;
	SSL_CTX *ssl;
	hc_change_fn cb;
	void *arg;
	struct hc_target **t;
	unsigned int n;
};

static void
info_of(const struct hc_target *t, struct hc_info *i)
{
	i->service = t->service;
	i->check = t->check.name;
	i->type = t->check.type;
	i->addr = t->addr;
	i->port = t->port;
	i->sm = &t->sm;
	i->last_error = t->last_error;
}

static void
report_change(struct hc_target *t, int state)
{
	char a[LB_ADDRPORTSTRLEN];
	struct hc_info i;

	if (state <= 0)
		return;
	LB_NOTICE("health: [service %s] backend %s is %s (check %s%s%s)",
		  t->service,
		  lb_addr_port_format(&t->addr, t->port, a, sizeof(a)),
		  hc_state_name(state), t->check.name,
		  state == LB_HEALTH_DOWN ? ": " : "",
		  state == LB_HEALTH_DOWN ? t->last_error : "");
	if (t->hc->cb != NULL) {
		info_of(t, &i);
		t->hc->cb(t->hc->arg, &i, state);
	}
}

static void
exec_cancel(struct hc_target *t)
{
	if (t->bev != NULL) {
		bufferevent_free(t->bev);
		t->bev = NULL;
	}
	if (t->udp_ev != NULL) {
		event_free(t->udp_ev);
		t->udp_ev = NULL;
	}
	if (t->udp_fd >= 0) {
		close(t->udp_fd);
		t->udp_fd = -1;
	}
}

static void
arm_timer(struct hc_target *t)
{
	uint64_t when = hc_sm_next_event(&t->sm), now = lb_now_ms();
	uint64_t d = when > now ? when - now : 0;
	struct timeval tv = { .tv_sec = (time_t)(d / 1000),
			      .tv_usec = (suseconds_t)(d % 1000) * 1000 };

	evtimer_add(t->timer, &tv);
}

/* The executor finished: free it, feed the result, schedule the next. */
static void
exec_done(struct hc_target *t, bool ok, const char *why)
{
	struct metrics_label l = { "type", cfg_check_type_name(t->check.type) };
	int change;

	exec_cancel(t);
	if (!ok && why != t->last_error)
		snprintf(t->last_error, sizeof(t->last_error), "%s", why);
	if (t->hc->duration != NULL)
		metrics_observe(metrics_series(t->hc->duration, &l, 1),
				(double)(lb_now_ns() - t->t0_ns) / 1e9);
	change = hc_sm_result(&t->sm, &t->params, lb_now_ms(), ok);
	report_change(t, change);
	arm_timer(t);
}

static int
target_sockaddr(const struct hc_target *t, struct sockaddr_storage *ss,
		socklen_t *len)
{
	uint16_t port = t->check.port ? t->check.port : t->port;

	memset(ss, 0, sizeof(*ss));
	if (t->addr.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = t->addr.v4;
		*len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, t->addr.v6, 16);
		*len = sizeof(*s6);
	}
	return 0;
}

/* ---- response parsing -------------------------------------------------- */

/* Skip one or more ASCII digits at p[*i..n); false if there is none. */
static bool
skip_digits(const char *p, size_t n, size_t *i)
{
	size_t start = *i;

	while (*i < n && p[*i] >= '0' && p[*i] <= '9')
		(*i)++;
	return *i > start;
}

/*
 * The status of the status line p[0..n) (its CRLF excluded): "HTTP/"
 * digits "." digits, spaces, three digits, then a space or the end.
 * Reads nothing past p[n - 1]. 0 or -EINVAL.
 */
static int
parse_status_line(const char *p, size_t n, unsigned int *status)
{
	size_t i = 5;

	if (n < i || memcmp(p, "HTTP/", 5) != 0 || !skip_digits(p, n, &i) ||
	    i >= n || p[i++] != '.' || !skip_digits(p, n, &i) || i >= n ||
	    p[i] != ' ')
		return -EINVAL;
	while (i < n && p[i] == ' ')
		i++;
	if (n - i < 3 || (n - i > 3 && p[i + 3] != ' '))
		return -EINVAL;
	*status = 0;
	for (size_t k = i; k < i + 3; k++) {
		if (p[k] < '0' || p[k] > '9')
			return -EINVAL;
		*status = *status * 10 + (unsigned int)(p[k] - '0');
	}
	return 0;
}

enum hc_verdict
hc_http_verdict(const char *p, size_t len, bool final,
		unsigned int expect_status, const char *expect_body, char *why,
		size_t whylen)
{
	const char *eol, *body;
	unsigned int status;

	if (len > HC_HTTP_MAX_RESPONSE)
		len = HC_HTTP_MAX_RESPONSE;
	eol = len > 0 ? memmem(p, len, "\r\n", 2) : NULL;
	if (eol == NULL) {
		if (!final && len < HC_HTTP_MAX_RESPONSE)
			return HC_VERDICT_MORE;
		snprintf(why, whylen, "no HTTP status line");
		return HC_VERDICT_FAIL;
	}
	if (parse_status_line(p, (size_t)(eol - p), &status) < 0) {
		snprintf(why, whylen, "malformed HTTP status line");
		return HC_VERDICT_FAIL;
	}
	if (status != expect_status) {
		snprintf(why, whylen, "HTTP status %u, expected %u", status,
			 expect_status);
		return HC_VERDICT_FAIL;
	}
	if (expect_body[0] == '\0')
		return HC_VERDICT_OK;
	body = memmem(p, len, "\r\n\r\n", 4);
	if (body != NULL && memmem(body + 4, len - (size_t)(body + 4 - p),
				   expect_body, strlen(expect_body)) != NULL)
		return HC_VERDICT_OK;
	if (!final && len < HC_HTTP_MAX_RESPONSE)
		return HC_VERDICT_MORE;
	snprintf(why, whylen, "body does not contain the expected text");
	return HC_VERDICT_FAIL;
}

enum hc_verdict
hc_udp_verdict(const uint8_t *buf, size_t len, const uint8_t *expect,
	       size_t expect_len, char *why, size_t whylen)
{
	if (expect_len == 0 ||
	    (len > 0 && memmem(buf, len, expect, expect_len) != NULL))
		return HC_VERDICT_OK;
	snprintf(why, whylen, "reply does not contain the expected bytes");
	return HC_VERDICT_FAIL;
}

/*
 * Decide an HTTP check from the response so far; returns 1 ok, 0 fail,
 * -1 undecided (need more). final: no more data will come.
 */
static int
check_http_verdict(struct hc_target *t, bool final)
{
	struct evbuffer *in = bufferevent_get_input(t->bev);
	size_t len = evbuffer_get_length(in);
	const char *p;

	if (len > HC_HTTP_MAX_RESPONSE)
		len = HC_HTTP_MAX_RESPONSE;
	p = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
	switch (hc_http_verdict(p, p != NULL ? len : 0, final,
				t->check.expect_status, t->check.expect_body,
				t->last_error, sizeof(t->last_error))) {
	case HC_VERDICT_OK:
		return 1;
	case HC_VERDICT_MORE:
		return -1;
	default:
		return 0;
	}
}

static void
bev_read(struct bufferevent *bev, void *arg)
{
	struct hc_target *t = arg;
	int v;

	(void)bev;
	if (t->check.type == CFG_CHECK_TCP)
		return;
	v = check_http_verdict(t, false);
	if (v >= 0)
		exec_done(t, v == 1, t->last_error);
}

static void
send_http_request(struct hc_target *t)
{
	struct evbuffer *out = bufferevent_get_output(t->bev);
	char host[LB_ADDRPORTSTRLEN];

	if (t->check.host[0])
		snprintf(host, sizeof(host), "%.*s", (int)sizeof(host) - 1,
			 t->check.host);
	else
		lb_addr_port_format(&t->addr,
				    t->check.port ? t->check.port : t->port,
				    host, sizeof(host));
	evbuffer_add_printf(out,
			    "GET %s HTTP/1.1\r\nHost: %s\r\n"
			    "User-Agent: edgelbd-healthcheck/" EDGELB_VERSION
			    "\r\nAccept: */*\r\nConnection: close\r\n\r\n",
			    t->check.path,
			    t->check.host[0] ? t->check.host : host);
}

static void
bev_event(struct bufferevent *bev, short what, void *arg)
{
	struct hc_target *t = arg;
	char why[96];

	if (what & BEV_EVENT_CONNECTED) {
		if (t->check.type == CFG_CHECK_TCP)
			exec_done(t, true, "");
		else
			send_http_request(t);
		return;
	}
	if ((what & BEV_EVENT_EOF) && t->check.type != CFG_CHECK_TCP) {
		int v = check_http_verdict(t, true);

		exec_done(t, v == 1, t->last_error);
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		int err = EVUTIL_SOCKET_ERROR();
		unsigned long ssl_err = 0;

		if (t->check.type == CFG_CHECK_HTTPS)
			ssl_err = bufferevent_get_openssl_error(bev);
		if (ssl_err != 0)
			snprintf(why, sizeof(why), "TLS: %s",
				 ERR_reason_error_string(ssl_err));
		else if (what & BEV_EVENT_EOF)
			snprintf(why, sizeof(why), "connection closed");
		else
			snprintf(why, sizeof(why), "%s",
				 err ? strerror(err) : "connection failed");
		exec_done(t, false, why);
	}
}

static void
udp_read(evutil_socket_t fd, short what, void *arg)
{
	struct hc_target *t = arg;
	uint8_t buf[2048];
	ssize_t n;

	(void)what;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		exec_done(t, false, strerror(errno));
		return;
	}
	if (hc_udp_verdict(buf, (size_t)n, t->check.expect, t->check.expect_len,
			   t->last_error,
			   sizeof(t->last_error)) != HC_VERDICT_OK) {
		exec_done(t, false, t->last_error);
		return;
	}
	exec_done(t, true, "");
}

/* Start the check; on immediate failure, finish it at once. */
static void
exec_start(struct hc_target *t)
{
	struct sockaddr_storage ss;
	socklen_t len;
	SSL *ssl = NULL;

	t->t0_ns = lb_now_ns();
	target_sockaddr(t, &ss, &len);
	if (t->check.type == CFG_CHECK_UDP) {
		t->udp_fd =
			socket(ss.ss_family,
			       SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (t->udp_fd < 0 ||
		    connect(t->udp_fd, (struct sockaddr *)&ss, len) < 0 ||
		    send(t->udp_fd, t->check.send, t->check.send_len, 0) < 0) {
			exec_done(t, false, strerror(errno));
			return;
		}
		t->udp_ev = event_new(t->hc->base, t->udp_fd,
				      EV_READ | EV_PERSIST, udp_read, t);
		if (t->udp_ev == NULL || event_add(t->udp_ev, NULL) < 0)
			exec_done(t, false, "out of memory");
		return;
	}
	if (t->check.type == CFG_CHECK_HTTPS) {
		ssl = SSL_new(t->hc->ssl);
		if (ssl == NULL) {
			exec_done(t, false, "TLS: SSL_new failed");
			return;
		}
		if (t->check.host[0])
			SSL_set_tlsext_host_name(ssl, t->check.host);
		t->bev = bufferevent_openssl_socket_new(
			t->hc->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
			BEV_OPT_CLOSE_ON_FREE);
		if (t->bev == NULL)
			SSL_free(ssl);
	} else {
		t->bev = bufferevent_socket_new(t->hc->base, -1,
						BEV_OPT_CLOSE_ON_FREE);
	}
	if (t->bev == NULL) {
		exec_done(t, false, "out of memory");
		return;
	}
	bufferevent_setcb(t->bev, bev_read, NULL, bev_event, t);
	bufferevent_setwatermark(t->bev, EV_READ, 0, HC_HTTP_MAX_RESPONSE + 1);
	bufferevent_enable(t->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(t->bev, (struct sockaddr *)&ss,
				       (int)len) < 0 &&
	    t->bev != NULL)
		exec_done(t, false, strerror(errno));
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct hc_target *t = arg;
	int change;

	(void)fd;
	(void)what;
	switch (hc_sm_poll(&t->sm, &t->params, lb_now_ms(), &change)) {
	case HC_ACT_START:
		exec_start(t);
		if (!t->sm.in_flight)
			return; /* finished at once; exec_done re-armed */
		break;
	case HC_ACT_TIMEOUT:
		exec_cancel(t);
		snprintf(t->last_error, sizeof(t->last_error),
			 "timeout (%u ms)", t->params.timeout_ms);
		report_change(t, change);
		break;
	case HC_ACT_NONE:
		break;
	}
	arm_timer(t);
}

static void
target_free(struct hc_target *t)
{
	exec_cancel(t);
	if (t->timer != NULL)
		event_free(t->timer);
	free(t);
}

static void
set_params(struct hc_target *t, const struct cfg_check *k)
{
	t->check = *k;
	t->params = (struct hc_params){ k->interval_ms, k->timeout_ms, k->rise,
					k->fall };
}

static struct hc_target *
target_new(struct hc *hc, const struct cfg_service *s,
	   const struct cfg_backend *b, const struct cfg_check *k)
{
	struct hc_target *t = calloc(1, sizeof(*t));
	uint64_t now = lb_now_ms();

	if (t == NULL)
		return NULL;
	t->hc = hc;
	t->udp_fd = -1;
	snprintf(t->service, sizeof(t->service), "%s", s->name);
	t->addr = b->addr;
	t->port = b->port;
	set_params(t, k);
	/* spread the first checks over the interval */
	hc_sm_init(&t->sm, now + (uint64_t)random() % k->interval_ms);
	t->timer = evtimer_new(hc->base, on_timer, t);
	if (t->timer == NULL) {
		free(t);
		return NULL;
	}
	arm_timer(t);
	return t;
}

static struct hc_target *
find_target(const struct hc *hc, const char *service,
	    const struct lb_addr *addr, uint16_t port)
{
	for (unsigned int i = 0; i < hc->n; i++) {
		struct hc_target *t = hc->t[i];

		if (t->port == port && lb_addr_equal(&t->addr, addr) &&
		    strcmp(t->service, service) == 0)
			return t;
	}
	return NULL;
}

int
hc_sync(struct hc *hc, const struct cfg *c)
{
	struct hc_target **nt = NULL;
	unsigned int n = 0;
	size_t cap = 0;

	for (unsigned int i = 0; i < hc->n; i++)
		hc->t[i]->keep = false;
	for (uint32_t i = 0; i < c->nservices; i++) {
		const struct cfg_service *s = &c->services[i];
		const struct cfg_check *k =
			s->check[0] ? cfg_check_find(c, s->check) : NULL;

		for (uint32_t j = 0; k != NULL && j < s->nbackends; j++) {
			const struct cfg_backend *b = &s->backends[j];
			struct hc_target *t =
				find_target(hc, s->name, &b->addr, b->port);

			if (lb_array_grow(&nt, &cap, n + 1, sizeof(*nt)) < 0)
				goto err;
			if (t != NULL && t->keep)
				continue; /* listed twice: keep one */
			if (t != NULL && strcmp(t->check.name, k->name) == 0) {
				set_params(t, k);
			} else {
				t = target_new(hc, s, b, k);
				if (t == NULL)
					goto err;
			}
			t->keep = true;
			nt[n++] = t;
		}
	}
	for (unsigned int i = 0; i < hc->n; i++)
		if (!hc->t[i]->keep)
			target_free(hc->t[i]);
	free(hc->t);
	hc->t = nt;
	hc->n = n;
	return 0;
err:
	/* free the new ones only; the old list stays as it was */
	for (unsigned int i = 0; i < n; i++) {
		bool old = false;

		for (unsigned int j = 0; j < hc->n && !old; j++)
			old = hc->t[j] == nt[i];
		if (!old)
			target_free(nt[i]);
	}
	free(nt);
	return -ENOMEM;
}

int
hc_state(const struct hc *hc, const char *service, const struct lb_addr *addr,
	 uint16_t port)
{
	const struct hc_target *t = find_target(hc, service, addr, port);

	return t != NULL ? t->sm.state : LB_HEALTH_UNKNOWN;
}

void
hc_foreach(const struct hc *hc, hc_foreach_fn fn, void *arg)
{
	struct hc_info i;

	for (unsigned int k = 0; k < hc->n; k++) {
		info_of(hc->t[k], &i);
		fn(arg, &i);
	}
}

unsigned int
hc_count(const struct hc *hc)
{
	return hc->n;
}

/* Scrape-time samples of every target. */
static int
collect(void *arg, struct metrics *m)
{
	const struct hc *hc = arg;

	for (unsigned int k = 0; k < hc->n; k++) {
		const struct hc_target *t = hc->t[k];
		char be[LB_ADDRPORTSTRLEN];
		struct metrics_label l[4] = {
			{ "service", t->service },
			{ "backend", lb_addr_port_format(&t->addr, t->port, be,
							 sizeof(be)) },
			{ "check", t->check.name },
		};

		metrics_put(m, "edgelbd_health_state",
			    "Health of a backend: 0 unknown, 1 up, 2 down.",
			    METRICS_GAUGE, l, 3, t->sm.state);
		l[3] = (struct metrics_label){ "result", "ok" };
		metrics_put(m, "edgelbd_health_checks_total",
			    "Health checks finished, by result.",
			    METRICS_COUNTER, l, 4, (double)t->sm.oks);
		l[3].value = "fail";
		metrics_put(m, "edgelbd_health_checks_total", NULL,
			    METRICS_COUNTER, l, 4,
			    (double)(t->sm.failures - t->sm.timeouts));
		l[3].value = "timeout";
		metrics_put(m, "edgelbd_health_checks_total", NULL,
			    METRICS_COUNTER, l, 4, (double)t->sm.timeouts);
		l[3] = (struct metrics_label){ "to", "up" };
		metrics_put(m, "edgelbd_health_transitions_total",
			    "Health state changes of a backend.",
			    METRICS_COUNTER, l, 4, (double)t->sm.rises);
		l[3].value = "down";
		metrics_put(m, "edgelbd_health_transitions_total", NULL,
			    METRICS_COUNTER, l, 4, (double)t->sm.falls);
	}
	return 0;
}

struct hc *
hc_new(struct event_base *base, struct metrics *m, hc_change_fn cb, void *arg)
{
	static const double bounds[] = { 0.001, 0.0025, 0.005, 0.01,
					 0.025, 0.05,	0.1,   0.25,
					 0.5,	1,	2.5,   5 };
	struct hc *hc = calloc(1, sizeof(*hc));

	if (hc == NULL)
		return NULL;
	hc->base = base;
	hc->cb = cb;
	hc->arg = arg;
	hc->ssl = SSL_CTX_new(TLS_client_method());
	if (hc->ssl == NULL) {
		free(hc);
		errno = EPROTO;
		return NULL;
	}
	/* backends are addressed by IP and often self-signed: no verify */
	SSL_CTX_set_verify(hc->ssl, SSL_VERIFY_NONE, NULL);
	hc->metrics = m;
	if (m != NULL) {
		hc->duration = metrics_family(
			m, "edgelbd_health_check_duration_seconds",
			"Time from the start of a check to its answer "
			"(timeouts "
			"excluded).",
			METRICS_HISTOGRAM, bounds,
			sizeof(bounds) / sizeof(bounds[0]));
		if (metrics_add_collector(m, collect, hc) < 0) {
			SSL_CTX_free(hc->ssl);
			free(hc);
			errno = ENOMEM;
			return NULL;
		}
	}
	return hc;
}

void
hc_free(struct hc *hc)
{
	if (hc == NULL)
		return;
	if (hc->metrics != NULL)
		metrics_del_collector(hc->metrics, collect, hc);
	for (unsigned int i = 0; i < hc->n; i++)
		target_free(hc->t[i]);
	free(hc->t);
	SSL_CTX_free(hc->ssl);
	free(hc);
}
