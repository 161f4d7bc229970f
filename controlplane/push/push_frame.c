/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device protocol's frame codec (see push_frame.h). The decoder walks
 * a cursor over the body with a bounds check before every read.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "push_frame.h"

/* ---- decoding ------------------------------------------------------------ */

struct cur {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static const uint8_t *
take(struct cur *c, size_t n)
{
	const uint8_t *p = c->p;

	if (c->bad || n > c->left) {
		c->bad = true;
		return NULL;
	}
	c->p += n;
	c->left -= n;
	return p;
}

static uint64_t
get_be(struct cur *c, size_t n)
{
	const uint8_t *p = take(c, n);
	uint64_t v = 0;

	for (size_t i = 0; p != NULL && i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void
get_str(struct cur *c, size_t max, struct push_str *s)
{
	size_t n = (size_t)get_be(c, 2);
	const uint8_t *p;

	if (n > max)
		c->bad = true;
	p = take(c, n);
	s->p = (const char *)p;
	s->n = p != NULL ? n : 0;
}

bool
push_name_valid(const char *p, size_t n)
{
	if (p == NULL || n == 0 || n > PUSH_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == ':' || ch == '-'))
			return false;
	}
	return true;
}

/* Printable ASCII (platform, app, reasons, collapse keys). */
static bool
text_valid(const struct push_str *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->p[i] < 0x20 || s->p[i] > 0x7e)
			return false;
	return true;
}

int
push_hdr_parse(const uint8_t *buf, size_t len, uint32_t max_body,
	       struct push_hdr *h)
{
	if (len < PUSH_HDR_LEN)
		return -EAGAIN;
	h->version = buf[0];
	h->type = buf[1];
	h->flags = (uint16_t)(buf[2] << 8 | buf[3]);
	h->len = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 |
		 (uint32_t)buf[6] << 8 | buf[7];
	if (h->version != PUSH_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (h->len > max_body)
		return -EMSGSIZE;
	return 0;
}

int
push_frame_decode(const struct push_hdr *h, const uint8_t *body,
		  struct push_frame *f)
{
	struct cur c = { body, h->len, false };

	memset(f, 0, sizeof(*f));
	f->h = *h;
	switch (h->type) {
	case PUSH_T_HELLO:
		get_str(&c, PUSH_NAME_MAX, &f->u.hello.device);
		get_str(&c, PUSH_PLATFORM_MAX, &f->u.hello.platform);
		get_str(&c, PUSH_APP_MAX, &f->u.hello.app);
		f->u.hello.resume = get_be(&c, 8);
		if (!c.bad && (!push_name_valid(f->u.hello.device.p,
						f->u.hello.device.n) ||
			       !text_valid(&f->u.hello.platform) ||
			       !text_valid(&f->u.hello.app)))
			c.bad = true;
		break;
	case PUSH_T_WELCOME:
		f->u.welcome.heartbeat_s = (uint32_t)get_be(&c, 4);
		f->u.welcome.max_payload = (uint32_t)get_be(&c, 4);
		f->u.welcome.time_ms = get_be(&c, 8);
		break;
	case PUSH_T_BIND:
		get_str(&c, PUSH_NAME_MAX, &f->u.bind.user);
		f->u.bind.expiry = get_be(&c, 8);
		f->u.bind.token = take(&c, PUSH_TOKEN_BYTES);
		if (!c.bad &&
		    !push_name_valid(f->u.bind.user.p, f->u.bind.user.n))
			c.bad = true;
		break;
	case PUSH_T_BOUND:
		get_str(&c, PUSH_NAME_MAX, &f->u.bound.user);
		break;
	case PUSH_T_MESSAGE:
		f->u.msg.id = take(&c, PUSH_ID_BYTES);
		f->u.msg.seq = get_be(&c, 8);
		f->u.msg.time_ms = get_be(&c, 8);
		f->u.msg.ttl_s = (uint32_t)get_be(&c, 4);
		f->u.msg.priority = (uint8_t)get_be(&c, 1);
		get_str(&c, PUSH_NAME_MAX, &f->u.msg.collapse_key);
		if (!c.bad) {
			f->u.msg.payload = c.p;
			f->u.msg.len = c.left;
			take(&c, c.left);
		}
		break;
	case PUSH_T_ACK:
		f->u.ack.n = (size_t)get_be(&c, 2);
		if (f->u.ack.n == 0 || f->u.ack.n > PUSH_ACK_MAX)
			c.bad = true;
		f->u.ack.ids = take(&c, f->u.ack.n * PUSH_ID_BYTES);
		break;
	case PUSH_T_PING:
	case PUSH_T_PONG:
		break;
	case PUSH_T_ERROR:
		f->u.error.code = (uint16_t)get_be(&c, 2);
		get_str(&c, PUSH_REASON_MAX, &f->u.error.reason);
		break;
	default:
		return -ENOTSUP;
	}
	if (c.bad || c.left != 0)
		return -EBADMSG;
	return 0;
}

/* ---- encoding ------------------------------------------------------------ */

struct out {
	uint8_t *p;
	size_t cap, len;
	bool bad;
};

static void
put(struct out *o, const void *p, size_t n)
{
	if (o->bad || n > o->cap - o->len) {
		o->bad = true;
		return;
	}
	if (n > 0)
		memcpy(o->p + o->len, p, n);
	o->len += n;
}

static void
put_be(struct out *o, uint64_t v, size_t n)
{
	uint8_t b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	put(o, b, n);
}

static void
put_str(struct out *o, const char *s, size_t max)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n > max) {
		o->bad = true;
		return;
	}
	put_be(o, n, 2);
	put(o, s, n);
}

static void
begin(struct out *o, uint8_t *buf, size_t cap, uint8_t type, uint16_t flags)
{
	o->p = buf;
	o->cap = cap;
	o->len = 0;
	o->bad = false;
	put_be(o, PUSH_PROTO_VERSION, 1);
	put_be(o, type, 1);
	put_be(o, flags, 2);
	put_be(o, 0, 4); /* length, set by finish */
}

static int
finish(struct out *o)
{
	size_t body = o->len - PUSH_HDR_LEN;

	if (o->bad || o->len > INT32_MAX)
		return -EMSGSIZE;
	o->p[4] = (uint8_t)(body >> 24);
	o->p[5] = (uint8_t)(body >> 16);
	o->p[6] = (uint8_t)(body >> 8);
	o->p[7] = (uint8_t)body;
	return (int)o->len;
}

int
push_enc_hello(uint8_t *buf, size_t cap, const char *device,
	       const char *platform, const char *app, uint64_t resume)
{
	struct out o;

	if (device == NULL || !push_name_valid(device, strlen(device)))
		return -EINVAL;
	begin(&o, buf, cap, PUSH_T_HELLO, 0);
	put_str(&o, device, PUSH_NAME_MAX);
	put_str(&o, platform, PUSH_PLATFORM_MAX);
	put_str(&o, app, PUSH_APP_MAX);
	put_be(&o, resume, 8);
	return finish(&o);
}

int
push_enc_welcome(uint8_t *buf, size_t cap, uint32_t heartbeat_s,
		 uint32_t max_payload, uint64_t time_ms)
{
	struct out o;

	begin(&o, buf, cap, PUSH_T_WELCOME, 0);
	put_be(&o, heartbeat_s, 4);
	put_be(&o, max_payload, 4);
	put_be(&o, time_ms, 8);
	return finish(&o);
}

int
push_enc_bind(uint8_t *buf, size_t cap, const char *user, uint64_t expiry,
	      const uint8_t token[PUSH_TOKEN_BYTES])
{
	struct out o;

	if (user == NULL || !push_name_valid(user, strlen(user)))
		return -EINVAL;
	begin(&o, buf, cap, PUSH_T_BIND, 0);
	put_str(&o, user, PUSH_NAME_MAX);
	put_be(&o, expiry, 8);
	put(&o, token, PUSH_TOKEN_BYTES);
	return finish(&o);
}

int
push_enc_bound(uint8_t *buf, size_t cap, const char *user)
{
	struct out o;

	begin(&o, buf, cap, PUSH_T_BOUND, 0);
	put_str(&o, user, PUSH_NAME_MAX);
	return finish(&o);
}

int
push_enc_message(uint8_t *buf, size_t cap, uint16_t flags,
		 const uint8_t id[PUSH_ID_BYTES], uint64_t seq,
		 uint64_t time_ms, uint32_t ttl_s, uint8_t priority,
		 const char *collapse_key, const void *payload, size_t len)
{
	struct out o;

	begin(&o, buf, cap, PUSH_T_MESSAGE, flags);
	put(&o, id, PUSH_ID_BYTES);
	put_be(&o, seq, 8);
	put_be(&o, time_ms, 8);
	put_be(&o, ttl_s, 4);
	put_be(&o, priority, 1);
	put_str(&o, collapse_key, PUSH_NAME_MAX);
	put(&o, payload, len);
	return finish(&o);
}

int
push_enc_ack(uint8_t *buf, size_t cap, const uint8_t *ids, size_t n)
{
	struct out o;

	if (n == 0 || n > PUSH_ACK_MAX)
		return -EINVAL;
	begin(&o, buf, cap, PUSH_T_ACK, 0);
	put_be(&o, n, 2);
	put(&o, ids, n * PUSH_ID_BYTES);
	return finish(&o);
}

int
push_enc_empty(uint8_t *buf, size_t cap, uint8_t type)
{
	struct out o;

	begin(&o, buf, cap, type, 0);
	return finish(&o);
}

int
push_enc_error(uint8_t *buf, size_t cap, uint16_t code, const char *reason)
{
	struct out o;

	begin(&o, buf, cap, PUSH_T_ERROR, 0);
	put_be(&o, code, 2);
	put_str(&o, reason, PUSH_REASON_MAX);
	return finish(&o);
}

const char *
push_err_name(uint16_t code)
{
	static const char *const names[] = {
		[PUSH_E_BAD_FRAME] = "bad_frame",
		[PUSH_E_VERSION] = "version",
		[PUSH_E_TOO_LARGE] = "too_large",
		[PUSH_E_NOT_REGISTERED] = "not_registered",
		[PUSH_E_BAD_TOKEN] = "bad_token",
		[PUSH_E_EXPIRED_TOKEN] = "expired_token",
		[PUSH_E_BUSY] = "busy",
		[PUSH_E_UNKNOWN_TYPE] = "unknown_type",
		[PUSH_E_INTERNAL] = "internal",
	};

	if (code < sizeof(names) / sizeof(names[0]) && names[code] != NULL)
		return names[code];
	return "unknown";
}

/* ---- ids ------------------------------------------------------------------- */

void
push_id_format(const uint8_t id[PUSH_ID_BYTES], char out[PUSH_ID_TEXT + 1])
{
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;

	for (size_t i = 0; i < PUSH_ID_BYTES; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		out[k++] = hex[id[i] >> 4];
		out[k++] = hex[id[i] & 0xf];
	}
	out[k] = '\0';
}

static int
hexval(char ch)
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
push_id_parse(const char *s, uint8_t id[PUSH_ID_BYTES])
{
	size_t k = 0;

	if (s == NULL || strlen(s) != PUSH_ID_TEXT)
		return -EINVAL;
	for (size_t i = 0; i < PUSH_ID_BYTES; i++) {
		int hi, lo;

		if (i == 4 || i == 6 || i == 8 || i == 10) {
			if (s[k++] != '-')
				return -EINVAL;
		}
		hi = hexval(s[k++]);
		lo = hexval(s[k++]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		id[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
push_id_new(uint8_t id[PUSH_ID_BYTES])
{
	if (getrandom(id, PUSH_ID_BYTES, 0) != PUSH_ID_BYTES)
		return -EIO;
	id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);
	id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
	return 0;
}
