/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness for the dataplane packet tests. See dp_harness.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dp_harness.h"
#include "pktcheck.h"

int dp_failures;

static struct dp_run *cleanup_run;

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void
cleanup(void)
{
	struct dp_run *r = cleanup_run;
	struct dirent *de;
	DIR *d;

	if (r == NULL)
		return;
	if (r->pid > 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		r->pid = 0;
	}
	if (r->c != NULL)
		lbmsg_client_close(r->c);
	r->c = NULL;
	if (getenv("DP_TEST_KEEP") != NULL) {
		fprintf(stderr, "kept %s\n", r->dir);
		return;
	}
	d = opendir(r->dir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d != NULL)
		closedir(d);
	rmdir(r->dir);
}

static void
on_fatal_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

void
dp_run_init(struct dp_run *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "/tmp/edgelb-dp-test.XXXXXX");
	if (mkdtemp(r->dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	cleanup_run = r;
	atexit(cleanup);
	signal(SIGINT, on_fatal_signal);
	signal(SIGTERM, on_fatal_signal);
	signal(SIGALRM, on_fatal_signal);
}

const char *
dp_run_file(struct dp_run *r, const char *name)
{
	snprintf(r->path, sizeof(r->path), "%s/%s", r->dir, name);
	return r->path;
}

static int
write_ini(struct dp_run *r, const char *ini)
{
	FILE *f = fopen(dp_run_file(r, "dp.ini"), "w");
	const char *p = ini, *q;

	if (f == NULL)
		return -1;
	while ((q = strstr(p, "@DIR@")) != NULL) {
		fwrite(p, 1, (size_t)(q - p), f);
		fputs(r->dir, f);
		p = q + 5;
	}
	fputs(p, f);
	return fclose(f) == 0 ? 0 : -1;
}

int
dp_run_start(struct dp_run *r, const char *bin, const char *ini)
{
	char inipath[192], sock[192];
	int fd;

	if (write_ini(r, ini) < 0)
		return -1;
	snprintf(inipath, sizeof(inipath), "%s/dp.ini", r->dir);
	snprintf(sock, sizeof(sock), "%s/dp.sock", r->dir);
	r->pid = fork();
	if (r->pid < 0)
		return -1;
	if (r->pid == 0) {
		fd = open(dp_run_file(r, "dp.log"),
			  O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execl(bin, bin, DP_TEST_EAL, "--", "-c", inipath, "--socket",
		      sock, (char *)NULL);
		perror("exec");
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		int status;

		r->c = lbmsg_client_open(sock, 5000);
		if (r->c != NULL)
			return 0;
		if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
			fprintf(stderr, "edgelb-dp exited early (status %d)\n",
				WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			r->pid = 0;
			dp_run_dump_log(r);
			return -1;
		}
		sleep_ms(100);
	}
	fprintf(stderr, "edgelb-dp: no control socket after 20 s\n");
	dp_run_dump_log(r);
	return -1;
}

int
dp_run_stop(struct dp_run *r)
{
	int status;

	if (r->c != NULL)
		lbmsg_client_close(r->c);
	r->c = NULL;
	if (r->pid <= 0)
		return -1;
	kill(r->pid, SIGTERM);
	for (int i = 0; i < 200; i++) {
		if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
			r->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		sleep_ms(100);
	}
	kill(r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0);
	r->pid = 0;
	return -1;
}

void
dp_run_dump_log(struct dp_run *r)
{
	FILE *f = fopen(dp_run_file(r, "dp.log"), "r");
	char line[512];

	if (f == NULL)
		return;
	fprintf(stderr, "---- edgelb-dp log ----\n");
	while (fgets(line, sizeof(line), f) != NULL)
		fputs(line, stderr);
	fprintf(stderr, "-----------------------\n");
	fclose(f);
}

int
dp_req(struct dp_run *r, struct nl_msg *msg, lbmsg_part_fn cb, void *arg)
{
	char err[LBMSG_ERRMSG_MAX] = "";
	int rc;

	rc = lbmsg_client_request(r->c, msg, cb, arg, err, sizeof(err));
	if (rc < 0 && getenv("DP_TEST_VERBOSE") != NULL)
		fprintf(stderr, "  request %s: %d (%s)\n",
			lbmsg_type_name(nlmsg_hdr(msg)->nlmsg_type), rc, err);
	nlmsg_free(msg);
	return rc;
}

static void
stat_add(struct dp_stats *st, const char *scope, const char *name, uint64_t v)
{
	for (unsigned int i = 0; i < st->n; i++)
		if (strcmp(st->c[i].scope, scope) == 0 &&
		    strcmp(st->c[i].name, name) == 0) {
			st->c[i].value += v;
			return;
		}
	if (st->n == sizeof(st->c) / sizeof(st->c[0]))
		return;
	snprintf(st->c[st->n].scope, sizeof(st->c[0].scope), "%s", scope);
	snprintf(st->c[st->n].name, sizeof(st->c[0].name), "%s", name);
	st->c[st->n].value = v;
	st->n++;
}

static int
stats_part(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	struct dp_stats *st = arg;
	const char *scope;
	struct nlattr *pos;
	int rem;

	(void)nlh;
	if (tb[LB_ATTR_STATS_KIND] == NULL || tb[LB_ATTR_COUNTERS] == NULL)
		return 0;
	switch (nla_get_u8(tb[LB_ATTR_STATS_KIND])) {
	case LB_STATS_PORT:
		scope = tb[LB_ATTR_IFNAME] ? nla_get_string(tb[LB_ATTR_IFNAME])
					   : "?";
		break;
	case LB_STATS_LCORE:
		scope = "lcore";
		break;
	case LB_STATS_DROP:
		scope = "drop";
		break;
	default:
		return 0; /* services: not summed here */
	}
	lbmsg_list_for_each (pos, tb[LB_ATTR_COUNTERS], rem) {
		struct nlattr *rt[LB_ATTR_MAX + 1];

		if (lbmsg_parse_record(pos, rt) < 0 ||
		    rt[LB_ATTR_CNT_NAME] == NULL ||
		    rt[LB_ATTR_CNT_VALUE] == NULL)
			continue;
		stat_add(st, scope, nla_get_string(rt[LB_ATTR_CNT_NAME]),
			 nla_get_u64(rt[LB_ATTR_CNT_VALUE]));
	}
	return 0;
}

int
dp_stats_get(struct dp_run *r, struct dp_stats *st)
{
	struct nl_msg *msg = lbmsg_new(LB_MSG_STATS_GET, NLM_F_DUMP);

	st->n = 0;
	if (msg == NULL)
		return -ENOMEM;
	return dp_req(r, msg, stats_part, st);
}

uint64_t
dp_stat(const struct dp_stats *st, const char *scope, const char *name)
{
	for (unsigned int i = 0; i < st->n; i++)
		if (strcmp(st->c[i].scope, scope) == 0 &&
		    strcmp(st->c[i].name, name) == 0)
			return st->c[i].value;
	return 0;
}

uint64_t
dp_stat_wait(struct dp_run *r, const char *scope, const char *name,
	     uint64_t want, int timeout_ms)
{
	static struct dp_stats st;
	uint64_t v = 0;

	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		if (dp_stats_get(r, &st) == 0) {
			v = dp_stat(&st, scope, name);
			if (v >= want)
				return v;
		}
		sleep_ms(50);
	}
	return v;
}

uint16_t
dp_cksum(const void *buf, size_t len)
{
	/* host order value of the big-endian sum */
	return (uint16_t)~pktcheck_sum16(buf, len, 0);
}
