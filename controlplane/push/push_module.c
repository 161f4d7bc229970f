/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The push module of edgelbd (see push_module.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "push_cluster.h"
#include "push_module.h"
#include "push_srv.h"
#include "push_wire.h"
#include "edgelb/log.h"
#include "edgelb/util.h"

struct push_mod {
	struct push_srv *srv;	      /* NULL while nothing is configured */
	struct push_http *http;	      /* NULL without api_listen */
	struct push_cluster *cluster; /* NULL unless store = redis */
	struct push_wire *wire;	      /* [push_vendor] channels, the wake */
};

/* ---- config hooks -------------------------------------------------------- */

static void *
conf_create(void)
{
	struct push_conf *c = malloc(sizeof(*c));

	if (c != NULL)
		push_conf_init(c);
	return c;
}

static void
conf_destroy(void *state)
{
	free(state);
}

static int
conf_validate(void *state, const struct cfg *c, char *err, size_t errlen)
{
	(void)c;
	return push_conf_validate(state, err, errlen) < 0 ? -1 : 0;
}

const struct cfg_module_ops push_cfg_ops = {
	.section = "push",
	.named = false,
	.create = conf_create,
	.destroy = conf_destroy,
	.keys = push_conf_keys,
	.validate = conf_validate,
};

/* ---- life cycle ------------------------------------------------------------ */

static bool
wanted(const struct push_conf *c)
{
	return c != NULL && (c->has_listen || c->has_tls || c->has_api ||
			     c->has_ws || c->has_wss);
}

static void
mod_free(struct push_mod *m)
{
	/* the API first: its answers waiting for a commit are cancelled */
	push_http_free(m->http);
	push_wire_free(m->wire);
	m->wire = NULL;
	push_srv_free(m->srv);
	push_cluster_free(m->cluster); /* after the devices' presence ends */
	m->http = NULL;
	m->srv = NULL;
	m->cluster = NULL;
}

/* ---- cross-node wake (store = redis) --------------------------------------- */

static void
cluster_on(void *arg, const char *device, bool on)
{
	push_cluster_online(arg, device, on);
}

static bool
cluster_remote(void *arg, const char *device)
{
	return push_cluster_remote(arg, device);
}

static const struct push_cluster_hooks cluster_hooks = {
	.online = cluster_on,
	.remote = cluster_remote,
};

static void
cluster_wake(void *arg, const char *device)
{
	struct push_mod *m = arg;

	if (m->srv != NULL)
		push_srv_poke(m->srv, device);
}

/* A presence lasts three heartbeats without a PING. */
static int
cluster_open(struct lbd *d, struct push_mod *m, const struct push_conf *pc)
{
	m->cluster = push_cluster_new(d->base, d->metrics, pc->redis, pc->node,
				      3 * pc->heartbeat_ms, cluster_wake, m);
	if (m->cluster == NULL)
		return -errno;
	push_srv_set_cluster(m->srv, &cluster_hooks, m->cluster);
	return 0;
}

/* Vendor channels on the module's loop; a device with a vendor token and
 * no live channel is woken through them. */
static int
wire_open(struct lbd *d, struct push_mod *m, const struct cfg *c)
{
	char err[256] = "";

	m->wire =
		push_wire_new(d->base, m->srv, c, d->metrics, err, sizeof(err));
	if (m->wire == NULL) {
		LB_ERR("push: %s", err);
		return -errno;
	}
	return 0;
}

static int
mod_open(struct lbd *d, struct push_mod *m, const struct push_conf *pc,
	 const struct cfg *c)
{
	int rc;

	m->srv = push_srv_new(d->base, pc, d->metrics);
	if (m->srv == NULL)
		return -errno;
	if (pc->store_redis) {
		rc = cluster_open(d, m, pc);
		if (rc < 0) {
			mod_free(m);
			return rc;
		}
	}
	if (pc->has_api) {
		m->http = push_http_new(m->srv, d->base, pc, d->metrics);
		if (m->http == NULL) {
			rc = -errno;
			mod_free(m);
			return rc;
		}
	}
	rc = wire_open(d, m, c);
	if (rc < 0) {
		mod_free(m);
		return rc;
	}
	LB_NOTICE("push: channel port %u, store %s %s%s%s",
		  push_srv_port(m->srv), pc->store_redis ? "redis" : "sqlite",
		  pc->store_redis ? pc->redis : pc->db,
		  pc->store_redis ? ", node " : "",
		  pc->store_redis ? pc->node : "");
	return 0;
}

static int
mod_start(struct lbd *d, const struct cfg *c, void **state)
{
	const struct push_conf *pc = cfg_module_state(c, &push_cfg_ops);
	struct push_mod *m = calloc(1, sizeof(*m));
	int rc;

	if (m == NULL)
		return -ENOMEM;
	if (wanted(pc)) {
		rc = mod_open(d, m, pc, c);
		if (rc < 0) {
			free(m);
			return rc;
		}
	}
	*state = m;
	return 0;
}

/* Same listeners and store: only bounds, keys and timeouts change. */
static bool
same_places(const struct push_conf *a, const struct push_conf *b)
{
	return a->has_listen == b->has_listen && a->has_tls == b->has_tls &&
	       a->has_api == b->has_api && a->has_ws == b->has_ws &&
	       a->ws_port == b->ws_port &&
	       lb_addr_equal(&a->ws_addr, &b->ws_addr) &&
	       a->has_wss == b->has_wss && a->wss_port == b->wss_port &&
	       lb_addr_equal(&a->wss_addr, &b->wss_addr) &&
	       a->listen_port == b->listen_port && a->tls_port == b->tls_port &&
	       a->api_port == b->api_port &&
	       lb_addr_equal(&a->listen_addr, &b->listen_addr) &&
	       lb_addr_equal(&a->tls_addr, &b->tls_addr) &&
	       lb_addr_equal(&a->api_addr, &b->api_addr) &&
	       strcmp(a->db, b->db) == 0 && a->store_redis == b->store_redis &&
	       strcmp(a->redis, b->redis) == 0 &&
	       strcmp(a->node, b->node) == 0 && strcmp(a->cert, b->cert) == 0 &&
	       strcmp(a->key, b->key) == 0;
}

static int
mod_apply(struct lbd *d, void *state, const struct cfg *old,
	  const struct cfg *new)
{
	const struct push_conf *pc = cfg_module_state(new, &push_cfg_ops);
	struct push_mod *m = state;

	(void)old;
	if (m->srv == NULL)
		return wanted(pc) ? mod_open(d, m, pc, new) : 0;
	if (!wanted(pc)) {
		mod_free(m);
		return 0;
	}
	if (!same_places(push_srv_conf(m->srv), pc)) {
		LB_WARN("[push] listeners, store, cert or key changed: restart "
			"edgelbd to apply (devices stay connected until then)");
		return -EBUSY;
	}
	push_srv_update(m->srv, pc);
	if (!push_wire_same(m->wire, new)) {
		/* sends in flight are cancelled: their entries stay queued */
		push_wire_free(m->wire);
		m->wire = NULL;
		return wire_open(d, m, new);
	}
	return 0;
}

static int
mod_ctl_show(struct lbd *d, void *state, struct nl_msg *part)
{
	struct push_mod *m = state;

	(void)d;
	return m->srv != NULL ? push_srv_ctl_counters(m->srv, part) : 0;
}

/* lbctl push devices|queue|message (push_ctl.c). */
static int
mod_ctl_cmd(struct lbd *d, void *state, struct nl_msg *req,
	    struct nl_msg *reply, char *err, size_t errlen)
{
	struct push_mod *m = state;

	(void)d;
	if (m->srv == NULL)
		return lb_errf(err, errlen, -ENOTCONN,
			       "push is not configured ([push] listen, "
			       "tls_listen, ws_listen, wss_listen or "
			       "api_listen)");
	return push_ctl_cmd(m->srv, req, reply, err, errlen);
}

/* SIGTERM: no new device connections, the API answers what it has. */
static int
mod_drain(struct lbd *d, void *state)
{
	struct push_mod *m = state;

	(void)d;
	if (m->srv != NULL)
		push_srv_drain(m->srv);
	if (m->http != NULL)
		push_http_drain(m->http);
	return 0;
}

static bool
mod_drained(void *state)
{
	struct push_mod *m = state;

	return m->http == NULL || push_http_drained(m->http);
}

static void
mod_stop(struct lbd *d, void *state)
{
	struct push_mod *m = state;

	(void)d;
	mod_free(m);
	free(m);
}

const struct lbd_module push_module = {
	.name = "push",
	.cfg = &push_cfg_ops,
	.start = mod_start,
	.apply = mod_apply,
	.ctl_show = mod_ctl_show,
	.ctl_cmd = mod_ctl_cmd,
	.drain = mod_drain,
	.drained = mod_drained,
	.stop = mod_stop,
};
