/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HTTP servers' descriptor budget (controlplane/http/http_fdbudget.c):
 * the budget follows the soft limit and the reserve; a server in a child
 * with 200 descriptors and a reserve of 150 holds 50 connections, answers
 * the rest 503 and closes them, counts them, and takes new connections
 * again once some closed.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <event2/event.h>

#include "http.h"
#include "http_fdbudget.h"
#include "edgelb/log.h"

#define LIMIT	200
#define RESERVE 150
#define BUDGET	(LIMIT - RESERVE)

START_TEST(test_budget_arith)
{
	struct http_fdbudget_stats st;
	struct rlimit rl;

	ck_assert_uint_eq(http_fdbudget_reserve_for(0),
			  HTTP_FDBUDGET_RESERVE_BASE);
	ck_assert_uint_eq(http_fdbudget_reserve_for(7),
			  HTTP_FDBUDGET_RESERVE_BASE + 7);
	ck_assert_int_eq(http_fdbudget_init(10), 0);
	/* init raised the soft limit to the hard one */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert(rl.rlim_cur == rl.rlim_max);
	http_fdbudget_stats(&st);
	if (rl.rlim_cur == RLIM_INFINITY)
		return;
	ck_assert_uint_eq(st.limit, rl.rlim_cur);
	ck_assert_uint_eq(st.reserve, 10);
	ck_assert_uint_eq(st.budget, rl.rlim_cur - 10);
	/* a reserve over the limit leaves a quarter of it */
	http_fdbudget_set_reserve((uint32_t)rl.rlim_cur);
	http_fdbudget_stats(&st);
	ck_assert_uint_eq(st.budget, rl.rlim_cur / 4);
	/* take and put: the count goes back */
	http_fdbudget_set_reserve(10);
	ck_assert_int_eq(http_fdbudget_take(), 0);
	http_fdbudget_stats(&st);
	ck_assert_uint_eq(st.in_use, 1);
	http_fdbudget_put();
	http_fdbudget_stats(&st);
	ck_assert_uint_eq(st.in_use, 0);
}
END_TEST

static void
on_request(void *arg, struct http_req *req)
{
	struct http_fdbudget_stats st;
	char body[64];
	int n;

	(void)arg;
	http_fdbudget_stats(&st);
	n = snprintf(body, sizeof(body), "in_use=%llu refused=%llu",
		     (unsigned long long)st.in_use,
		     (unsigned long long)st.refused);
	http_resp_simple(req, 200, "text/plain", body, (size_t)n);
}

static void
on_ctl(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg); /* the parent closed its end */
}

/* The server in a child with LIMIT descriptors; writes its port to out. */
static void
server_child(int ctl, int out)
{
	static const struct http_handler h = { .on_request = on_request };
	struct http_limits l = http_default_limits;
	struct rlimit rl = { LIMIT, LIMIT };
	struct event_base *base;
	struct http_server *srv;
	struct lb_addr a;
	uint16_t port;

	lb_log_init("test_http_fdbudget", LOG_ERR, false);
	l.max_conns = 1000;
	l.max_conns_per_addr = 1000;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 ||
	    http_fdbudget_init(RESERVE) < 0)
		_exit(2);
	base = event_base_new();
	srv = base != NULL ? http_server_new(base, &l, &h, NULL) : NULL;
	lb_addr_parse("127.0.0.1", &a);
	if (srv == NULL || http_server_listen(srv, &a, 0) < 0)
		_exit(2);
	port = http_server_port(srv);
	if (write(out, &port, sizeof(port)) != sizeof(port))
		_exit(2);
	event_add(event_new(base, ctl, EV_READ, on_ctl, base), NULL);
	event_base_dispatch(base);
	_exit(0);
}

static int
cl_connect(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Refused: a 503 or a close within wait_ms; held: nothing comes. */
static bool
refused(int fd, int wait_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[256];
	ssize_t n;

	if (poll(&p, 1, wait_ms) <= 0)
		return false;
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = '\0';
		ck_assert_msg(strncmp(buf, "HTTP/1.1 503", 12) == 0,
			      "refused with: %s", buf);
	}
	return true;
}

START_TEST(test_budget_server)
{
	int ctl[2], out[2], fds[BUDGET + 10], nheld = 0, nref = 0, st;
	char buf[512];
	uint16_t port;
	ssize_t n;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(pipe(ctl), 0);
	ck_assert_int_eq(pipe(out), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(ctl[1]);
		close(out[0]);
		server_child(ctl[0], out[1]);
	}
	close(ctl[0]);
	close(out[1]);
	ck_assert_int_eq(read(out[0], &port, sizeof(port)), sizeof(port));
	/* ten more than the budget: the budget's worth are held */
	for (int i = 0; i < BUDGET + 10; i++)
		fds[i] = cl_connect(port);
	usleep(500 * 1000);
	for (int i = 0; i < BUDGET + 10; i++) {
		if (refused(fds[i], 0)) {
			close(fds[i]);
			fds[i] = -1;
			nref++;
		} else {
			nheld++;
		}
	}
	ck_assert_int_eq(nheld, BUDGET);
	ck_assert_int_eq(nref, 10);
	/* five close: five new ones are held, and a request is answered */
	for (int i = 0, k = 0; k < 5; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
			k++;
		}
	usleep(200 * 1000);
	for (int i = 0; i < 5; i++) {
		int fd = cl_connect(port);

		ck_assert_msg(!refused(fd, 200),
			      "refused after descriptors freed");
		fds[i] = fd;
	}
	ck_assert_int_eq(send(fds[0], "GET / HTTP/1.1\r\nHost: t\r\n\r\n", 27,
			      MSG_NOSIGNAL),
			 27);
	n = recv(fds[0], buf, sizeof(buf) - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_msg(strstr(buf, "in_use=50 refused=10") != NULL, "answer: %s",
		      buf);
	for (int i = 0; i < BUDGET + 10; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	close(ctl[1]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(out[0]);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("http_fdbudget");
	TCase *tc = tcase_create("budget");
	SRunner *sr;
	int nfail;

	tcase_add_test(tc, test_budget_arith);
	tcase_add_test(tc, test_budget_server);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
