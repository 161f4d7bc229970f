/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The "degrade" filter (docs/gateway.md, "Degradation"):
 *   - load shedding: the requests in flight through every degrade filter
 *     of the process are counted (pre that passes to done); a route whose
 *     filter has priority P is shed (503, Retry-After) while that count
 *     is at least max_inflight + P * shed_step, so the lowest priorities
 *     go first as the load grows;
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
#define FALLBACK_FILE_MAX  (64 * 1024)

struct dg_filter {
	struct dg_filter *prev, *next; /* the live ones */
	char name[GW_NAME_MAX];
	uint32_t priority, max_inflight, shed_step, retry_after;
	int fb_status; /* 0: no fallback */
	char fb_type[128];
	char *fb_body;
	size_t fb_len;
	struct http_header fb_h[1];
	struct gw_degrade_stats st;
};

struct dg_conf {
	uint32_t priority, max_inflight, shed_step, retry_after, fb_status;
	char fb_type[128];
	char fb_body[GW_FILTER_VALUE_MAX];
	char fb_file[GW_FILTER_VALUE_MAX];
};

static pthread_mutex_t dg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct dg_filter *live;
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

void
gw_degrade_each(void (*fr)(void *arg, const char *route),
		void (*filter)(void *arg, const char *name, uint32_t priority,
			       const struct gw_degrade_stats *st),
		void *arg, uint64_t *nin)
{
	pthread_mutex_lock(&dg_mu);
	for (uint32_t i = 0; i < nforced; i++)
		fr(arg, forced[i]);
	for (struct dg_filter *f = live; f != NULL; f = f->next) {
		struct gw_degrade_stats st;

		st.passed = __atomic_load_n(&f->st.passed, __ATOMIC_RELAXED);
		st.shed = __atomic_load_n(&f->st.shed, __ATOMIC_RELAXED);
		st.forced = __atomic_load_n(&f->st.forced, __ATOMIC_RELAXED);
		st.fallbacks =
			__atomic_load_n(&f->st.fallbacks, __ATOMIC_RELAXED);
		filter(arg, f->name, f->priority, &st);
	}
	pthread_mutex_unlock(&dg_mu);
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
	pthread_mutex_lock(&dg_mu);
	if (f->prev != NULL)
		f->prev->next = f->next;
	else if (live == f)
		live = f->next;
	if (f->next != NULL)
		f->next->prev = f->prev;
	pthread_mutex_unlock(&dg_mu);
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
	snprintf(f->fb_type, sizeof(f->fb_type), "%s", dc.fb_type);
	f->fb_h[0] = (struct http_header){ "Content-Type", f->fb_type };
	pthread_mutex_lock(&dg_mu);
	f->next = live;
	if (live != NULL)
		live->prev = f;
	live = f;
	pthread_mutex_unlock(&dg_mu);
	return f;
fail:
	free(f->fb_body);
	free(f);
	errno = EINVAL;
	return NULL;
}

/* ---- per request ----------------------------------------------------------- */

/* scratch[0]: 1 while counted in flight */
static enum gw_fverdict
dg_pre(void *inst, void *rstate, struct gw_freq *fr,
       const struct gw_freq_in *in, uint64_t *scratch)
{
	struct dg_filter *f = inst;
	uint64_t cur;

	(void)rstate;
	(void)in;
	if (is_forced(gw_freq_route(fr)->conf->name)) {
		STAT_ADD(f->st.forced, 1);
		(void)gw_freq_add_hdr(fr, "Retry-After", "%u", f->retry_after);
		return gw_freq_reject(fr, 503, GW_FR_DEGRADED,
				      "forced by lbctl");
	}
	if (f->max_inflight > 0) {
		cur = __atomic_load_n(&inflight, __ATOMIC_RELAXED);
		if (cur >= (uint64_t)f->max_inflight +
				   (uint64_t)f->priority * f->shed_step) {
			STAT_ADD(f->st.shed, 1);
			(void)gw_freq_add_hdr(fr, "Retry-After", "%u",
					      f->retry_after);
			return gw_freq_reject(fr, 503, GW_FR_SHED, NULL);
		}
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

const struct gw_filter_ops gw_filter_degrade = {
	.type = "degrade",
	.check_key = dg_check_key,
	.create = dg_create,
	.destroy = dg_destroy,
	.pre = dg_pre,
	.done = dg_done,
	.fallback = dg_fallback,
};
