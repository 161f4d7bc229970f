/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The filter chain (gw_filter.h): the registry of filter types, the set
 * of instances built with a route table, each route's chain, and the
 * per-request state the proxy drives (pre, answer, request headers,
 * post, done).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_filter_priv.h"
#include "edgelb/util.h"

#define STAT_ADD(field, v) __atomic_add_fetch(&(field), (v), __ATOMIC_RELAXED)

struct chain_el {
	const struct gw_filter_ops *ops;
	void *inst;
	void *rstate;
	const char *name; /* the instance's */
	struct gw_filter_stats st;
};

struct gw_chain {
	size_t n;
	struct chain_el el[GW_MAX_FILTERS];
};

struct finst {
	char name[GW_NAME_MAX];
	const struct gw_filter_ops *ops;
	void *inst;
};

struct gw_filter_set {
	size_t nf;
	struct finst *f;
	size_t nchains;
	struct gw_chain **chains;
};

/* A transform's edits of one request (gw_freq_edit_hdr, _set_target). */
struct fedits {
	size_t n;
	struct {
		bool resp;
		enum gw_hdr_op op;
		const char *name;
		const char *value;
	} e[GW_FREQ_EDITS];
	size_t off;
	char buf[GW_FREQ_EDIT_BUF];
	char *path, *query; /* malloc'd; NULL: the client's */
	bool has_target;
};

struct gw_freq {
	const struct gw_route *route;
	struct gw_chain *ch;
	size_t nran;	 /* filters whose pre ran */
	int answered_by; /* -1: none */
	int status;
	uint32_t delay_ms;
	enum gw_freason why;
	char detail[160];
	char consumer[GW_NAME_MAX];
	char cons_hdr[GW_NAME_MAX]; /* "": no consumer header */
	size_t nh;
	struct http_header h[GW_FILTER_ANSWER_HDRS];
	size_t hoff;
	char hbuf[1024];
	char body[640];
	size_t blen;
	const char *ctype; /* NULL: the JSON error */
	struct http_header ah[GW_FILTER_ANSWER_HDRS + 1]; /* answer's */
	uint64_t scratch[GW_MAX_FILTERS][GW_FSCRATCH];
	/* a pre hook waits (GW_FV_PENDING): the input to go on with */
	struct gw_freq_in in;
	bool pending;
	/* a whole answer kept by a filter (gw_freq_set_answer) */
	struct http_header *xh; /* its headers + h[], malloc'd */
	size_t nxh;
	const char *xbody;
	size_t xlen;
	int fb_from; /* a fallback replaced a failure with this status */
	const struct http_header *resp_h; /* in post: the response's */
	size_t resp_nh;
	size_t nrq; /* request headers set by filters */
	struct {
		const char *name;
		bool set;
		char value[GW_FREQ_RQ_MAX];
	} rq[GW_FREQ_RQ];
	struct fedits *fx;	  /* NULL: no transform edits */
	struct gw_route *reroute; /* NULL: the route's own action */
};

static const struct gw_filter_ops *const types[] = {
	&gw_filter_apikey,    &gw_filter_jwt,	    &gw_filter_hmac,
	&gw_filter_ratelimit, &gw_filter_breaker,   &gw_filter_cache,
	&gw_filter_degrade,   &gw_filter_transform,
};

static const struct {
	const char *text, *label;
} reasons[GW_FR_MAX] = {
	[GW_FR_NO_CREDENTIALS] = { "no credentials", "no_credentials" },
	[GW_FR_MALFORMED] = { "malformed credentials", "malformed" },
	[GW_FR_UNKNOWN_KEY] = { "unknown key", "unknown_key" },
	[GW_FR_BAD_SIGNATURE] = { "bad signature", "bad_signature" },
	[GW_FR_WRONG_ALG] = { "algorithm not allowed for this key",
			      "wrong_alg" },
	[GW_FR_EXPIRED] = { "token expired", "expired" },
	[GW_FR_NOT_YET_VALID] = { "token not yet valid", "not_yet_valid" },
	[GW_FR_WRONG_ISSUER] = { "wrong issuer", "wrong_issuer" },
	[GW_FR_WRONG_AUDIENCE] = { "wrong audience", "wrong_audience" },
	[GW_FR_DATE_WINDOW] = { "date outside the allowed window",
				"date_window" },
	[GW_FR_BODY_HASH] = { "body hash missing or wrong", "body_hash" },
	[GW_FR_FORBIDDEN] = { "consumer not allowed", "forbidden" },
	[GW_FR_RATE_LIMITED] = { "rate limited", "rate_limited" },
	[GW_FR_BREAKER_OPEN] = { "circuit open", "breaker_open" },
	[GW_FR_MAX_ACTIVE] = { "too many active requests", "max_active" },
	[GW_FR_NOMEM] = { "out of memory", "nomem" },
	[GW_FR_STORE_DOWN] = { "limit store unavailable", "store_down" },
	[GW_FR_CACHE_HIT] = { "answered from the cache", "cache_hit" },
	[GW_FR_SHED] = { "overloaded: shed by priority", "shed" },
	[GW_FR_DEGRADED] = { "route degraded", "degraded" },
	[GW_FR_TRANSFORM] = { "transform failed", "transform" },
};

const char *
gw_freason_text(enum gw_freason r)
{
	return (unsigned)r < GW_FR_MAX ? reasons[r].text : "?";
}

const char *
gw_freason_label(enum gw_freason r)
{
	return (unsigned)r < GW_FR_MAX ? reasons[r].label : "?";
}

const struct gw_filter_ops *
gw_filter_find(const char *type)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i]->type, type) == 0)
			return types[i];
	return NULL;
}

/* ---- live instances ------------------------------------------------------- */

void
gw_flive_add(struct gw_flive_list *l, struct gw_flive *e, void *inst)
{
	e->inst = inst;
	pthread_mutex_lock(&l->mu);
	LIST_INSERT_HEAD(&l->head, e, link);
	pthread_mutex_unlock(&l->mu);
}

void
gw_flive_del(struct gw_flive_list *l, struct gw_flive *e)
{
	if (e->inst == NULL)
		return; /* never added */
	pthread_mutex_lock(&l->mu);
	LIST_REMOVE(e, link);
	pthread_mutex_unlock(&l->mu);
	e->inst = NULL;
}

void
gw_flive_each(struct gw_flive_list *l, void (*fn)(void *arg, void *inst),
	      void *arg)
{
	struct gw_flive *e;

	pthread_mutex_lock(&l->mu);
	LIST_FOREACH (e, &l->head, link)
		fn(arg, e->inst);
	pthread_mutex_unlock(&l->mu);
}

/* ---- the set ------------------------------------------------------------ */

void
gw_filter_set_free(struct gw_filter_set *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nchains; i++)
		free(s->chains[i]);
	for (size_t i = 0; i < s->nf; i++)
		if (s->f[i].inst != NULL)
			s->f[i].ops->destroy(s->f[i].inst);
	free(s->chains);
	free(s->f);
	free(s);
}

static struct finst *
set_find(struct gw_filter_set *s, const char *name)
{
	for (size_t i = 0; i < s->nf; i++)
		if (strcmp(s->f[i].name, name) == 0)
			return &s->f[i];
	return NULL;
}

struct gw_filter_set *
gw_filter_set_build(const struct gw_conf *c, struct gw_route *routes,
		    size_t nroutes, char *err, size_t errlen)
{
	struct gw_filter_set *s = calloc(1, sizeof(*s));
	int e = ENOMEM;

	if (s == NULL)
		goto nomem;
	s->f = calloc(c->nfilters + 1, sizeof(*s->f));
	s->chains = calloc(nroutes + 1, sizeof(*s->chains));
	if (s->f == NULL || s->chains == NULL)
		goto nomem;
	for (size_t i = 0; i < c->nfilters; i++) {
		const struct gw_filter_conf *fc = &c->filters[i];
		struct finst *fi = &s->f[s->nf];

		snprintf(fi->name, sizeof(fi->name), "%s", fc->name);
		fi->ops = fc->ops;
		if (fi->ops == NULL) {
			lb_errf(err, errlen, 0, "filter %s: no type", fc->name);
			e = EINVAL;
			goto fail;
		}
		fi->inst = fi->ops->create(fc, err, errlen);
		if (fi->inst == NULL) {
			e = errno != 0 ? errno : EINVAL;
			goto fail;
		}
		s->nf++;
	}
	for (size_t i = 0; i < nroutes; i++) {
		struct gw_route *r = &routes[i];
		const struct gw_route_conf *rc = r->conf;
		struct gw_chain *ch;

		r->chain = NULL;
		if (rc->nfilters == 0)
			continue;
		ch = calloc(1, sizeof(*ch));
		if (ch == NULL)
			goto nomem;
		s->chains[s->nchains++] = ch;
		for (size_t k = 0; k < rc->nfilters; k++) {
			struct finst *fi = set_find(s, rc->filters[k]);
			struct chain_el *el = &ch->el[ch->n];

			if (fi == NULL) {
				lb_errf(err, errlen, 0,
					"route %s: filters: unknown filter "
					"\"%s\"",
					rc->name, rc->filters[k]);
				e = EINVAL;
				goto fail;
			}
			el->ops = fi->ops;
			el->inst = fi->inst;
			el->name = fi->name;
			if (fi->ops->attach != NULL &&
			    fi->ops->attach(fi->inst, r, &el->rstate, err,
					    errlen) < 0) {
				e = EINVAL;
				goto fail;
			}
			ch->n++;
		}
		r->chain = ch;
	}
	for (size_t i = 0; i < s->nf; i++)
		if (s->f[i].ops->link != NULL &&
		    s->f[i].ops->link(s->f[i].inst, routes, nroutes, err,
				      errlen) < 0) {
			e = EINVAL;
			goto fail;
		}
	return s;
nomem:
	lb_errf(err, errlen, 0, "filters: out of memory");
	e = ENOMEM;
fail:
	for (size_t i = 0; i < nroutes; i++)
		routes[i].chain = NULL;
	gw_filter_set_free(s);
	errno = e;
	return NULL;
}

/* ---- per request ---------------------------------------------------------- */

struct gw_freq *
gw_freq_new(const struct gw_route *r)
{
	struct gw_freq *f;

	if (r == NULL || r->chain == NULL)
		return NULL;
	f = malloc(sizeof(*f));
	if (f == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	f->route = r;
	f->ch = r->chain;
	f->nran = 0;
	f->answered_by = -1;
	f->status = 0;
	f->delay_ms = 0;
	f->detail[0] = '\0';
	f->consumer[0] = '\0';
	f->cons_hdr[0] = '\0';
	f->nh = 0;
	f->hoff = 0;
	f->blen = 0;
	f->ctype = NULL;
	f->pending = false;
	memset(f->scratch, 0, sizeof(f->scratch));
	f->xh = NULL;
	f->nxh = 0;
	f->xbody = NULL;
	f->xlen = 0;
	f->fb_from = 0;
	f->resp_h = NULL;
	f->resp_nh = 0;
	f->nrq = 0;
	f->fx = NULL;
	f->reroute = NULL;
	return f;
}

enum gw_fverdict
gw_freq_reject(struct gw_freq *f, int status, enum gw_freason why,
	       const char *detail)
{
	f->status = status;
	f->why = why;
	snprintf(f->detail, sizeof(f->detail), "%s",
		 detail != NULL ? detail : "");
	return GW_FV_ANSWER;
}

int
gw_freq_add_hdr(struct gw_freq *f, const char *name, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (f->nh >= GW_FILTER_ANSWER_HDRS || f->hoff >= sizeof(f->hbuf))
		return -ENOSPC;
	va_start(ap, fmt);
	k = vsnprintf(f->hbuf + f->hoff, sizeof(f->hbuf) - f->hoff, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof(f->hbuf) - f->hoff)
		return -ENOSPC;
	f->h[f->nh].name = name; /* the filters' names are static text */
	f->h[f->nh].value = f->hbuf + f->hoff;
	f->nh++;
	f->hoff += (size_t)k + 1;
	return 0;
}

void
gw_freq_set_body(struct gw_freq *f, const char *ctype, const char *body)
{
	f->ctype = ctype;
	snprintf(f->body, sizeof(f->body), "%s", body);
	f->blen = strlen(f->body);
}

void
gw_freq_consumer_header(struct gw_freq *f, const char *header)
{
	snprintf(f->cons_hdr, sizeof(f->cons_hdr), "%s",
		 header != NULL ? header : "X-Consumer");
}

void
gw_freq_set_consumer(struct gw_freq *f, const char *consumer,
		     const char *header)
{
	snprintf(f->consumer, sizeof(f->consumer), "%s", consumer);
	gw_freq_consumer_header(f, header);
}

void
gw_freq_set_delay(struct gw_freq *f, uint32_t ms)
{
	if (ms > f->delay_ms)
		f->delay_ms = ms;
}

uint32_t
gw_freq_delay_ms(const struct gw_freq *f)
{
	return f != NULL && f->answered_by < 0 ? f->delay_ms : 0;
}

const char *
gw_freq_consumer(const struct gw_freq *f)
{
	return f != NULL && f->consumer[0] != '\0' ? f->consumer : NULL;
}

const struct gw_route *
gw_freq_route(const struct gw_freq *f)
{
	return f->route;
}

enum gw_fverdict
gw_freq_set_answer(struct gw_freq *f, int status, enum gw_freason why,
		   const struct http_header *h, size_t nh, const char *body,
		   size_t len)
{
	if (f->xh != NULL)
		return GW_FV_ANSWER;
	f->xh = malloc((nh + GW_FILTER_ANSWER_HDRS) * sizeof(*f->xh));
	if (f->xh == NULL)
		return GW_FV_PASS;
	memcpy(f->xh, h, nh * sizeof(*h));
	f->nxh = nh;
	f->xbody = body;
	f->xlen = len;
	f->status = status;
	f->why = why;
	return GW_FV_ANSWER;
}

bool
gw_freq_has_answer(const struct gw_freq *f)
{
	return f->xh != NULL;
}

const struct http_header *
gw_freq_resp_headers(const struct gw_freq *f, size_t *n)
{
	*n = f->resp_nh;
	return f->resp_h;
}

int
gw_freq_set_req_hdr(struct gw_freq *f, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < f->nrq; i++)
		if (strcasecmp(f->rq[i].name, name) == 0)
			break;
	if (i == f->nrq) {
		if (f->nrq >= GW_FREQ_RQ)
			return -ENOSPC;
		f->nrq++;
	}
	f->rq[i].name = name;
	f->rq[i].set = value != NULL;
	if (value != NULL)
		snprintf(f->rq[i].value, sizeof(f->rq[i].value), "%s", value);
	return 0;
}

static struct fedits *
fedits_get(struct gw_freq *f)
{
	if (f->fx == NULL) {
		f->fx = malloc(sizeof(*f->fx));
		if (f->fx == NULL)
			return NULL;
		f->fx->n = 0;
		f->fx->off = 0;
		f->fx->path = f->fx->query = NULL;
		f->fx->has_target = false;
	}
	return f->fx;
}

static void
fedits_free(struct fedits *x)
{
	if (x == NULL)
		return;
	free(x->path);
	free(x->query);
	free(x);
}

int
gw_freq_edit_hdr(struct gw_freq *f, bool response, enum gw_hdr_op op,
		 const char *name, const char *value)
{
	struct fedits *x = fedits_get(f);
	size_t vl = value != NULL ? strlen(value) : 0;

	if (x == NULL)
		return -ENOMEM;
	if (x->n >= GW_FREQ_EDITS || x->off + vl + 1 > sizeof(x->buf))
		return -ENOSPC;
	x->e[x->n].resp = response;
	x->e[x->n].op = op;
	x->e[x->n].name = name;
	x->e[x->n].value = x->buf + x->off;
	memcpy(x->buf + x->off, value != NULL ? value : "", vl + 1);
	x->off += vl + 1;
	x->n++;
	return 0;
}

int
gw_freq_set_target(struct gw_freq *f, const char *path, const char *query)
{
	struct fedits *x = fedits_get(f);
	char *p, *q = NULL;

	if (x == NULL)
		return -ENOMEM;
	p = strdup(path);
	if (p == NULL || (query != NULL && (q = strdup(query)) == NULL)) {
		free(p);
		return -ENOMEM;
	}
	free(x->path);
	free(x->query);
	x->path = p;
	x->query = q;
	x->has_target = true;
	return 0;
}

void
gw_freq_reroute(struct gw_freq *f, struct gw_route *r)
{
	f->reroute = r;
}

struct gw_route *
gw_freq_rerouted(const struct gw_freq *f)
{
	return f != NULL && f->answered_by < 0 ? f->reroute : NULL;
}

const char *
gw_freq_path(const struct gw_freq *f, const char *path)
{
	return f != NULL && f->fx != NULL && f->fx->has_target ? f->fx->path
							       : path;
}

const char *
gw_freq_query(const struct gw_freq *f, const char *query)
{
	return f != NULL && f->fx != NULL && f->fx->has_target ? f->fx->query
							       : query;
}

/* The edits of one direction on h[0..*n) (at most cap), in order. 0 or
 * -E2BIG. */
static int
fedits_apply(const struct fedits *x, bool resp, struct http_header *h,
	     size_t *n, size_t cap)
{
	for (size_t i = 0; x != NULL && i < x->n; i++) {
		if (x->e[i].resp != resp)
			continue;
		if (x->e[i].op != GW_HDR_ADD) {
			size_t k = 0;

			for (size_t j = 0; j < *n; j++)
				if (strcasecmp(h[j].name, x->e[i].name) != 0)
					h[k++] = h[j];
			*n = k;
		}
		if (x->e[i].op == GW_HDR_REMOVE)
			continue;
		if (*n >= cap)
			return -E2BIG;
		h[*n].name = x->e[i].name;
		h[*n].value = x->e[i].value;
		(*n)++;
	}
	return 0;
}

/* Ask the filters 0..upto (whose pre ran) for a fallback to a failure. */
static bool
fallback(struct gw_freq *f, size_t upto, int status, uint64_t now_ns)
{
	for (size_t i = 0; i < upto && f->xh == NULL; i++) {
		const struct chain_el *el = &f->ch->el[i];

		if (el->ops->fallback != NULL &&
		    el->ops->fallback(el->inst, el->rstate, f, status, now_ns,
				      f->scratch[i]) &&
		    f->xh != NULL)
			f->fb_from = status;
	}
	return f->xh != NULL;
}

bool
gw_freq_fallback(struct gw_freq *f, int status, uint64_t now_ns)
{
	return f != NULL && fallback(f, f->nran, status, now_ns);
}

void
gw_freq_body(struct gw_freq *f, const char *p, size_t n)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->nran; i++) {
		const struct chain_el *el = &f->ch->el[i];

		if (el->ops->body != NULL)
			el->ops->body(el->inst, el->rstate, f, p, n,
				      f->scratch[i]);
	}
}

/* JSON string content: the texts here are ours or checked tokens, but
 * a detail may quote a claim: escape what JSON needs. */
static size_t
json_esc(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			out[n++] = '\\';
			out[n++] = (char)ch;
		} else if (ch < 0x20 || ch >= 0x7f) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
		} else {
			out[n++] = (char)ch;
		}
	}
	out[n] = '\0';
	return n;
}

/* The pre hooks from the i-th on, until one answers or waits. */
static enum gw_fverdict
chain_pre(struct gw_freq *f, size_t from)
{
	for (size_t i = from; i < f->ch->n; i++) {
		struct chain_el *el = &f->ch->el[i];
		enum gw_fverdict v;

		f->nran = i + 1;
		v = el->ops->pre(el->inst, el->rstate, f, &f->in,
				 f->scratch[i]);
		if (v == GW_FV_PENDING) {
			f->pending = true;
			return v;
		}
		if (v == GW_FV_PASS) {
			STAT_ADD(el->st.passed, 1);
			continue;
		}
		f->answered_by = (int)i;
		STAT_ADD(el->st.answered, 1);
		if ((unsigned)f->why < GW_FR_MAX)
			STAT_ADD(el->st.reasons[f->why], 1);
		/* a failure answer (breaker open, degraded): a filter before
		 * it, or itself, may have a fallback; shedding has none */
		if (f->status >= 500 && f->why != GW_FR_SHED)
			(void)fallback(f, i + 1, f->status, f->in.now_ns);
		return GW_FV_ANSWER;
	}
	return GW_FV_PASS;
}

enum gw_fverdict
gw_freq_pre(struct gw_freq *f, const struct gw_freq_in *in)
{
	if (f == NULL)
		return GW_FV_PASS;
	f->in = *in;
	return chain_pre(f, 0);
}

void
gw_freq_resume(struct gw_freq *f, enum gw_fverdict v, uint64_t now_ns)
{
	struct chain_el *el = &f->ch->el[f->nran - 1];

	f->pending = false;
	f->in.now_ns = now_ns;
	if (v == GW_FV_PASS) {
		STAT_ADD(el->st.passed, 1);
		v = chain_pre(f, f->nran);
	} else {
		f->answered_by = (int)f->nran - 1;
		STAT_ADD(el->st.answered, 1);
		if ((unsigned)f->why < GW_FR_MAX)
			STAT_ADD(el->st.reasons[f->why], 1);
		/* as in chain_pre: a failure answer may have a fallback */
		if (f->status >= 500 && f->why != GW_FR_SHED)
			(void)fallback(f, f->nran, f->status, now_ns);
	}
	if (v != GW_FV_PENDING && f->in.resume != NULL)
		f->in.resume(f->in.resume_arg, v);
}

void
gw_freq_answer(const struct gw_freq *f, int *status,
	       const struct http_header **h, size_t *nh, const char **body,
	       size_t *len)
{
	struct gw_freq *w = (struct gw_freq *)f;
	char d[256], why[64];
	const char *err;
	int n;

	if (f->xh != NULL) {
		/* a filter's whole answer, then the headers added */
		memcpy(w->xh + f->nxh, f->h, f->nh * sizeof(f->h[0]));
		*status = f->status;
		*h = w->xh;
		*nh = f->nxh + f->nh;
		*body = f->xbody;
		*len = f->xlen;
		return;
	}
	switch (f->status) {
	case 401:
		err = "unauthorized";
		break;
	case 403:
		err = "forbidden";
		break;
	case 429:
		err = "too many requests";
		break;
	default:
		err = "unavailable";
		break;
	}
	if (f->ctype == NULL) {
		json_esc(why, sizeof(why), gw_freason_text(f->why));
		json_esc(d, sizeof(d), f->detail);
		n = snprintf(w->body, sizeof(w->body),
			     "{\"error\":\"%s\",\"reason\":\"%s%s%s\","
			     "\"route\":\"%s\",\"filter\":\"%s\"}\n",
			     err, why, d[0] != '\0' ? ": " : "", d,
			     f->route->conf->name,
			     f->answered_by >= 0
				     ? f->ch->el[f->answered_by].name
				     : "");
		w->blen = n > 0 && (size_t)n < sizeof(w->body)
				  ? (size_t)n
				  : strlen(w->body);
	}
	memcpy(w->ah, f->h, f->nh * sizeof(f->h[0]));
	w->ah[f->nh].name = "Content-Type";
	w->ah[f->nh].value = f->ctype != NULL ? f->ctype : "application/json";
	*status = f->status;
	*h = w->ah;
	*nh = f->nh + 1;
	*body = f->body;
	*len = f->blen;
}

int
gw_freq_req_headers(struct gw_freq *f, struct http_header *hdrs, size_t *n,
		    size_t cap)
{
	size_t k = 0;

	if (f == NULL ||
	    (f->cons_hdr[0] == '\0' && f->nrq == 0 && f->fx == NULL))
		return 0;
	for (size_t i = 0; i < *n; i++) {
		bool drop = f->cons_hdr[0] != '\0' &&
			    strcasecmp(hdrs[i].name, f->cons_hdr) == 0;

		for (size_t r = 0; r < f->nrq && !drop; r++)
			drop = strcasecmp(hdrs[i].name, f->rq[r].name) == 0;
		if (!drop)
			hdrs[k++] = hdrs[i];
	}
	*n = k;
	for (size_t r = 0; r < f->nrq; r++) {
		if (!f->rq[r].set)
			continue;
		if (*n >= cap)
			return -E2BIG;
		hdrs[*n].name = f->rq[r].name;
		hdrs[*n].value = f->rq[r].value;
		(*n)++;
	}
	if (f->consumer[0] != '\0') {
		if (*n >= cap)
			return -E2BIG;
		hdrs[*n].name = f->cons_hdr;
		hdrs[*n].value = f->consumer;
		(*n)++;
	}
	return fedits_apply(f->fx, false, hdrs, n, cap);
}

int
gw_freq_post(struct gw_freq *f, int status, uint64_t now_ns,
	     struct http_header *hdrs, size_t *n, size_t cap)
{
	if (f == NULL)
		return 0;
	f->resp_h = hdrs;
	f->resp_nh = *n;
	for (size_t i = 0; i < f->nran; i++) {
		const struct chain_el *el = &f->ch->el[i];

		if (el->ops->post != NULL)
			el->ops->post(el->inst, el->rstate, f, status, now_ns,
				      f->scratch[i]);
	}
	f->resp_h = NULL;
	if (f->xh == NULL && status >= 500)
		(void)fallback(f, f->nran, status, now_ns);
	if (f->xh != NULL)
		return 1; /* answered instead: the response is dropped */
	if (*n + f->nh > cap)
		return -E2BIG;
	for (size_t i = 0; i < f->nh; i++)
		hdrs[(*n)++] = f->h[i];
	return fedits_apply(f->fx, true, hdrs, n, cap);
}

void
gw_freq_done(struct gw_freq *f, const struct gw_fdone *d)
{
	struct gw_fdone dd;

	if (f == NULL)
		return;
	dd = *d;
	/* a fallback hid a failure of the upstream: the filters (the
	 * breaker) still learn it failed */
	if (f->fb_from >= 500 && dd.forwarded)
		dd.failed = true;
	for (size_t i = 0; i < f->nran; i++) {
		const struct chain_el *el = &f->ch->el[i];

		if (el->ops->done != NULL)
			el->ops->done(el->inst, el->rstate, &dd,
				      f->answered_by == (int)i, f->scratch[i]);
	}
	free(f->xh);
	fedits_free(f->fx);
	free(f);
}

/* ---- counters ---------------------------------------------------------------- */

void
gw_filters_each(const struct gw_table *t,
		void (*fn)(void *arg, const char *name, const char *type,
			   const struct gw_fcounter *c, size_t n),
		void *arg)
{
	const void *seen[GW_MAX_FILTER_CONFS];
	size_t nseen = 0;
	struct gw_fcounter c[GW_FCOUNTERS_MAX];

	for (size_t i = 0; t != NULL && i < gw_table_nroutes(t); i++) {
		const struct gw_route *r = gw_table_route(t, i);

		for (size_t k = 0; k < gw_route_nfilters(r); k++) {
			const struct chain_el *el = &r->chain->el[k];
			size_t j, n = 0;

			for (j = 0; j < nseen && seen[j] != el->inst; j++)
				;
			if (j < nseen || nseen >= GW_MAX_FILTER_CONFS)
				continue;
			seen[nseen++] = el->inst;
			if (el->ops->counters != NULL)
				n = el->ops->counters(el->inst, c);
			fn(arg, el->name, el->ops->type, c, n);
		}
	}
}

size_t
gw_route_nfilters(const struct gw_route *r)
{
	return r->chain != NULL ? r->chain->n : 0;
}

const char *
gw_route_filter_name(const struct gw_route *r, size_t i)
{
	return i < gw_route_nfilters(r) ? r->chain->el[i].name : NULL;
}

const char *
gw_route_filter_type(const struct gw_route *r, size_t i)
{
	return i < gw_route_nfilters(r) ? r->chain->el[i].ops->type : NULL;
}

const struct gw_filter_stats *
gw_route_filter_stats(const struct gw_route *r, size_t i)
{
	return i < gw_route_nfilters(r) ? &r->chain->el[i].st : NULL;
}
