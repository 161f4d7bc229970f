/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The gateway's proxy: an http_handler (http.h) that matches each request
 * against the router's current table (gw_route.h), picks an instance of
 * the route's upstream (gw_upstream.h), forwards the request with the
 * upstream client (http_client.h) and streams the answer back. Both bodies
 * stream with back-pressure: at most one piece of each direction is held
 * here while the other side is above its high water (the client body is
 * paused, the upstream response delivery is paused), never a whole body.
 *
 * Forwarding: hop-by-hop headers are removed both ways (Connection and
 * the headers it names, Keep-Alive, TE, Trailer, Transfer-Encoding,
 * Upgrade, Proxy-*); the request gets X-Forwarded-For (appended),
 * X-Forwarded-Proto and X-Forwarded-Host (set), Forwarded (RFC 7239,
 * appended: for, proto, host) and Via; the response gets Via. The Host
 * goes upstream unchanged. Then the route's rewrites apply.
 *
 * Timeouts per route: connect, request (until the response head) and idle
 * (between response body pieces), each on an upstream client of that
 * profile (clients are made per distinct profile, at most
 * GW_PROXY_PROFILES; more share the default client).
 *
 * Retries: after a connect failure, a reset or timeout before a response
 * head, or a status in the route's retry_on, on another instance when
 * one is available, at most the route's retries times, only for a
 * request without a body, for an idempotent method unless the route sets
 * retry_non_idempotent, and only while the retries in flight stay within
 * retry_budget_pct of the active requests (at least one).
 *
 * Errors before a response head are answered with a small JSON body
 * {"error":"...","route":"..."}: 404 no route, 502 upstream failed
 * (connect, reset, malformed), 503 no instance available, 504 upstream
 * timeout. An upstream that fails after its head was forwarded ends the
 * answer short: with a Content-Length the client sees it cut (the
 * connection closes or the stream is reset); a chunked answer ends with
 * its last chunk, since http.h cannot yet abort one.
 *
 * Threads: one proxy may serve several event loops, e.g. the threads of
 * http_workers: each loop gets its own upstream clients and calls, made
 * on its first request (http_req_base tells the loop); the counters are
 * relaxed atomics; the router and the upstreams are thread-safe.
 */
#ifndef EDGELBD_GW_PROXY_H
#define EDGELBD_GW_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "gw_route.h"
#include "http.h"
#include "http_client.h"

#define GW_PROXY_PROFILES 16
#define GW_PROXY_LOOPS	  64 /* event loops (http_workers threads) */

struct event_base;
struct gw_proxy;

struct gw_done { /* one request's end, for logs and metrics */
	const struct gw_route *route; /* NULL: no route */
	const char *upstream;	      /* NULL: none */
	const struct sockaddr *client;
	const char *method, *host, *path;
	int status; /* 0: none sent */
	uint64_t bytes_in, bytes_out;
	uint64_t start_ns, upstream_head_ns, end_ns; /* lb_now_ns() */
	uint32_t attempts;
	const char *error; /* NULL or why it failed */
};

struct gw_proxy_opts {
	/* base options of the upstream clients (NULL fields: defaults) */
	const struct http_client_opts *client;
	const char *via; /* the Via pseudonym; NULL: "edgelb" */
	/*
	 * Called once per request when its answer ended or the client went
	 * away, on the request's loop thread (the strings of d live until it
	 * returns; upstream_head_ns is 0 when no upstream head came, host
	 * is NULL without a Host). May be NULL.
	 */
	void (*on_done)(void *arg, const struct gw_done *d);
	void *on_done_arg;
};

struct gw_proxy_stats {
	uint64_t requests;
	uint64_t active; /* gauge */
	uint64_t no_route;
	uint64_t too_many_headers; /* 431: no room for the forwarding ones */
	uint64_t attempts;	   /* upstream requests started */
	uint64_t retries;
	uint64_t retries_refused; /* over the budget */
	uint64_t client_aborts;
	uint64_t resp_held;    /* response pieces held for a slow client */
	uint64_t req_held;     /* request pieces held for a slow upstream */
	uint64_t responses[6]; /* by class, all answers */
};

/* base: a loop set up now (its client errors show here), or NULL for
 * loops found per request. NULL with errno EINVAL (no router), ENOMEM,
 * EPROTO (client). */
struct gw_proxy *gw_proxy_new(struct event_base *base, struct gw_router *r,
			      const struct gw_proxy_opts *o);
/* Requests still in flight are cancelled (their clients closed). From
 * the one loop's thread, or after the loops stopped and before their
 * bases are freed (http_workers_stop, then this, then http_workers_free). */
void gw_proxy_free(struct gw_proxy *p);

/* The handler to give http_server_new with p as its argument. */
extern const struct http_handler gw_proxy_handler;

const struct gw_proxy_stats *gw_proxy_stats(const struct gw_proxy *p);

#endif
