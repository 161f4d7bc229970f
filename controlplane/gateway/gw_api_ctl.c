/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `lbctl api ...` on the daemon's side: one LB_MSG_MODULE_CMD request
 * (MOD_CMD "api.VERB", MOD_ARGS "key=value", MOD_DATA the route text of
 * a create) into a call of the store (gw_api.h), and its answer as one
 * JSON object in the reply's MOD_DATA. docs/gateway.md describes the
 * commands and docs/protocol.md the message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "gw_api_priv.h"
#include "gw_cache.h"
#include "edgelb/lbmsg.h"
#include "edgelb/util.h"

struct args {
	const char *name, *stage, *user, *data;
	const char *filter, *prefix, *route, *state; /* cache, degrade */
	uint32_t version;
	int64_t sunset;
	unsigned limit;
};

/* ---- arguments --------------------------------------------------------- */

static int
parse_u32(const char *v, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long x;

	if (v[0] < '0' || v[0] > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || x == 0 || x > max)
		return -EINVAL;
	*out = (uint32_t)x;
	return 0;
}

/* YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (UTC) or @UNIXTIME. */
static int
parse_date(const char *v, int64_t *out)
{
	struct tm tm = { 0 };
	const char *end;
	uint32_t x;

	if (v[0] == '@') {
		if (parse_u32(v + 1, UINT32_MAX, &x) < 0)
			return -EINVAL;
		*out = x;
		return 0;
	}
	end = strptime(v, "%Y-%m-%d", &tm);
	if (end != NULL && *end == 'T')
		end = strptime(end + 1, "%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0' || tm.tm_year < 70 || tm.tm_year > 1100)
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static bool
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static int
parse_args(struct nlattr **tb, struct args *a, char *err, size_t errlen)
{
	struct nlattr *pos;
	int rem;

	memset(a, 0, sizeof(*a));
	if (tb[LB_ATTR_MOD_DATA] != NULL)
		a->data = nla_get_string(tb[LB_ATTR_MOD_DATA]);
	if (tb[LB_ATTR_MOD_ARGS] == NULL)
		return 0;
	lbmsg_list_for_each (pos, tb[LB_ATTR_MOD_ARGS], rem) {
		const char *kv = nla_data(pos);
		const char *eq = strchr(kv, '=');
		const char *v = eq != NULL ? eq + 1 : "";
		size_t kl = eq != NULL ? (size_t)(eq - kv) : strlen(kv);
		uint32_t x;

		if (eq == NULL || *v == '\0')
			return lb_errf(err, errlen, -EINVAL,
				       "argument \"%.64s\": not key=value", kv);
#define KEY(k) (kl == strlen(k) && strncmp(kv, k, kl) == 0)
		if (KEY("name")) {
			a->name = v;
		} else if (KEY("stage")) {
			a->stage = v;
		} else if (KEY("filter") || KEY("prefix") || KEY("route") ||
			   KEY("state")) {
			*(kv[0] == 'f'	 ? &a->filter
			  : kv[0] == 'p' ? &a->prefix
			  : kv[0] == 'r' ? &a->route
					 : &a->state) = v;
		} else if (KEY("user")) {
			/* kept in the history and printed: short, no control
			 * bytes */
			if (strlen(v) > GW_API_WHO_MAX || has_ctl(v))
				return lb_errf(err, errlen, -EINVAL,
					       "bad user (at most %d "
					       "characters, no control bytes)",
					       GW_API_WHO_MAX);
			a->user = v;
		} else if (KEY("version")) {
			if (parse_u32(v, INT32_MAX, &a->version) < 0)
				return lb_errf(err, errlen, -EINVAL,
					       "bad version \"%.32s\"", v);
		} else if (KEY("limit")) {
			if (parse_u32(v, GW_API_HISTORY_MAX, &x) < 0)
				return lb_errf(err, errlen, -EINVAL,
					       "bad limit \"%.32s\" (1 to %d)",
					       v, GW_API_HISTORY_MAX);
			a->limit = x;
		} else if (KEY("sunset")) {
			if (parse_date(v, &a->sunset) < 0)
				return lb_errf(err, errlen, -EINVAL,
					       "bad sunset date \"%.40s\" "
					       "(YYYY-MM-DD, "
					       "YYYY-MM-DDTHH:MM:SSZ or "
					       "@UNIXTIME)",
					       v);
		} else {
			return lb_errf(err, errlen, -EINVAL,
				       "unknown argument \"%.*s\"", (int)kl,
				       kv);
		}
#undef KEY
	}
	return 0;
}

static int
need(const char *v, const char *what, const char *cmd, char *err, size_t errlen)
{
	if (v == NULL)
		return lb_errf(err, errlen, -EINVAL, "%s needs %s", cmd, what);
	return 0;
}

/* ---- JSON helpers ------------------------------------------------------ */

/* ISO 8601 UTC, or JSON null for 0. */
static cJSON *
json_time(int64_t t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0)
		return cJSON_CreateNull();
	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return cJSON_CreateString(buf);
}

static cJSON *
json_u32_or_null(uint32_t v)
{
	return v != 0 ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

/* ---- commands ---------------------------------------------------------- */

struct ctx {
	struct gw_api_store *s;
	const struct args *a;
	gw_api_apply_fn apply;
	void *arg;
	cJSON *out;
	char *err;
	size_t errlen;
};

static int
c_create(struct ctx *c)
{
	const struct args *a = c->a;
	int rc;

	rc = need(a->name, "an API name", "create", c->err, c->errlen);
	if (rc == 0)
		rc = need(a->data, "the route text (--file)", "create", c->err,
			  c->errlen);
	if (rc == 0)
		rc = gw_api_create(c->s, a->name, a->data, a->user, c->err,
				   c->errlen);
	if (rc < 0)
		return rc;
	cJSON_AddStringToObject(c->out, "api", a->name);
	cJSON_AddBoolToObject(c->out, "draft", true);
	cJSON_AddNumberToObject(c->out, "bytes", (double)strlen(a->data));
	return 0;
}

static int
c_diff(struct ctx *c)
{
	const struct args *a = c->a;
	const char *stage = a->stage != NULL ? a->stage : "prod";
	char *draft = NULL, *live = NULL, *diff = NULL;
	char la[96], lb[64];
	uint32_t v = 0;
	int rc;

	rc = need(a->name, "an API name", "diff", c->err, c->errlen);
	if (rc == 0)
		rc = gw_api_check_stage(stage, c->err, c->errlen);
	if (rc == 0)
		rc = gw_api_draft(c->s, a->name, &draft, c->err, c->errlen);
	if (rc < 0)
		return rc;
	rc = gw_api_text(c->s, a->name, stage, a->version, &v, &live, c->err,
			 c->errlen);
	if (rc == -ENOENT && a->version == 0) {
		snprintf(la, sizeof(la), "%s on %s: nothing live", a->name,
			 stage);
		v = 0;
		rc = 0;
	} else if (rc == 0) {
		snprintf(la, sizeof(la), "%s version %u%s%s", a->name, v,
			 a->version == 0 ? " live on " : "",
			 a->version == 0 ? stage : "");
	}
	snprintf(lb, sizeof(lb), "%s draft", a->name);
	if (rc == 0)
		rc = gw_api_diff(live != NULL ? live : "", draft, la, lb, &diff,
				 c->err, c->errlen);
	if (rc == 0) {
		cJSON_AddStringToObject(c->out, "api", a->name);
		cJSON_AddStringToObject(c->out, "stage", stage);
		cJSON_AddItemToObject(c->out, "live_version",
				      json_u32_or_null(v));
		cJSON_AddBoolToObject(c->out, "identical", diff[0] == '\0');
		cJSON_AddStringToObject(c->out, "diff", diff);
	}
	free(diff);
	free(draft);
	free(live);
	return rc;
}

static int
c_publish(struct ctx *c)
{
	const struct args *a = c->a;
	uint32_t v = 0;
	int rc;

	rc = need(a->name, "an API name", "publish", c->err, c->errlen);
	if (rc == 0)
		rc = need(a->stage, "a stage (--stage)", "publish", c->err,
			  c->errlen);
	if (rc == 0)
		rc = gw_api_publish(c->s, a->name, a->stage, a->version,
				    a->user, c->apply, c->arg, &v, c->err,
				    c->errlen);
	if (rc < 0)
		return rc;
	cJSON_AddStringToObject(c->out, "api", a->name);
	cJSON_AddStringToObject(c->out, "stage", a->stage);
	cJSON_AddNumberToObject(c->out, "version", v);
	cJSON_AddBoolToObject(c->out, "from_draft", a->version == 0);
	return 0;
}

static int
c_rollback(struct ctx *c)
{
	const struct args *a = c->a;
	int rc;

	rc = need(a->name, "an API name", "rollback", c->err, c->errlen);
	if (rc == 0)
		rc = need(a->stage, "a stage (--stage)", "rollback", c->err,
			  c->errlen);
	if (rc == 0 && a->version == 0)
		rc = lb_errf(c->err, c->errlen, -EINVAL,
			     "rollback needs a version (--version)");
	if (rc == 0)
		rc = gw_api_rollback(c->s, a->name, a->stage, a->version,
				     a->user, c->apply, c->arg, c->err,
				     c->errlen);
	if (rc < 0)
		return rc;
	cJSON_AddStringToObject(c->out, "api", a->name);
	cJSON_AddStringToObject(c->out, "stage", a->stage);
	cJSON_AddNumberToObject(c->out, "version", a->version);
	return 0;
}

static int
c_deprecate(struct ctx *c)
{
	const struct args *a = c->a;
	int rc;

	rc = need(a->name, "an API name", "deprecate", c->err, c->errlen);
	if (rc == 0 && a->version == 0)
		rc = lb_errf(c->err, c->errlen, -EINVAL,
			     "deprecate needs a version (--version)");
	if (rc == 0)
		rc = gw_api_deprecate(c->s, a->name, a->version, a->sunset,
				      a->user, c->apply, c->arg, c->err,
				      c->errlen);
	if (rc < 0)
		return rc;
	cJSON_AddStringToObject(c->out, "api", a->name);
	cJSON_AddNumberToObject(c->out, "version", a->version);
	cJSON_AddItemToObject(c->out, "sunset", json_time(a->sunset));
	return 0;
}

static int
c_retire(struct ctx *c)
{
	const struct args *a = c->a;
	int rc;

	rc = need(a->name, "an API name", "retire", c->err, c->errlen);
	if (rc == 0 && a->version == 0)
		rc = lb_errf(c->err, c->errlen, -EINVAL,
			     "retire needs a version (--version)");
	if (rc == 0)
		rc = gw_api_retire(c->s, a->name, a->version, a->user, c->apply,
				   c->arg, c->err, c->errlen);
	if (rc < 0)
		return rc;
	cJSON_AddStringToObject(c->out, "api", a->name);
	cJSON_AddNumberToObject(c->out, "version", a->version);
	return 0;
}

static int
add_event(void *arg, const struct gw_api_event *e)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || !cJSON_AddItemToArray(arg, o))
		return -ENOMEM;
	cJSON_AddItemToObject(o, "at", json_time(e->at));
	cJSON_AddStringToObject(o, "who", e->who);
	cJSON_AddStringToObject(o, "action", e->action);
	if (e->stage[0] != '\0')
		cJSON_AddStringToObject(o, "stage", e->stage);
	else
		cJSON_AddNullToObject(o, "stage");
	cJSON_AddItemToObject(o, "version", json_u32_or_null(e->version));
	cJSON_AddItemToObject(o, "previous", json_u32_or_null(e->prev));
	if (e->detail[0] != '\0')
		cJSON_AddStringToObject(o, "detail", e->detail);
	return 0;
}

static int
c_history(struct ctx *c)
{
	const struct args *a = c->a;
	cJSON *arr;
	int rc;

	rc = need(a->name, "an API name", "history", c->err, c->errlen);
	if (rc < 0)
		return rc;
	cJSON_AddStringToObject(c->out, "api", a->name);
	arr = cJSON_AddArrayToObject(c->out, "history");
	if (arr == NULL)
		return lb_errf(c->err, c->errlen, -ENOMEM, "out of memory");
	/* the default keeps the answer within one reply */
	return gw_api_history(c->s, a->name,
			      a->limit != 0 ? a->limit : GW_API_HISTORY_DEFAULT,
			      add_event, arr, c->err, c->errlen);
}

static int
add_info(void *arg, const struct gw_api_info *i)
{
	cJSON *o = cJSON_CreateObject(), *live;
	char buf[256], *tok, *save = NULL;

	if (o == NULL || !cJSON_AddItemToArray(arg, o))
		return -ENOMEM;
	cJSON_AddStringToObject(o, "name", i->name);
	cJSON_AddItemToObject(o, "created", json_time(i->created));
	cJSON_AddNumberToObject(o, "versions", i->nversions);
	cJSON_AddItemToObject(o, "latest", json_u32_or_null(i->latest));
	cJSON_AddBoolToObject(o, "draft", i->has_draft);
	live = cJSON_AddObjectToObject(o, "live");
	if (live == NULL)
		return -ENOMEM;
	snprintf(buf, sizeof(buf), "%s", i->live);
	for (tok = strtok_r(buf, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		if (eq == NULL)
			continue;
		*eq = '\0';
		cJSON_AddNumberToObject(live, tok, atoi(eq + 1));
	}
	return 0;
}

static int
c_list(struct ctx *c)
{
	cJSON *arr = cJSON_AddArrayToObject(c->out, "apis");

	if (arr == NULL)
		return lb_errf(c->err, c->errlen, -ENOMEM, "out of memory");
	return gw_api_list(c->s, add_info, arr, c->err, c->errlen);
}

static int
add_version(void *arg, const struct gw_api_version *v)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || !cJSON_AddItemToArray(arg, o))
		return -ENOMEM;
	cJSON_AddNumberToObject(o, "version", v->version);
	cJSON_AddItemToObject(o, "created", json_time(v->created));
	cJSON_AddStringToObject(o, "created_by", v->created_by);
	cJSON_AddItemToObject(o, "deprecated", json_time(v->deprecated));
	cJSON_AddItemToObject(o, "sunset", json_time(v->sunset));
	cJSON_AddItemToObject(o, "retired", json_time(v->retired));
	cJSON_AddNumberToObject(o, "bytes", (double)strlen(v->text));
	return 0;
}

static int
add_live(void *arg, const struct gw_api_live *l)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || !cJSON_AddItemToArray(arg, o))
		return -ENOMEM;
	cJSON_AddStringToObject(o, "stage", l->stage);
	cJSON_AddNumberToObject(o, "version", l->version);
	cJSON_AddItemToObject(o, "since", json_time(l->since));
	return 0;
}

static int
c_show(struct ctx *c)
{
	const struct args *a = c->a;
	char *text = NULL;
	cJSON *arr;
	int rc;

	rc = need(a->name, "an API name", "show", c->err, c->errlen);
	if (rc < 0)
		return rc;
	if (a->version != 0 || a->stage != NULL) {
		/* one version's route text */
		uint32_t v = 0;

		rc = gw_api_text(c->s, a->name, a->stage, a->version, &v, &text,
				 c->err, c->errlen);
		if (rc < 0)
			return rc;
		cJSON_AddStringToObject(c->out, "api", a->name);
		cJSON_AddNumberToObject(c->out, "version", v);
		cJSON_AddStringToObject(c->out, "routes", text);
		arr = cJSON_AddArrayToObject(c->out, "filters");
		rc = arr == NULL ? -ENOMEM
				 : gw_api_text_filters(a->name, text, arr,
						       c->err, c->errlen);
		free(text);
		return rc;
	}
	cJSON_AddStringToObject(c->out, "api", a->name);
	rc = gw_api_draft(c->s, a->name, &text, c->err, c->errlen);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (text != NULL)
		cJSON_AddNumberToObject(c->out, "draft_bytes",
					(double)strlen(text));
	else
		cJSON_AddNullToObject(c->out, "draft_bytes");
	free(text);
	arr = cJSON_AddArrayToObject(c->out, "live");
	if (arr == NULL)
		return lb_errf(c->err, c->errlen, -ENOMEM, "out of memory");
	rc = gw_api_lives(c->s, a->name, add_live, arr, c->err, c->errlen);
	if (rc < 0)
		return rc;
	arr = cJSON_AddArrayToObject(c->out, "versions");
	if (arr == NULL)
		return lb_errf(c->err, c->errlen, -ENOMEM, "out of memory");
	return gw_api_versions(c->s, a->name, add_version, arr, c->err,
			       c->errlen);
}

/* the cache and degradation (gw_cache.h) */
static int
c_purge(struct ctx *c)
{
	return gw_cache_ctl_purge(c->out, c->a->filter, c->a->prefix, c->err,
				  c->errlen);
}

static int
c_stats(struct ctx *c)
{
	return gw_cache_ctl_stats(c->out, c->err, c->errlen);
}

static int
c_degrade(struct ctx *c)
{
	return gw_degrade_ctl(c->out, c->a->route, c->a->state, c->err,
			      c->errlen);
}

static const struct {
	const char *cmd;
	int (*fn)(struct ctx *c);
} cmds[] = {
	{ "api.create", c_create },	  { "api.diff", c_diff },
	{ "api.publish", c_publish },	  { "api.rollback", c_rollback },
	{ "api.deprecate", c_deprecate }, { "api.retire", c_retire },
	{ "api.history", c_history },	  { "api.list", c_list },
	{ "api.show", c_show },		  { "api.degrade", c_degrade },
	{ "api.cache.purge", c_purge },	  { "api.cache.stats", c_stats },
};

int
gw_api_ctl_cmd(struct gw_api_store *s, struct nl_msg *req, struct nl_msg *reply,
	       gw_api_apply_fn apply, void *arg, char *err, size_t errlen)
{
	struct nlmsghdr *nlh = nlmsg_hdr(req);
	struct nlattr *tb[LB_ATTR_MAX + 1];
	struct args a;
	struct ctx c = { .s = s,
			 .a = &a,
			 .apply = apply,
			 .arg = arg,
			 .err = err,
			 .errlen = errlen };
	const char *cmd;
	char *json = NULL;
	int rc;

	rc = lbmsg_parse(nlh, nlh->nlmsg_len, tb, err, errlen);
	if (rc < 0)
		return rc;
	rc = parse_args(tb, &a, err, errlen);
	if (rc < 0)
		return rc;
	if (a.name != NULL) {
		rc = gw_api_check_name(a.name, err, errlen);
		if (rc < 0)
			return rc;
	}
	cmd = nla_get_string(tb[LB_ATTR_MOD_CMD]);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(cmd, cmds[i].cmd) != 0)
			continue;
		c.out = cJSON_CreateObject();
		if (c.out == NULL)
			return lb_errf(err, errlen, -ENOMEM, "out of memory");
		rc = cmds[i].fn(&c);
		if (rc == 0) {
			json = cJSON_PrintUnformatted(c.out);
			if (json == NULL)
				rc = lb_errf(err, errlen, -ENOMEM,
					     "out of memory");
			else if (strlen(json) > LBMSG_MOD_DATA_MAX)
				rc = lb_errf(err, errlen, -EMSGSIZE,
					     "the answer (%zu bytes) is "
					     "larger than one reply (history: "
					     "ask for fewer with --limit)",
					     strlen(json));
			else if (nla_put_string(reply, LB_ATTR_MOD_DATA, json) <
				 0)
				rc = lb_errf(err, errlen, -EMSGSIZE,
					     "the answer does not fit the "
					     "reply");
		}
		cJSON_free(json);
		cJSON_Delete(c.out);
		return rc;
	}
	return lb_errf(err, errlen, -EOPNOTSUPP, "unknown command \"%s\"", cmd);
}
