/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The upstream HTTP client of edgelbd's services, on a libevent loop.
 *
 * Pools: connections are kept per host, keyed by (address, port, protocol
 * and, for TLS, the SNI name). HTTP/1.1 connections carry one request at a
 * time and go back to the pool when the response ended with keep-alive;
 * at most max_idle_per_host wait there (the oldest over that is closed,
 * counted as an eviction) for at most idle_timeout_ms. HTTP/2 connections
 * (nghttp2 client sessions) carry up to max_streams requests at once, at
 * most h2_conns_per_host of them per host. Plaintext upstreams speak
 * HTTP/1.1 (HTTP_CLIENT_H1) or HTTP/2 with prior knowledge
 * (HTTP_CLIENT_H2C); TLS upstreams (HTTP_CLIENT_TLS) offer ALPN "h2" and
 * "http/1.1" and use what the server picks. The certificate is verified
 * against ca_file (the system's CAs without it) and the SNI name, unless
 * tls_insecure is set.
 *
 * Requests stream both ways: the response head comes to on_head, the body
 * in pieces to on_body, and the caller may pause delivery (the client then
 * stops reading that connection, or for HTTP/2 stops opening that stream's
 * flow-control window). A request body is given whole at the start or
 * written piecewise with http_client_req_write, which says -EAGAIN above
 * out_high_water; on_writable tells when to go on. No path buffers a
 * whole body: the buffers of a connection stay near the high waters.
 *
 * Trailers (gRPC's grpc-status): an HTTP/2 response's trailing HEADERS
 * are kept for the caller (http_client_req_trailers, from on_done), and
 * a piecewise request body may end with trailers
 * (http_client_req_end_trailers). HTTP/1.1 chunked trailers are dropped
 * both ways. "te: trailers" is the one TE a caller may send (HTTP/2 only;
 * HTTP/1.1 drops it).
 *
 * Upgrades (WebSocket): a request with spec.upgrade goes out on an
 * HTTP/1.1 connection of its own, never pooled, with "Connection:
 * Upgrade" and the caller's Upgrade header. A 101 answer that names an
 * Upgrade hands the connection's bufferevent to the caller (on_upgrade),
 * with whatever bytes followed the 101 in its input; a 101 without
 * Upgrade and Connection: upgrade is a malformed response (-EBADMSG).
 * Any other answer is a normal response and its connection closes.
 *
 * Every response is parsed with http_parse_* (HTTP_PARSE_RESPONSE), with
 * its smuggling defences: a malformed response fails its request with
 * -EBADMSG and its connection is closed, never pooled again.
 *
 * Retries: a request is sent again, once, only when all of these hold:
 * its method is idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE), its
 * body (if any) was given whole at the start, it went out on a reused
 * HTTP/1.1 connection that then closed or reset before the first byte of
 * a response arrived (the server closed the idle connection as we reused
 * it), or an HTTP/2 server refused the stream (REFUSED_STREAM, or GOAWAY
 * below its id: not processed). Anything else is reported to the caller.
 *
 * Threads: one client belongs to one event loop and its thread.
 */
#ifndef EDGELBD_HTTP_CLIENT_H
#define EDGELBD_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edgelb/types.h"
#include "http.h"

struct bufferevent;
struct event_base;
struct http_client;
struct http_client_req;

enum http_client_proto {
	HTTP_CLIENT_H1,	 /* HTTP/1.1 over TCP */
	HTTP_CLIENT_H2C, /* HTTP/2 over TCP, prior knowledge */
	HTTP_CLIENT_TLS, /* TLS, ALPN h2 or http/1.1 */
};

struct http_client_opts {
	/* TLS: trusted CAs (PEM), read by http_client_new. NULL: the system
	 * store, whose directory OpenSSL reads at handshakes (file I/O on
	 * the loop's thread: services give a file) */
	const char *ca_file;
	bool tls_insecure;	     /* TLS: skip verification (tests only) */
	uint32_t max_conns_per_host; /* HTTP/1.1 connections, busy or idle */
	uint32_t max_idle_per_host;  /* HTTP/1.1 idle ones kept */
	uint32_t h2_conns_per_host;  /* HTTP/2 connections */
	uint32_t max_streams;	  /* per HTTP/2 connection (and the peer's) */
	uint32_t idle_timeout_ms; /* an idle pooled connection closes */
	uint32_t connect_timeout_ms; /* TCP connect and TLS handshake */
	uint32_t head_timeout_ms;    /* request sent -> response head */
	uint32_t read_timeout_ms;    /* between pieces of the response body */
	uint32_t total_timeout_ms;   /* whole request; 0: none */
	uint32_t max_head_bytes;     /* response status line + headers */
	uint64_t max_body_bytes;     /* response body */
	uint32_t out_high_water;     /* request bytes queued per request */
	uint32_t in_high_water;	     /* response bytes read ahead per conn */
	uint32_t h2_window;	     /* HTTP/2 receive window per stream */
	/* requests waiting for a connection per host (HTTP/1.1: beyond
	 * its idle and not yet opened connections); 0: no bound. More are
	 * refused by http_client_request (EBUSY) */
	uint32_t max_queued_per_host;
};

/* 32 conns per host, all of them kept when idle (a busy proxy that let
 * only some wait would close and reopen connections all the time), 2 h2
 * conns, 100 streams, 30 s idle, 5 s connect, 30 s head and read, no
 * total, 16 KiB head, 1 GiB body, 256 KiB out and 64 KiB in high water,
 * 256 KiB h2 window; verification on. */
extern const struct http_client_opts http_client_default_opts;

/* Counters of one client. */
struct http_client_stats {
	uint64_t requests;	 /* accepted by http_client_request */
	uint64_t completed;	 /* on_done with 0 */
	uint64_t failed;	 /* on_done with an error, or cancelled */
	uint64_t connects;	 /* connections opened (TCP up) */
	uint64_t connect_errors; /* refused, unreachable, TLS failed ... */
	uint64_t tls_errors;	 /* handshake or verification failed */
	uint64_t reuses;	 /* HTTP/1.1 requests on a pooled connection */
	uint64_t retries;	 /* sent again per the retry rule */
	uint64_t timeouts;	 /* connect, head, read or total */
	uint64_t bad_responses;	 /* malformed, too large: conn closed */
	uint64_t h2_conns;	 /* connections speaking HTTP/2 */
	uint64_t h2_streams;	 /* requests sent as HTTP/2 streams */
	uint64_t evictions;	 /* idle conns closed: expired or over max */
	uint64_t conns_open;	 /* gauge */
	uint64_t in_high;	 /* most response bytes buffered in one conn */
	uint64_t out_high;	 /* most request bytes buffered for one req */
	uint64_t queue_full;	 /* refused: max_queued_per_host waiting */
};

/*
 * The client on base. opts NULL: the defaults; a zero field takes its
 * default too, except max_idle_per_host (0: keep no idle connection),
 * total_timeout_ms (0: none) and the booleans. NULL with errno EINVAL (no base), ENOMEM, or EPROTO (the TLS
 * context or ca_file could not be set up).
 */
struct http_client *http_client_new(struct event_base *base,
				    const struct http_client_opts *opts);
/* Closes every connection; requests in flight get on_done(-ECANCELED).
 * Not from inside a callback of c. */
void http_client_free(struct http_client *c);
const struct http_client_stats *http_client_stats(const struct http_client *c);

/*
 * The request. Strings are copied. authority: the Host header (HTTP/1.1)
 * or :authority (HTTP/2); NULL: the address. sni: TLS server name and
 * the name the certificate must match; NULL: the authority. body_len:
 * with body, the bytes given whole (copied); without body, -1 for a body
 * written piecewise of unknown length (chunked in HTTP/1.1), N >= 0 for
 * one of N bytes written piecewise (0: none).
 */
struct http_client_spec {
	enum http_client_proto proto;
	struct lb_addr addr;
	uint16_t port;
	const char *sni;
	const char *method;
	const char *target; /* "/path?query" */
	const char *authority;
	const struct http_header *headers;
	size_t nheaders;
	const void *body;
	int64_t body_len;
	/* an upgrade (see the top): proto HTTP_CLIENT_H1, method GET, no
	 * body, an Upgrade header among headers */
	bool upgrade;
};

/*
 * The caller's side of a request; r is valid until on_done returned.
 * on_head: the final response head (1xx are skipped). on_body: a piece.
 * Both return 0 to go on or a negative errno to abort the request (it
 * then ends with on_done(that errno)); they may call
 * http_client_req_pause. on_writable: a piecewise body can take more
 * (first call when the request got a connection). on_done: exactly once,
 * err 0 when the response ended, else:
 *   -ECONNREFUSED, -ENETUNREACH, ...  the connect failed
 *   -EPROTO     TLS handshake or certificate verification failed
 *   -ETIMEDOUT  connect, head, read-idle or total deadline passed
 *   -ECONNRESET the connection closed or reset before the response ended
 *               (or the HTTP/2 stream was reset)
 *   -EBADMSG    malformed response (smuggling defences included)
 *   -EMSGSIZE   response head over max_head_bytes
 *   -EFBIG      response body over max_body_bytes
 *   -ECANCELED  http_client_free
 *   the errno an on_head/on_body returned.
 */
struct http_client_req_ops {
	int (*on_head)(void *arg, struct http_client_req *r,
		       const struct http_msg *head);
	int (*on_body)(void *arg, struct http_client_req *r, const char *p,
		       size_t n);
	void (*on_writable)(void *arg, struct http_client_req *r);
	void (*on_done)(void *arg, struct http_client_req *r, int err);
	/* an upgrade's 101 (after on_head, before on_done(0)): bev is the
	 * caller's from here, its callbacks, timeouts and watermarks
	 * cleared; it may hold bytes that followed the 101. NULL: the
	 * connection closes. */
	void (*on_upgrade)(void *arg, struct http_client_req *r,
			   struct bufferevent *bev);
};

/*
 * Start a request (it runs from the loop; no callback before this
 * returns). Header names go out in lower case; Host, Content-Length,
 * Transfer-Encoding, Connection, Keep-Alive, Upgrade, TE and
 * Proxy-Connection are the client's to write and refused, except
 * "te: trailers" and, for an upgrade, Upgrade. NULL with errno
 * EINVAL (no method or target, a method not a token, a bad proto, port or
 * address, a control byte in the target, authority or a header, a
 * refused header, more than HTTP_MAX_HEADERS, a body with body_len < 0),
 * EBUSY (max_queued_per_host requests already wait for a connection to
 * that host), or ENOMEM.
 */
struct http_client_req *
http_client_request(struct http_client *c, const struct http_client_spec *s,
		    const struct http_client_req_ops *ops, void *arg);

/*
 * Piecewise request body. 0; -EAGAIN when over out_high_water or not yet
 * on a connection (nothing taken: wait for on_writable); -EINVAL after
 * end, beyond a declared length, or for a request with a whole body;
 * -EPIPE when the connection closed during the call (on_done was called:
 * r is gone); -ENOMEM. Call it from on_writable or from the loop, not
 * after on_done.
 */
int http_client_req_write(struct http_client_req *r, const void *p, size_t n);
/* The body ended. 0, -EINVAL (short of a declared length, twice). */
int http_client_req_end(struct http_client_req *r);
/*
 * The body ended with trailers (HTTP/2: a HEADERS frame after the data;
 * HTTP/1.1: dropped, as http_client_req_end). Names are sent in lower
 * case; pseudo-headers and the client's own (see http_client_request)
 * are refused. 0, -EINVAL, -ENOMEM, or as http_client_req_end.
 */
int http_client_req_end_trailers(struct http_client_req *r,
				 const struct http_header *h, size_t n);
/*
 * The response's trailers (HTTP/2), valid until on_done returned; *n 0
 * and NULL when none came (always for HTTP/1.1).
 */
const struct http_header *
http_client_req_trailers(const struct http_client_req *r, size_t *n);
/* From on_head: whether the head also ended the response (HTTP/2
 * HEADERS with END_STREAM: gRPC's trailers-only answer). */
bool http_client_req_head_ended(const struct http_client_req *r);
/* Stop or resume the response body's delivery. */
void http_client_req_pause(struct http_client_req *r, bool paused);
/*
 * Abort a request from outside its callbacks: no callback follows; its
 * HTTP/1.1 connection closes, its HTTP/2 stream is reset.
 */
void http_client_req_cancel(struct http_client_req *r);
/* The protocol the response came with: 1 (HTTP/1.1) or 2; 0 before. */
int http_client_req_version(const struct http_client_req *r);
/* Whether the request went out on a connection that served one before. */
bool http_client_req_reused(const struct http_client_req *r);

#endif
