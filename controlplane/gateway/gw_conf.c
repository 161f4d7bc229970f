/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Gateway configuration keys (gw_conf_key, gw_route.h): one key of a
 * [route NAME] or [upstream NAME] section into struct gw_conf. Values are
 * checked here (syntax, ranges, lengths); what needs the whole
 * configuration (unknown upstreams, regexes, redirect loops) is checked by
 * gw_table_build. docs/gateway.md lists the keys.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_filter.h"
#include "gw_route.h"
#include "edgelb/util.h"

#define MAX_TIMEOUT_MS 3600000u

static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) &&
		    strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return false;
	return true;
}

/* No control bytes (CR, LF, NUL, ...): safe in a header or a line. */
static bool
is_text(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* "type/subtype", then nothing or parameters after ';' (RFC 9110 8.3). */
static bool
is_media_type(const char *v)
{
	const char *slash = strchr(v, '/');
	const char *end = v + strcspn(v, "; ");
	char t[GW_CTYPE_MAX];

	if (slash == NULL || slash > end || (size_t)(end - v) >= sizeof(t) ||
	    !is_text(v))
		return false;
	memcpy(t, v, (size_t)(slash - v));
	t[slash - v] = '\0';
	if (!is_token(t))
		return false;
	memcpy(t, slash + 1, (size_t)(end - slash - 1));
	t[end - slash - 1] = '\0';
	if (!is_token(t))
		return false;
	while (*end == ' ')
		end++;
	return *end == '\0' || *end == ';';
}

static int
copy(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);

	if (n >= cap)
		return -ENAMETOOLONG;
	memcpy(dst, v, n + 1);
	return 0;
}

static int
parse_u32(const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long x;

	if (!isdigit((unsigned char)v[0]))
		return -EINVAL;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || x < lo || x > hi)
		return -EINVAL;
	*out = (uint32_t)x;
	return 0;
}

static int
parse_bool(const char *v, bool *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
		 strcmp(v, "0") == 0)
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* "Name: value" or, with allow_bare, "Name". */
static int
parse_hdr(const char *v, char *name, char *value, bool *has_value,
	  bool allow_bare)
{
	const char *colon = strchr(v, ':');
	size_t nl = colon != NULL ? (size_t)(colon - v) : strlen(v);
	const char *val;

	if (nl == 0 || nl >= GW_NAME_MAX)
		return -EINVAL;
	memcpy(name, v, nl);
	name[nl] = '\0';
	if (!is_token(name))
		return -EINVAL;
	if (colon == NULL) {
		*has_value = false;
		value[0] = '\0';
		return allow_bare ? 0 : -EINVAL;
	}
	val = colon + 1;
	while (*val == ' ' || *val == '\t')
		val++;
	if (!is_text(val) || copy(value, GW_VALUE_MAX, val) < 0)
		return -EINVAL;
	*has_value = true;
	return 0;
}

static uint32_t
name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The slot of name in c's route name hash: its route's, or the empty one
 * where it goes. */
static int32_t *
name_slot(const struct gw_conf *c, const char *name)
{
	size_t mask = c->nslots - 1;

	for (size_t i = name_hash(name) & mask;; i = (i + 1) & mask)
		if (c->slot[i] < 0 ||
		    strcmp(c->routes[c->slot[i]].name, name) == 0)
			return &c->slot[i];
}

/* Hash the names of routes [nnamed, nroutes) (all of them again when
 * the table grows or the routes were cut). 0 or -ENOMEM. */
static int
names_update(struct gw_conf *c)
{
	size_t want = 16;

	while (want < 2 * (c->nroutes + 1))
		want *= 2;
	if (c->nnamed > c->nroutes || want > c->nslots) {
		int32_t *s = malloc(want * sizeof(*s));

		if (s == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < want; i++)
			s[i] = -1;
		free(c->slot);
		c->slot = s;
		c->nslots = want;
		c->nnamed = 0;
	}
	for (; c->nnamed < c->nroutes; c->nnamed++) {
		int32_t *sl = name_slot(c, c->routes[c->nnamed].name);

		if (*sl < 0) /* a repeated name: the first one is found */
			*sl = (int32_t)c->nnamed;
	}
	return 0;
}

/* The route named name, made on first use: a hash lookup, and the array
 * grows by doubling, so that loading n routes costs O(n). */
static struct gw_route_conf *
route_get(struct gw_conf *c, const char *name)
{
	struct gw_route_conf *r;
	int32_t *sl;

	if (names_update(c) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	sl = name_slot(c, name);
	if (*sl >= 0)
		return &c->routes[*sl];
	if (c->nroutes >= GW_MAX_ROUTES) {
		errno = ENOSPC;
		return NULL;
	}
	if (c->nroutes >= c->route_cap) {
		/* a conf filled by others may not have set route_cap */
		size_t cap = c->nroutes < 8 ? 16 : 2 * c->nroutes;

		r = realloc(c->routes, cap * sizeof(*r));
		if (r == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		c->routes = r;
		c->route_cap = cap;
	}
	r = c->routes;
	gw_route_conf_init(&r[c->nroutes], name);
	*sl = (int32_t)c->nroutes;
	c->nnamed = c->nroutes + 1;
	return &r[c->nroutes++];
}

static struct gw_upstream_conf *
ups_get(struct gw_conf *c, const char *name)
{
	struct gw_upstream_conf *u;

	for (size_t i = 0; i < c->nups; i++)
		if (strcmp(c->ups[i].name, name) == 0)
			return &c->ups[i];
	if (c->nups >= GW_MAX_UPSTREAMS) {
		errno = ENOSPC;
		return NULL;
	}
	u = realloc(c->ups, (c->nups + 1) * sizeof(*u));
	if (u == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	c->ups = u;
	gw_upstream_conf_init(&u[c->nups], name);
	return &u[c->nups++];
}

static int
hdr_rw(struct gw_hdr_rw *rw, size_t *n, enum gw_hdr_op op, const char *v)
{
	bool hv;

	if (*n >= GW_MAX_HDR_RW)
		return -ENOSPC;
	if (parse_hdr(v, rw[*n].name, rw[*n].value, &hv, op == GW_HDR_REMOVE) <
	    0)
		return -EINVAL;
	if (op == GW_HDR_REMOVE && hv)
		return -EINVAL;
	rw[*n].op = op;
	(*n)++;
	return 0;
}

static int
route_key(struct gw_route_conf *r, const char *key, const char *v)
{
	uint32_t x;
	int rc;

	if (strcmp(key, "host") == 0) {
		size_t n = strlen(v);
		char h[GW_HOST_MAX];

		if (n == 0 || n >= GW_HOST_MAX || !is_text(v) ||
		    strchr(v, ' ') != NULL)
			return -EINVAL;
		for (size_t i = 0; i <= n; i++)
			h[i] = (char)tolower((unsigned char)v[i]);
		if (strcmp(h, "*") == 0) {
			r->host_kind = GW_HOST_ANY;
			r->host[0] = '\0';
		} else if (h[0] == '*') {
			r->host_kind = GW_HOST_SUFFIX;
			memmove(h, h + 1, n);
		} else if (h[n - 1] == '*') {
			r->host_kind = GW_HOST_PREFIX;
			h[n - 1] = '\0';
		} else {
			r->host_kind = GW_HOST_EXACT;
		}
		if (r->host_kind == GW_HOST_ANY)
			return 0;
		if (h[0] == '\0' || strchr(h, '*') != NULL)
			return -EINVAL; /* one wildcard, at an end */
		memcpy(r->host, h, strlen(h) + 1);
		return 0;
	}
	if (strcmp(key, "path") == 0 || strcmp(key, "path_prefix") == 0) {
		if (v[0] != '/' || !is_text(v))
			return -EINVAL;
		r->path_kind = key[4] == '\0' ? GW_PATH_EXACT : GW_PATH_PREFIX;
		return copy(r->path, sizeof(r->path), v);
	}
	if (strcmp(key, "path_regex") == 0) {
		if (v[0] == '\0')
			return -EINVAL;
		r->path_kind = GW_PATH_REGEX;
		return copy(r->path, sizeof(r->path), v);
	}
	if (strcmp(key, "method") == 0) {
		char buf[GW_MAX_METHODS * 17], *tok, *save = NULL;

		if (copy(buf, sizeof(buf), v) < 0)
			return -EINVAL;
		r->nmethods = 0;
		for (tok = strtok_r(buf, ", ", &save); tok != NULL;
		     tok = strtok_r(NULL, ", ", &save)) {
			if (r->nmethods >= GW_MAX_METHODS)
				return -ENOSPC;
			if (!is_token(tok) ||
			    copy(r->methods[r->nmethods], 16, tok) < 0)
				return -EINVAL;
			r->nmethods++;
		}
		return r->nmethods > 0 ? 0 : -EINVAL;
	}
	if (strcmp(key, "header") == 0) {
		struct gw_kv *kv = &r->headers[r->nheaders];

		if (r->nheaders >= GW_MAX_MATCH)
			return -ENOSPC;
		if (parse_hdr(v, kv->name, kv->value, &kv->has_value, true) < 0)
			return -EINVAL;
		r->nheaders++;
		return 0;
	}
	if (strcmp(key, "query") == 0) {
		struct gw_kv *kv = &r->queries[r->nqueries];
		const char *eq = strchr(v, '=');
		size_t nl = eq != NULL ? (size_t)(eq - v) : strlen(v);

		if (r->nqueries >= GW_MAX_MATCH)
			return -ENOSPC;
		if (nl == 0 || nl >= sizeof(kv->name) || !is_text(v) ||
		    strpbrk(v, "& ") != NULL)
			return -EINVAL;
		memcpy(kv->name, v, nl);
		kv->name[nl] = '\0';
		kv->has_value = eq != NULL;
		if (eq != NULL &&
		    copy(kv->value, sizeof(kv->value), eq + 1) < 0)
			return -EINVAL;
		r->nqueries++;
		return 0;
	}
	if (strcmp(key, "upstream") == 0) {
		if (v[0] == '\0' || !is_text(v))
			return -EINVAL;
		r->action = GW_ACT_PROXY;
		return copy(r->upstream, sizeof(r->upstream), v);
	}
	if (strcmp(key, "redirect") == 0 || strcmp(key, "direct") == 0) {
		bool redir = key[0] == 'r';
		char *end;
		long st = strtol(v, &end, 10);
		const char *rest = end;

		if (end == v || (*end != ' ' && *end != '\0'))
			return -EINVAL;
		while (*rest == ' ')
			rest++;
		if (redir) {
			if ((st < 301 || st > 303) && st != 307 && st != 308)
				return -EINVAL;
			if (rest[0] == '\0' || !is_text(rest) ||
			    strchr(rest, ' ') != NULL)
				return -EINVAL;
			rc = copy(r->location, sizeof(r->location), rest);
			r->action = GW_ACT_REDIRECT;
		} else {
			if (st < 200 || st > 599 || !is_text(rest))
				return -EINVAL;
			rc = copy(r->body, sizeof(r->body), rest);
			r->action = GW_ACT_DIRECT;
		}
		r->status = (int)st;
		return rc;
	}
	if (strcmp(key, "strip_prefix") == 0) {
		if (v[0] != '/' || !is_text(v))
			return -EINVAL;
		return copy(r->strip_prefix, sizeof(r->strip_prefix), v);
	}
	if (strcmp(key, "rewrite_prefix") == 0) {
		if ((v[0] != '/' && v[0] != '\0') || !is_text(v))
			return -EINVAL;
		r->has_rewrite = true;
		return copy(r->rewrite_prefix, sizeof(r->rewrite_prefix), v);
	}
	if (strcmp(key, "request_header_add") == 0)
		return hdr_rw(r->req_hdrs, &r->nreq_hdrs, GW_HDR_ADD, v);
	if (strcmp(key, "request_header_set") == 0)
		return hdr_rw(r->req_hdrs, &r->nreq_hdrs, GW_HDR_SET, v);
	if (strcmp(key, "request_header_remove") == 0)
		return hdr_rw(r->req_hdrs, &r->nreq_hdrs, GW_HDR_REMOVE, v);
	if (strcmp(key, "response_header_add") == 0)
		return hdr_rw(r->resp_hdrs, &r->nresp_hdrs, GW_HDR_ADD, v);
	if (strcmp(key, "response_header_set") == 0)
		return hdr_rw(r->resp_hdrs, &r->nresp_hdrs, GW_HDR_SET, v);
	if (strcmp(key, "response_header_remove") == 0)
		return hdr_rw(r->resp_hdrs, &r->nresp_hdrs, GW_HDR_REMOVE, v);
	if (strcmp(key, "connect_timeout_ms") == 0)
		return parse_u32(v, 1, MAX_TIMEOUT_MS, &r->connect_timeout_ms);
	if (strcmp(key, "request_timeout_ms") == 0)
		return parse_u32(v, 1, MAX_TIMEOUT_MS, &r->request_timeout_ms);
	if (strcmp(key, "idle_timeout_ms") == 0)
		return parse_u32(v, 1, MAX_TIMEOUT_MS, &r->idle_timeout_ms);
	if (strcmp(key, "retries") == 0)
		return parse_u32(v, 0, 5, &r->retries);
	if (strcmp(key, "retry_budget_pct") == 0)
		return parse_u32(v, 0, 100, &r->retry_budget_pct);
	if (strcmp(key, "retry_non_idempotent") == 0)
		return parse_bool(v, &r->retry_non_idempotent);
	if (strcmp(key, "retry_body_max") == 0)
		return parse_u32(v, 0, GW_RETRY_BODY_MAX, &r->retry_body_max);
	if (strcmp(key, "content_type") == 0) {
		if (!is_media_type(v))
			return -EINVAL;
		return copy(r->content_type, sizeof(r->content_type), v);
	}
	if (strcmp(key, "filters") == 0) {
		char buf[GW_MAX_FILTERS * (GW_NAME_MAX + 2)], *tok,
			*save = NULL;

		if (copy(buf, sizeof(buf), v) < 0)
			return -EINVAL;
		r->nfilters = 0;
		for (tok = strtok_r(buf, ", ", &save); tok != NULL;
		     tok = strtok_r(NULL, ", ", &save)) {
			if (r->nfilters >= GW_MAX_FILTERS)
				return -ENOSPC;
			if (!is_token(tok) ||
			    copy(r->filters[r->nfilters], GW_NAME_MAX, tok) < 0)
				return -EINVAL;
			r->nfilters++;
		}
		return 0; /* empty: no filters */
	}
	if (strcmp(key, "retry_on") == 0) {
		char buf[256], *tok, *save = NULL;

		if (copy(buf, sizeof(buf), v) < 0)
			return -EINVAL;
		memset(r->retry_on, 0, sizeof(r->retry_on));
		for (tok = strtok_r(buf, ", ", &save); tok != NULL;
		     tok = strtok_r(NULL, ", ", &save)) {
			if (parse_u32(tok, 500, 599, &x) < 0)
				return -EINVAL;
			r->retry_on[x - 500] = true;
		}
		return 0;
	}
	return -ENOENT;
}

static int
ups_key(struct gw_upstream_conf *u, const char *key, const char *v)
{
	if (strcmp(key, "instance") == 0) {
		char buf[LB_ADDRPORTSTRLEN + 16], *sp;
		struct gw_instance_conf *in;
		uint32_t w = 1;

		if (u->ninst >= GW_MAX_INSTANCES)
			return -ENOSPC;
		if (copy(buf, sizeof(buf), v) < 0)
			return -EINVAL;
		sp = strchr(buf, ' ');
		if (sp != NULL) {
			*sp++ = '\0';
			while (*sp == ' ')
				sp++;
			if (parse_u32(sp, 1, GW_MAX_WEIGHT, &w) < 0)
				return -EINVAL;
		}
		in = &u->inst[u->ninst];
		if (lb_addr_port_parse(buf, &in->addr, &in->port, false) < 0 ||
		    in->port == 0)
			return -EINVAL;
		in->weight = w;
		u->ninst++;
		return 0;
	}
	if (strcmp(key, "balance") == 0) {
		const struct gw_balancer_ops *b = gw_balancer_find(v);

		if (b == NULL)
			return -EINVAL;
		u->bal = b;
		return 0;
	}
	if (strcmp(key, "hash_on") == 0) {
		static const struct {
			const char *pfx;
			enum gw_hash_on on;
		} kinds[] = { { "header:", GW_HASH_HEADER },
			      { "cookie:", GW_HASH_COOKIE },
			      { "query:", GW_HASH_QUERY } };

		if (strcmp(v, "client") == 0) {
			u->hash_on = GW_HASH_CLIENT;
			return 0;
		}
		for (size_t i = 0; i < 3; i++) {
			size_t pl = strlen(kinds[i].pfx);

			if (strncmp(v, kinds[i].pfx, pl) != 0)
				continue;
			if (!is_token(v + pl) ||
			    copy(u->hash_key, sizeof(u->hash_key), v + pl) < 0)
				return -EINVAL;
			u->hash_on = kinds[i].on;
			return 0;
		}
		return -EINVAL;
	}
	if (strcmp(key, "vnodes") == 0)
		return parse_u32(v, 1, GW_MAX_VNODES, &u->vnodes);
	if (strcmp(key, "proto") == 0) {
		if (strcmp(v, "h1") == 0)
			u->proto = HTTP_CLIENT_H1;
		else if (strcmp(v, "h2c") == 0)
			u->proto = HTTP_CLIENT_H2C;
		else if (strcmp(v, "tls") == 0)
			u->proto = HTTP_CLIENT_TLS;
		else
			return -EINVAL;
		return 0;
	}
	if (strcmp(key, "eject_after") == 0)
		return parse_u32(v, 0, 1000, &u->eject_after);
	if (strcmp(key, "eject_base_ms") == 0)
		return parse_u32(v, 1, MAX_TIMEOUT_MS, &u->eject_base_ms);
	if (strcmp(key, "eject_max_ms") == 0)
		return parse_u32(v, 1, MAX_TIMEOUT_MS, &u->eject_max_ms);
	if (strcmp(key, "eject_max_pct") == 0)
		return parse_u32(v, 0, 100, &u->eject_max_pct);
	if (strcmp(key, "max_conns") == 0)
		return parse_u32(v, 1, GW_MAX_POOL, &u->max_conns);
	if (strcmp(key, "max_idle_conns") == 0)
		return parse_u32(v, 0, GW_MAX_POOL, &u->max_idle_conns);
	if (strcmp(key, "max_pending") == 0)
		return parse_u32(v, 0, GW_MAX_PENDING, &u->max_pending);
	if (strcmp(key, "max_requests") == 0)
		return parse_u32(v, 0, GW_MAX_PENDING, &u->max_requests);
	return -ENOENT;
}

int
gw_conf_key(struct gw_conf *c, const char *section, const char *name,
	    const char *key, const char *value, char *err, size_t errlen)
{
	bool route;
	int rc;

	if (section == NULL || name == NULL || key == NULL || value == NULL)
		return lb_errf(err, errlen, -EINVAL, "missing section or key");
	if (strcmp(section, "filter") == 0)
		return gw_filter_conf_key(c, name, key, value, err, errlen);
	route = strcmp(section, "route") == 0;
	if (!route && strcmp(section, "upstream") != 0)
		return lb_errf(err, errlen, -EINVAL,
			       "unknown section \"%.32s\"", section);
	if (name[0] == '\0' || strlen(name) >= GW_NAME_MAX || !is_token(name))
		return lb_errf(err, errlen, -EINVAL,
			       "%s: bad name \"%.64s\" (a token of at most %d "
			       "bytes)",
			       section, name, GW_NAME_MAX - 1);
	if (route) {
		struct gw_route_conf *r = route_get(c, name);

		if (r == NULL)
			return lb_errf(err, errlen, -errno, "route %s: %s",
				       name,
				       errno == ENOSPC ? "too many routes"
						       : "out of memory");
		rc = route_key(r, key, value);
	} else {
		struct gw_upstream_conf *u = ups_get(c, name);

		if (u == NULL)
			return lb_errf(err, errlen, -errno, "upstream %s: %s",
				       name,
				       errno == ENOSPC ? "too many upstreams"
						       : "out of memory");
		rc = ups_key(u, key, value);
	}
	if (rc == -ENOENT)
		return lb_errf(err, errlen, -EINVAL,
			       "%s %s: unknown key \"%.64s\"", section, name,
			       key);
	if (rc == -ENOSPC)
		return lb_errf(err, errlen, -ENOSPC, "%s %s: %s: too many",
			       section, name, key);
	if (rc < 0)
		return lb_errf(err, errlen, -EINVAL,
			       "%s %s: %s: bad value \"%.128s\"", section, name,
			       key, value);
	return 0;
}
