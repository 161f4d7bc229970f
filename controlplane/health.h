/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Active health checks of backends: TCP connect, HTTP(S) GET, UDP
 * send/expect, each with interval, timeout, rise and fall.
 *
 * Two layers. hc_sm_* is the scheduling and rise/fall state machine as a
 * pure function of check results and a clock (milliseconds, any origin),
 * so it is tested with a fake clock. struct hc runs one hc_sm per target
 * (service, backend) on the daemon's libevent loop with real executors.
 *
 * Contract of the state machine:
 *  - a target starts UNKNOWN and its first check is due at once;
 *  - at most one check is in flight; the next starts interval after the
 *    previous one started (or at once if that is already past), never
 *    while one is in flight;
 *  - a check not answered within timeout is cancelled and counts as a
 *    failure; a result arriving after that is ignored;
 *  - rise consecutive successes make a target UP, fall consecutive
 *    failures make it DOWN; each change is reported once.
 * UNKNOWN counts as healthy for the desired weight, so a restarted daemon
 * does not take traffic away from backends it has not checked yet.
 */
#ifndef EDGELBD_HEALTH_H
#define EDGELBD_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "edgelb/lbmsg.h"

struct event_base;
struct metrics;

struct hc_params {
	uint32_t interval_ms;
	uint32_t timeout_ms;
	uint32_t rise;
	uint32_t fall;
};

struct hc_sm {
	uint8_t state; /* enum lb_health_state */
	bool in_flight;
	uint32_t ok_run;
	uint32_t fail_run;
	uint64_t started; /* of the check in flight */
	uint64_t deadline;
	uint64_t next; /* when the next check is due */
	/* counters */
	uint64_t checks;
	uint64_t oks;
	uint64_t failures; /* including timeouts */
	uint64_t timeouts;
	uint64_t rises;
	uint64_t falls;
};

enum hc_action {
	HC_ACT_NONE,
	HC_ACT_START,	/* start a check now (it is in flight from here) */
	HC_ACT_TIMEOUT, /* cancel the check in flight: it failed */
};

void hc_sm_init(struct hc_sm *sm, uint64_t now);

/*
 * What to do at time now. On HC_ACT_TIMEOUT, *change is set to the new
 * state if the failure changed it, else 0.
 */
enum hc_action hc_sm_poll(struct hc_sm *sm, const struct hc_params *p,
			  uint64_t now, int *change);

/*
 * The check in flight finished with ok. Returns the new state if it
 * changed, 0 if not, -EALREADY if no check was in flight (a late answer,
 * ignored).
 */
int hc_sm_result(struct hc_sm *sm, const struct hc_params *p, uint64_t now,
		 bool ok);

/* When hc_sm_poll next has something to do. */
uint64_t hc_sm_next_event(const struct hc_sm *sm);

/* Does the state let the backend take traffic (UP or UNKNOWN)? */
static inline bool
hc_state_healthy(int state)
{
	return state != LB_HEALTH_DOWN;
}

const char *hc_state_name(int state); /* "up", "down", "unknown" */

/* ---- response parsing (pure; fuzzed by tests/fuzz/fuzz_health.c) ------- */

enum hc_verdict {
	HC_VERDICT_OK,	 /* the check passed */
	HC_VERDICT_FAIL, /* it failed: the reason is in why */
	HC_VERDICT_MORE, /* undecided: wait for more of the response */
};

/*
 * Decide an HTTP check from the first len bytes of the response, which
 * are any bytes (not NUL-terminated, possibly containing NULs); only
 * the first HC_HTTP_MAX_RESPONSE of them are looked at. The status line
 * must be "HTTP/" digits "." digits, one or more spaces, exactly three
 * digits, then a space or the CRLF that ends the line. The check passes
 * when the status is expect_status and, if expect_body is not "", the
 * body (after the blank line) contains it. final: no more bytes will
 * come (the peer closed), so HC_VERDICT_MORE is never returned. On
 * failure why (whylen > 0) holds a NUL-terminated reason.
 */
#define HC_HTTP_MAX_RESPONSE (64 * 1024)
enum hc_verdict hc_http_verdict(const char *p, size_t len, bool final,
				unsigned int expect_status,
				const char *expect_body, char *why,
				size_t whylen);

/*
 * Decide a UDP check from one reply datagram buf[0..len): it passes if
 * expect[0..expect_len) occurs in it (any reply passes when expect_len
 * is 0). Never HC_VERDICT_MORE; on failure why holds the reason.
 */
enum hc_verdict hc_udp_verdict(const uint8_t *buf, size_t len,
			       const uint8_t *expect, size_t expect_len,
			       char *why, size_t whylen);

/* ---- runtime ----------------------------------------------------------- */

struct hc;

/* A read-only view of one target, for callbacks and dumps. */
struct hc_info {
	const char *service;
	const char *check;
	uint8_t type; /* enum cfg_check_type */
	struct lb_addr addr;
	uint16_t port;
	const struct hc_sm *sm;
	const char *last_error; /* of the last failure, "" if none */
};

/* Called on the loop when a target changes state. */
typedef void (*hc_change_fn)(void *arg, const struct hc_info *t, int state);
typedef void (*hc_foreach_fn)(void *arg, const struct hc_info *t);

/*
 * A checker on base; metrics (may be NULL) gets its families. NULL with
 * errno (ENOMEM, or EPROTO when TLS cannot be initialised).
 */
struct hc *hc_new(struct event_base *base, struct metrics *m, hc_change_fn cb,
		  void *arg);
void hc_free(struct hc *hc);

/*
 * Make the targets match c: one per backend of every service with a
 * healthcheck. Targets that stay keep their state (their parameters are
 * updated); new ones start UNKNOWN; others are cancelled and freed.
 * 0 or -ENOMEM (then the old targets are kept).
 */
int hc_sync(struct hc *hc, const struct cfg *c);

/* State of (service, backend); LB_HEALTH_UNKNOWN if it is not checked. */
int hc_state(const struct hc *hc, const char *service,
	     const struct lb_addr *addr, uint16_t port);

void hc_foreach(const struct hc *hc, hc_foreach_fn fn, void *arg);
unsigned int hc_count(const struct hc *hc);

#endif
