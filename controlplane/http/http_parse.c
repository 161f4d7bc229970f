/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HTTP/1.x message parsing on http_parser (see http.h). http_parser does
 * the grammar; this file keeps the strings of one head in a fixed arena
 * (its size is the head limit, so a head cannot grow memory), applies the
 * limits, and adds the checks http_parser leaves to its user: smuggling
 * (duplicate Content-Length, Transfer-Encoding with Content-Length or
 * other than "chunked", obs-fold, duplicate or missing Host), versions
 * other than 1.x, CONNECT.
 *
 * The head is also scanned byte by byte as fed (http_parser accepts
 * obs-fold and only knows its own compile-time head limit): the scan
 * counts the head's bytes as received and finds folded lines.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <http_parser.h>

#include "http.h"

enum cur {
	CUR_NONE,
	CUR_URL,
	CUR_STATUS,
	CUR_FIELD,
	CUR_VALUE,
};

struct http_parse {
	http_parser hp;
	enum http_parse_kind kind;
	const struct http_parse_ops *ops;
	void *arg;
	size_t max_head;
	uint64_t max_body;
	char *arena; /* strings of the head, NUL-terminated */
	size_t asize, alen;
	size_t cur_start; /* arena offset of the string being received */
	enum cur cur;
	struct http_msg msg;
	/* the raw head scan */
	size_t head_bytes;
	bool line_seen; /* a byte other than CR/LF: the start line began */
	bool at_bol;	/* the previous byte ended a line */
	bool cr_bol;	/* a CR at the start of a line: LF ends the head */
	bool scan_done; /* the empty line that ends the head was seen */
	bool prev_cr;	/* the previous byte was a CR */
	/* state */
	bool started, in_body, done, user_paused;
	int err; /* sticky: 0 or the -errno of http_parse_feed */
	int status;
	int cb_err;
	const char *reason;
};

const char *
http_status_text(int status)
{
	/* libhttp-parser knows every registered code (RFC 9110 and others);
	 * a code it does not know still needs a phrase on the status line */
	const char *t = status >= 100 && status <= 999
				? http_status_str((enum http_status)status)
				: NULL;

	return t != NULL && t[0] != '<' ? t : "Unknown";
}

const char *
http_msg_header(const struct http_msg *m, const char *name)
{
	for (size_t i = 0; i < m->nheaders; i++)
		if (strcasecmp(m->headers[i].name, name) == 0)
			return m->headers[i].value;
	return NULL;
}

static struct http_parse *
of(http_parser *hp)
{
	return hp->data;
}

/* Record the first failure; callbacks then return nonzero to stop. */
static int
fail(struct http_parse *p, int err, int status, const char *reason)
{
	if (p->err == 0) {
		p->err = err;
		p->status = status;
		p->reason = reason;
	}
	return -1;
}

/* Close the string being received with a NUL; its start, or NULL. */
static const char *
finish_cur(struct http_parse *p)
{
	const char *s;

	if (p->cur == CUR_NONE)
		return NULL;
	/* append() keeps one byte free for this NUL */
	p->arena[p->alen++] = '\0';
	s = p->arena + p->cur_start;
	switch (p->cur) {
	case CUR_URL:
		p->msg.target = s;
		break;
	case CUR_FIELD:
		p->msg.headers[p->msg.nheaders].name = s;
		break;
	case CUR_VALUE:
		p->msg.headers[p->msg.nheaders].value = s;
		p->msg.nheaders++;
		break;
	default:
		break;
	}
	p->cur = CUR_NONE;
	return s;
}

static int
append(struct http_parse *p, enum cur kind, const char *at, size_t n)
{
	if (p->cur != kind) {
		finish_cur(p);
		if (kind == CUR_FIELD && p->msg.nheaders >= HTTP_MAX_HEADERS)
			return fail(p, -EMSGSIZE, 431, "too many headers");
		p->cur = kind;
		p->cur_start = p->alen;
	}
	/* keep one byte for the closing NUL */
	if (n >= p->asize - p->alen)
		return fail(p, -EMSGSIZE, 431, "head too large");
	memcpy(p->arena + p->alen, at, n);
	p->alen += n;
	return 0;
}

static int
cb_begin(http_parser *hp)
{
	of(hp)->started = true;
	return 0;
}

static int
cb_url(http_parser *hp, const char *at, size_t n)
{
	return append(of(hp), CUR_URL, at, n);
}

static int
cb_status(http_parser *hp, const char *at, size_t n)
{
	return append(of(hp), CUR_STATUS, at, n);
}

static int
cb_field(http_parser *hp, const char *at, size_t n)
{
	return append(of(hp), CUR_FIELD, at, n);
}

static int
cb_value(http_parser *hp, const char *at, size_t n)
{
	struct http_parse *p = of(hp);

	if (p->cur != CUR_VALUE && p->cur != CUR_FIELD)
		return fail(p, -EBADMSG, 400, "header value without a name");
	/* "Name : v": RFC 9112 5.1 says reject, some proxies strip it */
	if (p->cur == CUR_FIELD && p->alen > p->cur_start &&
	    (p->arena[p->alen - 1] == ' ' || p->arena[p->alen - 1] == '\t'))
		return fail(p, -EBADMSG, 400, "whitespace before a colon");
	return append(p, CUR_VALUE, at, n);
}

/* Split the target into path and query (in the arena, after the head). */
static int
split_target(struct http_parse *p)
{
	const char *t = p->msg.target, *q;
	size_t plen;

	if (t == NULL)
		return fail(p, -EBADMSG, 400, "no request target");
	q = strchr(t, '?');
	if (q == NULL) {
		p->msg.path = t;
		return 0;
	}
	plen = (size_t)(q - t);
	/* the arena was sized with room for this copy of the path */
	if (plen + 1 > p->asize - p->alen)
		return fail(p, -EMSGSIZE, 431, "head too large");
	memcpy(p->arena + p->alen, t, plen);
	p->arena[p->alen + plen] = '\0';
	p->msg.path = p->arena + p->alen;
	p->alen += plen + 1;
	p->msg.query = q + 1;
	return 0;
}

/* The checks against request smuggling and what this server refuses. */
static int
check_head(struct http_parse *p)
{
	struct http_msg *m = &p->msg;
	unsigned ncl = 0, nte = 0, nhost = 0;
	const char *te = NULL;

	for (size_t i = 0; i < m->nheaders; i++) {
		const char *n = m->headers[i].name;

		if (strcasecmp(n, "Content-Length") == 0)
			ncl++;
		else if (strcasecmp(n, "Transfer-Encoding") == 0) {
			nte++;
			te = m->headers[i].value;
		} else if (strcasecmp(n, "Host") == 0)
			nhost++;
	}
	if (m->version_major != 1)
		return fail(p, -EBADMSG, 505, "HTTP version not supported");
	if (ncl > 1)
		return fail(p, -EBADMSG, 400, "several Content-Length");
	if (nte > 0 && ncl > 0)
		return fail(p, -EBADMSG, 400,
			    "Transfer-Encoding with Content-Length");
	if (nte > 1 || (te != NULL && strcasecmp(te, "chunked") != 0))
		return fail(p, -EBADMSG, 400,
			    "Transfer-Encoding other than chunked");
	if (nte > 0 && m->version_minor == 0)
		return fail(p, -EBADMSG, 400, "Transfer-Encoding in HTTP/1.0");
	if (p->kind == HTTP_PARSE_RESPONSE &&
	    (m->status < 100 || m->status > 599))
		return fail(p, -EBADMSG, 400, "status out of range");
	if (p->kind == HTTP_PARSE_REQUEST) {
		if (nhost > 1 || (nhost == 0 && m->version_minor >= 1))
			return fail(p, -EBADMSG, 400,
				    "missing or several Host");
		if (p->hp.method == HTTP_CONNECT)
			return fail(p, -EBADMSG, 400, "CONNECT refused");
	}
	return 0;
}

static int
cb_headers_complete(http_parser *hp)
{
	struct http_parse *p = of(hp);
	struct http_msg *m = &p->msg;
	const char *ex;
	int rc;

	finish_cur(p);
	m->version_major = hp->http_major;
	m->version_minor = hp->http_minor;
	m->keep_alive = http_should_keep_alive(hp) != 0;
	m->chunked = (hp->flags & F_CHUNKED) != 0;
	m->content_length = (hp->flags & F_CONTENTLENGTH) != 0 &&
					    hp->content_length <= INT64_MAX
				    ? (int64_t)hp->content_length
				    : -1;
	if (p->kind == HTTP_PARSE_REQUEST) {
		m->method = http_method_str((enum http_method)hp->method);
		m->head = hp->method == HTTP_HEAD;
		if (split_target(p) < 0)
			return -1;
		ex = http_msg_header(m, "Expect");
		m->expect_continue = ex != NULL &&
				     strcasecmp(ex, "100-continue") == 0 &&
				     m->version_minor >= 1;
	} else {
		m->status = hp->status_code;
	}
	if (check_head(p) < 0)
		return -1;
	if (m->content_length >= 0 && (uint64_t)m->content_length > p->max_body)
		return fail(p, -EFBIG, 413, "body too large");
	p->in_body = true;
	if (p->ops->on_head != NULL) {
		rc = p->ops->on_head(p->arg, m);
		if (rc < 0) {
			p->cb_err = rc;
			return fail(p, -ECANCELED, 0, "callback refused");
		}
		if (rc == HTTP_PARSE_NO_BODY)
			return 1; /* http_parser: skip the body */
	}
	return 0;
}

static int
cb_body(http_parser *hp, const char *at, size_t n)
{
	struct http_parse *p = of(hp);
	int rc;

	p->msg.body_bytes += n;
	if (p->msg.body_bytes > p->max_body)
		return fail(p, -EFBIG, 413, "body too large");
	if (p->ops->on_body != NULL) {
		rc = p->ops->on_body(p->arg, &p->msg, at, n);
		if (rc < 0) {
			p->cb_err = rc;
			return fail(p, -ECANCELED, 0, "callback refused");
		}
	}
	return 0;
}

static int
cb_complete(http_parser *hp)
{
	struct http_parse *p = of(hp);
	int rc;

	p->done = true;
	/* stop here: the next message waits for http_parse_next */
	http_parser_pause(hp, 1);
	if (p->ops->on_end != NULL) {
		rc = p->ops->on_end(p->arg, &p->msg);
		if (rc < 0) {
			p->cb_err = rc;
			return fail(p, -ECANCELED, 0, "callback refused");
		}
	}
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = cb_begin,
	.on_url = cb_url,
	.on_status = cb_status,
	.on_header_field = cb_field,
	.on_header_value = cb_value,
	.on_headers_complete = cb_headers_complete,
	.on_body = cb_body,
	.on_message_complete = cb_complete,
};

static void
reset(struct http_parse *p)
{
	http_parser_init(&p->hp, p->kind == HTTP_PARSE_REQUEST ? HTTP_REQUEST
							       : HTTP_RESPONSE);
	p->hp.data = p;
	memset(&p->msg, 0, sizeof(p->msg));
	p->msg.content_length = -1;
	p->alen = 0;
	p->cur = CUR_NONE;
	p->head_bytes = 0;
	p->line_seen = p->at_bol = p->cr_bol = p->scan_done = false;
	p->prev_cr = false;
	p->started = p->in_body = p->done = false;
}

struct http_parse *
http_parse_new(enum http_parse_kind kind, size_t max_head, uint64_t max_body,
	       const struct http_parse_ops *ops, void *arg)
{
	static const struct http_parse_ops none = { 0 };
	struct http_parse *p;

	if (max_head == 0 || max_head > (1u << 24) ||
	    (kind != HTTP_PARSE_REQUEST && kind != HTTP_PARSE_RESPONSE)) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		goto err;
	/* the head, a NUL per string, and a copy of the path */
	p->asize = 2 * max_head + 2 * HTTP_MAX_HEADERS + 8;
	p->arena = malloc(p->asize);
	if (p->arena == NULL)
		goto err;
	p->kind = kind;
	p->ops = ops != NULL ? ops : &none;
	p->arg = arg;
	p->max_head = max_head;
	p->max_body = max_body;
	reset(p);
	return p;
err:
	free(p);
	errno = ENOMEM;
	return NULL;
}

void
http_parse_free(struct http_parse *p)
{
	if (p == NULL)
		return;
	free(p->arena);
	free(p);
}

/*
 * Scan head bytes about to be fed: count them, find obs-fold, stop at the
 * empty line. Returns how many of buf[0..n) belong to the head, or -1.
 */
static int
scan_head(struct http_parse *p, const char *buf, size_t n, size_t *head)
{
	size_t i;

	for (i = 0; i < n && !p->scan_done; i++) {
		char c = buf[i];

		if (++p->head_bytes > p->max_head)
			return fail(p, -EMSGSIZE, 431, "head too large");
		if (p->prev_cr && c != '\n')
			/* http_parser (not strict) takes "\r\n\rX" as the end
			 * of the head: a peer could end it where a proxy
			 * does not */
			return fail(p, -EBADMSG, 400, "CR without LF");
		p->prev_cr = c == '\r';
		if (!p->line_seen) {
			/* empty lines before a message are skipped */
			if (c != '\r' && c != '\n')
				p->line_seen = true;
			continue;
		}
		if (p->cr_bol) {
			p->cr_bol = false;
			p->scan_done = true; /* c is the LF: checked above */
			continue;
		}
		if (p->at_bol) {
			p->at_bol = false;
			if (c == ' ' || c == '\t')
				return fail(p, -EBADMSG, 400,
					    "obs-fold or line with leading "
					    "whitespace");
			if (c == '\r') {
				p->cr_bol = true;
				continue;
			}
			if (c == '\n') {
				p->scan_done = true;
				continue;
			}
		}
		if (c == '\n')
			p->at_bol = true;
	}
	*head = i;
	return 0;
}

static int
map_errno(struct http_parse *p)
{
	enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);

	if (p->err != 0)
		return p->err;
	if (e == HPE_HEADER_OVERFLOW)
		return fail(p, -EMSGSIZE, 431, "head too large"), p->err;
	return fail(p, -EBADMSG, 400, http_errno_description(e)), p->err;
}

int
http_parse_feed(struct http_parse *p, const char *buf, size_t len, size_t *used)
{
	size_t off = 0;

	*used = 0;
	if (p->err != 0)
		return p->err;
	while (off < len && !p->done && !p->user_paused) {
		size_t n = len - off, head = 0, got;
		enum http_errno e;

		if (!p->scan_done) {
			if (scan_head(p, buf + off, n, &head) < 0)
				return p->err;
			/* feed no further than the head's end: the rest is
			 * body, and must not be scanned as head */
			n = head;
		}
		got = http_parser_execute(&p->hp, &settings, buf + off, n);
		e = HTTP_PARSER_ERRNO(&p->hp);
		if (p->err != 0)
			return p->err;
		if (e == HPE_PAUSED) {
			/* our pause at a message's end, or the user's: the
			 * byte of the pausing callback counts as parsed */
			off += got;
			*used = off;
			if (p->done || p->user_paused)
				break;
			http_parser_pause(&p->hp, 0);
			continue;
		}
		if (e != HPE_OK)
			return map_errno(p);
		off += got;
		*used = off;
		if (got < n)
			return fail(p, -EBADMSG, 400, "parser stopped"), p->err;
	}
	return 0;
}

int
http_parse_eof(struct http_parse *p)
{
	if (p->err != 0)
		return p->err;
	if (p->done || !p->started)
		return 0;
	http_parser_execute(&p->hp, &settings, NULL, 0);
	if (p->err != 0)
		return p->err;
	if (!p->done)
		return fail(p, -EBADMSG, 400, "message cut short"), p->err;
	return 0;
}

bool
http_parse_done(const struct http_parse *p)
{
	return p->done;
}

bool
http_parse_started(const struct http_parse *p)
{
	return p->started || p->head_bytes > 0;
}

bool
http_parse_in_body(const struct http_parse *p)
{
	return p->in_body;
}

int
http_parse_next(struct http_parse *p)
{
	if (p->err != 0)
		return p->err;
	if (!p->done && http_parse_started(p))
		return -EBUSY;
	reset(p);
	p->user_paused = false;
	return 0;
}

void
http_parse_pause(struct http_parse *p, bool paused)
{
	p->user_paused = paused;
	if (!p->done)
		http_parser_pause(&p->hp, paused ? 1 : 0);
}

int
http_parse_status(const struct http_parse *p)
{
	return p->status;
}

const char *
http_parse_reason(const struct http_parse *p)
{
	return p->reason != NULL ? p->reason : "";
}

const struct http_msg *
http_parse_msg(const struct http_parse *p)
{
	return &p->msg;
}
