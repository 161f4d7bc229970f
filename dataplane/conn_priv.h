/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection table internals shared by conn.c (the table: hash, lookups,
 * insertion, the TCP state machine), conn_timer.c (the timer wheel,
 * deadlines, expiry) and conn_tmpl.c (persistence templates). Worker-only,
 * like the table.
 */
#ifndef EDGELB_DP_CONN_PRIV_H
#define EDGELB_DP_CONN_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"

struct rte_hash;

/*
 * Wheel links are indices into objs. A connection's prev is CONN_NIL when
 * it is on no list, LINK_HEAD | slot when it heads wheel[slot], LINK_PEND
 * when it heads pend, else the index of the connection before it.
 */
#define LINK_HEAD 0x80000000u
#define LINK_PEND 0xfffffffeu

/* Eviction lists (conn_evict.c): embryonic TCP and UDP flows. */
#define CONN_EVL_SYN 0u
#define CONN_EVL_UDP 1u
#define CONN_EVL_N   2u

/*
 * A connection's links on its eviction list, beside the array (struct
 * conn is one full cache line): indices into objs, CONN_NIL at the
 * ends; stamp is c->expires when it was (re)queued.
 */
struct conn_evl {
	uint32_t next, prev;
	uint32_t stamp;
};

struct conn_table {
	struct rte_hash *h;
	struct conn_evl *evl; /* [size] */
	struct conn_sp *sp;   /* [size] (conn.h) */
	uint32_t evl_head[CONN_EVL_N], evl_tail[CONN_EVL_N];
	struct conn *objs; /* [size] */
	uint32_t *free;	   /* [size] stack of free indices */
	uint32_t nfree;
	uint32_t size;
	const struct dpconf_timeouts *tmo;
	conn_clock_fn clock;
	void *clock_arg;
	conn_unlink_fn unlink;
	void *unlink_arg;
	uint32_t budget;
	uint32_t now;	    /* TSC clock: seconds at the last conn_tick() */
	uint32_t gen;	    /* inserts so far: invalidates bulk lookup misses */
	uint32_t evict_gen; /* gen after the last eviction (it counts one):
			     * invalidates the hits of earlier lookups */
	uint32_t cur;	    /* next tick of the wheel to process */
	uint32_t pend;	    /* the rest of tick cur - 1, being processed */
	struct conn_table_stats st;
	uint32_t wheel[CONN_WHEEL_SLOTS];
};

/* The table's clock: seconds (conn_now() for the world outside). */
static inline uint32_t
conn_clock(const struct conn_table *ct)
{
	return ct->clock == NULL ? ct->now : ct->clock(ct->clock_arg);
}

/* Index of c in ct->objs (what wheel links and templates hold). */
static inline uint32_t
conn_idx(const struct conn_table *ct, const struct conn *c)
{
	return (uint32_t)(c - ct->objs);
}

/* ---- conn.c ------------------------------------------------------------- */

/* The key of template (proto, caddr, vaddr, vport). */
void conn_tmpl_key(struct conn_key *k, uint8_t proto, uint32_t caddr,
		   uint32_t vaddr, uint16_t vport);

/* Add k -> data to the hash: 0, -EEXIST or -ENOSPC. */
int conn_add_key(struct conn_table *ct, const struct conn_key *k, void *data);

/* Remove c's keys (and its template reference); nothing if not hashed. */
void conn_unhash(struct conn_table *ct, struct conn *c);

/* Give c's object back to the free stack. */
void conn_obj_put(struct conn_table *ct, struct conn *c);

/* Unhash, unlink and free c, counted as expired. */
void conn_free_obj(struct conn_table *ct, struct conn *c);

/* ---- conn_evict.c ------------------------------------------------------- */

/* c (hashed, not a template) entered or may have left an evictable state
 * (TCP SYN_RECV, any UDP flow): put it on or take it off its list. */
void conn_evl_update(struct conn_table *ct, struct conn *c);

/* Take c off its eviction list (nothing when on none). */
void conn_evl_unlink(struct conn_table *ct, struct conn *c);

/* Free one embryonic or idle UDP connection (counted); false if none. */
bool conn_evict(struct conn_table *ct);

/* ---- conn_timer.c --------------------------------------------------------- */

/* Take c off whatever wheel list holds it (nothing when on none). */
void conn_wheel_unlink(struct conn_table *ct, struct conn *c);

/* File c in the slot of its deadline, as seen from tick ct->cur. */
void conn_wheel_file(struct conn_table *ct, struct conn *c);

/* New deadline for c (see conn_timer.c). */
void conn_set_expires(struct conn_table *ct, struct conn *c, uint32_t expires);

/* Seconds c lives after activity now. */
uint32_t conn_timeout_of(const struct conn_table *ct, const struct conn *c);

#endif
