/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbctl node: this balancer node's BGP announcements (docs/scale-out.md).
 * Each command becomes one LB_MSG_MODULE_CMD request to edgelbd's module
 * "bgp" (MOD_CMD "node.VERB"); the reply is one JSON object (MOD_DATA),
 * printed as is with -j, else as text.
 *
 *   lbctl node drain     announce for the drain, withdraw when done
 *   lbctl node undrain   announce again
 *   lbctl node status    state, announced VIPs, BIRD exchanges
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lbctl_args.h"
#include "lbctl_fmt_priv.h"

static const char *const verbs[] = { "drain", "undrain", "status" };

int
lbctl_node_parse(struct lbctl_pctx *p, char **w, int n)
{
	struct lbctl_cmd *cmd = p->cmd;
	char cmdname[LBMSG_MOD_CMD_MAX + 1];
	struct nl_msg *m;
	size_t v;

	if (n == 0 || strcmp(w[0], "help") == 0)
		return lbctl_want_help(p, "node");
	for (v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
		if (strcmp(w[0], verbs[v]) == 0)
			break;
	if (v == sizeof(verbs) / sizeof(verbs[0]))
		return lbctl_usage_err(p, "unknown command '%s'", w[0]);
	if (n > 1)
		return lbctl_usage_err(p, "unexpected argument '%s'", w[1]);
	snprintf(cmd->whatbuf, sizeof(cmd->whatbuf), "node %s", verbs[v]);
	cmd->what = cmd->whatbuf;
	cmd->view = LBCTL_VIEW_NODE;
	m = lbctl_req_add(p, LB_MSG_MODULE_CMD);
	if (m == NULL)
		return -ENOMEM;
	snprintf(cmdname, sizeof(cmdname), "node.%s", verbs[v]);
	if (nla_put_string(m, LB_ATTR_NAME, "bgp") < 0 ||
	    nla_put_string(m, LB_ATTR_MOD_CMD, cmdname) < 0)
		return -ENOMEM;
	return 0;
}

int
lbctl_node_print(struct lbctl_fmt *f, FILE *out)
{
	const char *text = NULL;
	const cJSON *s, *v;
	cJSON *j;
	size_t n = 0;

	for (size_t i = 0; i < f->nparts; i++)
		if (f->parts[i].tb[LB_ATTR_MOD_DATA] != NULL)
			text = nla_get_string(f->parts[i].tb[LB_ATTR_MOD_DATA]);
	if (text == NULL)
		return -EBADMSG;
	if (f->opts.json) {
		fprintf(out, "%s\n", text);
		return 0;
	}
	j = cJSON_Parse(text);
	if (j == NULL)
		return -EBADMSG;
	s = cJSON_GetObjectItemCaseSensitive(j, "state");
	v = cJSON_GetObjectItemCaseSensitive(j, "dataplane_up");
	fprintf(out, "state: %s  dataplane: %s\n",
		cJSON_IsString(s) ? s->valuestring : "?",
		cJSON_IsTrue(v) ? "up" : "down");
	v = cJSON_GetObjectItemCaseSensitive(j, "active_conns");
	if (cJSON_IsNumber(v))
		fprintf(out, "active connections (last polled): %.0f\n",
			v->valuedouble);
	else if (cJSON_IsString(s) && strcmp(s->valuestring, "serving") != 0)
		fprintf(out, "active connections: not polled yet\n");
	fprintf(out, "announced:");
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(j, "announced"))
	{
		if (cJSON_IsString(s)) {
			fprintf(out, " %s", s->valuestring);
			n++;
		}
	}
	fprintf(out, "%s\n", n == 0 ? " none" : "");
	{
		const cJSON *ok, *er, *le;

		ok = cJSON_GetObjectItemCaseSensitive(j, "reconfigures");
		er = cJSON_GetObjectItemCaseSensitive(j, "errors");
		le = cJSON_GetObjectItemCaseSensitive(j, "last_error");
		fprintf(out,
			"BIRD reconfigurations: %.0f ok, %.0f failed%s%s\n",
			cJSON_IsNumber(ok) ? ok->valuedouble : 0,
			cJSON_IsNumber(er) ? er->valuedouble : 0,
			cJSON_IsString(le) && le->valuestring[0] ? "; last: "
								 : "",
			cJSON_IsString(le) ? le->valuestring : "");
	}
	cJSON_Delete(j);
	return 0;
}
