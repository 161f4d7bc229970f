/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HttpDNS configuration (see hdns_conf.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "hdns_conf.h"

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

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
	dst->binds = b;
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
		return fail(err, errlen,
			    "'%s': expected service=, view= or ttl=", opt);
	*eq = '\0';
	val = eq + 1;
	if (strcmp(opt, "view") == 0) {
		if (!view_name_valid(val))
			return fail(err, errlen, "bad view name '%s'", val);
		snprintf(b->view, sizeof(b->view), "%s", val);
	} else if (strcmp(opt, "ttl") == 0) {
		if (lb_parse_u32(val, 1, HDNS_TTL_LIMIT, &ttl) < 0)
			return fail(err, errlen, "ttl '%s': expected 1..%u",
				    val, HDNS_TTL_LIMIT);
		b->ttl = ttl;
	} else if (strcmp(opt, "service") == 0) {
		for (tok = strtok_r(val, ",", &save); tok != NULL;
		     tok = strtok_r(NULL, ",", &save)) {
			if (b->nservices == HDNS_BIND_SVC_MAX)
				return fail(err, errlen,
					    "more than %d services",
					    HDNS_BIND_SVC_MAX);
			if (strlen(tok) > LB_NAME_MAX)
				return fail(err, errlen,
					    "service name '%s' too long", tok);
			snprintf(b->services[b->nservices++], LB_NAME_MAX + 1,
				 "%s", tok);
		}
	} else {
		return fail(err, errlen, "unknown option '%s'", opt);
	}
	return 0;
}

static int
parse_bind(struct hdns_conf *c, const char *value, char *err, size_t errlen)
{
	struct hdns_bind b = { 0 }, *nb;
	char buf[1024], *tok, *save = NULL;
	int rc;

	if (strlen(value) >= sizeof(buf))
		return fail(err, errlen, "line too long");
	snprintf(buf, sizeof(buf), "%s", value);
	tok = strtok_r(buf, " \t", &save);
	if (tok == NULL || hdns_name_normalise(tok, strlen(tok), b.domain) < 0)
		return fail(err, errlen, "bad domain name '%s'",
			    tok ? tok : "");
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
		rc = parse_bind_opt(&b, tok, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (b.nservices == 0)
		return fail(err, errlen, "domain %s: no service=", b.domain);
	nb = realloc(c->binds, (c->nbinds + 1) * sizeof(*nb));
	if (nb == NULL)
		return -ENOMEM;
	c->binds = nb;
	c->binds[c->nbinds++] = b;
	return 0;
}

static int
parse_view(struct hdns_conf *c, const char *value, char *err, size_t errlen)
{
	char buf[128], *cidr, *name, *extra, *save = NULL;
	struct hdns_view v = { 0 }, *nv;

	if (strlen(value) >= sizeof(buf))
		return fail(err, errlen, "line too long");
	snprintf(buf, sizeof(buf), "%s", value);
	cidr = strtok_r(buf, " \t", &save);
	name = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	if (cidr == NULL || name == NULL || extra != NULL)
		return fail(err, errlen, "expected 'CIDR NAME'");
	if (parse_prefix(cidr, &v.pfx) < 0)
		return fail(err, errlen, "bad prefix '%s'", cidr);
	if (!view_name_valid(name))
		return fail(err, errlen, "bad view name '%s'", name);
	snprintf(v.name, sizeof(v.name), "%s", name);
	for (size_t i = 0; i < c->nviews; i++)
		if (c->views[i].pfx.plen == v.pfx.plen &&
		    lb_addr_equal(&c->views[i].pfx.net, &v.pfx.net))
			return fail(err, errlen, "prefix '%s' given twice",
				    cidr);
	nv = realloc(c->views, (c->nviews + 1) * sizeof(*nv));
	if (nv == NULL)
		return -ENOMEM;
	c->views = nv;
	c->views[c->nviews++] = v;
	return 0;
}

static int
parse_u32_key(const char *value, uint32_t min, uint32_t max, uint32_t *out,
	      char *err, size_t errlen)
{
	if (lb_parse_u32(value, min, max, out) < 0)
		return fail(err, errlen, "expected %u..%u", min, max);
	return 0;
}

/* A duration: N or Ns (seconds), Nms, Nm; 1 ms .. HDNS_TIMEOUT_MAX. */
static int
parse_duration_key(const char *value, uint32_t *out, char *err, size_t errlen)
{
	unsigned long long v = 0, mult = 1000;
	const char *q = value;

	for (; *q >= '0' && *q <= '9' && v <= HDNS_TIMEOUT_MAX; q++)
		v = v * 10 + (unsigned long long)(*q - '0');
	if (q == value)
		goto bad;
	if (strcmp(q, "ms") == 0)
		mult = 1;
	else if (strcmp(q, "m") == 0)
		mult = 60000;
	else if (*q != '\0' && strcmp(q, "s") != 0)
		goto bad;
	v *= mult;
	if (v == 0 || v > HDNS_TIMEOUT_MAX)
		goto bad;
	*out = (uint32_t)v;
	return 0;
bad:
	return fail(err, errlen,
		    "expected a duration (N, Nms, Ns, Nm) of 1ms..%um",
		    HDNS_TIMEOUT_MAX / 60000);
}

int
hdns_conf_key(struct hdns_conf *c, const char *key, const char *value,
	      char *err, size_t errlen)
{
	if (strcmp(key, "listen") == 0) {
		if (parse_listen(value, &c->listen_addr, &c->listen_port) < 0)
			return fail(err, errlen, "expected ADDR:PORT");
		c->has_listen = true;
	} else if (strcmp(key, "https_listen") == 0) {
		if (parse_listen(value, &c->https_addr, &c->https_port) < 0)
			return fail(err, errlen, "expected ADDR:PORT");
		c->has_https = true;
	} else if (strcmp(key, "cert") == 0 || strcmp(key, "key") == 0) {
		char *dst = key[0] == 'c' ? c->cert : c->key;

		if (value[0] == '\0' || strlen(value) >= PATH_MAX)
			return fail(err, errlen, "bad path");
		snprintf(dst, PATH_MAX, "%s", value);
	} else if (strcmp(key, "ttl") == 0) {
		return parse_u32_key(value, 1, HDNS_TTL_LIMIT, &c->ttl, err,
				     errlen);
	} else if (strcmp(key, "empty_ttl") == 0) {
		return parse_u32_key(value, 0, HDNS_TTL_LIMIT, &c->empty_ttl,
				     err, errlen);
	} else if (strcmp(key, "max_batch") == 0) {
		return parse_u32_key(value, 1, HDNS_BATCH_LIMIT, &c->max_batch,
				     err, errlen);
	} else if (strcmp(key, "max_body") == 0) {
		return parse_u32_key(value, 512, HDNS_BODY_LIMIT, &c->max_body,
				     err, errlen);
	} else if (strcmp(key, "workers") == 0) {
		return parse_u32_key(value, 1, HDNS_WORKERS_MAX, &c->workers,
				     err, errlen);
	} else if (strcmp(key, "max_connections") == 0) {
		return parse_u32_key(value, 1, HDNS_CONNS_MAX, &c->max_conns,
				     err, errlen);
	} else if (strcmp(key, "max_connections_per_addr") == 0) {
		return parse_u32_key(value, 1, HDNS_CONNS_MAX,
				     &c->max_conns_per_addr, err, errlen);
	} else if (strcmp(key, "header_timeout") == 0) {
		return parse_duration_key(value, &c->header_timeout_ms, err,
					  errlen);
	} else if (strcmp(key, "idle_timeout") == 0) {
		return parse_duration_key(value, &c->idle_timeout_ms, err,
					  errlen);
	} else if (strcmp(key, "max_header_size") == 0) {
		return parse_u32_key(value, HDNS_HEADER_MIN, HDNS_HEADER_MAX,
				     &c->max_header_size, err, errlen);
	} else if (strcmp(key, "max_streams") == 0) {
		return parse_u32_key(value, 1, HDNS_STREAMS_MAX,
				     &c->max_streams, err, errlen);
	} else if (strcmp(key, "secret") == 0) {
		if (value[0] == '\0' || strlen(value) > HDNS_SECRET_MAX)
			return fail(err, errlen, "secret: 1..%d bytes",
				    HDNS_SECRET_MAX);
		snprintf(c->secret, sizeof(c->secret), "%s", value);
	} else if (strcmp(key, "sign_algo") == 0) {
		if (strcasecmp(value, "hmac-sha256") == 0)
			c->sign_algo = HDNS_SIGN_HMAC_SHA256;
		else if (strcasecmp(value, "md5") == 0)
			c->sign_algo = HDNS_SIGN_MD5;
		else
			return fail(err, errlen, "expected hmac-sha256 or md5");
	} else if (strcmp(key, "trusted_proxy") == 0) {
		if (c->nproxies == HDNS_PROXY_MAX)
			return fail(err, errlen, "more than %d trusted_proxy",
				    HDNS_PROXY_MAX);
		if (parse_prefix(value, &c->proxies[c->nproxies]) < 0)
			return fail(err, errlen,
				    "expected a prefix (ADDR/LEN)");
		c->nproxies++;
	} else if (strcmp(key, "fallback") == 0) {
		if (c->nfallback == HDNS_FALLBACK_MAX)
			return fail(err, errlen, "more than %d fallback",
				    HDNS_FALLBACK_MAX);
		if (lb_addr_parse(value, &c->fallback[c->nfallback]) < 0)
			return fail(err, errlen, "expected an address");
		c->nfallback++;
	} else if (strcmp(key, "view") == 0) {
		return parse_view(c, value, err, errlen);
	} else if (strcmp(key, "domain") == 0) {
		return parse_bind(c, value, err, errlen);
	} else {
		return fail(err, errlen, "unknown key");
	}
	return 0;
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
		return fail(err, errlen, "https_listen needs cert and key");
	if (c->empty_ttl > c->ttl)
		return fail(err, errlen, "empty_ttl %u above ttl %u",
			    c->empty_ttl, c->ttl);
	if (c->max_conns_per_addr > c->max_conns)
		return fail(err, errlen,
			    "max_connections_per_addr %u above "
			    "max_connections %u",
			    c->max_conns_per_addr, c->max_conns);
	for (size_t i = 0; i < c->nbinds; i++) {
		const struct hdns_bind *b = &c->binds[i];

		if (b->view[0] && !view_exists(c, b->view))
			return fail(err, errlen, "domain %s: unknown view '%s'",
				    b->domain, b->view);
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->binds[j].domain, b->domain) == 0 &&
			    strcmp(c->binds[j].view, b->view) == 0)
				return fail(
					err, errlen,
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
