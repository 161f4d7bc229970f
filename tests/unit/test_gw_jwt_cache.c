/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The jwt filter's verified-token cache (gw_auth_jwt.c) answers as the
 * full verification does:
 *
 * time       a token verified once is refused as expired past exp + skew
 *            and as not yet valid before nbf - skew, and passes again
 *            in between, each time with the same consumer;
 * filters    a token verified by one filter is refused by another
 *            filter with another secret under the same kid, also when
 *            the first is destroyed first (the second may get its
 *            address);
 * bytes      a token differing in one byte from a verified one is
 *            verified in full (bad signature);
 * consumer   a consumer too long for the caller's buffer is refused
 *            (from the claim) or truncated (from the key), again from
 *            the cache;
 * slots      more tokens than the cache has slots all still verify,
 *            and a tampered copy of each is still refused;
 * threads    another thread verifies and refuses as this one.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gw_filter_priv.h"

#define NOW  1700000000
#define SKEW 30

static char dir[] = "/tmp/test_gw_jwt_cache.XXXXXX";

static void
b64url(const uint8_t *in, size_t n, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				"qrstuvwxyz0123456789-_";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = t[(v >> 18) & 63];
		out[o++] = t[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = t[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = t[v & 63];
	}
	out[o] = '\0';
}

/* s appended to out (of cap bytes, NUL-terminated) */
static void
cat(char *out, size_t cap, const char *s)
{
	size_t n = strlen(out), k = strlen(s);

	ck_assert_uint_lt(n + k, cap);
	memcpy(out + n, s, k + 1);
}

/* An HS256 token with kid "k" over payload, signed with secret. */
static void
token(char *out, size_t cap, const char *secret, const char *payload)
{
	const char *hdr = "{\"alg\":\"HS256\",\"kid\":\"k\"}";
	char b[1024];
	uint8_t mac[32];
	unsigned int ml = sizeof(mac);

	ck_assert_uint_lt(strlen(payload), 700);
	out[0] = '\0';
	b64url((const uint8_t *)hdr, strlen(hdr), b);
	cat(out, cap, b);
	cat(out, cap, ".");
	b64url((const uint8_t *)payload, strlen(payload), b);
	cat(out, cap, b);
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), secret, (int)strlen(secret),
				   (const uint8_t *)out, strlen(out), mac,
				   &ml));
	b64url(mac, sizeof(mac), b);
	cat(out, cap, ".");
	cat(out, cap, b);
}

/* A jwt filter whose one key "k" is an HS256 secret (with a consumer on
 * the key when kcons is given). */
static void *
filter(const char *secret, const char *kcons)
{
	struct gw_filter_conf c;
	char path[128], err[256];
	FILE *f;
	void *inst;

	snprintf(path, sizeof(path), "%s/%s", dir, secret);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(secret, f);
	fclose(f);
	memset(&c, 0, sizeof(c));
	strcpy(c.name, "jw");
	c.ops = &gw_filter_jwt;
	c.nkeys = 2;
	strcpy(c.kv[0].key, "key");
	snprintf(c.kv[0].value, sizeof(c.kv[0].value), "k HS256 %s%s%s", path,
		 kcons != NULL ? " " : "", kcons != NULL ? kcons : "");
	strcpy(c.kv[1].key, "audience");
	strcpy(c.kv[1].value, "api");
	inst = gw_filter_jwt.create(&c, err, sizeof(err));
	ck_assert_msg(inst != NULL, "create: %s", err);
	return inst;
}

#define SECRET_A "secret-a-secret-a-secret-a-secret-a-0123"
#define SECRET_B "secret-b-secret-b-secret-b-secret-b-0123"

static int
verify(void *f, const char *tok, int64_t now, char *cons, size_t cl,
       enum gw_freason *why)
{
	*why = GW_FR_NO_CREDENTIALS;
	cons[0] = '\0';
	return gw_jwt_verify(f, tok, strlen(tok), now, cons, cl, why);
}

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/test_gw_jwt_cache.XXXXXX");
}

START_TEST(time_claims)
{
	void *f = filter(SECRET_A, NULL);
	char tok[2048], cons[64];
	enum gw_freason why;
	char pl[256];

	snprintf(pl, sizeof(pl),
		 "{\"sub\":\"alice\",\"aud\":\"api\",\"exp\":%d,\"nbf\":%d}",
		 NOW + 600, NOW - 1000);
	token(tok, sizeof(tok), SECRET_A, pl);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(verify(f, tok, NOW, cons, sizeof(cons), &why),
				 0);
		ck_assert_str_eq(cons, "alice");
	}
	/* the last second within the skew, then one past it */
	ck_assert_int_eq(
		verify(f, tok, NOW + 600 + SKEW, cons, sizeof(cons), &why), 0);
	ck_assert_int_eq(
		verify(f, tok, NOW + 600 + SKEW + 1, cons, sizeof(cons), &why),
		-EACCES);
	ck_assert_int_eq(why, GW_FR_EXPIRED);
	ck_assert_int_eq(
		verify(f, tok, NOW - 1000 - SKEW, cons, sizeof(cons), &why), 0);
	ck_assert_int_eq(
		verify(f, tok, NOW - 1000 - SKEW - 1, cons, sizeof(cons), &why),
		-EACCES);
	ck_assert_int_eq(why, GW_FR_NOT_YET_VALID);
	ck_assert_int_eq(verify(f, tok, NOW, cons, sizeof(cons), &why), 0);
	ck_assert_str_eq(cons, "alice");
	gw_filter_jwt.destroy(f);
}
END_TEST

START_TEST(other_filter)
{
	void *a = filter(SECRET_A, NULL), *b;
	char tok[2048], cons[64];
	enum gw_freason why;

	token(tok, sizeof(tok), SECRET_A,
	      "{\"sub\":\"alice\",\"aud\":\"api\",\"exp\":1700000600}");
	ck_assert_int_eq(verify(a, tok, NOW, cons, sizeof(cons), &why), 0);
	b = filter(SECRET_B, NULL);
	ck_assert_int_eq(verify(b, tok, NOW, cons, sizeof(cons), &why),
			 -EACCES);
	ck_assert_int_eq(why, GW_FR_BAD_SIGNATURE);
	gw_filter_jwt.destroy(b);
	/* a reload: the old filter goes, a new one with another secret
	 * comes (often at the same address) */
	gw_filter_jwt.destroy(a);
	b = filter(SECRET_B, NULL);
	ck_assert_int_eq(verify(b, tok, NOW, cons, sizeof(cons), &why),
			 -EACCES);
	ck_assert_int_eq(why, GW_FR_BAD_SIGNATURE);
	gw_filter_jwt.destroy(b);
}
END_TEST

START_TEST(one_byte)
{
	void *f = filter(SECRET_A, NULL);
	char tok[2048], cons[64];
	enum gw_freason why;
	size_t n;

	token(tok, sizeof(tok), SECRET_A,
	      "{\"sub\":\"alice\",\"aud\":\"api\",\"exp\":1700000600}");
	ck_assert_int_eq(verify(f, tok, NOW, cons, sizeof(cons), &why), 0);
	n = strlen(tok);
	tok[n - 2] = tok[n - 2] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(verify(f, tok, NOW, cons, sizeof(cons), &why),
			 -EACCES);
	ck_assert_int_eq(why, GW_FR_BAD_SIGNATURE);
	gw_filter_jwt.destroy(f);
}
END_TEST

START_TEST(consumer_buffer)
{
	void *f = filter(SECRET_A, NULL), *k;
	char tok[2048], cons[64];
	enum gw_freason why;

	token(tok, sizeof(tok), SECRET_A,
	      "{\"sub\":\"alice-the-consumer\",\"aud\":\"api\","
	      "\"exp\":1700000600}");
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(verify(f, tok, NOW, cons, 6, &why), -EACCES);
		ck_assert_int_eq(why, GW_FR_MALFORMED);
		ck_assert_int_eq(verify(f, tok, NOW, cons, sizeof(cons), &why),
				 0);
		ck_assert_str_eq(cons, "alice-the-consumer");
	}
	gw_filter_jwt.destroy(f);
	k = filter(SECRET_A, "svc-from-key");
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(verify(k, tok, NOW, cons, 4, &why), 0);
		ck_assert_str_eq(cons, "svc");
		ck_assert_int_eq(verify(k, tok, NOW, cons, sizeof(cons), &why),
				 0);
		ck_assert_str_eq(cons, "svc-from-key");
	}
	gw_filter_jwt.destroy(k);
}
END_TEST

START_TEST(many_tokens)
{
	void *f = filter(SECRET_A, NULL);
	static char toks[2000][256];
	char pl[256], cons[64];
	enum gw_freason why;

	for (int i = 0; i < 2000; i++) {
		snprintf(pl, sizeof(pl),
			 "{\"sub\":\"u%d\",\"aud\":\"api\",\"exp\":%d}", i,
			 NOW + 600);
		token(toks[i], sizeof(toks[i]), SECRET_A, pl);
	}
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < 2000; i++) {
			char want[16], bad[256];
			size_t n;

			snprintf(want, sizeof(want), "u%d", i);
			ck_assert_int_eq(verify(f, toks[i], NOW, cons,
						sizeof(cons), &why),
					 0);
			ck_assert_str_eq(cons, want);
			strcpy(bad, toks[i]);
			n = strlen(bad);
			bad[n - 3] = bad[n - 3] == 'A' ? 'B' : 'A';
			ck_assert_int_eq(
				verify(f, bad, NOW, cons, sizeof(cons), &why),
				-EACCES);
		}
	gw_filter_jwt.destroy(f);
}
END_TEST

struct thr {
	void *f;
	const char *tok;
	int ok, expired;
};

static void *
thr_main(void *arg)
{
	struct thr *t = arg;
	char cons[64];
	enum gw_freason why;

	t->ok = verify(t->f, t->tok, NOW, cons, sizeof(cons), &why) == 0 &&
		strcmp(cons, "alice") == 0;
	t->expired = verify(t->f, t->tok, NOW + 10000, cons, sizeof(cons),
			    &why) == -EACCES &&
		     why == GW_FR_EXPIRED;
	return NULL;
}

START_TEST(threads)
{
	void *f = filter(SECRET_A, NULL);
	char tok[2048], cons[64];
	enum gw_freason why;
	struct thr t;
	pthread_t th;

	token(tok, sizeof(tok), SECRET_A,
	      "{\"sub\":\"alice\",\"aud\":\"api\",\"exp\":1700000600}");
	ck_assert_int_eq(verify(f, tok, NOW, cons, sizeof(cons), &why), 0);
	t = (struct thr){ .f = f, .tok = tok };
	ck_assert_int_eq(pthread_create(&th, NULL, thr_main, &t), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert(t.ok);
	ck_assert(t.expired);
	gw_filter_jwt.destroy(f);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("gw_jwt_cache");
	TCase *tc = tcase_create("cache");
	SRunner *sr;
	int nf;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, time_claims);
	tcase_add_test(tc, other_filter);
	tcase_add_test(tc, one_byte);
	tcase_add_test(tc, consumer_buffer);
	tcase_add_test(tc, many_tokens);
	tcase_add_test(tc, threads);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
