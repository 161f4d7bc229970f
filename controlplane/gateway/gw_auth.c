/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Authentication filters: "apikey" (keys stored as SHA-256 hashes per
 * consumer) and "hmac" (signed requests). "jwt" is in gw_auth_jwt.c.
 *
 * apikey: the key comes in a header (X-API-Key) or, if configured, a
 * query parameter; its SHA-256 is compared with every stored hash in
 * constant time (CRYPTO_memcmp, no early exit), so neither the key nor
 * which consumer matched shows in the timing.
 *
 * hmac: the client signs a canonical string with its consumer's secret:
 *
 *   HMAC-SHA256 "\n" METHOD "\n" PATH "\n" QUERY "\n" DATE "\n" BODYHASH
 *
 * PATH and QUERY as sent (QUERY empty without one), DATE the Date header
 * (IMF-fixdate) which must be within window_s of the gateway's clock (a
 * replay is possible only inside that window), BODYHASH the hex SHA-256
 * the client sends in X-Content-SHA256 (for a request without a body the
 * hash of the empty string). The signature goes in
 *   Authorization: HMAC-SHA256 Credential=CONSUMER, Signature=HEX
 * and is compared in constant time. The gateway checks that the body
 * hash is signed; it does not hash the streamed body itself (the
 * upstream may, against the signed X-Content-SHA256 it receives).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "gw_filter_priv.h"
#include "edgelb/util.h"

#define MAX_KEYS      100000
#define KEYS_FILE_MAX (16u << 20)
#define SECRET_MAX    4096
#define SECRET_MIN    32
#define PRESENTED_MAX 512
#define EMPTY_SHA256                                                           \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- shared --------------------------------------------------------------- */

/* A consumer name: it is forwarded in a header. */
static bool
consumer_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= GW_NAME_MAX)
		return false;
	for (; *s != '\0'; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return false;
	return true;
}

static int
hex_decode(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi =
			isxdigit((unsigned char)s[2 * i])
				? (isdigit((unsigned char)s[2 * i])
					   ? s[2 * i] - '0'
					   : (tolower((unsigned char)s[2 * i]) -
					      'a' + 10))
				: -1;
		int lo = isxdigit((unsigned char)s[2 * i + 1])
				 ? (isdigit((unsigned char)s[2 * i + 1])
					    ? s[2 * i + 1] - '0'
					    : (tolower((unsigned char)
							       s[2 * i + 1]) -
					       'a' + 10))
				 : -1;

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* The raw value of query parameter name (not decoded) into out. */
static bool
query_param(const char *q, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);

	while (q != NULL && *q != '\0') {
		const char *amp = strchr(q, '&');
		size_t l = amp != NULL ? (size_t)(amp - q) : strlen(q);

		if (l > nl && strncmp(q, name, nl) == 0 && q[nl] == '=') {
			size_t vl = l - nl - 1;

			if (vl >= cap)
				return false;
			memcpy(out, q + nl + 1, vl);
			out[vl] = '\0';
			return true;
		}
		q = amp != NULL ? amp + 1 : NULL;
	}
	return false;
}

/* ---- apikey --------------------------------------------------------------- */

struct ak_ent {
	char consumer[GW_NAME_MAX];
	uint8_t hash[SHA256_DIGEST_LENGTH];
};

struct ak_filter {
	char header[GW_NAME_MAX];
	char query[GW_NAME_MAX]; /* "" none */
	char cons_hdr[GW_NAME_MAX];
	size_t n, cap;
	struct ak_ent *keys;
};

/* "CONSUMER sha256:HEX" (or a bare HEX) into e. */
static int
ak_parse_entry(const char *v, struct ak_ent *e)
{
	char buf[GW_FILTER_VALUE_MAX], *sp, *h;

	if (strlen(v) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, v);
	sp = strchr(buf, ' ');
	if (sp == NULL)
		return -EINVAL;
	*sp = '\0';
	h = sp + 1;
	while (*h == ' ')
		h++;
	if (strncmp(h, "sha256:", 7) == 0)
		h += 7;
	if (!consumer_ok(buf) || hex_decode(h, e->hash, sizeof(e->hash)) < 0)
		return -EINVAL;
	snprintf(e->consumer, sizeof(e->consumer), "%s", buf);
	return 0;
}

static int
ak_add(struct ak_filter *f, const struct ak_ent *e)
{
	if (f->n >= MAX_KEYS)
		return -ENOSPC;
	if (f->n == f->cap) {
		size_t nc = f->cap != 0 ? f->cap * 2 : 16;
		struct ak_ent *k = realloc(f->keys, nc * sizeof(*k));

		if (k == NULL)
			return -ENOMEM;
		f->keys = k;
		f->cap = nc;
	}
	f->keys[f->n++] = *e;
	return 0;
}

static int
ak_key(struct ak_filter *f, const char *key, const char *v, char *why,
       size_t wl)
{
	struct ak_ent e;

	if (strcmp(key, "header") == 0 || strcmp(key, "query") == 0 ||
	    strcmp(key, "consumer_header") == 0) {
		char *dst = key[0] == 'h'   ? f->header
			    : key[0] == 'q' ? f->query
					    : f->cons_hdr;

		if (!gw_fis_token(v) || strlen(v) >= GW_NAME_MAX) {
			snprintf(why, wl, "a header or parameter name");
			return -EINVAL;
		}
		strcpy(dst, v);
		return 0;
	}
	if (strcmp(key, "key") == 0) {
		if (ak_parse_entry(v, &e) < 0) {
			snprintf(why, wl,
				 "CONSUMER sha256:HEX (64 hex digits: the "
				 "SHA-256 of the key)");
			return -EINVAL;
		}
		if (f->cap == (size_t)-1)
			return 0; /* check only */
		return ak_add(f, &e) < 0 ? -ENOMEM : 0;
	}
	if (strcmp(key, "keys_file") == 0) {
		if (v[0] != '/') {
			snprintf(why, wl, "an absolute path");
			return -EINVAL;
		}
		return 0; /* read at create */
	}
	return -ENOENT;
}

static int
ak_check_key(const char *key, const char *value, char *why, size_t wl)
{
	struct ak_filter f = { .cap = (size_t)-1 };

	return ak_key(&f, key, value, why, wl);
}

static void
ak_destroy(void *inst)
{
	struct ak_filter *f = inst;

	if (f == NULL)
		return;
	OPENSSL_cleanse(f->keys, f->n * sizeof(*f->keys));
	free(f->keys);
	free(f);
}

static int
ak_load_file(struct ak_filter *f, const char *path, char *why, size_t wl)
{
	char *buf, *line, *save = NULL;
	size_t len, lineno = 0;
	int rc;

	rc = gw_fread_file(path, KEYS_FILE_MAX, &buf, &len);
	if (rc < 0) {
		snprintf(why, wl, "%s: %s", path, strerror(-rc));
		return rc;
	}
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		struct ak_ent e;
		size_t l = strlen(line);

		lineno++;
		if (l > 0 && line[l - 1] == '\r')
			line[--l] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		if (ak_parse_entry(line, &e) < 0) {
			snprintf(why, wl, "%s:%zu: want CONSUMER sha256:HEX",
				 path, lineno);
			rc = -EINVAL;
			break;
		}
		rc = ak_add(f, &e);
		if (rc < 0) {
			snprintf(why, wl, "%s:%zu: %s", path, lineno,
				 rc == -ENOSPC ? "too many keys"
					       : "out of memory");
			break;
		}
	}
	free(buf);
	return rc;
}

static void *
ak_create(const struct gw_filter_conf *c, char *err, size_t errlen)
{
	struct ak_filter *f = calloc(1, sizeof(*f));
	char why[256];

	if (f == NULL) {
		lb_errf(err, errlen, 0, "filter %s: out of memory", c->name);
		errno = ENOMEM;
		return NULL;
	}
	strcpy(f->header, "X-API-Key");
	strcpy(f->cons_hdr, "X-Consumer");
	for (size_t i = 0; i < c->nkeys; i++) {
		int rc;

		why[0] = '\0';
		if (strcmp(c->kv[i].key, "keys_file") == 0)
			rc = ak_load_file(f, c->kv[i].value, why, sizeof(why));
		else
			rc = ak_key(f, c->kv[i].key, c->kv[i].value, why,
				    sizeof(why));
		if (rc < 0) {
			lb_errf(err, errlen, 0, "filter %s: %s: %s", c->name,
				c->kv[i].key,
				why[0] != '\0' ? why : strerror(-rc));
			ak_destroy(f);
			errno = EINVAL;
			return NULL;
		}
	}
	if (f->n == 0) {
		lb_errf(err, errlen, 0,
			"filter %s: key: no key (key or "
			"keys_file)",
			c->name);
		ak_destroy(f);
		errno = EINVAL;
		return NULL;
	}
	return f;
}

/* The consumer whose key hashes to that of k, or NULL. Every stored
 * hash is compared, in constant time each. */
static const char *
ak_lookup(const struct ak_filter *f, const char *k, size_t kl)
{
	uint8_t h[SHA256_DIGEST_LENGTH];
	const char *found = NULL;

	SHA256((const unsigned char *)k, kl, h);
	for (size_t i = 0; i < f->n; i++) {
		int ne = CRYPTO_memcmp(h, f->keys[i].hash, sizeof(h));

		if (ne == 0)
			found = f->keys[i].consumer;
	}
	OPENSSL_cleanse(h, sizeof(h));
	return found;
}

static enum gw_fverdict
ak_pre(void *inst, void *rstate, struct gw_freq *fr,
       const struct gw_freq_in *in, uint64_t *scratch)
{
	struct ak_filter *f = inst;
	char qv[PRESENTED_MAX + 1];
	const char *k = http_msg_header(in->m, f->header), *cons;

	(void)rstate;
	(void)scratch;
	gw_freq_consumer_header(fr, f->cons_hdr);
	if (k == NULL && f->query[0] != '\0' &&
	    query_param(in->m->query, f->query, qv, sizeof(qv)))
		k = qv;
	if (k == NULL || k[0] == '\0') {
		(void)gw_freq_add_hdr(fr, "WWW-Authenticate",
				      "ApiKey header=\"%s\"", f->header);
		return gw_freq_reject(fr, 401, GW_FR_NO_CREDENTIALS, NULL);
	}
	if (strlen(k) > PRESENTED_MAX)
		return gw_freq_reject(fr, 401, GW_FR_MALFORMED, "key too long");
	cons = ak_lookup(f, k, strlen(k));
	if (cons == NULL)
		return gw_freq_reject(fr, 401, GW_FR_UNKNOWN_KEY, NULL);
	gw_freq_set_consumer(fr, cons, f->cons_hdr);
	return GW_FV_PASS;
}

const struct gw_filter_ops gw_filter_apikey = {
	.type = "apikey",
	.check_key = ak_check_key,
	.create = ak_create,
	.destroy = ak_destroy,
	.pre = ak_pre,
};

/* ---- hmac ------------------------------------------------------------------- */

struct hm_ent {
	char consumer[GW_NAME_MAX];
	size_t len;
	uint8_t secret[SECRET_MAX];
};

struct hm_filter {
	char cons_hdr[GW_NAME_MAX];
	char date_hdr[GW_NAME_MAX];
	uint32_t window_s;
	size_t n;
	struct hm_ent *ents[1024];
};

static int
hm_key(struct hm_filter *f, const char *key, const char *v, bool load,
       char *why, size_t wl)
{
	if (strcmp(key, "consumer_header") == 0 ||
	    strcmp(key, "date_header") == 0) {
		if (!gw_fis_token(v) || strlen(v) >= GW_NAME_MAX) {
			snprintf(why, wl, "a header name");
			return -EINVAL;
		}
		strcpy(key[0] == 'c' ? f->cons_hdr : f->date_hdr, v);
		return 0;
	}
	if (strcmp(key, "window_s") == 0) {
		if (gw_fparse_u32(v, 1, 3600, &f->window_s) == 0)
			return 0;
		snprintf(why, wl, "1..3600");
		return -EINVAL;
	}
	if (strcmp(key, "secret") == 0) {
		char buf[GW_FILTER_VALUE_MAX], *sp, *path, *data;
		struct hm_ent *e;
		size_t len;
		int rc;

		snprintf(buf, sizeof(buf), "%s", v);
		sp = strchr(buf, ' ');
		if (sp == NULL) {
			snprintf(why, wl, "CONSUMER /path/to/secret");
			return -EINVAL;
		}
		*sp = '\0';
		path = sp + 1;
		while (*path == ' ')
			path++;
		if (!consumer_ok(buf) || path[0] != '/') {
			snprintf(why, wl, "CONSUMER /path/to/secret");
			return -EINVAL;
		}
		if (!load)
			return 0;
		if (f->n >= sizeof(f->ents) / sizeof(f->ents[0])) {
			snprintf(why, wl, "too many secrets");
			return -ENOSPC;
		}
		rc = gw_fread_file(path, SECRET_MAX, &data, &len);
		if (rc < 0) {
			snprintf(why, wl, "%s: %s", path, strerror(-rc));
			return rc;
		}
		if (len > 0 && data[len - 1] == '\n')
			len--; /* one final newline is the file's, not the key's */
		if (len < SECRET_MIN) {
			OPENSSL_cleanse(data, len);
			free(data);
			snprintf(why, wl, "%s: a secret of at least %d bytes",
				 path, SECRET_MIN);
			return -EINVAL;
		}
		e = calloc(1, sizeof(*e));
		if (e == NULL) {
			free(data);
			return -ENOMEM;
		}
		snprintf(e->consumer, sizeof(e->consumer), "%s", buf);
		memcpy(e->secret, data, len);
		e->len = len;
		OPENSSL_cleanse(data, len);
		free(data);
		f->ents[f->n++] = e;
		return 0;
	}
	return -ENOENT;
}

static int
hm_check_key(const char *key, const char *value, char *why, size_t wl)
{
	struct hm_filter f = { 0 };

	return hm_key(&f, key, value, false, why, wl);
}

static void
hm_destroy(void *inst)
{
	struct hm_filter *f = inst;

	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++) {
		OPENSSL_cleanse(f->ents[i], sizeof(*f->ents[i]));
		free(f->ents[i]);
	}
	free(f);
}

static void *
hm_create(const struct gw_filter_conf *c, char *err, size_t errlen)
{
	struct hm_filter *f = calloc(1, sizeof(*f));
	char why[256];

	if (f == NULL) {
		lb_errf(err, errlen, 0, "filter %s: out of memory", c->name);
		errno = ENOMEM;
		return NULL;
	}
	strcpy(f->cons_hdr, "X-Consumer");
	strcpy(f->date_hdr, "Date");
	f->window_s = 300;
	for (size_t i = 0; i < c->nkeys; i++) {
		int rc;

		why[0] = '\0';
		rc = hm_key(f, c->kv[i].key, c->kv[i].value, true, why,
			    sizeof(why));
		if (rc < 0) {
			lb_errf(err, errlen, 0, "filter %s: %s: %s", c->name,
				c->kv[i].key,
				why[0] != '\0' ? why : strerror(-rc));
			hm_destroy(f);
			errno = EINVAL;
			return NULL;
		}
	}
	if (f->n == 0) {
		lb_errf(err, errlen, 0, "filter %s: secret: none given",
			c->name);
		hm_destroy(f);
		errno = EINVAL;
		return NULL;
	}
	return f;
}

/* "HMAC-SHA256 Credential=NAME, Signature=HEX" */
static bool
hm_parse_auth(const char *v, char *cred, size_t cl, char *sig, size_t sl)
{
	const char *p;

	cred[0] = sig[0] = '\0';
	if (strncmp(v, "HMAC-SHA256 ", 12) != 0)
		return false;
	p = v + 12;
	while (*p != '\0') {
		const char *eq, *end;
		char *dst;
		size_t cap, n;

		while (*p == ' ' || *p == ',')
			p++;
		eq = strchr(p, '=');
		if (eq == NULL)
			break;
		end = eq + 1 + strcspn(eq + 1, ", ");
		if ((size_t)(eq - p) == 10 && strncmp(p, "Credential", 10) == 0)
			dst = cred, cap = cl;
		else if ((size_t)(eq - p) == 9 &&
			 strncmp(p, "Signature", 9) == 0)
			dst = sig, cap = sl;
		else
			return false;
		n = (size_t)(end - eq - 1);
		if (n == 0 || n >= cap)
			return false;
		memcpy(dst, eq + 1, n);
		dst[n] = '\0';
		p = end;
	}
	return cred[0] != '\0' && sig[0] != '\0';
}

static enum gw_fverdict
hm_pre(void *inst, void *rstate, struct gw_freq *fr,
       const struct gw_freq_in *in, uint64_t *scratch)
{
	struct hm_filter *f = inst;
	const struct http_msg *m = in->m;
	const char *auth = http_msg_header(m, "Authorization");
	const char *date = http_msg_header(m, f->date_hdr);
	const char *bh = http_msg_header(m, "X-Content-SHA256");
	char cred[GW_NAME_MAX], sig[2 * SHA256_DIGEST_LENGTH + 2];
	uint8_t want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];
	unsigned int wl = sizeof(want);
	const struct hm_ent *e = NULL;
	struct tm tm = { 0 };
	char *canon, *end;
	bool body;
	int64_t t;
	size_t cl;
	int k;

	(void)rstate;
	(void)scratch;
	gw_freq_consumer_header(fr, f->cons_hdr);
	if (auth == NULL) {
		(void)gw_freq_add_hdr(fr, "WWW-Authenticate", "HMAC-SHA256");
		return gw_freq_reject(fr, 401, GW_FR_NO_CREDENTIALS, NULL);
	}
	if (!hm_parse_auth(auth, cred, sizeof(cred), sig, sizeof(sig)) ||
	    hex_decode(sig, got, sizeof(got)) < 0)
		return gw_freq_reject(fr, 401, GW_FR_MALFORMED,
				      "Authorization");
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->ents[i]->consumer, cred) == 0)
			e = f->ents[i];
	if (e == NULL)
		return gw_freq_reject(fr, 401, GW_FR_UNKNOWN_KEY, NULL);
	if (date == NULL)
		return gw_freq_reject(fr, 401, GW_FR_DATE_WINDOW, "no date");
	end = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0')
		return gw_freq_reject(fr, 401, GW_FR_MALFORMED, "date");
	t = (int64_t)timegm(&tm);
	if (t > in->wall_s + f->window_s || t < in->wall_s - f->window_s)
		return gw_freq_reject(fr, 401, GW_FR_DATE_WINDOW, NULL);
	body = m->chunked || m->content_length > 0;
	if (bh == NULL || strlen(bh) != 2 * SHA256_DIGEST_LENGTH ||
	    (!body && strcasecmp(bh, EMPTY_SHA256) != 0))
		return gw_freq_reject(fr, 401, GW_FR_BODY_HASH, NULL);
	cl = strlen(m->method) + strlen(m->path) +
	     (m->query != NULL ? strlen(m->query) : 0) + strlen(date) +
	     strlen(bh) + 32;
	canon = malloc(cl);
	if (canon == NULL)
		return gw_freq_reject(fr, 503, GW_FR_NOMEM, NULL);
	k = snprintf(canon, cl, "HMAC-SHA256\n%s\n%s\n%s\n%s\n%s", m->method,
		     m->path, m->query != NULL ? m->query : "", date, bh);
	if (k < 0 || (size_t)k >= cl ||
	    HMAC(EVP_sha256(), e->secret, (int)e->len, (unsigned char *)canon,
		 (size_t)k, want, &wl) == NULL) {
		free(canon);
		return gw_freq_reject(fr, 503, GW_FR_NOMEM, NULL);
	}
	free(canon);
	if (CRYPTO_memcmp(want, got, sizeof(want)) != 0)
		return gw_freq_reject(fr, 401, GW_FR_BAD_SIGNATURE, NULL);
	gw_freq_set_consumer(fr, e->consumer, f->cons_hdr);
	return GW_FV_PASS;
}

const struct gw_filter_ops gw_filter_hmac = {
	.type = "hmac",
	.check_key = hm_check_key,
	.create = hm_create,
	.destroy = hm_destroy,
	.pre = hm_pre,
};
