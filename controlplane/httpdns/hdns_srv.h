/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HttpDNS server: listeners for plain HTTP and HTTPS on a libevent
 * base, each connection speaking HTTP/1.1 (keep-alive, pipelined
 * requests answered in order) or HTTP/2 (ALPN "h2" over TLS, or the
 * connection preface on plain TCP, as dig +https and kdig +https use),
 * every request answered by hdns_handle().
 *
 * evhttp is not used because DoH clients speak HTTP/2 only; limits are
 * the same as httpd.h's: headers max 8 KiB, body max_body, idle timeout
 * 10 s, at most 100 concurrent HTTP/2 streams.
 *
 * Metrics (when a registry is given):
 *   edgelbd_httpdns_requests_total{dialect,qtype,status}
 *   edgelbd_httpdns_request_duration_seconds{dialect} (histogram)
 *   edgelbd_httpdns_connections_total{proto}  (http/1.1, h2; tls or not)
 */
#ifndef EDGELBD_HDNS_SRV_H
#define EDGELBD_HDNS_SRV_H

#include "hdns.h"

struct event_base;
struct metrics;
struct hdns_srv;

/*
 * Listen as c says (listen and/or https_listen); c is copied, src is
 * kept. NULL with errno (EADDRINUSE, EINVAL for a bad cert or key with a
 * message logged, ENOMEM).
 */
struct hdns_srv *hdns_srv_new(struct event_base *base,
			      const struct hdns_conf *c,
			      const struct hdns_source *src, struct metrics *m);

/*
 * Take a new configuration. Listeners whose address, port and TLS files
 * are unchanged keep running; others are reopened. 0 or -errno, and then
 * the old configuration stays in force.
 */
int hdns_srv_update(struct hdns_srv *s, const struct hdns_conf *c);

void hdns_srv_free(struct hdns_srv *s);

/* Connections open now (for tests). */
unsigned int hdns_srv_connections(const struct hdns_srv *s);

#endif
