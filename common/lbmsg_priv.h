/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals shared by the lbmsg codec (lbmsg.c) and its sockets
 * (lbmsg_sock.c).
 */
#ifndef EDGELB_LBMSG_PRIV_H
#define EDGELB_LBMSG_PRIV_H

#include <stddef.h>

/*
 * Format a one-line explanation into err (when err is not NULL and errlen
 * is not 0) and return rc, so that `return lbmsg_fail(...)` explains and
 * fails in one step.
 */
int lbmsg_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
