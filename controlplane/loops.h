/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Service event-loop threads: n threads, each running its own libevent
 * event_base, for modules whose work should not run on the daemon's main
 * loop (HTTP workers, push connections). Any thread hands a function to
 * loop i with loops_run(); it runs on that loop's thread, in the order
 * queued. A function running on loop i may create events on
 * loops_base(l, i) -- and only there: a base is used by its own thread
 * alone, so libevent needs no locking.
 *
 * What runs where: the main loop owns the configuration, the health
 * checker, dp.sock, ctl.sock and /metrics; code on a service thread never
 * blocks (no dp.sock, no synchronous DNS, no file I/O per request), reads
 * services and health only through the view (view.h), and hands results
 * back to the main loop the same way (a queue and a wake-up).
 *
 * The wake-up is an eventfd per loop, watched by that loop's base, so no
 * process-wide evthread locking is switched on for the main loop.
 */
#ifndef EDGELBD_LOOPS_H
#define EDGELBD_LOOPS_H

#include <stddef.h>

struct event_base;
struct loops;

typedef void (*loops_fn)(void *arg);

#define LOOPS_MAX 64

/*
 * Start n (1..LOOPS_MAX) threads named "name/i" (name at most 10
 * characters shown). NULL with errno EINVAL, ENOMEM, or what
 * pthread_create failed with.
 */
struct loops *loops_new(unsigned int n, const char *name);

unsigned int loops_count(const struct loops *l);

/* Loop i's base: use it only from functions running on loop i. */
struct event_base *loops_base(struct loops *l, unsigned int i);

/*
 * Queue fn(arg) on loop i (any thread). 0, -EINVAL (no such loop),
 * -ENOMEM, or -ESHUTDOWN (stopping or stopped: fn will not run).
 */
int loops_run(struct loops *l, unsigned int i, loops_fn fn, void *arg);

/* The index of the loop whose thread calls this, or -1 for any other. */
int loops_current(void);

/*
 * Stop: the functions queued so far still run, then each loop ends and
 * its thread is joined. Events left on a base are not run. Call from a
 * thread that is not one of l's. Idempotent.
 */
void loops_stop(struct loops *l);

/* loops_stop, then free everything (NULL: nothing). */
void loops_free(struct loops *l);

#endif
