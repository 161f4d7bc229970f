/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The gateway's access log: one JSON object per request and line
 * (docs/gateway.md, "Access log"), to a file or to syslog.
 *
 * A file is written through a buffer: the request's thread formats its
 * line and appends it under the log's mutex; the buffer goes to the file
 * when it holds GW_LOG_FLUSH_AT bytes and at every gw_log_flush (the
 * module's timer, about 5 times a second), so a request's thread never
 * waits for more than one write(2) of a regular file. A write that
 * fails loses the buffer (counted in errors), a line over 8 KiB is
 * dropped (counted in dropped); neither is retried or waited for. gw_log_reopen (SIGHUP, after logrotate moved the
 * file) flushes, closes and opens the path again. syslog lines go to
 * syslog(3) at LOG_INFO one by one.
 *
 * Thread-safe: gw_log_write from any thread; the others from the
 * daemon's main thread.
 */
#ifndef EDGELBD_GW_LOG_H
#define EDGELBD_GW_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "gw_proxy.h"

#define GW_LOG_TARGET_MAX 4096
#define GW_LOG_FLUSH_AT	  (64u * 1024)
#define GW_LOG_BUF_MAX	  (1024u * 1024)

struct gw_log;

struct gw_log_stats {
	uint64_t lines;	  /* written or handed to syslog */
	uint64_t dropped; /* the buffer was full, or the line too long */
	uint64_t errors;  /* failed write(2) or open(2) */
};

/*
 * Parse a target: "off", "syslog" or "file:PATH" (PATH absolute). 0 or
 * -EINVAL with err saying why.
 */
int gw_log_target_check(const char *target, char *err, size_t errlen);

/* A log writing nowhere yet. NULL with errno ENOMEM. */
struct gw_log *gw_log_new(void);
void gw_log_free(struct gw_log *l); /* flushes first */

/*
 * Write to target from now on ("off" or "": nowhere). A file is opened
 * (created 0640, appended to) now. 0, or -errno of open(2) with err set;
 * the previous target is then kept.
 */
int gw_log_set_target(struct gw_log *l, const char *target, char *err,
		      size_t errlen);

/* Format d as one line (stage: the listener's) and log it. */
void gw_log_write(struct gw_log *l, const char *stage, const struct gw_done *d);

/* Write out the buffer. */
void gw_log_flush(struct gw_log *l);

/* Flush, close and open the file again (logrotate). 0 or -errno. */
int gw_log_reopen(struct gw_log *l);

void gw_log_stats_read(struct gw_log *l, struct gw_log_stats *s);

/*
 * The line for d (without the newline) into buf: the bytes it needs
 * (as snprintf), so a result >= len means it was cut. For tests.
 */
size_t gw_log_format(char *buf, size_t len, const char *stage,
		     const struct gw_done *d, const char *when);

#endif
