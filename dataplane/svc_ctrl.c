/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Service table control: the lbmsg handlers for SERVICE_*, BACKEND_* and
 * LADDR_* requests, their dumps, and the service/backend part of
 * STATS_GET. Runs on the control thread only. lbmsg_parse() has already
 * checked which attributes are present and their sizes; this file checks
 * what they mean and answers every refusal with an errno and a text.
 *
 * Dumps send one part per service (attributes + BACKENDS), per backend or
 * per local address. A service whose backends do not fit in one message
 * is sent as consecutive parts with the same key and attributes, each
 * carrying the next backends: a reader merges parts with equal keys.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/attr.h>

#include "edgelb/util.h"
#include "svc_priv.h"

#define SVC_DEFAULT_MODE LB_MODE_DR

/* A request's service key, printable for messages. */
struct req_key {
	uint8_t proto;
	struct lb_addr vip;
	uint16_t vport;
	char text[LB_ADDRPORTSTRLEN + 8];
};

/* ---- edits ------------------------------------------------------------ */

int
svc_edit_add_backend(struct svc_edit *e, const struct svc_backend *b)
{
	if (lb_array_grow(&e->b, &e->capb, (size_t)e->nb + 1, sizeof(*e->b)) <
	    0)
		return -ENOMEM;
	e->b[e->nb++] = *b;
	return 0;
}

int
svc_edit_add_laddr(struct svc_edit *e, const struct lb_addr *a)
{
	if (lb_array_grow(&e->l, &e->capl, (size_t)e->nl + 1, sizeof(*e->l)) <
	    0)
		return -ENOMEM;
	e->l[e->nl++] = *a;
	return 0;
}

int
svc_edit_from(struct svc_edit *e, const struct svc *s)
{
	uint32_t i;

	memset(e, 0, sizeof(*e));
	e->s = *s;
	e->s.backends = NULL;
	e->s.laddrs = NULL;
	e->s.sched_state = NULL;
	for (i = 0; i < s->nbackends; i++)
		if (svc_edit_add_backend(e, &s->backends[i]) < 0)
			goto err;
	for (i = 0; i < s->nladdrs; i++)
		if (svc_edit_add_laddr(e, &s->laddrs[i]) < 0)
			goto err;
	return 0;
err:
	svc_edit_release(e);
	return -ENOMEM;
}

void
svc_edit_release(struct svc_edit *e)
{
	free(e->b);
	free(e->l);
	free(e->fresh);
	memset(e, 0, sizeof(*e));
}

/* ---- parsing ----------------------------------------------------------- */

static int
get_key(struct lbmsg_req *req, struct req_key *k)
{
	char buf[LB_ADDRPORTSTRLEN];

	if (lbmsg_get_svc_key(req->tb, &k->proto, &k->vip, &k->vport) < 0)
		return lbmsg_req_errf(req, -EINVAL, "bad service key");
	if (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP)
		return lbmsg_req_errf(req, -EPROTONOSUPPORT,
				      "protocol %u not supported (tcp, udp)",
				      k->proto);
	snprintf(k->text, sizeof(k->text), "%s %s", lb_proto_name(k->proto),
		 lb_addr_port_format(&k->vip, k->vport, buf, sizeof(buf)));
	return 0;
}

/* The service of the request's key; -ENOENT answered when absent. */
static int
get_svc(struct svc_table *t, struct lbmsg_req *req, struct req_key *k,
	struct svc **s)
{
	int rc = get_key(req, k);

	if (rc < 0)
		return rc;
	*s = svc_find(t, k->proto, &k->vip, k->vport);
	if (*s == NULL)
		return lbmsg_req_errf(req, -ENOENT, "no service %s", k->text);
	return 0;
}

static int
unknown_sched(struct lbmsg_req *req, const char *name)
{
	const char *names[32];
	char list[160] = "";
	size_t off = 0;
	int n, i;

	n = sched_list(names, 32);
	for (i = 0; i < n && i < 32 && off < sizeof(list); i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
					i ? ", " : "", names[i]);
	return lbmsg_req_errf(req, -EINVAL, "unknown scheduler '%s' (%s)", name,
			      list);
}

/*
 * A backend from tb (top level or a BACKEND record) of service s: ADDR
 * and PORT always; WEIGHT, MODE and FLAGS when given (weight defaults to
 * 1 for a new one, flags to 0). The result has slot SVC_SLOT_NONE.
 */
static int
get_backend(struct lbmsg_req *req, struct nlattr **tb, const struct svc *s,
	    struct svc_backend *b)
{
	char buf[LB_ADDRPORTSTRLEN];
	struct lbmsg_backend wb;
	int rc;

	rc = lbmsg_get_backend(tb, &wb, req->errmsg, sizeof(req->errmsg));
	if (rc < 0)
		return rc;
	memset(b, 0, sizeof(*b));
	b->slot = SVC_SLOT_NONE;
	b->addr = wb.addr;
	b->port = wb.port;
	b->weight = (wb.present & LBMSG_BE_WEIGHT) ? wb.weight : 1;
	b->flags = (uint8_t)wb.flags;
	b->mode = s->mode;
	b->u_thresh = wb.u_thresh;
	b->l_thresh = wb.l_thresh;
	lb_addr_port_format(&b->addr, b->port, buf, sizeof(buf));
	if (b->addr.family != s->vip.family)
		return lbmsg_req_errf(req, -EAFNOSUPPORT,
				      "backend %s: address family differs "
				      "from the VIP's",
				      buf);
	if ((wb.present & LBMSG_BE_MODE) && wb.mode != s->mode)
		return lbmsg_req_errf(req, -EINVAL,
				      "backend %s: mode %s differs from the "
				      "service's mode %s",
				      buf, lb_mode_name(wb.mode),
				      lb_mode_name(s->mode));
	return 0;
}

static int32_t
backend_index(const struct svc_backend *b, uint32_t n, const struct lb_addr *a,
	      uint16_t port)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (b[i].port == port && lb_addr_equal(&b[i].addr, a))
			return (int32_t)i;
	return -1;
}

/*
 * Apply SVC_OPTS from the request to e->s (a new service's defaults or
 * the current values), then the BACKENDS list when given: it replaces
 * the backends, keeping the slots (counters) of those that stay.
 */
static int
apply_opts(struct lbmsg_req *req, struct svc_edit *e)
{
	struct nlattr **tb = req->tb, *pos;
	uint32_t old_nb = e->nb, i;
	struct lbmsg_svc_attrs a;
	struct svc_backend *old_b;
	int rem, rc;

	rc = lbmsg_get_svc_attrs(tb, &a, req->errmsg, sizeof(req->errmsg));
	if (rc < 0)
		return rc;
	if (a.present & LBMSG_SVC_NAME)
		snprintf(e->s.name, sizeof(e->s.name), "%s", a.name);
	if (a.present & LBMSG_SVC_MODE) {
		e->s.mode = a.mode;
		for (i = 0; i < e->nb; i++)
			e->b[i].mode = a.mode;
	}
	if (a.present & LBMSG_SVC_SCHED) {
		e->s.sched = sched_find(a.sched);
		if (e->s.sched == NULL)
			return unknown_sched(req, a.sched);
	}
	if (a.present & LBMSG_SVC_PERSIST)
		e->s.persist = a.persist;
	if (a.present & LBMSG_SVC_FLAGS)
		e->s.flags = a.flags;
	if (a.present & LBMSG_SVC_MH_SIZE)
		e->s.mh_size = a.mh_size;
	if (tb[LB_ATTR_MAX_CONNS] != NULL)
		e->s.max_conns = a.max_conns;
	if (tb[LB_ATTR_CONN_RATE] != NULL)
		e->s.conn_rate = a.conn_rate;
	if (tb[LB_ATTR_SYN_SRC_RATE] != NULL)
		e->s.syn_src_rate = a.syn_src_rate;
	if ((e->s.flags & (LB_SVC_F_TOA | LB_SVC_F_PROXY_V2)) &&
	    e->s.mode != LB_MODE_FNAT)
		return lbmsg_req_errf(req, -EINVAL,
				      "toa and proxy-v2 need mode fnat");
	if ((e->s.flags & LB_SVC_F_MH_ADOPT) &&
	    (e->s.sched == NULL || strcmp(e->s.sched->name, "mh") != 0 ||
	     (e->s.mode != LB_MODE_DR && e->s.mode != LB_MODE_TUNNEL)))
		return lbmsg_req_errf(req, -EINVAL,
				      "mh-adopt needs scheduler mh and mode "
				      "dr or tunnel");
	if (e->nl > 0 && e->s.mode != LB_MODE_FNAT)
		return lbmsg_req_errf(req, -EINVAL,
				      "the service has local addresses, which "
				      "only fnat uses: delete them first");
	if (tb[LB_ATTR_BACKENDS] == NULL)
		return 0;

	old_b = e->b;
	e->b = NULL;
	e->nb = 0;
	e->capb = 0;
	rc = 0;
	lbmsg_list_for_each (pos, tb[LB_ATTR_BACKENDS], rem) {
		struct nlattr *rtb[LB_ATTR_MAX + 1];
		struct svc_backend b;
		int32_t j;

		if (lbmsg_parse_record(pos, rtb) < 0) {
			rc = lbmsg_req_errf(req, -EINVAL, "bad BACKEND record");
			break;
		}
		rc = get_backend(req, rtb, &e->s, &b);
		if (rc < 0)
			break;
		if (backend_index(e->b, e->nb, &b.addr, b.port) >= 0) {
			char buf[LB_ADDRPORTSTRLEN];

			rc = lbmsg_req_errf(
				req, -EEXIST, "backend %s listed twice",
				lb_addr_port_format(&b.addr, b.port, buf,
						    sizeof(buf)));
			break;
		}
		j = backend_index(old_b, old_nb, &b.addr, b.port);
		if (j >= 0)
			b.slot = old_b[j].slot;
		if (svc_edit_add_backend(e, &b) < 0) {
			rc = lbmsg_req_errf(req, -ENOMEM, "out of memory");
			break;
		}
	}
	free(old_b);
	return rc;
}

/* ---- SERVICE_* --------------------------------------------------------- */

static int
service_new(struct svc_table *t, struct lbmsg_req *req)
{
	struct svc_edit e = { 0 };
	struct req_key k;
	int rc;

	rc = get_key(req, &k);
	if (rc < 0)
		return rc;
	e.s.proto = k.proto;
	e.s.vip = k.vip;
	e.s.vport = k.vport;
	e.s.mode = SVC_DEFAULT_MODE;
	e.s.sched = sched_find(LB_SCHED_DEFAULT);
	e.s.slot = SVC_SLOT_NONE;
	if (e.s.sched == NULL && req->tb[LB_ATTR_SCHED] == NULL)
		return lbmsg_req_errf(req, -ENOENT,
				      "default scheduler %s is missing",
				      LB_SCHED_DEFAULT);
	if (svc_find(t, k.proto, &k.vip, k.vport) != NULL)
		return lbmsg_req_errf(req, -EEXIST, "service %s exists",
				      k.text);
	rc = apply_opts(req, &e);
	if (rc == 0) {
		rc = svc_create(t, &e, req->errmsg, sizeof(req->errmsg));
	}
	svc_edit_release(&e);
	return rc;
}

static int
service_set(struct svc_table *t, struct lbmsg_req *req)
{
	struct svc_edit e;
	struct req_key k;
	struct svc *s;
	int rc;

	rc = get_svc(t, req, &k, &s);
	if (rc < 0)
		return rc;
	if (svc_edit_from(&e, s) < 0)
		return lbmsg_req_errf(req, -ENOMEM, "out of memory");
	rc = apply_opts(req, &e);
	if (rc == 0)
		rc = svc_update(t, s, &e, req->errmsg, sizeof(req->errmsg));
	svc_edit_release(&e);
	return rc;
}

static int
service_del(struct svc_table *t, struct lbmsg_req *req)
{
	struct req_key k;
	struct svc *s;
	int rc;

	rc = get_svc(t, req, &k, &s);
	if (rc < 0)
		return rc;
	svc_delete(t, s);
	return 0;
}

static int
service_flush(struct svc_table *t)
{
	uint32_t i;

	for (i = 0; i < t->svcs.next; i++)
		if (t->by_slot[i] != NULL)
			svc_delete(t, t->by_slot[i]);
	return 0;
}

/* ---- dumps ------------------------------------------------------------- */

int
svc_put_key(struct nl_msg *m, const struct svc *s)
{
	return lbmsg_put_svc_key(m, s->proto, &s->vip, s->vport);
}

static int
put_svc_attrs(struct nl_msg *m, const struct svc *s)
{
	const struct lbmsg_svc_attrs a = {
		.name = s->name,
		.sched = s->sched->name,
		.mode = s->mode,
		.persist = s->persist,
		.flags = s->flags,
		.mh_size = s->mh_size,
		.max_conns = s->max_conns,
		.conn_rate = s->conn_rate,
		.syn_src_rate = s->syn_src_rate,
	};

	if (svc_put_key(m, s) < 0)
		return -EMSGSIZE;
	return lbmsg_put_svc_attrs(m, &a);
}

static int
put_backend_attrs(struct nl_msg *m, const struct svc_backend *b)
{
	const struct lbmsg_backend wb = {
		.present = LBMSG_BE_WEIGHT | LBMSG_BE_MODE | LBMSG_BE_FLAGS |
			   LBMSG_BE_THRESH,
		.addr = b->addr,
		.port = b->port,
		.weight = b->weight,
		.mode = b->mode,
		.flags = b->flags,
		.u_thresh = b->u_thresh,
		.l_thresh = b->l_thresh,
	};

	return lbmsg_put_backend(m, &wb);
}

/* Does s match the service-key attributes present in the request? */
bool
svc_key_filter(struct nlattr **tb, const struct svc *s)
{
	struct lb_addr a;

	if (tb[LB_ATTR_PROTO] != NULL &&
	    nla_get_u8(tb[LB_ATTR_PROTO]) != s->proto)
		return false;
	if (tb[LB_ATTR_VPORT] != NULL &&
	    nla_get_u16(tb[LB_ATTR_VPORT]) != s->vport)
		return false;
	if (tb[LB_ATTR_VIP] != NULL &&
	    (lbmsg_get_addr(tb[LB_ATTR_VIP], &a) < 0 ||
	     !lb_addr_equal(&a, &s->vip)))
		return false;
	return true;
}

static bool
full_key(struct nlattr **tb)
{
	return tb[LB_ATTR_PROTO] && tb[LB_ATTR_VIP] && tb[LB_ATTR_VPORT];
}

/* One service in as many parts as its backends need. */
static int
dump_service(struct lbmsg_req *req, const struct svc *s)
{
	uint32_t i = 0, first;
	struct nlattr *list, *rec;
	struct nl_msg *m;
	int rc;

	do {
		m = lbmsg_req_part(req);
		if (m == NULL)
			return lbmsg_req_errf(req, -ENOMEM, "out of memory");
		if (put_svc_attrs(m, s) < 0 ||
		    (list = nla_nest_start(m, LB_ATTR_BACKENDS)) == NULL) {
			nlmsg_free(m);
			return lbmsg_req_errf(req, -EMSGSIZE, "part too big");
		}
		for (first = i; i < s->nbackends; i++) {
			rec = nla_nest_start(m, LB_ATTR_BACKEND);
			if (rec == NULL)
				break;
			if (put_backend_attrs(m, &s->backends[i]) < 0) {
				nla_nest_cancel(m, rec);
				break;
			}
			nla_nest_end(m, rec);
		}
		nla_nest_end(m, list);
		if (i == first && i < s->nbackends) {
			nlmsg_free(m);
			return lbmsg_req_errf(req, -EMSGSIZE, "part too big");
		}
		rc = lbmsg_req_send(req, m);
		if (rc < 0)
			return lbmsg_req_errf(req, rc, "sending a part failed");
	} while (i < s->nbackends);
	return 0;
}

static int
service_get(struct svc_table *t, struct lbmsg_req *req)
{
	struct req_key k;
	uint32_t i;
	int rc;

	if (full_key(req->tb)) {
		struct svc *s;

		rc = get_svc(t, req, &k, &s);
		return rc < 0 ? rc : dump_service(req, s);
	}
	for (i = 0; i < t->svcs.next; i++) {
		const struct svc *s = t->by_slot[i];

		if (s == NULL || !svc_key_filter(req->tb, s))
			continue;
		rc = dump_service(req, s);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* One part: the key of s, then ADDR of a, or the backend b. */
static int
send_item(struct lbmsg_req *req, const struct svc *s,
	  const struct svc_backend *b, const struct lb_addr *a)
{
	struct nl_msg *m = lbmsg_req_part(req);
	int rc;

	if (m == NULL)
		return lbmsg_req_errf(req, -ENOMEM, "out of memory");
	rc = svc_put_key(m, s);
	if (rc == 0)
		rc = b != NULL ? put_backend_attrs(m, b)
			       : lbmsg_put_addr(m, LB_ATTR_ADDR, a);
	if (rc < 0) {
		nlmsg_free(m);
		return lbmsg_req_errf(req, -EMSGSIZE, "part too big");
	}
	rc = lbmsg_req_send(req, m);
	return rc < 0 ? lbmsg_req_errf(req, rc, "sending a part failed") : 0;
}

/* BACKEND_GET and LADDR_GET: one part per item, filtered by key/ADDR. */
static int
item_get(struct svc_table *t, struct lbmsg_req *req, bool backends)
{
	struct lb_addr fa = { 0 };
	bool fport = req->tb[LB_ATTR_PORT] != NULL;
	struct req_key k;
	uint32_t i, j, n;
	int rc;

	if (full_key(req->tb)) {
		struct svc *s;

		rc = get_svc(t, req, &k, &s);
		if (rc < 0)
			return rc;
	}
	if (req->tb[LB_ATTR_ADDR] != NULL &&
	    lbmsg_get_addr(req->tb[LB_ATTR_ADDR], &fa) < 0)
		return lbmsg_req_errf(req, -EINVAL, "bad ADDR");
	for (i = 0; i < t->svcs.next; i++) {
		const struct svc *s = t->by_slot[i];

		if (s == NULL || !svc_key_filter(req->tb, s))
			continue;
		n = backends ? s->nbackends : s->nladdrs;
		for (j = 0; j < n; j++) {
			const struct svc_backend *b =
				backends ? &s->backends[j] : NULL;
			const struct lb_addr *a = b ? &b->addr : &s->laddrs[j];

			if (fa.family && !lb_addr_equal(&fa, a))
				continue;
			if (b != NULL && fport &&
			    nla_get_u16(req->tb[LB_ATTR_PORT]) != b->port)
				continue;
			rc = send_item(req, s, b, a);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* ---- BACKEND_* and LADDR_* --------------------------------------------- */

/*
 * Apply e (from svc_edit_from(s), then changed with result rc: < 0 when
 * the change ran out of memory) to s, answering a failure; release e.
 */
static int
edit_commit(struct svc_table *t, struct lbmsg_req *req, struct svc *s,
	    struct svc_edit *e, int rc)
{
	if (rc < 0)
		rc = lbmsg_req_errf(req, -ENOMEM, "out of memory");
	else
		rc = svc_update(t, s, e, req->errmsg, sizeof(req->errmsg));
	svc_edit_release(e);
	return rc;
}

static int
backend_change(struct svc_table *t, struct lbmsg_req *req, uint16_t type)
{
	char buf[LB_ADDRPORTSTRLEN];
	struct svc_backend b;
	struct svc_edit e;
	struct req_key k;
	struct svc *s;
	int32_t i;
	int rc;

	rc = get_svc(t, req, &k, &s);
	if (rc < 0)
		return rc;
	rc = get_backend(req, req->tb, s, &b);
	if (rc < 0)
		return rc;
	lb_addr_port_format(&b.addr, b.port, buf, sizeof(buf));
	i = backend_index(s->backends, s->nbackends, &b.addr, b.port);
	if (type == LB_MSG_BACKEND_NEW && i >= 0)
		return lbmsg_req_errf(req, -EEXIST, "backend %s of %s exists",
				      buf, k.text);
	if (type != LB_MSG_BACKEND_NEW && i < 0)
		return lbmsg_req_errf(req, -ENOENT, "no backend %s in %s", buf,
				      k.text);
	if (type == LB_MSG_BACKEND_SET) {
		/* what is not given stays */
		if (req->tb[LB_ATTR_WEIGHT] == NULL)
			b.weight = s->backends[i].weight;
		if (req->tb[LB_ATTR_FLAGS] == NULL)
			b.flags = s->backends[i].flags;
		if (req->tb[LB_ATTR_U_THRESH] == NULL)
			b.u_thresh = s->backends[i].u_thresh;
		if (req->tb[LB_ATTR_L_THRESH] == NULL)
			b.l_thresh = s->backends[i].l_thresh;
		if (b.l_thresh > b.u_thresh)
			return lbmsg_req_errf(req, -ERANGE,
					      "backend %s: lower threshold %u "
					      "above the upper %u",
					      buf, b.l_thresh, b.u_thresh);
		if (s->backends[i].weight == b.weight &&
		    s->backends[i].flags == b.flags &&
		    s->backends[i].u_thresh == b.u_thresh &&
		    s->backends[i].l_thresh == b.l_thresh)
			return 0; /* nothing changes */
	}
	if (svc_edit_from(&e, s) < 0)
		return lbmsg_req_errf(req, -ENOMEM, "out of memory");
	switch (type) {
	case LB_MSG_BACKEND_NEW:
		rc = svc_edit_add_backend(&e, &b);
		break;
	case LB_MSG_BACKEND_DEL:
		memmove(&e.b[i], &e.b[i + 1],
			(e.nb - (uint32_t)i - 1) * sizeof(e.b[0]));
		e.nb--;
		break;
	default:
		e.b[i].weight = b.weight;
		e.b[i].flags = b.flags;
		e.b[i].u_thresh = b.u_thresh;
		e.b[i].l_thresh = b.l_thresh;
		break;
	}
	return edit_commit(t, req, s, &e, rc);
}

static int
laddr_change(struct svc_table *t, struct lbmsg_req *req, bool add)
{
	char buf[LB_ADDRSTRLEN];
	struct svc_edit e;
	struct lb_addr a;
	struct req_key k;
	struct svc *s;
	uint32_t i;
	int rc;

	rc = get_svc(t, req, &k, &s);
	if (rc < 0)
		return rc;
	if (lbmsg_get_addr(req->tb[LB_ATTR_ADDR], &a) < 0)
		return lbmsg_req_errf(req, -EINVAL, "bad ADDR");
	lb_addr_format(&a, buf, sizeof(buf));
	for (i = 0; i < s->nladdrs; i++)
		if (lb_addr_equal(&a, &s->laddrs[i]))
			break;
	if (add) {
		if (s->mode != LB_MODE_FNAT)
			return lbmsg_req_errf(req, -EINVAL,
					      "%s is not a fnat service: local "
					      "addresses need mode fnat",
					      k.text);
		if (a.family != s->vip.family)
			return lbmsg_req_errf(req, -EAFNOSUPPORT,
					      "local address %s: family "
					      "differs from the VIP's",
					      buf);
		if (i < s->nladdrs)
			return lbmsg_req_errf(req, -EEXIST,
					      "local address %s of %s exists",
					      buf, k.text);
	} else if (i == s->nladdrs) {
		return lbmsg_req_errf(req, -ENOENT, "no local address %s in %s",
				      buf, k.text);
	}
	if (svc_edit_from(&e, s) < 0)
		return lbmsg_req_errf(req, -ENOMEM, "out of memory");
	rc = 0;
	if (add) {
		rc = svc_edit_add_laddr(&e, &a);
	} else {
		memmove(&e.l[i], &e.l[i + 1], (e.nl - i - 1) * sizeof(e.l[0]));
		e.nl--;
	}
	return edit_commit(t, req, s, &e, rc);
}

/* ---- STATS_GET: services and backends ---------------------------------- */

static int
put_counters(struct nl_msg *m, const struct svc_counters *c)
{
	struct nlattr *list = nla_nest_start(m, LB_ATTR_COUNTERS);

	if (list == NULL || lbmsg_put_counter(m, "conns_total", c->conns) < 0 ||
	    lbmsg_put_counter(m, "packets_in_total", c->pkts_in) < 0 ||
	    lbmsg_put_counter(m, "packets_out_total", c->pkts_out) < 0 ||
	    lbmsg_put_counter(m, "bytes_in_total", c->bytes_in) < 0 ||
	    lbmsg_put_counter(m, "bytes_out_total", c->bytes_out) < 0 ||
	    lbmsg_put_counter(m, "active_conns", c->active) < 0 ||
	    lbmsg_put_counter(m, "inactive_conns", c->inactive) < 0)
		return -EMSGSIZE;
	nla_nest_end(m, list);
	return 0;
}

static int
send_stats(struct svc_table *t, struct lbmsg_req *req, const struct svc *s,
	   const struct svc_backend *b)
{
	struct svc_counters c;
	struct nl_msg *m;
	int rc;

	if (b != NULL)
		svc_pool_sum(&t->backends, b->slot, &c);
	else
		svc_pool_sum(&t->svcs, s->slot, &c);
	m = lbmsg_req_part(req);
	if (m == NULL)
		return lbmsg_req_errf(req, -ENOMEM, "out of memory");
	rc = nla_put_u8(m, LB_ATTR_STATS_KIND,
			b ? LB_STATS_BACKEND : LB_STATS_SERVICE) < 0 ||
	     svc_put_key(m, s) < 0 ||
	     (s->name[0] && nla_put_string(m, LB_ATTR_NAME, s->name) < 0) ||
	     (b && lbmsg_put_addr(m, LB_ATTR_ADDR, &b->addr) < 0) ||
	     (b && nla_put_u16(m, LB_ATTR_PORT, b->port) < 0) ||
	     put_counters(m, &c) < 0;
	if (rc) {
		nlmsg_free(m);
		return lbmsg_req_errf(req, -EMSGSIZE, "part too big");
	}
	rc = lbmsg_req_send(req, m);
	return rc < 0 ? lbmsg_req_errf(req, rc, "sending a part failed") : 0;
}

/* Does backend b match the ADDR/PORT attributes present in tb? */
static bool
backend_filter(struct nlattr **tb, const struct svc_backend *b)
{
	struct lb_addr a;

	if (tb[LB_ATTR_PORT] != NULL &&
	    nla_get_u16(tb[LB_ATTR_PORT]) != b->port)
		return false;
	return tb[LB_ATTR_ADDR] == NULL ||
	       (lbmsg_get_addr(tb[LB_ATTR_ADDR], &a) == 0 &&
		lb_addr_equal(&a, &b->addr));
}

/*
 * Filters: STATS_KIND (service or backend), the service key attributes,
 * and for backends ADDR/PORT. A request aimed at ports or lcores (IFNAME,
 * PORT_ID, LCORE) without a kind gets nothing from here.
 */
int
svc_stats_dump(struct svc_table *t, struct lbmsg_req *req)
{
	struct nlattr **tb = req->tb, *kind = tb[LB_ATTR_STATS_KIND];
	bool want_svc = true, want_be = true;
	uint32_t i, j;
	int rc;

	if (kind != NULL) {
		want_svc = nla_get_u8(kind) == LB_STATS_SERVICE;
		want_be = nla_get_u8(kind) == LB_STATS_BACKEND;
	} else if (tb[LB_ATTR_IFNAME] || tb[LB_ATTR_PORT_ID] ||
		   tb[LB_ATTR_LCORE]) {
		return 0;
	} else if (tb[LB_ATTR_ADDR] || tb[LB_ATTR_PORT]) {
		want_svc = false; /* a backend filter */
	}
	for (i = 0; i < t->svcs.next && (want_svc || want_be); i++) {
		const struct svc *s = t->by_slot[i];

		if (s == NULL || !svc_key_filter(tb, s))
			continue;
		if (want_svc) {
			rc = send_stats(t, req, s, NULL);
			if (rc < 0)
				return rc;
		}
		for (j = 0; want_be && j < s->nbackends; j++) {
			if (!backend_filter(tb, &s->backends[j]))
				continue;
			rc = send_stats(t, req, s, &s->backends[j]);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int
svc_ctrl_handle(struct svc_table *t, struct lbmsg_req *req)
{
	uint16_t type = req->nlh->nlmsg_type;

	switch (type) {
	case LB_MSG_SERVICE_NEW:
		return service_new(t, req);
	case LB_MSG_SERVICE_DEL:
		return service_del(t, req);
	case LB_MSG_SERVICE_SET:
		return service_set(t, req);
	case LB_MSG_SERVICE_GET:
		return service_get(t, req);
	case LB_MSG_SERVICE_FLUSH:
		return service_flush(t);
	case LB_MSG_BACKEND_NEW:
	case LB_MSG_BACKEND_DEL:
	case LB_MSG_BACKEND_SET:
		return backend_change(t, req, type);
	case LB_MSG_BACKEND_GET:
		return item_get(t, req, true);
	case LB_MSG_LADDR_NEW:
		return laddr_change(t, req, true);
	case LB_MSG_LADDR_DEL:
		return laddr_change(t, req, false);
	case LB_MSG_LADDR_GET:
		return item_get(t, req, false);
	default:
		return lbmsg_req_errf(req, -EOPNOTSUPP,
				      "%s is not a service message",
				      lbmsg_type_name(type));
	}
}
