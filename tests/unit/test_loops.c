/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Service event-loop threads (controlplane/loops.c): functions queued
 * from several threads run on the loop they were given to, each exactly
 * once and in the order one producer queued them; a function can arm an
 * event on its own loop's base and see it fire there; loops_stop runs
 * what was queued, then refuses more (-ESHUTDOWN) and joins.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "loops.h"

#define NLOOPS	  3
#define PRODUCERS 3
#define PER	  2000 /* functions per producer per loop */

static struct loops *l;

/* Written only by loop i's thread; read after it was joined. */
static struct {
	uint64_t ran;
	uint64_t wrong_thread;
	uint64_t out_of_order;
	int last[PRODUCERS];
} per[NLOOPS];

struct job {
	unsigned int loop;
	int producer;
	int seq;
};

static void
job_fn(void *arg)
{
	struct job *j = arg;

	if (loops_current() != (int)j->loop)
		per[j->loop].wrong_thread++;
	if (j->seq != per[j->loop].last[j->producer] + 1)
		per[j->loop].out_of_order++;
	per[j->loop].last[j->producer] = j->seq;
	per[j->loop].ran++;
	free(j);
}

static void *
producer(void *arg)
{
	int p = (int)(intptr_t)arg;

	for (int s = 1; s <= PER; s++)
		for (unsigned int i = 0; i < NLOOPS; i++) {
			struct job *j = malloc(sizeof(*j));

			*j = (struct job){ i, p, s };
			if (loops_run(l, i, job_fn, j) != 0)
				free(j);
		}
	return NULL;
}

START_TEST(test_run_on_the_right_thread)
{
	pthread_t t[PRODUCERS];

	memset(per, 0, sizeof(per));
	l = loops_new(NLOOPS, "test");
	ck_assert_ptr_nonnull(l);
	ck_assert_uint_eq(loops_count(l), NLOOPS);
	ck_assert_int_eq(loops_current(), -1);
	for (int p = 0; p < PRODUCERS; p++)
		ck_assert_int_eq(pthread_create(&t[p], NULL, producer,
						(void *)(intptr_t)p),
				 0);
	for (int p = 0; p < PRODUCERS; p++)
		pthread_join(t[p], NULL);
	loops_stop(l); /* what was queued still runs */
	for (unsigned int i = 0; i < NLOOPS; i++) {
		ck_assert_uint_eq(per[i].ran, PRODUCERS * PER);
		ck_assert_uint_eq(per[i].wrong_thread, 0);
		ck_assert_uint_eq(per[i].out_of_order, 0);
	}
	ck_assert_int_eq(loops_run(l, 0, job_fn, NULL), -ESHUTDOWN);
	ck_assert_int_eq(loops_run(l, NLOOPS, job_fn, NULL), -EINVAL);
	loops_free(l);
}
END_TEST

/* A timer armed on loop 1's base from a function running there. */
static atomic_int fired_on = -2;
static struct event *timer;

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	atomic_store(&fired_on, loops_current());
	event_free(timer);
}

static void
arm_timer(void *arg)
{
	struct timeval tv = { 0, 20 * 1000 };

	timer = evtimer_new(loops_base(l, 1), on_timer, arg);
	evtimer_add(timer, &tv);
}

START_TEST(test_events_on_own_base)
{
	l = loops_new(2, "test");
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(loops_run(l, 1, arm_timer, NULL), 0);
	for (int i = 0; i < 200 && atomic_load(&fired_on) == -2; i++)
		usleep(10 * 1000);
	ck_assert_int_eq(atomic_load(&fired_on), 1);
	loops_free(l);
}
END_TEST

START_TEST(test_bad_count)
{
	ck_assert_ptr_null(loops_new(0, "x"));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(loops_new(LOOPS_MAX + 1, "x"));
	loops_free(NULL);
}
END_TEST

static Suite *
loops_suite(void)
{
	Suite *s = suite_create("loops");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_run_on_the_right_thread);
	tcase_add_test(tc, test_events_on_own_base);
	tcase_add_test(tc, test_bad_count);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(loops_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
