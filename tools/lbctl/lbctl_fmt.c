/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbctl output (see lbctl_fmt.h). The parts are kept as copies of the
 * received messages and re-parsed when printing. Services and backends
 * are gathered into one model, sorted as ipvsadm sorts them (family,
 * protocol, address, port); they feed the service and backend tables and
 * the ipvsadm layouts (lbctl_fmt_ipvs.c). Every other view is a list of
 * parts in the server's order, printed by a per-view row function; JSON
 * for every view is derived from the attributes' wire types.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lbctl_fmt.h"
#include "lbctl_fmt_priv.h"
#include "edgelb/util.h"

/* ---- collecting ---------------------------------------------------------- */

struct lbctl_fmt *
lbctl_fmt_new(const struct lbctl_cmd *cmd)
{
	struct lbctl_fmt *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->view = cmd->view;
	f->opts = cmd->opts;
	f->filter = cmd->filter;
	return f;
}

static void
model_free(struct lbctl_fmt *f)
{
	for (size_t i = 0; i < f->nsvcs; i++)
		free(f->svcs[i].bes);
	free(f->svcs);
	f->svcs = NULL;
	f->nsvcs = f->cap_svcs = 0;
	f->built = false;
}

void
lbctl_fmt_reset(struct lbctl_fmt *f)
{
	model_free(f);
	for (size_t i = 0; i < f->nparts; i++)
		free(f->parts[i].nlh);
	f->nparts = 0;
}

void
lbctl_fmt_free(struct lbctl_fmt *f)
{
	if (f == NULL)
		return;
	lbctl_fmt_reset(f);
	free(f->parts);
	free(f);
}

int
lbctl_fmt_part(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	struct lbctl_fmt *f = arg;
	struct fmt_part *p;
	struct nlmsghdr *copy;

	(void)tb; /* re-parsed from the copy */
	if (lb_array_grow(&f->parts, &f->cap, f->nparts + 1,
			  sizeof(*f->parts)) < 0)
		return -ENOMEM;
	copy = malloc(nlh->nlmsg_len);
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, nlh, nlh->nlmsg_len);
	p = &f->parts[f->nparts];
	if (lbmsg_parse(copy, copy->nlmsg_len, p->tb, NULL, 0) < 0) {
		free(copy);
		return -EBADMSG;
	}
	p->nlh = copy;
	f->nparts++;
	model_free(f);
	return 0;
}

void
lbctl_fmt_set_base(struct lbctl_fmt *f, const struct lbctl_fmt *base,
		   double secs)
{
	f->base = base;
	f->secs = secs;
}

/* ---- attribute helpers ----------------------------------------------------- */

uint64_t
fmt_u(struct nlattr *const *tb, int attr)
{
	const struct nlattr *a = tb[attr];

	if (a == NULL)
		return 0;
	switch (lbmsg_attr_type(attr)) {
	case LBMSG_AT_U8:
		return nla_get_u8((struct nlattr *)a);
	case LBMSG_AT_U16:
		return nla_get_u16((struct nlattr *)a);
	case LBMSG_AT_U32:
		return nla_get_u32((struct nlattr *)a);
	case LBMSG_AT_U64:
		return nla_get_u64((struct nlattr *)a);
	default:
		return 0;
	}
}

const char *
fmt_str(struct nlattr *const *tb, int attr, const char *dflt)
{
	return tb[attr] != NULL ? nla_get_string(tb[attr]) : dflt;
}

const char *
fmt_addr(struct nlattr *const *tb, int attr, char *buf, size_t len)
{
	struct lb_addr a;

	if (lbmsg_get_addr(tb[attr], &a) < 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	return lb_addr_format(&a, buf, len);
}

const char *
fmt_addrport(struct nlattr *const *tb, int aattr, int pattr, char *buf,
	     size_t len)
{
	struct lb_addr a;

	if (lbmsg_get_addr(tb[aattr], &a) < 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	return lb_addr_port_format(&a, (uint16_t)fmt_u(tb, pattr), buf, len);
}

bool
fmt_counter(struct nlattr *const *tb, const char *const *names, uint64_t *v)
{
	struct nlattr *c, *rec[LB_ATTR_MAX + 1];
	int rem;

	if (tb[LB_ATTR_COUNTERS] == NULL)
		return false;
	lbmsg_list_for_each (c, tb[LB_ATTR_COUNTERS], rem) {
		if (lbmsg_parse_record(c, rec) < 0 ||
		    rec[LB_ATTR_CNT_NAME] == NULL ||
		    rec[LB_ATTR_CNT_VALUE] == NULL)
			continue;
		for (const char *const *n = names; *n != NULL; n++)
			if (strcmp(nla_get_string(rec[LB_ATTR_CNT_NAME]), *n) ==
			    0) {
				*v = nla_get_u64(rec[LB_ATTR_CNT_VALUE]);
				return true;
			}
	}
	return false;
}

const char *
fmt_flags(uint32_t flags, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s%s%s%s",
		 flags & LB_SVC_F_TOA ? "toa," : "",
		 flags & LB_SVC_F_PROXY_V2 ? "proxy-v2," : "",
		 flags & LB_SVC_F_SH_PORT ? "sh-port," : "",
		 flags & LB_SVC_F_UDP_DRAIN ? "udp-drain," : "",
		 flags & LB_SVC_F_SYNPROXY_ON ? "synproxy-on," : "",
		 flags & LB_SVC_F_SYNPROXY_OFF ? "synproxy-off," : "",
		 flags & LB_SVC_F_MH_ADOPT ? "mh-adopt," : "",
		 (flags & LB_SVC_F_ALL) == 0 ? "-" : "");
	if (buf[0] != '\0' && buf[strlen(buf) - 1] == ',')
		buf[strlen(buf) - 1] = '\0';
	return buf;
}

/* ---- the service/backend model ----------------------------------------------- */

static int
cmp_key(const struct fmt_svc *a, const struct fmt_svc *b)
{
	int r = (int)a->vip.family - (int)b->vip.family;

	if (r == 0)
		r = (int)a->proto - (int)b->proto;
	if (r == 0)
		r = memcmp(a->vip.bytes, b->vip.bytes, lb_addr_len(&a->vip));
	if (r == 0)
		r = (int)a->vport - (int)b->vport;
	return r;
}

static int
cmp_svc(const void *x, const void *y)
{
	return cmp_key(x, y);
}

static int
cmp_be(const void *x, const void *y)
{
	const struct fmt_be *a = x, *b = y;
	int r = (int)a->addr.family - (int)b->addr.family;

	if (r == 0)
		r = memcmp(a->addr.bytes, b->addr.bytes, lb_addr_len(&a->addr));
	if (r == 0)
		r = (int)a->port - (int)b->port;
	return r;
}

static struct fmt_svc *
model_svc_find(struct lbctl_fmt *f, const struct fmt_svc *key)
{
	for (size_t i = 0; i < f->nsvcs; i++)
		if (cmp_key(&f->svcs[i], key) == 0)
			return &f->svcs[i];
	return NULL;
}

static struct fmt_svc *
model_svc_add(struct lbctl_fmt *f, struct nlattr **tb)
{
	struct fmt_svc k = { .tb = tb }, *s;

	if (lbmsg_get_svc_key(tb, &k.proto, &k.vip, &k.vport) < 0)
		return NULL; /* not a service: ignored */
	if (f->filter.set &&
	    (k.proto != f->filter.proto || k.vport != f->filter.vport ||
	     !lb_addr_equal(&k.vip, &f->filter.vip)))
		return NULL;
	s = model_svc_find(f, &k);
	if (s != NULL)
		return s;
	if (lb_array_grow(&f->svcs, &f->cap_svcs, f->nsvcs + 1,
			  sizeof(*f->svcs)) < 0)
		return NULL;
	s = &f->svcs[f->nsvcs++];
	*s = k;
	return s;
}

static int
be_add(struct fmt_svc *s, struct nlattr **tb)
{
	struct fmt_be *b;

	if (lb_array_grow(&s->bes, &s->cap_bes, s->nbes + 1, sizeof(*s->bes)) <
	    0)
		return -ENOMEM;
	b = &s->bes[s->nbes];
	memset(b, 0, sizeof(*b));
	memcpy(b->tb, tb, sizeof(b->tb));
	if (lbmsg_get_addr(tb[LB_ATTR_ADDR], &b->addr) < 0)
		return 0;
	b->port = (uint16_t)fmt_u(tb, LB_ATTR_PORT);
	s->nbes++;
	return 0;
}

int
fmt_model(struct lbctl_fmt *f)
{
	struct nlattr *rec[LB_ATTR_MAX + 1], *c;
	struct fmt_svc *s;
	int rem, rc;

	if (f->built)
		return 0;
	for (size_t i = 0; i < f->nparts; i++) {
		struct fmt_part *p = &f->parts[i];
		uint16_t type = p->nlh->nlmsg_type;

		if (type != LB_MSG_SERVICE_GET && type != LB_MSG_BACKEND_GET)
			continue;
		s = model_svc_add(f, p->tb);
		if (s == NULL)
			continue;
		if (type == LB_MSG_BACKEND_GET) {
			s->placeholder = s->tb == p->tb || s->placeholder;
			rc = be_add(s, p->tb);
			if (rc < 0)
				return rc;
			continue;
		}
		s->tb = p->tb; /* a real service part wins over a placeholder */
		s->placeholder = false;
		if (p->tb[LB_ATTR_BACKENDS] == NULL)
			continue;
		lbmsg_list_for_each (c, p->tb[LB_ATTR_BACKENDS], rem) {
			if (lbmsg_parse_record(c, rec) < 0)
				continue;
			rc = be_add(s, rec);
			if (rc < 0)
				return rc;
		}
	}
	if (f->nsvcs > 1)
		qsort(f->svcs, f->nsvcs, sizeof(*f->svcs), cmp_svc);
	for (size_t i = 0; i < f->nsvcs; i++)
		if (f->svcs[i].nbes > 1)
			qsort(f->svcs[i].bes, f->svcs[i].nbes,
			      sizeof(struct fmt_be), cmp_be);
	f->built = true;
	return 0;
}

uint8_t
fmt_be_mode(const struct fmt_svc *s, const struct fmt_be *b)
{
	uint8_t m = (uint8_t)fmt_u(b->tb, LB_ATTR_MODE);

	return m != LB_MODE_UNSET ? m : (uint8_t)fmt_u(s->tb, LB_ATTR_MODE);
}

static const char *const n_conns[] = { "conns_total", "conns", NULL };
static const char *const n_inpkts[] = { "packets_in_total", "pkts_in", "inpkts",
					NULL };
static const char *const n_outpkts[] = { "packets_out_total", "pkts_out",
					 "outpkts", NULL };
static const char *const n_inbytes[] = { "bytes_in_total", "bytes_in",
					 "inbytes", NULL };
static const char *const n_outbytes[] = { "bytes_out_total", "bytes_out",
					  "outbytes", NULL };
static const char *const n_active[] = { "active", "activeconns", "active_conns",
					NULL };
static const char *const n_inactive[] = { "inactive", "inactconns",
					  "inactive_conns", NULL };
static const char *const n_cps[] = { "cps", NULL };
static const char *const n_inpps[] = { "pps_in", "inpps", NULL };
static const char *const n_outpps[] = { "pps_out", "outpps", NULL };
static const char *const n_inbps[] = { "bps_in", "inbps", NULL };
static const char *const n_outbps[] = { "bps_out", "outbps", NULL };

static void
read_vals(struct nlattr *const *tb, struct fmt_vals *v)
{
	memset(v, 0, sizeof(*v));
	fmt_counter(tb, n_conns, &v->conns);
	fmt_counter(tb, n_inpkts, &v->inpkts);
	fmt_counter(tb, n_outpkts, &v->outpkts);
	fmt_counter(tb, n_inbytes, &v->inbytes);
	fmt_counter(tb, n_outbytes, &v->outbytes);
	fmt_counter(tb, n_active, &v->active);
	fmt_counter(tb, n_inactive, &v->inactive);
	v->has_rates = fmt_counter(tb, n_cps, &v->cps);
	fmt_counter(tb, n_inpps, &v->inpps);
	fmt_counter(tb, n_outpps, &v->outpps);
	fmt_counter(tb, n_inbps, &v->inbps);
	fmt_counter(tb, n_outbps, &v->outbps);
}

static uint64_t
per_sec(uint64_t now, uint64_t then, double secs)
{
	if (now <= then || secs <= 0)
		return 0;
	return (uint64_t)((double)(now - then) / secs + 0.5);
}

/* Rates from the difference to the base snapshot, if there is one. */
static void
rates_from_base(const struct lbctl_fmt *f, struct fmt_vals *v,
		const struct fmt_vals *old)
{
	if (v->has_rates || f->base == NULL)
		return;
	v->cps = per_sec(v->conns, old->conns, f->secs);
	v->inpps = per_sec(v->inpkts, old->inpkts, f->secs);
	v->outpps = per_sec(v->outpkts, old->outpkts, f->secs);
	v->inbps = per_sec(v->inbytes, old->inbytes, f->secs);
	v->outbps = per_sec(v->outbytes, old->outbytes, f->secs);
}

void
fmt_svc_vals(const struct lbctl_fmt *f, const struct fmt_svc *s,
	     struct fmt_vals *v)
{
	struct fmt_vals old = { 0 };
	const struct fmt_svc *o;

	read_vals(s->tb, v);
	if (s->placeholder) /* only backend parts: a service has no counters */
		memset(v, 0, sizeof(*v));
	if (f->base != NULL &&
	    (o = model_svc_find((struct lbctl_fmt *)f->base, s)) != NULL)
		read_vals(o->tb, &old);
	rates_from_base(f, v, &old);
}

void
fmt_be_vals(const struct lbctl_fmt *f, const struct fmt_svc *s,
	    const struct fmt_be *b, struct fmt_vals *v)
{
	struct fmt_vals old = { 0 };
	const struct fmt_svc *o;

	read_vals(b->tb, v);
	if (f->base != NULL &&
	    (o = model_svc_find((struct lbctl_fmt *)f->base, s)) != NULL) {
		for (size_t i = 0; i < o->nbes; i++)
			if (cmp_be(&o->bes[i], b) == 0)
				read_vals(o->bes[i].tb, &old);
	}
	rates_from_base(f, v, &old);
}

bool
lbctl_fmt_has_rates(const struct lbctl_fmt *f)
{
	struct fmt_vals v;

	if (fmt_model((struct lbctl_fmt *)f) < 0)
		return false;
	for (size_t i = 0; i < f->nsvcs; i++) {
		read_vals(f->svcs[i].tb, &v);
		if (v.has_rates)
			return true;
	}
	return false;
}

/* ---- dispatch ------------------------------------------------------------------ */

int
lbctl_fmt_print(struct lbctl_fmt *f, FILE *out)
{
	int rc;

	if (f->view == LBCTL_VIEW_SERVICES || f->view == LBCTL_VIEW_BACKENDS ||
	    f->view == LBCTL_VIEW_IPVS_LIST ||
	    f->view == LBCTL_VIEW_IPVS_SAVE) {
		rc = f->base != NULL ? fmt_model((struct lbctl_fmt *)f->base)
				     : 0;
		if (rc == 0)
			rc = fmt_model(f);
		if (rc < 0)
			return rc;
		if (f->filter.set && f->nsvcs == 0 &&
		    f->view != LBCTL_VIEW_BACKENDS)
			return -ENOENT;
	}
	if (f->view == LBCTL_VIEW_API)
		return lbctl_api_print(f, out);
	if (f->view == LBCTL_VIEW_PUSH)
		return lbctl_push_print(f, out);
	if (f->view == LBCTL_VIEW_NODE)
		return lbctl_node_print(f, out);
	if (f->opts.json)
		return fmt_json(f, out);
	switch (f->view) {
	case LBCTL_VIEW_IPVS_LIST:
		return fmt_ipvs_list(f, out);
	case LBCTL_VIEW_IPVS_SAVE:
		return fmt_ipvs_save(f, out);
	default:
		return fmt_table(f, out);
	}
}
