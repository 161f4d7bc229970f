/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lab-backend: the real server run in each backend namespace of the
 * network-namespace lab (tests/lab/lab.sh, tests/e2e).
 *
 *   lab-backend --name NAME [--tcp-port P] [--udp-port P] [--toa] [-v]
 *
 * One thread, one epoll loop:
 *   - HTTP/1.1 on the TCP port: "GET /" answers one line naming this
 *     backend, the peer it sees and the real client it learnt;
 *     "GET /bytes?n=N" answers N deterministic bytes (see fill_bytes());
 *     keep-alive unless "Connection: close" or HTTP/1.0.
 *   - UDP echo on the UDP port: the datagram back, prefixed "backend=NAME ".
 *   - The real client address behind a FULL-NAT balancer, from a PROXY
 *     protocol v2 header (when a connection starts with its signature) and
 *     from TOA (TCP option kind 254, length 8: port, IPv4 address). The
 *     socket API does not show SYN options, so with --toa an AF_PACKET
 *     socket, filtered in the kernel to TCP SYNs, records
 *     (source address, source port) -> client in a fixed-size table that
 *     accept() consults.
 *
 * Memory is bounded: at most MAX_CONNS connections, HDR_MAX bytes of
 * request per connection, TOA_SLOTS remembered SYNs. SIGTERM or SIGINT
 * ends the loop and prints totals.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_CONNS 256
#define HDR_MAX	  8192
#define OUT_MAX	  1024
#define CHUNK	  65536
#define BYTES_MAX (1ull << 32) /* largest /bytes answer: 4 GiB */
#define TOA_SLOTS 4096
#define TOA_KIND  254
#define TOA_LEN	  8
#define UDP_MAX	  2048
#define WEYL	  0x9E3779B97F4A7C15ull

enum ev_kind { EV_LISTEN, EV_UDP, EV_PACKET, EV_SIGNAL, EV_CONN };

struct ev {
	enum ev_kind kind;
	int fd;
};

struct conn {
	struct ev ev; /* first: epoll data points here */
	bool used;
	struct sockaddr_in peer;
	char in[HDR_MAX];
	size_t inlen;
	bool proxy_checked;
	bool has_proxy, has_toa;
	struct sockaddr_in proxy, toa;
	char out[OUT_MAX];
	size_t outlen, outoff;
	uint64_t bytes_off, bytes_end; /* /bytes stream still to send */
	bool close_after;
};

struct toa_entry {
	uint32_t saddr; /* network order; 0 = empty slot */
	uint16_t sport;
	uint32_t caddr;
	uint16_t cport;
};

struct server {
	const char *name;
	bool verbose;
	int epfd;
	struct ev lst, udp, pkt, sig;
	struct conn conns[MAX_CONNS];
	struct toa_entry toa[TOA_SLOTS];
	uint64_t n_http, n_udp, n_toa, n_proxy, n_refused, n_bad;
	char chunk[CHUNK];
};

static const uint8_t proxy_v2_sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					  0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

static void __attribute__((format(printf, 2, 3)))
logf_(const struct server *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "lab-backend[%s]: %s\n", s->name, line);
}

static const char *
fmt_sin(const struct sockaddr_in *a, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, ntohs(a->sin_port));
	return buf;
}

/*
 * The /bytes stream: 64-bit little-endian words, word k (from 0) being
 * (k + 1) * 0x9E3779B97F4A7C15 mod 2^64. Writes bytes [off, off + len).
 */
static void
fill_bytes(uint8_t *dst, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t pos = off + i;
		uint64_t word = ((pos >> 3) + 1) * WEYL;

		dst[i] = (uint8_t)(word >> (8 * (pos & 7)));
	}
}

static int
ep_add(struct server *s, struct ev *e, uint32_t events)
{
	struct epoll_event ee = { .events = events, .data.ptr = e };

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, e->fd, &ee);
}

static void
ep_mod(struct server *s, struct ev *e, uint32_t events)
{
	struct epoll_event ee = { .events = events, .data.ptr = e };

	epoll_ctl(s->epfd, EPOLL_CTL_MOD, e->fd, &ee);
}

/* ---- TOA: SYN capture ------------------------------------------------- */

static unsigned int
toa_slot(uint32_t saddr, uint16_t sport)
{
	return ((saddr * 2654435761u) ^ (sport * 40503u)) % TOA_SLOTS;
}

/*
 * AF_PACKET, cooked (the buffer starts at the IP header), with a classic
 * BPF filter accepting IPv4 TCP segments that are not fragments and have
 * SYN set and ACK clear; 128 bytes cover IP and TCP headers with options.
 */
static int
toa_open(void)
{
	static struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9), /* protocol */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 0, 6),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6), /* frag offset */
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 4, 0),
		BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0), /* X = IP hdr len */
		BPF_STMT(BPF_LD | BPF_B | BPF_IND, 13), /* TCP flags */
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 128),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = {
		.len = sizeof(code) / sizeof(code[0]),
		.filter = code,
	};
	int fd;

	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    htons(ETH_P_IP));
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) <
	    0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* Record the TOA option of one captured SYN, if it has one. */
static void
toa_record(struct server *s, const uint8_t *p, size_t len)
{
	size_t ihl, doff, o;
	uint32_t saddr;
	uint16_t sport;

	if (len < 20 || (p[0] >> 4) != 4)
		return;
	ihl = (size_t)(p[0] & 0xf) * 4;
	if (ihl < 20 || len < ihl + 20)
		return;
	doff = (size_t)(p[ihl + 12] >> 4) * 4;
	if (doff < 20 || len < ihl + doff)
		return;
	memcpy(&saddr, p + 12, 4);
	memcpy(&sport, p + ihl, 2);
	for (o = ihl + 20; o < ihl + doff;) {
		uint8_t kind = p[o], olen;

		if (kind == 0)
			break;
		if (kind == 1) {
			o++;
			continue;
		}
		if (o + 1 >= ihl + doff)
			break;
		olen = p[o + 1];
		if (olen < 2 || o + olen > ihl + doff)
			break;
		if (kind == TOA_KIND && olen == TOA_LEN) {
			struct toa_entry *t = &s->toa[toa_slot(saddr, sport)];

			t->saddr = saddr;
			t->sport = sport;
			memcpy(&t->cport, p + o + 2, 2);
			memcpy(&t->caddr, p + o + 4, 4);
			return;
		}
		o += olen;
	}
}

static void
toa_drain(struct server *s)
{
	uint8_t buf[128];
	struct sockaddr_ll sll;
	socklen_t sl;
	ssize_t n;

	if (s->pkt.fd < 0)
		return;
	for (;;) {
		sl = sizeof(sll);
		n = recvfrom(s->pkt.fd, buf, sizeof(buf), MSG_TRUNC,
			     (struct sockaddr *)&sll, &sl);
		if (n < 0)
			return;
		if (sll.sll_pkttype == PACKET_OUTGOING)
			continue;
		toa_record(s, buf,
			   (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf));
	}
}

/* The client behind peer, from a SYN seen with TOA. Consumes the entry. */
static bool
toa_lookup(struct server *s, const struct sockaddr_in *peer,
	   struct sockaddr_in *out)
{
	struct toa_entry *t;

	toa_drain(s);
	t = &s->toa[toa_slot(peer->sin_addr.s_addr, peer->sin_port)];
	if (t->saddr == 0 || t->saddr != peer->sin_addr.s_addr ||
	    t->sport != peer->sin_port)
		return false;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_addr.s_addr = t->caddr;
	out->sin_port = t->cport;
	t->saddr = 0;
	return true;
}

/* ---- HTTP --------------------------------------------------------------- */

static void
conn_close(struct server *s, struct conn *c)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->ev.fd, NULL);
	close(c->ev.fd);
	c->used = false;
}

/*
 * Consume a PROXY v2 header at the start of c->in. Returns 1 when done
 * (header consumed or absent), 0 when more bytes are needed, -1 on a
 * malformed header.
 */
static int
proxy_v2_parse(struct server *s, struct conn *c)
{
	size_t cmp = c->inlen < 12 ? c->inlen : 12;
	size_t hlen;
	const uint8_t *p = (const uint8_t *)c->in;

	if (memcmp(c->in, proxy_v2_sig, cmp) != 0)
		return 1;
	if (c->inlen < 16)
		return 0;
	hlen = 16 + (((size_t)p[14] << 8) | p[15]);
	if ((p[12] & 0xf0) != 0x20 || hlen > sizeof(c->in))
		return -1;
	if (c->inlen < hlen)
		return 0;
	/* PROXY command, TCP over IPv4: src, dst addresses, then ports */
	if ((p[12] & 0x0f) == 0x1 && p[13] == 0x11 && hlen >= 16 + 12) {
		memset(&c->proxy, 0, sizeof(c->proxy));
		c->proxy.sin_family = AF_INET;
		memcpy(&c->proxy.sin_addr.s_addr, p + 16, 4);
		memcpy(&c->proxy.sin_port, p + 24, 2);
		c->has_proxy = true;
		s->n_proxy++;
	}
	memmove(c->in, c->in + hlen, c->inlen - hlen);
	c->inlen -= hlen;
	return 1;
}

/* Queue a response head; with a body (text), length is taken from it. */
static void
respond(struct conn *c, int status, const char *reason, uint64_t length,
	const char *body)
{
	int n;

	if (body != NULL)
		length = strlen(body);
	n = snprintf(c->out, sizeof(c->out),
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: %s\r\n"
		     "Content-Length: %" PRIu64 "\r\n"
		     "%s\r\n%s",
		     status, reason,
		     body != NULL ? "text/plain" : "application/octet-stream",
		     length, c->close_after ? "Connection: close\r\n" : "",
		     body != NULL ? body : "");

	c->outlen = n < 0 ? 0
			  : ((size_t)n < sizeof(c->out) ? (size_t)n
							: sizeof(c->out) - 1);
	c->outoff = 0;
}

/* Find "Connection: close" among the header lines in hdr. */
static bool
wants_close(const char *hdr)
{
	for (const char *l = strstr(hdr, "\r\n"); l != NULL;
	     l = strstr(l + 2, "\r\n")) {
		const char *v = l + 2;

		if (strncasecmp(v, "connection:", 11) != 0)
			continue;
		v += 11;
		while (*v == ' ' || *v == '\t')
			v++;
		if (strncasecmp(v, "close", 5) == 0)
			return true;
	}
	return false;
}

/*
 * Answer the request at the start of c->in if it is complete. Returns 1
 * when a response was queued, 0 when more bytes are needed, -1 to close.
 */
static int
handle_request(struct server *s, struct conn *c)
{
	char method[8], path[256], version[16], body[512];
	char pa[32], ta[32], xa[32], ra[32];
	const struct sockaddr_in *real;
	char *end;
	size_t hlen;
	unsigned long long n;

	end = memmem(c->in, c->inlen, "\r\n\r\n", 4);
	if (end == NULL)
		return c->inlen == sizeof(c->in) ? -1 : 0;
	*end = '\0';
	hlen = (size_t)(end - c->in) + 4;
	if (sscanf(c->in, "%7s %255s %15s", method, path, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0) {
		s->n_bad++;
		return -1;
	}
	c->close_after = strcmp(version, "HTTP/1.0") == 0 || wants_close(c->in);
	memmove(c->in, c->in + hlen, c->inlen - hlen);
	c->inlen -= hlen;
	s->n_http++;

	real = c->has_proxy ? &c->proxy : c->has_toa ? &c->toa : NULL;
	if (strcmp(method, "GET") != 0) {
		c->close_after = true;
		respond(c, 405, "Method Not Allowed", 0,
			"method not allowed\n");
	} else if (strcmp(path, "/") == 0) {
		snprintf(
			body, sizeof(body),
			"backend=%s client=%s real_client=%s toa=%s proxy=%s\n",
			s->name, fmt_sin(&c->peer, pa, sizeof(pa)),
			real != NULL ? fmt_sin(real, ra, sizeof(ra)) : "-",
			c->has_toa ? fmt_sin(&c->toa, ta, sizeof(ta)) : "-",
			c->has_proxy ? fmt_sin(&c->proxy, xa, sizeof(xa))
				     : "-");
		respond(c, 200, "OK", 0, body);
	} else if (strncmp(path, "/bytes?n=", 9) == 0) {
		errno = 0;
		n = strtoull(path + 9, &end, 10);
		if (errno != 0 || *end != '\0' || path[9] == '\0' ||
		    n > BYTES_MAX) {
			c->close_after = true;
			respond(c, 400, "Bad Request", 0, "bad length\n");
		} else {
			respond(c, 200, "OK", n, NULL);
			c->bytes_off = 0;
			c->bytes_end = n;
			if (s->verbose || n >= CHUNK)
				logf_(s, "%s: sending %llu bytes",
				      fmt_sin(&c->peer, pa, sizeof(pa)), n);
		}
	} else {
		respond(c, 404, "Not Found", 0, "not found\n");
	}
	if (s->verbose)
		logf_(s, "%s: %s %s real_client=%s",
		      fmt_sin(&c->peer, pa, sizeof(pa)), method, path,
		      real != NULL ? fmt_sin(real, xa, sizeof(xa)) : "-");
	return 1;
}

/* Send what is queued. Returns 1 when all is sent, 0 if blocked, -1 err. */
static int
conn_flush(struct server *s, struct conn *c)
{
	ssize_t n;

	while (c->outoff < c->outlen) {
		n = send(c->ev.fd, c->out + c->outoff, c->outlen - c->outoff,
			 MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->outoff += (size_t)n;
	}
	while (c->bytes_off < c->bytes_end) {
		uint64_t left = c->bytes_end - c->bytes_off;
		size_t len = left < CHUNK ? (size_t)left : CHUNK;

		fill_bytes((uint8_t *)s->chunk, c->bytes_off, len);
		n = send(c->ev.fd, s->chunk, len, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->bytes_off += (uint64_t)n;
	}
	c->outlen = c->outoff = 0;
	return 1;
}

/* Read, parse and answer until blocked; closes c when it is done. */
static void
conn_event(struct server *s, struct conn *c, uint32_t events)
{
	ssize_t n;
	int rc;

	if (events & (EPOLLERR | EPOLLHUP))
		goto close;
	for (;;) {
		if (c->outlen > 0 || c->bytes_off < c->bytes_end) {
			rc = conn_flush(s, c);
			if (rc < 0)
				goto close;
			if (rc == 0) {
				ep_mod(s, &c->ev, EPOLLIN | EPOLLOUT);
				return;
			}
			if (c->close_after)
				goto close;
			ep_mod(s, &c->ev, EPOLLIN);
		}
		if (!c->proxy_checked && c->inlen > 0) {
			rc = proxy_v2_parse(s, c);
			if (rc < 0) {
				s->n_bad++;
				goto close;
			}
			c->proxy_checked = rc == 1;
		}
		if (c->proxy_checked) {
			rc = handle_request(s, c);
			if (rc < 0)
				goto close;
			if (rc == 1)
				continue;
		}
		if (c->inlen == sizeof(c->in))
			goto close;
		n = recv(c->ev.fd, c->in + c->inlen, sizeof(c->in) - c->inlen,
			 0);
		if (n == 0)
			goto close;
		if (n < 0) {
			if (errno == EAGAIN)
				return;
			goto close;
		}
		c->inlen += (size_t)n;
	}
close:
	conn_close(s, c);
}

static void
accept_all(struct server *s)
{
	struct sockaddr_in peer;
	socklen_t sl;
	int fd;

	for (;;) {
		struct conn *c = NULL;

		sl = sizeof(peer);
		fd = accept4(s->lst.fd, (struct sockaddr *)&peer, &sl,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		for (int i = 0; i < MAX_CONNS && c == NULL; i++)
			if (!s->conns[i].used)
				c = &s->conns[i];
		if (c == NULL) {
			s->n_refused++;
			logf_(s, "%d connections open: refusing one",
			      MAX_CONNS);
			close(fd);
			continue;
		}
		c->inlen = c->outlen = c->outoff = 0;
		c->bytes_off = c->bytes_end = 0;
		c->proxy_checked = c->has_proxy = c->close_after = false;
		c->used = true;
		c->ev = (struct ev){ .kind = EV_CONN, .fd = fd };
		c->peer = peer;
		c->has_toa = toa_lookup(s, &peer, &c->toa);
		if (c->has_toa)
			s->n_toa++;
		if (ep_add(s, &c->ev, EPOLLIN) < 0) {
			close(fd);
			c->used = false;
		}
	}
}

/* ---- UDP echo ------------------------------------------------------------ */

/*
 * Replies leave from the address the request was sent to (IP_PKTINFO):
 * in DR and TUNNEL modes that is the VIP on lo, which the client expects,
 * not the address routing would pick.
 */
static void
udp_echo(struct server *s)
{
	char in[UDP_MAX], out[UDP_MAX + 80];
	char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct sockaddr_in peer;
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *cm;
	struct in_pktinfo *pi;
	ssize_t n;
	int hl;

	for (;;) {
		iov = (struct iovec){ .iov_base = in, .iov_len = sizeof(in) };
		mh = (struct msghdr){
			.msg_name = &peer,
			.msg_namelen = sizeof(peer),
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cbuf,
			.msg_controllen = sizeof(cbuf),
		};
		n = recvmsg(s->udp.fd, &mh, 0);
		if (n < 0)
			return;
		pi = NULL;
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL;
		     cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == IPPROTO_IP &&
			    cm->cmsg_type == IP_PKTINFO)
				pi = (struct in_pktinfo *)CMSG_DATA(cm);
		hl = snprintf(out, sizeof(out), "backend=%s ", s->name);
		memcpy(out + hl, in, (size_t)n);
		iov = (struct iovec){ .iov_base = out,
				      .iov_len = (size_t)hl + (size_t)n };
		mh.msg_iov = &iov;
		mh.msg_flags = 0;
		if (pi != NULL) {
			/* answer from the request's destination address */
			pi->ipi_spec_dst = pi->ipi_addr;
			pi->ipi_ifindex = 0;
		} else {
			mh.msg_control = NULL;
			mh.msg_controllen = 0;
		}
		sendmsg(s->udp.fd, &mh, 0);
		s->n_udp++;
	}
}

/* ---- set-up ------------------------------------------------------------- */

static int
bind_socket(int type, uint16_t port)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	int one = 1, fd;

	fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (type == SOCK_DGRAM)
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) < 0)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static int
signal_open(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: lab-backend --name NAME [--tcp-port P] [--udp-port P] "
		"[--toa] [-v]\n"
		"  HTTP on the TCP port (default 80): GET / names the backend "
		"and client,\n"
		"  GET /bytes?n=N sends N deterministic bytes; UDP echo on the "
		"UDP port\n"
		"  (default 9000). --toa learns real clients from TCP option "
		"254 in SYNs\n"
		"  (needs CAP_NET_RAW). Ends on SIGTERM.\n");
}

static int
parse_port(const char *v, uint16_t *port)
{
	char *end;
	unsigned long p = strtoul(v, &end, 10);

	if (*v == '\0' || *end != '\0' || p == 0 || p > 65535)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

static int
server_open(struct server *s, uint16_t tcp_port, uint16_t udp_port, bool toa)
{
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->lst = (struct ev){ .kind = EV_LISTEN, .fd = -1 };
	s->udp = (struct ev){ .kind = EV_UDP, .fd = -1 };
	s->pkt = (struct ev){ .kind = EV_PACKET, .fd = -1 };
	s->sig = (struct ev){ .kind = EV_SIGNAL, .fd = signal_open() };
	if (s->epfd < 0 || s->sig.fd < 0) {
		logf_(s, "epoll/signalfd: %s", strerror(errno));
		return -1;
	}
	s->lst.fd = bind_socket(SOCK_STREAM, tcp_port);
	s->udp.fd = bind_socket(SOCK_DGRAM, udp_port);
	if (s->lst.fd < 0 || s->udp.fd < 0) {
		logf_(s, "cannot bind TCP %u / UDP %u: %s", tcp_port, udp_port,
		      strerror(-(s->lst.fd < 0 ? s->lst.fd : s->udp.fd)));
		return -1;
	}
	if (toa) {
		s->pkt.fd = toa_open();
		if (s->pkt.fd < 0) {
			logf_(s, "TOA capture socket: %s",
			      strerror(-s->pkt.fd));
			return -1;
		}
	}
	if (ep_add(s, &s->lst, EPOLLIN) < 0 ||
	    ep_add(s, &s->udp, EPOLLIN) < 0 ||
	    ep_add(s, &s->sig, EPOLLIN) < 0 ||
	    (s->pkt.fd >= 0 && ep_add(s, &s->pkt, EPOLLIN) < 0)) {
		logf_(s, "epoll_ctl: %s", strerror(errno));
		return -1;
	}
	logf_(s, "serving HTTP on TCP %u, echo on UDP %u%s", tcp_port, udp_port,
	      toa ? ", TOA capture on" : "");
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "tcp-port", required_argument, NULL, 't' },
		{ "udp-port", required_argument, NULL, 'u' },
		{ "toa", no_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct server srv;
	struct server *s = &srv;
	uint16_t tcp_port = 80, udp_port = 9000;
	struct epoll_event evs[64];
	bool toa = false, quit = false;
	int c;

	s->name = "backend";
	while ((c = getopt_long(argc, argv, "n:t:u:Tvh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			s->name = optarg;
			break;
		case 't':
			if (parse_port(optarg, &tcp_port) < 0)
				goto bad;
			break;
		case 'u':
			if (parse_port(optarg, &udp_port) < 0)
				goto bad;
			break;
		case 'T':
			toa = true;
			break;
		case 'v':
			s->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc || strlen(s->name) > 32)
		goto bad;
	if (server_open(s, tcp_port, udp_port, toa) < 0)
		return 1;
	while (!quit) {
		int n = epoll_wait(s->epfd, evs, 64, -1);

		if (n < 0 && errno != EINTR) {
			logf_(s, "epoll_wait: %s", strerror(errno));
			return 1;
		}
		/* SYNs first, so that accept() finds their TOA */
		toa_drain(s);
		for (int i = 0; i < n; i++) {
			struct ev *e = evs[i].data.ptr;

			switch (e->kind) {
			case EV_LISTEN:
				accept_all(s);
				break;
			case EV_UDP:
				udp_echo(s);
				break;
			case EV_PACKET:
				toa_drain(s);
				break;
			case EV_SIGNAL:
				quit = true;
				break;
			case EV_CONN:
				conn_event(s, (struct conn *)e, evs[i].events);
				break;
			}
		}
	}
	logf_(s,
	      "exiting: %" PRIu64 " HTTP requests, %" PRIu64
	      " UDP datagrams, %" PRIu64 " TOA, %" PRIu64 " PROXY v2, %" PRIu64
	      " refused, %" PRIu64 " bad",
	      s->n_http, s->n_udp, s->n_toa, s->n_proxy, s->n_refused,
	      s->n_bad);
	return 0;
bad:
	usage(stderr);
	return 2;
}
