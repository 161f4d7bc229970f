/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * push_idle_gen: idle devices for the push service's benchmark
 * (tests/bench/bench_push_idle.sh). It opens up to --target device
 * connections to edgelbd's plain device channel over loopback, from many
 * source addresses (127.A.B.C, at most --per-addr connections each: the
 * port of each comes from the kernel at connect, IP_BIND_ADDRESS_NO_PORT),
 * with at most --inflight handshakes at a time. Each does the device
 * protocol's real handshake with the frames of push_frame.h: HELLO,
 * WELCOME, then BIND with a token made with the bind secret
 * (push_token_make), BOUND. From then on the device is idle: it sends a
 * PING every heartbeat (the interval WELCOME gave, spread over the
 * connections) and reads the PONGs. One thread, epoll, non-blocking.
 *
 * It stops by itself: the ramp ends when every connection is bound, when
 * --ramp-max seconds have passed, or when no more can be opened (the
 * first such error is reported as what limited it); it then holds for
 * --hold seconds (or until SIGTERM/SIGINT) and prints one JSON object on
 * stdout. While it runs it rewrites --status FILE every second with the
 * phase ("ramp", "holding") and the counts. Every socket is closed with a
 * reset (SO_LINGER 0): no TIME_WAIT is left behind.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "push_frame.h"
#include "push_gen_common.h"
#include "push_token.h"

#define TICK_MS	   100 /* PINGs go out in slices this often */
#define MAX_EVENTS 1024

enum gstate {
	G_FREE,
	G_CONNECTING,
	G_HELLO,  /* HELLO sent, waiting for WELCOME */
	G_BIND,	  /* BIND sent, waiting for BOUND */
	G_IDLE,	  /* registered and bound */
	G_CLOSED, /* closed by the server (or an error) */
};

/* One connection, by fd. A frame is read a header and then its body;
 * the first bytes of the body are kept (WELCOME, ERROR). */
struct gconn {
	uint8_t state;
	uint8_t hlen;
	uint8_t hdr[PUSH_HDR_LEN];
	uint8_t head[4];
	uint32_t blen, bgot;
	uint32_t id;   /* device number */
	int32_t islot; /* its place in idle[] (bound), else -1 */
};

struct gen {
	struct sockaddr_in dst;
	uint32_t src_base; /* host order */
	uint32_t per_addr, target, inflight_max;
	double ramp_max, hold, half_pause;
	const char *secret, *status, *prefix;
	int ep;
	struct gconn *c;
	size_t nfd;
	int32_t *idle; /* fds of bound connections, in the order bound */
	uint32_t nidle;
	uint32_t opened, inflight, held, peak, hold_min;
	uint64_t slot; /* connections given a source address so far */
	uint32_t heartbeat_s;
	uint64_t connect_err, handshake_err, closed, pings, pongs;
	uint64_t ping_fail, errors[16];
	int limit_errno;
	const char *limit_where;
	double t0, ramp_s;
	bool ramped;
};

static volatile sig_atomic_t quit;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void
device_name(const struct gen *g, uint32_t id, char *out, size_t len)
{
	snprintf(out, len, "%s%u", g->prefix, id);
}

static void
limit_hit(struct gen *g, int err, const char *where)
{
	if (g->limit_errno == 0) {
		g->limit_errno = err;
		g->limit_where = where;
	}
}

static void
gconn_close(struct gen *g, int fd, bool by_server)
{
	struct gconn *c = &g->c[fd];

	if (c->state == G_IDLE) {
		g->idle[c->islot] = -1;
		g->held--;
		if (g->ramped && g->held < g->hold_min)
			g->hold_min = g->held;
	} else if (c->state != G_CLOSED) {
		g->inflight--;
		g->handshake_err++;
	}
	if (by_server)
		g->closed++;
	close(fd); /* a reset: SO_LINGER 0 */
	memset(c, 0, sizeof(*c));
}

static int
send_all(int fd, const uint8_t *p, int len)
{
	ssize_t n = len > 0 ? send(fd, p, (size_t)len, MSG_NOSIGNAL) : -1;

	return n == (ssize_t)len ? 0 : -1;
}

/* Open the next connection. 0; -1 when none can be opened now. */
static int
open_one(struct gen *g)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN };
	uint32_t addr = g->src_base + (uint32_t)(g->slot / g->per_addr);
	const char *where;
	int fd;

	if (g->opened >=
	    g->target + (g->target / 20 > 256 ? g->target / 20 : 256)) {
		/* handshakes keep failing: no storm of new ones */
		limit_hit(g, ECONNABORTED, "handshakes failing");
		return -1;
	}
	if ((addr >> 24) != 127 || g->slot / g->per_addr > 0xffffff) {
		limit_hit(g, EADDRNOTAVAIL, "source addresses (127.0.0.0/8)");
		return -1;
	}
	src.sin_addr.s_addr = htonl(addr);
	fd = push_gen_connect(&src, &g->dst, true, &where);
	if (fd < 0 && strcmp(where, "connect") == 0) {
		g->connect_err++;
		if (fd == -EADDRNOTAVAIL) {
			/* this address's ports are used up: the next one */
			g->slot = (g->slot / g->per_addr + 1) * g->per_addr;
			return 0;
		}
	}
	if (fd < 0) {
		limit_hit(g, -fd, where);
		return -1;
	}
	if ((size_t)fd >= g->nfd) {
		close(fd);
		limit_hit(g, EMFILE, "socket");
		return -1;
	}
	ev.data.fd = fd;
	if (epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		limit_hit(g, errno, "epoll_ctl");
		close(fd);
		return -1;
	}
	g->c[fd] = (struct gconn){ .state = G_CONNECTING,
				   .id = g->opened,
				   .islot = -1 };
	g->opened++;
	g->slot++;
	g->inflight++;
	return 0;
}

static void
connected(struct gen *g, int fd)
{
	struct gconn *c = &g->c[fd];
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	uint8_t buf[256];
	char dev[PUSH_NAME_MAX + 1];
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
		g->connect_err++;
		gconn_close(g, fd, false);
		return;
	}
	epoll_ctl(g->ep, EPOLL_CTL_MOD, fd, &ev);
	device_name(g, c->id, dev, sizeof(dev));
	if (send_all(fd, buf,
		     push_enc_hello(buf, sizeof(buf), dev, "bench", "idle",
				    0)) < 0) {
		gconn_close(g, fd, false);
		return;
	}
	c->state = G_HELLO;
}

static void
bound(struct gen *g, int fd)
{
	struct gconn *c = &g->c[fd];

	c->state = G_IDLE;
	g->inflight--;
	g->held++;
	if (g->held > g->peak)
		g->peak = g->held;
	c->islot = (int32_t)g->nidle;
	g->idle[g->nidle++] = fd;
}

/* A whole frame (its header, the first bytes of its body) came in. */
static void
frame(struct gen *g, int fd)
{
	struct gconn *c = &g->c[fd];
	uint8_t type = c->hdr[1], buf[256];
	char dev[PUSH_NAME_MAX + 1], user[PUSH_NAME_MAX + 1];
	uint8_t tok[PUSH_TOKEN_BYTES];
	uint64_t expiry;

	if (type == PUSH_T_PONG && c->state == G_IDLE) {
		g->pongs++;
		return;
	}
	if (type == PUSH_T_WELCOME && c->state == G_HELLO) {
		g->heartbeat_s = ((uint32_t)c->head[0] << 24) |
				 ((uint32_t)c->head[1] << 16) |
				 ((uint32_t)c->head[2] << 8) | c->head[3];
		if (g->secret == NULL) {
			bound(g, fd);
			return;
		}
		device_name(g, c->id, dev, sizeof(dev));
		snprintf(user, sizeof(user), "user-%u", c->id);
		expiry = (uint64_t)time(NULL) + 86400;
		if (push_token_make(g->secret, dev, user, expiry, tok) < 0 ||
		    send_all(fd, buf,
			     push_enc_bind(buf, sizeof(buf), user, expiry,
					   tok)) < 0) {
			gconn_close(g, fd, false);
			return;
		}
		c->state = G_BIND;
		return;
	}
	if (type == PUSH_T_BOUND && c->state == G_BIND) {
		bound(g, fd);
		return;
	}
	if (type == PUSH_T_ERROR) {
		uint16_t code = (uint16_t)((c->head[0] << 8) | c->head[1]);

		g->errors[code < 16 ? code : 0]++;
	}
	/* anything else breaks the handshake or the idle device */
	gconn_close(g, fd, false);
}

static void
readable(struct gen *g, int fd)
{
	struct gconn *c = &g->c[fd];
	uint8_t buf[4096];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	size_t off = 0;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		gconn_close(g, fd, true);
		return;
	}
	while (off < (size_t)n && c->state != G_FREE) {
		if (c->hlen < PUSH_HDR_LEN) {
			c->hdr[c->hlen++] = buf[off++];
			if (c->hlen == PUSH_HDR_LEN) {
				c->blen = ((uint32_t)c->hdr[4] << 24) |
					  ((uint32_t)c->hdr[5] << 16) |
					  ((uint32_t)c->hdr[6] << 8) |
					  c->hdr[7];
				c->bgot = 0;
			}
		} else {
			size_t k = (size_t)n - off;

			if (k > c->blen - c->bgot)
				k = c->blen - c->bgot;
			for (size_t i = 0; i < k && c->bgot + i < 4; i++)
				c->head[c->bgot + i] = buf[off + i];
			c->bgot += (uint32_t)k;
			off += k;
		}
		if (c->hlen == PUSH_HDR_LEN && c->bgot == c->blen) {
			c->hlen = 0;
			frame(g, fd);
		}
	}
}

/* The PINGs of slice k of the bound connections. */
static void
ping_slice(struct gen *g, uint64_t k)
{
	uint32_t per = g->heartbeat_s * 1000 / TICK_MS;
	uint8_t ping[PUSH_HDR_LEN];
	int len = push_enc_empty(ping, sizeof(ping), PUSH_T_PING);

	if (per == 0)
		return;
	for (uint32_t i = (uint32_t)(k % per); i < g->nidle; i += per) {
		int fd = g->idle[i];

		if (fd < 0 || g->c[fd].state != G_IDLE)
			continue;
		if (send_all(fd, ping, len) < 0)
			g->ping_fail++;
		else
			g->pings++;
	}
}

static void
write_status(struct gen *g, const char *phase)
{
	char tmp[4096];
	FILE *f;

	if (g->status == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", g->status);
	f = fopen(tmp, "w");
	if (f == NULL)
		return;
	fprintf(f,
		"{\"phase\": \"%s\", \"held\": %u, \"peak\": %u, "
		"\"inflight\": %u, \"opened\": %u, \"closed\": %llu, "
		"\"t\": %.1f}\n",
		phase, g->held, g->peak, g->inflight, g->opened,
		(unsigned long long)g->closed, push_gen_now() - g->t0);
	fclose(f);
	rename(tmp, g->status);
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: push_idle_gen --port P [--dst ADDR] [--target N] "
		"[--src ADDR] [--per-addr N]\n"
		"  [--inflight N] [--secret S] [--prefix P] [--ramp-max S] "
		"[--hold S] [--status FILE] [--half-pause S]\n");
}

static int
parse(struct gen *g, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "dst", required_argument, NULL, 'd' },
		{ "target", required_argument, NULL, 'n' },
		{ "src", required_argument, NULL, 's' },
		{ "per-addr", required_argument, NULL, 'a' },
		{ "inflight", required_argument, NULL, 'i' },
		{ "secret", required_argument, NULL, 'k' },
		{ "prefix", required_argument, NULL, 'x' },
		{ "ramp-max", required_argument, NULL, 'r' },
		{ "hold", required_argument, NULL, 'h' },
		{ "status", required_argument, NULL, 'S' },
		{ "half-pause", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	struct in_addr a;
	const char *dst = "127.0.0.1", *src = "127.77.0.1";
	long port = 0;
	int o;

	g->target = 1000;
	g->per_addr = 50000;
	g->inflight_max = 256;
	g->ramp_max = 600;
	g->hold = 60;
	g->prefix = "idle-";
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'p':
			port = strtol(optarg, NULL, 10);
			break;
		case 'd':
			dst = optarg;
			break;
		case 'n':
			g->target = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 's':
			src = optarg;
			break;
		case 'a':
			g->per_addr = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'i':
			g->inflight_max = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'k':
			g->secret = optarg;
			break;
		case 'x':
			g->prefix = optarg;
			break;
		case 'r':
			g->ramp_max = strtod(optarg, NULL);
			break;
		case 'h':
			g->hold = strtod(optarg, NULL);
			break;
		case 'S':
			g->status = optarg;
			break;
		case 'H':
			g->half_pause = strtod(optarg, NULL);
			break;
		default:
			usage();
			return -1;
		}
	}
	if (port <= 0 || port > 65535 || g->target == 0 ||
	    g->target > 10000000 || g->per_addr == 0 || g->per_addr > 65535 ||
	    g->inflight_max == 0 || g->ramp_max <= 0 || g->ramp_max > 7200 ||
	    g->hold < 0 || g->hold > 7200 || g->half_pause < 0 ||
	    g->half_pause > 600 || strlen(g->prefix) > 40) {
		usage();
		return -1;
	}
	g->dst.sin_family = AF_INET;
	g->dst.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, dst, &g->dst.sin_addr) != 1 ||
	    inet_pton(AF_INET, src, &a) != 1) {
		usage();
		return -1;
	}
	g->src_base = ntohl(a.s_addr);
	/* every source address inside 127.0.0.0/8 */
	if ((g->src_base >> 24) != 127 ||
	    ((g->src_base + (g->target - 1) / g->per_addr) >> 24) != 127) {
		fprintf(stderr, "push_idle_gen: source addresses leave "
				"127.0.0.0/8\n");
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct gen g = { 0 };
	struct epoll_event evs[MAX_EVENTS];
	struct rlimit rl;
	struct rusage ru;
	double next_status = 0, hold_end = 0, half_end = 0;
	int half = 0; /* the halfway pause: 0 before, 1 in it, 2 after */
	uint64_t tick = 0, err_total = 0;
	double next_tick;

	if (parse(&g, argc, argv) < 0)
		return 2;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	g.nfd = rl.rlim_cur > (rlim_t)g.target + 64 ? (size_t)g.target + 64
						    : (size_t)rl.rlim_cur;
	g.c = calloc(g.nfd, sizeof(*g.c));
	g.idle = calloc(g.target, sizeof(*g.idle));
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	if (g.c == NULL || g.idle == NULL || g.ep < 0) {
		perror("push_idle_gen");
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	g.t0 = push_gen_now();
	next_tick = g.t0;
	while (!quit) {
		double t = push_gen_now();
		int n;

		/* halfway: no new connection for half_pause s, once the
		 * handshakes under way are over (phase "half") */
		bool at_half = g.half_pause > 0 && half < 2 &&
			       g.held >= g.target / 2 && g.held < g.target;
		if (at_half && half == 0 && g.inflight == 0) {
			half = 1;
			half_end = t + g.half_pause;
			next_status = 0;
		} else if (half == 1 && t >= half_end) {
			half = 2;
			at_half = false;
		}
		/* the ramp: keep inflight_max handshakes going */
		while (!g.ramped && !at_half && g.limit_errno == 0 &&
		       g.inflight < g.inflight_max &&
		       g.held + g.inflight < g.target &&
		       g.nidle + g.inflight < g.target && open_one(&g) == 0)
			;
		if (!g.ramped && ((g.inflight == 0 &&
				   (g.held >= g.target || g.nidle >= g.target ||
				    g.limit_errno != 0)) ||
				  t - g.t0 >= g.ramp_max)) {
			g.ramped = true;
			g.ramp_s = t - g.t0;
			g.hold_min = g.held;
			hold_end = t + g.hold;
			next_status = 0;
		}
		if (g.ramped && t >= hold_end)
			break;
		while (t >= next_tick) {
			ping_slice(&g, tick++);
			next_tick += TICK_MS / 1000.0;
		}
		if (t >= next_status) {
			write_status(&g, g.ramped    ? "holding"
					 : half == 1 ? "half"
						     : "ramp");
			next_status = t + 1;
		}
		n = epoll_wait(g.ep, evs, MAX_EVENTS, TICK_MS / 2);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			struct gconn *c = &g.c[fd];

			if (c->state == G_CONNECTING)
				connected(&g, fd);
			else if (c->state != G_FREE)
				readable(&g, fd);
		}
	}
	for (size_t i = 0; i < sizeof(g.errors) / sizeof(g.errors[0]); i++)
		err_total += g.errors[i];
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"target\": %u, \"opened\": %u, \"held\": %u, \"peak\": %u, "
	       "\"hold_min\": %u, \"ramp_s\": %.1f, \"half_pause_s\": %.1f, "
	       "\"heartbeat_s\": %u, "
	       "\"connect_errors\": %llu, \"handshake_errors\": %llu, "
	       "\"closed_by_server\": %llu, \"pings\": %llu, \"pongs\": %llu, "
	       "\"ping_fail\": %llu, \"error_busy\": %llu, "
	       "\"error_other\": %llu, "
	       "\"limit\": \"%s%s%s\", \"gen_cpu_s\": %.2f}\n",
	       g.target, g.opened, g.held, g.peak, g.ramped ? g.hold_min : 0,
	       g.ramped ? g.ramp_s : push_gen_now() - g.t0,
	       half == 2   ? g.half_pause
	       : half == 1 ? g.ramp_s - (half_end - g.half_pause - g.t0)
			   : 0.0,
	       g.heartbeat_s, (unsigned long long)g.connect_err,
	       (unsigned long long)g.handshake_err,
	       (unsigned long long)g.closed, (unsigned long long)g.pings,
	       (unsigned long long)g.pongs, (unsigned long long)g.ping_fail,
	       (unsigned long long)g.errors[PUSH_E_BUSY],
	       (unsigned long long)(err_total - g.errors[PUSH_E_BUSY]),
	       g.limit_where != NULL ? g.limit_where : "",
	       g.limit_errno != 0 ? ": " : "",
	       g.limit_errno != 0 ? strerror(g.limit_errno) : "",
	       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) /
			       1e6);
	fflush(stdout);
	write_status(&g, "done");
	free(g.c);
	free(g.idle);
	close(g.ep);
	return g.held > 0 ? 0 : 1;
}
