/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request and its answer as handlers see them (http.h): the same
 * calls for an HTTP/1.1 message and an HTTP/2 stream, each answered by
 * its connection's protocol (struct http_proto in http_priv.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http_priv.h"
#include "edgelb/util.h"

const struct http_msg *
http_req_msg(const struct http_req *r)
{
	return r->msg;
}

const struct sockaddr *
http_req_peer(const struct http_req *r, socklen_t *len)
{
	if (len != NULL)
		*len = r->c->peerlen;
	return (const struct sockaddr *)&r->c->peer;
}

const char *
http_req_body(const struct http_req *r, size_t *len)
{
	*len = r->body_len;
	return r->body != NULL ? r->body : "";
}

const char *
http_req_proto(const struct http_req *r)
{
	return r->c->proto->name;
}

bool
http_req_tls(const struct http_req *r)
{
	return r->c->tls;
}

bool
http_header_ok(const char *s, bool value)
{
	if (s == NULL || (!value && *s == '\0'))
		return false;
	for (; *s; s++)
		if (*s == '\r' || *s == '\n' ||
		    (!value && (*s == ':' || *s == ' ')))
			return false;
	return true;
}

int
http_req_collect(struct http_req *r, const char *p, size_t n)
{
	size_t need = r->body_len + n;

	if (need < 1024)
		need = 1024; /* the first allocation */
	if (lb_array_grow(&r->body, &r->body_cap, need, 1) < 0)
		return -ENOMEM;
	memcpy(r->body + r->body_len, p, n);
	r->body_len += n;
	return 0;
}

struct event_base *
http_req_base(const struct http_req *r)
{
	return r->c->s->base;
}

void
http_req_set_data(struct http_req *r, void *data)
{
	r->udata = data;
}

void *
http_req_data(const struct http_req *r)
{
	return r->udata;
}

void
http_req_pause_body(struct http_req *r, bool paused)
{
	r->c->proto->pause_body(r, paused);
}

int
http_resp_start(struct http_req *r, int status, const struct http_header *h,
		size_t nh, int64_t content_length)
{
	return r->c->proto->resp_start(r, status, h, nh, content_length);
}

/* The checks of a body piece, then the protocol's output; force: one
 * whole body at once, past the high water. */
static int
resp_write(struct http_req *r, const void *p, size_t n, bool force)
{
	if (r->c->closing)
		return -EPIPE;
	if (!r->started || r->ended || (r->left >= 0 && (int64_t)n > r->left))
		return -EINVAL;
	if (n == 0)
		return 0;
	if (!force && !r->c->proto->resp_writable(r)) {
		r->want_drain = true;
		return -EAGAIN;
	}
	if (r->left >= 0)
		r->left -= (int64_t)n;
	return r->c->proto->resp_write(r, p, n);
}

int
http_resp_write(struct http_req *r, const void *p, size_t n)
{
	return resp_write(r, p, n, false);
}

int
http_resp_end(struct http_req *r)
{
	return r->c->proto->resp_end(r);
}

bool
http_resp_writable(const struct http_req *r)
{
	return r->c->proto->resp_writable(r);
}

size_t
http_resp_pending(const struct http_req *r)
{
	return r->c->proto->resp_pending(r);
}

int
http_resp_simple(struct http_req *r, int status, const char *ctype,
		 const void *body, size_t n)
{
	struct http_header hd = { "Content-Type", ctype };

	return http_resp_full(r, status, &hd, ctype != NULL ? 1 : 0, body, n);
}

int
http_resp_full(struct http_req *r, int status, const struct http_header *h,
	       size_t nh, const void *body, size_t n)
{
	int rc;

	rc = http_resp_start(r, status, h, nh, (int64_t)n);
	/* one piece: past the high water check of http_resp_write */
	if (rc == 0 && n > 0)
		rc = resp_write(r, body, n, true);
	if (rc < 0 && r->started && !r->ended)
		r->c->proto->resp_end(r);
	return rc < 0 ? rc : http_resp_end(r);
}
