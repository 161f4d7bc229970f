/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Schedulers: how a service picks a backend for a new connection.
 *
 * A scheduler is a const struct sched_ops registered by name (rr, wrr, lc,
 * wlc, sh, mh, lrt). The control thread builds an immutable state from the
 * service's backend list with create() whenever the list or a weight
 * changes, and publishes it with the service version (RCU); workers call
 * pick() on it. Per-worker mutable parts (an rr cursor, smooth-wrr current
 * weights) live inside the state, one cache line aligned slot per worker,
 * so pick() takes no lock and allocates nothing.
 *
 * This module is plain C (no DPDK) so that it is unit-tested under the
 * sanitizers.
 */
#ifndef EDGELB_SCHED_OPS_H
#define EDGELB_SCHED_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "edgelb/types.h"

#define SCHED_MH_DEFAULT_SIZE 65537u
#define SCHED_MH_MAX_SIZE     (1u << 24) /* 64 MiB of table */
#define SCHED_MAX_WORKERS     1024u
#define SCHED_MAX_BACKENDS    (1u << 20)

/* Input to create(): one per backend, in the service's order. */
struct sched_backend {
	struct lb_addr addr;
	uint16_t port;
	uint32_t weight; /* 0 = quiescent: never picked for new flows */
};

struct sched_params {
	unsigned int nworkers; /* per-worker state slots to allocate */
	uint32_t mh_size;      /* Maglev table size, prime; 0 = default */
	uint32_t flags;	       /* LB_SVC_F_SH_PORT: sh/mh hash the port too */
};

/* What a scheduler may look at of the new flow. */
struct sched_flow {
	struct lb_addr saddr;
	struct lb_addr daddr;
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;
};

/*
 * The calling worker's view of backend load, indexed like the backend
 * list; any pointer may be NULL (treated as all zero).
 */
struct sched_load {
	const uint32_t *active;	  /* established connections */
	const uint32_t *inactive; /* other states */
	const uint32_t *rtt_us; /* smoothed handshake response time; 0 = none */
};

struct sched_ops {
	const char *name;
	/* pick() reads the load view: the forwarding stage builds one */
	bool load_aware;
	/*
	 * Build the state for n backends (n may be 0). Returns NULL with
	 * errno: EINVAL (bad params, e.g. mh_size not prime or < n or above
	 * SCHED_MH_MAX_SIZE, nworkers 0 or above SCHED_MAX_WORKERS, n above
	 * SCHED_MAX_BACKENDS, b NULL with n > 0), ENOMEM. The state does not
	 * keep b.
	 */
	void *(*create)(const struct sched_backend *b, uint32_t n,
			const struct sched_params *p);
	void (*destroy)(void *state);
	/*
	 * Pick a backend for a new flow on worker `worker` (< nworkers).
	 * Returns its index, or -1 when no backend has a weight above 0.
	 * A worker >= nworkers also gets -1, as does a NULL f for sh and mh
	 * (the others ignore f). l may be NULL (no load known).
	 */
	int32_t (*pick)(void *state, unsigned int worker,
			const struct sched_flow *f, const struct sched_load *l);
};

/* The scheduler registered under name, or NULL. */
const struct sched_ops *sched_find(const char *name);

/* Fills names[] with up to n registered names; returns how many exist. */
int sched_list(const char **names, int n);

/*
 * The hash sh and mh use for a flow's source address (and sport, taken as
 * the value given, with LB_SVC_F_SH_PORT in flags). Byte-order independent:
 * every host computes the same value for the same flow.
 */
uint32_t sched_flow_hash(const struct sched_flow *f, uint32_t flags);

/*
 * For benchmarks and tests: the Maglev lookup table of an mh state, M
 * entries each holding a backend index (or -1 for all entries when no
 * backend has a weight). Returns 0, or -EINVAL if state is not an mh state.
 */
int sched_mh_table(const void *state, const int32_t **table, uint32_t *size);

#endif
