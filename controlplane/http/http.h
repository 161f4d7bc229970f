/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HTTP stack of edgelbd's services: an HTTP/1.1 message parser (on
 * http_parser from libhttp-parser-dev) usable without sockets, and a server
 * on a libevent loop with limits on every listener, speaking HTTP/1.1 and
 * HTTP/2 (libnghttp2), in plain TCP or TLS (OpenSSL), on one loop or on
 * several threads (struct http_workers).
 *
 * Parser: http_parse_* turns bytes into one message at a time (a request,
 * or a response for an upstream client), body handed out in chunks, and
 * stops after each message so that pipelined requests are answered in
 * order. It rejects what could smuggle a second request past a proxy:
 * several Content-Length headers, Transfer-Encoding with Content-Length,
 * a Transfer-Encoding other than "chunked", obs-fold (a header line that
 * starts with a space or a tab), several Host headers.
 *
 * Server: http_server_* accepts connections, reads one request at a time
 * and calls the handler; the handler answers with http_resp_* at once or
 * later, with a whole body or a streamed one. Limits (struct http_limits)
 * apply per listener; each refusal is answered with a status (400, 408,
 * 413, 431, 503) or a closed connection and counted in struct http_stats.
 * Back-pressure both ways: a streaming handler gets the request body in
 * chunks and may pause it; the server stops reading a connection whose
 * output is above out_high_water, and http_resp_write refuses data
 * (-EAGAIN) until the output drained, announced by on_drain.
 *
 * Protocols: a plain listener speaks HTTP/1.1, or HTTP/2 to a client that
 * starts with the HTTP/2 connection preface (h2c by prior knowledge); a
 * TLS listener picks by ALPN ("h2", else HTTP/1.1). A handler sees the
 * same http_req either way: on HTTP/2 a request is a stream, answered on
 * its stream while other streams go on. HTTP/2 limits: at most
 * max_streams concurrent streams (SETTINGS_MAX_CONCURRENT_STREAMS; a
 * stream over it is refused with RST_STREAM REFUSED_STREAM, or the
 * connection with GOAWAY once the client had the setting), a head over
 * max_head_bytes is answered 431, a body over max_body_bytes 413, the
 * same deadlines as HTTP/1.1. Request bodies are flow-controlled: a
 * stream's window opens only as the handler takes the data, so a paused
 * stream holds at most one window (64 KiB) in the server.
 */
#ifndef EDGELBD_HTTP_H
#define EDGELBD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "edgelb/types.h"

struct bufferevent;
struct event_base;

#define HTTP_MAX_HEADERS 64 /* per message; more is 431 */

struct http_header {
	const char *name;
	const char *value;
};

/* ---- messages and the parser ------------------------------------------ */

/* One parsed message head. Strings live until http_parse_next/free. */
struct http_msg {
	const char *method; /* request: "GET"; response: NULL */
	const char *target; /* request: as sent ("/a?b"); response: NULL */
	const char *path;   /* request: target up to '?' */
	const char *query;  /* request: after '?', NULL if none */
	int status;	    /* response: status code; request: 0 */
	int version_major, version_minor;
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t nheaders;
	int64_t content_length; /* -1: none */
	bool chunked;		/* Transfer-Encoding: chunked; HTTP/2 request: a
		       * body without content-length follows */
	bool keep_alive;	/* the peer allows another message after this */
	bool expect_continue;	/* Expect: 100-continue */
	bool head;		/* request method HEAD */
	uint64_t body_bytes;	/* body bytes delivered so far */
};

enum http_parse_kind {
	HTTP_PARSE_REQUEST,
	HTTP_PARSE_RESPONSE,
};

/*
 * Callbacks: 0 to go on, a negative errno to stop (http_parse_feed then
 * returns -ECANCELED). on_head may also return HTTP_PARSE_NO_BODY (for a
 * response to HEAD, or 1xx/204/304). Any may be NULL.
 */
#define HTTP_PARSE_NO_BODY 1
struct http_parse_ops {
	int (*on_head)(void *arg, struct http_msg *m);
	int (*on_body)(void *arg, struct http_msg *m, const char *p, size_t n);
	int (*on_end)(void *arg, struct http_msg *m);
};

struct http_parse;

/*
 * A parser for requests or responses. max_head bounds the start line and
 * headers (bytes as received), max_body the body (declared or chunked).
 * NULL with errno EINVAL (max_head 0) or ENOMEM.
 */
struct http_parse *http_parse_new(enum http_parse_kind kind, size_t max_head,
				  uint64_t max_body,
				  const struct http_parse_ops *ops, void *arg);
void http_parse_free(struct http_parse *p);

/*
 * Feed len bytes; *used says how many were taken. Stops after a message's
 * end (http_parse_done is then true; call http_parse_next before the next
 * message) or when paused. Returns 0, or on a bad message (feed no more;
 * http_parse_status gives the answer, http_parse_reason why):
 *   -EBADMSG   malformed or smuggling attempt (400), HTTP version not 1.x
 *   -EMSGSIZE  start line + headers over max_head or HTTP_MAX_HEADERS (431)
 *   -EFBIG     body over max_body (413)
 *   -ECANCELED a callback returned an error (its value: http_parse_cb_err)
 */
int http_parse_feed(struct http_parse *p, const char *buf, size_t len,
		    size_t *used);
/* The peer closed: ends an EOF-delimited response body. 0 or -EBADMSG. */
int http_parse_eof(struct http_parse *p);
bool http_parse_done(const struct http_parse *p);    /* message ended */
bool http_parse_started(const struct http_parse *p); /* bytes of a message */
bool http_parse_in_body(const struct http_parse *p); /* head parsed */
int http_parse_next(struct http_parse *p); /* 0, or -EBUSY mid-message */
void http_parse_pause(struct http_parse *p, bool paused);
int http_parse_status(const struct http_parse *p); /* 400/413/431 or 0 */
const char *http_parse_reason(const struct http_parse *p);
const struct http_msg *http_parse_msg(const struct http_parse *p);

/* "Not Found" for 404; "Unknown" for codes it does not know. */
const char *http_status_text(int status);

/* Case-insensitive header lookup; the first match or NULL. */
const char *http_msg_header(const struct http_msg *m, const char *name);

/* ---- the server ------------------------------------------------------- */

struct http_limits {
	uint32_t max_conns;	     /* open connections per listener */
	uint32_t max_conns_per_addr; /* of them from one client address */
	uint32_t max_head_bytes;     /* request line + headers */
	uint64_t max_body_bytes;     /* request body */
	uint32_t head_timeout_ms;   /* from a request's first byte (absolute) */
	uint32_t idle_timeout_ms;   /* keep-alive wait; body and write stalls */
	uint32_t out_high_water;    /* output bytes above which reading stops */
	uint32_t accept_backoff_ms; /* listener pause on EMFILE/ENFILE */
	uint32_t max_streams;	    /* HTTP/2 streams per connection; 0: 100 */
};

/* 256 conns, 32 per address, 8 KiB head, 64 KiB body, 10 s head deadline,
 * 30 s idle, 256 KiB high water, 100 ms accept backoff, 100 streams. */
extern const struct http_limits http_default_limits;

/* Counters of one server, all listeners. */
struct http_stats {
	uint64_t conns_accepted;
	uint64_t conns_open;		  /* gauge */
	uint64_t conns_refused_total;	  /* over max_conns: 503, closed */
	uint64_t conns_refused_per_addr;  /* over max_conns_per_addr: 503 */
	uint64_t accept_errors;		  /* accept() failed */
	uint64_t accept_backoffs;	  /* listener paused (EMFILE, ...) */
	uint64_t requests;		  /* all protocols */
	uint64_t requests_h2;		  /* of them HTTP/2 streams */
	uint64_t streams_refused;	  /* HTTP/2: over max_streams */
	uint64_t tls_errors;		  /* TLS handshakes that failed */
	uint64_t conns_refused_fd_budget; /* reserved for the fd budget */
	uint64_t bad_requests;	 /* 400, closed (HTTP/2: also bad frames) */
	uint64_t head_too_large; /* 431, closed */
	uint64_t body_too_large; /* 413, closed */
	uint64_t head_timeouts;	 /* 408, closed */
	uint64_t idle_closes;	 /* keep-alive, body or write stall */
	uint64_t read_pauses;	 /* output above high water */
	uint64_t responses[6];	 /* by class: [2] is 2xx; [0] unknown */
	uint64_t upgrades;	 /* HTTP/1.1 connections handed over (101) */
	uint64_t trailers_in;	 /* HTTP/2 requests that ended with trailers */
};

struct http_server;
struct http_req;

/*
 * The service. on_request is called once a request's body is complete;
 * without on_body the server collects the body (up to max_body_bytes) into
 * http_req_body. With on_body the body comes in chunks (0 to go on; a
 * negative errno closes the connection) and on_request follows at its end.
 * on_head, if set, sees the head first and may answer at once (the rest of
 * the request is then not read and the connection closes). on_drain: the
 * output fell below half the high water after http_resp_write said
 * -EAGAIN. on_abort: the connection (or the HTTP/2 stream) is gone before
 * the answer ended (also after on_body alone); req is invalid after it
 * returns. on_conn, if set: a
 * connection chose its protocol ("http/1.1" or "h2"; tls says whether it
 * came over TLS).
 *
 * With http_workers the callbacks run on the worker threads.
 */
struct http_handler {
	void (*on_request)(void *arg, struct http_req *req);
	int (*on_head)(void *arg, struct http_req *req);
	int (*on_body)(void *arg, struct http_req *req, const char *p,
		       size_t n);
	void (*on_drain)(void *arg, struct http_req *req);
	void (*on_abort)(void *arg, struct http_req *req);
	void (*on_conn)(void *arg, const char *proto, bool tls);
};

/* NULL lim means the defaults. NULL with errno EINVAL or ENOMEM. */
struct http_server *http_server_new(struct event_base *base,
				    const struct http_limits *lim,
				    const struct http_handler *h, void *arg);
/* Closes listeners and connections (on_abort for answers in flight). */
void http_server_free(struct http_server *s);

/*
 * Listen on addr:port (port 0: any; see http_server_port). SO_REUSEADDR.
 * 0, -EADDRINUSE, -EACCES, -ENOMEM, -ENOSPC (more than 8 listeners), ...
 */
int http_server_listen(struct http_server *s, const struct lb_addr *addr,
		       uint16_t port);

/*
 * TLS on a listener: certificates chosen by the server name the client
 * asks for (SNI); the entry whose server_name is NULL is the default
 * (for clients without SNI or asking an unknown name; without one, the
 * first entry). ALPN offers h2 and http/1.1. Certificate files are PEM
 * chains, keys PEM.
 */
struct http_tls_cert {
	const char *server_name; /* NULL: the default */
	const char *cert;	 /* PEM chain file */
	const char *key;	 /* PEM key file */
};

struct http_tls {
	const struct http_tls_cert *certs;
	size_t ncerts; /* 1 .. 64 */
};

struct http_listen_opts {
	const struct http_tls *tls; /* NULL: plain */
	bool reuseport;		    /* SO_REUSEPORT (http_workers) */
};

/*
 * Listen with TLS: every certificate and key is loaded (and the key
 * checked against its certificate) now; a file that does not load fails
 * with -EINVAL and a log line naming it and OpenSSL's reason. Otherwise
 * as http_server_listen.
 */
int http_server_listen_tls(struct http_server *s, const struct lb_addr *addr,
			   uint16_t port, const struct http_tls *tls);
/* The general form: o NULL is a plain listener. */
int http_server_listen_opts(struct http_server *s, const struct lb_addr *addr,
			    uint16_t port, const struct http_listen_opts *o);
/*
 * Serve a connected, non-blocking stream socket as if a plain listener
 * had accepted it from peer (the fuzz target, socket activation). The
 * server owns fd from here, even on error. 0 or -ENOMEM, -EINVAL.
 */
int http_server_adopt(struct http_server *s, int fd,
		      const struct sockaddr *peer, socklen_t len);

/* The port of the first listener, 0 if none. */
uint16_t http_server_port(const struct http_server *s);
const struct http_stats *http_server_stats(const struct http_server *s);
/*
 * Add s's counters to *sum with relaxed atomic loads: safe from a thread
 * other than the one running s's loop.
 */
void http_server_stats_read(const struct http_server *s,
			    struct http_stats *sum);

/*
 * Drain (on SIGTERM): stop accepting; idle keep-alive connections close
 * now; requests in flight are answered, then their connections close
 * (HTTP/1.1 says Connection: close; HTTP/2 sends GOAWAY and finishes
 * the streams it had). Call from s's loop thread.
 */
void http_server_drain(struct http_server *s);
/* Connections still serving (not closing): 0 once a drain is done. */
size_t http_server_active(const struct http_server *s);

/* The request: valid from on_head/on_request until the answer ended. */
const struct http_msg *http_req_msg(const struct http_req *r);
const struct sockaddr *http_req_peer(const struct http_req *r, socklen_t *len);
/* The collected body (handlers without on_body); never NULL. */
const char *http_req_body(const struct http_req *r, size_t *len);
/* Stop or go on reading the request body (streaming handlers). */
void http_req_pause_body(struct http_req *r, bool paused);
/* The protocol: "http/1.1" or "h2". */
const char *http_req_proto(const struct http_req *r);
/* Did the request come over TLS? */
bool http_req_tls(const struct http_req *r);
/* The event loop serving this request (with http_workers: its thread's). */
struct event_base *http_req_base(const struct http_req *r);
/* The handler's pointer for this request (NULL until set). */
void http_req_set_data(struct http_req *r, void *data);
void *http_req_data(const struct http_req *r);

/*
 * Answer. http_resp_start sends the status line and headers (the server
 * adds Content-Length, or chunked framing when content_length is -1, and
 * Connection); header names and values with CR, LF or NUL are refused.
 * http_resp_write queues body bytes (none go out for HEAD): -EAGAIN when
 * the output is above the high water (nothing queued: wait for on_drain).
 * http_resp_end finishes; the server then reads the next request. All
 * return 0, -EINVAL (bad header, more body than announced, wrong order),
 * -ENOMEM, or -EPIPE (the connection is closing).
 */
int http_resp_start(struct http_req *r, int status, const struct http_header *h,
		    size_t nh, int64_t content_length);
int http_resp_write(struct http_req *r, const void *p, size_t n);
int http_resp_end(struct http_req *r);
bool http_resp_writable(const struct http_req *r);
/* Bytes queued on the connection, not yet taken by the kernel. */
size_t http_resp_pending(const struct http_req *r);
/* start + the whole body (past the high water) + end. */
int http_resp_full(struct http_req *r, int status, const struct http_header *h,
		   size_t nh, const void *body, size_t n);
/* start + write + end with one Content-Type (NULL: none). */
int http_resp_simple(struct http_req *r, int status, const char *ctype,
		     const void *body, size_t n);

/* ---- trailers and upgrades -------------------------------------------- */

/*
 * The request's trailers: on HTTP/2 a HEADERS frame after the body (at
 * most HTTP_MAX_HEADERS and max_head_bytes, else 431), from on_request
 * until the answer ended; NULL and *n 0 when none came. HTTP/1.1 chunked
 * trailers are not kept (always none).
 */
const struct http_header *http_req_trailers(const struct http_req *r,
					    size_t *n);

/*
 * End the answer with trailers (gRPC's grpc-status): on HTTP/2 a HEADERS
 * frame after the body, which needs an answer with a body (started with
 * content_length -1 or > 0; otherwise the trailers are dropped); on
 * HTTP/1.1 they are dropped and this is http_resp_end. Names and values
 * as in http_resp_start, no pseudo-headers (-EINVAL). Otherwise as
 * http_resp_end.
 */
int http_resp_end_trailers(struct http_req *r, const struct http_header *h,
			   size_t nh);

/*
 * Does this request ask to switch protocols (HTTP/1.1 "Connection:
 * upgrade" and an Upgrade header)? proto, if not NULL, must be the
 * Upgrade value (case-insensitive, e.g. "websocket").
 */
bool http_req_wants_upgrade(const struct http_req *r, const char *proto);

/*
 * Switch an HTTP/1.1 connection to another protocol (WebSocket): sends
 * "101 Switching Protocols" with h (an Upgrade header among them; the
 * server adds "Connection: Upgrade") and hands the connection over. *bev
 * is the caller's from then on: its callbacks, watermarks and timeouts
 * cleared, reading and writing as they were; its output may still hold
 * the 101, its input the bytes the client sent after its request (before
 * the 101). The connection leaves the server (its max_conns and
 * per-address counts; counted in upgrades) but keeps its descriptor in
 * the budget (http_fdbudget.h) until http_upgraded_free. Only for a
 * complete request that asked for it (http_req_wants_upgrade) and has no
 * answer yet; r is invalid after a 0 (no on_abort follows).
 *   -EPROTONOSUPPORT  HTTP/2 (RFC 8441 extended CONNECT is not offered)
 *   -EINVAL           no upgrade asked, answer started, request not
 *                     complete, no Upgrade header, a bad header
 *   -EPIPE            the connection is closing
 *   -ENOMEM
 * A WebSocket upgrade request answered with anything but 101 closes its
 * connection after the answer (the client may have sent frames already).
 */
int http_resp_upgrade(struct http_req *r, const struct http_header *h,
		      size_t nh, struct bufferevent **bev);
/* Close a connection that http_resp_upgrade handed over. */
void http_upgraded_free(struct bufferevent *bev);

/*
 * A connection limit shared by several servers (the threads of one
 * http_workers, or of a gateway partition across listener generations):
 * a connection that would take open over max is refused as one over
 * max_conns is (503 on a plain listener, closed on TLS), counted in
 * the server's conns_refused_total and in refused. open and refused are
 * relaxed atomics, max is read with an atomic load (the owner may change
 * it while servers run). The owner keeps it until every server using it
 * is freed.
 */
struct http_conn_share {
	uint32_t max;	  /* 0: no limit */
	uint32_t open;	  /* connections of all its servers */
	uint64_t refused; /* over max */
};

/* Count s's connections in sh too (NULL: stop). Before s accepts any. */
void http_server_share_conns(struct http_server *s, struct http_conn_share *sh);

/* ---- worker threads ---------------------------------------------------- */

/*
 * N event loop threads, each with its own event_base and http_server, all
 * listening on the same addresses with SO_REUSEPORT (the kernel spreads
 * connections). Limits apply per worker: max_conns and max_conns_per_addr
 * count the connections of one thread, so a service allows up to N times
 * them in all. The handler's callbacks run on the worker threads.
 *
 * Use: new, listen (any number), start; free stops every loop
 * (event_base_loopexit) and joins the threads. Listening after start is
 * refused (-EBUSY).
 */
struct http_workers;

/* NULL with errno EINVAL (n 0 or over 64, bad limits) or ENOMEM. */
struct http_workers *http_workers_new(unsigned int n,
				      const struct http_limits *lim,
				      const struct http_handler *h, void *arg);
/* Every worker listens (port 0: the first one picks, the rest follow). */
int http_workers_listen(struct http_workers *w, const struct lb_addr *addr,
			uint16_t port, const struct http_tls *tls);
/* Start the threads. 0 or -errno (then nothing runs). */
int http_workers_start(struct http_workers *w);
/*
 * Drain every worker (http_server_drain on its own thread) and report
 * whether all are done: call drain once, then poll drained.
 */
void http_workers_drain(struct http_workers *w);
bool http_workers_drained(struct http_workers *w);
/*
 * Stop every loop and join the threads, keeping the servers and event
 * bases: what the handler made on a worker's base (upstream clients) can
 * then be freed before http_workers_free frees the bases.
 */
void http_workers_stop(struct http_workers *w);
void http_workers_free(struct http_workers *w);
uint16_t http_workers_port(const struct http_workers *w);
unsigned int http_workers_count(const struct http_workers *w);
/* http_server_share_conns on every worker's server; before start. */
void http_workers_share_conns(struct http_workers *w,
			      struct http_conn_share *sh);
/* The server of worker i, for its stats (read with http_server_stats_read). */
struct http_server *http_workers_server(struct http_workers *w, unsigned int i);

/* ---- metrics ----------------------------------------------------------- */

/*
 * The edgelb_http_* families of a service (label service=NAME), filled at
 * every scrape from stats(): connections_open, connections_total,
 * refused_total{reason}, errors_total{reason}, accept_backoffs_total,
 * requests_total{proto}. stats adds the counters of every server of the
 * service into sum (http_server_stats_read). Registered in the daemon's
 * registry (metrics.h); NULL with errno ENOMEM. Compiled into edgelbd.
 */
struct metrics;
struct http_metrics;
typedef void (*http_stats_fn)(void *arg, struct http_stats *sum);
struct http_metrics *http_metrics_register(struct metrics *m,
					   const char *service,
					   http_stats_fn stats, void *arg);
void http_metrics_unregister(struct http_metrics *hm);

/* ---- rate-limited logging --------------------------------------------- */

/*
 * At most burst lines per second through one limiter; the lines dropped
 * are counted and reported with the next line that passes. For every log
 * line a client can trigger.
 */
struct http_ratelimit {
	uint32_t burst;
	uint32_t n;
	uint64_t window_ms;
	uint64_t suppressed;
};
void http_log_rl(struct http_ratelimit *rl, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
