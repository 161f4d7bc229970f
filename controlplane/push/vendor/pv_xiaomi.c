/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Xiaomi channel: Mi Push's server API. A message is a form POST to
 * /v3/message/regid with "Authorization: key=APPSECRET" and the fields
 *   registration_id=T  payload=PAYLOAD  pass_through=1 (a data message,
 *   handed to the app)  restricted_package_name=package_name (if set)
 *   time_to_live=ms (if ttl)  notify_id (unused)
 * answered with JSON {"result":"ok","code":0,"data":{"id":...}} or
 * {"result":"error","code":N,"reason":...}. An invalid registration id
 * comes back in data.bad_regids (a comma-separated list) with code 0.
 *
 * Answers: code 0 without the token in bad_regids PV_OK; with it, or code
 * 20301 (invalid registration ids), PV_BAD_TOKEN; 429, 5xx and the codes
 * the vendor's SDKs retry on (10002, 10003, 10027, 10037) PV_RETRY; the
 * rest PV_FAILED (reason: "code_N" or "http_N").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "edgelb/util.h"
#include "push_vendor_priv.h"

struct xiaomi {
	struct pv_base b; /* first: pv_test_advance */
	struct pv_url url;
	char target[PUSH_VENDOR_TEXT_MAX + 32];
	char auth[PUSH_VENDOR_TEXT_MAX + 8];
	char package[PUSH_VENDOR_TEXT_MAX + 1];
};

struct pv_verdict
pv_xiaomi_classify(int status, long code, bool bad_regid)
{
	struct pv_verdict v = { PV_FAILED, false };

	if (status == 200 && code == 0)
		v.r = bad_regid ? PV_BAD_TOKEN : PV_OK;
	else if (code == 20301)
		v.r = PV_BAD_TOKEN;
	else if (status == 429 || status >= 500 || code == 10002 ||
		 code == 10003 || code == 10027 || code == 10037)
		v.r = PV_RETRY;
	return v;
}

/* Whether the comma-separated list holds token. */
static bool
xiaomi_in_list(const char *list, const char *token)
{
	size_t n = strlen(token);

	for (const char *p = list; *p != '\0';) {
		const char *e = strchr(p, ',');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);

		if (len == n && memcmp(p, token, n) == 0)
			return true;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return false;
}

static void
xiaomi_answer(void *arg, int err, const struct pv_resp *resp)
{
	struct pv_send *s = arg;
	char reason[PUSH_VENDOR_REASON_MAX + 1];
	const cJSON *c, *d, *bad;
	struct pv_verdict v;
	const char *why;
	bool bad_regid = false;
	long code = -1;
	cJSON *j;

	s->call = NULL;
	if (err != 0) {
		v.r = pv_http_err_result(err, &why);
		pv_send_end(s, v.r, why);
		return;
	}
	j = cJSON_Parse(resp->body);
	c = cJSON_GetObjectItemCaseSensitive(j, "code");
	d = cJSON_GetObjectItemCaseSensitive(j, "data");
	bad = cJSON_GetObjectItemCaseSensitive(d, "bad_regids");
	if (cJSON_IsNumber(c))
		code = (long)c->valuedouble;
	if (cJSON_IsString(bad))
		bad_regid = xiaomi_in_list(bad->valuestring, s->token);
	cJSON_Delete(j);
	v = pv_xiaomi_classify(resp->status, code, bad_regid);
	if (bad_regid)
		snprintf(reason, sizeof(reason), "bad_regid");
	else if (code >= 0)
		snprintf(reason, sizeof(reason), "code_%ld", code);
	else
		snprintf(reason, sizeof(reason), "http_%d", resp->status);
	pv_send_end(s, v.r, v.r == PV_OK ? NULL : reason);
}

static int
xiaomi_send(void *state, const struct push_vendor_msg *m, push_vendor_cb cb,
	    void *arg)
{
	struct xiaomi *x = state;
	struct http_header h[3] = {
		{ "authorization", x->auth },
		{ "content-type",
		  "application/x-www-form-urlencoded; charset=UTF-8" },
		{ "accept", "application/json" },
	};
	struct pv_buf b = { 0 };
	struct pv_send *s;
	char ttl[24];
	int eno;

	if (pv_msg_check(&x->b, m, true) != 0)
		return -EINVAL;
	s = pv_send_new(&x->b, m, cb, arg);
	if (s == NULL)
		return -ENOMEM;
	pv_buf_form(&b, "registration_id", s->token);
	pv_buf_form(&b, "payload", s->payload);
	pv_buf_form(&b, "pass_through", "1");
	if (x->package[0] != '\0')
		pv_buf_form(&b, "restricted_package_name", x->package);
	if (s->ttl_s != 0) {
		snprintf(ttl, sizeof(ttl), "%llu",
			 (unsigned long long)s->ttl_s * 1000);
		pv_buf_form(&b, "time_to_live", ttl);
	}
	if (!b.oom)
		s->call = pv_http_post(&x->b, &x->url, x->target, h, 3, b.p,
				       b.n, xiaomi_answer, s);
	eno = s->call == NULL && !b.oom ? errno : 0;
	free(b.p);
	if (s->call == NULL)
		return pv_send_end_later(s, PV_RETRY,
					 eno == EAGAIN ? "dns"
						       : "request_failed") == 0
			       ? 0
			       : -ENOMEM;
	return 0;
}

static void
xiaomi_destroy(void *state)
{
	struct xiaomi *x = state;

	if (x == NULL)
		return;
	pv_send_cancel_all(&x->b);
	pv_base_fini(&x->b);
	memset(x->auth, 0, sizeof(x->auth));
	free(x);
}

static int
xiaomi_create(struct event_base *base, const struct push_vendor_conf *c,
	      void **state, char *err, size_t errlen)
{
	struct xiaomi *x = calloc(1, sizeof(*x));
	char e[200];
	int rc;

	if (x == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	if ((rc = pv_url_parse(c->endpoint, c->address, &x->url, e,
			       sizeof(e))) != 0 ||
	    (rc = pv_base_init(&x->b, base, c, false, e, sizeof(e))) != 0 ||
	    (rc = pv_base_resolve(&x->b, &x->url, e, sizeof(e))) != 0) {
		pv_base_fini(&x->b);
		free(x);
		return lb_errf(err, errlen, rc, "[push_vendor %s]: %s", c->name,
			       e);
	}
	snprintf(x->target, sizeof(x->target), "%s/v3/message/regid",
		 x->url.path);
	snprintf(x->auth, sizeof(x->auth), "key=%s", c->app_secret);
	snprintf(x->package, sizeof(x->package), "%s", c->package_name);
	*state = x;
	return 0;
}

static const struct push_vendor_stats *
xiaomi_stats(void *state)
{
	return &((struct xiaomi *)state)->b.st;
}

const struct push_vendor_ops push_vendor_xiaomi = {
	.name = "xiaomi",
	.create = xiaomi_create,
	.send = xiaomi_send,
	.destroy = xiaomi_destroy,
	.stats = xiaomi_stats,
};
