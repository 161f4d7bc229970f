/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One shared read-only view of the services, their backends and their
 * health, for code on any thread (DESIGN §5; the thread rule of the
 * module table): an immutable, reference-counted snapshot built on the
 * main thread after every configuration change (start, SIGHUP, lbctl)
 * and health transition, and published by an atomic pointer swap.
 *
 * A reader takes a reference with view_get() and drops it with
 * view_put(); it never walks struct cfg and never blocks the publisher
 * for longer than two atomic operations. view_publish() swaps the
 * pointer, then waits for the instant when no reader is between loading
 * the pointer and counting its reference (a counter of readers inside
 * view_get), and drops its own reference to the old snapshot: the last
 * reader frees it.
 */
#ifndef EDGELBD_VIEW_H
#define EDGELBD_VIEW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "edgelb/types.h"

struct cfg;
struct hc;

struct view_backend {
	struct lb_addr addr;
	uint16_t port;
	uint32_t weight; /* configured */
	uint8_t health;	 /* LB_HEALTH_* (UNKNOWN without a check) */
	bool usable;	 /* weight > 0 and not known to be down */
};

struct view_service {
	char name[LB_NAME_MAX + 1];
	uint8_t proto;
	struct lb_addr vip;
	uint16_t vport;
	uint8_t mode;
	bool healthy; /* some backend is usable */
	uint32_t nbackends;
	const struct view_backend *backends;
};

struct view {
	atomic_uint refs;
	uint64_t generation; /* of its publication point, from 1 */
	uint32_t nservices;
	const struct view_service *services; /* sorted by name */
};

/* The publication point (one per daemon). */
struct view_pub {
	_Atomic(struct view *) cur;
	atomic_uint entering; /* readers inside view_get */
	uint64_t generation;
};

/*
 * A snapshot of c with the health states of hc (may be NULL: none), one
 * reference held by the caller. Main thread. NULL with errno ENOMEM.
 */
struct view *view_build(const struct cfg *c, const struct hc *hc);

/*
 * Make v (its reference passes to p) the current snapshot and drop the
 * publisher's reference to the previous one. Main thread only.
 */
void view_publish(struct view_pub *p, struct view *v);

/* The current snapshot with a reference taken, or NULL. Any thread. */
struct view *view_get(struct view_pub *p);
/* Drop a reference (v may be NULL). Any thread. */
void view_put(struct view *v);

/* The service called name in v, or NULL. O(log n). */
const struct view_service *view_find(const struct view *v, const char *name);

/*
 * Build and publish the snapshot of c and hc. 0, or -ENOMEM (logged; the
 * previous snapshot stays). Main thread.
 */
int view_refresh(struct view_pub *p, const struct cfg *c, const struct hc *hc);

/* Unpublish and drop the current snapshot (no reader may be left). */
void view_pub_fini(struct view_pub *p);

#endif
