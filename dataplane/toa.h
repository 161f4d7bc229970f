/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TOA ("TCP Option Address"): the client's address and port carried to a
 * FULL-NAT backend in a TCP option, so that the backend's applications
 * can learn who the client is although the connection comes from the
 * load balancer's local address.
 *
 * Layout read by the toa kernel module (Alibaba/DPVS "toa", which hooks
 * getname() of accepted sockets): kind 254, length 8, then the client's
 * port and IPv4 address, both in network order. The module looks for it
 * in the ACK that completes the handshake; it is also put in the SYN,
 * like DPVS does, for stacks that read it there.
 */
#ifndef EDGELB_DP_TOA_H
#define EDGELB_DP_TOA_H

#include <stdint.h>

#define TOA_KIND 254
#define TOA_LEN	 8 /* bytes of the option, kind and length included */

struct toa_opt {
	uint8_t kind;  /* TOA_KIND */
	uint8_t len;   /* TOA_LEN */
	uint16_t port; /* client port, network order */
	uint32_t addr; /* client IPv4 address, network order */
} __attribute__((packed));

_Static_assert(sizeof(struct toa_opt) == TOA_LEN, "TOA option is 8 bytes");

#endif
