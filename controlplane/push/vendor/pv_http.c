/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vendor channels' one HTTP exchange (a POST whose answer is collected
 * whole, up to PV_BODY_MAX, on the upstream client of http_client.h) and
 * the OAuth2 access-token cache of FCM and Huawei: one token request at a
 * time, every send that needs a token waits for it, the token is renewed
 * margin_ms before the expiry the endpoint announced (at most half its
 * life before), or when a 401 says it expired.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "edgelb/log.h"
#include "edgelb/util.h"
#include "push_vendor_priv.h"

struct pv_call {
	struct pv_base *b;
	struct http_client_req *req;
	pv_http_cb cb;
	void *arg;
	struct pv_buf body;
	struct pv_resp resp;
};

/* ---- bodies ---------------------------------------------------------- */

void
pv_buf_add(struct pv_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap =
			b->cap * 2 > b->n + n + 1 ? b->cap * 2 : b->n + n + 256;
		char *p = realloc(b->p, cap);

		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void
pv_buf_str(struct pv_buf *b, const char *s)
{
	pv_buf_add(b, s, strlen(s));
}

void
pv_buf_form(struct pv_buf *b, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";

	if (b->n > 0)
		pv_buf_add(b, "&", 1);
	pv_buf_str(b, key);
	pv_buf_add(b, "=", 1);
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0';
	     p++) {
		char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };

		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~')
			pv_buf_add(b, (const char *)p, 1);
		else
			pv_buf_add(b, e, 3);
	}
}

/* ---- the exchange ---------------------------------------------------- */

static int
pv_on_head(void *arg, struct http_client_req *r, const struct http_msg *head)
{
	struct pv_call *c = arg;
	const char *id = http_msg_header(head, "apns-id");

	c->resp.status = head->status;
	c->resp.version = http_client_req_version(r);
	if (id != NULL)
		snprintf(c->resp.apns_id, sizeof(c->resp.apns_id), "%s", id);
	return 0;
}

static int
pv_on_body(void *arg, struct http_client_req *r, const char *p, size_t n)
{
	struct pv_call *c = arg;

	(void)r;
	pv_buf_add(&c->body, p, n);
	return c->body.oom ? -ENOMEM : 0;
}

static void
pv_on_done(void *arg, struct http_client_req *r, int err)
{
	struct pv_call *c = arg;

	(void)r;
	if (err == -ETIMEDOUT)
		c->b->st.timeouts++;
	if (err == 0) {
		c->resp.body = c->body.p != NULL ? c->body.p : "";
		c->resp.len = c->body.n;
		c->cb(c->arg, 0, &c->resp);
	} else {
		c->cb(c->arg, err, NULL);
	}
	free(c->body.p);
	free(c);
}

static const struct http_client_req_ops pv_req_ops = {
	.on_head = pv_on_head,
	.on_body = pv_on_body,
	.on_done = pv_on_done,
};

struct pv_call *
pv_http_post(struct pv_base *b, const struct pv_url *u, const char *target,
	     const struct http_header *h, size_t nh, const void *body,
	     size_t len, pv_http_cb cb, void *arg)
{
	struct pv_call *c = calloc(1, sizeof(*c));
	struct http_client_spec s = {
		.proto = u->tls ? HTTP_CLIENT_TLS : HTTP_CLIENT_H1,
		.addr = u->addr,
		.port = u->port,
		.sni = u->host,
		.method = "POST",
		.target = target,
		.authority = u->authority,
		.headers = h,
		.nheaders = nh,
		.body = body,
		.body_len = (int64_t)len,
	};

	if (c == NULL)
		return NULL;
	if (u->addr.family == 0) {
		/* A name whose first lookup has not answered (or failed). */
		free(c);
		errno = EAGAIN;
		return NULL;
	}
	c->b = b;
	c->cb = cb;
	c->arg = arg;
	c->req = http_client_request(b->http, &s, &pv_req_ops, c);
	if (c->req == NULL) {
		int e = errno;

		free(c);
		errno = e;
		return NULL;
	}
	b->st.requests++;
	return c;
}

void
pv_call_cancel(struct pv_call *c)
{
	http_client_req_cancel(c->req);
	free(c->body.p);
	free(c);
}

enum push_vendor_result
pv_http_err_result(int err, const char **reason)
{
	switch (err) {
	case -ETIMEDOUT:
		*reason = "timeout";
		return PV_RETRY;
	case -EPROTO:
		/* Verification failed: no retry fixes a wrong CA or name. */
		*reason = "tls";
		return PV_FAILED;
	case -ECONNREFUSED:
	case -ENETUNREACH:
	case -EHOSTUNREACH:
		*reason = "connect";
		return PV_RETRY;
	case -ECONNRESET:
		*reason = "reset";
		return PV_RETRY;
	case -EBADMSG:
	case -EMSGSIZE:
	case -EFBIG:
		*reason = "bad_response";
		return PV_RETRY;
	default:
		*reason = "http_error";
		return PV_RETRY;
	}
}

/* ---- the OAuth2 token cache ------------------------------------------ */

void
pv_oauth_init(struct pv_oauth *o, struct pv_base *b, const struct pv_url *url,
	      int (*form)(void *, char **, char *, size_t), void *vendor,
	      uint32_t margin_ms)
{
	memset(o, 0, sizeof(*o));
	o->b = b;
	o->url = *url;
	o->form = form;
	o->vendor = vendor;
	o->margin_ms = margin_ms;
	TAILQ_INIT(&o->waiters);
}

enum push_vendor_result
pv_oauth_parse(int status, const char *body, char **token, uint32_t *expires_s,
	       char *reason, size_t rlen)
{
	cJSON *j = cJSON_Parse(body);
	const cJSON *at = cJSON_GetObjectItemCaseSensitive(j, "access_token");
	const cJSON *ex = cJSON_GetObjectItemCaseSensitive(j, "expires_in");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
	enum push_vendor_result r;

	*token = NULL;
	if (status == 200 && cJSON_IsString(at) && at->valuestring[0] != '\0' &&
	    strlen(at->valuestring) < 8192 && cJSON_IsNumber(ex) &&
	    ex->valuedouble >= 1 && ex->valuedouble <= 86400 * 30) {
		for (const char *p = at->valuestring; *p != '\0'; p++)
			if ((unsigned char)*p <= 0x20 ||
			    (unsigned char)*p >= 0x7f)
				goto bad;
		*token = strdup(at->valuestring);
		*expires_s = (uint32_t)ex->valuedouble;
		cJSON_Delete(j);
		if (*token == NULL) {
			snprintf(reason, rlen, "token_oom");
			return PV_RETRY;
		}
		return PV_OK;
	}
bad:
	r = status == 429 || status >= 500 ? PV_RETRY : PV_FAILED;
	if (cJSON_IsString(e)) {
		char t[33];

		pv_reason_clean(t, sizeof(t), e->valuestring);
		snprintf(reason, rlen, "token_%s", t);
	} else if (cJSON_IsNumber(e)) {
		snprintf(reason, rlen, "token_%d", e->valueint);
	} else if (status == 200) {
		snprintf(reason, rlen, "token_bad_answer");
	} else {
		snprintf(reason, rlen, "token_http_%d", status);
	}
	cJSON_Delete(j);
	return r;
}

static void
pv_oauth_wake(struct pv_oauth *o, enum push_vendor_result r)
{
	struct pv_token_waiters ws = TAILQ_HEAD_INITIALIZER(ws);
	struct pv_token_waiter *w;

	/* Waiters may queue again (a send's renewal): detach the list. */
	TAILQ_CONCAT(&ws, &o->waiters, link);
	while ((w = TAILQ_FIRST(&ws)) != NULL) {
		TAILQ_REMOVE(&ws, w, link);
		w->queued = false;
		w->cb(w->arg, r == PV_OK ? o->token : NULL, r, o->reason);
	}
}

static void
pv_oauth_answer(void *arg, int err, const struct pv_resp *resp)
{
	struct pv_oauth *o = arg;
	enum push_vendor_result r;
	uint32_t exp_s = 0, early;
	const char *why;

	o->call = NULL;
	if (err != 0) {
		r = pv_http_err_result(err, &why);
		snprintf(o->reason, sizeof(o->reason), "token_%s", why);
	} else {
		r = pv_oauth_parse(resp->status, resp->body, &o->token, &exp_s,
				   o->reason, sizeof(o->reason));
	}
	if (r == PV_OK) {
		o->b->st.token_fetches++;
		early = o->margin_ms;
		if (early > exp_s * 500u)
			early = exp_s * 500u;
		o->expires_ms =
			pv_now_ms(o->b) + (uint64_t)exp_s * 1000 - early;
	} else {
		o->b->st.token_errors++;
		LB_WARN("push vendor: access token from %s: %s", o->url.host,
			o->reason);
	}
	pv_oauth_wake(o, r);
}

int
pv_oauth_get(struct pv_oauth *o, struct pv_token_waiter *w, pv_token_cb cb,
	     void *arg, const char **token)
{
	static const struct http_header h[] = {
		{ "content-type", "application/x-www-form-urlencoded" },
		{ "accept", "application/json" },
	};
	char err[160], *body = NULL;
	int rc;

	if (o->token != NULL && pv_now_ms(o->b) < o->expires_ms) {
		*token = o->token;
		return 0;
	}
	free(o->token);
	o->token = NULL;
	if (o->call == NULL) {
		rc = o->form(o->vendor, &body, err, sizeof(err));
		if (rc != 0) {
			o->b->st.token_errors++;
			LB_WARN("push vendor: token request: %s", err);
			return rc;
		}
		o->call = pv_http_post(
			o->b, &o->url,
			o->url.path[0] != '\0' ? o->url.path : "/", h, 2, body,
			strlen(body), pv_oauth_answer, o);
		free(body);
		if (o->call == NULL)
			return -errno;
	}
	w->cb = cb;
	w->arg = arg;
	w->queued = true;
	TAILQ_INSERT_TAIL(&o->waiters, w, link);
	return 1;
}

void
pv_oauth_forget(struct pv_oauth *o, struct pv_token_waiter *w)
{
	if (w->queued)
		TAILQ_REMOVE(&o->waiters, w, link);
	w->queued = false;
}

void
pv_oauth_expired(struct pv_oauth *o, const char *token)
{
	if (o->token != NULL && strcmp(o->token, token) == 0) {
		free(o->token);
		o->token = NULL;
	}
}

void
pv_oauth_fini(struct pv_oauth *o)
{
	if (o->call != NULL)
		pv_call_cancel(o->call);
	o->call = NULL;
	free(o->token);
	o->token = NULL;
}

/* ---- vendors with access tokens (fcm, huawei) ------------------------- */

static int pv_ov_go(struct pv_ovendor *v, struct pv_send *s);

static void
pv_ov_answer(void *arg, int err, const struct pv_resp *resp)
{
	struct pv_send *s = arg;
	struct pv_ovendor *v = (struct pv_ovendor *)s->b;
	char reason[PUSH_VENDOR_REASON_MAX + 1] = "";
	struct pv_verdict vd;
	const char *why;

	s->call = NULL;
	if (err != 0) {
		vd.r = pv_http_err_result(err, &why);
		pv_send_end(s, vd.r, why);
		return;
	}
	vd = v->judge(s, resp, reason, sizeof(reason));
	if (vd.renew) {
		pv_oauth_expired(&v->oauth, s->cred);
		if (!s->resent) {
			s->resent = true;
			v->b.st.resent++;
			if (pv_ov_go(v, s) == 0)
				return;
		}
		vd.r = PV_RETRY;
	}
	pv_send_end(s, vd.r, vd.r == PV_OK ? NULL : reason);
}

/* POST s with token: 0, or -errno (nothing in flight). */
static int
pv_ov_post(struct pv_ovendor *v, struct pv_send *s, const char *token)
{
	struct http_header h[3];
	char *auth = malloc(strlen(token) + 8);
	int rc;

	if (auth == NULL || pv_send_cred(s, token) != 0) {
		free(auth);
		return -ENOMEM;
	}
	snprintf(auth, strlen(token) + 8, "Bearer %s", token);
	h[0] = (struct http_header){ "authorization", auth };
	h[1] = (struct http_header){ "content-type",
				     "application/json; charset=UTF-8" };
	h[2] = (struct http_header){ "accept", "application/json" };
	s->call = pv_http_post(&v->b, &v->url, v->target, h, 3, s->req,
			       s->req_len, pv_ov_answer, s);
	rc = s->call != NULL ? 0 : -errno;
	free(auth);
	return rc;
}

static void
pv_ov_token(void *arg, const char *token, enum push_vendor_result r,
	    const char *reason)
{
	struct pv_send *s = arg;
	int rc;

	if (token == NULL) {
		pv_send_end(s, r, reason);
		return;
	}
	rc = pv_ov_post((struct pv_ovendor *)s->b, s, token);
	if (rc != 0)
		pv_send_end(s, PV_RETRY,
			    rc == -EAGAIN ? "dns" : "request_failed");
}

/* Get a token for s and send it: 0 (in flight, or waiting for the token:
 * the answer ends s), or -errno (nothing in flight; s not ended). */
static int
pv_ov_go(struct pv_ovendor *v, struct pv_send *s)
{
	const char *token;
	int rc = pv_oauth_get(&v->oauth, &s->wait, pv_ov_token, s, &token);

	if (rc == 0)
		return pv_ov_post(v, s, token);
	return rc < 0 ? rc : 0;
}

int
pv_ovendor_send(struct pv_ovendor *v, const struct push_vendor_msg *m,
		push_vendor_cb cb, void *arg)
{
	struct pv_buf body = { 0 };
	struct pv_send *s;
	int rc;

	if (pv_msg_check(&v->b, m, true) != 0)
		return -EINVAL;
	s = pv_send_new(&v->b, m, cb, arg);
	if (s == NULL)
		return -ENOMEM;
	rc = v->body(v, s, &body);
	if (rc != 0 || body.oom) {
		free(body.p);
		return pv_send_end_later(s, PV_FAILED, "body") == 0 ? 0
								    : -ENOMEM;
	}
	s->req = body.p;
	s->req_len = body.n;
	/* A token at hand is used at once; the answer comes from the loop. */
	rc = pv_ov_go(v, s);
	if (rc != 0)
		return pv_send_end_later(s, PV_RETRY,
					 rc == -EAGAIN ? "dns"
						       : "request_failed") == 0
			       ? 0
			       : -ENOMEM;
	return 0;
}

void
pv_ovendor_fini(struct pv_ovendor *v)
{
	pv_send_cancel_all(&v->b);
	pv_oauth_fini(&v->oauth);
	pv_base_fini(&v->b);
}
