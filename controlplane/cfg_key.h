/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The declarative form of an INI section's keys (struct cfg_key), shared
 * by the core configuration (config.c, config_keys.c) and by the modules
 * whose sections it parses. Only types and the shared setters' prototypes:
 * a module library that cannot link the daemon's core (the HttpDNS core)
 * declares its table with its own setters and includes just this.
 */
#ifndef EDGELBD_CFG_KEY_H
#define EDGELBD_CFG_KEY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * A section's keys, declared as a table in the style of nginx's command
 * tables, ended by a NULL name. The parser finds the key, refuses it a
 * second time unless CFG_KEY_REPEAT, refuses an empty value, and calls
 * set; when the section ends, every CFG_KEY_REQUIRED key must have come.
 * set stores the value in the section's object (struct cfg for [global],
 * [dataplane] and [metrics], the struct cfg_service or cfg_check being
 * parsed, a module's state) -- the shared cfg_set_* setters at offset --
 * or writes the problem to err and returns -1.
 */
#define CFG_KEY_REPEAT	 0x1u /* may be given more than once */
#define CFG_KEY_REQUIRED 0x2u /* the section is incomplete without it */

struct cfg_key;

/* What a setter is given besides the value. */
struct cfg_set {
	const struct cfg_key *key;
	void *obj;
	int line;
};

struct cfg_key {
	const char *name;
	int (*set)(const struct cfg_set *p, const char *v, char *err, size_t n);
	size_t offset;	    /* of the field in obj (shared setters) */
	size_t size;	    /* of a text field, with its NUL */
	unsigned int flags; /* CFG_KEY_* */
	uint32_t min, max;  /* the range of a number (a module's setters) */
};

/* The entry of keys named name, or NULL. */
static inline const struct cfg_key *
cfg_key_find(const struct cfg_key *keys, const char *name)
{
	for (; keys->name != NULL; keys++)
		if (strcmp(keys->name, name) == 0)
			return keys;
	return NULL;
}

/* N, Nms, Ns, Nm, Nh into a uint32_t of milliseconds. */
int cfg_set_duration(const struct cfg_set *p, const char *v, char *err,
		     size_t n);
/* yes/no, true/false, on/off, 1/0 into a bool. */
int cfg_set_bool(const struct cfg_set *p, const char *v, char *err, size_t n);
/* A path of at most size - 1 characters into char[size]. */
int cfg_set_path(const struct cfg_set *p, const char *v, char *err, size_t n);

#endif
