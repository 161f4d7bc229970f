/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the push device protocol's frame parser: the
 * input is a byte stream cut into frames as the server cuts it (header,
 * then the body once complete). Each body is copied into a buffer of
 * exactly its size so an over-read shows under ASan; every accepted
 * frame is walked field by field, encoded again from what was decoded
 * and must come out byte for byte the same (one encoder, one decoder).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "push_frame.h"

#define MAX_BODY (4096 + PUSH_FRAME_SLACK)

static volatile size_t sink;

static void
touch(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		sink += b[i];
}

/* Encode f again into out; its length, or -1 for types without one. */
static int
reencode(const struct push_frame *f, uint8_t *out, size_t cap)
{
	char a[PUSH_NAME_MAX + 1], b[PUSH_APP_MAX + 1], c[PUSH_APP_MAX + 1];
	char r[PUSH_REASON_MAX + 1];

	switch (f->h.type) {
	case PUSH_T_HELLO:
		memcpy(a, f->u.hello.device.p, f->u.hello.device.n);
		a[f->u.hello.device.n] = '\0';
		memcpy(b, f->u.hello.platform.p, f->u.hello.platform.n);
		b[f->u.hello.platform.n] = '\0';
		memcpy(c, f->u.hello.app.p, f->u.hello.app.n);
		c[f->u.hello.app.n] = '\0';
		return push_enc_hello(out, cap, a, b, c, f->u.hello.resume);
	case PUSH_T_BIND:
		memcpy(a, f->u.bind.user.p, f->u.bind.user.n);
		a[f->u.bind.user.n] = '\0';
		return push_enc_bind(out, cap, a, f->u.bind.expiry,
				     f->u.bind.token);
	case PUSH_T_ACK:
		return push_enc_ack(out, cap, f->u.ack.ids, f->u.ack.n);
	case PUSH_T_WELCOME:
		return push_enc_welcome(out, cap, f->u.welcome.heartbeat_s,
					f->u.welcome.max_payload,
					f->u.welcome.time_ms);
	case PUSH_T_PING:
	case PUSH_T_PONG:
		return push_enc_empty(out, cap, f->h.type);
	case PUSH_T_ERROR:
		if (memchr(f->u.error.reason.p, 0, f->u.error.reason.n))
			return -1; /* a NUL cannot go through a C string */
		memcpy(r, f->u.error.reason.p, f->u.error.reason.n);
		r[f->u.error.reason.n] = '\0';
		return push_enc_error(out, cap, f->u.error.code, r);
	default:
		return -1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[PUSH_HDR_LEN + MAX_BODY + 64];

	while (size > 0) {
		struct push_frame f;
		struct push_hdr h;
		uint8_t *body;
		int rc = push_hdr_parse(data, size, MAX_BODY, &h);
		int n;

		if (rc < 0 || size - PUSH_HDR_LEN < h.len)
			return 0; /* the server closes or waits */
		body = malloc(h.len != 0 ? h.len : 1);
		if (body == NULL)
			abort();
		memcpy(body, data + PUSH_HDR_LEN, h.len);
		rc = push_frame_decode(&h, body, &f);
		if (rc == 0) {
			switch (h.type) {
			case PUSH_T_HELLO:
				if (!push_name_valid(f.u.hello.device.p,
						     f.u.hello.device.n))
					abort();
				touch(f.u.hello.platform.p,
				      f.u.hello.platform.n);
				touch(f.u.hello.app.p, f.u.hello.app.n);
				break;
			case PUSH_T_MESSAGE:
				touch(f.u.msg.id, PUSH_ID_BYTES);
				touch(f.u.msg.collapse_key.p,
				      f.u.msg.collapse_key.n);
				touch(f.u.msg.payload, f.u.msg.len);
				break;
			case PUSH_T_BIND:
				touch(f.u.bind.token, PUSH_TOKEN_BYTES);
				break;
			case PUSH_T_ACK:
				if (f.u.ack.n == 0 || f.u.ack.n > PUSH_ACK_MAX)
					abort();
				touch(f.u.ack.ids, f.u.ack.n * PUSH_ID_BYTES);
				break;
			default:
				break;
			}
			n = reencode(&f, out, sizeof(out));
			if (n >= 0 &&
			    ((size_t)n != PUSH_HDR_LEN + h.len ||
			     memcmp(out + PUSH_HDR_LEN, body, h.len) != 0 ||
			     out[1] != h.type))
				abort();
		}
		free(body);
		data += PUSH_HDR_LEN + h.len;
		size -= PUSH_HDR_LEN + h.len;
	}
	return 0;
}
