/* SPDX-License-Identifier: BSD-3-Clause */
/* Internals of the API store shared by gw_api.c, gw_api_text.c and
 * gw_api_ctl.c. */
#ifndef EDGELBD_GW_API_PRIV_H
#define EDGELBD_GW_API_PRIV_H

#include <stdbool.h>

#include "gw_api.h"

/* The prefix of every route and upstream name an API brings. */
#define GW_API_NS "api."

/*
 * Parse a version's route text into c: names as written (prefix false;
 * the text is then also built with gw_table_build to check it whole) or
 * prefixed "api.API." (prefix true). 0 or -EINVAL/-E2BIG/-ENOMEM with
 * "line N: ..." in err.
 */
int gw_api_text_parse(const char *api, const char *text, bool prefix,
		      struct gw_conf *c, char *err, size_t errlen);

#endif
