/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the HttpDNS core (controlplane/httpdns/hdns*.c): both
 * dialects byte for byte, DoH wire and JSON, views, signatures, health
 * and fallback, and a table of bad requests.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <ldns/ldns.h>

#include "hdns.h"
#include "hdns_doh.h"

#define NOW 1700000000

/* ---- a fake source of service state ------------------------------------ */

struct fake_svc {
	const char *name;
	const char *vip;
	bool healthy;
};

static struct fake_svc svcs[] = {
	{ "web", "192.0.2.10", true },	  { "web2", "192.0.2.11", true },
	{ "web6", "2001:db8::10", true }, { "inner", "10.9.9.9", true },
	{ "inner6", "fd00::9", true },	  { "sub", "10.8.8.8", true },
	{ "down", "192.0.2.99", false },
};

static int
fake_service(void *arg, const char *name, struct lb_addr *vip, bool *healthy)
{
	(void)arg;
	for (size_t i = 0; i < sizeof(svcs) / sizeof(svcs[0]); i++) {
		if (strcmp(svcs[i].name, name) != 0)
			continue;
		ck_assert_int_eq(lb_addr_parse(svcs[i].vip, vip), 0);
		*healthy = svcs[i].healthy;
		return 0;
	}
	return -ENOENT;
}

static const struct hdns_source src = { .service = fake_service };
static struct hdns_conf conf;

static void
key(const char *k, const char *v)
{
	char err[256] = "";

	ck_assert_msg(hdns_conf_key(&conf, k, v, err, sizeof(err)) == 0,
		      "%s = %s: %s", k, v, err);
}

static void
setup(void)
{
	char err[256] = "";

	for (size_t i = 0; i < sizeof(svcs) / sizeof(svcs[0]); i++)
		svcs[i].healthy = strcmp(svcs[i].name, "down") != 0;
	hdns_conf_init(&conf);
	key("secret", "s3cr3t");
	key("view", "10.0.0.0/8 internal");
	key("view", "10.1.0.0/16 sub");
	key("view", "2001:db8:1::/48 internal");
	key("trusted_proxy", "127.0.0.0/8");
	key("domain", "www.example.test service=web,web2,web6");
	key("domain", "www.example.test service=inner,inner6 view=internal");
	key("domain", "www.example.test service=sub view=sub ttl=30");
	key("domain", "api.example.test service=web ttl=120");
	key("domain", "dead.example.test service=down");
	key("domain", "only.example.test service=inner view=internal");
	ck_assert_msg(hdns_conf_validate(&conf, err, sizeof(err)) == 0, "%s",
		      err);
}

static void
teardown(void)
{
	hdns_conf_release(&conf);
}

/* Run one GET (or POST with body) and return the response. */
static struct hdns_resp
run(const char *method, const char *path, const char *query, const void *body,
    size_t blen, const char *peer, const char *ctype)
{
	struct hdns_req req = {
		.method = method,
		.path = path,
		.query = query,
		.content_type = ctype,
		.body = body,
		.body_len = blen,
		.now = NOW,
	};
	struct hdns_resp resp;

	ck_assert_int_eq(lb_addr_parse(peer ? peer : "203.0.113.7", &req.peer),
			 0);
	ck_assert_int_eq(hdns_handle(&conf, &src, &req, &resp), 0);
	return resp;
}

static struct hdns_resp
get(const char *path, const char *query)
{
	return run("GET", path, query, NULL, 0, NULL, NULL);
}

static void
expect_body(const char *path, const char *query, int status, const char *body)
{
	struct hdns_resp r = get(path, query);

	ck_assert_int_eq(r.status, status);
	ck_assert_ptr_nonnull(r.body);
	ck_assert_str_eq(r.body, body);
	ck_assert_uint_eq(r.len, strlen(body));
	hdns_resp_release(&r);
}

/* ---- core: both dialects byte for byte ---------------------------------- */

START_TEST(json_single)
{
	expect_body("/d", "host=www.example.test&ip=203.0.113.1", 200,
		    "{\"host\":\"www.example.test\",\"ips\":[\"192.0.2.10\","
		    "\"192.0.2.11\"],\"ipsv6\":[],\"ttl\":60,\"origin_ttl\":60,"
		    "\"client_ip\":\"203.0.113.1\"}");
	expect_body("/d", "host=WWW.Example.Test.&query=4,6", 200,
		    "{\"host\":\"www.example.test\",\"ips\":[\"192.0.2.10\","
		    "\"192.0.2.11\"],\"ipsv6\":[\"2001:db8::10\"],\"ttl\":60,"
		    "\"origin_ttl\":60,\"client_ip\":\"203.0.113.7\"}");
	expect_body(
		"/d", "host=api.example.test&query=6", 200,
		"{\"host\":\"api.example.test\",\"ips\":[],\"ipsv6\":[],"
		"\"ttl\":5,\"origin_ttl\":120,\"client_ip\":\"203.0.113.7\"}");
}
END_TEST

START_TEST(json_batch)
{
	expect_body("/resolve",
		    "host=api.example.test,www.example.test&query=4,6&ip="
		    "198.51.100.1",
		    200,
		    "{\"dns\":[{\"host\":\"api.example.test\",\"client_ip\":"
		    "\"198.51.100.1\",\"ips\":[\"192.0.2.10\"],\"type\":1,"
		    "\"ttl\":120,\"origin_ttl\":120},{\"host\":\"api.example."
		    "test\",\"client_ip\":\"198.51.100.1\",\"ips\":[],\"type\":"
		    "28,\"ttl\":5,\"origin_ttl\":120},{\"host\":\"www.example."
		    "test\",\"client_ip\":\"198.51.100.1\",\"ips\":[\"192.0.2."
		    "10\",\"192.0.2.11\"],\"type\":1,\"ttl\":60,\"origin_ttl\":"
		    "60},{\"host\":\"www.example.test\",\"client_ip\":\"198.51."
		    "100.1\",\"ips\":[\"2001:db8::10\"],\"type\":28,\"ttl\":60,"
		    "\"origin_ttl\":60}]}");
}
END_TEST

START_TEST(text_dialect)
{
	struct hdns_resp r;

	expect_body("/d", "dn=www.example.test", 200, "192.0.2.10;192.0.2.11");
	expect_body("/d", "dn=www.example.test&ttl=1", 200,
		    "192.0.2.10;192.0.2.11,60");
	expect_body("/d", "dn=www.example.test&ttl=1&type=aaaa", 200,
		    "2001:db8::10,60");
	expect_body("/d", "dn=www.example.test&ttl=1&type=addrs", 200,
		    "192.0.2.10;192.0.2.11,60-2001:db8::10,60");
	expect_body("/d", "dn=api.example.test&ttl=1&type=addrs", 200,
		    "192.0.2.10,120-0");
	expect_body("/d", "dn=www.example.test&ip=10.1.2.3&clientip=1", 200,
		    "10.8.8.8|10.1.2.3");
	expect_body("/d", "dn=www.example.test,api.example.test,x.test&ttl=1",
		    200,
		    "www.example.test.:192.0.2.10;192.0.2.11,60\n"
		    "api.example.test.:192.0.2.10,120\nx.test.:0");
	r = get("/d", "dn=www.example.test&ttl=1");
	ck_assert_int_eq(r.max_age, 60);
	ck_assert_int_eq(r.dialect, HDNS_DIALECT_TEXT);
	ck_assert_str_eq(r.qtype, "A");
	hdns_resp_release(&r);
}
END_TEST

/* ---- DoH ----------------------------------------------------------------- */

static size_t
b64url(const uint8_t *in, size_t n, char *out)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
		"wxyz0123456789-_";
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
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

/* A query for name/type with id, optionally with an ECS option. */
static uint8_t *
make_query(const char *name, ldns_rr_type t, uint16_t id, const char *ecs,
	   size_t *len)
{
	ldns_rdf *dn = ldns_dname_new_frm_str(name);
	ldns_pkt *q = ldns_pkt_query_new(dn, t, LDNS_RR_CLASS_IN, LDNS_RD);
	uint8_t *wire = NULL;

	ck_assert_ptr_nonnull(q);
	ldns_pkt_set_id(q, id);
	if (ecs != NULL) {
		struct lb_addr a;
		uint8_t plen, opt[4 + 4 + 16];
		size_t alen;

		ck_assert_int_eq(lb_prefix_parse(ecs, &a, &plen), 0);
		alen = (plen + 7u) / 8u;
		opt[0] = 0;
		opt[1] = 8;
		opt[2] = 0;
		opt[3] = (uint8_t)(4 + alen);
		opt[4] = 0;
		opt[5] = a.family == AF_INET ? 1 : 2;
		opt[6] = plen;
		opt[7] = 0;
		memcpy(opt + 8, a.bytes, alen);
		ldns_pkt_set_edns_udp_size(q, 1232);
		ldns_pkt_set_edns_data(
			q, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN,
						 8 + alen, opt));
	}
	ck_assert_int_eq(ldns_pkt2wire(&wire, q, len), LDNS_STATUS_OK);
	ldns_pkt_free(q);
	return wire;
}

static ldns_pkt *
doh_get(const char *name, ldns_rr_type t, uint16_t id, const char *ecs,
	int32_t *max_age)
{
	size_t len;
	uint8_t *wire = make_query(name, t, id, ecs, &len);
	char q[1024] = "dns=";
	struct hdns_resp r;
	ldns_pkt *p = NULL;

	b64url(wire, len, q + 4);
	free(wire);
	r = get("/dns-query", q);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.content_type, "application/dns-message");
	ck_assert_int_eq(ldns_wire2pkt(&p, (uint8_t *)r.body, r.len),
			 LDNS_STATUS_OK);
	*max_age = r.max_age;
	hdns_resp_release(&r);
	return p;
}

static void
expect_rr(const ldns_pkt *p, size_t i, const char *text)
{
	ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), i);
	char *s = ldns_rr2str(rr);

	ck_assert_ptr_nonnull(s);
	s[strcspn(s, "\n")] = '\0';
	ck_assert_str_eq(s, text);
	free(s);
}

START_TEST(doh_wire)
{
	int32_t max_age = -2;
	ldns_pkt *p = doh_get("www.example.test.", LDNS_RR_TYPE_A, 0xbeef, NULL,
			      &max_age);

	ck_assert_uint_eq(ldns_pkt_id(p), 0xbeef);
	ck_assert(ldns_pkt_qr(p));
	ck_assert(ldns_pkt_aa(p));
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 2);
	expect_rr(p, 0, "www.example.test.\t60\tIN\tA\t192.0.2.10");
	expect_rr(p, 1, "www.example.test.\t60\tIN\tA\t192.0.2.11");
	ck_assert_int_eq(max_age, 60);
	ldns_pkt_free(p);

	p = doh_get("api.example.test.", LDNS_RR_TYPE_AAAA, 7, NULL, &max_age);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 0);
	ck_assert_int_eq(max_age, 5);
	ldns_pkt_free(p);

	p = doh_get("other.test.", LDNS_RR_TYPE_A, 8, NULL, &max_age);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ck_assert_uint_eq(ldns_pkt_id(p), 8);
	ldns_pkt_free(p);

	/* ECS selects the view and is echoed with its scope */
	p = doh_get("www.example.test.", LDNS_RR_TYPE_AAAA, 9, "10.2.0.0/16",
		    &max_age);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 1);
	expect_rr(p, 0, "www.example.test.\t60\tIN\tAAAA\tfd00::9");
	ck_assert_ptr_nonnull(ldns_pkt_edns_data(p));
	ck_assert_uint_eq(ldns_rdf_size(ldns_pkt_edns_data(p)), 4 + 4 + 2);
	ck_assert_uint_eq(ldns_rdf_data(ldns_pkt_edns_data(p))[7], 16);
	ldns_pkt_free(p);
}
END_TEST

START_TEST(doh_post)
{
	size_t len;
	uint8_t *wire = make_query("api.example.test", LDNS_RR_TYPE_A, 4242,
				   NULL, &len);
	struct hdns_resp r = run("POST", "/dns-query", NULL, wire, len, NULL,
				 "application/dns-message");
	ldns_pkt *p = NULL;

	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(ldns_wire2pkt(&p, (uint8_t *)r.body, r.len),
			 LDNS_STATUS_OK);
	ck_assert_uint_eq(ldns_pkt_id(p), 4242);
	expect_rr(p, 0, "api.example.test.\t120\tIN\tA\t192.0.2.10");
	ck_assert_int_eq(r.max_age, 120);
	ldns_pkt_free(p);
	hdns_resp_release(&r);
	r = run("POST", "/dns-query", NULL, wire, len, NULL, "text/plain");
	ck_assert_int_eq(r.status, 415);
	hdns_resp_release(&r);
	free(wire);
}
END_TEST

START_TEST(doh_json)
{
	struct hdns_resp r;

	expect_body(
		"/resolve", "name=www.example.test&type=A", 200,
		"{\"Status\":0,\"TC\":false,\"RD\":true,\"RA\":false,\"AD\":"
		"false,\"CD\":false,\"Question\":[{\"name\":\"www.example."
		"test.\",\"type\":1}],\"Answer\":[{\"name\":\"www.example."
		"test.\",\"type\":1,\"TTL\":60,\"data\":\"192.0.2.10\"},{"
		"\"name\":\"www.example.test.\",\"type\":1,\"TTL\":60,"
		"\"data\":\"192.0.2.11\"}]}");
	expect_body(
		"/resolve", "name=www.example.test&type=28", 200,
		"{\"Status\":0,\"TC\":false,\"RD\":true,\"RA\":false,\"AD\":"
		"false,\"CD\":false,\"Question\":[{\"name\":\"www.example."
		"test.\",\"type\":28}],\"Answer\":[{\"name\":\"www.example."
		"test.\",\"type\":28,\"TTL\":60,\"data\":\"2001:db8::10\"}]}");
	expect_body(
		"/dns-query", "name=nope.test", 200,
		"{\"Status\":5,\"TC\":false,\"RD\":true,\"RA\":false,\"AD\":"
		"false,\"CD\":false,\"Question\":[{\"name\":\"nope.test.\","
		"\"type\":1}]}");
	r = get("/resolve", "name=www.example.test&edns_client_subnet=10.0.0."
			    "0/8");
	ck_assert_ptr_nonnull(strstr(r.body, "\"data\":\"10.9.9.9\""));
	hdns_resp_release(&r);
}
END_TEST

/* ---- views and client addresses -------------------------------------- */

START_TEST(views)
{
	struct lb_addr a;

	ck_assert_int_eq(lb_addr_parse("10.1.2.3", &a), 0);
	ck_assert_str_eq(hdns_conf_view(&conf, &a), "sub");
	ck_assert_int_eq(lb_addr_parse("10.2.2.3", &a), 0);
	ck_assert_str_eq(hdns_conf_view(&conf, &a), "internal");
	ck_assert_int_eq(lb_addr_parse("2001:db8:1:ff::1", &a), 0);
	ck_assert_str_eq(hdns_conf_view(&conf, &a), "internal");
	ck_assert_int_eq(lb_addr_parse("2001:db8:2::1", &a), 0);
	ck_assert_ptr_null(hdns_conf_view(&conf, &a));
	ck_assert_int_eq(lb_addr_parse("::ffff:10.1.0.1", &a), 0);
	hdns_addr_unmap(&a);
	ck_assert_str_eq(hdns_conf_view(&conf, &a), "sub");

	expect_body("/d", "dn=www.example.test&ip=10.1.0.1&ttl=1", 200,
		    "10.8.8.8,30");
	expect_body("/d", "dn=www.example.test&ip=10.200.0.1&ttl=1", 200,
		    "10.9.9.9,60");
	expect_body("/d", "dn=www.example.test&ip=2001:db8:1::5&type=aaaa", 200,
		    "fd00::9");
	/* bound only in a view: empty elsewhere */
	expect_body("/d", "dn=only.example.test&ip=10.0.0.1", 200, "10.9.9.9");
	expect_body("/d", "dn=only.example.test&ip=8.8.8.8", 200, "0");
}
END_TEST

static void
expect_client(const char *peer, const char *xri, const char *xff,
	      const char *want)
{
	struct hdns_req req = { .method = "GET",
				.x_real_ip = xri,
				.x_forwarded_for = xff };
	struct lb_addr got, w;

	ck_assert_int_eq(lb_addr_parse(peer, &req.peer), 0);
	ck_assert_int_eq(lb_addr_parse(want, &w), 0);
	hdns_client_addr(&conf, &req, &got);
	ck_assert_msg(lb_addr_equal(&got, &w), "peer %s xri %s xff %s", peer,
		      xri ? xri : "-", xff ? xff : "-");
}

START_TEST(client_addr)
{
	expect_client("203.0.113.5", "10.1.1.1", NULL, "203.0.113.5");
	expect_client("127.0.0.1", "10.1.1.1", NULL, "10.1.1.1");
	expect_client("127.0.0.1", "bogus", "10.3.3.3", "10.3.3.3");
	expect_client("127.0.0.1", NULL, "6.6.6.6, 10.3.3.3, 127.0.0.2",
		      "10.3.3.3");
	expect_client("127.0.0.1", NULL, "127.0.0.9,127.0.0.2", "127.0.0.9");
	expect_client("::ffff:127.0.0.1", NULL, "2001:db8:1::1",
		      "2001:db8:1::1");
}
END_TEST

/* ---- health -------------------------------------------------------------- */

START_TEST(health)
{
	char err[128];

	/* one of two v4 services down: it leaves the answer */
	svcs[1].healthy = false;
	expect_body("/d", "dn=www.example.test&ttl=1", 200, "192.0.2.10,60");
	/* all down, no fallback: empty with the short TTL */
	svcs[0].healthy = false;
	svcs[2].healthy = false;
	expect_body("/d", "dn=www.example.test&ttl=1&type=addrs", 200, "0-0");
	expect_body(
		"/d", "host=www.example.test&query=4,6", 200,
		"{\"host\":\"www.example.test\",\"ips\":[],\"ipsv6\":[],"
		"\"ttl\":5,\"origin_ttl\":60,\"client_ip\":\"203.0.113.7\"}");
	/* with fallbacks */
	ck_assert_int_eq(hdns_conf_key(&conf, "fallback", "198.51.100.53", err,
				       sizeof(err)),
			 0);
	ck_assert_int_eq(hdns_conf_key(&conf, "fallback", "2001:db8::53", err,
				       sizeof(err)),
			 0);
	expect_body("/d", "dn=www.example.test&ttl=1&type=addrs", 200,
		    "198.51.100.53,5-2001:db8::53,5");
	expect_body("/d", "dn=dead.example.test&ttl=1", 200, "198.51.100.53,5");
	/* back up */
	svcs[0].healthy = true;
	expect_body("/d", "dn=www.example.test&ttl=1&type=addrs", 200,
		    "192.0.2.10,60-0");
}
END_TEST

/* ---- signatures ---------------------------------------------------------- */

static void
signed_query(char *q, size_t len, const char *host, long t, const char *sig)
{
	char ts[32], s[65];

	snprintf(ts, sizeof(ts), "%ld", t);
	if (sig == NULL) {
		ck_assert_int_eq(hdns_sign(&conf, host, ts, s, sizeof(s)), 0);
		sig = s;
	}
	snprintf(q, len, "host=%s&t=%s&s=%s", host, ts, sig);
}

static void
expect_status(const char *path, const char *query, int status, const char *code)
{
	struct hdns_resp r = get(path, query);

	ck_assert_msg(r.status == status, "%s?%s: %d, want %d", path, query,
		      r.status, status);
	if (code != NULL)
		ck_assert_str_eq(r.code, code);
	hdns_resp_release(&r);
}

START_TEST(signatures)
{
	char q[512], want[65];

	/* HMAC-SHA256 of "www.example.test-s3cr3t-1700000100", key s3cr3t */
	ck_assert_int_eq(hdns_sign(&conf, "www.example.test", "1700000100",
				   want, sizeof(want)),
			 0);
	ck_assert_str_eq(want,
			 "862a6ae20627c4fe7c3e3234161eb492bdb4ce9bf505a376"
			 "628a3b0a23f35311");
	signed_query(q, sizeof(q), "www.example.test", NOW + 100, NULL);
	expect_status("/sign_d", q, 200, "ok");
	signed_query(q, sizeof(q), "www.example.test,api.example.test",
		     NOW + 100, NULL);
	expect_status("/sign_resolve", q, 200, "ok");
	signed_query(q, sizeof(q), "www.example.test", NOW - 1, NULL);
	expect_status("/sign_d", q, 403, "SignatureExpired");
	signed_query(q, sizeof(q), "www.example.test", NOW + 86401, NULL);
	expect_status("/sign_d", q, 403, "SignatureExpiryTooFar");
	signed_query(
		q, sizeof(q), "www.example.test", NOW + 100,
		"0000000000000000000000000000000000000000000000000000000000"
		"000000");
	expect_status("/sign_d", q, 403, "InvalidSignature");
	signed_query(q, sizeof(q), "www.example.test", NOW + 100, "abc");
	expect_status("/sign_d", q, 403, "InvalidSignature");
	expect_status("/sign_d", "host=www.example.test&t=1700000100", 400,
		      "MissingArgument");
	expect_status("/sign_d", "host=www.example.test&t=12x&s=aa", 400,
		      "InvalidArgument");
	/* the signature is of the host as sent; another host fails */
	signed_query(q, sizeof(q), "api.example.test", NOW + 100, NULL);
	memcpy(strstr(q, "api"), "www", 3);
	expect_status("/sign_d", q, 403, "InvalidSignature");

	/* md5(host-secret-t) */
	conf.sign_algo = HDNS_SIGN_MD5;
	ck_assert_int_eq(hdns_sign(&conf, "a", "1", want, sizeof(want)), 0);
	ck_assert_str_eq(want,
			 "dd13c629eae65121b90f88f535a1ef32"); /* a-s3cr3t-1 */
	signed_query(q, sizeof(q), "www.example.test", NOW + 100, NULL);
	expect_status("/sign_d", q, 200, "ok");
	conf.secret[0] = '\0';
	expect_status("/sign_d", q, 403, "SignatureDisabled");
}
END_TEST

/* ---- errors: a table of bad requests ------------------------------------- */

struct bad_case {
	const char *desc;
	const char *method;
	const char *path;
	const char *query;
	int status;
	const char *code;
};

static const struct bad_case bad_cases[] = {
	{ "no host", "GET", "/d", "ip=1.2.3.4", 400, "MissingArgument" },
	{ "empty host", "GET", "/d", "host=", 400, "InvalidHost" },
	{ "bad host chars", "GET", "/d", "host=a%20b.test", 400,
	  "InvalidHost" },
	{ "empty label", "GET", "/d", "host=a..test", 400, "InvalidHost" },
	{ "two hosts in /d", "GET", "/d", "host=a.test,b.test", 400,
	  "TooManyHosts" },
	{ "no host in batch", "GET", "/resolve", "query=4", 400,
	  "MissingArgument" },
	{ "too many hosts", "GET", "/resolve", "host=a.t,b.t,c.t,d.t,e.t,f.t",
	  400, "TooManyHosts" },
	{ "bad ip", "GET", "/d", "host=a.test&ip=300.1.1.1", 400, "InvalidIp" },
	{ "bad ip text", "GET", "/d", "dn=a.test&ip=x", 400, "InvalidIp" },
	{ "bad query", "GET", "/d", "host=a.test&query=5", 400,
	  "InvalidArgument" },
	{ "bad percent", "GET", "/d", "host=a%zz", 400, "InvalidHost" },
	{ "percent NUL", "GET", "/d", "dn=a%00b", 400, "InvalidHost" },
	{ "truncated percent", "GET", "/d", "dn=a%4", 400, "InvalidHost" },
	{ "bad text type", "GET", "/d", "dn=a.test&type=mx", 400,
	  "InvalidArgument" },
	{ "too many dn", "GET", "/d", "dn=a.t,b.t,c.t,d.t,e.t,f.t", 400,
	  "TooManyHosts" },
	{ "POST /d", "POST", "/d", "host=a.test", 405, "MethodNotAllowed" },
	{ "unknown path", "GET", "/nope", "", 404, "NotFound" },
	{ "no dns param", "GET", "/dns-query", "", 400, "MissingArgument" },
	{ "bad base64", "GET", "/dns-query", "dns=AAAA*AAA", 400,
	  "InvalidBase64" },
	{ "base64 padding", "GET", "/dns-query",
	  "dns=AAAAAAAAAAAAAAAAAA==", 400, "InvalidBase64" },
	{ "base64 1 mod 4", "GET", "/dns-query", "dns=AAAAA", 400,
	  "InvalidBase64" },
	{ "truncated header", "GET", "/dns-query", "dns=AAAAAAAA", 400,
	  "MalformedMessage" },
	/* id 0, qdcount 1, but no question bytes */
	{ "missing question", "GET", "/dns-query", "dns=AAABAAABAAAAAAAAAA",
	  400, "MalformedMessage" },
	/* qdcount 1, question name a pointer to itself */
	{ "compression loop", "GET", "/dns-query",
	  "dns=AAABAAABAAAAAAAAwAwAAQAB", 400, "MalformedMessage" },
	{ "qdcount 0", "GET", "/dns-query", "dns=AAABAAAAAAAAAAAA", 200,
	  "FORMERR" },
	{ "opcode update", "GET", "/dns-query", "dns=AAAoAAAAAAAAAAAA", 200,
	  "NOTIMP" },
	{ "PUT dns-query", "PUT", "/dns-query", "", 405, "MethodNotAllowed" },
	{ "json no name", "GET", "/resolve", "type=A", 400, "MissingArgument" },
	{ "json bad type", "GET", "/resolve", "name=a.test&type=BOGUS", 400,
	  "InvalidType" },
	{ "json bad name", "GET", "/resolve", "name=a..b", 400, "InvalidName" },
	{ "json bad ecs", "GET", "/resolve",
	  "name=a.test&edns_client_subnet=1.2.3.0/40", 400, "InvalidSubnet" },
};

START_TEST(bad_requests)
{
	const struct bad_case *t = &bad_cases[_i];
	struct hdns_resp r =
		run(t->method, t->path, t->query, NULL, 0, NULL, NULL);

	ck_assert_msg(r.status == t->status, "%s: status %d, want %d", t->desc,
		      r.status, t->status);
	ck_assert_msg(strcmp(r.code, t->code) == 0, "%s: code %s, want %s",
		      t->desc, r.code, t->code);
	if (r.dialect == HDNS_DIALECT_JSON || r.dialect == HDNS_DIALECT_OTHER) {
		char want[96];

		snprintf(want, sizeof(want), "{\"code\":\"%s\"}", t->code);
		ck_assert_str_eq(r.body, want);
	}
	hdns_resp_release(&r);
}
END_TEST

START_TEST(limits)
{
	uint8_t big[70000] = { 0 };
	char *q = malloc(HDNS_QUERY_MAX + 16);
	struct hdns_resp r;
	uint8_t out[4];

	r = run("POST", "/dns-query", NULL, big, conf.max_body + 1, NULL,
		"application/dns-message");
	ck_assert_int_eq(r.status, 413);
	hdns_resp_release(&r);
	r = run("POST", "/dns-query", NULL, big, 0, NULL,
		"application/dns-message");
	ck_assert_int_eq(r.status, 400);
	hdns_resp_release(&r);
	memset(q, 'a', HDNS_QUERY_MAX + 10);
	memcpy(q, "dn=", 3);
	q[HDNS_QUERY_MAX + 10] = '\0';
	r = get("/d", q);
	ck_assert_int_eq(r.status, 414);
	hdns_resp_release(&r);
	/* a parameter longer than HDNS_PARAM_MAX */
	q[HDNS_PARAM_MAX + 10] = '\0';
	r = get("/d", q);
	ck_assert_int_eq(r.status, 400);
	hdns_resp_release(&r);
	free(q);
	ck_assert_int_eq(hdns_b64url_decode("AAAAAAAA", 8, out, sizeof(out)),
			 -E2BIG);
	ck_assert_int_eq(hdns_b64url_decode("AAE", 3, out, sizeof(out)), 2);
	ck_assert_int_eq(hdns_b64url_decode("AAF", 3, out, sizeof(out)),
			 -EINVAL);
	/* max_batch hosts are fine */
	expect_status("/resolve", "host=a.t,b.t,c.t,d.t,e.t", 200, "ok");
}
END_TEST

/* ---- configuration ------------------------------------------------------- */

struct conf_case {
	const char *key;
	const char *value;
	bool ok;
};

static const struct conf_case conf_cases[] = {
	{ "listen", "127.0.0.1:8053", true },
	{ "listen", "127.0.0.1", false },
	{ "listen", "[::1]:0", false },
	{ "ttl", "0", false },
	{ "ttl", "86401", false },
	{ "max_batch", "65", false },
	{ "sign_algo", "sha1", false },
	{ "sign_algo", "MD5", true },
	{ "trusted_proxy", "10.0.0.0/33", false },
	{ "fallback", "1.2.3", false },
	{ "view", "10.0.0.0/8", false },
	{ "view", "10.0.0.0/8 a b", false },
	{ "view", "10.0.0.0/8 bad.name", false },
	{ "domain", "x.test", false },
	{ "domain", "x.test service=", false },
	{ "domain", "-x..test service=a", false },
	{ "domain", "x.test service=a color=red", false },
	{ "domain", "x.test service=a,b,c,d,e,f,g,h,i", false },
	{ "domain", "x.test service=a ttl=0", false },
	{ "domain", "x.test service=a view=v ttl=10", true },
	{ "workers", "0", false },
	{ "workers", "4", true },
	{ "workers", "65", false },
	{ "max_connections", "0", false },
	{ "max_connections", "5000", true },
	{ "max_connections_per_addr", "x", false },
	{ "header_timeout", "0", false },
	{ "header_timeout", "10", true },
	{ "header_timeout", "250ms", true },
	{ "header_timeout", "2m", true },
	{ "header_timeout", "61m", false },
	{ "header_timeout", "1h", true },
	{ "header_timeout", "60.5m", false },
	{ "header_timeout", "0.1ms", false },
	{ "header_timeout", "5h", false },
	{ "header_timeout", "ms", false },
	{ "idle_timeout", "-1s", false },
	{ "idle_timeout", "30s", true },
	{ "max_header_size", "1023", false },
	{ "max_header_size", "16384", true },
	{ "max_streams", "0", false },
	{ "max_streams", "10001", false },
	{ "max_streams", "128", true },
	{ "nope", "1", false },
};

START_TEST(conf_keys)
{
	const struct conf_case *t = &conf_cases[_i];
	struct hdns_conf c;
	char err[256] = "";
	int rc;

	hdns_conf_init(&c);
	rc = hdns_conf_key(&c, t->key, t->value, err, sizeof(err));
	ck_assert_msg((rc == 0) == t->ok, "%s = %s: %d %s", t->key, t->value,
		      rc, err);
	if (!t->ok)
		ck_assert_msg(err[0] != '\0', "no message");
	hdns_conf_release(&c);
}
END_TEST

START_TEST(conf_validate)
{
	struct hdns_conf c, d;
	char err[256];

	hdns_conf_init(&c);
	ck_assert_int_eq(hdns_conf_key(&c, "domain", "a.test service=x view=v",
				       err, sizeof(err)),
			 0);
	ck_assert_int_eq(hdns_conf_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unknown view"));
	ck_assert_int_eq(
		hdns_conf_key(&c, "view", "10.0.0.0/8 v", err, sizeof(err)), 0);
	ck_assert_int_eq(hdns_conf_validate(&c, err, sizeof(err)), 0);
	ck_assert_int_eq(hdns_conf_key(&c, "domain", "A.test. service=y view=v",
				       err, sizeof(err)),
			 0);
	ck_assert_int_eq(hdns_conf_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "bound twice"));
	ck_assert_int_eq(hdns_conf_copy(&d, &c), 0);
	ck_assert_uint_eq(d.nbinds, 2);
	ck_assert_str_eq(d.binds[1].domain, "a.test");
	hdns_conf_release(&d);
	hdns_conf_release(&c);
	hdns_conf_init(&c);
	ck_assert_int_eq(hdns_conf_key(&c, "https_listen", "127.0.0.1:8443",
				       err, sizeof(err)),
			 0);
	ck_assert_int_eq(hdns_conf_validate(&c, err, sizeof(err)), -EINVAL);
	hdns_conf_release(&c);
}
END_TEST

/* The HTTP keys: defaults, values as parsed, and the cross-check. */
START_TEST(conf_http_keys)
{
	struct hdns_conf c;
	char err[256];

	hdns_conf_init(&c);
	ck_assert_uint_eq(c.workers, 1);
	ck_assert_uint_eq(c.max_conns, 1024);
	ck_assert_uint_eq(c.max_conns_per_addr, 64);
	ck_assert_uint_eq(c.header_timeout_ms, 10000);
	ck_assert_uint_eq(c.idle_timeout_ms, 30000);
	ck_assert_uint_eq(c.max_header_size, 8192);
	ck_assert_uint_eq(c.max_streams, 100);
	ck_assert_int_eq(
		hdns_conf_key(&c, "header_timeout", "250ms", err, sizeof(err)),
		0);
	ck_assert_uint_eq(c.header_timeout_ms, 250);
	ck_assert_int_eq(
		hdns_conf_key(&c, "idle_timeout", "2m", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.idle_timeout_ms, 120000);
	ck_assert_int_eq(
		hdns_conf_key(&c, "idle_timeout", "7", err, sizeof(err)), 0);
	ck_assert_uint_eq(c.idle_timeout_ms, 7000);
	ck_assert_int_eq(
		hdns_conf_key(&c, "header_timeout", "0.5s", err, sizeof(err)),
		0);
	ck_assert_uint_eq(c.header_timeout_ms, 500);
	ck_assert_int_eq(
		hdns_conf_key(&c, "header_timeout", "1.5h", err, sizeof(err)),
		-EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "duration"));
	ck_assert_int_eq(
		hdns_conf_key(&c, "max_connections", "10", err, sizeof(err)),
		0);
	ck_assert_int_eq(hdns_conf_key(&c, "max_connections_per_addr", "11",
				       err, sizeof(err)),
			 0);
	ck_assert_int_eq(hdns_conf_validate(&c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "max_connections_per_addr 11"));
	hdns_conf_release(&c);
}
END_TEST

static Suite *
httpdns_suite(void)
{
	Suite *s = suite_create("httpdns");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, json_single);
	tcase_add_test(tc, json_batch);
	tcase_add_test(tc, text_dialect);
	tcase_add_test(tc, doh_wire);
	tcase_add_test(tc, doh_post);
	tcase_add_test(tc, doh_json);
	tcase_add_test(tc, views);
	tcase_add_test(tc, client_addr);
	tcase_add_test(tc, health);
	tcase_add_test(tc, signatures);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, bad_requests, 0,
			    sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_loop_test(tc, conf_keys, 0,
			    sizeof(conf_cases) / sizeof(conf_cases[0]));
	tcase_add_test(tc, conf_validate);
	tcase_add_test(tc, conf_http_keys);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, limits);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(httpdns_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
