/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the push runtime (push_srv) without sockets: a message
 * is answered (after_commit) only once its transaction committed, and
 * the vendor seam hands a message for an offline device with a vendor
 * token to the wake hook after that commit -- with the message's fields
 * -- and no more once the vendor called the token invalid.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "push_srv.h"

static char dir[] = "/tmp/test_push_srv.XXXXXX";
static struct event_base *base;
static struct push_srv *srv;

struct wakes {
	size_t n;
	char device[32], vendor[32], token[64], id[PUSH_ID_TEXT + 1];
	char payload[64], collapse[32];
	uint32_t ttl;
};

static void
on_wake(void *arg, const struct push_wake *w)
{
	struct wakes *k = arg;

	k->n++;
	snprintf(k->device, sizeof(k->device), "%s", w->device);
	snprintf(k->vendor, sizeof(k->vendor), "%s", w->vendor);
	snprintf(k->token, sizeof(k->token), "%s", w->token);
	snprintf(k->id, sizeof(k->id), "%s", w->id);
	snprintf(k->payload, sizeof(k->payload), "%.*s", (int)w->len,
		 (const char *)w->payload);
	snprintf(k->collapse, sizeof(k->collapse), "%s", w->collapse_key);
	k->ttl = w->ttl_s;
}

static void
on_done(void *arg, int rc)
{
	int *done = arg;

	*done = rc == 0 ? 1 : -1;
}

static void
setup(void)
{
	struct push_conf c;
	void *st;
	const struct push_store_ops *ops;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	push_conf_init(&c);
	snprintf(c.db, sizeof(c.db), "%s/push.db", dir);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	srv = push_srv_new(base, &c, NULL);
	ck_assert_ptr_nonnull(srv);
	ops = push_srv_store(srv, &st);
	ck_assert_int_eq(push_srv_txn(srv), 0);
	ck_assert_int_eq(ops->device_register(st, "d1", "ios", "a", 1), 0);
	ck_assert_int_eq(ops->device_register(st, "d2", "web", "a", 1), 0);
	ck_assert_int_eq(ops->device_vendor(st, "d1", "apns", "tok-123"), 0);
	ck_assert_int_eq(ops->device_vendor(st, "d9", "apns", "x"), -ENOENT);
	event_base_loop(base, EVLOOP_ONCE);
}

static void
teardown(void)
{
	char cmd[128];

	push_srv_free(srv);
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
}

static void
send_to(const char *device, char id[PUSH_ID_TEXT + 1])
{
	char payload[] = "{\"a\":1}";
	struct push_send ps = {
		.kind = PUSH_TO_DEVICE,
		.ttl_s = 60,
		.priority = 10,
		.payload = payload,
		.len = strlen(payload),
	};
	uint32_t n = 0;
	bool dup = true;

	snprintf(ps.target, sizeof(ps.target), "%s", device);
	snprintf(ps.collapse_key, sizeof(ps.collapse_key), "c1");
	ck_assert_int_eq(push_srv_send(srv, &ps, id, &dup, &n), 0);
	ck_assert(!dup);
	ck_assert_uint_eq(n, 1);
}

START_TEST(answer_after_commit)
{
	char id[PUSH_ID_TEXT + 1];
	int done = 0;

	send_to("d2", id);
	ck_assert_int_eq(push_srv_after_commit(srv, on_done, &done), 0);
	ck_assert_int_eq(done, 0); /* not before the commit */
	event_base_loop(base, EVLOOP_ONCE);
	ck_assert_int_eq(done, 1);
	ck_assert_uint_eq(push_srv_counters(srv)->accepted, 1);
	ck_assert_uint_eq(push_srv_counters(srv)->commits, 2);
}
END_TEST

START_TEST(vendor_wake)
{
	struct wakes k = { .n = 0 };
	char id[PUSH_ID_TEXT + 1];

	push_srv_set_wake(srv, on_wake, &k);
	send_to("d1", id);
	ck_assert_uint_eq(k.n, 0); /* after the commit only */
	event_base_loop(base, EVLOOP_ONCE);
	ck_assert_uint_eq(k.n, 1);
	ck_assert_str_eq(k.device, "d1");
	ck_assert_str_eq(k.vendor, "apns");
	ck_assert_str_eq(k.token, "tok-123");
	ck_assert_str_eq(k.id, id);
	ck_assert_str_eq(k.payload, "{\"a\":1}");
	ck_assert_str_eq(k.collapse, "c1");
	ck_assert_uint_eq(k.ttl, 60);
	/* no token: no wake */
	send_to("d2", id);
	event_base_loop(base, EVLOOP_ONCE);
	ck_assert_uint_eq(k.n, 1);
	/* the vendor called the token invalid: forgotten */
	ck_assert_int_eq(push_srv_vendor_invalid(srv, "d1"), 0);
	ck_assert_int_eq(push_srv_vendor_invalid(srv, "d9"), -ENOENT);
	event_base_loop(base, EVLOOP_ONCE);
	send_to("d1", id);
	event_base_loop(base, EVLOOP_ONCE);
	ck_assert_uint_eq(k.n, 1);
	ck_assert_uint_eq(push_srv_counters(srv)->vendor_wakes, 1);
	ck_assert_uint_eq(push_srv_counters(srv)->vendor_invalid, 1);
}
END_TEST

static Suite *
srv_suite(void)
{
	Suite *s = suite_create("push_srv");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, answer_after_commit);
	tcase_add_test(tc, vendor_wake);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(srv_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
