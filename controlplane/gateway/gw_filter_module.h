/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * [filter NAME] sections in edgelbd (docs/gateway.md, "Filters"): each
 * key goes through gw_filter_conf_key as it is read (so that an error
 * names its line), and the gateway module adds the sections to every
 * stage's gw_conf (gw_filter_stage_conf) before building its table,
 * at start and at each reload.
 */
#ifndef EDGELBD_GW_FILTER_MODULE_H
#define EDGELBD_GW_FILTER_MODULE_H

#include <stddef.h>

#include "gw_route.h"
#include "modules.h"

extern const struct cfg_module_ops gw_filter_cfg_ops; /* [filter NAME] */
extern const struct lbd_module gw_filter_module;      /* the sections only */

/* Append c's [filter] sections to out (which holds none yet). 0 or
 * -ENOMEM with err set. */
int gw_filter_stage_conf(const struct cfg *c, struct gw_conf *out, char *err,
			 size_t errlen);

#endif
