/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The WebSocket device channel (docs/push.md "WebSocket"): on ws_listen,
 * an HTTP/1.1 upgrade handshake (RFC 6455, section 4.2), then the device
 * protocol's frames, one per binary WebSocket message, framed by libwslay
 * in a bufferevent filter. The connection is then an ordinary device
 * connection of push_srv (push_srv_adopt): same delivery, acks, limits
 * and counters.
 */
#ifndef EDGELBD_PUSH_WS_H
#define EDGELBD_PUSH_WS_H

#include <stddef.h>

#include <event2/util.h>

struct push_srv;
struct push_ws_hs; /* a connection in its handshake */

#define PUSH_WS_HS_MAX 8192 /* bytes of an upgrade request */

/* fd was accepted on ws_listen: read its upgrade request. The handshakes
 * in progress are kept on *pending, counted in *npending (freed by
 * push_ws_free_all). */
void push_ws_accept(struct push_srv *s, evutil_socket_t fd,
		    struct push_ws_hs **pending, size_t *npending);
void push_ws_free_all(struct push_ws_hs **pending);

#endif
