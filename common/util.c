/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The small helpers of edgelb/util.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "edgelb/util.h"

uint64_t
lb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
lb_now_ms(void)
{
	return lb_now_ns() / 1000000;
}

bool
lb_is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	if (n % 2 == 0)
		return n == 2;
	for (uint64_t d = 3; d * d <= n; d += 2)
		if (n % d == 0)
			return false;
	return true;
}

int
lb_array_grow(void *arrp, size_t *cap, size_t need, size_t elem)
{
	void *p, *np;
	size_t ncap;

	if (need <= *cap)
		return 0;
	ncap = *cap < 4 ? 8 : *cap;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -EOVERFLOW;
		ncap *= 2;
	}
	if (elem != 0 && ncap > SIZE_MAX / elem)
		return -EOVERFLOW;
	/* arrp points at a T *: read and write it as bytes, not as void *. */
	memcpy(&p, arrp, sizeof(p));
	np = realloc(p, ncap * elem);
	if (np == NULL)
		return -ENOMEM;
	memcpy(arrp, &np, sizeof(np));
	*cap = ncap;
	return 0;
}

int
lb_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int
lb_tcp_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}
