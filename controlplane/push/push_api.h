/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The business API's request bodies (docs/push.md, "Business API"),
 * parsed with libcjson into plain structs and checked against the
 * configured bounds, without the server: the HTTP handler and the fuzz
 * target call the same functions.
 */
#ifndef EDGELBD_PUSH_API_H
#define EDGELBD_PUSH_API_H

#include <stddef.h>
#include <stdint.h>

#include "push_frame.h"
#include "push_store.h"

#define PUSH_IDEM_MAX  128
#define PUSH_TTL_LIMIT (30u * 86400u)

struct push_api_limits {
	uint32_t max_payload; /* bytes of the payload's compact JSON */
	uint32_t default_ttl; /* seconds */
	uint32_t max_ttl;
};

/* POST /push/v1/messages */
struct push_send {
	enum push_target kind;
	char target[PUSH_NAME_MAX + 1]; /* "" for PUSH_TO_ALL */
	uint32_t ttl_s;
	uint8_t priority; /* 5 or 10 */
	char collapse_key[PUSH_NAME_MAX + 1];
	char idem_key[PUSH_IDEM_MAX + 1];
	char *payload; /* malloc'd compact JSON text */
	size_t len;
};

/*
 * Parse and check a message request. 0, or -EINVAL with the reason in
 * err (not JSON, not an object, no or several targets, a field of the
 * wrong type or out of bounds, payload over max_payload), -ENOMEM.
 * On success release s with push_send_release.
 */
int push_api_parse_send(const char *body, size_t len,
			const struct push_api_limits *lim, struct push_send *s,
			char *err, size_t errlen);
void push_send_release(struct push_send *s);

/*
 * A body of named strings, each a valid name (push_name_valid), e.g.
 * {"user": U, "device": D}: names[i] into out[i] (PUSH_NAME_MAX + 1
 * bytes each). ttl, if not NULL, gets an optional "ttl" number
 * (1..PUSH_TTL_LIMIT, default *ttl). 0 or -EINVAL with err set.
 */
int push_api_parse_names(const char *body, size_t len, const char *const *names,
			 char (*out)[PUSH_NAME_MAX + 1], size_t n,
			 uint32_t *ttl, char *err, size_t errlen);

/*
 * {"vendor": NAME, "token": TOKEN}: a vendor name of 1..PUSH_VENDOR_MAX
 * lower-case letters and a token of 1..PUSH_VENDOR_TOKEN_MAX printable
 * ASCII characters into vendor and token. 0 or -EINVAL with err set.
 */
int push_api_parse_vendor(const char *body, size_t len,
			  char vendor[PUSH_VENDOR_MAX + 1],
			  char token[PUSH_VENDOR_TOKEN_MAX + 1], char *err,
			  size_t errlen);

/* Printable ASCII of 1..max bytes (keys, collapse keys). */
bool push_api_text_valid(const char *s, size_t max);

#endif
