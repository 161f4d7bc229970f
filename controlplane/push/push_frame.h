/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device protocol's frames (docs/push.md, "Device protocol"): an
 * 8-byte header (version, type, flags, length) and a typed body. One
 * decoder and one encoder per frame, shared by the server and the
 * reference client. The decoder never reads outside the bytes it is
 * given and leaves pointers into them (no copies).
 */
#ifndef EDGELBD_PUSH_FRAME_H
#define EDGELBD_PUSH_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PUSH_PROTO_VERSION   1
#define PUSH_HDR_LEN	     8
#define PUSH_ID_BYTES	     16
#define PUSH_ID_TEXT	     36 /* 8-4-4-4-12 hex, without the NUL */
#define PUSH_NAME_MAX	     64 /* device id, user id, collapse key, topic */
#define PUSH_PLATFORM_MAX    32
#define PUSH_APP_MAX	     64
#define PUSH_REASON_MAX	     256
#define PUSH_ACK_MAX	     256 /* ids in one ACK */
#define PUSH_TOKEN_BYTES     32
#define PUSH_FRAME_SLACK     256 /* body bytes besides a MESSAGE's payload */
#define PUSH_PAYLOAD_DEFAULT 4096
#define PUSH_PAYLOAD_LIMIT   (1u << 20)

#define PUSH_F_REDELIVERY 0x1u

enum push_type {
	PUSH_T_HELLO = 1,
	PUSH_T_WELCOME = 2,
	PUSH_T_BIND = 3,
	PUSH_T_BOUND = 4,
	PUSH_T_MESSAGE = 5,
	PUSH_T_ACK = 6,
	PUSH_T_PING = 7,
	PUSH_T_PONG = 8,
	PUSH_T_ERROR = 9,
};

enum push_err {
	PUSH_E_BAD_FRAME = 1,
	PUSH_E_VERSION = 2,
	PUSH_E_TOO_LARGE = 3,
	PUSH_E_NOT_REGISTERED = 4,
	PUSH_E_BAD_TOKEN = 5,
	PUSH_E_EXPIRED_TOKEN = 6,
	PUSH_E_BUSY = 7,
	PUSH_E_UNKNOWN_TYPE = 8,
	PUSH_E_INTERNAL = 9,
};

struct push_hdr {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t len; /* body bytes */
};

/* A string inside a frame: not NUL-terminated. */
struct push_str {
	const char *p;
	size_t n;
};

struct push_frame {
	struct push_hdr h;
	union {
		struct {
			struct push_str device, platform, app;
			uint64_t resume;
		} hello;
		struct {
			uint32_t heartbeat_s, max_payload;
			uint64_t time_ms;
		} welcome;
		struct {
			struct push_str user;
			uint64_t expiry;
			const uint8_t *token; /* PUSH_TOKEN_BYTES */
		} bind;
		struct {
			struct push_str user;
		} bound;
		struct {
			const uint8_t *id; /* PUSH_ID_BYTES */
			uint64_t seq, time_ms;
			uint32_t ttl_s;
			uint8_t priority;
			struct push_str collapse_key;
			const uint8_t *payload;
			size_t len;
		} msg;
		struct {
			size_t n;
			const uint8_t *ids; /* n * PUSH_ID_BYTES */
		} ack;
		struct {
			uint16_t code;
			struct push_str reason;
		} error;
	} u;
};

/*
 * The header at buf. 0; -EAGAIN (fewer than PUSH_HDR_LEN bytes);
 * -EPROTONOSUPPORT (version not 1); -EMSGSIZE (length over max_body).
 */
int push_hdr_parse(const uint8_t *buf, size_t len, uint32_t max_body,
		   struct push_hdr *h);

/*
 * The body of a frame whose header is h (body: h->len bytes) into f.
 * 0; -EBADMSG (a field runs past the end, bytes left over, a length or
 * name out of its bounds, an empty ACK); -ENOTSUP (unknown type: f->h
 * is still filled).
 */
int push_frame_decode(const struct push_hdr *h, const uint8_t *body,
		      struct push_frame *f);

/* A device id, user id or topic: 1..PUSH_NAME_MAX of [A-Za-z0-9._:-]. */
bool push_name_valid(const char *p, size_t n);

/*
 * Encoders: the whole frame (header and body) into out (cap bytes).
 * The frame's length, or -EMSGSIZE (does not fit or a field over its
 * bound), -EINVAL.
 */
int push_enc_hello(uint8_t *out, size_t cap, const char *device,
		   const char *platform, const char *app, uint64_t resume);
int push_enc_welcome(uint8_t *out, size_t cap, uint32_t heartbeat_s,
		     uint32_t max_payload, uint64_t time_ms);
int push_enc_bind(uint8_t *out, size_t cap, const char *user, uint64_t expiry,
		  const uint8_t token[PUSH_TOKEN_BYTES]);
int push_enc_bound(uint8_t *out, size_t cap, const char *user);
int push_enc_message(uint8_t *out, size_t cap, uint16_t flags,
		     const uint8_t id[PUSH_ID_BYTES], uint64_t seq,
		     uint64_t time_ms, uint32_t ttl_s, uint8_t priority,
		     const char *collapse_key, const void *payload, size_t len);
int push_enc_ack(uint8_t *out, size_t cap, const uint8_t *ids, size_t n);
int push_enc_empty(uint8_t *out, size_t cap, uint8_t type); /* PING/PONG */
int push_enc_error(uint8_t *out, size_t cap, uint16_t code, const char *reason);

/* "bad_frame" for PUSH_E_BAD_FRAME, ... "unknown" otherwise. */
const char *push_err_name(uint16_t code);

/* Message ids: 16 bytes <-> "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". */
void push_id_format(const uint8_t id[PUSH_ID_BYTES],
		    char out[PUSH_ID_TEXT + 1]);
int push_id_parse(const char *s, uint8_t id[PUSH_ID_BYTES]); /* 0/-EINVAL */
/* A random version-4 id. 0 or -EIO. */
int push_id_new(uint8_t id[PUSH_ID_BYTES]);

#endif
