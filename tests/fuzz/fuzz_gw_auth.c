/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the gateway's authentication filters
 * (controlplane/gateway/gw_auth*.c) through the filter chain, as the
 * proxy drives it.
 *
 * A table is built once: route "j" with a jwt filter (an HS256 key
 * "k-hs", an RS256 and an ES256 PEM key made at start, issuer and
 * audience checked) and route "k" with an apikey filter (header and
 * query parameter). Byte 0 picks the path:
 *   0: the rest is a token, sent as "Authorization: Bearer TOKEN";
 *   1: the rest is "HEADER-JSON\nPAYLOAD-JSON": encoded and signed with
 *      the HS256 key here, so that the claims checks after the
 *      signature are reached;
 *   2: the rest is "X-API-Key value\nquery string";
 *   3: the rest is [filter] configuration, lines "NAME\nKEY\nVALUE"
 *      repeated, through gw_conf_key (values naming files are skipped),
 *      then a table whose route uses every filter made, and one request
 *      without credentials through it.
 * Invariants: a pass names a consumer of visible ASCII; a refusal is 401
 * with a JSON body; a route never passes without credentials.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "gw_filter_priv.h"

#define FIELD_MAX 8192

static struct gw_table *table;
static struct gw_route *rj, *rk;
static const char hs_secret[] = "fuzz-secret-fuzz-secret-fuzz-secret!";

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_gw_auth: %s\n", what);
	abort();
}

static void
put(struct gw_conf *c, const char *sec, const char *name, const char *key,
    const char *v)
{
	char err[256];

	if (gw_conf_key(c, sec, name, key, v, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		die("config");
	}
}

static void
write_pub(const char *path, EVP_PKEY *pk)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || PEM_write_PUBKEY(f, pk) != 1 || fclose(f) != 0)
		die("cannot write a key");
}

static void
init(void)
{
	char dir[] = "/tmp/fuzz_gw_auth.XXXXXX", p[128], v[256], err[256];
	uint8_t h[32];
	char hex[65];
	EVP_PKEY *rsa, *ec;
	struct gw_conf c;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	snprintf(p, sizeof(p), "%s/hs.key", dir);
	f = fopen(p, "w");
	if (f == NULL || fputs(hs_secret, f) < 0 || fclose(f) != 0)
		die("hs key");
	rsa = EVP_RSA_gen(2048);
	ec = EVP_EC_gen("P-256");
	if (rsa == NULL || ec == NULL)
		die("keygen");
	snprintf(p, sizeof(p), "%s/rs.pem", dir);
	write_pub(p, rsa);
	snprintf(p, sizeof(p), "%s/ec.pem", dir);
	write_pub(p, ec);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);

	gw_conf_init(&c);
	put(&c, "filter", "jw", "type", "jwt");
	snprintf(v, sizeof(v), "k-hs HS256 %s/hs.key", dir);
	put(&c, "filter", "jw", "key", v);
	snprintf(v, sizeof(v), "k-rs RS256 %s/rs.pem", dir);
	put(&c, "filter", "jw", "key", v);
	snprintf(v, sizeof(v), "k-ec ES256 %s/ec.pem svc-ec", dir);
	put(&c, "filter", "jw", "key", v);
	put(&c, "filter", "jw", "issuer", "https://idp.example");
	put(&c, "filter", "jw", "audience", "api");
	put(&c, "filter", "ak", "type", "apikey");
	SHA256((const unsigned char *)"fuzz-key", 8, h);
	gw_hex(h, 32, hex);
	snprintf(v, sizeof(v), "alice sha256:%s", hex);
	put(&c, "filter", "ak", "key", v);
	put(&c, "filter", "ak", "query", "api_key");
	put(&c, "route", "j", "path_prefix", "/j");
	put(&c, "route", "j", "direct", "200 ok");
	put(&c, "route", "j", "filters", "jw");
	put(&c, "route", "k", "path_prefix", "/k");
	put(&c, "route", "k", "direct", "200 ok");
	put(&c, "route", "k", "filters", "ak");
	table = gw_table_build(&c, err, sizeof(err));
	gw_conf_fini(&c);
	if (table == NULL) {
		fprintf(stderr, "%s\n", err);
		die("table");
	}
	for (size_t i = 0; i < gw_table_nroutes(table); i++) {
		struct gw_route *r = gw_table_route(table, i);

		if (strcmp(r->conf->name, "j") == 0)
			rj = r;
		else
			rk = r;
	}
	snprintf(p, sizeof(p), "rm -rf %s", dir);
	if (system(p) != 0)
		fprintf(stderr, "fuzz_gw_auth: %s left behind\n", dir);
}

static size_t
b64url(const uint8_t *in, size_t n, char *out)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
		"vwxyz0123456789-_";
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = a[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[o++] = a[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	return o;
}

static void
run(struct gw_route *r, struct http_msg *m, bool has_creds)
{
	struct sockaddr_in peer = { .sin_family = AF_INET };
	struct gw_freq_in in = { m, (struct sockaddr *)&peer, 1000000000ull,
				 1700000000 };
	struct gw_freq *f = gw_freq_new(r);
	struct gw_fdone d = { 0 };

	if (f == NULL)
		die("gw_freq_new");
	if (gw_freq_pre(f, &in) == GW_FV_PASS) {
		const char *c = gw_freq_consumer(f);

		if (!has_creds || c == NULL || c[0] == '\0')
			die("passed without a consumer");
		for (; *c != '\0'; c++)
			if (*c <= 0x20 || *c >= 0x7f)
				die("consumer with a control byte or space");
		d.forwarded = true;
		d.status = 200;
	} else {
		const struct http_header *h;
		const char *b;
		size_t nh, bl;
		int st;

		gw_freq_answer(f, &st, &h, &nh, &b, &bl);
		if (st != 401 || bl == 0 || b[0] != '{' || b[bl - 1] != '\n')
			die("refusal is not a 401 with a JSON body");
		d.status = st;
	}
	gw_freq_done(f, &d);
}

/* Filter keys from the input, a route with every filter, one request. */
static void
conf_path(char *buf)
{
	char *save = NULL, *f[3], err[256], list[GW_MAX_FILTERS * 70] = "";
	struct gw_conf c;
	struct gw_table *t;
	struct http_msg m;
	size_t nf = 0;
	int k = 0;

	gw_conf_init(&c);
	for (char *l = strtok_r(buf, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save)) {
		f[k++] = l;
		if (k < 3)
			continue;
		k = 0;
		if (strchr(f[2], '/') != NULL)
			continue; /* no file of this machine is read */
		(void)gw_conf_key(&c, "filter", f[0], f[1], f[2], err,
				  sizeof(err));
	}
	(void)gw_conf_key(&c, "upstream", "u", "instance", "127.0.0.1:9", err,
			  sizeof(err));
	for (size_t i = 0; i < c.nfilters && nf < GW_MAX_FILTERS; i++, nf++) {
		strcat(list, i > 0 ? "," : "");
		strcat(list, c.filters[i].name);
	}
	(void)gw_conf_key(&c, "route", "r", "upstream", "u", err, sizeof(err));
	if (nf > 0 && gw_conf_key(&c, "route", "r", "filters", list, err,
				  sizeof(err)) < 0)
		die("a route refused the filters just made");
	t = gw_table_build(&c, err, sizeof(err));
	gw_conf_fini(&c);
	if (t == NULL)
		return;
	memset(&m, 0, sizeof(m));
	m.method = "GET";
	m.path = "/";
	m.content_length = -1;
	{
		struct sockaddr_in peer = { .sin_family = AF_INET };
		struct gw_freq_in in = { &m, (struct sockaddr *)&peer,
					 1000000000ull, 1700000000 };
		struct gw_route *r = gw_table_route(t, 0);
		struct gw_freq *fr = gw_freq_new(r);
		struct gw_fdone d = { 0 };

		if (fr != NULL) {
			if (gw_freq_pre(fr, &in) == GW_FV_ANSWER) {
				const struct http_header *h;
				const char *b;
				size_t nh, bl;
				int st;

				gw_freq_answer(fr, &st, &h, &nh, &b, &bl);
				if (st < 400 || st > 599 || bl == 0)
					die("a filter answer without status "
					    "or body");
			}
			gw_freq_done(fr, &d);
		}
	}
	gw_table_put(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[FIELD_MAX + 1], tok[3 * FIELD_MAX], auth[3 * FIELD_MAX];
	struct http_msg m;
	char *nl;
	size_t n;

	if (table == NULL)
		init();
	if (size < 1 || size > FIELD_MAX)
		return 0;
	n = size - 1;
	memcpy(buf, data + 1, n);
	buf[n] = '\0';
	if (strlen(buf) != n)
		return 0; /* a header value holds no NUL */
	memset(&m, 0, sizeof(m));
	m.method = "GET";
	m.content_length = -1;
	switch (data[0] % 4) {
	case 0:
		snprintf(auth, sizeof(auth), "Bearer %s", buf);
		m.path = "/j";
		m.headers[0].name = "Authorization";
		m.headers[0].value = auth;
		m.nheaders = 1;
		run(rj, &m, true);
		break;
	case 1: {
		uint8_t mac[32];
		unsigned int ml = sizeof(mac);
		size_t k;

		nl = strchr(buf, '\n');
		if (nl == NULL)
			return 0;
		*nl = '\0';
		k = b64url((const uint8_t *)buf, strlen(buf), tok);
		tok[k++] = '.';
		k += b64url((const uint8_t *)nl + 1, strlen(nl + 1), tok + k);
		HMAC(EVP_sha256(), hs_secret, (int)strlen(hs_secret),
		     (unsigned char *)tok, k, mac, &ml);
		tok[k++] = '.';
		b64url(mac, ml, tok + k);
		snprintf(auth, sizeof(auth), "Bearer %s", tok);
		m.path = "/j";
		m.headers[0].name = "Authorization";
		m.headers[0].value = auth;
		m.nheaders = 1;
		run(rj, &m, true);
		break;
	}
	case 3:
		conf_path(buf);
		break;
	default:
		nl = strchr(buf, '\n');
		m.path = "/k";
		if (nl != NULL) {
			*nl = '\0';
			m.query = nl + 1;
		}
		m.headers[0].name = "X-API-Key";
		m.headers[0].value = buf;
		m.nheaders = 1;
		run(rk, &m, true);
		/* no header: only the query may authenticate */
		m.nheaders = 0;
		run(rk, &m, m.query != NULL);
		break;
	}
	return 0;
}
