/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `lbctl api cache purge|stats` and `lbctl api degrade` on the daemon's
 * side (gw_cache.h): the answers as JSON for gw_api_ctl.c's reply.
 */
#include <errno.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "gw_cache.h"
#include "edgelb/util.h"

int
gw_cache_ctl_purge(cJSON *out, const char *filter, const char *prefix,
		   char *err, size_t errlen)
{
	size_t ninst;
	uint64_t n;

	if (prefix != NULL && prefix[0] != '/')
		return lb_errf(err, errlen, -EINVAL,
			       "prefix \"%.64s\": a path starting with /",
			       prefix);
	n = gw_cache_purge_all(filter, prefix, &ninst);
	if (filter != NULL && ninst == 0)
		return lb_errf(err, errlen, -ENOENT,
			       "no cache filter \"%.64s\" in use", filter);
	cJSON_AddStringToObject(out, "filter", filter != NULL ? filter : "*");
	cJSON_AddStringToObject(out, "prefix", prefix != NULL ? prefix : "/");
	cJSON_AddNumberToObject(out, "caches", (double)ninst);
	cJSON_AddNumberToObject(out, "purged", (double)n);
	return 0;
}

static void
add_cache(void *arg, const char *name, const struct gw_cache_stats *st)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return;
	cJSON_AddStringToObject(o, "filter", name);
#define N(f) cJSON_AddNumberToObject(o, #f, (double)st->f)
	N(hits);
	N(misses);
	N(expired);
	N(bypass);
	N(stale);
	N(revalidated);
	N(not_modified);
	N(stores);
	N(evictions);
	N(purged);
	N(too_big);
	N(uncacheable);
	N(bytes);
	N(entries);
	N(max_bytes);
#undef N
	cJSON_AddItemToArray(arg, o);
}

int
gw_cache_ctl_stats(cJSON *out, char *err, size_t errlen)
{
	cJSON *arr = cJSON_AddArrayToObject(out, "caches");

	if (arr == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	gw_cache_each(add_cache, arr);
	return 0;
}

struct dg_out {
	cJSON *forced, *filters;
};

static void
add_forced(void *arg, const char *route)
{
	struct dg_out *o = arg;

	cJSON_AddItemToArray(o->forced, cJSON_CreateString(route));
}

static void
add_filter(void *arg, const char *name, uint32_t priority,
	   const struct gw_degrade_stats *st)
{
	struct dg_out *o = arg;
	cJSON *f = cJSON_CreateObject();

	if (f == NULL)
		return;
	cJSON_AddStringToObject(f, "filter", name);
	cJSON_AddNumberToObject(f, "priority", priority);
	cJSON_AddNumberToObject(f, "passed", (double)st->passed);
	cJSON_AddNumberToObject(f, "shed", (double)st->shed);
	cJSON_AddNumberToObject(f, "forced", (double)st->forced);
	cJSON_AddNumberToObject(f, "fallbacks", (double)st->fallbacks);
	cJSON_AddItemToArray(o->filters, f);
}

int
gw_degrade_ctl(cJSON *out, const char *route, const char *state, char *err,
	       size_t errlen)
{
	struct dg_out o;
	uint64_t inflight;
	int rc;

	if ((route == NULL) != (state == NULL))
		return lb_errf(err, errlen, -EINVAL,
			       "degrade needs a route and on or off");
	if (state != NULL) {
		bool on = strcmp(state, "on") == 0;

		if (!on && strcmp(state, "off") != 0)
			return lb_errf(err, errlen, -EINVAL,
				       "state \"%.16s\": on or off", state);
		rc = gw_degrade_force(route, on);
		if (rc == -ENOSPC)
			return lb_errf(err, errlen, rc,
				       "at most %d routes forced",
				       GW_DEGRADE_FORCED_MAX);
		if (rc < 0)
			return lb_errf(err, errlen, rc, "bad route name");
		cJSON_AddStringToObject(out, "route", route);
		cJSON_AddBoolToObject(out, "degraded", on);
	}
	o.forced = cJSON_AddArrayToObject(out, "forced");
	o.filters = cJSON_AddArrayToObject(out, "filters");
	if (o.forced == NULL || o.filters == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	gw_degrade_each(add_forced, add_filter, &o, &inflight);
	cJSON_AddNumberToObject(out, "inflight", (double)inflight);
	return 0;
}
