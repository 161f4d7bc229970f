/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The push store on Redis (see push_store.h), for several push nodes
 * sharing one redis-server (docs/push.md, "Cluster mode (Redis)").
 *
 * Every write is one Lua script run (EVALSHA of the library below), so
 * each op is atomic on the server: the idempotency key is taken with
 * SET NX inside msg_add, enqueue allocates the seq, collapses, appends
 * and drops the oldest over max_queue in one step, acks and expiry move
 * an entry out of the pending set in one step. The ops are synchronous
 * (push_srv calls them on its loop and reads their results at once), so
 * the client is hiredis' blocking context with a short timeout
 * (RS_TIMEOUT_MS): a slow or dead Redis stalls the loop for at most that
 * long per call, then the store is down and every op answers -EIO until
 * a reconnect (with backoff) succeeds.
 *
 * Transactions: begin/commit/rollback bracket the writes of one loop
 * iteration but the writes are applied as they come; with the server's
 * appendfsync always each reply arrives once the write is in the AOF on
 * disk, so commit only reports whether every op since begin succeeded.
 * rollback cannot undo what was applied (see docs/push.md).
 *
 * Keys (prefix push:): dev:D hash (platform, app, last_seen, last_seq,
 * vendor, token); devices zset (score 0: ordered by name); user:U,
 * topic:T zsets of devices; dusers:D zset of users; msg:ID hash; msgs
 * zset by created; idem:K -> id; q:D zset of pending seqs; e:D:S hash
 * (msg, status, reason, sends, updated, expires, collapse); ck:D hash
 * collapse key -> pending seq; mq:ID hash device -> seq; exp zset of
 * pending "S:D" by expiry; done zset of finished "S:D" by update time;
 * npending counter.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "push_store.h"
#include "edgelb/log.h"
#include "edgelb/types.h"
#include "edgelb/util.h"

#define RS_TIMEOUT_MS	  200  /* connect and each command */
#define RS_BACKOFF_MIN_MS 100  /* first wait after a failure */
#define RS_BACKOFF_MAX_MS 5000 /* doubling up to */
#define RS_ARGS_MAX	  12

/* The script library: ARGV[1] names the op. */
static const char lua[] =
	"local P = 'push:'\n"
	"local op = ARGV[1]\n"
	"local function dk(d) return P..'dev:'..d end\n"
	"local function qk(d) return P..'q:'..d end\n"
	"local function ek(d, s) return P..'e:'..d..':'..s end\n"
	"local function ckk(d) return P..'ck:'..d end\n"
	"local function finish(d, s, st, reason, now)\n"
	"  s = tostring(s)\n"
	"  local e = ek(d, s)\n"
	"  local ck = redis.call('HGET', e, 'collapse')\n"
	"  redis.call('HSET', e, 'status', st, 'updated', now)\n"
	"  if reason then redis.call('HSET', e, 'reason', reason) end\n"
	"  redis.call('ZREM', qk(d), s)\n"
	"  redis.call('ZREM', P..'exp', s..':'..d)\n"
	"  redis.call('ZADD', P..'done', now, s..':'..d)\n"
	"  redis.call('DECR', P..'npending')\n"
	"  if ck and ck ~= '' and redis.call('HGET', ckk(d), ck) == s then\n"
	"    redis.call('HDEL', ckk(d), ck)\n"
	"  end\n"
	"end\n"
	"if op == 'reg' then\n"
	"  local d = ARGV[2]\n"
	"  redis.call('HSET', dk(d), 'platform', ARGV[3], 'app', ARGV[4],\n"
	"             'last_seen', ARGV[5])\n"
	"  redis.call('HSETNX', dk(d), 'last_seq', 0)\n"
	"  redis.call('ZADD', P..'devices', 0, d)\n"
	"  return 0\n"
	"elseif op == 'get' then\n"
	"  local d = ARGV[2]\n"
	"  local v = redis.call('HMGET', dk(d), 'platform', 'app',\n"
	"                       'last_seen', 'last_seq', 'vendor', 'token')\n"
	"  if not v[1] then return -2 end\n"
	"  v[7] = redis.call('ZCARD', qk(d))\n"
	"  return v\n"
	"elseif op == 'vendor' then\n"
	"  local d = ARGV[2]\n"
	"  if redis.call('EXISTS', dk(d)) == 0 then return -2 end\n"
	"  if ARGV[3] == '' then\n"
	"    redis.call('HDEL', dk(d), 'vendor', 'token')\n"
	"  else\n"
	"    redis.call('HSET', dk(d), 'vendor', ARGV[3], 'token', ARGV[4])\n"
	"  end\n"
	"  return 0\n"
	"elseif op == 'pair' then\n"
	"  local kind, a, d = ARGV[2], ARGV[3], ARGV[4]\n"
	"  if ARGV[5] == '1' then\n"
	"    if redis.call('EXISTS', dk(d)) == 0 then return -2 end\n"
	"    redis.call('ZADD', P..kind..':'..a, 0, d)\n"
	"    if kind == 'user' then redis.call('ZADD', P..'dusers:'..d, 0, a) "
	"end\n"
	"    return 0\n"
	"  end\n"
	"  local n = redis.call('ZREM', P..kind..':'..a, d)\n"
	"  if kind == 'user' then redis.call('ZREM', P..'dusers:'..d, a) end\n"
	"  if n == 0 then return -2 end\n"
	"  return 0\n"
	"elseif op == 'msgadd' then\n"
	"  local id, key = ARGV[2], ARGV[3]\n"
	"  if key ~= '' then\n"
	"    if not redis.call('SET', P..'idem:'..key, id, 'NX') then\n"
	"      return -17\n"
	"    end\n"
	"  end\n"
	"  redis.call('HSET', P..'msg:'..id, 'key', key, 'created', ARGV[4],\n"
	"             'ttl', ARGV[5], 'expires', ARGV[6], 'priority', "
	"ARGV[7],\n"
	"             'collapse', ARGV[8], 'payload', ARGV[9])\n"
	"  redis.call('ZADD', P..'msgs', ARGV[4], id)\n"
	"  return 0\n"
	"elseif op == 'enq' then\n"
	"  local d, id, max, now = ARGV[2], ARGV[3], tonumber(ARGV[4]), "
	"ARGV[5]\n"
	"  local exp, ck = ARGV[6], ARGV[7]\n"
	"  if redis.call('EXISTS', dk(d)) == 0 then return -2 end\n"
	"  local seq = tostring(redis.call('HINCRBY', dk(d), 'last_seq', 1))\n"
	"  local collapsed, dropped = 0, 0\n"
	"  if ck ~= '' then\n"
	"    local old = redis.call('HGET', ckk(d), ck)\n"
	"    if old then finish(d, old, 4, 'collapsed', now); collapsed = 1 "
	"end\n"
	"    redis.call('HSET', ckk(d), ck, seq)\n"
	"  end\n"
	"  redis.call('HSET', ek(d, seq), 'msg', id, 'status', 0, 'sends', 0,\n"
	"             'updated', now, 'expires', exp, 'collapse', ck)\n"
	"  redis.call('ZADD', qk(d), seq, seq)\n"
	"  redis.call('ZADD', P..'exp', exp, seq..':'..d)\n"
	"  redis.call('HSET', P..'mq:'..id, d, seq)\n"
	"  redis.call('INCR', P..'npending')\n"
	"  local n = redis.call('ZCARD', qk(d))\n"
	"  if max > 0 and n > max then\n"
	"    for _, s in ipairs(redis.call('ZRANGE', qk(d), 0, n - max - 1)) "
	"do\n"
	"      finish(d, s, 4, 'queue_full', now); dropped = dropped + 1\n"
	"    end\n"
	"  end\n"
	"  return {tonumber(seq), collapsed, dropped}\n"
	"elseif op == 'next' then\n"
	"  local d, limit, now = ARGV[2], tonumber(ARGV[4]), "
	"tonumber(ARGV[5])\n"
	"  local out = {}\n"
	"  local ss = redis.call('ZRANGEBYSCORE', qk(d), '('..ARGV[3], "
	"'+inf')\n"
	"  for _, s in ipairs(ss) do\n"
	"    if #out >= limit * 11 then break end\n"
	"    local e = redis.call('HMGET', ek(d, s), 'msg', 'status', "
	"'sends',\n"
	"                         'updated', 'expires')\n"
	"    if e[1] and tonumber(e[5]) > now then\n"
	"      local m = redis.call('HMGET', P..'msg:'..e[1], 'created', "
	"'ttl',\n"
	"                           'expires', 'priority', 'collapse', "
	"'payload')\n"
	"      if m[1] then\n"
	"        for _, x in ipairs({s, e[2], e[3], e[4], e[1], m[1], m[2], "
	"m[3],\n"
	"                            m[4], m[5], m[6]}) do\n"
	"          out[#out + 1] = x\n"
	"        end\n"
	"      end\n"
	"    end\n"
	"  end\n"
	"  return out\n"
	"elseif op == 'sent' then\n"
	"  local e = ek(ARGV[2], ARGV[3])\n"
	"  local st = redis.call('HGET', e, 'status')\n"
	"  if st and tonumber(st) < 2 then\n"
	"    redis.call('HSET', e, 'status', 1, 'updated', ARGV[4])\n"
	"    redis.call('HINCRBY', e, 'sends', 1)\n"
	"  end\n"
	"  return 0\n"
	"elseif op == 'ack' then\n"
	"  local d = ARGV[2]\n"
	"  local s = redis.call('HGET', P..'mq:'..ARGV[3], d)\n"
	"  if not s then return -2 end\n"
	"  local st = redis.call('HGET', ek(d, s), 'status')\n"
	"  if not st or tonumber(st) >= 2 then return -2 end\n"
	"  finish(d, s, 2, nil, ARGV[4])\n"
	"  return tonumber(s)\n"
	"elseif op == 'upto' then\n"
	"  local d = ARGV[2]\n"
	"  local ss = redis.call('ZRANGEBYSCORE', qk(d), '-inf', ARGV[3])\n"
	"  for _, s in ipairs(ss) do finish(d, s, 2, nil, ARGV[4]) end\n"
	"  return #ss\n"
	"elseif op == 'expire' then\n"
	"  local ss = redis.call('ZRANGEBYSCORE', P..'exp', '-inf', ARGV[2],\n"
	"                        'LIMIT', 0, 10000)\n"
	"  for _, m in ipairs(ss) do\n"
	"    local s, d = string.match(m, '^(%d+):(.*)$')\n"
	"    finish(d, s, 3, nil, ARGV[2])\n"
	"  end\n"
	"  return #ss\n"
	"elseif op == 'prune' then\n"
	"  local before, limit = ARGV[2], tonumber(ARGV[3])\n"
	"  local ss = redis.call('ZRANGEBYSCORE', P..'done', '-inf',\n"
	"                        '('..before, 'LIMIT', 0, limit)\n"
	"  for _, m in ipairs(ss) do\n"
	"    local s, d = string.match(m, '^(%d+):(.*)$')\n"
	"    local id = redis.call('HGET', ek(d, s), 'msg')\n"
	"    redis.call('DEL', ek(d, s))\n"
	"    redis.call('ZREM', P..'done', m)\n"
	"    if id then redis.call('HDEL', P..'mq:'..id, d) end\n"
	"  end\n"
	"  local ms = redis.call('ZRANGEBYSCORE', P..'msgs', '-inf',\n"
	"                        '('..before, 'LIMIT', 0, limit)\n"
	"  for _, id in ipairs(ms) do\n"
	"    if redis.call('EXISTS', P..'mq:'..id) == 0 then\n"
	"      local key = redis.call('HGET', P..'msg:'..id, 'key')\n"
	"      if key and key ~= '' then redis.call('DEL', P..'idem:'..key) "
	"end\n"
	"      redis.call('DEL', P..'msg:'..id)\n"
	"      redis.call('ZREM', P..'msgs', id)\n"
	"    end\n"
	"  end\n"
	"  return #ss\n"
	"elseif op == 'mget' then\n"
	"  local id, limit = ARGV[2], tonumber(ARGV[3])\n"
	"  local m = redis.call('HMGET', P..'msg:'..id, 'created', 'ttl',\n"
	"                       'expires', 'priority', 'collapse')\n"
	"  if not m[1] then return -2 end\n"
	"  local kv = redis.call('HGETALL', P..'mq:'..id)\n"
	"  local ds = {}\n"
	"  for i = 1, #kv, 2 do ds[#ds + 1] = {kv[i], kv[i + 1]} end\n"
	"  table.sort(ds, function(a, b) return a[1] < b[1] end)\n"
	"  for i = 1, math.min(#ds, limit) do\n"
	"    local e = redis.call('HMGET', ek(ds[i][1], ds[i][2]), 'status',\n"
	"                         'reason', 'sends', 'updated')\n"
	"    for _, x in ipairs({ds[i][1], ds[i][2], e[1] or '0', e[2] or '',\n"
	"                        e[3] or '0', e[4] or '0'}) do\n"
	"      m[#m + 1] = x\n"
	"    end\n"
	"  end\n"
	"  return m\n"
	"elseif op == 'stats' then\n"
	"  return {redis.call('ZCARD', P..'devices'),\n"
	"          tonumber(redis.call('GET', P..'npending') or '0'),\n"
	"          redis.call('ZCARD', P..'msgs')}\n"
	"end\n"
	"return redis.error_reply('push: unknown op')\n";

struct rs {
	redisContext *c; /* NULL while down */
	char host[256];
	int port;
	char sha[41];
	bool txn_failed;  /* an op failed since begin */
	uint64_t next_ms; /* no reconnect before (lb_now_ms) */
	uint32_t backoff_ms;
	bool down_logged;
	char collapse[PUSH_NAME_MAX + 1]; /* msg_get's collapse key */
};

/* ---- connection ---------------------------------------------------------- */

static void
rs_down(struct rs *r, const char *what)
{
	if (!r->down_logged)
		LB_ERR("push: store: redis %s:%d: %s: %s", r->host, r->port,
		       what,
		       r->c != NULL && r->c->errstr[0] != '\0' ? r->c->errstr
							       : "failed");
	r->down_logged = true;
	if (r->c != NULL)
		redisFree(r->c);
	r->c = NULL;
	r->backoff_ms =
		r->backoff_ms == 0 ? RS_BACKOFF_MIN_MS : r->backoff_ms * 2;
	if (r->backoff_ms > RS_BACKOFF_MAX_MS)
		r->backoff_ms = RS_BACKOFF_MAX_MS;
	r->next_ms = lb_now_ms() + r->backoff_ms;
}

/* Connect and load the script. 0 or -EIO (err says why if given). */
static int
rs_connect(struct rs *r, char *err, size_t errlen)
{
	struct timeval tv = { 0, RS_TIMEOUT_MS * 1000 };
	redisReply *rep;

	r->c = redisConnectWithTimeout(r->host, r->port, tv);
	if (r->c == NULL || r->c->err != 0)
		goto err;
	if (redisSetTimeout(r->c, tv) != REDIS_OK)
		goto err;
	rep = redisCommand(r->c, "SCRIPT LOAD %s", lua);
	if (rep == NULL)
		goto err;
	if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
		snprintf(r->c->errstr, sizeof(r->c->errstr), "SCRIPT LOAD: %s",
			 rep->type == REDIS_REPLY_ERROR ? rep->str : "?");
		freeReplyObject(rep);
		goto err;
	}
	memcpy(r->sha, rep->str, 40);
	r->sha[40] = '\0';
	freeReplyObject(rep);
	if (r->down_logged)
		LB_NOTICE("push: store: redis %s:%d: connected again", r->host,
			  r->port);
	r->down_logged = false;
	r->backoff_ms = 0;
	return 0;
err:
	if (err != NULL)
		snprintf(err, errlen, "redis %s:%d: %s", r->host, r->port,
			 r->c != NULL ? r->c->errstr : "no memory");
	rs_down(r, "connect");
	return -EIO;
}

/* Connected, or -EIO while down (a reconnect is tried after backoff). */
static int
rs_ready(struct rs *r)
{
	if (r->c != NULL)
		return 0;
	if (lb_now_ms() < r->next_ms)
		return -EIO;
	return rs_connect(r, NULL, 0);
}

/*
 * Run op of the script with n text arguments (lens: NULL or their
 * lengths, -1 for a string's own). The reply, which the caller frees (a
 * callback may run other ops while it holds the reply's strings), or NULL
 * with r->txn_failed set.
 */
static redisReply *
rs_eval(struct rs *r, const char *op, int n, const char *const *args,
	const size_t *lens)
{
	const char *argv[RS_ARGS_MAX + 4];
	size_t alen[RS_ARGS_MAX + 4];
	redisReply *rep;

	if (n > RS_ARGS_MAX || rs_ready(r) < 0)
		goto err;
	argv[0] = "EVALSHA";
	argv[1] = r->sha;
	argv[2] = "0";
	argv[3] = op;
	for (int i = 0; i < 4; i++)
		alen[i] = strlen(argv[i]);
	for (int i = 0; i < n; i++) {
		argv[4 + i] = args[i];
		alen[4 + i] = lens != NULL && lens[i] != (size_t)-1
				      ? lens[i]
				      : strlen(args[i]);
	}
	rep = redisCommandArgv(r->c, n + 4, argv, alen);
	if (rep == NULL) {
		rs_down(r, "command");
		goto err;
	}
	if (rep->type == REDIS_REPLY_ERROR &&
	    strncmp(rep->str, "NOSCRIPT", 8) == 0) {
		/* the server restarted without its script cache */
		freeReplyObject(rep);
		redisFree(r->c);
		r->c = NULL;
		r->next_ms = 0;
		if (rs_ready(r) < 0)
			goto err;
		argv[1] = r->sha;
		rep = redisCommandArgv(r->c, n + 4, argv, alen);
		if (rep == NULL) {
			rs_down(r, "command");
			goto err;
		}
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		LB_ERR("push: store: redis %s: %s", op, rep->str);
		freeReplyObject(rep);
		goto err;
	}
	return rep;
err:
	r->txn_failed = true;
	return NULL;
}

/*
 * An integer answer (rep freed): >= 0 into *v, a negative one is an
 * errno (-EEXIST, the idempotency key taken, is -EIO as on SQLite), -EIO
 * if none.
 */
static int
rs_int(redisReply *rep, long long *v)
{
	int rc = -EIO;

	if (rep == NULL)
		return -EIO;
	if (rep->type == REDIS_REPLY_INTEGER && rep->integer < 0)
		rc = rep->integer == -EEXIST ? -EIO : (int)rep->integer;
	else if (rep->type == REDIS_REPLY_INTEGER) {
		if (v != NULL)
			*v = rep->integer;
		rc = 0;
	}
	freeReplyObject(rep);
	return rc;
}

/* A reply that is not the expected array: its errno, or -EIO. */
static int
rs_err(redisReply *rep)
{
	int rc = rs_int(rep, NULL);

	return rc < 0 ? rc : -EIO;
}

/* Element i of an array reply as text ("" for nil or out of range). */
static const char *
el(const redisReply *rep, size_t i)
{
	const redisReply *e;

	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || i >= rep->elements)
		return "";
	e = rep->element[i];
	return e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS
		       ? e->str
		       : "";
}

static size_t
el_len(const redisReply *rep, size_t i)
{
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY ||
	    i >= rep->elements || rep->element[i]->type != REDIS_REPLY_STRING)
		return 0;
	return rep->element[i]->len;
}

static long long
el_int(const redisReply *rep, size_t i)
{
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || i >= rep->elements)
		return 0;
	if (rep->element[i]->type == REDIS_REPLY_INTEGER)
		return rep->element[i]->integer;
	return strtoll(el(rep, i), NULL, 10);
}

static const char *
num(char *buf, size_t len, long long v)
{
	snprintf(buf, len, "%lld", v);
	return buf;
}

/* "HOST:PORT" or "[V6]:PORT". */
static int
parse_addr(struct rs *r, const char *a, char *err, size_t errlen)
{
	const char *colon = strrchr(a, ':');
	const char *h = a;
	size_t hl;
	uint32_t port;

	if (colon == NULL || lb_parse_u32(colon + 1, 1, 65535, &port) < 0)
		return lb_errf(err, errlen, -EINVAL,
			       "redis address %s: expected HOST:PORT", a);
	hl = (size_t)(colon - a);
	if (hl >= 2 && a[0] == '[' && a[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(r->host))
		return lb_errf(err, errlen, -EINVAL,
			       "redis address %s: bad host", a);
	memcpy(r->host, h, hl);
	r->host[hl] = '\0';
	r->port = (int)port;
	return 0;
}

/* ---- open / close / transactions ----------------------------------------- */

static void
rs_close(void *st)
{
	struct rs *r = st;

	if (r == NULL)
		return;
	if (r->c != NULL)
		redisFree(r->c);
	free(r);
}

/* Warn when the server would lose acknowledged writes on a crash. */
static void
check_aof(struct rs *r)
{
	redisReply *rep = redisCommand(r->c, "CONFIG GET appendonly");

	if (rep != NULL && rep->type == REDIS_REPLY_ARRAY &&
	    rep->elements == 2 && strcmp(el(rep, 1), "yes") != 0)
		LB_WARN("push: store: redis %s:%d has appendonly %s: "
			"accepted messages may be lost on a crash",
			r->host, r->port, el(rep, 1));
	if (rep != NULL)
		freeReplyObject(rep);
}

static int
rs_open(const char *path, void **st, char *err, size_t errlen)
{
	struct rs *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL)
		return -ENOMEM;
	rc = parse_addr(r, path, err, errlen);
	if (rc < 0)
		goto err;
	rc = rs_connect(r, err, errlen);
	if (rc < 0)
		goto err;
	check_aof(r);
	*st = r;
	return 0;
err:
	rs_close(r);
	return rc;
}

static int
rs_begin(void *st)
{
	struct rs *r = st;

	r->txn_failed = false;
	return rs_ready(r);
}

static int
rs_commit(void *st)
{
	struct rs *r = st;

	return r->txn_failed || r->c == NULL ? -EIO : 0;
}

static int
rs_rollback(void *st)
{
	struct rs *r = st;

	r->txn_failed = false;
	return 0;
}

/* ---- devices, bindings, topics ------------------------------------------- */

static int
rs_device_register(void *st, const char *device, const char *platform,
		   const char *app, int64_t now_ms)
{
	char n[24];
	const char *a[] = { device, platform != NULL ? platform : "",
			    app != NULL ? app : "", num(n, sizeof(n), now_ms) };

	return rs_int(rs_eval(st, "reg", 4, a, NULL), NULL);
}

static int
rs_device_get(void *st, const char *device, struct push_device_info *out)
{
	struct rs *r = st;
	const char *a[] = { device };
	redisReply *rep = rs_eval(r, "get", 1, a, NULL);

	if (rep == NULL)
		return -EIO;
	if (rep->type != REDIS_REPLY_ARRAY)
		return rs_err(rep);
	memset(out, 0, sizeof(*out));
	snprintf(out->platform, sizeof(out->platform), "%s", el(rep, 0));
	snprintf(out->app, sizeof(out->app), "%s", el(rep, 1));
	out->last_seen_ms = el_int(rep, 2);
	out->last_seq = (uint64_t)el_int(rep, 3);
	snprintf(out->vendor, sizeof(out->vendor), "%s", el(rep, 4));
	snprintf(out->vendor_token, sizeof(out->vendor_token), "%s",
		 el(rep, 5));
	out->pending = (uint64_t)el_int(rep, 6);
	freeReplyObject(rep);
	return 0;
}

static int
rs_device_vendor(void *st, const char *device, const char *vendor,
		 const char *token)
{
	const char *a[] = { device, vendor != NULL ? vendor : "",
			    vendor != NULL && token != NULL ? token : "" };

	return rs_int(rs_eval(st, "vendor", 3, a, NULL), NULL);
}

static int
pair(struct rs *r, const char *kind, const char *a1, const char *device,
     bool on)
{
	const char *a[] = { kind, a1, device, on ? "1" : "0" };

	return rs_int(rs_eval(r, "pair", 4, a, NULL), NULL);
}

static int
rs_bind(void *st, const char *user, const char *device, bool on)
{
	return pair(st, "user", user, device, on);
}

static int
rs_subscribe(void *st, const char *topic, const char *device, bool on)
{
	return pair(st, "topic", topic, device, on);
}

/* The members of a zset key to fn, in order. */
static int
zset_names(struct rs *r, const char *key, push_name_fn fn, void *arg)
{
	redisReply *rep;
	int ret = 0;

	if (rs_ready(r) < 0)
		return -EIO;
	rep = redisCommand(r->c, "ZRANGE push:%s 0 -1", key);
	if (rep == NULL) {
		r->txn_failed = true;
		rs_down(r, "command");
		return -EIO;
	}
	if (rep->type != REDIS_REPLY_ARRAY)
		return rs_err(rep);
	for (size_t i = 0; i < rep->elements && ret == 0; i++)
		ret = fn(arg, el(rep, i));
	freeReplyObject(rep);
	return ret;
}

static int
rs_device_users(void *st, const char *device, push_name_fn fn, void *arg)
{
	char key[PUSH_NAME_MAX + 16];

	snprintf(key, sizeof(key), "dusers:%s", device);
	return zset_names(st, key, fn, arg);
}

static int
rs_targets(void *st, enum push_target kind, const char *name, push_name_fn fn,
	   void *arg)
{
	char key[PUSH_NAME_MAX + 16];
	struct push_device_info di;
	int rc;

	switch (kind) {
	case PUSH_TO_DEVICE:
		rc = rs_device_get(st, name, &di);
		return rc < 0 ? rc : fn(arg, name);
	case PUSH_TO_USER:
		snprintf(key, sizeof(key), "user:%s", name);
		break;
	case PUSH_TO_TOPIC:
		snprintf(key, sizeof(key), "topic:%s", name);
		break;
	case PUSH_TO_ALL:
		snprintf(key, sizeof(key), "devices");
		break;
	default:
		return -EINVAL;
	}
	return zset_names(st, key, fn, arg);
}

/* ---- messages and queues ------------------------------------------------- */

static int
rs_msg_by_key(void *st, const char *key, char id[PUSH_ID_TEXT + 1])
{
	struct rs *r = st;
	redisReply *rep;

	if (rs_ready(r) < 0)
		return -EIO;
	rep = redisCommand(r->c, "GET push:idem:%s", key);
	if (rep == NULL) {
		r->txn_failed = true;
		rs_down(r, "command");
		return -EIO;
	}
	if (rep->type == REDIS_REPLY_NIL) {
		freeReplyObject(rep);
		return -ENOENT;
	}
	if (rep->type != REDIS_REPLY_STRING || rep->len != PUSH_ID_TEXT)
		return rs_err(rep);
	snprintf(id, PUSH_ID_TEXT + 1, "%s", rep->str);
	freeReplyObject(rep);
	return 0;
}

static int
rs_msg_add(void *st, const struct push_msg *m, const char *key)
{
	char c[24], t[24], e[24], p[8];
	const char *a[] = { m->id,
			    key != NULL ? key : "",
			    num(c, sizeof(c), m->created_ms),
			    num(t, sizeof(t), m->ttl_s),
			    num(e, sizeof(e), m->expires_ms),
			    num(p, sizeof(p), m->priority),
			    m->collapse_key != NULL ? m->collapse_key : "",
			    (const char *)m->payload };
	const size_t lens[] = { -1, -1, -1, -1, -1, -1, -1, m->len };

	return rs_int(rs_eval(st, "msgadd", 8, a, lens), NULL);
}

static int
rs_enqueue(void *st, const struct push_msg *m, const char *device,
	   uint32_t max_queue, int64_t now_ms, struct push_enqueue_res *res)
{
	struct rs *r = st;
	char mq[16], now[24], e[24];
	const char *a[] = { device,
			    m->id,
			    num(mq, sizeof(mq), max_queue),
			    num(now, sizeof(now), now_ms),
			    num(e, sizeof(e), m->expires_ms),
			    m->collapse_key != NULL ? m->collapse_key : "" };
	redisReply *rep = rs_eval(r, "enq", 6, a, NULL);

	memset(res, 0, sizeof(*res));
	if (rep == NULL)
		return -EIO;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3)
		return rs_err(rep);
	res->seq = (uint64_t)el_int(rep, 0);
	res->collapsed = (uint32_t)el_int(rep, 1);
	res->dropped = (uint32_t)el_int(rep, 2);
	freeReplyObject(rep);
	return 0;
}

static int
rs_queue_next(void *st, const char *device, uint64_t after, size_t limit,
	      int64_t now_ms, push_entry_fn fn, void *arg)
{
	struct rs *r = st;
	char af[24], li[24], now[24];
	const char *a[] = { device, num(af, sizeof(af), (long long)after),
			    num(li, sizeof(li), (long long)limit),
			    num(now, sizeof(now), now_ms) };
	redisReply *rep = rs_eval(r, "next", 4, a, NULL);
	int ret = 0;

	if (rep == NULL)
		return -EIO;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements % 11 != 0)
		return rs_err(rep);
	for (size_t i = 0; i + 11 <= rep->elements && ret == 0; i += 11) {
		const char *ck = el(rep, i + 9);
		struct push_entry e = {
			.device = device,
			.seq = (uint64_t)el_int(rep, i),
			.status = (int)el_int(rep, i + 1),
			.sends = (uint32_t)el_int(rep, i + 2),
			.updated_ms = el_int(rep, i + 3),
		};

		if (el_len(rep, i + 4) != PUSH_ID_TEXT)
			continue;
		snprintf(e.msg.id, sizeof(e.msg.id), "%s", el(rep, i + 4));
		e.msg.created_ms = el_int(rep, i + 5);
		e.msg.ttl_s = (uint32_t)el_int(rep, i + 6);
		e.msg.expires_ms = el_int(rep, i + 7);
		e.msg.priority = (uint8_t)el_int(rep, i + 8);
		e.msg.collapse_key = ck[0] != '\0' ? ck : NULL;
		e.msg.payload = (const uint8_t *)el(rep, i + 10);
		e.msg.len = el_len(rep, i + 10);
		ret = fn(arg, &e);
	}
	freeReplyObject(rep);
	return ret;
}

static int
rs_mark_sent(void *st, const char *device, uint64_t seq, int64_t now_ms)
{
	char s[24], now[24];
	const char *a[] = { device, num(s, sizeof(s), (long long)seq),
			    num(now, sizeof(now), now_ms) };

	return rs_int(rs_eval(st, "sent", 3, a, NULL), NULL);
}

static int
rs_ack(void *st, const char *device, const char *id, int64_t now_ms,
       uint64_t *seq)
{
	char now[24];
	const char *a[] = { device, id, num(now, sizeof(now), now_ms) };
	long long v = 0;
	int rc = rs_int(rs_eval(st, "ack", 3, a, NULL), &v);

	if (rc == 0)
		*seq = (uint64_t)v;
	return rc;
}

static int
rs_ack_upto(void *st, const char *device, uint64_t seq, int64_t now_ms,
	    uint64_t *n)
{
	char s[24], now[24];
	const char *a[] = { device,
			    num(s, sizeof(s),
				seq > INT64_MAX ? INT64_MAX : (long long)seq),
			    num(now, sizeof(now), now_ms) };
	long long v = 0;
	int rc = rs_int(rs_eval(st, "upto", 3, a, NULL), &v);

	*n = rc == 0 ? (uint64_t)v : 0;
	return rc;
}

static int
rs_expire(void *st, int64_t now_ms, uint64_t *n)
{
	char now[24];
	const char *a[] = { num(now, sizeof(now), now_ms) };
	long long v = 0;
	int rc = rs_int(rs_eval(st, "expire", 1, a, NULL), &v);

	*n = rc == 0 ? (uint64_t)v : 0;
	return rc;
}

static int
rs_prune(void *st, int64_t before_ms, size_t limit, uint64_t *n)
{
	char b[24], l[24];
	const char *a[] = { num(b, sizeof(b), before_ms),
			    num(l, sizeof(l), (long long)limit) };
	long long v = 0;
	int rc = rs_int(rs_eval(st, "prune", 2, a, NULL), &v);

	*n = rc == 0 ? (uint64_t)v : 0;
	return rc;
}

static int
rs_msg_get(void *st, const char *id, struct push_msg *m, size_t limit,
	   push_entry_fn fn, void *arg)
{
	struct rs *r = st;
	char l[24];
	const char *a[] = { id, num(l, sizeof(l), (long long)limit) };
	redisReply *rep = rs_eval(r, "mget", 2, a, NULL);
	int ret = 0;

	if (rep == NULL)
		return -EIO;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 5 ||
	    (rep->elements - 5) % 6 != 0)
		return rs_err(rep);
	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->created_ms = el_int(rep, 0);
	m->ttl_s = (uint32_t)el_int(rep, 1);
	m->expires_ms = el_int(rep, 2);
	m->priority = (uint8_t)el_int(rep, 3);
	snprintf(r->collapse, sizeof(r->collapse), "%s", el(rep, 4));
	m->collapse_key = r->collapse;
	for (size_t i = 5; i + 6 <= rep->elements && ret == 0; i += 6) {
		const char *reason = el(rep, i + 3);
		struct push_entry e = {
			.device = el(rep, i),
			.seq = (uint64_t)el_int(rep, i + 1),
			.status = (int)el_int(rep, i + 2),
			.reason = reason[0] != '\0' ? reason : NULL,
			.sends = (uint32_t)el_int(rep, i + 4),
			.updated_ms = el_int(rep, i + 5),
			.msg = *m,
		};

		ret = fn(arg, &e);
	}
	freeReplyObject(rep);
	return ret;
}

static int
rs_stats(void *st, struct push_store_stats *out)
{
	struct rs *r = st;
	redisReply *rep = rs_eval(r, "stats", 0, NULL, NULL);

	memset(out, 0, sizeof(*out));
	if (rep == NULL)
		return -EIO;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3)
		return rs_err(rep);
	out->devices = (uint64_t)el_int(rep, 0);
	out->pending = (uint64_t)el_int(rep, 1);
	out->messages = (uint64_t)el_int(rep, 2);
	freeReplyObject(rep);
	return 0;
}

const struct push_store_ops push_store_redis = {
	.name = "redis",
	.open = rs_open,
	.close = rs_close,
	.begin = rs_begin,
	.commit = rs_commit,
	.rollback = rs_rollback,
	.device_register = rs_device_register,
	.device_get = rs_device_get,
	.device_vendor = rs_device_vendor,
	.bind = rs_bind,
	.subscribe = rs_subscribe,
	.device_users = rs_device_users,
	.targets = rs_targets,
	.msg_by_key = rs_msg_by_key,
	.msg_add = rs_msg_add,
	.enqueue = rs_enqueue,
	.queue_next = rs_queue_next,
	.mark_sent = rs_mark_sent,
	.ack = rs_ack,
	.ack_upto = rs_ack_upto,
	.expire = rs_expire,
	.prune = rs_prune,
	.msg_get = rs_msg_get,
	.stats = rs_stats,
};
