/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SYN proxy: cookies, their secrets, the packets the proxy makes and
 * the sequence shift of the connections it opened. See synproxy.h.
 */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_random.h>
#include <rte_tcp.h>

#include "edgelb/lbmsg.h"
#include "dp_tx.h"
#include "port.h"
#include "synproxy.h"
#include "tcpopt.h"

const uint16_t synproxy_mss[SYNPROXY_MSS_N] = { 536,  1200, 1360, 1400,
						1440, 1452, 1460, 8960 };

#define TCP_FLAGS_SYNACK (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)

/* ---- SipHash-2-4 over 64-bit words -------------------------------------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = ROTL(v1, 13);                                             \
		v1 ^= v0;                                                      \
		v0 = ROTL(v0, 32);                                             \
		v2 += v3;                                                      \
		v3 = ROTL(v3, 16);                                             \
		v3 ^= v2;                                                      \
		v0 += v3;                                                      \
		v3 = ROTL(v3, 21);                                             \
		v3 ^= v0;                                                      \
		v2 += v1;                                                      \
		v1 = ROTL(v1, 17);                                             \
		v1 ^= v2;                                                      \
		v2 = ROTL(v2, 32);                                             \
	} while (0)

/* SipHash-2-4 (Aumasson, Bernstein 2012) of n little-endian words. */
static uint64_t
siphash(const struct synproxy_key *k, const uint64_t *m, unsigned int n)
{
	uint64_t v0 = k->k0 ^ 0x736f6d6570736575ull;
	uint64_t v1 = k->k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k->k0 ^ 0x6c7967656e657261ull;
	uint64_t v3 = k->k1 ^ 0x7465646279746573ull;
	uint64_t b = (uint64_t)(n * 8) << 56;

	for (unsigned int i = 0; i < n; i++) {
		v3 ^= m[i];
		SIPROUND;
		SIPROUND;
		v0 ^= m[i];
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- cookies ------------------------------------------------------------ */

static unsigned int
mss_index(uint16_t mss)
{
	unsigned int i = 0;

	while (i + 1 < SYNPROXY_MSS_N && synproxy_mss[i + 1] <= mss)
		i++;
	return i;
}

/* The cookie's low 8 bits for o. */
static uint8_t
opts_bits(const struct synproxy_opts *o)
{
	return (uint8_t)(mss_index(o->mss) | (uint32_t)(o->wscale & 0xf) << 3 |
			 (uint32_t)(o->sack ? 1 : 0) << 7);
}

/* o from a cookie's low 8 bits. */
static void
bits_opts(uint8_t b, struct synproxy_opts *o)
{
	o->mss = synproxy_mss[b & 7];
	o->wscale = (uint8_t)(b >> 3 & 0xf);
	o->sack = (b >> 7 & 1) != 0;
}

uint32_t
synproxy_cookie(const struct synproxy_key *k, const struct synproxy_tuple *t,
		uint32_t isn, uint32_t period, const struct synproxy_opts *o)
{
	uint32_t data = opts_bits(o);
	uint64_t m[3] = {
		(uint64_t)t->saddr | (uint64_t)t->daddr << 32,
		(uint64_t)t->sport | (uint64_t)t->dport << 16 |
			(uint64_t)isn << 32,
		(uint64_t)period | (uint64_t)data << 32,
	};

	return ((uint32_t)siphash(k, m, 3) & 0xffffff00u) | data;
}

const struct synproxy_key *
synproxy_key_for(struct synproxy_worker *sp, uint32_t p)
{
	unsigned int s = p & 1;

	if (!sp->key_set[s] || sp->key_period[s] != p) {
		/* the slot of the period before last: a fresh secret */
		sp->key[s].k0 = rte_rand();
		sp->key[s].k1 = rte_rand();
		sp->key_period[s] = p;
		sp->key_set[s] = true;
	}
	return &sp->key[s];
}

int
synproxy_cookie_check(const struct synproxy_worker *sp, uint32_t now,
		      const struct synproxy_tuple *t, uint32_t isn,
		      uint32_t cookie, struct synproxy_opts *o)
{
	uint32_t p = synproxy_period(now);

	bits_opts((uint8_t)cookie, o);
	if (o->wscale > 14 && o->wscale != SYNPROXY_NO_WSCALE)
		return -EINVAL;
	for (uint32_t n = 0; n < 2 && n <= p; n++) {
		uint32_t q = p - n;
		unsigned int s = q & 1;

		if (sp->key_set[s] && sp->key_period[s] == q &&
		    synproxy_cookie(&sp->key[s], t, isn, q, o) == cookie)
			return 0;
	}
	return -EINVAL;
}

bool
synproxy_cookies_live(const struct synproxy_worker *sp, uint32_t now)
{
	uint32_t p = synproxy_period(now);

	for (unsigned int s = 0; s < 2; s++)
		if (sp->key_set[s] &&
		    (sp->key_period[s] == p || sp->key_period[s] + 1 == p))
			return true;
	return false;
}

void
synproxy_syn_opts(const struct rte_tcp_hdr *th, unsigned int hlen,
		  struct synproxy_opts *o)
{
	const uint8_t *b = (const uint8_t *)th;
	unsigned int i = sizeof(*th), at;
	uint16_t mss = 536;

	o->wscale = SYNPROXY_NO_WSCALE;
	o->sack = false;
	while ((at = tcpopt_next(th, hlen, &i)) != 0) {
		if (b[at] == TCPOPT_MSS && b[at + 1] == 4)
			mss = (uint16_t)(b[at + 2] << 8 | b[at + 3]);
		else if (b[at] == TCPOPT_WSCALE && b[at + 1] == 3)
			o->wscale = RTE_MIN(b[at + 2], 14);
		else if (b[at] == TCPOPT_SACK_PERM && b[at + 1] == 2)
			o->sack = true;
	}
	o->mss = synproxy_mss[mss_index(mss)];
}

/* ---- auto mode ----------------------------------------------------------- */

bool
synproxy_on(struct dp_worker *w, struct synproxy_worker *sp, uint32_t flags,
	    uint8_t mode, bool syn, uint32_t used, uint32_t size)
{
	const struct dpconf *cf = &w->dp->conf;
	uint64_t now, hz;
	bool on;

	if ((flags & LB_SVC_F_SYNPROXY_OFF) ||
	    (mode != LB_MODE_NAT && mode != LB_MODE_FNAT))
		return false;
	if (flags & LB_SVC_F_SYNPROXY_ON)
		return true;
	if (syn) {
		now = rte_rdtsc();
		hz = rte_get_tsc_hz();
		if (now - sp->win_start >= hz) {
			/* the window just ended counts only if it was the
			 * last second */
			sp->last_syns =
				now - sp->win_start < 2 * hz ? sp->win_syns : 0;
			sp->win_syns = 0;
			sp->win_start = now;
		}
		sp->win_syns++;
	}
	on = (cf->synproxy_syn_rate != 0 &&
	      (sp->win_syns > cf->synproxy_syn_rate ||
	       sp->last_syns > cf->synproxy_syn_rate)) ||
	     (cf->synproxy_fill != 0 &&
	      (uint64_t)used * 100 >= (uint64_t)size * cf->synproxy_fill);
	if (on && !sp->auto_on)
		w->sp_st.auto_on++;
	sp->auto_on = on;
	return on;
}

/* ---- packets ---------------------------------------------------------------- */

/* Write the options of a handshake segment at o: MSS, SACK permitted
 * when sack, window scale ws unless SYNPROXY_NO_WSCALE. Returns their
 * length (a multiple of 4). */
static unsigned int
put_opts(uint8_t *o, uint16_t mss, bool sack, uint8_t ws)
{
	unsigned int n = 0;

	o[n++] = TCPOPT_MSS;
	o[n++] = 4;
	o[n++] = (uint8_t)(mss >> 8);
	o[n++] = (uint8_t)mss;
	if (sack) {
		o[n++] = TCPOPT_NOP;
		o[n++] = TCPOPT_NOP;
		o[n++] = TCPOPT_SACK_PERM;
		o[n++] = 2;
	}
	if (ws != SYNPROXY_NO_WSCALE) {
		o[n++] = TCPOPT_NOP;
		o[n++] = TCPOPT_WSCALE;
		o[n++] = 3;
		o[n++] = ws;
	}
	return n;
}

/*
 * Fill the IPv4 and TCP headers at ip (room for 20 + 20 + 12 bytes) of
 * a segment without payload; optlen option bytes already sit after the
 * TCP header. Checksums computed.
 */
static void
put_hdrs(struct rte_ipv4_hdr *ip, uint32_t saddr, uint32_t daddr,
	 uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
	 uint8_t flags, uint16_t win, unsigned int optlen)
{
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
	uint16_t hlen = (uint16_t)(sizeof(*th) + optlen);

	*ip = (struct rte_ipv4_hdr){
		.version_ihl = 0x45,
		.total_length =
			rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + hlen)),
		.fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG),
		.time_to_live = 64,
		.next_proto_id = IPPROTO_TCP,
		.src_addr = saddr,
		.dst_addr = daddr,
	};
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	th->src_port = sport;
	th->dst_port = dport;
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = rte_cpu_to_be_32(ack);
	th->data_off = (uint8_t)(hlen / 4 << 4);
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16(win);
	th->cksum = 0;
	th->tcp_urp = 0;
	th->cksum = rte_ipv4_udptcp_cksum(ip, th);
}

/*
 * A new frame from pool: an Ethernet header (the route's neighbour
 * fills its addresses) and a segment of c's client from client to VIP;
 * *pi describes it. NULL when no mbuf is free.
 */
static struct rte_mbuf *
client_seg(struct rte_mempool *pool, const struct conn *c, uint32_t seq,
	   uint32_t ack, uint8_t flags, uint16_t win, const uint8_t *opts,
	   unsigned int optlen, struct pkt_info *pi)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	unsigned int len = sizeof(struct rte_ether_hdr) +
			   sizeof(struct rte_ipv4_hdr) +
			   sizeof(struct rte_tcp_hdr) + optlen;
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;

	if (m == NULL)
		return NULL;
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, (uint16_t)len);
	if (eth == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memset(eth, 0, sizeof(*eth));
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	if (optlen > 0)
		memcpy((uint8_t *)(ip + 1) + sizeof(struct rte_tcp_hdr), opts,
		       optlen);
	put_hdrs(ip, c->caddr, c->vaddr, c->cport, c->vport, seq, ack, flags,
		 win, optlen);
	*pi = (struct pkt_info){
		.l3 = PKT_L3_IPV4,
		.proto = IPPROTO_TCP,
		.ttl = 64,
		.flags = PKT_F_L4,
		.l2_len = sizeof(*eth),
		.l3_len = sizeof(*ip),
		.l4_len = (uint16_t)(sizeof(struct rte_tcp_hdr) + optlen),
		.ip_len = (uint16_t)(len - sizeof(*eth)),
		.sport = rte_be_to_cpu_16(c->cport),
		.dport = rte_be_to_cpu_16(c->vport),
		.saddr = c->caddr,
		.daddr = c->vaddr,
	};
	return m;
}

void
synproxy_syn(struct dp_worker *w, struct synproxy_worker *sp, uint32_t now,
	     struct rte_mbuf *m, uint16_t port, const struct pkt_info *pi,
	     uint16_t bmss)
{
	uint16_t l4off = (uint16_t)(pi->l2_len + pi->l3_len);
	struct rte_tcp_hdr *th = pkt_at(m, struct rte_tcp_hdr *, l4off);
	struct synproxy_tuple t = {
		.saddr = pi->saddr,
		.daddr = pi->daddr,
		.sport = th->src_port,
		.dport = th->dst_port,
	};
	uint32_t isn = rte_be_to_cpu_32(th->sent_seq), p, cookie;
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	struct synproxy_opts o;
	uint8_t opts[12];
	unsigned int n;

	if (m->nb_segs != 1 || rte_pktmbuf_data_len(m) < l4off + pi->l4_len) {
		dp_worker_drop(w, m, DP_DROP_TRUNCATED);
		return;
	}
	synproxy_syn_opts(th, pi->l4_len, &o);
	p = synproxy_period(now);
	cookie = synproxy_cookie(synproxy_key_for(sp, p), &t, isn, p, &o);
	n = put_opts(opts, bmss, o.sack,
		     o.wscale != SYNPROXY_NO_WSCALE ? SYNPROXY_WSCALE
						    : SYNPROXY_NO_WSCALE);
	/* the answer in place: the frame's L2 header (VLAN tag kept), new
	 * IPv4 and TCP headers, no payload */
	rte_pktmbuf_data_len(m) = pi->l2_len;
	rte_pktmbuf_pkt_len(m) = pi->l2_len;
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_append(
		m, (uint16_t)(sizeof(*ip) + sizeof(*th) + n));
	if (ip == NULL) {
		dp_worker_drop(w, m, DP_DROP_NO_HEADROOM);
		return;
	}
	memcpy((uint8_t *)(ip + 1) + sizeof(*th), opts, n);
	put_hdrs(ip, t.daddr, t.saddr, t.dport, t.sport, cookie, isn + 1,
		 TCP_FLAGS_SYNACK, UINT16_MAX, n);
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(&w->dp->ports[port]->mac, &eth->src_addr);
	w->sp_st.cookies_sent++;
	dp_worker_tx(w, port, m);
}

enum dp_drop
synproxy_ack(struct dp_worker *w, const struct synproxy_worker *sp,
	     uint32_t now, struct rte_mbuf *m, const struct pkt_info *pi,
	     struct synproxy_opts *o)
{
	const struct rte_tcp_hdr *th =
		pkt_at(m, struct rte_tcp_hdr *, pi->l2_len + pi->l3_len);
	struct synproxy_tuple t = {
		.saddr = pi->saddr,
		.daddr = pi->daddr,
		.sport = th->src_port,
		.dport = th->dst_port,
	};

	if (synproxy_cookie_check(sp, now, &t,
				  rte_be_to_cpu_32(th->sent_seq) - 1,
				  rte_be_to_cpu_32(th->recv_ack) - 1, o) < 0) {
		w->sp_st.cookies_bad++;
		return DP_DROP_SYNPROXY_BAD_COOKIE;
	}
	w->sp_st.cookies_valid++;
	return DP_PASS;
}

/* c's slot in spw's held table. */
static unsigned int
held_slot(const struct conn *c)
{
	return (unsigned int)((uintptr_t)c / sizeof(*c)) & (SYNPROXY_HELD - 1);
}

/* Hold m for c: false when c's slot is taken. */
static bool
hold(struct dp_worker *w, struct synproxy_worker *spw, struct conn *c,
     struct rte_mbuf *m)
{
	unsigned int i = held_slot(c);

	if (spw->held[i] != NULL)
		return false;
	spw->held[i] = m;
	spw->held_by[i] = c;
	c->flags |= CONN_F_SP_HELD;
	w->sp_st.held++;
	return true;
}

/* The segment c holds, taken out of the table, or NULL. */
static struct rte_mbuf *
unhold(struct synproxy_worker *spw, struct conn *c)
{
	unsigned int i = held_slot(c);
	struct rte_mbuf *m;

	if (!(c->flags & CONN_F_SP_HELD) || spw->held_by[i] != c)
		return NULL;
	m = spw->held[i];
	spw->held[i] = NULL;
	spw->held_by[i] = NULL;
	c->flags &= (uint16_t)~CONN_F_SP_HELD;
	return m;
}

struct rte_mbuf *
synproxy_open(struct dp_worker *w, struct synproxy_worker *spw,
	      struct conn_sp *sp, struct conn *c, struct rte_mbuf *m,
	      const struct pkt_info *pi, const struct synproxy_opts *o,
	      struct pkt_info *spi)
{
	const struct rte_tcp_hdr *th =
		pkt_at(m, struct rte_tcp_hdr *, pi->l2_len + pi->l3_len);
	uint16_t plen = (uint16_t)(pi->ip_len - pi->l3_len - pi->l4_len);
	uint32_t win = rte_be_to_cpu_16(th->rx_win);
	struct rte_mbuf *s;
	uint8_t opts[12];
	unsigned int n;

	*sp = (struct conn_sp){
		.seq = rte_be_to_cpu_32(th->recv_ack) - 1,
		.win = (uint16_t)win,
		.opts = opts_bits(o),
	};
	/* a SYN's window is never scaled */
	if (o->wscale != SYNPROXY_NO_WSCALE)
		win = RTE_MIN(win << o->wscale, (uint32_t)UINT16_MAX);
	n = put_opts(opts, o->mss, o->sack, o->wscale);
	s = client_seg(m->pool, c, rte_be_to_cpu_32(th->sent_seq) - 1, 0,
		       RTE_TCP_SYN_FLAG, (uint16_t)win, opts, n, spi);
	if (s == NULL)
		return NULL;
	c->flags |= CONN_F_SP;
	w->sp_st.backend_syns++;
	if (!((plen > 0 || (th->tcp_flags & RTE_TCP_FIN_FLAG)) &&
	      hold(w, spw, c, m)))
		rte_pktmbuf_free(m);
	return s;
}

enum dp_drop
synproxy_pending(struct dp_worker *w, struct synproxy_worker *spw,
		 struct conn *c, struct rte_mbuf *m, const struct pkt_info *pi,
		 bool *held)
{
	const struct rte_tcp_hdr *th =
		pkt_at(m, struct rte_tcp_hdr *, pi->l2_len + pi->l3_len);
	uint16_t plen = (uint16_t)(pi->ip_len - pi->l3_len - pi->l4_len);

	*held = false;
	if (th->tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_RST_FLAG))
		return DP_PASS;
	if ((plen > 0 || (th->tcp_flags & RTE_TCP_FIN_FLAG)) &&
	    !(c->flags & CONN_F_SP_HELD) && hold(w, spw, c, m)) {
		*held = true;
		return DP_PASS;
	}
	return DP_DROP_SYNPROXY_PENDING;
}

enum dp_drop
synproxy_backend(struct dp_worker *w, struct synproxy_worker *spw,
		 struct conn_sp *sp, struct conn *c, struct rte_mbuf *m,
		 const struct pkt_info *pi, struct rte_mbuf **ack,
		 struct pkt_info *api, struct rte_mbuf **held,
		 struct pkt_info *hpi)
{
	struct rte_tcp_hdr *th =
		pkt_at(m, struct rte_tcp_hdr *, pi->l2_len + pi->l3_len);
	const uint8_t *b = (const uint8_t *)th;
	unsigned int i = sizeof(*th), at;
	struct synproxy_opts o;
	bool cl, bl = false;
	uint8_t wsb = 0;

	*ack = NULL;
	*held = NULL;
	if (rte_pktmbuf_data_len(m) < pi->l2_len + pi->l3_len + pi->l4_len)
		return DP_DROP_TRUNCATED;
	if (th->tcp_flags & RTE_TCP_RST_FLAG) {
		/* where the client's sequence space is */
		tcpopt_put32(th, offsetof(struct rte_tcp_hdr, sent_seq),
			     sp->seq + 1);
		return DP_PASS;
	}
	if ((th->tcp_flags & TCP_FLAGS_SYNACK) != TCP_FLAGS_SYNACK)
		return DP_DROP_SYNPROXY_PENDING;
	while ((at = tcpopt_next(th, pi->l4_len, &i)) != 0)
		if (b[at] == TCPOPT_WSCALE && b[at + 1] == 3) {
			bl = true;
			wsb = RTE_MIN(b[at + 2], 14);
		}
	/* the client's next sequence number is what the backend acknowledges
	 * (its SYN carried the client's ISN) */
	*ack = client_seg(m->pool, c, rte_be_to_cpu_32(th->recv_ack),
			  sp->seq + 1, RTE_TCP_ACK_FLAG, sp->win, NULL, 0, api);
	if (*ack == NULL)
		return DP_DROP_SYNPROXY_NO_MBUF;
	/* scaling is on for a side when both of its ends offered it: the
	 * client's when it did (we did then), the backend's when the client
	 * did (its SYN said so) and the backend too */
	bits_opts(sp->opts, &o);
	cl = o.wscale != SYNPROXY_NO_WSCALE;
	bl = bl && cl;
	sp->seq = rte_be_to_cpu_32(th->sent_seq) - sp->seq;
	sp->win_in = (int8_t)(bl ? 0 : cl ? o.wscale : 0);
	sp->win_out = (int8_t)((bl ? wsb : 0) - (cl ? SYNPROXY_WSCALE : 0));
	c->flags |= CONN_F_SP_DONE;
	w->sp_st.backend_done++;
	*held = unhold(spw, c);
	if (*held != NULL && pkt_parse(*held, hpi) != DP_PASS) {
		rte_pktmbuf_free(*held);
		*held = NULL;
	}
	return DP_PASS;
}

/* Rescale the window of th by 2^shift (shift < 0: down). */
static void
rescale(struct rte_tcp_hdr *th, int shift)
{
	uint32_t w = rte_be_to_cpu_16(th->rx_win), v;

	if (shift == 0)
		return;
	v = shift > 0 ? RTE_MIN(w << shift, (uint32_t)UINT16_MAX) : w >> -shift;
	if (v == 0 && w != 0)
		v = 1; /* not a zero window where there was none */
	tcpopt_put16(th, offsetof(struct rte_tcp_hdr, rx_win), (uint16_t)v);
}

void
synproxy_shift(const struct conn_sp *sp, struct rte_mbuf *m,
	       const struct pkt_info *pi, unsigned int dir)
{
	uint16_t l4off = (uint16_t)(pi->l2_len + pi->l3_len);
	struct rte_tcp_hdr *th = pkt_at(m, struct rte_tcp_hdr *, l4off);
	const uint8_t *b = (const uint8_t *)th;
	unsigned int i = sizeof(*th), at;

	if (rte_pktmbuf_data_len(m) < l4off + pi->l4_len)
		return; /* headers over several segments: not ours to mend */
	if (dir == CONN_DIR_OUT) {
		tcpopt_put32(th, offsetof(struct rte_tcp_hdr, sent_seq),
			     rte_be_to_cpu_32(th->sent_seq) - sp->seq);
		if (!(th->tcp_flags & RTE_TCP_SYN_FLAG))
			rescale(th, sp->win_out);
		return;
	}
	if (th->tcp_flags & RTE_TCP_ACK_FLAG)
		tcpopt_put32(th, offsetof(struct rte_tcp_hdr, recv_ack),
			     rte_be_to_cpu_32(th->recv_ack) + sp->seq);
	if (!(th->tcp_flags & RTE_TCP_SYN_FLAG))
		rescale(th, sp->win_in);
	while ((at = tcpopt_next(th, pi->l4_len, &i)) != 0) {
		if (b[at] != TCPOPT_SACK || b[at + 1] < 10 ||
		    (b[at + 1] - 2) % 8 != 0)
			continue;
		for (unsigned int e = at + 2; e < at + b[at + 1]; e += 4) {
			uint32_t v;

			memcpy(&v, b + e, 4);
			tcpopt_put32(th, e, rte_be_to_cpu_32(v) + sp->seq);
		}
	}
}

void
synproxy_release(struct dp_worker *w, struct synproxy_worker *spw,
		 struct conn *c)
{
	struct rte_mbuf *m = unhold(spw, c);

	if (m != NULL)
		rte_pktmbuf_free(m);
	if (!(c->flags & CONN_F_SP_DONE))
		w->sp_st.backend_failed++;
}
