/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The module table (see modules.h). A module without a start hook would
 * be listed as reserved by `lbctl module show`; every module of this
 * build runs.
 */
#include "bgp/bgp_module.h"
#include "gateway/gw_filter_module.h"
#include "gateway/gw_module.h"
#include "httpdns/hdns_module.h"
#include "modules.h"
#include "push/push_module.h"
#include "push/push_wire.h"

const struct lbd_module *const lbd_modules[] = {
	&hdns_module,	      /* [httpdns] */
	&gw_module,	      /* [gateway] */
	&gw_route_module,     /* [route NAME], the gateway's */
	&gw_upstream_module,  /* [upstream NAME], the gateway's */
	&gw_filter_module,    /* [filter NAME], the gateway's */
	&push_module,	      /* [push] */
	&push_vendor_module,  /* [push_vendor NAME], the push module's */
	&gw_partition_module, /* [partition NAME], the gateway's */
	&bgp_module,	      /* [bgp] */
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
