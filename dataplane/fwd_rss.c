/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The forwarding stage's view of each port's RSS (key, redirection
 * table, which protocols hash their L4 ports), read from the device at
 * set-up, and the software Toeplitz hash (rte_softrss) that tells which
 * worker's queue a tuple lands on: FULL-NAT picks local ports with it,
 * the reply path finds a connection's owner with it. See fwd.h.
 */
#include <string.h>

#include <rte_ethdev.h>
#include <rte_thash.h>

#include "fwd.h"
#include "port.h"

void
fwd_rss_read(struct fwd *f, uint16_t p)
{
	const struct dp_port *dport = f->dp->ports[p];
	struct rte_eth_rss_reta_entry64
		reta[FWD_RETA_MAX / RTE_ETH_RETA_GROUP_SIZE];
	struct rte_eth_rss_conf rc = { 0 };
	struct rte_eth_dev_info info;
	struct fwd_rss *r = &f->rss[p];

	memset(r, 0, sizeof(*r));
	if (!dport->rss || f->nworkers < 2 ||
	    rte_eth_dev_info_get(dport->id, &info) != 0 ||
	    info.reta_size == 0 || info.reta_size > FWD_RETA_MAX ||
	    info.hash_key_size > FWD_RSS_KEY_MAX || info.hash_key_size < 40)
		return;
	rc.rss_key = r->key;
	rc.rss_key_len = info.hash_key_size;
	if (rte_eth_dev_rss_hash_conf_get(dport->id, &rc) != 0)
		return;
	memset(reta, 0, sizeof(reta));
	for (unsigned int i = 0; i < info.reta_size / RTE_ETH_RETA_GROUP_SIZE;
	     i++)
		reta[i].mask = UINT64_MAX;
	if (rte_eth_dev_rss_reta_query(dport->id, reta, info.reta_size) != 0)
		return;
	for (unsigned int i = 0; i < info.reta_size; i++)
		r->reta[i] = reta[i / RTE_ETH_RETA_GROUP_SIZE]
				     .reta[i % RTE_ETH_RETA_GROUP_SIZE];
	r->reta_size = info.reta_size;
	r->l4_tcp = (rc.rss_hf & RTE_ETH_RSS_NONFRAG_IPV4_TCP) != 0;
	r->l4_udp = (rc.rss_hf & RTE_ETH_RSS_NONFRAG_IPV4_UDP) != 0;
	r->on = true;
}

void
fwd_rss_set(struct dp_ctx *dp, uint16_t port, const struct fwd_rss *r)
{
	dp->fwd->rss[port] = *r;
}

int
fwd_rss_queue(const struct fwd_rss *r, uint8_t proto, uint32_t saddr,
	      uint32_t daddr, uint16_t sport, uint16_t dport)
{
	struct rte_ipv4_tuple t;
	uint32_t h;

	if (!r->on || !(proto == IPPROTO_TCP ? r->l4_tcp : r->l4_udp))
		return -1;
	t.src_addr = rte_be_to_cpu_32(saddr);
	t.dst_addr = rte_be_to_cpu_32(daddr);
	t.sport = rte_be_to_cpu_16(sport);
	t.dport = rte_be_to_cpu_16(dport);
	h = rte_softrss((uint32_t *)&t, RTE_THASH_V4_L4_LEN, r->key);
	return r->reta[h % r->reta_size];
}
