/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of controlplane/health.c: the rise/fall state machine and its
 * scheduling against a fake clock, then real checks on 127.0.0.1: TCP
 * against a listening and a closed port, HTTP against an evhttp server
 * inside the test (status and body match/mismatch), a server that never
 * answers (timeout), and UDP send/expect.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "config.h"
#include "health.h"

static const struct hc_params P = {
	.interval_ms = 1000, .timeout_ms = 300, .rise = 2, .fall = 3
};

/* Run one check at time now that ends after dt ms with ok. */
static int
one_check(struct hc_sm *sm, uint64_t *now, uint64_t dt, bool ok)
{
	int change;

	while (hc_sm_poll(sm, &P, *now, &change) != HC_ACT_START)
		*now = hc_sm_next_event(sm);
	*now += dt;
	return hc_sm_result(sm, &P, *now, ok);
}

START_TEST(test_initial)
{
	struct hc_sm sm;
	int change;

	hc_sm_init(&sm, 5000);
	ck_assert_int_eq(sm.state, LB_HEALTH_UNKNOWN);
	ck_assert(hc_state_healthy(sm.state));
	ck_assert_uint_eq(hc_sm_next_event(&sm), 5000);
	ck_assert_int_eq(hc_sm_poll(&sm, &P, 4999, &change), HC_ACT_NONE);
	ck_assert_int_eq(hc_sm_poll(&sm, &P, 5000, &change), HC_ACT_START);
	ck_assert(sm.in_flight);
	ck_assert_uint_eq(hc_sm_next_event(&sm), 5300);
}
END_TEST

START_TEST(test_rise_fall)
{
	struct hc_sm sm;
	uint64_t now = 0;

	hc_sm_init(&sm, 0);
	ck_assert_int_eq(one_check(&sm, &now, 10, true), 0);
	ck_assert_int_eq(sm.state, LB_HEALTH_UNKNOWN);
	ck_assert_int_eq(one_check(&sm, &now, 10, true), LB_HEALTH_UP);
	ck_assert_uint_eq(now, 1010); /* second check started at 1000 */
	ck_assert_int_eq(one_check(&sm, &now, 10, true), 0);
	ck_assert_int_eq(one_check(&sm, &now, 10, false), 0);
	ck_assert_int_eq(one_check(&sm, &now, 10, false), 0);
	ck_assert_int_eq(sm.state, LB_HEALTH_UP);
	ck_assert_int_eq(one_check(&sm, &now, 10, false), LB_HEALTH_DOWN);
	ck_assert(!hc_state_healthy(sm.state));
	ck_assert_int_eq(one_check(&sm, &now, 10, false), 0); /* once */
	ck_assert_int_eq(one_check(&sm, &now, 10, true), 0);
	ck_assert_int_eq(one_check(&sm, &now, 10, true), LB_HEALTH_UP);
	ck_assert_uint_eq(sm.rises, 2);
	ck_assert_uint_eq(sm.falls, 1);
	ck_assert_uint_eq(sm.checks, 9);
	ck_assert_uint_eq(sm.failures, 4);
}
END_TEST

START_TEST(test_first_failures_from_unknown)
{
	struct hc_sm sm;
	uint64_t now = 0;

	hc_sm_init(&sm, 0);
	ck_assert_int_eq(one_check(&sm, &now, 1, false), 0);
	ck_assert_int_eq(one_check(&sm, &now, 1, false), 0);
	ck_assert_int_eq(one_check(&sm, &now, 1, false), LB_HEALTH_DOWN);
}
END_TEST

START_TEST(test_flapping)
{
	struct hc_sm sm;
	uint64_t now = 0;

	hc_sm_init(&sm, 0);
	one_check(&sm, &now, 1, true);
	ck_assert_int_eq(one_check(&sm, &now, 1, true), LB_HEALTH_UP);
	/* ok/fail alternating never reaches fall (3) nor changes state */
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(one_check(&sm, &now, 1, i % 2 == 0), 0);
	ck_assert_int_eq(sm.state, LB_HEALTH_UP);
	/* ok, fail, fail, ok, fail, fail: still up */
	for (int i = 0; i < 12; i++)
		ck_assert_int_eq(one_check(&sm, &now, 1, i % 3 == 0), 0);
	ck_assert_int_eq(sm.state, LB_HEALTH_UP);
	ck_assert_uint_eq(sm.falls, 0);
}
END_TEST

START_TEST(test_timeout_is_failure)
{
	struct hc_sm sm;
	int change;

	hc_sm_init(&sm, 0);
	ck_assert_int_eq(hc_sm_poll(&sm, &P, 0, &change), HC_ACT_START);
	ck_assert_int_eq(hc_sm_poll(&sm, &P, 299, &change), HC_ACT_NONE);
	ck_assert_int_eq(hc_sm_poll(&sm, &P, 300, &change), HC_ACT_TIMEOUT);
	ck_assert_int_eq(change, 0);
	ck_assert(!sm.in_flight);
	ck_assert_uint_eq(sm.failures, 1);
	ck_assert_uint_eq(sm.timeouts, 1);
	ck_assert_uint_eq(sm.fail_run, 1);
	/* the executor's late answer is ignored */
	ck_assert_int_eq(hc_sm_result(&sm, &P, 350, true), -EALREADY);
	ck_assert_uint_eq(sm.oks, 0);
	/* next check one interval after the previous start */
	ck_assert_uint_eq(hc_sm_next_event(&sm), 1000);
}
END_TEST

/* An executor that never answers: checks never overlap or pile up. */
START_TEST(test_no_pile_up)
{
	struct hc_sm sm;
	unsigned int starts = 0, timeouts = 0, downs = 0;
	bool in_flight = false;
	uint64_t last_start = 0;
	int change;

	hc_sm_init(&sm, 0);
	for (uint64_t now = 0; now <= 10000; now += 50) {
		switch (hc_sm_poll(&sm, &P, now, &change)) {
		case HC_ACT_START:
			ck_assert(!in_flight);
			if (starts)
				ck_assert_uint_ge(now - last_start,
						  P.interval_ms);
			in_flight = true;
			last_start = now;
			starts++;
			break;
		case HC_ACT_TIMEOUT:
			ck_assert(in_flight);
			ck_assert_uint_eq(now - last_start, P.timeout_ms);
			in_flight = false;
			timeouts++;
			downs += change == LB_HEALTH_DOWN;
			break;
		case HC_ACT_NONE:
			break;
		}
	}
	ck_assert_uint_eq(starts, 11); /* 0, 1000, ..., 10000 */
	ck_assert_uint_eq(timeouts, 10);
	ck_assert_uint_eq(downs, 1);
	ck_assert_int_eq(sm.state, LB_HEALTH_DOWN);
}
END_TEST

START_TEST(test_slow_answer_reschedules_now)
{
	struct hc_sm sm;
	const struct hc_params slow = { 100, 5000, 1, 1 };
	int change;

	hc_sm_init(&sm, 0);
	ck_assert_int_eq(hc_sm_poll(&sm, &slow, 0, &change), HC_ACT_START);
	ck_assert_int_eq(hc_sm_result(&sm, &slow, 250, true), LB_HEALTH_UP);
	ck_assert_uint_eq(hc_sm_next_event(&sm), 250);
	ck_assert_int_eq(hc_sm_poll(&sm, &slow, 250, &change), HC_ACT_START);
}
END_TEST

/* ---- real checks on loopback ------------------------------------------- */

static char tmpdir[] = "/tmp/test_health.XXXXXX";

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(tmpdir, "/tmp/test_health.XXXXXX");
}

static struct cfg *
load_cfg(const char *text)
{
	struct cfg_errors e = { 0 };
	char path[256];
	struct cfg *c;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/hc.ini", tmpdir);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
	c = cfg_load(path, NULL, 0, &e);
	cfg_errors_print(&e, stderr);
	ck_assert_ptr_nonnull(c);
	cfg_errors_free(&e);
	return c;
}

/* A socket bound to 127.0.0.1:0 of type; listening if tcp. */
static int
bound_socket(int type, uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (type == SOCK_STREAM)
		ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

struct waiter {
	struct event_base *base;
	unsigned int want; /* changes to wait for */
	unsigned int seen;
};

static void
on_change(void *arg, const struct hc_info *t, int state)
{
	struct waiter *w = arg;

	(void)t;
	(void)state;
	if (++w->seen >= w->want)
		event_base_loopbreak(w->base);
}

/* Run checks for c until `want` changes happened or 5 s passed. */
static struct hc *
run_checks(struct event_base *base, struct cfg *c, unsigned int want)
{
	struct waiter *w = calloc(1, sizeof(*w));
	struct timeval limit = { 5, 0 };
	struct hc *hc;

	w->base = base;
	w->want = want;
	hc = hc_new(base, NULL, on_change, w);
	ck_assert_ptr_nonnull(hc);
	ck_assert_int_eq(hc_sync(hc, c), 0);
	ck_assert_uint_eq(hc_count(hc), want);
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	ck_assert_uint_eq(w->seen, want);
	free(w);
	return hc;
}

static int
state_of(struct hc *hc, struct cfg *c, const char *svc)
{
	const struct cfg_service *s = cfg_service_find(c, svc);

	return hc_state(hc, svc, &s->backends[0].addr, s->backends[0].port);
}

START_TEST(test_tcp)
{
	struct event_base *base = event_base_new();
	uint16_t open_port, closed_port;
	int lfd = bound_socket(SOCK_STREAM, &open_port);
	int cfd = bound_socket(SOCK_STREAM, &closed_port);
	char ini[1024];
	struct cfg *c;
	struct hc *hc;

	close(cfd); /* nothing listens there any more */
	snprintf(ini, sizeof(ini),
		 "[healthcheck t]\ntype = tcp\ninterval = 200ms\n"
		 "timeout = 100ms\nrise = 1\nfall = 1\n"
		 "[service open]\nvip = 10.0.0.1:80\nmode = dr\n"
		 "backend = 127.0.0.1:%u\nhealthcheck = t\n"
		 "[service closed]\nvip = 10.0.0.1:81\nmode = dr\n"
		 "backend = 127.0.0.1:%u\nhealthcheck = t\n",
		 open_port, closed_port);
	c = load_cfg(ini);
	hc = run_checks(base, c, 2);
	ck_assert_int_eq(state_of(hc, c, "open"), LB_HEALTH_UP);
	ck_assert_int_eq(state_of(hc, c, "closed"), LB_HEALTH_DOWN);
	/* targets for unknown backends are UNKNOWN */
	ck_assert_int_eq(hc_state(hc, "open", &c->services[0].vip, 1),
			 LB_HEALTH_UNKNOWN);
	/* a sync without checks drops every target */
	c->services[0].check[0] = c->services[1].check[0] = '\0';
	ck_assert_int_eq(hc_sync(hc, c), 0);
	ck_assert_uint_eq(hc_count(hc), 0);
	hc_free(hc);
	cfg_free(c);
	close(lfd);
	event_base_free(base);
}
END_TEST

static void
http_handler(struct evhttp_request *req, void *arg)
{
	struct evbuffer *body = evbuffer_new();
	const char *uri = evhttp_request_get_uri(req);

	(void)arg;
	if (strcmp(uri, "/ok") == 0) {
		evbuffer_add_printf(body, "hello world\n");
		evhttp_send_reply(req, 200, "OK", body);
	} else {
		evbuffer_add_printf(body, "broken\n");
		evhttp_send_reply(req, 500, "Internal Server Error", body);
	}
	evbuffer_free(body);
}

START_TEST(test_http)
{
	struct event_base *base = event_base_new();
	struct evhttp *http = evhttp_new(base);
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	uint16_t port, hang_port;
	int hang = bound_socket(SOCK_STREAM, &hang_port);
	char ini[2048];
	struct cfg *c;
	struct hc *hc;

	evhttp_set_gencb(http, http_handler, NULL);
	bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
	ck_assert_ptr_nonnull(bs);
	ck_assert_int_eq(getsockname(evhttp_bound_socket_get_fd(bs),
				     (struct sockaddr *)&sa, &len),
			 0);
	port = ntohs(sa.sin_port);
	snprintf(ini, sizeof(ini),
		 "[healthcheck ok]\ntype = http\npath = /ok\n"
		 "expect_body = world\ninterval = 300ms\ntimeout = 200ms\n"
		 "rise = 1\nfall = 1\n"
		 "[healthcheck body]\ntype = http\npath = /ok\n"
		 "expect_body = galaxy\ninterval = 300ms\ntimeout = 200ms\n"
		 "rise = 1\nfall = 1\n"
		 "[healthcheck status]\ntype = http\npath = /fail\n"
		 "interval = 300ms\ntimeout = 200ms\nrise = 1\nfall = 1\n"
		 "[healthcheck status500]\ntype = http\npath = /fail\n"
		 "expect_status = 500\ninterval = 300ms\ntimeout = 200ms\n"
		 "rise = 1\nfall = 1\n"
		 "[healthcheck hang]\ntype = http\ninterval = 300ms\n"
		 "timeout = 150ms\nrise = 1\nfall = 2\n"
		 "[service a]\nvip = 10.0.0.1:1\nmode = nat\n"
		 "backend = 127.0.0.1:%u\nhealthcheck = ok\n"
		 "[service b]\nvip = 10.0.0.1:2\nmode = nat\n"
		 "backend = 127.0.0.1:%u\nhealthcheck = body\n"
		 "[service c]\nvip = 10.0.0.1:3\nmode = nat\n"
		 "backend = 127.0.0.1:%u\nhealthcheck = status\n"
		 "[service d]\nvip = 10.0.0.1:4\nmode = nat\n"
		 "backend = 127.0.0.1:%u\nhealthcheck = status500\n"
		 "[service e]\nvip = 10.0.0.1:5\nmode = nat\n"
		 "backend = 127.0.0.1:%u\nhealthcheck = hang\n",
		 port, port, port, port, hang_port);
	c = load_cfg(ini);
	hc = run_checks(base, c, 5);
	ck_assert_int_eq(state_of(hc, c, "a"), LB_HEALTH_UP);
	ck_assert_int_eq(state_of(hc, c, "b"), LB_HEALTH_DOWN);
	ck_assert_int_eq(state_of(hc, c, "c"), LB_HEALTH_DOWN);
	ck_assert_int_eq(state_of(hc, c, "d"), LB_HEALTH_UP);
	ck_assert_int_eq(state_of(hc, c, "e"), LB_HEALTH_DOWN);
	hc_free(hc);
	cfg_free(c);
	close(hang);
	evhttp_free(http);
	event_base_free(base);
}
END_TEST

static void
udp_echo(evutil_socket_t fd, short what, void *arg)
{
	struct sockaddr_storage from;
	socklen_t len = sizeof(from);
	char buf[512];
	ssize_t n;

	(void)what;
	(void)arg;
	n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
	if (n == 5 && memcmp(buf, "ping\n", 5) == 0)
		sendto(fd, "pong\n", 5, 0, (struct sockaddr *)&from, len);
	else if (n > 0)
		sendto(fd, "what?", 5, 0, (struct sockaddr *)&from, len);
}

START_TEST(test_udp)
{
	struct event_base *base = event_base_new();
	uint16_t port, closed_port;
	int ufd = bound_socket(SOCK_DGRAM, &port);
	int cfd = bound_socket(SOCK_DGRAM, &closed_port);
	struct event *ev =
		event_new(base, ufd, EV_READ | EV_PERSIST, udp_echo, NULL);
	char ini[1024];
	struct cfg *c;
	struct hc *hc;

	close(cfd);
	event_add(ev, NULL);
	snprintf(ini, sizeof(ini),
		 "[healthcheck u]\ntype = udp\nsend = ping\\n\nexpect = pong\n"
		 "interval = 200ms\ntimeout = 100ms\nrise = 1\nfall = 1\n"
		 "[healthcheck wrong]\ntype = udp\nsend = hi\nexpect = pong\n"
		 "interval = 200ms\ntimeout = 100ms\nrise = 1\nfall = 1\n"
		 "[service a]\nvip = 10.0.0.1:53\nproto = udp\nmode = dr\n"
		 "backend = 127.0.0.1:%u\nhealthcheck = u\n"
		 "[service b]\nvip = 10.0.0.1:54\nproto = udp\nmode = dr\n"
		 "backend = 127.0.0.1:%u\nhealthcheck = wrong\n"
		 "[service c]\nvip = 10.0.0.1:55\nproto = udp\nmode = dr\n"
		 "backend = 127.0.0.1:%u\nhealthcheck = u\n",
		 port, port, closed_port);
	c = load_cfg(ini);
	hc = run_checks(base, c, 3);
	ck_assert_int_eq(state_of(hc, c, "a"), LB_HEALTH_UP);
	ck_assert_int_eq(state_of(hc, c, "b"), LB_HEALTH_DOWN);
	ck_assert_int_eq(state_of(hc, c, "c"), LB_HEALTH_DOWN);
	hc_free(hc);
	cfg_free(c);
	event_free(ev);
	close(ufd);
	event_base_free(base);
}
END_TEST

/* ---- response parsing --------------------------------------------------- */

struct http_case {
	const char *resp;
	bool final;
	unsigned int status;
	const char *body;
	enum hc_verdict want;
};

static const struct http_case http_cases[] = {
	{ "HTTP/1.1 200 OK\r\n\r\nhello", false, 200, "", HC_VERDICT_OK },
	{ "HTTP/1.0 204\r\n\r\n", false, 204, "", HC_VERDICT_OK },
	{ "HTTP/1.1  200 OK\r\n", false, 200, "", HC_VERDICT_OK },
	{ "HTTP/1.1 500 Oops\r\n\r\n", false, 200, "", HC_VERDICT_FAIL },
	{ "HTTP/1.1 200 OK\r\n\r\nhello world", false, 200, "world",
	  HC_VERDICT_OK },
	{ "HTTP/1.1 200 OK\r\n\r\nhello", false, 200, "world",
	  HC_VERDICT_MORE },
	{ "HTTP/1.1 200 OK\r\n\r\nhello", true, 200, "world", HC_VERDICT_FAIL },
	{ "HTTP/1.1 200 OK\r\nX: world\r\n\r\n", true, 200, "world",
	  HC_VERDICT_FAIL }, /* a header is not the body */
	{ "HTTP/1.1 200 O", false, 200, "", HC_VERDICT_MORE },
	{ "HTTP/1.1 200 O", true, 200, "", HC_VERDICT_FAIL },
	{ "", false, 200, "", HC_VERDICT_MORE },
	{ "", true, 200, "", HC_VERDICT_FAIL },
	{ "HTTP/1.1 2000 OK\r\n", false, 200, "", HC_VERDICT_FAIL },
	{ "HTTP/1.1 20 OK\r\n", false, 20, "", HC_VERDICT_FAIL },
	{ "HTTP/1.1 +200 OK\r\n", false, 200, "", HC_VERDICT_FAIL },
	{ "HTTP/1.1 -200 OK\r\n", false, 200, "", HC_VERDICT_FAIL },
	{ " HTTP/1.1 200 OK\r\n", false, 200, "", HC_VERDICT_FAIL },
	{ "HTTP/1.1200 OK\r\n", false, 200, "", HC_VERDICT_FAIL },
	{ "HTTP/ 1.1 200 OK\r\n", false, 200, "", HC_VERDICT_FAIL },
	{ "HTTP/1. 200 OK\r\n", false, 200, "", HC_VERDICT_FAIL },
	{ "HTTP/1.1 200\tOK\r\n", false, 200, "", HC_VERDICT_FAIL },
	{ "HTTP/1.1\r\n 200 OK\r\n", false, 200, "", HC_VERDICT_FAIL },
	{ "SSH-2.0-OpenSSH\r\n", false, 200, "", HC_VERDICT_FAIL },
};

START_TEST(test_http_verdict)
{
	const struct http_case *c = &http_cases[_i];
	size_t len = strlen(c->resp);
	/* exactly the response's bytes: no NUL after them */
	char *buf = malloc(len ? len : 1);
	char why[96] = "";
	enum hc_verdict v;

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, c->resp, len);
	v = hc_http_verdict(buf, len, c->final, c->status, c->body, why,
			    sizeof(why));
	ck_assert_msg(v == c->want, "case %d: verdict %d, want %d (%s)", _i, v,
		      c->want, why);
	if (v == HC_VERDICT_FAIL)
		ck_assert(why[0] != '\0');
	free(buf);
}
END_TEST

/*
 * Regression: the status line was read with
 * sscanf() on the response buffer, which is not NUL-terminated. A
 * response that fills its buffer exactly was read past its end (ASan:
 * heap-buffer-overflow), and bytes after len decided the verdict.
 */
START_TEST(test_http_verdict_unterminated)
{
	static const char line[] = "HTTP/1.1\r\n";
	const size_t len = 64;
	char *buf = malloc(len);
	char big[] = "HTTP/1.1\r\n 200 OK\r\n\r\n";
	char why[96];

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, line, sizeof(line) - 1);
	memset(buf + sizeof(line) - 1, ' ', len - (sizeof(line) - 1));
	ck_assert_int_eq(
		hc_http_verdict(buf, len, false, 200, "", why, sizeof(why)),
		HC_VERDICT_FAIL);
	ck_assert_str_eq(why, "malformed HTTP status line");
	free(buf);
	/* only the first len bytes count: "HTTP/1.1\r\n" is malformed
	 * whatever follows it in memory */
	ck_assert_int_eq(hc_http_verdict(big, strlen(line), false, 200, "", why,
					 sizeof(why)),
			 HC_VERDICT_FAIL);
	/* and the status line may not run into the next line */
	ck_assert_int_eq(hc_http_verdict(big, sizeof(big) - 1, false, 200, "",
					 why, sizeof(why)),
			 HC_VERDICT_FAIL);
}
END_TEST

START_TEST(test_http_verdict_limits)
{
	const size_t len = HC_HTTP_MAX_RESPONSE + 100;
	char *buf = malloc(len);
	static const char head[] = "HTTP/1.1 200 OK\r\n\r\n";
	char why[96];

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, head, sizeof(head) - 1);
	memset(buf + sizeof(head) - 1, 'x', len - (sizeof(head) - 1));
	buf[100] = '\0'; /* a NUL in the body is just a byte */
	memcpy(buf + 200, "needle", 6);
	ck_assert_int_eq(hc_http_verdict(buf, len, false, 200, "needle", why,
					 sizeof(why)),
			 HC_VERDICT_OK);
	/* text past the first HC_HTTP_MAX_RESPONSE bytes is not looked at:
	 * a full buffer is decided, not waited on */
	memcpy(buf + 200, "xxxxxx", 6);
	memcpy(buf + HC_HTTP_MAX_RESPONSE + 10, "needle", 6);
	ck_assert_int_eq(hc_http_verdict(buf, len, false, 200, "needle", why,
					 sizeof(why)),
			 HC_VERDICT_FAIL);
	/* no CRLF in a full buffer */
	memset(buf, 'x', len);
	ck_assert_int_eq(
		hc_http_verdict(buf, len, false, 200, "", why, sizeof(why)),
		HC_VERDICT_FAIL);
	ck_assert_str_eq(why, "no HTTP status line");
	free(buf);
}
END_TEST

START_TEST(test_udp_verdict)
{
	static const uint8_t reply[] = { 'p', 'o', 0, 'n', 'g', '\n' };
	static const uint8_t want[] = { 0, 'n', 'g' };
	char why[96];

	ck_assert_int_eq(hc_udp_verdict(reply, sizeof(reply), want,
					sizeof(want), why, sizeof(why)),
			 HC_VERDICT_OK);
	ck_assert_int_eq(
		hc_udp_verdict(reply, 3, want, sizeof(want), why, sizeof(why)),
		HC_VERDICT_FAIL);
	ck_assert_int_eq(
		hc_udp_verdict(reply, 0, want, sizeof(want), why, sizeof(why)),
		HC_VERDICT_FAIL);
	ck_assert_int_eq(hc_udp_verdict(reply, 0, want, 0, why, sizeof(why)),
			 HC_VERDICT_OK);
}
END_TEST

static Suite *
health_suite(void)
{
	Suite *s = suite_create("health");
	TCase *tc = tcase_create("core");
	TCase *tn = tcase_create("net");

	tcase_add_test(tc, test_initial);
	tcase_add_test(tc, test_rise_fall);
	tcase_add_test(tc, test_first_failures_from_unknown);
	tcase_add_test(tc, test_flapping);
	tcase_add_test(tc, test_timeout_is_failure);
	tcase_add_test(tc, test_no_pile_up);
	tcase_add_test(tc, test_slow_answer_reschedules_now);
	tcase_add_loop_test(tc, test_http_verdict, 0,
			    (int)(sizeof(http_cases) / sizeof(http_cases[0])));
	tcase_add_test(tc, test_http_verdict_unterminated);
	tcase_add_test(tc, test_http_verdict_limits);
	tcase_add_test(tc, test_udp_verdict);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tn, setup, teardown);
	tcase_set_timeout(tn, 30);
	tcase_add_test(tn, test_tcp);
	tcase_add_test(tn, test_http);
	tcase_add_test(tn, test_udp);
	suite_add_tcase(s, tn);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(health_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
