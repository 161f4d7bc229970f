/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The gateway's access log (see gw_log.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "gw_log.h"
#include "edgelb/util.h"

#define LINE_MAX_BYTES 8192 /* a longer line is dropped */

enum gw_log_kind {
	GWL_OFF,
	GWL_FILE,
	GWL_SYSLOG,
};

struct gw_log {
	pthread_mutex_t mu;
	enum gw_log_kind kind;
	char path[GW_LOG_TARGET_MAX];
	int fd;
	char *buf; /* GW_LOG_BUF_MAX bytes */
	size_t len;
	struct gw_log_stats st;
};

int
gw_log_target_check(const char *target, char *err, size_t errlen)
{
	if (target[0] == '\0' || strcmp(target, "off") == 0 ||
	    strcmp(target, "syslog") == 0)
		return 0;
	if (strncmp(target, "file:", 5) != 0)
		return lb_errf(err, errlen, -EINVAL,
			       "expected off, syslog or file:PATH");
	if (target[5] != '/' || strlen(target + 5) >= GW_LOG_TARGET_MAX)
		return lb_errf(err, errlen, -EINVAL,
			       "file:PATH needs an absolute path of at most "
			       "%d bytes",
			       GW_LOG_TARGET_MAX - 1);
	return 0;
}

struct gw_log *
gw_log_new(void)
{
	struct gw_log *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->buf = malloc(GW_LOG_BUF_MAX);
	if (l->buf == NULL) {
		free(l);
		errno = ENOMEM;
		return NULL;
	}
	l->fd = -1;
	pthread_mutex_init(&l->mu, NULL);
	return l;
}

/* Under mu. */
static void
flush_locked(struct gw_log *l)
{
	size_t off = 0;

	while (l->fd >= 0 && off < l->len) {
		ssize_t n = write(l->fd, l->buf + off, l->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			l->st.errors++;
			break; /* what is left is lost: never wait */
		}
		off += (size_t)n;
	}
	l->len = 0;
}

void
gw_log_flush(struct gw_log *l)
{
	pthread_mutex_lock(&l->mu);
	flush_locked(l);
	pthread_mutex_unlock(&l->mu);
}

static int
open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	return fd < 0 ? -errno : fd;
}

int
gw_log_set_target(struct gw_log *l, const char *target, char *err,
		  size_t errlen)
{
	enum gw_log_kind kind = GWL_OFF;
	int fd = -1, rc = gw_log_target_check(target, err, errlen);

	if (rc < 0)
		return rc;
	if (strcmp(target, "syslog") == 0) {
		kind = GWL_SYSLOG;
	} else if (strncmp(target, "file:", 5) == 0) {
		kind = GWL_FILE;
		fd = open_file(target + 5);
		if (fd < 0)
			return lb_errf(err, errlen, fd, "access_log %s: %s",
				       target + 5, strerror(-fd));
	}
	pthread_mutex_lock(&l->mu);
	flush_locked(l);
	if (l->fd >= 0)
		close(l->fd);
	l->fd = fd;
	l->kind = kind;
	snprintf(l->path, sizeof(l->path), "%s",
		 kind == GWL_FILE ? target + 5 : "");
	pthread_mutex_unlock(&l->mu);
	return 0;
}

int
gw_log_reopen(struct gw_log *l)
{
	int rc = 0, fd;

	pthread_mutex_lock(&l->mu);
	flush_locked(l);
	if (l->kind == GWL_FILE) {
		fd = open_file(l->path);
		if (fd < 0) {
			rc = fd; /* keep writing to the old file */
			l->st.errors++;
		} else {
			close(l->fd);
			l->fd = fd;
		}
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}

void
gw_log_free(struct gw_log *l)
{
	if (l == NULL)
		return;
	gw_log_flush(l);
	if (l->fd >= 0)
		close(l->fd);
	pthread_mutex_destroy(&l->mu);
	free(l->buf);
	free(l);
}

void
gw_log_stats_read(struct gw_log *l, struct gw_log_stats *s)
{
	pthread_mutex_lock(&l->mu);
	*s = l->st;
	pthread_mutex_unlock(&l->mu);
}

/* ---- the line ------------------------------------------------------------ */

struct out {
	char *p;
	size_t len, n; /* n: bytes needed so far */
};

static void
put(struct out *o, const char *s, size_t k)
{
	if (o->n < o->len) {
		size_t room = o->len - o->n - 1;

		memcpy(o->p + o->n, s, k < room ? k : room);
	}
	o->n += k;
}

/* A string literal. */
#define PUTL(o, lit) put(o, lit, sizeof(lit) - 1)

/* Numbers by hand: a line is written per request, printf's cost shows. */
static void
put_u64(struct out *o, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	put(o, tmp + i, sizeof(tmp) - i);
}

/* Nanoseconds from a to b as milliseconds with three decimals. */
static void
put_ms(struct out *o, uint64_t a, uint64_t b)
{
	uint64_t us = b > a ? (b - a) / 1000 : 0;
	char frac[4] = { '.', (char)('0' + us / 100 % 10),
			 (char)('0' + us / 10 % 10), (char)('0' + us % 10) };

	put_u64(o, us / 1000);
	put(o, frac, sizeof(frac));
}

/* A JSON string, or null; bytes outside printable ASCII as \u00XX so
 * that the line is valid JSON whatever the client sent. */
static void
put_str(struct out *o, const char *s)
{
	if (s == NULL) {
		put(o, "null", 4);
		return;
	}
	put(o, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			char e[2] = { '\\', (char)ch };

			put(o, e, 2);
		} else if (ch < 0x20 || ch >= 0x7f) {
			static const char hex[] = "0123456789abcdef";
			char e[6] = { '\\', 'u',	  '0',
				      '0',  hex[ch >> 4], hex[ch & 0xf] };

			put(o, e, sizeof(e));
		} else {
			put(o, s, 1);
		}
	}
	put(o, "\"", 1);
}

static void
client_text(const struct sockaddr *sa, char *buf, size_t len)
{
	buf[0] = '\0';
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  buf, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
			  (socklen_t)len);
}

size_t
gw_log_format(char *buf, size_t len, const char *stage, const struct gw_done *d,
	      const char *when)
{
	struct out o = { buf, len, 0 };
	char ip[INET6_ADDRSTRLEN];

	client_text(d->client, ip, sizeof(ip));
	PUTL(&o, "{\"time\":");
	put_str(&o, when);
	PUTL(&o, ",\"stage\":");
	put_str(&o, stage);
	PUTL(&o, ",\"client\":");
	put_str(&o, ip[0] != '\0' ? ip : NULL);
	PUTL(&o, ",\"method\":");
	put_str(&o, d->method);
	PUTL(&o, ",\"host\":");
	put_str(&o, d->host);
	PUTL(&o, ",\"path\":");
	put_str(&o, d->path);
	PUTL(&o, ",\"route\":");
	put_str(&o, d->route != NULL ? d->route->conf->name : NULL);
	PUTL(&o, ",\"upstream\":");
	put_str(&o, d->upstream);
	PUTL(&o, ",\"status\":");
	put_u64(&o, d->status > 0 ? (uint64_t)d->status : 0);
	PUTL(&o, ",\"bytes_in\":");
	put_u64(&o, d->bytes_in);
	PUTL(&o, ",\"bytes_out\":");
	put_u64(&o, d->bytes_out);
	PUTL(&o, ",\"duration_ms\":");
	put_ms(&o, d->start_ns, d->end_ns);
	PUTL(&o, ",\"upstream_ms\":");
	if (d->upstream_head_ns != 0)
		put_ms(&o, d->start_ns, d->upstream_head_ns);
	else
		PUTL(&o, "null");
	PUTL(&o, ",\"attempts\":");
	put_u64(&o, d->attempts);
	PUTL(&o, ",\"error\":");
	put_str(&o, d->error);
	PUTL(&o, "}");
	if (len > 0)
		buf[o.n < len ? o.n : len - 1] = '\0';
	return o.n;
}

/* "2026-12-03T15:46:43.353Z" into buf (at least 32 bytes); the part up
 * to the second is made once a second per thread. */
static void
now_text(char *buf)
{
	static __thread time_t last = -1;
	static __thread char sec[24];
	static __thread size_t seclen;
	struct timespec ts;
	unsigned ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != last) {
		struct tm tm;

		gmtime_r(&ts.tv_sec, &tm);
		seclen = strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
		last = ts.tv_sec;
	}
	ms = (unsigned)(ts.tv_nsec / 1000000) % 1000u;
	memcpy(buf, sec, seclen);
	buf[seclen] = '.';
	buf[seclen + 1] = (char)('0' + ms / 100);
	buf[seclen + 2] = (char)('0' + ms / 10 % 10);
	buf[seclen + 3] = (char)('0' + ms % 10);
	buf[seclen + 4] = 'Z';
	buf[seclen + 5] = '\0';
}

void
gw_log_write(struct gw_log *l, const char *stage, const struct gw_done *d)
{
	char line[LINE_MAX_BYTES], when[40];
	enum gw_log_kind kind;
	size_t n;

	kind = __atomic_load_n(&l->kind, __ATOMIC_RELAXED);
	if (kind == GWL_OFF)
		return;
	now_text(when);
	n = gw_log_format(line, sizeof(line) - 1, stage, d, when);
	pthread_mutex_lock(&l->mu);
	if (n >= sizeof(line) - 1) {
		l->st.dropped++;
	} else if (l->kind == GWL_SYSLOG) {
		l->st.lines++;
		pthread_mutex_unlock(&l->mu);
		syslog(LOG_INFO, "%s", line);
		return;
	} else if (l->kind == GWL_FILE) {
		if (l->len + n + 1 > GW_LOG_BUF_MAX)
			flush_locked(l);
		if (l->len + n + 1 > GW_LOG_BUF_MAX) {
			l->st.dropped++;
		} else {
			line[n] = '\n';
			memcpy(l->buf + l->len, line, n + 1);
			l->len += n + 1;
			l->st.lines++;
			if (l->len >= GW_LOG_FLUSH_AT)
				flush_locked(l);
		}
	}
	pthread_mutex_unlock(&l->mu);
}
