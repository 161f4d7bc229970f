/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HttpDNS server (see hdns_srv.h): listeners, TLS with ALPN,
 * protocol detection, HTTP/1.1, and the metrics of every request.
 * HTTP/2 is in hdns_h2.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "hdns_conn.h"
#include "hdns_srv.h"
#include "metrics.h"
#include "edgelb/log.h"

#define IDLE_TIMEOUT_S 10
#define OUTPUT_HIGH    (256 * 1024) /* stop reading requests above this */

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct lsn {
	struct evconnlistener *l;
	struct lb_addr addr;
	uint16_t port;
};

struct hdns_srv {
	struct event_base *base;
	struct hdns_conf conf;
	struct hdns_source src;
	struct lsn plain, https;
	SSL_CTX *ssl;
	unsigned int nconns;
	struct metrics *m;
	struct metrics_family *f_req, *f_lat, *f_conn;
};

/* ---- metrics ------------------------------------------------------------- */

static const char *const dialect_names[HDNS_DIALECT_MAX] = {
	"json", "text", "doh", "doh-json", "other",
};

static void
metrics_setup(struct hdns_srv *s)
{
	static const double b[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
				    0.005,  0.01,    0.025,  0.1 };

	if (s->m == NULL)
		return;
	s->f_req = metrics_family(s->m, "edgelbd_httpdns_requests_total",
				  "HttpDNS requests by dialect, query type and "
				  "HTTP status.",
				  METRICS_COUNTER, NULL, 0);
	s->f_lat =
		metrics_family(s->m, "edgelbd_httpdns_request_duration_seconds",
			       "Time to answer one HttpDNS request.",
			       METRICS_HISTOGRAM, b, sizeof(b) / sizeof(b[0]));
	s->f_conn = metrics_family(s->m, "edgelbd_httpdns_connections_total",
				   "HttpDNS connections by protocol.",
				   METRICS_COUNTER, NULL, 0);
}

static void
count_conn(struct hdns_srv *s, const char *proto)
{
	struct metrics_label l = { "proto", proto };

	if (s->f_conn != NULL)
		metrics_add(metrics_series(s->f_conn, &l, 1), 1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- one request ------------------------------------------------------- */

void
hdns_conn_serve(struct hdns_conn *c, const struct hdns_hreq *hr,
		struct hdns_resp *resp)
{
	struct hdns_srv *s = c->srv;
	char path[sizeof(hr->target)];
	struct hdns_req req = { 0 };
	double t0 = now_s();
	char *q;
	int rc;

	snprintf(path, sizeof(path), "%s", hr->target);
	q = strchr(path, '?');
	if (q != NULL)
		*q++ = '\0';
	req.method = hr->method;
	req.path = path;
	req.query = q;
	req.content_type = hr->content_type[0] ? hr->content_type : NULL;
	req.accept = hr->accept[0] ? hr->accept : NULL;
	req.x_real_ip = hr->x_real_ip[0] ? hr->x_real_ip : NULL;
	req.x_forwarded_for =
		hr->x_forwarded_for[0] ? hr->x_forwarded_for : NULL;
	req.body = hr->body;
	req.body_len = hr->body_len;
	req.peer = c->peer;
	req.now = (int64_t)time(NULL);
	rc = hdns_handle(&s->conf, &s->src, &req, resp);
	if (rc < 0) {
		hdns_resp_release(resp);
		resp->status = 500;
		resp->content_type = "text/plain";
		resp->max_age = -1;
	}
	if (s->f_req != NULL) {
		char st[8];
		struct metrics_label l[3] = {
			{ "dialect", dialect_names[resp->dialect] },
			{ "qtype", resp->qtype },
			{ "status", st },
		};

		snprintf(st, sizeof(st), "%d", resp->status);
		metrics_add(metrics_series(s->f_req, l, 3), 1);
		metrics_observe(metrics_series(s->f_lat, l, 1), now_s() - t0);
	}
}

size_t
hdns_conn_max_body(const struct hdns_conn *c)
{
	return c->srv->conf.max_body;
}

void
hdns_conn_close(struct hdns_conn *c)
{
	hdns_h2_free(c);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->srv->nconns--;
	free(c);
}

/* ---- HTTP/1.1 ---------------------------------------------------------- */

static const char *
reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 431:
		return "Request Header Fields Too Large";
	case 501:
		return "Not Implemented";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return status >= 500 ? "Internal Server Error" : "Error";
	}
}

static void
h1_send(struct hdns_conn *c, const struct hdns_resp *r, bool head, bool close)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char cc[32];

	if (r->max_age >= 0)
		snprintf(cc, sizeof(cc), "max-age=%d", (int)r->max_age);
	else
		snprintf(cc, sizeof(cc), "no-store");
	evbuffer_add_printf(
		out,
		"HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
		"Content-Length: %zu\r\nCache-Control: %s\r\n%s\r\n",
		r->status, reason(r->status),
		r->content_type ? r->content_type : "text/plain", r->len, cc,
		close ? "Connection: close\r\n" : "");
	if (!head && r->len)
		evbuffer_add(out, r->body, r->len);
	if (close)
		c->closing = true;
}

/* An error decided by the HTTP layer itself; the connection closes. */
static void
h1_fail(struct hdns_conn *c, int status)
{
	struct hdns_resp r = { .status = status,
			       .content_type = "text/plain",
			       .max_age = -1 };

	h1_send(c, &r, false, true);
	bufferevent_disable(c->bev, EV_READ);
}

static void
copy_value(char *dst, size_t len, const char *v, bool *too_big)
{
	if (strlen(v) >= len)
		*too_big = true;
	else
		snprintf(dst, len, "%s", v);
}

/*
 * Parse the request line and headers in buf (NUL-terminated, without
 * the final blank line). Returns 0 or the HTTP status to fail with.
 */
static int
h1_parse(char *buf, struct hdns_hreq *hr, size_t *clen, bool *keepalive)
{
	char *save = NULL, *line, *sp1, *sp2, *v;
	bool have_len = false, http10;
	uint32_t n;

	line = strtok_r(buf, "\n", &save);
	if (line == NULL)
		return 400;
	line[strcspn(line, "\r")] = '\0';
	sp1 = strchr(line, ' ');
	sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL ||
	    (size_t)(sp1 - line) >= sizeof(hr->method) ||
	    (size_t)(sp2 - sp1 - 1) >= sizeof(hr->target))
		return sp1 != NULL && sp2 != NULL ? 414 : 400;
	memcpy(hr->method, line, (size_t)(sp1 - line));
	memcpy(hr->target, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	if (strcmp(sp2 + 1, "HTTP/1.1") == 0)
		http10 = false;
	else if (strcmp(sp2 + 1, "HTTP/1.0") == 0)
		http10 = true;
	else
		return 505;
	*keepalive = !http10;
	*clen = 0;
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		line[strcspn(line, "\r")] = '\0';
		v = strchr(line, ':');
		if (v == NULL || v == line)
			return 400;
		*v++ = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		for (size_t e = strlen(v);
		     e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t');)
			v[--e] = '\0';
		if (strcasecmp(line, "Content-Length") == 0) {
			if (lb_parse_u32(v, 0, UINT32_MAX, &n) < 0 ||
			    (have_len && n != *clen))
				return 400;
			*clen = n;
			have_len = true;
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			return 501;
		} else if (strcasecmp(line, "Connection") == 0) {
			if (strcasecmp(v, "close") == 0)
				*keepalive = false;
			else if (strcasecmp(v, "keep-alive") == 0)
				*keepalive = true;
		} else if (strcasecmp(line, "Content-Type") == 0) {
			copy_value(hr->content_type, sizeof(hr->content_type),
				   v, &hr->too_big);
		} else if (strcasecmp(line, "Accept") == 0) {
			copy_value(hr->accept, sizeof(hr->accept), v,
				   &hr->too_big);
		} else if (strcasecmp(line, "X-Real-IP") == 0) {
			copy_value(hr->x_real_ip, sizeof(hr->x_real_ip), v,
				   &hr->too_big);
		} else if (strcasecmp(line, "X-Forwarded-For") == 0) {
			copy_value(hr->x_forwarded_for,
				   sizeof(hr->x_forwarded_for), v,
				   &hr->too_big);
		}
	}
	return hr->too_big ? 431 : 0;
}

/* Answer every complete request in the input, in order. */
static void
h1_process(struct hdns_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char hdr[HDNS_MAX_HEADERS + 1];
	struct hdns_hreq *hr = NULL;

	while (!c->closing && evbuffer_get_length(out) < OUTPUT_HIGH) {
		struct evbuffer_ptr p =
			evbuffer_search(in, "\r\n\r\n", 4, NULL);
		struct hdns_resp resp;
		size_t hlen, clen = 0;
		bool keepalive = false;
		int st;

		if (p.pos < 0) {
			if (evbuffer_get_length(in) > HDNS_MAX_HEADERS)
				h1_fail(c, 431);
			break;
		}
		hlen = (size_t)p.pos + 4;
		if (hlen > HDNS_MAX_HEADERS) {
			h1_fail(c, 431);
			break;
		}
		if (hr == NULL && (hr = calloc(1, sizeof(*hr))) == NULL) {
			h1_fail(c, 500);
			break;
		}
		memset(hr, 0, sizeof(*hr));
		evbuffer_copyout(in, hdr, hlen - 2);
		hdr[hlen - 2] = '\0';
		st = h1_parse(hdr, hr, &clen, &keepalive);
		if (st == 0 && clen > hdns_conn_max_body(c))
			st = 413;
		if (st != 0) {
			h1_fail(c, st);
			break;
		}
		if (evbuffer_get_length(in) < hlen + clen)
			break; /* the body is still coming */
		evbuffer_drain(in, hlen);
		if (clen) {
			hr->body = malloc(clen);
			if (hr->body == NULL) {
				h1_fail(c, 500);
				break;
			}
			evbuffer_remove(in, hr->body, clen);
			hr->body_len = clen;
		}
		hdns_conn_serve(c, hr, &resp);
		h1_send(c, &resp, strcmp(hr->method, "HEAD") == 0, !keepalive);
		hdns_resp_release(&resp);
		free(hr->body);
		hr->body = NULL;
	}
	free(hr);
}

/* ---- connections --------------------------------------------------------- */

static bool
detect(struct hdns_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n = evbuffer_get_length(in), k = sizeof(h2_preface) - 1;
	unsigned char buf[sizeof(h2_preface)];

	if (c->tls) {
		const unsigned char *alpn = NULL;
		unsigned int alen = 0;
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

		SSL_get0_alpn_selected(ssl, &alpn, &alen);
		c->mode = alen == 2 && memcmp(alpn, "h2", 2) == 0
				  ? HDNS_MODE_H2
				  : HDNS_MODE_H1;
	} else {
		if (n > k)
			n = k;
		evbuffer_copyout(in, buf, n);
		if (memcmp(buf, h2_preface, n) != 0)
			c->mode = HDNS_MODE_H1;
		else if (n == k)
			c->mode = HDNS_MODE_H2;
		else
			return false; /* could still be the preface */
	}
	count_conn(c->srv, c->mode == HDNS_MODE_H2
				   ? (c->tls ? "h2" : "h2c")
				   : (c->tls ? "http/1.1+tls" : "http/1.1"));
	if (c->mode == HDNS_MODE_H2 && hdns_h2_start(c) < 0)
		return false;
	return true;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct hdns_conn *c = arg;

	(void)bev;
	if (c->mode == HDNS_MODE_UNKNOWN && !detect(c)) {
		if (c->mode == HDNS_MODE_H2) /* session setup failed */
			hdns_conn_close(c);
		return;
	}
	if (c->mode == HDNS_MODE_H2) {
		if (hdns_h2_read(c) < 0)
			hdns_conn_close(c);
		return;
	}
	h1_process(c);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct hdns_conn *c = arg;

	if (c->mode == HDNS_MODE_H2) {
		if (hdns_h2_flush(c) < 0)
			hdns_conn_close(c);
		return;
	}
	if (c->closing) {
		hdns_conn_close(c);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		h1_process(c);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct hdns_conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return; /* TLS handshake done */
	hdns_conn_close(c);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
	  int salen, void *arg)
{
	struct hdns_srv *s = arg;
	bool tls = l == s->https.l;
	struct timeval tv = { .tv_sec = IDLE_TIMEOUT_S };
	struct hdns_conn *c = calloc(1, sizeof(*c));
	SSL *ssl = NULL;

	(void)salen;
	if (c == NULL)
		goto err;
	c->srv = s;
	c->tls = tls;
	if (sa->sa_family == AF_INET)
		lb_addr_from_bytes(&c->peer,
				   &((struct sockaddr_in *)sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		lb_addr_from_bytes(&c->peer,
				   &((struct sockaddr_in6 *)sa)->sin6_addr, 16);
	if (tls) {
		ssl = SSL_new(s->ssl);
		if (ssl == NULL)
			goto err;
		c->bev = bufferevent_openssl_socket_new(
			s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
			BEV_OPT_CLOSE_ON_FREE);
		if (c->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else {
		c->bev = bufferevent_socket_new(s->base, fd,
						BEV_OPT_CLOSE_ON_FREE);
	}
	if (c->bev == NULL)
		goto err;
	s->nconns++;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return;
err:
	if (ssl != NULL && (c == NULL || c->bev == NULL))
		SSL_free(ssl);
	free(c);
	evutil_closesocket(fd);
}

/* ---- listeners and TLS ----------------------------------------------------- */

static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
	    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char prefs[] = "\x02h2\x08http/1.1";
	unsigned char *sel = NULL;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, prefs, sizeof(prefs) - 1, in,
				  inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
tls_ctx(const struct hdns_conf *c)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char msg[256];

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(ctx, c->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, c->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ERR_error_string_n(ERR_get_error(), msg, sizeof(msg));
		LB_ERR("[httpdns] cert %s / key %s: %s", c->cert, c->key, msg);
		SSL_CTX_free(ctx);
		errno = EINVAL;
		return NULL;
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	return ctx;
}

static int
lsn_open(struct hdns_srv *s, struct lsn *l, const struct lb_addr *a,
	 uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	char buf[LB_ADDRPORTSTRLEN];

	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a->bytes, 4);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a->bytes, 16);
		len = sizeof(*sin6);
	}
	errno = 0;
	l->l = evconnlistener_new_bind(s->base, on_accept, s,
				       LEV_OPT_REUSEABLE |
					       LEV_OPT_CLOSE_ON_FREE |
					       LEV_OPT_CLOSE_ON_EXEC,
				       128, (struct sockaddr *)&ss, (int)len);
	if (l->l == NULL) {
		int err = errno ? errno : EADDRINUSE;

		LB_ERR("[httpdns] listen %s: %s",
		       lb_addr_port_format(a, port, buf, sizeof(buf)),
		       strerror(err));
		return -err;
	}
	l->addr = *a;
	l->port = port;
	return 0;
}

static void
lsn_close(struct lsn *l)
{
	if (l->l != NULL)
		evconnlistener_free(l->l);
	memset(l, 0, sizeof(*l));
}

static bool
lsn_same(const struct lsn *l, bool want, const struct lb_addr *a, uint16_t port)
{
	if (!want)
		return l->l == NULL;
	return l->l != NULL && l->port == port && lb_addr_equal(&l->addr, a);
}

/*
 * Make s's listeners and TLS context match c. On failure, s is as it
 * was. 0 or -errno.
 */
static int
apply(struct hdns_srv *s, const struct hdns_conf *c)
{
	struct lsn plain = { 0 }, https = { 0 };
	bool keep_plain = lsn_same(&s->plain, c->has_listen, &c->listen_addr,
				   c->listen_port);
	bool keep_https = lsn_same(&s->https, c->has_https, &c->https_addr,
				   c->https_port) &&
			  strcmp(s->conf.cert, c->cert) == 0 &&
			  strcmp(s->conf.key, c->key) == 0;
	SSL_CTX *ssl = NULL;
	int rc = 0;

	if (!keep_https && c->has_https) {
		ssl = tls_ctx(c);
		if (ssl == NULL)
			return -errno;
	}
	/* a listener moving to an address another one holds: close first */
	if (!keep_plain && c->has_listen)
		rc = lsn_open(s, &plain, &c->listen_addr, c->listen_port);
	if (rc == 0 && !keep_https && c->has_https)
		rc = lsn_open(s, &https, &c->https_addr, c->https_port);
	if (rc < 0) {
		lsn_close(&plain);
		lsn_close(&https);
		SSL_CTX_free(ssl);
		return rc;
	}
	if (!keep_plain) {
		lsn_close(&s->plain);
		s->plain = plain;
	}
	if (!keep_https) {
		lsn_close(&s->https);
		SSL_CTX_free(s->ssl);
		s->https = https;
		s->ssl = ssl;
	}
	return 0;
}

struct hdns_srv *
hdns_srv_new(struct event_base *base, const struct hdns_conf *c,
	     const struct hdns_source *src, struct metrics *m)
{
	struct hdns_srv *s = calloc(1, sizeof(*s));
	int rc;

	if (s == NULL)
		return NULL;
	s->base = base;
	s->src = *src;
	s->m = m;
	hdns_conf_init(&s->conf);
	rc = apply(s, c);
	if (rc == 0)
		rc = hdns_conf_copy(&s->conf, c);
	if (rc < 0) {
		hdns_srv_free(s);
		errno = -rc;
		return NULL;
	}
	metrics_setup(s);
	return s;
}

int
hdns_srv_update(struct hdns_srv *s, const struct hdns_conf *c)
{
	struct hdns_conf copy;
	int rc = hdns_conf_copy(&copy, c);

	if (rc < 0)
		return rc;
	rc = apply(s, c);
	if (rc < 0) {
		hdns_conf_release(&copy);
		return rc;
	}
	hdns_conf_release(&s->conf);
	s->conf = copy;
	return 0;
}

void
hdns_srv_free(struct hdns_srv *s)
{
	if (s == NULL)
		return;
	lsn_close(&s->plain);
	lsn_close(&s->https);
	SSL_CTX_free(s->ssl);
	hdns_conf_release(&s->conf);
	free(s);
}

unsigned int
hdns_srv_connections(const struct hdns_srv *s)
{
	return s->nconns;
}
