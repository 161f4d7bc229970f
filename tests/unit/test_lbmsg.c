/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbmsg: codec round trips for every message type, rejection of every
 * class of malformed input, the service and backend records (encode,
 * decode, refusals) and the server/client pair over a real AF_UNIX
 * SEQPACKET socket.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "edgelb/lbmsg.h"

#define HDRS (NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct lbmsg_hdr)))

static char errbuf[LBMSG_ERRMSG_MAX];

/* A raw message assembled byte by byte, to build what libnl would not. */
struct raw {
	uint8_t b[LBMSG_MAX_SIZE + 64];
	size_t len;
};

static void
raw_start(struct raw *r, uint16_t type, uint16_t flags, uint8_t version)
{
	struct nlmsghdr *h = (struct nlmsghdr *)r->b;
	struct lbmsg_hdr *f = (struct lbmsg_hdr *)(r->b + NLMSG_HDRLEN);

	memset(r->b, 0, sizeof(r->b));
	h->nlmsg_type = type;
	h->nlmsg_flags = flags;
	h->nlmsg_seq = 7;
	f->version = version;
	r->len = HDRS;
	h->nlmsg_len = (uint32_t)r->len;
}

static void
raw_attr(struct raw *r, uint16_t type, const void *data, uint16_t len)
{
	struct nlattr *a = (struct nlattr *)(r->b + r->len);

	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	memcpy(r->b + r->len + NLA_HDRLEN, data, len);
	r->len += NLA_ALIGN(a->nla_len);
	((struct nlmsghdr *)r->b)->nlmsg_len = (uint32_t)r->len;
}

static void
raw_u8(struct raw *r, uint16_t type, uint8_t v)
{
	raw_attr(r, type, &v, 1);
}

static void
raw_u16(struct raw *r, uint16_t type, uint16_t v)
{
	raw_attr(r, type, &v, 2);
}

/* A valid SERVICE_NEW key: tcp 10.0.0.1:80. */
static void
raw_svc_key(struct raw *r)
{
	uint8_t vip[4] = { 10, 0, 0, 1 };

	raw_u8(r, LB_ATTR_PROTO, IPPROTO_TCP);
	raw_attr(r, LB_ATTR_VIP, vip, 4);
	raw_u16(r, LB_ATTR_VPORT, 80);
}

static int
raw_parse(struct raw *r)
{
	struct nlattr *tb[LB_ATTR_MAX + 1];

	return lbmsg_parse((struct nlmsghdr *)r->b, r->len, tb, errbuf,
			   sizeof(errbuf));
}

#define ck_assert_err(rc, want, substr)                                        \
	do {                                                                   \
		ck_assert_int_eq((rc), (want));                                \
		ck_assert_msg(strstr(errbuf, (substr)) != NULL,                \
			      "message '%s' lacks '%s'", errbuf, (substr));    \
	} while (0)

/* ---- core: round trip of every message type ----------------------------- */

/* A sample value for an attribute of each wire type, varied by id. */
static int
put_sample(struct nl_msg *m, int attr)
{
	struct lb_addr a;
	struct nlattr *n;
	uint8_t mac[6] = { 2, 0, 0, 0, 0, (uint8_t)attr };
	char s[16];

	switch (lbmsg_attr_type(attr)) {
	case LBMSG_AT_U8:
		return nla_put_u8(m, attr, (uint8_t)(attr + 1));
	case LBMSG_AT_U16:
		return nla_put_u16(m, attr, (uint16_t)(1000 + attr));
	case LBMSG_AT_U32:
		return nla_put_u32(m, attr, 100000u + (uint32_t)attr);
	case LBMSG_AT_U64:
		return nla_put_u64(m, attr, (1ull << 40) + (uint64_t)attr);
	case LBMSG_AT_STRING:
		snprintf(s, sizeof(s), "s%d", attr);
		return nla_put_string(m, attr, s);
	case LBMSG_AT_ADDR:
		snprintf(s, sizeof(s), "10.0.%d.1", attr);
		lb_addr_parse(s, &a);
		return lbmsg_put_addr(m, attr, &a);
	case LBMSG_AT_LLADDR:
		return nla_put(m, attr, 6, mac);
	case LBMSG_AT_LIST:
		n = nla_nest_start(m, attr);
		if (attr == LB_ATTR_COUNTERS) {
			lbmsg_put_counter(m, "rx_packets_total", 42);
			lbmsg_put_counter(m, "drops_total", 7);
		} else if (attr == LB_ATTR_MOD_ARGS) {
			nla_put_string(m, LB_ATTR_MOD_ARG, "name=users");
			nla_put_string(m, LB_ATTR_MOD_ARG, "stage=prod");
		} else {
			for (int i = 0; i < 3; i++) {
				struct nlattr *b =
					nla_nest_start(m, LB_ATTR_BACKEND);
				snprintf(s, sizeof(s), "10.1.0.%d", i + 1);
				lb_addr_parse(s, &a);
				lbmsg_put_addr(m, LB_ATTR_ADDR, &a);
				nla_put_u16(m, LB_ATTR_PORT, 8080);
				nla_put_u32(m, LB_ATTR_WEIGHT, (uint32_t)i + 1);
				nla_nest_end(m, b);
			}
		}
		nla_nest_end(m, n);
		return 0;
	default:
		return -1;
	}
}

static void
check_sample(struct nlattr *nla, int attr)
{
	char s[16];
	int count = 0, rem;
	struct nlattr *pos;

	switch (lbmsg_attr_type(attr)) {
	case LBMSG_AT_U8:
		ck_assert_uint_eq(nla_get_u8(nla), (uint8_t)(attr + 1));
		break;
	case LBMSG_AT_U16:
		ck_assert_uint_eq(nla_get_u16(nla), 1000 + attr);
		break;
	case LBMSG_AT_U32:
		ck_assert_uint_eq(nla_get_u32(nla), 100000u + (uint32_t)attr);
		break;
	case LBMSG_AT_U64:
		ck_assert_uint_eq(nla_get_u64(nla), (1ull << 40) + attr);
		break;
	case LBMSG_AT_STRING:
		snprintf(s, sizeof(s), "s%d", attr);
		ck_assert_str_eq(nla_get_string(nla), s);
		break;
	case LBMSG_AT_ADDR: {
		struct lb_addr a;
		char txt[LB_ADDRSTRLEN];

		ck_assert_int_eq(lbmsg_get_addr(nla, &a), 0);
		snprintf(s, sizeof(s), "10.0.%d.1", attr);
		ck_assert_str_eq(lb_addr_format(&a, txt, sizeof(txt)), s);
		break;
	}
	case LBMSG_AT_LLADDR:
		ck_assert_int_eq(nla_len(nla), 6);
		ck_assert_uint_eq(((uint8_t *)nla_data(nla))[5], attr);
		break;
	case LBMSG_AT_LIST:
		lbmsg_list_for_each (pos, nla, rem) {
			struct nlattr *tb[LB_ATTR_MAX + 1];

			if (attr == LB_ATTR_MOD_ARGS) { /* strings */
				ck_assert_str_eq(nla_get_string(pos),
						 count == 0 ? "name=users"
							    : "stage=prod");
				count++;
				continue;
			}
			ck_assert_int_eq(lbmsg_parse_record(pos, tb), 0);
			if (attr == LB_ATTR_COUNTERS) {
				ck_assert_ptr_nonnull(tb[LB_ATTR_CNT_NAME]);
				ck_assert_uint_eq(
					nla_get_u64(tb[LB_ATTR_CNT_VALUE]),
					count == 0 ? 42 : 7);
			} else {
				ck_assert_uint_eq(
					nla_get_u32(tb[LB_ATTR_WEIGHT]),
					(uint32_t)count + 1);
			}
			count++;
		}
		ck_assert_int_eq(count, attr == LB_ATTR_BACKENDS ? 3 : 2);
		break;
	default:
		ck_abort_msg("attribute %d has no wire type", attr);
	}
}

START_TEST(roundtrip_every_type)
{
	uint16_t type = (uint16_t)(LB_MSG_MIN + _i);
	struct nlattr *tb[LB_ATTR_MAX + 1];
	struct nl_msg *m;
	struct nlmsghdr *h;
	int sv[2], nattrs = 0;
	uint8_t buf[LBMSG_MAX_SIZE];
	ssize_t n;

	m = lbmsg_new(type, NLM_F_REQUEST);
	ck_assert_ptr_nonnull(m);
	for (int a = 1; a <= LB_ATTR_MAX; a++) {
		if (lbmsg_policy_attr(type, a) == LBMSG_POL_FORBIDDEN)
			continue;
		ck_assert_int_eq(put_sample(m, a), 0);
		nattrs++;
	}
	/* Across a real SEQPACKET socket, as the programs exchange them. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	h = nlmsg_hdr(m);
	ck_assert_int_eq(send(sv[0], h, h->nlmsg_len, 0),
			 (ssize_t)h->nlmsg_len);
	n = recv(sv[1], buf, sizeof(buf), 0);
	ck_assert_int_eq(n, (ssize_t)h->nlmsg_len);
	ck_assert_msg(lbmsg_parse((struct nlmsghdr *)buf, (size_t)n, tb, errbuf,
				  sizeof(errbuf)) == 0,
		      "%s: %s", lbmsg_type_name(type), errbuf);
	ck_assert_uint_eq(lbmsg_hdr((struct nlmsghdr *)buf)->version,
			  LBMSG_VERSION);
	for (int a = 1; a <= LB_ATTR_MAX; a++) {
		if (lbmsg_policy_attr(type, a) == LBMSG_POL_FORBIDDEN) {
			ck_assert_ptr_null(tb[a]);
			continue;
		}
		ck_assert_msg(tb[a] != NULL, "%s lost %s",
			      lbmsg_type_name(type), lbmsg_attr_name(a));
		check_sample(tb[a], a);
	}
	/* Every type except the flush-style ones carries something. */
	if (type != LB_MSG_SERVICE_FLUSH && type != LB_MSG_STATS_ZERO &&
	    type != LB_MSG_SAVE)
		ck_assert_int_gt(nattrs, 0);
	close(sv[0]);
	close(sv[1]);
	nlmsg_free(m);
}
END_TEST

START_TEST(names_cover_everything)
{
	for (int t = LB_MSG_MIN; t <= LB_MSG_MAX; t++)
		ck_assert_str_ne(lbmsg_type_name((uint16_t)t), "?");
	for (int a = 1; a <= LB_ATTR_MAX; a++) {
		ck_assert_str_ne(lbmsg_attr_name(a), "?");
		ck_assert_int_ne(lbmsg_attr_type(a), LBMSG_AT_NONE);
	}
	ck_assert_str_eq(lbmsg_type_name(LB_MSG_MAX + 1), "?");
	ck_assert_str_eq(lbmsg_attr_name(LB_ATTR_MAX + 1), "?");
}
END_TEST

START_TEST(minimal_required_only)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	ck_assert_int_eq(raw_parse(&r), 0);
}
END_TEST

/* ---- errors: framing --------------------------------------------------- */

START_TEST(err_truncated_header)
{
	struct raw r;
	struct nlattr *tb[LB_ATTR_MAX + 1];

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	ck_assert_err(lbmsg_parse((struct nlmsghdr *)r.b, 10, tb, errbuf,
				  sizeof(errbuf)),
		      -EBADMSG, "truncated header");
}
END_TEST

START_TEST(err_truncated_family_header)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_FLUSH, NLM_F_REQUEST, LBMSG_VERSION);
	r.len = NLMSG_HDRLEN + 2;
	((struct nlmsghdr *)r.b)->nlmsg_len = (uint32_t)r.len;
	ck_assert_err(raw_parse(&r), -EBADMSG, "truncated family header");
}
END_TEST

START_TEST(err_length_field_too_big)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	((struct nlmsghdr *)r.b)->nlmsg_len = (uint32_t)r.len + 8;
	ck_assert_err(raw_parse(&r), -EBADMSG, "length field says");
}
END_TEST

START_TEST(err_length_field_too_small)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	((struct nlmsghdr *)r.b)->nlmsg_len = (uint32_t)r.len - 8;
	ck_assert_err(raw_parse(&r), -EBADMSG, "length field says");
}
END_TEST

START_TEST(err_oversized)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	r.len = LBMSG_MAX_SIZE + 4;
	((struct nlmsghdr *)r.b)->nlmsg_len = (uint32_t)r.len;
	ck_assert_err(raw_parse(&r), -EMSGSIZE, "at most");
}
END_TEST

START_TEST(err_unknown_type)
{
	struct raw r;

	raw_start(&r, LB_MSG_MAX + 1, NLM_F_REQUEST, LBMSG_VERSION);
	ck_assert_err(raw_parse(&r), -EOPNOTSUPP, "unknown message type");
	raw_start(&r, NLMSG_DONE, NLM_F_REQUEST, LBMSG_VERSION);
	ck_assert_err(raw_parse(&r), -EOPNOTSUPP, "unknown message type");
}
END_TEST

START_TEST(err_version_mismatch)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION + 1);
	raw_svc_key(&r);
	ck_assert_err(raw_parse(&r), -EPROTONOSUPPORT, "version 2");
}
END_TEST

START_TEST(err_dump_of_non_get)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_DEL, NLM_F_REQUEST | NLM_F_DUMP,
		  LBMSG_VERSION);
	raw_svc_key(&r);
	ck_assert_err(raw_parse(&r), -EOPNOTSUPP, "cannot be dumped");
	raw_start(&r, LB_MSG_SERVICE_GET, NLM_F_REQUEST | NLM_F_DUMP,
		  LBMSG_VERSION);
	ck_assert_int_eq(raw_parse(&r), 0);
}
END_TEST

/* ---- errors: attributes ------------------------------------------------- */

START_TEST(err_unknown_attribute)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	raw_u8(&r, LB_ATTR_MAX + 1, 1);
	ck_assert_err(raw_parse(&r), -EINVAL, "unknown attribute");
}
END_TEST

START_TEST(err_attribute_zero)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_u8(&r, 0, 1);
	raw_svc_key(&r);
	ck_assert_err(raw_parse(&r), -EINVAL, "unknown attribute 0");
}
END_TEST

START_TEST(err_attribute_not_allowed)
{
	struct raw r;
	uint8_t dst[4] = { 10, 9, 0, 0 };

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	raw_attr(&r, LB_ATTR_DST, dst, 4);
	ck_assert_err(raw_parse(&r), -EINVAL, "DST not allowed");
}
END_TEST

START_TEST(err_duplicate_attribute)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	raw_u16(&r, LB_ATTR_VPORT, 81);
	ck_assert_err(raw_parse(&r), -EINVAL, "VPORT given twice");
}
END_TEST

START_TEST(err_missing_mandatory)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_u8(&r, LB_ATTR_PROTO, IPPROTO_TCP);
	raw_u16(&r, LB_ATTR_VPORT, 80);
	ck_assert_err(raw_parse(&r), -EINVAL, "missing attribute VIP");
}
END_TEST

START_TEST(err_size_u8)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	raw_u16(&r, LB_ATTR_MODE, 1);
	ck_assert_err(raw_parse(&r), -ERANGE, "MODE: 2 bytes, expected 1");
}
END_TEST

START_TEST(err_size_u16)
{
	struct raw r;
	uint32_t v = 80;
	uint8_t vip[4] = { 10, 0, 0, 1 };

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_u8(&r, LB_ATTR_PROTO, IPPROTO_TCP);
	raw_attr(&r, LB_ATTR_VIP, vip, 4);
	raw_attr(&r, LB_ATTR_VPORT, &v, 4);
	ck_assert_err(raw_parse(&r), -ERANGE, "VPORT: 4 bytes, expected 2");
}
END_TEST

START_TEST(err_size_u32)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	raw_u16(&r, LB_ATTR_PERSIST, 300);
	ck_assert_err(raw_parse(&r), -ERANGE, "PERSIST: 2 bytes, expected 4");
}
END_TEST

START_TEST(err_size_addr)
{
	struct raw r;
	uint8_t five[5] = { 10, 0, 0, 1, 9 };

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_u8(&r, LB_ATTR_PROTO, IPPROTO_TCP);
	raw_attr(&r, LB_ATTR_VIP, five, 5);
	raw_u16(&r, LB_ATTR_VPORT, 80);
	ck_assert_err(raw_parse(&r), -ERANGE, "4 or 16");
}
END_TEST

START_TEST(err_size_lladdr)
{
	struct raw r;
	uint8_t ip[4] = { 10, 0, 0, 2 }, mac[5] = { 2, 0, 0, 0, 1 };

	raw_start(&r, LB_MSG_NEIGH_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_attr(&r, LB_ATTR_ADDR, ip, 4);
	raw_attr(&r, LB_ATTR_LLADDR, mac, 5);
	raw_attr(&r, LB_ATTR_IFNAME, "p0", 3);
	ck_assert_err(raw_parse(&r), -ERANGE, "LLADDR: 5 bytes, expected 6");
}
END_TEST

START_TEST(err_string_unterminated)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	raw_attr(&r, LB_ATTR_SCHED, "wrr", 3);
	ck_assert_err(raw_parse(&r), -ERANGE, "not NUL-terminated");
}
END_TEST

START_TEST(err_string_too_long)
{
	struct raw r;
	char name[LB_NAME_MAX + 2];

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	raw_attr(&r, LB_ATTR_NAME, name, sizeof(name));
	ck_assert_err(raw_parse(&r), -ERANGE, "64 characters, at most 63");
}
END_TEST

START_TEST(err_string_embedded_nul)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	raw_attr(&r, LB_ATTR_SCHED, "wr\0r", 5);
	ck_assert_err(raw_parse(&r), -ERANGE, "embedded NUL");
}
END_TEST

START_TEST(err_attr_beyond_message)
{
	struct raw r;
	struct nlattr *a;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	a = (struct nlattr *)(r.b + HDRS);
	a->nla_len = 200;
	ck_assert_err(raw_parse(&r), -EBADMSG, "has length 200");
}
END_TEST

START_TEST(err_attr_len_below_header)
{
	struct raw r;
	struct nlattr *a;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	a = (struct nlattr *)(r.b + HDRS);
	a->nla_len = 2;
	ck_assert_err(raw_parse(&r), -EBADMSG, "has length 2");
}
END_TEST

START_TEST(err_stray_bytes)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	r.len += 2;
	((struct nlmsghdr *)r.b)->nlmsg_len = (uint32_t)r.len;
	ck_assert_err(raw_parse(&r), -EBADMSG, "stray bytes");
}
END_TEST

/* ---- errors: nested ---------------------------------------------------- */

/* A BACKENDS list holding one nested element built from raw pieces. */
static void
raw_backends(struct raw *r, uint16_t child, int with_port, int dup_addr)
{
	struct raw e;
	uint8_t ip[4] = { 10, 1, 0, 1 };
	size_t start;

	/* Build the element's contents in e (after a fake header). */
	raw_start(&e, LB_MSG_SERVICE_FLUSH, 0, LBMSG_VERSION);
	start = e.len;
	raw_attr(&e, LB_ATTR_ADDR, ip, 4);
	if (dup_addr)
		raw_attr(&e, LB_ATTR_ADDR, ip, 4);
	if (with_port)
		raw_u16(&e, LB_ATTR_PORT, 8080);

	struct raw el;
	raw_start(&el, LB_MSG_SERVICE_FLUSH, 0, LBMSG_VERSION);
	size_t el_start = el.len;
	raw_attr(&el, child, e.b + start, (uint16_t)(e.len - start));
	raw_attr(r, LB_ATTR_BACKENDS, el.b + el_start,
		 (uint16_t)(el.len - el_start));
}

START_TEST(err_list_wrong_child)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	raw_backends(&r, LB_ATTR_COUNTER, 1, 0);
	ck_assert_err(raw_parse(&r), -EINVAL, "expected BACKEND");
}
END_TEST

START_TEST(err_record_missing)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	raw_backends(&r, LB_ATTR_BACKEND, 0, 0);
	ck_assert_err(raw_parse(&r), -EINVAL,
		      "BACKEND: missing attribute PORT");
}
END_TEST

START_TEST(err_record_duplicate)
{
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	raw_backends(&r, LB_ATTR_BACKEND, 1, 1);
	ck_assert_err(raw_parse(&r), -EINVAL, "ADDR given twice");
	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	raw_backends(&r, LB_ATTR_BACKEND, 1, 0);
	ck_assert_int_eq(raw_parse(&r), 0);
}
END_TEST

START_TEST(err_counter_name_chars)
{
	struct nl_msg *m = lbmsg_new(LB_MSG_STATS_GET, NLM_F_MULTI);
	struct nlattr *tb[LB_ATTR_MAX + 1], *n;
	struct nlmsghdr *h;

	n = nla_nest_start(m, LB_ATTR_COUNTERS);
	lbmsg_put_counter(m, "rx packets\"}", 1);
	nla_nest_end(m, n);
	h = nlmsg_hdr(m);
	ck_assert_err(lbmsg_parse(h, h->nlmsg_len, tb, errbuf, sizeof(errbuf)),
		      -EINVAL, "is not [a-z0-9_]");
	nlmsg_free(m);
}
END_TEST

/* ---- server and client over a real socket ------------------------------ */

struct fixture {
	char path[64];
	struct lbmsg_server *srv;
	pthread_t thr;
	volatile int stop;
	int dump_parts;
};

static struct fixture fx;

static int
h_service_new(struct lbmsg_req *req)
{
	uint16_t vport = nla_get_u16(req->tb[LB_ATTR_VPORT]);

	if (vport == 81)
		return lbmsg_req_errf(req, -EEXIST,
				      "service tcp 10.0.0.1:81 exists");
	return 0;
}

static int
h_stats_get(struct lbmsg_req *req)
{
	for (int i = 0; i < fx.dump_parts; i++) {
		struct nl_msg *m = lbmsg_req_part(req);
		struct nlattr *n;
		int rc;

		nla_put_u16(m, LB_ATTR_LCORE, (uint16_t)i);
		n = nla_nest_start(m, LB_ATTR_COUNTERS);
		lbmsg_put_counter(m, "packets_total", (uint64_t)i * 3);
		nla_nest_end(m, n);
		rc = lbmsg_req_send(req, m);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static const lbmsg_handler_fn handlers[LB_MSG_MAX + 1] = {
	[LB_MSG_SERVICE_NEW] = h_service_new,
	[LB_MSG_STATS_GET] = h_stats_get,
};

static void *
server_thread(void *arg)
{
	(void)arg;
	while (!fx.stop)
		lbmsg_server_poll(fx.srv, 20);
	return NULL;
}

static void
server_setup(void)
{
	snprintf(fx.path, sizeof(fx.path), "/tmp/lbmsg-test-%d.sock", getpid());
	fx.stop = 0;
	fx.dump_parts = 0;
	fx.srv = lbmsg_server_open(fx.path, 0, -1, handlers, NULL);
	ck_assert_ptr_nonnull(fx.srv);
	ck_assert_int_eq(pthread_create(&fx.thr, NULL, server_thread, NULL), 0);
}

static void
server_teardown(void)
{
	fx.stop = 1;
	pthread_join(fx.thr, NULL);
	lbmsg_server_close(fx.srv);
}

static struct nl_msg *
svc_new(uint16_t vport)
{
	struct nl_msg *m = lbmsg_new(LB_MSG_SERVICE_NEW, 0);
	struct lb_addr vip;

	lb_addr_parse("10.0.0.1", &vip);
	lbmsg_put_svc_key(m, IPPROTO_TCP, &vip, vport);
	return m;
}

START_TEST(sock_ack_ok_and_error_text)
{
	struct lbmsg_client *c = lbmsg_client_open(fx.path, 2000);
	struct nl_msg *m;

	ck_assert_ptr_nonnull(c);
	m = svc_new(80);
	ck_assert_int_eq(
		lbmsg_client_request(c, m, NULL, NULL, errbuf, sizeof(errbuf)),
		0);
	nlmsg_free(m);
	m = svc_new(81);
	ck_assert_err(
		lbmsg_client_request(c, m, NULL, NULL, errbuf, sizeof(errbuf)),
		-EEXIST, "service tcp 10.0.0.1:81 exists");
	nlmsg_free(m);
	lbmsg_client_close(c);
}
END_TEST

START_TEST(sock_unserved_type)
{
	struct lbmsg_client *c = lbmsg_client_open(fx.path, 2000);
	struct nl_msg *m = lbmsg_new(LB_MSG_SERVICE_FLUSH, 0);

	ck_assert_err(
		lbmsg_client_request(c, m, NULL, NULL, errbuf, sizeof(errbuf)),
		-EOPNOTSUPP, "SERVICE_FLUSH is not served");
	nlmsg_free(m);
	lbmsg_client_close(c);
}
END_TEST

static int
count_part(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	int *n = arg;
	struct nlattr *pos;
	int rem;

	ck_assert(nlh->nlmsg_flags & NLM_F_MULTI);
	ck_assert_uint_eq(nla_get_u16(tb[LB_ATTR_LCORE]), *n);
	lbmsg_list_for_each (pos, tb[LB_ATTR_COUNTERS], rem) {
		struct nlattr *ctb[LB_ATTR_MAX + 1];

		lbmsg_parse_record(pos, ctb);
		ck_assert_uint_eq(nla_get_u64(ctb[LB_ATTR_CNT_VALUE]),
				  (uint64_t)*n * 3);
	}
	(*n)++;
	return 0;
}

START_TEST(sock_dump_many_parts)
{
	struct lbmsg_client *c = lbmsg_client_open(fx.path, 2000);
	struct nl_msg *m = lbmsg_new(LB_MSG_STATS_GET, NLM_F_DUMP);
	int n = 0;

	fx.dump_parts = 5000;
	ck_assert_int_eq(lbmsg_client_request(c, m, count_part, &n, errbuf,
					      sizeof(errbuf)),
			 0);
	ck_assert_int_eq(n, 5000);
	nlmsg_free(m);
	lbmsg_client_close(c);
}
END_TEST

START_TEST(sock_dump_over_client_limit)
{
	struct lbmsg_client *c = lbmsg_client_open(fx.path, 2000);
	struct nl_msg *m = lbmsg_new(LB_MSG_STATS_GET, NLM_F_DUMP);
	int n = 0;

	fx.dump_parts = 50;
	lbmsg_client_set_limits(c, 10, LBMSG_DUMP_MAX_BYTES);
	ck_assert_err(lbmsg_client_request(c, m, count_part, &n, errbuf,
					   sizeof(errbuf)),
		      -EMSGSIZE, "limit");
	ck_assert_int_eq(n, 10);
	nlmsg_free(m);
	/* The connection stays usable: stale parts are skipped by seq. */
	fx.dump_parts = 3;
	lbmsg_client_set_limits(c, 100, LBMSG_DUMP_MAX_BYTES);
	n = 0;
	m = lbmsg_new(LB_MSG_STATS_GET, NLM_F_DUMP);
	ck_assert_int_eq(lbmsg_client_request(c, m, count_part, &n, errbuf,
					      sizeof(errbuf)),
			 0);
	ck_assert_int_eq(n, 3);
	nlmsg_free(m);
	lbmsg_client_close(c);
}
END_TEST

START_TEST(sock_malformed_then_valid)
{
	struct lbmsg_client *c = lbmsg_client_open(fx.path, 2000);
	struct lbmsg_server_stats st;
	struct nl_msg *m;
	struct raw r;

	raw_start(&r, LB_MSG_SERVICE_NEW, NLM_F_REQUEST, LBMSG_VERSION + 3);
	raw_svc_key(&r);
	ck_assert_err(lbmsg_client_request_raw(c, r.b, r.len, NULL, NULL,
					       errbuf, sizeof(errbuf)),
		      -EPROTONOSUPPORT, "version 4");
	ck_assert_err(lbmsg_client_request_raw(c, r.b, 5, NULL, NULL, errbuf,
					       sizeof(errbuf)),
		      -EBADMSG, "truncated header");
	m = svc_new(80);
	ck_assert_int_eq(
		lbmsg_client_request(c, m, NULL, NULL, errbuf, sizeof(errbuf)),
		0);
	nlmsg_free(m);
	lbmsg_server_get_stats(fx.srv, &st);
	ck_assert_uint_eq(st.malformed, 2);
	ck_assert_uint_eq(st.errors, 2);
	ck_assert_uint_eq(st.requests, 3);
	lbmsg_client_close(c);
}
END_TEST

START_TEST(sock_oversized_datagram)
{
	struct lbmsg_client *c = lbmsg_client_open(fx.path, 2000);
	struct lbmsg_server_stats st;
	static uint8_t big[LBMSG_MAX_SIZE + 1024];

	((struct nlmsghdr *)big)->nlmsg_len = sizeof(big);
	((struct nlmsghdr *)big)->nlmsg_type = LB_MSG_SERVICE_NEW;
	ck_assert_err(lbmsg_client_request_raw(c, big, sizeof(big), NULL, NULL,
					       errbuf, sizeof(errbuf)),
		      -EMSGSIZE, "larger than");
	lbmsg_server_get_stats(fx.srv, &st);
	ck_assert_uint_eq(st.oversized, 1);
	lbmsg_client_close(c);
}
END_TEST

START_TEST(sock_permissions)
{
	struct stat sb;

	ck_assert_int_eq(stat(fx.path, &sb), 0);
	ck_assert(S_ISSOCK(sb.st_mode));
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
}
END_TEST

START_TEST(sock_custom_mode)
{
	char path[64];
	struct lbmsg_server *s;
	struct stat sb;

	snprintf(path, sizeof(path), "/tmp/lbmsg-mode-%d.sock", getpid());
	s = lbmsg_server_open(path, 0660, (int)getgid(), handlers, NULL);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0660);
	ck_assert_uint_eq(sb.st_gid, getgid());
	lbmsg_server_close(s);
	ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

START_TEST(client_no_server)
{
	struct lbmsg_client *c = lbmsg_client_open("/tmp/lbmsg-none.sock", 100);

	ck_assert_ptr_null(c);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(client_timeout)
{
	char path[64];
	struct lbmsg_server *s;
	struct lbmsg_client *c;
	struct nl_msg *m;
	struct timespec t0, t1;
	double ms;

	/* A server that accepts but is never polled: no reply comes. */
	snprintf(path, sizeof(path), "/tmp/lbmsg-mute-%d.sock", getpid());
	s = lbmsg_server_open(path, 0, -1, handlers, NULL);
	c = lbmsg_client_open(path, 200);
	ck_assert_ptr_nonnull(c);
	m = svc_new(80);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_err(
		lbmsg_client_request(c, m, NULL, NULL, errbuf, sizeof(errbuf)),
		-ETIMEDOUT, "no reply within 200 ms");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	ck_assert_msg(ms >= 150 && ms < 2000, "waited %.0f ms", ms);
	nlmsg_free(m);
	lbmsg_client_close(c);
	lbmsg_server_close(s);
}
END_TEST

/* ---- docs: docs/protocol.md states exactly the policies in the code ---- */

static char *
doc_row(const char *doc, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\n| %s | ", name);
	p = strstr(doc, key);
	if (p == NULL)
		return NULL;
	p++;
	return strndup(p, strcspn(p, "\n"));
}

/* The comma-separated names of one table cell, as a membership test. */
static int
cell_has(const char *row, int cell, const char *name)
{
	const char *p = row;
	char item[64];

	for (int i = 0; i <= cell; i++) {
		p = strchr(p + 1, '|');
		if (p == NULL)
			return 0;
	}
	for (p++;;) {
		size_t n;

		p += strspn(p, " ,");
		n = strcspn(p, ",|");
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n == 0 || *p == '|')
			return 0;
		snprintf(item, sizeof(item), "%.*s", (int)n, p);
		if (strcmp(item, name) == 0)
			return 1;
		p += n;
	}
}

START_TEST(docs_match_policies)
{
	const char *src = getenv("EDGELB_SRCDIR");
	char path[512], *doc;
	FILE *f;
	long len;

	ck_assert_msg(src != NULL, "EDGELB_SRCDIR not set");
	snprintf(path, sizeof(path), "%s/docs/protocol.md", src);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	doc = calloc(1, (size_t)len + 1);
	ck_assert_uint_eq(fread(doc, 1, (size_t)len, f), (size_t)len);
	fclose(f);

	for (int t = LB_MSG_MIN; t <= LB_MSG_MAX; t++) {
		char *row = doc_row(doc, lbmsg_type_name((uint16_t)t));

		ck_assert_msg(row != NULL, "docs lack message %s",
			      lbmsg_type_name((uint16_t)t));
		for (int a = 1; a <= LB_ATTR_MAX; a++) {
			int pol = lbmsg_policy_attr((uint16_t)t, a);
			const char *an = lbmsg_attr_name(a);

			ck_assert_msg(cell_has(row, 2, an) ==
					      (pol == LBMSG_POL_REQUIRED),
				      "docs: %s required %s disagrees",
				      lbmsg_type_name((uint16_t)t), an);
			ck_assert_msg(cell_has(row, 3, an) ==
					      (pol == LBMSG_POL_OPTIONAL),
				      "docs: %s optional %s disagrees",
				      lbmsg_type_name((uint16_t)t), an);
		}
		free(row);
	}
	for (int a = 1; a <= LB_ATTR_MAX; a++) {
		char *row = doc_row(doc, lbmsg_attr_name(a));
		char id[16];

		ck_assert_msg(row != NULL, "docs lack attribute %s",
			      lbmsg_attr_name(a));
		snprintf(id, sizeof(id), "%d", a);
		ck_assert_msg(cell_has(row, 0, id), "docs: %s id is not %d",
			      lbmsg_attr_name(a), a);
		free(row);
	}
	free(doc);
}
END_TEST

/* ---- records: the one encoder and decoder of each record ---------------- */

/* Parse a built message as a receiver does; tb is filled. */
static void
rec_parse(struct nl_msg *m, struct nlattr **tb)
{
	struct nlmsghdr *h = nlmsg_hdr(m);

	ck_assert_msg(
		lbmsg_parse(h, h->nlmsg_len, tb, errbuf, sizeof(errbuf)) == 0,
		"lbmsg_parse: %s", errbuf);
}

static const struct lbmsg_svc_attrs svc_cases[] = {
	{ LBMSG_SVC_NAME | LBMSG_SVC_MODE | LBMSG_SVC_SCHED |
		  LBMSG_SVC_PERSIST | LBMSG_SVC_FLAGS | LBMSG_SVC_MH_SIZE,
	  "web", "mh", LB_MODE_FNAT, LB_PERSIST_MAX, LB_SVC_F_ALL, 65537 },
	{ LBMSG_SVC_MODE | LBMSG_SVC_SCHED | LBMSG_SVC_PERSIST |
		  LBMSG_SVC_FLAGS,
	  NULL, "wlc", LB_MODE_DR, 0, 0, 0 },
	{ LBMSG_SVC_NAME | LBMSG_SVC_MODE | LBMSG_SVC_SCHED |
		  LBMSG_SVC_PERSIST | LBMSG_SVC_FLAGS,
	  "a-name-of-sixty-three-characters-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	  "sched-fifteench", LB_MODE_TUNNEL, 300, LB_SVC_F_SH_PORT, 0 },
	{ LBMSG_SVC_MODE | LBMSG_SVC_PERSIST | LBMSG_SVC_FLAGS, "", NULL,
	  LB_MODE_NAT, 1, LB_SVC_F_UDP_DRAIN, 0 },
	/* connection limits: each alone, all at their maximum */
	{ LBMSG_SVC_MODE | LBMSG_SVC_PERSIST | LBMSG_SVC_FLAGS |
		  LBMSG_SVC_LIMITS,
	  NULL, NULL, LB_MODE_FNAT, 0, 0, 0, .max_conns = 1 },
	{ LBMSG_SVC_MODE | LBMSG_SVC_PERSIST | LBMSG_SVC_FLAGS |
		  LBMSG_SVC_LIMITS,
	  NULL, NULL, LB_MODE_DR, 0, 0, 0, .syn_src_rate = 20 },
	{ LBMSG_SVC_MODE | LBMSG_SVC_PERSIST | LBMSG_SVC_FLAGS |
		  LBMSG_SVC_LIMITS,
	  NULL, NULL, LB_MODE_NAT, 0, 0, 0, .max_conns = LB_LIMIT_MAX,
	  .conn_rate = LB_LIMIT_MAX, .syn_src_rate = LB_LIMIT_MAX },
};

static bool
str_eq(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/* encode -> a real message through lbmsg_parse -> decode -> equal */
START_TEST(rec_svc_roundtrip)
{
	const struct lbmsg_svc_attrs *in = &svc_cases[_i];
	struct nlattr *tb[LB_ATTR_MAX + 1];
	struct lbmsg_svc_attrs out;
	struct lb_addr vip;
	struct nl_msg *m;

	ck_assert_int_eq(lb_addr_parse("10.0.0.1", &vip), 0);
	m = lbmsg_new(LB_MSG_SERVICE_NEW, NLM_F_REQUEST);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(lbmsg_put_svc_key(m, IPPROTO_TCP, &vip, 80), 0);
	ck_assert_int_eq(lbmsg_put_svc_attrs(m, in), 0);
	rec_parse(m, tb);
	ck_assert_int_eq(lbmsg_get_svc_attrs(tb, &out, errbuf, sizeof(errbuf)),
			 0);
	ck_assert_uint_eq(out.present, in->present);
	ck_assert_msg(str_eq(out.name, in->name), "name '%s'", out.name);
	ck_assert_msg(str_eq(out.sched, in->sched), "sched '%s'", out.sched);
	ck_assert_uint_eq(out.mode, in->mode);
	ck_assert_uint_eq(out.persist, in->persist);
	ck_assert_uint_eq(out.flags, in->flags);
	ck_assert_uint_eq(out.mh_size, in->mh_size);
	ck_assert_uint_eq(out.max_conns, in->max_conns);
	ck_assert_uint_eq(out.conn_rate, in->conn_rate);
	ck_assert_uint_eq(out.syn_src_rate, in->syn_src_rate);
	nlmsg_free(m);
}
END_TEST

static const struct {
	uint16_t type; /* message the backend travels in */
	bool record;   /* inside SERVICE_NEW's BACKENDS list */
	struct lbmsg_backend b;
} be_cases[] = {
	{ LB_MSG_BACKEND_NEW,
	  false,
	  { LBMSG_BE_WEIGHT | LBMSG_BE_MODE | LBMSG_BE_FLAGS, .port = 8080,
	    .weight = LB_WEIGHT_MAX, .mode = LB_MODE_NAT,
	    .flags = LB_BACKEND_F_DOWN } },
	{ LB_MSG_BACKEND_DEL, false, { 0, .port = 1 } },
	{ LB_MSG_BACKEND_GET,
	  false,
	  { LBMSG_BE_WEIGHT | LBMSG_BE_STATE, .port = 65535, .weight = 0,
	    .state = LB_HEALTH_DOWN } },
	{ LB_MSG_SERVICE_NEW,
	  true,
	  { LBMSG_BE_WEIGHT | LBMSG_BE_MODE | LBMSG_BE_FLAGS | LBMSG_BE_STATE,
	    .port = 443, .weight = 7, .mode = LB_MODE_FNAT, .flags = 0,
	    .state = LB_HEALTH_UP } },
	{ LB_MSG_BACKEND_SET,
	  false,
	  { LBMSG_BE_WEIGHT | LBMSG_BE_THRESH, .port = 80, .weight = 3,
	    .u_thresh = 1000, .l_thresh = 500 } },
	{ LB_MSG_SERVICE_NEW,
	  true,
	  { LBMSG_BE_THRESH, .port = 81, .u_thresh = LB_LIMIT_MAX } },
	{ LB_MSG_BACKEND_GET,
	  false,
	  { LBMSG_BE_THRESH, .port = 82, .u_thresh = 5, .l_thresh = 5 } },
};

START_TEST(rec_backend_roundtrip)
{
	struct lbmsg_backend in = be_cases[_i].b, out;
	struct nlattr *tb[LB_ATTR_MAX + 1], *rb[LB_ATTR_MAX + 1], *pos;
	struct nlattr **from = tb;
	struct nlattr *list = NULL, *rec = NULL;
	struct lb_addr vip;
	struct nl_msg *m;
	int rem, n = 0;

	ck_assert_int_eq(lb_addr_parse("10.0.0.1", &vip), 0);
	ck_assert_int_eq(
		lb_addr_parse(_i % 2 ? "2001:db8::7" : "10.1.2.3", &in.addr),
		0);
	m = lbmsg_new(be_cases[_i].type, NLM_F_REQUEST);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(lbmsg_put_svc_key(m, IPPROTO_UDP, &vip, 53), 0);
	if (be_cases[_i].record) {
		list = nla_nest_start(m, LB_ATTR_BACKENDS);
		rec = nla_nest_start(m, LB_ATTR_BACKEND);
	}
	ck_assert_int_eq(lbmsg_put_backend(m, &in), 0);
	if (be_cases[_i].record) {
		nla_nest_end(m, rec);
		nla_nest_end(m, list);
	}
	rec_parse(m, tb);
	if (be_cases[_i].record) {
		lbmsg_list_for_each (pos, tb[LB_ATTR_BACKENDS], rem) {
			ck_assert_int_eq(lbmsg_parse_record(pos, rb), 0);
			n++;
		}
		ck_assert_int_eq(n, 1);
		from = rb;
	}
	ck_assert_msg(lbmsg_get_backend(from, &out, errbuf, sizeof(errbuf)) ==
			      0,
		      "lbmsg_get_backend: %s", errbuf);
	ck_assert_uint_eq(out.present, in.present);
	ck_assert(lb_addr_equal(&out.addr, &in.addr));
	ck_assert_uint_eq(out.port, in.port);
	ck_assert_uint_eq(out.weight, in.weight);
	ck_assert_uint_eq(out.mode, in.mode);
	ck_assert_uint_eq(out.flags, in.flags);
	ck_assert_uint_eq(out.state, in.state);
	ck_assert_uint_eq(out.u_thresh, in.u_thresh);
	ck_assert_uint_eq(out.l_thresh, in.l_thresh);
	nlmsg_free(m);
}
END_TEST

/*
 * What a decoder refuses. The table is filled without a policy (as
 * lbmsg_parse_record does), so each check here is the decoder's own.
 */
static void
raw_u32(struct raw *r, uint16_t type, uint32_t v)
{
	raw_attr(r, type, &v, 4);
}

static void
bad_mode_size(struct raw *r)
{
	raw_u16(r, LB_ATTR_MODE, LB_MODE_DR);
}

static void
bad_mode_value(struct raw *r)
{
	raw_u8(r, LB_ATTR_MODE, 0);
}

static void
bad_name_long(struct raw *r)
{
	char name[LB_NAME_MAX + 2];

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	raw_attr(r, LB_ATTR_NAME, name, sizeof(name));
}

static void
bad_sched_unterminated(struct raw *r)
{
	raw_attr(r, LB_ATTR_SCHED, "wrr", 3);
}

static void
bad_persist_size(struct raw *r)
{
	raw_u16(r, LB_ATTR_PERSIST, 30);
}

static void
bad_persist_value(struct raw *r)
{
	raw_u32(r, LB_ATTR_PERSIST, LB_PERSIST_MAX + 1);
}

static void
bad_svc_flags(struct raw *r)
{
	raw_u32(r, LB_ATTR_SVC_FLAGS, 0x100);
}

static void
bad_mh_size(struct raw *r)
{
	uint64_t v = 65537;

	raw_attr(r, LB_ATTR_MH_SIZE, &v, 8);
}

static void
bad_max_conns(struct raw *r)
{
	raw_u32(r, LB_ATTR_MAX_CONNS, LB_LIMIT_MAX + 1);
}

static void
bad_conn_rate_size(struct raw *r)
{
	raw_u16(r, LB_ATTR_CONN_RATE, 10);
}

static void
bad_syn_src_rate(struct raw *r)
{
	raw_u32(r, LB_ATTR_SYN_SRC_RATE, UINT32_MAX);
}

static void
be_addr(struct raw *r)
{
	uint8_t ip[4] = { 10, 1, 2, 3 };

	raw_attr(r, LB_ATTR_ADDR, ip, 4);
}

static void
bad_be_no_port(struct raw *r)
{
	be_addr(r);
}

static void
bad_be_addr_size(struct raw *r)
{
	uint8_t ip[5] = { 10, 1, 2, 3, 4 };

	raw_attr(r, LB_ATTR_ADDR, ip, 5);
	raw_u16(r, LB_ATTR_PORT, 80);
}

static void
bad_be_port_size(struct raw *r)
{
	be_addr(r);
	raw_u32(r, LB_ATTR_PORT, 80);
}

static void
bad_be_weight(struct raw *r)
{
	be_addr(r);
	raw_u16(r, LB_ATTR_PORT, 80);
	raw_u32(r, LB_ATTR_WEIGHT, LB_WEIGHT_MAX + 1);
}

static void
bad_be_flags(struct raw *r)
{
	be_addr(r);
	raw_u16(r, LB_ATTR_PORT, 80);
	raw_u32(r, LB_ATTR_FLAGS, 0x2);
}

static void
bad_be_state_size(struct raw *r)
{
	be_addr(r);
	raw_u16(r, LB_ATTR_PORT, 80);
	raw_u32(r, LB_ATTR_STATE, 1);
}

static void
bad_be_u_thresh(struct raw *r)
{
	be_addr(r);
	raw_u16(r, LB_ATTR_PORT, 80);
	raw_u32(r, LB_ATTR_U_THRESH, LB_LIMIT_MAX + 1);
}

static void
bad_be_l_above_u(struct raw *r)
{
	be_addr(r);
	raw_u16(r, LB_ATTR_PORT, 80);
	raw_u32(r, LB_ATTR_U_THRESH, 10);
	raw_u32(r, LB_ATTR_L_THRESH, 11);
}

static void
bad_be_l_alone(struct raw *r)
{
	be_addr(r);
	raw_u16(r, LB_ATTR_PORT, 80);
	raw_u32(r, LB_ATTR_L_THRESH, 1);
}

static const struct {
	const char *desc;
	bool backend; /* lbmsg_get_backend, else lbmsg_get_svc_attrs */
	void (*build)(struct raw *r);
	int rc;
	const char *msg;
} rec_bad[] = {
	{ "MODE truncated", false, bad_mode_size, -ERANGE,
	  "MODE: 2 bytes, expected 1" },
	{ "MODE 0", false, bad_mode_value, -EINVAL, "unknown mode 0" },
	{ "NAME oversized", false, bad_name_long, -ERANGE,
	  "NAME: 64 characters, at most 63" },
	{ "SCHED without NUL", false, bad_sched_unterminated, -ERANGE,
	  "SCHED: not one NUL-terminated string" },
	{ "PERSIST truncated", false, bad_persist_size, -ERANGE,
	  "PERSIST: 2 bytes, expected 4" },
	{ "PERSIST too long", false, bad_persist_value, -ERANGE,
	  "persist 2592001 above the maximum 2592000" },
	{ "SVC_FLAGS unknown", false, bad_svc_flags, -EINVAL,
	  "unknown service flags 0x100" },
	{ "MH_SIZE oversized", false, bad_mh_size, -ERANGE,
	  "MH_SIZE: 8 bytes, expected 4" },
	{ "backend without PORT", true, bad_be_no_port, -EINVAL,
	  "a backend needs ADDR and PORT" },
	{ "backend ADDR of 5 bytes", true, bad_be_addr_size, -ERANGE,
	  "ADDR: 5 bytes, an address is 4 or 16" },
	{ "backend PORT oversized", true, bad_be_port_size, -ERANGE,
	  "PORT: 4 bytes, expected 2" },
	{ "backend WEIGHT above max", true, bad_be_weight, -ERANGE,
	  "backend 10.1.2.3:80: weight 65536 above 65535" },
	{ "backend FLAGS unknown", true, bad_be_flags, -EINVAL,
	  "backend 10.1.2.3:80: unknown flags 0x2" },
	{ "backend STATE oversized", true, bad_be_state_size, -ERANGE,
	  "STATE: 4 bytes, expected 1" },
	{ "MAX_CONNS above max", false, bad_max_conns, -ERANGE,
	  "MAX_CONNS 100000001 above the maximum 100000000" },
	{ "CONN_RATE truncated", false, bad_conn_rate_size, -ERANGE,
	  "CONN_RATE: 2 bytes, expected 4" },
	{ "SYN_SRC_RATE above max", false, bad_syn_src_rate, -ERANGE,
	  "SYN_SRC_RATE 4294967295 above the maximum 100000000" },
	{ "backend U_THRESH above max", true, bad_be_u_thresh, -ERANGE,
	  "U_THRESH 100000001 above the maximum 100000000" },
	{ "backend L_THRESH above U_THRESH", true, bad_be_l_above_u, -ERANGE,
	  "backend 10.1.2.3:80: lower threshold 11 above the upper 10" },
	{ "backend L_THRESH without U_THRESH", true, bad_be_l_alone, -ERANGE,
	  "backend 10.1.2.3:80: lower threshold 1 above the upper 0" },
};

START_TEST(rec_decode_refuses)
{
	struct nlattr *tb[LB_ATTR_MAX + 1];
	struct lbmsg_svc_attrs a;
	struct lbmsg_backend b;
	struct raw r;
	int rc;

	raw_start(&r, LB_MSG_SERVICE_SET, NLM_F_REQUEST, LBMSG_VERSION);
	raw_svc_key(&r);
	rec_bad[_i].build(&r);
	ck_assert_int_eq(nlmsg_parse((struct nlmsghdr *)r.b,
				     sizeof(struct lbmsg_hdr), tb, LB_ATTR_MAX,
				     NULL),
			 0);
	errbuf[0] = '\0';
	rc = rec_bad[_i].backend
		     ? lbmsg_get_backend(tb, &b, errbuf, sizeof(errbuf))
		     : lbmsg_get_svc_attrs(tb, &a, errbuf, sizeof(errbuf));
	ck_assert_msg(rc == rec_bad[_i].rc, "%s: rc %d, expected %d (%s)",
		      rec_bad[_i].desc, rc, rec_bad[_i].rc, errbuf);
	ck_assert_msg(strstr(errbuf, rec_bad[_i].msg) != NULL,
		      "%s: message '%s' lacks '%s'", rec_bad[_i].desc, errbuf,
		      rec_bad[_i].msg);
}
END_TEST

/* An encoder that runs out of room says so with -EMSGSIZE. */
START_TEST(rec_encode_full)
{
	const struct lbmsg_svc_attrs a = svc_cases[0];
	struct lbmsg_backend b = be_cases[0].b;
	struct nl_msg *m = nlmsg_alloc_size(NLMSG_HDRLEN + 24);

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(nlmsg_put(m, 0, 0, LB_MSG_SERVICE_NEW, 0, 0));
	ck_assert_int_eq(lbmsg_put_svc_attrs(m, &a), -EMSGSIZE);
	nlmsg_free(m);
	m = nlmsg_alloc_size(NLMSG_HDRLEN + 16);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(nlmsg_put(m, 0, 0, LB_MSG_BACKEND_NEW, 0, 0));
	ck_assert_int_eq(lb_addr_parse("2001:db8::1", &b.addr), 0);
	ck_assert_int_eq(lbmsg_put_backend(m, &b), -EMSGSIZE);
	nlmsg_free(m);
}
END_TEST

static Suite *
lbmsg_suite(void)
{
	Suite *s = suite_create("lbmsg");
	TCase *core = tcase_create("core");
	TCase *errors = tcase_create("errors");
	TCase *sock = tcase_create("socket");
	TCase *limits = tcase_create("limits");
	TCase *records = tcase_create("records");

	tcase_add_loop_test(core, roundtrip_every_type, 0,
			    LB_MSG_MAX - LB_MSG_MIN + 1);
	tcase_add_test(core, names_cover_everything);
	tcase_add_test(core, minimal_required_only);
	tcase_add_test(core, docs_match_policies);
	suite_add_tcase(s, core);

	tcase_add_test(errors, err_truncated_header);
	tcase_add_test(errors, err_truncated_family_header);
	tcase_add_test(errors, err_length_field_too_big);
	tcase_add_test(errors, err_length_field_too_small);
	tcase_add_test(errors, err_unknown_type);
	tcase_add_test(errors, err_version_mismatch);
	tcase_add_test(errors, err_dump_of_non_get);
	tcase_add_test(errors, err_unknown_attribute);
	tcase_add_test(errors, err_attribute_zero);
	tcase_add_test(errors, err_attribute_not_allowed);
	tcase_add_test(errors, err_duplicate_attribute);
	tcase_add_test(errors, err_missing_mandatory);
	tcase_add_test(errors, err_size_u8);
	tcase_add_test(errors, err_size_u16);
	tcase_add_test(errors, err_size_u32);
	tcase_add_test(errors, err_size_addr);
	tcase_add_test(errors, err_size_lladdr);
	tcase_add_test(errors, err_string_unterminated);
	tcase_add_test(errors, err_string_too_long);
	tcase_add_test(errors, err_string_embedded_nul);
	tcase_add_test(errors, err_attr_beyond_message);
	tcase_add_test(errors, err_attr_len_below_header);
	tcase_add_test(errors, err_stray_bytes);
	tcase_add_test(errors, err_list_wrong_child);
	tcase_add_test(errors, err_record_missing);
	tcase_add_test(errors, err_record_duplicate);
	tcase_add_test(errors, err_counter_name_chars);
	suite_add_tcase(s, errors);

	tcase_add_loop_test(records, rec_svc_roundtrip, 0,
			    (int)(sizeof(svc_cases) / sizeof(svc_cases[0])));
	tcase_add_loop_test(records, rec_backend_roundtrip, 0,
			    (int)(sizeof(be_cases) / sizeof(be_cases[0])));
	tcase_add_loop_test(records, rec_decode_refuses, 0,
			    (int)(sizeof(rec_bad) / sizeof(rec_bad[0])));
	tcase_add_test(records, rec_encode_full);
	suite_add_tcase(s, records);

	tcase_add_test(limits, err_oversized);
	tcase_add_test(limits, client_no_server);
	tcase_add_test(limits, client_timeout);
	tcase_add_test(limits, sock_custom_mode);
	suite_add_tcase(s, limits);

	tcase_add_checked_fixture(sock, server_setup, server_teardown);
	tcase_add_test(sock, sock_ack_ok_and_error_text);
	tcase_add_test(sock, sock_unserved_type);
	tcase_add_test(sock, sock_dump_many_parts);
	tcase_add_test(sock, sock_dump_over_client_limit);
	tcase_add_test(sock, sock_malformed_then_valid);
	tcase_add_test(sock, sock_oversized_datagram);
	tcase_add_test(sock, sock_permissions);
	suite_add_tcase(s, sock);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(lbmsg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
