/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The "cache" filter (docs/gateway.md, "Cache"): pre looks the request
 * up and answers a fresh entry (HIT, or 304 to a matching conditional);
 * an expired entry is revalidated with its validators (EXPIRED) and a
 * 304 from the upstream refreshes it and answers from it; post decides
 * whether the answer may be stored and starts a copy of it, body pieces
 * are copied as they stream to the client, and the whole body stores it.
 * fallback serves an expired entry (STALE) within stale_if_error when
 * the upstream fails.
 *
 * Scratch words: [0] the mode and flags, [1] the entry found (a
 * reference), [2] the copy being made, [3] the request's http_msg (alive
 * while the request is: used in post and when the body ends, both
 * before the answer ends).
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_cache_priv.h"
#include "gw_filter_priv.h"
#include "edgelb/util.h"

#define NS_PER_S	   1000000000ull
#define STAT_ADD(field, v) __atomic_add_fetch(&(field), (v), __ATOMIC_RELAXED)

enum mode {
	M_NONE,
	M_BYPASS,
	M_MISS,
	M_EXPIRED,
};

struct cache_filter {
	struct gw_flive live; /* in the live list */
	char name[GW_NAME_MAX];
	struct gw_cache *c;
	struct gw_cache_stats *st;
};

/* An answer being copied while it streams. */
struct capture {
	int status;
	uint64_t now_ns, ttl_ns;
	size_t nh;
	struct http_header h[GW_CACHE_ENTRY_HDRS];
	char *text; /* the headers' strings */
	char *body;
	size_t blen, bcap;
};

static struct gw_flive_list live = GW_FLIVE_LIST_INIT(live);

/* ---- configuration ------------------------------------------------------ */

/* N, Nk, Nm, Ng (1024-based) within lo..hi. */
static int
parse_size(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long x;
	uint64_t mul = 1;

	if (v[0] < '0' || v[0] > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno != 0)
		return -EINVAL;
	if (*end == 'k' || *end == 'K')
		mul = 1024;
	else if (*end == 'm' || *end == 'M')
		mul = 1024 * 1024;
	else if (*end == 'g' || *end == 'G')
		mul = 1024ull * 1024 * 1024;
	if (mul != 1)
		end++;
	if (*end != '\0' || x > hi / mul || x * mul < lo)
		return -EINVAL;
	*out = x * mul;
	return 0;
}

static int
cf_key(struct gw_cache_conf *c, const char *key, const char *v, char *why,
       size_t wl)
{
	if (strcmp(key, "max_bytes") == 0) {
		if (parse_size(v, 16 * 1024, 64ull << 30, &c->max_bytes) == 0)
			return 0;
		snprintf(why, wl, "a size 16k..64g (N, Nk, Nm, Ng)");
		return -EINVAL;
	}
	if (strcmp(key, "max_entry") == 0) {
		if (parse_size(v, 1, 1ull << 30, &c->max_entry) == 0)
			return 0;
		snprintf(why, wl, "a size 1..1g (N, Nk, Nm, Ng)");
		return -EINVAL;
	}
	if (strcmp(key, "default_ttl") == 0 || strcmp(key, "max_ttl") == 0 ||
	    strcmp(key, "stale_if_error") == 0) {
		uint32_t *dst = key[0] == 'd'	? &c->default_ttl_s
				: key[1] == 'a' ? &c->max_ttl_s
						: &c->stale_if_error_s;

		if (gw_fparse_u32(v, 0, 31536000, dst) == 0)
			return 0;
		snprintf(why, wl, "seconds 0..31536000");
		return -EINVAL;
	}
	if (strcmp(key, "key_headers") == 0) {
		char buf[GW_FILTER_VALUE_MAX], *save = NULL, *t;

		snprintf(buf, sizeof(buf), "%s", v);
		c->nkey_hdrs = 0;
		for (t = strtok_r(buf, ", ", &save); t != NULL;
		     t = strtok_r(NULL, ", ", &save)) {
			if (!gw_fis_token(t) || strlen(t) >= 64 ||
			    c->nkey_hdrs >= GW_CACHE_KEY_HDRS) {
				snprintf(why, wl,
					 "at most %d header names of under 64 "
					 "characters",
					 GW_CACHE_KEY_HDRS);
				return -EINVAL;
			}
			snprintf(c->key_hdrs[c->nkey_hdrs++], 64, "%s", t);
		}
		return 0;
	}
	return -ENOENT;
}

static void
conf_defaults(struct gw_cache_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->max_bytes = 64ull << 20;
	c->max_entry = 1u << 20;
	c->max_ttl_s = 86400;
}

static int
cf_check_key(const char *key, const char *value, char *why, size_t wl)
{
	struct gw_cache_conf c;

	conf_defaults(&c);
	return cf_key(&c, key, value, why, wl);
}

static void
cf_destroy(void *inst)
{
	struct cache_filter *f = inst;

	if (f == NULL)
		return;
	gw_flive_del(&live, &f->live);
	gw_cache_free(f->c);
	free(f);
}

static void *
cf_create(const struct gw_filter_conf *c, char *err, size_t errlen)
{
	struct cache_filter *f = calloc(1, sizeof(*f));
	struct gw_cache_conf cc;
	char why[128];

	if (f == NULL)
		goto nomem;
	conf_defaults(&cc);
	for (size_t i = 0; i < c->nkeys; i++) {
		why[0] = '\0';
		if (cf_key(&cc, c->kv[i].key, c->kv[i].value, why,
			   sizeof(why)) < 0) {
			lb_errf(err, errlen, 0, "filter %s: %s: %s", c->name,
				c->kv[i].key, why);
			free(f);
			errno = EINVAL;
			return NULL;
		}
	}
	snprintf(f->name, sizeof(f->name), "%s", c->name);
	f->c = gw_cache_new(&cc);
	if (f->c == NULL)
		goto nomem;
	f->st = gw_cache_stats_ref(f->c);
	gw_flive_add(&live, &f->live, f);
	return f;
nomem:
	free(f);
	lb_errf(err, errlen, 0, "filter %s: out of memory", c->name);
	errno = ENOMEM;
	return NULL;
}

/* ---- per request ------------------------------------------------------------ */

static bool
conditional_hit(const struct http_msg *m, const struct gw_centry *e)
{
	const char *inm = http_msg_header(m, "If-None-Match");
	const char *ims = http_msg_header(m, "If-Modified-Since");
	int64_t a, b;

	if (inm != NULL) /* If-Modified-Since is ignored then */
		return gw_etag_match(inm, e->etag);
	return ims != NULL && e->last_mod != NULL &&
	       gw_http_date(ims, &a) == 0 &&
	       gw_http_date(e->last_mod, &b) == 0 && b <= a;
}

/* Answer from e (referenced by the caller's scratch): 304 when the
 * request's validators match, else the entry. */
static enum gw_fverdict
answer_entry(struct cache_filter *f, struct gw_freq *fr,
	     const struct http_msg *m, struct gw_centry *e, uint64_t now_ns,
	     const char *label)
{
	bool nm = conditional_hit(m, e);
	uint64_t age =
		now_ns > e->stored_ns ? (now_ns - e->stored_ns) / NS_PER_S : 0;

	if (gw_freq_set_answer(fr, nm ? 304 : e->status, GW_FR_CACHE_HIT, e->h,
			       e->nh, nm ? NULL : e->body,
			       nm ? 0 : e->blen) != GW_FV_ANSWER)
		return GW_FV_PASS;
	if (nm)
		STAT_ADD(f->st->not_modified, 1);
	(void)gw_freq_add_hdr(fr, "X-Cache-Status", "%s", label);
	(void)gw_freq_add_hdr(fr, "Age", "%llu", (unsigned long long)age);
	return GW_FV_ANSWER;
}

/* The request's key, with the consumer an authentication filter before
 * this one found: one consumer's answers are never another's. */
static int
req_key(struct cache_filter *f, struct gw_freq *fr, const struct http_msg *m,
	char *key, size_t cap, size_t *kl)
{
	const char *who = gw_freq_consumer(fr);
	int rc = gw_cache_key(gw_cache_conf(f->c), m, key, cap, kl);
	int k;

	if (rc < 0 || who == NULL)
		return rc;
	k = snprintf(key + *kl, cap - *kl, "\fconsumer:%s\n", who);
	if (k < 0 || (size_t)k >= cap - *kl)
		return -E2BIG;
	*kl += (size_t)k;
	return 0;
}

static bool
req_no_cache(const struct http_msg *m, bool *no_store)
{
	struct gw_cc cc;
	const char *pragma = http_msg_header(m, "Pragma");

	gw_cc_init(&cc);
	for (size_t i = 0; i < m->nheaders; i++)
		if (strcasecmp(m->headers[i].name, "Cache-Control") == 0)
			gw_cc_parse(&cc, m->headers[i].value);
	*no_store = cc.no_store;
	return cc.no_store || cc.no_cache || cc.max_age == 0 ||
	       (pragma != NULL && strcasecmp(pragma, "no-cache") == 0);
}

static enum gw_fverdict
cf_pre(void *inst, void *rstate, struct gw_freq *fr,
       const struct gw_freq_in *in, uint64_t *scratch)
{
	struct cache_filter *f = inst;
	const struct http_msg *m = in->m;
	char key[GW_CACHE_KEY_MAX];
	struct gw_centry *e;
	bool no_store;
	size_t kl;

	(void)rstate;
	scratch[3] = (uintptr_t)m;
	if ((strcmp(m->method, "GET") != 0 && strcmp(m->method, "HEAD") != 0) ||
	    m->chunked || m->content_length > 0 ||
	    http_msg_header(m, "Authorization") != NULL ||
	    req_no_cache(m, &no_store) ||
	    req_key(f, fr, m, key, sizeof(key), &kl) < 0) {
		scratch[0] = M_BYPASS;
		STAT_ADD(f->st->bypass, 1);
		return GW_FV_PASS;
	}
	e = gw_cache_get(f->c, key, kl, m);
	if (e != NULL && gw_centry_fresh(e, in->now_ns)) {
		scratch[1] = (uintptr_t)e; /* released in done */
		if (answer_entry(f, fr, m, e, in->now_ns, "HIT") ==
		    GW_FV_ANSWER) {
			STAT_ADD(f->st->hits, 1);
			return GW_FV_ANSWER;
		}
		scratch[0] = M_BYPASS; /* no memory for the answer */
		STAT_ADD(f->st->bypass, 1);
		return GW_FV_PASS;
	}
	if (e != NULL) {
		scratch[0] = M_EXPIRED;
		scratch[1] = (uintptr_t)e;
		STAT_ADD(f->st->expired, 1);
		/* our validators replace the client's: a 304 then is ours */
		(void)gw_freq_set_req_hdr(fr, "If-None-Match", e->etag);
		(void)gw_freq_set_req_hdr(fr, "If-Modified-Since",
					  e->etag == NULL ? e->last_mod : NULL);
		return GW_FV_PASS;
	}
	scratch[0] = M_MISS;
	STAT_ADD(f->st->misses, 1);
	/* a full answer, so that it can be stored */
	(void)gw_freq_set_req_hdr(fr, "If-None-Match", NULL);
	(void)gw_freq_set_req_hdr(fr, "If-Modified-Since", NULL);
	return GW_FV_PASS;
}

static bool
stale_usable(const struct cache_filter *f, const struct gw_centry *e,
	     uint64_t now_ns)
{
	uint32_t w = gw_cache_conf(f->c)->stale_if_error_s;

	return e != NULL && w > 0 && e->status < 500 &&
	       now_ns < __atomic_load_n(&e->fresh_until_ns, __ATOMIC_RELAXED) +
				(uint64_t)w * NS_PER_S;
}

/* Start a copy of the answer when it may be stored. */
static void
maybe_capture(struct cache_filter *f, struct gw_freq *fr, int status,
	      uint64_t now_ns, uint64_t *scratch)
{
	const struct http_msg *m = (const struct http_msg *)scratch[3];
	const struct gw_cache_conf *conf = gw_cache_conf(f->c);
	const struct http_header *h;
	struct capture *cp;
	struct gw_cc cc;
	uint64_t ttl;
	size_t nh, text = 0;
	char *p;

	if (strcmp(m->method, "GET") != 0)
		return; /* a HEAD's answer has no body to keep */
	h = gw_freq_resp_headers(fr, &nh);
	gw_cc_init(&cc);
	for (size_t i = 0; i < nh; i++) {
		if (strcasecmp(h[i].name, "Cache-Control") == 0)
			gw_cc_parse(&cc, h[i].value);
		else if (strcasecmp(h[i].name, "Set-Cookie") == 0)
			cc.no_store = true; /* never share a cookie */
		else if (strcasecmp(h[i].name, "Vary") == 0 &&
			 strchr(h[i].value, '*') != NULL)
			cc.no_store = true;
		text += strlen(h[i].name) + strlen(h[i].value) + 2;
	}
	if (nh > GW_CACHE_ENTRY_HDRS ||
	    !gw_cache_freshness(conf, status, &cc, &ttl)) {
		STAT_ADD(f->st->uncacheable, 1);
		return;
	}
	cp = calloc(1, sizeof(*cp));
	if (cp == NULL || (cp->text = malloc(text + 1)) == NULL) {
		free(cp);
		return;
	}
	p = cp->text;
	for (size_t i = 0; i < nh; i++) {
		size_t a = strlen(h[i].name) + 1, b = strlen(h[i].value) + 1;

		memcpy(p, h[i].name, a);
		cp->h[i].name = p;
		p += a;
		memcpy(p, h[i].value, b);
		cp->h[i].value = p;
		p += b;
	}
	cp->nh = nh;
	cp->status = status;
	cp->now_ns = now_ns;
	cp->ttl_ns = ttl;
	scratch[2] = (uintptr_t)cp;
}

static void
capture_free(uint64_t *scratch)
{
	struct capture *cp = (struct capture *)scratch[2];

	if (cp == NULL)
		return;
	free(cp->text);
	free(cp->body);
	free(cp);
	scratch[2] = 0;
}

static void
cf_post(void *inst, void *rstate, struct gw_freq *fr, int status,
	uint64_t now_ns, uint64_t *scratch)
{
	struct cache_filter *f = inst;
	struct gw_centry *e = (struct gw_centry *)scratch[1];
	const struct http_msg *m = (const struct http_msg *)scratch[3];

	(void)rstate;
	switch (scratch[0]) {
	case M_BYPASS:
		(void)gw_freq_add_hdr(fr, "X-Cache-Status", "BYPASS");
		return;
	case M_EXPIRED:
		if (status == 304 && e != NULL) {
			const struct http_header *h;
			struct gw_cc cc;
			uint64_t ttl = e->ttl_ns;
			size_t nh;

			/* the 304's freshness, else the entry's own */
			h = gw_freq_resp_headers(fr, &nh);
			gw_cc_init(&cc);
			for (size_t i = 0; i < nh; i++)
				if (strcasecmp(h[i].name, "Cache-Control") == 0)
					gw_cc_parse(&cc, h[i].value);
			if (cc.max_age >= 0 || cc.s_maxage >= 0 || cc.no_cache)
				(void)gw_cache_freshness(gw_cache_conf(f->c),
							 e->status, &cc, &ttl);
			gw_cache_refresh(f->c, e, now_ns, ttl);
			STAT_ADD(f->st->revalidated, 1);
			(void)answer_entry(f, fr, m, e, now_ns, "EXPIRED");
			return;
		}
		/* fall through */
	case M_MISS:
		if (status >= 500 && stale_usable(f, e, now_ns))
			return; /* fallback answers STALE */
		(void)gw_freq_add_hdr(fr, "X-Cache-Status", "%s",
				      scratch[0] == M_MISS ? "MISS"
							   : "EXPIRED");
		maybe_capture(f, fr, status, now_ns, scratch);
		return;
	default:
		return;
	}
}

static void
cf_body(void *inst, void *rstate, struct gw_freq *fr, const char *p, size_t n,
	uint64_t *scratch)
{
	struct cache_filter *f = inst;
	struct capture *cp = (struct capture *)scratch[2];
	const struct gw_cache_conf *conf = gw_cache_conf(f->c);
	char key[GW_CACHE_KEY_MAX];
	size_t kl;
	int rc;

	(void)rstate;
	(void)fr;
	if (cp == NULL)
		return;
	if (p != NULL) {
		if (cp->blen + n > conf->max_entry) {
			STAT_ADD(f->st->too_big, 1);
			capture_free(scratch); /* streamed, not stored */
			return;
		}
		if (cp->blen + n > cp->bcap) {
			size_t nc = cp->bcap != 0 ? cp->bcap : 4096;
			char *nb;

			while (nc < cp->blen + n)
				nc *= 2;
			if (nc > conf->max_entry)
				nc = conf->max_entry;
			nb = realloc(cp->body, nc);
			if (nb == NULL) {
				capture_free(scratch);
				return;
			}
			cp->body = nb;
			cp->bcap = nc;
		}
		memcpy(cp->body + cp->blen, p, n);
		cp->blen += n;
		return;
	}
	/* the whole body came: store it */
	rc = req_key(f, fr, (const struct http_msg *)scratch[3], key,
		     sizeof(key), &kl);
	if (rc == 0) {
		struct gw_cache_put_in in = {
			.key = key,
			.klen = kl,
			.req = (const struct http_msg *)scratch[3],
			.status = cp->status,
			.h = cp->h,
			.nh = cp->nh,
			.body = cp->body,
			.blen = cp->blen,
			.now_ns = cp->now_ns,
			.ttl_ns = cp->ttl_ns,
		};

		rc = gw_cache_insert(f->c, &in);
	}
	if (rc == -EFBIG)
		STAT_ADD(f->st->too_big, 1);
	else if (rc < 0)
		STAT_ADD(f->st->uncacheable, 1);
	capture_free(scratch);
}

static bool
cf_fallback(void *inst, void *rstate, struct gw_freq *fr, int status,
	    uint64_t now_ns, uint64_t *scratch)
{
	struct cache_filter *f = inst;
	struct gw_centry *e = (struct gw_centry *)scratch[1];

	(void)rstate;
	(void)status;
	if (!stale_usable(f, e, now_ns) ||
	    answer_entry(f, fr, (const struct http_msg *)scratch[3], e, now_ns,
			 "STALE") != GW_FV_ANSWER)
		return false;
	STAT_ADD(f->st->stale, 1);
	capture_free(scratch);
	return true;
}

static void
cf_done(void *inst, void *rstate, const struct gw_fdone *d, bool answered,
	uint64_t *scratch)
{
	(void)inst;
	(void)rstate;
	(void)d;
	(void)answered;
	capture_free(scratch);
	gw_cache_put((struct gw_centry *)scratch[1]);
}

/* The cache's counters for the Prometheus export (gw_metrics.c). */
static size_t
cf_counters(void *inst, struct gw_fcounter *c)
{
	static const struct {
		const char *name, *help;
		size_t off;
		bool gauge;
	} t[] = {
#define C(N, F, G, H) { "cache_" N, H, offsetof(struct gw_cache_stats, F), G }
		C("hits_total", hits, false,
		  "Requests answered from a fresh cache entry (HIT)."),
		C("misses_total", misses, false,
		  "Requests with no cache entry (MISS)."),
		C("expired_total", expired, false,
		  "Requests whose entry was past its freshness (EXPIRED)."),
		C("stale_total", stale, false,
		  "Expired entries served because the upstream failed "
		  "(STALE)."),
		C("bypass_total", bypass, false,
		  "Requests the cache did not look up (BYPASS)."),
		C("revalidated_total", revalidated, false,
		  "Entries the upstream confirmed with a 304."),
		C("not_modified_total", not_modified, false,
		  "304s answered to clients from the cache."),
		C("stores_total", stores, false, "Entries stored."),
		C("evictions_total", evictions, false,
		  "Entries dropped for room (LRU)."),
		C("purged_total", purged, false,
		  "Entries dropped by lbctl api cache purge."),
		C("too_big_total", too_big, false,
		  "Answers not stored: body over max_entry."),
		C("uncacheable_total", uncacheable, false,
		  "Answers not stored: status or Cache-Control."),
		C("bytes", bytes, true, "Bytes held by the cache."),
		C("entries", entries, true, "Entries held by the cache."),
		C("max_bytes", max_bytes, true, "The cache's size bound."),
#undef C
	};
	struct cache_filter *f = inst;
	struct gw_cache_stats st;
	size_t n = 0;

	gw_cache_stats_get(f->c, &st);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		c[n++] = (struct gw_fcounter){
			t[i].name,
			t[i].help,
			NULL,
			NULL,
			t[i].gauge,
			*(const uint64_t *)((const char *)&st + t[i].off),
		};
	return n;
}

const struct gw_filter_ops gw_filter_cache = {
	.type = "cache",
	.check_key = cf_check_key,
	.create = cf_create,
	.destroy = cf_destroy,
	.pre = cf_pre,
	.post = cf_post,
	.done = cf_done,
	.body = cf_body,
	.fallback = cf_fallback,
	.counters = cf_counters,
};

/* ---- lbctl ------------------------------------------------------------------- */

struct purge_arg {
	const char *filter, *prefix;
	uint64_t n;
	size_t ninst;
};

static void
purge_one(void *arg, void *inst)
{
	struct purge_arg *a = arg;
	struct cache_filter *f = inst;

	if (a->filter != NULL && strcmp(a->filter, f->name) != 0)
		return;
	a->n += gw_cache_purge(f->c, a->prefix);
	a->ninst++;
}

uint64_t
gw_cache_purge_all(const char *filter, const char *prefix, size_t *ninst)
{
	struct purge_arg a = { filter, prefix, 0, 0 };

	gw_flive_each(&live, purge_one, &a);
	*ninst = a.ninst;
	return a.n;
}

struct each_arg {
	void (*fn)(void *arg, const char *name,
		   const struct gw_cache_stats *st);
	void *arg;
};

static void
each_one(void *arg, void *inst)
{
	struct each_arg *a = arg;
	struct cache_filter *f = inst;
	struct gw_cache_stats st;

	gw_cache_stats_get(f->c, &st);
	a->fn(a->arg, f->name, &st);
}

void
gw_cache_each(void (*fn)(void *arg, const char *name,
			 const struct gw_cache_stats *st),
	      void *arg)
{
	struct each_arg a = { fn, arg };

	gw_flive_each(&live, each_one, &a);
}
