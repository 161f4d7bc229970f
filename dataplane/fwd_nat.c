/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NAT (LVS "masquerading"): inbound packets get the backend as
 * destination (DNAT), replies get the VIP and service port back as
 * source (SNAT). The load balancer must be the backends' gateway to the
 * clients, since replies are addressed to the client itself.
 *
 * A reply carries nothing of ours, so RSS may hand it to any worker: each
 * connection's backend-side tuple is recorded in the shared lock-free
 * reverse map (fwd.h) with its owner, and a reply found there by another
 * worker is passed to the owner's handoff ring. With one worker there is
 * nobody to hand off to, and no entry is made.
 *
 * Two connections with one out tuple (a client port reaching two VIPs
 * whose services share a backend address and port) cannot both live:
 * replies would be ambiguous. The second is dropped and counted
 * (DP_DROP_NAT_TUPLE_COLLISION), found in the reverse map or, with one
 * worker, by conn_insert()'s -EEXIST; the first one keeps its entry.
 *
 * The rewrite itself (fwd_nat_rewrite_xmit) is shared with FULL-NAT: in,
 * source -> local address:port (the client itself here), destination ->
 * backend; out, source -> VIP:vport, destination -> client. Checksums are
 * updated incrementally; TTL is decremented.
 */
#include <rte_hash.h>

#include "fwd.h"
#include "neigh.h"
#include "dp_tx.h"

static enum dp_drop
nat_conn_init(struct fwd_worker *fw, struct conn *c, const struct svc *s)
{
	struct conn_key k;

	RTE_SET_USED(s);
	if (fw->fwd->nworkers == 1)
		return DP_PASS; /* every reply reaches the only worker */
	conn_key_of(c, CONN_DIR_OUT, &k);
	/*
	 * A live connection (of any worker) has this out tuple: its replies
	 * could not be told apart, and adding would overwrite its entry.
	 * Two workers adding the same tuple at the same instant both
	 * succeed (rte_hash has no add-if-absent); the later entry wins.
	 */
	if (rte_hash_lookup(fw->fwd->nat_rev, &k) >= 0)
		return DP_DROP_NAT_TUPLE_COLLISION;
	/* without the entry, replies still work when RSS brings them here */
	if (rte_hash_add_key_data(fw->fwd->nat_rev, &k,
				  (void *)(uintptr_t)(fw->index + 1)) == 0)
		c->flags |= CONN_F_REVMAP;
	return DP_PASS;
}

static void
nat_conn_release(struct fwd_worker *fw, struct conn *c)
{
	struct conn_key k;

	if (!(c->flags & CONN_F_REVMAP))
		return;
	conn_key_of(c, CONN_DIR_OUT, &k);
	rte_hash_del_key(fw->fwd->nat_rev, &k);
	c->flags &= (uint16_t)~CONN_F_REVMAP;
}

void
fwd_nat_rewrite_xmit(struct dp_worker *w, struct rte_mbuf *m,
		     const struct pkt_info *pi, const struct conn *c,
		     unsigned int dir)
{
	uint32_t dst = dir == CONN_DIR_IN ? c->baddr : c->caddr, nh;
	struct rte_ipv4_hdr *ip;
	uint16_t port;

	if (fwd_route(w, m, dst, &port, &nh) < 0)
		return;
	ip = fwd_l2_reset(m, pi);
	fwd_ttl_dec(ip);
	if (dir == CONN_DIR_IN)
		fwd_rewrite(ip, (char *)ip + pi->l3_len, pi->proto, c->laddr,
			    c->lport, c->baddr, c->bport);
	else
		fwd_rewrite(ip, (char *)ip + pi->l3_len, pi->proto, c->vaddr,
			    c->vport, c->caddr, c->cport);
	neigh_output(w, m, port, nh);
}

static void
nat_xmit(struct fwd_worker *fw, struct dp_worker *w, struct rte_mbuf *m,
	 const struct pkt_info *pi, struct conn *c, unsigned int dir)
{
	RTE_SET_USED(fw);
	fwd_nat_rewrite_xmit(w, m, pi, c, dir);
}

const struct fwd_mode_ops fwd_nat_ops = {
	.name = "nat",
	.mode = LB_MODE_NAT,
	.replies = true,
	.conn_init = nat_conn_init,
	.conn_release = nat_conn_release,
	.xmit = nat_xmit,
};
