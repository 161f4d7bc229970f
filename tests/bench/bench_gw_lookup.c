/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_gw_lookup: the gateway's route lookup cost (gw_table_match) with a
 * large route table, against the same lookups on a small table of the
 * same shape measured in the same run.
 *
 * Both tables come from one generator, through gw_conf_key (the keys an
 * INI's [route NAME] sections give) and gw_table_build. Route i belongs
 * to block b = i / 10; a block's host is "*" (any) for b % 5 in {0, 1, 4},
 * an exact host "hK.example.com" for b % 5 == 2 and a suffix host
 * "*.zK.example.net" for b % 5 == 3 (K cycles over N / 200 exact and
 * N / 500 suffix hosts, at least one each). Inside a block, route
 * i % 10 in 0..5 is a path prefix "/sI/", 6..7 an exact path
 * "/sI/health", 8..9 a regex "/api/sI/v[0-9]+/items/[0-9]+" (20 % of the
 * routes; PCRE2, JIT). With 10,000 routes that is 6,000 routes on the any
 * host, 50 exact hosts of 40 routes, 20 suffix hosts of 100; the baseline
 * (50 routes) has 30 on the any host, 10 on one exact, 10 on one suffix.
 *
 * Cases, each a request aimed at one route of the table (found by the
 * generator's own rules, and checked: the lookup must return that route,
 * every time, or the program exits 1):
 *
 *   early        any host, the first route (a prefix)
 *   late         any host, the last prefix route of the any host
 *   regex_early  any host, the first regex route
 *   regex_late   any host, the last regex route
 *   miss         any host, a path no route matches (every route tried)
 *   exact_host   an exact host, that host's last route
 *   suffix_host  a suffix host, that host's last route
 *
 * Matching is Envoy's: the host picks one virtual host, whose first route
 * in configuration order that matches wins; "tried" in the output is how
 * many routes (and how many of them regexes) come before the match in
 * that order, what a walk in order would run through (the table's index
 * runs only the candidates whose path key the path has, gw_route.c). A repetition times
 * `iters` lookups with CLOCK_MONOTONIC (iters calibrated per case and
 * table so that one repetition takes about --target-ms); the repetitions
 * of the baseline and the large table alternate, so that the machine's
 * drift reaches both alike. The figure is the median ns per lookup over
 * --reps repetitions, with the min and max, and the ratio of the medians
 * (large table over baseline).
 *
 *   bench_gw_lookup [--routes N] [--baseline N] [--reps N]
 *                   [--target-ms MS] [--smoke]
 *
 * Output: one JSON object on stdout. Smoke mode (EDGELB_BENCH_SMOKE=1 or
 * --smoke): 3 repetitions of about 1 ms each, the same 10,000 routes;
 * it proves that such a table builds and every lookup finds its route,
 * and asserts nothing about speed. Exit status 0, 1 (a table did not
 * build, a lookup returned the wrong route), 2 (usage).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw_route.h"

#define REPS_MAX  101
#define ITERS_MAX (1u << 24)

enum host_group { G_ANY, G_EXACT, G_SUFFIX };
enum path_kind { P_PREFIX, P_EXACT, P_REGEX };

struct shape {
	size_t n;	/* routes */
	size_t nexact;	/* exact hosts */
	size_t nsuffix; /* suffix hosts */
};

struct lookup_case {
	const char *name;
	enum host_group group;
	enum path_kind kind;
	bool last; /* the last route of kind in group, else the first */
	bool miss; /* a path no route matches */
};

static const struct lookup_case cases[] = {
	{ "early", G_ANY, P_PREFIX, false, false },
	{ "late", G_ANY, P_PREFIX, true, false },
	{ "regex_early", G_ANY, P_REGEX, false, false },
	{ "regex_late", G_ANY, P_REGEX, true, false },
	{ "miss", G_ANY, P_PREFIX, false, true },
	{ "exact_host", G_EXACT, P_PREFIX, true, false },
	{ "suffix_host", G_SUFFIX, P_PREFIX, true, false },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

struct stat3 {
	double median, min, max;
};

struct case_result {
	char host[GW_HOST_MAX];
	char path[GW_PATH_MAX];
	char route[GW_NAME_MAX]; /* "" for a miss */
	size_t tried, tried_regex;
	uint32_t iters;
	struct stat3 ns;
};

struct table_result {
	struct shape sh;
	double build_ms;
	struct case_result c[NCASES];
};

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static struct shape
shape_of(size_t n)
{
	struct shape s = { .n = n, .nexact = n / 200, .nsuffix = n / 500 };

	if (s.nexact == 0)
		s.nexact = 1;
	if (s.nsuffix == 0)
		s.nsuffix = 1;
	return s;
}

static enum host_group
group_of(size_t i)
{
	switch ((i / 10) % 5) {
	case 2:
		return G_EXACT;
	case 3:
		return G_SUFFIX;
	default:
		return G_ANY;
	}
}

static enum path_kind
kind_of(size_t i)
{
	size_t k = i % 10;

	return k < 6 ? P_PREFIX : k < 8 ? P_EXACT : P_REGEX;
}

/* The host key of route i: "*", "hK.example.com" or "*.zK.example.net". */
static void
route_host(const struct shape *s, size_t i, char *out, size_t len)
{
	size_t k = i / 50; /* one host per 5 blocks, cycling */

	switch (group_of(i)) {
	case G_EXACT:
		snprintf(out, len, "h%zu.example.com", k % s->nexact);
		break;
	case G_SUFFIX:
		snprintf(out, len, "*.z%zu.example.net", k % s->nsuffix);
		break;
	default:
		snprintf(out, len, "*");
		break;
	}
}

static int
set(struct gw_conf *c, const char *name, const char *key, const char *v)
{
	char err[256];
	int rc = gw_conf_key(c, "route", name, key, v, err, sizeof(err));

	if (rc < 0)
		fprintf(stderr, "bench_gw_lookup: %s\n", err);
	return rc;
}

static int
fill_conf(struct gw_conf *c, const struct shape *s)
{
	char err[256], name[32], host[64], path[96];

	gw_conf_init(c);
	if (gw_conf_key(c, "upstream", "u", "instance", "127.0.0.1:9", err,
			sizeof(err)) < 0) {
		fprintf(stderr, "bench_gw_lookup: %s\n", err);
		return -EINVAL;
	}
	for (size_t i = 0; i < s->n; i++) {
		const char *key = "path_prefix";

		snprintf(name, sizeof(name), "r%zu", i);
		route_host(s, i, host, sizeof(host));
		switch (kind_of(i)) {
		case P_PREFIX:
			snprintf(path, sizeof(path), "/s%zu/", i);
			break;
		case P_EXACT:
			key = "path";
			snprintf(path, sizeof(path), "/s%zu/health", i);
			break;
		case P_REGEX:
			key = "path_regex";
			snprintf(path, sizeof(path),
				 "/api/s%zu/v[0-9]+/items/[0-9]+", i);
			break;
		}
		if (set(c, name, "host", host) < 0 ||
		    set(c, name, key, path) < 0 ||
		    set(c, name, "upstream", "u") < 0)
			return -EINVAL;
	}
	return 0;
}

/* The same virtual host as route i: same group, and the same name. */
static bool
same_vhost(const struct shape *s, size_t i, size_t j)
{
	char a[64], b[64];

	route_host(s, i, a, sizeof(a));
	route_host(s, j, b, sizeof(b));
	return strcmp(a, b) == 0;
}

/*
 * Aim case lc at the table of shape s: the request's host and path, the
 * route it must return ("" for a miss) and how many routes (regexes) the
 * lookup tries. -ENOENT when the shape has no such route.
 */
static int
aim(const struct shape *s, const struct lookup_case *lc, struct case_result *r)
{
	size_t target = SIZE_MAX, anchor = SIZE_MAX;
	char key[64];

	for (size_t i = 0; i < s->n; i++) {
		if (group_of(i) != lc->group)
			continue;
		if (anchor == SIZE_MAX)
			anchor = i; /* the first route of the group */
		if (!same_vhost(s, anchor, i) || kind_of(i) != lc->kind)
			continue;
		if (!lc->last && target == SIZE_MAX)
			target = i;
		if (lc->last)
			target = i;
	}
	if (anchor == SIZE_MAX || target == SIZE_MAX)
		return -ENOENT;
	route_host(s, anchor, key, sizeof(key));
	if (key[0] == '*' && key[1] == '.')
		snprintf(r->host, sizeof(r->host), "api%s", key + 1);
	else if (key[0] == '*')
		snprintf(r->host, sizeof(r->host), "www.example.org");
	else
		snprintf(r->host, sizeof(r->host), "%s", key);
	r->tried = r->tried_regex = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (!same_vhost(s, anchor, i) || (!lc->miss && i > target))
			continue;
		r->tried++;
		r->tried_regex += kind_of(i) == P_REGEX;
	}
	if (lc->miss) {
		r->route[0] = '\0';
		snprintf(r->path, sizeof(r->path), "/none/of/these");
		return 0;
	}
	snprintf(r->route, sizeof(r->route), "r%zu", target);
	switch (lc->kind) {
	case P_PREFIX:
		snprintf(r->path, sizeof(r->path), "/s%zu/orders/17", target);
		break;
	case P_EXACT:
		snprintf(r->path, sizeof(r->path), "/s%zu/health", target);
		break;
	case P_REGEX:
		snprintf(r->path, sizeof(r->path), "/api/s%zu/v2/items/4711",
			 target);
		break;
	}
	return 0;
}

/* iters lookups; the number that returned something other than want. */
static uint32_t
run(const struct gw_table *t, const struct gw_match_in *in,
    const struct gw_route *want, uint32_t iters)
{
	uint32_t wrong = 0;

	for (uint32_t k = 0; k < iters; k++)
		wrong += gw_table_match(t, in) != want;
	return wrong;
}

/* The route named name in t; NULL with "" (a miss). */
static const struct gw_route *
route_named(const struct gw_table *t, const char *name)
{
	for (size_t i = 0; name[0] != '\0' && i < gw_table_nroutes(t); i++) {
		const struct gw_route *x = gw_table_route(t, i);

		if (strcmp(x->conf->name, name) == 0)
			return x;
	}
	return NULL;
}

/* One repetition: ns per lookup, or a negative value when one lookup
 * returned the wrong route. */
static double
rep_ns(const struct gw_table *t, const struct case_result *r,
       const struct gw_route *want, uint32_t iters)
{
	struct gw_match_in in = { .method = "GET",
				  .host = r->host,
				  .path = r->path };
	double t0 = now_ns();

	if (run(t, &in, want, iters) != 0)
		return -1;
	return (now_ns() - t0) / iters;
}

static void
stat_of(double *ns, unsigned int n, struct stat3 *s)
{
	qsort(ns, n, sizeof(ns[0]), cmp_double);
	s->min = ns[0];
	s->max = ns[n - 1];
	s->median = n % 2 ? ns[n / 2] : (ns[n / 2 - 1] + ns[n / 2]) / 2;
}

/*
 * Case k on both tables: each calibrated on its own (iters doubled until
 * one repetition takes target_ns), then the repetitions interleaved, the
 * baseline's first, so that drift of the machine reaches both alike.
 */
static int
measure_case(struct table_result *tr[2], struct gw_table *t[2], size_t k,
	     unsigned int reps, double target_ns)
{
	double ns[2][REPS_MAX];
	const struct gw_route *want[2];

	for (int s = 0; s < 2; s++) {
		struct case_result *r = &tr[s]->c[k];
		double el;

		want[s] = route_named(t[s], r->route);
		if (want[s] == NULL && !cases[k].miss) {
			fprintf(stderr, "bench_gw_lookup: no route %s\n",
				r->route);
			return -ENOENT;
		}
		for (r->iters = 1;; r->iters *= 2) {
			el = rep_ns(t[s], r, want[s], r->iters);
			if (el < 0)
				goto wrong;
			if (el * r->iters >= target_ns || r->iters >= ITERS_MAX)
				break;
		}
	}
	for (unsigned int i = 0; i < reps; i++) {
		for (int s = 0; s < 2; s++) {
			ns[s][i] = rep_ns(t[s], &tr[s]->c[k], want[s],
					  tr[s]->c[k].iters);
			if (ns[s][i] < 0)
				goto wrong;
		}
	}
	for (int s = 0; s < 2; s++)
		stat_of(ns[s], reps, &tr[s]->c[k].ns);
	return 0;
wrong:
	for (int s = 0; s < 2; s++)
		fprintf(stderr,
			"bench_gw_lookup: %s (%zu routes): host %s path %s "
			"should return %s\n",
			cases[k].name, gw_table_nroutes(t[s]), tr[s]->c[k].host,
			tr[s]->c[k].path,
			cases[k].miss ? "no route" : tr[s]->c[k].route);
	fprintf(stderr, "bench_gw_lookup: a lookup returned another route\n");
	return -EPROTO;
}

/* Build the table of n routes and aim every case at it. */
static struct gw_table *
build_table(size_t n, struct table_result *res)
{
	struct gw_table *t = NULL;
	struct gw_conf c;
	char err[256];
	double t0;

	res->sh = shape_of(n);
	if (fill_conf(&c, &res->sh) < 0)
		goto out;
	t0 = now_ns();
	t = gw_table_build(&c, err, sizeof(err));
	res->build_ms = (now_ns() - t0) / 1e6;
	if (t == NULL) {
		fprintf(stderr, "bench_gw_lookup: %zu routes: %s\n", n, err);
		goto out;
	}
	for (size_t k = 0; k < NCASES; k++) {
		if (aim(&res->sh, &cases[k], &res->c[k]) < 0) {
			fprintf(stderr,
				"bench_gw_lookup: %zu routes have no route "
				"for case %s\n",
				n, cases[k].name);
			gw_table_put(t);
			t = NULL;
			goto out;
		}
	}
out:
	gw_conf_fini(&c);
	return t;
}

static void
print_stat(const char *key, const struct stat3 *s)
{
	printf("\"%s\": {\"median\": %.1f, \"min\": %.1f, \"max\": %.1f}", key,
	       s->median, s->min, s->max);
}

static void
print_json(const struct table_result *big, const struct table_result *base,
	   unsigned int reps, double target_ms, bool smoke)
{
	printf("{\"figure\": \"gw_lookup\", \"smoke\": %s, \"reps\": %u, "
	       "\"target_ms\": %.1f,\n",
	       smoke ? "true" : "false", reps, target_ms);
	printf(" \"routes\": %zu, \"exact_hosts\": %zu, \"suffix_hosts\": "
	       "%zu, \"build_ms\": %.1f,\n",
	       big->sh.n, big->sh.nexact, big->sh.nsuffix, big->build_ms);
	printf(" \"baseline_routes\": %zu, \"baseline_build_ms\": %.2f,\n",
	       base->sh.n, base->build_ms);
	printf(" \"cases\": [\n");
	for (size_t k = 0; k < NCASES; k++) {
		const struct case_result *a = &big->c[k], *b = &base->c[k];

		printf("  {\"case\": \"%s\", \"host\": \"%s\", \"path\": "
		       "\"%s\", \"route\": \"%s\", \"tried\": %zu, "
		       "\"tried_regex\": %zu, \"iters\": %u, ",
		       cases[k].name, a->host, a->path, a->route, a->tried,
		       a->tried_regex, a->iters);
		print_stat("ns", &a->ns);
		printf(",\n   \"baseline\": {\"host\": \"%s\", \"path\": "
		       "\"%s\", "
		       "\"route\": \"%s\", \"tried\": %zu, \"tried_regex\": "
		       "%zu, \"iters\": %u, ",
		       b->host, b->path, b->route, b->tried, b->tried_regex,
		       b->iters);
		print_stat("ns", &b->ns);
		printf("},\n   \"ratio\": %.2f}%s\n",
		       b->ns.median > 0 ? a->ns.median / b->ns.median : 0.0,
		       k + 1 < NCASES ? "," : "");
	}
	printf(" ]}\n");
}

static int
num(const char *s, unsigned long lo, unsigned long hi, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *v < lo || *v > hi) {
		fprintf(stderr, "bench_gw_lookup: '%s' is not in %lu..%lu\n", s,
			lo, hi);
		return -EINVAL;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_gw_lookup [--routes N] [--baseline N] "
			"[--reps N] [--target-ms MS] [--smoke]\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "routes", required_argument, NULL, 'n' },
		{ "baseline", required_argument, NULL, 'b' },
		{ "reps", required_argument, NULL, 'r' },
		{ "target-ms", required_argument, NULL, 't' },
		{ "smoke", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *smoke_env = getenv("EDGELB_BENCH_SMOKE");
	bool smoke = smoke_env != NULL && smoke_env[0] != '\0' &&
		     strcmp(smoke_env, "0") != 0;
	unsigned long n = 10000, nbase = 50, reps = 0, target_ms = 0;
	static struct table_result big, base;
	struct table_result *tr[2] = { &base, &big };
	struct gw_table *t[2];
	int o, rc = 0;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'n':
			if (num(optarg, 50, GW_MAX_ROUTES, &n) < 0)
				return 2;
			break;
		case 'b':
			if (num(optarg, 50, GW_MAX_ROUTES, &nbase) < 0)
				return 2;
			break;
		case 'r':
			if (num(optarg, 1, REPS_MAX, &reps) < 0)
				return 2;
			break;
		case 't':
			if (num(optarg, 1, 1000, &target_ms) < 0)
				return 2;
			break;
		case 's':
			smoke = true;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	if (reps == 0)
		reps = smoke ? 3 : 21;
	if (target_ms == 0)
		target_ms = smoke ? 1 : 20;
	t[0] = build_table(nbase, &base);
	t[1] = t[0] != NULL ? build_table(n, &big) : NULL;
	if (t[1] == NULL)
		rc = 1;
	for (size_t k = 0; rc == 0 && k < NCASES; k++)
		if (measure_case(tr, t, k, (unsigned int)reps,
				 (double)target_ms * 1e6) < 0)
			rc = 1;
	for (int s = 0; s < 2; s++)
		if (t[s] != NULL)
			gw_table_put(t[s]);
	if (rc != 0)
		return rc;
	print_json(&big, &base, (unsigned int)reps, (double)target_ms, smoke);
	return 0;
}
