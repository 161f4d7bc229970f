/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The push service's vendor channels (controlplane/push/vendor/). Two runs:
 *
 * push_vendor: no network. base64url vectors and round trips; ES256 and
 *   RS256 JWS made by pv_jwt_sign and verified here with OpenSSL (the R||S
 *   signature turned back into DER); key checks; the [push_vendor NAME]
 *   keys and their errors; each vendor's classification as a table; what
 *   send refuses before any request.
 * push_vendor_fakes (argument "fakes"; exit 77 without Debian's python3
 *   with python3-h2 and python3-cryptography): each channel against its
 *   fake vendor in tests/fake_vendors/ (HTTPS on 127.0.0.1, a certificate
 *   made here by `openssl req`; HTTP/2 for APNs), on an event loop in this
 *   thread: success (and what the vendor received), invalid tokens,
 *   provider/access token renewal, server errors, timeouts. The fakes log
 *   every request (log.jsonl) and are steered by ctl.json.
 *
 * Every loop is bounded in time; a fake dies with the test (PDEATHSIG).
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cjson/cJSON.h>
#include <event2/event.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "edgelb/util.h"
#include "push_vendor.h"
#include "push_vendor_priv.h"

#define TOKEN_OK                                                               \
	"a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
#define TOKEN_UNREG                                                            \
	"00000000000000000000000000000000000000000000000000000000000000aa"
#define TOKEN_BAD                                                              \
	"00000000000000000000000000000000000000000000000000000000000000bb"
#define TOKEN_DOWN                                                             \
	"00000000000000000000000000000000000000000000000000000000000000cc"
#define TOKEN_SLOW                                                             \
	"00000000000000000000000000000000000000000000000000000000000000dd"
#define TOKEN_BUSY                                                             \
	"00000000000000000000000000000000000000000000000000000000000000ee"
#define MSG_ID	"5f1c9a4e-3b2d-4c8f-9e7a-1d2c3b4a5f60"
#define PAYLOAD "{\"aps\":{\"alert\":\"hi\"},\"k\":\"v\"}"

/* ---- helpers ---------------------------------------------------------- */

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

static EVP_PKEY *
keygen(const char *type, const char *arg)
{
	EVP_PKEY *k =
		strcmp(type, "RSA") == 0
			? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
			: EVP_PKEY_Q_keygen(NULL, NULL, "EC", arg);

	ck_assert_ptr_nonnull(k);
	return k;
}

static char *
pem_of(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;

	ck_assert(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL));
	n = BIO_get_mem_data(b, &p);
	out = strndup(p, (size_t)n);
	BIO_free(b);
	return out;
}

/* Split a JWS and check its signature with OpenSSL; returns 1 (valid), 0
 * (not), header and claims decoded into h and c. */
static int
jws_check(const char *jws, EVP_PKEY *k, char *h, char *c, size_t cap)
{
	const char *d1 = strchr(jws, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : 0;
	uint8_t sig[1024], der[128], *dp = der;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int n, hn, cn, ok;

	ck_assert_ptr_nonnull(d2);
	hn = pv_b64url_decode(jws, (size_t)(d1 - jws), (uint8_t *)h, cap - 1);
	cn = pv_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), (uint8_t *)c,
			      cap - 1);
	ck_assert_int_ge(hn, 0);
	ck_assert_int_ge(cn, 0);
	h[hn] = c[cn] = '\0';
	n = pv_b64url_decode(d2 + 1, strlen(d2 + 1), sig, sizeof(sig));
	ck_assert_int_gt(n, 0);
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC) {
		/* JWS R||S back into DER for OpenSSL. */
		ECDSA_SIG *es = ECDSA_SIG_new();

		ck_assert_int_eq(n, 64);
		ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL),
			       BN_bin2bn(sig + 32, 32, NULL));
		n = i2d_ECDSA_SIG(es, &dp);
		ECDSA_SIG_free(es);
		memcpy(sig, der, (size_t)n);
	}
	ck_assert(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1);
	ok = EVP_DigestVerify(md, sig, (size_t)n, (const uint8_t *)jws,
			      (size_t)(d2 - jws));
	EVP_MD_CTX_free(md);
	return ok == 1;
}

/* ---- base64url and JWS ------------------------------------------------ */

/* Change a base64url character into another one (still decodable). */
static void
swap_char(char *c)
{
	*c = *c == 'A' ? 'B' : 'A';
}

START_TEST(b64url_vectors)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} v[] = {
		{ "", 0, "" },
		{ "f", 1, "Zg" },
		{ "fo", 2, "Zm8" },
		{ "foo", 3, "Zm9v" },
		{ "foob", 4, "Zm9vYg" },
		{ "\xfb\xff", 2, "-_8" },
		{ "\x00\x10\x83", 3, "ABCD" },
	};
	char out[64];
	uint8_t back[64], rnd[97];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ck_assert_int_eq(
			pv_b64url_encode(v[i].in, v[i].n, out, sizeof(out)),
			(int)strlen(v[i].out));
		ck_assert_str_eq(out, v[i].out);
		ck_assert_int_eq(
			pv_b64url_decode(out, strlen(out), back, sizeof(back)),
			(int)v[i].n);
		ck_assert_mem_eq(back, v[i].in, v[i].n);
	}
	/* Round trips of every length, random bytes. */
	for (size_t n = 0; n < sizeof(rnd); n++) {
		char enc[160];
		uint8_t dec[100];

		for (size_t i = 0; i < n; i++)
			rnd[i] = (uint8_t)rand();
		ck_assert_int_ge(pv_b64url_encode(rnd, n, enc, sizeof(enc)), 0);
		ck_assert_ptr_null(strpbrk(enc, "+/="));
		ck_assert_int_eq(
			pv_b64url_decode(enc, strlen(enc), dec, sizeof(dec)),
			(int)n);
		ck_assert_mem_eq(dec, rnd, n);
	}
	/* Refused: padding, standard alphabet, a lone char, non-canonical
	 * trailing bits, too small a buffer. */
	ck_assert_int_eq(pv_b64url_decode("Zg==", 4, back, 64), -EINVAL);
	ck_assert_int_eq(pv_b64url_decode("a+b/", 4, back, 64), -EINVAL);
	ck_assert_int_eq(pv_b64url_decode("Z", 1, back, 64), -EINVAL);
	ck_assert_int_eq(pv_b64url_decode("Zh", 2, back, 64), -EINVAL);
	ck_assert_int_eq(pv_b64url_decode("Zm9v", 4, back, 2), -ENOSPC);
	ck_assert_int_eq(pv_b64url_encode("foo", 3, out, 4), -ENOSPC);
}
END_TEST

START_TEST(jws_es256)
{
	EVP_PKEY *k = keygen("EC", "P-256");
	char *jws, err[128], h[256], c[256];
	const char *hdr = "{\"alg\":\"ES256\",\"kid\":\"ABC123DEFG\"}";
	const char *cl = "{\"iss\":\"DEF123GHIJ\",\"iat\":1700000000}";

	for (int i = 0; i < 20; i++) { /* short R or S now and then */
		ck_assert_int_eq(
			pv_jwt_sign(k, hdr, cl, &jws, err, sizeof(err)), 0);
		ck_assert_int_eq(jws_check(jws, k, h, c, sizeof(h)), 1);
		ck_assert_str_eq(h, hdr);
		ck_assert_str_eq(c, cl);
		/* A flipped claim byte no longer verifies. */
		swap_char(&jws[strchr(jws, '.') - jws + 3]);
		ck_assert_int_eq(jws_check(jws, k, h, c, sizeof(h)), 0);
		free(jws);
	}
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(jws_rs256)
{
	EVP_PKEY *k = keygen("RSA", NULL);
	char *jws, err[128], h[256], c[256];
	const char *hdr = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}";
	const char *cl = "{\"iss\":\"sa@p.iam.gserviceaccount.com\"}";

	ck_assert_int_eq(pv_jwt_sign(k, hdr, cl, &jws, err, sizeof(err)), 0);
	ck_assert_int_eq(jws_check(jws, k, h, c, sizeof(h)), 1);
	ck_assert_str_eq(h, hdr);
	ck_assert_str_eq(c, cl);
	swap_char(&jws[strlen(jws) - 2]);
	ck_assert_int_eq(jws_check(jws, k, h, c, sizeof(h)), 0);
	free(jws);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(ecdsa_raw_padding)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	uint8_t der[80], *p = der, raw[64], want[64] = { 0 };
	BIGNUM *big = BN_new();
	int n;

	/* R = 1, S = 2: each left-padded to 32 bytes. */
	ECDSA_SIG_set0(s, BN_new(), BN_new());
	BN_set_word((BIGNUM *)ECDSA_SIG_get0_r(s), 1);
	BN_set_word((BIGNUM *)ECDSA_SIG_get0_s(s), 2);
	n = i2d_ECDSA_SIG(s, &p);
	want[31] = 1;
	want[63] = 2;
	ck_assert_int_eq(pv_ecdsa_der_to_raw(der, (size_t)n, raw, 32), 0);
	ck_assert_mem_eq(raw, want, 64);
	/* Garbage, trailing bytes, a number over 32 bytes: refused. */
	ck_assert_int_eq(pv_ecdsa_der_to_raw((const uint8_t *)"xx", 2, raw, 32),
			 -EINVAL);
	der[n] = 0;
	ck_assert_int_eq(pv_ecdsa_der_to_raw(der, (size_t)n + 1, raw, 32),
			 -EINVAL);
	BN_set_bit(big, 300);
	ECDSA_SIG_set0(s, big, BN_dup(ECDSA_SIG_get0_s(s)));
	p = der;
	n = i2d_ECDSA_SIG(s, &p);
	ck_assert_int_eq(pv_ecdsa_der_to_raw(der, (size_t)n, raw, 32), -EINVAL);
	ECDSA_SIG_free(s);
}
END_TEST

START_TEST(key_checks)
{
	EVP_PKEY *rsa = keygen("RSA", NULL), *p384 = keygen("EC", "P-384");
	EVP_PKEY *p256 = keygen("EC", "P-256"), *k;
	char *pr = pem_of(rsa), *p3 = pem_of(p384), *p2 = pem_of(p256);
	char err[160];

	k = pv_key_from_pem(p2, strlen(p2), EVP_PKEY_EC, err, sizeof(err));
	ck_assert_ptr_nonnull(k);
	EVP_PKEY_free(k);
	ck_assert_ptr_null(
		pv_key_from_pem(pr, strlen(pr), EVP_PKEY_EC, err, sizeof(err)));
	ck_assert_str_eq(err, "the key is not an EC key");
	ck_assert_ptr_null(
		pv_key_from_pem(p3, strlen(p3), EVP_PKEY_EC, err, sizeof(err)));
	ck_assert_str_eq(err, "the EC key is not on P-256");
	ck_assert_ptr_null(pv_key_from_pem(p2, strlen(p2), EVP_PKEY_RSA, err,
					   sizeof(err)));
	ck_assert_ptr_null(
		pv_key_from_pem("junk", 4, EVP_PKEY_EC, err, sizeof(err)));
	ck_assert_ptr_null(pv_key_from_file("/nonexistent/k.p8", EVP_PKEY_EC,
					    err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	free(pr);
	free(p3);
	free(p2);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(p256);
}
END_TEST

/* ---- configuration ---------------------------------------------------- */

START_TEST(conf_keys)
{
	struct push_vendor_conf c;
	char err[256], big[400];

	push_vendor_conf_init(&c, "ios");
	ck_assert_str_eq(c.name, "ios");
	ck_assert_str_eq(c.push_type, "alert");
	ck_assert_uint_eq(c.request_timeout_ms, 10000);
	ck_assert_uint_eq(c.token_refresh_ms, 40u * 60 * 1000);
	ck_assert_int_eq(
		push_vendor_conf_key(&c, "type", "apns", err, sizeof(err)), 0);
	ck_assert_int_eq(push_vendor_conf_key(&c, "request_timeout", "2s", err,
					      sizeof(err)),
			 0);
	ck_assert_uint_eq(c.request_timeout_ms, 2000);
	ck_assert_int_eq(push_vendor_conf_key(&c, "token_refresh", "45m", err,
					      sizeof(err)),
			 0);
	ck_assert_uint_eq(c.token_refresh_ms, 45u * 60 * 1000);
	ck_assert_int_eq(
		push_vendor_conf_key(&c, "max_conns", "8", err, sizeof(err)),
		0);
	ck_assert_uint_eq(c.max_conns, 8);

	ck_assert_int_eq(
		push_vendor_conf_key(&c, "colour", "x", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unknown key 'colour'");
	ck_assert_int_eq(
		push_vendor_conf_key(&c, "topic", "", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "topic: empty value");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(
		push_vendor_conf_key(&c, "endpoint", big, err, sizeof(err)),
		-1);
	ck_assert_str_eq(err, "endpoint: longer than 255 characters");
	ck_assert_int_eq(
		push_vendor_conf_key(&c, "key_id", "a\tb", err, sizeof(err)),
		-1);
	ck_assert_str_eq(err, "key_id: control character");
	ck_assert_int_eq(push_vendor_conf_key(&c, "request_timeout", "3h", err,
					      sizeof(err)),
			 -1);
	ck_assert_str_eq(err, "request_timeout: '3h' is not a duration (N, "
			      "Nms, Ns, Nm)");
	ck_assert_int_eq(push_vendor_conf_key(&c, "token_refresh", "10m", err,
					      sizeof(err)),
			 -1);
	ck_assert_str_eq(err, "token_refresh: '10m' out of range [1200000, "
			      "3000000] ms");
	ck_assert_int_eq(
		push_vendor_conf_key(&c, "max_conns", "-1", err, sizeof(err)),
		-1);
	ck_assert_str_eq(err, "max_conns: '-1' is not a number");
	ck_assert_uint_eq(c.token_refresh_ms, 45u * 60 * 1000);
}
END_TEST

static int
conf_of(struct push_vendor_conf *c, const char *const *kv, char *err, size_t n)
{
	push_vendor_conf_init(c, "v");
	for (; kv[0] != NULL; kv += 2)
		ck_assert_msg(push_vendor_conf_key(c, kv[0], kv[1], err, n) ==
				      0,
			      "%s: %s", kv[0], err);
	return push_vendor_conf_validate(c, err, n);
}

START_TEST(conf_validate)
{
	static const struct {
		const char *kv[16];
		const char *err; /* NULL: valid */
	} t[] = {
		{ { NULL }, "[push_vendor v]: no type" },
		{ { "type", "gcm", NULL },
		  "[push_vendor v]: type 'gcm' is not one of apns, fcm, "
		  "huawei, xiaomi" },
		{ { "type", "apns", NULL }, "[push_vendor v]: no endpoint" },
		{ { "type", "apns", "endpoint", "ftp://1.2.3.4", NULL },
		  "[push_vendor v]: 'ftp://1.2.3.4': not an https:// URL" },
		{ { "type", "apns", "endpoint", "https://api.push.apple.com",
		    NULL },
		  "[push_vendor v]: type apns needs key_file" },
		{ { "type", "xiaomi", "endpoint",
		    "https://api.xmpush.xiaomi.com", "address", "api",
		    "app_secret", "s", NULL },
		  "[push_vendor v]: address 'api' is not an IP address" },
		{ { "type", "xiaomi", "endpoint", "https://h/x?y", "app_secret",
		    "s", NULL },
		  "[push_vendor v]: 'https://h/x?y': bad path" },
		{ { "type", "apns", "endpoint", "https://1.2.3.4:99999", NULL },
		  "[push_vendor v]: 'https://1.2.3.4:99999': bad port" },
		{ { "type", "apns", "endpoint", "https://api.push.apple.com",
		    "address", "17.188.1.1", "key_file", "/k", "key_id", "K",
		    "team_id", "T", NULL },
		  "[push_vendor v]: type apns needs topic" },
		{ { "type", "apns", "endpoint", "https://api.push.apple.com",
		    "address", "17.188.1.1", "key_file", "/k", "key_id", "K",
		    "team_id", "T", "topic", "com.example.app", NULL },
		  NULL },
		{ { "type", "fcm", "endpoint", "https://[::1]:8443", NULL },
		  "[push_vendor v]: type fcm needs key_file" },
		{ { "type", "huawei", "endpoint", "https://127.0.0.1",
		    "client_id", "1", "client_secret", "s", NULL },
		  "[push_vendor v]: type huawei needs token_url" },
		{ { "type", "huawei", "endpoint", "https://127.0.0.1",
		    "client_id", "1", "client_secret", "s", "token_url",
		    "https://oauth-login.cloud.huawei.com/oauth2/v3/token",
		    NULL },
		  NULL },
		{ { "type", "xiaomi", "endpoint", "https://127.0.0.1/x", NULL },
		  "[push_vendor v]: type xiaomi needs app_secret" },
		{ { "type", "xiaomi", "endpoint", "https://127.0.0.1/x",
		    "app_secret", "s", NULL },
		  NULL },
		{ { "type", "xiaomi", "endpoint", "https://127.0.0.1/x",
		    "app_secret", "s", "resolver", "ns1", NULL },
		  "[push_vendor v]: resolver 'ns1' is not IP[:port]" },
	};
	struct push_vendor_conf c;
	char err[256];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		err[0] = '\0';
		int rc = conf_of(&c, t[i].kv, err, sizeof(err));

		if (t[i].err == NULL) {
			ck_assert_msg(rc == 0, "case %zu: %s", i, err);
		} else {
			ck_assert_msg(rc == -1, "case %zu valid", i);
			ck_assert_str_eq(err, t[i].err);
		}
	}
	ck_assert_ptr_eq(push_vendor_find("apns"), &push_vendor_apns);
	ck_assert_ptr_eq(push_vendor_find("fcm"), &push_vendor_fcm);
	ck_assert_ptr_eq(push_vendor_find("huawei"), &push_vendor_huawei);
	ck_assert_ptr_eq(push_vendor_find("xiaomi"), &push_vendor_xiaomi);
	ck_assert_ptr_null(push_vendor_find("gcm"));
	ck_assert_ptr_null(push_vendor_find(NULL));
}
END_TEST

START_TEST(url_parse)
{
	static const struct {
		const char *url, *address;
		int rc;
		const char *host, *authority, *path;
		uint16_t port;
		bool resolve;
	} t[] = {
		{ "https://api.push.apple.com", NULL, 0, "api.push.apple.com",
		  "api.push.apple.com", "", 443, true },
		{ "https://api.push.apple.com:2197/", "17.188.1.1", 0,
		  "api.push.apple.com", "api.push.apple.com:2197", "", 2197,
		  false },
		{ "https://127.0.0.1:8443/base/", NULL, 0, "127.0.0.1",
		  "127.0.0.1:8443", "/base", 8443, false },
		{ "https://[::1]:8443/v", NULL, 0, "::1", "[::1]:8443", "/v",
		  8443, false },
		{ "http://10.0.0.1", NULL, 0, "10.0.0.1", "10.0.0.1", "", 80,
		  false },
		{ "https://", NULL, -EINVAL },
		{ "https://h:0", NULL, -EINVAL },
		{ "https://h:x/", NULL, -EINVAL },
		{ "https://user@h/", NULL, -EINVAL },
		{ "https://[::1/", NULL, -EINVAL },
		{ "https://h/a#b", NULL, -EINVAL },
		{ "HTTPS://h", NULL, -EINVAL },
	};
	struct pv_url u;
	char err[200];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = pv_url_parse(t[i].url, t[i].address, &u, err,
				      sizeof(err));

		ck_assert_msg(rc == t[i].rc, "%s: %d (%s)", t[i].url, rc, err);
		if (rc != 0)
			continue;
		ck_assert_str_eq(u.host, t[i].host);
		ck_assert_str_eq(u.authority, t[i].authority);
		ck_assert_str_eq(u.path, t[i].path);
		ck_assert_uint_eq(u.port, t[i].port);
		ck_assert_int_eq(u.resolve, t[i].resolve);
		ck_assert_int_eq(u.addr.family == 0, t[i].resolve);
	}
}
END_TEST

/* ---- classification tables -------------------------------------------- */

START_TEST(classify_table)
{
	static const struct {
		char vendor; /* a f h x */
		int status;
		const char *code;
		bool flag;
		enum push_vendor_result r;
		bool renew;
	} t[] = {
		{ 'a', 200, "", 0, PV_OK, 0 },
		{ 'a', 410, "Unregistered", 0, PV_BAD_TOKEN, 0 },
		{ 'a', 400, "BadDeviceToken", 0, PV_BAD_TOKEN, 0 },
		{ 'a', 400, "DeviceTokenNotForTopic", 0, PV_BAD_TOKEN, 0 },
		{ 'a', 400, "BadTopic", 0, PV_FAILED, 0 },
		{ 'a', 400, "PayloadEmpty", 0, PV_FAILED, 0 },
		{ 'a', 403, "ExpiredProviderToken", 0, PV_RETRY, 1 },
		{ 'a', 403, "InvalidProviderToken", 0, PV_FAILED, 0 },
		{ 'a', 413, "PayloadTooLarge", 0, PV_FAILED, 0 },
		{ 'a', 429, "TooManyRequests", 0, PV_RETRY, 0 },
		{ 'a', 429, "TooManyProviderTokenUpdates", 0, PV_RETRY, 0 },
		{ 'a', 500, "InternalServerError", 0, PV_RETRY, 0 },
		{ 'a', 503, "ServiceUnavailable", 0, PV_RETRY, 0 },
		{ 'f', 200, NULL, 0, PV_OK, 0 },
		{ 'f', 404, "UNREGISTERED", 0, PV_BAD_TOKEN, 0 },
		{ 'f', 403, "SENDER_ID_MISMATCH", 0, PV_BAD_TOKEN, 0 },
		{ 'f', 400, "INVALID_ARGUMENT", 1, PV_BAD_TOKEN, 0 },
		{ 'f', 400, "INVALID_ARGUMENT", 0, PV_FAILED, 0 },
		{ 'f', 401, "UNAUTHENTICATED", 0, PV_RETRY, 1 },
		{ 'f', 401, "THIRD_PARTY_AUTH_ERROR", 0, PV_FAILED, 0 },
		{ 'f', 429, "QUOTA_EXCEEDED", 0, PV_RETRY, 0 },
		{ 'f', 503, "UNAVAILABLE", 0, PV_RETRY, 0 },
		{ 'f', 500, "INTERNAL", 0, PV_RETRY, 0 },
		{ 'f', 403, "PERMISSION_DENIED", 0, PV_FAILED, 0 },
		{ 'h', 200, "80000000", 0, PV_OK, 0 },
		{ 'h', 200, "80300007", 0, PV_BAD_TOKEN, 0 },
		{ 'h', 200, "80100000", 0, PV_BAD_TOKEN, 0 },
		{ 'h', 401, "80200003", 0, PV_RETRY, 1 },
		{ 'h', 401, "80200001", 0, PV_RETRY, 1 },
		{ 'h', 200, "80300002", 0, PV_FAILED, 0 },
		{ 'h', 500, "81000001", 0, PV_RETRY, 0 },
		{ 'h', 503, NULL, 0, PV_RETRY, 0 },
		{ 'h', 400, "80100001", 0, PV_FAILED, 0 },
		{ 'x', 200, "0", 0, PV_OK, 0 },
		{ 'x', 200, "0", 1, PV_BAD_TOKEN, 0 },
		{ 'x', 200, "20301", 0, PV_BAD_TOKEN, 0 },
		{ 'x', 200, "21301", 0, PV_FAILED, 0 },
		{ 'x', 200, "10017", 0, PV_FAILED, 0 },
		{ 'x', 200, "10003", 0, PV_RETRY, 0 },
		{ 'x', 503, "10001", 0, PV_RETRY, 0 },
		{ 'x', 429, "-1", 0, PV_RETRY, 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct pv_verdict v;

		switch (t[i].vendor) {
		case 'a':
			v = pv_apns_classify(t[i].status, t[i].code);
			break;
		case 'f':
			v = pv_fcm_classify(t[i].status, t[i].code, t[i].flag);
			break;
		case 'h':
			v = pv_huawei_classify(t[i].status, t[i].code);
			break;
		default:
			v = pv_xiaomi_classify(t[i].status,
					       strtol(t[i].code, NULL, 10),
					       t[i].flag);
			break;
		}
		ck_assert_msg(
			v.r == t[i].r && v.renew == t[i].renew,
			"case %zu (%c %d %s): %s%s, want %s%s", i, t[i].vendor,
			t[i].status, t[i].code ? t[i].code : "-",
			push_vendor_result_name(v.r), v.renew ? "+renew" : "",
			push_vendor_result_name(t[i].r),
			t[i].renew ? "+renew" : "");
	}
}
END_TEST

/* ---- the loop --------------------------------------------------------- */

struct result {
	int done;
	enum push_vendor_result r;
	char reason[64];
	uint64_t at_ms;
};

static struct event_base *base;
static struct event *tick;

static void
on_result(void *arg, enum push_vendor_result r, const char *reason)
{
	struct result *res = arg;

	res->done++;
	res->r = r;
	res->at_ms = lb_now_ms();
	snprintf(res->reason, sizeof(res->reason), "%s",
		 reason != NULL ? reason : "");
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void
loop_setup(void)
{
	struct timeval tv = { 0, 20000 };

	base = event_base_new();
	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);
}

static void
loop_teardown(void)
{
	event_free(tick);
	event_base_free(base);
}

/* Run the loop until every res is done (bounded: 10 s). */
static void
wait_all(struct result *res, int n)
{
	uint64_t end = lb_now_ms() + 10000;

	for (;;) {
		int done = 0;

		for (int i = 0; i < n; i++)
			done += res[i].done;
		if (done >= n || lb_now_ms() > end)
			break;
		event_base_loop(base, EVLOOP_ONCE);
	}
	for (int i = 0; i < n; i++)
		ck_assert_msg(res[i].done == 1, "send %d ended %d times", i,
			      res[i].done);
}

/* A channel refuses what it cannot send, before any request. */
START_TEST(send_refused)
{
	struct push_vendor_conf c;
	const struct push_vendor_ops *ops = &push_vendor_xiaomi;
	struct push_vendor_msg m = {
		.id = MSG_ID,
		.token = "tok",
		.priority = 10,
		.payload = (const uint8_t *)PAYLOAD,
		.len = strlen(PAYLOAD),
	};
	struct result res = { 0 };
	char err[256], big[PUSH_VENDOR_PAYLOAD_MAX + 2];
	void *st;

	loop_setup();
	push_vendor_conf_init(&c, "x");
	push_vendor_conf_key(&c, "type", "xiaomi", err, sizeof(err));
	push_vendor_conf_key(&c, "endpoint", "https://127.0.0.1:1", err,
			     sizeof(err));
	push_vendor_conf_key(&c, "app_secret", "s", err, sizeof(err));
	ck_assert_int_eq(ops->create(base, &c, &st, err, sizeof(err)), 0);
	m.payload = (const uint8_t *)"[1,2]";
	m.len = 5;
	ck_assert_int_eq(ops->send(st, &m, on_result, &res), -EINVAL);
	m.payload = (const uint8_t *)"{\"a\":";
	ck_assert_int_eq(ops->send(st, &m, on_result, &res), -EINVAL);
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 1] = '}';
	m.payload = (const uint8_t *)big;
	m.len = sizeof(big);
	ck_assert_int_eq(ops->send(st, &m, on_result, &res), -EINVAL);
	m.payload = (const uint8_t *)PAYLOAD;
	m.len = strlen(PAYLOAD);
	m.token = "with space";
	ck_assert_int_eq(ops->send(st, &m, on_result, &res), -EINVAL);
	m.token = "";
	ck_assert_int_eq(ops->send(st, &m, on_result, &res), -EINVAL);
	m.token = "tok";
	m.collapse_key = "0123456789012345678901234567890123456789012345678"
			 "901234567890123456789";
	ck_assert_int_eq(ops->send(st, &m, on_result, &res), -EINVAL);
	ck_assert_uint_eq(ops->stats(st)->invalid, 6);
	ck_assert_uint_eq(ops->stats(st)->requests, 0);
	ck_assert_uint_eq(ops->stats(st)->reasons[0].n, 6);
	ck_assert_str_eq(ops->stats(st)->reasons[0].reason, "invalid_message");
	/* Accepted, then cancelled by destroy: one callback, PV_RETRY. */
	m.collapse_key = NULL;
	ck_assert_int_eq(ops->send(st, &m, on_result, &res), 0);
	ck_assert_int_eq(res.done, 0);
	ops->destroy(st);
	ck_assert_int_eq(res.done, 1);
	ck_assert_int_eq(res.r, PV_RETRY);
	ck_assert_str_eq(res.reason, "cancelled");
	loop_teardown();
}
END_TEST

/* A name whose lookup never answers (a UDP socket of the test is the DNS
 * server): sends end PV_RETRY "dns"; destroy with the lookup in flight
 * (its cancelled callback comes later and must find nothing freed). */
START_TEST(dns_inflight)
{
	const struct push_vendor_ops *ops = &push_vendor_xiaomi;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	struct push_vendor_conf c;
	struct result res = { 0 };
	struct push_vendor_msg m = {
		.token = "t",
		.payload = (const uint8_t *)PAYLOAD,
		.len = strlen(PAYLOAD),
	};
	char err[256], ns[64], q[512];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	uint64_t end;
	ssize_t n;
	void *st;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	snprintf(ns, sizeof(ns), "127.0.0.1:%u", ntohs(a.sin_port));
	loop_setup();
	push_vendor_conf_init(&c, "x");
	push_vendor_conf_key(&c, "type", "xiaomi", err, sizeof(err));
	push_vendor_conf_key(&c, "endpoint", "https://push.example.test", err,
			     sizeof(err));
	push_vendor_conf_key(&c, "app_secret", "s", err, sizeof(err));
	push_vendor_conf_key(&c, "resolver", ns, err, sizeof(err));
	ck_assert_int_eq(push_vendor_conf_validate(&c, err, sizeof(err)), 0);
	ck_assert_msg(ops->create(base, &c, &st, err, sizeof(err)) == 0, "%s",
		      err);
	end = lb_now_ms() + 200;
	while (lb_now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	/* The query reached our server: "push.example.test" as labels
	 * (evdns randomises the letters' case). */
	n = recv(fd, q, sizeof(q), MSG_DONTWAIT);
	ck_assert_int_gt(n, 12);
	for (ssize_t i = 0; i < n; i++)
		q[i] = (char)tolower((unsigned char)q[i]);
	ck_assert_ptr_nonnull(memmem(q, (size_t)n,
				     "\x04"
				     "push\x07"
				     "example\x04"
				     "test",
				     18));
	ck_assert_int_eq(ops->send(st, &m, on_result, &res), 0);
	wait_all(&res, 1);
	ck_assert_int_eq(res.r, PV_RETRY);
	ck_assert_str_eq(res.reason, "dns");
	ck_assert_uint_eq(ops->stats(st)->requests, 0);
	ops->destroy(st);
	end = lb_now_ms() + 100;
	while (lb_now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	close(fd);
	loop_teardown();
}
END_TEST

/* ---- the fake vendors ------------------------------------------------- */

/* root: made and removed by the parent (also after a failed test); dir:
 * one test's, inside it. */
static char root[] = "/tmp/test_push_vendor.XXXXXX";
static char dir[sizeof(root) + 16];
static pid_t fake_pid;
static const char *python = "/usr/bin/python3";
static char *srcdir;

static void
write_file(const char *name, const char *text)
{
	char tmp[512], path[512];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
}

static void ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Steer the fake: ctl.json, read on its every request. */
static void
ctl(const char *fmt, ...)
{
	char text[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	write_file("ctl.json", text);
}

/* Start fake NAME with its arguments (NULL-ended); returns its port. */
static uint16_t
fake_start(const char *name, ...)
{
	char script[512], cert[512], key[512], portf[512];
	const char *argv[32];
	int argc = 0;
	va_list ap;
	FILE *f;
	int port = 0;

	snprintf(script, sizeof(script), "%s/tests/fake_vendors/%s.py", srcdir,
		 name);
	snprintf(cert, sizeof(cert), "%s/tls.crt", dir);
	snprintf(key, sizeof(key), "%s/tls.key", dir);
	argv[argc++] = python;
	argv[argc++] = script;
	argv[argc++] = "--dir";
	argv[argc++] = dir;
	argv[argc++] = "--cert";
	argv[argc++] = cert;
	argv[argc++] = "--key";
	argv[argc++] = key;
	va_start(ap, name);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	fake_pid = fork();
	ck_assert_int_ge(fake_pid, 0);
	if (fake_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(python, (char *const *)argv);
		_exit(127);
	}
	snprintf(portf, sizeof(portf), "%s/port", dir);
	for (int i = 0; i < 200 && port == 0; i++) {
		f = fopen(portf, "r");
		if (f != NULL) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (port == 0)
			usleep(50000);
	}
	ck_assert_msg(port > 0, "fake %s did not start", name);
	return (uint16_t)port;
}

static void
fake_stop(void)
{
	if (fake_pid > 0) {
		kill(fake_pid, SIGKILL);
		waitpid(fake_pid, NULL, 0);
	}
	fake_pid = 0;
}

/* The fake's log: entries of kind (NULL: all), oldest first. */
static cJSON *
fake_log(const char *kind)
{
	char path[512], line[65536];
	cJSON *all = cJSON_CreateArray();
	FILE *f;

	snprintf(path, sizeof(path), "%s/log.jsonl", dir);
	f = fopen(path, "r");
	if (f == NULL)
		return all;
	while (fgets(line, sizeof(line), f) != NULL) {
		cJSON *e = cJSON_Parse(line);
		const cJSON *k = cJSON_GetObjectItem(e, "kind");

		ck_assert_ptr_nonnull(e);
		if (kind == NULL ||
		    (cJSON_IsString(k) && strcmp(k->valuestring, kind) == 0))
			cJSON_AddItemToArray(all, e);
		else
			cJSON_Delete(e);
	}
	fclose(f);
	return all;
}

static int
fake_count(const char *kind)
{
	cJSON *l = fake_log(kind);
	int n = cJSON_GetArraySize(l);

	cJSON_Delete(l);
	return n;
}

/* A string at a path of the last entry of kind ("headers", "apns-id"). */
static char *
fake_last(const char *kind, const char *k1, const char *k2)
{
	cJSON *l = fake_log(kind);
	const cJSON *e = cJSON_GetArrayItem(l, cJSON_GetArraySize(l) - 1);
	const cJSON *v = cJSON_GetObjectItem(e, k1);
	char *out = NULL;

	if (k2 != NULL)
		v = cJSON_GetObjectItem(v, k2);
	if (cJSON_IsString(v))
		out = strdup(v->valuestring);
	else if (v != NULL)
		out = cJSON_PrintUnformatted(v);
	cJSON_Delete(l);
	return out;
}

static void
root_setup(void)
{
	memcpy(root + sizeof(root) - 7, "XXXXXX", 6); /* one per TCase */
	ck_assert_ptr_nonnull(mkdtemp(root));
}

static void
root_teardown(void)
{
	sh("rm -rf %s", root);
}

static void
fakes_setup(void)
{
	snprintf(dir, sizeof(dir), "%s/t.XXXXXX", root);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	sh("cd %s && openssl req -x509 -newkey ec -pkeyopt "
	   "ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 "
	   "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout tls.key "
	   "-out tls.crt "
	   ">/dev/null 2>&1",
	   dir);
	loop_setup();
}

static void
fakes_teardown(void)
{
	fake_stop();
	loop_teardown();
}

static void *
channel(const struct push_vendor_ops *ops, uint16_t port, const char *const *kv)
{
	struct push_vendor_conf c;
	char err[256], ep[64], ca[512];
	void *st = NULL;

	snprintf(ep, sizeof(ep), "https://127.0.0.1:%u", port);
	snprintf(ca, sizeof(ca), "%s/tls.crt", dir);
	push_vendor_conf_init(&c, ops->name);
	ck_assert_int_eq(
		push_vendor_conf_key(&c, "type", ops->name, err, sizeof(err)),
		0);
	ck_assert_int_eq(
		push_vendor_conf_key(&c, "endpoint", ep, err, sizeof(err)), 0);
	ck_assert_int_eq(
		push_vendor_conf_key(&c, "ca_file", ca, err, sizeof(err)), 0);
	ck_assert_int_eq(push_vendor_conf_key(&c, "request_timeout", "1s", err,
					      sizeof(err)),
			 0);
	for (; kv[0] != NULL; kv += 2)
		ck_assert_msg(push_vendor_conf_key(&c, kv[0], kv[1], err,
						   sizeof(err)) == 0,
			      "%s: %s", kv[0], err);
	ck_assert_msg(push_vendor_conf_validate(&c, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_msg(ops->create(base, &c, &st, err, sizeof(err)) == 0, "%s",
		      err);
	return st;
}

/* One message to token; waits for its end. */
static struct result
send1(const struct push_vendor_ops *ops, void *st, const char *token)
{
	struct push_vendor_msg m = {
		.id = MSG_ID,
		.token = token,
		.collapse_key = "news",
		.ttl_s = 3600,
		.priority = 10,
		.payload = (const uint8_t *)PAYLOAD,
		.len = strlen(PAYLOAD),
	};
	struct result res = { 0 };

	ck_assert_int_eq(ops->send(st, &m, on_result, &res), 0);
	ck_assert_int_eq(res.done, 0); /* never from inside send */
	wait_all(&res, 1);
	return res;
}

#define ck_result(res, want, why)                                              \
	do {                                                                   \
		ck_assert_msg((res).r == (want), "result %s (%s), want %s",    \
			      push_vendor_result_name((res).r), (res).reason,  \
			      push_vendor_result_name(want));                  \
		ck_assert_str_eq((res).reason, why);                           \
	} while (0)

static uint64_t
reason_n(const struct push_vendor_stats *st, const char *reason)
{
	for (uint32_t i = 0; i < st->nreasons; i++)
		if (strcmp(st->reasons[i].reason, reason) == 0)
			return st->reasons[i].n;
	return 0;
}

/* ---- APNs ---- */

static uint16_t
apns_start(void)
{
	char p8[512], pub[512];

	snprintf(p8, sizeof(p8), "%s/apns.p8", dir);
	snprintf(pub, sizeof(pub), "%s/apns.pub", dir);
	sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
	   "-out %s && openssl pkey -in %s -pubout -out %s",
	   p8, p8, pub);
	return fake_start("fake_apns", "--auth-key", pub, "--key-id",
			  "ABC123DEFG", "--team-id", "DEF123GHIJ", "--topic",
			  "com.example.app", NULL);
}

static void *
apns_channel(uint16_t port)
{
	char p8[512];
	const char *kv[] = { "key_file", p8,
			     "key_id",	 "ABC123DEFG",
			     "team_id",	 "DEF123GHIJ",
			     "topic",	 "com.example.app",
			     NULL };

	snprintf(p8, sizeof(p8), "%s/apns.p8", dir);
	return channel(&push_vendor_apns, port, kv);
}

START_TEST(apns_send_ok)
{
	uint16_t port = apns_start();
	void *st = apns_channel(port);
	const struct push_vendor_ops *ops = &push_vendor_apns;
	struct result r;
	char *v;
	long long exp;

	r = send1(ops, st, TOKEN_OK);
	ck_result(r, PV_OK, "");
	/* What APNs received, as it checked it (see fake_apns.py). */
	ck_assert_int_eq(fake_count("send"), 1);
	v = fake_last("send", "http2", NULL);
	ck_assert_str_eq(v, "true");
	free(v);
	v = fake_last("send", "headers", ":path");
	ck_assert_str_eq(v, "/3/device/" TOKEN_OK);
	free(v);
	v = fake_last("send", "headers", "apns-topic");
	ck_assert_str_eq(v, "com.example.app");
	free(v);
	v = fake_last("send", "headers", "apns-push-type");
	ck_assert_str_eq(v, "alert");
	free(v);
	v = fake_last("send", "headers", "apns-priority");
	ck_assert_str_eq(v, "10");
	free(v);
	v = fake_last("send", "headers", "apns-collapse-id");
	ck_assert_str_eq(v, "news");
	free(v);
	v = fake_last("send", "headers", "apns-id");
	ck_assert_str_eq(v, MSG_ID);
	free(v);
	v = fake_last("send", "apns_id", NULL);
	ck_assert_str_eq(v, MSG_ID);
	free(v);
	v = fake_last("send", "headers", "apns-expiration");
	exp = strtoll(v, NULL, 10);
	ck_assert_msg(llabs(exp - (long long)time(NULL) - 3600) < 10,
		      "expiration %s", v);
	free(v);
	v = fake_last("send", "body", NULL);
	ck_assert_str_eq(v, PAYLOAD);
	free(v);
	v = fake_last("send", "jwt_claims", "iss");
	ck_assert_str_eq(v, "DEF123GHIJ");
	free(v);
	v = fake_last("send", "jwt_header", "kid");
	ck_assert_str_eq(v, "ABC123DEFG");
	free(v);
	/* The second message rides the same provider token. */
	r = send1(ops, st, TOKEN_OK);
	ck_result(r, PV_OK, "");
	ck_assert_uint_eq(ops->stats(st)->token_fetches, 1);
	ck_assert_uint_eq(ops->stats(st)->results[PV_OK], 2);
	ops->destroy(st);
}
END_TEST

START_TEST(apns_bad_tokens)
{
	uint16_t port = apns_start();
	void *st = apns_channel(port);
	const struct push_vendor_ops *ops = &push_vendor_apns;
	struct result r;

	ctl("{\"unregistered\":[\"%s\"],\"bad\":[\"%s\"]}", TOKEN_UNREG,
	    TOKEN_BAD);
	r = send1(ops, st, TOKEN_UNREG);
	ck_result(r, PV_BAD_TOKEN, "Unregistered");
	r = send1(ops, st, TOKEN_BAD);
	ck_result(r, PV_BAD_TOKEN, "BadDeviceToken");
	ck_assert_int_eq(fake_count("send"), 2);
	/* Not hex: known bad without asking APNs. */
	r = send1(ops, st, "not-a-hex-token");
	ck_result(r, PV_BAD_TOKEN, "BadDeviceToken");
	ck_assert_int_eq(fake_count("send"), 2);
	ck_assert_uint_eq(ops->stats(st)->results[PV_BAD_TOKEN], 3);
	ck_assert_uint_eq(reason_n(ops->stats(st), "Unregistered"), 1);
	ck_assert_uint_eq(reason_n(ops->stats(st), "BadDeviceToken"), 2);
	ops->destroy(st);
}
END_TEST

START_TEST(apns_errors_timeout)
{
	uint16_t port = apns_start();
	void *st = apns_channel(port);
	const struct push_vendor_ops *ops = &push_vendor_apns;
	struct result r;
	uint64_t t0;

	ctl("{\"down\":[\"%s\"],\"busy\":[\"%s\"],\"slow\":[\"%s\"],"
	    "\"slow_ms\":3000}",
	    TOKEN_DOWN, TOKEN_BUSY, TOKEN_SLOW);
	r = send1(ops, st, TOKEN_DOWN);
	ck_result(r, PV_RETRY, "ServiceUnavailable");
	r = send1(ops, st, TOKEN_BUSY);
	ck_result(r, PV_RETRY, "TooManyRequests");
	t0 = lb_now_ms();
	r = send1(ops, st, TOKEN_SLOW);
	ck_result(r, PV_RETRY, "timeout");
	ck_assert_msg(r.at_ms - t0 >= 900 && r.at_ms - t0 < 2900,
		      "timed out after %llu ms",
		      (unsigned long long)(r.at_ms - t0));
	ck_assert_uint_eq(ops->stats(st)->timeouts, 1);
	/* The connection is still good for the next one. */
	r = send1(ops, st, TOKEN_OK);
	ck_result(r, PV_OK, "");
	ops->destroy(st);
}
END_TEST

START_TEST(apns_provider_token)
{
	uint16_t port = apns_start();
	void *st = apns_channel(port);
	const struct push_vendor_ops *ops = &push_vendor_apns;
	const struct push_vendor_stats *s;
	struct result r;
	char *jwt1, *jwt2, *jwt3, *v;

	r = send1(ops, st, TOKEN_OK);
	ck_result(r, PV_OK, "");
	jwt1 = fake_last("send", "jwt", NULL);
	s = ops->stats(st);

	/* APNs says the token expired, but it is young: no renewal within
	 * 20 minutes (TooManyProviderTokenUpdates), retry later. */
	ctl("{\"expired_jwts\":[\"%s\"]}", jwt1);
	r = send1(ops, st, TOKEN_OK);
	ck_result(r, PV_RETRY, "ExpiredProviderToken");
	ck_assert_uint_eq(s->token_fetches, 1);
	v = fake_last("send", "jwt", NULL);
	ck_assert_str_eq(v, jwt1);
	free(v);

	/* 21 minutes on: the stale token is replaced before sending. */
	pv_test_advance(st, 21u * 60 * 1000);
	r = send1(ops, st, TOKEN_OK);
	ck_result(r, PV_OK, "");
	ck_assert_uint_eq(s->token_fetches, 2);
	jwt2 = fake_last("send", "jwt", NULL);
	ck_assert_str_ne(jwt2, jwt1);
	ck_assert_int_eq(fake_count("send"), 3);

	/* 21 more minutes: APNs refuses the token in flight; it is old
	 * enough, so a new one is made and the message sent again, once. */
	ctl("{\"expired_jwts\":[\"%s\",\"%s\"]}", jwt1, jwt2);
	pv_test_advance(st, 21u * 60 * 1000);
	r = send1(ops, st, TOKEN_OK);
	ck_result(r, PV_OK, "");
	ck_assert_int_eq(fake_count("send"), 5);
	ck_assert_uint_eq(s->token_fetches, 3);
	ck_assert_uint_eq(s->resent, 1);
	jwt3 = fake_last("send", "jwt", NULL);
	ck_assert_str_ne(jwt3, jwt2);
	ck_assert_str_ne(jwt3, jwt1);

	/* Renewed without being asked once token_refresh (40 min) passed. */
	pv_test_advance(st, 41u * 60 * 1000);
	r = send1(ops, st, TOKEN_OK);
	ck_result(r, PV_OK, "");
	ck_assert_uint_eq(s->token_fetches, 4);
	v = fake_last("send", "jwt", NULL);
	ck_assert_str_ne(v, jwt3);
	free(v);
	ck_assert_int_eq(fake_count("send"), 6);
	free(jwt1);
	free(jwt2);
	free(jwt3);
	ops->destroy(st);
}
END_TEST

/* ---- FCM ---- */

/* The service account: an RSA key whose public half the fake gets, then
 * (the fake's port known) the JSON with token_uri pointing at the fake. */
static uint16_t
fcm_start(void)
{
	char pub[512], uri[128];
	EVP_PKEY *k = keygen("RSA", NULL);
	char *pem = pem_of(k), *txt;
	cJSON *j = cJSON_CreateObject();
	BIO *b;
	uint16_t port;

	snprintf(pub, sizeof(pub), "%s/sa.pub", dir);
	b = BIO_new_file(pub, "w");
	ck_assert(PEM_write_bio_PUBKEY(b, k));
	BIO_free(b);
	port = fake_start("fake_fcm", "--pub", pub, "--key-id", "4f1e2d3c",
			  "--email",
			  "push@demo-project.iam.gserviceaccount.com",
			  "--project", "demo-project", NULL);
	snprintf(uri, sizeof(uri), "https://127.0.0.1:%u/token", port);
	cJSON_AddStringToObject(j, "type", "service_account");
	cJSON_AddStringToObject(j, "project_id", "demo-project");
	cJSON_AddStringToObject(j, "private_key_id", "4f1e2d3c");
	cJSON_AddStringToObject(j, "private_key", pem);
	cJSON_AddStringToObject(j, "client_email",
				"push@demo-project.iam.gserviceaccount.com");
	cJSON_AddStringToObject(j, "token_uri", uri);
	txt = cJSON_Print(j);
	write_file("sa.json", txt);
	free(txt);
	cJSON_Delete(j);
	free(pem);
	EVP_PKEY_free(k);
	return port;
}

static void *
fcm_channel(uint16_t port)
{
	char sa[512];
	const char *kv[] = { "key_file", sa, NULL };

	(void)port;
	snprintf(sa, sizeof(sa), "%s/sa.json", dir);
	return channel(&push_vendor_fcm, port, kv);
}

/* ---- Huawei ---- */

static uint16_t
huawei_start(void)
{
	return fake_start("fake_huawei", "--client-id", "104857600",
			  "--client-secret", "s3cr3t/+=&", "--app-id",
			  "104857600", NULL);
}

static const char *huawei_secret = "s3cr3t/+=&";

static void *
huawei_channel(uint16_t port)
{
	char tu[128];
	const char *kv[] = {
		"token_url",   tu,  "client_id", "104857600", "client_secret",
		huawei_secret, NULL
	};

	snprintf(tu, sizeof(tu), "https://127.0.0.1:%u/oauth2/v3/token", port);
	return channel(&push_vendor_huawei, port, kv);
}

/* ---- what FCM and Huawei share: access tokens ---- */

struct ovendor {
	const struct push_vendor_ops *ops;
	uint16_t (*start)(void);
	void *(*channel)(uint16_t port);
	const char *unreg_why, *invalid_why, *down_why;
};

static const struct ovendor ov_fcm = {
	&push_vendor_fcm, fcm_start,	      fcm_channel,
	"UNREGISTERED",	  "INVALID_ARGUMENT", "UNAVAILABLE",
};
static const struct ovendor ov_huawei = {
	&push_vendor_huawei, huawei_start, huawei_channel,
	"80300007",	     "80300007",   "81000001",
};

/* Sends the fake answered with status. */
static int
sends_with(int status)
{
	cJSON *l = fake_log("send"), *e;
	int n = 0;

	cJSON_ArrayForEach(e, l)
	{
		if (cJSON_GetObjectItem(e, "status")->valueint == status)
			n++;
	}
	cJSON_Delete(l);
	return n;
}

static void
ov_send_ok(const struct ovendor *ov)
{
	uint16_t port = ov->start();
	void *st = ov->channel(port);
	const struct push_vendor_ops *ops = ov->ops;
	struct result r;
	char *tok, *auth, bearer[256];

	r = send1(ops, st, TOKEN_OK);
	ck_result(r, PV_OK, "");
	ck_assert_int_eq(fake_count("token"), 1);
	ck_assert_int_eq(fake_count("send"), 1);
	tok = fake_last("token", "answer", "access_token");
	auth = fake_last("send", "headers", "authorization");
	snprintf(bearer, sizeof(bearer), "Bearer %s", tok);
	ck_assert_str_eq(auth, bearer);
	free(tok);
	free(auth);
	r = send1(ops, st, TOKEN_OK);
	ck_result(r, PV_OK, "");
	ck_assert_int_eq(fake_count("token"), 1); /* cached */
	ck_assert_uint_eq(ops->stats(st)->token_fetches, 1);
	ops->destroy(st);
}

static void
ov_bad_tokens(const struct ovendor *ov)
{
	uint16_t port = ov->start();
	void *st = ov->channel(port);
	struct result r;

	ctl("{\"unregistered\":[\"%s\"],\"invalid\":[\"%s\"]}", TOKEN_UNREG,
	    TOKEN_BAD);
	r = send1(ov->ops, st, TOKEN_UNREG);
	ck_result(r, PV_BAD_TOKEN, ov->unreg_why);
	r = send1(ov->ops, st, TOKEN_BAD);
	ck_result(r, PV_BAD_TOKEN, ov->invalid_why);
	r = send1(ov->ops, st, TOKEN_OK);
	ck_result(r, PV_OK, "");
	ov->ops->destroy(st);
}

static void
ov_errors_timeout(const struct ovendor *ov)
{
	uint16_t port = ov->start();
	void *st = ov->channel(port);
	struct result r;
	uint64_t t0;

	ctl("{\"down\":[\"%s\"],\"slow\":[\"%s\"],\"slow_ms\":3000}",
	    TOKEN_DOWN, TOKEN_SLOW);
	r = send1(ov->ops, st, TOKEN_DOWN);
	ck_result(r, PV_RETRY, ov->down_why);
	t0 = lb_now_ms();
	r = send1(ov->ops, st, TOKEN_SLOW);
	ck_result(r, PV_RETRY, "timeout");
	ck_assert_msg(r.at_ms - t0 >= 900 && r.at_ms - t0 < 2900,
		      "timed out after %llu ms",
		      (unsigned long long)(r.at_ms - t0));
	r = send1(ov->ops, st, TOKEN_OK);
	ck_result(r, PV_OK, "");
	ov->ops->destroy(st);
}

static void
ov_refresh(const struct ovendor *ov)
{
	uint16_t port = ov->start();
	void *st = ov->channel(port);
	const struct push_vendor_ops *ops = ov->ops;
	const struct push_vendor_stats *s = ops->stats(st);
	struct push_vendor_msg m = {
		.id = MSG_ID,
		.token = TOKEN_OK,
		.ttl_s = 60,
		.priority = 5,
		.payload = (const uint8_t *)PAYLOAD,
		.len = strlen(PAYLOAD),
	};
	struct result r, many[3] = { 0 };
	char *tok1, *tok2;

	r = send1(ops, st, TOKEN_OK);
	ck_result(r, PV_OK, "");
	tok1 = fake_last("token", "answer", "access_token");

	/* The vendor says the token expired (401): one new token, the
	 * message sent again with it. */
	ctl("{\"expired_access_tokens\":[\"%s\"]}", tok1);
	r = send1(ops, st, TOKEN_OK);
	ck_result(r, PV_OK, "");
	ck_assert_int_eq(fake_count("token"), 2);
	ck_assert_int_eq(sends_with(401), 1);
	ck_assert_int_eq(sends_with(200), 2);
	ck_assert_uint_eq(s->resent, 1);
	tok2 = fake_last("token", "answer", "access_token");
	ck_assert_str_ne(tok1, tok2);

	/* Three sends in flight with a token that expires: one refresh. */
	ctl("{\"expired_access_tokens\":[\"%s\",\"%s\"]}", tok1, tok2);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(ops->send(st, &m, on_result, &many[i]), 0);
	wait_all(many, 3);
	for (int i = 0; i < 3; i++)
		ck_result(many[i], PV_OK, "");
	ck_assert_int_eq(fake_count("token"), 3);
	ck_assert_int_eq(sends_with(401), 4);
	ck_assert_int_eq(sends_with(200), 5);

	/* Past its expires_in (minus the margin): renewed before sending,
	 * no 401 on the way. */
	pv_test_advance(st, 3600u * 1000);
	r = send1(ops, st, TOKEN_OK);
	ck_result(r, PV_OK, "");
	ck_assert_int_eq(fake_count("token"), 4);
	ck_assert_int_eq(sends_with(401), 4);
	ck_assert_uint_eq(s->token_fetches, 4);
	free(tok1);
	free(tok2);
	ops->destroy(st);
}

START_TEST(fcm_send_ok)
{
	char *v;

	ov_send_ok(&ov_fcm);
	v = fake_last("send", "path", NULL);
	ck_assert_str_eq(v, "/v1/projects/demo-project/messages:send");
	free(v);
	v = fake_last("token", "jwt_claims", "scope");
	ck_assert_str_eq(v,
			 "https://www.googleapis.com/auth/firebase.messaging");
	free(v);
	v = fake_last("token", "jwt_header", "kid");
	ck_assert_str_eq(v, "4f1e2d3c");
	free(v);
	v = fake_last("send", "body", NULL);
	ck_assert_str_eq(v, "{\"message\":{\"data\":{\"payload\":"
			    "\"{\\\"aps\\\":{\\\"alert\\\":\\\"hi\\\"},"
			    "\\\"k\\\":\\\"v\\\"}\",\"id\":\"" MSG_ID "\"},"
			    "\"android\":{\"priority\":\"HIGH\",\"ttl\":"
			    "\"3600s\",\"collapse_key\":\"news\"},\"token\":"
			    "\"" TOKEN_OK "\"}}");
	free(v);
}
END_TEST

START_TEST(fcm_bad_tokens)
{
	ov_bad_tokens(&ov_fcm);
}
END_TEST

START_TEST(fcm_errors_timeout)
{
	ov_errors_timeout(&ov_fcm);
}
END_TEST

START_TEST(fcm_refresh)
{
	ov_refresh(&ov_fcm);
}
END_TEST

/* A service account whose key is not the one the vendor knows. */
START_TEST(fcm_wrong_key)
{
	uint16_t port = fcm_start();
	EVP_PKEY *k = keygen("RSA", NULL);
	char *pem = pem_of(k), *txt, path[512];
	cJSON *j;
	FILE *f;
	void *st;
	struct result r;

	snprintf(path, sizeof(path), "%s/sa.json", dir);
	f = fopen(path, "r");
	txt = calloc(1, 65536);
	ck_assert_int_gt(fread(txt, 1, 65535, f), 0);
	fclose(f);
	j = cJSON_Parse(txt);
	free(txt);
	cJSON_ReplaceItemInObject(j, "private_key", cJSON_CreateString(pem));
	txt = cJSON_Print(j);
	write_file("sa.json", txt);
	st = fcm_channel(port);
	r = send1(&push_vendor_fcm, st, TOKEN_OK);
	ck_result(r, PV_FAILED, "token_invalid_grant");
	ck_assert_int_eq(fake_count("send"), 0);
	ck_assert_uint_eq(push_vendor_fcm.stats(st)->token_errors, 1);
	push_vendor_fcm.destroy(st);
	free(txt);
	free(pem);
	cJSON_Delete(j);
	EVP_PKEY_free(k);
}
END_TEST

START_TEST(huawei_send_ok)
{
	char *v;

	ov_send_ok(&ov_huawei);
	v = fake_last("send", "path", NULL);
	ck_assert_str_eq(v, "/v1/104857600/messages:send");
	free(v);
	v = fake_last("token", "form_keys", NULL);
	ck_assert_str_eq(v, "[\"client_id\",\"client_secret\",\"grant_type\"]");
	free(v);
	v = fake_last("send", "body", NULL);
	ck_assert_str_eq(v, "{\"validate_only\":false,\"message\":{\"android\":"
			    "{\"urgency\":\"HIGH\",\"ttl\":\"3600s\","
			    "\"bi_tag\":\"" MSG_ID "\"},\"token\":[\"" TOKEN_OK
			    "\"],\"data\":\"{\\\"aps\\\":{\\\"alert\\\":"
			    "\\\"hi\\\"},\\\"k\\\":\\\"v\\\"}\"}}");
	free(v);
}
END_TEST

START_TEST(huawei_bad_tokens)
{
	ov_bad_tokens(&ov_huawei);
}
END_TEST

START_TEST(huawei_errors_timeout)
{
	ov_errors_timeout(&ov_huawei);
}
END_TEST

START_TEST(huawei_refresh)
{
	ov_refresh(&ov_huawei);
}
END_TEST

START_TEST(huawei_wrong_secret)
{
	uint16_t port = huawei_start();
	void *st;
	struct result r;

	huawei_secret = "wrong";
	st = huawei_channel(port);
	r = send1(&push_vendor_huawei, st, TOKEN_OK);
	ck_result(r, PV_FAILED, "token_1101");
	ck_assert_int_eq(fake_count("send"), 0);
	ck_assert_uint_eq(push_vendor_huawei.stats(st)->token_errors, 1);
	push_vendor_huawei.destroy(st);
}
END_TEST

/* ---- Xiaomi ---- */

static void *
xiaomi_channel(uint16_t port, const char *secret)
{
	const char *kv[] = { "app_secret", secret, "package_name",
			     "com.example.app", NULL };

	return channel(&push_vendor_xiaomi, port, kv);
}

static uint16_t
xiaomi_start(void)
{
	return fake_start("fake_xiaomi", "--app-secret",
			  "mi/s3cret==", "--package", "com.example.app", NULL);
}

START_TEST(xiaomi_send)
{
	uint16_t port = xiaomi_start();
	void *st = xiaomi_channel(port, "mi/s3cret==");
	const struct push_vendor_ops *ops = &push_vendor_xiaomi;
	struct result r;
	char *v;
	uint64_t t0;

	r = send1(ops, st, TOKEN_OK);
	ck_result(r, PV_OK, "");
	v = fake_last("send", "headers", "authorization");
	ck_assert_str_eq(v, "key=mi/s3cret==");
	free(v);
	v = fake_last("send", "form", NULL);
	ck_assert_str_eq(v,
			 "{\"pass_through\":\"1\",\"payload\":\"{\\\"aps\\\":"
			 "{\\\"alert\\\":\\\"hi\\\"},\\\"k\\\":\\\"v\\\"}\","
			 "\"registration_id\":\"" TOKEN_OK "\","
			 "\"restricted_package_name\":\"com.example.app\","
			 "\"time_to_live\":\"3600000\"}");
	free(v);

	ctl("{\"unregistered\":[\"%s\"],\"invalid\":[\"%s\"],\"down\":[\"%s\"],"
	    "\"slow\":[\"%s\"],\"slow_ms\":3000}",
	    TOKEN_UNREG, TOKEN_BAD, TOKEN_DOWN, TOKEN_SLOW);
	r = send1(ops, st, TOKEN_UNREG);
	ck_result(r, PV_BAD_TOKEN, "bad_regid");
	r = send1(ops, st, TOKEN_BAD);
	ck_result(r, PV_BAD_TOKEN, "code_20301");
	r = send1(ops, st, TOKEN_DOWN);
	ck_result(r, PV_RETRY, "code_10001");
	t0 = lb_now_ms();
	r = send1(ops, st, TOKEN_SLOW);
	ck_result(r, PV_RETRY, "timeout");
	ck_assert_msg(r.at_ms - t0 >= 900 && r.at_ms - t0 < 2900,
		      "timed out after %llu ms",
		      (unsigned long long)(r.at_ms - t0));
	ck_assert_uint_eq(ops->stats(st)->results[PV_BAD_TOKEN], 2);
	ck_assert_uint_eq(ops->stats(st)->results[PV_RETRY], 2);
	ops->destroy(st);

	st = xiaomi_channel(port, "wrong");
	r = send1(ops, st, TOKEN_OK);
	ck_result(r, PV_FAILED, "code_21301");
	ops->destroy(st);
}
END_TEST

/* An endpoint by name: resolved on the loop (here from /etc/hosts), the
 * certificate checked against the name. Before the first answer a send
 * ends PV_RETRY "dns". */
START_TEST(xiaomi_by_name)
{
	uint16_t port = xiaomi_start();
	struct push_vendor_conf c;
	char err[256], ep[64], ca[512];
	const struct push_vendor_ops *ops = &push_vendor_xiaomi;
	struct result r;
	uint64_t end;
	void *st;
	char *v;

	snprintf(ep, sizeof(ep), "https://localhost:%u", port);
	snprintf(ca, sizeof(ca), "%s/tls.crt", dir);
	push_vendor_conf_init(&c, "mi");
	push_vendor_conf_key(&c, "type", "xiaomi", err, sizeof(err));
	push_vendor_conf_key(&c, "endpoint", ep, err, sizeof(err));
	push_vendor_conf_key(&c, "ca_file", ca, err, sizeof(err));
	push_vendor_conf_key(&c, "app_secret", "mi/s3cret==", err, sizeof(err));
	push_vendor_conf_key(&c, "package_name", "com.example.app", err,
			     sizeof(err));
	ck_assert_int_eq(push_vendor_conf_validate(&c, err, sizeof(err)), 0);
	ck_assert_msg(ops->create(base, &c, &st, err, sizeof(err)) == 0, "%s",
		      err);
	r = send1(ops, st, TOKEN_OK); /* the loop has not run: no address */
	ck_result(r, PV_RETRY, "dns");
	end = lb_now_ms() + 300;
	while (lb_now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	r = send1(ops, st, TOKEN_OK);
	ck_result(r, PV_OK, "");
	v = fake_last("send", "headers", "host");
	snprintf(ep, sizeof(ep), "localhost:%u", port);
	ck_assert_str_eq(v, ep);
	free(v);
	ops->destroy(st);
}
END_TEST

static Suite *
unit_suite(void)
{
	Suite *s = suite_create("push_vendor");
	TCase *tc = tcase_create("jws");

	tcase_add_test(tc, b64url_vectors);
	tcase_add_test(tc, jws_es256);
	tcase_add_test(tc, jws_rs256);
	tcase_add_test(tc, ecdsa_raw_padding);
	tcase_add_test(tc, key_checks);
	suite_add_tcase(s, tc);
	tc = tcase_create("conf");
	tcase_add_test(tc, conf_keys);
	tcase_add_test(tc, conf_validate);
	tcase_add_test(tc, url_parse);
	suite_add_tcase(s, tc);
	tc = tcase_create("classify");
	tcase_add_test(tc, classify_table);
	tcase_add_test(tc, send_refused);
	tcase_add_test(tc, dns_inflight);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *
fakes_suite(void)
{
	Suite *s = suite_create("push_vendor_fakes");
	TCase *tc;

	tc = tcase_create("apns");
	tcase_add_unchecked_fixture(tc, root_setup, root_teardown);
	tcase_add_checked_fixture(tc, fakes_setup, fakes_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, apns_send_ok);
	tcase_add_test(tc, apns_bad_tokens);
	tcase_add_test(tc, apns_errors_timeout);
	tcase_add_test(tc, apns_provider_token);
	suite_add_tcase(s, tc);
	tc = tcase_create("fcm");
	tcase_add_unchecked_fixture(tc, root_setup, root_teardown);
	tcase_add_checked_fixture(tc, fakes_setup, fakes_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fcm_send_ok);
	tcase_add_test(tc, fcm_bad_tokens);
	tcase_add_test(tc, fcm_errors_timeout);
	tcase_add_test(tc, fcm_refresh);
	tcase_add_test(tc, fcm_wrong_key);
	suite_add_tcase(s, tc);
	tc = tcase_create("huawei");
	tcase_add_unchecked_fixture(tc, root_setup, root_teardown);
	tcase_add_checked_fixture(tc, fakes_setup, fakes_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, huawei_send_ok);
	tcase_add_test(tc, huawei_bad_tokens);
	tcase_add_test(tc, huawei_errors_timeout);
	tcase_add_test(tc, huawei_refresh);
	tcase_add_test(tc, huawei_wrong_secret);
	suite_add_tcase(s, tc);
	tc = tcase_create("xiaomi");
	tcase_add_unchecked_fixture(tc, root_setup, root_teardown);
	tcase_add_checked_fixture(tc, fakes_setup, fakes_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, xiaomi_send);
	tcase_add_test(tc, xiaomi_by_name);
	suite_add_tcase(s, tc);
	return s;
}

int
main(int argc, char **argv)
{
	bool fakes = argc > 1 && strcmp(argv[1], "fakes") == 0;
	SRunner *sr;
	int failed;
	char cmd[512];

	signal(SIGPIPE, SIG_IGN);
	if (getenv("EDGELB_PYTHON") != NULL)
		python = getenv("EDGELB_PYTHON");
	srcdir = getenv("EDGELB_SRCDIR");
	if (srcdir == NULL)
		srcdir = ".";
	if (fakes) {
		snprintf(cmd, sizeof(cmd),
			 "%s -c 'import h2, cryptography' >/dev/null 2>&1",
			 python);
		if (access(python, X_OK) != 0 || system(cmd) != 0) {
			printf("SKIP: %s with python3-h2 and "
			       "python3-cryptography is needed\n",
			       python);
			return 77;
		}
	}
	sr = srunner_create(fakes ? fakes_suite() : unit_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
