/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Text forms of addresses, prefixes, MACs, protocols and modes: a table of
 * good and bad inputs for each parser and the round trip through format.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edgelb/types.h"

static const struct {
	const char *in;
	int rc;
	const char *out; /* formatted back, with the port */
	uint16_t port;
} addr_port_cases[] = {
	{ "10.0.0.1:80", 0, "10.0.0.1:80", 80 },
	{ "[2001:db8::1]:443", 0, "[2001:db8::1]:443", 443 },
	{ "10.0.0.1:65535", 0, "10.0.0.1:65535", 65535 },
	{ "10.0.0.1:65536", -ERANGE, NULL, 0 },
	{ "10.0.0.1:", -EINVAL, NULL, 0 },
	{ "10.0.0.1:8x", -EINVAL, NULL, 0 },
	{ "10.0.0.256:80", -EINVAL, NULL, 0 },
	{ "[2001:db8::1:80", -EINVAL, NULL, 0 },
	{ "[2001:db8::1]x", -EINVAL, NULL, 0 },
	{ ":80", -EINVAL, NULL, 0 },
	{ "", -EINVAL, NULL, 0 },
	{ "10.0.0.1", -EINVAL, NULL, 0 }, /* a port is required here */
	{ "10.0.0.1:-1", -EINVAL, NULL, 0 },
};

START_TEST(addr_port_table)
{
	struct lb_addr a;
	uint16_t port = 0;
	char buf[LB_ADDRPORTSTRLEN];
	int rc = lb_addr_port_parse(addr_port_cases[_i].in, &a, &port, false);

	ck_assert_msg(rc == addr_port_cases[_i].rc, "'%s': rc %d, want %d",
		      addr_port_cases[_i].in, rc, addr_port_cases[_i].rc);
	if (rc == 0) {
		ck_assert_uint_eq(port, addr_port_cases[_i].port);
		ck_assert_str_eq(
			lb_addr_port_format(&a, port, buf, sizeof(buf)),
			addr_port_cases[_i].out);
	}
}
END_TEST

START_TEST(addr_optional_port)
{
	struct lb_addr a;
	uint16_t port = 9;

	ck_assert_int_eq(lb_addr_port_parse("10.0.0.1", &a, &port, true), 0);
	ck_assert_uint_eq(port, 0);
	ck_assert_int_eq(lb_addr_port_parse("2001:db8::5", &a, &port, true), 0);
	ck_assert_uint_eq(a.family, AF_INET6);
	ck_assert_int_eq(lb_addr_port_parse("[::1]", &a, &port, true), 0);
	ck_assert_uint_eq(a.v6[15], 1);
}
END_TEST

START_TEST(prefix_parse)
{
	struct lb_addr a;
	uint8_t plen;

	ck_assert_int_eq(lb_prefix_parse("10.0.0.0/24", &a, &plen), 0);
	ck_assert_uint_eq(plen, 24);
	ck_assert_int_eq(lb_prefix_parse("10.0.0.9", &a, &plen), 0);
	ck_assert_uint_eq(plen, 32);
	ck_assert_int_eq(lb_prefix_parse("2001:db8::/64", &a, &plen), 0);
	ck_assert_uint_eq(plen, 64);
	ck_assert_int_eq(lb_prefix_parse("10.0.0.0/33", &a, &plen), -ERANGE);
	ck_assert_int_eq(lb_prefix_parse("2001:db8::/129", &a, &plen), -ERANGE);
	ck_assert_int_eq(lb_prefix_parse("10.0.0.0/", &a, &plen), -EINVAL);
	ck_assert_int_eq(lb_prefix_parse("/24", &a, &plen), -EINVAL);
}
END_TEST

START_TEST(mac_parse_format)
{
	uint8_t mac[6];
	char buf[LB_MACSTRLEN];

	ck_assert_int_eq(lb_mac_parse("02:00:0a:0B:0c:ff", mac), 0);
	ck_assert_str_eq(lb_mac_format(mac, buf, sizeof(buf)),
			 "02:00:0a:0b:0c:ff");
	ck_assert_int_eq(lb_mac_parse("02:00:0a:0b:0c", mac), -EINVAL);
	ck_assert_int_eq(lb_mac_parse("02:00:0a:0b:0c:ff:01", mac), -EINVAL);
	ck_assert_int_eq(lb_mac_parse("02-00-0a-0b-0c-ff", mac), -EINVAL);
}
END_TEST

START_TEST(proto_mode_names)
{
	ck_assert_int_eq(lb_proto_parse("TCP"), IPPROTO_TCP);
	ck_assert_int_eq(lb_proto_parse("udp"), IPPROTO_UDP);
	ck_assert_int_eq(lb_proto_parse("sctp"), -EINVAL);
	ck_assert_int_eq(lb_mode_parse("fullnat"), LB_MODE_FNAT);
	ck_assert_int_eq(lb_mode_parse("masq"), LB_MODE_NAT);
	ck_assert_int_eq(lb_mode_parse("ipip"), LB_MODE_TUNNEL);
	ck_assert_int_eq(lb_mode_parse("DR"), LB_MODE_DR);
	ck_assert_int_eq(lb_mode_parse("bridge"), -EINVAL);
	for (int m = LB_MODE_DR; m <= LB_MODE_MAX; m++)
		ck_assert_int_eq(lb_mode_parse(lb_mode_name(m)), m);
}
END_TEST

/* lb_parse_duration_ms: the one duration syntax of every config file. */
static const struct {
	const char *in;
	int rc;
	uint32_t ms;
} duration_cases[] = {
	{ "2", 0, 2000 },
	{ "0", 0, 0 },
	{ "250ms", 0, 250 },
	{ "7s", 0, 7000 },
	{ "1.5s", 0, 1500 },
	{ "0.5s", 0, 500 },
	{ "1.25m", 0, 75000 },
	{ "2m", 0, 120000 },
	{ "1h", 0, 3600000 },
	{ "0.0000001s", 0, 0 },
	{ "1193h", 0, 4294800000u },
	{ "", -EINVAL, 0 },
	{ "ms", -EINVAL, 0 },
	{ ".5s", -EINVAL, 0 },
	{ "1.s", -EINVAL, 0 },
	{ "5 s", -EINVAL, 0 },
	{ " 5s", -EINVAL, 0 },
	{ "-1", -EINVAL, 0 },
	{ "+1", -EINVAL, 0 },
	{ "5d", -EINVAL, 0 },
	{ "5sec", -EINVAL, 0 },
	{ "1194h", -ERANGE, 0 },
	{ "99999999h", -ERANGE, 0 },
	{ "999999999", -ERANGE, 0 },
};

START_TEST(duration_table)
{
	uint32_t ms = 12345;
	int rc = lb_parse_duration_ms(duration_cases[_i].in, &ms);

	ck_assert_msg(rc == duration_cases[_i].rc, "'%s': %d",
		      duration_cases[_i].in, rc);
	if (rc == 0)
		ck_assert_uint_eq(ms, duration_cases[_i].ms);
	else
		ck_assert_uint_eq(ms, 12345);
}
END_TEST

/* lb_addr_parse_n: the address in the first n characters only. */
START_TEST(addr_parse_n)
{
	static const char long_text[] =
		"0000:0000:0000:0000:0000:0000:0000:0001 and more";
	struct lb_addr a;

	ck_assert_int_eq(lb_addr_parse_n("10.0.0.1:80", 8, &a), 0);
	ck_assert_int_eq(a.family, AF_INET);
	ck_assert_uint_eq(ntohl(a.v4), 0x0a000001u);
	ck_assert_int_eq(lb_addr_parse_n("2001:db8::1/64", 11, &a), 0);
	ck_assert_int_eq(a.family, AF_INET6);
	ck_assert_int_eq(lb_addr_parse_n("10.0.0.1", 0, &a), -EINVAL);
	ck_assert_int_eq(lb_addr_parse_n("10.0.0.1", 7, &a), -EINVAL);
	ck_assert_int_eq(lb_addr_parse_n(long_text, sizeof(long_text) - 1, &a),
			 -EINVAL);
}
END_TEST

START_TEST(parse_u32_bounds)
{
	uint32_t v;

	ck_assert_int_eq(lb_parse_u32("0", 0, 10, &v), 0);
	ck_assert_int_eq(lb_parse_u32("10", 0, 10, &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(lb_parse_u32("11", 0, 10, &v), -ERANGE);
	ck_assert_int_eq(lb_parse_u32("99999999999999999999", 0, 10, &v),
			 -ERANGE);
	ck_assert_int_eq(lb_parse_u32(" 1", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(lb_parse_u32("1 ", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(lb_parse_u32("-1", 0, 10, &v), -EINVAL);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("addr");
	TCase *core = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(core, addr_port_table, 0,
			    sizeof(addr_port_cases) /
				    sizeof(addr_port_cases[0]));
	tcase_add_test(core, addr_optional_port);
	tcase_add_test(core, prefix_parse);
	tcase_add_test(core, mac_parse_format);
	tcase_add_test(core, proto_mode_names);
	tcase_add_test(core, parse_u32_bounds);
	tcase_add_test(core, addr_parse_n);
	tcase_add_loop_test(core, duration_table, 0,
			    sizeof(duration_cases) / sizeof(duration_cases[0]));
	suite_add_tcase(s, core);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
