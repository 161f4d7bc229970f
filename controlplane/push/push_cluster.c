/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cross-node delivery (see push_cluster.h).
 *
 * Presence: push:node:DEVICE = NODE with PX presence_ms, set when the
 * device registers here and at each of its PINGs; deleted when its
 * connection ends, only if it still names this node (a device that moved
 * is not unregistered by its old node). A node that dies leaves keys
 * that expire.
 *
 * Wake: after a message is queued (the Redis store applied it), the
 * accepting node runs one script that reads the holder and PUBLISHes the
 * device on push:wake:HOLDER unless the holder is itself. Pub/sub and
 * not a Stream: the wake carries no data (the queue is the durable
 * state), so a lost wake costs only latency; a node that (re)subscribes
 * pumps every device it holds, which covers the wakes it missed while
 * unsubscribed, and a device that reconnects elsewhere reads its queue
 * from its resume point anyway. A Stream per node would need consumer
 * groups, acks and trimming for no gain in what reaches the device.
 *
 * The presence and wake commands use a blocking hiredis context with a
 * short timeout (like the store, on the push loop); the subscription is
 * hiredis' async context on the daemon's libevent loop, reconnected with
 * backoff when it drops.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "metrics.h"
#include "push_cluster.h"
#include "edgelb/log.h"
#include "edgelb/types.h"
#include "edgelb/util.h"

#define PC_TIMEOUT_MS	  200
#define PC_BACKOFF_MIN_MS 100
#define PC_BACKOFF_MAX_MS 5000

static const char wake_lua[] =
	"local n = redis.call('GET', KEYS[1])\n"
	"if n and n ~= ARGV[1] then\n"
	"  redis.call('PUBLISH', 'push:wake:'..n, ARGV[2])\n"
	"  return 1\n"
	"end\n"
	"return 0\n";

static const char off_lua[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
			      "  return redis.call('DEL', KEYS[1])\n"
			      "end\n"
			      "return 0\n";

struct push_cluster {
	struct event_base *base;
	char host[256];
	int port;
	char node[64];
	char channel[80];
	uint32_t presence_ms;
	push_cluster_wake_fn fn;
	void *arg;
	redisContext *sync; /* NULL while down */
	uint64_t sync_next_ms;
	uint32_t sync_backoff_ms;
	redisAsyncContext *sub; /* NULL while down */
	struct event *retry_ev;
	uint32_t sub_backoff_ms;
	bool freeing;
	struct metrics *m;
	struct push_cluster_counters n;
};

static uint32_t
backoff_next(uint32_t b)
{
	b = b == 0 ? PC_BACKOFF_MIN_MS : b * 2;
	return b > PC_BACKOFF_MAX_MS ? PC_BACKOFF_MAX_MS : b;
}

/* ---- blocking context: presence and wakes ----------------------------------- */

static void
sync_down(struct push_cluster *c, const char *what)
{
	if (c->sync_backoff_ms == 0)
		LB_WARN("push: cluster: redis %s:%d: %s: %s", c->host, c->port,
			what,
			c->sync != NULL ? c->sync->errstr : "no connection");
	if (c->sync != NULL)
		redisFree(c->sync);
	c->sync = NULL;
	c->sync_backoff_ms = backoff_next(c->sync_backoff_ms);
	c->sync_next_ms = lb_now_ms() + c->sync_backoff_ms;
}

static redisContext *
sync_ctx(struct push_cluster *c)
{
	struct timeval tv = { 0, PC_TIMEOUT_MS * 1000 };

	if (c->sync != NULL)
		return c->sync;
	if (lb_now_ms() < c->sync_next_ms)
		return NULL;
	c->sync = redisConnectWithTimeout(c->host, c->port, tv);
	if (c->sync == NULL || c->sync->err != 0 ||
	    redisSetTimeout(c->sync, tv) != REDIS_OK) {
		sync_down(c, "connect");
		return NULL;
	}
	c->sync_backoff_ms = 0;
	return c->sync;
}

/* An integer answer of a command, or -1. */
static long long
sync_int(struct push_cluster *c, redisReply *r)
{
	long long v = -1;

	if (r == NULL) {
		sync_down(c, "command");
		c->n.presence_errors++;
		return -1;
	}
	if (r->type == REDIS_REPLY_INTEGER)
		v = r->integer;
	else if (r->type == REDIS_REPLY_STATUS)
		v = 0;
	else
		c->n.presence_errors++;
	freeReplyObject(r);
	return v;
}

void
push_cluster_online(struct push_cluster *c, const char *device, bool on)
{
	redisContext *x = c == NULL ? NULL : sync_ctx(c);

	if (x == NULL) {
		if (c != NULL)
			c->n.presence_errors++;
		return;
	}
	if (on)
		sync_int(c, redisCommand(x, "SET push:node:%s %s PX %u", device,
					 c->node, c->presence_ms));
	else
		sync_int(c, redisCommand(x, "EVAL %s 1 push:node:%s %s",
					 off_lua, device, c->node));
}

bool
push_cluster_remote(struct push_cluster *c, const char *device)
{
	redisContext *x = sync_ctx(c);

	if (x == NULL) {
		c->n.presence_errors++;
		return false;
	}
	if (sync_int(c, redisCommand(x, "EVAL %s 1 push:node:%s %s %s",
				     wake_lua, device, c->node, device)) != 1)
		return false;
	c->n.wakes_sent++;
	return true;
}

/* ---- subscription ----------------------------------------------------------- */

static void sub_start(struct push_cluster *c);

static void
sub_retry_later(struct push_cluster *c)
{
	struct timeval tv;

	if (c->freeing)
		return;
	c->sub_backoff_ms = backoff_next(c->sub_backoff_ms);
	tv.tv_sec = c->sub_backoff_ms / 1000;
	tv.tv_usec = (c->sub_backoff_ms % 1000) * 1000;
	evtimer_add(c->retry_ev, &tv);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sub_start(arg);
}

static void
on_sub_msg(redisAsyncContext *ac, void *reply, void *arg)
{
	struct push_cluster *c = arg;
	redisReply *r = reply;

	(void)ac;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(r->element[0]->str, "subscribe") == 0) {
		c->n.subscribes++;
		c->sub_backoff_ms = 0;
		LB_NOTICE("push: cluster: node %s subscribed to %s", c->node,
			  c->channel);
		/* wakes may have been missed while not subscribed */
		c->fn(c->arg, NULL);
		return;
	}
	if (strcmp(r->element[0]->str, "message") != 0 ||
	    r->element[2]->type != REDIS_REPLY_STRING ||
	    r->element[2]->len == 0 || r->element[2]->len > 256)
		return;
	c->n.wakes_received++;
	c->fn(c->arg, r->element[2]->str);
}

static void
on_sub_connect(const redisAsyncContext *ac, int status)
{
	struct push_cluster *c = ac->data;

	if (status == REDIS_OK)
		return;
	/* hiredis frees ac after this callback */
	LB_WARN("push: cluster: redis %s:%d: subscriber: %s", c->host, c->port,
		ac->errstr);
	c->sub = NULL;
	sub_retry_later(c);
}

static void
on_sub_disconnect(const redisAsyncContext *ac, int status)
{
	struct push_cluster *c = ac->data;

	c->sub = NULL;
	if (status != REDIS_OK)
		LB_WARN("push: cluster: redis %s:%d: subscriber lost: %s",
			c->host, c->port, ac->errstr);
	sub_retry_later(c);
}

static void
sub_start(struct push_cluster *c)
{
	redisAsyncContext *ac = redisAsyncConnect(c->host, c->port);

	if (ac == NULL || ac->err != 0) {
		if (ac != NULL)
			redisAsyncFree(ac);
		sub_retry_later(c);
		return;
	}
	ac->data = c;
	if (redisLibeventAttach(ac, c->base) != REDIS_OK ||
	    redisAsyncSetConnectCallback(ac, on_sub_connect) != REDIS_OK ||
	    redisAsyncSetDisconnectCallback(ac, on_sub_disconnect) !=
		    REDIS_OK ||
	    redisAsyncCommand(ac, on_sub_msg, c, "SUBSCRIBE %s", c->channel) !=
		    REDIS_OK) {
		redisAsyncFree(ac);
		sub_retry_later(c);
		return;
	}
	c->sub = ac;
}

/* ---- life cycle ------------------------------------------------------------- */

const struct push_cluster_counters *
push_cluster_counters(const struct push_cluster *c)
{
	return &c->n;
}

static int
collect(void *arg, struct metrics *m)
{
	const struct push_cluster *c = arg;

	metrics_put(m, "edgelbd_push_cluster_wakes_sent_total",
		    "Wakes published to the node holding a device.",
		    METRICS_COUNTER, NULL, 0, (double)c->n.wakes_sent);
	metrics_put(m, "edgelbd_push_cluster_wakes_received_total",
		    "Wakes received for a device held here.", METRICS_COUNTER,
		    NULL, 0, (double)c->n.wakes_received);
	metrics_put(m, "edgelbd_push_cluster_presence_errors_total",
		    "Presence or wake commands that failed (Redis down).",
		    METRICS_COUNTER, NULL, 0, (double)c->n.presence_errors);
	metrics_put(m, "edgelbd_push_cluster_subscribes_total",
		    "Subscriptions to this node's wake channel (reconnects).",
		    METRICS_COUNTER, NULL, 0, (double)c->n.subscribes);
	return 0;
}

struct push_cluster *
push_cluster_new(struct event_base *base, struct metrics *m, const char *addr,
		 const char *node, uint32_t presence_ms,
		 push_cluster_wake_fn fn, void *arg)
{
	struct push_cluster *c = calloc(1, sizeof(*c));
	const char *colon = strrchr(addr, ':');
	uint32_t port;
	size_t hl;
	int rc = -EINVAL;

	if (c == NULL)
		return NULL;
	if (colon == NULL || lb_parse_u32(colon + 1, 1, 65535, &port) < 0)
		goto err;
	hl = (size_t)(colon - addr);
	if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
		addr++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(c->host) || strlen(node) == 0 ||
	    strlen(node) >= sizeof(c->node))
		goto err;
	memcpy(c->host, addr, hl);
	c->port = (int)port;
	snprintf(c->node, sizeof(c->node), "%s", node);
	snprintf(c->channel, sizeof(c->channel), "push:wake:%s", node);
	c->base = base;
	c->presence_ms = presence_ms;
	c->fn = fn;
	c->arg = arg;
	rc = -ENOMEM;
	c->retry_ev = evtimer_new(base, on_retry, c);
	if (c->retry_ev == NULL)
		goto err;
	if (m != NULL) {
		if (metrics_add_collector(m, collect, c) < 0)
			goto err;
		c->m = m;
	}
	sync_ctx(c);
	sub_start(c);
	return c;
err:
	LB_ERR("push: cluster: redis %s node %s: %s", addr, node,
	       rc == -EINVAL ? "bad address or node" : "no memory");
	push_cluster_free(c);
	errno = -rc;
	return NULL;
}

void
push_cluster_free(struct push_cluster *c)
{
	if (c == NULL)
		return;
	c->freeing = true;
	if (c->m != NULL)
		metrics_del_collector(c->m, collect, c);
	if (c->sub != NULL) {
		redisAsyncContext *ac = c->sub;

		c->sub = NULL;
		redisAsyncFree(ac); /* calls on_sub_disconnect: no retry */
	}
	if (c->retry_ev != NULL)
		event_free(c->retry_ev);
	if (c->sync != NULL)
		redisFree(c->sync);
	free(c);
}
