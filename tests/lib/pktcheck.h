/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pktcheck: reference arithmetic for the programs that check the
 * dataplane's output (tests/dp/test_fwd, tests/fuzz/fuzz_pkt,
 * tests/bench/bench_own). Every sum here is a plain RFC 1071 one's
 * complement sum over the bytes, and Toeplitz is computed bit by bit, so
 * that a check never trusts the incremental checksum code (csum.h) or the
 * RSS code it is checking. Slow on purpose; never used by the dataplane.
 *
 * Addresses are in network order, lengths and sums in host order unless
 * a function says otherwise. Nothing here fails.
 */
#ifndef EDGELB_TESTS_PKTCHECK_H
#define EDGELB_TESTS_PKTCHECK_H

#include <stddef.h>
#include <stdint.h>

/* The one's complement sum of buf[0..len) added to acc, folded to 16
 * bits (an odd last byte counts as its high half). 0xffff over a header
 * or segment that holds its own checksum means the checksum is right. */
uint16_t pktcheck_sum16(const void *buf, size_t len, uint32_t acc);

/* The sum of the IPv4 pseudo-header saddr, daddr, proto, len. */
uint16_t pktcheck_pseudo(uint32_t saddr, uint32_t daddr, uint8_t proto,
			 uint16_t len);

/* The sum of the L4 segment l4[0..len) with the pseudo-header made of
 * the addresses of the IPv4 header at ip and proto (0xffff: valid). */
uint16_t pktcheck_l4_sum(const void *ip, uint8_t proto, const void *l4,
			 uint16_t len);

/* The IPv4 header checksum of ip[0..len) (its checksum field zero), in
 * network order, ready to store. */
uint16_t pktcheck_ip_csum(const void *ip, size_t len);

/* The TCP/UDP checksum of l4[0..len) with its pseudo-header, in network
 * order, ready to store; 0 when l4 already holds a right checksum. */
uint16_t pktcheck_l4_csum(uint32_t saddr, uint32_t daddr, uint8_t proto,
			  const void *l4, uint16_t len);

/* The Toeplitz hash of in[0..len) under key (at least len + 4 bytes). */
uint32_t pktcheck_toeplitz(const uint8_t *key, const uint8_t *in,
			   unsigned int len);

#endif
