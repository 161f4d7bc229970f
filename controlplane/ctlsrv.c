/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl.sock on the event loop (see ctlsrv.h). The lbmsg server owns the
 * sockets; this file watches its listening and client fds with libevent
 * and calls lbmsg_server_poll(srv, 0) when one is readable, then re-reads
 * the set of client fds.
 *
 * A request that needs the dataplane is deferred (LBMSG_DEFERRED): it
 * keeps a duplicate of the client's fd and answers from the callbacks of
 * dpclient/dpsync, never blocking the loop. A client slower than the
 * dataplane at a dump holds the dump (DPC_HOLD) until its socket takes
 * the part, for at most SLOW_CLIENT_MS; then its answer is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>

#include "ctlsrv.h"
#include "dpclient.h"
#include "dpsync.h"
#include "health.h"
#include "lbd.h"
#include "modules.h"
#include "view.h"
#include "edgelb/lbmsg.h"
#include "edgelb/log.h"

#define MAX_CLIENTS    64
#define SLOW_CLIENT_MS 2000
#define MAX_PENDING    256 /* deferred answers in flight, all clients */

struct pending;

struct ctlsrv {
	struct lbd *d;
	struct lbmsg_server *srv;
	struct event *listen_ev;
	struct event *client_ev[MAX_CLIENTS];
	unsigned int nclients;
	struct pending *pending; /* deferred requests */
	unsigned int npending;
};

/* The daemon behind a request of ctl.sock. */
#define D(req) (((struct ctlsrv *)(req)->ctx)->d)

/* ---- deferred answers -------------------------------------------------- */

/* A request answered later, on the client's fd (a duplicate). */
struct pending {
	struct pending *next;
	struct ctlsrv *s;
	int fd;
	struct nlmsghdr hdr;	/* of the request */
	bool dump;		/* NLMSG_DONE before the ack */
	bool dead;		/* the client is gone or too slow */
	struct event *wr;	/* the client's socket took nothing yet */
	struct nl_msg *tail[2]; /* DONE and the ack, when not sent yet */
	int ntail;
};

static void on_client_writable(evutil_socket_t fd, short what, void *arg);

static struct pending *
pending_new(struct lbmsg_req *req)
{
	struct ctlsrv *s = req->ctx;
	struct pending *p;

	if (s->npending >= MAX_PENDING) {
		errno = EBUSY;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->fd = fcntl(req->fd, F_DUPFD_CLOEXEC, 0);
	if (p->fd >= 0)
		p->wr = event_new(s->d->base, p->fd, EV_WRITE,
				  on_client_writable, p);
	if (p->fd < 0 || p->wr == NULL) {
		int e = p->fd < 0 ? errno : ENOMEM;

		if (p->fd >= 0)
			close(p->fd);
		free(p);
		errno = e;
		return NULL;
	}
	p->s = s;
	p->hdr = *req->nlh;
	p->dump = lbmsg_type_is_dump(req->nlh->nlmsg_type);
	p->next = s->pending;
	s->pending = p;
	s->npending++;
	return p;
}

static void
pending_free(struct pending *p)
{
	struct pending **pp = &p->s->pending;

	while (*pp != p)
		pp = &(*pp)->next;
	*pp = p->next;
	p->s->npending--;
	for (int i = 0; i < p->ntail; i++)
		nlmsg_free(p->tail[i]);
	event_free(p->wr);
	close(p->fd);
	free(p);
}

/* Send msg (freed) without waiting: 0, -EAGAIN (kept: *keep) or -errno. */
static int
send_now(struct pending *p, struct nl_msg *msg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	ssize_t n = send(p->fd, h, h->nlmsg_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	int rc = n == (ssize_t)h->nlmsg_len ? 0 : n < 0 ? -errno : -EIO;

	if (rc != -EAGAIN)
		nlmsg_free(msg);
	return rc;
}

static void
wait_writable(struct pending *p)
{
	struct timeval tv = { SLOW_CLIENT_MS / 1000,
			      (SLOW_CLIENT_MS % 1000) * 1000 };

	event_add(p->wr, &tv);
}

/* Send what is left of the answer; free p once all is out (or dead). */
static void
flush_tail(struct pending *p)
{
	while (p->ntail > 0 && !p->dead) {
		int rc = send_now(p, p->tail[0]);

		if (rc == -EAGAIN) {
			wait_writable(p);
			return;
		}
		if (rc < 0)
			p->dead = true;
		else
			memmove(&p->tail[0], &p->tail[1],
				--p->ntail * sizeof(p->tail[0]));
	}
	pending_free(p);
}

/* End the answer: NLMSG_DONE for a dump, then the ack. */
static void
pending_end(struct pending *p, int rc, const char *text)
{
	if (p->dump)
		p->tail[p->ntail++] = lbmsg_done_msg(&p->hdr, rc);
	p->tail[p->ntail++] = lbmsg_ack_msg(&p->hdr, rc, rc < 0 ? text : NULL);
	for (int i = 0; i < p->ntail; i++)
		if (p->tail[i] == NULL)
			p->dead =
				true; /* out of memory: the client times out */
	flush_tail(p);
}

static void
on_client_writable(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	(void)fd;
	if (what & EV_TIMEOUT) {
		LB_WARN("ctl socket: a client took nothing for %d ms; its "
			"answer is dropped",
			SLOW_CLIENT_MS);
		p->dead = true;
	}
	if (p->ntail > 0)
		flush_tail(p);
	else
		dpc_resume(p->s->d->dpc); /* a held dump part */
}

/* A desired-state edit reached the dataplane (or failed: logged). */
static void
edit_done(void *arg, int rc)
{
	(void)rc; /* the edit stays either way, as before */
	pending_end(arg, 0, NULL);
}

static void
save_state(struct lbd *d, int *rc)
{
	*rc = cfg_save_state(d->cfg, d->cfg->state_file);
	if (*rc < 0)
		LB_ERR("state file %s: %s", d->cfg->state_file, strerror(-*rc));
}

/*
 * The desired state was edited: re-sync health targets (when any check
 * exists), publish the new view, persist the state file when configured,
 * then bring the
 * dataplane up to date: the service with key (*proto, vip, vport), or
 * everything when proto is NULL. The answer waits for that.
 */
static int
changed(struct lbmsg_req *req, const uint8_t *proto, const struct lb_addr *vip,
	uint16_t vport)
{
	struct lbd *d = D(req);
	struct pending *p;
	int rc;

	if ((d->cfg->nchecks || hc_count(d->hc)) && hc_sync(d->hc, d->cfg) < 0)
		LB_ERR("health checks: out of memory; targets not updated");
	view_refresh(d->view, d->cfg, d->hc);
	if (d->cfg->state_file[0])
		save_state(d, &rc);
	p = pending_new(req);
	if (proto == NULL)
		dpsync_reconcile(d->sync, p != NULL ? edit_done : NULL, p);
	else
		dpsync_service(d->sync, *proto, vip, vport,
			       p != NULL ? edit_done : NULL, p);
	/* no room for p (EBUSY, ENOMEM): answer now, the dataplane follows */
	return p != NULL ? LBMSG_DEFERRED : 0;
}

/* ---- desired-state edits ----------------------------------------------- */

static struct cfg_service *
req_service(struct lbmsg_req *req, int *rc)
{
	struct lbd *d = D(req);
	struct cfg_service *s;
	struct lb_addr vip;
	uint16_t vport;
	uint8_t proto;

	if (lbmsg_get_svc_key(req->tb, &proto, &vip, &vport) < 0) {
		*rc = lbmsg_req_errf(req, -EINVAL,
				     "PROTO, VIP and VPORT needed");
		return NULL;
	}
	s = cfg_service_find_key(d->cfg, proto, &vip, vport);
	if (s == NULL)
		*rc = lbmsg_req_errf(req, -ENOENT, "no such service");
	return s;
}

/* Apply the optional service attributes of req to s. */
static int
take_svc_attrs(struct lbmsg_req *req, struct cfg_service *s)
{
	struct lbmsg_svc_attrs a;
	char err[LBMSG_ERRMSG_MAX];
	int rc = lbmsg_get_svc_attrs(req->tb, &a, err, sizeof(err));

	if (rc < 0)
		return lbmsg_req_errf(req, rc, "%s", err);
	if ((a.present & LBMSG_SVC_SCHED) && !lb_sched_name_valid(a.sched))
		return lbmsg_req_errf(req, -EINVAL, "unknown scheduler '%s'",
				      a.sched);
	if (a.present & LBMSG_SVC_NAME)
		snprintf(s->name, sizeof(s->name), "%s", a.name);
	if (a.present & LBMSG_SVC_MODE)
		s->mode = a.mode;
	if (a.present & LBMSG_SVC_SCHED)
		snprintf(s->sched, sizeof(s->sched), "%s", a.sched);
	if (a.present & LBMSG_SVC_PERSIST)
		s->persist = a.persist;
	if (a.present & LBMSG_SVC_FLAGS)
		s->flags = a.flags;
	if (a.present & LBMSG_SVC_MH_SIZE)
		s->mh_size = a.mh_size;
	if (req->tb[LB_ATTR_MAX_CONNS] != NULL)
		s->max_conns = a.max_conns;
	if (req->tb[LB_ATTR_CONN_RATE] != NULL)
		s->conn_rate = a.conn_rate;
	if (req->tb[LB_ATTR_SYN_SRC_RATE] != NULL)
		s->syn_src_rate = a.syn_src_rate;
	return 0;
}

/*
 * The backend of tb (a request or a BACKEND record) into b; the weight
 * stays CFG_DEFAULT_WEIGHT when none is given. 0 or the answered error.
 */
static int
take_backend(struct lbmsg_req *req, struct nlattr **tb, struct cfg_backend *b)
{
	struct lbmsg_backend lb;
	char err[LBMSG_ERRMSG_MAX];
	int rc = lbmsg_get_backend(tb, &lb, err, sizeof(err));

	if (rc < 0)
		return lbmsg_req_errf(req, rc, "%s", err);
	b->addr = lb.addr;
	b->port = lb.port;
	if (lb.present & LBMSG_BE_WEIGHT)
		b->weight = lb.weight;
	b->u_thresh = lb.u_thresh;
	b->l_thresh = lb.l_thresh;
	return 0;
}

/* BACKEND_SET: what the request gives of b into cur; the thresholds
 * are checked together. 0 or -ERANGE (the caller answers it). */
static int
set_backend(struct lbmsg_req *req, struct cfg_backend *cur,
	    const struct cfg_backend *b)
{
	uint32_t u = req->tb[LB_ATTR_U_THRESH] ? b->u_thresh : cur->u_thresh;
	uint32_t l = req->tb[LB_ATTR_L_THRESH] ? b->l_thresh : cur->l_thresh;

	if (l > u)
		return -ERANGE;
	if (req->tb[LB_ATTR_WEIGHT])
		cur->weight = b->weight;
	cur->u_thresh = u;
	cur->l_thresh = l;
	return 0;
}

static int
take_backends(struct lbmsg_req *req, struct cfg_service *s)
{
	struct nlattr *pos;
	int rem, rc;

	if (req->tb[LB_ATTR_BACKENDS] == NULL)
		return 0;
	lbmsg_list_for_each (pos, req->tb[LB_ATTR_BACKENDS], rem) {
		struct nlattr *rb[LB_ATTR_MAX + 1];
		struct cfg_backend b = { .weight = CFG_DEFAULT_WEIGHT };

		if (lbmsg_parse_record(pos, rb) < 0)
			return lbmsg_req_errf(req, -EINVAL, "bad BACKEND");
		rc = take_backend(req, rb, &b);
		if (rc < 0)
			return rc;
		if (cfg_backend_add(s, &b) < 0)
			return lbmsg_req_errf(req, -EEXIST,
					      "backend given twice");
	}
	return 0;
}

/* Check s (replacing old, or new when old is NULL) and commit it. */
static int
commit_service(struct lbmsg_req *req, struct cfg_service *s,
	       struct cfg_service *old)
{
	struct lbd *d = D(req);
	char err[LBMSG_ERRMSG_MAX];
	int rc;

	rc = cfg_service_check(d->cfg, s, old, err, sizeof(err));
	if (rc < 0) {
		cfg_service_release(s);
		return lbmsg_req_errf(req, rc, "%s", err);
	}
	if (old != NULL) {
		bool renamed = strcmp(old->name, s->name) != 0;

		cfg_service_release(old);
		*old = *s; /* takes over s's arrays */
		if (renamed)
			cfg_index_invalidate(d->cfg);
	} else {
		rc = cfg_service_add(d->cfg, s);
		cfg_service_release(s);
		if (rc < 0)
			return lbmsg_req_errf(req, rc, "out of memory");
	}
	return changed(req, &s->proto, &s->vip, s->vport);
}

static int
h_service_new(struct lbmsg_req *req)
{
	struct lbd *d = D(req);
	struct cfg_service s;
	char a[LB_ADDRPORTSTRLEN];
	int rc;

	cfg_service_init(&s);
	if (lbmsg_get_svc_key(req->tb, &s.proto, &s.vip, &s.vport) < 0)
		return lbmsg_req_errf(req, -EINVAL,
				      "PROTO, VIP and VPORT needed");
	if (cfg_service_find_key(d->cfg, s.proto, &s.vip, s.vport) != NULL)
		return lbmsg_req_errf(req, -EEXIST, "service exists");
	/* a name for the state file: proto-vip-port */
	lb_addr_format(&s.vip, a, sizeof(a));
	snprintf(s.name, sizeof(s.name), "%s-%s-%u", lb_proto_name(s.proto), a,
		 s.vport);
	rc = take_svc_attrs(req, &s);
	if (rc == 0)
		rc = take_backends(req, &s);
	if (rc < 0) {
		cfg_service_release(&s);
		return rc;
	}
	if (s.mode == LB_MODE_UNSET) {
		cfg_service_release(&s);
		return lbmsg_req_errf(req, -EINVAL, "MODE is required");
	}
	return commit_service(req, &s, NULL);
}

static int
h_service_set(struct lbmsg_req *req)
{
	struct cfg_service *old, s;
	int rc = 0;

	old = req_service(req, &rc);
	if (old == NULL)
		return rc;
	if (cfg_service_copy(&s, old) < 0)
		return lbmsg_req_errf(req, -ENOMEM, "out of memory");
	rc = take_svc_attrs(req, &s);
	if (rc == 0 && req->tb[LB_ATTR_BACKENDS] != NULL) {
		s.nbackends = 0; /* a list given replaces the backends */
		rc = take_backends(req, &s);
	}
	if (rc < 0) {
		cfg_service_release(&s);
		return rc;
	}
	return commit_service(req, &s, old);
}

static int
h_service_del(struct lbmsg_req *req)
{
	struct lbd *d = D(req);
	struct cfg_service *s, key;
	int rc = 0;

	s = req_service(req, &rc);
	if (s == NULL)
		return rc;
	key = *s; /* for its key only */
	cfg_service_remove(d->cfg, (uint32_t)(s - d->cfg->services));
	return changed(req, &key.proto, &key.vip, key.vport);
}

static int
h_service_flush(struct lbmsg_req *req)
{
	struct lbd *d = D(req);

	while (d->cfg->nservices)
		cfg_service_remove(d->cfg, d->cfg->nservices - 1);
	return changed(req, NULL, NULL, 0);
}

static int
h_backend(struct lbmsg_req *req)
{
	uint16_t type = req->nlh->nlmsg_type;
	struct cfg_service *old, s;
	struct cfg_backend b = { .weight = CFG_DEFAULT_WEIGHT }, *cur;
	int rc = 0;

	old = req_service(req, &rc);
	if (old == NULL)
		return rc;
	rc = take_backend(req, req->tb, &b);
	if (rc < 0)
		return rc;
	cur = cfg_backend_find(old, &b.addr, b.port);
	if (type == LB_MSG_BACKEND_NEW && cur != NULL)
		return lbmsg_req_errf(req, -EEXIST, "backend exists");
	if (type != LB_MSG_BACKEND_NEW && cur == NULL)
		return lbmsg_req_errf(req, -ENOENT, "no such backend");
	if (cfg_service_copy(&s, old) < 0)
		return lbmsg_req_errf(req, -ENOMEM, "out of memory");
	if (type == LB_MSG_BACKEND_NEW)
		rc = cfg_backend_add(&s, &b);
	else if (type == LB_MSG_BACKEND_DEL)
		rc = cfg_backend_del(&s, &b.addr, b.port);
	else
		rc = set_backend(req, cfg_backend_find(&s, &b.addr, b.port),
				 &b);
	if (rc < 0) {
		cfg_service_release(&s);
		return lbmsg_req_errf(req, rc, "%s",
				      rc == -ERANGE ? "l_threshold above "
						      "u_threshold"
						    : strerror(-rc));
	}
	return commit_service(req, &s, old);
}

static int
h_laddr(struct lbmsg_req *req)
{
	struct cfg_service *old, s;
	struct lb_addr a;
	int rc = 0;

	old = req_service(req, &rc);
	if (old == NULL)
		return rc;
	if (lbmsg_get_addr(req->tb[LB_ATTR_ADDR], &a) < 0)
		return lbmsg_req_errf(req, -EINVAL, "bad ADDR");
	if (cfg_service_copy(&s, old) < 0)
		return lbmsg_req_errf(req, -ENOMEM, "out of memory");
	rc = req->nlh->nlmsg_type == LB_MSG_LADDR_NEW ? cfg_laddr_add(&s, &a)
						      : cfg_laddr_del(&s, &a);
	if (rc < 0) {
		cfg_service_release(&s);
		return lbmsg_req_errf(req, rc, "%s",
				      rc == -EEXIST ? "laddr exists"
						    : "no such laddr");
	}
	return commit_service(req, &s, old);
}

/* ---- dumps of the desired state ---------------------------------------- */

static bool
key_matches(struct lbmsg_req *req, const struct cfg_service *s)
{
	struct lb_addr vip;
	uint16_t vport;
	uint8_t proto;

	if (req->tb[LB_ATTR_VIP] == NULL)
		return true; /* no filter */
	if (lbmsg_get_svc_key(req->tb, &proto, &vip, &vport) < 0)
		return true;
	return proto == s->proto && vport == s->vport &&
	       lb_addr_equal(&vip, &s->vip);
}

static int
put_service(struct nl_msg *msg, const struct cfg_service *s)
{
	int rc = lbmsg_put_svc_key(msg, s->proto, &s->vip, s->vport);

	if (rc == 0)
		rc = nla_put_string(msg, LB_ATTR_NAME, s->name);
	if (rc == 0)
		rc = dpc_put_svc_attrs(msg, s->mode, s->sched, s->persist,
				       s->flags, s->mh_size);
	if (rc == 0 && s->max_conns)
		rc = nla_put_u32(msg, LB_ATTR_MAX_CONNS, s->max_conns);
	if (rc == 0 && s->conn_rate)
		rc = nla_put_u32(msg, LB_ATTR_CONN_RATE, s->conn_rate);
	if (rc == 0 && s->syn_src_rate)
		rc = nla_put_u32(msg, LB_ATTR_SYN_SRC_RATE, s->syn_src_rate);
	return rc;
}

/* A backend's address, port, configured weight and health state. */
static int
put_backend(struct nl_msg *msg, struct lbd *d, const struct cfg_service *s,
	    const struct cfg_backend *b)
{
	int st = s->check[0] ? hc_state(d->hc, s->name, &b->addr, b->port)
			     : LB_HEALTH_UNKNOWN;
	int rc = lbmsg_put_addr(msg, LB_ATTR_ADDR, &b->addr);

	if (rc == 0)
		rc = nla_put_u16(msg, LB_ATTR_PORT, b->port);
	if (rc == 0)
		rc = nla_put_u32(msg, LB_ATTR_WEIGHT, b->weight);
	if (rc == 0)
		rc = nla_put_u8(msg, LB_ATTR_STATE, (uint8_t)st);
	if (rc == 0 && b->u_thresh)
		rc = nla_put_u32(msg, LB_ATTR_U_THRESH, b->u_thresh);
	if (rc == 0 && b->l_thresh)
		rc = nla_put_u32(msg, LB_ATTR_L_THRESH, b->l_thresh);
	return rc;
}

static int
h_service_get(struct lbmsg_req *req)
{
	struct lbd *d = D(req);

	for (uint32_t i = 0; i < d->cfg->nservices; i++) {
		const struct cfg_service *s = &d->cfg->services[i];
		struct nl_msg *msg;
		struct nlattr *list;
		int rc;

		if (!key_matches(req, s))
			continue;
		msg = lbmsg_req_part(req);
		if (msg == NULL)
			return -ENOMEM;
		rc = put_service(msg, s);
		list = rc == 0 ? nla_nest_start(msg, LB_ATTR_BACKENDS) : NULL;
		for (uint32_t j = 0;
		     list != NULL && rc == 0 && j < s->nbackends; j++) {
			struct nlattr *rec =
				nla_nest_start(msg, LB_ATTR_BACKEND);

			rc = rec == NULL
				     ? -EMSGSIZE
				     : put_backend(msg, d, s, &s->backends[j]);
			if (rc == 0)
				nla_nest_end(msg, rec);
		}
		if (list == NULL)
			rc = -EMSGSIZE;
		if (rc == 0)
			nla_nest_end(msg, list);
		if (rc < 0) {
			nlmsg_free(msg);
			return lbmsg_req_errf(req, -EMSGSIZE,
					      "service %s too large for one "
					      "message",
					      s->name);
		}
		rc = lbmsg_req_send(req, msg);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* What dump_items() adds to the part of item j of s. */
typedef int (*put_item_fn)(struct nl_msg *msg, struct lbd *d,
			   const struct cfg_service *s, uint32_t j);

/*
 * One part per backend (or local address) of each service req selects:
 * the service key, then what put adds for the item.
 */
static int
dump_items(struct lbmsg_req *req, bool backends, put_item_fn put)
{
	struct lbd *d = D(req);

	for (uint32_t i = 0; i < d->cfg->nservices; i++) {
		const struct cfg_service *s = &d->cfg->services[i];
		uint32_t n = backends ? s->nbackends : s->nladdrs;

		for (uint32_t j = 0; key_matches(req, s) && j < n; j++) {
			struct nl_msg *msg = lbmsg_req_part(req);
			int rc;

			if (msg == NULL)
				return -ENOMEM;
			rc = lbmsg_put_svc_key(msg, s->proto, &s->vip,
					       s->vport);
			if (rc == 0)
				rc = put(msg, d, s, j);
			if (rc < 0) {
				nlmsg_free(msg);
				return rc;
			}
			rc = lbmsg_req_send(req, msg);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* A BACKEND_GET part: MODE (the service's), then the backend. */
static int
put_backend_item(struct nl_msg *msg, struct lbd *d, const struct cfg_service *s,
		 uint32_t j)
{
	int rc = nla_put_u8(msg, LB_ATTR_MODE, s->mode);

	if (rc == 0)
		rc = put_backend(msg, d, s, &s->backends[j]);
	return rc;
}

static int
put_laddr_item(struct nl_msg *msg, struct lbd *d, const struct cfg_service *s,
	       uint32_t j)
{
	(void)d;
	return lbmsg_put_addr(msg, LB_ATTR_ADDR, &s->laddrs[j]);
}

static int
h_backend_get(struct lbmsg_req *req)
{
	return dump_items(req, true, put_backend_item);
}

static int
h_laddr_get(struct lbmsg_req *req)
{
	return dump_items(req, false, put_laddr_item);
}

struct health_dump {
	struct lbmsg_req *req;
	int rc;
};

static void
health_part(void *arg, const struct hc_info *t)
{
	struct health_dump *hd = arg;
	struct lbd *d = D(hd->req);
	const struct cfg_service *s = cfg_service_find(d->cfg, t->service);
	const struct cfg_backend *b =
		s != NULL ? cfg_backend_find(s, &t->addr, t->port) : NULL;
	struct nl_msg *msg;
	struct nlattr *cnt;
	int rc;

	if (hd->rc < 0 || s == NULL || b == NULL || !key_matches(hd->req, s))
		return;
	msg = lbmsg_req_part(hd->req);
	if (msg == NULL) {
		hd->rc = -ENOMEM;
		return;
	}
	rc = lbmsg_put_svc_key(msg, s->proto, &s->vip, s->vport);
	if (rc == 0)
		rc = nla_put_string(msg, LB_ATTR_NAME, s->name);
	if (rc == 0)
		rc = lbmsg_put_addr(msg, LB_ATTR_ADDR, &t->addr);
	if (rc == 0)
		rc = nla_put_u16(msg, LB_ATTR_PORT, t->port);
	if (rc == 0)
		rc = nla_put_string(msg, LB_ATTR_CHECK, t->check);
	if (rc == 0)
		rc = nla_put_u8(msg, LB_ATTR_STATE, t->sm->state);
	if (rc == 0)
		rc = nla_put_u32(msg, LB_ATTR_WEIGHT,
				 hc_state_healthy(t->sm->state) ? b->weight
								: 0);
	cnt = rc == 0 ? nla_nest_start(msg, LB_ATTR_COUNTERS) : NULL;
	if (cnt != NULL) {
		rc = lbmsg_put_counter(msg, "checks_total", t->sm->checks);
		if (rc == 0)
			rc = lbmsg_put_counter(msg, "failures_total",
					       t->sm->failures);
		if (rc == 0)
			rc = lbmsg_put_counter(msg, "timeouts_total",
					       t->sm->timeouts);
		if (rc == 0)
			rc = lbmsg_put_counter(msg, "rises_total",
					       t->sm->rises);
		if (rc == 0)
			rc = lbmsg_put_counter(msg, "falls_total",
					       t->sm->falls);
		if (rc == 0)
			nla_nest_end(msg, cnt);
	} else {
		rc = -EMSGSIZE;
	}
	if (rc < 0) {
		nlmsg_free(msg);
		hd->rc = rc;
		return;
	}
	hd->rc = lbmsg_req_send(hd->req, msg);
}

static int
h_health_get(struct lbmsg_req *req)
{
	struct lbd *d = D(req);
	struct health_dump hd = { req, 0 };

	hc_foreach(d->hc, health_part, &hd);
	return hd.rc;
}

/* The module's life cycle as the daemon sees it (LB_MODULE_*). */
static uint8_t
module_state(struct lbd *d, size_t i)
{
	const struct lbd_module *m = d->modules[i];

	if (m->start == NULL)
		return LB_MODULE_RESERVED;
	if (d->drain_deadline == 0)
		return LB_MODULE_RUNNING;
	return m->drained == NULL || d->mod_state[i] == NULL ||
			       m->drained(d->mod_state[i])
		       ? LB_MODULE_DRAINED
		       : LB_MODULE_DRAINING;
}

/* One part per module (or the one NAME selects): NAME, STATE, its own. */
static int
h_module_get(struct lbmsg_req *req)
{
	struct lbd *d = D(req);
	const char *want = req->tb[LB_ATTR_NAME] != NULL
				   ? nla_get_string(req->tb[LB_ATTR_NAME])
				   : NULL;
	unsigned int found = 0;

	for (size_t i = 0; i < d->nmodules; i++) {
		const struct lbd_module *m = d->modules[i];
		struct nl_msg *msg;
		int rc;

		if (want != NULL && strcmp(want, m->name) != 0)
			continue;
		found++;
		msg = lbmsg_req_part(req);
		if (msg == NULL)
			return -ENOMEM;
		rc = nla_put_string(msg, LB_ATTR_NAME, m->name);
		if (rc == 0)
			rc = nla_put_u8(msg, LB_ATTR_STATE, module_state(d, i));
		if (rc == 0 && m->ctl_show != NULL && d->mod_state[i] != NULL)
			rc = m->ctl_show(d, d->mod_state[i], msg);
		if (rc < 0) {
			nlmsg_free(msg);
			return lbmsg_req_errf(req, -EMSGSIZE, "module %s: %s",
					      m->name, strerror(-rc));
		}
		rc = lbmsg_req_send(req, msg);
		if (rc < 0)
			return rc;
	}
	if (want != NULL && found == 0)
		return lbmsg_req_errf(req, -ENOENT, "no module '%s'", want);
	return 0;
}

/*
 * MODULE_CMD: hand the request to the ctl_cmd hook of the module NAME;
 * its reply part (NAME, MOD_CMD and what the hook added) goes out before
 * the ack.
 */
static int
h_module_cmd(struct lbmsg_req *req)
{
	struct lbd *d = D(req);
	const char *name = nla_get_string(req->tb[LB_ATTR_NAME]);
	const char *cmd = nla_get_string(req->tb[LB_ATTR_MOD_CMD]);
	struct nl_msg *in = NULL, *reply = NULL;
	char err[LBMSG_ERRMSG_MAX] = "";
	size_t i;
	int rc;

	for (i = 0; i < d->nmodules; i++)
		if (strcmp(d->modules[i]->name, name) == 0)
			break;
	if (i == d->nmodules)
		return lbmsg_req_errf(req, -ENOENT, "no module '%s'", name);
	if (d->modules[i]->ctl_cmd == NULL)
		return lbmsg_req_errf(req, -EOPNOTSUPP,
				      "module %s takes no commands", name);
	if (d->mod_state[i] == NULL)
		return lbmsg_req_errf(req, -ENOTCONN,
				      "module %s is not running", name);
	in = nlmsg_convert((struct nlmsghdr *)req->nlh);
	reply = lbmsg_req_part(req);
	if (in == NULL || reply == NULL ||
	    nla_put_string(reply, LB_ATTR_NAME, name) < 0 ||
	    nla_put_string(reply, LB_ATTR_MOD_CMD, cmd) < 0) {
		rc = -ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	rc = d->modules[i]->ctl_cmd(d, d->mod_state[i], in, reply, err,
				    sizeof(err));
	if (rc == 0) {
		rc = lbmsg_req_send(req, reply);
		reply = NULL;
		if (rc < 0)
			snprintf(err, sizeof(err), "send: %s", strerror(-rc));
	}
out:
	nlmsg_free(in);
	nlmsg_free(reply);
	if (rc < 0)
		return lbmsg_req_errf(req, rc, "%s",
				      err[0] != '\0' ? err : strerror(-rc));
	return 0;
}

static int
h_save(struct lbmsg_req *req)
{
	struct lbd *d = D(req);
	int rc;

	if (d->cfg->state_file[0] == '\0')
		return lbmsg_req_errf(req, -ENOENT,
				      "no [global] state_file configured");
	save_state(d, &rc);
	if (rc < 0)
		return lbmsg_req_errf(req, rc, "%s: %s", d->cfg->state_file,
				      strerror(-rc));
	return 0;
}

/* ---- pass-through to dp.sock ------------------------------------------- */

#define FAMILY_LEN NLMSG_ALIGN(sizeof(struct lbmsg_hdr))

/* Append the attributes of nlh (after its lbmsg header) to msg. */
static int
copy_attrs(struct nl_msg *msg, const struct nlmsghdr *nlh)
{
	size_t alen = nlh->nlmsg_len - NLMSG_HDRLEN - FAMILY_LEN;

	if (alen && nlmsg_append(msg, (char *)NLMSG_DATA(nlh) + FAMILY_LEN,
				 alen, NLMSG_ALIGNTO) < 0)
		return -EMSGSIZE;
	return 0;
}

/* One dump part of the dataplane, passed on to the client as ours. */
static int
forward_part(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	struct pending *p = arg;
	struct nl_msg *msg;
	int rc;

	(void)tb;
	if (p->dead)
		return 0; /* the rest of the dump is dropped */
	msg = lbmsg_new(p->hdr.nlmsg_type, NLM_F_MULTI);
	if (msg == NULL)
		return -ENOMEM;
	nlmsg_hdr(msg)->nlmsg_seq = p->hdr.nlmsg_seq;
	nlmsg_hdr(msg)->nlmsg_pid = p->hdr.nlmsg_pid;
	if (copy_attrs(msg, nlh) < 0) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	rc = send_now(p, msg);
	if (rc == -EAGAIN) {
		nlmsg_free(msg); /* built again when delivered again */
		wait_writable(p);
		return DPC_HOLD;
	}
	if (rc < 0)
		p->dead = true;
	return 0;
}

static void
proxy_done(void *arg, int rc, const char *err)
{
	struct pending *p = arg;
	char text[LBMSG_ERRMSG_MAX];

	snprintf(text, sizeof(text), "dataplane: %s", err);
	pending_end(p, rc, text);
}

static int
h_proxy(struct lbmsg_req *req)
{
	struct lbd *d = D(req);
	const struct nlmsghdr *nlh = req->nlh;
	struct nl_msg *msg;
	struct pending *p;
	int rc;

	if (!dpc_connected(d->dpc))
		return lbmsg_req_errf(req, -ENOTCONN,
				      "dataplane: not connected to %s",
				      dpc_path(d->dpc));
	msg = lbmsg_new(nlh->nlmsg_type, nlh->nlmsg_flags & NLM_F_DUMP);
	if (msg == NULL)
		return -ENOMEM;
	if (copy_attrs(msg, nlh) < 0) {
		nlmsg_free(msg);
		return lbmsg_req_errf(req, -EMSGSIZE, "request too large");
	}
	p = pending_new(req);
	rc = p != NULL ? dpc_request(d->dpc, msg,
				     lbmsg_type_is_dump(nlh->nlmsg_type)
					     ? forward_part
					     : NULL,
				     proxy_done, p)
		       : -errno;
	nlmsg_free(msg);
	if (rc == -EBUSY)
		return lbmsg_req_errf(req, rc,
				      "%d requests wait for the dataplane: try "
				      "again later",
				      MAX_PENDING);
	if (rc < 0) {
		if (p != NULL)
			pending_free(p);
		return lbmsg_req_errf(req, rc, "dataplane: %s", strerror(-rc));
	}
	return LBMSG_DEFERRED;
}

static int
h_stats_get(struct lbmsg_req *req)
{
	struct lbd *d = D(req);
	struct nl_msg *msg = lbmsg_req_part(req);
	struct nlattr *cnt;
	int rc;

	/* our own part first, so lbctl sees it even without a dataplane */
	if (msg == NULL)
		return -ENOMEM;
	rc = nla_put_u8(msg, LB_ATTR_STATS_KIND, LB_STATS_DAEMON);
	cnt = rc == 0 ? nla_nest_start(msg, LB_ATTR_COUNTERS) : NULL;
	if (cnt == NULL) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	lbmsg_put_counter(msg, "services", d->cfg->nservices);
	lbmsg_put_counter(msg, "health_targets", hc_count(d->hc));
	lbmsg_put_counter(msg, "dataplane_connected", dpc_connected(d->dpc));
	nla_nest_end(msg, cnt);
	rc = lbmsg_req_send(req, msg);
	if (rc < 0)
		return rc;
	return h_proxy(req);
}

static const lbmsg_handler_fn handlers[LB_MSG_MAX + 1] = {
	[LB_MSG_SERVICE_NEW] = h_service_new,
	[LB_MSG_SERVICE_DEL] = h_service_del,
	[LB_MSG_SERVICE_SET] = h_service_set,
	[LB_MSG_SERVICE_GET] = h_service_get,
	[LB_MSG_SERVICE_FLUSH] = h_service_flush,
	[LB_MSG_BACKEND_NEW] = h_backend,
	[LB_MSG_BACKEND_DEL] = h_backend,
	[LB_MSG_BACKEND_SET] = h_backend,
	[LB_MSG_BACKEND_GET] = h_backend_get,
	[LB_MSG_LADDR_NEW] = h_laddr,
	[LB_MSG_LADDR_DEL] = h_laddr,
	[LB_MSG_LADDR_GET] = h_laddr_get,
	[LB_MSG_HEALTH_GET] = h_health_get,
	[LB_MSG_SAVE] = h_save,
	[LB_MSG_MODULE_GET] = h_module_get,
	[LB_MSG_MODULE_CMD] = h_module_cmd,
	[LB_MSG_STATS_GET] = h_stats_get,
	[LB_MSG_STATS_ZERO] = h_proxy,
	[LB_MSG_CONN_GET] = h_proxy,
	[LB_MSG_PORT_GET] = h_proxy,
	[LB_MSG_ROUTE_GET] = h_proxy,
	[LB_MSG_NEIGH_GET] = h_proxy,
	[LB_MSG_PORTADDR_GET] = h_proxy,
	[LB_MSG_CONFIG_GET] = h_proxy,
};

/* ---- event loop glue --------------------------------------------------- */

static void on_ready(evutil_socket_t fd, short what, void *arg);

static void
watch_clients(struct ctlsrv *s)
{
	int fds[MAX_CLIENTS];
	int n = lbmsg_server_fds(s->srv, fds, MAX_CLIENTS);

	for (unsigned int i = 0; i < s->nclients; i++)
		event_free(s->client_ev[i]);
	s->nclients = 0;
	for (int i = 0; i < n && i < MAX_CLIENTS; i++) {
		struct event *ev =
			event_new(event_get_base(s->listen_ev), fds[i],
				  EV_READ | EV_PERSIST, on_ready, s);

		if (ev == NULL || event_add(ev, NULL) < 0) {
			if (ev != NULL)
				event_free(ev);
			continue;
		}
		s->client_ev[s->nclients++] = ev;
	}
}

static void
on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct ctlsrv *s = arg;
	int rc;

	(void)fd;
	(void)what;
	rc = lbmsg_server_poll(s->srv, 0);
	if (rc < 0)
		LB_WARN("ctl socket: %s", strerror(-rc));
	watch_clients(s);
}

struct ctlsrv *
ctlsrv_open(struct lbd *d, const char *path)
{
	struct ctlsrv *s = calloc(1, sizeof(*s));
	int err;

	if (s == NULL)
		return NULL;
	s->d = d;
	s->srv = lbmsg_server_open(path, 0600, -1, handlers, s);
	if (s->srv == NULL)
		goto err;
	s->listen_ev = event_new(d->base, lbmsg_server_listen_fd(s->srv),
				 EV_READ | EV_PERSIST, on_ready, s);
	if (s->listen_ev == NULL || event_add(s->listen_ev, NULL) < 0) {
		errno = ENOMEM;
		goto err;
	}
	return s;
err:
	err = errno;
	ctlsrv_close(s);
	errno = err;
	return NULL;
}

void
ctlsrv_close(struct ctlsrv *s)
{
	if (s == NULL)
		return;
	while (s->pending != NULL) {
		struct pending *p = s->pending;

		dpc_cancel(s->d->dpc, p);
		dpsync_cancel(s->d->sync, p);
		pending_free(p);
	}
	for (unsigned int i = 0; i < s->nclients; i++)
		event_free(s->client_ev[i]);
	if (s->listen_ev != NULL)
		event_free(s->listen_ev);
	if (s->srv != NULL)
		lbmsg_server_close(s->srv);
	free(s);
}
