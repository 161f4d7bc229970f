/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The push store on SQLite (see push_store.h): one file in WAL mode with
 * synchronous=FULL, so that commit returns once the write-ahead log is
 * on disk. Every statement is prepared once at open.
 *
 * Queue entries live in one table keyed by (device, seq); a partial
 * index over the pending ones (queued or sent) keeps the per-device
 * lookups -- next entries, queue length, collapse, expiry -- independent
 * of the acknowledged history.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "push_store.h"
#include "edgelb/log.h"

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS devices("
	" id TEXT PRIMARY KEY, platform TEXT NOT NULL, app TEXT NOT NULL,"
	" last_seen INTEGER NOT NULL, next_seq INTEGER NOT NULL DEFAULT 1,"
	" vendor TEXT, vendor_token TEXT"
	") WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS bindings("
	" user TEXT NOT NULL, device TEXT NOT NULL,"
	" PRIMARY KEY(user, device)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS bindings_device ON bindings(device);"
	"CREATE TABLE IF NOT EXISTS topics("
	" topic TEXT NOT NULL, device TEXT NOT NULL,"
	" PRIMARY KEY(topic, device)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS messages("
	" id TEXT PRIMARY KEY, idem_key TEXT UNIQUE, created INTEGER NOT NULL,"
	" ttl INTEGER NOT NULL, expires INTEGER NOT NULL,"
	" priority INTEGER NOT NULL, collapse TEXT, payload BLOB NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS queue("
	" device TEXT NOT NULL, seq INTEGER NOT NULL, msg TEXT NOT NULL,"
	" status INTEGER NOT NULL, reason TEXT, sends INTEGER NOT NULL"
	" DEFAULT 0, updated INTEGER NOT NULL, expires INTEGER NOT NULL,"
	" collapse TEXT, PRIMARY KEY(device, seq)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS queue_msg ON queue(msg);"
	"CREATE INDEX IF NOT EXISTS queue_live ON queue(device, seq)"
	" WHERE status < 2;"
	"CREATE INDEX IF NOT EXISTS queue_expiry ON queue(expires)"
	" WHERE status < 2;"
	"CREATE INDEX IF NOT EXISTS queue_done ON queue(updated)"
	" WHERE status >= 2;"
	"CREATE INDEX IF NOT EXISTS messages_created ON messages(created);";

enum stmt {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_DEV_UPSERT,
	S_DEV_GET,
	S_DEV_VENDOR,
	S_DEV_PENDING,
	S_DEV_SEQ,
	S_BIND_ON,
	S_BIND_OFF,
	S_SUB_ON,
	S_SUB_OFF,
	S_DEV_USERS,
	S_T_DEVICE,
	S_T_USER,
	S_T_TOPIC,
	S_T_ALL,
	S_MSG_BY_KEY,
	S_MSG_ADD,
	S_COLLAPSE,
	S_Q_INSERT,
	S_Q_COUNT,
	S_Q_DROP,
	S_Q_NEXT,
	S_MARK_SENT,
	S_ACK_SEQ,
	S_ACK,
	S_ACK_UPTO,
	S_EXPIRE,
	S_PRUNE_Q,
	S_PRUNE_M,
	S_MSG_GET,
	S_MSG_ENTRIES,
	S_ST_DEVICES,
	S_ST_PENDING,
	S_ST_MESSAGES,
	S_MAX
};

static const char *const sql[S_MAX] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_DEV_UPSERT] = "INSERT INTO devices(id, platform, app, last_seen)"
			 " VALUES(?1, ?2, ?3, ?4) ON CONFLICT(id) DO UPDATE"
			 " SET platform = ?2, app = ?3, last_seen = ?4",
	[S_DEV_GET] = "SELECT platform, app, last_seen, next_seq - 1, vendor,"
		      " vendor_token FROM devices WHERE id = ?1",
	[S_DEV_VENDOR] = "UPDATE devices SET vendor = ?2, vendor_token = ?3"
			 " WHERE id = ?1",
	[S_DEV_PENDING] = "SELECT count(*) FROM queue WHERE device = ?1"
			  " AND status < 2",
	[S_DEV_SEQ] = "UPDATE devices SET next_seq = next_seq + 1"
		      " WHERE id = ?1 RETURNING next_seq - 1",
	[S_BIND_ON] = "INSERT OR IGNORE INTO bindings VALUES(?1, ?2)",
	[S_BIND_OFF] = "DELETE FROM bindings WHERE user = ?1 AND device = ?2",
	[S_SUB_ON] = "INSERT OR IGNORE INTO topics VALUES(?1, ?2)",
	[S_SUB_OFF] = "DELETE FROM topics WHERE topic = ?1 AND device = ?2",
	[S_DEV_USERS] = "SELECT user FROM bindings WHERE device = ?1"
			" ORDER BY user",
	[S_T_DEVICE] = "SELECT id FROM devices WHERE id = ?1",
	[S_T_USER] = "SELECT device FROM bindings WHERE user = ?1"
		     " ORDER BY device",
	[S_T_TOPIC] = "SELECT device FROM topics WHERE topic = ?1"
		      " ORDER BY device",
	[S_T_ALL] = "SELECT id FROM devices ORDER BY id",
	[S_MSG_BY_KEY] = "SELECT id FROM messages WHERE idem_key = ?1",
	[S_MSG_ADD] = "INSERT INTO messages(id, idem_key, created, ttl,"
		      " expires, priority, collapse, payload)"
		      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_COLLAPSE] = "UPDATE queue SET status = 4, reason = 'collapsed',"
		       " updated = ?3 WHERE device = ?1 AND status < 2"
		       " AND collapse = ?2",
	[S_Q_INSERT] = "INSERT INTO queue(device, seq, msg, status, updated,"
		       " expires, collapse) VALUES(?1, ?2, ?3, 0, ?4, ?5, ?6)",
	[S_Q_COUNT] = "SELECT count(*) FROM queue WHERE device = ?1"
		      " AND status < 2",
	[S_Q_DROP] = "UPDATE queue SET status = 4, reason = 'queue_full',"
		     " updated = ?3 WHERE device = ?1 AND status < 2 AND seq IN"
		     " (SELECT seq FROM queue WHERE device = ?1 AND status < 2"
		     " ORDER BY seq LIMIT ?2)",
	[S_Q_NEXT] = "SELECT q.seq, q.status, q.sends, q.updated, m.id,"
		     " m.created, m.ttl, m.expires, m.priority, m.collapse,"
		     " m.payload FROM queue q JOIN messages m ON m.id = q.msg"
		     " WHERE q.device = ?1 AND q.status < 2 AND q.seq > ?2"
		     " AND q.expires > ?4 ORDER BY q.seq LIMIT ?3",
	[S_MARK_SENT] = "UPDATE queue SET status = 1, sends = sends + 1,"
			" updated = ?3 WHERE device = ?1 AND seq = ?2"
			" AND status < 2",
	[S_ACK_SEQ] = "SELECT seq FROM queue WHERE msg = ?2 AND device = ?1"
		      " AND status < 2",
	[S_ACK] = "UPDATE queue SET status = 2, updated = ?3"
		  " WHERE device = ?1 AND seq = ?2",
	[S_ACK_UPTO] = "UPDATE queue SET status = 2, updated = ?3"
		       " WHERE device = ?1 AND status < 2 AND seq <= ?2",
	[S_EXPIRE] = "UPDATE queue SET status = 3, updated = ?1"
		     " WHERE status < 2 AND expires <= ?1",
	[S_PRUNE_Q] = "DELETE FROM queue WHERE (device, seq) IN"
		      " (SELECT device, seq FROM queue WHERE status >= 2"
		      " AND updated < ?1 LIMIT ?2)",
	[S_PRUNE_M] = "DELETE FROM messages WHERE id IN (SELECT id FROM"
		      " messages m WHERE created < ?1 AND NOT EXISTS"
		      " (SELECT 1 FROM queue q WHERE q.msg = m.id) LIMIT ?2)",
	[S_MSG_GET] = "SELECT created, ttl, expires, priority, collapse"
		      " FROM messages WHERE id = ?1",
	[S_MSG_ENTRIES] = "SELECT device, seq, status, reason, sends, updated"
			  " FROM queue WHERE msg = ?1 ORDER BY device LIMIT ?2",
	[S_ST_DEVICES] = "SELECT count(*) FROM devices",
	[S_ST_PENDING] = "SELECT count(*) FROM queue WHERE status < 2",
	[S_ST_MESSAGES] = "SELECT count(*) FROM messages",
};

struct sq {
	sqlite3 *db;
	sqlite3_stmt *s[S_MAX];
	char collapse[PUSH_NAME_MAX + 1]; /* msg_get's collapse key */
};

const char *
push_status_name(int st)
{
	switch (st) {
	case PUSH_ST_QUEUED:
		return "queued";
	case PUSH_ST_SENT:
		return "sent";
	case PUSH_ST_ACKED:
		return "acknowledged";
	case PUSH_ST_EXPIRED:
		return "expired";
	case PUSH_ST_FAILED:
		return "failed";
	}
	return "unknown";
}

/* ---- helpers ------------------------------------------------------------- */

/* The statement i, reset, with its parameters cleared. */
static sqlite3_stmt *
stmt(struct sq *q, enum stmt i)
{
	sqlite3_reset(q->s[i]);
	sqlite3_clear_bindings(q->s[i]);
	return q->s[i];
}

static int
fail(struct sq *q, const char *what)
{
	LB_ERR("push: store: %s: %s", what, sqlite3_errmsg(q->db));
	return -EIO;
}

static void
btext(sqlite3_stmt *s, int i, const char *t)
{
	if (t != NULL && t[0] != '\0')
		sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

/* Run a statement without rows. */
static int
exec_done(struct sq *q, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return fail(q, what);
	return 0;
}

/* A statement answering one integer: 0 (*v set), -ENOENT or -EIO. */
static int
exec_int(struct sq *q, sqlite3_stmt *s, const char *what, int64_t *v)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		return 0;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? -ENOENT : fail(q, what);
}

/* Rows of one text column to fn. */
static int
exec_names(struct sq *q, sqlite3_stmt *s, push_name_fn fn, void *arg)
{
	int rc, ret = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);

		ret = fn(arg, t != NULL ? t : "");
		if (ret != 0)
			break;
	}
	sqlite3_reset(s);
	if (ret == 0 && rc != SQLITE_DONE)
		return fail(q, "names");
	return ret;
}

static const char *
col_text(sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);

	return t != NULL ? t : "";
}

/* ---- open / close / transactions ----------------------------------------- */

static void
sq_close(void *st)
{
	struct sq *q = st;

	if (q == NULL)
		return;
	for (int i = 0; i < S_MAX; i++)
		sqlite3_finalize(q->s[i]);
	sqlite3_close(q->db);
	free(q);
}

static int
sq_open(const char *path, void **st, char *err, size_t errlen)
{
	struct sq *q = calloc(1, sizeof(*q));
	char *msg = NULL;
	int rc = -EIO;

	if (q == NULL)
		return -ENOMEM;
	if (sqlite3_open_v2(path, &q->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 q->db != NULL ? sqlite3_errmsg(q->db) : "no memory");
		goto err;
	}
	sqlite3_busy_timeout(q->db, 5000);
	if (sqlite3_exec(q->db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "PRAGMA foreign_keys=OFF;",
			 NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(q->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 msg != NULL ? msg : "schema");
		sqlite3_free(msg);
		goto err;
	}
	for (int i = 0; i < S_MAX; i++)
		if (sqlite3_prepare_v3(q->db, sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &q->s[i],
				       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: statement %d: %s", path, i,
				 sqlite3_errmsg(q->db));
			goto err;
		}
	*st = q;
	return 0;
err:
	sq_close(q);
	return rc;
}

static int
sq_begin(void *st)
{
	struct sq *q = st;

	return exec_done(q, stmt(q, S_BEGIN), "begin");
}

static int
sq_commit(void *st)
{
	struct sq *q = st;

	return exec_done(q, stmt(q, S_COMMIT), "commit");
}

static int
sq_rollback(void *st)
{
	struct sq *q = st;

	if (sqlite3_get_autocommit(q->db))
		return 0;
	return exec_done(q, stmt(q, S_ROLLBACK), "rollback");
}

/* ---- devices, bindings, topics --------------------------------------------- */

static int
sq_device_register(void *st, const char *device, const char *platform,
		   const char *app, int64_t now_ms)
{
	struct sq *q = st;
	sqlite3_stmt *s = stmt(q, S_DEV_UPSERT);

	sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, platform != NULL ? platform : "", -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(s, 3, app != NULL ? app : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now_ms);
	return exec_done(q, s, "device register");
}

static int
sq_device_get(void *st, const char *device, struct push_device_info *out)
{
	struct sq *q = st;
	sqlite3_stmt *s = stmt(q, S_DEV_GET);
	int64_t n;
	int rc;

	sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return rc == SQLITE_DONE ? -ENOENT : fail(q, "device get");
	}
	memset(out, 0, sizeof(*out));
	snprintf(out->platform, sizeof(out->platform), "%s", col_text(s, 0));
	snprintf(out->app, sizeof(out->app), "%s", col_text(s, 1));
	out->last_seen_ms = sqlite3_column_int64(s, 2);
	out->last_seq = (uint64_t)sqlite3_column_int64(s, 3);
	snprintf(out->vendor, sizeof(out->vendor), "%s", col_text(s, 4));
	snprintf(out->vendor_token, sizeof(out->vendor_token), "%s",
		 col_text(s, 5));
	sqlite3_reset(s);
	s = stmt(q, S_DEV_PENDING);
	sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
	rc = exec_int(q, s, "device pending", &n);
	out->pending = rc == 0 ? (uint64_t)n : 0;
	return rc;
}

static int
sq_device_vendor(void *st, const char *device, const char *vendor,
		 const char *token)
{
	struct sq *q = st;
	sqlite3_stmt *s = stmt(q, S_DEV_VENDOR);
	int rc;

	sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
	btext(s, 2, vendor);
	btext(s, 3, vendor != NULL ? token : NULL);
	rc = exec_done(q, s, "device vendor");
	if (rc == 0 && sqlite3_changes(q->db) == 0)
		rc = -ENOENT;
	return rc;
}

static bool
device_exists(struct sq *q, const char *device, int *rc)
{
	sqlite3_stmt *s = stmt(q, S_T_DEVICE);
	int r;

	sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	sqlite3_reset(s);
	*rc = r == SQLITE_ROW ? 0 : r == SQLITE_DONE ? -ENOENT : -EIO;
	return r == SQLITE_ROW;
}

static int
pair(struct sq *q, enum stmt on, enum stmt off, const char *a,
     const char *device, bool add)
{
	sqlite3_stmt *s;
	int rc;

	if (add && !device_exists(q, device, &rc))
		return rc;
	s = stmt(q, add ? on : off);
	sqlite3_bind_text(s, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, device, -1, SQLITE_STATIC);
	rc = exec_done(q, s, "binding");
	if (rc == 0 && !add && sqlite3_changes(q->db) == 0)
		rc = -ENOENT;
	return rc;
}

static int
sq_bind(void *st, const char *user, const char *device, bool on)
{
	return pair(st, S_BIND_ON, S_BIND_OFF, user, device, on);
}

static int
sq_subscribe(void *st, const char *topic, const char *device, bool on)
{
	return pair(st, S_SUB_ON, S_SUB_OFF, topic, device, on);
}

static int
sq_device_users(void *st, const char *device, push_name_fn fn, void *arg)
{
	struct sq *q = st;
	sqlite3_stmt *s = stmt(q, S_DEV_USERS);

	sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
	return exec_names(q, s, fn, arg);
}

static int
sq_targets(void *st, enum push_target kind, const char *name, push_name_fn fn,
	   void *arg)
{
	struct sq *q = st;
	sqlite3_stmt *s;
	int rc;

	switch (kind) {
	case PUSH_TO_DEVICE:
		if (!device_exists(q, name, &rc))
			return rc;
		return fn(arg, name);
	case PUSH_TO_USER:
		s = stmt(q, S_T_USER);
		break;
	case PUSH_TO_TOPIC:
		s = stmt(q, S_T_TOPIC);
		break;
	case PUSH_TO_ALL:
		return exec_names(q, stmt(q, S_T_ALL), fn, arg);
	default:
		return -EINVAL;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	return exec_names(q, s, fn, arg);
}

/* ---- messages and queues ---------------------------------------------------- */

static int
sq_msg_by_key(void *st, const char *key, char id[PUSH_ID_TEXT + 1])
{
	struct sq *q = st;
	sqlite3_stmt *s = stmt(q, S_MSG_BY_KEY);
	int rc;

	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		snprintf(id, PUSH_ID_TEXT + 1, "%s", col_text(s, 0));
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : fail(q, "message by key");
}

static int
sq_msg_add(void *st, const struct push_msg *m, const char *key)
{
	struct sq *q = st;
	sqlite3_stmt *s = stmt(q, S_MSG_ADD);

	sqlite3_bind_text(s, 1, m->id, -1, SQLITE_STATIC);
	btext(s, 2, key);
	sqlite3_bind_int64(s, 3, m->created_ms);
	sqlite3_bind_int64(s, 4, m->ttl_s);
	sqlite3_bind_int64(s, 5, m->expires_ms);
	sqlite3_bind_int(s, 6, m->priority);
	btext(s, 7, m->collapse_key);
	sqlite3_bind_blob(s, 8, m->payload, (int)m->len, SQLITE_STATIC);
	return exec_done(q, s, "message add");
}

static int
sq_enqueue(void *st, const struct push_msg *m, const char *device,
	   uint32_t max_queue, int64_t now_ms, struct push_enqueue_res *r)
{
	struct sq *q = st;
	sqlite3_stmt *s;
	int64_t seq, n;
	int rc;

	memset(r, 0, sizeof(*r));
	s = stmt(q, S_DEV_SEQ);
	sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
	rc = exec_int(q, s, "next seq", &seq);
	if (rc < 0)
		return rc;
	if (m->collapse_key != NULL && m->collapse_key[0] != '\0') {
		s = stmt(q, S_COLLAPSE);
		sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, m->collapse_key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, now_ms);
		rc = exec_done(q, s, "collapse");
		if (rc < 0)
			return rc;
		r->collapsed = (uint32_t)sqlite3_changes(q->db);
	}
	s = stmt(q, S_Q_INSERT);
	sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, seq);
	sqlite3_bind_text(s, 3, m->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now_ms);
	sqlite3_bind_int64(s, 5, m->expires_ms);
	btext(s, 6, m->collapse_key);
	rc = exec_done(q, s, "enqueue");
	if (rc < 0)
		return rc;
	r->seq = (uint64_t)seq;
	s = stmt(q, S_Q_COUNT);
	sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
	rc = exec_int(q, s, "queue length", &n);
	if (rc < 0)
		return rc;
	if (max_queue > 0 && n > (int64_t)max_queue) {
		s = stmt(q, S_Q_DROP);
		sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, n - (int64_t)max_queue);
		sqlite3_bind_int64(s, 3, now_ms);
		rc = exec_done(q, s, "queue drop");
		if (rc < 0)
			return rc;
		r->dropped = (uint32_t)sqlite3_changes(q->db);
	}
	return 0;
}

static int
sq_queue_next(void *st, const char *device, uint64_t after, size_t limit,
	      int64_t now_ms, push_entry_fn fn, void *arg)
{
	struct sq *q = st;
	sqlite3_stmt *s = stmt(q, S_Q_NEXT);
	int rc, ret = 0;

	sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)after);
	sqlite3_bind_int64(s, 3, (int64_t)limit);
	sqlite3_bind_int64(s, 4, now_ms);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct push_entry e = {
			.device = device,
			.seq = (uint64_t)sqlite3_column_int64(s, 0),
			.status = sqlite3_column_int(s, 1),
			.sends = (uint32_t)sqlite3_column_int(s, 2),
			.updated_ms = sqlite3_column_int64(s, 3),
		};

		snprintf(e.msg.id, sizeof(e.msg.id), "%s", col_text(s, 4));
		e.msg.created_ms = sqlite3_column_int64(s, 5);
		e.msg.ttl_s = (uint32_t)sqlite3_column_int64(s, 6);
		e.msg.expires_ms = sqlite3_column_int64(s, 7);
		e.msg.priority = (uint8_t)sqlite3_column_int(s, 8);
		e.msg.collapse_key = (const char *)sqlite3_column_text(s, 9);
		e.msg.payload = sqlite3_column_blob(s, 10);
		e.msg.len = (size_t)sqlite3_column_bytes(s, 10);
		ret = fn(arg, &e);
		if (ret != 0)
			break;
	}
	sqlite3_reset(s);
	if (ret == 0 && rc != SQLITE_DONE)
		return fail(q, "queue next");
	return ret;
}

static int
sq_mark_sent(void *st, const char *device, uint64_t seq, int64_t now_ms)
{
	struct sq *q = st;
	sqlite3_stmt *s = stmt(q, S_MARK_SENT);

	sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)seq);
	sqlite3_bind_int64(s, 3, now_ms);
	return exec_done(q, s, "mark sent");
}

static int
sq_ack(void *st, const char *device, const char *id, int64_t now_ms,
       uint64_t *seq)
{
	struct sq *q = st;
	sqlite3_stmt *s = stmt(q, S_ACK_SEQ);
	int64_t v;
	int rc;

	sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	rc = exec_int(q, s, "ack lookup", &v);
	if (rc < 0)
		return rc;
	s = stmt(q, S_ACK);
	sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v);
	sqlite3_bind_int64(s, 3, now_ms);
	rc = exec_done(q, s, "ack");
	if (rc == 0)
		*seq = (uint64_t)v;
	return rc;
}

static int
sq_ack_upto(void *st, const char *device, uint64_t seq, int64_t now_ms,
	    uint64_t *n)
{
	struct sq *q = st;
	sqlite3_stmt *s = stmt(q, S_ACK_UPTO);
	int rc;

	sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, seq > INT64_MAX ? INT64_MAX : (int64_t)seq);
	sqlite3_bind_int64(s, 3, now_ms);
	rc = exec_done(q, s, "ack up to");
	*n = rc == 0 ? (uint64_t)sqlite3_changes(q->db) : 0;
	return rc;
}

static int
sq_expire(void *st, int64_t now_ms, uint64_t *n)
{
	struct sq *q = st;
	sqlite3_stmt *s = stmt(q, S_EXPIRE);
	int rc;

	sqlite3_bind_int64(s, 1, now_ms);
	rc = exec_done(q, s, "expire");
	*n = rc == 0 ? (uint64_t)sqlite3_changes(q->db) : 0;
	return rc;
}

static int
sq_prune(void *st, int64_t before_ms, size_t limit, uint64_t *n)
{
	struct sq *q = st;
	sqlite3_stmt *s = stmt(q, S_PRUNE_Q);
	int rc;

	sqlite3_bind_int64(s, 1, before_ms);
	sqlite3_bind_int64(s, 2, (int64_t)limit);
	rc = exec_done(q, s, "prune entries");
	*n = rc == 0 ? (uint64_t)sqlite3_changes(q->db) : 0;
	if (rc < 0)
		return rc;
	s = stmt(q, S_PRUNE_M);
	sqlite3_bind_int64(s, 1, before_ms);
	sqlite3_bind_int64(s, 2, (int64_t)limit);
	return exec_done(q, s, "prune messages");
}

static int
sq_msg_get(void *st, const char *id, struct push_msg *m, size_t limit,
	   push_entry_fn fn, void *arg)
{
	struct sq *q = st;
	sqlite3_stmt *s = stmt(q, S_MSG_GET);
	int rc, ret = 0;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return rc == SQLITE_DONE ? -ENOENT : fail(q, "message get");
	}
	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->created_ms = sqlite3_column_int64(s, 0);
	m->ttl_s = (uint32_t)sqlite3_column_int64(s, 1);
	m->expires_ms = sqlite3_column_int64(s, 2);
	m->priority = (uint8_t)sqlite3_column_int(s, 3);
	snprintf(q->collapse, sizeof(q->collapse), "%s", col_text(s, 4));
	m->collapse_key = q->collapse;
	sqlite3_reset(s);
	s = stmt(q, S_MSG_ENTRIES);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct push_entry e = {
			.device = col_text(s, 0),
			.seq = (uint64_t)sqlite3_column_int64(s, 1),
			.status = sqlite3_column_int(s, 2),
			.reason = (const char *)sqlite3_column_text(s, 3),
			.sends = (uint32_t)sqlite3_column_int(s, 4),
			.updated_ms = sqlite3_column_int64(s, 5),
			.msg = *m,
		};

		ret = fn(arg, &e);
		if (ret != 0)
			break;
	}
	sqlite3_reset(s);
	if (ret == 0 && rc != SQLITE_DONE)
		return fail(q, "message entries");
	return ret;
}

static int
sq_stats(void *st, struct push_store_stats *out)
{
	struct sq *q = st;
	int64_t a = 0, b = 0, c = 0;
	int rc;

	rc = exec_int(q, stmt(q, S_ST_DEVICES), "stats", &a);
	if (rc == 0)
		rc = exec_int(q, stmt(q, S_ST_PENDING), "stats", &b);
	if (rc == 0)
		rc = exec_int(q, stmt(q, S_ST_MESSAGES), "stats", &c);
	out->devices = (uint64_t)a;
	out->pending = (uint64_t)b;
	out->messages = (uint64_t)c;
	return rc;
}

const struct push_store_ops push_store_sqlite = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.device_register = sq_device_register,
	.device_get = sq_device_get,
	.device_vendor = sq_device_vendor,
	.bind = sq_bind,
	.subscribe = sq_subscribe,
	.device_users = sq_device_users,
	.targets = sq_targets,
	.msg_by_key = sq_msg_by_key,
	.msg_add = sq_msg_add,
	.enqueue = sq_enqueue,
	.queue_next = sq_queue_next,
	.mark_sent = sq_mark_sent,
	.ack = sq_ack,
	.ack_upto = sq_ack_upto,
	.expire = sq_expire,
	.prune = sq_prune,
	.msg_get = sq_msg_get,
	.stats = sq_stats,
};
