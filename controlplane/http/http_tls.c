/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS contexts of a listener (see http.h, struct http_tls): one OpenSSL
 * context per certificate, the default one given to every new
 * connection; the servername callback switches a connection to the
 * context of the name it asked for (SNI). ALPN prefers h2, then
 * http/1.1; a client offering neither gets no ALPN and HTTP/1.1.
 * TLS 1.2 at least, no renegotiation.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "http_priv.h"
#include "edgelb/log.h"

#define HTTP_TLS_MAX_CERTS 64

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

static int
on_servername(SSL *ssl, int *alert, void *arg)
{
	const struct http_tls_ctx *x = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	(void)alert;
	if (name == NULL)
		return SSL_TLSEXT_ERR_OK; /* the default */
	for (size_t i = 0; i < x->n; i++)
		if (x->names[i] != NULL && strcasecmp(x->names[i], name) == 0) {
			if (SSL_set_SSL_CTX(ssl, x->ctx[i]) == NULL)
				return SSL_TLSEXT_ERR_ALERT_FATAL;
			return SSL_TLSEXT_ERR_OK;
		}
	return SSL_TLSEXT_ERR_OK; /* unknown name: the default */
}

static SSL_CTX *
ctx_new(const struct http_tls_cert *c)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char msg[256];

	if (ctx == NULL)
		goto err;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(ctx, c->cert) != 1)
		goto err;
	if (SSL_CTX_use_PrivateKey_file(ctx, c->key, SSL_FILETYPE_PEM) != 1)
		goto err;
	if (SSL_CTX_check_private_key(ctx) != 1)
		goto err;
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	return ctx;
err:
	ERR_error_string_n(ERR_get_error(), msg, sizeof(msg));
	ERR_clear_error();
	LB_ERR("http: TLS certificate %s, key %s (%s): %s", c->cert, c->key,
	       c->server_name != NULL ? c->server_name : "default", msg);
	SSL_CTX_free(ctx);
	return NULL;
}

struct http_tls_ctx *
http_tls_ctx_new(const struct http_tls *t)
{
	struct http_tls_ctx *x = NULL;
	size_t def = 0;

	if (t == NULL || t->ncerts == 0 || t->ncerts > HTTP_TLS_MAX_CERTS)
		goto err_inval;
	for (size_t i = 0; i < t->ncerts; i++)
		if (t->certs[i].cert == NULL || t->certs[i].key == NULL)
			goto err_inval;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		goto err_nomem;
	x->ctx = calloc(t->ncerts, sizeof(*x->ctx));
	x->names = calloc(t->ncerts, sizeof(*x->names));
	if (x->ctx == NULL || x->names == NULL)
		goto err_nomem;
	x->n = t->ncerts;
	for (size_t i = 0; i < t->ncerts; i++) {
		const struct http_tls_cert *c = &t->certs[i];

		x->ctx[i] = ctx_new(c);
		if (x->ctx[i] == NULL)
			goto err_inval;
		if (c->server_name == NULL) {
			def = i;
			continue;
		}
		x->names[i] = strdup(c->server_name);
		if (x->names[i] == NULL)
			goto err_nomem;
	}
	x->def = x->ctx[def];
	/* the callback runs on the context a connection starts with */
	SSL_CTX_set_tlsext_servername_callback(x->def, on_servername);
	SSL_CTX_set_tlsext_servername_arg(x->def, x);
	return x;
err_inval:
	http_tls_ctx_free(x);
	errno = EINVAL;
	return NULL;
err_nomem:
	http_tls_ctx_free(x);
	errno = ENOMEM;
	return NULL;
}

void
http_tls_ctx_free(struct http_tls_ctx *x)
{
	if (x == NULL)
		return;
	for (size_t i = 0; i < x->n; i++) {
		SSL_CTX_free(x->ctx[i]);
		free(x->names[i]);
	}
	free(x->ctx);
	free(x->names);
	free(x);
}
