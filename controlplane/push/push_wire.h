/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The push module's vendor channels (docs/push.md "Vendor channels"): the
 * [push_vendor NAME] sections, one channel per section on the push
 * module's loop, and the wake of push_srv_set_wake: a message for a
 * device with a vendor token and no live channel is sent through the
 * section named by the device's vendor. PV_OK makes the entry SENT,
 * PV_BAD_TOKEN forgets the token (push_srv_vendor_invalid), PV_RETRY
 * tries again later with a doubling backoff, PV_FAILED makes the entry
 * FAILED. Counters and each channel's stats go to the daemon's metrics.
 */
#ifndef EDGELBD_PUSH_WIRE_H
#define EDGELBD_PUSH_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct event_base;
struct metrics;
struct push_srv;
struct push_wake;

/* [push_vendor NAME] sections (the module "push_vendor" of modules.c). */
extern const struct cfg_module_ops push_vendor_cfg_ops;
extern const struct lbd_module push_vendor_module;

/* Retries of a send the vendor answered PV_RETRY (then it stays queued:
 * the device's channel delivers it when it connects). */
#define PUSH_WIRE_TRIES	     5
#define PUSH_WIRE_BACKOFF_MS 1000 /* first wait; doubles each try */
#define PUSH_WIRE_INFLIGHT   4096 /* sends in flight or waiting */

struct push_wire_counters {
	uint64_t wakes, no_channel, busy, refused, retries, gave_up;
	uint64_t sent, bad_token, failed, skipped_online, skipped_expired;
};

struct push_wire;

/*
 * The channels of c's [push_vendor] sections on base, waking through
 * them the devices of srv (push_srv_set_wake). NULL with err set.
 * m may be NULL.
 */
struct push_wire *push_wire_new(struct event_base *base, struct push_srv *srv,
				const struct cfg *c, struct metrics *m,
				char *err, size_t errlen);
/* Cancels what is in flight (entries stay queued). NULL is fine. */
void push_wire_free(struct push_wire *w);
/* The same sections as the channels were made from? */
bool push_wire_same(const struct push_wire *w, const struct cfg *c);
const struct push_wire_counters *push_wire_counters(const struct push_wire *w);
size_t push_wire_nchannels(const struct push_wire *w);

#endif
