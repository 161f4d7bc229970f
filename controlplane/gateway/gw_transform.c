/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The "transform" filter (docs/gateway.md, "Filters", `transform`):
 * rewrites of a proxied request on its way up and of the upstream's
 * response on its way back.
 *
 * Pre (in the chain's order, so a transform after an auth filter sees
 * its consumer): request headers added, set or removed; the path
 * rewritten (a literal prefix stripped, a prefix replaced, or a PCRE2
 * regex whose match replaces the whole path with $1..$9 from its
 * captures, as nginx's `rewrite`); query parameters added, set or
 * removed. Post: response headers added, set or removed. Each key may
 * come several times; the operations apply in the order written, each
 * path rewrite to the result of the one before.
 *
 * Header and query values may name variables, ${consumer},
 * ${remote_addr}, ${route}, ${host}, ${method} ($$ is a "$"), taken when
 * the request passes the filter. A header whose value comes out empty is
 * not added (a set still removes the client's copies); a query value's
 * variables are percent-encoded.
 *
 * Everything is checked per key line (an error names file:line): header
 * names are tokens, values have no control bytes, variables are known,
 * regexes compile and their replacement uses no capture they lack. At
 * request time a result over GW_TR_TARGET_MAX (path and query) answers
 * 414, a regex that fails (its match limit) 500; both are counted.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_filter_priv.h"
#include "gw_re.h"
#include "edgelb/util.h"

#define STAT_ADD(field, v) __atomic_add_fetch(&(field), (v), __ATOMIC_RELAXED)
#define READ(field)	   __atomic_load_n(&(field), __ATOMIC_RELAXED)

#define GW_TR_TARGET_MAX 8192	/* a rewritten path, and its query */
#define TR_VALUE_MAX	 1024	/* a header value after its variables */
#define TR_MATCH_LIMIT	 100000 /* backtracking steps per match */

enum tr_kind {
	TR_REQ_HDR,
	TR_RESP_HDR,
	TR_PATH_STRIP,
	TR_PATH_PREFIX,
	TR_PATH_REGEX,
	TR_QUERY_ADD,
	TR_QUERY_SET,
	TR_QUERY_REMOVE,
};

/* The keys: their kind and, for headers, the edit. */
static const struct {
	const char *key;
	enum tr_kind kind;
	enum gw_hdr_op op;
} keys[] = {
	{ "request_header_add", TR_REQ_HDR, GW_HDR_ADD },
	{ "request_header_set", TR_REQ_HDR, GW_HDR_SET },
	{ "request_header_remove", TR_REQ_HDR, GW_HDR_REMOVE },
	{ "response_header_add", TR_RESP_HDR, GW_HDR_ADD },
	{ "response_header_set", TR_RESP_HDR, GW_HDR_SET },
	{ "response_header_remove", TR_RESP_HDR, GW_HDR_REMOVE },
	{ "path_strip_prefix", TR_PATH_STRIP, GW_HDR_ADD },
	{ "path_replace_prefix", TR_PATH_PREFIX, GW_HDR_ADD },
	{ "path_regex", TR_PATH_REGEX, GW_HDR_ADD },
	{ "query_add", TR_QUERY_ADD, GW_HDR_ADD },
	{ "query_set", TR_QUERY_SET, GW_HDR_SET },
	{ "query_remove", TR_QUERY_REMOVE, GW_HDR_REMOVE },
};

enum tr_var {
	TR_VAR_CONSUMER,
	TR_VAR_REMOTE_ADDR,
	TR_VAR_ROUTE,
	TR_VAR_HOST,
	TR_VAR_METHOD,
	TR_VAR_MAX,
};

static const char *const var_names[TR_VAR_MAX] = {
	[TR_VAR_CONSUMER] = "consumer", [TR_VAR_REMOTE_ADDR] = "remote_addr",
	[TR_VAR_ROUTE] = "route",	[TR_VAR_HOST] = "host",
	[TR_VAR_METHOD] = "method",
};

struct tr_op {
	enum tr_kind kind;
	enum gw_hdr_op op;
	char name[GW_NAME_MAX]; /* header or query parameter */
	char *a, *b;		/* value template; prefix from/to; regex to */
	pcre2_code *re;
};

struct tr_filter {
	size_t nops;
	struct tr_op *ops;
	pcre2_match_context *mctx;
	bool has_path, has_query;
	struct {
		uint64_t requests, path_rewrites, query_rewrites, errors;
	} st;
};

/* ---- checking ------------------------------------------------------------- */

static bool
is_token_n(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("!#$%&'*+-.^_`|~", s[i]) == NULL)
			return false;
	return true;
}

/* A template's variables: known, braces closed. 0 or -EINVAL (why). */
static int
check_template(const char *v, char *why, size_t wl)
{
	for (const char *p = v; *p != '\0'; p++) {
		const char *e;
		bool known = false;

		if (*p != '$')
			continue;
		if (p[1] == '$') {
			p++;
			continue;
		}
		if (p[1] != '{' || (e = strchr(p + 2, '}')) == NULL) {
			snprintf(why, wl,
				 "a \"$\" starts ${variable} (or $$ for "
				 "\"$\")");
			return -EINVAL;
		}
		for (int i = 0; i < TR_VAR_MAX && !known; i++)
			known = strlen(var_names[i]) == (size_t)(e - p - 2) &&
				memcmp(var_names[i], p + 2,
				       (size_t)(e - p - 2)) == 0;
		if (!known) {
			snprintf(why, wl,
				 "unknown variable \"%.*s\" (consumer, "
				 "remote_addr, route, host, method)",
				 (int)(e - p - 2) > 32 ? 32 : (int)(e - p - 2),
				 p + 2);
			return -EINVAL;
		}
		p = e;
	}
	return 0;
}

/* A path piece of the configuration: starts with "/", no space, "?",
 * "#" or control byte. */
static bool
is_path(const char *s, size_t n)
{
	if (n == 0 || s[0] != '/' || n >= GW_PATH_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f ||
		    s[i] == '?' || s[i] == '#')
			return false;
	return true;
}

static pcre2_code *
re_compile(const char *re, size_t n, char *why, size_t wl)
{
	PCRE2_SIZE off;
	int ec;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, n, 0, &ec, &off, NULL);

	if (code == NULL) {
		PCRE2_UCHAR msg[120];

		pcre2_get_error_message(ec, msg, sizeof(msg));
		snprintf(why, wl, "regex: %s at offset %zu", (char *)msg,
			 (size_t)off);
	}
	return code;
}

/* A replacement: a path whose "$N" name captures re has. */
static int
check_replacement(const char *to, const pcre2_code *re, char *why, size_t wl)
{
	uint32_t ncap = 0;

	(void)pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &ncap);
	if (!is_path(to, strlen(to)) && strncmp(to, "$", 1) != 0) {
		snprintf(why, wl,
			 "the replacement is a path (\"/...\", no space, ? "
			 "or #)");
		return -EINVAL;
	}
	for (const char *p = to; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || *p == '?' || *p == '#') {
			snprintf(why, wl,
				 "the replacement has a space, ? or # (use "
				 "query_add)");
			return -EINVAL;
		}
		if (*p != '$')
			continue;
		if (p[1] == '$') {
			p++;
			continue;
		}
		if (!isdigit((unsigned char)p[1]) ||
		    (uint32_t)(p[1] - '0') > ncap) {
			snprintf(
				why, wl,
				"\"$%c\": the regex has %u capture%s ($0..$%u, "
				"$$ for \"$\")",
				p[1] != '\0' ? p[1] : ' ', ncap,
				ncap == 1 ? "" : "s", ncap > 9 ? 9 : ncap);
			return -EINVAL;
		}
		p++;
	}
	return 0;
}

/*
 * One key into op (NULL: check only). The value forms:
 *   *_header_add/_set = Name: value     *_header_remove = Name
 *   path_strip_prefix = /prefix
 *   path_replace_prefix = /from /to
 *   path_regex = REGEX /replacement
 *   query_add/_set = name=value         query_remove = name
 * 0, -ENOENT (unknown key), -EINVAL (why) or -ENOMEM.
 */
static int
tr_parse(const char *key, const char *v, struct tr_op *op, char *why, size_t wl)
{
	const char *sep, *rest;
	size_t i, nl;
	pcre2_code *re = NULL;
	int rc;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].key, key) == 0)
			break;
	if (i == sizeof(keys) / sizeof(keys[0]))
		return -ENOENT;
	switch (keys[i].kind) {
	case TR_REQ_HDR:
	case TR_RESP_HDR:
	case TR_QUERY_ADD:
	case TR_QUERY_SET:
	case TR_QUERY_REMOVE: {
		bool hdr = keys[i].kind == TR_REQ_HDR ||
			   keys[i].kind == TR_RESP_HDR;
		bool bare = keys[i].op == GW_HDR_REMOVE;

		sep = strchr(v, hdr ? ':' : '=');
		nl = sep != NULL ? (size_t)(sep - v) : strlen(v);
		if (bare != (sep == NULL)) {
			snprintf(why, wl, "%s",
				 bare  ? (hdr ? "a header name alone"
					      : "a parameter name alone")
				 : hdr ? "\"Name: value\""
				       : "\"name=value\"");
			return -EINVAL;
		}
		if (nl >= GW_NAME_MAX || (hdr ? !is_token_n(v, nl) : nl == 0)) {
			snprintf(why, wl, "the name is %s of at most %d bytes",
				 hdr ? "a token" : "not empty",
				 GW_NAME_MAX - 1);
			return -EINVAL;
		}
		for (size_t k = 0; !hdr && k < nl; k++)
			if (v[k] == '&' || v[k] == '#' || v[k] == ' ' ||
			    v[k] == '+' || v[k] == '%') {
				snprintf(
					why, wl,
					"the parameter name has no &, #, +, %% "
					"or space");
				return -EINVAL;
			}
		rest = sep != NULL ? sep + 1 : "";
		while (hdr && (*rest == ' ' || *rest == '\t'))
			rest++;
		for (const char *p = rest; !hdr && *p != '\0'; p++)
			if (*p == '&' || *p == '#' || *p == ' ') {
				snprintf(why, wl,
					 "the value has no &, # or space "
					 "(percent-encode them)");
				return -EINVAL;
			}
		rc = check_template(rest, why, wl);
		if (rc < 0)
			return rc;
		if (op != NULL) {
			memcpy(op->name, v, nl);
			op->name[nl] = '\0';
			op->a = strdup(rest);
			if (op->a == NULL)
				return -ENOMEM;
		}
		break;
	}
	case TR_PATH_STRIP:
		if (!is_path(v, strlen(v))) {
			snprintf(why, wl,
				 "a path prefix (\"/...\", no space, ? or #)");
			return -EINVAL;
		}
		if (op != NULL && (op->a = strdup(v)) == NULL)
			return -ENOMEM;
		break;
	case TR_PATH_PREFIX:
		sep = strchr(v, ' ');
		rest = sep != NULL ? sep + strspn(sep, " ") : NULL;
		if (sep == NULL || !is_path(v, (size_t)(sep - v)) ||
		    !is_path(rest, strlen(rest))) {
			snprintf(
				why, wl,
				"\"/from /to\": two path prefixes (no space, ? "
				"or # in them)");
			return -EINVAL;
		}
		if (op != NULL) {
			op->a = strndup(v, (size_t)(sep - v));
			op->b = strdup(rest);
			if (op->a == NULL || op->b == NULL)
				return -ENOMEM;
		}
		break;
	case TR_PATH_REGEX:
		sep = strrchr(v, ' ');
		if (sep == NULL || sep == v) {
			snprintf(why, wl,
				 "\"REGEX /replacement\" (a space in the "
				 "regex: \\x20)");
			return -EINVAL;
		}
		rest = sep + 1;
		nl = (size_t)(sep - v);
		while (nl > 0 && v[nl - 1] == ' ')
			nl--;
		re = re_compile(v, nl, why, wl);
		if (re == NULL)
			return -EINVAL;
		rc = check_replacement(rest, re, why, wl);
		if (rc < 0 || op == NULL) {
			pcre2_code_free(re);
			return rc;
		}
		(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
		op->re = re;
		op->b = strdup(rest);
		if (op->b == NULL)
			return -ENOMEM;
		break;
	}
	if (op != NULL) {
		op->kind = keys[i].kind;
		op->op = keys[i].op;
	}
	return 0;
}

static int
tr_check_key(const char *key, const char *value, char *why, size_t wl)
{
	return tr_parse(key, value, NULL, why, wl);
}

/* ---- instances ------------------------------------------------------------- */

static void
tr_destroy(void *inst)
{
	struct tr_filter *f = inst;

	if (f == NULL)
		return;
	for (size_t i = 0; i < f->nops; i++) {
		free(f->ops[i].a);
		free(f->ops[i].b);
		pcre2_code_free(f->ops[i].re);
	}
	pcre2_match_context_free(f->mctx);
	free(f->ops);
	free(f);
}

static void *
tr_create(const struct gw_filter_conf *c, char *err, size_t errlen)
{
	struct tr_filter *f = calloc(1, sizeof(*f));
	char why[160];
	int rc;

	if (f == NULL)
		goto nomem;
	f->ops = calloc(c->nkeys + 1, sizeof(*f->ops));
	f->mctx = pcre2_match_context_create(NULL);
	if (f->ops == NULL || f->mctx == NULL)
		goto nomem;
	pcre2_set_match_limit(f->mctx, TR_MATCH_LIMIT);
	for (size_t i = 0; i < c->nkeys; i++) {
		struct tr_op *op = &f->ops[f->nops++];

		why[0] = '\0';
		rc = tr_parse(c->kv[i].key, c->kv[i].value, op, why,
			      sizeof(why));
		if (rc == -ENOMEM)
			goto nomem;
		if (rc < 0) {
			lb_errf(err, errlen, 0, "filter %s: %s: %s", c->name,
				c->kv[i].key, why[0] != '\0' ? why : "bad");
			tr_destroy(f);
			errno = EINVAL;
			return NULL;
		}
		f->has_path |= op->kind == TR_PATH_STRIP ||
			       op->kind == TR_PATH_PREFIX ||
			       op->kind == TR_PATH_REGEX;
		f->has_query |= op->kind == TR_QUERY_ADD ||
				op->kind == TR_QUERY_SET ||
				op->kind == TR_QUERY_REMOVE;
	}
	return f;
nomem:
	lb_errf(err, errlen, 0, "filter %s: out of memory", c->name);
	tr_destroy(f);
	errno = ENOMEM;
	return NULL;
}

/* ---- per request ------------------------------------------------------------ */

/* What the variables stand for in one request. */
struct tr_ctx {
	const char *var[TR_VAR_MAX];
	char addr[INET6_ADDRSTRLEN];
};

static void
ctx_init(struct tr_ctx *x, struct gw_freq *fr, const struct gw_freq_in *in)
{
	const char *cons = gw_freq_consumer(fr);
	const char *host = http_msg_header(in->m, "Host");

	x->addr[0] = '\0';
	if (in->peer != NULL && in->peer->sa_family == AF_INET)
		(void)inet_ntop(
			AF_INET,
			&((const struct sockaddr_in *)in->peer)->sin_addr,
			x->addr, sizeof(x->addr));
	else if (in->peer != NULL && in->peer->sa_family == AF_INET6)
		(void)inet_ntop(
			AF_INET6,
			&((const struct sockaddr_in6 *)in->peer)->sin6_addr,
			x->addr, sizeof(x->addr));
	x->var[TR_VAR_CONSUMER] = cons != NULL ? cons : "";
	x->var[TR_VAR_REMOTE_ADDR] = x->addr;
	x->var[TR_VAR_ROUTE] = gw_freq_route(fr)->conf->name;
	x->var[TR_VAR_HOST] = host != NULL ? host : "";
	x->var[TR_VAR_METHOD] = in->m->method != NULL ? in->m->method : "";
}

/* Append n bytes of s to out (length *o, capacity cap), percent-encoding
 * all but the unreserved characters when pct. 0 or -ENOSPC. */
static int
put(char *out, size_t *o, size_t cap, const char *s, size_t n, bool pct)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!pct || isalnum(ch) || strchr("-._~", ch) != NULL) {
			if (*o + 1 >= cap)
				return -ENOSPC;
			out[(*o)++] = (char)ch;
			continue;
		}
		if (*o + 3 >= cap)
			return -ENOSPC;
		out[(*o)++] = '%';
		out[(*o)++] = hex[ch >> 4];
		out[(*o)++] = hex[ch & 15];
	}
	out[*o] = '\0';
	return 0;
}

/* A template with its variables (checked at configuration) into out.
 * 0 or -ENOSPC. */
static int
expand(const char *t, const struct tr_ctx *x, char *out, size_t *o, size_t cap,
       bool pct)
{
	int rc = 0;

	out[*o] = '\0';
	for (const char *p = t; *p != '\0' && rc == 0; p++) {
		const char *e;

		if (*p != '$') {
			rc = put(out, o, cap, p, 1, false);
			continue;
		}
		if (p[1] == '$') {
			rc = put(out, o, cap, "$", 1, false);
			p++;
			continue;
		}
		e = strchr(p + 2, '}');
		for (int i = 0; i < TR_VAR_MAX; i++)
			if (strlen(var_names[i]) == (size_t)(e - p - 2) &&
			    memcmp(var_names[i], p + 2, (size_t)(e - p - 2)) ==
				    0)
				rc = put(out, o, cap, x->var[i],
					 strlen(x->var[i]), pct);
		p = e;
	}
	return rc;
}

/* One path rewrite of path (in place, at most GW_TR_TARGET_MAX). 1
 * changed, 0 not, -ENOSPC, or -EIO (the regex failed). */
static int
path_op(const struct tr_filter *f, const struct tr_op *op, char *path)
{
	char out[GW_TR_TARGET_MAX];
	size_t o = 0, pl = strlen(path), al;
	int rc = 0;

	switch (op->kind) {
	case TR_PATH_STRIP:
		al = strlen(op->a);
		if (strncmp(path, op->a, al) != 0)
			return 0;
		if (path[al] != '/')
			rc = put(out, &o, sizeof(out), "/", 1, false);
		if (rc == 0)
			rc = put(out, &o, sizeof(out), path + al, pl - al,
				 false);
		break;
	case TR_PATH_PREFIX:
		al = strlen(op->a);
		if (strncmp(path, op->a, al) != 0)
			return 0;
		rc = put(out, &o, sizeof(out), op->b, strlen(op->b), false);
		if (rc == 0)
			rc = put(out, &o, sizeof(out), path + al, pl - al,
				 false);
		break;
	case TR_PATH_REGEX: {
		pcre2_match_data *md = gw_re_match_data();
		PCRE2_SIZE *ov;
		int m;

		if (md == NULL)
			return -EIO;
		m = pcre2_match(op->re, (PCRE2_SPTR)path, pl, 0, 0, md,
				f->mctx);
		if (m == PCRE2_ERROR_NOMATCH)
			return 0;
		if (m < 0)
			return -EIO;
		ov = pcre2_get_ovector_pointer(md);
		for (const char *p = op->b; *p != '\0' && rc == 0; p++) {
			int k;

			if (*p != '$') {
				rc = put(out, &o, sizeof(out), p, 1, false);
				continue;
			}
			p++;
			if (*p == '$') {
				rc = put(out, &o, sizeof(out), "$", 1, false);
				continue;
			}
			k = *p - '0';
			/* a capture that took no part, or past the match's
			 * count, stands for "" */
			if (k < m && k < GW_RE_CAPTURES &&
			    ov[2 * k] != PCRE2_UNSET)
				rc = put(out, &o, sizeof(out), path + ov[2 * k],
					 ov[2 * k + 1] - ov[2 * k], false);
		}
		if (rc == 0 && out[0] != '/') /* "$1" gave no "/" first */
			return -EINVAL;
		break;
	}
	default:
		return 0;
	}
	if (rc < 0)
		return rc;
	memcpy(path, out, o + 1);
	return 1;
}

/* Is the query parameter p[0..n) ("name" or "name=value") named name? */
static bool
param_is(const char *p, size_t n, const char *name)
{
	size_t nl = strlen(name);

	return n >= nl && memcmp(p, name, nl) == 0 && (n == nl || p[nl] == '=');
}

/* The query after the filter's query operations into out. 0 or -ENOSPC. */
static int
query_ops(const struct tr_filter *f, const char *q, const struct tr_ctx *x,
	  char *out, size_t cap)
{
	size_t o = 0;
	int rc = 0;

	out[0] = '\0';
	/* the client's parameters that no remove or set names */
	while (q != NULL && *q != '\0' && rc == 0) {
		const char *e = strchr(q, '&');
		size_t n = e != NULL ? (size_t)(e - q) : strlen(q);
		bool drop = n == 0;

		for (size_t i = 0; i < f->nops && !drop; i++)
			drop = (f->ops[i].kind == TR_QUERY_REMOVE ||
				f->ops[i].kind == TR_QUERY_SET) &&
			       param_is(q, n, f->ops[i].name);
		if (!drop) {
			if (o > 0)
				rc = put(out, &o, cap, "&", 1, false);
			if (rc == 0)
				rc = put(out, &o, cap, q, n, false);
		}
		q = e != NULL ? e + 1 : q + n;
	}
	for (size_t i = 0; i < f->nops && rc == 0; i++) {
		const struct tr_op *op = &f->ops[i];

		if (op->kind != TR_QUERY_ADD && op->kind != TR_QUERY_SET)
			continue;
		if (o > 0)
			rc = put(out, &o, cap, "&", 1, false);
		if (rc == 0)
			rc = put(out, &o, cap, op->name, strlen(op->name),
				 false);
		if (rc == 0)
			rc = put(out, &o, cap, "=", 1, false);
		if (rc == 0)
			rc = expand(op->a, x, out, &o, cap, true);
	}
	return rc;
}

static enum gw_fverdict
tr_pre(void *inst, void *rstate, struct gw_freq *fr,
       const struct gw_freq_in *in, uint64_t *scratch)
{
	struct tr_filter *f = inst;
	struct tr_ctx x;
	char path[GW_TR_TARGET_MAX], query[GW_TR_TARGET_MAX];
	char val[TR_VALUE_MAX];
	const char *q = in->m->query;
	bool changed = false;
	int rc = 0;

	(void)rstate;
	(void)scratch;
	STAT_ADD(f->st.requests, 1);
	ctx_init(&x, fr, in);
	for (size_t i = 0; i < f->nops; i++) {
		const struct tr_op *op = &f->ops[i];
		size_t o = 0;

		if (op->kind != TR_REQ_HDR && op->kind != TR_RESP_HDR)
			continue;
		if (op->op != GW_HDR_REMOVE &&
		    expand(op->a, &x, val, &o, sizeof(val), false) < 0) {
			STAT_ADD(f->st.errors, 1);
			return gw_freq_reject(fr, 500, GW_FR_TRANSFORM,
					      "header value too long");
		}
		/* an empty value adds nothing; a set still removes */
		if (op->op == GW_HDR_ADD && o == 0)
			continue;
		rc = gw_freq_edit_hdr(
			fr, op->kind == TR_RESP_HDR,
			op->op == GW_HDR_SET && o == 0 ? GW_HDR_REMOVE : op->op,
			op->name, val);
		if (rc < 0) {
			STAT_ADD(f->st.errors, 1);
			return gw_freq_reject(fr, 500, GW_FR_TRANSFORM,
					      "too many header edits");
		}
	}
	if (!f->has_path && !f->has_query)
		return GW_FV_PASS;
	if (strlen(in->m->path) >= sizeof(path)) {
		STAT_ADD(f->st.errors, 1);
		return gw_freq_reject(fr, 414, GW_FR_TRANSFORM,
				      "path too long");
	}
	strcpy(path, in->m->path);
	for (size_t i = 0; i < f->nops && rc >= 0; i++) {
		rc = path_op(f, &f->ops[i], path);
		changed |= rc > 0;
	}
	if (rc == -ENOSPC) {
		STAT_ADD(f->st.errors, 1);
		return gw_freq_reject(fr, 414, GW_FR_TRANSFORM,
				      "rewritten path too long");
	}
	if (rc < 0) {
		STAT_ADD(f->st.errors, 1);
		return gw_freq_reject(fr, 500, GW_FR_TRANSFORM,
				      "path rewrite failed");
	}
	if (changed)
		STAT_ADD(f->st.path_rewrites, 1);
	if (f->has_query) {
		if (query_ops(f, q, &x, query, sizeof(query)) < 0 ||
		    strlen(path) + strlen(query) + 2 > GW_TR_TARGET_MAX) {
			STAT_ADD(f->st.errors, 1);
			return gw_freq_reject(fr, 414, GW_FR_TRANSFORM,
					      "rewritten query too long");
		}
		q = query[0] != '\0' ? query : NULL;
		STAT_ADD(f->st.query_rewrites, 1);
		changed = true;
	}
	if (changed && gw_freq_set_target(fr, path, q) < 0) {
		STAT_ADD(f->st.errors, 1);
		return gw_freq_reject(fr, 503, GW_FR_NOMEM, NULL);
	}
	return GW_FV_PASS;
}

static size_t
tr_counters(void *inst, struct gw_fcounter *c)
{
	struct tr_filter *f = inst;

	c[0] = (struct gw_fcounter){
		"transform_requests_total",
		"Requests a transform filter rewrote (or tried to).",
		NULL,
		NULL,
		false,
		READ(f->st.requests),
	};
	c[1] = (struct gw_fcounter){
		"transform_path_rewrites_total",
		"Requests whose path a transform filter changed.",
		NULL,
		NULL,
		false,
		READ(f->st.path_rewrites),
	};
	c[2] = (struct gw_fcounter){
		"transform_query_rewrites_total",
		"Requests whose query a transform filter rewrote.",
		NULL,
		NULL,
		false,
		READ(f->st.query_rewrites),
	};
	c[3] = (struct gw_fcounter){
		"transform_errors_total",
		"Requests a transform filter could not rewrite (414 or 500).",
		NULL,
		NULL,
		false,
		READ(f->st.errors),
	};
	return 4;
}

const struct gw_filter_ops gw_filter_transform = {
	.type = "transform",
	.check_key = tr_check_key,
	.create = tr_create,
	.destroy = tr_destroy,
	.pre = tr_pre,
	.counters = tr_counters,
};
