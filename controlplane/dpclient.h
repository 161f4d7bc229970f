/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The daemon's client of the dataplane socket (dp.sock, lbmsg) on the
 * daemon's event loop: it never blocks that loop. A request is queued
 * and sent when the socket takes it; replies are matched to it by
 * sequence number and handed, part by part, to its part callback, then
 * its done callback gets the ack's result. Requests are pipelined: the
 * dataplane answers them in the order sent.
 *
 * A transport failure (no reply datagram within timeout_ms while a
 * request waits, reset, broken pipe, malformed reply) closes the
 * connection and completes every queued request with that error; the
 * daemon's timer reconnects and reconciles. Connecting is non-blocking
 * too (AF_UNIX connect succeeds or fails at once). The process must
 * ignore SIGPIPE.
 *
 * Callbacks run on the loop, never from inside the call that queued the
 * request. The encoding of a service's attributes is shared with
 * ctl.sock (ctlsrv.c), whose dumps carry them in the same form.
 */
#ifndef EDGELBD_DPCLIENT_H
#define EDGELBD_DPCLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "edgelb/lbmsg.h"
#include "reconcile.h"

struct dpc;
struct event_base;
struct metrics;

/*
 * A part callback (lbmsg_part_fn) may return DPC_HOLD: it cannot take
 * this part now (its consumer is full). The client keeps the part, stops
 * reading dp.sock and delivers the same part again after dpc_resume().
 * No timeout runs meanwhile: the holder bounds its own wait.
 */
#define DPC_HOLD 1

/*
 * The end of a request: rc is the ack's error (0 or -errno, its text in
 * err), a part callback's negative return, -ETIMEDOUT, -ECONNRESET,
 * -EBADMSG, -EMSGSIZE (dump above the limits of lbmsg.h) or -ECANCELED
 * (dpc_free). err is never NULL.
 */
typedef void (*dpc_done_fn)(void *arg, int rc, const char *err);

/* Not connected yet. NULL with errno ENOMEM/ENAMETOOLONG. */
struct dpc *dpc_new(struct event_base *base, const char *path, int timeout_ms);
/* Completes what is queued with -ECANCELED, then frees. */
void dpc_free(struct dpc *d);

/* Connect if not connected. 0 or -errno (ENOENT, ECONNREFUSED: no dp). */
int dpc_connect(struct dpc *d);
/* Close; what is queued completes with -ENOTCONN. */
void dpc_disconnect(struct dpc *d);
bool dpc_connected(const struct dpc *d);
const char *dpc_path(const struct dpc *d);
/* Requests queued or waiting for their ack. */
size_t dpc_pending(const struct dpc *d);

/*
 * Queue one request (a copy of msg is taken; NLM_F_REQUEST|NLM_F_ACK and
 * a fresh sequence number are set on it). part (may be NULL) sees each
 * reply part, done (may be NULL) the result. 0: done will be called
 * exactly once; -ENOTCONN or -ENOMEM: neither is called.
 */
int dpc_request(struct dpc *d, struct nl_msg *msg, lbmsg_part_fn part,
		dpc_done_fn done, void *arg);

/* The callbacks of the requests queued with arg are not called any more. */
void dpc_cancel(struct dpc *d, void *arg);

/* Deliver the held part again and go on reading (see DPC_HOLD). */
void dpc_resume(struct dpc *d);

/*
 * The dataplane's services with their backends and local addresses: a
 * SERVICE_GET then a LADDR_GET dump, then done(arg, rc, err, v, n) with
 * a malloc'd array for rec_diff that done owns (free with rec_svcs_free;
 * NULL, 0 on failure). 0 or -ENOTCONN/-ENOMEM (done not called).
 */
typedef void (*dpc_dump_fn)(void *arg, int rc, const char *err,
			    struct rec_svc *v, size_t n);
int dpc_dump_services(struct dpc *d, dpc_dump_fn done, void *arg);

/* Queue one plan operation. As dpc_request. */
int dpc_apply_op(struct dpc *d, const struct rec_op *op, dpc_done_fn done,
		 void *arg);

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

/*
 * STATS_GET over dp.sock: each part becomes samples of sink->m (a
 * scrape-time registry, see metrics_scrape_new), then done(sink, ...).
 * The caller embeds the sink in its own state. As dpc_request.
 */
struct dpc_sink {
	struct metrics *m;
};
int dpc_collect(struct dpc *d, struct dpc_sink *sink, dpc_done_fn done);

#endif
