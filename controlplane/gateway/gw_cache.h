/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The gateway's response cache (filter type "cache") and degradation
 * (filter type "degrade"): what lbctl reaches from outside the filter
 * chain (docs/gateway.md, "Cache" and "Degradation").
 *
 * Cache filter instances belong to their route table (gw_filter.h) but
 * are also listed process-wide by filter name, so that `lbctl api cache
 * purge` and `stats` find the live ones. Forced degradation (`lbctl api
 * degrade ROUTE on`) is process-wide by route name and outlives table
 * rebuilds.
 */
#ifndef EDGELBD_GW_CACHE_H
#define EDGELBD_GW_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_cache_stats {
	uint64_t hits;	       /* answered from a fresh entry (HIT) */
	uint64_t misses;       /* no entry (MISS) */
	uint64_t expired;      /* an entry past its freshness (EXPIRED) */
	uint64_t bypass;       /* not looked up (BYPASS) */
	uint64_t stale;	       /* an expired entry served on failure (STALE) */
	uint64_t revalidated;  /* upstream said 304 to our validators */
	uint64_t not_modified; /* 304 answered to a client from the cache */
	uint64_t stores;       /* entries stored */
	uint64_t evictions;    /* entries dropped for room (LRU) */
	uint64_t purged;       /* entries dropped by lbctl */
	uint64_t too_big;      /* bodies over max_entry: not stored */
	uint64_t uncacheable;  /* answers not stored (status, Cache-Control) */
	uint64_t bytes;	       /* gauge: bytes held */
	uint64_t entries;      /* gauge */
	uint64_t max_bytes;    /* the bound */
};

/* Purge the entries whose path starts with prefix (NULL or "": all) in
 * every live cache filter named filter (NULL: every cache filter).
 * Returns how many entries went; *ninst: how many filters matched. */
uint64_t gw_cache_purge_all(const char *filter, const char *prefix,
			    size_t *ninst);

/* Each live cache filter's name and counters (one call per table's
 * instance: a filter used by two stages shows twice). */
void gw_cache_each(void (*fn)(void *arg, const char *name,
			      const struct gw_cache_stats *st),
		   void *arg);

/* Force a route into degradation (on) or let it go (off). 0, -ENOSPC
 * (GW_DEGRADE_FORCED_MAX routes forced), -EINVAL (bad name). */
#define GW_DEGRADE_FORCED_MAX 256
int gw_degrade_force(const char *route, bool on);

struct gw_degrade_stats {
	uint64_t passed;
	uint64_t shed;	    /* 503 by load shedding */
	uint64_t forced;    /* answered while forced by lbctl */
	uint64_t fallbacks; /* the static fallback body served */
};

/* The routes forced now; each live degrade filter's counters; the
 * process-wide requests in flight through degrade filters. */
void gw_degrade_each(void (*forced)(void *arg, const char *route),
		     void (*filter)(void *arg, const char *name,
				    uint32_t priority,
				    const struct gw_degrade_stats *st),
		     void *arg, uint64_t *inflight);

/*
 * lbctl's commands (gw_api_ctl.c passes them on), their answer added to
 * out (a cJSON object): `api.cache.purge` (filter, prefix: NULL for
 * all), `api.cache.stats`, `api.degrade` (route and state "on"/"off";
 * both NULL: only the state). 0 or -errno with err set.
 */
struct cJSON;
int gw_cache_ctl_purge(struct cJSON *out, const char *filter,
		       const char *prefix, char *err, size_t errlen);
int gw_cache_ctl_stats(struct cJSON *out, char *err, size_t errlen);
int gw_degrade_ctl(struct cJSON *out, const char *route, const char *state,
		   char *err, size_t errlen);

#endif
