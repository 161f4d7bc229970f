/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Worker poll loop: parse -> classify -> ARP / ICMP / forwarding stage /
 * counted drop. See worker.h.
 */
#include <errno.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "arp.h"
#include "dp_tx.h"
#include "fwd.h"
#include "icmp.h"
#include "ipfrag.h"
#include "pkt.h"
#include "svc.h"
#include "worker.h"

/* ---- unmap guard ---------------------------------------------------------- */

/* The workers' QSBR variable while any worker runs, else NULL. */
static struct rte_rcu_qsbr *unmap_qsv;
static unsigned int unmap_workers;
static __thread bool unmap_in_worker;

void
dp_unmap_guard_arm(struct rte_rcu_qsbr *v)
{
	__atomic_store_n(&unmap_qsv, v, __ATOMIC_RELEASE);
	__atomic_add_fetch(&unmap_workers, 1, __ATOMIC_ACQ_REL);
}

void
dp_unmap_guard_disarm(void)
{
	if (__atomic_sub_fetch(&unmap_workers, 1, __ATOMIC_ACQ_REL) == 0)
		__atomic_store_n(&unmap_qsv, NULL, __ATOMIC_RELEASE);
}

/*
 * Interposes libc's munmap() for the libraries we load (see worker.h):
 * outside the workers, wait for a grace period of theirs first, so that
 * no worker is still inside an RX/TX burst that read a PMD's "connected"
 * flag before the PMD cleared it and started unmapping. A worker never
 * waits (it would wait for itself). Same contract as munmap(2).
 */
int
munmap(void *addr, size_t len)
{
	struct rte_rcu_qsbr *v = __atomic_load_n(&unmap_qsv, __ATOMIC_ACQUIRE);

	if (v != NULL && !unmap_in_worker)
		rte_rcu_qsbr_synchronize(v, RTE_QSBR_THRID_INVALID);
	return (int)syscall(SYS_munmap, addr, len);
}

int
worker_init(struct dp_ctx *dp)
{
	unsigned int lcore, i = 0;

	dp->workers =
		rte_zmalloc("dp_workers", dp->nworkers * sizeof(dp->workers[0]),
			    RTE_CACHE_LINE_SIZE);
	if (dp->workers == NULL)
		return -ENOMEM;
	RTE_LCORE_FOREACH_WORKER (lcore) {
		if (i == dp->nworkers)
			break;
		dp->workers[i] = (struct dp_worker){
			.dp = dp,
			.index = i,
			.lcore = lcore,
		};
		i++;
	}
	return 0;
}

void
worker_fini(struct dp_ctx *dp)
{
	rte_free(dp->workers);
	dp->workers = NULL;
}

/*
 * The last service lookup of a burst: packets of one burst mostly go to
 * the same VIP and port, and svc_lookup() is a full hash lookup. A result
 * (NULL too) stays valid until the worker's next quiescent state, which
 * comes after the burst; a burst started afresh starts with it empty.
 */
struct svc_memo {
	const struct svc *s;
	uint32_t daddr;
	uint16_t dport;
	uint8_t proto;
	bool valid;
};

static const struct svc *
svc_lookup_memo(struct svc_table *t, struct svc_memo *mo,
		const struct pkt_info *pi)
{
	struct lb_addr dst = { .family = AF_INET, .v4 = pi->daddr };

	if (mo->valid && mo->daddr == pi->daddr && mo->dport == pi->dport &&
	    mo->proto == pi->proto)
		return mo->s;
	*mo = (struct svc_memo){
		.s = svc_lookup(t, pi->proto, &dst, pi->dport),
		.daddr = pi->daddr,
		.dport = pi->dport,
		.proto = pi->proto,
		.valid = true,
	};
	return mo->s;
}

static void
ipv4_input(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
	   const struct pkt_info *pi, struct svc_memo *mo)
{
	struct dp_ctx *dp = w->dp;
	struct lb_addr dst = { .family = AF_INET, .v4 = pi->daddr };
	uint32_t src = rte_be_to_cpu_32(pi->saddr);
	const struct svc *s;

	if (pi->flags & PKT_F_BCAST) {
		dp_worker_drop(w, m, DP_DROP_NOT_OURS);
		return;
	}
	if (src == 0 || IN_MULTICAST(src) || src == INADDR_BROADCAST ||
	    (src >> 24) == 127) {
		dp_worker_drop(w, m, DP_DROP_BAD_SADDR);
		return;
	}
	if (port_addr_find(dp, pi->daddr) >= 0) {
		if (pi->proto == IPPROTO_ICMP && (pi->flags & PKT_F_L4))
			icmp_input(w, m, port, pi);
		else
			dp_worker_drop(w, m, DP_DROP_HOST_UNSUPPORTED);
		return;
	}
	/* the forwarding stage knows it as a reply (its burst lookup) */
	if ((pi->flags & PKT_F_REPLY) && fwd_reverse(w, m, port, pi))
		return;
	if ((pi->proto == IPPROTO_TCP || pi->proto == IPPROTO_UDP) &&
	    (pi->flags & PKT_F_L4)) {
		s = svc_lookup_memo(dp->svc, mo, pi);
		if (s != NULL) {
			if (pi->ttl <= 1 && dp->fwd != NULL) {
				/* answered from the VIP the client asked */
				fwd_icmp_time_exceeded(w, m, port, pi,
						       pi->daddr);
				return;
			}
			if (pi->ttl <= 1) {
				dp_worker_drop(w, m, DP_DROP_TTL_EXCEEDED);
				return;
			}
			if (dp->fwd == NULL)
				dp_worker_drop(w, m, DP_DROP_FWD_UNIMPLEMENTED);
			else
				fwd_forward(w, m, port, pi, s);
			return;
		}
	}
	if (!svc_addr_is_ours(dp->svc, &dst)) {
		/* e.g. a reply from a NAT backend */
		if (dp->fwd == NULL || !fwd_reverse(w, m, port, pi))
			dp_worker_drop(w, m, DP_DROP_NOT_OURS);
		return;
	}
	switch (pi->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		if (!(pi->flags & PKT_F_L4)) {
			dp_worker_drop(w, m, DP_DROP_FRAGMENT);
			return;
		}
		/* no service: e.g. a reply to a FULL-NAT local address */
		if (dp->fwd == NULL || !fwd_reverse(w, m, port, pi))
			dp_worker_drop(w, m, DP_DROP_NO_SERVICE);
		return;
	case IPPROTO_ICMP:
		/* ICMP errors about a connection belong to its backend */
		if (dp->fwd != NULL && fwd_reverse(w, m, port, pi))
			return;
		if (pi->flags & PKT_F_L4)
			icmp_input(w, m, port, pi);
		else
			dp_worker_drop(w, m, DP_DROP_FRAGMENT);
		return;
	default:
		dp_worker_drop(w, m, DP_DROP_NO_SERVICE);
	}
}

/*
 * The worker a reassembled datagram (parsed as pi, received on port) must
 * go to: the one RSS would give its 4-tuple, where its flow's connection
 * is (fragments are hashed on their addresses only), when that is not w;
 * else -1 (one worker, RSS not on the L4 ports, w itself).
 */
static int
frag_owner(struct dp_worker *w, uint16_t port, const struct pkt_info *pi)
{
	int q;

	if (w->dp->nworkers < 2 || w->dp->fwd == NULL)
		return -1;
	q = fwd_rss_queue(&w->dp->fwd->rss[port], pi->proto, pi->saddr,
			  pi->daddr, rte_cpu_to_be_16(pi->sport),
			  rte_cpu_to_be_16(pi->dport));
	if (q < 0 || (unsigned int)q == w->index ||
	    (unsigned int)q >= w->dp->nworkers)
		return -1;
	return q;
}

/*
 * Count, parse and check the burst pkts[0..n) received on port: drops what
 * is malformed or not addressed to us, leaves the rest in pkts[] with
 * their descriptions in pi[], in order. Returns how many are left.
 */
static uint16_t
burst_parse(struct dp_worker *w, uint16_t port, struct rte_mbuf **pkts,
	    struct pkt_info *pi, uint16_t n)
{
	const struct rte_ether_addr *mac = &w->dp->ports[port]->mac;
	uint16_t kept = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const struct rte_ether_hdr *eth;
		enum dp_drop why;
		int owner;

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		w->port_st[port].rx_packets++;
		w->port_st[port].rx_bytes += rte_pktmbuf_pkt_len(m);
		why = pkt_parse(m, &pi[kept]);
		if (why == DP_PASS)
			why = pkt_vlan_rx(m, &pi[kept],
					  w->dp->ports[port]->vlan);
		if (why != DP_PASS) {
			dp_worker_drop(w, m, why);
			continue;
		}
		eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
		if (!(pi[kept].flags & PKT_F_BCAST) &&
		    !rte_is_same_ether_addr(&eth->dst_addr, mac)) {
			dp_worker_drop(w, m, DP_DROP_OTHER_HOST);
			continue;
		}
		/* a fragment to a VIP: on once its datagram is whole, on
		 * the worker of its flow */
		if (unlikely(pi[kept].flags & PKT_F_FRAG) &&
		    ipfrag_wanted(w, &pi[kept])) {
			m = ipfrag_input(w, m, &pi[kept]);
			if (m == NULL)
				continue;
			owner = frag_owner(w, port, &pi[kept]);
			if (owner >= 0) {
				ipfrag_handoff(w, m, port, (unsigned int)owner);
				continue;
			}
		}
		pkts[kept++] = m;
	}
	return kept;
}

static void
packet_input(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
	     const struct pkt_info *pi, struct svc_memo *mo)
{
	switch (pi->l3) {
	case PKT_L3_ARP:
		arp_input(w, m, port, pi);
		break;
	case PKT_L3_IPV4:
		ipv4_input(w, m, port, pi, mo);
		break;
	case PKT_L3_IPV6:
		dp_worker_drop(w, m, DP_DROP_IPV6_UNSUPPORTED);
		break;
	default:
		dp_worker_drop(w, m, DP_DROP_BAD_L2);
	}
}

void
worker_rx_burst(struct dp_worker *w, uint16_t port, struct rte_mbuf **pkts,
		uint16_t n)
{
	struct pkt_info pi[DP_BURST];
	struct svc_memo mo = { .valid = false };

	n = burst_parse(w, port, pkts, pi, n);
	if (w->dp->fwd != NULL && n > 0)
		fwd_prepare(w, pi, n);
	for (uint16_t i = 0; i < n; i++)
		packet_input(w, pkts[i], port, &pi[i], &mo);
}

unsigned int
worker_frag_input(struct dp_worker *w)
{
	struct rte_mbuf *pkts[DP_BURST];
	struct svc_memo mo = { .valid = false };
	unsigned int n = ipfrag_handoff_take(w, pkts, DP_BURST);

	for (unsigned int i = 0; i < n; i++) {
		uint16_t port = (uint16_t)pkts[i]->hash.usr;
		struct pkt_info pi;
		enum dp_drop why = pkt_parse(pkts[i], &pi);

		w->frag_st.handoff_in++;
		if (why != DP_PASS)
			dp_worker_drop(w, pkts[i], why);
		else
			packet_input(w, pkts[i], port, &pi, &mo);
	}
	return n;
}

/* Worker 0: send what the control thread queued. Returns the count. */
static unsigned int
ctrl_tx_drain(struct dp_worker *w)
{
	struct rte_mbuf *pkts[DP_BURST];
	unsigned int total = 0;

	for (uint16_t p = 0; p < w->dp->nports; p++) {
		unsigned int n = rte_ring_sc_dequeue_burst(
			w->dp->ports[p]->ctrl_txr, (void **)pkts, DP_BURST,
			NULL);

		for (unsigned int i = 0; i < n; i++)
			dp_worker_tx(w, p, pkts[i]);
		total += n;
	}
	return total;
}

unsigned int
worker_iterate(struct dp_worker *w, uint64_t *prev)
{
	struct dp_ctx *dp = w->dp;
	struct stats_lcore *ls = &w->lcore_st;
	struct rte_mbuf *pkts[DP_BURST];
	unsigned int got = 0;
	uint64_t now;

	if (__atomic_load_n(&dp->rx_enabled, __ATOMIC_ACQUIRE)) {
		for (uint16_t p = 0; p < dp->nports; p++) {
			uint16_t n = rte_eth_rx_burst(dp->ports[p]->id,
						      (uint16_t)w->index, pkts,
						      DP_BURST);

			if (n == 0)
				continue;
			ls->bursts++;
			ls->packets += n;
			got += n;
			worker_rx_burst(w, p, pkts, n);
		}
	}
	if (w->index == 0)
		got += ctrl_tx_drain(w);
	if (dp->fwd != NULL)
		fwd_poll(w);
	if (dp->frag != NULL) {
		got += worker_frag_input(w);
		ipfrag_poll(w);
	}
	for (uint16_t p = 0; p < dp->nports; p++)
		dp_worker_flush(w, p);
	svc_worker_quiescent(dp->svc, w->index);
	rte_rcu_qsbr_quiescent(dp->qsv, w->index);
	now = rte_rdtsc();
	if (got > 0)
		ls->busy_cycles += now - *prev;
	else
		ls->idle_cycles += now - *prev;
	ls->iterations++;
	*prev = now;
	return got;
}

int
worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct dp_ctx *dp = w->dp;
	uint64_t prev;

	rte_rcu_qsbr_thread_register(dp->qsv, w->index);
	rte_rcu_qsbr_thread_online(dp->qsv, w->index);
	unmap_in_worker = true;
	dp_unmap_guard_arm(dp->qsv);
	svc_worker_online(dp->svc, w->index);
	prev = rte_rdtsc();
	while (!__atomic_load_n(&dp->quit, __ATOMIC_RELAXED))
		worker_iterate(w, &prev);
	for (uint16_t p = 0; p < dp->nports; p++)
		dp_worker_flush(w, p);
	svc_worker_offline(dp->svc, w->index);
	rte_rcu_qsbr_thread_offline(dp->qsv, w->index);
	rte_rcu_qsbr_thread_unregister(dp->qsv, w->index);
	dp_unmap_guard_disarm();
	return 0;
}
