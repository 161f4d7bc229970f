/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Bind tokens (docs/push.md, BIND): the business server proves that a
 * device may bind to a user with
 *   HMAC-SHA256(secret, device_id "\n" user_id "\n" expiry-in-decimal).
 */
#ifndef EDGELBD_PUSH_TOKEN_H
#define EDGELBD_PUSH_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "push_frame.h"

/* The token. 0 or -EINVAL (empty secret or names), -EIO (OpenSSL). */
int push_token_make(const char *secret, const char *device, const char *user,
		    uint64_t expiry, uint8_t out[PUSH_TOKEN_BYTES]);

/*
 * Check a token at time now (Unix seconds): 0; -EKEYEXPIRED (expiry
 * before now, whatever the token); -EACCES (it does not match).
 * Compared in constant time.
 */
int push_token_check(const char *secret, const char *device, const char *user,
		     uint64_t expiry, const uint8_t token[PUSH_TOKEN_BYTES],
		     uint64_t now);

/* Hex: out has 2 * PUSH_TOKEN_BYTES + 1 bytes. Parse: 0 or -EINVAL. */
void push_token_hex(const uint8_t t[PUSH_TOKEN_BYTES], char *out);
int push_token_unhex(const char *s, uint8_t t[PUSH_TOKEN_BYTES]);

#endif
