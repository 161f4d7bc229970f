/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The module table (see modules.h). Services whose implementation is not
 * in this build yet reserve their section names with a placeholder: the
 * section is accepted empty, any key is rejected with a message that
 * says so rather than being silently ignored, and `lbctl module show`
 * lists them as reserved.
 */
#include <stdio.h>

#include "httpdns/hdns_module.h"
#include "modules.h"
#include "push/push_module.h"

static int
reserved_key(void *state, const char *name, const char *key, const char *value,
	     char *err, size_t errlen)
{
	(void)state;
	(void)name;
	(void)key;
	(void)value;
	snprintf(err, errlen, "keys of this section are not supported yet");
	return -1;
}

#define RESERVED(var, sect, is_named)                                          \
	static const struct cfg_module_ops var##_cfg = {                       \
		.section = sect,                                               \
		.named = is_named,                                             \
		.key = reserved_key,                                           \
	};                                                                     \
	static const struct lbd_module var##_module = {                        \
		.name = sect,                                                  \
		.cfg = &var##_cfg,                                             \
	}

RESERVED(gateway, "gateway", false);
RESERVED(route, "route", true);

const struct lbd_module *const lbd_modules[] = {
	&hdns_module,
	&gateway_module,
	&route_module,
	&push_module,
};

const size_t lbd_nmodules = sizeof(lbd_modules) / sizeof(lbd_modules[0]);

size_t
lbd_modules_cfg(const struct lbd_module *const *mods, size_t n,
		const struct cfg_module_ops **out)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k < CFG_MAX_MODULES; i++)
		if (mods[i]->cfg != NULL)
			out[k++] = mods[i]->cfg;
	return k;
}

size_t
lbd_cfg_modules(const struct cfg_module_ops **out)
{
	return lbd_modules_cfg(lbd_modules, lbd_nmodules, out);
}
