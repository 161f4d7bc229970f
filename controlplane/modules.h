/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The table of services that plug into edgelbd, one struct lbd_module per
 * service and nothing parallel to it: its config section (struct
 * cfg_module_ops, whose keys are given as a struct cfg_key table as
 * the core sections are; the daemon derives cfg_load()'s list from this
 * table), its life cycle hooks (start, apply on SIGHUP, drain/drained on
 * SIGTERM, stop), what `lbctl module show` reports of it (ctl_show), the
 * lbctl commands it takes (ctl_cmd), its
 * metrics (series registered by start on d->metrics, scrape-time samples
 * through collect) and, through start, its listeners (on d->base, or on
 * service threads of loops.h). Adding a service is adding one entry to
 * the table in modules.c; nothing else in the daemon names it.
 *
 * Hooks run on the main loop. Code of a module that runs on its own
 * threads reads services, backends and health only through the snapshot
 * of view.h, and never calls dp.sock.
 */
#ifndef EDGELBD_MODULES_H
#define EDGELBD_MODULES_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct lbd;
struct metrics;
struct nl_msg;

struct lbd_module {
	const char *name;
	const struct cfg_module_ops *cfg; /* its section(s), or NULL */
	/*
	 * Called once the first configuration is loaded; the module keeps
	 * its runtime in *state. 0 or -errno (the daemon does not start).
	 */
	int (*start)(struct lbd *d, const struct cfg *c, void **state);
	/*
	 * After a reload: apply the difference between old and new. On
	 * failure (-errno) the module must keep running with old.
	 */
	int (*apply)(struct lbd *d, void *state, const struct cfg *old,
		     const struct cfg *new);
	/*
	 * Its scrape-time metrics: a collector (metrics.h) the daemon
	 * registers once start succeeded and removes before stop; series
	 * updated as events happen are registered by start on d->metrics.
	 * May be NULL.
	 */
	int (*collect)(void *state, struct metrics *m);
	/*
	 * lbctl module show NAME: add the module's own attributes (its
	 * COUNTERS) to its MODULE_GET part. 0 or -errno. May be NULL.
	 */
	int (*ctl_show)(struct lbd *d, void *state, struct nl_msg *part);
	/*
	 * lbctl commands for this module (LB_MSG_MODULE_CMD, its NAME
	 * naming the module); reply parts added to reply (which carries
	 * NAME and MOD_CMD already and is sent when this returns 0). 0 or
	 * -errno with err set. May be NULL.
	 */
	int (*ctl_cmd)(struct lbd *d, void *state, struct nl_msg *req,
		       struct nl_msg *reply, char *err, size_t errlen);
	/*
	 * SIGTERM: stop accepting new work; work in flight goes on. 0 or
	 * -errno. May be NULL (the module has nothing to drain).
	 */
	int (*drain)(struct lbd *d, void *state);
	/* True once nothing is in flight (polled after drain). May be NULL. */
	bool (*drained)(void *state);
	void (*stop)(struct lbd *d, void *state);
};

extern const struct lbd_module *const lbd_modules[];
extern const size_t lbd_nmodules;

/*
 * The config hooks of every module of lbd_modules, in table order, for
 * cfg_load(): into out (CFG_MAX_MODULES entries); returns how many.
 */
size_t lbd_cfg_modules(const struct cfg_module_ops **out);

/*
 * The config hooks of the n modules of mods into out (CFG_MAX_MODULES
 * entries), in table order; returns how many.
 */
size_t lbd_modules_cfg(const struct lbd_module *const *mods, size_t n,
		       const struct cfg_module_ops **out);

#endif
