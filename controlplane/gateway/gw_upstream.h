/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Gateway upstreams: a named list of instances (address:port, weight) and
 * the L7 balancer that picks one for each request.
 *
 * Balancers are const ops structs registered by name (gw_balancer_find):
 *   rr          round robin over the available instances
 *   wrr         smooth weighted round robin (nginx's): over any window of
 *               sum(weight) picks each instance gets its weight's share
 *   least_conn  fewest requests in flight per unit of weight
 *   least_time  lowest moving average of response time (EWMA, 1/8 per
 *               sample) times (in flight + 1), per unit of weight
 *   ip_hash     the client address hashed onto the available instances
 *   hash        consistent hashing on a ring with virtual nodes (vnodes
 *               points per unit of weight) on hash_on: a header, a cookie,
 *               a query parameter or the client address; removing one of
 *               N instances moves only the keys it had (~1/N)
 *
 * Availability: an instance is picked only while it is healthy (active
 * health, a flag set from outside: gw_upstream_set_healthy) and not
 * ejected. Passive ejection: eject_after consecutive failures (5xx
 * answers or connect failures, reported by gw_upstream_done) eject it for
 * eject_base_ms, doubled on each further ejection of the same instance,
 * at most eject_max_ms; never more than eject_max_pct percent of the
 * instances (rounded down) are ejected at once. It returns by itself when
 * its time is up. Time is an argument (now_ms) so that tests drive it.
 *
 * Threads: an upstream may be used from several loops; its state is
 * guarded by its own mutex, held only inside these calls.
 */
#ifndef EDGELBD_GW_UPSTREAM_H
#define EDGELBD_GW_UPSTREAM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "edgelb/types.h"
#include "http.h"
#include "http_client.h"

#define GW_NAME_MAX	 64
#define GW_MAX_INSTANCES 256
#define GW_MAX_WEIGHT	 100
#define GW_MAX_VNODES	 1000
#define GW_MAX_POOL	 100000	    /* max_conns, max_idle_conns at most */
#define GW_POOL_DEFAULT	 UINT32_MAX /* pool key not set: the client's */

struct gw_upstream;

struct gw_balancer_ops {
	const char *name;
	bool hashed; /* needs the request's key hash */
	/* build state from the instances; 0 or -ENOMEM */
	int (*init)(struct gw_upstream *u);
	void (*fini)(struct gw_upstream *u);
	/* an available instance other than exclude (-1: none), or -1 */
	int (*pick)(struct gw_upstream *u, uint64_t hash, int exclude,
		    uint64_t now_ms);
};

/* The balancer called name, or NULL. */
const struct gw_balancer_ops *gw_balancer_find(const char *name);

enum gw_hash_on {
	GW_HASH_CLIENT, /* the client's address */
	GW_HASH_HEADER,
	GW_HASH_COOKIE,
	GW_HASH_QUERY,
};

struct gw_instance_conf {
	struct lb_addr addr;
	uint16_t port;
	uint32_t weight; /* 1 .. GW_MAX_WEIGHT */
};

struct gw_upstream_conf {
	char name[GW_NAME_MAX];
	const struct gw_balancer_ops *bal;
	enum gw_hash_on hash_on;
	char hash_key[GW_NAME_MAX]; /* header, cookie or parameter name */
	uint32_t vnodes;	    /* hash: ring points per unit of weight */
	enum http_client_proto proto;
	uint32_t eject_after; /* consecutive failures; 0: never eject */
	uint32_t eject_base_ms;
	uint32_t eject_max_ms;
	uint32_t eject_max_pct; /* 0 .. 100 */
	/* HTTP/1.1 connections per instance (busy or idle), and of them
	 * kept idle; GW_POOL_DEFAULT: the upstream client's defaults */
	uint32_t max_conns;
	uint32_t max_idle_conns;
	/* Envoy-style thresholds: requests waiting for a connection per
	 * instance and loop (beyond: 503), and requests in flight on the
	 * upstream from every loop (beyond: 503); 0: no bound */
	uint32_t max_pending;
	uint32_t max_requests;
	size_t ninst;
	struct gw_instance_conf inst[GW_MAX_INSTANCES];
};

/* Defaults: rr, hash on the client, 160 vnodes, HTTP/1.1, eject after 5
 * for 30 s doubling up to 300 s, at most 50 % ejected, the client's pool
 * sizes (GW_POOL_DEFAULT), max_pending GW_PENDING_DEFAULT, max_requests
 * none. */
#define GW_PENDING_DEFAULT 1024
#define GW_MAX_PENDING	   1000000 /* max_pending, max_requests at most */
void gw_upstream_conf_init(struct gw_upstream_conf *c, const char *name);

struct gw_instance_stats {
	uint64_t picks;
	uint64_t failures; /* 5xx and connect failures reported */
	uint64_t ejections;
};

struct gw_upstream_stats {
	uint64_t picks;
	uint64_t no_instance;	 /* nothing available */
	uint64_t connect_errors; /* reported GW_OUT_CONNECT */
	uint64_t resp_5xx;	 /* reported GW_OUT_5XX */
	uint64_t ejections;
	uint64_t eject_refused;	   /* over eject_max_pct: stayed in */
	uint64_t returns;	   /* ejections that ended */
	uint64_t pending_overflow; /* 503: max_pending already waiting */
	uint64_t max_requests;	   /* 503: max_requests in flight */
};

struct gw_instance {
	struct lb_addr addr;
	uint16_t port;
	uint32_t weight;
	char label[LB_ADDRPORTSTRLEN];
	/* state, under the upstream's mutex */
	bool healthy;
	uint32_t consec_fail;
	uint32_t ejections;
	uint64_t ejected_until; /* ms; 0: in */
	int64_t cw;		/* wrr: current weight */
	uint32_t inflight;
	uint64_t ewma_us; /* least_time; 0: no sample yet */
	struct gw_instance_stats st;
};

struct gw_upstream {
	struct gw_upstream_conf conf;
	const struct gw_balancer_ops *ops;
	pthread_mutex_t mu;
	size_t n;
	struct gw_instance *inst;
	void *bal;   /* the balancer's state */
	uint64_t rr; /* round-robin cursor */
	uint32_t nejected;
	struct gw_upstream_stats st;
	uint32_t active; /* atomic: requests in flight (max_requests) */
};

/* From a validated conf (at least one instance). NULL with errno EINVAL
 * or ENOMEM. */
struct gw_upstream *gw_upstream_new(const struct gw_upstream_conf *c);
void gw_upstream_free(struct gw_upstream *u);

/* A request starts on u (from any loop): false, counted, when
 * max_requests are in flight already; true: gw_upstream_leave when it
 * ends. */
bool gw_upstream_enter(struct gw_upstream *u);
void gw_upstream_leave(struct gw_upstream *u);
/* The client refused a request: max_pending wait already. */
void gw_upstream_pending_full(struct gw_upstream *u);

/*
 * The hash of a request's key per hash_on (FNV-1a 64, mixed). A missing
 * header, cookie or parameter falls back to the client's address.
 * Bounded by the message (every string is NUL-terminated by the parser).
 */
uint64_t gw_upstream_key_hash(const struct gw_upstream *u,
			      const struct http_msg *m,
			      const struct sockaddr *peer);
uint64_t gw_hash_bytes(const void *p, size_t n);

/*
 * Pick an instance: its index (in flight raised), or -EHOSTUNREACH when
 * none is available (every instance unhealthy, ejected or excluded).
 */
int gw_upstream_pick(struct gw_upstream *u, uint64_t hash, int exclude,
		     uint64_t now_ms);

enum gw_outcome {
	GW_OUT_OK,	 /* an answer below 500 */
	GW_OUT_5XX,	 /* an answer 500 .. 599 */
	GW_OUT_CONNECT,	 /* connect failed, refused, reset before a head */
	GW_OUT_CANCELED, /* the client went away: no verdict */
};

/* The request on idx ended: in flight lowered, response time (µs) fed
 * to least_time, failures counted towards ejection. */
void gw_upstream_done(struct gw_upstream *u, int idx, enum gw_outcome o,
		      uint64_t rtt_us, uint64_t now_ms);

/* Active health, set by the health checker. 0 or -ERANGE. */
int gw_upstream_set_healthy(struct gw_upstream *u, size_t idx, bool healthy);

/* Whether idx is in the pool now (healthy, not ejected). */
bool gw_upstream_available(struct gw_upstream *u, size_t idx, uint64_t now_ms);

/* A copy of the counters (under the mutex). */
void gw_upstream_stats_read(struct gw_upstream *u, struct gw_upstream_stats *s);

#endif
