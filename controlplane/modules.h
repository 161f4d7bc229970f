/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The table of services that plug into edgelbd: each registers its config
 * sections, its start/apply/stop hooks and (through start) its metrics and
 * listeners on the daemon's one event loop. Adding a service is adding one
 * entry to the table in modules.c; nothing else in the daemon names it.
 */
#ifndef EDGELBD_MODULES_H
#define EDGELBD_MODULES_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct lbd;

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

/* The config hooks of every module, in table order, for cfg_load(). */
const struct cfg_module_ops *const *lbd_cfg_modules(size_t *n);

/*
 * The config hooks of the n modules of mods into out (CFG_MAX_MODULES
 * entries), in table order; returns how many.
 */
size_t lbd_modules_cfg(const struct lbd_module *const *mods, size_t n,
		       const struct cfg_module_ops **out);

#endif
