/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_maglev: the Maglev scheduler's build time, balance and disruption
 * (figure 4 of docs/BENCHMARKS.md).
 *
 * For each table size M and backend count N it builds the lookup table
 * through the scheduler's own create() (sched_find("mh")), as the control
 * thread does when a service changes, and reports:
 *
 *   build_ms   the median of R builds (wall clock, CLOCK_MONOTONIC);
 *   balance    max share / average share over the backends (1.0 = equal);
 *   disruption for 1%, 5% and 10% of the backends failing (weight 0, as
 *              the health checker sets it): the share of the table whose
 *              backend changed although its old backend is still alive,
 *              i.e. the slots moved beyond the failed backends' own.
 *
 * Every table is checked before it is measured (each entry a valid index,
 * no entry pointing at a failed backend, every live backend present), and
 * the program exits 1 when a check fails, so smoke mode proves that the
 * figures come from working tables. Nothing here is compared against a
 * goal: that is docs/BENCHMARKS.md's job.
 *
 * Output: one JSON object on stdout. Smoke mode (EDGELB_BENCH_SMOKE=1 or
 * --smoke) runs the small sizes with few repetitions.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "sched_ops.h"

#define BENCH_MAX_RUNS 64

static const double fail_shares[] = { 0.01, 0.05, 0.10 };
#define NFAIL (sizeof(fail_shares) / sizeof(fail_shares[0]))

struct mh_result {
	uint32_t m;
	uint32_t n;
	unsigned int runs;
	double build_ms_median;
	double build_ms_min;
	double balance;
	double disruption[NFAIL];   /* share of M moved beyond the failed */
	double failed_share[NFAIL]; /* share of M the failed owned */
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* n backends 10.B.C.D:80 with weight 1, distinct addresses. */
static void
fill_backends(struct sched_backend *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		b[i].addr.family = AF_INET;
		b[i].addr.v4 = htonl(0x0a000000u | (i + 1));
		b[i].port = 80;
		b[i].weight = 1;
	}
}

/*
 * Check a table against the backends: every entry in [0, n) with a
 * weight above 0, and every such backend owning at least one slot.
 * Counts per backend go to owned[]. Returns 0 or -1 with a message.
 */
static int
check_table(const int32_t *t, uint32_t m, const struct sched_backend *b,
	    uint32_t n, uint32_t *owned)
{
	memset(owned, 0, n * sizeof(*owned));
	for (uint32_t s = 0; s < m; s++) {
		if (t[s] < 0 || (uint32_t)t[s] >= n) {
			fprintf(stderr, "bench_maglev: slot %u holds %d\n", s,
				t[s]);
			return -1;
		}
		if (b[t[s]].weight == 0) {
			fprintf(stderr,
				"bench_maglev: slot %u holds failed backend "
				"%d\n",
				s, t[s]);
			return -1;
		}
		owned[t[s]]++;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (b[i].weight > 0 && owned[i] == 0) {
			fprintf(stderr,
				"bench_maglev: backend %u owns nothing\n", i);
			return -1;
		}
	}
	return 0;
}

/* Build the state of b[0..n) with table size m; NULL with a message. */
static void *
build(const struct sched_ops *mh, const struct sched_backend *b, uint32_t n,
      uint32_t m, const int32_t **table)
{
	struct sched_params p = { .nworkers = 1, .mh_size = m };
	uint32_t size;
	void *st;

	st = mh->create(b, n, &p);
	if (st == NULL) {
		fprintf(stderr, "bench_maglev: create(M=%u, N=%u): %s\n", m, n,
			strerror(errno));
		return NULL;
	}
	if (sched_mh_table(st, table, &size) != 0 || size != m) {
		fprintf(stderr, "bench_maglev: no table of size %u\n", m);
		mh->destroy(st);
		return NULL;
	}
	return st;
}

static int
measure(const struct sched_ops *mh, uint32_t m, uint32_t n, unsigned int runs,
	struct mh_result *r)
{
	struct sched_backend *b = calloc(n, sizeof(*b));
	uint32_t *owned = calloc(n, sizeof(*owned));
	int32_t *before = malloc((size_t)m * sizeof(*before));
	double times[BENCH_MAX_RUNS];
	const int32_t *t;
	uint32_t maxown = 0;
	int ret = -1;
	void *st;

	if (b == NULL || owned == NULL || before == NULL) {
		fprintf(stderr, "bench_maglev: out of memory\n");
		goto out;
	}
	memset(r, 0, sizeof(*r));
	r->m = m;
	r->n = n;
	r->runs = runs;
	fill_backends(b, n);

	for (unsigned int i = 0; i < runs; i++) {
		double t0 = now_ms();

		st = build(mh, b, n, m, &t);
		if (st == NULL)
			goto out;
		times[i] = now_ms() - t0;
		if (i + 1 == runs) {
			if (check_table(t, m, b, n, owned) != 0) {
				mh->destroy(st);
				goto out;
			}
			memcpy(before, t, (size_t)m * sizeof(*before));
		}
		mh->destroy(st);
	}
	qsort(times, runs, sizeof(times[0]), cmp_double);
	r->build_ms_min = times[0];
	r->build_ms_median = times[runs / 2];

	for (uint32_t i = 0; i < n; i++)
		if (owned[i] > maxown)
			maxown = owned[i];
	r->balance = (double)maxown / ((double)m / (double)n);

	for (size_t f = 0; f < NFAIL; f++) {
		uint32_t nfail = (uint32_t)(fail_shares[f] * n + 0.5);
		uint32_t moved = 0, lost = 0;

		if (nfail == 0)
			nfail = 1;
		/* Fail every (n / nfail)-th backend: spread over the list. */
		fill_backends(b, n);
		for (uint32_t k = 0; k < nfail; k++)
			b[(uint64_t)k * n / nfail].weight = 0;
		st = build(mh, b, n, m, &t);
		if (st == NULL)
			goto out;
		if (check_table(t, m, b, n, owned) != 0) {
			mh->destroy(st);
			goto out;
		}
		for (uint32_t s = 0; s < m; s++) {
			if (b[before[s]].weight == 0)
				lost++;
			else if (t[s] != before[s])
				moved++;
		}
		mh->destroy(st);
		r->disruption[f] = (double)moved / m;
		r->failed_share[f] = (double)lost / m;
	}
	ret = 0;
out:
	free(b);
	free(owned);
	free(before);
	return ret;
}

static void
print_result(const struct mh_result *r, int last)
{
	printf("    {\"M\": %u, \"N\": %u, \"runs\": %u, "
	       "\"build_ms_median\": %.3f, \"build_ms_min\": %.3f, "
	       "\"balance_max_over_avg\": %.5f, \"disruption\": [",
	       r->m, r->n, r->runs, r->build_ms_median, r->build_ms_min,
	       r->balance);
	for (size_t f = 0; f < NFAIL; f++)
		printf("%s{\"failed_share\": %.2f, \"slots_of_failed\": %.5f, "
		       "\"extra_moved\": %.5f}",
		       f ? ", " : "", fail_shares[f], r->failed_share[f],
		       r->disruption[f]);
	printf("]}%s\n", last ? "" : ",");
}

int
main(int argc, char **argv)
{
	static const uint32_t sizes[] = { 65537, 655373 };
	static const uint32_t counts[] = { 100, 1000 };
	const char *smoke_env = getenv("EDGELB_BENCH_SMOKE");
	int smoke = smoke_env != NULL && strcmp(smoke_env, "0") != 0 &&
		    smoke_env[0] != '\0';
	struct mh_result res[4];
	const struct sched_ops *mh;
	unsigned int nres = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--smoke") == 0) {
			smoke = 1;
		} else {
			fprintf(stderr, "usage: bench_maglev [--smoke]\n");
			return 2;
		}
	}
	mh = sched_find("mh");
	if (mh == NULL) {
		fprintf(stderr, "bench_maglev: no mh scheduler\n");
		return 1;
	}
	for (size_t i = 0; i < 2; i++) {
		for (size_t j = 0; j < 2; j++) {
			unsigned int runs;

			/* Smoke: the small table only, 3 builds each. */
			if (smoke && i > 0)
				continue;
			runs = smoke ? 3 : (sizes[i] > 100000 ? 11 : 31);
			if (measure(mh, sizes[i], counts[j], runs,
				    &res[nres]) != 0)
				return 1;
			nres++;
		}
	}
	printf("{\"figure\": \"maglev\", \"smoke\": %s, \"results\": [\n",
	       smoke ? "true" : "false");
	for (unsigned int i = 0; i < nres; i++)
		print_result(&res[i], i + 1 == nres);
	printf("]}\n");
	return 0;
}
