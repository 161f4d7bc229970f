/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gw_upstream: the gateway's balancers and instance states
 * (controlplane/gateway/gw_upstream.h). Distributions over many picks,
 * each with its tolerance stated where it is checked; consistent-hash
 * stability when an instance goes (only its keys move); the hash key
 * taken from a header, a cookie, a query parameter or the client;
 * active health; passive ejection with doubling, return, the cap and the
 * maximum share.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "gw_upstream.h"

static struct gw_upstream *
mk(const char *bal, size_t n, const uint32_t *w)
{
	struct gw_upstream_conf c;
	struct gw_upstream *u;

	gw_upstream_conf_init(&c, "u");
	c.bal = gw_balancer_find(bal);
	ck_assert_ptr_nonnull(c.bal);
	for (size_t i = 0; i < n; i++) {
		char a[32];

		snprintf(a, sizeof(a), "10.0.%zu.%zu", i / 250, i % 250 + 1);
		ck_assert_int_eq(lb_addr_parse(a, &c.inst[i].addr), 0);
		c.inst[i].port = 8080;
		c.inst[i].weight = w != NULL ? w[i] : 1;
	}
	c.ninst = n;
	u = gw_upstream_new(&c);
	ck_assert_ptr_nonnull(u);
	return u;
}

START_TEST(registry)
{
	const char *names[] = { "rr",	      "wrr",	 "least_conn",
				"least_time", "ip_hash", "hash" };

	for (size_t i = 0; i < 6; i++)
		ck_assert_str_eq(gw_balancer_find(names[i])->name, names[i]);
	ck_assert_ptr_null(gw_balancer_find("random"));
}
END_TEST

START_TEST(rr_exact)
{
	struct gw_upstream *u = mk("rr", 3, NULL);
	unsigned cnt[3] = { 0 };

	for (int k = 0; k < 3000; k++) {
		int i = gw_upstream_pick(u, 0, -1, 0);

		ck_assert_int_eq(i, k % 3); /* in order */
		cnt[i]++;
		gw_upstream_done(u, i, GW_OUT_OK, 100, 0);
	}
	ck_assert_uint_eq(cnt[0], 1000);
	ck_assert_uint_eq(cnt[2], 1000);
	gw_upstream_free(u);
}
END_TEST

START_TEST(wrr_exact_and_smooth)
{
	const uint32_t w[3] = { 1, 2, 5 };
	struct gw_upstream *u = mk("wrr", 3, w);
	unsigned cnt[3] = { 0 }, run = 0, maxrun = 0;
	int last = -1;

	for (int k = 0; k < 8000; k++) {
		int i = gw_upstream_pick(u, 0, -1, 0);

		cnt[i]++;
		run = i == last ? run + 1 : 1;
		maxrun = run > maxrun ? run : maxrun;
		last = i;
		gw_upstream_done(u, i, GW_OUT_OK, 100, 0);
	}
	/* exact per cycle of sum(weight) = 8 picks */
	ck_assert_uint_eq(cnt[0], 1000);
	ck_assert_uint_eq(cnt[1], 2000);
	ck_assert_uint_eq(cnt[2], 5000);
	/* smooth: weight 5 of 8 never comes more than twice in a row */
	ck_assert_uint_le(maxrun, 2);
	gw_upstream_free(u);
}
END_TEST

START_TEST(least_conn_by_weight)
{
	const uint32_t w[3] = { 1, 1, 2 };
	struct gw_upstream *u = mk("least_conn", 3, w);
	unsigned cnt[3] = { 0 };

	/* requests held open: in flight stays proportional to weight */
	for (int k = 0; k < 400; k++)
		cnt[gw_upstream_pick(u, 0, -1, 0)]++;
	ck_assert_uint_eq(cnt[0], 100);
	ck_assert_uint_eq(cnt[1], 100);
	ck_assert_uint_eq(cnt[2], 200);
	/* finishing instance 0's requests sends the next ones there */
	for (int k = 0; k < 100; k++)
		gw_upstream_done(u, 0, GW_OUT_OK, 10, 0);
	for (int k = 0; k < 50; k++)
		ck_assert_int_eq(gw_upstream_pick(u, 0, -1, 0), 0);
	gw_upstream_free(u);
}
END_TEST

START_TEST(least_time_prefers_fast_weighted_by_load)
{
	const uint64_t rtt[3] = { 1000, 2000, 4000 };
	struct gw_upstream *u = mk("least_time", 3, NULL);
	unsigned cnt[3] = { 0 };

	/* train: one sample each, then sequential traffic */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(gw_upstream_pick(u, 0, -1, 0), i);
		gw_upstream_done(u, i, GW_OUT_OK, rtt[i], 0);
	}
	for (int k = 0; k < 1000; k++) {
		int i = gw_upstream_pick(u, 0, -1, 0);

		cnt[i]++;
		gw_upstream_done(u, i, GW_OUT_OK, rtt[i], 0);
	}
	/* one at a time: all to the fastest */
	ck_assert_uint_eq(cnt[0], 1000);
	/* held open: load spreads as 1/time, 4:2:1 of 700, within 2 % */
	memset(cnt, 0, sizeof(cnt));
	for (int k = 0; k < 700; k++)
		cnt[gw_upstream_pick(u, 0, -1, 0)]++;
	ck_assert_uint_ge(cnt[0], 386);
	ck_assert_uint_le(cnt[0], 414);
	ck_assert_uint_ge(cnt[1], 186);
	ck_assert_uint_le(cnt[1], 214);
	ck_assert_uint_ge(cnt[2], 86);
	ck_assert_uint_le(cnt[2], 114);
	gw_upstream_free(u);
}
END_TEST

static void
peer4(struct sockaddr_in *sa, uint32_t ip)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(ip);
}

START_TEST(ip_hash_spread_and_sticky)
{
	struct gw_upstream *u = mk("ip_hash", 4, NULL);
	unsigned cnt[4] = { 0 };
	struct sockaddr_in sa;

	for (uint32_t k = 0; k < 20000; k++) {
		uint64_t h;
		int i;

		peer4(&sa, 0xc0a80000u + k);
		h = gw_upstream_key_hash(u, NULL, (struct sockaddr *)&sa);
		i = gw_upstream_pick(u, h, -1, 0);
		cnt[i]++;
		ck_assert_int_eq(gw_upstream_pick(u, h, -1, 0), i); /* sticky */
	}
	/* 5000 each, within 5 % (the hash is uniform: ~1 % sd) */
	for (int i = 0; i < 4; i++) {
		ck_assert_uint_ge(cnt[i], 4750);
		ck_assert_uint_le(cnt[i], 5250);
	}
	gw_upstream_free(u);
}
END_TEST

#define NKEYS 20000

/* For each key "user-k", the label of the instance the ring picks. */
static void
ring_owners(struct gw_upstream *u, char (*own)[LB_ADDRPORTSTRLEN])
{
	for (int k = 0; k < NKEYS; k++) {
		char key[32];
		int len = snprintf(key, sizeof(key), "user-%d", k);
		int i = gw_upstream_pick(u, gw_hash_bytes(key, (size_t)len), -1,
					 0);

		ck_assert_int_ge(i, 0);
		strcpy(own[k], u->inst[i].label);
	}
}

START_TEST(ring_spread_and_stability)
{
	struct gw_upstream_conf c;
	struct gw_upstream *u, *u9;
	char(*a)[LB_ADDRPORTSTRLEN] = calloc(NKEYS, LB_ADDRPORTSTRLEN);
	char(*b)[LB_ADDRPORTSTRLEN] = calloc(NKEYS, LB_ADDRPORTSTRLEN);
	unsigned moved = 0, on_gone = 0;
	unsigned cnt[10] = { 0 };

	u = mk("hash", 10, NULL);
	c = u->conf;
	ring_owners(u, a);
	for (int k = 0; k < NKEYS; k++)
		for (int i = 0; i < 10; i++)
			cnt[i] += strcmp(a[k], u->inst[i].label) == 0;
	/* 160 points each: every instance within 25 % of its 2000 keys */
	for (int i = 0; i < 10; i++) {
		ck_assert_uint_ge(cnt[i], 1500);
		ck_assert_uint_le(cnt[i], 2500);
	}
	/* remove instance 4 from the configuration */
	memmove(&c.inst[4], &c.inst[5], 5 * sizeof(c.inst[0]));
	c.ninst = 9;
	u9 = gw_upstream_new(&c);
	ck_assert_ptr_nonnull(u9);
	ring_owners(u9, b);
	for (int k = 0; k < NKEYS; k++) {
		bool was_gone = strcmp(a[k], u->inst[4].label) == 0;

		on_gone += was_gone;
		if (strcmp(a[k], b[k]) != 0) {
			moved++;
			/* only the keys of the removed instance move */
			ck_assert_msg(was_gone, "key %d moved from %s to %s", k,
				      a[k], b[k]);
		}
	}
	ck_assert_uint_eq(moved, on_gone);
	ck_assert_uint_le(moved, NKEYS / 10 * 5 / 4); /* ~1/N, +25 % */
	/* the same when it goes unhealthy instead */
	ck_assert_int_eq(gw_upstream_set_healthy(u, 4, false), 0);
	ring_owners(u, b);
	for (int k = 0; k < NKEYS; k++)
		if (strcmp(a[k], b[k]) != 0)
			ck_assert(strcmp(a[k], u->inst[4].label) == 0);
	gw_upstream_free(u);
	gw_upstream_free(u9);
	free(a);
	free(b);
}
END_TEST

START_TEST(hash_keys_from_request)
{
	struct gw_upstream *u = mk("hash", 3, NULL);
	struct sockaddr_in sa1, sa2;
	struct http_msg m;
	uint64_t h1, h2;

	peer4(&sa1, 0x0a000001);
	peer4(&sa2, 0x0a000002);
	memset(&m, 0, sizeof(m));
	m.headers[0].name = "cookie";
	m.headers[0].value = "a=1; sid=abc; z=9";
	m.headers[1].name = "X-User";
	m.headers[1].value = "bob";
	m.nheaders = 2;
	m.query = "x=1&uid=42";

	u->conf.hash_on = GW_HASH_COOKIE;
	strcpy(u->conf.hash_key, "sid");
	h1 = gw_upstream_key_hash(u, &m, (struct sockaddr *)&sa1);
	h2 = gw_upstream_key_hash(u, &m, (struct sockaddr *)&sa2);
	ck_assert(h1 == h2); /* the cookie, not the client */
	ck_assert(h1 == gw_hash_bytes("abc", 3));

	u->conf.hash_on = GW_HASH_HEADER;
	strcpy(u->conf.hash_key, "x-user");
	ck_assert(gw_upstream_key_hash(u, &m, (struct sockaddr *)&sa1) ==
		  gw_hash_bytes("bob", 3));

	u->conf.hash_on = GW_HASH_QUERY;
	strcpy(u->conf.hash_key, "uid");
	ck_assert(gw_upstream_key_hash(u, &m, (struct sockaddr *)&sa1) ==
		  gw_hash_bytes("42", 2));
	/* missing: the client's address */
	strcpy(u->conf.hash_key, "nope");
	h1 = gw_upstream_key_hash(u, &m, (struct sockaddr *)&sa1);
	h2 = gw_upstream_key_hash(u, &m, (struct sockaddr *)&sa2);
	ck_assert(h1 != h2);
	u->conf.hash_on = GW_HASH_CLIENT;
	ck_assert(gw_upstream_key_hash(u, &m, (struct sockaddr *)&sa1) == h1);
	gw_upstream_free(u);
}
END_TEST

START_TEST(active_health_and_exclude)
{
	struct gw_upstream *u = mk("rr", 2, NULL);

	ck_assert_int_eq(gw_upstream_set_healthy(u, 0, false), 0);
	for (int k = 0; k < 10; k++)
		ck_assert_int_eq(gw_upstream_pick(u, 0, -1, 0), 1);
	/* the retry excludes the instance that failed */
	ck_assert_int_eq(gw_upstream_pick(u, 0, 1, 0), -EHOSTUNREACH);
	ck_assert_int_eq(gw_upstream_set_healthy(u, 1, false), 0);
	ck_assert_int_eq(gw_upstream_pick(u, 0, -1, 0), -EHOSTUNREACH);
	ck_assert_int_eq(gw_upstream_set_healthy(u, 2, false), -ERANGE);
	ck_assert_uint_eq(u->st.no_instance, 2);
	gw_upstream_free(u);
}
END_TEST

static void
fail_n(struct gw_upstream *u, int idx, int n, enum gw_outcome o, uint64_t now)
{
	for (int k = 0; k < n; k++)
		gw_upstream_done(u, idx, o, 0, now);
}

START_TEST(ejection_doubles_and_returns)
{
	struct gw_upstream_conf c;
	struct gw_upstream *u0 = mk("rr", 4, NULL), *u;
	uint64_t t = 1000000;

	c = u0->conf;
	gw_upstream_free(u0);
	c.eject_after = 3;
	c.eject_base_ms = 1000;
	c.eject_max_ms = 6000;
	c.eject_max_pct = 50;
	u = gw_upstream_new(&c);
	ck_assert_ptr_nonnull(u);

	/* two failures, then a success: the count starts again */
	fail_n(u, 0, 2, GW_OUT_5XX, t);
	gw_upstream_done(u, 0, GW_OUT_OK, 0, t);
	fail_n(u, 0, 2, GW_OUT_CONNECT, t);
	ck_assert(gw_upstream_available(u, 0, t));
	/* the third consecutive one ejects for the base time */
	fail_n(u, 0, 1, GW_OUT_5XX, t);
	ck_assert(!gw_upstream_available(u, 0, t));
	for (int k = 0; k < 30; k++)
		ck_assert_int_ne(gw_upstream_pick(u, 0, -1, t + 999), 0);
	ck_assert(gw_upstream_available(u, 0, t + 1000));
	/* each further ejection doubles: 2 s, 4 s, then the 6 s cap */
	const uint64_t want[] = { 2000, 4000, 6000, 6000 };
	for (int e = 0; e < 4; e++) {
		t += 100000;
		fail_n(u, 0, 3, GW_OUT_5XX, t);
		ck_assert_msg(!gw_upstream_available(u, 0, t + want[e] - 1),
			      "ejection %d shorter than %llu", e + 2,
			      (unsigned long long)want[e]);
		ck_assert_msg(gw_upstream_available(u, 0, t + want[e]),
			      "ejection %d longer than %llu", e + 2,
			      (unsigned long long)want[e]);
	}
	ck_assert_uint_eq(u->st.ejections, 5);
	ck_assert_uint_eq(u->st.returns, 5);
	ck_assert_uint_eq(u->inst[0].st.ejections, 5);

	/* at most 50 % of 4 = 2 out at once */
	t += 100000;
	fail_n(u, 1, 3, GW_OUT_5XX, t);
	fail_n(u, 2, 3, GW_OUT_5XX, t);
	fail_n(u, 3, 3, GW_OUT_5XX, t);
	ck_assert(!gw_upstream_available(u, 1, t));
	ck_assert(!gw_upstream_available(u, 2, t));
	ck_assert(gw_upstream_available(u, 3, t));
	ck_assert_uint_eq(u->st.eject_refused, 1);
	ck_assert_uint_eq(u->st.connect_errors, 2);
	gw_upstream_free(u);
}
END_TEST

START_TEST(errors)
{
	struct gw_upstream_conf c;

	gw_upstream_conf_init(&c, "u");
	errno = 0;
	ck_assert_ptr_null(gw_upstream_new(&c)); /* no instance */
	ck_assert_int_eq(errno, EINVAL);
	c.ninst = 1;
	lb_addr_parse("10.0.0.1", &c.inst[0].addr);
	c.inst[0].port = 80;
	c.inst[0].weight = 0;
	ck_assert_ptr_null(gw_upstream_new(&c)); /* weight 0 */
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static Suite *
gw_upstream_suite(void)
{
	Suite *s = suite_create("gw_upstream");
	TCase *core = tcase_create("core");
	TCase *errs = tcase_create("errors");

	tcase_add_test(core, registry);
	tcase_add_test(core, rr_exact);
	tcase_add_test(core, wrr_exact_and_smooth);
	tcase_add_test(core, least_conn_by_weight);
	tcase_add_test(core, least_time_prefers_fast_weighted_by_load);
	tcase_add_test(core, ip_hash_spread_and_sticky);
	tcase_add_test(core, ring_spread_and_stability);
	tcase_add_test(core, hash_keys_from_request);
	tcase_add_test(core, active_health_and_exclude);
	tcase_add_test(core, ejection_doubles_and_returns);
	suite_add_tcase(s, core);
	tcase_add_test(errs, errors);
	suite_add_tcase(s, errs);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(gw_upstream_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
