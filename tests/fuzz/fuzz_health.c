/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the health checks' response parsing
 * (hc_http_verdict, hc_udp_verdict in controlplane/health.c).
 *
 * Input: one control byte, then the response. The control byte picks
 * the expected body ("" or "ok") and the expected status (200 or 404).
 * The response is offered in a buffer of exactly its size (no NUL after
 * it, so ASan sees any read past the end), as a partial response and as
 * a final one, and each of its prefixes at a few cut points too.
 *
 * Checked: a verdict is one of the three; a final verdict is never MORE;
 * a failure always says why; a decision taken on a prefix (not final)
 * stands when the rest of the response arrives; an OK verdict really has
 * "HTTP/x.y SSS" with the expected status at the start. The UDP verdict
 * is checked against a naive search.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"

static enum hc_verdict
verdict(const uint8_t *data, size_t len, bool final, unsigned int status,
	const char *body)
{
	char why[96];
	char *buf = malloc(len > 0 ? len : 1);
	enum hc_verdict v;

	if (buf == NULL)
		abort();
	memcpy(buf, data, len);
	memset(why, 0, sizeof(why));
	v = hc_http_verdict(buf, len, final, status, body, why, sizeof(why));
	free(buf);
	if (v != HC_VERDICT_OK && v != HC_VERDICT_FAIL && v != HC_VERDICT_MORE)
		__builtin_trap();
	if (final && v == HC_VERDICT_MORE)
		__builtin_trap();
	if (v == HC_VERDICT_FAIL && (why[0] == '\0' || strnlen(why, 96) == 96))
		__builtin_trap();
	if (v == HC_VERDICT_OK) {
		/* "HTTP/" then the status as three digits somewhere after
		 * the version and before the first CR */
		char want[4] = { (char)('0' + status / 100),
				 (char)('0' + status / 10 % 10),
				 (char)('0' + status % 10), 0 };
		const uint8_t *cr = memchr(data, '\r', len);

		if (len < 12 || memcmp(data, "HTTP/", 5) != 0 || cr == NULL ||
		    memmem(data, (size_t)(cr - data), want, 3) == NULL)
			__builtin_trap();
	}
	return v;
}

static bool
naive_contains(const uint8_t *h, size_t hl, const uint8_t *n, size_t nl)
{
	if (nl == 0)
		return true;
	for (size_t i = 0; i + nl <= hl; i++)
		if (memcmp(h + i, n, nl) == 0)
			return true;
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body;
	unsigned int status;
	enum hc_verdict full;
	char why[96];

	if (size < 1)
		return 0;
	body = (data[0] & 1) ? "ok" : "";
	status = (data[0] & 2) ? 404 : 200;
	data++;
	size--;

	full = verdict(data, size, false, status, body);
	verdict(data, size, true, status, body);
	for (unsigned int k = 1; k <= 4; k++) {
		size_t cut = size * k / 5;
		enum hc_verdict v = verdict(data, cut, false, status, body);

		if (v != HC_VERDICT_MORE && v != full)
			__builtin_trap(); /* more data changed a decision */
	}

	/* UDP: the first byte is the length of the expected bytes */
	if (size > 0) {
		size_t el = data[0] % 8;
		const uint8_t *exp = data + 1;
		uint8_t *buf;
		bool want;

		if (el > size - 1)
			el = size - 1;
		buf = malloc(size - 1 - el + 1);
		if (buf == NULL)
			abort();
		memcpy(buf, exp + el, size - 1 - el);
		want = naive_contains(buf, size - 1 - el, exp, el);
		if ((hc_udp_verdict(buf, size - 1 - el, exp, el, why,
				    sizeof(why)) == HC_VERDICT_OK) != want)
			__builtin_trap();
		free(buf);
	}
	return 0;
}
