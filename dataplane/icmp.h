/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICMP for the dataplane's own addresses: echo replies for port addresses
 * and VIPs, built in place from the request; and the rate limit every
 * ICMP message the dataplane generates passes (echo replies here, the
 * errors of the forwarding stage in fwd_icmp.c).
 *
 * Rate limit: per worker, two token buckets (icmp_rl.h), both of which
 * must hold a token: all answers ([dataplane] icmp_rate per second, depth
 * icmp_burst) and the answer's destination /24 (icmp_dest_rate, depth
 * icmp_dest_burst; 256 hashed buckets). A rate of 0 lets nothing
 * through. With N workers the process sends at most N times the rates.
 */
#ifndef EDGELB_DP_ICMP_H
#define EDGELB_DP_ICMP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "dp.h"
#include "pkt.h"

/*
 * Worker: may an ICMP message to dst (network order) be sent now? Takes
 * a token from both buckets when it may; counts icmp_st.ratelimited
 * when not.
 */
bool icmp_rl_allow(struct dp_worker *w, uint32_t dst);

/*
 * Worker: m is an ICMP packet (PKT_F_L4 set) to one of our addresses,
 * received on port. Echo requests with a correct checksum are answered
 * back to the sender's MAC on the same port (source: the address asked,
 * TTL 64, checksums recomputed) when icmp_rl_allow() lets them (else
 * dropped as icmp_ratelimited); anything else is dropped and counted.
 * Consumes m.
 */
void icmp_input(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
		const struct pkt_info *pi);

#endif
