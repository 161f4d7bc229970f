/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelbd's control socket (ctl.sock, lbmsg), served on the daemon's
 * event loop. lbctl talks only to this socket:
 *  - SERVICE_*, BACKEND_*, LADDR_* change the desired state (struct cfg),
 *    which is then persisted (state file) and reconciled into the
 *    dataplane; their GET dumps answer from the desired state;
 *  - HEALTH_GET dumps the health checker's targets;
 *  - STATS_GET (plus a part of kind DAEMON), STATS_ZERO and the read-only
 *    dumps of the dataplane (CONN, PORT, ROUTE, NEIGH, PORTADDR, CONFIG)
 *    are passed through to dp.sock;
 *  - SAVE writes the state file;
 *  - MODULE_GET lists the modules of modules.h and their state;
 *  - MODULE_CMD passes a command to a module's ctl_cmd hook.
 *
 * Nothing here waits for the dataplane: an edit is answered once dpsync
 * sent it (the answer is deferred, the loop goes on), a pass-through
 * once dp.sock answered. A client gets its answers in order as long as it
 * sends one request at a time (lbctl does).
 */
#ifndef EDGELBD_CTLSRV_H
#define EDGELBD_CTLSRV_H

struct lbd;
struct ctlsrv;

/* Listen on path (mode 0600) on d's loop. NULL with errno. */
struct ctlsrv *ctlsrv_open(struct lbd *d, const char *path);
void ctlsrv_close(struct ctlsrv *s);

#endif
