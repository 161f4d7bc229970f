/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Logging for the edgelb programs: levels as syslog's, to stderr (with a
 * timestamp) or to syslog. The dataplane's workers never log; its control
 * thread and the daemon do.
 */
#ifndef EDGELB_LOG_H
#define EDGELB_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* ident: program name; level: LOG_ERR..LOG_DEBUG; to_syslog: else stderr */
void lb_log_init(const char *ident, int level, bool to_syslog);
void lb_log_set_level(int level);
int lb_log_get_level(void);

/* "err", "warning", "notice", "info", "debug" -> LOG_*, or -EINVAL */
int lb_log_level_parse(const char *s);

void lb_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define LB_ERR(...)    lb_log(LOG_ERR, __VA_ARGS__)
#define LB_WARN(...)   lb_log(LOG_WARNING, __VA_ARGS__)
#define LB_NOTICE(...) lb_log(LOG_NOTICE, __VA_ARGS__)
#define LB_INFO(...)   lb_log(LOG_INFO, __VA_ARGS__)
#define LB_DEBUG(...)  lb_log(LOG_DEBUG, __VA_ARGS__)

#endif
