/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The push service's storage, one ops table per implementation (SQLite
 * for one node, Redis for several sharing it): devices,
 * bindings (user -> devices), topics, messages with their idempotency
 * keys, and per-device queues whose entries carry each device's status
 * of a message.
 *
 * Writes happen inside a transaction opened by begin and made durable by
 * commit (the caller groups the writes of one event-loop iteration);
 * reads see the open transaction's writes. Every function returns 0 or a
 * negative errno: -ENOENT (no such row), -EINVAL (bad argument), -EIO
 * (the backend failed; the transaction should be rolled back).
 * Strings handed to callbacks live only during the call.
 */
#ifndef EDGELBD_PUSH_STORE_H
#define EDGELBD_PUSH_STORE_H

#define PUSH_VENDOR_MAX	      16  /* "apns", "fcm", "huawei", "xiaomi" */
#define PUSH_VENDOR_TOKEN_MAX 512 /* a device's token at its vendor */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "push_frame.h"

enum push_status {
	PUSH_ST_QUEUED = 0,
	PUSH_ST_SENT = 1,
	PUSH_ST_ACKED = 2,
	PUSH_ST_EXPIRED = 3,
	PUSH_ST_FAILED = 4,
};

/* "queued", "sent", "acknowledged", "expired", "failed". */
const char *push_status_name(int st);

enum push_target {
	PUSH_TO_DEVICE,
	PUSH_TO_USER,
	PUSH_TO_TOPIC,
	PUSH_TO_ALL,
};

/* A message as stored (payload: its JSON text). */
struct push_msg {
	char id[PUSH_ID_TEXT + 1];
	int64_t created_ms;
	uint32_t ttl_s;
	int64_t expires_ms;
	uint8_t priority;
	const char *collapse_key; /* NULL or "": none */
	const uint8_t *payload;
	size_t len;
};

/* One queue entry of a device, as the queue hands it out. */
struct push_entry {
	const char *device;
	uint64_t seq;
	int status;	    /* enum push_status */
	const char *reason; /* for FAILED: "collapsed", "queue_full" */
	uint32_t sends;
	int64_t updated_ms;
	struct push_msg msg;
};

struct push_device_info {
	char platform[PUSH_PLATFORM_MAX + 1];
	char app[PUSH_APP_MAX + 1];
	int64_t last_seen_ms;
	uint64_t last_seq;		  /* highest seq given out */
	uint64_t pending;		  /* entries queued or sent */
	char vendor[PUSH_VENDOR_MAX + 1]; /* "" = none */
	char vendor_token[PUSH_VENDOR_TOKEN_MAX + 1]; /* "" = none */
};

/* What enqueue did beside adding the entry. */
struct push_enqueue_res {
	uint64_t seq;
	uint32_t collapsed; /* older entries replaced (collapse key) */
	uint32_t dropped;   /* oldest entries dropped (max_queue) */
};

struct push_store_stats {
	uint64_t devices;
	uint64_t pending; /* queue entries queued or sent, every device */
	uint64_t messages;
};

typedef int (*push_name_fn)(void *arg, const char *name);
typedef int (*push_entry_fn)(void *arg, const struct push_entry *e);

struct push_store_ops {
	const char *name;
	/* path: the implementation's address (a file for SQLite). */
	int (*open)(const char *path, void **st, char *err, size_t errlen);
	void (*close)(void *st);

	int (*begin)(void *st);
	int (*commit)(void *st); /* durable when it returns 0 */
	int (*rollback)(void *st);

	/* Create or update (platform, app, last seen). */
	int (*device_register)(void *st, const char *device,
			       const char *platform, const char *app,
			       int64_t now_ms);
	int (*device_get)(void *st, const char *device,
			  struct push_device_info *out);
	/*
	 * The device's vendor channel (vendor NULL: none; the token is
	 * forgotten, e.g. after the vendor called it invalid). -ENOENT: no
	 * device.
	 */
	int (*device_vendor)(void *st, const char *device, const char *vendor,
			     const char *token);
	/* Bind/unbind a user, (un)subscribe a topic. -ENOENT: no device. */
	int (*bind)(void *st, const char *user, const char *device, bool on);
	int (*subscribe)(void *st, const char *topic, const char *device,
			 bool on);
	/* The users of a device (PUSH_TO_DEVICE's reverse). */
	int (*device_users)(void *st, const char *device, push_name_fn fn,
			    void *arg);
	/*
	 * The devices a message to (kind, name) reaches, each once; stops
	 * at fn's first non-zero return and returns it. PUSH_TO_DEVICE:
	 * the device if registered, else -ENOENT.
	 */
	int (*targets)(void *st, enum push_target kind, const char *name,
		       push_name_fn fn, void *arg);

	/* The id of the message with this idempotency key: 0 or -ENOENT. */
	int (*msg_by_key)(void *st, const char *key, char id[PUSH_ID_TEXT + 1]);
	/* Store a message (key: NULL or its idempotency key). */
	int (*msg_add)(void *st, const struct push_msg *m, const char *key);
	/*
	 * Append the message to device's queue with the next seq. With a
	 * collapse key, older queued or sent entries of the same key become
	 * FAILED "collapsed"; then, over max_queue pending entries, the
	 * oldest become FAILED "queue_full".
	 */
	int (*enqueue)(void *st, const struct push_msg *m, const char *device,
		       uint32_t max_queue, int64_t now_ms,
		       struct push_enqueue_res *r);
	/*
	 * The queued or sent entries of device with seq > after and not
	 * expired at now, in seq order, at most limit.
	 */
	int (*queue_next)(void *st, const char *device, uint64_t after,
			  size_t limit, int64_t now_ms, push_entry_fn fn,
			  void *arg);
	int (*mark_sent)(void *st, const char *device, uint64_t seq,
			 int64_t now_ms);
	/* ACK of id by device: 0 (*seq set) or -ENOENT (nothing pending). */
	int (*ack)(void *st, const char *device, const char *id, int64_t now_ms,
		   uint64_t *seq);
	/* Every pending entry of device up to seq is acknowledged. */
	int (*ack_upto)(void *st, const char *device, uint64_t seq,
			int64_t now_ms, uint64_t *n);
	/* Pending entries whose message expired by now become EXPIRED. */
	int (*expire)(void *st, int64_t now_ms, uint64_t *n);
	/*
	 * Forget history: entries acknowledged, expired or failed before
	 * before_ms, then messages made before it that no entry names (their
	 * idempotency keys with them). At most limit entries a call; *n
	 * counts the entries removed.
	 */
	int (*prune)(void *st, int64_t before_ms, size_t limit, uint64_t *n);
	/* A message (payload not filled) and its entries, at most limit. */
	int (*msg_get)(void *st, const char *id, struct push_msg *m,
		       size_t limit, push_entry_fn fn, void *arg);
	int (*stats)(void *st, struct push_store_stats *s);
};

extern const struct push_store_ops push_store_sqlite;
/* path: "HOST:PORT" of a redis-server (push_store_redis.c). */
extern const struct push_store_ops push_store_redis;

#endif
