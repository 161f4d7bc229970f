/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cross-node delivery for push nodes sharing one redis-server
 * (docs/push.md, "Cluster mode (Redis)"): which node holds each device
 * (a key per device naming the node, with an expiry the holder refreshes
 * at each heartbeat of the device), and a wake per node: a pub/sub
 * channel the node subscribes to, on which other nodes publish the
 * device that got a message. The queue itself is in the Redis store; a
 * wake only says "read it now".
 */
#ifndef EDGELBD_PUSH_CLUSTER_H
#define EDGELBD_PUSH_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct metrics;
struct push_cluster;

/* Counters (since start). */
struct push_cluster_counters {
	uint64_t wakes_sent, wakes_received, presence_errors, subscribes;
};

/*
 * A device (or NULL: every device, after (re)subscribing, when wakes may
 * have been missed) has something to send on this node.
 */
typedef void (*push_cluster_wake_fn)(void *arg, const char *device);

/*
 * addr: HOST:PORT; node: this node's id; presence_ms: how long a
 * device's presence lasts without a refresh; m (or NULL) gets the
 * counters as edgelbd_push_cluster_*_total. NULL with errno set (the
 * reason logged); a Redis that is down is not an error: it is retried.
 */
struct push_cluster *push_cluster_new(struct event_base *base,
				      struct metrics *m, const char *addr,
				      const char *node, uint32_t presence_ms,
				      push_cluster_wake_fn fn, void *arg);
void push_cluster_free(struct push_cluster *c);
/* device is (on) or is no longer (off) held here. */
void push_cluster_online(struct push_cluster *c, const char *device, bool on);
/* Wake the node holding device if another one: true when woken. */
bool push_cluster_remote(struct push_cluster *c, const char *device);
const struct push_cluster_counters *
push_cluster_counters(const struct push_cluster *c);

#endif
