/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICMP for the dataplane's own addresses: echo replies for port addresses
 * and VIPs, built in place from the request.
 */
#ifndef EDGELB_DP_ICMP_H
#define EDGELB_DP_ICMP_H

#include <stdint.h>

#include <rte_mbuf.h>

#include "dp.h"
#include "pkt.h"

/*
 * Worker: m is an ICMP packet (PKT_F_L4 set) to one of our addresses,
 * received on port. Echo requests with a correct checksum are answered
 * back to the sender's MAC on the same port (source: the address asked,
 * TTL 64, checksums recomputed); anything else is dropped and counted.
 * Consumes m.
 */
void icmp_input(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
		const struct pkt_info *pi);

#endif
