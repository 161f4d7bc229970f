/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp.sock client (see dpclient.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpclient.h"
#include "metrics.h"
#include "edgelb/log.h"

struct dpc {
	char path[108];
	int timeout_ms;
	struct lbmsg_client *c;
};

struct dpc *
dpc_new(const char *path, int timeout_ms)
{
	struct dpc *d;

	if (strlen(path) >= sizeof(d->path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	strcpy(d->path, path);
	d->timeout_ms = timeout_ms;
	return d;
}

void
dpc_free(struct dpc *d)
{
	if (d == NULL)
		return;
	dpc_disconnect(d);
	free(d);
}

int
dpc_connect(struct dpc *d)
{
	if (d->c != NULL)
		return 0;
	d->c = lbmsg_client_open(d->path, d->timeout_ms);
	return d->c != NULL ? 0 : -errno;
}

void
dpc_disconnect(struct dpc *d)
{
	if (d->c != NULL)
		lbmsg_client_close(d->c);
	d->c = NULL;
}

bool
dpc_connected(const struct dpc *d)
{
	return d->c != NULL;
}

const char *
dpc_path(const struct dpc *d)
{
	return d->path;
}

static bool
transport_error(int rc)
{
	return rc == -ETIMEDOUT || rc == -ECONNRESET || rc == -EPIPE ||
	       rc == -ENOTCONN || rc == -ECONNREFUSED || rc == -EBADF;
}

int
dpc_request(struct dpc *d, struct nl_msg *msg, lbmsg_part_fn cb, void *arg,
	    char *err, size_t errlen)
{
	int rc;

	if (d->c == NULL) {
		snprintf(err, errlen, "not connected to %s", d->path);
		return -ENOTCONN;
	}
	rc = lbmsg_client_request(d->c, msg, cb, arg, err, errlen);
	if (transport_error(rc)) {
		LB_WARN("dataplane %s: %s; reconnecting", d->path, err);
		dpc_disconnect(d);
	}
	return rc;
}

/* ---- service dump ------------------------------------------------------ */

struct dump {
	struct rec_svc *v;
	size_t n;
	size_t cap;
};

static struct rec_svc *
dump_find(struct dump *dp, uint8_t proto, const struct lb_addr *vip,
	  uint16_t vport)
{
	for (size_t i = 0; i < dp->n; i++)
		if (dp->v[i].proto == proto && dp->v[i].vport == vport &&
		    lb_addr_equal(&dp->v[i].vip, vip))
			return &dp->v[i];
	return NULL;
}

static int
on_service(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	struct dump *dp = arg;
	struct rec_svc *s;
	struct nlattr *pos;
	int rem;

	(void)nlh;
	if (dp->n == dp->cap) {
		size_t cap = dp->cap ? dp->cap * 2 : 16;
		struct rec_svc *v = realloc(dp->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		dp->v = v;
		dp->cap = cap;
	}
	s = &dp->v[dp->n];
	memset(s, 0, sizeof(*s));
	if (lbmsg_get_svc_key(tb, &s->proto, &s->vip, &s->vport) < 0)
		return -EBADMSG;
	dp->n++;
	if (tb[LB_ATTR_NAME])
		snprintf(s->name, sizeof(s->name), "%s",
			 nla_get_string(tb[LB_ATTR_NAME]));
	if (tb[LB_ATTR_MODE])
		s->mode = nla_get_u8(tb[LB_ATTR_MODE]);
	if (tb[LB_ATTR_SCHED])
		snprintf(s->sched, sizeof(s->sched), "%s",
			 nla_get_string(tb[LB_ATTR_SCHED]));
	if (tb[LB_ATTR_PERSIST])
		s->persist = nla_get_u32(tb[LB_ATTR_PERSIST]);
	if (tb[LB_ATTR_SVC_FLAGS])
		s->flags = nla_get_u32(tb[LB_ATTR_SVC_FLAGS]);
	if (tb[LB_ATTR_MH_SIZE])
		s->mh_size = nla_get_u32(tb[LB_ATTR_MH_SIZE]);
	if (tb[LB_ATTR_BACKENDS] == NULL)
		return 0;
	lbmsg_list_for_each (pos, tb[LB_ATTR_BACKENDS], rem) {
		struct nlattr *rb[LB_ATTR_MAX + 1];
		struct rec_backend *b, *nb;

		if (lbmsg_parse_record(pos, rb) < 0 || !rb[LB_ATTR_ADDR] ||
		    !rb[LB_ATTR_PORT])
			return -EBADMSG;
		nb = realloc(s->backends, (s->nbackends + 1) * sizeof(*nb));
		if (nb == NULL)
			return -ENOMEM;
		s->backends = nb;
		b = &nb[s->nbackends++];
		memset(b, 0, sizeof(*b));
		if (lbmsg_get_addr(rb[LB_ATTR_ADDR], &b->addr) < 0)
			return -EBADMSG;
		b->port = nla_get_u16(rb[LB_ATTR_PORT]);
		if (rb[LB_ATTR_WEIGHT])
			b->weight = nla_get_u32(rb[LB_ATTR_WEIGHT]);
		if (rb[LB_ATTR_FLAGS])
			b->flags = nla_get_u32(rb[LB_ATTR_FLAGS]);
	}
	return 0;
}

static int
on_laddr(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	struct dump *dp = arg;
	struct rec_svc *s;
	struct lb_addr vip, a;
	uint16_t vport;
	uint8_t proto;
	struct lb_addr *nl;

	(void)nlh;
	if (lbmsg_get_svc_key(tb, &proto, &vip, &vport) < 0 ||
	    tb[LB_ATTR_ADDR] == NULL ||
	    lbmsg_get_addr(tb[LB_ATTR_ADDR], &a) < 0)
		return -EBADMSG;
	s = dump_find(dp, proto, &vip, vport);
	if (s == NULL)
		return 0; /* raced with a delete */
	nl = realloc(s->laddrs, (s->nladdrs + 1) * sizeof(*nl));
	if (nl == NULL)
		return -ENOMEM;
	s->laddrs = nl;
	nl[s->nladdrs++] = a;
	return 0;
}

static int
dump(struct dpc *d, uint16_t type, lbmsg_part_fn cb, struct dump *dp, char *err,
     size_t errlen)
{
	struct nl_msg *msg = lbmsg_new(type, NLM_F_DUMP);
	int rc;

	if (msg == NULL)
		return -ENOMEM;
	rc = dpc_request(d, msg, cb, dp, err, errlen);
	nlmsg_free(msg);
	return rc;
}

int
dpc_dump_services(struct dpc *d, struct rec_svc **out, size_t *n, char *err,
		  size_t errlen)
{
	struct dump dp = { 0 };
	int rc;

	rc = dump(d, LB_MSG_SERVICE_GET, on_service, &dp, err, errlen);
	if (rc == 0)
		rc = dump(d, LB_MSG_LADDR_GET, on_laddr, &dp, err, errlen);
	if (rc < 0) {
		rec_svcs_free(dp.v, dp.n);
		return rc;
	}
	*out = dp.v;
	*n = dp.n;
	return 0;
}

/* ---- operations -------------------------------------------------------- */

int
dpc_put_svc_attrs(struct nl_msg *msg, uint8_t mode, const char *sched,
		  uint32_t persist, uint32_t flags, uint32_t mh_size)
{
	const struct lbmsg_svc_attrs a = {
		.mode = mode,
		.sched = sched,
		.persist = persist,
		.flags = flags,
		.mh_size = mh_size,
	};

	return lbmsg_put_svc_attrs(msg, &a);
}

static const uint16_t op_type[] = {
	[REC_SVC_DEL] = LB_MSG_SERVICE_DEL,
	[REC_SVC_NEW] = LB_MSG_SERVICE_NEW,
	[REC_SVC_SET] = LB_MSG_SERVICE_SET,
	[REC_LADDR_NEW] = LB_MSG_LADDR_NEW,
	[REC_BACKEND_NEW] = LB_MSG_BACKEND_NEW,
	[REC_BACKEND_SET] = LB_MSG_BACKEND_SET,
	[REC_BACKEND_DEL] = LB_MSG_BACKEND_DEL,
	[REC_LADDR_DEL] = LB_MSG_LADDR_DEL,
};

struct nl_msg *
dpc_op_msg(const struct rec_op *op)
{
	const struct rec_svc *s = op->svc;
	struct nl_msg *msg = lbmsg_new(op_type[op->type], 0);
	int rc;

	if (msg == NULL)
		return NULL;
	rc = lbmsg_put_svc_key(msg, s->proto, &s->vip, s->vport);
	switch (op->type) {
	case REC_SVC_NEW:
	case REC_SVC_SET:
		if (rc == 0 && s->name[0])
			rc = nla_put_string(msg, LB_ATTR_NAME, s->name);
		if (rc == 0)
			rc = dpc_put_svc_attrs(msg, s->mode, s->sched,
					       s->persist, s->flags,
					       s->mh_size);
		break;
	case REC_BACKEND_NEW:
	case REC_BACKEND_SET:
		if (rc == 0)
			rc = nla_put_u32(msg, LB_ATTR_WEIGHT, op->be->weight);
		if (rc == 0)
			rc = nla_put_u32(msg, LB_ATTR_FLAGS, op->be->flags);
		/* fall through */
	case REC_BACKEND_DEL:
		if (rc == 0)
			rc = lbmsg_put_addr(msg, LB_ATTR_ADDR, &op->be->addr);
		if (rc == 0)
			rc = nla_put_u16(msg, LB_ATTR_PORT, op->be->port);
		break;
	case REC_LADDR_NEW:
	case REC_LADDR_DEL:
		if (rc == 0)
			rc = lbmsg_put_addr(msg, LB_ATTR_ADDR, op->laddr);
		break;
	case REC_SVC_DEL:
		break;
	}
	if (rc < 0) {
		nlmsg_free(msg);
		errno = ENOMEM;
		return NULL;
	}
	return msg;
}

int
dpc_apply_op(struct dpc *d, const struct rec_op *op, char *err, size_t errlen)
{
	struct nl_msg *msg = dpc_op_msg(op);
	int rc;

	if (msg == NULL)
		return -ENOMEM;
	rc = dpc_request(d, msg, NULL, NULL, err, errlen);
	nlmsg_free(msg);
	return rc;
}

/* ---- stats ------------------------------------------------------------- */

static const char *const kind_names[] = {
	[LB_STATS_PORT] = "port",	[LB_STATS_LCORE] = "lcore",
	[LB_STATS_DROP] = "drop",	[LB_STATS_SERVICE] = "service",
	[LB_STATS_BACKEND] = "backend", [LB_STATS_CONNTAB] = "conntab",
	[LB_STATS_XDP] = "xdp",		[LB_STATS_DAEMON] = "daemon",
};

static bool
counter_name_valid(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return false;
	return true;
}

int
dpc_stats_to_metrics(struct metrics *m, struct nlattr **tb)
{
	char port_id[8], lcore[8], vip[LB_ADDRPORTSTRLEN],
		be[LB_ADDRPORTSTRLEN];
	struct metrics_label l[8];
	size_t nl = 0;
	struct nlattr *pos;
	unsigned int kind;
	int rem, added = 0;

	if (tb[LB_ATTR_STATS_KIND] == NULL || tb[LB_ATTR_COUNTERS] == NULL)
		return -EINVAL;
	kind = nla_get_u8(tb[LB_ATTR_STATS_KIND]);
	if (kind >= sizeof(kind_names) / sizeof(kind_names[0]) ||
	    kind_names[kind] == NULL)
		return -EINVAL;
	if (tb[LB_ATTR_IFNAME])
		l[nl++] = (struct metrics_label){
			"port", nla_get_string(tb[LB_ATTR_IFNAME])
		};
	if (tb[LB_ATTR_PORT_ID]) {
		snprintf(port_id, sizeof(port_id), "%u",
			 nla_get_u16(tb[LB_ATTR_PORT_ID]));
		l[nl++] = (struct metrics_label){ "port_id", port_id };
	}
	if (tb[LB_ATTR_LCORE]) {
		snprintf(lcore, sizeof(lcore), "%u",
			 nla_get_u16(tb[LB_ATTR_LCORE]));
		l[nl++] = (struct metrics_label){ "lcore", lcore };
	}
	if (tb[LB_ATTR_NAME])
		l[nl++] = (struct metrics_label){
			"service", nla_get_string(tb[LB_ATTR_NAME])
		};
	if (tb[LB_ATTR_PROTO] && tb[LB_ATTR_VIP] && tb[LB_ATTR_VPORT]) {
		struct lb_addr a;
		uint16_t vport;
		uint8_t proto;

		if (lbmsg_get_svc_key(tb, &proto, &a, &vport) == 0) {
			l[nl++] =
				(struct metrics_label){ "proto",
							lb_proto_name(proto) };
			l[nl++] = (struct metrics_label){
				"vip",
				lb_addr_port_format(&a, vport, vip, sizeof(vip))
			};
		}
	}
	if (tb[LB_ATTR_ADDR] && tb[LB_ATTR_PORT]) {
		struct lb_addr a;

		if (lbmsg_get_addr(tb[LB_ATTR_ADDR], &a) == 0)
			l[nl++] = (struct metrics_label){
				"backend",
				lb_addr_port_format(
					&a, nla_get_u16(tb[LB_ATTR_PORT]), be,
					sizeof(be))
			};
	}
	lbmsg_list_for_each (pos, tb[LB_ATTR_COUNTERS], rem) {
		struct nlattr *rc[LB_ATTR_MAX + 1];
		char name[128], help[160];
		const char *cn;
		size_t len;
		bool counter;

		if (lbmsg_parse_record(pos, rc) < 0 || !rc[LB_ATTR_CNT_NAME] ||
		    !rc[LB_ATTR_CNT_VALUE])
			continue;
		cn = nla_get_string(rc[LB_ATTR_CNT_NAME]);
		if (!counter_name_valid(cn))
			continue;
		len = strlen(cn);
		counter = len > 6 && strcmp(cn + len - 6, "_total") == 0;
		snprintf(name, sizeof(name), "edgelb_dp_%s_%s",
			 kind_names[kind], cn);
		snprintf(help, sizeof(help), "edgelb-dp %s %s %s.",
			 kind_names[kind], counter ? "counter" : "gauge", cn);
		metrics_put(m, name, help,
			    counter ? METRICS_COUNTER : METRICS_GAUGE, l, nl,
			    (double)nla_get_u64(rc[LB_ATTR_CNT_VALUE]));
		added++;
	}
	return added;
}

static int
on_stats(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	(void)nlh;
	dpc_stats_to_metrics(arg, tb);
	return 0;
}

int
dpc_collect(void *arg, struct metrics *m)
{
	struct dpc *d = arg;
	struct nl_msg *msg;
	char err[LBMSG_ERRMSG_MAX];
	int rc;

	if (d->c == NULL)
		return -ENOTCONN;
	msg = lbmsg_new(LB_MSG_STATS_GET, NLM_F_DUMP);
	if (msg == NULL)
		return -ENOMEM;
	rc = dpc_request(d, msg, on_stats, m, err, sizeof(err));
	nlmsg_free(msg);
	if (rc < 0)
		LB_WARN("dataplane stats: %s", err);
	return rc;
}
