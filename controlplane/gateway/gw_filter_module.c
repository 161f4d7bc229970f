/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * [filter NAME] sections for edgelbd (gw_filter_module.h). The state is
 * a gw_conf holding only filters, plus the line each section opened on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_filter.h"
#include "gw_filter_module.h"
#include "gw_ratelimit_redis.h"
#include "metrics.h"
#include "edgelb/util.h"

struct fsect {
	struct gw_conf gc; /* filters only */
	size_t n;
	struct {
		char name[GW_NAME_MAX];
		int line;
	} * x;
};

static void *
fs_create(void)
{
	struct fsect *s = calloc(1, sizeof(*s));

	if (s != NULL)
		gw_conf_init(&s->gc);
	return s;
}

static void
fs_destroy(void *state)
{
	struct fsect *s = state;

	gw_conf_fini(&s->gc);
	free(s->x);
	free(s);
}

static int
fs_open(void *state, const char *name, int line, char *err, size_t errlen)
{
	struct fsect *s = state;
	void *x;

	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->x[i].name, name) == 0)
			return lb_errf(err, errlen, -EINVAL,
				       "given twice (first on line %d)",
				       s->x[i].line);
	if (strlen(name) >= GW_NAME_MAX)
		return lb_errf(err, errlen, -EINVAL, "name over %d bytes",
			       GW_NAME_MAX - 1);
	if (s->n >= GW_MAX_FILTER_CONFS)
		return lb_errf(err, errlen, -ENOSPC, "too many filters");
	x = realloc(s->x, (s->n + 1) * sizeof(*s->x));
	if (x == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	s->x = x;
	snprintf(s->x[s->n].name, sizeof(s->x[0].name), "%s", name);
	s->x[s->n].line = line;
	s->n++;
	return 0;
}

static int
fs_key(void *state, const char *name, const char *key, const char *value,
       char *err, size_t errlen)
{
	struct fsect *s = state;

	return gw_filter_conf_key(&s->gc, name, key, value, err, errlen);
}

/* Every section has its type (a section without keys has none). */
static int
fs_validate(void *state, const struct cfg *c, char *err, size_t errlen)
{
	struct fsect *s = state;

	(void)c;
	for (size_t i = 0; i < s->n; i++) {
		bool typed = false;

		for (size_t k = 0; k < s->gc.nfilters; k++)
			typed |= strcmp(s->gc.filters[k].name, s->x[i].name) ==
				 0;
		if (!typed)
			return lb_errf(err, errlen, -EINVAL,
				       "filter %s (line %d): type: missing",
				       s->x[i].name, s->x[i].line);
	}
	return 0;
}

int
gw_filter_stage_conf(const struct cfg *c, struct gw_conf *out, char *err,
		     size_t errlen)
{
	const struct fsect *s = cfg_module_state(c, &gw_filter_cfg_ops);

	if (s == NULL || s->gc.nfilters == 0)
		return 0;
	out->filters = malloc(s->gc.nfilters * sizeof(*out->filters));
	if (out->filters == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	memcpy(out->filters, s->gc.filters,
	       s->gc.nfilters * sizeof(*out->filters));
	out->nfilters = s->gc.nfilters;
	return 0;
}

const struct cfg_module_ops gw_filter_cfg_ops = {
	.section = "filter",
	.named = true,
	.create = fs_create,
	.destroy = fs_destroy,
	.open = fs_open,
	.key = fs_key,
	.validate = fs_validate,
};

/* Started, so that lbctl lists it running; the gateway module uses the
 * sections. */
static int
fs_start(struct lbd *d, const struct cfg *c, void **state)
{
	(void)d;
	(void)c;
	*state = NULL;
	return 0;
}

/* The ratelimit filters' Redis store: its process-wide counters, one
 * series per event. */
static int
fs_collect(void *state, struct metrics *m)
{
	struct gw_rl_redis_stats s;
	const struct {
		const char *event;
		const uint64_t *v;
	} ev[] = {
		{ "decision", &s.decisions },
		{ "round_trip", &s.round_trips },
		{ "reply", &s.replies_ok },
		{ "error", &s.errors },
		{ "timeout", &s.timeouts },
		{ "down", &s.down },
		{ "fail_open", &s.fail_open },
		{ "fail_closed", &s.fail_closed },
		{ "noscript", &s.noscript },
		{ "lease_hit", &s.lease_hits },
		{ "connect", &s.connects },
		{ "disconnect", &s.disconnects },
		{ "connect_failure", &s.connect_failures },
	};

	(void)state;
	gw_rl_redis_stats(&s);
	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		struct metrics_label l = { "event", ev[i].event };

		metrics_put(m, "edgelbd_gateway_ratelimit_redis_total",
			    "Rate-limit decisions asked of Redis and what came "
			    "of them (fail_open: the local limiter decided, "
			    "fail_closed: refused with 503).",
			    METRICS_COUNTER, &l, 1, (double)*ev[i].v);
	}
	return 0;
}

const struct lbd_module gw_filter_module = {
	.name = "filter",
	.cfg = &gw_filter_cfg_ops,
	.start = fs_start,
	.collect = fs_collect,
};
