/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The forwarding stage: connection lookup, scheduling of new flows,
 * per-mode rewriting, and the reply path.
 *
 * The worker loop (worker.c) calls four entry points, once fwd_init()
 * has set dp->fwd (before that it drops what it would forward, counted
 * as fwd_unimplemented):
 *
 *   fwd_prepare  each parsed receive burst, before any packet of it is
 *                handled: one bulk connection lookup whose results it
 *                leaves in pi (PKT_F_HINT, PKT_F_REPLY).
 *   fwd_forward  a TCP/UDP packet to a VIP with a service (worker.c
 *                found it): look up its connection (either direction: a
 *                FULL-NAT reply to a local address that also is a VIP
 *                lands here too), or schedule a new one, then hand the
 *                packet to its mode.
 *   fwd_reverse  a packet classify would otherwise drop or answer
 *                itself: a NAT reply (from a backend, to a client), a
 *                FULL-NAT reply to a local address without a service, an
 *                ICMP error about a tracked connection. Returns true when
 *                it took the packet.
 *   fwd_poll     once per poll-loop iteration: drain this worker's
 *                handoff ring, run its timer wheel (bounded), answer a
 *                pending CONN_GET chunk request.
 *
 * Replies on the right worker. A worker owns the connections it created
 * (its table is private). FULL-NAT picks the local port so that the
 * Toeplitz hash of the reply's tuple, computed in software with
 * rte_softrss() over the port's RSS key and redirection table, selects
 * the owner's queue; without usable RSS (one queue, or a device that does
 * not hash the L4 ports of that protocol) it picks a port with
 * lport % nworkers == owner instead. NAT records each connection's
 * backend-side tuple in a lock-free rte_hash shared by the workers
 * (RW_CONCURRENCY_LF | MULTI_WRITER_ADD; readers never lock, adding
 * workers serialise on the hash's internal writer lock, deleted key
 * slots are recycled after an RCU grace period on dp->qsv). A reply that
 * arrives on another worker anyway is handed to its owner through the
 * owner's multi-producer rte_ring.
 *
 * Modes are const struct fwd_mode_ops registered by enum lb_mode
 * (fwd_dr.c, fwd_nat.c, fwd_tun.c, fwd_fnat.c).
 */
#ifndef EDGELB_DP_FWD_H
#define EDGELB_DP_FWD_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ip.h>
#include <rte_mbuf.h>

#include "conn.h"
#include "dp.h"
#include "pkt.h"
#include "synproxy.h"

#define FWD_HANDOFF_SIZE 4096u	/* mbufs per worker's handoff ring */
#define FWD_LOAD_MAX	 65536u /* backends a per-worker load view covers */
#define FWD_RETA_MAX	 512u
#define FWD_RSS_KEY_MAX	 64u
#define FWD_DUMP_CHUNK	 256u /* connections per CONN_GET handshake */
#define FWD_LPORT_MIN	 1024u
#define FWD_LPORT_TRIES	 2048u /* candidate local ports per address */
#define FWD_SRC_SLOTS	 4096u /* per-source SYN buckets per worker (2^n) */

struct svc;
struct rte_hash;
struct rte_ring;

/* RSS view of a port, for FULL-NAT local port selection. */
struct fwd_rss {
	bool on;     /* key and RETA known, more than one queue */
	bool l4_tcp; /* the device hashes TCP ports over IPv4 */
	bool l4_udp; /* ... UDP ports */
	uint16_t reta_size;
	uint8_t key[FWD_RSS_KEY_MAX];
	uint16_t reta[FWD_RETA_MAX]; /* queue (= worker) per entry */
};

/* CONN_GET handshake between the control thread and one worker. */
struct fwd_dump {
	uint32_t req;  /* control thread: sequence of the request */
	uint32_t done; /* worker: sequence it has answered */
	uint32_t next; /* iterator position in, position out */
	uint32_t n;    /* entries filled */
	struct conn_info out[FWD_DUMP_CHUNK];
};

/*
 * A token bucket kept in TSC cycles (docs/dataplane.md "Connection
 * limits"): credit grows by the cycles elapsed, up to one second's
 * worth; a new connection costs hz / rate cycles.
 */
struct fwd_bucket {
	uint64_t last;	 /* TSC at the last update; 0 = never used */
	uint64_t credit; /* cycles */
};

/* One source address's SYN bucket for one service (per worker). */
struct fwd_src {
	uint32_t saddr; /* network order */
	uint32_t svc_slot;
	struct fwd_bucket b;
};

/* Per-worker forwarding state, written by its worker only. */
struct fwd_worker {
	struct fwd *fwd;
	unsigned int index;
	struct conn_table *ct;
	struct rte_ring *handoff; /* replies other workers received for us */
	uint32_t *rtt_us;	  /* [max_backends]: EWMA by backend slot */
	uint32_t *ld_active;	  /* [FWD_LOAD_MAX] scratch views by index */
	uint32_t *ld_inactive;
	uint32_t *ld_rtt;
	struct fwd_bucket *svc_rate; /* [max_services]: conn_rate buckets */
	struct fwd_src *src;	     /* [FWD_SRC_SLOTS]: syn_src_rate */
	uint64_t *b_over;	     /* [max_backends / 64]: over u_thresh */
	struct synproxy_worker sp;   /* cookie secrets, auto mode */
	uint16_t ip_id;		     /* TUNNEL outer IP ID */
	uint16_t lport_next;	     /* FULL-NAT port cursor */
	uint64_t handoff_in;	     /* packets other workers gave us */
	uint64_t handoff_out;	     /* packets we gave another worker */
	uint64_t adopted; /* connections from a segment without SYN */
	struct fwd_dump dump;
} __rte_cache_aligned;

struct fwd {
	struct dp_ctx *dp;
	struct rte_hash *nat_rev; /* NAT: backend tuple -> owner + 1 */
	struct fwd_rss rss[DP_MAX_PORTS];
	unsigned int nworkers;
	uint64_t tsc_per_us; /* for the SYN to SYN-ACK times (lrt) */
	uint64_t tsc_hz;     /* for the token buckets */
	struct fwd_worker w[];
};

/* Forwarding mode: one per enum lb_mode. */
struct fwd_mode_ops {
	const char *name;
	uint8_t mode;
	bool replies; /* replies pass through us: the conn has an out tuple */
	/*
	 * Complete the backend side of new connection c of service s (laddr,
	 * lport for the out tuple; caddr..bport are set). Returns DP_PASS
	 * when c may be inserted, else the reason to drop the packet.
	 */
	enum dp_drop (*conn_init)(struct fwd_worker *fw, struct conn *c,
				  const struct svc *s);
	/* Undo conn_init's side effects when c leaves the table. */
	void (*conn_release)(struct fwd_worker *fw, struct conn *c);
	/* Rewrite m (of c, direction dir, parsed as pi) and send it. */
	void (*xmit)(struct fwd_worker *fw, struct dp_worker *w,
		     struct rte_mbuf *m, const struct pkt_info *pi,
		     struct conn *c, unsigned int dir);
};

extern const struct fwd_mode_ops fwd_dr_ops;
extern const struct fwd_mode_ops fwd_nat_ops;
extern const struct fwd_mode_ops fwd_tun_ops;
extern const struct fwd_mode_ops fwd_fnat_ops;

/* ---- set-up (main thread, before the workers start) --------------------- */

/*
 * Build the per-worker tables (dp->conf sizes), the NAT reverse map and
 * handoff rings, read each port's RSS key and RETA, and install the
 * hooks. Call after the ports are configured. 0 or -errno (-ENOMEM).
 */
int fwd_init(struct dp_ctx *dp);
void fwd_fini(struct dp_ctx *dp);

/* The same with `conns` connections per worker table (fwd_init: the
 * [dataplane] max_conns setting, default 262144, about 40 MB per worker). */
int fwd_init_conns(struct dp_ctx *dp, uint32_t conns);

/* Read port's RSS view from the device (fwd_rss.c; fwd_init does). */
void fwd_rss_read(struct fwd *f, uint16_t port);

/* Replace port's RSS view (fwd_init reads it from the device). */
void fwd_rss_set(struct dp_ctx *dp, uint16_t port, const struct fwd_rss *r);

/* The worker (queue) whose RSS would receive the IPv4 tuple on port, or
 * -1 when RSS does not decide by the L4 ports of proto there. */
int fwd_rss_queue(const struct fwd_rss *r, uint8_t proto, uint32_t saddr,
		  uint32_t daddr, uint16_t sport, uint16_t dport);

/*
 * ---- the worker's entry points (see the top of this file) -----------------
 * Each takes ownership of the mbuf it is given (fwd_reverse only when it
 * returns true): sent, handed to another worker, or dropped and counted.
 */

void fwd_forward(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
		 const struct pkt_info *pi, const struct svc *s);
bool fwd_reverse(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
		 const struct pkt_info *pi);
void fwd_prepare(struct dp_worker *w, struct pkt_info *pi, uint16_t n);
void fwd_poll(struct dp_worker *w);

/* ---- for conn.c, stats and tests ------------------------------------------ */

struct conn_table *fwd_conn_table(struct dp_ctx *dp, unsigned int worker);

/*
 * The connection tables' unlink callback (arg: the struct fwd_worker),
 * installed by fwd_setup.c: release c's gauges and its mode's state.
 */
void fwd_conn_unlink(void *arg, struct conn *c);

/*
 * Control thread: ask worker for up to FWD_DUMP_CHUNK connections from
 * iterator position *next; waits at most timeout_ms. Returns the count
 * (info in the worker's dump.out until the next request) or -ETIMEDOUT.
 */
int fwd_dump_request(struct dp_ctx *dp, unsigned int worker, uint32_t *next,
		     const struct conn_info **out, int timeout_ms);

/* ---- helpers for the modes --------------------------------------------- */

/*
 * Make m's frame a plain Ethernet header (VLAN tag dropped, type IPv4)
 * followed by the IP datagram without padding. Returns the IP header.
 */
struct rte_ipv4_hdr *fwd_l2_reset(struct rte_mbuf *m,
				  const struct pkt_info *pi);

/* Route dst: 0 with port and next hop, or -ENOENT (drop counted). */
int fwd_route(struct dp_worker *w, struct rte_mbuf *m, uint32_t dst,
	      uint16_t *port, uint32_t *nh);

/* Decrement the TTL, updating the header checksum. */
void fwd_ttl_dec(struct rte_ipv4_hdr *ip);

/*
 * Rewrite the addresses and ports of m's IPv4 header ip and its TCP or
 * UDP header (at l4, proto) with incremental checksum updates. Values in
 * network order.
 */
void fwd_rewrite(struct rte_ipv4_hdr *ip, void *l4, uint8_t proto,
		 uint32_t saddr, uint16_t sport, uint32_t daddr,
		 uint16_t dport);

/* ---- ICMP (fwd_icmp.c) ------------------------------------------------- */

/*
 * TTL ran out on m (received on port, parsed as pi) before we could
 * forward it: count ttl_exceeded and answer its sender with ICMP time
 * exceeded (type 11 code 0), from `from`, back to the frame's Ethernet
 * source on port; no answer about an ICMP error or a later fragment, or
 * over the rate limit (icmp.h). Consumes m.
 */
void fwd_icmp_time_exceeded(struct dp_worker *w, struct rte_mbuf *m,
			    uint16_t port, const struct pkt_info *pi,
			    uint32_t from);

/* The same for a packet of connection c in direction dir: from the VIP
 * to the client side, from our address on port to the backend side. */
void fwd_icmp_time_exceeded_conn(struct dp_worker *w, struct rte_mbuf *m,
				 uint16_t port, const struct pkt_info *pi,
				 const struct conn *c, unsigned int dir);

/*
 * The MTU check of the forwarding path, before c's mode touches m: true
 * when m (plus TUNNEL's outer header) fits the MTU of the port the route
 * to its destination (backend, or client for dir OUT) leaves by. Else m
 * is consumed: with DF, counted frag_needed and answered with ICMP
 * fragmentation needed (type 3 code 4, the next-hop MTU less the outer
 * header) from the VIP to a client, from our address on port to a
 * backend, through the rate limit; without DF, true: the TX path
 * fragments it (ipfrag.h).
 */
bool fwd_icmp_mtu_ok(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
		     const struct pkt_info *pi, const struct conn *c,
		     unsigned int dir);

/*
 * If m (parsed as pi, protocol ICMP) is an error (destination
 * unreachable, time exceeded, parameter problem) about a TCP or UDP
 * packet, fill k with the tuple of the connection it is about (the
 * embedded packet reversed) and return 0. -EINVAL: not such an error
 * (another type, about another protocol). -EBADMSG: such an error that
 * must not be translated, *why set: ICMP checksum wrong, quoted packet a
 * non-first fragment, or less than its IP header + 8 bytes quoted. m is
 * untouched in every case.
 */
int fwd_icmp_error_key(struct rte_mbuf *m, const struct pkt_info *pi,
		       struct conn_key *k, enum dp_drop *why);

/*
 * Translate the ICMP error m about c, received in direction dir (as
 * found with fwd_icmp_error_key), for the other side: outer and embedded
 * addresses and ports with their checksums, TTL decremented; then route
 * and send it (to the client for CONN_DIR_OUT, else to the backend).
 * Counts nothing itself. Consumes m.
 */
void fwd_icmp_error_xmit(struct dp_worker *w, struct rte_mbuf *m,
			 const struct pkt_info *pi, const struct conn *c,
			 unsigned int dir);

/* NAT and FULL-NAT rewrite (fwd_nat.c): in, laddr:lport -> backend;
 * out, VIP:vport -> client; then routed and sent. Consumes m. */
void fwd_nat_rewrite_xmit(struct dp_worker *w, struct rte_mbuf *m,
			  const struct pkt_info *pi, const struct conn *c,
			  unsigned int dir);

static inline struct fwd_worker *
fwd_worker_of(struct dp_worker *w)
{
	return &w->dp->fwd->w[w->index];
}

#endif
