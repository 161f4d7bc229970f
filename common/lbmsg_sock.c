/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbmsg over AF_UNIX/SOCK_SEQPACKET: the server (dp.sock, ctl.sock) and the
 * client (edgelbd -> dp, lbctl -> either).
 *
 * The server never blocks on a client longer than its send timeout: client
 * sockets are non-blocking, each datagram is one request, and a reply that
 * cannot be sent in time drops that client. A slow or hostile client can
 * cost the control thread at most SEND_TIMEOUT_MS per reply part; workers
 * never wait on this socket at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "edgelb/lbmsg.h"
#include "edgelb/util.h"
#include "lbmsg_priv.h"

#define SERVER_MAX_CLIENTS 64
#define SERVER_BATCH	   64 /* requests served per client per poll */
#define SEND_TIMEOUT_MS	   2000

struct lbmsg_server {
	int lfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const lbmsg_handler_fn *handlers; /* LB_MSG_MAX + 1 entries */
	void *ctx;
	int clients[SERVER_MAX_CLIENTS];
	int nclients;
	struct lbmsg_server_stats st;
	uint8_t buf[LBMSG_MAX_SIZE];
};

struct lbmsg_client {
	int fd;
	uint32_t seq;
	int timeout_ms;
	size_t max_parts;
	size_t max_bytes;
	uint8_t buf[LBMSG_MAX_SIZE];
};

static int
fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (path == NULL || strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

/* Send one datagram on a non-blocking socket, waiting up to timeout. */
static int
send_wait(int fd, const void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = (int64_t)lb_now_ms() + timeout_ms;

	for (;;) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int64_t left;

		if (n == (ssize_t)len)
			return 0;
		if (n >= 0)
			return -EIO; /* SEQPACKET sends whole datagrams */
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		left = deadline - (int64_t)lb_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
	}
}

/* ---- server ------------------------------------------------------------ */

int
lbmsg_req_errf(struct lbmsg_req *req, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(req->errmsg, sizeof(req->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

struct nl_msg *
lbmsg_req_part(struct lbmsg_req *req)
{
	struct nl_msg *msg;
	struct nlmsghdr *h;

	msg = lbmsg_new(req->nlh->nlmsg_type, NLM_F_MULTI);
	if (msg == NULL)
		return NULL;
	h = nlmsg_hdr(msg);
	h->nlmsg_seq = req->nlh->nlmsg_seq;
	h->nlmsg_pid = req->nlh->nlmsg_pid;
	return msg;
}

int
lbmsg_req_send(struct lbmsg_req *req, struct nl_msg *msg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	int rc;

	rc = send_wait(req->fd, h, h->nlmsg_len, SEND_TIMEOUT_MS);
	nlmsg_free(msg);
	if (rc == 0)
		req->parts++;
	return rc;
}

struct nl_msg *
lbmsg_ack_msg(const struct nlmsghdr *hdr, int error, const char *text)
{
	struct nlmsgerr e = { .error = error, .msg = *hdr };
	uint16_t flags = NLM_F_CAPPED;
	struct nl_msg *msg;
	struct nlmsghdr *h;

	if (text != NULL && text[0] != '\0')
		flags |= NLM_F_ACK_TLVS;
	msg = nlmsg_alloc_simple(NLMSG_ERROR, flags);
	if (msg == NULL)
		return NULL;
	if (nlmsg_append(msg, &e, sizeof(e), NLMSG_ALIGNTO) < 0 ||
	    ((flags & NLM_F_ACK_TLVS) &&
	     nla_put_string(msg, NLMSGERR_ATTR_MSG, text) < 0)) {
		nlmsg_free(msg);
		return NULL;
	}
	h = nlmsg_hdr(msg);
	h->nlmsg_seq = hdr->nlmsg_seq;
	h->nlmsg_pid = hdr->nlmsg_pid;
	return msg;
}

struct nl_msg *
lbmsg_done_msg(const struct nlmsghdr *req, int error)
{
	struct nl_msg *msg = nlmsg_alloc_simple(NLMSG_DONE, NLM_F_MULTI);
	struct nlmsghdr *h;

	if (msg == NULL)
		return NULL;
	if (nlmsg_append(msg, &error, sizeof(error), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	h = nlmsg_hdr(msg);
	h->nlmsg_seq = req->nlmsg_seq;
	h->nlmsg_pid = req->nlmsg_pid;
	return msg;
}

/* Send and free msg (NULL: -ENOMEM), waiting up to the send timeout. */
static int
send_msg(int fd, struct nl_msg *msg)
{
	struct nlmsghdr *h;
	int rc;

	if (msg == NULL)
		return -ENOMEM;
	h = nlmsg_hdr(msg);
	rc = send_wait(fd, h, h->nlmsg_len, SEND_TIMEOUT_MS);
	nlmsg_free(msg);
	return rc;
}

/*
 * NLMSG_ERROR for a request whose header is hdr (zeroes when the request
 * was too short to have one), with the text as NLMSGERR_ATTR_MSG.
 */
static int
send_ack(int fd, const struct nlmsghdr *hdr, int error, const char *text)
{
	return send_msg(fd, lbmsg_ack_msg(hdr, error, text));
}

static int
send_done(int fd, const struct nlmsghdr *req, int error)
{
	return send_msg(fd, lbmsg_done_msg(req, error));
}

/* Answer one datagram of len bytes (trunc: it was longer than the buffer). */
static int
serve_datagram(struct lbmsg_server *srv, int fd, size_t len, bool trunc)
{
	struct nlattr *tb[LB_ATTR_MAX + 1] = { 0 };
	struct lbmsg_req req = { .tb = tb, .ctx = srv->ctx, .fd = fd };
	struct nlmsghdr hdr = { 0 };
	lbmsg_handler_fn fn = NULL;
	int rc;

	srv->st.requests++;
	if (len >= sizeof(hdr))
		memcpy(&hdr, srv->buf, sizeof(hdr));
	req.nlh = (const struct nlmsghdr *)srv->buf;

	if (trunc) {
		srv->st.oversized++;
		rc = lbmsg_req_errf(&req, -EMSGSIZE,
				    "message larger than %u bytes",
				    LBMSG_MAX_SIZE);
		goto ack;
	}
	rc = lbmsg_parse(req.nlh, len, tb, req.errmsg, sizeof(req.errmsg));
	if (rc < 0) {
		srv->st.malformed++;
		goto ack;
	}
	fn = srv->handlers[hdr.nlmsg_type];
	if (fn == NULL) {
		rc = lbmsg_req_errf(&req, -EOPNOTSUPP,
				    "%s is not served on this socket",
				    lbmsg_type_name(hdr.nlmsg_type));
		goto ack;
	}
	rc = fn(&req);
	if (rc == LBMSG_DEFERRED)
		return 0; /* the handler answers later */
	if (rc > 0)
		rc = 0;
	if (lbmsg_type_is_dump(hdr.nlmsg_type)) {
		int src = send_done(fd, &hdr, rc);

		if (src < 0)
			return src;
	}
ack:
	if (rc < 0) {
		srv->st.errors++;
		if (req.errmsg[0] == '\0')
			snprintf(req.errmsg, sizeof(req.errmsg), "%s",
				 strerror(-rc));
	}
	return send_ack(fd, &hdr, rc, rc < 0 ? req.errmsg : NULL);
}

static void
drop_client(struct lbmsg_server *srv, int i)
{
	close(srv->clients[i]);
	srv->clients[i] = srv->clients[--srv->nclients];
}

/* Serve what client i has queued. Returns requests served; -1 if dropped. */
static int
serve_client(struct lbmsg_server *srv, int i)
{
	int fd = srv->clients[i], served = 0;

	while (served < SERVER_BATCH) {
		struct iovec iov = { .iov_base = srv->buf,
				     .iov_len = sizeof(srv->buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) { /* EOF or error: the client is gone */
			drop_client(srv, i);
			return -1;
		}
		if (serve_datagram(srv, fd, (size_t)n,
				   (mh.msg_flags & MSG_TRUNC) != 0) < 0) {
			drop_client(srv, i);
			return -1;
		}
		served++;
	}
	return served;
}

struct lbmsg_server *
lbmsg_server_open(const char *path, unsigned int mode, int group,
		  const lbmsg_handler_fn handlers[], void *ctx)
{
	struct lbmsg_server *srv;
	struct sockaddr_un sa;
	int rc;

	rc = fill_addr(&sa, path);
	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return NULL;
	srv->handlers = handlers;
	srv->ctx = ctx;
	strcpy(srv->path, path);
	srv->lfd = socket(AF_UNIX,
			  SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->lfd < 0)
		goto err;
	unlink(path);
	if (bind(srv->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto err;
	if (chmod(path, mode != 0 ? mode : 0600) < 0)
		goto err;
	if (group != -1 && chown(path, (uid_t)-1, (gid_t)group) < 0)
		goto err;
	if (listen(srv->lfd, 16) < 0)
		goto err;
	return srv;
err:
	rc = errno;
	if (srv->lfd >= 0)
		close(srv->lfd);
	free(srv);
	errno = rc;
	return NULL;
}

void
lbmsg_server_close(struct lbmsg_server *srv)
{
	if (srv == NULL)
		return;
	while (srv->nclients > 0)
		drop_client(srv, srv->nclients - 1);
	close(srv->lfd);
	unlink(srv->path);
	free(srv);
}

static int
accept_clients(struct lbmsg_server *srv)
{
	for (;;) {
		int fd = accept4(srv->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return 0;
			return -errno;
		}
		if (srv->nclients == SERVER_MAX_CLIENTS) {
			srv->st.rejected++;
			close(fd);
			continue;
		}
		srv->st.accepted++;
		srv->clients[srv->nclients++] = fd;
	}
}

int
lbmsg_server_poll(struct lbmsg_server *srv, int timeout_ms)
{
	struct pollfd pfd[SERVER_MAX_CLIENTS + 1];
	int n = 0, served = 0, rc;

	pfd[n++] = (struct pollfd){ .fd = srv->lfd, .events = POLLIN };
	for (int i = 0; i < srv->nclients; i++)
		pfd[n++] = (struct pollfd){ .fd = srv->clients[i],
					    .events = POLLIN };
	rc = poll(pfd, (nfds_t)n, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	if (rc == 0)
		return 0;
	/* Clients first (indices shift when one is dropped: walk down). */
	for (int i = n - 1; i >= 1; i--) {
		if (pfd[i].revents == 0)
			continue;
		rc = serve_client(srv, i - 1);
		if (rc > 0)
			served += rc;
	}
	if (pfd[0].revents & POLLIN) {
		rc = accept_clients(srv);
		if (rc < 0)
			return rc;
	}
	return served;
}

int
lbmsg_server_listen_fd(const struct lbmsg_server *srv)
{
	return srv->lfd;
}

int
lbmsg_server_fds(const struct lbmsg_server *srv, int *fds, int n)
{
	int i;

	for (i = 0; i < srv->nclients && i < n; i++)
		fds[i] = srv->clients[i];
	return srv->nclients;
}

void
lbmsg_server_get_stats(const struct lbmsg_server *srv,
		       struct lbmsg_server_stats *st)
{
	*st = srv->st;
}

/* ---- client ------------------------------------------------------------ */

struct lbmsg_client *
lbmsg_client_open(const char *path, int timeout_ms)
{
	struct lbmsg_client *c;
	struct sockaddr_un sa;
	int rc;

	rc = fill_addr(&sa, path);
	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
	c->max_parts = LBMSG_DUMP_MAX_PARTS;
	c->max_bytes = LBMSG_DUMP_MAX_BYTES;
	c->seq = (uint32_t)time(NULL);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (c->fd < 0)
		goto err;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto err;
	return c;
err:
	rc = errno;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	errno = rc;
	return NULL;
}

void
lbmsg_client_close(struct lbmsg_client *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c);
}

void
lbmsg_client_set_limits(struct lbmsg_client *c, size_t max_parts,
			size_t max_bytes)
{
	c->max_parts = max_parts;
	c->max_bytes = max_bytes;
}

int
lbmsg_read_ack(const struct nlmsghdr *h, size_t len, char *err, size_t errlen)
{
	const struct nlmsgerr *e = NLMSG_DATA(h);
	size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*e));

	if (len < off)
		return lb_errf(err, errlen, -EBADMSG,
			       "truncated acknowledgement");
	if (e->error > 0)
		return lb_errf(err, errlen, -EBADMSG,
			       "malformed acknowledgement");
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += NLMSG_ALIGN(e->msg.nlmsg_len) - NLMSG_HDRLEN;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((h->nlmsg_flags & NLM_F_ACK_TLVS) && off <= len) {
		const struct nlattr *a = (const void *)((const char *)h + off);
		int rem = (int)(len - off);

		for (; nla_ok(a, rem); a = nla_next(a, &rem)) {
			const char *s = nla_data(a);
			int alen = nla_len(a);

			if (nla_type(a) == NLMSGERR_ATTR_MSG && alen > 0 &&
			    s[alen - 1] == '\0' && err != NULL && errlen > 0)
				snprintf(err, errlen, "%s", s);
		}
	}
	if (e->error < 0 && err != NULL && errlen > 0 && err[0] == '\0')
		snprintf(err, errlen, "%s", strerror(-e->error));
	return e->error;
}

static int
exchange(struct lbmsg_client *c, const void *buf, size_t len, uint32_t seq,
	 bool any_seq, lbmsg_part_fn cb, void *arg, char *err, size_t errlen)
{
	size_t parts = 0, bytes = 0;
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	rc = send_wait(c->fd, buf, len, c->timeout_ms);
	if (rc < 0)
		return lb_errf(err, errlen, rc, "send: %s", strerror(-rc));
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		struct iovec iov = { .iov_base = c->buf,
				     .iov_len = sizeof(c->buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		const struct nlmsghdr *h = (const void *)c->buf;
		struct nlattr *tb[LB_ATTR_MAX + 1];
		char perr[LBMSG_ERRMSG_MAX];
		ssize_t n;

		rc = poll(&p, 1, c->timeout_ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0)
			return lb_errf(err, errlen, -ETIMEDOUT,
				       "no reply within %d ms", c->timeout_ms);
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return lb_errf(err, errlen, -errno, "receive: %s",
				       strerror(errno));
		if (n == 0)
			return lb_errf(err, errlen, -ECONNRESET,
				       "the server closed the connection");
		if (mh.msg_flags & MSG_TRUNC)
			return lb_errf(err, errlen, -EMSGSIZE,
				       "reply larger than %u bytes",
				       LBMSG_MAX_SIZE);
		if ((size_t)n < NLMSG_HDRLEN || h->nlmsg_len != (size_t)n)
			return lb_errf(err, errlen, -EBADMSG,
				       "malformed reply header");
		if (!any_seq && h->nlmsg_seq != seq)
			continue; /* left over from an abandoned request */
		if (h->nlmsg_type == NLMSG_ERROR)
			return lbmsg_read_ack(h, (size_t)n, err, errlen);
		if (h->nlmsg_type == NLMSG_DONE)
			continue;
		if (++parts > c->max_parts ||
		    (bytes += (size_t)n) > c->max_bytes)
			return lb_errf(err, errlen, -EMSGSIZE,
				       "dump exceeds the client's limit (%zu "
				       "parts, %zu bytes)",
				       c->max_parts, c->max_bytes);
		rc = lbmsg_parse(h, (size_t)n, tb, perr, sizeof(perr));
		if (rc < 0)
			return lb_errf(err, errlen, -EBADMSG, "bad reply: %s",
				       perr);
		if (cb != NULL) {
			rc = cb(arg, h, tb);
			if (rc < 0)
				return lb_errf(err, errlen, rc,
					       "reply handler failed: %s",
					       strerror(-rc));
		}
	}
}

int
lbmsg_client_request(struct lbmsg_client *c, struct nl_msg *msg,
		     lbmsg_part_fn cb, void *arg, char *err, size_t errlen)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);

	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = ++c->seq;
	return exchange(c, h, h->nlmsg_len, h->nlmsg_seq, false, cb, arg, err,
			errlen);
}

int
lbmsg_client_request_raw(struct lbmsg_client *c, const void *buf, size_t len,
			 lbmsg_part_fn cb, void *arg, char *err, size_t errlen)
{
	return exchange(c, buf, len, 0, true, cb, arg, err, errlen);
}
