/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gw_route: the gateway's route table (controlplane/gateway/gw_route.h)
 * built through gw_conf_key: every matcher, Envoy's host precedence, no
 * fall-through between hosts, path rewrites, header rewrites, the
 * router's publication, and the configuration errors (each naming the
 * route and key). The lookup index (exact paths, prefixes and regex
 * literals hashed per virtual host) must pick what a walk over the
 * routes in configuration order picks: checked on hand-made orders and
 * against such a walk written here on a generated table.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <check.h>
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gw_route.h"

struct kv {
	const char *section, *name, *key, *value;
};

/* The table every matching case runs against. */
static const struct kv table_conf[] = {
	{ "upstream", "be", "instance", "127.0.0.1:9001" },
	{ "upstream", "be2", "instance", "127.0.0.1:9002 3" },
	/* exact host */
	{ "route", "ex_health", "host", "api.example.com" },
	{ "route", "ex_health", "path", "/health" },
	{ "route", "ex_health", "direct", "200 ok" },
	{ "route", "ex_v", "host", "API.example.com" },
	{ "route", "ex_v", "path_regex", "/v[0-9]+/users/[a-z]+" },
	{ "route", "ex_v", "upstream", "be" },
	{ "route", "ex_post", "host", "api.example.com" },
	{ "route", "ex_post", "method", "POST,PUT" },
	{ "route", "ex_post", "upstream", "be2" },
	{ "route", "ex_hdr", "host", "api.example.com" },
	{ "route", "ex_hdr", "header", "X-Env: canary" },
	{ "route", "ex_hdr", "upstream", "be2" },
	{ "route", "ex_hdrp", "host", "api.example.com" },
	{ "route", "ex_hdrp", "header", "X-Debug" },
	{ "route", "ex_hdrp", "query", "v=2" },
	{ "route", "ex_hdrp", "upstream", "be2" },
	{ "route", "ex_q", "host", "api.example.com" },
	{ "route", "ex_q", "query", "trace" },
	{ "route", "ex_q", "upstream", "be" },
	{ "route", "ex_static", "host", "api.example.com" },
	{ "route", "ex_static", "path_prefix", "/static/" },
	{ "route", "ex_static", "upstream", "be" },
	/* suffixes: the longer wins */
	{ "route", "suf", "host", "*.example.com" },
	{ "route", "suf", "upstream", "be" },
	{ "route", "suf_long", "host", "*.eu.example.com" },
	{ "route", "suf_long", "upstream", "be" },
	/* prefix */
	{ "route", "pre", "host", "www.*" },
	{ "route", "pre", "upstream", "be" },
	/* any host: only /any */
	{ "route", "any", "host", "*" },
	{ "route", "any", "path_prefix", "/any" },
	{ "route", "any", "redirect", "301 https://example.org/" },
};

static struct gw_table *
build(const struct kv *c, size_t n, char *err, size_t errlen)
{
	struct gw_conf conf;
	struct gw_table *t;

	gw_conf_init(&conf);
	for (size_t i = 0; i < n; i++) {
		int rc = gw_conf_key(&conf, c[i].section, c[i].name, c[i].key,
				     c[i].value, err, errlen);

		if (rc < 0) {
			gw_conf_fini(&conf);
			errno = -rc;
			return NULL;
		}
	}
	t = gw_table_build(&conf, err, errlen);
	gw_conf_fini(&conf);
	return t;
}

struct mcase {
	const char *desc;
	const char *method, *host, *path, *query;
	const char *hname, *hvalue; /* one header, or NULL */
	const char *want;	    /* route name; NULL: no route */
};

static const struct mcase mcases[] = {
	{ "exact host, exact path", "GET", "api.example.com", "/health", NULL,
	  NULL, NULL, "ex_health" },
	{ "exact host with port, upper case", "GET", "API.Example.COM:8443",
	  "/health", NULL, NULL, NULL, "ex_health" },
	{ "exact path is not a prefix", "GET", "api.example.com", "/health/x",
	  NULL, NULL, NULL, NULL },
	{ "regex matches the whole path", "GET", "api.example.com",
	  "/v12/users/bob", NULL, NULL, NULL, "ex_v" },
	{ "regex is anchored at the end", "GET", "api.example.com",
	  "/v12/users/bob/x", NULL, NULL, NULL, NULL },
	{ "regex is anchored at the start", "GET", "api.example.com",
	  "/x/v1/users/bob", NULL, NULL, NULL, NULL },
	{ "method list", "PUT", "api.example.com", "/anything", NULL, NULL,
	  NULL, "ex_post" },
	{ "method not in list", "DELETE", "api.example.com", "/anything", NULL,
	  NULL, NULL, NULL },
	{ "header value", "GET", "api.example.com", "/a", NULL, "x-env",
	  "canary", "ex_hdr" },
	{ "header value differs", "GET", "api.example.com", "/a", NULL, "X-Env",
	  "prod", NULL },
	{ "header presence needs the query too", "GET", "api.example.com", "/a",
	  NULL, "X-Debug", "1", NULL },
	{ "header presence and query value", "GET", "api.example.com", "/a",
	  "a=1&v=2", "X-Debug", "", "ex_hdrp" },
	{ "query value differs", "GET", "api.example.com", "/a", "v=22",
	  "X-Debug", "1", NULL },
	{ "query presence without value", "GET", "api.example.com", "/a",
	  "x=1&trace", NULL, NULL, "ex_q" },
	{ "query presence with value", "GET", "api.example.com", "/a",
	  "trace=on", NULL, NULL, "ex_q" },
	{ "query name is not a prefix", "GET", "api.example.com", "/a",
	  "tracer=1", NULL, NULL, NULL },
	{ "path prefix", "GET", "api.example.com", "/static/app.js", NULL, NULL,
	  NULL, "ex_static" },
	{ "exact host: no fall-through to *.example.com", "GET",
	  "api.example.com", "/nothing", NULL, NULL, NULL, NULL },
	{ "suffix", "GET", "www2.example.com", "/", NULL, NULL, NULL, "suf" },
	{ "longer suffix first", "GET", "a.eu.example.com", "/", NULL, NULL,
	  NULL, "suf_long" },
	{ "suffix needs a character before it", "GET", ".example.com", "/any",
	  NULL, NULL, NULL, "any" },
	{ "suffix alone is not matched", "GET", "example.com", "/any", NULL,
	  NULL, NULL, "any" },
	{ "suffix over prefix", "GET", "www.example.com", "/", NULL, NULL, NULL,
	  "suf" },
	{ "prefix", "GET", "www.example.net", "/", NULL, NULL, NULL, "pre" },
	{ "any host", "GET", "other.org", "/any/thing", NULL, NULL, NULL,
	  "any" },
	{ "any host, path not matched", "GET", "other.org", "/else", NULL, NULL,
	  NULL, NULL },
	{ "no host header", "GET", NULL, "/any", NULL, NULL, NULL, "any" },
	{ "IPv6 literal host", "GET", "[::1]:80", "/any", NULL, NULL, NULL,
	  "any" },
};

START_TEST(match_table)
{
	char err[256] = "";
	struct gw_table *t =
		build(table_conf, sizeof(table_conf) / sizeof(table_conf[0]),
		      err, sizeof(err));

	ck_assert_msg(t != NULL, "build: %s", err);
	for (size_t i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++) {
		const struct mcase *c = &mcases[i];
		struct http_header h = { c->hname, c->hvalue };
		struct gw_match_in in = {
			.method = c->method,
			.host = c->host,
			.path = c->path,
			.query = c->query,
			.headers = &h,
			.nheaders = c->hname != NULL ? 1 : 0,
		};
		const struct gw_route *r = gw_table_match(t, &in);
		const char *got = r != NULL ? r->conf->name : NULL;

		if (c->want == NULL)
			ck_assert_msg(got == NULL, "%s: got %s, want none",
				      c->desc, got);
		else
			ck_assert_msg(got != NULL && strcmp(got, c->want) == 0,
				      "%s: got %s, want %s", c->desc,
				      got != NULL ? got : "none", c->want);
	}
	ck_assert_ptr_nonnull(gw_table_route(t, 1)->up);
	ck_assert_str_eq(gw_table_route(t, 1)->up->conf.name, "be");
	gw_table_put(t);
}
END_TEST

START_TEST(first_match_in_order)
{
	static const struct kv c[] = {
		{ "upstream", "u", "instance", "127.0.0.1:1" },
		{ "route", "first", "path_prefix", "/a" },
		{ "route", "first", "upstream", "u" },
		{ "route", "second", "path", "/a/b" },
		{ "route", "second", "upstream", "u" },
	};
	char err[256];
	struct gw_table *t = build(c, 5, err, sizeof(err));
	struct gw_match_in in = { .method = "GET",
				  .host = "h",
				  .path = "/a/b" };

	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(gw_table_match(t, &in)->conf->name, "first");
	gw_table_put(t);
}
END_TEST

struct rwcase {
	const char *key, *value; /* rewrite of route "r" (prefix /api) */
	const char *path, *query, *want;
};

static const struct rwcase rwcases[] = {
	{ "strip_prefix", "/api", "/api/users", NULL, "/users" },
	{ "strip_prefix", "/api", "/api", NULL, "/" },
	{ "strip_prefix", "/api", "/api/x", "a=1", "/x?a=1" },
	{ "strip_prefix", "/other", "/api/x", NULL, "/api/x" },
	{ "rewrite_prefix", "/v2", "/api/users", "q", "/v2/users?q" },
	{ "rewrite_prefix", "", "/api/users", NULL, "/users" },
};

START_TEST(path_rewrites)
{
	for (size_t i = 0; i < sizeof(rwcases) / sizeof(rwcases[0]); i++) {
		const struct rwcase *c = &rwcases[i];
		struct kv conf[] = {
			{ "upstream", "u", "instance", "127.0.0.1:1" },
			{ "route", "r", "path_prefix", "/api" },
			{ "route", "r", "upstream", "u" },
			{ "route", "r", c->key, c->value },
		};
		char err[256], out[64];
		struct gw_table *t = build(conf, 4, err, sizeof(err));

		ck_assert_msg(t != NULL, "%s", err);
		ck_assert_int_eq(gw_route_rewrite_target(gw_table_route(t, 0),
							 c->path, c->query, out,
							 sizeof(out)),
				 0);
		ck_assert_msg(strcmp(out, c->want) == 0, "%s %s on %s: %s",
			      c->key, c->value, c->path, out);
		/* too small a buffer is an error, not a cut target */
		ck_assert_int_eq(gw_route_rewrite_target(gw_table_route(t, 0),
							 c->path, c->query, out,
							 strlen(c->want)),
				 -ENOSPC);
		gw_table_put(t);
	}
}
END_TEST

START_TEST(header_rewrites)
{
	static const struct kv c[] = {
		{ "upstream", "u", "instance", "127.0.0.1:1" },
		{ "route", "r", "upstream", "u" },
		{ "route", "r", "request_header_add", "X-Added: 1" },
		{ "route", "r", "request_header_set", "X-Set: new" },
		{ "route", "r", "request_header_remove", "X-Secret" },
		{ "route", "r", "response_header_set", "Server: gw" },
	};
	struct http_header in[] = {
		{ "Accept", "*/*" }, { "x-set", "old1" }, { "X-Secret", "s" },
		{ "X-SET", "old2" }, { "X-Added", "0" },
	};
	struct http_header out[8];
	char err[256];
	size_t n = 0;
	struct gw_table *t = build(c, 6, err, sizeof(err));
	const struct gw_route_conf *rc;

	ck_assert_msg(t != NULL, "%s", err);
	rc = gw_table_route(t, 0)->conf;
	ck_assert_int_eq(
		gw_hdr_apply(rc->req_hdrs, rc->nreq_hdrs, in, 5, out, 8, &n),
		0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(out[0].name, "Accept");
	ck_assert_str_eq(out[1].name, "X-Added"); /* add keeps the old one */
	ck_assert_str_eq(out[1].value, "0");
	ck_assert_str_eq(out[2].name, "X-Added");
	ck_assert_str_eq(out[2].value, "1");
	ck_assert_str_eq(out[3].name, "X-Set");
	ck_assert_str_eq(out[3].value, "new");
	/* room is checked */
	ck_assert_int_eq(
		gw_hdr_apply(rc->req_hdrs, rc->nreq_hdrs, in, 5, out, 3, &n),
		-E2BIG);
	ck_assert_uint_eq(rc->nresp_hdrs, 1);
	gw_table_put(t);
}
END_TEST

START_TEST(router_swaps_whole_tables)
{
	static const struct kv a[] = {
		{ "route", "old", "direct", "200 a" },
	};
	static const struct kv b[] = {
		{ "route", "new", "direct", "200 b" },
	};
	char err[256];
	struct gw_router *r = gw_router_new();
	struct gw_table *ta = build(a, 1, err, sizeof(err));
	struct gw_table *tb = build(b, 1, err, sizeof(err));
	struct gw_table *held, *now;
	struct gw_match_in in = { .method = "GET", .path = "/" };

	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_null(gw_router_get(r));
	gw_router_publish(r, ta);
	held = gw_router_get(r); /* a request in flight */
	gw_router_publish(r, tb);
	/* the old table still answers for the request that holds it */
	ck_assert_str_eq(gw_table_match(held, &in)->conf->name, "old");
	gw_table_put(held);
	now = gw_router_get(r);
	ck_assert_str_eq(gw_table_match(now, &in)->conf->name, "new");
	gw_table_put(now);
	gw_router_free(r);
}
END_TEST

struct ecase {
	const char *desc;
	struct kv kv[4];
	int rc;		  /* of gw_conf_key on the last line; 0: build fails */
	const char *want; /* in the error text */
};

static const struct ecase ecases[] = {
	{ "invalid regex",
	  { { "route", "bad_re", "path_regex", "/a(b" },
	    { "route", "bad_re", "direct", "200" } },
	  0,
	  "route bad_re: path_regex: invalid regex at offset 4: missing "
	  "closing parenthesis" },
	{ "unknown upstream",
	  { { "route", "r1", "upstream", "nope" } },
	  0,
	  "route r1: upstream: unknown upstream \"nope\"" },
	{ "redirect to itself (relative)",
	  { { "route", "loop", "path_prefix", "/old" },
	    { "route", "loop", "redirect", "302 /old/x" } },
	  0,
	  "route loop: redirect: location \"/old/x\" matches this route" },
	{ "redirect to itself (absolute)",
	  { { "route", "loop2", "host", "a.example.com" },
	    { "route", "loop2", "redirect", "301 http://A.example.com/" } },
	  0,
	  "route loop2: redirect" },
	{ "no action",
	  { { "route", "idle", "path", "/x" } },
	  0,
	  "route idle: no action" },
	{ "rewrite_prefix on a regex route",
	  { { "route", "rw", "path_regex", "/a.*" },
	    { "route", "rw", "direct", "200" },
	    { "route", "rw", "rewrite_prefix", "/b" } },
	  0,
	  "route rw: rewrite_prefix: needs a path_prefix route" },
	{ "upstream without instances",
	  { { "upstream", "empty", "balance", "rr" },
	    { "route", "r", "upstream", "empty" } },
	  0,
	  "upstream empty: no instance" },
	{ "unknown key",
	  { { "route", "r", "colour", "red" } },
	  -EINVAL,
	  "route r: unknown key \"colour\"" },
	{ "unknown section",
	  { { "listener", "r", "a", "b" } },
	  -EINVAL,
	  "unknown section \"listener\"" },
	{ "bad redirect status",
	  { { "route", "r", "redirect", "200 /x" } },
	  -EINVAL,
	  "route r: redirect: bad value \"200 /x\"" },
	{ "header with CR",
	  { { "route", "r", "request_header_add", "X-A: a\rb" } },
	  -EINVAL,
	  "route r: request_header_add: bad value" },
	{ "header name not a token",
	  { { "route", "r", "header", "X A: b" } },
	  -EINVAL,
	  "route r: header: bad value" },
	{ "two wildcards",
	  { { "route", "r", "host", "*.a.*" } },
	  -EINVAL,
	  "route r: host: bad value" },
	{ "bad balancer",
	  { { "upstream", "u", "balance", "random" } },
	  -EINVAL,
	  "upstream u: balance: bad value \"random\"" },
	{ "bad instance",
	  { { "upstream", "u", "instance", "127.0.0.1" } },
	  -EINVAL,
	  "upstream u: instance: bad value" },
	{ "weight out of range",
	  { { "upstream", "u", "instance", "127.0.0.1:80 101" } },
	  -EINVAL,
	  "upstream u: instance: bad value" },
	{ "timeout out of range",
	  { { "route", "r", "connect_timeout_ms", "0" } },
	  -EINVAL,
	  "route r: connect_timeout_ms: bad value" },
	{ "retry_on not 5xx",
	  { { "route", "r", "retry_on", "502,404" } },
	  -EINVAL,
	  "route r: retry_on: bad value" },
	{ "bad hash_on",
	  { { "upstream", "u", "hash_on", "body" } },
	  -EINVAL,
	  "upstream u: hash_on: bad value" },
	{ "max_conns 0",
	  { { "upstream", "u", "max_conns", "0" } },
	  -EINVAL,
	  "upstream u: max_conns: bad value" },
	{ "max_idle_conns out of range",
	  { { "upstream", "u", "max_idle_conns", "100001" } },
	  -EINVAL,
	  "upstream u: max_idle_conns: bad value" },
	{ "retry_body_max over 16 MiB",
	  { { "route", "r", "retry_body_max", "16777217" } },
	  -EINVAL,
	  "route r: retry_body_max: bad value" },
	{ "content_type without a subtype",
	  { { "route", "r", "content_type", "json" } },
	  -EINVAL,
	  "route r: content_type: bad value" },
	{ "content_type with CR",
	  { { "route", "r", "content_type", "text/html\r\nX-A: b" } },
	  -EINVAL,
	  "route r: content_type: bad value" },
};

START_TEST(config_errors)
{
	for (size_t i = 0; i < sizeof(ecases) / sizeof(ecases[0]); i++) {
		const struct ecase *c = &ecases[i];
		struct gw_conf conf;
		char err[256] = "";
		int rc = 0;
		size_t n = 0;

		while (n < 4 && c->kv[n].section != NULL)
			n++;
		gw_conf_init(&conf);
		for (size_t k = 0; k < n && rc == 0; k++)
			rc = gw_conf_key(&conf, c->kv[k].section, c->kv[k].name,
					 c->kv[k].key, c->kv[k].value, err,
					 sizeof(err));
		ck_assert_msg(rc == c->rc, "%s: key rc %d, want %d (%s)",
			      c->desc, rc, c->rc, err);
		if (rc == 0) {
			struct gw_table *t =
				gw_table_build(&conf, err, sizeof(err));

			ck_assert_msg(t == NULL, "%s: built", c->desc);
			ck_assert_int_eq(errno, EINVAL);
		}
		ck_assert_msg(strstr(err, c->want) != NULL,
			      "%s: error \"%s\", want \"%s\"", c->desc, err,
			      c->want);
		gw_conf_fini(&conf);
	}
}
END_TEST

/* Every key of docs/gateway.md lands where the table reads it. */
START_TEST(keys_parse)
{
	static const struct kv c[] = {
		{ "upstream", "u", "instance", "[::1]:8443 7" },
		{ "upstream", "u", "balance", "least_time" },
		{ "upstream", "u", "hash_on", "query:uid" },
		{ "upstream", "u", "vnodes", "40" },
		{ "upstream", "u", "proto", "tls" },
		{ "upstream", "u", "eject_after", "2" },
		{ "upstream", "u", "eject_base_ms", "100" },
		{ "upstream", "u", "eject_max_ms", "900" },
		{ "upstream", "u", "eject_max_pct", "30" },
		{ "upstream", "u", "max_conns", "64" },
		{ "upstream", "u", "max_idle_conns", "0" },
		{ "route", "r", "host", "WWW.*" },
		{ "route", "r", "path_prefix", "/p" },
		{ "route", "r", "method", "GET, HEAD" },
		{ "route", "r", "upstream", "u" },
		{ "route", "r", "connect_timeout_ms", "11" },
		{ "route", "r", "request_timeout_ms", "22" },
		{ "route", "r", "idle_timeout_ms", "33" },
		{ "route", "r", "retries", "3" },
		{ "route", "r", "retry_on", "502, 504" },
		{ "route", "r", "retry_non_idempotent", "yes" },
		{ "route", "r", "retry_budget_pct", "50" },
		{ "route", "r", "strip_prefix", "/p" },
		{ "route", "r", "response_header_remove", "Server" },
		{ "route", "r", "retry_body_max", "0" },
		{ "route", "r", "content_type",
		  "application/json; charset=utf-8" },
	};
	struct gw_conf conf;
	char err[256];
	const struct gw_upstream_conf *u;
	const struct gw_route_conf *r;

	gw_conf_init(&conf);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		ck_assert_msg(gw_conf_key(&conf, c[i].section, c[i].name,
					  c[i].key, c[i].value, err,
					  sizeof(err)) == 0,
			      "%s", err);
	ck_assert_uint_eq(conf.nups, 1);
	ck_assert_uint_eq(conf.nroutes, 1);
	u = &conf.ups[0];
	ck_assert_uint_eq(u->ninst, 1);
	ck_assert_uint_eq(u->inst[0].addr.family, AF_INET6);
	ck_assert_uint_eq(u->inst[0].port, 8443);
	ck_assert_uint_eq(u->inst[0].weight, 7);
	ck_assert_str_eq(u->bal->name, "least_time");
	ck_assert_int_eq(u->hash_on, GW_HASH_QUERY);
	ck_assert_str_eq(u->hash_key, "uid");
	ck_assert_uint_eq(u->vnodes, 40);
	ck_assert_int_eq(u->proto, HTTP_CLIENT_TLS);
	ck_assert_uint_eq(u->eject_after, 2);
	ck_assert_uint_eq(u->eject_base_ms, 100);
	ck_assert_uint_eq(u->eject_max_ms, 900);
	ck_assert_uint_eq(u->eject_max_pct, 30);
	ck_assert_uint_eq(u->max_conns, 64);
	ck_assert_uint_eq(u->max_idle_conns, 0);
	r = &conf.routes[0];
	ck_assert_int_eq(r->host_kind, GW_HOST_PREFIX);
	ck_assert_str_eq(r->host, "www.");
	ck_assert_int_eq(r->path_kind, GW_PATH_PREFIX);
	ck_assert_uint_eq(r->nmethods, 2);
	ck_assert_str_eq(r->methods[1], "HEAD");
	ck_assert_int_eq(r->action, GW_ACT_PROXY);
	ck_assert_uint_eq(r->connect_timeout_ms, 11);
	ck_assert_uint_eq(r->request_timeout_ms, 22);
	ck_assert_uint_eq(r->idle_timeout_ms, 33);
	ck_assert_uint_eq(r->retries, 3);
	ck_assert(r->retry_on[2] && r->retry_on[4] && !r->retry_on[3]);
	ck_assert(r->retry_non_idempotent);
	ck_assert_uint_eq(r->retry_budget_pct, 50);
	ck_assert_str_eq(r->strip_prefix, "/p");
	ck_assert_uint_eq(r->nresp_hdrs, 1);
	ck_assert_int_eq(r->resp_hdrs[0].op, GW_HDR_REMOVE);
	ck_assert_uint_eq(r->retry_body_max, 0);
	ck_assert_str_eq(r->content_type, "application/json; charset=utf-8");
	gw_conf_fini(&conf);
	/* defaults: 64 KiB kept for a retry, the client's pool sizes */
	gw_conf_init(&conf);
	ck_assert_int_eq(gw_conf_key(&conf, "route", "d", "direct", "200", err,
				     sizeof(err)),
			 0);
	ck_assert_int_eq(gw_conf_key(&conf, "upstream", "d", "balance", "rr",
				     err, sizeof(err)),
			 0);
	ck_assert_uint_eq(conf.routes[0].retry_body_max, 64 * 1024);
	ck_assert_str_eq(conf.routes[0].content_type, "");
	ck_assert_uint_eq(conf.ups[0].max_conns, GW_POOL_DEFAULT);
	ck_assert_uint_eq(conf.ups[0].max_idle_conns, GW_POOL_DEFAULT);
	gw_conf_fini(&conf);
}
END_TEST

START_TEST(regex_backtracking_bounded)
{
	static const struct kv c[] = {
		{ "route", "evil", "path_regex", "/(a+)+b" },
		{ "route", "evil", "direct", "200" },
	};
	char err[256], path[64];
	struct gw_table *t = build(c, 2, err, sizeof(err));
	struct gw_match_in in = { .method = "GET", .path = path };

	ck_assert_msg(t != NULL, "%s", err);
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	/* catastrophic backtracking: the match limit ends it, no match */
	ck_assert_ptr_null(gw_table_match(t, &in));
	gw_table_put(t);
}
END_TEST

/* The literal a regex is indexed under. */
START_TEST(regex_literals)
{
	static const struct {
		const char *re, *want;
	} c[] = {
		{ "/api/s9/v[0-9]+/items/[0-9]+", "/api/s9/v" },
		{ "^/api/v1", "/api/v1" },
		{ "/ab*c", "/a" },
		{ "/ab?", "/a" },
		{ "/ab+", "/a" },
		{ "/ab{2}", "/a" },
		{ "/a.b", "/a" },
		{ "/a\\d", "/a" },
		{ "/a(b|c)", "" },
		{ "/a|/b", "" },
		{ "(?i)/abc", "" },
		{ "[/]abc", "" },
		{ "/plain-path_1~", "/plain-path_1~" },
	};
	char out[64];

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		gw_regex_literal(c[i].re, out, sizeof(out));
		ck_assert_msg(strcmp(out, c[i].want) == 0,
			      "%s: literal [%s], want [%s]", c[i].re, out,
			      c[i].want);
	}
	/* the length: the whole of a pattern that is all literal */
	ck_assert_uint_eq(gw_regex_literal("/abc", out, sizeof(out)), 4);
	ck_assert_uint_eq(gw_regex_literal("^/abc", out, sizeof(out)), 4);
	/* truncated to the buffer, still a prefix */
	ck_assert_uint_eq(gw_regex_literal("/abcdef", out, 4), 3);
	ck_assert_str_eq(out, "/ab");
}
END_TEST

/* The index returns the first route in configuration order, whatever
 * kind of key found it. */
START_TEST(index_keeps_order)
{
	static const struct kv c[] = {
		{ "route", "re_first", "path_regex", "/x/[a-z]+" },
		{ "route", "re_first", "direct", "200" },
		{ "route", "exact_after", "path", "/x/abc" },
		{ "route", "exact_after", "direct", "200" },
		{ "route", "get_only", "path", "/y" },
		{ "route", "get_only", "method", "GET" },
		{ "route", "get_only", "direct", "200" },
		{ "route", "long_prefix", "path_prefix", "/y/z" },
		{ "route", "long_prefix", "direct", "200" },
		{ "route", "short_prefix", "path_prefix", "/y" },
		{ "route", "short_prefix", "direct", "200" },
		{ "route", "re_no_literal", "path_regex", "(/y|/w)/[0-9]+" },
		{ "route", "re_no_literal", "direct", "200" },
		{ "route", "exact_late", "path", "/w/1" },
		{ "route", "exact_late", "direct", "200" },
		{ "route", "root", "path_prefix", "/" },
		{ "route", "root", "direct", "200" },
	};
	static const struct {
		const char *method, *path, *want;
	} m[] = {
		{ "GET", "/x/abc", "re_first" }, /* regex before exact */
		{ "GET", "/x/ab1", "root" },	 /* regex fails: later prefix */
		{ "GET", "/y", "get_only" },	 /* exact before prefixes */
		{ "PUT", "/y", "short_prefix" }, /* method fails: next */
		{ "PUT", "/y/z/1", "long_prefix" }, /* longer prefix first */
		{ "GET", "/y/1", "short_prefix" },  /* prefix before regex */
		{ "GET", "/w/1", "re_no_literal" }, /* unindexed regex first */
		{ "GET", "/w/x", "root" },	    { "GET", "/w", "root" },
	};
	char err[256];
	struct gw_table *t =
		build(c, sizeof(c) / sizeof(c[0]), err, sizeof(err));

	ck_assert_msg(t != NULL, "%s", err);
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		struct gw_match_in in = { .method = m[i].method,
					  .host = "h",
					  .path = m[i].path };
		struct gw_route *r = gw_table_match(t, &in);

		ck_assert_msg(r != NULL &&
				      strcmp(r->conf->name, m[i].want) == 0,
			      "%s %s: got %s, want %s", m[i].method, m[i].path,
			      r != NULL ? r->conf->name : "none", m[i].want);
	}
	gw_table_put(t);
}
END_TEST

/* A walk over the routes in order, matching each on its own. */
static int
walk_match(const struct gw_conf *conf, pcre2_code **re, const char *method,
	   const char *path)
{
	for (size_t i = 0; i < conf->nroutes; i++) {
		const struct gw_route_conf *rc = &conf->routes[i];
		bool ok = false;

		switch (rc->path_kind) {
		case GW_PATH_EXACT:
			ok = strcmp(path, rc->path) == 0;
			break;
		case GW_PATH_PREFIX:
			ok = strncmp(path, rc->path, strlen(rc->path)) == 0;
			break;
		case GW_PATH_REGEX: {
			pcre2_match_data *md =
				pcre2_match_data_create_from_pattern(re[i],
								     NULL);

			ok = pcre2_match(re[i], (PCRE2_SPTR)path, strlen(path),
					 0, 0, md, NULL) >= 0;
			pcre2_match_data_free(md);
			break;
		}
		}
		if (ok && rc->nmethods > 0)
			ok = strcmp(method, rc->methods[0]) == 0;
		if (ok)
			return (int)i;
	}
	return -1;
}

/* Generated tables: the indexed lookup equals the walk on every path. */
START_TEST(index_equals_walk)
{
	static const char *const atoms[] = { "/a",   "/b",  "/ab",  "/a/",
					     "/a/b", "/v1", "/v12", "/" };
	static const char *const res[] = {
		"/a/[0-9]+", "^/ab?",	"/v1[0-9]*", "/a/b.*",
		"(/a|/b)/x", "/[a-z]+", "/a/b+",     "/v12/?x",
		".*x",	     "/ab",	"^/a/b",
	};
	uint32_t seed = 12345;
	char err[256], key[64], val[64], path[64];

	for (int round = 0; round < 20; round++) {
		struct gw_conf conf;
		struct gw_table *t;
		pcre2_code *re[80] = { 0 };
		size_t nr = 10 + (size_t)round * 3;

		gw_conf_init(&conf);
		for (size_t i = 0; i < nr; i++) {
			uint32_t k, a;

			seed = seed * 1103515245u + 12345u;
			k = (seed >> 16) % 3;
			seed = seed * 1103515245u + 12345u;
			a = (seed >> 16) % 64;
			snprintf(key, sizeof(key), "r%zu", i);
			if (k == 2) {
				snprintf(val, sizeof(val), "%s",
					 res[a %
					     (sizeof(res) / sizeof(res[0]))]);
			} else {
				snprintf(val, sizeof(val), "%s%s", atoms[a % 8],
					 a >= 32 ? atoms[(a / 8) % 8] + 1 : "");
			}
			ck_assert_msg(gw_conf_key(&conf, "route", key,
						  k == 0   ? "path"
						  : k == 1 ? "path_prefix"
							   : "path_regex",
						  val, err, sizeof(err)) == 0,
				      "%s", err);
			if (a % 5 == 0)
				ck_assert(gw_conf_key(&conf, "route", key,
						      "method", "POST", err,
						      sizeof(err)) == 0);
			ck_assert(gw_conf_key(&conf, "route", key, "direct",
					      "200", err, sizeof(err)) == 0);
		}
		for (size_t i = 0; i < nr; i++) {
			int ec;
			PCRE2_SIZE off;

			if (conf.routes[i].path_kind != GW_PATH_REGEX)
				continue;
			re[i] = pcre2_compile((PCRE2_SPTR)conf.routes[i].path,
					      PCRE2_ZERO_TERMINATED,
					      PCRE2_ANCHORED |
						      PCRE2_ENDANCHORED,
					      &ec, &off, NULL);
			ck_assert_ptr_nonnull(re[i]);
		}
		t = gw_table_build(&conf, err, sizeof(err));
		ck_assert_msg(t != NULL, "%s", err);
		for (int p = 0; p < 300; p++) {
			struct gw_match_in in = { .host = "h", .path = path };
			struct gw_route *r;
			int want;

			seed = seed * 1103515245u + 12345u;
			snprintf(path, sizeof(path), "%s%s%s",
				 atoms[(seed >> 8) % 8],
				 atoms[(seed >> 12) % 8] + ((seed >> 20) & 1),
				 (seed >> 24) % 4 == 0 ? "x" : "");
			in.method = (seed >> 28) % 2 ? "POST" : "GET";
			want = walk_match(&conf, re, in.method, path);
			r = gw_table_match(t, &in);
			ck_assert_msg(
				want < 0 ? r == NULL
					 : r == gw_table_route(t, (size_t)want),
				"round %d, %s %s: got %s, want r%d", round,
				in.method, path,
				r != NULL ? r->conf->name : "none", want);
		}
		gw_table_put(t);
		for (size_t i = 0; i < nr; i++)
			pcre2_code_free(re[i]);
		gw_conf_fini(&conf);
	}
}
END_TEST

static Suite *
gw_route_suite(void)
{
	Suite *s = suite_create("gw_route");
	TCase *core = tcase_create("core");
	TCase *errors = tcase_create("errors");

	tcase_add_test(core, match_table);
	tcase_add_test(core, first_match_in_order);
	tcase_add_test(core, path_rewrites);
	tcase_add_test(core, header_rewrites);
	tcase_add_test(core, router_swaps_whole_tables);
	tcase_add_test(core, keys_parse);
	tcase_add_test(core, regex_literals);
	tcase_add_test(core, index_keeps_order);
	tcase_add_test(core, index_equals_walk);
	suite_add_tcase(s, core);
	tcase_add_test(errors, config_errors);
	tcase_add_test(errors, regex_backtracking_bounded);
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(gw_route_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
