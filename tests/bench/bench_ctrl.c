/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_ctrl: how long programming S services x B backends takes over the
 * control protocol (figure 5 of docs/BENCHMARKS.md).
 *
 * It talks lbmsg to a socket (edgelb-dp's dp.sock, or edgelbd's ctl.sock:
 * the protocol is the same) as a client, synchronously (one request in
 * flight, each acknowledged before the next), in two ways:
 *
 *   batch        one SERVICE_NEW per service carrying its BACKENDS list
 *                (what edgelbd's reconcile sends);
 *   incremental  SERVICE_NEW, then one BACKEND_NEW per backend (what an
 *                ipvsadm-style script sends);
 *
 * each followed by a SERVICE_GET dump that must list exactly S services
 * with B backends each (else exit 1), and a SERVICE_FLUSH. Services are
 * UDP 10.100.x.y:80 with backends 10.101.x.y:8080, scheduler --sched
 * (default wlc). Everything present before is flushed first: point it at
 * a dataplane of its own.
 *
 * With --dp PATH (the socket is edgelbd's ctl.sock), each phase also
 * polls the dataplane's dp.sock until its SERVICE_GET lists everything
 * and reports that time as dp_seconds: how long programming through the
 * daemon takes until the dataplane forwards with it.
 *
 * Usage: bench_ctrl --socket PATH [--dp PATH] [--services S]
 *                   [--backends B] [--sched NAME] [--mode MODE]
 * Output: one JSON object on stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "edgelb/lbmsg.h"

struct bench_opts {
	const char *socket;
	const char *dp; /* dp.sock to wait on, or NULL */
	uint32_t services;
	uint32_t backends;
	const char *sched;
	int mode;
};

struct dump_count {
	uint32_t services;
	uint32_t backends;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
vip_of(uint32_t s, struct lb_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->v4 = htonl(0x0a640000u + s); /* 10.100.0.0 + s */
}

static void
backend_of(uint32_t s, uint32_t b, uint32_t nb, struct lb_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->v4 = htonl(0x0a650000u + s * nb + b); /* 10.101.0.0 + ... */
}

/* Send msg, free it; 0 or -errno with the reason on stderr. */
static int
request(struct lbmsg_client *c, struct nl_msg *msg, lbmsg_part_fn cb, void *arg,
	const char *what)
{
	char err[LBMSG_ERRMSG_MAX] = "";
	int rc;

	if (msg == NULL) {
		fprintf(stderr, "bench_ctrl: %s: out of memory\n", what);
		return -ENOMEM;
	}
	rc = lbmsg_client_request(c, msg, cb, arg, err, sizeof(err));
	nlmsg_free(msg);
	if (rc < 0)
		fprintf(stderr, "bench_ctrl: %s: %s (%s)\n", what,
			strerror(-rc), err);
	return rc;
}

static struct nl_msg *
service_msg(const struct bench_opts *o, uint32_t s, int with_backends)
{
	struct nl_msg *m = lbmsg_new(LB_MSG_SERVICE_NEW, 0);
	struct lb_addr vip, be;
	struct nlattr *list, *rec;

	if (m == NULL)
		return NULL;
	vip_of(s, &vip);
	if (lbmsg_put_svc_key(m, IPPROTO_UDP, &vip, 80) < 0 ||
	    nla_put_u8(m, LB_ATTR_MODE, (uint8_t)o->mode) < 0 ||
	    nla_put_string(m, LB_ATTR_SCHED, o->sched) < 0)
		goto err;
	if (!with_backends)
		return m;
	if ((list = nla_nest_start(m, LB_ATTR_BACKENDS)) == NULL)
		goto err;
	for (uint32_t b = 0; b < o->backends; b++) {
		backend_of(s, b, o->backends, &be);
		if ((rec = nla_nest_start(m, LB_ATTR_BACKEND)) == NULL ||
		    lbmsg_put_addr(m, LB_ATTR_ADDR, &be) < 0 ||
		    nla_put_u16(m, LB_ATTR_PORT, 8080) < 0 ||
		    nla_put_u32(m, LB_ATTR_WEIGHT, 1) < 0)
			goto err;
		nla_nest_end(m, rec);
	}
	nla_nest_end(m, list);
	return m;
err:
	nlmsg_free(m);
	return NULL;
}

static struct nl_msg *
backend_msg(const struct bench_opts *o, uint32_t s, uint32_t b)
{
	struct nl_msg *m = lbmsg_new(LB_MSG_BACKEND_NEW, 0);
	struct lb_addr vip, be;

	if (m == NULL)
		return NULL;
	vip_of(s, &vip);
	backend_of(s, b, o->backends, &be);
	if (lbmsg_put_svc_key(m, IPPROTO_UDP, &vip, 80) < 0 ||
	    lbmsg_put_addr(m, LB_ATTR_ADDR, &be) < 0 ||
	    nla_put_u16(m, LB_ATTR_PORT, 8080) < 0 ||
	    nla_put_u32(m, LB_ATTR_WEIGHT, 1) < 0) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

static int
count_part(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	struct dump_count *dc = arg;
	struct nlattr *pos;
	int rem;

	(void)nlh;
	dc->services++;
	if (tb[LB_ATTR_BACKENDS] != NULL)
		lbmsg_list_for_each (pos, tb[LB_ATTR_BACKENDS], rem)
			dc->backends++;
	return 0;
}

static int
count(struct lbmsg_client *c, struct dump_count *dc)
{
	dc->services = 0;
	dc->backends = 0;
	return request(c, lbmsg_new(LB_MSG_SERVICE_GET, NLM_F_DUMP), count_part,
		       dc, "SERVICE_GET");
}

static int
complete(const struct bench_opts *o, const struct dump_count *dc)
{
	return dc->services == o->services &&
	       dc->backends == (uint64_t)o->services * o->backends;
}

/*
 * Poll dp.sock every 10 ms until it lists everything; seconds since t0,
 * or -1 after DP_WAIT_S.
 */
#define DP_WAIT_S 600
static double
wait_dp(const struct bench_opts *o, double t0)
{
	struct lbmsg_client *dp = lbmsg_client_open(o->dp, 10000);
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	struct dump_count dc;
	double secs = -1;

	if (dp == NULL) {
		fprintf(stderr, "bench_ctrl: %s: %s\n", o->dp, strerror(errno));
		return -1;
	}
	while (now_s() - t0 < DP_WAIT_S) {
		if (count(dp, &dc) == 0 && complete(o, &dc)) {
			secs = now_s() - t0;
			break;
		}
		nanosleep(&tick, NULL);
	}
	if (secs < 0)
		fprintf(stderr,
			"bench_ctrl: the dataplane lists %u services "
			"after %d s\n",
			dc.services, DP_WAIT_S);
	lbmsg_client_close(dp);
	return secs;
}

/* SERVICE_GET must list exactly the services and backends programmed. */
static int
verify(struct lbmsg_client *c, const struct bench_opts *o, double *secs)
{
	struct dump_count dc = { 0, 0 };
	double t0 = now_s();
	int rc;

	rc = count(c, &dc);
	*secs = now_s() - t0;
	if (rc < 0)
		return rc;
	if (!complete(o, &dc)) {
		fprintf(stderr,
			"bench_ctrl: dump lists %u services, %u backends; "
			"expected %u, %u\n",
			dc.services, dc.backends, o->services,
			o->services * o->backends);
		return -EPROTO;
	}
	return 0;
}

static int
flush(struct lbmsg_client *c, double *secs)
{
	double t0 = now_s();
	int rc = request(c, lbmsg_new(LB_MSG_SERVICE_FLUSH, 0), NULL, NULL,
			 "SERVICE_FLUSH");

	*secs = now_s() - t0;
	return rc;
}

static int
phase(struct lbmsg_client *c, const struct bench_opts *o, int incremental,
      int last)
{
	double t0, secs, dump_s, flush_s, dp_s = 0;
	uint64_t requests = 0;

	t0 = now_s();
	for (uint32_t s = 0; s < o->services; s++) {
		if (request(c, service_msg(o, s, !incremental), NULL, NULL,
			    "SERVICE_NEW") < 0)
			return -1;
		requests++;
		for (uint32_t b = 0; incremental && b < o->backends; b++) {
			if (request(c, backend_msg(o, s, b), NULL, NULL,
				    "BACKEND_NEW") < 0)
				return -1;
			requests++;
		}
	}
	secs = now_s() - t0;
	if (o->dp != NULL) {
		dp_s = wait_dp(o, t0);
		if (dp_s < 0)
			return -1;
	}
	if (verify(c, o, &dump_s) < 0 || flush(c, &flush_s) < 0)
		return -1;
	printf("    {\"method\": \"%s\", \"requests\": %llu, \"seconds\": "
	       "%.3f, \"requests_per_s\": %.0f, \"us_per_request\": %.1f, "
	       "\"dump_seconds\": %.3f, \"flush_seconds\": %.3f",
	       incremental ? "incremental" : "batch",
	       (unsigned long long)requests, secs, requests / secs,
	       secs * 1e6 / requests, dump_s, flush_s);
	if (o->dp != NULL)
		printf(", \"dp_seconds\": %.3f", dp_s);
	printf("}%s\n", last ? "" : ",");
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "dp", required_argument, NULL, 'd' },
		{ "services", required_argument, NULL, 'n' },
		{ "backends", required_argument, NULL, 'b' },
		{ "sched", required_argument, NULL, 'S' },
		{ "mode", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench_opts o = {
		.services = 10000,
		.backends = 10,
		.sched = "wlc",
		.mode = LB_MODE_NAT,
	};
	struct lbmsg_client *c;
	double secs;
	int opt, ret = 1;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			o.socket = optarg;
			break;
		case 'd':
			o.dp = optarg;
			break;
		case 'n':
			if (lb_parse_u32(optarg, 1, 60000, &o.services) < 0)
				goto usage;
			break;
		case 'b':
			if (lb_parse_u32(optarg, 1, 100, &o.backends) < 0)
				goto usage;
			break;
		case 'S':
			o.sched = optarg;
			break;
		case 'm':
			o.mode = lb_mode_parse(optarg);
			if (o.mode < 0)
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (o.socket == NULL || optind != argc)
		goto usage;

	c = lbmsg_client_open(o.socket, 10000);
	if (c == NULL) {
		fprintf(stderr, "bench_ctrl: %s: %s\n", o.socket,
			strerror(errno));
		return 1;
	}
	if (flush(c, &secs) < 0)
		goto out;
	printf("{\"figure\": \"ctrl\", \"socket\": \"%s\", \"services\": %u, "
	       "\"backends_per_service\": %u, \"sched\": \"%s\", "
	       "\"results\": [\n",
	       o.socket, o.services, o.backends, o.sched);
	if (phase(c, &o, 0, 0) < 0 || phase(c, &o, 1, 1) < 0)
		goto out;
	printf("]}\n");
	ret = 0;
out:
	fflush(stdout);
	lbmsg_client_close(c);
	return ret;
usage:
	fprintf(stderr, "usage: bench_ctrl --socket PATH [--dp PATH] "
			"[--services S] [--backends B] [--sched NAME] "
			"[--mode MODE]\n");
	return 2;
}
