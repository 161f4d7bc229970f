/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelb-dp's command line and start-up errors: --help, INI errors that
 * name FILE:LINE, a bad devargs, and (when the machine has no hugepages)
 * the hint to use --no-huge. A table of {description, INI, extra EAL
 * arguments, expected exit status, text expected in the output}.
 *
 * usage: test_dp_cli /path/to/edgelb-dp
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dp_harness.h"

struct cli_case {
	const char *desc;
	const char *ini;   /* NULL: --help run */
	bool huge;	   /* run without --no-huge */
	bool want_success; /* exit 0 expected, else non-zero */
	const char *want;  /* substring of the output; @DIR@ = temp dir */
};

#define PORT_OK                                                                \
	"[port p0]\n"                                                          \
	"devargs = net_pcap0,rx_pcap=@DIR@/in.pcap,tx_pcap=@DIR@/out.pcap\n"

static const struct cli_case cases[] = {
	{ "--help", NULL, false, true, "usage: " },
	{ "unknown key", "[dataplane]\nmax_services = 8\nbogus = 1\n" PORT_OK,
	  false, false, "@DIR@/dp.ini:3: [dataplane] bogus: unknown key" },
	{ "unknown section", "[global]\nx = 1\n\n[frobnicate]\na = b\n", false,
	  false, "@DIR@/dp.ini:5: unknown section [frobnicate]" },
	{ "bad number", PORT_OK "[dataplane]\nmax_routes = lots\n", false,
	  false, "@DIR@/dp.ini:4: [dataplane] max_routes:" },
	{ "max_conns too small", PORT_OK "[dataplane]\nmax_conns = 63\n", false,
	  false,
	  "@DIR@/dp.ini:4: [dataplane] max_conns: '63' is not a number in "
	  "[64, 33554432]" },
	{ "max_conns not a number", "[dataplane]\nmax_conns = -1\n" PORT_OK,
	  false, false, "@DIR@/dp.ini:2: [dataplane] max_conns:" },
	{ "icmp_burst 0",
	  PORT_OK "[dataplane]\nicmp_rate = 0\nicmp_burst = 0\n", false, false,
	  "@DIR@/dp.ini:5: [dataplane] icmp_burst: '0' is not a number in "
	  "[1, 10000000]" },
	{ "icmp_dest_rate too big",
	  "[dataplane]\nicmp_dest_rate = 10000001\n" PORT_OK, false, false,
	  "@DIR@/dp.ini:2: [dataplane] icmp_dest_rate: '10000001' is not a "
	  "number in [0, 10000000]" },
	{ "bad address", PORT_OK "address = 10.0.0.1/40\n", false, false,
	  "@DIR@/dp.ini:3: [port p0] address:" },
	{ "overlapping addresses",
	  PORT_OK "address = 10.0.0.1/24\n[port p1]\ndevargs = net_null0\n"
		  "address = 10.0.0.2/16\n",
	  false, false, "@DIR@/dp.ini:6: [port p1] address: overlaps port p0" },
	{ "route to an unknown port",
	  "[dataplane]\nroute = 10.9.0.0/16 via 10.0.0.254 dev p9\n" PORT_OK,
	  false, false, "@DIR@/dp.ini:2: [dataplane] route: no [port p9]" },
	{ "bad devargs", "[port p0]\ndevargs = net_nosuchdriver0,x=1\n", false,
	  false, "port p0: cannot probe 'net_nosuchdriver0,x=1'" },
	{ "no hugepages", PORT_OK, true, false, "--no-huge" },
};

static char dir[128];

static void
subst(const char *in, char *out, size_t len)
{
	const char *q;
	size_t n = 0;

	out[0] = '\0';
	while ((q = strstr(in, "@DIR@")) != NULL && n < len) {
		n += (size_t)snprintf(out + n, len - n, "%.*s%s", (int)(q - in),
				      in, dir);
		in = q + 5;
	}
	if (n < len)
		snprintf(out + n, len - n, "%s", in);
}

static bool
hugepages_reserved(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long total = 0;
	char line[128];

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "HugePages_Total: %lu", &total) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return total > 0;
}

/* Run bin, output into dir/out.txt; returns the exit status or -1. */
static int
run(const char *bin, const struct cli_case *c, char *out, size_t outlen)
{
	char ini[192], txt[192];
	int status, fd;
	pid_t pid;
	FILE *f;
	size_t n;

	snprintf(ini, sizeof(ini), "%s/dp.ini", dir);
	snprintf(txt, sizeof(txt), "%s/out.txt", dir);
	pid = fork();
	if (pid == 0) {
		fd = open(txt, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		if (c->ini == NULL)
			execl(bin, bin, "--help", (char *)NULL);
		else if (c->huge)
			execl(bin, bin, "-m", "64", "--no-pci", "--in-memory",
			      "-l", "0,1", "--", "-c", ini, (char *)NULL);
		else
			execl(bin, bin, DP_TEST_EAL, "--", "-c", ini,
			      (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	f = fopen(txt, "r");
	n = f != NULL ? fread(out, 1, outlen - 1, f) : 0;
	out[n] = '\0';
	if (f != NULL)
		fclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
main(int argc, char **argv)
{
	static char out[65536], want[512], text[1024];
	static struct dp_run r;
	size_t n = sizeof(cases) / sizeof(cases[0]);

	if (argc != 2) {
		fprintf(stderr, "usage: %s EDGELB_DP_BINARY\n", argv[0]);
		return 2;
	}
	alarm(120);
	dp_run_init(&r);
	snprintf(dir, sizeof(dir), "%s", r.dir);
	/* an empty capture for the ports that get as far as probing */
	fclose(fopen(dp_run_file(&r, "in.pcap"), "w"));
	for (size_t i = 0; i < n; i++) {
		const struct cli_case *c = &cases[i];
		int status;

		if (c->huge && hugepages_reserved()) {
			printf("skip: %s (hugepages are reserved here)\n",
			       c->desc);
			continue;
		}
		if (c->ini != NULL) {
			FILE *f = fopen(dp_run_file(&r, "dp.ini"), "w");

			subst(c->ini, text, sizeof(text));
			fputs(text, f);
			fclose(f);
		}
		status = run(argv[1], c, out, sizeof(out));
		subst(c->want, want, sizeof(want));
		CHECK(c->want_success ? status == 0 : status > 0,
		      "%s: exit status %d", c->desc, status);
		CHECK(strstr(out, want) != NULL,
		      "%s: output lacks '%s'; it was:\n%s", c->desc, want, out);
		CHECK(strstr(out, "Segmentation") == NULL &&
			      strstr(out, "PANIC") == NULL,
		      "%s: crashed", c->desc);
	}
	printf("%s: %zu cases, %d failures\n", argv[0], n, dp_failures);
	return dp_failures == 0 ? 0 : 1;
}
