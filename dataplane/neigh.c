/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Neighbour cache. See neigh.h for the life of an entry.
 *
 * The control thread's entries live in a plain array (the table is small
 * and changes are rare); every change that workers must see rebuilds the
 * published open-addressing table aside and swaps the pointer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "edgelb/lbmsg.h"
#include "edgelb/log.h"
#include "arp.h"
#include "neigh.h"
#include "port.h"
#include "dp_tx.h"
#include "edgelb/util.h"

struct neigh {
	uint32_t ip; /* 0 = free */
	uint16_t port;
	uint8_t state; /* enum lb_neigh_state */
	uint8_t mac[6];
	uint32_t probes;      /* ARP requests sent in this round */
	uint64_t deadline_ms; /* next probe, or end of REACHABLE */
	uint32_t qlen;
	struct rte_mbuf **q; /* [conf.neigh_queue_len] */
};

struct neigh_table {
	struct dp_ctx *dp;
	struct neigh *e;
	uint32_t max;
	uint32_t count;
	uint32_t qcap;
	struct neigh_stats st;
};

static int publish(struct neigh_table *nt);

struct neigh_table *
neigh_create(struct dp_ctx *dp)
{
	struct neigh_table *nt = calloc(1, sizeof(*nt));

	if (nt == NULL)
		return NULL;
	nt->dp = dp;
	nt->max = dp->conf.max_neighbours;
	nt->qcap = dp->conf.neigh_queue_len;
	nt->e = calloc(nt->max, sizeof(nt->e[0]));
	if (nt->e == NULL || publish(nt) < 0) {
		free(nt->e);
		free(nt);
		errno = ENOMEM;
		return NULL;
	}
	dp->neigh = nt;
	return nt;
}

static void
queue_drop(struct neigh_table *nt, struct neigh *n, enum dp_drop why)
{
	for (uint32_t i = 0; i < n->qlen; i++) {
		rte_pktmbuf_free(n->q[i]);
		nt->dp->ctrl_drops[why]++;
	}
	n->qlen = 0;
}

static void
entry_free(struct neigh_table *nt, struct neigh *n)
{
	queue_drop(nt, n, DP_DROP_NEIGH_FAILED);
	free(n->q);
	memset(n, 0, sizeof(*n));
	nt->count--;
}

void
neigh_destroy(struct neigh_table *nt)
{
	if (nt == NULL)
		return;
	for (uint32_t i = 0; i < nt->max; i++)
		if (nt->e[i].ip != 0)
			entry_free(nt, &nt->e[i]);
	rte_free(nt->dp->neigh_pub);
	nt->dp->neigh_pub = NULL;
	nt->dp->neigh = NULL;
	free(nt->e);
	free(nt);
}

/* Rebuild the workers' table from the usable entries and swap it in. */
static int
publish(struct neigh_table *nt)
{
	struct neigh_pub *p, *old = nt->dp->neigh_pub;
	uint32_t slots = 16;

	while (slots < 2 * nt->count)
		slots <<= 1;
	p = rte_zmalloc("dp_neigh", sizeof(*p) + slots * sizeof(p->e[0]),
			RTE_CACHE_LINE_SIZE);
	if (p == NULL)
		return -ENOMEM;
	p->mask = slots - 1;
	for (uint32_t i = 0; i < nt->max; i++) {
		const struct neigh *n = &nt->e[i];
		uint32_t h;

		if (n->ip == 0 || n->state == LB_NEIGH_INCOMPLETE)
			continue;
		for (h = neigh_hash(n->ip) & p->mask; p->e[h].ip != 0;
		     h = (h + 1) & p->mask)
			;
		p->e[h] = (struct neigh_pub_entry){
			.ip = n->ip,
			.port = n->port,
			.state = n->state,
		};
		memcpy(p->e[h].mac, n->mac, 6);
	}
	__atomic_store_n(&nt->dp->neigh_pub, p, __ATOMIC_RELEASE);
	if (old != NULL)
		dp_defer_free(nt->dp, old);
	return 0;
}

static struct neigh *
find(struct neigh_table *nt, uint32_t ip)
{
	for (uint32_t i = 0; i < nt->max; i++)
		if (nt->e[i].ip == ip)
			return &nt->e[i];
	return NULL;
}

static struct neigh *
entry_new(struct neigh_table *nt, uint32_t ip, uint16_t port, uint8_t state)
{
	for (uint32_t i = 0; i < nt->max; i++) {
		struct neigh *n = &nt->e[i];

		if (n->ip != 0)
			continue;
		if (nt->qcap > 0) {
			n->q = calloc(nt->qcap, sizeof(n->q[0]));
			if (n->q == NULL)
				return NULL;
		}
		n->ip = ip;
		n->port = port;
		n->state = state;
		nt->count++;
		return n;
	}
	return NULL;
}

static void
send_probe(struct neigh_table *nt, struct neigh *n, uint64_t now)
{
	uint32_t sip = port_addr_source(nt->dp, n->port, n->ip);

	n->probes++;
	n->deadline_ms = now + nt->dp->conf.arp_retry_ms;
	if (sip == 0)
		return; /* no address on the port: cannot ask; retry later */
	arp_send_request(nt->dp, n->port, sip, n->ip);
	nt->st.arp_requests++;
}

/* Send what waited for n, now that its MAC is known. */
static void
release(struct neigh_table *nt, struct neigh *n)
{
	const struct dp_port *p = nt->dp->ports[n->port];

	for (uint32_t i = 0; i < n->qlen; i++) {
		struct rte_mbuf *m = n->q[i];
		struct rte_ether_hdr *eth =
			rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

		memcpy(eth->dst_addr.addr_bytes, n->mac, 6);
		rte_ether_addr_copy(&p->mac, &eth->src_addr);
		port_ctrl_tx(nt->dp, n->port, m);
		nt->st.released++;
	}
	n->qlen = 0;
}

int
neigh_add(struct neigh_table *nt, uint32_t ip, uint16_t port,
	  const uint8_t mac[6])
{
	struct neigh *n = find(nt, ip);
	int rc;

	if (n != NULL && n->state == LB_NEIGH_PERMANENT)
		return -EEXIST;
	if (n != NULL && n->port != port) {
		entry_free(nt, n);
		n = NULL;
	}
	if (n == NULL)
		n = entry_new(nt, ip, port, LB_NEIGH_PERMANENT);
	if (n == NULL)
		return nt->count == nt->max ? -ENOSPC : -ENOMEM;
	n->state = LB_NEIGH_PERMANENT;
	memcpy(n->mac, mac, 6);
	n->probes = 0;
	rc = publish(nt);
	release(nt, n);
	return rc;
}

int
neigh_del(struct neigh_table *nt, uint32_t ip)
{
	struct neigh *n = find(nt, ip);

	if (n == NULL)
		return -ENOENT;
	entry_free(nt, n);
	return publish(nt);
}

void
neigh_flush_port(struct neigh_table *nt, uint16_t port)
{
	bool changed = false;

	for (uint32_t i = 0; i < nt->max; i++)
		if (nt->e[i].ip != 0 && nt->e[i].port == port &&
		    nt->e[i].state != LB_NEIGH_PERMANENT) {
			entry_free(nt, &nt->e[i]);
			changed = true;
		}
	if (changed)
		publish(nt);
}

bool
neigh_learn(struct neigh_table *nt, uint16_t port, uint32_t ip,
	    const uint8_t mac[6])
{
	struct neigh *n = find(nt, ip);
	bool changed;

	/* only an answer to a request of ours: INCOMPLETE, or STALE while
	 * being re-probed; see neigh.h */
	if (n == NULL || n->port != port ||
	    !(n->state == LB_NEIGH_INCOMPLETE ||
	      (n->state == LB_NEIGH_STALE && n->probes > 0)))
		return false;
	changed = n->state == LB_NEIGH_INCOMPLETE || memcmp(n->mac, mac, 6);
	if (n->state == LB_NEIGH_INCOMPLETE)
		nt->st.resolved++;
	memcpy(n->mac, mac, 6);
	n->state = LB_NEIGH_REACHABLE;
	n->probes = 0;
	n->deadline_ms =
		lb_now_ms() + (uint64_t)nt->dp->conf.neigh_reachable_s * 1000;
	if (changed && publish(nt) < 0)
		LB_WARN("neighbour table: out of memory publishing");
	release(nt, n);
	return true;
}

static struct neigh *
resolve(struct neigh_table *nt, uint16_t port, uint32_t ip)
{
	struct neigh *n = find(nt, ip);

	if (n != NULL)
		return n;
	n = entry_new(nt, ip, port, LB_NEIGH_INCOMPLETE);
	if (n != NULL)
		send_probe(nt, n, lb_now_ms());
	return n;
}

void
neigh_probe(struct neigh_table *nt, uint16_t port, uint32_t ip)
{
	resolve(nt, port, ip);
}

void
neigh_arp_drain(struct neigh_table *nt)
{
	struct dp_ctx *dp = nt->dp;
	struct rte_mbuf *pkts[DP_BURST];
	unsigned int n;

	while ((n = rte_ring_sc_dequeue_burst(dp->arp_ring, (void **)pkts,
					      DP_BURST, NULL)) > 0) {
		for (unsigned int i = 0; i < n; i++) {
			struct pkt_info pi;
			const struct rte_arp_hdr *arp;

			if (pkt_parse(pkts[i], &pi) == DP_PASS &&
			    pi.l3 == PKT_L3_ARP) {
				arp = pkt_at(pkts[i],
					     const struct rte_arp_hdr *,
					     pi.l2_len);
				if (!neigh_learn(
					    nt, pkts[i]->port,
					    arp->arp_data.arp_sip,
					    arp->arp_data.arp_sha.addr_bytes))
					dp->ctrl_drops
						[DP_DROP_ARP_UNSOLICITED]++;
			}
			rte_pktmbuf_free(pkts[i]);
		}
	}
}

void
neigh_drain(struct neigh_table *nt)
{
	struct rte_mbuf *pkts[DP_BURST];
	unsigned int n;

	while ((n = rte_ring_sc_dequeue_burst(nt->dp->pend_ring, (void **)pkts,
					      DP_BURST, NULL)) > 0) {
		for (unsigned int i = 0; i < n; i++) {
			struct rte_mbuf *m = pkts[i];
			uint32_t ip = m->hash.usr;
			struct neigh *e = resolve(nt, m->port, ip);

			if (e == NULL || e->qlen == nt->qcap) {
				nt->dp->ctrl_drops[DP_DROP_NEIGH_QUEUE_FULL]++;
				rte_pktmbuf_free(m);
				continue;
			}
			e->q[e->qlen++] = m;
			nt->st.queued++;
			if (e->state != LB_NEIGH_INCOMPLETE)
				release(nt, e);
		}
	}
}

void
neigh_timer(struct neigh_table *nt, uint64_t now)
{
	bool changed = false;

	for (uint32_t i = 0; i < nt->max; i++) {
		struct neigh *n = &nt->e[i];

		if (n->ip == 0 || n->state == LB_NEIGH_PERMANENT ||
		    now < n->deadline_ms)
			continue;
		if (n->state == LB_NEIGH_REACHABLE) {
			/* still used while we ask again */
			n->state = LB_NEIGH_STALE;
			n->probes = 0;
			changed = true;
			send_probe(nt, n, now);
		} else if (n->probes < nt->dp->conf.arp_retries) {
			send_probe(nt, n, now);
		} else {
			if (n->state == LB_NEIGH_INCOMPLETE)
				nt->st.failed++;
			entry_free(nt, n);
			changed = true;
		}
	}
	if (changed)
		publish(nt);
}

int
neigh_walk(struct neigh_table *nt,
	   int (*fn)(void *arg, const struct neigh_info *ni), void *arg)
{
	uint64_t now = lb_now_ms();
	int rc;

	for (uint32_t i = 0; i < nt->max; i++) {
		const struct neigh *n = &nt->e[i];
		struct neigh_info ni;

		if (n->ip == 0)
			continue;
		ni = (struct neigh_info){
			.ip = n->ip,
			.port = n->port,
			.state = n->state,
			.queued = n->qlen,
		};
		memcpy(ni.mac, n->mac, 6);
		if (n->state != LB_NEIGH_PERMANENT && n->deadline_ms > now)
			ni.expires_s =
				(uint32_t)((n->deadline_ms - now + 999) / 1000);
		rc = fn(arg, &ni);
		if (rc != 0)
			return rc;
	}
	return 0;
}

void
neigh_get_stats(const struct neigh_table *nt, struct neigh_stats *st)
{
	*st = nt->st;
}

void
neigh_zero_stats(struct neigh_table *nt)
{
	memset(&nt->st, 0, sizeof(nt->st));
}

void
neigh_output(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
	     uint32_t nexthop)
{
	const struct neigh_pub *p =
		__atomic_load_n(&w->dp->neigh_pub, __ATOMIC_ACQUIRE);
	const struct neigh_pub_entry *e = neigh_lookup(p, nexthop);

	if (e != NULL && e->port == port) {
		struct rte_ether_hdr *eth =
			rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

		memcpy(eth->dst_addr.addr_bytes, e->mac, 6);
		rte_ether_addr_copy(&w->dp->ports[port]->mac, &eth->src_addr);
		dp_worker_tx(w, port, m);
		return;
	}
	m->hash.usr = nexthop;
	m->port = port;
	if (rte_ring_mp_enqueue(w->dp->pend_ring, m) != 0)
		dp_worker_drop(w, m, DP_DROP_NEIGH_QUEUE_FULL);
}
