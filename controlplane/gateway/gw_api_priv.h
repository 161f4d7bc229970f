/* SPDX-License-Identifier: BSD-3-Clause */
/* Internals of the API store shared by gw_api.c (changes), gw_api_read.c
 * (reading), gw_api_text.c (route text), gw_api_diff.c and gw_api_ctl.c
 * (lbctl api). */
#ifndef EDGELBD_GW_API_PRIV_H
#define EDGELBD_GW_API_PRIV_H

#include <stdbool.h>
#include <sqlite3.h>

#include "gw_api.h"

/* The prepared statements (gw_api.c's sql[]). */
enum gw_api_q {
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_API_ID,
	Q_API_INS,
	Q_DRAFT_SET,
	Q_DRAFT_GET,
	Q_VER_MAX,
	Q_VER_INS,
	Q_VER_GET,
	Q_VER_DEPR,
	Q_VER_RETIRE,
	Q_LIVE_GET,
	Q_LIVE_SET,
	Q_HIST_INS,
	Q_STAGE,
	Q_LIST,
	Q_VERSIONS,
	Q_LIVES,
	Q_HISTORY,
	Q_COUNT,
};

struct gw_api_store {
	sqlite3 *db;
	char path[256];
	sqlite3_stmt *st[Q_COUNT];
};

/* A statement, reset and unbound, ready for its parameters. */
sqlite3_stmt *gw_api_stmt(struct gw_api_store *s, enum gw_api_q i);

/* An SQLite result code as an errno (EBUSY, ENOMEM, EINVAL, EIO),
 * explained in err as "PATH: what: why". */
int gw_api_db_err(struct gw_api_store *s, int rc, char *err, size_t errlen,
		  const char *what);

/* The id of api: 0, -ENOENT ("no API ..."), or a database error. */
int gw_api_find(struct gw_api_store *s, const char *api, int64_t *id, char *err,
		size_t errlen);

/* The integer of the first row of statement i bound with (id, t) or
 * (id, n); 0 when no row. 0 or a database error. */
int gw_api_one_int(struct gw_api_store *s, enum gw_api_q i, int64_t id,
		   const char *t, int64_t n, int64_t *out, char *err,
		   size_t errlen);

/* One version (text malloc'ed, the caller frees): 0, -ENOENT, -ENOMEM
 * or a database error. */
struct gw_api_ver_row {
	char *text;
	int64_t deprecated, sunset, retired;
};

int gw_api_ver_get(struct gw_api_store *s, const char *api, int64_t id,
		   uint32_t v, struct gw_api_ver_row *r, char *err,
		   size_t errlen);

/* Unix time t as an RFC 9110 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
 * GMT"). */
void gw_api_http_date(int64_t t, char *out, size_t len);

/*
 * The unified diff (3 lines of context) of old to new under the labels,
 * malloc'ed into *out; "" when they are equal. 0, -ENOMEM, or -EMSGSIZE
 * when it is larger than half a reply (gw_api_diff.c).
 */
int gw_api_diff(const char *old, const char *new, const char *label_a,
		const char *label_b, char **out, char *err, size_t errlen);

/* The prefix of every route and upstream name an API brings. */
#define GW_API_NS "api."

/*
 * Parse a version's route text into c: names as written (prefix false;
 * the text is then also built with gw_table_build to check it whole) or
 * prefixed "api.API." (prefix true). 0 or -EINVAL/-E2BIG/-ENOMEM with
 * "line N: ..." in err.
 */
int gw_api_text_parse(const char *api, const char *text, bool prefix,
		      struct gw_conf *c, char *err, size_t errlen);

/* The [filter NAME] sections of a version's text into arr (a cJSON
 * array): {"name", "type", "routes": [the version's routes using it]},
 * names as written. 0 or gw_api_text_parse's error. */
struct cJSON;
int gw_api_text_filters(const char *api, const char *text, struct cJSON *arr,
			char *err, size_t errlen);

#endif
