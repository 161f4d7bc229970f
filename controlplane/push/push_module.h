/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The push service as an edgelbd module: the [push] section's hooks, the
 * service's life cycle on the daemon's loop, its metrics and what
 * `lbctl module show push` reports (its counters).
 */
#ifndef EDGELBD_PUSH_MODULE_H
#define EDGELBD_PUSH_MODULE_H

#include "modules.h"

extern const struct cfg_module_ops push_cfg_ops;
extern const struct lbd_module push_module;

#endif
