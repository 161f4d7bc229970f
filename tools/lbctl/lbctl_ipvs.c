/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbctl's ipvsadm grammar: "lbctl -A -t VIP:PORT -s wlc",
 * "lbctl -a -t VIP:PORT -r RIP:PORT -m -w 2", "lbctl -Ln --stats", so that
 * LVS scripts keep working. Short options may be bundled ("-Ln") and an
 * option's value may follow it in the same word ("-w2") or the next one;
 * long options take "--opt VALUE" or "--opt=VALUE".
 *
 * Differences from ipvsadm, all documented in lbctl(8): addresses and
 * ports are numeric only (-n is accepted and implied); -f (firewall
 * marks), -M, -x/-y, -o and the sync daemon are not supported; -g/-m/-i
 * and --fnat on -A/-E set the service's forwarding mode (ipvsadm has no
 * service mode); a real server added without -g/-m/-i takes the service's
 * mode; -e and -E change only what is given.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lbctl_args.h"

#define IPVS_DEF_PERSIST 300
#define IPVS_DEF_WEIGHT	 1

enum ipvs_opt {
	O_CMD,	   /* a command; .cmd holds its letter */
	O_TCP,	   /* -t VIP:PORT */
	O_UDP,	   /* -u VIP:PORT */
	O_SCHED,   /* -s NAME */
	O_PERSIST, /* -p [TIMEOUT] */
	O_REAL,	   /* -r RIP[:PORT] */
	O_FWD,	   /* -g -m -i --fnat; .mode */
	O_WEIGHT,  /* -w N */
	O_UTHRESH, /* -x N */
	O_LTHRESH, /* -y N */
	O_THRESH,  /* --thresholds */
	O_NUMERIC, /* -n */
	O_STATS,   /* --stats */
	O_RATE,	   /* --rate */
	O_EXACT,   /* --exact */
	O_CONN,	   /* -c */
	O_JSON,	   /* -j (lbctl) */
	O_SOCKET,  /* --socket PATH (lbctl) */
	O_UNSUPP,  /* recognised, not supported */
};

static const struct ipvs_optdesc {
	char shortname;	      /* 0 if none */
	const char *longname; /* without "--" */
	enum ipvs_opt opt;
	int arg; /* 0 none, 1 required, 2 optional (a number) */
	char cmd;
	uint8_t mode;
} optdescs[] = {
	{ 'A', "add-service", O_CMD, 0, 'A', 0 },
	{ 'E', "edit-service", O_CMD, 0, 'E', 0 },
	{ 'D', "delete-service", O_CMD, 0, 'D', 0 },
	{ 'C', "clear", O_CMD, 0, 'C', 0 },
	{ 'a', "add-server", O_CMD, 0, 'a', 0 },
	{ 'e', "edit-server", O_CMD, 0, 'e', 0 },
	{ 'd', "delete-server", O_CMD, 0, 'd', 0 },
	{ 'L', "list", O_CMD, 0, 'L', 0 },
	{ 'l', NULL, O_CMD, 0, 'L', 0 },
	{ 'Z', "zero", O_CMD, 0, 'Z', 0 },
	{ 'S', "save", O_CMD, 0, 'S', 0 },
	{ 'h', "help", O_CMD, 0, 'h', 0 },
	{ 0, "set", O_CMD, 0, 'T', 0 },
	{ 't', "tcp-service", O_TCP, 1, 0, 0 },
	{ 'u', "udp-service", O_UDP, 1, 0, 0 },
	{ 's', "scheduler", O_SCHED, 1, 0, 0 },
	{ 'p', "persistent", O_PERSIST, 2, 0, 0 },
	{ 'r', "real-server", O_REAL, 1, 0, 0 },
	{ 'g', "gatewaying", O_FWD, 0, 0, LB_MODE_DR },
	{ 'm', "masquerading", O_FWD, 0, 0, LB_MODE_NAT },
	{ 'i', "ipip", O_FWD, 0, 0, LB_MODE_TUNNEL },
	{ 0, "fnat", O_FWD, 0, 0, LB_MODE_FNAT },
	{ 0, "fullnat", O_FWD, 0, 0, LB_MODE_FNAT },
	{ 'w', "weight", O_WEIGHT, 1, 0, 0 },
	{ 'n', "numeric", O_NUMERIC, 0, 0, 0 },
	{ 0, "stats", O_STATS, 0, 0, 0 },
	{ 0, "rate", O_RATE, 0, 0, 0 },
	{ 0, "exact", O_EXACT, 0, 0, 0 },
	{ 'c', "connection", O_CONN, 0, 0, 0 },
	{ 'j', "json", O_JSON, 0, 0, 0 },
	{ 0, "socket", O_SOCKET, 1, 0, 0 },
	{ 'f', "fwmark-service", O_UNSUPP, 1, 0, 0 },
	{ 'M', "netmask", O_UNSUPP, 1, 0, 0 },
	{ 'x', "u-threshold", O_UTHRESH, 1, 0, 0 },
	{ 'y', "l-threshold", O_LTHRESH, 1, 0, 0 },
	{ 0, "thresholds", O_THRESH, 0, 0, 0 },
	{ 'o', "ops", O_UNSUPP, 0, 0, 0 },
	{ '6', "ipv6", O_UNSUPP, 0, 0, 0 },
	{ 0, "start-daemon", O_UNSUPP, 1, 0, 0 },
	{ 0, "stop-daemon", O_UNSUPP, 1, 0, 0 },
};

#define NOPTS (sizeof(optdescs) / sizeof(optdescs[0]))

struct ipvs_args {
	char cmd;
	char cmdname[20];
	bool have_svc;
	struct lbctl_filter k;
	const char *sched;
	bool persist;
	uint32_t timeout;
	const char *real;
	uint8_t fwd;
	bool have_weight;
	uint32_t weight;
	bool have_thresh[2]; /* -x, -y */
	uint32_t thresh[2];
	bool conn;
	uint32_t set_tmo[3]; /* --set tcp tcpfin udp */
};

/* The command's name in error messages. */
static const char *
cmd_what(char cmd)
{
	static const char *const names[] = {
		"-A", "-E", "-D", "-C", "-a", "-e", "-d", "-L", "-Z", "-S",
	};
	const char *p = strchr("AEDCaedLZS", cmd);

	if (cmd == 'T')
		return "--set";
	return p != NULL && cmd != 0 ? names[p - "AEDCaedLZS"] : "-h";
}

/* Apply one option with its value (NULL when it takes none). */
static int
apply(struct lbctl_pctx *p, struct ipvs_args *a, const struct ipvs_optdesc *d,
      const char *name, const char *val)
{
	struct lbctl_opts *o = &p->cmd->opts;

	switch (d->opt) {
	case O_CMD:
		if (a->cmd != 0 && a->cmd != d->cmd)
			return lbctl_usage_err(p,
					       "more than one command given "
					       "(%s and %s)",
					       a->cmdname, name);
		a->cmd = d->cmd;
		p->cmd->what = cmd_what(a->cmd);
		snprintf(a->cmdname, sizeof(a->cmdname), "%s", name);
		return 0;
	case O_TCP:
	case O_UDP:
		if (a->have_svc)
			return lbctl_usage_err(p,
					       "%s: more than one service "
					       "given",
					       name);
		a->have_svc = true;
		a->k.proto = d->opt == O_TCP ? IPPROTO_TCP : IPPROTO_UDP;
		return lbctl_parse_svc_addr(p, val, &a->k);
	case O_SCHED:
		if (val[0] == '\0' || strlen(val) > LB_SCHED_NAME_MAX)
			return lbctl_usage_err(p, "%s: bad scheduler name '%s'",
					       name, val);
		a->sched = val;
		return 0;
	case O_PERSIST:
		a->persist = true;
		a->timeout = IPVS_DEF_PERSIST;
		if (val == NULL)
			return 0;
		return lbctl_parse_u32_arg(p, "persistence timeout", val, 1,
					   UINT32_MAX, &a->timeout);
	case O_REAL:
		a->real = val;
		return 0;
	case O_FWD:
		if (a->fwd != 0 && a->fwd != d->mode)
			return lbctl_usage_err(p,
					       "%s: more than one "
					       "forwarding method given",
					       name);
		a->fwd = d->mode;
		return 0;
	case O_WEIGHT:
		a->have_weight = true;
		return lbctl_parse_u32_arg(p, "weight", val, 0, LB_WEIGHT_MAX,
					   &a->weight);
	case O_UTHRESH:
	case O_LTHRESH: {
		int i = d->opt == O_LTHRESH;

		a->have_thresh[i] = true;
		return lbctl_parse_u32_arg(
			p, i ? "lower threshold" : "upper threshold", val, 0,
			LB_LIMIT_MAX, &a->thresh[i]);
	}
	case O_THRESH:
		o->thresholds = true;
		return 0;
	case O_NUMERIC:
		return 0; /* output is always numeric */
	case O_STATS:
		o->stats = true;
		return 0;
	case O_RATE:
		o->rate = true;
		return 0;
	case O_EXACT:
		o->exact = true;
		return 0;
	case O_CONN:
		a->conn = true;
		return 0;
	case O_JSON:
		o->json = true;
		return 0;
	case O_SOCKET:
		o->socket = val;
		return 0;
	case O_UNSUPP:
		return lbctl_usage_err(p, "%s is not supported", name);
	}
	return lbctl_usage_err(p, "%s: internal error", name);
}

/* An optional numeric value: the next word if it is all digits. */
static bool
is_number(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static int
scan(struct lbctl_pctx *p, struct ipvs_args *a, int argc, char **argv)
{
	const struct ipvs_optdesc *d;
	char name[40];
	const char *val;
	int rc;

	for (int i = 1; i < argc; i++) {
		char *w = argv[i];

		if (strncmp(w, "--", 2) == 0) {
			const char *eq = strchr(w, '=');
			size_t n = eq ? (size_t)(eq - w - 2) : strlen(w + 2);

			d = NULL;
			for (size_t j = 0; j < NOPTS; j++)
				if (optdescs[j].longname != NULL &&
				    strlen(optdescs[j].longname) == n &&
				    strncmp(optdescs[j].longname, w + 2, n) ==
					    0)
					d = &optdescs[j];
			if (d == NULL)
				return lbctl_usage_err(p, "unknown option '%s'",
						       w);
			snprintf(name, sizeof(name), "--%.*s", (int)n, w + 2);
			val = eq ? eq + 1 : NULL;
			if (d->cmd == 'T') {
				/* --set TCP TCPFIN UDP */
				rc = apply(p, a, d, name, NULL);
				for (int k = 0; rc == 0 && k < 3; k++)
					rc = lbctl_parse_u32_arg(
						p, "--set timeout",
						i + 1 < argc ? argv[++i] : NULL,
						0, 86400 * 365, &a->set_tmo[k]);
				if (rc < 0)
					return rc;
				continue;
			}
			if (d->arg == 0 && val != NULL)
				return lbctl_usage_err(p, "%s takes no value",
						       name);
			if (d->arg == 1 && val == NULL) {
				if (i + 1 >= argc)
					return lbctl_usage_err(
						p, "%s needs a value", name);
				val = argv[++i];
			}
			if (d->arg == 2 && val == NULL && i + 1 < argc &&
			    is_number(argv[i + 1]))
				val = argv[++i];
			rc = apply(p, a, d, name, val);
			if (rc < 0)
				return rc;
			continue;
		}
		if (w[0] != '-' || w[1] == '\0')
			return lbctl_usage_err(p, "unexpected argument '%s'",
					       w);
		for (char *c = w + 1; *c != '\0'; c++) {
			d = NULL;
			for (size_t j = 0; j < NOPTS; j++)
				if (optdescs[j].shortname == *c)
					d = &optdescs[j];
			if (d == NULL)
				return lbctl_usage_err(
					p, "unknown option '-%c'", *c);
			snprintf(name, sizeof(name), "-%c", *c);
			val = NULL;
			if (d->arg != 0 && c[1] != '\0') {
				val = c + 1; /* "-w2", "-tVIP:PORT" */
			} else if (d->arg == 1) {
				if (i + 1 >= argc)
					return lbctl_usage_err(
						p, "%s needs a value", name);
				val = argv[++i];
			} else if (d->arg == 2 && i + 1 < argc &&
				   is_number(argv[i + 1])) {
				val = argv[++i];
			}
			rc = apply(p, a, d, name, val);
			if (rc < 0)
				return rc;
			if (val != NULL && val == c + 1)
				break;
		}
	}
	return 0;
}

/* Refuse options that mean nothing for the command. */
static int
check_allowed(struct lbctl_pctx *p, const struct ipvs_args *a)
{
	bool svc_cmd = strchr("AED", a->cmd) != NULL;
	bool dst_cmd = strchr("aed", a->cmd) != NULL;

	if ((svc_cmd || dst_cmd) && !a->have_svc)
		return lbctl_usage_err(p, "a service is needed: -t or -u "
					  "VIP:PORT");
	if (dst_cmd && a->real == NULL)
		return lbctl_usage_err(p, "a real server is needed: -r "
					  "RIP[:PORT]");
	if (!dst_cmd && a->real != NULL)
		return lbctl_usage_err(p, "-r is only for -a, -e and -d");
	if (!dst_cmd && a->have_weight)
		return lbctl_usage_err(p, "-w is only for -a and -e");
	if ((!dst_cmd || a->cmd == 'd') &&
	    (a->have_thresh[0] || a->have_thresh[1]))
		return lbctl_usage_err(p, "-x and -y are only for -a and -e");
	if (p->cmd->opts.thresholds && a->cmd != 'L')
		return lbctl_usage_err(p, "--thresholds is only for -L");
	if (!(a->cmd == 'A' || a->cmd == 'E') && (a->sched || a->persist))
		return lbctl_usage_err(p, "-s and -p are only for -A and -E");
	if (a->fwd != 0 &&
	    (a->cmd == 'D' || a->cmd == 'd' || strchr("AEae", a->cmd) == NULL))
		return lbctl_usage_err(p, "-g/-m/-i/--fnat are only for "
					  "-A, -E, -a and -e");
	if (a->have_svc && strchr("AEDaedLZ", a->cmd) == NULL)
		return lbctl_usage_err(p, "-t/-u mean nothing here");
	if (a->cmd == 'Z' && a->have_svc)
		return lbctl_usage_err(p, "zeroing one service is not "
					  "supported; use -Z alone");
	if ((p->cmd->opts.stats || p->cmd->opts.rate || a->conn ||
	     p->cmd->opts.exact) &&
	    a->cmd != 'L')
		return lbctl_usage_err(p, "--stats, --rate, --exact and -c "
					  "are only for -L");
	if (p->cmd->opts.stats && p->cmd->opts.rate)
		return lbctl_usage_err(p, "--stats and --rate exclude each "
					  "other");
	return 0;
}

static int
build_backend(struct lbctl_pctx *p, const struct ipvs_args *a, uint16_t type)
{
	struct lb_addr ra;
	struct nl_msg *m;
	uint16_t rport;
	int rc;

	rc = lb_addr_port_parse(a->real, &ra, &rport, true);
	if (rc == -ERANGE)
		return lbctl_usage_err(p, "port out of range in '%s'", a->real);
	if (rc < 0)
		return lbctl_usage_err(p, "bad address '%s'", a->real);
	if (ra.family != a->k.vip.family)
		return lbctl_usage_err(p, "real server and service differ in "
					  "family");
	if (rport == 0)
		rport = a->k.vport;
	m = lbctl_req_add(p, type);
	if (m == NULL)
		return -ENOMEM;
	rc = lbctl_put_key(p, m, &a->k);
	if (rc < 0)
		return rc;
	if (lbmsg_put_addr(m, LB_ATTR_ADDR, &ra) < 0 ||
	    nla_put_u16(m, LB_ATTR_PORT, rport) < 0)
		return -ENOMEM;
	if (type == LB_MSG_BACKEND_DEL)
		return 0;
	if ((a->have_weight || type == LB_MSG_BACKEND_NEW) &&
	    nla_put_u32(m, LB_ATTR_WEIGHT,
			a->have_weight ? a->weight : IPVS_DEF_WEIGHT) < 0)
		return -ENOMEM;
	if (a->fwd != 0 && nla_put_u8(m, LB_ATTR_MODE, a->fwd) < 0)
		return -ENOMEM;
	if ((a->have_thresh[0] &&
	     nla_put_u32(m, LB_ATTR_U_THRESH, a->thresh[0]) < 0) ||
	    (a->have_thresh[1] &&
	     nla_put_u32(m, LB_ATTR_L_THRESH, a->thresh[1]) < 0))
		return -ENOMEM;
	return 0;
}

static int
build_service(struct lbctl_pctx *p, const struct ipvs_args *a, uint16_t type)
{
	const char *sched = a->sched;
	struct nl_msg *m;
	int rc;

	m = lbctl_req_add(p, type);
	if (m == NULL)
		return -ENOMEM;
	rc = lbctl_put_key(p, m, &a->k);
	if (rc < 0 || type == LB_MSG_SERVICE_DEL)
		return rc;
	if (sched == NULL && type == LB_MSG_SERVICE_NEW)
		sched = LB_SCHED_DEFAULT;
	if (sched != NULL && nla_put_string(m, LB_ATTR_SCHED, sched) < 0)
		return -ENOMEM;
	if (a->persist && nla_put_u32(m, LB_ATTR_PERSIST, a->timeout) < 0)
		return -ENOMEM;
	if (a->fwd != 0 && nla_put_u8(m, LB_ATTR_MODE, a->fwd) < 0)
		return -ENOMEM;
	return 0;
}

static int
build_timeouts(struct lbctl_pctx *p, const struct ipvs_args *a)
{
	static const int attrs[3] = { LB_ATTR_TMO_ESTABLISHED,
				      LB_ATTR_TMO_FIN_WAIT, LB_ATTR_TMO_UDP };
	struct nl_msg *m = lbctl_req_add(p, LB_MSG_CONFIG_SET);
	bool any = false;

	if (m == NULL)
		return -ENOMEM;
	for (int i = 0; i < 3; i++) {
		if (a->set_tmo[i] == 0) /* 0: unchanged, as ipvsadm */
			continue;
		any = true;
		if (nla_put_u32(m, attrs[i], a->set_tmo[i]) < 0)
			return -ENOMEM;
	}
	if (!any)
		return lbctl_usage_err(p, "nothing to set");
	return 0;
}

int
lbctl_parse_ipvs(struct lbctl_pctx *p, int argc, char **argv)
{
	struct lbctl_cmd *c = p->cmd;
	struct ipvs_args a = { 0 };
	int rc;

	rc = scan(p, &a, argc, argv);
	if (rc < 0)
		return rc;
	if (a.cmd == 0)
		return lbctl_usage_err(p, "no command given (-A, -E, -D, -C, "
					  "-a, -e, -d, -L, -Z, -S, --set)");
	c->what = cmd_what(a.cmd);
	if (a.cmd == 'h')
		return lbctl_want_help(p, "ipvsadm");
	rc = check_allowed(p, &a);
	if (rc < 0)
		return rc;
	switch (a.cmd) {
	case 'A':
		return build_service(p, &a, LB_MSG_SERVICE_NEW);
	case 'E':
		return build_service(p, &a, LB_MSG_SERVICE_SET);
	case 'D':
		return build_service(p, &a, LB_MSG_SERVICE_DEL);
	case 'a':
		return build_backend(p, &a, LB_MSG_BACKEND_NEW);
	case 'e':
		return build_backend(p, &a, LB_MSG_BACKEND_SET);
	case 'd':
		return build_backend(p, &a, LB_MSG_BACKEND_DEL);
	case 'C':
		return lbctl_req_add(p, LB_MSG_SERVICE_FLUSH) ? 0 : -ENOMEM;
	case 'Z':
		return lbctl_req_add(p, LB_MSG_STATS_ZERO) ? 0 : -ENOMEM;
	case 'T':
		return build_timeouts(p, &a);
	case 'S':
		c->view = LBCTL_VIEW_IPVS_SAVE;
		return lbctl_req_add(p, LB_MSG_SERVICE_GET) ? 0 : -ENOMEM;
	case 'L':
		if (a.conn) {
			c->view = LBCTL_VIEW_CONNS;
			return lbctl_req_add(p, LB_MSG_CONN_GET) ? 0 : -ENOMEM;
		}
		c->view = LBCTL_VIEW_IPVS_LIST;
		c->filter = a.k;
		c->filter.set = a.have_svc;
		return lbctl_req_add(p, LB_MSG_SERVICE_GET) ? 0 : -ENOMEM;
	}
	return lbctl_usage_err(p, "internal error");
}
