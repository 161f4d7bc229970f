/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The cache filter's store and HTTP rules (gw_cache_priv.h).
 *
 * GW_CACHE_SHARDS shards, chosen by the key's hash, each with its own
 * mutex, hash buckets and LRU list, and a byte budget of max_bytes /
 * GW_CACHE_SHARDS (so the sum never passes max_bytes). A shard's
 * buckets start at GW_CACHE_BUCKETS and double when it holds more
 * entries than buckets; the bucket comes from other bits of the hash
 * than the shard (with the same bits, a shard used one bucket in
 * GW_CACHE_SHARDS, and a miss walked chains as long as the cache was
 * big). An entry is one
 * allocation (key, headers, body) with a reference count: the store
 * holds one while it is linked, each answer being sent holds one, and
 * the last one frees it, so an eviction never frees memory an answer is
 * still sending from.
 *
 * Vary: a response with Vary stores a small "vary spec" entry under the
 * primary key naming the headers, and itself under the primary key plus
 * the request's values of those headers; a lookup that finds a spec
 * looks the variant up next.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gw_cache_priv.h"

#define NS_PER_S	   1000000000ull
#define STAT_ADD(field, v) __atomic_add_fetch(&(field), (v), __ATOMIC_RELAXED)

struct shard {
	pthread_mutex_t mu;
	struct gw_centry **b;	       /* nb buckets, a power of two */
	size_t nb, n;		       /* buckets, entries linked */
	struct gw_centry *head, *tail; /* most recently used first */
	uint64_t bytes;
};

/* The bucket of hash h among nb: the hash mixed, so that its bits
 * above the shard's count. */
static size_t
bucket_of(uint64_t h, size_t nb)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (size_t)(h & (nb - 1));
}

/* Twice the buckets, when a shard has more entries than buckets and
 * memory for them (without, the chains only grow longer). */
static void
grow(struct shard *s)
{
	struct gw_centry **nbk, *e, *next;
	size_t nn = s->nb * 2;

	if (s->n <= s->nb)
		return;
	nbk = calloc(nn, sizeof(*nbk));
	if (nbk == NULL)
		return;
	for (size_t i = 0; i < s->nb; i++)
		for (e = s->b[i]; e != NULL; e = next) {
			next = e->hnext;
			e->hnext = nbk[bucket_of(e->hash, nn)];
			nbk[bucket_of(e->hash, nn)] = e;
		}
	free(s->b);
	s->b = nbk;
	s->nb = nn;
}

struct gw_cache {
	struct gw_cache_conf conf;
	uint64_t shard_max;
	struct gw_cache_stats st; /* relaxed atomics */
	struct shard sh[GW_CACHE_SHARDS];
};

/* ---- Cache-Control and validators ------------------------------------- */

void
gw_cc_init(struct gw_cc *cc)
{
	memset(cc, 0, sizeof(*cc));
	cc->max_age = -1;
	cc->s_maxage = -1;
	cc->stale_if_error = -1;
}

static int64_t
delta_seconds(const char *v, size_t n)
{
	int64_t x = 0;

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 0; /* invalid: stale at once (RFC 9111 1.2.2) */
		if (x < 2147483648LL)
			x = x * 10 + (v[i] - '0');
	}
	return x > 2147483648LL ? 2147483648LL : x;
}

void
gw_cc_parse(struct gw_cc *cc, const char *v)
{
	const char *p = v;

	while (p != NULL && *p != '\0') {
		const char *e, *eq, *val = NULL;
		size_t n, nl, vl = 0;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		e = p;
		/* up to the next comma outside a quoted string */
		for (bool q = false; *e != '\0' && (q || *e != ','); e++)
			if (*e == '"')
				q = !q;
		n = (size_t)(e - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		eq = memchr(p, '=', n);
		nl = eq != NULL ? (size_t)(eq - p) : n;
		while (nl > 0 && (p[nl - 1] == ' ' || p[nl - 1] == '\t'))
			nl--;
		if (eq != NULL) {
			val = eq + 1;
			while (*val == ' ' || *val == '\t')
				val++;
			vl = n - (size_t)(val - p);
		}
#define IS(s) (nl == sizeof(s) - 1 && strncasecmp(p, s, nl) == 0)
		if (IS("no-store"))
			cc->no_store = true;
		else if (IS("no-cache"))
			cc->no_cache = true; /* a field list counts as whole */
		else if (IS("private"))
			cc->private_ = true;
		else if (IS("public"))
			cc->public_ = true;
		else if (IS("must-revalidate") || IS("proxy-revalidate"))
			cc->must_revalidate = true;
		else if (IS("max-age") && val != NULL)
			cc->max_age = delta_seconds(val, vl);
		else if (IS("s-maxage") && val != NULL)
			cc->s_maxage = delta_seconds(val, vl);
		else if (IS("stale-if-error") && val != NULL)
			cc->stale_if_error = delta_seconds(val, vl);
#undef IS
		p = e;
	}
}

bool
gw_cache_status_ok(int status)
{
	static const int ok[] = { 200, 203, 204, 300, 301, 308,
				  404, 405, 410, 414, 501 };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (ok[i] == status)
			return true;
	return false;
}

bool
gw_cache_freshness(const struct gw_cache_conf *c, int status,
		   const struct gw_cc *cc, uint64_t *ttl_ns)
{
	int64_t s;

	if (!gw_cache_status_ok(status) || cc->no_store || cc->private_)
		return false;
	if (cc->s_maxage >= 0)
		s = cc->s_maxage;
	else if (cc->max_age >= 0)
		s = cc->max_age;
	else if (cc->no_cache)
		s = 0;
	else if (c->default_ttl_s > 0)
		s = c->default_ttl_s;
	else
		return false;
	if (cc->no_cache)
		s = 0;
	if (s > (int64_t)c->max_ttl_s)
		s = c->max_ttl_s;
	*ttl_ns = (uint64_t)s * NS_PER_S;
	return true;
}

/* One entity-tag of a list at p: its opaque part (W/ dropped) and the
 * position after it. */
static const char *
next_etag(const char *p, const char **tag, size_t *n)
{
	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	if (*p == '\0')
		return NULL;
	if (p[0] == 'W' && p[1] == '/')
		p += 2;
	*tag = p;
	if (*p == '"') {
		const char *e = strchr(p + 1, '"');

		e = e != NULL ? e + 1 : p + strlen(p);
		*n = (size_t)(e - p);
		return e;
	}
	while (*p != '\0' && *p != ',' && *p != ' ')
		p++;
	*n = (size_t)(p - *tag);
	return p;
}

bool
gw_etag_match(const char *inm, const char *etag)
{
	const char *t, *p = inm, *et;
	size_t n, en;

	if (inm == NULL || etag == NULL)
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	if (p[0] == '*' && (p[1] == '\0' || p[1] == ' ' || p[1] == ','))
		return true;
	if (next_etag(etag, &et, &en) == NULL || en == 0)
		return false;
	while ((p = next_etag(p, &t, &n)) != NULL)
		if (n == en && memcmp(t, et, n) == 0)
			return true;
	return false;
}

int
gw_http_date(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	const char *e;

	if (s == NULL)
		return -EINVAL;
	e = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (e == NULL || *e != '\0')
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}

/* ---- keys ---------------------------------------------------------------- */

static uint64_t
fnv(const char *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Append a, b, c and a newline to out (NUL-terminated); -E2BIG when
 * that and the NUL do not fit in cap. Copied, not formatted: a key is
 * made twice per miss (lookup and store). */
static int
key_add(char *out, size_t cap, size_t *len, const char *a, const char *b,
	const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *p = out + *len;

	if (la + lb + lc + 1 >= cap - *len)
		return -E2BIG;
	memcpy(p, a, la);
	memcpy(p + la, b, lb);
	memcpy(p + la + lb, c, lc);
	p[la + lb + lc] = '\n';
	p[la + lb + lc + 1] = '\0';
	*len += la + lb + lc + 1;
	return 0;
}

int
gw_cache_key(const struct gw_cache_conf *c, const struct http_msg *m, char *out,
	     size_t cap, size_t *len)
{
	const char *host = http_msg_header(m, "Host");
	char lh[256];
	size_t hl = 0;
	int rc;

	if (m->path == NULL || cap == 0)
		return -EINVAL;
	/* the host in lower case: names are case-insensitive */
	for (; host != NULL && host[hl] != '\0' && hl + 1 < sizeof(lh); hl++)
		lh[hl] = (host[hl] >= 'A' && host[hl] <= 'Z')
				 ? (char)(host[hl] + 32)
				 : host[hl];
	if (host != NULL && host[hl] != '\0')
		return -E2BIG;
	lh[hl] = '\0';
	*len = 0;
	rc = key_add(out, cap, len, "GET", "", ""); /* HEAD uses GET's */
	if (rc == 0)
		rc = key_add(out, cap, len, lh, "", "");
	if (rc == 0)
		rc = key_add(out, cap, len, m->path,
			     m->query != NULL ? "?" : "",
			     m->query != NULL ? m->query : "");
	for (size_t i = 0; rc == 0 && i < c->nkey_hdrs; i++) {
		const char *v = http_msg_header(m, c->key_hdrs[i]);

		rc = key_add(out, cap, len, c->key_hdrs[i], ":",
			     v != NULL ? v : "");
	}
	return rc;
}

/* The variant key: the primary plus the request's values of names. */
static int
variant_key(const char *key, size_t klen, const char *const *names, size_t nn,
	    const struct http_msg *m, char *out, size_t cap, size_t *len)
{
	int rc = 0;

	if (klen + 2 > cap)
		return -E2BIG;
	memcpy(out, key, klen);
	*len = klen;
	out[(*len)++] = '\v'; /* not in any header: no clash */
	out[*len] = '\0';
	for (size_t i = 0; rc == 0 && i < nn; i++) {
		const char *v = http_msg_header(m, names[i]);

		rc = key_add(out, cap, len, names[i], "=", v != NULL ? v : "");
	}
	return rc;
}

/* The path inside a primary key: after the second newline, up to '?'
 * or the third newline. */
static void
key_path(const char *key, size_t klen, size_t *off, size_t *n)
{
	const char *p = memchr(key, '\n', klen), *e;

	if (p != NULL)
		p = memchr(p + 1, '\n', klen - (size_t)(p + 1 - key));
	if (p == NULL) {
		*off = klen;
		*n = 0;
		return;
	}
	p++;
	for (e = p; e < key + klen && *e != '\n' && *e != '?'; e++)
		;
	*off = (size_t)(p - key);
	*n = (size_t)(e - p);
}

/* ---- the store --------------------------------------------------------------- */

size_t
gw_cache_shard_of(const char *key, size_t klen)
{
	return fnv(key, klen, 0xcbf29ce484222325ull) % GW_CACHE_SHARDS;
}

size_t
gw_cache_longest_chain(struct gw_cache *c)
{
	size_t most = 0;

	for (size_t i = 0; i < GW_CACHE_SHARDS; i++) {
		struct shard *s = &c->sh[i];

		pthread_mutex_lock(&s->mu);
		for (size_t b = 0; b < s->nb; b++) {
			size_t n = 0;

			for (struct gw_centry *e = s->b[b]; e != NULL;
			     e = e->hnext)
				n++;
			most = n > most ? n : most;
		}
		pthread_mutex_unlock(&s->mu);
	}
	return most;
}

struct gw_cache *
gw_cache_new(const struct gw_cache_conf *c)
{
	struct gw_cache *ca = calloc(1, sizeof(*ca));

	if (ca == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	ca->conf = *c;
	ca->shard_max = c->max_bytes / GW_CACHE_SHARDS;
	ca->st.max_bytes = c->max_bytes;
	for (size_t i = 0; i < GW_CACHE_SHARDS; i++) {
		ca->sh[i].b = calloc(GW_CACHE_BUCKETS, sizeof(*ca->sh[i].b));
		if (ca->sh[i].b == NULL) {
			while (i-- > 0) {
				pthread_mutex_destroy(&ca->sh[i].mu);
				free(ca->sh[i].b);
			}
			free(ca);
			errno = ENOMEM;
			return NULL;
		}
		ca->sh[i].nb = GW_CACHE_BUCKETS;
		pthread_mutex_init(&ca->sh[i].mu, NULL);
	}
	return ca;
}

const struct gw_cache_conf *
gw_cache_conf(const struct gw_cache *c)
{
	return &c->conf;
}

void
gw_cache_put(struct gw_centry *e)
{
	if (e != NULL && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(e);
}

/* Unlink e (shard locked) and drop the store's reference. */
static void
unlink_entry(struct gw_cache *c, struct shard *s, struct gw_centry *e)
{
	struct gw_centry **pp = &s->b[bucket_of(e->hash, s->nb)];

	while (*pp != NULL && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp == e)
		*pp = e->hnext;
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		s->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		s->tail = e->prev;
	e->linked = false;
	s->n--;
	s->bytes -= e->cost;
	STAT_ADD(c->st.bytes, -e->cost);
	STAT_ADD(c->st.entries, -1);
	gw_cache_put(e);
}

void
gw_cache_free(struct gw_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < GW_CACHE_SHARDS; i++) {
		struct shard *s = &c->sh[i];

		while (s->head != NULL)
			unlink_entry(c, s, s->head);
		pthread_mutex_destroy(&s->mu);
		free(s->b);
	}
	free(c);
}

static struct gw_centry *
find(struct shard *s, uint64_t h, const char *key, size_t klen)
{
	for (struct gw_centry *e = s->b[bucket_of(h, s->nb)]; e != NULL;
	     e = e->hnext)
		if (e->hash == h && e->klen == klen &&
		    memcmp(e->key, key, klen) == 0)
			return e;
	return NULL;
}

static void
lru_front(struct shard *s, struct gw_centry *e)
{
	if (s->head == e)
		return;
	e->prev->next = e->next; /* not the head: has a prev */
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		s->tail = e->prev;
	e->prev = NULL;
	e->next = s->head;
	s->head->prev = e;
	s->head = e;
}

/* The entry of key with a reference, or NULL. */
static struct gw_centry *
get_one(struct gw_cache *c, const char *key, size_t klen)
{
	uint64_t h = fnv(key, klen, 0xcbf29ce484222325ull);
	struct shard *s = &c->sh[h % GW_CACHE_SHARDS];
	struct gw_centry *e;

	pthread_mutex_lock(&s->mu);
	e = find(s, h, key, klen);
	if (e != NULL) {
		lru_front(s, e);
		__atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&s->mu);
	return e;
}

struct gw_centry *
gw_cache_get(struct gw_cache *c, const char *key, size_t klen,
	     const struct http_msg *m)
{
	struct gw_centry *e = get_one(c, key, klen), *v;
	char vk[GW_CACHE_KEY_MAX];
	size_t vl;

	if (e == NULL || !e->vary_spec)
		return e;
	if (variant_key(key, klen, e->vary, e->nvary, m, vk, sizeof(vk), &vl) <
	    0) {
		gw_cache_put(e);
		return NULL;
	}
	gw_cache_put(e);
	v = get_one(c, vk, vl);
	if (v != NULL && v->vary_spec) { /* cannot be: keys differ */
		gw_cache_put(v);
		return NULL;
	}
	return v;
}

/* Link e (made with one reference, the store's) into its shard, with
 * room made by LRU eviction. */
static void
link_entry(struct gw_cache *c, struct gw_centry *e)
{
	struct shard *s = &c->sh[e->hash % GW_CACHE_SHARDS];
	struct gw_centry *old;

	pthread_mutex_lock(&s->mu);
	old = find(s, e->hash, e->key, e->klen);
	if (old != NULL)
		unlink_entry(c, s, old);
	while (s->tail != NULL && s->bytes + e->cost > c->shard_max) {
		unlink_entry(c, s, s->tail);
		STAT_ADD(c->st.evictions, 1);
	}
	s->n++;
	grow(s);
	e->hnext = s->b[bucket_of(e->hash, s->nb)];
	s->b[bucket_of(e->hash, s->nb)] = e;
	e->prev = NULL;
	e->next = s->head;
	if (s->head != NULL)
		s->head->prev = e;
	s->head = e;
	if (s->tail == NULL)
		s->tail = e;
	e->linked = true;
	s->bytes += e->cost;
	STAT_ADD(c->st.bytes, e->cost);
	STAT_ADD(c->st.entries, 1);
	pthread_mutex_unlock(&s->mu);
}

/* Lower-case names of a Vary value; -EINVAL for "*" or too many. */
static int
vary_names(const char *v, char *buf, size_t cap, const char **names, size_t *nn)
{
	size_t off = 0;

	*nn = 0;
	for (const char *p = v; p != NULL && *p != '\0';) {
		const char *e;
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		e = strchr(p, ',');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 1 && p[0] == '*')
			return -EINVAL;
		if (*nn >= GW_CACHE_VARY_MAX || off + n + 1 > cap)
			return -EINVAL;
		for (size_t i = 0; i < n; i++)
			buf[off + i] = (p[i] >= 'A' && p[i] <= 'Z')
					       ? (char)(p[i] + 32)
					       : p[i];
		buf[off + n] = '\0';
		names[(*nn)++] = buf + off;
		off += n + 1;
		p = e;
	}
	return 0;
}

/* One allocation: the struct, the key, the headers and their text, the
 * body. */
/* name is the header want (ASCII case-insensitive); the first letter
 * first, as most names are neither. */
static bool
hdr_is(const char *name, const char *want)
{
	return (name[0] | 0x20) == want[0] && strcasecmp(name, want) == 0;
}

static struct gw_centry *
entry_new(const char *key, size_t klen, int status, const struct http_header *h,
	  size_t nh, const char *body, size_t blen)
{
	size_t text = 0, need, nl[GW_CACHE_ENTRY_HDRS], vl[GW_CACHE_ENTRY_HDRS];
	struct gw_centry *e;
	char *p;

	if (nh > GW_CACHE_ENTRY_HDRS)
		return NULL;
	for (size_t i = 0; i < nh; i++) {
		nl[i] = strlen(h[i].name) + 1;
		vl[i] = strlen(h[i].value) + 1;
		text += nl[i] + vl[i];
	}
	need = sizeof(*e) + klen + 1 + nh * sizeof(*e->h) + text + blen + 1;
	/* every byte after the struct is written below */
	e = malloc(need);
	if (e == NULL)
		return NULL;
	memset(e, 0, sizeof(*e));
	p = (char *)(e + 1);
	e->h = (struct http_header *)p;
	p += nh * sizeof(*e->h);
	e->key = p;
	memcpy(p, key, klen);
	p[klen] = '\0';
	e->klen = klen;
	p += klen + 1;
	for (size_t i = 0; i < nh; i++) {
		memcpy(p, h[i].name, nl[i]);
		e->h[i].name = p;
		p += nl[i];
		memcpy(p, h[i].value, vl[i]);
		e->h[i].value = p;
		p += vl[i];
		if (hdr_is(h[i].name, "etag"))
			e->etag = e->h[i].value;
		else if (hdr_is(h[i].name, "last-modified"))
			e->last_mod = e->h[i].value;
	}
	e->nh = nh;
	e->body = p;
	if (blen > 0)
		memcpy(p, body, blen);
	p[blen] = '\0';
	e->blen = blen;
	e->status = status;
	e->refs = 1;
	e->cost = need;
	e->hash = fnv(key, klen, 0xcbf29ce484222325ull);
	return e;
}

int
gw_cache_insert(struct gw_cache *c, const struct gw_cache_put_in *in)
{
	const char *vary = NULL, *names[GW_CACHE_VARY_MAX];
	char nbuf[512], vk[GW_CACHE_KEY_MAX];
	struct gw_centry *e, *spec = NULL;
	size_t nn = 0, vl;
	int rc;

	if (in->blen > c->conf.max_entry)
		return -EFBIG;
	if (in->nh > GW_CACHE_ENTRY_HDRS)
		return -EINVAL;
	for (size_t i = 0; i < in->nh; i++)
		if (hdr_is(in->h[i].name, "vary")) {
			if (vary != NULL)
				return -EINVAL; /* one Vary line only */
			vary = in->h[i].value;
		}
	if (vary != NULL) {
		rc = vary_names(vary, nbuf, sizeof(nbuf), names, &nn);
		if (rc < 0)
			return rc;
	}
	if (nn > 0) {
		rc = variant_key(in->key, in->klen, names, nn, in->req, vk,
				 sizeof(vk), &vl);
		if (rc < 0)
			return rc;
		/* the spec: the names as headers, no body */
		{
			struct http_header nh[GW_CACHE_VARY_MAX];

			for (size_t i = 0; i < nn; i++)
				nh[i] = (struct http_header){ names[i], "" };
			spec = entry_new(in->key, in->klen, 0, nh, nn, NULL, 0);
			if (spec == NULL)
				return -ENOMEM;
			spec->vary_spec = true;
			spec->nvary = nn;
			for (size_t i = 0; i < nn; i++)
				spec->vary[i] = spec->h[i].name;
			spec->fresh_until_ns = UINT64_MAX;
		}
		e = entry_new(vk, vl, in->status, in->h, in->nh, in->body,
			      in->blen);
	} else {
		e = entry_new(in->key, in->klen, in->status, in->h, in->nh,
			      in->body, in->blen);
	}
	if (e == NULL) {
		free(spec);
		return -ENOMEM;
	}
	if (e->cost + (spec != NULL ? spec->cost : 0) > c->shard_max) {
		free(spec);
		free(e);
		return -EFBIG;
	}
	key_path(in->key, in->klen, &e->path_off, &e->path_len);
	e->stored_ns = in->now_ns;
	e->ttl_ns = in->ttl_ns;
	e->fresh_until_ns = in->now_ns + in->ttl_ns;
	if (spec != NULL) {
		key_path(spec->key, spec->klen, &spec->path_off,
			 &spec->path_len);
		spec->stored_ns = in->now_ns;
		link_entry(c, spec);
	}
	link_entry(c, e);
	STAT_ADD(c->st.stores, 1);
	return 0;
}

void
gw_cache_refresh(struct gw_cache *c, struct gw_centry *e, uint64_t now_ns,
		 uint64_t ttl_ns)
{
	(void)c;
	__atomic_store_n(&e->fresh_until_ns, now_ns + ttl_ns, __ATOMIC_RELAXED);
}

uint64_t
gw_cache_purge(struct gw_cache *c, const char *prefix)
{
	size_t pl = prefix != NULL ? strlen(prefix) : 0;
	uint64_t n = 0;

	for (size_t i = 0; i < GW_CACHE_SHARDS; i++) {
		struct shard *s = &c->sh[i];
		struct gw_centry *e, *next;

		pthread_mutex_lock(&s->mu);
		for (e = s->head; e != NULL; e = next) {
			next = e->next;
			if (pl > 0 &&
			    (e->path_len < pl ||
			     memcmp(e->key + e->path_off, prefix, pl) != 0))
				continue;
			unlink_entry(c, s, e);
			n++;
		}
		pthread_mutex_unlock(&s->mu);
	}
	STAT_ADD(c->st.purged, n);
	return n;
}

struct gw_cache_stats *
gw_cache_stats_ref(struct gw_cache *c)
{
	return &c->st;
}

void
gw_cache_stats_get(struct gw_cache *c, struct gw_cache_stats *st)
{
	const uint64_t *src = (const uint64_t *)&c->st;
	uint64_t *dst = (uint64_t *)st;

	for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
