/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The daemon's client of the dataplane socket (dp.sock, lbmsg): connect
 * and reconnect, dump the services the dataplane holds, apply one
 * reconciliation operation, and fetch its counters for /metrics. The
 * encoding of a service's attributes is shared with ctl.sock (ctlsrv.c),
 * whose dumps carry them in the same form.
 *
 * Requests are synchronous with a short timeout (the dataplane's control
 * thread answers in microseconds); a transport failure (timeout, reset,
 * broken pipe) closes the connection, and the daemon's timer reconnects
 * and reconciles. The process must ignore SIGPIPE.
 */
#ifndef EDGELBD_DPCLIENT_H
#define EDGELBD_DPCLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "edgelb/lbmsg.h"
#include "reconcile.h"

struct dpc;
struct metrics;

/* Not connected yet. NULL with errno ENOMEM/ENAMETOOLONG. */
struct dpc *dpc_new(const char *path, int timeout_ms);
void dpc_free(struct dpc *d);

/* Connect if not connected. 0 or -errno (ENOENT, ECONNREFUSED: no dp). */
int dpc_connect(struct dpc *d);
void dpc_disconnect(struct dpc *d);
bool dpc_connected(const struct dpc *d);
const char *dpc_path(const struct dpc *d);

/*
 * One request (see lbmsg_client_request). -ENOTCONN when not connected;
 * a transport failure also disconnects.
 */
int dpc_request(struct dpc *d, struct nl_msg *msg, lbmsg_part_fn cb, void *arg,
		char *err, size_t errlen);

/*
 * The dataplane's services with their backends and local addresses, as a
 * malloc'd array for rec_diff (free with rec_svcs_free). 0 or -errno.
 */
int dpc_dump_services(struct dpc *d, struct rec_svc **out, size_t *n, char *err,
		      size_t errlen);

/* Send one plan operation. 0 or -errno with the dataplane's text. */
int dpc_apply_op(struct dpc *d, const struct rec_op *op, char *err,
		 size_t errlen);

/* The lbmsg request for one plan operation (for tests). NULL: ENOMEM. */
struct nl_msg *dpc_op_msg(const struct rec_op *op);

/*
 * Put a service's attributes besides its key and NAME, as SERVICE_NEW,
 * SERVICE_SET and SERVICE_GET carry them on both sockets: MODE, SCHED,
 * PERSIST, SVC_FLAGS, and MH_SIZE unless mh_size is 0, with the common
 * encoder lbmsg_put_svc_attrs(). 0 or -EMSGSIZE (message full).
 */
int dpc_put_svc_attrs(struct nl_msg *msg, uint8_t mode, const char *sched,
		      uint32_t persist, uint32_t flags, uint32_t mh_size);

/*
 * Turn one STATS_GET part into samples of m: each counter NAME of a part
 * of kind KIND becomes edgelb_dp_KIND_NAME with labels from the part's
 * identifying attributes (port, port_id, lcore, service, proto, vip,
 * backend); names ending in _total are counters, others gauges. Returns
 * the number of samples added or -EINVAL (no kind or counters).
 */
int dpc_stats_to_metrics(struct metrics *m, struct nlattr **tb);

/* A metrics collector (arg: struct dpc *): STATS_GET over dp.sock. */
int dpc_collect(void *arg, struct metrics *m);

#endif
