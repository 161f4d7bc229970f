/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Worker threads of an HTTP service (see http.h, struct http_workers):
 * one event_base and one http_server per thread, each with its own
 * listening sockets on the same addresses (SO_REUSEPORT: the kernel
 * spreads new connections over them). The threads share nothing but the
 * handler and its argument. The controlling thread talks to a worker
 * through an eventfd (no libevent locking needed): it sets a command flag
 * and writes the eventfd; the worker's loop reads it and acts (drain, or
 * stop). A worker that drains publishes "no active connection" in an
 * atomic flag that http_workers_drained reads.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <event2/event.h>

#include "http_priv.h"
#include "edgelb/log.h"

#define HTTP_WORKERS_MAX 64
#define DRAIN_POLL_MS	 50

enum {
	CMD_DRAIN = 1,
	CMD_STOP = 2,
};

struct http_worker {
	struct http_workers *w;
	struct event_base *base;
	struct http_server *s;
	pthread_t th;
	bool running;
	int efd;
	struct event *cmd_ev;
	struct event *poll_ev;
	int cmds;  /* CMD_* bits; atomic */
	bool done; /* drained, nothing active; atomic */
};

struct http_workers {
	unsigned int n;
	bool started;
	uint16_t port;
	struct http_worker *wk;
};

static void
publish_drained(struct http_worker *k)
{
	__atomic_store_n(&k->done, http_server_active(k->s) == 0,
			 __ATOMIC_RELEASE);
}

static void
on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct http_worker *k = arg;
	struct timeval tv = { 0, DRAIN_POLL_MS * 1000 };

	(void)fd;
	(void)what;
	publish_drained(k);
	if (!__atomic_load_n(&k->done, __ATOMIC_ACQUIRE))
		evtimer_add(k->poll_ev, &tv);
}

static void
on_cmd(evutil_socket_t fd, short what, void *arg)
{
	struct http_worker *k = arg;
	uint64_t v;
	int cmds;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		LB_WARN("http: worker eventfd: %s", strerror(errno));
	cmds = __atomic_exchange_n(&k->cmds, 0, __ATOMIC_ACQ_REL);
	if (cmds & CMD_STOP) {
		event_base_loopbreak(k->base);
		return;
	}
	if (cmds & CMD_DRAIN) {
		http_server_drain(k->s);
		on_poll(-1, 0, k);
	}
}

static void
send_cmd(struct http_worker *k, int cmd)
{
	uint64_t one = 1;

	__atomic_fetch_or(&k->cmds, cmd, __ATOMIC_ACQ_REL);
	if (write(k->efd, &one, sizeof(one)) < 0)
		LB_WARN("http: worker eventfd: %s", strerror(errno));
}

static void *
worker_main(void *arg)
{
	struct http_worker *k = arg;

	event_base_loop(k->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

struct http_workers *
http_workers_new(unsigned int n, const struct http_limits *lim,
		 const struct http_handler *h, void *arg)
{
	struct http_workers *w;
	int err = ENOMEM;

	if (n == 0 || n > HTTP_WORKERS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->wk = calloc(n, sizeof(*w->wk));
	if (w->wk == NULL)
		goto err;
	for (unsigned int i = 0; i < n; i++)
		w->wk[i].efd = -1;
	w->n = n;
	for (unsigned int i = 0; i < n; i++) {
		struct http_worker *k = &w->wk[i];

		k->w = w;
		k->base = event_base_new();
		if (k->base == NULL)
			goto err;
		k->s = http_server_new(k->base, lim, h, arg);
		if (k->s == NULL) {
			err = errno;
			goto err;
		}
		k->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (k->efd < 0) {
			err = errno;
			goto err;
		}
		k->cmd_ev = event_new(k->base, k->efd, EV_READ | EV_PERSIST,
				      on_cmd, k);
		k->poll_ev = evtimer_new(k->base, on_poll, k);
		if (k->cmd_ev == NULL || k->poll_ev == NULL ||
		    event_add(k->cmd_ev, NULL) < 0)
			goto err;
	}
	return w;
err:
	http_workers_free(w);
	errno = err;
	return NULL;
}

int
http_workers_listen(struct http_workers *w, const struct lb_addr *addr,
		    uint16_t port, const struct http_tls *tls)
{
	struct http_listen_opts o = { .tls = tls, .reuseport = true };
	int rc;

	if (w->started)
		return -EBUSY;
	for (unsigned int i = 0; i < w->n; i++) {
		struct http_server *s = w->wk[i].s;

		rc = http_server_listen_opts(s, addr, port, &o);
		if (rc < 0)
			return rc;
		if (port == 0) /* the first picked: the rest share it */
			port = s->ls[s->nls - 1].port;
	}
	if (w->port == 0)
		w->port = port;
	return 0;
}

int
http_workers_start(struct http_workers *w)
{
	int rc;

	if (w->started)
		return -EBUSY;
	for (unsigned int i = 0; i < w->n; i++) {
		rc = pthread_create(&w->wk[i].th, NULL, worker_main, &w->wk[i]);
		if (rc != 0) {
			/* stop the ones already running */
			for (unsigned int j = 0; j < i; j++) {
				send_cmd(&w->wk[j], CMD_STOP);
				pthread_join(w->wk[j].th, NULL);
				w->wk[j].running = false;
			}
			return -rc;
		}
		w->wk[i].running = true;
	}
	w->started = true;
	return 0;
}

void
http_workers_drain(struct http_workers *w)
{
	for (unsigned int i = 0; i < w->n; i++) {
		if (w->wk[i].running) {
			send_cmd(&w->wk[i], CMD_DRAIN);
		} else {
			http_server_drain(w->wk[i].s);
			publish_drained(&w->wk[i]);
		}
	}
}

bool
http_workers_drained(struct http_workers *w)
{
	for (unsigned int i = 0; i < w->n; i++)
		if (!__atomic_load_n(&w->wk[i].done, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

void
http_workers_stop(struct http_workers *w)
{
	if (w == NULL || w->wk == NULL)
		return;
	for (unsigned int i = 0; i < w->n; i++)
		if (w->wk[i].running)
			send_cmd(&w->wk[i], CMD_STOP);
	for (unsigned int i = 0; i < w->n; i++) {
		if (w->wk[i].running)
			pthread_join(w->wk[i].th, NULL);
		w->wk[i].running = false;
	}
}

void
http_workers_free(struct http_workers *w)
{
	if (w == NULL)
		return;
	http_workers_stop(w);
	for (unsigned int i = 0; w->wk != NULL && i < w->n; i++) {
		struct http_worker *k = &w->wk[i];

		http_server_free(k->s);
		if (k->cmd_ev != NULL)
			event_free(k->cmd_ev);
		if (k->poll_ev != NULL)
			event_free(k->poll_ev);
		if (k->efd >= 0)
			close(k->efd);
		if (k->base != NULL)
			event_base_free(k->base);
	}
	free(w->wk);
	free(w);
}

uint16_t
http_workers_port(const struct http_workers *w)
{
	return w->port;
}

unsigned int
http_workers_count(const struct http_workers *w)
{
	return w->n;
}

struct http_server *
http_workers_server(struct http_workers *w, unsigned int i)
{
	return i < w->n ? w->wk[i].s : NULL;
}

void
http_workers_share_conns(struct http_workers *w, struct http_conn_share *sh)
{
	for (unsigned int i = 0; i < w->n; i++)
		http_server_share_conns(w->wk[i].s, sh);
}
