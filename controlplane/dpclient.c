/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp.sock client (see dpclient.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "dpclient.h"
#include "metrics.h"
#include "edgelb/util.h"
#include "edgelb/log.h"

#define READ_BATCH 64 /* datagrams read per readable event */

struct dpc_req {
	struct dpc_req *next;
	uint32_t seq;
	bool sent;
	bool cancelled;
	int rc; /* a part callback failed: the result, once acked */
	char err[LBMSG_ERRMSG_MAX];
	size_t parts, bytes;
	lbmsg_part_fn part;
	dpc_done_fn done;
	void *arg;
	size_t len;
	uint8_t buf[]; /* the request datagram */
};

struct dpc {
	struct event_base *base;
	char path[108];
	int timeout_ms;
	int fd;
	uint32_t seq;
	struct event *rd, *wr, *tmo;
	struct dpc_req *head, **tail;
	struct dpc_req *unsent; /* the first request not sent yet */
	size_t npending;
	uint64_t progress_ms; /* last datagram sent or received */
	uint8_t *held;	      /* a part a callback could not take */
	size_t held_len;
	uint8_t buf[LBMSG_MAX_SIZE];
};

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);
static void on_timeout(evutil_socket_t fd, short what, void *arg);

struct dpc *
dpc_new(struct event_base *base, const char *path, int timeout_ms)
{
	struct dpc *d;

	if (strlen(path) >= sizeof(d->path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->base = base;
	strcpy(d->path, path);
	d->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
	d->fd = -1;
	d->tail = &d->head;
	d->tmo = evtimer_new(base, on_timeout, d);
	if (d->tmo == NULL) {
		free(d);
		errno = ENOMEM;
		return NULL;
	}
	return d;
}

/* Take the queue off d and complete every request with rc. */
static void
fail_all(struct dpc *d, int rc, const char *err)
{
	struct dpc_req *r = d->head;

	d->head = NULL;
	d->tail = &d->head;
	d->unsent = NULL;
	d->npending = 0;
	free(d->held);
	d->held = NULL;
	while (r != NULL) {
		struct dpc_req *next = r->next;

		if (!r->cancelled && r->done != NULL)
			r->done(r->arg, rc, err);
		free(r);
		r = next;
	}
}

static void
close_fd(struct dpc *d)
{
	if (d->rd != NULL)
		event_free(d->rd);
	if (d->wr != NULL)
		event_free(d->wr);
	d->rd = d->wr = NULL;
	evtimer_del(d->tmo);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

void
dpc_free(struct dpc *d)
{
	if (d == NULL)
		return;
	close_fd(d);
	fail_all(d, -ECANCELED, "edgelbd is stopping");
	event_free(d->tmo);
	free(d);
}

int
dpc_connect(struct dpc *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int rc;

	if (d->fd >= 0)
		return 0;
	strcpy(sa.sun_path, d->path);
	d->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (d->fd < 0)
		return -errno;
	/* AF_UNIX: done or refused at once (EAGAIN: backlog full, retry) */
	if (connect(d->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto err;
	d->rd = event_new(d->base, d->fd, EV_READ | EV_PERSIST, on_read, d);
	d->wr = event_new(d->base, d->fd, EV_WRITE, on_write, d);
	if (d->rd == NULL || d->wr == NULL || event_add(d->rd, NULL) < 0) {
		errno = ENOMEM;
		goto err;
	}
	d->seq = (uint32_t)time(NULL);
	return 0;
err:
	rc = -errno;
	close_fd(d);
	return rc;
}

/* A transport failure: close, complete everything queued with rc. */
static void
broken(struct dpc *d, int rc, const char *err)
{
	LB_WARN("dataplane %s: %s; reconnecting", d->path, err);
	close_fd(d);
	fail_all(d, rc, err);
}

void
dpc_disconnect(struct dpc *d)
{
	close_fd(d);
	fail_all(d, -ENOTCONN, "disconnected");
}

bool
dpc_connected(const struct dpc *d)
{
	return d->fd >= 0;
}

const char *
dpc_path(const struct dpc *d)
{
	return d->path;
}

size_t
dpc_pending(const struct dpc *d)
{
	return d->npending;
}

static void
arm_timeout(struct dpc *d)
{
	struct timeval tv = { .tv_sec = d->timeout_ms / 1000,
			      .tv_usec = (d->timeout_ms % 1000) * 1000 };

	if (!evtimer_pending(d->tmo, NULL))
		evtimer_add(d->tmo, &tv);
}

int
dpc_request(struct dpc *d, struct nl_msg *msg, lbmsg_part_fn part,
	    dpc_done_fn done, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct dpc_req *r;

	if (d->fd < 0)
		return -ENOTCONN;
	r = calloc(1, sizeof(*r) + h->nlmsg_len);
	if (r == NULL)
		return -ENOMEM;
	memcpy(r->buf, h, h->nlmsg_len);
	r->len = h->nlmsg_len;
	h = (struct nlmsghdr *)r->buf;
	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = r->seq = ++d->seq;
	r->part = part;
	r->done = done;
	r->arg = arg;
	*d->tail = r;
	d->tail = &r->next;
	if (d->unsent == NULL)
		d->unsent = r;
	d->npending++;
	/* sent from the loop, so that no callback runs inside this call */
	event_active(d->wr, EV_WRITE, 1);
	return 0;
}

/*
 * The request a reply with this sequence number answers, or NULL. Not
 * only the head: the dataplane may answer a later request while it is
 * still sending a deferred dump (CONN_GET) in pieces.
 */
static struct dpc_req **
find_seq(struct dpc *d, uint32_t seq)
{
	for (struct dpc_req **pr = &d->head; *pr != NULL; pr = &(*pr)->next)
		if ((*pr)->sent && (*pr)->seq == seq)
			return pr;
	return NULL;
}

void
dpc_cancel(struct dpc *d, void *arg)
{
	for (struct dpc_req *r = d->head; r != NULL; r = r->next)
		if (r->arg == arg)
			r->cancelled = true;
	if (d->held != NULL) {
		const struct nlmsghdr *h = (const void *)d->held;
		struct dpc_req **pr = find_seq(d, h->nlmsg_seq);

		if (pr == NULL || (*pr)->cancelled)
			dpc_resume(
				d); /* nobody will resume a cancelled holder */
	}
}

/* Send what is not sent yet, in order, until the socket is full. */
static void
on_write(evutil_socket_t fd, short what, void *arg)
{
	struct dpc *d = arg;

	(void)fd;
	(void)what;
	for (struct dpc_req *r = d->unsent; r != NULL && d->fd >= 0;
	     r = r->next) {
		ssize_t n;

		n = send(d->fd, r->buf, r->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN) {
			event_add(d->wr, NULL);
			return;
		}
		if (n != (ssize_t)r->len) {
			int e = n < 0 ? errno : EIO;
			char err[64];

			snprintf(err, sizeof(err), "send: %s", strerror(e));
			broken(d, -e, err);
			return;
		}
		r->sent = true;
		d->unsent = r->next;
		d->progress_ms = lb_now_ms();
		arm_timeout(d);
	}
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dpc *d = arg;
	uint64_t idle = lb_now_ms() - d->progress_ms;
	char err[64];

	(void)fd;
	(void)what;
	if (d->fd < 0 || d->head == NULL || !d->head->sent)
		return; /* nothing waits for a reply (the head is sent first) */
	if (d->held != NULL || idle < (uint64_t)d->timeout_ms) {
		struct timeval tv = { 0, 100 * 1000 };

		if (d->held == NULL) {
			uint64_t left = (uint64_t)d->timeout_ms - idle;

			tv.tv_sec = (time_t)(left / 1000);
			tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
		}
		evtimer_add(d->tmo, &tv);
		return;
	}
	snprintf(err, sizeof(err), "no reply within %d ms", d->timeout_ms);
	broken(d, -ETIMEDOUT, err);
}

/* Unlink the request at *pr and complete it. */
static void
complete(struct dpc *d, struct dpc_req **pr, int rc, const char *err)
{
	struct dpc_req *r = *pr;

	*pr = r->next;
	if (d->tail == &r->next)
		d->tail = pr;
	d->npending--;
	if (r->rc < 0) {
		rc = r->rc;
		err = r->err;
	}
	if (!r->cancelled && r->done != NULL)
		r->done(r->arg, rc, err);
	free(r);
}

/*
 * One reply datagram. 0; DPC_HOLD (held, stop reading); or a negative
 * errno with err: a transport failure.
 */
static int
deliver(struct dpc *d, const uint8_t *buf, size_t n, char *err, size_t errlen)
{
	const struct nlmsghdr *h = (const void *)buf;
	struct nlattr *tb[LB_ATTR_MAX + 1];
	char perr[LBMSG_ERRMSG_MAX];
	struct dpc_req **pr, *r;
	int rc;

	if (n < NLMSG_HDRLEN || h->nlmsg_len != n) {
		snprintf(err, errlen, "malformed reply header");
		return -EBADMSG;
	}
	pr = find_seq(d, h->nlmsg_seq);
	if (pr == NULL)
		return 0; /* left over from a request no one waits for */
	r = *pr;
	if (h->nlmsg_type == NLMSG_ERROR) {
		rc = lbmsg_read_ack(h, n, perr, sizeof(perr));
		complete(d, pr, rc, perr);
		return 0;
	}
	if (h->nlmsg_type == NLMSG_DONE || r->rc < 0 || r->cancelled)
		return 0;
	if (++r->parts > LBMSG_DUMP_MAX_PARTS ||
	    (r->bytes += n) > LBMSG_DUMP_MAX_BYTES) {
		r->rc = -EMSGSIZE;
		snprintf(r->err, sizeof(r->err), "dump exceeds the limit");
		return 0;
	}
	if (lbmsg_parse(h, n, tb, perr, sizeof(perr)) < 0) {
		snprintf(err, errlen, "bad reply: %.200s", perr);
		return -EBADMSG;
	}
	if (r->part == NULL)
		return 0;
	rc = r->part(r->arg, h, tb);
	if (rc == DPC_HOLD) {
		r->parts--;
		r->bytes -= n;
		return DPC_HOLD;
	}
	if (rc < 0) {
		r->rc = rc;
		snprintf(r->err, sizeof(r->err), "reply handler failed: %s",
			 strerror(-rc));
	}
	return 0;
}

/* Hold buf: keep a copy and stop reading until dpc_resume(). */
static int
hold(struct dpc *d, const uint8_t *buf, size_t n)
{
	d->held = malloc(n);
	if (d->held == NULL)
		return -ENOMEM;
	memcpy(d->held, buf, n);
	d->held_len = n;
	event_del(d->rd);
	return 0;
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct dpc *d = arg;
	char err[LBMSG_ERRMSG_MAX];

	(void)fd;
	(void)what;
	for (int i = 0; i < READ_BATCH && d->fd >= 0 && d->held == NULL; i++) {
		struct iovec iov = { .iov_base = d->buf,
				     .iov_len = sizeof(d->buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(d->fd, &mh, MSG_DONTWAIT);
		int rc;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			int e = errno;

			snprintf(err, sizeof(err), "receive: %s", strerror(e));
			broken(d, -e, err);
			return;
		}
		if (n == 0) {
			broken(d, -ECONNRESET,
			       "the dataplane closed the connection");
			return;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			broken(d, -EMSGSIZE,
			       "reply larger than LBMSG_MAX_SIZE");
			return;
		}
		d->progress_ms = lb_now_ms();
		rc = deliver(d, d->buf, (size_t)n, err, sizeof(err));
		if (rc == DPC_HOLD)
			rc = hold(d, d->buf, (size_t)n);
		if (rc < 0) {
			if (rc == -ENOMEM)
				snprintf(err, sizeof(err), "out of memory");
			broken(d, rc, err);
			return;
		}
	}
}

void
dpc_resume(struct dpc *d)
{
	uint8_t *buf = d->held;
	char err[LBMSG_ERRMSG_MAX];
	int rc;

	if (buf == NULL || d->fd < 0)
		return;
	d->held = NULL;
	d->progress_ms = lb_now_ms();
	rc = deliver(d, buf, d->held_len, err, sizeof(err));
	if (rc == DPC_HOLD) {
		d->held = buf; /* still full */
		return;
	}
	free(buf);
	if (rc < 0) {
		broken(d, rc, err);
		return;
	}
	event_add(d->rd, NULL);
	event_active(d->rd, EV_READ, 1); /* what came meanwhile */
}

/* ---- service dump ------------------------------------------------------ */

struct dump {
	struct rec_svc *v;
	size_t n;
	size_t cap;
};

static struct rec_svc *
dump_find(struct dump *dp, uint8_t proto, const struct lb_addr *vip,
	  uint16_t vport)
{
	for (size_t i = 0; i < dp->n; i++)
		if (dp->v[i].proto == proto && dp->v[i].vport == vport &&
		    lb_addr_equal(&dp->v[i].vip, vip))
			return &dp->v[i];
	return NULL;
}

/* The BACKENDS list of a dumped service into s->backends. */
static int
take_backends(struct rec_svc *s, const struct nlattr *list)
{
	struct nlattr *pos;
	size_t n = 0;
	int rem;

	lbmsg_list_for_each (pos, list, rem)
		n++;
	if (n == 0)
		return 0;
	s->backends = calloc(n, sizeof(*s->backends));
	if (s->backends == NULL)
		return -ENOMEM;
	lbmsg_list_for_each (pos, list, rem) {
		struct nlattr *rb[LB_ATTR_MAX + 1];
		struct rec_backend *b = &s->backends[s->nbackends];
		struct lbmsg_backend lb;
		char err[LBMSG_ERRMSG_MAX];

		if (lbmsg_parse_record(pos, rb) < 0 ||
		    lbmsg_get_backend(rb, &lb, err, sizeof(err)) < 0)
			return -EBADMSG;
		b->addr = lb.addr;
		b->port = lb.port;
		b->weight = lb.weight;
		b->flags = lb.flags;
		b->u_thresh = lb.u_thresh;
		b->l_thresh = lb.l_thresh;
		s->nbackends++;
	}
	return 0;
}

static int
on_service(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	struct dump *dp = arg;
	struct lbmsg_svc_attrs a;
	char err[LBMSG_ERRMSG_MAX];
	struct rec_svc *s;

	(void)nlh;
	if (lb_array_grow(&dp->v, &dp->cap, dp->n + 1, sizeof(*dp->v)) < 0)
		return -ENOMEM;
	s = &dp->v[dp->n];
	memset(s, 0, sizeof(*s));
	if (lbmsg_get_svc_key(tb, &s->proto, &s->vip, &s->vport) < 0 ||
	    lbmsg_get_svc_attrs(tb, &a, err, sizeof(err)) < 0)
		return -EBADMSG;
	dp->n++;
	if (a.name != NULL)
		snprintf(s->name, sizeof(s->name), "%s", a.name);
	if (a.sched != NULL)
		snprintf(s->sched, sizeof(s->sched), "%s", a.sched);
	s->mode = a.mode;
	s->persist = a.persist;
	s->flags = a.flags;
	s->mh_size = a.mh_size;
	s->max_conns = a.max_conns;
	s->conn_rate = a.conn_rate;
	s->syn_src_rate = a.syn_src_rate;
	if (tb[LB_ATTR_BACKENDS] == NULL)
		return 0;
	return take_backends(s, tb[LB_ATTR_BACKENDS]);
}

static int
on_laddr(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	struct dump *dp = arg;
	struct rec_svc *s;
	struct lb_addr vip, a;
	uint16_t vport;
	uint8_t proto;

	(void)nlh;
	if (lbmsg_get_svc_key(tb, &proto, &vip, &vport) < 0 ||
	    tb[LB_ATTR_ADDR] == NULL ||
	    lbmsg_get_addr(tb[LB_ATTR_ADDR], &a) < 0)
		return -EBADMSG;
	s = dump_find(dp, proto, &vip, vport);
	if (s == NULL)
		return 0; /* raced with a delete */
	if (lb_array_grow(&s->laddrs, &s->cap_laddrs, s->nladdrs + 1,
			  sizeof(*s->laddrs)) < 0)
		return -ENOMEM;
	s->laddrs[s->nladdrs++] = a;
	return 0;
}

/* The two dumps of dpc_dump_services, sent back to back. */
struct dump_job {
	struct dump dp;
	dpc_dump_fn done;
	void *arg;
	int rc;
	char err[LBMSG_ERRMSG_MAX];
	int left;
};

static void
dump_done(void *arg, int rc, const char *err)
{
	struct dump_job *j = arg;

	if (rc < 0 && j->rc == 0) {
		j->rc = rc;
		snprintf(j->err, sizeof(j->err), "%s", err);
	}
	if (--j->left > 0)
		return;
	if (j->rc < 0) {
		rec_svcs_free(j->dp.v, j->dp.n);
		j->done(j->arg, j->rc, j->err, NULL, 0);
	} else {
		j->done(j->arg, 0, "", j->dp.v, j->dp.n);
	}
	free(j);
}

static int
laddr_part(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	struct dump_job *j = arg;

	/* the services failed: skip, the result is theirs */
	return j->rc < 0 ? 0 : on_laddr(&j->dp, nlh, tb);
}

static int
service_part(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	struct dump_job *j = arg;

	return on_service(&j->dp, nlh, tb);
}

int
dpc_dump_services(struct dpc *d, dpc_dump_fn done, void *arg)
{
	struct nl_msg *svc = lbmsg_new(LB_MSG_SERVICE_GET, NLM_F_DUMP);
	struct nl_msg *la = lbmsg_new(LB_MSG_LADDR_GET, NLM_F_DUMP);
	struct dump_job *j = calloc(1, sizeof(*j));
	int rc = -ENOMEM;

	if (svc == NULL || la == NULL || j == NULL)
		goto err;
	j->done = done;
	j->arg = arg;
	rc = dpc_request(d, svc, service_part, dump_done, j);
	if (rc < 0)
		goto err;
	j->left = 1;
	/* after a queued request only ENOMEM can fail */
	if (dpc_request(d, la, laddr_part, dump_done, j) == 0) {
		j->left = 2;
	} else {
		j->rc = -ENOMEM;
		snprintf(j->err, sizeof(j->err), "out of memory");
	}
	nlmsg_free(svc);
	nlmsg_free(la);
	return 0;
err:
	nlmsg_free(svc);
	nlmsg_free(la);
	free(j);
	return rc;
}

/* ---- operations -------------------------------------------------------- */

int
dpc_put_svc_attrs(struct nl_msg *msg, uint8_t mode, const char *sched,
		  uint32_t persist, uint32_t flags, uint32_t mh_size)
{
	const struct lbmsg_svc_attrs a = {
		.mode = mode,
		.sched = sched,
		.persist = persist,
		.flags = flags,
		.mh_size = mh_size,
	};

	return lbmsg_put_svc_attrs(msg, &a);
}

static const uint16_t op_type[] = {
	[REC_SVC_DEL] = LB_MSG_SERVICE_DEL,
	[REC_SVC_NEW] = LB_MSG_SERVICE_NEW,
	[REC_SVC_SET] = LB_MSG_SERVICE_SET,
	[REC_LADDR_NEW] = LB_MSG_LADDR_NEW,
	[REC_BACKEND_NEW] = LB_MSG_BACKEND_NEW,
	[REC_BACKEND_SET] = LB_MSG_BACKEND_SET,
	[REC_BACKEND_DEL] = LB_MSG_BACKEND_DEL,
	[REC_LADDR_DEL] = LB_MSG_LADDR_DEL,
};

struct nl_msg *
dpc_op_msg(const struct rec_op *op)
{
	const struct rec_svc *s = op->svc;
	struct nl_msg *msg = lbmsg_new(op_type[op->type], 0);
	int rc;

	if (msg == NULL)
		return NULL;
	rc = lbmsg_put_svc_key(msg, s->proto, &s->vip, s->vport);
	switch (op->type) {
	case REC_SVC_NEW:
	case REC_SVC_SET:
		if (rc == 0 && s->name[0])
			rc = nla_put_string(msg, LB_ATTR_NAME, s->name);
		if (rc == 0)
			rc = dpc_put_svc_attrs(msg, s->mode, s->sched,
					       s->persist, s->flags,
					       s->mh_size);
		/* sent even when 0: a SET lifts a limit so */
		if (rc == 0)
			rc = nla_put_u32(msg, LB_ATTR_MAX_CONNS, s->max_conns);
		if (rc == 0)
			rc = nla_put_u32(msg, LB_ATTR_CONN_RATE, s->conn_rate);
		if (rc == 0)
			rc = nla_put_u32(msg, LB_ATTR_SYN_SRC_RATE,
					 s->syn_src_rate);
		break;
	case REC_BACKEND_NEW:
	case REC_BACKEND_SET:
		if (rc == 0)
			rc = nla_put_u32(msg, LB_ATTR_WEIGHT, op->be->weight);
		if (rc == 0)
			rc = nla_put_u32(msg, LB_ATTR_FLAGS, op->be->flags);
		if (rc == 0)
			rc = nla_put_u32(msg, LB_ATTR_U_THRESH,
					 op->be->u_thresh);
		if (rc == 0)
			rc = nla_put_u32(msg, LB_ATTR_L_THRESH,
					 op->be->l_thresh);
		/* fall through */
	case REC_BACKEND_DEL:
		if (rc == 0)
			rc = lbmsg_put_addr(msg, LB_ATTR_ADDR, &op->be->addr);
		if (rc == 0)
			rc = nla_put_u16(msg, LB_ATTR_PORT, op->be->port);
		break;
	case REC_LADDR_NEW:
	case REC_LADDR_DEL:
		if (rc == 0)
			rc = lbmsg_put_addr(msg, LB_ATTR_ADDR, op->laddr);
		break;
	case REC_SVC_DEL:
		break;
	}
	if (rc < 0) {
		nlmsg_free(msg);
		errno = ENOMEM;
		return NULL;
	}
	return msg;
}

int
dpc_apply_op(struct dpc *d, const struct rec_op *op, dpc_done_fn done,
	     void *arg)
{
	struct nl_msg *msg = dpc_op_msg(op);
	int rc;

	if (msg == NULL)
		return -ENOMEM;
	rc = dpc_request(d, msg, NULL, done, arg);
	nlmsg_free(msg);
	return rc;
}

/* ---- stats ------------------------------------------------------------- */

static const char *const kind_names[] = {
	[LB_STATS_PORT] = "port",	[LB_STATS_LCORE] = "lcore",
	[LB_STATS_DROP] = "drop",	[LB_STATS_SERVICE] = "service",
	[LB_STATS_BACKEND] = "backend", [LB_STATS_CONNTAB] = "conntab",
	[LB_STATS_XDP] = "xdp",		[LB_STATS_DAEMON] = "daemon",
};

static bool
counter_name_valid(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return false;
	return true;
}

int
dpc_stats_to_metrics(struct metrics *m, struct nlattr **tb)
{
	char port_id[8], lcore[8], vip[LB_ADDRPORTSTRLEN],
		be[LB_ADDRPORTSTRLEN];
	struct metrics_label l[8];
	size_t nl = 0;
	struct nlattr *pos;
	unsigned int kind;
	int rem, added = 0;

	if (tb[LB_ATTR_STATS_KIND] == NULL || tb[LB_ATTR_COUNTERS] == NULL)
		return -EINVAL;
	kind = nla_get_u8(tb[LB_ATTR_STATS_KIND]);
	if (kind >= sizeof(kind_names) / sizeof(kind_names[0]) ||
	    kind_names[kind] == NULL)
		return -EINVAL;
	if (tb[LB_ATTR_IFNAME])
		l[nl++] = (struct metrics_label){
			"port", nla_get_string(tb[LB_ATTR_IFNAME])
		};
	if (tb[LB_ATTR_PORT_ID]) {
		snprintf(port_id, sizeof(port_id), "%u",
			 nla_get_u16(tb[LB_ATTR_PORT_ID]));
		l[nl++] = (struct metrics_label){ "port_id", port_id };
	}
	if (tb[LB_ATTR_LCORE]) {
		snprintf(lcore, sizeof(lcore), "%u",
			 nla_get_u16(tb[LB_ATTR_LCORE]));
		l[nl++] = (struct metrics_label){ "lcore", lcore };
	}
	if (tb[LB_ATTR_NAME])
		l[nl++] = (struct metrics_label){
			"service", nla_get_string(tb[LB_ATTR_NAME])
		};
	if (tb[LB_ATTR_PROTO] && tb[LB_ATTR_VIP] && tb[LB_ATTR_VPORT]) {
		struct lb_addr a;
		uint16_t vport;
		uint8_t proto;

		if (lbmsg_get_svc_key(tb, &proto, &a, &vport) == 0) {
			l[nl++] =
				(struct metrics_label){ "proto",
							lb_proto_name(proto) };
			l[nl++] = (struct metrics_label){
				"vip",
				lb_addr_port_format(&a, vport, vip, sizeof(vip))
			};
		}
	}
	if (tb[LB_ATTR_ADDR] && tb[LB_ATTR_PORT]) {
		struct lb_addr a;

		if (lbmsg_get_addr(tb[LB_ATTR_ADDR], &a) == 0)
			l[nl++] = (struct metrics_label){
				"backend",
				lb_addr_port_format(
					&a, nla_get_u16(tb[LB_ATTR_PORT]), be,
					sizeof(be))
			};
	}
	lbmsg_list_for_each (pos, tb[LB_ATTR_COUNTERS], rem) {
		struct nlattr *rc[LB_ATTR_MAX + 1];
		char name[128], help[160];
		const char *cn;
		size_t len;
		bool counter;

		if (lbmsg_parse_record(pos, rc) < 0 || !rc[LB_ATTR_CNT_NAME] ||
		    !rc[LB_ATTR_CNT_VALUE])
			continue;
		cn = nla_get_string(rc[LB_ATTR_CNT_NAME]);
		if (!counter_name_valid(cn))
			continue;
		len = strlen(cn);
		counter = len > 6 && strcmp(cn + len - 6, "_total") == 0;
		snprintf(name, sizeof(name), "edgelb_dp_%s_%s",
			 kind_names[kind], cn);
		snprintf(help, sizeof(help), "edgelb-dp %s %s %s.",
			 kind_names[kind], counter ? "counter" : "gauge", cn);
		metrics_put(m, name, help,
			    counter ? METRICS_COUNTER : METRICS_GAUGE, l, nl,
			    (double)nla_get_u64(rc[LB_ATTR_CNT_VALUE]));
		added++;
	}
	return added;
}

static int
on_stats(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	struct dpc_sink *sink = arg;

	(void)nlh;
	dpc_stats_to_metrics(sink->m, tb);
	return 0;
}

int
dpc_collect(struct dpc *d, struct dpc_sink *sink, dpc_done_fn done)
{
	struct nl_msg *msg = lbmsg_new(LB_MSG_STATS_GET, NLM_F_DUMP);
	int rc;

	if (msg == NULL)
		return -ENOMEM;
	rc = dpc_request(d, msg, on_stats, done, sink);
	nlmsg_free(msg);
	return rc;
}
