/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4 fragments of the traffic we balance: reassembly on the way in,
 * fragmentation on the way out (docs/dataplane.md "Fragments").
 *
 * In. A TCP or UDP fragment addressed to one of our service addresses
 * (a VIP or a FULL-NAT local address) is held in its worker's
 * reassembly table (librte_ip_frag: one table per worker, no locks,
 * keyed by source, destination, IP ID and protocol) until the datagram
 * is whole; the whole datagram then goes through classification and
 * forwarding as one packet (an mbuf chain). What cannot be reassembled
 * is dropped and counted by reason:
 *
 *   frag_tiny       a fragment that is not the last with fewer than
 *                   frag_min_size payload bytes, or with no payload
 *   frag_short      a first fragment without the whole TCP/UDP header
 *                   (counted by pkt_parse, pkt.c)
 *   frag_too_big    a fragment ending past 65535 bytes of datagram
 *   frag_bad        a set of fragments that does not make a datagram:
 *                   overlapping or duplicate, more than
 *                   RTE_LIBRTE_IP_FRAG_MAX_FRAG (8) of them, a payload
 *                   that is not a multiple of 8 with more fragments to
 *                   come, a TCP fragment at offset 8 (RFC 1858);
 *                   every fragment of the set is counted
 *   frag_table_full no entry free for a new datagram (its fragment)
 *   frag_timeout    the fragments of a datagram not whole within
 *                   frag_timeout_ms of its first fragment
 *
 * The whole datagram is classified by the worker that RSS gives its
 * 4-tuple (fragments are hashed on their addresses only): worker.c hands
 * it over with ipfrag_handoff() when that is another one.
 *
 * Out. dp_worker_tx (dp_tx.h) hands ipfrag_split() every frame that is
 * an mbuf chain or whose IP datagram exceeds its port's MTU. A chain
 * that fits is copied into one mbuf; a datagram that does not fit,
 * without DF, is cut with rte_ipv4_fragment_packet() into fragments of
 * at most the MTU (and of what one mbuf holds), each made one segment
 * again, so that no port ever gets a chain or an indirect mbuf (some
 * PMDs send one segment only, MBUF_FAST_FREE forbids indirect mbufs).
 * An IPIP packet (TUNNEL) whose inner datagram has no DF has the inner
 * datagram cut instead, each piece in a whole IPIP packet. With DF it is
 * dropped as too_big (fwd_icmp_mtu_ok() has answered it with
 * fragmentation needed before); with no mbuf left, frag_nomem.
 * Rewrites happen on the whole datagram before that, so the TCP/UDP
 * checksum covers the whole payload when the fragments are cut.
 */
#ifndef EDGELB_DP_IPFRAG_H
#define EDGELB_DP_IPFRAG_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "dp.h"
#include "pkt.h"

/* Most fragments one datagram is cut into on the way out. */
#define IPFRAG_OUT_MAX 128u

/* Whole datagrams one worker's handoff ring holds. */
#define IPFRAG_HANDOFF_SIZE 1024u

/*
 * Build one reassembly table per worker as dp->conf says (frag_* keys;
 * 0 = derived, see docs) and set dp->frag; nothing when frag_reassembly
 * is off. Call after worker_init() with dp->pool made. 0, -EINVAL (the
 * tables could hold more mbufs than the pool can spare: err says which
 * keys), -ENOMEM.
 */
int ipfrag_init(struct dp_ctx *dp, char *err, size_t errlen);
void ipfrag_fini(struct dp_ctx *dp);

/* Bytes one worker's table takes (measured when it was made). */
uint64_t ipfrag_table_bytes(const struct dp_ctx *dp);

/*
 * Worker: whether m, parsed as pi, is a fragment ipfrag_input() takes:
 * IPv4 TCP or UDP to a VIP or local address, reassembly on.
 */
bool ipfrag_wanted(struct dp_worker *w, const struct pkt_info *pi);

/*
 * Worker: add fragment m (parsed as pi) to its datagram. Returns the
 * whole datagram (one mbuf chain, pi describing it) when m completed
 * it, else NULL: m is held, or dropped and counted (and so may be held
 * fragments of its datagram or of expired ones).
 */
struct rte_mbuf *ipfrag_input(struct dp_worker *w, struct rte_mbuf *m,
			      struct pkt_info *pi);

/*
 * Worker: hand the whole datagram m, received on port, to worker owner
 * (< nworkers), the one RSS gives its 4-tuple and so the connection of
 * its flow: fragments are hashed on their addresses only and may reach
 * another worker. Dropped as handoff_full when owner's ring is full.
 * Consumes m.
 */
void ipfrag_handoff(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
		    unsigned int owner);

/* Worker: up to n datagrams other workers handed to w (port in
 * m->hash.usr); the caller parses and classifies them. */
unsigned int ipfrag_handoff_take(struct dp_worker *w, struct rte_mbuf **pkts,
				 unsigned int n);

/* Worker, once per poll iteration: drop (counted) expired datagrams. */
void ipfrag_poll(struct dp_worker *w);

/*
 * Worker: make the frame m (Ethernet header, then IPv4), bound for port
 * (MTU mtu), fit for transmission: out[0..n) get one-segment frames of
 * at most mtu IP bytes each; returns n, 0 when m was dropped (counted).
 * Consumes m. Non-IPv4 chains are copied into one mbuf or dropped.
 */
unsigned int ipfrag_split(struct dp_worker *w, struct rte_mbuf *m, uint16_t mtu,
			  struct rte_mbuf **out);

#endif
