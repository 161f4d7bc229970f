/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The "jwt" filter: JSON Web Tokens (RFC 7519, JWS compact form) signed
 * with HS256, RS256 or ES256, verified with OpenSSL directly.
 *
 * Every key has its algorithm pinned: `key = KID ALG FILE [CONSUMER]`
 * (HS256: FILE holds the secret, at least 32 bytes; RS256/ES256: a PEM
 * public key, RSA of at least 2048 bits or EC P-256) or a JWKS file
 * whose keys must each carry "kid" and "alg". The token's header alg
 * must equal its key's pinned alg before any signature work, so "none"
 * and an RS256 key used as an HS256 secret are refused; "crit" headers
 * are refused (none is understood).
 *
 * Order: split and bound the token, decode its header, find the key by
 * kid (no kid: only when exactly one key is configured), check the alg,
 * verify the signature, then the claims: exp (required unless
 * require_exp = no), nbf, iss, aud (a string or an array) with
 * clock_skew_s of leeway. The consumer is the key's CONSUMER, else the
 * consumer_claim (default "sub").
 *
 * Verified tokens are remembered per thread (TC_SLOTS slots, direct
 * mapped by a hash of the token's bytes, tokens up to TC_TOKEN_MAX):
 * the filter's id, the whole token, its exp and nbf and the consumer.
 * The same token again on that thread is compared whole (in constant
 * time) and only its exp and nbf are checked again against the clock,
 * in the same order and with the same skew as the full path, which it
 * would pass otherwise unchanged (the key, alg, signature, iss and aud
 * depend only on the token and the filter). A reload makes new filters with new ids,
 * so no entry outlives the keys that verified it. Only successes are
 * kept; a token seen for the first time is verified in full.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "gw_filter_priv.h"
#include "edgelb/util.h"

#define TOKEN_MAX    8192
#define PART_MAX     6144 /* decoded header or payload */
#define SIG_MAX	     512
#define SECRET_MIN   32
#define SECRET_MAX   4096
#define KEYFILE_MAX  (1u << 20)
#define MAX_JWT_KEYS 256
#define KID_MAX	     128
#define TC_SLOTS     512  /* verified tokens kept per thread */
#define TC_TOKEN_MAX 2048 /* longer tokens are verified every time */

enum jwt_alg {
	JWT_HS256,
	JWT_RS256,
	JWT_ES256,
};

static const char *const alg_names[] = { "HS256", "RS256", "ES256" };

struct jwt_key {
	char kid[KID_MAX];
	enum jwt_alg alg;
	char consumer[GW_NAME_MAX]; /* "": from the claim */
	EVP_PKEY *pk;		    /* RS256, ES256 */
	size_t slen;		    /* HS256 */
	uint8_t *secret;
};

struct jwt_filter {
	uint64_t id; /* unique per filter made: the token cache's owner */
	char header[GW_NAME_MAX];
	char cons_hdr[GW_NAME_MAX];
	char claim[GW_NAME_MAX];
	char iss[GW_FILTER_VALUE_MAX]; /* "": not checked */
	char aud[GW_FILTER_VALUE_MAX];
	uint32_t skew_s;
	bool require_exp;
	size_t n;
	struct jwt_key keys[MAX_JWT_KEYS];
};

static int
parse_alg(const char *s, enum jwt_alg *a)
{
	for (size_t i = 0; i < 3; i++)
		if (strcmp(s, alg_names[i]) == 0) {
			*a = (enum jwt_alg)i;
			return 0;
		}
	return -EINVAL;
}

/* The key fits its algorithm: RSA >= 2048 bits, EC on P-256. */
static bool
pkey_fits(EVP_PKEY *pk, enum jwt_alg alg)
{
	char grp[64];
	size_t gl;

	if (alg == JWT_RS256)
		return EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA &&
		       EVP_PKEY_get_bits(pk) >= 2048;
	if (alg == JWT_ES256)
		return EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC &&
		       EVP_PKEY_get_utf8_string_param(
			       pk, OSSL_PKEY_PARAM_GROUP_NAME, grp, sizeof(grp),
			       &gl) == 1 &&
		       (strcmp(grp, "prime256v1") == 0 ||
			strcmp(grp, "P-256") == 0);
	return false;
}

static void
key_clear(struct jwt_key *k)
{
	EVP_PKEY_free(k->pk);
	if (k->secret != NULL)
		OPENSSL_cleanse(k->secret, k->slen);
	free(k->secret);
	memset(k, 0, sizeof(*k));
}

/* "KID ALG FILE [CONSUMER]"; with load, the file is read into k. */
static int
key_line(const char *v, struct jwt_key *k, bool load, char *why, size_t wl)
{
	char buf[GW_FILTER_VALUE_MAX], *f[5], *save = NULL;
	size_t n = 0;
	char *data = NULL;
	size_t len;
	int rc;

	snprintf(buf, sizeof(buf), "%s", v);
	for (char *t = strtok_r(buf, " \t", &save); t != NULL && n < 5;
	     t = strtok_r(NULL, " \t", &save))
		f[n++] = t;
	if (n < 3 || n > 4 || strlen(f[0]) >= KID_MAX ||
	    parse_alg(f[1], &k->alg) < 0 || f[2][0] != '/' ||
	    (n == 4 && strlen(f[3]) >= GW_NAME_MAX)) {
		snprintf(why, wl,
			 "KID HS256|RS256|ES256 /path/to/key "
			 "[CONSUMER]");
		return -EINVAL;
	}
	for (const char *p = f[0]; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f) {
			snprintf(why, wl, "KID: visible ASCII");
			return -EINVAL;
		}
	if (n == 4)
		for (const char *p = f[3]; *p != '\0'; p++)
			if (*p <= 0x20 || *p >= 0x7f) {
				snprintf(why, wl, "CONSUMER: visible ASCII");
				return -EINVAL;
			}
	strcpy(k->kid, f[0]);
	snprintf(k->consumer, sizeof(k->consumer), "%s", n == 4 ? f[3] : "");
	if (!load)
		return 0;
	rc = gw_fread_file(f[2], k->alg == JWT_HS256 ? SECRET_MAX : KEYFILE_MAX,
			   &data, &len);
	if (rc < 0) {
		snprintf(why, wl, "%s: %s", f[2], strerror(-rc));
		return rc;
	}
	if (k->alg == JWT_HS256) {
		if (len > 0 && data[len - 1] == '\n')
			len--;
		if (len < SECRET_MIN) {
			snprintf(why, wl,
				 "%s: an HS256 secret of at least %d "
				 "bytes",
				 f[2], SECRET_MIN);
			rc = -EINVAL;
			goto out;
		}
		k->secret = malloc(len);
		if (k->secret == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(k->secret, data, len);
		k->slen = len;
	} else {
		BIO *b = BIO_new_mem_buf(data, (int)len);

		k->pk = b != NULL ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL)
				  : NULL;
		BIO_free(b);
		if (k->pk == NULL || !pkey_fits(k->pk, k->alg)) {
			snprintf(why, wl,
				 "%s: not a PEM public key for %s (RSA >= "
				 "2048 bits, EC P-256)",
				 f[2], alg_names[k->alg]);
			rc = -EINVAL;
			goto out;
		}
	}
	rc = 0;
out:
	if (data != NULL) {
		OPENSSL_cleanse(data, len);
		free(data);
	}
	return rc;
}

/* ---- JWKS ---------------------------------------------------------------------- */

static int
b64_field(const cJSON *o, const char *name, uint8_t *out, size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsString(v))
		return -EINVAL;
	return gw_b64url_decode(v->valuestring, strlen(v->valuestring), out,
				cap);
}

static EVP_PKEY *
jwk_rsa(const cJSON *o)
{
	uint8_t n[1024], e[16];
	int nl = b64_field(o, "n", n, sizeof(n));
	int el = b64_field(o, "e", e, sizeof(e));
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	BIGNUM *bn = NULL, *be = NULL;

	if (nl <= 0 || el <= 0)
		return NULL;
	bn = BN_bin2bn(n, nl, NULL);
	be = BN_bin2bn(e, el, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (bn == NULL || be == NULL || bld == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pk = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return pk;
}

static EVP_PKEY *
jwk_ec(const cJSON *o)
{
	const cJSON *crv = cJSON_GetObjectItemCaseSensitive(o, "crv");
	uint8_t pub[65];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;

	if (!cJSON_IsString(crv) || strcmp(crv->valuestring, "P-256") != 0 ||
	    b64_field(o, "x", pub + 1, 32) != 32 ||
	    b64_field(o, "y", pub + 33, 32) != 32)
		return NULL;
	pub[0] = 0x04; /* uncompressed point */
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					     "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub,
					      sizeof(pub)))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pk = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return pk;
}

static int
load_jwks(struct jwt_filter *f, const char *path, char *why, size_t wl)
{
	char *data;
	size_t len;
	cJSON *root, *keys, *o;
	int rc, i = 0;

	rc = gw_fread_file(path, KEYFILE_MAX, &data, &len);
	if (rc < 0) {
		snprintf(why, wl, "%s: %s", path, strerror(-rc));
		return rc;
	}
	root = cJSON_ParseWithLength(data, len);
	free(data);
	keys = cJSON_GetObjectItemCaseSensitive(root, "keys");
	if (!cJSON_IsArray(keys)) {
		snprintf(why, wl, "%s: not a JWKS ({\"keys\": [...]})", path);
		cJSON_Delete(root);
		return -EINVAL;
	}
	rc = 0;
	cJSON_ArrayForEach(o, keys)
	{
		const cJSON *kty = cJSON_GetObjectItemCaseSensitive(o, "kty");
		const cJSON *kid = cJSON_GetObjectItemCaseSensitive(o, "kid");
		const cJSON *alg = cJSON_GetObjectItemCaseSensitive(o, "alg");
		struct jwt_key *k;

		if (f->n >= MAX_JWT_KEYS) {
			snprintf(why, wl, "%s: too many keys", path);
			rc = -ENOSPC;
			break;
		}
		k = &f->keys[f->n];
		if (!cJSON_IsString(kty) || !cJSON_IsString(kid) ||
		    !cJSON_IsString(alg) ||
		    strlen(kid->valuestring) >= KID_MAX ||
		    parse_alg(alg->valuestring, &k->alg) < 0) {
			snprintf(why, wl,
				 "%s: key %d: needs kty, kid and alg (HS256, "
				 "RS256 or ES256)",
				 path, i);
			rc = -EINVAL;
			break;
		}
		strcpy(k->kid, kid->valuestring);
		if (k->alg == JWT_HS256 &&
		    strcmp(kty->valuestring, "oct") == 0) {
			uint8_t s[SECRET_MAX];
			int sl = b64_field(o, "k", s, sizeof(s));

			if (sl >= SECRET_MIN) {
				k->secret = malloc((size_t)sl);
				if (k->secret != NULL) {
					memcpy(k->secret, s, (size_t)sl);
					k->slen = (size_t)sl;
				}
			}
			OPENSSL_cleanse(s, sizeof(s));
		} else if (k->alg == JWT_RS256 &&
			   strcmp(kty->valuestring, "RSA") == 0) {
			k->pk = jwk_rsa(o);
		} else if (k->alg == JWT_ES256 &&
			   strcmp(kty->valuestring, "EC") == 0) {
			k->pk = jwk_ec(o);
		}
		if ((k->pk == NULL && k->secret == NULL) ||
		    (k->pk != NULL && !pkey_fits(k->pk, k->alg))) {
			snprintf(why, wl,
				 "%s: key %s: unusable for %s (RSA >= 2048 "
				 "bits, EC P-256, oct >= 32 bytes)",
				 path, k->kid, alg_names[k->alg]);
			key_clear(k);
			rc = -EINVAL;
			break;
		}
		f->n++;
		i++;
	}
	cJSON_Delete(root);
	return rc;
}

/* ---- configuration -------------------------------------------------------------- */

static _Atomic uint64_t jwt_ids;

static int
jw_key(struct jwt_filter *f, const char *key, const char *v, bool load,
       char *why, size_t wl)
{
	if (strcmp(key, "header") == 0 || strcmp(key, "consumer_header") == 0 ||
	    strcmp(key, "consumer_claim") == 0) {
		char *dst = key[0] == 'h'			  ? f->header
			    : strcmp(key, "consumer_header") == 0 ? f->cons_hdr
								  : f->claim;

		if (!gw_fis_token(v) || strlen(v) >= GW_NAME_MAX) {
			snprintf(why, wl, "a name (token)");
			return -EINVAL;
		}
		strcpy(dst, v);
		return 0;
	}
	if (strcmp(key, "issuer") == 0 || strcmp(key, "audience") == 0) {
		if (v[0] == '\0') {
			snprintf(why, wl, "not empty");
			return -EINVAL;
		}
		snprintf(key[0] == 'i' ? f->iss : f->aud, sizeof(f->iss), "%s",
			 v);
		return 0;
	}
	if (strcmp(key, "clock_skew_s") == 0) {
		if (gw_fparse_u32(v, 0, 600, &f->skew_s) == 0)
			return 0;
		snprintf(why, wl, "0..600");
		return -EINVAL;
	}
	if (strcmp(key, "require_exp") == 0) {
		if (gw_fparse_bool(v, &f->require_exp) == 0)
			return 0;
		snprintf(why, wl, "yes or no");
		return -EINVAL;
	}
	if (strcmp(key, "key") == 0) {
		struct jwt_key tmp = { 0 };
		int rc;

		if (load && f->n >= MAX_JWT_KEYS) {
			snprintf(why, wl, "too many keys");
			return -ENOSPC;
		}
		rc = key_line(v, load ? &f->keys[f->n] : &tmp, load, why, wl);
		if (rc < 0) {
			if (load)
				key_clear(&f->keys[f->n]);
			return rc;
		}
		if (load)
			f->n++;
		return 0;
	}
	if (strcmp(key, "jwks") == 0) {
		if (v[0] != '/') {
			snprintf(why, wl, "an absolute path");
			return -EINVAL;
		}
		return load ? load_jwks(f, v, why, wl) : 0;
	}
	return -ENOENT;
}

static int
jw_check_key(const char *key, const char *value, char *why, size_t wl)
{
	struct jwt_filter *f = calloc(1, sizeof(*f)); /* names only */
	int rc;

	if (f == NULL)
		return -ENOMEM;
	rc = jw_key(f, key, value, false, why, wl);
	free(f);
	return rc;
}

static void
jw_destroy(void *inst)
{
	struct jwt_filter *f = inst;

	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++)
		key_clear(&f->keys[i]);
	free(f);
}

static void *
jw_create(const struct gw_filter_conf *c, char *err, size_t errlen)
{
	struct jwt_filter *f = calloc(1, sizeof(*f));
	char why[256];

	if (f == NULL) {
		lb_errf(err, errlen, 0, "filter %s: out of memory", c->name);
		errno = ENOMEM;
		return NULL;
	}
	f->id = atomic_fetch_add(&jwt_ids, 1) + 1;
	strcpy(f->header, "Authorization");
	strcpy(f->cons_hdr, "X-Consumer");
	strcpy(f->claim, "sub");
	f->skew_s = 30;
	f->require_exp = true;
	for (size_t i = 0; i < c->nkeys; i++) {
		int rc;

		why[0] = '\0';
		rc = jw_key(f, c->kv[i].key, c->kv[i].value, true, why,
			    sizeof(why));
		if (rc < 0) {
			lb_errf(err, errlen, 0, "filter %s: %s: %s", c->name,
				c->kv[i].key,
				why[0] != '\0' ? why : strerror(-rc));
			jw_destroy(f);
			errno = EINVAL;
			return NULL;
		}
	}
	for (size_t i = 0; i < f->n; i++)
		for (size_t k = 0; k < i; k++)
			if (strcmp(f->keys[i].kid, f->keys[k].kid) == 0) {
				lb_errf(err, errlen, 0,
					"filter %s: key: kid \"%s\" given "
					"twice",
					c->name, f->keys[i].kid);
				jw_destroy(f);
				errno = EINVAL;
				return NULL;
			}
	if (f->n == 0) {
		lb_errf(err, errlen, 0, "filter %s: key: no key (key or jwks)",
			c->name);
		jw_destroy(f);
		errno = EINVAL;
		return NULL;
	}
	return f;
}

/* ---- verification ------------------------------------------------------------------ */

static bool
verify_sig(const struct jwt_key *k, const char *in, size_t inl,
	   const uint8_t *sig, size_t sl)
{
	uint8_t mac[EVP_MAX_MD_SIZE], der[80];
	unsigned int ml = sizeof(mac);
	const uint8_t *vs = sig;
	size_t vl = sl;
	EVP_MD_CTX *ctx;
	bool ok = false;

	if (k->alg == JWT_HS256) {
		if (sl != 32 ||
		    HMAC(EVP_sha256(), k->secret, (int)k->slen,
			 (const unsigned char *)in, inl, mac, &ml) == NULL)
			return false;
		return CRYPTO_memcmp(mac, sig, 32) == 0;
	}
	if (k->alg == JWT_ES256) {
		/* JWS: r || s, 32 bytes each; OpenSSL wants DER */
		ECDSA_SIG *es;
		BIGNUM *r, *s;
		uint8_t *p = der;
		int dl;

		if (sl != 64)
			return false;
		es = ECDSA_SIG_new();
		r = BN_bin2bn(sig, 32, NULL);
		s = BN_bin2bn(sig + 32, 32, NULL);
		if (es == NULL || r == NULL || s == NULL ||
		    ECDSA_SIG_set0(es, r, s) != 1) {
			BN_free(r);
			BN_free(s);
			ECDSA_SIG_free(es);
			return false;
		}
		dl = i2d_ECDSA_SIG(es, NULL);
		if (dl <= 0 || (size_t)dl > sizeof(der) ||
		    i2d_ECDSA_SIG(es, &p) != dl) {
			ECDSA_SIG_free(es);
			return false;
		}
		ECDSA_SIG_free(es);
		vs = der;
		vl = (size_t)dl;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx != NULL &&
	    EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pk) == 1 &&
	    EVP_DigestVerify(ctx, vs, vl, (const unsigned char *)in, inl) == 1)
		ok = true;
	EVP_MD_CTX_free(ctx);
	return ok;
}

static cJSON *
decode_json(const char *p, size_t n)
{
	uint8_t buf[PART_MAX];
	int l = gw_b64url_decode(p, n, buf, sizeof(buf));
	cJSON *o;

	if (l <= 0)
		return NULL;
	o = cJSON_ParseWithLength((const char *)buf, (size_t)l);
	if (o != NULL && !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* A NumericDate claim: absent (false), or its value; bad: *bad. */
static bool
num_claim(const cJSON *pl, const char *name, double *v, bool *bad)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(pl, name);

	if (c == NULL)
		return false;
	if (!cJSON_IsNumber(c)) {
		*bad = true;
		return false;
	}
	*v = c->valuedouble;
	return true;
}

static bool
aud_ok(const cJSON *pl, const char *want)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(pl, "aud"), *e;

	if (cJSON_IsString(a))
		return strcmp(a->valuestring, want) == 0;
	if (!cJSON_IsArray(a))
		return false;
	cJSON_ArrayForEach(e, a) if (cJSON_IsString(e) &&
				     strcmp(e->valuestring, want) ==
					     0) return true;
	return false;
}

static int
fail(enum gw_freason *why, enum gw_freason r)
{
	*why = r;
	return -EACCES;
}

/* ---- verified tokens, per thread ------------------------------------------------ */

struct tc_ent {
	uint64_t fid;
	uint64_t hash;
	double exp, nbf;
	bool has_exp, has_nbf;
	bool from_claim; /* the consumer came from the token's claim */
	char consumer[GW_NAME_MAX];
	size_t len;
	char tok[]; /* len bytes */
};

static pthread_key_t tc_key;
static pthread_once_t tc_once = PTHREAD_ONCE_INIT;
static __thread struct tc_ent **tc_slots;

static void
tc_free(void *arg)
{
	struct tc_ent **slots = arg;

	for (size_t i = 0; i < TC_SLOTS; i++)
		free(slots[i]);
	free(slots);
}

static void
tc_key_init(void)
{
	(void)pthread_key_create(&tc_key, tc_free);
}

/* The calling thread's slots, made on first use and freed when the
 * thread ends; NULL without memory (then nothing is cached). */
static struct tc_ent **
tc_get(void)
{
	if (tc_slots == NULL) {
		tc_slots = calloc(TC_SLOTS, sizeof(*tc_slots));
		if (tc_slots == NULL)
			return NULL;
		pthread_once(&tc_once, tc_key_init);
		(void)pthread_setspecific(tc_key, tc_slots);
	}
	return tc_slots;
}

/* A word at a time: a token is a few hundred bytes. */
static uint64_t
tc_hash(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, p, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 32);
}

/* a and b differ (n bytes), in time that depends on n only: a word at
 * a time, where CRYPTO_memcmp goes a byte at a time. */
static bool
tc_differ(const char *a, const char *b, size_t n)
{
	uint64_t x = 0, wa, wb;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&wa, a + i, 8);
		memcpy(&wb, b + i, 8);
		x |= wa ^ wb;
	}
	for (; i < n; i++)
		x |= (uint8_t)(a[i] ^ b[i]);
	return x != 0;
}

static struct tc_ent *
tc_find(const struct jwt_filter *f, const char *tok, size_t len, uint64_t h)
{
	struct tc_ent **slots = tc_get(), *e;

	if (slots == NULL)
		return NULL;
	e = slots[h % TC_SLOTS];
	if (e == NULL || e->hash != h || e->fid != f->id || e->len != len ||
	    tc_differ(e->tok, tok, len))
		return NULL;
	return e;
}

static void
tc_put(const struct jwt_filter *f, const char *tok, size_t len, uint64_t h,
       const struct tc_ent *v)
{
	struct tc_ent **slots = tc_get(), *e;

	if (slots == NULL)
		return;
	e = malloc(sizeof(*e) + len);
	if (e == NULL)
		return;
	*e = *v;
	e->fid = f->id;
	e->hash = h;
	e->len = len;
	memcpy(e->tok, tok, len);
	free(slots[h % TC_SLOTS]);
	slots[h % TC_SLOTS] = e;
}

/* A token verified before: its time claims again, as the full path
 * checks them, and the consumer as the full path gives it. */
static int
tc_answer(const struct jwt_filter *f, const struct tc_ent *e, int64_t now_s,
	  char *consumer, size_t clen, enum gw_freason *why)
{
	size_t n = strlen(e->consumer);

	if (e->has_exp && (double)now_s > e->exp + f->skew_s)
		return fail(why, GW_FR_EXPIRED);
	if (e->has_nbf && (double)now_s + f->skew_s < e->nbf)
		return fail(why, GW_FR_NOT_YET_VALID);
	if (e->from_claim && n >= clen)
		return fail(why, GW_FR_MALFORMED);
	if (clen == 0)
		return 0;
	if (n >= clen)
		n = clen - 1; /* cut, as snprintf on the full path does */
	memcpy(consumer, e->consumer, n);
	consumer[n] = '\0';
	return 0;
}

int
gw_jwt_verify(void *inst, const char *tok, size_t len, int64_t now_s,
	      char *consumer, size_t clen, enum gw_freason *why)
{
	struct jwt_filter *f = inst;
	const char *d1, *d2;
	cJSON *hd = NULL, *pl = NULL;
	const cJSON *alg, *kid, *cl;
	const struct jwt_key *k = NULL;
	uint8_t sig[SIG_MAX];
	enum jwt_alg a;
	double exp = 0, nbf = 0;
	bool bad = false;
	struct tc_ent seen = { 0 }, *e;
	uint64_t h = 0;
	int sl, rc;

	if (len == 0)
		return fail(why, GW_FR_NO_CREDENTIALS);
	if (len > TOKEN_MAX)
		return fail(why, GW_FR_MALFORMED);
	if (len <= TC_TOKEN_MAX) {
		h = tc_hash(tok, len);
		e = tc_find(f, tok, len, h);
		if (e != NULL)
			return tc_answer(f, e, now_s, consumer, clen, why);
	}
	d1 = memchr(tok, '.', len);
	d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok))
			: NULL;
	if (d1 == NULL || d2 == NULL ||
	    memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL ||
	    d1 == tok || d2 == d1 + 1)
		return fail(why, GW_FR_MALFORMED);
	hd = decode_json(tok, (size_t)(d1 - tok));
	if (hd == NULL)
		return fail(why, GW_FR_MALFORMED);
	alg = cJSON_GetObjectItemCaseSensitive(hd, "alg");
	kid = cJSON_GetObjectItemCaseSensitive(hd, "kid");
	if (!cJSON_IsString(alg) || (kid != NULL && !cJSON_IsString(kid)) ||
	    cJSON_GetObjectItemCaseSensitive(hd, "crit") != NULL) {
		rc = fail(why, GW_FR_MALFORMED);
		goto out;
	}
	if (kid != NULL) {
		for (size_t i = 0; i < f->n; i++)
			if (strcmp(f->keys[i].kid, kid->valuestring) == 0)
				k = &f->keys[i];
	} else if (f->n == 1) {
		k = &f->keys[0];
	}
	if (k == NULL) {
		rc = fail(why, GW_FR_UNKNOWN_KEY);
		goto out;
	}
	/* the pin: "none", and any alg but the key's, stop here */
	if (parse_alg(alg->valuestring, &a) < 0 || a != k->alg) {
		rc = fail(why, GW_FR_WRONG_ALG);
		goto out;
	}
	sl = gw_b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - tok), sig,
			      sizeof(sig));
	if (sl <= 0) {
		rc = fail(why, GW_FR_MALFORMED);
		goto out;
	}
	if (!verify_sig(k, tok, (size_t)(d2 - tok), sig, (size_t)sl)) {
		rc = fail(why, GW_FR_BAD_SIGNATURE);
		goto out;
	}
	pl = decode_json(d1 + 1, (size_t)(d2 - d1 - 1));
	if (pl == NULL) {
		rc = fail(why, GW_FR_MALFORMED);
		goto out;
	}
	if (num_claim(pl, "exp", &exp, &bad)) {
		seen.has_exp = true;
		seen.exp = exp;
		if ((double)now_s > exp + f->skew_s) {
			rc = fail(why, GW_FR_EXPIRED);
			goto out;
		}
	} else if (bad || f->require_exp) {
		rc = fail(why, GW_FR_MALFORMED);
		goto out;
	}
	if (num_claim(pl, "nbf", &nbf, &bad)) {
		seen.has_nbf = true;
		seen.nbf = nbf;
		if ((double)now_s + f->skew_s < nbf) {
			rc = fail(why, GW_FR_NOT_YET_VALID);
			goto out;
		}
	}
	if (bad) {
		rc = fail(why, GW_FR_MALFORMED);
		goto out;
	}
	if (f->iss[0] != '\0') {
		const cJSON *iss = cJSON_GetObjectItemCaseSensitive(pl, "iss");

		if (!cJSON_IsString(iss) ||
		    strcmp(iss->valuestring, f->iss) != 0) {
			rc = fail(why, GW_FR_WRONG_ISSUER);
			goto out;
		}
	}
	if (f->aud[0] != '\0' && !aud_ok(pl, f->aud)) {
		rc = fail(why, GW_FR_WRONG_AUDIENCE);
		goto out;
	}
	if (k->consumer[0] != '\0') {
		snprintf(consumer, clen, "%s", k->consumer);
		strcpy(seen.consumer, k->consumer);
	} else {
		cl = cJSON_GetObjectItemCaseSensitive(pl, f->claim);
		if (!cJSON_IsString(cl) || cl->valuestring[0] == '\0' ||
		    strlen(cl->valuestring) >= clen) {
			rc = fail(why, GW_FR_MALFORMED);
			goto out;
		}
		for (const char *p = cl->valuestring; *p != '\0'; p++)
			if (*p <= 0x20 || *p >= 0x7f) {
				rc = fail(why, GW_FR_MALFORMED);
				goto out;
			}
		snprintf(consumer, clen, "%s", cl->valuestring);
		if (strlen(cl->valuestring) < sizeof(seen.consumer)) {
			seen.from_claim = true;
			strcpy(seen.consumer, cl->valuestring);
		}
	}
	if (len <= TC_TOKEN_MAX && seen.consumer[0] != '\0')
		tc_put(f, tok, len, h, &seen);
	rc = 0;
out:
	cJSON_Delete(hd);
	cJSON_Delete(pl);
	return rc;
}

static enum gw_fverdict
jw_pre(void *inst, void *rstate, struct gw_freq *fr,
       const struct gw_freq_in *in, uint64_t *scratch)
{
	struct jwt_filter *f = inst;
	const char *v = http_msg_header(in->m, f->header);
	char cons[GW_NAME_MAX];
	enum gw_freason why;

	(void)rstate;
	(void)scratch;
	gw_freq_consumer_header(fr, f->cons_hdr);
	if (v != NULL && strcmp(f->header, "Authorization") == 0) {
		if (strncasecmp(v, "Bearer ", 7) != 0)
			v = NULL;
		else
			v += 7;
	}
	if (v == NULL || v[0] == '\0') {
		(void)gw_freq_add_hdr(fr, "WWW-Authenticate", "Bearer");
		return gw_freq_reject(fr, 401, GW_FR_NO_CREDENTIALS, NULL);
	}
	if (gw_jwt_verify(f, v, strlen(v), in->wall_s, cons, sizeof(cons),
			  &why) < 0) {
		(void)gw_freq_add_hdr(fr, "WWW-Authenticate",
				      "Bearer error=\"invalid_token\"");
		return gw_freq_reject(fr, 401, why, NULL);
	}
	gw_freq_set_consumer(fr, cons, f->cons_hdr);
	return GW_FV_PASS;
}

const struct gw_filter_ops gw_filter_jwt = {
	.type = "jwt",
	.check_key = jw_check_key,
	.create = jw_create,
	.destroy = jw_destroy,
	.pre = jw_pre,
};
