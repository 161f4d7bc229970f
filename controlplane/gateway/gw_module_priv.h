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
#define GW_STAGE_MAX	  32 /* (stage, partition) pairs, daemon's life */
#define GW_STAGE_NAME_MAX 32
#define GW_SNI_MAX	  256
#define GW_WORKERS_MAX	  64
#define GW_CONNS_MAX	  1000000
#define GW_HEADER_MIN	  1024
#define GW_HEADER_MAX	  (1024 * 1024)
#define GW_BODY_LIMIT	  (1024u * 1024 * 1024)
#define GW_STREAMS_MAX	  10000
#define GW_TIMEOUT_MAX	  3600000 /* ms */

#define GW_PART_MAX	   8 /* [partition] sections, daemon's life */
#define GW_PART_NAME_MAX   16
#define GW_RETRY_AFTER_MAX 3600 /* s */

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

/*
 * [partition NAME]: a group of routes with listeners, worker threads and
 * limits of its own (docs/gateway.md, "Partitions"). max_conns and
 * max_requests count all its threads (and listener generations)
 * together; max_upstream_conns is split over its threads.
 */
struct gw_part_conf {
	char name[GW_PART_NAME_MAX];
	int line;
	size_t nlisten;
	struct gw_listen listen[GW_LISTEN_MAX];
	uint32_t workers;
	uint32_t max_conns;	     /* client connections */
	uint32_t max_requests;	     /* in flight; 0: no limit */
	uint32_t max_upstream_conns; /* per upstream instance; 0: defaults */
	uint32_t retry_after;	     /* s, in the 503 over max_requests */
	uint32_t seen;		     /* keys given (each at most once) */
};

/* Every [partition] section of a file. */
struct gw_parts {
	size_t n;
	struct gw_part_conf p[GW_PART_MAX];
};

/* What a [route] or [upstream] section adds to gw_conf's keys. */
struct gw_extra {
	char name[GW_NAME_MAX];
	int line;
	char stage[128];		  /* route: "A,B"; "" every stage */
	char service[LB_NAME_MAX + 1];	  /* upstream: "" its own list */
	char partition[GW_PART_NAME_MAX]; /* route: "" the default */
};

/* One route table and what serves it: a stage of a partition ("" the
 * default partition: [gateway]'s listeners). */
struct gw_unit {
	const char *stage;
	const char *part;
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

/* The [partition] sections of c; never NULL (empty without them). */
const struct gw_parts *gw_mod_cfg_parts(const struct cfg *c);

/* The partition name of ps, or NULL. */
const struct gw_part_conf *gw_mod_part_find(const struct gw_parts *ps,
					    const char *name);

/* The (stage, partition) pairs c's routes are built for: the default
 * partition's stages (gw_mod_cfg_stages), then each partition's
 * listeners' stages; at most max (more: the count says so, only max
 * filled). */
size_t gw_mod_cfg_units(const struct cfg *c, struct gw_unit *out, size_t max);

/* The extra keys of the [route] or [upstream] section name, or NULL. */
struct gw_extra *gw_mod_extra_find(const struct gw_sect *s, const char *name);

/* An instance's weight for a backend's: 0 (out, by health) as 1, at most
 * GW_MAX_WEIGHT. */
uint32_t gw_mod_inst_weight(uint32_t w);

/*
 * The gw_conf of one stage of a partition (u) from c's [route] and
 * [upstream] sections: its routes (those of u's partition serving u's
 * stage), every upstream, service-bound ones filled from c; then, with
 * the module's state m (NULL when a file is only checked),
 * gw_mod_extra_conf's. out is the caller's (gw_conf_fini). 0 or -errno
 * with err set.
 */
int gw_mod_stage_conf(struct gw_mod *m, const struct cfg *c,
		      const struct gw_unit *u, struct gw_conf *out, char *err,
		      size_t errlen);

/* What a stage's table has besides the file's sections (gw_module.c). */
int gw_mod_extra_conf(struct gw_mod *m, const char *stage, struct gw_conf *out,
		      char *err, size_t errlen);

/* Add the line of the route or upstream that an error of gw_table_build
 * names ("route NAME: ..." or "upstream NAME: ..."). */
void gw_mod_err_line(const struct cfg *c, char *err, size_t errlen);

#endif
