/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The API store (gw_api.h), reading: the APIs, one API's versions, live
 * stages and history, a draft's or a version's text. Statements and
 * lookups are gw_api.c's (gw_api_priv.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gw_api_priv.h"
#include "edgelb/util.h"

/* ---- reading ----------------------------------------------------------- */

static const char *
col_text(sqlite3_stmt *q, int i)
{
	const char *t = (const char *)sqlite3_column_text(q, i);

	return t != NULL ? t : "";
}

int
gw_api_list(struct gw_api_store *s,
	    int (*cb)(void *arg, const struct gw_api_info *i), void *arg,
	    char *err, size_t errlen)
{
	sqlite3_stmt *q = gw_api_stmt(s, Q_LIST);
	int rc, e = 0;

	while (e == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct gw_api_info i = {
			.name = col_text(q, 0),
			.created = sqlite3_column_int64(q, 1),
			.has_draft = sqlite3_column_int(q, 2),
			.nversions = (uint32_t)sqlite3_column_int64(q, 3),
			.latest = (uint32_t)sqlite3_column_int64(q, 4),
			.live = col_text(q, 5),
		};
		e = cb(arg, &i);
	}
	sqlite3_reset(q);
	if (e < 0)
		return e;
	if (rc != SQLITE_DONE)
		return gw_api_db_err(s, rc, err, errlen, "list the APIs");
	return 0;
}

int
gw_api_versions(struct gw_api_store *s, const char *api,
		int (*cb)(void *arg, const struct gw_api_version *v), void *arg,
		char *err, size_t errlen)
{
	sqlite3_stmt *q;
	int64_t id = 0;
	int rc, e = 0;

	rc = gw_api_find(s, api, &id, err, errlen);
	if (rc < 0)
		return rc;
	q = gw_api_stmt(s, Q_VERSIONS);
	sqlite3_bind_int64(q, 1, id);
	while (e == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct gw_api_version v = {
			.version = (uint32_t)sqlite3_column_int64(q, 0),
			.created = sqlite3_column_int64(q, 1),
			.created_by = col_text(q, 2),
			.deprecated = sqlite3_column_int64(q, 3),
			.sunset = sqlite3_column_int64(q, 4),
			.retired = sqlite3_column_int64(q, 5),
			.text = col_text(q, 6),
		};
		e = cb(arg, &v);
	}
	sqlite3_reset(q);
	if (e < 0)
		return e;
	if (rc != SQLITE_DONE)
		return gw_api_db_err(s, rc, err, errlen, "list the versions");
	return 0;
}

int
gw_api_lives(struct gw_api_store *s, const char *api,
	     int (*cb)(void *arg, const struct gw_api_live *l), void *arg,
	     char *err, size_t errlen)
{
	sqlite3_stmt *q;
	int64_t id = 0;
	int rc, e = 0;

	rc = gw_api_find(s, api, &id, err, errlen);
	if (rc < 0)
		return rc;
	q = gw_api_stmt(s, Q_LIVES);
	sqlite3_bind_int64(q, 1, id);
	while (e == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct gw_api_live l = {
			.stage = col_text(q, 0),
			.version = (uint32_t)sqlite3_column_int64(q, 1),
			.since = sqlite3_column_int64(q, 2),
		};
		e = cb(arg, &l);
	}
	sqlite3_reset(q);
	if (e < 0)
		return e;
	if (rc != SQLITE_DONE)
		return gw_api_db_err(s, rc, err, errlen, "list the stages");
	return 0;
}

int
gw_api_history(struct gw_api_store *s, const char *api, unsigned limit,
	       int (*cb)(void *arg, const struct gw_api_event *e), void *arg,
	       char *err, size_t errlen)
{
	sqlite3_stmt *q;
	int64_t id = 0;
	int rc, e = 0;

	rc = gw_api_find(s, api, &id, err, errlen);
	if (rc < 0)
		return rc;
	if (limit == 0 || limit > GW_API_HISTORY_MAX)
		limit = GW_API_HISTORY_MAX;
	q = gw_api_stmt(s, Q_HISTORY);
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, limit);
	while (e == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct gw_api_event ev = {
			.at = sqlite3_column_int64(q, 0),
			.who = col_text(q, 1),
			.action = col_text(q, 2),
			.stage = col_text(q, 3),
			.version = (uint32_t)sqlite3_column_int64(q, 4),
			.prev = (uint32_t)sqlite3_column_int64(q, 5),
			.detail = col_text(q, 6),
		};
		e = cb(arg, &ev);
	}
	sqlite3_reset(q);
	if (e < 0)
		return e;
	if (rc != SQLITE_DONE)
		return gw_api_db_err(s, rc, err, errlen, "read the history");
	return 0;
}

int
gw_api_draft(struct gw_api_store *s, const char *api, char **text, char *err,
	     size_t errlen)
{
	sqlite3_stmt *q;
	const char *t;
	int64_t id = 0;
	int rc;

	*text = NULL;
	rc = gw_api_find(s, api, &id, err, errlen);
	if (rc < 0)
		return rc;
	q = gw_api_stmt(s, Q_DRAFT_GET);
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		t = (const char *)sqlite3_column_text(q, 0);
		if (t != NULL)
			*text = strdup(t);
		else
			rc = SQLITE_DONE;
	}
	sqlite3_reset(q);
	if (rc == SQLITE_DONE)
		return lb_errf(err, errlen, -ENOENT,
			       "API %s has no draft (lbctl api create)", api);
	if (rc != SQLITE_ROW)
		return gw_api_db_err(s, rc, err, errlen, "read the draft");
	if (*text == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

int
gw_api_text(struct gw_api_store *s, const char *api, const char *stage,
	    uint32_t version, uint32_t *version_out, char **text, char *err,
	    size_t errlen)
{
	struct gw_api_ver_row r;
	int64_t id = 0, live = 0;
	int rc;

	*text = NULL;
	rc = gw_api_find(s, api, &id, err, errlen);
	if (rc < 0)
		return rc;
	if (version == 0) {
		rc = gw_api_one_int(s, Q_LIVE_GET, id, stage, 0, &live, err,
				    errlen);
		if (rc < 0)
			return rc;
		if (live == 0)
			return lb_errf(err, errlen, -ENOENT,
				       "API %s has nothing live on stage %s",
				       api, stage);
		version = (uint32_t)live;
	}
	rc = gw_api_ver_get(s, api, id, version, &r, err, errlen);
	if (rc < 0)
		return rc;
	*text = r.text;
	if (version_out != NULL)
		*version_out = version;
	return 0;
}
