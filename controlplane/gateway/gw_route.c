/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Gateway routes (gw_route.h): the compiled table, matching, rewrites and
 * the router that publishes tables by pointer swap.
 *
 * The table keeps the routes in configuration order and a list of
 * virtual hosts sorted by precedence (kind, then longer names first);
 * each virtual host lists the indexes of its routes in order.
 *
 * Each virtual host also indexes its routes by path key, so that a lookup
 * tries only the routes whose path can match: an exact route under its
 * path, a prefix route under its prefix, a regex route under the literal
 * text every match must start with (regex_literal; "" when the pattern
 * does not begin with one). The keys sit in one open-addressing hash
 * table; each key holds the indexes of its routes, ascending. A lookup
 * probes the exact key of the whole path and the prefix keys of each
 * length that some prefix key of the host has, then tries the candidates
 * of all those lists merged in route index order, the first whose
 * matchers all hold winning: the same route the walk over all the host's
 * routes in configuration order gives, since a route left out cannot
 * match that path.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_re.h"
#include "gw_route.h"
#include "edgelb/util.h"

#define RE_MATCH_LIMIT 100000 /* backtracking steps per match */

/* One path key of a virtual host's index. */
struct vkey {
	const char *key; /* NULL: free slot */
	uint32_t hash;
	uint16_t len;
	bool exact;	 /* an exact path; else a prefix (or regex literal) */
	uint32_t off, n; /* its route indexes: vhost.idx[off .. off + n) */
};

struct vhost {
	enum gw_host_kind kind;
	const char *host;
	size_t hlen;
	size_t n;
	size_t *routes;
	/* the path index */
	size_t nslots; /* a power of two */
	struct vkey *slot;
	uint32_t *idx; /* route indexes by key, ascending in each */
	size_t nlens;
	uint16_t *lens; /* distinct prefix key lengths, ascending */
};

/* a prefix key is shorter than GW_PATH_MAX: at most this many lists */
#define VH_LISTS (GW_PATH_MAX + 1)

struct gw_table {
	int refs;	     /* atomic */
	struct gw_conf conf; /* a private copy the routes point into */
	size_t nroutes;
	struct gw_route *routes;
	size_t nvh;
	struct vhost *vh;
	size_t nups;
	struct gw_upstream **ups;
	pcre2_match_context *mctx;
	struct gw_filter_set *fset; /* the routes' filter chains */
};

struct gw_router {
	pthread_mutex_t mu; /* held only to take a reference */
	struct gw_table *cur;
};

/* ---- configuration defaults --------------------------------------------- */

void
gw_route_conf_init(struct gw_route_conf *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->host_kind = GW_HOST_ANY;
	c->path_kind = GW_PATH_PREFIX;
	strcpy(c->path, "/");
	c->retries = 1;
	c->retry_budget_pct = 20;
	c->retry_body_max = GW_RETRY_BODY_DEF;
}

void
gw_conf_init(struct gw_conf *c)
{
	memset(c, 0, sizeof(*c));
}

void
gw_conf_fini(struct gw_conf *c)
{
	free(c->routes);
	free(c->ups);
	free(c->filters);
	free(c->slot);
	memset(c, 0, sizeof(*c));
}

/* ---- building ------------------------------------------------------------ */

static int
vh_cmp(const void *a, const void *b)
{
	const struct vhost *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->hlen != y->hlen)
		return x->hlen > y->hlen ? -1 : 1; /* longer first */
	return strcmp(x->host, y->host);
}

static void
table_free(struct gw_table *t)
{
	if (t == NULL)
		return;
	gw_filter_set_free(t->fset);
	for (size_t i = 0; i < t->nroutes; i++)
		pcre2_code_free(t->routes[i].re);
	for (size_t i = 0; i < t->nvh; i++) {
		free(t->vh[i].routes);
		free(t->vh[i].slot);
		free(t->vh[i].idx);
		free(t->vh[i].lens);
	}
	for (size_t i = 0; i < t->nups; i++)
		gw_upstream_free(t->ups[i]);
	pcre2_match_context_free(t->mctx);
	free(t->vh);
	free(t->routes);
	free(t->ups);
	gw_conf_fini(&t->conf);
	free(t);
}

static int
compile_regex(struct gw_route *r, char *err, size_t errlen)
{
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE off;
	int ec;

	r->re = pcre2_compile((PCRE2_SPTR)r->conf->path, PCRE2_ZERO_TERMINATED,
			      PCRE2_ANCHORED | PCRE2_ENDANCHORED, &ec, &off,
			      NULL);
	if (r->re == NULL) {
		pcre2_get_error_message(ec, msg, sizeof(msg));
		lb_errf(err, errlen, 0,
			"route %s: path_regex: invalid regex at offset %zu: %s",
			r->conf->name, (size_t)off, (const char *)msg);
		return -EINVAL;
	}
	/* no JIT (some kernels forbid executable memory): the interpreter */
	(void)pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE);
	return 0;
}

static int
add_vhost(struct gw_table *t, size_t ri)
{
	const struct gw_route_conf *c = t->routes[ri].conf;
	struct vhost *v = NULL;
	size_t *nr;

	for (size_t i = 0; i < t->nvh; i++)
		if (t->vh[i].kind == c->host_kind &&
		    strcmp(t->vh[i].host, c->host) == 0)
			v = &t->vh[i];
	if (v == NULL) {
		v = &t->vh[t->nvh++];
		v->kind = c->host_kind;
		v->host = c->host;
		v->hlen = strlen(c->host);
	}
	nr = realloc(v->routes, (v->n + 1) * sizeof(*nr));
	if (nr == NULL)
		return -ENOMEM;
	v->routes = nr;
	v->routes[v->n++] = ri;
	return 0;
}

/* A redirect whose location matches its own route loops forever. */
static bool
redirect_loops(const struct gw_table *t, const struct gw_route *r)
{
	const struct gw_route_conf *c = r->conf;
	char host[GW_HOST_MAX + 8], path[GW_PATH_MAX];
	const char *loc = c->location, *q;
	struct gw_match_in in = { 0 };

	if (strncmp(loc, "http://", 7) == 0 ||
	    strncmp(loc, "https://", 8) == 0) {
		const char *a = strstr(loc, "//") + 2;
		const char *slash = strchr(a, '/');
		size_t hl = slash != NULL ? (size_t)(slash - a) : strlen(a);

		if (hl >= sizeof(host))
			return false;
		memcpy(host, a, hl);
		host[hl] = '\0';
		loc = slash != NULL ? slash : "/";
	} else if (loc[0] == '/') {
		/* relative: the request's host stays; take one of the route */
		switch (c->host_kind) {
		case GW_HOST_EXACT:
			snprintf(host, sizeof(host), "%s", c->host);
			break;
		case GW_HOST_SUFFIX:
			snprintf(host, sizeof(host), "x%s", c->host);
			break;
		case GW_HOST_PREFIX:
			snprintf(host, sizeof(host), "%sx", c->host);
			break;
		case GW_HOST_ANY:
			snprintf(host, sizeof(host), "loop.invalid");
			break;
		}
	} else {
		return false;
	}
	snprintf(path, sizeof(path), "%s", loc);
	q = strchr(path, '?');
	if (q != NULL) {
		path[q - path] = '\0';
		in.query = loc + (q - path) + 1;
	}
	in.method = c->nmethods > 0 ? c->methods[0] : "GET";
	in.host = host;
	in.path = path;
	return gw_table_match(t, &in) == r;
}

/* ---- the path index of a virtual host ------------------------------------- */

#define FNV_OFF	  2166136261u
#define FNV_PRIME 16777619u

static uint32_t
fnv_step(uint32_t h, unsigned char ch)
{
	return (h ^ ch) * FNV_PRIME;
}

/* Characters that stand for themselves in a PCRE2 pattern (outside a
 * class, without the x option). */
static bool
re_plain(char ch)
{
	return ch != '\0' &&
	       (isalnum((unsigned char)ch) || strchr("/_-~%,;=@!:&'\"<>", ch));
}

size_t
gw_regex_literal(const char *re, char *out, size_t outlen)
{
	const char *p = re;
	size_t n = 0;

	/* an alternative anywhere may start with anything: no literal */
	if (strchr(re, '|') != NULL || outlen == 0) {
		if (outlen > 0)
			out[0] = '\0';
		return 0;
	}
	if (*p == '^') /* the subject's start: where the match starts */
		p++;
	while (re_plain(*p) && n + 1 < outlen)
		out[n++] = *p++;
	/* a quantifier makes the last character optional or repeated */
	if (n > 0 && *p != '\0' && strchr("?*+{", *p) != NULL)
		n--;
	out[n] = '\0';
	return n;
}

/* The key a route is indexed under (into buf), and whether it is exact. */
static size_t
route_key(const struct gw_route_conf *c, char *buf, size_t buflen, bool *exact)
{
	*exact = c->path_kind == GW_PATH_EXACT;
	if (c->path_kind == GW_PATH_REGEX)
		return gw_regex_literal(c->path, buf, buflen);
	snprintf(buf, buflen, "%s", c->path);
	return strlen(buf);
}

static struct vkey *
vkey_find(const struct vhost *v, const char *key, size_t len, uint32_t h,
	  bool exact)
{
	size_t mask = v->nslots - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct vkey *k = &v->slot[i];

		if (k->key == NULL)
			return k;
		if (k->hash == h && k->len == len && k->exact == exact &&
		    memcmp(k->key, key, len) == 0)
			return k;
	}
}

static uint32_t
key_hash(const char *key, size_t len)
{
	uint32_t h = FNV_OFF;

	for (size_t i = 0; i < len; i++)
		h = fnv_step(h, (unsigned char)key[i]);
	return h;
}

/* Build v's path index over t's routes. 0 or -ENOMEM. */
static int
vhost_index(struct gw_table *t, struct vhost *v)
{
	char buf[GW_PATH_MAX];
	struct vkey **of = NULL;
	uint32_t *fill = NULL;
	int rc = -ENOMEM;

	v->nslots = 4;
	while (v->nslots < 2 * v->n + 2)
		v->nslots *= 2;
	v->slot = calloc(v->nslots, sizeof(*v->slot));
	v->idx = calloc(v->n + 1, sizeof(*v->idx));
	v->lens = calloc(v->n + 1, sizeof(*v->lens));
	of = calloc(v->n + 1, sizeof(*of));
	if (v->slot == NULL || v->idx == NULL || v->lens == NULL || of == NULL)
		goto out;
	/* the keys: a slot each, its count of routes */
	for (size_t k = 0; k < v->n; k++) {
		const struct gw_route_conf *c = t->routes[v->routes[k]].conf;
		bool exact;
		size_t len = route_key(c, buf, sizeof(buf), &exact);
		uint32_t h = key_hash(buf, len);
		struct vkey *e = vkey_find(v, buf, len, h, exact);

		if (e->key == NULL) {
			/* the key text lives in the table's conf copy; a
			 * regex literal is a prefix of its pattern */
			e->key = c->path + (c->path[0] == '^' &&
					    c->path_kind == GW_PATH_REGEX);
			e->hash = h;
			e->len = (uint16_t)len;
			e->exact = exact;
			if (!exact) {
				size_t i = 0;

				while (i < v->nlens && v->lens[i] < len)
					i++;
				if (i == v->nlens || v->lens[i] != len) {
					memmove(&v->lens[i + 1], &v->lens[i],
						(v->nlens - i) *
							sizeof(*v->lens));
					v->lens[i] = (uint16_t)len;
					v->nlens++;
				}
			}
		}
		e->n++;
		of[k] = e;
	}
	/* the lists: offsets, then the route indexes in order */
	fill = calloc(v->nslots, sizeof(*fill));
	if (fill == NULL)
		goto out;
	for (size_t i = 0, off = 0; i < v->nslots; i++) {
		v->slot[i].off = (uint32_t)off;
		off += v->slot[i].n;
	}
	for (size_t k = 0; k < v->n; k++) {
		struct vkey *e = of[k];

		v->idx[e->off + fill[e - v->slot]++] = (uint32_t)v->routes[k];
	}
	rc = 0;
out:
	free(fill);
	free(of);
	return rc;
}

struct gw_table *
gw_table_build(const struct gw_conf *c, char *err, size_t errlen)
{
	struct gw_table *t;
	int e = EINVAL;

	if (c->nroutes > GW_MAX_ROUTES || c->nups > GW_MAX_UPSTREAMS) {
		lb_errf(err, errlen, 0, "too many routes or upstreams");
		errno = ENOSPC;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		goto nomem;
	t->refs = 1;
	t->conf.routes = calloc(c->nroutes + 1, sizeof(*c->routes));
	t->conf.ups = calloc(c->nups + 1, sizeof(*c->ups));
	t->routes = calloc(c->nroutes + 1, sizeof(*t->routes));
	t->vh = calloc(c->nroutes + 1, sizeof(*t->vh));
	t->ups = calloc(c->nups + 1, sizeof(*t->ups));
	t->mctx = pcre2_match_context_create(NULL);
	if (t->conf.routes == NULL || t->conf.ups == NULL ||
	    t->routes == NULL || t->vh == NULL || t->ups == NULL ||
	    t->mctx == NULL)
		goto nomem;
	pcre2_set_match_limit(t->mctx, RE_MATCH_LIMIT);
	/* an empty conf has NULL arrays: memcpy must not see them */
	if (c->nroutes > 0)
		memcpy(t->conf.routes, c->routes,
		       c->nroutes * sizeof(*c->routes));
	if (c->nups > 0)
		memcpy(t->conf.ups, c->ups, c->nups * sizeof(*c->ups));
	t->conf.nroutes = c->nroutes;
	t->conf.nups = c->nups;

	for (size_t i = 0; i < c->nups; i++) {
		const struct gw_upstream_conf *uc = &t->conf.ups[i];

		if (uc->ninst == 0) {
			lb_errf(err, errlen, 0, "upstream %s: no instance",
				uc->name);
			goto fail;
		}
		t->ups[i] = gw_upstream_new(uc);
		if (t->ups[i] == NULL) {
			e = errno;
			lb_errf(err, errlen, 0, "upstream %s: %s", uc->name,
				strerror(e));
			goto fail;
		}
		t->nups++;
	}
	for (size_t i = 0; i < c->nroutes; i++) {
		struct gw_route *r = &t->routes[i];
		const struct gw_route_conf *rc = &t->conf.routes[i];

		r->conf = rc;
		t->nroutes++;
		if (rc->path_kind == GW_PATH_REGEX &&
		    compile_regex(r, err, errlen) < 0)
			goto fail;
		switch (rc->action) {
		case GW_ACT_NONE:
			lb_errf(err, errlen, 0,
				"route %s: no action (upstream, redirect or "
				"direct)",
				rc->name);
			goto fail;
		case GW_ACT_PROXY:
			r->up = gw_table_upstream_by_name(t, rc->upstream);
			if (r->up == NULL) {
				lb_errf(err, errlen, 0,
					"route %s: upstream: unknown upstream "
					"\"%s\"",
					rc->name, rc->upstream);
				goto fail;
			}
			break;
		case GW_ACT_REDIRECT:
		case GW_ACT_DIRECT:
			break;
		}
		if (rc->has_rewrite && rc->path_kind != GW_PATH_PREFIX) {
			lb_errf(err, errlen, 0,
				"route %s: rewrite_prefix: needs a path_prefix "
				"route",
				rc->name);
			goto fail;
		}
		if (add_vhost(t, i) < 0)
			goto nomem;
	}
	qsort(t->vh, t->nvh, sizeof(*t->vh), vh_cmp);
	for (size_t i = 0; i < t->nvh; i++)
		if (vhost_index(t, &t->vh[i]) < 0)
			goto nomem;
	for (size_t i = 0; i < t->nroutes; i++) {
		struct gw_route *r = &t->routes[i];

		if (r->conf->action == GW_ACT_REDIRECT &&
		    redirect_loops(t, r)) {
			lb_errf(err, errlen, 0,
				"route %s: redirect: location \"%s\" matches "
				"this route again (a redirect loop)",
				r->conf->name, r->conf->location);
			goto fail;
		}
	}
	t->fset = gw_filter_set_build(c, t->routes, t->nroutes, err, errlen);
	if (t->fset == NULL) {
		e = errno;
		goto fail;
	}
	return t;
nomem:
	lb_errf(err, errlen, 0, "out of memory");
	e = ENOMEM;
fail:
	table_free(t);
	errno = e;
	return NULL;
}

/* ---- matching ------------------------------------------------------------ */

static bool
host_match(const struct vhost *v, const char *h, size_t hl)
{
	switch (v->kind) {
	case GW_HOST_EXACT:
		return hl == v->hlen && memcmp(h, v->host, hl) == 0;
	case GW_HOST_SUFFIX:
		return hl > v->hlen &&
		       memcmp(h + hl - v->hlen, v->host, v->hlen) == 0;
	case GW_HOST_PREFIX:
		return hl > v->hlen && memcmp(h, v->host, v->hlen) == 0;
	case GW_HOST_ANY:
		return true;
	}
	return false;
}

static bool
query_has(const char *q, const struct gw_kv *kv)
{
	size_t nl = strlen(kv->name);
	const char *p = q;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '&');

		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) >= nl && memcmp(p, kv->name, nl) == 0 &&
		    (p + nl == end || p[nl] == '=')) {
			const char *v = p + nl == end ? end : p + nl + 1;
			size_t vl = (size_t)(end - v);

			if (!kv->has_value)
				return true;
			if (vl == strlen(kv->value) &&
			    memcmp(v, kv->value, vl) == 0)
				return true;
		}
		p = *end == '&' ? end + 1 : end;
	}
	return false;
}

static bool
header_has(const struct gw_match_in *in, const struct gw_kv *kv)
{
	for (size_t i = 0; i < in->nheaders; i++) {
		if (in->headers[i].name == NULL ||
		    strcasecmp(in->headers[i].name, kv->name) != 0)
			continue;
		if (!kv->has_value ||
		    (in->headers[i].value != NULL &&
		     strcmp(in->headers[i].value, kv->value) == 0))
			return true;
	}
	return false;
}

static bool
route_match(const struct gw_table *t, const struct gw_route *r,
	    const struct gw_match_in *in)
{
	const struct gw_route_conf *c = r->conf;
	const char *path = in->path != NULL ? in->path : "";
	bool ok = false;

	switch (c->path_kind) {
	case GW_PATH_EXACT:
		ok = strcmp(path, c->path) == 0;
		break;
	case GW_PATH_PREFIX:
		ok = strncmp(path, c->path, strlen(c->path)) == 0;
		break;
	case GW_PATH_REGEX: {
		pcre2_match_data *md = gw_re_match_data();

		if (md == NULL)
			return false;
		ok = pcre2_match(r->re, (PCRE2_SPTR)path, strlen(path), 0, 0,
				 md, t->mctx) >= 0;
		break;
	}
	}
	if (!ok)
		return false;
	if (c->nmethods > 0) {
		ok = false;
		for (size_t i = 0; i < c->nmethods && !ok; i++)
			ok = in->method != NULL &&
			     strcmp(in->method, c->methods[i]) == 0;
		if (!ok)
			return false;
	}
	for (size_t i = 0; i < c->nheaders; i++)
		if (!header_has(in, &c->headers[i]))
			return false;
	for (size_t i = 0; i < c->nqueries; i++)
		if (in->query == NULL || !query_has(in->query, &c->queries[i]))
			return false;
	return true;
}

/* A list of candidates: route indexes, ascending. */
struct cand {
	const uint32_t *p, *end;
};

static void
cand_add(struct cand *c, size_t *nc, const struct vhost *v,
	 const struct vkey *k)
{
	if (k->key == NULL || k->n == 0 || *nc >= VH_LISTS + 1)
		return;
	c[*nc].p = &v->idx[k->off];
	c[*nc].end = &v->idx[k->off + k->n];
	(*nc)++;
}

/* The first route of v, in configuration order, that matches in: only
 * the routes whose path key the path has are tried (see the top). */
static struct gw_route *
vhost_match(const struct gw_table *t, const struct vhost *v,
	    const struct gw_match_in *in)
{
	struct cand c[VH_LISTS + 1];
	const char *path = in->path != NULL ? in->path : "";
	size_t nc = 0, len = 0, li = 0;
	uint32_t h = FNV_OFF;

	/* the prefix keys of each indexed length, hashed as the walk goes */
	for (;;) {
		while (li < v->nlens && v->lens[li] < len)
			li++;
		if (li < v->nlens && v->lens[li] == len)
			cand_add(c, &nc, v, vkey_find(v, path, len, h, false));
		if (path[len] == '\0' || li == v->nlens)
			break;
		h = fnv_step(h, (unsigned char)path[len]);
		len++;
	}
	while (path[len] != '\0') {
		h = fnv_step(h, (unsigned char)path[len]);
		len++;
	}
	if (len < GW_PATH_MAX)
		cand_add(c, &nc, v, vkey_find(v, path, len, h, true));

	for (;;) {
		struct gw_route *r;
		size_t best = nc;

		for (size_t i = 0; i < nc; i++)
			if (c[i].p < c[i].end &&
			    (best == nc || *c[i].p < *c[best].p))
				best = i;
		if (best == nc)
			return NULL;
		r = &t->routes[*c[best].p++];
		if (route_match(t, r, in))
			return r;
	}
}

struct gw_route *
gw_table_match(const struct gw_table *t, const struct gw_match_in *in)
{
	char host[GW_HOST_MAX];
	const char *h = in->host != NULL ? in->host : "";
	size_t hl = 0;

	/* lower case, port removed; a longer host matches no name */
	if (h[0] == '[') {
		const char *e = strchr(h, ']');

		hl = e != NULL ? (size_t)(e - h) + 1 : strlen(h);
	} else {
		hl = strcspn(h, ":");
	}
	if (hl >= sizeof(host))
		hl = 0;
	for (size_t i = 0; i < hl; i++)
		host[i] = (char)tolower((unsigned char)h[i]);
	host[hl] = '\0';

	for (size_t i = 0; i < t->nvh; i++) {
		const struct vhost *v = &t->vh[i];

		if (!host_match(v, host, hl))
			continue;
		return vhost_match(t, v, in);
		/* Envoy: no fall-through to another host */
	}
	return NULL;
}

size_t
gw_table_nroutes(const struct gw_table *t)
{
	return t->nroutes;
}

struct gw_route *
gw_table_route(const struct gw_table *t, size_t i)
{
	return i < t->nroutes ? &t->routes[i] : NULL;
}

size_t
gw_table_nupstreams(const struct gw_table *t)
{
	return t->nups;
}

struct gw_upstream *
gw_table_upstream(const struct gw_table *t, size_t i)
{
	return i < t->nups ? t->ups[i] : NULL;
}

struct gw_upstream *
gw_table_upstream_by_name(const struct gw_table *t, const char *name)
{
	for (size_t i = 0; i < t->nups; i++)
		if (strcmp(t->ups[i]->conf.name, name) == 0)
			return t->ups[i];
	return NULL;
}

void
gw_table_get(struct gw_table *t)
{
	__atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
}

void
gw_table_put(struct gw_table *t)
{
	if (t != NULL && __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0)
		table_free(t);
}

/* ---- rewrites ------------------------------------------------------------ */

int
gw_route_rewrite_target(const struct gw_route *r, const char *path,
			const char *query, char *out, size_t outlen)
{
	const struct gw_route_conf *c = r->conf;
	const char *rest = path, *pre = "";
	size_t sl = strlen(c->strip_prefix);
	int n;

	if (c->has_rewrite && strncmp(path, c->path, strlen(c->path)) == 0) {
		pre = c->rewrite_prefix;
		rest = path + strlen(c->path);
	} else if (sl > 0 && strncmp(path, c->strip_prefix, sl) == 0) {
		rest = path + sl;
	}
	/* "/api" stripped from "/api": the root, not an empty target */
	if (pre[0] == '\0' && rest[0] != '/')
		pre = "/";
	/* pre, rest, "?" and the query: concatenated (every request) */
	{
		const char *part[4] = { pre, rest, query != NULL ? "?" : "",
					query != NULL ? query : "" };
		size_t off = 0;

		for (n = 0; n < 4; n++) {
			size_t l = strlen(part[n]);

			if (off + l >= outlen)
				return -ENOSPC;
			memcpy(out + off, part[n], l);
			off += l;
		}
		out[off] = '\0';
	}
	return 0;
}

int
gw_hdr_apply(const struct gw_hdr_rw *rw, size_t nrw,
	     const struct http_header *in, size_t nin, struct http_header *out,
	     size_t max, size_t *nout)
{
	size_t n = 0;

	for (size_t i = 0; i < nin; i++) {
		bool drop = false;

		for (size_t k = 0; k < nrw && !drop; k++)
			drop = rw[k].op != GW_HDR_ADD &&
			       strcasecmp(rw[k].name, in[i].name) == 0;
		if (drop)
			continue;
		if (n >= max)
			return -E2BIG;
		out[n++] = in[i];
	}
	for (size_t k = 0; k < nrw; k++) {
		if (rw[k].op == GW_HDR_REMOVE)
			continue;
		if (n >= max)
			return -E2BIG;
		out[n].name = rw[k].name;
		out[n++].value = rw[k].value;
	}
	*nout = n;
	return 0;
}

/* ---- the router ----------------------------------------------------------- */

struct gw_router *
gw_router_new(void)
{
	struct gw_router *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&r->mu, NULL);
	return r;
}

void
gw_router_free(struct gw_router *r)
{
	if (r == NULL)
		return;
	gw_table_put(r->cur);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void
gw_router_publish(struct gw_router *r, struct gw_table *t)
{
	struct gw_table *old;

	pthread_mutex_lock(&r->mu);
	old = r->cur;
	r->cur = t;
	pthread_mutex_unlock(&r->mu);
	gw_table_put(old); /* freed when its last request ends */
}

struct gw_table *
gw_router_get(struct gw_router *r)
{
	struct gw_table *t;

	pthread_mutex_lock(&r->mu);
	t = r->cur;
	if (t != NULL)
		gw_table_get(t);
	pthread_mutex_unlock(&r->mu);
	return t;
}
