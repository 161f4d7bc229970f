/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelbd configuration internals shared by config.c (the line reader,
 * sections, key dispatch, whole-file validation, life cycle),
 * config_keys.c (the value checks of the built-in sections' keys) and
 * config_svc.c (the service list editing API and the state file).
 * Nothing outside these three files includes it.
 */
#ifndef EDGELBD_CONFIG_PRIV_H
#define EDGELBD_CONFIG_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

enum cfg_sect_kind {
	S_NONE,
	S_BAD, /* reported already: ignore its keys */
	S_GLOBAL,
	S_DATAPLANE,
	S_METRICS,
	S_SERVICE,
	S_CHECK,
	S_PORT,
	S_MODULE,
};

#define CFG_MAX_KEYS 32

struct cfg_parser {
	struct cfg *cfg;
	struct cfg_errors *errs;
	const char *file;
	FILE *fp;
	char *buf;
	size_t bufsz;
	int line;
	bool state_only;
	bool have_key; /* a key since the last header (continuations) */
	int nerr;
	int syntax_line; /* last line the reader flagged */
	enum cfg_sect_kind kind;
	char section[128];	    /* as written, for messages */
	const char *name;	    /* the NAME part of section */
	uint32_t obj;		    /* index of the service / check */
	size_t mod;		    /* index of the module */
	const struct cfg_key *keys; /* of the open section, if a table */
	int sect_line;
	int key_line[CFG_MAX_KEYS];
};

/*
 * Key tables of the built-in sections (struct cfg_key, cfg_key.h): the
 * object of [global], [dataplane] and [metrics] is the struct cfg, of
 * [service NAME] the struct cfg_service, of [healthcheck NAME] the
 * struct cfg_check.
 */
extern const struct cfg_key cfg_global_keys[];
extern const struct cfg_key cfg_dataplane_keys[];
extern const struct cfg_key cfg_metrics_keys[];
extern const struct cfg_key cfg_service_keys[];
extern const struct cfg_key cfg_check_keys[];

/* 1-LB_NAME_MAX characters of A-Z a-z 0-9 _ . : - (services, checks). */
bool cfg_name_valid(const char *s);

/* Receives one problem of a service; line is 0 when none applies. */
typedef void (*cfg_report_fn)(void *arg, int line, const char *msg);

/*
 * Report every problem of s through report; others are the services s
 * must not clash with: the first nothers of c->services, except s and
 * skip. Returns 0, or -EINVAL when something was reported.
 */
int cfg_service_problems(const struct cfg *c, const struct cfg_service *s,
			 uint32_t nothers, const struct cfg_service *skip,
			 cfg_report_fn report, void *arg);

/* The service index of c (config_svc.c): 0 or -ENOMEM; fini frees it. */
int cfg_index_init(struct cfg *c);
void cfg_index_fini(struct cfg *c);

#endif
