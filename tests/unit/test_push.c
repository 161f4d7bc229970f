/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the push service's pure parts: the device protocol's
 * frames (round trips, bytes on the wire, a table of malformed frames),
 * bind tokens (a known vector, expiry, tampering) and the business API's
 * request bodies (accepted and refused).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "push_api.h"
#include "push_frame.h"
#include "push_token.h"

static const uint8_t ID[PUSH_ID_BYTES] = {
	0x8e, 0x0f, 1, 2, 3, 4, 0x45, 6, 0x87, 8, 9, 10, 11, 12, 13, 14
};

/* Header + body of buf (len bytes) decoded; the rc of the decode. */
static int
decode(const uint8_t *buf, size_t len, uint32_t max, struct push_frame *f)
{
	struct push_hdr h;
	int rc = push_hdr_parse(buf, len, max, &h);

	if (rc < 0)
		return rc;
	ck_assert_uint_eq(len, PUSH_HDR_LEN + h.len);
	return push_frame_decode(&h, buf + PUSH_HDR_LEN, f);
}

/* ---- frames -------------------------------------------------------------- */

START_TEST(hello_wire)
{
	static const uint8_t want[] = {
		1, 1, 0,   0,	0, 0, 0,    20, /* v1 HELLO, 20 body bytes */
		0, 2, 'd', '1', 0, 3, 'i',  'o',  's', /* device, platform */
		0, 1, 'a',			       /* app */
		0, 0, 0,   0,	0, 0, 0x01, 0x02,      /* resume 258 */
	};
	uint8_t buf[128];
	struct push_frame f;
	int n = push_enc_hello(buf, sizeof(buf), "d1", "ios", "a", 258);

	ck_assert_int_eq(n, (int)sizeof(want));
	ck_assert_mem_eq(buf, want, sizeof(want));
	ck_assert_int_eq(decode(buf, (size_t)n, 1024, &f), 0);
	ck_assert_int_eq(f.h.type, PUSH_T_HELLO);
	ck_assert_uint_eq(f.u.hello.device.n, 2);
	ck_assert_mem_eq(f.u.hello.device.p, "d1", 2);
	ck_assert_mem_eq(f.u.hello.platform.p, "ios", 3);
	ck_assert_uint_eq(f.u.hello.resume, 258);
}
END_TEST

START_TEST(message_roundtrip)
{
	uint8_t buf[256];
	struct push_frame f;
	int n = push_enc_message(buf, sizeof(buf), PUSH_F_REDELIVERY, ID, 7,
				 1700000000123ull, 60, 10, "score", "{\"a\":1}",
				 7);

	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(decode(buf, (size_t)n, 1024, &f), 0);
	ck_assert_int_eq(f.h.type, PUSH_T_MESSAGE);
	ck_assert_int_eq(f.h.flags, PUSH_F_REDELIVERY);
	ck_assert_mem_eq(f.u.msg.id, ID, PUSH_ID_BYTES);
	ck_assert_uint_eq(f.u.msg.seq, 7);
	ck_assert_uint_eq(f.u.msg.time_ms, 1700000000123ull);
	ck_assert_uint_eq(f.u.msg.ttl_s, 60);
	ck_assert_uint_eq(f.u.msg.priority, 10);
	ck_assert_uint_eq(f.u.msg.collapse_key.n, 5);
	ck_assert_uint_eq(f.u.msg.len, 7);
	ck_assert_mem_eq(f.u.msg.payload, "{\"a\":1}", 7);
}
END_TEST

START_TEST(ack_bind_error_roundtrip)
{
	uint8_t ids[3 * PUSH_ID_BYTES], tok[PUSH_TOKEN_BYTES], buf[256];
	struct push_frame f;
	int n;

	for (size_t i = 0; i < sizeof(ids); i++)
		ids[i] = (uint8_t)i;
	memset(tok, 0xab, sizeof(tok));
	n = push_enc_ack(buf, sizeof(buf), ids, 3);
	ck_assert_int_eq(decode(buf, (size_t)n, 1024, &f), 0);
	ck_assert_uint_eq(f.u.ack.n, 3);
	ck_assert_mem_eq(f.u.ack.ids, ids, sizeof(ids));
	n = push_enc_bind(buf, sizeof(buf), "alice", 99, tok);
	ck_assert_int_eq(decode(buf, (size_t)n, 1024, &f), 0);
	ck_assert_uint_eq(f.u.bind.expiry, 99);
	ck_assert_mem_eq(f.u.bind.token, tok, sizeof(tok));
	n = push_enc_error(buf, sizeof(buf), PUSH_E_BAD_TOKEN, "no");
	ck_assert_int_eq(decode(buf, (size_t)n, 1024, &f), 0);
	ck_assert_uint_eq(f.u.error.code, PUSH_E_BAD_TOKEN);
	ck_assert_str_eq(push_err_name(f.u.error.code), "bad_token");
	n = push_enc_welcome(buf, sizeof(buf), 30, 4096, 5);
	ck_assert_int_eq(decode(buf, (size_t)n, 1024, &f), 0);
	ck_assert_uint_eq(f.u.welcome.heartbeat_s, 30);
	ck_assert_uint_eq(f.u.welcome.max_payload, 4096);
	ck_assert_int_eq(push_enc_ack(buf, sizeof(buf), ids, 0), -EINVAL);
	ck_assert_int_eq(push_enc_hello(buf, 10, "d1", "", "", 0), -EMSGSIZE);
	ck_assert_int_eq(push_enc_hello(buf, sizeof(buf), "bad id", "", "", 0),
			 -EINVAL);
}
END_TEST

/* Malformed input: each must be refused with its errno, never read past
 * the given bytes (the ASan build checks that). */
static const struct {
	const char *what;
	uint8_t bytes[40];
	size_t len;
	uint32_t max;
	int rc;
} bad_frames[] = {
	{ "short header", { 1, 7, 0, 0, 0 }, 5, 1024, -EAGAIN },
	{ "version 2", { 2, 7, 0, 0, 0, 0, 0, 0 }, 8, 1024, -EPROTONOSUPPORT },
	{ "over max", { 1, 5, 0, 0, 0, 0, 4, 1 }, 8, 1024, -EMSGSIZE },
	{ "unknown type", { 1, 77, 0, 0, 0, 0, 0, 0 }, 8, 1024, -ENOTSUP },
	{ "ping with a body",
	  { 1, 7, 0, 0, 0, 0, 0, 1, 0 },
	  9,
	  1024,
	  -EBADMSG },
	{ "ack of 0", { 1, 6, 0, 0, 0, 0, 0, 2, 0, 0 }, 10, 1024, -EBADMSG },
	{ "ack short",
	  { 1, 6, 0, 0, 0, 0, 0, 4, 0, 1, 1, 2 },
	  12,
	  1024,
	  -EBADMSG },
	{ "hello string past end",
	  { 1, 1, 0, 0, 0, 0, 0, 4, 0, 9, 'a', 'b' },
	  12,
	  1024,
	  -EBADMSG },
	{ "hello empty device",
	  { 1, 1, 0, 0, 0, 0, 0, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	  22,
	  1024,
	  -EBADMSG },
	{ "hello bad device chars",
	  { 1, 1, 0, 0, 0, 0, 0, 16, 0, 2, 'a', '/',
	    0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0,	0 },
	  24,
	  1024,
	  -EBADMSG },
	{ "hello trailing byte",
	  { 1, 1, 0, 0, 0, 0, 0, 17, 0, 2, 'a', 'b', 0,
	    0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0,	9 },
	  25,
	  1024,
	  -EBADMSG },
	{ "bind without token",
	  { 1, 3, 0, 0, 0, 0, 0, 11, 0, 1, 'u', 0, 0, 0, 0, 0, 0, 0, 1 },
	  19,
	  1024,
	  -EBADMSG },
	{ "message too short",
	  { 1, 5, 0, 0, 0, 0, 0, 3, 1, 2, 3 },
	  11,
	  1024,
	  -EBADMSG },
};

START_TEST(frames_bad)
{
	struct push_frame f;

	ck_assert_msg(decode(bad_frames[_i].bytes, bad_frames[_i].len,
			     bad_frames[_i].max, &f) == bad_frames[_i].rc,
		      "%s", bad_frames[_i].what);
}
END_TEST

START_TEST(ids)
{
	uint8_t a[PUSH_ID_BYTES], b[PUSH_ID_BYTES];
	char t[PUSH_ID_TEXT + 1];

	push_id_format(ID, t);
	ck_assert_str_eq(t, "8e0f0102-0304-4506-8708-090a0b0c0d0e");
	ck_assert_int_eq(push_id_parse(t, a), 0);
	ck_assert_mem_eq(a, ID, PUSH_ID_BYTES);
	ck_assert_int_eq(
		push_id_parse("8e0f0102x0304-4506-8708-090a0b0c0d0e", a),
		-EINVAL);
	ck_assert_int_eq(push_id_parse("8e0f", a), -EINVAL);
	ck_assert_int_eq(push_id_new(a), 0);
	ck_assert_int_eq(push_id_new(b), 0);
	ck_assert_mem_ne(a, b, PUSH_ID_BYTES);
	ck_assert_int_eq(a[6] >> 4, 4);
}
END_TEST

/* ---- tokens ---------------------------------------------------------------- */

START_TEST(token_vector)
{
	/* printf 'd1\nalice\n1700000000' |
	 *   openssl dgst -sha256 -hmac 0123456789abcdef */
	uint8_t t[PUSH_TOKEN_BYTES];
	char hex[2 * PUSH_TOKEN_BYTES + 1];

	ck_assert_int_eq(push_token_make("0123456789abcdef", "d1", "alice",
					 1700000000, t),
			 0);
	push_token_hex(t, hex);
	ck_assert_str_eq(hex, "c82bb6a3597bd7d56a3bef8970427eabe96814504ad90e2c"
			      "a23f6ad775d982cb");
}
END_TEST

START_TEST(token_check)
{
	const char *sec = "0123456789abcdef";
	uint8_t t[PUSH_TOKEN_BYTES], u[PUSH_TOKEN_BYTES];

	ck_assert_int_eq(push_token_make(sec, "d1", "alice", 2000, t), 0);
	ck_assert_int_eq(push_token_check(sec, "d1", "alice", 2000, t, 1999),
			 0);
	ck_assert_int_eq(push_token_check(sec, "d1", "alice", 2000, t, 2001),
			 -EKEYEXPIRED);
	ck_assert_int_eq(push_token_check(sec, "d1", "bob", 2000, t, 1000),
			 -EACCES);
	ck_assert_int_eq(push_token_check(sec, "d2", "alice", 2000, t, 1000),
			 -EACCES);
	ck_assert_int_eq(push_token_check(sec, "d1", "alice", 2001, t, 1000),
			 -EACCES);
	ck_assert_int_eq(push_token_check("another-secret!!", "d1", "alice",
					  2000, t, 1000),
			 -EACCES);
	memcpy(u, t, sizeof(u));
	u[31] ^= 1;
	ck_assert_int_eq(push_token_check(sec, "d1", "alice", 2000, u, 1000),
			 -EACCES);
	ck_assert_int_eq(push_token_unhex("zz", u), -EINVAL);
}
END_TEST

/* ---- API bodies ---------------------------------------------------------------- */

static const struct push_api_limits LIM = { 64, 100, 1000 };

START_TEST(api_send_ok)
{
	const char *b = "{\"user\":\"alice\",\"payload\":{\"t\": \"hi\"},"
			"\"ttl\":30,\"priority\":5,\"collapse_key\":\"c k\","
			"\"idempotency_key\":\"order-1\"}";
	struct push_send s;
	char err[128];

	ck_assert_int_eq(
		push_api_parse_send(b, strlen(b), &LIM, &s, err, sizeof(err)),
		0);
	ck_assert_int_eq(s.kind, PUSH_TO_USER);
	ck_assert_str_eq(s.target, "alice");
	ck_assert_str_eq(s.payload, "{\"t\":\"hi\"}");
	ck_assert_uint_eq(s.ttl_s, 30);
	ck_assert_uint_eq(s.priority, 5);
	ck_assert_str_eq(s.collapse_key, "c k");
	ck_assert_str_eq(s.idem_key, "order-1");
	push_send_release(&s);
	b = "{\"all\":true,\"payload\":1}";
	ck_assert_int_eq(
		push_api_parse_send(b, strlen(b), &LIM, &s, err, sizeof(err)),
		0);
	ck_assert_int_eq(s.kind, PUSH_TO_ALL);
	ck_assert_uint_eq(s.ttl_s, 100);
	ck_assert_uint_eq(s.priority, 10);
	push_send_release(&s);
}
END_TEST

static const struct {
	const char *body, *why;
} bad_sends[] = {
	{ "", "empty body" },
	{ "[1]", "expected a JSON object" },
	{ "{\"payload\":1}", "exactly one of" },
	{ "{\"device\":\"a\",\"user\":\"b\",\"payload\":1}", "exactly one of" },
	{ "{\"device\":\"a\"}", "payload missing" },
	{ "{\"device\":\"a b\",\"payload\":1}", "device: expected" },
	{ "{\"device\":\"a\",\"payload\":1,\"ttl\":0}", "ttl: expected" },
	{ "{\"device\":\"a\",\"payload\":1,\"ttl\":1001}", "ttl: expected" },
	{ "{\"device\":\"a\",\"payload\":1,\"ttl\":1.5}", "ttl: expected" },
	{ "{\"device\":\"a\",\"payload\":1,\"priority\":7}", "priority" },
	{ "{\"all\":false,\"payload\":1}", "all: expected true" },
	{ "{\"device\":\"a\",\"payload\":1,\"x\":1}", "unknown field 'x'" },
	{ "{\"device\":\"a\",\"payload\":\"0123456789012345678901234567890"
	  "12345678901234567890123456789xxxxx\"}",
	  "more than 64" },
	{ "{\"device\":\"a\",\"payload\":1,\"collapse_key\":\"\\n\"}",
	  "collapse_key: expected" },
	{ "{\"device\":\"a\",\"payload\":"
	  "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
	  "]}",
	  "nested deeper" },
	{ "{\"device\":", "not JSON" },
};

START_TEST(api_send_bad)
{
	struct push_send s;
	char err[128] = "";
	const char *b = bad_sends[_i].body;

	ck_assert_int_eq(
		push_api_parse_send(b, strlen(b), &LIM, &s, err, sizeof(err)),
		-EINVAL);
	ck_assert_msg(strstr(err, bad_sends[_i].why) != NULL,
		      "%s: got '%s', want '%s'", b, err, bad_sends[_i].why);
}
END_TEST

START_TEST(api_names)
{
	static const char *const names[] = { "user", "device" };
	char v[2][PUSH_NAME_MAX + 1], err[128];
	uint32_t ttl = 5;
	const char *b = "{\"user\":\"u\",\"device\":\"d\",\"ttl\":60}";

	ck_assert_int_eq(push_api_parse_names(b, strlen(b), names, v, 2, &ttl,
					      err, sizeof(err)),
			 0);
	ck_assert_str_eq(v[0], "u");
	ck_assert_str_eq(v[1], "d");
	ck_assert_uint_eq(ttl, 60);
	b = "{\"user\":\"u\"}";
	ck_assert_int_eq(push_api_parse_names(b, strlen(b), names, v, 2, NULL,
					      err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "device missing");
	b = "{\"user\":\"u\",\"device\":\"d\",\"ttl\":60}";
	ck_assert_int_eq(push_api_parse_names(b, strlen(b), names, v, 2, NULL,
					      err, sizeof(err)),
			 -EINVAL);
}
END_TEST

static Suite *
push_suite(void)
{
	Suite *s = suite_create("push");
	TCase *tc;

	tc = tcase_create("frames");
	tcase_add_test(tc, hello_wire);
	tcase_add_test(tc, message_roundtrip);
	tcase_add_test(tc, ack_bind_error_roundtrip);
	tcase_add_loop_test(tc, frames_bad, 0,
			    sizeof(bad_frames) / sizeof(bad_frames[0]));
	tcase_add_test(tc, ids);
	suite_add_tcase(s, tc);
	tc = tcase_create("tokens");
	tcase_add_test(tc, token_vector);
	tcase_add_test(tc, token_check);
	suite_add_tcase(s, tc);
	tc = tcase_create("api");
	tcase_add_test(tc, api_send_ok);
	tcase_add_loop_test(tc, api_send_bad, 0,
			    sizeof(bad_sends) / sizeof(bad_sends[0]));
	tcase_add_test(tc, api_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(push_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
