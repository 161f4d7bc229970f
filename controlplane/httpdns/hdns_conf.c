/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HttpDNS configuration (see hdns_conf.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "hdns_conf.h"
#include "edgelb/util.h"

void
hdns_conf_init(struct hdns_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->ttl = 60;
	c->empty_ttl = 5;
	c->max_batch = 5;
	c->max_body = 4096;
	c->workers = 1;
	c->max_conns = 1024;
	c->max_conns_per_addr = 64;
	c->header_timeout_ms = 10000;
	c->idle_timeout_ms = 30000;
	c->max_header_size = 8192;
	c->max_streams = 100;
	c->sign_algo = HDNS_SIGN_HMAC_SHA256;
}

void
hdns_conf_release(struct hdns_conf *c)
{
	free(c->views);
	free(c->binds);
	hdns_conf_init(c);
}

int
hdns_conf_copy(struct hdns_conf *dst, const struct hdns_conf *src)
{
	struct hdns_view *v = NULL;
	struct hdns_bind *b = NULL;

	if (src->nviews) {
		v = malloc(src->nviews * sizeof(*v));
		if (v == NULL)
			goto err;
		memcpy(v, src->views, src->nviews * sizeof(*v));
	}
	if (src->nbinds) {
		b = malloc(src->nbinds * sizeof(*b));
		if (b == NULL)
			goto err;
		memcpy(b, src->binds, src->nbinds * sizeof(*b));
	}
	*dst = *src;
	dst->views = v;
	dst->cap_views = src->nviews;
	dst->binds = b;
	dst->cap_binds = src->nbinds;
	return 0;
err:
	free(v);
	hdns_conf_init(dst);
	return -ENOMEM;
}

void
hdns_addr_unmap(struct lb_addr *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0,    0,
					    0, 0, 0, 0, 0xff, 0xff };
	uint32_t v4;

	if (a->family != AF_INET6 || memcmp(a->v6, mapped, 12) != 0)
		return;
	memcpy(&v4, a->v6 + 12, 4);
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->v4 = v4;
}

static void
prefix_clear_host(struct hdns_prefix *p)
{
	size_t len = p->net.family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < len; i++) {
		unsigned int keep = p->plen > i * 8 ? p->plen - i * 8 : 0;

		if (keep < 8)
			p->net.bytes[i] &= (uint8_t)(0xff00u >> keep);
	}
}

bool
hdns_prefix_match(const struct hdns_prefix *p, const struct lb_addr *a)
{
	unsigned int full = p->plen / 8, rest = p->plen % 8;

	if (a->family != p->net.family)
		return false;
	if (memcmp(a->bytes, p->net.bytes, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a->bytes[full] ^ p->net.bytes[full]) &
		(uint8_t)(0xff00u >> rest)) == 0;
}

static int
parse_prefix(const char *s, struct hdns_prefix *p)
{
	int rc = lb_prefix_parse(s, &p->net, &p->plen);

	if (rc < 0)
		return rc;
	prefix_clear_host(p);
	return 0;
}

int
hdns_name_normalise(const char *in, size_t len, char *out)
{
	size_t label = 0;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > HDNS_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char ch = in[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (ch == '.') {
			if (label == 0)
				return -EINVAL;
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') ||
			   (ch >= '0' && ch <= '9') || ch == '-' || ch == '_') {
			if (++label > 63)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
		out[i] = ch;
	}
	out[len] = '\0';
	return 0;
}

static bool
view_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > HDNS_VIEW_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '_'))
			return false;
	return true;
}

static int
parse_listen(const char *value, struct lb_addr *a, uint16_t *port)
{
	int rc = lb_addr_port_parse(value, a, port, false);

	if (rc == 0 && *port == 0)
		rc = -ERANGE;
	return rc;
}

/* "service=a,b view=v ttl=30" after the domain name. */
static int
parse_bind_opt(struct hdns_bind *b, char *opt, char *err, size_t errlen)
{
	char *eq = strchr(opt, '='), *val, *tok, *save = NULL;
	uint32_t ttl;

	if (eq == NULL)
		return lb_errf(err, errlen, -EINVAL,
			       "'%s': expected service=, view= or ttl=", opt);
	*eq = '\0';
	val = eq + 1;
	if (strcmp(opt, "view") == 0) {
		if (!view_name_valid(val))
			return lb_errf(err, errlen, -EINVAL,
				       "bad view name '%s'", val);
		snprintf(b->view, sizeof(b->view), "%s", val);
	} else if (strcmp(opt, "ttl") == 0) {
		if (lb_parse_u32(val, 1, HDNS_TTL_LIMIT, &ttl) < 0)
			return lb_errf(err, errlen, -EINVAL,
				       "ttl '%s': expected 1..%u", val,
				       HDNS_TTL_LIMIT);
		b->ttl = ttl;
	} else if (strcmp(opt, "service") == 0) {
		for (tok = strtok_r(val, ",", &save); tok != NULL;
		     tok = strtok_r(NULL, ",", &save)) {
			if (b->nservices == HDNS_BIND_SVC_MAX)
				return lb_errf(err, errlen, -EINVAL,
					       "more than %d services",
					       HDNS_BIND_SVC_MAX);
			if (strlen(tok) > LB_NAME_MAX)
				return lb_errf(err, errlen, -EINVAL,
					       "service name '%s' too long",
					       tok);
			snprintf(b->services[b->nservices++], LB_NAME_MAX + 1,
				 "%s", tok);
		}
	} else {
		return lb_errf(err, errlen, -EINVAL, "unknown option '%s'",
			       opt);
	}
	return 0;
}

static int
parse_bind(struct hdns_conf *c, const char *value, char *err, size_t errlen)
{
	struct hdns_bind b = { 0 };
	char buf[1024], *tok, *save = NULL;
	int rc;

	if (strlen(value) >= sizeof(buf))
		return lb_errf(err, errlen, -EINVAL, "line too long");
	snprintf(buf, sizeof(buf), "%s", value);
	tok = strtok_r(buf, " \t", &save);
	if (tok == NULL || hdns_name_normalise(tok, strlen(tok), b.domain) < 0)
		return lb_errf(err, errlen, -EINVAL, "bad domain name '%s'",
			       tok ? tok : "");
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
		rc = parse_bind_opt(&b, tok, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (b.nservices == 0)
		return lb_errf(err, errlen, -EINVAL,
			       "domain %s: no service=", b.domain);
	if (lb_array_grow(&c->binds, &c->cap_binds, c->nbinds + 1,
			  sizeof(*c->binds)) < 0) {
		lb_errf(err, errlen, -EINVAL, "out of memory");
		return -ENOMEM;
	}
	c->binds[c->nbinds++] = b;
	return 0;
}

static int
parse_view(struct hdns_conf *c, const char *value, char *err, size_t errlen)
{
	char buf[128], *cidr, *name, *extra, *save = NULL;
	struct hdns_view v = { 0 };

	if (strlen(value) >= sizeof(buf))
		return lb_errf(err, errlen, -EINVAL, "line too long");
	snprintf(buf, sizeof(buf), "%s", value);
	cidr = strtok_r(buf, " \t", &save);
	name = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	if (cidr == NULL || name == NULL || extra != NULL)
		return lb_errf(err, errlen, -EINVAL, "expected 'CIDR NAME'");
	if (parse_prefix(cidr, &v.pfx) < 0)
		return lb_errf(err, errlen, -EINVAL, "bad prefix '%s'", cidr);
	if (!view_name_valid(name))
		return lb_errf(err, errlen, -EINVAL, "bad view name '%s'",
			       name);
	snprintf(v.name, sizeof(v.name), "%s", name);
	for (size_t i = 0; i < c->nviews; i++)
		if (c->views[i].pfx.plen == v.pfx.plen &&
		    lb_addr_equal(&c->views[i].pfx.net, &v.pfx.net))
			return lb_errf(err, errlen, -EINVAL,
				       "prefix '%s' given twice", cidr);
	if (lb_array_grow(&c->views, &c->cap_views, c->nviews + 1,
			  sizeof(*c->views)) < 0) {
		lb_errf(err, errlen, -EINVAL, "out of memory");
		return -ENOMEM;
	}
	c->views[c->nviews++] = v;
	return 0;
}

/* ---- the keys of [httpdns] (struct cfg_key) ---------------------------- */

#define CONF(p)	       ((struct hdns_conf *)(p)->obj)
#define FIELD(p, type) ((type *)((char *)(p)->obj + (p)->key->offset))
#define OFF(field)     offsetof(struct hdns_conf, field)

/* A number in [min, max] of the key into a uint32_t at offset. */
static int
set_u32(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	const struct cfg_key *k = p->key;

	if (lb_parse_u32(v, k->min, k->max, FIELD(p, uint32_t)) < 0)
		return lb_errf(err, n, -EINVAL, "expected %u..%u", k->min,
			       k->max);
	return 0;
}

/* A duration (lb_parse_duration_ms) of min..max ms at offset. */
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

/* A path into char[PATH_MAX] at offset. */
static int
set_path(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (v[0] == '\0' || strlen(v) >= PATH_MAX)
		return lb_errf(err, n, -EINVAL, "bad path");
	snprintf(FIELD(p, char), PATH_MAX, "%s", v);
	return 0;
}

static int
k_listen(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (parse_listen(v, &CONF(p)->listen_addr, &CONF(p)->listen_port) < 0)
		return lb_errf(err, n, -EINVAL, "expected ADDR:PORT");
	CONF(p)->has_listen = true;
	return 0;
}

static int
k_https_listen(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (parse_listen(v, &CONF(p)->https_addr, &CONF(p)->https_port) < 0)
		return lb_errf(err, n, -EINVAL, "expected ADDR:PORT");
	CONF(p)->has_https = true;
	return 0;
}

static int
k_secret(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (v[0] == '\0' || strlen(v) > HDNS_SECRET_MAX)
		return lb_errf(err, n, -EINVAL, "secret: 1..%d bytes",
			       HDNS_SECRET_MAX);
	snprintf(CONF(p)->secret, sizeof(CONF(p)->secret), "%s", v);
	return 0;
}

static int
k_sign_algo(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (strcasecmp(v, "hmac-sha256") == 0)
		CONF(p)->sign_algo = HDNS_SIGN_HMAC_SHA256;
	else if (strcasecmp(v, "md5") == 0)
		CONF(p)->sign_algo = HDNS_SIGN_MD5;
	else
		return lb_errf(err, n, -EINVAL, "expected hmac-sha256 or md5");
	return 0;
}

static int
k_trusted_proxy(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	struct hdns_conf *c = CONF(p);

	if (c->nproxies == HDNS_PROXY_MAX)
		return lb_errf(err, n, -EINVAL, "more than %d trusted_proxy",
			       HDNS_PROXY_MAX);
	if (parse_prefix(v, &c->proxies[c->nproxies]) < 0)
		return lb_errf(err, n, -EINVAL, "expected a prefix (ADDR/LEN)");
	c->nproxies++;
	return 0;
}

static int
k_fallback(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	struct hdns_conf *c = CONF(p);

	if (c->nfallback == HDNS_FALLBACK_MAX)
		return lb_errf(err, n, -EINVAL, "more than %d fallback",
			       HDNS_FALLBACK_MAX);
	if (lb_addr_parse(v, &c->fallback[c->nfallback]) < 0)
		return lb_errf(err, n, -EINVAL, "expected an address");
	c->nfallback++;
	return 0;
}

static int
k_view(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	return parse_view(CONF(p), v, err, n);
}

static int
k_domain(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	return parse_bind(CONF(p), v, err, n);
}

#define U32(name, field, lo, hi)                                               \
	{                                                                      \
		name, set_u32, OFF(field), .min = (lo), .max = (hi)            \
	}
#define DURATION(name, field)                                                  \
	{                                                                      \
		name, set_duration, OFF(field), .min = 1,                      \
						.max = HDNS_TIMEOUT_MAX        \
	}

const struct cfg_key hdns_conf_keys[] = {
	{ "listen", k_listen },
	{ "https_listen", k_https_listen },
	{ "cert", set_path, OFF(cert) },
	{ "key", set_path, OFF(key) },
	U32("ttl", ttl, 1, HDNS_TTL_LIMIT),
	U32("empty_ttl", empty_ttl, 0, HDNS_TTL_LIMIT),
	U32("max_batch", max_batch, 1, HDNS_BATCH_LIMIT),
	U32("max_body", max_body, 512, HDNS_BODY_LIMIT),
	U32("workers", workers, 1, HDNS_WORKERS_MAX),
	U32("max_connections", max_conns, 1, HDNS_CONNS_MAX),
	U32("max_connections_per_addr", max_conns_per_addr, 1, HDNS_CONNS_MAX),
	DURATION("header_timeout", header_timeout_ms),
	DURATION("idle_timeout", idle_timeout_ms),
	U32("max_header_size", max_header_size, HDNS_HEADER_MIN,
	    HDNS_HEADER_MAX),
	U32("max_streams", max_streams, 1, HDNS_STREAMS_MAX),
	{ "secret", k_secret },
	{ "sign_algo", k_sign_algo },
	{ "trusted_proxy", k_trusted_proxy, .flags = CFG_KEY_REPEAT },
	{ "fallback", k_fallback, .flags = CFG_KEY_REPEAT },
	{ "view", k_view, .flags = CFG_KEY_REPEAT },
	{ "domain", k_domain, .flags = CFG_KEY_REPEAT },
	{ NULL },
};

int
hdns_conf_key(struct hdns_conf *c, const char *key, const char *value,
	      char *err, size_t errlen)
{
	const struct cfg_key *k = cfg_key_find(hdns_conf_keys, key);
	struct cfg_set set = { .key = k, .obj = c };

	if (k == NULL)
		return lb_errf(err, errlen, -EINVAL, "unknown key");
	return k->set(&set, value, err, errlen); /* 0, -EINVAL or -ENOMEM */
}

static bool
view_exists(const struct hdns_conf *c, const char *name)
{
	for (size_t i = 0; i < c->nviews; i++)
		if (strcmp(c->views[i].name, name) == 0)
			return true;
	return false;
}

int
hdns_conf_validate(const struct hdns_conf *c, char *err, size_t errlen)
{
	if (c->has_https && (c->cert[0] == '\0' || c->key[0] == '\0'))
		return lb_errf(err, errlen, -EINVAL,
			       "https_listen needs cert and key");
	if (c->empty_ttl > c->ttl)
		return lb_errf(err, errlen, -EINVAL,
			       "empty_ttl %u above ttl %u", c->empty_ttl,
			       c->ttl);
	if (c->max_conns_per_addr > c->max_conns)
		return lb_errf(err, errlen, -EINVAL,
			       "max_connections_per_addr %u above "
			       "max_connections %u",
			       c->max_conns_per_addr, c->max_conns);
	for (size_t i = 0; i < c->nbinds; i++) {
		const struct hdns_bind *b = &c->binds[i];

		if (b->view[0] && !view_exists(c, b->view))
			return lb_errf(err, errlen, -EINVAL,
				       "domain %s: unknown view '%s'",
				       b->domain, b->view);
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->binds[j].domain, b->domain) == 0 &&
			    strcmp(c->binds[j].view, b->view) == 0)
				return lb_errf(
					err, errlen, -EINVAL,
					"domain %s bound twice in view '%s'",
					b->domain,
					b->view[0] ? b->view : "default");
	}
	return 0;
}

const char *
hdns_conf_view(const struct hdns_conf *c, const struct lb_addr *client)
{
	const struct hdns_view *best = NULL;

	for (size_t i = 0; i < c->nviews; i++) {
		const struct hdns_view *v = &c->views[i];

		if (hdns_prefix_match(&v->pfx, client) &&
		    (best == NULL || v->pfx.plen > best->pfx.plen))
			best = v;
	}
	return best != NULL ? best->name : NULL;
}

const struct hdns_bind *
hdns_conf_bind(const struct hdns_conf *c, const char *domain, const char *view)
{
	const struct hdns_bind *dflt = NULL;

	for (size_t i = 0; i < c->nbinds; i++) {
		const struct hdns_bind *b = &c->binds[i];

		if (strcmp(b->domain, domain) != 0)
			continue;
		if (b->view[0] == '\0')
			dflt = b;
		else if (view != NULL && strcmp(b->view, view) == 0)
			return b;
	}
	return dflt;
}
