/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * FULL-NAT: both addresses are rewritten. In: client:cport -> VIP:vport
 * becomes laddr:lport -> backend:bport, where laddr is one of the
 * service's local addresses; out, the reverse. Backends need no route
 * back to clients and the load balancer need not be their gateway.
 *
 * Local port choice (see fwd.h): the port is picked so that the reply
 * backend:bport -> laddr:lport lands on this worker: by the Toeplitz
 * hash of the egress port's RSS key and RETA when the device hashes the
 * L4 ports of the protocol, else lport % nworkers == worker. A port is
 * free when this worker's table has no connection with that out tuple;
 * no other worker can own the same tuple, so no shared state is needed.
 * The local address is tried starting from a hash of the client, the
 * next one when FWD_LPORT_TRIES candidates are all taken.
 *
 * TOA (toa.h) with LB_SVC_F_TOA: the client's address and port go into
 * the SYN and into the first ACK of the client (which the toa module
 * reads); the SYN's MSS is lowered by 8 bytes so that segments carrying
 * the option still fit. An option that does not fit (header would exceed
 * 60 bytes, or the frame the MTU) is left out.
 *
 * PROXY protocol v2 (proxy2.h) with LB_SVC_F_PROXY_V2, TCP only: the
 * 28-byte header goes in front of the client's first payload, i.e. into
 * the segment whose sequence number is pp_seq (the ACK number of the
 * backend's SYN-ACK, recorded then), and into every retransmission of a
 * segment starting there; a FIN at pp_seq without payload (a client that
 * closes before saying anything) gets it too, so that the FIN is shifted
 * like the ACKs of it are. A segment that starts before pp_seq and
 * carries data past it is dropped (proxy_overlap): the backend would
 * keep its new part, the client's own bytes where the header belongs.
 * From then on the backend's sequence space for client bytes is
 * PROXY2_V4_LEN ahead of the client's: each client segment after pp_seq
 * gets seq + 28; each ACK number and SACK edge from the backend gets - 28
 * (an edge inside the header maps to pp_seq). All
 * with incremental checksum updates, except for the segments whose
 * payload changes length. The MSS is not touched: when the first segment
 * plus the header would exceed the egress MTU, the segment keeps its size
 * with the header first, and its last 28 payload bytes follow in a
 * segment of their own (with its FIN and PSH); should no mbuf be free for
 * that, they are left out, the backend acknowledges only what it got,
 * and the client sends those bytes again (shifted like any later
 * segment). A SYN's payload (TCP Fast Open) is removed, so that no
 * client byte can precede the header; the client sends it again after
 * the handshake. A service with both TOA and PROXY
 * v2 sends PROXY v2 only.
 *
 * The header waits for the client's first byte: protocols where the
 * server speaks first (SMTP, FTP, MySQL, ...) get it only once the
 * client says something, which a backend that waits for the header
 * before greeting never lets happen; use TOA for those.
 */
#include <string.h>

#include <rte_hash_crc.h>
#include <rte_tcp.h>

#include "csum.h"
#include "fwd.h"
#include "proxy2.h"
#include "route.h"
#include "svc.h"
#include "tcpopt.h"
#include "toa.h"
#include "dp_tx.h"

#define TOA_MSS_DELTA TOA_LEN

static bool
port_free(struct fwd_worker *fw, struct conn *c, uint32_t laddr, uint16_t lport)
{
	struct conn_key k;
	unsigned int dir;

	c->laddr = laddr;
	c->lport = rte_cpu_to_be_16(lport);
	conn_key_of(c, CONN_DIR_OUT, &k);
	return conn_lookup(fw->ct, &k, &dir) == NULL;
}

static enum dp_drop
fnat_conn_init(struct fwd_worker *fw, struct conn *c, const struct svc *s)
{
	const unsigned int nw = fw->fwd->nworkers;
	const uint32_t range = 65536u - FWD_LPORT_MIN;
	const uint32_t slots = range / nw;
	const struct fwd_rss *r;
	uint32_t first, nh;
	uint16_t port;
	bool use_rss;

	if (s->nladdrs == 0)
		return DP_DROP_NO_LOCAL_PORT;
	if ((s->flags & LB_SVC_F_PROXY_V2) && c->proto == IPPROTO_TCP)
		c->flags = (uint16_t)((c->flags & ~CONN_F_TOA) | CONN_F_PP);
	if (route_lookup(fw->fwd->dp->route, c->baddr, &port, &nh) < 0)
		return DP_DROP_NO_ROUTE;
	r = &fw->fwd->rss[port];
	use_rss = r->on && (c->proto == IPPROTO_TCP ? r->l4_tcp : r->l4_udp);
	first = rte_hash_crc_4byte(c->caddr, c->cport) % s->nladdrs;
	for (uint32_t a = 0; a < s->nladdrs; a++) {
		const struct lb_addr *la = &s->laddrs[(first + a) % s->nladdrs];

		if (la->family != AF_INET)
			continue;
		for (uint32_t t = 0; t < FWD_LPORT_TRIES; t++) {
			uint16_t v = fw->lport_next++;
			uint16_t lport;

			if (use_rss) {
				/* RSS decides: any port that hashes to us */
				lport = (uint16_t)(FWD_LPORT_MIN + v % range);
				if ((unsigned int)fwd_rss_queue(
					    r, c->proto, c->baddr, la->v4,
					    c->bport,
					    rte_cpu_to_be_16(lport)) !=
				    fw->index)
					continue;
			} else {
				lport = (uint16_t)(FWD_LPORT_MIN +
						   (v % slots) * nw +
						   fw->index);
			}
			if (port_free(fw, c, la->v4, lport))
				return DP_PASS;
		}
	}
	return DP_DROP_NO_LOCAL_PORT;
}

/* Lower the MSS option of a SYN by TOA_MSS_DELTA. */
static void
mss_clamp(struct rte_tcp_hdr *th, uint16_t hlen)
{
	const uint8_t *o = (const uint8_t *)th;
	unsigned int i = sizeof(*th), at;
	uint16_t old;

	while ((at = tcpopt_next(th, hlen, &i)) != 0) {
		if (o[at] != TCPOPT_MSS || o[at + 1] != 4)
			continue;
		memcpy(&old, &o[at + 2], 2);
		if (rte_be_to_cpu_16(old) <= 536 + TOA_MSS_DELTA)
			return;
		tcpopt_put16(th, at + 2,
			     (uint16_t)(rte_be_to_cpu_16(old) - TOA_MSS_DELTA));
		return;
	}
}

/*
 * Insert the TOA option after the TCP options of m (pi updated). False
 * when it does not fit.
 */
static bool
toa_insert(struct rte_mbuf *m, struct pkt_info *pi, const struct conn *c,
	   uint16_t mtu)
{
	uint16_t l4off = (uint16_t)(pi->l2_len + pi->l3_len);
	struct rte_tcp_hdr *th = pkt_at(m, struct rte_tcp_hdr *, l4off);
	uint16_t hlen = (uint16_t)((th->data_off >> 4) * 4);
	uint16_t tcplen = (uint16_t)(pi->ip_len - pi->l3_len), old, new;
	struct rte_ipv4_hdr *ip;
	struct toa_opt *opt;
	char *p;

	if (hlen + TOA_LEN > 60 || pi->ip_len + TOA_LEN > mtu ||
	    rte_pktmbuf_data_len(m) < l4off + hlen)
		return false;
	p = rte_pktmbuf_prepend(m, TOA_LEN);
	if (p == NULL)
		return false;
	memmove(p, p + TOA_LEN, (size_t)l4off + hlen);
	ip = (struct rte_ipv4_hdr *)(p + pi->l2_len);
	th = (struct rte_tcp_hdr *)(p + l4off);
	opt = (struct toa_opt *)(p + l4off + hlen);
	*opt = (struct toa_opt){ .kind = TOA_KIND,
				 .len = TOA_LEN,
				 .port = c->cport,
				 .addr = c->caddr };
	old = ip->total_length;
	new = rte_cpu_to_be_16((uint16_t)(pi->ip_len + TOA_LEN));
	csum_replace2(CSUM_FIELD(ip, hdr_checksum), old, new);
	ip->total_length = new;
	/* pseudo-header length, data offset, the option's own words */
	csum_replace2(CSUM_FIELD(th, cksum), rte_cpu_to_be_16(tcplen),
		      rte_cpu_to_be_16((uint16_t)(tcplen + TOA_LEN)));
	memcpy(&old, &th->data_off, 2);
	th->data_off = (uint8_t)(th->data_off + ((TOA_LEN / 4) << 4));
	memcpy(&new, &th->data_off, 2);
	csum_replace2(CSUM_FIELD(th, cksum), old, new);
	csum_add(CSUM_FIELD(th, cksum), csum_add_bytes(0, opt, TOA_LEN));
	pi->ip_len = (uint16_t)(pi->ip_len + TOA_LEN);
	pi->l4_len = (uint16_t)(pi->l4_len + TOA_LEN);
	return true;
}

/* ---- PROXY protocol v2 ------------------------------------------------ */

/* Backend sequence number v (an ACK or SACK edge) in the client's space. */
static uint32_t
pp_to_client(const struct conn *c, uint32_t v)
{
	uint32_t d = v - c->pp_seq;

	if ((int32_t)d <= 0)
		return v;
	if (d < PROXY2_V4_LEN)
		return c->pp_seq; /* only part of the header acknowledged */
	return v - PROXY2_V4_LEN;
}

/* A backend segment of c: its ACK number and SACK edges back to the
 * client's sequence space. */
static void
pp_out(struct conn *c, struct rte_tcp_hdr *th, uint16_t hlen)
{
	const uint8_t *o = (const uint8_t *)th;
	unsigned int i = sizeof(*th), at;

	if ((th->tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) ==
		    (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG) &&
	    !(c->flags & CONN_F_PP_SEQ)) {
		/* t_syn was read by the tracker before: the union is ours */
		c->pp_seq = rte_be_to_cpu_32(th->recv_ack);
		c->flags = (uint16_t)((c->flags & ~CONN_F_RTT) | CONN_F_PP_SEQ);
		return;
	}
	if (!(c->flags & CONN_F_PP_SEQ) || !(th->tcp_flags & RTE_TCP_ACK_FLAG))
		return;
	tcpopt_put32(th, offsetof(struct rte_tcp_hdr, recv_ack),
		     pp_to_client(c, rte_be_to_cpu_32(th->recv_ack)));
	while ((at = tcpopt_next(th, hlen, &i)) != 0) {
		if (o[at] != TCPOPT_SACK || o[at + 1] < 10 ||
		    (o[at + 1] - 2) % 8 != 0)
			continue;
		for (unsigned int e = at + 2; e < at + o[at + 1]; e += 4) {
			uint32_t v;

			memcpy(&v, o + e, 4);
			tcpopt_put32(th, e,
				     pp_to_client(c, rte_be_to_cpu_32(v)));
		}
	}
}

/*
 * Make m's IPv4 total length new_len (<= what the frame holds; pi
 * updated, fwd_l2_reset() cuts the rest) and compute its TCP checksum
 * from scratch.
 */
static void
set_len_recsum(struct rte_mbuf *m, struct pkt_info *pi, struct rte_ipv4_hdr *ip,
	       struct rte_tcp_hdr *th, uint16_t new_len)
{
	uint16_t old = ip->total_length, new = rte_cpu_to_be_16(new_len);

	csum_replace2(CSUM_FIELD(ip, hdr_checksum), old, new);
	ip->total_length = new;
	th->cksum = 0;
	th->cksum = rte_ipv4_udptcp_cksum_mbuf(
		m, ip, (uint16_t)(pi->l2_len + pi->l3_len));
	pi->ip_len = new_len;
}

/*
 * A segment of its own for the last PROXY2_V4_LEN of the plen payload
 * bytes of m (a client segment at pp_seq), as the backend must see it:
 * m's headers, sequence number pp_seq + plen, checksums from scratch;
 * *tpi describes it. NULL when no mbuf is free.
 */
static struct rte_mbuf *
pp_tail(struct rte_mbuf *m, const struct pkt_info *pi, const struct conn *c,
	uint16_t plen, struct pkt_info *tpi)
{
	uint16_t hdrs = (uint16_t)(pi->l2_len + pi->l3_len + pi->l4_len);
	struct rte_mbuf *t = rte_pktmbuf_alloc(m->pool);
	struct rte_ipv4_hdr *ip;
	struct rte_tcp_hdr *th;
	const void *src;
	char *p;

	if (t == NULL)
		return NULL;
	p = rte_pktmbuf_append(t, (uint16_t)(hdrs + PROXY2_V4_LEN));
	if (p == NULL) {
		rte_pktmbuf_free(t);
		return NULL;
	}
	memcpy(p, rte_pktmbuf_mtod(m, char *), hdrs);
	src = rte_pktmbuf_read(m, (uint32_t)hdrs + plen - PROXY2_V4_LEN,
			       PROXY2_V4_LEN, p + hdrs);
	if (src == NULL) {
		rte_pktmbuf_free(t);
		return NULL;
	}
	if (src != p + hdrs)
		memcpy(p + hdrs, src, PROXY2_V4_LEN);
	t->port = m->port;
	*tpi = *pi;
	tpi->ip_len = (uint16_t)(pi->l3_len + pi->l4_len + PROXY2_V4_LEN);
	ip = (struct rte_ipv4_hdr *)(p + pi->l2_len);
	ip->total_length = rte_cpu_to_be_16(tpi->ip_len);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	th = (struct rte_tcp_hdr *)(p + pi->l2_len + pi->l3_len);
	th->sent_seq = rte_cpu_to_be_32(c->pp_seq + plen);
	th->cksum = 0;
	th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	return t;
}

/*
 * Put the PROXY v2 header of c between the TCP header and the payload of
 * m (plen bytes; pi updated). When the frame would exceed mtu, it keeps
 * its size and its last PROXY2_V4_LEN payload bytes move to *tail (pi
 * in *tpi), which carries the FIN and PSH flags; without a free mbuf
 * they are left out (the client sends them again, as the backend does
 * not acknowledge them). Returns DP_PASS, or the drop reason (m
 * untouched).
 */
static enum dp_drop
pp_insert(struct rte_mbuf *m, struct pkt_info *pi, const struct conn *c,
	  uint16_t plen, uint16_t mtu, struct rte_mbuf **tail,
	  struct pkt_info *tpi)
{
	uint16_t l4off = (uint16_t)(pi->l2_len + pi->l3_len);
	uint16_t hlen = pi->l4_len,
		 tcplen = (uint16_t)(pi->ip_len - pi->l3_len);
	bool cut = pi->ip_len + PROXY2_V4_LEN > mtu;
	struct rte_ipv4_hdr *ip;
	struct rte_tcp_hdr *th;
	uint16_t old, new;
	char *p, *h;

	if (cut && plen <= PROXY2_V4_LEN)
		return DP_DROP_TOO_BIG;
	if (rte_pktmbuf_headroom(m) < PROXY2_V4_LEN)
		return DP_DROP_NO_HEADROOM;
	if (cut)
		*tail = pp_tail(m, pi, c, plen, tpi);
	p = rte_pktmbuf_prepend(m, PROXY2_V4_LEN);
	memmove(p, p + PROXY2_V4_LEN, (size_t)l4off + hlen);
	ip = (struct rte_ipv4_hdr *)(p + pi->l2_len);
	th = (struct rte_tcp_hdr *)(p + l4off);
	h = p + l4off + hlen;
	proxy2_build_v4(h, c->caddr, c->cport, c->vaddr, c->vport);
	if (cut) {
		/* the stream goes on after this segment */
		th->tcp_flags &=
			(uint8_t) ~(RTE_TCP_FIN_FLAG | RTE_TCP_PSH_FLAG);
		set_len_recsum(m, pi, ip, th, pi->ip_len);
		return DP_PASS;
	}
	old = ip->total_length;
	new = rte_cpu_to_be_16((uint16_t)(pi->ip_len + PROXY2_V4_LEN));
	csum_replace2(CSUM_FIELD(ip, hdr_checksum), old, new);
	ip->total_length = new;
	/* pseudo-header length, then the header's words (hlen is even, so
	 * the payload keeps its alignment) */
	csum_replace2(CSUM_FIELD(th, cksum), rte_cpu_to_be_16(tcplen),
		      rte_cpu_to_be_16((uint16_t)(tcplen + PROXY2_V4_LEN)));
	csum_add(CSUM_FIELD(th, cksum), csum_add_bytes(0, h, PROXY2_V4_LEN));
	pi->ip_len = (uint16_t)(pi->ip_len + PROXY2_V4_LEN);
	return DP_PASS;
}

/*
 * A client segment of c (pi updated): drop a SYN's payload, put the
 * header in front of the first payload, shift later sequence numbers.
 * Returns DP_PASS, or the drop reason; *tail gets a second segment to send
 * after m when the header did not fit in m (pp_insert()).
 */
static enum dp_drop
pp_in(struct fwd_worker *fw, struct dp_worker *w, struct rte_mbuf *m,
      struct pkt_info *pi, struct conn *c, struct rte_mbuf **tail,
      struct pkt_info *tpi)
{
	uint16_t l4off = (uint16_t)(pi->l2_len + pi->l3_len);
	struct rte_tcp_hdr *th = pkt_at(m, struct rte_tcp_hdr *, l4off);
	uint16_t plen = (uint16_t)(pi->ip_len - pi->l3_len - pi->l4_len);
	uint8_t f = th->tcp_flags;
	uint32_t seq, d, nh;
	uint16_t port;

	if (f & RTE_TCP_SYN_FLAG) {
		if (plen > 0 && !(f & RTE_TCP_ACK_FLAG))
			set_len_recsum(
				m, pi,
				pkt_at(m, struct rte_ipv4_hdr *, pi->l2_len),
				th, (uint16_t)(pi->l3_len + pi->l4_len));
		return DP_PASS;
	}
	if (!(c->flags & CONN_F_PP_SEQ))
		/* no SYN-ACK went back: no payload may pass yet */
		return plen > 0 ? DP_DROP_NO_CONN : DP_PASS;
	seq = rte_be_to_cpu_32(th->sent_seq);
	d = seq - c->pp_seq;
	if ((int32_t)d < 0 && (int32_t)(d + plen) > 0)
		/* old bytes, then new ones where the header belongs: the
		 * backend would keep the new part */
		return DP_DROP_PROXY_OVERLAP;
	if (d == 0 && (plen > 0 || (f & RTE_TCP_FIN_FLAG)) &&
	    !(f & RTE_TCP_RST_FLAG)) {
		/* the first byte, or a FIN without one: the header goes
		 * first, so that the FIN sits after it like any later
		 * segment */
		if (route_lookup(fw->fwd->dp->route, c->baddr, &port, &nh) < 0)
			return DP_DROP_NO_ROUTE;
		return pp_insert(m, pi, c, plen, w->dp->ports[port]->mtu, tail,
				 tpi);
	}
	if ((int32_t)d > 0)
		tcpopt_put32(th, offsetof(struct rte_tcp_hdr, sent_seq),
			     seq + PROXY2_V4_LEN);
	return DP_PASS;
}

static void
fnat_xmit(struct fwd_worker *fw, struct dp_worker *w, struct rte_mbuf *m,
	  const struct pkt_info *pi, struct conn *c, unsigned int dir)
{
	struct pkt_info p = *pi;
	struct rte_tcp_hdr *th;
	uint16_t port;
	uint32_t nh;
	uint8_t f;

	if (dir == CONN_DIR_IN && (c->flags & CONN_F_TOA) &&
	    pi->proto == IPPROTO_TCP &&
	    route_lookup(fw->fwd->dp->route, c->baddr, &port, &nh) == 0) {
		th = pkt_at(m, struct rte_tcp_hdr *, pi->l2_len + pi->l3_len);
		f = th->tcp_flags;
		if ((f & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) ==
		    RTE_TCP_SYN_FLAG) {
			mss_clamp(th, (uint16_t)((th->data_off >> 4) * 4));
			toa_insert(m, &p, c, w->dp->ports[port]->mtu);
		} else if (!(c->flags & CONN_F_TOA_DONE) &&
			   (f & (RTE_TCP_SYN_FLAG | RTE_TCP_RST_FLAG |
				 RTE_TCP_ACK_FLAG)) == RTE_TCP_ACK_FLAG) {
			toa_insert(m, &p, c, w->dp->ports[port]->mtu);
			c->flags |= CONN_F_TOA_DONE;
		}
	}
	if ((c->flags & CONN_F_PP) && pi->proto == IPPROTO_TCP) {
		uint16_t l4off = (uint16_t)(p.l2_len + p.l3_len);
		struct rte_mbuf *tail = NULL;
		struct pkt_info tp;
		enum dp_drop why;

		if (p.flags & PKT_F_FRAG) {
			/* its other fragments are dropped anyway */
			dp_worker_drop(w, m, DP_DROP_FRAGMENT);
			return;
		}
		if (rte_pktmbuf_data_len(m) < l4off + p.l4_len) {
			/* headers over several segments: not rewritten here */
			dp_worker_drop(w, m, DP_DROP_TRUNCATED);
			return;
		}
		if (dir == CONN_DIR_OUT) {
			pp_out(c, pkt_at(m, struct rte_tcp_hdr *, l4off),
			       p.l4_len);
		} else {
			why = pp_in(fw, w, m, &p, c, &tail, &tp);
			if (why != DP_PASS) {
				dp_worker_drop(w, m, why);
				return;
			}
		}
		fwd_nat_rewrite_xmit(w, m, &p, c, dir);
		if (tail != NULL)
			fwd_nat_rewrite_xmit(w, tail, &tp, c, dir);
		return;
	}
	fwd_nat_rewrite_xmit(w, m, &p, c, dir);
}

const struct fwd_mode_ops fwd_fnat_ops = {
	.name = "fnat",
	.mode = LB_MODE_FNAT,
	.replies = true,
	.conn_init = fnat_conn_init,
	.xmit = fnat_xmit,
};
