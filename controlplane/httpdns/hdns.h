/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HttpDNS core: one HTTP request in, one HTTP response out, as a pure
 * function of the configuration, a source of service state and the
 * clock. No sockets: the server (hdns_srv.h) only adapts HTTP/1.1 and
 * HTTP/2 connections to hdns_handle(), so every dialect is unit-tested
 * and fuzzed without a network.
 *
 * Endpoints (see docs/httpdns.md):
 *   /d?host=H                JSON dialect, one host
 *   /d?dn=H[,H2]             text dialect
 *   /resolve?host=a,b        JSON dialect, batch
 *   /sign_d, /sign_resolve   the same with t= and s= (signature)
 *   /resolve?name=&type=     DNS JSON (as public DoH resolvers)
 *   /dns-query               RFC 8484 (GET ?dns=, POST dns-message;
 *                            Accept: application/dns-json gives JSON)
 *
 * Answer: the VIPs of the services bound to the name (in the client's
 * view) that have at least one healthy backend; none healthy -> the
 * fallback addresses, or an empty answer, with empty_ttl.
 */
#ifndef EDGELBD_HDNS_H
#define EDGELBD_HDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hdns_req.h"

/*
 * Answer req. Returns 0 with resp filled (any HTTP status, errors
 * included), or -ENOMEM (then the server answers 500). resp->body must be
 * released with hdns_resp_release() in both cases.
 */
int hdns_handle(const struct hdns_conf *c, const struct hdns_source *src,
		const struct hdns_req *req, struct hdns_resp *resp);

/*
 * The expected signature for host and expiry t under c's secret, as
 * lower-case hex into out (65 bytes). 0 or -EINVAL (no secret).
 */
int hdns_sign(const struct hdns_conf *c, const char *host, const char *t,
	      char *out, size_t len);

#endif
