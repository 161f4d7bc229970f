/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * push_deliver_gen: the device side of tests/bench/bench_push_deliver.sh.
 * One process, one thread, epoll: it opens --devices connections to the
 * push service's device channel from --sources loopback addresses
 * (127.3.X.Y, so that no address runs out of ephemeral ports), each
 * speaking the real device protocol with push_frame.h's codec: HELLO,
 * WELCOME, then PING every half heartbeat (spread over the connections),
 * and an ACK for every MESSAGE, at once, like tools/push-client.
 *
 * Once every device is registered it posts one message to all devices
 * through the business API (POST /push/v1/messages {"all": true}, on the
 * same loop, so that arrival times are read as they come) and measures,
 * from the moment the request is written: the 202, the first and the
 * last MESSAGE received (and the percentiles over the devices), the last
 * ACK written, and the moment the server's metrics count every ACK
 * (edgelbd_push_messages_acked_total, polled every 20 ms). With
 * --server-pid it reads the server's CPU time (utime + stime) over that
 * span. With --ping-window S it then keeps the connections S seconds
 * longer, pinging only, and reports the server's CPU over that window
 * and the PINGs sent in it; every PING sent in the run must have been
 * answered by a PONG.
 *
 * --register-only: connect and register the devices, print how many,
 * close them and exit (the store then knows them, offline).
 *
 * Several nodes (push cluster mode, one generator per node, each under
 * the open-file limit of one process): --first F names this process's
 * devices bd-F.., --sync DIR coordinates them. The leader (--peers K)
 * waits for K files DIR/ready.* before it posts, sums the ACK counters
 * of every --metrics (repeatable) up to --total devices and the CPU of
 * every --server-pid, writes DIR/post ("T0 ID": the monotonic time of
 * the POST and the message's id), DIR/wstart when the ping window
 * starts and DIR/done when it is over. A --follow process posts
 * nothing: it registers, writes DIR/ready.F, takes the message, counts
 * the PINGs it sends between DIR/wstart and DIR/done, and reports its
 * times after DIR/post's T0. --lat-out FILE: each device's arrival, ms
 * after the POST, one a line (the script takes percentiles over all).
 *
 * Prints one JSON object on stdout; progress on stderr. Exit 0 when every
 * device got the message once and the server counted every ACK; 1 on
 * any failure (a connection lost, an ERROR frame, a partial write, a
 * timeout), with the JSON still printed when the run got that far.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "push_frame.h"
#include "push_gen_common.h"

#define CONN_BUF     256  /* bytes of a connection's partial frame */
#define INFLIGHT_MAX 1000 /* connections connecting or before WELCOME */
#define TICK_MS	     100
#define API_TAG	     UINT32_MAX /* epoll data of the API socket */
#define NODES_MAX    64

enum cstate { C_CONNECTING, C_HELLO, C_READY, C_DEAD };

struct conn {
	int fd;
	uint8_t state;
	uint16_t have;
	uint32_t msgs;	 /* MESSAGE frames received */
	uint32_t got_ms; /* first MESSAGE, ms after tbase; 0: none */
	uint8_t id[PUSH_ID_BYTES];
	uint8_t buf[CONN_BUF];
};

struct gen {
	struct sockaddr_in srv, api, met[NODES_MAX];
	int pid[NODES_MAX];
	uint32_t nmet, npid;
	const char *key;
	uint32_t n, nsrc, first, started, registered, inflight;
	uint32_t heartbeat_s; /* WELCOME's; 0: no more PINGs */
	uint32_t welcome_heartbeat_s;
	int ep;
	struct conn *c;
	uint64_t pings, pongs, errors, error_frames, dup_msgs, wrong_id;
	uint64_t delivered, acks;
	char first_error[160];
	/* the POST */
	int api_fd;
	char api_resp[2048];
	size_t api_len;
	bool posted, answered;
	double tbase, t0, t202, t_first, t_last, t_last_ack;
	char msg_id[PUSH_ID_TEXT + 1];
	uint32_t api_devices;
};

static void
fail(struct gen *g, const char *what)
{
	g->errors++;
	if (g->first_error[0] == '\0')
		snprintf(g->first_error, sizeof(g->first_error), "%s", what);
}

static int
parse_addr(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -EINVAL;
}

/* The i-th source address: 127.3.X.Y, Y in 1..250. */
static void
source_of(uint32_t i, struct sockaddr_in *a)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl((127u << 24) | (3u << 16) |
				   ((i / 250) << 8) | (i % 250 + 1));
}

static void
conn_dead(struct gen *g, struct conn *c, const char *why)
{
	if (c->state == C_DEAD)
		return;
	if (c->state != C_READY)
		g->inflight--;
	fail(g, why);
	epoll_ctl(g->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->state = C_DEAD;
}

/* A whole frame, or the connection is dead: the frames are tiny and the
 * socket's buffer empty, so a short write means something is wrong. */
static void
send_frame(struct gen *g, struct conn *c, const uint8_t *p, int len)
{
	if (len < 0 || write(c->fd, p, (size_t)len) != len)
		conn_dead(g, c, "a frame could not be written whole");
}

static void
conn_start(struct gen *g, uint32_t i)
{
	struct conn *c = &g->c[i];
	struct sockaddr_in src;
	struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = i };
	const char *where;

	source_of((i + g->first) % g->nsrc, &src);
	c->fd = push_gen_connect(&src, &g->srv, false, &where);
	if (c->fd < 0) {
		c->state = C_DEAD;
		fail(g, strcmp(where, "socket") == 0
				? "socket() failed (open-file limit?)"
				: "bind/connect failed");
		return;
	}
	g->inflight++;
	c->state = C_CONNECTING;
	if (epoll_ctl(g->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		conn_dead(g, c, "epoll_ctl failed");
}

static void
on_connected(struct gen *g, uint32_t i)
{
	struct conn *c = &g->c[i];
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
	uint8_t out[PUSH_HDR_LEN + 128];
	char dev[32];
	int err = 0;
	socklen_t el = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
		conn_dead(g, c, "connect failed");
		return;
	}
	snprintf(dev, sizeof(dev), "bd-%07u", i + g->first);
	c->state = C_HELLO;
	epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev);
	send_frame(g, c, out,
		   push_enc_hello(out, sizeof(out), dev, "bench", "bench", 0));
}

static void
on_frame(struct gen *g, struct conn *c, const struct push_frame *f)
{
	uint8_t out[PUSH_HDR_LEN + 2 + PUSH_ID_BYTES];
	double t;

	switch (f->h.type) {
	case PUSH_T_WELCOME:
		if (c->state != C_HELLO) {
			conn_dead(g, c, "WELCOME twice");
			return;
		}
		c->state = C_READY;
		g->inflight--;
		g->registered++;
		if (g->registered == 1)
			g->heartbeat_s = g->welcome_heartbeat_s =
				f->u.welcome.heartbeat_s;
		break;
	case PUSH_T_MESSAGE:
		t = push_gen_now();
		c->msgs++;
		if (c->msgs == 1) {
			memcpy(c->id, f->u.msg.id, PUSH_ID_BYTES);
			g->delivered++;
			c->got_ms = (uint32_t)((t - g->tbase) * 1000.0) + 1;
			if (g->t_first == 0)
				g->t_first = t;
			g->t_last = t;
		} else {
			g->dup_msgs++;
		}
		send_frame(g, c, out,
			   push_enc_ack(out, sizeof(out), f->u.msg.id, 1));
		g->acks++;
		g->t_last_ack = push_gen_now();
		break;
	case PUSH_T_PONG:
		g->pongs++;
		break;
	case PUSH_T_ERROR:
		g->error_frames++;
		conn_dead(g, c, "the server sent an ERROR frame");
		break;
	default:
		break;
	}
}

static void
on_readable(struct gen *g, uint32_t i)
{
	struct conn *c = &g->c[i];

	for (;;) {
		ssize_t r = read(c->fd, c->buf + c->have, CONN_BUF - c->have);
		size_t off = 0;

		if (r == 0) {
			conn_dead(g, c, "the server closed a connection");
			return;
		}
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_dead(g, c, "read failed");
			return;
		}
		c->have += (uint16_t)r;
		while (c->state != C_DEAD) {
			struct push_hdr h;
			struct push_frame f;
			int rc = push_hdr_parse(c->buf + off, c->have - off,
						CONN_BUF - PUSH_HDR_LEN, &h);

			if (rc == -EAGAIN)
				break;
			if (rc < 0) {
				conn_dead(g, c, "bad or oversized frame");
				return;
			}
			if (c->have - off < PUSH_HDR_LEN + h.len)
				break;
			if (push_frame_decode(&h, c->buf + off + PUSH_HDR_LEN,
					      &f) < 0) {
				conn_dead(g, c, "undecodable frame");
				return;
			}
			on_frame(g, c, &f);
			off += PUSH_HDR_LEN + h.len;
		}
		if (c->state == C_DEAD)
			return;
		memmove(c->buf, c->buf + off, c->have - off);
		c->have -= (uint16_t)off;
	}
}

/* Every tick: PING the connections whose turn it is, so that each pings
 * every half heartbeat. */
static void
ping_tick(struct gen *g, uint64_t tick)
{
	uint8_t out[PUSH_HDR_LEN];
	uint64_t period;
	int len = push_enc_empty(out, sizeof(out), PUSH_T_PING);

	if (g->heartbeat_s == 0)
		return;
	period = (uint64_t)g->heartbeat_s * 1000 / 2 / TICK_MS;
	if (period == 0)
		period = 1;
	for (uint32_t i = (uint32_t)(tick % period); i < g->started;
	     i += (uint32_t)period) {
		if (g->c[i].state != C_READY)
			continue;
		send_frame(g, &g->c[i], out, len);
		g->pings++;
	}
}

/* ---- HTTP: the POST (on the loop) and the metrics (blocking) ---- */

static int
api_post(struct gen *g)
{
	static const char body[] = "{\"all\":true,\"ttl\":600,\"payload\":{"
				   "\"bench\":\"deliver\"}}";
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = API_TAG };
	char req[512];
	int n;

	g->api_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g->api_fd < 0 ||
	    connect(g->api_fd, (struct sockaddr *)&g->api, sizeof(g->api)) < 0)
		return -errno;
	n = snprintf(req, sizeof(req),
		     "POST /push/v1/messages HTTP/1.1\r\nHost: bench\r\n"
		     "X-Api-Key: %s\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		     g->key, sizeof(body) - 1, body);
	g->t0 = push_gen_now();
	if (write(g->api_fd, req, (size_t)n) != n)
		return -EIO;
	fcntl(g->api_fd, F_SETFL, O_NONBLOCK);
	g->posted = true;
	return epoll_ctl(g->ep, EPOLL_CTL_ADD, g->api_fd, &ev) < 0 ? -errno : 0;
}

static void
api_readable(struct gen *g)
{
	for (;;) {
		ssize_t r = read(g->api_fd, g->api_resp + g->api_len,
				 sizeof(g->api_resp) - 1 - g->api_len);
		const char *id, *dv;

		if (r > 0) {
			g->api_len += (size_t)r;
			g->api_resp[g->api_len] = '\0';
			if (g->t202 == 0 && strstr(g->api_resp, "\r\n\r\n"))
				g->t202 = push_gen_now();
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		/* closed (Connection: close): the whole answer is here */
		epoll_ctl(g->ep, EPOLL_CTL_DEL, g->api_fd, NULL);
		close(g->api_fd);
		g->api_fd = -1;
		g->answered = true;
		if (strncmp(g->api_resp, "HTTP/1.1 202", 12) != 0) {
			fail(g, "the POST was not answered 202");
			fprintf(stderr, "push_deliver_gen: POST: %.200s\n",
				g->api_resp);
			return;
		}
		id = strstr(g->api_resp, "\"id\":\"");
		dv = strstr(g->api_resp, "\"devices\":");
		if (id != NULL && strlen(id + 6) > PUSH_ID_TEXT) {
			memcpy(g->msg_id, id + 6, PUSH_ID_TEXT);
			g->msg_id[PUSH_ID_TEXT] = '\0';
		}
		if (dv != NULL)
			g->api_devices = (uint32_t)strtoul(dv + 10, NULL, 10);
		return;
	}
}

/* The value of a metric on the metrics page at met; -1 on failure. */
static double
metric_at(const struct sockaddr_in *met, const char *name)
{
	static char resp[1 << 20];
	char req[128];
	size_t len = 0, nl = strlen(name);
	struct timeval tv = { 2, 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int n;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = snprintf(req, sizeof(req),
		     "GET /metrics HTTP/1.1\r\nHost: bench\r\n"
		     "Connection: close\r\n\r\n");
	if (connect(fd, (const struct sockaddr *)met, sizeof(*met)) < 0 ||
	    write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t r = read(fd, resp + len, sizeof(resp) - 1 - len);

		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	resp[len] = '\0';
	for (char *p = resp; (p = strstr(p, name)) != NULL; p += nl) {
		if ((p == resp || p[-1] == '\n') && p[nl] == ' ')
			return strtod(p + nl + 1, NULL);
	}
	return -1;
}

/* The sum of a metric over every node; -1 when one fails. */
static double
metric(const struct gen *g, const char *name)
{
	double sum = 0;

	for (uint32_t i = 0; i < g->nmet; i++) {
		double v = metric_at(&g->met[i], name);

		if (v < 0)
			return -1;
		sum += v;
	}
	return sum;
}

/* utime + stime of pid, seconds; -1 without one. */
static double
cpu_of(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* after the comm: state (3) ... utime (14), stime (15) */
	if (p == NULL || sscanf(p + 2,
				"%*c %*d %*d %*d %*d %*d %*u %*u %*u "
				"%*u %*u %lu %lu",
				&ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The sum over every --server-pid; -1 without one or when one fails. */
static double
cpu_sum(const struct gen *g)
{
	double sum = 0;

	for (uint32_t i = 0; i < g->npid; i++) {
		double v = cpu_of(g->pid[i]);

		if (v < 0)
			return -1;
		sum += v;
	}
	return g->npid > 0 ? sum : -1;
}

static long
rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* One pass of the loop: events, then the ping tick when it is due. */
static void
loop_once(struct gen *g, struct epoll_event *evs, int nevs, double *next_tick,
	  uint64_t *tick)
{
	int k = epoll_wait(g->ep, evs, nevs, 20);

	for (int j = 0; j < k; j++) {
		uint32_t i = evs[j].data.u32;

		if (i == API_TAG) {
			api_readable(g);
			continue;
		}
		if (g->c[i].state == C_DEAD)
			continue;
		if (g->c[i].state == C_CONNECTING) {
			if (evs[j].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				on_connected(g, i);
			continue;
		}
		on_readable(g, i);
	}
	if (push_gen_now() >= *next_tick) {
		ping_tick(g, (*tick)++);
		*next_tick += TICK_MS / 1000.0;
	}
}

/* ---- several generators (--sync DIR) ---- */

static bool
sync_has(const char *dir, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

/* Write DIR/NAME whole (a temporary file renamed): 0 or -errno. */
static int
sync_put(const char *dir, const char *name, const char *text)
{
	char path[512], tmp[520];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return -errno;
	fputs(text, f);
	rc = fclose(f) == 0 ? 0 : -EIO;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	return rc;
}

/* How many files DIR/ready.* there are: the peers that registered every
 * device. */
static uint32_t
sync_ready(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint32_t n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "ready.", 6) == 0 &&
		    strstr(e->d_name, ".tmp") == NULL)
			n++;
	closedir(d);
	return n;
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: push_deliver_gen --server IP:PORT --api IP:PORT "
		"--metrics IP:PORT --key KEY --devices N\n"
		"  [--sources K] [--server-pid PID] [--timeout S] "
		"[--ping-window S] [--register-only]\n"
		"  [--first F] [--sync DIR [--peers K | --follow]] "
		"[--total N] [--lat-out FILE]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "server", required_argument, NULL, 's' },
		{ "api", required_argument, NULL, 'a' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "key", required_argument, NULL, 'k' },
		{ "devices", required_argument, NULL, 'n' },
		{ "sources", required_argument, NULL, 'S' },
		{ "server-pid", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "ping-window", required_argument, NULL, 'w' },
		{ "register-only", no_argument, NULL, 'r' },
		{ "first", required_argument, NULL, 'f' },
		{ "sync", required_argument, NULL, 'y' },
		{ "peers", required_argument, NULL, 'P' },
		{ "follow", no_argument, NULL, 'F' },
		{ "total", required_argument, NULL, 'T' },
		{ "lat-out", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct gen g = { .nsrc = 32, .api_fd = -1 };
	struct epoll_event evs[1024];
	double timeout = 120, window = 0, deadline, next_tick, t_reg0, t_reg;
	double cpu0 = -1, cpu1 = -1, t_acked = 0, acked0 = 0, acked = -1;
	double wcpu0 = -1, wcpu1 = -1, wt0 = 0, wt1 = 0;
	uint64_t tick = 0, wpings0 = 0, wpings1 = 0;
	uint32_t *lat, nlat = 0, peers = 0, total = 0;
	const char *sync_dir = NULL, *lat_out = NULL;
	struct rlimit rl;
	bool register_only = false, follow = false, wstarted = false;
	long rss = 0;
	char text[128];
	int o, ok;

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 's':
			if (parse_addr(optarg, &g.srv) < 0)
				usage();
			break;
		case 'a':
			if (parse_addr(optarg, &g.api) < 0)
				usage();
			break;
		case 'm':
			if (g.nmet == NODES_MAX ||
			    parse_addr(optarg, &g.met[g.nmet++]) < 0)
				usage();
			break;
		case 'k':
			g.key = optarg;
			break;
		case 'n':
			g.n = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'S':
			g.nsrc = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			if (g.npid == NODES_MAX)
				usage();
			g.pid[g.npid++] = atoi(optarg);
			break;
		case 't':
			timeout = atof(optarg);
			break;
		case 'w':
			window = atof(optarg);
			break;
		case 'r':
			register_only = true;
			break;
		case 'f':
			g.first = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'y':
			sync_dir = optarg;
			break;
		case 'P':
			peers = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'F':
			follow = true;
			break;
		case 'T':
			total = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'l':
			lat_out = optarg;
			break;
		default:
			usage();
		}
	}
	if (total == 0)
		total = g.n;
	if (g.n == 0 || g.n > 2000000 || g.first > 8000000 || g.nsrc == 0 ||
	    g.nsrc > 250 * 250 || g.srv.sin_port == 0 || timeout <= 0 ||
	    window < 0 || total < g.n || peers > 1024 ||
	    ((follow || peers > 0) && sync_dir == NULL) ||
	    (!follow && (g.key == NULL || g.api.sin_port == 0 || g.nmet == 0)))
		usage();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < g.n + 64) {
		fprintf(stderr,
			"push_deliver_gen: open-file limit %lu below %u "
			"connections (ulimit -n)\n",
			(unsigned long)rl.rlim_cur, g.n + 64);
		return 1;
	}
	g.c = calloc(g.n, sizeof(*g.c));
	lat = calloc(g.n, sizeof(*lat));
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	if (g.c == NULL || lat == NULL || g.ep < 0) {
		perror("push_deliver_gen");
		return 1;
	}

	/* 1. connect and register every device, at most INFLIGHT_MAX at a
	 * time (the server's accept backlog) */
	t_reg0 = g.tbase = push_gen_now();
	deadline = t_reg0 + timeout;
	next_tick = t_reg0 + TICK_MS / 1000.0;
	while (g.registered + (uint32_t)g.errors < g.n &&
	       push_gen_now() < deadline) {
		while (g.started < g.n && g.inflight < INFLIGHT_MAX)
			conn_start(&g, g.started++);
		loop_once(&g, evs, 1024, &next_tick, &tick);
	}
	t_reg = push_gen_now() - t_reg0;
	fprintf(stderr,
		"push_deliver_gen: %u of %u registered in %.2f s (%lu "
		"errors)\n",
		g.registered, g.n, t_reg, (unsigned long)g.errors);
	if (g.registered < g.n)
		goto out;
	if (register_only) {
		/* the devices are known to the store now; they go offline */
		printf("{\"registered\": %u, \"register_s\": %.3f}\n",
		       g.registered, t_reg);
		return g.errors == 0 ? 0 : 1;
	}
	if (sync_dir != NULL && follow) {
		snprintf(text, sizeof(text), "ready.%u", g.first);
		if (sync_put(sync_dir, text, "1\n") < 0) {
			fail(&g, "cannot write the ready file");
			goto out;
		}
	}
	/* the leader: every peer registered (pinging meanwhile) */
	deadline = push_gen_now() + timeout;
	while (peers > 0 && sync_ready(sync_dir) < peers && g.errors == 0 &&
	       push_gen_now() < deadline)
		loop_once(&g, evs, 1024, &next_tick, &tick);
	if (peers > 0 && sync_ready(sync_dir) < peers) {
		fail(&g, "not every peer registered its devices in time");
		goto out;
	}

	/* 2. one message to every device; wait for each MESSAGE */
	if (!follow) {
		acked0 = metric(&g, "edgelbd_push_messages_acked_total");
		cpu0 = cpu_sum(&g);
		if (acked0 < 0 || api_post(&g) < 0) {
			fail(&g, "metrics or the API unreachable");
			goto out;
		}
	}
	/* a follower waits for the leader's peers and POST too */
	deadline = push_gen_now() + (follow ? 3 * timeout : timeout);
	while ((g.delivered < g.n || (!follow && !g.answered)) &&
	       g.errors == 0 && push_gen_now() < deadline)
		loop_once(&g, evs, 1024, &next_tick, &tick);
	if (g.delivered < g.n)
		fail(&g, "not every device got the message in time");
	if (!follow && g.answered && sync_dir != NULL) {
		snprintf(text, sizeof(text), "%.6f %s\n", g.t0, g.msg_id);
		if (sync_put(sync_dir, "post", text) < 0)
			fail(&g, "cannot write the post file");
	}
	/* 3. the servers count every ACK (of every generator's devices) */
	while (!follow && g.errors == 0 && push_gen_now() < deadline) {
		acked = metric(&g, "edgelbd_push_messages_acked_total");
		if (acked >= acked0 + total) {
			t_acked = push_gen_now();
			cpu1 = cpu_sum(&g);
			break;
		}
		loop_once(&g, evs, 1024, &next_tick, &tick);
	}
	if (!follow && t_acked == 0)
		fail(&g, "the server did not count every ACK in time");
	if (!follow)
		fprintf(stderr,
			"push_deliver_gen: delivered %lu, acks counted %.0f, "
			"in %.3f s\n",
			(unsigned long)g.delivered, acked - acked0,
			t_acked > 0 ? t_acked - g.t0 : -1.0);

	/* 4. heartbeats only, the servers' CPU over the window; a follower
	 * pings from DIR/wstart to DIR/done */
	if (follow) {
		deadline = push_gen_now() + 2 * timeout + window;
		while (g.errors == 0 && push_gen_now() < deadline &&
		       !sync_has(sync_dir, "done")) {
			if (!wstarted && sync_has(sync_dir, "wstart")) {
				wstarted = true;
				wt0 = push_gen_now();
				wpings0 = g.pings;
			}
			loop_once(&g, evs, 1024, &next_tick, &tick);
		}
		if (!sync_has(sync_dir, "done"))
			fail(&g, "the leader did not finish in time");
		wt1 = push_gen_now();
		wpings1 = wstarted ? g.pings : wpings0;
		g.heartbeat_s = 0;
		while (g.pongs < g.pings && g.errors == 0 &&
		       push_gen_now() < wt1 + 2)
			loop_once(&g, evs, 1024, &next_tick, &tick);
	} else if (window > 0 && g.errors == 0) {
		if (sync_dir != NULL && sync_put(sync_dir, "wstart", "1\n") < 0)
			fail(&g, "cannot write the wstart file");
		wt0 = push_gen_now();
		wcpu0 = cpu_sum(&g);
		wpings0 = g.pings;
		while (push_gen_now() < wt0 + window && g.errors == 0)
			loop_once(&g, evs, 1024, &next_tick, &tick);
		wt1 = push_gen_now();
		wcpu1 = cpu_sum(&g);
		wpings1 = g.pings;
		/* no more PINGs: the PONGs of those sent (at most 2 s) */
		g.heartbeat_s = 0;
		while (g.pongs < g.pings && g.errors == 0 &&
		       push_gen_now() < wt1 + 2)
			loop_once(&g, evs, 1024, &next_tick, &tick);
	}
	if (!follow && sync_dir != NULL &&
	    sync_put(sync_dir, "done", "1\n") < 0)
		fail(&g, "cannot write the done file");
out:
	if (follow && sync_dir != NULL) {
		/* the POST's time and the message's id, from the leader */
		char path[512], id[64] = "";
		FILE *f;

		snprintf(path, sizeof(path), "%s/post", sync_dir);
		f = fopen(path, "r");
		if (f == NULL || fscanf(f, "%lf %63s", &g.t0, id) != 2) {
			fail(&g, "no post file from the leader");
			g.t0 = 0;
		} else {
			snprintf(g.msg_id, sizeof(g.msg_id), "%s", id);
		}
		if (f != NULL)
			fclose(f);
	}
	for (uint32_t i = 0; i < g.n; i++) {
		if (g.c[i].got_ms > 0 && g.t0 > 0) {
			double ms =
				(g.c[i].got_ms - 1) - (g.t0 - g.tbase) * 1000.0;

			lat[nlat++] = ms > 0 ? (uint32_t)ms : 0;
		}
		if (g.msg_id[0] != '\0' && g.c[i].msgs > 0) {
			char t[PUSH_ID_TEXT + 1];

			push_id_format(g.c[i].id, t);
			if (strcmp(t, g.msg_id) != 0)
				g.wrong_id++;
		}
	}
	qsort(lat, nlat, sizeof(*lat), cmp_u32);
	if (lat_out != NULL) {
		FILE *f = fopen(lat_out, "w");

		for (uint32_t i = 0; f != NULL && i < nlat; i++)
			fprintf(f, "%u\n", lat[i]);
		if (f == NULL || fclose(f) != 0)
			fail(&g, "cannot write --lat-out");
	}
	for (uint32_t i = 0; i < g.npid; i++)
		rss += rss_kb(g.pid[i]);
	/* every PING answered (the window waits for the last PONGs) */
	ok = g.errors == 0 && g.delivered == g.n && g.dup_msgs == 0 &&
	     g.wrong_id == 0 && g.t0 > 0 && (follow || t_acked > 0) &&
	     g.msg_id[0] != '\0' &&
	     ((window == 0 && !follow) || g.pongs == g.pings);
	printf("{\"devices\": %u, \"sources\": %u, \"registered\": %u, "
	       "\"register_s\": %.3f, \"heartbeat_s\": %u, "
	       "\"message_id\": \"%s\", \"api_devices\": %u, "
	       "\"accepted_ms\": %.1f, \"delivered\": %lu, "
	       "\"duplicates\": %lu, \"wrong_id\": %lu, "
	       "\"first_ms\": %.1f, \"p50_ms\": %u, \"p99_ms\": %u, "
	       "\"last_ms\": %.1f, \"last_ack_ms\": %.1f, "
	       "\"acked_ms\": %.1f, \"server_acked\": %.0f, "
	       "\"server_cpu_s\": %.2f, \"server_rss_kb\": %ld, "
	       "\"ping_window_s\": %.2f, \"window_pings\": %lu, "
	       "\"pings\": %lu, \"pongs\": %lu, "
	       "\"ping_cpu_s\": %.3f, \"errors\": %lu, "
	       "\"error_frames\": %lu, \"first_error\": \"%s\", "
	       "\"ok\": %s}\n",
	       g.n, g.nsrc, g.registered, t_reg, g.welcome_heartbeat_s,
	       g.msg_id, g.api_devices,
	       g.t202 > 0 ? (g.t202 - g.t0) * 1000 : -1.0,
	       (unsigned long)g.delivered, (unsigned long)g.dup_msgs,
	       (unsigned long)g.wrong_id,
	       g.t_first > 0 && g.t0 > 0 ? (g.t_first - g.t0) * 1000 : -1.0,
	       nlat ? lat[nlat / 2] : 0,
	       nlat ? lat[(size_t)((nlat - 1) * 0.99)] : 0,
	       g.t_last > 0 && g.t0 > 0 ? (g.t_last - g.t0) * 1000 : -1.0,
	       g.t_last_ack > 0 && g.t0 > 0 ? (g.t_last_ack - g.t0) * 1000
					    : -1.0,
	       t_acked > 0 ? (t_acked - g.t0) * 1000 : -1.0,
	       acked >= 0 ? acked - acked0 : -1.0,
	       cpu1 >= 0 && cpu0 >= 0 ? cpu1 - cpu0 : -1.0,
	       g.npid > 0 ? rss : -1L, wt1 - wt0,
	       (unsigned long)(wpings1 - wpings0), (unsigned long)g.pings,
	       (unsigned long)g.pongs,
	       wcpu1 >= 0 && wcpu0 >= 0 ? wcpu1 - wcpu0 : -1.0,
	       (unsigned long)g.errors, (unsigned long)g.error_frames,
	       g.first_error, ok ? "true" : "false");
	for (uint32_t i = 0; i < g.started; i++)
		if (g.c[i].state != C_DEAD)
			close(g.c[i].fd);
	free(g.c);
	free(lat);
	return ok ? 0 : 1;
}
