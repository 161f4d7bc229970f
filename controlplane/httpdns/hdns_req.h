/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One request of the HttpDNS core: what comes in (struct hdns_req), what
 * goes out (struct hdns_resp), where service state comes from, and the
 * primitives every dialect uses -- query parameters, the client address,
 * resolution of a name. hdns.c (routing, JSON and text dialects) and
 * hdns_doh.c (DNS over HTTPS) both build on it; neither includes the
 * other's header back.
 */
#ifndef EDGELBD_HDNS_REQ_H
#define EDGELBD_HDNS_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hdns_conf.h"

#define HDNS_ADDR_MAX  16   /* addresses per family in one answer */
#define HDNS_QUERY_MAX 4096 /* bytes of a query string */
#define HDNS_PARAM_MAX 1024 /* bytes of one decoded parameter */

/*
 * Where service state comes from. service() looks up a service by name:
 * its VIP, and whether at least one of its backends is healthy. Returns 0
 * or -ENOENT (no such service: it contributes nothing).
 */
struct hdns_source {
	int (*service)(void *arg, const char *name, struct lb_addr *vip,
		       bool *healthy);
	void *arg;
};

struct hdns_req {
	const char *method; /* "GET", "POST", "HEAD", ... */
	const char *path;   /* without the query string */
	const char *query;  /* after '?', raw (percent-encoded); may be NULL */
	const char *content_type;    /* may be NULL */
	const char *accept;	     /* may be NULL */
	const char *x_real_ip;	     /* may be NULL */
	const char *x_forwarded_for; /* may be NULL */
	const uint8_t *body;
	size_t body_len;
	struct lb_addr peer; /* the connection's remote address */
	int64_t now;	     /* unix time, seconds */
};

enum hdns_dialect {
	HDNS_DIALECT_JSON, /* /d?host=, /resolve?host=, /sign_* */
	HDNS_DIALECT_TEXT, /* /d?dn= */
	HDNS_DIALECT_DOH,  /* application/dns-message */
	HDNS_DIALECT_DOH_JSON,
	HDNS_DIALECT_OTHER, /* no endpoint matched */
	HDNS_DIALECT_MAX,
};

struct hdns_resp {
	int status;		  /* HTTP status */
	const char *content_type; /* static string */
	int32_t max_age;	  /* Cache-Control: max-age=N; -1 = no-store */
	char *body;		  /* malloc'd, NUL-terminated, may be NULL */
	size_t len;
	/* for metrics */
	uint8_t dialect;   /* enum hdns_dialect */
	const char *qtype; /* "A", "AAAA", "A+AAAA", "other" or "none" */
	const char *code;  /* error code or "ok" */
};

/* Free resp->body (hdns_handle's answer, in every case). */
void hdns_resp_release(struct hdns_resp *resp);

/* Set resp to status, ctype and a copy of body. 0 or -ENOMEM. */
int hdns_resp_set(struct hdns_resp *resp, int status, const char *ctype,
		  const void *body, size_t len);

/* The addresses of one name for one client. */
struct hdns_answer {
	bool known; /* the name is bound (in some view) */
	struct lb_addr v4[HDNS_ADDR_MAX];
	size_t n4;
	struct lb_addr v6[HDNS_ADDR_MAX];
	size_t n6;
	uint32_t ttl4, ttl6; /* empty_ttl when the family is empty */
	uint32_t origin_ttl; /* the configured ttl of the binding */
	bool fallback;	     /* no service healthy: fallback addresses */
};

/* Resolve a normalised name (hdns_name_normalise) for client. */
void hdns_resolve(const struct hdns_conf *c, const struct hdns_source *src,
		  const char *name, const struct lb_addr *client,
		  struct hdns_answer *a);

/*
 * The address in s[0..n), blanks around it allowed, IPv4-mapped IPv6
 * unmapped. 0 or -EINVAL.
 */
int hdns_addr_parse_n(const char *s, size_t n, struct lb_addr *a);

/*
 * The client address: the peer, or (if the peer is a trusted proxy)
 * X-Real-IP, else the rightmost untrusted X-Forwarded-For entry.
 */
void hdns_client_addr(const struct hdns_conf *c, const struct hdns_req *req,
		      struct lb_addr *client);

/*
 * Decoded value of parameter name in a query string into out (len
 * bytes). Returns its length, -ENOENT (absent), -EINVAL (bad percent
 * escape or a NUL) or -E2BIG.
 */
int hdns_query_param(const char *query, const char *name, char *out,
		     size_t len);

#endif
