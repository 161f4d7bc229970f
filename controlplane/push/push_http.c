/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The push service's business API (docs/push.md, "Business API") on
 * edgelbd's HTTP stack, on the daemon's loop. Writes answer after the
 * group commit that made them durable (push_srv_after_commit).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "http.h"
#include "push_srv.h"
#include "push_token.h"
#include "edgelb/log.h"

#define PREFIX	  "/push/v1/"
#define LIST_MAX  1000 /* devices listed for one message */
#define USERS_MAX 100  /* users listed for one device */

struct push_http {
	struct push_srv *s;
	struct http_server *hs;
	struct http_metrics *hm;
	struct http_ratelimit rl;
};

/* An answer waiting for the commit. */
struct pending {
	struct push_srv *s;
	struct http_req *req;
	int status;
	char *body;
};

static void
reply_json(struct http_req *req, int status, cJSON *o)
{
	char *txt = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
	struct http_header h = { "Content-Type", "application/json" };

	if (txt == NULL)
		http_resp_simple(req, 500, "text/plain", "no memory\n", 10);
	else
		http_resp_full(req, status, &h, 1, txt, strlen(txt));
	cJSON_free(txt);
	cJSON_Delete(o);
}

static void
reply_err(struct push_http *h, struct http_req *req, int status,
	  const char *why)
{
	struct push_counters *n = push_srv_counters(h->s);
	cJSON *o = cJSON_CreateObject();

	if (status == 400 || status == 405)
		n->api_bad_request++;
	else if (status == 401)
		n->api_unauthorized++;
	else if (status == 404)
		n->api_not_found++;
	else if (status >= 500)
		n->api_errors++;
	cJSON_AddStringToObject(o, "error", why);
	reply_json(req, status, o);
}

static void
pending_done(void *arg, int rc)
{
	struct pending *p = arg;
	struct http_header h = { "Content-Type", "application/json" };

	http_req_set_data(p->req, NULL);
	if (rc < 0) {
		push_srv_counters(p->s)->api_errors++;
		http_resp_simple(p->req, 503, "application/json",
				 "{\"error\":\"store\"}", 17);
	} else {
		http_resp_full(p->req, p->status, &h, 1, p->body,
			       strlen(p->body));
	}
	cJSON_free(p->body);
	free(p);
}

/* Answer o with status once the current transaction is committed. */
static void
reply_after_commit(struct push_http *h, struct http_req *req, int status,
		   cJSON *o)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (p != NULL)
		p->body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (p == NULL || p->body == NULL ||
	    push_srv_after_commit(h->s, pending_done, p) < 0) {
		if (p != NULL)
			cJSON_free(p->body);
		free(p);
		reply_err(h, req, 503, "no memory");
		return;
	}
	p->s = h->s;
	p->req = req;
	p->status = status;
	http_req_set_data(req, p);
}

static void
on_abort(void *arg, struct http_req *req)
{
	struct push_http *h = arg;
	struct pending *p = http_req_data(req);

	if (p == NULL)
		return;
	push_srv_cancel_commit(h->s, p);
	cJSON_free(p->body);
	free(p);
}

static bool
authorized(const struct push_http *h, const struct http_msg *m)
{
	const struct push_conf *c = push_srv_conf(h->s);
	const char *k = http_msg_header(m, "X-Api-Key");
	size_t n = k != NULL ? strlen(k) : 0;
	bool ok = false;

	for (uint32_t i = 0; k != NULL && i < c->napi_keys; i++)
		if (strlen(c->api_keys[i]) == n &&
		    CRYPTO_memcmp(c->api_keys[i], k, n) == 0)
			ok = true;
	return ok;
}

/* ---- endpoints ---------------------------------------------------------------- */

static void
post_message(struct push_http *h, struct http_req *req, const char *body,
	     size_t len)
{
	const struct push_conf *c = push_srv_conf(h->s);
	const struct http_msg *m = http_req_msg(req);
	const char *hk = http_msg_header(m, "Idempotency-Key");
	struct push_api_limits lim = { c->max_payload, c->default_ttl,
				       c->max_ttl };
	struct push_send ps;
	char err[160], id[PUSH_ID_TEXT + 1];
	uint32_t ndev = 0;
	bool dup = false;
	cJSON *o;
	int rc;

	if (push_api_parse_send(body, len, &lim, &ps, err, sizeof(err)) < 0) {
		reply_err(h, req, 400, err);
		return;
	}
	if (hk != NULL && ps.idem_key[0] == '\0') {
		if (!push_api_text_valid(hk, PUSH_IDEM_MAX)) {
			push_send_release(&ps);
			reply_err(h, req, 400,
				  "Idempotency-Key: expected 1..128 "
				  "printable ASCII characters");
			return;
		}
		snprintf(ps.idem_key, sizeof(ps.idem_key), "%s", hk);
	}
	rc = push_srv_send(h->s, &ps, id, &dup, &ndev);
	push_send_release(&ps);
	if (rc == -ENOENT) {
		reply_err(h, req, 404, "unknown device");
		return;
	}
	if (rc < 0) {
		reply_err(h, req, 503, "store");
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", id);
	if (!dup)
		cJSON_AddNumberToObject(o, "devices", ndev);
	cJSON_AddBoolToObject(o, "duplicate", dup);
	reply_after_commit(h, req, 202, o);
}

static int
add_entry(void *arg, const struct push_entry *e)
{
	cJSON *a = arg, *d;

	if (cJSON_GetArraySize(a) >= LIST_MAX)
		return 1;
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "device", e->device);
	cJSON_AddNumberToObject(d, "seq", (double)e->seq);
	cJSON_AddStringToObject(d, "status", push_status_name(e->status));
	if (e->reason != NULL)
		cJSON_AddStringToObject(d, "reason", e->reason);
	cJSON_AddNumberToObject(d, "sends", e->sends);
	cJSON_AddNumberToObject(d, "updated_ms", (double)e->updated_ms);
	cJSON_AddItemToArray(a, d);
	return 0;
}

static void
get_message(struct push_http *h, struct http_req *req, const char *id)
{
	void *st;
	const struct push_store_ops *ops = push_srv_store(h->s, &st);
	cJSON *o = cJSON_CreateObject(), *a = cJSON_CreateArray();
	uint8_t raw[PUSH_ID_BYTES];
	struct push_msg m;
	int rc;

	if (push_id_parse(id, raw) < 0) {
		cJSON_Delete(o);
		cJSON_Delete(a);
		reply_err(h, req, 404, "unknown message");
		return;
	}
	rc = ops->msg_get(st, id, &m, LIST_MAX + 1, add_entry, a);
	if (rc < 0 && rc != 1) {
		cJSON_Delete(o);
		cJSON_Delete(a);
		reply_err(h, req, rc == -ENOENT ? 404 : 503,
			  rc == -ENOENT ? "unknown message" : "store");
		return;
	}
	cJSON_AddStringToObject(o, "id", m.id);
	cJSON_AddNumberToObject(o, "created_ms", (double)m.created_ms);
	cJSON_AddNumberToObject(o, "ttl", m.ttl_s);
	cJSON_AddNumberToObject(o, "priority", m.priority);
	if (m.collapse_key != NULL && m.collapse_key[0] != '\0')
		cJSON_AddStringToObject(o, "collapse_key", m.collapse_key);
	cJSON_AddBoolToObject(o, "truncated", rc == 1);
	cJSON_AddItemToObject(o, "devices", a);
	reply_json(req, 200, o);
}

static int
add_user(void *arg, const char *name)
{
	cJSON *a = arg;

	if (cJSON_GetArraySize(a) >= USERS_MAX)
		return 1;
	cJSON_AddItemToArray(a, cJSON_CreateString(name));
	return 0;
}

static void
get_device(struct push_http *h, struct http_req *req, const char *id)
{
	void *st;
	const struct push_store_ops *ops = push_srv_store(h->s, &st);
	struct push_device_info di;
	cJSON *o, *a;
	int rc;

	if (!push_name_valid(id, strlen(id))) {
		reply_err(h, req, 404, "unknown device");
		return;
	}
	rc = ops->device_get(st, id, &di);
	if (rc < 0) {
		reply_err(h, req, rc == -ENOENT ? 404 : 503,
			  rc == -ENOENT ? "unknown device" : "store");
		return;
	}
	o = cJSON_CreateObject();
	a = cJSON_CreateArray();
	cJSON_AddStringToObject(o, "device", id);
	cJSON_AddStringToObject(o, "platform", di.platform);
	cJSON_AddStringToObject(o, "app", di.app);
	cJSON_AddBoolToObject(o, "online", push_srv_is_online(h->s, id));
	cJSON_AddNumberToObject(o, "queued", (double)di.pending);
	cJSON_AddNumberToObject(o, "last_seq", (double)di.last_seq);
	cJSON_AddNumberToObject(o, "last_seen_ms", (double)di.last_seen_ms);
	if (di.vendor[0] != '\0')
		cJSON_AddStringToObject(o, "vendor", di.vendor);
	if (ops->device_users(st, id, add_user, a) < 0) {
		cJSON_Delete(a);
		cJSON_Delete(o);
		reply_err(h, req, 503, "store");
		return;
	}
	cJSON_AddItemToObject(o, "users", a);
	reply_json(req, 200, o);
}

/* a device's vendor channel: set (on) or forget */
static void
post_vendor(struct push_http *h, struct http_req *req, const char *device,
	    const char *body, size_t len, bool on)
{
	void *st;
	const struct push_store_ops *ops = push_srv_store(h->s, &st);
	char vendor[PUSH_VENDOR_MAX + 1], token[PUSH_VENDOR_TOKEN_MAX + 1];
	char err[160];
	int rc;

	if (on && push_api_parse_vendor(body, len, vendor, token, err,
					sizeof(err)) < 0) {
		reply_err(h, req, 400, err);
		return;
	}
	rc = push_srv_txn(h->s);
	if (rc == 0)
		rc = ops->device_vendor(st, device, on ? vendor : NULL,
					on ? token : NULL);
	if (rc < 0) {
		reply_err(h, req, rc == -ENOENT ? 404 : 503,
			  rc == -ENOENT ? "unknown device" : "store");
		return;
	}
	reply_after_commit(h, req, 200, cJSON_CreateObject());
}

/* bindings (a = user) and topic subscriptions (a = topic) */
static void
post_pair(struct push_http *h, struct http_req *req, const char *body,
	  size_t len, const char *topic, bool on)
{
	static const char *const bnames[] = { "user", "device" };
	static const char *const tnames[] = { "device" };
	void *st;
	const struct push_store_ops *ops = push_srv_store(h->s, &st);
	char v[2][PUSH_NAME_MAX + 1], err[160];
	int rc;

	if (topic != NULL && !push_name_valid(topic, strlen(topic))) {
		reply_err(h, req, 400, "bad topic name");
		return;
	}
	rc = push_api_parse_names(body, len, topic != NULL ? tnames : bnames, v,
				  topic != NULL ? 1 : 2, NULL, err,
				  sizeof(err));
	if (rc < 0) {
		reply_err(h, req, 400, err);
		return;
	}
	rc = push_srv_txn(h->s);
	if (rc == 0)
		rc = topic != NULL ? ops->subscribe(st, topic, v[0], on)
				   : ops->bind(st, v[0], v[1], on);
	if (rc == -ENOENT) {
		reply_err(h, req, 404,
			  on ? "unknown device" : "no such binding");
		return;
	}
	if (rc < 0) {
		reply_err(h, req, 503, "store");
		return;
	}
	reply_after_commit(h, req, 200, cJSON_CreateObject());
}

static void
post_token(struct push_http *h, struct http_req *req, const char *body,
	   size_t len)
{
	static const char *const names[] = { "user", "device" };
	const struct push_conf *c = push_srv_conf(h->s);
	char v[2][PUSH_NAME_MAX + 1], err[160];
	char hex[2 * PUSH_TOKEN_BYTES + 1];
	uint8_t tok[PUSH_TOKEN_BYTES];
	uint32_t ttl = 3600;
	uint64_t expiry;
	cJSON *o;

	if (c->bind_secret[0] == '\0') {
		reply_err(h, req, 404, "no bind_secret configured");
		return;
	}
	if (push_api_parse_names(body, len, names, v, 2, &ttl, err,
				 sizeof(err)) < 0) {
		reply_err(h, req, 400, err);
		return;
	}
	expiry = (uint64_t)time(NULL) + ttl;
	if (push_token_make(c->bind_secret, v[1], v[0], expiry, tok) < 0) {
		reply_err(h, req, 500, "token");
		return;
	}
	push_token_hex(tok, hex);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "token", hex);
	cJSON_AddNumberToObject(o, "expiry", (double)expiry);
	reply_json(req, 200, o);
}

static void
on_request(void *arg, struct http_req *req)
{
	struct push_http *h = arg;
	const struct http_msg *m = http_req_msg(req);
	const char *path = m->path, *rest;
	bool post = strcmp(m->method, "POST") == 0;
	bool get = strcmp(m->method, "GET") == 0;
	bool del = strcmp(m->method, "DELETE") == 0;
	char name[PUSH_NAME_MAX + 2];
	size_t blen;
	const char *body = http_req_body(req, &blen);
	const char *slash;

	push_srv_counters(h->s)->api_requests++;
	if (!authorized(h, m)) {
		reply_err(h, req, 401, "missing or bad X-Api-Key");
		return;
	}
	if (strncmp(path, PREFIX, strlen(PREFIX)) != 0) {
		reply_err(h, req, 404, "no such path");
		return;
	}
	rest = path + strlen(PREFIX);
	if (strcmp(rest, "messages") == 0) {
		if (post)
			post_message(h, req, body, blen);
		else
			reply_err(h, req, 405, "POST only");
	} else if (strncmp(rest, "messages/", 9) == 0) {
		if (get)
			get_message(h, req, rest + 9);
		else
			reply_err(h, req, 405, "GET only");
	} else if (strncmp(rest, "devices/", 8) == 0 &&
		   (slash = strchr(rest + 8, '/')) != NULL &&
		   strcmp(slash, "/vendor") == 0 &&
		   (size_t)(slash - (rest + 8)) <= PUSH_NAME_MAX) {
		snprintf(name, sizeof(name), "%.*s", (int)(slash - (rest + 8)),
			 rest + 8);
		if (!push_name_valid(name, strlen(name)))
			reply_err(h, req, 404, "unknown device");
		else if (post || del)
			post_vendor(h, req, name, body, blen, post);
		else
			reply_err(h, req, 405, "POST or DELETE only");
	} else if (strncmp(rest, "devices/", 8) == 0) {
		if (get)
			get_device(h, req, rest + 8);
		else
			reply_err(h, req, 405, "GET only");
	} else if (strcmp(rest, "bindings") == 0) {
		if (post || del)
			post_pair(h, req, body, blen, NULL, post);
		else
			reply_err(h, req, 405, "POST or DELETE only");
	} else if (strcmp(rest, "tokens") == 0) {
		if (post)
			post_token(h, req, body, blen);
		else
			reply_err(h, req, 405, "POST only");
	} else if (strncmp(rest, "topics/", 7) == 0 &&
		   (slash = strchr(rest + 7, '/')) != NULL &&
		   (size_t)(slash - (rest + 7)) <= PUSH_NAME_MAX &&
		   (strcmp(slash, "/subscribe") == 0 ||
		    strcmp(slash, "/unsubscribe") == 0)) {
		snprintf(name, sizeof(name), "%.*s", (int)(slash - (rest + 7)),
			 rest + 7);
		if (post)
			post_pair(h, req, body, blen, name,
				  strcmp(slash, "/subscribe") == 0);
		else
			reply_err(h, req, 405, "POST only");
	} else {
		reply_err(h, req, 404, "no such path");
	}
}

static const struct http_handler handler = {
	.on_request = on_request,
	.on_abort = on_abort,
};

static void
sum_stats(void *arg, struct http_stats *sum)
{
	struct push_http *h = arg;

	http_server_stats_read(h->hs, sum);
}

struct push_http *
push_http_new(struct push_srv *s, struct event_base *base,
	      const struct push_conf *c, struct metrics *m)
{
	struct push_http *h = calloc(1, sizeof(*h));
	struct http_limits lim = http_default_limits;
	char buf[LB_ADDRPORTSTRLEN];
	int rc;

	if (h == NULL)
		return NULL;
	h->s = s;
	h->rl.burst = 10;
	lim.max_conns = c->api_max_conns;
	lim.max_conns_per_addr = c->api_max_conns;
	lim.max_body_bytes = c->api_max_body;
	h->hs = http_server_new(base, &lim, &handler, h);
	if (h->hs == NULL)
		goto err;
	rc = http_server_listen(h->hs, &c->api_addr, c->api_port);
	if (rc < 0) {
		LB_ERR("[push] api_listen %s: %s",
		       lb_addr_port_format(&c->api_addr, c->api_port, buf,
					   sizeof(buf)),
		       strerror(-rc));
		errno = -rc;
		goto err;
	}
	if (m != NULL) {
		h->hm = http_metrics_register(m, "push", sum_stats, h);
		if (h->hm == NULL)
			goto err;
	}
	return h;
err:
	rc = errno;
	push_http_free(h);
	errno = rc;
	return NULL;
}

void
push_http_free(struct push_http *h)
{
	if (h == NULL)
		return;
	if (h->hm != NULL)
		http_metrics_unregister(h->hm);
	http_server_free(h->hs);
	free(h);
}

void
push_http_drain(struct push_http *h)
{
	http_server_drain(h->hs);
}

bool
push_http_drained(struct push_http *h)
{
	return http_server_active(h->hs) == 0;
}

uint16_t
push_http_port(const struct push_http *h)
{
	return http_server_port(h->hs);
}
