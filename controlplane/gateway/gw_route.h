/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Gateway routes: which action a request gets, compiled from a struct
 * gw_conf into an immutable table.
 *
 * Matching follows Envoy's order. The routes are grouped by their host
 * into virtual hosts; the request's Host (lower case, port removed)
 * selects one virtual host: an exact name first, then the longest
 * "*suffix" ("*.example.com": at least one character before the suffix),
 * then the longest "prefix*" ("api.*"), then "*" (any). Inside it, the
 * first route in configuration order whose matchers all hold wins; a
 * request whose virtual host has no matching route gets no route (404),
 * it does not fall through to a less specific host.
 *
 * Matchers of one route: the path (exact, prefix, or a PCRE2 regex that
 * must match the whole path, JIT-compiled, with a match limit), methods,
 * headers (name case-insensitive; value exact, or presence), query
 * parameters (raw, not percent-decoded; value exact, or presence).
 *
 * Actions: proxy to an upstream, redirect (301/302/303/307/308 and a
 * location), or a direct response (status and body). Rewrites of a proxied
 * request: strip a literal path prefix, or replace the matched prefix;
 * headers added, set or removed on the request and on the response.
 *
 * Publication: gw_router holds the current table; gw_router_publish
 * swaps in a new one (built aside), gw_router_get hands out a reference
 * that the request keeps until it ends (gw_table_put). A request sees
 * one table, old or new, never a mix; the old table is freed when its
 * last request ends.
 */
#ifndef EDGELBD_GW_ROUTE_H
#define EDGELBD_GW_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "gw_upstream.h"

#define GW_HOST_MAX	 256
#define GW_PATH_MAX	 512
#define GW_VALUE_MAX	 256
#define GW_BODY_MAX	 1024
#define GW_MAX_METHODS	 8
#define GW_MAX_MATCH	 8  /* header or query matchers per route */
#define GW_MAX_HDR_RW	 16 /* header rewrites per direction */
#define GW_MAX_ROUTES	 10000
#define GW_MAX_UPSTREAMS 256
#define GW_MAX_FILTERS	 8 /* filters per route (gw_filter.h) */

/* a direct answer's content type; the request body kept for a retry */
#define GW_CTYPE_MAX	  128
#define GW_RETRY_BODY_MAX (16u * 1024 * 1024) /* retry_body_max, at most */
#define GW_RETRY_BODY_DEF (64u * 1024)	      /* its default */

enum gw_host_kind {
	GW_HOST_EXACT,	/* precedence order */
	GW_HOST_SUFFIX, /* "*.example.com" */
	GW_HOST_PREFIX, /* "api.*" */
	GW_HOST_ANY,	/* "*" */
};

enum gw_path_kind {
	GW_PATH_PREFIX, /* default: prefix "/" */
	GW_PATH_EXACT,
	GW_PATH_REGEX,
};

enum gw_action {
	GW_ACT_NONE,
	GW_ACT_PROXY,
	GW_ACT_REDIRECT,
	GW_ACT_DIRECT,
};

struct gw_kv {
	char name[GW_NAME_MAX];
	char value[GW_VALUE_MAX];
	bool has_value; /* false: presence only */
};

enum gw_hdr_op {
	GW_HDR_ADD,
	GW_HDR_SET, /* remove every one of that name, then add */
	GW_HDR_REMOVE,
};

struct gw_hdr_rw {
	enum gw_hdr_op op;
	char name[GW_NAME_MAX];
	char value[GW_VALUE_MAX];
};

struct gw_route_conf {
	char name[GW_NAME_MAX];
	enum gw_host_kind host_kind;
	char host[GW_HOST_MAX]; /* lower case; suffix/prefix without '*' */
	enum gw_path_kind path_kind;
	char path[GW_PATH_MAX];
	size_t nmethods;
	char methods[GW_MAX_METHODS][16];
	size_t nheaders;
	struct gw_kv headers[GW_MAX_MATCH];
	size_t nqueries;
	struct gw_kv queries[GW_MAX_MATCH];
	enum gw_action action;
	char upstream[GW_NAME_MAX];
	int status;			/* redirect or direct */
	char location[GW_PATH_MAX];	/* redirect */
	char body[GW_BODY_MAX];		/* direct */
	char strip_prefix[GW_PATH_MAX]; /* "" none */
	bool has_rewrite;
	char rewrite_prefix[GW_PATH_MAX]; /* replaces a matched prefix */
	size_t nreq_hdrs, nresp_hdrs;
	struct gw_hdr_rw req_hdrs[GW_MAX_HDR_RW];
	struct gw_hdr_rw resp_hdrs[GW_MAX_HDR_RW];
	uint32_t connect_timeout_ms; /* 0: the client's default */
	uint32_t request_timeout_ms; /* head deadline, and total; 0: none */
	uint32_t idle_timeout_ms;    /* between body pieces; 0: default */
	uint32_t retries;	     /* further attempts */
	bool retry_on[100];	     /* by status - 500 */
	bool retry_non_idempotent;
	uint32_t retry_budget_pct; /* retries in flight / active requests */
	size_t nfilters;	   /* `filters`: [filter NAME]s in order */
	char filters[GW_MAX_FILTERS][GW_NAME_MAX];
	/* a request body up to this many bytes is kept for a retry (0:
	 * bodies are never retried) */
	uint32_t retry_body_max;
	char content_type[GW_CTYPE_MAX]; /* direct; "": text/plain */
};

/* Defaults: any host, prefix "/", no action (an error until one is set),
 * 1 retry on connect failure, budget 20 %, bodies up to 64 KiB kept for
 * it. */
void gw_route_conf_init(struct gw_route_conf *c, const char *name);

struct gw_filter_conf; /* gw_filter.h */

/* The configuration the table is built from (gw_conf_key fills it). */
struct gw_conf {
	size_t nroutes, nups, nfilters;
	struct gw_route_conf *routes; /* in configuration order */
	struct gw_upstream_conf *ups;
	struct gw_filter_conf *filters; /* [filter NAME] sections */
	/* gw_conf_key's: routes allocated, and the routes' names hashed
	 * (slots hold indexes, -1 empty; routes [0, nnamed) are in) */
	size_t route_cap, nslots, nnamed;
	int32_t *slot;
};

void gw_conf_init(struct gw_conf *c);
void gw_conf_fini(struct gw_conf *c);

/*
 * One key of a [route NAME], [upstream NAME] or [filter NAME] section
 * (docs/gateway.md
 * lists them); the entry is created on its first key. 0, or -EINVAL
 * (unknown section or key, bad value) / -ENOSPC (too many routes,
 * upstreams, instances or matchers) / -ENOMEM with err saying which
 * route/upstream, key and why.
 */
int gw_conf_key(struct gw_conf *c, const char *section, const char *name,
		const char *key, const char *value, char *err, size_t errlen);

/* Per-route counters, written with relaxed atomics by the proxy. */
struct gw_route_stats {
	uint64_t requests;
	uint64_t responses[6]; /* by class; [0]: none sent (aborted) */
	uint64_t retries;
	uint64_t retries_refused; /* over the budget */
	uint64_t connect_errors;
	uint64_t timeouts;
	uint64_t no_instance; /* 503: nothing available */
};

struct gw_chain; /* gw_filter.h */

struct gw_route {
	const struct gw_route_conf *conf;
	struct gw_upstream *up; /* GW_ACT_PROXY */
	void *re;		/* pcre2_code */
	struct gw_chain *chain; /* NULL: no filters */
	struct gw_route_stats st;
};

/*
 * The filters of a table (gw_filter.c; gw_table_build calls it): create
 * every filter of c and every route's chain (routes[i].chain). NULL with
 * errno EINVAL (err: an unknown filter named by a route, a key that the
 * type refuses, a file that cannot be read, ...) or ENOMEM. A conf
 * without filters gives an empty set.
 */
struct gw_filter_set;
struct gw_filter_set *gw_filter_set_build(const struct gw_conf *c,
					  struct gw_route *routes,
					  size_t nroutes, char *err,
					  size_t errlen);
void gw_filter_set_free(struct gw_filter_set *s);

struct gw_table;

/*
 * Build the table: every regex compiled (JIT), every upstream created,
 * every route checked. NULL with errno EINVAL and err naming the route or
 * upstream, the key and the reason (an invalid regex with PCRE2's message
 * and offset, an unknown upstream, a route without an action, a redirect
 * that matches its own route), or errno ENOMEM.
 */
struct gw_table *gw_table_build(const struct gw_conf *c, char *err,
				size_t errlen);

/* What a request is matched on. host may carry a port; NULL: "". */
struct gw_match_in {
	const char *method;
	const char *host;
	const char *path;
	const char *query; /* NULL: none */
	const struct http_header *headers;
	size_t nheaders;
};

/* The route for in, or NULL. Safe from any thread. */
struct gw_route *gw_table_match(const struct gw_table *t,
				const struct gw_match_in *in);

size_t gw_table_nroutes(const struct gw_table *t);
struct gw_route *gw_table_route(const struct gw_table *t, size_t i);
size_t gw_table_nupstreams(const struct gw_table *t);
struct gw_upstream *gw_table_upstream(const struct gw_table *t, size_t i);
struct gw_upstream *gw_table_upstream_by_name(const struct gw_table *t,
					      const char *name);

/*
 * The literal text every match of the path regex re must start with (a
 * leading "^" skipped; stops at the first character that is not plain,
 * and leaves out one that a quantifier follows; "" when re has a "|"),
 * into out (truncated to outlen - 1). The lookup index files a regex
 * route under it. Its length.
 */
size_t gw_regex_literal(const char *re, char *out, size_t outlen);

/* References: a new table has one (the builder's). */
void gw_table_get(struct gw_table *t);
void gw_table_put(struct gw_table *t);

/*
 * The path sent upstream: strip_prefix removed (when the path starts
 * with it), or the route's matched prefix replaced by rewrite_prefix.
 * The query, if any, is appended. 0 or -ENOSPC (out too small).
 */
int gw_route_rewrite_target(const struct gw_route *r, const char *path,
			    const char *query, char *out, size_t outlen);

/*
 * Apply header rewrites to in[0..nin) into out (at most max): removals
 * and sets drop every header of that name (case-insensitive), adds and
 * sets append. The strings are not copied. 0 or -E2BIG.
 */
int gw_hdr_apply(const struct gw_hdr_rw *rw, size_t nrw,
		 const struct http_header *in, size_t nin,
		 struct http_header *out, size_t max, size_t *nout);

/* The router: the current table, swapped whole. */
struct gw_router;
struct gw_router *gw_router_new(void); /* NULL with errno ENOMEM */
void gw_router_free(struct gw_router *r);
/* Make t current (the router takes the caller's reference). */
void gw_router_publish(struct gw_router *r, struct gw_table *t);
/* The current table with a reference, or NULL. */
struct gw_table *gw_router_get(struct gw_router *r);

#endif
