/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP options and in-place header edits with incremental checksums,
 * shared by the modes that change TCP headers on the way through
 * (fwd_fnat.c: TOA's MSS clamp, the PROXY v2 shift; synproxy.c: the SYN
 * proxy's sequence shift and its option parsing).
 */
#ifndef EDGELB_DP_TCPOPT_H
#define EDGELB_DP_TCPOPT_H

#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_tcp.h>

#include "csum.h"

#define TCPOPT_EOL	 0
#define TCPOPT_NOP	 1
#define TCPOPT_MSS	 2 /* len 4 */
#define TCPOPT_WSCALE	 3 /* len 3 */
#define TCPOPT_SACK_PERM 4 /* len 2 */
#define TCPOPT_SACK	 5 /* len 2 + 8n */
#define TCPOPT_TS	 8 /* len 10 */

/*
 * The next option with a length field at or after *i of the TCP header
 * th of hlen bytes: its offset from th (NOPs skipped; *i moved past it),
 * or 0 at the end of the list, at EOL, or at a malformed length (a
 * truncated or overlong option ends the walk: nothing after it is
 * trusted). Start with *i = sizeof(struct rte_tcp_hdr).
 */
static inline unsigned int
tcpopt_next(const struct rte_tcp_hdr *th, unsigned int hlen, unsigned int *i)
{
	const uint8_t *o = (const uint8_t *)th;

	while (*i < hlen) {
		unsigned int at = *i;

		if (o[at] == TCPOPT_EOL)
			return 0;
		if (o[at] == TCPOPT_NOP) {
			(*i)++;
			continue;
		}
		if (at + 1 >= hlen || o[at + 1] < 2 || at + o[at + 1] > hlen)
			return 0;
		*i = at + o[at + 1];
		return at;
	}
	return 0;
}

/*
 * Overwrite len bytes at off of the checksummed data base with v,
 * updating the checksum *sum over the 16-bit words they touch (off may
 * be odd: a SACK block need not be aligned).
 */
static inline void
tcpopt_patch(uint16_t *sum, uint8_t *base, unsigned int off, const void *v,
	     unsigned int len)
{
	unsigned int from = off & ~1u, to = (off + len + 1) & ~1u;
	uint32_t s = (uint16_t) ~*sum;

	s += (uint16_t)~csum_add_bytes(0, base + from, to - from);
	memcpy(base + off, v, len);
	s += csum_add_bytes(0, base + from, to - from);
	*sum = (uint16_t)~csum_fold(s);
}

/* Set the 32-bit field at off of the TCP header th to v (host order),
 * keeping its checksum. */
static inline void
tcpopt_put32(struct rte_tcp_hdr *th, unsigned int off, uint32_t v)
{
	uint32_t n = rte_cpu_to_be_32(v);

	tcpopt_patch(CSUM_FIELD(th, cksum), (uint8_t *)th, off, &n, 4);
}

/* The same for a 16-bit field. */
static inline void
tcpopt_put16(struct rte_tcp_hdr *th, unsigned int off, uint16_t v)
{
	uint16_t n = rte_cpu_to_be_16(v);

	tcpopt_patch(CSUM_FIELD(th, cksum), (uint8_t *)th, off, &n, 2);
}

#endif
