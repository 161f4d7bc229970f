/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Vendor channels of the push service: a device that has a vendor token and
 * no live device channel is woken through its vendor. One const ops struct
 * per vendor, found by name:
 *
 *   apns    Apple APNs provider API: HTTP/2 POST /3/device/TOKEN with an
 *           ES256 provider token (JWT, kid + iss + iat) renewed every
 *           token_refresh (20 to 50 minutes, never more often than once per
 *           20 minutes) and the apns-* headers.
 *   fcm     Firebase Cloud Messaging HTTP v1: a service-account JWT (RS256)
 *           exchanged at the OAuth2 token URI for an access token, cached
 *           until its expiry minus token_margin; POST
 *           /v1/projects/PROJECT/messages:send.
 *   huawei  Huawei Push Kit: OAuth2 client credentials at the token URL,
 *           the same cache; POST /v1/APPID/messages:send.
 *   xiaomi  Xiaomi push: form POST to /v3/message/regid with
 *           "Authorization: key=APPSECRET".
 *
 * Every request goes through the upstream HTTP client (http_client.h) of
 * the loop the channel was created on, with the configured timeouts.
 * Results are classified the same way for every vendor: PV_OK delivered to
 * the vendor; PV_RETRY a transient failure (timeout, connection failure,
 * 429, 5xx, a provider token that may not be renewed yet), to be retried
 * later with a backoff the caller chooses; PV_BAD_TOKEN the device token is
 * unregistered or invalid (the caller removes it); PV_FAILED anything else
 * (bad credentials, a message the vendor refuses). A 401/403 that says the
 * access or provider token expired renews it and sends again, once.
 *
 * Threads: a channel belongs to the loop (and thread) it was created on.
 */
#ifndef EDGELBD_PUSH_VENDOR_H
#define EDGELBD_PUSH_VENDOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

#define PUSH_VENDOR_TEXT_MAX	 255  /* URLs, paths, secrets */
#define PUSH_VENDOR_ID_MAX	 127  /* ids, names */
#define PUSH_VENDOR_REASONS	 32   /* distinct reasons counted */
#define PUSH_VENDOR_REASON_MAX	 47   /* a counted reason's length */
#define PUSH_VENDOR_TOKEN_MAX	 4096 /* a device token's length */
#define PUSH_VENDOR_PAYLOAD_MAX	 4096 /* APNs' limit; the others' too */
#define PUSH_VENDOR_COLLAPSE_MAX 64   /* apns-collapse-id */

/* What a vendor is asked to deliver (the strings are copied by send). */
struct push_vendor_msg {
	const char *id;		  /* message id (uuid text) */
	const char *token;	  /* the device's vendor token */
	const char *collapse_key; /* or NULL */
	uint32_t ttl_s;		  /* 0: now or never */
	int priority;		  /* 5 or 10, APNs' scale */
	const uint8_t *payload;	  /* JSON object text */
	size_t len;
};

enum push_vendor_result { PV_OK, PV_RETRY, PV_BAD_TOKEN, PV_FAILED };
#define PV_NRESULTS 4

/* The end of one send; reason: the vendor's word ("Unregistered",
 * "UNREGISTERED", "80300007", "timeout", ...) or NULL for PV_OK, valid
 * during the call. */
typedef void (*push_vendor_cb)(void *arg, enum push_vendor_result r,
			       const char *reason);

/* One [push_vendor NAME] section. */
struct push_vendor_conf {
	char name[PUSH_VENDOR_ID_MAX + 1];
	char type[16];				 /* apns, fcm, huawei, xiaomi */
	char endpoint[PUSH_VENDOR_TEXT_MAX + 1]; /* https://host[:port] */
	char address[64]; /* IP to connect to; "": host's */
	char token_url[PUSH_VENDOR_TEXT_MAX + 1];     /* fcm, huawei */
	char token_address[64];			      /* its IP; "": host's */
	char key_file[PUSH_VENDOR_TEXT_MAX + 1];      /* apns .p8, fcm JSON */
	char key_id[PUSH_VENDOR_ID_MAX + 1];	      /* apns kid */
	char team_id[PUSH_VENDOR_ID_MAX + 1];	      /* apns iss */
	char topic[PUSH_VENDOR_TEXT_MAX + 1];	      /* apns-topic */
	char push_type[32];			      /* apns-push-type */
	char project_id[PUSH_VENDOR_ID_MAX + 1];      /* fcm */
	char app_id[PUSH_VENDOR_ID_MAX + 1];	      /* huawei (client_id) */
	char client_id[PUSH_VENDOR_ID_MAX + 1];	      /* huawei */
	char client_secret[PUSH_VENDOR_TEXT_MAX + 1]; /* huawei */
	char app_secret[PUSH_VENDOR_TEXT_MAX + 1];    /* xiaomi */
	char package_name[PUSH_VENDOR_TEXT_MAX + 1];  /* xiaomi */
	char ca_file[PUSH_VENDOR_TEXT_MAX + 1];	      /* "": system CAs */
	char resolver[64]; /* DNS server IP[:port]; "": resolv.conf's */
	uint32_t connect_timeout_ms; /* TCP + TLS; default 5 s */
	uint32_t request_timeout_ms; /* whole request; default 10 s */
	uint32_t token_refresh_ms;   /* apns JWT age; 20-50 min, def. 40 */
	uint32_t token_margin_ms;    /* oauth: renew before expiry; 60 s */
	uint32_t max_conns;	     /* per host; default 4 */
};

/* Counters of one channel. */
struct push_vendor_stats {
	uint64_t sends;		       /* send calls accepted */
	uint64_t results[PV_NRESULTS]; /* callbacks by result */
	uint64_t requests;	       /* HTTP requests to the vendor */
	uint64_t token_fetches;	       /* JWTs made, access tokens got */
	uint64_t token_errors;	       /* failed to make or get one */
	uint64_t resent;	       /* sent again after a renewal */
	uint64_t timeouts;	       /* requests that timed out */
	uint64_t invalid;	       /* messages refused by send */
	uint64_t reasons_dropped;      /* reasons past the table */
	struct {
		char reason[PUSH_VENDOR_REASON_MAX + 1];
		uint64_t n;
	} reasons[PUSH_VENDOR_REASONS]; /* failures by reason */
	uint32_t nreasons;
};

struct push_vendor_ops {
	const char *name; /* "apns", "fcm", "huawei", "xiaomi" */
	/*
	 * A channel on base from c (push_vendor_conf_validate passed): reads
	 * key files, sets up the HTTP client. 0, or -errno with err set:
	 * -EINVAL (bad endpoint, key or key file), -ENOENT (a file is
	 * missing), -EPROTO (TLS or ca_file), -ENOMEM.
	 */
	int (*create)(struct event_base *base, const struct push_vendor_conf *c,
		      void **state, char *err, size_t errlen);
	/*
	 * Deliver m; cb is called exactly once, later, from the loop (never
	 * from inside send). 0, or -EINVAL (a token, payload or collapse key
	 * the vendor cannot take: empty, too long, payload not a JSON
	 * object; counted as invalid), -ENOMEM. No callback after an error.
	 */
	int (*send)(void *state, const struct push_vendor_msg *m,
		    push_vendor_cb cb, void *arg);
	/* Ends every send in flight with cb(PV_RETRY, "cancelled"), then
	 * frees. Not from inside a callback. */
	void (*destroy)(void *state);
	/* The channel's counters. */
	const struct push_vendor_stats *(*stats)(void *state);
};

/* The vendor named name, or NULL. */
const struct push_vendor_ops *push_vendor_find(const char *name);

/* "ok", "retry", "bad_token", "failed". */
const char *push_vendor_result_name(enum push_vendor_result r);

/* Defaults, and name as the section's name (truncated to fit). */
void push_vendor_conf_init(struct push_vendor_conf *c, const char *name);
/*
 * One key of a [push_vendor NAME] section: type, endpoint, address,
 * token_url, token_address, resolver, key_file, key_id, team_id, topic, push_type, project_id,
 * app_id, client_id, client_secret, app_secret, package_name, ca_file,
 * connect_timeout, request_timeout, token_refresh, token_margin (N, Nms,
 * Ns, Nm), max_conns. 0, or -1 with err saying why (unknown key, empty or
 * too long value, bad number or range).
 */
int push_vendor_conf_key(struct push_vendor_conf *c, const char *key,
			 const char *value, char *err, size_t errlen);
/* After the section: what the type needs is there. 0 or -1 with err. */
int push_vendor_conf_validate(const struct push_vendor_conf *c, char *err,
			      size_t errlen);

#endif
