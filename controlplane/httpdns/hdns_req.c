/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HttpDNS request primitives (see hdns_req.h): answers, query strings,
 * the client address and resolution against the source.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hdns_req.h"

void
hdns_resp_release(struct hdns_resp *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

int
hdns_resp_set(struct hdns_resp *resp, int status, const char *ctype,
	      const void *body, size_t len)
{
	char *b = malloc(len + 1);

	if (b == NULL)
		return -ENOMEM;
	if (len)
		memcpy(b, body, len);
	b[len] = '\0';
	free(resp->body);
	resp->body = b;
	resp->len = len;
	resp->status = status;
	resp->content_type = ctype;
	return 0;
}

/* ---- query strings ----------------------------------------------------- */

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
hdns_query_param(const char *query, const char *name, char *out, size_t len)
{
	size_t nlen = strlen(name);
	const char *p = query;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '&');
		size_t plen = end != NULL ? (size_t)(end - p) : strlen(p);

		if (plen > nlen && strncmp(p, name, nlen) == 0 &&
		    p[nlen] == '=') {
			size_t n = 0;

			for (size_t i = nlen + 1; i < plen; i++) {
				char ch = p[i];

				if (ch == '%') {
					int hi, lo;

					if (i + 2 >= plen)
						return -EINVAL;
					hi = hexval(p[i + 1]);
					lo = hexval(p[i + 2]);
					if (hi < 0 || lo < 0)
						return -EINVAL;
					ch = (char)(hi << 4 | lo);
					i += 2;
				} else if (ch == '+') {
					ch = ' ';
				}
				if (ch == '\0')
					return -EINVAL;
				if (n + 1 >= len)
					return -E2BIG;
				out[n++] = ch;
			}
			out[n] = '\0';
			return (int)n;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return -ENOENT;
}

/* ---- client address and resolution ------------------------------------- */

static bool
trusted(const struct hdns_conf *c, const struct lb_addr *a)
{
	for (size_t i = 0; i < c->nproxies; i++)
		if (hdns_prefix_match(&c->proxies[i], a))
			return true;
	return false;
}

int
hdns_addr_parse_n(const char *s, size_t n, struct lb_addr *a)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (lb_addr_parse_n(s, n, a) < 0)
		return -EINVAL;
	hdns_addr_unmap(a);
	return 0;
}

void
hdns_client_addr(const struct hdns_conf *c, const struct hdns_req *req,
		 struct lb_addr *client)
{
	struct lb_addr a;
	const char *x = req->x_forwarded_for;

	*client = req->peer;
	hdns_addr_unmap(client);
	if (!trusted(c, client))
		return;
	if (req->x_real_ip != NULL &&
	    hdns_addr_parse_n(req->x_real_ip, strlen(req->x_real_ip), &a) ==
		    0) {
		*client = a;
		return;
	}
	if (x == NULL)
		return;
	/* from the right: the first hop that is not a trusted proxy */
	for (size_t end = strlen(x); end > 0;) {
		size_t start = end;

		while (start > 0 && x[start - 1] != ',')
			start--;
		if (hdns_addr_parse_n(x + start, end - start, &a) < 0)
			return;
		*client = a;
		if (!trusted(c, &a))
			return;
		end = start > 0 ? start - 1 : 0;
	}
}

static void
add_addr(struct lb_addr *v, size_t *n, const struct lb_addr *a)
{
	for (size_t i = 0; i < *n; i++)
		if (lb_addr_equal(&v[i], a))
			return;
	if (*n < HDNS_ADDR_MAX)
		v[(*n)++] = *a;
}

static void
add_family(struct hdns_answer *a, const struct lb_addr *addr)
{
	if (addr->family == AF_INET)
		add_addr(a->v4, &a->n4, addr);
	else if (addr->family == AF_INET6)
		add_addr(a->v6, &a->n6, addr);
}

void
hdns_resolve(const struct hdns_conf *c, const struct hdns_source *src,
	     const char *name, const struct lb_addr *client,
	     struct hdns_answer *a)
{
	const struct hdns_bind *b;
	bool any = false;
	uint32_t ttl;

	memset(a, 0, sizeof(*a));
	a->ttl4 = a->ttl6 = c->empty_ttl;
	a->origin_ttl = c->ttl;
	for (size_t i = 0; i < c->nbinds && !a->known; i++)
		a->known = strcmp(c->binds[i].domain, name) == 0;
	b = hdns_conf_bind(c, name, hdns_conf_view(c, client));
	if (b == NULL)
		return;
	ttl = b->ttl ? b->ttl : c->ttl;
	a->origin_ttl = ttl;
	for (size_t i = 0; i < b->nservices; i++) {
		struct lb_addr vip;
		bool healthy = false;

		if (src == NULL || src->service == NULL ||
		    src->service(src->arg, b->services[i], &vip, &healthy) <
			    0 ||
		    !healthy)
			continue;
		add_family(a, &vip);
		any = true;
	}
	if (!any) {
		a->fallback = c->nfallback > 0;
		for (size_t i = 0; i < c->nfallback; i++)
			add_family(a, &c->fallback[i]);
		return; /* empty_ttl for both families */
	}
	if (a->n4)
		a->ttl4 = ttl;
	if (a->n6)
		a->ttl6 = ttl;
}
