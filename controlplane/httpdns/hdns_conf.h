/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HttpDNS configuration: the keys of the [httpdns] section, declared as a
 * struct cfg_key table (cfg_key.h) that edgelbd's parser walks, validated
 * as a whole, and the two lookups every request makes:
 * client address -> view (most specific prefix wins) and (domain, view)
 * -> bound services.
 *
 *   [httpdns]
 *   listen = 127.0.0.1:8053              plain HTTP (HTTP/1.1 and h2c)
 *   https_listen = 127.0.0.1:8443        HTTPS (ALPN h2 and http/1.1)
 *   cert = /etc/edgelb/dns.crt           PEM chain, needed with https_listen
 *   key = /etc/edgelb/dns.key
 *   ttl = 60                             TTL of answers (seconds)
 *   empty_ttl = 5                        TTL of empty and fallback answers
 *   max_batch = 5                        hosts per batch request
 *   max_body = 4096                      bytes of a request body
 *   workers = 1                          event loop threads (SO_REUSEPORT)
 *   max_connections = 1024               open connections per listener
 *   max_connections_per_addr = 64        of them from one client address
 *   header_timeout = 10s                 first byte to last header byte
 *   idle_timeout = 30s                   keep-alive, body and write stalls
 *   max_header_size = 8192               request line + headers, bytes
 *   max_streams = 100                    concurrent HTTP/2 streams
 *   secret = s3cr3t                      enables /sign_d, /sign_resolve
 *   sign_algo = hmac-sha256              or md5
 *   trusted_proxy = 10.0.0.0/8           repeatable
 *   fallback = 192.0.2.1                 repeatable
 *   view = 10.0.0.0/8 internal           repeatable: CIDR NAME
 *   domain = www.example.test service=web,web6 [view=internal] [ttl=30]
 *
 * Pure data and functions: no I/O, no daemon state.
 */
#ifndef EDGELBD_HDNS_CONF_H
#define EDGELBD_HDNS_CONF_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg_key.h"
#include "edgelb/types.h"

#define HDNS_NAME_MAX	  253 /* a domain name without the final dot */
#define HDNS_VIEW_MAX	  31  /* view name */
#define HDNS_BIND_SVC_MAX 8   /* services per domain line */
#define HDNS_PROXY_MAX	  16  /* trusted_proxy lines */
#define HDNS_FALLBACK_MAX 8   /* fallback lines */
#define HDNS_SECRET_MAX	  128
#define HDNS_BATCH_LIMIT  64 /* highest max_batch accepted */
#define HDNS_TTL_LIMIT	  86400
#define HDNS_BODY_LIMIT	  65535 /* a DNS message never exceeds it */
#define HDNS_WORKERS_MAX  64
#define HDNS_CONNS_MAX	  1000000
#define HDNS_HEADER_MIN	  1024
#define HDNS_HEADER_MAX	  (1024 * 1024)
#define HDNS_STREAMS_MAX  10000
#define HDNS_TIMEOUT_MAX  3600000 /* ms */

enum hdns_sign_algo {
	HDNS_SIGN_HMAC_SHA256 = 0,
	HDNS_SIGN_MD5 = 1,
};

struct hdns_prefix {
	struct lb_addr net; /* host bits cleared */
	uint8_t plen;
};

struct hdns_view {
	struct hdns_prefix pfx;
	char name[HDNS_VIEW_MAX + 1];
};

/* One `domain =` line. */
struct hdns_bind {
	char domain[HDNS_NAME_MAX + 1]; /* lower case, no final dot */
	char view[HDNS_VIEW_MAX + 1];	/* "" = the default view */
	char services[HDNS_BIND_SVC_MAX][LB_NAME_MAX + 1];
	uint8_t nservices;
	uint32_t ttl; /* 0 = the section's ttl */
};

struct hdns_conf {
	bool has_listen;
	struct lb_addr listen_addr;
	uint16_t listen_port;
	bool has_https;
	struct lb_addr https_addr;
	uint16_t https_port;
	char cert[PATH_MAX];
	char key[PATH_MAX];
	uint32_t ttl;
	uint32_t empty_ttl;
	uint32_t max_batch;
	uint32_t max_body;
	uint32_t workers;
	uint32_t max_conns;
	uint32_t max_conns_per_addr;
	uint32_t header_timeout_ms;
	uint32_t idle_timeout_ms;
	uint32_t max_header_size;
	uint32_t max_streams;
	char secret[HDNS_SECRET_MAX + 1]; /* "" = signed endpoints disabled */
	uint8_t sign_algo;		  /* enum hdns_sign_algo */
	struct hdns_prefix proxies[HDNS_PROXY_MAX];
	size_t nproxies;
	struct lb_addr fallback[HDNS_FALLBACK_MAX];
	size_t nfallback;
	struct hdns_view *views;
	size_t nviews, cap_views;
	struct hdns_bind *binds;
	size_t nbinds, cap_binds;
};

/* Defaults: ttl 60, empty_ttl 5, max_batch 5, max_body 4096, workers 1,
 * max_connections 1024 (64 per address), header_timeout 10 s,
 * idle_timeout 30 s, max_header_size 8192, max_streams 100; no listener. */
void hdns_conf_init(struct hdns_conf *c);
void hdns_conf_release(struct hdns_conf *c);
/* Deep copy. 0 or -ENOMEM (dst is then initialised and empty). */
int hdns_conf_copy(struct hdns_conf *dst, const struct hdns_conf *src);

/*
 * The keys of [httpdns]; the object of their setters is a struct
 * hdns_conf. trusted_proxy, fallback, view and domain repeat.
 */
extern const struct cfg_key hdns_conf_keys[];

/*
 * One key of [httpdns] through hdns_conf_keys, without the file-level
 * checks of edgelbd's parser (a key given twice, an empty value): for
 * tests and fuzzing. 0, -EINVAL (unknown key or bad value) or -ENOMEM;
 * the problem is written to err.
 */
int hdns_conf_key(struct hdns_conf *c, const char *key, const char *value,
		  char *err, size_t errlen);

/*
 * The section as a whole: views named by domain lines exist, no
 * (domain, view) pair twice, https_listen has cert and key, ttl >=
 * empty_ttl, max_connections_per_addr <= max_connections. 0 or -EINVAL
 * with the problem in err.
 */
int hdns_conf_validate(const struct hdns_conf *c, char *err, size_t errlen);

/* The view of a client (most specific prefix wins), or NULL. */
const char *hdns_conf_view(const struct hdns_conf *c,
			   const struct lb_addr *client);

/*
 * The binding for domain (normalised: lower case, no final dot) as seen
 * from view (NULL = default): the view's own line, else the default line,
 * else NULL.
 */
const struct hdns_bind *hdns_conf_bind(const struct hdns_conf *c,
				       const char *domain, const char *view);

/* Is a at least one of the prefixes? */
bool hdns_prefix_match(const struct hdns_prefix *p, const struct lb_addr *a);

/*
 * Normalise a host name into out (HDNS_NAME_MAX + 1 bytes): lower case,
 * the final dot removed; labels of 1..63 letters, digits, '-' and '_'.
 * 0 or -EINVAL.
 */
int hdns_name_normalise(const char *in, size_t len, char *out);

/* An IPv4-mapped IPv6 address becomes the IPv4 address; others unchanged. */
void hdns_addr_unmap(struct lb_addr *a);

#endif
