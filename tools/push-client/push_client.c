/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * push-client: the reference device of the push service's protocol
 * (docs/push.md). It connects (TCP or TLS), registers with HELLO, binds
 * to a user with a token the business server made, prints each message
 * as one line "ID PAYLOAD" on stdout, acknowledges it, drops a message
 * whose id it has seen (counted), pings at the server's heartbeat, and
 * on a lost connection reconnects with its resume point (the highest
 * seq it received and acknowledged).
 *
 * Exit: 0 after --count messages (or on SIGTERM/SIGINT), 2 at --timeout,
 * 3 when the server refused the bind, 1 on a usage or fatal error. A
 * summary goes to stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "push_frame.h"
#include "push_token.h"

#define BUF_MAX (PUSH_HDR_LEN + PUSH_PAYLOAD_LIMIT + PUSH_FRAME_SLACK)

struct opts {
	const char *host, *port;
	const char *device, *platform, *app;
	const char *user, *token;
	uint64_t expiry;
	uint64_t count;	  /* 0: no limit */
	uint64_t timeout; /* ms; 0: none */
	bool no_ack, tls, once;
	const char *ca;
};

/* Ids seen: open addressing on the id's first 8 bytes. */
struct seen {
	uint8_t (*ids)[PUSH_ID_BYTES];
	uint8_t *used;
	size_t size, n;
};

struct client {
	struct opts o;
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	uint8_t *in;
	size_t inlen;
	uint8_t out[PUSH_HDR_LEN + PUSH_ACK_MAX * PUSH_ID_BYTES + 512];
	uint64_t resume;
	uint64_t msgs, dups, reconnects, acks;
	uint32_t heartbeat_ms;
	uint64_t last_ping;
	uint64_t connected_ms;
	struct seen seen;
};

static volatile sig_atomic_t quit;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- seen set ------------------------------------------------------------ */

static size_t
slot_of(const uint8_t *id, size_t size)
{
	uint64_t h = 0;

	memcpy(&h, id, sizeof(h));
	h *= 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 20) & (size - 1);
}

static bool seen_add(struct seen *s, const uint8_t *id);

static int
seen_grow(struct seen *s)
{
	struct seen n = { 0 };

	n.size = s->size != 0 ? s->size * 2 : 4096;
	n.ids = calloc(n.size, PUSH_ID_BYTES);
	n.used = calloc(n.size, 1);
	if (n.ids == NULL || n.used == NULL) {
		free(n.ids);
		free(n.used);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->size; i++)
		if (s->used[i])
			seen_add(&n, s->ids[i]);
	free(s->ids);
	free(s->used);
	*s = n;
	return 0;
}

/* True when id is new (it is added). */
static bool
seen_add(struct seen *s, const uint8_t *id)
{
	size_t i;

	if ((s->n + 1) * 2 > s->size && seen_grow(s) < 0) {
		fprintf(stderr, "push-client: out of memory\n");
		exit(1);
	}
	for (i = slot_of(id, s->size); s->used[i]; i = (i + 1) & (s->size - 1))
		if (memcmp(s->ids[i], id, PUSH_ID_BYTES) == 0)
			return false;
	s->used[i] = 1;
	memcpy(s->ids[i], id, PUSH_ID_BYTES);
	s->n++;
	return true;
}

/* ---- connection ------------------------------------------------------------ */

static void
disconnect(struct client *c)
{
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->inlen = 0;
}

static int
send_all(struct client *c, const uint8_t *p, int len)
{
	while (len > 0) {
		ssize_t n = c->ssl != NULL
				    ? SSL_write(c->ssl, p, len)
				    : send(c->fd, p, (size_t)len, MSG_NOSIGNAL);

		if (n <= 0) {
			if (c->ssl == NULL && errno == EINTR)
				continue;
			return -EIO;
		}
		p += n;
		len -= (int)n;
	}
	return 0;
}

static int
do_connect(struct client *c)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	int one = 1, len;

	if (getaddrinfo(c->o.host, c->o.port, &hints, &ai) != 0)
		return -EINVAL;
	for (a = ai; a != NULL; a = a->ai_next) {
		c->fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			continue;
		if (connect(c->fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(ai);
	if (c->fd < 0)
		return -ECONNREFUSED;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->o.tls) {
		c->ssl = SSL_new(c->ctx);
		if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
		    SSL_set1_host(c->ssl, c->o.host) != 1 ||
		    SSL_connect(c->ssl) != 1) {
			fprintf(stderr, "push-client: TLS: %s\n",
				ERR_reason_error_string(ERR_get_error()));
			disconnect(c);
			return -EPROTO;
		}
	}
	len = push_enc_hello(c->out, sizeof(c->out), c->o.device, c->o.platform,
			     c->o.app, c->resume);
	if (len < 0 || send_all(c, c->out, len) < 0) {
		disconnect(c);
		return -EIO;
	}
	c->last_ping = c->connected_ms = now_ms();
	return 0;
}

/* ---- frames ----------------------------------------------------------------- */

static int
on_message(struct client *c, const struct push_frame *f)
{
	char id[PUSH_ID_TEXT + 1];
	int len;

	push_id_format(f->u.msg.id, id);
	if (!seen_add(&c->seen, f->u.msg.id)) {
		c->dups++;
		fprintf(stderr, "push-client: duplicate %s dropped\n", id);
	} else {
		c->msgs++;
		printf("%s %.*s\n", id, (int)f->u.msg.len,
		       (const char *)f->u.msg.payload);
		fflush(stdout);
	}
	if (c->o.no_ack)
		return 0;
	len = push_enc_ack(c->out, sizeof(c->out), f->u.msg.id, 1);
	if (len < 0 || send_all(c, c->out, len) < 0)
		return -EIO;
	c->acks++;
	if (f->u.msg.seq > c->resume)
		c->resume = f->u.msg.seq;
	return 0;
}

/* 0, 1 (done: exit 0), 3 (bind refused), -EIO (reconnect). */
static int
on_frame(struct client *c, const struct push_frame *f)
{
	uint8_t tok[PUSH_TOKEN_BYTES];
	int len;

	switch (f->h.type) {
	case PUSH_T_WELCOME:
		c->heartbeat_ms = f->u.welcome.heartbeat_s * 1000;
		fprintf(stderr, "push-client: registered, heartbeat %us\n",
			f->u.welcome.heartbeat_s);
		if (c->o.user == NULL)
			return 0;
		if (push_token_unhex(c->o.token, tok) < 0)
			return 3;
		len = push_enc_bind(c->out, sizeof(c->out), c->o.user,
				    c->o.expiry, tok);
		return len < 0 || send_all(c, c->out, len) < 0 ? -EIO : 0;
	case PUSH_T_BOUND:
		fprintf(stderr, "push-client: bound to %.*s\n",
			(int)f->u.bound.user.n, f->u.bound.user.p);
		return 0;
	case PUSH_T_MESSAGE:
		if (on_message(c, f) < 0)
			return -EIO;
		return c->o.count > 0 && c->msgs >= c->o.count ? 1 : 0;
	case PUSH_T_PONG:
		return 0;
	case PUSH_T_ERROR:
		fprintf(stderr, "push-client: server error %u %s: %.*s\n",
			f->u.error.code, push_err_name(f->u.error.code),
			(int)f->u.error.reason.n, f->u.error.reason.p);
		if (f->u.error.code == PUSH_E_BAD_TOKEN ||
		    f->u.error.code == PUSH_E_EXPIRED_TOKEN)
			return 3;
		return 0;
	default:
		fprintf(stderr, "push-client: unexpected frame type %u\n",
			f->h.type);
		return -EIO;
	}
}

/* Read what is there and handle whole frames. As on_frame. */
static int
on_readable(struct client *c)
{
	ssize_t n;
	size_t off = 0;
	int rc = 0;

	n = c->ssl != NULL
		    ? SSL_read(c->ssl, c->in + c->inlen,
			       (int)(BUF_MAX - c->inlen))
		    : recv(c->fd, c->in + c->inlen, BUF_MAX - c->inlen, 0);
	if (n <= 0) {
		if (n < 0 && c->ssl == NULL && errno == EINTR)
			return 0;
		return -EIO;
	}
	c->inlen += (size_t)n;
	while (rc == 0) {
		struct push_hdr h;
		struct push_frame f;

		if (push_hdr_parse(c->in + off, c->inlen - off,
				   BUF_MAX - PUSH_HDR_LEN, &h) < 0)
			break; /* -EAGAIN, or a bad header: next check */
		if (c->inlen - off < PUSH_HDR_LEN + h.len)
			break;
		if (push_frame_decode(&h, c->in + off + PUSH_HDR_LEN, &f) < 0) {
			fprintf(stderr, "push-client: bad frame type %u\n",
				h.type);
			return -EIO;
		}
		rc = on_frame(c, &f);
		off += PUSH_HDR_LEN + h.len;
	}
	if (rc == 0 && c->inlen - off >= PUSH_HDR_LEN) {
		struct push_hdr h;

		if (push_hdr_parse(c->in + off, c->inlen - off,
				   BUF_MAX - PUSH_HDR_LEN, &h) < 0) {
			fprintf(stderr, "push-client: bad frame header\n");
			return -EIO;
		}
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	return rc;
}

/* ---- main ------------------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr,
		"usage: push-client -s HOST:PORT -d DEVICE [options]\n"
		"  -p PLATFORM, -a APP     what HELLO registers\n"
		"  -u USER -t TOKEN -e EXPIRY  bind (token: 64 hex digits)\n"
		"  -r SEQ                  initial resume point (0)\n"
		"  -n N                    exit 0 after N new messages\n"
		"  -T SECONDS              exit 2 after this long\n"
		"  --no-ack                never acknowledge\n"
		"  --once                  exit 1 on a lost connection\n"
		"  --tls [--ca FILE]       TLS (server name checked)\n");
	exit(1);
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "no-ack", no_argument, NULL, 'A' },
		{ "tls", no_argument, NULL, 'S' },
		{ "ca", required_argument, NULL, 'C' },
		{ "once", no_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 },
	};
	static char host[256];
	char *colon;
	int ch;

	o->platform = "linux";
	o->app = "push-client";
	while ((ch = getopt_long(argc, argv, "s:d:p:a:u:t:e:r:n:T:", lo,
				 NULL)) != -1) {
		switch (ch) {
		case 's':
			snprintf(host, sizeof(host), "%s", optarg);
			colon = strrchr(host, ':');
			if (colon == NULL)
				usage();
			*colon = '\0';
			o->host = host[0] == '[' ? host + 1 : host;
			if (host[0] == '[' && colon[-1] == ']')
				colon[-1] = '\0';
			o->port = colon + 1;
			break;
		case 'd':
			o->device = optarg;
			break;
		case 'p':
			o->platform = optarg;
			break;
		case 'a':
			o->app = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 't':
			o->token = optarg;
			break;
		case 'e':
			o->expiry = strtoull(optarg, NULL, 10);
			break;
		case 'n':
			o->count = strtoull(optarg, NULL, 10);
			break;
		case 'T':
			o->timeout = strtoull(optarg, NULL, 10) * 1000;
			break;
		case 'A':
			o->no_ack = true;
			break;
		case 'S':
			o->tls = true;
			break;
		case 'C':
			o->ca = optarg;
			break;
		case 'O':
			o->once = true;
			break;
		default:
			usage();
		}
	}
	if (o->host == NULL || o->device == NULL ||
	    (o->user != NULL && o->token == NULL))
		usage();
}

static void
summary(const struct client *c)
{
	fprintf(stderr,
		"push-client: messages=%llu duplicates=%llu acks=%llu "
		"reconnects=%llu resume=%llu\n",
		(unsigned long long)c->msgs, (unsigned long long)c->dups,
		(unsigned long long)c->acks, (unsigned long long)c->reconnects,
		(unsigned long long)c->resume);
}

int
main(int argc, char **argv)
{
	static struct client c;
	uint64_t start = now_ms(), backoff = 100;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	parse_args(argc, argv, &c.o);
	c.in = malloc(BUF_MAX);
	if (c.in == NULL)
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (c.o.tls) {
		c.ctx = SSL_CTX_new(TLS_client_method());
		if (c.ctx == NULL ||
		    (c.o.ca != NULL
			     ? SSL_CTX_load_verify_locations(c.ctx, c.o.ca,
							     NULL)
			     : SSL_CTX_set_default_verify_paths(c.ctx)) != 1)
			return 1;
		SSL_CTX_set_verify(c.ctx, SSL_VERIFY_PEER, NULL);
	}
	while (!quit) {
		uint64_t now = now_ms();
		struct pollfd p;
		int wait = 200;

		if (c.o.timeout > 0 && now - start >= c.o.timeout) {
			fprintf(stderr, "push-client: timeout\n");
			rc = 2;
			break;
		}
		if (c.fd < 0) {
			if (do_connect(&c) < 0) {
				if (c.o.once)
					return 1;
				usleep((useconds_t)backoff * 1000);
				backoff =
					backoff * 2 > 1000 ? 1000 : backoff * 2;
				continue;
			}
			backoff = 100;
		}
		if (c.heartbeat_ms > 0 &&
		    now - c.last_ping >= c.heartbeat_ms / 2) {
			int len = push_enc_empty(c.out, sizeof(c.out),
						 PUSH_T_PING);

			c.last_ping = now;
			if (send_all(&c, c.out, len) < 0)
				goto lost;
		}
		if (c.ssl != NULL && SSL_pending(c.ssl) > 0) {
			p.revents = POLLIN;
		} else {
			p.fd = c.fd;
			p.events = POLLIN;
			p.revents = 0;
			if (poll(&p, 1, wait) < 0 && errno != EINTR)
				break;
		}
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		rc = on_readable(&c);
		if (rc == 1) {
			rc = 0;
			break;
		}
		if (rc == 3)
			break;
		if (rc == 0)
			continue;
	lost:
		rc = 0;
		disconnect(&c);
		c.heartbeat_ms = 0;
		if (c.o.once) {
			rc = 1;
			break;
		}
		c.reconnects++;
		fprintf(stderr,
			"push-client: connection lost, resuming at "
			"%llu\n",
			(unsigned long long)c.resume);
	}
	summary(&c);
	disconnect(&c);
	return rc;
}
