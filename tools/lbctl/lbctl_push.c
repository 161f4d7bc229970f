/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbctl push: the push service's state for operators (docs/push.md,
 * "lbctl push"). Each command line becomes one LB_MSG_MODULE_CMD request
 * to the module "push" (MOD_CMD "push.VERB", MOD_ARGS "key=value"); the
 * reply is one JSON object (MOD_DATA), printed as is with -j, else as
 * text.
 *
 *   lbctl push devices [limit N]        devices online, up to N listed
 *   lbctl push queue DEVICE [limit N]   its queue: depth, oldest entries
 *   lbctl push message ID [limit N]     a message's status per device
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lbctl_args.h"
#include "lbctl_fmt_priv.h"

#define PUSH_LIMIT_MAX 1000 /* edgelbd's bound (push_ctl.c) */

static const struct {
	const char *verb;
	const char *what; /* its operand, NULL: none */
	const char *key;  /* the operand's MOD_ARG key */
} verbs[] = {
	{ "devices", NULL, NULL },
	{ "queue", "DEVICE", "device" },
	{ "message", "ID", "id" },
};

static int
put_arg(struct lbctl_pctx *p, struct nl_msg *m, const char *key, const char *v)
{
	char kv[LBMSG_MOD_ARG_MAX + 1];
	int n = snprintf(kv, sizeof(kv), "%s=%s", key, v);

	if (n < 0 || (size_t)n >= sizeof(kv))
		return lbctl_usage_err(p, "%s: value too long", key);
	if (nla_put_string(m, LB_ATTR_MOD_ARG, kv) < 0)
		return lbctl_usage_err(p, "request too large");
	return 0;
}

int
lbctl_push_parse(struct lbctl_pctx *p, char **w, int n)
{
	struct lbctl_cmd *cmd = p->cmd;
	char cmdname[LBMSG_MOD_CMD_MAX + 1];
	const char *operand = NULL, *limit = NULL;
	struct nlattr *args;
	struct nl_msg *m;
	size_t v;
	int i = 1, rc;

	if (n == 0 || strcmp(w[0], "help") == 0)
		return lbctl_want_help(p, "push");
	for (v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
		if (strcmp(w[0], verbs[v].verb) == 0)
			break;
	if (v == sizeof(verbs) / sizeof(verbs[0]))
		return lbctl_usage_err(p, "unknown command '%s'", w[0]);
	snprintf(cmd->whatbuf, sizeof(cmd->whatbuf), "push %s", verbs[v].verb);
	cmd->what = cmd->whatbuf;
	if (verbs[v].what != NULL) {
		if (n < 2 || strcmp(w[1], "limit") == 0)
			return lbctl_usage_err(p, "missing %s", verbs[v].what);
		operand = w[1];
		i = 2;
	}
	for (; i < n; i++) {
		if (strcmp(w[i], "limit") != 0)
			return lbctl_usage_err(p, "unexpected argument '%s'",
					       w[i]);
		if (limit != NULL)
			return lbctl_usage_err(p, "limit given twice");
		if (i + 1 >= n)
			return lbctl_usage_err(p, "limit needs a value");
		limit = w[++i];
	}
	if (limit != NULL) {
		uint32_t x;

		rc = lbctl_parse_u32_arg(p, "limit", limit, 1, PUSH_LIMIT_MAX,
					 &x);
		if (rc < 0)
			return rc;
	}
	cmd->view = LBCTL_VIEW_PUSH;
	m = lbctl_req_add(p, LB_MSG_MODULE_CMD);
	if (m == NULL)
		return -ENOMEM;
	snprintf(cmdname, sizeof(cmdname), "push.%s", verbs[v].verb);
	if (nla_put_string(m, LB_ATTR_NAME, "push") < 0 ||
	    nla_put_string(m, LB_ATTR_MOD_CMD, cmdname) < 0)
		return -ENOMEM;
	args = nla_nest_start(m, LB_ATTR_MOD_ARGS);
	if (args == NULL)
		return -ENOMEM;
	rc = 0;
	if (operand != NULL)
		rc = put_arg(p, m, verbs[v].key, operand);
	if (rc == 0 && limit != NULL)
		rc = put_arg(p, m, "limit", limit);
	if (rc < 0)
		return rc;
	nla_nest_end(m, args);
	return 0;
}

/* ---- output ------------------------------------------------------------ */

static const char *
jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "-";
}

static long long
jnum(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

static bool
jtrue(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static void
print_entries(const cJSON *arr, bool device, FILE *out)
{
	const cJSON *e;

	fprintf(out, "%-36s %8s %-22s %5s %8s\n", device ? "DEVICE" : "ID",
		"SEQ", "STATUS", "SENDS", "AGE(s)");
	cJSON_ArrayForEach(e, arr)
	{
		char st[48];
		const char *r = jstr(e, "reason");

		snprintf(st, sizeof(st), "%s%s%s", jstr(e, "status"),
			 strcmp(r, "-") != 0 ? "/" : "",
			 strcmp(r, "-") != 0 ? r : "");
		fprintf(out, "%-36s %8lld %-22s %5lld %8lld\n",
			jstr(e, device ? "device" : "id"), jnum(e, "seq"), st,
			jnum(e, "sends"), jnum(e, "age_s"));
	}
}

int
lbctl_push_print(struct lbctl_fmt *f, FILE *out)
{
	const char *text = NULL, *cmd = "";
	const cJSON *d, *arr;
	cJSON *j;

	for (size_t i = 0; i < f->nparts; i++) {
		if (f->parts[i].tb[LB_ATTR_MOD_DATA] != NULL)
			text = nla_get_string(f->parts[i].tb[LB_ATTR_MOD_DATA]);
		if (f->parts[i].tb[LB_ATTR_MOD_CMD] != NULL)
			cmd = nla_get_string(f->parts[i].tb[LB_ATTR_MOD_CMD]);
	}
	if (text == NULL)
		return -EBADMSG;
	if (f->opts.json) {
		fprintf(out, "%s\n", text);
		return 0;
	}
	j = cJSON_Parse(text);
	if (j == NULL)
		return -EBADMSG;
	if (strcmp(cmd, "push.devices") == 0) {
		arr = cJSON_GetObjectItemCaseSensitive(j, "devices");
		fprintf(out, "online: %lld%s\n", jnum(j, "online"),
			jtrue(j, "truncated") ? " (list truncated)" : "");
		fprintf(out, "%-40s %-24s %9s %10s\n", "DEVICE", "PEER",
			"IN_FLIGHT", "SENT_SEQ");
		cJSON_ArrayForEach(d, arr)
			fprintf(out, "%-40s %-24s %9lld %10lld\n",
				jstr(d, "device"), jstr(d, "peer"),
				jnum(d, "in_flight"), jnum(d, "sent_seq"));
	} else if (strcmp(cmd, "push.queue") == 0) {
		fprintf(out,
			"device %s  online: %s  depth: %lld  last seq: %lld  "
			"vendor: %s\n",
			jstr(j, "device"), jtrue(j, "online") ? "yes" : "no",
			jnum(j, "depth"), jnum(j, "last_seq"),
			jstr(j, "vendor"));
		print_entries(cJSON_GetObjectItemCaseSensitive(j, "oldest"),
			      false, out);
	} else if (strcmp(cmd, "push.message") == 0) {
		fprintf(out, "message %s  ttl: %lld s  priority: %lld%s\n",
			jstr(j, "id"), jnum(j, "ttl"), jnum(j, "priority"),
			jtrue(j, "truncated") ? "  (list truncated)" : "");
		print_entries(cJSON_GetObjectItemCaseSensitive(j, "devices"),
			      true, out);
	} else {
		fprintf(out, "%s\n", text);
	}
	cJSON_Delete(j);
	return 0;
}
