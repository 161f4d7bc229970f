/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DNS over HTTPS: RFC 8484 wire format and the DNS JSON form (see
 * hdns_doh.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <cjson/cJSON.h>
#include <ldns/ldns.h>

#include "hdns_doh.h"

#define DOH_MSG_CT   "application/dns-message"
#define DOH_JSON_CT  "application/dns-json"
#define EDNS_ECS     8
#define DNS_HDR_LEN  12
#define DNS_UDP_SIZE 1232

/* A question after parsing, with what the answer depends on. */
struct doh_query {
	uint16_t id;
	bool rd, cd;
	int rcode;    /* LDNS_RCODE_*: an answer is due in any case */
	ldns_rr *qrr; /* the question (owned by the packet), or NULL */
	char name[HDNS_NAME_MAX + 1];
	bool name_ok; /* name normalised */
	uint16_t qtype;
	bool edns;
	bool has_ecs;
	struct hdns_prefix ecs;
	uint8_t ecs_raw[4 + 16]; /* family, source, scope, address */
	size_t ecs_raw_len;
};

static int
b64url_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '-')
		return 62;
	if (ch == '_')
		return 63;
	return -1;
}

int
hdns_b64url_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen)
{
	uint32_t acc = 0;
	size_t n = 0;
	int bits = 0;

	if (inlen % 4 == 1)
		return -EINVAL;
	for (size_t i = 0; i < inlen; i++) {
		int v = b64url_value(in[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == outlen)
				return -E2BIG;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* leftover bits must be zero (canonical encoding) */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -EINVAL;
	return (int)n;
}

/* RFC 7871 option: FAMILY(2) SOURCE(1) SCOPE(1) ADDRESS. false: FORMERR */
static bool
parse_ecs(const uint8_t *p, size_t len, struct doh_query *q)
{
	uint16_t family;
	uint8_t src;
	size_t alen, max;

	if (len < 4)
		return false;
	family = (uint16_t)(p[0] << 8 | p[1]);
	src = p[2];
	max = family == 1 ? 32 : family == 2 ? 128 : 0;
	alen = (src + 7u) / 8u;
	if (max == 0 || src > max || len != 4 + alen)
		return false;
	memset(&q->ecs, 0, sizeof(q->ecs));
	q->ecs.net.family = family == 1 ? AF_INET : AF_INET6;
	memcpy(q->ecs.net.bytes, p + 4, alen);
	if (alen && (src % 8) &&
	    (p[4 + alen - 1] & (uint8_t)(0xffu >> (src % 8))) != 0)
		return false; /* address bits beyond the prefix */
	q->ecs.plen = src;
	q->has_ecs = true;
	memcpy(q->ecs_raw, p, len);
	q->ecs_raw_len = len;
	q->ecs_raw[3] = src; /* scope: the answer holds for the whole prefix */
	return true;
}

static bool
parse_edns(const ldns_pkt *pkt, struct doh_query *q)
{
	const ldns_rdf *d = ldns_pkt_edns_data(pkt);
	const uint8_t *p;
	size_t len, off = 0;

	q->edns = ldns_pkt_edns(pkt);
	if (d == NULL)
		return true;
	p = ldns_rdf_data(d);
	len = ldns_rdf_size(d);
	while (off + 4 <= len) {
		uint16_t code = (uint16_t)(p[off] << 8 | p[off + 1]);
		uint16_t olen = (uint16_t)(p[off + 2] << 8 | p[off + 3]);

		off += 4;
		if (olen > len - off)
			return false;
		if (code == EDNS_ECS && !parse_ecs(p + off, olen, q))
			return false;
		off += olen;
	}
	return off == len;
}

/* -EINVAL: not a DNS message at all (HTTP 400). */
static int
parse_query(const uint8_t *msg, size_t len, ldns_pkt **pkt, struct doh_query *q)
{
	const ldns_rdf *owner;
	char *name;

	memset(q, 0, sizeof(*q));
	if (len < DNS_HDR_LEN)
		return -EINVAL;
	q->id = (uint16_t)(msg[0] << 8 | msg[1]);
	if (ldns_wire2pkt(pkt, msg, len) != LDNS_STATUS_OK) {
		*pkt = NULL;
		return -EINVAL;
	}
	q->rd = ldns_pkt_rd(*pkt);
	q->cd = ldns_pkt_cd(*pkt);
	if (ldns_pkt_get_opcode(*pkt) != LDNS_PACKET_QUERY) {
		q->rcode = LDNS_RCODE_NOTIMPL;
		return 0;
	}
	if (ldns_pkt_qr(*pkt) || ldns_pkt_qdcount(*pkt) != 1 ||
	    ldns_rr_list_rr_count(ldns_pkt_question(*pkt)) != 1 ||
	    !parse_edns(*pkt, q)) {
		q->rcode = LDNS_RCODE_FORMERR;
		return 0;
	}
	q->qrr = ldns_rr_list_rr(ldns_pkt_question(*pkt), 0);
	q->qtype = (uint16_t)ldns_rr_get_type(q->qrr);
	owner = ldns_rr_owner(q->qrr);
	name = owner != NULL ? ldns_rdf2str(owner) : NULL;
	q->name_ok = name != NULL &&
		     hdns_name_normalise(name, strlen(name), q->name) == 0;
	free(name);
	if (ldns_rr_get_class(q->qrr) != LDNS_RR_CLASS_IN)
		q->rcode = LDNS_RCODE_REFUSED;
	return 0;
}

static bool
push_addr(ldns_pkt *r, const ldns_rdf *owner, const struct lb_addr *a,
	  uint32_t ttl)
{
	bool v4 = a->family == AF_INET;
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *o = ldns_rdf_clone(owner);
	ldns_rdf *d =
		ldns_rdf_new_frm_data(v4 ? LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA,
				      v4 ? 4 : 16, a->bytes);

	if (rr == NULL || o == NULL || d == NULL) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(o);
		ldns_rdf_deep_free(d);
		return false;
	}
	ldns_rr_set_owner(rr, o);
	ldns_rr_set_type(rr, v4 ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, ttl);
	if (!ldns_rr_push_rdf(rr, d)) {
		ldns_rdf_deep_free(d);
		ldns_rr_free(rr);
		return false;
	}
	return ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr);
}

/*
 * Fill the answer for q into a (name bound and type A/AAAA), set the
 * rcode and the cache lifetime. Shared by both forms.
 */
static void
decide(const struct hdns_conf *c, const struct hdns_source *src,
       const struct lb_addr *client, struct doh_query *q, struct hdns_answer *a,
       int32_t *max_age)
{
	memset(a, 0, sizeof(*a));
	*max_age = 0;
	if (q->rcode != 0)
		return;
	if (q->name_ok)
		hdns_resolve(c, src, q->name, client, a);
	if (!a->known) {
		q->rcode = LDNS_RCODE_REFUSED;
		return;
	}
	if (q->qtype == LDNS_RR_TYPE_A)
		*max_age = (int32_t)a->ttl4;
	else if (q->qtype == LDNS_RR_TYPE_AAAA)
		*max_age = (int32_t)a->ttl6;
	else
		*max_age = (int32_t)c->empty_ttl;
}

static int
build_wire(const struct doh_query *q, const struct hdns_answer *a,
	   uint8_t **wire, size_t *len)
{
	ldns_pkt *r = ldns_pkt_new();
	ldns_rdf *ecs = NULL;
	bool ok = r != NULL;

	if (!ok)
		return -ENOMEM;
	ldns_pkt_set_id(r, q->id);
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_opcode(r, LDNS_PACKET_QUERY);
	ldns_pkt_set_rd(r, q->rd);
	ldns_pkt_set_cd(r, q->cd);
	ldns_pkt_set_rcode(r, (uint8_t)q->rcode);
	if (q->qrr != NULL) {
		ldns_rr *qc = ldns_rr_clone(q->qrr);

		ok = qc != NULL &&
		     ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, qc);
		if (qc != NULL && !ok)
			ldns_rr_free(qc);
	}
	ldns_pkt_set_aa(r, q->rcode == 0);
	if (ok && q->rcode == 0 && q->qtype == LDNS_RR_TYPE_A)
		for (size_t i = 0; ok && i < a->n4; i++)
			ok = push_addr(r, ldns_rr_owner(q->qrr), &a->v4[i],
				       a->ttl4);
	if (ok && q->rcode == 0 && q->qtype == LDNS_RR_TYPE_AAAA)
		for (size_t i = 0; ok && i < a->n6; i++)
			ok = push_addr(r, ldns_rr_owner(q->qrr), &a->v6[i],
				       a->ttl6);
	if (ok && q->edns) {
		ldns_pkt_set_edns_udp_size(r, DNS_UDP_SIZE);
		if (q->has_ecs) {
			uint8_t opt[4 + sizeof(q->ecs_raw)];

			opt[0] = 0;
			opt[1] = EDNS_ECS;
			opt[2] = 0;
			opt[3] = (uint8_t)q->ecs_raw_len;
			memcpy(opt + 4, q->ecs_raw, q->ecs_raw_len);
			ecs = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN,
						    4 + q->ecs_raw_len, opt);
			ok = ecs != NULL;
			if (ok)
				ldns_pkt_set_edns_data(r, ecs);
		}
	}
	if (ok && ldns_pkt2wire(wire, r, len) != LDNS_STATUS_OK)
		ok = false;
	ldns_pkt_free(r); /* frees the edns data too */
	return ok ? 0 : -ENOMEM;
}

static bool
ctype_is(const char *h, const char *want)
{
	size_t n = strlen(want);

	if (h == NULL)
		return false;
	while (*h == ' ')
		h++;
	return strncasecmp(h, want, n) == 0 &&
	       (h[n] == '\0' || h[n] == ';' || h[n] == ' ');
}

static int
bad(struct hdns_resp *resp, int status, const char *code)
{
	resp->code = code;
	resp->max_age = -1;
	return hdns_resp_set(resp, status, "text/plain", code, strlen(code));
}

static const char *
rcode_name(int rcode)
{
	static const char *const names[] = { "NOERROR",	 "FORMERR", "SERVFAIL",
					     "NXDOMAIN", "NOTIMP",  "REFUSED" };

	return rcode >= 0 && rcode < 6 ? names[rcode] : "other";
}

static const char *
qtype_label(uint16_t t)
{
	return t == LDNS_RR_TYPE_A	? "A"
	       : t == LDNS_RR_TYPE_AAAA ? "AAAA"
					: "other";
}

int
hdns_doh(const struct hdns_conf *c, const struct hdns_source *src,
	 const struct hdns_req *req, struct hdns_resp *resp)
{
	char param[HDNS_PARAM_MAX];
	uint8_t buf[HDNS_BODY_LIMIT];
	const uint8_t *msg;
	struct doh_query q;
	struct hdns_answer a;
	struct lb_addr client;
	ldns_pkt *pkt = NULL;
	uint8_t *wire = NULL;
	size_t len, wlen = 0;
	int32_t max_age;
	int n, rc;

	resp->dialect = HDNS_DIALECT_DOH;
	if (strcmp(req->method, "POST") == 0) {
		if (!ctype_is(req->content_type, DOH_MSG_CT))
			return bad(resp, 415, "UnsupportedMediaType");
		if (req->body_len > c->max_body)
			return bad(resp, 413, "BodyTooLarge");
		msg = req->body;
		len = req->body_len;
	} else if (strcmp(req->method, "GET") == 0 ||
		   strcmp(req->method, "HEAD") == 0) {
		n = hdns_query_param(req->query, "dns", param, sizeof(param));
		if (n == -ENOENT)
			return bad(resp, 400, "MissingArgument");
		if (n < 0)
			return bad(resp, 400, "InvalidArgument");
		n = hdns_b64url_decode(param, (size_t)n, buf, sizeof(buf));
		if (n < 0)
			return bad(resp, 400, "InvalidBase64");
		msg = buf;
		len = (size_t)n;
	} else {
		return bad(resp, 405, "MethodNotAllowed");
	}
	if (parse_query(msg, len, &pkt, &q) < 0)
		return bad(resp, 400, "MalformedMessage");
	if (q.has_ecs)
		client = q.ecs.net;
	else
		hdns_client_addr(c, req, &client);
	decide(c, src, &client, &q, &a, &max_age);
	rc = build_wire(&q, &a, &wire, &wlen);
	ldns_pkt_free(pkt);
	if (rc == 0)
		rc = hdns_resp_set(resp, 200, DOH_MSG_CT, wire, wlen);
	free(wire);
	resp->max_age = max_age;
	resp->qtype = q.qrr != NULL ? qtype_label(q.qtype) : "none";
	resp->code = rcode_name(q.rcode);
	return rc;
}

/* ---- JSON form --------------------------------------------------------- */

static int
parse_type(const char *s, uint16_t *t)
{
	uint32_t v;
	ldns_rr_type rt;

	if (lb_parse_u32(s, 1, 65535, &v) == 0) {
		*t = (uint16_t)v;
		return 0;
	}
	rt = ldns_get_rr_type_by_name(s);
	if (rt == 0)
		return -EINVAL;
	*t = (uint16_t)rt;
	return 0;
}

static cJSON *
json_rr(const char *name, uint16_t type, uint32_t ttl, const struct lb_addr *a)
{
	cJSON *o = cJSON_CreateObject();
	char buf[LB_ADDRSTRLEN];

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddNumberToObject(o, "type", type);
	cJSON_AddNumberToObject(o, "TTL", ttl);
	cJSON_AddStringToObject(o, "data", lb_addr_format(a, buf, sizeof(buf)));
	return o;
}

int
hdns_doh_json(const struct hdns_conf *c, const struct hdns_source *src,
	      const struct hdns_req *req, struct hdns_resp *resp)
{
	char name[HDNS_PARAM_MAX], param[HDNS_PARAM_MAX], fq[HDNS_NAME_MAX + 2];
	struct doh_query q = { 0 };
	struct hdns_answer a;
	struct lb_addr client;
	cJSON *root = NULL, *arr, *o;
	int32_t max_age;
	char *out;
	int n, rc = -ENOMEM;

	resp->dialect = HDNS_DIALECT_DOH_JSON;
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
		return bad(resp, 405, "MethodNotAllowed");
	n = hdns_query_param(req->query, "name", name, sizeof(name));
	if (n == -ENOENT)
		return bad(resp, 400, "MissingArgument");
	if (n < 0 || hdns_name_normalise(name, (size_t)n, q.name) < 0)
		return bad(resp, 400, "InvalidName");
	q.name_ok = true;
	q.qtype = LDNS_RR_TYPE_A;
	q.rd = true;
	n = hdns_query_param(req->query, "type", param, sizeof(param));
	if (n >= 0 ? parse_type(param, &q.qtype) < 0 : n != -ENOENT)
		return bad(resp, 400, "InvalidType");
	n = hdns_query_param(req->query, "edns_client_subnet", param,
			     sizeof(param));
	if (n >= 0) {
		uint8_t plen;

		if (lb_prefix_parse(param, &client, &plen) < 0)
			return bad(resp, 400, "InvalidSubnet");
	} else {
		hdns_client_addr(c, req, &client);
	}
	decide(c, src, &client, &q, &a, &max_age);
	snprintf(fq, sizeof(fq), "%s.", q.name);
	root = cJSON_CreateObject();
	if (root == NULL)
		goto out;
	cJSON_AddNumberToObject(root, "Status", q.rcode);
	cJSON_AddBoolToObject(root, "TC", 0);
	cJSON_AddBoolToObject(root, "RD", q.rd);
	cJSON_AddBoolToObject(root, "RA", 0);
	cJSON_AddBoolToObject(root, "AD", 0);
	cJSON_AddBoolToObject(root, "CD", 0);
	arr = cJSON_AddArrayToObject(root, "Question");
	o = cJSON_CreateObject();
	if (arr == NULL || o == NULL) {
		cJSON_Delete(o);
		goto out;
	}
	cJSON_AddItemToArray(arr, o);
	cJSON_AddStringToObject(o, "name", fq);
	cJSON_AddNumberToObject(o, "type", q.qtype);
	if (q.rcode == 0 && ((q.qtype == LDNS_RR_TYPE_A && a.n4) ||
			     (q.qtype == LDNS_RR_TYPE_AAAA && a.n6))) {
		bool v4 = q.qtype == LDNS_RR_TYPE_A;
		size_t cnt = v4 ? a.n4 : a.n6;

		arr = cJSON_AddArrayToObject(root, "Answer");
		for (size_t i = 0; arr != NULL && i < cnt; i++) {
			o = json_rr(fq, q.qtype, v4 ? a.ttl4 : a.ttl6,
				    v4 ? &a.v4[i] : &a.v6[i]);
			if (o == NULL)
				goto out;
			cJSON_AddItemToArray(arr, o);
		}
	}
	out = cJSON_PrintUnformatted(root);
	if (out == NULL)
		goto out;
	rc = hdns_resp_set(resp, 200, DOH_JSON_CT, out, strlen(out));
	cJSON_free(out);
	resp->max_age = max_age;
	resp->qtype = qtype_label(q.qtype);
	resp->code = rcode_name(q.rcode);
out:
	cJSON_Delete(root);
	return rc;
}
