/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SYN proxy: SYN cookies for NAT and FULL-NAT TCP services, where
 * both directions of a connection pass the balancer.
 *
 * A client's SYN to a service the proxy is on for creates nothing: the
 * worker answers it with a SYN-ACK whose sequence number is a cookie.
 * The client's ACK of it (no connection found, ACK - 1 a valid cookie
 * for its tuple and sequence number) creates the connection through the
 * ordinary new-connection path (limits, scheduler, the mode's
 * conn_init), and the worker opens the backend side with a SYN of its
 * own carrying the client's ISN and the options the cookie encodes.
 * When the backend's SYN-ACK comes, the worker answers it with the ACK
 * the client sent us (the client's window; FULL-NAT's TOA rides on it as
 * on any first ACK) and forwards the one client segment it held, if
 * any; the SYN-ACK itself goes no further. From then on the backend's
 * sequence space is `delta` = backend ISN - cookie ahead of the one the
 * client knows: a backend segment's sequence number gets - delta, a
 * client segment's ACK number and SACK edges + delta (client bytes keep
 * their numbers: the backend's SYN carried the client's own ISN).
 *
 * The cookie (32 bits): the top 24 bits are SipHash-2-4 of the 4-tuple,
 * the client's ISN, a counter of SYNPROXY_PERIOD_S-second periods and
 * the low 8 bits, under the worker's secret for that period; the low 8
 * bits encode the options:
 *
 *   bits 0-2  MSS, an index into synproxy_mss[] (the largest entry not
 *             above the client's MSS; 536 without the option)
 *   bits 3-6  the client's window scale 0..14, 15 = it sent none
 *   bit 7     the client offered SACK
 *
 * A cookie is valid in its period and the next (SYNPROXY_PERIOD_S to
 * twice that). Each worker draws a new random secret for each period
 * (rte_rand()) in the slot of the period before last: secret rotation
 * without a control-thread step, and a cookie of an older period finds
 * another secret. Secrets are per worker: RSS gives a client's ACK to
 * the worker that saw its SYN.
 *
 * Options: the SYN-ACK offers the client MSS (the backend-side port's MTU
 * - 40), SACK when it offered SACK, and window scale SYNPROXY_WSCALE when
 * it offered window scaling; the backend's SYN carries the decoded MSS,
 * SACK and the client's window scale. The backend's own window scale is
 * known only from its SYN-ACK: every window field is then rescaled per
 * direction (win_in, win_out of struct conn_sp) so that both sides read
 * the byte counts the other meant. Timestamps are not preserved: neither
 * SYN-ACK nor backend SYN carries them, so neither side uses them
 * (RFC 7323) -- the cookie has no room for a TSval.
 *
 * Client segments that arrive before the backend completes: the first
 * one with payload is held (one mbuf per connection, in a per-worker
 * table of SYNPROXY_HELD slots mapped by connection; when its slot is
 * taken it is not held) and sent after the handshake ACK; the others are
 * dropped (synproxy_pending) and the client sends them again. What a
 * connection keeps (struct conn_sp, 8 bytes beside the table): the
 * cookie, then the shift; the client's ACK window and the cookie's
 * option bits, then the two window shifts. The client's ISN is not
 * kept: the backend's SYN-ACK acknowledges it. A backend that answers with RST gets its RST
 * to the client (at the client's sequence numbers); one that never
 * answers leaves a SYN_RECV connection that expires or is evicted like
 * any embryonic one. Either counts backend_failed.
 *
 * Modes per service (LB_SVC_F_SYNPROXY_ON / _OFF in the service flags;
 * neither: auto, the default): off, on, or auto -- on while this worker
 * sees more than [dataplane] synproxy_syn_rate SYNs per second (in the
 * current or the last one-second window) or its connection table is at
 * least synproxy_fill percent full. ACKs are checked as cookies whenever
 * the service's mode is not off and the worker has issued cookies within
 * the last two periods. DR and TUNNEL never use it: the backend answers
 * the client directly, so its SYN-ACK with its own ISN would reach the
 * client, which holds the cookie's, and nothing is there to shift.
 */
#ifndef EDGELB_DP_SYNPROXY_H
#define EDGELB_DP_SYNPROXY_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "conn.h"
#include "dp.h"
#include "pkt.h"

#define SYNPROXY_PERIOD_S  64u
#define SYNPROXY_WSCALE	   7u  /* the window scale we offer clients */
#define SYNPROXY_NO_WSCALE 15u /* "the client sent none" in a cookie */
#define SYNPROXY_MSS_N	   8u
#define SYNPROXY_HELD	   4096u /* held segments per worker, at most */

/* The MSS values a cookie can carry. */
extern const uint16_t synproxy_mss[SYNPROXY_MSS_N];

struct synproxy_key {
	uint64_t k0, k1;
};

/* One worker's SYN proxy state (in its struct fwd_worker). */
struct synproxy_worker {
	struct synproxy_key key[2]; /* by period parity */
	uint32_t key_period[2];	    /* the period each key is for */
	bool key_set[2];
	/* auto mode: SYNs in this one-second window and the last */
	uint64_t win_start; /* TSC */
	uint32_t win_syns;
	uint32_t last_syns;
	bool auto_on; /* at the last SYN */
	/* client segments waiting for their backend (CONN_F_SP_HELD), one
	 * per connection, direct-mapped by connection: a connection whose
	 * slot is taken holds nothing (its client sends again) */
	struct rte_mbuf *held[SYNPROXY_HELD];
	const struct conn *held_by[SYNPROXY_HELD];
};

/* What a cookie carries. */
struct synproxy_opts {
	uint16_t mss;
	uint8_t wscale; /* 0..14, SYNPROXY_NO_WSCALE */
	bool sack;
};

/* The tuple a cookie is bound to (network order, as on the wire). */
struct synproxy_tuple {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
};

/* ---- cookies (pure; also for tests) ------------------------------------ */

/* The cookie for a SYN with initial sequence number isn (host order) of
 * tuple t, under key k in period `period`, carrying o. */
uint32_t synproxy_cookie(const struct synproxy_key *k,
			 const struct synproxy_tuple *t, uint32_t isn,
			 uint32_t period, const struct synproxy_opts *o);

/* The period of second `now` (conn_now()). */
static inline uint32_t
synproxy_period(uint32_t now)
{
	return now / SYNPROXY_PERIOD_S;
}

/*
 * The key of sp for period p, drawing a fresh secret into its slot when
 * that holds an older period's (rotation). Only for the current period.
 */
const struct synproxy_key *synproxy_key_for(struct synproxy_worker *sp,
					    uint32_t p);

/*
 * Check cookie (the ACK number - 1 of a client's ACK; isn its sequence
 * number - 1) of tuple t at second now: 0 with *o decoded, -EINVAL when
 * it is no cookie of this worker's current or previous period.
 */
int synproxy_cookie_check(const struct synproxy_worker *sp, uint32_t now,
			  const struct synproxy_tuple *t, uint32_t isn,
			  uint32_t cookie, struct synproxy_opts *o);

/* Did sp issue cookies that may still be valid at second now? */
bool synproxy_cookies_live(const struct synproxy_worker *sp, uint32_t now);

/* The options of a SYN's TCP header th (hlen bytes), MSS rounded down to
 * synproxy_mss[]. */
void synproxy_syn_opts(const struct rte_tcp_hdr *th, unsigned int hlen,
		       struct synproxy_opts *o);

/* ---- the packet path (the forwarding stage calls these) ----------------- */

/*
 * Is the proxy on for a new TCP connection of a service with flags and
 * mode (NAT or FULL-NAT) on this worker? syn: count the packet, a SYN,
 * for auto mode. used/size: this worker's table fill.
 */
bool synproxy_on(struct dp_worker *w, struct synproxy_worker *sp,
		 uint32_t flags, uint8_t mode, bool syn, uint32_t used,
		 uint32_t size);

/*
 * Answer the client's SYN m (received on port, parsed as pi) with a
 * SYN-ACK carrying a cookie, in m itself, sent back out of port to the
 * frame's source. bmss: the MSS to offer. Consumes m.
 */
void synproxy_syn(struct dp_worker *w, struct synproxy_worker *sp, uint32_t now,
		  struct rte_mbuf *m, uint16_t port, const struct pkt_info *pi,
		  uint16_t bmss);

/*
 * A client's ACK m with no connection: DP_PASS when it carries a valid
 * cookie (*o decoded, counted), else the reason to drop it (counted).
 */
enum dp_drop synproxy_ack(struct dp_worker *w, const struct synproxy_worker *sp,
			  uint32_t now, struct rte_mbuf *m,
			  const struct pkt_info *pi, struct synproxy_opts *o);

/*
 * c was just created for the valid cookie ACK m (options o): fill its
 * state (CONN_F_SP) and build the SYN for its backend as a client packet
 * (*spi describes it), to be sent like one. m: held when it carries
 * payload, else freed. NULL when no mbuf was free (m untouched then).
 */
struct rte_mbuf *synproxy_open(struct dp_worker *w, struct synproxy_worker *spw,
			       struct conn_sp *sp, struct conn *c,
			       struct rte_mbuf *m, const struct pkt_info *pi,
			       const struct synproxy_opts *o,
			       struct pkt_info *spi);

/*
 * A client segment m of c (CONN_F_SP, backend not done yet): DP_PASS to
 * send it on (a SYN, an RST), *held when it was kept for later, else the
 * reason to drop it.
 */
enum dp_drop synproxy_pending(struct dp_worker *w, struct synproxy_worker *spw,
			      struct conn *c, struct rte_mbuf *m,
			      const struct pkt_info *pi, bool *held);

/*
 * The backend's segment m of c (CONN_F_SP, not done), before it is
 * tracked. A SYN-ACK: the shift and
 * window scales are set with CONN_F_SP_DONE, *ack is the ACK to send to
 * the backend as a client packet (*api), *held (pi in *hpi) the segment
 * to send after it, if any; the caller tracks m and frees it. An RST:
 * rewritten in place to the client's sequence numbers, *ack NULL, m goes
 * on as a reply. Returns DP_PASS, or the reason to drop m (anything
 * else; no mbuf for the ACK: the backend sends its SYN-ACK again).
 */
enum dp_drop synproxy_backend(struct dp_worker *w, struct synproxy_worker *spw,
			      struct conn_sp *sp, struct conn *c,
			      struct rte_mbuf *m, const struct pkt_info *pi,
			      struct rte_mbuf **ack, struct pkt_info *api,
			      struct rte_mbuf **held, struct pkt_info *hpi);

/* Shift a segment m of c (CONN_F_SP_DONE) in direction dir: sequence or
 * ACK number, SACK edges, window. */
void synproxy_shift(const struct conn_sp *sp, struct rte_mbuf *m,
		    const struct pkt_info *pi, unsigned int dir);

/* c (CONN_F_SP) leaves the table: free its held segment, count a
 * backend that never completed. */
void synproxy_release(struct dp_worker *w, struct synproxy_worker *spw,
		      struct conn *c);

#endif
