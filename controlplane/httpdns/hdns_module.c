/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HttpDNS module of edgelbd (see hdns_module.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "hdns_module.h"
#include "hdns_srv.h"
#include "health.h"
#include "view.h"
#include "edgelb/log.h"

struct hdns_mod {
	struct lbd *d;
	struct hdns_srv *srv; /* NULL while nothing is to be listened on */
};

/* ---- config hooks ------------------------------------------------------ */

static void *
conf_create(void)
{
	struct hdns_conf *c = malloc(sizeof(*c));

	if (c != NULL)
		hdns_conf_init(c);
	return c;
}

static void
conf_destroy(void *state)
{
	hdns_conf_release(state);
	free(state);
}

static int
conf_validate(void *state, const struct cfg *c, char *err, size_t errlen)
{
	const struct hdns_conf *hc = state;

	if (hdns_conf_validate(hc, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < hc->nbinds; i++)
		for (size_t j = 0; j < hc->binds[i].nservices; j++)
			if (cfg_service_find(c, hc->binds[i].services[j]) ==
			    NULL) {
				snprintf(err, errlen,
					 "domain %s: unknown service '%s'",
					 hc->binds[i].domain,
					 hc->binds[i].services[j]);
				return -1;
			}
	return 0;
}

const struct cfg_module_ops hdns_cfg_ops = {
	.section = "httpdns",
	.named = false,
	.create = conf_create,
	.destroy = conf_destroy,
	.keys = hdns_conf_keys,
	.validate = conf_validate,
};

/* ---- the daemon's state as a source -------------------------------------- */

static int
source_service(void *arg, const char *name, struct lb_addr *vip, bool *healthy)
{
	struct hdns_mod *m = arg;
	struct view *v = view_get(m->d->view); /* never walks the config */
	const struct view_service *s = view_find(v, name);
	int rc = -ENOENT;

	if (s != NULL && s->vip.family != 0) {
		*vip = s->vip;
		*healthy = s->healthy;
		rc = 0;
	}
	view_put(v);
	return rc;
}

/* ---- life cycle ------------------------------------------------------------ */

static bool
wants_server(const struct hdns_conf *c)
{
	return c != NULL && (c->has_listen || c->has_https);
}

static int
mod_start(struct lbd *d, const struct cfg *c, void **state)
{
	const struct hdns_conf *hc = cfg_module_state(c, &hdns_cfg_ops);
	struct hdns_mod *m = calloc(1, sizeof(*m));
	struct hdns_source src = { .service = source_service, .arg = m };

	if (m == NULL)
		return -ENOMEM;
	m->d = d;
	if (wants_server(hc)) {
		m->srv = hdns_srv_new(d->base, hc, &src, d->metrics);
		if (m->srv == NULL) {
			int rc = -errno;

			free(m);
			return rc;
		}
		LB_NOTICE("httpdns: %zu domains, %zu views", hc->nbinds,
			  hc->nviews);
	}
	*state = m;
	return 0;
}

static int
mod_apply(struct lbd *d, void *state, const struct cfg *old,
	  const struct cfg *new)
{
	const struct hdns_conf *hc = cfg_module_state(new, &hdns_cfg_ops);
	struct hdns_mod *m = state;
	struct hdns_source src = { .service = source_service, .arg = m };

	(void)old;
	if (m == NULL)
		return -EINVAL;
	if (!wants_server(hc)) {
		hdns_srv_free(m->srv);
		m->srv = NULL;
		return 0;
	}
	if (m->srv != NULL)
		return hdns_srv_update(m->srv, hc);
	m->srv = hdns_srv_new(d->base, hc, &src, d->metrics);
	return m->srv != NULL ? 0 : -errno;
}

/* SIGTERM: the listeners close, idle keep-alive connections close, the
 * requests in flight are answered. */
static int
mod_drain(struct lbd *d, void *state)
{
	struct hdns_mod *m = state;

	(void)d;
	if (m->srv != NULL)
		hdns_srv_drain(m->srv);
	return 0;
}

static bool
mod_drained(void *state)
{
	struct hdns_mod *m = state;

	return m->srv == NULL || hdns_srv_drained(m->srv);
}

static void
mod_stop(struct lbd *d, void *state)
{
	struct hdns_mod *m = state;

	(void)d;
	hdns_srv_free(m->srv);
	free(m);
}

const struct lbd_module hdns_module = {
	.name = "httpdns",
	.cfg = &hdns_cfg_ops,
	.start = mod_start,
	.apply = mod_apply,
	.drain = mod_drain,
	.drained = mod_drained,
	.stop = mod_stop,
};
