/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals shared by the vendor channels (push_vendor.h): the part of
 * every channel's state they have in common (struct pv_base: loop, HTTP
 * client, counters, the sends in flight), the one HTTP exchange they all
 * make (a POST with a whole body, the answer collected up to
 * PV_BODY_MAX), the OAuth2 access-token cache of FCM and Huawei, JWS
 * signing (ES256, RS256) and base64url, and each vendor's classification
 * of an answer, exposed for the unit tests.
 */
#ifndef EDGELBD_PUSH_VENDOR_PRIV_H
#define EDGELBD_PUSH_VENDOR_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <openssl/evp.h>

#include "edgelb/types.h"
#include "http_client.h"
#include "push_vendor.h"

#define PV_BODY_MAX	    65536 /* a vendor's answer */
#define PV_APNS_REFRESH_MIN (20u * 60 * 1000)
#define PV_APNS_REFRESH_MAX (50u * 60 * 1000)
#define PV_APNS_REFRESH_DEF (40u * 60 * 1000)

/* ---- an endpoint ---------------------------------------------------- */

struct pv_url {
	bool tls;
	char host[PUSH_VENDOR_TEXT_MAX + 1];	  /* SNI name (no brackets) */
	char authority[PUSH_VENDOR_TEXT_MAX + 8]; /* host[:port] */
	uint16_t port;
	char path[PUSH_VENDOR_TEXT_MAX + 1]; /* base path, no trailing '/' */
	struct lb_addr addr; /* where to connect; family 0: not yet known */
	bool resolve;	     /* host is a name: pv_base_resolve keeps addr */
};

#define PV_DNS_REFRESH_MS 60000 /* a name is resolved again this often */
#define PV_DNS_RETRY_MS	  2000	/* after a failed lookup */

/* "https://host[:port][/path]" (or http:// for plaintext tests); address,
 * if given, is where to connect, else the host if it is an IP address,
 * else the host is resolved (resolve set). 0 or -EINVAL + err. */
int pv_url_parse(const char *url, const char *address, struct pv_url *u,
		 char *err, size_t errlen);

/* ---- one channel's common state ------------------------------------- */

struct pv_send;
struct pv_oauth;
struct pv_buf;
TAILQ_HEAD(pv_send_list, pv_send);

/* Heap-allocated: a lookup cancelled by pv_base_fini may still call back
 * from the loop later; it then finds dead set and frees the resolver. */
struct pv_resolver {
	struct pv_base *b;
	struct pv_url *u;
	struct evdns_getaddrinfo_request *req;
	struct event *timer;
	bool dead;
};

struct pv_base {
	struct event_base *evb;
	struct evdns_base *dns; /* made when a URL has a name */
	char resolver[64];	/* its server, or "": resolv.conf's */
	struct pv_resolver *res[2];
	int nres;
	struct http_client *http;
	struct push_vendor_stats st;
	struct pv_send_list sends; /* in flight, for destroy */
	uint64_t clock_skew_ms;	   /* tests: added to the clock */
	struct pv_oauth *oauth;	   /* fcm, huawei: the token cache */
	uint32_t request_timeout_ms;
};

/* The clock the caches use: CLOCK_MONOTONIC ms plus the test's skew. */
uint64_t pv_now_ms(const struct pv_base *b);
/* Tests: move the channel's clock ahead (token ages and expiries). */
void pv_test_advance(void *state, uint64_t ms);

int pv_base_init(struct pv_base *b, struct event_base *evb,
		 const struct push_vendor_conf *c, bool h2, char *err,
		 size_t errlen);
void pv_base_fini(struct pv_base *b);
/* Keep u->addr resolved (u->resolve), from the loop: now, then every
 * PV_DNS_REFRESH_MS (PV_DNS_RETRY_MS after a failure); the first IPv4
 * answer, else the first IPv6 one. u lives as long as b. 0 or -errno
 * (-ENOSPC past two names, -ENOMEM). */
int pv_base_resolve(struct pv_base *b, struct pv_url *u, char *err,
		    size_t errlen);
/* src made printable (no space, quote, backslash) into dst[n]. */
void pv_reason_clean(char *dst, size_t n, const char *src);
/* Count a failure's reason (bounded table; text sanitised). */
void pv_count_reason(struct pv_base *b, const char *reason);

/* The token is ready (token set) or could not be had (token NULL, r and
 * reason why; reason lives during the call). */
typedef void (*pv_token_cb)(void *arg, const char *token,
			    enum push_vendor_result r, const char *reason);

struct pv_token_waiter {
	TAILQ_ENTRY(pv_token_waiter) link;
	pv_token_cb cb;
	void *arg;
	bool queued;
};
TAILQ_HEAD(pv_token_waiters, pv_token_waiter);

/* One send in flight: the message's copy and the caller's callback. */
struct pv_send {
	TAILQ_ENTRY(pv_send) link;
	struct pv_base *b;
	push_vendor_cb cb;
	void *arg;
	char *id, *token, *collapse;
	char *payload;
	size_t len;
	uint32_t ttl_s;
	int priority;
	bool resent; /* sent again after a renewal already */
	char *cred;  /* the provider/access token it went with */
	char *req;   /* the request body (oauth vendors) */
	size_t req_len;
	struct pv_token_waiter wait; /* waiting for an access token */
	struct pv_call *call;	     /* the request in flight, or NULL */
	struct event *defer;	     /* a result given without a request */
	enum push_vendor_result dres;
	const char *dreason;
};

/* Copy m into a new pv_send linked into b's list, or NULL (ENOMEM). */
struct pv_send *pv_send_new(struct pv_base *b, const struct push_vendor_msg *m,
			    push_vendor_cb cb, void *arg);
/* End s: count, unlink, call back, free. */
void pv_send_end(struct pv_send *s, enum push_vendor_result r,
		 const char *reason);
/* End s from the loop (not from inside send). 0, or -ENOMEM: s was
 * dropped without a callback. */
int pv_send_end_later(struct pv_send *s, enum push_vendor_result r,
		      const char *reason);
/* s->cred = a copy of token. 0 or -ENOMEM. */
int pv_send_cred(struct pv_send *s, const char *token);
/* destroy: end every send in flight with PV_RETRY "cancelled". */
void pv_send_cancel_all(struct pv_base *b);
/* Checks common to all vendors; 0 or -EINVAL (counted). */
int pv_msg_check(struct pv_base *b, const struct push_vendor_msg *m,
		 bool json_object);

/* ---- the HTTP exchange ---------------------------------------------- */

struct pv_resp {
	int status;
	int version;	  /* 1 or 2 */
	const char *body; /* NUL-terminated */
	size_t len;
	char apns_id[64]; /* the apns-id header, "" if none */
};

/* err: 0 (r set) or the client's -errno (r NULL). */
typedef void (*pv_http_cb)(void *arg, int err, const struct pv_resp *r);
struct pv_call;

/* POST body to u's host at target. NULL with errno (EINVAL, ENOMEM,
 * EAGAIN: the host's name is not resolved yet). */
struct pv_call *pv_http_post(struct pv_base *b, const struct pv_url *u,
			     const char *target, const struct http_header *h,
			     size_t nh, const void *body, size_t len,
			     pv_http_cb cb, void *arg);
/* Abort a call from outside its callback: cb is not called. */
void pv_call_cancel(struct pv_call *c);
/* The verdict for a failed exchange (-ETIMEDOUT, ...): r and reason. */
enum push_vendor_result pv_http_err_result(int err, const char **reason);

/* ---- the OAuth2 access-token cache (fcm, huawei) --------------------- */

struct pv_oauth {
	struct pv_base *b;
	struct pv_url url; /* the token endpoint */
	/* The form body of a token request (malloc'ed); 0 or -errno + err. */
	int (*form)(void *vendor, char **body, char *err, size_t errlen);
	void *vendor;
	uint32_t margin_ms;
	char *token;	      /* the access token, or NULL */
	uint64_t expires_ms;  /* pv_now_ms() from which it is renewed */
	struct pv_call *call; /* the token request in flight */
	struct pv_token_waiters waiters;
	char reason[PUSH_VENDOR_REASON_MAX + 1];
};

void pv_oauth_init(struct pv_oauth *o, struct pv_base *b,
		   const struct pv_url *url,
		   int (*form)(void *, char **, char *, size_t), void *vendor,
		   uint32_t margin_ms);
/*
 * A valid access token: 0 with *token set (valid until the loop runs
 * again), 1 when w was queued (cb follows, from the token's answer; one
 * token request serves every waiter), -errno when no request could be
 * made. w lives until its callback or pv_oauth_forget.
 */
int pv_oauth_get(struct pv_oauth *o, struct pv_token_waiter *w, pv_token_cb cb,
		 void *arg, const char **token);
/* Drop a queued w without a callback (its send is being cancelled). */
void pv_oauth_forget(struct pv_oauth *o, struct pv_token_waiter *w);
/* A 401 said token expired: drop it unless it was renewed since, so that
 * the next pv_oauth_get asks for one (once, for every sender of token). */
void pv_oauth_expired(struct pv_oauth *o, const char *token);
void pv_oauth_fini(struct pv_oauth *o);
/* The verdict of a token endpoint's answer; on PV_OK *token (malloc'ed)
 * and *expires_s, else reason. */
enum push_vendor_result pv_oauth_parse(int status, const char *body,
				       char **token, uint32_t *expires_s,
				       char *reason, size_t rlen);

/*
 * A vendor whose sends carry an OAuth2 access token (fcm, huawei): the
 * send flow is the same (get the token, POST body to target with
 * "authorization: Bearer TOKEN", judge the answer, on a 401 that says the
 * token expired renew it and send again, once); the vendor gives the body
 * and the judgement.
 */
struct pv_ovendor {
	struct pv_base b; /* first: pv_test_advance */
	struct pv_oauth oauth;
	struct pv_url url;
	char target[2 * PUSH_VENDOR_TEXT_MAX + 32];
	/* The request body of s into out; 0 or -errno. */
	int (*body)(struct pv_ovendor *v, const struct pv_send *s,
		    struct pv_buf *out);
	/* The verdict of an answer; reason filled unless PV_OK. */
	struct pv_verdict (*judge)(const struct pv_send *s,
				   const struct pv_resp *r, char *reason,
				   size_t rlen);
};

int pv_ovendor_send(struct pv_ovendor *v, const struct push_vendor_msg *m,
		    push_vendor_cb cb, void *arg);
/* destroy's part: cancels sends, the token request, the client. */
void pv_ovendor_fini(struct pv_ovendor *v);

/* ---- request bodies -------------------------------------------------- */

struct pv_buf {
	char *p; /* NUL-terminated */
	size_t n, cap;
	bool oom;
};
void pv_buf_add(struct pv_buf *b, const char *s, size_t n);
void pv_buf_str(struct pv_buf *b, const char *s);
/* "&key=value" (no '&' first), value percent-encoded. */
void pv_buf_form(struct pv_buf *b, const char *key, const char *value);

/* ---- JWS and base64url ---------------------------------------------- */

/* Encode n bytes; returns the length written (NUL added) or -ENOSPC. */
int pv_b64url_encode(const void *in, size_t n, char *out, size_t outlen);
/* Decode (no padding); returns bytes written or -EINVAL/-ENOSPC. */
int pv_b64url_decode(const char *in, size_t n, uint8_t *out, size_t outlen);
/* A private key from a PEM text or file; NULL with err. want: EVP_PKEY_EC
 * (P-256) or EVP_PKEY_RSA. */
EVP_PKEY *pv_key_from_pem(const char *pem, size_t len, int want, char *err,
			  size_t errlen);
EVP_PKEY *pv_key_from_file(const char *path, int want, char *err,
			   size_t errlen);
/*
 * header.claims.signature, each part base64url; ES256 (key EC P-256: the
 * DER ECDSA signature turned into the 64-byte R||S) or RS256 (RSA PKCS#1
 * v1.5, SHA-256), by the key's type. *out malloc'ed. 0 or -errno + err.
 */
int pv_jwt_sign(EVP_PKEY *key, const char *header_json, const char *claims_json,
		char **out, char *err, size_t errlen);
/* DER ECDSA-Sig-Value -> R||S of 2*n bytes; 0 or -EINVAL. */
int pv_ecdsa_der_to_raw(const uint8_t *der, size_t len, uint8_t *raw, size_t n);

/* ---- classifications (unit-tested as tables) ------------------------ */

struct pv_verdict {
	enum push_vendor_result r;
	bool renew; /* provider/access token expired: renew, send again */
};

/* APNs: status and the body's "reason". */
struct pv_verdict pv_apns_classify(int status, const char *reason);
/* FCM: status, error.status / FcmError errorCode, whether a BadRequest
 * field violation names message.token. */
struct pv_verdict pv_fcm_classify(int status, const char *code,
				  bool token_field);
/* Huawei: status and the body's "code". */
struct pv_verdict pv_huawei_classify(int status, const char *code);
/* Xiaomi: status, the body's numeric "code", whether data.bad_regids
 * names the token. */
struct pv_verdict pv_xiaomi_classify(int status, long code, bool bad_regid);

extern const struct push_vendor_ops push_vendor_apns;
extern const struct push_vendor_ops push_vendor_fcm;
extern const struct push_vendor_ops push_vendor_huawei;
extern const struct push_vendor_ops push_vendor_xiaomi;

#endif
