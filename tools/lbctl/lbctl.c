/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbctl: the operator's CLI for edgelb. Parses the command line
 * (lbctl_args.c, lbctl_ipvs.c), sends the requests over lbmsg to edgelbd's
 * ctl.sock (or, with --socket, the dataplane's dp.sock), and prints the
 * replies (lbctl_fmt*.c). Errors are one line on stderr,
 * "lbctl: <what>: <why>", with the exit statuses of enum lbctl_exit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lbctl_args.h"
#include "lbctl_fmt.h"
#include "edgelb/util.h"

static int
exit_for(int err)
{
	switch (err) {
	case 0:
		return LBCTL_EXIT_OK;
	case -ENOENT:
		return LBCTL_EXIT_NOENT;
	case -EEXIST:
		return LBCTL_EXIT_EXISTS;
	default:
		return LBCTL_EXIT_FAIL;
	}
}

static int
fail(const struct lbctl_cmd *cmd, int err, const char *why)
{
	fprintf(stderr, "lbctl: %s: %s\n", cmd->what ? cmd->what : "error",
		why != NULL && why[0] != '\0' ? why : strerror(-err));
	return exit_for(err);
}

/* Send every request; the last one's reply parts go to fmt (if any). */
static int
run_requests(const struct lbctl_cmd *cmd, struct lbmsg_client *c,
	     struct lbctl_fmt *fmt)
{
	char err[LBMSG_ERRMSG_MAX];
	int rc;

	for (unsigned int i = 0; i < cmd->nreqs; i++) {
		bool last = i + 1 == cmd->nreqs;

		rc = lbmsg_client_request(c, cmd->reqs[i],
					  last && fmt ? lbctl_fmt_part : NULL,
					  last ? fmt : NULL, err, sizeof(err));
		if (rc < 0) {
			if (rc == -ETIMEDOUT && err[0] == '\0')
				snprintf(err, sizeof(err),
					 "no reply from %s (timed out)",
					 cmd->opts.socket);
			return fail(cmd, rc, err);
		}
	}
	return LBCTL_EXIT_OK;
}

/* Seconds of the monotonic clock. */
static double
now_sec(void)
{
	return (double)lb_now_ns() / 1e9;
}

/* ipvsadm --rate without server-side rates: two samples a second apart. */
static int
run_rate(const struct lbctl_cmd *cmd, struct lbmsg_client *c,
	 struct lbctl_fmt *first, struct lbctl_fmt **shown)
{
	struct lbctl_fmt *second;
	double t0, t1;
	int rc;

	*shown = first;
	t0 = now_sec();
	rc = run_requests(cmd, c, first);
	if (rc != 0 || lbctl_fmt_has_rates(first))
		return rc;
	second = lbctl_fmt_new(cmd);
	if (second == NULL)
		return fail(cmd, -ENOMEM, NULL);
	usleep(1000000);
	t1 = now_sec();
	rc = run_requests(cmd, c, second);
	if (rc != 0) {
		lbctl_fmt_free(second);
		return rc;
	}
	lbctl_fmt_set_base(second, first, t1 - t0);
	*shown = second;
	return 0;
}

static int
print(const struct lbctl_cmd *cmd, struct lbctl_fmt *fmt)
{
	int rc = lbctl_fmt_print(fmt, stdout);

	if (rc == -ENOENT)
		return fail(cmd, rc, "no such service");
	if (rc < 0)
		return fail(cmd, rc, NULL);
	if (fflush(stdout) != 0)
		return fail(cmd, -errno, "cannot write the output");
	return 0;
}

static int
run(const struct lbctl_cmd *cmd)
{
	struct lbctl_fmt *fmt = NULL, *shown = NULL;
	struct lbmsg_client *c;
	char why[256];
	int rc = 0;

	c = lbmsg_client_open(cmd->opts.socket, cmd->opts.timeout_ms);
	if (c == NULL) {
		snprintf(why, sizeof(why), "cannot connect to %s: %s",
			 cmd->opts.socket, strerror(errno));
		fail(cmd, -errno, why);
		return LBCTL_EXIT_UNREACHABLE;
	}
	if (cmd->view != LBCTL_VIEW_ACK) {
		fmt = lbctl_fmt_new(cmd);
		if (fmt == NULL) {
			rc = fail(cmd, -ENOMEM, NULL);
			goto out;
		}
	}
	if (cmd->view == LBCTL_VIEW_IPVS_LIST && cmd->opts.rate) {
		rc = run_rate(cmd, c, fmt, &shown);
		if (rc == 0)
			rc = print(cmd, shown);
		if (shown != fmt)
			lbctl_fmt_free(shown);
		goto out;
	}
	for (uint32_t round = 0;; round++) {
		if (fmt != NULL)
			lbctl_fmt_reset(fmt);
		rc = run_requests(cmd, c, fmt);
		if (rc != 0 || fmt == NULL)
			break;
		if (cmd->opts.watch && isatty(STDOUT_FILENO))
			fputs("\033[H\033[2J", stdout);
		rc = print(cmd, fmt);
		if (rc != 0 || cmd->opts.watch == 0 ||
		    (cmd->opts.count && round + 1 >= cmd->opts.count))
			break;
		if (!isatty(STDOUT_FILENO))
			fputc('\n', stdout);
		sleep(cmd->opts.watch);
	}
out:
	lbctl_fmt_free(fmt);
	lbmsg_client_close(c);
	return rc;
}

int
main(int argc, char **argv)
{
	struct lbctl_cmd cmd;
	char err[256];
	const char *h;
	int rc;

	rc = lbctl_parse(argc, argv, &cmd, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "lbctl: %s\n", err);
		return rc == -EINVAL ? LBCTL_EXIT_USAGE : LBCTL_EXIT_FAIL;
	}
	switch (cmd.view) {
	case LBCTL_VIEW_HELP:
		h = lbctl_help(cmd.help_topic);
		if (h != NULL)
			fputs(h, stdout);
		else
			lbctl_usage_print(stdout);
		rc = LBCTL_EXIT_OK;
		break;
	case LBCTL_VIEW_VERSION:
		printf("lbctl %s (lbmsg protocol %d)\n", EDGELB_VERSION,
		       LBMSG_VERSION);
		rc = LBCTL_EXIT_OK;
		break;
	default:
		/* api create --file: the file is read now, not when parsing */
		if (lbctl_api_attach(&cmd, err, sizeof(err)) < 0) {
			fprintf(stderr, "lbctl: %s: %s\n", cmd.what, err);
			rc = LBCTL_EXIT_FAIL;
			break;
		}
		rc = run(&cmd);
		break;
	}
	lbctl_cmd_free(&cmd);
	return rc;
}
