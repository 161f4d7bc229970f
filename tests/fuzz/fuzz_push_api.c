/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the push business API's request bodies: the
 * first byte picks the parser (a message, a binding, a token request, a
 * vendor token),
 * the rest is the body. An accepted message must respect every bound
 * (target name, payload size, TTL, priority, keys); anything else must
 * be refused with a reason, never crash or leak.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "push_api.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct push_api_limits lim = { 256, 60, 3600 };
	static const char *const names[] = { "user", "device" };
	char v[2][PUSH_NAME_MAX + 1], err[160];
	char vendor[PUSH_VENDOR_MAX + 1], token[PUSH_VENDOR_TOKEN_MAX + 1];
	struct push_send s;
	uint32_t ttl = 10;
	char *body;
	int rc;

	if (size == 0)
		return 0;
	body = malloc(size - 1 != 0 ? size - 1 : 1);
	if (body == NULL)
		abort();
	memcpy(body, data + 1, size - 1);
	err[0] = '\0';
	switch (data[0] % 4) {
	case 0:
		rc = push_api_parse_send(body, size - 1, &lim, &s, err,
					 sizeof(err));
		if (rc == 0) {
			if (s.len > lim.max_payload ||
			    strlen(s.payload) != s.len || s.ttl_s < 1 ||
			    s.ttl_s > lim.max_ttl ||
			    (s.priority != 5 && s.priority != 10) ||
			    (s.kind != PUSH_TO_ALL &&
			     !push_name_valid(s.target, strlen(s.target))) ||
			    strlen(s.collapse_key) > PUSH_NAME_MAX ||
			    strlen(s.idem_key) > PUSH_IDEM_MAX)
				abort();
			push_send_release(&s);
		} else if (err[0] == '\0' && rc != -ENOMEM) {
			abort(); /* refused without a reason */
		}
		break;
	case 1:
		rc = push_api_parse_names(body, size - 1, names, v, 2, NULL,
					  err, sizeof(err));
		if (rc == 0 && (!push_name_valid(v[0], strlen(v[0])) ||
				!push_name_valid(v[1], strlen(v[1]))))
			abort();
		break;
	case 3:
		rc = push_api_parse_vendor(body, size - 1, vendor, token, err,
					   sizeof(err));
		if (rc == 0 &&
		    (strlen(vendor) == 0 || strlen(vendor) > PUSH_VENDOR_MAX ||
		     !push_api_text_valid(token, PUSH_VENDOR_TOKEN_MAX)))
			abort();
		break;
	default:
		rc = push_api_parse_names(body, size - 1, names, v, 2, &ttl,
					  err, sizeof(err));
		if (rc == 0 && (ttl < 1 || ttl > PUSH_TTL_LIMIT))
			abort();
		break;
	}
	free(body);
	return 0;
}
