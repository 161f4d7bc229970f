/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Local rate limiting: the "ratelimit" filter type, its four algorithms
 * and the local limiter (gw_filter_priv.h).
 *
 * Algorithms (gw_rl_step, time passed in), for `rate = LIMIT/PERIOD`:
 *   token_bucket   capacity `burst` (default LIMIT), refilled
 *                  continuously at LIMIT per PERIOD; a request takes one
 *                  token. The default.
 *   fixed_window   at most LIMIT per aligned PERIOD (now - now % PERIOD).
 *   sliding_window the fixed window's count plus the previous window's,
 *                  weighted by how much of it the sliding PERIOD still
 *                  covers (the two-window estimate; it assumes the
 *                  previous window's requests were spread evenly).
 *   leaky_bucket   nginx limit_req: an "excess" that drains at LIMIT per
 *                  PERIOD and rises by one per request; a request that
 *                  would push it past `burst` is refused. Requests within
 *                  the burst pass at once (limit_req's nodelay).
 *
 * The local limiter keeps one state per key in a table of 64 shards,
 * each a hash table and an LRU list under its own mutex, so every loop
 * thread sees the same totals. Memory is bounded: at most max_keys keys
 * (spread over the shards); a new key past that evicts its shard's least
 * recently used key, and keys idle for idle_s are dropped when met at the
 * LRU's end. With `store = redis` the decisions are Redis's
 * (gw_ratelimit_redis.h) and the local limiter is the fallback of
 * `on_redis_error = fail_open`.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "gw_filter_priv.h"
#include "gw_ratelimit_redis.h"
#include "edgelb/util.h"

#define NSHARD	     64
#define KEY_MAX	     256
#define KEY_PARTS    4
#define US_PER_S     1000000u
#define MAX_KEYS_CAP 10000000u

/* ---- the algorithms ------------------------------------------------------- */

static uint32_t
ceil_s(double us)
{
	double s = ceil(us / US_PER_S);

	if (s < 1)
		return 1;
	return s > 86400.0 * 365 ? 86400u * 365 : (uint32_t)s;
}

static uint32_t
floor_u32(double x)
{
	if (x <= 0)
		return 0;
	return x > 4e9 ? 4000000000u : (uint32_t)x;
}

void
gw_rl_step(const struct gw_rl_conf *c, struct gw_rl_state *s, uint64_t now_us,
	   struct gw_rl_result *r)
{
	double rate = (double)c->limit / (double)c->period_us; /* per µs */
	double cap, e, est;
	uint64_t w, el;

	r->limit = c->limit;
	r->allowed = false;
	r->retry_after_s = 0;
	r->delay_us = 0;
	switch (c->alg) {
	case GW_RL_TOKEN_BUCKET:
		cap = c->burst != 0 ? c->burst : c->limit;
		if (!s->init) {
			s->a = cap;
			s->t_us = now_us;
			s->init = true;
		} else if (now_us > s->t_us) {
			s->a += (double)(now_us - s->t_us) * rate;
			if (s->a > cap)
				s->a = cap;
			s->t_us = now_us;
		}
		if (s->a >= 1.0) {
			s->a -= 1.0;
			r->allowed = true;
		} else {
			r->retry_after_s = ceil_s((1.0 - s->a) / rate);
		}
		r->limit = (uint32_t)cap;
		r->remaining = floor_u32(s->a);
		r->reset_s = s->a >= cap ? 0 : ceil_s((cap - s->a) / rate);
		break;
	case GW_RL_FIXED_WINDOW:
		w = now_us - now_us % c->period_us;
		if (!s->init || s->t_us != w) {
			s->a = 0;
			s->t_us = w;
			s->init = true;
		}
		r->reset_s = ceil_s((double)(w + c->period_us - now_us));
		if (s->a < c->limit) {
			s->a += 1;
			r->allowed = true;
		} else {
			r->retry_after_s = r->reset_s;
		}
		r->remaining = floor_u32(c->limit - s->a);
		break;
	case GW_RL_SLIDING_WINDOW:
		w = now_us - now_us % c->period_us;
		if (!s->init) {
			s->a = s->b = 0;
			s->t_us = w;
			s->init = true;
		} else if (s->t_us != w) {
			s->b = s->t_us + c->period_us == w ? s->a : 0;
			s->a = 0;
			s->t_us = w;
		}
		el = now_us - w;
		est = s->b * (double)(c->period_us - el) /
			      (double)c->period_us +
		      s->a;
		if (est + 1.0 <= c->limit) {
			s->a += 1;
			est += 1.0;
			r->allowed = true;
		} else if (s->a + 1.0 <= c->limit && s->b > 0) {
			/* the previous window's weight must fall far enough */
			double need = (c->limit - 1.0 - s->a) / s->b;
			double at = (double)c->period_us * (1.0 - need);

			r->retry_after_s = ceil_s(at - (double)el);
		} else {
			r->retry_after_s =
				ceil_s((double)(w + c->period_us - now_us));
		}
		r->remaining = floor_u32(c->limit - est);
		r->reset_s = ceil_s((double)(w + c->period_us - now_us));
		break;
	case GW_RL_LEAKY_BUCKET:
		if (!s->init) {
			s->a = 0;
			s->t_us = now_us;
			s->init = true;
			r->allowed = true;
			e = 0;
		} else {
			/* nginx's: the excess drained, plus this request, at
			 * least 0 (after a long pause a request is free, like
			 * the first) */
			e = s->a -
			    (double)(now_us > s->t_us ? now_us - s->t_us : 0) *
				    rate +
			    1.0;
			if (e < 0)
				e = 0;
			if (c->delay && e > (double)c->delay_after + 1e-9)
				r->delay_us = (uint64_t)llround(
					(e - c->delay_after) / rate);
			if (e > (double)c->burst + 1e-9 ||
			    r->delay_us > c->max_delay_us) {
				/* past the burst, or a longer wait than allowed */
				r->retry_after_s =
					e > (double)c->burst + 1e-9
						? ceil_s((e -
							  (double)c->burst) /
							 rate)
						: ceil_s((double)(r->delay_us -
								  c->max_delay_us));
				r->delay_us = 0;
				e = e > 1.0 ? e - 1.0 : 0; /* the state stays */
			} else {
				s->a = e;
				s->t_us = now_us;
				r->allowed = true;
			}
		}
		r->limit = c->burst + 1;
		r->remaining = floor_u32((double)c->burst - e);
		r->reset_s = e <= 0 ? 0 : ceil_s(e / rate);
		break;
	}
}

/* ---- the local limiter ---------------------------------------------------- */

struct rl_ent {
	struct rl_ent *hnext;	    /* hash chain */
	struct rl_ent *prev, *next; /* LRU: head most recent */
	uint64_t hash;
	uint64_t last_us;
	struct gw_rl_state st;
	uint16_t klen;
	char key[];
};

struct rl_shard {
	pthread_mutex_t mu;
	size_t n, max, nb;
	struct rl_ent **b;
	struct rl_ent *head, *tail;
	uint64_t evicted, expired;
} __attribute__((aligned(64)));

struct rl_local {
	struct gw_rl_conf conf;
	uint64_t idle_us;
	struct rl_shard sh[NSHARD];
};

static void
lru_unlink(struct rl_shard *s, struct rl_ent *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		s->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		s->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_front(struct rl_shard *s, struct rl_ent *e)
{
	e->next = s->head;
	e->prev = NULL;
	if (s->head != NULL)
		s->head->prev = e;
	s->head = e;
	if (s->tail == NULL)
		s->tail = e;
}

static void
ent_drop(struct rl_shard *s, struct rl_ent *e)
{
	struct rl_ent **pp = &s->b[e->hash & (s->nb - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(s, e);
	s->n--;
	free(e);
}

/* Twice the buckets once there are as many keys as buckets (a failed
 * allocation keeps the old ones: longer chains, still correct). */
static void
grow(struct rl_shard *s)
{
	size_t nb = s->nb * 2;
	struct rl_ent **b;

	if (s->n < s->nb || nb > (1u << 20))
		return;
	b = calloc(nb, sizeof(*b));
	if (b == NULL)
		return;
	for (size_t i = 0; i < s->nb; i++)
		while (s->b[i] != NULL) {
			struct rl_ent *e = s->b[i];

			s->b[i] = e->hnext;
			e->hnext = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	free(s->b);
	s->b = b;
	s->nb = nb;
}

static void *
local_create(const struct gw_rl_conf *c, size_t max_keys, uint64_t idle_us)
{
	struct rl_local *l = calloc(1, sizeof(*l));
	size_t per = (max_keys + NSHARD - 1) / NSHARD, nb = 16;

	if (l == NULL)
		return NULL;
	l->conf = *c;
	l->idle_us = idle_us;
	if (per == 0)
		per = 1;
	/* the buckets start small and double as keys come (grow) */
	while (nb < per && nb < 256)
		nb <<= 1;
	for (size_t i = 0; i < NSHARD; i++) {
		struct rl_shard *s = &l->sh[i];

		pthread_mutex_init(&s->mu, NULL);
		s->max = per;
		s->nb = nb;
		s->b = calloc(nb, sizeof(*s->b));
		if (s->b == NULL) {
			for (size_t k = 0; k <= i; k++) {
				free(l->sh[k].b);
				pthread_mutex_destroy(&l->sh[k].mu);
			}
			free(l);
			errno = ENOMEM;
			return NULL;
		}
	}
	return l;
}

static void
local_destroy(void *lim)
{
	struct rl_local *l = lim;

	if (l == NULL)
		return;
	for (size_t i = 0; i < NSHARD; i++) {
		struct rl_shard *s = &l->sh[i];

		while (s->head != NULL)
			ent_drop(s, s->head);
		free(s->b);
		pthread_mutex_destroy(&s->mu);
	}
	free(l);
}

static int
local_decide(void *lim, const char *key, size_t klen, uint64_t now_us,
	     struct gw_rl_result *r)
{
	struct rl_local *l = lim;
	uint64_t h = gw_hash_bytes(key, klen);
	struct rl_shard *s = &l->sh[(h >> 58) % NSHARD];
	struct rl_ent *e;

	if (klen > KEY_MAX)
		klen = KEY_MAX;
	pthread_mutex_lock(&s->mu);
	/* idle keys at the LRU's end go first (two per call at most) */
	for (int i = 0;
	     i < 2 && s->tail != NULL && now_us > s->tail->last_us + l->idle_us;
	     i++) {
		ent_drop(s, s->tail);
		s->expired++;
	}
	for (e = s->b[h & (s->nb - 1)]; e != NULL; e = e->hnext)
		if (e->hash == h && e->klen == klen &&
		    memcmp(e->key, key, klen) == 0)
			break;
	if (e == NULL) {
		if (s->n >= s->max && s->tail != NULL) {
			ent_drop(s, s->tail);
			s->evicted++;
		}
		e = calloc(1, sizeof(*e) + klen);
		if (e == NULL) {
			pthread_mutex_unlock(&s->mu);
			return -ENOMEM;
		}
		grow(s);
		e->hash = h;
		e->klen = (uint16_t)klen;
		memcpy(e->key, key, klen);
		e->hnext = s->b[h & (s->nb - 1)];
		s->b[h & (s->nb - 1)] = e;
		s->n++;
	} else {
		lru_unlink(s, e);
	}
	lru_front(s, e);
	e->last_us = now_us;
	gw_rl_step(&l->conf, &e->st, now_us, r);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static size_t
local_nkeys(void *lim)
{
	struct rl_local *l = lim;
	size_t n = 0;

	for (size_t i = 0; i < NSHARD; i++) {
		pthread_mutex_lock(&l->sh[i].mu);
		n += l->sh[i].n;
		pthread_mutex_unlock(&l->sh[i].mu);
	}
	return n;
}

const struct gw_limiter_ops gw_limiter_local = {
	.name = "local",
	.create = local_create,
	.destroy = local_destroy,
	.decide = local_decide,
	.nkeys = local_nkeys,
};

/* ---- the filter ------------------------------------------------------------ */

enum key_part {
	KP_CONSUMER,
	KP_CLIENT,
	KP_ROUTE,
	KP_HEADER,
};

enum hdr_style {
	HS_DRAFT = 1, /* RateLimit-Policy, RateLimit */
	HS_X = 2,     /* X-RateLimit-Limit, -Remaining, -Reset */
};

struct rl_filter {
	char name[GW_NAME_MAX];
	struct gw_rl_conf conf;
	const struct gw_limiter_ops *lops;
	void *lim;
	size_t nparts;
	enum key_part parts[KEY_PARTS];
	char hdr[KEY_PARTS][GW_NAME_MAX];
	unsigned style;
	uint32_t window_s; /* for the policy's w= */
	uint64_t nomem;
	struct gw_rl_redis_conf rconf;
	struct gw_rl_redis *redis; /* store = redis, or NULL */
};

static int
parse_alg(const char *v, enum gw_rl_alg *a)
{
	static const char *const names[] = { "token_bucket", "fixed_window",
					     "sliding_window", "leaky_bucket" };

	for (size_t i = 0; i < 4; i++)
		if (strcmp(v, names[i]) == 0) {
			*a = (enum gw_rl_alg)i;
			return 0;
		}
	return -EINVAL;
}

/* "N/s", "N/m", "N/h", "N/Ks", "N/Km" ... : N per period. */
static int
parse_rate(const char *v, uint32_t *limit, uint64_t *period_us)
{
	char *end;
	unsigned long n, k = 1;
	const char *p;
	uint64_t unit;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '/' || n == 0 || n > 100000000)
		return -EINVAL;
	p = end + 1;
	if (*p >= '0' && *p <= '9') {
		k = strtoul(p, &end, 10);
		if (k == 0 || k > 86400)
			return -EINVAL;
		p = end;
	}
	if (strcmp(p, "s") == 0)
		unit = US_PER_S;
	else if (strcmp(p, "m") == 0)
		unit = 60ull * US_PER_S;
	else if (strcmp(p, "h") == 0)
		unit = 3600ull * US_PER_S;
	else
		return -EINVAL;
	*limit = (uint32_t)n;
	*period_us = unit * k;
	if (*period_us > 86400ull * US_PER_S)
		return -EINVAL;
	return 0;
}

static int
parse_key(const char *v, struct rl_filter *f)
{
	char buf[GW_FILTER_VALUE_MAX], *tok, *save = NULL;

	if (strlen(v) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, v);
	f->nparts = 0;
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	     tok = strtok_r(NULL, ", ", &save)) {
		enum key_part kp;

		if (f->nparts >= KEY_PARTS)
			return -EINVAL;
		if (strcmp(tok, "consumer") == 0)
			kp = KP_CONSUMER;
		else if (strcmp(tok, "client") == 0)
			kp = KP_CLIENT;
		else if (strcmp(tok, "route") == 0)
			kp = KP_ROUTE;
		else if (strncmp(tok, "header:", 7) == 0 &&
			 gw_fis_token(tok + 7) &&
			 strlen(tok + 7) < GW_NAME_MAX) {
			kp = KP_HEADER;
			strcpy(f->hdr[f->nparts], tok + 7);
		} else {
			return -EINVAL;
		}
		f->parts[f->nparts++] = kp;
	}
	return f->nparts > 0 ? 0 : -EINVAL;
}

/* One key into f (f may be a scratch one: check_key). */
static int
rl_key(struct rl_filter *f, const char *key, const char *v, uint32_t *max_keys,
       uint32_t *idle_s, char *why, size_t wl)
{
	if (strcmp(key, "algorithm") == 0) {
		if (parse_alg(v, &f->conf.alg) == 0)
			return 0;
		snprintf(why, wl,
			 "token_bucket, fixed_window, sliding_window "
			 "or leaky_bucket");
		return -EINVAL;
	}
	if (strcmp(key, "rate") == 0) {
		if (parse_rate(v, &f->conf.limit, &f->conf.period_us) == 0)
			return 0;
		snprintf(why, wl,
			 "LIMIT/PERIOD, e.g. 100/s, 600/m, 10/30s "
			 "(limit 1..100000000, period up to a day)");
		return -EINVAL;
	}
	if (strcmp(key, "burst") == 0) {
		if (gw_fparse_u32(v, 0, 100000000, &f->conf.burst) == 0)
			return 0;
		snprintf(why, wl, "0..100000000");
		return -EINVAL;
	}
	if (strcmp(key, "delay") == 0) {
		if (strcmp(v, "no") == 0) {
			f->conf.delay = false;
			return 0;
		}
		if (gw_fparse_u32(v, 0, 100000000, &f->conf.delay_after) == 0) {
			f->conf.delay = true;
			return 0;
		}
		snprintf(why, wl,
			 "no, or N: the excess passed without delay "
			 "(0..100000000)");
		return -EINVAL;
	}
	if (strcmp(key, "max_delay_ms") == 0) {
		uint32_t ms;

		if (gw_fparse_u32(v, 1, 60000, &ms) == 0) {
			f->conf.max_delay_us = (uint64_t)ms * 1000;
			return 0;
		}
		snprintf(why, wl, "1..60000");
		return -EINVAL;
	}
	if (strcmp(key, "key") == 0) {
		if (parse_key(v, f) == 0)
			return 0;
		snprintf(why, wl,
			 "comma list of consumer, client, route, "
			 "header:NAME (at most 4)");
		return -EINVAL;
	}
	if (strcmp(key, "max_keys") == 0) {
		if (gw_fparse_u32(v, 1, MAX_KEYS_CAP, max_keys) == 0)
			return 0;
		snprintf(why, wl, "1..%u", MAX_KEYS_CAP);
		return -EINVAL;
	}
	if (strcmp(key, "idle_s") == 0) {
		if (gw_fparse_u32(v, 1, 86400 * 7, idle_s) == 0)
			return 0;
		snprintf(why, wl, "1..604800");
		return -EINVAL;
	}
	if (strcmp(key, "headers") == 0) {
		if (strcmp(v, "draft") == 0)
			f->style = HS_DRAFT;
		else if (strcmp(v, "x") == 0)
			f->style = HS_X;
		else if (strcmp(v, "both") == 0)
			f->style = HS_DRAFT | HS_X;
		else if (strcmp(v, "none") == 0)
			f->style = 0;
		else {
			snprintf(why, wl, "draft, x, both or none");
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(key, "backend") == 0) {
		if (strcmp(v, "local") == 0) {
			f->lops = &gw_limiter_local;
			return 0;
		}
		snprintf(why, wl, "only \"local\" (this process)");
		return -EINVAL;
	}
	return gw_rl_redis_key(&f->rconf, key, v, why, wl);
}

static int
rl_check_key(const char *key, const char *value, char *why, size_t wl)
{
	struct rl_filter f = { 0 };
	uint32_t a, b;

	return rl_key(&f, key, value, &a, &b, why, wl);
}

static void
rl_destroy(void *inst)
{
	struct rl_filter *f = inst;

	if (f == NULL)
		return;
	if (f->lim != NULL)
		f->lops->destroy(f->lim);
	gw_rl_redis_free(f->redis);
	free(f);
}

static void *
rl_create(const struct gw_filter_conf *c, char *err, size_t errlen)
{
	struct rl_filter *f = calloc(1, sizeof(*f));
	uint32_t max_keys = 100000, idle_s = 0;
	bool has_rate = false;
	char why[160];

	if (f == NULL) {
		lb_errf(err, errlen, 0, "filter %s: out of memory", c->name);
		errno = ENOMEM;
		return NULL;
	}
	snprintf(f->name, sizeof(f->name), "%s", c->name);
	f->conf.alg = GW_RL_TOKEN_BUCKET;
	f->conf.max_delay_us = 10000000;
	f->lops = &gw_limiter_local;
	f->style = HS_DRAFT;
	f->nparts = 1;
	f->parts[0] = KP_CLIENT;
	for (size_t i = 0; i < c->nkeys; i++) {
		why[0] = '\0';
		if (rl_key(f, c->kv[i].key, c->kv[i].value, &max_keys, &idle_s,
			   why, sizeof(why)) < 0) {
			lb_errf(err, errlen, 0, "filter %s: %s: %s", c->name,
				c->kv[i].key, why);
			goto fail;
		}
		has_rate |= strcmp(c->kv[i].key, "rate") == 0;
	}
	if (f->conf.delay && f->conf.alg != GW_RL_LEAKY_BUCKET) {
		lb_errf(err, errlen, 0,
			"filter %s: delay: only with algorithm = leaky_bucket",
			c->name);
		goto fail;
	}
	if (!has_rate) {
		lb_errf(err, errlen, 0, "filter %s: rate: missing (e.g. 100/s)",
			c->name);
		goto fail;
	}
	if (idle_s == 0) {
		/* long enough that an idle key holds no state worth keeping */
		uint64_t p = f->conf.period_us / US_PER_S * 2;

		idle_s = p < 60 ? 60 : (uint32_t)(p > 604800 ? 604800 : p);
	}
	f->window_s = (uint32_t)(f->conf.period_us / US_PER_S);
	if (f->window_s == 0)
		f->window_s = 1;
	f->lim = f->lops->create(&f->conf, max_keys,
				 (uint64_t)idle_s * US_PER_S);
	if (f->lim == NULL) {
		lb_errf(err, errlen, 0, "filter %s: out of memory", c->name);
		goto fail;
	}
	if (f->rconf.on) {
		f->redis = gw_rl_redis_new(&f->rconf, &f->conf, c->name, err,
					   errlen);
		if (f->redis == NULL)
			goto fail;
	}
	return f;
fail:
	rl_destroy(f);
	errno = EINVAL;
	return NULL;
}

static size_t
build_key(const struct rl_filter *f, struct gw_freq *fr,
	  const struct gw_freq_in *in, char *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < f->nparts && n + 2 < cap; i++) {
		char ip[INET6_ADDRSTRLEN] = "-";
		const char *v = NULL;
		size_t k;

		switch (f->parts[i]) {
		case KP_CONSUMER:
			v = gw_freq_consumer(fr);
			if (v == NULL)
				v = "-"; /* anonymous: one shared key */
			break;
		case KP_CLIENT:
			if (in->peer != NULL && in->peer->sa_family == AF_INET)
				inet_ntop(
					AF_INET,
					&((const struct sockaddr_in *)in->peer)
						 ->sin_addr,
					ip, sizeof(ip));
			else if (in->peer != NULL &&
				 in->peer->sa_family == AF_INET6)
				inet_ntop(
					AF_INET6,
					&((const struct sockaddr_in6 *)in->peer)
						 ->sin6_addr,
					ip, sizeof(ip));
			v = ip;
			break;
		case KP_ROUTE:
			v = gw_freq_route(fr)->conf->name;
			break;
		case KP_HEADER:
			v = http_msg_header(in->m, f->hdr[i]);
			if (v == NULL)
				v = "-";
			break;
		}
		/* parts are separated by a byte no header value carries;
		 * a key too long for out is cut (as snprintf would) */
		if (i > 0)
			out[n++] = '\x1f';
		k = strlen(v);
		if (k > cap - n - 1)
			k = cap - n - 1;
		memcpy(out + n, v, k);
		n += k;
		out[n] = '\0';
	}
	return n;
}

/* Decimal digits of v at p; the end. */
static char *
put_u32(char *p, uint32_t v)
{
	char d[10];
	size_t n = 0;

	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = d[--n];
	return p;
}

/* "NAME";A=X;B=Y, put together here: every answer of a limited route
 * carries two of these, and printf's machinery cost more than the
 * decision. */
static void
draft_value(char *out, const char *name, char a, uint32_t x, char b, uint32_t y)
{
	size_t nl = strlen(name);
	char *p = out;

	*p++ = '"';
	memcpy(p, name, nl);
	p += nl;
	*p++ = '"';
	*p++ = ';';
	*p++ = a;
	*p++ = '=';
	p = put_u32(p, x);
	*p++ = ';';
	*p++ = b;
	*p++ = '=';
	p = put_u32(p, y);
	*p = '\0';
}

static void
add_headers(const struct rl_filter *f, struct gw_freq *fr,
	    const struct gw_rl_result *r)
{
	if (f->style & HS_DRAFT) {
		char v[GW_NAME_MAX + 32];

		draft_value(v, f->name, 'q', r->limit, 'w', f->window_s);
		(void)gw_freq_add_hdr(fr, "RateLimit-Policy", "%s", v);
		draft_value(v, f->name, 'r', r->remaining, 't', r->reset_s);
		(void)gw_freq_add_hdr(fr, "RateLimit", "%s", v);
	}
	if (f->style & HS_X) {
		(void)gw_freq_add_hdr(fr, "X-RateLimit-Limit", "%u", r->limit);
		(void)gw_freq_add_hdr(fr, "X-RateLimit-Remaining", "%u",
				      r->remaining);
		(void)gw_freq_add_hdr(fr, "X-RateLimit-Reset", "%u",
				      r->reset_s);
	}
}

static enum gw_fverdict
rl_verdict(struct rl_filter *f, struct gw_freq *fr,
	   const struct gw_rl_result *r)
{
	add_headers(f, fr, r);
	if (r->allowed) {
		if (r->delay_us > 0)
			gw_freq_set_delay(
				fr, (uint32_t)((r->delay_us + 999) / 1000));
		return GW_FV_PASS;
	}
	(void)gw_freq_add_hdr(fr, "Retry-After", "%u", r->retry_after_s);
	return gw_freq_reject(fr, 429, GW_FR_RATE_LIMITED, NULL);
}

static enum gw_fverdict
rl_local(struct rl_filter *f, struct gw_freq *fr, const char *key, size_t kl,
	 uint64_t now_us)
{
	struct gw_rl_result r;

	if (f->lops->decide(f->lim, key, kl, now_us, &r) < 0) {
		__atomic_add_fetch(&f->nomem, 1, __ATOMIC_RELAXED);
		return gw_freq_reject(fr, 503, GW_FR_NOMEM, "limiter state");
	}
	return rl_verdict(f, fr, &r);
}

/* Redis's decision, or its failure (r NULL): the local limiter decides
 * (fail_open) or the request is refused (fail_closed). */
static enum gw_fverdict
rl_redis_done(void *arg, struct gw_freq *fr, const char *key, size_t kl,
	      const struct gw_rl_result *r)
{
	struct rl_filter *f = arg;

	if (r != NULL)
		return rl_verdict(f, fr, r);
	if (!f->rconf.fail_closed)
		return rl_local(f, fr, key, kl, lb_now_ns() / 1000);
	(void)gw_freq_add_hdr(fr, "Retry-After", "1");
	return gw_freq_reject(fr, 503, GW_FR_STORE_DOWN, NULL);
}

static enum gw_fverdict
rl_pre(void *inst, void *rstate, struct gw_freq *fr,
       const struct gw_freq_in *in, uint64_t *scratch)
{
	struct rl_filter *f = inst;
	char key[KEY_MAX];
	size_t kl;

	(void)rstate;
	kl = build_key(f, fr, in, key, sizeof(key));
	/* without the request's loop (direct callers) the decision is local */
	if (f->redis != NULL && in->base != NULL)
		return gw_rl_redis_decide(f->redis, in->base, fr, key, kl,
					  scratch, rl_redis_done, f);
	return rl_local(f, fr, key, kl, in->now_ns / 1000);
}

static void
rl_done(void *inst, void *rstate, const struct gw_fdone *d, bool answered,
	uint64_t *scratch)
{
	(void)inst;
	(void)rstate;
	(void)d;
	(void)answered;
	gw_rl_redis_cancel(scratch); /* the request went while Redis decided */
}

const struct gw_filter_ops gw_filter_ratelimit = {
	.type = "ratelimit",
	.check_key = rl_check_key,
	.create = rl_create,
	.destroy = rl_destroy,
	.pre = rl_pre,
	.done = rl_done,
};
