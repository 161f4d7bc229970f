/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inside the cache filter (gw_cache.h): the store (sharded, LRU, size
 * bound, variants by Vary) and the HTTP caching rules, as pure functions
 * that take the time from the caller so that the unit tests drive them.
 */
#ifndef EDGELBD_GW_CACHE_PRIV_H
#define EDGELBD_GW_CACHE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_cache.h"
#include "http.h"

#define GW_CACHE_SHARDS	       16
#define GW_CACHE_BUCKETS       1024 /* hash buckets per shard, at first */
#define GW_CACHE_KEY_HDRS      8    /* key_headers of one filter */
#define GW_CACHE_VARY_MAX      8    /* header names of one Vary */
#define GW_CACHE_KEY_MAX       4096 /* bytes of a key (longer: BYPASS) */
#define GW_CACHE_ENTRY_HDRS    48   /* headers of an entry (more: not stored) */
#define GW_CACHE_VALIDATOR_MAX 256

/* ---- Cache-Control and validators -------------------------------------- */

struct gw_cc {
	bool no_store, no_cache, private_, public_, must_revalidate;
	int64_t max_age;	/* -1: absent */
	int64_t s_maxage;	/* -1: absent */
	int64_t stale_if_error; /* -1: absent */
};

void gw_cc_init(struct gw_cc *cc);
/* Add one Cache-Control header value to cc (directives are
 * case-insensitive; a bad or negative delta-seconds counts as 0; a
 * value over 2^31 is capped). */
void gw_cc_parse(struct gw_cc *cc, const char *v);

/* Is a response of this status stored (given explicit freshness or a
 * default ttl)? 200 203 204 300 301 308 404 405 410 414 501. */
bool gw_cache_status_ok(int status);

/* Does an If-None-Match value (a list, or "*") match etag? Weak
 * comparison (W/ ignored), as RFC 9110 13.1.2 wants for GET. */
bool gw_etag_match(const char *inm, const char *etag);

/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") as seconds since
 * 1970. 0 or -EINVAL. */
int gw_http_date(const char *s, int64_t *out);

/* ---- the store --------------------------------------------------------- */

struct gw_cache_conf {
	uint64_t max_bytes;	   /* total bound */
	uint64_t max_entry;	   /* body bound of one entry */
	uint32_t default_ttl_s;	   /* no freshness given: 0 not stored */
	uint32_t max_ttl_s;	   /* cap of any freshness */
	uint32_t stale_if_error_s; /* expired entries serve failures */
	size_t nkey_hdrs;
	char key_hdrs[GW_CACHE_KEY_HDRS][64];
};

/* One stored answer, immutable but for its freshness; held by the store
 * and by the answers that send it (references). */
struct gw_centry {
	struct gw_centry *hnext, *prev, *next; /* bucket, LRU */
	uint64_t hash;
	uint32_t refs;	/* atomic */
	bool linked;	/* in the store */
	bool vary_spec; /* only names the Vary headers of a key */
	int status;
	uint64_t stored_ns;	 /* monotonic */
	uint64_t fresh_until_ns; /* atomic: refreshed on a 304 */
	uint64_t ttl_ns;	 /* the freshness it was given */
	size_t cost;
	char *key;
	size_t klen;
	size_t path_off, path_len; /* the path inside key */
	size_t nvary;
	const char *vary[GW_CACHE_VARY_MAX]; /* vary_spec: lower case */
	size_t nh;
	struct http_header *h;
	const char *etag, *last_mod; /* NULL: none */
	char *body;
	size_t blen;
};

struct gw_cache;

/* NULL with errno ENOMEM. */
struct gw_cache *gw_cache_new(const struct gw_cache_conf *c);
void gw_cache_free(struct gw_cache *c);
const struct gw_cache_conf *gw_cache_conf(const struct gw_cache *c);

/*
 * The primary key of a request: "GET\nhost\npath?query\n" and each
 * key header "name:value\n" (HEAD looks up GET's entries). 0, -E2BIG
 * (over cap) or -EINVAL (no path).
 */
int gw_cache_key(const struct gw_cache_conf *c, const struct http_msg *m,
		 char *out, size_t cap, size_t *len);

/*
 * The entry for a request with this primary key (its variant when the
 * key has a Vary), fresh or not, with a reference (gw_cache_put), or
 * NULL. The LRU position is refreshed.
 */
struct gw_centry *gw_cache_get(struct gw_cache *c, const char *key, size_t klen,
			       const struct http_msg *m);
void gw_cache_put(struct gw_centry *e);

static inline bool
gw_centry_fresh(const struct gw_centry *e, uint64_t now_ns)
{
	return now_ns < __atomic_load_n(&e->fresh_until_ns, __ATOMIC_RELAXED);
}

/* What a stored answer is made of. */
struct gw_cache_put_in {
	const char *key; /* primary */
	size_t klen;
	const struct http_msg *req; /* for the Vary headers' values */
	int status;
	const struct http_header *h;
	size_t nh;
	const char *body;
	size_t blen;
	uint64_t now_ns;
	uint64_t ttl_ns;
};

/*
 * Store an answer (replacing the same key's, evicting the least recently
 * used of its shard for room). 0, -EFBIG (over max_entry or its shard's
 * share of max_bytes), -EINVAL (Vary: *, too many headers or Vary
 * names), -ENOMEM.
 */
int gw_cache_insert(struct gw_cache *c, const struct gw_cache_put_in *in);

/* The entry got a 304 to its validators: fresh again for its ttl. */
void gw_cache_refresh(struct gw_cache *c, struct gw_centry *e, uint64_t now_ns,
		      uint64_t ttl_ns);

/* The shard a key goes to (for tests of the LRU order). */
size_t gw_cache_shard_of(const char *key, size_t klen);
/* The longest hash chain of any shard (for tests: the buckets grow with
 * the entries). */
size_t gw_cache_longest_chain(struct gw_cache *c);

/* Drop the entries whose path starts with prefix (NULL: all). How many. */
uint64_t gw_cache_purge(struct gw_cache *c, const char *prefix);

/* Counters (the filter adds its own to st). */
void gw_cache_stats_get(struct gw_cache *c, struct gw_cache_stats *st);
struct gw_cache_stats *gw_cache_stats_ref(struct gw_cache *c);

/*
 * The freshness of an answer for a shared cache from its Cache-Control
 * (s-maxage, then max-age, then the default ttl; capped at max_ttl):
 * true and *ttl_ns when it may be stored (no-cache: stored with 0,
 * so it is revalidated before each use), false for no-store, private,
 * an unstorable status or no freshness at all.
 */
bool gw_cache_freshness(const struct gw_cache_conf *c, int status,
			const struct gw_cc *cc, uint64_t *ttl_ns);

#endif
