/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cluster-wide rate limits in Redis (gw_ratelimit_redis.h).
 *
 * The script takes the key, reads TIME and runs one algorithm on the
 * key's state in Redis, all atomically (Redis runs one script at a time):
 *   token_bucket   a hash {a: tokens, t: last refill µs}, refilled at
 *                  limit/period up to the capacity; expires once it
 *                  would be full again.
 *   fixed_window   a counter per aligned window (KEY:WINDOW_START),
 *                  expiring a second after its window ends.
 *   sliding_window the same counters, the previous one weighted by how
 *                  much of it the sliding period still covers (as the
 *                  local limiter); each expires a window later.
 * Key names: "edgelb:rl:FILTER:KEY" (KEY is the filter's limit key, its
 * parts separated by 0x1f), so filters sharing one Redis never meet.
 *
 * Connections: one per loop thread and address, in a thread-specific
 * list (pthread key; its destructor frees them when the thread ends, its
 * base still alive). SCRIPT LOAD is sent first; until its answer a
 * decision is sent as EVAL (which caches the script too); a NOSCRIPT
 * answer (Redis restarted, SCRIPT FLUSH) sends that decision again as
 * EVAL and the script is loaded again. Each waiting decision has its own
 * timer (redis_timeout): past it the filter's fallback decides, and the
 * late answer is dropped.
 *
 * Leases (lease = N): a request that finds no local token asks Redis for
 * N at once (the script grants what is left, up to N); it takes one and
 * the rest go to a direct-mapped cache of LEASE_SLOTS slots per filter
 * (the key's 64-bit hash, tokens, deadline; one mutex), where the next
 * requests of that key on any loop of this node take them without a
 * round trip. A lease ends at a deadline counted from when the request
 * was sent (before Redis read its clock), so it never outlives what it
 * was granted for: fixed_window: the window's end (no overshoot: every
 * token was counted in that window in Redis; tokens unused at the end
 * are lost, so up to N - 1 per node fewer may pass); token_bucket: one
 * period (the tokens were taken from the bucket when leased, but a node
 * may spend them after another node was refused: at most the N - 1 it
 * holds, so over any interval the cluster passes at most N - 1 per node
 * more than the one bucket would). A refusal from Redis is
 * kept the same way until its Retry-After, so refused requests make no
 * round trips either. A slot taken by another key drops its tokens
 * (fewer pass, never more).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "gw_ratelimit_redis.h"
#include "gw_upstream.h"
#include "edgelb/util.h"

#define KEY_PREFIX     "edgelb:rl:"
#define RKEY_MAX       (sizeof(KEY_PREFIX) + GW_NAME_MAX + 1 + 256)
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
#define LEASE_SLOTS    1024
#define STAT_ADD(f, v) __atomic_add_fetch(&st.f, (v), __ATOMIC_RELAXED)

/* granted, remaining, reset_ms, retry_ms, limit */
static const char script[] =
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
	"local alg = tonumber(ARGV[1])\n"
	"local limit = tonumber(ARGV[2])\n"
	"local period = tonumber(ARGV[3])\n"
	"local want = tonumber(ARGV[5])\n"
	"local k = KEYS[1]\n"
	"if alg == 0 then\n"
	"  local cap = tonumber(ARGV[4])\n"
	"  local rate = limit / period\n"
	"  local v = redis.call('HMGET', k, 'a', 't')\n"
	"  local a = tonumber(v[1])\n"
	"  local ts = tonumber(v[2])\n"
	"  if a == nil or ts == nil then a = cap; ts = now end\n"
	"  if now > ts then a = math.min(cap, a + (now - ts) * rate); ts = now "
	"end\n"
	"  local g = math.max(0, math.min(want, math.floor(a)))\n"
	"  a = a - g\n"
	"  redis.call('HSET', k, 'a', string.format('%.17g', a), 't', "
	"string.format('%.17g', ts))\n"
	"  local full = math.ceil((cap - a) / rate / 1000)\n"
	"  redis.call('PEXPIRE', k, full + 1000)\n"
	"  local retry = 0\n"
	"  if g == 0 then retry = math.ceil((1 - a) / rate / 1000) end\n"
	"  return {g, math.floor(a), full, retry, cap}\n"
	"end\n"
	"local w = now - (now % period)\n"
	"local ck = k .. ':' .. string.format('%d', w)\n"
	"local c = tonumber(redis.call('GET', ck) or '0')\n"
	"local reset = math.ceil((w + period - now) / 1000)\n"
	"local est = c\n"
	"local p = 0\n"
	"if alg == 2 then\n"
	"  p = tonumber(redis.call('GET', k .. ':' .. string.format('%d', w - "
	"period)) or '0')\n"
	"  est = p * (period - (now - w)) / period + c\n"
	"end\n"
	"local g = math.max(0, math.min(want, math.floor(limit - est)))\n"
	"if g > 0 then\n"
	"  c = redis.call('INCRBY', ck, g)\n"
	"  redis.call('PEXPIRE', ck, reset + (alg - 1) * math.ceil(period / "
	"1000) + 1000)\n"
	"  est = est + g\n"
	"end\n"
	"local retry = 0\n"
	"if g == 0 then\n"
	"  retry = reset\n"
	"  if alg == 2 and c + 1 <= limit and p > 0 then\n"
	"    local need = (limit - 1 - c) / p\n"
	"    retry = math.ceil((period * (1 - need) - (now - w)) / 1000)\n"
	"  end\n"
	"end\n"
	"return {g, math.max(0, math.floor(limit - est)), reset, retry, "
	"limit}\n";

struct lease {
	uint64_t hash;
	uint32_t tokens;      /* 0: a refusal, until deadline */
	uint64_t deadline_us; /* lb_now_ns() / 1000 */
};

struct gw_rl_redis {
	struct gw_rl_redis_conf rc;
	char name[GW_NAME_MAX];
	char alg[4], limit[16], period[24], cap[16], want[16];
	uint64_t period_us; /* token_bucket: a lease's life */
	pthread_mutex_t mu; /* the leases */
	struct lease *leases;
};

struct rconn {
	struct rconn *next;
	struct event_base *base;
	char addr[GW_RL_REDIS_ADDR_MAX];
	redisAsyncContext *ac; /* NULL: down, retry armed */
	bool connected;
	bool dying; /* the thread ends: answers are dropped */
	char sha[48];
	struct event retry;
	uint32_t backoff_ms;
};

/* one waiting decision; freed by its reply callback */
struct pend {
	struct rconn *c;
	struct gw_freq *fr; /* NULL: answered (timeout) or cancelled */
	uint64_t *scratch;
	gw_rl_redis_cb cb;
	void *arg;
	const struct gw_rl_redis *r; /* valid while fr is */
	struct event tmo;
	bool retried;	  /* sent again as EVAL after NOSCRIPT */
	uint64_t hash;	  /* the key's (leases) */
	uint64_t sent_us; /* lb_now_ns() / 1000 when sent */
	size_t klen;	  /* the filter's key, for the fallback */
	size_t rklen;	  /* the Redis key */
	char key[256];
	char rkey[RKEY_MAX];
};

static struct gw_rl_redis_stats st;
static pthread_key_t conns_key;
static pthread_once_t conns_once = PTHREAD_ONCE_INIT;

static void conn_connect(struct rconn *c);
static int send_decision(struct pend *pd, bool eval);

/* ---- configuration ---------------------------------------------------------- */

static int
parse_addr(const char *v, char *host, size_t hl, int *port)
{
	const char *colon = strrchr(v, ':');
	unsigned long p;
	char *end;

	if (v[0] == '/') {
		if (strlen(v) >= GW_RL_REDIS_ADDR_MAX)
			return -EINVAL;
		*port = 0;
		snprintf(host, hl, "%s", v);
		return 0;
	}
	if (colon == NULL || colon == v || (size_t)(colon - v) >= hl)
		return -EINVAL;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || p == 0 ||
	    p > 65535)
		return -EINVAL;
	memcpy(host, v, (size_t)(colon - v));
	host[colon - v] = '\0';
	*port = (int)p;
	return 0;
}

int
gw_rl_redis_key(struct gw_rl_redis_conf *c, const char *key, const char *v,
		char *why, size_t wl)
{
	char host[GW_RL_REDIS_ADDR_MAX];
	int port;

	if (strcmp(key, "store") == 0) {
		if (strcmp(v, "local") == 0 || strcmp(v, "redis") == 0) {
			c->on = strcmp(v, "redis") == 0;
			return 0;
		}
		snprintf(why, wl, "local or redis");
		return -EINVAL;
	}
	if (strcmp(key, "redis") == 0) {
		if (parse_addr(v, host, sizeof(host), &port) == 0) {
			snprintf(c->addr, sizeof(c->addr), "%s", v);
			return 0;
		}
		snprintf(why, wl,
			 "HOST:PORT or an absolute unix socket path "
			 "(under %d bytes)",
			 GW_RL_REDIS_ADDR_MAX);
		return -EINVAL;
	}
	if (strcmp(key, "redis_timeout") == 0) {
		if (gw_fparse_u32(v, 1, 10000, &c->timeout_ms) == 0)
			return 0;
		snprintf(why, wl, "milliseconds, 1..10000");
		return -EINVAL;
	}
	if (strcmp(key, "on_redis_error") == 0) {
		if (strcmp(v, "fail_open") == 0 ||
		    strcmp(v, "fail_closed") == 0) {
			c->fail_closed = strcmp(v, "fail_closed") == 0;
			return 0;
		}
		snprintf(why, wl, "fail_open or fail_closed");
		return -EINVAL;
	}
	if (strcmp(key, "lease") == 0) {
		if (gw_fparse_u32(v, 1, GW_RL_LEASE_MAX, &c->lease) == 0)
			return 0;
		snprintf(why, wl, "tokens per Redis call, 1..%d (1: no lease)",
			 GW_RL_LEASE_MAX);
		return -EINVAL;
	}
	return -ENOENT;
}

struct gw_rl_redis *
gw_rl_redis_new(const struct gw_rl_redis_conf *rc, const struct gw_rl_conf *c,
		const char *filter, char *err, size_t errlen)
{
	struct gw_rl_redis *r;
	char host[GW_RL_REDIS_ADDR_MAX];
	int port;

	if (c->alg == GW_RL_LEAKY_BUCKET) {
		lb_errf(err, errlen, 0,
			"filter %s: store = redis: token_bucket, fixed_window "
			"or sliding_window (leaky_bucket is local only)",
			filter);
		errno = EINVAL;
		return NULL;
	}
	if (rc->addr[0] == '\0' ||
	    parse_addr(rc->addr, host, sizeof(host), &port) < 0) {
		lb_errf(err, errlen, 0,
			"filter %s: store = redis: redis = HOST:PORT missing",
			filter);
		errno = EINVAL;
		return NULL;
	}
	if (rc->lease > 1 && c->alg == GW_RL_SLIDING_WINDOW) {
		lb_errf(err, errlen, 0,
			"filter %s: lease: token_bucket or fixed_window",
			filter);
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r != NULL && rc->lease > 1) {
		r->leases = calloc(LEASE_SLOTS, sizeof(*r->leases));
		if (r->leases == NULL) {
			free(r);
			r = NULL;
		}
	}
	if (r == NULL) {
		lb_errf(err, errlen, 0, "filter %s: out of memory", filter);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&r->mu, NULL);
	r->rc = *rc;
	if (r->rc.lease == 0)
		r->rc.lease = 1;
	snprintf(r->want, sizeof(r->want), "%u", r->rc.lease);
	r->period_us = c->period_us;
	if (r->rc.timeout_ms == 0)
		r->rc.timeout_ms = 50;
	snprintf(r->name, sizeof(r->name), "%s", filter);
	snprintf(r->alg, sizeof(r->alg), "%d",
		 c->alg == GW_RL_TOKEN_BUCKET	? 0
		 : c->alg == GW_RL_FIXED_WINDOW ? 1
						: 2);
	snprintf(r->limit, sizeof(r->limit), "%u", c->limit);
	snprintf(r->period, sizeof(r->period), "%llu",
		 (unsigned long long)c->period_us);
	snprintf(r->cap, sizeof(r->cap), "%u",
		 c->burst != 0 ? c->burst : c->limit);
	return r;
}

void
gw_rl_redis_free(struct gw_rl_redis *r)
{
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->mu);
	free(r->leases);
	free(r);
}

void
gw_rl_redis_stats(struct gw_rl_redis_stats *out)
{
	uint64_t *d = (uint64_t *)out;
	const uint64_t *s = (const uint64_t *)&st;

	for (size_t i = 0; i < sizeof(st) / sizeof(uint64_t); i++)
		d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

/* ---- the script's answer ------------------------------------------------------- */

static uint32_t
ms_to_s(long long ms, uint32_t min)
{
	long long s = (ms + 999) / 1000;

	if (s < (long long)min)
		return min;
	return s > 86400LL * 365 ? 86400u * 365 : (uint32_t)s;
}

int
gw_rl_redis_parse(const struct redisReply *rep, struct gw_rl_result *r,
		  uint32_t *granted, uint64_t *reset_ms)
{
	long long v[5];

	if (rep == NULL)
		return -EIO;
	if (rep->type == REDIS_REPLY_ERROR)
		return rep->str != NULL && strncmp(rep->str, "NOSCRIPT", 8) == 0
			       ? -ENOENT
			       : -EIO;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 5)
		return -EINVAL;
	for (size_t i = 0; i < 5; i++) {
		if (rep->element[i] == NULL ||
		    rep->element[i]->type != REDIS_REPLY_INTEGER)
			return -EINVAL;
		v[i] = rep->element[i]->integer;
	}
	/* granted up to a lease, counts within 32 bits, times not negative */
	if (v[0] < 0 || v[0] > GW_RL_LEASE_MAX || v[1] < 0 ||
	    v[1] > UINT32_MAX || v[2] < 0 || v[3] < 0 || v[4] < 1 ||
	    v[4] > UINT32_MAX)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->allowed = v[0] >= 1;
	*granted = (uint32_t)v[0];
	*reset_ms = (uint64_t)v[2];
	r->remaining = (uint32_t)v[1];
	r->reset_s = v[2] == 0 ? 0 : ms_to_s(v[2], 0);
	r->retry_after_s = r->allowed ? 0 : ms_to_s(v[3], 1);
	r->limit = (uint32_t)v[4];
	return 0;
}

/* ---- connections ------------------------------------------------------------------ */

static void
conns_free(void *list)
{
	struct rconn *c = list, *n;

	for (; c != NULL; c = n) {
		n = c->next;
		c->dying = true;
		event_del(&c->retry);
		if (c->ac != NULL)
			redisAsyncFree(c->ac); /* callbacks see dying */
		free(c);
	}
}

static void
conns_init(void)
{
	(void)pthread_key_create(&conns_key, conns_free);
}

static void
retry_fire(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	conn_connect(arg);
}

/* The connection is gone: try again after the backoff (doubling). */
static void
conn_lost(struct rconn *c)
{
	struct timeval tv;

	c->ac = NULL;
	c->connected = false;
	c->sha[0] = '\0';
	if (c->dying)
		return;
	tv.tv_sec = c->backoff_ms / 1000;
	tv.tv_usec = (c->backoff_ms % 1000) * 1000;
	evtimer_add(&c->retry, &tv);
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
							   : c->backoff_ms * 2;
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct rconn *c = ac->data;

	if (status != REDIS_OK) {
		STAT_ADD(connect_failures, 1);
		conn_lost(c); /* hiredis frees ac after this */
		return;
	}
	STAT_ADD(connects, 1);
	c->connected = true;
	c->backoff_ms = BACKOFF_MIN_MS;
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct rconn *c = ac->data;

	(void)status;
	STAT_ADD(disconnects, 1);
	conn_lost(c);
}

static void
on_script(redisAsyncContext *ac, void *reply, void *priv)
{
	struct rconn *c = ac->data;
	redisReply *rep = reply;

	(void)priv;
	if (c->dying || rep == NULL)
		return;
	if (rep->type == REDIS_REPLY_STRING && rep->len == 40)
		memcpy(c->sha, rep->str, 41);
	else
		STAT_ADD(errors, 1);
}

static void
load_script(struct rconn *c)
{
	if (redisAsyncCommand(c->ac, on_script, NULL, "SCRIPT LOAD %s",
			      script) == REDIS_OK)
		STAT_ADD(round_trips, 1);
}

static void
conn_connect(struct rconn *c)
{
	char host[GW_RL_REDIS_ADDR_MAX];
	redisAsyncContext *ac;
	int port;

	if (parse_addr(c->addr, host, sizeof(host), &port) < 0)
		return; /* checked at configuration */
	ac = port == 0 ? redisAsyncConnectUnix(host)
		       : redisAsyncConnect(host, port);
	if (ac == NULL || ac->err != 0) {
		if (ac != NULL)
			redisAsyncFree(ac);
		STAT_ADD(connect_failures, 1);
		conn_lost(c);
		return;
	}
	ac->data = c;
	if (redisLibeventAttach(ac, c->base) != REDIS_OK) {
		redisAsyncFree(ac);
		conn_lost(c);
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	c->ac = ac;
	load_script(c); /* queued until connected */
}

/* This thread's connection to addr on base, made now if there is none.
 * NULL: out of memory. */
static struct rconn *
conn_get(struct event_base *base, const char *addr)
{
	struct rconn *list, *c;

	(void)pthread_once(&conns_once, conns_init);
	list = pthread_getspecific(conns_key);
	for (c = list; c != NULL; c = c->next)
		if (c->base == base && strcmp(c->addr, addr) == 0)
			return c;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->base = base;
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	c->backoff_ms = BACKOFF_MIN_MS;
	evtimer_assign(&c->retry, base, retry_fire, c);
	c->next = list;
	if (pthread_setspecific(conns_key, c) != 0) {
		free(c);
		return NULL;
	}
	conn_connect(c);
	return c;
}

/* ---- leases ------------------------------------------------------------------------- */

/* The key's lease decides if there is one: a token (true, allowed), or
 * a refusal Redis gave until its Retry-After (true, refused). */
static bool
lease_take(struct gw_rl_redis *r, uint64_t h, uint64_t now_us,
	   struct gw_rl_result *res)
{
	struct lease *l = &r->leases[h % LEASE_SLOTS];
	bool ok = false;

	pthread_mutex_lock(&r->mu);
	if (l->hash == h && now_us < l->deadline_us) {
		ok = true;
		memset(res, 0, sizeof(*res));
		res->limit = (uint32_t)strtoul(r->cap, NULL, 10);
		res->reset_s = (uint32_t)((l->deadline_us - now_us + 999999) /
					  1000000);
		if (l->tokens > 0) {
			l->tokens--;
			res->allowed = true;
			res->remaining = l->tokens; /* what this node holds */
			if (l->tokens == 0)
				l->deadline_us = 0; /* spent, not a refusal */
		} else {
			res->retry_after_s = res->reset_s;
		}
	}
	pthread_mutex_unlock(&r->mu);
	return ok;
}

/* A grant's tokens past the request's own (tokens > 0), or a refusal
 * (tokens 0), for the key until deadline. */
static void
lease_put(struct gw_rl_redis *r, uint64_t h, uint32_t tokens,
	  uint64_t deadline_us, uint64_t now_us)
{
	struct lease *l = &r->leases[h % LEASE_SLOTS];

	if (deadline_us <= now_us)
		return;
	pthread_mutex_lock(&r->mu);
	if (l->hash == h && l->tokens > 0 && now_us < l->deadline_us) {
		/* tokens held stay (a refusal that crossed a grant on
		 * the way changes nothing) */
		l->tokens += tokens;
		if (deadline_us < l->deadline_us)
			l->deadline_us = deadline_us; /* the earlier one */
	} else {
		l->hash = h;
		l->tokens = tokens;
		l->deadline_us = deadline_us;
	}
	pthread_mutex_unlock(&r->mu);
}

/* ---- decisions -------------------------------------------------------------------- */

/* The decision's end: the filter's verdict on r (NULL: store failed). */
static enum gw_fverdict
finish(struct pend *pd, const struct gw_rl_result *r)
{
	if (r == NULL) {
		if (pd->r->rc.fail_closed)
			STAT_ADD(fail_closed, 1);
		else
			STAT_ADD(fail_open, 1);
	}
	return pd->cb(pd->arg, pd->fr, pd->key, pd->klen, r);
}

/* An answer (or the timeout) for a waiting request: it goes on. */
static void
resume(struct pend *pd, const struct gw_rl_result *r)
{
	struct gw_freq *fr = pd->fr;
	enum gw_fverdict v;

	event_del(&pd->tmo);
	pd->scratch[0] = 0;
	v = finish(pd, r);
	pd->fr = NULL;
	gw_freq_resume(fr, v, lb_now_ns());
}

static void
on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct pend *pd = priv;
	struct gw_rl_result r;
	uint32_t granted = 0;
	uint64_t reset_ms = 0;
	int rc;

	(void)ac;
	if (pd->fr == NULL) {
		free(pd); /* answered by the timeout, or the request went */
		return;
	}
	if (pd->c->dying) {
		/* the loop ends; the request is cancelled with it */
		event_del(&pd->tmo);
		pd->scratch[0] = 0;
		free(pd);
		return;
	}
	rc = gw_rl_redis_parse(reply, &r, &granted, &reset_ms);
	if (rc == -ENOENT && !pd->retried && pd->c->ac != NULL) {
		STAT_ADD(noscript, 1);
		pd->c->sha[0] = '\0';
		load_script(pd->c);
		pd->retried = true;
		if (send_decision(pd, true) == 0)
			return;
		rc = -EIO;
	}
	if (rc == 0 && granted > pd->r->rc.lease)
		rc = -EINVAL; /* more than asked for */
	if (rc == 0)
		STAT_ADD(replies_ok, 1);
	else
		STAT_ADD(errors, 1);
	if (rc == 0 && granted == 0 && pd->r->leases != NULL)
		lease_put((struct gw_rl_redis *)pd->r, pd->hash, 0,
			  pd->sent_us + (uint64_t)r.retry_after_s * 1000000,
			  lb_now_ns() / 1000);
	if (rc == 0 && granted > 1) {
		/* from the send (before Redis read its clock): a period,
		 * or the window's end */
		uint64_t life = pd->r->alg[0] == '0' ? pd->r->period_us
						     : reset_ms * 1000;

		lease_put((struct gw_rl_redis *)pd->r, pd->hash, granted - 1,
			  pd->sent_us + life, lb_now_ns() / 1000);
	}
	resume(pd, rc == 0 ? &r : NULL);
	free(pd);
}

static void
on_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct pend *pd = arg;

	(void)fd;
	(void)ev;
	STAT_ADD(timeouts, 1);
	resume(pd, NULL); /* the late answer frees pd */
}

/* EVALSHA, or EVAL while the script's sha is not known. 0 or -EIO (not
 * queued: the connection is closing). */
static int
send_decision(struct pend *pd, bool eval)
{
	const struct gw_rl_redis *r = pd->r;
	const char *argv[9];
	size_t len[9];

	eval |= pd->c->sha[0] == '\0';
	argv[0] = eval ? "EVAL" : "EVALSHA";
	argv[1] = eval ? script : pd->c->sha;
	argv[2] = "1";
	argv[3] = pd->rkey;
	argv[4] = r->alg;
	argv[5] = r->limit;
	argv[6] = r->period;
	argv[7] = r->cap;
	argv[8] = r->want;
	for (size_t i = 0; i < 9; i++)
		len[i] = i == 3 ? pd->rklen : strlen(argv[i]);
	if (redisAsyncCommandArgv(pd->c->ac, on_reply, pd, 9, argv, len) !=
	    REDIS_OK)
		return -EIO;
	STAT_ADD(round_trips, 1);
	return 0;
}

enum gw_fverdict
gw_rl_redis_decide(struct gw_rl_redis *r, struct event_base *base,
		   struct gw_freq *fr, const char *key, size_t klen,
		   uint64_t *scratch, gw_rl_redis_cb cb, void *arg)
{
	struct rconn *c = conn_get(base, r->rc.addr);
	struct timeval tv = { r->rc.timeout_ms / 1000,
			      (r->rc.timeout_ms % 1000) * 1000 };
	struct pend *pd = calloc(1, sizeof(*pd));
	int n;

	if (pd == NULL)
		return cb(arg, fr, key, klen, NULL); /* as if Redis failed */
	if (klen > sizeof(pd->key))
		klen = sizeof(pd->key);
	pd->sent_us = lb_now_ns() / 1000;
	if (r->leases != NULL) {
		struct gw_rl_result res;

		pd->hash = gw_hash_bytes(key, klen);
		if (lease_take(r, pd->hash, pd->sent_us, &res)) {
			STAT_ADD(lease_hits, 1);
			free(pd);
			return cb(arg, fr, key, klen, &res);
		}
	}
	pd->c = c;
	pd->fr = fr;
	pd->scratch = scratch;
	pd->cb = cb;
	pd->arg = arg;
	pd->r = r;
	memcpy(pd->key, key, klen);
	pd->klen = klen;
	n = snprintf(pd->rkey, sizeof(pd->rkey), KEY_PREFIX "%s:", r->name);
	if (n < 0 || (size_t)n + klen > sizeof(pd->rkey))
		n = 0; /* cannot be: the sizes are bounded above */
	memcpy(pd->rkey + n, key, klen);
	pd->rklen = (size_t)n + klen;
	if (c == NULL || c->ac == NULL || send_decision(pd, false) < 0) {
		enum gw_fverdict v;

		STAT_ADD(down, 1);
		v = finish(pd, NULL);
		free(pd);
		return v;
	}
	STAT_ADD(decisions, 1);
	evtimer_assign(&pd->tmo, base, on_timeout, pd);
	evtimer_add(&pd->tmo, &tv);
	scratch[0] = (uint64_t)(uintptr_t)pd;
	return GW_FV_PENDING;
}

void
gw_rl_redis_cancel(uint64_t *scratch)
{
	struct pend *pd = (struct pend *)(uintptr_t)scratch[0];

	if (pd == NULL)
		return;
	event_del(&pd->tmo);
	pd->fr = NULL; /* its reply frees it */
	scratch[0] = 0;
}
