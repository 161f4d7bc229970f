/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Huawei channel: Push Kit's server API. An access token comes from the
 * OAuth2 token URL for grant_type=client_credentials with client_id and
 * client_secret (form POST), cached until its expires_in minus
 * token_margin (pv_oauth). A message is POST /v1/APPID/messages:send
 * (APPID: app_id, by default client_id) with
 *   {"validate_only":false,"message":{"data":PAYLOAD,"token":[T],
 *    "android":{"urgency":"HIGH"|"NORMAL","ttl":"Ns","bi_tag":ID}}}
 * and answered {"code":"80000000","msg":"Success","requestId":...}.
 *
 * Answers (the body's code): 80000000 PV_OK; 80300007 (invalid token) and
 * 80100000 (some tokens failed: with one token, that one) PV_BAD_TOKEN;
 * HTTP 401 or 80200003 (the access token expired) renew the token and send
 * again, once; 81000001 (internal error), 429 and 5xx PV_RETRY; the rest
 * PV_FAILED. Push Kit's collapse_key is a small number, not a key: the
 * message's collapse key is not passed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "edgelb/util.h"
#include "push_vendor_priv.h"

struct huawei {
	struct pv_ovendor v; /* first */
	char client_id[PUSH_VENDOR_ID_MAX + 1];
	char client_secret[PUSH_VENDOR_TEXT_MAX + 1];
};

struct pv_verdict
pv_huawei_classify(int status, const char *code)
{
	struct pv_verdict v = { PV_FAILED, false };

	if (code == NULL)
		code = "";
	if (status == 200 && strcmp(code, "80000000") == 0)
		v.r = PV_OK;
	else if (strcmp(code, "80300007") == 0 || strcmp(code, "80100000") == 0)
		v.r = PV_BAD_TOKEN;
	else if (status == 401 || strcmp(code, "80200003") == 0)
		v = (struct pv_verdict){ PV_RETRY, true };
	else if (strcmp(code, "81000001") == 0 || status == 429 ||
		 status >= 500)
		v.r = PV_RETRY;
	return v;
}

static struct pv_verdict
huawei_judge(const struct pv_send *s, const struct pv_resp *r, char *reason,
	     size_t rlen)
{
	cJSON *j = cJSON_Parse(r->body);
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "code");
	char code[24] = "";
	struct pv_verdict v;

	(void)s;
	/* A string in the documentation; a number taken as well. */
	if (cJSON_IsString(c))
		pv_reason_clean(code, sizeof(code), c->valuestring);
	else if (cJSON_IsNumber(c))
		snprintf(code, sizeof(code), "%.0f", c->valuedouble);
	cJSON_Delete(j);
	v = pv_huawei_classify(r->status, code);
	if (code[0] != '\0')
		snprintf(reason, rlen, "%s", code);
	else
		snprintf(reason, rlen, "http_%d", r->status);
	return v;
}

static int
huawei_body(struct pv_ovendor *v, const struct pv_send *s, struct pv_buf *out)
{
	cJSON *root = cJSON_CreateObject(), *msg, *and, *tok;
	char ttl[24], *txt;
	int rc = -ENOMEM;

	(void)v;
	if (root == NULL)
		return -ENOMEM;
	snprintf(ttl, sizeof(ttl), "%us", s->ttl_s);
	if (cJSON_AddFalseToObject(root, "validate_only") == NULL)
		goto out;
	msg = cJSON_AddObjectToObject(root, "message");
	and = cJSON_AddObjectToObject(msg, "android");
	tok = cJSON_AddArrayToObject(msg, "token");
	if (tok == NULL ||
	    !cJSON_AddItemToArray(tok, cJSON_CreateString(s->token)) ||
	    cJSON_AddStringToObject(and, "urgency",
				    s->priority == 10 || s->priority == 0
					    ? "HIGH"
					    : "NORMAL") == NULL ||
	    cJSON_AddStringToObject(and, "ttl", ttl) == NULL ||
	    (s->id != NULL &&
	     cJSON_AddStringToObject(and, "bi_tag", s->id) == NULL) ||
	    cJSON_AddStringToObject(msg, "data", s->payload) == NULL)
		goto out;
	txt = cJSON_PrintUnformatted(root);
	if (txt == NULL)
		goto out;
	pv_buf_str(out, txt);
	free(txt);
	rc = out->oom ? -ENOMEM : 0;
out:
	cJSON_Delete(root);
	return rc;
}

static int
huawei_form(void *vendor, char **body, char *err, size_t errlen)
{
	struct huawei *h = vendor;
	struct pv_buf b = { 0 };

	pv_buf_form(&b, "grant_type", "client_credentials");
	pv_buf_form(&b, "client_id", h->client_id);
	pv_buf_form(&b, "client_secret", h->client_secret);
	if (b.oom) {
		free(b.p);
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	}
	*body = b.p;
	return 0;
}

static int
huawei_send(void *state, const struct push_vendor_msg *m, push_vendor_cb cb,
	    void *arg)
{
	return pv_ovendor_send(state, m, cb, arg);
}

static void
huawei_destroy(void *state)
{
	struct huawei *h = state;

	if (h == NULL)
		return;
	pv_ovendor_fini(&h->v);
	free(h);
}

static int
huawei_create(struct event_base *base, const struct push_vendor_conf *c,
	      void **state, char *err, size_t errlen)
{
	struct huawei *h = calloc(1, sizeof(*h));
	const char *app = c->app_id[0] != '\0' ? c->app_id : c->client_id;
	struct pv_url tu;
	char e[200];
	int rc;

	if (h == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	for (const char *p = app; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_' ||
		      *p == '.')) {
			free(h);
			return lb_errf(err, errlen, -EINVAL,
				       "[push_vendor %s]: app_id '%s': bad "
				       "character",
				       c->name, app);
		}
	if ((rc = pv_url_parse(c->token_url, c->token_address, &tu, e,
			       sizeof(e))) != 0 ||
	    (rc = pv_url_parse(c->endpoint, c->address, &h->v.url, e,
			       sizeof(e))) != 0 ||
	    (rc = pv_base_init(&h->v.b, base, c, false, e, sizeof(e))) != 0) {
		free(h);
		return lb_errf(err, errlen, rc, "[push_vendor %s]: %s", c->name,
			       e);
	}
	snprintf(h->client_id, sizeof(h->client_id), "%s", c->client_id);
	snprintf(h->client_secret, sizeof(h->client_secret), "%s",
		 c->client_secret);
	snprintf(h->v.target, sizeof(h->v.target), "%s/v1/%s/messages:send",
		 h->v.url.path, app);
	h->v.body = huawei_body;
	h->v.judge = huawei_judge;
	pv_oauth_init(&h->v.oauth, &h->v.b, &tu, huawei_form, h,
		      c->token_margin_ms);
	h->v.b.oauth = &h->v.oauth;
	if ((rc = pv_base_resolve(&h->v.b, &h->v.url, e, sizeof(e))) != 0 ||
	    (rc = pv_base_resolve(&h->v.b, &h->v.oauth.url, e, sizeof(e))) !=
		    0) {
		pv_base_fini(&h->v.b);
		free(h);
		return lb_errf(err, errlen, rc, "[push_vendor %s]: %s", c->name,
			       e);
	}
	*state = h;
	return 0;
}

static const struct push_vendor_stats *
huawei_stats(void *state)
{
	return &((struct huawei *)state)->v.b.st;
}

const struct push_vendor_ops push_vendor_huawei = {
	.name = "huawei",
	.create = huawei_create,
	.send = huawei_send,
	.destroy = huawei_destroy,
	.stats = huawei_stats,
};
