/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The forwarding stage's set-up and tear-down (control thread, before the
 * workers start and after they stop): per-worker connection tables,
 * handoff rings and load views, NAT's shared reverse map, the RSS view of
 * each port; and the control thread's side of the CONN_GET chunk
 * handshake with a worker (its side is fwd_poll). See fwd.h.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "fwd.h"

/* per worker, when the configuration leaves it at 0 ([dataplane] max_conns) */
#define FWD_TABLE_CONNS DPCONF_DEFAULT_MAX_CONNS

static int
worker_setup(struct fwd *f, unsigned int i, uint32_t conns)
{
	struct dp_ctx *dp = f->dp;
	struct fwd_worker *fw = &f->w[i];
	struct conn_table_conf cc = {
		.size = conns,
		.socket_id = (int)rte_socket_id(),
		.tmo = &dp->tmo,
		.unlink = fwd_conn_unlink,
		.unlink_arg = fw,
	};
	char name[32];

	fw->fwd = f;
	fw->index = i;
	fw->lport_next = (uint16_t)(i * 7919u);
	snprintf(name, sizeof(name), "w%u", i);
	cc.name = name;
	fw->ct = conn_table_create(&cc);
	snprintf(name, sizeof(name), "fwd_ho%u", i);
	fw->handoff = rte_ring_create(name, FWD_HANDOFF_SIZE, cc.socket_id,
				      RING_F_SC_DEQ);
	fw->rtt_us = rte_zmalloc("fwd_rtt",
				 sizeof(uint32_t) * dp->conf.max_backends, 0);
	fw->ld_active =
		rte_zmalloc("fwd_ld", 3 * sizeof(uint32_t) * FWD_LOAD_MAX, 0);
	fw->svc_rate = rte_zmalloc(
		"fwd_rate", sizeof(*fw->svc_rate) * dp->conf.max_services, 0);
	fw->src = rte_zmalloc("fwd_src", sizeof(*fw->src) * FWD_SRC_SLOTS, 0);
	fw->b_over = rte_zmalloc(
		"fwd_over",
		sizeof(uint64_t) * ((dp->conf.max_backends + 63) / 64), 0);
	if (fw->ct == NULL || fw->handoff == NULL || fw->rtt_us == NULL ||
	    fw->ld_active == NULL || fw->svc_rate == NULL || fw->src == NULL ||
	    fw->b_over == NULL)
		return -ENOMEM;
	fw->ld_inactive = fw->ld_active + FWD_LOAD_MAX;
	fw->ld_rtt = fw->ld_inactive + FWD_LOAD_MAX;
	return 0;
}

static int
fwd_init_size(struct dp_ctx *dp, uint32_t conns)
{
	struct rte_hash_parameters hp = {
		.name = "fwd_nat_rev",
		.entries = conns * dp->nworkers,
		.key_len = sizeof(struct conn_key),
		.hash_func = rte_hash_crc,
		.socket_id = (int)rte_socket_id(),
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			      RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD,
	};
	struct rte_hash_rcu_config rc = {
		.v = dp->qsv,
		.mode = RTE_HASH_QSBR_MODE_DQ,
	};
	struct fwd *f;

	f = rte_zmalloc("fwd", sizeof(*f) + dp->nworkers * sizeof(f->w[0]),
			RTE_CACHE_LINE_SIZE);
	if (f == NULL)
		return -ENOMEM;
	f->dp = dp;
	f->nworkers = dp->nworkers;
	dp->fwd = f;
	f->tsc_per_us = rte_get_tsc_hz() / 1000000 ?: 1;
	f->tsc_hz = rte_get_tsc_hz() ?: 1;
	f->nat_rev = rte_hash_create(&hp);
	if (f->nat_rev == NULL ||
	    (dp->qsv != NULL && rte_hash_rcu_qsbr_add(f->nat_rev, &rc) != 0))
		goto err;
	for (unsigned int i = 0; i < dp->nworkers; i++)
		if (worker_setup(f, i, conns) < 0)
			goto err;
	for (uint16_t p = 0; p < dp->nports; p++)
		fwd_rss_read(f, p);
	return 0;
err:
	fwd_fini(dp);
	return -ENOMEM;
}

int
fwd_init(struct dp_ctx *dp)
{
	return fwd_init_size(dp, dp->conf.max_conns != 0 ? dp->conf.max_conns
							 : FWD_TABLE_CONNS);
}

int
fwd_init_conns(struct dp_ctx *dp, uint32_t conns)
{
	return fwd_init_size(dp, conns);
}

void
fwd_fini(struct dp_ctx *dp)
{
	struct fwd *f = dp->fwd;
	struct rte_mbuf *m;

	if (f == NULL)
		return;
	for (unsigned int i = 0; i < f->nworkers; i++) {
		struct fwd_worker *fw = &f->w[i];

		conn_table_destroy(fw->ct);
		while (fw->handoff != NULL &&
		       rte_ring_dequeue(fw->handoff, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(fw->handoff);
		rte_free(fw->rtt_us);
		rte_free(fw->ld_active);
		rte_free(fw->svc_rate);
		rte_free(fw->src);
		rte_free(fw->b_over);
	}
	rte_hash_free(f->nat_rev);
	rte_free(f);
	dp->fwd = NULL;
}

struct conn_table *
fwd_conn_table(struct dp_ctx *dp, unsigned int worker)
{
	return dp->fwd->w[worker].ct;
}

int
fwd_dump_request(struct dp_ctx *dp, unsigned int worker, uint32_t *next,
		 const struct conn_info **out, int timeout_ms)
{
	struct fwd_dump *d = &dp->fwd->w[worker].dump;
	struct timespec ts = { 0, 100000 };
	uint32_t seq = d->req + 1;

	if (__atomic_load_n(&d->done, __ATOMIC_ACQUIRE) != d->req)
		return -EBUSY; /* an earlier request is still unanswered */
	d->next = *next;
	__atomic_store_n(&d->req, seq, __ATOMIC_RELEASE);
	for (int waited = 0; __atomic_load_n(&d->done, __ATOMIC_ACQUIRE) != seq;
	     waited++) {
		if (waited >= timeout_ms * 10)
			return -ETIMEDOUT;
		nanosleep(&ts, NULL);
	}
	*next = d->next;
	*out = d->out;
	return (int)d->n;
}
