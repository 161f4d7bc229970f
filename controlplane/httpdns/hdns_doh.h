/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DNS over HTTPS for the HttpDNS core: RFC 8484 (/dns-query, GET ?dns=
 * and POST application/dns-message) and the JSON form public resolvers
 * offer (/resolve?name=&type=, or /dns-query with Accept:
 * application/dns-json). DNS messages are parsed and built with ldns.
 *
 * Policy: names bound in [httpdns] are answered (A and AAAA from the
 * healthy VIPs; other types: NOERROR without answers); every other name
 * gets REFUSED. A message that cannot be parsed at all is HTTP 400; a
 * parsed one with a problem (QDCOUNT != 1, QR set) gets FORMERR, another
 * opcode NOTIMP, another class REFUSED, all with HTTP 200 as RFC 8484
 * says. An EDNS client subnet option selects the view and is echoed with
 * its scope set to the source prefix length.
 */
#ifndef EDGELBD_HDNS_DOH_H
#define EDGELBD_HDNS_DOH_H

#include <stddef.h>
#include <stdint.h>

#include "hdns_req.h"

/*
 * Decode base64url without padding (RFC 4648 §5, as RFC 8484 requires).
 * Returns the decoded length, -EINVAL (a character outside the alphabet,
 * '=' padding, or a length of 1 mod 4) or -E2BIG (more than outlen).
 */
int hdns_b64url_decode(const char *in, size_t inlen, uint8_t *out,
		       size_t outlen);

/* /dns-query. 0 or -ENOMEM (as hdns_handle). */
int hdns_doh(const struct hdns_conf *c, const struct hdns_source *src,
	     const struct hdns_req *req, struct hdns_resp *resp);

/* /resolve?name= and /dns-query with Accept: application/dns-json. */
int hdns_doh_json(const struct hdns_conf *c, const struct hdns_source *src,
		  const struct hdns_req *req, struct hdns_resp *resp);

#endif
