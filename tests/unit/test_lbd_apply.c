/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of edgelbd's incremental apply (controlplane/dpsync.c)
 * against a recording dp.sock served by a thread of the test: a change of
 * one service sends only that service's operations and no dump; a failed
 * operation drops the applied record and schedules one full reconcile.
 * Jobs run on the daemon's loop, which the test turns until each ends
 * (the daemon's own dataplane timer is stopped: no heartbeats here).
 * Dumps answer an empty dataplane, or the one service the test put in
 * it, encoded as edgelb-dp encodes it (the common lbmsg record encoders).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <event2/event.h>

#include "daemon.h"
#include "dpclient.h"
#include "dpsync.h"
#include "edgelb/lbmsg.h"

#define MAX_SEEN 8192

/* What the fake dataplane received, and whether it fails the next op. */
static struct {
	pthread_mutex_t lock;
	uint16_t type[MAX_SEEN];
	uint16_t vport[MAX_SEEN];
	unsigned int n;
	bool fail_next;
	const struct cfg_service *in_dp; /* what SERVICE_GET reports */
	volatile bool stop;
} seen = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* s as a SERVICE_GET dump part, with its backends. */
static int
send_service(struct lbmsg_req *req, const struct cfg_service *s)
{
	struct lbmsg_svc_attrs a = {
		.name = s->name,
		.sched = s->sched,
		.mode = s->mode,
		.persist = s->persist,
		.flags = s->flags,
		.mh_size = s->mh_size,
		.max_conns = s->max_conns,
		.conn_rate = s->conn_rate,
		.syn_src_rate = s->syn_src_rate,
	};
	struct nl_msg *m = lbmsg_req_part(req);
	struct nlattr *list;

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(lbmsg_put_svc_key(m, s->proto, &s->vip, s->vport), 0);
	ck_assert_int_eq(lbmsg_put_svc_attrs(m, &a), 0);
	list = nla_nest_start(m, LB_ATTR_BACKENDS);
	ck_assert_ptr_nonnull(list);
	for (uint32_t i = 0; i < s->nbackends; i++) {
		struct lbmsg_backend b = {
			.present = LBMSG_BE_WEIGHT | LBMSG_BE_FLAGS |
				   LBMSG_BE_THRESH,
			.addr = s->backends[i].addr,
			.port = s->backends[i].port,
			.weight = s->backends[i].weight,
			.u_thresh = s->backends[i].u_thresh,
			.l_thresh = s->backends[i].l_thresh,
		};
		struct nlattr *rec = nla_nest_start(m, LB_ATTR_BACKEND);

		ck_assert_ptr_nonnull(rec);
		ck_assert_int_eq(lbmsg_put_backend(m, &b), 0);
		nla_nest_end(m, rec);
	}
	nla_nest_end(m, list);
	return lbmsg_req_send(req, m);
}

static int
h_record(struct lbmsg_req *req)
{
	struct lb_addr vip;
	uint16_t vport = 0;
	uint8_t proto;
	int rc = 0;

	lbmsg_get_svc_key(req->tb, &proto, &vip, &vport);
	pthread_mutex_lock(&seen.lock);
	if (seen.n < MAX_SEEN) {
		seen.type[seen.n] = req->nlh->nlmsg_type;
		seen.vport[seen.n++] = vport;
	}
	if (seen.fail_next && !lbmsg_type_is_dump(req->nlh->nlmsg_type)) {
		seen.fail_next = false;
		rc = lbmsg_req_errf(req, -EINVAL, "refused by the test");
	}
	if (req->nlh->nlmsg_type == LB_MSG_SERVICE_GET && seen.in_dp != NULL)
		rc = send_service(req, seen.in_dp);
	pthread_mutex_unlock(&seen.lock);
	return rc; /* other dumps: no parts */
}

static const lbmsg_handler_fn handlers[LB_MSG_MAX + 1] = {
	[LB_MSG_SERVICE_NEW] = h_record, [LB_MSG_SERVICE_DEL] = h_record,
	[LB_MSG_SERVICE_SET] = h_record, [LB_MSG_SERVICE_GET] = h_record,
	[LB_MSG_BACKEND_NEW] = h_record, [LB_MSG_BACKEND_DEL] = h_record,
	[LB_MSG_BACKEND_SET] = h_record, [LB_MSG_LADDR_NEW] = h_record,
	[LB_MSG_LADDR_DEL] = h_record,	 [LB_MSG_LADDR_GET] = h_record,
	[LB_MSG_CONFIG_GET] = h_record,
};

static void *
serve(void *arg)
{
	struct lbmsg_server *srv = arg;

	while (!seen.stop)
		lbmsg_server_poll(srv, 20);
	return NULL;
}

static char dir[32];
static struct lbmsg_server *srv;
static pthread_t thread;
static struct lbd d;

static int job_rc;
static bool job_done;

static void
on_job(void *arg, int rc)
{
	(void)arg;
	job_rc = rc;
	job_done = true;
}

/* Turn the loop until the job queued last ended (5 s at most). */
static int
run_job(void)
{
	time_t end = time(NULL) + 5;

	while (!job_done && time(NULL) < end)
		event_base_loop(d.base, EVLOOP_ONCE);
	ck_assert_msg(job_done, "the job did not end within 5 s");
	job_done = false;
	return job_rc;
}

static int
reconcile(void)
{
	dpsync_reconcile(d.sync, on_job, NULL);
	return run_job();
}

static int
apply(uint8_t proto, const struct lb_addr *vip, uint16_t vport)
{
	dpsync_service(d.sync, proto, vip, vport, on_job, NULL);
	return run_job();
}

static void
seen_reset(void)
{
	pthread_mutex_lock(&seen.lock);
	seen.n = 0;
	pthread_mutex_unlock(&seen.lock);
}

/* The number of requests of type t (for vport, or any when 0) seen. */
static unsigned int
seen_count(uint16_t t, uint16_t vport)
{
	unsigned int c = 0;

	pthread_mutex_lock(&seen.lock);
	for (unsigned int i = 0; i < seen.n; i++)
		c += seen.type[i] == t &&
		     (vport == 0 || seen.vport[i] == vport);
	pthread_mutex_unlock(&seen.lock);
	return c;
}

static unsigned int
seen_total(void)
{
	unsigned int n;

	pthread_mutex_lock(&seen.lock);
	n = seen.n;
	pthread_mutex_unlock(&seen.lock);
	return n;
}

/* Service i: UDP 10.100.0.i:(1000 + i), DR, nb backends. */
static void
add_service(struct cfg *c, uint16_t i, uint32_t nb)
{
	struct cfg_service s;

	cfg_service_init(&s);
	s.proto = IPPROTO_UDP;
	s.mode = LB_MODE_DR;
	s.vport = (uint16_t)(1000 + i);
	ck_assert_int_eq(lb_addr_parse("10.100.0.1", &s.vip), 0);
	s.vip.v4 = htonl(0x0a640000u + i);
	snprintf(s.name, sizeof(s.name), "svc%u", i);
	for (uint32_t j = 0; j < nb; j++) {
		struct cfg_backend b = { .port = 80, .weight = 1 };

		ck_assert_int_eq(lb_addr_parse("10.101.0.1", &b.addr), 0);
		b.addr.v4 = htonl(0x0a650000u + i * 16 + j);
		ck_assert_int_eq(cfg_backend_add(&s, &b), 0);
	}
	ck_assert_int_eq(cfg_service_add(c, &s), 0);
	cfg_service_release(&s);
}

static void
setup(void)
{
	char path[96];
	struct cfg *c;

	snprintf(dir, sizeof(dir), "/tmp/lbd_apply.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dp.sock", dir);
	srv = lbmsg_server_open(path, 0600, -1, handlers, NULL);
	ck_assert_ptr_nonnull(srv);
	seen.stop = false;
	seen.fail_next = false;
	ck_assert_int_eq(pthread_create(&thread, NULL, serve, srv), 0);
	c = cfg_new(NULL, 0);
	ck_assert_ptr_nonnull(c);
	snprintf(c->dp_socket, sizeof(c->dp_socket), "%s", path);
	snprintf(c->ctl_socket, sizeof(c->ctl_socket), "%s/ctl.sock", dir);
	c->metrics_enabled = false;
	c->reconcile_ms = 0;
	for (uint16_t i = 1; i <= 3; i++)
		add_service(c, i, 2);
	ck_assert_int_eq(lbd_init(&d, "-", c), 0);
	evtimer_del(d.dp_timer);
	ck_assert_int_eq(dpc_connect(d.dpc), 0);
	seen_reset();
}

static void
teardown(void)
{
	char path[96];

	lbd_fini(&d);
	seen.stop = true;
	pthread_join(thread, NULL);
	lbmsg_server_close(srv);
	snprintf(path, sizeof(path), "%s/dp.sock", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	unlink(path);
	rmdir(dir);
}

START_TEST(test_full_then_incremental)
{
	struct cfg_service *s;
	struct cfg_backend b = { .port = 80, .weight = 5 };
	uint8_t proto;

	/* the full reconcile dumps and creates everything */
	ck_assert_int_eq(reconcile(), 0);
	ck_assert_uint_eq(seen_count(LB_MSG_SERVICE_GET, 0), 1);
	ck_assert_uint_eq(seen_count(LB_MSG_SERVICE_NEW, 0), 3);
	ck_assert_uint_eq(seen_count(LB_MSG_BACKEND_NEW, 0), 6);
	ck_assert(dpsync_applied_ok(d.sync));
	ck_assert(!dpsync_dirty(d.sync));

	/* one new backend of service 2: exactly one BACKEND_NEW, no dump */
	seen_reset();
	s = &d.cfg->services[1];
	ck_assert_int_eq(lb_addr_parse("10.9.9.9", &b.addr), 0);
	ck_assert_int_eq(cfg_backend_add(s, &b), 0);
	proto = s->proto;
	ck_assert_int_eq(apply(proto, &s->vip, s->vport), 0);
	ck_assert_uint_eq(seen_total(), 1);
	ck_assert_uint_eq(seen_count(LB_MSG_BACKEND_NEW, 1002), 1);

	/* a weight change: one BACKEND_SET */
	seen_reset();
	s->backends[0].weight = 7;
	ck_assert_int_eq(apply(s->proto, &s->vip, s->vport), 0);
	ck_assert_uint_eq(seen_total(), 1);
	ck_assert_uint_eq(seen_count(LB_MSG_BACKEND_SET, 1002), 1);

	/* no change at all: nothing is sent */
	seen_reset();
	ck_assert_int_eq(apply(s->proto, &s->vip, s->vport), 0);
	ck_assert_uint_eq(seen_total(), 0);

	/* a new service: SERVICE_NEW and its backends only */
	seen_reset();
	add_service(d.cfg, 4, 3);
	s = &d.cfg->services[3];
	ck_assert_int_eq(apply(s->proto, &s->vip, s->vport), 0);
	ck_assert_uint_eq(seen_total(), 4);
	ck_assert_uint_eq(seen_count(LB_MSG_SERVICE_NEW, 1004), 1);
	ck_assert_uint_eq(seen_count(LB_MSG_BACKEND_NEW, 1004), 3);

	/* a service removed: one SERVICE_DEL */
	seen_reset();
	{
		struct cfg_service key = d.cfg->services[0];

		cfg_service_remove(d.cfg, 0);
		ck_assert_int_eq(apply(key.proto, &key.vip, key.vport), 0);
	}
	ck_assert_uint_eq(seen_total(), 1);
	ck_assert_uint_eq(seen_count(LB_MSG_SERVICE_DEL, 1001), 1);
	ck_assert(!dpsync_dirty(d.sync));
}
END_TEST

/*
 * A service the dataplane already has exactly as desired: the dump's
 * decoding (dpclient.c, lbmsg_get_svc_attrs / lbmsg_get_backend) gives
 * back every attribute, so the reconcile sends nothing for it.
 */
START_TEST(test_dump_in_sync)
{
	struct cfg_service have;

	ck_assert_int_eq(cfg_service_copy(&have, &d.cfg->services[0]), 0);
	snprintf(have.sched, sizeof(have.sched), "mh");
	have.persist = 300;
	have.flags = LB_SVC_F_ALL;
	have.mh_size = 65537;
	have.max_conns = 1000;
	have.conn_rate = 50;
	have.syn_src_rate = 20;
	have.backends[1].weight = 9;
	have.backends[1].u_thresh = 100;
	have.backends[1].l_thresh = 75;
	cfg_service_release(&d.cfg->services[0]);
	ck_assert_int_eq(cfg_service_copy(&d.cfg->services[0], &have), 0);
	pthread_mutex_lock(&seen.lock);
	seen.in_dp = &have;
	pthread_mutex_unlock(&seen.lock);
	ck_assert_int_eq(reconcile(), 0);
	pthread_mutex_lock(&seen.lock);
	seen.in_dp = NULL;
	pthread_mutex_unlock(&seen.lock);
	ck_assert_uint_eq(seen_count(LB_MSG_SERVICE_GET, 0), 1);
	ck_assert_uint_eq(seen_count(LB_MSG_SERVICE_NEW, 1001), 0);
	ck_assert_uint_eq(seen_count(LB_MSG_SERVICE_NEW, 0), 2); /* 2, 3 */
	ck_assert_uint_eq(seen_count(LB_MSG_SERVICE_DEL, 0), 0);
	ck_assert_uint_eq(seen_count(LB_MSG_SERVICE_SET, 0), 0);
	ck_assert_uint_eq(seen_count(LB_MSG_BACKEND_SET, 0), 0);
	ck_assert_uint_eq(seen_count(LB_MSG_BACKEND_NEW, 1001), 0);
	ck_assert(dpsync_applied_ok(d.sync));
	cfg_service_release(&have);
}
END_TEST

START_TEST(test_error_schedules_full)
{
	struct cfg_service *s;
	struct cfg_backend b = { .port = 81, .weight = 1 };
	struct timespec ts;
	uint64_t now;

	ck_assert_int_eq(reconcile(), 0);
	seen_reset();
	s = &d.cfg->services[2];
	ck_assert_int_eq(lb_addr_parse("10.9.9.8", &b.addr), 0);
	ck_assert_int_eq(cfg_backend_add(s, &b), 0);
	seen.fail_next = true;
	ck_assert_int_eq(apply(s->proto, &s->vip, s->vport), -EINVAL);
	ck_assert_uint_eq(seen_total(), 1);
	/* the record is dropped and a full reconcile is due at once */
	ck_assert(!dpsync_applied_ok(d.sync));
	ck_assert(dpsync_dirty(d.sync));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	ck_assert_uint_le(dpsync_retry_at(d.sync), now);

	/* further changes wait for it: nothing sent, still one due */
	seen_reset();
	s->backends[0].weight = 3;
	ck_assert_int_eq(apply(s->proto, &s->vip, s->vport), -EAGAIN);
	ck_assert_uint_eq(seen_total(), 0);
	ck_assert(dpsync_dirty(d.sync));

	/* the full reconcile dumps once and restores the record */
	ck_assert_int_eq(reconcile(), 0);
	ck_assert_uint_eq(seen_count(LB_MSG_SERVICE_GET, 0), 1);
	ck_assert(dpsync_applied_ok(d.sync));
	ck_assert(!dpsync_dirty(d.sync));
	seen_reset();
	s->backends[0].weight = 4;
	ck_assert_int_eq(apply(s->proto, &s->vip, s->vport), 0);
	ck_assert_uint_eq(seen_total(), 1);
	ck_assert_uint_eq(seen_count(LB_MSG_BACKEND_SET, 1003), 1);
}
END_TEST

/*
 * A reconcile of many services pipelines thousands of operations: more
 * than dp.sock's buffer holds at once, so sending waits for room on the
 * loop. Every operation arrives once, each service's after its
 * SERVICE_NEW.
 */
START_TEST(test_big_reconcile_pipelined)
{
	static bool created[2100];
	unsigned int n, misordered = 0;

	for (uint16_t i = 4; i < 2000; i++)
		add_service(d.cfg, i, 2);
	ck_assert_int_eq(reconcile(), 0);
	ck_assert_uint_eq(seen_count(LB_MSG_SERVICE_NEW, 0), 1999);
	ck_assert_uint_eq(seen_count(LB_MSG_BACKEND_NEW, 0), 2 * 1999);
	pthread_mutex_lock(&seen.lock);
	n = seen.n;
	for (unsigned int i = 0; i < n; i++) {
		uint16_t v = (uint16_t)(seen.vport[i] - 1000);

		if (seen.type[i] == LB_MSG_SERVICE_NEW)
			created[v] = true;
		else if (seen.type[i] == LB_MSG_BACKEND_NEW && !created[v])
			misordered++;
	}
	pthread_mutex_unlock(&seen.lock);
	ck_assert_uint_eq(misordered, 0);
	ck_assert(dpsync_applied_ok(d.sync));
}
END_TEST

START_TEST(test_not_connected)
{
	struct cfg_service *s = &d.cfg->services[0];

	dpc_disconnect(d.dpc);
	ck_assert_int_eq(apply(s->proto, &s->vip, s->vport), -ENOTCONN);
	ck_assert(dpsync_dirty(d.sync));
	ck_assert_uint_eq(seen_total(), 0);
}
END_TEST

static Suite *
apply_suite(void)
{
	Suite *s = suite_create("lbd_apply");
	TCase *tc = tcase_create("core");
	TCase *te = tcase_create("errors");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(te, setup, teardown);
	tcase_add_test(tc, test_full_then_incremental);
	tcase_add_test(tc, test_dump_in_sync);
	tcase_add_test(te, test_error_schedules_full);
	tcase_add_test(te, test_not_connected);
	tcase_add_test(tc, test_big_reconcile_pipelined);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, te);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(apply_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
