/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the HTTP/1.x response parser (controlplane/http),
 * the entry point of the upstream client: the input's first byte says
 * whether the request was HEAD (no body) and how to cut the rest into
 * pieces; then responses are parsed one after another and the peer's
 * close ends an EOF-delimited body. What comes out must respect the
 * limits and the framing the head announced.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define MAX_HEAD 2048
#define MAX_BODY 8192

struct state {
	bool head_req;
	uint64_t body;
	unsigned n;
};

static int
on_head(void *arg, struct http_msg *m)
{
	struct state *s = arg;

	if (m->status < 100 || m->status > 599 || m->method != NULL ||
	    m->nheaders > HTTP_MAX_HEADERS)
		abort();
	s->body = 0;
	return s->head_req ? HTTP_PARSE_NO_BODY : 0;
}

static int
on_body(void *arg, struct http_msg *m, const char *p, size_t n)
{
	struct state *s = arg;

	(void)p;
	if (s->head_req)
		abort(); /* a response to HEAD has no body */
	s->body += n;
	if (s->body > MAX_BODY || s->body != m->body_bytes)
		abort();
	return 0;
}

static int
on_end(void *arg, struct http_msg *m)
{
	struct state *s = arg;

	if (m->content_length >= 0 && !s->head_req && m->status >= 200 &&
	    m->status != 204 && m->status != 304 &&
	    m->body_bytes != (uint64_t)m->content_length)
		abort();
	s->n++;
	return 0;
}

static const struct http_parse_ops ops = {
	.on_head = on_head,
	.on_body = on_body,
	.on_end = on_end,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state s = { 0 };
	struct http_parse *p;
	size_t off = 1, step;
	int rc = 0;

	if (size < 1)
		return 0;
	s.head_req = data[0] & 1;
	step = 1 + (data[0] >> 1) % 32;
	p = http_parse_new(HTTP_PARSE_RESPONSE, MAX_HEAD, MAX_BODY, &ops, &s);
	if (p == NULL)
		abort();
	while (off < size && s.n < 64) {
		size_t n = size - off, used = 0;

		if (n > step)
			n = step;
		rc = http_parse_feed(p, (const char *)data + off, n, &used);
		if (used > n)
			abort();
		off += used;
		if (rc < 0)
			break;
		if (http_parse_done(p)) {
			if (http_parse_next(p) < 0)
				abort();
		} else if (used < n) {
			abort();
		}
	}
	if (rc == 0)
		rc = http_parse_eof(p);
	if (rc < 0 && http_parse_status(p) == 0)
		abort(); /* every refusal names its status */
	http_parse_free(p);
	return 0;
}
