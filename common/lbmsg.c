/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbmsg codec: message construction, the per-message attribute policies
 * and the strict parser every received message goes through. The server
 * and client halves live in lbmsg_sock.c.
 *
 * libnl-3 builds messages (nlmsg_alloc_size, nla_put_*) and fills the
 * attribute table (nlmsg_parse with a per-message struct nla_policy).
 * Before that, lbmsg_parse() walks the attributes itself because libnl
 * silently ignores unknown attributes, lets a repeated attribute overwrite
 * the first and does not check nested records; the protocol rejects all
 * three with a precise message.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "edgelb/lbmsg.h"
#include "lbmsg_priv.h"
#include "edgelb/util.h"

#define A(x) (1ull << (x))

_Static_assert(LB_ATTR_MAX < 64, "attribute sets are 64-bit masks");

/* Wire type of every attribute (one namespace for all messages). */
static const struct {
	const char *name;
	enum lbmsg_atype type;
	uint16_t maxlen; /* strings: characters, without the NUL */
	uint16_t child;	 /* lists: the attribute id of each child */
	uint8_t record;	 /* records: index into record_policy[] */
} attr_desc[LB_ATTR_MAX + 1] = {
	[LB_ATTR_PROTO] = { "PROTO", LBMSG_AT_U8 },
	[LB_ATTR_VIP] = { "VIP", LBMSG_AT_ADDR },
	[LB_ATTR_VPORT] = { "VPORT", LBMSG_AT_U16 },
	[LB_ATTR_NAME] = { "NAME", LBMSG_AT_STRING, LB_NAME_MAX },
	[LB_ATTR_MODE] = { "MODE", LBMSG_AT_U8 },
	[LB_ATTR_SCHED] = { "SCHED", LBMSG_AT_STRING, LB_SCHED_NAME_MAX },
	[LB_ATTR_PERSIST] = { "PERSIST", LBMSG_AT_U32 },
	[LB_ATTR_SVC_FLAGS] = { "SVC_FLAGS", LBMSG_AT_U32 },
	[LB_ATTR_MH_SIZE] = { "MH_SIZE", LBMSG_AT_U32 },
	[LB_ATTR_ADDR] = { "ADDR", LBMSG_AT_ADDR },
	[LB_ATTR_PORT] = { "PORT", LBMSG_AT_U16 },
	[LB_ATTR_WEIGHT] = { "WEIGHT", LBMSG_AT_U32 },
	[LB_ATTR_DST] = { "DST", LBMSG_AT_ADDR },
	[LB_ATTR_PREFIXLEN] = { "PREFIXLEN", LBMSG_AT_U8 },
	[LB_ATTR_GATEWAY] = { "GATEWAY", LBMSG_AT_ADDR },
	[LB_ATTR_IFNAME] = { "IFNAME", LBMSG_AT_STRING, LB_IFNAME_MAX },
	[LB_ATTR_LLADDR] = { "LLADDR", LBMSG_AT_LLADDR },
	[LB_ATTR_STATE] = { "STATE", LBMSG_AT_U8 },
	[LB_ATTR_MTU] = { "MTU", LBMSG_AT_U32 },
	[LB_ATTR_PORT_ID] = { "PORT_ID", LBMSG_AT_U16 },
	[LB_ATTR_LCORE] = { "LCORE", LBMSG_AT_U16 },
	[LB_ATTR_CADDR] = { "CADDR", LBMSG_AT_ADDR },
	[LB_ATTR_CPORT] = { "CPORT", LBMSG_AT_U16 },
	[LB_ATTR_LADDR] = { "LADDR", LBMSG_AT_ADDR },
	[LB_ATTR_LPORT] = { "LPORT", LBMSG_AT_U16 },
	[LB_ATTR_EXPIRES] = { "EXPIRES", LBMSG_AT_U32 },
	[LB_ATTR_STATS_KIND] = { "STATS_KIND", LBMSG_AT_U8 },
	[LB_ATTR_COUNTERS] = { "COUNTERS", LBMSG_AT_LIST, 0, LB_ATTR_COUNTER },
	[LB_ATTR_COUNTER] = { "COUNTER", LBMSG_AT_RECORD, 0, 0, 1 },
	[LB_ATTR_CNT_NAME] = { "CNT_NAME", LBMSG_AT_STRING, LB_NAME_MAX },
	[LB_ATTR_CNT_VALUE] = { "CNT_VALUE", LBMSG_AT_U64 },
	[LB_ATTR_BACKENDS] = { "BACKENDS", LBMSG_AT_LIST, 0, LB_ATTR_BACKEND },
	[LB_ATTR_BACKEND] = { "BACKEND", LBMSG_AT_RECORD, 0, 0, 2 },
	[LB_ATTR_TMO_SYN_RECV] = { "TMO_SYN_RECV", LBMSG_AT_U32 },
	[LB_ATTR_TMO_ESTABLISHED] = { "TMO_ESTABLISHED", LBMSG_AT_U32 },
	[LB_ATTR_TMO_FIN_WAIT] = { "TMO_FIN_WAIT", LBMSG_AT_U32 },
	[LB_ATTR_TMO_TIME_WAIT] = { "TMO_TIME_WAIT", LBMSG_AT_U32 },
	[LB_ATTR_TMO_CLOSE] = { "TMO_CLOSE", LBMSG_AT_U32 },
	[LB_ATTR_TMO_UDP] = { "TMO_UDP", LBMSG_AT_U32 },
	[LB_ATTR_DEL_POLICY] = { "DEL_POLICY", LBMSG_AT_U8 },
	[LB_ATTR_CHECK] = { "CHECK", LBMSG_AT_STRING, LB_NAME_MAX },
	[LB_ATTR_LINK] = { "LINK", LBMSG_AT_U8 },
	[LB_ATTR_FLAGS] = { "FLAGS", LBMSG_AT_U32 },
	[LB_ATTR_MOD_CMD] = { "MOD_CMD", LBMSG_AT_STRING, LBMSG_MOD_CMD_MAX },
	[LB_ATTR_MOD_ARGS] = { "MOD_ARGS", LBMSG_AT_LIST, 0, LB_ATTR_MOD_ARG },
	[LB_ATTR_MOD_ARG] = { "MOD_ARG", LBMSG_AT_STRING, LBMSG_MOD_ARG_MAX },
	[LB_ATTR_MOD_DATA] = { "MOD_DATA", LBMSG_AT_STRING,
			       LBMSG_MOD_DATA_MAX },
	[LB_ATTR_MAX_CONNS] = { "MAX_CONNS", LBMSG_AT_U32 },
	[LB_ATTR_CONN_RATE] = { "CONN_RATE", LBMSG_AT_U32 },
	[LB_ATTR_SYN_SRC_RATE] = { "SYN_SRC_RATE", LBMSG_AT_U32 },
	[LB_ATTR_U_THRESH] = { "U_THRESH", LBMSG_AT_U32 },
	[LB_ATTR_L_THRESH] = { "L_THRESH", LBMSG_AT_U32 },
};

struct set_policy {
	uint64_t allowed;
	uint64_t required;
};

#define BE_THRESH (A(LB_ATTR_U_THRESH) | A(LB_ATTR_L_THRESH))

/* Nested records; index 0 unused. */
static const struct set_policy record_policy[] = {
	[1] = { /* COUNTER */
		.required = A(LB_ATTR_CNT_NAME) | A(LB_ATTR_CNT_VALUE),
		.allowed = A(LB_ATTR_CNT_NAME) | A(LB_ATTR_CNT_VALUE),
	},
	[2] = { /* BACKEND */
		.required = A(LB_ATTR_ADDR) | A(LB_ATTR_PORT),
		.allowed = A(LB_ATTR_ADDR) | A(LB_ATTR_PORT) |
			   A(LB_ATTR_WEIGHT) | A(LB_ATTR_MODE) |
			   A(LB_ATTR_STATE) | A(LB_ATTR_COUNTERS) |
			   A(LB_ATTR_FLAGS) | BE_THRESH,
	},
};

#define SVC_KEY (A(LB_ATTR_PROTO) | A(LB_ATTR_VIP) | A(LB_ATTR_VPORT))
#define SVC_OPTS                                                               \
	(A(LB_ATTR_NAME) | A(LB_ATTR_MODE) | A(LB_ATTR_SCHED) |                \
	 A(LB_ATTR_PERSIST) | A(LB_ATTR_SVC_FLAGS) | A(LB_ATTR_MH_SIZE) |      \
	 A(LB_ATTR_BACKENDS) | A(LB_ATTR_MAX_CONNS) | A(LB_ATTR_CONN_RATE) |   \
	 A(LB_ATTR_SYN_SRC_RATE))
#define BE_KEY (SVC_KEY | A(LB_ATTR_ADDR) | A(LB_ATTR_PORT))
#define TIMEOUTS                                                               \
	(A(LB_ATTR_TMO_SYN_RECV) | A(LB_ATTR_TMO_ESTABLISHED) |                \
	 A(LB_ATTR_TMO_FIN_WAIT) | A(LB_ATTR_TMO_TIME_WAIT) |                  \
	 A(LB_ATTR_TMO_CLOSE) | A(LB_ATTR_TMO_UDP) | A(LB_ATTR_DEL_POLICY))

/*
 * What each message may and must carry. GET types carry the request's
 * filter attributes and the reply parts' attributes (same type).
 */
static const struct {
	const char *name;
	struct set_policy set;
} msg_policy[] = {
#define P(t) [(t)-LB_MSG_MIN]
	P(LB_MSG_SERVICE_NEW) = { "SERVICE_NEW",
				  { SVC_KEY | SVC_OPTS, SVC_KEY } },
	P(LB_MSG_SERVICE_DEL) = { "SERVICE_DEL", { SVC_KEY, SVC_KEY } },
	P(LB_MSG_SERVICE_SET) = { "SERVICE_SET",
				  { SVC_KEY | SVC_OPTS, SVC_KEY } },
	P(LB_MSG_SERVICE_GET) = { "SERVICE_GET",
				  { SVC_KEY | SVC_OPTS | A(LB_ATTR_COUNTERS) |
					    A(LB_ATTR_FLAGS),
				    0 } },
	P(LB_MSG_SERVICE_FLUSH) = { "SERVICE_FLUSH", { 0, 0 } },
	P(LB_MSG_BACKEND_NEW) = { "BACKEND_NEW",
				  { BE_KEY | A(LB_ATTR_WEIGHT) |
					    A(LB_ATTR_MODE) | A(LB_ATTR_FLAGS) |
					    BE_THRESH,
				    BE_KEY } },
	P(LB_MSG_BACKEND_DEL) = { "BACKEND_DEL", { BE_KEY, BE_KEY } },
	P(LB_MSG_BACKEND_SET) = { "BACKEND_SET",
				  { BE_KEY | A(LB_ATTR_WEIGHT) |
					    A(LB_ATTR_MODE) | A(LB_ATTR_FLAGS) |
					    BE_THRESH,
				    BE_KEY } },
	P(LB_MSG_BACKEND_GET) = { "BACKEND_GET",
				  { BE_KEY | A(LB_ATTR_WEIGHT) |
					    A(LB_ATTR_MODE) | A(LB_ATTR_STATE) |
					    A(LB_ATTR_COUNTERS) |
					    A(LB_ATTR_FLAGS) | BE_THRESH,
				    0 } },
	P(LB_MSG_LADDR_NEW) = { "LADDR_NEW",
				{ SVC_KEY | A(LB_ATTR_ADDR),
				  SVC_KEY | A(LB_ATTR_ADDR) } },
	P(LB_MSG_LADDR_DEL) = { "LADDR_DEL",
				{ SVC_KEY | A(LB_ATTR_ADDR),
				  SVC_KEY | A(LB_ATTR_ADDR) } },
	P(LB_MSG_LADDR_GET) = { "LADDR_GET",
				{ SVC_KEY | A(LB_ATTR_ADDR) |
					  A(LB_ATTR_COUNTERS),
				  0 } },
	P(LB_MSG_ROUTE_NEW) = { "ROUTE_NEW",
				{ A(LB_ATTR_DST) | A(LB_ATTR_PREFIXLEN) |
					  A(LB_ATTR_GATEWAY) |
					  A(LB_ATTR_IFNAME),
				  A(LB_ATTR_DST) | A(LB_ATTR_PREFIXLEN) } },
	P(LB_MSG_ROUTE_DEL) = { "ROUTE_DEL",
				{ A(LB_ATTR_DST) | A(LB_ATTR_PREFIXLEN) |
					  A(LB_ATTR_GATEWAY) |
					  A(LB_ATTR_IFNAME),
				  A(LB_ATTR_DST) | A(LB_ATTR_PREFIXLEN) } },
	P(LB_MSG_ROUTE_GET) = { "ROUTE_GET",
				{ A(LB_ATTR_DST) | A(LB_ATTR_PREFIXLEN) |
					  A(LB_ATTR_GATEWAY) |
					  A(LB_ATTR_IFNAME) | A(LB_ATTR_FLAGS),
				  0 } },
	P(LB_MSG_NEIGH_NEW) = { "NEIGH_NEW",
				{ A(LB_ATTR_ADDR) | A(LB_ATTR_LLADDR) |
					  A(LB_ATTR_IFNAME),
				  A(LB_ATTR_ADDR) | A(LB_ATTR_LLADDR) |
					  A(LB_ATTR_IFNAME) } },
	P(LB_MSG_NEIGH_DEL) = { "NEIGH_DEL",
				{ A(LB_ATTR_ADDR) | A(LB_ATTR_IFNAME),
				  A(LB_ATTR_ADDR) } },
	P(LB_MSG_NEIGH_GET) = { "NEIGH_GET",
				{ A(LB_ATTR_ADDR) | A(LB_ATTR_LLADDR) |
					  A(LB_ATTR_IFNAME) | A(LB_ATTR_STATE) |
					  A(LB_ATTR_EXPIRES),
				  0 } },
	P(LB_MSG_PORTADDR_NEW) = { "PORTADDR_NEW",
				   { A(LB_ATTR_IFNAME) | A(LB_ATTR_ADDR) |
					     A(LB_ATTR_PREFIXLEN),
				     A(LB_ATTR_IFNAME) | A(LB_ATTR_ADDR) |
					     A(LB_ATTR_PREFIXLEN) } },
	P(LB_MSG_PORTADDR_DEL) = { "PORTADDR_DEL",
				   { A(LB_ATTR_IFNAME) | A(LB_ATTR_ADDR) |
					     A(LB_ATTR_PREFIXLEN),
				     A(LB_ATTR_IFNAME) | A(LB_ATTR_ADDR) } },
	P(LB_MSG_PORTADDR_GET) = { "PORTADDR_GET",
				   { A(LB_ATTR_IFNAME) | A(LB_ATTR_ADDR) |
					     A(LB_ATTR_PREFIXLEN),
				     0 } },
	P(LB_MSG_PORT_GET) = { "PORT_GET",
			       { A(LB_ATTR_IFNAME) | A(LB_ATTR_PORT_ID) |
					 A(LB_ATTR_LLADDR) | A(LB_ATTR_MTU) |
					 A(LB_ATTR_LINK) | A(LB_ATTR_FLAGS) |
					 A(LB_ATTR_COUNTERS),
				 0 } },
	P(LB_MSG_STATS_GET) = { "STATS_GET",
				{ A(LB_ATTR_STATS_KIND) | A(LB_ATTR_IFNAME) |
					  A(LB_ATTR_PORT_ID) |
					  A(LB_ATTR_LCORE) | SVC_KEY |
					  A(LB_ATTR_ADDR) | A(LB_ATTR_PORT) |
					  A(LB_ATTR_NAME) | A(LB_ATTR_COUNTERS),
				  0 } },
	P(LB_MSG_STATS_ZERO) = { "STATS_ZERO", { 0, 0 } },
	P(LB_MSG_CONN_GET) = { "CONN_GET",
			       { A(LB_ATTR_PROTO) | A(LB_ATTR_CADDR) |
					 A(LB_ATTR_CPORT) | A(LB_ATTR_VIP) |
					 A(LB_ATTR_VPORT) | A(LB_ATTR_LADDR) |
					 A(LB_ATTR_LPORT) | A(LB_ATTR_ADDR) |
					 A(LB_ATTR_PORT) | A(LB_ATTR_STATE) |
					 A(LB_ATTR_EXPIRES) | A(LB_ATTR_LCORE) |
					 A(LB_ATTR_FLAGS),
				 0 } },
	P(LB_MSG_CONFIG_SET) = { "CONFIG_SET",
				 { TIMEOUTS | A(LB_ATTR_FLAGS), 0 } },
	P(LB_MSG_CONFIG_GET) = { "CONFIG_GET",
				 { TIMEOUTS | A(LB_ATTR_FLAGS) |
					   A(LB_ATTR_COUNTERS),
				   0 } },
	P(LB_MSG_HEALTH_GET) = { "HEALTH_GET",
				 { SVC_KEY | A(LB_ATTR_ADDR) | A(LB_ATTR_PORT) |
					   A(LB_ATTR_NAME) | A(LB_ATTR_CHECK) |
					   A(LB_ATTR_STATE) |
					   A(LB_ATTR_WEIGHT) |
					   A(LB_ATTR_COUNTERS),
				   0 } },
	P(LB_MSG_SAVE) = { "SAVE", { 0, 0 } },
	P(LB_MSG_MODULE_GET) = { "MODULE_GET",
				 { A(LB_ATTR_NAME) | A(LB_ATTR_STATE) |
					   A(LB_ATTR_COUNTERS),
				   0 } },
	P(LB_MSG_MODULE_CMD) = { "MODULE_CMD",
				 { A(LB_ATTR_NAME) | A(LB_ATTR_MOD_CMD) |
					   A(LB_ATTR_MOD_ARGS) |
					   A(LB_ATTR_MOD_DATA),
				   A(LB_ATTR_NAME) | A(LB_ATTR_MOD_CMD) } },
#undef P
};

_Static_assert(sizeof(msg_policy) / sizeof(msg_policy[0]) ==
		       LB_MSG_MAX - LB_MSG_MIN + 1,
	       "every message type has a policy");

/* The libnl policies, one per message type, derived from the tables. */
static struct nla_policy nl_policy[LB_MSG_MAX - LB_MSG_MIN + 1]
				  [LB_ATTR_MAX + 1];
static pthread_once_t nl_policy_once = PTHREAD_ONCE_INIT;

static void
nl_policy_fill_one(struct nla_policy *p, int attr)
{
	switch (attr_desc[attr].type) {
	case LBMSG_AT_U8:
		*p = (struct nla_policy){ .type = NLA_U8, .maxlen = 1 };
		break;
	case LBMSG_AT_U16:
		*p = (struct nla_policy){ .type = NLA_U16, .maxlen = 2 };
		break;
	case LBMSG_AT_U32:
		*p = (struct nla_policy){ .type = NLA_U32, .maxlen = 4 };
		break;
	case LBMSG_AT_U64:
		*p = (struct nla_policy){ .type = NLA_U64, .maxlen = 8 };
		break;
	case LBMSG_AT_STRING:
		*p = (struct nla_policy){ .type = NLA_STRING,
					  .maxlen =
						  attr_desc[attr].maxlen + 1 };
		break;
	case LBMSG_AT_ADDR:
		*p = (struct nla_policy){ .type = NLA_UNSPEC,
					  .minlen = 4,
					  .maxlen = 16 };
		break;
	case LBMSG_AT_LLADDR:
		*p = (struct nla_policy){ .type = NLA_UNSPEC,
					  .minlen = 6,
					  .maxlen = 6 };
		break;
	case LBMSG_AT_LIST:
	case LBMSG_AT_RECORD:
		*p = (struct nla_policy){ .type = NLA_NESTED };
		break;
	default:
		break;
	}
}

static void
nl_policy_init(void)
{
	for (int t = 0; t <= LB_MSG_MAX - LB_MSG_MIN; t++)
		for (int a = 1; a <= LB_ATTR_MAX; a++)
			if (msg_policy[t].set.allowed & A(a))
				nl_policy_fill_one(&nl_policy[t][a], a);
}

const char *
lbmsg_type_name(uint16_t type)
{
	if (type < LB_MSG_MIN || type > LB_MSG_MAX)
		return "?";
	return msg_policy[type - LB_MSG_MIN].name;
}

const char *
lbmsg_attr_name(int attr)
{
	if (attr <= 0 || attr > LB_ATTR_MAX)
		return "?";
	return attr_desc[attr].name;
}

enum lbmsg_atype
lbmsg_attr_type(int attr)
{
	if (attr <= 0 || attr > LB_ATTR_MAX)
		return LBMSG_AT_NONE;
	return attr_desc[attr].type;
}

int
lbmsg_type_is_dump(uint16_t type)
{
	switch (type) {
	case LB_MSG_SERVICE_GET:
	case LB_MSG_BACKEND_GET:
	case LB_MSG_LADDR_GET:
	case LB_MSG_ROUTE_GET:
	case LB_MSG_NEIGH_GET:
	case LB_MSG_PORTADDR_GET:
	case LB_MSG_PORT_GET:
	case LB_MSG_STATS_GET:
	case LB_MSG_CONN_GET:
	case LB_MSG_CONFIG_GET:
	case LB_MSG_HEALTH_GET:
	case LB_MSG_MODULE_GET:
		return 1;
	default:
		return 0;
	}
}

int
lbmsg_policy_attr(uint16_t type, int attr)
{
	const struct set_policy *p;

	if (type < LB_MSG_MIN || type > LB_MSG_MAX || attr <= 0 ||
	    attr > LB_ATTR_MAX)
		return LBMSG_POL_FORBIDDEN;
	p = &msg_policy[type - LB_MSG_MIN].set;
	if (p->required & A(attr))
		return LBMSG_POL_REQUIRED;
	return (p->allowed & A(attr)) ? LBMSG_POL_OPTIONAL
				      : LBMSG_POL_FORBIDDEN;
}

/* Size and content of one attribute against its wire type. */
static int
check_value(const struct nlattr *nla, int type, char *err, size_t errlen)
{
	const char *name = attr_desc[type].name;
	int len = nla_len(nla);
	const char *s;

	switch (attr_desc[type].type) {
	case LBMSG_AT_U8:
		if (len != 1)
			goto size;
		return 0;
	case LBMSG_AT_U16:
		if (len != 2)
			goto size;
		return 0;
	case LBMSG_AT_U32:
		if (len != 4)
			goto size;
		return 0;
	case LBMSG_AT_U64:
		if (len != 8)
			goto size;
		return 0;
	case LBMSG_AT_ADDR:
		if (len != 4 && len != 16)
			return lb_errf(
				err, errlen, -ERANGE,
				"attribute %s: %d bytes, an address is 4 "
				"or 16",
				name, len);
		return 0;
	case LBMSG_AT_LLADDR:
		if (len != 6)
			goto size;
		return 0;
	case LBMSG_AT_STRING:
		s = nla_data(nla);
		if (len < 1 || s[len - 1] != '\0')
			return lb_errf(
				err, errlen, -ERANGE,
				"attribute %s: string not NUL-terminated",
				name);
		if (strlen(s) != (size_t)len - 1)
			return lb_errf(err, errlen, -ERANGE,
				       "attribute %s: embedded NUL", name);
		if (len - 1 > attr_desc[type].maxlen)
			return lb_errf(
				err, errlen, -ERANGE,
				"attribute %s: %d characters, at most %u", name,
				len - 1, attr_desc[type].maxlen);
		if (type == LB_ATTR_CNT_NAME)
			for (const char *c = s; *c != '\0'; c++)
				if (!((*c >= 'a' && *c <= 'z') ||
				      (*c >= '0' && *c <= '9') || *c == '_'))
					return lb_errf(
						err, errlen, -EINVAL,
						"attribute %s: '%s' is not "
						"[a-z0-9_]",
						name, s);
		return 0;
	default:
		return 0;
	}
size:
	return lb_errf(err, errlen, -ERANGE,
		       "attribute %s: %d bytes, expected %d", name, len,
		       attr_desc[type].type == LBMSG_AT_U8	 ? 1
		       : attr_desc[type].type == LBMSG_AT_U16	 ? 2
		       : attr_desc[type].type == LBMSG_AT_U32	 ? 4
		       : attr_desc[type].type == LBMSG_AT_LLADDR ? 6
								 : 8);
}

static int check_attrs(const void *data, int len, const struct set_policy *pol,
		       const char *where, int depth, char *err, size_t errlen);

/* Nested contents of a list or record attribute. */
static int
check_nested(const struct nlattr *nla, int type, int depth, char *err,
	     size_t errlen)
{
	const char *name = attr_desc[type].name;
	const struct nlattr *pos;
	int rem, rc;

	if (depth > 4)
		return lb_errf(err, errlen, -EINVAL,
			       "attribute %s: nested too deep", name);
	if (attr_desc[type].type == LBMSG_AT_RECORD)
		return check_attrs(nla_data(nla), nla_len(nla),
				   &record_policy[attr_desc[type].record], name,
				   depth + 1, err, errlen);

	/* A list: every child is the list's child attribute, each valid. */
	rem = nla_len(nla);
	for (pos = nla_data(nla); rem > 0;) {
		int clen, ctype;

		if (rem < NLA_HDRLEN || pos->nla_len < NLA_HDRLEN ||
		    pos->nla_len > rem)
			return lb_errf(err, errlen, -EBADMSG,
				       "list %s: malformed element", name);
		ctype = nla_type(pos);
		if (ctype != attr_desc[type].child)
			return lb_errf(err, errlen, -EINVAL,
				       "list %s: element of type %s (%d), "
				       "expected %s",
				       name, lbmsg_attr_name(ctype), ctype,
				       attr_desc[attr_desc[type].child].name);
		/* elements are records, or plain values (MOD_ARG strings) */
		if (attr_desc[ctype].type == LBMSG_AT_LIST ||
		    attr_desc[ctype].type == LBMSG_AT_RECORD)
			rc = check_nested(pos, ctype, depth + 1, err, errlen);
		else
			rc = check_value(pos, ctype, err, errlen);
		if (rc < 0)
			return rc;
		clen = NLA_ALIGN(pos->nla_len);
		if (clen > rem)
			clen = rem;
		rem -= clen;
		pos = (const struct nlattr *)((const char *)pos + clen);
	}
	return 0;
}

/*
 * Walk a run of attributes: framing, known ids, allowed in this context,
 * no duplicates, sizes, nested contents, then the required ones present.
 */
static int
check_attrs(const void *data, int len, const struct set_policy *pol,
	    const char *where, int depth, char *err, size_t errlen)
{
	const struct nlattr *nla = data;
	uint64_t seen = 0, missing;
	int rem = len, off = 0, rc;

	while (rem > 0) {
		int type, alen;

		if (rem < NLA_HDRLEN)
			return lb_errf(err, errlen, -EBADMSG,
				       "%s: %d stray bytes at offset %d", where,
				       rem, off);
		if (nla->nla_len < NLA_HDRLEN || nla->nla_len > rem)
			return lb_errf(
				err, errlen, -EBADMSG,
				"%s: attribute at offset %d has length %u, "
				"%d bytes remain",
				where, off, nla->nla_len, rem);
		type = nla_type(nla);
		if (type <= 0 || type > LB_ATTR_MAX)
			return lb_errf(err, errlen, -EINVAL,
				       "%s: unknown attribute %d", where, type);
		if (!(pol->allowed & A(type)))
			return lb_errf(err, errlen, -EINVAL,
				       "%s: attribute %s not allowed here",
				       where, attr_desc[type].name);
		if (seen & A(type))
			return lb_errf(err, errlen, -EINVAL,
				       "%s: attribute %s given twice", where,
				       attr_desc[type].name);
		seen |= A(type);
		if (attr_desc[type].type == LBMSG_AT_LIST ||
		    attr_desc[type].type == LBMSG_AT_RECORD)
			rc = check_nested(nla, type, depth, err, errlen);
		else
			rc = check_value(nla, type, err, errlen);
		if (rc < 0)
			return rc;
		alen = NLA_ALIGN(nla->nla_len);
		if (alen > rem)
			alen = rem;
		rem -= alen;
		off += alen;
		nla = (const struct nlattr *)((const char *)nla + alen);
	}
	missing = pol->required & ~seen;
	if (missing != 0)
		return lb_errf(err, errlen, -EINVAL, "%s: missing attribute %s",
			       where, attr_desc[__builtin_ctzll(missing)].name);
	return 0;
}

int
lbmsg_parse(const struct nlmsghdr *nlh, size_t len, struct nlattr **tb,
	    char *err, size_t errlen)
{
	const size_t hdrs =
		NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct lbmsg_hdr));
	const struct lbmsg_hdr *h;
	const char *name;
	uint16_t type;
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (len > LBMSG_MAX_SIZE)
		return lb_errf(err, errlen, -EMSGSIZE,
			       "message of %zu bytes, at most %u", len,
			       LBMSG_MAX_SIZE);
	if (nlh == NULL || len < NLMSG_HDRLEN)
		return lb_errf(err, errlen, -EBADMSG,
			       "truncated header: %zu bytes", len);
	if (nlh->nlmsg_len != len)
		return lb_errf(err, errlen, -EBADMSG,
			       "length field says %u bytes, message has %zu",
			       nlh->nlmsg_len, len);
	type = nlh->nlmsg_type;
	if (type < LB_MSG_MIN || type > LB_MSG_MAX)
		return lb_errf(err, errlen, -EOPNOTSUPP,
			       "unknown message type 0x%x", type);
	name = msg_policy[type - LB_MSG_MIN].name;
	if (len < hdrs)
		return lb_errf(err, errlen, -EBADMSG,
			       "%s: truncated family header", name);
	h = NLMSG_DATA(nlh);
	if (h->version != LBMSG_VERSION)
		return lb_errf(err, errlen, -EPROTONOSUPPORT,
			       "protocol version %u not supported (this side "
			       "speaks %u)",
			       h->version, LBMSG_VERSION);
	if ((nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP &&
	    !lbmsg_type_is_dump(type))
		return lb_errf(err, errlen, -EOPNOTSUPP, "%s cannot be dumped",
			       name);

	rc = check_attrs((const char *)nlh + hdrs, (int)(len - hdrs),
			 &msg_policy[type - LB_MSG_MIN].set, name, 0, err,
			 errlen);
	if (rc < 0)
		return rc;

	pthread_once(&nl_policy_once, nl_policy_init);
	rc = nlmsg_parse((struct nlmsghdr *)nlh, sizeof(struct lbmsg_hdr), tb,
			 LB_ATTR_MAX, nl_policy[type - LB_MSG_MIN]);
	if (rc < 0) /* cannot happen after the walk above; kept as a guard */
		return lb_errf(err, errlen, -EINVAL, "%s: %s", name,
			       "attributes rejected by policy");
	return 0;
}

int
lbmsg_parse_record(const struct nlattr *nla, struct nlattr **tb)
{
	int type = nla_type(nla);

	if (lbmsg_attr_type(type) != LBMSG_AT_RECORD)
		return -EINVAL;
	memset(tb, 0, sizeof(*tb) * (LB_ATTR_MAX + 1));
	if (nla_parse_nested(tb, LB_ATTR_MAX, (struct nlattr *)nla, NULL) < 0)
		return -EINVAL;
	return 0;
}

int
lbmsg_get_addr(const struct nlattr *nla, struct lb_addr *a)
{
	if (nla == NULL)
		return -EINVAL;
	return lb_addr_from_bytes(a, nla_data(nla), (size_t)nla_len(nla));
}

int
lbmsg_get_svc_key(struct nlattr **tb, uint8_t *proto, struct lb_addr *vip,
		  uint16_t *vport)
{
	if (tb[LB_ATTR_PROTO] == NULL || tb[LB_ATTR_VIP] == NULL ||
	    tb[LB_ATTR_VPORT] == NULL)
		return -EINVAL;
	*proto = nla_get_u8(tb[LB_ATTR_PROTO]);
	*vport = nla_get_u16(tb[LB_ATTR_VPORT]);
	return lbmsg_get_addr(tb[LB_ATTR_VIP], vip);
}

struct nl_msg *
lbmsg_new(uint16_t type, uint16_t flags)
{
	struct lbmsg_hdr h = { .version = LBMSG_VERSION };
	struct nl_msg *msg;

	msg = nlmsg_alloc_size(LBMSG_MAX_SIZE);
	if (msg == NULL)
		goto err;
	if (nlmsg_put(msg, 0, 0, type, 0, flags) == NULL ||
	    nlmsg_append(msg, &h, sizeof(h), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		goto err;
	}
	return msg;
err:
	errno = ENOMEM;
	return NULL;
}

int
lbmsg_put_addr(struct nl_msg *msg, int attr, const struct lb_addr *a)
{
	size_t len = lb_addr_len(a);

	if (len == 0)
		return -EINVAL;
	return nla_put(msg, attr, (int)len, a->bytes) < 0 ? -EMSGSIZE : 0;
}

int
lbmsg_put_svc_key(struct nl_msg *msg, uint8_t proto, const struct lb_addr *vip,
		  uint16_t vport)
{
	if (nla_put_u8(msg, LB_ATTR_PROTO, proto) < 0 ||
	    lbmsg_put_addr(msg, LB_ATTR_VIP, vip) < 0 ||
	    nla_put_u16(msg, LB_ATTR_VPORT, vport) < 0)
		return -EMSGSIZE;
	return 0;
}

int
lbmsg_put_counter(struct nl_msg *msg, const char *name, uint64_t value)
{
	struct nlattr *c = nla_nest_start(msg, LB_ATTR_COUNTER);

	if (c == NULL || nla_put_string(msg, LB_ATTR_CNT_NAME, name) < 0 ||
	    nla_put_u64(msg, LB_ATTR_CNT_VALUE, value) < 0)
		return -EMSGSIZE;
	nla_nest_end(msg, c);
	return 0;
}
