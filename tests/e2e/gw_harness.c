/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gw_harness: the gateway library (controlplane/gateway) on one
 * http_server loop, for the e2e labs that run before edgelbd serves a
 * [gateway] (tests/e2e/gateway_proto.sh uses edgelbd when it can).
 *
 *   gw_harness CONF PORTFILE STATSFILE [CERT KEY]
 *
 * CONF: one key a line, "SECTION NAME KEY VALUE..." (the arguments of
 * gw_conf_key; '#' lines and empty ones skipped). Listens on 127.0.0.1,
 * a free port (HTTP/1.1 and h2c), and with CERT and KEY (PEM) a second
 * one with TLS (ALPN h2 or http/1.1); their ports are written to
 * PORTFILE, a line each, once both listen.
 * SIGUSR1 writes the proxy's and the server's counters to STATSFILE as
 * "name value" lines; SIGTERM or SIGINT stops. Exit 0, or 1 with a
 * message on a configuration or start failure.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

#include "gw_proxy.h"

struct harness {
	struct event_base *base;
	struct http_server *srv;
	struct http_server *tsrv; /* TLS, when given a certificate */
	struct gw_proxy *proxy;
	const char *stats_path;
};

static int
load(const char *path, struct gw_conf *c)
{
	char line[1024], err[256];
	unsigned lineno = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		fprintf(stderr, "gw_harness: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *sec, *name, *key, *val, *save = NULL;
		size_t n = strlen(line);

		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		sec = strtok_r(line, " \t", &save);
		if (sec == NULL || sec[0] == '#')
			continue;
		name = strtok_r(NULL, " \t", &save);
		key = strtok_r(NULL, " \t", &save);
		val = strtok_r(NULL, "", &save);
		if (name == NULL || key == NULL || val == NULL) {
			fprintf(stderr,
				"gw_harness: %s:%u: want SECTION NAME "
				"KEY VALUE\n",
				path, lineno);
			goto err;
		}
		if (gw_conf_key(c, sec, name, key, val, err, sizeof(err)) < 0) {
			fprintf(stderr, "gw_harness: %s:%u: %s\n", path, lineno,
				err);
			goto err;
		}
	}
	fclose(f);
	return 0;
err:
	fclose(f);
	return -1;
}

static void
write_stats(struct harness *h)
{
	const struct gw_proxy_stats *p = gw_proxy_stats(h->proxy);
	struct http_stats s = { 0 };
	char tmp[512];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", h->stats_path);
	http_server_stats_read(h->srv, &s);
	if (h->tsrv != NULL)
		http_server_stats_read(h->tsrv, &s);
	f = fopen(tmp, "w");
	if (f == NULL)
		return;
#define P(n, v) fprintf(f, "%s %llu\n", n, (unsigned long long)(v))
	P("requests", p->requests);
	P("active", p->active);
	P("ws_upgrades", p->ws_upgrades);
	P("ws_active", p->ws_active);
	P("ws_refused", p->ws_refused);
	P("ws_failed", p->ws_failed);
	P("ws_early", p->ws_early);
	P("ws_bytes_up", p->ws_bytes_up);
	P("ws_bytes_down", p->ws_bytes_down);
	P("ws_held", p->ws_held);
	P("ws_idle_closes", p->ws_idle_closes);
	P("grpc_errors", p->grpc_errors);
	P("trailers_in", p->trailers_in);
	P("trailers_out", p->trailers_out);
	P("http_upgrades", s.upgrades);
	P("http_trailers_in", s.trailers_in);
	P("http_conns_open", s.conns_open);
	P("http_bad_requests", s.bad_requests);
#undef P
	fclose(f);
	rename(tmp, h->stats_path);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct harness *h = arg;

	(void)what;
	if (sig == SIGUSR1) {
		write_stats(h);
		return;
	}
	event_base_loopexit(h->base, NULL);
}

int
main(int argc, char **argv)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGUSR1 };
	struct event *sev[3] = { NULL, NULL, NULL };
	struct harness h = { 0 };
	struct http_limits lim = http_default_limits;
	struct gw_router *router = NULL;
	struct gw_table *t;
	struct lb_addr lo;
	struct gw_conf c;
	char err[256];
	int rc = 1;
	FILE *f;

	if (argc != 4 && argc != 6) {
		fprintf(stderr, "usage: gw_harness CONF PORTFILE STATSFILE "
				"[CERT KEY]\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	h.stats_path = argv[3];
	gw_conf_init(&c);
	if (load(argv[1], &c) < 0) {
		gw_conf_fini(&c);
		return 1;
	}
	t = gw_table_build(&c, err, sizeof(err));
	gw_conf_fini(&c);
	if (t == NULL) {
		fprintf(stderr, "gw_harness: %s\n", err);
		return 1;
	}
	router = gw_router_new();
	h.base = event_base_new();
	if (router == NULL || h.base == NULL) {
		gw_table_put(t);
		goto out;
	}
	gw_router_publish(router, t);
	h.proxy = gw_proxy_new(h.base, router, NULL);
	lim.max_body_bytes = 64u * 1024 * 1024;
	h.srv = h.proxy != NULL ? http_server_new(h.base, &lim,
						  &gw_proxy_handler, h.proxy)
				: NULL;
	lb_addr_parse("127.0.0.1", &lo);
	if (h.srv == NULL || http_server_listen(h.srv, &lo, 0) < 0) {
		fprintf(stderr, "gw_harness: cannot start the gateway\n");
		goto out;
	}
	if (argc == 6) {
		/* a server of its own, for its port; the same proxy */
		struct http_tls_cert cert = { NULL, argv[4], argv[5] };
		struct http_tls tls = { &cert, 1 };

		h.tsrv = http_server_new(h.base, &lim, &gw_proxy_handler,
					 h.proxy);
		if (h.tsrv == NULL ||
		    http_server_listen_tls(h.tsrv, &lo, 0, &tls) < 0) {
			fprintf(stderr, "gw_harness: TLS listener failed\n");
			goto out;
		}
	}
	for (size_t i = 0; i < 3; i++) {
		sev[i] = evsignal_new(h.base, sigs[i], on_signal, &h);
		if (sev[i] == NULL || event_add(sev[i], NULL) < 0)
			goto out;
	}
	f = fopen(argv[2], "w");
	if (f == NULL || fprintf(f, "%u\n", http_server_port(h.srv)) < 0 ||
	    (h.tsrv != NULL &&
	     fprintf(f, "%u\n", http_server_port(h.tsrv)) < 0) ||
	    fclose(f) != 0) {
		fprintf(stderr, "gw_harness: %s: cannot write\n", argv[2]);
		goto out;
	}
	event_base_dispatch(h.base);
	rc = 0;
out:
	for (size_t i = 0; i < 3; i++)
		if (sev[i] != NULL)
			event_free(sev[i]);
	http_server_free(h.srv);
	http_server_free(h.tsrv);
	gw_proxy_free(h.proxy);
	gw_router_free(router);
	if (h.base != NULL)
		event_base_free(h.base);
	return rc;
}
