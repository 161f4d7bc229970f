/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The push store's contract as Check test cases, run by the test of each
 * implementation (test_push_store.c: SQLite, test_push_store_redis.c:
 * Redis): queue order, acknowledgements and the resume point, TTL
 * expiry, collapse keys, the queue bound, idempotency keys, targets
 * (device, user, topic, all), history pruning and what survives a
 * reopen. The including file defines ops, st, store_rolls_back (whether
 * an uncommitted write is lost) and store_reopen() (close st, make the
 * backend restart as after a crash, open st again).
 */
#ifndef TEST_PUSH_STORE_CASES_H
#define TEST_PUSH_STORE_CASES_H

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "push_store.h"

static const struct push_store_ops *ops;
static void *st;
static bool store_rolls_back;
static void store_reopen(void);

#define NOW 1700000000000ll

/* A message numbered n (id from n) with ttl seconds and collapse key. */
static struct push_msg
msg(int n, uint32_t ttl, const char *ck)
{
	static char payload[16][32];
	struct push_msg m = {
		.created_ms = NOW,
		.ttl_s = ttl,
		.expires_ms = NOW + (int64_t)ttl * 1000,
		.priority = 10,
		.collapse_key = ck,
	};

	snprintf(m.id, sizeof(m.id), "00000000-0000-4000-8000-%012d", n);
	snprintf(payload[n % 16], sizeof(payload[0]), "{\"n\":%d}", n);
	m.payload = (const uint8_t *)payload[n % 16];
	m.len = strlen(payload[n % 16]);
	return m;
}

static struct push_enqueue_res
add(int n, const char *device, uint32_t ttl, const char *ck, uint32_t max)
{
	struct push_msg m = msg(n, ttl, ck);
	struct push_enqueue_res r;

	ck_assert_int_eq(ops->msg_add(st, &m, NULL), 0);
	ck_assert_int_eq(ops->enqueue(st, &m, device, max, NOW, &r), 0);
	return r;
}

/* What queue_next hands out: the messages' numbers. */
struct seen {
	int n[64];
	uint64_t seq[64];
	size_t len;
};

static int
collect(void *arg, const struct push_entry *e)
{
	struct seen *s = arg;

	ck_assert_uint_lt(s->len, 64);
	s->n[s->len] = atoi(e->msg.id + 24);
	s->seq[s->len++] = e->seq;
	ck_assert_int_eq(atoi((const char *)e->msg.payload + 5),
			 atoi(e->msg.id + 24));
	return 0;
}

static struct seen
next(const char *device, uint64_t after, int64_t now)
{
	struct seen s = { .len = 0 };

	ck_assert_int_eq(
		ops->queue_next(st, device, after, 64, now, collect, &s), 0);
	return s;
}

/* The status (and reason) of message n for device d1. */
struct stat1 {
	int status;
	char reason[32];
};

static int
stat_of(void *arg, const struct push_entry *e)
{
	struct stat1 *s = arg;

	s->status = e->status;
	snprintf(s->reason, sizeof(s->reason), "%s",
		 e->reason != NULL ? e->reason : "");
	return 0;
}

static struct stat1
status(int n)
{
	struct push_msg m = msg(n, 1, NULL), got;
	struct stat1 s = { -1, "" };

	ck_assert_int_eq(ops->msg_get(st, m.id, &got, 10, stat_of, &s), 0);
	return s;
}

START_TEST(order_and_acks)
{
	struct push_msg m3 = msg(3, 60, NULL);
	struct seen s;
	uint64_t seq = 0, n = 0;

	for (int i = 1; i <= 5; i++)
		ck_assert_uint_eq(add(i, "d1", 60, NULL, 100).seq, (uint64_t)i);
	s = next("d1", 0, NOW);
	ck_assert_uint_eq(s.len, 5);
	for (size_t i = 0; i < 5; i++) {
		ck_assert_int_eq(s.n[i], (int)i + 1);
		ck_assert_uint_eq(s.seq[i], i + 1);
	}
	ck_assert_uint_eq(next("d1", 2, NOW).len, 3);
	ck_assert_uint_eq(next("d2", 0, NOW).len, 0);
	ck_assert_int_eq(ops->mark_sent(st, "d1", 3, NOW), 0);
	ck_assert_int_eq(status(3).status, PUSH_ST_SENT);
	ck_assert_int_eq(ops->ack(st, "d1", m3.id, NOW, &seq), 0);
	ck_assert_uint_eq(seq, 3);
	ck_assert_int_eq(status(3).status, PUSH_ST_ACKED);
	/* acknowledged: never handed out again, a second ACK is unknown */
	s = next("d1", 0, NOW);
	ck_assert_uint_eq(s.len, 4);
	ck_assert_int_eq(s.n[2], 4);
	ck_assert_int_eq(ops->ack(st, "d1", m3.id, NOW, &seq), -ENOENT);
	ck_assert_int_eq(ops->ack(st, "d2", msg(4, 1, NULL).id, NOW, &seq),
			 -ENOENT);
	/* the resume point acknowledges up to it */
	ck_assert_int_eq(ops->ack_upto(st, "d1", 4, NOW, &n), 0);
	ck_assert_uint_eq(n, 3); /* 1, 2, 4 */
	s = next("d1", 0, NOW);
	ck_assert_uint_eq(s.len, 1);
	ck_assert_int_eq(s.n[0], 5);
}
END_TEST

START_TEST(ttl_expiry)
{
	uint64_t n = 0;

	add(1, "d1", 1, NULL, 100);
	add(2, "d1", 60, NULL, 100);
	ck_assert_uint_eq(next("d1", 0, NOW + 500).len, 2);
	/* past its TTL: not handed out even before the sweep */
	ck_assert_uint_eq(next("d1", 0, NOW + 1500).len, 1);
	ck_assert_int_eq(ops->expire(st, NOW + 1500, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(status(1).status, PUSH_ST_EXPIRED);
	ck_assert_int_eq(status(2).status, PUSH_ST_QUEUED);
	ck_assert_int_eq(ops->expire(st, NOW + 1500, &n), 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(collapse)
{
	struct seen s;

	ck_assert_uint_eq(add(1, "d1", 60, "score", 100).collapsed, 0);
	add(2, "d1", 60, NULL, 100);
	ck_assert_uint_eq(add(3, "d1", 60, "score", 100).collapsed, 1);
	ck_assert_uint_eq(add(4, "d2", 60, "score", 100).collapsed, 0);
	ck_assert_uint_eq(add(5, "d1", 60, "score", 100).collapsed, 1);
	s = next("d1", 0, NOW);
	ck_assert_uint_eq(s.len, 2);
	ck_assert_int_eq(s.n[0], 2);
	ck_assert_int_eq(s.n[1], 5);
	ck_assert_int_eq(status(1).status, PUSH_ST_FAILED);
	ck_assert_str_eq(status(1).reason, "collapsed");
	ck_assert_int_eq(status(4).status, PUSH_ST_QUEUED); /* other device */
}
END_TEST

START_TEST(bound)
{
	uint32_t dropped = 0;
	struct seen s;

	for (int i = 1; i <= 5; i++)
		dropped += add(i, "d1", 60, NULL, 3).dropped;
	ck_assert_uint_eq(dropped, 2);
	s = next("d1", 0, NOW);
	ck_assert_uint_eq(s.len, 3);
	ck_assert_int_eq(s.n[0], 3);
	ck_assert_int_eq(s.n[2], 5);
	ck_assert_str_eq(status(1).reason, "queue_full");
	ck_assert_str_eq(status(2).reason, "queue_full");
}
END_TEST

START_TEST(idempotency)
{
	struct push_msg m = msg(1, 60, NULL), m2 = msg(2, 60, NULL);
	char id[PUSH_ID_TEXT + 1];

	ck_assert_int_eq(ops->msg_by_key(st, "order-42", id), -ENOENT);
	ck_assert_int_eq(ops->msg_add(st, &m, "order-42"), 0);
	ck_assert_int_eq(ops->msg_by_key(st, "order-42", id), 0);
	ck_assert_str_eq(id, m.id);
	/* the key names one message */
	ck_assert_int_eq(ops->msg_add(st, &m2, "order-42"), -EIO);
	ck_assert_int_eq(ops->msg_add(st, &m2, "order-43"), 0);
}
END_TEST

struct names {
	char v[8][PUSH_NAME_MAX + 1];
	size_t n;
};

static int
name_cb(void *arg, const char *name)
{
	struct names *ns = arg;

	ck_assert_uint_lt(ns->n, 8);
	snprintf(ns->v[ns->n++], PUSH_NAME_MAX + 1, "%s", name);
	return 0;
}

static struct names
targets(enum push_target k, const char *name, int want_rc)
{
	struct names ns = { .n = 0 };

	ck_assert_int_eq(ops->targets(st, k, name, name_cb, &ns), want_rc);
	return ns;
}

START_TEST(targets_and_bindings)
{
	struct names ns;

	ck_assert_int_eq(ops->bind(st, "alice", "d1", true), 0);
	ck_assert_int_eq(ops->bind(st, "alice", "d2", true), 0);
	ck_assert_int_eq(ops->bind(st, "alice", "d2", true), 0); /* again */
	ck_assert_int_eq(ops->bind(st, "bob", "d9", true), -ENOENT);
	ns = targets(PUSH_TO_USER, "alice", 0);
	ck_assert_uint_eq(ns.n, 2);
	ck_assert_str_eq(ns.v[0], "d1");
	ck_assert_str_eq(ns.v[1], "d2");
	ck_assert_int_eq(ops->bind(st, "alice", "d1", false), 0);
	ck_assert_int_eq(ops->bind(st, "alice", "d1", false), -ENOENT);
	ck_assert_uint_eq(targets(PUSH_TO_USER, "alice", 0).n, 1);
	ck_assert_uint_eq(targets(PUSH_TO_USER, "nobody", 0).n, 0);
	ck_assert_int_eq(ops->subscribe(st, "news", "d2", true), 0);
	ck_assert_str_eq(targets(PUSH_TO_TOPIC, "news", 0).v[0], "d2");
	ck_assert_uint_eq(targets(PUSH_TO_ALL, "", 0).n, 2);
	ck_assert_uint_eq(targets(PUSH_TO_DEVICE, "d1", 0).n, 1);
	targets(PUSH_TO_DEVICE, "d9", -ENOENT);
}
END_TEST

START_TEST(prune)
{
	struct push_msg m1 = msg(1, 60, NULL), got;
	uint64_t seq, n = 0;
	struct stat1 s1;

	add(1, "d1", 60, NULL, 100);
	add(2, "d1", 60, NULL, 100);
	ck_assert_int_eq(ops->ack(st, "d1", m1.id, NOW + 10, &seq), 0);
	/* not yet past the retention time */
	ck_assert_int_eq(ops->prune(st, NOW + 10, 100, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(ops->prune(st, NOW + 11, 100, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(ops->msg_get(st, m1.id, &got, 10, stat_of, &s1),
			 -ENOENT);
	/* the pending one stays, and its message */
	ck_assert_int_eq(status(2).status, PUSH_ST_QUEUED);
	ck_assert_uint_eq(next("d1", 0, NOW).len, 1);
}
END_TEST

START_TEST(persistence)
{
	struct push_device_info di;
	/* a store that cannot roll back applied the uncommitted entry */
	size_t kept = store_rolls_back ? 2 : 3;

	add(1, "d1", 60, NULL, 100);
	add(2, "d1", 60, NULL, 100);
	ck_assert_int_eq(ops->commit(st), 0);
	/* not committed: lost with the process (if the store rolls back) */
	ck_assert_int_eq(ops->begin(st), 0);
	add(3, "d1", 60, NULL, 100);
	store_reopen();
	ck_assert_uint_eq(next("d1", 0, NOW).len, kept);
	ck_assert_int_eq(ops->device_get(st, "d1", &di), 0);
	ck_assert_uint_eq(di.last_seq, kept);
	ck_assert_uint_eq(di.pending, kept);
	ck_assert_str_eq(di.platform, "ios");
	/* the next seq continues after the kept ones */
	ck_assert_int_eq(ops->begin(st), 0);
	ck_assert_uint_eq(add(4, "d1", 60, NULL, 100).seq, kept + 1);
	ck_assert_int_eq(ops->commit(st), 0);
}
END_TEST

/* Every case starts in an open transaction with devices d1 and d2. */
static void
cases_setup(void)
{
	ck_assert_int_eq(ops->begin(st), 0);
	ck_assert_int_eq(ops->device_register(st, "d1", "ios", "app", NOW), 0);
	ck_assert_int_eq(ops->device_register(st, "d2", "android", "app", NOW),
			 0);
}

static void
cases_add(TCase *tc)
{
	tcase_add_test(tc, order_and_acks);
	tcase_add_test(tc, ttl_expiry);
	tcase_add_test(tc, collapse);
	tcase_add_test(tc, bound);
	tcase_add_test(tc, idempotency);
	tcase_add_test(tc, targets_and_bindings);
	tcase_add_test(tc, prune);
	tcase_add_test(tc, persistence);
}

#endif
