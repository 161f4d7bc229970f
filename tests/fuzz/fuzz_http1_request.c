/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the HTTP/1.x request parser (controlplane/http):
 * the input is a byte stream from a client, parsed as pipelined requests
 * the way the server does (one message, then http_parse_next), fed once
 * whole and once cut in pieces whose sizes come from the input. Both
 * ways must agree on every message (the head and body of a request do
 * not depend on how the bytes arrived), and what the parser hands out
 * must respect its limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define MAX_HEAD 1024
#define MAX_BODY 4096
#define MAX_MSGS 64

struct trace {
	uint64_t sum[MAX_MSGS]; /* a digest of each message */
	size_t n;
	int err;
	uint64_t body;
};

static uint64_t
mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 1099511628211ull;
	return h;
}

static int
on_head(void *arg, struct http_msg *m)
{
	struct trace *t = arg;
	uint64_t h = 1469598103934665603ull;

	if (m->nheaders > HTTP_MAX_HEADERS || m->method == NULL ||
	    m->path == NULL || m->version_major != 1)
		abort();
	if (m->content_length > MAX_BODY)
		abort();
	h = mix(h, m->method, strlen(m->method));
	h = mix(h, m->target, strlen(m->target));
	for (size_t i = 0; i < m->nheaders; i++) {
		h = mix(h, m->headers[i].name, strlen(m->headers[i].name) + 1);
		h = mix(h, m->headers[i].value,
			strlen(m->headers[i].value) + 1);
	}
	if (t->n < MAX_MSGS)
		t->sum[t->n] = h;
	t->body = 0;
	return 0;
}

static int
on_body(void *arg, struct http_msg *m, const char *p, size_t n)
{
	struct trace *t = arg;

	t->body += n;
	if (t->body > MAX_BODY || m->body_bytes != t->body)
		abort();
	if (t->n < MAX_MSGS)
		t->sum[t->n] = mix(t->sum[t->n], p, n);
	return 0;
}

static int
on_end(void *arg, struct http_msg *m)
{
	struct trace *t = arg;

	if (m->content_length >= 0 &&
	    m->body_bytes != (uint64_t)m->content_length)
		abort();
	t->n++;
	return 0;
}

static const struct http_parse_ops ops = {
	.on_head = on_head,
	.on_body = on_body,
	.on_end = on_end,
};

static void
run(const uint8_t *data, size_t size, size_t step, struct trace *t)
{
	struct http_parse *p =
		http_parse_new(HTTP_PARSE_REQUEST, MAX_HEAD, MAX_BODY, &ops, t);
	size_t off = 0;

	if (p == NULL)
		abort();
	memset(t, 0, sizeof(*t));
	while (off < size && t->n < MAX_MSGS) {
		size_t n = size - off, used = 0;
		int rc;

		if (step > 0 && n > step)
			n = step;
		rc = http_parse_feed(p, (const char *)data + off, n, &used);
		if (used > n)
			abort();
		off += used;
		if (rc < 0) {
			int st = http_parse_status(p);

			if (st != 400 && st != 413 && st != 431 && st != 505)
				abort();
			t->err = rc;
			break;
		}
		if (http_parse_done(p)) {
			if (http_parse_next(p) < 0)
				abort();
		} else if (used < n) {
			abort(); /* not done, not paused: must take it all */
		}
	}
	http_parse_free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace whole, cut;
	size_t step;

	if (size < 1)
		return 0;
	step = 1 + data[0] % 16;
	run(data + 1, size - 1, 0, &whole);
	run(data + 1, size - 1, step, &cut);
	/* the same messages whichever way the bytes came */
	if (whole.n != cut.n || (whole.err != 0) != (cut.err != 0) ||
	    memcmp(whole.sum, cut.sum,
		   sizeof(uint64_t) *
			   (whole.n < MAX_MSGS ? whole.n : MAX_MSGS)) != 0)
		abort();
	return 0;
}
