/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Circuit breaking per upstream: the "breaker" filter type and the state
 * machine it drives (gw_filter_priv.h).
 *
 * Closed: calls go; their outcomes are counted over a sliding window of
 * window_ms (GW_CB_BUCKETS buckets). The breaker opens when, with at
 * least min_calls calls in the window, the share of failures reaches
 * failure_pct or the share of slow calls (at least slow_ms to the
 * response head) reaches slow_pct, or after `consecutive` failures in a
 * row. Open: every call is refused at once (503 with Retry-After, or the
 * configured fallback answer), the upstream is not touched. After the
 * open time the breaker is half-open: half_open_calls probe calls go;
 * when they all succeed it closes (open time back to open_ms); a failed
 * probe opens it again with the open time doubled, up to max_open_ms.
 * Calls admitted while closed that end after it opened do not count.
 *
 * Envoy-style limit: at most max_active calls in flight on the upstream
 * (probes included); more are refused with 503.
 *
 * One struct gw_breaker per (filter, upstream): routes that share an
 * upstream and a breaker filter share its state. A mutex per breaker,
 * held only inside these calls.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_filter_priv.h"
#include "edgelb/util.h"

#define NS_PER_MS 1000000ull

/* ---- the state machine ------------------------------------------------------ */

void
gw_breaker_init(struct gw_breaker *b, const struct gw_cb_conf *c)
{
	memset(b, 0, sizeof(*b));
	b->conf = *c;
	if (b->conf.window_ms < GW_CB_BUCKETS)
		b->conf.window_ms = GW_CB_BUCKETS;
	if (b->conf.half_open_calls == 0)
		b->conf.half_open_calls = 1;
	if (b->conf.max_open_ms < b->conf.open_ms)
		b->conf.max_open_ms = b->conf.open_ms;
	b->state = GW_CB_CLOSED;
	b->cur_open_ms = b->conf.open_ms;
	pthread_mutex_init(&b->mu, NULL);
}

void
gw_breaker_fini(struct gw_breaker *b)
{
	pthread_mutex_destroy(&b->mu);
}

static void
window_reset(struct gw_breaker *b)
{
	memset(b->bucket_t0, 0, sizeof(b->bucket_t0));
	memset(b->calls, 0, sizeof(b->calls));
	memset(b->fails, 0, sizeof(b->fails));
	memset(b->slows, 0, sizeof(b->slows));
	b->consec = 0;
}

/* Open now for the current open time. */
static void
trip(struct gw_breaker *b, uint64_t now_ns)
{
	b->state = GW_CB_OPEN;
	b->open_until_ns = now_ns + (uint64_t)b->cur_open_ms * NS_PER_MS;
	b->st.opened++;
	window_reset(b);
}

/* Open -> half-open once the time is up (under the mutex). */
static void
advance(struct gw_breaker *b, uint64_t now_ns)
{
	if (b->state == GW_CB_OPEN && now_ns >= b->open_until_ns) {
		b->state = GW_CB_HALF_OPEN;
		b->probes_out = 0;
		b->probes_ok = 0;
		b->st.half_opened++;
	}
}

enum gw_cb_state
gw_breaker_state(struct gw_breaker *b, uint64_t now_ns)
{
	enum gw_cb_state s;

	pthread_mutex_lock(&b->mu);
	advance(b, now_ns);
	s = b->state;
	pthread_mutex_unlock(&b->mu);
	return s;
}

enum gw_cb_admit
gw_breaker_admit(struct gw_breaker *b, uint64_t now_ns, uint32_t *retry_ms)
{
	enum gw_cb_admit a;

	*retry_ms = 0;
	pthread_mutex_lock(&b->mu);
	advance(b, now_ns);
	if (b->state == GW_CB_OPEN) {
		*retry_ms =
			(uint32_t)((b->open_until_ns - now_ns + NS_PER_MS - 1) /
				   NS_PER_MS);
		b->st.rejected++;
		a = GW_CB_REJECT_OPEN;
	} else if (b->conf.max_active != 0 && b->active >= b->conf.max_active) {
		b->st.rejected_active++;
		a = GW_CB_REJECT_ACTIVE;
	} else if (b->state == GW_CB_HALF_OPEN) {
		if (b->probes_out < b->conf.half_open_calls) {
			b->probes_out++;
			b->active++;
			a = GW_CB_ADMIT_PROBE;
		} else {
			/* the probes are out: wait for their verdict */
			*retry_ms = 1000;
			b->st.rejected++;
			a = GW_CB_REJECT_OPEN;
		}
	} else {
		b->active++;
		a = GW_CB_ADMIT;
	}
	pthread_mutex_unlock(&b->mu);
	return a;
}

static void
record(struct gw_breaker *b, bool failed, bool slow, uint64_t now_ns)
{
	uint64_t now_ms = now_ns / NS_PER_MS;
	uint64_t bw = b->conf.window_ms / GW_CB_BUCKETS;
	uint64_t t0 = now_ms - now_ms % bw;
	size_t i = (size_t)((now_ms / bw) % GW_CB_BUCKETS);
	uint64_t calls = 0, fails = 0, slows = 0;

	if (b->bucket_t0[i] != t0) {
		b->bucket_t0[i] = t0;
		b->calls[i] = b->fails[i] = b->slows[i] = 0;
	}
	b->calls[i]++;
	b->fails[i] += failed;
	b->slows[i] += slow;
	b->consec = failed ? b->consec + 1 : 0;
	if (b->conf.consecutive != 0 && b->consec >= b->conf.consecutive) {
		trip(b, now_ns);
		return;
	}
	for (size_t k = 0; k < GW_CB_BUCKETS; k++) {
		/* buckets of this window only */
		if (b->calls[k] == 0 ||
		    b->bucket_t0[k] + b->conf.window_ms <= t0)
			continue;
		calls += b->calls[k];
		fails += b->fails[k];
		slows += b->slows[k];
	}
	if (calls < b->conf.min_calls || calls == 0)
		return;
	if ((b->conf.failure_pct != 0 &&
	     fails * 100 >= (uint64_t)b->conf.failure_pct * calls) ||
	    (b->conf.slow_pct != 0 &&
	     slows * 100 >= (uint64_t)b->conf.slow_pct * calls))
		trip(b, now_ns);
}

void
gw_breaker_report(struct gw_breaker *b, enum gw_cb_admit how, bool failed,
		  uint64_t dur_ms, uint64_t now_ns)
{
	bool slow = b->conf.slow_ms != 0 && dur_ms >= b->conf.slow_ms;

	pthread_mutex_lock(&b->mu);
	if (b->active > 0)
		b->active--;
	b->st.calls++;
	b->st.failures += failed;
	b->st.slow += slow;
	advance(b, now_ns);
	if (how == GW_CB_ADMIT_PROBE && b->state == GW_CB_HALF_OPEN) {
		if (failed || (slow && b->conf.slow_pct != 0)) {
			b->cur_open_ms =
				b->cur_open_ms * 2 > b->conf.max_open_ms
					? b->conf.max_open_ms
					: b->cur_open_ms * 2;
			trip(b, now_ns);
		} else if (++b->probes_ok >= b->conf.half_open_calls) {
			b->state = GW_CB_CLOSED;
			b->cur_open_ms = b->conf.open_ms;
			window_reset(b);
			b->st.closed++;
		}
	} else if (how == GW_CB_ADMIT && b->state == GW_CB_CLOSED) {
		record(b, failed, slow, now_ns);
	}
	pthread_mutex_unlock(&b->mu);
}

void
gw_breaker_release(struct gw_breaker *b, enum gw_cb_admit how)
{
	pthread_mutex_lock(&b->mu);
	if (b->active > 0)
		b->active--;
	if (how == GW_CB_ADMIT_PROBE && b->state == GW_CB_HALF_OPEN &&
	    b->probes_out > b->probes_ok)
		b->probes_out--; /* the slot goes to another probe */
	pthread_mutex_unlock(&b->mu);
}

/* ---- the filter -------------------------------------------------------------- */

struct cb_ent {
	const struct gw_upstream *up;
	struct gw_breaker b;
};

struct cb_filter {
	struct gw_cb_conf conf;
	int fb_status; /* fallback: 0 none */
	char fb_body[GW_FILTER_VALUE_MAX];
	size_t n;
	struct cb_ent *ents[GW_MAX_UPSTREAMS];
};

static int
cb_key(struct cb_filter *f, const char *key, const char *v, char *why,
       size_t wl)
{
	static const struct {
		const char *key;
		size_t off;
		uint32_t lo, hi;
	} nums[] = {
		{ "failure_ratio", offsetof(struct gw_cb_conf, failure_pct), 0,
		  100 },
		{ "slow_ratio", offsetof(struct gw_cb_conf, slow_pct), 0, 100 },
		{ "slow_ms", offsetof(struct gw_cb_conf, slow_ms), 1, 3600000 },
		{ "window_ms", offsetof(struct gw_cb_conf, window_ms), 100,
		  3600000 },
		{ "min_calls", offsetof(struct gw_cb_conf, min_calls), 1,
		  1000000 },
		{ "consecutive_failures",
		  offsetof(struct gw_cb_conf, consecutive), 0, 1000000 },
		{ "open_ms", offsetof(struct gw_cb_conf, open_ms), 1, 3600000 },
		{ "max_open_ms", offsetof(struct gw_cb_conf, max_open_ms), 1,
		  86400000 },
		{ "half_open_calls",
		  offsetof(struct gw_cb_conf, half_open_calls), 1, 1000 },
		{ "max_active", offsetof(struct gw_cb_conf, max_active), 0,
		  10000000 },
	};

	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (strcmp(key, nums[i].key) != 0)
			continue;
		if (gw_fparse_u32(
			    v, nums[i].lo, nums[i].hi,
			    (uint32_t *)((char *)&f->conf + nums[i].off)) == 0)
			return 0;
		snprintf(why, wl, "%u..%u", nums[i].lo, nums[i].hi);
		return -EINVAL;
	}
	if (strcmp(key, "fallback") == 0) {
		char *end;
		long st = strtol(v, &end, 10);

		if (end == v || (*end != ' ' && *end != '\0') || st < 200 ||
		    st > 599) {
			snprintf(why, wl, "STATUS [BODY], status 200..599");
			return -EINVAL;
		}
		while (*end == ' ')
			end++;
		f->fb_status = (int)st;
		snprintf(f->fb_body, sizeof(f->fb_body), "%s", end);
		return 0;
	}
	return -ENOENT;
}

static int
cb_check_key(const char *key, const char *value, char *why, size_t wl)
{
	struct cb_filter f = { 0 };

	return cb_key(&f, key, value, why, wl);
}

static void
cb_destroy(void *inst)
{
	struct cb_filter *f = inst;

	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++) {
		gw_breaker_fini(&f->ents[i]->b);
		free(f->ents[i]);
	}
	free(f);
}

static void *
cb_create(const struct gw_filter_conf *c, char *err, size_t errlen)
{
	struct cb_filter *f = calloc(1, sizeof(*f));
	char why[128];

	if (f == NULL) {
		lb_errf(err, errlen, 0, "filter %s: out of memory", c->name);
		errno = ENOMEM;
		return NULL;
	}
	f->conf = (struct gw_cb_conf){
		.failure_pct = 50,
		.slow_pct = 0,
		.slow_ms = 1000,
		.window_ms = 10000,
		.min_calls = 10,
		.consecutive = 5,
		.open_ms = 5000,
		.max_open_ms = 60000,
		.half_open_calls = 1,
		.max_active = 0,
	};
	for (size_t i = 0; i < c->nkeys; i++) {
		why[0] = '\0';
		if (cb_key(f, c->kv[i].key, c->kv[i].value, why, sizeof(why)) <
		    0) {
			lb_errf(err, errlen, 0, "filter %s: %s: %s", c->name,
				c->kv[i].key, why);
			cb_destroy(f);
			errno = EINVAL;
			return NULL;
		}
	}
	return f;
}

static int
cb_attach(void *inst, struct gw_route *r, void **rstate, char *err,
	  size_t errlen)
{
	struct cb_filter *f = inst;
	struct cb_ent *e;

	if (r->up == NULL)
		return lb_errf(err, errlen, -EINVAL,
			       "route %s: filters: a breaker needs a route "
			       "with an upstream",
			       r->conf->name);
	for (size_t i = 0; i < f->n; i++)
		if (f->ents[i]->up == r->up) {
			*rstate = f->ents[i];
			return 0;
		}
	if (f->n >= GW_MAX_UPSTREAMS)
		return lb_errf(err, errlen, -ENOSPC, "breaker: too many");
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	e->up = r->up;
	gw_breaker_init(&e->b, &f->conf);
	f->ents[f->n++] = e;
	*rstate = e;
	return 0;
}

/* scratch: [0] admit + 1 (0: none), [1] pre time, [2] head time */
static enum gw_fverdict
cb_pre(void *inst, void *rstate, struct gw_freq *fr,
       const struct gw_freq_in *in, uint64_t *scratch)
{
	struct cb_filter *f = inst;
	struct cb_ent *e = rstate;
	enum gw_cb_admit a;
	uint32_t retry_ms;

	a = gw_breaker_admit(&e->b, in->now_ns, &retry_ms);
	if (a == GW_CB_ADMIT || a == GW_CB_ADMIT_PROBE) {
		scratch[0] = (uint64_t)a + 1;
		scratch[1] = in->now_ns;
		return GW_FV_PASS;
	}
	(void)gw_freq_add_hdr(fr, "Retry-After", "%u",
			      retry_ms < 1000 ? 1 : (retry_ms + 999) / 1000);
	if (f->fb_status != 0 && a == GW_CB_REJECT_OPEN) {
		gw_freq_set_body(fr, "text/plain", f->fb_body);
		return gw_freq_reject(fr, f->fb_status, GW_FR_BREAKER_OPEN,
				      NULL);
	}
	return gw_freq_reject(fr, 503,
			      a == GW_CB_REJECT_OPEN ? GW_FR_BREAKER_OPEN
						     : GW_FR_MAX_ACTIVE,
			      e->up->conf.name);
}

static void
cb_post(void *inst, void *rstate, struct gw_freq *fr, int status,
	uint64_t now_ns, uint64_t *scratch)
{
	(void)inst;
	(void)rstate;
	(void)fr;
	(void)status;
	if (scratch[2] == 0)
		scratch[2] = now_ns;
}

static void
cb_done(void *inst, void *rstate, const struct gw_fdone *d, bool answered,
	uint64_t *scratch)
{
	struct cb_ent *e = rstate;
	enum gw_cb_admit a;
	uint64_t end;

	(void)inst;
	if (answered || scratch[0] == 0)
		return;
	a = (enum gw_cb_admit)(scratch[0] - 1);
	if (!d->forwarded || d->status == 0) {
		gw_breaker_release(&e->b, a);
		return;
	}
	end = scratch[2] != 0 ? scratch[2] : d->now_ns;
	gw_breaker_report(&e->b, a, d->failed,
			  end > scratch[1] ? (end - scratch[1]) / NS_PER_MS : 0,
			  d->now_ns);
}

const struct gw_filter_ops gw_filter_breaker = {
	.type = "breaker",
	.check_key = cb_check_key,
	.create = cb_create,
	.destroy = cb_destroy,
	.attach = cb_attach,
	.pre = cb_pre,
	.post = cb_post,
	.done = cb_done,
};
