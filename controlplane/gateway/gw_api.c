/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The API lifecycle store (gw_api.h) on SQLite.
 *
 * Schema 1 (PRAGMA user_version = 1):
 *   api(id, name UNIQUE, created, draft, draft_at, draft_by)
 *   version(api_id, version, routes, created, created_by, deprecated,
 *           sunset, retired)  -- routes/version/api_id never change
 *                                 (a trigger refuses updates)
 *   live(api_id, stage, version, since)  -- one row per API and stage
 *   history(id, api_id, at, who, action, stage, version, prev, detail)
 * Times are Unix seconds. Every statement is prepared once at open; each
 * change is one BEGIN IMMEDIATE ... COMMIT.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>

#include "gw_api_priv.h"
#include "edgelb/util.h"

static const char *const sql[Q_COUNT] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_API_ID] = "SELECT id FROM api WHERE name = ?1",
	[Q_API_INS] = "INSERT INTO api(name, created) VALUES (?1, ?2)",
	[Q_DRAFT_SET] = "UPDATE api SET draft = ?2, draft_at = ?3, "
			"draft_by = ?4 WHERE id = ?1",
	[Q_DRAFT_GET] = "SELECT draft FROM api WHERE id = ?1",
	[Q_VER_MAX] = "SELECT COALESCE(MAX(version), 0) FROM version "
		      "WHERE api_id = ?1",
	[Q_VER_INS] = "INSERT INTO version(api_id, version, routes, created, "
		      "created_by) VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_VER_GET] = "SELECT routes, deprecated, sunset, retired FROM version "
		      "WHERE api_id = ?1 AND version = ?2",
	[Q_VER_DEPR] = "UPDATE version SET deprecated = COALESCE(deprecated, "
		       "?3), sunset = ?4 WHERE api_id = ?1 AND version = ?2",
	[Q_VER_RETIRE] = "UPDATE version SET retired = ?3 WHERE api_id = ?1 "
			 "AND version = ?2",
	[Q_LIVE_GET] = "SELECT version FROM live WHERE api_id = ?1 AND "
		       "stage = ?2",
	[Q_LIVE_SET] = "INSERT INTO live(api_id, stage, version, since) "
		       "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(api_id, stage) "
		       "DO UPDATE SET version = excluded.version, "
		       "since = excluded.since",
	[Q_HIST_INS] = "INSERT INTO history(api_id, at, who, action, stage, "
		       "version, prev, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
		       "?7, ?8)",
	[Q_STAGE] = "SELECT a.name, v.routes, v.deprecated, v.sunset, "
		    "v.retired, v.version FROM live l "
		    "JOIN api a ON a.id = l.api_id "
		    "JOIN version v ON v.api_id = l.api_id AND "
		    "v.version = l.version WHERE l.stage = ?1 ORDER BY a.name",
	[Q_LIST] =
		"SELECT a.name, a.created, a.draft IS NOT NULL, "
		"(SELECT COUNT(*) FROM version v WHERE v.api_id = a.id), "
		"(SELECT COALESCE(MAX(version), 0) FROM version v "
		"WHERE v.api_id = a.id), "
		"(SELECT group_concat(s, ' ') FROM (SELECT stage || '=' || "
		"version AS s FROM live WHERE api_id = a.id ORDER BY stage)) "
		"FROM api a ORDER BY a.name",
	[Q_VERSIONS] = "SELECT version, created, created_by, deprecated, "
		       "sunset, retired, routes FROM version WHERE api_id = ?1 "
		       "ORDER BY version",
	[Q_LIVES] = "SELECT stage, version, since FROM live WHERE api_id = ?1 "
		    "ORDER BY stage",
	[Q_HISTORY] = "SELECT at, who, action, stage, version, prev, detail "
		      "FROM (SELECT * FROM history WHERE api_id = ?1 "
		      "ORDER BY id DESC LIMIT ?2) ORDER BY id",
};

static const char schema[] =
	"BEGIN;"
	"CREATE TABLE api(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" created INTEGER NOT NULL, draft TEXT, draft_at INTEGER,"
	" draft_by TEXT);"
	"CREATE TABLE version(api_id INTEGER NOT NULL REFERENCES api(id),"
	" version INTEGER NOT NULL CHECK (version > 0),"
	" routes TEXT NOT NULL, created INTEGER NOT NULL,"
	" created_by TEXT NOT NULL, deprecated INTEGER, sunset INTEGER,"
	" retired INTEGER, PRIMARY KEY (api_id, version));"
	"CREATE TRIGGER version_immutable BEFORE UPDATE OF api_id, version,"
	" routes ON version BEGIN"
	" SELECT RAISE(ABORT, 'a version is immutable'); END;"
	"CREATE TABLE live(api_id INTEGER NOT NULL REFERENCES api(id),"
	" stage TEXT NOT NULL, version INTEGER NOT NULL,"
	" since INTEGER NOT NULL, PRIMARY KEY (api_id, stage),"
	" FOREIGN KEY (api_id, version) REFERENCES version(api_id, version));"
	"CREATE TABLE history(id INTEGER PRIMARY KEY,"
	" api_id INTEGER NOT NULL REFERENCES api(id), at INTEGER NOT NULL,"
	" who TEXT NOT NULL, action TEXT NOT NULL, stage TEXT,"
	" version INTEGER, prev INTEGER, detail TEXT);"
	"PRAGMA user_version = 1;"
	"COMMIT;";

/* ---- errors ------------------------------------------------------------ */

/* An SQLite result code as an errno, explained in err. */
int
gw_api_db_err(struct gw_api_store *s, int rc, char *err, size_t errlen,
	      const char *what)
{
	const char *msg =
		s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return lb_errf(err, errlen, -EBUSY,
			       "%s: %s: the database is locked by another "
			       "process (%s)",
			       s->path, what, msg);
	case SQLITE_NOMEM:
		return lb_errf(err, errlen, -ENOMEM, "%s: %s: out of memory",
			       s->path, what);
	case SQLITE_CONSTRAINT:
		return lb_errf(err, errlen, -EINVAL, "%s: %s: %s", s->path,
			       what, msg);
	default:
		return lb_errf(err, errlen, -EIO, "%s: %s: %s", s->path, what,
			       msg);
	}
}

/* ---- statements -------------------------------------------------------- */

sqlite3_stmt *
gw_api_stmt(struct gw_api_store *s, enum gw_api_q i)
{
	sqlite3_reset(s->st[i]);
	sqlite3_clear_bindings(s->st[i]);
	return s->st[i];
}

/* Run a statement that returns no row. */
static int
exec1(struct gw_api_store *s, sqlite3_stmt *q, char *err, size_t errlen,
      const char *what)
{
	int rc = sqlite3_step(q);

	sqlite3_reset(q);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return gw_api_db_err(s, rc, err, errlen, what);
	return 0;
}

static void
bind_text(sqlite3_stmt *q, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(q, i);
	else
		sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
}

static void
bind_opt64(sqlite3_stmt *q, int i, int64_t v)
{
	if (v == 0)
		sqlite3_bind_null(q, i);
	else
		sqlite3_bind_int64(q, i, v);
}

static int
begin(struct gw_api_store *s, char *err, size_t errlen)
{
	return exec1(s, gw_api_stmt(s, Q_BEGIN), err, errlen, "begin");
}

static void
rollback(struct gw_api_store *s)
{
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_reset(s->st[i]);
	if (sqlite3_get_autocommit(s->db) == 0)
		exec1(s, gw_api_stmt(s, Q_ROLLBACK), NULL, 0, "rollback");
}

/*
 * The end of a change: apply, then commit. A failed apply changed nothing
 * (gw_mod_rebuild's contract): roll back. A failed commit after apply
 * succeeded: roll back and apply again, so that the old state is served.
 */
static int
finish(struct gw_api_store *s, gw_api_apply_fn apply, void *arg, char *err,
       size_t errlen)
{
	int rc = 0;

	if (apply != NULL)
		rc = apply(arg, err, errlen);
	if (rc < 0) {
		rollback(s); /* a failed apply changed nothing */
		return rc;
	}
	rc = exec1(s, gw_api_stmt(s, Q_COMMIT), err, errlen, "commit");
	if (rc == 0)
		return 0;
	rollback(s);
	if (apply != NULL) {
		char again[256];

		apply(arg, again, sizeof(again)); /* serve the old state */
	}
	return rc;
}

/* ---- names ------------------------------------------------------------- */

static int
check_chars(const char *v, size_t max, bool upper, const char *what, char *err,
	    size_t errlen)
{
	size_t n = v != NULL ? strlen(v) : 0;

	if (n == 0 || n > max)
		return lb_errf(err, errlen, -EINVAL,
			       "%s must have 1 to %zu characters", what, max);
	for (const char *c = v; *c != '\0'; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		      *c == '_' || *c == '-' ||
		      (upper && *c >= 'A' && *c <= 'Z')))
			return lb_errf(err, errlen, -EINVAL,
				       "%s \"%.64s\": only %s, 0-9, '_' and "
				       "'-'",
				       what, v, upper ? "A-Z, a-z" : "a-z");
	return 0;
}

int
gw_api_check_name(const char *name, char *err, size_t errlen)
{
	return check_chars(name, GW_API_NAME_MAX, true, "an API name", err,
			   errlen);
}

int
gw_api_check_stage(const char *stage, char *err, size_t errlen)
{
	return check_chars(stage, GW_API_STAGE_MAX, false, "a stage name", err,
			   errlen);
}

static const char *
who_or(const char *who)
{
	return who != NULL && who[0] != '\0' ? who : "unknown";
}

/* ---- open / close ------------------------------------------------------ */

static int
user_version(struct gw_api_store *s, int *v, char *err, size_t errlen)
{
	sqlite3_stmt *q;
	int rc;

	rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL);
	if (rc != SQLITE_OK)
		return gw_api_db_err(s, rc, err, errlen,
				     "read the schema version");
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW)
		return gw_api_db_err(s, rc, err, errlen,
				     "read the schema version");
	return 0;
}

static int
has_tables(struct gw_api_store *s, bool *any, char *err, size_t errlen)
{
	sqlite3_stmt *q;
	int rc;

	rc = sqlite3_prepare_v2(s->db, "SELECT COUNT(*) FROM sqlite_master", -1,
				&q, NULL);
	if (rc != SQLITE_OK)
		return gw_api_db_err(s, rc, err, errlen, "read the schema");
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*any = sqlite3_column_int(q, 0) > 0;
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW)
		return gw_api_db_err(s, rc, err, errlen, "read the schema");
	return 0;
}

static int
exec_sql(struct gw_api_store *s, const char *text, char *err, size_t errlen,
	 const char *what)
{
	int rc = sqlite3_exec(s->db, text, NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		int e = gw_api_db_err(s, rc, err, errlen, what);

		if (sqlite3_get_autocommit(s->db) == 0)
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return e;
	}
	return 0;
}

struct gw_api_store *
gw_api_open(const char *path, char *err, size_t errlen)
{
	struct gw_api_store *s;
	sqlite3_stmt *q;
	bool any = false;
	int rc, v = 0;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		lb_errf(err, errlen, 0, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		rc = gw_api_db_err(s, rc, err, errlen, "open");
		goto err;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, GW_API_BUSY_MS);
	rc = exec_sql(s, "PRAGMA foreign_keys = ON", err, errlen, "open");
	if (rc < 0)
		goto err;
	/* a file that is not a database fails here, on its first read */
	rc = user_version(s, &v, err, errlen);
	if (rc < 0)
		goto err;
	if (v > GW_API_SCHEMA) {
		rc = lb_errf(err, errlen, -EPROTO,
			     "%s: schema version %d is newer than this "
			     "edgelbd's (%d)",
			     path, v, GW_API_SCHEMA);
		goto err;
	}
	rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &q,
				NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW &&
		    strcmp((const char *)sqlite3_column_text(q, 0), "wal") != 0)
			rc = SQLITE_CANTOPEN;
		sqlite3_finalize(q);
	}
	if (rc != SQLITE_ROW) {
		rc = gw_api_db_err(s, rc, err, errlen, "switch to WAL");
		goto err;
	}
	if (v == 0) {
		rc = has_tables(s, &any, err, errlen);
		if (rc < 0)
			goto err;
		if (any) {
			rc = lb_errf(err, errlen, -EPROTO,
				     "%s: a database, but not an edgelb API "
				     "store (schema version 0 with tables)",
				     path);
			goto err;
		}
		rc = exec_sql(s, schema, err, errlen, "create the schema");
		if (rc < 0)
			goto err;
	}
	for (int i = 0; i < Q_COUNT; i++) {
		rc = sqlite3_prepare_v3(s->db, sql[i], -1,
					SQLITE_PREPARE_PERSISTENT, &s->st[i],
					NULL);
		if (rc != SQLITE_OK) {
			rc = gw_api_db_err(s, rc, err, errlen, "prepare");
			goto err;
		}
	}
	return s;
err:
	gw_api_close(s);
	errno = -rc;
	return NULL;
}

void
gw_api_close(struct gw_api_store *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s);
}

void
gw_api_set_busy_ms(struct gw_api_store *s, int ms)
{
	sqlite3_busy_timeout(s->db, ms);
}

/* ---- lookups ----------------------------------------------------------- */

/* The id of api: 0 or -ENOENT (-errno on a database error). */
int
gw_api_find(struct gw_api_store *s, const char *api, int64_t *id, char *err,
	    size_t errlen)
{
	sqlite3_stmt *q = gw_api_stmt(s, Q_API_ID);
	int rc;

	bind_text(q, 1, api);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	if (rc == SQLITE_DONE)
		return lb_errf(err, errlen, -ENOENT, "no API \"%s\"", api);
	if (rc != SQLITE_ROW)
		return gw_api_db_err(s, rc, err, errlen, "find the API");
	return 0;
}

/* An int query of one row with (id[, text or int]); 0 when no row. */
int
gw_api_one_int(struct gw_api_store *s, enum gw_api_q i, int64_t id,
	       const char *t, int64_t n, int64_t *out, char *err, size_t errlen)
{
	sqlite3_stmt *q = gw_api_stmt(s, i);
	int rc;

	sqlite3_bind_int64(q, 1, id);
	if (t != NULL)
		bind_text(q, 2, t);
	else if (n != 0)
		sqlite3_bind_int64(q, 2, n);
	*out = 0;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return gw_api_db_err(s, rc, err, errlen, "read");
	return 0;
}

int
gw_api_ver_get(struct gw_api_store *s, const char *api, int64_t id, uint32_t v,
	       struct gw_api_ver_row *r, char *err, size_t errlen)
{
	sqlite3_stmt *q = gw_api_stmt(s, Q_VER_GET);
	int rc;

	memset(r, 0, sizeof(*r));
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, v);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		r->text = strdup((const char *)sqlite3_column_text(q, 0));
		r->deprecated = sqlite3_column_int64(q, 1);
		r->sunset = sqlite3_column_int64(q, 2);
		r->retired = sqlite3_column_int64(q, 3);
	}
	sqlite3_reset(q);
	if (rc == SQLITE_DONE)
		return lb_errf(err, errlen, -ENOENT, "API %s has no version %u",
			       api, v);
	if (rc != SQLITE_ROW)
		return gw_api_db_err(s, rc, err, errlen, "read the version");
	if (r->text == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

static int
history_add(struct gw_api_store *s, int64_t id, const char *who,
	    const char *action, const char *stage, uint32_t v, uint32_t prev,
	    const char *detail, char *err, size_t errlen)
{
	sqlite3_stmt *q = gw_api_stmt(s, Q_HIST_INS);

	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, (int64_t)time(NULL));
	bind_text(q, 3, who_or(who));
	bind_text(q, 4, action);
	bind_text(q, 5, stage);
	bind_opt64(q, 6, v);
	bind_opt64(q, 7, prev);
	bind_text(q, 8, detail);
	return exec1(s, q, err, errlen, "write the history");
}

/* ---- changes ----------------------------------------------------------- */

int
gw_api_create(struct gw_api_store *s, const char *api, const char *text,
	      const char *who, char *err, size_t errlen)
{
	char detail[64];
	sqlite3_stmt *q;
	int64_t id = 0;
	int rc;

	rc = gw_api_validate(api, text, err, errlen);
	if (rc < 0)
		return rc;
	rc = begin(s, err, errlen);
	if (rc < 0)
		return rc;
	rc = gw_api_find(s, api, &id, NULL, 0);
	if (rc == -ENOENT) {
		q = gw_api_stmt(s, Q_API_INS);
		bind_text(q, 1, api);
		sqlite3_bind_int64(q, 2, (int64_t)time(NULL));
		rc = exec1(s, q, err, errlen, "create the API");
		if (rc == 0)
			id = sqlite3_last_insert_rowid(s->db);
	} else if (rc < 0) {
		rc = gw_api_find(s, api, &id, err, errlen);
	}
	if (rc < 0)
		goto err;
	q = gw_api_stmt(s, Q_DRAFT_SET);
	sqlite3_bind_int64(q, 1, id);
	bind_text(q, 2, text);
	sqlite3_bind_int64(q, 3, (int64_t)time(NULL));
	bind_text(q, 4, who_or(who));
	rc = exec1(s, q, err, errlen, "store the draft");
	if (rc < 0)
		goto err;
	snprintf(detail, sizeof(detail), "draft of %zu bytes", strlen(text));
	rc = history_add(s, id, who, "create", NULL, 0, 0, detail, err, errlen);
	if (rc < 0)
		goto err;
	return finish(s, NULL, NULL, err, errlen);
err:
	rollback(s);
	return rc;
}

/* Put version v live on stage of API id (after the checks). */
static int
set_live(struct gw_api_store *s, const char *api, int64_t id, const char *stage,
	 uint32_t v, const char *who, const char *action, const char *detail,
	 char *err, size_t errlen)
{
	sqlite3_stmt *q;
	int64_t prev = 0;
	int rc;

	rc = gw_api_one_int(s, Q_LIVE_GET, id, stage, 0, &prev, err, errlen);
	if (rc < 0)
		return rc;
	if (prev == (int64_t)v)
		return lb_errf(err, errlen, -EEXIST,
			       "version %u of API %s is live on stage %s "
			       "already",
			       v, api, stage);
	if (strcmp(action, "rollback") == 0 && prev == 0)
		return lb_errf(err, errlen, -ENOENT,
			       "API %s has nothing live on stage %s to roll "
			       "back",
			       api, stage);
	q = gw_api_stmt(s, Q_LIVE_SET);
	sqlite3_bind_int64(q, 1, id);
	bind_text(q, 2, stage);
	sqlite3_bind_int64(q, 3, v);
	sqlite3_bind_int64(q, 4, (int64_t)time(NULL));
	rc = exec1(s, q, err, errlen, "set the live version");
	if (rc < 0)
		return rc;
	return history_add(s, id, who, action, stage, v, (uint32_t)prev, detail,
			   err, errlen);
}

/* The checks shared by changes of one version: it exists, not retired. */
static int
usable_version(struct gw_api_store *s, const char *api, int64_t id, uint32_t v,
	       struct gw_api_ver_row *r, char *err, size_t errlen)
{
	int rc = gw_api_ver_get(s, api, id, v, r, err, errlen);

	if (rc < 0)
		return rc;
	if (r->retired != 0)
		return lb_errf(err, errlen, -EINVAL,
			       "version %u of API %s is retired", v, api);
	return 0;
}

int
gw_api_publish(struct gw_api_store *s, const char *api, const char *stage,
	       uint32_t version, const char *who, gw_api_apply_fn apply,
	       void *arg, uint32_t *out, char *err, size_t errlen)
{
	struct gw_api_ver_row r = { 0 };
	char *draft = NULL;
	sqlite3_stmt *q;
	int64_t id = 0, max = 0;
	int rc;

	rc = gw_api_check_name(api, err, errlen);
	if (rc == 0)
		rc = gw_api_check_stage(stage, err, errlen);
	if (rc < 0)
		return rc;
	rc = begin(s, err, errlen);
	if (rc < 0)
		return rc;
	rc = gw_api_find(s, api, &id, err, errlen);
	if (rc < 0)
		goto err;
	if (version == 0) {
		rc = gw_api_draft(s, api, &draft, err, errlen);
		if (rc < 0)
			goto err;
		rc = gw_api_one_int(s, Q_VER_MAX, id, NULL, 0, &max, err,
				    errlen);
		if (rc < 0)
			goto err;
		version = (uint32_t)max + 1;
		q = gw_api_stmt(s, Q_VER_INS);
		sqlite3_bind_int64(q, 1, id);
		sqlite3_bind_int64(q, 2, version);
		bind_text(q, 3, draft);
		sqlite3_bind_int64(q, 4, (int64_t)time(NULL));
		bind_text(q, 5, who_or(who));
		rc = exec1(s, q, err, errlen, "store the version");
		if (rc < 0)
			goto err;
		q = gw_api_stmt(s, Q_DRAFT_SET);
		sqlite3_bind_int64(q, 1, id);
		rc = exec1(s, q, err, errlen, "clear the draft");
		if (rc < 0)
			goto err;
	} else {
		rc = usable_version(s, api, id, version, &r, err, errlen);
		if (rc < 0)
			goto err;
	}
	rc = set_live(s, api, id, stage, version, who, "publish",
		      draft != NULL ? "new version from the draft" : NULL, err,
		      errlen);
	if (rc < 0)
		goto err;
	free(draft);
	free(r.text);
	rc = finish(s, apply, arg, err, errlen);
	if (rc == 0 && out != NULL)
		*out = version;
	return rc;
err:
	free(draft);
	free(r.text);
	rollback(s);
	return rc;
}

int
gw_api_rollback(struct gw_api_store *s, const char *api, const char *stage,
		uint32_t version, const char *who, gw_api_apply_fn apply,
		void *arg, char *err, size_t errlen)
{
	struct gw_api_ver_row r = { 0 };
	int64_t id = 0;
	int rc;

	rc = gw_api_check_name(api, err, errlen);
	if (rc == 0)
		rc = gw_api_check_stage(stage, err, errlen);
	if (rc < 0)
		return rc;
	if (version == 0)
		return lb_errf(err, errlen, -EINVAL,
			       "rollback needs a version");
	rc = begin(s, err, errlen);
	if (rc < 0)
		return rc;
	rc = gw_api_find(s, api, &id, err, errlen);
	if (rc == 0)
		rc = usable_version(s, api, id, version, &r, err, errlen);
	free(r.text);
	if (rc == 0)
		rc = set_live(s, api, id, stage, version, who, "rollback", NULL,
			      err, errlen);
	if (rc < 0) {
		rollback(s);
		return rc;
	}
	return finish(s, apply, arg, err, errlen);
}

int
gw_api_deprecate(struct gw_api_store *s, const char *api, uint32_t version,
		 int64_t sunset, const char *who, gw_api_apply_fn apply,
		 void *arg, char *err, size_t errlen)
{
	struct gw_api_ver_row r = { 0 };
	char detail[64] = "";
	sqlite3_stmt *q;
	int64_t id = 0;
	int rc;

	rc = gw_api_check_name(api, err, errlen);
	if (rc < 0)
		return rc;
	rc = begin(s, err, errlen);
	if (rc < 0)
		return rc;
	rc = gw_api_find(s, api, &id, err, errlen);
	if (rc == 0)
		rc = usable_version(s, api, id, version, &r, err, errlen);
	free(r.text);
	if (rc == 0 && r.deprecated != 0 && r.sunset == sunset)
		rc = lb_errf(err, errlen, -EEXIST,
			     "version %u of API %s is deprecated already",
			     version, api);
	if (rc < 0)
		goto err;
	q = gw_api_stmt(s, Q_VER_DEPR);
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, version);
	sqlite3_bind_int64(q, 3, (int64_t)time(NULL));
	bind_opt64(q, 4, sunset);
	rc = exec1(s, q, err, errlen, "deprecate");
	if (rc < 0)
		goto err;
	if (sunset != 0) {
		memcpy(detail, "sunset ", 7);
		gw_api_http_date(sunset, detail + 7, sizeof(detail) - 7);
	}
	rc = history_add(s, id, who, "deprecate", NULL, version, 0,
			 detail[0] != '\0' ? detail : NULL, err, errlen);
	if (rc < 0)
		goto err;
	return finish(s, apply, arg, err, errlen);
err:
	rollback(s);
	return rc;
}

int
gw_api_retire(struct gw_api_store *s, const char *api, uint32_t version,
	      const char *who, gw_api_apply_fn apply, void *arg, char *err,
	      size_t errlen)
{
	struct gw_api_ver_row r = { 0 };
	sqlite3_stmt *q;
	int64_t id = 0;
	int rc;

	rc = gw_api_check_name(api, err, errlen);
	if (rc < 0)
		return rc;
	rc = begin(s, err, errlen);
	if (rc < 0)
		return rc;
	rc = gw_api_find(s, api, &id, err, errlen);
	if (rc == 0)
		rc = gw_api_ver_get(s, api, id, version, &r, err, errlen);
	free(r.text);
	if (rc == 0 && r.retired != 0)
		rc = lb_errf(err, errlen, -EEXIST,
			     "version %u of API %s is retired already", version,
			     api);
	if (rc < 0)
		goto err;
	q = gw_api_stmt(s, Q_VER_RETIRE);
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, version);
	sqlite3_bind_int64(q, 3, (int64_t)time(NULL));
	rc = exec1(s, q, err, errlen, "retire");
	if (rc == 0)
		rc = history_add(s, id, who, "retire", NULL, version, 0, NULL,
				 err, errlen);
	if (rc < 0)
		goto err;
	return finish(s, apply, arg, err, errlen);
err:
	rollback(s);
	return rc;
}
