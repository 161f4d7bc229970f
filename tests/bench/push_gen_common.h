/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the push service's device generators (push_idle_gen,
 * push_deliver_gen) share: the clock, and opening one device connection
 * from a chosen loopback source address without blocking.
 */
#ifndef EDGELB_PUSH_GEN_COMMON_H
#define EDGELB_PUSH_GEN_COMMON_H

#include <netinet/in.h>
#include <stdbool.h>

/* CLOCK_MONOTONIC in seconds: one clock for every process of a run. */
double push_gen_now(void);

/*
 * A non-blocking TCP connection from src (its port chosen by the kernel
 * at connect, IP_BIND_ADDRESS_NO_PORT, so that the 4-tuple and not the
 * source address alone bounds the ports) to dst, TCP_NODELAY; with
 * reset, closed with a reset (SO_LINGER 0: no TIME_WAIT). The fd, the
 * connect in progress; -errno with *where naming the failing step
 * ("socket", "bind", "connect"), nothing left open.
 */
int push_gen_connect(const struct sockaddr_in *src,
		     const struct sockaddr_in *dst, bool reset,
		     const char **where);

#endif
