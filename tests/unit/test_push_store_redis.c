/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the push store on Redis: the shared contract cases of
 * push_store_cases.h against a real redis-server (Debian redis-server)
 * that this test starts on a free loopback port with its own directory
 * and AOF on (appendfsync always). Each case starts from an empty
 * database; the persistence case kills the server with SIGKILL and
 * starts it again on the same AOF: what a commit returned for is there.
 * Writes are applied as they come (no rollback): an uncommitted write
 * stays.
 */
#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "push_store_cases.h"

static char dir[] = "/tmp/test_push_store_redis.XXXXXX";
static char addr[64];
static int port;

/* A port free on 127.0.0.1 now (the server binds it right after). */
static int
free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		p = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return p;
}

/* A command on a fresh connection; 0 when it answered without error. */
static int
redis_cmd(const char *cmd)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *r = NULL;
	int rc = -1;

	if (c != NULL && c->err == 0)
		r = redisCommand(c, cmd);
	if (r != NULL && r->type != REDIS_REPLY_ERROR)
		rc = 0;
	if (r != NULL)
		freeReplyObject(r);
	if (c != NULL)
		redisFree(c);
	return rc;
}

static void
server_start(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "redis-server --bind 127.0.0.1 --port %d --dir %s "
		 "--appendonly yes --appendfsync always --save '' "
		 "--daemonize yes --pidfile %s/redis.pid "
		 "--logfile %s/redis.log",
		 port, dir, dir, dir);
	ck_assert_int_eq(system(cmd), 0);
	/* bounded wait: 5 s */
	for (int i = 0; i < 100; i++) {
		if (redis_cmd("PING") == 0)
			return;
		usleep(50000);
	}
	ck_abort_msg("redis-server did not answer on port %d", port);
}

/* SIGKILL the server (no shutdown save) and wait for it to be gone. */
static void
server_kill(void)
{
	char pidf[128];
	FILE *f;
	int pid = 0;

	snprintf(pidf, sizeof(pidf), "%s/redis.pid", dir);
	f = fopen(pidf, "r");
	if (f == NULL)
		return;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	for (int i = 0; i < 100 && kill(pid, 0) == 0; i++)
		usleep(20000);
	unlink(pidf);
}

static void
store_reopen(void)
{
	char err[256] = "";

	ops->close(st);
	st = NULL;
	server_kill();
	server_start();
	ck_assert_msg(ops->open(addr, &st, err, sizeof(err)) == 0, "%s", err);
}

/* Once per run (in the parent): the server. */
static void
suite_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	port = free_port();
	ck_assert_int_gt(port, 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	server_start();
}

static void
suite_teardown(void)
{
	char cmd[128];

	server_kill();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static void
setup(void)
{
	char err[256] = "";

	ops = &push_store_redis;
	store_rolls_back = false;
	/* the persistence case of another test may have restarted it */
	if (redis_cmd("PING") < 0)
		server_start();
	ck_assert_int_eq(redis_cmd("FLUSHALL"), 0);
	ck_assert_msg(ops->open(addr, &st, err, sizeof(err)) == 0, "%s", err);
	cases_setup();
}

static void
teardown(void)
{
	if (st != NULL)
		ops->close(st);
	st = NULL;
}

/* Redis gone: every op answers -EIO, none blocks for long; back: works. */
START_TEST(server_down)
{
	struct push_device_info di;
	struct timespec a, b;
	int rc;

	ck_assert_int_eq(ops->commit(st), 0);
	server_kill();
	clock_gettime(CLOCK_MONOTONIC, &a);
	/* begin does not ask the server: the first op finds it gone */
	ck_assert_int_eq(ops->begin(st), 0);
	ck_assert_int_eq(ops->device_get(st, "d1", &di), -EIO);
	ck_assert_int_eq(ops->commit(st), -EIO);
	/* down: no new attempt before the backoff */
	ck_assert_int_eq(ops->begin(st), -EIO);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ck_assert_int_lt(b.tv_sec - a.tv_sec, 2);
	server_start();
	/* reconnects after its backoff (100 ms first, bounded wait) */
	for (int i = 0; i < 50; i++) {
		rc = ops->begin(st);
		if (rc == 0)
			break;
		usleep(50000);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(ops->device_get(st, "d1", &di), 0);
	ck_assert_str_eq(di.platform, "ios");
}
END_TEST

START_TEST(bad_address)
{
	void *s2 = NULL;
	char err[256] = "";

	ck_assert_int_eq(ops->open("no-port", &s2, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "HOST:PORT"));
	ck_assert_int_eq(ops->open("127.0.0.1:1", &s2, err, sizeof(err)), -EIO);
	ck_assert_ptr_nonnull(strstr(err, "127.0.0.1:1"));
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("push_store_redis");
	TCase *tc = tcase_create("redis");

	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	cases_add(tc);
	tcase_add_test(tc, server_down);
	tcase_add_test(tc, bad_address);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (system("command -v redis-server >/dev/null") != 0) {
		printf("redis-server not installed (Debian package "
		       "redis-server): skipped\n");
		return 77;
	}
	sr = srunner_create(store_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
