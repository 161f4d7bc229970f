/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection tracking: one table per worker lcore, written and read only
 * by its owner, so it takes no lock.
 *
 * A connection is one struct conn (one cache line) from the table's own
 * array, allocated from a stack of free indices, reachable through an
 * rte_hash by the 5-tuple of each direction it is seen in:
 *
 *   in:  client:cport -> VIP:vport          (every mode)
 *   out: backend:bport -> local:lport      (NAT and FULL-NAT replies)
 *
 * where local is the client itself in NAT mode and a FULL-NAT local
 * address otherwise. Both entries point at the same object; the low bit
 * of the stored pointer says which direction matched.
 *
 * TCP follows IPVS's state machine (ip_vs_proto_tcp.c: the in/out tables
 * when both directions pass through us, the input-only table for DR and
 * TUNNEL), except that a RST always leads to CLOSE. The forwarding stage
 * first checks each segment against the window of sequence numbers seen
 * from its side (conn_tcp_seq(), RFC 5961): an RST outside it is
 * dropped, and no segment outside it changes the state. Each state's timeout
 * comes from the dataplane's timeouts (struct dpconf_timeouts, read
 * whenever a timer restarts, so that CONFIG_SET applies from the next
 * packet of each connection):
 * SYN_SENT and SYN_RECV use syn_recv, CLOSE_WAIT and LAST_ACK use
 * fin_wait, NONE uses close; UDP flows use udp.
 *
 * Expiry runs on a timer wheel of CONN_WHEEL_SLOTS one-second ticks. A
 * connection sits in the slot of its deadline (or the farthest slot when
 * the deadline is further away); when the deadline moves later nothing is
 * touched, and the wheel re-files the connection when it reaches the old
 * slot; when it moves earlier the connection is moved at once (O(1),
 * doubly linked). conn_expire() processes at most `budget` connections per
 * call, so the poll loop's latency stays bounded however many expire in
 * the same second. A lookup never returns a connection past its deadline,
 * even when the wheel is behind.
 *
 * Persistence templates (IPVS's "persistent" services) are objects of the
 * same array, keyed by (proto, client address, VIP, vport) with a marker
 * byte, remembering a backend for svc->persist seconds; connections
 * scheduled through a template keep it alive while they exist.
 *
 * A worker looks up a whole receive burst at once (conn_lookup_bulk(),
 * rte_hash's bulk lookup, which overlaps the cache misses of the burst's
 * buckets and keys and prefetches each connection found), then handles
 * the packets one by one with conn_lookup_hint(): a hint stays valid
 * while nothing was inserted since the bulk lookup and the connection it
 * names is still hashed and nothing was evicted since (an eviction frees
 * an object at once, and it may be reused within the burst); otherwise
 * the packet is looked up again.
 *
 * When the array is full, conn_alloc() makes room by evicting (see
 * conn_evict.c): the oldest embryonic TCP connection (SYN_RECV) first,
 * else the UDP flow idle for longest, each counted (evicted_syn,
 * evicted_udp). Each connection in such a state sits on one of two
 * per-table lists beside the array (CONN_F_EVL), so an eviction is O(1):
 * the SYN_RECV list is in order of entry, and the UDP list in order of
 * (re)queueing, kept lazily like the wheel -- a UDP packet touches no list;
 * the eviction finds the head touched since it was queued (its deadline
 * moved) and queues it again at the tail, at most CONN_EVICT_SCAN times,
 * before it evicts the first head that was not. Only when neither list
 * yields a victim does conn_alloc() return NULL and count table_full; the
 * caller drops the packet (DP_DROP_CONN_TABLE_FULL). Established TCP
 * connections and templates are never evicted.
 */
#ifndef EDGELB_DP_CONN_H
#define EDGELB_DP_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>

#include "dpconf.h"

#define CONN_WHEEL_SLOTS    1024u
#define CONN_EVICT_SCAN	    8u /* UDP heads re-queued per eviction, at most */
#define CONN_DEFAULT_BUDGET 256u

/* Direction of a packet relative to its connection. */
#define CONN_DIR_IN  0u /* client -> VIP */
#define CONN_DIR_OUT 1u /* backend -> local address (a reply) */

/* TCP states, numbered like IPVS's IP_VS_TCP_S_* (the CONN_GET STATE). */
enum conn_state {
	CONN_S_NONE = 0,
	CONN_S_ESTABLISHED = 1,
	CONN_S_SYN_SENT = 2,
	CONN_S_SYN_RECV = 3,
	CONN_S_FIN_WAIT = 4,
	CONN_S_TIME_WAIT = 5,
	CONN_S_CLOSE = 6,
	CONN_S_CLOSE_WAIT = 7,
	CONN_S_LAST_ACK = 8,
	CONN_S_MAX = 9,
};

/* struct conn.flags */
#define CONN_F_TEMPLATE (1u << 0)  /* a persistence template */
#define CONN_F_HASHED	(1u << 1)  /* in the hash (not yet unlinked) */
#define CONN_F_OUT	(1u << 2)  /* has an out entry (replies via us) */
#define CONN_F_ACTIVE	(1u << 3)  /* counted as active (else inactive) */
#define CONN_F_TOA	(1u << 4)  /* FULL-NAT: put TOA in SYN + 1st ACK */
#define CONN_F_TOA_DONE (1u << 5)  /* ... the first ACK had it */
#define CONN_F_RTT	(1u << 6)  /* SYN time taken, SYN-ACK awaited */
#define CONN_F_REVMAP	(1u << 7)  /* NAT: in the shared reverse map */
#define CONN_F_PP	(1u << 8)  /* FULL-NAT TCP: PROXY v2 header first */
#define CONN_F_PP_SEQ	(1u << 9)  /* ... pp_seq known (SYN-ACK seen) */
#define CONN_F_SEQ_IN	(1u << 10) /* seq_hi[CONN_DIR_IN] known */
#define CONN_F_SEQ_OUT	(1u << 11) /* seq_hi[CONN_DIR_OUT] known */
#define CONN_F_EVL	(1u << 12) /* on an eviction list (conn_evict.c) */
#define CONN_F_SP	(1u << 13) /* opened by the SYN proxy: conn_sp() */
#define CONN_F_SP_DONE	(1u << 14) /* ... backend handshake done: shift */
#define CONN_F_SP_HELD	(1u << 15) /* ... holds a client segment */

/*
 * The window of sequence numbers a TCP segment from one side must fall
 * in (conn_tcp_seq()), in units of 1 << CONN_SEQ_SHIFT bytes (64 KiB)
 * around the highest sequence number seen from that side: up to
 * CONN_SEQ_BEHIND units before it (4 MiB: data in flight, an RST at an
 * old ACK number) and CONN_SEQ_AHEAD units after it (one segment).
 */
#define CONN_SEQ_SHIFT	16
#define CONN_SEQ_BEHIND 64
#define CONN_SEQ_AHEAD	2

/* Hash key: one direction's 5-tuple, addresses and ports network order. */
struct conn_key {
	uint32_t saddr;
	uint32_t daddr;
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;
	uint8_t tmpl; /* 1 for a template key, else 0 */
	uint8_t pad[2];
};

/* "No connection" in the 32-bit links below. */
#define CONN_NIL UINT32_MAX

/*
 * One connection (or template): exactly one cache line, in the table's
 * own array (see conn_table_create), so that a packet touches one line
 * of connection state. Addresses and ports in network order. Fields are
 * filled by the caller between conn_alloc() and conn_insert() (caddr..
 * bport, proto, mode, svc_slot, bslot, bidx, flags) and are owned by the
 * worker afterwards. Links are indices into the table's array.
 */
struct conn {
	uint32_t next, prev; /* timer wheel list (conn.c) */
	uint32_t tmpl;	     /* the template it was scheduled by, or CONN_NIL */
	uint32_t caddr, vaddr, baddr;
	union {
		uint32_t laddr;	  /* connections */
		uint32_t persist; /* templates: seconds kept after last use */
	};
	uint32_t expires;  /* clock second at which it expires */
	uint32_t svc_slot; /* service slot (counters) */
	uint32_t bslot;	   /* backend slot */
	union {
		uint32_t t_syn;	 /* lrt: TSC-derived microseconds at SYN */
		uint32_t refcnt; /* templates: connections using it */
		/*
		 * CONN_F_PP_SEQ: the client's first data sequence number
		 * (host order), taken from the backend's SYN-ACK once t_syn
		 * has been read (CONN_F_RTT is cleared then). Client bytes
		 * from here on sit PROXY2_V4_LEN later in the backend's
		 * sequence space.
		 */
		uint32_t pp_seq;
	};
	uint16_t cport, vport, lport, bport;
	uint16_t flags; /* CONN_F_* */
	uint16_t bidx;	/* index in the service version: a hint (conn_bidx) */
	/*
	 * TCP: per direction, the sequence number just past the last one
	 * seen from that side, >> CONN_SEQ_SHIFT (CONN_F_SEQ_IN << dir:
	 * known); see conn_tcp_seq().
	 */
	uint16_t seq_hi[2];
	uint8_t proto;
	uint8_t mode;  /* enum lb_mode */
	uint8_t state; /* enum conn_state */
	uint8_t pad[1];
} __rte_cache_aligned;

_Static_assert(sizeof(struct conn) == RTE_CACHE_LINE_SIZE,
	       "a connection is one cache line");

/* A backend's index as a struct conn.bidx hint; past 65534: no hint. */
static inline uint16_t
conn_bidx(uint32_t i)
{
	return i < UINT16_MAX ? (uint16_t)i : UINT16_MAX;
}

/*
 * What the SYN proxy (synproxy.h) keeps about a connection it opened
 * (CONN_F_SP), beside the array like the eviction links, so that struct
 * conn stays one cache line: 8 bytes per table slot, read only for such
 * connections. Host order.
 */
struct conn_sp {
	uint32_t seq; /* the cookie while the backend is not up, then delta:
		       * the backend's ISN - the cookie (CONN_F_SP_DONE) */
	union {
		uint16_t win; /* not done: the client's handshake ACK window */
		struct {
			int8_t win_in;	/* done: client window shift */
			int8_t win_out; /* done: backend window shift */
		};
	};
	uint8_t opts; /* the cookie's option bits (synproxy.h) */
	uint8_t pad;
};

/* Seconds on the table's clock. */
typedef uint32_t (*conn_clock_fn)(void *arg);

/* Called when c leaves the hash (expiry, conn_kill, table destroy) to
 * release what the caller attached (gauges, reverse map, local port). */
typedef void (*conn_unlink_fn)(void *arg, struct conn *c);

struct conn_table_conf {
	const char *name; /* unique: names the hash */
	uint32_t size;	  /* connections + templates; >= 64 */
	int socket_id;
	const struct dpconf_timeouts *tmo; /* read on every timer restart */
	/* NULL: seconds of the TSC, read by conn_tick() */
	conn_clock_fn clock;
	void *clock_arg;
	conn_unlink_fn unlink;
	void *unlink_arg;
	uint32_t budget; /* connections per conn_expire(); 0 = default */
};

struct conn_table_stats {
	uint64_t created;     /* connections (not templates) inserted */
	uint64_t expired;     /* connections and templates freed */
	uint64_t table_full;  /* array full and nothing to evict */
	uint64_t evicted_syn; /* SYN_RECV connections evicted for room */
	uint64_t evicted_udp; /* idle UDP flows evicted for room */
	uint32_t conns;	      /* gauge: objects in use (incl. templates) */
	uint32_t templates;   /* gauge */
};

/* A connection as dumped (CONN_GET). */
struct conn_info {
	uint8_t proto, mode, state;
	uint16_t flags;
	uint32_t caddr, vaddr, laddr, baddr;
	uint16_t cport, vport, lport, bport;
	uint32_t expires_s; /* seconds left */
};

struct conn_table;
struct dp_ctx;
struct lbmsg_req;

/* NULL with errno: EINVAL (bad conf), ENOMEM, EEXIST (name in use). */
struct conn_table *conn_table_create(const struct conn_table_conf *conf);
/* Unlinks (calling unlink for each) and frees everything. */
void conn_table_destroy(struct conn_table *ct);

/* The table's clock, in seconds. */
uint32_t conn_now(const struct conn_table *ct);

/* Read the TSC clock again; conn_expire() does, once a poll iteration. */
void conn_tick(struct conn_table *ct);

/*
 * The connection whose in or out tuple is k, with *dir set, or NULL. A
 * connection past its deadline is unlinked here and not returned.
 */
struct conn *conn_lookup(struct conn_table *ct, const struct conn_key *k,
			 unsigned int *dir);

/* Result of a bulk lookup for one key: hash data (NULL: not found). */
struct conn_hint {
	void *d;
	uint32_t gen; /* the table's insert generation at the lookup */
};

/* Up to CONN_BULK_MAX keys at once (n of them); fills hints[0..n). */
#define CONN_BULK_MAX 64u
void conn_lookup_bulk(struct conn_table *ct, const struct conn_key **keys,
		      unsigned int n, struct conn_hint *hints);

/* conn_lookup() of k, answered from h when h is still valid. */
struct conn *conn_lookup_hint(struct conn_table *ct, const struct conn_key *k,
			      const struct conn_hint *h, unsigned int *dir);

/* A zeroed object (links CONN_NIL); when the array is full one evicted
 * for it (see the top), or NULL (nothing to evict: table_full counted).
 * An eviction runs the unlink callback of its victim; pointers the caller
 * holds to other SYN_RECV or UDP connections may be stale afterwards. */
struct conn *conn_alloc(struct conn_table *ct);

/*
 * Hash c by its in tuple and, with CONN_F_OUT set, its out tuple; start
 * its timer for its state (TCP: whatever c->state is; UDP: udp). 0, or
 * -EEXIST (a tuple is in use) / -ENOSPC (hash full): then c is not in the
 * table and still the caller's, who undoes what it attached to c and
 * returns it with conn_put().
 */
int conn_insert(struct conn_table *ct, struct conn *c);

/* Return a conn that is not in the table (a failed conn_insert). */
void conn_put(struct conn_table *ct, struct conn *c);

/* The key of c's tuple in direction dir. */
void conn_key_of(const struct conn *c, unsigned int dir, struct conn_key *k);

/*
 * A TCP segment with flags (RTE_TCP_*_FLAG) of c went in direction dir:
 * move c's state and restart its timer. Returns the new state.
 */
uint8_t conn_tcp_event(struct conn_table *ct, struct conn *c, unsigned int dir,
		       uint8_t tcp_flags);

/*
 * RFC 5961 as a middlebox can apply it: is a TCP segment of c from side
 * dir (flags, sequence number seq, len payload bytes) within the window
 * of sequence numbers seen from that side (CONN_SEQ_*)? A side nothing
 * was seen from yet is not judged; its SYN starts the window, as does a
 * new SYN of it while the handshake is not complete (state NONE,
 * SYN_SENT, SYN_RECV). A segment in the window other than an RST moves
 * the window's top to its end (seq + len, + 1 for SYN and FIN) when that
 * is later.
 * Returns true when in the window (or not judged); nothing changes
 * otherwise. The caller drops an RST that is not, and changes no state
 * for any segment that is not.
 */
bool conn_tcp_seq(struct conn *c, unsigned int dir, uint8_t tcp_flags,
		  uint32_t seq, uint32_t len);

/* Restart c's timer with its current timeout (UDP traffic). */
void conn_touch(struct conn_table *ct, struct conn *c);

/* Set c's state and timer as if it had moved there (also for tests). */
void conn_set_state(struct conn_table *ct, struct conn *c, uint8_t state);

/* Unlink c now (unlink callback runs); it is freed by the wheel. */
void conn_kill(struct conn_table *ct, struct conn *c);

/* Run the wheel up to now; returns the connections handled (<= budget). */
unsigned int conn_expire(struct conn_table *ct);

/* The SYN proxy state of c: filled by the SYN proxy when it opens c,
 * meaningful only while c has CONN_F_SP. */
struct conn_sp *conn_sp(struct conn_table *ct, const struct conn *c);

/* Objects in use (connections and templates) and the table's size. */
uint32_t conn_used(const struct conn_table *ct, uint32_t *size);

/* ---- persistence templates --------------------------------------------- */

/* The live template for (proto, caddr, vaddr, vport), or NULL. */
struct conn *conn_tmpl_get(struct conn_table *ct, uint8_t proto, uint32_t caddr,
			   uint32_t vaddr, uint16_t vport);

/*
 * Insert t (from conn_alloc, with caddr, vaddr, vport, proto, baddr,
 * bport, svc_slot, bslot, bidx filled) as a template living persist
 * seconds after its last use. 0, -EEXIST, -ENOSPC (t returned to the table).
 */
int conn_tmpl_insert(struct conn_table *ct, struct conn *t, uint32_t persist);

/* c is scheduled by t: t lives at least as long as c, and is refreshed. */
void conn_tmpl_bind(struct conn_table *ct, struct conn *c, struct conn *t);

/* ---- statistics and dumps ---------------------------------------------- */

void conn_get_stats(const struct conn_table *ct, struct conn_table_stats *st);

/*
 * Copy up to max connections (templates skipped) into out, starting at
 * the hash iterator position *next and leaving it where it stopped;
 * *next becomes UINT32_MAX at the end. Owner only. Returns the count.
 */
uint32_t conn_dump_chunk(struct conn_table *ct, uint32_t *next,
			 struct conn_info *out, uint32_t max);

/*
 * CONN_GET (control thread; conn_ctrl.c), incremental: conn_dump_start()
 * takes the request over (a copy of it, a dup of the client's socket) and each
 * conn_dump_step() asks the workers for at most CONN_DUMP_CHUNKS chunks
 * of their tables (fwd.c's handshake, so that no table is read
 * concurrently with its owner) and sends at most CONN_DUMP_BUDGET messages -- a part per connection that
 * passes every filter present (PROTO, VIP, VPORT, CADDR, CPORT, LADDR,
 * LPORT, ADDR, PORT, STATE, LCORE), then NLMSG_DONE and the ack -- without
 * ever waiting for the socket: a part the socket does not take waits in
 * the dump (one message per client beyond its socket buffer). A client
 * that takes nothing for CONN_DUMP_STALL_MS is hung up on. A worker that
 * does not answer within a second ends the dump with ETIMEDOUT.
 *
 * conn_dump_start: the dump, or NULL with errno and req's error text set.
 * conn_dump_step: CONN_DUMP_MORE (call again), CONN_DUMP_BLOCKED (the
 * socket is full), CONN_DUMP_FINISHED or CONN_DUMP_FAILED (free it).
 */
#define CONN_DUMP_BUDGET   256u
#define CONN_DUMP_CHUNKS   2u /* worker chunks read per step, at most */
#define CONN_DUMP_STALL_MS 5000u

enum {
	CONN_DUMP_MORE = 0,
	CONN_DUMP_BLOCKED,
	CONN_DUMP_FINISHED,
	CONN_DUMP_FAILED,
};

struct conn_dump;
struct conn_dump *conn_dump_start(struct dp_ctx *dp, struct lbmsg_req *req);
int conn_dump_step(struct dp_ctx *dp, struct conn_dump *d, uint64_t now_ms);
void conn_dump_free(struct conn_dump *d);

/* STATS_GET parts of kind LB_STATS_CONNTAB, one per worker (conn_ctrl.c).
 * 0 or -errno */
int conn_stats_dump(struct dp_ctx *dp, struct lbmsg_req *req);

/* For tests and docs: the timeout of state for proto under tmo. */
uint32_t conn_state_timeout(const struct dpconf_timeouts *tmo, uint8_t proto,
			    uint8_t state);

/* "ESTABLISHED", ... */
const char *conn_state_name(uint8_t state);

/* dp.sock CONN_GET handler (conn_ctrl.c; req->ctx is the struct dp_ctx):
 * starts a dump that ctrl_poll() goes on with. */
int conn_ctrl_get(struct lbmsg_req *req);

#endif
