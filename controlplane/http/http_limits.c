/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The limits of the HTTP server that need state of their own: the count
 * of connections per client address, and a rate limiter for the log
 * lines a client can trigger (see http.h, http_priv.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>

#include "http_priv.h"
#include "edgelb/log.h"
#include "edgelb/util.h"

const struct http_limits http_default_limits = {
	.max_conns = 256,
	.max_conns_per_addr = 32,
	.max_head_bytes = 8192,
	.max_body_bytes = 65536,
	.head_timeout_ms = 10000,
	.idle_timeout_ms = 30000,
	.out_high_water = 256 * 1024,
	.accept_backoff_ms = 100,
};

int
http_addr_table_init(struct http_addr_table *t, uint32_t max_conns)
{
	size_t n = 64;

	while (n < max_conns && n < (1u << 20))
		n *= 2;
	t->b = calloc(n, sizeof(*t->b));
	if (t->b == NULL)
		return -ENOMEM;
	t->nb = n;
	return 0;
}

void
http_addr_table_fini(struct http_addr_table *t)
{
	for (size_t i = 0; i < t->nb && t->b != NULL; i++)
		while (t->b[i] != NULL) {
			struct http_addr_count *e = t->b[i];

			t->b[i] = e->next;
			free(e);
		}
	free(t->b);
	t->b = NULL;
}

static void
key_of(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else if (sa->sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr,
		       4);
	}
}

static size_t
bucket(const struct http_addr_table *t, const uint8_t key[16])
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 1099511628211ull;
	return h & (t->nb - 1);
}

struct http_addr_count *
http_addr_get(struct http_addr_table *t, const struct sockaddr *sa)
{
	struct http_addr_count *e;
	uint8_t key[16];
	size_t b;

	key_of(sa, key);
	b = bucket(t, key);
	for (e = t->b[b]; e != NULL; e = e->next)
		if (memcmp(e->addr, key, 16) == 0) {
			e->n++;
			return e;
		}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	memcpy(e->addr, key, 16);
	e->n = 1;
	e->next = t->b[b];
	t->b[b] = e;
	return e;
}

void
http_addr_put(struct http_addr_table *t, struct http_addr_count *e)
{
	struct http_addr_count **pp;

	if (e == NULL || --e->n > 0)
		return;
	for (pp = &t->b[bucket(t, e->addr)]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			free(e);
			return;
		}
}

void
http_log_rl(struct http_ratelimit *rl, int level, const char *fmt, ...)
{
	char line[512];
	uint64_t now;
	va_list ap;

	if (lb_log_get_level() < level)
		return;
	now = lb_now_ms();
	if (now - rl->window_ms >= 1000) {
		rl->window_ms = now;
		rl->n = 0;
	}
	if (rl->n >= (rl->burst ? rl->burst : 10)) {
		rl->suppressed++;
		return;
	}
	rl->n++;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (rl->suppressed > 0) {
		lb_log(level, "%s (%llu similar lines suppressed)", line,
		       (unsigned long long)rl->suppressed);
		rl->suppressed = 0;
	} else {
		lb_log(level, "%s", line);
	}
}
