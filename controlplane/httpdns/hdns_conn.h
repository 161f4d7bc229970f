/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal to the HttpDNS server: one client connection, shared by the
 * HTTP/1.1 code (hdns_srv.c) and the HTTP/2 code (hdns_h2.c).
 */
#ifndef EDGELBD_HDNS_CONN_H
#define EDGELBD_HDNS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hdns.h"

struct bufferevent;
struct hdns_srv;

#define HDNS_MAX_HEADERS 8192
#define HDNS_MAX_STREAMS 100

/* A request as the protocol layers collect it. */
struct hdns_hreq {
	char method[16];
	char target[HDNS_QUERY_MAX + 256]; /* path?query */
	char content_type[128];
	char accept[256];
	char x_real_ip[64];
	char x_forwarded_for[512];
	bool too_big; /* a header or the body passed a limit */
	uint8_t *body;
	size_t body_len;
};

struct hdns_conn {
	struct hdns_srv *srv;
	struct bufferevent *bev;
	struct lb_addr peer;
	bool tls;
	uint8_t mode; /* enum below */
	bool closing; /* close once the output is written */
	void *h2;     /* nghttp2_session * */
};

enum { HDNS_MODE_UNKNOWN, HDNS_MODE_H1, HDNS_MODE_H2 };

/*
 * Answer a collected request: hdns_handle() plus metrics. resp must be
 * released with hdns_resp_release(). Never fails: on -ENOMEM resp is a
 * 500 without a body.
 */
void hdns_conn_serve(struct hdns_conn *c, const struct hdns_hreq *hr,
		     struct hdns_resp *resp);

/* The configured body limit of the connection's server. */
size_t hdns_conn_max_body(const struct hdns_conn *c);

/* Close now (frees c). */
void hdns_conn_close(struct hdns_conn *c);

/* HTTP/2: start a session (sends SETTINGS). 0 or -ENOMEM. */
int hdns_h2_start(struct hdns_conn *c);
/* Feed what is in the input buffer. 0, or -1: close the connection. */
int hdns_h2_read(struct hdns_conn *c);
/* Write what the session wants to send. 0, or -1: close. */
int hdns_h2_flush(struct hdns_conn *c);
void hdns_h2_free(struct hdns_conn *c);

#endif
