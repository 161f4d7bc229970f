/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HttpDNS core (see hdns.h): routing, signatures, and the JSON and text
 * dialects. The request primitives (client address, resolution) are in
 * hdns_req.c, DNS over HTTPS in hdns_doh.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hdns.h"
#include "hdns_doh.h"

#define JSON_CT	       "application/json"
#define TEXT_CT	       "text/plain; charset=utf-8"
#define SIGN_MAX_AHEAD 86400 /* t at most 24 h ahead */

enum { Q4 = 1, Q6 = 2 };

/* One parsed JSON/text request: names, families, client. */
struct dreq {
	char names[HDNS_BATCH_LIMIT][HDNS_NAME_MAX + 1];
	size_t nnames;
	unsigned int fams; /* Q4 | Q6 */
	struct lb_addr client;
	char client_str[LB_ADDRSTRLEN];
};

/* ---- signatures -------------------------------------------------------- */

int
hdns_sign(const struct hdns_conf *c, const char *host, const char *t, char *out,
	  size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char msg[2 * HDNS_PARAM_MAX];
	int n;

	if (c->secret[0] == '\0' || len < 65)
		return -EINVAL;
	n = snprintf(msg, sizeof(msg), "%s-%s-%s", host, c->secret, t);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -EINVAL;
	if (c->sign_algo == HDNS_SIGN_MD5) {
		if (!EVP_Digest(msg, (size_t)n, md, &mdlen, EVP_md5(), NULL))
			return -EINVAL;
	} else if (HMAC(EVP_sha256(), c->secret, (int)strlen(c->secret),
			(const unsigned char *)msg, (size_t)n, md,
			&mdlen) == NULL) {
		return -EINVAL;
	}
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[2 * mdlen] = '\0';
	return 0;
}

/* NULL when the signature of host is valid, else the error code. */
static const char *
check_signature(const struct hdns_conf *c, const struct hdns_req *req,
		const char *host, int *status)
{
	char t[32], s[HDNS_PARAM_MAX], want[65];
	int64_t exp;
	char *end;
	int tn, sn;

	*status = 403;
	if (c->secret[0] == '\0')
		return "SignatureDisabled";
	tn = hdns_query_param(req->query, "t", t, sizeof(t));
	sn = hdns_query_param(req->query, "s", s, sizeof(s));
	*status = 400;
	if (tn == -ENOENT || sn == -ENOENT)
		return "MissingArgument";
	if (tn <= 0 || sn < 0)
		return "InvalidArgument";
	errno = 0;
	exp = strtoll(t, &end, 10);
	if (*end != '\0' || errno != 0 || t[0] < '0' || t[0] > '9')
		return "InvalidArgument";
	*status = 403;
	if (exp < req->now)
		return "SignatureExpired";
	if (exp - req->now > SIGN_MAX_AHEAD)
		return "SignatureExpiryTooFar";
	if (hdns_sign(c, host, t, want, sizeof(want)) < 0)
		return "InvalidSignature";
	for (int i = 0; i < sn; i++)
		if (s[i] >= 'A' && s[i] <= 'F')
			s[i] = (char)(s[i] - 'A' + 'a');
	if ((size_t)sn != strlen(want) || CRYPTO_memcmp(s, want, (size_t)sn))
		return "InvalidSignature";
	return NULL;
}

/* ---- errors ------------------------------------------------------------ */

static int
json_error(struct hdns_resp *resp, int status, const char *code)
{
	char body[96];
	int n = snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);

	resp->code = code;
	resp->max_age = -1;
	return hdns_resp_set(resp, status, JSON_CT, body, (size_t)n);
}

/* The text dialect answers errors with the status and an empty body. */
static int
text_error(struct hdns_resp *resp, int status, const char *code)
{
	resp->code = code;
	resp->max_age = -1;
	return hdns_resp_set(resp, status, TEXT_CT, "", 0);
}

/* ---- the JSON and text dialects ------------------------------------------ */

/*
 * Names (comma-separated in param), families and client of a request.
 * NULL on success, else the error code with *status.
 */
static const char *
parse_dreq(const struct hdns_conf *c, const struct hdns_req *req,
	   const char *list, size_t max, struct dreq *d, int *status)
{
	char ip[HDNS_PARAM_MAX];
	const char *p = list;
	int n;

	*status = 400;
	/* not the names: 16 KiB per request, each written before use */
	d->nnames = 0;
	d->fams = 0;
	memset(&d->client, 0, sizeof(d->client));
	d->client_str[0] = '\0';
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);

		if (d->nnames == max)
			return "TooManyHosts";
		if (hdns_name_normalise(p, len, d->names[d->nnames]) < 0)
			return "InvalidHost";
		d->nnames++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	n = hdns_query_param(req->query, "ip", ip, sizeof(ip));
	if (n >= 0) {
		if (hdns_addr_parse_n(ip, (size_t)n, &d->client) < 0)
			return "InvalidIp";
	} else if (n != -ENOENT) {
		return "InvalidIp";
	} else {
		hdns_client_addr(c, req, &d->client);
	}
	lb_addr_format(&d->client, d->client_str, sizeof(d->client_str));
	return NULL;
}

static const char *
qtype_label(unsigned int fams)
{
	return fams == (Q4 | Q6) ? "A+AAAA" : fams == Q6 ? "AAAA" : "A";
}

static cJSON *
json_addrs(const struct lb_addr *v, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	char buf[LB_ADDRSTRLEN];

	for (size_t i = 0; arr != NULL && i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(lb_addr_format(
						  &v[i], buf, sizeof(buf))));
	return arr;
}

/*
 * An integer member. cJSON prints every number as a double ("%1.15g",
 * read back with sscanf to check it): a third of the JSON dialect's time
 * went there. TTLs and types are integers; they go in as raw text.
 */
static void
json_add_uint(cJSON *o, const char *name, uint32_t v)
{
	char buf[12];

	snprintf(buf, sizeof(buf), "%u", v);
	cJSON_AddRawToObject(o, name, buf);
}

static int
json_send(struct hdns_resp *resp, cJSON *root, int32_t max_age)
{
	char buf[2048], *out = NULL;
	int rc;

	if (root == NULL)
		return -ENOMEM;
	/* Most answers fit the stack buffer; a large batch is printed on the
	 * heap. */
	if (cJSON_PrintPreallocated(root, buf, sizeof(buf), false))
		rc = hdns_resp_set(resp, 200, JSON_CT, buf, strlen(buf));
	else if ((out = cJSON_PrintUnformatted(root)) != NULL)
		rc = hdns_resp_set(resp, 200, JSON_CT, out, strlen(out));
	else
		rc = -ENOMEM;
	cJSON_free(out);
	cJSON_Delete(root);
	resp->max_age = max_age;
	return rc;
}

/* /d?host=, /resolve?host=, /sign_d, /sign_resolve */
static int
json_dialect(const struct hdns_conf *c, const struct hdns_source *src,
	     const struct hdns_req *req, struct hdns_resp *resp, bool batch,
	     bool signed_)
{
	char hosts[HDNS_PARAM_MAX], qp[16];
	struct hdns_answer a;
	const char *code;
	struct dreq *d;
	cJSON *root, *arr, *o;
	int32_t max_age = HDNS_TTL_LIMIT;
	int n, status, rc;

	resp->dialect = HDNS_DIALECT_JSON;
	n = hdns_query_param(req->query, "host", hosts, sizeof(hosts));
	if (n == -ENOENT)
		return json_error(resp, 400, "MissingArgument");
	if (n < 0)
		return json_error(resp, 400, "InvalidHost");
	if (signed_) {
		code = check_signature(c, req, hosts, &status);
		if (code != NULL)
			return json_error(resp, status, code);
	}
	d = malloc(sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	code = parse_dreq(c, req, hosts, batch ? c->max_batch : 1, d, &status);
	n = hdns_query_param(req->query, "query", qp, sizeof(qp));
	if (code == NULL && n >= 0) {
		d->fams = strcmp(qp, "4") == 0	 ? Q4
			  : strcmp(qp, "6") == 0 ? Q6
			  : strcmp(qp, "4,6") == 0 || strcmp(qp, "6,4") == 0
				  ? Q4 | Q6
				  : 0;
		if (d->fams == 0)
			code = "InvalidArgument";
	} else if (code == NULL) {
		d->fams = n == -ENOENT ? Q4 : 0;
		if (d->fams == 0)
			code = "InvalidArgument";
	}
	if (code != NULL) {
		free(d);
		return json_error(resp, status, code);
	}
	resp->qtype = qtype_label(d->fams);
	root = cJSON_CreateObject();
	arr = root != NULL && batch ? cJSON_AddArrayToObject(root, "dns")
				    : NULL;
	for (size_t i = 0; root != NULL && i < d->nnames; i++) {
		hdns_resolve(c, src, d->names[i], &d->client, &a);
		for (int f = Q4; f <= Q6; f <<= 1) {
			uint32_t ttl = f == Q4 ? a.ttl4 : a.ttl6;

			if (!(d->fams & f))
				continue;
			if ((int32_t)ttl < max_age)
				max_age = (int32_t)ttl;
			if (!batch)
				continue;
			o = cJSON_CreateObject();
			cJSON_AddItemToArray(arr, o);
			cJSON_AddStringToObject(o, "host", d->names[i]);
			cJSON_AddStringToObject(o, "client_ip", d->client_str);
			cJSON_AddItemToObject(o, "ips",
					      f == Q4 ? json_addrs(a.v4, a.n4)
						      : json_addrs(a.v6, a.n6));
			json_add_uint(o, "type", f == Q4 ? 1 : 28);
			json_add_uint(o, "ttl", ttl);
			json_add_uint(o, "origin_ttl", a.origin_ttl);
		}
		if (batch)
			continue;
		cJSON_AddStringToObject(root, "host", d->names[i]);
		cJSON_AddItemToObject(root, "ips",
				      d->fams & Q4 ? json_addrs(a.v4, a.n4)
						   : cJSON_CreateArray());
		cJSON_AddItemToObject(root, "ipsv6",
				      d->fams & Q6 ? json_addrs(a.v6, a.n6)
						   : cJSON_CreateArray());
		json_add_uint(root, "ttl", (uint32_t)max_age);
		json_add_uint(root, "origin_ttl", a.origin_ttl);
		cJSON_AddStringToObject(root, "client_ip", d->client_str);
	}
	free(d);
	rc = json_send(resp, root, max_age);
	resp->code = "ok";
	return rc;
}

/* "a;b[,ttl]" or "0" into out at *off. */
static void
text_family(char *out, size_t len, size_t *off, const struct lb_addr *v,
	    size_t n, uint32_t ttl, bool with_ttl)
{
	char buf[LB_ADDRSTRLEN];
	int w;

	if (n == 0) {
		w = snprintf(out + *off, len - *off, "0");
	} else {
		w = 0;
		for (size_t i = 0; i < n; i++) {
			int k = snprintf(
				out + *off + (size_t)w, len - *off - (size_t)w,
				"%s%s", i ? ";" : "",
				lb_addr_format(&v[i], buf, sizeof(buf)));
			w += k;
		}
		if (with_ttl)
			w += snprintf(out + *off + (size_t)w,
				      len - *off - (size_t)w, ",%u", ttl);
	}
	*off += (size_t)w;
}

/* /d?dn=H[,H2]&ip=&ttl=1&type=aaaa|addrs&clientip=1 */
static int
text_dialect(const struct hdns_conf *c, const struct hdns_source *src,
	     const struct hdns_req *req, struct hdns_resp *resp)
{
	char dn[HDNS_PARAM_MAX], opt[16];
	bool with_ttl, with_client;
	struct hdns_answer a;
	const char *code;
	struct dreq *d;
	int32_t max_age = HDNS_TTL_LIMIT;
	size_t cap, off = 0;
	char *out;
	int n, status, rc;

	resp->dialect = HDNS_DIALECT_TEXT;
	n = hdns_query_param(req->query, "dn", dn, sizeof(dn));
	if (n < 0)
		return text_error(resp, 400, "InvalidHost");
	with_ttl = hdns_query_param(req->query, "ttl", opt, sizeof(opt)) > 0 &&
		   strcmp(opt, "1") == 0;
	with_client = hdns_query_param(req->query, "clientip", opt,
				       sizeof(opt)) > 0 &&
		      strcmp(opt, "1") == 0;
	d = malloc(sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	code = parse_dreq(c, req, dn, c->max_batch, d, &status);
	n = hdns_query_param(req->query, "type", opt, sizeof(opt));
	d->fams = n == -ENOENT			  ? Q4
		  : n < 0			  ? 0
		  : strcasecmp(opt, "a") == 0	  ? Q4
		  : strcasecmp(opt, "aaaa") == 0  ? Q6
		  : strcasecmp(opt, "addrs") == 0 ? Q4 | Q6
						  : 0;
	if (code == NULL && d->fams == 0)
		code = "InvalidArgument";
	if (code != NULL) {
		free(d);
		return text_error(resp, status, code);
	}
	resp->qtype = qtype_label(d->fams);
	/* per name: "name.:" + 2 * 16 addresses of up to 40 chars + ttls */
	cap = d->nnames * (HDNS_NAME_MAX + 3 + 2 * HDNS_ADDR_MAX * 41 + 32) +
	      LB_ADDRSTRLEN + 2;
	out = malloc(cap);
	if (out == NULL) {
		free(d);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->nnames; i++) {
		hdns_resolve(c, src, d->names[i], &d->client, &a);
		if (d->nnames > 1)
			off += (size_t)snprintf(out + off, cap - off,
						"%s%s.:", i ? "\n" : "",
						d->names[i]);
		if (d->fams & Q4) {
			text_family(out, cap, &off, a.v4, a.n4, a.ttl4,
				    with_ttl);
			if ((int32_t)a.ttl4 < max_age)
				max_age = (int32_t)a.ttl4;
		}
		if (d->fams == (Q4 | Q6))
			off += (size_t)snprintf(out + off, cap - off, "-");
		if (d->fams & Q6) {
			text_family(out, cap, &off, a.v6, a.n6, a.ttl6,
				    with_ttl);
			if ((int32_t)a.ttl6 < max_age)
				max_age = (int32_t)a.ttl6;
		}
	}
	if (with_client)
		off += (size_t)snprintf(out + off, cap - off, "|%s",
					d->client_str);
	rc = hdns_resp_set(resp, 200, TEXT_CT, out, off);
	resp->max_age = max_age;
	resp->code = "ok";
	free(out);
	free(d);
	return rc;
}

/* ---- routing ------------------------------------------------------------- */

static bool
has_param(const struct hdns_req *req, const char *name)
{
	char tmp[2];
	int n = hdns_query_param(req->query, name, tmp, sizeof(tmp));

	return n != -ENOENT;
}

static bool
accepts_json(const char *accept)
{
	return accept != NULL && strstr(accept, "application/dns-json") != NULL;
}

int
hdns_handle(const struct hdns_conf *c, const struct hdns_source *src,
	    const struct hdns_req *req, struct hdns_resp *resp)
{
	const char *path = req->path != NULL ? req->path : "";
	bool get;

	memset(resp, 0, sizeof(*resp));
	resp->status = 500;
	resp->max_age = -1;
	resp->dialect = HDNS_DIALECT_OTHER;
	resp->qtype = "none";
	resp->code = "ok";
	if (req->query != NULL && strlen(req->query) > HDNS_QUERY_MAX)
		return json_error(resp, 414, "UriTooLong");
	if (strcmp(path, "/dns-query") == 0) {
		if (accepts_json(req->accept) ||
		    (has_param(req, "name") && !has_param(req, "dns")))
			return hdns_doh_json(c, src, req, resp);
		return hdns_doh(c, src, req, resp);
	}
	get = strcmp(req->method, "GET") == 0 ||
	      strcmp(req->method, "HEAD") == 0;
	if (strcmp(path, "/d") == 0) {
		if (!get)
			return json_error(resp, 405, "MethodNotAllowed");
		if (!has_param(req, "host") && has_param(req, "dn"))
			return text_dialect(c, src, req, resp);
		return json_dialect(c, src, req, resp, false, false);
	}
	if (strcmp(path, "/resolve") == 0) {
		if (!get)
			return json_error(resp, 405, "MethodNotAllowed");
		if (!has_param(req, "host") && has_param(req, "name"))
			return hdns_doh_json(c, src, req, resp);
		return json_dialect(c, src, req, resp, true, false);
	}
	if (strcmp(path, "/sign_d") == 0 ||
	    strcmp(path, "/sign_resolve") == 0) {
		if (!get)
			return json_error(resp, 405, "MethodNotAllowed");
		return json_dialect(c, src, req, resp, path[6] == 'r', true);
	}
	return json_error(resp, 404, "NotFound");
}
