/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the gateway's routes (controlplane/gateway):
 *
 * byte 0 even: a request against a fixed table (hosts of every kind,
 *   exact/prefix/regex paths, method, header and query matchers). The
 *   rest is split at '\n': method, host, path, query, then "name:value"
 *   header lines. The matched route must really match (exact path
 *   equal, prefix a prefix); its rewritten target must start with '/';
 *   the header rewrites must leave no removed or set name twice; the
 *   hash key of its upstream (cookie, query, header) is taken.
 * byte 0 odd: configuration lines "section\nname\nkey\nvalue" repeated
 *   (groups separated by NUL) through gw_conf_key, then gw_table_build.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>

#include "gw_route.h"

#define FIELD_MAX 4096

static struct gw_table *table;

static const char *const conf_lines[][4] = {
	{ "upstream", "u", "instance", "127.0.0.1:8080" },
	{ "upstream", "u", "instance", "[::1]:8081 3" },
	{ "upstream", "u", "balance", "hash" },
	{ "upstream", "u", "hash_on", "cookie:sid" },
	{ "upstream", "q", "instance", "127.0.0.1:8082" },
	{ "upstream", "q", "balance", "ip_hash" },
	{ "upstream", "q", "hash_on", "query:uid" },
	{ "route", "exact", "host", "api.example.com" },
	{ "route", "exact", "path", "/health" },
	{ "route", "exact", "direct", "200 ok" },
	{ "route", "re", "host", "api.example.com" },
	{ "route", "re", "path_regex", "/v[0-9]+/(users|groups)/[^/]+" },
	{ "route", "re", "upstream", "u" },
	{ "route", "re", "request_header_set", "X-Api: 1" },
	{ "route", "re", "request_header_remove", "Cookie" },
	{ "route", "evil", "host", "api.example.com" },
	{ "route", "evil", "path_regex", "/(a+)+b" },
	{ "route", "evil", "upstream", "u" },
	{ "route", "hdr", "host", "api.example.com" },
	{ "route", "hdr", "header", "X-Env: canary" },
	{ "route", "hdr", "query", "v=2" },
	{ "route", "hdr", "method", "GET,POST" },
	{ "route", "hdr", "upstream", "q" },
	{ "route", "suf", "host", "*.example.com" },
	{ "route", "suf", "path_prefix", "/api" },
	{ "route", "suf", "rewrite_prefix", "/v2" },
	{ "route", "suf", "upstream", "u" },
	{ "route", "suf", "response_header_add", "X-Gw: 1" },
	{ "route", "pre", "host", "www.*" },
	{ "route", "pre", "path_prefix", "/static/" },
	{ "route", "pre", "strip_prefix", "/static" },
	{ "route", "pre", "upstream", "q" },
	{ "route", "any", "host", "*" },
	{ "route", "any", "path_regex", "/(old|legacy)/.*" },
	{ "route", "any", "redirect", "301 https://example.org/" },
};

static void
init(void)
{
	struct gw_conf c;
	char err[256];

	gw_conf_init(&c);
	for (size_t i = 0; i < sizeof(conf_lines) / sizeof(conf_lines[0]); i++)
		if (gw_conf_key(&c, conf_lines[i][0], conf_lines[i][1],
				conf_lines[i][2], conf_lines[i][3], err,
				sizeof(err)) < 0)
			__builtin_trap();
	table = gw_table_build(&c, err, sizeof(err));
	if (table == NULL) {
		fprintf(stderr, "fuzz_gw_route: %s\n", err);
		__builtin_trap();
	}
	gw_conf_fini(&c);
}

/* The next '\n'-ended field of [*p, end) as a NUL-terminated copy. */
static char *
field(const uint8_t **p, const uint8_t *end, char *buf)
{
	size_t n = 0;

	while (*p < end && **p != '\n' && n < FIELD_MAX - 1)
		buf[n++] = (char)*(*p)++;
	buf[n] = '\0';
	while (*p < end && **p != '\n')
		(*p)++; /* longer than a field: the rest dropped */
	if (*p < end)
		(*p)++;
	return buf;
}

static void
match_one(const uint8_t *p, const uint8_t *end)
{
	static char f[4][FIELD_MAX], hb[HTTP_MAX_HEADERS][FIELD_MAX];
	struct http_header h[HTTP_MAX_HEADERS], out[HTTP_MAX_HEADERS];
	struct http_msg m;
	struct gw_match_in in = { 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct gw_route *r;
	char target[FIELD_MAX * 2 + GW_PATH_MAX];
	size_t nh = 0, nout = 0;

	in.method = field(&p, end, f[0]);
	in.host = field(&p, end, f[1]);
	in.path = field(&p, end, f[2]);
	in.query = field(&p, end, f[3]);
	if (in.query[0] == '\0')
		in.query = NULL;
	while (p < end && nh < HTTP_MAX_HEADERS) {
		char *line = field(&p, end, hb[nh]), *colon = strchr(line, ':');

		if (colon == NULL)
			continue;
		*colon = '\0';
		h[nh].name = line;
		h[nh++].value = colon + 1;
	}
	in.headers = h;
	in.nheaders = nh;
	r = gw_table_match(table, &in);
	if (r == NULL)
		return;
	if (r->conf->path_kind == GW_PATH_EXACT &&
	    strcmp(in.path, r->conf->path) != 0)
		__builtin_trap();
	if (r->conf->path_kind == GW_PATH_PREFIX &&
	    strncmp(in.path, r->conf->path, strlen(r->conf->path)) != 0)
		__builtin_trap();
	if (gw_route_rewrite_target(r, in.path, in.query, target,
				    sizeof(target)) == 0 &&
	    target[0] != '/' && in.path[0] == '/')
		__builtin_trap();
	if (gw_hdr_apply(r->conf->req_hdrs, r->conf->nreq_hdrs, h, nh, out,
			 HTTP_MAX_HEADERS, &nout) == 0) {
		for (size_t k = 0; k < r->conf->nreq_hdrs; k++) {
			const struct gw_hdr_rw *rw = &r->conf->req_hdrs[k];
			size_t seen = 0;

			for (size_t i = 0; i < nout; i++)
				seen += strcasecmp(out[i].name, rw->name) == 0;
			if ((rw->op == GW_HDR_REMOVE && seen != 0) ||
			    (rw->op == GW_HDR_SET && seen != 1))
				__builtin_trap();
		}
	}
	if (r->up != NULL) {
		memset(&m, 0, sizeof(m));
		memcpy(m.headers, h, nh * sizeof(h[0]));
		m.nheaders = nh;
		m.method = in.method;
		m.path = in.path;
		m.query = in.query;
		(void)gw_upstream_key_hash(r->up, &m, (struct sockaddr *)&sa);
	}
}

static void
conf_many(const uint8_t *p, const uint8_t *end)
{
	static char f[4][FIELD_MAX];
	struct gw_conf c;
	struct gw_table *t;
	char err[256];

	gw_conf_init(&c);
	for (int n = 0; p < end && n < 64; n++) {
		(void)field(&p, end, f[0]);
		(void)field(&p, end, f[1]);
		(void)field(&p, end, f[2]);
		(void)field(&p, end, f[3]);
		(void)gw_conf_key(&c, f[0], f[1], f[2], f[3], err, sizeof(err));
	}
	t = gw_table_build(&c, err, sizeof(err));
	if (t == NULL && err[0] == '\0')
		__builtin_trap(); /* a failed build always says why */
	gw_table_put(t);
	gw_conf_fini(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (table == NULL)
		init();
	if (size < 1)
		return 0;
	if (data[0] & 1)
		conf_many(data + 1, data + size);
	else
		match_one(data + 1, data + size);
	return 0;
}
