/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A client of BIRD's control socket (the protocol birdc speaks): connect
 * to the AF_UNIX stream socket, read the greeting (code 0001), send one
 * command line, read the reply up to its last line. Reply lines are
 * "NNNN-text" (more lines follow), " text" (continuation of the previous
 * code) or "NNNN text" (the last line); codes 0xxx are successes, 8xxx
 * run-time errors, 9xxx parse errors of the command.
 *
 * bird_cmd_start() runs one exchange on a libevent loop without blocking
 * it, bounded by timeout_ms; bird_cmd_sync() the same blocking (for the
 * daemon's exit path, when the loop no longer runs).
 */
#ifndef EDGELBD_BGP_BIRD_H
#define EDGELBD_BGP_BIRD_H

#include <stddef.h>

struct event_base;
struct bird_cmd;

#define BIRD_LINE_MAX  1024 /* a longer reply line is an error */
#define BIRD_LINES_MAX 4096 /* a longer reply is an error */

/*
 * The end of an exchange: rc 0 and the last line's code (< 8000), or rc
 * -EREMOTEIO and BIRD's error code (>= 8000) with its text in msg, or a
 * transport error (-ECONNREFUSED, -ENOENT, -ETIMEDOUT, -EBADMSG for a
 * reply that does not follow the protocol, -ECONNRESET) and code 0. msg
 * holds the last line's text (never NULL).
 */
typedef void (*bird_done_fn)(void *arg, int rc, int code, const char *msg);

/*
 * Send line (without its newline; at most BIRD_LINE_MAX - 1 bytes) to the
 * socket at path. NULL with errno (ENOMEM, ENAMETOOLONG, or the connect
 * error: done is then not called); otherwise done is called exactly once,
 * from the loop, unless bird_cmd_cancel() comes first.
 */
struct bird_cmd *bird_cmd_start(struct event_base *base, const char *path,
				const char *line, int timeout_ms,
				bird_done_fn done, void *arg);
/* Close and free without calling done. */
void bird_cmd_cancel(struct bird_cmd *c);

/* The same, blocking; rc and code as for done, msg into msg[msglen]. */
int bird_cmd_sync(const char *path, const char *line, int timeout_ms, int *code,
		  char *msg, size_t msglen);

/*
 * One reply line: 1 if it is the last line (code into *code), 0 if more
 * follow, -EBADMSG if it is not a reply line. For tests.
 */
int bird_reply_line(const char *line, int *code);

#endif
