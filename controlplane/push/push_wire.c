/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The push module's vendor channels (see push_wire.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "metrics.h"
#include "modules.h"
#include "push_srv.h"
#include "push_wire.h"
#include "edgelb/log.h"
#include "edgelb/util.h"
/* push_store.h bounds the token the store keeps (512); push_vendor.h
 * the one a vendor takes (4096): the store's is the one that holds. */
#undef PUSH_VENDOR_TOKEN_MAX
#include "vendor/push_vendor.h"

/* ---- [push_vendor NAME] sections ------------------------------------------ */

struct vsect {
	struct push_vendor_conf *v;
	int *line;
	size_t n;
};

static void *
vs_create(void)
{
	return calloc(1, sizeof(struct vsect));
}

static void
vs_destroy(void *state)
{
	struct vsect *s = state;

	if (s == NULL)
		return;
	free(s->v);
	free(s->line);
	free(s);
}

static struct push_vendor_conf *
vs_find(const struct vsect *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	return NULL;
}

static int
vs_open(void *state, const char *name, int line, char *err, size_t errlen)
{
	struct vsect *s = state;
	struct push_vendor_conf *v;
	int *l;
	size_t len = strlen(name);

	/* devices name their vendor with lower-case letters (push_api.c) */
	if (len == 0 || len > PUSH_VENDOR_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz") != len)
		return lb_errf(err, errlen, -EINVAL,
			       "[push_vendor %s]: the name must be 1..%d "
			       "lower-case letters (the vendor a device names)",
			       name, PUSH_VENDOR_MAX);
	if (vs_find(s, name) != NULL)
		return lb_errf(err, errlen, -EEXIST,
			       "[push_vendor %s] given twice", name);
	v = realloc(s->v, (s->n + 1) * sizeof(*s->v));
	if (v != NULL)
		s->v = v;
	l = realloc(s->line, (s->n + 1) * sizeof(*s->line));
	if (l != NULL)
		s->line = l;
	if (v == NULL || l == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	push_vendor_conf_init(&s->v[s->n], name);
	s->line[s->n] = line;
	s->n++;
	return 0;
}

static int
vs_key(void *state, const char *name, const char *key, const char *value,
       char *err, size_t errlen)
{
	struct push_vendor_conf *v = vs_find(state, name);

	if (v == NULL)
		return lb_errf(err, errlen, -EINVAL,
			       "[push_vendor %s]: no section", name);
	return push_vendor_conf_key(v, key, value, err, errlen) < 0 ? -EINVAL
								    : 0;
}

static int
vs_validate(void *state, const struct cfg *c, char *err, size_t errlen)
{
	struct vsect *s = state;

	(void)c;
	for (size_t i = 0; i < s->n; i++)
		if (push_vendor_conf_validate(&s->v[i], err, errlen) < 0)
			return -EINVAL;
	return 0;
}

const struct cfg_module_ops push_vendor_cfg_ops = {
	.section = "push_vendor",
	.named = true,
	.create = vs_create,
	.destroy = vs_destroy,
	.open = vs_open,
	.key = vs_key,
	.validate = vs_validate,
};

/* Started, so that lbctl lists it running; the push module uses the
 * sections. */
static int
vs_start(struct lbd *d, const struct cfg *c, void **state)
{
	(void)d;
	(void)c;
	*state = NULL;
	return 0;
}

const struct lbd_module push_vendor_module = {
	.name = "push_vendor",
	.cfg = &push_vendor_cfg_ops,
	.start = vs_start,
};

/* ---- channels and sends ------------------------------------------------------ */

struct chan {
	struct push_vendor_conf conf;
	const struct push_vendor_ops *ops;
	void *st;
};

/* One wake: a message for one device, until the vendor is done with it. */
struct vsend {
	struct push_wire *w;
	struct vsend *prev, *next;
	struct chan *ch;
	struct event *timer; /* waiting for the next try */
	bool in_flight;
	unsigned tries;
	uint64_t deadline_ms; /* lb_now_ms(): the message's TTL */
	uint64_t seq;
	uint32_t ttl_s;
	uint8_t priority;
	char id[PUSH_ID_TEXT + 1];
	char *device, *token, *collapse_key;
	uint8_t *payload;
	size_t len;
};

struct push_wire {
	struct event_base *base;
	struct push_srv *srv;
	struct metrics *metrics;
	struct chan *ch;
	size_t nch;
	struct vsend *sends; /* in flight or waiting */
	size_t nsends;
	bool closing;
	struct push_wire_counters n;
};

static void vsend_try(struct vsend *v);

static void
vsend_free(struct vsend *v)
{
	struct push_wire *w = v->w;

	if (v->prev != NULL)
		v->prev->next = v->next;
	else
		w->sends = v->next;
	if (v->next != NULL)
		v->next->prev = v->prev;
	w->nsends--;
	if (v->timer != NULL)
		event_free(v->timer);
	free(v->device);
	free(v->token);
	free(v->collapse_key);
	free(v->payload);
	free(v);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	vsend_try(arg);
}

/* PV_RETRY: again after 1 s, 2 s, 4 s ... while the message lives. */
static void
vsend_later(struct vsend *v)
{
	struct push_wire *w = v->w;
	uint64_t ms = (uint64_t)PUSH_WIRE_BACKOFF_MS << (v->tries - 1);
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
			      .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	if (v->tries >= PUSH_WIRE_TRIES || lb_now_ms() + ms >= v->deadline_ms) {
		w->n.gave_up++;
		vsend_free(v);
		return;
	}
	if (v->timer == NULL)
		v->timer = evtimer_new(w->base, on_timer, v);
	if (v->timer == NULL || evtimer_add(v->timer, &tv) < 0) {
		w->n.gave_up++;
		vsend_free(v);
		return;
	}
	w->n.retries++;
}

static void
on_result(void *arg, enum push_vendor_result r, const char *reason)
{
	struct vsend *v = arg;
	struct push_wire *w = v->w;
	int rc;

	v->in_flight = false;
	if (w->closing) /* destroy cancels: the entry stays queued */
		return;
	switch (r) {
	case PV_OK:
		w->n.sent++;
		rc = push_srv_vendor_done(w->srv, v->device, v->seq, true,
					  NULL);
		break;
	case PV_BAD_TOKEN:
		w->n.bad_token++;
		rc = push_srv_vendor_invalid(w->srv, v->device, v->token);
		if (rc == -ENOENT || rc == -ESTALE)
			rc = 0;
		LB_INFO("push: vendor %s: token of device %s refused (%s): "
			"forgotten",
			v->ch->conf.name, v->device,
			reason != NULL ? reason : "-");
		break;
	case PV_RETRY:
		vsend_later(v);
		return;
	default:
		w->n.failed++;
		rc = push_srv_vendor_done(w->srv, v->device, v->seq, false,
					  "vendor");
		LB_INFO("push: vendor %s: message %s to device %s failed (%s)",
			v->ch->conf.name, v->id, v->device,
			reason != NULL ? reason : "-");
		break;
	}
	if (rc < 0)
		LB_WARN("push: vendor %s: storing the result of %s for %s: %s",
			v->ch->conf.name, v->id, v->device, strerror(-rc));
	vsend_free(v);
}

static void
vsend_try(struct vsend *v)
{
	struct push_wire *w = v->w;
	struct push_vendor_msg m = {
		.id = v->id,
		.token = v->token,
		.collapse_key =
			v->collapse_key[0] != '\0' ? v->collapse_key : NULL,
		.ttl_s = v->ttl_s,
		.priority = v->priority >= 10 ? 10 : 5,
		.payload = v->payload,
		.len = v->len,
	};
	uint64_t now = lb_now_ms();
	int rc;

	/* connected meanwhile: its channel delivers */
	if (push_srv_is_online(w->srv, v->device)) {
		w->n.skipped_online++;
		vsend_free(v);
		return;
	}
	if (v->tries > 0 && now >= v->deadline_ms) {
		w->n.skipped_expired++;
		vsend_free(v);
		return;
	}
	if (v->ttl_s > 0) /* what is left of it */
		m.ttl_s = (uint32_t)((v->deadline_ms - now + 999) / 1000);
	v->tries++;
	v->in_flight = true;
	rc = v->ch->ops->send(v->ch->st, &m, on_result, v);
	if (rc < 0) {
		v->in_flight = false;
		w->n.refused++;
		LB_INFO("push: vendor %s: message %s to device %s refused: %s",
			v->ch->conf.name, v->id, v->device, strerror(-rc));
		if (rc == -EINVAL)
			push_srv_vendor_done(w->srv, v->device, v->seq, false,
					     "vendor");
		vsend_free(v);
	}
}

static struct chan *
chan_find(struct push_wire *w, const char *name)
{
	for (size_t i = 0; i < w->nch; i++)
		if (strcmp(w->ch[i].conf.name, name) == 0)
			return &w->ch[i];
	return NULL;
}

/* push_srv's wake: after the commit that made the entry durable. */
static void
on_wake(void *arg, const struct push_wake *pw)
{
	struct push_wire *w = arg;
	struct chan *ch = chan_find(w, pw->vendor);
	struct vsend *v;

	w->n.wakes++;
	if (ch == NULL) {
		w->n.no_channel++;
		return;
	}
	if (w->nsends >= PUSH_WIRE_INFLIGHT) {
		w->n.busy++;
		return;
	}
	v = calloc(1, sizeof(*v));
	if (v == NULL) {
		w->n.busy++;
		return;
	}
	v->w = w;
	v->ch = ch;
	v->seq = pw->seq;
	v->ttl_s = pw->ttl_s;
	v->priority = pw->priority;
	v->deadline_ms = lb_now_ms() + (uint64_t)pw->ttl_s * 1000;
	snprintf(v->id, sizeof(v->id), "%s", pw->id);
	v->device = strdup(pw->device);
	v->token = strdup(pw->token);
	v->collapse_key = strdup(pw->collapse_key);
	v->payload = malloc(pw->len + 1);
	v->next = w->sends;
	if (w->sends != NULL)
		w->sends->prev = v;
	w->sends = v;
	w->nsends++;
	if (v->device == NULL || v->token == NULL || v->collapse_key == NULL ||
	    v->payload == NULL) {
		w->n.busy++;
		vsend_free(v);
		return;
	}
	memcpy(v->payload, pw->payload, pw->len);
	v->len = pw->len;
	vsend_try(v);
}

/* ---- metrics --------------------------------------------------------------- */

static int
collect(void *arg, struct metrics *m)
{
	struct push_wire *w = arg;
	static const char *const res[PV_NRESULTS] = { "ok", "retry",
						      "bad_token", "failed" };

	static const char wake_help[] =
		"Wakes of offline devices through a vendor, by what came of "
		"them.";

	metrics_put(m, "edgelbd_push_vendor_wakes_total", wake_help,
		    METRICS_COUNTER,
		    (struct metrics_label[]){ { "outcome", "sent" } }, 1,
		    (double)w->n.sent);
#define WAKE(what, field)                                                      \
	metrics_put(m, "edgelbd_push_vendor_wakes_total", wake_help,           \
		    METRICS_COUNTER,                                           \
		    (struct metrics_label[]){ { "outcome", what } }, 1,        \
		    (double)w->n.field)
	WAKE("bad_token", bad_token);
	WAKE("failed", failed);
	WAKE("gave_up", gave_up);
	WAKE("no_channel", no_channel);
	WAKE("busy", busy);
	WAKE("refused", refused);
	WAKE("online_meanwhile", skipped_online);
	WAKE("expired_meanwhile", skipped_expired);
#undef WAKE
	metrics_put(m, "edgelbd_push_vendor_retries_total",
		    "Vendor sends tried again after a transient failure.",
		    METRICS_COUNTER, NULL, 0, (double)w->n.retries);
	metrics_put(m, "edgelbd_push_vendor_pending",
		    "Vendor sends in flight or waiting for a retry.",
		    METRICS_GAUGE, NULL, 0, (double)w->nsends);
	for (size_t i = 0; i < w->nch; i++) {
		const struct chan *ch = &w->ch[i];
		const struct push_vendor_stats *st =
			ch->ops->stats != NULL ? ch->ops->stats(ch->st) : NULL;
		struct metrics_label l[3] = { { "vendor", ch->conf.name },
					      { "type", ch->conf.type } };

		if (st == NULL)
			continue;
#define PUT(name, help, v)                                                     \
	metrics_put(m, "edgelbd_push_vendor_" name, help, METRICS_COUNTER, l,  \
		    2, (double)(v))
		PUT("sends_total", "Sends a vendor channel took.", st->sends);
		PUT("requests_total", "HTTP requests to the vendor.",
		    st->requests);
		PUT("token_fetches_total",
		    "Provider JWTs made or access tokens got.",
		    st->token_fetches);
		PUT("token_errors_total",
		    "Provider or access tokens that could not be had.",
		    st->token_errors);
		PUT("resent_total", "Sends repeated after a token renewal.",
		    st->resent);
		PUT("timeouts_total", "Vendor requests that timed out.",
		    st->timeouts);
		PUT("invalid_total", "Messages a vendor channel refused.",
		    st->invalid);
#undef PUT
		for (int r = 0; r < PV_NRESULTS; r++) {
			l[2] = (struct metrics_label){ "result", res[r] };
			metrics_put(m, "edgelbd_push_vendor_results_total",
				    "Vendor sends by result.", METRICS_COUNTER,
				    l, 3, (double)st->results[r]);
		}
		for (uint32_t r = 0; r < st->nreasons; r++) {
			l[2] = (struct metrics_label){ "reason",
						       st->reasons[r].reason };
			metrics_put(m, "edgelbd_push_vendor_errors_total",
				    "Vendor failures by the vendor's reason.",
				    METRICS_COUNTER, l, 3,
				    (double)st->reasons[r].n);
		}
	}
	return 0;
}

/* ---- life cycle --------------------------------------------------------------- */

struct push_wire *
push_wire_new(struct event_base *base, struct push_srv *srv,
	      const struct cfg *c, struct metrics *m, char *err, size_t errlen)
{
	const struct vsect *s = cfg_module_state(c, &push_vendor_cfg_ops);
	struct push_wire *w = calloc(1, sizeof(*w));
	int rc = -ENOMEM;

	if (w == NULL) {
		lb_errf(err, errlen, -ENOMEM, "out of memory");
		goto err;
	}
	w->base = base;
	w->srv = srv;
	if (s != NULL && s->n > 0) {
		w->ch = calloc(s->n, sizeof(*w->ch));
		if (w->ch == NULL) {
			lb_errf(err, errlen, -ENOMEM, "out of memory");
			goto err;
		}
	}
	for (size_t i = 0; s != NULL && i < s->n; i++) {
		struct chan *ch = &w->ch[w->nch];

		memcpy(&ch->conf, &s->v[i], sizeof(ch->conf));
		ch->ops = push_vendor_find(ch->conf.type);
		if (ch->ops == NULL) {
			rc = lb_errf(err, errlen, -EINVAL,
				     "[push_vendor %s]: no vendor type '%s'",
				     ch->conf.name, ch->conf.type);
			goto err;
		}
		rc = ch->ops->create(base, &ch->conf, &ch->st, err, errlen);
		if (rc < 0)
			goto err;
		w->nch++;
		LB_NOTICE("push: vendor channel %s (%s) to %s", ch->conf.name,
			  ch->conf.type, ch->conf.endpoint);
	}
	if (m != NULL) {
		rc = metrics_add_collector(m, collect, w);
		if (rc < 0) {
			lb_errf(err, errlen, rc, "out of memory");
			goto err;
		}
		w->metrics = m;
	}
	push_srv_set_wake(srv, on_wake, w);
	return w;
err:
	push_wire_free(w);
	errno = -rc;
	return NULL;
}

void
push_wire_free(struct push_wire *w)
{
	if (w == NULL)
		return;
	if (w->srv != NULL)
		push_srv_set_wake(w->srv, NULL, NULL);
	if (w->metrics != NULL)
		metrics_del_collector(w->metrics, collect, w);
	w->closing = true;
	for (size_t i = 0; i < w->nch; i++)
		w->ch[i].ops->destroy(w->ch[i].st);
	while (w->sends != NULL)
		vsend_free(w->sends);
	free(w->ch);
	free(w);
}

bool
push_wire_same(const struct push_wire *w, const struct cfg *c)
{
	const struct vsect *s = cfg_module_state(c, &push_vendor_cfg_ops);
	size_t n = s != NULL ? s->n : 0;

	if (w == NULL || n != w->nch)
		return false;
	for (size_t i = 0; i < n; i++)
		if (memcmp(&s->v[i], &w->ch[i].conf, sizeof(s->v[i])) != 0)
			return false;
	return true;
}

const struct push_wire_counters *
push_wire_counters(const struct push_wire *w)
{
	return &w->n;
}

size_t
push_wire_nchannels(const struct push_wire *w)
{
	return w->nch;
}
