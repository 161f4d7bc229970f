/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The upstream HTTP client (http_client.h): per-host pools of HTTP/1.1
 * keep-alive connections and HTTP/2 sessions (nghttp2), over TCP or TLS
 * (OpenSSL bufferevents, ALPN), on one libevent loop.
 *
 * Every request waits in its host's queue until dispatch gives it a
 * connection: an idle HTTP/1.1 one, a new one (the request is bound to it
 * while it connects), or an HTTP/2 session with a free stream. A host
 * whose protocol is not known yet (TLS before the first ALPN answer) opens
 * one connection and keeps its queue until the handshake says h2 or
 * http/1.1. Dispatch runs from the loop (an event), never from inside a
 * caller's callback, so that callbacks see a stable state.
 *
 * A connection is freed only outside its own callbacks (busy counts the
 * nesting; conn_close under it marks the connection dead and the outer
 * frame frees it): nghttp2 sessions and parsers must not be freed from
 * their callbacks.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http_client.h"
#include "edgelb/util.h"

enum conn_state {
	CS_CONNECTING,
	CS_READY,
};

enum host_mode {
	MODE_UNKNOWN,
	MODE_H1,
	MODE_H2,
};

enum req_state {
	RS_QUEUED,     /* in the host's queue */
	RS_CONNECTING, /* bound to a connecting HTTP/1.1 connection */
	RS_SENT,       /* head sent, waiting for the response head */
	RS_BODY,       /* response head delivered */
};

struct hc_host;

struct hc_conn {
	struct http_client *c;
	struct hc_host *h;
	struct hc_conn *prev, *next; /* the host's connections */
	struct bufferevent *bev;
	struct event *timer; /* connect deadline, then idle expiry */
	enum conn_state st;
	enum host_mode mode; /* once ready */
	bool tls;
	bool idle;
	bool dead; /* closed under busy: freed by the outer frame */
	unsigned busy;
	uint64_t idle_since;
	uint64_t nserved; /* requests this connection carried */
	/* HTTP/1.1 */
	struct http_parse *p;
	struct http_client_req *cur;
	bool interim;	/* the message being parsed is a 1xx */
	bool upgrade;	/* carries an upgrade request: never pooled */
	bool upgraded;	/* its 101 came: the bufferevent goes to the caller */
	bool proto_err; /* HTTP/2: we sent GOAWAY with an error */
	int bad_err;	/* HTTP/1.1: a callback found the response bad */
	bool resp_end;
	/* HTTP/2 */
	nghttp2_session *s;
	/* requests sent on this session; the done ones (zombies) stay
	 * until their stream closes, as nghttp2 may still name them */
	struct http_client_req *reqs;
	uint32_t nstreams;
};

struct hc_host {
	struct http_client *c;
	struct hc_host *next;
	struct lb_addr addr;
	uint16_t port;
	enum http_client_proto proto;
	char *sni;
	enum host_mode mode;
	struct hc_conn *conns;
	uint32_t nconns; /* all, connecting included */
	uint32_t nidle;	 /* idle HTTP/1.1 ones */
	struct http_client_req *qhead, *qtail;
	uint32_t nqueued;
};

struct http_client_req {
	struct http_client *c;
	struct hc_host *h;
	struct hc_conn *conn;
	struct http_client_req *qnext;	       /* queue */
	struct http_client_req *sprev, *snext; /* a session's streams */
	struct http_client_req_ops ops;
	void *arg;
	char *method, *target, *authority;
	struct http_header *hdr;
	size_t nh;
	char *body; /* given whole */
	size_t body_n, body_off;
	int64_t body_len;
	bool piecewise, body_ended;
	uint64_t body_written;
	struct evbuffer *out; /* HTTP/2: piecewise body not yet framed */
	enum req_state state;
	bool idempotent, retried, got_bytes, paused, want_writable;
	bool done, reused, no_body;
	bool linked;   /* in its session's list (HTTP/2) */
	bool upgrade;  /* spec.upgrade */
	bool head_end; /* HTTP/2: the head came with END_STREAM */
	bool orphan;   /* in the client's list: its session went (HTTP/2) */
	int version;
	int cb_err;
	struct event *timer, *kick;
	uint64_t deadline, phase_deadline;
	/* HTTP/2 */
	int32_t sid;
	bool deferred, h2_ended, head_seen;
	struct http_msg msg;
	char *arena;
	size_t alen, acap;
	struct evbuffer *in; /* body received while paused */
	/* HTTP/2 response trailers: strings in tarena (max_head_bytes,
	 * allocated once: the pointers stay) */
	struct http_header *tr;
	size_t ntr;
	char *tarena;
	size_t talen;
	/* HTTP/2 request trailers, sent after the body */
	nghttp2_nv *qtr;
	size_t nqtr;
	char *qtrbuf;
};

struct http_client {
	struct event_base *base;
	struct http_client_opts o;
	SSL_CTX *ssl;
	struct hc_host *hosts;
	/* HTTP/2 requests whose response is whole and held paused by the
	 * caller while their connection closed */
	struct http_client_req *orphans;
	struct event *dispatch_ev;
	bool freeing;
	struct http_client_stats st;
};

const struct http_client_opts http_client_default_opts = {
	.max_conns_per_host = 32,
	.max_idle_per_host = 32,
	.h2_conns_per_host = 2,
	.max_streams = 100,
	.idle_timeout_ms = 30000,
	.connect_timeout_ms = 5000,
	.head_timeout_ms = 30000,
	.read_timeout_ms = 30000,
	.total_timeout_ms = 0,
	.max_head_bytes = 16384,
	.max_body_bytes = 1ull << 30,
	.out_high_water = 256 * 1024,
	.in_high_water = 64 * 1024,
	.h2_window = 256 * 1024,
};

static void conn_close(struct hc_conn *k, int err);
static void conn_idle(struct hc_conn *k);
static void h1_process(struct hc_conn *k);
static void h2_flush(struct hc_conn *k);
static void req_abandon(struct http_client_req *r, int err, int close_err);
static void schedule_dispatch(struct http_client *c);

static void
timer_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

static void
note_high(uint64_t *hw, size_t n)
{
	if (n > *hw)
		*hw = n;
}

/* ---- requests ---------------------------------------------------------- */

/* Arm the request's timer at its nearest deadline. */
static void
req_arm(struct http_client_req *r)
{
	uint64_t now = lb_now_ms(), at = r->deadline;

	if (r->phase_deadline != 0 && (at == 0 || r->phase_deadline < at))
		at = r->phase_deadline;
	if (at == 0) {
		evtimer_del(r->timer);
		return;
	}
	timer_ms(r->timer, at > now ? at - now : 0);
}

static void
req_phase(struct http_client_req *r, uint32_t ms)
{
	r->phase_deadline = ms != 0 ? lb_now_ms() + ms : 0;
	req_arm(r);
}

static void
queue_remove(struct hc_host *h, struct http_client_req *r)
{
	struct http_client_req **pp = &h->qhead, *prev = NULL;

	for (; *pp != NULL; prev = *pp, pp = &(*pp)->qnext) {
		if (*pp != r)
			continue;
		*pp = r->qnext;
		if (h->qtail == r)
			h->qtail = prev;
		r->qnext = NULL;
		h->nqueued--;
		return;
	}
}

static void
queue_push(struct hc_host *h, struct http_client_req *r, bool front)
{
	r->qnext = NULL;
	h->nqueued++;
	if (h->qhead == NULL) {
		h->qhead = h->qtail = r;
	} else if (front) {
		r->qnext = h->qhead;
		h->qhead = r;
	} else {
		h->qtail->qnext = r;
		h->qtail = r;
	}
}

/* Take r off the list that starts at *head (a connection's streams or the
 * client's orphans): both are linked through sprev/snext. */
static void
list_unlink(struct http_client_req **head, struct http_client_req *r)
{
	if (r->sprev != NULL)
		r->sprev->snext = r->snext;
	else if (*head == r)
		*head = r->snext;
	if (r->snext != NULL)
		r->snext->sprev = r->sprev;
	r->sprev = r->snext = NULL;
}

static void
stream_unlink(struct hc_conn *k, struct http_client_req *r)
{
	list_unlink(&k->reqs, r);
	r->linked = false;
}

static void
orphan_unlink(struct http_client_req *r)
{
	list_unlink(&r->c->orphans, r);
	r->orphan = false;
}

static void
req_free(struct http_client_req *r)
{
	if (r->timer != NULL)
		event_free(r->timer);
	if (r->kick != NULL)
		event_free(r->kick);
	if (r->out != NULL)
		evbuffer_free(r->out);
	if (r->in != NULL)
		evbuffer_free(r->in);
	free(r->arena);
	free(r->tr);
	free(r->tarena);
	free(r->qtr);
	free(r->qtrbuf);
	free(r->body);
	free(r->hdr);
	free(r->method);
	free(r);
}

/*
 * The request ended: on_done, then freed; an HTTP/2 request whose stream
 * still lives in the session stays as a zombie until the stream closes.
 * The caller settled the connection (HTTP/1.1: cur cleared).
 */
static void
req_finish(struct http_client_req *r, int err)
{
	struct http_client *c = r->c;
	struct hc_conn *k = r->conn;

	if (r->done)
		return;
	r->done = true;
	if (r->state == RS_QUEUED)
		queue_remove(r->h, r);
	if (r->orphan)
		orphan_unlink(r);
	if (k != NULL && k->cur == r)
		k->cur = NULL;
	evtimer_del(r->timer);
	event_del(r->kick);
	if (err == 0)
		c->st.completed++;
	else
		c->st.failed++;
	if (r->ops.on_done != NULL)
		r->ops.on_done(r->arg, r, err);
	if (r->linked && r->sid > 0)
		return; /* a zombie: freed when its stream closes */
	if (r->linked)
		stream_unlink(k, r);
	req_free(r);
}

/* The retry rule of http_client.h. */
static bool
req_retryable(const struct http_client_req *r)
{
	return r->idempotent && !r->retried && !r->piecewise && !r->got_bytes &&
	       !r->c->freeing;
}

static void
req_retry(struct http_client_req *r)
{
	struct hc_conn *k = r->conn;

	if (k != NULL && k->cur == r)
		k->cur = NULL;
	r->conn = NULL;
	r->retried = true;
	r->state = RS_QUEUED;
	r->body_off = 0;
	r->sid = 0;
	r->head_seen = r->h2_ended = r->deferred = false;
	r->phase_deadline = 0;
	req_arm(r);
	r->c->st.retries++;
	queue_push(r->h, r, true);
	schedule_dispatch(r->c);
}

static void
req_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct http_client_req *r = arg;

	(void)fd;
	(void)what;
	r->c->st.timeouts++;
	req_abandon(r, -ETIMEDOUT, -ETIMEDOUT);
}

static bool h2_deliver_pending(struct http_client_req *r);

/* From the loop: on_writable, or buffered body after a resume. */
static void
req_on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct http_client_req *r = arg;
	struct hc_conn *k = r->conn;
	bool gone;

	(void)fd;
	(void)what;
	if (r->done)
		return;
	if (k == NULL) {
		/* an HTTP/2 response that ended, its connection gone since */
		if (!r->paused && r->h2_ended && r->in != NULL)
			h2_deliver_pending(r);
		return;
	}
	if (!r->paused && k->mode == MODE_H1 && k->st == CS_READY &&
	    k->cur == r) {
		k->busy++;
		h1_process(k);
		/* r is freed once it ended (no new one is bound meanwhile:
		 * dispatch runs from the loop) */
		gone = k->cur != r;
		k->busy--;
		if (k->dead) {
			conn_close(k, 0);
			return;
		}
		if (gone)
			return;
	}
	if (!r->paused && k->mode == MODE_H2 && r->in != NULL &&
	    evbuffer_get_length(r->in) > 0) {
		k->busy++;
		gone = h2_deliver_pending(r);
		h2_flush(k);
		k->busy--;
		if (k->dead) {
			conn_close(k, 0);
			return;
		}
		if (gone)
			return;
	}
	if (r->want_writable && r->piecewise && !r->body_ended &&
	    r->ops.on_writable != NULL) {
		r->want_writable = false;
		r->ops.on_writable(r->arg, r);
	}
}

static void
req_kick(struct http_client_req *r)
{
	event_active(r->kick, EV_TIMEOUT, 0);
}

/* ---- HTTP/1.1 ---------------------------------------------------------- */

static bool
method_no_body(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 ||
	       strcmp(m, "DELETE") == 0 || strcmp(m, "OPTIONS") == 0 ||
	       strcmp(m, "TRACE") == 0;
}

/*
 * HTTP/1.1 on a plain socket writes what it queued at once, as the
 * server side does (http1.c, h1_flush): the bufferevent's write event is
 * enabled only while output is left over (the socket was full, or a
 * write failed: the event then reports the error), which saves arming
 * and disarming it (two epoll_ctl calls) and a loop turn per request.
 * TLS and HTTP/2 connections leave all writing to the bufferevent.
 */
static bool
h1_direct(const struct hc_conn *k)
{
	return k->mode == MODE_H1 && !k->tls && k->st == CS_READY &&
	       k->bev != NULL;
}

static void
h1_out_flush(struct hc_conn *k)
{
	struct evbuffer *out;

	if (!h1_direct(k))
		return;
	out = bufferevent_get_output(k->bev);
	if (evbuffer_get_length(out) == 0 ||
	    (bufferevent_get_enabled(k->bev) & EV_WRITE))
		return;
	/* a socket bufferevent freezes its output's start: thawed for it */
	evbuffer_unfreeze(out, 1);
	(void)evbuffer_write(out, bufferevent_getfd(k->bev));
	evbuffer_freeze(out, 1);
	if (evbuffer_get_length(out) > 0)
		bufferevent_enable(k->bev, EV_WRITE);
}

/* Append n bytes of s at *p (when p is not NULL); the length grows. */
static void
head_put(char **p, size_t *len, const char *s, size_t n)
{
	if (*p != NULL) {
		memcpy(*p, s, n);
		*p += n;
	}
	*len += n;
}

#define HEAD_PUT_LIT(p, len, lit) head_put(p, len, lit, sizeof(lit) - 1)
#define HEAD_PUT_STR(p, len, s)	  head_put(p, len, s, strlen(s))

/* r's HTTP/1.1 head into p (NULL: only measured); its length. */
static size_t
h1_head(const struct http_client_req *r, char *p)
{
	size_t len = 0;
	char num[24];
	int nl;

	HEAD_PUT_STR(&p, &len, r->method);
	HEAD_PUT_LIT(&p, &len, " ");
	HEAD_PUT_STR(&p, &len, r->target);
	HEAD_PUT_LIT(&p, &len, " HTTP/1.1\r\nHost: ");
	HEAD_PUT_STR(&p, &len, r->authority);
	HEAD_PUT_LIT(&p, &len, "\r\n");
	for (size_t i = 0; i < r->nh; i++) {
		/* "te: trailers" would need "Connection: TE": HTTP/2 only */
		if (strcmp(r->hdr[i].name, "te") == 0)
			continue;
		HEAD_PUT_STR(&p, &len, r->hdr[i].name);
		HEAD_PUT_LIT(&p, &len, ": ");
		HEAD_PUT_STR(&p, &len, r->hdr[i].value);
		HEAD_PUT_LIT(&p, &len, "\r\n");
	}
	if (r->upgrade)
		HEAD_PUT_LIT(&p, &len, "Connection: Upgrade\r\n");
	if (r->body_len < 0) {
		HEAD_PUT_LIT(&p, &len, "Transfer-Encoding: chunked\r\n");
	} else if (r->body_len > 0 || !method_no_body(r->method)) {
		nl = snprintf(num, sizeof(num), "%lld", (long long)r->body_len);
		HEAD_PUT_LIT(&p, &len, "Content-Length: ");
		head_put(&p, &len, num, (size_t)nl);
		HEAD_PUT_LIT(&p, &len, "\r\n");
	}
	HEAD_PUT_LIT(&p, &len, "\r\n");
	return len;
}

/* Send r's head (and a whole body) on k. 0 or -ENOMEM. */
static int
h1_send(struct hc_conn *k, struct http_client_req *r)
{
	struct evbuffer *out = bufferevent_get_output(k->bev);
	struct evbuffer_iovec v;
	size_t len;
	int rc = 0;

	r->conn = k;
	k->cur = r;
	r->reused = k->nserved > 0;
	if (r->reused)
		k->c->st.reuses++;
	k->nserved++;
	r->version = 1;
	/* measured, then written in place: one append, no formatting */
	len = h1_head(r, NULL);
	if (evbuffer_reserve_space(out, (ev_ssize_t)len, &v, 1) < 1)
		return -ENOMEM;
	v.iov_len = h1_head(r, v.iov_base);
	rc |= evbuffer_commit_space(out, &v, 1);
	if (r->body != NULL)
		rc |= evbuffer_add(out, r->body, r->body_n);
	if (rc != 0)
		return -ENOMEM;
	note_high(&k->c->st.out_high, evbuffer_get_length(out));
	r->state = RS_SENT;
	req_phase(r, k->c->o.head_timeout_ms);
	h1_out_flush(k);
	bufferevent_enable(k->bev, EV_READ);
	if (r->piecewise && !r->body_ended) {
		r->want_writable = true;
		req_kick(r);
	}
	return 0;
}

static int
h1_on_head(void *arg, struct http_msg *m)
{
	struct hc_conn *k = arg;
	struct http_client_req *r = k->cur;
	int rc;

	if (m->status == 101 && r->upgrade) {
		const char *conn = http_msg_header(m, "Connection");

		/* http_parser stops at the head only with both headers */
		if (http_msg_header(m, "Upgrade") == NULL || conn == NULL ||
		    strcasestr(conn, "upgrade") == NULL) {
			k->bad_err = -EBADMSG;
			return -EBADMSG;
		}
		k->upgraded = true;
		r->state = RS_BODY;
		req_phase(r, 0);
		if (r->ops.on_head != NULL) {
			rc = r->ops.on_head(r->arg, r, m);
			if (rc < 0) {
				r->cb_err = rc;
				return rc;
			}
		}
		return HTTP_PARSE_NO_BODY;
	}
	if (m->status < 200) {
		if (m->status == 101) {
			k->bad_err = -EBADMSG; /* no upgrade was asked for */
			return -EBADMSG;
		}
		k->interim = true;
		return HTTP_PARSE_NO_BODY;
	}
	r->no_body = strcmp(r->method, "HEAD") == 0 || m->status == 204 ||
		     m->status == 304;
	/* the body limit is checked here, not by the parser: a HEAD or 304
	 * may announce any length */
	if (!r->no_body && m->content_length >= 0 &&
	    (uint64_t)m->content_length > k->c->o.max_body_bytes) {
		k->bad_err = -EFBIG;
		return -EFBIG;
	}
	r->state = RS_BODY;
	req_phase(r, k->c->o.read_timeout_ms);
	if (r->ops.on_head != NULL) {
		rc = r->ops.on_head(r->arg, r, m);
		if (rc < 0) {
			r->cb_err = rc;
			return rc;
		}
	}
	return r->no_body ? HTTP_PARSE_NO_BODY : 0;
}

static int
h1_on_body(void *arg, struct http_msg *m, const char *p, size_t n)
{
	struct hc_conn *k = arg;
	struct http_client_req *r = k->cur;
	int rc;

	if (m->body_bytes > k->c->o.max_body_bytes) {
		k->bad_err = -EFBIG; /* chunked or EOF-delimited */
		return -EFBIG;
	}
	if (r->ops.on_body != NULL) {
		rc = r->ops.on_body(r->arg, r, p, n);
		if (rc < 0) {
			r->cb_err = rc;
			return rc;
		}
	}
	if (r->paused)
		http_parse_pause(k->p, true);
	return 0;
}

static int
h1_on_end(void *arg, struct http_msg *m)
{
	struct hc_conn *k = arg;

	(void)m;
	if (k->interim)
		k->interim = false;
	else
		k->resp_end = true;
	return 0;
}

static const struct http_parse_ops h1_parse_ops = {
	.on_head = h1_on_head,
	.on_body = h1_on_body,
	.on_end = h1_on_end,
};

/* An upgrade's 101 was read: the bufferevent goes to the caller, with
 * what followed the 101 in its input; the connection closes without it. */
static void
h1_upgraded(struct hc_conn *k)
{
	struct http_client_req *r = k->cur;
	struct bufferevent *bev = k->bev;

	k->cur = NULL;
	k->bev = NULL;
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	bufferevent_set_timeouts(bev, NULL, NULL);
	bufferevent_setwatermark(bev, EV_READ | EV_WRITE, 0, 0);
	bufferevent_disable(bev, EV_READ);
	bufferevent_enable(bev, EV_WRITE); /* h1_direct's: as it was made */
	if (r->ops.on_upgrade != NULL)
		r->ops.on_upgrade(r->arg, r, bev);
	else
		bufferevent_free(bev);
	req_finish(r, 0);
	conn_close(k, 0);
}

/* The response on k ended: pool the connection or close it. */
static void
h1_complete(struct hc_conn *k, bool eof)
{
	struct http_client_req *r = k->cur;
	bool keep = !eof && !k->upgrade && http_parse_msg(k->p)->keep_alive &&
		    (!r->piecewise || r->body_ended) &&
		    evbuffer_get_length(bufferevent_get_input(k->bev)) == 0;

	k->resp_end = false;
	k->cur = NULL;
	if (!keep || http_parse_next(k->p) < 0) {
		req_finish(r, 0);
		conn_close(k, 0);
		return;
	}
	conn_idle(k);
	req_finish(r, 0);
}

/* A bad response: its request fails, the connection closes. */
static void
h1_bad(struct hc_conn *k, int err)
{
	struct http_client_req *r = k->cur;

	k->c->st.bad_responses++;
	k->cur = NULL;
	if (r != NULL)
		req_finish(r, err);
	conn_close(k, 0);
}

/* The first contiguous bytes of in (never an empty chain). */
static bool
in_chunk(struct evbuffer *in, struct evbuffer_iovec *v)
{
	size_t len = evbuffer_get_length(in);

	if (len == 0)
		return false;
	if (evbuffer_peek(in, -1, NULL, v, 1) == 1 && v->iov_len > 0)
		return true;
	v->iov_len = len < 16384 ? len : 16384;
	v->iov_base = evbuffer_pullup(in, (ssize_t)v->iov_len);
	return v->iov_base != NULL;
}

/* Feed the buffered input to the parser, as far as it goes. */
static void
h1_process(struct hc_conn *k)
{
	struct evbuffer *in = bufferevent_get_input(k->bev);
	size_t len;

	while (!k->dead && (len = evbuffer_get_length(in)) > 0) {
		struct http_client_req *r = k->cur;
		struct evbuffer_iovec v;
		size_t used = 0;
		int rc;

		if (r == NULL || r->state < RS_SENT) {
			/* bytes nobody asked for: the connection is off */
			h1_bad(k, -EBADMSG);
			return;
		}
		if (r->paused)
			return;
		if (!in_chunk(in, &v))
			return;
		rc = http_parse_feed(k->p, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		if (used > 0)
			r->got_bytes = true;
		if (rc == -ECANCELED && k->bad_err != 0) {
			h1_bad(k, k->bad_err);
			return;
		}
		if (rc == -ECANCELED) {
			k->cur = NULL;
			req_finish(r, r->cb_err < 0 ? r->cb_err : -EBADMSG);
			conn_close(k, 0);
			return;
		}
		if (rc < 0) {
			h1_bad(k, rc);
			return;
		}
		if (r->state == RS_BODY && !r->paused)
			req_phase(r, k->c->o.read_timeout_ms);
		if (http_parse_done(k->p)) {
			if (k->resp_end && k->upgraded) {
				h1_upgraded(k);
				return;
			}
			if (k->resp_end) {
				h1_complete(k, false);
				return;
			}
			http_parse_next(k->p); /* after a 1xx */
			continue;
		}
		if (used < v.iov_len)
			return; /* paused */
	}
}

/* The connection ended (EOF or error) while k carried a request. */
static void
h1_ended(struct hc_conn *k, int err)
{
	struct http_client_req *r = k->cur;
	int rc;

	if (r == NULL || r->state < RS_SENT) {
		conn_close(k, err);
		return;
	}
	h1_process(k);
	if (k->dead || k->cur != r)
		return;
	if (!r->got_bytes && r->reused && req_retryable(r)) {
		req_retry(r);
		conn_close(k, 0);
		return;
	}
	if (err == 0 && http_parse_started(k->p)) {
		rc = http_parse_eof(k->p);
		if (rc == 0 && http_parse_done(k->p) && k->resp_end) {
			h1_complete(k, true);
			return;
		}
	}
	k->cur = NULL;
	req_finish(r, -ECONNRESET);
	conn_close(k, 0);
}

/* ---- HTTP/2 ------------------------------------------------------------ */

static struct http_client_req *
h2_req(struct hc_conn *k, int32_t sid)
{
	struct http_client_req *r =
		nghttp2_session_get_stream_user_data(k->s, sid);

	return r != NULL && !r->done ? r : NULL;
}

static void
h2_fail(struct hc_conn *k, struct http_client_req *r, int err, uint32_t code)
{
	if (r->sid > 0)
		nghttp2_submit_rst_stream(k->s, NGHTTP2_FLAG_NONE, r->sid,
					  code);
	req_finish(r, err);
}

/*
 * End r with err before its answer ended (timeout, cancel): an HTTP/2
 * stream is reset and its connection stays for the others; an HTTP/1.1
 * connection (or one still connecting) goes with it, closed with
 * close_err.
 */
static void
req_abandon(struct http_client_req *r, int err, int close_err)
{
	struct hc_conn *k = r->conn;

	if (k == NULL) {
		req_finish(r, err);
		return;
	}
	if (k->mode == MODE_H2 && k->st == CS_READY) {
		k->busy++;
		h2_fail(k, r, err, NGHTTP2_CANCEL);
		h2_flush(k);
		k->busy--;
		if (k->dead)
			conn_close(k, 0);
		return;
	}
	k->cur = NULL;
	req_finish(r, err);
	conn_close(k, close_err);
}

/* Copy a header into the request's arena. 0 or -EMSGSIZE. */
static int
arena_add(struct http_client_req *r, const uint8_t *name, size_t nl,
	  const uint8_t *value, size_t vl, size_t max)
{
	size_t need = nl + vl + 2;

	if (r->msg.nheaders >= HTTP_MAX_HEADERS || r->alen + need > max)
		return -EMSGSIZE;
	/* the arena is allocated at max bytes: pointers into it stay */
	memcpy(r->arena + r->alen, name, nl);
	r->arena[r->alen + nl] = '\0';
	memcpy(r->arena + r->alen + nl + 1, value, vl);
	r->arena[r->alen + nl + 1 + vl] = '\0';
	r->msg.headers[r->msg.nheaders].name = r->arena + r->alen;
	r->msg.headers[r->msg.nheaders].value = r->arena + r->alen + nl + 1;
	r->msg.nheaders++;
	r->alen += need;
	return 0;
}

/* A response trailer, kept for http_client_req_trailers; over
 * HTTP_MAX_HEADERS or max_head_bytes the request fails (-EMSGSIZE). */
static int
h2_on_trailer(struct hc_conn *k, struct http_client_req *r, const uint8_t *name,
	      size_t nl, const uint8_t *value, size_t vl)
{
	size_t max = k->c->o.max_head_bytes, need = nl + vl + 2;

	if (r->tarena == NULL) {
		r->tarena = malloc(max);
		r->tr = calloc(HTTP_MAX_HEADERS, sizeof(*r->tr));
		if (r->tarena == NULL || r->tr == NULL)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	if (r->ntr >= HTTP_MAX_HEADERS || r->talen + need > max) {
		k->c->st.bad_responses++;
		h2_fail(k, r, -EMSGSIZE, NGHTTP2_CANCEL);
		return 0;
	}
	memcpy(r->tarena + r->talen, name, nl);
	r->tarena[r->talen + nl] = '\0';
	memcpy(r->tarena + r->talen + nl + 1, value, vl);
	r->tarena[r->talen + nl + 1 + vl] = '\0';
	r->tr[r->ntr].name = r->tarena + r->talen;
	r->tr[r->ntr].value = r->tarena + r->talen + nl + 1;
	r->ntr++;
	r->talen += need;
	return 0;
}

static int
h2_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
	     size_t nl, const uint8_t *value, size_t vl, uint8_t flags,
	     void *ud)
{
	struct hc_conn *k = ud;
	struct http_client_req *r;
	size_t max = k->c->o.max_head_bytes;

	(void)s;
	(void)flags;
	if (f->hd.type != NGHTTP2_HEADERS)
		return 0;
	r = h2_req(k, f->hd.stream_id);
	if (r == NULL)
		return 0;
	if (r->head_seen)
		return h2_on_trailer(k, r, name, nl, value, vl);
	if (r->arena == NULL) {
		r->arena = malloc(max);
		if (r->arena == NULL)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		r->acap = max;
	}
	if (nl == 7 && memcmp(name, ":status", 7) == 0) {
		if (vl != 3 || !isdigit(value[0]) || !isdigit(value[1]) ||
		    !isdigit(value[2])) {
			k->c->st.bad_responses++;
			h2_fail(k, r, -EBADMSG, NGHTTP2_PROTOCOL_ERROR);
			return 0;
		}
		r->msg.status = (value[0] - '0') * 100 + (value[1] - '0') * 10 +
				(value[2] - '0');
		r->alen += nl + vl;
		if (r->alen > max)
			goto too_big;
		return 0;
	}
	if (arena_add(r, name, nl, value, vl, max) < 0)
		goto too_big;
	return 0;
too_big:
	k->c->st.bad_responses++;
	h2_fail(k, r, -EMSGSIZE, NGHTTP2_CANCEL);
	return 0;
}

static void
h2_end(struct hc_conn *k, struct http_client_req *r)
{
	(void)k;
	if (r->in != NULL && evbuffer_get_length(r->in) > 0)
		return; /* delivered, then ended, on resume */
	req_finish(r, 0);
}

static int
h2_head(struct hc_conn *k, struct http_client_req *r, bool end)
{
	const char *cl;
	char *e;
	int rc;

	if (r->msg.status >= 100 && r->msg.status < 200) {
		if (end || r->msg.status == 101) {
			k->c->st.bad_responses++;
			h2_fail(k, r, -EBADMSG, NGHTTP2_PROTOCOL_ERROR);
			return 0;
		}
		r->msg.nheaders = 0; /* interim: the final head follows */
		r->alen = 0;
		r->msg.status = 0;
		return 0;
	}
	if (r->msg.status == 0) {
		k->c->st.bad_responses++;
		h2_fail(k, r, -EBADMSG, NGHTTP2_PROTOCOL_ERROR);
		return 0;
	}
	r->head_seen = true;
	r->msg.version_major = 2;
	r->msg.version_minor = 0;
	r->msg.content_length = -1;
	cl = http_msg_header(&r->msg, "content-length");
	if (cl != NULL) {
		errno = 0;
		r->msg.content_length = (int64_t)strtoll(cl, &e, 10);
		if (errno != 0 || *e != '\0' || r->msg.content_length < 0) {
			k->c->st.bad_responses++;
			h2_fail(k, r, -EBADMSG, NGHTTP2_PROTOCOL_ERROR);
			return 0;
		}
		if ((uint64_t)r->msg.content_length > k->c->o.max_body_bytes &&
		    strcmp(r->method, "HEAD") != 0 && r->msg.status != 304) {
			k->c->st.bad_responses++;
			h2_fail(k, r, -EFBIG, NGHTTP2_CANCEL);
			return 0;
		}
	}
	r->msg.keep_alive = true;
	r->state = RS_BODY;
	r->head_end = end;
	req_phase(r, k->c->o.read_timeout_ms);
	if (r->ops.on_head != NULL) {
		rc = r->ops.on_head(r->arg, r, &r->msg);
		if (rc < 0) {
			h2_fail(k, r, rc, NGHTTP2_CANCEL);
			return 0;
		}
	}
	if (end)
		h2_end(k, r);
	return 0;
}

static int
h2_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct hc_conn *k = ud;
	struct http_client_req *r;
	bool end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;

	(void)s;
	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
		return 0;
	r = h2_req(k, f->hd.stream_id);
	if (r == NULL)
		return 0;
	r->got_bytes = true;
	if (f->hd.type == NGHTTP2_HEADERS && !r->head_seen)
		return h2_head(k, r, end);
	if (end) {
		r->h2_ended = true;
		h2_end(k, r);
	}
	return 0;
}

/* Hand n bytes to the caller and reopen the window for them. */
static int
h2_deliver(struct hc_conn *k, struct http_client_req *r, const char *p,
	   size_t n)
{
	int rc = 0;

	if (r->ops.on_body != NULL)
		rc = r->ops.on_body(r->arg, r, p, n);
	if (rc < 0) {
		h2_fail(k, r, rc, NGHTTP2_CANCEL);
		return rc;
	}
	if (k == NULL)
		return 0; /* the session is gone (an orphan) */
	if (r->sid > 0)
		nghttp2_session_consume(k->s, r->sid, n);
	else
		nghttp2_session_consume_connection(k->s, n);
	return 0;
}

/* Deliver what came while paused. True when r ended (it may be freed). */
static bool
h2_deliver_pending(struct http_client_req *r)
{
	struct hc_conn *k = r->conn;
	char buf[16384];

	while (!r->paused && evbuffer_get_length(r->in) > 0) {
		int n = evbuffer_remove(r->in, buf, sizeof(buf));

		if (n > 0 && h2_deliver(k, r, buf, (size_t)n) < 0)
			return true;
	}
	if (r->h2_ended && evbuffer_get_length(r->in) == 0) {
		req_finish(r, 0);
		return true;
	}
	if (!r->paused)
		req_phase(r, r->c->o.read_timeout_ms);
	return false;
}

static int
h2_on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *p,
	   size_t n, void *ud)
{
	struct hc_conn *k = ud;
	struct http_client_req *r = h2_req(k, sid);

	(void)flags;
	if (r == NULL) {
		nghttp2_session_consume_connection(s, n);
		return 0;
	}
	r->msg.body_bytes += n;
	if (r->msg.body_bytes > k->c->o.max_body_bytes) {
		k->c->st.bad_responses++;
		nghttp2_session_consume_connection(s, n);
		h2_fail(k, r, -EFBIG, NGHTTP2_CANCEL);
		return 0;
	}
	if (r->paused || (r->in != NULL && evbuffer_get_length(r->in) > 0)) {
		/* bounded by the stream's window: not consumed, not reopened */
		if (r->in == NULL)
			r->in = evbuffer_new();
		if (r->in == NULL || evbuffer_add(r->in, p, n) < 0) {
			h2_fail(k, r, -ENOMEM, NGHTTP2_INTERNAL_ERROR);
			return 0;
		}
		note_high(&k->c->st.in_high, evbuffer_get_length(r->in));
		return 0;
	}
	if (h2_deliver(k, r, (const char *)p, n) == 0)
		req_phase(r, k->c->o.read_timeout_ms);
	return 0;
}

static int
h2_on_close(nghttp2_session *s, int32_t sid, uint32_t code, void *ud)
{
	struct hc_conn *k = ud;
	struct http_client_req *r =
		nghttp2_session_get_stream_user_data(s, sid);

	if (k->nstreams > 0)
		k->nstreams--;
	schedule_dispatch(k->c);
	if (r == NULL)
		return 0;
	r->sid = 0; /* the stream is gone from the session */
	if (r->done) {
		stream_unlink(k, r);
		req_free(r);
		return 0;
	}
	if (code == NGHTTP2_REFUSED_STREAM && req_retryable(r)) {
		stream_unlink(k, r);
		req_retry(r);
		return 0;
	}
	if (r->h2_ended)
		return 0; /* paused data waits for the caller */
	if (code == NGHTTP2_PROTOCOL_ERROR)
		k->c->st.bad_responses++;
	req_finish(r, code == NGHTTP2_PROTOCOL_ERROR ? -EBADMSG : -ECONNRESET);
	return 0;
}

static ssize_t
h2_body_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len,
	     uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct http_client_req *r = src->ptr;
	struct hc_conn *k = ud;
	size_t n, left;

	(void)s;
	(void)sid;
	if (r->body != NULL) {
		n = r->body_n - r->body_off;
		if (n > len)
			n = len;
		memcpy(buf, r->body + r->body_off, n);
		r->body_off += n;
		if (r->body_off == r->body_n)
			*flags |= NGHTTP2_DATA_FLAG_EOF;
		return (ssize_t)n;
	}
	n = r->out != NULL ? (size_t)evbuffer_remove(r->out, buf, len) : 0;
	if (n == 0 && !r->body_ended) {
		r->deferred = true;
		r->want_writable = true;
		req_kick(r);
		return NGHTTP2_ERR_DEFERRED;
	}
	left = r->out != NULL ? evbuffer_get_length(r->out) : 0;
	if (r->body_ended && left == 0) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (r->nqtr > 0 &&
		    nghttp2_submit_trailer(s, sid, r->qtr, r->nqtr) == 0)
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
	}
	if (!r->body_ended && left <= k->c->o.out_high_water / 2) {
		r->want_writable = true;
		req_kick(r);
	}
	return (ssize_t)n;
}

/* Submit r as a stream on k. 0 or -errno. */
static int
h2_submit(struct hc_conn *k, struct http_client_req *r)
{
	nghttp2_nv nv[4 + HTTP_MAX_HEADERS + 1];
	nghttp2_data_provider prd = { .read_callback = h2_body_read };
	char cl[24];
	size_t n = 0;
	int32_t sid;

#define NV(N, V)                                                               \
	nv[n++] = (nghttp2_nv){ (uint8_t *)(N), (uint8_t *)(V), strlen(N),     \
				strlen(V), NGHTTP2_NV_FLAG_NONE }
	NV(":method", r->method);
	NV(":scheme", k->tls ? "https" : "http");
	NV(":authority", r->authority);
	NV(":path", r->target);
	for (size_t i = 0; i < r->nh; i++)
		NV(r->hdr[i].name, r->hdr[i].value);
	if (r->body_len > 0 ||
	    (r->body_len == 0 && !method_no_body(r->method))) {
		snprintf(cl, sizeof(cl), "%lld", (long long)r->body_len);
		NV("content-length", cl);
	}
#undef NV
	prd.source.ptr = r;
	r->conn = k;
	r->version = 2;
	sid = nghttp2_submit_request(k->s, NULL, nv, n,
				     r->body_len != 0 ? &prd : NULL, r);
	if (sid < 0) {
		r->conn = NULL;
		return sid == NGHTTP2_ERR_NOMEM ? -ENOMEM : -EIO;
	}
	r->sid = sid;
	r->linked = true;
	r->sprev = NULL;
	r->snext = k->reqs;
	if (k->reqs != NULL)
		k->reqs->sprev = r;
	k->reqs = r;
	k->nstreams++;
	k->nserved++;
	k->c->st.h2_streams++;
	r->state = RS_SENT;
	req_phase(r, k->c->o.head_timeout_ms);
	if (r->piecewise && !r->body_ended) {
		r->want_writable = true;
		req_kick(r);
	}
	return 0;
}

/* Write what the session has to send, up to the output high water. */
static void
h2_flush(struct hc_conn *k)
{
	struct evbuffer *out;

	if (k->dead || k->s == NULL)
		return;
	out = bufferevent_get_output(k->bev);
	while (evbuffer_get_length(out) < k->c->o.out_high_water) {
		const uint8_t *p;
		ssize_t n = nghttp2_session_mem_send(k->s, &p);

		if (n < 0) {
			conn_close(k, -EIO);
			return;
		}
		if (n == 0)
			break;
		if (evbuffer_add(out, p, (size_t)n) < 0) {
			conn_close(k, -ENOMEM);
			return;
		}
	}
	/* the session is over: GOAWAY both ways, or a connection error */
	if (!nghttp2_session_want_read(k->s) &&
	    !nghttp2_session_want_write(k->s)) {
		if (k->proto_err)
			k->c->st.bad_responses++;
		conn_close(k, k->proto_err ? -EBADMSG : 0);
	}
}

static void
h2_process(struct hc_conn *k)
{
	struct evbuffer *in = bufferevent_get_input(k->bev);
	struct evbuffer_iovec v;

	note_high(&k->c->st.in_high, evbuffer_get_length(in));
	while (!k->dead && in_chunk(in, &v)) {
		ssize_t n =
			nghttp2_session_mem_recv(k->s, v.iov_base, v.iov_len);

		if (k->dead)
			return;
		if (n < 0) {
			k->c->st.bad_responses++;
			conn_close(k, -EBADMSG);
			return;
		}
		evbuffer_drain(in, (size_t)n);
		if (n == 0)
			break; /* the session takes no more (terminated) */
	}
	h2_flush(k);
}

static int
h2_on_send(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct hc_conn *k = ud;

	(void)s;
	if (f->hd.type == NGHTTP2_GOAWAY &&
	    f->goaway.error_code != NGHTTP2_NO_ERROR)
		k->proto_err = true; /* the peer broke the protocol */
	return 0;
}

static int
h2_start(struct hc_conn *k)
{
	nghttp2_session_callbacks *cbs = NULL;
	nghttp2_option *opt = NULL;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, k->c->o.h2_window },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
		  k->c->o.max_head_bytes },
	};
	int rc = -ENOMEM;

	if (nghttp2_session_callbacks_new(&cbs) != 0 ||
	    nghttp2_option_new(&opt) != 0)
		goto out;
	nghttp2_session_callbacks_set_on_header_callback(cbs, h2_on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, h2_on_frame);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
								  h2_on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
							       h2_on_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs, h2_on_send);
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_peer_max_concurrent_streams(opt,
						       k->c->o.max_streams);
	if (nghttp2_session_client_new2(&k->s, cbs, k, opt) != 0)
		goto out;
	rc = -EIO;
	if (nghttp2_submit_settings(k->s, NGHTTP2_FLAG_NONE, iv,
				    sizeof(iv) / sizeof(iv[0])) != 0)
		goto out;
	/* the connection window: room for a few streams at full speed */
	if (nghttp2_session_set_local_window_size(
		    k->s, NGHTTP2_FLAG_NONE, 0,
		    (int32_t)(4 * k->c->o.h2_window)) != 0)
		goto out;
	k->c->st.h2_conns++;
	rc = 0;
out:
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cbs);
	return rc;
}

/* Whether k takes one more stream now. */
static bool
h2_has_room(const struct hc_conn *k)
{
	uint32_t max = k->c->o.max_streams,
		 peer = nghttp2_session_get_remote_settings(
			 k->s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);

	if (peer < max)
		max = peer;
	return k->st == CS_READY && !k->dead && k->nstreams < max &&
	       nghttp2_session_check_request_allowed(k->s);
}

/* ---- connections ------------------------------------------------------- */

static void
conn_unlink(struct hc_conn *k)
{
	struct hc_host *h = k->h;

	if (k->prev != NULL)
		k->prev->next = k->next;
	else
		h->conns = k->next;
	if (k->next != NULL)
		k->next->prev = k->prev;
	h->nconns--;
	if (k->idle && k->mode == MODE_H1)
		h->nidle--;
	k->c->st.conns_open--;
}

/*
 * Close k: its requests fail with err (-ECONNRESET when 0); HTTP/1.1
 * requests a caller did not settle first are failed here too.
 */
static void
conn_close(struct hc_conn *k, int err)
{
	struct http_client *c = k->c;
	struct http_client_req *r, *next;

	if (err == 0)
		err = -ECONNRESET;
	if (!k->dead) {
		k->dead = true;
		conn_unlink(k);
		/* HTTP/1.1 request (or one bound while connecting) */
		r = k->cur;
		k->cur = NULL;
		if (r != NULL) {
			r->conn = NULL;
			req_finish(r, err);
		}
		/* HTTP/2: they stay linked (nghttp2 may still name them while
		 * busy), freed below */
		for (r = k->reqs; r != NULL; r = next) {
			next = r->snext;
			if (r->done)
				continue;
			if (r->h2_ended && r->in != NULL &&
			    evbuffer_get_length(r->in) > 0) {
				/* the response is whole, the caller paused:
				 * it goes on without the connection */
				stream_unlink(k, r);
				r->conn = NULL;
				r->sid = 0;
				r->orphan = true;
				r->snext = c->orphans;
				if (c->orphans != NULL)
					c->orphans->sprev = r;
				c->orphans = r;
				continue;
			}
			req_finish(r, err);
		}
		schedule_dispatch(c);
	}
	if (k->busy > 0)
		return; /* the outer frame frees it */
	if (k->s != NULL)
		nghttp2_session_del(k->s); /* calls no stream callbacks */
	for (r = k->reqs; r != NULL; r = next) {
		next = r->snext;
		req_free(r);
	}
	http_parse_free(k->p);
	if (k->bev != NULL)
		bufferevent_free(k->bev);
	event_free(k->timer);
	free(k);
}

static void
conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct hc_conn *k = arg;

	(void)fd;
	(void)what;
	if (k->st == CS_CONNECTING) {
		k->c->st.timeouts++;
		k->c->st.connect_errors++;
		if (k->cur == NULL) {
			/* the host's queue waited for this connection */
			struct hc_host *h = k->h;

			while (h->qhead != NULL)
				req_finish(h->qhead, -ETIMEDOUT);
		}
		conn_close(k, -ETIMEDOUT);
		return;
	}
	/* idle expiry */
	k->c->st.evictions++;
	conn_close(k, 0);
}

/* k carries nothing now: keep it for the next request, or close it. */
static void
conn_idle(struct hc_conn *k)
{
	struct hc_host *h = k->h;
	uint32_t max = k->c->o.max_idle_per_host;

	/* with requests waiting, dispatch takes it (and trims after) */
	if (h->nidle >= max && h->qhead == NULL) {
		struct hc_conn *old = NULL;

		for (struct hc_conn *x = h->conns; x != NULL; x = x->next)
			if (x->idle &&
			    (old == NULL || x->idle_since < old->idle_since))
				old = x;
		k->c->st.evictions++;
		if (old == NULL || max == 0) {
			conn_close(k, 0);
			return;
		}
		conn_close(old, 0);
	}
	k->idle = true;
	k->idle_since = lb_now_ms();
	h->nidle++;
	timer_ms(k->timer, k->c->o.idle_timeout_ms);
	schedule_dispatch(k->c);
}

static void
conn_unidle(struct hc_conn *k)
{
	if (!k->idle)
		return;
	k->idle = false;
	if (k->mode == MODE_H1)
		k->h->nidle--;
	evtimer_del(k->timer);
}

static void
conn_on_read(struct bufferevent *bev, void *arg)
{
	struct hc_conn *k = arg;

	(void)bev;
	k->busy++;
	if (k->mode == MODE_H2) {
		h2_process(k);
	} else {
		note_high(&k->c->st.in_high,
			  evbuffer_get_length(bufferevent_get_input(k->bev)));
		if (k->idle)
			conn_close(k, 0); /* bytes nobody asked for */
		else
			h1_process(k);
	}
	k->busy--;
	if (k->dead)
		conn_close(k, 0);
}

static void
conn_on_write(struct bufferevent *bev, void *arg)
{
	struct hc_conn *k = arg;
	struct http_client_req *r = k->cur;

	(void)bev;
	if (k->mode == MODE_H2) {
		k->busy++;
		h2_flush(k);
		k->busy--;
		if (k->dead)
			conn_close(k, 0);
		return;
	}
	if (h1_direct(k) &&
	    evbuffer_get_length(bufferevent_get_output(k->bev)) == 0)
		bufferevent_disable(k->bev, EV_WRITE); /* see h1_direct */
	if (r != NULL && r->piecewise && !r->body_ended && r->want_writable)
		req_kick(r);
}

/* The TCP connect (and TLS handshake) succeeded. */
static void
conn_ready(struct hc_conn *k)
{
	struct hc_host *h = k->h;
	struct http_client_req *r = k->cur;

	evtimer_del(k->timer);
	k->st = CS_READY;
	k->c->st.connects++;
	k->mode = h->proto == HTTP_CLIENT_H2C ? MODE_H2 : MODE_H1;
	if (k->tls) {
		const unsigned char *alpn = NULL;
		unsigned alen = 0;

		SSL_get0_alpn_selected(bufferevent_openssl_get_ssl(k->bev),
				       &alpn, &alen);
		k->mode = alen == 2 && memcmp(alpn, "h2", 2) == 0 ? MODE_H2
								  : MODE_H1;
		h->mode = k->mode;
	}
	if (k->mode == MODE_H2) {
		if (h2_start(k) < 0) {
			conn_close(k, -ENOMEM);
			return;
		}
		if (r != NULL) {
			/* bound while the protocol was unknown */
			k->cur = NULL;
			r->conn = NULL;
			r->state = RS_QUEUED;
			queue_push(h, r, true);
		}
		bufferevent_enable(k->bev, EV_READ);
		h2_flush(k);
		schedule_dispatch(k->c);
		return;
	}
	k->p = http_parse_new(HTTP_PARSE_RESPONSE, k->c->o.max_head_bytes,
			      UINT64_MAX, &h1_parse_ops, k);
	if (k->p == NULL) {
		conn_close(k, -ENOMEM);
		return;
	}
	if (h1_direct(k) &&
	    evbuffer_get_length(bufferevent_get_output(k->bev)) == 0)
		bufferevent_disable(k->bev, EV_WRITE); /* see h1_direct */
	if (r == NULL) {
		conn_idle(k);
		return;
	}
	k->cur = NULL;
	if (h1_send(k, r) < 0)
		conn_close(k, -ENOMEM);
}

static int
tls_error(struct hc_conn *k)
{
	unsigned long e = bufferevent_get_openssl_error(k->bev);
	SSL *ssl = bufferevent_openssl_get_ssl(k->bev);

	if (e != 0 || (ssl != NULL && SSL_get_verify_result(ssl) != X509_V_OK))
		return -EPROTO;
	return 0;
}

static void
conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct hc_conn *k = arg;
	int err = 0;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		k->busy++;
		conn_ready(k);
		k->busy--;
		if (k->dead)
			conn_close(k, 0);
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (what & BEV_EVENT_ERROR) {
		err = EVUTIL_SOCKET_ERROR() != 0 ? -EVUTIL_SOCKET_ERROR()
						 : -ECONNRESET;
		if (k->tls && tls_error(k) < 0) {
			err = -EPROTO;
			if (k->st == CS_CONNECTING)
				k->c->st.tls_errors++;
		}
	}
	k->busy++;
	if (k->st == CS_CONNECTING) {
		if (err == 0)
			err = k->tls ? -EPROTO : -ECONNRESET;
		k->c->st.connect_errors++;
		if (k->cur == NULL)
			while (k->h->qhead != NULL)
				req_finish(k->h->qhead, err);
		conn_close(k, err);
	} else if (k->mode == MODE_H2) {
		if (!k->dead)
			h2_process(k);
		conn_close(k, -ECONNRESET);
	} else {
		h1_ended(k, err);
	}
	k->busy--;
	if (k->dead)
		conn_close(k, 0);
}

static int
sockaddr_of(const struct hc_host *h, struct sockaddr_storage *ss,
	    socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (h->addr.family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(h->port);
		memcpy(&in->sin_addr, &h->addr.v4, 4);
		*len = sizeof(*in);
		return 0;
	}
	if (h->addr.family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(h->port);
		memcpy(&in6->sin6_addr, h->addr.v6, 16);
		*len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

static SSL *
tls_new(struct hc_conn *k)
{
	static const unsigned char alpn[] = "\x02h2\x08http/1.1";
	SSL *ssl = SSL_new(k->c->ssl);
	struct in6_addr ip;
	const char *name = k->h->sni;
	bool is_ip = inet_pton(AF_INET, name, &ip) == 1 ||
		     inet_pton(AF_INET6, name, &ip) == 1;

	if (ssl == NULL)
		return NULL;
	if (SSL_set_alpn_protos(ssl, alpn, sizeof(alpn) - 1) != 0)
		goto err;
	if (!is_ip && SSL_set_tlsext_host_name(ssl, name) != 1)
		goto err;
	if (!k->c->o.tls_insecure) {
		if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
							  name) != 1
			  : SSL_set1_host(ssl, name) != 1)
			goto err;
	}
	return ssl;
err:
	SSL_free(ssl);
	return NULL;
}

/* A new connection of h, connecting. NULL with errno. */
static struct hc_conn *
conn_new(struct hc_host *h)
{
	struct http_client *c = h->c;
	struct sockaddr_storage ss;
	socklen_t sl;
	struct hc_conn *k;
	SSL *ssl;
	int e;

	if (sockaddr_of(h, &ss, &sl) < 0) {
		errno = EINVAL;
		return NULL;
	}
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return NULL;
	k->c = c;
	k->h = h;
	k->tls = h->proto == HTTP_CLIENT_TLS;
	k->timer = evtimer_new(c->base, conn_on_timer, k);
	if (k->timer == NULL)
		goto err_nomem;
	if (k->tls) {
		ssl = tls_new(k);
		if (ssl == NULL)
			goto err_nomem;
		k->bev = bufferevent_openssl_socket_new(
			c->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
			BEV_OPT_CLOSE_ON_FREE);
		if (k->bev == NULL) {
			SSL_free(ssl);
			goto err_nomem;
		}
		bufferevent_openssl_set_allow_dirty_shutdown(k->bev, 1);
	} else {
		k->bev = bufferevent_socket_new(c->base, -1,
						BEV_OPT_CLOSE_ON_FREE);
		if (k->bev == NULL)
			goto err_nomem;
	}
	bufferevent_setcb(k->bev, conn_on_read, conn_on_write, conn_on_event,
			  k);
	bufferevent_setwatermark(k->bev, EV_READ, 0, c->o.in_high_water);
	bufferevent_setwatermark(k->bev, EV_WRITE, c->o.out_high_water / 2, 0);
	if (bufferevent_socket_connect(k->bev, (struct sockaddr *)&ss,
				       (int)sl) < 0) {
		e = EVUTIL_SOCKET_ERROR() != 0 ? EVUTIL_SOCKET_ERROR()
					       : ECONNREFUSED;
		c->st.connect_errors++;
		bufferevent_free(k->bev);
		event_free(k->timer);
		free(k);
		errno = e;
		return NULL;
	}
	(void)lb_tcp_nodelay(bufferevent_getfd(k->bev)); /* best effort */
	k->st = CS_CONNECTING;
	timer_ms(k->timer, c->o.connect_timeout_ms);
	k->next = h->conns;
	if (h->conns != NULL)
		h->conns->prev = k;
	h->conns = k;
	h->nconns++;
	c->st.conns_open++;
	return k;
err_nomem:
	if (k->bev != NULL)
		bufferevent_free(k->bev);
	if (k->timer != NULL)
		event_free(k->timer);
	free(k);
	errno = ENOMEM;
	return NULL;
}

/* ---- dispatch ---------------------------------------------------------- */

static enum host_mode
host_mode(const struct hc_host *h)
{
	switch (h->proto) {
	case HTTP_CLIENT_H1:
		return MODE_H1;
	case HTTP_CLIENT_H2C:
		return MODE_H2;
	default:
		return h->mode;
	}
}

/* HTTP/1.1 requests the host can still take at once (idle connections
 * and connections not yet opened): the queue holds them too until the
 * dispatch runs, without their waiting for a connection. */
static uint32_t
host_room(const struct hc_host *h)
{
	uint32_t max = h->c->o.max_conns_per_host;

	if (host_mode(h) != MODE_H1)
		return 0;
	return h->nidle + (h->nconns < max ? max - h->nconns : 0);
}

static void
fail_queue(struct hc_host *h, int err)
{
	while (h->qhead != NULL)
		req_finish(h->qhead, err);
}

static void
host_dispatch_h1(struct hc_host *h)
{
	struct http_client_req *r;

	while ((r = h->qhead) != NULL) {
		struct hc_conn *k = NULL;

		for (struct hc_conn *x = h->conns; x != NULL && !r->upgrade;
		     x = x->next)
			if (x->idle && !x->dead && x->mode == MODE_H1 &&
			    (k == NULL || x->idle_since > k->idle_since))
				k = x; /* the most recently used */
		if (k != NULL) {
			queue_remove(h, r);
			conn_unidle(k);
			if (h1_send(k, r) < 0) {
				k->cur = NULL;
				r->conn = NULL;
				req_finish(r, -ENOMEM);
				conn_close(k, 0);
			}
			continue;
		}
		if (h->nconns >= h->c->o.max_conns_per_host)
			return;
		queue_remove(h, r);
		k = conn_new(h);
		if (k == NULL) {
			req_finish(r, -errno);
			continue;
		}
		k->cur = r;
		k->upgrade = r->upgrade;
		r->conn = k;
		r->state = RS_CONNECTING;
	}
}

static void
host_dispatch(struct hc_host *h)
{
	enum host_mode mode = host_mode(h);
	struct http_client_req *r;

	if (mode == MODE_H1) {
		host_dispatch_h1(h);
		return;
	}
	while ((r = h->qhead) != NULL) {
		struct hc_conn *k = NULL;
		bool connecting = false;
		uint32_t max = mode == MODE_H2 ? h->c->o.h2_conns_per_host : 1;
		int rc;

		for (struct hc_conn *x = h->conns; x != NULL; x = x->next) {
			if (x->st == CS_CONNECTING)
				connecting = true;
			else if (x->mode == MODE_H2 && h2_has_room(x) &&
				 (k == NULL || x->nstreams < k->nstreams))
				k = x;
		}
		if (k != NULL) {
			queue_remove(h, r);
			r->state = RS_QUEUED;
			conn_unidle(k);
			k->busy++;
			rc = h2_submit(k, r);
			if (rc < 0)
				req_finish(r, rc);
			h2_flush(k);
			k->busy--;
			if (k->dead)
				conn_close(k, 0);
			continue;
		}
		if (connecting || h->nconns >= max)
			return;
		if (conn_new(h) == NULL) {
			fail_queue(h, -errno);
			return;
		}
	}
}

/* Close the oldest idle HTTP/1.1 connections over max_idle_per_host. */
static void
host_trim(struct hc_host *h)
{
	while (h->nidle > h->c->o.max_idle_per_host) {
		struct hc_conn *old = NULL;

		for (struct hc_conn *x = h->conns; x != NULL; x = x->next)
			if (x->idle && x->mode == MODE_H1 &&
			    (old == NULL || x->idle_since < old->idle_since))
				old = x;
		if (old == NULL)
			return;
		h->c->st.evictions++;
		conn_close(old, 0);
	}
}

static void
on_dispatch(evutil_socket_t fd, short what, void *arg)
{
	struct http_client *c = arg;

	(void)fd;
	(void)what;
	for (struct hc_host *h = c->hosts; h != NULL; h = h->next) {
		if (h->qhead != NULL)
			host_dispatch(h);
		host_trim(h);
		/* HTTP/2 sessions that carry nothing wait as idle ones */
		for (struct hc_conn *k = h->conns; k != NULL; k = k->next)
			if (k->mode == MODE_H2 && k->st == CS_READY &&
			    k->nstreams == 0 && !k->idle && !k->dead) {
				k->idle = true;
				k->idle_since = lb_now_ms();
				timer_ms(k->timer, c->o.idle_timeout_ms);
			}
	}
}

static void
schedule_dispatch(struct http_client *c)
{
	if (!c->freeing)
		event_active(c->dispatch_ev, EV_TIMEOUT, 0);
}

/* ---- the client -------------------------------------------------------- */

static void
opts_merge(struct http_client_opts *o, const struct http_client_opts *in)
{
	const struct http_client_opts *d = &http_client_default_opts;

	*o = in != NULL ? *in : *d;
#define DEF(f)                                                                 \
	if (o->f == 0)                                                         \
	o->f = d->f
	DEF(max_conns_per_host);
	DEF(h2_conns_per_host);
	DEF(max_streams);
	DEF(idle_timeout_ms);
	DEF(connect_timeout_ms);
	DEF(head_timeout_ms);
	DEF(read_timeout_ms);
	DEF(max_head_bytes);
	DEF(max_body_bytes);
	DEF(out_high_water);
	DEF(in_high_water);
	DEF(h2_window);
#undef DEF
	/* max_idle_per_host 0 is meaningful only with explicit opts */
	if (in == NULL)
		o->max_idle_per_host = d->max_idle_per_host;
	if (o->h2_window > NGHTTP2_MAX_WINDOW_SIZE / 4)
		o->h2_window = NGHTTP2_MAX_WINDOW_SIZE / 4;
}

struct http_client *
http_client_new(struct event_base *base, const struct http_client_opts *opts)
{
	struct http_client *c;
	int e = ENOMEM;

	if (base == NULL) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto err;
	c->base = base;
	opts_merge(&c->o, opts);
	c->dispatch_ev = event_new(base, -1, 0, on_dispatch, c);
	if (c->dispatch_ev == NULL)
		goto err;
	c->ssl = SSL_CTX_new(TLS_client_method());
	if (c->ssl == NULL)
		goto err;
	e = EPROTO;
	SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION);
	if (!c->o.tls_insecure) {
		SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
		if (c->o.ca_file != NULL
			    ? SSL_CTX_load_verify_locations(
				      c->ssl, c->o.ca_file, NULL) != 1
			    : SSL_CTX_set_default_verify_paths(c->ssl) != 1)
			goto err;
	}
	c->o.ca_file = NULL; /* not kept */
	return c;
err:
	if (c != NULL) {
		if (c->ssl != NULL)
			SSL_CTX_free(c->ssl);
		if (c->dispatch_ev != NULL)
			event_free(c->dispatch_ev);
		free(c);
	}
	ERR_clear_error();
	errno = e;
	return NULL;
}

void
http_client_free(struct http_client *c)
{
	struct hc_host *h, *hn;

	if (c == NULL)
		return;
	c->freeing = true;
	while (c->orphans != NULL)
		req_finish(c->orphans, -ECANCELED);
	for (h = c->hosts; h != NULL; h = hn) {
		hn = h->next;
		fail_queue(h, -ECANCELED);
		while (h->conns != NULL)
			conn_close(h->conns, -ECANCELED);
		free(h->sni);
		free(h);
	}
	event_free(c->dispatch_ev);
	SSL_CTX_free(c->ssl);
	free(c);
}

const struct http_client_stats *
http_client_stats(const struct http_client *c)
{
	return &c->st;
}

static bool
is_tchar(int ch)
{
	return isalnum(ch) || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool
token_ok(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!is_tchar((unsigned char)*s))
			return false;
	return true;
}

/* No CR, LF, NUL (by construction), nor other controls but tab. */
static bool
value_ok(const char *s, bool spaces)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return false;
		if (!spaces && (ch == ' ' || ch == '\t'))
			return false;
	}
	return true;
}

/* Headers the client writes itself, or that HTTP/2 forbids; "te:
 * trailers" and an upgrade's Upgrade are the caller's. */
static bool
header_reserved(const char *n, const char *v, bool upgrade)
{
	static const char *const names[] = {
		"host",	      "content-length",	  "transfer-encoding",
		"connection", "keep-alive",	  "upgrade",
		"te",	      "proxy-connection",
	};

	if (strcasecmp(n, "te") == 0 && strcasecmp(v, "trailers") == 0)
		return false;
	if (upgrade && strcasecmp(n, "upgrade") == 0)
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(n, names[i]) == 0)
			return true;
	return false;
}

static struct hc_host *
host_get(struct http_client *c, const struct http_client_spec *s,
	 const char *sni)
{
	struct hc_host *h;

	for (h = c->hosts; h != NULL; h = h->next)
		if (h->proto == s->proto && h->port == s->port &&
		    lb_addr_equal(&h->addr, &s->addr) &&
		    (s->proto != HTTP_CLIENT_TLS || strcmp(h->sni, sni) == 0))
			return h;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->sni = strdup(sni);
	if (h->sni == NULL) {
		free(h);
		return NULL;
	}
	h->c = c;
	h->addr = s->addr;
	h->port = s->port;
	h->proto = s->proto;
	h->next = c->hosts;
	c->hosts = h;
	return h;
}

/* Copy the strings of s into one allocation owned by r. */
static int
req_copy(struct http_client_req *r, const struct http_client_spec *s,
	 const char *authority)
{
	size_t need =
		strlen(s->method) + strlen(s->target) + strlen(authority) + 3;
	char *p;

	for (size_t i = 0; i < s->nheaders; i++)
		need += strlen(s->headers[i].name) +
			strlen(s->headers[i].value) + 2;
	r->method = malloc(need);
	r->hdr = calloc(s->nheaders + 1, sizeof(*r->hdr));
	if (r->method == NULL || r->hdr == NULL)
		return -ENOMEM;
	p = stpcpy(r->method, s->method) + 1;
	r->target = p;
	p = stpcpy(p, s->target) + 1;
	r->authority = p;
	p = stpcpy(p, authority) + 1;
	for (size_t i = 0; i < s->nheaders; i++) {
		char *n = p;

		p = stpcpy(p, s->headers[i].name) + 1;
		for (char *q = n; *q != '\0'; q++)
			*q = (char)tolower((unsigned char)*q);
		r->hdr[i].name = n;
		r->hdr[i].value = p;
		p = stpcpy(p, s->headers[i].value) + 1;
	}
	r->nh = s->nheaders;
	return 0;
}

static bool
spec_ok(const struct http_client_spec *s)
{
	size_t nup = 0;

	if (s->proto > HTTP_CLIENT_TLS || s->port == 0 ||
	    (s->addr.family != AF_INET && s->addr.family != AF_INET6) ||
	    !token_ok(s->method) || s->target == NULL || s->target[0] == '\0' ||
	    !value_ok(s->target, false) ||
	    (s->authority != NULL &&
	     (s->authority[0] == '\0' || !value_ok(s->authority, false))) ||
	    (s->sni != NULL &&
	     (s->sni[0] == '\0' || !value_ok(s->sni, false))) ||
	    s->nheaders > HTTP_MAX_HEADERS ||
	    (s->nheaders > 0 && s->headers == NULL) ||
	    (s->body != NULL && s->body_len < 0) || s->body_len < -1)
		return false;
	if (s->upgrade && (s->proto != HTTP_CLIENT_H1 ||
			   strcmp(s->method, "GET") != 0 || s->body_len != 0))
		return false;
	for (size_t i = 0; i < s->nheaders; i++) {
		if (!token_ok(s->headers[i].name) ||
		    s->headers[i].value == NULL ||
		    !value_ok(s->headers[i].value, true) ||
		    header_reserved(s->headers[i].name, s->headers[i].value,
				    s->upgrade))
			return false;
		if (strcasecmp(s->headers[i].name, "upgrade") == 0)
			nup++;
	}
	return !s->upgrade || nup == 1;
}

struct http_client_req *
http_client_request(struct http_client *c, const struct http_client_spec *s,
		    const struct http_client_req_ops *ops, void *arg)
{
	static const char *const idem[] = { "GET",   "HEAD", "OPTIONS",
					    "TRACE", "PUT",  "DELETE" };
	char authority[LB_ADDRPORTSTRLEN], sni[256];
	struct http_client_req *r = NULL;
	const char *colon;
	int e = EINVAL;

	if (c == NULL || s == NULL || ops == NULL || c->freeing || !spec_ok(s))
		goto err;
	if (s->authority == NULL)
		lb_addr_port_format(&s->addr, s->port, authority,
				    sizeof(authority));
	/* the SNI name: given, or the authority without its port */
	if (s->sni != NULL) {
		snprintf(sni, sizeof(sni), "%s", s->sni);
	} else {
		const char *a = s->authority != NULL ? s->authority : authority;
		size_t n = strlen(a);

		if (a[0] == '[') {
			colon = strchr(a, ']');
			a++;
			n = colon != NULL ? (size_t)(colon - a) : n - 1;
		} else if ((colon = strrchr(a, ':')) != NULL &&
			   strchr(a, ':') == colon) {
			n = (size_t)(colon - a);
		}
		snprintf(sni, sizeof(sni), "%.*s", (int)n, a);
	}
	e = ENOMEM;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		goto err;
	r->c = c;
	r->ops = *ops;
	r->arg = arg;
	if (req_copy(r, s, s->authority != NULL ? s->authority : authority) < 0)
		goto err;
	r->body_len = s->body_len;
	r->upgrade = s->upgrade;
	if (s->body != NULL) {
		r->body_n = (size_t)s->body_len;
		r->body = malloc(r->body_n + 1);
		if (r->body == NULL)
			goto err;
		memcpy(r->body, s->body, r->body_n);
		r->body_ended = true;
	} else {
		r->piecewise = s->body_len != 0;
		r->body_ended = s->body_len == 0;
	}
	for (size_t i = 0; i < sizeof(idem) / sizeof(idem[0]); i++)
		if (strcmp(s->method, idem[i]) == 0)
			r->idempotent = true;
	r->timer = evtimer_new(c->base, req_on_timer, r);
	r->kick = event_new(c->base, -1, 0, req_on_kick, r);
	if (r->timer == NULL || r->kick == NULL)
		goto err;
	r->h = host_get(c, s, sni);
	if (r->h == NULL)
		goto err;
	if (c->o.max_queued_per_host != 0 &&
	    r->h->nqueued >= c->o.max_queued_per_host + host_room(r->h)) {
		c->st.queue_full++;
		e = EBUSY;
		goto err;
	}
	if (c->o.total_timeout_ms != 0)
		r->deadline = lb_now_ms() + c->o.total_timeout_ms;
	req_arm(r);
	r->state = RS_QUEUED;
	queue_push(r->h, r, false);
	c->st.requests++;
	schedule_dispatch(c);
	return r;
err:
	if (r != NULL)
		req_free(r);
	errno = e;
	return NULL;
}

/* Frame n body bytes for r's HTTP/1.1 connection. 0 or -ENOMEM. */
static int
h1_body(struct http_client_req *r, const void *p, size_t n)
{
	struct evbuffer *out = bufferevent_get_output(r->conn->bev);
	int rc = 0;

	if (r->body_len < 0)
		rc |= evbuffer_add_printf(out, "%zx\r\n", n) < 0;
	rc |= evbuffer_add(out, p, n);
	if (r->body_len < 0)
		rc |= evbuffer_add(out, "\r\n", 2);
	note_high(&r->c->st.out_high, evbuffer_get_length(out));
	return rc != 0 ? -ENOMEM : 0;
}

int
http_client_req_write(struct http_client_req *r, const void *p, size_t n)
{
	struct hc_conn *k = r->conn;
	size_t queued;
	int rc;

	if (r->done)
		return -EPIPE;
	if (!r->piecewise || r->body_ended ||
	    (r->body_len >= 0 && r->body_written + n > (uint64_t)r->body_len))
		return -EINVAL;
	if (n == 0)
		return 0;
	if (k == NULL || k->st != CS_READY || r->state < RS_SENT) {
		r->want_writable = true;
		return -EAGAIN;
	}
	if (k->mode == MODE_H1) {
		queued = evbuffer_get_length(bufferevent_get_output(k->bev));
		if (queued >= r->c->o.out_high_water) {
			r->want_writable = true;
			return -EAGAIN;
		}
		rc = h1_body(r, p, n);
		if (rc < 0)
			return rc;
		h1_out_flush(k);
	} else {
		if (r->out == NULL)
			r->out = evbuffer_new();
		if (r->out == NULL)
			return -ENOMEM;
		queued = evbuffer_get_length(r->out);
		if (queued >= r->c->o.out_high_water) {
			r->want_writable = true;
			return -EAGAIN;
		}
		if (evbuffer_add(r->out, p, n) < 0)
			return -ENOMEM;
		note_high(&r->c->st.out_high,
			  evbuffer_get_length(r->out) +
				  evbuffer_get_length(
					  bufferevent_get_output(k->bev)));
		if (r->deferred && r->sid > 0) {
			r->deferred = false;
			nghttp2_session_resume_data(k->s, r->sid);
		}
		k->busy++;
		h2_flush(k);
		k->busy--;
		if (k->dead) {
			conn_close(k, 0);
			return -EPIPE;
		}
	}
	r->body_written += n;
	if (r->state == RS_SENT)
		req_phase(r, r->c->o.head_timeout_ms);
	return 0;
}

int
http_client_req_end(struct http_client_req *r)
{
	struct hc_conn *k = r->conn;

	if (r->done)
		return -EPIPE;
	if (!r->piecewise || r->body_ended ||
	    (r->body_len >= 0 && r->body_written != (uint64_t)r->body_len))
		return -EINVAL;
	if (k == NULL || k->st != CS_READY || r->state < RS_SENT)
		return -EAGAIN;
	r->body_ended = true;
	r->want_writable = false;
	if (k->mode == MODE_H1) {
		if (r->body_len < 0 &&
		    evbuffer_add(bufferevent_get_output(k->bev), "0\r\n\r\n",
				 5) < 0)
			return -ENOMEM;
		h1_out_flush(k);
		return 0;
	}
	if (r->deferred && r->sid > 0) {
		r->deferred = false;
		nghttp2_session_resume_data(k->s, r->sid);
	}
	k->busy++;
	h2_flush(k);
	k->busy--;
	if (k->dead)
		conn_close(k, 0);
	return 0;
}

int
http_client_req_end_trailers(struct http_client_req *r,
			     const struct http_header *h, size_t n)
{
	size_t need = 0;
	char *p;

	if (r->done)
		return -EPIPE;
	if (n > HTTP_MAX_HEADERS || (n > 0 && h == NULL) || r->qtr != NULL)
		return -EINVAL;
	if (r->conn == NULL || r->conn->st != CS_READY || r->state < RS_SENT)
		return -EAGAIN; /* as http_client_req_end: nothing kept */
	for (size_t i = 0; i < n; i++) {
		if (!token_ok(h[i].name) || h[i].value == NULL ||
		    !value_ok(h[i].value, true) ||
		    header_reserved(h[i].name, "", false))
			return -EINVAL;
		need += strlen(h[i].name) + strlen(h[i].value) + 2;
	}
	/* HTTP/1.1 (or nothing to add): the trailers are dropped */
	if (n == 0 || r->conn->mode == MODE_H1)
		return http_client_req_end(r);
	r->qtr = calloc(n, sizeof(*r->qtr));
	r->qtrbuf = malloc(need);
	if (r->qtr == NULL || r->qtrbuf == NULL) {
		free(r->qtr);
		free(r->qtrbuf);
		r->qtr = NULL;
		r->qtrbuf = NULL;
		return -ENOMEM;
	}
	p = r->qtrbuf;
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(h[i].name), vl = strlen(h[i].value);
		char *nm = p;

		for (size_t k = 0; k < nl; k++)
			nm[k] = (char)tolower((unsigned char)h[i].name[k]);
		nm[nl] = '\0';
		p = stpcpy(p + nl + 1, h[i].value) + 1;
		r->qtr[i] = (nghttp2_nv){ (uint8_t *)nm, (uint8_t *)nm + nl + 1,
					  nl, vl, NGHTTP2_NV_FLAG_NONE };
	}
	r->nqtr = n;
	return http_client_req_end(r);
}

const struct http_header *
http_client_req_trailers(const struct http_client_req *r, size_t *n)
{
	*n = r->ntr;
	return r->ntr > 0 ? r->tr : NULL;
}

bool
http_client_req_head_ended(const struct http_client_req *r)
{
	return r->head_end;
}

void
http_client_req_pause(struct http_client_req *r, bool paused)
{
	struct hc_conn *k = r->conn;

	if (r->done || r->paused == paused)
		return;
	r->paused = paused;
	if (paused) {
		/* only the total deadline runs while the caller holds it */
		if (r->state == RS_BODY)
			req_phase(r, 0);
		if (k != NULL && k->mode == MODE_H1 && k->p != NULL) {
			http_parse_pause(k->p, true);
			bufferevent_disable(k->bev, EV_READ);
		}
		return;
	}
	if (r->state == RS_BODY)
		req_phase(r, r->c->o.read_timeout_ms);
	if (k != NULL && k->mode == MODE_H1 && k->p != NULL) {
		http_parse_pause(k->p, false);
		bufferevent_enable(k->bev, EV_READ);
	}
	req_kick(r); /* what was buffered meanwhile */
}

void
http_client_req_cancel(struct http_client_req *r)
{
	if (r->done)
		return;
	r->ops.on_done = NULL;
	req_abandon(r, -ECANCELED, 0);
}

int
http_client_req_version(const struct http_client_req *r)
{
	return r->state == RS_BODY ? r->version : 0;
}

bool
http_client_req_reused(const struct http_client_req *r)
{
	return r->reused;
}
