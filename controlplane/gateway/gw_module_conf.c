/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The gateway module's configuration (see gw_module.h): the keys of
 * [gateway] as a cfg_key table, the [route NAME] and [upstream NAME]
 * sections on top of gw_conf_key (stage =, service =, a regex checked
 * where it is read), their validation by building every stage's table,
 * and each stage's gw_conf.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "gw_log.h"
#include "gw_module.h"
#include "gw_filter_module.h"
#include "gw_module_priv.h"
#include "edgelb/util.h"

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

/* listen = ADDR:PORT [tls] [stage=NAME], into ls[*n] */
static int
listen_parse(struct gw_listen *ls, size_t *nls, const char *v, int line,
	     char *err, size_t n)
{
	struct gw_listen *l;
	char buf[256], *tok, *save = NULL;

	if (*nls >= GW_LISTEN_MAX)
		return lb_errf(err, n, -ENOSPC, "at most %d listeners",
			       GW_LISTEN_MAX);
	if (strlen(v) >= sizeof(buf))
		return lb_errf(err, n, -EINVAL, "too long");
	strcpy(buf, v);
	l = &ls[*nls];
	memset(l, 0, sizeof(*l));
	strcpy(l->stage, "prod");
	l->line = line;
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
	for (size_t i = 0; i < *nls; i++)
		if (ls[i].port == l->port &&
		    lb_addr_equal(&ls[i].addr, &l->addr))
			return lb_errf(err, n, -EINVAL,
				       "address given twice (line %d)",
				       ls[i].line);
	(*nls)++;
	return 0;
}

static int
k_listen(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	struct gw_mod_conf *c = CONF(p);

	return listen_parse(c->listen, &c->nlisten, v, p->line, err, n);
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

void
gw_mod_conf_init(struct gw_mod_conf *c)
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
	gw_mod_conf_init(c);
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
size_t
gw_mod_conf_stages(const struct gw_mod_conf *c, const char *out[GW_LISTEN_MAX])
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
	if (gw_mod_conf_stages(gc, st) > GW_STAGE_MAX)
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

struct gw_extra *
gw_mod_extra_find(const struct gw_sect *s, const char *name)
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
	const struct gw_extra *old = gw_mod_extra_find(s, name);
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
	struct gw_extra *x = gw_mod_extra_find(s, name);

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
	if (strcmp(key, "partition") == 0) {
		if (!is_name(value, sizeof(x->partition)))
			return lb_errf(err, errlen, -EINVAL,
				       "1-%d characters of A-Z a-z 0-9 _ . -",
				       (int)sizeof(x->partition) - 1);
		strcpy(x->partition, value);
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
	struct gw_extra *x = gw_mod_extra_find(s, name);

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

	return s != NULL ? gw_mod_extra_find(s, name) : NULL;
}

/* An instance's weight for a backend's: 0 (out, by health) as 1, at
 * most GW_MAX_WEIGHT. */
uint32_t
gw_mod_inst_weight(uint32_t w)
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
		in->weight = gw_mod_inst_weight(s->backends[i].weight);
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
 * The gw_conf of one stage of a partition from c's [route] and
 * [upstream] sections: its routes, every upstream, service-bound ones filled from c; then,
 * with the module's state m (NULL when a file is only checked), what
 * the API store adds. out is the caller's (gw_conf_fini). 0 or -errno
 * with err set.
 */
int
gw_mod_stage_conf(struct gw_mod *m, const struct cfg *c,
		  const struct gw_unit *un, struct gw_conf *out, char *err,
		  size_t errlen)
{
	const char *stage = un->stage;
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
		const struct gw_extra *x = gw_mod_extra_find(rs, r->name);

		if (strcmp(x != NULL ? x->partition : "", un->part) != 0)
			continue;
		if (x == NULL || stage_has(x->stage, stage))
			out->routes[out->nroutes++] = *r;
	}
	for (size_t i = 0; i < nu; i++) {
		struct gw_upstream_conf *u = &out->ups[out->nups++];
		const struct gw_extra *x =
			gw_mod_extra_find(us, us->gc.ups[i].name);

		*u = us->gc.ups[i];
		if (x == NULL || x->service[0] == '\0')
			continue;
		rc = service_instances(c, x, u, err, errlen);
		if (rc < 0) {
			gw_conf_fini(out);
			return rc;
		}
	}
	rc = gw_filter_stage_conf(c, out, err, errlen);
	if (rc < 0) {
		gw_conf_fini(out);
		return rc;
	}
	if (m != NULL && un->part[0] == '\0') {
		/* the API store's routes: the default partition's */
		rc = gw_mod_extra_conf(m, stage, out, err, errlen);
		if (rc < 0) {
			gw_conf_fini(out);
			return rc;
		}
	}
	return 0;
}

/* Name the line of the route or upstream an error of gw_table_build is
 * about ("route NAME: ..." or "upstream NAME: ..."). */
void
gw_mod_err_line(const struct cfg *c, char *err, size_t errlen)
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
size_t
gw_mod_cfg_stages(const struct cfg *c, const char *st[GW_LISTEN_MAX])
{
	const struct gw_mod_conf *gc = cfg_module_state(c, &gw_cfg_ops);
	size_t n = gc != NULL ? gw_mod_conf_stages(gc, st) : 0;

	if (n == 0)
		st[n++] = "prod";
	return n;
}

static int
sect_check(const struct gw_sect *s, bool route, const struct cfg *c, char *err,
	   size_t errlen)
{
	const struct gw_parts *ps = gw_mod_cfg_parts(c);

	for (size_t i = 0; i < s->nx; i++) {
		const struct gw_extra *x = &s->x[i];
		const char *st[GW_LISTEN_MAX];
		size_t nst = 0;
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
		if (route && x->partition[0] != '\0') {
			const struct gw_part_conf *pc =
				gw_mod_part_find(ps, x->partition);

			if (pc == NULL)
				return lb_errf(err, errlen, -EINVAL,
					       "route %s (line %d): partition: "
					       "no [partition %s]",
					       x->name, x->line, x->partition);
			for (size_t j = 0; j < pc->nlisten; j++)
				st[nst++] = pc->listen[j].stage;
		} else if (route) {
			nst = gw_mod_cfg_stages(c, st);
		}
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
		const struct gw_extra *x = gw_mod_extra_find(s, u->name);

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

/* Every (stage, partition) table is built once, as a start or a reload
 * would. */
static int
route_validate(void *state, const struct cfg *c, char *err, size_t errlen)
{
	struct gw_unit un[GW_STAGE_MAX];
	size_t nun = gw_mod_cfg_units(c, un, GW_STAGE_MAX);
	int rc = sect_check(state, true, c, err, errlen);

	if (nun > GW_STAGE_MAX)
		nun = GW_STAGE_MAX; /* [partition] validation says so */
	for (size_t i = 0; rc == 0 && i < nun; i++) {
		struct gw_conf gc;
		struct gw_table *t;

		rc = gw_mod_stage_conf(NULL, c, &un[i], &gc, err, errlen);
		if (rc < 0)
			break;
		t = gw_table_build(&gc, err, errlen);
		gw_conf_fini(&gc);
		if (t == NULL) {
			gw_mod_err_line(c, err, errlen);
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

/* ---- [partition NAME] ------------------------------------------------------------ */

#define POFF(field) offsetof(struct gw_part_conf, field)

static int
pk_listen(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	struct gw_part_conf *pc = p->obj;

	return listen_parse(pc->listen, &pc->nlisten, v, p->line, err, n);
}

static const struct cfg_key part_keys[] = {
	{ "listen", pk_listen, .flags = CFG_KEY_REPEAT },
	{ "workers", set_u32, POFF(workers), .min = 1, .max = GW_WORKERS_MAX },
	{ "max_connections", set_u32, POFF(max_conns), .min = 1,
	  .max = GW_CONNS_MAX },
	{ "max_requests", set_u32, POFF(max_requests), .min = 0,
	  .max = GW_CONNS_MAX },
	{ "max_upstream_connections", set_u32, POFF(max_upstream_conns),
	  .min = 0, .max = GW_CONNS_MAX },
	{ "retry_after", set_u32, POFF(retry_after), .min = 1,
	  .max = GW_RETRY_AFTER_MAX },
	{ NULL },
};

static void *
part_create(void)
{
	return calloc(1, sizeof(struct gw_parts));
}

static void
part_destroy(void *state)
{
	free(state);
}

const struct gw_part_conf *
gw_mod_part_find(const struct gw_parts *ps, const char *name)
{
	for (size_t i = 0; ps != NULL && i < ps->n; i++)
		if (strcmp(ps->p[i].name, name) == 0)
			return &ps->p[i];
	return NULL;
}

const struct gw_parts *
gw_mod_cfg_parts(const struct cfg *c)
{
	static const struct gw_parts none;
	const struct gw_parts *ps = cfg_module_state(c, &gw_part_cfg_ops);

	return ps != NULL ? ps : &none;
}

static int
part_open(void *state, const char *name, int line, char *err, size_t errlen)
{
	struct gw_parts *ps = state;
	const struct gw_part_conf *old = gw_mod_part_find(ps, name);
	struct gw_part_conf *pc;

	if (old != NULL)
		return lb_errf(err, errlen, -EINVAL,
			       "given twice (first on line %d)", old->line);
	if (!is_name(name, GW_PART_NAME_MAX))
		return lb_errf(err, errlen, -EINVAL,
			       "name: 1-%d characters of A-Z a-z 0-9 _ . -",
			       GW_PART_NAME_MAX - 1);
	if (ps->n >= GW_PART_MAX)
		return lb_errf(err, errlen, -ENOSPC, "at most %d partitions",
			       GW_PART_MAX);
	pc = &ps->p[ps->n++];
	memset(pc, 0, sizeof(*pc));
	snprintf(pc->name, sizeof(pc->name), "%s", name);
	pc->line = line;
	pc->workers = 1;
	pc->max_conns = 1024;
	pc->max_requests = 256;
	pc->retry_after = 1;
	return 0;
}

static int
part_key(void *state, const char *name, const char *key, const char *value,
	 char *err, size_t errlen)
{
	struct gw_parts *ps = state;
	struct gw_part_conf *pc =
		(struct gw_part_conf *)gw_mod_part_find(ps, name);
	const struct cfg_key *k = cfg_key_find(part_keys, key);
	struct cfg_set set;
	uint32_t bit;

	if (pc == NULL)
		return lb_errf(err, errlen, -EINVAL, "no section");
	if (k == NULL)
		return lb_errf(err, errlen, -EINVAL, "unknown key");
	bit = 1u << (k - part_keys);
	if (!(k->flags & CFG_KEY_REPEAT) && (pc->seen & bit))
		return lb_errf(err, errlen, -EINVAL, "given twice");
	pc->seen |= bit;
	/* the section's line: a key callback is not told its own */
	set = (struct cfg_set){ .obj = pc, .key = k, .line = pc->line };
	return k->set(&set, value, err, errlen);
}

/* Is l's address also served elsewhere in c? Its line there, or 0. */
static int
listen_taken(const struct cfg *c, const struct gw_part_conf *self,
	     const struct gw_listen *l, const char **where)
{
	const struct gw_mod_conf *gc = cfg_module_state(c, &gw_cfg_ops);
	const struct gw_parts *ps = gw_mod_cfg_parts(c);

	for (size_t i = 0; gc != NULL && i < gc->nlisten; i++)
		if (gc->listen[i].port == l->port &&
		    lb_addr_equal(&gc->listen[i].addr, &l->addr)) {
			*where = "gateway";
			return gc->listen[i].line;
		}
	for (size_t i = 0; i < ps->n && &ps->p[i] != self; i++)
		for (size_t k = 0; k < ps->p[i].nlisten; k++)
			if (ps->p[i].listen[k].port == l->port &&
			    lb_addr_equal(&ps->p[i].listen[k].addr, &l->addr)) {
				*where = ps->p[i].name;
				return ps->p[i].listen[k].line;
			}
	return 0;
}

static int
part_validate(void *state, const struct cfg *c, char *err, size_t errlen)
{
	const struct gw_parts *ps = state;
	const struct gw_mod_conf *gc = cfg_module_state(c, &gw_cfg_ops);
	struct gw_unit un[GW_STAGE_MAX];

	for (size_t i = 0; i < ps->n; i++) {
		const struct gw_part_conf *pc = &ps->p[i];

		if (pc->nlisten == 0)
			return lb_errf(err, errlen, -EINVAL,
				       "partition %s (line %d): needs a listen",
				       pc->name, pc->line);
		for (size_t k = 0; k < pc->nlisten; k++) {
			const struct gw_listen *l = &pc->listen[k];
			const char *where = NULL;
			int line = listen_taken(c, pc, l, &where);

			if (l->tls && (gc == NULL || gc->ncerts == 0))
				return lb_errf(err, errlen, -EINVAL,
					       "partition %s (line %d): a tls "
					       "listener needs a cert in "
					       "[gateway]",
					       pc->name, l->line);
			if (line > 0)
				return lb_errf(err, errlen, -EINVAL,
					       "partition %s (line %d): listen "
					       "address also in [%s%s] (line "
					       "%d)",
					       pc->name, l->line,
					       strcmp(where, "gateway") == 0
						       ? ""
						       : "partition ",
					       where, line);
			/* its series carry stage="STAGE/PARTITION" */
			if (strlen(l->stage) + 1 + strlen(pc->name) >=
			    GW_STAGE_NAME_MAX)
				return lb_errf(err, errlen, -EINVAL,
					       "partition %s (line %d): "
					       "\"%s/%s\" over %d characters",
					       pc->name, l->line, l->stage,
					       pc->name, GW_STAGE_NAME_MAX - 1);
		}
	}
	if (gw_mod_cfg_units(c, un, GW_STAGE_MAX) > GW_STAGE_MAX)
		return lb_errf(err, errlen, -EINVAL,
			       "at most %d (stage, partition) pairs",
			       GW_STAGE_MAX);
	return 0;
}

size_t
gw_mod_cfg_units(const struct cfg *c, struct gw_unit *out, size_t max)
{
	const struct gw_parts *ps = gw_mod_cfg_parts(c);
	const char *st[GW_LISTEN_MAX];
	size_t n = 0, nst = gw_mod_cfg_stages(c, st);

	for (size_t i = 0; i < nst; i++, n++)
		if (n < max)
			out[n] = (struct gw_unit){ st[i], "" };
	for (size_t i = 0; i < ps->n; i++) {
		const struct gw_part_conf *pc = &ps->p[i];

		for (size_t k = 0; k < pc->nlisten; k++) {
			bool dup = false;

			for (size_t j = 0; j < k; j++)
				dup |= strcmp(pc->listen[j].stage,
					      pc->listen[k].stage) == 0;
			if (dup)
				continue;
			if (n < max)
				out[n] = (struct gw_unit){ pc->listen[k].stage,
							   pc->name };
			n++;
		}
	}
	return n;
}

const struct cfg_module_ops gw_part_cfg_ops = {
	.section = "partition",
	.named = true,
	.create = part_create,
	.destroy = part_destroy,
	.open = part_open,
	.key = part_key,
	.validate = part_validate,
};
