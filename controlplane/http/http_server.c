/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HTTP server's listeners and connections (see http.h). A listener
 * accepts up to a batch per wake-up, refuses connections over max_conns
 * or max_conns_per_addr with a 503 (plain listeners; a TLS one closes),
 * and when accept() fails for lack of descriptors or memory it stops
 * listening for accept_backoff_ms instead of waking again at once (the
 * socket stays readable: without the pause the loop would spin). A
 * connection is a bufferevent (a socket one, or an OpenSSL one on a TLS
 * listener) plus one timer. Until its protocol is known (ALPN after the
 * TLS handshake; on plain TCP the first bytes compared with the HTTP/2
 * client preface) the idle timeout runs; then the protocol (http_priv.h)
 * does the rest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netdb.h>
#include <openssl/err.h>

#include "http_fdbudget.h"
#include "http_priv.h"
#include "edgelb/log.h"
#include "edgelb/util.h"

#define ACCEPT_BATCH 32
#define LINGER_MS    2000 /* reading to EOF after the last answer */

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static const char busy_reply[] = "HTTP/1.1 503 Service Unavailable\r\n"
				 "Content-Length: 0\r\n"
				 "Connection: close\r\n\r\n";

static void conn_free(struct http_conn *c);
static void listeners_close(struct http_server *s);

static void
on_conn_timer(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->closing) {
		conn_free(c);
		return;
	}
	if (c->proto == NULL) {
		/* no request (nor TLS handshake) within the idle time */
		HTTP_STAT_ADD(c->s, idle_closes, 1);
		conn_free(c);
		return;
	}
	c->proto->on_timeout(c);
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->upgraded) {
		conn_free(c); /* http_resp_upgrade handed bev over */
		return;
	}
	if (c->proto != NULL && !c->closing)
		c->proto->on_read(c);
}

const char *
http_conn_peer_str(const struct http_conn *c, char *buf, size_t len)
{
	snprintf(buf, len, "?");
	if (c->peer.ss_family != 0)
		getnameinfo((const struct sockaddr *)&c->peer, c->peerlen, buf,
			    len, NULL, 0, NI_NUMERICHOST);
	return buf;
}

void
http_stat_refusal(struct http_server *s, int status)
{
	switch (status) {
	case 400:
	case 505:
		HTTP_STAT_ADD(s, bad_requests, 1);
		break;
	case 413:
		HTTP_STAT_ADD(s, body_too_large, 1);
		break;
	case 431:
		HTTP_STAT_ADD(s, head_too_large, 1);
		break;
	default:
		break;
	}
}

void
http_conn_timer(struct http_conn *c, uint32_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms == 0)
		evtimer_del(c->timer);
	else
		evtimer_add(c->timer, &tv);
}

void
http_conn_kick(struct http_conn *c)
{
	event_active(c->kick, EV_READ, 0);
}

void
http_conn_check_out(struct http_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (!c->out_full &&
	    evbuffer_get_length(out) > c->s->lim.out_high_water) {
		c->out_full = true;
		HTTP_STAT_ADD(c->s, read_pauses, 1);
		bufferevent_disable(c->bev, EV_READ);
	}
}

/* Shut down writing and read to EOF, so that unread request bytes do not
 * turn the close into a reset that destroys the last answer. */
static void
linger(struct http_conn *c)
{
	c->lingering = true;
	shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	bufferevent_enable(c->bev, EV_READ);
	http_conn_timer(c, LINGER_MS);
}

void
http_conn_close_after_flush(struct http_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	evtimer_del(c->timer);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		linger(c);
	else
		/* a peer that does not read: give up after the idle time */
		http_conn_timer(c, c->s->lim.idle_timeout_ms);
}

/*
 * Pick the connection's protocol: 1 picked and started, 0 not yet (the
 * first bytes may still be the HTTP/2 preface), -errno: close.
 */
static int
choose_proto(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	const struct http_proto *p = &http1_proto;
	char buf[sizeof(h2_preface)];
	size_t n, k = sizeof(h2_preface) - 1;

	if (c->tls) {
		const unsigned char *alpn = NULL;
		unsigned int alen = 0;

		SSL_get0_alpn_selected(bufferevent_openssl_get_ssl(c->bev),
				       &alpn, &alen);
		if (alen == 2 && memcmp(alpn, "h2", 2) == 0)
			p = &http2_proto;
	} else {
		n = evbuffer_get_length(in);
		if (n == 0)
			return 0;
		if (n > k)
			n = k;
		evbuffer_copyout(in, buf, n);
		if (memcmp(buf, h2_preface, n) == 0) {
			if (n < k)
				return 0; /* could still be the preface */
			p = &http2_proto;
		}
	}
	c->proto = p;
	if (p->start(c) < 0) {
		c->proto = NULL;
		return -ENOMEM;
	}
	if (c->s->h.on_conn != NULL)
		c->s->h.on_conn(c->s->arg, p->name, c->tls);
	return 1;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;
	int rc;

	if (c->closing) {
		evbuffer_drain(bufferevent_get_input(bev),
			       evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	if (c->proto == NULL) {
		rc = choose_proto(c);
		if (rc < 0) {
			conn_free(c);
			return;
		}
		if (rc == 0)
			return;
	}
	c->proto->on_read(c);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	if (c->closing) {
		if (!c->lingering &&
		    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			linger(c);
		return;
	}
	if (c->proto == NULL)
		return;
	if (c->out_full) {
		c->out_full = false;
		bufferevent_enable(bev, EV_READ);
		http_conn_kick(c);
	}
	c->proto->on_drain(c);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		/* TLS handshake done: ALPN tells the protocol */
		if (c->proto == NULL && !c->closing) {
			if (choose_proto(c) < 0) {
				conn_free(c);
				return;
			}
			c->proto->on_read(c);
		}
		return;
	}
	if ((what & BEV_EVENT_EOF) && !c->closing && c->proto != NULL) {
		c->proto->on_eof(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		HTTP_STAT_ADD(c->s, idle_closes,
			      1); /* the peer stopped reading */
	if (c->tls && c->proto == NULL && (what & BEV_EVENT_ERROR)) {
		char peer[64];
		unsigned long e = bufferevent_get_openssl_error(c->bev);

		HTTP_STAT_ADD(c->s, tls_errors, 1);
		http_log_rl(&c->s->rl, LOG_INFO, "http: %s: TLS handshake: %s",
			    http_conn_peer_str(c, peer, sizeof(peer)),
			    e != 0 ? ERR_reason_error_string(e) : "closed");
	}
	conn_free(c);
}

static void
conn_free(struct http_conn *c)
{
	struct http_server *s = c->s;

	if (c->proto != NULL && c->proto->fini != NULL)
		c->proto->fini(c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	http_addr_put(&s->addrs, c->slot);
	if (!c->upgraded) /* else http_upgraded_free returns it */
		http_fdbudget_put();
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->kick != NULL)
		event_free(c->kick);
	if (c->bev != NULL && !c->upgraded)
		bufferevent_free(c->bev);
	if (c->share != NULL)
		__atomic_sub_fetch(&c->share->open, 1, __ATOMIC_RELAXED);
	HTTP_STAT_ADD(s, conns_open, -1);
	free(c);
}

/* A place in sh for one more connection; false (counted) when full. */
static bool
share_take(struct http_conn_share *sh)
{
	uint32_t max = __atomic_load_n(&sh->max, __ATOMIC_RELAXED);

	if (__atomic_add_fetch(&sh->open, 1, __ATOMIC_RELAXED) <= max ||
	    max == 0)
		return true;
	__atomic_sub_fetch(&sh->open, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sh->refused, 1, __ATOMIC_RELAXED);
	return false;
}

void
http_server_share_conns(struct http_server *s, struct http_conn_share *sh)
{
	s->share = sh;
}

/* Best effort: a refused client gets a status before the close. */
static void
refuse(struct http_server *s, int fd, bool tls, const char *why)
{
	ssize_t rc = 0;

	if (!tls)
		rc = send(fd, busy_reply, sizeof(busy_reply) - 1,
			  MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)rc;
	close(fd);
	http_log_rl(&s->rl, LOG_WARNING, "http: connection refused: %s", why);
}

static int
conn_new(struct http_server *s, const struct http_tls_ctx *tls, int fd,
	 const struct sockaddr_storage *peer, socklen_t peerlen)
{
	struct timeval wt = { s->lim.idle_timeout_ms / 1000,
			      (s->lim.idle_timeout_ms % 1000) * 1000 };
	struct http_conn *c;
	SSL *ssl = NULL;

	if (s->st.conns_open >= s->lim.max_conns) {
		HTTP_STAT_ADD(s, conns_refused_total, 1);
		refuse(s, fd, tls != NULL, "max_conns reached");
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto err;
	c->s = s;
	c->peer = *peer;
	c->peerlen = peerlen;
	c->slot = http_addr_get(&s->addrs, (const struct sockaddr *)peer);
	if (c->slot == NULL) {
		free(c);
		goto err;
	}
	if (c->slot->n > s->lim.max_conns_per_addr) {
		http_addr_put(&s->addrs, c->slot);
		free(c);
		HTTP_STAT_ADD(s, conns_refused_per_addr, 1);
		refuse(s, fd, tls != NULL, "max_conns_per_addr reached");
		return 0;
	}
	if (http_fdbudget_take() < 0) {
		http_addr_put(&s->addrs, c->slot);
		free(c);
		HTTP_STAT_ADD(s, conns_refused_fd_budget, 1);
		refuse(s, fd, tls != NULL,
		       "descriptor budget reached (fd_budget)");
		return 0;
	}
	if (s->share != NULL && !share_take(s->share)) {
		http_fdbudget_put();
		http_addr_put(&s->addrs, c->slot);
		free(c);
		HTTP_STAT_ADD(s, conns_refused_total, 1);
		refuse(s, fd, tls != NULL, "shared max_conns reached");
		return 0;
	}
	c->share = s->share;
	HTTP_STAT_ADD(s, conns_open, 1);
	HTTP_STAT_ADD(s, conns_accepted, 1);
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	if (tls != NULL) {
		c->tls = true;
		ssl = SSL_new(tls->def);
		if (ssl != NULL)
			c->bev = bufferevent_openssl_socket_new(
				s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
				BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL)
			SSL_free(ssl);
		else
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else {
		c->bev = bufferevent_socket_new(s->base, fd,
						BEV_OPT_CLOSE_ON_FREE);
		c->plain_fd = true;
	}
	c->timer = evtimer_new(s->base, on_conn_timer, c);
	c->kick = event_new(s->base, -1, 0, on_kick, c);
	if (c->bev == NULL) {
		close(fd);
		conn_free(c);
		return -ENOMEM;
	}
	if (c->timer == NULL || c->kick == NULL)
		goto err_conn;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, s->lim.out_high_water / 2,
				 0);
	/* unparsed input (pipelined requests) is bounded too */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
				 s->lim.max_head_bytes + 16384);
	bufferevent_set_timeouts(c->bev, NULL, &wt);
	/* the protocol is chosen on the first bytes (or after TLS) */
	http_conn_timer(c, s->lim.idle_timeout_ms);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return 0;
err_conn:
	conn_free(c);
	return -ENOMEM;
err:
	close(fd);
	return -ENOMEM;
}

static void
on_backoff(evutil_socket_t fd, short what, void *arg)
{
	struct http_listener *l = arg;

	(void)fd;
	(void)what;
	event_add(l->ev, NULL);
}

static void
on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct http_listener *l = arg;
	struct http_server *s = l->s;

	(void)what;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		struct timeval tv;
		int c = accept4(fd, (struct sockaddr *)&peer, &len,
				SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (c >= 0) {
			(void)lb_tcp_nodelay(c); /* best effort */
			if (conn_new(s, l->tls, c, &peer, len) < 0)
				http_log_rl(&s->rl, LOG_ERR,
					    "http: connection: out of memory");
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		HTTP_STAT_ADD(s, accept_errors, 1);
		if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS &&
		    errno != ENOMEM) {
			http_log_rl(&s->rl, LOG_ERR, "http: accept: %s",
				    strerror(errno));
			return;
		}
		/* the socket stays readable: pause instead of spinning */
		HTTP_STAT_ADD(s, accept_backoffs, 1);
		http_log_rl(&s->rl, LOG_ERR,
			    "http: accept: %s; pausing the listener %u ms",
			    strerror(errno), s->lim.accept_backoff_ms);
		event_del(l->ev);
		tv.tv_sec = s->lim.accept_backoff_ms / 1000;
		tv.tv_usec = (s->lim.accept_backoff_ms % 1000) * 1000;
		evtimer_add(l->backoff, &tv);
		return;
	}
}

struct http_server *
http_server_new(struct event_base *base, const struct http_limits *lim,
		const struct http_handler *h, void *arg)
{
	struct http_server *s;

	if (lim == NULL)
		lim = &http_default_limits;
	if (base == NULL || h == NULL || h->on_request == NULL ||
	    lim->max_conns == 0 || lim->max_conns_per_addr == 0 ||
	    lim->max_head_bytes == 0 || lim->head_timeout_ms == 0 ||
	    lim->idle_timeout_ms == 0 || lim->out_high_water == 0 ||
	    lim->accept_backoff_ms == 0) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto err;
	s->base = base;
	s->lim = *lim;
	if (s->lim.max_streams == 0)
		s->lim.max_streams = 100;
	s->h = *h;
	s->arg = arg;
	s->rl.burst = 10;
	if (http_addr_table_init(&s->addrs, lim->max_conns) < 0)
		goto err;
	return s;
err:
	free(s);
	errno = ENOMEM;
	return NULL;
}

void
http_server_free(struct http_server *s)
{
	if (s == NULL)
		return;
	while (s->conns != NULL)
		conn_free(s->conns);
	listeners_close(s);
	http_addr_table_fini(&s->addrs);
	free(s);
}

static void
listener_close(struct http_listener *l)
{
	event_free(l->ev);
	event_free(l->backoff);
	close(l->fd);
	http_tls_ctx_free(l->tls);
	memset(l, 0, sizeof(*l));
}

/* Close every listener. */
static void
listeners_close(struct http_server *s)
{
	for (size_t i = 0; i < s->nls; i++)
		listener_close(&s->ls[i]);
	s->nls = 0;
}

int
http_server_listen(struct http_server *s, const struct lb_addr *addr,
		   uint16_t port)
{
	return http_server_listen_opts(s, addr, port, NULL);
}

int
http_server_listen_tls(struct http_server *s, const struct lb_addr *addr,
		       uint16_t port, const struct http_tls *tls)
{
	struct http_listen_opts o = { .tls = tls };

	if (tls == NULL)
		return -EINVAL;
	return http_server_listen_opts(s, addr, port, &o);
}

int
http_server_listen_opts(struct http_server *s, const struct lb_addr *addr,
			uint16_t port, const struct http_listen_opts *o)
{
	struct http_tls_ctx *tls = NULL;
	struct http_listener *l;
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int one = 1, fd = -1, rc;

	if (s->nls >= HTTP_MAX_LISTENERS)
		return -ENOSPC;
	if (addr->family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		memcpy(&a->sin_addr, &addr->v4, 4);
		len = sizeof(*a);
	} else if (addr->family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		memcpy(&a->sin6_addr, addr->v6, 16);
		len = sizeof(*a);
	} else {
		return -EAFNOSUPPORT;
	}
	if (o != NULL && o->tls != NULL) {
		tls = http_tls_ctx_new(o->tls);
		if (tls == NULL)
			return -errno;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		rc = -errno;
		goto err;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (o != NULL && o->reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		rc = -errno;
		goto err;
	}
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 512) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		rc = -errno;
		goto err;
	}
	l = &s->ls[s->nls];
	l->s = s;
	l->fd = fd;
	l->tls = tls;
	l->port = ntohs(ss.ss_family == AF_INET
				? ((struct sockaddr_in *)&ss)->sin_port
				: ((struct sockaddr_in6 *)&ss)->sin6_port);
	l->ev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_accept, l);
	l->backoff = evtimer_new(s->base, on_backoff, l);
	if (l->ev == NULL || l->backoff == NULL || event_add(l->ev, NULL) < 0) {
		if (l->ev != NULL)
			event_free(l->ev);
		if (l->backoff != NULL)
			event_free(l->backoff);
		l->tls = NULL;
		rc = -ENOMEM;
		goto err;
	}
	s->nls++;
	return 0;
err:
	if (fd >= 0)
		close(fd);
	http_tls_ctx_free(tls);
	return rc;
}

uint16_t
http_server_port(const struct http_server *s)
{
	return s->nls > 0 ? s->ls[0].port : 0;
}

const struct http_stats *
http_server_stats(const struct http_server *s)
{
	return &s->st;
}

void
http_server_stats_read(const struct http_server *s, struct http_stats *sum)
{
	const uint64_t *src = (const uint64_t *)&s->st;
	uint64_t *dst = (uint64_t *)sum;

	/* struct http_stats is uint64_t fields only */
	for (size_t i = 0; i < sizeof(*sum) / sizeof(uint64_t); i++)
		dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

int
http_server_adopt(struct http_server *s, int fd, const struct sockaddr *peer,
		  socklen_t len)
{
	struct sockaddr_storage ss = { 0 };

	if (len > sizeof(ss)) {
		close(fd);
		return -EINVAL;
	}
	memcpy(&ss, peer, len);
	return conn_new(s, NULL, fd, &ss, len);
}

void
http_server_drain(struct http_server *s)
{
	struct http_conn *c, *next;

	if (s->draining)
		return;
	s->draining = true;
	for (size_t i = 0; i < s->nls; i++) {
		event_del(s->ls[i].ev);
		event_del(s->ls[i].backoff);
	}
	for (c = s->conns; c != NULL; c = next) {
		next = c->next; /* drain may free c */
		if (c->closing)
			continue;
		if (c->proto == NULL)
			conn_free(c); /* nothing asked yet */
		else
			c->proto->drain(c);
	}
}

size_t
http_server_active(const struct http_server *s)
{
	size_t n = 0;

	for (const struct http_conn *c = s->conns; c != NULL; c = c->next)
		n += !c->closing;
	return n;
}
