/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gw_filter: the gateway's filter chain (controlplane/gateway/gw_filter.h)
 * and its filters, driven through the same calls the proxy makes, with
 * the clocks passed in.
 *
 * chain      configuration errors (each naming the filter and key), the
 *            order of pre hooks, an answer skipping the rest, reasons
 *            counted per route and filter, the consumer header stripped
 *            and set, post headers, done after pre only.
 * ratelimit  each algorithm step by step against its definition, the
 *            local limiter's totals under 4 threads, its LRU bound and
 *            idle expiry, the 429's headers.
 * breaker    failure ratio, slow-call ratio, consecutive failures, the
 *            minimum number of calls, half-open probes closing it, a
 *            failed probe re-opening it for twice as long, max_active.
 * jwt        a table of tokens (HS256, RS256, ES256 from PEM files and a
 *            JWKS): valid ones pass with their consumer; expired, not
 *            yet valid, wrong audience, wrong issuer, wrong algorithm,
 *            "none", tampered signature, unknown kid, an RS256 public key
 *            used as an HS256 secret: each refused with its reason.
 * apikey     header and query, unknown and missing keys, a keys file.
 * hmac       a valid signature, a tampered one, the date window, the
 *            body hash, an unknown credential.
 * transform  each key's errors; request headers set/added/removed with
 *            the consumer and client address, the path through strip,
 *            regex captures and prefix replacement, query parameters,
 *            response headers; an empty variable; the size bound (414),
 *            its counters.
 * degrade    the event-loop lag detector on an injected clock; shedding
 *            by lag and priority; a fallback_route serving a shed or
 *            forced request; an unknown fallback_route at build.
 * api        an API version's own [filter] sections: validated whole,
 *            prefixed with the routes that name them, listed for lbctl
 *            api show, an error naming its line.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <cJSON.h>

#include "gw_api_priv.h"
#include "gw_cache.h"
#include "gw_filter_priv.h"

#define S 1000000000ull /* ns per second */

static char dir[64];

/* ---- helpers ----------------------------------------------------------------- */

static void
conf(struct gw_conf *c, const char *sec, const char *name, const char *key,
     const char *fmt, ...)
{
	char v[512], err[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	ck_assert_msg(gw_conf_key(c, sec, name, key, v, err, sizeof(err)) == 0,
		      "%s %s %s=%s: %s", sec, name, key, v, err);
}

static int
conf_err(struct gw_conf *c, const char *sec, const char *name, const char *key,
	 const char *v, char *err, size_t errlen)
{
	return gw_conf_key(c, sec, name, key, v, err, errlen);
}

static struct gw_route *
route_named(struct gw_table *t, const char *name)
{
	for (size_t i = 0; i < gw_table_nroutes(t); i++)
		if (strcmp(gw_table_route(t, i)->conf->name, name) == 0)
			return gw_table_route(t, i);
	ck_abort_msg("no route %s", name);
	return NULL;
}

struct reqmsg {
	struct http_msg m;
	struct sockaddr_in peer;
};

static void
msg_init(struct reqmsg *r, const char *method, const char *path,
	 const char *query)
{
	memset(r, 0, sizeof(*r));
	r->m.method = method;
	r->m.path = path;
	r->m.query = query;
	r->m.target = path;
	r->m.content_length = -1;
	r->peer.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.7", &r->peer.sin_addr);
}

static void
msg_hdr(struct reqmsg *r, const char *name, const char *value)
{
	ck_assert_uint_lt(r->m.nheaders, HTTP_MAX_HEADERS);
	r->m.headers[r->m.nheaders].name = name;
	r->m.headers[r->m.nheaders].value = value;
	r->m.nheaders++;
}

/* Run a route's pre chain with the loop lagging by lag_ms: the verdict;
 * status and reason on an answer. */
static enum gw_fverdict
run_pre_lag(struct gw_route *rt, struct reqmsg *r, uint64_t now_ns,
	    int64_t wall, uint64_t lag_ms, struct gw_freq **out, int *status,
	    char *body, size_t cap)
{
	struct gw_freq_in in = { &r->m, (struct sockaddr *)&r->peer, now_ns,
				 wall };
	struct gw_freq *f = gw_freq_new(rt);
	enum gw_fverdict v;

	ck_assert_ptr_nonnull(f);
	in.loop_lag_ns = lag_ms * 1000000;
	v = gw_freq_pre(f, &in);
	if (v == GW_FV_ANSWER) {
		const struct http_header *h;
		const char *b;
		size_t nh, bl;

		gw_freq_answer(f, status, &h, &nh, &b, &bl);
		if (body != NULL) {
			snprintf(body, cap, "%.*s", (int)bl, b);
		}
	}
	*out = f;
	return v;
}

static enum gw_fverdict
run_pre(struct gw_route *rt, struct reqmsg *r, uint64_t now_ns, int64_t wall,
	struct gw_freq **out, int *status, char *body, size_t cap)
{
	return run_pre_lag(rt, r, now_ns, wall, 0, out, status, body, cap);
}

/* hex of sha256("k-alice"): alice's key as a keys line stores it */
static void
alice_hex(char hex[65])
{
	uint8_t h[32];

	SHA256((const unsigned char *)"k-alice", 7, h);
	gw_hex(h, 32, hex);
}

/* The table of c, which is then freed. */
static struct gw_table *
build_table(struct gw_conf *c)
{
	char err[256];
	struct gw_table *t = gw_table_build(c, err, sizeof(err));

	ck_assert_msg(t != NULL, "%s", err);
	gw_conf_fini(c);
	return t;
}

/* Upstream u and the apikey filter "keys" that knows alice. */
static void
conf_alice(struct gw_conf *c)
{
	char hex[65];

	alice_hex(hex);
	conf(c, "upstream", "u", "instance", "127.0.0.1:9");
	conf(c, "filter", "keys", "type", "apikey");
	conf(c, "filter", "keys", "key", "alice sha256:%s", hex);
}

static void
end_req(struct gw_freq *f, bool fwd, int status, uint64_t now_ns)
{
	struct gw_fdone d = { fwd, status, fwd && status >= 500, now_ns };

	gw_freq_done(f, &d);
}

static const char *
ans_hdr(struct gw_freq *f, const char *name)
{
	const struct http_header *h;
	const char *b;
	size_t nh, bl;
	int st;

	gw_freq_answer(f, &st, &h, &nh, &b, &bl);
	for (size_t i = 0; i < nh; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return h[i].value;
	return NULL;
}

static void
write_file(const char *name, const void *data, size_t n)
{
	char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

static void
mkdir_tmp(void)
{
	if (dir[0] != '\0')
		return;
	snprintf(dir, sizeof(dir), "/tmp/test_gw_filter.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
rm_tmp(void)
{
	char cmd[128];

	if (dir[0] == '\0' || getenv("KEEP") != NULL)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	dir[0] = '\0';
}

/* ---- chain ------------------------------------------------------------------- */

START_TEST(conf_errors)
{
	struct gw_conf c;
	char err[256];
	struct gw_table *t;

	gw_conf_init(&c);
	ck_assert_int_eq(
		conf_err(&c, "filter", "a", "rate", "1/s", err, sizeof(err)),
		-EINVAL);
	ck_assert_msg(strstr(err, "filter a: rate: `type` must come first") !=
			      NULL,
		      "%s", err);
	ck_assert_int_eq(
		conf_err(&c, "filter", "a", "type", "nope", err, sizeof(err)),
		-EINVAL);
	ck_assert_msg(strstr(err, "unknown type \"nope\"") != NULL, "%s", err);
	conf(&c, "filter", "rl", "type", "ratelimit");
	ck_assert_int_eq(
		conf_err(&c, "filter", "rl", "rate", "5/y", err, sizeof(err)),
		-EINVAL);
	ck_assert_msg(strstr(err, "filter rl: rate: LIMIT/PERIOD") != NULL,
		      "%s", err);
	ck_assert_int_eq(
		conf_err(&c, "filter", "rl", "colour", "red", err, sizeof(err)),
		-EINVAL);
	ck_assert_msg(
		strstr(err, "unknown key \"colour\" for type ratelimit") !=
			NULL,
		"%s", err);
	ck_assert_int_eq(conf_err(&c, "filter", "rl", "key", "client,cookie",
				  err, sizeof(err)),
			 -EINVAL);
	/* a route naming a filter that does not exist: at build */
	conf(&c, "filter", "rl", "rate", "5/s");
	conf(&c, "route", "r", "direct", "200 ok");
	conf(&c, "route", "r", "filters", "rl, ghost");
	t = gw_table_build(&c, err, sizeof(err));
	ck_assert_ptr_null(t);
	ck_assert_msg(
		strstr(err, "route r: filters: unknown filter \"ghost\"") !=
			NULL,
		"%s", err);
	/* a breaker needs an upstream */
	conf(&c, "filter", "cb", "type", "breaker");
	conf(&c, "route", "r", "filters", "cb");
	t = gw_table_build(&c, err, sizeof(err));
	ck_assert_ptr_null(t);
	ck_assert_msg(strstr(err, "a breaker needs a route with an upstream") !=
			      NULL,
		      "%s", err);
	gw_conf_fini(&c);
	gw_conf_init(&c);
	conf(&c, "filter", "jw", "type", "jwt");
	ck_assert_int_eq(conf_err(&c, "filter", "jw", "key",
				  "k1 none /etc/passwd", err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "filter jw: key: KID HS256|RS256|ES256") !=
			      NULL,
		      "%s", err);
	conf(&c, "route", "r", "direct", "200 ok");
	/* a jwt key file that is not there: at build, naming the key */
	conf(&c, "filter", "jw", "key", "k1 RS256 /nonexistent/k.pem");
	conf(&c, "route", "r", "filters", "jw");
	t = gw_table_build(&c, err, sizeof(err));
	ck_assert_ptr_null(t);
	ck_assert_msg(strstr(err, "filter jw: key: /nonexistent/k.pem: No such "
				  "file") != NULL,
		      "%s", err);
	gw_conf_fini(&c);
}
END_TEST

START_TEST(chain_order_and_counters)
{
	struct gw_conf c;
	char body[512];
	struct gw_table *t;
	struct gw_route *rt;
	struct gw_freq *f;
	struct reqmsg r;
	struct http_header out[HTTP_MAX_HEADERS];
	size_t n;
	int st = 0;

	gw_conf_init(&c);
	conf_alice(&c);
	conf(&c, "filter", "keys", "consumer_header", "X-Who");
	conf(&c, "filter", "rl", "type", "ratelimit");
	conf(&c, "filter", "rl", "rate", "2/m");
	conf(&c, "filter", "rl", "key", "consumer");
	conf(&c, "route", "r", "upstream", "u");
	conf(&c, "route", "r", "filters", "keys,rl");
	t = build_table(&c);
	rt = route_named(t, "r");
	ck_assert_uint_eq(gw_route_nfilters(rt), 2);
	ck_assert_str_eq(gw_route_filter_name(rt, 0), "keys");
	ck_assert_str_eq(gw_route_filter_type(rt, 1), "ratelimit");

	/* no key: 401 from keys; rl never ran */
	msg_init(&r, "GET", "/x", NULL);
	msg_hdr(&r, "X-Who", "mallory");
	ck_assert_int_eq(
		run_pre(rt, &r, 1 * S, 1000, &f, &st, body, sizeof(body)),
		GW_FV_ANSWER);
	ck_assert_int_eq(st, 401);
	ck_assert_str_eq(body, "{\"error\":\"unauthorized\",\"reason\":\"no "
			       "credentials\",\"route\":\"r\",\"filter\":"
			       "\"keys\"}\n");
	ck_assert_str_eq(ans_hdr(f, "WWW-Authenticate"),
			 "ApiKey header=\"X-API-Key\"");
	ck_assert_str_eq(ans_hdr(f, "Content-Type"), "application/json");
	/* client copies of the consumer header go even when refused */
	memcpy(out, r.m.headers, sizeof(out[0]) * r.m.nheaders);
	n = r.m.nheaders;
	ck_assert_int_eq(gw_freq_req_headers(f, out, &n, HTTP_MAX_HEADERS), 0);
	ck_assert_uint_eq(n, 0);
	end_req(f, false, 401, 1 * S);
	ck_assert_uint_eq(gw_route_filter_stats(rt, 0)->answered, 1);
	ck_assert_uint_eq(
		gw_route_filter_stats(rt, 0)->reasons[GW_FR_NO_CREDENTIALS], 1);
	ck_assert_uint_eq(gw_route_filter_stats(rt, 1)->passed, 0);
	ck_assert_uint_eq(gw_route_filter_stats(rt, 1)->answered, 0);

	/* alice twice: passes, the consumer forwarded in X-Who (the
	 * client's copy replaced), the quota on the answer */
	for (int i = 0; i < 2; i++) {
		msg_init(&r, "GET", "/x", NULL);
		msg_hdr(&r, "X-API-Key", "k-alice");
		msg_hdr(&r, "x-who", "mallory");
		msg_hdr(&r, "Accept", "*/*");
		ck_assert_int_eq(run_pre(rt, &r, 2 * S, 1000, &f, &st, NULL, 0),
				 GW_FV_PASS);
		ck_assert_str_eq(gw_freq_consumer(f), "alice");
		memcpy(out, r.m.headers, sizeof(out[0]) * r.m.nheaders);
		n = r.m.nheaders;
		ck_assert_int_eq(
			gw_freq_req_headers(f, out, &n, HTTP_MAX_HEADERS), 0);
		ck_assert_uint_eq(n, 3);
		ck_assert_str_eq(out[2].name, "X-Who");
		ck_assert_str_eq(out[2].value, "alice");
		ck_assert_str_eq(out[1].name, "Accept");
		n = 0;
		ck_assert_int_eq(
			gw_freq_post(f, 200, 2 * S, out, &n, HTTP_MAX_HEADERS),
			0);
		ck_assert_uint_eq(n, 2);
		ck_assert_str_eq(out[0].name, "RateLimit-Policy");
		ck_assert_str_eq(out[0].value, "\"rl\";q=2;w=60");
		ck_assert_str_eq(out[1].name, "RateLimit");
		ck_assert_str_eq(out[1].value, i == 0 ? "\"rl\";r=1;t=30"
						      : "\"rl\";r=0;t=60");
		end_req(f, true, 200, 2 * S);
	}
	/* the third: 429 by rl, keyed by the consumer */
	msg_init(&r, "GET", "/x", NULL);
	msg_hdr(&r, "X-API-Key", "k-alice");
	ck_assert_int_eq(
		run_pre(rt, &r, 2 * S, 1000, &f, &st, body, sizeof(body)),
		GW_FV_ANSWER);
	ck_assert_int_eq(st, 429);
	ck_assert_str_eq(ans_hdr(f, "Retry-After"), "30");
	ck_assert_str_eq(ans_hdr(f, "RateLimit"), "\"rl\";r=0;t=60");
	ck_assert_msg(strstr(body, "\"filter\":\"rl\"") != NULL, "%s", body);
	end_req(f, false, 429, 2 * S);
	ck_assert_uint_eq(gw_route_filter_stats(rt, 0)->passed, 3);
	ck_assert_uint_eq(gw_route_filter_stats(rt, 1)->passed, 2);
	ck_assert_uint_eq(
		gw_route_filter_stats(rt, 1)->reasons[GW_FR_RATE_LIMITED], 1);
	/* a route without filters: no state, every call a no-op */
	gw_table_put(t);
}
END_TEST

/* ---- rate limiting --------------------------------------------------------------- */

static int
steps(const struct gw_rl_conf *c, struct gw_rl_state *s, uint64_t t_us, int n,
      struct gw_rl_result *last)
{
	int ok = 0;

	for (int i = 0; i < n; i++) {
		gw_rl_step(c, s, t_us, last);
		ok += last->allowed;
	}
	return ok;
}

START_TEST(rl_token_bucket)
{
	/* 10 per second, capacity 5 */
	struct gw_rl_conf c = { GW_RL_TOKEN_BUCKET, 10, 1000000, 5 };
	struct gw_rl_state s = { 0 };
	struct gw_rl_result r;

	ck_assert_int_eq(steps(&c, &s, 1000000, 8, &r), 5); /* the burst */
	ck_assert(!r.allowed);
	ck_assert_uint_eq(r.remaining, 0);
	ck_assert_uint_eq(r.retry_after_s, 1); /* 100 ms, rounded up */
	/* 250 ms later: 2.5 tokens came */
	ck_assert_int_eq(steps(&c, &s, 1250000, 5, &r), 2);
	/* a long pause fills it to the capacity, not more */
	ck_assert_int_eq(steps(&c, &s, 60000000, 10, &r), 5);
	/* steady 10/s: over 10 s at 20 tries per second, 100 pass */
	{
		int ok = 0;

		for (uint64_t t = 60000000 + 50000; t <= 70000000; t += 50000)
			ok += steps(&c, &s, t, 1, &r);
		ck_assert_int_eq(ok, 100);
	}
}
END_TEST

START_TEST(rl_fixed_window)
{
	struct gw_rl_conf c = { GW_RL_FIXED_WINDOW, 3, 10000000, 0 };
	struct gw_rl_state s = { 0 };
	struct gw_rl_result r;

	ck_assert_int_eq(steps(&c, &s, 12000000, 5, &r), 3);
	ck_assert_uint_eq(r.retry_after_s, 8); /* the window ends at 20 s */
	ck_assert_uint_eq(r.reset_s, 8);
	ck_assert_int_eq(steps(&c, &s, 19999999, 1, &r), 0);
	/* the next window: a fresh 3 (the boundary burst of this
	 * algorithm: 6 in 2 µs) */
	ck_assert_int_eq(steps(&c, &s, 20000000, 5, &r), 3);
	ck_assert_uint_eq(r.remaining, 0);
}
END_TEST

START_TEST(rl_sliding_window)
{
	struct gw_rl_conf c = { GW_RL_SLIDING_WINDOW, 10, 10000000, 0 };
	struct gw_rl_state s = { 0 };
	struct gw_rl_result r;

	/* 10 at the end of one window */
	ck_assert_int_eq(steps(&c, &s, 19000000, 12, &r), 10);
	/* at 21 s the previous window still weighs 90 %: 9 of 10 used */
	ck_assert_int_eq(steps(&c, &s, 21000000, 5, &r), 1);
	ck_assert(!r.allowed);
	ck_assert_uint_ge(r.retry_after_s, 1);
	/* at 25 s: 10 * 0.5 + 1 = 6 counted: 4 more */
	ck_assert_int_eq(steps(&c, &s, 25000000, 10, &r), 4);
	/* two windows later the old counts are gone */
	ck_assert_int_eq(steps(&c, &s, 50000000, 20, &r), 10);
}
END_TEST

START_TEST(rl_leaky_bucket)
{
	/* 2 per second, burst 3: limit_req rate=2r/s burst=3 nodelay */
	struct gw_rl_conf c = { GW_RL_LEAKY_BUCKET, 2, 1000000, 3 };
	struct gw_rl_state s = { 0 };
	struct gw_rl_result r;

	/* the first (excess 0), then 3 of burst */
	ck_assert_int_eq(steps(&c, &s, 1000000, 10, &r), 4);
	ck_assert_uint_eq(r.retry_after_s, 1); /* 0.5 s drains one */
	/* 500 ms: one drained */
	ck_assert_int_eq(steps(&c, &s, 1500000, 3, &r), 1);
	/* 10 s idle: empty; the burst again */
	ck_assert_int_eq(steps(&c, &s, 11500000, 10, &r), 4);
	/* steady: one every 500 ms always passes */
	{
		int ok = 0;

		for (int i = 1; i <= 20; i++)
			ok += steps(&c, &s, 20000000 + (uint64_t)i * 500000, 1,
				    &r);
		ck_assert_int_eq(ok, 20);
	}
}
END_TEST

START_TEST(rl_leaky_delay)
{
	/* 10 per second, burst 5, the first excess one without delay,
	 * waits of at most 250 ms: limit_req burst=5 delay=1 */
	struct gw_rl_conf c = { GW_RL_LEAKY_BUCKET, 10, 1000000, 5 };
	struct gw_rl_state s = { 0 };
	struct gw_rl_result r;
	static const int64_t want[] = { 0, 0, 100000, 200000, -1, -1 };

	c.delay = true;
	c.delay_after = 1;
	c.max_delay_us = 250000;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		gw_rl_step(&c, &s, 1000000, &r);
		if (want[i] < 0) {
			/* 300 ms would be past max_delay: refused, 50 ms
			 * until it fits */
			ck_assert_msg(!r.allowed, "request %zu allowed", i);
			ck_assert_uint_eq(r.delay_us, 0);
			ck_assert_uint_eq(r.retry_after_s, 1);
		} else {
			ck_assert_msg(r.allowed, "request %zu refused", i);
			ck_assert_uint_eq(r.delay_us, (uint64_t)want[i]);
		}
	}
	/* 100 ms later one drained: the next waits 200 ms again */
	gw_rl_step(&c, &s, 1100000, &r);
	ck_assert(r.allowed);
	ck_assert_uint_eq(r.delay_us, 200000);
}
END_TEST

struct th_arg {
	void *lim;
	int allowed;
};

static void *
th_main(void *p)
{
	struct th_arg *a = p;
	struct gw_rl_result r;
	char key[32];

	for (int i = 0; i < 20000; i++) {
		/* one hot key shared by all threads and a cold key each */
		if (i % 2 == 0) {
			gw_limiter_local.decide(a->lim, "hot", 3, 5000000, &r);
			a->allowed += r.allowed;
		} else {
			int n = snprintf(key, sizeof(key), "k%d", i);

			gw_limiter_local.decide(a->lim, key, (size_t)n, 5000000,
						&r);
		}
	}
	return NULL;
}

START_TEST(rl_local_threads_and_bound)
{
	struct gw_rl_conf c = { GW_RL_FIXED_WINDOW, 1000, 60000000, 0 };
	void *lim = gw_limiter_local.create(&c, 640, 30000000);
	struct th_arg a[4] = { { lim, 0 }, { lim, 0 }, { lim, 0 }, { lim, 0 } };
	pthread_t th[4];
	struct gw_rl_result r;
	int total = 0;

	ck_assert_ptr_nonnull(lim);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, th_main, &a[i]),
				 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		total += a[i].allowed;
	}
	/* 40000 tries on "hot" in one window: exactly the limit passed */
	ck_assert_int_eq(total, 1000);
	/* 10000 distinct keys were made; at most max_keys kept (64
	 * shards of 10) */
	ck_assert_uint_le(gw_limiter_local.nkeys(lim), 640);
	ck_assert_uint_gt(gw_limiter_local.nkeys(lim), 300);
	gw_limiter_local.destroy(lim);

	/* idle keys go: 100 keys at 5 s; at 40 s (idle 30 s) 2000 new
	 * keys spread over every shard, each call dropping up to two idle
	 * keys at its shard's LRU end: none of the old ones is left */
	lim = gw_limiter_local.create(&c, 100000, 30000000);
	ck_assert_ptr_nonnull(lim);
	for (int i = 0; i < 100; i++) {
		char k[16];
		int n = snprintf(k, sizeof(k), "old%d", i);

		gw_limiter_local.decide(lim, k, (size_t)n, 5000000, &r);
	}
	ck_assert_uint_eq(gw_limiter_local.nkeys(lim), 100);
	for (int i = 0; i < 2000; i++) {
		char k[16];
		int n = snprintf(k, sizeof(k), "new%d", i);

		gw_limiter_local.decide(lim, k, (size_t)n, 40000000, &r);
	}
	ck_assert_uint_eq(gw_limiter_local.nkeys(lim), 2000);
	gw_limiter_local.destroy(lim);

	/* 50000 keys: the shards' buckets grow (256 at the start); every
	 * key is found again after the rehashes (its one request spent) */
	c.limit = 1;
	lim = gw_limiter_local.create(&c, 100000, 30000000);
	ck_assert_ptr_nonnull(lim);
	for (int pass = 0; pass < 2; pass++) {
		int allowed = 0;

		for (int i = 0; i < 50000; i++) {
			char k[16];
			int n = snprintf(k, sizeof(k), "g%d", i);

			gw_limiter_local.decide(lim, k, (size_t)n, 5000000, &r);
			allowed += r.allowed;
		}
		ck_assert_int_eq(allowed, (pass == 0 ? 50000 : 0));
	}
	ck_assert_uint_eq(gw_limiter_local.nkeys(lim), 50000);
	gw_limiter_local.destroy(lim);
}
END_TEST

/* ---- breaker ---------------------------------------------------------------------- */

static struct gw_cb_conf
cb_conf(void)
{
	struct gw_cb_conf c = {
		.failure_pct = 50,
		.slow_pct = 0,
		.slow_ms = 100,
		.window_ms = 10000,
		.min_calls = 10,
		.consecutive = 0,
		.open_ms = 1000,
		.max_open_ms = 4000,
		.half_open_calls = 2,
		.max_active = 0,
	};
	return c;
}

static void
calls(struct gw_breaker *b, int n, bool fail, uint64_t dur_ms, uint64_t t)
{
	uint32_t rm;

	for (int i = 0; i < n; i++) {
		enum gw_cb_admit a = gw_breaker_admit(b, t, &rm);

		ck_assert_int_eq(a, GW_CB_ADMIT);
		gw_breaker_report(b, a, fail, dur_ms, t);
	}
}

START_TEST(cb_failure_ratio_and_probes)
{
	struct gw_cb_conf c = cb_conf();
	struct gw_breaker b;
	enum gw_cb_admit a1, a2;
	uint32_t rm;
	uint64_t t = 100 * S;

	gw_breaker_init(&b, &c);
	/* 4 failures of 9 calls: below min_calls, then under 50 % */
	calls(&b, 5, false, 1, t);
	calls(&b, 4, true, 1, t);
	ck_assert_int_eq(gw_breaker_state(&b, t), GW_CB_CLOSED);
	calls(&b, 1, true, 1, t); /* 5 of 10: opens */
	ck_assert_int_eq(gw_breaker_state(&b, t), GW_CB_OPEN);
	ck_assert_int_eq(gw_breaker_admit(&b, t + S / 2, &rm),
			 GW_CB_REJECT_OPEN);
	ck_assert_uint_eq(rm, 500);
	/* 1 s: half-open, two probes and no third */
	t += S;
	a1 = gw_breaker_admit(&b, t, &rm);
	a2 = gw_breaker_admit(&b, t, &rm);
	ck_assert_int_eq(a1, GW_CB_ADMIT_PROBE);
	ck_assert_int_eq(a2, GW_CB_ADMIT_PROBE);
	ck_assert_int_eq(gw_breaker_admit(&b, t, &rm), GW_CB_REJECT_OPEN);
	/* one probe fails: open again, for 2 s now */
	gw_breaker_report(&b, a1, false, 1, t);
	gw_breaker_report(&b, a2, true, 1, t);
	ck_assert_int_eq(gw_breaker_state(&b, t + S + S / 2), GW_CB_OPEN);
	ck_assert_int_eq(gw_breaker_state(&b, t + 2 * S), GW_CB_HALF_OPEN);
	/* a probe released without a verdict gives its slot back */
	t += 2 * S;
	a1 = gw_breaker_admit(&b, t, &rm);
	gw_breaker_release(&b, a1);
	a1 = gw_breaker_admit(&b, t, &rm);
	a2 = gw_breaker_admit(&b, t, &rm);
	ck_assert_int_eq(a2, GW_CB_ADMIT_PROBE);
	gw_breaker_report(&b, a1, false, 1, t);
	gw_breaker_report(&b, a2, false, 1, t);
	ck_assert_int_eq(gw_breaker_state(&b, t), GW_CB_CLOSED);
	/* closed afresh: the open time is back to 1 s */
	calls(&b, 10, true, 1, t);
	ck_assert_int_eq(gw_breaker_state(&b, t + S - 1), GW_CB_OPEN);
	ck_assert_int_eq(gw_breaker_state(&b, t + S), GW_CB_HALF_OPEN);
	ck_assert_uint_eq(b.st.opened, 3);
	ck_assert_uint_eq(b.st.closed, 1);
	gw_breaker_fini(&b);
}
END_TEST

START_TEST(cb_doubling_capped)
{
	struct gw_cb_conf c = cb_conf();
	struct gw_breaker b;
	uint64_t t = 100 * S, open[5];
	uint32_t rm;

	c.half_open_calls = 1;
	gw_breaker_init(&b, &c);
	calls(&b, 10, true, 1, t);
	open[0] = 1;
	for (int i = 1; i < 5; i++) {
		enum gw_cb_admit a;
		uint64_t d = 0;

		/* find when it half-opens, to the ms */
		while (gw_breaker_state(&b, t + d * 1000000) == GW_CB_OPEN)
			d++;
		open[i - 1] = d;
		t += d * 1000000;
		a = gw_breaker_admit(&b, t, &rm);
		ck_assert_int_eq(a, GW_CB_ADMIT_PROBE);
		gw_breaker_report(&b, a, true, 1, t);
	}
	ck_assert_uint_eq(open[0], 1000);
	ck_assert_uint_eq(open[1], 2000);
	ck_assert_uint_eq(open[2], 4000);
	ck_assert_uint_eq(open[3], 4000); /* max_open_ms */
	gw_breaker_fini(&b);
}
END_TEST

START_TEST(cb_slow_and_consecutive_and_active)
{
	struct gw_cb_conf c = cb_conf();
	struct gw_breaker b;
	enum gw_cb_admit a[3];
	uint32_t rm;
	uint64_t t = 100 * S;

	c.failure_pct = 0;
	c.slow_pct = 60;
	gw_breaker_init(&b, &c);
	calls(&b, 5, false, 99, t);  /* fast */
	calls(&b, 5, false, 100, t); /* slow: 50 % */
	ck_assert_int_eq(gw_breaker_state(&b, t), GW_CB_CLOSED);
	calls(&b, 3, false, 500, t); /* 8 of 13 slow */
	ck_assert_int_eq(gw_breaker_state(&b, t), GW_CB_OPEN);
	gw_breaker_fini(&b);

	/* consecutive: 3 in a row, min_calls does not matter */
	c = cb_conf();
	c.failure_pct = 0;
	c.consecutive = 3;
	gw_breaker_init(&b, &c);
	calls(&b, 2, true, 1, t);
	calls(&b, 1, false, 1, t);
	calls(&b, 2, true, 1, t);
	ck_assert_int_eq(gw_breaker_state(&b, t), GW_CB_CLOSED);
	calls(&b, 1, true, 1, t);
	ck_assert_int_eq(gw_breaker_state(&b, t), GW_CB_OPEN);
	gw_breaker_fini(&b);

	/* old outcomes leave the window: 4 failures, then 11 s later 6
	 * successes and 4 failures are 40 %, not 53 % */
	c = cb_conf();
	gw_breaker_init(&b, &c);
	calls(&b, 4, true, 1, t);
	calls(&b, 6, false, 1, t + 11 * S);
	calls(&b, 4, true, 1, t + 11 * S);
	ck_assert_int_eq(gw_breaker_state(&b, t + 11 * S), GW_CB_CLOSED);
	gw_breaker_fini(&b);

	/* max_active */
	c = cb_conf();
	c.max_active = 2;
	gw_breaker_init(&b, &c);
	a[0] = gw_breaker_admit(&b, t, &rm);
	a[1] = gw_breaker_admit(&b, t, &rm);
	a[2] = gw_breaker_admit(&b, t, &rm);
	ck_assert_int_eq(a[2], GW_CB_REJECT_ACTIVE);
	gw_breaker_release(&b, a[0]);
	ck_assert_int_eq(gw_breaker_admit(&b, t, &rm), GW_CB_ADMIT);
	ck_assert_uint_eq(b.st.rejected_active, 1);
	gw_breaker_fini(&b);
}
END_TEST

/* ---- JWT --------------------------------------------------------------------------- */

static EVP_PKEY *rsa_key, *ec_key, *rsa_other;
static const char hs_secret[] = "0123456789abcdef0123456789abcdef-hs";
static struct gw_table *jt;

static size_t
b64url(const uint8_t *in, size_t n, char *out)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
		"vwxyz0123456789-_";
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = a[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[o++] = a[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	return o;
}

static void
write_pub(const char *name, EVP_PKEY *pk)
{
	char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_PUBKEY(f, pk), 1);
	ck_assert_int_eq(fclose(f), 0);
}

/* A signed token: header and payload JSON given; alg picks the signer
 * ("none": no signature; "HS256-pem": HMAC with the RSA PEM text). */
static void
mktoken(char *out, size_t cap, const char *sign_as, const char *hdr,
	const char *payload)
{
	char in[4096], sig64[700];
	uint8_t sig[600];
	size_t n, sl = sizeof(sig);

	n = b64url((const uint8_t *)hdr, strlen(hdr), in);
	in[n++] = '.';
	n += b64url((const uint8_t *)payload, strlen(payload), in + n);
	ck_assert_uint_lt(n + 10, sizeof(in));
	if (strcmp(sign_as, "none") == 0) {
		ck_assert_int_lt(snprintf(out, cap, "%s.", in), (int)cap);
		return;
	}
	if (strncmp(sign_as, "HS256", 5) == 0) {
		unsigned int ml = sizeof(sig);
		char pem[4096] = "";

		if (strcmp(sign_as, "HS256-pem") == 0) {
			BIO *b = BIO_new(BIO_s_mem());
			int k;

			PEM_write_bio_PUBKEY(b, rsa_key);
			k = BIO_read(b, pem, sizeof(pem) - 1);
			pem[k > 0 ? k : 0] = '\0';
			BIO_free(b);
		}
		ck_assert_ptr_nonnull(
			HMAC(EVP_sha256(), pem[0] != '\0' ? pem : hs_secret,
			     (int)strlen(pem[0] != '\0' ? pem : hs_secret),
			     (unsigned char *)in, n, sig, &ml));
		sl = ml;
	} else {
		EVP_PKEY *pk = strcmp(sign_as, "RS256") == 0	     ? rsa_key
			       : strcmp(sign_as, "RS256-other") == 0 ? rsa_other
								     : ec_key;
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		uint8_t der[600];
		size_t dl = sizeof(der);

		ck_assert_int_eq(
			EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk),
			1);
		ck_assert_int_eq(
			EVP_DigestSign(ctx, der, &dl, (unsigned char *)in, n),
			1);
		EVP_MD_CTX_free(ctx);
		if (pk == ec_key) {
			const uint8_t *p = der;
			ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
			const BIGNUM *r, *s;

			ck_assert_ptr_nonnull(es);
			ECDSA_SIG_get0(es, &r, &s);
			ck_assert_int_eq(BN_bn2binpad(r, sig, 32), 32);
			ck_assert_int_eq(BN_bn2binpad(s, sig + 32, 32), 32);
			ECDSA_SIG_free(es);
			sl = 64;
		} else {
			memcpy(sig, der, dl);
			sl = dl;
		}
	}
	b64url(sig, sl, sig64);
	ck_assert_int_lt(snprintf(out, cap, "%s.%s", in, sig64), (int)cap);
}

static void
jwt_setup(void)
{
	struct gw_conf c;
	char err[256], jwks[2048], n64[400], e64[8], x64[64], y64[64];
	BIGNUM *bn = NULL, *be = NULL, *bx = NULL, *by = NULL;
	uint8_t buf[300];
	int k;

	mkdir_tmp();
	rsa_key = EVP_RSA_gen(2048);
	rsa_other = EVP_RSA_gen(2048);
	ec_key = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(rsa_key);
	ck_assert_ptr_nonnull(rsa_other);
	ck_assert_ptr_nonnull(ec_key);
	write_pub("rs.pem", rsa_key);
	write_pub("ec.pem", ec_key);
	write_file("hs.key", hs_secret, strlen(hs_secret));
	/* a JWKS with the second RSA key (kid j-rs) and the EC key (j-ec) */
	ck_assert_int_eq(EVP_PKEY_get_bn_param(rsa_other, "n", &bn), 1);
	ck_assert_int_eq(EVP_PKEY_get_bn_param(rsa_other, "e", &be), 1);
	k = BN_bn2bin(bn, buf);
	b64url(buf, (size_t)k, n64);
	k = BN_bn2bin(be, buf);
	b64url(buf, (size_t)k, e64);
	ck_assert_int_eq(EVP_PKEY_get_bn_param(ec_key, "qx", &bx), 1);
	ck_assert_int_eq(EVP_PKEY_get_bn_param(ec_key, "qy", &by), 1);
	BN_bn2binpad(bx, buf, 32);
	b64url(buf, 32, x64);
	BN_bn2binpad(by, buf, 32);
	b64url(buf, 32, y64);
	BN_free(bn);
	BN_free(be);
	BN_free(bx);
	BN_free(by);
	k = snprintf(jwks, sizeof(jwks),
		     "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"j-rs\",\"alg\":"
		     "\"RS256\",\"n\":\"%s\",\"e\":\"%s\"},{\"kty\":\"EC\","
		     "\"kid\":\"j-ec\",\"alg\":\"ES256\",\"crv\":\"P-256\","
		     "\"x\":\"%s\",\"y\":\"%s\"}]}",
		     n64, e64, x64, y64);
	write_file("jwks.json", jwks, (size_t)k);

	gw_conf_init(&c);
	conf(&c, "filter", "jw", "type", "jwt");
	conf(&c, "filter", "jw", "key", "k-hs HS256 %s/hs.key svc-hs", dir);
	conf(&c, "filter", "jw", "key", "k-rs RS256 %s/rs.pem", dir);
	conf(&c, "filter", "jw", "key", "k-ec ES256 %s/ec.pem", dir);
	conf(&c, "filter", "jw", "jwks", "%s/jwks.json", dir);
	conf(&c, "filter", "jw", "issuer", "https://idp.example");
	conf(&c, "filter", "jw", "audience", "api");
	conf(&c, "filter", "jw", "clock_skew_s", "30");
	conf(&c, "route", "r", "direct", "200 ok");
	conf(&c, "route", "r", "filters", "jw");
	jt = gw_table_build(&c, err, sizeof(err));
	ck_assert_msg(jt != NULL, "%s", err);
	gw_conf_fini(&c);
}

static void
jwt_teardown(void)
{
	gw_table_put(jt);
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(rsa_other);
	EVP_PKEY_free(ec_key);
	rm_tmp();
}

#define NOW 1700000000
#define GOOD_CLAIMS                                                            \
	"{\"sub\":\"alice\",\"iss\":\"https://idp.example\",\"aud\":\"api\","  \
	"\"exp\":1700000600,\"nbf\":1699999000}"

static const struct jwt_case {
	const char *what;
	const char *sign_as;
	const char *hdr;
	const char *payload;
	int tamper; /* 1: flip a signature byte; 2: change the payload */
	int status; /* 0: pass */
	enum gw_freason why;
	const char *consumer;
} jwt_cases[] = {
	{ "HS256 ok", "HS256", "{\"alg\":\"HS256\",\"kid\":\"k-hs\"}",
	  GOOD_CLAIMS, 0, 0, 0, "svc-hs" },
	{ "RS256 ok", "RS256", "{\"alg\":\"RS256\",\"kid\":\"k-rs\"}",
	  GOOD_CLAIMS, 0, 0, 0, "alice" },
	{ "ES256 ok", "ES256", "{\"alg\":\"ES256\",\"kid\":\"k-ec\"}",
	  GOOD_CLAIMS, 0, 0, 0, "alice" },
	{ "JWKS RS256 ok", "RS256-other",
	  "{\"alg\":\"RS256\",\"kid\":\"j-rs\",\"typ\":\"JWT\"}", GOOD_CLAIMS,
	  0, 0, 0, "alice" },
	{ "JWKS ES256 ok", "ES256", "{\"alg\":\"ES256\",\"kid\":\"j-ec\"}",
	  GOOD_CLAIMS, 0, 0, 0, "alice" },
	{ "aud in an array", "RS256", "{\"alg\":\"RS256\",\"kid\":\"k-rs\"}",
	  "{\"sub\":\"bob\",\"iss\":\"https://idp.example\",\"aud\":[\"x\","
	  "\"api\"],\"exp\":1700000600}",
	  0, 0, 0, "bob" },
	{ "expired past the skew", "RS256",
	  "{\"alg\":\"RS256\",\"kid\":\"k-rs\"}",
	  "{\"sub\":\"a\",\"iss\":\"https://idp.example\",\"aud\":\"api\","
	  "\"exp\":1699999969}",
	  0, 401, GW_FR_EXPIRED, NULL },
	{ "expired within the skew", "RS256",
	  "{\"alg\":\"RS256\",\"kid\":\"k-rs\"}",
	  "{\"sub\":\"a\",\"iss\":\"https://idp.example\",\"aud\":\"api\","
	  "\"exp\":1699999971}",
	  0, 0, 0, "a" },
	{ "not yet valid", "RS256", "{\"alg\":\"RS256\",\"kid\":\"k-rs\"}",
	  "{\"sub\":\"a\",\"iss\":\"https://idp.example\",\"aud\":\"api\","
	  "\"exp\":1700009999,\"nbf\":1700000031}",
	  0, 401, GW_FR_NOT_YET_VALID, NULL },
	{ "wrong audience", "RS256", "{\"alg\":\"RS256\",\"kid\":\"k-rs\"}",
	  "{\"sub\":\"a\",\"iss\":\"https://idp.example\",\"aud\":\"web\","
	  "\"exp\":1700000600}",
	  0, 401, GW_FR_WRONG_AUDIENCE, NULL },
	{ "no audience", "RS256", "{\"alg\":\"RS256\",\"kid\":\"k-rs\"}",
	  "{\"sub\":\"a\",\"iss\":\"https://idp.example\",\"exp\":1700000600}",
	  0, 401, GW_FR_WRONG_AUDIENCE, NULL },
	{ "wrong issuer", "RS256", "{\"alg\":\"RS256\",\"kid\":\"k-rs\"}",
	  "{\"sub\":\"a\",\"iss\":\"https://evil.example\",\"aud\":\"api\","
	  "\"exp\":1700000600}",
	  0, 401, GW_FR_WRONG_ISSUER, NULL },
	{ "no exp", "RS256", "{\"alg\":\"RS256\",\"kid\":\"k-rs\"}",
	  "{\"sub\":\"a\",\"iss\":\"https://idp.example\",\"aud\":\"api\"}", 0,
	  401, GW_FR_MALFORMED, NULL },
	{ "wrong alg (ES256 key, RS256 token)", "RS256",
	  "{\"alg\":\"RS256\",\"kid\":\"k-ec\"}", GOOD_CLAIMS, 0, 401,
	  GW_FR_WRONG_ALG, NULL },
	{ "alg none", "none", "{\"alg\":\"none\",\"kid\":\"k-rs\"}",
	  GOOD_CLAIMS, 0, 401, GW_FR_WRONG_ALG, NULL },
	{ "alg none, no kid", "none", "{\"alg\":\"none\"}", GOOD_CLAIMS, 0, 401,
	  GW_FR_UNKNOWN_KEY, NULL },
	{ "RS256 public key used as HS256 secret", "HS256-pem",
	  "{\"alg\":\"HS256\",\"kid\":\"k-rs\"}", GOOD_CLAIMS, 0, 401,
	  GW_FR_WRONG_ALG, NULL },
	{ "tampered signature RS256", "RS256",
	  "{\"alg\":\"RS256\",\"kid\":\"k-rs\"}", GOOD_CLAIMS, 1, 401,
	  GW_FR_BAD_SIGNATURE, NULL },
	{ "tampered signature HS256", "HS256",
	  "{\"alg\":\"HS256\",\"kid\":\"k-hs\"}", GOOD_CLAIMS, 1, 401,
	  GW_FR_BAD_SIGNATURE, NULL },
	{ "tampered signature ES256", "ES256",
	  "{\"alg\":\"ES256\",\"kid\":\"k-ec\"}", GOOD_CLAIMS, 1, 401,
	  GW_FR_BAD_SIGNATURE, NULL },
	{ "tampered payload", "RS256", "{\"alg\":\"RS256\",\"kid\":\"k-rs\"}",
	  GOOD_CLAIMS, 2, 401, GW_FR_BAD_SIGNATURE, NULL },
	{ "signed by another key", "RS256-other",
	  "{\"alg\":\"RS256\",\"kid\":\"k-rs\"}", GOOD_CLAIMS, 0, 401,
	  GW_FR_BAD_SIGNATURE, NULL },
	{ "unknown kid", "RS256", "{\"alg\":\"RS256\",\"kid\":\"k-zz\"}",
	  GOOD_CLAIMS, 0, 401, GW_FR_UNKNOWN_KEY, NULL },
	{ "crit header", "RS256",
	  "{\"alg\":\"RS256\",\"kid\":\"k-rs\",\"crit\":[\"x\"]}", GOOD_CLAIMS,
	  0, 401, GW_FR_MALFORMED, NULL },
	{ "header not JSON", "RS256", "{\"alg\":", GOOD_CLAIMS, 0, 401,
	  GW_FR_MALFORMED, NULL },
};

START_TEST(jwt_table)
{
	const struct jwt_case *tc = &jwt_cases[_i];
	struct gw_route *rt = route_named(jt, "r");
	char tok[4096], auth[4200], body[512];
	struct gw_freq *f;
	struct reqmsg r;
	int st = 0;
	enum gw_fverdict v;

	mktoken(tok, sizeof(tok), tc->sign_as, tc->hdr, tc->payload);
	if (tc->tamper == 1) {
		char *last = tok + strlen(tok) - 3;

		*last = *last == 'A' ? 'B' : 'A';
	} else if (tc->tamper == 2) {
		char *d = strchr(tok, '.') + 3;

		*d = *d == 'A' ? 'B' : 'A';
	}
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	msg_init(&r, "GET", "/", NULL);
	msg_hdr(&r, "Authorization", auth);
	v = run_pre(rt, &r, 5 * S, NOW, &f, &st, body, sizeof(body));
	if (tc->status == 0) {
		ck_assert_msg(v == GW_FV_PASS, "%s: refused: %s", tc->what,
			      body);
		ck_assert_str_eq(gw_freq_consumer(f), tc->consumer);
	} else {
		char want[128];

		ck_assert_msg(v == GW_FV_ANSWER, "%s: passed", tc->what);
		ck_assert_int_eq(st, tc->status);
		snprintf(want, sizeof(want), "\"reason\":\"%s\"",
			 gw_freason_text(tc->why));
		ck_assert_msg(strstr(body, want) != NULL, "%s: %s, want %s",
			      tc->what, body, want);
		ck_assert_ptr_null(gw_freq_consumer(f));
	}
	end_req(f, false, st, 5 * S);
}
END_TEST

START_TEST(jwt_garbage)
{
	static const char *const bad[] = {
		"",
		"a",
		"a.b",
		"a.b.c.d",
		"..",
		"a..c",
		"!!!.e30.sig",
		"eyJhbGciOiJSUzI1NiJ9.e30.",
		"eyJhbGciOiJSUzI1NiJ9.e30.A",
	};
	struct gw_route *rt = route_named(jt, "r");
	char auth[256];
	struct gw_freq *f;
	struct reqmsg r;
	int st = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(auth, sizeof(auth), "Bearer %s", bad[i]);
		msg_init(&r, "GET", "/", NULL);
		msg_hdr(&r, "Authorization", auth);
		ck_assert_int_eq(run_pre(rt, &r, S, NOW, &f, &st, NULL, 0),
				 GW_FV_ANSWER);
		ck_assert_int_eq(st, 401);
		end_req(f, false, st, S);
	}
	/* no Bearer at all */
	msg_init(&r, "GET", "/", NULL);
	msg_hdr(&r, "Authorization", "Basic YTpi");
	ck_assert_int_eq(run_pre(rt, &r, S, NOW, &f, &st, NULL, 0),
			 GW_FV_ANSWER);
	ck_assert_str_eq(ans_hdr(f, "WWW-Authenticate"), "Bearer");
	end_req(f, false, st, S);
}
END_TEST

/* ---- API keys ------------------------------------------------------------------------ */

START_TEST(apikey)
{
	struct gw_conf c;
	char err[256], hex[65], line[256];
	uint8_t h[32];
	struct gw_table *t;
	struct gw_route *rt;
	struct gw_freq *f;
	struct reqmsg r;
	int st = 0;

	mkdir_tmp();
	SHA256((const unsigned char *)"bob-key", 7, h);
	gw_hex(h, 32, hex);
	snprintf(line, sizeof(line), "# consumers\n\nbob sha256:%s\r\n", hex);
	write_file("keys.txt", line, strlen(line));
	SHA256((const unsigned char *)"carol-key", 9, h);
	gw_hex(h, 32, hex);
	gw_conf_init(&c);
	conf(&c, "filter", "k", "type", "apikey");
	conf(&c, "filter", "k", "keys_file", "%s/keys.txt", dir);
	conf(&c, "filter", "k", "key", "carol %s", hex);
	conf(&c, "filter", "k", "query", "api_key");
	conf(&c, "route", "r", "direct", "200 ok");
	conf(&c, "route", "r", "filters", "k");
	t = build_table(&c);
	rt = route_named(t, "r");

	msg_init(&r, "GET", "/", NULL);
	msg_hdr(&r, "X-API-Key", "bob-key");
	ck_assert_int_eq(run_pre(rt, &r, S, NOW, &f, &st, NULL, 0), GW_FV_PASS);
	ck_assert_str_eq(gw_freq_consumer(f), "bob");
	end_req(f, true, 200, S);
	msg_init(&r, "GET", "/", "a=1&api_key=carol-key&b=2");
	ck_assert_int_eq(run_pre(rt, &r, S, NOW, &f, &st, NULL, 0), GW_FV_PASS);
	ck_assert_str_eq(gw_freq_consumer(f), "carol");
	end_req(f, true, 200, S);
	msg_init(&r, "GET", "/", "xapi_key=carol-key");
	ck_assert_int_eq(run_pre(rt, &r, S, NOW, &f, &st, NULL, 0),
			 GW_FV_ANSWER);
	ck_assert_uint_eq(
		gw_route_filter_stats(rt, 0)->reasons[GW_FR_NO_CREDENTIALS], 1);
	end_req(f, false, st, S);
	msg_init(&r, "GET", "/", NULL);
	msg_hdr(&r, "X-API-Key", "bob-key ");
	ck_assert_int_eq(run_pre(rt, &r, S, NOW, &f, &st, NULL, 0),
			 GW_FV_ANSWER);
	ck_assert_int_eq(st, 401);
	ck_assert_uint_eq(
		gw_route_filter_stats(rt, 0)->reasons[GW_FR_UNKNOWN_KEY], 1);
	end_req(f, false, st, S);
	gw_table_put(t);

	/* a keys file line that is not CONSUMER HASH names its line */
	write_file("bad.txt", "bob\n", 4);
	gw_conf_init(&c);
	conf(&c, "filter", "k", "type", "apikey");
	conf(&c, "filter", "k", "keys_file", "%s/bad.txt", dir);
	conf(&c, "route", "r", "direct", "200 ok");
	conf(&c, "route", "r", "filters", "k");
	ck_assert_ptr_null(gw_table_build(&c, err, sizeof(err)));
	ck_assert_msg(strstr(err, "bad.txt:1: want CONSUMER sha256:HEX") !=
			      NULL,
		      "%s", err);
	gw_conf_fini(&c);
	rm_tmp();
}
END_TEST

/* ---- HMAC signatures ------------------------------------------------------------------ */

static void
hmac_sign(const char *secret, const char *canon, char *hex)
{
	uint8_t mac[32];
	unsigned int ml = sizeof(mac);

	HMAC(EVP_sha256(), secret, (int)strlen(secret),
	     (const unsigned char *)canon, strlen(canon), mac, &ml);
	gw_hex(mac, 32, hex);
}

START_TEST(hmac_sig)
{
	static const char secret[] = "a-long-enough-shared-secret-for-dave";
	static const char empty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e46"
				    "49b934ca495991b7852b855";
	const char *date = "Tue, 14 Nov 2023 22:13:20 GMT"; /* NOW */
	struct gw_conf c;
	char err[256], canon[512], sig[65], auth[256];
	struct gw_table *t;
	struct gw_route *rt;
	struct gw_freq *f;
	struct reqmsg r;
	int st = 0;

	mkdir_tmp();
	write_file("dave.key", secret, strlen(secret));
	write_file("short.key", "short\n", 6);
	gw_conf_init(&c);
	conf(&c, "filter", "h", "type", "hmac");
	conf(&c, "filter", "h", "secret", "dave %s/dave.key", dir);
	conf(&c, "filter", "h", "window_s", "60");
	conf(&c, "route", "r", "direct", "200 ok");
	conf(&c, "route", "r", "filters", "h");
	t = gw_table_build(&c, err, sizeof(err));
	ck_assert_msg(t != NULL, "%s", err);
	rt = route_named(t, "r");

	snprintf(canon, sizeof(canon), "HMAC-SHA256\nGET\n/v1/x\na=1\n%s\n%s",
		 date, empty);
	hmac_sign(secret, canon, sig);
	snprintf(auth, sizeof(auth),
		 "HMAC-SHA256 Credential=dave, Signature=%s", sig);
	msg_init(&r, "GET", "/v1/x", "a=1");
	msg_hdr(&r, "Authorization", auth);
	msg_hdr(&r, "Date", date);
	msg_hdr(&r, "X-Content-SHA256", empty);
	ck_assert_int_eq(run_pre(rt, &r, S, NOW, &f, &st, NULL, 0), GW_FV_PASS);
	ck_assert_str_eq(gw_freq_consumer(f), "dave");
	end_req(f, true, 200, S);
	/* the same 59 s later: in the window; 61 s: out */
	ck_assert_int_eq(run_pre(rt, &r, S, NOW + 59, &f, &st, NULL, 0),
			 GW_FV_PASS);
	end_req(f, true, 200, S);
	ck_assert_int_eq(run_pre(rt, &r, S, NOW + 61, &f, &st, NULL, 0),
			 GW_FV_ANSWER);
	end_req(f, false, st, S);
	ck_assert_uint_eq(
		gw_route_filter_stats(rt, 0)->reasons[GW_FR_DATE_WINDOW], 1);
	/* another query: the signature does not cover it */
	msg_init(&r, "GET", "/v1/x", "a=2");
	msg_hdr(&r, "Authorization", auth);
	msg_hdr(&r, "Date", date);
	msg_hdr(&r, "X-Content-SHA256", empty);
	ck_assert_int_eq(run_pre(rt, &r, S, NOW, &f, &st, NULL, 0),
			 GW_FV_ANSWER);
	end_req(f, false, st, S);
	ck_assert_uint_eq(
		gw_route_filter_stats(rt, 0)->reasons[GW_FR_BAD_SIGNATURE], 1);
	/* a bodiless request must declare the empty body's hash */
	msg_init(&r, "GET", "/v1/x", "a=1");
	msg_hdr(&r, "Authorization", auth);
	msg_hdr(&r, "Date", date);
	msg_hdr(&r, "X-Content-SHA256", "00");
	ck_assert_int_eq(run_pre(rt, &r, S, NOW, &f, &st, NULL, 0),
			 GW_FV_ANSWER);
	end_req(f, false, st, S);
	ck_assert_uint_eq(
		gw_route_filter_stats(rt, 0)->reasons[GW_FR_BODY_HASH], 1);
	/* unknown credential */
	msg_init(&r, "GET", "/v1/x", "a=1");
	msg_hdr(&r, "Authorization",
		"HMAC-SHA256 Credential=eve, Signature=00");
	ck_assert_int_eq(run_pre(rt, &r, S, NOW, &f, &st, NULL, 0),
			 GW_FV_ANSWER);
	end_req(f, false, st, S);
	ck_assert_uint_eq(gw_route_filter_stats(rt, 0)->answered, 4);
	gw_table_put(t);
	/* a secret shorter than 32 bytes is refused at build */
	conf(&c, "filter", "h", "secret", "sam %s/short.key", dir);
	ck_assert_ptr_null(gw_table_build(&c, err, sizeof(err)));
	ck_assert_msg(strstr(err, "a secret of at least 32 bytes") != NULL,
		      "%s", err);
	gw_conf_fini(&c);
	rm_tmp();
}
END_TEST

/* ---- transform ----------------------------------------------------------------- */

static const char *
hdr_of(const struct http_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(h[i].name, name) == 0)
			return h[i].value;
	return NULL;
}

static size_t
hdr_count(const struct http_header *h, size_t n, const char *name)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += strcasecmp(h[i].name, name) == 0;
	return k;
}

START_TEST(transform_conf_errors)
{
	static const struct {
		const char *key, *value, *why;
	} bad[] = {
		{ "request_header_set", "X-U: ${nobody}",
		  "unknown variable \"nobody\"" },
		{ "request_header_set", "X-U: $consumer",
		  "starts ${variable}" },
		{ "request_header_add", "Bad Name: x", "a token" },
		{ "request_header_add", "X-U", "\"Name: value\"" },
		{ "request_header_remove", "X-U: x", "a header name alone" },
		{ "path_regex", "^/a/(x /b",
		  "regex: missing closing parenthesis" },
		{ "path_regex", "^/a/(.*)$ /b/$2",
		  "\"$2\": the regex has 1 capture" },
		{ "path_regex", "^/a/(.*)$", "\"REGEX /replacement\"" },
		{ "path_regex", "^/a/(.*)$ /b?x=$1", "no space, ? or #" },
		{ "path_replace_prefix", "/a", "\"/from /to\"" },
		{ "path_strip_prefix", "api", "a path prefix" },
		{ "query_add", "a=b&c", "no &, # or space" },
		{ "query_add", "a", "\"name=value\"" },
		{ "query_remove", "a=b", "a parameter name alone" },
		{ "colour", "red",
		  "unknown key \"colour\" for type transform" },
	};
	struct gw_conf c;
	char err[256];

	gw_conf_init(&c);
	conf(&c, "filter", "tr", "type", "transform");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(conf_err(&c, "filter", "tr", bad[i].key,
					  bad[i].value, err, sizeof(err)),
				 -EINVAL);
		ck_assert_msg(strstr(err, bad[i].why) != NULL, "%s=%s: %s",
			      bad[i].key, bad[i].value, err);
	}
	gw_conf_fini(&c);
}
END_TEST

/* A filter instance's own counters (gw_filters_each), found by name. */
struct fcount {
	const char *filter;
	size_t n;
	struct gw_fcounter c[GW_FCOUNTERS_MAX];
};

static void
count_of(void *arg, const char *name, const char *type,
	 const struct gw_fcounter *c, size_t n)
{
	struct fcount *fc = arg;

	(void)type;
	if (strcmp(name, fc->filter) != 0)
		return;
	fc->n = n;
	memcpy(fc->c, c, n * sizeof(*c));
}

/* The counter name (with label value lval, or NULL: none). */
static uint64_t
fc_get(const struct fcount *fc, const char *name, const char *lval)
{
	for (size_t i = 0; i < fc->n; i++)
		if (strcmp(fc->c[i].name, name) == 0 &&
		    (lval == NULL || strcmp(fc->c[i].lval, lval) == 0))
			return fc->c[i].v;
	ck_abort_msg("no counter %s %s", name, lval != NULL ? lval : "");
	return 0;
}

/* The transform filter "tr" of transform_request_response, in order. */
static const char *const tr_keys[][2] = {
	{ "request_header_set", "X-User: ${consumer}" },
	{ "request_header_add", "X-Client: ${remote_addr} via ${route} $$1" },
	{ "request_header_remove", "X-Debug" },
	{ "path_strip_prefix", "/api" },
	{ "path_regex", "^/users/([0-9]+)/posts/([0-9]+)$ /v2/posts/$2/by/$1" },
	{ "path_replace_prefix", "/v2/ /internal/v2/" },
	{ "query_remove", "debug" },
	{ "query_set", "lang=en" },
	{ "query_add", "who=${consumer}/${method}" },
	{ "response_header_set", "Server: edge" },
	{ "response_header_remove", "X-Powered-By" },
	{ "response_header_add", "X-Served-For: ${consumer}" },
};

START_TEST(transform_request_response)
{
	struct gw_conf c;
	char body[512];
	struct gw_table *t;
	struct gw_route *rt;
	struct gw_freq *f;
	struct reqmsg r;
	struct http_header out[HTTP_MAX_HEADERS];
	struct fcount fc = { "tr", 0, { { 0 } } };
	size_t n;
	int st = 0;

	gw_conf_init(&c);
	conf_alice(&c);
	conf(&c, "filter", "tr", "type", "transform");
	for (size_t i = 0; i < sizeof(tr_keys) / sizeof(tr_keys[0]); i++)
		conf(&c, "filter", "tr", tr_keys[i][0], "%s", tr_keys[i][1]);
	conf(&c, "route", "r", "upstream", "u");
	conf(&c, "route", "r", "filters", "keys, tr");
	conf(&c, "route", "open", "path_prefix", "/open/");
	conf(&c, "route", "open", "upstream", "u");
	conf(&c, "route", "open", "filters", "tr");
	conf(&c, "filter", "trh", "type", "transform");
	conf(&c, "filter", "trh", "request_header_set", "X-Host: ${host}");
	conf(&c, "route", "host", "path_prefix", "/host/");
	conf(&c, "route", "host", "upstream", "u");
	conf(&c, "route", "host", "filters", "trh");
	conf(&c, "filter", "trre", "type", "transform");
	conf(&c, "filter", "trre", "path_regex", "^/(a+)+$ /x/$1");
	conf(&c, "route", "slowre", "path_prefix", "/slowre/");
	conf(&c, "route", "slowre", "upstream", "u");
	conf(&c, "route", "slowre", "filters", "trre");
	t = build_table(&c);
	rt = route_named(t, "r");

	/* alice: every request edit, the path through all three rewrites,
	 * the query's debug gone, lang replaced, who added (encoded) */
	msg_init(&r, "GET", "/api/users/42/posts/7", "debug=1&a=b&lang=fr");
	msg_hdr(&r, "X-API-Key", "k-alice");
	msg_hdr(&r, "X-User", "admin");
	msg_hdr(&r, "X-Debug", "1");
	msg_hdr(&r, "X-Client", "client's own");
	ck_assert_int_eq(run_pre(rt, &r, 1 * S, 1000, &f, &st, NULL, 0),
			 GW_FV_PASS);
	ck_assert_str_eq(gw_freq_path(f, r.m.path),
			 "/internal/v2/posts/7/by/42");
	ck_assert_str_eq(gw_freq_query(f, r.m.query),
			 "a=b&lang=en&who=alice/GET");
	memcpy(out, r.m.headers, sizeof(out[0]) * r.m.nheaders);
	n = r.m.nheaders;
	ck_assert_int_eq(gw_freq_req_headers(f, out, &n, HTTP_MAX_HEADERS), 0);
	ck_assert_str_eq(hdr_of(out, n, "X-User"), "alice");
	ck_assert_uint_eq(hdr_count(out, n, "X-User"), 1);
	ck_assert_ptr_null(hdr_of(out, n, "X-Debug"));
	ck_assert_uint_eq(hdr_count(out, n, "X-Client"), 2); /* add */
	ck_assert_str_eq(out[n - 1].value, "192.0.2.7 via r $1");
	/* the response: Server set, X-Powered-By gone, one added */
	n = 0;
	out[n++] = (struct http_header){ "Server", "python" };
	out[n++] = (struct http_header){ "X-Powered-By", "php" };
	out[n++] = (struct http_header){ "Content-Length", "2" };
	ck_assert_int_eq(gw_freq_post(f, 200, 1 * S, out, &n, HTTP_MAX_HEADERS),
			 0);
	ck_assert_str_eq(hdr_of(out, n, "Server"), "edge");
	ck_assert_uint_eq(hdr_count(out, n, "Server"), 1);
	ck_assert_ptr_null(hdr_of(out, n, "X-Powered-By"));
	ck_assert_str_eq(hdr_of(out, n, "X-Served-For"), "alice");
	ck_assert_str_eq(hdr_of(out, n, "Content-Length"), "2");
	end_req(f, true, 200, 1 * S);

	/* no consumer: X-User set to nothing removes the client's copy and
	 * adds none; a path no rewrite matches goes as it came */
	msg_init(&r, "POST", "/open/x", NULL);
	msg_hdr(&r, "X-User", "admin");
	ck_assert_int_eq(run_pre(route_named(t, "open"), &r, 1 * S, 1000, &f,
				 &st, NULL, 0),
			 GW_FV_PASS);
	ck_assert_str_eq(gw_freq_path(f, r.m.path), "/open/x");
	ck_assert_str_eq(gw_freq_query(f, r.m.query), "lang=en&who=/POST");
	memcpy(out, r.m.headers, sizeof(out[0]) * r.m.nheaders);
	n = r.m.nheaders;
	ck_assert_int_eq(gw_freq_req_headers(f, out, &n, HTTP_MAX_HEADERS), 0);
	ck_assert_ptr_null(hdr_of(out, n, "X-User"));
	n = 0;
	ck_assert_int_eq(gw_freq_post(f, 200, 1 * S, out, &n, HTTP_MAX_HEADERS),
			 0);
	ck_assert_ptr_null(hdr_of(out, n, "X-Served-For"));
	end_req(f, true, 200, 1 * S);

	/* a path the prefix replacement makes longer than the bound: 414,
	 * counted */
	{
		static char longp[8192];

		memset(longp, 'a', sizeof(longp) - 1);
		memcpy(longp, "/v2/", 4);
		longp[8190] = '\0';
		msg_init(&r, "GET", longp, NULL);
		ck_assert_int_eq(run_pre(route_named(t, "open"), &r, 1 * S,
					 1000, &f, &st, body, sizeof(body)),
				 GW_FV_ANSWER);
		ck_assert_int_eq(st, 414);
		ck_assert_msg(strstr(body, "transform failed: rewritten path "
					   "too long") != NULL,
			      "%s", body);
		end_req(f, false, 414, 1 * S);
	}
	/* a Host that makes ${host} over 1 KiB: 500, counted */
	{
		static char host[1100];

		memset(host, 'h', sizeof(host) - 1);
		msg_init(&r, "GET", "/open/x", NULL);
		msg_hdr(&r, "Host", host);
		ck_assert_int_eq(run_pre(route_named(t, "host"), &r, 1 * S,
					 1000, &f, &st, body, sizeof(body)),
				 GW_FV_ANSWER);
		ck_assert_int_eq(st, 500);
		ck_assert_msg(strstr(body, "header value too long") != NULL,
			      "%s", body);
		end_req(f, false, 500, 1 * S);
	}
	/* a regex past its match limit: 500, not a crash or a hang */
	{
		static char ap[64];

		memset(ap, 'a', sizeof(ap) - 1);
		ap[0] = '/';
		ap[sizeof(ap) - 2] = 'b';
		msg_init(&r, "GET", ap, NULL);
		ck_assert_int_eq(run_pre(route_named(t, "slowre"), &r, 1 * S,
					 1000, &f, &st, body, sizeof(body)),
				 GW_FV_ANSWER);
		ck_assert_int_eq(st, 500);
		ck_assert_msg(strstr(body, "path rewrite failed") != NULL, "%s",
			      body);
		end_req(f, false, 500, 1 * S);
	}
	gw_filters_each(t, count_of, &fc);
	ck_assert_uint_eq(fc.n, 4);
	ck_assert_uint_eq(fc_get(&fc, "transform_requests_total", NULL), 3);
	ck_assert_uint_eq(fc_get(&fc, "transform_path_rewrites_total", NULL),
			  1);
	ck_assert_uint_eq(fc_get(&fc, "transform_query_rewrites_total", NULL),
			  2);
	ck_assert_uint_eq(fc_get(&fc, "transform_errors_total", NULL), 1);
	ck_assert_uint_eq(gw_route_filter_stats(route_named(t, "open"), 0)
				  ->reasons[GW_FR_TRANSFORM],
			  1);
	gw_table_put(t);
}
END_TEST

/* ---- degrade: event-loop lag, the smaller route ------------------------------- */

START_TEST(lag_detector)
{
	struct gw_lag l;
	const uint64_t ms = 1000000;

	gw_lag_start(&l, 20 * ms, 0);
	ck_assert_uint_eq(gw_lag_now(&l, 10 * ms), 0);
	gw_lag_tick(&l, 20 * ms); /* on time */
	ck_assert_uint_eq(gw_lag_now(&l, 30 * ms), 0);
	/* the loop was busy: the tick due at 40 ms runs at 140 ms */
	ck_assert_uint_eq(gw_lag_now(&l, 90 * ms), 50 * ms); /* overdue */
	gw_lag_tick(&l, 140 * ms);
	/* the 100 ms drain in real time */
	ck_assert_uint_eq(gw_lag_now(&l, 141 * ms), 99 * ms);
	gw_lag_tick(&l, 161 * ms); /* late by 1 ms: 100 - 21 still */
	ck_assert_uint_eq(gw_lag_now(&l, 161 * ms), 79 * ms);
	ck_assert_uint_eq(gw_lag_now(&l, 180 * ms), 60 * ms);
	gw_lag_tick(&l, 181 * ms);
	gw_lag_tick(&l, 260 * ms); /* due 201: 59 late, 100 - 120 gone */
	ck_assert_uint_eq(gw_lag_now(&l, 260 * ms), 59 * ms);
	/* stuck now: the next tick (due 280 ms) has not run at 400 ms */
	ck_assert_uint_eq(gw_lag_now(&l, 400 * ms), 120 * ms);
}
END_TEST

static enum gw_fverdict
pre_lag(struct gw_route *rt, uint64_t lag_ms, struct gw_freq **f, int *st,
	char *body, size_t cap)
{
	struct reqmsg r;

	msg_init(&r, "GET", "/x", NULL);
	return run_pre_lag(rt, &r, 1 * S, 1000, lag_ms, f, st, body, cap);
}

START_TEST(degrade_lag_and_smaller_route)
{
	struct gw_conf c;
	char err[256], body[512];
	struct gw_table *t;
	struct gw_route *low, *high, *big, *small;
	struct gw_freq *f;
	struct fcount fc = { "dlow", 0, { { 0 } } };
	int st = 0;

	gw_conf_init(&c);
	conf(&c, "upstream", "u", "instance", "127.0.0.1:9");
	conf(&c, "upstream", "cheap", "instance", "127.0.0.1:10");
	conf(&c, "filter", "dlow", "type", "degrade");
	conf(&c, "filter", "dlow", "priority", "0");
	conf(&c, "filter", "dlow", "max_lag_ms", "50");
	conf(&c, "filter", "dlow", "lag_step_ms", "100");
	conf(&c, "filter", "dhigh", "type", "degrade");
	conf(&c, "filter", "dhigh", "priority", "1");
	conf(&c, "filter", "dhigh", "max_lag_ms", "50");
	conf(&c, "filter", "dhigh", "lag_step_ms", "100");
	conf(&c, "filter", "dbig", "type", "degrade");
	conf(&c, "filter", "dbig", "max_lag_ms", "50");
	conf(&c, "filter", "dbig", "fallback_route", "small");
	conf(&c, "route", "low", "path_prefix", "/low/");
	conf(&c, "route", "low", "upstream", "u");
	conf(&c, "route", "low", "filters", "dlow");
	conf(&c, "route", "high", "path_prefix", "/high/");
	conf(&c, "route", "high", "upstream", "u");
	conf(&c, "route", "high", "filters", "dhigh");
	conf(&c, "route", "big", "path_prefix", "/big/");
	conf(&c, "route", "big", "upstream", "u");
	conf(&c, "route", "big", "filters", "dbig");
	conf(&c, "route", "small", "path_prefix", "/small/");
	conf(&c, "route", "small", "upstream", "cheap");
	t = gw_table_build(&c, err, sizeof(err));
	ck_assert_msg(t != NULL, "%s", err);
	low = route_named(t, "low");
	high = route_named(t, "high");
	big = route_named(t, "big");
	small = route_named(t, "small");

	/* no lag: everything passes, nothing rerouted */
	ck_assert_int_eq(pre_lag(low, 0, &f, &st, body, sizeof(body)),
			 GW_FV_PASS);
	end_req(f, true, 200, 1 * S);
	ck_assert_int_eq(pre_lag(big, 0, &f, &st, body, sizeof(body)),
			 GW_FV_PASS);
	ck_assert_ptr_null(gw_freq_rerouted(f));
	end_req(f, true, 200, 1 * S);
	/* 60 ms: priority 0 (from 50 ms) is shed, priority 1 (from 150 ms)
	 * passes */
	ck_assert_int_eq(pre_lag(low, 60, &f, &st, body, sizeof(body)),
			 GW_FV_ANSWER);
	ck_assert_int_eq(st, 503);
	ck_assert_msg(strstr(body, "shed by priority: event loop lag") != NULL,
		      "%s", body);
	ck_assert_str_eq(ans_hdr(f, "Retry-After"), "5");
	end_req(f, false, 503, 1 * S);
	ck_assert_int_eq(pre_lag(high, 60, &f, &st, body, sizeof(body)),
			 GW_FV_PASS);
	end_req(f, true, 200, 1 * S);
	/* 150 ms: both */
	ck_assert_int_eq(pre_lag(high, 150, &f, &st, body, sizeof(body)),
			 GW_FV_ANSWER);
	end_req(f, false, 503, 1 * S);
	/* the big route under lag is served by the small one */
	ck_assert_int_eq(pre_lag(big, 60, &f, &st, body, sizeof(body)),
			 GW_FV_PASS);
	ck_assert_ptr_eq(gw_freq_rerouted(f), small);
	end_req(f, true, 200, 1 * S);
	/* and so when forced by hand */
	ck_assert_int_eq(gw_degrade_force("big", true), 0);
	ck_assert_int_eq(pre_lag(big, 0, &f, &st, body, sizeof(body)),
			 GW_FV_PASS);
	ck_assert_ptr_eq(gw_freq_rerouted(f), small);
	end_req(f, true, 200, 1 * S);
	ck_assert_int_eq(gw_degrade_force("big", false), 0);

	gw_filters_each(t, count_of, &fc);
	ck_assert_uint_eq(fc_get(&fc, "degrade_shed_total", "lag"), 1);
	ck_assert_uint_eq(fc_get(&fc, "degrade_shed_total", "inflight"), 0);
	fc.filter = "dbig";
	gw_filters_each(t, count_of, &fc);
	ck_assert_uint_eq(fc_get(&fc, "degrade_rerouted_total", NULL), 2);
	ck_assert_uint_eq(fc_get(&fc, "degrade_shed_total", "lag"), 1);
	gw_table_put(t);

	/* a fallback_route that is not there: at build, naming it */
	conf(&c, "filter", "dbig", "fallback_route", "tiny");
	ck_assert_ptr_null(gw_table_build(&c, err, sizeof(err)));
	ck_assert_msg(strstr(err, "filter dbig: fallback_route: no route "
				  "\"tiny\"") != NULL,
		      "%s", err);
	gw_conf_fini(&c);
}
END_TEST

/* ---- an API version's filters ------------------------------------------------- */

START_TEST(api_version_filters)
{
	struct gw_conf c;
	struct gw_table *t;
	char err[256], text[1024], *js;
	cJSON *arr;
	char hex[65];

	alice_hex(hex);
	snprintf(text, sizeof(text),
		 "[upstream be]\ninstance = 127.0.0.1:9\n"
		 "[filter keys]\ntype = apikey\nkey = alice sha256:%s\n"
		 "[filter dg]\ntype = degrade\nfallback_route = lite\n"
		 "[route orders]\npath_prefix = /orders/\nupstream = be\n"
		 "filters = keys, dg\n"
		 "[route lite]\npath_prefix = /lite/\nupstream = be\n"
		 "filters = keys\n",
		 hex);
	/* as written: checked whole (the filters built) */
	ck_assert_msg(gw_api_validate("shop", text, err, sizeof(err)) == 0,
		      "%s", err);
	/* as a stage serves it: every name the API's own */
	gw_conf_init(&c);
	ck_assert_msg(gw_api_text_parse("shop", text, true, &c, err,
					sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(c.nfilters, 2);
	ck_assert_str_eq(c.filters[0].name, "api.shop.keys");
	ck_assert_str_eq(c.routes[0].filters[1], "api.shop.dg");
	t = gw_table_build(&c, err, sizeof(err));
	ck_assert_msg(t != NULL, "%s", err);
	ck_assert_uint_eq(gw_route_nfilters(route_named(t, "api.shop.orders")),
			  2);
	gw_table_put(t);
	gw_conf_fini(&c);
	/* what lbctl api show --version lists */
	arr = cJSON_CreateArray();
	ck_assert_int_eq(
		gw_api_text_filters("shop", text, arr, err, sizeof(err)), 0);
	js = cJSON_PrintUnformatted(arr);
	ck_assert_str_eq(js, "[{\"name\":\"keys\",\"type\":\"apikey\","
			     "\"routes\":[\"orders\",\"lite\"]},"
			     "{\"name\":\"dg\",\"type\":\"degrade\","
			     "\"routes\":[\"orders\"]}]");
	free(js);
	cJSON_Delete(arr);
	/* a filter's error names its line */
	snprintf(text, sizeof(text),
		 "[route r]\ndirect = 200 ok\nfilters = t\n"
		 "[filter t]\ntype = transform\n"
		 "path_regex = ^/(a /b\n");
	ck_assert_int_eq(gw_api_validate("shop", text, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "line 6: filter t: path_regex: regex: "
				  "missing closing parenthesis") != NULL,
		      "%s", err);
}
END_TEST

static Suite *
gw_filter_suite(void)
{
	Suite *s = suite_create("gw_filter");
	TCase *tc;

	tc = tcase_create("chain");
	tcase_add_test(tc, conf_errors);
	tcase_add_test(tc, chain_order_and_counters);
	suite_add_tcase(s, tc);
	tc = tcase_create("ratelimit");
	tcase_add_test(tc, rl_token_bucket);
	tcase_add_test(tc, rl_fixed_window);
	tcase_add_test(tc, rl_sliding_window);
	tcase_add_test(tc, rl_leaky_bucket);
	tcase_add_test(tc, rl_leaky_delay);
	tcase_add_test(tc, rl_local_threads_and_bound);
	suite_add_tcase(s, tc);
	tc = tcase_create("breaker");
	tcase_add_test(tc, cb_failure_ratio_and_probes);
	tcase_add_test(tc, cb_doubling_capped);
	tcase_add_test(tc, cb_slow_and_consecutive_and_active);
	suite_add_tcase(s, tc);
	tc = tcase_create("jwt");
	tcase_add_unchecked_fixture(tc, jwt_setup, jwt_teardown);
	tcase_add_loop_test(tc, jwt_table, 0,
			    sizeof(jwt_cases) / sizeof(jwt_cases[0]));
	tcase_add_test(tc, jwt_garbage);
	suite_add_tcase(s, tc);
	tc = tcase_create("apikey");
	tcase_add_test(tc, apikey);
	suite_add_tcase(s, tc);
	tc = tcase_create("hmac");
	tcase_add_test(tc, hmac_sig);
	suite_add_tcase(s, tc);
	tc = tcase_create("transform");
	tcase_add_test(tc, transform_conf_errors);
	tcase_add_test(tc, transform_request_response);
	suite_add_tcase(s, tc);
	tc = tcase_create("degrade");
	tcase_add_test(tc, lag_detector);
	tcase_add_test(tc, degrade_lag_and_smaller_route);
	suite_add_tcase(s, tc);
	tc = tcase_create("api");
	tcase_add_test(tc, api_version_filters);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(gw_filter_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
