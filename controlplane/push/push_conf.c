/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The [push] section (see push_conf.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "push_api.h"
#include "push_conf.h"
#include "push_frame.h"
#include "edgelb/util.h"

#define CONF(p)	    ((struct push_conf *)(p)->obj)
#define FIELD(p, t) ((t *)((char *)(p)->obj + (p)->key->offset))
#define OFF(f)	    offsetof(struct push_conf, f)

void
push_conf_init(struct push_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->heartbeat_ms = 30000;
	c->hello_timeout_ms = 10000;
	c->resend_ms = 10000;
	c->max_payload = PUSH_PAYLOAD_DEFAULT;
	c->max_conns = 100000;
	c->max_queue = 1000;
	c->window = 32;
	c->default_ttl = 86400;
	c->max_ttl = PUSH_TTL_LIMIT;
	c->retention = 86400;
	c->api_max_body = 16384;
	c->api_max_conns = 256;
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
set_ms(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	const struct cfg_key *k = p->key;
	uint32_t ms;

	if (lb_parse_duration_ms(v, &ms) < 0 || ms < k->min || ms > k->max)
		return lb_errf(err, n, -EINVAL,
			       "expected a duration (N, Nms, Ns, Nm, Nh) of "
			       "%ums..%us",
			       k->min, k->max / 1000);
	*FIELD(p, uint32_t) = ms;
	return 0;
}

static int
set_listen(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	struct push_conf *c = CONF(p);
	struct lb_addr *a = FIELD(p, struct lb_addr);
	uint16_t *port = a == &c->listen_addr ? &c->listen_port
			 : a == &c->tls_addr  ? &c->tls_port
			 : a == &c->ws_addr   ? &c->ws_port
			 : a == &c->wss_addr  ? &c->wss_port
					      : &c->api_port;

	if (lb_addr_port_parse(v, a, port, false) < 0 || *port == 0)
		return lb_errf(err, n, -EINVAL, "expected ADDR:PORT");
	if (a == &c->listen_addr)
		c->has_listen = true;
	else if (a == &c->tls_addr)
		c->has_tls = true;
	else if (a == &c->ws_addr)
		c->has_ws = true;
	else if (a == &c->wss_addr)
		c->has_wss = true;
	else
		c->has_api = true;
	return 0;
}

static int
set_secret(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (!push_api_text_valid(v, PUSH_KEY_MAX) || strlen(v) < 16)
		return lb_errf(err, n, -EINVAL,
			       "expected 16..%d printable characters",
			       PUSH_KEY_MAX);
	snprintf(FIELD(p, char), PUSH_KEY_MAX + 1, "%s", v);
	return 0;
}

static int
set_api_key(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	struct push_conf *c = CONF(p);

	if (c->napi_keys == PUSH_API_KEYS_MAX)
		return lb_errf(err, n, -EINVAL, "more than %d api_key",
			       PUSH_API_KEYS_MAX);
	if (!push_api_text_valid(v, PUSH_KEY_MAX) || strlen(v) < 16)
		return lb_errf(err, n, -EINVAL,
			       "expected 16..%d printable characters",
			       PUSH_KEY_MAX);
	snprintf(c->api_keys[c->napi_keys++], PUSH_KEY_MAX + 1, "%s", v);
	return 0;
}

static int
set_store(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (strcmp(v, "sqlite") != 0 && strcmp(v, "redis") != 0)
		return lb_errf(err, n, -EINVAL, "expected sqlite or redis");
	CONF(p)->store_redis = strcmp(v, "redis") == 0;
	return 0;
}

/* HOST:PORT (the store checks it further when it connects). */
static int
set_redis(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	const char *colon = strrchr(v, ':');
	uint32_t port;

	if (colon == NULL || colon == v ||
	    lb_parse_u32(colon + 1, 1, 65535, &port) < 0 ||
	    strlen(v) >= sizeof(CONF(p)->redis))
		return lb_errf(err, n, -EINVAL, "expected HOST:PORT");
	snprintf(CONF(p)->redis, sizeof(CONF(p)->redis), "%s", v);
	return 0;
}

/* A node id: it names a Redis key and channel, so a plain token. */
static int
set_node(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	size_t len = strlen(v);

	if (len >= sizeof(CONF(p)->node) ||
	    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789._-") != len)
		return lb_errf(err, n, -EINVAL,
			       "expected 1..%zu of A-Z a-z 0-9 . _ -",
			       sizeof(CONF(p)->node) - 1);
	snprintf(CONF(p)->node, sizeof(CONF(p)->node), "%s", v);
	return 0;
}

#define U32(name, field, lo, hi)                                               \
	{                                                                      \
		name, set_u32, OFF(field), .min = (lo), .max = (hi)            \
	}
#define MS(name, field, lo, hi)                                                \
	{                                                                      \
		name, set_ms, OFF(field), .min = (lo), .max = (hi)             \
	}
#define PATHK(name, field)                                                     \
	{                                                                      \
		name, cfg_set_path, OFF(field),                                \
			sizeof(((struct push_conf *)0)->field)                 \
	}

const struct cfg_key push_conf_keys[] = {
	{ "listen", set_listen, OFF(listen_addr) },
	{ "tls_listen", set_listen, OFF(tls_addr) },
	{ "api_listen", set_listen, OFF(api_addr) },
	{ "ws_listen", set_listen, OFF(ws_addr) },
	{ "wss_listen", set_listen, OFF(wss_addr) },
	PATHK("cert", cert),
	PATHK("key", key),
	PATHK("db", db),
	{ "store", set_store },
	{ "redis", set_redis },
	{ "node", set_node },
	{ "api_key", set_api_key, .flags = CFG_KEY_REPEAT },
	{ "bind_secret", set_secret, OFF(bind_secret) },
	MS("heartbeat", heartbeat_ms, 1000, 3600000),
	MS("hello_timeout", hello_timeout_ms, 100, 600000),
	MS("resend_timeout", resend_ms, 100, 3600000),
	U32("max_payload", max_payload, 16, PUSH_PAYLOAD_LIMIT),
	U32("max_connections", max_conns, 1, 4000000),
	U32("max_queue", max_queue, 1, 10000000),
	U32("window", window, 1, PUSH_ACK_MAX),
	U32("default_ttl", default_ttl, 1, PUSH_TTL_LIMIT),
	U32("max_ttl", max_ttl, 1, PUSH_TTL_LIMIT),
	U32("retention", retention, 1, 3 * PUSH_TTL_LIMIT),
	U32("api_max_body", api_max_body, 256, 16u << 20),
	U32("api_max_connections", api_max_conns, 1, 65536),
	{ NULL },
};

int
push_conf_validate(const struct push_conf *c, char *err, size_t errlen)
{
	bool on = c->has_listen || c->has_tls || c->has_api || c->has_ws ||
		  c->has_wss;

	if (on && !c->store_redis && c->db[0] == '\0')
		return lb_errf(err, errlen, -EINVAL, "db is required");
	if (on && c->store_redis && (c->redis[0] == '\0' || c->node[0] == '\0'))
		return lb_errf(
			err, errlen, -EINVAL,
			"store = redis needs redis = HOST:PORT and node");
	if ((c->has_tls || c->has_wss) &&
	    (c->cert[0] == '\0' || c->key[0] == '\0'))
		return lb_errf(err, errlen, -EINVAL, "%s needs cert and key",
			       c->has_tls ? "tls_listen" : "wss_listen");
	if (c->has_api && c->napi_keys == 0)
		return lb_errf(err, errlen, -EINVAL,
			       "api_listen needs at least one api_key");
	if (c->default_ttl > c->max_ttl)
		return lb_errf(err, errlen, -EINVAL,
			       "default_ttl %u above max_ttl %u",
			       c->default_ttl, c->max_ttl);
	if (c->api_max_body < c->max_payload + 1024)
		return lb_errf(err, errlen, -EINVAL,
			       "api_max_body %u below max_payload + 1024",
			       c->api_max_body);
	return 0;
}
