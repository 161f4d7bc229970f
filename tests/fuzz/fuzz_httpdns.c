/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the HttpDNS core: the input is offered to
 * hdns_handle() as a DoH body (POST /dns-query), as a base64url-free
 * query string on each endpoint, and as X-Forwarded-For from a trusted
 * proxy. Every response must be well formed: a status in 200..599, a
 * body of the stated length, and for a 200 DoH answer a DNS message that
 * ldns parses back with the query's id.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <ldns/ldns.h>

#include "hdns.h"

static struct hdns_conf conf;
static bool ready;

static int
fake_service(void *arg, const char *name, struct lb_addr *vip, bool *healthy)
{
	(void)arg;
	*healthy = name[0] != 'd'; /* "down" is down */
	return lb_addr_parse(name[0] == 'v' ? "2001:db8::1" : "192.0.2.1", vip);
}

static const struct hdns_source src = { .service = fake_service };

static void
init(void)
{
	static const char *const keys[][2] = {
		{ "secret", "k" },
		{ "view", "10.0.0.0/8 in" },
		{ "view", "2001:db8::/32 in" },
		{ "trusted_proxy", "127.0.0.0/8" },
		{ "fallback", "198.51.100.1" },
		{ "domain", "a.test service=web,v6" },
		{ "domain", "a.test service=down view=in" },
		{ "domain", "b.test service=down" },
	};
	char err[256];

	hdns_conf_init(&conf);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (hdns_conf_key(&conf, keys[i][0], keys[i][1], err,
				  sizeof(err)) < 0)
			abort();
	ready = true;
}

static void
check(const struct hdns_req *req)
{
	struct hdns_resp r;

	if (hdns_handle(&conf, &src, req, &r) < 0) {
		hdns_resp_release(&r);
		return;
	}
	if (r.status < 200 || r.status > 599 || r.body == NULL ||
	    strlen(r.body) > r.len || r.content_type == NULL)
		abort();
	if (r.status == 200 && r.dialect == HDNS_DIALECT_DOH &&
	    req->body_len >= 2) {
		ldns_pkt *p = NULL;

		if (ldns_wire2pkt(&p, (uint8_t *)r.body, r.len) !=
			    LDNS_STATUS_OK ||
		    ldns_pkt_id(p) !=
			    (uint16_t)(req->body[0] << 8 | req->body[1]))
			abort();
		ldns_pkt_free(p);
	}
	hdns_resp_release(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = { "/d", "/resolve", "/sign_d",
					     "/sign_resolve", "/dns-query" };
	struct hdns_req req = { .method = "POST",
				.path = "/dns-query",
				.content_type = "application/dns-message",
				.now = 1700000000 };
	char *text;

	if (!ready)
		init();
	lb_addr_parse("127.0.0.1", &req.peer);
	req.body = data;
	req.body_len = size;
	check(&req);

	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&req.body, 0, sizeof(req.body));
	req.body_len = 0;
	req.method = "GET";
	req.x_forwarded_for = text;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		req.path = paths[i];
		req.query = text;
		check(&req);
	}
	req.accept = "application/dns-json";
	req.path = "/dns-query";
	check(&req);
	free(text);
	return 0;
}
