/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The push service's runtime (see push_srv.h), all on one event loop.
 *
 * Group commit: every write of one loop iteration (accepted messages,
 * acks, "sent" marks, registrations) goes into one store transaction,
 * opened by the first write and committed by a zero-delay timer, which
 * runs after the iteration's I/O callbacks. The API's 202 answers wait
 * for that commit, and so does the delivery of the messages it holds:
 * while a transaction holds new queue entries, pumps are deferred to
 * after the commit, so a device never sees a message (or a seq) that a
 * crash could take back.
 *
 * A connection keeps only a small state struct while idle; its window
 * of messages in flight (at most `window` entries) is allocated while
 * messages are unacknowledged. A connection with messages in flight is
 * on the busy list, which the resend tick walks: an entry older than
 * resend_timeout makes the connection go back to its oldest unacked seq
 * and send again from the store (same ids, the redelivery flag set).
 *
 * A plain TCP connection is not a bufferevent: it is its socket, one
 * struct event and the state below (docs/push.md, "Memory of an idle
 * connection"). Frames are read into one buffer of the server and taken
 * from there; only the bytes of a frame not read whole yet, or of frames
 * left unread while the connection's reading is paused, are copied to a
 * buffer of the connection, and only output the socket did not take at
 * once is kept in one; both are freed once empty. Its deadlines (HELLO,
 * heartbeat, the flush of a last ERROR) are not timers: every connection
 * is on a wheel of WHEEL_SLOTS slots of WHEEL_MS, whose current slot is
 * looked at every WHEEL_MS; reading only stamps the connection, which
 * moves on the wheel when its slot comes up. TLS and WebSocket
 * connections are bufferevents (bufferevent_openssl, the WebSocket
 * filter) with the bufferevent's timeouts; the frame handling is shared.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "metrics.h"
#include "push_srv.h"
#include "push_token.h"
#include "edgelb/lbmsg.h"
#include "edgelb/log.h"
#include "edgelb/util.h"

#define PRUNE_EVERY_MS 10000 /* history pruned this often ... */
#define PRUNE_BATCH    20000 /* ... at most this many entries a time */
#define WHEEL_MS       250   /* the deadline wheel's slot ... */
#define WHEEL_SLOTS    1024  /* ... and its size (256 s a turn) */
#define CLOSE_FLUSH_MS 5000  /* time to write out a last ERROR */
#define RBUF_LEN       16384 /* the server's read buffer */
#define READ_ROUNDS    4     /* reads of one connection per wakeup */

enum conn_state {
	CS_NEW,	    /* waiting for HELLO */
	CS_READY,   /* registered */
	CS_CLOSING, /* flushing an ERROR, then closed */
};

/* One message in flight on a connection. */
struct fl {
	uint64_t seq;
	uint64_t sent_ms;
	uint8_t id[PUSH_ID_BYTES];
};

/* Bytes of a plain connection: read and not taken as frames yet (in),
 * or not written yet (out, from off). */
struct cbuf {
	uint32_t off, len, cap;
	uint8_t b[];
};

struct conn {
	struct push_srv *s;
	struct bufferevent *bev;    /* TLS, WebSocket; NULL: plain */
	struct conn *prev, *next;   /* every connection */
	struct conn *hnext;	    /* online map chain */
	struct conn *bprev, *bnext; /* busy list */
	char *device;		    /* NULL until HELLO */
	struct fl *fl;		    /* NULL while nothing is in flight */
	uint64_t sent_seq;	    /* highest seq sent on this connection */
	uint16_t nfl;
	uint8_t state;
	bool busy, deferred, paused;
	/* plain connections only */
	bool err; /* the socket failed: freed at its next event */
	struct cbuf *in, *out;
	struct conn *tnext, **tpprev; /* deadline wheel slot */
	uint32_t last_ms;	      /* lb_now_ms() of the last read ... */
	uint32_t tmo_ms;	      /* ... and the silence allowed after it */
	struct event ev;	      /* its socket */
};

struct waiter {
	push_commit_fn fn;
	void *arg;
};

/* A vendor wake owed after the commit (copies: the request is gone). */
struct wake {
	char *device, *vendor, *token, *collapse_key, *payload;
	char id[PUSH_ID_TEXT + 1];
	uint64_t seq;
	size_t len;
	uint32_t ttl_s;
	uint8_t priority;
};

struct push_srv {
	struct event_base *base;
	struct push_conf conf;
	const struct push_store_ops *ops;
	void *st;
	struct evconnlistener *lis, *tls_lis, *ws_lis;
	struct evconnlistener *wss_lis;
	struct push_ws_hs *ws_pending; /* WebSocket handshakes */
	size_t nws_pending;
	SSL_CTX *ssl;
	struct event *commit_ev, *tick_ev, *wheel_ev;
	struct conn *wheel[WHEEL_SLOTS]; /* plain connections by deadline */
	uint64_t wheel_at;		 /* the last slot looked at */
	uint8_t *rbuf;			 /* RBUF_LEN: what a read got */
	bool in_txn, txn_enqueued, txn_failed;
	struct waiter *waiters;
	size_t nwaiters, cap_waiters;
	struct conn **deferred;
	size_t ndeferred, cap_deferred;
	push_wake_fn wake_fn;
	void *wake_arg;
	const struct push_cluster_hooks *cluster;
	void *cluster_arg;
	struct wake *wakes;
	size_t nwakes, cap_wakes;
	struct conn *conns; /* every connection */
	struct conn *busy;
	struct conn **map; /* online devices by id */
	size_t map_size, online, nconns;
	uint8_t *fbuf; /* one frame being encoded */
	size_t fbuf_len;
	uint64_t last_expire_ms, last_prune_ms;
	struct push_counters n;
	struct metrics *m;
	struct metrics_family *f_lat;
	struct metrics_series *lat;
};

static void conn_free(struct conn *c);
static void pump(struct conn *c);

/* Wall-clock milliseconds (stored times, TTLs). */
static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t
max_body(const struct push_srv *s)
{
	return s->conf.max_payload + PUSH_FRAME_SLACK;
}

/* Output a connection may hold before its reading stops: a full window
 * of messages and 64 KiB of other frames. */
static size_t
out_high(const struct push_srv *s)
{
	return (size_t)s->conf.window * (PUSH_HDR_LEN + max_body(s)) + 65536;
}

/* ---- the online map ---------------------------------------------------------- */

static size_t
hash_name(const char *p, size_t size)
{
	uint64_t h = 1469598103934665603ull;

	for (; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return (size_t)(h & (size - 1));
}

static struct conn *
map_find(const struct push_srv *s, const char *device)
{
	struct conn *c;

	if (s->map == NULL)
		return NULL;
	for (c = s->map[hash_name(device, s->map_size)]; c != NULL;
	     c = c->hnext)
		if (strcmp(c->device, device) == 0)
			return c;
	return NULL;
}

static int
map_grow(struct push_srv *s)
{
	size_t size = s->map_size != 0 ? s->map_size * 2 : 1024;
	struct conn **map = calloc(size, sizeof(*map));

	if (map == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < s->map_size; i++) {
		struct conn *c = s->map[i], *nx;

		for (; c != NULL; c = nx) {
			size_t h = hash_name(c->device, size);

			nx = c->hnext;
			c->hnext = map[h];
			map[h] = c;
		}
	}
	free(s->map);
	s->map = map;
	s->map_size = size;
	return 0;
}

static int
map_add(struct push_srv *s, struct conn *c)
{
	size_t h;

	if (s->online + 1 > s->map_size && map_grow(s) < 0)
		return -ENOMEM;
	h = hash_name(c->device, s->map_size);
	c->hnext = s->map[h];
	s->map[h] = c;
	s->online++;
	return 0;
}

static void
map_del(struct push_srv *s, struct conn *c)
{
	struct conn **pp;

	if (s->map == NULL || c->device == NULL)
		return;
	for (pp = &s->map[hash_name(c->device, s->map_size)]; *pp != NULL;
	     pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			s->online--;
			return;
		}
}

/* ---- transactions -------------------------------------------------------------- */

int
push_srv_txn(struct push_srv *s)
{
	static const struct timeval now = { 0, 0 };

	if (s->in_txn)
		return 0;
	if (s->ops->begin(s->st) < 0) {
		s->n.commit_errors++;
		return -EIO;
	}
	s->in_txn = true;
	evtimer_add(s->commit_ev, &now);
	return 0;
}

int
push_srv_after_commit(struct push_srv *s, push_commit_fn fn, void *arg)
{
	if (lb_array_grow(&s->waiters, &s->cap_waiters, s->nwaiters + 1,
			  sizeof(*s->waiters)) < 0)
		return -ENOMEM;
	s->waiters[s->nwaiters++] = (struct waiter){ fn, arg };
	return 0;
}

void
push_srv_cancel_commit(struct push_srv *s, void *arg)
{
	for (size_t i = 0; i < s->nwaiters; i++)
		if (s->waiters[i].arg == arg)
			s->waiters[i].fn = NULL;
}

/* Pump c after the commit (c's queue got entries in this transaction). */
static void
defer(struct conn *c)
{
	struct push_srv *s = c->s;

	if (c->deferred)
		return;
	if (lb_array_grow(&s->deferred, &s->cap_deferred, s->ndeferred + 1,
			  sizeof(*s->deferred)) < 0)
		return; /* the resend tick or the next ack pumps it */
	s->deferred[s->ndeferred++] = c;
	c->deferred = true;
}

static void
undefer(struct conn *c)
{
	struct push_srv *s = c->s;

	if (!c->deferred)
		return;
	for (size_t i = 0; i < s->ndeferred; i++)
		if (s->deferred[i] == c)
			s->deferred[i] = NULL;
	c->deferred = false;
}

static void
wake_release(struct wake *w)
{
	free(w->device);
	free(w->vendor);
	free(w->token);
	free(w->collapse_key);
	free(w->payload);
}

/* Owe the vendor wake of device for m, if the device has a token. */
static int
wake_add(struct push_srv *s, const char *device, const struct push_msg *m,
	 uint64_t seq)
{
	struct push_device_info di;
	struct wake *w;
	int rc = s->ops->device_get(s->st, device, &di);

	if (rc < 0 || di.vendor_token[0] == '\0')
		return rc == -ENOENT ? 0 : rc;
	if (lb_array_grow(&s->wakes, &s->cap_wakes, s->nwakes + 1,
			  sizeof(*s->wakes)) < 0)
		return -ENOMEM;
	w = &s->wakes[s->nwakes];
	memset(w, 0, sizeof(*w));
	w->device = strdup(device);
	w->vendor = strdup(di.vendor);
	w->token = strdup(di.vendor_token);
	w->collapse_key =
		strdup(m->collapse_key != NULL ? m->collapse_key : "");
	w->payload = malloc(m->len + 1);
	if (w->device == NULL || w->vendor == NULL || w->token == NULL ||
	    w->collapse_key == NULL || w->payload == NULL) {
		wake_release(w);
		return -ENOMEM;
	}
	memcpy(w->payload, m->payload, m->len);
	w->payload[m->len] = '\0';
	w->len = m->len;
	snprintf(w->id, sizeof(w->id), "%s", m->id);
	w->seq = seq;
	w->ttl_s = m->ttl_s;
	w->priority = m->priority;
	s->nwakes++;
	return 0;
}

/* After the commit (ok) or its failure: call or forget the wakes. */
static void
wakes_run(struct push_srv *s, struct wake *ws, size_t n, bool ok)
{
	for (size_t i = 0; i < n; i++) {
		struct wake *w = &ws[i];
		struct push_wake pw = {
			.device = w->device,
			.vendor = w->vendor,
			.token = w->token,
			.id = w->id,
			.seq = w->seq,
			.collapse_key = w->collapse_key,
			.ttl_s = w->ttl_s,
			.priority = w->priority,
			.payload = (const uint8_t *)w->payload,
			.len = w->len,
		};

		if (ok && s->wake_fn != NULL) {
			s->n.vendor_wakes++;
			s->wake_fn(s->wake_arg, &pw);
		}
		wake_release(w);
	}
	free(ws);
}

void
push_srv_set_wake(struct push_srv *s, push_wake_fn fn, void *arg)
{
	s->wake_fn = fn;
	s->wake_arg = arg;
}

void
push_srv_set_cluster(struct push_srv *s, const struct push_cluster_hooks *h,
		     void *arg)
{
	s->cluster = h;
	s->cluster_arg = arg;
}

void
push_srv_poke(struct push_srv *s, const char *device)
{
	struct conn *c;

	if (device != NULL) {
		c = map_find(s, device);
		if (c != NULL)
			pump(c);
		return;
	}
	for (c = s->conns; c != NULL; c = c->next)
		pump(c);
}

int
push_srv_vendor_invalid(struct push_srv *s, const char *device,
			const char *token)
{
	struct push_device_info di;
	int rc = push_srv_txn(s);

	if (rc == 0)
		rc = s->ops->device_get(s->st, device, &di);
	/* the device may have a new token since: that one stays */
	if (rc == 0 && token != NULL && strcmp(di.vendor_token, token) != 0)
		return -ESTALE;
	if (rc == 0)
		rc = s->ops->device_vendor(s->st, device, NULL, NULL);
	if (rc == 0)
		s->n.vendor_invalid++;
	else if (rc != -ENOENT)
		s->txn_failed = true;
	return rc;
}

int
push_srv_each_online(struct push_srv *s, push_online_fn fn, void *arg)
{
	for (struct conn *c = s->conns; c != NULL; c = c->next) {
		struct push_online o = { 0 };
		struct bufferevent *u;
		int rc;

		if (c->state != CS_READY || c->device == NULL)
			continue;
		o.device = c->device;
		o.in_flight = c->nfl;
		o.sent_seq = c->sent_seq;
		o.peer_len = sizeof(o.peer);
		/* a WebSocket connection's socket is under its filter */
		u = c->bev != NULL ? bufferevent_get_underlying(c->bev) : NULL;
		if (getpeername(
			    c->bev == NULL
				    ? event_get_fd(&c->ev)
				    : bufferevent_getfd(u != NULL ? u : c->bev),
			    (struct sockaddr *)&o.peer, &o.peer_len) < 0)
			o.peer_len = 0;
		rc = fn(arg, &o);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
push_srv_vendor_done(struct push_srv *s, const char *device, uint64_t seq,
		     bool ok, const char *reason)
{
	int64_t now = wall_ms();
	int rc = push_srv_txn(s);

	if (rc < 0)
		return rc;
	if (ok)
		rc = s->ops->mark_sent(s->st, device, seq, now);
	else if (s->ops->mark_failed != NULL)
		rc = s->ops->mark_failed(s->st, device, seq, reason, now);
	if (rc < 0)
		s->txn_failed = true;
	return rc;
}

static void
on_commit(evutil_socket_t fd, short what, void *arg)
{
	struct push_srv *s = arg;
	struct waiter *w = s->waiters;
	struct conn **dc = s->deferred;
	struct wake *wk = s->wakes;
	size_t nw = s->nwaiters, nd = s->ndeferred, nk = s->nwakes;
	int rc = -EIO;

	(void)fd;
	(void)what;
	if (!s->txn_failed)
		rc = s->ops->commit(s->st);
	if (rc < 0) {
		s->ops->rollback(s->st);
		s->n.commit_errors++;
	} else {
		s->n.commits++;
	}
	s->in_txn = s->txn_enqueued = s->txn_failed = false;
	/* taken over: callbacks may start the next transaction */
	s->waiters = NULL;
	s->nwaiters = s->cap_waiters = 0;
	s->deferred = NULL;
	s->ndeferred = s->cap_deferred = 0;
	s->wakes = NULL;
	s->nwakes = s->cap_wakes = 0;
	for (size_t i = 0; i < nw; i++)
		if (w[i].fn != NULL)
			w[i].fn(w[i].arg, rc);
	free(w);
	for (size_t i = 0; i < nd; i++)
		if (dc[i] != NULL) {
			dc[i]->deferred = false;
			pump(dc[i]);
		}
	free(dc);
	wakes_run(s, wk, nk, rc == 0);
}

/* ---- plain connections: the deadline wheel ------------------------------------- */

static uint64_t
deadline_of(const struct conn *c, uint64_t now)
{
	return now - (uint32_t)((uint32_t)now - c->last_ms) + c->tmo_ms;
}

static void
wheel_del(struct conn *c)
{
	if (c->tpprev == NULL)
		return;
	*c->tpprev = c->tnext;
	if (c->tnext != NULL)
		c->tnext->tpprev = c->tpprev;
	c->tnext = NULL;
	c->tpprev = NULL;
}

/* Put c in the slot of its deadline (the next slot when that is due). */
static void
wheel_add(struct conn *c, uint64_t now)
{
	struct push_srv *s = c->s;
	uint64_t at = (deadline_of(c, now) + WHEEL_MS - 1) / WHEEL_MS;
	struct conn **slot;

	wheel_del(c);
	if (at <= s->wheel_at)
		at = s->wheel_at + 1;
	slot = &s->wheel[at % WHEEL_SLOTS];
	c->tnext = *slot;
	if (*slot != NULL)
		(*slot)->tpprev = &c->tnext;
	*slot = c;
	c->tpprev = slot;
}

/* A new deadline: tmo_ms of silence from now. */
static void
deadline_set(struct conn *c, uint32_t tmo_ms)
{
	uint64_t now = lb_now_ms();

	c->last_ms = (uint32_t)now;
	c->tmo_ms = tmo_ms;
	wheel_add(c, now);
}

/* The slots due: a connection past its deadline is closed (counted as a
 * heartbeat timeout unless it was flushing a last ERROR); one that read
 * since it was put there moves to the slot of its new deadline. */
static void
on_wheel(evutil_socket_t fd, short what, void *arg)
{
	struct push_srv *s = arg;
	uint64_t now = lb_now_ms(), to = now / WHEEL_MS;
	size_t n = 0;

	(void)fd;
	(void)what;
	for (; s->wheel_at < to && n < WHEEL_SLOTS; n++) {
		struct conn *due, *c;

		s->wheel_at++;
		due = s->wheel[s->wheel_at % WHEEL_SLOTS];
		s->wheel[s->wheel_at % WHEEL_SLOTS] = NULL;
		if (due != NULL)
			due->tpprev = &due;
		while ((c = due) != NULL) {
			wheel_del(c);
			if (deadline_of(c, now) > now) {
				wheel_add(c, now);
				continue;
			}
			if (c->state != CS_CLOSING)
				s->n.heartbeat_timeouts++;
			conn_free(c);
		}
	}
	s->wheel_at = to;
}

/* ---- plain connections: buffers and events ------------------------------------- */

/* Room for n more bytes in *bp (allocated at need). 0 or -ENOMEM. */
static int
cbuf_room(struct cbuf **bp, size_t n)
{
	struct cbuf *b = *bp;
	size_t used = b != NULL ? b->len - b->off : 0, cap;

	if (used + n > UINT32_MAX / 2)
		return -ENOMEM;
	if (b != NULL && b->off > 0) {
		memmove(b->b, b->b + b->off, used);
		b->off = 0;
		b->len = (uint32_t)used;
	}
	if (b != NULL && b->cap >= used + n)
		return 0;
	cap = b != NULL && b->cap * 2 >= used + n ? b->cap * 2 : used + n;
	b = realloc(b, sizeof(*b) + cap);
	if (b == NULL)
		return -ENOMEM;
	if (*bp == NULL)
		b->off = b->len = 0;
	b->cap = (uint32_t)cap;
	*bp = b;
	return 0;
}

static int
cbuf_put(struct cbuf **bp, const uint8_t *p, size_t n)
{
	if (cbuf_room(bp, n) < 0)
		return -ENOMEM;
	memcpy((*bp)->b + (*bp)->len, p, n);
	(*bp)->len += (uint32_t)n;
	return 0;
}

/* The first n bytes of *bp are used: freed once nothing is left. */
static void
cbuf_take(struct cbuf **bp, size_t n)
{
	struct cbuf *b = *bp;

	b->off += (uint32_t)n;
	if (b->off == b->len) {
		free(b);
		*bp = NULL;
	}
}

static void on_io(evutil_socket_t fd, short what, void *arg);

/* Watch the socket for what c wants now: reading unless it closes or is
 * paused, writing while output is left (or the socket failed). */
static void
conn_io(struct conn *c)
{
	short want = 0;

	if (c->err) {
		want = EV_WRITE;
	} else {
		if (c->state != CS_CLOSING && !c->paused)
			want |= EV_READ;
		if (c->out != NULL)
			want |= EV_WRITE;
	}
	if (event_pending(&c->ev, EV_READ | EV_WRITE, NULL) == want)
		return;
	event_del(&c->ev);
	if (want == 0)
		return;
	event_assign(&c->ev, c->s->base, event_get_fd(&c->ev),
		     want | EV_PERSIST, on_io, c);
	event_add(&c->ev, NULL);
}

/* The socket failed: c is freed from its next event (now). */
static void
conn_fail(struct conn *c)
{
	c->err = true;
	conn_io(c);
	event_active(&c->ev, EV_WRITE, 1);
}

static void
raw_send(struct conn *c, const uint8_t *p, size_t n)
{
	if (c->err)
		return;
	if (c->out == NULL) {
		ssize_t w = send(event_get_fd(&c->ev), p, n,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR) {
			conn_fail(c);
			return;
		}
		if (w < 0)
			w = 0;
		if ((size_t)w == n)
			return;
		p += w;
		n -= (size_t)w;
	}
	if (cbuf_put(&c->out, p, n) < 0) {
		conn_fail(c);
		return;
	}
	conn_io(c);
}

/* Write what c holds. 0 (the rest waits), -1 (the socket failed). */
static int
raw_flush(struct conn *c)
{
	while (c->out != NULL) {
		ssize_t w = send(event_get_fd(&c->ev), c->out->b + c->out->off,
				 c->out->len - c->out->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		cbuf_take(&c->out, (size_t)w);
	}
	conn_io(c);
	return 0;
}

/* ---- frames out ------------------------------------------------------------------ */

static void
out_frame(struct conn *c, int len)
{
	if (len <= 0)
		return;
	if (c->bev != NULL)
		bufferevent_write(c->bev, c->s->fbuf, (size_t)len);
	else
		raw_send(c, c->s->fbuf, (size_t)len);
}

/* Bytes of output not written yet. */
static size_t
out_len(const struct conn *c)
{
	if (c->bev != NULL)
		return evbuffer_get_length(bufferevent_get_output(c->bev));
	return c->out != NULL ? c->out->len - c->out->off : 0;
}

static void
on_flushed(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	conn_free(c);
}

/* Send ERROR code and close once it is written. */
static void
close_with(struct conn *c, uint16_t code, const char *reason)
{
	struct push_srv *s = c->s;
	struct timeval tv = { CLOSE_FLUSH_MS / 1000, 0 };

	out_frame(c, push_enc_error(s->fbuf, s->fbuf_len, code, reason));
	c->state = CS_CLOSING;
	if (c->bev != NULL) {
		bufferevent_disable(c->bev, EV_READ);
		bufferevent_set_timeouts(c->bev, NULL, &tv);
		bufferevent_setcb(c->bev, NULL, on_flushed, NULL, c);
	} else if (!c->err) {
		deadline_set(c, CLOSE_FLUSH_MS);
		conn_io(c);
	}
	if (c->err || out_len(c) == 0)
		conn_free(c);
}

/* ---- delivery --------------------------------------------------------------------- */

static void
busy_add(struct conn *c)
{
	struct push_srv *s = c->s;

	if (c->busy)
		return;
	c->bprev = NULL;
	c->bnext = s->busy;
	if (s->busy != NULL)
		s->busy->bprev = c;
	s->busy = c;
	c->busy = true;
}

static void
busy_del(struct conn *c)
{
	if (!c->busy)
		return;
	if (c->bprev != NULL)
		c->bprev->bnext = c->bnext;
	else
		c->s->busy = c->bnext;
	if (c->bnext != NULL)
		c->bnext->bprev = c->bprev;
	c->busy = false;
	c->bprev = c->bnext = NULL;
}

static int
pump_one(void *arg, const struct push_entry *e)
{
	struct conn *c = arg;
	struct push_srv *s = c->s;
	int64_t now = wall_ms();
	int64_t left = (e->msg.expires_ms - now + 999) / 1000;
	struct fl *f;
	uint8_t id[PUSH_ID_BYTES];
	int len;

	if (push_id_parse(e->msg.id, id) < 0)
		return 0;
	len = push_enc_message(s->fbuf, s->fbuf_len,
			       e->sends > 0 ? PUSH_F_REDELIVERY : 0, id, e->seq,
			       (uint64_t)e->msg.created_ms,
			       left > 0 ? (uint32_t)left : 0, e->msg.priority,
			       e->msg.collapse_key, e->msg.payload, e->msg.len);
	if (len < 0)
		return 0; /* cannot happen: bounded at accept */
	out_frame(c, len);
	f = &c->fl[c->nfl++];
	f->seq = e->seq;
	f->sent_ms = lb_now_ms();
	memcpy(f->id, id, PUSH_ID_BYTES);
	c->sent_seq = e->seq;
	if (e->sends > 0)
		s->n.redelivered++;
	else
		s->n.delivered++;
	if (push_srv_txn(s) == 0 &&
	    s->ops->mark_sent(s->st, c->device, e->seq, now) < 0)
		s->txn_failed = true;
	return c->nfl >= s->conf.window ? 1 : 0;
}

/* Send c what its window allows, from the store, in seq order. */
static void
pump(struct conn *c)
{
	struct push_srv *s = c->s;

	if (c->state != CS_READY || c->nfl >= s->conf.window)
		return;
	if (s->txn_enqueued) {
		defer(c);
		return;
	}
	if (c->fl == NULL) {
		c->fl = calloc(s->conf.window, sizeof(*c->fl));
		if (c->fl == NULL)
			return;
	}
	if (s->ops->queue_next(s->st, c->device, c->sent_seq,
			       s->conf.window - c->nfl, wall_ms(), pump_one,
			       c) < 0)
		LB_WARN("push: %s: reading the queue failed", c->device);
	if (c->nfl > 0) {
		busy_add(c);
	} else {
		busy_del(c);
		free(c->fl);
		c->fl = NULL;
	}
}

static void
on_ack(struct conn *c, const uint8_t *ids, size_t n)
{
	struct push_srv *s = c->s;
	uint64_t now = lb_now_ms();
	int64_t wnow = wall_ms();

	for (size_t i = 0; i < n; i++) {
		const uint8_t *id = ids + i * PUSH_ID_BYTES;
		char text[PUSH_ID_TEXT + 1];
		bool in_window = false;
		uint64_t seq;
		int rc;

		for (size_t k = 0; k < c->nfl; k++)
			if (memcmp(c->fl[k].id, id, PUSH_ID_BYTES) == 0) {
				if (s->lat != NULL)
					metrics_observe(
						s->lat,
						(double)(now -
							 c->fl[k].sent_ms) /
							1e3);
				memmove(&c->fl[k], &c->fl[k + 1],
					(c->nfl - k - 1) * sizeof(*c->fl));
				c->nfl--;
				in_window = true;
				break;
			}
		push_id_format(id, text);
		rc = push_srv_txn(s);
		if (rc == 0)
			rc = s->ops->ack(s->st, c->device, text, wnow, &seq);
		if (rc == 0)
			s->n.acked++;
		else if (rc == -ENOENT && !in_window)
			s->n.acks_unknown++;
		else if (rc != -ENOENT)
			s->txn_failed = true;
	}
	if (c->nfl == 0) {
		busy_del(c);
		free(c->fl);
		c->fl = NULL;
	}
	pump(c);
}

/* ---- frames in ---------------------------------------------------------------------- */

static int
on_hello(struct conn *c, const struct push_frame *f)
{
	struct push_srv *s = c->s;
	char device[PUSH_NAME_MAX + 1], platform[PUSH_PLATFORM_MAX + 1];
	char app[PUSH_APP_MAX + 1];
	struct conn *old;
	struct timeval tv;
	uint64_t n = 0;
	int64_t now = wall_ms();

	snprintf(device, sizeof(device), "%.*s", (int)f->u.hello.device.n,
		 f->u.hello.device.p);
	snprintf(platform, sizeof(platform), "%.*s", (int)f->u.hello.platform.n,
		 f->u.hello.platform.p);
	snprintf(app, sizeof(app), "%.*s", (int)f->u.hello.app.n,
		 f->u.hello.app.p);
	if (push_srv_txn(s) < 0 ||
	    s->ops->device_register(s->st, device, platform, app, now) < 0 ||
	    (f->u.hello.resume > 0 &&
	     s->ops->ack_upto(s->st, device, f->u.hello.resume, now, &n) < 0)) {
		s->txn_failed = true;
		close_with(c, PUSH_E_INTERNAL, "store");
		return -1;
	}
	s->n.acked += n;
	old = map_find(s, device);
	if (old != NULL) {
		s->n.takeovers++;
		conn_free(old);
	}
	c->device = strdup(device);
	if (c->device == NULL || map_add(s, c) < 0) {
		close_with(c, PUSH_E_INTERNAL, "memory");
		return -1;
	}
	s->n.hellos++;
	c->state = CS_READY;
	if (s->cluster != NULL)
		s->cluster->online(s->cluster_arg, c->device, true);
	c->sent_seq = 0;
	out_frame(c, push_enc_welcome(s->fbuf, s->fbuf_len,
				      s->conf.heartbeat_ms / 1000,
				      s->conf.max_payload, (uint64_t)now));
	if (c->bev != NULL) {
		tv.tv_sec = 2 * s->conf.heartbeat_ms / 1000;
		tv.tv_usec = (2 * s->conf.heartbeat_ms % 1000) * 1000;
		bufferevent_set_timeouts(c->bev, &tv, NULL);
	} else if (!c->err) {
		deadline_set(c, 2 * s->conf.heartbeat_ms);
	}
	pump(c);
	return 0;
}

static void
on_bind(struct conn *c, const struct push_frame *f)
{
	struct push_srv *s = c->s;
	char user[PUSH_NAME_MAX + 1];
	int rc = -EACCES;

	snprintf(user, sizeof(user), "%.*s", (int)f->u.bind.user.n,
		 f->u.bind.user.p);
	if (s->conf.bind_secret[0] != '\0')
		rc = push_token_check(s->conf.bind_secret, c->device, user,
				      f->u.bind.expiry, f->u.bind.token,
				      (uint64_t)time(NULL));
	if (rc == -EKEYEXPIRED) {
		s->n.binds_expired++;
		out_frame(c, push_enc_error(s->fbuf, s->fbuf_len,
					    PUSH_E_EXPIRED_TOKEN,
					    "token expired"));
		return;
	}
	if (rc < 0) {
		s->n.binds_bad_token++;
		out_frame(c,
			  push_enc_error(s->fbuf, s->fbuf_len, PUSH_E_BAD_TOKEN,
					 "token does not match"));
		return;
	}
	if (push_srv_txn(s) < 0 ||
	    s->ops->bind(s->st, user, c->device, true) < 0) {
		s->txn_failed = true;
		out_frame(c, push_enc_error(s->fbuf, s->fbuf_len,
					    PUSH_E_INTERNAL, "store"));
		return;
	}
	s->n.binds++;
	out_frame(c, push_enc_bound(s->fbuf, s->fbuf_len, user));
}

/* One decoded frame. 0, or -1 when c is gone or closing. */
static int
on_frame(struct conn *c, const struct push_frame *f)
{
	struct push_srv *s = c->s;

	if (c->state == CS_NEW && f->h.type != PUSH_T_HELLO) {
		s->n.frames_before_hello++;
		close_with(c, PUSH_E_NOT_REGISTERED, "HELLO first");
		return -1;
	}
	switch (f->h.type) {
	case PUSH_T_HELLO:
		if (c->state != CS_NEW) {
			s->n.frames_bad++;
			close_with(c, PUSH_E_BAD_FRAME, "second HELLO");
			return -1;
		}
		return on_hello(c, f);
	case PUSH_T_BIND:
		on_bind(c, f);
		return 0;
	case PUSH_T_ACK:
		on_ack(c, f->u.ack.ids, f->u.ack.n);
		return 0;
	case PUSH_T_PING:
		s->n.pings++;
		if (s->cluster != NULL && c->device != NULL)
			s->cluster->online(s->cluster_arg, c->device, true);
		out_frame(c, push_enc_empty(s->fbuf, s->fbuf_len, PUSH_T_PONG));
		return 0;
	default: /* a server's frame sent by a device */
		s->n.frames_bad++;
		close_with(c, PUSH_E_BAD_FRAME, "not a device frame");
		return -1;
	}
}

/* Stop reading c until its output is written out. */
static void
pause_reading(struct conn *c)
{
	c->s->n.read_pauses++;
	c->paused = true;
	if (c->bev != NULL) {
		bufferevent_disable(c->bev, EV_READ);
	} else {
		wheel_del(c); /* no read timeout while not reading */
		conn_io(c);
	}
}

/*
 * The frame that starts at hdr (its PUSH_HDR_LEN bytes; have: the bytes
 * read of it and after it). 1: it is all there (h); 0: wait for more
 * (or c paused); -1: c is closing or gone.
 */
static int
frame_head(struct conn *c, const uint8_t *hdr, size_t have, struct push_hdr *h)
{
	struct push_srv *s = c->s;
	int rc;

	if (have < PUSH_HDR_LEN)
		return 0;
	if (out_len(c) > out_high(s)) {
		/* the device does not read what it asked for (PONGs,
		 * ERRORs): read no more from it until it did */
		pause_reading(c);
		return 0;
	}
	rc = push_hdr_parse(hdr, PUSH_HDR_LEN, max_body(s), h);
	if (rc == -EPROTONOSUPPORT) {
		s->n.frames_version++;
		close_with(c, PUSH_E_VERSION, "version 1 only");
		return -1;
	}
	if (rc == -EMSGSIZE) {
		s->n.frames_too_large++;
		close_with(c, PUSH_E_TOO_LARGE, "frame too large");
		return -1;
	}
	return have < PUSH_HDR_LEN + (size_t)h->len ? 0 : 1;
}

/* The whole frame at p (header h). 0, or -1 when c is gone or closing. */
static int
frame_body(struct conn *c, const struct push_hdr *h, const uint8_t *p)
{
	struct push_srv *s = c->s;
	struct push_frame f;
	int rc;

	s->n.frames_in++;
	rc = push_frame_decode(h, p + PUSH_HDR_LEN, &f);
	if (rc == -ENOTSUP) {
		s->n.frames_unknown_type++;
		out_frame(c, push_enc_error(s->fbuf, s->fbuf_len,
					    PUSH_E_UNKNOWN_TYPE,
					    "unknown frame type"));
		return 0;
	}
	if (rc < 0) {
		s->n.frames_bad++;
		close_with(c, PUSH_E_BAD_FRAME, "malformed frame");
		return -1;
	}
	return on_frame(c, &f) < 0 ? -1 : 0;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (c->state != CS_CLOSING) {
		size_t have = evbuffer_get_length(in);
		uint8_t hb[PUSH_HDR_LEN];
		struct push_hdr h;
		const uint8_t *p;
		int rc;

		if (have < PUSH_HDR_LEN)
			return;
		evbuffer_copyout(in, hb, PUSH_HDR_LEN);
		rc = frame_head(c, hb, have, &h);
		if (rc <= 0)
			return; /* c may be gone */
		p = evbuffer_pullup(in, PUSH_HDR_LEN + (ssize_t)h.len);
		if (p == NULL) {
			close_with(c, PUSH_E_INTERNAL, "memory");
			return;
		}
		if (frame_body(c, &h, p) < 0)
			return; /* c may be gone */
		evbuffer_drain(in, PUSH_HDR_LEN + (size_t)h.len);
	}
}

/* The output is written out: a paused connection reads again. */
static void
on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (!c->paused)
		return;
	c->paused = false;
	bufferevent_enable(bev, EV_READ);
	on_read(bev, c); /* frames already read in */
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what == BEV_EVENT_CONNECTED)
		return; /* the TLS handshake is done */
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING))
		c->s->n.heartbeat_timeouts++;
	conn_free(c);
}

/*
 * The frames of a plain connection in p (n bytes): the bytes taken
 * (whole frames), or -1 when c is gone or closing. Stops early when c
 * pauses or its socket failed.
 */
static ssize_t
feed(struct conn *c, const uint8_t *p, size_t n)
{
	size_t off = 0;

	while (c->state != CS_CLOSING && !c->paused && !c->err) {
		struct push_hdr h;
		int rc = frame_head(c, p + off, n - off, &h);

		if (rc < 0)
			return -1;
		if (rc == 0)
			break;
		if (frame_body(c, &h, p + off) < 0)
			return -1;
		off += PUSH_HDR_LEN + (size_t)h.len;
	}
	return (ssize_t)off;
}

/* The frames c->in holds. 0, or -1 when c is gone or closing. */
static int
feed_held(struct conn *c)
{
	ssize_t used = feed(c, c->in->b + c->in->off, c->in->len - c->in->off);

	if (used < 0)
		return -1;
	if (used > 0)
		cbuf_take(&c->in, (size_t)used);
	return 0;
}

/*
 * Where the next read of c goes: after the part of a frame c->in holds,
 * at most up to that frame's end (its header first) and at most as much
 * again as it holds (plus 1 KiB); else the server's buffer. -ENOMEM.
 */
static int
read_room(struct conn *c, uint8_t **dst, size_t *room)
{
	struct push_srv *s = c->s;
	size_t have, want = PUSH_HDR_LEN;
	struct push_hdr h;

	if (c->in == NULL) {
		*dst = s->rbuf;
		*room = RBUF_LEN;
		return 0;
	}
	have = c->in->len - c->in->off;
	/* the header was checked when it came in (frame_head) */
	if (have >= PUSH_HDR_LEN &&
	    push_hdr_parse(c->in->b + c->in->off, have, max_body(s), &h) == 0)
		want = PUSH_HDR_LEN + h.len;
	if (want <= have)
		want = have + PUSH_HDR_LEN;
	/* the buffer grows with what came, not with what a header says */
	if (want - have > have + 1024)
		want = 2 * have + 1024;
	if (cbuf_room(&c->in, want - have) < 0)
		return -ENOMEM;
	*dst = c->in->b + c->in->len;
	*room = want - have;
	return 0;
}

/* The socket of c is readable: read, take the frames. c may be freed. */
static void
raw_read(struct conn *c)
{
	struct push_srv *s = c->s;

	for (int i = 0; i < READ_ROUNDS; i++) {
		uint8_t *dst;
		size_t room;
		ssize_t n, used;

		if (read_room(c, &dst, &room) < 0) {
			close_with(c, PUSH_E_INTERNAL, "memory");
			return;
		}
		n = recv(event_get_fd(&c->ev), dst, room, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_free(c); /* EOF or a reset */
			return;
		}
		c->last_ms = (uint32_t)lb_now_ms();
		if (dst != s->rbuf) {
			c->in->len += (uint32_t)n;
			if (feed_held(c) < 0)
				return;
		} else {
			used = feed(c, s->rbuf, (size_t)n);
			if (used < 0)
				return;
			if (used < n && !c->err &&
			    cbuf_put(&c->in, s->rbuf + used,
				     (size_t)(n - used)) < 0) {
				close_with(c, PUSH_E_INTERNAL, "memory");
				return;
			}
		}
		if (c->err) {
			conn_free(c);
			return;
		}
		if (c->paused || (size_t)n < room)
			return;
	}
}

/* A plain connection's socket is ready. */
static void
on_io(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if (c->err) {
		conn_free(c);
		return;
	}
	if (what & EV_WRITE) {
		if (raw_flush(c) < 0) {
			conn_free(c);
			return;
		}
		if (c->state == CS_CLOSING) {
			if (c->out == NULL) {
				conn_free(c); /* the last ERROR is out */
				return;
			}
			c->last_ms = (uint32_t)lb_now_ms();
		} else if (c->out == NULL && c->paused) {
			/* written out: read again, the frames held first */
			c->paused = false;
			deadline_set(c, c->tmo_ms);
			conn_io(c);
			if (c->in != NULL && feed_held(c) < 0)
				return;
			if (c->err) {
				conn_free(c);
				return;
			}
		}
	}
	if ((what & EV_READ) && c->state != CS_CLOSING && !c->paused)
		raw_read(c);
}

static void
conn_free(struct conn *c)
{
	struct push_srv *s = c->s;

	if (c->device != NULL) {
		map_del(s, c);
		if (s->cluster != NULL)
			s->cluster->online(s->cluster_arg, c->device, false);
	}
	busy_del(c);
	undefer(c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->nconns--;
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
	} else {
		wheel_del(c);
		event_del(&c->ev);
		evutil_closesocket(event_get_fd(&c->ev));
		free(c->in);
		free(c->out);
	}
	free(c->fl);
	free(c->device);
	free(c);
}

/* ---- accepting ------------------------------------------------------------------------ */

static void
refuse_busy(struct push_srv *s, evutil_socket_t fd)
{
	int len = push_enc_error(s->fbuf, s->fbuf_len, PUSH_E_BUSY,
				 "too many connections");

	s->n.conns_refused_busy++;
	if (len > 0 && send(fd, s->fbuf, (size_t)len, MSG_DONTWAIT) < 0)
		LB_DEBUG("push: refusing a connection: %s", strerror(errno));
	evutil_closesocket(fd);
}

static void conn_start(struct push_srv *s, struct conn *c);

static void
accept_conn(struct push_srv *s, evutil_socket_t fd, bool tls)
{
	struct conn *c;
	int one = 1;

	if (s->nconns >= s->conf.max_conns) {
		refuse_busy(s, fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (tls) {
		SSL *ssl = SSL_new(s->ssl);

		c->bev = ssl == NULL ? NULL
				     : bufferevent_openssl_socket_new(
					       s->base, fd, ssl,
					       BUFFEREVENT_SSL_ACCEPTING,
					       BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL && ssl != NULL)
			SSL_free(ssl);
		if (c->bev == NULL) {
			evutil_closesocket(fd);
			free(c);
			return;
		}
	} else {
		/* a plain connection: its socket and one event */
		event_assign(&c->ev, s->base, fd, EV_READ | EV_PERSIST, on_io,
			     c);
	}
	conn_start(s, c);
}

int
push_srv_adopt(struct push_srv *s, struct bufferevent *bev)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		bufferevent_free(bev);
		return -ENOMEM;
	}
	c->bev = bev;
	conn_start(s, c);
	return 0;
}

bool
push_srv_full(const struct push_srv *s)
{
	return s->nconns + s->nws_pending >= s->conf.max_conns;
}

size_t
push_srv_max_frame(const struct push_srv *s)
{
	return PUSH_HDR_LEN + max_body(s);
}

struct event_base *
push_srv_base(struct push_srv *s)
{
	return s->base;
}

/* c with its bufferevent or its event: a device connection waiting for
 * HELLO. */
static void
conn_start(struct push_srv *s, struct conn *c)
{
	struct timeval tv = { s->conf.hello_timeout_ms / 1000,
			      (s->conf.hello_timeout_ms % 1000) * 1000 };

	c->s = s;
	c->state = CS_NEW;
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	s->n.conns_accepted++;
	if (c->bev == NULL) {
		deadline_set(c, s->conf.hello_timeout_ms);
		event_add(&c->ev, NULL);
		return;
	}
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0,
				 PUSH_HDR_LEN + max_body(s) + 4096);
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
	  int len, void *arg)
{
	(void)l;
	(void)sa;
	(void)len;
	accept_conn(arg, fd, false);
}

static void
on_accept_tls(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
	      int len, void *arg)
{
	(void)l;
	(void)sa;
	(void)len;
	accept_conn(arg, fd, true);
}

static void
on_accept_ws(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
	     int len, void *arg)
{
	struct push_srv *s = arg;

	(void)l;
	(void)sa;
	(void)len;
	push_ws_accept(s, fd, NULL, &s->ws_pending, &s->nws_pending);
}

static void
on_accept_wss(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
	      int len, void *arg)
{
	struct push_srv *s = arg;

	(void)l;
	(void)sa;
	(void)len;
	push_ws_accept(s, fd, s->ssl, &s->ws_pending, &s->nws_pending);
}

static struct evconnlistener *
listen_on(struct push_srv *s, const struct lb_addr *a, uint16_t port,
	  evconnlistener_cb cb)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	struct evconnlistener *l;
	char buf[LB_ADDRPORTSTRLEN];

	memset(&ss, 0, sizeof(ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, a->bytes, 4);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, a->bytes, 16);
		len = sizeof(*in6);
	}
	l = evconnlistener_new_bind(s->base, cb, s,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					    LEV_OPT_CLOSE_ON_EXEC,
				    4096, (struct sockaddr *)&ss, (int)len);
	if (l == NULL)
		LB_ERR("[push] listen %s: %s",
		       lb_addr_port_format(a, port, buf, sizeof(buf)),
		       strerror(errno));
	return l;
}

static SSL_CTX *
tls_ctx(const struct push_conf *c)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, c->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, c->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		LB_ERR("[push] cert %s / key %s: %s", c->cert, c->key,
		       ERR_reason_error_string(ERR_get_error()));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* ---- ticks: redelivery and expiry -------------------------------------------------------- */

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct push_srv *s = arg;
	uint64_t now = lb_now_ms();
	struct conn *c, *nx;

	(void)fd;
	(void)what;
	for (c = s->busy; c != NULL; c = nx) {
		bool late = false;

		nx = c->bnext;
		for (size_t i = 0; i < c->nfl && !late; i++)
			late = c->fl[i].sent_ms + s->conf.resend_ms <= now;
		if (!late)
			continue;
		/* from the oldest unacked entry on, again */
		c->sent_seq = c->fl[0].seq - 1;
		c->nfl = 0;
		pump(c);
	}
	if (now - s->last_expire_ms >= 1000) {
		uint64_t n = 0;

		s->last_expire_ms = now;
		if (push_srv_txn(s) == 0 &&
		    s->ops->expire(s->st, wall_ms(), &n) < 0)
			s->txn_failed = true;
		s->n.expired += n;
	}
	if (now - s->last_prune_ms >= PRUNE_EVERY_MS) {
		uint64_t n = 0;

		s->last_prune_ms = now;
		if (push_srv_txn(s) == 0 &&
		    s->ops->prune(s->st,
				  wall_ms() - (int64_t)s->conf.retention * 1000,
				  PRUNE_BATCH, &n) < 0)
			s->txn_failed = true;
		s->n.pruned += n;
	}
}

/* ---- metrics ----------------------------------------------------------------------------- */

#define CNT(field, name, help)                                                 \
	{                                                                      \
		offsetof(struct push_counters, field), name, help              \
	}
static const struct {
	size_t off;
	const char *name, *help;
} counter_tab[] = {
	CNT(accepted, "messages_accepted", "Messages accepted (202)."),
	CNT(duplicates, "messages_duplicate",
	    "Requests answered with an earlier message's id."),
	CNT(queued, "queue_entries", "Queue entries made (one per device)."),
	CNT(delivered, "messages_delivered", "First sends to a device."),
	CNT(redelivered, "messages_redelivered", "Sends again, same id."),
	CNT(acked, "messages_acked", "Queue entries acknowledged."),
	CNT(expired, "messages_expired", "Queue entries expired (TTL)."),
	CNT(collapsed, "messages_collapsed",
	    "Queue entries replaced by a newer one (collapse key)."),
	CNT(dropped_queue_full, "messages_dropped_queue_full",
	    "Oldest queue entries dropped over max_queue."),
	CNT(acks_unknown, "acks_unknown", "ACKs for ids not pending."),
	CNT(conns_accepted, "connections", "Device connections accepted."),
	CNT(conns_refused_busy, "connections_refused",
	    "Device connections refused over max_connections."),
	CNT(takeovers, "takeovers",
	    "Connections replaced by a newer one of the same device."),
	CNT(hellos, "hellos", "Devices registered (HELLO)."),
	CNT(binds, "binds", "Binds accepted."),
	CNT(binds_bad_token, "binds_bad_token", "Binds refused: bad token."),
	CNT(binds_expired, "binds_expired_token",
	    "Binds refused: expired token."),
	CNT(frames_in, "frames_in", "Frames received."),
	CNT(frames_bad, "frames_bad", "Malformed frames (closed)."),
	CNT(frames_too_large, "frames_too_large",
	    "Frames over the size limit (closed)."),
	CNT(frames_version, "frames_bad_version",
	    "Frames of another version (closed)."),
	CNT(frames_unknown_type, "frames_unknown_type",
	    "Frames of an unknown type (answered)."),
	CNT(frames_before_hello, "frames_before_hello",
	    "Frames before HELLO (closed)."),
	CNT(heartbeat_timeouts, "heartbeat_timeouts",
	    "Connections closed for silence."),
	CNT(pings, "pings", "PINGs answered."),
	CNT(read_pauses, "read_pauses",
	    "Connections not read while their output was over its bound."),
	CNT(vendor_wakes, "vendor_wakes",
	    "Messages handed to a vendor channel (device offline)."),
	CNT(vendor_invalid, "vendor_invalid",
	    "Vendor tokens forgotten (the vendor called them invalid)."),
	CNT(pruned, "entries_pruned",
	    "Finished queue entries removed after the retention time."),
	CNT(ws_upgrades, "ws_upgrades",
	    "WebSocket handshakes answered 101 (ws_listen)."),
	CNT(ws_bad_handshakes, "ws_bad_handshakes",
	    "WebSocket upgrade requests refused, malformed or too slow."),
	CNT(ws_messages_in, "ws_messages_in",
	    "Binary WebSocket messages received from devices."),
	CNT(ws_messages_out, "ws_messages_out",
	    "Binary WebSocket messages (one frame each) sent to devices."),
	CNT(ws_text_messages, "ws_text_messages",
	    "Text WebSocket messages refused (close 1003)."),
	CNT(ws_protocol_errors, "ws_protocol_errors",
	    "WebSocket connections closed on a framing error or an "
	    "oversized message."),
	CNT(ws_tls_errors, "ws_tls_errors",
	    "TLS handshakes failed on wss_listen (a plain client, a bad "
	    "certificate)."),
	CNT(commits, "commits", "Store transactions committed."),
	CNT(commit_errors, "commit_errors", "Store transactions failed."),
	CNT(api_requests, "api_requests", "Business API requests."),
	CNT(api_unauthorized, "api_unauthorized",
	    "API requests without a valid key (401)."),
	CNT(api_bad_request, "api_bad_request", "API requests refused (400)."),
	CNT(api_not_found, "api_not_found", "API requests answered 404."),
	CNT(api_errors, "api_errors", "API requests failed (5xx)."),
};

static uint64_t
counter(const struct push_srv *s, size_t i)
{
	return *(const uint64_t *)((const char *)&s->n + counter_tab[i].off);
}

static int
collect(void *arg, struct metrics *m)
{
	struct push_srv *s = arg;
	struct push_store_stats st = { 0 };
	char name[128];

	for (size_t i = 0; i < sizeof(counter_tab) / sizeof(counter_tab[0]);
	     i++) {
		snprintf(name, sizeof(name), "edgelbd_push_%s_total",
			 counter_tab[i].name);
		metrics_put(m, name, counter_tab[i].help, METRICS_COUNTER, NULL,
			    0, (double)counter(s, i));
	}
	metrics_put(m, "edgelbd_push_devices_online",
		    "Devices with a registered connection.", METRICS_GAUGE,
		    NULL, 0, (double)s->online);
	metrics_put(m, "edgelbd_push_connections_open",
		    "Open device connections.", METRICS_GAUGE, NULL, 0,
		    (double)s->nconns);
	if (s->ops->stats(s->st, &st) == 0) {
		metrics_put(m, "edgelbd_push_queue_depth",
			    "Queue entries queued or sent, every device.",
			    METRICS_GAUGE, NULL, 0, (double)st.pending);
		metrics_put(m, "edgelbd_push_devices_known",
			    "Devices registered in the store.", METRICS_GAUGE,
			    NULL, 0, (double)st.devices);
	}
	return 0;
}

int
push_srv_ctl_counters(struct push_srv *s, struct nl_msg *msg)
{
	struct nlattr *cnt = nla_nest_start(msg, LB_ATTR_COUNTERS);
	struct push_store_stats st = { 0 };
	int rc = 0;

	if (cnt == NULL)
		return -EMSGSIZE;
	rc = lbmsg_put_counter(msg, "devices_online", s->online);
	if (rc == 0 && s->ops->stats(s->st, &st) == 0)
		rc = lbmsg_put_counter(msg, "queue_depth", st.pending);
	if (rc == 0)
		rc = lbmsg_put_counter(msg, "devices_known", st.devices);
	for (size_t i = 0;
	     rc == 0 && i < sizeof(counter_tab) / sizeof(counter_tab[0]); i++)
		rc = lbmsg_put_counter(msg, counter_tab[i].name, counter(s, i));
	if (rc == 0)
		nla_nest_end(msg, cnt);
	return rc;
}

/* ---- sending ------------------------------------------------------------------------------ */

struct names {
	char **v;
	size_t n, cap;
};

static int
add_name(void *arg, const char *name)
{
	struct names *ns = arg;
	char *d;

	if (lb_array_grow(&ns->v, &ns->cap, ns->n + 1, sizeof(*ns->v)) < 0)
		return -ENOMEM;
	d = strdup(name);
	if (d == NULL)
		return -ENOMEM;
	ns->v[ns->n++] = d;
	return 0;
}

static void
names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
}

int
push_srv_send(struct push_srv *s, const struct push_send *ps,
	      char id[PUSH_ID_TEXT + 1], bool *dup, uint32_t *ndevices)
{
	struct names ns = { 0 };
	uint8_t raw[PUSH_ID_BYTES];
	int64_t now = wall_ms();
	struct push_msg m = {
		.created_ms = now,
		.ttl_s = ps->ttl_s,
		.expires_ms = now + (int64_t)ps->ttl_s * 1000,
		.priority = ps->priority,
		.collapse_key = ps->collapse_key,
		.payload = (const uint8_t *)ps->payload,
		.len = ps->len,
	};
	int rc;

	*dup = false;
	*ndevices = 0;
	rc = push_srv_txn(s);
	if (rc < 0)
		return rc;
	if (ps->idem_key[0] != '\0') {
		rc = s->ops->msg_by_key(s->st, ps->idem_key, id);
		if (rc == 0) {
			*dup = true;
			s->n.duplicates++;
			return 0;
		}
		if (rc != -ENOENT)
			goto err;
	}
	rc = s->ops->targets(s->st, ps->kind, ps->target, add_name, &ns);
	if (rc < 0)
		goto out;
	if (push_id_new(raw) < 0) {
		rc = -EIO;
		goto out;
	}
	push_id_format(raw, m.id);
	rc = s->ops->msg_add(s->st, &m,
			     ps->idem_key[0] != '\0' ? ps->idem_key : NULL);
	if (rc < 0)
		goto err;
	for (size_t i = 0; i < ns.n; i++) {
		struct push_enqueue_res r;
		struct conn *c;

		rc = s->ops->enqueue(s->st, &m, ns.v[i], s->conf.max_queue, now,
				     &r);
		if (rc < 0)
			goto err;
		s->n.queued++;
		s->n.collapsed += r.collapsed;
		s->n.dropped_queue_full += r.dropped;
		c = map_find(s, ns.v[i]);
		if (c != NULL)
			defer(c);
		else if (s->cluster != NULL &&
			 s->cluster->remote(s->cluster_arg, ns.v[i]))
			continue; /* held by another node, woken there */
		else if (s->wake_fn != NULL &&
			 wake_add(s, ns.v[i], &m, r.seq) < 0)
			goto err;
	}
	s->txn_enqueued = true;
	s->n.accepted++;
	snprintf(id, PUSH_ID_TEXT + 1, "%s", m.id);
	*ndevices = (uint32_t)ns.n;
	rc = 0;
	goto out;
err:
	/* the transaction holds part of this message: it all goes */
	s->txn_failed = true;
	rc = -EIO;
out:
	names_free(&ns);
	return rc;
}

/* ---- life cycle ------------------------------------------------------------------------------ */

const struct push_conf *
push_srv_conf(const struct push_srv *s)
{
	return &s->conf;
}

struct push_counters *
push_srv_counters(struct push_srv *s)
{
	return &s->n;
}

uint64_t
push_srv_online(const struct push_srv *s)
{
	return s->online;
}

bool
push_srv_is_online(const struct push_srv *s, const char *device)
{
	return map_find(s, device) != NULL;
}

uint16_t
push_srv_port(const struct push_srv *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (s->lis == NULL || getsockname(evconnlistener_get_fd(s->lis),
					  (struct sockaddr *)&ss, &len) < 0)
		return 0;
	return ntohs(ss.ss_family == AF_INET
			     ? ((struct sockaddr_in *)&ss)->sin_port
			     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

const struct push_store_ops *
push_srv_store(struct push_srv *s, void **st)
{
	*st = s->st;
	return s->ops;
}

void
push_srv_update(struct push_srv *s, const struct push_conf *c)
{
	uint32_t window = s->conf.window, payload = s->conf.max_payload;

	s->conf = *c;
	/* fixed while connections hold windows and frame buffers */
	s->conf.window = window;
	s->conf.max_payload = payload;
}

void
push_srv_drain(struct push_srv *s)
{
	if (s->lis != NULL)
		evconnlistener_disable(s->lis);
	if (s->tls_lis != NULL)
		evconnlistener_disable(s->tls_lis);
	if (s->ws_lis != NULL)
		evconnlistener_disable(s->ws_lis);
	if (s->wss_lis != NULL)
		evconnlistener_disable(s->wss_lis);
}

struct push_srv *
push_srv_new(struct event_base *base, const struct push_conf *c,
	     struct metrics *m)
{
	static const double b[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				    0.1,   0.25,   0.5,	  1,	2.5,   10 };
	struct push_srv *s = calloc(1, sizeof(*s));
	struct timeval tick = { 0, 0 };
	char err[256] = "";
	int rc = -ENOMEM;

	if (s == NULL)
		return NULL;
	s->base = base;
	s->conf = *c;
	s->ops = c->store_redis ? &push_store_redis : &push_store_sqlite;
	s->fbuf_len = PUSH_HDR_LEN + max_body(s);
	s->fbuf = malloc(s->fbuf_len);
	s->commit_ev = evtimer_new(base, on_commit, s);
	s->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, s);
	s->wheel_ev = event_new(base, -1, EV_PERSIST, on_wheel, s);
	s->rbuf = malloc(RBUF_LEN);
	if (s->fbuf == NULL || s->commit_ev == NULL || s->tick_ev == NULL ||
	    s->wheel_ev == NULL || s->rbuf == NULL)
		goto err;
	s->wheel_at = lb_now_ms() / WHEEL_MS;
	rc = s->ops->open(c->store_redis ? c->redis : c->db, &s->st, err,
			  sizeof(err));
	if (rc < 0) {
		LB_ERR("[push] store: %s", err);
		goto err;
	}
	rc = -EADDRINUSE;
	if (c->has_listen) {
		s->lis = listen_on(s, &c->listen_addr, c->listen_port,
				   on_accept);
		if (s->lis == NULL)
			goto err;
	}
	if (c->has_tls) {
		rc = -EINVAL;
		s->ssl = tls_ctx(c);
		if (s->ssl == NULL)
			goto err;
		rc = -EADDRINUSE;
		s->tls_lis =
			listen_on(s, &c->tls_addr, c->tls_port, on_accept_tls);
		if (s->tls_lis == NULL)
			goto err;
	}
	if (c->has_ws) {
		rc = -EADDRINUSE;
		s->ws_lis = listen_on(s, &c->ws_addr, c->ws_port, on_accept_ws);
		if (s->ws_lis == NULL)
			goto err;
	}
	if (c->has_wss) {
		rc = -EINVAL;
		if (s->ssl == NULL && (s->ssl = tls_ctx(c)) == NULL)
			goto err;
		rc = -EADDRINUSE;
		s->wss_lis =
			listen_on(s, &c->wss_addr, c->wss_port, on_accept_wss);
		if (s->wss_lis == NULL)
			goto err;
	}
	tick.tv_usec = (c->resend_ms < 1000 ? c->resend_ms / 4 : 250) * 1000;
	event_add(s->tick_ev, &tick);
	tick.tv_sec = 0;
	tick.tv_usec = WHEEL_MS * 1000;
	event_add(s->wheel_ev, &tick);
	if (m != NULL) {
		s->m = m;
		s->f_lat = metrics_family(
			m, "edgelbd_push_ack_latency_seconds",
			"Time from sending a message to its ACK.",
			METRICS_HISTOGRAM, b, sizeof(b) / sizeof(b[0]));
		s->lat = s->f_lat != NULL ? metrics_series(s->f_lat, NULL, 0)
					  : NULL;
		rc = -ENOMEM;
		if (s->lat == NULL || metrics_add_collector(m, collect, s) < 0)
			goto err;
	}
	return s;
err:
	push_srv_free(s);
	errno = -rc;
	return NULL;
}

void
push_srv_free(struct push_srv *s)
{
	if (s == NULL)
		return;
	while (s->conns != NULL)
		conn_free(s->conns);
	if (s->in_txn) {
		/* what is in flight is committed: answers are owed */
		on_commit(-1, 0, s);
	}
	if (s->m != NULL)
		metrics_del_collector(s->m, collect, s);
	if (s->lis != NULL)
		evconnlistener_free(s->lis);
	if (s->tls_lis != NULL)
		evconnlistener_free(s->tls_lis);
	if (s->ws_lis != NULL)
		evconnlistener_free(s->ws_lis);
	if (s->wss_lis != NULL)
		evconnlistener_free(s->wss_lis);
	push_ws_free_all(&s->ws_pending);
	if (s->ssl != NULL)
		SSL_CTX_free(s->ssl);
	if (s->commit_ev != NULL)
		event_free(s->commit_ev);
	if (s->tick_ev != NULL)
		event_free(s->tick_ev);
	if (s->wheel_ev != NULL)
		event_free(s->wheel_ev);
	free(s->rbuf);
	if (s->st != NULL)
		s->ops->close(s->st);
	free(s->waiters);
	free(s->deferred);
	wakes_run(s, s->wakes, s->nwakes, false);
	free(s->map);
	free(s->fbuf);
	free(s);
}
