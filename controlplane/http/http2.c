/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HTTP/2 on a server connection (struct http_proto, see http_priv.h), on
 * an nghttp2 server session fed from the connection's bufferevent. Each
 * request stream is a struct h2_stream holding the struct http_req that
 * the handler sees, so handlers answer with the same http_resp_* calls as
 * on HTTP/1.1.
 *
 * Limits:
 *   streams   SETTINGS_MAX_CONCURRENT_STREAMS = max_streams; nghttp2
 *             refuses a stream over it with RST_STREAM REFUSED_STREAM
 *             (before the client acknowledged the setting) or the
 *             connection with GOAWAY (after); both counted
 *             streams_refused.
 *   head      pseudo-headers and headers over max_head_bytes (name and
 *             value lengths + 4 each) or HTTP_MAX_HEADERS: 431
 *   body      over max_body_bytes (declared or sent): 413
 *   deadlines a header block not complete within head_timeout_ms of its
 *             first frame closes the connection (HEADERS and its
 *             CONTINUATIONs hold the whole connection); no stream for
 *             idle_timeout_ms, or a request body or an answer stalled
 *             that long with no frame read: GOAWAY and close.
 *
 * Flow control both ways, nothing buffered whole: automatic WINDOW_UPDATE
 * is off and a stream's received DATA is acknowledged
 * (nghttp2_session_consume) only as the handler takes it, so a paused
 * stream holds at most its window (H2_WINDOW) in the server. Answers go
 * through a data provider reading a per-stream buffer that http_resp_write
 * fills up to H2_STREAM_OUT (then -EAGAIN and on_drain), deferred while
 * empty; the session's output is written to the bufferevent up to the
 * server's out_high_water.
 *
 * Trailers: a request's trailing HEADERS are kept in a fixed arena of
 * max_head_bytes (over it, or over HTTP_MAX_HEADERS: 431) for
 * http_req_trailers; an answer's trailers (http_resp_end_trailers) go out
 * from the data provider at the body's end (DATA without END_STREAM,
 * then HEADERS with it).
 *
 * Nothing is sent from inside http_resp_*: they queue and kick the
 * connection, whose next turn of the loop flushes the session, so that a
 * stream is never closed (and freed) under a handler's call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "http_priv.h"
#include "edgelb/log.h"
#include "edgelb/util.h"

#define H2_WINDOW     (64 * 1024) /* per-stream receive window */
#define H2_STREAM_OUT (64 * 1024) /* queued answer bytes before -EAGAIN */
#define H2_DISCARD    (1 << 20)	  /* body dropped after an answer, then RST */

struct h2;

struct h2_stream {
	struct http_req req; /* first: a req is its stream */
	struct http_msg msg;
	struct h2 *h;
	struct h2_stream *prev, *next;
	int32_t id;
	char *arena; /* header strings, NUL-terminated */
	size_t alen, acap;
	uint32_t hoff[HTTP_MAX_HEADERS][2]; /* name, value offsets */
	size_t nh;
	int64_t off_method, off_path, off_authority, off_clen; /* -1: none */
	size_t head_bytes;
	uint64_t head_start_ms;
	bool in_head;	      /* HEADERS seen, the block not complete */
	bool too_big;	      /* the head passed a limit: 431 */
	bool remote_ended;    /* END_STREAM received */
	bool paused;	      /* the handler paused the body */
	bool delivering;      /* in stream_deliver */
	bool request_called;  /* on_request ran */
	bool discard;	      /* drop the rest of the request body */
	bool has_data;	      /* the answer has a data provider */
	bool eof;	      /* answer: http_resp_end */
	bool deferred;	      /* the data provider waits for bytes */
	bool reset;	      /* RST_STREAM sent */
	size_t discarded;     /* body bytes dropped */
	struct evbuffer *in;  /* request body the handler has not taken */
	struct evbuffer *out; /* answer body not yet framed */
	/* request trailers: strings in tarena (max_head_bytes, allocated
	 * once, so the pointers stay) */
	struct http_header *tr;
	size_t ntr;
	char *tarena;
	size_t talen;
	bool tr_too_big;
	/* answer trailers, sent after the body */
	nghttp2_nv *rtr;
	size_t nrtr;
	char *rtrbuf;
};

struct h2 {
	struct http_conn *c;
	nghttp2_session *ng;
	struct h2_stream *streams;
	uint32_t nstreams;
	uint64_t last_ms; /* last bytes read */
	bool dying;	  /* fini: stream callbacks do nothing */
};

static struct h2 *
h2_of(struct http_conn *c)
{
	return c->pstate;
}

static struct h2_stream *
stream_of(struct http_req *r)
{
	return (struct h2_stream *)r;
}

/* ---- streams ------------------------------------------------------------ */

static struct h2_stream *
stream_new(struct h2 *h, int32_t id)
{
	struct h2_stream *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->in = evbuffer_new();
	st->out = evbuffer_new();
	if (st->in == NULL || st->out == NULL) {
		if (st->in != NULL)
			evbuffer_free(st->in);
		if (st->out != NULL)
			evbuffer_free(st->out);
		free(st);
		return NULL;
	}
	st->h = h;
	st->id = id;
	st->req.c = h->c;
	st->req.msg = &st->msg;
	st->req.left = -1;
	st->off_method = st->off_path = st->off_authority = st->off_clen = -1;
	st->next = h->streams;
	if (h->streams != NULL)
		h->streams->prev = st;
	h->streams = st;
	h->nstreams++;
	return st;
}

static void
stream_free(struct h2_stream *st)
{
	struct h2 *h = st->h;

	if (st->prev != NULL)
		st->prev->next = st->next;
	else
		h->streams = st->next;
	if (st->next != NULL)
		st->next->prev = st->prev;
	h->nstreams--;
	evbuffer_free(st->in);
	evbuffer_free(st->out);
	free(st->req.body);
	free(st->arena);
	free(st->tr);
	free(st->tarena);
	free(st->rtr);
	free(st->rtrbuf);
	free(st);
}

/* The handler will not see this stream again: tell it if it cares. */
static void
stream_abort(struct h2_stream *st)
{
	struct http_conn *c = st->h->c;

	if (st->req.handed && !st->req.ended && c->s->h.on_abort != NULL)
		c->s->h.on_abort(c->s->arg, &st->req);
	st->req.handed = false;
}

static int
arena_put(struct h2_stream *st, const uint8_t *p, size_t n, int64_t *off)
{
	size_t need = st->alen + n + 1;

	if (need < 512)
		need = 512; /* the first allocation: headers seldom take more */
	if (lb_array_grow(&st->arena, &st->acap, need, 1) < 0)
		return -ENOMEM;
	memcpy(st->arena + st->alen, p, n);
	st->arena[st->alen + n] = '\0';
	*off = (int64_t)st->alen;
	st->alen += n + 1;
	return 0;
}

/* An error answer from the server itself; the rest of the request is
 * dropped. status 0: reset the stream instead. */
static void
stream_fail(struct h2_stream *st, int status, const char *why)
{
	struct http_conn *c = st->h->c;
	char peer[64], code[8];

	http_stat_refusal(c->s, status);
	http_log_rl(&c->s->rl, LOG_INFO, "http: %s: h2 stream %d: %d %s",
		    http_conn_peer_str(c, peer, sizeof(peer)), st->id, status,
		    why);
	stream_abort(st);
	st->discard = true;
	/* what the handler did not take is dropped: reopen the window */
	nghttp2_session_consume(st->h->ng, st->id, evbuffer_get_length(st->in));
	evbuffer_drain(st->in, evbuffer_get_length(st->in));
	if (status == 0 || st->req.started) {
		nghttp2_submit_rst_stream(st->h->ng, NGHTTP2_FLAG_NONE, st->id,
					  NGHTTP2_INTERNAL_ERROR);
	} else {
		nghttp2_nv nv[] = {
			{ (uint8_t *)":status", (uint8_t *)code, 7, 0,
			  NGHTTP2_NV_FLAG_NONE },
			{ (uint8_t *)"content-length", (uint8_t *)"0", 14, 1,
			  NGHTTP2_NV_FLAG_NONE },
		};

		nv[0].valuelen =
			(size_t)snprintf(code, sizeof(code), "%d", status);
		if (nghttp2_submit_response(st->h->ng, st->id, nv, 2, NULL) ==
		    0)
			HTTP_STAT_ADD(c->s, responses[status / 100], 1);
		st->req.started = true;
	}
	st->req.ended = true;
	http_conn_kick(c);
}

/*
 * Hand the handler what it can take: buffered body while not paused, then
 * the request once its last byte is taken.
 */
static void
stream_deliver(struct h2_stream *st)
{
	struct http_conn *c = st->h->c;
	struct http_req *r = &st->req;

	if (st->delivering)
		return;
	st->delivering = true;
	while (!st->paused && !st->discard && evbuffer_get_length(st->in) > 0) {
		struct evbuffer_iovec v;
		int rc;

		if (evbuffer_peek(st->in, -1, NULL, &v, 1) < 1)
			break;
		r->handed = true; /* it may keep r: on_abort tells it */
		rc = c->s->h.on_body(c->s->arg, r, v.iov_base, v.iov_len);
		evbuffer_drain(st->in, v.iov_len);
		nghttp2_session_consume(st->h->ng, st->id, v.iov_len);
		if (rc < 0) {
			stream_fail(st, r->started ? 0 : 500, "handler failed");
			break;
		}
	}
	if (st->remote_ended && !st->paused && !st->discard &&
	    !st->request_called && evbuffer_get_length(st->in) == 0) {
		st->request_called = true;
		r->complete = true;
		if (!r->ended) {
			r->handed = true;
			c->s->h.on_request(c->s->arg, r);
		}
	}
	st->delivering = false;
}

/* The head is complete: make the struct http_msg and check it. end: the
 * HEADERS frame ended the stream (no body follows). */
static void
stream_head(struct h2_stream *st, bool end)
{
	struct http_conn *c = st->h->c;
	struct http_msg *m = &st->msg;
	char *q;
	int64_t off;
	int rc;

	st->in_head = false;
	HTTP_STAT_ADD(c->s, requests, 1);
	HTTP_STAT_ADD(c->s, requests_h2, 1);
	if (st->too_big) {
		stream_fail(st, 431, "head too large");
		return;
	}
	if (st->off_method < 0 || st->off_path < 0) {
		stream_fail(st, 400, "no :method or :path");
		return;
	}
	/* the target again, cut at '?' into path and query */
	if (arena_put(st, (const uint8_t *)st->arena + st->off_path,
		      strlen(st->arena + st->off_path), &off) < 0) {
		stream_fail(st, 0, "out of memory");
		return;
	}
	m->method = st->arena + st->off_method;
	m->target = st->arena + st->off_path;
	m->path = st->arena + off;
	q = strchr(st->arena + off, '?');
	if (q != NULL) {
		*q = '\0';
		m->query = q + 1;
	}
	m->version_major = 2;
	m->version_minor = 0;
	m->keep_alive = true;
	m->head = strcmp(m->method, "HEAD") == 0;
	m->content_length = -1;
	if (st->off_clen >= 0)
		m->content_length = strtoll(st->arena + st->off_clen, NULL, 10);
	/* a body of unknown length follows (gRPC's): what chunked says on
	 * HTTP/1.1 */
	m->chunked = m->content_length < 0 && !end;
	for (size_t i = 0; i < st->nh; i++) {
		m->headers[i].name = st->arena + st->hoff[i][0];
		m->headers[i].value = st->arena + st->hoff[i][1];
	}
	m->nheaders = st->nh;
	if (st->off_authority >= 0 && http_msg_header(m, "host") == NULL &&
	    m->nheaders < HTTP_MAX_HEADERS) {
		m->headers[m->nheaders].name = "host";
		m->headers[m->nheaders++].value = st->arena + st->off_authority;
	}
	if (m->content_length > 0 &&
	    (uint64_t)m->content_length > c->s->lim.max_body_bytes) {
		stream_fail(st, 413, "declared body too large");
		return;
	}
	http_conn_timer(c, 0);
	if (c->s->h.on_head != NULL) {
		st->req.handed = true;
		rc = c->s->h.on_head(c->s->arg, &st->req);
		if (rc < 0)
			stream_fail(st, st->req.started ? 0 : 500,
				    "handler failed");
	}
}

/* A request trailer; over the limits the stream is answered 431 at the
 * trailers' end. 0 or an nghttp2 error. */
static int
trailer_put(struct h2_stream *st, const uint8_t *name, size_t nl,
	    const uint8_t *value, size_t vl)
{
	size_t max = st->h->c->s->lim.max_head_bytes, need = nl + vl + 2;

	if (st->tr_too_big)
		return 0;
	if (st->tarena == NULL) {
		st->tarena = malloc(max);
		st->tr = calloc(HTTP_MAX_HEADERS, sizeof(*st->tr));
		if (st->tarena == NULL || st->tr == NULL)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	if (st->ntr >= HTTP_MAX_HEADERS || st->talen + need > max ||
	    (nl > 0 && name[0] == ':')) {
		st->tr_too_big = true;
		return 0;
	}
	memcpy(st->tarena + st->talen, name, nl);
	st->tarena[st->talen + nl] = '\0';
	memcpy(st->tarena + st->talen + nl + 1, value, vl);
	st->tarena[st->talen + nl + 1 + vl] = '\0';
	st->tr[st->ntr].name = st->tarena + st->talen;
	st->tr[st->ntr].value = st->tarena + st->talen + nl + 1;
	st->ntr++;
	st->talen += need;
	return 0;
}

/* ---- nghttp2 callbacks -------------------------------------------------- */

static int
cb_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *arg)
{
	struct http_conn *c = arg;
	struct h2_stream *st;

	if (f->hd.type != NGHTTP2_HEADERS ||
	    f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	st = stream_new(h2_of(c), f->hd.stream_id);
	if (st == NULL)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	st->in_head = true;
	st->head_start_ms = lb_now_ms();
	nghttp2_session_set_stream_user_data(ng, f->hd.stream_id, st);
	return 0;
}

static int
cb_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
	  size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
	  void *arg)
{
	struct http_conn *c = arg;
	struct h2_stream *st =
		nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
	int64_t *pseudo = NULL, noff, voff;

	(void)flags;
	if (st != NULL && f->hd.type == NGHTTP2_HEADERS &&
	    f->headers.cat == NGHTTP2_HCAT_HEADERS && !st->in_head)
		return trailer_put(st, name, namelen, value, valuelen);
	if (st == NULL || f->hd.type != NGHTTP2_HEADERS ||
	    f->headers.cat != NGHTTP2_HCAT_REQUEST || st->too_big)
		return 0;
	st->head_bytes += namelen + valuelen + 4;
	if (st->head_bytes > c->s->lim.max_head_bytes) {
		st->too_big = true;
		return 0;
	}
#define IS(s) (namelen == sizeof(s) - 1 && memcmp(name, s, namelen) == 0)
	if (IS(":method"))
		pseudo = &st->off_method;
	else if (IS(":path"))
		pseudo = &st->off_path;
	else if (IS(":authority"))
		pseudo = &st->off_authority;
	else if (namelen > 0 && name[0] == ':')
		return 0; /* :scheme; nghttp2 checked the rest */
#undef IS
	if (pseudo != NULL)
		return arena_put(st, value, valuelen, pseudo) < 0
			       ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE
			       : 0;
	if (st->nh >= HTTP_MAX_HEADERS) {
		st->too_big = true;
		return 0;
	}
	if (arena_put(st, name, namelen, &noff) < 0 ||
	    arena_put(st, value, valuelen, &voff) < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (namelen == 14 && memcmp(name, "content-length", 14) == 0)
		st->off_clen = voff;
	st->hoff[st->nh][0] = (uint32_t)noff;
	st->hoff[st->nh][1] = (uint32_t)voff;
	st->nh++;
	return 0;
}

static int
cb_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id,
	      const uint8_t *data, size_t len, void *arg)
{
	struct http_conn *c = arg;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);

	(void)flags;
	if (st == NULL || st->discard || st->req.ended) {
		/* answered: the client may finish its request, which is
		 * dropped (an immediate RST_STREAM NO_ERROR, RFC 9113 8.1,
		 * makes curl 7.88 drop the answer); past H2_DISCARD the
		 * stream is reset. A client that stops sending is an idle
		 * stream (see h2_timer). */
		nghttp2_session_consume(ng, id, len);
		if (st != NULL && (st->discarded += len) > H2_DISCARD &&
		    !st->reset) {
			st->reset = true;
			nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id,
						  NGHTTP2_NO_ERROR);
		}
		return 0;
	}
	if (st->msg.body_bytes + len > c->s->lim.max_body_bytes) {
		nghttp2_session_consume(ng, id, len);
		stream_fail(st, 413, "body too large");
		return 0;
	}
	st->msg.body_bytes += len;
	if (c->s->h.on_body == NULL) {
		nghttp2_session_consume(ng, id, len);
		if (http_req_collect(&st->req, (const char *)data, len) < 0)
			stream_fail(st, 500, "out of memory");
		return 0;
	}
	/* acknowledged (window reopened) as the handler takes it */
	if (evbuffer_add(st->in, data, len) < 0) {
		nghttp2_session_consume(ng, id, len);
		stream_fail(st, 500, "out of memory");
		return 0;
	}
	stream_deliver(st);
	return 0;
}

static int
cb_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *arg)
{
	struct h2_stream *st;

	(void)arg;
	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
		return 0;
	st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
	if (st == NULL)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS &&
	    f->headers.cat == NGHTTP2_HCAT_REQUEST)
		stream_head(st, (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0);
	if (f->hd.type == NGHTTP2_HEADERS &&
	    f->headers.cat == NGHTTP2_HCAT_HEADERS && !st->discard &&
	    !st->req.ended) {
		if (st->tr_too_big) {
			stream_fail(st, 431, "trailers too large");
			return 0;
		}
		HTTP_STAT_ADD(st->h->c->s, trailers_in, 1);
	}
	if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) {
		st->remote_ended = true;
		stream_deliver(st);
	}
	return 0;
}

static int
cb_frame_send(nghttp2_session *ng, const nghttp2_frame *f, void *arg)
{
	struct http_conn *c = arg;
	char peer[64];

	(void)ng;
	switch (f->hd.type) {
	case NGHTTP2_RST_STREAM:
		if (f->rst_stream.error_code == NGHTTP2_REFUSED_STREAM) {
			HTTP_STAT_ADD(c->s, streams_refused, 1);
			http_log_rl(&c->s->rl, LOG_INFO,
				    "http: %s: h2 stream %d refused: "
				    "max_streams %u",
				    http_conn_peer_str(c, peer, sizeof(peer)),
				    f->hd.stream_id, c->s->lim.max_streams);
		}
		return 0;
	case NGHTTP2_GOAWAY:
		if (f->goaway.error_code == NGHTTP2_NO_ERROR)
			return 0;
		/* nghttp2 says why in the opaque data, if at all */
		if (f->goaway.error_code == NGHTTP2_ENHANCE_YOUR_CALM ||
		    (f->goaway.opaque_data != NULL &&
		     memmem(f->goaway.opaque_data, f->goaway.opaque_data_len,
			    "concurrent", 10) != NULL))
			HTTP_STAT_ADD(c->s, streams_refused, 1);
		else
			HTTP_STAT_ADD(c->s, bad_requests, 1);
		http_log_rl(&c->s->rl, LOG_INFO, "http: %s: h2 GOAWAY %s",
			    http_conn_peer_str(c, peer, sizeof(peer)),
			    nghttp2_http2_strerror(f->goaway.error_code));
		return 0;
	default:
		return 0;
	}
}

static int
cb_invalid_frame(nghttp2_session *ng, const nghttp2_frame *f, int err,
		 void *arg)
{
	struct http_conn *c = arg;
	char peer[64];

	(void)ng;
	if (err == NGHTTP2_ERR_REFUSED_STREAM)
		return 0; /* counted as sent, in cb_frame_send */
	HTTP_STAT_ADD(c->s, bad_requests, 1);
	http_log_rl(&c->s->rl, LOG_INFO, "http: %s: h2 stream %d: %s",
		    http_conn_peer_str(c, peer, sizeof(peer)), f->hd.stream_id,
		    nghttp2_strerror(err));
	return 0;
}

static int
cb_stream_close(nghttp2_session *ng, int32_t id, uint32_t err, void *arg)
{
	struct http_conn *c = arg;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);

	(void)err;
	if (st == NULL || h2_of(c)->dying)
		return 0;
	stream_abort(st);
	nghttp2_session_set_stream_user_data(ng, id, NULL);
	stream_free(st);
	return 0;
}

static ssize_t
read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
	  uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct h2_stream *st = src->ptr;
	size_t n = evbuffer_get_length(st->out);

	(void)arg;
	if (n == 0 && !st->eof) {
		st->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	if (n > len)
		n = len;
	if (n > 0 && evbuffer_remove(st->out, buf, n) != (int)n)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (st->eof && evbuffer_get_length(st->out) == 0) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (st->nrtr > 0 &&
		    nghttp2_submit_trailer(ng, id, st->rtr, st->nrtr) == 0)
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
	}
	return (ssize_t)n;
}

/* ---- the connection ------------------------------------------------------ */

static bool
stream_writable(const struct h2_stream *st)
{
	struct http_conn *c = st->h->c;

	return !c->out_full && evbuffer_get_length(st->out) < H2_STREAM_OUT &&
	       evbuffer_get_length(bufferevent_get_output(c->bev)) <=
		       c->s->lim.out_high_water;
}

/* Arm the connection's one timer for the nearest deadline (see top). */
static void
h2_timer(struct http_conn *c)
{
	struct h2 *h = h2_of(c);
	uint64_t now = lb_now_ms(), due = 0;
	bool handler = false;

	for (struct h2_stream *st = h->streams; st != NULL; st = st->next) {
		if (st->in_head) {
			uint64_t d =
				st->head_start_ms + c->s->lim.head_timeout_ms;

			if (due == 0 || d < due)
				due = d;
		}
		/* the handler's business, or a paused body: no deadline */
		if ((st->req.handed && st->req.complete && !st->req.ended) ||
		    st->paused)
			handler = true;
	}
	if (due == 0 && !handler)
		due = h->last_ms + c->s->lim.idle_timeout_ms;
	if (due == 0) {
		http_conn_timer(c, 0);
		return;
	}
	http_conn_timer(c, due > now ? (uint32_t)(due - now) : 1);
}

/* Close once the session's last bytes are out. */
static void
h2_close(struct http_conn *c)
{
	struct h2 *h = h2_of(c);

	for (struct h2_stream *st = h->streams; st != NULL; st = st->next)
		stream_abort(st);
	http_conn_close_after_flush(c);
}

/* Write what the session has, up to the high water; tell streams that
 * waited for room. */
static void
h2_flush(struct http_conn *c)
{
	struct h2 *h = h2_of(c);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	bool again = false;

	if (c->closing)
		return;
	while (evbuffer_get_length(out) <= c->s->lim.out_high_water) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(h->ng, &data);

		if (n < 0) {
			h2_close(c);
			return;
		}
		if (n == 0)
			break;
		if (evbuffer_add(out, data, (size_t)n) < 0) {
			h2_close(c);
			return;
		}
	}
	http_conn_check_out(c);
	for (struct h2_stream *st = h->streams; st != NULL; st = st->next) {
		if (!st->req.want_drain || !st->req.handed || st->req.ended ||
		    !stream_writable(st) ||
		    evbuffer_get_length(st->out) > H2_STREAM_OUT / 2)
			continue;
		st->req.want_drain = false;
		if (c->s->h.on_drain != NULL) {
			c->s->h.on_drain(c->s->arg, &st->req);
			again = true;
		}
	}
	if (!nghttp2_session_want_read(h->ng) &&
	    !nghttp2_session_want_write(h->ng)) {
		h2_close(c); /* GOAWAY exchanged, streams done */
		return;
	}
	if (again)
		http_conn_kick(c);
	h2_timer(c);
}

static void
h2_read(struct http_conn *c)
{
	struct h2 *h = h2_of(c);
	struct evbuffer *in = bufferevent_get_input(c->bev);
	char peer[64];

	while (!c->closing && !c->out_full && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		ssize_t n;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		h->last_ms = lb_now_ms();
		n = nghttp2_session_mem_recv(h->ng, v.iov_base, v.iov_len);
		if (n < 0) {
			HTTP_STAT_ADD(c->s, bad_requests, 1);
			http_log_rl(&c->s->rl, LOG_INFO, "http: %s: h2: %s",
				    http_conn_peer_str(c, peer, sizeof(peer)),
				    nghttp2_strerror((int)n));
			h2_close(c);
			return;
		}
		evbuffer_drain(in, (size_t)n);
	}
	/* bodies a handler un-paused, requests waiting for them */
	for (struct h2_stream *st = h->streams; st != NULL && !c->closing;
	     st = st->next)
		if (!st->paused && !st->discard &&
		    (evbuffer_get_length(st->in) > 0 ||
		     (st->remote_ended && !st->request_called)))
			stream_deliver(st);
	h2_flush(c);
}

static void
h2_drain(struct http_conn *c)
{
	h2_of(c)->last_ms = lb_now_ms(); /* the client takes our bytes */
	h2_flush(c);
}

static void
h2_timeout(struct http_conn *c)
{
	struct h2 *h = h2_of(c);
	uint64_t now = lb_now_ms();

	for (struct h2_stream *st = h->streams; st != NULL; st = st->next)
		if (st->in_head &&
		    now >= st->head_start_ms + c->s->lim.head_timeout_ms) {
			HTTP_STAT_ADD(c->s, head_timeouts, 1);
			nghttp2_session_terminate_session(h->ng,
							  NGHTTP2_NO_ERROR);
			h2_flush(c);
			h2_close(c);
			return;
		}
	if (now < h->last_ms + c->s->lim.idle_timeout_ms) {
		h2_timer(c);
		return;
	}
	HTTP_STAT_ADD(c->s, idle_closes, 1);
	nghttp2_session_terminate_session(h->ng, NGHTTP2_NO_ERROR);
	h2_flush(c);
	h2_close(c);
}

static void
h2_eof(struct http_conn *c)
{
	h2_close(c);
}

static void
h2_drain_conn(struct http_conn *c)
{
	struct h2 *h = h2_of(c);

	nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE,
			      nghttp2_session_get_last_proc_stream_id(h->ng),
			      NGHTTP2_NO_ERROR, NULL, 0);
	http_conn_kick(c);
}

static int
h2_start(struct http_conn *c)
{
	struct http_limits *lim = &c->s->lim;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, lim->max_streams },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, lim->max_head_bytes },
	};
	uint64_t win = (uint64_t)lim->max_streams * H2_WINDOW;
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_option *opt = NULL;
	struct h2 *h = calloc(1, sizeof(*h));
	int rc = -ENOMEM;

	if (h == NULL)
		return -ENOMEM;
	h->c = c;
	h->last_ms = lb_now_ms();
	if (nghttp2_session_callbacks_new(&cb) != 0 ||
	    nghttp2_option_new(&opt) != 0)
		goto err;
	nghttp2_session_callbacks_set_on_begin_headers_callback(
		cb, cb_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, cb_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
		cb, cb_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, cb_frame_recv);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, cb_frame_send);
	nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(
		cb, cb_invalid_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
							       cb_stream_close);
	/* windows reopen only as handlers take the data */
	nghttp2_option_set_no_auto_window_update(opt, 1);
	if (nghttp2_session_server_new2(&h->ng, cb, c, opt) != 0)
		goto err;
	if (win > 0x7fffffff)
		win = 0x7fffffff;
	if (nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv,
				    sizeof(iv) / sizeof(iv[0])) != 0 ||
	    nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0,
						  (int32_t)win) != 0)
		goto err;
	nghttp2_session_callbacks_del(cb);
	nghttp2_option_del(opt);
	c->pstate = h;
	/* the client preface and SETTINGS are due at once */
	http_conn_timer(c, lim->head_timeout_ms);
	return 0;
err:
	if (h->ng != NULL)
		nghttp2_session_del(h->ng);
	if (cb != NULL)
		nghttp2_session_callbacks_del(cb);
	if (opt != NULL)
		nghttp2_option_del(opt);
	free(h);
	return rc;
}

static void
h2_fini(struct http_conn *c)
{
	struct h2 *h = h2_of(c);

	if (h == NULL)
		return;
	h->dying = true;
	while (h->streams != NULL) {
		stream_abort(h->streams);
		stream_free(h->streams);
	}
	nghttp2_session_del(h->ng);
	free(h);
	c->pstate = NULL;
}

/* ---- the answer ----------------------------------------------------------- */

static bool
h2_resp_writable(const struct http_req *r)
{
	return stream_writable((const struct h2_stream *)r);
}

static size_t
h2_resp_pending(const struct http_req *r)
{
	const struct h2_stream *st = (const struct h2_stream *)r;

	return evbuffer_get_length(st->out) +
	       evbuffer_get_length(bufferevent_get_output(r->c->bev));
}

/* Connection-specific headers have no place in HTTP/2 (RFC 9113 8.2.2). */
static bool
header_allowed(const char *name)
{
	static const char *const no[] = {
		"content-length", "transfer-encoding", "connection",
		"keep-alive",	  "upgrade",	       "proxy-connection",
	};

	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strcasecmp(name, no[i]) == 0)
			return false;
	return true;
}

static int
h2_resp_start(struct http_req *r, int status, const struct http_header *hd,
	      size_t nh, int64_t content_length)
{
	struct h2_stream *st = stream_of(r);
	struct http_conn *c = r->c;
	nghttp2_data_provider prd = { .source.ptr = st,
				      .read_callback = read_body };
	char code[8], clen[24], *names = NULL;
	nghttp2_nv *nv = NULL;
	size_t n = 0, total = 0;
	int rc = -ENOMEM;

	if (c->closing)
		return -EPIPE;
	if (r->started || status < 200 || status > 999 || content_length < -1 ||
	    nh > HTTP_MAX_HEADERS)
		return -EINVAL;
	for (size_t i = 0; i < nh; i++) {
		if (!http_header_ok(hd[i].name, false) ||
		    !http_header_ok(hd[i].value, true) ||
		    !header_allowed(hd[i].name))
			return -EINVAL;
		total += strlen(hd[i].name) + 1;
	}
	nv = calloc(nh + 2, sizeof(*nv));
	names = malloc(total + 1);
	if (nv == NULL || names == NULL)
		goto out;
	r->status = status;
	r->no_body = r->msg->head || status == 204 || status == 304;
	r->left = content_length;
	snprintf(code, sizeof(code), "%d", status);
	nv[n++] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)code, 7,
				strlen(code), NGHTTP2_NV_FLAG_NONE };
	total = 0;
	for (size_t i = 0; i < nh; i++) {
		size_t len = strlen(hd[i].name);
		char *lc = names + total;

		/* HTTP/2 header names are lower case */
		for (size_t k = 0; k <= len; k++)
			lc[k] = (char)((hd[i].name[k] >= 'A' &&
					hd[i].name[k] <= 'Z')
					       ? hd[i].name[k] + 32
					       : hd[i].name[k]);
		total += len + 1;
		nv[n++] = (nghttp2_nv){ (uint8_t *)lc, (uint8_t *)hd[i].value,
					len, strlen(hd[i].value),
					NGHTTP2_NV_FLAG_NONE };
	}
	if (content_length >= 0 && status != 204 && status != 304) {
		snprintf(clen, sizeof(clen), "%lld", (long long)content_length);
		nv[n++] = (nghttp2_nv){ (uint8_t *)"content-length",
					(uint8_t *)clen, 14, strlen(clen),
					NGHTTP2_NV_FLAG_NONE };
	}
	st->has_data = !r->no_body && content_length != 0;
	if (nghttp2_submit_response(st->h->ng, st->id, nv, n,
				    st->has_data ? &prd : NULL) != 0)
		goto out;
	r->started = true;
	http_conn_kick(c);
	rc = 0;
out:
	free(nv);
	free(names);
	return rc;
}

static int
h2_resp_write(struct http_req *r, const void *p, size_t n)
{
	struct h2_stream *st = stream_of(r);

	if (!st->has_data)
		return 0; /* HEAD, 204, 304: no body goes out */
	if (evbuffer_add(st->out, p, n) < 0)
		return -ENOMEM;
	if (st->deferred) {
		st->deferred = false;
		nghttp2_session_resume_data(st->h->ng, st->id);
	}
	http_conn_kick(r->c);
	return 0;
}

static int
h2_resp_end(struct http_req *r)
{
	struct h2_stream *st = stream_of(r);
	struct http_conn *c = r->c;
	int rc = 0;

	if (c->closing)
		return -EPIPE;
	if (!r->started || r->ended)
		return -EINVAL;
	r->ended = true;
	HTTP_STAT_ADD(c->s,
		      responses[r->status / 100 < 6 ? r->status / 100 : 0], 1);
	if (r->left > 0 && !r->no_body) {
		/* shorter than announced: the client must not take it whole */
		rc = -EINVAL;
		nghttp2_submit_rst_stream(st->h->ng, NGHTTP2_FLAG_NONE, st->id,
					  NGHTTP2_INTERNAL_ERROR);
	}
	if (!r->complete)
		st->discard = true; /* early answer: the rest is dropped */
	st->eof = true;
	if (st->deferred) {
		st->deferred = false;
		nghttp2_session_resume_data(st->h->ng, st->id);
	}
	http_conn_kick(c);
	return rc;
}

static void
h2_pause_body(struct http_req *r, bool paused)
{
	struct h2_stream *st = stream_of(r);

	st->paused = paused;
	if (!paused)
		http_conn_kick(r->c); /* deliver from the loop, then flush */
}

/* ---- trailers ---------------------------------------------------------------- */

const struct http_header *
http_req_trailers(const struct http_req *r, size_t *n)
{
	const struct h2_stream *st = (const struct h2_stream *)r;

	*n = 0;
	if (r->c->proto != &http2_proto || st->ntr == 0 || st->tr_too_big)
		return NULL;
	*n = st->ntr;
	return st->tr;
}

int
http_resp_end_trailers(struct http_req *r, const struct http_header *hd,
		       size_t nh)
{
	struct h2_stream *st = stream_of(r);
	size_t total = 0;
	char *p;

	if (r->c->proto != &http2_proto || nh == 0)
		return http_resp_end(r); /* HTTP/1.1: dropped */
	if (nh > HTTP_MAX_HEADERS)
		return -EINVAL;
	for (size_t i = 0; i < nh; i++) {
		if (!http_header_ok(hd[i].name, false) ||
		    !http_header_ok(hd[i].value, true) ||
		    !header_allowed(hd[i].name))
			return -EINVAL;
		total += strlen(hd[i].name) + strlen(hd[i].value) + 2;
	}
	if (!r->started || r->ended || st->rtr != NULL || !st->has_data)
		return http_resp_end(r); /* no body to follow: dropped */
	st->rtr = calloc(nh, sizeof(*st->rtr));
	st->rtrbuf = malloc(total);
	if (st->rtr == NULL || st->rtrbuf == NULL) {
		free(st->rtr);
		free(st->rtrbuf);
		st->rtr = NULL;
		st->rtrbuf = NULL;
		return -ENOMEM;
	}
	p = st->rtrbuf;
	for (size_t i = 0; i < nh; i++) {
		size_t nl = strlen(hd[i].name), vl = strlen(hd[i].value);
		char *nm = p;

		/* HTTP/2 header names are lower case */
		for (size_t k = 0; k < nl; k++)
			nm[k] = (char)((hd[i].name[k] >= 'A' &&
					hd[i].name[k] <= 'Z')
					       ? hd[i].name[k] + 32
					       : hd[i].name[k]);
		nm[nl] = '\0';
		p = stpcpy(p + nl + 1, hd[i].value) + 1;
		st->rtr[i] =
			(nghttp2_nv){ (uint8_t *)nm, (uint8_t *)nm + nl + 1, nl,
				      vl, NGHTTP2_NV_FLAG_NONE };
	}
	st->nrtr = nh;
	return http_resp_end(r);
}

const struct http_proto http2_proto = {
	.name = "h2",
	.start = h2_start,
	.on_read = h2_read,
	.on_drain = h2_drain,
	.on_timeout = h2_timeout,
	.on_eof = h2_eof,
	.fini = h2_fini,
	.drain = h2_drain_conn,
	.resp_start = h2_resp_start,
	.resp_write = h2_resp_write,
	.resp_end = h2_resp_end,
	.resp_writable = h2_resp_writable,
	.resp_pending = h2_resp_pending,
	.pause_body = h2_pause_body,
};
