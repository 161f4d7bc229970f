/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Service event-loop threads (see loops.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <event2/event.h>

#include "loops.h"
#include "edgelb/log.h"

struct task {
	struct task *next;
	loops_fn fn;
	void *arg;
};

struct loop {
	struct loops *l;
	unsigned int index;
	pthread_t thread;
	bool started;
	struct event_base *base;
	int efd;
	struct event *wake;
	pthread_mutex_t lock; /* the queue and stopping */
	struct task *head, **tail;
	bool stopping;
};

struct loops {
	unsigned int n;
	bool stopped;
	char name[11];
	struct loop loop[];
};

static __thread int current = -1;

/* Run what is queued; end the loop once stopping and empty. */
static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct loop *lp = arg;
	uint64_t v;
	bool stop;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		LB_WARN("loop %u: eventfd: %s", lp->index, strerror(errno));
	for (;;) {
		struct task *t;

		pthread_mutex_lock(&lp->lock);
		t = lp->head;
		if (t != NULL) {
			lp->head = t->next;
			if (lp->head == NULL)
				lp->tail = &lp->head;
		}
		stop = lp->stopping;
		pthread_mutex_unlock(&lp->lock);
		if (t == NULL)
			break;
		t->fn(t->arg);
		free(t);
	}
	if (stop)
		event_base_loopbreak(lp->base);
}

static void *
loop_main(void *arg)
{
	struct loop *lp = arg;
	char name[16];

	current = (int)lp->index;
	snprintf(name, sizeof(name), "%s/%u", lp->l->name, lp->index);
	pthread_setname_np(pthread_self(), name);
	event_base_loop(lp->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static int
loop_init(struct loops *l, unsigned int i)
{
	struct loop *lp = &l->loop[i];

	lp->base = event_base_new();
	if (lp->base == NULL)
		return -ENOMEM;
	lp->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (lp->efd < 0)
		return -errno;
	lp->wake =
		event_new(lp->base, lp->efd, EV_READ | EV_PERSIST, on_wake, lp);
	if (lp->wake == NULL || event_add(lp->wake, NULL) < 0)
		return -ENOMEM;
	return 0;
}

struct loops *
loops_new(unsigned int n, const char *name)
{
	struct loops *l;
	int rc = 0;

	if (n == 0 || n > LOOPS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	l = calloc(1, sizeof(*l) + n * sizeof(l->loop[0]));
	if (l == NULL)
		return NULL;
	l->n = n;
	snprintf(l->name, sizeof(l->name), "%s", name);
	for (unsigned int i = 0; i < n; i++) {
		struct loop *lp = &l->loop[i];

		lp->l = l;
		lp->index = i;
		lp->tail = &lp->head;
		lp->efd = -1;
		pthread_mutex_init(&lp->lock, NULL);
	}
	for (unsigned int i = 0; i < n && rc == 0; i++)
		rc = loop_init(l, i);
	for (unsigned int i = 0; i < n && rc == 0; i++) {
		rc = -pthread_create(&l->loop[i].thread, NULL, loop_main,
				     &l->loop[i]);
		l->loop[i].started = rc == 0;
	}
	if (rc < 0) {
		loops_free(l);
		errno = -rc;
		return NULL;
	}
	return l;
}

unsigned int
loops_count(const struct loops *l)
{
	return l->n;
}

struct event_base *
loops_base(struct loops *l, unsigned int i)
{
	return i < l->n ? l->loop[i].base : NULL;
}

int
loops_current(void)
{
	return current;
}

static void
kick(struct loop *lp)
{
	uint64_t one = 1;

	/* only fails when the counter would overflow: it is awake then */
	if (write(lp->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		LB_WARN("loop %u: eventfd: %s", lp->index, strerror(errno));
}

int
loops_run(struct loops *l, unsigned int i, loops_fn fn, void *arg)
{
	struct loop *lp;
	struct task *t;

	if (i >= l->n)
		return -EINVAL;
	lp = &l->loop[i];
	t = malloc(sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->next = NULL;
	t->fn = fn;
	t->arg = arg;
	pthread_mutex_lock(&lp->lock);
	if (lp->stopping) {
		pthread_mutex_unlock(&lp->lock);
		free(t);
		return -ESHUTDOWN;
	}
	*lp->tail = t;
	lp->tail = &t->next;
	pthread_mutex_unlock(&lp->lock);
	kick(lp);
	return 0;
}

void
loops_stop(struct loops *l)
{
	if (l->stopped)
		return;
	l->stopped = true;
	for (unsigned int i = 0; i < l->n; i++) {
		struct loop *lp = &l->loop[i];

		pthread_mutex_lock(&lp->lock);
		lp->stopping = true;
		pthread_mutex_unlock(&lp->lock);
		if (lp->started)
			kick(lp);
	}
	for (unsigned int i = 0; i < l->n; i++)
		if (l->loop[i].started)
			pthread_join(l->loop[i].thread, NULL);
}

void
loops_free(struct loops *l)
{
	if (l == NULL)
		return;
	loops_stop(l);
	for (unsigned int i = 0; i < l->n; i++) {
		struct loop *lp = &l->loop[i];

		while (lp->head != NULL) { /* only if a thread never started */
			struct task *t = lp->head;

			lp->head = t->next;
			free(t);
		}
		if (lp->wake != NULL)
			event_free(lp->wake);
		if (lp->efd >= 0)
			close(lp->efd);
		if (lp->base != NULL)
			event_base_free(lp->base);
		pthread_mutex_destroy(&lp->lock);
	}
	free(l);
}
