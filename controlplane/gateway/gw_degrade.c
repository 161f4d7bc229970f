/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The "degrade" filter (docs/gateway.md, "Degradation"):
 *   - load shedding: the requests in flight through every degrade filter
 *     of the process are counted (pre that passes to done); a route whose
 *     filter has priority P is shed (503, Retry-After) while that count
 *     is at least max_inflight + P * shed_step, so the lowest priorities
 *     go first as the load grows; likewise while the request's event
 *     loop lags (gw_lag: its timer runs late) by at least
 *     max_lag_ms + P * lag_step_ms;
 *   - a smaller route: with fallback_route, a request that would be shed
 *     or is forced is served by that route instead (a cheaper endpoint),
 *     keeping the filters it passed;
 *   - forced degradation: a route forced by `lbctl api degrade ROUTE on`
 *     answers 503 with Retry-After, or its fallback;
 *   - fallback: when the request fails (forced, the breaker open, the
 *     upstream's 5xx, our 502/503/504) and no filter before it had one
 *     (a stale cache entry), the static body of the filter answers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_cache.h"
#include "gw_filter_priv.h"
#include "edgelb/util.h"

#define STAT_ADD(field, v) __atomic_add_fetch(&(field), (v), __ATOMIC_RELAXED)
#define READ(field)	   __atomic_load_n(&(field), __ATOMIC_RELAXED)
#define FALLBACK_FILE_MAX  (64 * 1024)

struct dg_filter {
	struct gw_flive live; /* in the live list */
	char name[GW_NAME_MAX];
	uint32_t priority, max_inflight, shed_step, retry_after;
	uint32_t max_lag_ms, lag_step_ms;
	char fb_route_name[GW_NAME_MAX]; /* "": none */
	struct gw_route *fb_route;	 /* found at link */
	uint64_t shed_lag, rerouted;	 /* atomic; st.shed counts both */
	int fb_status;			 /* 0: no fallback */
	char fb_type[128];
	char *fb_body;
	size_t fb_len;
	struct http_header fb_h[1];
	struct gw_degrade_stats st;
};

struct dg_conf {
	uint32_t priority, max_inflight, shed_step, retry_after, fb_status;
	uint32_t max_lag_ms, lag_step_ms;
	char fb_route[GW_NAME_MAX];
	char fb_type[128];
	char fb_body[GW_FILTER_VALUE_MAX];
	char fb_file[GW_FILTER_VALUE_MAX];
};

static pthread_mutex_t dg_mu = PTHREAD_MUTEX_INITIALIZER; /* forced[] */
static struct gw_flive_list live = GW_FLIVE_LIST_INIT(live);
static uint64_t inflight; /* atomic */
static uint32_t nforced;  /* atomic, for the fast path */
static char forced[GW_DEGRADE_FORCED_MAX][GW_NAME_MAX];

/* ---- forced routes -------------------------------------------------------- */

int
gw_degrade_force(const char *route, bool on)
{
	size_t n = strlen(route);
	int rc = 0;
	uint32_t i, k;

	if (n == 0 || n >= GW_NAME_MAX)
		return -EINVAL;
	pthread_mutex_lock(&dg_mu);
	k = __atomic_load_n(&nforced, __ATOMIC_RELAXED);
	for (i = 0; i < k; i++)
		if (strcmp(forced[i], route) == 0)
			break;
	if (on && i == k) {
		if (k >= GW_DEGRADE_FORCED_MAX) {
			rc = -ENOSPC;
		} else {
			memcpy(forced[k], route, n + 1);
			__atomic_store_n(&nforced, k + 1, __ATOMIC_RELEASE);
		}
	} else if (!on && i < k) {
		memcpy(forced[i], forced[k - 1], GW_NAME_MAX);
		__atomic_store_n(&nforced, k - 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&dg_mu);
	return rc;
}

static bool
is_forced(const char *route)
{
	bool yes = false;

	if (__atomic_load_n(&nforced, __ATOMIC_ACQUIRE) == 0)
		return false;
	pthread_mutex_lock(&dg_mu);
	for (uint32_t i = 0; i < nforced && !yes; i++)
		yes = strcmp(forced[i], route) == 0;
	pthread_mutex_unlock(&dg_mu);
	return yes;
}

static void
stats_read(const struct dg_filter *f, struct gw_degrade_stats *st)
{
	st->passed = READ(f->st.passed);
	st->shed = READ(f->st.shed);
	st->forced = READ(f->st.forced);
	st->fallbacks = READ(f->st.fallbacks);
}

struct each_arg {
	void (*filter)(void *arg, const char *name, uint32_t priority,
		       const struct gw_degrade_stats *st);
	void *arg;
};

static void
each_one(void *arg, void *inst)
{
	struct each_arg *a = arg;
	struct dg_filter *f = inst;
	struct gw_degrade_stats st;

	stats_read(f, &st);
	a->filter(a->arg, f->name, f->priority, &st);
}

void
gw_degrade_each(void (*fr)(void *arg, const char *route),
		void (*filter)(void *arg, const char *name, uint32_t priority,
			       const struct gw_degrade_stats *st),
		void *arg, uint64_t *nin)
{
	struct each_arg a = { filter, arg };

	pthread_mutex_lock(&dg_mu);
	for (uint32_t i = 0; i < nforced; i++)
		fr(arg, forced[i]);
	pthread_mutex_unlock(&dg_mu);
	gw_flive_each(&live, each_one, &a);
	*nin = __atomic_load_n(&inflight, __ATOMIC_RELAXED);
}

/* ---- configuration -------------------------------------------------------- */

static int
dg_key(struct dg_conf *c, const char *key, const char *v, char *why, size_t wl)
{
	static const struct {
		const char *key;
		size_t off;
		uint32_t lo, hi;
	} nums[] = {
		{ "priority", offsetof(struct dg_conf, priority), 0, 1000 },
		{ "max_inflight", offsetof(struct dg_conf, max_inflight), 0,
		  10000000 },
		{ "shed_step", offsetof(struct dg_conf, shed_step), 1,
		  10000000 },
		{ "retry_after", offsetof(struct dg_conf, retry_after), 1,
		  86400 },
		{ "fallback_status", offsetof(struct dg_conf, fb_status), 200,
		  599 },
		{ "max_lag_ms", offsetof(struct dg_conf, max_lag_ms), 0,
		  60000 },
		{ "lag_step_ms", offsetof(struct dg_conf, lag_step_ms), 1,
		  60000 },
	};

	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (strcmp(key, nums[i].key) != 0)
			continue;
		if (gw_fparse_u32(v, nums[i].lo, nums[i].hi,
				  (uint32_t *)((char *)c + nums[i].off)) == 0)
			return 0;
		snprintf(why, wl, "%u..%u", nums[i].lo, nums[i].hi);
		return -EINVAL;
	}
	if (strcmp(key, "fallback_body") == 0) {
		snprintf(c->fb_body, sizeof(c->fb_body), "%s", v);
		return 0;
	}
	if (strcmp(key, "fallback_route") == 0) {
		if (!gw_fis_token(v) || strlen(v) >= sizeof(c->fb_route)) {
			snprintf(why, wl,
				 "a route name (a token of at most %zu "
				 "bytes)",
				 sizeof(c->fb_route) - 1);
			return -EINVAL;
		}
		snprintf(c->fb_route, sizeof(c->fb_route), "%s", v);
		return 0;
	}
	if (strcmp(key, "fallback_file") == 0) {
		snprintf(c->fb_file, sizeof(c->fb_file), "%s", v);
		return 0;
	}
	if (strcmp(key, "fallback_type") == 0) {
		for (const char *p = v; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				snprintf(why, wl, "no control characters");
				return -EINVAL;
			}
		if (strlen(v) >= sizeof(c->fb_type)) {
			snprintf(why, wl, "at most %zu characters",
				 sizeof(c->fb_type) - 1);
			return -EINVAL;
		}
		snprintf(c->fb_type, sizeof(c->fb_type), "%s", v);
		return 0;
	}
	return -ENOENT;
}

static void
dg_defaults(struct dg_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->priority = 0;
	c->retry_after = 5;
	snprintf(c->fb_type, sizeof(c->fb_type), "text/plain");
}

static int
dg_check_key(const char *key, const char *value, char *why, size_t wl)
{
	struct dg_conf c;

	dg_defaults(&c);
	return dg_key(&c, key, value, why, wl);
}

static void
dg_destroy(void *inst)
{
	struct dg_filter *f = inst;

	if (f == NULL)
		return;
	gw_flive_del(&live, &f->live);
	free(f->fb_body);
	free(f);
}

static void *
dg_create(const struct gw_filter_conf *c, char *err, size_t errlen)
{
	struct dg_filter *f = calloc(1, sizeof(*f));
	struct dg_conf dc;
	char why[128];
	int rc;

	if (f == NULL) {
		lb_errf(err, errlen, 0, "filter %s: out of memory", c->name);
		errno = ENOMEM;
		return NULL;
	}
	dg_defaults(&dc);
	for (size_t i = 0; i < c->nkeys; i++) {
		why[0] = '\0';
		if (dg_key(&dc, c->kv[i].key, c->kv[i].value, why,
			   sizeof(why)) < 0) {
			lb_errf(err, errlen, 0, "filter %s: %s: %s", c->name,
				c->kv[i].key, why);
			goto fail;
		}
	}
	if (dc.fb_body[0] != '\0' && dc.fb_file[0] != '\0') {
		lb_errf(err, errlen, 0,
			"filter %s: fallback_body and fallback_file: one only",
			c->name);
		goto fail;
	}
	if (dc.fb_file[0] != '\0') {
		rc = gw_fread_file(dc.fb_file, FALLBACK_FILE_MAX, &f->fb_body,
				   &f->fb_len);
		if (rc < 0) {
			lb_errf(err, errlen, 0,
				"filter %s: fallback_file: %s: %s", c->name,
				dc.fb_file,
				rc == -EFBIG ? "larger than 64 KiB"
					     : strerror(-rc));
			goto fail;
		}
	} else if (dc.fb_body[0] != '\0') {
		f->fb_body = strdup(dc.fb_body);
		if (f->fb_body == NULL)
			goto fail;
		f->fb_len = strlen(f->fb_body);
	}
	if (f->fb_body != NULL)
		f->fb_status = dc.fb_status != 0 ? (int)dc.fb_status : 200;
	snprintf(f->name, sizeof(f->name), "%s", c->name);
	f->priority = dc.priority;
	f->max_inflight = dc.max_inflight;
	f->shed_step = dc.shed_step != 0	  ? dc.shed_step
		       : dc.max_inflight / 10 > 0 ? dc.max_inflight / 10
						  : 1;
	f->retry_after = dc.retry_after;
	f->max_lag_ms = dc.max_lag_ms;
	f->lag_step_ms = dc.lag_step_ms != 0	  ? dc.lag_step_ms
			 : dc.max_lag_ms / 10 > 0 ? dc.max_lag_ms / 10
						  : 1;
	snprintf(f->fb_route_name, sizeof(f->fb_route_name), "%s", dc.fb_route);
	snprintf(f->fb_type, sizeof(f->fb_type), "%s", dc.fb_type);
	f->fb_h[0] = (struct http_header){ "Content-Type", f->fb_type };
	gw_flive_add(&live, &f->live, f);
	return f;
fail:
	free(f->fb_body);
	free(f);
	errno = EINVAL;
	return NULL;
}

/* ---- per request ----------------------------------------------------------- */

/* The fallback route (found at build) named by fallback_route. */
static int
dg_link(void *inst, struct gw_route *routes, size_t n, char *err, size_t errlen)
{
	struct dg_filter *f = inst;

	if (f->fb_route_name[0] == '\0')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(routes[i].conf->name, f->fb_route_name) == 0) {
			f->fb_route = &routes[i];
			return 0;
		}
	return lb_errf(err, errlen, -EINVAL,
		       "filter %s: fallback_route: no route \"%s\"", f->name,
		       f->fb_route_name);
}

/* Is the request to be shed: by the requests in flight, or by its
 * loop's lag? 0: no; 1: in flight; 2: lag. */
static int
shed_by(const struct dg_filter *f, const struct gw_freq_in *in)
{
	uint64_t cur;

	if (f->max_inflight > 0) {
		cur = __atomic_load_n(&inflight, __ATOMIC_RELAXED);
		if (cur >= (uint64_t)f->max_inflight +
				   (uint64_t)f->priority * f->shed_step)
			return 1;
	}
	if (f->max_lag_ms > 0 &&
	    in->loop_lag_ns >= ((uint64_t)f->max_lag_ms +
				(uint64_t)f->priority * f->lag_step_ms) *
				       1000000u)
		return 2;
	return 0;
}

/* scratch[0]: 1 while counted in flight */
static enum gw_fverdict
dg_pre(void *inst, void *rstate, struct gw_freq *fr,
       const struct gw_freq_in *in, uint64_t *scratch)
{
	struct dg_filter *f = inst;
	bool forced = is_forced(gw_freq_route(fr)->conf->name);
	int shed = forced ? 0 : shed_by(f, in);

	(void)rstate;
	if (forced)
		STAT_ADD(f->st.forced, 1);
	if (shed > 0)
		STAT_ADD(f->st.shed, 1);
	if (shed == 2)
		STAT_ADD(f->shed_lag, 1);
	if ((forced || shed > 0) && f->fb_route != NULL) {
		/* the smaller route serves it instead */
		STAT_ADD(f->rerouted, 1);
		gw_freq_reroute(fr, f->fb_route);
	} else if (forced) {
		(void)gw_freq_add_hdr(fr, "Retry-After", "%u", f->retry_after);
		return gw_freq_reject(fr, 503, GW_FR_DEGRADED,
				      "forced by lbctl");
	} else if (shed > 0) {
		(void)gw_freq_add_hdr(fr, "Retry-After", "%u", f->retry_after);
		return gw_freq_reject(fr, 503, GW_FR_SHED,
				      shed == 2 ? "event loop lag"
						: "requests in flight");
	}
	__atomic_add_fetch(&inflight, 1, __ATOMIC_RELAXED);
	scratch[0] = 1;
	STAT_ADD(f->st.passed, 1);
	return GW_FV_PASS;
}

static bool
dg_fallback(void *inst, void *rstate, struct gw_freq *fr, int status,
	    uint64_t now_ns, uint64_t *scratch)
{
	struct dg_filter *f = inst;

	(void)rstate;
	(void)status;
	(void)now_ns;
	(void)scratch;
	if (f->fb_status == 0 ||
	    gw_freq_set_answer(fr, f->fb_status, GW_FR_DEGRADED, f->fb_h, 1,
			       f->fb_body, f->fb_len) != GW_FV_ANSWER)
		return false;
	STAT_ADD(f->st.fallbacks, 1);
	return true;
}

static void
dg_done(void *inst, void *rstate, const struct gw_fdone *d, bool answered,
	uint64_t *scratch)
{
	(void)inst;
	(void)rstate;
	(void)d;
	(void)answered;
	if (scratch[0] != 0)
		__atomic_sub_fetch(&inflight, 1, __ATOMIC_RELAXED);
}

static size_t
dg_counters(void *inst, struct gw_fcounter *c)
{
	struct dg_filter *f = inst;
	uint64_t shed = READ(f->st.shed), lag = READ(f->shed_lag);

	c[0] = (struct gw_fcounter){ "degrade_passed_total",
				     "Requests a degrade filter let through.",
				     NULL,
				     NULL,
				     false,
				     READ(f->st.passed) };
	c[1] = (struct gw_fcounter){ "degrade_shed_total",
				     "Requests shed by a degrade filter, by "
				     "signal: inflight or lag.",
				     "reason",
				     "inflight",
				     false,
				     shed - (lag < shed ? lag : shed) };
	c[2] = c[1];
	c[2].lval = "lag";
	c[2].v = lag;
	c[3] = (struct gw_fcounter){ "degrade_forced_total",
				     "Requests to a route forced by lbctl api "
				     "degrade.",
				     NULL,
				     NULL,
				     false,
				     READ(f->st.forced) };
	c[4] = (struct gw_fcounter){ "degrade_fallbacks_total",
				     "Static fallback bodies served.",
				     NULL,
				     NULL,
				     false,
				     READ(f->st.fallbacks) };
	c[5] = (struct gw_fcounter){ "degrade_rerouted_total",
				     "Requests served by the fallback_route "
				     "instead.",
				     NULL,
				     NULL,
				     false,
				     READ(f->rerouted) };
	return 6;
}

/* ---- event-loop lag ------------------------------------------------------- */

void
gw_lag_start(struct gw_lag *l, uint64_t period_ns, uint64_t now_ns)
{
	l->period_ns = period_ns;
	l->due_ns = now_ns + period_ns;
	l->tick_ns = now_ns;
	l->sample_ns = 0;
}

/* The last sample, less the time since it was taken. */
static uint64_t
decayed(const struct gw_lag *l, uint64_t now_ns)
{
	uint64_t gone = now_ns > l->tick_ns ? now_ns - l->tick_ns : 0;

	return l->sample_ns > gone ? l->sample_ns - gone : 0;
}

void
gw_lag_tick(struct gw_lag *l, uint64_t now_ns)
{
	uint64_t late = now_ns > l->due_ns ? now_ns - l->due_ns : 0;
	uint64_t old = decayed(l, now_ns);

	l->sample_ns = late > old ? late : old;
	l->tick_ns = now_ns;
	l->due_ns = now_ns + l->period_ns;
}

uint64_t
gw_lag_now(const struct gw_lag *l, uint64_t now_ns)
{
	uint64_t over = now_ns > l->due_ns ? now_ns - l->due_ns : 0;
	uint64_t old = decayed(l, now_ns);

	return over > old ? over : old;
}

const struct gw_filter_ops gw_filter_degrade = {
	.type = "degrade",
	.check_key = dg_check_key,
	.create = dg_create,
	.destroy = dg_destroy,
	.pre = dg_pre,
	.done = dg_done,
	.fallback = dg_fallback,
	.counters = dg_counters,
	.link = dg_link,
};
