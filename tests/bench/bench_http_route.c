/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A trivial route on edgelbd's HTTP stack (controlplane/http/), one
 * thread: GET /metrics answers the server's counters in the names of
 * edgelbd's HTTP services (edgelb_http_*, service="route"), anything
 * else a fixed 200 with a small body. The benchmarks measure it against
 * nginx (tests/bench/run.sh); the limits lab (tests/e2e/http_limits.sh)
 * uses it as a stand-in for a service, with its limits from the command
 * line. It stops by itself after --seconds (default 600).
 *
 *   bench_http_route [--listen ADDR:PORT] [--port-file F] [--body N]
 *       [--max-conns N] [--max-conns-per-addr N] [--header-timeout MS]
 *       [--idle-timeout MS] [--reserve N] [--seconds N] [--quiet]
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "http.h"
#include "http_fdbudget.h"
#include "edgelb/log.h"
#include "edgelb/types.h"

#define BODY_MAX 65536

static struct http_server *srv;
static char body[BODY_MAX];
static size_t body_len = 13;

#define SVC "service=\"route\""

static int
metrics_page(char *p, size_t n)
{
	const struct http_stats *st = http_server_stats(srv);
	struct http_fdbudget_stats fb;
	size_t off = 0;

	http_fdbudget_stats(&fb);
	const struct {
		const char *name, *labels;
		uint64_t v;
	} rows[] = {
		{ "edgelb_http_connections_open", SVC, st->conns_open },
		{ "edgelb_http_connections_total", SVC, st->conns_accepted },
		{ "edgelb_http_refused_total", SVC ",reason=\"max_conns\"",
		  st->conns_refused_total },
		{ "edgelb_http_refused_total", SVC ",reason=\"per_addr\"",
		  st->conns_refused_per_addr },
		{ "edgelb_http_refused_total", SVC ",reason=\"fd_budget\"",
		  fb.refused },
		{ "edgelb_http_errors_total", SVC ",reason=\"bad_request\"",
		  st->bad_requests },
		{ "edgelb_http_errors_total", SVC ",reason=\"head_too_large\"",
		  st->head_too_large },
		{ "edgelb_http_errors_total", SVC ",reason=\"body_too_large\"",
		  st->body_too_large },
		{ "edgelb_http_errors_total", SVC ",reason=\"head_timeout\"",
		  st->head_timeouts },
		{ "edgelb_http_errors_total", SVC ",reason=\"idle\"",
		  st->idle_closes },
		{ "edgelb_http_accept_backoffs_total", SVC,
		  st->accept_backoffs },
		{ "edgelb_http_requests_total", SVC ",proto=\"http1\"",
		  st->requests },
		{ "edgelb_http_fd_budget", "kind=\"limit\"", fb.limit },
		{ "edgelb_http_fd_budget", "kind=\"reserve\"", fb.reserve },
		{ "edgelb_http_fd_budget", "kind=\"budget\"", fb.budget },
		{ "edgelb_http_fd_budget", "kind=\"in_use\"", fb.in_use },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int k = snprintf(p + off, n - off, "%s{%s} %llu\n",
				 rows[i].name, rows[i].labels,
				 (unsigned long long)rows[i].v);

		if (k < 0 || (size_t)k >= n - off)
			return -ENOSPC;
		off += (size_t)k;
	}
	return (int)off;
}

static void
on_request(void *arg, struct http_req *req)
{
	const struct http_msg *m = http_req_msg(req);
	char page[2048];
	int n;

	(void)arg;
	if (strcmp(m->path, "/metrics") != 0) {
		http_resp_simple(req, 200, "text/plain", body, body_len);
		return;
	}
	n = metrics_page(page, sizeof(page));
	if (n < 0 || (size_t)n >= sizeof(page)) {
		http_resp_simple(req, 500, NULL, NULL, 0);
		return;
	}
	http_resp_simple(req, 200, "text/plain; version=0.0.4", page,
			 (size_t)n);
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static int
num(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *v > max) {
		fprintf(stderr, "bench_http_route: bad number '%s'\n", s);
		return -EINVAL;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: bench_http_route [--listen ADDR:PORT] [--port-file F]\n"
		"  [--body N] [--max-conns N] [--max-conns-per-addr N]\n"
		"  [--header-timeout MS] [--idle-timeout MS] [--reserve N]\n"
		"  [--seconds N] [--quiet]\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "body", required_argument, NULL, 'b' },
		{ "max-conns", required_argument, NULL, 'c' },
		{ "max-conns-per-addr", required_argument, NULL, 'a' },
		{ "header-timeout", required_argument, NULL, 'H' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "reserve", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct http_handler h = { .on_request = on_request };
	struct http_limits lim = http_default_limits;
	const char *listen_at = "127.0.0.1:0", *port_file = NULL;
	struct event *sig_term, *sig_int, *deadline;
	unsigned long v, seconds = 600;
	struct event_base *base;
	struct timeval tv;
	struct lb_addr addr;
	uint16_t port;
	int o, rc;

	lb_log_init("bench_http_route", LOG_INFO, false);
	memcpy(body, "hello, world\n", body_len);
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'l':
			listen_at = optarg;
			break;
		case 'p':
			port_file = optarg;
			break;
		case 'b':
			if (num(optarg, BODY_MAX, &v) < 0)
				return 2;
			body_len = v;
			memset(body, 'x', body_len);
			break;
		case 'c':
			if (num(optarg, 1u << 20, &v) < 0 || v == 0)
				return 2;
			lim.max_conns = (uint32_t)v;
			break;
		case 'a':
			if (num(optarg, 1u << 20, &v) < 0 || v == 0)
				return 2;
			lim.max_conns_per_addr = (uint32_t)v;
			break;
		case 'H':
			if (num(optarg, 3600000, &v) < 0 || v == 0)
				return 2;
			lim.head_timeout_ms = (uint32_t)v;
			break;
		case 'i':
			if (num(optarg, 3600000, &v) < 0 || v == 0)
				return 2;
			lim.idle_timeout_ms = (uint32_t)v;
			break;
		case 'r':
			if (num(optarg, 1u << 20, &v) < 0)
				return 2;
			http_fdbudget_init((uint32_t)v);
			break;
		case 's':
			if (num(optarg, 86400, &v) < 0 || v == 0)
				return 2;
			seconds = v;
			break;
		case 'q':
			lb_log_set_level(LOG_WARNING);
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc ||
	    lb_addr_port_parse(listen_at, &addr, &port, false) < 0) {
		usage();
		return 2;
	}
	base = event_base_new();
	if (base == NULL)
		return 1;
	srv = http_server_new(base, &lim, &h, NULL);
	if (srv == NULL) {
		LB_ERR("http_server_new: %s", strerror(errno));
		return 1;
	}
	rc = http_server_listen(srv, &addr, port);
	if (rc < 0) {
		LB_ERR("listen %s: %s", listen_at, strerror(-rc));
		return 1;
	}
	if (port_file != NULL) {
		FILE *f = fopen(port_file, "w");

		if (f == NULL ||
		    fprintf(f, "%u\n", http_server_port(srv)) < 0 ||
		    fclose(f) != 0) {
			LB_ERR("%s: %s", port_file, strerror(errno));
			return 1;
		}
	}
	sig_term = evsignal_new(base, SIGTERM, on_stop, base);
	sig_int = evsignal_new(base, SIGINT, on_stop, base);
	deadline = evtimer_new(base, on_stop, base);
	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = 0;
	if (sig_term == NULL || sig_int == NULL || deadline == NULL ||
	    event_add(sig_term, NULL) < 0 || event_add(sig_int, NULL) < 0 ||
	    event_add(deadline, &tv) < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	LB_INFO("serving on port %u", http_server_port(srv));
	event_base_dispatch(base);
	event_free(sig_term);
	event_free(sig_int);
	event_free(deadline);
	http_server_free(srv);
	event_base_free(base);
	return 0;
}
