/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbctl argument parsing: turns an argv vector, in the ip-style syntax
 * ("lbctl service add tcp 10.0.0.1:80 sched wlc") or in ipvsadm's syntax
 * ("lbctl -A -t 10.0.0.1:80 -s wlc"), into a struct lbctl_cmd: the lbmsg
 * requests to send, in order, and the view that prints their replies.
 *
 * Parsing is a pure function of argv and the environment variable
 * EDGELB_SOCKET: it opens nothing and prints nothing, so that every
 * command line can be tested without a server.
 */
#ifndef EDGELB_LBCTL_ARGS_H
#define EDGELB_LBCTL_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "edgelb/lbmsg.h"
#include "edgelb/types.h"

#define LBCTL_MAX_REQS 4

/* Exit statuses of lbctl (documented in --help and lbctl(8)). */
enum lbctl_exit {
	LBCTL_EXIT_OK = 0,
	LBCTL_EXIT_FAIL = 1,	    /* the operation failed */
	LBCTL_EXIT_USAGE = 2,	    /* bad command line */
	LBCTL_EXIT_NOENT = 3,	    /* no such object (ENOENT) */
	LBCTL_EXIT_UNREACHABLE = 4, /* cannot connect to the socket */
	LBCTL_EXIT_EXISTS = 5,	    /* object already exists (EEXIST) */
};

/* How the replies of a command are shown. */
enum lbctl_view {
	LBCTL_VIEW_ACK = 0,   /* no output: only the ack matters */
	LBCTL_VIEW_HELP,      /* print help for cmd->help_topic, no request */
	LBCTL_VIEW_VERSION,   /* print the version, no request */
	LBCTL_VIEW_SERVICES,  /* service show */
	LBCTL_VIEW_BACKENDS,  /* backend show */
	LBCTL_VIEW_LADDRS,    /* laddr show */
	LBCTL_VIEW_ROUTES,    /* route show */
	LBCTL_VIEW_NEIGHS,    /* neigh show */
	LBCTL_VIEW_ADDRS,     /* addr show */
	LBCTL_VIEW_PORTS,     /* port show */
	LBCTL_VIEW_STATS,     /* stats */
	LBCTL_VIEW_CONNS,     /* conn show */
	LBCTL_VIEW_HEALTH,    /* health show */
	LBCTL_VIEW_CONFIG,    /* config show */
	LBCTL_VIEW_IPVS_LIST, /* ipvsadm -L -n (plain, --stats or --rate) */
	LBCTL_VIEW_IPVS_SAVE, /* ipvsadm -S: rules */
	LBCTL_VIEW_MODULES,   /* module show (edgelbd only) */
	LBCTL_VIEW_API,	      /* api ... (edgelbd's gateway module) */
	LBCTL_VIEW_PUSH,      /* push ... (edgelbd's push module) */
	LBCTL_VIEW_NODE,      /* node ... (edgelbd's bgp module) */
};

/* Options shared by every command. */
struct lbctl_opts {
	const char *socket; /* --socket, else $EDGELB_SOCKET, else default */
	bool json;	    /* -j */
	bool stats;	    /* -s / --stats */
	bool rate;	    /* --rate (ipvsadm) */
	bool exact;	    /* --exact (ipvsadm) */
	bool thresholds;    /* --thresholds (ipvsadm) */
	uint32_t watch;	    /* stats -w SECONDS; 0 = once */
	uint32_t count;	    /* stats --count N; 0 = unbounded */
	int timeout_ms;	    /* per reply datagram */
};

/* Show only the service with this key (ipvsadm -L -t, backend show K). */
struct lbctl_filter {
	bool set;
	uint8_t proto;
	struct lb_addr vip;
	uint16_t vport;
};

struct lbctl_cmd {
	struct lbctl_opts opts;
	enum lbctl_view view;
	const char *what;	/* "service add": names the command in errors */
	char whatbuf[32];	/* storage for what */
	const char *help_topic; /* LBCTL_VIEW_HELP: object name or NULL */
	struct lbctl_filter filter;
	unsigned int nreqs;
	struct nl_msg *reqs[LBCTL_MAX_REQS]; /* owned; sent in order */
	const char *data_file; /* api create --file: read when run */
};

/*
 * Parse argv (argv[0] is the program name) into cmd. Returns 0, or
 * -EINVAL for a usage error (err holds one line without the "lbctl: "
 * prefix, e.g. "service add: bad address '10.0.0.300:80'"), or -ENOMEM.
 * On failure cmd holds no request. Free with lbctl_cmd_free() either way.
 */
int lbctl_parse(int argc, char **argv, struct lbctl_cmd *cmd, char *err,
		size_t errlen);

void lbctl_cmd_free(struct lbctl_cmd *cmd);

/* Print the full help (--help) to out (lbctl_help.c). */
void lbctl_usage_print(FILE *out);

/* The help of one object (any prefix of its name), or NULL. */
const char *lbctl_help(const char *object);

/* ---- internal: lbctl_args.c, lbctl_ipvs.c, lbctl_util.c ------------------ */

/* A parse in progress. */
struct lbctl_pctx {
	struct lbctl_cmd *cmd;
	char *err;
	size_t errlen;
};

/* Format a usage error ("<what>: <text>") into p->err; returns -EINVAL. */
int lbctl_usage_err(struct lbctl_pctx *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append a request of type (NLM_F_DUMP for *_GET); NULL on ENOMEM or when
 * LBCTL_MAX_REQS are queued already. */
struct nl_msg *lbctl_req_add(struct lbctl_pctx *p, uint16_t type);

/* VIP[:PORT] into k (proto untouched); 0 or a usage error. */
int lbctl_parse_svc_addr(struct lbctl_pctx *p, const char *s,
			 struct lbctl_filter *k);

/* A decimal in [min, max] named what in errors; 0 or a usage error. */
int lbctl_parse_u32_arg(struct lbctl_pctx *p, const char *what, const char *s,
			uint32_t min, uint32_t max, uint32_t *out);

/* A forwarding mode name; unknown ones are a usage error. */
int lbctl_parse_mode_arg(struct lbctl_pctx *p, const char *s, uint8_t *mode);

/* PROTO, VIP, VPORT of k into m. */
int lbctl_put_key(struct lbctl_pctx *p, struct nl_msg *m,
		  const struct lbctl_filter *k);

/* Make the command print help on topic (NULL: everything). Returns 0. */
int lbctl_want_help(struct lbctl_pctx *p, const char *topic);

/* The ipvsadm grammar over the whole argv (lbctl_ipvs.c). */
int lbctl_parse_ipvs(struct lbctl_pctx *p, int argc, char **argv);

/*
 * lbctl api (lbctl_api.c): the words after "api" (w[0] is the verb) into
 * one MODULE_CMD request. 0, or a usage error (-EINVAL with p->err), or
 * -ENOMEM.
 */
int lbctl_api_parse(struct lbctl_pctx *p, char **w, int n);

/*
 * Before sending (lbctl_api.c): read cmd->data_file (if any) into the
 * request's MOD_DATA. 0 or -errno with err ("FILE: why").
 */
int lbctl_api_attach(struct lbctl_cmd *cmd, char *err, size_t errlen);

/*
 * lbctl push (lbctl_push.c): the words after "push" (w[0] is the verb)
 * into one MODULE_CMD request. 0, a usage error or -ENOMEM.
 */
int lbctl_push_parse(struct lbctl_pctx *p, char **w, int n);

/* lbctl node (lbctl_node.c): as lbctl_push_parse, module "bgp". */
int lbctl_node_parse(struct lbctl_pctx *p, char **w, int n);

#endif
