/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The descriptor budget of the process's HTTP servers. Running out of
 * file descriptors must not take health checks, dp.sock, ctl.sock or the
 * log down with it: the HTTP servers together hold at most (soft
 * RLIMIT_NOFILE - reserve) connections, and a connection accepted over
 * that is closed at once and counted (reason fd_budget). The reserve
 * covers everything else the daemon opens.
 *
 * http_fdbudget_init raises the soft limit to the hard one and sets the
 * reserve; without it the first connection initialises the budget with
 * HTTP_FDBUDGET_RESERVE_BASE. Safe to use from several threads.
 */
#ifndef EDGELBD_HTTP_FDBUDGET_H
#define EDGELBD_HTTP_FDBUDGET_H

#include <stdbool.h>
#include <stdint.h>

/* Descriptors kept for the daemon itself: listeners, epoll, signals,
 * dp.sock, ctl.sock clients, the log, the state file, DNS, ... */
#define HTTP_FDBUDGET_RESERVE_BASE 128

/* The default reserve: the base plus one descriptor per health check
 * target (a check holds one socket at a time). */
uint32_t http_fdbudget_reserve_for(uint32_t health_targets);

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit and set the reserve.
 * 0, or -errno of getrlimit (the budget is then unlimited). A failing
 * setrlimit is not an error: the budget follows the soft limit as it is.
 */
int http_fdbudget_init(uint32_t reserve);
/* Change the reserve (a reload with more health checks). */
void http_fdbudget_set_reserve(uint32_t reserve);

/* One more connection: 0, or -EMFILE over the budget (counted). */
int http_fdbudget_take(void);
/* A connection taken with http_fdbudget_take closed. */
void http_fdbudget_put(void);

struct http_fdbudget_stats {
	uint64_t limit;	  /* soft RLIMIT_NOFILE */
	uint64_t reserve; /* of it kept for the rest of the daemon */
	uint64_t budget;  /* limit - reserve (0: no limit known) */
	uint64_t in_use;  /* connections held now */
	uint64_t refused; /* accepts closed over the budget */
};
void http_fdbudget_stats(struct http_fdbudget_stats *st);

#endif
