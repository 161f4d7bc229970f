/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The upstream HTTP client (controlplane/http/http_client.h) against real
 * servers on 127.0.0.1. Two runs:
 *
 * http_client: scripted sockets of the test (a thread that answers what
 *   each case needs): timeouts (connect, head, read-idle, total), refused,
 *   malformed and smuggling responses, over-limit heads and bodies, and
 *   the retry rule on a stale keep-alive connection.
 * http_client_nginx (argument "nginx"; exit 77 without nginx): nginx with
 *   a plaintext HTTP/1.1 listener, an h2c (prior knowledge) one and a TLS
 *   one with a certificate made by `openssl req` at test time: keep-alive
 *   reuse ($connection), pool limits and idle expiry, HTTP/2 multiplexing,
 *   ALPN, certificate verification, 32 MiB streamed both ways with the
 *   client's buffers' high waters checked.
 *
 * The client's loop runs in the test's thread; every run is bounded in
 * time.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "http_client.h"

#define NGINX	 "/usr/sbin/nginx"
#define ECHO_MOD "/usr/lib/nginx/modules/ngx_http_echo_module.so"
#define BIG	 (32ull * 1024 * 1024)
#define CHUNK	 (64 * 1024)
#define SMALL	 100000 /* under a stream's window: all of it comes at once */

static struct event_base *base;
static struct http_client *cl;
static struct event *guard;
static int ndone, nwant;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The test pattern of the big bodies, and a hash to compare them. */
static uint8_t
pat(uint64_t i)
{
	return (uint8_t)((i * 131) ^ (i >> 12));
}

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

#define FNV0 0xcbf29ce484222325ull

/* ---- requests and their results ---------------------------------------- */

struct res {
	struct http_client_req *r;
	bool done;
	int err;
	int status;
	int version;
	char body[2048];
	size_t blen;
	uint64_t total, hash;
	/* pause every pause_every bytes, resume 2 ms later */
	uint64_t pause_every, next_pause;
	unsigned pauses;
	long resume_us; /* 0: 2000 */
	bool paused;
	unsigned while_paused; /* pieces delivered while paused: none */
	struct event *resume;
	/* piecewise upload of up_total bytes */
	uint64_t up_total, up_sent;
	uint64_t done_ms;
};

static void
on_guard(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

/* Run the loop until nwant requests are done or ms passed. */
static void
run(int want, uint32_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	nwant = want;
	if (ndone >= nwant)
		return;
	evtimer_add(guard, &tv);
	event_base_dispatch(base);
	evtimer_del(guard);
}

/* Run the loop for ms, whatever happens. */
static void
spin(uint32_t ms)
{
	run(1 << 30, ms);
}

static int
on_head(void *arg, struct http_client_req *r, const struct http_msg *m)
{
	struct res *x = arg;

	x->status = m->status;
	x->version = http_client_req_version(r);
	return 0;
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct res *x = arg;

	(void)fd;
	(void)what;
	if (!x->done) {
		x->paused = false;
		http_client_req_pause(x->r, false);
	}
}

static int
on_body(void *arg, struct http_client_req *r, const char *p, size_t n)
{
	struct res *x = arg;
	size_t room = sizeof(x->body) - 1 - x->blen;

	if (x->paused)
		x->while_paused++;
	memcpy(x->body + x->blen, p, n < room ? n : room);
	x->blen += n < room ? n : room;
	x->body[x->blen] = '\0';
	x->total += n;
	x->hash = fnv(x->hash, p, n);
	if (x->pause_every != 0 && x->total >= x->next_pause) {
		struct timeval tv = { 0,
				      x->resume_us != 0 ? x->resume_us : 2000 };

		x->next_pause += x->pause_every;
		x->pauses++;
		x->paused = true;
		http_client_req_pause(r, true);
		if (x->resume == NULL)
			x->resume = evtimer_new(base, on_resume, x);
		evtimer_add(x->resume, &tv);
	}
	return 0;
}

static void
on_writable(void *arg, struct http_client_req *r)
{
	struct res *x = arg;
	static uint8_t buf[CHUNK];

	while (x->up_sent < x->up_total) {
		size_t n = x->up_total - x->up_sent < CHUNK
				   ? (size_t)(x->up_total - x->up_sent)
				   : CHUNK;
		int rc;

		for (size_t i = 0; i < n; i++)
			buf[i] = pat(x->up_sent + i);
		rc = http_client_req_write(r, buf, n);
		if (rc == -EAGAIN)
			return;
		ck_assert_int_eq(rc, 0);
		x->up_sent += n;
	}
	ck_assert_int_eq(http_client_req_end(r), 0);
}

static void
on_done(void *arg, struct http_client_req *r, int err)
{
	struct res *x = arg;

	(void)r;
	x->done = true;
	x->err = err;
	x->done_ms = now_ms();
	x->r = NULL;
	if (x->resume != NULL) {
		event_free(x->resume);
		x->resume = NULL;
	}
	if (++ndone >= nwant)
		event_base_loopbreak(base);
}

static const struct http_client_req_ops ops = {
	.on_head = on_head,
	.on_body = on_body,
	.on_writable = on_writable,
	.on_done = on_done,
};

static struct http_client_spec
spec(enum http_client_proto proto, uint16_t port, const char *method,
     const char *target)
{
	struct http_client_spec s = {
		.proto = proto,
		.port = port,
		.method = method,
		.target = target,
	};

	ck_assert_int_eq(lb_addr_parse("127.0.0.1", &s.addr), 0);
	return s;
}

static void
start(struct res *x, const struct http_client_spec *s)
{
	memset(x, 0, sizeof(*x));
	x->hash = FNV0;
	x->r = http_client_request(cl, s, &ops, x);
	ck_assert_ptr_nonnull(x->r);
}

static void
get(struct res *x, enum http_client_proto proto, uint16_t port,
    const char *target)
{
	struct http_client_spec s = spec(proto, port, "GET", target);

	start(x, &s);
}

static void
client_new(const struct http_client_opts *o)
{
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	guard = evtimer_new(base, on_guard, NULL);
	cl = http_client_new(base, o);
	ck_assert_ptr_nonnull(cl);
	ndone = 0;
}

static void
client_free(void)
{
	http_client_free(cl);
	cl = NULL;
	event_free(guard);
	event_base_free(base);
}

static const struct http_client_stats *
st(void)
{
	return http_client_stats(cl);
}

/* ---- scripted servers -------------------------------------------------- */

enum after {
	A_KEEP,	 /* send, read the next request */
	A_CLOSE, /* send, close */
	A_STALL, /* send, then neither answer nor close */
};

struct answer {
	const char *text; /* NULL: nothing */
	enum after after;
	size_t len;	   /* 0: strlen(text) */
	uint32_t delay_ms; /* before sending */
	/* and later, before the after step: then_len bytes */
	const char *then;
	size_t then_len;
};

struct script {
	int lfd;
	uint16_t port;
	pthread_t th;
	volatile bool stop;
	volatile int accepts, requests;
	struct answer (*answer)(int conn, int req);
	bool no_accept;
};

static struct script sc;
static char last_head[4096]; /* the head of the last request served */

static int
listener(uint16_t *port, int backlog)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, backlog), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Wait for fd readable, polling the stop flag. 1 readable, 0 stop. */
static int
wait_in(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t end = now_ms() + 20000;

	while (!sc.stop && now_ms() < end)
		if (poll(&p, 1, 20) > 0)
			return 1;
	return 0;
}

static void
serve(int fd, int conn)
{
	char buf[65536];
	size_t len = 0;

	for (;;) {
		char *e;
		ssize_t n;
		struct answer a;

		while ((e = memmem(buf, len, "\r\n\r\n", 4)) == NULL) {
			if (!wait_in(fd) || len == sizeof(buf))
				return;
			n = recv(fd, buf + len, sizeof(buf) - len, 0);
			if (n <= 0)
				return;
			len += (size_t)n;
		}
		snprintf(last_head, sizeof(last_head), "%.*s",
			 (int)(e + 4 - buf), buf);
		len -= (size_t)(e + 4 - buf);
		memmove(buf, e + 4, len);
		a = sc.answer(conn, sc.requests++);
		usleep(a.delay_ms * 1000);
		if (a.text != NULL &&
		    send(fd, a.text, a.len != 0 ? a.len : strlen(a.text),
			 MSG_NOSIGNAL) < 0)
			return;
		usleep(a.then != NULL ? a.delay_ms * 1000 : 0);
		if (a.then != NULL &&
		    send(fd, a.then, a.then_len, MSG_NOSIGNAL) < 0)
			return;
		if (a.after == A_CLOSE)
			return;
		if (a.after == A_STALL) {
			while (wait_in(fd) && recv(fd, buf, sizeof(buf), 0) > 0)
				;
			return;
		}
	}
}

static void *
script_main(void *arg)
{
	(void)arg;
	while (!sc.stop) {
		int fd;

		if (sc.no_accept || !wait_in(sc.lfd)) {
			usleep(10000);
			continue;
		}
		fd = accept(sc.lfd, NULL, NULL);
		if (fd < 0)
			continue;
		serve(fd, sc.accepts++);
		close(fd);
	}
	return NULL;
}

static void
script_start(struct answer (*answer)(int, int), bool no_accept)
{
	memset(&sc, 0, sizeof(sc));
	sc.answer = answer;
	sc.no_accept = no_accept;
	sc.lfd = listener(&sc.port, 16);
	ck_assert_int_eq(pthread_create(&sc.th, NULL, script_main, NULL), 0);
}

static void
script_stop(void)
{
	sc.stop = true;
	pthread_join(sc.th, NULL);
	close(sc.lfd);
}

static struct http_client_opts
fast_opts(void)
{
	struct http_client_opts o = http_client_default_opts;

	o.connect_timeout_ms = 300;
	o.head_timeout_ms = 300;
	o.read_timeout_ms = 300;
	return o;
}

#define OK_2 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

/* ---- scripted: errors -------------------------------------------------- */

static struct answer
ans_none(int conn, int req)
{
	(void)conn;
	(void)req;
	return (struct answer){ NULL, A_STALL };
}

START_TEST(test_head_timeout)
{
	struct http_client_opts o = fast_opts();
	struct res x;
	uint64_t t0;

	/* accepts, reads the request, never answers */
	script_start(ans_none, false);
	client_new(&o);
	t0 = now_ms();
	get(&x, HTTP_CLIENT_H1, sc.port, "/");
	run(1, 3000);
	ck_assert(x.done);
	ck_assert_int_eq(x.err, -ETIMEDOUT);
	ck_assert_uint_ge(now_ms() - t0, 290);
	ck_assert_uint_eq(st()->timeouts, 1);
	ck_assert_uint_eq(st()->connects, 1);
	ck_assert_uint_eq(st()->conns_open, 0); /* the connection went */
	client_free();
	script_stop();
}
END_TEST

static struct answer
ans_partial(int conn, int req)
{
	(void)conn;
	(void)req;
	return (struct answer){ "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"
				"\r\nabc",
				A_STALL };
}

START_TEST(test_read_timeout)
{
	struct http_client_opts o = fast_opts();
	struct res x;

	o.head_timeout_ms = 5000;
	script_start(ans_partial, false);
	client_new(&o);
	get(&x, HTTP_CLIENT_H1, sc.port, "/");
	run(1, 3000);
	ck_assert(x.done);
	ck_assert_int_eq(x.status, 200);
	ck_assert_str_eq(x.body, "abc");
	ck_assert_int_eq(x.err, -ETIMEDOUT);
	ck_assert_uint_eq(st()->timeouts, 1);
	client_free();
	script_stop();
}
END_TEST

/* A body that stops half-way, with a long read-idle timeout: the total
 * deadline ends it. */
START_TEST(test_total_timeout)
{
	struct http_client_opts o = fast_opts();
	struct res x;
	uint64_t t0;

	o.total_timeout_ms = 700;
	o.head_timeout_ms = 5000;
	o.read_timeout_ms = 5000;
	script_start(ans_partial, false);
	client_new(&o);
	t0 = now_ms();
	get(&x, HTTP_CLIENT_H1, sc.port, "/");
	run(1, 3000);
	ck_assert(x.done);
	ck_assert_int_eq(x.status, 200);
	ck_assert_int_eq(x.err, -ETIMEDOUT);
	ck_assert_uint_ge(x.done_ms - t0, 690);
	ck_assert_uint_lt(x.done_ms - t0, 2000);
	ck_assert_uint_eq(st()->timeouts, 1);
	client_free();
	script_stop();
}
END_TEST

START_TEST(test_connect_timeout)
{
	struct http_client_opts o = fast_opts();
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fill[8], nfill = 0;
	uint16_t port;
	int lfd = listener(&port, 0);
	struct res x;

	/* fill the accept queue of a listener that never accepts: further
	 * SYNs are dropped and the client's connect hangs */
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	a.sin_port = htons(port);
	for (; nfill < 8; nfill++) {
		fill[nfill] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fill[nfill], (struct sockaddr *)&a, sizeof(a));
	}
	usleep(100000);
	client_new(&o);
	get(&x, HTTP_CLIENT_H1, port, "/");
	run(1, 3000);
	ck_assert(x.done);
	ck_assert_int_eq(x.err, -ETIMEDOUT);
	ck_assert_uint_eq(st()->connect_errors, 1);
	ck_assert_uint_eq(st()->timeouts, 1);
	ck_assert_uint_eq(st()->connects, 0);
	client_free();
	while (nfill-- > 0)
		close(fill[nfill]);
	close(lfd);
}
END_TEST

START_TEST(test_refused)
{
	uint16_t port;
	int lfd = listener(&port, 1);
	struct res x;

	close(lfd); /* nothing listens there now */
	client_new(NULL);
	get(&x, HTTP_CLIENT_H1, port, "/");
	run(1, 3000);
	ck_assert(x.done);
	ck_assert_int_eq(x.err, -ECONNREFUSED);
	ck_assert_uint_eq(st()->connect_errors, 1);
	client_free();
}
END_TEST

/* conn 0: a good answer, then the bad one of the case; later conns good */
static const char *bad_text;

static struct answer
ans_bad_second(int conn, int req)
{
	(void)req;
	if (conn == 0 && sc.requests == 2)
		return (struct answer){ bad_text, A_KEEP };
	return (struct answer){ OK_2, A_KEEP };
}

static void
bad_case(const char *text, int want_err)
{
	struct res x;

	bad_text = text;
	script_start(ans_bad_second, false);
	client_new(NULL);
	get(&x, HTTP_CLIENT_H1, sc.port, "/1");
	run(1, 3000);
	ck_assert_int_eq(x.err, 0);
	ck_assert_str_eq(x.body, "ok");
	ndone = 0;
	get(&x, HTTP_CLIENT_H1, sc.port, "/2");
	run(1, 3000);
	ck_assert(x.done);
	ck_assert_int_eq(x.err, want_err);
	ck_assert_uint_eq(st()->reuses, 1); /* it went on the pooled conn */
	ck_assert_uint_eq(st()->bad_responses, 1);
	ck_assert_uint_eq(st()->conns_open, 0); /* ... which closed */
	/* the next request gets a fresh connection and a good answer */
	ndone = 0;
	get(&x, HTTP_CLIENT_H1, sc.port, "/3");
	run(1, 3000);
	ck_assert_int_eq(x.err, 0);
	ck_assert_str_eq(x.body, "ok");
	ck_assert_uint_eq(st()->connects, 2);
	ck_assert_uint_eq(st()->reuses, 1);
	ck_assert_uint_eq(st()->retries, 0);
	client_free();
	script_stop();
	ck_assert_int_eq(sc.accepts, 2);
}

START_TEST(test_two_content_length)
{
	bad_case("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: "
		 "30\r\n\r\nok",
		 -EBADMSG);
}
END_TEST

START_TEST(test_te_and_cl)
{
	bad_case("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: "
		 "chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		 -EBADMSG);
}
END_TEST

START_TEST(test_garbage)
{
	bad_case("HTTP/1.1 2x0 OK\r\n\r\n", -EBADMSG);
}
END_TEST

START_TEST(test_head_too_large)
{
	static char text[40000];

	snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\nX-Big: %0*d\r\n\r\n",
		 30000, 7);
	bad_case(text, -EMSGSIZE);
}
END_TEST

START_TEST(test_body_too_large)
{
	struct http_client_opts o = http_client_default_opts;
	struct res x;

	o.max_body_bytes = 100;
	bad_text = "HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n";
	script_start(ans_bad_second, false);
	client_new(&o);
	get(&x, HTTP_CLIENT_H1, sc.port, "/1");
	run(1, 3000);
	ndone = 0;
	get(&x, HTTP_CLIENT_H1, sc.port, "/2");
	run(1, 3000);
	ck_assert_int_eq(x.err, -EFBIG);
	ck_assert_uint_eq(st()->bad_responses, 1);
	ck_assert_uint_eq(st()->conns_open, 0);
	client_free();
	script_stop();
}
END_TEST

/* conn 0 answers its first request, then closes on the second without a
 * byte (the stale keep-alive race); later conns answer. */
static struct answer
ans_stale(int conn, int req)
{
	(void)req;
	if (conn == 0 && sc.requests == 2)
		return (struct answer){ NULL, A_CLOSE };
	return (struct answer){ OK_2, A_KEEP };
}

static void
stale_case(const char *method, const void *body, int64_t body_len, int want_err,
	   unsigned want_retries)
{
	struct http_client_spec s;
	struct res x;

	script_start(ans_stale, false);
	client_new(NULL);
	get(&x, HTTP_CLIENT_H1, sc.port, "/1");
	run(1, 3000);
	ck_assert_int_eq(x.err, 0);
	ndone = 0;
	s = spec(HTTP_CLIENT_H1, sc.port, method, "/2");
	s.body = body;
	s.body_len = body_len;
	start(&x, &s);
	run(1, 3000);
	ck_assert(x.done);
	ck_assert_int_eq(x.err, want_err);
	ck_assert_uint_eq(st()->retries, want_retries);
	ck_assert_uint_eq(st()->reuses, 1);
	if (want_err == 0) {
		ck_assert_str_eq(x.body, "ok");
		ck_assert_uint_eq(st()->connects, 2);
	}
	client_free();
	script_stop();
}

START_TEST(test_retry_idempotent)
{
	stale_case("GET", NULL, 0, 0, 1);
}
END_TEST

START_TEST(test_no_retry_post)
{
	stale_case("POST", "abc", 3, -ECONNRESET, 0);
}
END_TEST

START_TEST(test_bad_spec)
{
	struct http_header h[] = { { "X-A", "b\r\nInjected: 1" } };
	struct http_header cl_h[] = { { "Content-Length", "5" } };
	struct http_client_spec s;
	struct res x;

	client_new(NULL);
	s = spec(HTTP_CLIENT_H1, 80, "GET", "/");
	s.headers = h;
	s.nheaders = 1;
	ck_assert_ptr_null(http_client_request(cl, &s, &ops, &x));
	ck_assert_int_eq(errno, EINVAL);
	s.headers = cl_h;
	ck_assert_ptr_null(http_client_request(cl, &s, &ops, &x));
	ck_assert_int_eq(errno, EINVAL);
	s = spec(HTTP_CLIENT_H1, 80, "G ET", "/");
	ck_assert_ptr_null(http_client_request(cl, &s, &ops, &x));
	s = spec(HTTP_CLIENT_H1, 80, "GET", "/a b");
	ck_assert_ptr_null(http_client_request(cl, &s, &ops, &x));
	ck_assert_uint_eq(st()->requests, 0);
	client_free();
	/* a CA file that cannot be read */
	{
		struct http_client_opts o = http_client_default_opts;
		struct event_base *b = event_base_new();

		o.ca_file = "/nonexistent/ca.pem";
		ck_assert_ptr_null(http_client_new(b, &o));
		ck_assert_int_eq(errno, EPROTO);
		ck_assert_ptr_null(http_client_new(NULL, NULL));
		ck_assert_int_eq(errno, EINVAL);
		event_base_free(b);
	}
}
END_TEST

/* ---- scripted: HTTP/2 ---------------------------------------------------
 * The client's preface ("PRI * HTTP/2.0\r\n\r\n...") is the "head" the
 * scripted server answers, 100 ms later (the request's HEADERS went out
 * by then): frames built here, HPACK by hand. */

static char h2buf[8192];
static size_t h2len;

static void
h2_frame_to(char *buf, size_t cap, size_t *len, uint8_t type, uint8_t flags,
	    uint32_t sid, const void *p, size_t n)
{
	uint8_t *b = (uint8_t *)buf + *len;

	ck_assert_uint_le(*len + 9 + n, cap);
	b[0] = (uint8_t)(n >> 16);
	b[1] = (uint8_t)(n >> 8);
	b[2] = (uint8_t)n;
	b[3] = type;
	b[4] = flags;
	b[5] = (uint8_t)(sid >> 24);
	b[6] = (uint8_t)(sid >> 16);
	b[7] = (uint8_t)(sid >> 8);
	b[8] = (uint8_t)sid;
	if (n > 0)
		memcpy(b + 9, p, n);
	*len += 9 + n;
}

static void
h2_frame(uint8_t type, uint8_t flags, uint32_t sid, const void *p, size_t n)
{
	h2_frame_to(h2buf, sizeof(h2buf), &h2len, type, flags, sid, p, n);
}

enum { F_DATA = 0, F_HEADERS = 1, F_SETTINGS = 4 };
enum { END_STREAM = 1, END_HEADERS = 4, SETTINGS_ACK = 1 };

static struct answer
ans_h2(int conn, int req)
{
	(void)conn;
	(void)req;
	return (struct answer){ h2buf, A_STALL, h2len, 100 };
}

static void
h2_case(int want_err)
{
	struct http_client_opts o = fast_opts();
	struct res x;

	o.max_head_bytes = 2048;
	script_start(ans_h2, false);
	client_new(&o);
	get(&x, HTTP_CLIENT_H2C, sc.port, "/");
	run(1, 3000);
	ck_assert(x.done);
	ck_assert_int_eq(x.err, want_err);
	ck_assert_uint_eq(st()->bad_responses, 1);
	ck_assert_uint_eq(st()->h2_streams, 1);
	client_free();
	script_stop();
}

static char h2then[1024];
static size_t h2then_len;

static struct answer
ans_h2_then(int conn, int req)
{
	(void)conn;
	(void)req;
	return (struct answer){
		h2buf, A_STALL, h2len, 100, h2then, h2then_len
	};
}

static void
h2_begin(void)
{
	h2len = 0;
	h2_frame(F_SETTINGS, 0, 0, NULL, 0);
	h2_frame(F_SETTINGS, SETTINGS_ACK, 0, NULL, 0);
}

/* content-length: 2 with 7 bytes of DATA */
START_TEST(test_h2_length_mismatch)
{
	/* :status 200 (static 8); content-length (static 28) "2" */
	static const uint8_t hd[] = { 0x88, 0x0f, 0x0d, 0x01, '2' };

	h2_begin();
	h2_frame(F_HEADERS, END_HEADERS, 1, hd, sizeof(hd));
	h2_frame(F_DATA, END_STREAM, 1, "toolong", 7);
	h2_case(-EBADMSG);
}
END_TEST

/* a 3000-byte header value over max_head_bytes 2048 */
START_TEST(test_h2_head_too_large)
{
	uint8_t hd[3100];
	size_t n = 0;

	hd[n++] = 0x88;
	hd[n++] = 0x00; /* literal, new name */
	hd[n++] = 5;
	memcpy(hd + n, "x-big", 5);
	n += 5;
	hd[n++] = 0x7f; /* 3000 = 127 + 2873: 0xb9 0x16 */
	hd[n++] = 0xb9;
	hd[n++] = 0x16;
	memset(hd + n, 'v', 3000);
	n += 3000;
	h2_begin();
	h2_frame(F_HEADERS, END_HEADERS | END_STREAM, 1, hd, n);
	h2_case(-EMSGSIZE);
}
END_TEST

/* not HTTP/2 at all */
START_TEST(test_h2_garbage)
{
	h2len = 0;
	memcpy(h2buf, "HTTP/1.1 200 OK\r\n\r\n", 19);
	h2len = 19;
	h2_case(-EBADMSG);
}
END_TEST

/* The server refuses stream 1 (REFUSED_STREAM: not processed): the GET is
 * sent again, once, on stream 3, which the server answers; a POST is not. */
static void
h2_refused_case(const char *method, int want_err, unsigned want_retries)
{
	static const uint8_t refused[] = { 0, 0, 0, 7 };
	static const uint8_t s200 = 0x88;
	struct http_client_spec sp;
	struct res x;

	h2_begin();
	h2_frame(3 /* RST_STREAM */, 0, 1, refused, sizeof(refused));
	/* the answer to stream 3, 100 ms later */
	h2then_len = 0;
	h2_frame_to(h2then, sizeof(h2then), &h2then_len, F_HEADERS,
		    END_HEADERS | END_STREAM, 3, &s200, 1);
	script_start(ans_h2_then, false);
	client_new(NULL);
	sp = spec(HTTP_CLIENT_H2C, sc.port, method, "/");
	start(&x, &sp);
	run(1, 3000);
	ck_assert(x.done);
	ck_assert_int_eq(x.err, want_err);
	ck_assert_uint_eq(st()->retries, want_retries);
	ck_assert_uint_eq(st()->h2_streams, 1 + want_retries);
	ck_assert_uint_eq(st()->connects, 1);
	if (want_err == 0)
		ck_assert_int_eq(x.status, 200);
	client_free();
	script_stop();
}

START_TEST(test_h2_refused_retry)
{
	h2_refused_case("GET", 0, 1);
}
END_TEST

START_TEST(test_h2_refused_post)
{
	h2_refused_case("POST", -ECONNRESET, 0);
}
END_TEST

/* Cancel: no callback follows; an HTTP/1.1 request's connection goes. */
START_TEST(test_cancel_h1)
{
	struct http_client_opts o = fast_opts();
	struct res x, y;

	o.head_timeout_ms = 5000;
	script_start(ans_none, false);
	client_new(&o);
	get(&x, HTTP_CLIENT_H1, sc.port, "/");
	get(&y, HTTP_CLIENT_H1, sc.port, "/");
	http_client_req_cancel(y.r); /* still queued */
	spin(200);		     /* x is sent, waits for its head */
	ck_assert_uint_eq(st()->connects, 1);
	ck_assert_uint_eq(st()->conns_open, 1);
	http_client_req_cancel(x.r);
	ck_assert_uint_eq(st()->conns_open, 0);
	spin(200);
	ck_assert(!x.done);
	ck_assert(!y.done);
	ck_assert_uint_eq(st()->failed, 2);
	client_free();
	script_stop();
}
END_TEST

/* ---- scripted: trailers and upgrades ------------------------------------ */

struct xres {
	struct res r;
	char trailers[512]; /* "name=value;" each */
	bool head_ended;    /* in on_head */
	char after[64];	    /* upgrade: what followed the 101 */
	bool upgraded;
};

static int
x_on_head(void *arg, struct http_client_req *r, const struct http_msg *m)
{
	struct xres *x = arg;

	x->head_ended = http_client_req_head_ended(r);
	return on_head(&x->r, r, m);
}

static int
x_on_body(void *arg, struct http_client_req *r, const char *p, size_t n)
{
	return on_body(&((struct xres *)arg)->r, r, p, n);
}

static void
x_on_done(void *arg, struct http_client_req *r, int err)
{
	struct xres *x = arg;
	const struct http_header *tr;
	size_t n, len = 0;

	tr = http_client_req_trailers(r, &n);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(x->trailers + len,
					sizeof(x->trailers) - len, "%s=%s;",
					tr[i].name, tr[i].value);
	on_done(&x->r, r, err);
}

static void
x_on_upgrade(void *arg, struct http_client_req *r, struct bufferevent *bev)
{
	struct xres *x = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);

	(void)r;
	x->upgraded = true;
	if (n >= sizeof(x->after))
		n = sizeof(x->after) - 1;
	evbuffer_remove(in, x->after, n);
	x->after[n] = '\0';
	bufferevent_free(bev);
}

static const struct http_client_req_ops xops = {
	.on_head = x_on_head,
	.on_body = x_on_body,
	.on_done = x_on_done,
	.on_upgrade = x_on_upgrade,
};

static void
xstart(struct xres *x, const struct http_client_spec *s)
{
	memset(x, 0, sizeof(*x));
	x->r.hash = FNV0;
	x->r.r = http_client_request(cl, s, &xops, x);
	ck_assert_ptr_nonnull(x->r.r);
}

static const char *up_answer;

static struct answer
ans_up(int conn, int req)
{
	(void)conn;
	(void)req;
	return (struct answer){ up_answer, A_STALL };
}

/* An upgrade request, answered with text: its result. */
static void
up_case(const char *text, struct xres *x)
{
	static const struct http_header h = { "Upgrade", "echo" };
	struct http_client_spec sp;

	up_answer = text;
	script_start(ans_up, false);
	client_new(NULL);
	sp = spec(HTTP_CLIENT_H1, sc.port, "GET", "/ws");
	sp.headers = &h;
	sp.nheaders = 1;
	sp.upgrade = true;
	xstart(x, &sp);
	run(1, 3000);
	ck_assert(x->r.done);
	ck_assert_msg(strstr(last_head, "GET /ws HTTP/1.1\r\n") != NULL &&
			      strstr(last_head, "upgrade: echo\r\n") != NULL &&
			      strstr(last_head, "Connection: Upgrade\r\n") !=
				      NULL,
		      "%s", last_head);
}

START_TEST(test_upgrade)
{
	struct xres x;

	up_case("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
		"Upgrade: echo\r\n\r\nAFTER",
		&x);
	ck_assert_int_eq(x.r.err, 0);
	ck_assert_int_eq(x.r.status, 101);
	ck_assert(x.upgraded);
	ck_assert_str_eq(x.after, "AFTER");
	/* the connection went with the bufferevent, not to the pool */
	ck_assert_uint_eq(st()->conns_open, 0);
	ck_assert_uint_eq(st()->bad_responses, 0);
	client_free();
	script_stop();
}
END_TEST

START_TEST(test_upgrade_no_header)
{
	struct xres x;

	up_case("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
		"\r\nAFTER",
		&x);
	ck_assert_int_eq(x.r.err, -EBADMSG);
	ck_assert(!x.upgraded);
	ck_assert_uint_eq(st()->bad_responses, 1);
	ck_assert_uint_eq(st()->conns_open, 0);
	client_free();
	script_stop();
}
END_TEST

START_TEST(test_upgrade_refused)
{
	struct xres x;

	up_case("HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope", &x);
	ck_assert_int_eq(x.r.err, 0);
	ck_assert_int_eq(x.r.status, 403);
	ck_assert_str_eq(x.r.body, "nope");
	ck_assert(!x.upgraded);
	ck_assert_uint_eq(st()->conns_open, 0); /* never pooled */
	client_free();
	script_stop();
}
END_TEST

START_TEST(test_upgrade_spec)
{
	static const struct http_header up = { "Upgrade", "echo" };
	static const struct http_header te[] = { { "te", "trailers" },
						 { "te", "gzip" } };
	struct http_client_spec sp;
	struct res x;

	client_new(NULL);
	sp = spec(HTTP_CLIENT_H1, 80, "GET", "/");
	sp.upgrade = true; /* no Upgrade header */
	errno = 0;
	ck_assert_ptr_null(http_client_request(cl, &sp, &ops, &x));
	ck_assert_int_eq(errno, EINVAL);
	sp.headers = &up;
	sp.nheaders = 1;
	sp.proto = HTTP_CLIENT_H2C; /* HTTP/1.1 only */
	ck_assert_ptr_null(http_client_request(cl, &sp, &ops, &x));
	sp.proto = HTTP_CLIENT_H1;
	sp.method = "POST";
	ck_assert_ptr_null(http_client_request(cl, &sp, &ops, &x));
	sp.method = "GET";
	sp.upgrade = false; /* Upgrade without an upgrade */
	ck_assert_ptr_null(http_client_request(cl, &sp, &ops, &x));
	/* te: trailers is the caller's; no other TE */
	sp.headers = &te[1];
	ck_assert_ptr_null(http_client_request(cl, &sp, &ops, &x));
	sp.headers = &te[0];
	x.r = http_client_request(cl, &sp, &ops, &x);
	ck_assert_ptr_nonnull(x.r);
	http_client_req_cancel(x.r);
	client_free();
}
END_TEST

/* literal header, new name, no Huffman (values under 127 bytes) */
static size_t
hpack_lit(uint8_t *b, const char *name, const char *value)
{
	size_t n = 0, nl = strlen(name), vl = strlen(value);

	b[n++] = 0x00;
	b[n++] = (uint8_t)nl;
	memcpy(b + n, name, nl);
	n += nl;
	b[n++] = (uint8_t)vl;
	memcpy(b + n, value, vl);
	return n + vl;
}

/* HEADERS, DATA, HEADERS (trailers): kept for on_done */
START_TEST(test_h2_trailers)
{
	uint8_t tr[256];
	size_t n = 0;
	struct xres x;
	struct http_client_spec sp;
	static const uint8_t s200 = 0x88;

	n += hpack_lit(tr + n, "grpc-status", "5");
	n += hpack_lit(tr + n, "grpc-message", "not here");
	h2_begin();
	h2_frame(F_HEADERS, END_HEADERS, 1, &s200, 1);
	h2_frame(F_DATA, 0, 1, "hi", 2);
	h2_frame(F_HEADERS, END_HEADERS | END_STREAM, 1, tr, n);
	script_start(ans_h2, false);
	client_new(NULL);
	sp = spec(HTTP_CLIENT_H2C, sc.port, "GET", "/");
	xstart(&x, &sp);
	run(1, 3000);
	ck_assert(x.r.done);
	ck_assert_int_eq(x.r.err, 0);
	ck_assert_str_eq(x.r.body, "hi");
	ck_assert(!x.head_ended);
	ck_assert_str_eq(x.trailers, "grpc-status=5;grpc-message=not here;");
	client_free();
	script_stop();
}
END_TEST

/* trailers-only: one HEADERS frame with END_STREAM */
START_TEST(test_h2_head_ended)
{
	uint8_t hd[256];
	size_t n = 0;
	struct xres x;
	struct http_client_spec sp;

	hd[n++] = 0x88;
	n += hpack_lit(hd + n, "grpc-status", "14");
	h2_begin();
	h2_frame(F_HEADERS, END_HEADERS | END_STREAM, 1, hd, n);
	script_start(ans_h2, false);
	client_new(NULL);
	sp = spec(HTTP_CLIENT_H2C, sc.port, "GET", "/");
	xstart(&x, &sp);
	run(1, 3000);
	ck_assert(x.r.done);
	ck_assert_int_eq(x.r.err, 0);
	ck_assert(x.head_ended);
	ck_assert_str_eq(x.trailers, "");
	client_free();
	script_stop();
}
END_TEST

/* 65 trailers: over HTTP_MAX_HEADERS, the request fails */
START_TEST(test_h2_trailers_too_many)
{
	static uint8_t tr[4096];
	size_t n = 0;
	struct xres x;
	struct http_client_spec sp;
	static const uint8_t s200 = 0x88;
	char name[16];

	for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++) {
		snprintf(name, sizeof(name), "x-t%d", i);
		n += hpack_lit(tr + n, name, "v");
	}
	h2_begin();
	h2_frame(F_HEADERS, END_HEADERS, 1, &s200, 1);
	h2_frame(F_HEADERS, END_HEADERS | END_STREAM, 1, tr, n);
	script_start(ans_h2, false);
	client_new(NULL);
	sp = spec(HTTP_CLIENT_H2C, sc.port, "GET", "/");
	xstart(&x, &sp);
	run(1, 3000);
	ck_assert(x.r.done);
	ck_assert_int_eq(x.r.err, -EMSGSIZE);
	ck_assert_uint_eq(st()->bad_responses, 1);
	client_free();
	script_stop();
}
END_TEST

static Suite *
script_suite(void)
{
	Suite *s = suite_create("http_client");
	TCase *t = tcase_create("timeouts");

	tcase_add_test(t, test_head_timeout);
	tcase_add_test(t, test_read_timeout);
	tcase_add_test(t, test_total_timeout);
	tcase_add_test(t, test_connect_timeout);
	tcase_add_test(t, test_refused);
	tcase_add_test(t, test_cancel_h1);
	suite_add_tcase(s, t);
	t = tcase_create("bad_responses");
	tcase_add_test(t, test_two_content_length);
	tcase_add_test(t, test_te_and_cl);
	tcase_add_test(t, test_garbage);
	tcase_add_test(t, test_head_too_large);
	tcase_add_test(t, test_body_too_large);
	tcase_add_test(t, test_bad_spec);
	suite_add_tcase(s, t);
	t = tcase_create("h2_bad_responses");
	tcase_add_test(t, test_h2_length_mismatch);
	tcase_add_test(t, test_h2_head_too_large);
	tcase_add_test(t, test_h2_garbage);
	suite_add_tcase(s, t);
	t = tcase_create("retry");
	tcase_add_test(t, test_retry_idempotent);
	tcase_add_test(t, test_no_retry_post);
	tcase_add_test(t, test_h2_refused_retry);
	tcase_add_test(t, test_h2_refused_post);
	suite_add_tcase(s, t);
	t = tcase_create("protocols");
	tcase_add_test(t, test_upgrade);
	tcase_add_test(t, test_upgrade_no_header);
	tcase_add_test(t, test_upgrade_refused);
	tcase_add_test(t, test_upgrade_spec);
	tcase_add_test(t, test_h2_trailers);
	tcase_add_test(t, test_h2_head_ended);
	tcase_add_test(t, test_h2_trailers_too_many);
	suite_add_tcase(s, t);
	return s;
}

/* ---- nginx ------------------------------------------------------------- */

static char dir[64];
static pid_t nginx_pid;
static uint16_t p_h1, p_h2c, p_tls, p_tls1, p_short1, p_short2;
static uint64_t big_hash;
static char ca_good[128], ca_wrong[128];

static uint16_t
free_port(void)
{
	uint16_t port;
	int fd = listener(&port, 1);

	close(fd);
	return port;
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

static bool
port_up(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool up;

	a.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	up = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return up;
}

static void
write_big(const char *path)
{
	static uint8_t buf[CHUNK];
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	big_hash = FNV0;
	for (uint64_t off = 0; off < BIG; off += CHUNK) {
		for (size_t i = 0; i < CHUNK; i++)
			buf[i] = pat(off + i);
		big_hash = fnv(big_hash, buf, CHUNK);
		ck_assert_uint_eq(fwrite(buf, 1, CHUNK, f), CHUNK);
	}
	ck_assert_int_eq(fclose(f), 0);
}

static void
nginx_start(void)
{
	char path[128];
	FILE *f;
	bool echo = access(ECHO_MOD, R_OK) == 0;

	snprintf(dir, sizeof(dir), "/tmp/test_http_client.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	sh("mkdir -p %s/www/up %s/tmp", dir, dir);
	/* a CA-less self-signed certificate for localhost and 127.0.0.1, and
	 * another one that did not sign it (the wrong CA) */
	sh("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
	   "/CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
	   "-keyout %s/key.pem -out %s/cert.pem 2>/dev/null",
	   dir, dir);
	sh("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
	   "/CN=localhost -addext subjectAltName=DNS:localhost "
	   "-keyout %s/other.key -out %s/other.pem 2>/dev/null",
	   dir, dir);
	snprintf(ca_good, sizeof(ca_good), "%s/cert.pem", dir);
	snprintf(ca_wrong, sizeof(ca_wrong), "%s/other.pem", dir);
	snprintf(path, sizeof(path), "%s/www/big", dir);
	write_big(path);
	sh("head -c %d %s > %s/www/small", SMALL, path, dir);
	p_h1 = free_port();
	p_h2c = free_port();
	p_tls = free_port();
	p_tls1 = free_port();
	p_short1 = free_port();
	p_short2 = free_port();
	snprintf(path, sizeof(path), "%s/nginx.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"%s\n"
		"daemon off; master_process off; worker_processes 1;\n"
		"pid %s/nginx.pid; error_log %s/error.log info;\n"
		"events { worker_connections 256; }\n"
		"http {\n"
		" access_log %s/access.log;\n"
		" client_body_temp_path %s/tmp; proxy_temp_path %s/tmp;\n"
		" fastcgi_temp_path %s/tmp; uwsgi_temp_path %s/tmp;\n"
		" scgi_temp_path %s/tmp;\n"
		" keepalive_requests 1000; keepalive_timeout 60s;\n"
		" server {\n"
		"  listen 127.0.0.1:%u;\n"
		"  listen 127.0.0.1:%u http2;\n"
		"  listen 127.0.0.1:%u ssl http2;\n"
		"  listen 127.0.0.1:%u ssl;\n" /* ALPN: http/1.1 only */
		"  ssl_certificate %s/cert.pem;\n"
		"  ssl_certificate_key %s/key.pem;\n"
		"  root %s/www;\n"
		"  location = /conn { default_type text/plain;\n"
		"   return 200 \"$connection $connection_requests\"; }\n"
		"  location = /sleep { default_type text/plain;\n"
		"   %s }\n"
		"  location /up/ { dav_methods PUT; client_max_body_size 64m; "
		"}\n"
		" }\n"
		/* a server that ends connections itself: after 2 requests
		 * (Connection: close; h2 GOAWAY) or 1 s idle */
		" server {\n"
		"  listen 127.0.0.1:%u;\n"
		"  listen 127.0.0.1:%u http2;\n"
		"  keepalive_requests 2; keepalive_timeout 1s;\n"
		"  root %s/www;\n"
		"  location = /conn { default_type text/plain;\n"
		"   return 200 \"$connection $connection_requests\"; }\n"
		" }\n"
		"}\n",
		echo ? "load_module " ECHO_MOD ";" : "", dir, dir, dir, dir,
		dir, dir, dir, dir, p_h1, p_h2c, p_tls, p_tls1, dir, dir, dir,
		echo ? "echo_sleep 0.3; echo -n \"$connection\";"
		     : "return 500;",
		p_short1, p_short2, dir);
	ck_assert_int_eq(fclose(f), 0);
	nginx_pid = fork();
	ck_assert_int_ge(nginx_pid, 0);
	if (nginx_pid == 0) {
		char err[128];

		snprintf(err, sizeof(err), "%s/error.log", dir);
		execl(NGINX, "nginx", "-e", err, "-p", dir, "-c", path,
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		if (port_up(p_h1) && port_up(p_h2c) && port_up(p_tls) &&
		    port_up(p_tls1) && port_up(p_short1) && port_up(p_short2))
			return;
		usleep(50000);
	}
	sh("cat %s/error.log >&2", dir);
	ck_abort_msg("nginx did not come up");
}

static void
nginx_stop(void)
{
	int status;

	if (nginx_pid > 0) {
		kill(nginx_pid, SIGTERM);
		waitpid(nginx_pid, &status, 0);
		nginx_pid = 0;
	}
	if (dir[0] != '\0' && getenv("KEEP") == NULL) {
		sh("rm -rf %s", dir);
		dir[0] = '\0';
	}
}

START_TEST(test_keepalive_reuse)
{
	struct res x[3];
	char first[64];

	client_new(NULL);
	for (int i = 0; i < 3; i++) {
		ndone = 0;
		get(&x[i], HTTP_CLIENT_H1, p_h1, "/conn");
		run(1, 3000);
		ck_assert_int_eq(x[i].err, 0);
		ck_assert_int_eq(x[i].status, 200);
		ck_assert_int_eq(x[i].version, 1);
	}
	/* nginx: one connection, its 1st, 2nd, 3rd request */
	snprintf(first, sizeof(first), "%.*s", (int)strcspn(x[0].body, " "),
		 x[0].body);
	for (int i = 0; i < 3; i++) {
		char want[80];

		snprintf(want, sizeof(want), "%s %d", first, i + 1);
		ck_assert_str_eq(x[i].body, want);
	}
	ck_assert_uint_eq(st()->connects, 1);
	ck_assert_uint_eq(st()->reuses, 2);
	ck_assert_uint_eq(st()->conns_open, 1); /* pooled, idle */
	client_free();
}
END_TEST

START_TEST(test_pool_limits)
{
	struct http_client_opts o = http_client_default_opts;
	struct res x[5];
	uint64_t t0;

	ck_assert_msg(access(ECHO_MOD, R_OK) == 0, "needs %s", ECHO_MOD);
	o.max_conns_per_host = 2;
	o.max_idle_per_host = 1;
	o.idle_timeout_ms = 300;
	client_new(&o);
	t0 = now_ms();
	for (int i = 0; i < 5; i++)
		get(&x[i], HTTP_CLIENT_H1, p_h1, "/sleep");
	run(5, 5000);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(x[i].err, 0);
	/* two connections took the five in turns: 3 rounds of 0.3 s */
	ck_assert_uint_eq(st()->connects, 2);
	ck_assert_uint_eq(st()->reuses, 3);
	ck_assert_uint_ge(now_ms() - t0, 850);
	/* one idle kept, the other closed: over max_idle_per_host */
	ck_assert_uint_eq(st()->conns_open, 1);
	ck_assert_uint_eq(st()->evictions, 1);
	spin(600); /* the idle one expires */
	ck_assert_uint_eq(st()->conns_open, 0);
	ck_assert_uint_eq(st()->evictions, 2);
	client_free();
}
END_TEST

START_TEST(test_h2c_multiplex)
{
	struct res x[6];
	uint64_t t0;

	ck_assert_msg(access(ECHO_MOD, R_OK) == 0, "needs %s", ECHO_MOD);
	client_new(NULL);
	t0 = now_ms();
	for (int i = 0; i < 6; i++)
		get(&x[i], HTTP_CLIENT_H2C, p_h2c, "/sleep");
	run(6, 5000);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(x[i].err, 0);
		ck_assert_int_eq(x[i].status, 200);
		ck_assert_int_eq(x[i].version, 2);
		/* nginx's $connection: the same for all six */
		ck_assert_str_eq(x[i].body, x[0].body);
	}
	/* at once, not one after another (6 x 0.3 s) */
	ck_assert_uint_lt(now_ms() - t0, 1200);
	ck_assert_uint_eq(st()->connects, 1);
	ck_assert_uint_eq(st()->h2_conns, 1);
	ck_assert_uint_eq(st()->h2_streams, 6);
	client_free();
}
END_TEST

START_TEST(test_tls_alpn_h2)
{
	struct http_client_opts o = http_client_default_opts;
	struct http_client_spec s;
	struct res x[3];

	o.ca_file = ca_good;
	client_new(&o);
	for (int i = 0; i < 3; i++) {
		s = spec(HTTP_CLIENT_TLS, p_tls, "GET", "/conn");
		s.authority = "localhost";
		start(&x[i], &s);
	}
	run(3, 5000);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(x[i].err, 0);
		ck_assert_int_eq(x[i].version, 2); /* ALPN picked h2 */
	}
	ck_assert_uint_eq(st()->connects, 1);
	ck_assert_uint_eq(st()->tls_errors, 0);
	/* by address: the certificate names 127.0.0.1 too */
	ndone = 0;
	get(&x[0], HTTP_CLIENT_TLS, p_tls, "/conn");
	run(1, 3000);
	ck_assert_int_eq(x[0].err, 0);
	client_free();
}
END_TEST

START_TEST(test_tls_alpn_h1)
{
	struct http_client_opts o = http_client_default_opts;
	struct http_client_spec s;
	struct res x[3];

	o.ca_file = ca_good;
	client_new(&o);
	for (int i = 0; i < 3; i++) {
		ndone = 0;
		s = spec(HTTP_CLIENT_TLS, p_tls1, "GET", "/conn");
		s.authority = "localhost";
		start(&x[i], &s);
		run(1, 3000);
		ck_assert_int_eq(x[i].err, 0);
		ck_assert_int_eq(x[i].version, 1); /* the server has no h2 */
	}
	ck_assert_uint_eq(st()->connects, 1); /* keep-alive over TLS */
	ck_assert_uint_eq(st()->reuses, 2);
	ck_assert_uint_eq(st()->h2_conns, 0);
	client_free();
}
END_TEST

/* nginx's $connection of a /conn answer ("N R"), and R. */
static long
conn_of(const struct res *x, long *nreq)
{
	char *e;
	long n = strtol(x->body, &e, 10);

	*nreq = strtol(e, NULL, 10);
	return n;
}

/* The server ends connections: after 2 requests, and when idle 1 s. The
 * client must not send on what the server closed (no error, no retry). */
static void
server_closes_case(enum http_client_proto proto, uint16_t port)
{
	struct res x[4];
	long c[4], n[4];

	client_new(NULL);
	for (int i = 0; i < 3; i++) {
		ndone = 0;
		get(&x[i], proto, port, "/conn");
		run(1, 3000);
		ck_assert_int_eq(x[i].err, 0);
		ck_assert_int_eq(x[i].version, proto == HTTP_CLIENT_H1 ? 1 : 2);
		c[i] = conn_of(&x[i], &n[i]);
	}
	/* requests 1, 2 on one connection; the 3rd on a new one */
	ck_assert_int_eq(c[0], c[1]);
	ck_assert_int_eq(n[1], 2);
	ck_assert_int_ne(c[2], c[0]);
	ck_assert_int_eq(n[2], 1);
	ck_assert_uint_eq(st()->connects, 2);
	spin(1500); /* the server closes the idle one; the client sees it */
	ck_assert_uint_eq(st()->conns_open, 0);
	ndone = 0;
	get(&x[3], proto, port, "/conn");
	run(1, 3000);
	ck_assert_int_eq(x[3].err, 0);
	ck_assert_uint_eq(st()->connects, 3);
	ck_assert_uint_eq(st()->retries, 0);
	ck_assert_uint_eq(st()->failed, 0);
	client_free();
}

START_TEST(test_server_closes_h1)
{
	server_closes_case(HTTP_CLIENT_H1, p_short1);
}
END_TEST

START_TEST(test_server_closes_h2)
{
	server_closes_case(HTTP_CLIENT_H2C, p_short2);
}
END_TEST

/* The server sends a whole response, then GOAWAY and closes (its
 * keepalive_requests), while the caller holds the body paused: the body
 * is still delivered, whole, after the connection is gone. */
static void
paused_close_case(bool free_first)
{
	struct res x[2];
	uint64_t h = FNV0;
	uint8_t b;

	client_new(NULL);
	get(&x[0], HTTP_CLIENT_H2C, p_short2, "/small");
	x[0].pause_every = x[0].next_pause = 1; /* at the first piece */
	x[0].resume_us = 900000;		/* not before we say */
	get(&x[1], HTTP_CLIENT_H2C, p_short2, "/conn");
	run(1, 3000); /* /conn; /small waits, paused */
	ck_assert(x[1].done);
	ck_assert_int_eq(x[1].err, 0);
	ck_assert(!x[0].done);
	/* hold the pause until the server closed the connection */
	evtimer_del(x[0].resume);
	spin(500);
	ck_assert_uint_eq(st()->conns_open, 0);
	ck_assert(!x[0].done);
	if (free_first) {
		/* the client goes first: the request ends, cancelled */
		client_free();
		ck_assert(x[0].done);
		ck_assert_int_eq(x[0].err, -ECANCELED);
		return;
	}
	x[0].pause_every = 0;
	x[0].paused = false;
	http_client_req_pause(x[0].r, false);
	run(2, 3000);
	ck_assert_int_eq(x[0].err, 0);
	ck_assert_uint_eq(x[0].total, SMALL);
	for (uint64_t i = 0; i < SMALL; i++) {
		b = pat(i);
		h = fnv(h, &b, 1);
	}
	ck_assert_uint_eq(x[0].hash, h);
	client_free();
}

START_TEST(test_h2_paused_survives_close)
{
	paused_close_case(false);
}
END_TEST

START_TEST(test_h2_paused_then_free)
{
	paused_close_case(true);
}
END_TEST

/* Cancel an HTTP/2 stream: the session stays for the others and the next */
START_TEST(test_cancel_h2)
{
	struct res x[3];

	ck_assert_msg(access(ECHO_MOD, R_OK) == 0, "needs %s", ECHO_MOD);
	client_new(NULL);
	get(&x[0], HTTP_CLIENT_H2C, p_h2c, "/sleep");
	get(&x[1], HTTP_CLIENT_H2C, p_h2c, "/sleep");
	spin(100);
	ck_assert_uint_eq(st()->h2_streams, 2);
	http_client_req_cancel(x[1].r);
	run(1, 3000);
	ck_assert_int_eq(x[0].err, 0);
	ck_assert(!x[1].done);
	get(&x[2], HTTP_CLIENT_H2C, p_h2c, "/conn");
	run(2, 3000);
	ck_assert_int_eq(x[2].err, 0);
	ck_assert(!x[1].done);
	ck_assert_uint_eq(st()->connects, 1);
	ck_assert_uint_eq(st()->conns_open, 1);
	client_free();
}
END_TEST

START_TEST(test_h2_idle_expiry)
{
	struct http_client_opts o = http_client_default_opts;
	struct res x;

	o.idle_timeout_ms = 300;
	client_new(&o);
	get(&x, HTTP_CLIENT_H2C, p_h2c, "/conn");
	run(1, 3000);
	ck_assert_int_eq(x.err, 0);
	ck_assert_uint_eq(st()->conns_open, 1);
	spin(700);
	ck_assert_uint_eq(st()->conns_open, 0);
	ck_assert_uint_eq(st()->evictions, 1);
	client_free();
}
END_TEST

static void
tls_fail_case(const char *ca, const char *name)
{
	struct http_client_opts o = http_client_default_opts;
	struct http_client_spec s;
	struct res x;

	o.ca_file = ca;
	client_new(&o);
	s = spec(HTTP_CLIENT_TLS, p_tls, "GET", "/conn");
	s.sni = name;
	start(&x, &s);
	run(1, 3000);
	ck_assert(x.done);
	ck_assert_int_eq(x.err, -EPROTO);
	ck_assert_int_eq(x.status, 0);
	ck_assert_uint_eq(st()->tls_errors, 1);
	ck_assert_uint_eq(st()->connect_errors, 1);
	client_free();
}

START_TEST(test_tls_wrong_ca)
{
	tls_fail_case(ca_wrong, "localhost");
}
END_TEST

START_TEST(test_tls_wrong_name)
{
	tls_fail_case(ca_good, "other.example");
}
END_TEST

static void
download(enum http_client_proto proto, uint16_t port)
{
	struct http_client_opts o = http_client_default_opts;
	struct res x;

	o.ca_file = ca_good;
	client_new(&o);
	get(&x, proto, port, "/big");
	x.pause_every = x.next_pause = 1 << 20;
	run(1, 60000);
	ck_assert_int_eq(x.err, 0);
	ck_assert_int_eq(x.status, 200);
	ck_assert_uint_eq(x.total, BIG);
	ck_assert_uint_eq(x.hash, big_hash);
	ck_assert_uint_ge(x.pauses, 30);
	ck_assert_uint_eq(x.while_paused, 0);
	/* the client's buffers never held more than a window's worth */
	printf("download proto %d: in_high %llu bytes, %u pauses\n", proto,
	       (unsigned long long)st()->in_high, x.pauses);
	ck_assert_uint_gt(st()->in_high, 0);
	ck_assert_uint_le(st()->in_high, 1 << 20);
	client_free();
}

static void
upload(enum http_client_proto proto, uint16_t port, int64_t len,
       const char *name)
{
	struct http_client_opts o = http_client_default_opts;
	struct http_client_spec s;
	char target[64], path[160];
	uint64_t h = FNV0, total = 0;
	static uint8_t buf[CHUNK];
	struct res x;
	FILE *f;
	size_t n;

	o.ca_file = ca_good;
	client_new(&o);
	snprintf(target, sizeof(target), "/up/%s", name);
	s = spec(proto, port, "PUT", target);
	s.body_len = len;
	start(&x, &s);
	x.up_total = BIG;
	run(1, 60000);
	ck_assert_int_eq(x.err, 0);
	ck_assert_int_eq(x.status, 201);
	ck_assert_uint_eq(x.up_sent, BIG);
	printf("upload proto %d: out_high %llu bytes\n", proto,
	       (unsigned long long)st()->out_high);
	ck_assert_uint_gt(st()->out_high, 0);
	/* bounded by the high waters (request + connection), not the body */
	ck_assert_uint_le(st()->out_high, 4 * o.out_high_water);
	client_free();
	/* what nginx stored is what was sent */
	snprintf(path, sizeof(path), "%s/www/up/%s", dir, name);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		h = fnv(h, buf, n);
		total += n;
	}
	fclose(f);
	ck_assert_uint_eq(total, BIG);
	ck_assert_uint_eq(h, big_hash);
}

START_TEST(test_stream_h1)
{
	download(HTTP_CLIENT_H1, p_h1);
	upload(HTTP_CLIENT_H1, p_h1, -1, "chunked"); /* unknown length */
}
END_TEST

START_TEST(test_stream_h2)
{
	download(HTTP_CLIENT_H2C, p_h2c);
	upload(HTTP_CLIENT_H2C, p_h2c, (int64_t)BIG, "h2");
}
END_TEST

START_TEST(test_stream_tls)
{
	download(HTTP_CLIENT_TLS, p_tls);
}
END_TEST

START_TEST(test_body_limit_nginx)
{
	struct http_client_opts o = http_client_default_opts;
	struct res x[2];

	o.max_body_bytes = 1 << 20;
	client_new(&o);
	get(&x[0], HTTP_CLIENT_H1, p_h1, "/big");
	get(&x[1], HTTP_CLIENT_H2C, p_h2c, "/big");
	run(2, 5000);
	ck_assert_int_eq(x[0].err, -EFBIG);
	ck_assert_int_eq(x[1].err, -EFBIG);
	ck_assert_uint_eq(st()->bad_responses, 2);
	/* HEAD announces the length of a body that does not come */
	for (int i = 0; i < 2; i++) {
		struct http_client_spec s =
			spec(i == 0 ? HTTP_CLIENT_H1 : HTTP_CLIENT_H2C,
			     i == 0 ? p_h1 : p_h2c, "HEAD", "/big");

		start(&x[i], &s);
	}
	ndone = 0;
	run(2, 5000);
	ck_assert_int_eq(x[0].err, 0);
	ck_assert_int_eq(x[0].status, 200);
	ck_assert_int_eq(x[1].err, 0);
	ck_assert_int_eq(x[1].status, 200);
	ck_assert_uint_eq(x[0].total + x[1].total, 0);
	ck_assert_uint_eq(st()->bad_responses, 2);
	client_free();
}
END_TEST

static Suite *
nginx_suite(void)
{
	Suite *s = suite_create("http_client_nginx");
	TCase *t = tcase_create("nginx");

	tcase_add_unchecked_fixture(t, nginx_start, nginx_stop);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, test_keepalive_reuse);
	tcase_add_test(t, test_pool_limits);
	tcase_add_test(t, test_h2c_multiplex);
	tcase_add_test(t, test_tls_alpn_h2);
	tcase_add_test(t, test_tls_alpn_h1);
	tcase_add_test(t, test_server_closes_h1);
	tcase_add_test(t, test_server_closes_h2);
	tcase_add_test(t, test_h2_idle_expiry);
	tcase_add_test(t, test_cancel_h2);
	tcase_add_test(t, test_h2_paused_survives_close);
	tcase_add_test(t, test_h2_paused_then_free);
	tcase_add_test(t, test_tls_wrong_ca);
	tcase_add_test(t, test_tls_wrong_name);
	tcase_add_test(t, test_body_limit_nginx);
	tcase_add_test(t, test_stream_h1);
	tcase_add_test(t, test_stream_h2);
	tcase_add_test(t, test_stream_tls);
	suite_add_tcase(s, t);
	return s;
}

int
main(int argc, char **argv)
{
	bool nginx = argc > 1 && strcmp(argv[1], "nginx") == 0;
	SRunner *sr;
	int failed;

	if (nginx && access(NGINX, X_OK) != 0) {
		printf("SKIP: nginx is not installed (Debian package nginx)\n");
		return 77;
	}
	sr = srunner_create(nginx ? nginx_suite() : script_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
