/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HTTP/1.1 on a server connection (struct http_proto, see http_priv.h):
 * one request at a time. The parser stops after each request; the next
 * one (pipelined bytes wait in the input buffer, itself bounded) is read
 * only after the answer to this one ended, so answers go out in request
 * order. Deadlines, on the connection's one timer:
 *   waiting for a request  idle_timeout_ms, then close
 *   head                   head_timeout_ms from the request's first byte,
 *                          not restarted by later bytes; then 408, close
 *   body                   idle_timeout_ms, restarted by each read; 408
 *   handler                none (the handler's business)
 *
 * Upgrades (http_resp_upgrade): the 101 is queued and the bufferevent
 * handed to the handler; the connection is freed from the loop (its
 * kick) without the bufferevent, so that a handler may switch from
 * inside on_request.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "http_fdbudget.h"
#include "http_priv.h"
#include "edgelb/log.h"

enum h1_state {
	H1_IDLE,    /* between requests */
	H1_HEAD,    /* reading a head */
	H1_BODY,    /* reading a body */
	H1_HANDLER, /* request complete: the handler answers */
};

struct h1 {
	struct http_parse *parse;
	enum h1_state state;
	bool paused;  /* the handler paused the body */
	bool in_read; /* in h1_read: it flushes the output at its end */
	struct event *flush_ev; /* h1_flush outside h1_read: later in the
				 * loop turn (h1_on_flush) */
	struct http_req req;
};

static struct h1 *
h1_of(struct http_conn *c)
{
	return c->pstate;
}

/*
 * Output. The answers go out with a direct write from here, not from the
 * bufferevent's write event: that event is enabled only while output is
 * left over (the socket was full), so a keep-alive request costs one read
 * and one write instead of also arming and disarming the write event
 * (two epoll_ctl calls) and waiting a loop turn for it. The bufferevent
 * still takes over whenever there is anything to wait for: output left,
 * reading paused above the high water, a handler waiting for on_drain, a
 * connection closing, a write error (its write event reports it), and
 * always on a connection that is not a plain socket (c->plain_fd false:
 * TLS or a filter must see every byte).
 *
 * Outside h1_read (an answer written from another connection's callback,
 * e.g. a proxy's upstream read), the write waits for h1_on_flush, run
 * later in the same loop turn: a head, body and end written from one
 * upstream read go out in one write instead of one each.
 */
static void
h1_flush_now(struct http_conn *c)
{
	struct h1 *h = h1_of(c);
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (evbuffer_get_length(out) == 0)
		return;
	if (c->plain_fd && !c->closing && !c->out_full && !h->req.want_drain) {
		/* a socket bufferevent freezes its output's start: only it
		 * drains the output; thawed for the write */
		evbuffer_unfreeze(out, 1);
		evbuffer_write(out, bufferevent_getfd(c->bev));
		evbuffer_freeze(out, 1);
		if (evbuffer_get_length(out) == 0)
			return;
	}
	bufferevent_enable(c->bev, EV_WRITE);
}

static void
h1_on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)fd;
	(void)what;
	if (!c->upgraded && c->bev != NULL && c->pstate != NULL)
		h1_flush_now(c);
}

static void
h1_flush(struct http_conn *c)
{
	struct h1 *h = h1_of(c);

	if (h->in_read ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		return;
	if (c->plain_fd && !c->closing && !c->out_full && !h->req.want_drain)
		event_active(h->flush_ev, EV_TIMEOUT, 0);
	else
		h1_flush_now(c);
}

/* Nothing left to write: the write event off until output is left over
 * (the event itself is already off when the output is empty). */
static void
h1_write_idle(struct http_conn *c)
{
	if (c->plain_fd && !c->closing &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0 &&
	    (bufferevent_get_enabled(c->bev) & EV_WRITE))
		bufferevent_disable(c->bev, EV_WRITE);
}

/* Close once flushed: the bufferevent writes what is left. */
static void
h1_close(struct http_conn *c)
{
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		bufferevent_enable(c->bev, EV_WRITE);
	http_conn_close_after_flush(c);
}

static void
req_reset(struct http_conn *c, struct http_req *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
	r->c = c;
}

/* The handler will not see this request again: tell it if it cares. */
static void
req_abort(struct http_conn *c)
{
	struct h1 *h = h1_of(c);
	struct http_req *r = &h->req;

	if (r->handed && !r->ended && c->s->h.on_abort != NULL)
		c->s->h.on_abort(c->s->arg, r);
	r->handed = false;
}

/* An error status from the server itself (not the handler), then close.
 * Counts the refusals of the parser; timeouts count themselves. */
static void
fail_reply(struct http_conn *c, int status, const char *why)
{
	struct h1 *h = h1_of(c);
	struct http_req *r = &h->req;
	char peer[64];

	http_stat_refusal(c->s, status);
	http_log_rl(&c->s->rl, LOG_INFO, "http: %s: %d %s",
		    http_conn_peer_str(c, peer, sizeof(peer)), status, why);
	req_abort(c);
	if (status != 0 && !r->started) {
		evbuffer_add_printf(bufferevent_get_output(c->bev),
				    "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n"
				    "Connection: close\r\n\r\n",
				    status, http_status_text(status));
		HTTP_STAT_ADD(c->s, responses[status / 100], 1);
	}
	h1_close(c);
}

/* ---- parser callbacks ------------------------------------------------- */

static int
p_head(void *arg, struct http_msg *m)
{
	struct http_conn *c = arg;
	struct h1 *h = h1_of(c);
	struct http_req *r = &h->req;
	int rc = 0;

	HTTP_STAT_ADD(c->s, requests, 1);
	r->msg = m;
	h->state = H1_BODY;
	http_conn_timer(c, c->s->lim.idle_timeout_ms);
	if (http_msg_header(m, "Expect") != NULL && !m->expect_continue) {
		fail_reply(c, 417, "unknown expectation");
		return -EPROTO;
	}
	if (c->s->h.on_head != NULL) {
		r->handed = true;
		rc = c->s->h.on_head(c->s->arg, r);
		if (rc < 0)
			return rc;
	}
	/* the client waits for this before it sends the body */
	if (m->expect_continue && !r->started && !c->closing &&
	    (m->chunked || m->content_length > 0))
		evbuffer_add_printf(bufferevent_get_output(c->bev),
				    "HTTP/1.1 100 Continue\r\n\r\n");
	return 0;
}

static int
p_body(void *arg, struct http_msg *m, const char *p, size_t n)
{
	struct http_conn *c = arg;
	struct http_req *r = &h1_of(c)->req;

	(void)m;
	if (r->ended)
		return 0; /* answered early: the rest is dropped */
	if (c->s->h.on_body != NULL) {
		r->handed = true; /* it may keep r: on_abort tells it */
		return c->s->h.on_body(c->s->arg, r, p, n);
	}
	return http_req_collect(r, p, n);
}

static int
p_end(void *arg, struct http_msg *m)
{
	struct http_conn *c = arg;
	struct h1 *h = h1_of(c);

	(void)m;
	h->req.complete = true;
	h->state = H1_HANDLER;
	http_conn_timer(c, 0);
	return 0;
}

static const struct http_parse_ops parse_ops = {
	.on_head = p_head,
	.on_body = p_body,
	.on_end = p_end,
};

/* ---- the protocol ------------------------------------------------------ */

static void
to_idle(struct http_conn *c)
{
	struct h1 *h = h1_of(c);

	req_reset(c, &h->req);
	http_parse_next(h->parse);
	h->paused = false;
	h->state = H1_IDLE;
	http_conn_timer(c, c->s->lim.idle_timeout_ms);
}

static void
h1_read_input(struct http_conn *c)
{
	struct h1 *h = h1_of(c);
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct http_req *r = &h->req;

	while (!c->closing && !c->out_full && h->state != H1_HANDLER &&
	       evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t used = 0;
		int rc;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		if (h->state == H1_IDLE) {
			/* the head deadline runs from the first byte */
			h->state = H1_HEAD;
			http_conn_timer(c, c->s->lim.head_timeout_ms);
		}
		rc = http_parse_feed(h->parse, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		if (c->closing)
			return; /* a callback failed the request */
		if (rc == -ECANCELED) {
			fail_reply(c, r->started ? 0 : 500, "handler failed");
			return;
		}
		if (rc < 0) {
			fail_reply(c, http_parse_status(h->parse),
				   http_parse_reason(h->parse));
			return;
		}
		if (r->ended && !r->complete) {
			/* answered before the request ended */
			h1_close(c);
			return;
		}
		if (h->state == H1_BODY && used > 0 && !h->paused)
			http_conn_timer(c, c->s->lim.idle_timeout_ms);
		if (h->state == H1_HANDLER) {
			if (r->ended) {
				/* answered from on_head: next request */
				if (r->close)
					h1_close(c);
				else
					to_idle(c);
				continue;
			}
			r->handed = true;
			c->s->h.on_request(c->s->arg, r);
			/* http_resp_end moved on to the next request */
			continue;
		}
		if (used == 0)
			break; /* paused by the handler */
	}
}

/* The requests read, then their answers out in one write. */
static void
h1_read(struct http_conn *c)
{
	struct h1 *h = h1_of(c);

	h1_write_idle(c);
	h->in_read = true;
	h1_read_input(c);
	h->in_read = false;
	h1_flush_now(c);
}

static void
h1_drain(struct http_conn *c)
{
	struct http_req *r = &h1_of(c)->req;

	h1_write_idle(c);
	if (r->want_drain && r->handed && !r->ended) {
		r->want_drain = false;
		if (c->s->h.on_drain != NULL)
			c->s->h.on_drain(c->s->arg, r);
	}
}

static void
h1_timeout(struct http_conn *c)
{
	struct h1 *h = h1_of(c);

	switch (h->state) {
	case H1_IDLE:
		HTTP_STAT_ADD(c->s, idle_closes, 1);
		h1_close(c);
		break;
	case H1_HEAD:
		HTTP_STAT_ADD(c->s, head_timeouts, 1);
		fail_reply(c, 408, "head deadline");
		break;
	case H1_BODY:
		HTTP_STAT_ADD(c->s, idle_closes, 1);
		fail_reply(c, 408, "body stalled");
		break;
	case H1_HANDLER:
		break;
	}
}

static void
h1_eof(struct http_conn *c)
{
	struct h1 *h = h1_of(c);

	if (h->state == H1_HANDLER && !h->req.ended) {
		/* a half-closed peer still gets its answer */
		h->req.close = true;
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	req_abort(c);
	h1_close(c);
}

/* The server drains: an idle connection closes now, a busy one after its
 * answer (which then says Connection: close). */
static void
h1_drain_conn(struct http_conn *c)
{
	struct h1 *h = h1_of(c);

	if (h->state == H1_IDLE &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
		h1_close(c);
	else
		h->req.close = true;
}

static int
h1_start(struct http_conn *c)
{
	struct h1 *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return -ENOMEM;
	h->parse = http_parse_new(HTTP_PARSE_REQUEST, c->s->lim.max_head_bytes,
				  c->s->lim.max_body_bytes, &parse_ops, c);
	h->flush_ev =
		event_new(bufferevent_get_base(c->bev), -1, 0, h1_on_flush, c);
	if (h->parse == NULL || h->flush_ev == NULL) {
		if (h->flush_ev != NULL)
			event_free(h->flush_ev);
		http_parse_free(h->parse);
		free(h);
		return -ENOMEM;
	}
	c->pstate = h;
	req_reset(c, &h->req);
	h->state = H1_IDLE;
	http_conn_timer(c, c->s->lim.idle_timeout_ms);
	return 0;
}

static void
h1_fini(struct http_conn *c)
{
	struct h1 *h = h1_of(c);

	if (h == NULL)
		return;
	req_abort(c);
	event_free(h->flush_ev);
	free(h->req.body);
	http_parse_free(h->parse);
	free(h);
	c->pstate = NULL;
}

/* ---- the request and its answer ---------------------------------------- */

static void
h1_pause_body(struct http_req *r, bool paused)
{
	struct h1 *h = h1_of(r->c);

	h->paused = paused;
	http_parse_pause(h->parse, paused);
	/* a paused body is not a stalled one */
	if (h->state == H1_BODY)
		http_conn_timer(r->c,
				paused ? 0 : r->c->s->lim.idle_timeout_ms);
	if (!paused)
		http_conn_kick(r->c);
}

/* Appends to a head being built; h->len may pass h->cap (then nothing
 * more is copied and the caller sees it). */
struct head_buf {
	char *p;
	size_t len, cap;
};

static void
head_put(struct head_buf *h, const char *s, size_t n)
{
	if (h->len + n <= h->cap)
		memcpy(h->p + h->len, s, n);
	h->len += n;
}

static void
head_puts(struct head_buf *h, const char *s)
{
	head_put(h, s, strlen(s));
}

/*
 * The status line and headers, built in one buffer and queued with one
 * evbuffer_add: a printf per line was a visible share of a small
 * answer's cost. 0 or -ENOMEM (nothing queued).
 */
static int
h1_put_head(struct evbuffer *out, const struct http_req *r, int status,
	    const struct http_header *hd, size_t nh, int64_t content_length,
	    bool v10)
{
	char stack[2048], num[32];
	struct head_buf h = { stack, 0, sizeof(stack) };
	int rc;

	for (int pass = 0; pass < 2; pass++) {
		h.len = 0;
		snprintf(num, sizeof(num), "%d ", status);
		head_puts(&h, "HTTP/1.1 ");
		head_puts(&h, num);
		head_puts(&h, http_status_text(status));
		head_put(&h, "\r\n", 2);
		for (size_t i = 0; i < nh; i++) {
			head_puts(&h, hd[i].name);
			head_put(&h, ": ", 2);
			head_puts(&h, hd[i].value);
			head_put(&h, "\r\n", 2);
		}
		if (content_length >= 0 && status != 204 && status != 304) {
			snprintf(num, sizeof(num), "%lld",
				 (long long)content_length);
			head_puts(&h, "Content-Length: ");
			head_puts(&h, num);
			head_put(&h, "\r\n", 2);
		} else if (r->chunked) {
			head_puts(&h, "Transfer-Encoding: chunked\r\n");
		}
		if (r->close)
			head_puts(&h, "Connection: close\r\n");
		else if (v10)
			head_puts(&h, "Connection: keep-alive\r\n");
		head_put(&h, "\r\n", 2);
		if (h.len <= h.cap)
			break;
		/* a large head: once more into a buffer of its size */
		h.cap = h.len;
		h.p = malloc(h.cap);
		if (h.p == NULL)
			return -ENOMEM;
	}
	/* the second pass writes what the first measured: it fits */
	rc = h.len > h.cap || evbuffer_add(out, h.p, h.len) < 0 ? -ENOMEM : 0;
	if (h.p != stack)
		free(h.p);
	return rc;
}

static int
h1_resp_start(struct http_req *r, int status, const struct http_header *hd,
	      size_t nh, int64_t content_length)
{
	struct http_conn *c = r->c;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const struct http_msg *m = r->msg;
	bool v10 = m != NULL && m->version_minor == 0;

	if (c->closing)
		return -EPIPE;
	if (r->started || status < 200 || status > 999 || content_length < -1)
		return -EINVAL;
	for (size_t i = 0; i < nh; i++) {
		if (!http_header_ok(hd[i].name, false) ||
		    !http_header_ok(hd[i].value, true) ||
		    strcasecmp(hd[i].name, "Content-Length") == 0 ||
		    strcasecmp(hd[i].name, "Transfer-Encoding") == 0 ||
		    strcasecmp(hd[i].name, "Connection") == 0)
			return -EINVAL;
	}
	r->status = status;
	r->no_body = (m != NULL && m->head) || status == 204 || status == 304;
	/* a refused WebSocket upgrade: frames may follow the request */
	r->close = r->close || m == NULL || !m->keep_alive || !r->complete ||
		   http_req_wants_upgrade(r, "websocket");
	r->left = content_length;
	if (content_length < 0 && !r->no_body) {
		if (v10)
			r->close = true; /* the close delimits the body */
		else
			r->chunked = true;
	}
	if (h1_put_head(out, r, status, hd, nh, content_length, v10) < 0)
		return -ENOMEM;
	r->started = true;
	http_conn_check_out(c);
	h1_flush(c);
	return 0;
}

static bool
h1_resp_writable(const struct http_req *r)
{
	return !r->c->out_full &&
	       evbuffer_get_length(bufferevent_get_output(r->c->bev)) <=
		       r->c->s->lim.out_high_water;
}

static size_t
h1_resp_pending(const struct http_req *r)
{
	return evbuffer_get_length(bufferevent_get_output(r->c->bev));
}

static int
h1_resp_write(struct http_req *r, const void *p, size_t n)
{
	struct http_conn *c = r->c;
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (r->no_body)
		return 0;
	if (r->chunked && evbuffer_add_printf(out, "%zx\r\n", n) < 0)
		return -ENOMEM;
	if (evbuffer_add(out, p, n) < 0 ||
	    (r->chunked && evbuffer_add(out, "\r\n", 2) < 0))
		return -ENOMEM;
	http_conn_check_out(c);
	h1_flush(c);
	return 0;
}

static int
h1_resp_end(struct http_req *r)
{
	struct http_conn *c = r->c;
	struct h1 *h = h1_of(c);
	int rc = 0;

	if (c->closing)
		return -EPIPE;
	if (!r->started || r->ended)
		return -EINVAL;
	if (r->left > 0 && !r->no_body) {
		/* shorter than announced: only a close can tell the peer */
		rc = -EINVAL;
		r->close = true;
	}
	if (r->chunked &&
	    evbuffer_add(bufferevent_get_output(c->bev), "0\r\n\r\n", 5) < 0)
		rc = -ENOMEM;
	r->ended = true;
	HTTP_STAT_ADD(c->s,
		      responses[r->status / 100 < 6 ? r->status / 100 : 0], 1);
	if (!r->complete) {
		/* early answer, from on_head/on_body: h1_read closes */
		h1_flush(c);
		return rc;
	}
	if (r->close || rc < 0) {
		h1_close(c);
	} else if (h->state == H1_HANDLER) {
		to_idle(c);
		/* pipelined requests may be waiting (h1_read's loop reads
		 * them when the answer came from inside it) */
		if (!h->in_read)
			http_conn_kick(c);
		h1_flush(c);
	}
	return rc;
}

/* ---- upgrades -------------------------------------------------------------- */

/* Is tok in the comma-separated list (case-insensitive)? */
static bool
list_has(const char *list, const char *tok)
{
	size_t tl = strlen(tok);

	for (const char *p = list; p != NULL && *p != '\0';) {
		const char *e;
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		e = strchr(p, ',');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == tl && strncasecmp(p, tok, tl) == 0)
			return true;
		p = e;
	}
	return false;
}

bool
http_req_wants_upgrade(const struct http_req *r, const char *proto)
{
	const struct http_msg *m = r->msg;
	const char *up;

	if (r->c->proto != &http1_proto || m == NULL || m->version_minor == 0 ||
	    !list_has(http_msg_header(m, "Connection"), "upgrade"))
		return false;
	up = http_msg_header(m, "Upgrade");
	return up != NULL && (proto == NULL || strcasecmp(up, proto) == 0);
}

int
http_resp_upgrade(struct http_req *r, const struct http_header *hd, size_t nh,
		  struct bufferevent **bevp)
{
	struct http_conn *c = r->c;
	struct http_header tmp[HTTP_MAX_HEADERS + 1];
	struct bufferevent *bev = c->bev;
	bool has_up = false;

	if (c->proto != &http1_proto)
		return -EPROTONOSUPPORT;
	if (c->closing)
		return -EPIPE;
	if (r->started || !r->complete || h1_of(c)->state != H1_HANDLER ||
	    !http_req_wants_upgrade(r, NULL) || nh > HTTP_MAX_HEADERS)
		return -EINVAL;
	for (size_t i = 0; i < nh; i++) {
		if (!http_header_ok(hd[i].name, false) ||
		    !http_header_ok(hd[i].value, true) ||
		    strcasecmp(hd[i].name, "Content-Length") == 0 ||
		    strcasecmp(hd[i].name, "Transfer-Encoding") == 0 ||
		    strcasecmp(hd[i].name, "Connection") == 0)
			return -EINVAL;
		has_up |= strcasecmp(hd[i].name, "Upgrade") == 0;
		tmp[i] = hd[i];
	}
	if (!has_up)
		return -EINVAL;
	tmp[nh].name = "Connection";
	tmp[nh].value = "Upgrade";
	r->close = false;
	r->chunked = false;
	if (h1_put_head(bufferevent_get_output(bev), r, 101, tmp, nh + 1, -1,
			false) < 0)
		return -ENOMEM;
	r->status = 101;
	r->started = r->ended = true;
	HTTP_STAT_ADD(c->s, responses[1], 1);
	HTTP_STAT_ADD(c->s, upgrades, 1);
	/* the connection is done with HTTP: freed from the loop */
	c->closing = true;
	c->upgraded = true;
	http_conn_timer(c, 0);
	http_conn_kick(c);
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	bufferevent_set_timeouts(bev, NULL, NULL);
	bufferevent_setwatermark(bev, EV_READ | EV_WRITE, 0, 0);
	*bevp = bev;
	return 0;
}

void
http_upgraded_free(struct bufferevent *bev)
{
	if (bev == NULL)
		return;
	bufferevent_free(bev);
	http_fdbudget_put();
}

const struct http_proto http1_proto = {
	.name = "http/1.1",
	.start = h1_start,
	.on_read = h1_read,
	.on_drain = h1_drain,
	.on_timeout = h1_timeout,
	.on_eof = h1_eof,
	.fini = h1_fini,
	.drain = h1_drain_conn,
	.resp_start = h1_resp_start,
	.resp_write = h1_resp_write,
	.resp_end = h1_resp_end,
	.resp_writable = h1_resp_writable,
	.resp_pending = h1_resp_pending,
	.pause_body = h1_pause_body,
};
