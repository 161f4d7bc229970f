/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Service table: virtual services keyed by (proto, VIP, port), their
 * backends, FULL-NAT local addresses and scheduler state.
 *
 * Written only by the control thread; read lock-free by workers. Each
 * change builds a new immutable struct svc aside and publishes it by a
 * pointer swap; the old version is freed after an RCU (rte_rcu_qsbr) grace
 * period, once every worker has reported a quiescent state. Counters live
 * outside the versions (per worker, indexed by stable slot ids) so that
 * they survive changes.
 */
#ifndef EDGELB_SVC_H
#define EDGELB_SVC_H

#include <stdbool.h>
#include <stdint.h>

#include "edgelb/lbmsg.h"
#include "edgelb/types.h"
#include "sched_ops.h"

/* One backend inside a published service version (immutable). */
struct svc_backend {
	struct lb_addr addr;
	uint16_t port;
	uint8_t mode;	 /* enum lb_mode */
	uint8_t flags;	 /* LB_BACKEND_F_* */
	uint32_t weight; /* 0 = quiescent */
	uint32_t slot;	 /* stable id for counters, < max_backends */
	/* IPVS's connection thresholds (docs/dataplane.md "Connection
	 * limits"): 0 = none; l_thresh 0 = 3/4 of u_thresh */
	uint32_t u_thresh;
	uint32_t l_thresh;
};

/* struct svc.magic: set while a version may be read, cleared on free. */
#define SVC_MAGIC_LIVE 0x5e7c1a55u
#define SVC_MAGIC_DEAD 0xdeadbeefu

/* A published service version (immutable once published). */
struct svc {
	uint32_t magic; /* SVC_MAGIC_LIVE until the version is freed */
	uint8_t proto;
	uint16_t vport;
	struct lb_addr vip;
	uint8_t mode;	  /* enum lb_mode */
	uint32_t flags;	  /* LB_SVC_F_* */
	uint32_t persist; /* seconds; 0 = off */
	uint32_t slot;	  /* stable id for counters, < max_services */
	char name[LB_NAME_MAX + 1];
	const struct sched_ops *sched;
	void *sched_state;
	uint32_t mh_size; /* as configured; 0 = scheduler default */
	/* limits (docs/dataplane.md "Connection limits"); 0 = none */
	uint32_t max_conns;    /* connections, summed over workers */
	uint32_t conn_rate;    /* new connections per second, all workers */
	uint32_t syn_src_rate; /* SYNs per second from one source address */
	uint32_t nbackends;
	struct svc_backend *backends;
	uint32_t nladdrs;
	struct lb_addr *laddrs; /* FULL-NAT local addresses */
};

/* Per-worker counters of one service or backend (no atomics). */
struct svc_counters {
	uint64_t conns;	  /* connections scheduled */
	uint64_t pkts_in; /* client -> backend */
	uint64_t pkts_out;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t active; /* gauges kept by conn tracking */
	uint64_t inactive;
	/* conns of this worker that reference the slot: +1 first when one
	 * opens, -1 last when it ends, never touched in between, so the
	 * control thread reads one word that no state change tears */
	uint64_t refs;
};

struct svc_table_conf {
	unsigned int nworkers; /* workers that read the table */
	uint32_t max_services; /* default 65536 */
	uint32_t max_backends; /* in total; default 1048576 */
	int socket_id;	       /* NUMA socket for memory, or SOCKET_ID_ANY */
	uint32_t max_laddrs; /* FULL-NAT local addrs in total; default 65536 */
};

/* Defaults for the zero fields of struct svc_table_conf. */
#define SVC_DEFAULT_MAX_SERVICES 65536u
#define SVC_DEFAULT_MAX_BACKENDS 1048576u
#define SVC_DEFAULT_MAX_LADDRS	 65536u

/* Housekeeping counters of the table (control thread). */
struct svc_table_stats {
	uint64_t published;  /* versions published */
	uint64_t retired;    /* versions unpublished, waiting or freed */
	uint64_t freed;	     /* versions freed after their grace period */
	uint64_t sync_waits; /* blocking grace periods to free a full table */
	uint32_t pending;    /* retired objects still in their grace period */
	uint32_t draining;   /* freed slots waiting for their conns to end */
	uint32_t backends;   /* backend slots in use (incl. pending/draining) */
	uint32_t laddrs;     /* local addresses in use */
};

struct svc_table;

/* Called on the control thread when a VIP or local address appears or
 * goes (for gratuitous ARP and the XDP steering map). */
typedef void (*svc_addr_cb)(void *arg, const struct lb_addr *addr, bool added);

/* ---- control thread ---------------------------------------------------- */

/*
 * Zero fields of conf take the SVC_DEFAULT_* values (nworkers 0 means 1).
 * Needs rte_eal_init() first. Returns NULL with errno: EINVAL (nworkers
 * above 1024, max_services above 2^24, max_backends above 2^26), ENOMEM.
 */
struct svc_table *svc_table_create(const struct svc_table_conf *conf);
/* Frees everything at once: every worker must be offline. */
void svc_table_destroy(struct svc_table *t);
void svc_table_set_addr_cb(struct svc_table *t, svc_addr_cb cb, void *arg);

/*
 * Answer one lbmsg request of type SERVICE_*, BACKEND_*, LADDR_*; returns
 * 0 or -errno with the text set in req (lbmsg_req_errf):
 *   EPROTONOSUPPORT  proto is not TCP or UDP
 *   EEXIST           the service, backend or local address exists
 *   ENOENT           no such service, backend or local address
 *   EINVAL           unknown scheduler or mode, unknown flags, toa or
 *                    proxy-v2 or a local address on a non-fnat service,
 *                    a backend MODE unlike the service's, the scheduler
 *                    refusing its parameters (e.g. MH_SIZE not prime)
 *   ERANGE           WEIGHT above LB_WEIGHT_MAX
 *   EAFNOSUPPORT     backend or local address of another family than
 *                    the VIP
 *   ENOSPC           service, backend or local address table full
 *   ENOMEM
 * A refused request changes nothing. SERVICE_NEW defaults: mode DR,
 * scheduler wlc, weight 1; SERVICE_SET with BACKENDS replaces the list
 * (backends that stay keep their counters). A dump of a service whose
 * backends do not fit one message comes as consecutive parts with the
 * same key, each with the next backends.
 */
int svc_ctrl_handle(struct svc_table *t, struct lbmsg_req *req);

/* Send STATS_GET dump parts of kind LB_STATS_SERVICE and LB_STATS_BACKEND
 * (summed over workers). 0 or -errno. */
int svc_stats_dump(struct svc_table *t, struct lbmsg_req *req);

/* Zero every service and backend counter (STATS_ZERO). */
void svc_stats_zero(struct svc_table *t);

/* Free versions whose grace period has passed, and slots whose conns
 * have ended; call from the control loop. Never blocks. (Only a change
 * that finds a table full while retired objects wait for their grace
 * period blocks, for one grace period, to make room.) */
void svc_table_reclaim(struct svc_table *t);

/* Number of services. */
uint32_t svc_table_count(const struct svc_table *t);

void svc_table_get_stats(const struct svc_table *t, struct svc_table_stats *st);

/* ---- workers (lock-free, no allocation) --------------------------------- */

/* Register/unregister worker `worker` (< nworkers; an index, not an
 * lcore id) as an RCU reader. */
void svc_worker_online(struct svc_table *t, unsigned int worker);
void svc_worker_offline(struct svc_table *t, unsigned int worker);

/* Report a quiescent state: the worker holds no svc pointer now. Call
 * once per poll-loop iteration. A connection must not keep a struct svc
 * or svc_backend pointer across this: copy what it needs, and the slots
 * for the counters. */
void svc_worker_quiescent(struct svc_table *t, unsigned int worker);

/*
 * The service for (proto, vip, vport); a service with vport 0 matches any
 * port when no exact one exists. NULL if none. Valid until the worker's
 * next svc_worker_quiescent().
 */
const struct svc *svc_lookup(struct svc_table *t, uint8_t proto,
			     const struct lb_addr *vip, uint16_t vport);

/* True when addr is a VIP or a FULL-NAT local address of any service. */
bool svc_addr_is_ours(struct svc_table *t, const struct lb_addr *addr);

/* Schedule a new flow: a backend of s, or NULL when none is available. */
const struct svc_backend *svc_schedule(const struct svc *s, unsigned int worker,
				       const struct sched_flow *f,
				       const struct sched_load *l);

/*
 * The calling worker's counters for a service / backend slot (of a
 * version the worker saw). `active` and `inactive` are the gauges conn
 * tracking keeps; a deleted service's or backend's slot is reused only
 * once `refs`, summed over workers, is back to 0 (the gauges are not
 * checked: a state change writes them one after the other, and a check
 * between the two stores would see an idle slot).
 */
struct svc_counters *svc_counters(struct svc_table *t, unsigned int worker,
				  uint32_t svc_slot);
struct svc_counters *svc_backend_counters(struct svc_table *t,
					  unsigned int worker,
					  uint32_t backend_slot);

/*
 * Conn tracking's gauge updates on a service's and a backend's counters
 * (the calling worker's): a new conn counts as inactive, a state change
 * moves it, its end takes it away.
 */
static inline void
svc_gauge_open(struct svc_counters *sc, struct svc_counters *bc)
{
	/* single writer: a plain increment, published before the gauges */
	__atomic_store_n(&sc->refs, sc->refs + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&bc->refs, bc->refs + 1, __ATOMIC_RELEASE);
	sc->inactive++;
	bc->inactive++;
}

static inline void
svc_gauge_move(struct svc_counters *sc, struct svc_counters *bc, bool to_active)
{
	if (to_active) {
		sc->inactive--;
		bc->inactive--;
		sc->active++;
		bc->active++;
	} else {
		sc->active--;
		bc->active--;
		sc->inactive++;
		bc->inactive++;
	}
}

static inline void
svc_gauge_close(struct svc_counters *sc, struct svc_counters *bc, bool active)
{
	if (active) {
		sc->active--;
		bc->active--;
	} else {
		sc->inactive--;
		bc->inactive--;
	}
	/* the last writes of this conn to the slots */
	__atomic_store_n(&sc->refs, sc->refs - 1, __ATOMIC_RELEASE);
	__atomic_store_n(&bc->refs, bc->refs - 1, __ATOMIC_RELEASE);
}

#endif
