/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inside the gateway module (gw_module.h): the configuration of its
 * sections as gw_module_conf.c reads it, and what gw_module.c's runtime
 * uses of it. Not for other modules.
 */
#ifndef EDGELBD_GW_MODULE_PRIV_H
#define EDGELBD_GW_MODULE_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "gw_route.h"
#include "edgelb/types.h"

#define GW_LISTEN_MAX	  16
#define GW_CERT_MAX	  64
#define GW_STAGE_MAX	  8
#define GW_STAGE_NAME_MAX 32
#define GW_SNI_MAX	  256
#define GW_WORKERS_MAX	  64
#define GW_CONNS_MAX	  1000000
#define GW_HEADER_MIN	  1024
#define GW_HEADER_MAX	  (1024 * 1024)
#define GW_BODY_LIMIT	  (1024u * 1024 * 1024)
#define GW_STREAMS_MAX	  10000
#define GW_TIMEOUT_MAX	  3600000 /* ms */

struct gw_listen {
	struct lb_addr addr;
	uint16_t port;
	bool tls;
	char stage[GW_STAGE_NAME_MAX];
	int line;
};

struct gw_cert {
	char sni[GW_SNI_MAX]; /* "" : the default */
	char cert[PATH_MAX];
	char key[PATH_MAX];
};

/* [gateway] */
struct gw_mod_conf {
	size_t nlisten;
	struct gw_listen listen[GW_LISTEN_MAX];
	size_t ncerts;
	struct gw_cert *certs; /* GW_CERT_MAX */
	uint32_t workers;
	uint32_t max_conns;
	uint32_t max_conns_per_addr;
	uint32_t header_timeout_ms;
	uint32_t idle_timeout_ms;
	uint32_t max_header_size;
	uint32_t max_body;
	uint32_t max_streams;
	char access_log[GW_LOG_TARGET_MAX];
	char api_db[PATH_MAX]; /* API store: the SQLite file (gw_api.h) */
};

/* What a [route] or [upstream] section adds to gw_conf's keys. */
struct gw_extra {
	char name[GW_NAME_MAX];
	int line;
	char stage[128];	       /* route: "A,B"; "" every stage */
	char service[LB_NAME_MAX + 1]; /* upstream: "" its own list */
};

/* The state of [route] (routes only) or of [upstream] (ups only). */
struct gw_sect {
	struct gw_conf gc;
	size_t nx;
	struct gw_extra *x;
};

struct gw_mod;

/* Defaults of [gateway] (certs untouched). */
void gw_mod_conf_init(struct gw_mod_conf *c);

/* The distinct stages of c's listeners, in order; how many. */
size_t gw_mod_conf_stages(const struct gw_mod_conf *c,
			  const char *out[GW_LISTEN_MAX]);

/* The stages the routes of cfg c are built for: the listeners', or
 * "prod". */
size_t gw_mod_cfg_stages(const struct cfg *c, const char *st[GW_LISTEN_MAX]);

/* The extra keys of the [route] or [upstream] section name, or NULL. */
struct gw_extra *gw_mod_extra_find(const struct gw_sect *s, const char *name);

/* An instance's weight for a backend's: 0 (out, by health) as 1, at most
 * GW_MAX_WEIGHT. */
uint32_t gw_mod_inst_weight(uint32_t w);

/*
 * The gw_conf of one stage from c's [route] and [upstream] sections: its
 * routes, every upstream, service-bound ones filled from c; then, with
 * the module's state m (NULL when a file is only checked),
 * gw_mod_extra_conf's. out is the caller's (gw_conf_fini). 0 or -errno
 * with err set.
 */
int gw_mod_stage_conf(struct gw_mod *m, const struct cfg *c, const char *stage,
		      struct gw_conf *out, char *err, size_t errlen);

/* What a stage's table has besides the file's sections (gw_module.c). */
int gw_mod_extra_conf(struct gw_mod *m, const char *stage, struct gw_conf *out,
		      char *err, size_t errlen);

/* Add the line of the route or upstream that an error of gw_table_build
 * names ("route NAME: ..." or "upstream NAME: ..."). */
void gw_mod_err_line(const struct cfg *c, char *err, size_t errlen);

#endif
