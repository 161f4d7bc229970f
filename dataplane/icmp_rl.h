/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The state of a worker's ICMP rate limit (icmp.h has the logic): two
 * token buckets in series, one for every answer the worker sends and one
 * per destination /24, kept in a small hash of ICMP_RL_DEST_BUCKETS
 * buckets (/24s whose hash collides share one). Plain data, written by
 * its worker only; its own header so that dp.h can embed it.
 */
#ifndef EDGELB_DP_ICMP_RL_H
#define EDGELB_DP_ICMP_RL_H

#include <stdint.h>

#define ICMP_RL_DEST_BUCKETS 256u /* a power of two */

struct icmp_bucket {
	uint64_t last;	 /* TSC up to which tokens were credited */
	uint32_t tokens; /* 0 at start, last 0: the first use fills it */
};

struct icmp_rl {
	struct icmp_bucket all;
	struct icmp_bucket dest[ICMP_RL_DEST_BUCKETS];
};

#endif
