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
 * (between response body pieces), and the pool sizes per upstream
 * (max_conns, max_idle_conns per instance), each on an upstream client
 * of that profile (clients are made per distinct profile and loop, at
 * most GW_PROXY_PROFILES; more share the default client, counted in
 * profiles_full).
 *
 * Retries: after a connect failure, a reset or timeout before a response
 * head, or a status in the route's retry_on, on another instance when
 * one is available, at most the route's retries times, for an idempotent
 * method unless the route sets retry_non_idempotent, and only while the
 * retries in flight stay within retry_budget_pct of the active requests
 * (at least one). A request body is copied as it streams, up to the
 * route's retry_body_max bytes and while all copies of the proxy stay
 * within GW_RETRY_BODY_TOTAL; a retry sends the copy to the next instance
 * first, then the rest as it comes. A body larger than that (or one that
 * came while the copy could not be kept) is streamed without a copy and
 * its request is not retried (retries_skipped_body). The copy goes when
 * the response head comes.
 *
 * Errors before a response head are answered with a small JSON body
 * {"error":"...","route":"..."}: 404 no route, 502 upstream failed
 * (connect, reset, malformed), 503 no instance available, 504 upstream
 * timeout. An upstream that fails after its head was forwarded ends the
 * answer short: with a Content-Length the client sees it cut (the
 * connection closes or the stream is reset); a chunked answer ends with
 * its last chunk, since http.h cannot yet abort one.
 *
 * WebSocket (HTTP/1.1 only): a GET with "Connection: Upgrade" and
 * "Upgrade: websocket" goes upstream with both (otherwise hop-by-hop) on
 * an HTTP/1.1 connection of its own (http_client spec.upgrade; an
 * upstream of another proto answers 501). A 101 from the upstream is
 * relayed and both connections become a byte tunnel: each direction
 * moves what it reads into the other's output and stops reading while
 * that output is above GW_TUNNEL_HIGH (bufferevent watermarks); an EOF
 * is passed on as a shutdown of the other side's writing once its output
 * is flushed (a TLS client connection closes instead), the tunnel goes
 * when both directions ended, on an error, or after the route's
 * idle_timeout_ms (GW_TUNNEL_IDLE_MS without one) with no byte either
 * way. Any other answer is relayed as a normal response (the server then
 * closes the client connection). At most GW_MAX_TUNNELS tunnels per
 * proxy (503 over it).
 *
 * gRPC (HTTP/2 both sides): request and response trailers pass through
 * (http_req_trailers -> http_client_req_end_trailers, and
 * http_client_req_trailers -> http_resp_end_trailers), "te: trailers" is
 * kept toward the upstream, a trailers-only answer stays one. A request
 * whose content-type is application/grpc that fails before the
 * upstream's head is answered gRPC's way: 200, content-type
 * application/grpc, grpc-status (14 UNAVAILABLE for 502/503/504, 12
 * UNIMPLEMENTED for 404, others per gRPC's HTTP mapping) and
 * grpc-message, in one HEADERS frame ending the stream.
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
#define GW_PROXY_LOOPS	  64	       /* event loops (http_workers threads) */
#define GW_MAX_TUNNELS	  4096	       /* WebSocket tunnels per proxy */
#define GW_TUNNEL_HIGH	  (256 * 1024) /* bytes queued one way, then pause */
#define GW_TUNNEL_IDLE_MS (300 * 1000) /* without the route's idle */

/* request body copies for retries, all requests of a proxy together */
#define GW_RETRY_BODY_TOTAL (64u * 1024 * 1024)

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
	uint64_t retries_body;	  /* of retries, those that sent a body copy */
	uint64_t retries_skipped_body; /* not made: the body was not kept */
	uint64_t retry_bodies;	       /* request bodies copied for a retry */
	uint64_t retry_body_bytes;     /* gauge: bytes held by the copies */
	uint64_t client_aborts;
	/* requests on the default client: no profile left for their own */
	uint64_t profiles_full;
	uint64_t resp_held;    /* response pieces held for a slow client */
	uint64_t req_held;     /* request pieces held for a slow upstream */
	uint64_t responses[6]; /* by class, all answers */
	/* WebSocket */
	uint64_t ws_upgrades;	 /* tunnels opened (a 101 relayed) */
	uint64_t ws_active;	 /* gauge: tunnels open */
	uint64_t ws_refused;	 /* upgrades answered without a 101 */
	uint64_t ws_failed;	 /* upgrades that failed before a tunnel */
	uint64_t ws_early;	 /* client bytes came before the 101 */
	uint64_t ws_bytes_up;	 /* client -> upstream, through tunnels */
	uint64_t ws_bytes_down;	 /* upstream -> client */
	uint64_t ws_held;	 /* a side paused for the other's output */
	uint64_t ws_idle_closes; /* tunnels closed by the idle timeout */
	/* gRPC and trailers */
	uint64_t grpc_errors;  /* our answers in gRPC's form */
	uint64_t trailers_in;  /* requests forwarded with trailers */
	uint64_t trailers_out; /* answers relayed with trailers */
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
