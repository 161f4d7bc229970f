/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelb-dp: the DPDK dataplane process.
 *
 *   edgelb-dp [EAL options] -- -c FILE [--socket PATH] [--help]
 *
 * Start-up: load and validate the INI file (before EAL, so that a bad
 * file fails fast and names its line), initialise EAL, build the tables,
 * bring up the ports, apply the static addresses and routes, open
 * dp.sock, start the ports and launch one worker per worker lcore. The
 * main lcore then runs the control loop (dp.sock, ARP/neighbour work,
 * RCU reclamation) until SIGINT/SIGTERM, and shuts down in reverse order
 * (stopping the ports flushes pcap writers).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "edgelb/log.h"
#include "arp.h"
#include "ctrl.h"
#include "dp.h"
#include "fwd.h"
#include "ipfrag.h"
#include "neigh.h"
#include "port.h"
#include "route.h"
#include "stats.h"
#include "svc.h"
#include "worker.h"
#include "xdp.h"
#include "edgelb/util.h"

#define CTRL_POLL_MS   10
#define NEIGH_TIMER_MS 100
#define ARP_RING_SIZE  1024
#define PEND_RING_SIZE 4096
#define MBUF_CACHE     256

/* The one context of the process; the signal handler sets its quit flag. */
static struct dp_ctx *dp_main;

static void
usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [EAL options] -- -c FILE [--socket PATH] [--help]\n"
		"\n"
		"edgelb dataplane: DPDK ports, workers and the dp.sock control "
		"socket.\n"
		"\n"
		"  -c, --config FILE   INI file ([dataplane], [port NAME])\n"
		"  -s, --socket PATH   control socket (default: [dataplane] "
		"socket,\n"
		"                      else %s)\n"
		"  -h, --help          this text\n"
		"\n"
		"EAL options come before '--', e.g. -l 0,1 (lcore 0 runs the "
		"control\n"
		"thread, each other lcore a worker), --no-huge -m 512 without "
		"hugepages,\n"
		"--no-pci for vdev-only set-ups. See docs/dataplane.md.\n",
		prog, LB_DEFAULT_DP_SOCKET);
}

static void
on_signal(int sig)
{
	(void)sig;
	if (dp_main != NULL)
		__atomic_store_n(&dp_main->quit, 1, __ATOMIC_RELAXED);
}

/* Our options after "--". Returns 0, 1 (help shown) or -EINVAL. */
static int
parse_args(int argc, char **argv, const char **config, const char **sock)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			*config = optarg;
			break;
		case 's':
			*sock = optarg;
			break;
		case 'h':
			return 1;
		default:
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "edgelb-dp: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	if (*config == NULL) {
		fprintf(stderr, "edgelb-dp: -c FILE is required\n");
		return -EINVAL;
	}
	return 0;
}

static bool
has_arg(int argc, char **argv, const char *a)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], a) == 0)
			return true;
	return false;
}

/* Explain the usual reason EAL fails: no hugepages. */
static void
eal_failed(int argc, char **argv)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long total = 1;
	char line[128];

	fprintf(stderr, "edgelb-dp: EAL initialisation failed: %s\n",
		rte_strerror(rte_errno));
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "HugePages_Total: %lu", &total) == 1)
			break;
	if (f != NULL)
		fclose(f);
	if (total == 0 && !has_arg(argc, argv, "--no-huge"))
		fprintf(stderr,
			"edgelb-dp: no hugepages are reserved: reserve some "
			"(echo 512 > /proc/sys/vm/nr_hugepages and mount "
			"hugetlbfs) or run with the EAL options --no-huge "
			"-m 512\n");
}

static void
dq_free(void *p, void *e, unsigned int n)
{
	(void)p;
	for (unsigned int i = 0; i < n; i++)
		rte_free(((void **)e)[i]);
}

static int
rcu_init(struct dp_ctx *dp)
{
	size_t sz = rte_rcu_qsbr_get_memsize(dp->nworkers);
	struct rte_rcu_qsbr_dq_parameters dqp = {
		.name = "dp_dq",
		.size = 4096,
		.esize = sizeof(void *),
		.trigger_reclaim_limit = 64,
		.max_reclaim_size = 256,
		.free_fn = dq_free,
	};

	dp->qsv = rte_zmalloc("dp_qsv", sz, RTE_CACHE_LINE_SIZE);
	if (dp->qsv == NULL || rte_rcu_qsbr_init(dp->qsv, dp->nworkers) != 0)
		return -ENOMEM;
	dqp.v = dp->qsv;
	dp->dq = rte_rcu_qsbr_dq_create(&dqp);
	return dp->dq == NULL ? -ENOMEM : 0;
}

/* Tables, rings and the service table. 0 or -errno with err set. */
static int
tables_init(struct dp_ctx *dp, char *err, size_t errlen)
{
	struct svc_table_conf sc = {
		.nworkers = dp->nworkers,
		.max_services = dp->conf.max_services,
		.max_backends = dp->conf.max_backends,
		.socket_id = (int)rte_socket_id(),
	};

	dp->pool = rte_pktmbuf_pool_create(
		"dp_mbuf", dp->conf.mbufs, MBUF_CACHE, 0,
		RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (dp->pool == NULL) {
		snprintf(err, errlen,
			 "mbuf pool of %u: %s (lower [dataplane] "
			 "mbufs or give EAL more memory with -m)",
			 dp->conf.mbufs, rte_strerror(rte_errno));
		return -ENOMEM;
	}
	if (rcu_init(dp) < 0 || worker_init(dp) < 0 || stats_init(dp) < 0 ||
	    port_addrs_init(dp) < 0)
		goto nomem;
	dp->route = route_create(dp->conf.max_routes, dp->qsv,
				 (int)rte_socket_id());
	if (dp->route == NULL || neigh_create(dp) == NULL)
		goto nomem;
	dp->arp_ring = rte_ring_create("dp_arp", ARP_RING_SIZE,
				       (int)rte_socket_id(), RING_F_SC_DEQ);
	dp->pend_ring = rte_ring_create("dp_pend", PEND_RING_SIZE,
					(int)rte_socket_id(), RING_F_SC_DEQ);
	if (dp->arp_ring == NULL || dp->pend_ring == NULL)
		goto nomem;
	dp->svc = svc_table_create(&sc);
	if (dp->svc == NULL) {
		snprintf(err, errlen,
			 "service table (max_services %u, "
			 "max_backends %u): %s",
			 sc.max_services, sc.max_backends, strerror(errno));
		return -errno;
	}
	/* gratuitous ARP, then the XDP steering map */
	svc_table_set_addr_cb(dp->svc, xdp_svc_addr_cb, dp);
	return 0;
nomem:
	snprintf(err, errlen,
		 "out of memory building the tables (give EAL "
		 "more memory with -m, or lower [dataplane] max_conns)");
	return -ENOMEM;
}

/* Port addresses and static routes from the file. */
static int
apply_static(struct dp_ctx *dp, char *err, size_t errlen)
{
	const struct dpconf *c = &dp->conf;
	char why[128];
	int rc;

	for (unsigned int i = 0; i < c->nports; i++)
		for (unsigned int j = 0; j < c->ports[i].naddrs; j++) {
			const struct dpconf_addr *a = &c->ports[i].addrs[j];

			rc = port_addr_add(dp, (uint16_t)i, a->addr, a->plen,
					   why, sizeof(why));
			if (rc == 0)
				arp_send_garp(dp, (uint16_t)i, a->addr);
			if (rc < 0) {
				snprintf(err, errlen,
					 "%s:%d: [port %s] "
					 "address: %s",
					 dp->conf_path, a->line,
					 c->ports[i].name, why);
				return rc;
			}
		}
	for (unsigned int i = 0; i < c->nroutes; i++) {
		const struct dpconf_route *r = &c->routes[i];
		uint32_t nh = 0;
		uint16_t port = 0;
		int p = r->dev[0] != '\0' ? port_find(dp, r->dev) : -1;

		if (p < 0 && (route_lookup(dp->route, r->gw, &port, &nh) < 0 ||
			      nh != r->gw)) {
			snprintf(err, errlen,
				 "%s:%d: [dataplane] route: "
				 "gateway is not on a port's subnet",
				 dp->conf_path, r->line);
			return -ENETUNREACH;
		}
		if (p < 0)
			p = port;
		rc = route_add(dp->route, r->dst, r->plen, r->gw, (uint16_t)p);
		if (rc < 0) {
			snprintf(err, errlen, "%s:%d: [dataplane] route: %s",
				 dp->conf_path, r->line,
				 rc == -EEXIST ? "duplicate prefix"
					       : strerror(-rc));
			return rc;
		}
		if (r->gw != 0)
			neigh_probe(dp->neigh, (uint16_t)p, r->gw);
	}
	return 0;
}

static void
control_loop(struct dp_ctx *dp)
{
	uint64_t next_timer = 0;

	while (!__atomic_load_n(&dp->quit, __ATOMIC_RELAXED)) {
		uint64_t now;

		if (ctrl_poll(dp, CTRL_POLL_MS) < 0)
			LB_WARN("control socket: %s", strerror(errno));
		neigh_arp_drain(dp->neigh);
		xdp_poll(dp);
		neigh_drain(dp->neigh);
		now = lb_now_ms();
		if (now >= next_timer) {
			neigh_timer(dp->neigh, now);
			next_timer = now + NEIGH_TIMER_MS;
		}
		svc_table_reclaim(dp->svc);
		rte_rcu_qsbr_dq_reclaim(dp->dq, UINT32_MAX, NULL, NULL, NULL);
	}
}

static void
teardown(struct dp_ctx *dp)
{
	struct rte_mbuf *m = NULL;

	ctrl_close(dp);
	xdp_fini(dp);
	port_close_all(dp);
	ipfrag_fini(dp); /* the fragments it holds go back to the pool */
	fwd_fini(dp);	 /* before the service table its gauges live in */
	if (dp->svc != NULL)
		svc_table_destroy(dp->svc);
	neigh_destroy(dp->neigh);
	route_destroy(dp->route);
	while (dp->arp_ring != NULL &&
	       rte_ring_dequeue(dp->arp_ring, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	while (dp->pend_ring != NULL &&
	       rte_ring_dequeue(dp->pend_ring, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(dp->arp_ring);
	rte_ring_free(dp->pend_ring);
	port_addrs_fini(dp);
	if (dp->dq != NULL) {
		rte_rcu_qsbr_dq_reclaim(dp->dq, UINT32_MAX, NULL, NULL, NULL);
		rte_rcu_qsbr_dq_delete(dp->dq);
	}
	rte_free(dp->qsv);
	stats_fini(dp);
	worker_fini(dp);
	rte_mempool_free(dp->pool);
}

int
main(int argc, char **argv)
{
	static struct dp_ctx dp;
	const char *config = NULL, *sock = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	char err[512];
	int dashdash = argc, rc, status = EXIT_FAILURE;
	unsigned int lcore;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dashdash = i;
			break;
		}
	if (has_arg(argc, argv, "--help") || has_arg(argc, argv, "-h")) {
		usage(stdout, argv[0]);
		return EXIT_SUCCESS;
	}
	argv[dashdash < argc ? dashdash : 0] = argv[0];
	rc = parse_args(dashdash < argc ? argc - dashdash : 1,
			dashdash < argc ? argv + dashdash : argv, &config,
			&sock);
	if (rc < 0) {
		usage(stderr, argv[0]);
		return 2;
	}
	dpconf_defaults(&dp.conf);
	dp.conf_path = config;
	if (dpconf_load(&dp.conf, config, err, sizeof(err)) < 0) {
		fprintf(stderr, "edgelb-dp: %s\n", err);
		return EXIT_FAILURE;
	}
	if (sock != NULL)
		snprintf(dp.conf.socket, sizeof(dp.conf.socket), "%s", sock);
	if (dp.conf.nports == 0) {
		fprintf(stderr, "edgelb-dp: %s: no [port NAME] section\n",
			config);
		return EXIT_FAILURE;
	}
	dp.tmo = dp.conf.tmo;
	lb_log_init("edgelb-dp", dp.conf.log_level, false);

	rc = rte_eal_init(dashdash, argv);
	if (rc < 0) {
		eal_failed(dashdash, argv);
		return EXIT_FAILURE;
	}
	dp_main = &dp;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	dp.main_lcore = rte_get_main_lcore();
	dp.nworkers = rte_lcore_count() - 1;
	if (dp.nworkers == 0 || dp.nworkers > DP_MAX_WORKERS) {
		fprintf(stderr,
			"edgelb-dp: need 1..%d worker lcores besides the main "
			"one (e.g. EAL -l 0,1), have %u\n",
			DP_MAX_WORKERS, dp.nworkers);
		goto out;
	}
	if (tables_init(&dp, err, sizeof(err)) < 0)
		goto fail;
	if (xdp_init(&dp, err, sizeof(err)) < 0) /* edits af_xdp devargs */
		goto fail;
	for (unsigned int i = 0; i < dp.conf.nports; i++) {
		if (port_open(&dp, &dp.conf.ports[i], i, err, sizeof(err)) < 0)
			goto fail;
		dp.nports++;
	}
	if (apply_static(&dp, err, sizeof(err)) < 0)
		goto fail;
	if (ctrl_open(&dp, err, sizeof(err)) < 0)
		goto fail;
	if (port_start_all(&dp, err, sizeof(err)) < 0)
		goto fail;
	if (xdp_start(&dp, err, sizeof(err)) < 0)
		goto fail;
	if (fwd_init(&dp) < 0) {
		snprintf(err, sizeof(err),
			 "connection tables: out of memory (give EAL "
			 "more memory with -m, or lower [dataplane] "
			 "max_conns)");
		goto fail;
	}
	if (ipfrag_init(&dp, err, sizeof(err)) < 0)
		goto fail;
	dp.rx_enabled = !dp.conf.wait_config;
	for (unsigned int i = 0; i < dp.nworkers; i++)
		rte_eal_remote_launch(worker_main, &dp.workers[i],
				      dp.workers[i].lcore);
	LB_NOTICE("running: %u worker(s), %u port(s), control socket %s%s",
		  dp.nworkers, dp.nports, dp.conf.socket,
		  dp.rx_enabled ? "" : "; RX held until CONFIG_SET");
	control_loop(&dp);
	LB_NOTICE("shutting down");
	RTE_LCORE_FOREACH_WORKER (lcore)
		rte_eal_wait_lcore(lcore);
	status = EXIT_SUCCESS;
	goto out;
fail:
	fprintf(stderr, "edgelb-dp: %s\n", err);
	__atomic_store_n(&dp.quit, 1, __ATOMIC_RELAXED);
	RTE_LCORE_FOREACH_WORKER (lcore)
		rte_eal_wait_lcore(lcore);
out:
	teardown(&dp);
	rte_eal_cleanup();
	return status;
}
