/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A hash map from a short byte string (a service key, a service name) to
 * a pointer, so that the daemon finds one of many services in O(1):
 * open addressing with linear probing, backward-shift deletion, grown to
 * keep the load under 1/2. Keys are copied; values are not owned.
 */
#ifndef EDGELBD_SVCMAP_H
#define EDGELBD_SVCMAP_H

#include <stddef.h>
#include <stdint.h>

#include "edgelb/types.h"

#define SVCMAP_KEY_MAX 64

struct svcmap;

/* The key bytes of a service key (proto, vip, vport); returns the length. */
size_t svcmap_svc_key(uint8_t proto, const struct lb_addr *vip, uint16_t vport,
		      uint8_t out[SVCMAP_KEY_MAX]);

/* An empty map, or NULL (ENOMEM). */
struct svcmap *svcmap_new(void);
void svcmap_free(struct svcmap *m);
void svcmap_clear(struct svcmap *m);
size_t svcmap_count(const struct svcmap *m);

/* The value stored under key, or NULL. */
void *svcmap_get(const struct svcmap *m, const void *key, size_t len);
/*
 * Store v (not NULL) under key, replacing any value. len at most
 * SVCMAP_KEY_MAX. 0, -EINVAL or -ENOMEM (map unchanged).
 */
int svcmap_put(struct svcmap *m, const void *key, size_t len, void *v);
/* Remove key; returns the value it had, or NULL. */
void *svcmap_del(struct svcmap *m, const void *key, size_t len);

/* Call fn for every value, in no particular order; the map must not change. */
void svcmap_foreach(const struct svcmap *m, void (*fn)(void *arg, void *v),
		    void *arg);

#endif
