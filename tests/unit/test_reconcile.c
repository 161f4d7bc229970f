/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of controlplane/reconcile.c: rec_diff on a table of cases,
 * each a desired and an actual list written compactly, and the expected
 * operations in order; each plan is then applied, operation by operation,
 * to a model of the dataplane's table holding the actual list (which
 * refuses what the dataplane refuses: a NEW of something present, a SET
 * or DEL of something absent), and the result must diff empty against the
 * desired list. Plus the lbmsg request built for each operation.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpclient.h"
#include "reconcile.h"

/*
 * A service list in a compact text form, one service per ';':
 *   "tcp 10.0.0.1:80 dr wlc p0 f0 | 10.1.0.1:80 w1, 10.1.0.2:80 w2 | l10.9.0.1"
 * (proto vip mode sched persist flags | backends | laddrs)
 */
static struct rec_svc *
parse_list(const char *text, size_t *n)
{
	char *copy = strdup(text), *save = NULL, *svc;
	struct rec_svc *v = NULL;

	*n = 0;
	for (svc = strtok_r(copy, ";", &save); svc != NULL;
	     svc = strtok_r(NULL, ";", &save)) {
		char proto[8], vip[64], mode[8], sched[16], *bar, *bar2;
		struct rec_svc *s;

		v = realloc(v, (*n + 1) * sizeof(*v));
		s = &v[(*n)++];
		memset(s, 0, sizeof(*s));
		ck_assert_int_eq(sscanf(svc, " %7s %63s %7s %15s p%u f%u",
					proto, vip, mode, sched, &s->persist,
					&s->flags),
				 6);
		s->proto = (uint8_t)lb_proto_parse(proto);
		ck_assert_int_eq(
			lb_addr_port_parse(vip, &s->vip, &s->vport, false), 0);
		s->mode = (uint8_t)lb_mode_parse(mode);
		strcpy(s->sched, sched);
		/* "... p0 f0 c100": max_conns (before any '|') */
		bar = strstr(svc, " c");
		if (bar != NULL &&
		    (strchr(svc, '|') == NULL || bar < strchr(svc, '|')))
			sscanf(bar, " c%u", &s->max_conns);
		bar = strchr(svc, '|');
		if (bar == NULL)
			continue;
		bar2 = strchr(bar + 1, '|');
		if (bar2 != NULL)
			*bar2 = '\0';
		for (char *save2 = NULL, *b = strtok_r(bar + 1, ",", &save2);
		     b != NULL; b = strtok_r(NULL, ",", &save2)) {
			char addr[64];
			unsigned int w;
			int end = 0;
			struct rec_backend *be;

			if (sscanf(b, " %63s w%u%n", addr, &w, &end) != 2)
				continue;
			s->backends = realloc(s->backends,
					      (s->nbackends + 1) *
						      sizeof(*s->backends));
			be = &s->backends[s->nbackends++];
			memset(be, 0, sizeof(*be));
			ck_assert_int_eq(lb_addr_port_parse(addr, &be->addr,
							    &be->port, false),
					 0);
			be->weight = w;
			/* "w0d": down */
			be->flags = b[end] == 'd' ? LB_BACKEND_F_DOWN : 0;
			/* "w1 u10/5": thresholds */
			sscanf(b + end + (b[end] == 'd'), " u%u/%u",
			       &be->u_thresh, &be->l_thresh);
		}
		if (bar2 == NULL)
			continue;
		for (char *save3 = NULL, *l = strtok_r(bar2 + 1, " ,", &save3);
		     l != NULL; l = strtok_r(NULL, " ,", &save3)) {
			s->laddrs =
				realloc(s->laddrs,
					(s->nladdrs + 1) * sizeof(*s->laddrs));
			ck_assert_int_eq(
				lb_addr_parse(l + 1, &s->laddrs[s->nladdrs++]),
				0);
		}
	}
	free(copy);
	return v;
}

/* "SERVICE_NEW 10.0.0.1:80" / "BACKEND_SET 10.0.0.1:80 10.1.0.1:80 w3" */
static void
format_op(const struct rec_op *op, char *buf, size_t len)
{
	char vip[LB_ADDRPORTSTRLEN], x[LB_ADDRPORTSTRLEN];
	int n = snprintf(buf, len, "%s %s", rec_op_name(op->type),
			 lb_addr_port_format(&op->svc->vip, op->svc->vport, vip,
					     sizeof(vip)));

	if (op->be != NULL)
		n += snprintf(buf + n, len - (size_t)n, " %s w%u%s",
			      lb_addr_port_format(&op->be->addr, op->be->port,
						  x, sizeof(x)),
			      op->be->weight,
			      op->be->flags & LB_BACKEND_F_DOWN ? "d" : "");
	if (op->be != NULL && op->be->u_thresh != 0)
		n += snprintf(buf + n, len - (size_t)n, " u%u/%u",
			      op->be->u_thresh, op->be->l_thresh);
	if (op->laddr != NULL)
		snprintf(buf + n, len - (size_t)n, " %s",
			 lb_addr_format(op->laddr, x, sizeof(x)));
}

/* ---- a model of the dataplane's service table ------------------------- */

static struct rec_svc *
model_find(struct rec_svc *v, size_t n, const struct rec_svc *key)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].proto == key->proto && v[i].vport == key->vport &&
		    lb_addr_equal(&v[i].vip, &key->vip))
			return &v[i];
	return NULL;
}

static struct rec_backend *
model_find_be(struct rec_svc *s, const struct rec_backend *key)
{
	for (uint32_t i = 0; i < s->nbackends; i++)
		if (s->backends[i].port == key->port &&
		    lb_addr_equal(&s->backends[i].addr, &key->addr))
			return &s->backends[i];
	return NULL;
}

static struct lb_addr *
model_find_laddr(struct rec_svc *s, const struct lb_addr *key)
{
	for (uint32_t i = 0; i < s->nladdrs; i++)
		if (lb_addr_equal(&s->laddrs[i], key))
			return &s->laddrs[i];
	return NULL;
}

/* Copy of have, with arrays of its own (freed by rec_svcs_free). */
static struct rec_svc *
model_copy(const struct rec_svc *have, size_t n)
{
	struct rec_svc *v = calloc(n + 1, sizeof(*v));

	ck_assert_ptr_nonnull(v);
	for (size_t i = 0; i < n; i++) {
		v[i] = have[i];
		v[i].backends =
			calloc(have[i].nbackends + 1, sizeof(*v[i].backends));
		v[i].laddrs = calloc(have[i].nladdrs + 1, sizeof(*v[i].laddrs));
		ck_assert(v[i].backends != NULL && v[i].laddrs != NULL);
		/* (memcpy from NULL is undefined even for 0 bytes) */
		if (have[i].nbackends > 0)
			memcpy(v[i].backends, have[i].backends,
			       have[i].nbackends * sizeof(*v[i].backends));
		if (have[i].nladdrs > 0)
			memcpy(v[i].laddrs, have[i].laddrs,
			       have[i].nladdrs * sizeof(*v[i].laddrs));
	}
	return v;
}

/*
 * Apply one operation as the dataplane would: SERVICE_NEW creates the
 * service alone (its backends and laddrs come as their own operations),
 * SERVICE_SET changes what can change in place (not the mode), and an
 * operation on something absent, or a NEW of something present, fails
 * the test.
 */
static void
model_apply(struct rec_svc **v, size_t *n, const struct rec_op *op,
	    const char *name)
{
	struct rec_svc *s = model_find(*v, *n, op->svc);
	char line[256];

	format_op(op, line, sizeof(line));
	switch (op->type) {
	case REC_SVC_NEW:
		ck_assert_msg(s == NULL, "case '%s': %s: service exists", name,
			      line);
		*v = realloc(*v, (*n + 1) * sizeof(**v));
		ck_assert_ptr_nonnull(*v);
		s = &(*v)[(*n)++];
		*s = *op->svc;
		s->backends = NULL;
		s->nbackends = 0;
		s->laddrs = NULL;
		s->nladdrs = 0;
		return;
	case REC_SVC_DEL:
		ck_assert_msg(s != NULL, "case '%s': %s: no such service", name,
			      line);
		free(s->backends);
		free(s->laddrs);
		*s = (*v)[--(*n)];
		return;
	default:
		break;
	}
	ck_assert_msg(s != NULL, "case '%s': %s: no such service", name, line);
	switch (op->type) {
	case REC_SVC_SET:
		strcpy(s->name, op->svc->name);
		strcpy(s->sched, op->svc->sched);
		s->persist = op->svc->persist;
		s->flags = op->svc->flags;
		s->mh_size = op->svc->mh_size;
		s->max_conns = op->svc->max_conns;
		break;
	case REC_BACKEND_NEW:
		ck_assert_msg(model_find_be(s, op->be) == NULL,
			      "case '%s': %s: backend exists", name, line);
		s->backends = realloc(
			s->backends, (s->nbackends + 1) * sizeof(*s->backends));
		ck_assert_ptr_nonnull(s->backends);
		s->backends[s->nbackends++] = *op->be;
		break;
	case REC_BACKEND_SET:
		ck_assert_msg(model_find_be(s, op->be) != NULL,
			      "case '%s': %s: no such backend", name, line);
		model_find_be(s, op->be)->weight = op->be->weight;
		model_find_be(s, op->be)->flags = op->be->flags;
		model_find_be(s, op->be)->u_thresh = op->be->u_thresh;
		model_find_be(s, op->be)->l_thresh = op->be->l_thresh;
		break;
	case REC_BACKEND_DEL: {
		struct rec_backend *be = model_find_be(s, op->be);

		ck_assert_msg(be != NULL, "case '%s': %s: no such backend",
			      name, line);
		*be = s->backends[--s->nbackends];
		break;
	}
	case REC_LADDR_NEW:
		ck_assert_msg(model_find_laddr(s, op->laddr) == NULL,
			      "case '%s': %s: laddr exists", name, line);
		s->laddrs = realloc(s->laddrs,
				    (s->nladdrs + 1) * sizeof(*s->laddrs));
		ck_assert_ptr_nonnull(s->laddrs);
		s->laddrs[s->nladdrs++] = *op->laddr;
		break;
	case REC_LADDR_DEL: {
		struct lb_addr *la = model_find_laddr(s, op->laddr);

		ck_assert_msg(la != NULL, "case '%s': %s: no such laddr", name,
			      line);
		*la = s->laddrs[--s->nladdrs];
		break;
	}
	default:
		ck_abort_msg("case '%s': unknown operation %d", name,
			     (int)op->type);
	}
}

/*
 * The model holds exactly want, compared field by field here (not with
 * rec_diff, which would share any blind spot of the code under test).
 * Attributes the dataplane does not report (an empty name) or that want
 * leaves to it (mh_size 0) are not compared.
 */
static void
model_check(struct rec_svc *m, size_t nm, const struct rec_svc *w, size_t nw,
	    const char *name)
{
	ck_assert_msg(nm == nw,
		      "case '%s': %zu services after the plan, %zu "
		      "wanted",
		      name, nm, nw);
	for (size_t i = 0; i < nw; i++) {
		const struct rec_svc *ws = &w[i];
		struct rec_svc *s = model_find(m, nm, ws);
		char vip[LB_ADDRPORTSTRLEN];

		lb_addr_port_format(&ws->vip, ws->vport, vip, sizeof(vip));
		ck_assert_msg(s != NULL, "case '%s': %s missing after the plan",
			      name, vip);
		ck_assert_msg(s->mode == ws->mode &&
				      strcmp(s->sched, ws->sched) == 0 &&
				      s->persist == ws->persist &&
				      s->flags == ws->flags &&
				      s->max_conns == ws->max_conns,
			      "case '%s': %s: attributes differ after the plan",
			      name, vip);
		ck_assert_msg(ws->mh_size == 0 || s->mh_size == ws->mh_size,
			      "case '%s': %s: mh_size", name, vip);
		ck_assert_msg(s->name[0] == '\0' ||
				      strcmp(s->name, ws->name) == 0,
			      "case '%s': %s: name", name, vip);
		ck_assert_msg(s->nbackends == ws->nbackends,
			      "case '%s': %s: %u backends after the plan, %u "
			      "wanted",
			      name, vip, s->nbackends, ws->nbackends);
		for (uint32_t j = 0; j < ws->nbackends; j++) {
			struct rec_backend *be =
				model_find_be(s, &ws->backends[j]);

			ck_assert_msg(
				be != NULL &&
					be->weight == ws->backends[j].weight &&
					be->flags == ws->backends[j].flags &&
					be->u_thresh ==
						ws->backends[j].u_thresh &&
					be->l_thresh ==
						ws->backends[j].l_thresh,
				"case '%s': %s: backend %u missing or "
				"other weight or flags after the plan",
				name, vip, j);
		}
		ck_assert_msg(s->nladdrs == ws->nladdrs,
			      "case '%s': %s: %u laddrs after the plan, %u "
			      "wanted",
			      name, vip, s->nladdrs, ws->nladdrs);
		for (uint32_t j = 0; j < ws->nladdrs; j++)
			ck_assert_msg(model_find_laddr(s, &ws->laddrs[j]) !=
					      NULL,
				      "case '%s': %s: laddr %u missing after "
				      "the plan",
				      name, vip, j);
	}
}

#define S1 "tcp 10.0.0.1:80 dr wlc p0 f0"
#define S2 "tcp 10.0.0.2:80 nat rr p0 f0"
#define B1 "10.1.0.1:80 w1"
#define B2 "10.1.0.2:80 w2"

static const struct {
	const char *name;
	const char *want;
	const char *have;
	const char *ops; /* expected, one per line */
} cases[] = {
	{ "both empty", "", "", "" },
	{ "unchanged", S1 "|" B1 "," B2, S1 "|" B1 "," B2, "" },
	{ "unchanged, other backend order", S1 "|" B2 "," B1, S1 "|" B1 "," B2,
	  "" },
	{ "add service", S1 "|" B1, "",
	  "SERVICE_NEW 10.0.0.1:80\n"
	  "BACKEND_NEW 10.0.0.1:80 10.1.0.1:80 w1\n" },
	{ "remove service", "", S1 "|" B1, "SERVICE_DEL 10.0.0.1:80\n" },
	{ "add backend", S1 "|" B1 "," B2, S1 "|" B1,
	  "BACKEND_NEW 10.0.0.1:80 10.1.0.2:80 w2\n" },
	{ "remove backend", S1 "|" B1, S1 "|" B1 "," B2,
	  "BACKEND_DEL 10.0.0.1:80 10.1.0.2:80 w2\n" },
	{ "weight change", S1 "|10.1.0.1:80 w0," B2, S1 "|" B1 "," B2,
	  "BACKEND_SET 10.0.0.1:80 10.1.0.1:80 w0\n" },
	{ "backend goes down (weight already 0)", S1 "|10.1.0.1:80 w0d," B2,
	  S1 "|10.1.0.1:80 w0," B2,
	  "BACKEND_SET 10.0.0.1:80 10.1.0.1:80 w0d\n" },
	{ "backend comes up", S1 "|" B1 "," B2, S1 "|10.1.0.1:80 w0d," B2,
	  "BACKEND_SET 10.0.0.1:80 10.1.0.1:80 w1\n" },
	{ "new backend that is down", S1 "|" B1 ",10.1.0.2:80 w0d", S1 "|" B1,
	  "BACKEND_NEW 10.0.0.1:80 10.1.0.2:80 w0d\n" },
	{ "scheduler change", "tcp 10.0.0.1:80 dr mh p0 f0|" B1, S1 "|" B1,
	  "SERVICE_SET 10.0.0.1:80\n" },
	{ "persistence change", "tcp 10.0.0.1:80 dr wlc p300 f0|" B1, S1 "|" B1,
	  "SERVICE_SET 10.0.0.1:80\n" },
	{ "mode change: del + add", "tcp 10.0.0.1:80 nat wlc p0 f0|" B1,
	  S1 "|" B1,
	  "SERVICE_DEL 10.0.0.1:80\n"
	  "SERVICE_NEW 10.0.0.1:80\n"
	  "BACKEND_NEW 10.0.0.1:80 10.1.0.1:80 w1\n" },
	{ "same vip, other port", "tcp 10.0.0.1:81 dr wlc p0 f0", S1,
	  "SERVICE_DEL 10.0.0.1:80\nSERVICE_NEW 10.0.0.1:81\n" },
	{ "same vip, other proto", "udp 10.0.0.1:80 dr wlc p0 f0", S1,
	  "SERVICE_DEL 10.0.0.1:80\nSERVICE_NEW 10.0.0.1:80\n" },
	{ "replace a backend: new before del", S1 "|" B2, S1 "|" B1,
	  "BACKEND_NEW 10.0.0.1:80 10.1.0.2:80 w2\n"
	  "BACKEND_DEL 10.0.0.1:80 10.1.0.1:80 w1\n" },
	{ "backend port differs", S1 "|10.1.0.1:81 w1", S1 "|" B1,
	  "BACKEND_NEW 10.0.0.1:80 10.1.0.1:81 w1\n"
	  "BACKEND_DEL 10.0.0.1:80 10.1.0.1:80 w1\n" },
	{ "fnat laddrs",
	  "tcp 10.0.0.3:80 fnat rr p0 f1|" B1 "|l10.9.0.1 l10.9.0.2",
	  "tcp 10.0.0.3:80 fnat rr p0 f1|" B1 "|l10.9.0.2 l10.9.0.3",
	  "LADDR_NEW 10.0.0.3:80 10.9.0.1\n"
	  "LADDR_DEL 10.0.0.3:80 10.9.0.3\n" },
	{ "new fnat service: laddrs before backends",
	  "tcp 10.0.0.3:80 fnat rr p0 f1|" B1 "|l10.9.0.1", "",
	  "SERVICE_NEW 10.0.0.3:80\n"
	  "LADDR_NEW 10.0.0.3:80 10.9.0.1\n"
	  "BACKEND_NEW 10.0.0.3:80 10.1.0.1:80 w1\n" },
	{ "flags change", "tcp 10.0.0.3:80 fnat rr p0 f3|" B1,
	  "tcp 10.0.0.3:80 fnat rr p0 f1|" B1, "SERVICE_SET 10.0.0.3:80\n" },
	{ "max_conns change", S1 " c100|" B1, S1 "|" B1,
	  "SERVICE_SET 10.0.0.1:80\n" },
	{ "backend thresholds change", S1 "|10.1.0.1:80 w1 u10/5", S1 "|" B1,
	  "BACKEND_SET 10.0.0.1:80 10.1.0.1:80 w1 u10/5\n" },
	{ "several services, only one touched",
	  S1 "|" B1 ";" S2 "|" B2 ";tcp 10.0.0.4:80 dr rr p0 f0",
	  "tcp 10.0.0.4:80 dr rr p0 f0;" S2 "|" B2 ";" S1 "|10.1.0.1:80 w5",
	  "BACKEND_SET 10.0.0.1:80 10.1.0.1:80 w1\n" },
	{ "deletes first", S2, S1 "|" B1,
	  "SERVICE_DEL 10.0.0.1:80\nSERVICE_NEW 10.0.0.2:80\n" },
	{ "ipv6", "tcp [2001:db8::1]:443 dr wlc p0 f0|[2001:db8:1::1]:443 w1",
	  "tcp [2001:db8::1]:443 dr wlc p0 f0",
	  "BACKEND_NEW [2001:db8::1]:443 [2001:db8:1::1]:443 w1\n" },
	{ "v4 and v6 with the same bytes differ",
	  "tcp [::a00:1]:80 dr wlc p0 f0", S1,
	  "SERVICE_DEL 10.0.0.1:80\nSERVICE_NEW [::10.0.0.1]:80\n" },
};

START_TEST(test_diff)
{
	size_t nw, nh;
	struct rec_svc *w = parse_list(cases[_i].want, &nw);
	struct rec_svc *h = parse_list(cases[_i].have, &nh);
	struct rec_svc *model;
	struct rec_plan plan = { 0 };
	char *got = NULL, line[256];
	size_t len = 0, nm;
	FILE *fp = open_memstream(&got, &len);

	ck_assert_int_eq(rec_diff(w, nw, h, nh, &plan), 0);
	for (size_t i = 0; i < plan.n; i++) {
		format_op(&plan.ops[i], line, sizeof(line));
		fprintf(fp, "%s\n", line);
	}
	fclose(fp);
	ck_assert_msg(strcmp(got, cases[_i].ops) == 0,
		      "case '%s':\ngot:\n%sexpected:\n%s", cases[_i].name, got,
		      cases[_i].ops);
	free(got);

	/* applying the plan to have gives want: diffing again is empty */
	model = model_copy(h, nh);
	nm = nh;
	for (size_t i = 0; i < plan.n; i++)
		model_apply(&model, &nm, &plan.ops[i], cases[_i].name);
	rec_plan_free(&plan);
	model_check(model, nm, w, nw, cases[_i].name);
	/* and rec_diff sees nothing left to do */
	ck_assert_int_eq(rec_diff(w, nw, model, nm, &plan), 0);
	for (size_t i = 0; i < plan.n; i++) {
		format_op(&plan.ops[i], line, sizeof(line));
		fprintf(stderr, "case '%s': after the plan, still: %s\n",
			cases[_i].name, line);
	}
	ck_assert_msg(plan.n == 0,
		      "case '%s': the plan applied to have is not want "
		      "(%zu operations left)",
		      cases[_i].name, plan.n);
	rec_plan_free(&plan);
	rec_svcs_free(model, nm);
	rec_svcs_free(w, nw);
	rec_svcs_free(h, nh);
}
END_TEST

/* Names and mh_size: only differences the dataplane can report count. */
START_TEST(test_optional_attrs)
{
	size_t nw, nh;
	struct rec_svc *w = parse_list(S1, &nw), *h = parse_list(S1, &nh);
	struct rec_plan plan = { 0 };

	strcpy(w->name, "web");
	w->mh_size = 0; /* the dataplane's default */
	h->mh_size = 65537;
	ck_assert_int_eq(rec_diff(w, nw, h, nh, &plan), 0);
	ck_assert_uint_eq(plan.n, 0); /* h reports no name */
	strcpy(h->name, "old");
	ck_assert_int_eq(rec_diff(w, nw, h, nh, &plan), 0);
	ck_assert_uint_eq(plan.n, 1);
	ck_assert_int_eq(plan.ops[0].type, REC_SVC_SET);
	rec_plan_free(&plan);
	strcpy(h->name, "web");
	w->mh_size = 251;
	ck_assert_int_eq(rec_diff(w, nw, h, nh, &plan), 0);
	ck_assert_uint_eq(plan.n, 1);
	rec_plan_free(&plan);
	rec_svcs_free(w, nw);
	rec_svcs_free(h, nh);
}
END_TEST

/* The lbmsg requests built for operations pass the protocol's checks. */
START_TEST(test_op_messages)
{
	size_t nw;
	struct rec_svc *w = parse_list(
		"tcp 10.0.0.3:80 fnat mh p60 f1|" B1 "|l10.9.0.1", &nw);
	const struct rec_op ops[] = {
		{ REC_SVC_NEW, w, NULL, NULL },
		{ REC_SVC_SET, w, NULL, NULL },
		{ REC_SVC_DEL, w, NULL, NULL },
		{ REC_BACKEND_NEW, w, &w->backends[0], NULL },
		{ REC_BACKEND_SET, w, &w->backends[0], NULL },
		{ REC_BACKEND_DEL, w, &w->backends[0], NULL },
		{ REC_LADDR_NEW, w, NULL, &w->laddrs[0] },
		{ REC_LADDR_DEL, w, NULL, &w->laddrs[0] },
	};
	static const uint16_t types[] = {
		LB_MSG_SERVICE_NEW, LB_MSG_SERVICE_SET, LB_MSG_SERVICE_DEL,
		LB_MSG_BACKEND_NEW, LB_MSG_BACKEND_SET, LB_MSG_BACKEND_DEL,
		LB_MSG_LADDR_NEW,   LB_MSG_LADDR_DEL,
	};

	strcpy(w->name, "web");
	w->mh_size = 251;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct nl_msg *msg = dpc_op_msg(&ops[i]);
		struct nlmsghdr *nlh;
		struct nlattr *tb[LB_ATTR_MAX + 1];
		char err[256];
		struct lb_addr vip;
		uint16_t vport;
		uint8_t proto;

		ck_assert_ptr_nonnull(msg);
		nlh = nlmsg_hdr(msg);
		nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
		ck_assert_uint_eq(nlh->nlmsg_type, types[i]);
		ck_assert_msg(lbmsg_parse(nlh, nlh->nlmsg_len, tb, err,
					  sizeof(err)) == 0,
			      "%s: %s", rec_op_name(ops[i].type), err);
		ck_assert_int_eq(lbmsg_get_svc_key(tb, &proto, &vip, &vport),
				 0);
		ck_assert_uint_eq(vport, 80);
		if (ops[i].type == REC_SVC_NEW) {
			ck_assert_uint_eq(nla_get_u8(tb[LB_ATTR_MODE]),
					  LB_MODE_FNAT);
			ck_assert_str_eq(nla_get_string(tb[LB_ATTR_SCHED]),
					 "mh");
			ck_assert_uint_eq(nla_get_u32(tb[LB_ATTR_MH_SIZE]),
					  251);
			ck_assert_uint_eq(nla_get_u32(tb[LB_ATTR_PERSIST]), 60);
			ck_assert_str_eq(nla_get_string(tb[LB_ATTR_NAME]),
					 "web");
		}
		if (ops[i].type == REC_BACKEND_SET) {
			ck_assert_uint_eq(nla_get_u32(tb[LB_ATTR_WEIGHT]), 1);
			ck_assert_uint_eq(nla_get_u16(tb[LB_ATTR_PORT]), 80);
		}
		nlmsg_free(msg);
	}
	rec_svcs_free(w, nw);
}
END_TEST

static Suite *
reconcile_suite(void)
{
	Suite *s = suite_create("reconcile");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_diff, 0,
			    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_optional_attrs);
	tcase_add_test(tc, test_op_messages);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(reconcile_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
