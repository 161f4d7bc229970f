/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gw_log: the gateway's access log (controlplane/gateway/gw_log.h): each
 * line is valid JSON with every field, whatever bytes the client sent
 * (checked with cJSON), a line that does not fit is reported cut, the
 * file target writes whole lines and reopens after a move, and bad
 * targets are refused.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "gw_log.h"

static struct gw_route_conf rconf;
static struct gw_route route = { .conf = &rconf };
static struct sockaddr_in peer;

static struct gw_done
done_of(const char *path, const char *host)
{
	struct gw_done d = { 0 };

	snprintf(rconf.name, sizeof(rconf.name), "api");
	peer.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.7", &peer.sin_addr);
	d.route = &route;
	d.upstream = "web";
	d.client = (const struct sockaddr *)&peer;
	d.method = "GET";
	d.host = host;
	d.path = path;
	d.status = 504;
	d.bytes_in = 3;
	d.bytes_out = 44;
	d.start_ns = 1000000000;
	d.upstream_head_ns = 0;
	d.end_ns = 1002500000;
	d.attempts = 2;
	d.error = "upstream timeout";
	return d;
}

START_TEST(line_is_json_whatever_the_bytes)
{
	static const char path[] = "/a\"b\\c\n\x01\xff\x7f/\xc3\xa9";
	struct gw_done d = done_of(path, NULL);
	char buf[2048];
	size_t n = gw_log_format(buf, sizeof(buf), "prod", &d,
				 "2026-01-01T00:00:00.000Z");
	cJSON *j, *f;

	ck_assert_uint_lt(n, sizeof(buf));
	ck_assert_ptr_null(strchr(buf, '\n'));
	j = cJSON_Parse(buf);
	ck_assert_msg(j != NULL, "not JSON: %s", buf);
	f = cJSON_GetObjectItem(j, "path");
	ck_assert(cJSON_IsString(f));
	/* printable ASCII as is, every other byte as \u00XX */
	ck_assert_str_eq(f->valuestring,
			 "/a\"b\\c\n\x01\xc3\xbf\x7f/\xc3\x83\xc2\xa9");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "host")));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "upstream_ms")));
	ck_assert_str_eq(cJSON_GetObjectItem(j, "client")->valuestring,
			 "192.0.2.7");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "route")->valuestring, "api");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "upstream")->valuestring,
			 "web");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "stage")->valuestring, "prod");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "error")->valuestring,
			 "upstream timeout");
	ck_assert_int_eq(cJSON_GetObjectItem(j, "status")->valueint, 504);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "bytes_in")->valueint, 3);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "bytes_out")->valueint, 44);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "attempts")->valueint, 2);
	ck_assert_double_eq_tol(
		cJSON_GetObjectItem(j, "duration_ms")->valuedouble, 2.5, 1e-9);
	cJSON_Delete(j);
}
END_TEST

START_TEST(line_cut_is_reported)
{
	char path[600], buf[256];
	struct gw_done d;
	size_t n;

	memset(path, 'x', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	d = done_of(path, "h");
	n = gw_log_format(buf, sizeof(buf), "prod", &d, "t");
	ck_assert_uint_gt(n, sizeof(buf) - 1);
	ck_assert_uint_eq(strlen(buf), sizeof(buf) - 1);
}
END_TEST

static size_t
lines_in(const char *file, const char *want)
{
	FILE *f = fopen(file, "r");
	char line[4096];
	size_t n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		cJSON *j = cJSON_Parse(line);

		ck_assert_msg(j != NULL, "not JSON: %s", line);
		if (strstr(line, want) != NULL)
			n++;
		cJSON_Delete(j);
	}
	fclose(f);
	return n;
}

START_TEST(file_target_and_reopen)
{
	char dir[] = "/tmp/gw_log.XXXXXX", path[64], moved[64], tgt[80];
	char err[128];
	struct gw_log *l = gw_log_new();
	struct gw_log_stats st;
	struct gw_done d = done_of("/one", "h");

	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/access.log", dir);
	snprintf(moved, sizeof(moved), "%s/access.log.1", dir);
	snprintf(tgt, sizeof(tgt), "file:%s", path);
	ck_assert_int_eq(gw_log_set_target(l, tgt, err, sizeof(err)), 0);
	for (int i = 0; i < 3; i++)
		gw_log_write(l, "prod", &d);
	ck_assert_uint_eq(lines_in(path, "\"/one\""), 0); /* buffered */
	gw_log_flush(l);
	ck_assert_uint_eq(lines_in(path, "\"/one\""), 3);
	ck_assert_int_eq(rename(path, moved), 0);
	ck_assert_int_eq(gw_log_reopen(l), 0);
	d.path = "/two";
	gw_log_write(l, "prod", &d);
	gw_log_flush(l);
	ck_assert_uint_eq(lines_in(path, "\"/two\""), 1);
	ck_assert_uint_eq(lines_in(moved, "\"/two\""), 0);
	gw_log_stats_read(l, &st);
	ck_assert_uint_eq(st.lines, 4);
	ck_assert_uint_eq(st.dropped, 0);
	ck_assert_int_eq(gw_log_set_target(l, "off", err, sizeof(err)), 0);
	gw_log_write(l, "prod", &d);
	gw_log_stats_read(l, &st);
	ck_assert_uint_eq(st.lines, 4);
	gw_log_free(l);
	unlink(path);
	unlink(moved);
	rmdir(dir);
}
END_TEST

START_TEST(bad_targets)
{
	char err[128];
	struct gw_log *l = gw_log_new();

	ck_assert_int_eq(gw_log_target_check("file:rel/x", err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(gw_log_target_check("stdout", err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(gw_log_target_check("syslog", err, sizeof(err)), 0);
	ck_assert_int_eq(gw_log_set_target(l, "file:/nonexistent/dir/x", err,
					   sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/dir/x"));
	gw_log_free(l);
}
END_TEST

static Suite *
gw_log_suite(void)
{
	Suite *s = suite_create("gw_log");
	TCase *core = tcase_create("core");
	TCase *errors = tcase_create("errors");

	tcase_add_test(core, line_is_json_whatever_the_bytes);
	tcase_add_test(core, file_target_and_reopen);
	suite_add_tcase(s, core);
	tcase_add_test(errors, line_cut_is_reported);
	tcase_add_test(errors, bad_targets);
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(gw_log_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
