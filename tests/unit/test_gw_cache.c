/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gw_cache: the cache filter's store and HTTP rules
 * (controlplane/gateway/gw_cache_priv.h), with the clock passed in.
 *
 * cc        a table of Cache-Control values and what each sets.
 * fresh     which answers may be stored and for how long (s-maxage over
 *           max-age, no-cache as 0, no-store/private/status refused, the
 *           default and the cap).
 * valid     If-None-Match lists against an ETag (weak, "*"), HTTP dates.
 * key       host case, HEAD as GET, query, key headers.
 * store     freshness over injected time and a refresh, the size bound
 *           and LRU order inside one shard, an entry held by an answer
 *           outliving its eviction, max_entry, purge by prefix.
 * vary      two variants of one key, Vary: * refused.
 * chain     the filter as the proxy drives it (gw_freq_*), over injected
 *           time: MISS (the client's validator not forwarded) and the
 *           body stored from its pieces, HIT with Age, 304 to a matching
 *           If-None-Match, EXPIRED revalidated with the entry's ETag and
 *           refreshed by a 304, STALE on a 503, the degrade filter's
 *           fallback past the stale window, BYPASS for POST; after an
 *           apikey filter, one consumer's entry is not another's.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gw_cache_priv.h"
#include "gw_filter.h"
#include "gw_route.h"

#define S 1000000000ull

/* ---- helpers -------------------------------------------------------------- */

static void
msg(struct http_msg *m, const char *method, const char *path, const char *query,
    const char *host)
{
	memset(m, 0, sizeof(*m));
	m->method = method;
	m->path = path;
	m->query = query;
	m->content_length = -1;
	if (host != NULL) {
		m->headers[0] = (struct http_header){ "Host", host };
		m->nheaders = 1;
	}
}

static void
add_hdr(struct http_msg *m, const char *n, const char *v)
{
	m->headers[m->nheaders++] = (struct http_header){ n, v };
}

static struct gw_cache_conf
conf(uint64_t max_bytes)
{
	struct gw_cache_conf c;

	memset(&c, 0, sizeof(c));
	c.max_bytes = max_bytes;
	c.max_entry = 1u << 20;
	c.max_ttl_s = 86400;
	return c;
}

static int
put(struct gw_cache *c, const struct http_msg *m, const char *body,
    const struct http_header *h, size_t nh, uint64_t now, uint64_t ttl)
{
	char key[GW_CACHE_KEY_MAX];
	size_t kl;
	struct gw_cache_put_in in;

	ck_assert_int_eq(
		gw_cache_key(gw_cache_conf(c), m, key, sizeof(key), &kl), 0);
	in = (struct gw_cache_put_in){ key,  kl,	   m,	200, h, nh,
				       body, strlen(body), now, ttl };
	return gw_cache_insert(c, &in);
}

static struct gw_centry *
get(struct gw_cache *c, const struct http_msg *m)
{
	char key[GW_CACHE_KEY_MAX];
	size_t kl;

	ck_assert_int_eq(
		gw_cache_key(gw_cache_conf(c), m, key, sizeof(key), &kl), 0);
	return gw_cache_get(c, key, kl, m);
}

/* The body of m's entry ("" none). */
static const char *
body_of(struct gw_cache *c, const struct http_msg *m)
{
	static char buf[1024];
	struct gw_centry *e = get(c, m);

	buf[0] = '\0';
	if (e != NULL) {
		snprintf(buf, sizeof(buf), "%.*s", (int)e->blen, e->body);
		gw_cache_put(e);
	}
	return buf;
}

/* ---- Cache-Control ---------------------------------------------------------- */

START_TEST(cc_table)
{
	static const struct {
		const char *v;
		bool no_store, no_cache, priv, pub, mustr;
		int64_t max_age, s_maxage, sie;
	} t[] = {
		{ "max-age=60", 0, 0, 0, 0, 0, 60, -1, -1 },
		{ "MAX-AGE=60", 0, 0, 0, 0, 0, 60, -1, -1 },
		{ "public, max-age=10, s-maxage=20", 0, 0, 0, 1, 0, 10, 20,
		  -1 },
		{ "no-store", 1, 0, 0, 0, 0, -1, -1, -1 },
		{ "no-cache", 0, 1, 0, 0, 0, -1, -1, -1 },
		{ "no-cache=\"Set-Cookie, X\", max-age=5", 0, 1, 0, 0, 0, 5, -1,
		  -1 },
		{ "private, max-age=60", 0, 0, 1, 0, 0, 60, -1, -1 },
		{ "must-revalidate,max-age=3", 0, 0, 0, 0, 1, 3, -1, -1 },
		{ "max-age=\"7\"", 0, 0, 0, 0, 0, 7, -1, -1 },
		{ "max-age=abc", 0, 0, 0, 0, 0, 0, -1, -1 },
		{ "max-age=-5", 0, 0, 0, 0, 0, 0, -1, -1 },
		{ "max-age=99999999999999", 0, 0, 0, 0, 0, 2147483648LL, -1,
		  -1 },
		{ "max-age = 8 ,  stale-if-error=30", 0, 0, 0, 0, 0, 8, -1,
		  30 },
		{ "", 0, 0, 0, 0, 0, -1, -1, -1 },
		{ ",,, ,", 0, 0, 0, 0, 0, -1, -1, -1 },
		{ "max-agex=4, xmax-age=5", 0, 0, 0, 0, 0, -1, -1, -1 },
		{ "max-age", 0, 0, 0, 0, 0, -1, -1, -1 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct gw_cc cc;

		gw_cc_init(&cc);
		gw_cc_parse(&cc, t[i].v);
		ck_assert_msg(cc.no_store == t[i].no_store &&
				      cc.no_cache == t[i].no_cache &&
				      cc.private_ == t[i].priv &&
				      cc.public_ == t[i].pub &&
				      cc.must_revalidate == t[i].mustr &&
				      cc.max_age == t[i].max_age &&
				      cc.s_maxage == t[i].s_maxage &&
				      cc.stale_if_error == t[i].sie,
			      "\"%s\": max-age %lld s-maxage %lld", t[i].v,
			      (long long)cc.max_age, (long long)cc.s_maxage);
	}
}
END_TEST

START_TEST(freshness)
{
	struct gw_cache_conf c = conf(1 << 20);
	static const struct {
		int status;
		const char *cc;
		uint32_t def;
		bool ok;
		uint64_t ttl_s;
	} t[] = {
		{ 200, "max-age=60", 0, true, 60 },
		{ 200, "max-age=60, s-maxage=5", 0, true, 5 },
		{ 200, "no-cache, max-age=60", 0, true, 0 },
		{ 200, "no-store, max-age=60", 0, false, 0 },
		{ 200, "private, max-age=60", 0, false, 0 },
		{ 200, "", 0, false, 0 },
		{ 200, "", 30, true, 30 },
		{ 200, "max-age=999999", 0, true, 86400 },
		{ 404, "max-age=10", 0, true, 10 },
		{ 301, "max-age=10", 0, true, 10 },
		{ 203, "max-age=10", 0, true, 10 },
		{ 302, "max-age=10", 0, false, 0 },
		{ 500, "max-age=10", 0, false, 0 },
		{ 206, "max-age=10", 0, false, 0 },
		{ 304, "max-age=10", 0, false, 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct gw_cc cc;
		uint64_t ttl = 12345;
		bool ok;

		c.default_ttl_s = t[i].def;
		gw_cc_init(&cc);
		gw_cc_parse(&cc, t[i].cc);
		ok = gw_cache_freshness(&c, t[i].status, &cc, &ttl);
		ck_assert_msg(ok == t[i].ok, "%d \"%s\": %d", t[i].status,
			      t[i].cc, ok);
		if (ok)
			ck_assert_uint_eq(ttl, t[i].ttl_s * S);
	}
}
END_TEST

/* ---- validators ---------------------------------------------------------------- */

START_TEST(validators)
{
	int64_t a, b;

	ck_assert(gw_etag_match("\"v1\"", "\"v1\""));
	ck_assert(gw_etag_match("W/\"v1\"", "\"v1\""));
	ck_assert(gw_etag_match("\"v1\"", "W/\"v1\""));
	ck_assert(gw_etag_match("\"a\", \"b\",\"v1\"", "\"v1\""));
	ck_assert(gw_etag_match("*", "\"v1\""));
	ck_assert(!gw_etag_match("\"v2\"", "\"v1\""));
	ck_assert(!gw_etag_match("\"v1", "\"v1\""));
	ck_assert(!gw_etag_match("\"v1\"", NULL));
	ck_assert(!gw_etag_match("", "\"v1\""));
	ck_assert(!gw_etag_match("\"v10\"", "\"v1\""));

	ck_assert_int_eq(gw_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &a), 0);
	ck_assert_int_eq(a, 784111777);
	ck_assert_int_eq(gw_http_date("Sun, 06 Nov 1994 08:49:38 GMT", &b), 0);
	ck_assert_int_gt(b, a);
	ck_assert_int_eq(gw_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &a),
			 -EINVAL);
	ck_assert_int_eq(gw_http_date("Sun, 06 Nov 1994 08:49:37 GMTx", &a),
			 -EINVAL);
	ck_assert_int_eq(gw_http_date("", &a), -EINVAL);
}
END_TEST

/* ---- keys ------------------------------------------------------------------------ */

START_TEST(keys)
{
	struct gw_cache_conf c = conf(1 << 20);
	struct http_msg m1, m2;
	char k1[512], k2[512];
	size_t l1, l2;

	msg(&m1, "GET", "/a", "x=1", "Example.COM");
	msg(&m2, "HEAD", "/a", "x=1", "example.com");
	ck_assert_int_eq(gw_cache_key(&c, &m1, k1, sizeof(k1), &l1), 0);
	ck_assert_int_eq(gw_cache_key(&c, &m2, k2, sizeof(k2), &l2), 0);
	ck_assert(l1 == l2 && memcmp(k1, k2, l1) == 0);
	msg(&m2, "GET", "/a", "x=2", "example.com");
	ck_assert_int_eq(gw_cache_key(&c, &m2, k2, sizeof(k2), &l2), 0);
	ck_assert(l1 != l2 || memcmp(k1, k2, l1) != 0);
	msg(&m2, "GET", "/a", NULL, "example.com");
	ck_assert_int_eq(gw_cache_key(&c, &m2, k2, sizeof(k2), &l2), 0);
	ck_assert(l1 != l2 || memcmp(k1, k2, l1) != 0);

	/* a key header tells tenants apart */
	snprintf(c.key_hdrs[0], sizeof(c.key_hdrs[0]), "X-Tenant");
	c.nkey_hdrs = 1;
	msg(&m1, "GET", "/a", NULL, "h");
	add_hdr(&m1, "x-tenant", "a");
	msg(&m2, "GET", "/a", NULL, "h");
	add_hdr(&m2, "X-Tenant", "b");
	ck_assert_int_eq(gw_cache_key(&c, &m1, k1, sizeof(k1), &l1), 0);
	ck_assert_int_eq(gw_cache_key(&c, &m2, k2, sizeof(k2), &l2), 0);
	ck_assert(l1 != l2 || memcmp(k1, k2, l1) != 0);
	ck_assert_int_eq(gw_cache_key(&c, &m2, k2, 8, &l2), -E2BIG);
}
END_TEST

/* ---- the store -------------------------------------------------------------------- */

START_TEST(store_time)
{
	struct gw_cache_conf cf = conf(1 << 20);
	struct gw_cache *c = gw_cache_new(&cf);
	struct http_header h[] = { { "ETag", "\"e1\"" },
				   { "Last-Modified",
				     "Sun, 06 Nov 1994 08:49:37 GMT" } };
	struct http_msg m;
	struct gw_centry *e;

	msg(&m, "GET", "/t", NULL, "h");
	ck_assert_ptr_null(get(c, &m));
	ck_assert_int_eq(put(c, &m, "body", h, 2, 100 * S, 10 * S), 0);
	e = get(c, &m);
	ck_assert_ptr_nonnull(e);
	ck_assert(gw_centry_fresh(e, 109 * S));
	ck_assert(!gw_centry_fresh(e, 110 * S));
	ck_assert_str_eq(e->etag, "\"e1\"");
	ck_assert_str_eq(e->last_mod, "Sun, 06 Nov 1994 08:49:37 GMT");
	/* a 304 at 112 s: fresh again for 10 s */
	gw_cache_refresh(c, e, 112 * S, 10 * S);
	ck_assert(gw_centry_fresh(e, 121 * S));
	ck_assert(!gw_centry_fresh(e, 122 * S));
	gw_cache_put(e);
	/* replaced by a new answer */
	ck_assert_int_eq(put(c, &m, "body2", NULL, 0, 130 * S, 1 * S), 0);
	ck_assert_str_eq(body_of(c, &m), "body2");
	ck_assert_uint_eq(gw_cache_stats_ref(c)->entries, 1);
	gw_cache_free(c);
}
END_TEST

/* n paths of one shard: "/s/N" */
static void
same_shard(const struct gw_cache_conf *cf, char paths[][32], size_t n)
{
	size_t got = 0, want = SIZE_MAX;

	for (int i = 0; got < n && i < 100000; i++) {
		struct http_msg m;
		char key[256];
		size_t kl;

		snprintf(paths[got], 32, "/s/%d", i);
		msg(&m, "GET", paths[got], NULL, "h");
		ck_assert_int_eq(gw_cache_key(cf, &m, key, sizeof(key), &kl),
				 0);
		if (want == SIZE_MAX)
			want = gw_cache_shard_of(key, kl);
		if (gw_cache_shard_of(key, kl) == want)
			got++;
	}
	ck_assert_uint_eq(got, n);
}

START_TEST(lru_and_bound)
{
	/* each shard 1/16 of the bound: room for two 600-byte entries (about 830 bytes each with key and struct), not three */
	struct gw_cache_conf cf = conf(16 * 2000);
	struct gw_cache *c = gw_cache_new(&cf);
	char paths[3][32], big[601];
	struct http_msg a, b, d;
	struct gw_centry *held;

	memset(big, 'x', 600);
	big[600] = '\0';
	same_shard(&cf, paths, 3);
	msg(&a, "GET", paths[0], NULL, "h");
	msg(&b, "GET", paths[1], NULL, "h");
	msg(&d, "GET", paths[2], NULL, "h");
	ck_assert_int_eq(put(c, &a, big, NULL, 0, 0, 60 * S), 0);
	ck_assert_int_eq(put(c, &b, big, NULL, 0, 0, 60 * S), 0);
	/* a used last: b is the least recently used */
	held = get(c, &a);
	ck_assert_ptr_nonnull(held);
	ck_assert_int_eq(put(c, &d, big, NULL, 0, 0, 60 * S), 0);
	ck_assert_ptr_null(get(c, &b));
	ck_assert_str_eq(body_of(c, &a), big);
	ck_assert_str_eq(body_of(c, &d), big);
	ck_assert_uint_eq(gw_cache_stats_ref(c)->evictions, 1);
	/* a evicted while an answer holds it: still whole */
	ck_assert_int_eq(put(c, &b, big, NULL, 0, 0, 60 * S), 0);
	ck_assert_int_eq(put(c, &d, big, NULL, 0, 0, 60 * S), 0);
	ck_assert_ptr_null(get(c, &a));
	ck_assert_uint_eq(held->blen, 600);
	ck_assert_int_eq(memcmp(held->body, big, 600), 0);
	gw_cache_put(held);

	/* many entries over all shards: the bound holds */
	for (int i = 0; i < 2000; i++) {
		struct http_msg m;
		char p[32];

		snprintf(p, sizeof(p), "/many/%d", i);
		msg(&m, "GET", p, NULL, "h");
		ck_assert_int_eq(put(c, &m, big, NULL, 0, 0, 60 * S), 0);
		ck_assert_uint_le(gw_cache_stats_ref(c)->bytes, 16 * 2000);
	}
	ck_assert_uint_gt(gw_cache_stats_ref(c)->evictions, 1900);
	/* over a shard's share or max_entry: refused */
	{
		char *huge = malloc(4000);

		memset(huge, 'y', 3999);
		huge[3999] = '\0';
		ck_assert_int_eq(put(c, &a, huge, NULL, 0, 0, 60 * S), -EFBIG);
		free(huge);
	}
	gw_cache_free(c);

	cf = conf(1 << 20);
	cf.max_entry = 10;
	c = gw_cache_new(&cf);
	ck_assert_int_eq(put(c, &a, "0123456789", NULL, 0, 0, S), 0);
	ck_assert_int_eq(put(c, &b, "0123456789a", NULL, 0, 0, S), -EFBIG);
	gw_cache_free(c);
}
END_TEST

START_TEST(purge)
{
	struct gw_cache_conf cf = conf(1 << 20);
	struct gw_cache *c = gw_cache_new(&cf);
	const char *paths[] = { "/a/1", "/a/2", "/ab", "/b/1" };
	struct http_msg m;

	for (size_t i = 0; i < 4; i++) {
		msg(&m, "GET", paths[i], "q=1", "h");
		ck_assert_int_eq(put(c, &m, paths[i], NULL, 0, 0, 60 * S), 0);
	}
	ck_assert_uint_eq(gw_cache_purge(c, "/a/"), 2);
	msg(&m, "GET", "/a/1", "q=1", "h");
	ck_assert_str_eq(body_of(c, &m), "");
	msg(&m, "GET", "/ab", "q=1", "h");
	ck_assert_str_eq(body_of(c, &m), "/ab");
	ck_assert_uint_eq(gw_cache_purge(c, NULL), 2);
	ck_assert_uint_eq(gw_cache_stats_ref(c)->bytes, 0);
	ck_assert_uint_eq(gw_cache_stats_ref(c)->entries, 0);
	gw_cache_free(c);
}
END_TEST

START_TEST(vary)
{
	struct gw_cache_conf cf = conf(1 << 20);
	struct gw_cache *c = gw_cache_new(&cf);
	struct http_header hv[] = { { "Vary", "Accept-Encoding" } };
	struct http_header hs[] = { { "Vary", "*" } };
	struct http_msg gz, br, none;

	msg(&gz, "GET", "/v", NULL, "h");
	add_hdr(&gz, "Accept-Encoding", "gzip");
	msg(&br, "GET", "/v", NULL, "h");
	add_hdr(&br, "accept-encoding", "br");
	msg(&none, "GET", "/v", NULL, "h");
	ck_assert_int_eq(put(c, &gz, "gzip body", hv, 1, 0, 60 * S), 0);
	ck_assert_str_eq(body_of(c, &gz), "gzip body");
	ck_assert_str_eq(body_of(c, &br), "");
	ck_assert_str_eq(body_of(c, &none), "");
	ck_assert_int_eq(put(c, &br, "br body", hv, 1, 0, 60 * S), 0);
	ck_assert_str_eq(body_of(c, &gz), "gzip body");
	ck_assert_str_eq(body_of(c, &br), "br body");
	ck_assert_int_eq(put(c, &none, "plain", hs, 1, 0, 60 * S), -EINVAL);
	/* purge takes the variants and the spec */
	ck_assert_uint_eq(gw_cache_purge(c, "/v"), 3);
	gw_cache_free(c);
}
END_TEST

/* ---- the filter in a chain ------------------------------------------------------ */

struct answer {
	enum gw_fverdict v;
	int status;
	char body[64];
	char xcs[16]; /* X-Cache-Status */
	char age[16];
};

static void
answer_of(struct gw_freq *f, struct answer *a)
{
	const struct http_header *h;
	const char *b;
	size_t nh, bl;

	a->xcs[0] = a->age[0] = '\0';
	gw_freq_answer(f, &a->status, &h, &nh, &b, &bl);
	snprintf(a->body, sizeof(a->body), "%.*s", (int)bl, b != NULL ? b : "");
	for (size_t i = 0; i < nh; i++) {
		if (strcasecmp(h[i].name, "X-Cache-Status") == 0)
			snprintf(a->xcs, sizeof(a->xcs), "%s", h[i].value);
		if (strcasecmp(h[i].name, "Age") == 0)
			snprintf(a->age, sizeof(a->age), "%s", h[i].value);
	}
}

/* pre at now_s: on an answer, a is filled; f stays for the caller */
static struct gw_freq *
pre(struct gw_route *rt, struct http_msg *m, uint64_t now_s, struct answer *a)
{
	struct gw_freq_in in = { m, NULL, now_s * S, 0 };
	struct gw_freq *f = gw_freq_new(rt);

	ck_assert_ptr_nonnull(f);
	memset(a, 0, sizeof(*a));
	a->v = gw_freq_pre(f, &in);
	if (a->v == GW_FV_ANSWER)
		answer_of(f, a);
	return f;
}

/* The forwarded value of a request header after the chain, or "". */
static const char *
fwd_hdr(struct gw_freq *f, const struct http_msg *m, const char *name)
{
	static struct http_header h[HTTP_MAX_HEADERS];
	size_t n = m->nheaders;

	memcpy(h, m->headers, n * sizeof(h[0]));
	ck_assert_int_eq(gw_freq_req_headers(f, h, &n, HTTP_MAX_HEADERS), 0);
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return h[i].value;
	return "";
}

static void
done(struct gw_freq *f, bool fwd, int status, uint64_t now_s)
{
	struct gw_fdone d = { fwd, status, fwd && status >= 500, now_s * S };

	gw_freq_done(f, &d);
}

static void
key(struct gw_conf *c, const char *sec, const char *name, const char *k,
    const char *v)
{
	char err[256];

	ck_assert_msg(gw_conf_key(c, sec, name, k, v, err, sizeof(err)) == 0,
		      "%s %s %s: %s", sec, name, k, err);
}

START_TEST(chain)
{
	struct gw_conf c;
	struct gw_table *t;
	struct gw_route *rt;
	struct gw_freq *f;
	struct http_msg m;
	struct answer a;
	struct http_header rh[4], cc10 = { "Cache-Control", "max-age=10" },
				  et = { "ETag", "\"e\"" };
	size_t n;
	char err[256];

	gw_conf_init(&c);
	key(&c, "upstream", "u", "instance", "127.0.0.1:1");
	key(&c, "filter", "c", "type", "cache");
	key(&c, "filter", "c", "stale_if_error", "60");
	key(&c, "filter", "d", "type", "degrade");
	key(&c, "filter", "d", "fallback_body", "fb");
	key(&c, "route", "r", "path_prefix", "/");
	key(&c, "route", "r", "upstream", "u");
	key(&c, "route", "r", "filters", "c, d");
	t = gw_table_build(&c, err, sizeof(err));
	ck_assert_msg(t != NULL, "%s", err);
	rt = gw_table_route(t, 0);

	/* t=0: MISS; the client's validator is not forwarded; stored */
	msg(&m, "GET", "/p", NULL, "h");
	add_hdr(&m, "If-None-Match", "\"old\"");
	f = pre(rt, &m, 0, &a);
	ck_assert_int_eq(a.v, GW_FV_PASS);
	ck_assert_str_eq(fwd_hdr(f, &m, "If-None-Match"), "");
	rh[0] = cc10;
	rh[1] = et;
	n = 2;
	ck_assert_int_eq(gw_freq_post(f, 200, 0, rh, &n, 4), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(rh[2].name, "X-Cache-Status");
	ck_assert_str_eq(rh[2].value, "MISS");
	gw_freq_body(f, "hel", 3);
	gw_freq_body(f, "lo", 2);
	gw_freq_body(f, NULL, 0);
	done(f, true, 200, 0);

	/* t=5: HIT, Age 5; a matching If-None-Match: 304 without body */
	msg(&m, "GET", "/p", NULL, "H");
	f = pre(rt, &m, 5, &a);
	ck_assert_int_eq(a.v, GW_FV_ANSWER);
	ck_assert_int_eq(a.status, 200);
	ck_assert_str_eq(a.body, "hello");
	ck_assert_str_eq(a.xcs, "HIT");
	ck_assert_str_eq(a.age, "5");
	done(f, false, 200, 5);
	add_hdr(&m, "If-None-Match", "W/\"e\"");
	f = pre(rt, &m, 5, &a);
	ck_assert_int_eq(a.status, 304);
	ck_assert_str_eq(a.body, "");
	done(f, false, 304, 5);

	/* t=11: EXPIRED; our validator replaces the client's; the 304
	 * refreshes the entry and it answers */
	msg(&m, "GET", "/p", NULL, "h");
	add_hdr(&m, "If-None-Match", "\"x\"");
	f = pre(rt, &m, 11, &a);
	ck_assert_int_eq(a.v, GW_FV_PASS);
	ck_assert_str_eq(fwd_hdr(f, &m, "If-None-Match"), "\"e\"");
	rh[0] = cc10;
	n = 1;
	ck_assert_int_eq(gw_freq_post(f, 304, 11 * S, rh, &n, 4), 1);
	answer_of(f, &a);
	ck_assert_int_eq(a.status, 200);
	ck_assert_str_eq(a.body, "hello");
	ck_assert_str_eq(a.xcs, "EXPIRED");
	done(f, true, 200, 11);
	f = pre(rt, &m, 20, &a);
	ck_assert_str_eq(a.xcs, "HIT");
	done(f, false, 200, 20);

	/* t=22: expired, the upstream's 503: STALE */
	f = pre(rt, &m, 22, &a);
	ck_assert_int_eq(a.v, GW_FV_PASS);
	n = 0;
	ck_assert_int_eq(gw_freq_post(f, 503, 22 * S, rh, &n, 4), 1);
	answer_of(f, &a);
	ck_assert_int_eq(a.status, 200);
	ck_assert_str_eq(a.body, "hello");
	ck_assert_str_eq(a.xcs, "STALE");
	done(f, true, 200, 22);

	/* t=200: past stale_if_error: our 502 gets the degrade fallback */
	f = pre(rt, &m, 200, &a);
	ck_assert_int_eq(a.v, GW_FV_PASS);
	ck_assert(gw_freq_fallback(f, 502, 200 * S));
	answer_of(f, &a);
	ck_assert_int_eq(a.status, 200);
	ck_assert_str_eq(a.body, "fb");
	done(f, true, 200, 200);

	/* POST: BYPASS, not stored */
	msg(&m, "POST", "/q", NULL, "h");
	f = pre(rt, &m, 200, &a);
	ck_assert_int_eq(a.v, GW_FV_PASS);
	rh[0] = cc10;
	n = 1;
	ck_assert_int_eq(gw_freq_post(f, 200, 200 * S, rh, &n, 4), 0);
	ck_assert_str_eq(rh[1].value, "BYPASS");
	done(f, true, 200, 200);

	gw_table_put(t);
	gw_conf_fini(&c);
}
END_TEST

/* After an authentication filter the consumer is part of the key: one
 * consumer's answer never goes to another. */
START_TEST(per_consumer)
{
	char kf[] = "/tmp/gw-cache-keys.XXXXXX", err[256];
	struct gw_conf c;
	struct gw_table *t;
	struct gw_route *rt;
	struct gw_freq *f;
	struct http_msg ma, mb;
	struct answer a;
	struct http_header rh[4] = { { "Cache-Control", "max-age=10" } };
	size_t n = 1;
	FILE *fp;
	int fd = mkstemp(kf);

	ck_assert_int_ge(fd, 0);
	fp = fdopen(fd, "w");
	ck_assert_ptr_nonnull(fp);
	/* sha256 of "ka" and of "kb" */
	fprintf(fp, "alice sha256:%s\nbob sha256:%s\n",
		"3ebb1c99b12b77463e97c3a0f206e4fd46176cd1b8e183816a67338c04b25e"
		"5b",
		"74fec0c33e96ab90ac88666979207a50a6ea7b9b3eea6ec0e8b916d64c0a07"
		"06");
	fclose(fp);
	gw_conf_init(&c);
	key(&c, "upstream", "u", "instance", "127.0.0.1:1");
	key(&c, "filter", "k", "type", "apikey");
	key(&c, "filter", "k", "keys_file", kf);
	key(&c, "filter", "c", "type", "cache");
	key(&c, "route", "r", "path_prefix", "/");
	key(&c, "route", "r", "upstream", "u");
	key(&c, "route", "r", "filters", "k, c");
	t = gw_table_build(&c, err, sizeof(err));
	unlink(kf);
	ck_assert_msg(t != NULL, "%s", err);
	rt = gw_table_route(t, 0);

	msg(&ma, "GET", "/me", NULL, "h");
	add_hdr(&ma, "X-API-Key", "ka");
	msg(&mb, "GET", "/me", NULL, "h");
	add_hdr(&mb, "X-API-Key", "kb");
	f = pre(rt, &ma, 0, &a);
	ck_assert_int_eq(a.v, GW_FV_PASS);
	ck_assert_int_eq(gw_freq_post(f, 200, 0, rh, &n, 4), 0);
	gw_freq_body(f, "alice's", 7);
	gw_freq_body(f, NULL, 0);
	done(f, true, 200, 0);
	f = pre(rt, &ma, 1, &a);
	ck_assert_str_eq(a.xcs, "HIT");
	ck_assert_str_eq(a.body, "alice's");
	done(f, false, 200, 1);
	/* bob: a MISS, not alice's answer */
	f = pre(rt, &mb, 1, &a);
	ck_assert_int_eq(a.v, GW_FV_PASS);
	done(f, false, 0, 1);
	gw_table_put(t);
	gw_conf_fini(&c);
}
END_TEST

/* 100,000 entries: every one found, chains kept short by the buckets
 * growing, a key stored again replaces its entry, purge empties it. */
START_TEST(many_entries)
{
	struct gw_cache_conf cf = conf(1ull << 30);
	struct gw_cache *c = gw_cache_new(&cf);
	static char paths[100000][24];
	struct http_msg m;
	char want[24];

	ck_assert_ptr_nonnull(c);
	for (int i = 0; i < 100000; i++) {
		snprintf(paths[i], sizeof(paths[i]), "/m/%d", i);
		msg(&m, "GET", paths[i], "q=1", "h");
		ck_assert_int_eq(put(c, &m, paths[i], NULL, 0, 0, 60 * S), 0);
	}
	ck_assert_uint_eq(gw_cache_stats_ref(c)->entries, 100000);
	ck_assert_uint_eq(gw_cache_stats_ref(c)->evictions, 0);
	ck_assert_uint_le(gw_cache_longest_chain(c), 16);
	for (int i = 0; i < 100000; i += 7) {
		msg(&m, "GET", paths[i], "q=1", "h");
		snprintf(want, sizeof(want), "/m/%d", i);
		ck_assert_str_eq(body_of(c, &m), want);
	}
	msg(&m, "GET", paths[42], "q=1", "h");
	ck_assert_int_eq(put(c, &m, "again", NULL, 0, 0, 60 * S), 0);
	ck_assert_str_eq(body_of(c, &m), "again");
	ck_assert_uint_eq(gw_cache_stats_ref(c)->entries, 100000);
	msg(&m, "GET", "/m/none", "q=1", "h");
	ck_assert_ptr_null(get(c, &m));
	ck_assert_uint_eq(gw_cache_purge(c, "/m/"), 100000);
	ck_assert_uint_eq(gw_cache_stats_ref(c)->entries, 0);
	msg(&m, "GET", paths[7], "q=1", "h");
	ck_assert_ptr_null(get(c, &m));
	gw_cache_free(c);
}
END_TEST

static Suite *
gw_cache_suite(void)
{
	Suite *s = suite_create("gw_cache");
	TCase *tc = tcase_create("cache");

	tcase_add_test(tc, cc_table);
	tcase_add_test(tc, freshness);
	tcase_add_test(tc, validators);
	tcase_add_test(tc, keys);
	tcase_add_test(tc, store_time);
	tcase_add_test(tc, lru_and_bound);
	tcase_add_test(tc, purge);
	tcase_add_test(tc, vary);
	tcase_add_test(tc, chain);
	tcase_add_test(tc, per_consumer);
	tcase_add_test(tc, many_entries);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(gw_cache_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
