/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals of the HTTP server shared by its files: the connection, the
 * request, the per-address connection table, TLS contexts, and the ops a
 * connection's protocol fills in (HTTP/1.1 in http1.c, HTTP/2 in
 * http2.c; the listener picks one per connection by ALPN or by sniffing
 * the HTTP/2 client preface).
 */
#ifndef EDGELBD_HTTP_PRIV_H
#define EDGELBD_HTTP_PRIV_H

#include <stdint.h>
#include <sys/socket.h>
#include <openssl/ssl.h>

#include "http.h"

struct bufferevent;
struct event;
struct http_conn;

/*
 * One request and the state of its answer. HTTP/1.1 has one per
 * connection at a time; HTTP/2 one per stream (inside its stream).
 */
struct http_req {
	struct http_conn *c;
	const struct http_msg *msg;
	bool handed;	 /* the handler saw it (on_head or on_request) */
	bool complete;	 /* the request's last byte was read */
	bool started;	 /* answer: head sent */
	bool ended;	 /* answer: complete */
	bool no_body;	 /* answer: HEAD request, 1xx, 204, 304 */
	bool chunked;	 /* answer: chunked framing (HTTP/1.1) */
	bool close;	 /* answer: close the connection after it */
	bool want_drain; /* http_resp_write said -EAGAIN */
	int64_t left;	 /* answer: body bytes still due; -1 unknown */
	int status;
	char *body; /* collected request body */
	size_t body_len, body_cap;
	void *udata; /* the handler's (http_req_set_data) */
};

/*
 * A connection's protocol: called from the connection's events, and the
 * answer of its requests (the http_resp_* calls land here). resp_write
 * is called by http_req.c once the checks every protocol shares have
 * passed (the connection is open, the response started and not ended,
 * n > 0 and within Content-Length, below the high water unless forced,
 * left updated): it only puts the n bytes out.
 */
struct http_proto {
	const char *name;
	int (*start)(struct http_conn *c); /* 0 or -errno: close */
	void (*on_read)(struct http_conn *c);
	void (*on_drain)(struct http_conn *c);	 /* output below low water */
	void (*on_timeout)(struct http_conn *c); /* the conn timer fired */
	void (*on_eof)(struct http_conn *c);	 /* the peer shut down */
	void (*fini)(struct http_conn *c);	 /* before the conn goes */
	/* the server drains: finish what is in flight, then close */
	void (*drain)(struct http_conn *c);
	int (*resp_start)(struct http_req *r, int status,
			  const struct http_header *h, size_t nh,
			  int64_t content_length);
	int (*resp_write)(struct http_req *r, const void *p, size_t n);
	int (*resp_end)(struct http_req *r);
	bool (*resp_writable)(const struct http_req *r);
	size_t (*resp_pending)(const struct http_req *r);
	void (*pause_body)(struct http_req *r, bool paused);
};

extern const struct http_proto http1_proto;
extern const struct http_proto http2_proto;

/*
 * Whether a handler's response header name (value false: not empty, no
 * ':', space, CR or LF) or value (no CR or LF) may be written out; both
 * HTTP/1 and HTTP/2 refuse the response otherwise.
 */
bool http_header_ok(const char *s, bool value);

/* Append n bytes to a request's collected body, bounded by the caller. */
int http_req_collect(struct http_req *r, const char *p, size_t n);

/* A listener's TLS: the default context and one per server name. */
struct http_tls_ctx {
	SSL_CTX *def;
	size_t n;
	SSL_CTX **ctx;
	char **names;
};

/* Load every certificate and key of t; NULL with errno EINVAL (logged). */
struct http_tls_ctx *http_tls_ctx_new(const struct http_tls *t);
void http_tls_ctx_free(struct http_tls_ctx *x);

/* Connections per client address (IPv4 as v4-mapped IPv6). */
struct http_addr_count {
	struct http_addr_count *next;
	uint8_t addr[16];
	uint32_t n;
};

struct http_addr_table {
	struct http_addr_count **b;
	size_t nb; /* a power of two */
};

int http_addr_table_init(struct http_addr_table *t, uint32_t max_conns);
void http_addr_table_fini(struct http_addr_table *t);
/* The address's entry with its count raised; NULL on ENOMEM. */
struct http_addr_count *http_addr_get(struct http_addr_table *t,
				      const struct sockaddr *sa);
void http_addr_put(struct http_addr_table *t, struct http_addr_count *e);

#define HTTP_MAX_LISTENERS 8

struct http_listener {
	struct http_server *s;
	int fd;
	uint16_t port;
	struct event *ev;
	struct event *backoff;	  /* re-enables ev after EMFILE and kin */
	struct http_tls_ctx *tls; /* NULL: plain (HTTP/1.1 or h2c) */
};

struct http_server {
	struct event_base *base;
	struct http_limits lim;
	struct http_handler h;
	void *arg;
	struct http_listener ls[HTTP_MAX_LISTENERS];
	size_t nls;
	struct http_conn *conns; /* open connections */
	struct http_addr_table addrs;
	struct http_stats st;
	struct http_ratelimit rl;
	bool draining;		       /* http_server_drain: no new work */
	struct http_conn_share *share; /* NULL: max_conns only */
};

struct http_conn {
	struct http_server *s;
	struct http_conn *prev, *next;
	struct bufferevent *bev;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	struct http_addr_count *slot;
	const struct http_proto *proto;
	void *pstate;	     /* the protocol's */
	struct event *timer; /* the protocol's deadlines */
	struct event *kick;  /* run on_read from the loop */
	bool out_full;	     /* reading stopped: output above high water */
	bool closing;	     /* flushing, then lingering, then gone */
	bool lingering;	     /* shut down for writing, reading to EOF */
	bool tls;	     /* bev is an OpenSSL bufferevent */
	/* bev is a plain socket bufferevent: the protocol may write its
	 * output to the descriptor itself (never over TLS or a filter) */
	bool plain_fd;
	/* handed over by http_resp_upgrade: bev is not ours any more; the
	 * conn is freed from the loop (kick) */
	bool upgraded;
	/* counted in the server's share (a reload may clear s->share) */
	struct http_conn_share *share;
};

/* A counter of the server's stats, written by its own loop thread only;
 * other threads read it with relaxed atomic loads (http_server_stats_read). */
#define HTTP_STAT_ADD(s, field, v)                                             \
	__atomic_store_n(&(s)->st.field,                                       \
			 __atomic_load_n(&(s)->st.field, __ATOMIC_RELAXED) +   \
				 (v),                                          \
			 __ATOMIC_RELAXED)

/* Arm c's timer in ms; 0 disarms. */
void http_conn_timer(struct http_conn *c, uint32_t ms);
/* Count a request refused with status (400, 413, 431, 505) by its kind. */
void http_stat_refusal(struct http_server *s, int status);
/* Close once the output is flushed (lingering to drain the peer). */
void http_conn_close_after_flush(struct http_conn *c);
/* Run on_read from the loop soon (after the answer to a request). */
void http_conn_kick(struct http_conn *c);
/* Output grew: stop reading above the high water. */
void http_conn_check_out(struct http_conn *c);
/* The client's address as text, for log lines. */
const char *http_conn_peer_str(const struct http_conn *c, char *buf,
			       size_t len);

#endif
