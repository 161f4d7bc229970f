/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbctl api: the gateway's API lifecycle (docs/gateway.md, "API
 * lifecycle"). Each command line becomes one LB_MSG_MODULE_CMD request
 * to the module "gateway" (MOD_CMD "api.VERB", MOD_ARGS "key=value");
 * the route file of `create` is read when the command runs
 * (lbctl_api_attach) and sent as MOD_DATA. The reply is one JSON object
 * (MOD_DATA), printed as is with -j, else as text.
 */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "lbctl_args.h"
#include "lbctl_fmt_priv.h"

static const struct {
	const char *verb;
	const char *opts; /* allowed options, space separated */
	const char *need; /* required ones */
	bool name;	  /* takes NAME */
} verbs[] = {
	{ "create", "file", "file", true },
	{ "diff", "stage version", "", true },
	{ "publish", "stage version", "stage", true },
	{ "history", "limit", "", true },
	{ "rollback", "stage version", "stage version", true },
	{ "deprecate", "version sunset", "version", true },
	{ "retire", "version", "version", true },
	{ "list", "", "", false },
	{ "show", "stage version", "", true },
};

static bool
in_list(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *s = list; (s = strstr(s, word)) != NULL; s += n)
		if ((s == list || s[-1] == ' ') &&
		    (s[n] == ' ' || s[n] == '\0'))
			return true;
	return false;
}

/* Who runs the command, for the history: the operator behind sudo, or
 * the login of the uid. */
static void
whoami(char *buf, size_t len)
{
	const char *su = getenv("SUDO_USER");
	struct passwd *pw;

	if (su != NULL && su[0] != '\0') {
		snprintf(buf, len, "%s", su);
		return;
	}
	pw = getpwuid(getuid());
	if (pw != NULL)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "uid %u", (unsigned)getuid());
}

static int
put_arg(struct lbctl_pctx *p, struct nl_msg *m, const char *key, const char *v)
{
	char kv[LBMSG_MOD_ARG_MAX + 1];
	int n = snprintf(kv, sizeof(kv), "%s=%s", key, v);

	if (n < 0 || (size_t)n >= sizeof(kv))
		return lbctl_usage_err(p, "--%s: value too long", key);
	if (nla_put_string(m, LB_ATTR_MOD_ARG, kv) < 0)
		return lbctl_usage_err(p, "request too large");
	return 0;
}

/* lbctl api cache purge [--filter NAME] [--prefix PATH] | cache stats |
 * degrade [ROUTE on|off]: MOD_CMD "api.cache.purge", "api.cache.stats",
 * "api.degrade" (gw_cache.h). */
static int
cache_parse(struct lbctl_pctx *p, char **w, int n)
{
	struct lbctl_cmd *cmd = p->cmd;
	const char *filter = NULL, *prefix = NULL, *mc;
	struct nlattr *args;
	struct nl_msg *m;
	int rc = 0;

	if (strcmp(w[0], "degrade") == 0) {
		if (n != 1 && n != 3)
			return lbctl_usage_err(p, "usage: api degrade "
						  "[ROUTE on|off]");
		if (n == 3 && strcmp(w[2], "on") != 0 &&
		    strcmp(w[2], "off") != 0)
			return lbctl_usage_err(p, "'%s': on or off", w[2]);
		mc = "api.degrade";
	} else if (n >= 2 && strcmp(w[1], "purge") == 0) {
		for (int i = 2; i < n; i++) {
			const char **dst =
				strcmp(w[i], "--filter") == 0	? &filter
				: strcmp(w[i], "--prefix") == 0 ? &prefix
								: NULL;

			if (dst == NULL)
				return lbctl_usage_err(p, "unknown option '%s'",
						       w[i]);
			if (i + 1 >= n || w[i + 1][0] == '\0')
				return lbctl_usage_err(p, "%s needs a value",
						       w[i]);
			*dst = w[++i];
		}
		mc = "api.cache.purge";
	} else if (n == 2 && strcmp(w[1], "stats") == 0) {
		mc = "api.cache.stats";
	} else {
		return lbctl_usage_err(p, "usage: api cache purge [--filter "
					  "NAME] [--prefix PATH] | api cache "
					  "stats");
	}
	snprintf(cmd->whatbuf, sizeof(cmd->whatbuf), "%s", mc);
	cmd->what = cmd->whatbuf;
	cmd->view = LBCTL_VIEW_API;
	m = lbctl_req_add(p, LB_MSG_MODULE_CMD);
	if (m == NULL)
		return -ENOMEM;
	if (nla_put_string(m, LB_ATTR_NAME, "gateway") < 0 ||
	    nla_put_string(m, LB_ATTR_MOD_CMD, mc) < 0)
		return -ENOMEM;
	args = nla_nest_start(m, LB_ATTR_MOD_ARGS);
	if (args == NULL)
		return -ENOMEM;
	if (filter != NULL)
		rc = put_arg(p, m, "filter", filter);
	if (rc == 0 && prefix != NULL)
		rc = put_arg(p, m, "prefix", prefix);
	if (rc == 0 && n == 3 && strcmp(w[0], "degrade") == 0)
		rc = put_arg(p, m, "route", w[1]);
	if (rc == 0 && n == 3 && strcmp(w[0], "degrade") == 0)
		rc = put_arg(p, m, "state", w[2]);
	if (rc < 0)
		return rc;
	nla_nest_end(m, args);
	return 0;
}

int
lbctl_api_parse(struct lbctl_pctx *p, char **w, int n)
{
	struct lbctl_cmd *cmd = p->cmd;
	const char *name = NULL, *vals[8] = { 0 };
	static const char *const keys[] = { "file",   "stage", "version",
					    "sunset", "limit", NULL };
	char who[64], cmdname[LBMSG_MOD_CMD_MAX + 1];
	struct nlattr *args;
	struct nl_msg *m;
	size_t v = 0;
	int i = 1, rc;

	if (n == 0 || strcmp(w[0], "help") == 0)
		return lbctl_want_help(p, "api");
	if (strcmp(w[0], "cache") == 0 || strcmp(w[0], "degrade") == 0)
		return cache_parse(p, w, n);
	for (v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
		if (strcmp(w[0], verbs[v].verb) == 0)
			break;
	if (v == sizeof(verbs) / sizeof(verbs[0]))
		return lbctl_usage_err(p, "unknown command '%s'", w[0]);
	snprintf(cmd->whatbuf, sizeof(cmd->whatbuf), "api %s", verbs[v].verb);
	cmd->what = cmd->whatbuf;
	if (verbs[v].name) {
		if (n < 2 || w[1][0] == '-')
			return lbctl_usage_err(p, "missing API NAME");
		name = w[1];
		i = 2;
	}
	for (; i < n; i++) {
		const char *o = w[i], *val, *eq;
		char key[16];
		size_t k, kl;

		if (strncmp(o, "--", 2) != 0)
			return lbctl_usage_err(p, "unexpected argument '%s'",
					       o);
		o += 2;
		eq = strchr(o, '=');
		kl = eq != NULL ? (size_t)(eq - o) : strlen(o);
		if (kl == 0 || kl >= sizeof(key))
			return lbctl_usage_err(p, "unknown option '%s'", w[i]);
		memcpy(key, o, kl);
		key[kl] = '\0';
		if (!in_list(verbs[v].opts, key))
			return lbctl_usage_err(p, "unknown option '--%s'", key);
		if (eq != NULL) {
			val = eq + 1;
		} else {
			if (i + 1 >= n)
				return lbctl_usage_err(p, "--%s needs a value",
						       key);
			val = w[++i];
		}
		for (k = 0; keys[k] != NULL; k++)
			if (strcmp(keys[k], key) == 0)
				break;
		if (vals[k] != NULL)
			return lbctl_usage_err(p, "--%s given twice", key);
		if (val[0] == '\0')
			return lbctl_usage_err(p, "--%s needs a value", key);
		vals[k] = val;
	}
	for (size_t k = 0; keys[k] != NULL; k++)
		if (in_list(verbs[v].need, keys[k]) && vals[k] == NULL)
			return lbctl_usage_err(p, "missing --%s", keys[k]);
	if (vals[2] != NULL) {
		uint32_t x;

		rc = lbctl_parse_u32_arg(p, "--version", vals[2], 1, INT32_MAX,
					 &x);
		if (rc < 0)
			return rc;
	}
	cmd->view = LBCTL_VIEW_API;
	cmd->data_file = vals[0];
	m = lbctl_req_add(p, LB_MSG_MODULE_CMD);
	if (m == NULL)
		return -ENOMEM;
	snprintf(cmdname, sizeof(cmdname), "api.%s", verbs[v].verb);
	if (nla_put_string(m, LB_ATTR_NAME, "gateway") < 0 ||
	    nla_put_string(m, LB_ATTR_MOD_CMD, cmdname) < 0)
		return -ENOMEM;
	args = nla_nest_start(m, LB_ATTR_MOD_ARGS);
	if (args == NULL)
		return -ENOMEM;
	whoami(who, sizeof(who));
	rc = put_arg(p, m, "user", who);
	if (rc == 0 && name != NULL)
		rc = put_arg(p, m, "name", name);
	for (size_t k = 1; rc == 0 && keys[k] != NULL; k++)
		if (vals[k] != NULL)
			rc = put_arg(p, m, keys[k], vals[k]);
	if (rc < 0)
		return rc;
	nla_nest_end(m, args);
	return 0;
}

int
lbctl_api_attach(struct lbctl_cmd *cmd, char *err, size_t errlen)
{
	FILE *fp;
	char *buf;
	size_t n;
	int rc = 0;

	if (cmd->data_file == NULL || cmd->nreqs == 0)
		return 0;
	fp = fopen(cmd->data_file, "re");
	if (fp == NULL) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", cmd->data_file,
			 strerror(errno));
		return rc;
	}
	buf = malloc(LBMSG_MOD_DATA_MAX + 2);
	if (buf == NULL) {
		fclose(fp);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	n = fread(buf, 1, LBMSG_MOD_DATA_MAX + 1, fp);
	if (ferror(fp)) {
		rc = -EIO;
		snprintf(err, errlen, "%s: read error", cmd->data_file);
	} else if (n > LBMSG_MOD_DATA_MAX) {
		rc = -E2BIG;
		snprintf(err, errlen, "%s: larger than %u bytes",
			 cmd->data_file, LBMSG_MOD_DATA_MAX);
	} else if (memchr(buf, '\0', n) != NULL) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: a NUL byte: not a text file",
			 cmd->data_file);
	} else {
		buf[n] = '\0';
		if (nla_put_string(cmd->reqs[0], LB_ATTR_MOD_DATA, buf) < 0) {
			rc = -EMSGSIZE;
			snprintf(err, errlen, "%s: too large for one request",
				 cmd->data_file);
		}
	}
	free(buf);
	fclose(fp);
	return rc;
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

/* A number or "-" for null/missing. */
static const char *
jnum_s(const cJSON *o, const char *key, char *buf, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		return "-";
	snprintf(buf, len, "%lld", (long long)v->valuedouble);
	return buf;
}

static void
print_list(const cJSON *j, FILE *out)
{
	const cJSON *a, *live, *l;
	char b1[24];

	fprintf(out, "%-32s %8s %6s %5s %s\n", "NAME", "VERSIONS", "LATEST",
		"DRAFT", "LIVE");
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(j, "apis"))
	{
		fprintf(out, "%-32s %8lld %6s %5s ", jstr(a, "name"),
			jnum(a, "versions"),
			jnum_s(a, "latest", b1, sizeof(b1)),
			cJSON_IsTrue(
				cJSON_GetObjectItemCaseSensitive(a, "draft"))
				? "yes"
				: "no");
		live = cJSON_GetObjectItemCaseSensitive(a, "live");
		if (cJSON_GetArraySize(live) == 0)
			fputs("-", out);
		cJSON_ArrayForEach(l, live)
		{
			fprintf(out, "%s=%lld%s", l->string,
				(long long)l->valuedouble,
				l->next != NULL ? " " : "");
		}
		fputc('\n', out);
	}
}

static void
print_show(const cJSON *j, FILE *out)
{
	const cJSON *x;
	char b1[24];

	if (cJSON_GetObjectItemCaseSensitive(j, "routes") != NULL) {
		fputs(jstr(j, "routes"), out);
		/* the version's filters, as INI comments (the text stays a
		 * valid draft) */
		cJSON_ArrayForEach(
			x, cJSON_GetObjectItemCaseSensitive(j, "filters"))
		{
			const cJSON *r;

			fprintf(out,
				"; filter %s (%s), routes:", jstr(x, "name"),
				jstr(x, "type"));
			cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(
						      x, "routes"))
				fprintf(out, " %s",
					cJSON_IsString(r) ? r->valuestring
							  : "?");
			fputc('\n', out);
		}
		return;
	}
	fprintf(out, "api %s  draft: %s\n", jstr(j, "api"),
		cJSON_IsNumber(
			cJSON_GetObjectItemCaseSensitive(j, "draft_bytes"))
			? "yes"
			: "none");
	fprintf(out, "\n%-16s %7s %s\n", "STAGE", "VERSION", "SINCE");
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(j, "live"))
		fprintf(out, "%-16s %7lld %s\n", jstr(x, "stage"),
			jnum(x, "version"), jstr(x, "since"));
	fprintf(out, "\n%7s %-20s %-16s %-20s %-20s %-20s %s\n", "VERSION",
		"CREATED", "BY", "DEPRECATED", "SUNSET", "RETIRED", "BYTES");
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(j, "versions"))
		fprintf(out, "%7s %-20s %-16s %-20s %-20s %-20s %lld\n",
			jnum_s(x, "version", b1, sizeof(b1)),
			jstr(x, "created"), jstr(x, "created_by"),
			jstr(x, "deprecated"), jstr(x, "sunset"),
			jstr(x, "retired"), jnum(x, "bytes"));
}

static void
print_history(const cJSON *j, FILE *out)
{
	const cJSON *e;
	char b1[24], b2[24];

	fprintf(out, "%-20s %-16s %-10s %-12s %7s %7s %s\n", "AT", "WHO",
		"ACTION", "STAGE", "VERSION", "PREV", "DETAIL");
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "history"))
		fprintf(out, "%-20s %-16s %-10s %-12s %7s %7s %s\n",
			jstr(e, "at"), jstr(e, "who"), jstr(e, "action"),
			jstr(e, "stage"), jnum_s(e, "version", b1, sizeof(b1)),
			jnum_s(e, "previous", b2, sizeof(b2)),
			cJSON_IsString(
				cJSON_GetObjectItemCaseSensitive(e, "detail"))
				? jstr(e, "detail")
				: "");
}

int
lbctl_api_print(struct lbctl_fmt *f, FILE *out)
{
	const char *text = NULL, *cmd = "";
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
	if (strcmp(cmd, "api.list") == 0) {
		print_list(j, out);
	} else if (strcmp(cmd, "api.show") == 0) {
		print_show(j, out);
	} else if (strcmp(cmd, "api.history") == 0) {
		print_history(j, out);
	} else if (strcmp(cmd, "api.diff") == 0) {
		if (cJSON_IsTrue(
			    cJSON_GetObjectItemCaseSensitive(j, "identical")))
			fprintf(out,
				"api %s: the draft equals what is live "
				"on %s\n",
				jstr(j, "api"), jstr(j, "stage"));
		else
			fputs(jstr(j, "diff"), out);
	} else if (strcmp(cmd, "api.create") == 0) {
		fprintf(out, "api %s: draft stored (%lld bytes)\n",
			jstr(j, "api"), jnum(j, "bytes"));
	} else if (strcmp(cmd, "api.publish") == 0 ||
		   strcmp(cmd, "api.rollback") == 0) {
		fprintf(out, "api %s: version %lld live on stage %s\n",
			jstr(j, "api"), jnum(j, "version"), jstr(j, "stage"));
	} else if (strcmp(cmd, "api.deprecate") == 0) {
		const char *sunset = jstr(j, "sunset");

		fprintf(out, "api %s: version %lld deprecated%s%s\n",
			jstr(j, "api"), jnum(j, "version"),
			strcmp(sunset, "-") != 0 ? ", sunset " : "",
			strcmp(sunset, "-") != 0 ? sunset : "");
	} else if (strcmp(cmd, "api.cache.purge") == 0) {
		fprintf(out,
			"cache %s: %lld entries purged under %s (%lld "
			"caches)\n",
			jstr(j, "filter"), jnum(j, "purged"), jstr(j, "prefix"),
			jnum(j, "caches"));
	} else if (strcmp(cmd, "api.retire") == 0) {
		fprintf(out, "api %s: version %lld retired (answers 410)\n",
			jstr(j, "api"), jnum(j, "version"));
	} else {
		fprintf(out, "%s\n", text);
	}
	cJSON_Delete(j);
	return 0;
}
