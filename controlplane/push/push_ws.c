/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The WebSocket device channel (declared in push_srv.h).
 *
 * The handshake is read here on the plain socket rather than by the HTTP
 * server of controlplane/http: the listener serves nothing but this one
 * GET, and a connection that passed it must become push_srv's (its
 * limits, heartbeat timeouts and descriptor) at once. After the 101, a
 * bufferevent filter turns binary WebSocket messages into the byte
 * stream push_srv parses and each frame push_srv writes into one binary
 * message; wslay does the framing, masking, fragments, PING/PONG and
 * CLOSE.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <wslay/wslay.h>

#include "push_frame.h"
#include "push_srv.h"
#include "edgelb/log.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct push_ws_hs {
	struct push_srv *s;
	struct bufferevent *bev;
	struct push_ws_hs *prev, *next, **head;
	size_t *count;
	bool tls; /* wss_listen: bev is a TLS bufferevent */
};

/* One WebSocket connection after its handshake. */
struct ws {
	struct push_srv *s;
	wslay_event_context_ptr ctx;
	struct bufferevent *under, *filter;
	struct evbuffer *src, *dst; /* of the input filter call */
	bool failed, closing;
};

/* ---- the framing ------------------------------------------------------------ */

static ssize_t
ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
	void *arg)
{
	struct ws *w = arg;
	int n = w->src != NULL ? evbuffer_remove(w->src, buf, len) : 0;

	(void)flags;
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return n;
}

static ssize_t
ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
	void *arg)
{
	struct ws *w = arg;

	(void)flags;
	if (evbuffer_add(bufferevent_get_output(w->under), data, len) < 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static int
ws_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *arg)
{
	(void)ctx;
	(void)arg;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void
ws_on_msg(wslay_event_context_ptr ctx,
	  const struct wslay_event_on_msg_recv_arg *a, void *arg)
{
	struct ws *w = arg;
	struct push_counters *n = push_srv_counters(w->s);

	switch (a->opcode) {
	case WSLAY_BINARY_FRAME:
		n->ws_messages_in++;
		if (w->dst != NULL &&
		    evbuffer_add(w->dst, a->msg, a->msg_length) < 0)
			w->failed = true;
		break;
	case WSLAY_TEXT_FRAME:
		/* the frames are binary: a text message is a client bug */
		n->ws_text_messages++;
		wslay_event_queue_close(ctx, WSLAY_CODE_UNSUPPORTED_DATA,
					(const uint8_t *)"binary frames only",
					18);
		break;
	default: /* PING, PONG and CLOSE: wslay answers them */
		break;
	}
}

/* Bytes from the socket: binary messages' payloads into dst. */
static enum bufferevent_filter_result
ws_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t lim,
      enum bufferevent_flush_mode mode, void *arg)
{
	struct ws *w = arg;
	size_t before = evbuffer_get_length(dst);
	int rc;

	(void)lim;
	(void)mode;
	w->src = src;
	w->dst = dst;
	rc = wslay_event_recv(w->ctx);
	w->src = w->dst = NULL;
	if (rc == 0 && wslay_event_want_write(w->ctx))
		rc = wslay_event_send(w->ctx);
	if (rc != 0 || w->failed) {
		push_srv_counters(w->s)->ws_protocol_errors++;
		return BEV_ERROR;
	}
	/* the peer's CLOSE (answered): the connection ends once what
	 * came before it was read */
	if (wslay_event_get_close_received(w->ctx) && !w->closing) {
		w->closing = true;
		bufferevent_trigger_event(w->filter, BEV_EVENT_EOF,
					  BEV_TRIG_DEFER_CALLBACKS);
	}
	return evbuffer_get_length(dst) > before ? BEV_OK : BEV_NEED_MORE;
}

/* Bytes push_srv wrote: each whole frame into one binary message. */
static enum bufferevent_filter_result
ws_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t lim,
       enum bufferevent_flush_mode mode, void *arg)
{
	struct ws *w = arg;
	uint8_t hb[PUSH_HDR_LEN];
	size_t have;

	(void)dst; /* ws_send writes to the socket's output, which is dst */
	(void)lim;
	(void)mode;
	while ((have = evbuffer_get_length(src)) >= PUSH_HDR_LEN) {
		struct push_hdr h;
		struct wslay_event_msg m = { .opcode = WSLAY_BINARY_FRAME };
		size_t len;

		evbuffer_copyout(src, hb, PUSH_HDR_LEN);
		if (push_hdr_parse(hb, PUSH_HDR_LEN, UINT32_MAX, &h) < 0)
			return BEV_ERROR;
		len = PUSH_HDR_LEN + (size_t)h.len;
		if (have < len)
			break;
		m.msg = evbuffer_pullup(src, (ev_ssize_t)len);
		m.msg_length = len;
		/* after a CLOSE wslay queues nothing more (RFC 6455 5.5.1):
		 * the frame is neither sent nor counted */
		if (m.msg == NULL || wslay_event_queue_msg(w->ctx, &m) != 0)
			return BEV_ERROR;
		evbuffer_drain(src, len);
		push_srv_counters(w->s)->ws_messages_out++;
	}
	if (wslay_event_want_write(w->ctx) && wslay_event_send(w->ctx) != 0)
		return BEV_ERROR;
	/* the start of a frame, not all of it: BEV_OK would have libevent
	 * call again at once, for ever, with the same bytes */
	return evbuffer_get_length(src) > 0 ? BEV_NEED_MORE : BEV_OK;
}

static void
ws_free(void *arg)
{
	struct ws *w = arg;

	wslay_event_context_free(w->ctx);
	free(w);
}

/* ---- the handshake ------------------------------------------------------------ */

static void
hs_free(struct push_ws_hs *hs)
{
	if (hs->prev != NULL)
		hs->prev->next = hs->next;
	else
		*hs->head = hs->next;
	if (hs->next != NULL)
		hs->next->prev = hs->prev;
	(*hs->count)--;
	if (hs->bev != NULL)
		bufferevent_free(hs->bev);
	free(hs);
}

static void
hs_flushed(struct bufferevent *bev, void *arg)
{
	(void)bev;
	hs_free(arg);
}

/* Answer an HTTP error and close once it is written. */
static void
hs_refuse(struct push_ws_hs *hs, const char *status, const char *extra)
{
	struct timeval tv = { 2, 0 };

	push_srv_counters(hs->s)->ws_bad_handshakes++;
	evbuffer_add_printf(bufferevent_get_output(hs->bev),
			    "HTTP/1.1 %s\r\n%sConnection: close\r\n"
			    "Content-Length: 0\r\n\r\n",
			    status, extra);
	bufferevent_disable(hs->bev, EV_READ);
	bufferevent_set_timeouts(hs->bev, NULL, &tv);
	bufferevent_setcb(hs->bev, NULL, hs_flushed, NULL, hs);
}

/* The value of header name in the request head (NUL-terminated), into
 * out; false when absent or too long. */
static bool
header(const char *head, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);

	for (const char *p = strstr(head, "\r\n"); p != NULL;
	     p = strstr(p, "\r\n")) {
		const char *v, *e;

		p += 2;
		if (strncasecmp(p, name, nl) != 0 || p[nl] != ':')
			continue;
		v = p + nl + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		e = strstr(v, "\r\n");
		if (e == NULL)
			return false;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - v) >= outlen)
			return false;
		memcpy(out, v, (size_t)(e - v));
		out[e - v] = '\0';
		return true;
	}
	return false;
}

/* Does the comma-separated list have the token (case-insensitive)? */
static bool
has_token(const char *list, const char *tok)
{
	size_t n = strlen(tok);

	for (const char *p = list; *p != '\0';) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (strncasecmp(p, tok, n) == 0 &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' ' ||
		     p[n] == '\t'))
			return true;
		while (*p != '\0' && *p != ',')
			p++;
	}
	return false;
}

static int
accept_key(const char *key, char out[32])
{
	uint8_t raw[24], md[SHA_DIGEST_LENGTH];
	char buf[64];
	int n;

	/* 16 random bytes, base64: 24 characters */
	if (strlen(key) != 24 ||
	    EVP_DecodeBlock(raw, (const unsigned char *)key, 24) != 18 ||
	    key[22] != '=' || key[23] != '=')
		return -EINVAL;
	n = snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);
	SHA1((const unsigned char *)buf, (size_t)n, md);
	EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
	return 0;
}

static int
ws_start(struct push_ws_hs *hs)
{
	static const struct wslay_event_callbacks cb = {
		.recv_callback = ws_recv,
		.send_callback = ws_send,
		.genmask_callback = ws_genmask,
		.on_msg_recv_callback = ws_on_msg,
	};
	struct ws *w = calloc(1, sizeof(*w));
	struct bufferevent *f;

	if (w == NULL)
		return -ENOMEM;
	w->s = hs->s;
	w->under = hs->bev;
	if (wslay_event_context_server_init(&w->ctx, &cb, w) != 0) {
		free(w);
		return -ENOMEM;
	}
	/* a frame and its header, as on the TCP channel */
	wslay_event_config_set_max_recv_msg_length(w->ctx,
						   push_srv_max_frame(hs->s));
	bufferevent_setcb(hs->bev, NULL, NULL, NULL, NULL);
	bufferevent_set_timeouts(hs->bev, NULL, NULL);
	f = bufferevent_filter_new(hs->bev, ws_in, ws_out,
				   BEV_OPT_CLOSE_ON_FREE, ws_free, w);
	if (f == NULL) {
		ws_free(w);
		return -ENOMEM;
	}
	w->filter = f;
	hs->bev = NULL; /* the filter owns it now */
	return push_srv_adopt(hs->s, f);
}

static void
hs_read(struct bufferevent *bev, void *arg)
{
	struct push_ws_hs *hs = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	char head[PUSH_WS_HS_MAX + 1], v[256], acc[32];
	size_t len;
	int rc;

	if (end.pos < 0) {
		if (evbuffer_get_length(in) > PUSH_WS_HS_MAX)
			hs_refuse(hs, "431 Request Header Fields Too Large",
				  "");
		return;
	}
	len = (size_t)end.pos + 4;
	if (len > PUSH_WS_HS_MAX) {
		hs_refuse(hs, "431 Request Header Fields Too Large", "");
		return;
	}
	evbuffer_remove(in, head, len);
	head[len] = '\0';
	if (strncmp(head, "GET ", 4) != 0) {
		hs_refuse(hs, "405 Method Not Allowed", "Allow: GET\r\n");
		return;
	}
	if (strstr(head, " HTTP/1.1\r\n") == NULL ||
	    strstr(head, " HTTP/1.1\r\n") > strstr(head, "\r\n")) {
		hs_refuse(hs, "400 Bad Request", "");
		return;
	}
	if (!header(head, "Upgrade", v, sizeof(v)) ||
	    strcasecmp(v, "websocket") != 0 ||
	    !header(head, "Connection", v, sizeof(v)) ||
	    !has_token(v, "upgrade")) {
		hs_refuse(hs, "426 Upgrade Required", "Upgrade: websocket\r\n");
		return;
	}
	if (!header(head, "Sec-WebSocket-Version", v, sizeof(v)) ||
	    strcmp(v, "13") != 0) {
		hs_refuse(hs, "426 Upgrade Required",
			  "Sec-WebSocket-Version: 13\r\n");
		return;
	}
	if (!header(head, "Sec-WebSocket-Key", v, sizeof(v)) ||
	    accept_key(v, acc) < 0) {
		hs_refuse(hs, "400 Bad Request", "");
		return;
	}
	if (evbuffer_get_length(in) > 0) {
		/* frames before the 101: a client bug */
		hs_refuse(hs, "400 Bad Request", "");
		return;
	}
	evbuffer_add_printf(bufferevent_get_output(bev),
			    "HTTP/1.1 101 Switching Protocols\r\n"
			    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			    "Sec-WebSocket-Accept: %s\r\n\r\n",
			    acc);
	push_srv_counters(hs->s)->ws_upgrades++;
	/* hs->bev becomes the filter's (NULL) unless it failed */
	rc = ws_start(hs);
	if (rc < 0)
		LB_DEBUG("push: websocket: %s", strerror(-rc));
	hs_free(hs);
}

static void
hs_event(struct bufferevent *bev, short what, void *arg)
{
	struct push_ws_hs *hs = arg;
	unsigned long e;

	if (what == BEV_EVENT_CONNECTED)
		return; /* wss: the TLS handshake is done */
	if (what & BEV_EVENT_TIMEOUT)
		push_srv_counters(hs->s)->ws_bad_handshakes++;
	if (hs->tls && (what & BEV_EVENT_ERROR) &&
	    (e = bufferevent_get_openssl_error(bev)) != 0) {
		/* a plain ws:// client, or one that refused our cert */
		push_srv_counters(hs->s)->ws_tls_errors++;
		LB_DEBUG("push: wss handshake: %s", ERR_reason_error_string(e));
		while (bufferevent_get_openssl_error(bev) != 0)
			;
	}
	hs_free(hs);
}

void
push_ws_accept(struct push_srv *s, int fd, SSL_CTX *tls,
	       struct push_ws_hs **pending, size_t *npending)
{
	const struct push_conf *c = push_srv_conf(s);
	struct timeval tv = { c->hello_timeout_ms / 1000,
			      (c->hello_timeout_ms % 1000) * 1000 };
	struct push_ws_hs *hs;
	int one = 1;

	if (push_srv_full(s)) {
		push_srv_counters(s)->conns_refused_busy++;
		evutil_closesocket(fd);
		return;
	}
	hs = calloc(1, sizeof(*hs));
	if (hs == NULL) {
		evutil_closesocket(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (tls != NULL) {
		/* TLS below everything: the upgrade request, then wslay's
		 * frames, are read and written through it */
		SSL *ssl = SSL_new(tls);

		hs->tls = true;
		hs->bev = ssl == NULL ? NULL
				      : bufferevent_openssl_socket_new(
						push_srv_base(s), fd, ssl,
						BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE);
		if (hs->bev == NULL && ssl != NULL)
			SSL_free(ssl);
	} else {
		hs->bev = bufferevent_socket_new(push_srv_base(s), fd,
						 BEV_OPT_CLOSE_ON_FREE);
	}
	if (hs->bev == NULL) {
		evutil_closesocket(fd);
		free(hs);
		return;
	}
	hs->s = s;
	hs->head = pending;
	hs->count = npending;
	(*npending)++;
	hs->next = *pending;
	if (*pending != NULL)
		(*pending)->prev = hs;
	*pending = hs;
	bufferevent_setcb(hs->bev, hs_read, NULL, hs_event, hs);
	bufferevent_setwatermark(hs->bev, EV_READ, 0, PUSH_WS_HS_MAX + 1);
	bufferevent_set_timeouts(hs->bev, &tv, &tv);
	bufferevent_enable(hs->bev, EV_READ | EV_WRITE);
}

void
push_ws_free_all(struct push_ws_hs **pending)
{
	while (*pending != NULL)
		hs_free(*pending);
}
