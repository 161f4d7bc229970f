/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * APNs channel: Apple's HTTP/2 provider API with token-based
 * authentication. Each notification is POST /3/device/TOKEN over HTTP/2
 * (the answer must come as HTTP/2: APNs speaks nothing else), the payload
 * as the body, and the headers
 *   authorization: bearer JWT   ES256 over {"alg","kid"}.{"iss","iat"}
 *   apns-topic                  the bundle id (topic)
 *   apns-push-type              push_type (alert by default)
 *   apns-priority               10 or 5 (omitted: APNs' default, 10)
 *   apns-expiration             UNIX time after which to drop it; 0:
 *                               deliver now or never (ttl 0)
 *   apns-collapse-id            the collapse key (up to 64 bytes)
 *   apns-id                     the message id when it is a UUID
 * The provider token is made again when it is token_refresh old (20 to 50
 * minutes; Apple refuses tokens older than an hour and answers
 * TooManyProviderTokenUpdates to renewals more often than every 20
 * minutes). 403 ExpiredProviderToken marks it stale: when it is at least
 * 20 minutes old a new one is made and the notification sent again, once;
 * younger, the send ends PV_RETRY and the next send after the 20 minutes
 * renews it.
 *
 * Answers: 200 PV_OK; 410 Unregistered, 400 BadDeviceToken and
 * DeviceTokenNotForTopic PV_BAD_TOKEN; 429 and 5xx PV_RETRY; the rest
 * PV_FAILED (reason: the body's "reason").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "edgelb/log.h"
#include "edgelb/util.h"
#include "push_vendor_priv.h"

#define APNS_TOKEN_MAX 200 /* hex digits; Apple's are 64 today */

struct apns {
	struct pv_base b; /* first: pv_test_advance */
	struct pv_url url;
	EVP_PKEY *key;
	char key_id[PUSH_VENDOR_ID_MAX + 1];
	char team_id[PUSH_VENDOR_ID_MAX + 1];
	char topic[PUSH_VENDOR_TEXT_MAX + 1];
	char push_type[32];
	uint32_t refresh_ms;
	char *jwt;
	uint64_t jwt_made_ms;
	bool jwt_stale;
};

static int apns_post(struct pv_send *s);

struct pv_verdict
pv_apns_classify(int status, const char *reason)
{
	struct pv_verdict v = { PV_FAILED, false };

	if (reason == NULL)
		reason = "";
	if (status == 200)
		v.r = PV_OK;
	else if (status == 410)
		v.r = PV_BAD_TOKEN;
	else if (status == 400 &&
		 (strcmp(reason, "BadDeviceToken") == 0 ||
		  strcmp(reason, "DeviceTokenNotForTopic") == 0))
		v.r = PV_BAD_TOKEN;
	else if (status == 403 && strcmp(reason, "ExpiredProviderToken") == 0)
		v = (struct pv_verdict){ PV_RETRY, true };
	else if (status == 429 || status >= 500)
		v.r = PV_RETRY;
	return v;
}

/* The provider token to send with, made again when due. NULL: it could not
 * be made (counted). */
static const char *
apns_jwt(struct apns *a)
{
	uint64_t now = pv_now_ms(&a->b), age = now - a->jwt_made_ms;
	char hdr[256], claims[256], err[128], *jwt;

	if (a->jwt != NULL && age < a->refresh_ms &&
	    !(a->jwt_stale && age >= PV_APNS_REFRESH_MIN))
		return a->jwt;
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"kid\":\"%s\"}",
		 a->key_id);
	snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"iat\":%lld}",
		 a->team_id, (long long)time(NULL));
	if (pv_jwt_sign(a->key, hdr, claims, &jwt, err, sizeof(err)) != 0) {
		a->b.st.token_errors++;
		LB_WARN("push vendor apns: provider token: %s", err);
		return NULL;
	}
	free(a->jwt);
	a->jwt = jwt;
	a->jwt_made_ms = now;
	a->jwt_stale = false;
	a->b.st.token_fetches++;
	return a->jwt;
}

static void
apns_answer(void *arg, int err, const struct pv_resp *resp)
{
	struct pv_send *s = arg;
	struct apns *a = (struct apns *)s->b;
	struct pv_verdict v;
	const char *why = NULL;
	char reason[PUSH_VENDOR_REASON_MAX + 1];
	cJSON *j = NULL;
	const cJSON *jr;
	int rc;

	s->call = NULL;
	if (err != 0) {
		v.r = pv_http_err_result(err, &why);
		pv_send_end(s, v.r, why);
		return;
	}
	if (resp->version != 2) {
		pv_send_end(s, PV_FAILED, "not_http2");
		return;
	}
	reason[0] = '\0';
	if (resp->status != 200) {
		j = cJSON_Parse(resp->body);
		jr = cJSON_GetObjectItemCaseSensitive(j, "reason");
		if (cJSON_IsString(jr))
			pv_reason_clean(reason, sizeof(reason),
					jr->valuestring);
		else
			snprintf(reason, sizeof(reason), "http_%d",
				 resp->status);
		cJSON_Delete(j);
	}
	v = pv_apns_classify(resp->status, reason);
	if (v.renew) {
		/* Stale only if nobody renewed it since this went out. */
		if (a->jwt != NULL && s->cred != NULL &&
		    strcmp(a->jwt, s->cred) == 0)
			a->jwt_stale = true;
		if (!s->resent &&
		    pv_now_ms(&a->b) - a->jwt_made_ms >= PV_APNS_REFRESH_MIN) {
			s->resent = true;
			a->b.st.resent++;
			rc = apns_post(s);
			if (rc == 0)
				return;
			v.r = PV_RETRY;
			snprintf(reason, sizeof(reason), "%s",
				 rc == -ENOKEY	 ? "provider_token"
				 : rc == -EAGAIN ? "dns"
						 : "request_failed");
		}
	}
	pv_send_end(s, v.r, v.r == PV_OK ? NULL : reason);
}

static bool
apns_is_uuid(const char *s)
{
	if (s == NULL || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char c = s[i];

		if (dash ? c != '-'
			 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			     (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/* Send s (again): 0, or -errno (nothing in flight). */
static int
apns_post(struct pv_send *s)
{
	struct apns *a = (struct apns *)s->b;
	struct http_header h[8];
	size_t nh = 0;
	char target[PUSH_VENDOR_TEXT_MAX + APNS_TOKEN_MAX + 16];
	char *auth, prio[4], exp[24];
	const char *jwt = apns_jwt(a);

	if (jwt == NULL)
		return -ENOKEY;
	auth = malloc(strlen(jwt) + 8);
	if (pv_send_cred(s, jwt) != 0 || auth == NULL) {
		free(auth);
		return -ENOMEM;
	}
	snprintf(auth, strlen(jwt) + 8, "bearer %s", jwt);
	snprintf(target, sizeof(target), "%s/3/device/%s", a->url.path,
		 s->token);
	h[nh++] = (struct http_header){ "authorization", auth };
	h[nh++] = (struct http_header){ "apns-topic", a->topic };
	h[nh++] = (struct http_header){ "apns-push-type", a->push_type };
	if (s->priority != 0) {
		snprintf(prio, sizeof(prio), "%d", s->priority);
		h[nh++] = (struct http_header){ "apns-priority", prio };
	}
	snprintf(exp, sizeof(exp), "%lld",
		 s->ttl_s == 0 ? 0LL
			       : (long long)time(NULL) + (long long)s->ttl_s);
	h[nh++] = (struct http_header){ "apns-expiration", exp };
	if (s->collapse != NULL && s->collapse[0] != '\0')
		h[nh++] =
			(struct http_header){ "apns-collapse-id", s->collapse };
	if (apns_is_uuid(s->id))
		h[nh++] = (struct http_header){ "apns-id", s->id };
	h[nh++] = (struct http_header){ "content-type", "application/json" };
	s->call = pv_http_post(&a->b, &a->url, target, h, nh, s->payload,
			       s->len, apns_answer, s);
	free(auth);
	return s->call != NULL ? 0 : -errno;
}

static int
apns_send(void *state, const struct push_vendor_msg *m, push_vendor_cb cb,
	  void *arg)
{
	struct apns *a = state;
	struct pv_send *s;
	bool hex = true;
	size_t n;
	int rc;

	if (pv_msg_check(&a->b, m, true) != 0)
		return -EINVAL;
	if (m->priority != 0 && m->priority != 1 && m->priority != 5 &&
	    m->priority != 10) {
		a->b.st.invalid++;
		pv_count_reason(&a->b, "invalid_message");
		return -EINVAL;
	}
	n = strlen(m->token);
	for (size_t i = 0; i < n; i++)
		if (!((m->token[i] >= '0' && m->token[i] <= '9') ||
		      (m->token[i] >= 'a' && m->token[i] <= 'f') ||
		      (m->token[i] >= 'A' && m->token[i] <= 'F')))
			hex = false;
	s = pv_send_new(&a->b, m, cb, arg);
	if (s == NULL)
		return -ENOMEM;
	/* Not a device token at all: what APNs would say, without asking. */
	if (!hex || n > APNS_TOKEN_MAX || n % 2 != 0)
		return pv_send_end_later(s, PV_BAD_TOKEN, "BadDeviceToken");
	rc = apns_post(s);
	if (rc != 0)
		return pv_send_end_later(s, PV_RETRY,
					 rc == -ENOKEY	 ? "provider_token"
					 : rc == -EAGAIN ? "dns"
							 : "request_failed");
	return 0;
}

static bool
apns_ident(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z') || *s == '.' || *s == '-' ||
		      *s == '_'))
			return false;
	return true;
}

static void apns_destroy(void *state);

static int
apns_create(struct event_base *base, const struct push_vendor_conf *c,
	    void **state, char *err, size_t errlen)
{
	struct apns *a = calloc(1, sizeof(*a));
	char e[200];
	int rc;

	if (a == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	if (!apns_ident(c->key_id) || !apns_ident(c->team_id) ||
	    !apns_ident(c->topic) || !apns_ident(c->push_type)) {
		free(a);
		return lb_errf(err, errlen, -EINVAL,
			       "[push_vendor %s]: key_id, team_id, topic and "
			       "push_type take letters, digits, '.', '-', '_'",
			       c->name);
	}
	rc = pv_url_parse(c->endpoint, c->address, &a->url, e, sizeof(e));
	if (rc != 0) {
		free(a);
		return lb_errf(err, errlen, rc, "[push_vendor %s]: %s", c->name,
			       e);
	}
	a->key = pv_key_from_file(c->key_file, EVP_PKEY_EC, e, sizeof(e));
	if (a->key == NULL) {
		free(a);
		return lb_errf(err, errlen, -EINVAL,
			       "[push_vendor %s]: key_file: %s", c->name, e);
	}
	snprintf(a->key_id, sizeof(a->key_id), "%s", c->key_id);
	snprintf(a->team_id, sizeof(a->team_id), "%s", c->team_id);
	snprintf(a->topic, sizeof(a->topic), "%s", c->topic);
	snprintf(a->push_type, sizeof(a->push_type), "%s", c->push_type);
	a->refresh_ms = c->token_refresh_ms;
	rc = pv_base_init(&a->b, base, c, true, err, errlen);
	if (rc == 0 &&
	    (rc = pv_base_resolve(&a->b, &a->url, e, sizeof(e))) != 0) {
		pv_base_fini(&a->b);
		lb_errf(err, errlen, rc, "[push_vendor %s]: %s", c->name, e);
	}
	if (rc != 0) {
		EVP_PKEY_free(a->key);
		free(a);
		return rc;
	}
	*state = a;
	return 0;
}

static void
apns_destroy(void *state)
{
	struct apns *a = state;

	if (a == NULL)
		return;
	pv_send_cancel_all(&a->b);
	pv_base_fini(&a->b);
	EVP_PKEY_free(a->key);
	free(a->jwt);
	free(a);
}

static const struct push_vendor_stats *
apns_stats(void *state)
{
	return &((struct apns *)state)->b.st;
}

const struct push_vendor_ops push_vendor_apns = {
	.name = "apns",
	.create = apns_create,
	.send = apns_send,
	.destroy = apns_destroy,
	.stats = apns_stats,
};
