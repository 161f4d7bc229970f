/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HttpDNS server: an http_handler (controlplane/http) answering every
 * request with hdns_handle(), on a plain listener (HTTP/1.1, and HTTP/2
 * by prior knowledge as dig +https and kdig +https use it over TLS) and
 * a TLS one (ALPN h2 and http/1.1). The limits of [httpdns] (connections,
 * header size and deadline, idle time, body, HTTP/2 streams) are the
 * server's http_limits.
 *
 * Threads: workers = 1 serves on the daemon's loop. workers > 1 runs that
 * many loops on threads (struct http_workers, SO_REUSEPORT); hdns_handle
 * then runs under a mutex (the configuration is swapped under it), and
 * the latency histogram is not observed (the registry is the daemon
 * thread's); the request and connection counters are kept under the
 * mutex and rendered at scrape time either way. The data source
 * (hdns_source) is called from the worker threads: it must be safe
 * there.
 *
 * Metrics (when a registry is given):
 *   edgelbd_httpdns_requests_total{dialect,qtype,status}
 *   edgelbd_httpdns_request_duration_seconds{dialect} (histogram)
 *   edgelbd_httpdns_connections_total{proto}  (http/1.1, http/1.1+tls,
 *                                              h2c, h2)
 *   edgelb_http_*{service="httpdns"}          (http_metrics_register)
 */
#ifndef EDGELBD_HDNS_SRV_H
#define EDGELBD_HDNS_SRV_H

#include <stdbool.h>

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
 * Take a new configuration. When the listeners, TLS files, limits and
 * workers are unchanged only the configuration is swapped; otherwise new
 * listeners (SO_REUSEPORT: no gap) replace the old ones and the old
 * connections close. 0 or -errno, and then the old configuration stays
 * in force.
 */
int hdns_srv_update(struct hdns_srv *s, const struct hdns_conf *c);

/* SIGTERM: stop accepting, answer what is in flight, close idle
 * connections. drained: nothing left. */
void hdns_srv_drain(struct hdns_srv *s);
bool hdns_srv_drained(struct hdns_srv *s);

void hdns_srv_free(struct hdns_srv *s);

/* Connections open now (for tests). */
unsigned int hdns_srv_connections(const struct hdns_srv *s);

#endif
