/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbmsg records: the one encoder and the one decoder of a service's
 * attributes and of a backend, used by edgelb-dp (dp.sock handlers and
 * dumps) and edgelbd (dp.sock requests, ctl.sock dumps) alike. See "records"
 * in lbmsg.h for the contract.
 *
 * The decoders check each attribute again although lbmsg_parse() did: a
 * table can come from lbmsg_parse_record() (no policy), and a decoder that
 * trusts nothing costs a few compares on the control path.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "edgelb/lbmsg.h"
#include "lbmsg_priv.h"
#include "edgelb/util.h"

/* The attribute has exactly len bytes. 0 or -ERANGE (explained). */
static int
check_len(const struct nlattr *nla, int attr, int len, char *err, size_t errlen)
{
	if (nla_len(nla) != len)
		return lb_errf(err, errlen, -ERANGE,
			       "attribute %s: %d bytes, expected %d",
			       lbmsg_attr_name(attr), nla_len(nla), len);
	return 0;
}

static int
get_u8(struct nlattr **tb, int attr, uint8_t *v, char *err, size_t errlen)
{
	int rc = check_len(tb[attr], attr, 1, err, errlen);

	if (rc == 0)
		*v = nla_get_u8(tb[attr]);
	return rc;
}

static int
get_u16(struct nlattr **tb, int attr, uint16_t *v, char *err, size_t errlen)
{
	int rc = check_len(tb[attr], attr, 2, err, errlen);

	if (rc == 0)
		*v = nla_get_u16(tb[attr]);
	return rc;
}

static int
get_u32(struct nlattr **tb, int attr, uint32_t *v, char *err, size_t errlen)
{
	int rc = check_len(tb[attr], attr, 4, err, errlen);

	if (rc == 0)
		*v = nla_get_u32(tb[attr]);
	return rc;
}

/* A NUL-terminated string of at most max characters. */
static int
get_string(struct nlattr **tb, int attr, size_t max, const char **v, char *err,
	   size_t errlen)
{
	const char *s = nla_data(tb[attr]);
	int len = nla_len(tb[attr]);

	if (len < 1 || s[len - 1] != '\0' || strlen(s) != (size_t)len - 1)
		return lb_errf(err, errlen, -ERANGE,
			       "attribute %s: not one NUL-terminated string",
			       lbmsg_attr_name(attr));
	if ((size_t)len - 1 > max)
		return lb_errf(err, errlen, -ERANGE,
			       "attribute %s: %d characters, at most %zu",
			       lbmsg_attr_name(attr), len - 1, max);
	*v = s;
	return 0;
}

/* ---- service attributes ------------------------------------------------ */

static int
put_nonzero(struct nl_msg *msg, int attr, uint32_t v)
{
	return v != 0 ? nla_put_u32(msg, attr, v) : 0;
}

int
lbmsg_put_svc_attrs(struct nl_msg *msg, const struct lbmsg_svc_attrs *a)
{
	if ((a->name != NULL && a->name[0] != '\0' &&
	     nla_put_string(msg, LB_ATTR_NAME, a->name) < 0) ||
	    nla_put_u8(msg, LB_ATTR_MODE, a->mode) < 0 ||
	    (a->sched != NULL &&
	     nla_put_string(msg, LB_ATTR_SCHED, a->sched) < 0) ||
	    nla_put_u32(msg, LB_ATTR_PERSIST, a->persist) < 0 ||
	    nla_put_u32(msg, LB_ATTR_SVC_FLAGS, a->flags) < 0 ||
	    (a->mh_size != 0 &&
	     nla_put_u32(msg, LB_ATTR_MH_SIZE, a->mh_size) < 0) ||
	    put_nonzero(msg, LB_ATTR_MAX_CONNS, a->max_conns) < 0 ||
	    put_nonzero(msg, LB_ATTR_CONN_RATE, a->conn_rate) < 0 ||
	    put_nonzero(msg, LB_ATTR_SYN_SRC_RATE, a->syn_src_rate) < 0)
		return -EMSGSIZE;
	return 0;
}

/* A limit attribute, when present: at most LB_LIMIT_MAX. 1 when it was
 * there, 0 when not, or -ERANGE. */
static int
get_limit(struct nlattr **tb, int attr, uint32_t *v, char *err, size_t errlen)
{
	int rc;

	if (tb[attr] == NULL)
		return 0;
	rc = get_u32(tb, attr, v, err, errlen);
	if (rc < 0)
		return rc;
	if (*v > LB_LIMIT_MAX)
		return lb_errf(err, errlen, -ERANGE,
			       "%s %u above the maximum %u",
			       lbmsg_attr_name(attr), *v, LB_LIMIT_MAX);
	return 1;
}

int
lbmsg_get_svc_attrs(struct nlattr **tb, struct lbmsg_svc_attrs *a, char *err,
		    size_t errlen)
{
	int rc = 0;

	memset(a, 0, sizeof(*a));
	if (tb[LB_ATTR_NAME] != NULL) {
		rc = get_string(tb, LB_ATTR_NAME, LB_NAME_MAX, &a->name, err,
				errlen);
		if (rc < 0)
			return rc;
		a->present |= LBMSG_SVC_NAME;
	}
	if (tb[LB_ATTR_MODE] != NULL) {
		rc = get_u8(tb, LB_ATTR_MODE, &a->mode, err, errlen);
		if (rc < 0)
			return rc;
		if (a->mode < LB_MODE_DR || a->mode > LB_MODE_MAX)
			return lb_errf(err, errlen, -EINVAL, "unknown mode %u",
				       a->mode);
		a->present |= LBMSG_SVC_MODE;
	}
	if (tb[LB_ATTR_SCHED] != NULL) {
		rc = get_string(tb, LB_ATTR_SCHED, LB_SCHED_NAME_MAX, &a->sched,
				err, errlen);
		if (rc < 0)
			return rc;
		a->present |= LBMSG_SVC_SCHED;
	}
	if (tb[LB_ATTR_PERSIST] != NULL) {
		rc = get_u32(tb, LB_ATTR_PERSIST, &a->persist, err, errlen);
		if (rc < 0)
			return rc;
		if (a->persist > LB_PERSIST_MAX)
			return lb_errf(err, errlen, -ERANGE,
				       "persist %u above the maximum %u",
				       a->persist, LB_PERSIST_MAX);
		a->present |= LBMSG_SVC_PERSIST;
	}
	if (tb[LB_ATTR_SVC_FLAGS] != NULL) {
		rc = get_u32(tb, LB_ATTR_SVC_FLAGS, &a->flags, err, errlen);
		if (rc < 0)
			return rc;
		if (a->flags & ~LB_SVC_F_ALL)
			return lb_errf(err, errlen, -EINVAL,
				       "unknown service flags 0x%x",
				       a->flags & ~LB_SVC_F_ALL);
		a->present |= LBMSG_SVC_FLAGS;
	}
	if (tb[LB_ATTR_MH_SIZE] != NULL) {
		rc = get_u32(tb, LB_ATTR_MH_SIZE, &a->mh_size, err, errlen);
		if (rc < 0)
			return rc;
		a->present |= LBMSG_SVC_MH_SIZE;
	}
	for (int i = 0; i < 3; i++) {
		static const int attrs[3] = { LB_ATTR_MAX_CONNS,
					      LB_ATTR_CONN_RATE,
					      LB_ATTR_SYN_SRC_RATE };
		uint32_t *v[3] = { &a->max_conns, &a->conn_rate,
				   &a->syn_src_rate };

		rc = get_limit(tb, attrs[i], v[i], err, errlen);
		if (rc < 0)
			return rc;
		if (rc > 0)
			a->present |= LBMSG_SVC_LIMITS;
	}
	return 0;
}

/* ---- backends ---------------------------------------------------------- */

int
lbmsg_put_backend(struct nl_msg *msg, const struct lbmsg_backend *b)
{
	if (lbmsg_put_addr(msg, LB_ATTR_ADDR, &b->addr) < 0 ||
	    nla_put_u16(msg, LB_ATTR_PORT, b->port) < 0 ||
	    ((b->present & LBMSG_BE_WEIGHT) &&
	     nla_put_u32(msg, LB_ATTR_WEIGHT, b->weight) < 0) ||
	    ((b->present & LBMSG_BE_MODE) &&
	     nla_put_u8(msg, LB_ATTR_MODE, b->mode) < 0) ||
	    ((b->present & LBMSG_BE_FLAGS) &&
	     nla_put_u32(msg, LB_ATTR_FLAGS, b->flags) < 0) ||
	    ((b->present & LBMSG_BE_STATE) &&
	     nla_put_u8(msg, LB_ATTR_STATE, b->state) < 0) ||
	    ((b->present & LBMSG_BE_THRESH) &&
	     (put_nonzero(msg, LB_ATTR_U_THRESH, b->u_thresh) < 0 ||
	      put_nonzero(msg, LB_ATTR_L_THRESH, b->l_thresh) < 0)))
		return -EMSGSIZE;
	return 0;
}

int
lbmsg_get_backend(struct nlattr **tb, struct lbmsg_backend *b, char *err,
		  size_t errlen)
{
	char buf[LB_ADDRPORTSTRLEN];
	int rc;

	memset(b, 0, sizeof(*b));
	if (tb[LB_ATTR_ADDR] == NULL || tb[LB_ATTR_PORT] == NULL)
		return lb_errf(err, errlen, -EINVAL,
			       "a backend needs ADDR and PORT");
	if (lbmsg_get_addr(tb[LB_ATTR_ADDR], &b->addr) < 0)
		return lb_errf(err, errlen, -ERANGE,
			       "attribute ADDR: %d bytes, an address is 4 "
			       "or 16",
			       nla_len(tb[LB_ATTR_ADDR]));
	rc = get_u16(tb, LB_ATTR_PORT, &b->port, err, errlen);
	if (rc < 0)
		return rc;
	lb_addr_port_format(&b->addr, b->port, buf, sizeof(buf));
	if (tb[LB_ATTR_WEIGHT] != NULL) {
		rc = get_u32(tb, LB_ATTR_WEIGHT, &b->weight, err, errlen);
		if (rc < 0)
			return rc;
		if (b->weight > LB_WEIGHT_MAX)
			return lb_errf(err, errlen, -ERANGE,
				       "backend %s: weight %u above %u", buf,
				       b->weight, LB_WEIGHT_MAX);
		b->present |= LBMSG_BE_WEIGHT;
	}
	if (tb[LB_ATTR_MODE] != NULL) {
		rc = get_u8(tb, LB_ATTR_MODE, &b->mode, err, errlen);
		if (rc < 0)
			return rc;
		b->present |= LBMSG_BE_MODE;
	}
	if (tb[LB_ATTR_FLAGS] != NULL) {
		rc = get_u32(tb, LB_ATTR_FLAGS, &b->flags, err, errlen);
		if (rc < 0)
			return rc;
		if (b->flags & ~LB_BACKEND_F_ALL)
			return lb_errf(err, errlen, -EINVAL,
				       "backend %s: unknown flags 0x%x", buf,
				       b->flags & ~LB_BACKEND_F_ALL);
		b->present |= LBMSG_BE_FLAGS;
	}
	if (tb[LB_ATTR_STATE] != NULL) {
		rc = get_u8(tb, LB_ATTR_STATE, &b->state, err, errlen);
		if (rc < 0)
			return rc;
		b->present |= LBMSG_BE_STATE;
	}
	for (int i = 0; i < 2; i++) {
		static const int attrs[2] = { LB_ATTR_U_THRESH,
					      LB_ATTR_L_THRESH };
		uint32_t *v[2] = { &b->u_thresh, &b->l_thresh };

		rc = get_limit(tb, attrs[i], v[i], err, errlen);
		if (rc < 0)
			return rc;
		if (rc > 0)
			b->present |= LBMSG_BE_THRESH;
	}
	if (b->l_thresh > b->u_thresh)
		return lb_errf(err, errlen, -ERANGE,
			       "backend %s: lower threshold %u above the upper "
			       "%u",
			       buf, b->l_thresh, b->u_thresh);
	return 0;
}
