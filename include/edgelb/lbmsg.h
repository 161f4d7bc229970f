/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbmsg: the edgelb control protocol.
 *
 * Netlink message format over AF_UNIX/SOCK_SEQPACKET, one message per
 * datagram:
 *
 *   struct nlmsghdr | struct lbmsg_hdr (version) | struct nlattr TLVs ...
 *
 * The same protocol serves edgelb-dp's dp.sock and edgelbd's ctl.sock.
 * Every request carries NLM_F_REQUEST, a sequence number and NLM_F_ACK and
 * is answered by NLMSG_ERROR carrying 0 or a negative errno; a failure adds
 * an NLMSGERR_ATTR_MSG text (netlink's extended ack). A request with
 * NLM_F_DUMP on a *_GET type is answered by parts flagged NLM_F_MULTI (same
 * type and sequence number as the request), then NLMSG_DONE (payload: int
 * error), then the NLMSG_ERROR ack.
 *
 * All attribute ids share one namespace; each attribute has one wire type
 * (lbmsg_attr_type()). Each message type has a policy listing the attributes
 * it allows and requires. lbmsg_parse() checks a received message completely
 * (header, lengths, version, unknown/duplicate/missing attributes, sizes,
 * nested records) before a handler sees it. docs/protocol.md is the
 * reference for every message and attribute.
 */
#ifndef EDGELB_LBMSG_H
#define EDGELB_LBMSG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "edgelb/types.h"

#define LBMSG_VERSION 1

/* Largest message either side sends or accepts (one datagram). */
#define LBMSG_MAX_SIZE 65536u

/* Client-side defaults for a dump; lbmsg_client_set_limits() changes them. */
#define LBMSG_DUMP_MAX_PARTS 4000000u
#define LBMSG_DUMP_MAX_BYTES (1024u * 1024u * 1024u)

/* Longest LB_ATTR_MOD_DATA text, without the NUL. */
#define LBMSG_MOD_DATA_MAX 60000u
#define LBMSG_MOD_CMD_MAX  31u
#define LBMSG_MOD_ARG_MAX  255u

/* Longest extended-ack text, including the NUL. */
#define LBMSG_ERRMSG_MAX 256

/* Family header after struct nlmsghdr in every message. */
struct lbmsg_hdr {
	uint8_t version; /* LBMSG_VERSION */
	uint8_t flags;	 /* reserved, 0 */
	uint16_t reserved;
};

/*
 * Message types. *_NEW adds (EEXIST if present), *_DEL removes (ENOENT if
 * absent), *_SET changes (ENOENT if absent), *_GET with NLM_F_DUMP lists.
 */
enum lb_msg_type {
	LB_MSG_SERVICE_NEW = NLMSG_MIN_TYPE, /* 0x10 */
	LB_MSG_SERVICE_DEL,
	LB_MSG_SERVICE_SET,
	LB_MSG_SERVICE_GET,
	LB_MSG_SERVICE_FLUSH, /* delete every service (ipvsadm -C) */
	LB_MSG_BACKEND_NEW,
	LB_MSG_BACKEND_DEL,
	LB_MSG_BACKEND_SET,
	LB_MSG_BACKEND_GET,
	LB_MSG_LADDR_NEW, /* FULL-NAT local address of a service */
	LB_MSG_LADDR_DEL,
	LB_MSG_LADDR_GET,
	LB_MSG_ROUTE_NEW,
	LB_MSG_ROUTE_DEL,
	LB_MSG_ROUTE_GET,
	LB_MSG_NEIGH_NEW,
	LB_MSG_NEIGH_DEL,
	LB_MSG_NEIGH_GET,
	LB_MSG_PORTADDR_NEW, /* an address on a dataplane port */
	LB_MSG_PORTADDR_DEL,
	LB_MSG_PORTADDR_GET,
	LB_MSG_PORT_GET, /* dataplane ports: name, MAC, MTU, link */
	LB_MSG_STATS_GET,
	LB_MSG_STATS_ZERO, /* ipvsadm -Z */
	LB_MSG_CONN_GET,
	LB_MSG_CONFIG_SET, /* timeouts and global knobs */
	LB_MSG_CONFIG_GET,
	LB_MSG_HEALTH_GET, /* edgelbd only: health-check state */
	LB_MSG_SAVE,	   /* edgelbd only: write the running state file */
	LB_MSG_MODULE_GET, /* edgelbd only: its modules and their state */
	/* edgelbd only: a command for the module NAME (MOD_CMD, MOD_ARGS,
	 * MOD_DATA); the reply, if any, is one part carrying MOD_DATA */
	LB_MSG_MODULE_CMD,
	__LB_MSG_END,
};
#define LB_MSG_MIN LB_MSG_SERVICE_NEW
#define LB_MSG_MAX (__LB_MSG_END - 1)

/* Attribute ids. The wire type of each is given in brackets. */
enum lb_attr {
	LB_ATTR_UNSPEC,
	LB_ATTR_PROTO,	    /* [u8] IPPROTO_TCP or IPPROTO_UDP */
	LB_ATTR_VIP,	    /* [addr] service address */
	LB_ATTR_VPORT,	    /* [u16] service port, host order; 0 = any */
	LB_ATTR_NAME,	    /* [string <= 63] service/check name */
	LB_ATTR_MODE,	    /* [u8] enum lb_mode */
	LB_ATTR_SCHED,	    /* [string <= 15] scheduler name */
	LB_ATTR_PERSIST,    /* [u32] persistence timeout, seconds; 0 = off */
	LB_ATTR_SVC_FLAGS,  /* [u32] LB_SVC_F_* */
	LB_ATTR_MH_SIZE,    /* [u32] Maglev table size (prime) */
	LB_ATTR_ADDR,	    /* [addr] backend, local, neighbour or port addr */
	LB_ATTR_PORT,	    /* [u16] backend / local port, host order */
	LB_ATTR_WEIGHT,	    /* [u32] 0 = quiescent; <= LB_WEIGHT_MAX */
	LB_ATTR_DST,	    /* [addr] route destination */
	LB_ATTR_PREFIXLEN,  /* [u8] */
	LB_ATTR_GATEWAY,    /* [addr] next hop */
	LB_ATTR_IFNAME,	    /* [string <= 31] dataplane port name */
	LB_ATTR_LLADDR,	    /* [6 bytes] MAC address */
	LB_ATTR_STATE,	    /* [u8] meaning per message (LB_NEIGH_*, ...) */
	LB_ATTR_MTU,	    /* [u32] */
	LB_ATTR_PORT_ID,    /* [u16] DPDK port id */
	LB_ATTR_LCORE,	    /* [u16] lcore id */
	LB_ATTR_CADDR,	    /* [addr] client address */
	LB_ATTR_CPORT,	    /* [u16] client port */
	LB_ATTR_LADDR,	    /* [addr] FULL-NAT local address of a conn */
	LB_ATTR_LPORT,	    /* [u16] FULL-NAT local port of a conn */
	LB_ATTR_EXPIRES,    /* [u32] seconds until a conn expires */
	LB_ATTR_STATS_KIND, /* [u8] LB_STATS_* */
	LB_ATTR_COUNTERS,   /* [list of LB_ATTR_COUNTER] */
	LB_ATTR_COUNTER,    /* [record: CNT_NAME, CNT_VALUE] */
	LB_ATTR_CNT_NAME,   /* [string <= 63] counter name, [a-z0-9_] */
	LB_ATTR_CNT_VALUE,  /* [u64] */
	LB_ATTR_BACKENDS,   /* [list of LB_ATTR_BACKEND] */
	LB_ATTR_BACKEND,    /* [record: ADDR, PORT, WEIGHT, ...] */
	LB_ATTR_TMO_SYN_RECV,	 /* [u32] seconds */
	LB_ATTR_TMO_ESTABLISHED, /* [u32] */
	LB_ATTR_TMO_FIN_WAIT,	 /* [u32] */
	LB_ATTR_TMO_TIME_WAIT,	 /* [u32] */
	LB_ATTR_TMO_CLOSE,	 /* [u32] */
	LB_ATTR_TMO_UDP,	 /* [u32] */
	LB_ATTR_DEL_POLICY, /* [u8] LB_DEL_* for a deleted backend's conns */
	LB_ATTR_CHECK,	    /* [string <= 63] health check kind/name */
	LB_ATTR_LINK,	    /* [u8] 1 = link up */
	LB_ATTR_FLAGS,	    /* [u32] per-message flags (LB_*_F_*) */
	LB_ATTR_MOD_CMD,    /* [string <= 31] a module command ("api.create") */
	LB_ATTR_MOD_ARGS,   /* [list of LB_ATTR_MOD_ARG] */
	LB_ATTR_MOD_ARG,    /* [string <= 255] "key=value" */
	LB_ATTR_MOD_DATA,   /* [string <= LBMSG_MOD_DATA_MAX] text: a file
			     * in a request, JSON in a reply */
	/* connection limits (docs/dataplane.md "Connection limits") */
	LB_ATTR_MAX_CONNS,    /* [u32] service: connections; 0 = no limit */
	LB_ATTR_CONN_RATE,    /* [u32] service: new conns/s; 0 = no limit */
	LB_ATTR_SYN_SRC_RATE, /* [u32] service: SYNs/s per source; 0 = off */
	LB_ATTR_U_THRESH,     /* [u32] backend upper threshold; 0 = none */
	LB_ATTR_L_THRESH,     /* [u32] backend lower threshold; 0 = 3/4 U */
	__LB_ATTR_END,
};
#define LB_ATTR_MAX (__LB_ATTR_END - 1)

/* LB_ATTR_SVC_FLAGS */
#define LB_SVC_F_TOA	  (1u << 0) /* FULL-NAT: client addr in TCP option */
#define LB_SVC_F_PROXY_V2 (1u << 1) /* FULL-NAT: PROXY protocol v2 */
#define LB_SVC_F_SH_PORT  (1u << 2) /* sh: hash source port too */
/* UDP flows on a backend that is down (LB_BACKEND_F_DOWN, weight 0) stay
 * on it like TCP connections; without it they are rescheduled */
#define LB_SVC_F_UDP_DRAIN (1u << 3)
/* SYN proxy (NAT, FULL-NAT TCP): forced on, forced off; neither is auto
 * (on above the dataplane's SYN rate or table fill); not both */
#define LB_SVC_F_SYNPROXY_ON  (1u << 4)
#define LB_SVC_F_SYNPROXY_OFF (1u << 5)
/* DR/TUNNEL with mh: a TCP segment without SYN or RST and without a
 * connection creates one on the backend mh picks (failover between
 * balancer nodes that share the table); without it such a segment is
 * dropped (no_conn) */
#define LB_SVC_F_MH_ADOPT (1u << 6)
#define LB_SVC_F_ALL                                                           \
	(LB_SVC_F_TOA | LB_SVC_F_PROXY_V2 | LB_SVC_F_SH_PORT |                 \
	 LB_SVC_F_UDP_DRAIN | LB_SVC_F_SYNPROXY_ON | LB_SVC_F_SYNPROXY_OFF |   \
	 LB_SVC_F_MH_ADOPT)

/* LB_ATTR_FLAGS in BACKEND records and BACKEND_* messages */
#define LB_BACKEND_F_DOWN (1u << 0) /* its health check failed (edgelbd) */
#define LB_BACKEND_F_ALL  LB_BACKEND_F_DOWN

#define LB_WEIGHT_MAX 65535u
/* LB_ATTR_PERSIST: 30 days, in seconds */
#define LB_PERSIST_MAX 2592000u
/* Connection limits, rates and thresholds (MAX_CONNS ... L_THRESH) */
#define LB_LIMIT_MAX 100000000u

/* LB_ATTR_FLAGS in ROUTE_GET parts */
#define LB_ROUTE_F_CONNECTED (1u << 0) /* from a port address */

/* LB_ATTR_FLAGS in CONFIG_GET parts */
#define LB_CONFIG_F_RX_HELD (1u << 0) /* waiting for the first CONFIG_SET */

/* LB_ATTR_STATS_KIND: what a stats dump part describes. */
enum lb_stats_kind {
	LB_STATS_PORT = 1,    /* IFNAME, PORT_ID + counters */
	LB_STATS_LCORE = 2,   /* LCORE + counters */
	LB_STATS_DROP = 3,    /* counters named by drop reason */
	LB_STATS_SERVICE = 4, /* service key + counters */
	LB_STATS_BACKEND = 5, /* service key + ADDR, PORT + counters */
	LB_STATS_CONNTAB = 6, /* LCORE + conn-table counters */
	LB_STATS_XDP = 7,     /* IFNAME + XDP steering counters */
	LB_STATS_DAEMON = 8,  /* control-plane counters */
};

/* LB_ATTR_STATE in NEIGH messages */
enum lb_neigh_state {
	LB_NEIGH_INCOMPLETE = 1,
	LB_NEIGH_REACHABLE = 2,
	LB_NEIGH_STALE = 3,
	LB_NEIGH_PERMANENT = 4,
};

/* LB_ATTR_STATE in HEALTH messages */
enum lb_health_state {
	LB_HEALTH_UNKNOWN = 0,
	LB_HEALTH_UP = 1,
	LB_HEALTH_DOWN = 2,
};

/* LB_ATTR_STATE of a MODULE_GET part: an edgelbd module's life cycle. */
enum {
	LB_MODULE_RESERVED = 0, /* its section is reserved, not in this build */
	LB_MODULE_RUNNING = 1,
	LB_MODULE_DRAINING = 2, /* SIGTERM: work in flight goes on */
	LB_MODULE_DRAINED = 3,	/* SIGTERM: nothing in flight any more */
};

/*
 * LB_ATTR_STATE in CONN_GET parts: IPVS's TCP state order, so tools that
 * know IPVS read them alike; UDP connections report LB_CONN_UDP.
 */
enum lb_conn_state {
	LB_CONN_NONE = 0,
	LB_CONN_ESTABLISHED = 1,
	LB_CONN_SYN_SENT = 2,
	LB_CONN_SYN_RECV = 3,
	LB_CONN_FIN_WAIT = 4,
	LB_CONN_TIME_WAIT = 5,
	LB_CONN_CLOSE = 6,
	LB_CONN_CLOSE_WAIT = 7,
	LB_CONN_LAST_ACK = 8,
	LB_CONN_LISTEN = 9,
	LB_CONN_SYNACK = 10,
	LB_CONN_UDP = 11,
};

/* LB_ATTR_DEL_POLICY */
enum lb_del_policy {
	LB_DEL_EXPIRE = 0, /* connections of a deleted backend time out */
	LB_DEL_RESET = 1,  /* they are reset (TCP RST) / dropped at once */
};

/* Wire types of attributes (see lbmsg_attr_type()). */
enum lbmsg_atype {
	LBMSG_AT_NONE = 0,
	LBMSG_AT_U8,
	LBMSG_AT_U16,
	LBMSG_AT_U32,
	LBMSG_AT_U64,
	LBMSG_AT_STRING, /* NUL-terminated, at most maxlen chars */
	LBMSG_AT_ADDR,	 /* 4 or 16 bytes */
	LBMSG_AT_LLADDR, /* 6 bytes */
	LBMSG_AT_LIST,	 /* nested, children all of one attribute id */
	LBMSG_AT_RECORD, /* nested, children per a record policy */
};

/* ---- building ---------------------------------------------------------- */

/*
 * A new message of type with nlmsg flags (NLM_F_REQUEST etc. are the
 * caller's choice) and the family header filled in, sized LBMSG_MAX_SIZE.
 * Returns NULL with errno ENOMEM.
 */
struct nl_msg *lbmsg_new(uint16_t type, uint16_t flags);

/* nla_put of an address (4 or 16 bytes by family). 0 or -EMSGSIZE/-EINVAL */
int lbmsg_put_addr(struct nl_msg *msg, int attr, const struct lb_addr *a);

/* Service key: PROTO, VIP, VPORT. 0 or -EMSGSIZE. */
int lbmsg_put_svc_key(struct nl_msg *msg, uint8_t proto,
		      const struct lb_addr *vip, uint16_t vport);

/*
 * One named counter inside an open LB_ATTR_COUNTERS nest.
 * 0 or -EMSGSIZE.
 */
int lbmsg_put_counter(struct nl_msg *msg, const char *name, uint64_t value);

/* ---- parsing ----------------------------------------------------------- */

/*
 * Check a received message of len bytes and fill tb[0..LB_ATTR_MAX] with
 * its top-level attributes. Checks, in order, each failure with its errno:
 *   len < headers, nlmsg_len != len, len > LBMSG_MAX_SIZE     -EBADMSG/-EMSGSIZE
 *   version != LBMSG_VERSION                                   -EPROTONOSUPPORT
 *   unknown message type                                       -EOPNOTSUPP
 *   NLM_F_DUMP on a type that is not a dump                    -EOPNOTSUPP
 *   a malformed attribute (length beyond the message)          -EBADMSG
 *   an unknown attribute, or one not allowed in this message   -EINVAL
 *   an attribute given twice                                   -EINVAL
 *   wrong size / string without NUL or too long                -ERANGE
 *   a nested record or list that breaks its own policy         as above
 *   a mandatory attribute missing                              -EINVAL
 * Replies (NLMSG_ERROR, NLMSG_DONE) are not parsed here.
 * On failure err (if not NULL) holds a one-line explanation.
 */
int lbmsg_parse(const struct nlmsghdr *nlh, size_t len, struct nlattr **tb,
		char *err, size_t errlen);

/*
 * Fill tb from a LBMSG_AT_RECORD attribute (already validated by
 * lbmsg_parse). Returns 0 or -EINVAL if nla is not a record.
 */
int lbmsg_parse_record(const struct nlattr *nla, struct nlattr **tb);

/* Iterate the children of a LBMSG_AT_LIST attribute. */
#define lbmsg_list_for_each(pos, list, rem)                                    \
	nla_for_each_nested (pos, (struct nlattr *)(list), rem)

/* Read an LBMSG_AT_ADDR attribute. 0 or -EINVAL. */
int lbmsg_get_addr(const struct nlattr *nla, struct lb_addr *a);

/* Read PROTO, VIP, VPORT from tb. 0 or -EINVAL (one missing). */
int lbmsg_get_svc_key(struct nlattr **tb, uint8_t *proto, struct lb_addr *vip,
		      uint16_t *vport);

/* The family header of a message already checked by lbmsg_parse. */
static inline const struct lbmsg_hdr *
lbmsg_hdr(const struct nlmsghdr *nlh)
{
	return (const struct lbmsg_hdr *)NLMSG_DATA(nlh);
}

const char *lbmsg_type_name(uint16_t type); /* "SERVICE_NEW" or "?" */
const char *lbmsg_attr_name(int attr);	    /* "VIP" or "?" */
enum lbmsg_atype lbmsg_attr_type(int attr);
int lbmsg_type_is_dump(uint16_t type); /* 1 for *_GET */

/*
 * How message type uses attribute attr: LBMSG_POL_REQUIRED,
 * LBMSG_POL_OPTIONAL, or LBMSG_POL_FORBIDDEN (also for unknown ids).
 */
enum {
	LBMSG_POL_FORBIDDEN = 0,
	LBMSG_POL_OPTIONAL = 1,
	LBMSG_POL_REQUIRED = 2
};
int lbmsg_policy_attr(uint16_t type, int attr);

/* ---- records (lbmsg_svc.c) ---------------------------------------------- */

/*
 * The records both sides encode and decode: a service's attributes
 * (SERVICE_NEW/SET requests, SERVICE_GET parts) and a backend (BACKEND_*
 * requests, BACKEND_GET parts, BACKEND records in a BACKENDS list). The
 * service key travels beside them (lbmsg_put_svc_key/lbmsg_get_svc_key);
 * a local address is the key and one ADDR (lbmsg_put_addr/get_addr).
 *
 * Decoders read tb as lbmsg_parse() or lbmsg_parse_record() filled it
 * and check every attribute they read again (size, NUL, length, range),
 * so a table filled without a policy is safe too. Strings point into the
 * message: valid while it is. A refusal returns a negative errno and
 * explains in err (when not NULL):
 *   wrong size, string without NUL or too long          -ERANGE
 *   PERSIST above LB_PERSIST_MAX, WEIGHT above LB_WEIGHT_MAX -ERANGE
 *   a limit above LB_LIMIT_MAX, L_THRESH above U_THRESH      -ERANGE
 *   MODE not an lb_mode, unknown SVC_FLAGS / FLAGS bits  -EINVAL
 *   a backend without ADDR or PORT, a bad ADDR           -EINVAL
 * Encoders return 0 or -EMSGSIZE (the message is full).
 */

/* Optional service attributes a decoded message carried. */
#define LBMSG_SVC_NAME	  (1u << 0)
#define LBMSG_SVC_MODE	  (1u << 1)
#define LBMSG_SVC_SCHED	  (1u << 2)
#define LBMSG_SVC_PERSIST (1u << 3)
#define LBMSG_SVC_FLAGS	  (1u << 4)
#define LBMSG_SVC_MH_SIZE (1u << 5)
#define LBMSG_SVC_LIMITS  (1u << 6) /* any of MAX_CONNS, CONN_RATE, ... */

struct lbmsg_svc_attrs {
	uint32_t present;  /* LBMSG_SVC_*: set by the decoder */
	const char *name;  /* NULL or "": not sent */
	const char *sched; /* NULL: not sent */
	uint8_t mode;	   /* enum lb_mode */
	uint32_t persist;  /* seconds */
	uint32_t flags;	   /* LB_SVC_F_* */
	uint32_t mh_size;  /* 0: not sent (the scheduler's default) */
	/* LBMSG_SVC_LIMITS; each <= LB_LIMIT_MAX, 0 = none (not sent) */
	uint32_t max_conns;
	uint32_t conn_rate;
	uint32_t syn_src_rate;
};

/*
 * NAME (when set), MODE, SCHED (when set), PERSIST, SVC_FLAGS, MH_SIZE,
 * MAX_CONNS, CONN_RATE, SYN_SRC_RATE (each when not 0). 0 or -EMSGSIZE.
 */
int lbmsg_put_svc_attrs(struct nl_msg *msg, const struct lbmsg_svc_attrs *a);

/* The service attributes present in tb; a->present says which. */
int lbmsg_get_svc_attrs(struct nlattr **tb, struct lbmsg_svc_attrs *a,
			char *err, size_t errlen);

/* Optional backend attributes: set by the decoder, read by the encoder. */
#define LBMSG_BE_WEIGHT (1u << 0)
#define LBMSG_BE_MODE	(1u << 1)
#define LBMSG_BE_FLAGS	(1u << 2)
#define LBMSG_BE_STATE	(1u << 3)
#define LBMSG_BE_THRESH (1u << 4) /* U_THRESH and/or L_THRESH */

struct lbmsg_backend {
	uint32_t present; /* LBMSG_BE_* */
	struct lb_addr addr;
	uint16_t port;
	uint32_t weight; /* <= LB_WEIGHT_MAX */
	uint8_t mode;	 /* enum lb_mode */
	uint32_t flags;	 /* LB_BACKEND_F_* */
	uint8_t state;	 /* enum lb_health_state */
	/* LBMSG_BE_THRESH: IPVS's upper and lower connection thresholds,
	 * <= LB_LIMIT_MAX; 0 = none / 3/4 of u_thresh; l_thresh <= u_thresh */
	uint32_t u_thresh;
	uint32_t l_thresh;
};

/* ADDR, PORT, then WEIGHT, MODE, FLAGS, STATE, U_THRESH and L_THRESH (when
 * not 0) as present. 0 or -EMSGSIZE */
int lbmsg_put_backend(struct nl_msg *msg, const struct lbmsg_backend *b);

/* A backend from tb (a message or a BACKEND record): ADDR, PORT needed. */
int lbmsg_get_backend(struct nlattr **tb, struct lbmsg_backend *b, char *err,
		      size_t errlen);

/* ---- server ------------------------------------------------------------ */

struct lbmsg_server;

/* One request being answered; handed to a handler. */
struct lbmsg_req {
	const struct nlmsghdr *nlh;
	struct nlattr **tb; /* validated top-level attributes */
	void *ctx;	    /* the server's ctx */
	int fd;
	unsigned int parts; /* dump parts sent so far */
	char errmsg[LBMSG_ERRMSG_MAX];
};

/*
 * A handler returns 0 or a negative errno; on failure it should explain
 * with lbmsg_req_errf(). Dump handlers send each part with
 * lbmsg_req_part() + lbmsg_req_send(); the server adds NLMSG_DONE and the
 * ack. A handler must not keep req after returning.
 */
typedef int (*lbmsg_handler_fn)(struct lbmsg_req *req);

/*
 * A handler may return LBMSG_DEFERRED instead: it has taken the request
 * over (copied what it needs, dup'ed req->fd) and sends the parts (of a
 * dump), NLMSG_DONE (of a dump) and the ack itself later, built with
 * lbmsg_done_msg() and lbmsg_ack_msg(); the server sends nothing for it.
 */
#define LBMSG_DEFERRED 0x40000000

/* NLMSG_DONE / NLMSG_ERROR answering the request header req; NULL: ENOMEM */
struct nl_msg *lbmsg_done_msg(const struct nlmsghdr *req, int error);
struct nl_msg *lbmsg_ack_msg(const struct nlmsghdr *req, int error,
			     const char *text);

/* Set the extended-ack text; returns err, so `return lbmsg_req_errf(...)`. */
int lbmsg_req_errf(struct lbmsg_req *req, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A dump part for req: same type and seq, NLM_F_MULTI. NULL on ENOMEM. */
struct nl_msg *lbmsg_req_part(struct lbmsg_req *req);

/*
 * Send a part and free it. 0, or -errno when the peer is gone or too slow
 * (the send times out after the server's timeout).
 */
int lbmsg_req_send(struct lbmsg_req *req, struct nl_msg *msg);

struct lbmsg_server_stats {
	uint64_t accepted;
	uint64_t requests;
	uint64_t errors;    /* requests answered with an error */
	uint64_t malformed; /* failed lbmsg_parse */
	uint64_t oversized; /* datagrams above LBMSG_MAX_SIZE */
	uint64_t rejected;  /* connections refused: too many clients */
};

/*
 * Listen on path (an existing socket file is replaced) with mode (0600 by
 * default when mode is 0) and, when group is not -1, that group. Handlers
 * are indexed by message type; a type with no handler is answered
 * EOPNOTSUPP. Returns NULL with errno set.
 */
struct lbmsg_server *lbmsg_server_open(const char *path, unsigned int mode,
				       int group,
				       const lbmsg_handler_fn handlers[],
				       void *ctx);
void lbmsg_server_close(struct lbmsg_server *srv);

/*
 * Serve: accept new clients and answer every complete request waiting,
 * waiting at most timeout_ms (0 = do not wait) for something to do.
 * Never blocks longer than timeout_ms plus one reply's send timeout.
 * Returns the number of requests answered, or a negative errno on a
 * failure of the listening socket.
 */
int lbmsg_server_poll(struct lbmsg_server *srv, int timeout_ms);

/*
 * For event loops: the listening fd, to watch for readability; then
 * lbmsg_server_poll(srv, 0) when it or any client fd is readable.
 * lbmsg_server_fds() fills up to n client fds and returns their count.
 */
int lbmsg_server_listen_fd(const struct lbmsg_server *srv);
int lbmsg_server_fds(const struct lbmsg_server *srv, int *fds, int n);

void lbmsg_server_get_stats(const struct lbmsg_server *srv,
			    struct lbmsg_server_stats *st);

/* ---- client ------------------------------------------------------------ */

struct lbmsg_client;

/*
 * Connect to path; every later request waits at most timeout_ms for each
 * reply datagram. Returns NULL with errno (ENOENT/ECONNREFUSED when no
 * server is there).
 */
struct lbmsg_client *lbmsg_client_open(const char *path, int timeout_ms);
void lbmsg_client_close(struct lbmsg_client *c);
void lbmsg_client_set_limits(struct lbmsg_client *c, size_t max_parts,
			     size_t max_bytes);

/* Called for each reply part (a dump part, or a single reply). */
typedef int (*lbmsg_part_fn)(void *arg, const struct nlmsghdr *nlh,
			     struct nlattr **tb);

/*
 * Send msg (NLM_F_REQUEST|NLM_F_ACK and a fresh sequence number are set
 * here; the caller keeps ownership of msg) and read replies: each part is
 * checked with lbmsg_parse and passed to cb (which may be NULL), until the
 * ack. Returns the ack's error (0 or negative errno) with its text in err,
 * -ETIMEDOUT, -EMSGSIZE when the dump exceeds the client's limits,
 * -EBADMSG for a malformed reply, or a callback's negative return.
 */
int lbmsg_client_request(struct lbmsg_client *c, struct nl_msg *msg,
			 lbmsg_part_fn cb, void *arg, char *err, size_t errlen);

/* The same as above for raw bytes (tests, fuzzing). */
int lbmsg_client_request_raw(struct lbmsg_client *c, const void *buf,
			     size_t len, lbmsg_part_fn cb, void *arg, char *err,
			     size_t errlen);

/*
 * An NLMSG_ERROR reply h of len bytes: its error (0 or negative errno)
 * with the NLMSGERR_ATTR_MSG text (or strerror) in err; -EBADMSG when
 * malformed. For clients that read replies themselves.
 */
int lbmsg_read_ack(const struct nlmsghdr *h, size_t len, char *err,
		   size_t errlen);

#endif
