/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbctl's help texts: the full usage (--help) and one text per object
 * ("lbctl service help"). lbctl(8) is the long form of the same.
 */
#include <stdio.h>
#include <string.h>

#include "lbctl_args.h"

static const struct {
	const char *object;
	const char *text;
} helps[] = {
	{ "service",
	  "Usage: lbctl service show [[tcp|udp] VIP:PORT]\n"
	  "       lbctl service add [tcp|udp] VIP[:PORT] [mode "
	  "dr|nat|tunnel|fnat]\n"
	  "                 [sched NAME] [persist SEC] [toa] [proxy-v2] "
	  "[sh-port]\n"
	  "                 [udp-drain] [synproxy on|off|auto] [mh-adopt]\n"
	  "                 [mh-size N] [name NAME]\n"
	  "                 [max-conns N] [conn-rate N] [syn-src-rate N]\n"
	  "       lbctl service set [tcp|udp] VIP[:PORT] OPTIONS... (as add; a "
	  "flag\n"
	  "                 word replaces the flags, noflags clears them)\n"
	  "       lbctl service del [tcp|udp] VIP[:PORT]\n"
	  "       lbctl service flush\n"
	  "The protocol defaults to tcp; port 0 or none means any port.\n"
	  "Limits (0 = none): max-conns connections, conn-rate new "
	  "connections/s,\n"
	  "syn-src-rate SYNs/s from one source (tcp).\n" },
	{ "backend", "Usage: lbctl backend show [[tcp|udp] VIP:PORT]\n"
		     "       lbctl backend add [tcp|udp] VIP:PORT ADDR[:PORT] "
		     "[weight N] [mode M]\n"
		     "                 [u-threshold N] [l-threshold N]\n"
		     "       lbctl backend set [tcp|udp] VIP:PORT ADDR[:PORT] "
		     "[weight N] [mode M]\n"
		     "                 [u-threshold N] [l-threshold N]\n"
		     "       lbctl backend del [tcp|udp] VIP:PORT ADDR[:PORT]\n"
		     "The backend port defaults to the service's; weight "
		     "0-65535, 0 drains;\n"
		     "without mode the backend uses the service's mode.\n"
		     "Over u-threshold connections it takes no new ones "
		     "until below\n"
		     "l-threshold (0: 3/4 of u-threshold).\n" },
	{ "laddr", "Usage: lbctl laddr show [[tcp|udp] VIP:PORT]\n"
		   "       lbctl laddr add|del [tcp|udp] VIP:PORT ADDR\n"
		   "FULL-NAT local (source) addresses of a service.\n" },
	{ "route",
	  "Usage: lbctl route show\n"
	  "       lbctl route add|del PREFIX [via GATEWAY] [dev PORT]\n" },
	{ "neigh", "Usage: lbctl neigh show\n"
		   "       lbctl neigh add ADDR lladdr MAC dev PORT\n"
		   "       lbctl neigh del ADDR [dev PORT]\n" },
	{ "addr", "Usage: lbctl addr show\n"
		  "       lbctl addr add|del ADDR/PLEN dev PORT\n"
		  "Addresses of the dataplane's ports.\n" },
	{ "port", "Usage: lbctl port show\n" },
	{ "stats",
	  "Usage: lbctl stats [show] [-w SECONDS] [--count N]\n"
	  "       lbctl stats zero\n"
	  "-w redraws every SECONDS; --count stops after N rounds.\n" },
	{ "conn", "Usage: lbctl conn show\n" },
	{ "health", "Usage: lbctl health show    (edgelbd only)\n" },
	{ "config", "Usage: lbctl config show\n"
		    "       lbctl config set KEY SECONDS [KEY SECONDS]...\n"
		    "Keys: timeout-syn-recv timeout-tcp-est timeout-fin-wait\n"
		    "      timeout-time-wait timeout-close timeout-udp\n" },
	{ "save",
	  "Usage: lbctl save    (edgelbd only: write the state file)\n" },
	{ "module", "Usage: lbctl module show [NAME]    (edgelbd only)\n"
		    "The daemon's modules and their state: running, "
		    "draining, drained\n"
		    "(SIGTERM), or reserved (section known, not in this "
		    "build).\n" },
	{ "api",
	  "Usage: lbctl api create NAME --file ROUTES.ini   (a new draft)\n"
	  "       lbctl api diff NAME [--stage S] [--version N]\n"
	  "       lbctl api publish NAME --stage S [--version N]\n"
	  "       lbctl api rollback NAME --stage S --version N\n"
	  "       lbctl api deprecate NAME --version N [--sunset DATE]\n"
	  "       lbctl api retire NAME --version N\n"
	  "       lbctl api history NAME [--limit N]\n"
	  "       lbctl api list\n"
	  "       lbctl api show NAME [--version N | --stage S]\n"
	  "       lbctl api cache purge [--filter NAME] [--prefix PATH]\n"
	  "       lbctl api cache stats\n"
	  "       lbctl api degrade [ROUTE on|off]\n"
	  "The gateway's APIs (edgelbd with [gateway] api_db): versions of\n"
	  "[route]/[upstream] sections published to stages. publish without\n"
	  "--version turns the draft into the next version. DATE is\n"
	  "YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @UNIXTIME.\n" },
	{ "push", "Usage: lbctl push devices [limit N]\n"
		  "       lbctl push queue DEVICE [limit N]\n"
		  "       lbctl push message ID [limit N]\n"
		  "The push service (edgelbd with [push]): devices online (N "
		  "listed,\n"
		  "default 100, at most 1000), a device's queue (depth and "
		  "its oldest\n"
		  "entries) and a message's status on each device.\n" },
	{ "node",
	  "Usage: lbctl node drain|undrain|status\n"
	  "This node's BGP announcements (edgelbd with [bgp]): drain\n"
	  "announces the VIPs with the graceful-shutdown community, then\n"
	  "withdraws them once no connection is active or drain_grace\n"
	  "passed; the node stays drained until undrain.\n" },
	{ "ipvsadm", "ipvsadm syntax (when the first word starts with '-'):\n"
		     "  lbctl -A|-E -t|-u VIP[:PORT] [-s SCHED] [-p [TIMEOUT]] "
		     "[-g|-m|-i|--fnat]\n"
		     "  lbctl -D -t|-u VIP[:PORT]\n"
		     "  lbctl -C\n"
		     "  lbctl -a|-e -t|-u VIP[:PORT] -r RIP[:PORT] "
		     "[-g|-m|-i|--fnat] [-w WEIGHT]\n"
		     "  lbctl -d -t|-u VIP[:PORT] -r RIP[:PORT]\n"
		     "  lbctl -L|-l [-n] [--stats|--rate] [--exact] [-c] "
		     "[-t|-u VIP[:PORT]]\n"
		     "  lbctl -Z\n"
		     "  lbctl -S [-n]\n"
		     "  lbctl --set TCP TCPFIN UDP\n" },
};

static const char usage[] =
	"Usage: lbctl [OPTIONS] OBJECT [COMMAND] [ARGS]\n"
	"       lbctl [OPTIONS] IPVSADM-OPTIONS   (ipvsadm syntax, see below)\n"
	"\n"
	"Objects (any unique prefix works, as with ip):\n"
	"  service  add|del|set|show|flush   virtual services\n"
	"  backend  add|del|set|show         real servers of a service\n"
	"  laddr    add|del|show             FULL-NAT local addresses\n"
	"  route    add|del|show             dataplane routes\n"
	"  neigh    add|del|show             dataplane neighbours\n"
	"  addr     add|del|show             addresses of dataplane ports\n"
	"  port     show                     dataplane ports\n"
	"  stats    [show]|zero              counters\n"
	"  conn     show                     connections\n"
	"  health   show                     health checks (edgelbd only)\n"
	"  config   show|set                 timeouts\n"
	"  save                              write the state file (edgelbd "
	"only)\n"
	"  module   show [NAME]              daemon modules (edgelbd only)\n"
	"  api      create|diff|publish|...  gateway API lifecycle (edgelbd)\n"
	"  push     devices|queue|message    push service state (edgelbd)\n"
	"  node     drain|undrain|status     BGP announcements (edgelbd)\n"
	"  help     [OBJECT]                 this text, or an object's\n"
	"\n"
	"Options:\n"
	"  -j, --json          JSON output for show commands\n"
	"  -s, --stats         add counters to service and backend tables\n"
	"  --socket PATH       control socket (default $EDGELB_SOCKET, else\n"
	"                      " LB_DEFAULT_CTL_SOCKET "); the dataplane's\n"
	"                      dp.sock speaks the same protocol\n"
	"  -w SECONDS          stats: redraw every SECONDS\n"
	"  --count N           stats: stop after N rounds\n"
	"  -h, --help          this text;  -V, --version  the version\n"
	"\n"
	"%s"
	"\n"
	"Exit status: 0 ok, 1 the operation failed, 2 usage error, 3 not "
	"found,\n"
	"4 daemon unreachable, 5 already exists.\n";

const char *
lbctl_help(const char *object)
{
	if (object == NULL)
		return NULL;
	if (object[0] == '\0')
		return NULL;
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (strncmp(object, helps[i].object, strlen(object)) == 0)
			return helps[i].text;
	return NULL;
}

void
lbctl_usage_print(FILE *out)
{
	fprintf(out, usage, lbctl_help("ipvsadm"));
}
