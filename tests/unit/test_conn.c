/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * conn: the per-worker connection table with a controllable clock: TCP
 * state transitions in both tables (in/out and input-only), every
 * state's timeout enforced by the timer wheel, UDP timeout, deadlines
 * moving earlier and later, persistence templates, a full table counted,
 * the wheel's per-call budget, and the wheel against many connections
 * with deadlines beyond one revolution.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_common.h>
#include <rte_memory.h>
#include <rte_tcp.h>

#include "conn.h"

#define SYN RTE_TCP_SYN_FLAG
#define ACK RTE_TCP_ACK_FLAG
#define FIN RTE_TCP_FIN_FLAG
#define RST RTE_TCP_RST_FLAG

static uint32_t now_s = 1000;
static struct dpconf_timeouts tmo;
static unsigned int unlinked;
static uint32_t *unlink_time; /* [conn index] second it left, or 0 */
static struct conn_table *ct;
static int table_seq;

static uint32_t
test_clock(void *arg)
{
	(void)arg;
	return now_s;
}

static void
on_unlink(void *arg, struct conn *c)
{
	(void)arg;
	unlinked++;
	if (unlink_time != NULL)
		unlink_time[c->bslot] = now_s;
}

static struct conn_table *
table(uint32_t size, uint32_t budget)
{
	char name[32];
	struct conn_table_conf cc = {
		.name = name,
		.size = size,
		.socket_id = SOCKET_ID_ANY,
		.tmo = &tmo,
		.clock = test_clock,
		.unlink = on_unlink,
		.budget = budget,
	};

	snprintf(name, sizeof(name), "t%d", table_seq++);
	return conn_table_create(&cc);
}

static void
setup(void)
{
	now_s = 1000;
	unlinked = 0;
	tmo = (struct dpconf_timeouts){ .syn_recv = 30,
					.established = 900,
					.fin_wait = 120,
					.time_wait = 120,
					.close = 10,
					.udp = 300 };
	ct = table(4096, 0);
	ck_assert_ptr_nonnull(ct);
}

static void
teardown(void)
{
	conn_table_destroy(ct);
	ct = NULL;
}

/* Connection number i: 10.0.x.y:(1024+i) -> VIP 192.0.2.1:80, backend
 * 10.9.0.1:8080, local 198.51.100.1:(2000+i). */
static struct conn *
mkconn(uint32_t i, uint8_t proto, bool out)
{
	struct conn *c = conn_alloc(ct);

	if (c == NULL)
		return NULL;
	c->proto = proto;
	c->caddr = htonl(0x0a000000u + i);
	c->cport = htons((uint16_t)(1024 + i % 60000));
	c->vaddr = htonl(0xc0000201u);
	c->vport = htons(80);
	c->baddr = htonl(0x0a090001u);
	c->bport = htons(8080);
	c->laddr = htonl(0xc6336401u);
	c->lport = htons((uint16_t)(2000 + i % 60000));
	c->bslot = i;
	if (out)
		c->flags |= CONN_F_OUT;
	ck_assert_int_eq(conn_insert(ct, c), 0);
	return c;
}

static struct conn *
find(const struct conn *like, unsigned int dir, unsigned int *got)
{
	struct conn_key k;

	conn_key_of(like, dir, &k);
	return conn_lookup(ct, &k, got);
}

static uint32_t
live(void)
{
	struct conn_table_stats st;

	conn_get_stats(ct, &st);
	return st.conns;
}

/* Advance the clock to t, running the wheel every second like a worker. */
static void
run_to(uint32_t t)
{
	while (now_s < t) {
		now_s++;
		while (conn_expire(ct) > 0)
			;
	}
}

START_TEST(test_tcp_inout)
{
	struct conn *c = mkconn(1, IPPROTO_TCP, true);
	struct conn copy = *c;
	unsigned int dir = 9;

	ck_assert_int_eq(c->state, CONN_S_NONE);
	ck_assert_ptr_eq(find(&copy, CONN_DIR_IN, &dir), c);
	ck_assert_uint_eq(dir, CONN_DIR_IN);
	ck_assert_ptr_eq(find(&copy, CONN_DIR_OUT, &dir), c);
	ck_assert_uint_eq(dir, CONN_DIR_OUT);
	ck_assert_int_eq(conn_tcp_event(ct, c, CONN_DIR_IN, SYN),
			 CONN_S_SYN_RECV);
	ck_assert_uint_eq(c->expires, now_s + 30);
	ck_assert_int_eq(conn_tcp_event(ct, c, CONN_DIR_OUT, SYN | ACK),
			 CONN_S_SYN_RECV);
	ck_assert_int_eq(conn_tcp_event(ct, c, CONN_DIR_IN, ACK),
			 CONN_S_ESTABLISHED);
	ck_assert_uint_eq(c->expires, now_s + 900);
	ck_assert_int_eq(conn_tcp_event(ct, c, CONN_DIR_IN, ACK),
			 CONN_S_ESTABLISHED);
	ck_assert_int_eq(conn_tcp_event(ct, c, CONN_DIR_IN, FIN | ACK),
			 CONN_S_CLOSE_WAIT);
	ck_assert_uint_eq(c->expires, now_s + 120);
	ck_assert_int_eq(conn_tcp_event(ct, c, CONN_DIR_OUT, FIN | ACK),
			 CONN_S_TIME_WAIT);
	ck_assert_int_eq(conn_tcp_event(ct, c, CONN_DIR_IN, ACK),
			 CONN_S_TIME_WAIT);
	ck_assert_uint_eq(c->expires, now_s + 120);
	/* the server closes first */
	c = mkconn(2, IPPROTO_TCP, true);
	conn_set_state(ct, c, CONN_S_ESTABLISHED);
	ck_assert_int_eq(conn_tcp_event(ct, c, CONN_DIR_OUT, FIN | ACK),
			 CONN_S_FIN_WAIT);
	ck_assert_int_eq(conn_tcp_event(ct, c, CONN_DIR_IN, FIN | ACK),
			 CONN_S_TIME_WAIT);
	/* RST from either side closes in every state */
	for (uint8_t s = 0; s < CONN_S_MAX; s++)
		for (unsigned int d = 0; d < 2; d++) {
			conn_set_state(ct, c, s);
			ck_assert_int_eq(conn_tcp_event(ct, c, d, RST | ACK),
					 CONN_S_CLOSE);
			ck_assert_uint_eq(c->expires, now_s + 10);
		}
}
END_TEST

START_TEST(test_tcp_input_only)
{
	struct conn *c = mkconn(3, IPPROTO_TCP, false);
	struct conn copy = *c;
	unsigned int dir;

	ck_assert_ptr_null(find(&copy, CONN_DIR_OUT, &dir));
	ck_assert_int_eq(conn_tcp_event(ct, c, CONN_DIR_IN, SYN),
			 CONN_S_SYN_RECV);
	ck_assert_int_eq(conn_tcp_event(ct, c, CONN_DIR_IN, ACK),
			 CONN_S_ESTABLISHED);
	ck_assert_int_eq(conn_tcp_event(ct, c, CONN_DIR_IN, FIN | ACK),
			 CONN_S_FIN_WAIT);
	ck_assert_int_eq(conn_tcp_event(ct, c, CONN_DIR_IN, ACK),
			 CONN_S_FIN_WAIT);
	ck_assert_uint_eq(c->expires, now_s + 120);
}
END_TEST

/*
 * The window of sequence numbers seen (RFC 5961): started by each side's
 * SYN, moved by segments in it, 4 MiB behind and 128 KiB ahead of the
 * highest seen (64 KiB units), across the 2^32 wrap; a segment outside
 * moves nothing; a side not seen yet is not judged.
 */
START_TEST(test_tcp_seq_window)
{
	struct conn *c = mkconn(4, IPPROTO_TCP, true);
	const uint32_t isn = 0xfffe0000u; /* wraps after 128 KiB */

	ck_assert(conn_tcp_seq(c, CONN_DIR_OUT, RST | ACK, 0x12345678, 0));
	ck_assert(conn_tcp_seq(c, CONN_DIR_IN, SYN, isn, 0));
	conn_tcp_event(ct, c, CONN_DIR_IN, SYN);
	ck_assert(c->flags & CONN_F_SEQ_IN);
	ck_assert(!(c->flags & CONN_F_SEQ_OUT));
	ck_assert(conn_tcp_seq(c, CONN_DIR_OUT, SYN | ACK, 0x70000000, 0));
	conn_tcp_event(ct, c, CONN_DIR_OUT, SYN | ACK);
	conn_tcp_event(ct, c, CONN_DIR_IN, ACK);
	ck_assert_int_eq(c->state, CONN_S_ESTABLISHED);
	/* the client sends 256 KiB in 1000-byte segments, over the wrap */
	for (uint32_t off = 0; off < 256 * 1024; off += 1000)
		ck_assert(
			conn_tcp_seq(c, CONN_DIR_IN, ACK, isn + 1 + off, 1000));
	/* top now about isn + 1 + 256 KiB = 0x00020000 + 1 + 384 */
	ck_assert(conn_tcp_seq(c, CONN_DIR_IN, RST, isn + 1 + 256 * 1024, 0));
	ck_assert(conn_tcp_seq(c, CONN_DIR_IN, RST, isn + 1, 0));
	ck_assert(
		conn_tcp_seq(c, CONN_DIR_IN, RST, 0x00020000u - 0x400000u, 0));
	ck_assert(!conn_tcp_seq(c, CONN_DIR_IN, RST,
				0x00020000u - 0x410000u - 1, 0));
	ck_assert(conn_tcp_seq(c, CONN_DIR_IN, RST, 0x00020000u + 0x2ffffu, 0));
	ck_assert(
		!conn_tcp_seq(c, CONN_DIR_IN, RST, 0x00020000u + 0x30000u, 0));
	ck_assert(!conn_tcp_seq(c, CONN_DIR_IN, RST, 0x80000000u, 0));
	/* an out-of-window segment does not move the window */
	ck_assert(!conn_tcp_seq(c, CONN_DIR_IN, ACK, 0x00100000u, 1000));
	ck_assert(!conn_tcp_seq(c, CONN_DIR_IN, RST, 0x00100000u, 0));
	/* nor does a new SYN once established */
	ck_assert(!conn_tcp_seq(c, CONN_DIR_IN, SYN, 0x40000000u, 0));
	ck_assert(!conn_tcp_seq(c, CONN_DIR_IN, RST, 0x40000001u, 0));
	/* the other side has its own window */
	ck_assert(conn_tcp_seq(c, CONN_DIR_OUT, RST | ACK, 0x70000001u, 0));
	ck_assert(!conn_tcp_seq(c, CONN_DIR_OUT, RST | ACK, 0x10000000u, 0));
	/* during the handshake a new SYN starts its side's window again */
	c = mkconn(5, IPPROTO_TCP, false);
	ck_assert(conn_tcp_seq(c, CONN_DIR_IN, SYN, 1000, 0));
	conn_tcp_event(ct, c, CONN_DIR_IN, SYN);
	ck_assert(conn_tcp_seq(c, CONN_DIR_IN, SYN, 0x60000000u, 0));
	ck_assert(conn_tcp_seq(c, CONN_DIR_IN, RST, 0x60000001u, 0));
	ck_assert(!conn_tcp_seq(c, CONN_DIR_IN, RST, 1001, 0));
}
END_TEST

/* Each state's timeout: alive one second before, gone at the deadline. */
START_TEST(test_timeouts)
{
	static const struct {
		uint8_t proto, state;
		uint32_t secs;
	} t[] = {
		{ IPPROTO_TCP, CONN_S_SYN_RECV, 30 },
		{ IPPROTO_TCP, CONN_S_ESTABLISHED, 900 },
		{ IPPROTO_TCP, CONN_S_FIN_WAIT, 120 },
		{ IPPROTO_TCP, CONN_S_TIME_WAIT, 120 },
		{ IPPROTO_TCP, CONN_S_CLOSE, 10 },
		{ IPPROTO_UDP, CONN_S_NONE, 300 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint32_t start = now_s, before = unlinked;
		struct conn *c = mkconn((uint32_t)(10 + i), t[i].proto, true);
		struct conn copy;
		unsigned int dir;

		if (t[i].proto == IPPROTO_TCP)
			conn_set_state(ct, c, t[i].state);
		copy = *c;
		ck_assert_uint_eq(
			conn_state_timeout(&tmo, t[i].proto, t[i].state),
			t[i].secs);
		run_to(start + t[i].secs - 1);
		ck_assert_uint_eq(unlinked, before);
		ck_assert_ptr_eq(find(&copy, CONN_DIR_IN, &dir), c);
		run_to(start + t[i].secs);
		ck_assert_msg(unlinked == before + 1, "case %zu not expired",
			      i);
		ck_assert_ptr_null(find(&copy, CONN_DIR_IN, &dir));
		ck_assert_ptr_null(find(&copy, CONN_DIR_OUT, &dir));
		ck_assert_uint_eq(live(), 0);
	}
}
END_TEST

START_TEST(test_deadline_moves)
{
	struct conn *c = mkconn(20, IPPROTO_TCP, true);
	uint32_t t0 = now_s;

	/* later: SYN_RECV (30 s) becomes ESTABLISHED at +20 (900 s) */
	conn_tcp_event(ct, c, CONN_DIR_IN, SYN);
	run_to(t0 + 20);
	conn_tcp_event(ct, c, CONN_DIR_IN, ACK);
	run_to(t0 + 31);
	ck_assert_uint_eq(unlinked, 0);
	run_to(t0 + 20 + 899);
	ck_assert_uint_eq(unlinked, 0);
	/* earlier: a RST at +919 leaves 10 s, not what is left of 900 */
	conn_tcp_event(ct, c, CONN_DIR_OUT, RST);
	run_to(t0 + 919 + 9);
	ck_assert_uint_eq(unlinked, 0);
	run_to(t0 + 919 + 10);
	ck_assert_uint_eq(unlinked, 1);
	/* UDP traffic restarts the timer */
	c = mkconn(21, IPPROTO_UDP, true);
	t0 = now_s;
	run_to(t0 + 299);
	conn_touch(ct, c);
	run_to(t0 + 299 + 299);
	ck_assert_uint_eq(unlinked, 1);
	run_to(t0 + 299 + 300);
	ck_assert_uint_eq(unlinked, 2);
}
END_TEST

START_TEST(test_kill)
{
	struct conn *c = mkconn(30, IPPROTO_TCP, true);
	struct conn copy = *c;
	unsigned int dir;

	conn_set_state(ct, c, CONN_S_ESTABLISHED);
	conn_kill(ct, c);
	ck_assert_uint_eq(unlinked, 1);
	ck_assert_ptr_null(find(&copy, CONN_DIR_IN, &dir));
	ck_assert_ptr_null(find(&copy, CONN_DIR_OUT, &dir));
	/* the tuple is free at once, the object is freed by the wheel */
	c = mkconn(30, IPPROTO_TCP, true);
	ck_assert_uint_eq(live(), 2);
	run_to(now_s + 2);
	ck_assert_uint_eq(live(), 1);
	ck_assert_uint_eq(unlinked, 1);
}
END_TEST

/* The burst lookup and its hints agree with plain lookups until the
 * table changes, and fall back to a plain lookup when it has. */
START_TEST(test_bulk_hints)
{
	struct conn_key keys[20];
	const struct conn_key *kp[20];
	struct conn_hint h[20];
	struct conn *c[10], *got;
	unsigned int dir, n = 0;
	struct conn gone;

	for (uint32_t i = 0; i < 10; i++)
		c[i] = mkconn(50 + i, i % 3 == 0 ? IPPROTO_UDP : IPPROTO_TCP,
			      i % 2 == 0);
	for (uint32_t i = 0; i < 10; i++)
		conn_key_of(c[i], CONN_DIR_IN, &keys[n++]);
	conn_key_of(c[0], CONN_DIR_OUT, &keys[n++]); /* 10 */
	conn_key_of(c[4], CONN_DIR_OUT, &keys[n++]); /* 11 */
	gone = *c[1];
	gone.caddr = htonl(0x0b000001u); /* 12: not in the table */
	conn_key_of(&gone, CONN_DIR_IN, &keys[n++]);
	for (unsigned int i = 0; i < n; i++)
		kp[i] = &keys[i];
	conn_lookup_bulk(ct, kp, n, h);
	for (unsigned int i = 0; i < 10; i++) {
		ck_assert_ptr_eq(conn_lookup_hint(ct, &keys[i], &h[i], &dir),
				 c[i]);
		ck_assert_uint_eq(dir, CONN_DIR_IN);
	}
	ck_assert_ptr_eq(conn_lookup_hint(ct, &keys[10], &h[10], &dir), c[0]);
	ck_assert_uint_eq(dir, CONN_DIR_OUT);
	ck_assert_ptr_eq(conn_lookup_hint(ct, &keys[11], &h[11], &dir), c[4]);
	ck_assert_uint_eq(dir, CONN_DIR_OUT);
	ck_assert_ptr_null(conn_lookup_hint(ct, &keys[12], &h[12], &dir));

	/* a miss no longer holds once something was inserted */
	gone.flags = 0;
	got = conn_alloc(ct);
	ck_assert_ptr_nonnull(got);
	*got = gone;
	got->next = got->prev = got->tmpl = CONN_NIL;
	ck_assert_int_eq(conn_insert(ct, got), 0);
	ck_assert_ptr_eq(conn_lookup_hint(ct, &keys[12], &h[12], &dir), got);

	/* a hit no longer holds once its connection was killed ... */
	conn_kill(ct, c[3]);
	ck_assert_ptr_null(conn_lookup_hint(ct, &keys[3], &h[3], &dir));
	/* ... and the tuple's new connection is found instead */
	got = mkconn(53, IPPROTO_UDP, false);
	ck_assert_ptr_ne(got, c[3]);
	ck_assert_ptr_eq(conn_lookup_hint(ct, &keys[3], &h[3], &dir), got);

	/* a hit past its deadline is not returned, and is unlinked */
	unlinked = 0;
	now_s += tmo.udp + 1;
	ck_assert_ptr_null(conn_lookup_hint(ct, &keys[0], &h[0], &dir));
	ck_assert_uint_eq(unlinked, 1);
	ck_assert_ptr_null(find(c[0], CONN_DIR_OUT, &dir));
}
END_TEST

/* A connection is one cache line, and timeouts changed at run time apply
 * from the connection's next packet. */
START_TEST(test_layout_and_timeouts)
{
	struct conn *a = mkconn(70, IPPROTO_UDP, false);
	struct conn *b = mkconn(71, IPPROTO_UDP, false);

	ck_assert_uint_eq(sizeof(struct conn), RTE_CACHE_LINE_SIZE);
	ck_assert_uint_eq((uintptr_t)a % RTE_CACHE_LINE_SIZE, 0);
	ck_assert_uint_eq((uintptr_t)b % RTE_CACHE_LINE_SIZE, 0);
	ck_assert_uint_eq(a->expires, now_s + 300);
	tmo.udp = 5;
	conn_touch(ct, a);
	ck_assert_uint_eq(a->expires, now_s + 5);
	run_to(now_s + 6);
	ck_assert_uint_eq(live(), 1); /* b keeps its 300 s until touched */
	ck_assert_uint_eq(b->expires, 1000 + 300);
}
END_TEST

START_TEST(test_persistence)
{
	struct conn *t = conn_alloc(ct), *c;
	uint32_t t0 = now_s;
	struct conn_table_stats st;

	ck_assert_ptr_nonnull(t);
	t->proto = IPPROTO_TCP;
	t->caddr = htonl(0x0a000028u);
	t->vaddr = htonl(0xc0000201u);
	t->vport = htons(80);
	t->baddr = htonl(0x0a090007u);
	ck_assert_int_eq(conn_tmpl_insert(ct, t, 60), 0);
	ck_assert_ptr_eq(
		conn_tmpl_get(ct, IPPROTO_TCP, t->caddr, t->vaddr, t->vport),
		t);
	ck_assert_ptr_null(
		conn_tmpl_get(ct, IPPROTO_UDP, t->caddr, t->vaddr, t->vport));
	ck_assert_ptr_null(conn_tmpl_get(ct, IPPROTO_TCP, t->caddr + 1,
					 t->vaddr, t->vport));
	/* a connection through it keeps it beyond its timeout */
	c = mkconn(40, IPPROTO_TCP, true);
	conn_set_state(ct, c, CONN_S_ESTABLISHED);
	conn_tmpl_bind(ct, c, t);
	ck_assert_uint_eq(t->refcnt, 1);
	run_to(t0 + 200);
	ck_assert_ptr_eq(
		conn_tmpl_get(ct, IPPROTO_TCP, t->caddr, t->vaddr, t->vport),
		t);
	conn_get_stats(ct, &st);
	ck_assert_uint_eq(st.templates, 1);
	/* then lives persist seconds at most after its last user is gone */
	conn_kill(ct, c);
	ck_assert_uint_eq(t->refcnt, 0);
	run_to(now_s + 61);
	ck_assert_ptr_null(conn_tmpl_get(ct, IPPROTO_TCP, htonl(0x0a000028u),
					 htonl(0xc0000201u), htons(80)));
	conn_get_stats(ct, &st);
	ck_assert_uint_eq(st.templates, 0);
	ck_assert_uint_eq(st.conns, 0);
}
END_TEST

START_TEST(test_template_expires)
{
	struct conn *t = conn_alloc(ct);
	uint32_t t0 = now_s;

	t->proto = IPPROTO_UDP;
	t->caddr = htonl(0x0a000029u);
	t->vaddr = htonl(0xc0000201u);
	t->vport = htons(53);
	ck_assert_int_eq(conn_tmpl_insert(ct, t, 60), 0);
	run_to(t0 + 59);
	ck_assert_ptr_nonnull(
		conn_tmpl_get(ct, IPPROTO_UDP, t->caddr, t->vaddr, t->vport));
	run_to(t0 + 60);
	ck_assert_uint_eq(live(), 0);
}
END_TEST

START_TEST(test_table_full)
{
	struct conn_table_stats st;
	struct conn *c;

	conn_table_destroy(ct);
	ct = table(64, 0);
	ck_assert_ptr_nonnull(ct);
	/* established TCP connections are never evicted */
	for (uint32_t i = 0; i < 64; i++) {
		c = mkconn(i, IPPROTO_TCP, true);
		ck_assert_ptr_nonnull(c);
		conn_set_state(ct, c, CONN_S_ESTABLISHED);
	}
	ck_assert_ptr_null(conn_alloc(ct));
	ck_assert_ptr_null(conn_alloc(ct));
	conn_get_stats(ct, &st);
	ck_assert_uint_eq(st.table_full, 2);
	ck_assert_uint_eq(st.evicted_syn + st.evicted_udp, 0);
	ck_assert_uint_eq(st.conns, 64);
	/* room again once one expires */
	run_to(now_s + tmo.established + 1);
	c = conn_alloc(ct);
	ck_assert_ptr_nonnull(c);
	conn_get_stats(ct, &st);
	ck_assert_uint_eq(st.expired, 64);
	ck_assert_uint_eq(st.table_full, 2);
}
END_TEST

/*
 * A full table makes room: the oldest SYN_RECV connection first (one
 * that left SYN_RECV is no longer a candidate), then the UDP flow idle
 * for longest (u0, created first, had a packet a second after u1 was
 * created, so u1 goes first), each counted and unlinked; then nothing is
 * left to evict. What conn_alloc() returns stays allocated.
 */
START_TEST(test_evict_order)
{
	struct conn *s0, *s1, *u0, *u1, *c;
	struct conn copy[4];
	struct conn_table_stats st;
	unsigned int dir, before;

	conn_table_destroy(ct);
	ct = table(64, 0);
	ck_assert_ptr_nonnull(ct);
	u0 = mkconn(100, IPPROTO_UDP, true);
	u1 = mkconn(101, IPPROTO_UDP, true);
	for (uint32_t i = 0; i < 60; i++) {
		c = mkconn(i, IPPROTO_TCP, true);
		ck_assert_ptr_nonnull(c);
		conn_set_state(ct, c, CONN_S_ESTABLISHED);
	}
	s0 = mkconn(102, IPPROTO_TCP, true);
	conn_set_state(ct, s0, CONN_S_SYN_RECV);
	s1 = mkconn(103, IPPROTO_TCP, true);
	conn_set_state(ct, s1, CONN_S_SYN_RECV);
	copy[0] = *s0;
	copy[1] = *s1;
	copy[2] = *u0;
	copy[3] = *u1;
	run_to(now_s + 1);
	conn_touch(ct, u0);
	before = unlinked;

	c = conn_alloc(ct); /* s0, the oldest embryonic one */
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(find(&copy[0], CONN_DIR_IN, &dir));
	ck_assert_ptr_nonnull(find(&copy[1], CONN_DIR_IN, &dir));
	ck_assert_uint_eq(unlinked, before + 1);
	/* s1 completes its handshake: it is safe now */
	conn_set_state(ct, s1, CONN_S_ESTABLISHED);
	c = conn_alloc(ct); /* u1: u0 was active later */
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(find(&copy[3], CONN_DIR_IN, &dir));
	ck_assert_ptr_null(find(&copy[3], CONN_DIR_OUT, &dir));
	ck_assert_ptr_nonnull(find(&copy[2], CONN_DIR_IN, &dir));
	ck_assert_ptr_nonnull(find(&copy[1], CONN_DIR_IN, &dir));
	c = conn_alloc(ct); /* u0 */
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(find(&copy[2], CONN_DIR_IN, &dir));
	ck_assert_ptr_null(conn_alloc(ct));
	conn_get_stats(ct, &st);
	ck_assert_uint_eq(st.evicted_syn, 1);
	ck_assert_uint_eq(st.evicted_udp, 2);
	ck_assert_uint_eq(st.table_full, 1);
	ck_assert_uint_eq(st.conns, 61);
	ck_assert_uint_eq(unlinked, before + 3);
}
END_TEST

/*
 * A bulk lookup's hit does not outlive an eviction: the evicted object is
 * reused at once by the new connection, and the hint of the evicted flow
 * must not find that one.
 */
START_TEST(test_evict_hint)
{
	struct conn *u, *c, *n;
	struct conn_key k, kn;
	const struct conn_key *kp[1] = { &k };
	struct conn_hint h;
	unsigned int dir;

	conn_table_destroy(ct);
	ct = table(64, 0);
	ck_assert_ptr_nonnull(ct);
	u = mkconn(200, IPPROTO_UDP, false);
	for (uint32_t i = 0; i < 63; i++) {
		c = mkconn(i, IPPROTO_TCP, false);
		conn_set_state(ct, c, CONN_S_ESTABLISHED);
	}
	conn_key_of(u, CONN_DIR_IN, &k);
	conn_lookup_bulk(ct, kp, 1, &h);
	ck_assert_ptr_eq(conn_lookup_hint(ct, &k, &h, &dir), u);
	n = conn_alloc(ct); /* evicts u */
	ck_assert_ptr_eq(n, u);
	n->proto = IPPROTO_UDP;
	n->caddr = htonl(0x0c000001u);
	n->cport = htons(7);
	n->vaddr = htonl(0xc0000201u);
	n->vport = htons(53);
	ck_assert_int_eq(conn_insert(ct, n), 0);
	conn_key_of(n, CONN_DIR_IN, &kn);
	ck_assert_int_ne(memcmp(&k, &kn, sizeof(k)), 0);
	ck_assert_ptr_null(conn_lookup_hint(ct, &k, &h, &dir));
}
END_TEST

START_TEST(test_budget)
{
	conn_table_destroy(ct);
	ct = table(4096, 100);
	for (uint32_t i = 0; i < 1000; i++)
		mkconn(i, IPPROTO_UDP, false);
	now_s += 300;
	for (int call = 0; call < 10; call++)
		ck_assert_uint_eq(conn_expire(ct), 100);
	ck_assert_uint_eq(unlinked, 1000);
	ck_assert_uint_eq(conn_expire(ct), 0);
	ck_assert_uint_eq(live(), 0);
}
END_TEST

START_TEST(test_duplicate)
{
	struct conn *c;

	mkconn(50, IPPROTO_TCP, true);
	c = conn_alloc(ct);
	c->proto = IPPROTO_TCP;
	c->caddr = htonl(0x0a000000u + 50);
	c->cport = htons(1024 + 50);
	c->vaddr = htonl(0xc0000201u);
	c->vport = htons(80);
	ck_assert_int_eq(conn_insert(ct, c), -EEXIST);
	ck_assert_uint_eq(live(), 1);
	conn_put(ct, c);
}
END_TEST

/* Many connections, deadlines 1..3000 s (up to three wheel turns): each
 * leaves exactly at its deadline. */
START_TEST(test_wheel_many)
{
	enum { N = 20000 };
	uint32_t *want = calloc(N, sizeof(*want));
	uint32_t t0, seed = 12345;

	unlink_time = calloc(N, sizeof(*unlink_time));
	ck_assert_ptr_nonnull(want);
	ck_assert_ptr_nonnull(unlink_time);
	conn_table_destroy(ct);
	ct = table(N, 0);
	t0 = now_s;
	for (uint32_t i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		tmo.udp = 1 + (seed >> 8) % 3000;
		want[i] = t0 + tmo.udp;
		ck_assert_ptr_nonnull(mkconn(i, IPPROTO_UDP, true));
	}
	run_to(t0 + 3001);
	ck_assert_uint_eq(unlinked, N);
	for (uint32_t i = 0; i < N; i++)
		ck_assert_msg(unlink_time[i] == want[i],
			      "conn %u left at %u, deadline %u", i,
			      unlink_time[i], want[i]);
	free(unlink_time);
	unlink_time = NULL;
	free(want);
}
END_TEST

START_TEST(test_bad_conf)
{
	struct conn_table_conf cc = { .name = "bad", .size = 10, .tmo = &tmo };

	errno = 0;
	ck_assert_ptr_null(conn_table_create(&cc));
	ck_assert_int_eq(errno, EINVAL);
	cc.size = 100;
	cc.tmo = NULL;
	ck_assert_ptr_null(conn_table_create(&cc));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_str_eq(conn_state_name(CONN_S_TIME_WAIT), "TIME_WAIT");
	ck_assert_str_eq(conn_state_name(200), "?");
}
END_TEST

static Suite *
conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("core");
	TCase *lim = tcase_create("limits");
	TCase *err = tcase_create("errors");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_tcp_inout);
	tcase_add_test(tc, test_tcp_input_only);
	tcase_add_test(tc, test_tcp_seq_window);
	tcase_add_test(tc, test_timeouts);
	tcase_add_test(tc, test_deadline_moves);
	tcase_add_test(tc, test_kill);
	tcase_add_test(tc, test_bulk_hints);
	tcase_add_test(tc, test_layout_and_timeouts);
	tcase_add_test(tc, test_persistence);
	tcase_add_test(tc, test_template_expires);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(lim, setup, teardown);
	tcase_add_test(lim, test_table_full);
	tcase_add_test(lim, test_evict_order);
	tcase_add_test(lim, test_evict_hint);
	tcase_add_test(lim, test_budget);
	tcase_add_test(lim, test_wheel_many);
	suite_add_tcase(s, lim);
	tcase_add_checked_fixture(err, setup, teardown);
	tcase_add_test(err, test_duplicate);
	tcase_add_test(err, test_bad_conf);
	suite_add_tcase(s, err);
	return s;
}

int
main(void)
{
	char *eal[] = { "test_conn",   "--no-huge",   "-m", "512",
			"--no-pci",    "--no-shconf", "-l", "0",
			"--log-level", "error" };
	SRunner *sr;
	int failed;

	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal) < 0) {
		fprintf(stderr, "test_conn: EAL init failed\n");
		return EXIT_FAILURE;
	}
	printf("struct conn: %zu bytes\n", sizeof(struct conn));
	sr = srunner_create(conn_suite());
	/* one process: EAL cannot be initialised again in forked children */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rte_eal_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
