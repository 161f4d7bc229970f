/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PROXY protocol version 2 (HAProxy, "The PROXY protocol", section 2.2):
 * the binary header a FULL-NAT service with LB_SVC_F_PROXY_V2 puts in
 * front of a connection's byte stream towards the backend, so that the
 * backend learns the real client although the connection comes from the
 * load balancer's local address.
 *
 * Layout for TCP over IPv4, 28 bytes:
 *
 *   0  12 bytes signature   \r \n \r \n \0 \r \n Q U I T \n
 *  12  ver_cmd  0x21        version 2, command PROXY
 *  13  fam      0x11        AF_INET, SOCK_STREAM
 *  14  len      12          bytes that follow (network order)
 *  16  src_addr, dst_addr   client address, VIP (network order)
 *  24  src_port, dst_port   client port, service port (network order)
 *
 * No TLVs are sent. The length is fixed, so every connection of such a
 * service shifts its client->backend sequence space by exactly
 * PROXY2_V4_LEN (fwd_fnat.c).
 */
#ifndef EDGELB_DP_PROXY2_H
#define EDGELB_DP_PROXY2_H

#include <stdint.h>
#include <string.h>

#define PROXY2_SIG_LEN	  12
#define PROXY2_VER_CMD	  0x21 /* version 2 << 4 | PROXY */
#define PROXY2_FAM_TCP4	  0x11 /* AF_INET << 4 | STREAM */
#define PROXY2_V4_ADDRLEN 12
#define PROXY2_V4_LEN	  (16 + PROXY2_V4_ADDRLEN)

static const uint8_t proxy2_sig[PROXY2_SIG_LEN] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

struct proxy2_v4 {
	uint8_t sig[PROXY2_SIG_LEN];
	uint8_t ver_cmd;
	uint8_t fam;
	uint8_t len[2]; /* big endian: PROXY2_V4_ADDRLEN */
	uint32_t src_addr;
	uint32_t dst_addr;
	uint16_t src_port;
	uint16_t dst_port;
} __attribute__((packed));

_Static_assert(sizeof(struct proxy2_v4) == PROXY2_V4_LEN,
	       "PROXY v2 TCP4 header is 28 bytes");

/*
 * Write the header for a TCP connection from saddr:sport to daddr:dport
 * (all network order) at buf, which must hold PROXY2_V4_LEN bytes.
 * Returns PROXY2_V4_LEN.
 */
static inline unsigned int
proxy2_build_v4(void *buf, uint32_t saddr, uint16_t sport, uint32_t daddr,
		uint16_t dport)
{
	struct proxy2_v4 h;

	memcpy(h.sig, proxy2_sig, PROXY2_SIG_LEN);
	h.ver_cmd = PROXY2_VER_CMD;
	h.fam = PROXY2_FAM_TCP4;
	h.len[0] = 0;
	h.len[1] = PROXY2_V4_ADDRLEN;
	h.src_addr = saddr;
	h.dst_addr = daddr;
	h.src_port = sport;
	h.dst_port = dport;
	memcpy(buf, &h, sizeof(h));
	return PROXY2_V4_LEN;
}

#endif
