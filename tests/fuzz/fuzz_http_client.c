/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the upstream client's response path
 * (controlplane/http/http_client.c). The input plays the upstream on a
 * loopback socket of this process:
 *
 *   byte 0, bit 0: 0 = HTTP/1.1: a first request is answered well, so
 *                  that the connection is pooled; the rest of the input is
 *                  the answer to the second request on that connection.
 *                  1 = h2c: the rest is the server's side of the session
 *                  (frames) while the client has two streams open.
 *           bit 1: the (second) request is HEAD.
 *           bit 2: the caller pauses after every body piece and resumes
 *                  from the loop.
 *           bit 3: (HTTP/1.1) the one request is a WebSocket upgrade
 *                  (spec.upgrade) and the rest of the input answers it:
 *                  a 101 must hand the connection over (on_upgrade)
 *                  before on_done(0), nothing else may.
 *
 * The upstream shuts its side down after the input, so every request
 * ends. Checked: on_done exactly once per request, success only after a
 * head, no body beyond max_body_bytes, and a connection that gave a bad
 * response is closed, not pooled.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "http_client.h"

#define MAX_BODY  4096
#define MAX_INPUT 32768
#define OK_2	  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

struct fz_req {
	struct http_client_req *r;
	int ndone;
	int err;
	bool head;
	bool switched, upgraded; /* a 101 came; on_upgrade ran */
	uint64_t body;
	struct event *resume;
};

static struct event_base *base;
static struct event *guard;
static int lfd = -1;
static uint16_t lport;

/* the current input */
static struct http_client *cl;
static const uint8_t *in_data;
static size_t in_size;
static bool h2, head_req, pausing, upgrade;
static int srv_fd = -1;
static struct event *srv_ev, *lis_ev;
static unsigned heads, crlf_state;
static bool input_sent;
static struct fz_req reqs[2];
static int nreqs_done, nreqs;
static bool bad_closed_check;

static void start_req(struct fz_req *x, const char *method, const char *path);

static void
on_guard(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

static void
send_all(const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = send(srv_fd, b, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		b += w;
		n -= (size_t)w;
	}
}

static void
send_input(void)
{
	input_sent = true;
	send_all(in_data, in_size);
	shutdown(srv_fd, SHUT_WR);
}

/* The upstream reads what the client sends and counts request heads. */
static void
on_srv(evutil_socket_t fd, short what, void *arg)
{
	char buf[8192];
	ssize_t n;

	(void)what;
	(void)arg;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n <= 0) {
		event_del(srv_ev);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		static const char end[] = "\r\n\r\n";

		crlf_state = buf[i] == end[crlf_state] ? crlf_state + 1
						       : (buf[i] == '\r');
		if (crlf_state == 4) {
			crlf_state = 0;
			heads++;
			if (!h2 && heads == 1 && upgrade)
				send_input();
			else if (!h2 && heads == 1)
				send_all(OK_2, strlen(OK_2));
			else if (!h2 && heads == 2 && !input_sent)
				send_input();
		}
	}
}

static void
on_accept(evutil_socket_t fd, short what, void *arg)
{
	int s;

	(void)what;
	(void)arg;
	s = accept(fd, NULL, NULL);
	if (s < 0)
		return;
	if (srv_fd >= 0) {
		close(s); /* one upstream connection per input */
		return;
	}
	srv_fd = s;
	fcntl(srv_fd, F_SETFL, O_NONBLOCK);
	srv_ev = event_new(base, srv_fd, EV_READ | EV_PERSIST, on_srv, NULL);
	event_add(srv_ev, NULL);
	if (h2)
		send_input();
}

static int
on_head(void *arg, struct http_client_req *r, const struct http_msg *m)
{
	struct fz_req *x = arg;

	if ((m->status < 200 && !(upgrade && m->status == 101)) ||
	    m->status > 599 || x->head)
		abort(); /* 1xx are skipped; one final head */
	x->head = true;
	x->switched = m->status == 101;
	if (http_client_req_head_ended(r) && !h2)
		abort(); /* HTTP/2 only */
	return 0;
}

static void
on_upgrade(void *arg, struct http_client_req *r, struct bufferevent *bev)
{
	struct fz_req *x = arg;

	(void)r;
	if (!upgrade || !x->switched || x->upgraded || x->ndone != 0)
		abort();
	x->upgraded = true;
	bufferevent_free(bev);
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct fz_req *x = arg;

	(void)fd;
	(void)what;
	if (x->ndone == 0)
		http_client_req_pause(x->r, false);
}

static int
on_body(void *arg, struct http_client_req *r, const char *p, size_t n)
{
	struct fz_req *x = arg;

	(void)p;
	if (!x->head || n == 0)
		abort();
	x->body += n;
	if (x->body > MAX_BODY)
		abort();
	if (pausing) {
		http_client_req_pause(r, true);
		event_active(x->resume, EV_TIMEOUT, 0);
	}
	return 0;
}

static void
on_done(void *arg, struct http_client_req *r, int err)
{
	struct fz_req *x = arg;

	if (++x->ndone != 1)
		abort();
	if (err == 0 && !x->head)
		abort();
	if (x->switched && err == 0 && !x->upgraded)
		abort(); /* a 101 that ended well handed the connection over */
	{
		size_t ntr;
		const struct http_header *tr =
			http_client_req_trailers(r, &ntr);

		if (ntr > HTTP_MAX_HEADERS ||
		    (ntr > 0 && (h2 == false || tr == NULL)))
			abort(); /* HTTP/2 only, bounded */
		for (size_t i = 0; i < ntr; i++)
			if (tr[i].name == NULL || tr[i].value == NULL)
				abort();
	}
	x->err = err;
	event_del(x->resume);
	if (!h2 && !upgrade && x == &reqs[0]) {
		if (err != 0)
			abort(); /* the well-formed first answer */
		start_req(&reqs[1], head_req ? "HEAD" : "GET", "/2");
		return;
	}
	if (!h2 && (err == -EBADMSG || err == -EMSGSIZE || err == -EFBIG))
		bad_closed_check = true;
	if (++nreqs_done == nreqs)
		event_base_loopbreak(base);
}

static const struct http_client_req_ops ops = {
	.on_head = on_head,
	.on_body = on_body,
	.on_done = on_done,
	.on_upgrade = on_upgrade,
};

static void
start_req(struct fz_req *x, const char *method, const char *path)
{
	static const struct http_header up = { "Upgrade", "websocket" };
	struct http_client_spec s = {
		.proto = h2 ? HTTP_CLIENT_H2C : HTTP_CLIENT_H1,
		.port = lport,
		.method = method,
		.target = path,
	};

	if (upgrade) {
		s.upgrade = true;
		s.headers = &up;
		s.nheaders = 1;
	}
	lb_addr_parse("127.0.0.1", &s.addr);
	x->r = http_client_request(cl, &s, &ops, x);
	if (x->r == NULL)
		abort();
}

static void
setup(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int one = 1;

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	guard = evtimer_new(base, on_guard, NULL);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (base == NULL || guard == NULL || lfd < 0 ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(lfd, 64) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &len) != 0)
		abort();
	lport = ntohs(a.sin_port);
	lis_ev = event_new(base, lfd, EV_READ | EV_PERSIST, on_accept, NULL);
	event_add(lis_ev, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_client_opts o = http_client_default_opts;
	struct timeval tv = { 2, 0 };

	if (size < 1 || size > MAX_INPUT)
		return 0;
	if (base == NULL)
		setup();
	h2 = data[0] & 1;
	head_req = data[0] & 2;
	pausing = data[0] & 4;
	upgrade = !h2 && (data[0] & 8);
	in_data = data + 1;
	in_size = size - 1;
	heads = crlf_state = 0;
	input_sent = bad_closed_check = false;
	nreqs_done = 0;
	memset(reqs, 0, sizeof(reqs));
	o.tls_insecure = true; /* no CA store to load per input */
	o.max_body_bytes = MAX_BODY;
	o.max_head_bytes = 2048;
	o.head_timeout_ms = o.read_timeout_ms = 500;
	o.connect_timeout_ms = 500;
	cl = http_client_new(base, &o);
	if (cl == NULL)
		abort();
	for (int i = 0; i < 2; i++)
		reqs[i].resume = event_new(base, -1, 0, on_resume, &reqs[i]);
	if (h2) {
		nreqs = 2;
		start_req(&reqs[0], head_req ? "HEAD" : "GET", "/1");
		start_req(&reqs[1], "GET", "/2");
	} else if (upgrade) {
		nreqs = 1; /* answered by the input itself */
		start_req(&reqs[0], "GET", "/ws");
	} else {
		nreqs = 1; /* the second; the first starts it */
		start_req(&reqs[0], "GET", "/1");
	}
	evtimer_add(guard, &tv);
	event_base_dispatch(base);
	evtimer_del(guard);
	if (nreqs_done != nreqs)
		abort(); /* the upstream closed: every request must end */
	if (bad_closed_check && http_client_stats(cl)->conns_open != 0)
		abort(); /* a bad response's connection stays out of the pool */
	http_client_free(cl);
	for (int i = 0; i < 2; i++)
		event_free(reqs[i].resume);
	if (srv_ev != NULL) {
		event_free(srv_ev);
		srv_ev = NULL;
	}
	if (srv_fd >= 0) {
		close(srv_fd);
		srv_fd = -1;
	}
	/* connections this input left in the backlog are not the next's */
	for (int s; (s = accept(lfd, NULL, NULL)) >= 0;)
		close(s);
	return 0;
}
