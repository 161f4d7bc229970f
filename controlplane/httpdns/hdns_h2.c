/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HTTP/2 for the HttpDNS server, on libnghttp2: one session per
 * connection, one struct h2_stream per request. A request is answered
 * when its stream ends (HEADERS or DATA with END_STREAM); headers and
 * body are bounded as for HTTP/1.1 (431 and 413).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <nghttp2/nghttp2.h>

#include "hdns_conn.h"

#define OUTPUT_HIGH (256 * 1024)

struct h2_stream {
	struct hdns_hreq hr;
	size_t header_bytes;
	size_t body_cap;
	bool body_too_big;
	struct hdns_resp resp;
	size_t sent;
};

static void
stream_free(struct h2_stream *st)
{
	if (st == NULL)
		return;
	free(st->hr.body);
	hdns_resp_release(&st->resp);
	free(st);
}

static int
on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct h2_stream *st;

	(void)arg;
	if (f->hd.type != NGHTTP2_HEADERS ||
	    f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	nghttp2_session_set_stream_user_data(s, f->hd.stream_id, st);
	return 0;
}

static void
set(char *dst, size_t cap, const uint8_t *v, size_t len, bool *too_big)
{
	if (len >= cap) {
		*too_big = true;
		return;
	}
	memcpy(dst, v, len);
	dst[len] = '\0';
}

static int
on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
	  size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
	  void *arg)
{
	struct h2_stream *st =
		nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	struct hdns_hreq *hr;

	(void)flags;
	(void)arg;
	if (st == NULL || f->hd.type != NGHTTP2_HEADERS)
		return 0;
	hr = &st->hr;
	st->header_bytes += namelen + valuelen + 32;
	if (st->header_bytes > HDNS_MAX_HEADERS)
		hr->too_big = true;
#define IS(s) (namelen == sizeof(s) - 1 && memcmp(name, s, namelen) == 0)
	if (IS(":method"))
		set(hr->method, sizeof(hr->method), value, valuelen,
		    &hr->too_big);
	else if (IS(":path"))
		set(hr->target, sizeof(hr->target), value, valuelen,
		    &hr->too_big);
	else if (IS("content-type"))
		set(hr->content_type, sizeof(hr->content_type), value, valuelen,
		    &hr->too_big);
	else if (IS("accept"))
		set(hr->accept, sizeof(hr->accept), value, valuelen,
		    &hr->too_big);
	else if (IS("x-real-ip"))
		set(hr->x_real_ip, sizeof(hr->x_real_ip), value, valuelen,
		    &hr->too_big);
	else if (IS("x-forwarded-for"))
		set(hr->x_forwarded_for, sizeof(hr->x_forwarded_for), value,
		    valuelen, &hr->too_big);
#undef IS
	return 0;
}

static int
on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id,
	      const uint8_t *data, size_t len, void *arg)
{
	struct hdns_conn *c = arg;
	struct h2_stream *st = nghttp2_session_get_stream_user_data(s, id);
	size_t max = hdns_conn_max_body(c);

	(void)flags;
	if (st == NULL || st->body_too_big)
		return 0;
	if (st->hr.body_len + len > max) {
		st->body_too_big = true;
		return 0;
	}
	if (st->hr.body_len + len > st->body_cap) {
		size_t cap = st->body_cap ? st->body_cap * 2 : 512;
		uint8_t *b;

		while (cap < st->hr.body_len + len)
			cap *= 2;
		b = realloc(st->hr.body, cap);
		if (b == NULL)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		st->hr.body = b;
		st->body_cap = cap;
	}
	memcpy(st->hr.body + st->hr.body_len, data, len);
	st->hr.body_len += len;
	return 0;
}

static ssize_t
read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
	  uint32_t *flags, nghttp2_data_source *source, void *arg)
{
	struct h2_stream *st = source->ptr;
	size_t n = st->resp.len - st->sent;

	(void)s;
	(void)id;
	(void)arg;
	if (n > len)
		n = len;
	if (n)
		memcpy(buf, st->resp.body + st->sent, n);
	st->sent += n;
	if (st->sent == st->resp.len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int
respond(nghttp2_session *s, struct hdns_conn *c, int32_t id,
	struct h2_stream *st)
{
	char status[8], clen[24], cc[32];
	nghttp2_data_provider prd = { .source.ptr = st,
				      .read_callback = read_body };
	bool head;

#define NV(n, v)                                                               \
	{                                                                      \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v),      \
			NGHTTP2_NV_FLAG_NO_COPY_NAME                           \
	}
	if (st->hr.too_big || st->body_too_big || st->hr.method[0] == '\0' ||
	    st->hr.target[0] == '\0') {
		st->resp.status = st->hr.too_big     ? 431
				  : st->body_too_big ? 413
						     : 400;
		st->resp.content_type = "text/plain";
		st->resp.max_age = -1;
	} else {
		hdns_conn_serve(c, &st->hr, &st->resp);
	}
	head = strcmp(st->hr.method, "HEAD") == 0;
	snprintf(status, sizeof(status), "%d", st->resp.status);
	snprintf(clen, sizeof(clen), "%zu", st->resp.len);
	if (st->resp.max_age >= 0)
		snprintf(cc, sizeof(cc), "max-age=%d", (int)st->resp.max_age);
	else
		snprintf(cc, sizeof(cc), "no-store");
	{
		const nghttp2_nv nva[] = {
			NV(":status", status),
			NV("content-type", st->resp.content_type
						   ? st->resp.content_type
						   : "text/plain"),
			NV("content-length", clen),
			NV("cache-control", cc),
		};

		return nghttp2_submit_response(
			s, id, nva, sizeof(nva) / sizeof(nva[0]),
			head || st->resp.len == 0 ? NULL : &prd);
	}
#undef NV
}

static int
on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct h2_stream *st;

	if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
	    !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (st == NULL)
		return 0;
	if (respond(s, arg, f->hd.stream_id, st) != 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int
on_stream_close(nghttp2_session *s, int32_t id, uint32_t err, void *arg)
{
	(void)err;
	(void)arg;
	stream_free(nghttp2_session_get_stream_user_data(s, id));
	nghttp2_session_set_stream_user_data(s, id, NULL);
	return 0;
}

int
hdns_h2_start(struct hdns_conn *c)
{
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, HDNS_MAX_STREAMS },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, HDNS_MAX_HEADERS },
	};
	nghttp2_session_callbacks *cb;
	nghttp2_session *s = NULL;
	int rc;

	if (nghttp2_session_callbacks_new(&cb) != 0)
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_begin_headers_callback(
		cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
		cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb,
							       on_stream_close);
	rc = nghttp2_session_server_new(&s, cb, c);
	nghttp2_session_callbacks_del(cb);
	if (rc != 0)
		return -ENOMEM;
	if (nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv,
				    sizeof(iv) / sizeof(iv[0])) != 0) {
		nghttp2_session_del(s);
		return -ENOMEM;
	}
	c->h2 = s;
	return 0;
}

int
hdns_h2_flush(struct hdns_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	nghttp2_session *s = c->h2;

	while (evbuffer_get_length(out) < OUTPUT_HIGH) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(s, &data);

		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if (evbuffer_add(out, data, (size_t)n) != 0)
			return -1;
	}
	if (!nghttp2_session_want_read(s) && !nghttp2_session_want_write(s) &&
	    evbuffer_get_length(out) == 0)
		return -1; /* GOAWAY exchanged and everything written */
	return 0;
}

int
hdns_h2_read(struct hdns_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t len = evbuffer_get_length(in);
	unsigned char *data = evbuffer_pullup(in, -1);
	ssize_t n;

	if (len == 0)
		return 0;
	n = nghttp2_session_mem_recv(c->h2, data, len);
	if (n < 0)
		return -1;
	evbuffer_drain(in, (size_t)n);
	return hdns_h2_flush(c);
}

void
hdns_h2_free(struct hdns_conn *c)
{
	if (c->h2 != NULL)
		nghttp2_session_del(c->h2); /* closes streams: frees them */
	c->h2 = NULL;
}
