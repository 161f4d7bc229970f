/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Time limits in unit tests. A limit is checked against the CPU time of
 * the calling thread, best of several runs, so that other processes on a
 * busy machine (a CI host, parallel builds) do not make a test fail by
 * taking the CPU away; what remains is the code's own cost. Limits are
 * stated for an optimised build and multiplied by test_time_slack() in a
 * build that is not optimised or that runs under ASan/UBSan (measured:
 * ASan+UBSan makes the scheduler builds 5-6 times slower).
 */
#ifndef EDGELB_TEST_TIMING_H
#define EDGELB_TEST_TIMING_H

#include <time.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) ||                                        \
	__has_feature(undefined_behavior_sanitizer)
#define TEST_TIMING_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_TIMING_SANITIZED 1
#endif

/* CPU time of the calling thread, in milliseconds. */
static inline double
test_cpu_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Factor applied to a limit stated for an optimised build. */
static inline double
test_time_slack(void)
{
	double f = 1.0;

#ifdef TEST_TIMING_SANITIZED
	f *= 10.0;
#endif
#ifndef __OPTIMIZE__
	f *= 5.0;
#endif
	return f;
}

#endif
