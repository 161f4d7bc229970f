/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evhttp listener helper (see httpd.h).
 */
#include <errno.h>
#include <event2/http.h>

#include "httpd.h"

const struct httpd_limits httpd_default_limits = {
	.max_headers = 8192,
	.max_body = 65536,
	.timeout_s = 10,
	.methods = EVHTTP_REQ_GET | EVHTTP_REQ_HEAD,
};

struct evhttp *
httpd_open(struct event_base *base, const struct lb_addr *addr, uint16_t port,
	   const struct httpd_limits *lim)
{
	char host[LB_ADDRSTRLEN];
	struct evhttp *http;
	int err;

	if (lim == NULL)
		lim = &httpd_default_limits;
	http = evhttp_new(base);
	if (http == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	evhttp_set_max_headers_size(http, (ev_ssize_t)lim->max_headers);
	evhttp_set_max_body_size(http, (ev_ssize_t)lim->max_body);
	evhttp_set_timeout(http, lim->timeout_s);
	evhttp_set_allowed_methods(http, lim->methods);
	lb_addr_format(addr, host, sizeof(host));
	errno = 0;
	if (evhttp_bind_socket(http, host, port) < 0) {
		err = errno ? errno : EADDRINUSE;
		evhttp_free(http);
		errno = err;
		return NULL;
	}
	return http;
}
