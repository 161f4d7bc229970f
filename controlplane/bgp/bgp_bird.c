/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * BIRD control socket client (see bgp_bird.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "bgp_bird.h"
#include "edgelb/util.h"

enum bird_phase {
	BIRD_GREETING, /* waiting for "0001 BIRD ... ready." */
	BIRD_REPLY,    /* the command sent, reading its reply */
};

/* The parser's state of one exchange, shared by both variants. */
struct bird_parse {
	enum bird_phase phase;
	unsigned lines;
	int code;
	char msg[256];
};

struct bird_cmd {
	struct bufferevent *bev;
	struct bird_parse p;
	char line[BIRD_LINE_MAX + 1];
	bird_done_fn done;
	void *arg;
};

int
bird_reply_line(const char *line, int *code)
{
	int c = 0;

	if (line[0] == ' ')
		return 0; /* continuation of the previous code */
	for (int i = 0; i < 4; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -EBADMSG;
		c = c * 10 + (line[i] - '0');
	}
	if (line[4] == '-')
		return 0;
	if (line[4] != ' ' && line[4] != '\0')
		return -EBADMSG;
	*code = c;
	return 1;
}

/*
 * Feed one line to p: 1 when the exchange phase ended (the greeting is
 * complete or the reply's last line came), 0 for more, -EBADMSG.
 */
static int
parse_line(struct bird_parse *p, const char *line)
{
	int code = 0, rc;
	const char *msg;
	size_t n;

	if (strlen(line) > BIRD_LINE_MAX || ++p->lines > BIRD_LINES_MAX)
		return -EBADMSG;
	rc = bird_reply_line(line, &code);
	if (rc <= 0)
		return rc;
	p->code = code;
	msg = line[4] ? line + 5 : "";
	n = strnlen(msg, sizeof(p->msg) - 1); /* a longer text is cut */
	memcpy(p->msg, msg, n);
	p->msg[n] = '\0';
	if (p->phase == BIRD_GREETING && code != 1)
		return -EBADMSG;
	return 1;
}

static int
open_socket(const char *path, bool nonblock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, flags = SOCK_STREAM | SOCK_CLOEXEC;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (nonblock)
		flags |= SOCK_NONBLOCK;
	fd = socket(AF_UNIX, flags, 0);
	if (fd < 0)
		return -1;
	/* AF_UNIX: connect succeeds or fails at once, even non-blocking */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		errno = e == EAGAIN ? ECONNREFUSED : e;
		return -1;
	}
	return fd;
}

/* ---- on the loop ------------------------------------------------------- */

static void
finish(struct bird_cmd *c, int rc)
{
	bird_done_fn done = c->done;
	void *arg = c->arg;
	int code = rc == 0 || rc == -EREMOTEIO ? c->p.code : 0;
	char msg[sizeof(c->p.msg)];

	snprintf(msg, sizeof(msg), "%s", c->p.msg);
	bird_cmd_cancel(c);
	done(arg, rc, code, msg);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct bird_cmd *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF)) != NULL) {
		int rc = parse_line(&c->p, line);

		free(line);
		if (rc < 0) {
			snprintf(c->p.msg, sizeof(c->p.msg),
				 "malformed reply from BIRD");
			finish(c, rc);
			return;
		}
		if (rc == 0)
			continue;
		if (c->p.phase == BIRD_REPLY) {
			finish(c, c->p.code >= 8000 ? -EREMOTEIO : 0);
			return;
		}
		c->p.phase = BIRD_REPLY;
		c->p.lines = 0;
		if (bufferevent_write(bev, c->line, strlen(c->line)) < 0) {
			finish(c, -ENOMEM);
			return;
		}
	}
	if (evbuffer_get_length(in) > BIRD_LINE_MAX) {
		snprintf(c->p.msg, sizeof(c->p.msg), "reply line too long");
		finish(c, -EBADMSG);
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct bird_cmd *c = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT) {
		snprintf(c->p.msg, sizeof(c->p.msg), "no answer from BIRD");
		finish(c, -ETIMEDOUT);
	} else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		snprintf(c->p.msg, sizeof(c->p.msg),
			 "BIRD closed the control socket");
		finish(c, -ECONNRESET);
	}
}

struct bird_cmd *
bird_cmd_start(struct event_base *base, const char *path, const char *line,
	       int timeout_ms, bird_done_fn done, void *arg)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (timeout_ms % 1000) * 1000 };
	struct bird_cmd *c;
	int fd, e;

	if (strlen(line) + 2 > sizeof(c->line)) {
		errno = E2BIG;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	snprintf(c->line, sizeof(c->line), "%s\n", line);
	c->done = done;
	c->arg = arg;
	fd = open_socket(path, true);
	if (fd < 0)
		goto err;
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		errno = ENOMEM;
		goto err;
	}
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) < 0) {
		errno = ENOMEM;
		goto err;
	}
	return c;
err:
	e = errno;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	free(c);
	errno = e;
	return NULL;
}

void
bird_cmd_cancel(struct bird_cmd *c)
{
	if (c == NULL)
		return;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	free(c);
}

/* ---- blocking ---------------------------------------------------------- */

int
bird_cmd_sync(const char *path, const char *line, int timeout_ms, int *code,
	      char *msg, size_t msglen)
{
	struct bird_parse p = { .phase = BIRD_GREETING };
	uint64_t deadline = lb_now_ms() + (uint64_t)timeout_ms;
	char buf[BIRD_LINE_MAX + 2], cmd[BIRD_LINE_MAX + 1];
	size_t have = 0;
	int fd, rc = -ETIMEDOUT;

	*code = 0;
	snprintf(msg, msglen, "no answer from BIRD");
	if (strlen(line) + 2 > sizeof(cmd))
		return -E2BIG;
	snprintf(cmd, sizeof(cmd), "%s\n", line);
	fd = open_socket(path, false);
	if (fd < 0) {
		rc = -errno;
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return rc;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = lb_now_ms();
		char *nl;
		ssize_t n;

		if (now >= deadline ||
		    poll(&pfd, 1, (int)(deadline - now)) <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0) {
			rc = -ECONNRESET;
			snprintf(msg, msglen, "BIRD closed the control socket");
			break;
		}
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			rc = parse_line(&p, buf);
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have + 1);
			if (rc < 0)
				goto out;
			if (rc == 0)
				continue;
			if (p.phase == BIRD_REPLY) {
				*code = p.code;
				snprintf(msg, msglen, "%s", p.msg);
				rc = p.code >= 8000 ? -EREMOTEIO : 0;
				goto out;
			}
			p.phase = BIRD_REPLY;
			p.lines = 0;
			if (write(fd, cmd, strlen(cmd)) !=
			    (ssize_t)strlen(cmd)) {
				rc = -ECONNRESET;
				goto out;
			}
		}
		if (have >= sizeof(buf) - 1) {
			rc = -EBADMSG;
			break;
		}
	}
out:
	if (rc == -EBADMSG)
		snprintf(msg, msglen, "malformed reply from BIRD");
	close(fd);
	return rc;
}
