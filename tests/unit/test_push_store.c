/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the push store through its ops table, on the SQLite
 * implementation in a temporary file: the shared contract cases of
 * push_store_cases.h, where what was not committed is lost when the
 * file is closed and reopened.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "push_store_cases.h"

static char dir[] = "/tmp/test_push_store.XXXXXX";
static char path[64];

static void
store_reopen(void)
{
	char err[256] = "";

	ops->close(st);
	st = NULL;
	ck_assert_msg(ops->open(path, &st, err, sizeof(err)) == 0, "%s", err);
}

static void
setup(void)
{
	char err[256] = "";

	ops = &push_store_sqlite;
	store_rolls_back = true;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/push.db", dir);
	ck_assert_msg(ops->open(path, &st, err, sizeof(err)) == 0, "%s", err);
	cases_setup();
}

static void
teardown(void)
{
	char cmd[128];

	if (st != NULL)
		ops->close(st);
	st = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
}

static Suite *
store_suite(void)
{
	Suite *s = suite_create("push_store");
	TCase *tc = tcase_create("sqlite");

	tcase_add_checked_fixture(tc, setup, teardown);
	cases_add(tc);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
