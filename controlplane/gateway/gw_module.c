/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The API gateway module of edgelbd (see gw_module.h): configuration
 * hooks, stages and their route tables, listener generations, the view
 * follower, metrics and lbctl.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "daemon.h"
#include "gw_log.h"
#include "gw_metrics.h"
#include "gw_module.h"
#include "gw_proxy.h"
#include "gw_route.h"
#include "metrics.h"
#include "view.h"
#include "edgelb/lbmsg.h"
#include "edgelb/log.h"
#include "edgelb/util.h"

#define GW_LISTEN_MAX	  16
#define GW_CERT_MAX	  64
#define GW_STAGE_MAX	  8
#define GW_STAGE_NAME_MAX 32
#define GW_SNI_MAX	  256
#define GW_WORKERS_MAX	  64
#define GW_CONNS_MAX	  1000000
#define GW_HEADER_MIN	  1024
#define GW_HEADER_MAX	  (1024 * 1024)
#define GW_BODY_LIMIT	  (1024u * 1024 * 1024)
#define GW_STREAMS_MAX	  10000
#define GW_TIMEOUT_MAX	  3600000 /* ms */
#define GW_TICK_MS	  200	  /* view follower, log flush, retired gens */
#define GW_RETIRE_MAX_MS  60000	  /* a retired generation is cut after */

/* ---- configuration ---------------------------------------------------------- */

struct gw_listen {
	struct lb_addr addr;
	uint16_t port;
	bool tls;
	char stage[GW_STAGE_NAME_MAX];
	int line;
};

struct gw_cert {
	char sni[GW_SNI_MAX]; /* "" : the default */
	char cert[PATH_MAX];
	char key[PATH_MAX];
};

/* [gateway] */
struct gw_mod_conf {
	size_t nlisten;
	struct gw_listen listen[GW_LISTEN_MAX];
	size_t ncerts;
	struct gw_cert *certs; /* GW_CERT_MAX */
	uint32_t workers;
	uint32_t max_conns;
	uint32_t max_conns_per_addr;
	uint32_t header_timeout_ms;
	uint32_t idle_timeout_ms;
	uint32_t max_header_size;
	uint32_t max_body;
	uint32_t max_streams;
	char access_log[GW_LOG_TARGET_MAX];
	char api_db[PATH_MAX]; /* API store: the gwapi stream opens it */
};

/* What a [route] or [upstream] section adds to gw_conf's keys. */
struct gw_extra {
	char name[GW_NAME_MAX];
	int line;
	char stage[128];	       /* route: "A,B"; "" every stage */
	char service[LB_NAME_MAX + 1]; /* upstream: "" its own list */
};

/* The state of [route] (routes only) or of [upstream] (ups only). */
struct gw_sect {
	struct gw_conf gc;
	size_t nx;
	struct gw_extra *x;
};

#define FIELD(p, type) ((type *)((char *)(p)->obj + (p)->key->offset))
#define OFF(field)     offsetof(struct gw_mod_conf, field)
#define CONF(p)	       ((struct gw_mod_conf *)(p)->obj)

static bool
is_name(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max)
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("_.-", *s) == NULL)
			return false;
	return true;
}

static int
set_u32(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	const struct cfg_key *k = p->key;

	if (lb_parse_u32(v, k->min, k->max, FIELD(p, uint32_t)) < 0)
		return lb_errf(err, n, -EINVAL, "expected %u..%u", k->min,
			       k->max);
	return 0;
}

static int
set_duration(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	const struct cfg_key *k = p->key;
	uint32_t ms;

	if (lb_parse_duration_ms(v, &ms) < 0 || ms < k->min || ms > k->max)
		return lb_errf(err, n, -EINVAL,
			       "expected a duration (N, Nms, Ns, Nm, Nh) of "
			       "%ums..%um",
			       k->min, k->max / 60000);
	*FIELD(p, uint32_t) = ms;
	return 0;
}

/* listen = ADDR:PORT [tls] [stage=NAME] */
static int
k_listen(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	struct gw_mod_conf *c = CONF(p);
	struct gw_listen *l;
	char buf[256], *tok, *save = NULL;

	if (c->nlisten >= GW_LISTEN_MAX)
		return lb_errf(err, n, -ENOSPC, "at most %d listeners",
			       GW_LISTEN_MAX);
	if (strlen(v) >= sizeof(buf))
		return lb_errf(err, n, -EINVAL, "too long");
	strcpy(buf, v);
	l = &c->listen[c->nlisten];
	memset(l, 0, sizeof(*l));
	strcpy(l->stage, "prod");
	l->line = p->line;
	tok = strtok_r(buf, " \t", &save);
	if (tok == NULL ||
	    lb_addr_port_parse(tok, &l->addr, &l->port, false) < 0 ||
	    l->port == 0)
		return lb_errf(err, n, -EINVAL,
			       "expected ADDR:PORT [tls] [stage=NAME]");
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
		if (strcmp(tok, "tls") == 0) {
			l->tls = true;
		} else if (strncmp(tok, "stage=", 6) == 0) {
			if (!is_name(tok + 6, GW_STAGE_NAME_MAX))
				return lb_errf(err, n, -EINVAL,
					       "stage: 1-%d characters of "
					       "A-Z a-z 0-9 _ . -",
					       GW_STAGE_NAME_MAX - 1);
			strcpy(l->stage, tok + 6);
		} else {
			return lb_errf(err, n, -EINVAL,
				       "unknown option \"%.32s\" (tls, "
				       "stage=NAME)",
				       tok);
		}
	}
	for (size_t i = 0; i < c->nlisten; i++)
		if (c->listen[i].port == l->port &&
		    lb_addr_equal(&c->listen[i].addr, &l->addr))
			return lb_errf(err, n, -EINVAL,
				       "address given twice (line %d)",
				       c->listen[i].line);
	c->nlisten++;
	return 0;
}

/* cert = SERVER_NAME|* CERT_FILE KEY_FILE */
static int
k_cert(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	struct gw_mod_conf *c = CONF(p);
	struct gw_cert *ce;
	char buf[GW_SNI_MAX + 2 * PATH_MAX], *name, *crt, *key, *save = NULL;

	if (c->ncerts >= GW_CERT_MAX)
		return lb_errf(err, n, -ENOSPC, "at most %d certificates",
			       GW_CERT_MAX);
	if (strlen(v) >= sizeof(buf))
		return lb_errf(err, n, -EINVAL, "too long");
	strcpy(buf, v);
	name = strtok_r(buf, " \t", &save);
	crt = strtok_r(NULL, " \t", &save);
	key = strtok_r(NULL, " \t", &save);
	if (name == NULL || crt == NULL || key == NULL ||
	    strtok_r(NULL, " \t", &save) != NULL)
		return lb_errf(err, n, -EINVAL,
			       "expected SERVER_NAME|* CERT_FILE KEY_FILE");
	if (strcmp(name, "*") != 0 &&
	    (strlen(name) >= GW_SNI_MAX || !is_name(name, GW_SNI_MAX)))
		return lb_errf(err, n, -EINVAL, "bad server name \"%.64s\"",
			       name);
	if (strlen(crt) >= PATH_MAX || strlen(key) >= PATH_MAX)
		return lb_errf(err, n, -EINVAL, "path too long");
	if (access(crt, R_OK) < 0 || access(key, R_OK) < 0)
		return lb_errf(err, n, -EINVAL, "%s: %s",
			       access(crt, R_OK) < 0 ? crt : key,
			       strerror(errno));
	for (size_t i = 0; i < c->ncerts; i++)
		if (strcmp(c->certs[i].sni,
			   strcmp(name, "*") == 0 ? "" : name) == 0)
			return lb_errf(err, n, -EINVAL,
				       "server name given twice");
	ce = &c->certs[c->ncerts++];
	snprintf(ce->sni, sizeof(ce->sni), "%s",
		 strcmp(name, "*") == 0 ? "" : name);
	snprintf(ce->cert, sizeof(ce->cert), "%s", crt);
	snprintf(ce->key, sizeof(ce->key), "%s", key);
	return 0;
}

static int
k_access_log(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	int rc = gw_log_target_check(v, err, n);

	if (rc == 0)
		snprintf(CONF(p)->access_log, sizeof(CONF(p)->access_log), "%s",
			 v);
	return rc;
}

static int
k_api_db(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (v[0] != '/' || strlen(v) >= PATH_MAX)
		return lb_errf(err, n, -EINVAL, "expected an absolute path");
	snprintf(CONF(p)->api_db, sizeof(CONF(p)->api_db), "%s", v);
	return 0;
}

#define U32(name, field, lo, hi)                                               \
	{                                                                      \
		name, set_u32, OFF(field), .min = (lo), .max = (hi)            \
	}
#define DURATION(name, field)                                                  \
	{                                                                      \
		name, set_duration, OFF(field), .min = 1,                      \
						.max = GW_TIMEOUT_MAX          \
	}

static const struct cfg_key gw_keys[] = {
	{ "listen", k_listen, .flags = CFG_KEY_REPEAT },
	{ "cert", k_cert, .flags = CFG_KEY_REPEAT },
	U32("workers", workers, 1, GW_WORKERS_MAX),
	U32("max_connections", max_conns, 1, GW_CONNS_MAX),
	U32("max_connections_per_addr", max_conns_per_addr, 1, GW_CONNS_MAX),
	DURATION("header_timeout", header_timeout_ms),
	DURATION("idle_timeout", idle_timeout_ms),
	U32("max_header_size", max_header_size, GW_HEADER_MIN, GW_HEADER_MAX),
	U32("max_body", max_body, 0, GW_BODY_LIMIT),
	U32("max_streams", max_streams, 1, GW_STREAMS_MAX),
	{ "access_log", k_access_log },
	{ "api_db", k_api_db },
	{ NULL },
};

static void
mod_conf_init(struct gw_mod_conf *c)
{
	memset(c, 0, offsetof(struct gw_mod_conf, certs));
	c->workers = 1;
	c->max_conns = 1024;
	c->max_conns_per_addr = 64;
	c->header_timeout_ms = 10000;
	c->idle_timeout_ms = 60000;
	c->max_header_size = 16384;
	c->max_body = 1024 * 1024;
	c->max_streams = 100;
	c->access_log[0] = '\0';
	c->api_db[0] = '\0';
}

static void *
gw_conf_create(void)
{
	struct gw_mod_conf *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->certs = calloc(GW_CERT_MAX, sizeof(*c->certs));
	if (c->certs == NULL) {
		free(c);
		return NULL;
	}
	mod_conf_init(c);
	return c;
}

static void
gw_conf_destroy(void *state)
{
	struct gw_mod_conf *c = state;

	free(c->certs);
	free(c);
}

/* The distinct stages of c's listeners, in order; how many. */
static size_t
conf_stages(const struct gw_mod_conf *c, const char *out[GW_LISTEN_MAX])
{
	size_t n = 0;

	for (size_t i = 0; i < c->nlisten; i++) {
		size_t j;

		for (j = 0; j < n; j++)
			if (strcmp(out[j], c->listen[i].stage) == 0)
				break;
		if (j == n)
			out[n++] = c->listen[i].stage;
	}
	return n;
}

static int
gw_conf_validate(void *state, const struct cfg *c, char *err, size_t errlen)
{
	const struct gw_mod_conf *gc = state;
	const char *st[GW_LISTEN_MAX];
	bool tls = false;

	(void)c;
	for (size_t i = 0; i < gc->nlisten; i++)
		tls |= gc->listen[i].tls;
	if (tls && gc->ncerts == 0)
		return lb_errf(err, errlen, -EINVAL,
			       "a tls listener needs a cert");
	if (gc->max_conns_per_addr > gc->max_conns)
		return lb_errf(err, errlen, -EINVAL,
			       "max_connections_per_addr is over "
			       "max_connections");
	if (conf_stages(gc, st) > GW_STAGE_MAX)
		return lb_errf(err, errlen, -EINVAL, "at most %d stages",
			       GW_STAGE_MAX);
	return 0;
}

const struct cfg_module_ops gw_cfg_ops = {
	.section = "gateway",
	.named = false,
	.create = gw_conf_create,
	.destroy = gw_conf_destroy,
	.keys = gw_keys,
	.validate = gw_conf_validate,
};

/* ---- [route NAME] and [upstream NAME] ------------------------------------------- */

static void *
sect_create(void)
{
	struct gw_sect *s = calloc(1, sizeof(*s));

	if (s != NULL)
		gw_conf_init(&s->gc);
	return s;
}

static void
sect_destroy(void *state)
{
	struct gw_sect *s = state;

	gw_conf_fini(&s->gc);
	free(s->x);
	free(s);
}

static struct gw_extra *
extra_find(const struct gw_sect *s, const char *name)
{
	for (size_t i = 0; i < s->nx; i++)
		if (strcmp(s->x[i].name, name) == 0)
			return &s->x[i];
	return NULL;
}

static int
sect_open(void *state, const char *name, int line, char *err, size_t errlen)
{
	struct gw_sect *s = state;
	const struct gw_extra *old = extra_find(s, name);
	struct gw_extra *x;

	if (old != NULL)
		return lb_errf(err, errlen, -EINVAL,
			       "given twice (first on line %d)", old->line);
	if (strlen(name) >= GW_NAME_MAX)
		return lb_errf(err, errlen, -EINVAL, "name over %d bytes",
			       GW_NAME_MAX - 1);
	if (s->nx >= GW_MAX_ROUTES)
		return lb_errf(err, errlen, -ENOSPC, "too many sections");
	x = realloc(s->x, (s->nx + 1) * sizeof(*x));
	if (x == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	s->x = x;
	x = &s->x[s->nx++];
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%s", name);
	x->line = line;
	return 0;
}

/* A regex is compiled when read, so that a bad one is named with its
 * line; the table compiles it again (with JIT) when built. */
static int
check_regex(const char *re, char *err, size_t errlen)
{
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE off;
	int ec;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
					 0, &ec, &off, NULL);

	if (code != NULL) {
		pcre2_code_free(code);
		return 0;
	}
	pcre2_get_error_message(ec, msg, sizeof(msg));
	return lb_errf(err, errlen, -EINVAL, "invalid regex at offset %zu: %s",
		       (size_t)off, (const char *)msg);
}

static int
route_key(void *state, const char *name, const char *key, const char *value,
	  char *err, size_t errlen)
{
	struct gw_sect *s = state;
	struct gw_extra *x = extra_find(s, name);

	if (x == NULL)
		return lb_errf(err, errlen, -EINVAL, "no section");
	if (strcmp(key, "stage") == 0) {
		char buf[sizeof(x->stage)], *tok, *save = NULL;

		if (strlen(value) >= sizeof(buf))
			return lb_errf(err, errlen, -EINVAL, "too long");
		strcpy(buf, value);
		for (tok = strtok_r(buf, ", ", &save); tok != NULL;
		     tok = strtok_r(NULL, ", ", &save))
			if (!is_name(tok, GW_STAGE_NAME_MAX))
				return lb_errf(err, errlen, -EINVAL,
					       "bad stage \"%.32s\"", tok);
		snprintf(x->stage, sizeof(x->stage), "%s", value);
		return 0;
	}
	if (strcmp(key, "path_regex") == 0 &&
	    check_regex(value, err, errlen) < 0)
		return -EINVAL;
	return gw_conf_key(&s->gc, "route", name, key, value, err, errlen);
}

/* The entry of upstream name exists from its first key, as gw_conf_key
 * makes it. */
static int
ups_entry(struct gw_conf *gc, const char *name, char *err, size_t errlen)
{
	struct gw_upstream_conf *u;

	for (size_t i = 0; i < gc->nups; i++)
		if (strcmp(gc->ups[i].name, name) == 0)
			return 0;
	if (gc->nups >= GW_MAX_UPSTREAMS)
		return lb_errf(err, errlen, -ENOSPC, "too many upstreams");
	u = realloc(gc->ups, (gc->nups + 1) * sizeof(*u));
	if (u == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	gc->ups = u;
	gw_upstream_conf_init(&u[gc->nups++], name);
	return 0;
}

static int
ups_key(void *state, const char *name, const char *key, const char *value,
	char *err, size_t errlen)
{
	struct gw_sect *s = state;
	struct gw_extra *x = extra_find(s, name);

	if (x == NULL)
		return lb_errf(err, errlen, -EINVAL, "no section");
	if (strcmp(key, "service") == 0) {
		if (!is_name(value, sizeof(x->service)) &&
		    strchr(value, ':') == NULL)
			return lb_errf(err, errlen, -EINVAL,
				       "bad service name");
		if (strlen(value) >= sizeof(x->service))
			return lb_errf(err, errlen, -EINVAL, "too long");
		strcpy(x->service, value);
		return ups_entry(&s->gc, name, err, errlen);
	}
	return gw_conf_key(&s->gc, "upstream", name, key, value, err, errlen);
}

static const struct gw_extra *
line_of(const struct cfg *c, const struct cfg_module_ops *ops, const char *name)
{
	const struct gw_sect *s = cfg_module_state(c, ops);

	return s != NULL ? extra_find(s, name) : NULL;
}

/* An instance's weight for a backend's: 0 (out, by health) as 1, at
 * most GW_MAX_WEIGHT. */
static uint32_t
inst_weight(uint32_t w)
{
	return w == 0 ? 1 : (w > GW_MAX_WEIGHT ? GW_MAX_WEIGHT : w);
}

/*
 * The instances of u from its service in c: every backend, weight 0 as
 * weight 1 (kept out of rotation by gw_mod's health, see health_sync).
 * 0 or -ENOENT / -ENODATA with err set.
 */
static int
service_instances(const struct cfg *c, const struct gw_extra *x,
		  struct gw_upstream_conf *u, char *err, size_t errlen)
{
	const struct cfg_service *s = cfg_service_find(c, x->service);

	if (s == NULL)
		return lb_errf(err, errlen, -ENOENT,
			       "upstream %s (line %d): service: unknown "
			       "service \"%s\"",
			       x->name, x->line, x->service);
	if (s->nbackends == 0)
		return lb_errf(err, errlen, -ENODATA,
			       "upstream %s (line %d): service %s has no "
			       "backends",
			       x->name, x->line, x->service);
	u->ninst = 0;
	for (uint32_t i = 0; i < s->nbackends && i < GW_MAX_INSTANCES; i++) {
		struct gw_instance_conf *in = &u->inst[u->ninst++];

		in->addr = s->backends[i].addr;
		in->port = s->backends[i].port;
		in->weight = inst_weight(s->backends[i].weight);
	}
	return 0;
}

static bool
stage_has(const char *list, const char *stage)
{
	size_t n = strlen(stage);
	const char *p = list;

	if (list[0] == '\0')
		return true;
	while (*p != '\0') {
		size_t k;

		while (*p == ',' || *p == ' ')
			p++;
		k = strcspn(p, ", ");
		if (k == n && strncmp(p, stage, n) == 0)
			return true;
		p += k;
	}
	return false;
}

/*
 * The gw_conf of one stage from c's [route] and [upstream] sections:
 * its routes, every upstream, service-bound ones filled from c; then,
 * with the module's state m (NULL when a file is only checked), what
 * the API store adds. out is the caller's (gw_conf_fini). 0 or -errno
 * with err set.
 */
static int
stage_conf(struct gw_mod *m, const struct cfg *c, const char *stage,
	   struct gw_conf *out, char *err, size_t errlen)
{
	const struct gw_sect *rs = cfg_module_state(c, &gw_route_cfg_ops);
	const struct gw_sect *us = cfg_module_state(c, &gw_ups_cfg_ops);
	size_t nr = rs != NULL ? rs->gc.nroutes : 0;
	size_t nu = us != NULL ? us->gc.nups : 0;
	int rc;

	gw_conf_init(out);
	out->routes = malloc((nr + 1) * sizeof(*out->routes));
	out->ups = malloc((nu + 1) * sizeof(*out->ups));
	if (out->routes == NULL || out->ups == NULL) {
		gw_conf_fini(out);
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < nr; i++) {
		const struct gw_route_conf *r = &rs->gc.routes[i];
		const struct gw_extra *x = extra_find(rs, r->name);

		if (x == NULL || stage_has(x->stage, stage))
			out->routes[out->nroutes++] = *r;
	}
	for (size_t i = 0; i < nu; i++) {
		struct gw_upstream_conf *u = &out->ups[out->nups++];
		const struct gw_extra *x = extra_find(us, us->gc.ups[i].name);

		*u = us->gc.ups[i];
		if (x == NULL || x->service[0] == '\0')
			continue;
		rc = service_instances(c, x, u, err, errlen);
		if (rc < 0) {
			gw_conf_fini(out);
			return rc;
		}
	}
	/* API store: when m != NULL, gw_api_stage_conf(m's store, stage,
	 * out, err, errlen) appends the stage's live API routes here. */
	(void)m;
	return 0;
}

/* Name the line of the route or upstream an error of gw_table_build is
 * about ("route NAME: ..." or "upstream NAME: ..."). */
static void
add_line(const struct cfg *c, char *err, size_t errlen)
{
	char kind[16], name[GW_NAME_MAX], rest[256];
	const struct gw_extra *x = NULL;

	if (sscanf(err, "%15s %63[^:]", kind, name) != 2)
		return;
	if (strcmp(kind, "route") == 0)
		x = line_of(c, &gw_route_cfg_ops, name);
	else if (strcmp(kind, "upstream") == 0)
		x = line_of(c, &gw_ups_cfg_ops, name);
	if (x == NULL)
		return;
	snprintf(rest, sizeof(rest), "%s",
		 err + strlen(kind) + 1 + strlen(name));
	snprintf(err, errlen, "%s %s (line %d)%s", kind, name, x->line, rest);
}

/* The stages c's routes are built for: the listeners', or "prod". */
static size_t
cfg_stages(const struct cfg *c, const char *st[GW_LISTEN_MAX])
{
	const struct gw_mod_conf *gc = cfg_module_state(c, &gw_cfg_ops);
	size_t n = gc != NULL ? conf_stages(gc, st) : 0;

	if (n == 0)
		st[n++] = "prod";
	return n;
}

static int
sect_check(const struct gw_sect *s, bool route, const struct cfg *c, char *err,
	   size_t errlen)
{
	const char *st[GW_LISTEN_MAX];
	size_t nst = cfg_stages(c, st);

	for (size_t i = 0; i < s->nx; i++) {
		const struct gw_extra *x = &s->x[i];
		bool found = false;

		for (size_t j = 0; j < (route ? s->gc.nroutes : s->gc.nups);
		     j++)
			found |= strcmp(route ? s->gc.routes[j].name
					      : s->gc.ups[j].name,
					x->name) == 0;
		if (!found)
			return lb_errf(err, errlen, -EINVAL,
				       "%s %s (line %d): no keys",
				       route ? "route" : "upstream", x->name,
				       x->line);
		if (route && x->stage[0] != '\0') {
			bool any = false;

			for (size_t j = 0; j < nst; j++)
				any |= stage_has(x->stage, st[j]);
			if (!any)
				return lb_errf(err, errlen, -EINVAL,
					       "route %s (line %d): stage: no "
					       "listener serves \"%s\"",
					       x->name, x->line, x->stage);
		}
	}
	if (route)
		return 0;
	for (size_t i = 0; i < s->gc.nups; i++) {
		const struct gw_upstream_conf *u = &s->gc.ups[i];
		const struct gw_extra *x = extra_find(s, u->name);

		if (x != NULL && x->service[0] != '\0' && u->ninst > 0)
			return lb_errf(err, errlen, -EINVAL,
				       "upstream %s (line %d): service and "
				       "instance exclude each other",
				       u->name, x->line);
		if (x != NULL && x->service[0] == '\0' && u->ninst == 0)
			return lb_errf(err, errlen, -EINVAL,
				       "upstream %s (line %d): needs instance "
				       "or service",
				       u->name, x->line);
	}
	return 0;
}

static int
ups_validate(void *state, const struct cfg *c, char *err, size_t errlen)
{
	return sect_check(state, false, c, err, errlen);
}

/* Every stage's table is built once, as a start or a reload would. */
static int
route_validate(void *state, const struct cfg *c, char *err, size_t errlen)
{
	const char *st[GW_LISTEN_MAX];
	size_t nst = cfg_stages(c, st);
	int rc = sect_check(state, true, c, err, errlen);

	for (size_t i = 0; rc == 0 && i < nst; i++) {
		struct gw_conf gc;
		struct gw_table *t;

		rc = stage_conf(NULL, c, st[i], &gc, err, errlen);
		if (rc < 0)
			break;
		t = gw_table_build(&gc, err, errlen);
		gw_conf_fini(&gc);
		if (t == NULL) {
			add_line(c, err, errlen);
			rc = -EINVAL;
		}
		gw_table_put(t);
	}
	return rc;
}

const struct cfg_module_ops gw_route_cfg_ops = {
	.section = "route",
	.named = true,
	.create = sect_create,
	.destroy = sect_destroy,
	.open = sect_open,
	.key = route_key,
	.validate = route_validate,
};

const struct cfg_module_ops gw_ups_cfg_ops = {
	.section = "upstream",
	.named = true,
	.create = sect_create,
	.destroy = sect_destroy,
	.open = sect_open,
	.key = ups_key,
	.validate = ups_validate,
};

/* ---- runtime ------------------------------------------------------------------- */

struct gw_stage {
	struct gw_mod *m;
	char name[GW_STAGE_NAME_MAX];
	struct gw_router *router;
};

/* A generation of listeners: per stage that has listeners, a server on
 * the daemon's loop (workers = 1) or worker threads, and its proxy. */
struct gw_gen {
	struct gw_gen *next; /* retired list */
	uint64_t retired_ms;
	size_t n;
	struct {
		struct gw_stage *stage;
		struct gw_proxy *proxy;
		struct http_server *hs;
		struct http_workers *w;
	} srv[GW_STAGE_MAX];
};

struct gw_mod {
	struct lbd *d;
	struct gw_mod_conf conf; /* of the current generation */
	size_t nstages;
	struct gw_stage stages[GW_STAGE_MAX];
	struct gw_gen *gen;	/* NULL: no listener */
	struct gw_gen *retired; /* draining after a listener change */
	struct gw_log *log;
	struct gw_metrics *gm;
	struct http_metrics *hm;
	struct event *tick;
	uint64_t view_gen;
	bool draining;
	uint64_t rebuilds, rebuild_errors, health_changes;
	struct gw_proxy_stats gone; /* of freed generations */
	/* API store: the gwapi stream keeps its gw_api_store here */
};

static void
on_done(void *arg, const struct gw_done *d)
{
	struct gw_stage *st = arg;

	gw_metrics_done(st->m->gm, st->name, d);
	gw_log_write(st->m->log, st->name, d);
}

static struct gw_stage *
stage_find(struct gw_mod *m, const char *name)
{
	for (size_t i = 0; i < m->nstages; i++)
		if (strcmp(m->stages[i].name, name) == 0)
			return &m->stages[i];
	return NULL;
}

/* Every stage of c exists (stages are never removed: a retired listener
 * generation may still serve one). 0 or -ENOSPC / -ENOMEM. */
static int
stages_ensure(struct gw_mod *m, const struct cfg *c, char *err, size_t errlen)
{
	const char *st[GW_LISTEN_MAX];
	size_t n = cfg_stages(c, st);

	for (size_t i = 0; i < n; i++) {
		struct gw_stage *s;

		if (stage_find(m, st[i]) != NULL)
			continue;
		if (m->nstages >= GW_STAGE_MAX)
			return lb_errf(err, errlen, -ENOSPC,
				       "at most %d stages over the daemon's "
				       "life",
				       GW_STAGE_MAX);
		s = &m->stages[m->nstages];
		s->router = gw_router_new();
		if (s->router == NULL)
			return lb_errf(err, errlen, -ENOMEM, "out of memory");
		s->m = m;
		snprintf(s->name, sizeof(s->name), "%s", st[i]);
		m->nstages++;
	}
	return 0;
}

/* ---- health from the view -------------------------------------------------- */

/* Set the health of t's service-bound upstreams from v (a backend v
 * does not know yet, e.g. during a reload, counts as unchecked: up);
 * whether any upstream's instances differ from the service's backends
 * in c. */
static bool
health_sync(struct gw_mod *m, struct gw_table *t, const struct cfg *c,
	    const struct view *v)
{
	const struct gw_sect *us = cfg_module_state(c, &gw_ups_cfg_ops);
	bool changed = false;

	for (size_t i = 0; us != NULL && i < gw_table_nupstreams(t); i++) {
		struct gw_upstream *u = gw_table_upstream(t, i);
		const struct gw_extra *x = extra_find(us, u->conf.name);
		const struct cfg_service *cs;
		const struct view_service *vs;

		if (x == NULL || x->service[0] == '\0')
			continue;
		cs = cfg_service_find(c, x->service);
		if (cs == NULL || (cs->nbackends < GW_MAX_INSTANCES
					   ? cs->nbackends
					   : GW_MAX_INSTANCES) != u->n)
			changed = true;
		vs = v != NULL ? view_find(v, x->service) : NULL;
		for (size_t k = 0; k < u->n; k++) {
			const struct gw_instance *in = &u->inst[k];
			bool ok = true; /* not in the view yet: as unchecked */

			if (cs != NULL && k < cs->nbackends &&
			    (!lb_addr_equal(&cs->backends[k].addr, &in->addr) ||
			     cs->backends[k].port != in->port ||
			     inst_weight(cs->backends[k].weight) != in->weight))
				changed = true;
			for (uint32_t b = 0; vs != NULL && b < vs->nbackends;
			     b++)
				if (vs->backends[b].port == in->port &&
				    lb_addr_equal(&vs->backends[b].addr,
						  &in->addr))
					ok = vs->backends[b].usable;
			if (ok != in->healthy) {
				gw_upstream_set_healthy(u, k, ok);
				m->health_changes++;
			}
		}
	}
	return changed;
}

/* ---- route tables ------------------------------------------------------------ */

/* Build every stage's table from c into t[]; nothing is published. */
static int
tables_build(struct gw_mod *m, const struct cfg *c, struct gw_table **t,
	     char *err, size_t errlen)
{
	struct view *v = view_get(m->d->view);
	int rc = 0;

	for (size_t i = 0; i < m->nstages; i++)
		t[i] = NULL;
	for (size_t i = 0; rc == 0 && i < m->nstages; i++) {
		struct gw_conf gc;

		rc = stage_conf(m, c, m->stages[i].name, &gc, err, errlen);
		if (rc < 0)
			break;
		t[i] = gw_table_build(&gc, err, errlen);
		gw_conf_fini(&gc);
		if (t[i] == NULL) {
			rc = -errno;
			add_line(c, err, errlen);
			break;
		}
		(void)health_sync(m, t[i], c, v);
	}
	view_put(v);
	if (rc < 0)
		for (size_t i = 0; i < m->nstages; i++)
			gw_table_put(t[i]);
	return rc;
}

static void
tables_publish(struct gw_mod *m, struct gw_table **t)
{
	for (size_t i = 0; i < m->nstages; i++) {
		struct gw_table *old = gw_router_get(m->stages[i].router);

		for (size_t k = 0; old != NULL && k < gw_table_nupstreams(old);
		     k++) {
			struct gw_upstream *u = gw_table_upstream(old, k);
			struct gw_upstream_stats s;

			gw_upstream_stats_read(u, &s);
			gw_metrics_retire_upstream(m->gm, u->conf.name, &s);
		}
		gw_router_publish(m->stages[i].router, t[i]);
		gw_table_put(old);
	}
	m->rebuilds++;
}

static int
rebuild_from(struct gw_mod *m, const struct cfg *c, char *err, size_t errlen)
{
	struct gw_table *t[GW_STAGE_MAX];
	int rc = tables_build(m, c, t, err, errlen);

	if (rc < 0) {
		m->rebuild_errors++;
		return rc;
	}
	tables_publish(m, t);
	return 0;
}

int
gw_mod_rebuild(struct gw_mod *m, char *err, size_t errlen)
{
	return rebuild_from(m, m->d->cfg, err, errlen);
}

/* ---- listeners ------------------------------------------------------------------ */

static void
limits_of(const struct gw_mod_conf *c, struct http_limits *l)
{
	*l = http_default_limits;
	l->max_conns = c->max_conns;
	l->max_conns_per_addr = c->max_conns_per_addr;
	l->max_head_bytes = c->max_header_size;
	l->max_body_bytes = c->max_body;
	l->head_timeout_ms = c->header_timeout_ms;
	l->idle_timeout_ms = c->idle_timeout_ms;
	l->max_streams = c->max_streams;
}

static void
gen_stats(struct gw_gen *g, struct gw_proxy_stats *sum)
{
	for (size_t i = 0; g != NULL && i < g->n; i++) {
		const struct gw_proxy_stats *s =
			gw_proxy_stats(g->srv[i].proxy);
		const uint64_t *a = (const uint64_t *)s;
		uint64_t *b = (uint64_t *)sum;

		for (size_t k = 0; k < sizeof(*s) / sizeof(uint64_t); k++)
			b[k] += __atomic_load_n(&a[k], __ATOMIC_RELAXED);
	}
}

static void
gen_free(struct gw_mod *m, struct gw_gen *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->n; i++) {
		if (g->srv[i].w != NULL)
			http_workers_stop(g->srv[i].w);
		http_server_free(g->srv[i].hs); /* aborts what is in flight */
		g->srv[i].hs = NULL;
	}
	for (size_t i = 0; i < g->n; i++)
		if (g->srv[i].proxy == NULL)
			g->n = i; /* a generation that failed half made */
	gen_stats(g, &m->gone);
	m->gone.active = 0;
	for (size_t i = 0; i < g->n; i++) {
		gw_proxy_free(g->srv[i].proxy);
		http_workers_free(g->srv[i].w);
	}
	free(g);
}

static int
gen_listen(struct gw_gen *g, size_t i, const struct gw_listen *l,
	   const struct http_tls *tls)
{
	struct http_listen_opts o = { .tls = l->tls ? tls : NULL,
				      .reuseport = true };
	char buf[LB_ADDRPORTSTRLEN];
	int rc;

	if (g->srv[i].hs != NULL)
		rc = http_server_listen_opts(g->srv[i].hs, &l->addr, l->port,
					     &o);
	else
		rc = http_workers_listen(g->srv[i].w, &l->addr, l->port, o.tls);
	if (rc < 0)
		LB_ERR("[gateway] listen %s%s (line %d): %s",
		       lb_addr_port_format(&l->addr, l->port, buf, sizeof(buf)),
		       l->tls ? " tls" : "", l->line, strerror(-rc));
	return rc;
}

/* A generation serving c's listeners. NULL with errno. */
static struct gw_gen *
gen_open(struct gw_mod *m, const struct gw_mod_conf *c)
{
	struct http_tls_cert certs[GW_CERT_MAX];
	struct http_tls tls = { certs, c->ncerts };
	const char *st[GW_LISTEN_MAX];
	size_t nst = conf_stages(c, st);
	struct http_limits lim;
	struct gw_gen *g = calloc(1, sizeof(*g));
	int rc = -ENOMEM;

	if (g == NULL)
		goto err;
	for (size_t i = 0; i < c->ncerts; i++) {
		certs[i].server_name =
			c->certs[i].sni[0] != '\0' ? c->certs[i].sni : NULL;
		certs[i].cert = c->certs[i].cert;
		certs[i].key = c->certs[i].key;
	}
	limits_of(c, &lim);
	for (size_t i = 0; i < nst; i++) {
		struct gw_stage *s = stage_find(m, st[i]);
		struct gw_proxy_opts po = { .on_done = on_done,
					    .on_done_arg = s };

		rc = -EINVAL;
		if (s == NULL)
			goto err;
		g->srv[i].stage = s;
		g->n++;
		g->srv[i].proxy = gw_proxy_new(
			c->workers <= 1 ? m->d->base : NULL, s->router, &po);
		if (g->srv[i].proxy == NULL)
			goto err_errno;
		if (c->workers <= 1)
			g->srv[i].hs = http_server_new(m->d->base, &lim,
						       &gw_proxy_handler,
						       g->srv[i].proxy);
		else
			g->srv[i].w = http_workers_new(c->workers, &lim,
						       &gw_proxy_handler,
						       g->srv[i].proxy);
		if (g->srv[i].hs == NULL && g->srv[i].w == NULL)
			goto err_errno;
		for (size_t k = 0; k < c->nlisten; k++) {
			if (strcmp(c->listen[k].stage, st[i]) != 0)
				continue;
			rc = gen_listen(g, i, &c->listen[k], &tls);
			if (rc < 0)
				goto err;
		}
	}
	for (size_t i = 0; i < g->n; i++)
		if (g->srv[i].w != NULL) {
			rc = http_workers_start(g->srv[i].w);
			if (rc < 0)
				goto err;
		}
	return g;
err_errno:
	rc = -errno;
err:
	gen_free(m, g);
	errno = -rc;
	return NULL;
}

static void
gen_drain(struct gw_gen *g)
{
	for (size_t i = 0; g != NULL && i < g->n; i++) {
		if (g->srv[i].hs != NULL)
			http_server_drain(g->srv[i].hs);
		if (g->srv[i].w != NULL)
			http_workers_drain(g->srv[i].w);
	}
}

static bool
gen_drained(struct gw_gen *g)
{
	for (size_t i = 0; g != NULL && i < g->n; i++) {
		if (g->srv[i].hs != NULL &&
		    http_server_active(g->srv[i].hs) > 0)
			return false;
		if (g->srv[i].w != NULL && !http_workers_drained(g->srv[i].w))
			return false;
		if (__atomic_load_n(&gw_proxy_stats(g->srv[i].proxy)->active,
				    __ATOMIC_RELAXED) > 0)
			return false;
	}
	return true;
}

/* Do a and b need different listeners? */
static bool
listeners_changed(const struct gw_mod_conf *a, const struct gw_mod_conf *b)
{
	if (a->nlisten != b->nlisten || a->ncerts != b->ncerts ||
	    a->workers != b->workers || a->max_conns != b->max_conns ||
	    a->max_conns_per_addr != b->max_conns_per_addr ||
	    a->header_timeout_ms != b->header_timeout_ms ||
	    a->idle_timeout_ms != b->idle_timeout_ms ||
	    a->max_header_size != b->max_header_size ||
	    a->max_body != b->max_body || a->max_streams != b->max_streams)
		return true;
	for (size_t i = 0; i < a->nlisten; i++) {
		const struct gw_listen *x = &a->listen[i], *y = &b->listen[i];

		if (x->port != y->port || x->tls != y->tls ||
		    !lb_addr_equal(&x->addr, &y->addr) ||
		    strcmp(x->stage, y->stage) != 0)
			return true;
	}
	for (size_t i = 0; i < a->ncerts; i++)
		if (strcmp(a->certs[i].sni, b->certs[i].sni) != 0 ||
		    strcmp(a->certs[i].cert, b->certs[i].cert) != 0 ||
		    strcmp(a->certs[i].key, b->certs[i].key) != 0)
			return true;
	return false;
}

static void
conf_copy(struct gw_mod_conf *dst, const struct gw_mod_conf *src)
{
	struct gw_cert *certs = dst->certs;

	*dst = *src;
	dst->certs = certs;
	if (src->ncerts > 0)
		memcpy(certs, src->certs, src->ncerts * sizeof(*certs));
}

/* c's [gateway], or the defaults for a cfg made without the module's
 * sections (cfg_new(NULL, 0) in tests). */
static const struct gw_mod_conf *
conf_of(const struct cfg *c, struct gw_mod_conf *defaults)
{
	const struct gw_mod_conf *gc = cfg_module_state(c, &gw_cfg_ops);

	if (gc != NULL)
		return gc;
	mod_conf_init(defaults);
	defaults->certs = NULL;
	return defaults;
}

/* ---- the timer: view, log, retired generations ------------------------------- */

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct gw_mod *m = arg;
	struct view *v = view_get(m->d->view);
	struct gw_gen **pp = &m->retired;
	uint64_t now = lb_now_ns() / 1000000;
	bool rebuild = false;

	(void)fd;
	(void)what;
	if (v != NULL && v->generation != m->view_gen) {
		m->view_gen = v->generation;
		for (size_t i = 0; i < m->nstages; i++) {
			struct gw_table *t = gw_router_get(m->stages[i].router);

			if (t != NULL)
				rebuild |= health_sync(m, t, m->d->cfg, v);
			gw_table_put(t);
		}
	}
	view_put(v);
	if (rebuild) {
		char err[256] = "";

		if (gw_mod_rebuild(m, err, sizeof(err)) < 0)
			LB_ERR("gateway: service backends changed, route "
			       "tables kept: %s",
			       err);
		else
			LB_NOTICE("gateway: service backends changed, route "
				  "tables rebuilt");
	}
	gw_log_flush(m->log);
	while (*pp != NULL) {
		struct gw_gen *g = *pp;

		if (gen_drained(g) || now - g->retired_ms > GW_RETIRE_MAX_MS) {
			*pp = g->next;
			gen_free(m, g);
		} else {
			pp = &g->next;
		}
	}
}

/* ---- metrics ------------------------------------------------------------------- */

static void
sum_http(void *arg, struct http_stats *sum)
{
	struct gw_mod *m = arg;

	for (struct gw_gen *g = m->gen; g != NULL;
	     g = g == m->gen ? m->retired : g->next)
		for (size_t i = 0; i < g->n; i++) {
			if (g->srv[i].hs != NULL)
				http_server_stats_read(g->srv[i].hs, sum);
			for (unsigned int k = 0;
			     g->srv[i].w != NULL &&
			     k < http_workers_count(g->srv[i].w);
			     k++)
				http_server_stats_read(
					http_workers_server(g->srv[i].w, k),
					sum);
		}
}

static int
mod_collect(void *state, struct metrics *reg)
{
	struct gw_mod *m = state;
	size_t max = m->nstages * GW_MAX_UPSTREAMS, n = 0;
	struct gw_metrics_up *ups = calloc(max + 1, sizeof(*ups));
	uint64_t now = lb_now_ns() / 1000000;
	struct gw_log_stats ls;
	int rc;

	if (ups == NULL)
		return -ENOMEM;

	for (size_t i = 0; i < m->nstages; i++) {
		struct gw_table *t = gw_router_get(m->stages[i].router);

		for (size_t k = 0;
		     t != NULL && k < gw_table_nupstreams(t) && n < max; k++) {
			struct gw_upstream *u = gw_table_upstream(t, k);
			struct gw_metrics_up *x = &ups[n++];

			x->stage = m->stages[i].name;
			x->name = u->conf.name; /* t stays: the router's ref */
			gw_upstream_stats_read(u, &x->st);
			x->available = x->unavailable = 0;
			for (size_t j = 0; j < u->n; j++) {
				if (gw_upstream_available(u, j, now))
					x->available++;
				else
					x->unavailable++;
			}
		}
		gw_table_put(t);
	}
	gw_log_stats_read(m->log, &ls);
	metrics_put(reg, "edgelbd_gateway_access_log_lines_total",
		    "Access log lines written.", METRICS_COUNTER, NULL, 0,
		    (double)ls.lines);
	metrics_put(reg, "edgelbd_gateway_access_log_dropped_total",
		    "Access log lines lost: too long, or a failed write.",
		    METRICS_COUNTER, NULL, 0, (double)(ls.dropped + ls.errors));
	rc = gw_metrics_collect(m->gm, reg, ups, n);
	free(ups);
	return rc;
}

/* ---- life cycle ------------------------------------------------------------------ */

static void
mod_free(struct gw_mod *m)
{
	if (m == NULL)
		return;
	if (m->tick != NULL)
		event_free(m->tick);
	http_metrics_unregister(m->hm);
	gen_free(m, m->gen);
	while (m->retired != NULL) {
		struct gw_gen *g = m->retired;

		m->retired = g->next;
		gen_free(m, g);
	}
	for (size_t i = 0; i < m->nstages; i++)
		gw_router_free(m->stages[i].router);
	gw_log_free(m->log);
	gw_metrics_free(m->gm);
	free(m->conf.certs);
	free(m);
}

static int
mod_start(struct lbd *d, const struct cfg *c, void **state)
{
	struct gw_mod_conf defaults;
	const struct gw_mod_conf *gc = conf_of(c, &defaults);
	struct gw_mod *m = calloc(1, sizeof(*m));
	struct timeval tv = { 0, GW_TICK_MS * 1000 };
	char err[256] = "";
	int rc = -ENOMEM;

	if (m == NULL)
		return -ENOMEM;
	m->d = d;
	m->conf.certs = calloc(GW_CERT_MAX, sizeof(*m->conf.certs));
	m->log = gw_log_new();
	m->gm = gw_metrics_new(d->metrics);
	m->tick = event_new(d->base, -1, EV_PERSIST, on_tick, m);
	if (m->conf.certs == NULL || m->log == NULL || m->gm == NULL ||
	    m->tick == NULL)
		goto err;
	conf_copy(&m->conf, gc);
	rc = gw_log_set_target(m->log, gc->access_log, err, sizeof(err));
	if (rc < 0)
		goto err_msg;
	/* API store: open gc->api_db here (gwapi) before the first build */
	rc = stages_ensure(m, c, err, sizeof(err));
	if (rc == 0)
		rc = rebuild_from(m, c, err, sizeof(err));
	if (rc < 0)
		goto err_msg;
	if (gc->nlisten > 0) {
		m->gen = gen_open(m, gc);
		if (m->gen == NULL) {
			rc = -errno;
			goto err;
		}
	}
	if (d->metrics != NULL) {
		m->hm = http_metrics_register(d->metrics, "gateway", sum_http,
					      m);
		if (m->hm == NULL)
			goto err;
	}
	event_add(m->tick, &tv);
	if (gc->nlisten > 0)
		LB_NOTICE("gateway: %zu listeners, %zu stages", gc->nlisten,
			  m->nstages);
	*state = m;
	return 0;
err_msg:
	LB_ERR("gateway: %s", err);
err:
	mod_free(m);
	return rc < 0 ? rc : -ENOMEM;
}

static int
mod_apply(struct lbd *d, void *state, const struct cfg *old,
	  const struct cfg *new)
{
	struct gw_mod_conf defaults;
	const struct gw_mod_conf *gc = conf_of(new, &defaults);
	struct gw_mod *m = state;
	struct gw_table *t[GW_STAGE_MAX];
	struct gw_gen *g = NULL;
	bool relisten = listeners_changed(&m->conf, gc);
	char err[256] = "";
	int rc;

	(void)d;
	(void)old;
	if (gw_log_reopen(m->log) < 0)
		LB_WARN("gateway: access log: reopen failed, writing on");
	if (strcmp(gc->access_log, m->conf.access_log) != 0 &&
	    gw_log_set_target(m->log, gc->access_log, err, sizeof(err)) < 0) {
		LB_ERR("gateway: %s; old access log kept", err);
		err[0] = '\0';
	}
	rc = stages_ensure(m, new, err, sizeof(err));
	if (rc == 0)
		rc = tables_build(m, new, t, err, sizeof(err));
	if (rc < 0) {
		m->rebuild_errors++;
		LB_ERR("gateway: reload: %s; old configuration kept", err);
		return rc;
	}
	if (relisten && gc->nlisten > 0 && !m->draining) {
		g = gen_open(m, gc);
		if (g == NULL) {
			rc = -errno;
			for (size_t i = 0; i < m->nstages; i++)
				gw_table_put(t[i]);
			m->rebuild_errors++;
			LB_ERR("gateway: reload: listeners: %s; old "
			       "configuration kept",
			       strerror(-rc));
			return rc;
		}
	}
	tables_publish(m, t);
	if (relisten && !m->draining) {
		/* the new listeners took over (SO_REUSEPORT); the old ones
		 * finish what they serve and go */
		if (m->gen != NULL) {
			gen_drain(m->gen);
			m->gen->retired_ms = lb_now_ns() / 1000000;
			m->gen->next = m->retired;
			m->retired = m->gen;
		}
		m->gen = g;
	}
	conf_copy(&m->conf, gc);
	LB_NOTICE("gateway: reloaded: %zu stages%s", m->nstages,
		  relisten ? ", new listeners" : "");
	return 0;
}

static int
mod_drain(struct lbd *d, void *state)
{
	struct gw_mod *m = state;

	(void)d;
	m->draining = true;
	gen_drain(m->gen);
	for (struct gw_gen *g = m->retired; g != NULL; g = g->next)
		gen_drain(g);
	return 0;
}

static bool
mod_drained(void *state)
{
	struct gw_mod *m = state;

	if (!gen_drained(m->gen))
		return false;
	for (struct gw_gen *g = m->retired; g != NULL; g = g->next)
		if (!gen_drained(g))
			return false;
	gw_log_flush(m->log);
	return true;
}

static void
mod_stop(struct lbd *d, void *state)
{
	(void)d;
	mod_free(state);
}

static int
mod_ctl_show(struct lbd *d, void *state, struct nl_msg *part)
{
	struct gw_mod *m = state;
	struct gw_proxy_stats s = m->gone;
	struct gw_log_stats ls;
	uint64_t cls[6], dropped, routes = 0, ups = 0, retired = 0;
	struct nlattr *cnt;
	int rc = 0;

	(void)d;
	gen_stats(m->gen, &s);
	for (struct gw_gen *g = m->retired; g != NULL; g = g->next) {
		gen_stats(g, &s);
		retired++;
	}
	for (size_t i = 0; i < m->nstages; i++) {
		struct gw_table *t = gw_router_get(m->stages[i].router);

		routes += t != NULL ? gw_table_nroutes(t) : 0;
		ups += t != NULL ? gw_table_nupstreams(t) : 0;
		gw_table_put(t);
	}
	gw_log_stats_read(m->log, &ls);
	gw_metrics_totals(m->gm, cls, &dropped);
	cnt = nla_nest_start(part, LB_ATTR_COUNTERS);
	if (cnt == NULL)
		return -EMSGSIZE;
#define C(name, v)                                                             \
	do {                                                                   \
		if (rc == 0)                                                   \
			rc = lbmsg_put_counter(part, name, (uint64_t)(v));     \
	} while (0)
	C("stages", m->nstages);
	C("listeners", m->conf.nlisten);
	C("routes", routes);
	C("upstreams", ups);
	C("requests", s.requests);
	C("active", s.active);
	C("no_route", s.no_route);
	C("attempts", s.attempts);
	C("retries", s.retries);
	C("retries_refused", s.retries_refused);
	C("client_aborts", s.client_aborts);
	C("responses_1xx", s.responses[1]);
	C("responses_2xx", s.responses[2]);
	C("responses_3xx", s.responses[3]);
	C("responses_4xx", s.responses[4]);
	C("responses_5xx", s.responses[5]);
	C("rebuilds", m->rebuilds);
	C("rebuild_errors", m->rebuild_errors);
	C("health_changes", m->health_changes);
	C("retired_listener_sets", retired);
	C("access_log_lines", ls.lines);
	C("access_log_dropped", ls.dropped);
	C("access_log_errors", ls.errors);
	C("answered_none", cls[0]);
	C("metrics_series_dropped", dropped);
#undef C
	if (rc == 0)
		nla_nest_end(part, cnt);
	return rc;
}

const struct lbd_module gw_module = {
	.name = "gateway",
	.cfg = &gw_cfg_ops,
	.start = mod_start,
	.apply = mod_apply,
	.collect = mod_collect,
	.ctl_show = mod_ctl_show,
	.drain = mod_drain,
	.drained = mod_drained,
	.stop = mod_stop,
};

/* [route] and [upstream] are the gateway's: their entries only carry the
 * sections (started, so that lbctl shows them running, not reserved). */
static int
sect_start(struct lbd *d, const struct cfg *c, void **state)
{
	(void)d;
	(void)c;
	*state = NULL;
	return 0;
}

const struct lbd_module gw_route_module = {
	.name = "route",
	.cfg = &gw_route_cfg_ops,
	.start = sect_start,
};

const struct lbd_module gw_upstream_module = {
	.name = "upstream",
	.cfg = &gw_ups_cfg_ops,
	.start = sect_start,
};
