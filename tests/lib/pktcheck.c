/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pktcheck: reference checksums and Toeplitz for the dataplane's test,
 * fuzz and benchmark programs; see pktcheck.h.
 */
#include "pktcheck.h"

#include <string.h>
#include <arpa/inet.h>

uint16_t
pktcheck_sum16(const void *buf, size_t len, uint32_t acc)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i + 1 < len; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		acc += (uint32_t)p[len - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

uint16_t
pktcheck_pseudo(uint32_t saddr, uint32_t daddr, uint8_t proto, uint16_t len)
{
	uint8_t ph[12];

	memcpy(ph, &saddr, 4);
	memcpy(ph + 4, &daddr, 4);
	ph[8] = 0;
	ph[9] = proto;
	ph[10] = (uint8_t)(len >> 8);
	ph[11] = (uint8_t)len;
	return pktcheck_sum16(ph, 12, 0);
}

uint16_t
pktcheck_l4_sum(const void *ip, uint8_t proto, const void *l4, uint16_t len)
{
	uint32_t s, d;

	memcpy(&s, (const uint8_t *)ip + 12, 4);
	memcpy(&d, (const uint8_t *)ip + 16, 4);
	return pktcheck_sum16(l4, len, pktcheck_pseudo(s, d, proto, len));
}

uint16_t
pktcheck_ip_csum(const void *ip, size_t len)
{
	return htons((uint16_t)~pktcheck_sum16(ip, len, 0));
}

uint16_t
pktcheck_l4_csum(uint32_t saddr, uint32_t daddr, uint8_t proto, const void *l4,
		 uint16_t len)
{
	return htons((uint16_t)~pktcheck_sum16(
		l4, len, pktcheck_pseudo(saddr, daddr, proto, len)));
}

uint32_t
pktcheck_toeplitz(const uint8_t *key, const uint8_t *in, unsigned int len)
{
	uint32_t h = 0;

	for (unsigned int i = 0; i < len * 8; i++) {
		unsigned int b = i / 8, s = i % 8;
		uint64_t win = (uint64_t)key[b] << 32 |
			       (uint64_t)key[b + 1] << 24 |
			       (uint64_t)key[b + 2] << 16 |
			       (uint64_t)key[b + 3] << 8 | key[b + 4];

		if (in[b] & (0x80 >> s))
			h ^= (uint32_t)(win >> (8 - s));
	}
	return h;
}
