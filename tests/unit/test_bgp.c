/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The [bgp] module's parts without BIRD: its INI section (bgp_conf.c),
 * the attributes a VIP gets, and the BIRD control socket client
 * (bgp_bird.c) against a fake BIRD on an AF_UNIX socket in a thread.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bgp/bgp_bird.h"
#include "bgp/bgp_conf.h"
#include "config.h"

static char tmpdir[] = "/tmp/test_bgp.XXXXXX";

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(tmpdir, "/tmp/test_bgp.XXXXXX");
}

#define SERVICES                                                               \
	"[service web]\nvip = 198.18.0.10:80\nmode = nat\nbackend = "          \
	"10.0.0.1:80\n"                                                        \
	"[service web443]\nvip = 198.18.0.10:443\nmode = nat\nbackend = "      \
	"10.0.0.1:443\n"                                                       \
	"[service other]\nvip = 198.18.0.11:80\nmode = nat\nbackend = "        \
	"10.0.0.2:80\n"

static struct cfg *
load(const char *text, struct cfg_errors *e)
{
	const struct cfg_module_ops *mods[] = { &bgp_cfg_ops };
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/edgelb.ini", tmpdir);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(SERVICES, fp);
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
	return cfg_load(path, mods, 1, e);
}

static bool
has_msg(const struct cfg_errors *e, const char *sub)
{
	for (size_t i = 0; i < e->n; i++)
		if (strstr(e->msg[i], sub) != NULL)
			return true;
	return false;
}

START_TEST(test_conf_defaults)
{
	struct cfg_errors e = { 0 };
	struct cfg *c = load("[bgp]\n", &e);
	const struct bgp_conf *b;

	cfg_errors_print(&e, stderr);
	ck_assert_ptr_nonnull(c);
	b = bgp_conf_get(c);
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(b->bird_socket, "/run/bird/bird.ctl");
	ck_assert_str_eq(b->include_file, "/run/bird/edgelb-vips.conf");
	ck_assert_str_eq(b->live_if, "");
	ck_assert_uint_eq(b->min_healthy_pct, 0);
	ck_assert_uint_eq(b->check_ms, 100);
	ck_assert_uint_eq(b->drain_grace_ms, 30000);
	ck_assert(b->drain_gshut);
	ck_assert(!b->defaults.has_med && b->defaults.ncomm == 0);
	cfg_free(c);
	/* without the section the module has no state */
	c = load("", &e);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(bgp_conf_get(c));
	cfg_free(c);
}
END_TEST

START_TEST(test_conf_full)
{
	struct cfg_errors e = { 0 };
	struct cfg *c = load("[bgp]\nbird_socket = /x/bird.ctl\n"
			     "include_file = /x/vips.conf\n"
			     "liveness_interface = elbalive0\n"
			     "min_healthy = 50%\ncheck_interval = 250ms\n"
			     "drain_grace = 2m\ndrain_shutdown_community = no\n"
			     "med = 50\nlocal_pref = 120\n"
			     "community = 65000:100,65000:101\n"
			     "attrs = other med=10 community=65000:200\n"
			     "attrs = 198.18.0.10 local_pref=300\n"
			     "attrs = web med=7\n",
			     &e);
	const struct bgp_conf *b;
	struct bgp_attrs a;
	struct lb_addr vip;
	const char *web[] = { "web", "web443" };
	const char *other[] = { "other" };

	cfg_errors_print(&e, stderr);
	ck_assert_ptr_nonnull(c);
	b = cfg_module_state(c, &bgp_cfg_ops);
	ck_assert_str_eq(b->bird_socket, "/x/bird.ctl");
	ck_assert_str_eq(b->live_if, "elbalive0");
	ck_assert_uint_eq(b->min_healthy_pct, 50);
	ck_assert_uint_eq(b->check_ms, 250);
	ck_assert_uint_eq(b->drain_grace_ms, 120000);
	ck_assert(!b->drain_gshut);
	ck_assert_uint_eq(b->nrules, 3);

	/* other: its service line over the defaults */
	ck_assert_int_eq(lb_addr_parse("198.18.0.11", &vip), 0);
	bgp_conf_attrs(b, &vip, other, 1, &a);
	ck_assert(a.has_med && a.med == 10);
	ck_assert(a.has_local_pref && a.local_pref == 120);
	ck_assert_uint_eq(a.ncomm, 1);
	ck_assert_uint_eq(a.comm[0], 65000u << 16 | 200);

	/* the VIP's own line wins over the line of a service on it */
	ck_assert_int_eq(lb_addr_parse("198.18.0.10", &vip), 0);
	bgp_conf_attrs(b, &vip, web, 2, &a);
	ck_assert(a.has_med && a.med == 50);
	ck_assert_uint_eq(a.local_pref, 300);
	ck_assert_uint_eq(a.ncomm, 2);
	ck_assert_uint_eq(a.comm[1], 65000u << 16 | 101);
	cfg_free(c);
}
END_TEST

static const struct {
	const char *line, *msg;
} bad_cases[] = {
	{ "min_healthy = 0%", "expected any or N% (1..100)" },
	{ "min_healthy = 101%", "expected any or N% (1..100)" },
	{ "min_healthy = half", "expected any or N% (1..100)" },
	{ "community = 65536:1", "bad community \"65536:1\"" },
	{ "community = 65000:1,", "empty community" },
	{ "community = 1:1,1:2,1:3,1:4,1:5,1:6,1:7,1:8,1:9",
	  "more than 8 communities" },
	{ "med = -1", "med: expected 0..4294967295" },
	{ "attrs = nosuch med=1", "unknown service 'nosuch'" },
	{ "attrs = web colour=red", "unknown attribute \"colour\"" },
	{ "attrs = web med", "\"med\": expected key=value" },
	{ "attrs = web med=", "\"med=\": expected key=value" },
	{ "liveness_interface = a-very-long-name0", "interface name" },
	{ "liveness_interface = a/b", "interface name" },
	{ "check_interval = 5ms", "10ms..10000ms" },
	{ "include_file = vips.conf", "include_file: an absolute path" },
};

START_TEST(test_conf_errors)
{
	struct cfg_errors e = { 0 };
	char text[256];

	snprintf(text, sizeof(text), "[bgp]\n%s\n", bad_cases[_i].line);
	ck_assert_ptr_null(load(text, &e));
	if (!has_msg(&e, bad_cases[_i].msg))
		cfg_errors_print(&e, stderr);
	ck_assert_msg(has_msg(&e, bad_cases[_i].msg), "%s: no '%s'",
		      bad_cases[_i].line, bad_cases[_i].msg);
	cfg_errors_free(&e);
}
END_TEST

/* ---- the control socket client ------------------------------------------ */

START_TEST(test_reply_line)
{
	int code = -1;

	ck_assert_int_eq(bird_reply_line("0001 BIRD 2.0.12 ready.", &code), 1);
	ck_assert_int_eq(code, 1);
	ck_assert_int_eq(bird_reply_line("0002-Reading configuration", &code),
			 0);
	ck_assert_int_eq(bird_reply_line(" more text", &code), 0);
	ck_assert_int_eq(bird_reply_line("8002 x.conf:1:1 syntax error", &code),
			 1);
	ck_assert_int_eq(code, 8002);
	ck_assert_int_eq(bird_reply_line("0003", &code), 1);
	ck_assert_int_eq(bird_reply_line("BIRD", &code), -EBADMSG);
	ck_assert_int_eq(bird_reply_line("00a1 x", &code), -EBADMSG);
	ck_assert_int_eq(bird_reply_line("0001xready", &code), -EBADMSG);
	ck_assert_int_eq(bird_reply_line("", &code), -EBADMSG);
}
END_TEST

/* A fake BIRD: accepts one client, writes greet, reads one line (kept in
 * got), writes reply. */
struct fake {
	int lfd;
	const char *greet, *reply;
	char got[64];
};

static void *
fake_run(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->lfd, NULL, NULL);
	size_t n = 0;

	if (fd < 0)
		return NULL;
	if (f->greet != NULL &&
	    write(fd, f->greet, strlen(f->greet)) != (ssize_t)strlen(f->greet))
		goto out;
	while (n < sizeof(f->got) - 1) {
		ssize_t r = read(fd, f->got + n, 1);

		if (r <= 0 || f->got[n] == '\n')
			break;
		n++;
	}
	f->got[n] = '\0';
	if (f->reply != NULL &&
	    write(fd, f->reply, strlen(f->reply)) != (ssize_t)strlen(f->reply))
		goto out;
	usleep(300 * 1000); /* the client reads before the close */
out:
	close(fd);
	return NULL;
}

/* Run one bird_cmd_sync against a fake answering greet and reply. */
static int
exchange(const char *greet, const char *reply, int *code, char *msg,
	 size_t msglen, char *got)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fake f = { .greet = greet, .reply = reply };
	pthread_t t;
	int rc;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/bird.ctl", tmpdir);
	unlink(sa.sun_path);
	f.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(f.lfd, 0);
	ck_assert_int_eq(bind(f.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(f.lfd, 1), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, fake_run, &f), 0);
	rc = bird_cmd_sync(sa.sun_path, "configure", 1000, code, msg, msglen);
	pthread_join(t, NULL);
	close(f.lfd);
	if (got != NULL)
		strcpy(got, f.got);
	return rc;
}

START_TEST(test_sync_ok)
{
	char msg[128], got[64];
	int code;

	ck_assert_int_eq(exchange("0001 BIRD 2.0.12 ready.\n",
				  "0002-Reading configuration from x\n"
				  "0003 Reconfigured\n",
				  &code, msg, sizeof(msg), got),
			 0);
	ck_assert_int_eq(code, 3);
	ck_assert_str_eq(msg, "Reconfigured");
	ck_assert_str_eq(got, "configure");
}
END_TEST

START_TEST(test_sync_errors)
{
	char msg[128];
	int code;

	/* BIRD refuses the configuration */
	ck_assert_int_eq(exchange("0001 BIRD 2.0.12 ready.\n",
				  "0002-Reading configuration from x\n"
				  "8002 x:3:1 syntax error\n",
				  &code, msg, sizeof(msg), NULL),
			 -EREMOTEIO);
	ck_assert_int_eq(code, 8002);
	ck_assert_str_eq(msg, "x:3:1 syntax error");
	/* not BIRD */
	ck_assert_int_eq(exchange("HTTP/1.1 400 Bad Request\n", NULL, &code,
				  msg, sizeof(msg), NULL),
			 -EBADMSG);
	/* a greeting that is not 0001 */
	ck_assert_int_eq(exchange("0013 Shutdown in progress\n", NULL, &code,
				  msg, sizeof(msg), NULL),
			 -EBADMSG);
	/* no greeting within the timeout */
	ck_assert_int_eq(exchange(NULL, NULL, &code, msg, sizeof(msg), NULL),
			 -ETIMEDOUT);
	/* a reply line longer than the limit */
	{
		char *big = malloc(BIRD_LINE_MAX + 64);

		ck_assert_ptr_nonnull(big);
		memset(big, 'x', BIRD_LINE_MAX + 62);
		memcpy(big, "0002-", 5);
		big[BIRD_LINE_MAX + 62] = '\n';
		big[BIRD_LINE_MAX + 63] = '\0';
		ck_assert_int_eq(exchange("0001 BIRD ready.\n", big, &code, msg,
					  sizeof(msg), NULL),
				 -EBADMSG);
		free(big);
	}
	/* nobody listening */
	{
		char path[128];

		snprintf(path, sizeof(path), "%s/none.ctl", tmpdir);
		ck_assert_int_eq(bird_cmd_sync(path, "configure", 100, &code,
					       msg, sizeof(msg)),
				 -ENOENT);
	}
}
END_TEST

static Suite *
bgp_suite(void)
{
	Suite *s = suite_create("bgp");
	TCase *tc = tcase_create("conf");
	TCase *tb = tcase_create("bird");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_conf_defaults);
	tcase_add_test(tc, test_conf_full);
	tcase_add_loop_test(tc, test_conf_errors, 0,
			    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tb, setup, teardown);
	tcase_add_test(tb, test_reply_line);
	tcase_add_test(tb, test_sync_ok);
	tcase_add_test(tb, test_sync_errors);
	suite_add_tcase(s, tb);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(bgp_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
