/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals of the HTTP server shared by its files: the connection, the
 * per-address connection table, and the ops a connection's protocol fills
 * in (HTTP/1.1 today; HTTP/2 later plugs into the same listener and
 * connection as another struct http_proto).
 */
#ifndef EDGELBD_HTTP_PRIV_H
#define EDGELBD_HTTP_PRIV_H

#include <stdint.h>
#include <sys/socket.h>

#include "http.h"

struct bufferevent;
struct event;
struct http_conn;

/* A connection's protocol: called from the connection's events. */
struct http_proto {
	const char *name;
	int (*start)(struct http_conn *c); /* 0 or -errno: close */
	void (*on_read)(struct http_conn *c);
	void (*on_drain)(struct http_conn *c);	 /* output below low water */
	void (*on_timeout)(struct http_conn *c); /* the conn timer fired */
	void (*on_eof)(struct http_conn *c);	 /* the peer shut down */
	void (*fini)(struct http_conn *c);	 /* before the conn goes */
};

extern const struct http_proto http1_proto;

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
	struct event *backoff; /* re-enables ev after EMFILE and kin */
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
	/* bev is a plain socket bufferevent: the protocol may write its
	 * output to the descriptor itself (never over TLS or a filter) */
	bool plain_fd;
};

/* Arm c's timer in ms; 0 disarms. */
void http_conn_timer(struct http_conn *c, uint32_t ms);
/* Close once the output is flushed (lingering to drain the peer). */
void http_conn_close_after_flush(struct http_conn *c);
/* Run on_read from the loop soon (after the answer to a request). */
void http_conn_kick(struct http_conn *c);
/* Output grew: stop reading above the high water. */
void http_conn_check_out(struct http_conn *c);

#endif
