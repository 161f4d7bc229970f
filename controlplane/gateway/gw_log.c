/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The gateway's access log (see gw_log.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
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

static void putf(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
putf(struct out *o, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (k > 0)
		put(o, tmp,
		    (size_t)k < sizeof(tmp) ? (size_t)k : sizeof(tmp) - 1);
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
			putf(o, "\\u%04x", ch);
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

static double
ms_between(uint64_t a, uint64_t b)
{
	return b > a ? (double)(b - a) / 1e6 : 0.0;
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
	putf(&o, ",\"status\":%d", d->status);
	putf(&o, ",\"bytes_in\":%llu", (unsigned long long)d->bytes_in);
	putf(&o, ",\"bytes_out\":%llu", (unsigned long long)d->bytes_out);
	putf(&o, ",\"duration_ms\":%.3f", ms_between(d->start_ns, d->end_ns));
	if (d->upstream_head_ns != 0)
		putf(&o, ",\"upstream_ms\":%.3f",
		     ms_between(d->start_ns, d->upstream_head_ns));
	else
		PUTL(&o, ",\"upstream_ms\":null");
	putf(&o, ",\"attempts\":%u", d->attempts);
	PUTL(&o, ",\"error\":");
	put_str(&o, d->error);
	PUTL(&o, "}");
	if (len > 0)
		buf[o.n < len ? o.n : len - 1] = '\0';
	return o.n;
}

static void
now_text(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t k = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);

	snprintf(buf + k, len - k, ".%03uZ",
		 (unsigned)(ts.tv_nsec / 1000000) % 1000u);
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
	now_text(when, sizeof(when));
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
