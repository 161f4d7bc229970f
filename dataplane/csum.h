/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Incremental Internet checksum updates (RFC 1624, eqn. 3):
 *
 *   HC' = ~(~HC + ~m + m')
 *
 * for a 16-bit field m of the covered data changing to m'. Every value is
 * taken as it lies in memory (network order): the one's-complement sum is
 * byte-order independent as long as all words are read the same way, so
 * no byte swapping happens here. Used by the forwarding modes to rewrite
 * addresses and ports without summing the whole packet again.
 *
 * UDP: a checksum field of 0 means "no checksum" and must stay 0, and a
 * computed 0 is sent as 0xffff (RFC 768); csum_udp_fix() does both.
 */
#ifndef EDGELB_DP_CSUM_H
#define EDGELB_DP_CSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Address of a checksum field of a (packed) header struct, as void *. */
#define CSUM_FIELD(hdr, field)                                                 \
	((void *)((char *)(hdr) + offsetof(__typeof__(*(hdr)), field)))

/* Fold a 32-bit one's-complement accumulator to 16 bits (not inverted). */
static inline uint16_t
csum_fold(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Sum len bytes (len even, buf 2-byte aligned or not) into acc. */
static inline uint32_t
csum_add_bytes(uint32_t acc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i + 1 < len; i += 2) {
		uint16_t w;

		memcpy(&w, p + i, 2);
		acc += w;
	}
	if (len & 1) {
		uint16_t w = 0;

		memcpy(&w, p + len - 1, 1);
		acc += w;
	}
	return csum_fold(acc);
}

/* *sum covers a 16-bit word that changes from `from` to `to`. */
static inline void
csum_replace2(uint16_t *sum, uint16_t from, uint16_t to)
{
	uint32_t s = (uint16_t) ~*sum;

	s += (uint16_t)~from;
	s += to;
	*sum = (uint16_t)~csum_fold(s);
}

/* *sum covers a 32-bit value (e.g. an IPv4 address) changing. */
static inline void
csum_replace4(uint16_t *sum, uint32_t from, uint32_t to)
{
	uint32_t s = (uint16_t) ~*sum;

	s += (uint16_t) ~(from & 0xffff);
	s += (uint16_t) ~(from >> 16);
	s += to & 0xffff;
	s += to >> 16;
	*sum = (uint16_t)~csum_fold(s);
}

/*
 * *sum gains the words of len bytes (len even) that were inserted into
 * the covered data, e.g. a TCP option; `acc` is their csum_add_bytes().
 */
static inline void
csum_add(uint16_t *sum, uint32_t acc)
{
	uint32_t s = (uint16_t) ~*sum;

	s += csum_fold(acc);
	*sum = (uint16_t)~csum_fold(s);
}

/* After updating a UDP checksum that was not 0: a result of 0 is sent as
 * 0xffff (0 would mean "no checksum"). */
static inline void
csum_udp_fix(void *sum)
{
	uint16_t v;

	memcpy(&v, sum, 2);
	if (v == 0)
		memset(sum, 0xff, 2);
}

#endif
