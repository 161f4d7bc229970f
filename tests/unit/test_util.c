/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The helpers of edgelb/util.h: the primality test against a sieve, the
 * array growth (capacity, contents kept, overflow refused with the array
 * untouched) and the monotonic clock.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edgelb/util.h"

#define SIEVE_N 200000u

START_TEST(is_prime_matches_sieve)
{
	uint8_t *composite = calloc(SIEVE_N, 1);

	ck_assert_ptr_nonnull(composite);
	composite[0] = composite[1] = 1;
	for (uint32_t i = 2; i * i < SIEVE_N; i++)
		if (!composite[i])
			for (uint32_t j = i * i; j < SIEVE_N; j += i)
				composite[j] = 1;
	for (uint32_t n = 0; n < SIEVE_N; n++)
		ck_assert_msg(lb_is_prime(n) == !composite[n], "n=%u", n);
	free(composite);
	/* Near the top of the range: trial division must not overflow. */
	ck_assert(lb_is_prime(4294967291u)); /* largest 32-bit prime */
	ck_assert(!lb_is_prime(4294967295u));
	ck_assert(!lb_is_prime(4294967071u)); /* 65521 * 65551 */
	ck_assert(lb_is_prime(16777213u));    /* largest Maglev size */
}
END_TEST

START_TEST(array_grow)
{
	uint32_t *a = NULL;
	size_t cap = 0, n = 0;

	ck_assert_int_eq(lb_array_grow(&a, &cap, 0, sizeof(*a)), 0);
	ck_assert_ptr_null(a);
	for (uint32_t i = 0; i < 1000; i++) {
		size_t before = cap;

		ck_assert_int_eq(lb_array_grow(&a, &cap, n + 1, sizeof(*a)), 0);
		ck_assert_uint_ge(cap, n + 1);
		/* Doubling: a push reallocates only when full. */
		if (before >= n + 1)
			ck_assert_uint_eq(cap, before);
		else
			ck_assert_uint_eq(cap, before < 4 ? 8 : before * 2);
		a[n++] = i * 7;
	}
	for (uint32_t i = 0; i < n; i++)
		ck_assert_uint_eq(a[i], i * 7);
	ck_assert_uint_eq(cap, 1024);
	/* A need far above doubles jumps straight to a power-of-two cover. */
	ck_assert_int_eq(lb_array_grow(&a, &cap, 5000, sizeof(*a)), 0);
	ck_assert_uint_eq(cap, 8192);
	ck_assert_uint_eq(a[999], 999 * 7);
	free(a);
}
END_TEST

START_TEST(array_grow_overflow)
{
	uint64_t *a = malloc(8 * sizeof(*a));
	uint64_t *keep = a;
	size_t cap = 8;

	ck_assert_ptr_nonnull(a);
	a[7] = 42;
	ck_assert_int_eq(lb_array_grow(&a, &cap, SIZE_MAX / 4, sizeof(*a)),
			 -EOVERFLOW);
	ck_assert_int_eq(lb_array_grow(&a, &cap, SIZE_MAX, 1), -EOVERFLOW);
	ck_assert_ptr_eq(a, keep);
	ck_assert_uint_eq(cap, 8);
	ck_assert_uint_eq(a[7], 42);
	free(a);
}
END_TEST

START_TEST(now_ms_monotonic)
{
	struct timespec d = { 0, 30 * 1000 * 1000 };
	uint64_t t0 = lb_now_ms(), t1;

	nanosleep(&d, NULL);
	t1 = lb_now_ms();
	ck_assert_uint_ge(t1, t0 + 29);
	ck_assert_uint_lt(t1, t0 + 10000);
}
END_TEST

/* lb_now_ms is lb_now_ns in milliseconds: one clock. */
START_TEST(now_ns_is_now_ms)
{
	struct timespec d = { 0, 5 * 1000 * 1000 };
	uint64_t n0 = lb_now_ns(), ms, n1;

	nanosleep(&d, NULL);
	ms = lb_now_ms();
	n1 = lb_now_ns();
	ck_assert_uint_ge(n1, n0 + 5000000);
	ck_assert_uint_ge(ms, n0 / 1000000);
	ck_assert_uint_le(ms, n1 / 1000000);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("util");
	TCase *core = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(core, is_prime_matches_sieve);
	tcase_add_test(core, array_grow);
	tcase_add_test(core, array_grow_overflow);
	tcase_add_test(core, now_ms_monotonic);
	tcase_add_test(core, now_ns_is_now_ms);
	suite_add_tcase(s, core);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
