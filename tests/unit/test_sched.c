/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sched: the registry, the flow hash, and the rr, wrr, lc, wlc, sh and
 * lrt schedulers (mh has its own suite, test_sched_mh.c): the orders and
 * ratios each promises, weight 0 handling, per-worker independence, and
 * rejection of bad parameters.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "edgelb/lbmsg.h"
#include "sched_ops.h"
#include "test_timing.h"

#define NSOURCES 100000u

static const char *const all_names[] = { "rr", "wrr", "lc", "wlc",
					 "sh", "mh",  "lrt" };
#define NALL ((int)(sizeof(all_names) / sizeof(all_names[0])))

/* Backend i is 10.1.(i / 256).(i % 256):8080 with the given weight. */
static void
backends_fill(struct sched_backend *b, uint32_t n, const uint32_t *weights)
{
	memset(b, 0, n * sizeof(*b));
	for (uint32_t i = 0; i < n; i++) {
		uint8_t ip[4] = { 10, 1, (uint8_t)(i >> 8), (uint8_t)i };

		b[i].addr.family = AF_INET;
		memcpy(b[i].addr.bytes, ip, 4);
		b[i].port = 8080;
		b[i].weight = weights != NULL ? weights[i] : 1;
	}
}

/* Source number i: 100.64.0.0 + i, port 40000 + (i % 1000). */
static void
flow_fill(struct sched_flow *f, uint32_t i)
{
	uint32_t a = (100u << 24 | 64u << 16) + i;
	uint8_t ip[4] = { (uint8_t)(a >> 24), (uint8_t)(a >> 16),
			  (uint8_t)(a >> 8), (uint8_t)a };

	memset(f, 0, sizeof(*f));
	f->saddr.family = AF_INET;
	memcpy(f->saddr.bytes, ip, 4);
	f->daddr.family = AF_INET;
	f->daddr.bytes[0] = 10;
	f->daddr.bytes[3] = 1;
	f->sport = (uint16_t)(40000 + i % 1000);
	f->dport = 80;
	f->proto = 6;
}

static void *
make(const char *name, const struct sched_backend *b, uint32_t n,
     unsigned int nworkers, uint32_t flags)
{
	const struct sched_ops *ops = sched_find(name);
	struct sched_params p = { .nworkers = nworkers, .flags = flags };
	void *st;

	ck_assert_ptr_nonnull(ops);
	st = ops->create(b, n, &p);
	ck_assert_msg(st != NULL, "%s create: %s", name, strerror(errno));
	return st;
}

static int32_t
pick(const char *name, void *st, unsigned int worker,
     const struct sched_flow *f, const struct sched_load *l)
{
	return sched_find(name)->pick(st, worker, f, l);
}

static void
drop(const char *name, void *st)
{
	sched_find(name)->destroy(st);
}

/* ---- registry and hash ------------------------------------------------ */

START_TEST(registry_lists_and_finds_all)
{
	const char *names[16] = { NULL };
	int n = sched_list(names, 16);

	ck_assert_int_eq(n, NALL);
	for (int i = 0; i < NALL; i++) {
		const struct sched_ops *ops = sched_find(all_names[i]);
		int seen = 0;

		ck_assert_ptr_nonnull(ops);
		ck_assert_str_eq(ops->name, all_names[i]);
		ck_assert_ptr_nonnull(ops->create);
		ck_assert_ptr_nonnull(ops->destroy);
		ck_assert_ptr_nonnull(ops->pick);
		for (int j = 0; j < n; j++)
			seen += strcmp(names[j], all_names[i]) == 0;
		ck_assert_int_eq(seen, 1);
	}
	/* The names the INI file and lbctl accept are exactly these. */
	ck_assert_int_eq((int)lb_nsched_names, NALL);
	for (size_t i = 0; i < lb_nsched_names; i++)
		ck_assert_ptr_nonnull(sched_find(lb_sched_names[i]));
	ck_assert(lb_sched_name_valid(LB_SCHED_DEFAULT));
	ck_assert_ptr_null(sched_find("nope"));
	ck_assert_ptr_null(sched_find(""));
	ck_assert_ptr_null(sched_find(NULL));
	ck_assert_ptr_null(sched_find("RR"));
}
END_TEST

START_TEST(registry_list_short_buffer)
{
	const char *names[3] = { "x", "x", "sentinel" };

	ck_assert_int_eq(sched_list(names, 2), NALL);
	ck_assert_ptr_nonnull(sched_find(names[0]));
	ck_assert_ptr_nonnull(sched_find(names[1]));
	ck_assert_str_eq(names[2], "sentinel");
	ck_assert_int_eq(sched_list(NULL, 0), NALL);
}
END_TEST

START_TEST(flow_hash_inputs)
{
	struct sched_flow f, g;
	uint32_t h;

	flow_fill(&f, 1);
	g = f;
	h = sched_flow_hash(&f, 0);
	/* same source, other port/destination: same hash without the flag */
	g.sport++;
	g.dport++;
	g.daddr.v4 ^= 0xff;
	ck_assert_uint_eq(sched_flow_hash(&g, 0), h);
	ck_assert_uint_ne(sched_flow_hash(&g, LB_SVC_F_SH_PORT),
			  sched_flow_hash(&f, LB_SVC_F_SH_PORT));
	/* another source differs */
	flow_fill(&g, 2);
	ck_assert_uint_ne(sched_flow_hash(&g, 0), h);
	/* the padding and unused bytes of an IPv4 address are ignored */
	g = f;
	g.saddr.pad[0] = 0x55;
	g.saddr.bytes[9] = 0x77;
	ck_assert_uint_eq(sched_flow_hash(&g, 0), h);
	/* an IPv6 source with the same leading bytes is another source */
	g.saddr.family = AF_INET6;
	ck_assert_uint_ne(sched_flow_hash(&g, 0), h);
}
END_TEST

START_TEST(flow_hash_spreads)
{
	/* low bits of 2^16 consecutive sources land in 256 bins evenly */
	static uint32_t bins[256];
	struct sched_flow f;

	memset(bins, 0, sizeof(bins));
	for (uint32_t i = 0; i < 65536; i++) {
		flow_fill(&f, i);
		bins[sched_flow_hash(&f, 0) >> 24]++;
	}
	for (int i = 0; i < 256; i++) {
		ck_assert_uint_gt(bins[i], 256 * 3 / 4);
		ck_assert_uint_lt(bins[i], 256 * 5 / 4);
	}
}
END_TEST

/* ---- rr ----------------------------------------------------------------- */

START_TEST(rr_cycles_in_order_skipping_weight0)
{
	const uint32_t w[] = { 1, 0, 5, 2, 0 };
	const int32_t want[] = { 0, 2, 3 };
	struct sched_backend b[5];
	void *st;

	backends_fill(b, 5, w);
	st = make("rr", b, 5, 1, 0);
	for (int i = 0; i < 30; i++)
		ck_assert_int_eq(pick("rr", st, 0, NULL, NULL), want[i % 3]);
	drop("rr", st);
}
END_TEST

/*
 * Picks of each worker alone from a fresh state, then interleaved on one
 * state in an irregular order: every worker's own sequence is the same.
 */
static void
check_worker_independence(const char *name, const uint32_t *w, uint32_t n)
{
	enum { NW = 3, NP = 40 };
	int32_t alone[NW][NP], mixed[NW][NP];
	struct sched_backend b[16];
	int done[NW] = { 0 };
	void *st;

	ck_assert_uint_le(n, 16);
	backends_fill(b, n, w);
	for (unsigned int k = 0; k < NW; k++) {
		st = make(name, b, n, NW, 0);
		for (int i = 0; i < NP; i++)
			alone[k][i] = pick(name, st, k, NULL, NULL);
		drop(name, st);
	}
	st = make(name, b, n, NW, 0);
	for (unsigned int step = 0; done[0] + done[1] + done[2] < NW * NP;
	     step++) {
		unsigned int k = (step * 7 + step / 5) % NW;

		if (done[k] < NP) {
			mixed[k][done[k]] = pick(name, st, k, NULL, NULL);
			done[k]++;
		}
	}
	drop(name, st);
	for (unsigned int k = 0; k < NW; k++)
		for (int i = 0; i < NP; i++)
			ck_assert_msg(
				alone[k][i] == mixed[k][i],
				"%s worker %u pick %d: %d alone, %d mixed",
				name, k, i, alone[k][i], mixed[k][i]);
}

START_TEST(rr_workers_independent)
{
	const uint32_t w[] = { 1, 1, 0, 1, 1, 1 };

	check_worker_independence("rr", w, 6);
}
END_TEST

START_TEST(rr_each_worker_fair)
{
	/* every worker hands each eligible backend one of any 5 picks */
	const uint32_t w[] = { 1, 1, 0, 1, 1, 1 };
	struct sched_backend b[6];
	void *st;

	backends_fill(b, 6, w);
	st = make("rr", b, 6, 4, 0);
	for (unsigned int k = 0; k < 4; k++) {
		int cnt[6] = { 0 };

		for (int i = 0; i < 5; i++) {
			int32_t r = pick("rr", st, k, NULL, NULL);

			ck_assert_int_ge(r, 0);
			ck_assert_int_lt(r, 6);
			cnt[r]++;
		}
		for (int i = 0; i < 6; i++)
			ck_assert_int_eq(cnt[i], i == 2 ? 0 : 1);
	}
	drop("rr", st);
}
END_TEST

/* ---- wrr ---------------------------------------------------------------- */

START_TEST(wrr_exact_ratio_per_cycle)
{
	const uint32_t w[] = { 1, 2, 3 };
	struct sched_backend b[3];
	void *st;

	backends_fill(b, 3, w);
	st = make("wrr", b, 3, 1, 0);
	for (int cycle = 0; cycle < 50; cycle++) {
		int cnt[3] = { 0 };

		for (int i = 0; i < 6; i++) {
			int32_t r = pick("wrr", st, 0, NULL, NULL);

			ck_assert_int_ge(r, 0);
			ck_assert_int_lt(r, 3);
			cnt[r]++;
		}
		ck_assert_int_eq(cnt[0], 1);
		ck_assert_int_eq(cnt[1], 2);
		ck_assert_int_eq(cnt[2], 3);
	}
	drop("wrr", st);
}
END_TEST

START_TEST(wrr_smooth_as_nginx)
{
	const uint32_t w[] = { 5, 1, 1 };
	const int32_t nginx[] = { 0, 0, 1, 0, 2, 0, 0 }; /* a a b a c a a */
	struct sched_backend b[3];
	int32_t prev = -1;
	int run = 0;
	void *st;

	backends_fill(b, 3, w);
	st = make("wrr", b, 3, 1, 0);
	for (int i = 0; i < 7 * 20; i++) {
		int32_t r = pick("wrr", st, 0, NULL, NULL);

		ck_assert_int_eq(r, nginx[i % 7]);
		/* within a cycle no backend runs 3 times in a row (across
		 * cycles "a a | a a" does, as in nginx) */
		if (i % 7 == 0)
			prev = -1;
		run = r == prev ? run + 1 : 1;
		prev = r;
		ck_assert_int_lt(run, 3);
	}
	drop("wrr", st);
}
END_TEST

START_TEST(wrr_weight0_never_picked)
{
	const uint32_t w[] = { 0, 3, 0, 1, 0 };
	struct sched_backend b[5];
	int cnt[5] = { 0 };
	void *st;

	backends_fill(b, 5, w);
	st = make("wrr", b, 5, 2, 0);
	for (int i = 0; i < 400; i++) {
		int32_t r = pick("wrr", st, 1, NULL, NULL);

		ck_assert_int_ge(r, 0);
		ck_assert_int_lt(r, 5);
		cnt[r]++;
	}
	ck_assert_int_eq(cnt[0] + cnt[2] + cnt[4], 0);
	ck_assert_int_eq(cnt[1], 300);
	ck_assert_int_eq(cnt[3], 100);
	drop("wrr", st);
}
END_TEST

START_TEST(wrr_large_weights)
{
	/* weights near 2^32 neither overflow nor bias the ratio */
	const uint32_t w[] = { UINT32_MAX, UINT32_MAX, 1 };
	struct sched_backend b[3];
	int cnt[3] = { 0 };
	void *st;

	backends_fill(b, 3, w);
	st = make("wrr", b, 3, 1, 0);
	for (int i = 0; i < 1000; i++)
		cnt[pick("wrr", st, 0, NULL, NULL)]++;
	ck_assert_int_eq(cnt[0], 500);
	ck_assert_int_eq(cnt[1], 500);
	ck_assert_int_eq(cnt[2], 0);
	drop("wrr", st);
}
END_TEST

START_TEST(wrr_workers_independent)
{
	const uint32_t w[] = { 3, 1, 0, 2 };

	check_worker_independence("wrr", w, 4);
}
END_TEST

/* ---- lc / wlc ----------------------------------------------------------- */

START_TEST(lc_least_overhead)
{
	const uint32_t w[] = { 1, 1, 1, 1 };
	uint32_t act[] = { 5, 2, 0, 2 }, inact[] = { 0, 3, 0, 1 };
	struct sched_load l = { .active = act, .inactive = inact };
	struct sched_backend b[4];
	void *st;

	backends_fill(b, 4, w);
	b[2].weight = 0; /* idle but quiesced */
	st = make("lc", b, 4, 1, 0);
	/* overheads 1280, 515, -, 513 */
	ck_assert_int_eq(pick("lc", st, 0, NULL, &l), 3);
	/* active counts 256 times an inactive one */
	act[1] = 1;
	inact[1] = 255;
	ck_assert_int_eq(pick("lc", st, 0, NULL, &l), 1); /* 511 < 513 */
	/* without inactive counts: 1280, 256, -, 512 */
	l.inactive = NULL;
	ck_assert_int_eq(pick("lc", st, 0, NULL, &l), 1);
	drop("lc", st);
}
END_TEST

START_TEST(lc_ties_and_no_load)
{
	const uint32_t w[] = { 0, 7, 1, 1 };
	uint32_t act[] = { 0, 4, 4, 4 };
	struct sched_load l = { .active = act };
	struct sched_backend b[4];
	void *st;

	backends_fill(b, 4, w);
	st = make("lc", b, 4, 1, 0);
	ck_assert_int_eq(pick("lc", st, 0, NULL, &l), 1); /* tie: first */
	ck_assert_int_eq(pick("lc", st, 0, NULL, NULL), 1);
	act[1] = 5; /* lc ignores the weight's value */
	ck_assert_int_eq(pick("lc", st, 0, NULL, &l), 2);
	drop("lc", st);
}
END_TEST

START_TEST(wlc_least_per_weight)
{
	const uint32_t w[] = { 1, 2, 3, 0 };
	uint32_t act[] = { 1, 2, 3, 0 };
	struct sched_load l = { .active = act };
	struct sched_backend b[4];
	void *st;

	backends_fill(b, 4, w);
	st = make("wlc", b, 4, 1, 0);
	/* 256/1 = 512/2 = 768/3: tie, first; weight 0 idle one skipped */
	ck_assert_int_eq(pick("wlc", st, 0, NULL, &l), 0);
	act[2] = 2; /* 512/3 is least */
	ck_assert_int_eq(pick("wlc", st, 0, NULL, &l), 2);
	act[0] = 0;
	ck_assert_int_eq(pick("wlc", st, 0, NULL, &l), 0);
	drop("wlc", st);

	/* lc and wlc disagree when weights differ */
	{
		const uint32_t w2[] = { 1, 10 };
		uint32_t a2[] = { 1, 2 };
		struct sched_load l2 = { .active = a2 };
		void *lc, *wlc;

		backends_fill(b, 2, w2);
		lc = make("lc", b, 2, 1, 0);
		wlc = make("wlc", b, 2, 1, 0);
		ck_assert_int_eq(pick("lc", lc, 0, NULL, &l2), 0);
		ck_assert_int_eq(pick("wlc", wlc, 0, NULL, &l2), 1);
		drop("lc", lc);
		drop("wlc", wlc);
	}
}
END_TEST

START_TEST(wlc_no_overflow)
{
	/* overhead up to 2^40 times weight up to 2^32 needs 128 bits */
	const uint32_t w[] = { UINT32_MAX, 1 };
	uint32_t act[] = { UINT32_MAX, 1 }, inact[] = { UINT32_MAX, 0 };
	struct sched_load l = { .active = act, .inactive = inact };
	struct sched_backend b[2];
	void *st;

	backends_fill(b, 2, w);
	st = make("wlc", b, 2, 1, 0);
	/* (2^32-1)*257 / (2^32-1) = 257 > 256 / 1 */
	ck_assert_int_eq(pick("wlc", st, 0, NULL, &l), 1);
	act[1] = 2; /* 257 < 512 */
	ck_assert_int_eq(pick("wlc", st, 0, NULL, &l), 0);
	drop("wlc", st);
}
END_TEST

/* ---- lrt ---------------------------------------------------------------- */

START_TEST(lrt_lowest_response_time)
{
	const uint32_t w[] = { 1, 1, 1, 0 };
	uint32_t act[] = { 0, 0, 0, 0 }, rtt[] = { 300, 100, 200, 10 };
	struct sched_load l = { .active = act, .rtt_us = rtt };
	struct sched_backend b[4];
	void *st;

	backends_fill(b, 4, w);
	st = make("lrt", b, 4, 1, 0);
	/* fastest eligible; the faster weight 0 one is skipped */
	ck_assert_int_eq(pick("lrt", st, 0, NULL, &l), 1);
	/* (active+1)*rtt: 300, 600, 200 */
	act[1] = 5;
	ck_assert_int_eq(pick("lrt", st, 0, NULL, &l), 2);
	/* tie 300, 300, 300: first */
	act[1] = 2;
	act[2] = 0;
	rtt[2] = 300;
	ck_assert_int_eq(pick("lrt", st, 0, NULL, &l), 0);
	drop("lrt", st);
}
END_TEST

START_TEST(lrt_weights_scale)
{
	const uint32_t w[] = { 1, 4 };
	uint32_t act[] = { 0, 0 }, rtt[] = { 100, 300 };
	struct sched_load l = { .active = act, .rtt_us = rtt };
	struct sched_backend b[2];
	void *st;

	backends_fill(b, 2, w);
	st = make("lrt", b, 2, 1, 0);
	ck_assert_int_eq(pick("lrt", st, 0, NULL, &l), 1); /* 100 > 75 */
	act[1] = 1;					   /* 150 */
	ck_assert_int_eq(pick("lrt", st, 0, NULL, &l), 0);
	drop("lrt", st);
}
END_TEST

START_TEST(lrt_unmeasured_scored_with_mean)
{
	const uint32_t w[] = { 1, 1, 1 };
	uint32_t act[] = { 0, 0, 0 }, rtt[] = { 100, 300, 0 };
	struct sched_load l = { .active = act, .rtt_us = rtt };
	struct sched_backend b[3];
	void *st;

	backends_fill(b, 3, w);
	st = make("lrt", b, 3, 1, 0);
	/* unmeasured backend 2 counts as the mean, 200: 100 wins */
	ck_assert_int_eq(pick("lrt", st, 0, NULL, &l), 0);
	/* 300, 300, 200: the new backend gets its first connections */
	act[0] = 2;
	ck_assert_int_eq(pick("lrt", st, 0, NULL, &l), 2);
	drop("lrt", st);
}
END_TEST

START_TEST(lrt_falls_back_to_wlc)
{
	const uint32_t w[] = { 1, 3, 2, 0 };
	uint32_t act[] = { 3, 7, 2, 0 }, inact[] = { 1, 9, 5, 0 };
	uint32_t zero[] = { 0, 0, 0, 0 }, only_q[] = { 0, 0, 0, 50 };
	struct sched_load l = { .active = act, .inactive = inact };
	struct sched_backend b[4];
	void *lrt, *wlc;
	int32_t want;

	backends_fill(b, 4, w);
	lrt = make("lrt", b, 4, 1, 0);
	wlc = make("wlc", b, 4, 1, 0);
	for (int round = 0; round < 20; round++) {
		act[round % 3] += (uint32_t)round;
		want = pick("wlc", wlc, 0, NULL, &l);
		ck_assert_int_ge(want, 0);
		l.rtt_us = NULL;
		ck_assert_int_eq(pick("lrt", lrt, 0, NULL, &l), want);
		l.rtt_us = zero;
		ck_assert_int_eq(pick("lrt", lrt, 0, NULL, &l), want);
		/* only a quiesced backend measured: still nothing known */
		l.rtt_us = only_q;
		ck_assert_int_eq(pick("lrt", lrt, 0, NULL, &l), want);
	}
	ck_assert_int_eq(pick("lrt", lrt, 0, NULL, NULL), 0);
	drop("lrt", lrt);
	drop("wlc", wlc);
}
END_TEST

/* ---- sh ----------------------------------------------------------------- */

START_TEST(sh_stable_per_source)
{
	const uint32_t w[] = { 1, 2, 3, 4, 0 };
	struct sched_backend b[5], rev[5];
	struct sched_flow f;
	void *st, *st2, *st3;

	backends_fill(b, 5, w);
	for (int i = 0; i < 5; i++)
		rev[i] = b[4 - i];
	st = make("sh", b, 5, 2, 0);
	st2 = make("sh", b, 5, 1, 0);
	st3 = make("sh", rev, 5, 1, 0);
	for (uint32_t i = 0; i < 20000; i++) {
		int32_t r;

		flow_fill(&f, i);
		r = pick("sh", st, 0, &f, NULL);
		ck_assert_int_ge(r, 0);
		ck_assert_int_lt(r, 4);
		ck_assert_int_eq(pick("sh", st, 1, &f, NULL), r);
		ck_assert_int_eq(pick("sh", st, 0, &f, NULL), r);
		ck_assert_int_eq(pick("sh", st2, 0, &f, NULL), r);
		/* same backends in another order: same addr:port chosen */
		ck_assert_int_eq(pick("sh", st3, 0, &f, NULL), 4 - r);
		/* without the flag, the port does not matter */
		f.sport++;
		ck_assert_int_eq(pick("sh", st, 0, &f, NULL), r);
	}
	drop("sh", st);
	drop("sh", st2);
	drop("sh", st3);
}
END_TEST

static void
sh_count(void *st, int32_t *out, int *cnt, int n)
{
	struct sched_flow f;

	memset(cnt, 0, (size_t)n * sizeof(*cnt));
	for (uint32_t i = 0; i < NSOURCES; i++) {
		int32_t r;

		flow_fill(&f, i);
		r = pick("sh", st, 0, &f, NULL);
		ck_assert_int_ge(r, 0);
		ck_assert_int_lt(r, n);
		cnt[r]++;
		if (out != NULL)
			out[i] = r;
	}
}

START_TEST(sh_follows_weights)
{
	/*
	 * Criterion: each backend's share of 100k sources is within 1
	 * percentage point of its weight fraction, and within 8% of it
	 * relative. The noise is inherent: 2^14 buckets owned at random give
	 * a 10% share a 2.3% relative standard deviation, 100k sources 1%
	 * more; 8% is over 3 standard deviations.
	 */
	const uint32_t w[] = { 1, 2, 3, 4, 0 };
	struct sched_backend b[5];
	double worst = 0, worst_pp = 0;
	int cnt[5];
	void *st;

	backends_fill(b, 5, w);
	st = make("sh", b, 5, 1, 0);
	sh_count(st, NULL, cnt, 5);
	ck_assert_int_eq(cnt[4], 0);
	for (int i = 0; i < 4; i++) {
		double share = (double)cnt[i] / NSOURCES, frac = w[i] / 10.0;
		double dev = fabs(share / frac - 1), pp = fabs(share - frac);

		worst = dev > worst ? dev : worst;
		worst_pp = pp > worst_pp ? pp : worst_pp;
		ck_assert_msg(dev < 0.08 && pp < 0.01,
			      "backend %d: share %.4f, weight fraction %.2f", i,
			      share, frac);
	}
	printf("sh 1:2:3:4 over %u sources: worst share off its weight "
	       "fraction by %.2f points, %.2f%% relative\n",
	       NSOURCES, worst_pp * 100, worst * 100);
	drop("sh", st);
}
END_TEST

START_TEST(sh_quiesce_moves_only_its_sources)
{
	const uint32_t w[] = { 1, 2, 3, 4, 2, 2 };
	static int32_t before[NSOURCES], after[NSOURCES], again[NSOURCES];
	struct sched_backend b[6];
	int cnt[6], to[6] = { 0 };
	uint32_t moved = 0;
	void *st;

	backends_fill(b, 6, w);
	st = make("sh", b, 6, 1, 0);
	sh_count(st, before, cnt, 6);
	drop("sh", st);
	ck_assert_int_gt(cnt[3], 0);

	b[3].weight = 0;
	st = make("sh", b, 6, 1, 0);
	sh_count(st, after, cnt, 6);
	drop("sh", st);
	ck_assert_int_eq(cnt[3], 0);
	for (uint32_t i = 0; i < NSOURCES; i++) {
		if (before[i] != 3) {
			ck_assert_int_eq(after[i], before[i]);
		} else {
			ck_assert_int_ne(after[i], 3);
			to[after[i]]++;
			moved++;
		}
	}
	/* the quiesced backend's sources spread over all the others */
	for (int i = 0; i < 6; i++)
		if (i != 3)
			ck_assert_int_gt(to[i], (int)moved / 30);

	/* restoring the weight brings every source back */
	b[3].weight = 4;
	st = make("sh", b, 6, 1, 0);
	sh_count(st, again, cnt, 6);
	drop("sh", st);
	ck_assert_mem_eq(again, before, sizeof(before));
}
END_TEST

START_TEST(sh_port_flag)
{
	struct sched_backend b[8];
	struct sched_flow f;
	int32_t port0, plain0;
	void *plain, *port;
	int differ = 0;

	backends_fill(b, 8, NULL);
	plain = make("sh", b, 8, 1, 0);
	port = make("sh", b, 8, 1, LB_SVC_F_SH_PORT);
	flow_fill(&f, 77);
	f.sport = 999;
	port0 = pick("sh", port, 0, &f, NULL);
	plain0 = pick("sh", plain, 0, &f, NULL);
	for (uint16_t p = 1000; p < 1064; p++) {
		int32_t r;

		f.sport = p;
		r = pick("sh", port, 0, &f, NULL);
		differ += r != port0;
		/* each (source, port) still has one backend */
		ck_assert_int_eq(pick("sh", port, 0, &f, NULL), r);
		ck_assert_int_eq(pick("sh", plain, 0, &f, NULL), plain0);
	}
	/* 8 equal backends: about 7 in 8 ports choose another backend */
	ck_assert_int_gt(differ, 32);
	drop("sh", plain);
	drop("sh", port);
}
END_TEST

START_TEST(sh_ipv6_sources)
{
	struct sched_backend b[4];
	struct sched_flow f;
	int cnt[4] = { 0 };
	void *st;

	backends_fill(b, 4, NULL);
	st = make("sh", b, 4, 1, 0);
	memset(&f, 0, sizeof(f));
	f.saddr.family = AF_INET6;
	f.saddr.bytes[0] = 0x20;
	f.saddr.bytes[1] = 0x01;
	for (uint32_t i = 0; i < 40000; i++) {
		int32_t r;

		f.saddr.bytes[14] = (uint8_t)(i >> 8);
		f.saddr.bytes[15] = (uint8_t)i;
		f.saddr.bytes[7] = (uint8_t)(i >> 16);
		r = pick("sh", st, 0, &f, NULL);
		ck_assert_int_ge(r, 0);
		ck_assert_int_lt(r, 4);
		ck_assert_int_eq(pick("sh", st, 0, &f, NULL), r);
		cnt[r]++;
	}
	for (int i = 0; i < 4; i++) {
		ck_assert_int_gt(cnt[i], 10000 * 90 / 100);
		ck_assert_int_lt(cnt[i], 10000 * 110 / 100);
	}
	drop("sh", st);
}
END_TEST

/*
 * sched_sh.c: building costs "about 25 ms for 1000 backends" (one hash
 * per bucket and backend, one logarithm per distinct weight). Limit: twice
 * that in CPU time, best of 3 (see test_timing.h), which a build taking a
 * logarithm per bucket and backend (16 M of them) exceeds (measured: 86
 * ms).
 */
START_TEST(sh_build_time_1000)
{
	static struct sched_backend b[1000];
	double best = 1e9, limit = 50.0 * test_time_slack();
	uint32_t w[1000];

	for (int i = 0; i < 1000; i++)
		w[i] = 1 + i % 4;
	backends_fill(b, 1000, w);
	for (int r = 0; r < 3; r++) {
		double t0 = test_cpu_ms(), ms;
		void *st = make("sh", b, 1000, 1, 0);

		ms = test_cpu_ms() - t0;
		best = ms < best ? ms : best;
		drop("sh", st);
	}
	printf("sh build N=1000 (weights 1..4): %.2f ms CPU (best of 3, "
	       "limit %.1f)\n",
	       best, limit);
	ck_assert_msg(best <= limit, "sh build N=1000 took %.2f ms, limit %.1f",
		      best, limit);
}
END_TEST

/* ---- limits and errors (every scheduler) -------------------------------- */

START_TEST(all_none_eligible)
{
	const uint32_t w[] = { 0, 0, 0 };
	uint32_t act[] = { 0, 0, 0 }, rtt[] = { 5, 5, 5 };
	struct sched_load l = { .active = act, .rtt_us = rtt };
	struct sched_backend b[3];
	struct sched_flow f;

	backends_fill(b, 3, w);
	flow_fill(&f, 9);
	for (int i = 0; i < NALL; i++) {
		void *st = make(all_names[i], b, 3, 2, 0);
		void *empty = make(all_names[i], NULL, 0, 2, 0);

		for (int k = 0; k < 5; k++) {
			ck_assert_int_eq(pick(all_names[i], st, 1, &f, &l), -1);
			ck_assert_int_eq(pick(all_names[i], empty, 0, &f, NULL),
					 -1);
		}
		drop(all_names[i], st);
		drop(all_names[i], empty);
	}
}
END_TEST

START_TEST(all_single_backend)
{
	const uint32_t w[] = { 0, 9 };
	struct sched_backend b[2];
	struct sched_flow f;

	backends_fill(b, 2, w);
	for (int i = 0; i < NALL; i++) {
		void *st = make(all_names[i], b, 2, 1, 0);

		for (uint32_t k = 0; k < 50; k++) {
			flow_fill(&f, k);
			ck_assert_int_eq(pick(all_names[i], st, 0, &f, NULL),
					 1);
		}
		drop(all_names[i], st);
	}
}
END_TEST

START_TEST(err_bad_params)
{
	struct sched_backend b[2];
	struct sched_params p = { .nworkers = 1 };

	backends_fill(b, 2, NULL);
	for (int i = 0; i < NALL; i++) {
		const struct sched_ops *ops = sched_find(all_names[i]);
		void *st;

		errno = 0;
		ck_assert_ptr_null(ops->create(b, 2, NULL));
		ck_assert_int_eq(errno, EINVAL);
		p.nworkers = 0;
		errno = 0;
		ck_assert_ptr_null(ops->create(b, 2, &p));
		ck_assert_int_eq(errno, EINVAL);
		p.nworkers = SCHED_MAX_WORKERS + 1;
		errno = 0;
		ck_assert_ptr_null(ops->create(b, 2, &p));
		ck_assert_int_eq(errno, EINVAL);
		p.nworkers = 1;
		errno = 0;
		ck_assert_ptr_null(ops->create(NULL, 2, &p));
		ck_assert_int_eq(errno, EINVAL);
		errno = 0;
		ck_assert_ptr_null(ops->create(b, SCHED_MAX_BACKENDS + 1, &p));
		ck_assert_int_eq(errno, EINVAL);
		p.nworkers = SCHED_MAX_WORKERS;
		st = ops->create(b, 2, &p);
		ck_assert_ptr_nonnull(st);
		ops->destroy(st);
		p.nworkers = 1;
	}
}
END_TEST

START_TEST(err_worker_out_of_range)
{
	struct sched_backend b[3];
	struct sched_flow f;

	backends_fill(b, 3, NULL);
	flow_fill(&f, 1);
	for (int i = 0; i < NALL; i++) {
		void *st = make(all_names[i], b, 3, 2, 0);

		ck_assert_int_ge(pick(all_names[i], st, 1, &f, NULL), 0);
		ck_assert_int_eq(pick(all_names[i], st, 2, &f, NULL), -1);
		ck_assert_int_eq(pick(all_names[i], st, 1000000, &f, NULL), -1);
		drop(all_names[i], st);
	}
	/* sh and mh need the flow */
	for (int i = 0; i < 2; i++) {
		const char *name = i == 0 ? "sh" : "mh";
		void *st = make(name, b, 3, 1, 0);

		ck_assert_int_eq(pick(name, st, 0, NULL, NULL), -1);
		drop(name, st);
	}
}
END_TEST

static Suite *
sched_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_test(core, registry_lists_and_finds_all);
	tcase_add_test(core, registry_list_short_buffer);
	tcase_add_test(core, flow_hash_inputs);
	tcase_add_test(core, flow_hash_spreads);
	tcase_add_test(core, rr_cycles_in_order_skipping_weight0);
	tcase_add_test(core, rr_workers_independent);
	tcase_add_test(core, rr_each_worker_fair);
	tcase_add_test(core, wrr_exact_ratio_per_cycle);
	tcase_add_test(core, wrr_smooth_as_nginx);
	tcase_add_test(core, wrr_weight0_never_picked);
	tcase_add_test(core, wrr_workers_independent);
	tcase_add_test(core, lc_least_overhead);
	tcase_add_test(core, lc_ties_and_no_load);
	tcase_add_test(core, wlc_least_per_weight);
	tcase_add_test(core, lrt_lowest_response_time);
	tcase_add_test(core, lrt_weights_scale);
	tcase_add_test(core, lrt_unmeasured_scored_with_mean);
	tcase_add_test(core, lrt_falls_back_to_wlc);
	tcase_add_test(core, sh_stable_per_source);
	tcase_add_test(core, sh_follows_weights);
	tcase_add_test(core, sh_quiesce_moves_only_its_sources);
	tcase_add_test(core, sh_port_flag);
	tcase_add_test(core, sh_ipv6_sources);
	suite_add_tcase(s, core);

	tcase_add_test(limits, wrr_large_weights);
	tcase_add_test(limits, wlc_no_overflow);
	tcase_add_test(limits, all_none_eligible);
	tcase_add_test(limits, all_single_backend);
	tcase_add_test(limits, sh_build_time_1000);
	suite_add_tcase(s, limits);

	tcase_add_test(errors, err_bad_params);
	tcase_add_test(errors, err_worker_out_of_range);
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(sched_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
