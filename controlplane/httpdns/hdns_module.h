/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HttpDNS as an edgelbd module: the [httpdns] section's hooks, the
 * server's life cycle on the daemon's loop, and the hdns_source that
 * answers from the daemon's state (a service's VIP from the desired
 * configuration; healthy when at least one backend with a non-zero
 * weight is UP or not yet checked, as the dataplane sees it).
 */
#ifndef EDGELBD_HDNS_MODULE_H
#define EDGELBD_HDNS_MODULE_H

#include "modules.h"

extern const struct cfg_module_ops hdns_cfg_ops;
extern const struct lbd_module hdns_module;

#endif
