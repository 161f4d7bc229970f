/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The [push] section of edgelbd's configuration (docs/push.md,
 * "Configuration"): listeners, store, keys and the bounds of the device
 * channel and of the business API.
 */
#ifndef EDGELBD_PUSH_CONF_H
#define EDGELBD_PUSH_CONF_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "cfg_key.h"
#include "edgelb/types.h"

#define PUSH_API_KEYS_MAX 8
#define PUSH_KEY_MAX	  128

struct push_conf {
	bool has_listen, has_tls, has_api, has_ws, has_wss;
	struct lb_addr listen_addr, tls_addr, api_addr, ws_addr, wss_addr;
	uint16_t listen_port, tls_port, api_port, ws_port, wss_port;
	/* for tls_listen and wss_listen (one SSL_CTX serves both) */
	char cert[PATH_MAX];
	char key[PATH_MAX];
	char db[PATH_MAX];
	bool store_redis; /* store = redis (else sqlite) */
	char redis[256];  /* HOST:PORT of the shared redis-server */
	char node[64];	  /* this node's id among those sharing redis */
	char api_keys[PUSH_API_KEYS_MAX][PUSH_KEY_MAX + 1];
	uint32_t napi_keys;
	char bind_secret[PUSH_KEY_MAX + 1];
	uint32_t heartbeat_ms;
	uint32_t hello_timeout_ms;
	uint32_t resend_ms;
	uint32_t max_payload;
	uint32_t max_conns;
	uint32_t max_queue;
	uint32_t window;
	uint32_t default_ttl, max_ttl; /* seconds */
	uint32_t retention;	       /* seconds of finished history */
	uint32_t api_max_body;
	uint32_t api_max_conns;
};

/* Defaults: heartbeat 30 s, hello_timeout 10 s, resend_timeout 10 s,
 * max_payload 4096, max_connections 100000, max_queue 1000, window 32,
 * default_ttl 86400, max_ttl 30 days, retention 1 day, api_max_body 16384,
 * api_max_connections 256, store sqlite; nothing listens. */
void push_conf_init(struct push_conf *c);
extern const struct cfg_key push_conf_keys[];
/* Checks across keys. 0 or -EINVAL with err set. */
int push_conf_validate(const struct push_conf *c, char *err, size_t errlen);

#endif
