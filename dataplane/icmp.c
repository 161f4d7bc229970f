/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICMP echo responder and the ICMP rate limit. See icmp.h.
 */
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include "icmp.h"
#include "port.h"
#include "dp_tx.h"

#define ICMP_REPLY_TTL 64

/*
 * Credit b with the tokens earned since b->last at rate per second (hz
 * TSC ticks a second), up to burst; then take one if there is one.
 * Earned time is consumed in whole tokens, so that no fraction is lost
 * between calls; a full bucket earns nothing.
 */
static bool
bucket_take(struct icmp_bucket *b, uint64_t now, uint64_t hz, uint32_t rate,
	    uint32_t burst, bool take)
{
	uint64_t el = now - b->last, add;

	if (rate == 0)
		return false;
	/* long idle (or never used): full, without overflowing el * rate */
	if (el >= (uint64_t)burst * hz / rate + 1) {
		b->tokens = burst;
		b->last = now;
	} else {
		add = el * rate / hz;
		if (add > 0) {
			b->last += add * hz / rate;
			b->tokens = (uint32_t)RTE_MIN((uint64_t)burst,
						      b->tokens + add);
			if (b->tokens == burst)
				b->last = now;
		}
	}
	if (b->tokens == 0)
		return false;
	if (take)
		b->tokens--;
	return true;
}

bool
icmp_rl_allow(struct dp_worker *w, uint32_t dst)
{
	const struct dpconf *c = &w->dp->conf;
	struct icmp_rl *rl = &w->icmp_rl;
	uint32_t net = rte_be_to_cpu_32(dst) >> 8;
	struct icmp_bucket *d;
	uint64_t now = rte_rdtsc(), hz = rte_get_tsc_hz();

	/* multiplicative hash of the /24: neighbouring /24s spread out */
	d = &rl->dest[(net * 2654435761u) >> 24 & (ICMP_RL_DEST_BUCKETS - 1)];
	/* look at both before taking from either */
	if (!bucket_take(&rl->all, now, hz, c->icmp_rate, c->icmp_burst,
			 false) ||
	    !bucket_take(d, now, hz, c->icmp_dest_rate, c->icmp_dest_burst,
			 true)) {
		w->icmp_st.ratelimited++;
		return false;
	}
	rl->all.tokens--;
	return true;
}

void
icmp_input(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
	   const struct pkt_info *pi)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = pkt_at(m, struct rte_ipv4_hdr *, pi->l2_len);
	struct rte_icmp_hdr *ih =
		pkt_at(m, struct rte_icmp_hdr *, pi->l2_len + pi->l3_len);
	uint16_t icmp_len = pi->ip_len - pi->l3_len;
	uint32_t addr;

	if (ih->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || ih->icmp_code != 0) {
		dp_worker_drop(w, m, DP_DROP_ICMP_UNSUPPORTED);
		return;
	}
	if (pi->flags & PKT_F_FRAG) {
		dp_worker_drop(w, m, DP_DROP_FRAGMENT);
		return;
	}
	if (rte_raw_cksum(ih, icmp_len) != 0xffff) {
		dp_worker_drop(w, m, DP_DROP_BAD_ICMP_CSUM);
		return;
	}
	if (!icmp_rl_allow(w, ip->src_addr)) {
		dp_worker_drop(w, m, DP_DROP_ICMP_RATELIMITED);
		return;
	}
	/* drop Ethernet padding so that the reply is the request's size */
	if (rte_pktmbuf_data_len(m) > pi->l2_len + pi->ip_len)
		rte_pktmbuf_trim(m, rte_pktmbuf_data_len(m) -
					    (pi->l2_len + pi->ip_len));

	ih->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	ih->icmp_cksum = 0;
	ih->icmp_cksum = pkt_cksum(ih, icmp_len);

	addr = ip->src_addr;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = addr;
	ip->time_to_live = ICMP_REPLY_TTL;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = pkt_cksum(ip, pi->l3_len);

	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(&w->dp->ports[port]->mac, &eth->src_addr);
	w->icmp_st.echo_replies++;
	dp_worker_tx(w, port, m);
}
