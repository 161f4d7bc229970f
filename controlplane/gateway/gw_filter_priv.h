/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inside the filter chain (gw_filter.h): the ops a filter type fills in,
 * the helpers its hooks call on the request state, and the parts of the
 * filters that the unit tests and the fuzz target drive directly (the
 * rate-limit algorithms and limiter, the breaker, JWT verification).
 */
#ifndef EDGELBD_GW_FILTER_PRIV_H
#define EDGELBD_GW_FILTER_PRIV_H

#include <pthread.h>
#include <sys/queue.h>

#include "gw_filter.h"

#define GW_FSCRATCH 4 /* per-request words of one filter */

/*
 * A filter type. Hooks get the instance (create's), the route state
 * (attach's, NULL without attach) and the request's scratch words of
 * this filter (zeroed at the start).
 */
struct gw_filter_ops {
	const char *type;
	/* One key's syntax at configuration time: 0, -ENOENT (unknown
	 * key) or -EINVAL with the reason in why. */
	int (*check_key)(const char *key, const char *value, char *why,
			 size_t whylen);
	/* The instance from the section's keys (files read now). NULL
	 * with err naming the key and reason. */
	void *(*create)(const struct gw_filter_conf *c, char *err,
			size_t errlen);
	void (*destroy)(void *inst);
	/* State for one route using it (the breaker's per upstream), or
	 * NULL. 0 or -errno with err. May be NULL. */
	int (*attach)(void *inst, struct gw_route *r, void **rstate, char *err,
		      size_t errlen);
	enum gw_fverdict (*pre)(void *inst, void *rstate, struct gw_freq *f,
				const struct gw_freq_in *in, uint64_t *scratch);
	/* the upstream's response head (may be NULL) */
	void (*post)(void *inst, void *rstate, struct gw_freq *f, int status,
		     uint64_t now_ns, uint64_t *scratch);
	/* the request ended; only after this filter's pre ran (may be
	 * NULL). answered: this filter's pre answered it. */
	void (*done)(void *inst, void *rstate, const struct gw_fdone *d,
		     bool answered, uint64_t *scratch);
	/* a piece of the response body (gw_freq_body; may be NULL) */
	void (*body)(void *inst, void *rstate, struct gw_freq *f, const char *p,
		     size_t n, uint64_t *scratch);
	/* the request is failing with status (>= 500: an answer of a
	 * later filter, the upstream's 5xx or our 502/503/504): answer
	 * instead with gw_freq_set_answer and return true (may be NULL) */
	bool (*fallback)(void *inst, void *rstate, struct gw_freq *f,
			 int status, uint64_t now_ns, uint64_t *scratch);
	/* the instance's own counters into c (at most GW_FCOUNTERS_MAX),
	 * how many (may be NULL) */
	size_t (*counters)(void *inst, struct gw_fcounter *c);
	/* once every route's chain is built: find the routes the instance
	 * names (the degrade filter's fallback_route) among routes[0..n).
	 * 0 or -EINVAL with err. May be NULL. */
	int (*link)(void *inst, struct gw_route *routes, size_t n, char *err,
		    size_t errlen);
};

const struct gw_filter_ops *gw_filter_find(const char *type);

extern const struct gw_filter_ops gw_filter_apikey;
extern const struct gw_filter_ops gw_filter_jwt;
extern const struct gw_filter_ops gw_filter_hmac;
extern const struct gw_filter_ops gw_filter_ratelimit;
extern const struct gw_filter_ops gw_filter_breaker;
extern const struct gw_filter_ops gw_filter_cache;
extern const struct gw_filter_ops gw_filter_degrade;
extern const struct gw_filter_ops gw_filter_transform;

/* ---- helpers for hooks ----------------------------------------------------- */

/* Answer the request: status, reason (counted), an optional detail for
 * the JSON body ("" none). Returns GW_FV_ANSWER. */
enum gw_fverdict gw_freq_reject(struct gw_freq *f, int status,
				enum gw_freason why, const char *detail);
/* A header on the direct answer or, if the request passes, on the
 * upstream's answer. 0 or -ENOSPC (dropped). */
int gw_freq_add_hdr(struct gw_freq *f, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The direct answer's body instead of the JSON error (copied, at most
 * GW_FILTER_VALUE_MAX - 1 bytes), with its Content-Type. */
void gw_freq_set_body(struct gw_freq *f, const char *ctype, const char *body);
/* Hold the request this long before the upstream pick (the longest
 * asked for by any filter counts). */
void gw_freq_set_delay(struct gw_freq *f, uint32_t ms);
/* Set the consumer (truncated to GW_NAME_MAX - 1) and the header it is
 * forwarded in (NULL: "X-Consumer"). */
void gw_freq_set_consumer(struct gw_freq *f, const char *consumer,
			  const char *header);
/* Declare the header name that carries the consumer upstream, so that
 * client copies are removed even when authentication fails open. */
void gw_freq_consumer_header(struct gw_freq *f, const char *header);
const struct gw_route *gw_freq_route(const struct gw_freq *f);
/* The verdict of a pre hook that returned GW_FV_PENDING (its answer's
 * headers and reject already set on f): the chain goes on and the
 * request's resume is called. Once, on the request's loop, and never
 * after the filter's done hook ran. */
void gw_freq_resume(struct gw_freq *f, enum gw_fverdict v, uint64_t now_ns);
/*
 * Answer with a whole response whose headers and body the filter keeps
 * alive until its done hook (a cache entry's): the headers added with
 * gw_freq_add_hdr follow h. Only the first answer set counts (the others
 * return GW_FV_ANSWER and change nothing). why is counted when a pre
 * hook returns it. GW_FV_ANSWER, or GW_FV_PASS when no memory was left
 * for the headers (nothing set).
 */
enum gw_fverdict gw_freq_set_answer(struct gw_freq *f, int status,
				    enum gw_freason why,
				    const struct http_header *h, size_t nh,
				    const char *body, size_t len);
/* Has an answer been set (gw_freq_set_answer)? */
bool gw_freq_has_answer(const struct gw_freq *f);
/* In a post hook: the response's headers as they go to the client
 * (hop-by-hop removed, the route's rewrites done). */
const struct http_header *gw_freq_resp_headers(const struct gw_freq *f,
					       size_t *n);
/* A request header to forward: every client copy of name is removed and,
 * when value is not NULL, value (copied, at most GW_FREQ_RQ_MAX - 1
 * bytes) sent instead. At most GW_FREQ_RQ headers; 0 or -ENOSPC. name
 * must be static text. */
#define GW_FREQ_RQ     2
#define GW_FREQ_RQ_MAX 256
int gw_freq_set_req_hdr(struct gw_freq *f, const char *name, const char *value);

/*
 * A header edit of a transform, applied after the other filters' (the
 * request's in gw_freq_req_headers, the response's in gw_freq_post): add
 * appends, set removes every header of that name then appends, remove
 * removes. name must live as long as the table (a filter's config);
 * value is copied. At most GW_FREQ_EDITS edits and GW_FREQ_EDIT_BUF
 * bytes of values per request: 0, -ENOSPC or -ENOMEM.
 */
#define GW_FREQ_EDITS	 32
#define GW_FREQ_EDIT_BUF 4096
int gw_freq_edit_hdr(struct gw_freq *f, bool response, enum gw_hdr_op op,
		     const char *name, const char *value);
/* Send this path and query (NULL: none) upstream instead of the
 * client's (gw_freq_path). Copied; 0 or -ENOMEM. */
int gw_freq_set_target(struct gw_freq *f, const char *path, const char *query);

/*
 * The live instances of a filter type, process-wide (the cache's and
 * degradation's, which lbctl reaches outside any table): an instance
 * puts its entry in at create and takes it out at destroy; each walks
 * them under the list's lock.
 */
struct gw_flive {
	LIST_ENTRY(gw_flive) link;
	void *inst;
};
struct gw_flive_list {
	pthread_mutex_t mu;
	LIST_HEAD(, gw_flive) head;
};
#define GW_FLIVE_LIST_INIT(l)                                                  \
	{                                                                      \
		PTHREAD_MUTEX_INITIALIZER, LIST_HEAD_INITIALIZER((l).head)     \
	}
void gw_flive_add(struct gw_flive_list *l, struct gw_flive *e, void *inst);
void gw_flive_del(struct gw_flive_list *l, struct gw_flive *e);
void gw_flive_each(struct gw_flive_list *l, void (*fn)(void *arg, void *inst),
		   void *arg);

/* In a pre hook that passes: the request is served by route r instead
 * (its action, upstream, rewrites and timeouts), keeping the filters it
 * passed (the degrade filter's fallback_route). */
void gw_freq_reroute(struct gw_freq *f, struct gw_route *r);

/* Shared key-value parsing for the filter types. */
int gw_fparse_u32(const char *v, uint32_t lo, uint32_t hi, uint32_t *out);
int gw_fparse_bool(const char *v, bool *out);
bool gw_fis_token(const char *s);
/* Read a whole small file (at most max bytes) into a NUL-terminated
 * malloc'd buffer. 0 or -errno (-EFBIG over max). */
int gw_fread_file(const char *path, size_t max, char **out, size_t *len);

/* base64url without padding (RFC 7515 2). Decoded length, or -EINVAL. */
int gw_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap);
/* hex of n bytes into out (2n + 1) */
void gw_hex(const uint8_t *in, size_t n, char *out);

/* ---- rate limiting ---------------------------------------------------------- */

enum gw_rl_alg {
	GW_RL_TOKEN_BUCKET,
	GW_RL_FIXED_WINDOW,
	GW_RL_SLIDING_WINDOW,
	GW_RL_LEAKY_BUCKET,
};

struct gw_rl_conf {
	enum gw_rl_alg alg;
	uint32_t limit;	    /* requests per period */
	uint64_t period_us; /* the period */
	uint32_t burst;	    /* token: capacity (0: limit); leaky: excess */
	/* leaky: delay requests whose excess passes delay_after (nginx's
	 * limit_req delay=N), each by (excess - delay_after) / rate, at
	 * most max_delay_us (past it: refused) */
	bool delay;
	uint32_t delay_after;
	uint64_t max_delay_us;
};

/* One key's state; zero is "never seen". */
struct gw_rl_state {
	uint64_t t_us; /* token/leaky: last update; windows: window start */
	double a;      /* tokens, excess, or this window's count */
	double b;      /* sliding: the previous window's count */
	bool init;
};

struct gw_rl_result {
	bool allowed;
	uint32_t limit;
	uint32_t remaining;
	uint32_t reset_s;	/* until the quota is whole again (windows:
				 * the window's end) */
	uint32_t retry_after_s; /* refused: when to try again (>= 1) */
	uint64_t delay_us;	/* allowed: wait this long first (leaky) */
};

/* One decision at now_us on s (the pure algorithm; no lock). */
void gw_rl_step(const struct gw_rl_conf *c, struct gw_rl_state *s,
		uint64_t now_us, struct gw_rl_result *r);

/*
 * A limiter: where the state of the keys lives. "local" keeps it in
 * this process (a sharded table with a mutex per shard, LRU-bounded,
 * idle keys expire); a cluster-wide one (Redis) fills the same ops.
 */
struct gw_limiter_ops {
	const char *name;
	void *(*create)(const struct gw_rl_conf *c, size_t max_keys,
			uint64_t idle_us);
	void (*destroy)(void *lim);
	/* 0, or -ENOMEM (no entry could be made: the caller decides) */
	int (*decide)(void *lim, const char *key, size_t klen, uint64_t now_us,
		      struct gw_rl_result *r);
	size_t (*nkeys)(void *lim);
};

extern const struct gw_limiter_ops gw_limiter_local;

/* ---- circuit breaking --------------------------------------------------------- */

enum gw_cb_state {
	GW_CB_CLOSED,
	GW_CB_OPEN,
	GW_CB_HALF_OPEN,
};

#define GW_CB_BUCKETS 10

struct gw_cb_conf {
	uint32_t failure_pct; /* open at >= this share of failures; 0 off */
	uint32_t slow_pct;    /* open at >= this share of slow calls; 0 off */
	uint32_t slow_ms;     /* a call slower than this is slow */
	uint32_t window_ms;   /* the sliding window (GW_CB_BUCKETS parts) */
	uint32_t min_calls;   /* calls in the window before ratios count */
	uint32_t consecutive; /* open after this many failures; 0 off */
	uint32_t open_ms;     /* first open time */
	uint32_t max_open_ms; /* cap of the doubling */
	uint32_t half_open_calls; /* probes let through half-open */
	uint32_t max_active;	  /* requests in flight; 0 no limit */
};

struct gw_cb_stats {
	uint64_t opened, closed, half_opened, rejected, rejected_active;
	uint64_t calls, failures, slow;
};

struct gw_breaker {
	struct gw_cb_conf conf;
	pthread_mutex_t mu;
	enum gw_cb_state state;
	uint64_t open_until_ns;
	uint32_t cur_open_ms;
	uint32_t consec;
	uint32_t probes_out, probes_ok;
	uint32_t active;
	uint64_t bucket_t0[GW_CB_BUCKETS]; /* each bucket's start (ms) */
	uint32_t calls[GW_CB_BUCKETS], fails[GW_CB_BUCKETS],
		slows[GW_CB_BUCKETS];
	struct gw_cb_stats st;
};

enum gw_cb_admit {
	GW_CB_ADMIT,	   /* closed: go */
	GW_CB_ADMIT_PROBE, /* half-open: go as a probe */
	GW_CB_REJECT_OPEN,
	GW_CB_REJECT_ACTIVE,
};

void gw_breaker_init(struct gw_breaker *b, const struct gw_cb_conf *c);
void gw_breaker_fini(struct gw_breaker *b);
/* May a call go now? Admitted calls must be reported (gw_breaker_report
 * or gw_breaker_release). *retry_ms: for a rejection, the open time left. */
enum gw_cb_admit gw_breaker_admit(struct gw_breaker *b, uint64_t now_ns,
				  uint32_t *retry_ms);
/* An admitted call ended: failed or not, took dur_ms. */
void gw_breaker_report(struct gw_breaker *b, enum gw_cb_admit how, bool failed,
		       uint64_t dur_ms, uint64_t now_ns);
/* An admitted call ended without a verdict (not sent, client went). */
void gw_breaker_release(struct gw_breaker *b, enum gw_cb_admit how);
enum gw_cb_state gw_breaker_state(struct gw_breaker *b, uint64_t now_ns);

/* ---- JWT -------------------------------------------------------------------- */

struct gw_jwt;
/* The jwt filter's verifier alone (for tests and the fuzz target):
 * 0 and the consumer, or the reason. */
int gw_jwt_verify(void *jwt_inst, const char *token, size_t len, int64_t now_s,
		  char *consumer, size_t clen, enum gw_freason *why);

#endif
