/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Small helpers every edgelb program needs more than once: a monotonic
 * millisecond clock, a primality test (Maglev table sizes) and the one way
 * to grow a heap array. Implemented in common/util.c.
 */
#ifndef EDGELB_UTIL_H
#define EDGELB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: for deadlines and durations, never for
 * wall-clock time. */
uint64_t lb_now_ms(void);
/* The same clock in nanoseconds (latencies, rates). */
uint64_t lb_now_ns(void);

/* Whether n is prime (trial division; n up to 2^32). */
bool lb_is_prime(uint32_t n);

/*
 * Make the array *arrp (a pointer to a T *) hold at least need elements of
 * elem bytes: when *cap is smaller, the array is reallocated to the larger
 * of need and twice *cap (8 at least) and *cap updated; elements past the
 * old capacity are uninitialised. On failure the array and *cap are left as
 * they were. 0, -ENOMEM, or -EOVERFLOW (need * elem does not fit size_t).
 */
int lb_array_grow(void *arrp, size_t *cap, size_t need, size_t elem);

/*
 * Send small writes at once on a TCP socket (TCP_NODELAY): a proxy that
 * writes a head and then a body as two segments would otherwise wait for
 * the peer's delayed ACK (40 ms) before the second. 0 or -errno.
 */
int lb_tcp_nodelay(int fd);

/*
 * Format a one-line explanation into err (when err is not NULL and errlen
 * is not 0) and return rc, so that `return lb_errf(...)` explains and
 * fails in one step.
 */
int lb_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
