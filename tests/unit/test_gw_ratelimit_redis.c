/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gw_ratelimit_redis: the ratelimit filter's Redis store
 * (controlplane/gateway/gw_ratelimit_redis.h) without a Redis server.
 *
 * parse     the script's replies: allowed and refused arrays, NOSCRIPT,
 *           other error replies, wrong shapes and out-of-range values.
 * fallback  Redis unreachable (a unix socket path that does not exist):
 *           fail_open decides on the local limit at once, fail_closed
 *           answers 503 with Retry-After and the store_down reason; a
 *           Redis that accepts and never answers (a listening socket
 *           nobody reads): the decision waits, the timeout resumes the
 *           request through the fallback; a request that ends while it
 *           waits is never resumed.
 * config    the store's keys and their errors.
 * (The real Redis path is tests/e2e/gateway_redis.sh.)
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "gw_filter_priv.h"
#include "gw_ratelimit_redis.h"

/* ---- parse ------------------------------------------------------------------- */

static redisReply ints[5], *elems[5];

static redisReply
array_of(const long long v[5])
{
	redisReply a = { 0 };

	for (int i = 0; i < 5; i++) {
		memset(&ints[i], 0, sizeof(ints[i]));
		ints[i].type = REDIS_REPLY_INTEGER;
		ints[i].integer = v[i];
		elems[i] = &ints[i];
	}
	a.type = REDIS_REPLY_ARRAY;
	a.elements = 5;
	a.element = elems;
	return a;
}

START_TEST(parse_results)
{
	const long long ok[5] = { 1, 41, 1500, 0, 100 };
	const long long no[5] = { 0, 0, 30001, 12, 100 };
	const long long lease[5] = { 10, 80, 2000, 0, 100 };
	struct gw_rl_result r;
	redisReply a;
	uint32_t g;
	uint64_t ms;

	a = array_of(ok);
	ck_assert_int_eq(gw_rl_redis_parse(&a, &r, &g, &ms), 0);
	ck_assert(r.allowed);
	ck_assert_uint_eq(r.remaining, 41);
	ck_assert_uint_eq(r.reset_s, 2); /* 1.5 s up */
	ck_assert_uint_eq(r.retry_after_s, 0);
	ck_assert_uint_eq(r.limit, 100);
	ck_assert_uint_eq(r.delay_us, 0);
	ck_assert_uint_eq(g, 1);
	ck_assert_uint_eq(ms, 1500);

	a = array_of(no);
	ck_assert_int_eq(gw_rl_redis_parse(&a, &r, &g, &ms), 0);
	ck_assert(!r.allowed);
	ck_assert_uint_eq(r.reset_s, 31);
	ck_assert_uint_eq(r.retry_after_s, 1); /* 12 ms: at least 1 s */
	ck_assert_uint_eq(g, 0);
	ck_assert_uint_eq(ms, 30001);

	a = array_of(lease);
	ck_assert_int_eq(gw_rl_redis_parse(&a, &r, &g, &ms), 0);
	ck_assert(r.allowed);
	ck_assert_uint_eq(g, 10);
}
END_TEST

START_TEST(parse_errors)
{
	const long long good[5] = { 1, 1, 1, 0, 1 };
	const long long bad[][5] = {
		{ 1001, 1, 1, 0, 1 }, /* granted past the largest lease */
		{ -1, 1, 1, 0, 1 },   /* negative */
		{ 1, 1LL << 33, 1, 0, 1 }, { 1, 1, -5, 0, 1 },
		{ 1, 1, 1, -1, 1 },	   { 1, 1, 1, 0, 0 }, /* limit 0 */
	};
	struct gw_rl_result r;
	redisReply a, e = { 0 };
	char noscript[] = "NOSCRIPT No matching script. Use EVAL.";
	char other[] = "ERR wrong number of arguments";
	uint32_t g;
	uint64_t ms;

	ck_assert_int_eq(gw_rl_redis_parse(NULL, &r, &g, &ms), -EIO);
	e.type = REDIS_REPLY_ERROR;
	e.str = noscript;
	e.len = strlen(noscript);
	ck_assert_int_eq(gw_rl_redis_parse(&e, &r, &g, &ms), -ENOENT);
	e.str = other;
	e.len = strlen(other);
	ck_assert_int_eq(gw_rl_redis_parse(&e, &r, &g, &ms), -EIO);
	e.type = REDIS_REPLY_NIL;
	ck_assert_int_eq(gw_rl_redis_parse(&e, &r, &g, &ms), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = array_of(bad[i]);
		ck_assert_msg(gw_rl_redis_parse(&a, &r, &g, &ms) == -EINVAL,
			      "case %zu", i);
	}
	a = array_of(good);
	a.elements = 4;
	ck_assert_int_eq(gw_rl_redis_parse(&a, &r, &g, &ms), -EINVAL);
	a = array_of(good);
	ints[2].type = REDIS_REPLY_STRING;
	ck_assert_int_eq(gw_rl_redis_parse(&a, &r, &g, &ms), -EINVAL);
	a = array_of(good);
	elems[4] = NULL;
	ck_assert_int_eq(gw_rl_redis_parse(&a, &r, &g, &ms), -EINVAL);
}
END_TEST

/* ---- the filter with an unreachable or silent Redis -------------------------------- */

struct run {
	struct event_base *base;
	int resumed;
	enum gw_fverdict v;
};

static void
on_resume(void *arg, enum gw_fverdict v)
{
	struct run *r = arg;

	r->resumed++;
	r->v = v;
}

static struct gw_table *
table(const char *addr, const char *on_error, const char *timeout_ms)
{
	struct gw_conf c;
	char err[256];
	struct gw_table *t;
	const char *kv[][2] = {
		{ "type", "ratelimit" },
		{ "algorithm", "fixed_window" },
		{ "rate", "3/h" },
		{ "key", "route" },
		{ "store", "redis" },
		{ "redis", addr },
		{ "redis_timeout", timeout_ms },
		{ "on_redis_error", on_error },
	};

	gw_conf_init(&c);
	ck_assert_int_eq(gw_conf_key(&c, "upstream", "u", "instance",
				     "127.0.0.1:9", err, sizeof(err)),
			 0);
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		ck_assert_msg(gw_conf_key(&c, "filter", "lim", kv[i][0],
					  kv[i][1], err, sizeof(err)) == 0,
			      "%s: %s", kv[i][0], err);
	ck_assert_int_eq(gw_conf_key(&c, "route", "r", "upstream", "u", err,
				     sizeof(err)),
			 0);
	ck_assert_int_eq(gw_conf_key(&c, "route", "r", "filters", "lim", err,
				     sizeof(err)),
			 0);
	t = gw_table_build(&c, err, sizeof(err));
	ck_assert_msg(t != NULL, "%s", err);
	gw_conf_fini(&c);
	return t;
}

static struct http_msg msg = { .method = "GET", .path = "/x", .target = "/x" };

static enum gw_fverdict
pre(struct gw_route *rt, struct run *run, struct gw_freq **f, int *status,
    const char **retry)
{
	struct gw_freq_in in = { &msg, NULL, 0, 0, run->base, on_resume, run };
	enum gw_fverdict v;

	*f = gw_freq_new(rt);
	ck_assert_ptr_nonnull(*f);
	v = gw_freq_pre(*f, &in);
	*status = 0;
	*retry = NULL;
	if (v == GW_FV_ANSWER) {
		const struct http_header *h;
		const char *b;
		size_t nh, bl;

		gw_freq_answer(*f, status, &h, &nh, &b, &bl);
		for (size_t i = 0; i < nh; i++)
			if (strcmp(h[i].name, "Retry-After") == 0)
				*retry = h[i].value;
	}
	return v;
}

static void
end(struct gw_freq *f)
{
	struct gw_fdone d = { 0 };

	gw_freq_done(f, &d);
}

START_TEST(down_fail_open)
{
	struct gw_table *t =
		table("/nonexistent/edgelb-redis.sock", "fail_open", "50");
	struct gw_route *rt = gw_table_route(t, 0);
	struct run run = { event_base_new(), 0, GW_FV_PASS };
	struct gw_rl_redis_stats s0, s1;
	struct gw_freq *f;
	const char *retry;
	int st;

	gw_rl_redis_stats(&s0);
	/* the local 3/h decides at once: 3 pass, then 429 */
	for (int i = 0; i < 5; i++) {
		enum gw_fverdict v = pre(rt, &run, &f, &st, &retry);

		ck_assert_int_eq(v, i < 3 ? GW_FV_PASS : GW_FV_ANSWER);
		if (i >= 3)
			ck_assert_int_eq(st, 429);
		end(f);
	}
	ck_assert_int_eq(run.resumed, 0);
	gw_rl_redis_stats(&s1);
	ck_assert_uint_eq(s1.fail_open - s0.fail_open, 5);
	ck_assert_uint_eq(s1.down - s0.down, 5);
	ck_assert_uint_eq(s1.fail_closed - s0.fail_closed, 0);
	ck_assert_uint_eq(gw_route_filter_stats(rt, 0)->passed, 3);
	ck_assert_uint_eq(
		gw_route_filter_stats(rt, 0)->reasons[GW_FR_RATE_LIMITED], 2);
	gw_table_put(t);
	event_base_free(run.base);
}
END_TEST

START_TEST(down_fail_closed)
{
	struct gw_table *t =
		table("/nonexistent/edgelb-redis.sock", "fail_closed", "50");
	struct gw_route *rt = gw_table_route(t, 0);
	struct run run = { event_base_new(), 0, GW_FV_PASS };
	struct gw_rl_redis_stats s0, s1;
	struct gw_freq *f;
	const char *retry;
	int st;

	gw_rl_redis_stats(&s0);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pre(rt, &run, &f, &st, &retry), GW_FV_ANSWER);
		ck_assert_int_eq(st, 503);
		ck_assert_ptr_nonnull(retry);
		ck_assert_str_eq(retry, "1");
		end(f);
	}
	gw_rl_redis_stats(&s1);
	ck_assert_uint_eq(s1.fail_closed - s0.fail_closed, 4);
	ck_assert_uint_eq(s1.fail_open - s0.fail_open, 0);
	ck_assert_uint_eq(
		gw_route_filter_stats(rt, 0)->reasons[GW_FR_STORE_DOWN], 4);
	gw_table_put(t);
	event_base_free(run.base);
}
END_TEST

/* A TCP listener nobody accepts from: connects succeed, nothing answers. */
static int
silent_server(char *addr, size_t cap)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(addr, cap, "127.0.0.1:%u", ntohs(sa.sin_port));
	return fd;
}

/* Run the loop until run->resumed reaches want or ms pass. */
static void
loop_for(struct run *run, int want, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct timeval tv = { 0, 10000 };

		event_base_loopexit(run->base, &tv);
		event_base_dispatch(run->base);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (run->resumed >= want ||
		    (t.tv_sec - t0.tv_sec) * 1000 +
				    (t.tv_nsec - t0.tv_nsec) / 1000000 >=
			    ms)
			return;
	}
}

START_TEST(silent_timeout_and_cancel)
{
	char addr[64];
	int fd = silent_server(addr, sizeof(addr));
	struct gw_table *t = table(addr, "fail_open", "100");
	struct gw_route *rt = gw_table_route(t, 0);
	struct run run = { event_base_new(), 0, GW_FV_ANSWER };
	struct gw_rl_redis_stats s0, s1;
	struct timespec a, b;
	struct gw_freq *f;
	const char *retry;
	int st;
	long ms;

	gw_rl_redis_stats(&s0);
	/* waits, then the timeout resumes it through the local limit */
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(pre(rt, &run, &f, &st, &retry), GW_FV_PENDING);
	loop_for(&run, 1, 3000);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ck_assert_int_eq(run.resumed, 1);
	ck_assert_int_eq(run.v, GW_FV_PASS);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	ck_assert_msg(ms >= 90 && ms < 1000, "resumed after %ld ms", ms);
	end(f);
	gw_rl_redis_stats(&s1);
	ck_assert_uint_eq(s1.timeouts - s0.timeouts, 1);
	ck_assert_uint_eq(s1.fail_open - s0.fail_open, 1);
	ck_assert_uint_eq(gw_route_filter_stats(rt, 0)->passed, 1);

	/* the request ends while it waits: never resumed, not counted */
	ck_assert_int_eq(pre(rt, &run, &f, &st, &retry), GW_FV_PENDING);
	end(f);
	loop_for(&run, 2, 400);
	ck_assert_int_eq(run.resumed, 1);
	gw_rl_redis_stats(&s0);
	ck_assert_uint_eq(s0.timeouts - s1.timeouts, 0);
	ck_assert_uint_eq(gw_route_filter_stats(rt, 0)->passed, 1);
	close(fd);
	gw_table_put(t);
}
END_TEST

/* ---- config -------------------------------------------------------------------- */

START_TEST(config_keys)
{
	const struct {
		const char *key, *value;
		int rc;
	} cases[] = {
		{ "store", "redis", 0 },
		{ "store", "local", 0 },
		{ "store", "memcached", -EINVAL },
		{ "redis", "127.0.0.1:6379", 0 },
		{ "redis", "redis.example:6380", 0 },
		{ "redis", "/run/redis/redis.sock", 0 },
		{ "redis", "127.0.0.1", -EINVAL },
		{ "redis", "127.0.0.1:0", -EINVAL },
		{ "redis", "127.0.0.1:70000", -EINVAL },
		{ "redis", ":6379", -EINVAL },
		{ "redis_timeout", "0", -EINVAL },
		{ "redis_timeout", "250", 0 },
		{ "on_redis_error", "fail_closed", 0 },
		{ "on_redis_error", "ignore", -EINVAL },
		{ "lease", "10", 0 },
		{ "lease", "0", -EINVAL },
		{ "lease", "1001", -EINVAL },
		{ "rate", "1/s", -ENOENT },
	};
	struct gw_rl_redis_conf c = { 0 };
	char why[160];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(gw_rl_redis_key(&c, cases[i].key, cases[i].value,
					      why, sizeof(why)) == cases[i].rc,
			      "%s = %s", cases[i].key, cases[i].value);
	ck_assert(c.fail_closed);
	ck_assert_uint_eq(c.timeout_ms, 250);
}
END_TEST

START_TEST(config_leaky_refused)
{
	struct gw_conf c;
	char err[256];

	gw_conf_init(&c);
	ck_assert_int_eq(gw_conf_key(&c, "upstream", "u", "instance",
				     "127.0.0.1:9", err, sizeof(err)),
			 0);
	ck_assert_int_eq(gw_conf_key(&c, "filter", "l", "type", "ratelimit",
				     err, sizeof(err)),
			 0);
	ck_assert_int_eq(gw_conf_key(&c, "filter", "l", "algorithm",
				     "leaky_bucket", err, sizeof(err)),
			 0);
	ck_assert_int_eq(
		gw_conf_key(&c, "filter", "l", "rate", "1/s", err, sizeof(err)),
		0);
	ck_assert_int_eq(gw_conf_key(&c, "filter", "l", "store", "redis", err,
				     sizeof(err)),
			 0);
	ck_assert_int_eq(gw_conf_key(&c, "filter", "l", "redis",
				     "127.0.0.1:6379", err, sizeof(err)),
			 0);
	ck_assert_int_eq(gw_conf_key(&c, "route", "r", "upstream", "u", err,
				     sizeof(err)),
			 0);
	ck_assert_int_eq(
		gw_conf_key(&c, "route", "r", "filters", "l", err, sizeof(err)),
		0);
	ck_assert_ptr_null(gw_table_build(&c, err, sizeof(err)));
	ck_assert_msg(strstr(err, "leaky_bucket is local only") != NULL, "%s",
		      err);
	gw_conf_fini(&c);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("gw_ratelimit_redis");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, parse_results);
	tcase_add_test(tc, parse_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("fallback");
	tcase_add_test(tc, down_fail_open);
	tcase_add_test(tc, down_fail_closed);
	tcase_add_test(tc, silent_timeout_and_cancel);
	suite_add_tcase(s, tc);
	tc = tcase_create("config");
	tcase_add_test(tc, config_keys);
	tcase_add_test(tc, config_leaky_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
