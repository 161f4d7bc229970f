/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbctl's tables for the views that are lists of parts (laddr, route,
 * neigh, addr, port, conn, health, config, stats) and the JSON output of
 * every view. JSON keys are the attribute names in lower case ("vip",
 * "vport", "tmo_established"); values follow the wire type, with enums
 * (proto, mode, state, stats_kind) as names, flags as arrays of names,
 * link as a boolean and counters as an object of name: value.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lbctl_fmt_priv.h"

static const char *const neigh_states[] = {
	[LB_NEIGH_INCOMPLETE] = "INCOMPLETE",
	[LB_NEIGH_REACHABLE] = "REACHABLE",
	[LB_NEIGH_STALE] = "STALE",
	[LB_NEIGH_PERMANENT] = "PERMANENT",
};

static const char *const health_states[] = {
	[LB_HEALTH_UNKNOWN] = "unknown",
	[LB_HEALTH_UP] = "up",
	[LB_HEALTH_DOWN] = "down",
};

static const char *const module_states[] = {
	[LB_MODULE_RESERVED] = "reserved",
	[LB_MODULE_RUNNING] = "running",
	[LB_MODULE_DRAINING] = "draining",
	[LB_MODULE_DRAINED] = "drained",
};

/* Connection states in IPVS's order (IP_VS_TCP_S_*). */
static const char *const conn_states[] = {
	"NONE",	 "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT",
	"CLOSE", "CLOSE_WAIT",	"LAST_ACK", "LISTEN",	"SYNACK",
};

static const char *const stats_kinds[] = {
	[LB_STATS_PORT] = "port",	[LB_STATS_LCORE] = "lcore",
	[LB_STATS_DROP] = "drop",	[LB_STATS_SERVICE] = "service",
	[LB_STATS_BACKEND] = "backend", [LB_STATS_CONNTAB] = "conntab",
	[LB_STATS_XDP] = "xdp",		[LB_STATS_DAEMON] = "daemon",
};

#define NAME_OF(tbl, v)                                                        \
	((v) < sizeof(tbl) / sizeof(tbl[0]) && (tbl)[(v)] != NULL ? (tbl)[(v)] \
								  : NULL)

/* The name of a STATE value in this view, or NULL to print the number. */
static const char *
state_name(enum lbctl_view view, uint64_t v)
{
	switch (view) {
	case LBCTL_VIEW_NEIGHS:
		return NAME_OF(neigh_states, v);
	case LBCTL_VIEW_HEALTH:
	case LBCTL_VIEW_BACKENDS:
	case LBCTL_VIEW_SERVICES:
	case LBCTL_VIEW_IPVS_LIST:
		return NAME_OF(health_states, v);
	case LBCTL_VIEW_CONNS:
		return NAME_OF(conn_states, v);
	case LBCTL_VIEW_MODULES:
		return NAME_OF(module_states, v);
	default:
		return NULL;
	}
}

/* ---- tables ------------------------------------------------------------------ */

static void
counter_lines(FILE *out, struct nlattr *const *tb, const char *indent)
{
	struct nlattr *c, *rec[LB_ATTR_MAX + 1];
	int rem;

	if (tb[LB_ATTR_COUNTERS] == NULL)
		return;
	lbmsg_list_for_each (c, tb[LB_ATTR_COUNTERS], rem) {
		if (lbmsg_parse_record(c, rec) < 0)
			continue;
		fprintf(out, "%s%-32s %" PRIu64 "\n", indent,
			fmt_str(rec, LB_ATTR_CNT_NAME, "?"),
			fmt_u(rec, LB_ATTR_CNT_VALUE));
	}
}

static void
fmt_svc_key_str(struct nlattr *const *tb, char *buf, size_t len)
{
	char ap[LB_ADDRPORTSTRLEN];

	fmt_addrport(tb, LB_ATTR_VIP, LB_ATTR_VPORT, ap, sizeof(ap));
	snprintf(buf, len, "%s %s",
		 lb_proto_name((uint8_t)fmt_u(tb, LB_ATTR_PROTO)), ap);
}

static bool
filtered_out(const struct lbctl_fmt *f, struct nlattr *const *tb)
{
	uint8_t proto;
	struct lb_addr vip;
	uint16_t vport;

	if (!f->filter.set)
		return false;
	if (lbmsg_get_svc_key((struct nlattr **)tb, &proto, &vip, &vport) < 0)
		return true;
	return proto != f->filter.proto || vport != f->filter.vport ||
	       !lb_addr_equal(&vip, &f->filter.vip);
}

static void
row(const struct lbctl_fmt *f, struct nlattr *const *tb, FILE *out)
{
	char a[LB_ADDRPORTSTRLEN + 8], b[LB_ADDRPORTSTRLEN], c[64], d[64];
	char e[LB_ADDRPORTSTRLEN];
	const char *s;
	uint64_t v;

	switch (f->view) {
	case LBCTL_VIEW_LADDRS:
		fmt_svc_key_str(tb, a, sizeof(a));
		fprintf(out, "%-30s %s\n", a,
			fmt_addr(tb, LB_ATTR_ADDR, b, sizeof(b)));
		if (f->opts.stats)
			counter_lines(out, tb, "    ");
		break;
	case LBCTL_VIEW_ROUTES:
		fmt_addr(tb, LB_ATTR_DST, b, sizeof(b));
		snprintf(a, sizeof(a), "%s/%" PRIu64, b,
			 fmt_u(tb, LB_ATTR_PREFIXLEN));
		fprintf(out, "%-43s %-39s %s\n", a,
			fmt_addr(tb, LB_ATTR_GATEWAY, b, sizeof(b)),
			fmt_str(tb, LB_ATTR_IFNAME, "-"));
		break;
	case LBCTL_VIEW_NEIGHS:
		if (tb[LB_ATTR_LLADDR] != NULL)
			lb_mac_format(nla_data(tb[LB_ATTR_LLADDR]), c,
				      sizeof(c));
		else
			snprintf(c, sizeof(c), "-");
		v = fmt_u(tb, LB_ATTR_STATE);
		s = state_name(f->view, v);
		fprintf(out, "%-39s %-17s %-12s %-10s %" PRIu64 "\n",
			fmt_addr(tb, LB_ATTR_ADDR, b, sizeof(b)), c,
			fmt_str(tb, LB_ATTR_IFNAME, "-"), s ? s : "-",
			fmt_u(tb, LB_ATTR_EXPIRES));
		break;
	case LBCTL_VIEW_ADDRS:
		fmt_addr(tb, LB_ATTR_ADDR, b, sizeof(b));
		fprintf(out, "%-12s %s/%" PRIu64 "\n",
			fmt_str(tb, LB_ATTR_IFNAME, "-"), b,
			fmt_u(tb, LB_ATTR_PREFIXLEN));
		break;
	case LBCTL_VIEW_PORTS:
		if (tb[LB_ATTR_LLADDR] != NULL)
			lb_mac_format(nla_data(tb[LB_ATTR_LLADDR]), c,
				      sizeof(c));
		else
			snprintf(c, sizeof(c), "-");
		fprintf(out, "%-4" PRIu64 " %-12s %-17s %-6" PRIu64 " %s\n",
			fmt_u(tb, LB_ATTR_PORT_ID),
			fmt_str(tb, LB_ATTR_IFNAME, "-"), c,
			fmt_u(tb, LB_ATTR_MTU),
			tb[LB_ATTR_LINK] == NULL  ? "-"
			: fmt_u(tb, LB_ATTR_LINK) ? "up"
						  : "down");
		if (f->opts.stats)
			counter_lines(out, tb, "    ");
		break;
	case LBCTL_VIEW_CONNS:
		v = fmt_u(tb, LB_ATTR_EXPIRES);
		snprintf(c, sizeof(c), "%02" PRIu64 ":%02" PRIu64, v / 60,
			 v % 60);
		s = state_name(f->view, fmt_u(tb, LB_ATTR_STATE));
		if (fmt_u(tb, LB_ATTR_PROTO) == IPPROTO_UDP)
			s = "UDP";
		snprintf(d, sizeof(d), "%s", s ? s : "?");
		fmt_addrport(tb, LB_ATTR_CADDR, LB_ATTR_CPORT, a, sizeof(a));
		fmt_addrport(tb, LB_ATTR_VIP, LB_ATTR_VPORT, b, sizeof(b));
		fmt_addrport(tb, LB_ATTR_LADDR, LB_ATTR_LPORT, e, sizeof(e));
		fprintf(out, "%-3s %-6s %-11s %-21s %-21s %-21s ",
			lb_proto_name((uint8_t)fmt_u(tb, LB_ATTR_PROTO)), c, d,
			a, b, e);
		fprintf(out, "%-21s %" PRIu64 "\n",
			fmt_addrport(tb, LB_ATTR_ADDR, LB_ATTR_PORT, a,
				     sizeof(a)),
			fmt_u(tb, LB_ATTR_LCORE));
		break;
	case LBCTL_VIEW_HEALTH:
		fmt_svc_key_str(tb, a, sizeof(a));
		s = state_name(f->view, fmt_u(tb, LB_ATTR_STATE));
		fprintf(out, "%-30s %-26s %-12s %-8s %-6" PRIu64 " %s\n", a,
			fmt_addrport(tb, LB_ATTR_ADDR, LB_ATTR_PORT, b,
				     sizeof(b)),
			fmt_str(tb, LB_ATTR_CHECK, "-"), s ? s : "-",
			fmt_u(tb, LB_ATTR_WEIGHT),
			fmt_str(tb, LB_ATTR_NAME, "-"));
		break;
	case LBCTL_VIEW_MODULES:
		s = state_name(f->view, fmt_u(tb, LB_ATTR_STATE));
		fprintf(out, "%-16s %s\n", fmt_str(tb, LB_ATTR_NAME, "-"),
			s ? s : "-");
		counter_lines(out, tb, "  ");
		break;
	default:
		break;
	}
}

static const char *
table_head(enum lbctl_view view)
{
	switch (view) {
	case LBCTL_VIEW_LADDRS:
		return "Service                        LocalAddress\n";
	case LBCTL_VIEW_ROUTES:
		return "Destination                                 Gateway    "
		       "                             Dev\n";
	case LBCTL_VIEW_NEIGHS:
		return "Address                                 LLAddress      "
		       "   Dev          State      Expires\n";
	case LBCTL_VIEW_ADDRS:
		return "Dev          Address\n";
	case LBCTL_VIEW_PORTS:
		return "Id   Name         LLAddress         MTU    Link\n";
	case LBCTL_VIEW_CONNS:
		return "Pro Expire State       Source                Virtual  "
		       "             Local                 Destination        "
		       "   Lcore\n";
	case LBCTL_VIEW_HEALTH:
		return "Service                        Backend                 "
		       "  "
		       " Check        State    Weight Name\n";
	case LBCTL_VIEW_MODULES:
		return "Module           State\n";
	default:
		return "";
	}
}

static const struct {
	int attr;
	const char *key;
} config_keys[] = {
	{ LB_ATTR_TMO_SYN_RECV, "timeout-syn-recv" },
	{ LB_ATTR_TMO_ESTABLISHED, "timeout-tcp-est" },
	{ LB_ATTR_TMO_FIN_WAIT, "timeout-fin-wait" },
	{ LB_ATTR_TMO_TIME_WAIT, "timeout-time-wait" },
	{ LB_ATTR_TMO_CLOSE, "timeout-close" },
	{ LB_ATTR_TMO_UDP, "timeout-udp" },
};

/* "port eth0 (id 0)", "service tcp 10.0.0.1:80", ... */
static void
stats_head(struct nlattr *const *tb, FILE *out)
{
	uint64_t kind = fmt_u(tb, LB_ATTR_STATS_KIND);
	const char *name = NAME_OF(stats_kinds, kind);
	char a[LB_ADDRPORTSTRLEN + 8], b[LB_ADDRPORTSTRLEN];

	fputs(name ? name : "stats", out);
	switch (kind) {
	case LB_STATS_PORT:
	case LB_STATS_XDP:
		fprintf(out, " %s", fmt_str(tb, LB_ATTR_IFNAME, "-"));
		if (tb[LB_ATTR_PORT_ID] != NULL)
			fprintf(out, " (id %" PRIu64 ")",
				fmt_u(tb, LB_ATTR_PORT_ID));
		break;
	case LB_STATS_LCORE:
	case LB_STATS_CONNTAB:
		fprintf(out, " lcore %" PRIu64, fmt_u(tb, LB_ATTR_LCORE));
		break;
	case LB_STATS_SERVICE:
	case LB_STATS_BACKEND:
		fmt_svc_key_str(tb, a, sizeof(a));
		fprintf(out, " %s", a);
		if (kind == LB_STATS_BACKEND)
			fprintf(out, " -> %s",
				fmt_addrport(tb, LB_ATTR_ADDR, LB_ATTR_PORT, b,
					     sizeof(b)));
		if (tb[LB_ATTR_NAME] != NULL)
			fprintf(out, " (%s)", fmt_str(tb, LB_ATTR_NAME, ""));
		break;
	default:
		break;
	}
	fputs(":\n", out);
}

int
fmt_table(struct lbctl_fmt *f, FILE *out)
{
	switch (f->view) {
	case LBCTL_VIEW_SERVICES:
	case LBCTL_VIEW_IPVS_LIST:
		return fmt_svc_table(f, out);
	case LBCTL_VIEW_BACKENDS:
		return fmt_be_table(f, out);
	case LBCTL_VIEW_CONFIG:
		for (size_t i = 0; i < f->nparts; i++) {
			struct nlattr *const *tb = f->parts[i].tb;

			for (size_t k = 0;
			     k < sizeof(config_keys) / sizeof(config_keys[0]);
			     k++)
				if (tb[config_keys[k].attr] != NULL)
					fprintf(out, "%-32s %" PRIu64 "\n",
						config_keys[k].key,
						fmt_u(tb, config_keys[k].attr));
			counter_lines(out, tb, "");
		}
		return 0;
	case LBCTL_VIEW_STATS:
		for (size_t i = 0; i < f->nparts; i++) {
			stats_head(f->parts[i].tb, out);
			counter_lines(out, f->parts[i].tb, "  ");
		}
		return 0;
	default:
		break;
	}
	fputs(table_head(f->view), out);
	for (size_t i = 0; i < f->nparts; i++)
		if (!(f->view == LBCTL_VIEW_LADDRS &&
		      filtered_out(f, f->parts[i].tb)))
			row(f, f->parts[i].tb, out);
	return 0;
}

/* ---- JSON ------------------------------------------------------------------- */

static cJSON *attrs_json(const struct lbctl_fmt *f, struct nlattr *const *tb,
			 bool skip_backends);

static cJSON *
counters_json(const struct nlattr *list)
{
	struct nlattr *c, *rec[LB_ATTR_MAX + 1];
	cJSON *o = cJSON_CreateObject();
	int rem;

	if (o == NULL)
		return NULL;
	lbmsg_list_for_each (c, list, rem) {
		if (lbmsg_parse_record(c, rec) < 0)
			continue;
		cJSON_AddNumberToObject(o, fmt_str(rec, LB_ATTR_CNT_NAME, "?"),
					(double)fmt_u(rec, LB_ATTR_CNT_VALUE));
	}
	return o;
}

static cJSON *
value_json(const struct lbctl_fmt *f, struct nlattr *const *tb, int attr)
{
	const struct nlattr *a = tb[attr];
	char buf[LB_ADDRSTRLEN];
	const char *name;
	uint64_t v;

	switch (attr) {
	case LB_ATTR_PROTO:
		return cJSON_CreateString(
			lb_proto_name((uint8_t)fmt_u(tb, attr)));
	case LB_ATTR_MODE:
		return cJSON_CreateString(lb_mode_name(fmt_u(tb, attr)));
	case LB_ATTR_STATE:
		v = fmt_u(tb, attr);
		name = state_name(f->view, v);
		return name ? cJSON_CreateString(name)
			    : cJSON_CreateNumber((double)v);
	case LB_ATTR_STATS_KIND:
		name = NAME_OF(stats_kinds, fmt_u(tb, attr));
		return cJSON_CreateString(name ? name : "?");
	case LB_ATTR_LINK:
		return cJSON_CreateBool(fmt_u(tb, attr) != 0);
	case LB_ATTR_SVC_FLAGS: {
		static const char *const names[] = {
			"toa",	       "proxy-v2",     "sh-port", "udp-drain",
			"synproxy-on", "synproxy-off", "mh-adopt"
		};
		cJSON *arr = cJSON_CreateArray();

		v = fmt_u(tb, attr);
		for (int i = 0;
		     arr != NULL && i < (int)(sizeof(names) / sizeof(names[0]));
		     i++)
			if (v & (1u << i))
				cJSON_AddItemToArray(
					arr, cJSON_CreateString(names[i]));
		return arr;
	}
	case LB_ATTR_COUNTERS:
		return counters_json(a);
	default:
		break;
	}
	switch (lbmsg_attr_type(attr)) {
	case LBMSG_AT_U8:
	case LBMSG_AT_U16:
	case LBMSG_AT_U32:
	case LBMSG_AT_U64:
		return cJSON_CreateNumber((double)fmt_u(tb, attr));
	case LBMSG_AT_STRING:
		return cJSON_CreateString(nla_get_string((struct nlattr *)a));
	case LBMSG_AT_ADDR:
		return cJSON_CreateString(fmt_addr(tb, attr, buf, sizeof(buf)));
	case LBMSG_AT_LLADDR:
		return cJSON_CreateString(
			lb_mac_format(nla_data(a), buf, sizeof(buf)));
	case LBMSG_AT_LIST: {
		struct nlattr *c, *rec[LB_ATTR_MAX + 1];
		cJSON *arr = cJSON_CreateArray();
		int rem;

		lbmsg_list_for_each (c, a, rem) {
			if (arr == NULL || lbmsg_parse_record(c, rec) < 0)
				continue;
			cJSON_AddItemToArray(arr, attrs_json(f, rec, false));
		}
		return arr;
	}
	default:
		return cJSON_CreateNull();
	}
}

/* An object of every attribute present in tb. */
static cJSON *
attrs_json(const struct lbctl_fmt *f, struct nlattr *const *tb,
	   bool skip_backends)
{
	cJSON *o = cJSON_CreateObject();
	char key[32];

	if (o == NULL)
		return NULL;
	for (int attr = 1; attr <= LB_ATTR_MAX; attr++) {
		const char *name = lbmsg_attr_name(attr);
		size_t i;

		if (tb[attr] == NULL ||
		    (skip_backends && attr == LB_ATTR_BACKENDS))
			continue;
		for (i = 0; name[i] != '\0' && i + 1 < sizeof(key); i++)
			key[i] = (char)tolower((unsigned char)name[i]);
		key[i] = '\0';
		cJSON_AddItemToObject(o, key, value_json(f, tb, attr));
	}
	return o;
}

/* Services (sorted), each with its sorted backends. */
static cJSON *
services_json(const struct lbctl_fmt *f)
{
	cJSON *arr = cJSON_CreateArray(), *o, *bes;

	for (size_t i = 0; arr != NULL && i < f->nsvcs; i++) {
		const struct fmt_svc *s = &f->svcs[i];

		o = attrs_json(f, s->tb, true);
		bes = cJSON_AddArrayToObject(o, "backends");
		for (size_t j = 0; bes != NULL && j < s->nbes; j++)
			cJSON_AddItemToArray(bes,
					     attrs_json(f, s->bes[j].tb, true));
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

/* Backends (sorted), each an object with its service's key. */
static cJSON *
backends_json(const struct lbctl_fmt *f)
{
	cJSON *arr = cJSON_CreateArray(), *o;
	char buf[LB_ADDRSTRLEN];

	for (size_t i = 0; arr != NULL && i < f->nsvcs; i++) {
		const struct fmt_svc *s = &f->svcs[i];

		for (size_t j = 0; j < s->nbes; j++) {
			o = attrs_json(f, s->bes[j].tb, true);
			if (o != NULL && s->bes[j].tb[LB_ATTR_VIP] == NULL) {
				cJSON_AddStringToObject(
					o, "proto", lb_proto_name(s->proto));
				cJSON_AddStringToObject(
					o, "vip",
					lb_addr_format(&s->vip, buf,
						       sizeof(buf)));
				cJSON_AddNumberToObject(o, "vport", s->vport);
			}
			cJSON_AddItemToArray(arr, o);
		}
	}
	return arr;
}

int
fmt_json(struct lbctl_fmt *f, FILE *out)
{
	cJSON *arr;
	char *text;

	switch (f->view) {
	case LBCTL_VIEW_SERVICES:
	case LBCTL_VIEW_IPVS_LIST:
	case LBCTL_VIEW_IPVS_SAVE:
		arr = services_json(f);
		break;
	case LBCTL_VIEW_BACKENDS:
		arr = backends_json(f);
		break;
	default:
		arr = cJSON_CreateArray();
		for (size_t i = 0; arr != NULL && i < f->nparts; i++)
			if (!(f->view == LBCTL_VIEW_LADDRS &&
			      filtered_out(f, f->parts[i].tb)))
				cJSON_AddItemToArray(
					arr,
					attrs_json(f, f->parts[i].tb, false));
		break;
	}
	if (arr == NULL)
		return -ENOMEM;
	text = cJSON_PrintUnformatted(arr); /* one line, as ip -j */
	cJSON_Delete(arr);
	if (text == NULL)
		return -ENOMEM;
	fprintf(out, "%s\n", text);
	cJSON_free(text);
	return 0;
}
