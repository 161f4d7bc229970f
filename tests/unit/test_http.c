/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HTTP server (controlplane/http) over real sockets on 127.0.0.1: the
 * server's libevent loop runs in a thread of the test, the client is plain
 * blocking sockets. Suites: core (keep-alive, pipelining, chunked, 100-
 * continue, HEAD), smuggling (each case 400 and closed), limits (431, 413,
 * the absolute head deadline, connections per address and in total),
 * backpressure (a client that does not read), emfile (accept backoff).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "http.h"
#include "http_fdbudget.h"

#define STREAM_CHUNK (64 * 1024)
#define STREAM_TOTAL (64ull * 1024 * 1024)

static struct event_base *base;
static struct http_server *srv;
static pthread_t loop_thread;
static int stop_pipe[2];
static struct event *stop_ev;
static uint16_t port;

/* what the handler saw; written by the loop thread, read after a reply */
static volatile int nrequests;
static volatile size_t stream_written, stream_max_pending;
static char last_body[4096];

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the service ------------------------------------------------------- */

static void
stream_pump(struct http_req *r)
{
	static char chunk[STREAM_CHUNK];

	while (stream_written < STREAM_TOTAL) {
		int rc = http_resp_write(r, chunk, sizeof(chunk));
		size_t p = http_resp_pending(r);

		if (p > stream_max_pending)
			stream_max_pending = p;
		if (rc == -EAGAIN)
			return; /* on_drain calls again */
		if (rc < 0)
			return;
		stream_written += sizeof(chunk);
	}
	http_resp_end(r);
}

struct delayed {
	struct event *ev;
	struct http_req *r;
	char body[256];
};

static void
on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct delayed *d = arg;

	(void)fd;
	(void)what;
	http_resp_simple(d->r, 200, "text/plain", d->body, strlen(d->body));
	event_free(d->ev);
	free(d);
}

/* An upgraded connection: echo what comes; closed at the peer's EOF. */
static void
up_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}

static void
up_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	http_upgraded_free(bev);
}

/* /switch: to the "echo" protocol, or say why not. */
static void
upgrade(struct http_req *r)
{
	static const struct http_header h = { "Upgrade", "echo" };
	struct bufferevent *bev;
	char out[64];
	int rc = http_resp_upgrade(r, &h, 1, &bev);

	if (rc < 0) {
		snprintf(out, sizeof(out), "upgrade=%d", rc);
		http_resp_simple(r, 200, "text/plain", out, strlen(out));
		return;
	}
	bufferevent_setcb(bev, up_read, NULL, up_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	up_read(bev, NULL); /* the bytes that came before the 101 */
}

static void
on_request(void *arg, struct http_req *r)
{
	const struct http_msg *m = http_req_msg(r);
	char out[512];
	size_t blen;
	const char *body = http_req_body(r, &blen);

	(void)arg;
	nrequests++;
	snprintf(last_body, sizeof(last_body), "%.*s",
		 (int)(blen < sizeof(last_body) - 1 ? blen
						    : sizeof(last_body) - 1),
		 body);
	if (strcmp(m->path, "/stream") == 0) {
		http_resp_start(r, 200, NULL, 0, -1);
		stream_pump(r);
		return;
	}
	if (strcmp(m->path, "/switch") == 0) {
		upgrade(r);
		return;
	}
	if (strcmp(m->path, "/inject") == 0) {
		/* a header that would split the response is refused */
		static const struct http_header bad_value = { "X-A",
							      "b\r\nX-B: c" };
		static const struct http_header bad_name = { "X A", "b" };

		snprintf(out, sizeof(out), "inject=%d,%d",
			 http_resp_start(r, 200, &bad_value, 1, 0),
			 http_resp_start(r, 200, &bad_name, 1, 0));
		http_resp_simple(r, 200, "text/plain", out, strlen(out));
		return;
	}
	snprintf(out, sizeof(out), "%s %s body=%zu", m->method, m->path, blen);
	if (strcmp(m->path, "/bighead") == 0) {
		/* a head over the server's stack buffer for it */
		static char big[3001];
		struct http_header h[2] = { { "X-Big", big },
					    { "Content-Type", "text/plain" } };

		memset(big, 'a', sizeof(big) - 1);
		http_resp_start(r, 200, h, 2, (int64_t)strlen(out));
		http_resp_write(r, out, strlen(out));
		http_resp_end(r);
		return;
	}
	if (strcmp(m->path, "/slow") == 0) {
		/* answered later from a timer: the next answer must wait */
		struct delayed *d = calloc(1, sizeof(*d));
		struct timeval tv = { 0, 200 * 1000 };

		d->r = r;
		snprintf(d->body, sizeof(d->body), "%s", out);
		d->ev = evtimer_new(base, on_delay, d);
		evtimer_add(d->ev, &tv);
		return;
	}
	http_resp_simple(r, 200, "text/plain", out, strlen(out));
}

static void
on_drain(void *arg, struct http_req *r)
{
	(void)arg;
	if (strcmp(http_req_msg(r)->path, "/stream") == 0)
		stream_pump(r);
}

static const struct http_handler handler = {
	.on_request = on_request,
	.on_drain = on_drain,
};

/* Streaming request bodies: pause after the first piece, resume 300 ms
 * later from a timer. */
static volatile uint64_t body_got, body_pieces;
static struct event *resume_ev;

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_req_pause_body(arg, false);
}

static int
on_body(void *arg, struct http_req *r, const char *p, size_t n)
{
	struct timeval tv = { 0, 300 * 1000 };

	(void)arg;
	(void)p;
	body_got += n;
	if (body_pieces++ == 0) {
		http_req_pause_body(r, true);
		resume_ev = evtimer_new(base, on_resume, r);
		evtimer_add(resume_ev, &tv);
	}
	return 0;
}

static const struct http_handler stream_handler = {
	.on_request = on_request,
	.on_body = on_body,
};

static const struct http_handler *cur_handler = &handler;

/* ---- the server in a thread -------------------------------------------- */

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

static void *
loop_main(void *arg)
{
	(void)arg;
	event_base_dispatch(base);
	return NULL;
}

static struct http_limits
test_limits(void)
{
	struct http_limits l = http_default_limits;

	l.head_timeout_ms = 1000;
	l.idle_timeout_ms = 5000;
	l.max_body_bytes = 4096;
	l.max_head_bytes = 1024;
	return l;
}

static void
srv_start(const struct http_limits *lim)
{
	struct lb_addr a;

	signal(SIGPIPE, SIG_IGN);
	nrequests = 0;
	stream_written = stream_max_pending = 0;
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	srv = http_server_new(base, lim, cur_handler, NULL);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(lb_addr_parse("127.0.0.1", &a), 0);
	ck_assert_int_eq(http_server_listen(srv, &a, 0), 0);
	port = http_server_port(srv);
	ck_assert_uint_ne(port, 0);
	ck_assert_int_eq(pipe(stop_pipe), 0);
	stop_ev = event_new(base, stop_pipe[0], EV_READ, on_stop, NULL);
	event_add(stop_ev, NULL);
	ck_assert_int_eq(pthread_create(&loop_thread, NULL, loop_main, NULL),
			 0);
}

static void
srv_stop(void)
{
	ck_assert_int_eq(write(stop_pipe[1], "x", 1), 1);
	pthread_join(loop_thread, NULL);
	http_server_free(srv);
	event_free(stop_ev);
	event_base_free(base);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
}

/* ---- the client --------------------------------------------------------- */

static int
cl_connect_from(const char *src)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct timeval tv = { 3, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	if (src != NULL) {
		struct sockaddr_in b = { .sin_family = AF_INET };

		inet_pton(AF_INET, src, &b.sin_addr);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&b, sizeof(b)), 0);
	}
	a.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int
cl_connect(void)
{
	return cl_connect_from(NULL);
}

static void
cl_send(int fd, const char *s)
{
	size_t n = strlen(s);

	ck_assert_int_eq(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Read until needle appears (NULL: until EOF), 3 s at most. Returns the
 * bytes read; *eof says whether the peer closed. */
static size_t
cl_read(int fd, char *buf, size_t cap, const char *needle, bool *eof)
{
	size_t len = 0;
	uint64_t end = now_ms() + 3000;

	*eof = false;
	buf[0] = '\0';
	while (len + 1 < cap && now_ms() < end) {
		ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);

		if (n == 0) {
			*eof = true;
			break;
		}
		if (n < 0) {
			if (errno == ECONNRESET)
				*eof = true;
			if (errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if (needle != NULL && strstr(buf, needle) != NULL)
			break;
	}
	return len;
}

static unsigned
count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(hay, needle); p != NULL;
	     p = strstr(p + 1, needle))
		n++;
	return n;
}

/* ---- core --------------------------------------------------------------- */

/* Response headers with CR, LF (or, in a name, ':' or space) are refused. */
START_TEST(test_header_injection)
{
	struct http_limits l = test_limits();
	char buf[4096];
	bool eof;
	int fd;

	srv_start(&l);
	fd = cl_connect();
	cl_send(fd, "GET /inject HTTP/1.1\r\nHost: t\r\n\r\n");
	cl_read(fd, buf, sizeof(buf), "inject=-22,-22", &eof);
	ck_assert_msg(strstr(buf, "inject=-22,-22") != NULL, "got %s", buf);
	ck_assert_ptr_null(strstr(buf, "X-B"));
	close(fd);
	srv_stop();
}
END_TEST

START_TEST(test_keepalive)
{
	struct http_limits l = test_limits();
	char buf[4096];
	bool eof;
	int fd;

	srv_start(&l);
	fd = cl_connect();
	cl_send(fd, "GET /one HTTP/1.1\r\nHost: t\r\n\r\n");
	cl_read(fd, buf, sizeof(buf), "body=0", &eof);
	ck_assert_msg(strstr(buf, "HTTP/1.1 200 OK") != NULL, "got %s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "GET /one body=0"));
	ck_assert(!eof);
	/* the same connection serves a second request */
	cl_send(fd, "GET /two HTTP/1.1\r\nHost: t\r\n\r\n");
	cl_read(fd, buf, sizeof(buf), "body=0", &eof);
	ck_assert_msg(strstr(buf, "GET /two body=0") != NULL, "got %s", buf);
	/* Connection: close ends it after the answer */
	cl_send(fd,
		"GET /three HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	cl_read(fd, buf, sizeof(buf), NULL, &eof);
	ck_assert_ptr_nonnull(strstr(buf, "Connection: close"));
	ck_assert_ptr_nonnull(strstr(buf, "GET /three body=0"));
	ck_assert(eof);
	ck_assert_int_eq(nrequests, 3);
	ck_assert_uint_eq(http_server_stats(srv)->conns_accepted, 1);
	close(fd);
	srv_stop();
}
END_TEST

/* The head is built in one buffer: a large one takes the heap path. */
START_TEST(test_large_head)
{
	struct http_limits l = test_limits();
	char buf[8192], want[3100];
	bool eof;
	int fd;

	srv_start(&l);
	fd = cl_connect();
	for (int i = 0; i < 2; i++) {
		cl_send(fd, "GET /bighead HTTP/1.1\r\nHost: t\r\n\r\n");
		cl_read(fd, buf, sizeof(buf), "body=0", &eof);
		memset(want, 0, sizeof(want));
		memcpy(want, "\r\nX-Big: ", 9);
		memset(want + 9, 'a', 3000);
		memcpy(want + 3009, "\r\nContent-Type: text/plain\r\n", 28);
		ck_assert_msg(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0,
			      "got %.40s", buf);
		ck_assert_ptr_nonnull(strstr(buf, want));
		ck_assert_ptr_nonnull(
			strstr(buf, "Content-Length: 19\r\n\r\nGET /bighead "
				    "body=0"));
		ck_assert(!eof);
	}
	close(fd);
	srv_stop();
}
END_TEST

START_TEST(test_pipelining)
{
	struct http_limits l = test_limits();
	char buf[8192];
	const char *a, *b, *c;
	bool eof;
	int fd;

	srv_start(&l);
	fd = cl_connect();
	/* /slow is answered 200 ms later: the others must wait for it */
	cl_send(fd, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"
		    "GET /fast1 HTTP/1.1\r\nHost: t\r\n\r\n"
		    "POST /fast2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
		    "\r\nabc");
	cl_read(fd, buf, sizeof(buf), "POST /fast2 body=3", &eof);
	a = strstr(buf, "GET /slow body=0");
	b = strstr(buf, "GET /fast1 body=0");
	c = strstr(buf, "POST /fast2 body=3");
	ck_assert_msg(a != NULL && b != NULL && c != NULL, "got %s", buf);
	ck_assert_msg(a < b && b < c, "answers out of order: %s", buf);
	ck_assert_uint_eq(count(buf, "HTTP/1.1 200"), 3);
	close(fd);
	srv_stop();
}
END_TEST

START_TEST(test_chunked_body)
{
	struct http_limits l = test_limits();
	char buf[4096];
	bool eof;
	int fd;

	srv_start(&l);
	fd = cl_connect();
	cl_send(fd, "POST /c HTTP/1.1\r\nHost: t\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n"
		    "5\r\nhello\r\n");
	usleep(50 * 1000); /* the body arrives in two pieces */
	cl_send(fd, "7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n");
	cl_read(fd, buf, sizeof(buf), "body=12", &eof);
	ck_assert_msg(strstr(buf, "POST /c body=12") != NULL, "got %s", buf);
	ck_assert_str_eq(last_body, "hello, world");
	close(fd);
	srv_stop();
}
END_TEST

START_TEST(test_continue)
{
	struct http_limits l = test_limits();
	char buf[4096];
	bool eof;
	int fd;

	srv_start(&l);
	fd = cl_connect();
	cl_send(fd, "PUT /e HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
		    "Expect: 100-continue\r\n\r\n");
	/* the client waits for 100 before it sends the body */
	cl_read(fd, buf, sizeof(buf), "\r\n\r\n", &eof);
	ck_assert_msg(strcmp(buf, "HTTP/1.1 100 Continue\r\n\r\n") == 0,
		      "got %s", buf);
	cl_send(fd, "data");
	cl_read(fd, buf, sizeof(buf), "body=4", &eof);
	ck_assert_msg(strstr(buf, "HTTP/1.1 200 OK") != NULL &&
			      strstr(buf, "PUT /e body=4") != NULL,
		      "got %s", buf);
	/* too large: 413 at once, without 100 */
	cl_send(fd, "PUT /e HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n"
		    "Expect: 100-continue\r\n\r\n");
	cl_read(fd, buf, sizeof(buf), NULL, &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 413", 12) == 0, "got %s", buf);
	ck_assert(eof);
	close(fd);
	srv_stop();
}
END_TEST

START_TEST(test_head)
{
	struct http_limits l = test_limits();
	char buf[4096];
	bool eof;
	int fd;

	srv_start(&l);
	fd = cl_connect();
	cl_send(fd, "HEAD /h HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	cl_read(fd, buf, sizeof(buf), NULL, &eof);
	ck_assert(eof);
	ck_assert_ptr_nonnull(strstr(buf, "Content-Length: 14\r\n"));
	/* no body after the head */
	ck_assert_msg(strlen(strstr(buf, "\r\n\r\n")) == 4, "got %s", buf);
	close(fd);
	srv_stop();
}
END_TEST

/* ---- smuggling ---------------------------------------------------------- */

static const struct {
	const char *desc;
	const char *req;
} smuggle_cases[] = {
	{ "two different Content-Length",
	  "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
	  "Content-Length: 40\r\n\r\nabcGET /x HTTP/1.1\r\nHost: t\r\n\r\n" },
	{ "two equal Content-Length",
	  "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
	  "Content-Length: 3\r\n\r\nabc" },
	{ "Content-Length list",
	  "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 3\r\n\r\nabc" },
	{ "Transfer-Encoding and Content-Length",
	  "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	  "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n" },
	{ "Content-Length after Transfer-Encoding",
	  "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
	  "Content-Length: 6\r\n\r\n0\r\n\r\n" },
	{ "Transfer-Encoding not chunked last",
	  "POST / HTTP/1.1\r\nHost: t\r\n"
	  "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" },
	{ "Transfer-Encoding gzip",
	  "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n" },
	{ "two Transfer-Encoding",
	  "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" },
	{ "Transfer-Encoding in HTTP/1.0",
	  "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" },
	{ "obs-fold", "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n" },
	{ "obs-fold with a tab",
	  "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n\tTransfer-Encoding: "
	  "chunked\r\n\r\n" },
	{ "space before the colon",
	  "POST / HTTP/1.1\r\nHost: t\r\nContent-Length : 3\r\n\r\nabc" },
	{ "no Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n" },
	{ "two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" },
	{ "bad chunk size",
	  "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "zz\r\nabc\r\n0\r\n\r\n" },
	{ "negative Content-Length",
	  "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n" },
	{ "CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n" },
	{ "CR without LF ending the head",
	  "GET / HTTP/1.1\r\nHost: t\r\n\rGET /x HTTP/1.1\r\nHost: t\r\n\r\n" },
	{ "garbage", "\x01\x02\x03 / HTTP/1.1\r\n\r\n" },
};

START_TEST(test_smuggling)
{
	struct http_limits l = test_limits();
	char buf[4096];
	bool eof;
	int fd;

	srv_start(&l);
	fd = cl_connect();
	cl_send(fd, smuggle_cases[_i].req);
	cl_read(fd, buf, sizeof(buf), NULL, &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 400 ", 13) == 0, "%s: got \"%s\"",
		      smuggle_cases[_i].desc, buf);
	ck_assert_msg(eof, "%s: not closed", smuggle_cases[_i].desc);
	ck_assert_uint_eq(count(buf, "HTTP/1.1"), 1);
	ck_assert_msg(nrequests == 0, "%s: the handler saw a request",
		      smuggle_cases[_i].desc);
	ck_assert_uint_eq(http_server_stats(srv)->bad_requests, 1);
	close(fd);
	srv_stop();
}
END_TEST

/* ---- limits ------------------------------------------------------------- */

START_TEST(test_head_too_large)
{
	struct http_limits l = test_limits();
	char buf[4096], req[2048];
	bool eof;
	int fd;

	srv_start(&l);
	fd = cl_connect();
	snprintf(req, sizeof(req),
		 "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: %0*d\r\n\r\n", 1100, 0);
	cl_send(fd, req);
	cl_read(fd, buf, sizeof(buf), NULL, &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 431 ", 13) == 0, "got %s", buf);
	ck_assert(eof);
	ck_assert_uint_eq(http_server_stats(srv)->head_too_large, 1);
	close(fd);
	/* just under the limit is fine */
	fd = cl_connect();
	snprintf(req, sizeof(req),
		 "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: %0*d\r\n\r\n", 900, 0);
	cl_send(fd, req);
	cl_read(fd, buf, sizeof(buf), "body=0", &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "got %s", buf);
	close(fd);
	srv_stop();
}
END_TEST

START_TEST(test_body_too_large)
{
	struct http_limits l = test_limits();
	char buf[4096], chunk[1100];
	bool eof;
	int fd;

	srv_start(&l);
	fd = cl_connect();
	cl_send(fd,
		"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n");
	cl_read(fd, buf, sizeof(buf), NULL, &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 413 ", 13) == 0, "got %s", buf);
	ck_assert(eof);
	close(fd);
	/* chunked: found while reading */
	fd = cl_connect();
	cl_send(fd, "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
		    "\r\n\r\n");
	memset(chunk, 'a', sizeof(chunk));
	snprintf(chunk, sizeof(chunk), "400\r\n");
	chunk[5] = 'a';
	chunk[5 + 1024] = '\r';
	chunk[5 + 1025] = '\n';
	chunk[5 + 1026] = '\0';
	for (int i = 0; i < 5; i++)
		if (send(fd, chunk, strlen(chunk), MSG_NOSIGNAL) < 0)
			break;
	cl_read(fd, buf, sizeof(buf), NULL, &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 413 ", 13) == 0, "got %s", buf);
	ck_assert(eof);
	ck_assert_int_eq(nrequests, 0);
	ck_assert_uint_eq(http_server_stats(srv)->body_too_large, 2);
	close(fd);
	srv_stop();
}
END_TEST

START_TEST(test_head_deadline)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: "
				  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	struct http_limits l = test_limits(); /* 1000 ms */
	char buf[4096];
	uint64_t t0 = 0, t1 = 0;
	size_t len = 0;
	int fd;

	srv_start(&l);
	fd = cl_connect();
	/* one byte every 100 ms: each byte would restart an idle timer */
	for (size_t i = 0; i < sizeof(req) - 1 && t1 == 0; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1) {
			t1 = now_ms();
			break;
		}
		if (i == 0)
			t0 = now_ms();
		if (poll(&p, 1, 100) == 1) {
			ssize_t n =
				recv(fd, buf + len, sizeof(buf) - 1 - len, 0);

			if (n > 0)
				len += (size_t)n;
			buf[len] = '\0';
			t1 = now_ms();
		}
	}
	ck_assert_msg(t1 != 0, "never cut: %zu bytes sent over %llu ms",
		      sizeof(req) - 1, (unsigned long long)(now_ms() - t0));
	ck_assert_msg(strncmp(buf, "HTTP/1.1 408 ", 13) == 0, "got %s", buf);
	ck_assert_msg(t1 - t0 >= 950 && t1 - t0 <= 1400,
		      "cut after %llu ms, deadline 1000",
		      (unsigned long long)(t1 - t0));
	ck_assert_uint_eq(http_server_stats(srv)->head_timeouts, 1);
	close(fd);
	srv_stop();
}
END_TEST

START_TEST(test_conns_per_addr)
{
	struct http_limits l = test_limits();
	char buf[4096];
	int fds[3], fd;
	bool eof;

	l.max_conns_per_addr = 3;
	srv_start(&l);
	for (int i = 0; i < 3; i++)
		fds[i] = cl_connect_from("127.0.0.1");
	fd = cl_connect_from("127.0.0.1");
	cl_read(fd, buf, sizeof(buf), NULL, &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 503 ", 13) == 0, "got %s", buf);
	ck_assert(eof);
	close(fd);
	/* another address is still served */
	fd = cl_connect_from("127.0.0.2");
	cl_send(fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
	cl_read(fd, buf, sizeof(buf), "body=0", &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "got %s", buf);
	close(fd);
	/* and so is the first once one of its connections closed */
	close(fds[0]);
	usleep(100 * 1000);
	fd = cl_connect_from("127.0.0.1");
	cl_send(fd, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
	cl_read(fd, buf, sizeof(buf), "body=0", &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "got %s", buf);
	ck_assert_uint_eq(http_server_stats(srv)->conns_refused_per_addr, 1);
	close(fd);
	close(fds[1]);
	close(fds[2]);
	srv_stop();
}
END_TEST

START_TEST(test_conns_total)
{
	struct http_limits l = test_limits();
	char buf[4096], src[32];
	int fds[4], fd;
	bool eof;

	l.max_conns = 4;
	srv_start(&l);
	for (int i = 0; i < 4; i++) {
		snprintf(src, sizeof(src), "127.0.0.%d", 10 + i);
		fds[i] = cl_connect_from(src);
	}
	fd = cl_connect_from("127.0.0.20");
	cl_read(fd, buf, sizeof(buf), NULL, &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 503 ", 13) == 0, "got %s", buf);
	ck_assert(eof);
	close(fd);
	ck_assert_uint_eq(http_server_stats(srv)->conns_refused_total, 1);
	/* the connections held are still served */
	cl_send(fds[3], "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
	cl_read(fds[3], buf, sizeof(buf), "body=0", &eof);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "got %s", buf);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	srv_stop();
}
END_TEST

/* ---- back-pressure ------------------------------------------------------ */

START_TEST(test_backpressure)
{
	struct http_limits l = test_limits();
	size_t bound, got = 0, written;
	char *buf = malloc(1 << 20);
	int fd, rcv = 64 * 1024;

	l.out_high_water = 256 * 1024;
	srv_start(&l);
	fd = cl_connect();
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	cl_send(fd, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
	/* the client does not read for a second */
	usleep(1000 * 1000);
	written = stream_written;
	/* one chunk past the high water at most, plus its framing */
	bound = l.out_high_water + STREAM_CHUNK + 64;
	ck_assert_msg(stream_max_pending <= bound,
		      "output buffer reached %zu bytes (bound %zu)",
		      (size_t)stream_max_pending, bound);
	ck_assert_msg(written < STREAM_TOTAL / 4,
		      "the handler wrote %zu bytes to a client that reads "
		      "nothing",
		      written);
	/* reading again lets the stream go on to its end */
	for (uint64_t end = now_ms() + 20000; now_ms() < end;) {
		ssize_t n = recv(fd, buf, 1 << 20, 0);

		if (n <= 0)
			break;
		got += (size_t)n;
		if (got >= STREAM_TOTAL && n >= 5 &&
		    memcmp(buf + n - 5, "0\r\n\r\n", 5) == 0)
			break;
	}
	ck_assert_msg(got > STREAM_TOTAL, "read %zu of %llu", got,
		      (unsigned long long)STREAM_TOTAL);
	ck_assert_uint_eq(stream_written, STREAM_TOTAL);
	ck_assert_uint_le(stream_max_pending, bound);
	free(buf);
	close(fd);
	srv_stop();
}
END_TEST

START_TEST(test_body_stream)
{
	struct http_limits l = test_limits();
	static char chunk[64 * 1024];
	const uint64_t total = 16ull << 20;
	uint64_t sent = 0, at_pause;
	char buf[4096], head[256];
	bool eof;
	int fd;

	l.max_body_bytes = total;
	cur_handler = &stream_handler;
	srv_start(&l);
	fd = cl_connect();
	fcntl(fd, F_SETFL, O_NONBLOCK);
	snprintf(head, sizeof(head),
		 "PUT /up HTTP/1.1\r\nHost: t\r\nContent-Length: %llu\r\n\r\n",
		 (unsigned long long)total);
	cl_send(fd, head);
	memset(chunk, 'b', sizeof(chunk));
	/* while the handler holds the body, the server reads no more of it:
	 * the client's sends stall once the socket buffers are full */
	for (uint64_t end = now_ms() + 200; now_ms() < end && sent < total;) {
		ssize_t n = send(fd, chunk,
				 total - sent < sizeof(chunk) ? total - sent
							      : sizeof(chunk),
				 MSG_NOSIGNAL);

		if (n > 0)
			sent += (uint64_t)n;
		else
			usleep(1000);
	}
	at_pause = body_got;
	ck_assert_uint_eq(body_pieces, 1);
	ck_assert_msg(sent < total, "all %llu bytes went in while paused",
		      (unsigned long long)sent);
	/* after the resume the rest flows, in pieces */
	for (uint64_t end = now_ms() + 20000; now_ms() < end && sent < total;) {
		ssize_t n = send(fd, chunk,
				 total - sent < sizeof(chunk) ? total - sent
							      : sizeof(chunk),
				 MSG_NOSIGNAL);

		if (n > 0)
			sent += (uint64_t)n;
		else
			usleep(1000);
	}
	ck_assert_uint_eq(sent, total);
	fcntl(fd, F_SETFL, 0);
	cl_read(fd, buf, sizeof(buf), "body=0", &eof);
	ck_assert_msg(strstr(buf, "PUT /up body=0") != NULL, "got %s", buf);
	ck_assert_uint_eq(body_got, total);
	ck_assert_uint_gt(body_pieces, 2);
	ck_assert_uint_lt(at_pause, total);
	close(fd);
	srv_stop();
	event_free(resume_ev);
}
END_TEST

START_TEST(test_log_ratelimit)
{
	struct http_ratelimit rl = { .burst = 10 };

	for (int i = 0; i < 100; i++)
		http_log_rl(&rl, LOG_ERR, "line %d", i);
	ck_assert_uint_eq(rl.n, 10);
	ck_assert_uint_eq(rl.suppressed, 90);
}
END_TEST

/* ---- EMFILE ------------------------------------------------------------- */

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

struct emfile_report {
	uint64_t errors[2]; /* accept errors at the two marks */
	uint64_t backoffs;
	double cpu[2];
};

static struct emfile_report rep;
static int mark;

static void
on_mark(evutil_socket_t fd, short what, void *arg)
{
	char c;

	(void)what;
	(void)arg;
	if (read(fd, &c, 1) != 1 || c == 'q') {
		event_base_loopbreak(base);
		return;
	}
	if (mark < 2) {
		rep.errors[mark] = http_server_stats(srv)->accept_errors;
		rep.cpu[mark] = cpu_s();
		mark++;
	}
}

/* The server in a child with few descriptors; ctl: marks and quit. */
static void
emfile_child(int ctl, int out)
{
	struct http_limits l = test_limits();
	struct lb_addr a;
	struct rlimit rl;
	struct event *ev;
	int fd;

	base = event_base_new();
	srv = http_server_new(base, &l, &handler, NULL);
	lb_addr_parse("127.0.0.1", &a);
	if (base == NULL || srv == NULL || http_server_listen(srv, &a, 0) < 0)
		_exit(2);
	port = http_server_port(srv);
	if (write(out, &port, sizeof(port)) != sizeof(port))
		_exit(2);
	ev = event_new(base, ctl, EV_READ | EV_PERSIST, on_mark, NULL);
	event_add(ev, NULL);
	/* room for 4 more descriptors */
	fd = dup(0);
	close(fd);
	rl.rlim_cur = rl.rlim_max = (rlim_t)fd + 4;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		_exit(2);
	http_fdbudget_init(0); /* no reserve: accept() itself runs out */
	event_base_dispatch(base);
	rep.backoffs = http_server_stats(srv)->accept_backoffs;
	if (write(out, &rep, sizeof(rep)) != sizeof(rep))
		_exit(2);
	_exit(0);
}

START_TEST(test_emfile_backoff)
{
	int ctl[2], out[2], fds[12], st;
	char buf[4096];
	bool eof;
	pid_t pid;

	ck_assert_int_eq(pipe(ctl), 0);
	ck_assert_int_eq(pipe(out), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(ctl[1]);
		close(out[0]);
		emfile_child(ctl[0], out[1]);
	}
	close(ctl[0]);
	close(out[1]);
	ck_assert_int_eq(read(out[0], &port, sizeof(port)), sizeof(port));
	/* more connections than the child has descriptors */
	for (int i = 0; i < 12; i++)
		fds[i] = cl_connect();
	usleep(300 * 1000);
	ck_assert_int_eq(write(ctl[1], "m", 1), 1);
	usleep(1000 * 1000);
	ck_assert_int_eq(write(ctl[1], "m", 1), 1);
	/* descriptors come back: the listener serves again */
	for (int i = 0; i < 12; i++)
		close(fds[i]);
	usleep(300 * 1000);
	fds[0] = cl_connect();
	cl_send(fds[0], "GET /again HTTP/1.1\r\nHost: t\r\n\r\n");
	cl_read(fds[0], buf, sizeof(buf), "body=0", &eof);
	close(fds[0]);
	ck_assert_int_eq(write(ctl[1], "q", 1), 1);
	ck_assert_int_eq(read(out[0], &rep, sizeof(rep)), sizeof(rep));
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_msg(strstr(buf, "GET /again body=0") != NULL,
		      "not served after descriptors came back: %s", buf);
	ck_assert_msg(rep.errors[0] > 0, "accept never failed");
	/* a 100 ms backoff: about 10 failed accepts in a second, not a spin */
	ck_assert_msg(rep.errors[1] - rep.errors[0] <= 20,
		      "%llu failed accepts in 1 s",
		      (unsigned long long)(rep.errors[1] - rep.errors[0]));
	ck_assert_msg(rep.cpu[1] - rep.cpu[0] < 0.2, "%.3f s CPU in 1 s",
		      rep.cpu[1] - rep.cpu[0]);
	ck_assert_uint_ge(rep.backoffs, 5);
	close(ctl[1]);
	close(out[0]);
}
END_TEST

/* ---- upgrades -------------------------------------------------------------- */

static struct http_stats
stats_now(void)
{
	struct http_stats st = { 0 };

	http_server_stats_read(srv, &st);
	return st;
}

START_TEST(test_upgrade)
{
	struct http_limits l = test_limits();
	char buf[2048];
	bool eof;
	int fd;

	srv_start(&l);
	/* bytes before the 101 stay for the new protocol */
	fd = cl_connect();
	cl_send(fd,
		"GET /switch HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, "
		"Upgrade\r\nUpgrade: echo\r\n\r\nEARLY");
	cl_read(fd, buf, sizeof(buf), "EARLY", &eof);
	ck_assert_msg(strncmp(buf,
			      "HTTP/1.1 101 Switching Protocols\r\n"
			      "Upgrade: echo\r\nConnection: Upgrade\r\n\r\n"
			      "EARLY",
			      strlen(buf)) == 0 &&
			      strstr(buf, "EARLY") != NULL,
		      "%s", buf);
	cl_send(fd, "more");
	cl_read(fd, buf, sizeof(buf), "more", &eof);
	ck_assert_str_eq(buf, "more");
	ck_assert_uint_eq(stats_now().upgrades, 1);
	/* the connection left the server (its limits, its drain) */
	for (int i = 0; i < 100 && stats_now().conns_open != 0; i++)
		usleep(10 * 1000);
	ck_assert_uint_eq(stats_now().conns_open, 0);
	close(fd);
	/* no upgrade asked: refused, the connection stays HTTP */
	fd = cl_connect();
	cl_send(fd, "GET /switch HTTP/1.1\r\nHost: x\r\n\r\n");
	cl_read(fd, buf, sizeof(buf), "upgrade=", &eof);
	ck_assert_msg(strstr(buf, "upgrade=-22") != NULL, "%s", buf);
	cl_send(fd, "GET /switch HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n\r\n");
	cl_read(fd, buf, sizeof(buf), "upgrade=", &eof);
	ck_assert_msg(strstr(buf, "upgrade=-22") != NULL && !eof, "%s", buf);
	close(fd);
	/* a WebSocket upgrade answered otherwise: the connection closes
	 * (frames may follow the request) */
	fd = cl_connect();
	cl_send(fd, "GET /plain HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
		    "Upgrade: websocket\r\n\r\n\x81\x85junk!");
	cl_read(fd, buf, sizeof(buf), NULL, &eof);
	ck_assert_msg(eof && strstr(buf, "GET /plain body=0") != NULL &&
			      strstr(buf, "Connection: close\r\n") != NULL &&
			      count(buf, "HTTP/1.1") == 1,
		      "%s", buf);
	close(fd);
	ck_assert_uint_eq(stats_now().upgrades, 1);
	srv_stop();
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_test(tc, test_keepalive);
	tcase_add_test(tc, test_header_injection);
	tcase_add_test(tc, test_pipelining);
	tcase_add_test(tc, test_large_head);
	tcase_add_test(tc, test_chunked_body);
	tcase_add_test(tc, test_continue);
	tcase_add_test(tc, test_head);
	tcase_add_test(tc, test_log_ratelimit);
	tcase_add_test(tc, test_upgrade);
	suite_add_tcase(s, tc);
	tc = tcase_create("smuggling");
	tcase_add_loop_test(tc, test_smuggling, 0,
			    sizeof(smuggle_cases) / sizeof(smuggle_cases[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_add_test(tc, test_head_too_large);
	tcase_add_test(tc, test_body_too_large);
	tcase_add_test(tc, test_head_deadline);
	tcase_add_test(tc, test_conns_per_addr);
	tcase_add_test(tc, test_conns_total);
	suite_add_tcase(s, tc);
	tc = tcase_create("backpressure");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_backpressure);
	tcase_add_test(tc, test_body_stream);
	suite_add_tcase(s, tc);
	tc = tcase_create("emfile");
	tcase_add_test(tc, test_emfile_backoff);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
