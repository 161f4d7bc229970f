/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the HTTP server's connection glue (controlplane/
 * http): the input is what a client sends on one connection, written into
 * one end of a socketpair whose other end a real http_server serves
 * (http_server_adopt), its event loop run until the connection ends or a
 * bounded number of turns passed. The first input byte picks options:
 *   bit 0  prefix the HTTP/2 client preface (reach the HTTP/2 code fast)
 *   bit 1  a streaming handler (on_body, pausing every other piece)
 *   bit 2  the client stops reading (output back-pressure)
 *   bit 3  write the rest in pieces of 1..64 bytes, a loop turn each
 * The handler answers on paths: "/s" streams 256 KiB in pieces through
 * http_resp_write/on_drain, "/h" never answers (aborted at the end), "/t"
 * echoes the request's trailers as the answer's (after a body), "/u"
 * switches to an echo protocol (http_resp_upgrade; the handed-over
 * connection echoes until the input's end), anything else answers at
 * once. Whatever comes, the server must not
 * crash, leak (LeakSanitizer) or break its limits; the server is freed
 * after each input.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "http.h"
#include "edgelb/log.h"

#define MAX_INPUT  (64 * 1024)
#define MAX_TURNS  64
#define STREAM_OUT (256 * 1024)

static struct event_base *base;

static struct http_req *paused;	     /* un-paused after the loop's turn */
static struct bufferevent *upgraded; /* "/u": freed after the input */

static void
up_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}

static void
up_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	(void)arg;
	http_upgraded_free(upgraded);
	upgraded = NULL;
}

static void
upgrade(struct http_req *r)
{
	static const struct http_header h = { "Upgrade", "echo" };
	struct bufferevent *bev;

	if (upgraded != NULL || http_resp_upgrade(r, &h, 1, &bev) < 0) {
		http_resp_simple(r, 200, "text/plain", "no", 2);
		return;
	}
	upgraded = bev;
	bufferevent_setcb(bev, up_read, NULL, up_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	up_read(bev, NULL);
}

/* The request's trailers back as the answer's, after a body. */
static void
trailers(struct http_req *r)
{
	size_t n;
	const struct http_header *tr = http_req_trailers(r, &n);

	if (tr == NULL && n != 0)
		abort();
	if (http_resp_start(r, 200, NULL, 0, -1) != 0)
		return;
	http_resp_write(r, "t", 1);
	http_resp_end_trailers(r, tr, n);
}
static void
pump(struct http_req *r)
{
	static const char chunk[4096];

	for (int i = 0; i < STREAM_OUT / (int)sizeof(chunk); i++) {
		int rc = http_resp_write(r, chunk, sizeof(chunk));

		if (rc == -EAGAIN)
			return; /* on_drain: again (writes as much as fits) */
		if (rc < 0) {
			http_resp_end(r);
			return;
		}
	}
	http_resp_end(r);
}

static void
on_request(void *arg, struct http_req *r)
{
	const struct http_msg *m = http_req_msg(r);
	size_t blen;

	(void)arg;
	http_req_body(r, &blen);
	if (strcmp(m->path, "/h") == 0)
		return;
	if (strcmp(m->path, "/t") == 0) {
		trailers(r);
		return;
	}
	if (strcmp(m->path, "/u") == 0) {
		upgrade(r);
		return;
	}
	if (strcmp(m->path, "/s") == 0) {
		/* unknown length: chunked on HTTP/1.1, DATA frames on h2 */
		if (http_resp_start(r, 200, NULL, 0, -1) == 0)
			pump(r);
		return;
	}
	http_resp_simple(r, 200, "text/plain", m->target, strlen(m->target));
}

static void
on_drain(void *arg, struct http_req *r)
{
	(void)arg;
	if (strcmp(http_req_msg(r)->path, "/s") == 0)
		pump(r);
}

static int pieces;

static int
on_body(void *arg, struct http_req *r, const char *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	/* pause every other piece until the loop's next turn */
	if ((pieces++ & 1) == 0 && paused == NULL) {
		http_req_pause_body(r, true);
		paused = r;
	}
	return 0;
}

static void
on_abort(void *arg, struct http_req *r)
{
	(void)arg;
	if (r == paused)
		paused = NULL;
}

static void
unpause(void)
{
	struct http_req *r = paused;

	paused = NULL;
	if (r != NULL)
		http_req_pause_body(r, false);
}

static const struct http_handler plain_handler = {
	.on_request = on_request,
	.on_drain = on_drain,
};

static const struct http_handler stream_handler = {
	.on_request = on_request,
	.on_drain = on_drain,
	.on_body = on_body,
	.on_abort = on_abort,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	lb_log_set_level(LOG_EMERG);
	signal(SIGPIPE, SIG_IGN); /* as edgelbd: a closed peer is EPIPE */
	base = event_base_new();
	return base != NULL ? 0 : -1;
}

static void
turn(void)
{
	event_base_loop(base, EVLOOP_NONBLOCK);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	struct http_limits lim = http_default_limits;
	struct sockaddr_in peer = { .sin_family = AF_INET,
				    .sin_port = htons(40000),
				    .sin_addr.s_addr = htonl(0x7f000001) };
	struct http_server *s;
	char sink[65536];
	uint8_t opt;
	size_t off = 1;
	int sv[2];

	if (size < 1 || size > MAX_INPUT)
		return 0;
	opt = data[0];
	pieces = 0;
	paused = NULL;
	lim.max_head_bytes = 1024;
	lim.max_body_bytes = 8192;
	lim.out_high_water = 16384;
	lim.max_streams = 8;
	s = http_server_new(base, &lim,
			    (opt & 2) ? &stream_handler : &plain_handler, NULL);
	if (s == NULL)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv) < 0) {
		http_server_free(s);
		return 0;
	}
	if (http_server_adopt(s, sv[0], (struct sockaddr *)&peer,
			      sizeof(peer)) < 0) {
		close(sv[1]);
		http_server_free(s);
		return 0;
	}
	if (opt & 1) {
		ssize_t rc = write(sv[1], preface, sizeof(preface) - 1);

		(void)rc;
	}
	for (int t = 0; t < MAX_TURNS; t++) {
		if (off < size) {
			size_t n = size - off;
			ssize_t w;

			if ((opt & 8) && n > (size_t)(data[off] & 63) + 1)
				n = (size_t)(data[off] & 63) + 1;
			w = write(sv[1], data + off, n);
			if (w > 0)
				off += (size_t)w;
			if (off >= size)
				shutdown(sv[1], SHUT_WR);
		}
		turn();
		unpause();
		if (!(opt & 4))
			while (read(sv[1], sink, sizeof(sink)) > 0)
				;
		if (http_server_stats(s)->conns_open == 0)
			break;
	}
	close(sv[1]);
	turn();
	paused = NULL;
	http_server_free(s);
	if (upgraded != NULL) {
		http_upgraded_free(upgraded);
		upgraded = NULL;
	}
	return 0;
}
