/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ratelimit filter's cluster-wide store: Redis (gw_ratelimit_redis.c).
 *
 * Every decision is one EVALSHA of one Lua script that reads Redis's own
 * clock (TIME), so gateway nodes sharing one Redis share one exact limit
 * whatever their clocks say. Each loop thread has its own asynchronous
 * hiredis connection per Redis address (libevent adapter), made on the
 * first decision of that loop and kept until the thread ends; it
 * reconnects by itself with a doubling backoff.
 *
 * A decision is asynchronous: gw_rl_redis_decide returns GW_FV_PENDING
 * and the callback gives the result on the request's loop, or NULL when
 * the store failed (down, slow past redis_timeout, an error reply). Then
 * the filter falls back to its local limiter (fail_open) or refuses
 * (fail_closed); both are counted (gw_rl_redis_stats).
 */
#ifndef EDGELBD_GW_RATELIMIT_REDIS_H
#define EDGELBD_GW_RATELIMIT_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_filter_priv.h"

#define GW_RL_REDIS_ADDR_MAX 108  /* a unix socket path's room */
#define GW_RL_LEASE_MAX	     1000 /* tokens taken per Redis call at most */

struct gw_rl_redis_conf {
	bool on;			 /* store = redis */
	char addr[GW_RL_REDIS_ADDR_MAX]; /* HOST:PORT or /path (unix) */
	uint32_t timeout_ms;		 /* redis_timeout, default 50 */
	bool fail_closed;		 /* on_redis_error = fail_closed */
	uint32_t lease;			 /* tokens per Redis call; 0, 1: none */
};

/* One key of a [filter] section of type ratelimit that belongs to the
 * Redis store (store, redis, redis_timeout, on_redis_error, lease): 0,
 * -ENOENT (not one of them) or -EINVAL with the reason in why. */
int gw_rl_redis_key(struct gw_rl_redis_conf *c, const char *key,
		    const char *value, char *why, size_t wl);

struct gw_rl_redis;

/* The store of one filter (name: its key namespace). NULL with err when
 * the algorithm has no script (leaky_bucket), a lease is asked for with
 * sliding_window, or the address is bad. */
struct gw_rl_redis *gw_rl_redis_new(const struct gw_rl_redis_conf *rc,
				    const struct gw_rl_conf *c,
				    const char *filter, char *err,
				    size_t errlen);
void gw_rl_redis_free(struct gw_rl_redis *r);

/* A decision's end, on the request's loop: the result, or NULL when the
 * store failed; returns the filter's verdict (PASS or ANSWER). */
typedef enum gw_fverdict (*gw_rl_redis_cb)(void *arg, struct gw_freq *fr,
					   const char *key, size_t klen,
					   const struct gw_rl_result *r);

/*
 * One decision for key on the request's loop base. GW_FV_PENDING: cb
 * comes later through gw_freq_resume (scratch[0] holds the wait until
 * then: pass scratch to gw_rl_redis_cancel from the done hook). Any
 * other verdict is cb's, called at once (the store is down: cb got NULL).
 */
enum gw_fverdict gw_rl_redis_decide(struct gw_rl_redis *r,
				    struct event_base *base, struct gw_freq *fr,
				    const char *key, size_t klen,
				    uint64_t *scratch, gw_rl_redis_cb cb,
				    void *arg);

/* The request ended while its decision waited: forget it. */
void gw_rl_redis_cancel(uint64_t *scratch);

/* The script's reply (an array of 5 integers: granted, remaining,
 * reset_ms, retry_ms, limit) into r, the tokens granted (0 refused, up
 * to GW_RL_LEASE_MAX with a lease) and reset_ms exact. 0, -EINVAL (not that shape or out
 * of range), -ENOENT (NOSCRIPT: load it again) or -EIO (another error
 * reply, or none). */
struct redisReply;
int gw_rl_redis_parse(const struct redisReply *rep, struct gw_rl_result *r,
		      uint32_t *granted, uint64_t *reset_ms);

/* Process-wide counters (relaxed atomics). */
struct gw_rl_redis_stats {
	uint64_t decisions;   /* asked of Redis */
	uint64_t round_trips; /* commands sent (EVALSHA, EVAL, SCRIPT) */
	uint64_t replies_ok;
	uint64_t errors;      /* error or malformed replies, lost ones */
	uint64_t timeouts;    /* no answer within redis_timeout */
	uint64_t down;	      /* no connection at decision time */
	uint64_t fail_open;   /* decided by the local limiter instead */
	uint64_t fail_closed; /* refused because the store failed */
	uint64_t noscript;    /* script reloaded */
	uint64_t lease_hits;  /* decided from a lease, no round trip */
	uint64_t connects, disconnects, connect_failures;
};
void gw_rl_redis_stats(struct gw_rl_redis_stats *out);

#endif
