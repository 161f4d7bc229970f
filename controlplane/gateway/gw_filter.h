/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The gateway's filter chain: what runs around each proxied request.
 *
 * A filter type is a const ops struct registered by name (gw_filter_find,
 * like gw_balancer_find): "apikey", "jwt", "hmac" (authentication),
 * "ratelimit" (local limits), "breaker" (circuit breaking per
 * upstream), "cache", "degrade" and "transform" (request and response
 * rewrites). A filter is declared once in a [filter NAME] section
 * (`type = TYPE` first, then the type's keys) and used by routes through
 * `filters = NAME[, NAME...]`, in that order.
 *
 * Per request (struct gw_freq): every pre hook runs in order on the
 * request head, before the upstream pick. A pre hook either passes or
 * answers directly (401, 403, 429, 503: a small JSON body and headers);
 * an answer skips the rest of the chain and the upstream, and its reason
 * is counted on that route's filter. On the upstream's response head the
 * post hooks add their headers (the remaining quota, ...). When the
 * request ends, every filter whose pre ran learns the outcome (done):
 * the breaker counts it, limits release what they hold.
 *
 * The authenticated consumer is kept in the request state for later
 * filters (a rate limit keyed by consumer) and forwarded upstream in a
 * header (X-Consumer unless the auth filter says otherwise); copies of
 * that header sent by the client are removed.
 *
 * State: filter instances belong to the route table (gw_filter_set,
 * built and freed with it); a new table starts limits and breakers
 * afresh. Instances are shared by every loop thread: their state is
 * guarded by their own locks, the counters are relaxed atomics.
 *
 * Time: the caller passes the clocks in (struct gw_freq_in), so tests
 * drive them.
 */
#ifndef EDGELBD_GW_FILTER_H
#define EDGELBD_GW_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;

#include "gw_route.h"
#include "http.h"

#define GW_FILTER_KEYS	      48  /* key lines of one [filter] section */
#define GW_FILTER_VALUE_MAX   320 /* one key's value */
#define GW_MAX_FILTER_CONFS   256
#define GW_FILTER_ANSWER_HDRS 8 /* headers of a direct answer */
#define GW_FILTER_RESP_HDRS   8 /* headers added to an upstream answer */

/* Why a filter answered; counted per route and filter. */
enum gw_freason {
	GW_FR_NO_CREDENTIALS, /* 401: nothing presented */
	GW_FR_MALFORMED,      /* 401: unparsable token/header */
	GW_FR_UNKNOWN_KEY,    /* 401: API key, kid or key id not known */
	GW_FR_BAD_SIGNATURE,  /* 401 */
	GW_FR_WRONG_ALG,      /* 401: not the key's pinned algorithm */
	GW_FR_EXPIRED,	      /* 401: exp */
	GW_FR_NOT_YET_VALID,  /* 401: nbf */
	GW_FR_WRONG_ISSUER,   /* 401: iss */
	GW_FR_WRONG_AUDIENCE, /* 401: aud */
	GW_FR_DATE_WINDOW,    /* 401: HMAC Date outside the window */
	GW_FR_BODY_HASH,      /* 401: HMAC body hash missing or wrong */
	GW_FR_FORBIDDEN,      /* 403: consumer not allowed on the route */
	GW_FR_RATE_LIMITED,   /* 429 */
	GW_FR_BREAKER_OPEN,   /* 503: open, or half-open probes taken */
	GW_FR_MAX_ACTIVE,     /* 503: max_active requests on the upstream */
	GW_FR_NOMEM,	      /* 503: could not keep state */
	GW_FR_STORE_DOWN,     /* 503: limit store down (fail_closed) */
	GW_FR_CACHE_HIT,      /* 200/304 from the cache (gw_cache.h) */
	GW_FR_SHED,	      /* 503: load shedding (degrade) */
	GW_FR_DEGRADED,	      /* 503 or fallback: degraded by lbctl */
	GW_FR_TRANSFORM,      /* 414/500: a transform could not be applied */
	GW_FR_MAX,
};

/* Short text of a reason ("token expired"). */
const char *gw_freason_text(enum gw_freason r);
/* Counter label of a reason ("expired"). */
const char *gw_freason_label(enum gw_freason r);

/* ---- configuration ---------------------------------------------------- */

struct gw_filter_ops;

/* One [filter NAME] section, kept as its key lines (checked as they
 * come; the instance parses them again at build). */
struct gw_filter_conf {
	char name[GW_NAME_MAX];
	const struct gw_filter_ops *ops;
	size_t nkeys;
	struct {
		char key[32];
		char value[GW_FILTER_VALUE_MAX];
	} kv[GW_FILTER_KEYS];
};

/*
 * One key of a [filter NAME] section into c (called by gw_conf_key).
 * `type` must come first. 0, or -EINVAL / -ENOSPC / -ENOMEM with err
 * naming the filter, the key and the reason.
 */
int gw_filter_conf_key(struct gw_conf *c, const char *name, const char *key,
		       const char *value, char *err, size_t errlen);

/* ---- the set of instances of one table ---------------------------------- */

struct gw_filter_set;

/* gw_filter_set_build and _free: declared in gw_route.h (its builder). */

/* ---- per request -------------------------------------------------------- */

struct gw_freq;

enum gw_fverdict {
	GW_FV_PASS,
	GW_FV_ANSWER,  /* gw_freq_answer tells the answer */
	GW_FV_PENDING, /* a filter waits for an answer: resume is called */
};

/* What the pre hooks see (m and peer must live until the request ends). */
struct gw_freq_in {
	const struct http_msg *m;
	const struct sockaddr *peer; /* NULL: unknown */
	uint64_t now_ns;	     /* CLOCK_MONOTONIC */
	int64_t wall_s;		     /* CLOCK_REALTIME (exp, nbf, Date) */
	/* the request's loop and, after GW_FV_PENDING, the call with the
	 * chain's final verdict (PASS or ANSWER) once the waiting filter
	 * has its answer; not called if the request ends first (done).
	 * NULL base: no filter may wait (each decides at once). */
	struct event_base *base;
	void (*resume)(void *arg, enum gw_fverdict v);
	void *resume_arg;
	/* how late the request's loop runs its timers now (gw_lag_now);
	 * 0: not measured */
	uint64_t loop_lag_ns;
};

/* The request's chain state, or NULL when the route has none (every
 * call below accepts NULL and does nothing). NULL with errno ENOMEM
 * for a route with a chain. */
struct gw_freq *gw_freq_new(const struct gw_route *r);

/* The pre hooks, in order, until one answers or waits (GW_FV_PENDING:
 * in->resume tells the rest, on the request's loop). */
enum gw_fverdict gw_freq_pre(struct gw_freq *f, const struct gw_freq_in *in);

/* The direct answer after GW_FV_ANSWER: status, headers (valid while f
 * lives) and a JSON body {"error":...,"reason":...,"route":...,
 * "filter":...}. */
void gw_freq_answer(const struct gw_freq *f, int *status,
		    const struct http_header **h, size_t *nh, const char **body,
		    size_t *len);

/*
 * Request headers to forward: in hdrs[0..*n) (at most cap), the
 * consumer header is removed and, after authentication, set to the
 * consumer; then a transform's request header edits are applied. 0 or
 * -E2BIG.
 */
int gw_freq_req_headers(struct gw_freq *f, struct http_header *hdrs, size_t *n,
			size_t cap);

/* The upstream's response head: the post hooks run; their headers are
 * appended to hdrs[0..*n) (at most cap), then a transform's response
 * header edits are applied. 0, -E2BIG, or 1: a filter
 * answers instead of this response (a cache entry revalidated by a 304,
 * or a fallback for a 5xx): send gw_freq_answer's and drop the
 * upstream's. */
int gw_freq_post(struct gw_freq *f, int status, uint64_t now_ns,
		 struct http_header *hdrs, size_t *n, size_t cap);

/* A piece of the upstream's response body as it goes to the client
 * (after gw_freq_post returned 0); p NULL and n 0: the body ended
 * whole. */
void gw_freq_body(struct gw_freq *f, const char *p, size_t n);

/* The request fails with our own status (502, 503, 504) before an
 * upstream head: true when a filter answers instead (a stale cache
 * entry, a static fallback), then send gw_freq_answer's. */
bool gw_freq_fallback(struct gw_freq *f, int status, uint64_t now_ns);

/* How a request ended, for done. */
struct gw_fdone {
	bool forwarded; /* an upstream attempt was made */
	int status;	/* the answer's status; 0: none (client went) */
	bool failed;	/* 5xx, connect failure or timeout from upstream */
	uint64_t now_ns;
};

/* The request ended: done hooks of the filters whose pre ran, then f is
 * freed. */
void gw_freq_done(struct gw_freq *f, const struct gw_fdone *d);

/* The path and the query (NULL: none) to send upstream: a transform's
 * (gw_transform.c), or the ones given (the client's). */
const char *gw_freq_path(const struct gw_freq *f, const char *path);
const char *gw_freq_query(const struct gw_freq *f, const char *query);

/* The route that serves the request instead of its own (a degrade
 * filter's fallback_route), or NULL. */
struct gw_route *gw_freq_rerouted(const struct gw_freq *f);

/* How long the request must wait before its upstream pick, in ms (a
 * leaky bucket's delay); 0: none. */
uint32_t gw_freq_delay_ms(const struct gw_freq *f);

/* The authenticated consumer, or NULL. */
const char *gw_freq_consumer(const struct gw_freq *f);

/*
 * An event loop's lag (gw_degrade.c; the proxy keeps one per loop): a
 * timer due every period runs late by as much as the loop was busy.
 * gw_lag_tick is the timer's callback at now: its lateness is a sample;
 * gw_lag_now is the loop's lag at now: the largest sample less the time
 * since it was taken (a stall's backlog drains in real time), or more
 * while the next tick is overdue (a loop stuck now). Times in ns.
 */
struct gw_lag {
	uint64_t period_ns;
	uint64_t due_ns;
	uint64_t tick_ns; /* the last tick */
	uint64_t sample_ns;
};
void gw_lag_start(struct gw_lag *l, uint64_t period_ns, uint64_t now_ns);
void gw_lag_tick(struct gw_lag *l, uint64_t now_ns);
uint64_t gw_lag_now(const struct gw_lag *l, uint64_t now_ns);

/* ---- counters ------------------------------------------------------------- */

struct gw_filter_stats {
	uint64_t passed;
	uint64_t answered;
	uint64_t reasons[GW_FR_MAX];
};

/* A counter of a filter instance of its own (the cache's hits, the
 * transform's errors), exported as edgelbd_gateway_NAME{stage,filter[,
 * label]}. */
struct gw_fcounter {
	const char *name; /* "cache_hits_total" */
	const char *help;
	const char *lkey, *lval; /* an extra label; lkey NULL: none */
	bool gauge;
	uint64_t v;
};
#define GW_FCOUNTERS_MAX 32 /* of one instance */

/* Each filter instance of t's chains once (a filter used by several
 * routes once): its name and counters (n 0 for a type without any). */
struct gw_table;
void gw_filters_each(const struct gw_table *t,
		     void (*fn)(void *arg, const char *name, const char *type,
				const struct gw_fcounter *c, size_t n),
		     void *arg);

/* The route's chain length, and its i-th filter's name and counters
 * (NULL past the end). */
size_t gw_route_nfilters(const struct gw_route *r);
const char *gw_route_filter_name(const struct gw_route *r, size_t i);
const char *gw_route_filter_type(const struct gw_route *r, size_t i);
const struct gw_filter_stats *gw_route_filter_stats(const struct gw_route *r,
						    size_t i);

#endif
