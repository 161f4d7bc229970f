/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gw_api: the gateway's API lifecycle store (controlplane/gateway/gw_api.h)
 * on a real SQLite file in a temporary directory: drafts, versions,
 * publish/rollback per stage, history, deprecation headers, retirement
 * (410), the names every API's routes get in a stage's configuration,
 * atomicity against a failing apply, persistence across close/open, the
 * schema version, bad route text (with its line), a corrupt and a locked
 * database, and the lbctl command handler (gw_api_ctl_cmd).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

#include "gw_api.h"
#include "edgelb/lbmsg.h"

static char dir[64];
static char path[128];
static struct gw_api_store *st;
static char err[512];

static const char v1_text[] = "; version one\n"
			      "[upstream be]\n"
			      "instance = 127.0.0.1:9001\n"
			      "\n"
			      "[route users]\n"
			      "path_prefix = /users\n"
			      "upstream = be\n";

static const char v2_text[] = "; version two\n"
			      "[upstream be]\n"
			      "instance = 127.0.0.1:9002\n"
			      "\n"
			      "[route users]\n"
			      "path_prefix = /users\n"
			      "upstream = be\n"
			      "\n"
			      "[route health]\n"
			      "path = /health\n"
			      "direct = 200 ok\n";

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_gw_api.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/api.db", dir);
	st = gw_api_open(path, err, sizeof(err));
	ck_assert_msg(st != NULL, "open: %s", err);
}

static void
teardown(void)
{
	char cmd[256];

	gw_api_close(st);
	st = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
reopen(void)
{
	gw_api_close(st);
	st = gw_api_open(path, err, sizeof(err));
	ck_assert_msg(st != NULL, "reopen: %s", err);
}

/* The live version of api on stage, 0 when none (from gw_api_lives). */
struct live_find {
	const char *stage;
	uint32_t v;
};

static int
live_cb(void *arg, const struct gw_api_live *l)
{
	struct live_find *f = arg;

	if (strcmp(l->stage, f->stage) == 0)
		f->v = l->version;
	return 0;
}

static uint32_t
live_of(const char *api, const char *stage)
{
	struct live_find f = { stage, 0 };

	ck_assert_int_eq(gw_api_lives(st, api, live_cb, &f, err, sizeof(err)),
			 0);
	return f.v;
}

/* History as "action:stage:version:prev;" ... */
static int
hist_cb(void *arg, const struct gw_api_event *e)
{
	char *buf = arg;
	size_t n = strlen(buf);

	snprintf(buf + n, 1024 - n, "%s:%s:%u:%u;", e->action, e->stage,
		 e->version, e->prev);
	ck_assert_str_ne(e->who, "");
	ck_assert_int_gt(e->at, 1600000000);
	return 0;
}

static void
history_of(const char *api, char *buf)
{
	buf[0] = '\0';
	ck_assert_int_eq(
		gw_api_history(st, api, 0, hist_cb, buf, err, sizeof(err)), 0);
}

/* What stage serves: the configuration gw_api_stage_conf appends. */
static void
stage_conf(const char *stage, struct gw_conf *c)
{
	gw_conf_init(c);
	ck_assert_msg(gw_api_stage_conf(st, stage, c, err, sizeof(err)) == 0,
		      "stage_conf: %s", err);
}

static const struct gw_route_conf *
route_named(const struct gw_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nroutes; i++)
		if (strcmp(c->routes[i].name, name) == 0)
			return &c->routes[i];
	return NULL;
}

static const char *
resp_hdr(const struct gw_route_conf *r, const char *name)
{
	for (size_t i = 0; i < r->nresp_hdrs; i++)
		if (strcmp(r->resp_hdrs[i].name, name) == 0)
			return r->resp_hdrs[i].value;
	return NULL;
}

/* ---- core -------------------------------------------------------------- */

START_TEST(test_create_publish)
{
	struct gw_conf c;
	const struct gw_route_conf *r;
	struct gw_table *t;
	uint32_t v = 0;
	char *text;

	ck_assert_int_eq(
		gw_api_create(st, "users", v1_text, "alice", err, sizeof(err)),
		0);
	ck_assert_int_eq(gw_api_draft(st, "users", &text, err, sizeof(err)), 0);
	ck_assert_str_eq(text, v1_text);
	free(text);
	/* nothing is live before a publish */
	stage_conf("prod", &c);
	ck_assert_uint_eq(c.nroutes, 0);
	gw_conf_fini(&c);

	ck_assert_int_eq(gw_api_publish(st, "users", "prod", 0, "alice", NULL,
					NULL, &v, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(v, 1);
	ck_assert_uint_eq(live_of("users", "prod"), 1);
	ck_assert_uint_eq(live_of("users", "test"), 0);
	/* the draft became version 1 and is gone */
	ck_assert_int_eq(gw_api_draft(st, "users", &text, err, sizeof(err)),
			 -ENOENT);
	ck_assert_int_eq(gw_api_text(st, "users", "prod", 0, &v, &text, err,
				     sizeof(err)),
			 0);
	ck_assert_str_eq(text, v1_text);
	free(text);

	/* prefixed names, the upstream reference follows */
	stage_conf("prod", &c);
	ck_assert_uint_eq(c.nroutes, 1);
	ck_assert_uint_eq(c.nups, 1);
	r = route_named(&c, "api.users.users");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->upstream, "api.users.be");
	ck_assert_str_eq(c.ups[0].name, "api.users.be");
	ck_assert_ptr_null(resp_hdr(r, "Deprecation"));
	t = gw_table_build(&c, err, sizeof(err));
	ck_assert_msg(t != NULL, "build: %s", err);
	gw_table_put(t);
	gw_conf_fini(&c);
	/* test stage: nothing */
	stage_conf("test", &c);
	ck_assert_uint_eq(c.nroutes, 0);
	gw_conf_fini(&c);
}
END_TEST

START_TEST(test_versions_rollback_history)
{
	char h[1024], *text;
	uint32_t v = 0;
	struct gw_conf c;

	ck_assert_int_eq(
		gw_api_create(st, "users", v1_text, "a", err, sizeof(err)), 0);
	ck_assert_int_eq(gw_api_publish(st, "users", "test", 0, "a", NULL, NULL,
					&v, err, sizeof(err)),
			 0);
	ck_assert_int_eq(gw_api_publish(st, "users", "prod", 1, "a", NULL, NULL,
					&v, err, sizeof(err)),
			 0);
	ck_assert_int_eq(
		gw_api_create(st, "users", v2_text, "b", err, sizeof(err)), 0);
	ck_assert_int_eq(gw_api_publish(st, "users", "prod", 0, "b", NULL, NULL,
					&v, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(v, 2);
	ck_assert_uint_eq(live_of("users", "prod"), 2);
	ck_assert_uint_eq(live_of("users", "test"), 1);
	stage_conf("prod", &c);
	ck_assert_uint_eq(c.nroutes, 2);
	gw_conf_fini(&c);

	/* publishing what is live, or without a draft */
	ck_assert_int_eq(gw_api_publish(st, "users", "prod", 2, "b", NULL, NULL,
					NULL, err, sizeof(err)),
			 -EEXIST);
	ck_assert_int_eq(gw_api_publish(st, "users", "prod", 0, "b", NULL, NULL,
					NULL, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no draft"));
	ck_assert_int_eq(gw_api_publish(st, "users", "prod", 7, "b", NULL, NULL,
					NULL, err, sizeof(err)),
			 -ENOENT);
	ck_assert_int_eq(gw_api_publish(st, "nope", "prod", 1, "b", NULL, NULL,
					NULL, err, sizeof(err)),
			 -ENOENT);

	ck_assert_int_eq(gw_api_rollback(st, "users", "prod", 1, "c", NULL,
					 NULL, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(live_of("users", "prod"), 1);
	stage_conf("prod", &c);
	ck_assert_uint_eq(c.nroutes, 1);
	gw_conf_fini(&c);
	ck_assert_int_eq(gw_api_rollback(st, "users", "prod", 1, "c", NULL,
					 NULL, err, sizeof(err)),
			 -EEXIST);
	ck_assert_int_eq(gw_api_rollback(st, "users", "stage2", 1, "c", NULL,
					 NULL, err, sizeof(err)),
			 -ENOENT);
	ck_assert_int_eq(gw_api_rollback(st, "users", "BAD", 1, "c", NULL, NULL,
					 err, sizeof(err)),
			 -EINVAL);

	history_of("users", h);
	ck_assert_str_eq(h, "create::0:0;publish:test:1:0;publish:prod:1:0;"
			    "create::0:0;publish:prod:2:1;"
			    "rollback:prod:1:2;");
	ck_assert_int_eq(
		gw_api_text(st, "users", NULL, 2, &v, &text, err, sizeof(err)),
		0);
	ck_assert_str_eq(text, v2_text);
	free(text);
}
END_TEST

START_TEST(test_deprecate_retire)
{
	struct gw_conf c;
	const struct gw_route_conf *r;
	struct gw_table *t;
	const char *h;

	ck_assert_int_eq(
		gw_api_create(st, "users", v2_text, "a", err, sizeof(err)), 0);
	ck_assert_int_eq(gw_api_publish(st, "users", "prod", 0, "a", NULL, NULL,
					NULL, err, sizeof(err)),
			 0);
	/* 2030-01-01T00:00:00Z */
	ck_assert_int_eq(gw_api_deprecate(st, "users", 1, 1893456000, "a", NULL,
					  NULL, err, sizeof(err)),
			 0);
	ck_assert_int_eq(gw_api_deprecate(st, "users", 1, 1893456000, "a", NULL,
					  NULL, err, sizeof(err)),
			 -EEXIST);
	stage_conf("prod", &c);
	ck_assert_uint_eq(c.nroutes, 2);
	for (size_t i = 0; i < c.nroutes; i++) {
		r = &c.routes[i];
		h = resp_hdr(r, "Deprecation");
		ck_assert_ptr_nonnull(h);
		ck_assert_int_eq(h[0], '@');
		ck_assert_int_gt(atoll(h + 1), 1600000000);
		h = resp_hdr(r, "Sunset");
		ck_assert_ptr_nonnull(h);
		ck_assert_str_eq(h, "Tue, 01 Jan 2030 00:00:00 GMT");
	}
	gw_conf_fini(&c);

	ck_assert_int_eq(gw_api_retire(st, "users", 1, "a", NULL, NULL, err,
				       sizeof(err)),
			 0);
	ck_assert_int_eq(gw_api_retire(st, "users", 1, "a", NULL, NULL, err,
				       sizeof(err)),
			 -EEXIST);
	stage_conf("prod", &c);
	ck_assert_uint_eq(c.nroutes, 2);
	ck_assert_uint_eq(c.nups, 0); /* nothing proxied any more */
	for (size_t i = 0; i < c.nroutes; i++) {
		r = &c.routes[i];
		ck_assert_int_eq(r->action, GW_ACT_DIRECT);
		ck_assert_int_eq(r->status, 410);
		ck_assert_ptr_nonnull(strstr(r->body, "\"error\":\"gone\""));
		ck_assert_ptr_nonnull(strstr(r->body, "\"api\":\"users\""));
	}
	t = gw_table_build(&c, err, sizeof(err));
	ck_assert_msg(t != NULL, "build: %s", err);
	gw_table_put(t);
	gw_conf_fini(&c);
	/* a retired version is not published again */
	ck_assert_int_eq(gw_api_publish(st, "users", "test", 1, "a", NULL, NULL,
					NULL, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "retired"));
}
END_TEST

/* Two APIs with the same route and upstream names, and the INI's own. */
START_TEST(test_namespaces)
{
	struct gw_conf c;
	struct gw_table *t;

	ck_assert_int_eq(gw_api_create(st, "a", v1_text, "x", err, sizeof(err)),
			 0);
	ck_assert_int_eq(gw_api_create(st, "b", v1_text, "x", err, sizeof(err)),
			 0);
	ck_assert_int_eq(gw_api_publish(st, "a", "prod", 0, "x", NULL, NULL,
					NULL, err, sizeof(err)),
			 0);
	ck_assert_int_eq(gw_api_publish(st, "b", "prod", 0, "x", NULL, NULL,
					NULL, err, sizeof(err)),
			 0);
	gw_conf_init(&c);
	/* the INI's static route and upstream of the same names */
	ck_assert_int_eq(gw_conf_key(&c, "upstream", "be", "instance",
				     "127.0.0.1:9000", err, sizeof(err)),
			 0);
	ck_assert_int_eq(gw_conf_key(&c, "route", "users", "upstream", "be",
				     err, sizeof(err)),
			 0);
	ck_assert_int_eq(gw_api_stage_conf(st, "prod", &c, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(c.nroutes, 3);
	ck_assert_uint_eq(c.nups, 3);
	ck_assert_str_eq(c.routes[0].name, "users");
	ck_assert_str_eq(c.routes[1].name, "api.a.users");
	ck_assert_str_eq(c.routes[2].name, "api.b.users");
	ck_assert_str_eq(c.routes[2].upstream, "api.b.be");
	t = gw_table_build(&c, err, sizeof(err));
	ck_assert_msg(t != NULL, "build: %s", err);
	ck_assert_str_eq(gw_table_route(t, 2)->up->conf.name, "api.b.be");
	gw_table_put(t);
	gw_conf_fini(&c);

	/* an INI name in the reserved space is refused */
	gw_conf_init(&c);
	ck_assert_int_eq(gw_conf_key(&c, "route", "api.a.users", "direct",
				     "200 x", err, sizeof(err)),
			 0);
	ck_assert_int_eq(gw_api_stage_conf(st, "prod", &c, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "reserved"));
	gw_conf_fini(&c);
}
END_TEST

/* apply sees the uncommitted state; a failing apply leaves nothing. */
struct apply_ctx {
	int calls;
	int fail;
	size_t seen_routes;
};

static int
apply_cb(void *arg, char *aerr, size_t alen)
{
	struct apply_ctx *a = arg;
	struct gw_conf c;

	a->calls++;
	gw_conf_init(&c);
	ck_assert_int_eq(gw_api_stage_conf(st, "prod", &c, err, sizeof(err)),
			 0);
	a->seen_routes = c.nroutes;
	gw_conf_fini(&c);
	if (a->fail) {
		snprintf(aerr, alen, "rebuild refused");
		return -EINVAL;
	}
	return 0;
}

START_TEST(test_apply_atomic)
{
	struct apply_ctx a = { 0 };
	char h[1024], h2[1024], *text;
	uint32_t v = 0;

	ck_assert_int_eq(
		gw_api_create(st, "users", v1_text, "a", err, sizeof(err)), 0);
	ck_assert_int_eq(gw_api_publish(st, "users", "prod", 0, "a", apply_cb,
					&a, &v, err, sizeof(err)),
			 0);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_uint_eq(a.seen_routes, 1); /* the new version, in the txn */
	ck_assert_int_eq(
		gw_api_create(st, "users", v2_text, "a", err, sizeof(err)), 0);
	history_of("users", h);
	a.fail = 1;
	ck_assert_int_eq(gw_api_publish(st, "users", "prod", 0, "a", apply_cb,
					&a, &v, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "rebuild refused");
	ck_assert_uint_eq(a.seen_routes, 2); /* it saw version 2 ... */
	/* ... which is gone with the rollback: live, draft, history as before */
	ck_assert_uint_eq(live_of("users", "prod"), 1);
	ck_assert_int_eq(gw_api_draft(st, "users", &text, err, sizeof(err)), 0);
	ck_assert_str_eq(text, v2_text);
	free(text);
	ck_assert_int_eq(
		gw_api_text(st, "users", NULL, 2, &v, &text, err, sizeof(err)),
		-ENOENT);
	history_of("users", h2);
	ck_assert_str_eq(h, h2);
	ck_assert_int_eq(gw_api_deprecate(st, "users", 1, 0, "a", apply_cb, &a,
					  err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(gw_api_retire(st, "users", 1, "a", apply_cb, &a, err,
				       sizeof(err)),
			 -EINVAL);
	reopen();
	ck_assert_uint_eq(live_of("users", "prod"), 1);
	history_of("users", h2);
	ck_assert_str_eq(h, h2);
}
END_TEST

static int
list_cb(void *arg, const struct gw_api_info *i)
{
	char *buf = arg;
	size_t n = strlen(buf);

	snprintf(buf + n, 512 - n, "%s:%u:%u:%d:%s;", i->name, i->nversions,
		 i->latest, i->has_draft, i->live);
	return 0;
}

START_TEST(test_persistence)
{
	char h[1024], h2[1024], l[512] = "", l2[512] = "";
	struct gw_conf c;
	sqlite3 *db;
	sqlite3_stmt *q;

	ck_assert_int_eq(
		gw_api_create(st, "users", v1_text, "a", err, sizeof(err)), 0);
	ck_assert_int_eq(gw_api_publish(st, "users", "prod", 0, "a", NULL, NULL,
					NULL, err, sizeof(err)),
			 0);
	ck_assert_int_eq(
		gw_api_create(st, "users", v2_text, "a", err, sizeof(err)), 0);
	ck_assert_int_eq(gw_api_publish(st, "users", "test", 0, "a", NULL, NULL,
					NULL, err, sizeof(err)),
			 0);
	ck_assert_int_eq(
		gw_api_create(st, "orders", v1_text, "a", err, sizeof(err)), 0);
	history_of("users", h);
	ck_assert_int_eq(gw_api_list(st, list_cb, l, err, sizeof(err)), 0);
	ck_assert_str_eq(l, "orders:0:0:1:;users:2:2:0:prod=1 test=2;");
	reopen();
	history_of("users", h2);
	ck_assert_str_eq(h, h2);
	ck_assert_int_eq(gw_api_list(st, list_cb, l2, err, sizeof(err)), 0);
	ck_assert_str_eq(l, l2);
	stage_conf("test", &c);
	ck_assert_uint_eq(c.nroutes, 2);
	gw_conf_fini(&c);

	/* schema: version 1, WAL; versions are immutable in the file too */
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(
		sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL),
		SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(q, 0), GW_API_SCHEMA);
	sqlite3_finalize(q);
	ck_assert_int_eq(
		sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL),
		SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	ck_assert_int_ne(sqlite3_exec(db, "UPDATE version SET routes = 'x'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	ck_assert_ptr_nonnull(strstr(sqlite3_errmsg(db), "immutable"));
	sqlite3_close(db);
}
END_TEST

/* ---- errors ------------------------------------------------------------ */

static const struct bad_text {
	const char *text;
	int rc;
	const char *msg; /* a substring of err */
} bad_texts[] = {
	{ "[route r]\npath = /a\nfrob = 1\n", -EINVAL,
	  "line 3: route r: unknown key \"frob\"" },
	{ "path = /a\n", -EINVAL, "line 1: path: key outside of any section" },
	{ "[route r]\ndirect = 200 x\n[service s]\nx = 1\n", -EINVAL,
	  "line 4: [service s]: only [route NAME]" },
	{ "; a\n[route r]\npath_regex = /a(\ndirect = 200 x\n", -EINVAL,
	  "line 3: route r: path_regex" },
	{ "[upstream u]\ninstance = 127.0.0.1:1\n\n[route r]\nupstream = "
	  "nope\n",
	  -EINVAL, "line 5: route r: upstream: unknown upstream \"nope\"" },
	{ "[route r]\npath = /a\n", -EINVAL, "line 1: route r: no action" },
	{ "[route r]\ndirect = 999 x\n", -EINVAL,
	  "line 2: route r: direct: bad value" },
	{ "[route r\ndirect = 200 x\n", -EINVAL,
	  "line 1: section header without ']'" },
	{ "[route r]\ndirect = 200 x\nnot a key\n", -EINVAL,
	  "line 3: syntax error" },
	{ "; only a comment\n", -EINVAL, "no [route NAME] section" },
	{ "[route api.x]\ndirect = 200 x\n", -EINVAL, "reserved" },
	{ "[route "
	  "a_route_name_that_is_long_enough_to_overflow_the_prefix_xx]\n"
	  "direct = 200 x\n",
	  -EINVAL, "line 2: [route" },
	/* fits as written, too long once "api.users." is put before it */
	{ "[route r]\nupstream = "
	  "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu\n"
	  "direct = 200 x\n",
	  -EINVAL, "line 2: route api.users.r: upstream: bad value" },
};

START_TEST(test_bad_text)
{
	const struct bad_text *b = &bad_texts[_i];
	char *text;
	int rc;

	rc = gw_api_create(st, "users", b->text, "a", err, sizeof(err));
	ck_assert_msg(rc == b->rc, "case %d: rc %d (%s)", _i, rc, err);
	ck_assert_msg(strstr(err, b->msg) != NULL,
		      "case %d: err \"%s\", want \"%s\"", _i, err, b->msg);
	/* nothing stored */
	ck_assert_int_eq(gw_api_draft(st, "users", &text, NULL, 0), -ENOENT);
}
END_TEST

START_TEST(test_limits)
{
	size_t n = GW_API_TEXT_MAX + 100;
	char *big = malloc(n + 1);

	ck_assert_ptr_nonnull(big);
	memset(big, ';', n);
	big[n] = '\0';
	ck_assert_int_eq(gw_api_create(st, "users", big, "a", err, sizeof(err)),
			 -E2BIG);
	free(big);
	ck_assert_int_eq(
		gw_api_create(st, "bad name", v1_text, "a", err, sizeof(err)),
		-EINVAL);
	ck_assert_int_eq(gw_api_create(st, "", v1_text, "a", err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(gw_api_create(st,
				       "a_name_longer_than_thirty_two_chars",
				       v1_text, "a", err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(gw_api_check_stage("Prod", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(gw_api_check_stage("canary-2", err, sizeof(err)), 0);
}
END_TEST

static void
write_file(const char *p, const void *data, size_t len)
{
	FILE *fp = fopen(p, "w");

	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
}

START_TEST(test_corrupt)
{
	char p[160], junk[4096];
	struct gw_api_store *s;
	sqlite3 *db;

	/* not a database at all */
	snprintf(p, sizeof(p), "%s/junk.db", dir);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	write_file(p, junk, sizeof(junk));
	s = gw_api_open(p, err, sizeof(err));
	ck_assert_ptr_null(s);
	ck_assert_int_eq(errno, EIO);
	ck_assert_msg(strstr(err, "not a database") != NULL, "err: %s", err);
	ck_assert_ptr_nonnull(strstr(err, p));

	/* a database of something else */
	snprintf(p, sizeof(p), "%s/other.db", dir);
	ck_assert_int_eq(sqlite3_open(p, &db), SQLITE_OK);
	ck_assert_int_eq(
		sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	s = gw_api_open(p, err, sizeof(err));
	ck_assert_ptr_null(s);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "not an edgelb API store"));

	/* a newer schema */
	snprintf(p, sizeof(p), "%s/newer.db", dir);
	ck_assert_int_eq(sqlite3_open(p, &db), SQLITE_OK);
	ck_assert_int_eq(
		sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	s = gw_api_open(p, err, sizeof(err));
	ck_assert_ptr_null(s);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "schema version 99"));

	/* damage the pages of a real store after it was written */
	ck_assert_int_eq(
		gw_api_create(st, "users", v1_text, "a", err, sizeof(err)), 0);
	gw_api_close(st);
	st = NULL;
	{
		FILE *fp = fopen(path, "r+");
		char wal[160];

		ck_assert_ptr_nonnull(fp);
		ck_assert_int_eq(fseek(fp, 0, SEEK_SET), 0);
		ck_assert_uint_eq(fwrite(junk, 1, 100, fp), 100);
		ck_assert_int_eq(fclose(fp), 0);
		snprintf(wal, sizeof(wal), "%s-wal", path);
		unlink(wal);
	}
	st = gw_api_open(path, err, sizeof(err));
	ck_assert_ptr_null(st);
	ck_assert_int_eq(errno, EIO);
	ck_assert_msg(strstr(err, "not a database") != NULL, "err: %s", err);
}
END_TEST

START_TEST(test_locked)
{
	sqlite3 *db;
	char h[1024];

	ck_assert_int_eq(
		gw_api_create(st, "users", v1_text, "a", err, sizeof(err)), 0);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
			 SQLITE_OK);
	gw_api_set_busy_ms(st, 100);
	ck_assert_int_eq(gw_api_publish(st, "users", "prod", 0, "a", NULL, NULL,
					NULL, err, sizeof(err)),
			 -EBUSY);
	ck_assert_msg(strstr(err, "locked by another process") != NULL,
		      "err: %s", err);
	ck_assert_int_eq(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	/* free again: the same publish goes through */
	ck_assert_int_eq(gw_api_publish(st, "users", "prod", 0, "a", NULL, NULL,
					NULL, err, sizeof(err)),
			 0);
	history_of("users", h);
	ck_assert_str_eq(h, "create::0:0;publish:prod:1:0;");
}
END_TEST

/* ---- the lbctl handler ------------------------------------------------- */

static struct nl_msg *
ctl_req(const char *cmd, const char *data, const char *const *args)
{
	struct nl_msg *m = lbmsg_new(LB_MSG_MODULE_CMD, NLM_F_REQUEST);
	struct nlattr *nest;

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(nla_put_string(m, LB_ATTR_NAME, "gateway"), 0);
	ck_assert_int_eq(nla_put_string(m, LB_ATTR_MOD_CMD, cmd), 0);
	if (data != NULL)
		ck_assert_int_eq(nla_put_string(m, LB_ATTR_MOD_DATA, data), 0);
	nest = nla_nest_start(m, LB_ATTR_MOD_ARGS);
	for (; args != NULL && *args != NULL; args++)
		ck_assert_int_eq(nla_put_string(m, LB_ATTR_MOD_ARG, *args), 0);
	nla_nest_end(m, nest);
	return m;
}

/* Run one command; its JSON answer into out. */
static int
ctl(const char *cmd, const char *data, const char *const *args, char *out,
    size_t outlen)
{
	struct nl_msg *req = ctl_req(cmd, data, args);
	struct nl_msg *rep = lbmsg_new(LB_MSG_MODULE_CMD, NLM_F_MULTI);
	struct nlattr *tb[LB_ATTR_MAX + 1];
	int rc;

	ck_assert_ptr_nonnull(rep);
	ck_assert_int_eq(nla_put_string(rep, LB_ATTR_NAME, "gateway"), 0);
	ck_assert_int_eq(nla_put_string(rep, LB_ATTR_MOD_CMD, cmd), 0);
	out[0] = '\0';
	rc = gw_api_ctl_cmd(st, req, rep, NULL, NULL, err, sizeof(err));
	if (rc == 0) {
		/* the reply passes the protocol's own checks */
		ck_assert_int_eq(lbmsg_parse(nlmsg_hdr(rep),
					     nlmsg_hdr(rep)->nlmsg_len, tb, err,
					     sizeof(err)),
				 0);
		ck_assert_ptr_nonnull(tb[LB_ATTR_MOD_DATA]);
		snprintf(out, outlen, "%s",
			 nla_get_string(tb[LB_ATTR_MOD_DATA]));
	}
	nlmsg_free(req);
	nlmsg_free(rep);
	return rc;
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static int
count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static char big[LBMSG_MOD_DATA_MAX + 1];

START_TEST(test_ctl)
{
	char out[8192];

	ck_assert_int_eq(ctl("api.create", v1_text,
			     ARGS("name=users", "user=carol"), out,
			     sizeof(out)),
			 0);
	ck_assert_ptr_nonnull(strstr(out, "\"api\":\"users\""));
	/* diff against nothing live: all added */
	ck_assert_int_eq(
		ctl("api.diff", NULL, ARGS("name=users"), out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "nothing live"));
	ck_assert_ptr_nonnull(strstr(out, "+[route users]"));
	ck_assert_int_eq(ctl("api.publish", NULL,
			     ARGS("name=users", "stage=prod", "user=carol"),
			     out, sizeof(out)),
			 0);
	ck_assert_ptr_nonnull(strstr(out, "\"version\":1"));
	ck_assert_int_eq(ctl("api.create", v2_text, ARGS("name=users"), out,
			     sizeof(out)),
			 0);
	ck_assert_int_eq(ctl("api.diff", NULL, ARGS("name=users", "stage=prod"),
			     out, sizeof(out)),
			 0);
	ck_assert_msg(strstr(out,
			     "--- users version 1 live on prod\\n+++ "
			     "users draft\\n@@ -1,7 +1,11 @@\\n-; "
			     "version one\\n+; version two\\n [upstream "
			     "be]\\n-instance = 127.0.0.1:9001\\n+instance "
			     "= 127.0.0.1:9002\\n") != NULL,
		      "diff: %s", out);
	ck_assert_ptr_nonnull(strstr(out, "+[route health]"));
	ck_assert_int_eq(
		ctl("api.history", NULL, ARGS("name=users"), out, sizeof(out)),
		0);
	ck_assert_ptr_nonnull(strstr(out, "\"who\":\"carol\""));
	ck_assert_ptr_nonnull(strstr(out, "\"action\":\"publish\""));
	ck_assert_int_eq(
		ctl("api.deprecate", NULL,
		    ARGS("name=users", "version=1", "sunset=2030-01-01"), out,
		    sizeof(out)),
		0);
	ck_assert_ptr_nonnull(
		strstr(out, "\"sunset\":\"2030-01-01T00:00:00Z\""));
	ck_assert_int_eq(
		ctl("api.show", NULL, ARGS("name=users"), out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"stage\":\"prod\""));
	ck_assert_ptr_nonnull(strstr(out, "\"draft_bytes\":"));
	ck_assert_int_eq(ctl("api.list", NULL, NULL, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"live\":{\"prod\":1}"));

	/* history: the newest GW_API_HISTORY_DEFAULT without a limit */
	for (int i = 0; i < GW_API_HISTORY_DEFAULT; i++)
		ck_assert_int_eq(gw_api_create(st, "users", v1_text, "loop",
					       err, sizeof(err)),
				 0);
	ck_assert_int_eq(
		ctl("api.history", NULL, ARGS("name=users"), big, sizeof(big)),
		0);
	ck_assert_int_eq(count_of(big, "\"at\":"), GW_API_HISTORY_DEFAULT);
	ck_assert_ptr_null(strstr(big, "\"who\":\"carol\"")); /* the oldest */
	ck_assert_int_eq(ctl("api.history", NULL, ARGS("name=users", "limit=3"),
			     big, sizeof(big)),
			 0);
	ck_assert_int_eq(count_of(big, "\"at\":"), 3);

	/* errors */
	ck_assert_int_eq(ctl("api.frob", NULL, NULL, out, sizeof(out)),
			 -EOPNOTSUPP);
	ck_assert_int_eq(
		ctl("api.publish", NULL, ARGS("name=users"), out, sizeof(out)),
		-EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "stage"));
	ck_assert_int_eq(ctl("api.show", NULL, ARGS("name=users", "color=red"),
			     out, sizeof(out)),
			 -EINVAL);
	ck_assert_int_eq(ctl("api.deprecate", NULL,
			     ARGS("name=users", "version=1", "sunset=soon"),
			     out, sizeof(out)),
			 -EINVAL);
	ck_assert_int_eq(ctl("api.show", NULL,
			     ARGS("name=users", "user=evil\x1b[2J"), out,
			     sizeof(out)),
			 -EINVAL);
	ck_assert_int_eq(ctl("api.rollback", NULL,
			     ARGS("name=users", "stage=prod", "version=0"), out,
			     sizeof(out)),
			 -EINVAL);
	ck_assert_int_eq(
		ctl("api.show", NULL, ARGS("name=ghost"), out, sizeof(out)),
		-ENOENT);
	ck_assert_int_eq(ctl("api.create", "[route r]\nfrob = 1\n",
			     ARGS("name=users"), out, sizeof(out)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "line 2"));
}
END_TEST

static Suite *
gw_api_suite(void)
{
	Suite *s = suite_create("gw_api");
	TCase *core = tcase_create("core");
	TCase *errors = tcase_create("errors");
	TCase *ctlc = tcase_create("ctl");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, test_create_publish);
	tcase_add_test(core, test_versions_rollback_history);
	tcase_add_test(core, test_deprecate_retire);
	tcase_add_test(core, test_namespaces);
	tcase_add_test(core, test_apply_atomic);
	tcase_add_test(core, test_persistence);
	suite_add_tcase(s, core);

	tcase_add_checked_fixture(errors, setup, teardown);
	tcase_add_loop_test(errors, test_bad_text, 0,
			    sizeof(bad_texts) / sizeof(bad_texts[0]));
	tcase_add_test(errors, test_limits);
	tcase_add_test(errors, test_corrupt);
	tcase_add_test(errors, test_locked);
	suite_add_tcase(s, errors);

	tcase_add_checked_fixture(ctlc, setup, teardown);
	tcase_add_test(ctlc, test_ctl);
	suite_add_tcase(s, ctlc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(gw_api_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
