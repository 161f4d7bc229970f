/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The push service's runtime on edgelbd's main loop: the store and its
 * group commit, the device channel (listeners, connections, frames) and
 * delivery (queues pumped to online devices, acks, redelivery, expiry).
 * The business API (push_http.c) and the module (push_module.c) use it
 * through this header.
 */
#ifndef EDGELBD_PUSH_SRV_H
#define EDGELBD_PUSH_SRV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "push_api.h"
#include "push_conf.h"
#include "push_store.h"

struct event_base;
struct metrics;
struct nl_msg;

/* Counters (all since start). */
struct push_counters {
	uint64_t conns_accepted, conns_refused_busy, takeovers;
	uint64_t hellos, binds, binds_bad_token, binds_expired;
	uint64_t frames_in, frames_bad, frames_too_large, frames_version;
	uint64_t frames_unknown_type, frames_before_hello;
	uint64_t heartbeat_timeouts, pings, read_pauses;
	uint64_t accepted, duplicates, queued, delivered, redelivered;
	uint64_t acked, acks_unknown, expired, collapsed, dropped_queue_full;
	uint64_t commits, commit_errors;
	uint64_t api_requests, api_unauthorized, api_bad_request;
	uint64_t api_not_found, api_errors;
	uint64_t vendor_wakes, vendor_invalid, pruned;
	uint64_t ws_upgrades, ws_bad_handshakes, ws_messages_in;
	uint64_t ws_messages_out, ws_text_messages, ws_protocol_errors;
	uint64_t ws_tls_errors; /* wss_listen: TLS handshakes failed */
};

struct push_srv;

/* NULL with errno set; the reason is logged. m may be NULL. */
struct push_srv *push_srv_new(struct event_base *base,
			      const struct push_conf *c, struct metrics *m);
void push_srv_free(struct push_srv *s);
/* Take the bounds, keys and timeouts of c (listeners and db stay). */
void push_srv_update(struct push_srv *s, const struct push_conf *c);
/* Stop accepting device connections; connected devices stay. */
void push_srv_drain(struct push_srv *s);

const struct push_conf *push_srv_conf(const struct push_srv *s);
struct push_counters *push_srv_counters(struct push_srv *s);
uint64_t push_srv_online(const struct push_srv *s);
bool push_srv_is_online(const struct push_srv *s, const char *device);
uint16_t push_srv_port(const struct push_srv *s); /* channel, plain */
/* The store and its handle, for reads. */
const struct push_store_ops *push_srv_store(struct push_srv *s, void **st);

/*
 * A write transaction is open until the end of this loop iteration, when
 * it commits. 0 or -EIO (could not begin).
 */
int push_srv_txn(struct push_srv *s);
/*
 * Call fn(arg, rc) once the current transaction committed (rc 0) or
 * failed (-EIO). Registered before the commit; -ENOMEM.
 */
typedef void (*push_commit_fn)(void *arg, int rc);
int push_srv_after_commit(struct push_srv *s, push_commit_fn fn, void *arg);
/* Forget a waiter (its request went away); fn is not called. */
void push_srv_cancel_commit(struct push_srv *s, void *arg);

/*
 * Accept a message: stored and queued to every target device within the
 * current transaction; delivered to online devices after the commit.
 * id gets its id; *dup is true when the idempotency key named an earlier
 * message (nothing queued). 0; -ENOENT (device target unknown); -EIO.
 */
int push_srv_send(struct push_srv *s, const struct push_send *ps,
		  char id[PUSH_ID_TEXT + 1], bool *dup, uint32_t *ndevices);

/*
 * The vendor seam (controlplane/push/vendor, docs/push.md "Vendor
 * channels"): a message queued for a device that has a vendor token and
 * no live connection is handed to fn once the commit that made it
 * durable is done. The queue entry stays: the device acknowledges it on
 * its channel when it connects. A vendor that calls the token invalid
 * reports it with push_srv_vendor_invalid, which forgets the token.
 */
struct push_wake {
	const char *device, *vendor, *token;
	const char *id;		  /* message id, UUID text */
	uint64_t seq;		  /* its entry in the device's queue */
	const char *collapse_key; /* "" = none */
	uint32_t ttl_s;
	uint8_t priority;
	const uint8_t *payload; /* JSON text */
	size_t len;
};
typedef void (*push_wake_fn)(void *arg, const struct push_wake *w);
void push_srv_set_wake(struct push_srv *s, push_wake_fn fn, void *arg);
/* 0, -ENOENT (no device), -ESTALE (token given and the device has
 * another one now: kept), -EIO. */
int push_srv_vendor_invalid(struct push_srv *s, const char *device,
			    const char *token);
/*
 * What the vendor did with the entry seq of device: ok, the entry is
 * SENT (it stays pending: the device still acknowledges it on its
 * channel); else FAILED with reason. 0 or -errno.
 */
int push_srv_vendor_done(struct push_srv *s, const char *device, uint64_t seq,
			 bool ok, const char *reason);

/*
 * For the WebSocket channel (push_ws.c): take bev, which speaks frames
 * now, as a new device connection (freed on failure: -ENOMEM). Whether
 * max_connections is reached; the largest frame a device may send; the
 * loop.
 */
struct bufferevent;
int push_srv_adopt(struct push_srv *s, struct bufferevent *bev);
bool push_srv_full(const struct push_srv *s);
size_t push_srv_max_frame(const struct push_srv *s);
struct event_base *push_srv_base(struct push_srv *s);

/* An online device, for lbctl push devices. */
struct push_online {
	const char *device;
	struct sockaddr_storage peer;
	socklen_t peer_len; /* 0: unknown */
	uint32_t in_flight; /* messages sent, not acknowledged */
	uint64_t sent_seq;  /* highest seq sent on the connection */
};
typedef int (*push_online_fn)(void *arg, const struct push_online *o);
/* fn for every registered connection; stops at fn's first non-zero
 * return and returns it. */
int push_srv_each_online(struct push_srv *s, push_online_fn fn, void *arg);

/* lbctl push (LB_MSG_MODULE_CMD, MOD_CMD "push.VERB"): the answer as one
 * JSON object in reply's MOD_DATA (push_ctl.c). 0 or -errno, err set. */
int push_ctl_cmd(struct push_srv *s, struct nl_msg *req, struct nl_msg *reply,
		 char *err, size_t errlen);

/*
 * The cluster seam (push_cluster.c, docs/push.md "Cluster mode
 * (Redis)"): online is told when a device registers here (on, and again
 * at each of its PINGs, which refreshes its presence) and when its
 * connection ends; remote is asked, right after the enqueue (the Redis
 * store applied it at once), for each target device not connected here,
 * and answers true when another node holds it (no vendor wake then).
 */
struct push_cluster_hooks {
	void (*online)(void *arg, const char *device, bool on);
	bool (*remote)(void *arg, const char *device);
};
void push_srv_set_cluster(struct push_srv *s,
			  const struct push_cluster_hooks *h, void *arg);
/* Send device (NULL: every device here) what its queue holds now. */
void push_srv_poke(struct push_srv *s, const char *device);

/* The counters of lbctl module show push, into msg. */
int push_srv_ctl_counters(struct push_srv *s, struct nl_msg *msg);

/* The business API on the server's loop (push_http.c). */
struct push_http;
struct push_http *push_http_new(struct push_srv *s, struct event_base *base,
				const struct push_conf *c, struct metrics *m);
void push_http_free(struct push_http *h);
void push_http_drain(struct push_http *h);
bool push_http_drained(struct push_http *h);
uint16_t push_http_port(const struct push_http *h);

/*
 * The WebSocket device channel (push_ws.c; docs/push.md "WebSocket"): on
 * ws_listen, an HTTP/1.1 upgrade handshake (RFC 6455, section 4.2), then
 * the device protocol's frames, one per binary WebSocket message, framed
 * by libwslay in a bufferevent filter. The connection is then an
 * ordinary device connection (push_srv_adopt): same delivery, acks,
 * limits and counters.
 */
struct push_ws_hs; /* a connection in its handshake */

#define PUSH_WS_HS_MAX 8192 /* bytes of an upgrade request */

/* fd was accepted on ws_listen (tls NULL) or wss_listen (tls: the
 * context of tls_listen, cert and key): read its upgrade request, over
 * TLS with tls. The handshakes in progress are kept on *pending, counted
 * in *npending (freed by push_ws_free_all). */
struct ssl_ctx_st; /* OpenSSL's SSL_CTX */
void push_ws_accept(struct push_srv *s, int fd, struct ssl_ctx_st *tls,
		    struct push_ws_hs **pending, size_t *npending);
void push_ws_free_all(struct push_ws_hs **pending);

#endif
