/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An evhttp listener with the limits every edgelbd HTTP service needs:
 * header and body size limits (evhttp's defaults are unbounded), a
 * read/write timeout, and only the methods the caller allows. Used for
 * /metrics, and by HttpDNS and the gateway.
 */
#ifndef EDGELBD_HTTPD_H
#define EDGELBD_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include "edgelb/types.h"

struct event_base;
struct evhttp;

struct httpd_limits {
	size_t max_headers; /* bytes of the request line + headers */
	size_t max_body;    /* bytes of a request body */
	int timeout_s;	    /* idle read/write timeout */
	uint16_t methods;   /* EVHTTP_REQ_* mask */
};

/* 8 KiB headers, 64 KiB body, 10 s, GET and HEAD. */
extern const struct httpd_limits httpd_default_limits;

/*
 * Listen on addr:port (SO_REUSEADDR; IPv4 or IPv6). lim NULL means the
 * defaults. Returns NULL with errno (EADDRINUSE, EACCES, ENOMEM, ...).
 */
struct evhttp *httpd_open(struct event_base *base, const struct lb_addr *addr,
			  uint16_t port, const struct httpd_limits *lim);

#endif
