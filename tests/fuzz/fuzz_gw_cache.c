/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the cache filter's rules and store
 * (controlplane/gateway/gw_cache_priv.h). The input is split at '\n':
 * a Cache-Control value, an If-None-Match value, an ETag, an HTTP date,
 * a Vary value, a request path, then "name:value" request header lines.
 * Each header-like value goes through its parser (a delta over 2^31 must
 * come out capped, max-age never below -1); then an answer with that
 * Vary and ETag is stored for the request (in a small cache, so that
 * eviction runs) and looked up again: a stored answer must be found
 * with its body, whole.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_cache_priv.h"

#define FIELD_MAX 2048

static struct gw_cache *cache;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[8 * FIELD_MAX], *f[6 + HTTP_MAX_HEADERS], *p, *save = NULL;
	size_t nf = 0;
	struct gw_cc cc;
	struct http_msg m;
	struct http_header h[3];
	char key[GW_CACHE_KEY_MAX];
	size_t kl, nh = 0;
	int64_t t;
	int rc;

	if (cache == NULL) {
		struct gw_cache_conf c = { .max_bytes = 64 * 1024,
					   .max_entry = 1024,
					   .max_ttl_s = 86400 };

		cache = gw_cache_new(&c);
		if (cache == NULL)
			abort();
	}
	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (memchr(buf, '\0', size) != NULL)
		return 0; /* header values are C strings */
	for (p = strtok_r(buf, "\n", &save); p != NULL && nf < 6 + 32;
	     p = strtok_r(NULL, "\n", &save))
		f[nf++] = p;
	while (nf < 6)
		f[nf++] = "";

	gw_cc_init(&cc);
	gw_cc_parse(&cc, f[0]);
	if (cc.max_age < -1 || cc.max_age > 2147483648LL || cc.s_maxage < -1 ||
	    cc.s_maxage > 2147483648LL)
		abort();
	(void)gw_etag_match(f[1], f[2]);
	(void)gw_http_date(f[3], &t);

	memset(&m, 0, sizeof(m));
	m.method = "GET";
	m.path = f[5][0] == '/' ? f[5] : "/";
	m.content_length = -1;
	for (size_t i = 6; i < nf && m.nheaders < HTTP_MAX_HEADERS; i++) {
		char *c = strchr(f[i], ':');

		if (c == NULL)
			continue;
		*c = '\0';
		m.headers[m.nheaders++] = (struct http_header){ f[i], c + 1 };
	}
	if (gw_cache_key(gw_cache_conf(cache), &m, key, sizeof(key), &kl) < 0)
		return 0;
	if (f[4][0] != '\0')
		h[nh++] = (struct http_header){ "Vary", f[4] };
	if (f[2][0] != '\0')
		h[nh++] = (struct http_header){ "ETag", f[2] };
	h[nh++] = (struct http_header){ "Cache-Control", f[0] };
	{
		struct gw_cache_put_in in = {
			key, kl,   &m,		 200, h,
			nh,  f[1], strlen(f[1]), 0,   1000000000ull
		};
		struct gw_centry *e;

		rc = gw_cache_insert(cache, &in);
		e = gw_cache_get(cache, key, kl, &m);
		if (rc == 0 && (e == NULL || e->blen != strlen(f[1]) ||
				memcmp(e->body, f[1], e->blen) != 0))
			abort();
		gw_cache_put(e);
	}
	if (gw_cache_stats_ref(cache)->bytes > 64 * 1024)
		abort();
	if ((size & 63) == 0)
		(void)gw_cache_purge(cache, m.path);
	return 0;
}
