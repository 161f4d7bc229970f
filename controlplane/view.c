/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared read-only view of services and health (see view.h). A
 * snapshot is one allocation: the struct view, then the services, then
 * every backend, so that freeing it is one free().
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "health.h"
#include "view.h"
#include "edgelb/log.h"

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct view_service *)a)->name,
		      ((const struct view_service *)b)->name);
}

struct view *
view_build(const struct cfg *c, const struct hc *hc)
{
	size_t nb = 0, size;
	struct view_service *svc;
	struct view_backend *be;
	struct view *v;

	for (uint32_t i = 0; i < c->nservices; i++)
		nb += c->services[i].nbackends;
	size = sizeof(*v) + c->nservices * sizeof(*svc) + nb * sizeof(*be);
	v = calloc(1, size);
	if (v == NULL)
		return NULL;
	svc = (struct view_service *)(v + 1);
	be = (struct view_backend *)(svc + c->nservices);
	atomic_init(&v->refs, 1);
	v->nservices = c->nservices;
	v->services = svc;
	for (uint32_t i = 0; i < c->nservices; i++) {
		const struct cfg_service *s = &c->services[i];
		struct view_service *o = &svc[i];

		snprintf(o->name, sizeof(o->name), "%s", s->name);
		o->proto = s->proto;
		o->vip = s->vip;
		o->vport = s->vport;
		o->mode = s->mode;
		o->backends = be;
		o->nbackends = s->nbackends;
		for (uint32_t j = 0; j < s->nbackends; j++, be++) {
			const struct cfg_backend *b = &s->backends[j];
			bool checked = s->check[0] != '\0' && hc != NULL;

			be->addr = b->addr;
			be->port = b->port;
			be->weight = b->weight;
			be->health =
				checked ? (uint8_t)hc_state(hc, s->name,
							    &b->addr, b->port)
					: LB_HEALTH_UNKNOWN;
			be->usable = b->weight > 0 &&
				     (!checked || hc_state_healthy(be->health));
			o->healthy |= be->usable;
		}
	}
	qsort(svc, c->nservices, sizeof(*svc), by_name);
	return v;
}

void
view_put(struct view *v)
{
	if (v != NULL &&
	    atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) == 1)
		free(v);
}

struct view *
view_get(struct view_pub *p)
{
	struct view *v;

	atomic_fetch_add(&p->entering, 1);
	v = atomic_load(&p->cur);
	if (v != NULL)
		atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
	atomic_fetch_sub(&p->entering, 1);
	return v;
}

void
view_publish(struct view_pub *p, struct view *v)
{
	struct view *old;

	v->generation = ++p->generation;
	old = atomic_exchange(&p->cur, v);
	/*
	 * A reader that loaded old is inside view_get until it counted its
	 * reference: wait for an instant with nobody inside (two atomic
	 * operations long), then old's count covers every reader.
	 */
	while (atomic_load(&p->entering) != 0)
		sched_yield();
	view_put(old);
}

const struct view_service *
view_find(const struct view *v, const char *name)
{
	struct view_service key;

	if (v == NULL || strlen(name) > LB_NAME_MAX)
		return NULL;
	strcpy(key.name, name);
	return bsearch(&key, v->services, v->nservices, sizeof(key), by_name);
}

int
view_refresh(struct view_pub *p, const struct cfg *c, const struct hc *hc)
{
	struct view *v = view_build(c, hc);

	if (v == NULL) {
		LB_ERR("service view: out of memory; readers keep the last "
		       "one");
		return -ENOMEM;
	}
	view_publish(p, v);
	return 0;
}

void
view_pub_fini(struct view_pub *p)
{
	view_put(atomic_exchange(&p->cur, NULL));
}
