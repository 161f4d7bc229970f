/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Bind tokens (see push_token.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "push_token.h"

int
push_token_make(const char *secret, const char *device, const char *user,
		uint64_t expiry, uint8_t out[PUSH_TOKEN_BYTES])
{
	char msg[2 * PUSH_NAME_MAX + 32];
	unsigned int len = 0;
	int n;

	if (secret == NULL || secret[0] == '\0' || device == NULL ||
	    user == NULL || device[0] == '\0' || user[0] == '\0')
		return -EINVAL;
	n = snprintf(msg, sizeof(msg), "%s\n%s\n%" PRIu64, device, user,
		     expiry);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -EINVAL;
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret),
		 (const unsigned char *)msg, (size_t)n, out, &len) == NULL ||
	    len != PUSH_TOKEN_BYTES)
		return -EIO;
	return 0;
}

int
push_token_check(const char *secret, const char *device, const char *user,
		 uint64_t expiry, const uint8_t token[PUSH_TOKEN_BYTES],
		 uint64_t now)
{
	uint8_t want[PUSH_TOKEN_BYTES];
	int rc;

	if (expiry < now)
		return -EKEYEXPIRED;
	rc = push_token_make(secret, device, user, expiry, want);
	if (rc < 0)
		return -EACCES;
	if (CRYPTO_memcmp(want, token, PUSH_TOKEN_BYTES) != 0)
		return -EACCES;
	return 0;
}

void
push_token_hex(const uint8_t t[PUSH_TOKEN_BYTES], char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < PUSH_TOKEN_BYTES; i++) {
		out[2 * i] = hex[t[i] >> 4];
		out[2 * i + 1] = hex[t[i] & 0xf];
	}
	out[2 * PUSH_TOKEN_BYTES] = '\0';
}

static int
nib(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int
push_token_unhex(const char *s, uint8_t t[PUSH_TOKEN_BYTES])
{
	if (s == NULL || strlen(s) != 2 * PUSH_TOKEN_BYTES)
		return -EINVAL;
	for (size_t i = 0; i < PUSH_TOKEN_BYTES; i++) {
		int hi = nib(s[2 * i]), lo = nib(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		t[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
