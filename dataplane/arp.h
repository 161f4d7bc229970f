/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP: the responder (workers answer requests for port addresses, VIPs
 * and FULL-NAT local addresses in place), the hand-off of replies to the
 * neighbour cache, and the frames the control thread originates: requests
 * for next hops and gratuitous ARP when an address appears.
 */
#ifndef EDGELB_DP_ARP_H
#define EDGELB_DP_ARP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "edgelb/types.h"
#include "dp.h"
#include "pkt.h"

/* Worker: handle an ARP frame m received on port. Consumes m. */
void arp_input(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
	       const struct pkt_info *pi);

/* Control thread: broadcast a request for tip from sip on port. */
void arp_send_request(struct dp_ctx *dp, uint16_t port, uint32_t sip,
		      uint32_t tip);

/* Control thread: announce ip on port (sender = target = ip). */
void arp_send_garp(struct dp_ctx *dp, uint16_t port, uint32_t ip);

/*
 * svc_addr_cb for the service table (arg: the struct dp_ctx): announce a
 * new VIP or local address on every port.
 */
void arp_svc_addr_cb(void *arg, const struct lb_addr *addr, bool added);

#endif
