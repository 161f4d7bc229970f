/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The API lifecycle store: named APIs, each a group of gateway routes with
 * immutable versions, a draft, the version live on each stage, and a
 * history of who did what. Kept in SQLite (WAL journal, schema version in
 * PRAGMA user_version), so that it survives restarts.
 *
 * The routes of a version are the text of [route NAME] and [upstream NAME]
 * sections, in the syntax of the INI file (docs/gateway.md). A text is
 * checked before it is stored: every key with gw_conf_key, the whole with
 * gw_table_build; an error names the line.
 *
 * Names: an API is [A-Za-z0-9_-]{1,32}; a stage [a-z0-9_-]{1,31}. In the
 * gateway's configuration a route or upstream R of API A is named
 * "api.A.R" and its `upstream = U` refers to "api.A.U", so APIs never
 * share a name with each other; "api." names are reserved and refused in
 * the INI's own sections (gw_api_stage_conf).
 *
 * Changes that alter what a stage serves (publish, rollback, deprecate,
 * retire) run in one SQLite transaction and call the caller's apply
 * function before the commit; apply rebuilds the gateway's tables (which
 * read the uncommitted state through gw_api_stage_conf on the same
 * handle). If apply fails, the transaction is rolled back and the store
 * is as before.
 *
 * Every function runs on one thread (the daemon's main loop) and may
 * block for up to the busy timeout when another process holds the
 * database. Errors: a negative errno with err saying why:
 *   -EINVAL  bad name, bad route text ("line N: ..."), bad state change
 *   -ENOENT  no such API / version / draft / live version
 *   -EEXIST  the change is already in place
 *   -E2BIG   route text over GW_API_TEXT_MAX
 *   -EBUSY   the database is locked by another process
 *   -EIO     any other SQLite error (corrupt file, full disk, ...)
 *   -ENOMEM
 */
#ifndef EDGELBD_GW_API_H
#define EDGELBD_GW_API_H

#include <stddef.h>
#include <stdint.h>

#include "gw_route.h"

#define GW_API_NAME_MAX	       32
#define GW_API_STAGE_MAX       31
#define GW_API_WHO_MAX	       63
#define GW_API_TEXT_MAX	       32768 /* bytes of one version's routes */
#define GW_API_SCHEMA	       1     /* PRAGMA user_version */
#define GW_API_BUSY_MS	       1000  /* default busy timeout */
#define GW_API_HISTORY_MAX     1000  /* entries one history call returns */
#define GW_API_HISTORY_DEFAULT 200   /* lbctl api history without --limit */

struct gw_api_store;

/*
 * Open (create if missing) the store at path. NULL with errno and err:
 * EIO (not a database, unreadable, corrupt), EBUSY (locked), EPROTO (a
 * schema this build does not know), ENOMEM.
 */
struct gw_api_store *gw_api_open(const char *path, char *err, size_t errlen);
void gw_api_close(struct gw_api_store *s);

/* How long a statement waits for another process's lock, in ms. */
void gw_api_set_busy_ms(struct gw_api_store *s, int ms);

/* 0 or -EINVAL: name / stage syntax (err says why). */
int gw_api_check_name(const char *name, char *err, size_t errlen);
int gw_api_check_stage(const char *stage, char *err, size_t errlen);

/*
 * Check a version's route text on its own (what create does before it
 * stores the text). 0, -EINVAL with "line N: ..." or -E2BIG.
 */
int gw_api_validate(const char *api, const char *text, char *err,
		    size_t errlen);

/* Make text the draft of api (the API is created if new). */
int gw_api_create(struct gw_api_store *s, const char *api, const char *text,
		  const char *who, char *err, size_t errlen);

/* Rebuild what the gateway serves from the store. 0 or -errno + err. */
typedef int (*gw_api_apply_fn)(void *arg, char *err, size_t errlen);

/*
 * Publish version (0: the draft, which becomes the next version and is
 * cleared) of api to stage. *out (if not NULL) is the version published.
 * apply may be NULL.
 */
int gw_api_publish(struct gw_api_store *s, const char *api, const char *stage,
		   uint32_t version, const char *who, gw_api_apply_fn apply,
		   void *arg, uint32_t *out, char *err, size_t errlen);

/* Put an earlier version back on stage (it must differ from the live). */
int gw_api_rollback(struct gw_api_store *s, const char *api, const char *stage,
		    uint32_t version, const char *who, gw_api_apply_fn apply,
		    void *arg, char *err, size_t errlen);

/*
 * Deprecate a version: its routes answer with `Deprecation: @<now>` and,
 * when sunset is not 0 (Unix time), `Sunset: <HTTP-date>`.
 */
int gw_api_deprecate(struct gw_api_store *s, const char *api, uint32_t version,
		     int64_t sunset, const char *who, gw_api_apply_fn apply,
		     void *arg, char *err, size_t errlen);

/* Retire a version: its routes answer 410 with a JSON body. Final. */
int gw_api_retire(struct gw_api_store *s, const char *api, uint32_t version,
		  const char *who, gw_api_apply_fn apply, void *arg, char *err,
		  size_t errlen);

/*
 * Append the routes and upstreams of every API live on stage, in API
 * name order, after what c holds (the INI's [route]/[upstream]), with
 * their names prefixed (see above), deprecation headers added and
 * retired versions turned into 410 answers. On failure c may hold part of
 * them: the caller drops c. -EINVAL when c already has an "api." name.
 */
int gw_api_stage_conf(struct gw_api_store *s, const char *stage,
		      struct gw_conf *c, char *err, size_t errlen);

/*
 * An LB_MSG_MODULE_CMD request for the API store (gw_api_ctl.c): runs
 * the command of its MOD_CMD ("api.create", "api.diff", "api.publish",
 * "api.rollback", "api.deprecate", "api.retire", "api.history",
 * "api.list", "api.show") with its MOD_ARGS and MOD_DATA and puts the
 * answer, a JSON object, into reply as MOD_DATA. Changes call apply.
 * 0 or -errno with err (-EOPNOTSUPP: unknown command, -EMSGSIZE: the
 * answer does not fit one reply).
 */
struct nl_msg;
int gw_api_ctl_cmd(struct gw_api_store *s, struct nl_msg *req,
		   struct nl_msg *reply, gw_api_apply_fn apply, void *arg,
		   char *err, size_t errlen);

/* ---- reading ----------------------------------------------------------- */

struct gw_api_info {
	const char *name;
	int64_t created;
	uint32_t nversions, latest; /* latest: 0 when none */
	int has_draft;
	const char *live; /* "stage=N stage=N" or "" */
};

struct gw_api_version {
	uint32_t version;
	int64_t created;
	const char *created_by;
	int64_t deprecated, sunset, retired; /* Unix time; 0: not */
	const char *text;
};

struct gw_api_live {
	const char *stage;
	uint32_t version;
	int64_t since;
};

struct gw_api_event {
	int64_t at;
	const char *who;
	const char *action; /* create, publish, rollback, deprecate, retire */
	const char *stage;  /* "" when none */
	uint32_t version, prev;
	const char *detail;
};

/* Callbacks return 0 to go on or a negative errno to stop with it. */
int gw_api_list(struct gw_api_store *s,
		int (*cb)(void *arg, const struct gw_api_info *i), void *arg,
		char *err, size_t errlen);
int gw_api_versions(struct gw_api_store *s, const char *api,
		    int (*cb)(void *arg, const struct gw_api_version *v),
		    void *arg, char *err, size_t errlen);
int gw_api_lives(struct gw_api_store *s, const char *api,
		 int (*cb)(void *arg, const struct gw_api_live *l), void *arg,
		 char *err, size_t errlen);
/* The newest limit entries, oldest first. */
int gw_api_history(struct gw_api_store *s, const char *api, unsigned limit,
		   int (*cb)(void *arg, const struct gw_api_event *e),
		   void *arg, char *err, size_t errlen);

/*
 * The draft's text (*text malloc'ed; -ENOENT: none), or a version's
 * (version != 0), or the live one on stage (version 0 and stage set;
 * *version_out says which).
 */
int gw_api_draft(struct gw_api_store *s, const char *api, char **text,
		 char *err, size_t errlen);
int gw_api_text(struct gw_api_store *s, const char *api, const char *stage,
		uint32_t version, uint32_t *version_out, char **text, char *err,
		size_t errlen);

#endif
