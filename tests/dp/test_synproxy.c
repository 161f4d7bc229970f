/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * synproxy: the SYN proxy packet by packet, in process (tests/lib/dplab's
 * two-port lab, as test_fwd): a SYN answered with a cookie SYN-ACK and
 * no connection, a valid ACK opening the backend with its own SYN, the
 * backend's SYN-ACK completing it and the held client data following,
 * the sequence shift both ways (ACK numbers, SACK edges, windows), bad
 * and expired cookies dropped and counted, auto mode switching on above
 * its SYN rate and table fill, a backend's RST, and a DR service left
 * alone. Every verdict is read from what worker 0 queued for TX (port 0:
 * clients, port 1: backends) and from its counters.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "conn.h"
#include "dp.h"
#include "dp_test_main.h"
#include "dplab.h"
#include "fwd.h"
#include "pkt.h"
#include "pktcheck.h"
#include "port.h"
#include "svc.h"
#include "synproxy.h"
#include "worker.h"

#define IP  DPLAB_IP
#define SYN RTE_TCP_SYN_FLAG
#define ACK RTE_TCP_ACK_FLAG
#define RST RTE_TCP_RST_FLAG

/* network order */
static const uint32_t CLIENT = IP(203, 0, 113, 7);
static const uint32_t VIP_DR = IP(192, 0, 2, 1);
static const uint32_t VIP_NAT = IP(192, 0, 2, 3);
static const uint32_t VIP_FNAT = IP(192, 0, 2, 4);
static const uint32_t VIP_AUTO = IP(192, 0, 2, 5);
static const uint32_t VIP_OFF = IP(192, 0, 2, 6);
static const uint32_t B10 = IP(10, 1, 0, 10);
static const uint32_t LADDR = IP(10, 1, 0, 100);

#define CISN 1000u  /* the client's ISN */
#define BISN 70000u /* the backend's ISN */

static struct dp_ctx dp;
static struct dp_port ports[2];
static struct rte_mempool *pool;

/* ---- frames ---------------------------------------------------------------- */

struct seg {
	uint32_t saddr, daddr;
	uint16_t sport, dport; /* host order */
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t win;
	const uint8_t *opt; /* olen bytes, a multiple of 4 */
	uint8_t olen;
	uint16_t payload; /* bytes i * 7 */
};

static struct rte_mbuf *
frame(const struct seg *g, uint16_t port)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint16_t l4len = (uint16_t)(20 + g->olen);
	uint16_t iplen = (uint16_t)(20 + l4len + g->payload);
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	struct rte_tcp_hdr *th;
	uint8_t *l4;

	ck_assert_ptr_nonnull(m);
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, 14 + iplen);
	ck_assert_ptr_nonnull(eth);
	memset(eth, 0, 14 + iplen);
	memcpy(eth->dst_addr.addr_bytes, dplab_mac_port[port], 6);
	memcpy(eth->src_addr.addr_bytes,
	       port == 0 ? dplab_mac_router : dplab_mac_b10, 6);
	eth->ether_type = htons(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	ip->version_ihl = 0x45;
	ip->total_length = htons(iplen);
	ip->fragment_offset = htons(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 60;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = g->saddr;
	ip->dst_addr = g->daddr;
	ip->hdr_checksum = pktcheck_ip_csum(ip, 20);
	l4 = (uint8_t *)(ip + 1);
	th = (struct rte_tcp_hdr *)l4;
	th->src_port = htons(g->sport);
	th->dst_port = htons(g->dport);
	th->sent_seq = htonl(g->seq);
	th->recv_ack = htonl(g->ack);
	th->data_off = (uint8_t)((l4len / 4) << 4);
	th->tcp_flags = g->flags;
	th->rx_win = htons(g->win != 0 ? g->win : 65535);
	if (g->olen > 0)
		memcpy(l4 + 20, g->opt, g->olen);
	for (uint16_t i = 0; i < g->payload; i++)
		l4[l4len + i] = (uint8_t)(i * 7);
	th->cksum = pktcheck_l4_csum(g->saddr, g->daddr, IPPROTO_TCP, l4,
				     (uint16_t)(l4len + g->payload));
	return m;
}

/* Send g in on port through worker 0 as classify would. */
static void
inject(const struct seg *g, uint16_t port)
{
	struct rte_mbuf *m = frame(g, port);
	struct lb_addr vip = { .family = AF_INET, .v4 = g->daddr };
	const struct svc *s = svc_lookup(dp.svc, IPPROTO_TCP, &vip, g->dport);
	struct pkt_info pi;

	ck_assert_int_eq(pkt_parse(m, &pi), DP_PASS);
	if (s != NULL) {
		fwd_forward(&dp.workers[0], m, port, &pi, s);
		return;
	}
	if (!fwd_reverse(&dp.workers[0], m, port, &pi))
		rte_pktmbuf_free(m);
}

/* How many packets worker 0 queued on port. */
static unsigned int
queued(uint16_t port)
{
	return dp.workers[0].tx[port].n;
}

/* The i-th packet worker 0 queued on port (it stays queued). */
static const uint8_t *
ip_of(uint16_t port, unsigned int i)
{
	ck_assert_uint_gt(queued(port), i);
	return rte_pktmbuf_mtod_offset(dp.workers[0].tx[port].pkts[i],
				       const uint8_t *, 14);
}

static void
flush(void)
{
	for (unsigned int w = 0; w < 2; w++)
		for (unsigned int p = 0; p < 2; p++) {
			for (unsigned int i = 0; i < dp.workers[w].tx[p].n; i++)
				rte_pktmbuf_free(dp.workers[w].tx[p].pkts[i]);
			dp.workers[w].tx[p].n = 0;
		}
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Both checksums of the IPv4 packet at ip are right; TCP, no IP options. */
static void
check_sums(const uint8_t *ip)
{
	uint16_t iplen = be16(ip + 2);

	ck_assert_uint_eq(ip[0], 0x45);
	ck_assert_uint_eq(ip[9], IPPROTO_TCP);
	ck_assert_uint_eq(pktcheck_sum16(ip, 20, 0), 0xffff);
	ck_assert_msg(pktcheck_l4_sum(ip, IPPROTO_TCP, ip + 20,
				      (uint16_t)(iplen - 20)) == 0xffff,
		      "TCP checksum wrong");
}

/* The option kind of the TCP header at th: its offset, or 0. */
static unsigned int
opt_at(const uint8_t *th, uint8_t kind)
{
	unsigned int hlen = (th[12] >> 4) * 4u;

	for (unsigned int i = 20; i < hlen;) {
		if (th[i] == 0)
			return 0;
		if (th[i] == 1) {
			i++;
			continue;
		}
		if (th[i] == kind)
			return i;
		ck_assert_uint_ge(th[i + 1], 2);
		i += th[i + 1];
	}
	return 0;
}

/* ---- the lab --------------------------------------------------------------- */

static void
service(uint32_t vip, uint8_t mode, uint32_t flags, uint32_t laddr)
{
	const struct dplab_backend be = { B10, 8080, 1 };
	const struct dplab_svc d = { .proto = IPPROTO_TCP,
				     .vip = vip,
				     .vport = 80,
				     .mode = mode,
				     .sched = "rr",
				     .flags = flags,
				     .b = &be,
				     .nb = 1,
				     .laddr = laddr,
				     .nladdr = 1 };
	char why[LBMSG_ERRMSG_MAX];

	ck_assert_msg(dplab_service(dp.svc, &d, why, sizeof(why)) == 0,
		      "service: %s", why);
}

static void
lab_up(void)
{
	ck_assert_int_eq(dplab_pair_up(&dp, ports, pool), 0);
	ck_assert_int_eq(dplab_svc_table(&dp, 64), 0);
	service(VIP_DR, LB_MODE_DR, LB_SVC_F_SYNPROXY_ON, 0);
	service(VIP_NAT, LB_MODE_NAT, LB_SVC_F_SYNPROXY_ON, 0);
	service(VIP_FNAT, LB_MODE_FNAT, LB_SVC_F_SYNPROXY_ON, LADDR);
	service(VIP_AUTO, LB_MODE_NAT, 0, 0);
	service(VIP_OFF, LB_MODE_NAT, LB_SVC_F_SYNPROXY_OFF, 0);
	ck_assert_int_eq(fwd_init_conns(&dp, 64), 0);
}

static void
lab_down(void)
{
	flush();
	dplab_down(&dp);
}

static struct conn *
conn_of(uint32_t vip, uint16_t cport)
{
	struct conn_key k = { .saddr = CLIENT,
			      .daddr = vip,
			      .sport = htons(cport),
			      .dport = htons(80),
			      .proto = IPPROTO_TCP };
	unsigned int dir;

	return conn_lookup(fwd_conn_table(&dp, 0), &k, &dir);
}

static uint32_t
used(void)
{
	uint32_t size;

	return conn_used(fwd_conn_table(&dp, 0), &size);
}

static const struct stats_synproxy *
st(void)
{
	return &dp.workers[0].sp_st;
}

/* MSS 1460, SACK permitted, window scale 8 */
static const uint8_t syn_opts[12] = {
	2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 8
};

/* The client's SYN from cport to vip:80; returns the cookie of the
 * SYN-ACK it got (checked: addresses, ports, flags, ack, options,
 * checksums, no connection, nothing towards the backends). */
static uint32_t
syn_cookie(uint32_t vip, uint16_t cport)
{
	struct seg s = { CLIENT, vip, cport, 80,       SYN,
			 CISN,	 0,   0,     syn_opts, sizeof(syn_opts) };
	uint64_t sent = st()->cookies_sent;
	uint32_t before = used(), cookie;
	const uint8_t *ip, *th;
	unsigned int o;

	inject(&s, 0);
	ck_assert_uint_eq(queued(1), 0);
	ck_assert_uint_eq(queued(0), 1);
	ck_assert_uint_eq(st()->cookies_sent, sent + 1);
	ck_assert_uint_eq(used(), before); /* no state for a SYN */
	ck_assert_ptr_null(conn_of(vip, cport));
	/* back to the router's MAC from ours, as the SYN came */
	ck_assert_int_eq(
		memcmp(rte_pktmbuf_mtod(dp.workers[0].tx[0].pkts[0], uint8_t *),
		       dplab_mac_router, 6),
		0);
	ip = ip_of(0, 0);
	th = ip + 20;
	check_sums(ip);
	ck_assert_uint_eq(be32(ip + 12), be32((const uint8_t *)&vip));
	ck_assert_uint_eq(be32(ip + 16), be32((const uint8_t *)&CLIENT));
	ck_assert_uint_eq(be16(th), 80);
	ck_assert_uint_eq(be16(th + 2), cport);
	ck_assert_uint_eq(th[13], SYN | ACK);
	ck_assert_uint_eq(be32(th + 8), CISN + 1);
	ck_assert_uint_eq(be16(ip + 2), 20 + (th[12] >> 4) * 4u); /* no data */
	o = opt_at(th, 2);
	ck_assert_uint_ne(o, 0);
	ck_assert_uint_eq(be16(th + o + 2), 1500 - 40);
	ck_assert_uint_ne(opt_at(th, 4), 0); /* SACK permitted */
	o = opt_at(th, 3);
	ck_assert_uint_ne(o, 0);
	ck_assert_uint_eq(th[o + 2], SYNPROXY_WSCALE);
	ck_assert_uint_eq(opt_at(th, 8), 0); /* no timestamps */
	cookie = be32(th + 4);
	flush();
	return cookie;
}

/* ---- tests ------------------------------------------------------------------ */

/* A SYN to a NAT and a FULL-NAT service with the proxy on: a cookie
 * SYN-ACK, no connection (syn_cookie() checks it all). */
START_TEST(test_cookie_synack)
{
	uint32_t c1 = syn_cookie(VIP_NAT, 4000);
	uint32_t c2 = syn_cookie(VIP_FNAT, 4000);
	uint32_t c3 = syn_cookie(VIP_NAT, 4001);

	ck_assert_uint_eq(used(), 0);
	/* the tuple is in the hash: other tuples, other cookies */
	ck_assert_uint_ne(c1 & 0xffffff00u, c2 & 0xffffff00u);
	ck_assert_uint_ne(c1 & 0xffffff00u, c3 & 0xffffff00u);
	/* the low byte: MSS 1460 (index 6), window scale 8, SACK */
	ck_assert_uint_eq(c1 & 0xff, 6u | 8u << 3 | 1u << 7);
	ck_assert_uint_eq(st()->cookies_sent, 3);
}
END_TEST

/*
 * The whole connection through the NAT (_i = 0) and the FULL-NAT
 * (_i = 1) service: ACK with 100 bytes of data -> the backend gets a SYN
 * with the client's ISN and options, data held; the backend's SYN-ACK
 * (window scale 5) -> the backend gets the ACK and then the data, the
 * client nothing; then backend data goes to the client shifted (seq,
 * window) and client data with a SACK block to the backend (ack, SACK).
 */
START_TEST(test_handshake)
{
	bool fnat = _i == 1;
	uint32_t vip = fnat ? VIP_FNAT : VIP_NAT, cookie, laddr;
	uint16_t lport;
	const uint8_t *ip, *th;
	struct conn *c;
	unsigned int o;

	cookie = syn_cookie(vip, 4100);
	struct seg ack = { CLIENT,     vip, 4100, 80, ACK, CISN + 1,
			   cookie + 1, 512, NULL, 0,  100 };
	inject(&ack, 0);
	ck_assert_uint_eq(queued(0), 0);
	ck_assert_uint_eq(queued(1), 1);
	c = conn_of(vip, 4100);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->state, CONN_S_SYN_RECV);
	ck_assert_uint_eq(st()->cookies_valid, 1);
	ck_assert_uint_eq(st()->held, 1);
	ip = ip_of(1, 0);
	th = ip + 20;
	check_sums(ip);
	ck_assert_uint_eq(be32(ip + 16), be32((const uint8_t *)&B10));
	laddr = fnat ? LADDR : CLIENT;
	ck_assert_uint_eq(be32(ip + 12), be32((const uint8_t *)&laddr));
	ck_assert_uint_eq(be16(th + 2), 8080);
	lport = be16(th);
	if (!fnat)
		ck_assert_uint_eq(lport, 4100);
	ck_assert_uint_eq(th[13], SYN);
	ck_assert_uint_eq(be32(th + 4), CISN);
	ck_assert_uint_eq(be16(ip + 2), 20 + (th[12] >> 4) * 4u);
	o = opt_at(th, 2);
	ck_assert_uint_eq(be16(th + o + 2), 1460);
	o = opt_at(th, 3);
	ck_assert_uint_ne(o, 0);
	ck_assert_uint_eq(th[o + 2], 8); /* the client's own */
	ck_assert_uint_ne(opt_at(th, 4), 0);
	flush();

	/* the backend's SYN-ACK: the ACK, then the held data, to it */
	static const uint8_t ws5[4] = { 1, 3, 3, 5 };
	struct seg sa = { B10,	    laddr, 8080, lport,	      SYN | ACK, BISN,
			  CISN + 1, 29200, ws5,	 sizeof(ws5), 0 };
	inject(&sa, 1);
	ck_assert_uint_eq(queued(0), 0);
	ck_assert_uint_eq(queued(1), 2);
	ck_assert_uint_eq(st()->backend_done, 1);
	ck_assert(c->flags & CONN_F_SP_DONE);
	ip = ip_of(1, 0);
	th = ip + 20;
	check_sums(ip);
	ck_assert_uint_eq(th[13], ACK);
	ck_assert_uint_eq(be32(th + 4), CISN + 1);
	ck_assert_uint_eq(be32(th + 8), BISN + 1);
	ck_assert_uint_eq(be16(th + 14), 512); /* scaled by 8 on both legs */
	ip = ip_of(1, 1);
	th = ip + 20;
	check_sums(ip);
	ck_assert_uint_eq(be16(ip + 2), 40 + 100);
	ck_assert_uint_eq(be32(th + 4), CISN + 1);
	ck_assert_uint_eq(be32(th + 8), BISN + 1);
	for (unsigned int i = 0; i < 100; i++)
		ck_assert_uint_eq(th[20 + i], (uint8_t)(i * 7));
	ck_assert_uint_eq(c->state, CONN_S_ESTABLISHED);
	flush();

	/* backend data: seq back into the cookie's space, window rescaled
	 * from the backend's scale 5 to the offered 7 */
	struct seg bd = { B10,	      laddr, 8080, lport, ACK, BISN + 1,
			  CISN + 101, 1000,  NULL, 0,	  50 };
	inject(&bd, 1);
	ck_assert_uint_eq(queued(1), 0);
	ck_assert_uint_eq(queued(0), 1);
	ip = ip_of(0, 0);
	th = ip + 20;
	check_sums(ip);
	ck_assert_uint_eq(be32(ip + 12), be32((const uint8_t *)&vip));
	ck_assert_uint_eq(be32(ip + 16), be32((const uint8_t *)&CLIENT));
	ck_assert_uint_eq(be32(th + 4), cookie + 1);
	ck_assert_uint_eq(be32(th + 8), CISN + 101);
	ck_assert_uint_eq(be16(th + 14), 1000u * 32 / 128);
	flush();

	/* client data with a SACK block: ack and edges into the backend's */
	uint8_t sack[12] = { 1, 1, 5, 10 };
	uint32_t e1 = htonl(cookie + 101), e2 = htonl(cookie + 201);

	memcpy(sack + 4, &e1, 4);
	memcpy(sack + 8, &e2, 4);
	struct seg cd = { CLIENT,      vip, 4100, 80,		ACK, CISN + 101,
			  cookie + 51, 300, sack, sizeof(sack), 10 };
	inject(&cd, 0);
	ck_assert_uint_eq(queued(0), 0);
	ck_assert_uint_eq(queued(1), 1);
	ip = ip_of(1, 0);
	th = ip + 20;
	check_sums(ip);
	ck_assert_uint_eq(be32(th + 4), CISN + 101);
	ck_assert_uint_eq(be32(th + 8), BISN + 51);
	ck_assert_uint_eq(be32(th + 20 + 4), BISN + 101);
	ck_assert_uint_eq(be32(th + 20 + 8), BISN + 201);
	ck_assert_uint_eq(be16(th + 14), 300);
	ck_assert_uint_eq(st()->cookies_bad, 0);
	ck_assert_uint_eq(st()->backend_failed, 0);
}
END_TEST

/* An ACK whose cookie is forged, of two periods ago, or has its option
 * bits changed: dropped, counted, no connection, nothing sent. One of the
 * previous period is still good. */
START_TEST(test_bad_cookie)
{
	struct synproxy_worker *sp = &dp.fwd->w[0].sp;
	uint32_t now = conn_now(fwd_conn_table(&dp, 0));
	uint32_t p = synproxy_period(now), cookie;
	struct synproxy_tuple t = { CLIENT, VIP_NAT, htons(4200), htons(80) };
	struct synproxy_opts o = { 1460, 8, true };
	struct synproxy_key k = { 1, 2 };
	unsigned int prev = (p - 1) & 1;

	ck_assert_uint_ge(p, 2);
	cookie = syn_cookie(VIP_NAT, 4200);
	uint32_t bad[] = {
		cookie ^ 0x100,			      /* forged */
		synproxy_cookie(&k, &t, CISN, p, &o), /* other key */
		synproxy_cookie(&sp->key[p & 1], &t, CISN, p - 2, &o), /* old */
		(cookie & ~7u) | ((cookie + 1) & 7u), /* MSS index changed */
	};
	for (unsigned int i = 0; i < RTE_DIM(bad); i++) {
		struct seg a = { CLIENT, VIP_NAT,  4200,      80,
				 ACK,	 CISN + 1, bad[i] + 1 };

		inject(&a, 0);
		ck_assert_uint_eq(queued(0) + queued(1), 0);
		ck_assert_uint_eq(st()->cookies_bad, i + 1);
		ck_assert_uint_eq(
			dp.workers[0].drops[DP_DROP_SYNPROXY_BAD_COOKIE],
			i + 1);
		ck_assert_ptr_null(conn_of(VIP_NAT, 4200));
	}
	ck_assert_uint_eq(st()->cookies_valid, 0);

	/* a cookie of the previous period (its secret still there) */
	sp->key[prev] = k;
	sp->key_period[prev] = p - 1;
	sp->key_set[prev] = true;
	t.sport = htons(4201);
	struct seg a = { CLIENT,
			 VIP_NAT,
			 4201,
			 80,
			 ACK,
			 CISN + 1,
			 synproxy_cookie(&k, &t, CISN, p - 1, &o) + 1 };
	inject(&a, 0);
	ck_assert_uint_eq(st()->cookies_valid, 1);
	ck_assert_uint_eq(queued(1), 1);
	ck_assert_ptr_nonnull(conn_of(VIP_NAT, 4201));
	/* ... not once that slot holds the next period's secret */
	sp->key_period[prev] = p + 1;
	t.sport = htons(4202);
	a.sport = 4202;
	a.ack = synproxy_cookie(&k, &t, CISN, p - 1, &o) + 1;
	inject(&a, 0);
	ck_assert_uint_eq(st()->cookies_bad, RTE_DIM(bad) + 1);
	ck_assert_ptr_null(conn_of(VIP_NAT, 4202));
}
END_TEST

/*
 * Auto mode: SYNs go to the backend (connections made) up to the SYN
 * rate, the one beyond gets a cookie; then with the rate trigger off, at
 * the table fill level. A service with the proxy off never does.
 */
START_TEST(test_auto)
{
	dp.conf.synproxy_syn_rate = 5;
	dp.conf.synproxy_fill = 0;
	for (uint16_t i = 0; i < 5; i++) {
		struct seg s = { CLIENT, VIP_AUTO, (uint16_t)(5000 + i),
				 80,	 SYN,	   CISN };

		inject(&s, 0);
		ck_assert_uint_eq(queued(0), 0);
		ck_assert_uint_eq(queued(1), 1);
		flush();
	}
	ck_assert_uint_eq(used(), 5);
	ck_assert_uint_eq(st()->auto_on, 0);
	syn_cookie(VIP_AUTO, 5005);
	ck_assert_uint_eq(st()->auto_on, 1);
	ck_assert_uint_eq(used(), 5);
	/* off is off, whatever the rate */
	struct seg off = { CLIENT, VIP_OFF, 5006, 80, SYN, CISN };
	inject(&off, 0);
	ck_assert_uint_eq(queued(1), 1);
	flush();

	/* fill: 64 objects, 50 %: the 32nd connection is the last */
	dp.conf.synproxy_syn_rate = 0;
	dp.conf.synproxy_fill = 50;
	for (uint16_t i = 0; used() < 32; i++) {
		struct seg s = { CLIENT, VIP_AUTO, (uint16_t)(5100 + i),
				 80,	 SYN,	   CISN };

		ck_assert_uint_lt(i, 32);
		inject(&s, 0);
		ck_assert_uint_eq(queued(1), 1);
		flush();
	}
	syn_cookie(VIP_AUTO, 5200);
	ck_assert_uint_eq(st()->auto_on, 2);
	ck_assert_uint_eq(used(), 32);
}
END_TEST

/* SYNs whose options are malformed after a SACK permitted (a zero
 * length, one running past the header): the walk stops there, nothing
 * after it is believed; the cookie says MSS 536, no window scale, SACK. */
START_TEST(test_bad_options)
{
	static const uint8_t zero_len[8] = { 4, 2, 2, 0, 3, 3, 8, 0 };
	static const uint8_t overlong[8] = { 1, 1, 4, 2, 2, 9, 0x05, 0xb4 };
	const uint8_t *opts[2] = { zero_len, overlong };

	for (unsigned int i = 0; i < 2; i++) {
		struct seg s = { CLIENT, VIP_NAT, (uint16_t)(7000 + i),
				 80,	 SYN,	  CISN,
				 0,	 0,	  opts[i],
				 8 };
		const uint8_t *th;
		uint32_t cookie;

		inject(&s, 0);
		ck_assert_uint_eq(queued(0), 1);
		th = ip_of(0, 0) + 20;
		check_sums(ip_of(0, 0));
		cookie = be32(th + 4);
		ck_assert_uint_eq(cookie & 0xff, 0u | 15u << 3 | 1u << 7);
		ck_assert_uint_ne(opt_at(th, 4), 0);
		ck_assert_uint_eq(opt_at(th, 3), 0);
		ck_assert_uint_eq(be16(th + opt_at(th, 2) + 2), 1460);
		flush();
	}
	ck_assert_uint_eq(used(), 0);
}
END_TEST

/* A DR service with the proxy forced on: the SYN goes to the backend
 * untouched and makes a connection; no cookie. */
START_TEST(test_dr_unaffected)
{
	struct seg s = { CLIENT, VIP_DR, 6000, 80, SYN, CISN };
	const uint8_t *ip;

	inject(&s, 0);
	ck_assert_uint_eq(queued(0), 0);
	ck_assert_uint_eq(queued(1), 1);
	ck_assert_int_eq(
		memcmp(rte_pktmbuf_mtod(dp.workers[0].tx[1].pkts[0], uint8_t *),
		       dplab_mac_b10, 6),
		0);
	ip = ip_of(1, 0);
	ck_assert_uint_eq(be32(ip + 16), be32((const uint8_t *)&VIP_DR));
	ck_assert_uint_eq(be32(ip + 24), CISN);
	ck_assert_uint_eq(ip[33], SYN);
	ck_assert_ptr_nonnull(conn_of(VIP_DR, 6000));
	ck_assert_uint_eq(st()->cookies_sent, 0);
}
END_TEST

/* The backend refuses (RST): the client gets an RST at the cookie's
 * sequence number; once the connection goes, backend_failed counts it. */
START_TEST(test_backend_rst)
{
	uint32_t cookie = syn_cookie(VIP_NAT, 4300);
	struct seg a = { CLIENT, VIP_NAT, 4300, 80, ACK, CISN + 1, cookie + 1 };
	struct seg r = { B10, CLIENT, 8080, 4300, RST | ACK, 0, CISN + 1 };
	const uint8_t *ip;
	struct conn *c;

	inject(&a, 0);
	ck_assert_uint_eq(queued(1), 1);
	ck_assert_uint_eq(st()->held, 0); /* a pure ACK is not held */
	flush();
	inject(&r, 1);
	ck_assert_uint_eq(queued(1), 0);
	ck_assert_uint_eq(queued(0), 1);
	ip = ip_of(0, 0);
	check_sums(ip);
	ck_assert_uint_eq(ip[33] & RST, RST);
	ck_assert_uint_eq(be32(ip + 24), cookie + 1);
	c = conn_of(VIP_NAT, 4300);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->state, CONN_S_CLOSE);
	ck_assert_uint_eq(st()->backend_failed, 0);
	conn_kill(fwd_conn_table(&dp, 0), c);
	ck_assert_uint_eq(st()->backend_failed, 1);
	ck_assert_uint_eq(st()->backend_done, 0);
}
END_TEST

static Suite *
synproxy_suite(void)
{
	Suite *s = suite_create("synproxy");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, lab_up, lab_down);
	tcase_add_test(tc, test_cookie_synack);
	tcase_add_loop_test(tc, test_handshake, 0, 2);
	tcase_add_test(tc, test_bad_cookie);
	tcase_add_test(tc, test_auto);
	tcase_add_test(tc, test_bad_options);
	tcase_add_test(tc, test_dr_unaffected);
	tcase_add_test(tc, test_backend_rst);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return dp_test_main("test_synproxy", synproxy_suite, &pool, 1024);
}
