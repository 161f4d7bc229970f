/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vendor channels' registry, their [push_vendor NAME] configuration,
 * and the state every channel shares (struct pv_base): the HTTP client,
 * the counters, the sends in flight and their one way to end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "edgelb/log.h"
#include "edgelb/util.h"
#include "push_vendor_priv.h"

static const struct push_vendor_ops *const pv_vendors[] = {
	&push_vendor_apns,
	&push_vendor_fcm,
	&push_vendor_huawei,
	&push_vendor_xiaomi,
};

const struct push_vendor_ops *
push_vendor_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(pv_vendors) / sizeof(pv_vendors[0]); i++)
		if (strcmp(pv_vendors[i]->name, name) == 0)
			return pv_vendors[i];
	return NULL;
}

const char *
push_vendor_result_name(enum push_vendor_result r)
{
	switch (r) {
	case PV_OK:
		return "ok";
	case PV_RETRY:
		return "retry";
	case PV_BAD_TOKEN:
		return "bad_token";
	case PV_FAILED:
		return "failed";
	}
	return "unknown";
}

/* ---- configuration --------------------------------------------------- */

enum pv_kind { PV_TEXT, PV_MS, PV_NUM };

struct pv_key {
	const char *name;
	enum pv_kind kind;
	size_t offset, size; /* text: char[size]; others: uint32_t */
	uint32_t min, max;
};

#define PVT(n)                                                                 \
	{                                                                      \
#n, PV_TEXT, offsetof(struct push_vendor_conf, n),             \
			sizeof(((struct push_vendor_conf *)0)->n), 0, 0        \
	}
#define PVN(n, k, lo, hi)                                                      \
	{                                                                      \
#n, k, offsetof(struct push_vendor_conf, n##_ms), 0, lo, hi    \
	}

static const struct pv_key pv_keys[] = {
	PVT(type),
	PVT(endpoint),
	PVT(address),
	PVT(token_url),
	PVT(token_address),
	PVT(resolver),
	PVT(key_file),
	PVT(key_id),
	PVT(team_id),
	PVT(topic),
	PVT(push_type),
	PVT(project_id),
	PVT(app_id),
	PVT(client_id),
	PVT(client_secret),
	PVT(app_secret),
	PVT(package_name),
	PVT(ca_file),
	PVN(connect_timeout, PV_MS, 1, 600000),
	PVN(request_timeout, PV_MS, 1, 600000),
	PVN(token_refresh, PV_MS, PV_APNS_REFRESH_MIN, PV_APNS_REFRESH_MAX),
	PVN(token_margin, PV_MS, 0, 3600000),
	{ "max_conns", PV_NUM, offsetof(struct push_vendor_conf, max_conns), 0,
	  1, 1024 },
	{ NULL, PV_TEXT, 0, 0, 0, 0 },
};

void
push_vendor_conf_init(struct push_vendor_conf *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	if (name != NULL)
		snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->push_type, sizeof(c->push_type), "alert");
	c->connect_timeout_ms = 5000;
	c->request_timeout_ms = 10000;
	c->token_refresh_ms = PV_APNS_REFRESH_DEF;
	c->token_margin_ms = 60000;
	c->max_conns = 4;
}

/* "N", "Nms", "Ns", "Nm" into ms. 0 or -1. */
static int
pv_parse_ms(const char *v, uint64_t *out)
{
	char *end;
	unsigned long long n;
	uint64_t mul;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || n > 1000000000ull)
		return -1;
	if (strcmp(end, "ms") == 0 || *end == '\0')
		mul = 1;
	else if (strcmp(end, "s") == 0)
		mul = 1000;
	else if (strcmp(end, "m") == 0)
		mul = 60000;
	else
		return -1;
	*out = n * mul;
	return 0;
}

int
push_vendor_conf_key(struct push_vendor_conf *c, const char *key,
		     const char *value, char *err, size_t errlen)
{
	const struct pv_key *k;
	uint64_t n = 0;
	char *end;

	for (k = pv_keys; k->name != NULL; k++)
		if (strcmp(k->name, key) == 0)
			break;
	if (k->name == NULL)
		return lb_errf(err, errlen, -1, "unknown key '%s'", key);
	if (value == NULL || *value == '\0')
		return lb_errf(err, errlen, -1, "%s: empty value", key);
	switch (k->kind) {
	case PV_TEXT:
		if (strlen(value) >= k->size)
			return lb_errf(err, errlen, -1,
				       "%s: longer than %zu characters", key,
				       k->size - 1);
		for (const char *p = value; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return lb_errf(err, errlen, -1,
					       "%s: control character", key);
		memcpy((char *)c + k->offset, value, strlen(value) + 1);
		return 0;
	case PV_MS:
		if (pv_parse_ms(value, &n) != 0)
			return lb_errf(err, errlen, -1,
				       "%s: '%s' is not a duration (N, Nms, "
				       "Ns, Nm)",
				       key, value);
		break;
	case PV_NUM:
		errno = 0;
		n = strtoull(value, &end, 10);
		if (errno != 0 || *end != '\0' || *value < '0' || *value > '9')
			return lb_errf(err, errlen, -1,
				       "%s: '%s' is not a number", key, value);
		break;
	}
	if (n < k->min || n > k->max)
		return lb_errf(err, errlen, -1,
			       "%s: '%s' out of range [%u, %u]%s", key, value,
			       k->min, k->max, k->kind == PV_MS ? " ms" : "");
	*(uint32_t *)((char *)c + k->offset) = (uint32_t)n;
	return 0;
}

int
push_vendor_conf_validate(const struct push_vendor_conf *c, char *err,
			  size_t errlen)
{
	struct pv_url u;
	const char *t = c->type;
	char e[160];

	if (*t == '\0')
		return lb_errf(err, errlen, -1, "[push_vendor %s]: no type",
			       c->name);
	if (push_vendor_find(t) == NULL)
		return lb_errf(err, errlen, -1,
			       "[push_vendor %s]: type '%s' is not one of "
			       "apns, fcm, huawei, xiaomi",
			       c->name, t);
	if (*c->endpoint == '\0')
		return lb_errf(err, errlen, -1, "[push_vendor %s]: no endpoint",
			       c->name);
	if (pv_url_parse(c->endpoint, c->address, &u, e, sizeof(e)) != 0)
		return lb_errf(err, errlen, -1, "[push_vendor %s]: %s", c->name,
			       e);
#define NEED(f)                                                                \
	do {                                                                   \
		if (c->f[0] == '\0')                                           \
			return lb_errf(err, errlen, -1,                        \
				       "[push_vendor %s]: type %s needs " #f,  \
				       c->name, t);                            \
	} while (0)
	if (strcmp(t, "apns") == 0) {
		NEED(key_file);
		NEED(key_id);
		NEED(team_id);
		NEED(topic);
	} else if (strcmp(t, "fcm") == 0) {
		NEED(key_file);
	} else if (strcmp(t, "huawei") == 0) {
		NEED(token_url);
		NEED(client_id);
		NEED(client_secret);
	} else {
		NEED(app_secret);
	}
#undef NEED
	if (*c->resolver != '\0') {
		struct sockaddr_storage ss;
		int sl = (int)sizeof(ss);

		if (evutil_parse_sockaddr_port(
			    c->resolver, (struct sockaddr *)&ss, &sl) != 0)
			return lb_errf(err, errlen, -1,
				       "[push_vendor %s]: resolver '%s' is "
				       "not IP[:port]",
				       c->name, c->resolver);
	}
	if (*c->token_url != '\0' &&
	    pv_url_parse(c->token_url, c->token_address, &u, e, sizeof(e)) != 0)
		return lb_errf(err, errlen, -1,
			       "[push_vendor %s]: token_url: %s", c->name, e);
	return 0;
}

/* ---- endpoints ------------------------------------------------------- */

int
pv_url_parse(const char *url, const char *address, struct pv_url *u, char *err,
	     size_t errlen)
{
	const char *p, *host, *hend, *slash;
	unsigned long port;
	bool bracket;
	char *end;
	size_t n;

	memset(u, 0, sizeof(*u));
	if (strncmp(url, "https://", 8) == 0) {
		u->tls = true;
		p = url + 8;
		u->port = 443;
	} else if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
		u->port = 80;
	} else {
		return lb_errf(err, errlen, -EINVAL,
			       "'%s': not an https:// URL", url);
	}
	slash = strchr(p, '/');
	if (slash == NULL)
		slash = p + strlen(p);
	host = p;
	bracket = *host == '[';
	if (bracket) {
		hend = memchr(host, ']', (size_t)(slash - host));
		if (hend == NULL)
			return lb_errf(err, errlen, -EINVAL, "'%s': bad host",
				       url);
		host++;
		p = hend + 1;
	} else {
		hend = memchr(host, ':', (size_t)(slash - host));
		if (hend == NULL)
			hend = slash;
		p = hend;
	}
	n = (size_t)(hend - host);
	if (n == 0 || n >= sizeof(u->host))
		return lb_errf(err, errlen, -EINVAL, "'%s': bad host", url);
	memcpy(u->host, host, n);
	u->host[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (u->host[i] <= ' ' || u->host[i] == '@' ||
		    u->host[i] == 0x7f)
			return lb_errf(err, errlen, -EINVAL, "'%s': bad host",
				       url);
	if (*p == ':') {
		errno = 0;
		port = strtoul(p + 1, &end, 10);
		if (errno != 0 || end != slash || port == 0 || port > 65535)
			return lb_errf(err, errlen, -EINVAL, "'%s': bad port",
				       url);
		u->port = (uint16_t)port;
	} else if (p != slash) {
		return lb_errf(err, errlen, -EINVAL, "'%s': bad host", url);
	}
	/* Host header / :authority: the port only when not the default. */
	snprintf(u->authority, sizeof(u->authority), bracket ? "[%s]" : "%s",
		 u->host);
	if (u->port != (u->tls ? 443 : 80)) {
		size_t al = strlen(u->authority);

		snprintf(u->authority + al, sizeof(u->authority) - al, ":%u",
			 u->port);
	}
	n = strlen(slash);
	while (n > 0 && slash[n - 1] == '/')
		n--;
	if (n >= sizeof(u->path) || memchr(slash, '?', n) != NULL ||
	    memchr(slash, '#', n) != NULL)
		return lb_errf(err, errlen, -EINVAL, "'%s': bad path", url);
	memcpy(u->path, slash, n);
	u->path[n] = '\0';
	if (address != NULL && *address != '\0') {
		if (lb_addr_parse(address, &u->addr) != 0)
			return lb_errf(err, errlen, -EINVAL,
				       "address '%s' is not an IP address",
				       address);
	} else if (lb_addr_parse(u->host, &u->addr) != 0) {
		memset(&u->addr, 0, sizeof(u->addr));
		u->resolve = true;
	}
	return 0;
}

/* ---- state shared by every channel ----------------------------------- */

uint64_t
pv_now_ms(const struct pv_base *b)
{
	return lb_now_ms() + b->clock_skew_ms;
}

void
pv_test_advance(void *state, uint64_t ms)
{
	((struct pv_base *)state)->clock_skew_ms += ms;
}

int
pv_base_init(struct pv_base *b, struct event_base *evb,
	     const struct push_vendor_conf *c, bool h2, char *err,
	     size_t errlen)
{
	struct http_client_opts o = http_client_default_opts;

	memset(b, 0, sizeof(*b));
	TAILQ_INIT(&b->sends);
	b->evb = evb;
	b->request_timeout_ms = c->request_timeout_ms;
	snprintf(b->resolver, sizeof(b->resolver), "%s", c->resolver);
	o.ca_file = c->ca_file[0] != '\0' ? c->ca_file : NULL;
	o.max_conns_per_host = c->max_conns;
	o.max_idle_per_host = c->max_conns;
	o.h2_conns_per_host = h2 ? c->max_conns : 1;
	o.connect_timeout_ms = c->connect_timeout_ms;
	o.head_timeout_ms = c->request_timeout_ms;
	o.read_timeout_ms = c->request_timeout_ms;
	o.total_timeout_ms = c->request_timeout_ms;
	o.max_head_bytes = 16384;
	o.max_body_bytes = PV_BODY_MAX;
	b->http = http_client_new(evb, &o);
	if (b->http == NULL)
		return lb_errf(err, errlen, errno == EPROTO ? -EPROTO : -ENOMEM,
			       "[push_vendor %s]: HTTP client: %s%s", c->name,
			       strerror(errno),
			       errno == EPROTO ? " (ca_file?)" : "");
	return 0;
}

void
pv_base_fini(struct pv_base *b)
{
	for (int i = 0; i < b->nres; i++) {
		struct pv_resolver *r = b->res[i];

		event_free(r->timer);
		if (r->req != NULL) {
			/* Its callback (EVUTIL_EAI_CANCEL) frees it. */
			r->dead = true;
			evdns_getaddrinfo_cancel(r->req);
		} else {
			free(r);
		}
	}
	b->nres = 0;
	if (b->dns != NULL)
		evdns_base_free(b->dns, 1);
	b->dns = NULL;
	if (b->http != NULL)
		http_client_free(b->http);
	b->http = NULL;
}

static void
pv_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
	struct pv_resolver *r = arg;
	struct timeval tv = { PV_DNS_RETRY_MS / 1000, 0 };
	const struct evutil_addrinfo *pick = NULL;
	struct lb_addr addr;
	int rc = -1;

	if (r->dead) { /* pv_base_fini cancelled it: b is gone */
		if (res != NULL)
			evutil_freeaddrinfo(res);
		free(r);
		return;
	}
	r->req = NULL;
	for (const struct evutil_addrinfo *a = res; a != NULL; a = a->ai_next)
		if (a->ai_family == AF_INET) {
			pick = a;
			break;
		}
	for (const struct evutil_addrinfo *a = res; a != NULL && pick == NULL;
	     a = a->ai_next)
		if (a->ai_family == AF_INET6)
			pick = a;
	if (result == 0 && pick != NULL && pick->ai_family == AF_INET)
		rc = lb_addr_from_bytes(
			&addr, &((struct sockaddr_in *)pick->ai_addr)->sin_addr,
			4);
	else if (result == 0 && pick != NULL)
		rc = lb_addr_from_bytes(
			&addr,
			&((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr, 16);
	if (rc == 0) {
		r->u->addr = addr;
		tv.tv_sec = PV_DNS_REFRESH_MS / 1000;
	} else {
		pv_count_reason(r->b, "dns");
		LB_WARN("push vendor: resolving %s: %s", r->u->host,
			result != 0 ? evutil_gai_strerror(result)
				    : "no address");
	}
	if (res != NULL)
		evutil_freeaddrinfo(res);
	evtimer_add(r->timer, &tv);
}

static void
pv_resolve_start(evutil_socket_t fd, short what, void *arg)
{
	struct pv_resolver *r = arg;
	struct evutil_addrinfo hints = { .ai_family = AF_UNSPEC,
					 .ai_socktype = SOCK_STREAM };

	(void)fd;
	(void)what;
	/* May call back at once (a hosts-file or cached answer): then it
	 * returns NULL. */
	r->req = evdns_getaddrinfo(r->b->dns, r->u->host, NULL, &hints,
				   pv_resolved, r);
}

int
pv_base_resolve(struct pv_base *b, struct pv_url *u, char *err, size_t errlen)
{
	static const struct timeval now = { 0, 0 };
	struct pv_resolver *r;

	if (!u->resolve)
		return 0;
	if (b->nres == (int)(sizeof(b->res) / sizeof(b->res[0])))
		return lb_errf(err, errlen, -ENOSPC, "too many names");
	if (b->dns == NULL && b->resolver[0] != '\0') {
		/* The configured server, and the hosts file first. */
		b->dns = evdns_base_new(b->evb,
					EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (b->dns == NULL)
			return lb_errf(err, errlen, -ENOMEM, "out of memory");
		if (evdns_base_nameserver_ip_add(b->dns, b->resolver) != 0) {
			evdns_base_free(b->dns, 0);
			b->dns = NULL;
			return lb_errf(err, errlen, -EINVAL,
				       "resolver '%s' is not IP[:port]",
				       b->resolver);
		}
		evdns_base_load_hosts(b->dns, NULL);
	} else if (b->dns == NULL) {
		b->dns = evdns_base_new(
			b->evb, EVDNS_BASE_INITIALIZE_NAMESERVERS |
					EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (b->dns == NULL)
			return lb_errf(err, errlen, -ENOMEM,
				       "no DNS resolver (resolv.conf?)");
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	r->b = b;
	r->u = u;
	r->timer = evtimer_new(b->evb, pv_resolve_start, r);
	if (r->timer == NULL || evtimer_add(r->timer, &now) != 0) {
		if (r->timer != NULL)
			event_free(r->timer);
		free(r);
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	}
	b->res[b->nres++] = r;
	return 0;
}

void
pv_reason_clean(char *dst, size_t n, const char *src)
{
	size_t i = 0;

	/* Outside text: printable, no quote or backslash (metric labels). */
	for (; src[i] != '\0' && i + 1 < n; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = (ch < 0x21 || ch > 0x7e || ch == '"' || ch == '\\')
				 ? '_'
				 : (char)ch;
	}
	dst[i] = '\0';
}

void
pv_count_reason(struct pv_base *b, const char *reason)
{
	char r[PUSH_VENDOR_REASON_MAX + 1];
	size_t n;

	if (reason == NULL)
		return;
	pv_reason_clean(r, sizeof(r), reason);
	n = strlen(r);
	for (uint32_t i = 0; i < b->st.nreasons; i++)
		if (strcmp(b->st.reasons[i].reason, r) == 0) {
			b->st.reasons[i].n++;
			return;
		}
	if (b->st.nreasons == PUSH_VENDOR_REASONS) {
		b->st.reasons_dropped++;
		return;
	}
	memcpy(b->st.reasons[b->st.nreasons].reason, r, n + 1);
	b->st.reasons[b->st.nreasons++].n = 1;
}

static char *
pv_strdup_opt(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

struct pv_send *
pv_send_new(struct pv_base *b, const struct push_vendor_msg *m,
	    push_vendor_cb cb, void *arg)
{
	struct pv_send *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->b = b;
	s->cb = cb;
	s->arg = arg;
	s->ttl_s = m->ttl_s;
	s->priority = m->priority;
	s->id = pv_strdup_opt(m->id);
	s->token = strdup(m->token);
	s->collapse = pv_strdup_opt(m->collapse_key);
	s->payload = malloc(m->len + 1);
	if ((m->id != NULL && s->id == NULL) || s->token == NULL ||
	    (m->collapse_key != NULL && s->collapse == NULL) ||
	    s->payload == NULL) {
		free(s->id);
		free(s->token);
		free(s->collapse);
		free(s->payload);
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	memcpy(s->payload, m->payload, m->len);
	s->payload[m->len] = '\0';
	s->len = m->len;
	TAILQ_INSERT_TAIL(&b->sends, s, link);
	b->st.sends++;
	return s;
}

static void
pv_send_free(struct pv_send *s)
{
	TAILQ_REMOVE(&s->b->sends, s, link);
	if (s->defer != NULL)
		event_free(s->defer);
	if (s->b->oauth != NULL)
		pv_oauth_forget(s->b->oauth, &s->wait);
	free(s->id);
	free(s->token);
	free(s->collapse);
	free(s->payload);
	free(s->cred);
	free(s->req);
	free(s);
}

void
pv_send_end(struct pv_send *s, enum push_vendor_result r, const char *reason)
{
	struct pv_base *b = s->b;

	b->st.results[r]++;
	if (r != PV_OK)
		pv_count_reason(b, reason != NULL ? reason : "unknown");
	s->cb(s->arg, r, reason);
	pv_send_free(s);
}

int
pv_send_cred(struct pv_send *s, const char *token)
{
	char *c = strdup(token);

	if (c == NULL)
		return -ENOMEM;
	free(s->cred);
	s->cred = c;
	return 0;
}

static void
pv_send_deferred(evutil_socket_t fd, short what, void *arg)
{
	struct pv_send *s = arg;

	(void)fd;
	(void)what;
	pv_send_end(s, s->dres, s->dreason);
}

int
pv_send_end_later(struct pv_send *s, enum push_vendor_result r,
		  const char *reason)
{
	static const struct timeval zero = { 0, 0 };

	s->dres = r;
	s->dreason = reason; /* static text */
	if (s->defer == NULL)
		s->defer = evtimer_new(s->b->evb, pv_send_deferred, s);
	if (s->defer == NULL || evtimer_add(s->defer, &zero) != 0) {
		s->b->st.sends--;
		pv_send_free(s);
		return -ENOMEM;
	}
	return 0;
}

void
pv_send_cancel_all(struct pv_base *b)
{
	struct pv_send *s;

	while ((s = TAILQ_FIRST(&b->sends)) != NULL) {
		if (s->call != NULL)
			pv_call_cancel(s->call);
		s->call = NULL;
		pv_send_end(s, PV_RETRY, "cancelled");
	}
}

int
pv_msg_check(struct pv_base *b, const struct push_vendor_msg *m,
	     bool json_object)
{
	size_t n;

	if (m == NULL || m->token == NULL || m->payload == NULL)
		goto bad;
	n = strnlen(m->token, PUSH_VENDOR_TOKEN_MAX + 1);
	if (n == 0 || n > PUSH_VENDOR_TOKEN_MAX)
		goto bad;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)m->token[i] <= 0x20 ||
		    (unsigned char)m->token[i] >= 0x7f)
			goto bad;
	if (m->len == 0 || m->len > PUSH_VENDOR_PAYLOAD_MAX)
		goto bad;
	if (m->collapse_key != NULL &&
	    strnlen(m->collapse_key, PUSH_VENDOR_COLLAPSE_MAX + 1) >
		    PUSH_VENDOR_COLLAPSE_MAX)
		goto bad;
	if (m->id != NULL && strnlen(m->id, 128) >= 128)
		goto bad;
	if (json_object) {
		/* The vendors parse it: refuse what is not one JSON object. */
		cJSON *j =
			cJSON_ParseWithLength((const char *)m->payload, m->len);
		bool ok = cJSON_IsObject(j);

		cJSON_Delete(j);
		if (!ok || memchr(m->payload, '\0', m->len) != NULL)
			goto bad;
	}
	return 0;
bad:
	b->st.invalid++;
	pv_count_reason(b, "invalid_message");
	return -EINVAL;
}
