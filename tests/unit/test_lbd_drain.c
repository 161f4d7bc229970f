/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelbd's SIGTERM drain (controlplane/daemon.c) with a module of this
 * test in the module table: a line server on 127.0.0.1 (a request is a
 * line, answered "OK\n" and closed). On SIGTERM the daemon calls drain
 * (the module closes its listener) and polls drained (no connection
 * open) every 100 ms: a request in flight is given the time to finish;
 * one that never finishes is cut at [global] shutdown_grace; 0 exits at
 * once. lbctl's MODULE_GET tells running from draining. The daemon's
 * loop runs on the main thread (lbd_run), the client on a second thread.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/event.h>

#include "daemon.h"
#include "metrics.h"
#include "modules.h"
#include "edgelb/lbmsg.h"

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the test's module ---------------------------------------------------- */

struct line_srv {
	int lfd;
	struct event *lev;
	int cfd;
	struct event *cev;
	atomic_int open; /* connections (read by the client thread) */
	atomic_bool drain_called;
	atomic_bool stop_called;
};

static struct line_srv srv;
static atomic_int srv_port;

static void
conn_close(struct line_srv *s)
{
	if (s->cev != NULL)
		event_free(s->cev);
	if (s->cfd >= 0)
		close(s->cfd);
	s->cev = NULL;
	s->cfd = -1;
	atomic_store(&s->open, 0);
}

static void
on_conn(evutil_socket_t fd, short what, void *arg)
{
	struct line_srv *s = arg;
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf));

	(void)what;
	if (n > 0 && memchr(buf, '\n', (size_t)n) == NULL)
		return; /* the request goes on */
	if (n > 0 && write(fd, "OK\n", 3) != 3)
		n = -1;
	conn_close(s);
}

static void
on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct line_srv *s = arg;
	int c = accept(fd, NULL, NULL);

	(void)what;
	if (c < 0)
		return;
	if (s->cfd >= 0) { /* one at a time */
		close(c);
		return;
	}
	s->cfd = c;
	s->cev = event_new(event_get_base(s->lev), c, EV_READ | EV_PERSIST,
			   on_conn, s);
	event_add(s->cev, NULL);
	atomic_store(&s->open, 1);
}

static int
mod_start(struct lbd *d, const struct cfg *c, void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);

	(void)c;
	srv.cfd = -1;
	srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (srv.lfd < 0 || bind(srv.lfd, (struct sockaddr *)&sa, len) < 0 ||
	    listen(srv.lfd, 4) < 0 ||
	    getsockname(srv.lfd, (struct sockaddr *)&sa, &len) < 0)
		return -errno;
	atomic_store(&srv_port, ntohs(sa.sin_port));
	srv.lev = event_new(d->base, srv.lfd, EV_READ | EV_PERSIST, on_accept,
			    &srv);
	event_add(srv.lev, NULL);
	*state = &srv;
	return 0;
}

/* No new connections; the one open goes on. */
static int
mod_drain(struct lbd *d, void *state)
{
	struct line_srv *s = state;

	(void)d;
	event_free(s->lev);
	s->lev = NULL;
	close(s->lfd);
	s->lfd = -1;
	atomic_store(&s->drain_called, true);
	return 0;
}

static bool
mod_drained(void *state)
{
	return atomic_load(&((struct line_srv *)state)->open) == 0;
}

static void
mod_stop(struct lbd *d, void *state)
{
	struct line_srv *s = state;

	(void)d;
	conn_close(s);
	if (s->lev != NULL)
		event_free(s->lev);
	if (s->lfd >= 0)
		close(s->lfd);
	atomic_store(&s->stop_called, true);
}

/* Its scrape-time metric: the connections open. */
static int
mod_collect(void *state, struct metrics *m)
{
	metrics_put(m, "edgelbd_line_open", "Open line connections.",
		    METRICS_GAUGE, NULL, 0,
		    atomic_load(&((struct line_srv *)state)->open));
	return 0;
}

static const struct lbd_module line_module = {
	.name = "line",
	.start = mod_start,
	.collect = mod_collect,
	.drain = mod_drain,
	.drained = mod_drained,
	.stop = mod_stop,
};

static const struct lbd_module *const test_modules[] = { &line_module };

/* ---- fixture --------------------------------------------------------------- */

static char dir[32];
static struct lbd d;

static void
start_daemon(uint32_t grace_ms)
{
	struct cfg *c = cfg_new(NULL, 0);

	memset(&srv, 0, sizeof(srv));
	snprintf(dir, sizeof(dir), "/tmp/lbd_drain.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(c);
	snprintf(c->dp_socket, sizeof(c->dp_socket), "%s/dp.sock", dir);
	snprintf(c->ctl_socket, sizeof(c->ctl_socket), "%s/ctl.sock", dir);
	c->metrics_enabled = false;
	c->reconcile_ms = 0;
	c->shutdown_grace_ms = grace_ms;
	ck_assert_int_eq(lbd_init_with(&d, "-", c, test_modules, 1), 0);
}

static void
stop_daemon(void)
{
	char path[96];

	lbd_fini(&d);
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	unlink(path);
	rmdir(dir);
}

/* ---- the client (second thread) ------------------------------------------- */

struct client {
	int finish_after_ms; /* -1: never finish the request */
	int state_before;    /* MODULE_GET's STATE for "line" before SIGTERM */
	int state_during;    /* and while its request is in flight */
	int state_unknown;   /* MODULE_GET for a module that is not there */
	uint64_t sig_ms;     /* when SIGTERM was sent */
	bool in_flight;	     /* the module had the connection open */
	bool new_refused;    /* a connection after SIGTERM was refused */
	char reply[8];
	int fd;
};

static int
connect_srv(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_port = htons((uint16_t)atomic_load(&srv_port));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
state_part(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	(void)nlh;
	if (tb[LB_ATTR_STATE] != NULL)
		*(int *)arg = nla_get_u8(tb[LB_ATTR_STATE]);
	return 0;
}

/* MODULE_GET NAME=name on ctl.sock: its STATE, or a negative errno. */
static int
module_state(const char *name)
{
	char path[96], err[LBMSG_ERRMSG_MAX];
	struct lbmsg_client *c;
	struct nl_msg *msg = lbmsg_new(LB_MSG_MODULE_GET, NLM_F_DUMP);
	int st = -ENODATA, rc = -ENOMEM;

	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	c = lbmsg_client_open(path, 2000);
	if (c != NULL && msg != NULL &&
	    nla_put_string(msg, LB_ATTR_NAME, name) == 0)
		rc = lbmsg_client_request(c, msg, state_part, &st, err,
					  sizeof(err));
	if (msg != NULL)
		nlmsg_free(msg);
	lbmsg_client_close(c);
	return rc < 0 ? rc : st;
}

static void *
client(void *arg)
{
	struct client *cl = arg;
	int fd2;

	cl->fd = connect_srv();
	if (cl->fd < 0 || write(cl->fd, "GET", 3) != 3)
		return NULL;
	for (int i = 0; i < 200 && atomic_load(&srv.open) == 0; i++)
		usleep(10 * 1000);
	cl->in_flight = atomic_load(&srv.open) == 1;
	cl->state_before = module_state("line");
	cl->state_unknown = module_state("nosuch");
	cl->sig_ms = now_ms();
	kill(getpid(), SIGTERM);
	for (int i = 0; i < 200 && !atomic_load(&srv.drain_called); i++)
		usleep(10 * 1000);
	fd2 = connect_srv();
	cl->new_refused = fd2 < 0;
	if (fd2 >= 0)
		close(fd2);
	cl->state_during = module_state("line");
	if (cl->finish_after_ms < 0)
		return NULL; /* the caller reads the end of cl->fd */
	usleep((useconds_t)cl->finish_after_ms * 1000);
	if (write(cl->fd, " /\n", 3) == 3) {
		struct pollfd p = { .fd = cl->fd, .events = POLLIN };

		if (poll(&p, 1, 2000) == 1 &&
		    read(cl->fd, cl->reply, sizeof(cl->reply) - 1) < 0)
			cl->reply[0] = '\0';
	}
	return NULL;
}

/* Run the daemon until it exits; ms from SIGTERM to the end of lbd_run. */
static uint64_t
run_daemon(struct client *cl, pthread_t *t)
{
	ck_assert_int_eq(pthread_create(t, NULL, client, cl), 0);
	ck_assert_int_eq(lbd_run(&d), 0);
	return now_ms() - cl->sig_ms;
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(test_in_flight_finishes)
{
	struct client cl = { .finish_after_ms = 300 };
	pthread_t t;
	uint64_t took;

	start_daemon(3000);
	took = run_daemon(&cl, &t);
	pthread_join(t, NULL);
	ck_assert_msg(cl.in_flight, "the request never reached the module");
	ck_assert(atomic_load(&srv.drain_called));
	ck_assert_msg(cl.new_refused, "a new connection was accepted after "
				      "SIGTERM");
	ck_assert_str_eq(cl.reply, "OK\n");
	ck_assert_int_eq(cl.state_before, LB_MODULE_RUNNING);
	ck_assert_int_eq(cl.state_during, LB_MODULE_DRAINING);
	ck_assert_int_eq(cl.state_unknown, -ENOENT);
	/* it waited for the request, and not for the grace */
	ck_assert_uint_ge(took, 300);
	ck_assert_msg(took < 2000, "exit %llu ms after SIGTERM (grace 3 s)",
		      (unsigned long long)took);
	ck_assert(!atomic_load(&srv.stop_called));
	stop_daemon();
	ck_assert(atomic_load(&srv.stop_called));
	close(cl.fd);
}
END_TEST

START_TEST(test_never_finishes_is_cut_at_grace)
{
	struct client cl = { .finish_after_ms = -1 };
	pthread_t t;
	uint64_t took;
	char c, *page = NULL;
	size_t len = 0;

	start_daemon(600);
	took = run_daemon(&cl, &t);
	pthread_join(t, NULL);
	ck_assert_msg(cl.in_flight, "the request never reached the module");
	ck_assert_uint_ge(took, 600);
	ck_assert_msg(took < 1500, "exit %llu ms after SIGTERM (grace 600 ms)",
		      (unsigned long long)took);
	ck_assert_int_eq(atomic_load(&srv.open), 1); /* still in flight */
	ck_assert_int_eq(metrics_render_string(d.metrics, &page, &len), 0);
	ck_assert_msg(strstr(page, "\nedgelbd_line_open 1\n") != NULL,
		      "the module's collector is not in /metrics");
	free(page);
	stop_daemon();
	/* stop closed it: the client sees the end */
	ck_assert_int_eq(read(cl.fd, &c, 1), 0);
	close(cl.fd);
}
END_TEST

START_TEST(test_grace_zero_exits_at_once)
{
	struct client cl = { .finish_after_ms = -1 };
	pthread_t t;
	uint64_t took;

	start_daemon(0);
	took = run_daemon(&cl, &t);
	pthread_join(t, NULL);
	ck_assert_msg(cl.in_flight, "the request never reached the module");
	ck_assert_msg(took < 300, "exit %llu ms after SIGTERM (grace 0)",
		      (unsigned long long)took);
	ck_assert(!atomic_load(&srv.drain_called));
	stop_daemon();
	close(cl.fd);
}
END_TEST

static Suite *
drain_suite(void)
{
	Suite *s = suite_create("lbd_drain");
	TCase *tc = tcase_create("sigterm");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_in_flight_finishes);
	tcase_add_test(tc, test_never_finishes_is_cut_at_grace);
	tcase_add_test(tc, test_grace_zero_exits_at_once);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(drain_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
