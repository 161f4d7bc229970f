/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelbd configuration: the INI file (read with inih), parsed into a
 * struct cfg, validated as a whole, then applied by the daemon.
 *
 * Parse everything, validate everything, then apply: cfg_load() never
 * returns a half-checked configuration. Every error names the file, the
 * line, the section, the key and the problem:
 *
 *   edgelb.ini:12: [service web] backend: '10.0.0.1:99999': port out of range
 *
 * The same INI file is read by edgelb-dp, which owns [dataplane] (edgelbd
 * reads only its `socket` key) and [port NAME] (skipped here). Sections of
 * the services that plug into the daemon ([httpdns], [gateway],
 * [route NAME], [push], ...) are handed to their module's hooks
 * (struct cfg_module_ops), so nothing about them is hard-coded here.
 *
 * The desired state of the load balancer is the list of services in
 * struct cfg. lbctl changes edit that list in place (cfg_service_* below)
 * and are persisted to the state file, which cfg_load() reads after the
 * main file: when it exists its [service] sections replace the main file's.
 */
#ifndef EDGELBD_CONFIG_H
#define EDGELBD_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cfg_key.h"
#include "edgelb/types.h"

#define CFG_SOCKPATH_MAX   107 /* sizeof(sun_path) - 1 */
#define CFG_TEXT_MAX	   255 /* path, host, expected body, UDP payloads */
#define CFG_MAX_MODULES	   16
#define CFG_MAX_ERRORS	   100
#define CFG_DEFAULT_WEIGHT 1

/* Collected error messages, one line each, in file order. */
struct cfg_errors {
	char **msg;
	size_t n;
	size_t cap;
	size_t dropped; /* messages beyond CFG_MAX_ERRORS */
};

void cfg_errors_add(struct cfg_errors *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cfg_errors_print(const struct cfg_errors *e, FILE *out);
void cfg_errors_free(struct cfg_errors *e);

struct cfg;

/*
 * Hooks of a section owned by a daemon module. state is what create()
 * returned for this configuration (one per struct cfg). section() is
 * called when the section opens (name is NULL for unnamed sections), key()
 * for every key in it; both return 0, or -1 with the problem in err.
 * validate() runs after the whole file is parsed. Any hook may be NULL:
 * a NULL key() means the section takes no keys.
 */
struct cfg_module_ops {
	const char *section; /* "httpdns", or "route" for [route NAME] */
	bool named;
	void *(*create)(void);
	void (*destroy)(void *state);
	int (*open)(void *state, const char *name, int line, char *err,
		    size_t errlen);
	const struct cfg_key *keys; /* its keys; obj is the state */
	/* or, when keys is NULL, every key of the section goes here */
	int (*key)(void *state, const char *name, const char *key,
		   const char *value, char *err, size_t errlen);
	int (*validate)(void *state, const struct cfg *c, char *err,
			size_t errlen);
};

struct cfg_backend {
	struct lb_addr addr;
	uint16_t port;
	uint32_t weight;   /* configured; health may lower it to 0 */
	uint32_t u_thresh; /* IPVS upper threshold, 0 = none */
	uint32_t l_thresh; /* lower threshold, 0 = 3/4 of u_thresh */
	int line;
};

enum cfg_on_fail {
	CFG_ON_FAIL_QUIESCE = 0, /* weight 0: existing connections drain */
	CFG_ON_FAIL_REMOVE = 1,	 /* backend deleted from the dataplane */
};

struct cfg_service {
	char name[LB_NAME_MAX + 1];
	uint8_t proto; /* IPPROTO_TCP (default) or IPPROTO_UDP */
	uint16_t vport;
	struct lb_addr vip; /* family 0 until set */
	uint8_t mode;	    /* enum lb_mode; LB_MODE_UNSET until set */
	char sched[LB_SCHED_NAME_MAX + 1];
	uint32_t persist;	     /* seconds, 0 = off */
	uint32_t flags;		     /* LB_SVC_F_* */
	uint32_t mh_size;	     /* 0 = the dataplane's default */
	uint32_t max_conns;	     /* 0 = no limit (docs/dataplane.md) */
	uint32_t conn_rate;	     /* new connections/s, 0 = no limit */
	uint32_t syn_src_rate;	     /* SYNs/s per source, 0 = off */
	char check[LB_NAME_MAX + 1]; /* health check name, "" = none */
	uint8_t on_fail;	     /* enum cfg_on_fail */
	struct cfg_backend *backends;
	uint32_t nbackends;
	size_t cap_backends;
	struct lb_addr *laddrs; /* FULL-NAT local addresses */
	uint32_t nladdrs;
	size_t cap_laddrs;
	int line; /* of the section header; 0 for lbctl-made services */
};

enum cfg_check_type {
	CFG_CHECK_NONE = 0,
	CFG_CHECK_TCP,
	CFG_CHECK_HTTP,
	CFG_CHECK_HTTPS,
	CFG_CHECK_UDP,
};

struct cfg_check {
	char name[LB_NAME_MAX + 1];
	uint8_t type; /* enum cfg_check_type */
	uint32_t interval_ms;
	uint32_t timeout_ms;
	uint32_t rise;
	uint32_t fall;
	uint16_t port; /* 0 = the backend's port */
	char path[CFG_TEXT_MAX + 1];
	char host[CFG_TEXT_MAX + 1]; /* "" = the backend address */
	uint16_t expect_status;
	char expect_body[CFG_TEXT_MAX + 1];
	uint8_t send[CFG_TEXT_MAX + 1]; /* UDP payload, escapes decoded */
	size_t send_len;
	uint8_t expect[CFG_TEXT_MAX + 1]; /* UDP reply must contain it */
	size_t expect_len;
	int line;
};

struct cfg {
	char file[PATH_MAX];
	/* [global] */
	int log_level; /* LOG_* */
	bool log_syslog;
	char ctl_socket[CFG_SOCKPATH_MAX + 1];
	char state_file[PATH_MAX];  /* "" = lbctl changes are not persisted */
	uint32_t reconcile_ms;	    /* periodic full reconcile; 0 = off */
	uint32_t shutdown_grace_ms; /* SIGTERM: drain at most; 0 = at once */
	/* [dataplane] */
	char dp_socket[CFG_SOCKPATH_MAX + 1];
	/* [metrics] */
	bool metrics_enabled;
	struct lb_addr metrics_addr;
	uint16_t metrics_port;
	char metrics_path[CFG_TEXT_MAX + 1];
	int metrics_line; /* of [metrics], 0 if absent */
	/* [service NAME] and [healthcheck NAME], in file order */
	struct cfg_service *services;
	uint32_t nservices;
	size_t cap_services;
	struct cfg_check *checks;
	uint32_t nchecks;
	size_t cap_checks;
	/* lookup index of services by key and name (config_svc.c) */
	struct cfg_index *idx;
	/* module sections: mods[i] owns mod_state[i] */
	const struct cfg_module_ops *mods[CFG_MAX_MODULES]; /* a copy */
	size_t nmods;
	void *mod_state[CFG_MAX_MODULES];
};

/*
 * A configuration holding only defaults, with the module sections mods
 * (at most CFG_MAX_MODULES; the array must outlive the cfg). NULL with
 * errno ENOMEM or EINVAL.
 */
struct cfg *cfg_new(const struct cfg_module_ops *const *mods, size_t nmods);
void cfg_free(struct cfg *c);

/*
 * Parse path into c. Returns 0, -EINVAL with messages in e, or the
 * -errno of opening the file (a message is added too).
 */
int cfg_parse_file(struct cfg *c, const char *path, struct cfg_errors *e);

/*
 * Parse a state file: only [service NAME] sections are allowed; when the
 * file exists, its services replace those of c. Returns 0, -ENOENT when
 * there is no such file (c unchanged), -EINVAL with messages in e.
 */
int cfg_parse_state(struct cfg *c, const char *path, struct cfg_errors *e);

/* Check c as a whole; 0 or -EINVAL with messages in e. */
int cfg_validate(struct cfg *c, struct cfg_errors *e);

/*
 * cfg_new + cfg_parse_file + (state file, if configured and present) +
 * cfg_validate. NULL with messages in e (errno EINVAL, or that of
 * opening the file).
 */
struct cfg *cfg_load(const char *path, const struct cfg_module_ops *const *mods,
		     size_t nmods, struct cfg_errors *e);

/*
 * edgelbd --check: cfg_load and print every message to out. Returns 0
 * when the file is valid, -EINVAL (or an open error) otherwise.
 */
int cfg_check_file(const char *path, const struct cfg_module_ops *const *mods,
		   size_t nmods, FILE *out);

/* ---- the desired service list, for lbctl changes ----------------------- */

struct cfg_service *cfg_service_find(const struct cfg *c, const char *name);
struct cfg_service *cfg_service_find_key(const struct cfg *c, uint8_t proto,
					 const struct lb_addr *vip,
					 uint16_t vport);
const struct cfg_check *cfg_check_find(const struct cfg *c, const char *name);

/*
 * The lookups above use an index rebuilt on first use after a change;
 * cfg_service_add and cfg_service_remove keep it right. Whoever changes
 * the name or key of a service of c in place calls this.
 */
void cfg_index_invalidate(const struct cfg *c);

/*
 * Check one service on its own and against the others of c (duplicate
 * key or name, unknown health check). skip is a service of c to ignore
 * (the one being replaced) or NULL. 0 or -EINVAL with the reason in err.
 */
int cfg_service_check(const struct cfg *c, const struct cfg_service *s,
		      const struct cfg_service *skip, char *err, size_t errlen);

/* Initialise s to the defaults of a new service. */
void cfg_service_init(struct cfg_service *s);
/* Deep copy (backends, laddrs). 0 or -ENOMEM (dst untouched). */
int cfg_service_copy(struct cfg_service *dst, const struct cfg_service *src);
void cfg_service_release(struct cfg_service *s);

/* Append a copy of s (cfg_service_check first). 0 or -ENOMEM. */
int cfg_service_add(struct cfg *c, const struct cfg_service *s);
/* Remove the service at index i. */
void cfg_service_remove(struct cfg *c, uint32_t i);

/* Backends and local addresses of s. add: 0, -EEXIST or -ENOMEM. */
struct cfg_backend *cfg_backend_find(const struct cfg_service *s,
				     const struct lb_addr *addr, uint16_t port);
int cfg_backend_add(struct cfg_service *s, const struct cfg_backend *b);
int cfg_backend_del(struct cfg_service *s, const struct lb_addr *addr,
		    uint16_t port); /* 0 or -ENOENT */
int cfg_laddr_add(struct cfg_service *s, const struct lb_addr *a);
int cfg_laddr_del(struct cfg_service *s, const struct lb_addr *a);

/* ---- state file -------------------------------------------------------- */

/* The services of c as [service NAME] sections. 0 or -errno. */
int cfg_write_services(const struct cfg *c, FILE *out);

/*
 * Write the services atomically to path: a temporary file in the same
 * directory, fsync, rename, fsync of the directory. 0 or -errno; on
 * failure the old file is untouched.
 */
int cfg_save_state(const struct cfg *c, const char *path);

/* The state of module section ops in c (NULL if none). */
void *cfg_module_state(const struct cfg *c, const struct cfg_module_ops *ops);

/* "tcp", "http", "https", "udp", or "none". */
const char *cfg_check_type_name(uint8_t type);

#endif
