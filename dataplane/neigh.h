/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Neighbour cache: IPv4 next hop -> MAC, owned by the control thread and
 * published to the workers as an immutable hash table replaced on every
 * change (RCU), so a worker's lookup is a few loads and no lock.
 *
 * A worker whose next hop is unknown hands the packet to the control
 * thread (neigh_output() -> dp->pend_ring). There the packet waits in the
 * neighbour's pending queue (at most neigh_queue_len packets; more are
 * dropped and counted) while ARP requests go out every arp_retry_ms, at
 * most arp_retries times; on the reply the queue is sent, on failure it
 * is dropped (DP_DROP_NEIGH_FAILED) and the entry removed. A learned entry
 * is REACHABLE for neigh_reachable_time seconds, then STALE (still used)
 * and re-probed; an entry that stays silent is removed. Entries added over
 * dp.sock are PERMANENT and never expire.
 */
#ifndef EDGELB_DP_NEIGH_H
#define EDGELB_DP_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "dp.h"

/* Published entry; state is enum lb_neigh_state. ip 0 = empty slot. */
struct neigh_pub_entry {
	uint32_t ip;
	uint16_t port;
	uint8_t state;
	uint8_t pad;
	uint8_t mac[6];
	uint8_t pad2[2];
};

struct neigh_pub {
	uint32_t mask; /* slots - 1; slots is a power of two */
	struct neigh_pub_entry e[];
};

struct neigh_table;

/* A neighbour as dumped (NEIGH_GET). */
struct neigh_info {
	uint32_t ip;
	uint16_t port;
	uint8_t state; /* enum lb_neigh_state */
	uint8_t mac[6];
	uint32_t expires_s; /* 0 for PERMANENT */
	uint32_t queued;    /* packets waiting */
};

/* Control-thread counters (the NEIGH part of STATS_GET). */
struct neigh_stats {
	uint64_t arp_requests; /* ARP requests sent */
	uint64_t resolved;     /* INCOMPLETE -> REACHABLE */
	uint64_t failed;       /* gave up resolving */
	uint64_t queued;       /* packets put in a pending queue */
	uint64_t released;     /* queued packets sent after resolution */
};

/* ---- control thread ---------------------------------------------------- */

/* NULL with errno (ENOMEM). Publishes an empty table in dp->neigh. */
struct neigh_table *neigh_create(struct dp_ctx *dp);
void neigh_destroy(struct neigh_table *nt);

/*
 * Add or replace a PERMANENT entry. 0, -EEXIST (a permanent entry for ip
 * exists), -ENOSPC (table full), -ENOMEM. A learned entry is replaced.
 */
int neigh_add(struct neigh_table *nt, uint32_t ip, uint16_t port,
	      const uint8_t mac[6]);

/* Delete any entry for ip (its queue is dropped). 0 or -ENOENT. */
int neigh_del(struct neigh_table *nt, uint32_t ip);

/*
 * An ARP reply from ip/mac came in on port. Only a solicited one is
 * taken: the entry waits for our request (INCOMPLETE) or is STALE and
 * being re-probed. Everything else is unsolicited and ignored (false):
 * no entry (never created from a reply, like Linux with arp_accept=0),
 * a PERMANENT entry, another port, or a REACHABLE entry (confirmed
 * within neigh_reachable_time: a reply then cannot move it to another
 * MAC; a real change is picked up by the re-probe when it goes STALE).
 */
bool neigh_learn(struct neigh_table *nt, uint16_t port, uint32_t ip,
		 const uint8_t mac[6]);

/* Start resolving ip on port (no packet yet), e.g. a route's gateway. */
void neigh_probe(struct neigh_table *nt, uint16_t port, uint32_t ip);

/*
 * Learn from the ARP frames workers queued on dp->arp_ring (neigh_learn;
 * an unsolicited reply counts DP_DROP_ARP_UNSOLICITED).
 */
void neigh_arp_drain(struct neigh_table *nt);

/* Drain dp->pend_ring: queue or send each packet. */
void neigh_drain(struct neigh_table *nt);

/* Retries, expiry; call every few tens of milliseconds. */
void neigh_timer(struct neigh_table *nt, uint64_t now_ms);

/* Drop every entry on port (its addresses are gone). */
void neigh_flush_port(struct neigh_table *nt, uint16_t port);

int neigh_walk(struct neigh_table *nt,
	       int (*fn)(void *arg, const struct neigh_info *ni), void *arg);

void neigh_get_stats(const struct neigh_table *nt, struct neigh_stats *st);
void neigh_zero_stats(struct neigh_table *nt);

/* ---- workers ----------------------------------------------------------- */

/*
 * Slot hash of ip (network order); the table takes its low bits. The
 * neighbours of one subnet differ in the low bits of the host-order
 * address, which are the high bits of the network-order word: multiplied
 * as it is, they stay above bit 24 and every neighbour of a /24 lands in
 * the same slot (the probe becomes a linear scan). In host order, with
 * the upper half folded in, the low bits of the product are a bijection
 * of the address's low bits: consecutive addresses never collide.
 */
static inline uint32_t
neigh_hash(uint32_t ip)
{
	uint32_t x = rte_be_to_cpu_32(ip);

	return (x ^ (x >> 16)) * 2654435761u;
}

/* The published entry for ip if it can be used to send, or NULL. */
static inline const struct neigh_pub_entry *
neigh_lookup(const struct neigh_pub *p, uint32_t ip)
{
	for (uint32_t i = neigh_hash(ip) & p->mask, n = 0; n <= p->mask;
	     i = (i + 1) & p->mask, n++) {
		if (p->e[i].ip == ip)
			return &p->e[i];
		if (p->e[i].ip == 0)
			return NULL;
	}
	return NULL;
}

/*
 * Send m, whose first bytes are an Ethernet header (type already set),
 * to nexthop via port: fills both MACs and queues it for TX when the
 * neighbour is known, else hands it to the control thread for ARP
 * resolution. Always consumes m.
 */
void neigh_output(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
		  uint32_t nexthop);

/*
 * dp.sock handlers (neigh_ctrl.c; req->ctx is the struct dp_ctx):
 * NEIGH_NEW, NEIGH_DEL, the NEIGH_GET dump. 0 or -errno, explained.
 */
struct lbmsg_req;
int neigh_ctrl_new(struct lbmsg_req *req);
int neigh_ctrl_del(struct lbmsg_req *req);
int neigh_ctrl_get(struct lbmsg_req *req);

#endif
