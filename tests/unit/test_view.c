/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared view of services and health (controlplane/view.c): readers
 * on four threads take snapshots while the main thread republishes
 * thousands of times. Every snapshot a reader holds must stay whole and
 * consistent until it drops it (each generation g has g % 5 + 1 services
 * whose backends all weigh g), readers never see generations go back,
 * and the last reference frees it (ASan/LSan in the sanitizer build see
 * a use after free or a leak). Plus the contents of one snapshot: names
 * sorted for view_find, health from the checker, usable backends.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "config.h"
#include "view.h"
#include "edgelb/lbmsg.h"

#define READERS	    4
#define PUBLISHES   3000
#define MAX_SERVICE 5

/* A configuration whose every number derives from gen. */
static struct cfg *
cfg_of(uint64_t gen)
{
	struct cfg *c = cfg_new(NULL, 0);

	ck_assert_ptr_nonnull(c);
	for (uint32_t i = 0; i < gen % MAX_SERVICE + 1; i++) {
		struct cfg_service s;

		cfg_service_init(&s);
		s.proto = IPPROTO_TCP;
		s.mode = LB_MODE_DR;
		s.vport = (uint16_t)(80 + i);
		snprintf(s.name, sizeof(s.name), "svc%u", i);
		ck_assert_int_eq(lb_addr_parse("10.0.0.1", &s.vip), 0);
		for (uint32_t j = 0; j < i + 1; j++) {
			struct cfg_backend b = { .port = 80,
						 .weight = (uint32_t)gen };

			ck_assert_int_eq(lb_addr_parse("10.1.0.1", &b.addr), 0);
			b.addr.v4 = htonl(0x0a010000u + j);
			ck_assert_int_eq(cfg_backend_add(&s, &b), 0);
		}
		ck_assert_int_eq(cfg_service_add(c, &s), 0);
		cfg_service_release(&s);
	}
	return c;
}

static struct view_pub pub;
static atomic_bool stop;

struct reader {
	pthread_t t;
	uint64_t reads;
	uint64_t bad; /* inconsistent snapshots */
	uint64_t backwards;
};

/* A reader: check every field of the snapshot it holds, slowly. */
static void *
reader(void *arg)
{
	struct reader *r = arg;
	uint64_t last = 0;

	while (!atomic_load(&stop)) {
		struct view *v = view_get(&pub);
		uint64_t g;

		if (v == NULL)
			continue;
		g = v->generation;
		if (g < last)
			r->backwards++;
		last = g;
		if (v->nservices != g % MAX_SERVICE + 1)
			r->bad++;
		for (uint32_t i = 0; i < v->nservices; i++) {
			const struct view_service *s = &v->services[i];
			char name[16];

			snprintf(name, sizeof(name), "svc%u", i);
			if (view_find(v, name) != s || s->nbackends != i + 1 ||
			    !s->healthy)
				r->bad++;
			for (uint32_t j = 0; j < s->nbackends; j++)
				if (s->backends[j].weight != (uint32_t)g)
					r->bad++;
		}
		r->reads++;
		view_put(v);
	}
	return NULL;
}

START_TEST(test_readers_while_republishing)
{
	struct reader r[READERS] = { 0 };
	struct cfg *c[MAX_SERVICE * 2];
	uint64_t total = 0;

	/* weights must be > 0: generations start at 1 */
	for (size_t i = 0; i < MAX_SERVICE * 2; i++)
		c[i] = cfg_of(i + 1);
	memset(&pub, 0, sizeof(pub));
	atomic_store(&stop, false);
	for (int i = 0; i < READERS; i++)
		ck_assert_int_eq(pthread_create(&r[i].t, NULL, reader, &r[i]),
				 0);
	for (uint64_t g = 1; g <= PUBLISHES; g++) {
		/* config (g - 1) % 10 has g % 5 + 1 services; weights g */
		struct cfg *cg = c[(g - 1) % (MAX_SERVICE * 2)];

		for (uint32_t i = 0; i < cg->nservices; i++)
			for (uint32_t j = 0; j < cg->services[i].nbackends; j++)
				cg->services[i].backends[j].weight =
					(uint32_t)g;
		ck_assert_int_eq(view_refresh(&pub, cg, NULL), 0);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < READERS; i++) {
		pthread_join(r[i].t, NULL);
		ck_assert_uint_eq(r[i].bad, 0);
		ck_assert_uint_eq(r[i].backwards, 0);
		total += r[i].reads;
	}
	ck_assert_uint_gt(total, 0);
	fprintf(stderr, "view: %llu snapshots read during %d publishes\n",
		(unsigned long long)total, PUBLISHES);
	view_pub_fini(&pub);
	for (size_t i = 0; i < MAX_SERVICE * 2; i++)
		cfg_free(c[i]);
}
END_TEST

START_TEST(test_snapshot_contents)
{
	struct cfg *c = cfg_of(3); /* 4 services */
	struct view *v, *held;

	memset(&pub, 0, sizeof(pub));
	ck_assert_ptr_null(view_get(&pub));
	c->services[2].backends[0].weight = 0;
	c->services[2].backends[1].weight = 0;
	c->services[2].backends[2].weight = 0;
	ck_assert_int_eq(view_refresh(&pub, c, NULL), 0);
	v = view_get(&pub);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v->generation, 1);
	ck_assert_uint_eq(v->nservices, 4);
	ck_assert_ptr_null(view_find(v, "nosuch"));
	ck_assert(view_find(v, "svc1")->healthy);
	ck_assert(!view_find(v, "svc2")->healthy); /* every weight 0 */
	ck_assert_uint_eq(view_find(v, "svc3")->nbackends, 4);
	ck_assert_uint_eq(view_find(v, "svc3")->vport, 83);
	ck_assert_int_eq(view_find(v, "svc3")->backends[0].health,
			 LB_HEALTH_UNKNOWN);
	/* a held snapshot outlives its replacement */
	held = v;
	cfg_service_remove(c, 3);
	ck_assert_int_eq(view_refresh(&pub, c, NULL), 0);
	v = view_get(&pub);
	ck_assert_uint_eq(v->generation, 2);
	ck_assert_ptr_null(view_find(v, "svc3"));
	ck_assert_ptr_nonnull(view_find(held, "svc3"));
	view_put(held);
	view_put(v);
	view_pub_fini(&pub);
	cfg_free(c);
}
END_TEST

static Suite *
view_suite(void)
{
	Suite *s = suite_create("view");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_snapshot_contents);
	tcase_add_test(tc, test_readers_while_republishing);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(view_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
