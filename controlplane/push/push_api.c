/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The business API's request bodies (see push_api.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "push_api.h"
#include "edgelb/util.h"

#define JSON_DEPTH_MAX 32

bool
push_api_text_valid(const char *s, size_t max)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++)
		if (n >= max || s[n] < 0x20 || s[n] > 0x7e)
			return false;
	return n > 0;
}

/* Nesting depth of v, to refuse pathological payloads before printing. */
static int
depth(const cJSON *v, int d)
{
	int max = d;

	if (d > JSON_DEPTH_MAX)
		return d;
	for (const cJSON *c = v->child; c != NULL; c = c->next) {
		int k = depth(c, d + 1);

		if (k > max)
			max = k;
		if (max > JSON_DEPTH_MAX)
			break;
	}
	return max;
}

/* An integer field in lo..hi: 0 (absent: *v unchanged) or -EINVAL. */
static int
get_uint(const cJSON *o, const char *name, uint32_t lo, uint32_t hi,
	 uint32_t *v, char *err, size_t errlen)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
	double d;

	if (f == NULL)
		return 0;
	d = cJSON_IsNumber(f) ? f->valuedouble : NAN;
	if (!(d >= lo && d <= hi) || d != floor(d))
		return lb_errf(err, errlen, -EINVAL,
			       "%s: expected an integer %u..%u", name, lo, hi);
	*v = (uint32_t)d;
	return 0;
}

/* A string field: 0 (absent: out unchanged), -EINVAL. */
static int
get_str(const cJSON *o, const char *name, bool is_name, size_t max, char *out,
	char *err, size_t errlen)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
	const char *s = cJSON_GetStringValue(f);

	if (f == NULL)
		return 0;
	if (s == NULL || (is_name ? !push_name_valid(s, strlen(s))
				  : !push_api_text_valid(s, max)))
		return lb_errf(err, errlen, -EINVAL,
			       is_name ? "%s: expected 1..%zu characters of "
					 "[A-Za-z0-9._:-]"
				       : "%s: expected 1..%zu printable ASCII "
					 "characters",
			       name, max);
	snprintf(out, max + 1, "%s", s);
	return 0;
}

static const char *const known_send[] = {
	"device",   "user",	    "topic",	       "all", "payload", "ttl",
	"priority", "collapse_key", "idempotency_key", NULL,
};

static bool
known(const char *const *list, const char *k)
{
	for (; *list != NULL; list++)
		if (k != NULL && strcmp(*list, k) == 0)
			return true;
	return false;
}

static int
parse_send(const cJSON *o, const struct push_api_limits *lim,
	   struct push_send *s, char *err, size_t errlen)
{
	static const char *const tnames[] = { "device", "user", "topic" };
	static const enum push_target tkinds[] = { PUSH_TO_DEVICE, PUSH_TO_USER,
						   PUSH_TO_TOPIC };
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(o, "all");
	const cJSON *payload = cJSON_GetObjectItemCaseSensitive(o, "payload");
	uint32_t prio = 10;
	int ntargets = 0, rc;

	for (const cJSON *c = o->child; c != NULL; c = c->next)
		if (!known(known_send, c->string))
			return lb_errf(err, errlen, -EINVAL,
				       "unknown field '%s'",
				       c->string != NULL ? c->string : "");
	for (size_t i = 0; i < 3; i++) {
		if (cJSON_GetObjectItemCaseSensitive(o, tnames[i]) == NULL)
			continue;
		rc = get_str(o, tnames[i], true, PUSH_NAME_MAX, s->target, err,
			     errlen);
		if (rc < 0)
			return rc;
		s->kind = tkinds[i];
		ntargets++;
	}
	if (all != NULL) {
		if (!cJSON_IsTrue(all))
			return lb_errf(err, errlen, -EINVAL,
				       "all: expected true");
		s->kind = PUSH_TO_ALL;
		ntargets++;
	}
	if (ntargets != 1)
		return lb_errf(err, errlen, -EINVAL,
			       "expected exactly one of device, user, topic, "
			       "all");
	if (payload == NULL)
		return lb_errf(err, errlen, -EINVAL, "payload missing");
	if (depth(payload, 0) > JSON_DEPTH_MAX)
		return lb_errf(err, errlen, -EINVAL,
			       "payload: nested deeper than %d",
			       JSON_DEPTH_MAX);
	s->ttl_s = lim->default_ttl;
	rc = get_uint(o, "ttl", 1, lim->max_ttl, &s->ttl_s, err, errlen);
	if (rc == 0)
		rc = get_uint(o, "priority", 5, 10, &prio, err, errlen);
	if (rc == 0 && prio != 5 && prio != 10)
		rc = lb_errf(err, errlen, -EINVAL,
			     "priority: expected 5 or 10");
	if (rc == 0)
		rc = get_str(o, "collapse_key", false, PUSH_NAME_MAX,
			     s->collapse_key, err, errlen);
	if (rc == 0)
		rc = get_str(o, "idempotency_key", false, PUSH_IDEM_MAX,
			     s->idem_key, err, errlen);
	if (rc < 0)
		return rc;
	s->priority = (uint8_t)prio;
	s->payload = cJSON_PrintUnformatted(payload);
	if (s->payload == NULL)
		return -ENOMEM;
	s->len = strlen(s->payload);
	if (s->len > lim->max_payload)
		return lb_errf(err, errlen, -EINVAL,
			       "payload: %zu bytes, more than %u", s->len,
			       lim->max_payload);
	return 0;
}

/* The body as a JSON object: the root, or NULL with err set. */
static cJSON *
parse_object(const char *body, size_t len, char *err, size_t errlen)
{
	cJSON *root;

	if (len == 0) {
		lb_errf(err, errlen, -EINVAL, "empty body");
		return NULL;
	}
	root = cJSON_ParseWithLength(body, len);
	if (root == NULL) {
		lb_errf(err, errlen, -EINVAL, "not JSON");
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		lb_errf(err, errlen, -EINVAL, "expected a JSON object");
		return NULL;
	}
	return root;
}

int
push_api_parse_send(const char *body, size_t len,
		    const struct push_api_limits *lim, struct push_send *s,
		    char *err, size_t errlen)
{
	cJSON *root;
	int rc;

	memset(s, 0, sizeof(*s));
	root = parse_object(body, len, err, errlen);
	if (root == NULL)
		return -EINVAL;
	rc = parse_send(root, lim, s, err, errlen);
	cJSON_Delete(root);
	if (rc < 0)
		push_send_release(s);
	return rc;
}

void
push_send_release(struct push_send *s)
{
	cJSON_free(s->payload);
	s->payload = NULL;
	s->len = 0;
}

int
push_api_parse_names(const char *body, size_t len, const char *const *names,
		     char (*out)[PUSH_NAME_MAX + 1], size_t n, uint32_t *ttl,
		     char *err, size_t errlen)
{
	cJSON *root = parse_object(body, len, err, errlen);
	int rc = 0;

	if (root == NULL)
		return -EINVAL;
	for (const cJSON *c = root->child; c != NULL && rc == 0; c = c->next) {
		bool ok = ttl != NULL && c->string != NULL &&
			  strcmp(c->string, "ttl") == 0;

		for (size_t i = 0; i < n && !ok; i++)
			ok = c->string != NULL &&
			     strcmp(c->string, names[i]) == 0;
		if (!ok)
			rc = lb_errf(err, errlen, -EINVAL, "unknown field '%s'",
				     c->string != NULL ? c->string : "");
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		out[i][0] = '\0';
		rc = get_str(root, names[i], true, PUSH_NAME_MAX, out[i], err,
			     errlen);
		if (rc == 0 && out[i][0] == '\0')
			rc = lb_errf(err, errlen, -EINVAL, "%s missing",
				     names[i]);
	}
	if (rc == 0 && ttl != NULL)
		rc = get_uint(root, "ttl", 1, PUSH_TTL_LIMIT, ttl, err, errlen);
	cJSON_Delete(root);
	return rc;
}

int
push_api_parse_vendor(const char *body, size_t len,
		      char vendor[PUSH_VENDOR_MAX + 1],
		      char token[PUSH_VENDOR_TOKEN_MAX + 1], char *err,
		      size_t errlen)
{
	cJSON *root = parse_object(body, len, err, errlen);
	const char *v, *t;
	int rc = 0;

	if (root == NULL)
		return -EINVAL;
	for (const cJSON *c = root->child; c != NULL && rc == 0; c = c->next)
		if (c->string == NULL || (strcmp(c->string, "vendor") != 0 &&
					  strcmp(c->string, "token") != 0))
			rc = lb_errf(err, errlen, -EINVAL, "unknown field '%s'",
				     c->string != NULL ? c->string : "");
	v = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(root, "vendor"));
	t = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(root, "token"));
	if (rc == 0 &&
	    (v == NULL || v[0] == '\0' || strlen(v) > PUSH_VENDOR_MAX ||
	     strspn(v, "abcdefghijklmnopqrstuvwxyz") != strlen(v)))
		rc = lb_errf(err, errlen, -EINVAL,
			     "vendor: expected 1..%d lower-case letters",
			     PUSH_VENDOR_MAX);
	if (rc == 0 && !push_api_text_valid(t, PUSH_VENDOR_TOKEN_MAX))
		rc = lb_errf(err, errlen, -EINVAL,
			     "token: expected 1..%d printable ASCII characters",
			     PUSH_VENDOR_TOKEN_MAX);
	if (rc == 0) {
		snprintf(vendor, PUSH_VENDOR_MAX + 1, "%s", v);
		snprintf(token, PUSH_VENDOR_TOKEN_MAX + 1, "%s", t);
	}
	cJSON_Delete(root);
	return rc;
}
