/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The [bgp] section of edgelbd (docs/scale-out.md): where BIRD's control
 * socket and the generated include file are, the rule that decides
 * whether a VIP is announced (min_healthy), how often it is evaluated,
 * the drain (drain_grace, the graceful-shutdown community) and the BGP
 * attributes of the announced routes: defaults (med, local_pref,
 * community) and per-VIP or per-service overrides (attrs).
 *
 *   attrs = TARGET [med=N] [local_pref=N] [community=A:B[,A:B...]]
 *
 * TARGET is a VIP address or a service name; for a VIP, an attrs line
 * naming the VIP wins over one naming a service on it, and among
 * services the first by name wins. A key given on the line replaces the
 * default; communities of the line replace the default list.
 */
#ifndef EDGELBD_BGP_CONF_H
#define EDGELBD_BGP_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "edgelb/types.h"

#define BGP_COMM_MAX	    8 /* communities on one route */
#define BGP_RULES_MAX	    1024
#define BGP_GSHUT_COMMUNITY 0xffff0000u /* RFC 8326 GRACEFUL_SHUTDOWN */

struct bgp_attrs {
	bool has_med, has_local_pref;
	uint32_t med, local_pref;
	uint8_t ncomm; /* 0: none (in an override: the default list) */
	uint32_t comm[BGP_COMM_MAX]; /* ASN << 16 | value */
};

struct bgp_rule {
	bool is_vip;
	struct lb_addr vip;
	char service[LB_NAME_MAX + 1];
	struct bgp_attrs a;
	int line;
};

struct bgp_conf {
	bool present; /* the file has a [bgp] section */
	char bird_socket[CFG_SOCKPATH_MAX + 1];
	char include_file[CFG_TEXT_MAX + 1];
	char live_if[16]; /* liveness_interface, "": none (bgp_live.h) */
	uint32_t min_healthy_pct; /* 0: any (one usable backend) */
	uint32_t check_ms;	  /* evaluation period */
	uint32_t timeout_ms;	  /* of one exchange with BIRD */
	uint32_t drain_grace_ms;  /* longest wait for connections to end */
	bool drain_gshut;	  /* drain announces with GRACEFUL_SHUTDOWN */
	struct bgp_attrs defaults;
	struct bgp_rule *rules;
	size_t nrules, cap;
};

extern const struct cfg_key bgp_conf_keys[];
extern const struct cfg_module_ops bgp_cfg_ops;

/* The [bgp] section of c, or NULL when c has none (BGP is off). */
const struct bgp_conf *bgp_conf_get(const struct cfg *c);

/* The attributes of a VIP (services: the names of the services on it). */
void bgp_conf_attrs(const struct bgp_conf *c, const struct lb_addr *vip,
		    const char *const *services, size_t nservices,
		    struct bgp_attrs *out);

/* Parse "A:B" (A, B 0..65535) into *out. 0 or -EINVAL. */
int bgp_community_parse(const char *s, size_t n, uint32_t *out);

#endif
