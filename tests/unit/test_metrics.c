/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of controlplane/metrics.c and the dataplane stats collector
 * (dpc_stats_to_metrics): escaping, names, histogram rendering, a full
 * page compared line by line, collectors, and (as the separate test
 * metrics_promtool, skipped without promtool) `promtool check metrics` on
 * a rendered page.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dpclient.h"
#include "metrics.h"
#include "edgelb/lbmsg.h"

static char *
render(struct metrics *m)
{
	char *buf = NULL;
	size_t len = 0;

	ck_assert_int_eq(metrics_render_string(m, &buf, &len), 0);
	ck_assert_uint_eq(strlen(buf), len);
	return buf;
}

static char *
escaped(void (*fn)(FILE *, const char *), const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	fn(fp, s);
	fclose(fp);
	return buf;
}

START_TEST(test_escaping)
{
	char *s;

	s = escaped(metrics_escape_label, "a\\b\"c\nd");
	ck_assert_str_eq(s, "a\\\\b\\\"c\\nd");
	free(s);
	s = escaped(metrics_escape_help, "a\\b\"c\nd");
	ck_assert_str_eq(s, "a\\\\b\"c\\nd"); /* quotes stay in HELP */
	free(s);
	s = escaped(metrics_escape_label, "plain utf-8 \xc3\xa9");
	ck_assert_str_eq(s, "plain utf-8 \xc3\xa9");
	free(s);
}
END_TEST

START_TEST(test_names)
{
	struct metrics *m = metrics_new();
	struct metrics_label bad = { "__reserved", "x" };
	struct metrics_label bad2 = { "1abc", "x" };
	struct metrics_family *f;

	ck_assert(metrics_name_valid("edgelb_dp_port_rx_packets_total"));
	ck_assert(metrics_name_valid(":ns:x_1"));
	ck_assert(!metrics_name_valid("1abc"));
	ck_assert(!metrics_name_valid("a-b"));
	ck_assert(!metrics_name_valid(""));
	ck_assert(metrics_label_name_valid("vip"));
	ck_assert(!metrics_label_name_valid("a:b"));
	ck_assert(!metrics_label_name_valid("__name__"));

	ck_assert_ptr_null(
		metrics_family(m, "requests", "x", METRICS_COUNTER, NULL, 0));
	ck_assert_int_eq(errno, EINVAL);
	f = metrics_family(m, "x_total", "x", METRICS_COUNTER, NULL, 0);
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_eq(
		metrics_family(m, "x_total", "x", METRICS_COUNTER, NULL, 0), f);
	ck_assert_ptr_null(
		metrics_family(m, "x_total", "x", METRICS_GAUGE, NULL, 0));
	ck_assert_ptr_null(metrics_series(f, &bad, 1));
	ck_assert_ptr_null(metrics_series(f, &bad2, 1));
	{
		const double b[] = { 1, 1 };

		ck_assert_ptr_null(metrics_family(m, "h_seconds", "h",
						  METRICS_HISTOGRAM, b, 2));
	}
	ck_assert_uint_ge(metrics_errors(m), 3);
	metrics_free(m);
}
END_TEST

START_TEST(test_values)
{
	struct metrics *m = metrics_new();
	struct metrics_series *s = metrics_series(
		metrics_family(m, "g", "g", METRICS_GAUGE, NULL, 0), NULL, 0);
	struct metrics_series *c = metrics_series(
		metrics_family(m, "c_total", "c", METRICS_COUNTER, NULL, 0),
		NULL, 0);
	char *out;

	metrics_set(s, 0.1);
	metrics_add(c, 3);
	metrics_add(c, -5); /* ignored: counters only grow */
	ck_assert(metrics_value(c) == 3);
	out = render(m);
	ck_assert_ptr_nonnull(strstr(out, "\ng 0.1\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nc_total 3\n"));
	free(out);
	metrics_set(s, INFINITY);
	out = render(m);
	ck_assert_ptr_nonnull(strstr(out, "\ng +Inf\n"));
	free(out);
	metrics_set(s, NAN);
	out = render(m);
	ck_assert_ptr_nonnull(strstr(out, "\ng NaN\n"));
	free(out);
	metrics_set(s, 18446744073709551615.0);
	out = render(m);
	ck_assert_ptr_nonnull(strstr(out, "\ng 1.8446744073709552e+19\n"));
	free(out);
	metrics_free(m);
}
END_TEST

static const char expected_page[] =
	"# HELP edgelbd_requests_total Requests by \"code\", with \\\\ "
	"and\\nnewline.\n"
	"# TYPE edgelbd_requests_total counter\n"
	"edgelbd_requests_total{code=\"200\",path=\"/a\\\"b\\\\c\\nd\"} 7\n"
	"edgelbd_requests_total{code=\"500\",path=\"/\"} 1\n"
	"# HELP edgelbd_up Whether the daemon runs.\n"
	"# TYPE edgelbd_up gauge\n"
	"edgelbd_up 1\n"
	"# HELP edgelbd_latency_seconds Request latency.\n"
	"# TYPE edgelbd_latency_seconds histogram\n"
	"edgelbd_latency_seconds_bucket{svc=\"web\",le=\"0.005\"} 1\n"
	"edgelbd_latency_seconds_bucket{svc=\"web\",le=\"0.1\"} 3\n"
	"edgelbd_latency_seconds_bucket{svc=\"web\",le=\"1\"} 3\n"
	"edgelbd_latency_seconds_bucket{svc=\"web\",le=\"+Inf\"} 4\n"
	"edgelbd_latency_seconds_sum{svc=\"web\"} 2.125\n"
	"edgelbd_latency_seconds_count{svc=\"web\"} 4\n"
	"edgelbd_latency_seconds_bucket{svc=\"api\",le=\"0.005\"} 0\n"
	"edgelbd_latency_seconds_bucket{svc=\"api\",le=\"0.1\"} 0\n"
	"edgelbd_latency_seconds_bucket{svc=\"api\",le=\"1\"} 0\n"
	"edgelbd_latency_seconds_bucket{svc=\"api\",le=\"+Inf\"} 0\n"
	"edgelbd_latency_seconds_sum{svc=\"api\"} 0\n"
	"edgelbd_latency_seconds_count{svc=\"api\"} 0\n"
	"# HELP edgelbd_collected Set by a collector.\n"
	"# TYPE edgelbd_collected gauge\n"
	"edgelbd_collected{n=\"1\"} 42\n";

static int
collector(void *arg, struct metrics *m)
{
	struct metrics_label l = { "n", "1" };

	(*(int *)arg)++;
	metrics_put(m, "edgelbd_collected", "Set by a collector.",
		    METRICS_GAUGE, &l, 1, 42);
	/* clashes with a registered family: skipped and counted */
	metrics_put(m, "edgelbd_up", "clash", METRICS_GAUGE, NULL, 0, 5);
	return 0;
}

static struct metrics *
build_page(int *calls)
{
	static const double bounds[] = { 0.005, 0.1, 1 };
	struct metrics *m = metrics_new();
	struct metrics_family *req, *lat;
	struct metrics_label l200[] = { { "code", "200" },
					{ "path", "/a\"b\\c\nd" } };
	struct metrics_label l500[] = { { "code", "500" }, { "path", "/" } };
	struct metrics_label web = { "svc", "web" }, api = { "svc", "api" };
	struct metrics_series *s;

	req = metrics_family(m, "edgelbd_requests_total",
			     "Requests by \"code\", with \\ and\nnewline.",
			     METRICS_COUNTER, NULL, 0);
	metrics_add(metrics_series(req, l200, 2), 5);
	metrics_add(metrics_series(req, l500, 2), 1);
	metrics_add(metrics_series(req, l200, 2), 2); /* same series */
	metrics_put(m, "edgelbd_up", "Whether the daemon runs.", METRICS_GAUGE,
		    NULL, 0, 1);
	lat = metrics_family(m, "edgelbd_latency_seconds", "Request latency.",
			     METRICS_HISTOGRAM, bounds, 3);
	s = metrics_series(lat, &web, 1);
	metrics_observe(s, 0.005); /* le is inclusive */
	metrics_observe(s, 0.02);
	metrics_observe(s, 0.1);
	metrics_observe(s, 2);
	metrics_series(lat, &api, 1);
	metrics_family(m, "edgelbd_empty", "No series: not rendered.",
		       METRICS_GAUGE, NULL, 0);
	ck_assert_int_eq(metrics_add_collector(m, collector, calls), 0);
	return m;
}

START_TEST(test_full_page)
{
	int calls = 0;
	struct metrics *m = build_page(&calls);
	char *out = render(m), *exp = strdup(expected_page);
	char *sa, *sb, *la, *lb;
	int line = 1;

	/* line by line, for a readable failure */
	la = strtok_r(out, "\n", &sa);
	lb = strtok_r(exp, "\n", &sb);
	while (la != NULL && lb != NULL) {
		if (strcmp(la, lb) != 0)
			ck_abort_msg("line %d: got '%s', expected '%s'", line,
				     la, lb);
		la = strtok_r(NULL, "\n", &sa);
		lb = strtok_r(NULL, "\n", &sb);
		line++;
	}
	ck_assert_msg(la == NULL && lb == NULL, "line count differs at %d",
		      line);
	ck_assert_int_eq(calls, 1);
	ck_assert_uint_eq(metrics_errors(m), 1);
	free(out);
	free(exp);
	metrics_free(m);
}
END_TEST

START_TEST(test_many_series)
{
	struct metrics *m = metrics_new();
	struct metrics_family *f =
		metrics_family(m, "x_total", "x", METRICS_COUNTER, NULL, 0);
	char v[16];
	char *out;

	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 20000; i++) {
			struct metrics_label l = { "i", v };

			snprintf(v, sizeof(v), "%d", i);
			metrics_add(metrics_series(f, &l, 1), 1);
		}
	out = render(m);
	ck_assert_ptr_nonnull(strstr(out, "\nx_total{i=\"0\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nx_total{i=\"19999\"} 2\n"));
	{
		size_t lines = 0;

		for (char *p = out; *p; p++)
			lines += *p == '\n';
		ck_assert_uint_eq(lines, 20002);
	}
	free(out);
	metrics_family_clear(f);
	out = render(m);
	ck_assert_str_eq(out, "");
	free(out);
	metrics_free(m);
}
END_TEST

/* A STATS_GET reply part as the dataplane sends it. */
static struct nl_msg *
stats_part(uint8_t kind, bool with_port, bool with_svc)
{
	struct nl_msg *msg = lbmsg_new(LB_MSG_STATS_GET, NLM_F_MULTI);
	struct nlattr *nest;
	struct lb_addr a;

	ck_assert_ptr_nonnull(msg);
	ck_assert_int_eq(nla_put_u8(msg, LB_ATTR_STATS_KIND, kind), 0);
	if (with_port) {
		ck_assert_int_eq(nla_put_string(msg, LB_ATTR_IFNAME, "eth0"),
				 0);
		ck_assert_int_eq(nla_put_u16(msg, LB_ATTR_PORT_ID, 0), 0);
		ck_assert_int_eq(nla_put_u16(msg, LB_ATTR_LCORE, 3), 0);
	}
	if (with_svc) {
		ck_assert_int_eq(lb_addr_parse("192.0.2.1", &a), 0);
		ck_assert_int_eq(lbmsg_put_svc_key(msg, IPPROTO_TCP, &a, 80),
				 0);
		ck_assert_int_eq(lb_addr_parse("10.0.0.2", &a), 0);
		ck_assert_int_eq(lbmsg_put_addr(msg, LB_ATTR_ADDR, &a), 0);
		ck_assert_int_eq(nla_put_u16(msg, LB_ATTR_PORT, 8080), 0);
	}
	nest = nla_nest_start(msg, LB_ATTR_COUNTERS);
	ck_assert_ptr_nonnull(nest);
	ck_assert_int_eq(lbmsg_put_counter(msg, "rx_packets_total", 12345), 0);
	ck_assert_int_eq(lbmsg_put_counter(msg, "conns_active", 7), 0);
	nla_nest_end(msg, nest);
	return msg;
}

static void
feed(struct metrics *m, struct nl_msg *msg, int expect_added)
{
	struct nlattr *tb[LB_ATTR_MAX + 1];
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	char err[256];

	ck_assert_msg(lbmsg_parse(nlh, nlh->nlmsg_len, tb, err, sizeof(err)) ==
			      0,
		      "lbmsg_parse: %s", err);
	ck_assert_int_eq(dpc_stats_to_metrics(m, tb), expect_added);
	nlmsg_free(msg);
}

START_TEST(test_dp_stats)
{
	struct metrics *m = metrics_new();
	char *out;

	feed(m, stats_part(LB_STATS_PORT, true, false), 2);
	feed(m, stats_part(LB_STATS_BACKEND, false, true), 2);
	out = render(m);
	ck_assert_ptr_nonnull(strstr(
		out,
		"# TYPE edgelb_dp_port_rx_packets_total counter\n"
		"edgelb_dp_port_rx_packets_total{port=\"eth0\",port_id=\"0\","
		"lcore=\"3\"} 12345\n"));
	ck_assert_ptr_nonnull(strstr(
		out, "# TYPE edgelb_dp_port_conns_active gauge\n"
		     "edgelb_dp_port_conns_active{port=\"eth0\",port_id=\"0\","
		     "lcore=\"3\"} 7\n"));
	ck_assert_ptr_nonnull(strstr(
		out,
		"edgelb_dp_backend_rx_packets_total{proto=\"tcp\","
		"vip=\"192.0.2.1:80\",backend=\"10.0.0.2:8080\"} 12345\n"));
	free(out);
	metrics_free(m);
}
END_TEST

static const char *
find_promtool(void)
{
	static const char *const paths[] = { "/usr/bin/promtool",
					     "/usr/local/bin/promtool" };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

START_TEST(test_promtool)
{
	const char *promtool = find_promtool();
	char path[] = "/tmp/test_metrics.XXXXXX", cmd[256];
	int calls = 0, fd, rc;
	struct metrics *m;
	char *out;

	ck_assert_ptr_nonnull(promtool); /* main() skips without it */
	m = build_page(&calls);
	feed(m, stats_part(LB_STATS_PORT, true, false), 2);
	feed(m, stats_part(LB_STATS_SERVICE, false, true), 2);
	out = render(m);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, out, strlen(out)), (ssize_t)strlen(out));
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s check metrics < %s", promtool, path);
	rc = system(cmd);
	unlink(path);
	ck_assert_msg(rc == 0, "promtool check metrics failed (%d) on:\n%s", rc,
		      out);
	free(out);
	metrics_free(m);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");
	TCase *tl = tcase_create("limits");

	tcase_add_test(tc, test_escaping);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_full_page);
	tcase_add_test(tc, test_dp_stats);
	suite_add_tcase(s, tc);
	tcase_add_test(tl, test_many_series);
	suite_add_tcase(s, tl);
	return s;
}

static Suite *
promtool_suite(void)
{
	Suite *s = suite_create("metrics_promtool");
	TCase *tc = tcase_create("promtool");

	tcase_add_test(tc, test_promtool);
	suite_add_tcase(s, tc);
	return s;
}

/*
 * "test_metrics" runs the suite; "test_metrics promtool" runs
 * `promtool check metrics` on a rendered page, or exits 77 (skipped)
 * when promtool is not installed.
 */
int
main(int argc, char **argv)
{
	bool promtool = argc > 1 && strcmp(argv[1], "promtool") == 0;
	SRunner *sr;
	int failed;

	if (promtool && find_promtool() == NULL) {
		printf("SKIP: promtool is not installed (Debian package "
		       "prometheus)\n");
		return 77;
	}
	sr = srunner_create(promtool ? promtool_suite() : metrics_suite());

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
