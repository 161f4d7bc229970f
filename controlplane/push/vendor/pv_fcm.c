/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * FCM channel: Firebase Cloud Messaging HTTP v1 with a service account.
 * The key file is the service account's JSON (type "service_account",
 * project_id, private_key_id, private_key, client_email, token_uri). An
 * access token comes from token_uri (or token_url) for an RS256 assertion
 *   {"alg":"RS256","typ":"JWT","kid":private_key_id}.
 *   {"iss":client_email,"scope":".../auth/firebase.messaging",
 *    "aud":token_uri,"iat":now,"exp":now+3600}
 * posted as grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, and is
 * cached until its expires_in minus token_margin (pv_oauth). A message is
 * POST /v1/projects/PROJECT/messages:send with
 *   {"message":{"token":T,"data":{"id":ID,"payload":PAYLOAD},
 *    "android":{"priority":"HIGH"|"NORMAL","ttl":"Ns","collapse_key":C}}}
 * (data values must be strings: the payload goes whole as one).
 *
 * Answers (error.status, or the FcmError detail's errorCode): UNREGISTERED,
 * SENDER_ID_MISMATCH, and INVALID_ARGUMENT whose BadRequest names the field
 * message.token: PV_BAD_TOKEN; 401 (UNAUTHENTICATED: the access token
 * expired) renews the token and sends again, once; QUOTA_EXCEEDED,
 * UNAVAILABLE, INTERNAL, 429 and 5xx: PV_RETRY; the rest PV_FAILED.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "edgelb/util.h"
#include "push_vendor_priv.h"

#define FCM_KEYFILE_MAX (64 * 1024)
#define FCM_SCOPE	"https://www.googleapis.com/auth/firebase.messaging"

struct fcm {
	struct pv_ovendor v; /* first */
	EVP_PKEY *key;
	char *client_email, *key_id, *aud;
};

struct pv_verdict
pv_fcm_classify(int status, const char *code, bool token_field)
{
	struct pv_verdict v = { PV_FAILED, false };

	if (code == NULL)
		code = "";
	if (status == 200)
		v.r = PV_OK;
	else if (strcmp(code, "UNREGISTERED") == 0 ||
		 strcmp(code, "SENDER_ID_MISMATCH") == 0 ||
		 (strcmp(code, "INVALID_ARGUMENT") == 0 && token_field))
		v.r = PV_BAD_TOKEN;
	else if (status == 401 && strcmp(code, "THIRD_PARTY_AUTH_ERROR") != 0)
		v = (struct pv_verdict){ PV_RETRY, true };
	else if (strcmp(code, "QUOTA_EXCEEDED") == 0 ||
		 strcmp(code, "UNAVAILABLE") == 0 ||
		 strcmp(code, "INTERNAL") == 0 || status == 429 ||
		 status >= 500)
		v.r = PV_RETRY;
	return v;
}

static struct pv_verdict
fcm_judge(const struct pv_send *s, const struct pv_resp *r, char *reason,
	  size_t rlen)
{
	cJSON *j;
	const cJSON *e, *st, *d, *x;
	const char *code = NULL;
	bool token_field = false;
	struct pv_verdict v;

	(void)s;
	if (r->status == 200)
		return pv_fcm_classify(200, NULL, false);
	j = cJSON_Parse(r->body);
	e = cJSON_GetObjectItemCaseSensitive(j, "error");
	st = cJSON_GetObjectItemCaseSensitive(e, "status");
	if (cJSON_IsString(st))
		code = st->valuestring;
	d = cJSON_GetObjectItemCaseSensitive(e, "details");
	cJSON_ArrayForEach(x, d)
	{
		const cJSON *ec =
			cJSON_GetObjectItemCaseSensitive(x, "errorCode");
		const cJSON *fv =
			cJSON_GetObjectItemCaseSensitive(x, "fieldViolations");
		const cJSON *f;

		if (cJSON_IsString(ec))
			code = ec->valuestring;
		cJSON_ArrayForEach(f, fv)
		{
			const cJSON *fn =
				cJSON_GetObjectItemCaseSensitive(f, "field");

			if (cJSON_IsString(fn) &&
			    strcmp(fn->valuestring, "message.token") == 0)
				token_field = true;
		}
	}
	v = pv_fcm_classify(r->status, code, token_field);
	if (code != NULL)
		pv_reason_clean(reason, rlen, code);
	else
		snprintf(reason, rlen, "http_%d", r->status);
	cJSON_Delete(j);
	return v;
}

static int
fcm_body(struct pv_ovendor *v, const struct pv_send *s, struct pv_buf *out)
{
	cJSON *root = cJSON_CreateObject(), *msg, *data, *and;
	char ttl[24], *txt;
	int rc = -ENOMEM;

	(void)v;
	if (root == NULL)
		return -ENOMEM;
	msg = cJSON_AddObjectToObject(root, "message");
	data = cJSON_AddObjectToObject(msg, "data");
	and = cJSON_AddObjectToObject(msg, "android");
	snprintf(ttl, sizeof(ttl), "%us", s->ttl_s);
	if (cJSON_AddStringToObject(msg, "token", s->token) == NULL ||
	    cJSON_AddStringToObject(data, "payload", s->payload) == NULL ||
	    (s->id != NULL &&
	     cJSON_AddStringToObject(data, "id", s->id) == NULL) ||
	    cJSON_AddStringToObject(and, "priority",
				    s->priority == 10 || s->priority == 0
					    ? "HIGH"
					    : "NORMAL") == NULL ||
	    cJSON_AddStringToObject(and, "ttl", ttl) == NULL ||
	    (s->collapse != NULL &&
	     cJSON_AddStringToObject(and, "collapse_key", s->collapse) == NULL))
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

/* The token request: the RS256 assertion as a jwt-bearer grant. */
static int
fcm_form(void *vendor, char **body, char *err, size_t errlen)
{
	struct fcm *f = vendor;
	cJSON *h = cJSON_CreateObject(), *c = cJSON_CreateObject();
	char *ht = NULL, *ct = NULL, *jwt = NULL;
	struct pv_buf b = { 0 };
	long long now = (long long)time(NULL);
	int rc = -ENOMEM;

	if (h == NULL || c == NULL ||
	    cJSON_AddStringToObject(h, "alg", "RS256") == NULL ||
	    cJSON_AddStringToObject(h, "typ", "JWT") == NULL ||
	    cJSON_AddStringToObject(h, "kid", f->key_id) == NULL ||
	    cJSON_AddStringToObject(c, "iss", f->client_email) == NULL ||
	    cJSON_AddStringToObject(c, "scope", FCM_SCOPE) == NULL ||
	    cJSON_AddStringToObject(c, "aud", f->aud) == NULL ||
	    cJSON_AddNumberToObject(c, "iat", (double)now) == NULL ||
	    cJSON_AddNumberToObject(c, "exp", (double)(now + 3600)) == NULL)
		goto out;
	ht = cJSON_PrintUnformatted(h);
	ct = cJSON_PrintUnformatted(c);
	if (ht == NULL || ct == NULL)
		goto out;
	rc = pv_jwt_sign(f->key, ht, ct, &jwt, err, errlen);
	if (rc != 0)
		goto out;
	pv_buf_form(&b, "grant_type",
		    "urn:ietf:params:oauth:grant-type:jwt-bearer");
	pv_buf_form(&b, "assertion", jwt);
	rc = b.oom ? -ENOMEM : 0;
	if (rc == 0)
		*body = b.p;
	else
		free(b.p);
out:
	if (rc == -ENOMEM)
		lb_errf(err, errlen, rc, "out of memory");
	cJSON_Delete(h);
	cJSON_Delete(c);
	free(ht);
	free(ct);
	free(jwt);
	return rc;
}

static int
fcm_send(void *state, const struct push_vendor_msg *m, push_vendor_cb cb,
	 void *arg)
{
	return pv_ovendor_send(state, m, cb, arg);
}

static void
fcm_destroy(void *state)
{
	struct fcm *f = state;

	if (f == NULL)
		return;
	pv_ovendor_fini(&f->v);
	EVP_PKEY_free(f->key);
	free(f->client_email);
	free(f->key_id);
	free(f->aud);
	free(f);
}

/* The service account's JSON: its strings and key. 0 or -errno + err. */
static int
fcm_load(struct fcm *f, const struct push_vendor_conf *c, char *project,
	 size_t plen, char *token_uri, size_t tlen, char *err, size_t errlen)
{
	FILE *fp = fopen(c->key_file, "r");
	char *txt = NULL, e[160];
	size_t n;
	cJSON *j = NULL;
	const cJSON *ty, *pid, *kid, *pk, *em, *tu;
	int rc = -EINVAL;

	if (fp == NULL)
		return lb_errf(err, errlen, -errno, "%s: %s", c->key_file,
			       strerror(errno));
	txt = malloc(FCM_KEYFILE_MAX + 1);
	if (txt == NULL) {
		fclose(fp);
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	}
	n = fread(txt, 1, FCM_KEYFILE_MAX + 1, fp);
	fclose(fp);
	if (n > FCM_KEYFILE_MAX) {
		lb_errf(err, errlen, -EINVAL, "%s: larger than %d bytes",
			c->key_file, FCM_KEYFILE_MAX);
		goto out;
	}
	txt[n] = '\0';
	j = cJSON_Parse(txt);
	ty = cJSON_GetObjectItemCaseSensitive(j, "type");
	pid = cJSON_GetObjectItemCaseSensitive(j, "project_id");
	kid = cJSON_GetObjectItemCaseSensitive(j, "private_key_id");
	pk = cJSON_GetObjectItemCaseSensitive(j, "private_key");
	em = cJSON_GetObjectItemCaseSensitive(j, "client_email");
	tu = cJSON_GetObjectItemCaseSensitive(j, "token_uri");
	if (!cJSON_IsString(ty) ||
	    strcmp(ty->valuestring, "service_account") != 0 ||
	    !cJSON_IsString(kid) || !cJSON_IsString(pk) ||
	    !cJSON_IsString(em)) {
		lb_errf(err, errlen, -EINVAL,
			"%s: not a service account key (type, private_key_id, "
			"private_key, client_email)",
			c->key_file);
		goto out;
	}
	f->key = pv_key_from_pem(pk->valuestring, strlen(pk->valuestring),
				 EVP_PKEY_RSA, e, sizeof(e));
	if (f->key == NULL) {
		lb_errf(err, errlen, -EINVAL, "%s: private_key: %s",
			c->key_file, e);
		goto out;
	}
	f->key_id = strdup(kid->valuestring);
	f->client_email = strdup(em->valuestring);
	if (f->key_id == NULL || f->client_email == NULL) {
		rc = lb_errf(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	snprintf(project, plen, "%s",
		 c->project_id[0] != '\0' ? c->project_id
		 : cJSON_IsString(pid)	  ? pid->valuestring
					  : "");
	snprintf(token_uri, tlen, "%s",
		 c->token_url[0] != '\0' ? c->token_url
		 : cJSON_IsString(tu)	 ? tu->valuestring
					 : "");
	rc = 0;
out:
	cJSON_Delete(j);
	if (txt != NULL)
		OPENSSL_cleanse(txt, FCM_KEYFILE_MAX + 1);
	free(txt);
	return rc;
}

static int
fcm_create(struct event_base *base, const struct push_vendor_conf *c,
	   void **state, char *err, size_t errlen)
{
	struct fcm *f = calloc(1, sizeof(*f));
	char project[PUSH_VENDOR_ID_MAX + 1], turi[PUSH_VENDOR_TEXT_MAX + 1];
	struct pv_url tu;
	char e[200];
	int rc;

	if (f == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	rc = fcm_load(f, c, project, sizeof(project), turi, sizeof(turi), e,
		      sizeof(e));
	if (rc != 0)
		goto fail;
	rc = -EINVAL;
	if (project[0] == '\0') {
		lb_errf(e, sizeof(e), rc, "no project_id");
		goto fail;
	}
	for (const char *p = project; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_' ||
		      *p == '.' || *p == ':')) {
			lb_errf(e, sizeof(e), rc,
				"project_id '%s': bad "
				"character",
				project);
			goto fail;
		}
	if ((rc = pv_url_parse(turi, c->token_address, &tu, e, sizeof(e))) !=
		    0 ||
	    (rc = pv_url_parse(c->endpoint, c->address, &f->v.url, e,
			       sizeof(e))) != 0)
		goto fail;
	f->aud = strdup(turi);
	if (f->aud == NULL) {
		rc = lb_errf(e, sizeof(e), -ENOMEM, "out of memory");
		goto fail;
	}
	snprintf(f->v.target, sizeof(f->v.target),
		 "%s/v1/projects/%s/messages:send", f->v.url.path, project);
	f->v.body = fcm_body;
	f->v.judge = fcm_judge;
	rc = pv_base_init(&f->v.b, base, c, false, e, sizeof(e));
	if (rc != 0)
		goto fail;
	pv_oauth_init(&f->v.oauth, &f->v.b, &tu, fcm_form, f,
		      c->token_margin_ms);
	f->v.b.oauth = &f->v.oauth;
	if ((rc = pv_base_resolve(&f->v.b, &f->v.url, e, sizeof(e))) != 0 ||
	    (rc = pv_base_resolve(&f->v.b, &f->v.oauth.url, e, sizeof(e))) !=
		    0) {
		pv_base_fini(&f->v.b);
		goto fail;
	}
	*state = f;
	return 0;
fail:
	EVP_PKEY_free(f->key);
	free(f->key_id);
	free(f->client_email);
	free(f->aud);
	free(f);
	return lb_errf(err, errlen, rc, "[push_vendor %s]: %s", c->name, e);
}

static const struct push_vendor_stats *
fcm_stats(void *state)
{
	return &((struct fcm *)state)->v.b.st;
}

const struct push_vendor_ops push_vendor_fcm = {
	.name = "fcm",
	.create = fcm_create,
	.send = fcm_send,
	.destroy = fcm_destroy,
	.stats = fcm_stats,
};
