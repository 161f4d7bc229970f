/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp.sock handlers of the connection tables: CONN_GET, an incremental
 * dump that goes on in ctrl_poll() a bounded piece at a time (see conn.h),
 * and the connection-table part of STATS_GET. The workers hand their
 * connections over in chunks (fwd_dump_request); filters are applied
 * here, on the control thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <rte_byteorder.h>
#include <rte_malloc.h>

#include "edgelb/lbmsg.h"
#include "conn.h"
#include "ctrl.h"
#include "dp.h"
#include "fwd.h"

/* Does an address filter attr (absent: any) name v4? */
static bool
match_addr(struct nlattr *nla, uint32_t v4)
{
	struct lb_addr a;

	return nla == NULL || (lbmsg_get_addr(nla, &a) == 0 &&
			       a.family == AF_INET && a.v4 == v4);
}

/* Does a port filter (absent: any) name the network-order port? */
static bool
match_port(struct nlattr *nla, uint16_t be_port)
{
	return nla == NULL || nla_get_u16(nla) == rte_be_to_cpu_16(be_port);
}

/* Every filter the request carries (see docs/protocol.md, CONN_GET). */
static bool
dump_match(struct nlattr **tb, const struct conn_info *ci)
{
	if (tb[LB_ATTR_PROTO] != NULL &&
	    nla_get_u8(tb[LB_ATTR_PROTO]) != ci->proto)
		return false;
	if (tb[LB_ATTR_STATE] != NULL &&
	    nla_get_u8(tb[LB_ATTR_STATE]) != ci->state)
		return false;
	return match_addr(tb[LB_ATTR_VIP], ci->vaddr) &&
	       match_port(tb[LB_ATTR_VPORT], ci->vport) &&
	       match_addr(tb[LB_ATTR_CADDR], ci->caddr) &&
	       match_port(tb[LB_ATTR_CPORT], ci->cport) &&
	       match_addr(tb[LB_ATTR_LADDR], ci->laddr) &&
	       match_port(tb[LB_ATTR_LPORT], ci->lport) &&
	       match_addr(tb[LB_ATTR_ADDR], ci->baddr) &&
	       match_port(tb[LB_ATTR_PORT], ci->bport);
}

/* The dump part of one connection; NULL on ENOMEM/EMSGSIZE. */
static struct nl_msg *
dump_one(const struct nlmsghdr *req, const struct conn_info *ci, uint16_t lcore)
{
	struct nl_msg *m = lbmsg_new(req->nlmsg_type, NLM_F_MULTI);
	struct lb_addr v = { .family = AF_INET, .v4 = ci->vaddr };
	struct lb_addr ca = { .family = AF_INET, .v4 = ci->caddr };
	struct lb_addr la = { .family = AF_INET, .v4 = ci->laddr };
	struct lb_addr ba = { .family = AF_INET, .v4 = ci->baddr };

	if (m == NULL)
		return NULL;
	nlmsg_hdr(m)->nlmsg_seq = req->nlmsg_seq;
	nlmsg_hdr(m)->nlmsg_pid = req->nlmsg_pid;
	if (lbmsg_put_svc_key(m, ci->proto, &v, rte_be_to_cpu_16(ci->vport)) <
		    0 ||
	    lbmsg_put_addr(m, LB_ATTR_CADDR, &ca) < 0 ||
	    nla_put_u16(m, LB_ATTR_CPORT, rte_be_to_cpu_16(ci->cport)) < 0 ||
	    lbmsg_put_addr(m, LB_ATTR_LADDR, &la) < 0 ||
	    nla_put_u16(m, LB_ATTR_LPORT, rte_be_to_cpu_16(ci->lport)) < 0 ||
	    lbmsg_put_addr(m, LB_ATTR_ADDR, &ba) < 0 ||
	    nla_put_u16(m, LB_ATTR_PORT, rte_be_to_cpu_16(ci->bport)) < 0 ||
	    nla_put_u8(m, LB_ATTR_STATE, ci->state) < 0 ||
	    nla_put_u32(m, LB_ATTR_EXPIRES, ci->expires_s) < 0 ||
	    nla_put_u16(m, LB_ATTR_LCORE, lcore) < 0 ||
	    nla_put_u32(m, LB_ATTR_FLAGS, ci->flags) < 0) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

/* ---- CONN_GET: incremental dumps ------------------------------------------ */

enum dump_phase { DUMP_PARTS, DUMP_DONE, DUMP_ACK, DUMP_END };

struct conn_dump {
	int fd; /* our dup of the client's socket */
	enum dump_phase phase;
	int error; /* for NLMSG_DONE and the ack */
	char errmsg[LBMSG_ERRMSG_MAX];
	unsigned int worker;	/* dp->workers index being read */
	uint32_t next;		/* its table iterator; UINT32_MAX: done */
	uint32_t n, pos;	/* ci[0..n) copied, ci[pos] next to look at */
	struct nl_msg *pending; /* built, not yet taken by the socket */
	uint64_t stalled_ms;	/* since when the socket refuses, or 0 */
	uint64_t parts;
	unsigned int fetches;		    /* chunks read in this step */
	struct nlattr *tb[LB_ATTR_MAX + 1]; /* into req (filters) */
	struct conn_info ci[FWD_DUMP_CHUNK];
	struct nlmsghdr *req; /* a copy of the request */
};

void
conn_dump_free(struct conn_dump *d)
{
	if (d == NULL)
		return;
	if (d->pending != NULL)
		nlmsg_free(d->pending);
	if (d->fd >= 0)
		close(d->fd);
	free(d->req);
	rte_free(d);
}

struct conn_dump *
conn_dump_start(struct dp_ctx *dp, struct lbmsg_req *req)
{
	uint32_t len = req->nlh->nlmsg_len;
	char err[LBMSG_ERRMSG_MAX];
	struct conn_dump *d;

	if (dp->fwd == NULL) {
		lbmsg_req_errf(req, -EOPNOTSUPP,
			       "connection tracking is not running");
		errno = EOPNOTSUPP;
		return NULL;
	}
	d = rte_zmalloc("conn_dump", sizeof(*d), 0);
	if (d == NULL)
		goto nomem;
	d->fd = -1;
	d->req = malloc(len);
	if (d->req == NULL)
		goto nomem;
	memcpy(d->req, req->nlh, len);
	/* validated once already: cannot fail, but check anyway */
	if (lbmsg_parse(d->req, len, d->tb, err, sizeof(err)) < 0) {
		lbmsg_req_errf(req, -EINVAL, "%s", err);
		conn_dump_free(d);
		errno = EINVAL;
		return NULL;
	}
	d->fd = fcntl(req->fd, F_DUPFD_CLOEXEC, 0);
	if (d->fd < 0) {
		lbmsg_req_errf(req, -errno, "dup: %s", strerror(errno));
		conn_dump_free(d);
		return NULL;
	}
	return d;
nomem:
	conn_dump_free(d);
	lbmsg_req_errf(req, -ENOMEM, "out of memory");
	errno = ENOMEM;
	return NULL;
}

/* Fetch the next chunk of connections: 0, or -errno (explained in d). */
static int
dump_fetch(struct dp_ctx *dp, struct conn_dump *d)
{
	struct nlattr *lc = d->tb[LB_ATTR_LCORE];
	const struct conn_info *ci;
	int n;

	while (d->worker < dp->nworkers &&
	       (d->next == UINT32_MAX ||
		(lc != NULL &&
		 nla_get_u16(lc) != dp->workers[d->worker].lcore))) {
		d->worker++;
		d->next = 0;
	}
	if (d->worker == dp->nworkers)
		return 1; /* all read */
	n = fwd_dump_request(dp, d->worker, &d->next, &ci, 1000);
	if (n < 0) {
		snprintf(d->errmsg, sizeof(d->errmsg),
			 "worker %u did not answer", d->worker);
		return n;
	}
	memcpy(d->ci, ci, (size_t)n * sizeof(*ci));
	d->n = (uint32_t)n;
	d->pos = 0;
	return 0;
}

/* The next message to send, or NULL at the end (or ENOMEM: d->error). */
static struct nl_msg *
dump_next(struct dp_ctx *dp, struct conn_dump *d)
{
	struct nl_msg *m;
	int rc;

	while (d->phase == DUMP_PARTS) {
		if (d->pos < d->n) {
			const struct conn_info *ci = &d->ci[d->pos++];

			if (!dump_match(d->tb, ci))
				continue;
			m = dump_one(d->req, ci,
				     (uint16_t)dp->workers[d->worker].lcore);
			if (m != NULL)
				return m;
			d->error = -ENOMEM;
			snprintf(d->errmsg, sizeof(d->errmsg),
				 "cannot build a part");
			d->phase = DUMP_DONE;
			break;
		}
		/* bounded work per step even when filters pass nothing */
		if (d->fetches++ == CONN_DUMP_CHUNKS)
			return NULL;
		rc = dump_fetch(dp, d);
		if (rc == 1)
			d->phase = DUMP_DONE;
		else if (rc < 0) {
			d->error = rc;
			d->phase = DUMP_DONE;
		}
	}
	if (d->phase == DUMP_DONE) {
		d->phase = DUMP_ACK;
		return lbmsg_done_msg(d->req, d->error);
	}
	if (d->phase == DUMP_ACK) {
		d->phase = DUMP_END;
		return lbmsg_ack_msg(d->req, d->error,
				     d->error < 0 ? d->errmsg : NULL);
	}
	return NULL;
}

int
conn_dump_step(struct dp_ctx *dp, struct conn_dump *d, uint64_t now_ms)
{
	d->fetches = 0;
	for (unsigned int sent = 0; sent < CONN_DUMP_BUDGET;) {
		struct nlmsghdr *h;
		ssize_t n;

		if (d->pending == NULL) {
			if (d->phase == DUMP_END)
				return CONN_DUMP_FINISHED;
			d->pending = dump_next(dp, d);
			if (d->pending == NULL && d->phase == DUMP_PARTS)
				return CONN_DUMP_MORE; /* chunk budget spent */
			if (d->pending == NULL)
				return d->phase == DUMP_END ? CONN_DUMP_FINISHED
							    : CONN_DUMP_FAILED;
		}
		h = nlmsg_hdr(d->pending);
		n = send(d->fd, h, h->nlmsg_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (d->stalled_ms == 0)
				d->stalled_ms = now_ms;
			if (now_ms - d->stalled_ms > CONN_DUMP_STALL_MS) {
				/* no room even for an error: hang up, the
				 * server sees the EOF and drops the client */
				shutdown(d->fd, SHUT_RDWR);
				return CONN_DUMP_FAILED;
			}
			return CONN_DUMP_BLOCKED;
		}
		if (n != (ssize_t)h->nlmsg_len)
			return CONN_DUMP_FAILED; /* the client is gone */
		nlmsg_free(d->pending);
		d->pending = NULL;
		d->stalled_ms = 0;
		d->parts++;
		sent++;
	}
	return CONN_DUMP_MORE;
}

int
conn_stats_dump(struct dp_ctx *dp, struct lbmsg_req *req)
{
	if (dp->fwd == NULL)
		return 0;
	for (unsigned int i = 0; i < dp->nworkers; i++) {
		const struct fwd_worker *fw = &dp->fwd->w[i];
		struct nl_msg *m = lbmsg_req_part(req);
		struct conn_table_stats st;
		struct nlattr *cnt;

		if (m == NULL)
			return -ENOMEM;
		/* plain reads of the owner's counters, like other stats */
		conn_get_stats(fw->ct, &st);
		if (nla_put_u8(m, LB_ATTR_STATS_KIND, LB_STATS_CONNTAB) < 0 ||
		    nla_put_u16(m, LB_ATTR_LCORE,
				(uint16_t)dp->workers[i].lcore) < 0 ||
		    (cnt = nla_nest_start(m, LB_ATTR_COUNTERS)) == NULL ||
		    lbmsg_put_counter(m, "conns", st.conns - st.templates) <
			    0 ||
		    lbmsg_put_counter(m, "templates", st.templates) < 0 ||
		    lbmsg_put_counter(m, "created_total", st.created) < 0 ||
		    lbmsg_put_counter(m, "expired_total", st.expired) < 0 ||
		    lbmsg_put_counter(m, "conn_table_full_total",
				      st.table_full) < 0 ||
		    lbmsg_put_counter(m, "evicted_syn_total", st.evicted_syn) <
			    0 ||
		    lbmsg_put_counter(m, "evicted_udp_total", st.evicted_udp) <
			    0 ||
		    lbmsg_put_counter(m, "handoff_in_total", fw->handoff_in) <
			    0 ||
		    lbmsg_put_counter(m, "handoff_out_total", fw->handoff_out) <
			    0 ||
		    lbmsg_put_counter(m, "adopted_total", fw->adopted) < 0) {
			nlmsg_free(m);
			return -EMSGSIZE;
		}
		nla_nest_end(m, cnt);
		int rc = lbmsg_req_send(req, m);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The dump goes on in ctrl_poll(), a bounded piece per call. */
int
conn_ctrl_get(struct lbmsg_req *req)
{
	struct dp_ctx *dp = req->ctx;
	struct conn_dump *d;

	if (!ctrl_can_defer(dp))
		return lbmsg_req_errf(req, -EBUSY,
				      "%u connection dumps in progress: try "
				      "again later",
				      CTRL_DUMPS_MAX);
	d = conn_dump_start(dp, req);
	if (d == NULL)
		return -errno;
	ctrl_defer(dp, d);
	return LBMSG_DEFERRED;
}
