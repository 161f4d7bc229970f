/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tests of lbctl: command lines (ip style and ipvsadm style) to the exact
 * lbmsg requests, checked by parsing each built request with lbmsg_parse
 * against the protocol's policies; bad command lines to their usage error;
 * reply parts built as a server builds them to the output, compared byte
 * for byte with tests/golden/ (LBCTL_GOLDEN_UPDATE=1 rewrites those files,
 * which must then be reviewed); and the lbctl binary against a socket with
 * no server behind it.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lbctl_args.h"
#include "lbctl_fmt.h"

#define MAXARGS 24

/* ---- requests ------------------------------------------------------------ */

/*
 * Every attribute of a request in id order, "NAME=value" joined by
 * spaces: the whole request, so that a stray attribute fails the test.
 */
static void
render_attrs(struct nlattr **tb, char *buf, size_t len)
{
	char v[64];
	size_t n = 0;

	buf[0] = '\0';
	for (int a = 1; a <= LB_ATTR_MAX; a++) {
		struct lb_addr addr;

		if (tb[a] == NULL)
			continue;
		switch (lbmsg_attr_type(a)) {
		case LBMSG_AT_U8:
			snprintf(v, sizeof(v), "%u", nla_get_u8(tb[a]));
			break;
		case LBMSG_AT_U16:
			snprintf(v, sizeof(v), "%u", nla_get_u16(tb[a]));
			break;
		case LBMSG_AT_U32:
			snprintf(v, sizeof(v), "%u", nla_get_u32(tb[a]));
			break;
		case LBMSG_AT_STRING:
			snprintf(v, sizeof(v), "%s", nla_get_string(tb[a]));
			break;
		case LBMSG_AT_ADDR:
			ck_assert_int_eq(lbmsg_get_addr(tb[a], &addr), 0);
			lb_addr_format(&addr, v, sizeof(v));
			break;
		case LBMSG_AT_LLADDR:
			lb_mac_format(nla_data(tb[a]), v, sizeof(v));
			break;
		default:
			snprintf(v, sizeof(v), "?");
			break;
		}
		n += (size_t)snprintf(buf + n, len - n, "%s%s=%s", n ? " " : "",
				      lbmsg_attr_name(a), v);
		ck_assert_uint_lt(n, len);
	}
}

static int
argv_of(const char *const *words, char **argv)
{
	int argc = 0;

	argv[argc++] = (char *)"lbctl";
	for (; *words != NULL; words++) {
		ck_assert_int_lt(argc, MAXARGS - 1);
		argv[argc++] = (char *)*words;
	}
	argv[argc] = NULL;
	return argc;
}

struct req_case {
	const char *argv[MAXARGS];
	enum lbctl_view view;
	uint16_t type;
	const char *attrs; /* render_attrs() of the (only) request */
};

#define W(...)                                                                 \
	{                                                                      \
		__VA_ARGS__, NULL                                              \
	}
/* The same as an expression. */
#define WA(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const struct req_case req_cases[] = {
	/* ip style */
	{ W("service", "add", "tcp", "10.0.0.1:80", "sched", "wlc"),
	  LBCTL_VIEW_ACK, LB_MSG_SERVICE_NEW,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 SCHED=wlc" },
	{ W("service", "add", "udp", "10.0.0.1:53", "mode", "nat", "sched",
	    "mh", "persist", "300", "toa", "proxy-v2", "mh-size", "251", "name",
	    "dns"),
	  LBCTL_VIEW_ACK, LB_MSG_SERVICE_NEW,
	  "PROTO=17 VIP=10.0.0.1 VPORT=53 NAME=dns MODE=2 SCHED=mh "
	  "PERSIST=300 SVC_FLAGS=3 MH_SIZE=251" },
	{ W("s", "a", "[2001:db8::1]:443", "mode", "fnat"), LBCTL_VIEW_ACK,
	  LB_MSG_SERVICE_NEW, "PROTO=6 VIP=2001:db8::1 VPORT=443 MODE=4" },
	{ W("service", "add", "10.0.0.9"), LBCTL_VIEW_ACK, LB_MSG_SERVICE_NEW,
	  "PROTO=6 VIP=10.0.0.9 VPORT=0" },
	{ W("service", "set", "udp", "10.0.0.1:53", "udp-drain"),
	  LBCTL_VIEW_ACK, LB_MSG_SERVICE_SET,
	  "PROTO=17 VIP=10.0.0.1 VPORT=53 SVC_FLAGS=8" },
	{ W("service", "set", "tcp", "10.0.0.1:80", "toa", "synproxy", "on"),
	  LBCTL_VIEW_ACK, LB_MSG_SERVICE_SET,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 SVC_FLAGS=17" },
	{ W("service", "set", "tcp", "10.0.0.1:80", "synproxy", "off"),
	  LBCTL_VIEW_ACK, LB_MSG_SERVICE_SET,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 SVC_FLAGS=32" },
	{ W("service", "set", "tcp", "10.0.0.1:80", "synproxy", "auto"),
	  LBCTL_VIEW_ACK, LB_MSG_SERVICE_SET,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 SVC_FLAGS=0" },
	{ W("service", "set", "tcp", "10.0.0.1:80", "mh-adopt"), LBCTL_VIEW_ACK,
	  LB_MSG_SERVICE_SET, "PROTO=6 VIP=10.0.0.1 VPORT=80 SVC_FLAGS=64" },
	{ W("service", "set", "tcp", "10.0.0.1:80", "sched", "rr", "noflags"),
	  LBCTL_VIEW_ACK, LB_MSG_SERVICE_SET,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 SCHED=rr SVC_FLAGS=0" },
	{ W("service", "set", "tcp", "10.0.0.1:80", "max-conns", "1000",
	    "conn-rate", "50", "syn-src-rate", "0"),
	  LBCTL_VIEW_ACK, LB_MSG_SERVICE_SET,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 MAX_CONNS=1000 CONN_RATE=50 "
	  "SYN_SRC_RATE=0" },
	{ W("service", "del", "udp", "10.0.0.1:53"), LBCTL_VIEW_ACK,
	  LB_MSG_SERVICE_DEL, "PROTO=17 VIP=10.0.0.1 VPORT=53" },
	{ W("service", "flush"), LBCTL_VIEW_ACK, LB_MSG_SERVICE_FLUSH, "" },
	{ W("service"), LBCTL_VIEW_SERVICES, LB_MSG_SERVICE_GET, "" },
	{ W("-j", "service", "show"), LBCTL_VIEW_SERVICES, LB_MSG_SERVICE_GET,
	  "" },
	{ W("backend", "add", "tcp", "10.0.0.1:80", "10.1.0.1:8080", "weight",
	    "3", "mode", "dr"),
	  LBCTL_VIEW_ACK, LB_MSG_BACKEND_NEW,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 MODE=1 ADDR=10.1.0.1 PORT=8080 "
	  "WEIGHT=3" },
	{ W("backend", "add", "10.0.0.1:80", "10.1.0.1"), LBCTL_VIEW_ACK,
	  LB_MSG_BACKEND_NEW,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 ADDR=10.1.0.1 PORT=80" },
	{ W("b", "set", "10.0.0.1:80", "10.1.0.1:80", "weight", "0"),
	  LBCTL_VIEW_ACK, LB_MSG_BACKEND_SET,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 ADDR=10.1.0.1 PORT=80 WEIGHT=0" },
	{ W("b", "set", "10.0.0.1:80", "10.1.0.1:80", "u-threshold", "100",
	    "l-threshold", "60"),
	  LBCTL_VIEW_ACK, LB_MSG_BACKEND_SET,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 ADDR=10.1.0.1 PORT=80 U_THRESH=100 "
	  "L_THRESH=60" },
	{ W("backend", "del", "10.0.0.1:80", "10.1.0.1:80"), LBCTL_VIEW_ACK,
	  LB_MSG_BACKEND_DEL,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 ADDR=10.1.0.1 PORT=80" },
	{ W("backend", "show", "udp", "10.0.0.1:53"), LBCTL_VIEW_BACKENDS,
	  LB_MSG_BACKEND_GET, "" },
	{ W("laddr", "add", "10.0.0.1:80", "192.168.0.10"), LBCTL_VIEW_ACK,
	  LB_MSG_LADDR_NEW, "PROTO=6 VIP=10.0.0.1 VPORT=80 ADDR=192.168.0.10" },
	{ W("route", "add", "10.2.0.0/16", "via", "10.0.0.254", "dev", "port0"),
	  LBCTL_VIEW_ACK, LB_MSG_ROUTE_NEW,
	  "DST=10.2.0.0 PREFIXLEN=16 GATEWAY=10.0.0.254 IFNAME=port0" },
	{ W("route", "del", "10.2.0.0/16"), LBCTL_VIEW_ACK, LB_MSG_ROUTE_DEL,
	  "DST=10.2.0.0 PREFIXLEN=16" },
	{ W("neigh", "add", "10.0.0.2", "lladdr", "02:00:00:00:00:02", "dev",
	    "port0"),
	  LBCTL_VIEW_ACK, LB_MSG_NEIGH_NEW,
	  "ADDR=10.0.0.2 IFNAME=port0 LLADDR=02:00:00:00:00:02" },
	{ W("addr", "add", "10.0.0.10/24", "dev", "port0"), LBCTL_VIEW_ACK,
	  LB_MSG_PORTADDR_NEW, "ADDR=10.0.0.10 PREFIXLEN=24 IFNAME=port0" },
	{ W("a", "del", "10.0.0.10/24", "dev", "port0"), LBCTL_VIEW_ACK,
	  LB_MSG_PORTADDR_DEL, "ADDR=10.0.0.10 PREFIXLEN=24 IFNAME=port0" },
	{ W("port"), LBCTL_VIEW_PORTS, LB_MSG_PORT_GET, "" },
	{ W("stats", "-w", "2", "--count", "3"), LBCTL_VIEW_STATS,
	  LB_MSG_STATS_GET, "" },
	{ W("stats", "zero"), LBCTL_VIEW_ACK, LB_MSG_STATS_ZERO, "" },
	{ W("conn", "show"), LBCTL_VIEW_CONNS, LB_MSG_CONN_GET, "" },
	{ W("health"), LBCTL_VIEW_HEALTH, LB_MSG_HEALTH_GET, "" },
	{ W("config", "set", "timeout-tcp-est", "600", "timeout-udp", "60"),
	  LBCTL_VIEW_ACK, LB_MSG_CONFIG_SET, "TMO_ESTABLISHED=600 TMO_UDP=60" },
	{ W("config"), LBCTL_VIEW_CONFIG, LB_MSG_CONFIG_GET, "" },
	{ W("save"), LBCTL_VIEW_ACK, LB_MSG_SAVE, "" },
	{ W("module", "list"), LBCTL_VIEW_MODULES, LB_MSG_MODULE_GET, "" },
	{ W("module", "show", "httpdns"), LBCTL_VIEW_MODULES, LB_MSG_MODULE_GET,
	  "NAME=httpdns" },
	/* ipvsadm style */
	{ W("-A", "-t", "10.0.0.1:80", "-s", "rr"), LBCTL_VIEW_ACK,
	  LB_MSG_SERVICE_NEW, "PROTO=6 VIP=10.0.0.1 VPORT=80 SCHED=rr" },
	{ W("-A", "-u", "10.0.0.1:53"), LBCTL_VIEW_ACK, LB_MSG_SERVICE_NEW,
	  "PROTO=17 VIP=10.0.0.1 VPORT=53 SCHED=wlc" },
	{ W("--add-service", "--tcp-service=10.0.0.1:80", "-p", "--fnat"),
	  LBCTL_VIEW_ACK, LB_MSG_SERVICE_NEW,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 MODE=4 SCHED=wlc PERSIST=300" },
	{ W("-A", "-t", "10.0.0.1:80", "-s", "sh", "-p", "600"), LBCTL_VIEW_ACK,
	  LB_MSG_SERVICE_NEW,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 SCHED=sh PERSIST=600" },
	{ W("-A", "-t", "10.0.0.1:80", "-s", "someday-sched"), LBCTL_VIEW_ACK,
	  LB_MSG_SERVICE_NEW,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 SCHED=someday-sched" },
	{ W("-E", "-t", "10.0.0.1:80", "-s", "wrr"), LBCTL_VIEW_ACK,
	  LB_MSG_SERVICE_SET, "PROTO=6 VIP=10.0.0.1 VPORT=80 SCHED=wrr" },
	{ W("-D", "-t", "10.0.0.1:80"), LBCTL_VIEW_ACK, LB_MSG_SERVICE_DEL,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80" },
	{ W("-C"), LBCTL_VIEW_ACK, LB_MSG_SERVICE_FLUSH, "" },
	{ W("-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1:80", "-m", "-w", "2"),
	  LBCTL_VIEW_ACK, LB_MSG_BACKEND_NEW,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 MODE=2 ADDR=10.1.0.1 PORT=80 "
	  "WEIGHT=2" },
	{ W("-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1"), LBCTL_VIEW_ACK,
	  LB_MSG_BACKEND_NEW,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 ADDR=10.1.0.1 PORT=80 WEIGHT=1" },
	{ W("-a", "-u", "10.0.0.1:53", "-r", "10.1.0.1:5353", "-i", "-w0"),
	  LBCTL_VIEW_ACK, LB_MSG_BACKEND_NEW,
	  "PROTO=17 VIP=10.0.0.1 VPORT=53 MODE=3 ADDR=10.1.0.1 PORT=5353 "
	  "WEIGHT=0" },
	{ W("-e", "-t", "10.0.0.1:80", "-r", "10.1.0.1:80", "-g", "-w", "5"),
	  LBCTL_VIEW_ACK, LB_MSG_BACKEND_SET,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 MODE=1 ADDR=10.1.0.1 PORT=80 "
	  "WEIGHT=5" },
	{ W("-e", "-t", "10.0.0.1:80", "-r", "10.1.0.1:80", "-x", "100", "-y",
	    "75"),
	  LBCTL_VIEW_ACK, LB_MSG_BACKEND_SET,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 ADDR=10.1.0.1 PORT=80 U_THRESH=100 "
	  "L_THRESH=75" },
	{ W("-a", "-t", "10.0.0.1:80", "-r", "10.1.0.2", "--u-threshold=8"),
	  LBCTL_VIEW_ACK, LB_MSG_BACKEND_NEW,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 ADDR=10.1.0.2 PORT=80 WEIGHT=1 "
	  "U_THRESH=8" },
	{ W("-L", "-n", "--thresholds"), LBCTL_VIEW_IPVS_LIST,
	  LB_MSG_SERVICE_GET, "" },
	{ W("-d", "-t", "10.0.0.1:80", "-r", "10.1.0.1:80"), LBCTL_VIEW_ACK,
	  LB_MSG_BACKEND_DEL,
	  "PROTO=6 VIP=10.0.0.1 VPORT=80 ADDR=10.1.0.1 PORT=80" },
	{ W("-Ln"), LBCTL_VIEW_IPVS_LIST, LB_MSG_SERVICE_GET, "" },
	{ W("-l", "-n", "--stats"), LBCTL_VIEW_IPVS_LIST, LB_MSG_SERVICE_GET,
	  "" },
	{ W("-L", "-n", "-t", "10.0.0.1:80"), LBCTL_VIEW_IPVS_LIST,
	  LB_MSG_SERVICE_GET, "" },
	{ W("-Lnc"), LBCTL_VIEW_CONNS, LB_MSG_CONN_GET, "" },
	{ W("-Z"), LBCTL_VIEW_ACK, LB_MSG_STATS_ZERO, "" },
	{ W("-S", "-n"), LBCTL_VIEW_IPVS_SAVE, LB_MSG_SERVICE_GET, "" },
	{ W("--set", "900", "0", "300"), LBCTL_VIEW_ACK, LB_MSG_CONFIG_SET,
	  "TMO_ESTABLISHED=900 TMO_UDP=300" },
};

START_TEST(test_request)
{
	const struct req_case *tc = &req_cases[_i];
	struct nlattr *tb[LB_ATTR_MAX + 1];
	char *argv[MAXARGS], err[256], got[512];
	struct lbctl_cmd cmd;
	struct nlmsghdr *nlh;
	int argc = argv_of(tc->argv, argv);

	ck_assert_msg(lbctl_parse(argc, argv, &cmd, err, sizeof(err)) == 0,
		      "case %d (%s ...): %s", _i, tc->argv[0], err);
	ck_assert_int_eq(cmd.view, tc->view);
	ck_assert_uint_eq(cmd.nreqs, 1);
	nlh = nlmsg_hdr(cmd.reqs[0]);
	ck_assert_uint_eq(nlh->nlmsg_type, tc->type);
	ck_assert(nlh->nlmsg_flags & NLM_F_REQUEST);
	ck_assert_int_eq((nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP,
			 lbmsg_type_is_dump(tc->type));
	ck_assert_msg(lbmsg_parse(nlh, nlh->nlmsg_len, tb, err, sizeof(err)) ==
			      0,
		      "case %d: the request breaks its policy: %s", _i, err);
	render_attrs(tb, got, sizeof(got));
	ck_assert_msg(strcmp(got, tc->attrs) == 0,
		      "case %d (%s %s): got '%s', want '%s'", _i, tc->argv[0],
		      tc->argv[1] ? tc->argv[1] : "", got, tc->attrs);
	lbctl_cmd_free(&cmd);
}
END_TEST

/* lbctl push: one MODULE_CMD to "push", its arguments in order. */
static const struct push_case {
	const char *argv[MAXARGS];
	const char *cmd;
	const char *args; /* the MOD_ARGs joined by spaces */
} push_cases[] = {
	{ W("push", "devices"), "push.devices", "" },
	{ W("push", "devices", "limit", "7"), "push.devices", "limit=7" },
	{ W("push", "queue", "dev-1"), "push.queue", "device=dev-1" },
	{ W("push", "queue", "dev-1", "limit", "5"), "push.queue",
	  "device=dev-1 limit=5" },
	{ W("-j", "pu", "message", "8a5e7c1e-4f7b-4f3e-9a51-0c2d7f1b2a33"),
	  "push.message", "id=8a5e7c1e-4f7b-4f3e-9a51-0c2d7f1b2a33" },
};

START_TEST(test_push_request)
{
	const struct push_case *tc = &push_cases[_i];
	struct nlattr *tb[LB_ATTR_MAX + 1], *pos;
	char *argv[MAXARGS], err[256], got[512] = "";
	struct lbctl_cmd cmd;
	struct nlmsghdr *nlh;
	size_t n = 0;
	int argc = argv_of(tc->argv, argv), rem;

	ck_assert_msg(lbctl_parse(argc, argv, &cmd, err, sizeof(err)) == 0,
		      "case %d: %s", _i, err);
	ck_assert_int_eq(cmd.view, LBCTL_VIEW_PUSH);
	ck_assert_uint_eq(cmd.nreqs, 1);
	nlh = nlmsg_hdr(cmd.reqs[0]);
	ck_assert_uint_eq(nlh->nlmsg_type, LB_MSG_MODULE_CMD);
	ck_assert_msg(lbmsg_parse(nlh, nlh->nlmsg_len, tb, err, sizeof(err)) ==
			      0,
		      "case %d: the request breaks its policy: %s", _i, err);
	ck_assert_str_eq(nla_get_string(tb[LB_ATTR_NAME]), "push");
	ck_assert_str_eq(nla_get_string(tb[LB_ATTR_MOD_CMD]), tc->cmd);
	/* an empty list may not come back from the parse */
	ck_assert(tb[LB_ATTR_MOD_ARGS] != NULL || tc->args[0] == '\0');
	if (tb[LB_ATTR_MOD_ARGS] != NULL)
		lbmsg_list_for_each (pos, tb[LB_ATTR_MOD_ARGS], rem) {
			n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s",
					      n ? " " : "",
					      (const char *)nla_data(pos));
			ck_assert_uint_lt(n, sizeof(got));
		}
	ck_assert_str_eq(got, tc->args);
	lbctl_cmd_free(&cmd);
}
END_TEST

START_TEST(test_options)
{
	const char *const w1[] =
		W("--socket", "/tmp/x.sock", "-j", "-s", "service", "show");
	const char *const w2[] = W("-L", "-n", "--rate", "--exact",
				   "--socket=/run/edgelb/dp.sock");
	const char *const w3[] = W("stats", "-w", "5", "--count", "2");
	char *argv[MAXARGS], err[256];
	struct lbctl_cmd cmd;

	setenv("EDGELB_SOCKET", "/tmp/env.sock", 1);
	ck_assert_int_eq(
		lbctl_parse(argv_of(w1, argv), argv, &cmd, err, sizeof(err)),
		0);
	ck_assert_str_eq(cmd.opts.socket, "/tmp/x.sock");
	ck_assert(cmd.opts.json && cmd.opts.stats);
	lbctl_cmd_free(&cmd);

	ck_assert_int_eq(
		lbctl_parse(argv_of(w2, argv), argv, &cmd, err, sizeof(err)),
		0);
	ck_assert_str_eq(cmd.opts.socket, "/run/edgelb/dp.sock");
	ck_assert(cmd.opts.rate && cmd.opts.exact && !cmd.opts.stats);
	lbctl_cmd_free(&cmd);

	ck_assert_int_eq(
		lbctl_parse(argv_of(w3, argv), argv, &cmd, err, sizeof(err)),
		0);
	ck_assert_str_eq(cmd.opts.socket, "/tmp/env.sock");
	ck_assert_uint_eq(cmd.opts.watch, 5);
	ck_assert_uint_eq(cmd.opts.count, 2);
	lbctl_cmd_free(&cmd);
	unsetenv("EDGELB_SOCKET");

	ck_assert_int_eq(lbctl_parse(argv_of(WA("stats"), argv), argv, &cmd,
				     err, sizeof(err)),
			 0);
	ck_assert_str_eq(cmd.opts.socket, LB_DEFAULT_CTL_SOCKET);
	lbctl_cmd_free(&cmd);

	/* help needs no request */
	ck_assert_int_eq(lbctl_parse(argv_of(WA("backend", "help"), argv), argv,
				     &cmd, err, sizeof(err)),
			 0);
	ck_assert_int_eq(cmd.view, LBCTL_VIEW_HELP);
	ck_assert_str_eq(cmd.help_topic, "backend");
	ck_assert_uint_eq(cmd.nreqs, 0);
	ck_assert_ptr_nonnull(lbctl_help(cmd.help_topic));
	lbctl_cmd_free(&cmd);
}
END_TEST

struct bad_case {
	const char *argv[MAXARGS];
	const char *err;
};

static const struct bad_case bad_cases[] = {
	{ W("service", "add", "tcp", "10.0.0.300:80"),
	  "service add: bad address '10.0.0.300:80'" },
	{ W("service", "add", "10.0.0.1:65536"),
	  "service add: port out of range in '10.0.0.1:65536'" },
	{ W("service", "add", "10.0.0.1:80", "mode", "bridge"),
	  "service add: unknown mode 'bridge' (dr, nat, tunnel, fnat)" },
	{ W("service", "add", "10.0.0.1:80", "sched",
	    "a-much-too-long-scheduler"),
	  "service add: sched must be 1-15 characters: "
	  "'a-much-too-long-scheduler'" },
	{ W("service", "add"), "service add: missing service VIP:PORT" },
	{ W("service", "set", "10.0.0.1:80"),
	  "service set: nothing to change" },
	{ W("service", "add", "10.0.0.1:80", "synproxy", "maybe"),
	  "service add: synproxy: expected on, off or auto" },
	{ W("service", "add", "10.0.0.1:80", "colour", "blue"),
	  "service add: unknown argument 'colour'" },
	{ W("service", "frobnicate"), "service: unknown command 'frobnicate'" },
	{ W("backend", "add", "10.0.0.1:80", "10.1.0.1:80", "weight", "65536"),
	  "backend add: weight out of range (0-65535): '65536'" },
	{ W("backend", "add", "10.0.0.1:80", "[2001:db8::2]:80"),
	  "backend add: backend '[2001:db8::2]:80' and the VIP are of "
	  "different families" },
	{ W("backend", "add", "10.0.0.1:80"),
	  "backend add: missing backend ADDR[:PORT]" },
	{ W("neigh", "add", "10.0.0.2", "dev", "port0"),
	  "neigh add: needs lladdr MAC and dev PORT" },
	{ W("neigh", "add", "10.0.0.2", "lladdr", "02:00:00:00:00", "dev",
	    "port0"),
	  "neigh add: bad lladdr '02:00:00:00:00'" },
	{ W("route", "add", "10.0.0.0/33"),
	  "route add: bad prefix '10.0.0.0/33'" },
	{ W("addr", "add", "10.0.0.1/24"), "addr add: needs dev PORT" },
	{ W("config", "set", "timeout-foo", "1"),
	  "config set: unknown key 'timeout-foo'" },
	{ W("service", "show", "-w", "2"),
	  "service show: -w and --count are only for stats" },
	{ W("frob"), "unknown object 'frob' (try lbctl --help)" },
	{ W("-a", "-r", "10.1.0.1:80"),
	  "-a: a service is needed: -t or -u VIP:PORT" },
	{ W("-a", "-t", "10.0.0.1:80"),
	  "-a: a real server is needed: -r RIP[:PORT]" },
	{ W("-A", "-t", "10.0.0.1:80", "-r", "10.1.0.1"),
	  "-A: -r is only for -a, -e and -d" },
	{ W("-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1:99999"),
	  "-a: port out of range in '10.1.0.1:99999'" },
	{ W("-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-w", "-1"),
	  "-a: bad weight '-1'" },
	{ W("-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-w", "70000"),
	  "-a: weight out of range (0-65535): '70000'" },
	{ W("-A", "-t", "foo.example:80"), "-A: bad address 'foo.example:80'" },
	{ W("-A", "-f", "1"), "-A: -f is not supported" },
	{ W("-A", "-t", "10.0.0.1:80", "-x", "5"),
	  "-A: -x and -y are only for -a and -e" },
	{ W("-d", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-y", "5"),
	  "-d: -x and -y are only for -a and -e" },
	{ W("-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-x", "100000001"),
	  "-a: upper threshold out of range (0-100000000): '100000001'" },
	{ W("-S", "--thresholds"), "-S: --thresholds is only for -L" },
	{ W("service", "set", "10.0.0.1:80", "max-conns", "100000001"),
	  "service set: max-conns out of range (0-100000000): '100000001'" },
	{ W("backend", "add", "10.0.0.1:80", "10.1.0.1:80", "u-threshold", "x"),
	  "backend add: bad u-threshold 'x'" },
	{ W("-A", "-a", "-t", "10.0.0.1:80"),
	  "-A: more than one command given (-A and -a)" },
	{ W("-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-g", "-m"),
	  "-a: -m: more than one forwarding method given" },
	{ W("-L", "--stats", "--rate"),
	  "-L: --stats and --rate exclude each other" },
	{ W("-Z", "-t", "10.0.0.1:80"),
	  "-Z: zeroing one service is not supported; use -Z alone" },
	{ W("-n"), "no command given (-A, -E, -D, -C, -a, -e, -d, -L, -Z, "
		   "-S, --set)" },
	{ W("-L", "--bogus"), "-L: unknown option '--bogus'" },
	{ W("-A", "-t"), "-A: -t needs a value" },
	{ W("-E", "-t", "10.0.0.1:80", "-s", "rr", "-w", "1"),
	  "-E: -w is only for -a and -e" },
	{ W("api", "publish", "shop"), "api publish: missing --stage" },
	{ W("api", "frob"), "api: unknown command 'frob'" },
	{ W("api", "create", "shop", "--file"),
	  "api create: --file needs a value" },
	{ W("api", "retire", "shop", "--version", "0"),
	  "api retire: --version out of range (1-2147483647): '0'" },
	{ W("api", "list", "--stage", "x"),
	  "api list: unknown option '--stage'" },
	{ W("api", "show"), "api show: missing API NAME" },
	{ W("api", "diff", "shop", "--stage", "a", "--stage", "b"),
	  "api diff: --stage given twice" },
	{ W("push", "queue"), "push queue: missing DEVICE" },
	{ W("push", "message", "limit", "3"), "push message: missing ID" },
	{ W("push", "frob"), "push: unknown command 'frob'" },
	{ W("push", "devices", "limit", "0"),
	  "push devices: limit out of range (1-1000): '0'" },
	{ W("push", "devices", "dev-1"),
	  "push devices: unexpected argument 'dev-1'" },
	{ W("push", "queue", "d", "limit"), "push queue: limit needs a value" },
	{ W("push", "queue", "d", "limit", "1", "limit", "2"),
	  "push queue: limit given twice" },
};

START_TEST(test_usage_error)
{
	const struct bad_case *tc = &bad_cases[_i];
	char *argv[MAXARGS], err[256];
	struct lbctl_cmd cmd;
	int argc = argv_of(tc->argv, argv);

	ck_assert_int_eq(lbctl_parse(argc, argv, &cmd, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strcmp(err, tc->err) == 0, "case %d: got '%s', want '%s'",
		      _i, err, tc->err);
	ck_assert_uint_eq(cmd.nreqs, 0);
	lbctl_cmd_free(&cmd);
}
END_TEST

/* ---- golden output --------------------------------------------------------- */

static struct nl_msg *
part_new(uint16_t type)
{
	struct nl_msg *m = lbmsg_new(type, NLM_F_MULTI);

	ck_assert_ptr_nonnull(m);
	return m;
}

static void
put_key(struct nl_msg *m, uint8_t proto, const char *vip, uint16_t vport)
{
	struct lb_addr a;

	ck_assert_int_eq(lb_addr_parse(vip, &a), 0);
	ck_assert_int_eq(lbmsg_put_svc_key(m, proto, &a, vport), 0);
}

static void
put_addr(struct nl_msg *m, int attr, const char *s)
{
	struct lb_addr a;

	ck_assert_int_eq(lb_addr_parse(s, &a), 0);
	ck_assert_int_eq(lbmsg_put_addr(m, attr, &a), 0);
}

/* conns, pkts_in, pkts_out, bytes_in, bytes_out, active, inactive */
static void
put_counters(struct nl_msg *m, const uint64_t c[7])
{
	static const char *const names[7] = { "conns",	   "pkts_in",
					      "pkts_out",  "bytes_in",
					      "bytes_out", "active",
					      "inactive" };
	struct nlattr *n = nla_nest_start(m, LB_ATTR_COUNTERS);

	ck_assert_ptr_nonnull(n);
	for (int i = 0; i < 7; i++)
		ck_assert_int_eq(lbmsg_put_counter(m, names[i], c[i]), 0);
	nla_nest_end(m, n);
}

struct be_spec {
	const char *addr;
	uint16_t port;
	uint32_t weight;
	uint8_t mode; /* 0: not sent */
	uint64_t c[7];
};

struct svc_spec {
	uint8_t proto;
	const char *vip;
	uint16_t vport;
	const char *sched;
	uint8_t mode;
	uint32_t persist;
	uint32_t flags;
	const char *name;
	uint64_t c[7];
	struct be_spec be[3];
};

/* Sent out of order: the output is sorted as ipvsadm sorts. */
static const struct svc_spec svcs[] = {
	{ IPPROTO_TCP,
	  "192.168.100.200",
	  8443,
	  "mh",
	  LB_MODE_FNAT,
	  300,
	  LB_SVC_F_TOA,
	  "api",
	  { 7, 70, 60, 7000, 6000, 1, 6 },
	  { { "172.16.0.10",
	      8443,
	      100,
	      LB_MODE_FNAT,
	      { 7, 70, 60, 7000, 6000, 1, 6 } } } },
	{ IPPROTO_UDP,
	  "10.0.0.1",
	  53,
	  "rr",
	  LB_MODE_NAT,
	  0,
	  LB_SVC_F_UDP_DRAIN,
	  NULL,
	  { 100, 100, 100, 6400, 12800, 0, 0 },
	  { { "10.1.0.4", 53, 1, 0, { 50, 50, 50, 3200, 6400, 0, 0 } },
	    { "10.1.0.3", 53, 1, 0, { 50, 50, 50, 3200, 6400, 0, 0 } } } },
	{ IPPROTO_TCP,
	  "10.0.0.1",
	  80,
	  "wlc",
	  LB_MODE_DR,
	  0,
	  0,
	  "web",
	  { 1234, 98765432, 0, 123456789, 98765432100ull, 3, 10 },
	  { { "10.1.0.2",
	      80,
	      2,
	      0,
	      { 1000, 90000000, 0, 100000000, 90000000000ull, 3, 10 } },
	    { "10.1.0.1",
	      80,
	      1,
	      LB_MODE_TUNNEL,
	      { 234, 8765432, 0, 23456789, 8765432100ull, 0, 0 } } } },
	{ IPPROTO_TCP,
	  "2001:db8::1",
	  443,
	  "wrr",
	  LB_MODE_TUNNEL,
	  0,
	  0,
	  NULL,
	  { 0 },
	  { { "2001:db8:1::10", 443, 5, 0, { 0 } } } },
};

static void
feed(struct lbctl_fmt *f, struct nl_msg *m)
{
	struct nlattr *tb[LB_ATTR_MAX + 1];
	struct nlmsghdr *nlh = nlmsg_hdr(m);
	char err[256];

	ck_assert_msg(lbmsg_parse(nlh, nlh->nlmsg_len, tb, err, sizeof(err)) ==
			      0,
		      "reply part breaks its policy: %s", err);
	ck_assert_int_eq(lbctl_fmt_part(f, nlh, tb), 0);
	nlmsg_free(m);
}

/* A SERVICE_GET part with nested backends, as the dataplane builds it. */
static void
build_service_part(struct nl_msg *m, const struct svc_spec *s)
{
	struct nlattr *list, *rec;

	put_key(m, s->proto, s->vip, s->vport);
	ck_assert_int_eq(nla_put_string(m, LB_ATTR_SCHED, s->sched), 0);
	ck_assert_int_eq(nla_put_u8(m, LB_ATTR_MODE, s->mode), 0);
	ck_assert_int_eq(nla_put_u32(m, LB_ATTR_PERSIST, s->persist), 0);
	ck_assert_int_eq(nla_put_u32(m, LB_ATTR_SVC_FLAGS, s->flags), 0);
	if (s->name != NULL)
		ck_assert_int_eq(nla_put_string(m, LB_ATTR_NAME, s->name), 0);
	list = nla_nest_start(m, LB_ATTR_BACKENDS);
	for (int j = 0; j < 3 && s->be[j].addr != NULL; j++) {
		const struct be_spec *b = &s->be[j];

		rec = nla_nest_start(m, LB_ATTR_BACKEND);
		put_addr(m, LB_ATTR_ADDR, b->addr);
		ck_assert_int_eq(nla_put_u16(m, LB_ATTR_PORT, b->port), 0);
		ck_assert_int_eq(nla_put_u32(m, LB_ATTR_WEIGHT, b->weight), 0);
		if (b->mode != 0)
			ck_assert_int_eq(nla_put_u8(m, LB_ATTR_MODE, b->mode),
					 0);
		put_counters(m, b->c);
		nla_nest_end(m, rec);
	}
	nla_nest_end(m, list);
	put_counters(m, s->c);
}

static void
feed_services(struct lbctl_fmt *f)
{
	for (size_t i = 0; i < sizeof(svcs) / sizeof(svcs[0]); i++) {
		struct nl_msg *m = part_new(LB_MSG_SERVICE_GET);

		build_service_part(m, &svcs[i]);
		feed(f, m);
	}
}

/* BACKEND_GET parts: one per backend, with its service's key. */
static void
feed_backends(struct lbctl_fmt *f)
{
	for (size_t i = 0; i < sizeof(svcs) / sizeof(svcs[0]); i++) {
		const struct svc_spec *s = &svcs[i];

		for (int j = 0; j < 3 && s->be[j].addr != NULL; j++) {
			const struct be_spec *b = &s->be[j];
			struct nl_msg *m = part_new(LB_MSG_BACKEND_GET);

			put_key(m, s->proto, s->vip, s->vport);
			put_addr(m, LB_ATTR_ADDR, b->addr);
			ck_assert_int_eq(nla_put_u16(m, LB_ATTR_PORT, b->port),
					 0);
			ck_assert_int_eq(
				nla_put_u32(m, LB_ATTR_WEIGHT, b->weight), 0);
			ck_assert_int_eq(
				nla_put_u8(m, LB_ATTR_MODE,
					   b->mode ? b->mode : s->mode),
				0);
			put_counters(m, b->c);
			feed(f, m);
		}
	}
}

/* One service whose backends have thresholds (one both, one the upper
 * only, one none), as SERVICE_GET reports them. */
static void
feed_thresholds(struct lbctl_fmt *f)
{
	static const struct {
		const char *addr;
		uint32_t u, l;
		uint64_t c[7];
	} bes[3] = {
		{ "10.1.0.1", 100, 75, { 0, 0, 0, 0, 0, 12, 3 } },
		{ "10.1.0.2", 400, 0, { 0, 0, 0, 0, 0, 400, 21 } },
		{ "10.1.0.3", 0, 0, { 0 } },
	};
	struct nl_msg *m = part_new(LB_MSG_SERVICE_GET);
	struct nlattr *list, *rec;

	put_key(m, IPPROTO_TCP, "10.0.0.7", 80);
	ck_assert_int_eq(nla_put_string(m, LB_ATTR_SCHED, "rr"), 0);
	ck_assert_int_eq(nla_put_u8(m, LB_ATTR_MODE, LB_MODE_NAT), 0);
	ck_assert_int_eq(nla_put_u32(m, LB_ATTR_MAX_CONNS, 1000), 0);
	list = nla_nest_start(m, LB_ATTR_BACKENDS);
	for (int i = 0; i < 3; i++) {
		rec = nla_nest_start(m, LB_ATTR_BACKEND);
		put_addr(m, LB_ATTR_ADDR, bes[i].addr);
		ck_assert_int_eq(nla_put_u16(m, LB_ATTR_PORT, 8080), 0);
		ck_assert_int_eq(nla_put_u32(m, LB_ATTR_WEIGHT, 1), 0);
		if (bes[i].u != 0)
			ck_assert_int_eq(
				nla_put_u32(m, LB_ATTR_U_THRESH, bes[i].u), 0);
		if (bes[i].l != 0)
			ck_assert_int_eq(
				nla_put_u32(m, LB_ATTR_L_THRESH, bes[i].l), 0);
		put_counters(m, bes[i].c);
		nla_nest_end(m, rec);
	}
	nla_nest_end(m, list);
	put_counters(m, bes[1].c);
	feed(f, m);
}

static void
feed_routes(struct lbctl_fmt *f)
{
	struct nl_msg *m = part_new(LB_MSG_ROUTE_GET);

	put_addr(m, LB_ATTR_DST, "10.2.0.0");
	ck_assert_int_eq(nla_put_u8(m, LB_ATTR_PREFIXLEN, 16), 0);
	put_addr(m, LB_ATTR_GATEWAY, "10.0.0.254");
	ck_assert_int_eq(nla_put_string(m, LB_ATTR_IFNAME, "port0"), 0);
	feed(f, m);
	m = part_new(LB_MSG_ROUTE_GET);
	put_addr(m, LB_ATTR_DST, "10.0.0.0");
	ck_assert_int_eq(nla_put_u8(m, LB_ATTR_PREFIXLEN, 24), 0);
	ck_assert_int_eq(nla_put_string(m, LB_ATTR_IFNAME, "port0"), 0);
	feed(f, m);
}

/* The reply of a push command as edgelbd's push_ctl.c builds it. */
static void
feed_push(struct lbctl_fmt *f, const char *cmd, const char *json)
{
	struct nl_msg *m = part_new(LB_MSG_MODULE_CMD);

	ck_assert_int_eq(nla_put_string(m, LB_ATTR_NAME, "push"), 0);
	ck_assert_int_eq(nla_put_string(m, LB_ATTR_MOD_CMD, cmd), 0);
	ck_assert_int_eq(nla_put_string(m, LB_ATTR_MOD_DATA, json), 0);
	feed(f, m);
}

static void
feed_push_devices(struct lbctl_fmt *f)
{
	feed_push(f, "push.devices",
		  "{\"online\":3,\"devices\":[{\"device\":\"phone-1\","
		  "\"peer\":\"127.0.0.1:40312\",\"in_flight\":2,"
		  "\"sent_seq\":17},{\"device\":\"browser-7\",\"peer\":"
		  "\"[::1]:51000\",\"in_flight\":0,\"sent_seq\":4}],"
		  "\"truncated\":true}");
}

static void
feed_push_queue(struct lbctl_fmt *f)
{
	feed_push(f, "push.queue",
		  "{\"device\":\"phone-1\",\"online\":false,\"depth\":2,"
		  "\"last_seq\":19,\"vendor\":\"huawei\",\"oldest\":[{"
		  "\"id\":\"8a5e7c1e-4f7b-4f3e-9a51-0c2d7f1b2a33\",\"seq\":18,"
		  "\"status\":\"sent\",\"sends\":1,\"age_s\":42},{\"id\":"
		  "\"0b6f3a52-77c1-4c1e-8d0e-5e8f2a9b1c44\",\"seq\":19,"
		  "\"status\":\"queued\",\"sends\":0,\"age_s\":3}]}");
}

static void
feed_push_message(struct lbctl_fmt *f)
{
	feed_push(
		f, "push.message",
		"{\"id\":\"8a5e7c1e-4f7b-4f3e-9a51-0c2d7f1b2a33\",\"devices\":"
		"[{\"device\":\"phone-1\",\"seq\":18,\"status\":"
		"\"acknowledged\",\"sends\":1,\"age_s\":42},{\"device\":"
		"\"tablet-2\",\"seq\":5,\"status\":\"failed\",\"reason\":"
		"\"collapsed\",\"sends\":0,\"age_s\":42}],\"ttl\":3600,"
		"\"priority\":10,\"truncated\":false}");
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	if (fp == NULL)
		return NULL;
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* Print f and compare with (or, with LBCTL_GOLDEN_UPDATE=1, write) file. */
static void
check_golden(struct lbctl_fmt *f, const char *file, int want_rc)
{
	char path[512], *out = NULL, *want;
	size_t outlen = 0, wantlen = 0;
	const char *upd = getenv("LBCTL_GOLDEN_UPDATE");
	FILE *fp = open_memstream(&out, &outlen);

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(lbctl_fmt_print(f, fp), want_rc);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/%s", LBCTL_GOLDEN_DIR, file);
	if (upd != NULL && strcmp(upd, "1") == 0) {
		fp = fopen(path, "w");
		ck_assert_ptr_nonnull(fp);
		ck_assert_uint_eq(fwrite(out, 1, outlen, fp), outlen);
		fclose(fp);
	}
	want = slurp(path, &wantlen);
	ck_assert_msg(want != NULL, "missing golden file %s", path);
	ck_assert_msg(outlen == wantlen && memcmp(out, want, outlen) == 0,
		      "%s differs; got:\n%s", file, out);
	free(want);
	free(out);
}

static struct lbctl_fmt *
fmt_for(const char *const *words)
{
	char *argv[MAXARGS], err[256];
	struct lbctl_cmd cmd;
	struct lbctl_fmt *f;

	ck_assert_msg(lbctl_parse(argv_of(words, argv), argv, &cmd, err,
				  sizeof(err)) == 0,
		      "%s", err);
	f = lbctl_fmt_new(&cmd);
	ck_assert_ptr_nonnull(f);
	lbctl_cmd_free(&cmd);
	return f;
}

static const struct golden_case {
	const char *argv[MAXARGS];
	void (*feed)(struct lbctl_fmt *f);
	const char *file;
	int rc;
} golden_cases[] = {
	{ W("service", "show"), feed_services, "service_show.txt", 0 },
	{ W("-s", "service", "show"), feed_services, "service_show_stats.txt",
	  0 },
	{ W("-j", "service", "show"), feed_services, "service_show.json", 0 },
	{ W("backend", "show"), feed_backends, "backend_show.txt", 0 },
	{ W("backend", "show", "udp", "10.0.0.1:53"), feed_backends,
	  "backend_show_udp.txt", 0 },
	{ W("-j", "backend", "show"), feed_backends, "backend_show.json", 0 },
	{ W("-L", "-n"), feed_services, "ipvsadm_list.txt", 0 },
	{ W("-Ln", "--stats"), feed_services, "ipvsadm_list_stats.txt", 0 },
	{ W("-Ln", "--stats", "--exact"), feed_services,
	  "ipvsadm_list_stats_exact.txt", 0 },
	{ W("-L", "-n", "-t", "10.0.0.1:80"), feed_services,
	  "ipvsadm_list_one.txt", 0 },
	{ W("-L", "-n", "-t", "10.9.9.9:80"), feed_services,
	  "ipvsadm_list_none.txt", -ENOENT },
	{ W("-S", "-n"), feed_services, "ipvsadm_save.txt", 0 },
	{ W("-L", "-n", "--thresholds"), feed_thresholds,
	  "ipvsadm_list_thresholds.txt", 0 },
	{ W("-S", "-n"), feed_thresholds, "ipvsadm_save_thresholds.txt", 0 },
	{ W("-j", "service", "show"), feed_thresholds,
	  "service_show_thresholds.json", 0 },
	{ W("route", "show"), feed_routes, "route_show.txt", 0 },
	{ W("-j", "route", "show"), feed_routes, "route_show.json", 0 },
	{ W("push", "devices"), feed_push_devices, "push_devices.txt", 0 },
	{ W("-j", "push", "devices"), feed_push_devices, "push_devices.json",
	  0 },
	{ W("push", "queue", "phone-1"), feed_push_queue, "push_queue.txt", 0 },
	{ W("push", "message", "8a5e7c1e-4f7b-4f3e-9a51-0c2d7f1b2a33"),
	  feed_push_message, "push_message.txt", 0 },
};

START_TEST(test_golden)
{
	const struct golden_case *tc = &golden_cases[_i];
	struct lbctl_fmt *f = fmt_for(tc->argv);

	tc->feed(f);
	check_golden(f, tc->file, tc->rc);
	lbctl_fmt_free(f);
}
END_TEST

/* --rate: the difference of two snapshots over the time between them. */
START_TEST(test_rate_from_base)
{
	struct lbctl_fmt *a = fmt_for(WA("-Ln", "--rate"));
	struct lbctl_fmt *b = fmt_for(WA("-Ln", "--rate"));
	static const uint64_t c0[7] = { 10, 1000, 500, 100000, 50000, 0, 0 };
	static const uint64_t c1[7] = { 30, 3000, 900, 300000, 250000, 0, 0 };
	const uint64_t *cs[2] = { c0, c1 };
	struct lbctl_fmt *fs[2] = { a, b };

	for (int i = 0; i < 2; i++) {
		struct nl_msg *m = part_new(LB_MSG_SERVICE_GET);

		put_key(m, IPPROTO_TCP, "10.0.0.1", 80);
		ck_assert_int_eq(nla_put_string(m, LB_ATTR_SCHED, "rr"), 0);
		put_counters(m, cs[i]);
		feed(fs[i], m);
	}
	ck_assert(!lbctl_fmt_has_rates(b));
	lbctl_fmt_set_base(b, a, 2.0);
	check_golden(b, "ipvsadm_list_rate.txt", 0);
	lbctl_fmt_free(b);
	lbctl_fmt_free(a);
}
END_TEST

/* ---- the binary ------------------------------------------------------------- */

/*
 * Run lbctl with args; returns its exit status, its stderr in err and,
 * when out is not NULL, its stdout in out (through a temporary file).
 */
static int
run_lbctl_out(const char *const *args, char *out, size_t outlen, char *err,
	      size_t errlen)
{
	char tmpl[] = "/tmp/lbctl-out-XXXXXX";
	int pipefd[2], status, ofd;
	ssize_t n, got = 0;
	pid_t pid;

	ofd = mkstemp(tmpl);
	ck_assert_int_ge(ofd, 0);
	unlink(tmpl);
	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *argv[MAXARGS];

		argv_of(args, argv);
		argv[0] = (char *)LBCTL_BIN;
		dup2(ofd, STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		execv(LBCTL_BIN, argv);
		_exit(127);
	}
	close(pipefd[1]);
	while (got + 1 < (ssize_t)errlen &&
	       (n = read(pipefd[0], err + got, errlen - 1 - (size_t)got)) > 0)
		got += n;
	err[got] = '\0';
	close(pipefd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	if (out != NULL) {
		n = pread(ofd, out, outlen - 1, 0);
		ck_assert_int_ge(n, 0);
		out[n] = '\0';
	}
	close(ofd);
	return WEXITSTATUS(status);
}

static int
run_lbctl(const char *const *args, char *err, size_t errlen)
{
	return run_lbctl_out(args, NULL, 0, err, errlen);
}

START_TEST(test_binary_unreachable)
{
	char sock[64], err[512], want[256];

	snprintf(sock, sizeof(sock), "/tmp/lbctl-test-%d.sock", (int)getpid());
	unlink(sock);
	ck_assert_int_eq(run_lbctl(WA("--socket", sock, "service", "show"), err,
				   sizeof(err)),
			 LBCTL_EXIT_UNREACHABLE);
	snprintf(want, sizeof(want),
		 "lbctl: service show: cannot connect to %s: No such file or "
		 "directory\n",
		 sock);
	ck_assert_str_eq(err, want);

	ck_assert_int_eq(
		run_lbctl(WA("-Ln", "--socket", sock), err, sizeof(err)),
		LBCTL_EXIT_UNREACHABLE);
	ck_assert_ptr_nonnull(strstr(err, "lbctl: -L: cannot connect"));
	ck_assert_ptr_eq(strchr(err, '\n'), err + strlen(err) - 1);

	/* usage errors never touch the socket */
	ck_assert_int_eq(
		run_lbctl(WA("--socket", sock, "-a", "-t", "10.0.0.1:80"), err,
			  sizeof(err)),
		LBCTL_EXIT_USAGE);
	ck_assert_str_eq(err, "lbctl: -a: a real server is needed: -r "
			      "RIP[:PORT]\n");
	ck_assert_int_eq(run_lbctl(WA("--help"), err, sizeof(err)),
			 LBCTL_EXIT_OK);
	ck_assert_str_eq(err, "");
}
END_TEST

/* ---- against a server ---------------------------------------------------- */

/*
 * A stand-in server on a private socket, answering as edgelbd would: a
 * service dump, EEXIST for 10.0.0.1, ENOENT on delete, EBUSY on save.
 */
static int
srv_service_new(struct lbmsg_req *req)
{
	struct lb_addr vip, one;
	uint16_t vport;
	uint8_t proto;

	lb_addr_parse("10.0.0.1", &one);
	if (lbmsg_get_svc_key(req->tb, &proto, &vip, &vport) == 0 &&
	    lb_addr_equal(&vip, &one))
		return lbmsg_req_errf(req, -EEXIST,
				      "service tcp 10.0.0.1:%u exists", vport);
	return 0;
}

static int
srv_service_del(struct lbmsg_req *req)
{
	return lbmsg_req_errf(req, -ENOENT, "no such service");
}

static int
srv_save(struct lbmsg_req *req)
{
	return lbmsg_req_errf(req, -EBUSY, "a save is running");
}

static int
srv_service_get(struct lbmsg_req *req)
{
	for (size_t i = 0; i < sizeof(svcs) / sizeof(svcs[0]); i++) {
		struct nl_msg *m = lbmsg_req_part(req);
		int rc;

		if (m == NULL)
			return -ENOMEM;
		build_service_part(m, &svcs[i]);
		rc = lbmsg_req_send(req, m);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* One port's counters; rx_packets grows by 10 per request. */
static int
srv_stats_get(struct lbmsg_req *req)
{
	static uint64_t rx;
	struct nl_msg *m = lbmsg_req_part(req);
	struct nlattr *n;

	if (m == NULL)
		return -ENOMEM;
	rx += 10;
	if (nla_put_u8(m, LB_ATTR_STATS_KIND, LB_STATS_PORT) < 0 ||
	    nla_put_string(m, LB_ATTR_IFNAME, "port0") < 0 ||
	    nla_put_u16(m, LB_ATTR_PORT_ID, 0) < 0 ||
	    (n = nla_nest_start(m, LB_ATTR_COUNTERS)) == NULL ||
	    lbmsg_put_counter(m, "rx_packets", rx) < 0) {
		nlmsg_free(m);
		return -EMSGSIZE;
	}
	nla_nest_end(m, n);
	return lbmsg_req_send(req, m);
}

static char srv_path[64];
static pid_t srv_pid;

static void
srv_start(void)
{
	static lbmsg_handler_fn handlers[LB_MSG_MAX + 1];

	handlers[LB_MSG_SERVICE_NEW] = srv_service_new;
	handlers[LB_MSG_SERVICE_DEL] = srv_service_del;
	handlers[LB_MSG_SERVICE_GET] = srv_service_get;
	handlers[LB_MSG_SAVE] = srv_save;
	handlers[LB_MSG_STATS_GET] = srv_stats_get;
	snprintf(srv_path, sizeof(srv_path), "/tmp/lbctl-srv-%d.sock",
		 (int)getpid());
	unlink(srv_path);
	srv_pid = fork();
	ck_assert_int_ge(srv_pid, 0);
	if (srv_pid == 0) {
		pid_t parent = getppid();
		struct lbmsg_server *srv;

		srv = lbmsg_server_open(srv_path, 0, -1, handlers, NULL);
		if (srv == NULL)
			_exit(1);
		/*
		 * Bounded: at most 30 s, and gone within 0.1 s of the test
		 * process (a failed test skips srv_stop()).
		 */
		for (int i = 0; i < 300 && getppid() == parent; i++)
			lbmsg_server_poll(srv, 100);
		lbmsg_server_close(srv);
		unlink(srv_path);
		_exit(0);
	}
	for (int i = 0; i < 200 && access(srv_path, F_OK) != 0; i++)
		usleep(10000);
	ck_assert_int_eq(access(srv_path, F_OK), 0);
}

static void
srv_stop(void)
{
	if (srv_pid > 0) {
		kill(srv_pid, SIGKILL);
		waitpid(srv_pid, NULL, 0);
		srv_pid = 0;
	}
	unlink(srv_path);
}

START_TEST(test_binary_server)
{
	char out[8192], err[512], *want, path[512];
	size_t wantlen;

	/* -L -n through the real client: the golden layout */
	ck_assert_int_eq(run_lbctl_out(WA("--socket", srv_path, "-L", "-n"),
				       out, sizeof(out), err, sizeof(err)),
			 LBCTL_EXIT_OK);
	ck_assert_str_eq(err, "");
	snprintf(path, sizeof(path), "%s/ipvsadm_list.txt", LBCTL_GOLDEN_DIR);
	want = slurp(path, &wantlen);
	ck_assert_ptr_nonnull(want);
	ck_assert_str_eq(out, want);
	free(want);

	/* the socket from the environment */
	setenv("EDGELB_SOCKET", srv_path, 1);
	ck_assert_int_eq(run_lbctl_out(WA("-j", "service"), out, sizeof(out),
				       err, sizeof(err)),
			 LBCTL_EXIT_OK);
	unsetenv("EDGELB_SOCKET");
	ck_assert_ptr_eq(
		strstr(out, "[{\"proto\":\"tcp\",\"vip\":\"10.0.0.1\","), out);
	ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);

	ck_assert_int_eq(run_lbctl(WA("--socket", srv_path, "service", "add",
				      "10.0.0.2:80"),
				   err, sizeof(err)),
			 LBCTL_EXIT_OK);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(
		run_lbctl(WA("--socket", srv_path, "-A", "-t", "10.0.0.1:80"),
			  err, sizeof(err)),
		LBCTL_EXIT_EXISTS);
	ck_assert_str_eq(err, "lbctl: -A: service tcp 10.0.0.1:80 exists\n");
	ck_assert_int_eq(run_lbctl(WA("--socket", srv_path, "service", "del",
				      "10.0.0.9:80"),
				   err, sizeof(err)),
			 LBCTL_EXIT_NOENT);
	ck_assert_str_eq(err, "lbctl: service del: no such service\n");
	ck_assert_int_eq(
		run_lbctl(WA("--socket", srv_path, "save"), err, sizeof(err)),
		LBCTL_EXIT_FAIL);
	ck_assert_str_eq(err, "lbctl: save: a save is running\n");
	/* no handler: the server answers EOPNOTSUPP */
	ck_assert_int_eq(run_lbctl(WA("--socket", srv_path, "route", "show"),
				   err, sizeof(err)),
			 LBCTL_EXIT_FAIL);
	ck_assert_ptr_nonnull(strstr(err, "lbctl: route show: "));
	ck_assert_ptr_eq(strchr(err, '\n'), err + strlen(err) - 1);
	/* watch mode, bounded by --count; rounds apart by a blank line */
	ck_assert_int_eq(run_lbctl_out(WA("--socket", srv_path, "stats", "-w",
					  "1", "--count", "2"),
				       out, sizeof(out), err, sizeof(err)),
			 LBCTL_EXIT_OK);
	ck_assert_str_eq(out, "port port0 (id 0):\n"
			      "  rx_packets                       10\n"
			      "\n"
			      "port port0 (id 0):\n"
			      "  rx_packets                       20\n");
	/* ipvsadm -L -t for a service that is not there */
	ck_assert_int_eq(
		run_lbctl(WA("--socket", srv_path, "-Ln", "-t", "10.9.9.9:80"),
			  err, sizeof(err)),
		LBCTL_EXIT_NOENT);
	ck_assert_str_eq(err, "lbctl: -L: no such service\n");
}
END_TEST

static Suite *
lbctl_suite(void)
{
	Suite *s = suite_create("lbctl");
	TCase *core = tcase_create("core");
	TCase *golden = tcase_create("golden");
	TCase *errors = tcase_create("errors");
	TCase *server = tcase_create("server");

	tcase_add_loop_test(core, test_request, 0,
			    sizeof(req_cases) / sizeof(req_cases[0]));
	tcase_add_test(core, test_options);
	tcase_add_loop_test(core, test_push_request, 0,
			    sizeof(push_cases) / sizeof(push_cases[0]));
	tcase_add_loop_test(golden, test_golden, 0,
			    sizeof(golden_cases) / sizeof(golden_cases[0]));
	tcase_add_test(golden, test_rate_from_base);
	tcase_add_loop_test(errors, test_usage_error, 0,
			    sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(errors, test_binary_unreachable);
	tcase_add_checked_fixture(server, srv_start, srv_stop);
	tcase_add_test(server, test_binary_server);
	suite_add_tcase(s, core);
	suite_add_tcase(s, golden);
	suite_add_tcase(s, errors);
	suite_add_tcase(s, server);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(lbctl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
