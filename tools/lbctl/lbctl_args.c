/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbctl argument parsing (see lbctl_args.h): the ip-style grammar, the
 * ipvsadm grammar, and the lbmsg requests each command line becomes.
 *
 * ip style: lbctl [OPTIONS] OBJECT [VERB] ARGS...; objects and verbs may
 * be abbreviated to any prefix, the first match in table order winning as
 * in ip(8) ("lbctl s" is "service", "lbctl st" is "stats"). A command
 * line is in ipvsadm's syntax when its first word that is not an lbctl
 * option starts with '-' (parsed by lbctl_parse_ipvs(), lbctl_ipvs.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lbctl_args.h"

/* ---- ip-style grammar ----------------------------------------------------- */

/* A cursor over the words after the object. */
struct words {
	char **v;
	int n;
	int i;
};

static const char *
peek(const struct words *w)
{
	return w->i < w->n ? w->v[w->i] : NULL;
}

static const char *
next(struct words *w)
{
	return w->i < w->n ? w->v[w->i++] : NULL;
}

/* True when word is a non-empty prefix of keyword (ip's matches()). */
static bool
matches(const char *word, const char *keyword)
{
	size_t n = strlen(word);

	return n > 0 && n <= strlen(keyword) && strncmp(word, keyword, n) == 0;
}

enum verb {
	V_NONE,
	V_SHOW,
	V_ADD,
	V_DEL,
	V_SET,
	V_FLUSH,
	V_ZERO,
	V_HELP,
};

static const struct {
	const char *name;
	enum verb verb;
} verbs[] = {
	{ "show", V_SHOW },  { "list", V_SHOW },   { "ls", V_SHOW },
	{ "add", V_ADD },    { "delete", V_DEL },  { "set", V_SET },
	{ "change", V_SET }, { "flush", V_FLUSH }, { "zero", V_ZERO },
	{ "help", V_HELP },
};

static const char *const verb_names[] = {
	[V_SHOW] = "show", [V_ADD] = "add",	[V_DEL] = "del",
	[V_SET] = "set",   [V_FLUSH] = "flush", [V_ZERO] = "zero",
};

/* "service" becomes "service add" in error messages. */
static void
name_cmd(struct lbctl_pctx *p, const char *verb)
{
	struct lbctl_cmd *c = p->cmd;

	snprintf(c->whatbuf, sizeof(c->whatbuf), "%s %s", c->what, verb);
	c->what = c->whatbuf;
}

/* The verb at the cursor (consumed), V_SHOW when there are no words. */
static int
take_verb(struct lbctl_pctx *p, struct words *w, unsigned int allowed,
	  enum verb *out)
{
	const char *s = peek(w);

	if (s == NULL) {
		*out = V_SHOW;
		name_cmd(p, "show");
		return (allowed & (1u << V_SHOW)) != 0
			       ? 0
			       : lbctl_usage_err(p, "missing command");
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (!matches(s, verbs[i].name) ||
		    (allowed & (1u << verbs[i].verb)) == 0)
			continue;
		w->i++;
		*out = verbs[i].verb;
		if (*out != V_HELP)
			name_cmd(p, verb_names[*out]);
		return 0;
	}
	return lbctl_usage_err(p, "unknown command '%s'", s);
}

#define VB(v) (1u << (v))

/* [tcp|udp] VIP[:PORT] */
static int
take_svc_key(struct lbctl_pctx *p, struct words *w, struct lbctl_filter *k)
{
	const char *s = peek(w);
	int proto;

	k->proto = IPPROTO_TCP;
	if (s != NULL && (proto = lb_proto_parse(s)) > 0) {
		k->proto = (uint8_t)proto;
		w->i++;
	}
	s = next(w);
	if (s == NULL)
		return lbctl_usage_err(p, "missing service VIP:PORT");
	return lbctl_parse_svc_addr(p, s, k);
}

static int
need_end(struct lbctl_pctx *p, struct words *w)
{
	const char *s = peek(w);

	if (s != NULL)
		return lbctl_usage_err(p, "unexpected argument '%s'", s);
	return 0;
}

static int
put_str(struct lbctl_pctx *p, struct nl_msg *m, int attr, const char *what,
	const char *s, size_t max)
{
	if (s == NULL)
		return lbctl_usage_err(p, "%s needs a value", what);
	if (s[0] == '\0' || strlen(s) > max)
		return lbctl_usage_err(p, "%s must be 1-%zu characters: '%s'",
				       what, max, s);
	if (nla_put_string(m, attr, s) < 0)
		return lbctl_usage_err(p, "request too large");
	return 0;
}

#define TRY(x)                                                                 \
	do {                                                                   \
		int rc_ = (x);                                                 \
		if (rc_ < 0)                                                   \
			return rc_;                                            \
	} while (0)

/* The attribute of a service limit argument, or 0. */
static int
limit_attr(const char *s)
{
	if (strcmp(s, "max-conns") == 0)
		return LB_ATTR_MAX_CONNS;
	if (strcmp(s, "conn-rate") == 0)
		return LB_ATTR_CONN_RATE;
	if (strcmp(s, "syn-src-rate") == 0)
		return LB_ATTR_SYN_SRC_RATE;
	return 0;
}

static int
do_service(struct lbctl_pctx *p, struct words *w)
{
	static const uint16_t types[] = {
		[V_ADD] = LB_MSG_SERVICE_NEW,
		[V_DEL] = LB_MSG_SERVICE_DEL,
		[V_SET] = LB_MSG_SERVICE_SET,
	};
	struct lbctl_filter k = { 0 };
	bool have_flags = false, changed = false;
	uint32_t flags = 0, v;
	struct nl_msg *m;
	enum verb verb = V_NONE;
	uint8_t mode = 0;
	const char *s;

	TRY(take_verb(p, w,
		      VB(V_SHOW) | VB(V_ADD) | VB(V_DEL) | VB(V_SET) |
			      VB(V_FLUSH) | VB(V_HELP),
		      &verb));
	if (verb == V_HELP)
		return lbctl_want_help(p, "service");
	if (verb == V_FLUSH) {
		TRY(need_end(p, w));
		return lbctl_req_add(p, LB_MSG_SERVICE_FLUSH) ? 0 : -ENOMEM;
	}
	if (verb == V_SHOW) {
		if (peek(w) != NULL)
			TRY(take_svc_key(p, w, &p->cmd->filter));
		TRY(need_end(p, w));
		p->cmd->view = LBCTL_VIEW_SERVICES;
		return lbctl_req_add(p, LB_MSG_SERVICE_GET) ? 0 : -ENOMEM;
	}
	TRY(take_svc_key(p, w, &k));
	m = lbctl_req_add(p, types[verb]);
	if (m == NULL)
		return -ENOMEM;
	TRY(lbctl_put_key(p, m, &k));
	if (verb == V_DEL)
		return need_end(p, w);
	while ((s = next(w)) != NULL) {
		changed = true;
		if (strcmp(s, "mode") == 0) {
			TRY(lbctl_parse_mode_arg(p, next(w), &mode));
			if (nla_put_u8(m, LB_ATTR_MODE, mode) < 0)
				return -ENOMEM;
		} else if (strcmp(s, "sched") == 0 ||
			   strcmp(s, "scheduler") == 0) {
			TRY(put_str(p, m, LB_ATTR_SCHED, "sched", next(w),
				    LB_SCHED_NAME_MAX));
		} else if (strcmp(s, "persist") == 0 ||
			   strcmp(s, "persistent") == 0) {
			TRY(lbctl_parse_u32_arg(p, "persist", next(w), 0,
						LB_PERSIST_MAX, &v));
			if (nla_put_u32(m, LB_ATTR_PERSIST, v) < 0)
				return -ENOMEM;
		} else if (strcmp(s, "mh-size") == 0) {
			TRY(lbctl_parse_u32_arg(p, "mh-size", next(w), 1,
						UINT32_MAX, &v));
			if (nla_put_u32(m, LB_ATTR_MH_SIZE, v) < 0)
				return -ENOMEM;
		} else if (limit_attr(s) != 0) {
			TRY(lbctl_parse_u32_arg(p, s, next(w), 0, LB_LIMIT_MAX,
						&v));
			if (nla_put_u32(m, limit_attr(s), v) < 0)
				return -ENOMEM;
		} else if (strcmp(s, "name") == 0) {
			TRY(put_str(p, m, LB_ATTR_NAME, "name", next(w),
				    LB_NAME_MAX));
		} else if (strcmp(s, "toa") == 0) {
			have_flags = true;
			flags |= LB_SVC_F_TOA;
		} else if (strcmp(s, "proxy-v2") == 0) {
			have_flags = true;
			flags |= LB_SVC_F_PROXY_V2;
		} else if (strcmp(s, "sh-port") == 0) {
			have_flags = true;
			flags |= LB_SVC_F_SH_PORT;
		} else if (strcmp(s, "udp-drain") == 0) {
			have_flags = true;
			flags |= LB_SVC_F_UDP_DRAIN;
		} else if (strcmp(s, "synproxy") == 0) {
			const char *mode = next(w);

			have_flags = true;
			if (mode != NULL && strcmp(mode, "on") == 0)
				flags |= LB_SVC_F_SYNPROXY_ON;
			else if (mode != NULL && strcmp(mode, "off") == 0)
				flags |= LB_SVC_F_SYNPROXY_OFF;
			else if (mode == NULL || strcmp(mode, "auto") != 0)
				return lbctl_usage_err(
					p,
					"synproxy: expected on, off or auto");
		} else if (strcmp(s, "mh-adopt") == 0) {
			have_flags = true;
			flags |= LB_SVC_F_MH_ADOPT;
		} else if (strcmp(s, "noflags") == 0) {
			have_flags = true;
		} else {
			return lbctl_usage_err(p, "unknown argument '%s'", s);
		}
	}
	if (have_flags && nla_put_u32(m, LB_ATTR_SVC_FLAGS, flags) < 0)
		return -ENOMEM;
	if (verb == V_SET && !changed)
		return lbctl_usage_err(p, "nothing to change");
	return 0;
}

/* ADDR[:PORT]; the port defaults to the service's. */
static int
take_backend(struct lbctl_pctx *p, const char *s, const struct lbctl_filter *k,
	     struct lb_addr *a, uint16_t *port)
{
	int rc;

	if (s == NULL)
		return lbctl_usage_err(p, "missing backend ADDR[:PORT]");
	rc = lb_addr_port_parse(s, a, port, true);
	if (rc == -ERANGE)
		return lbctl_usage_err(p, "port out of range in '%s'", s);
	if (rc < 0)
		return lbctl_usage_err(p, "bad address '%s'", s);
	if (a->family != k->vip.family)
		return lbctl_usage_err(p,
				       "backend '%s' and the VIP are of "
				       "different families",
				       s);
	if (*port == 0)
		*port = k->vport;
	return 0;
}

static int
do_backend(struct lbctl_pctx *p, struct words *w)
{
	static const uint16_t types[] = {
		[V_ADD] = LB_MSG_BACKEND_NEW,
		[V_DEL] = LB_MSG_BACKEND_DEL,
		[V_SET] = LB_MSG_BACKEND_SET,
	};
	struct lbctl_filter k = { 0 };
	bool changed = false;
	struct lb_addr a;
	struct nl_msg *m;
	enum verb verb = V_NONE;
	uint16_t port;
	uint8_t mode = 0;
	const char *s;
	uint32_t v;

	TRY(take_verb(p, w,
		      VB(V_SHOW) | VB(V_ADD) | VB(V_DEL) | VB(V_SET) |
			      VB(V_HELP),
		      &verb));
	if (verb == V_HELP)
		return lbctl_want_help(p, "backend");
	if (verb == V_SHOW) {
		if (peek(w) != NULL)
			TRY(take_svc_key(p, w, &p->cmd->filter));
		TRY(need_end(p, w));
		p->cmd->view = LBCTL_VIEW_BACKENDS;
		return lbctl_req_add(p, LB_MSG_BACKEND_GET) ? 0 : -ENOMEM;
	}
	TRY(take_svc_key(p, w, &k));
	TRY(take_backend(p, next(w), &k, &a, &port));
	m = lbctl_req_add(p, types[verb]);
	if (m == NULL)
		return -ENOMEM;
	TRY(lbctl_put_key(p, m, &k));
	if (lbmsg_put_addr(m, LB_ATTR_ADDR, &a) < 0 ||
	    nla_put_u16(m, LB_ATTR_PORT, port) < 0)
		return -ENOMEM;
	if (verb == V_DEL)
		return need_end(p, w);
	while ((s = next(w)) != NULL) {
		changed = true;
		if (strcmp(s, "weight") == 0) {
			TRY(lbctl_parse_u32_arg(p, "weight", next(w), 0,
						LB_WEIGHT_MAX, &v));
			if (nla_put_u32(m, LB_ATTR_WEIGHT, v) < 0)
				return -ENOMEM;
		} else if (strcmp(s, "mode") == 0) {
			TRY(lbctl_parse_mode_arg(p, next(w), &mode));
			if (nla_put_u8(m, LB_ATTR_MODE, mode) < 0)
				return -ENOMEM;
		} else if (strcmp(s, "u-threshold") == 0 ||
			   strcmp(s, "l-threshold") == 0) {
			TRY(lbctl_parse_u32_arg(p, s, next(w), 0, LB_LIMIT_MAX,
						&v));
			if (nla_put_u32(m,
					s[0] == 'u' ? LB_ATTR_U_THRESH
						    : LB_ATTR_L_THRESH,
					v) < 0)
				return -ENOMEM;
		} else {
			return lbctl_usage_err(p, "unknown argument '%s'", s);
		}
	}
	if (verb == V_SET && !changed)
		return lbctl_usage_err(p, "nothing to change");
	return 0;
}

static int
do_laddr(struct lbctl_pctx *p, struct words *w)
{
	struct lbctl_filter k = { 0 };
	struct lb_addr a;
	struct nl_msg *m;
	enum verb verb = V_NONE;
	const char *s;

	TRY(take_verb(p, w, VB(V_SHOW) | VB(V_ADD) | VB(V_DEL) | VB(V_HELP),
		      &verb));
	if (verb == V_HELP)
		return lbctl_want_help(p, "laddr");
	if (verb == V_SHOW) {
		if (peek(w) != NULL)
			TRY(take_svc_key(p, w, &p->cmd->filter));
		TRY(need_end(p, w));
		p->cmd->view = LBCTL_VIEW_LADDRS;
		return lbctl_req_add(p, LB_MSG_LADDR_GET) ? 0 : -ENOMEM;
	}
	TRY(take_svc_key(p, w, &k));
	s = next(w);
	if (s == NULL)
		return lbctl_usage_err(p, "missing local address");
	if (lb_addr_parse(s, &a) < 0)
		return lbctl_usage_err(p, "bad address '%s'", s);
	TRY(need_end(p, w));
	m = lbctl_req_add(p,
			  verb == V_ADD ? LB_MSG_LADDR_NEW : LB_MSG_LADDR_DEL);
	if (m == NULL)
		return -ENOMEM;
	TRY(lbctl_put_key(p, m, &k));
	return lbmsg_put_addr(m, LB_ATTR_ADDR, &a) < 0 ? -ENOMEM : 0;
}

/*
 * The verb of obj, among show, help and those in more. With *verb V_HELP
 * or V_SHOW the command is complete (show takes no arguments: the view,
 * then a get_type request); otherwise the caller goes on. 0 or -errno.
 */
static int
take_verb_show(struct lbctl_pctx *p, struct words *w, const char *obj,
	       unsigned int more, enum lbctl_view view, uint16_t get_type,
	       enum verb *verb)
{
	TRY(take_verb(p, w, VB(V_SHOW) | VB(V_HELP) | more, verb));
	if (*verb == V_HELP)
		return lbctl_want_help(p, obj);
	if (*verb != V_SHOW)
		return 0;
	TRY(need_end(p, w));
	p->cmd->view = view;
	return lbctl_req_add(p, get_type) ? 0 : -ENOMEM;
}

/* "dev PORT" */
static int
put_dev(struct lbctl_pctx *p, struct nl_msg *m, const char *s)
{
	return put_str(p, m, LB_ATTR_IFNAME, "dev", s, LB_IFNAME_MAX);
}

static int
do_route(struct lbctl_pctx *p, struct words *w)
{
	struct lb_addr dst, gw;
	struct nl_msg *m;
	enum verb verb = V_NONE;
	uint8_t plen;
	const char *s;

	TRY(take_verb_show(p, w, "route", VB(V_ADD) | VB(V_DEL),
			   LBCTL_VIEW_ROUTES, LB_MSG_ROUTE_GET, &verb));
	if (verb == V_HELP || verb == V_SHOW)
		return 0;
	s = next(w);
	if (s == NULL)
		return lbctl_usage_err(p, "missing PREFIX");
	if (lb_prefix_parse(s, &dst, &plen) < 0)
		return lbctl_usage_err(p, "bad prefix '%s'", s);
	m = lbctl_req_add(p,
			  verb == V_ADD ? LB_MSG_ROUTE_NEW : LB_MSG_ROUTE_DEL);
	if (m == NULL)
		return -ENOMEM;
	if (lbmsg_put_addr(m, LB_ATTR_DST, &dst) < 0 ||
	    nla_put_u8(m, LB_ATTR_PREFIXLEN, plen) < 0)
		return -ENOMEM;
	while ((s = next(w)) != NULL) {
		if (strcmp(s, "via") == 0) {
			s = next(w);
			if (s == NULL || lb_addr_parse(s, &gw) < 0)
				return lbctl_usage_err(p, "bad gateway '%s'",
						       s ? s : "");
			if (gw.family != dst.family)
				return lbctl_usage_err(
					p,
					"gateway and prefix differ in family");
			if (lbmsg_put_addr(m, LB_ATTR_GATEWAY, &gw) < 0)
				return -ENOMEM;
		} else if (strcmp(s, "dev") == 0) {
			TRY(put_dev(p, m, next(w)));
		} else {
			return lbctl_usage_err(p, "unknown argument '%s'", s);
		}
	}
	return 0;
}

static int
do_neigh(struct lbctl_pctx *p, struct words *w)
{
	bool have_ll = false, have_dev = false;
	struct lb_addr a;
	struct nl_msg *m;
	uint8_t mac[6];
	enum verb verb = V_NONE;
	const char *s;

	TRY(take_verb_show(p, w, "neigh", VB(V_ADD) | VB(V_DEL),
			   LBCTL_VIEW_NEIGHS, LB_MSG_NEIGH_GET, &verb));
	if (verb == V_HELP || verb == V_SHOW)
		return 0;
	s = next(w);
	if (s == NULL)
		return lbctl_usage_err(p, "missing ADDR");
	if (lb_addr_parse(s, &a) < 0)
		return lbctl_usage_err(p, "bad address '%s'", s);
	m = lbctl_req_add(p,
			  verb == V_ADD ? LB_MSG_NEIGH_NEW : LB_MSG_NEIGH_DEL);
	if (m == NULL)
		return -ENOMEM;
	if (lbmsg_put_addr(m, LB_ATTR_ADDR, &a) < 0)
		return -ENOMEM;
	while ((s = next(w)) != NULL) {
		if (strcmp(s, "lladdr") == 0 && verb == V_ADD && !have_ll) {
			s = next(w);
			if (s == NULL || lb_mac_parse(s, mac) < 0)
				return lbctl_usage_err(p, "bad lladdr '%s'",
						       s ? s : "");
			if (nla_put(m, LB_ATTR_LLADDR, 6, mac) < 0)
				return -ENOMEM;
			have_ll = true;
		} else if (strcmp(s, "dev") == 0 && !have_dev) {
			TRY(put_dev(p, m, next(w)));
			have_dev = true;
		} else {
			return lbctl_usage_err(p, "unknown argument '%s'", s);
		}
	}
	if (verb == V_ADD && (!have_ll || !have_dev))
		return lbctl_usage_err(p, "needs lladdr MAC and dev PORT");
	return 0;
}

static int
do_addr(struct lbctl_pctx *p, struct words *w)
{
	bool have_dev = false;
	struct lb_addr a;
	struct nl_msg *m;
	enum verb verb = V_NONE;
	uint8_t plen;
	const char *s;

	TRY(take_verb_show(p, w, "addr", VB(V_ADD) | VB(V_DEL),
			   LBCTL_VIEW_ADDRS, LB_MSG_PORTADDR_GET, &verb));
	if (verb == V_HELP || verb == V_SHOW)
		return 0;
	s = next(w);
	if (s == NULL)
		return lbctl_usage_err(p, "missing ADDR/PLEN");
	if (lb_prefix_parse(s, &a, &plen) < 0)
		return lbctl_usage_err(p, "bad address '%s'", s);
	m = lbctl_req_add(p, verb == V_ADD ? LB_MSG_PORTADDR_NEW
					   : LB_MSG_PORTADDR_DEL);
	if (m == NULL)
		return -ENOMEM;
	if (lbmsg_put_addr(m, LB_ATTR_ADDR, &a) < 0 ||
	    nla_put_u8(m, LB_ATTR_PREFIXLEN, plen) < 0)
		return -ENOMEM;
	while ((s = next(w)) != NULL) {
		if (strcmp(s, "dev") == 0 && !have_dev) {
			TRY(put_dev(p, m, next(w)));
			have_dev = true;
		} else {
			return lbctl_usage_err(p, "unknown argument '%s'", s);
		}
	}
	if (!have_dev)
		return lbctl_usage_err(p, "needs dev PORT");
	return 0;
}

/* Objects whose only verb is show: port, conn, health. */
static int
do_show_only(struct lbctl_pctx *p, struct words *w, const char *obj,
	     enum lbctl_view view, uint16_t type)
{
	enum verb verb = V_NONE;

	return take_verb_show(p, w, obj, 0, view, type, &verb);
}

static int
do_port(struct lbctl_pctx *p, struct words *w)
{
	return do_show_only(p, w, "port", LBCTL_VIEW_PORTS, LB_MSG_PORT_GET);
}

static int
do_conn(struct lbctl_pctx *p, struct words *w)
{
	return do_show_only(p, w, "conn", LBCTL_VIEW_CONNS, LB_MSG_CONN_GET);
}

static int
do_health(struct lbctl_pctx *p, struct words *w)
{
	return do_show_only(p, w, "health", LBCTL_VIEW_HEALTH,
			    LB_MSG_HEALTH_GET);
}

/* module [show] [NAME]: edgelbd's modules and their state. */
static int
do_module(struct lbctl_pctx *p, struct words *w)
{
	enum verb verb = V_NONE;
	const char *name;
	struct nl_msg *m;

	TRY(take_verb(p, w, VB(V_SHOW) | VB(V_HELP), &verb));
	if (verb == V_HELP)
		return lbctl_want_help(p, "module");
	p->cmd->view = LBCTL_VIEW_MODULES;
	m = lbctl_req_add(p, LB_MSG_MODULE_GET);
	if (m == NULL)
		return -ENOMEM;
	name = next(w);
	if (name != NULL)
		TRY(put_str(p, m, LB_ATTR_NAME, "module", name, LB_NAME_MAX));
	return need_end(p, w);
}

static int
do_stats(struct lbctl_pctx *p, struct words *w)
{
	enum verb verb = V_NONE;

	TRY(take_verb(p, w, VB(V_SHOW) | VB(V_ZERO) | VB(V_HELP), &verb));
	if (verb == V_HELP)
		return lbctl_want_help(p, "stats");
	TRY(need_end(p, w));
	if (verb == V_ZERO)
		return lbctl_req_add(p, LB_MSG_STATS_ZERO) ? 0 : -ENOMEM;
	p->cmd->view = LBCTL_VIEW_STATS;
	return lbctl_req_add(p, LB_MSG_STATS_GET) ? 0 : -ENOMEM;
}

/* Keys of "config set"; seconds. */
static const struct {
	const char *key;
	int attr;
} config_keys[] = {
	{ "timeout-syn-recv", LB_ATTR_TMO_SYN_RECV },
	{ "timeout-tcp-est", LB_ATTR_TMO_ESTABLISHED },
	{ "timeout-fin-wait", LB_ATTR_TMO_FIN_WAIT },
	{ "timeout-time-wait", LB_ATTR_TMO_TIME_WAIT },
	{ "timeout-close", LB_ATTR_TMO_CLOSE },
	{ "timeout-udp", LB_ATTR_TMO_UDP },
};

static int
do_config(struct lbctl_pctx *p, struct words *w)
{
	uint64_t seen = 0;
	struct nl_msg *m;
	enum verb verb = V_NONE;
	const char *s;
	uint32_t v;
	size_t i;

	TRY(take_verb_show(p, w, "config", VB(V_SET), LBCTL_VIEW_CONFIG,
			   LB_MSG_CONFIG_GET, &verb));
	if (verb == V_HELP || verb == V_SHOW)
		return 0;
	m = lbctl_req_add(p, LB_MSG_CONFIG_SET);
	if (m == NULL)
		return -ENOMEM;
	while ((s = next(w)) != NULL) {
		for (i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]);
		     i++)
			if (strcmp(s, config_keys[i].key) == 0)
				break;
		if (i == sizeof(config_keys) / sizeof(config_keys[0]))
			return lbctl_usage_err(p, "unknown key '%s'", s);
		if (seen & (1ull << i))
			return lbctl_usage_err(p, "'%s' given twice", s);
		seen |= 1ull << i;
		TRY(lbctl_parse_u32_arg(p, s, next(w), 1, 86400 * 365, &v));
		if (nla_put_u32(m, config_keys[i].attr, v) < 0)
			return -ENOMEM;
	}
	if (seen == 0)
		return lbctl_usage_err(p, "nothing to set");
	return 0;
}

static int
do_save(struct lbctl_pctx *p, struct words *w)
{
	p->cmd->what = "save";
	TRY(need_end(p, w));
	return lbctl_req_add(p, LB_MSG_SAVE) ? 0 : -ENOMEM;
}

static int
do_help(struct lbctl_pctx *p, struct words *w)
{
	const char *obj = next(w);

	p->cmd->what = "help";
	if (obj != NULL && lbctl_help(obj) == NULL)
		return lbctl_usage_err(p, "no help for '%s'", obj);
	return lbctl_want_help(p, obj);
}

/* push VERB ...: lbctl_push.c */
static int
do_push(struct lbctl_pctx *p, struct words *w)
{
	return lbctl_push_parse(p, w->v + w->i, w->n - w->i);
}

/* node VERB: lbctl_node.c */
static int
do_node(struct lbctl_pctx *p, struct words *w)
{
	return lbctl_node_parse(p, w->v + w->i, w->n - w->i);
}

/* api VERB ...: lbctl_api.c */
static int
do_api(struct lbctl_pctx *p, struct words *w)
{
	return lbctl_api_parse(p, w->v + w->i, w->n - w->i);
}

static const struct {
	const char *name;
	int (*fn)(struct lbctl_pctx *p, struct words *w);
} objects[] = {
	{ "service", do_service }, { "backend", do_backend },
	{ "laddr", do_laddr },	   { "route", do_route },
	{ "neigh", do_neigh },	   { "addr", do_addr },
	{ "port", do_port },	   { "stats", do_stats },
	{ "conn", do_conn },	   { "health", do_health },
	{ "config", do_config },   { "save", do_save },
	{ "module", do_module },   { "help", do_help },
	{ "api", do_api },	   { "push", do_push },
	{ "node", do_node },
};

static bool
is_object(const char *word)
{
	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
		if (matches(word, objects[i].name))
			return true;
	return false;
}

int
lbctl_want_help(struct lbctl_pctx *p, const char *topic)
{
	p->cmd->view = LBCTL_VIEW_HELP;
	p->cmd->help_topic = topic;
	return 0;
}

/*
 * Options before the object, and -j/-s/-w/--count/--socket anywhere
 * after it. Returns the number of argv words consumed as options (they are
 * removed from words), or a negative errno.
 */
static int
take_opt(struct lbctl_pctx *p, char **argv, int argc, int i, bool *is_opt)
{
	struct lbctl_opts *o = &p->cmd->opts;
	const char *a = argv[i];

	*is_opt = true;
	if (strcmp(a, "-j") == 0 || strcmp(a, "--json") == 0) {
		o->json = true;
	} else if (strcmp(a, "-s") == 0 || strcmp(a, "--stats") == 0) {
		o->stats = true;
	} else if (strcmp(a, "--socket") == 0) {
		if (i + 1 >= argc)
			return lbctl_usage_err(p, "--socket needs a PATH");
		o->socket = argv[i + 1];
		return 2;
	} else if (strncmp(a, "--socket=", 9) == 0) {
		o->socket = a + 9;
	} else if (strcmp(a, "-w") == 0 || strcmp(a, "--watch") == 0) {
		TRY(lbctl_parse_u32_arg(p, "-w",
					i + 1 < argc ? argv[i + 1] : NULL, 1,
					86400, &o->watch));
		return 2;
	} else if (strcmp(a, "--count") == 0) {
		TRY(lbctl_parse_u32_arg(p, "--count",
					i + 1 < argc ? argv[i + 1] : NULL, 1,
					UINT32_MAX, &o->count));
		return 2;
	} else {
		*is_opt = false;
		return 0;
	}
	return 1;
}

static int
parse_ip(struct lbctl_pctx *p, int argc, char **argv, int first)
{
	char *words[argc > 0 ? argc : 1];
	struct words w = { .v = words };
	const char *obj = argv[first];
	bool is_opt;
	int rc;

	for (int i = first + 1; i < argc;) {
		rc = take_opt(p, argv, argc, i, &is_opt);
		if (rc < 0)
			return rc;
		if (is_opt) {
			i += rc;
			continue;
		}
		/* api takes its own --options (lbctl_api.c) */
		if (argv[i][0] == '-' && argv[i][1] != '\0' &&
		    strcmp(obj, "api") != 0)
			return lbctl_usage_err(p, "unknown option '%s'",
					       argv[i]);
		words[w.n++] = argv[i++];
	}
	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
		if (!matches(obj, objects[i].name))
			continue;
		p->cmd->what = objects[i].name;
		rc = objects[i].fn(p, &w);
		if (rc < 0)
			return rc;
		if ((p->cmd->opts.watch || p->cmd->opts.count) &&
		    p->cmd->view != LBCTL_VIEW_STATS &&
		    p->cmd->view != LBCTL_VIEW_HELP)
			return lbctl_usage_err(p, "-w and --count are only for "
						  "stats");
		return 0;
	}
	return lbctl_usage_err(p, "unknown object '%s' (try lbctl --help)",
			       obj);
}

int
lbctl_parse(int argc, char **argv, struct lbctl_cmd *cmd, char *err,
	    size_t errlen)
{
	struct lbctl_pctx p = { .cmd = cmd, .err = err, .errlen = errlen };
	const char *env = getenv("EDGELB_SOCKET");
	bool is_opt;
	int i, rc;

	memset(cmd, 0, sizeof(*cmd));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	cmd->opts.socket =
		env != NULL && env[0] != '\0' ? env : LB_DEFAULT_CTL_SOCKET;
	cmd->opts.timeout_ms = 5000;

	/* Options before the first word; -w and --count only after it. */
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return lbctl_want_help(&p, NULL);
		if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			cmd->view = LBCTL_VIEW_VERSION;
			return 0;
		}
		/* "-s" is --stats before an object, else ipvsadm's -s SCHED */
		if (strcmp(a, "-s") == 0 &&
		    (i + 1 >= argc || !is_object(argv[i + 1])))
			break;
		if (strcmp(a, "-w") == 0 || strcmp(a, "--watch") == 0 ||
		    strcmp(a, "--count") == 0)
			break;
		rc = take_opt(&p, argv, argc, i, &is_opt);
		if (rc < 0)
			goto err;
		if (!is_opt)
			break;
		i += rc - 1;
	}
	if (i >= argc) {
		rc = lbctl_usage_err(&p, "missing command (try lbctl --help)");
		goto err;
	}
	if (argv[i][0] == '-')
		rc = lbctl_parse_ipvs(&p, argc, argv);
	else
		rc = parse_ip(&p, argc, argv, i);
	if (rc < 0)
		goto err;
	return 0;
err:
	lbctl_cmd_free(cmd);
	if (rc != -EINVAL && err != NULL && errlen > 0 && err[0] == '\0')
		snprintf(err, errlen, "%s", strerror(-rc));
	return rc == -EINVAL ? -EINVAL : rc;
}

void
lbctl_cmd_free(struct lbctl_cmd *cmd)
{
	for (unsigned int i = 0; i < cmd->nreqs; i++)
		nlmsg_free(cmd->reqs[i]);
	cmd->nreqs = 0;
}
