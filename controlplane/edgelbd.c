/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelbd: the edgelb control-plane daemon. Reads the INI file, checks
 * backends, serves ctl.sock and /metrics, and keeps the dataplane's
 * services equal to the desired state.
 *
 *   edgelbd -c FILE [-f] [--check] [-h]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "http_fdbudget.h"
#include "modules.h"
#include "edgelb/log.h"

#define DEFAULT_CONFIG "/etc/edgelb/edgelb.ini"

/* Backends with a health check: each holds a socket while checked. */
static uint32_t
health_targets(const struct cfg *c)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < c->nservices; i++)
		if (c->services[i].check[0] != '\0')
			n += c->services[i].nbackends;
	return n;
}

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: edgelbd [-c FILE] [-f] [--check]\n"
		"  -c, --config FILE  configuration (default " DEFAULT_CONFIG
		")\n"
		"  -f, --foreground   log to stderr, whatever log_target says\n"
		"      --check        validate FILE and exit: 0 valid, 1 not\n"
		"  -V, --version      print the version\n"
		"  -h, --help         this text\n"
		"Signals: SIGHUP reloads FILE and applies the difference;\n"
		"SIGTERM and SIGINT exit.\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 'k' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = DEFAULT_CONFIG;
	const struct cfg_module_ops *mods[CFG_MAX_MODULES];
	bool check = false, foreground = false;
	struct cfg_errors e = { 0 };
	struct lbd d;
	struct cfg *c;
	size_t nmods;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "c:fVh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'k':
			check = true;
			break;
		case 'V':
			printf("edgelbd " EDGELB_VERSION "\n");
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	nmods = lbd_cfg_modules(mods);
	if (check)
		return cfg_check_file(path, mods, nmods, stdout) == 0 ? 0 : 1;

	lb_log_init("edgelbd", LOG_INFO, false);
	c = cfg_load(path, mods, nmods, &e);
	for (size_t i = 0; i < e.n; i++)
		LB_ERR("%s", e.msg[i]);
	cfg_errors_free(&e);
	if (c == NULL)
		return 1;
	lb_log_init("edgelbd", c->log_level, c->log_syslog && !foreground);
	http_fdbudget_init(http_fdbudget_reserve_for(health_targets(c)));
	rc = lbd_init(&d, path, c);
	if (rc < 0)
		return 1;
	rc = lbd_run(&d);
	lbd_fini(&d);
	return rc < 0 ? 1 : 0;
}
