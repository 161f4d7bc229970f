/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The [bgp] section (see bgp_conf.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bgp_conf.h"
#include "edgelb/util.h"

#define CONF(p)	    ((struct bgp_conf *)(p)->obj)
#define FIELD(p, t) ((t *)((char *)(p)->obj + (p)->key->offset))
#define OFF(f)	    offsetof(struct bgp_conf, f)

int
bgp_community_parse(const char *s, size_t n, uint32_t *out)
{
	char buf[16], *colon;
	uint32_t hi, lo;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	colon = strchr(buf, ':');
	if (colon == NULL)
		return -EINVAL;
	*colon = '\0';
	if (lb_parse_u32(buf, 0, 65535, &hi) < 0 ||
	    lb_parse_u32(colon + 1, 0, 65535, &lo) < 0)
		return -EINVAL;
	*out = hi << 16 | lo;
	return 0;
}

/* "A:B[,A:B...]" into a's list. */
static int
parse_communities(const char *v, size_t len, struct bgp_attrs *a, char *err,
		  size_t n)
{
	const char *end = v + len;

	a->ncomm = 0;
	while (v < end) {
		const char *c = memchr(v, ',', (size_t)(end - v));
		size_t l = c != NULL ? (size_t)(c - v) : (size_t)(end - v);

		if (a->ncomm == BGP_COMM_MAX)
			return lb_errf(err, n, -EINVAL,
				       "more than %d communities",
				       BGP_COMM_MAX);
		if (bgp_community_parse(v, l, &a->comm[a->ncomm]) < 0)
			return lb_errf(err, n, -EINVAL,
				       "bad community \"%.*s\" (ASN:VALUE, "
				       "each 0..65535)",
				       (int)(l < 32 ? l : 32), v);
		a->ncomm++;
		v += l + (c != NULL ? 1 : 0);
		if (c != NULL && v == end)
			return lb_errf(err, n, -EINVAL, "empty community");
	}
	return 0;
}

static int
set_u32_text(const char *v, size_t len, uint32_t *out)
{
	char buf[16];

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, v, len);
	buf[len] = '\0';
	return lb_parse_u32(buf, 0, UINT32_MAX, out);
}

/* One "key=value" of an attrs line or a default key into a. */
static int
attr_set(struct bgp_attrs *a, const char *k, size_t kl, const char *v,
	 size_t vl, char *err, size_t n)
{
#define KEY(s) (kl == strlen(s) && strncmp(k, s, kl) == 0)
	if (KEY("med")) {
		if (set_u32_text(v, vl, &a->med) < 0)
			return lb_errf(err, n, -EINVAL,
				       "med: expected 0..4294967295");
		a->has_med = true;
	} else if (KEY("local_pref")) {
		if (set_u32_text(v, vl, &a->local_pref) < 0)
			return lb_errf(err, n, -EINVAL,
				       "local_pref: expected 0..4294967295");
		a->has_local_pref = true;
	} else if (KEY("community")) {
		return parse_communities(v, vl, a, err, n);
	} else {
		return lb_errf(err, n, -EINVAL,
			       "unknown attribute \"%.*s\" (med, local_pref, "
			       "community)",
			       (int)(kl < 32 ? kl : 32), k);
	}
#undef KEY
	return 0;
}

static int
set_default(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	const char *k = p->key->name;

	return attr_set(&CONF(p)->defaults, k, strlen(k), v, strlen(v), err, n);
}

static int
set_min_healthy(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	size_t l = strlen(v);
	uint32_t pct;
	char buf[8];

	if (strcmp(v, "any") == 0) {
		CONF(p)->min_healthy_pct = 0;
		return 0;
	}
	if (l < 2 || l > 4 || v[l - 1] != '%')
		goto bad;
	memcpy(buf, v, l - 1);
	buf[l - 1] = '\0';
	if (lb_parse_u32(buf, 1, 100, &pct) < 0)
		goto bad;
	CONF(p)->min_healthy_pct = pct;
	return 0;
bad:
	return lb_errf(err, n, -EINVAL, "expected any or N%% (1..100)");
}

static int
set_ms(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	const struct cfg_key *k = p->key;
	uint32_t ms;

	if (lb_parse_duration_ms(v, &ms) < 0 || ms < k->min || ms > k->max)
		return lb_errf(err, n, -EINVAL,
			       "expected a duration (N, Nms, Ns, Nm, Nh) of "
			       "%ums..%ums",
			       k->min, k->max);
	*FIELD(p, uint32_t) = ms;
	return 0;
}

/* An interface name: 1..15 characters, no '/', blank or quote. */
static int
set_ifname(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	size_t l = strlen(v);

	if (l == 0 || l > 15 || strpbrk(v, "/ \t\"\\:") != NULL)
		return lb_errf(err, n, -EINVAL,
			       "expected an interface name (1..15 characters, "
			       "no '/', ':', blank or quote)");
	memcpy(FIELD(p, char), v, l + 1);
	return 0;
}

/* attrs = TARGET key=value... */
static int
set_attrs(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	struct bgp_conf *c = CONF(p);
	struct bgp_rule r = { .line = p->line };
	const char *s = v, *e;
	size_t l;

	if (c->nrules == BGP_RULES_MAX)
		return lb_errf(err, n, -E2BIG, "more than %d attrs lines",
			       BGP_RULES_MAX);
	e = strpbrk(s, " \t");
	l = e != NULL ? (size_t)(e - s) : strlen(s);
	if (lb_addr_parse_n(s, l, &r.vip) == 0) {
		r.is_vip = true;
	} else if (l > 0 && l <= LB_NAME_MAX) {
		memcpy(r.service, s, l);
		r.service[l] = '\0';
	} else {
		return lb_errf(err, n, -EINVAL,
			       "expected a VIP or a service name first");
	}
	s += l;
	for (;;) {
		const char *eq;

		s += strspn(s, " \t");
		if (*s == '\0')
			break;
		e = strpbrk(s, " \t");
		l = e != NULL ? (size_t)(e - s) : strlen(s);
		eq = memchr(s, '=', l);
		if (eq == NULL || eq + 1 == s + l)
			return lb_errf(err, n, -EINVAL,
				       "\"%.*s\": expected key=value",
				       (int)(l < 32 ? l : 32), s);
		if (attr_set(&r.a, s, (size_t)(eq - s), eq + 1,
			     l - (size_t)(eq + 1 - s), err, n) < 0)
			return -EINVAL;
		s += l;
	}
	if (lb_array_grow(&c->rules, &c->cap, c->nrules + 1,
			  sizeof(c->rules[0])) < 0)
		return lb_errf(err, n, -ENOMEM, "out of memory");
	c->rules[c->nrules++] = r;
	return 0;
}

const struct cfg_key bgp_conf_keys[] = {
	{ "bird_socket", cfg_set_path, OFF(bird_socket),
	  sizeof(((struct bgp_conf *)0)->bird_socket), 0, 0, 0 },
	{ "include_file", cfg_set_path, OFF(include_file),
	  sizeof(((struct bgp_conf *)0)->include_file), 0, 0, 0 },
	{ "liveness_interface", set_ifname, OFF(live_if), 0, 0, 0, 0 },
	{ "min_healthy", set_min_healthy, 0, 0, 0, 0, 0 },
	{ "check_interval", set_ms, OFF(check_ms), 0, 0, 10, 10000 },
	{ "bird_timeout", set_ms, OFF(timeout_ms), 0, 0, 100, 60000 },
	{ "drain_grace", set_ms, OFF(drain_grace_ms), 0, 0, 0, 86400000 },
	{ "drain_shutdown_community", cfg_set_bool, OFF(drain_gshut), 0, 0, 0,
	  0 },
	{ "med", set_default, 0, 0, 0, 0, 0 },
	{ "local_pref", set_default, 0, 0, 0, 0, 0 },
	{ "community", set_default, 0, 0, 0, 0, 0 },
	{ "attrs", set_attrs, 0, 0, CFG_KEY_REPEAT, 0, 0 },
	{ NULL, NULL, 0, 0, 0, 0, 0 },
};

static void *
conf_create(void)
{
	struct bgp_conf *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	snprintf(c->bird_socket, sizeof(c->bird_socket), "%s",
		 "/run/bird/bird.ctl");
	snprintf(c->include_file, sizeof(c->include_file), "%s",
		 "/run/bird/edgelb-vips.conf");
	c->check_ms = 100;
	c->timeout_ms = 2000;
	c->drain_grace_ms = 30000;
	c->drain_gshut = true;
	return c;
}

static int
conf_open(void *state, const char *name, int line, char *err, size_t errlen)
{
	struct bgp_conf *c = state;

	(void)name;
	(void)line;
	(void)err;
	(void)errlen;
	c->present = true;
	return 0;
}

const struct bgp_conf *
bgp_conf_get(const struct cfg *c)
{
	const struct bgp_conf *b = cfg_module_state(c, &bgp_cfg_ops);

	return b != NULL && b->present ? b : NULL;
}

static void
conf_destroy(void *state)
{
	struct bgp_conf *c = state;

	if (c != NULL)
		free(c->rules);
	free(c);
}

static int
conf_validate(void *state, const struct cfg *cfg, char *err, size_t errlen)
{
	const struct bgp_conf *c = state;

	if (!c->present)
		return 0;
	if (c->include_file[0] != '/')
		return lb_errf(err, errlen, -EINVAL,
			       "include_file: an absolute path");
	for (size_t i = 0; i < c->nrules; i++)
		if (!c->rules[i].is_vip &&
		    cfg_service_find(cfg, c->rules[i].service) == NULL)
			return lb_errf(err, errlen, -EINVAL,
				       "attrs (line %d): unknown service '%s'",
				       c->rules[i].line, c->rules[i].service);
	return 0;
}

const struct cfg_module_ops bgp_cfg_ops = {
	.section = "bgp",
	.named = false,
	.create = conf_create,
	.destroy = conf_destroy,
	.open = conf_open,
	.keys = bgp_conf_keys,
	.validate = conf_validate,
};

static void
merge(struct bgp_attrs *out, const struct bgp_attrs *o)
{
	if (o->has_med) {
		out->has_med = true;
		out->med = o->med;
	}
	if (o->has_local_pref) {
		out->has_local_pref = true;
		out->local_pref = o->local_pref;
	}
	if (o->ncomm > 0) {
		out->ncomm = o->ncomm;
		memcpy(out->comm, o->comm, sizeof(out->comm));
	}
}

void
bgp_conf_attrs(const struct bgp_conf *c, const struct lb_addr *vip,
	       const char *const *services, size_t nservices,
	       struct bgp_attrs *out)
{
	const struct bgp_rule *best = NULL;

	*out = c->defaults;
	for (size_t i = 0; i < c->nrules && best == NULL; i++)
		if (c->rules[i].is_vip && lb_addr_equal(&c->rules[i].vip, vip))
			best = &c->rules[i];
	for (size_t s = 0; s < nservices && best == NULL; s++)
		for (size_t i = 0; i < c->nrules && best == NULL; i++)
			if (!c->rules[i].is_vip &&
			    strcmp(c->rules[i].service, services[s]) == 0)
				best = &c->rules[i];
	if (best != NULL)
		merge(out, &best->a);
}
