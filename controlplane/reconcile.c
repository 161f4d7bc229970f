/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reconciliation diff (see reconcile.h). Both lists are indexed by key
 * (sorted pointer arrays, binary search), so a diff of n services with m
 * backends each costs O(n m log m).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reconcile.h"
#include "edgelb/util.h"

static int
addr_cmp(const struct lb_addr *a, const struct lb_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->bytes, b->bytes, lb_addr_len(a));
}

static int
svc_cmp(const void *pa, const void *pb)
{
	const struct rec_svc *a = *(const struct rec_svc *const *)pa;
	const struct rec_svc *b = *(const struct rec_svc *const *)pb;

	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->vport != b->vport)
		return a->vport < b->vport ? -1 : 1;
	return addr_cmp(&a->vip, &b->vip);
}

static int
be_cmp(const void *pa, const void *pb)
{
	const struct rec_backend *a = *(const struct rec_backend *const *)pa;
	const struct rec_backend *b = *(const struct rec_backend *const *)pb;

	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return addr_cmp(&a->addr, &b->addr);
}

static int
laddr_cmp(const void *pa, const void *pb)
{
	return addr_cmp(*(const struct lb_addr *const *)pa,
			*(const struct lb_addr *const *)pb);
}

/* A sorted array of pointers to the n elements of base (size sz each). */
static const void **
index_of(const void *base, size_t n, size_t sz,
	 int (*cmp)(const void *, const void *))
{
	const void **idx = malloc((n ? n : 1) * sizeof(*idx));

	if (idx == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		idx[i] = (const char *)base + i * sz;
	qsort(idx, n, sizeof(*idx), cmp);
	return idx;
}

static const void *
lookup(const void **idx, size_t n, const void *key,
       int (*cmp)(const void *, const void *))
{
	const void **hit = bsearch(&key, idx, n, sizeof(*idx), cmp);

	return hit != NULL ? *hit : NULL;
}

static int
push(struct rec_plan *p, enum rec_op_type t, const struct rec_svc *s,
     const struct rec_backend *be, const struct lb_addr *la)
{
	if (lb_array_grow(&p->ops, &p->cap, p->n + 1, sizeof(*p->ops)) < 0)
		return -ENOMEM;
	p->ops[p->n++] = (struct rec_op){ t, s, be, la };
	return 0;
}

/* A service that must change in place (SERVICE_SET)? */
static int
svc_attrs_differ(const struct rec_svc *w, const struct rec_svc *h)
{
	return strcmp(w->sched, h->sched) != 0 || w->persist != h->persist ||
	       w->flags != h->flags ||
	       (w->mh_size != 0 && w->mh_size != h->mh_size) ||
	       w->max_conns != h->max_conns || w->conn_rate != h->conn_rate ||
	       w->syn_src_rate != h->syn_src_rate ||
	       (h->name[0] != '\0' && strcmp(w->name, h->name) != 0);
}

static int
add_all(struct rec_plan *p, const struct rec_svc *w)
{
	int rc = 0;

	for (uint32_t i = 0; rc == 0 && i < w->nladdrs; i++)
		rc = push(p, REC_LADDR_NEW, w, NULL, &w->laddrs[i]);
	for (uint32_t i = 0; rc == 0 && i < w->nbackends; i++)
		rc = push(p, REC_BACKEND_NEW, w, &w->backends[i], NULL);
	return rc;
}

/* Children of a service present on both sides. */
static int
diff_children(struct rec_plan *p, const struct rec_svc *w,
	      const struct rec_svc *h)
{
	const void **hb = index_of(h->backends, h->nbackends,
				   sizeof(*h->backends), be_cmp);
	const void **wb = index_of(w->backends, w->nbackends,
				   sizeof(*w->backends), be_cmp);
	const void **hl =
		index_of(h->laddrs, h->nladdrs, sizeof(*h->laddrs), laddr_cmp);
	const void **wl =
		index_of(w->laddrs, w->nladdrs, sizeof(*w->laddrs), laddr_cmp);
	int rc = -ENOMEM;

	if (hb == NULL || wb == NULL || hl == NULL || wl == NULL)
		goto out;
	rc = 0;
	for (uint32_t i = 0; rc == 0 && i < w->nladdrs; i++)
		if (lookup(hl, h->nladdrs, &w->laddrs[i], laddr_cmp) == NULL)
			rc = push(p, REC_LADDR_NEW, w, NULL, &w->laddrs[i]);
	for (uint32_t i = 0; rc == 0 && i < w->nbackends; i++) {
		const struct rec_backend *o =
			lookup(hb, h->nbackends, &w->backends[i], be_cmp);

		if (o == NULL)
			rc = push(p, REC_BACKEND_NEW, w, &w->backends[i], NULL);
		else if (o->weight != w->backends[i].weight ||
			 o->flags != w->backends[i].flags ||
			 o->u_thresh != w->backends[i].u_thresh ||
			 o->l_thresh != w->backends[i].l_thresh)
			rc = push(p, REC_BACKEND_SET, w, &w->backends[i], NULL);
	}
	for (uint32_t i = 0; rc == 0 && i < h->nbackends; i++)
		if (lookup(wb, w->nbackends, &h->backends[i], be_cmp) == NULL)
			rc = push(p, REC_BACKEND_DEL, w, &h->backends[i], NULL);
	for (uint32_t i = 0; rc == 0 && i < h->nladdrs; i++)
		if (lookup(wl, w->nladdrs, &h->laddrs[i], laddr_cmp) == NULL)
			rc = push(p, REC_LADDR_DEL, w, NULL, &h->laddrs[i]);
out:
	free(hb);
	free(wb);
	free(hl);
	free(wl);
	return rc;
}

int
rec_diff(const struct rec_svc *want, size_t nwant, const struct rec_svc *have,
	 size_t nhave, struct rec_plan *plan)
{
	const void **hi = index_of(have, nhave, sizeof(*have), svc_cmp);
	const void **wi = index_of(want, nwant, sizeof(*want), svc_cmp);
	int rc = -ENOMEM;

	if (hi == NULL || wi == NULL)
		goto out;
	rc = 0;
	/* services gone, or whose mode changed */
	for (size_t i = 0; rc == 0 && i < nhave; i++) {
		const struct rec_svc *w = lookup(wi, nwant, &have[i], svc_cmp);

		if (w == NULL || w->mode != have[i].mode)
			rc = push(plan, REC_SVC_DEL, &have[i], NULL, NULL);
	}
	for (size_t i = 0; rc == 0 && i < nwant; i++) {
		const struct rec_svc *w = &want[i];
		const struct rec_svc *h = lookup(hi, nhave, w, svc_cmp);

		if (h == NULL || h->mode != w->mode) {
			rc = push(plan, REC_SVC_NEW, w, NULL, NULL);
			if (rc == 0)
				rc = add_all(plan, w);
			continue;
		}
		if (svc_attrs_differ(w, h))
			rc = push(plan, REC_SVC_SET, w, NULL, NULL);
		if (rc == 0)
			rc = diff_children(plan, w, h);
	}
out:
	free(hi);
	free(wi);
	return rc;
}

void
rec_plan_free(struct rec_plan *plan)
{
	free(plan->ops);
	memset(plan, 0, sizeof(*plan));
}

const char *
rec_op_name(enum rec_op_type t)
{
	static const char *const names[] = {
		[REC_SVC_DEL] = "SERVICE_DEL",
		[REC_SVC_NEW] = "SERVICE_NEW",
		[REC_SVC_SET] = "SERVICE_SET",
		[REC_LADDR_NEW] = "LADDR_NEW",
		[REC_BACKEND_NEW] = "BACKEND_NEW",
		[REC_BACKEND_SET] = "BACKEND_SET",
		[REC_BACKEND_DEL] = "BACKEND_DEL",
		[REC_LADDR_DEL] = "LADDR_DEL",
	};

	return (unsigned int)t <= REC_LADDR_DEL ? names[t] : "?";
}

void
rec_svcs_free(struct rec_svc *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++) {
		free(v[i].backends);
		free(v[i].laddrs);
	}
	free(v);
}
