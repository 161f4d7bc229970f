/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals shared by the lbmsg codec (lbmsg.c) and its sockets
 * (lbmsg_sock.c).
 */
#ifndef EDGELB_LBMSG_PRIV_H
#define EDGELB_LBMSG_PRIV_H

#include <stddef.h>

#endif
