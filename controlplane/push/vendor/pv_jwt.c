/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JWS compact serialisation (RFC 7515) for the vendors' tokens, on OpenSSL
 * directly: base64url without padding, ES256 (RFC 7518 3.4: the signature
 * is R||S, 32 bytes each, not OpenSSL's DER ECDSA-Sig-Value) for APNs
 * provider tokens, RS256 for the FCM service-account assertion.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "edgelb/util.h"
#include "push_vendor_priv.h"

static const char pv_b64u[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
pv_b64url_encode(const void *in, size_t n, char *out, size_t outlen)
{
	const uint8_t *p = in;
	size_t need = n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1), o = 0;

	if (need + 1 > outlen)
		return -ENOSPC;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		out[o++] = pv_b64u[(v >> 18) & 63];
		out[o++] = pv_b64u[(v >> 12) & 63];
		if (left > 1)
			out[o++] = pv_b64u[(v >> 6) & 63];
		if (left > 2)
			out[o++] = pv_b64u[v & 63];
	}
	out[o] = '\0';
	return (int)o;
}

static int
pv_b64u_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int
pv_b64url_decode(const char *in, size_t n, uint8_t *out, size_t outlen)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (n % 4 == 1)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int v = pv_b64u_val(in[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == outlen)
				return -ENOSPC;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be zero (canonical form). */
	if ((acc & ((1u << bits) - 1)) != 0)
		return -EINVAL;
	return (int)o;
}

static int
pv_key_check(EVP_PKEY *k, int want, char *err, size_t errlen)
{
	if (EVP_PKEY_get_base_id(k) != want)
		return lb_errf(err, errlen, -EINVAL, "the key is not %s",
			       want == EVP_PKEY_EC ? "an EC key"
						   : "an RSA key");
	if (want == EVP_PKEY_EC) {
		char curve[32];
		size_t n;

		if (EVP_PKEY_get_utf8_string_param(k, "group", curve,
						   sizeof(curve), &n) != 1 ||
		    strcmp(curve, "prime256v1") != 0)
			return lb_errf(err, errlen, -EINVAL,
				       "the EC key is not on P-256");
	} else if (EVP_PKEY_get_bits(k) < 2048) {
		return lb_errf(err, errlen, -EINVAL,
			       "the RSA key has fewer than 2048 bits");
	}
	return 0;
}

EVP_PKEY *
pv_key_from_pem(const char *pem, size_t len, int want, char *err, size_t errlen)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k = NULL;

	if (bio == NULL || len > INT32_MAX) {
		lb_errf(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (k == NULL) {
		lb_errf(err, errlen, -EINVAL, "no PEM private key (%s)",
			ERR_reason_error_string(ERR_peek_last_error()));
		ERR_clear_error();
		goto out;
	}
	if (pv_key_check(k, want, err, errlen) != 0) {
		EVP_PKEY_free(k);
		k = NULL;
	}
out:
	BIO_free(bio);
	return k;
}

EVP_PKEY *
pv_key_from_file(const char *path, int want, char *err, size_t errlen)
{
	char e[128];
	EVP_PKEY *k = NULL;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		lb_errf(err, errlen, -errno, "%s: %s", path, strerror(errno));
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL) {
		lb_errf(err, errlen, -EINVAL, "%s: no PEM private key (%s)",
			path, ERR_reason_error_string(ERR_peek_last_error()));
		ERR_clear_error();
		return NULL;
	}
	if (pv_key_check(k, want, e, sizeof(e)) != 0) {
		lb_errf(err, errlen, -EINVAL, "%s: %s", path, e);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

int
pv_ecdsa_der_to_raw(const uint8_t *der, size_t len, uint8_t *raw, size_t n)
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM *r, *s;
	int rc = -EINVAL;

	if (sig == NULL)
		return -EINVAL;
	if (p != der + len)
		goto out;
	ECDSA_SIG_get0(sig, &r, &s);
	/* Left-padded to n bytes each; refuses a number longer than n. */
	if (BN_bn2binpad(r, raw, (int)n) != (int)n ||
	    BN_bn2binpad(s, raw + n, (int)n) != (int)n)
		goto out;
	rc = 0;
out:
	ECDSA_SIG_free(sig);
	return rc;
}

int
pv_jwt_sign(EVP_PKEY *key, const char *header_json, const char *claims_json,
	    char **out, char *err, size_t errlen)
{
	bool ec = EVP_PKEY_get_base_id(key) == EVP_PKEY_EC;
	size_t hl = strlen(header_json), cl = strlen(claims_json);
	size_t cap = (hl + cl) / 3 * 4 + 8 + 1024, siglen = 0, used;
	EVP_MD_CTX *md = NULL;
	uint8_t *sig = NULL, raw[64];
	char *buf = malloc(cap);
	int n, rc = -ENOMEM;

	*out = NULL;
	if (buf == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	n = pv_b64url_encode(header_json, hl, buf, cap);
	if (n < 0)
		goto fail;
	used = (size_t)n;
	buf[used++] = '.';
	n = pv_b64url_encode(claims_json, cl, buf + used, cap - used);
	if (n < 0)
		goto fail;
	used += (size_t)n;
	md = EVP_MD_CTX_new();
	if (md == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (uint8_t *)buf, used) != 1)
		goto ssl_fail;
	sig = malloc(siglen);
	if (sig == NULL)
		goto fail;
	if (EVP_DigestSign(md, sig, &siglen, (uint8_t *)buf, used) != 1)
		goto ssl_fail;
	if (ec) {
		if (pv_ecdsa_der_to_raw(sig, siglen, raw, 32) != 0) {
			rc = lb_errf(err, errlen, -EINVAL,
				     "ECDSA signature not P-256");
			goto out;
		}
		memcpy(sig, raw, 64); /* sig has the maximum DER size (72) */
		siglen = 64;
	}
	buf[used++] = '.';
	n = pv_b64url_encode(sig, siglen, buf + used, cap - used);
	if (n < 0)
		goto fail;
	*out = buf;
	buf = NULL;
	rc = 0;
	goto out;
ssl_fail:
	rc = lb_errf(err, errlen, -EINVAL, "signing failed: %s",
		     ERR_reason_error_string(ERR_peek_last_error()));
	ERR_clear_error();
	goto out;
fail:
	rc = lb_errf(err, errlen, -ENOMEM, "out of memory");
out:
	EVP_MD_CTX_free(md);
	free(sig);
	free(buf);
	return rc;
}
