/* SPDX-License-Identifier: BSD-3-Clause */
#include "push_gen_common.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

double
push_gen_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
push_gen_connect(const struct sockaddr_in *src, const struct sockaddr_in *dst,
		 bool reset, const char **where)
{
	struct linger lg = { 1, 0 };
	int one = 1, fd, e;

	*where = "socket";
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (reset)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	*where = "bind";
	if (bind(fd, (const struct sockaddr *)src, sizeof(*src)) < 0)
		goto err;
	*where = "connect";
	if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0 &&
	    errno != EINPROGRESS)
		goto err;
	return fd;
err:
	e = errno;
	close(fd);
	return -e;
}
