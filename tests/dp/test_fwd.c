/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fwd: the forwarding modes, packet by packet, in process. A dataplane
 * context is built around two fake ports (0: clients behind the router
 * 10.0.0.254; 1: backends on 10.1.0.0/24) with real route, neighbour and
 * service tables; crafted frames go into the forward/reverse hooks and
 * what the workers queue for TX is checked field by field. Every
 * checksum is verified from scratch with a plain RFC 1071 sum over the
 * header (and pseudo-header), independently of the code under test;
 * Toeplitz is recomputed bit by bit for the RSS case (tests/lib/pktcheck).
 * The lab is tests/lib/dplab's two-port one.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_hash.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "conn.h"
#include "dp.h"
#include "dp_test_main.h"
#include "dplab.h"
#include "fwd.h"
#include "pkt.h"
#include "pktcheck.h"
#include "port.h"
#include "svc.h"
#include "worker.h"

#define IP  DPLAB_IP /* short, for the case tables */
#define SYN RTE_TCP_SYN_FLAG
#define ACK RTE_TCP_ACK_FLAG

static struct dp_ctx dp;
static struct dp_port ports[2];
static struct rte_mempool *pool;

/* ---- frames -------------------------------------------------------------- */

struct spec {
	uint32_t saddr, daddr;
	uint16_t sport, dport; /* host order */
	uint8_t proto, flags;
	uint16_t payload;
	bool df;
	uint16_t mss; /* TCP: an MSS option when not 0 */
};

static struct rte_mbuf *
frame(const struct spec *sp, uint16_t port)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint16_t l4len = sp->proto == IPPROTO_TCP ? (sp->mss ? 24 : 20) : 8;
	uint16_t iplen = (uint16_t)(20 + l4len + sp->payload);
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
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
	ip->type_of_service = 0x10;
	ip->total_length = htons(iplen);
	ip->packet_id = htons(0x1234);
	ip->fragment_offset = sp->df ? htons(RTE_IPV4_HDR_DF_FLAG) : 0;
	ip->time_to_live = 60;
	ip->next_proto_id = sp->proto;
	ip->src_addr = sp->saddr;
	ip->dst_addr = sp->daddr;
	ip->hdr_checksum = pktcheck_ip_csum(ip, 20);
	l4 = (uint8_t *)(ip + 1);
	for (uint16_t i = 0; i < sp->payload; i++)
		l4[l4len + i] = (uint8_t)(i * 7);
	if (sp->proto == IPPROTO_TCP) {
		struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)l4;

		th->src_port = htons(sp->sport);
		th->dst_port = htons(sp->dport);
		th->sent_seq = htonl(1000);
		th->recv_ack = (sp->flags & ACK) ? htonl(5000) : 0;
		th->data_off = (uint8_t)((l4len / 4) << 4);
		th->tcp_flags = sp->flags;
		th->rx_win = htons(65535);
		if (sp->mss) {
			l4[20] = 2;
			l4[21] = 4;
			l4[22] = (uint8_t)(sp->mss >> 8);
			l4[23] = (uint8_t)sp->mss;
		}
		th->cksum =
			pktcheck_l4_csum(sp->saddr, sp->daddr, IPPROTO_TCP, l4,
					 (uint16_t)(l4len + sp->payload));
	} else {
		struct rte_udp_hdr *uh = (struct rte_udp_hdr *)l4;

		uh->src_port = htons(sp->sport);
		uh->dst_port = htons(sp->dport);
		uh->dgram_len = htons((uint16_t)(8 + sp->payload));
		uh->dgram_cksum =
			pktcheck_l4_csum(sp->saddr, sp->daddr, IPPROTO_UDP, l4,
					 (uint16_t)(8 + sp->payload));
	}
	return m;
}

static const struct svc *
svc_of(const struct spec *sp)
{
	struct lb_addr vip = { .family = AF_INET, .v4 = sp->daddr };

	return svc_lookup(dp.svc, sp->proto, &vip, sp->dport);
}

/* Send sp in on port through worker wk like classify would. */
static void
inject(unsigned int wk, const struct spec *sp, uint16_t port)
{
	struct rte_mbuf *m = frame(sp, port);
	const struct svc *s = svc_of(sp);
	struct pkt_info pi;

	ck_assert_int_eq(pkt_parse(m, &pi), DP_PASS);
	if (s != NULL) {
		fwd_forward(&dp.workers[wk], m, port, &pi, s);
		return;
	}
	if (!fwd_reverse(&dp.workers[wk], m, port, &pi))
		rte_pktmbuf_free(m);
}

/* The one packet worker wk queued on port (nothing on the other). */
static struct rte_mbuf *
take(unsigned int wk, uint16_t port)
{
	struct dp_txbuf *tb = &dp.workers[wk].tx[port];
	struct rte_mbuf *m;

	ck_assert_uint_eq(dp.workers[wk].tx[1 - port].n, 0);
	ck_assert_uint_eq(tb->n, 1);
	m = tb->pkts[0];
	tb->n = 0;
	return m;
}

/*
 * What worker wk queued on port is a datagram cut into n fragments of
 * at most mtu bytes (ipfrag.h: without DF, too big for the egress MTU),
 * nothing on the other port. Frees them.
 */
static void
fragments_sent(unsigned int wk, uint16_t port, unsigned int n, uint16_t mtu)
{
	struct dp_txbuf *tb = &dp.workers[wk].tx[port];

	ck_assert_uint_eq(dp.workers[wk].tx[1 - port].n, 0);
	ck_assert_uint_eq(tb->n, n);
	for (unsigned int i = 0; i < tb->n; i++) {
		ck_assert_uint_eq(tb->pkts[i]->nb_segs, 1);
		ck_assert_uint_le(rte_pktmbuf_pkt_len(tb->pkts[i]), 14u + mtu);
		rte_pktmbuf_free(tb->pkts[i]);
	}
	tb->n = 0;
}

static void
nothing_sent(unsigned int wk)
{
	ck_assert_uint_eq(dp.workers[wk].tx[0].n, 0);
	ck_assert_uint_eq(dp.workers[wk].tx[1].n, 0);
}

/* Expected result of a rewritten (not encapsulated) packet. */
struct expect {
	uint16_t port;
	const uint8_t *mac;
	uint32_t saddr, daddr;
	uint16_t sport, dport; /* host order; 0 = do not check */
	uint8_t ttl;
};

/* Check an IPv4 packet at ip (len bytes available) against e. */
static void
check_ip(const uint8_t *ipb, const struct expect *e, uint8_t proto)
{
	const struct rte_ipv4_hdr *ip = (const void *)ipb;
	uint16_t iplen = ntohs(ip->total_length);
	const uint8_t *l4 = ipb + 20;

	ck_assert_uint_eq(ip->version_ihl, 0x45);
	ck_assert_uint_eq(ip->next_proto_id, proto);
	ck_assert_uint_eq(ip->time_to_live, e->ttl);
	ck_assert_uint_eq(ip->src_addr, e->saddr);
	ck_assert_uint_eq(ip->dst_addr, e->daddr);
	/* the header checksum */
	ck_assert_uint_eq(pktcheck_sum16(ip, 20, 0), 0xffff);
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		const struct rte_udp_hdr *uh = (const void *)l4;

		if (e->sport)
			ck_assert_uint_eq(ntohs(uh->src_port), e->sport);
		if (e->dport)
			ck_assert_uint_eq(ntohs(uh->dst_port), e->dport);
		ck_assert_msg(pktcheck_l4_csum(ip->src_addr, ip->dst_addr,
					       proto, l4,
					       (uint16_t)(iplen - 20)) == 0,
			      "L4 checksum wrong");
	}
}

/* Check frame m: Ethernet as e says, then the IPv4 packet. Returns the
 * IP header. */
static const uint8_t *
check_frame(struct rte_mbuf *m, const struct expect *e, uint8_t proto)
{
	const struct rte_ether_hdr *eth =
		rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	const uint8_t *ip = (const uint8_t *)(eth + 1);

	ck_assert_int_eq(memcmp(eth->dst_addr.addr_bytes, e->mac, 6), 0);
	ck_assert_int_eq(
		memcmp(eth->src_addr.addr_bytes, dplab_mac_port[e->port], 6),
		0);
	ck_assert_uint_eq(ntohs(eth->ether_type), RTE_ETHER_TYPE_IPV4);
	ck_assert_uint_eq(
		rte_pktmbuf_pkt_len(m),
		14u + ntohs(((const struct rte_ipv4_hdr *)ip)->total_length));
	check_ip(ip, e, proto);
	return ip;
}

/* ---- the lab ------------------------------------------------------------- */

/* Hand m to the service table; the request must succeed. */
static void
ctrl(struct nl_msg *m)
{
	char why[LBMSG_ERRMSG_MAX];
	int rc = dplab_ctrl(dp.svc, m, why, sizeof(why));

	ck_assert_msg(rc == 0, "control request failed: %s", why);
}

/* A service (scheduler rr) with one backend b:bport, and the local
 * address laddr when not 0. */
static void
service(uint8_t proto, uint32_t vip, uint16_t vport, uint8_t mode,
	uint32_t flags, uint32_t b, uint16_t bport, uint32_t laddr)
{
	const struct dplab_backend be = { b, bport, 1 };
	const struct dplab_svc d = { .proto = proto,
				     .vip = vip,
				     .vport = vport,
				     .mode = mode,
				     .sched = "rr",
				     .flags = flags,
				     .b = &be,
				     .nb = 1,
				     .laddr = laddr,
				     .nladdr = 1 };
	char why[LBMSG_ERRMSG_MAX];
	int rc = dplab_service(dp.svc, &d, why, sizeof(why));

	ck_assert_msg(rc == 0, "control request failed: %s", why);
}

static void
lab_up(void)
{
	ck_assert_int_eq(dplab_pair_up(&dp, ports, pool), 0);
	ck_assert_int_eq(dplab_svc_table(&dp, 64), 0);
	service(IPPROTO_TCP, IP(192, 0, 2, 1), 80, LB_MODE_DR, 0,
		IP(10, 1, 0, 10), 80, 0);
	service(IPPROTO_UDP, IP(192, 0, 2, 1), 53, LB_MODE_DR, 0,
		IP(10, 1, 0, 10), 53, 0);
	service(IPPROTO_TCP, IP(192, 0, 2, 2), 80, LB_MODE_TUNNEL, 0,
		IP(10, 1, 0, 10), 80, 0);
	service(IPPROTO_UDP, IP(192, 0, 2, 2), 53, LB_MODE_TUNNEL, 0,
		IP(10, 1, 0, 10), 53, 0);
	service(IPPROTO_TCP, IP(192, 0, 2, 3), 80, LB_MODE_NAT, 0,
		IP(10, 1, 0, 10), 8080, 0);
	service(IPPROTO_UDP, IP(192, 0, 2, 3), 53, LB_MODE_NAT, 0,
		IP(10, 1, 0, 10), 5353, 0);
	service(IPPROTO_TCP, IP(192, 0, 2, 4), 80, LB_MODE_FNAT, LB_SVC_F_TOA,
		IP(10, 1, 0, 11), 8080, IP(10, 1, 0, 100));
	service(IPPROTO_UDP, IP(192, 0, 2, 4), 53, LB_MODE_FNAT, 0,
		IP(10, 1, 0, 11), 5353, IP(10, 1, 0, 100));
	ck_assert_int_eq(fwd_init_conns(&dp, 64), 0);
}

static void
lab_down(void)
{
	for (unsigned int w = 0; w < 2; w++)
		for (unsigned int p = 0; p < 2; p++) {
			for (unsigned int i = 0; i < dp.workers[w].tx[p].n; i++)
				rte_pktmbuf_free(dp.workers[w].tx[p].pkts[i]);
			dp.workers[w].tx[p].n = 0;
		}
	dplab_down(&dp);
}

/* ---- cases: first packets in, per mode -------------------------------- */

struct in_case {
	const char *name;
	struct spec in;
	bool tunnel;
	struct expect out; /* tunnel: the inner packet; mac/port outer */
};

#define CLIENT IP(203, 0, 113, 7)

static const struct in_case in_cases[] = {
	{ "dr tcp syn",
	  { CLIENT, IP(192, 0, 2, 1), 40000, 80, IPPROTO_TCP, SYN, 0, true,
	    1460 },
	  false,
	  { 1, dplab_mac_b10, CLIENT, IP(192, 0, 2, 1), 40000, 80, 59 } },
	{ "dr udp",
	  { CLIENT, IP(192, 0, 2, 1), 40001, 53, IPPROTO_UDP, 0, 33, false, 0 },
	  false,
	  { 1, dplab_mac_b10, CLIENT, IP(192, 0, 2, 1), 40001, 53, 59 } },
	{ "tunnel tcp syn",
	  { CLIENT, IP(192, 0, 2, 2), 40002, 80, IPPROTO_TCP, SYN, 0, true,
	    1460 },
	  true,
	  { 1, dplab_mac_b10, CLIENT, IP(192, 0, 2, 2), 40002, 80, 59 } },
	{ "tunnel udp",
	  { CLIENT, IP(192, 0, 2, 2), 40003, 53, IPPROTO_UDP, 0, 100, false,
	    0 },
	  true,
	  { 1, dplab_mac_b10, CLIENT, IP(192, 0, 2, 2), 40003, 53, 59 } },
	{ "nat tcp syn",
	  { CLIENT, IP(192, 0, 2, 3), 40004, 80, IPPROTO_TCP, SYN, 0, true,
	    1460 },
	  false,
	  { 1, dplab_mac_b10, CLIENT, IP(10, 1, 0, 10), 40004, 8080, 59 } },
	{ "nat udp",
	  { CLIENT, IP(192, 0, 2, 3), 40005, 53, IPPROTO_UDP, 0, 21, false, 0 },
	  false,
	  { 1, dplab_mac_b10, CLIENT, IP(10, 1, 0, 10), 40005, 5353, 59 } },
	{ "fnat udp",
	  { CLIENT, IP(192, 0, 2, 4), 40006, 53, IPPROTO_UDP, 0, 21, false, 0 },
	  false,
	  { 1, dplab_mac_b11, IP(10, 1, 0, 100), IP(10, 1, 0, 11), 0, 5353,
	    59 } },
};

START_TEST(test_first_packet)
{
	const struct in_case *c = &in_cases[_i];
	struct rte_mbuf *m;
	const uint8_t *ip;

	inject(0, &c->in, 0);
	m = take(0, c->out.port);
	if (!c->tunnel) {
		ip = check_frame(m, &c->out, c->in.proto);
		/* untouched: TOS, ID, DF */
		ck_assert_uint_eq(ip[1], 0x10);
		ck_assert_uint_eq(ip[4] << 8 | ip[5], 0x1234);
		ck_assert_uint_eq(ip[6] & 0x40, c->in.df ? 0x40 : 0);
	} else {
		const uint8_t *o = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
		struct expect outer = { 1,
					dplab_mac_b10,
					IP(10, 1, 0, 1),
					IP(10, 1, 0, 10),
					0,
					0,
					64 };
		uint16_t inner_len = (uint16_t)(o[22] << 8 | o[23]);

		check_frame(m, &outer, IPPROTO_IPIP);
		ck_assert_uint_eq(o[1], 0x10);			     /* TOS */
		ck_assert_uint_eq(o[2] << 8 | o[3], inner_len + 20); /* len */
		ck_assert_uint_eq(o[6] & 0x40, c->in.df ? 0x40 : 0); /* DF */
		ck_assert_uint_eq(o[6] & 0x3f, 0);
		ck_assert_uint_eq(o[7], 0);
		check_ip(o + 20, &c->out, c->in.proto);
	}
	rte_pktmbuf_free(m);
}
END_TEST

/* The outer IP ID counts up per worker. */
START_TEST(test_tunnel_ip_id)
{
	struct spec sp = {
		CLIENT, IP(192, 0, 2, 2), 41000, 53, IPPROTO_UDP, 0, 10, false,
		0
	};
	uint16_t id[3];

	for (int i = 0; i < 3; i++) {
		struct rte_mbuf *m;
		const uint8_t *o;

		sp.sport = (uint16_t)(41000 + i);
		inject(0, &sp, 0);
		m = take(0, 1);
		o = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
		id[i] = (uint16_t)(o[4] << 8 | o[5]);
		rte_pktmbuf_free(m);
	}
	ck_assert_uint_eq((uint16_t)(id[1] - id[0]), 1);
	ck_assert_uint_eq((uint16_t)(id[2] - id[1]), 1);
}
END_TEST

START_TEST(test_nat_reply)
{
	struct spec syn = {
		CLIENT, IP(192, 0, 2, 3), 42000, 80, IPPROTO_TCP, SYN, 0, true,
		1460
	};
	struct spec synack = {
		IP(10, 1, 0, 10), CLIENT, 8080, 42000, IPPROTO_TCP,
		SYN | ACK,	  0,	  true, 1460
	};
	struct spec udp = { IP(10, 1, 0, 10),
			    CLIENT,
			    5353,
			    42001,
			    IPPROTO_UDP,
			    0,
			    40,
			    false,
			    0 };
	struct spec udpq = {
		CLIENT, IP(192, 0, 2, 3), 42001, 53, IPPROTO_UDP, 0, 20, false,
		0
	};
	struct expect back = {
		0, dplab_mac_router, IP(192, 0, 2, 3), CLIENT, 80, 42000, 59
	};
	struct rte_mbuf *m;

	inject(0, &syn, 0);
	rte_pktmbuf_free(take(0, 1));
	inject(0, &synack, 1);
	m = take(0, 0);
	check_frame(m, &back, IPPROTO_TCP);
	rte_pktmbuf_free(m);
	inject(0, &udpq, 0);
	rte_pktmbuf_free(take(0, 1));
	inject(0, &udp, 1);
	m = take(0, 0);
	back.sport = 53;
	back.dport = 42001;
	check_frame(m, &back, IPPROTO_UDP);
	rte_pktmbuf_free(m);
	/* a reply of nobody's: not taken */
	udp.sport = 9999;
	inject(0, &udp, 1);
	nothing_sent(0);
}
END_TEST

/* A NAT reply that RSS gives to worker 1 reaches the owner, worker 0. */
START_TEST(test_nat_handoff)
{
	struct spec q = {
		CLIENT, IP(192, 0, 2, 3), 43000, 53, IPPROTO_UDP, 0, 20, false,
		0
	};
	struct spec r = { IP(10, 1, 0, 10),
			  CLIENT,
			  5353,
			  43000,
			  IPPROTO_UDP,
			  0,
			  40,
			  false,
			  0 };
	struct expect back = {
		0, dplab_mac_router, IP(192, 0, 2, 3), CLIENT, 53, 43000, 59
	};
	struct rte_mbuf *m;

	inject(0, &q, 0);
	rte_pktmbuf_free(take(0, 1));
	inject(1, &r, 1);
	nothing_sent(1);
	nothing_sent(0);
	ck_assert_uint_eq(dp.fwd->w[1].handoff_out, 1);
	fwd_poll(&dp.workers[0]);
	ck_assert_uint_eq(dp.fwd->w[0].handoff_in, 1);
	m = take(0, 0);
	check_frame(m, &back, IPPROTO_UDP);
	rte_pktmbuf_free(m);
}
END_TEST

/* Find the TOA option in the TCP header at th; returns its offset or 0. */
static unsigned int
toa_at(const uint8_t *th)
{
	unsigned int hlen = (th[12] >> 4) * 4;

	for (unsigned int i = 20; i < hlen;) {
		if (th[i] == 0)
			break;
		if (th[i] == 1) {
			i++;
			continue;
		}
		if (th[i] == 254)
			return i;
		i += th[i + 1];
	}
	return 0;
}

START_TEST(test_fnat_toa)
{
	struct spec syn = {
		CLIENT, IP(192, 0, 2, 4), 44000, 80, IPPROTO_TCP, SYN, 0, true,
		1460
	};
	struct expect out = {
		1, dplab_mac_b11, IP(10, 1, 0, 100), IP(10, 1, 0, 11), 0, 8080,
		59
	};
	struct expect back = {
		0, dplab_mac_router, IP(192, 0, 2, 4), CLIENT, 80, 44000, 59
	};
	struct rte_mbuf *m;
	const uint8_t *ip, *th;
	unsigned int o;
	uint16_t lport;

	inject(0, &syn, 0);
	m = take(0, 1);
	ip = check_frame(m, &out, IPPROTO_TCP);
	th = ip + 20;
	ck_assert_uint_eq(ip[2] << 8 | ip[3], 20 + 24 + 8);
	ck_assert_uint_eq((th[12] >> 4) * 4, 32);
	/* MSS lowered by the option's 8 bytes */
	ck_assert_uint_eq(th[20], 2);
	ck_assert_uint_eq(th[22] << 8 | th[23], 1452);
	o = toa_at(th);
	ck_assert_uint_eq(o, 24);
	ck_assert_uint_eq(th[o + 1], 8);
	ck_assert_uint_eq(th[o + 2] << 8 | th[o + 3], 44000);
	ck_assert_int_eq(memcmp(th + o + 4, &syn.saddr, 4), 0);
	lport = (uint16_t)(th[0] << 8 | th[1]);
	/* no RSS: the port says the owner (worker 0 of 2) */
	ck_assert_uint_ge(lport, 1024);
	ck_assert_uint_eq((lport - 1024) % 2, 0);
	rte_pktmbuf_free(m);

	/* the backend's SYN-ACK to the local address goes to the client */
	struct spec sa = { IP(10, 1, 0, 11),
			   IP(10, 1, 0, 100),
			   8080,
			   lport,
			   IPPROTO_TCP,
			   SYN | ACK,
			   0,
			   true,
			   1400 };
	inject(0, &sa, 1);
	m = take(0, 0);
	check_frame(m, &back, IPPROTO_TCP);
	rte_pktmbuf_free(m);

	/* the client's first ACK carries TOA, the next one does not */
	struct spec ack = {
		CLIENT, IP(192, 0, 2, 4), 44000, 80, IPPROTO_TCP, ACK, 0, true,
		0
	};
	out.sport = lport;
	inject(0, &ack, 0);
	m = take(0, 1);
	ip = check_frame(m, &out, IPPROTO_TCP);
	ck_assert_uint_eq(toa_at(ip + 20), 20);
	ck_assert_uint_eq(ip[2] << 8 | ip[3], 20 + 20 + 8);
	rte_pktmbuf_free(m);
	ack.payload = 100;
	inject(0, &ack, 0);
	m = take(0, 1);
	ip = check_frame(m, &out, IPPROTO_TCP);
	ck_assert_uint_eq(toa_at(ip + 20), 0);
	ck_assert_uint_eq(ip[2] << 8 | ip[3], 20 + 20 + 100);
	rte_pktmbuf_free(m);
}
END_TEST

/* With RSS on the backend port, the local port is picked so that the
 * reply hashes to the owner's queue. */
START_TEST(test_fnat_rss)
{
	struct fwd_rss r;
	struct spec sp = {
		CLIENT, IP(192, 0, 2, 4), 45000, 53, IPPROTO_UDP, 0, 10, false,
		0
	};

	dplab_rss_conf(&r);
	fwd_rss_set(&dp, 1, &r);
	for (unsigned int wk = 0; wk < 2; wk++)
		for (int n = 0; n < 8; n++) {
			struct rte_mbuf *m;
			const uint8_t *ip;
			uint8_t tuple[12];
			uint32_t h;

			sp.sport = (uint16_t)(45000 + wk * 100 + n);
			inject(wk, &sp, 0);
			m = take(wk, 1);
			ip = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
			/* reply: backend:5353 -> laddr:lport */
			memcpy(tuple, ip + 16, 4);
			memcpy(tuple + 4, ip + 12, 4);
			memcpy(tuple + 8, ip + 22, 2);
			memcpy(tuple + 10, ip + 20, 2);
			h = pktcheck_toeplitz(r.key, tuple, 12);
			ck_assert_uint_eq(r.reta[h % 128], wk);
			rte_pktmbuf_free(m);
		}
}
END_TEST

START_TEST(test_tunnel_frag_needed)
{
	struct spec big = { CLIENT, IP(192, 0, 2, 2), 46000, 80,  IPPROTO_TCP,
			    SYN,    1460 - 4,	      true,  1460 };
	struct expect icmp = {
		0, dplab_mac_router, IP(192, 0, 2, 2), CLIENT, 0, 0, 64
	};
	struct rte_mbuf *m;
	const uint8_t *ip, *ic;
	uint16_t len;

	/* 1500 bytes + 20 of IPIP > MTU 1500, DF set */
	inject(0, &big, 0);
	m = take(0, 0);
	ip = check_frame(m, &icmp, IPPROTO_ICMP);
	len = (uint16_t)(ip[2] << 8 | ip[3]);
	ic = ip + 20;
	ck_assert_uint_eq(ic[0], 3);
	ck_assert_uint_eq(ic[1], 4);
	ck_assert_uint_eq(ic[6] << 8 | ic[7], 1480);
	ck_assert_uint_eq(pktcheck_sum16(ic, len - 20u, 0), 0xffff);
	/* the client's own header is quoted */
	ck_assert_uint_eq(ic[8], 0x45);
	ck_assert_int_eq(memcmp(ic + 8 + 12, &big.saddr, 4), 0);
	ck_assert_uint_eq(len, 576);
	rte_pktmbuf_free(m);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_FRAG_NEEDED], 1);
	/* without DF: the outer packet goes out in two fragments */
	big.df = false;
	big.sport++;
	inject(0, &big, 0);
	fragments_sent(0, 1, 2, 1500);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_TOO_BIG], 0);
	ck_assert_uint_eq(dp.workers[0].frag_st.fragmented, 1);
	/* 1480 bytes fit */
	big.df = true;
	big.sport++;
	big.payload = 1480 - 20 - 24;
	inject(0, &big, 0);
	m = take(0, 1);
	ck_assert_uint_eq(rte_pktmbuf_pkt_len(m), 14u + 1500);
	rte_pktmbuf_free(m);
}
END_TEST

/* ICMP errors from a NAT backend about what it received. */
enum icmp_mut {
	ICMP_OK,	 /* as a router or host sends it */
	ICMP_BAD_CSUM,	 /* ICMP checksum wrong */
	ICMP_FIRST_FRAG, /* quoted packet: MF set, offset 0 */
	ICMP_LATER_FRAG, /* quoted packet: offset 1480, MF clear */
	ICMP_SHORT,	 /* 4 bytes of the quoted UDP header */
};

struct icmp_case {
	const char *name;
	enum icmp_mut mut;
	int drop; /* expected drop reason, or DP_PASS: translated to the client */
};

static const struct icmp_case icmp_cases[] = {
	{ "port unreachable", ICMP_OK, DP_PASS },
	{ "bad ICMP checksum", ICMP_BAD_CSUM, DP_DROP_ICMP_ERR_BAD_CSUM },
	{ "quoting a first fragment", ICMP_FIRST_FRAG, DP_PASS },
	{ "quoting a later fragment", ICMP_LATER_FRAG,
	  DP_DROP_ICMP_ERR_FRAGMENT },
	{ "quoting 4 bytes of UDP", ICMP_SHORT, DP_DROP_ICMP_ERR_SHORT },
};

/*
 * An ICMP port unreachable from a NAT backend, about the datagram it got
 * (its ports as sent, whatever the case changes), reaches the client
 * about the VIP; a malformed one is dropped with its reason.
 */
START_TEST(test_nat_icmp_error)
{
	const struct icmp_case *tc = &icmp_cases[_i];
	struct spec q = {
		CLIENT, IP(192, 0, 2, 3), 47000, 53, IPPROTO_UDP, 0, 12, false,
		0
	};
	struct expect back = {
		0, dplab_mac_router, IP(192, 0, 2, 3), CLIENT, 0, 0, 63
	};
	struct rte_mbuf *sent, *m;
	struct pkt_info pi;
	uint8_t f[1600], *ip, *ic;
	const uint8_t *o;
	uint16_t qlen;

	inject(0, &q, 0);
	sent = take(0, 1); /* client -> 10.1.0.10:5353 as the backend saw */
	qlen = (uint16_t)(rte_pktmbuf_pkt_len(sent) - 14);
	if (tc->mut == ICMP_SHORT)
		qlen = 20 + 4;
	ip = f;
	memset(ip, 0, 42);
	memcpy(ip, dplab_mac_port[1], 6);
	memcpy(ip + 6, dplab_mac_b10, 6);
	ip[12] = 0x08;
	ip += 14;
	ip[0] = 0x45;
	ip[2] = (uint8_t)((28 + qlen) >> 8);
	ip[3] = (uint8_t)(28 + qlen);
	ip[8] = 64;
	ip[9] = IPPROTO_ICMP;
	memcpy(ip + 12, rte_pktmbuf_mtod_offset(sent, uint8_t *, 14 + 16), 4);
	memcpy(ip + 16, &q.saddr, 4);
	ic = ip + 20;
	ic[0] = 3;
	ic[1] = 3;
	memcpy(ic + 8, rte_pktmbuf_mtod_offset(sent, uint8_t *, 14), qlen);
	if (tc->mut == ICMP_FIRST_FRAG || tc->mut == ICMP_LATER_FRAG) {
		ic[8 + 6] = tc->mut == ICMP_FIRST_FRAG ? 0x20 : 0;
		ic[8 + 7] = tc->mut == ICMP_FIRST_FRAG ? 0 : 1480 / 8;
		ic[8 + 10] = ic[8 + 11] = 0;
		*(uint16_t *)(ic + 8 + 10) = pktcheck_ip_csum(ic + 8, 20);
	}
	*(uint16_t *)(ic + 2) = pktcheck_ip_csum(ic, 8u + qlen);
	if (tc->mut == ICMP_BAD_CSUM)
		ic[2] ^= 0x40;
	*(uint16_t *)(ip + 10) = pktcheck_ip_csum(ip, 20);
	rte_pktmbuf_free(sent);
	m = rte_pktmbuf_alloc(pool);
	memcpy(rte_pktmbuf_append(m, (uint16_t)(14 + 28 + qlen)), f,
	       14u + 28 + qlen);
	ck_assert_int_eq(pkt_parse(m, &pi), DP_PASS);
	ck_assert_msg(fwd_reverse(&dp.workers[0], m, 1, &pi), "%s: not taken",
		      tc->name);
	if (tc->drop != DP_PASS) {
		nothing_sent(0);
		ck_assert_msg(dp.workers[0].drops[tc->drop] == 1,
			      "%s: drop %d not counted", tc->name, tc->drop);
		return;
	}
	m = take(0, 0);
	o = check_frame(m, &back, IPPROTO_ICMP);
	ck_assert_uint_eq(pktcheck_sum16(o + 20, 8u + qlen, 0), 0xffff);
	/* embedded: client:47000 -> VIP:53, valid header and UDP sums */
	struct expect inner = {
		0, NULL, CLIENT, IP(192, 0, 2, 3), 47000, 53, 59
	};
	check_ip(o + 28, &inner, IPPROTO_UDP);
	rte_pktmbuf_free(m);
}
END_TEST

/*
 * NAT out-tuple collision: CLIENT:51000 reaches two VIPs whose services
 * share backend 10.1.0.10:8080, so both connections would have the out
 * tuple 10.1.0.10:8080 -> CLIENT:51000. The second one is dropped and
 * counted as nat_tuple_collision, whether it lands on the first one's
 * worker or on the other; the first one's reverse-map entry still
 * names its owner and its replies still reach the client.
 */
START_TEST(test_nat_tuple_collision)
{
	struct spec a = {
		CLIENT, IP(192, 0, 2, 3), 51000, 80, IPPROTO_TCP, SYN, 0, true,
		1460
	};
	struct spec b = {
		CLIENT, IP(192, 0, 2, 6), 51000, 80, IPPROTO_TCP, SYN, 0, true,
		1460
	};
	struct spec r = { IP(10, 1, 0, 10), CLIENT, 8080, 51000, IPPROTO_TCP,
			  SYN | ACK,	    0,	    true, 1460 };
	struct expect back = {
		0, dplab_mac_router, IP(192, 0, 2, 3), CLIENT, 80, 51000, 59
	};
	struct conn_key k = { .saddr = IP(10, 1, 0, 10),
			      .daddr = CLIENT,
			      .sport = htons(8080),
			      .dport = htons(51000),
			      .proto = IPPROTO_TCP };
	struct rte_mbuf *m;
	void *d;

	service(IPPROTO_TCP, IP(192, 0, 2, 6), 80, LB_MODE_NAT, 0,
		IP(10, 1, 0, 10), 8080, 0);
	inject(0, &a, 0);
	rte_pktmbuf_free(take(0, 1));
	ck_assert_int_ge(rte_hash_lookup_data(dp.fwd->nat_rev, &k, &d), 0);
	ck_assert_uint_eq((uintptr_t)d, 1); /* worker 0 */

	for (unsigned int wk = 0; wk < 2; wk++) {
		inject(wk, &b, 0);
		nothing_sent(wk);
		ck_assert_uint_eq(
			dp.workers[wk].drops[DP_DROP_NAT_TUPLE_COLLISION], 1);
		ck_assert_uint_eq(dp.workers[wk].drops[DP_DROP_CONN_TABLE_FULL],
				  0);
		ck_assert_int_ge(rte_hash_lookup_data(dp.fwd->nat_rev, &k, &d),
				 0);
		ck_assert_uint_eq((uintptr_t)d, 1);
	}
	/* the first connection's reply, arriving on worker 1, is handed to
	 * worker 0 and goes back from VIP 192.0.2.3 */
	inject(1, &r, 1);
	nothing_sent(1);
	fwd_poll(&dp.workers[0]);
	m = take(0, 0);
	check_frame(m, &back, IPPROTO_TCP);
	rte_pktmbuf_free(m);
}
END_TEST

START_TEST(test_no_conn_and_full)
{
	struct spec ack = {
		CLIENT, IP(192, 0, 2, 3), 48000, 80, IPPROTO_TCP, ACK, 0, true,
		0
	};
	struct spec u = {
		CLIENT, IP(192, 0, 2, 1), 0, 53, IPPROTO_UDP, 0, 4, false, 0
	};
	struct spec t = {
		CLIENT, IP(192, 0, 2, 1), 0, 80, IPPROTO_TCP, SYN, 0, true, 0
	};
	struct conn_table_stats st;

	inject(0, &ack, 0);
	nothing_sent(0);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_NO_CONN], 1);
	/* worker 1's table holds 64, established connections (which are
	 * never evicted; eviction: test_fwd_limits) */
	for (int i = 0; i < 64; i++) {
		t.sport = (uint16_t)(49000 + i);
		t.flags = SYN;
		inject(1, &t, 0);
		rte_pktmbuf_free(take(1, 1));
		t.flags = ACK;
		inject(1, &t, 0);
		rte_pktmbuf_free(take(1, 1));
	}
	u.sport = 49100;
	inject(1, &u, 0);
	nothing_sent(1);
	ck_assert_uint_eq(dp.workers[1].drops[DP_DROP_CONN_TABLE_FULL], 1);
	conn_get_stats(fwd_conn_table(&dp, 1), &st);
	ck_assert_uint_eq(st.table_full, 1);
	ck_assert_uint_eq(st.conns, 64);
	/* existing flows still pass */
	t.sport = 49005;
	inject(1, &t, 0);
	rte_pktmbuf_free(take(1, 1));
}
END_TEST

/* ---- FULL-NAT with PROXY protocol v2 -------------------------------------- */

#define PP_VIP	 IP(192, 0, 2, 5)
#define PP_LADDR IP(10, 1, 0, 101)
#define PP_LEN	 28u

/*
 * frame(sp) with sequence and ACK numbers set and, when olen is not 0,
 * the first olen payload bytes turned into TCP options opt (olen a
 * multiple of 4); the checksum is computed again from scratch.
 */
static struct rte_mbuf *
tcp_frame(const struct spec *sp, uint16_t port, uint32_t seq, uint32_t ack,
	  const uint8_t *opt, uint8_t olen)
{
	struct rte_mbuf *m = frame(sp, port);
	uint8_t *ip = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
	uint8_t *th = ip + 20;
	uint16_t iplen = (uint16_t)(ip[2] << 8 | ip[3]);
	uint32_t v;

	ck_assert_uint_eq(sp->mss, 0);
	ck_assert_uint_ge(sp->payload, olen);
	v = htonl(seq);
	memcpy(th + 4, &v, 4);
	v = htonl(ack);
	memcpy(th + 8, &v, 4);
	if (olen > 0) {
		memcpy(th + 20, opt, olen);
		th[12] = (uint8_t)((20 + olen) / 4 << 4);
	}
	th[16] = th[17] = 0;
	v = pktcheck_l4_csum(sp->saddr, sp->daddr, IPPROTO_TCP, th,
			     (uint16_t)(iplen - 20));
	memcpy(th + 16, &v, 2);
	return m;
}

/* Send m in on port through worker wk like classify would. */
static void
inject_m(unsigned int wk, struct rte_mbuf *m, uint16_t port)
{
	struct pkt_info pi;
	struct lb_addr vip = { .family = AF_INET };
	const struct svc *s;

	ck_assert_int_eq(pkt_parse(m, &pi), DP_PASS);
	vip.v4 = pi.daddr;
	s = svc_lookup(dp.svc, pi.proto, &vip, pi.dport);
	if (s != NULL) {
		fwd_forward(&dp.workers[wk], m, port, &pi, s);
		return;
	}
	if (!fwd_reverse(&dp.workers[wk], m, port, &pi))
		rte_pktmbuf_free(m);
}

static uint32_t
be32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The 28 bytes a backend must see first, written out by hand. */
static void
pp_expected(uint8_t *h, uint16_t cport, uint16_t vport)
{
	static const uint8_t sig[12] = { '\r', '\n', '\r', '\n', 0,   '\r',
					 '\n', 'Q',  'U',  'I',	 'T', '\n' };
	uint32_t c = CLIENT, v = PP_VIP;

	memcpy(h, sig, 12);
	h[12] = 0x21; /* version 2, PROXY */
	h[13] = 0x11; /* AF_INET, STREAM */
	h[14] = 0;
	h[15] = 12;
	memcpy(h + 16, &c, 4);
	memcpy(h + 20, &v, 4);
	h[24] = (uint8_t)(cport >> 8);
	h[25] = (uint8_t)cport;
	h[26] = (uint8_t)(vport >> 8);
	h[27] = (uint8_t)vport;
}

/*
 * Handshake of CLIENT:cport through the PROXY v2 service: SYN seq 1000
 * (no TOA, MSS untouched), SYN-ACK seq 9000 ack 1001, ACK seq 1001
 * unshifted. Returns the local port.
 */
static uint16_t
pp_handshake(uint16_t cport)
{
	struct spec syn = { CLIENT, PP_VIP, cport, 443, IPPROTO_TCP,
			    SYN,    0,	    true,  1460 };
	struct spec sa = { IP(10, 1, 0, 11), PP_LADDR, 8443, 0, IPPROTO_TCP,
			   SYN | ACK,	     0,	       true, 0 };
	struct spec ack = { CLIENT, PP_VIP, cport, 443, IPPROTO_TCP,
			    ACK,    0,	    true,  0 };
	struct expect out = { 1, dplab_mac_b11, PP_LADDR, IP(10, 1, 0, 11),
			      0, 8443,		59 };
	struct expect back = { 0, dplab_mac_router, PP_VIP, CLIENT, 443, cport,
			       59 };
	struct rte_mbuf *m;
	const uint8_t *ip;
	uint16_t lport;

	inject(0, &syn, 0);
	m = take(0, 1);
	ip = check_frame(m, &out, IPPROTO_TCP);
	ck_assert_uint_eq(ip[2] << 8 | ip[3], 20 + 24); /* no TOA */
	ck_assert_uint_eq(ip[20 + 22] << 8 | ip[20 + 23], 1460);
	ck_assert_uint_eq(be32_at(ip + 24), 1000);
	lport = (uint16_t)(ip[20] << 8 | ip[21]);
	rte_pktmbuf_free(m);

	sa.dport = lport;
	inject_m(0, tcp_frame(&sa, 1, 9000, 1001, NULL, 0), 1);
	m = take(0, 0);
	ip = check_frame(m, &back, IPPROTO_TCP);
	ck_assert_uint_eq(be32_at(ip + 28), 1001);
	rte_pktmbuf_free(m);

	out.sport = lport;
	inject_m(0, tcp_frame(&ack, 0, 1001, 9001, NULL, 0), 0);
	m = take(0, 1);
	ip = check_frame(m, &out, IPPROTO_TCP);
	ck_assert_uint_eq(ip[2] << 8 | ip[3], 40);
	ck_assert_uint_eq(be32_at(ip + 24), 1001);
	rte_pktmbuf_free(m);
	return lport;
}

/* Client data (payload bytes at seq) to the backend: returns the frame
 * sent, checked against out; *in gets a copy of the client's payload. */
static struct rte_mbuf *
pp_data(uint16_t cport, uint16_t lport, uint32_t seq, uint16_t payload,
	uint8_t *in)
{
	struct spec d = { CLIENT, PP_VIP,  cport, 443, IPPROTO_TCP,
			  ACK,	  payload, true,  0 };
	struct expect out = { 1,     dplab_mac_b11, PP_LADDR, IP(10, 1, 0, 11),
			      lport, 8443,	    59 };
	struct rte_mbuf *m = tcp_frame(&d, 0, seq, 9001, NULL, 0);

	memcpy(in, rte_pktmbuf_mtod_offset(m, uint8_t *, 14 + 40), payload);
	inject_m(0, m, 0);
	m = take(0, 1);
	check_frame(m, &out, IPPROTO_TCP);
	return m;
}

START_TEST(test_fnat_proxy)
{
	uint8_t hdr[PP_LEN], in[200], opt[12];
	struct spec b = { IP(10, 1, 0, 11),
			  PP_LADDR,
			  8443,
			  0,
			  IPPROTO_TCP,
			  ACK,
			  12,
			  true,
			  0 };
	struct expect back = { 0, dplab_mac_router, PP_VIP, CLIENT, 443, 50000,
			       59 };
	struct rte_mbuf *m;
	const uint8_t *ip;
	uint16_t lport;

	service(IPPROTO_TCP, PP_VIP, 443, LB_MODE_FNAT, LB_SVC_F_PROXY_V2,
		IP(10, 1, 0, 11), 8443, PP_LADDR);
	lport = pp_handshake(50000);
	pp_expected(hdr, 50000, 443);

	/* first payload: the header, then the client's 100 bytes */
	m = pp_data(50000, lport, 1001, 100, in);
	ip = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
	ck_assert_uint_eq(ip[2] << 8 | ip[3], 20 + 20 + PP_LEN + 100);
	ck_assert_uint_eq(be32_at(ip + 24), 1001);
	ck_assert_int_eq(memcmp(ip + 40, hdr, PP_LEN), 0);
	ck_assert_int_eq(memcmp(ip + 40 + PP_LEN, in, 100), 0);
	rte_pktmbuf_free(m);

	/* the next segment sits PP_LEN later */
	m = pp_data(50000, lport, 1101, 50, in);
	ip = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
	ck_assert_uint_eq(ip[2] << 8 | ip[3], 20 + 20 + 50);
	ck_assert_uint_eq(be32_at(ip + 24), 1101 + PP_LEN);
	ck_assert_int_eq(memcmp(ip + 40, in, 50), 0);
	rte_pktmbuf_free(m);

	/* the backend's ACK of everything: back in the client's space; its
	 * own sequence number is not touched */
	b.dport = lport;
	b.payload = 0;
	inject_m(0, tcp_frame(&b, 1, 9001, 1151 + PP_LEN, NULL, 0), 1);
	m = take(0, 0);
	ip = check_frame(m, &back, IPPROTO_TCP);
	ck_assert_uint_eq(be32_at(ip + 24), 9001);
	ck_assert_uint_eq(be32_at(ip + 28), 1151);
	rte_pktmbuf_free(m);

	/* an ACK inside the header: nothing of the client's acknowledged */
	inject_m(0, tcp_frame(&b, 1, 9001, 1001 + 10, NULL, 0), 1);
	m = take(0, 0);
	ip = check_frame(m, &back, IPPROTO_TCP);
	ck_assert_uint_eq(be32_at(ip + 28), 1001);
	rte_pktmbuf_free(m);

	/* SACK at an odd offset (NOP, SACK, NOP): edges shifted back */
	memset(opt, 1, sizeof(opt));
	opt[1] = 5;
	opt[2] = 10;
	opt[3] = (uint8_t)((1201 + PP_LEN) >> 24);
	opt[4] = (uint8_t)((1201 + PP_LEN) >> 16);
	opt[5] = (uint8_t)((1201 + PP_LEN) >> 8);
	opt[6] = (uint8_t)(1201 + PP_LEN);
	opt[7] = (uint8_t)((1251 + PP_LEN) >> 24);
	opt[8] = (uint8_t)((1251 + PP_LEN) >> 16);
	opt[9] = (uint8_t)((1251 + PP_LEN) >> 8);
	opt[10] = (uint8_t)(1251 + PP_LEN);
	b.payload = 12;
	inject_m(0, tcp_frame(&b, 1, 9001, 1151 + PP_LEN, opt, 12), 1);
	m = take(0, 0);
	ip = check_frame(m, &back, IPPROTO_TCP);
	ck_assert_uint_eq((ip[32] >> 4) * 4, 32);
	ck_assert_uint_eq(be32_at(ip + 28), 1151);
	ck_assert_uint_eq(ip[40 + 1], 5);
	ck_assert_uint_eq(be32_at(ip + 40 + 3), 1201);
	ck_assert_uint_eq(be32_at(ip + 40 + 7), 1251);
	rte_pktmbuf_free(m);

	/* the first segment again: the same header again, same seq */
	m = pp_data(50000, lport, 1001, 100, in);
	ip = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
	ck_assert_uint_eq(ip[2] << 8 | ip[3], 20 + 20 + PP_LEN + 100);
	ck_assert_uint_eq(be32_at(ip + 24), 1001);
	ck_assert_int_eq(memcmp(ip + 40, hdr, PP_LEN), 0);
	ck_assert_int_eq(memcmp(ip + 40 + PP_LEN, in, 100), 0);
	rte_pktmbuf_free(m);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_NO_HEADROOM], 0);
}
END_TEST

/*
 * Limits: TOA and PROXY v2 together send PROXY v2 only; a SYN's payload
 * is removed; a first segment without headroom is dropped and counted
 * and its retransmission gets the header; a first segment of the full
 * MTU keeps its size, its last PP_LEN bytes following in a second
 * segment, and their retransmission is shifted like any later segment.
 */
START_TEST(test_fnat_proxy_limits)
{
	struct spec tfo = { CLIENT, PP_VIP, 50100, 443, IPPROTO_TCP,
			    SYN,    60,	    true,  0 };
	struct expect out = { 1, dplab_mac_b11, PP_LADDR, IP(10, 1, 0, 11),
			      0, 8443,		59 };
	static uint8_t in[1500];
	uint8_t hdr[PP_LEN];
	struct rte_mbuf *m;
	const uint8_t *ip;
	uint16_t lport;
	uint8_t *d;

	service(IPPROTO_TCP, PP_VIP, 443, LB_MODE_FNAT,
		LB_SVC_F_PROXY_V2 | LB_SVC_F_TOA, IP(10, 1, 0, 11), 8443,
		PP_LADDR);
	inject_m(0, tcp_frame(&tfo, 0, 1000, 0, NULL, 0), 0);
	m = take(0, 1);
	ip = check_frame(m, &out, IPPROTO_TCP);
	ck_assert_uint_eq(ip[2] << 8 | ip[3], 40); /* payload gone, no TOA */
	rte_pktmbuf_free(m);

	lport = pp_handshake(50200); /* checks: no TOA with both flags */
	pp_expected(hdr, 50200, 443);

	/* no headroom: dropped, nothing half-written */
	struct spec sp = { CLIENT, PP_VIP, 50200, 443, IPPROTO_TCP,
			   ACK,	   100,	   true,  0 };
	m = tcp_frame(&sp, 0, 1001, 9001, NULL, 0);
	d = rte_pktmbuf_mtod(m, uint8_t *);
	m->data_off = 0;
	memmove(rte_pktmbuf_mtod(m, uint8_t *), d, rte_pktmbuf_data_len(m));
	ck_assert_uint_eq(rte_pktmbuf_headroom(m), 0);
	inject_m(0, m, 0);
	nothing_sent(0);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_NO_HEADROOM], 1);

	/* 1460 bytes with PSH: 1500 with the header would exceed the MTU,
	 * so the last PP_LEN bytes follow in a segment of their own */
	sp.flags = ACK | RTE_TCP_PSH_FLAG;
	sp.payload = 1460;
	m = tcp_frame(&sp, 0, 1001, 9001, NULL, 0);
	memcpy(in, rte_pktmbuf_mtod_offset(m, uint8_t *, 14 + 40), 1460);
	inject_m(0, m, 0);
	ck_assert_uint_eq(dp.workers[0].tx[0].n, 0);
	ck_assert_uint_eq(dp.workers[0].tx[1].n, 2);
	out.sport = lport;
	for (int i = 0; i < 2; i++) {
		m = dp.workers[0].tx[1].pkts[i];
		ip = check_frame(m, &out, IPPROTO_TCP);
		if (i == 0) {
			ck_assert_uint_eq(ip[2] << 8 | ip[3], 1500);
			ck_assert_uint_eq(be32_at(ip + 24), 1001);
			ck_assert_uint_eq(ip[33], ACK); /* PSH moved on */
			ck_assert_int_eq(memcmp(ip + 40, hdr, PP_LEN), 0);
			ck_assert_int_eq(
				memcmp(ip + 40 + PP_LEN, in, 1460 - PP_LEN), 0);
		} else {
			ck_assert_uint_eq(ip[2] << 8 | ip[3], 40 + PP_LEN);
			ck_assert_uint_eq(be32_at(ip + 24), 1001 + 1460);
			ck_assert_uint_eq(ip[33], ACK | RTE_TCP_PSH_FLAG);
			ck_assert_int_eq(
				memcmp(ip + 40, in + 1460 - PP_LEN, PP_LEN), 0);
		}
		rte_pktmbuf_free(m);
	}
	dp.workers[0].tx[1].n = 0;
	/* had the second one been lost, the backend would acknowledge
	 * 1001 + 1460 of its space: the client's 1001 + 1432 */
	struct spec b = { IP(10, 1, 0, 11),
			  PP_LADDR,
			  8443,
			  lport,
			  IPPROTO_TCP,
			  ACK,
			  0,
			  true,
			  0 };
	struct expect back = { 0, dplab_mac_router, PP_VIP, CLIENT, 443, 50200,
			       59 };
	inject_m(0, tcp_frame(&b, 1, 9001, 1001 + 1460, NULL, 0), 1);
	m = take(0, 0);
	ip = check_frame(m, &back, IPPROTO_TCP);
	ck_assert_uint_eq(be32_at(ip + 28), 1001 + 1460 - PP_LEN);
	rte_pktmbuf_free(m);
	/* ... and the client would send the tail again from there */
	m = pp_data(50200, lport, 1001 + 1460 - PP_LEN, PP_LEN, in);
	ip = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
	ck_assert_uint_eq(ip[2] << 8 | ip[3], 40 + PP_LEN);
	ck_assert_uint_eq(be32_at(ip + 24), 1001 + 1460);
	rte_pktmbuf_free(m);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_TOO_BIG], 0);
}
END_TEST

/*
 * A client segment that starts before pp_seq and carries data past it
 * (Linux keeps the new part of a partly-old segment) would put the
 * client's own bytes where the header belongs: here a forged PROXY v2
 * header claiming 198.51.100.66. It is dropped and counted; the real
 * first segment then gets the balancer's header first.
 */
START_TEST(test_fnat_proxy_forged)
{
	static const uint8_t sig[12] = { '\r', '\n', '\r', '\n', 0,   '\r',
					 '\n', 'Q',  'U',  'I',	 'T', '\n' };
	struct spec sp = { CLIENT, PP_VIP,	    50300, 443, IPPROTO_TCP,
			   ACK,	   4 + PP_LEN + 20, true,  0 };
	uint8_t hdr[PP_LEN], in[200], *fake;
	uint32_t forged = IP(198, 51, 100, 66);
	struct rte_mbuf *m;
	const uint8_t *ip;
	uint16_t lport, v;

	service(IPPROTO_TCP, PP_VIP, 443, LB_MODE_FNAT, LB_SVC_F_PROXY_V2,
		IP(10, 1, 0, 11), 8443, PP_LADDR);
	lport = pp_handshake(50300);
	pp_expected(hdr, 50300, 443);

	/* seq 997: 4 old bytes, then a forged header at pp_seq 1001 */
	m = tcp_frame(&sp, 0, 997, 9001, NULL, 0);
	ip = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
	fake = (uint8_t *)ip + 40 + 4;
	memcpy(fake, sig, 12);
	fake[12] = 0x21;
	fake[13] = 0x11;
	fake[14] = 0;
	fake[15] = 12;
	memcpy(fake + 16, &forged, 4);
	memcpy(fake + 20, &forged, 4);
	fake[24] = fake[26] = 0;
	fake[25] = fake[27] = 1;
	((uint8_t *)ip)[36] = ((uint8_t *)ip)[37] = 0;
	v = pktcheck_l4_csum(CLIENT, PP_VIP, IPPROTO_TCP, ip + 20,
			     (uint16_t)(20 + sp.payload));
	memcpy((uint8_t *)ip + 36, &v, 2);
	inject_m(0, m, 0);
	nothing_sent(0);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_PROXY_OVERLAP], 1);

	/* the real first segment: the balancer's header, then the data */
	m = pp_data(50300, lport, 1001, 60, in);
	ip = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
	ck_assert_uint_eq(be32_at(ip + 24), 1001);
	ck_assert_int_eq(memcmp(ip + 40, hdr, PP_LEN), 0);
	ck_assert_int_eq(memcmp(ip + 40 + PP_LEN, in, 60), 0);
	rte_pktmbuf_free(m);

	/* and after it, an old segment reaching into new data: dropped too */
	sp.payload = 100;
	inject_m(0, tcp_frame(&sp, 0, 1001 + 30, 9001, NULL, 0), 0);
	m = take(0, 1);
	ip = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
	ck_assert_uint_eq(be32_at(ip + 24), 1001 + 30 + PP_LEN);
	rte_pktmbuf_free(m);
	inject_m(0, tcp_frame(&sp, 0, 990, 9001, NULL, 0), 0);
	nothing_sent(0);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_PROXY_OVERLAP], 2);
}
END_TEST

/* The state of the connection whose in tuple is CLIENT:cport -> vip:vport
 * on worker 0. */
static uint8_t
conn_state_of(uint32_t vip, uint16_t cport, uint16_t vport)
{
	struct conn_key k = { .saddr = CLIENT,
			      .daddr = vip,
			      .sport = htons(cport),
			      .dport = htons(vport),
			      .proto = IPPROTO_TCP };
	unsigned int dir;
	struct conn *c = conn_lookup(fwd_conn_table(&dp, 0), &k, &dir);

	ck_assert_ptr_nonnull(c);
	return c->state;
}

/*
 * A PROXY v2 connection closed before the client sent a byte: its FIN at
 * pp_seq carries the header, so that the backend's ACK of the FIN maps
 * back to the client's FIN + 1 and both sides finish closing.
 */
START_TEST(test_fnat_proxy_fin_only)
{
	struct spec fin = { CLIENT, PP_VIP,	 50400,
			    443,    IPPROTO_TCP, ACK | RTE_TCP_FIN_FLAG,
			    0,	    true,	 0 };
	struct spec b = {
		IP(10, 1, 0, 11),	PP_LADDR, 8443, 0, IPPROTO_TCP,
		ACK | RTE_TCP_FIN_FLAG, 0,	  true, 0
	};
	struct expect back = { 0, dplab_mac_router, PP_VIP, CLIENT, 443, 50400,
			       59 };
	uint32_t seq, end;
	uint8_t hdr[PP_LEN];
	struct rte_mbuf *m;
	const uint8_t *ip;
	uint16_t lport;

	service(IPPROTO_TCP, PP_VIP, 443, LB_MODE_FNAT, LB_SVC_F_PROXY_V2,
		IP(10, 1, 0, 11), 8443, PP_LADDR);
	lport = pp_handshake(50400);
	pp_expected(hdr, 50400, 443);

	inject_m(0, tcp_frame(&fin, 0, 1001, 9001, NULL, 0), 0);
	m = take(0, 1);
	ip = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
	ck_assert(ip[33] & RTE_TCP_FIN_FLAG);
	seq = be32_at(ip + 24);
	/* where the backend's stream ends: seq + payload + the FIN */
	end = seq + (uint32_t)((ip[2] << 8 | ip[3]) - 40) + 1;
	ck_assert_uint_eq(seq, 1001);
	ck_assert_uint_eq(end, 1001 + PP_LEN + 1);
	ck_assert_int_eq(memcmp(ip + 40, hdr, PP_LEN), 0);
	rte_pktmbuf_free(m);

	/* the backend acknowledges the FIN and closes: the client sees its
	 * FIN acknowledged */
	b.dport = lport;
	inject_m(0, tcp_frame(&b, 1, 9001, end, NULL, 0), 1);
	m = take(0, 0);
	ip = check_frame(m, &back, IPPROTO_TCP);
	ck_assert_uint_eq(be32_at(ip + 24), 9001);
	ck_assert_uint_eq(be32_at(ip + 28), 1002);
	rte_pktmbuf_free(m);

	/* the client's last ACK sits after the header in the backend's space */
	fin.flags = ACK;
	inject_m(0, tcp_frame(&fin, 0, 1002, 9002, NULL, 0), 0);
	m = take(0, 1);
	ip = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
	ck_assert_uint_eq(be32_at(ip + 24), end);
	ck_assert_uint_eq(be32_at(ip + 28), 9002);
	rte_pktmbuf_free(m);
	ck_assert_uint_eq(conn_state_of(PP_VIP, 50400, 443), CONN_S_TIME_WAIT);

	/* a retransmitted FIN at pp_seq gets the same header, same end */
	fin.flags = ACK | RTE_TCP_FIN_FLAG;
	inject_m(0, tcp_frame(&fin, 0, 1001, 9002, NULL, 0), 0);
	m = take(0, 1);
	ip = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
	ck_assert_uint_eq(be32_at(ip + 24), 1001);
	ck_assert_uint_eq((ip[2] << 8 | ip[3]) - 40, PP_LEN);
	rte_pktmbuf_free(m);
}
END_TEST

/* ---- RST within the window of sequence numbers seen (RFC 5961) ------- */

#define RW_VIP IP(192, 0, 2, 7)

/* The connection of CLIENT:cport -> vip:80 on worker 0, or NULL. */
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

/* Seconds left before c expires. */
static uint32_t
ttl_of(const struct conn *c)
{
	return c->expires - conn_now(fwd_conn_table(&dp, 0));
}

/*
 * A NAT service with two backends (rr): a blind RST from the client's
 * or the backend's side, its sequence number far from anything seen, is
 * dropped and counted; the connection stays ESTABLISHED with its idle
 * timeout, and a SYN with the same 4-tuple afterwards stays on the same
 * backend. An RST at the sequence number the client is at closes it.
 */
START_TEST(test_rst_window)
{
	struct spec syn = { CLIENT, RW_VIP, 52000, 80, IPPROTO_TCP,
			    SYN,    0,	    true,  0 };
	struct spec sa = { IP(10, 1, 0, 10), CLIENT, 8080, 52000, IPPROTO_TCP,
			   SYN | ACK,	     0,	     true, 0 };
	struct spec data = { CLIENT, RW_VIP, 52000, 80, IPPROTO_TCP,
			     ACK,    100,    true,  0 };
	struct spec rst = { CLIENT,	      RW_VIP, 52000, 80, IPPROTO_TCP,
			    RTE_TCP_RST_FLAG, 0,      true,  0 };
	struct spec brst = {
		IP(10, 1, 0, 10),	CLIENT, 8080, 52000, IPPROTO_TCP,
		RTE_TCP_RST_FLAG | ACK, 0,	true, 0
	};
	struct nl_msg *msg = lbmsg_new(LB_MSG_BACKEND_NEW, 0);
	struct lb_addr v = { .family = AF_INET, .v4 = RW_VIP };
	struct lb_addr b2 = { .family = AF_INET, .v4 = IP(10, 1, 0, 11) };
	struct rte_mbuf *m;
	const uint8_t *ip;
	struct conn *c;

	service(IPPROTO_TCP, RW_VIP, 80, LB_MODE_NAT, 0, IP(10, 1, 0, 10), 8080,
		0);
	lbmsg_put_svc_key(msg, IPPROTO_TCP, &v, 80);
	lbmsg_put_addr(msg, LB_ATTR_ADDR, &b2);
	nla_put_u16(msg, LB_ATTR_PORT, 8080);
	nla_put_u32(msg, LB_ATTR_WEIGHT, 1);
	ctrl(msg);

	/* client ISN 0x10000000, backend ISN 0x70000000 */
	inject_m(0, tcp_frame(&syn, 0, 0x10000000, 0, NULL, 0), 0);
	m = take(0, 1);
	ip = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
	ck_assert_int_eq(memcmp(ip + 16, &sa.saddr, 4), 0); /* 10.1.0.10 */
	rte_pktmbuf_free(m);
	inject_m(0, tcp_frame(&sa, 1, 0x70000000, 0x10000001, NULL, 0), 1);
	rte_pktmbuf_free(take(0, 0));
	inject_m(0, tcp_frame(&data, 0, 0x10000001, 0x70000001, NULL, 0), 0);
	rte_pktmbuf_free(take(0, 1));
	c = conn_of(RW_VIP, 52000);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->state, CONN_S_ESTABLISHED);
	ck_assert_uint_ge(ttl_of(c), 899);

	/* blind RSTs: from the client side, and as if from the backend */
	inject_m(0, tcp_frame(&rst, 0, 0x90000000, 0, NULL, 0), 0);
	nothing_sent(0);
	inject_m(0, tcp_frame(&brst, 1, 0x30000000, 0x10000065, NULL, 0), 1);
	nothing_sent(0);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_RST_OUT_OF_WINDOW], 2);
	c = conn_of(RW_VIP, 52000);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->state, CONN_S_ESTABLISHED);
	ck_assert_uint_ge(ttl_of(c), 899);

	/* then a SYN with the right 4-tuple: still the same backend */
	inject_m(0, tcp_frame(&syn, 0, 0x50000000, 0, NULL, 0), 0);
	m = take(0, 1);
	ip = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
	ck_assert_int_eq(memcmp(ip + 16, &sa.saddr, 4), 0);
	rte_pktmbuf_free(m);
	ck_assert_uint_eq(conn_of(RW_VIP, 52000)->state, CONN_S_ESTABLISHED);

	/* the client's own RST, at its next sequence number, closes it */
	inject_m(0, tcp_frame(&rst, 0, 0x10000001 + 100, 0, NULL, 0), 0);
	rte_pktmbuf_free(take(0, 1));
	c = conn_of(RW_VIP, 52000);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->state, CONN_S_CLOSE);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_RST_OUT_OF_WINDOW], 2);
}
END_TEST

/* ---- a backend that is down under on_fail = quiesce ------------------ */

#define DN_VIP IP(192, 0, 2, 8)

/* BACKEND_NEW (weight 1) or BACKEND_SET (weight, flags) of b:port in
 * service proto DN_VIP:vport. */
static void
backend_msg(uint16_t type, uint8_t proto, uint16_t vport, uint32_t b,
	    uint16_t port, uint32_t weight, uint32_t flags)
{
	struct nl_msg *msg = lbmsg_new(type, 0);
	struct lb_addr v = { .family = AF_INET, .v4 = DN_VIP };
	struct lb_addr ba = { .family = AF_INET, .v4 = b };

	lbmsg_put_svc_key(msg, proto, &v, vport);
	lbmsg_put_addr(msg, LB_ATTR_ADDR, &ba);
	nla_put_u16(msg, LB_ATTR_PORT, port);
	nla_put_u32(msg, LB_ATTR_WEIGHT, weight);
	if (type == LB_MSG_BACKEND_SET)
		nla_put_u32(msg, LB_ATTR_FLAGS, flags);
	ctrl(msg);
}

/* Send sp in on worker 0; the backend address it went to. */
static uint32_t
sent_to(const struct spec *sp)
{
	struct rte_mbuf *m;
	uint32_t d;

	inject(0, sp, 0);
	m = take(0, 1);
	memcpy(&d, rte_pktmbuf_mtod_offset(m, uint8_t *, 14 + 16), 4);
	rte_pktmbuf_free(m);
	return d;
}

struct down_case {
	const char *name;
	uint8_t proto;
	uint32_t svc_flags;
	uint32_t be_flags; /* of the backend set to weight 0 */
	bool moves;	   /* the flow's next packet goes to the other one */
};

static const struct down_case down_cases[] = {
	{ "udp, down: rescheduled", IPPROTO_UDP, 0, LB_BACKEND_F_DOWN, true },
	{ "udp, weight 0 by hand: drains", IPPROTO_UDP, 0, 0, false },
	{ "udp, down, udp-drain: drains", IPPROTO_UDP, LB_SVC_F_UDP_DRAIN,
	  LB_BACKEND_F_DOWN, false },
	{ "tcp, down: drains", IPPROTO_TCP, 0, LB_BACKEND_F_DOWN, false },
};

/*
 * A NAT service (rr) with backends 10.1.0.10 and .11: a flow starts on
 * one of them, which then gets weight 0, down or not; the flow's next
 * packet goes to the other backend only for UDP on a down backend
 * without the service's udp-drain flag.
 */
START_TEST(test_backend_down)
{
	const struct down_case *dc = &down_cases[_i];
	const uint16_t vport = dc->proto == IPPROTO_UDP ? 53 : 80;
	struct spec sp = { CLIENT, DN_VIP, 53000, vport, dc->proto,
			   SYN,	   0,	   true,  0 };
	uint32_t first, other, then;

	if (dc->proto == IPPROTO_UDP) {
		sp.flags = 0;
		sp.payload = 20;
	}
	service(dc->proto, DN_VIP, vport, LB_MODE_NAT, dc->svc_flags,
		IP(10, 1, 0, 10), 8080, 0);
	backend_msg(LB_MSG_BACKEND_NEW, dc->proto, vport, IP(10, 1, 0, 11),
		    8080, 1, 0);
	first = sent_to(&sp);
	other = first == IP(10, 1, 0, 10) ? IP(10, 1, 0, 11) : IP(10, 1, 0, 10);
	if (dc->proto == IPPROTO_TCP) {
		struct spec sa = { first,     CLIENT, 8080, 53000, IPPROTO_TCP,
				   SYN | ACK, 0,      true, 0 };

		inject(0, &sa, 1);
		rte_pktmbuf_free(take(0, 0));
		sp.flags = ACK;
		sp.payload = 10;
		ck_assert_uint_eq(sent_to(&sp), first);
	}
	backend_msg(LB_MSG_BACKEND_SET, dc->proto, vport, first, 8080, 0,
		    dc->be_flags);
	then = sent_to(&sp);
	ck_assert_msg(then == (dc->moves ? other : first),
		      "%s: went to %08x, first %08x", dc->name, ntohl(then),
		      ntohl(first));
	/* and stays there */
	ck_assert_uint_eq(sent_to(&sp), then);
}
END_TEST

/* ---- load-aware schedulers ------------------------------------------------ */

static const char *const load_scheds[] = { "lc", "wlc", "lrt" };

/*
 * A NAT service with backends 10.1.0.10 and .11 and a load-aware
 * scheduler (its ops say load_aware): the first new flow goes to .10 (a
 * tie goes to the first), the second to .11 because the worker's load
 * view counts the first flow on .10, the third back to .10. Without a
 * load view every flow would go to .10.
 */
START_TEST(test_load_aware)
{
	const struct dplab_backend be[2] = { { IP(10, 1, 0, 10), 80, 1 },
					     { IP(10, 1, 0, 11), 80, 1 } };
	const struct dplab_svc d = { .proto = IPPROTO_TCP,
				     .vip = DN_VIP,
				     .vport = 80,
				     .mode = LB_MODE_NAT,
				     .sched = load_scheds[_i],
				     .b = be,
				     .nb = 2 };
	const uint32_t want[3] = { IP(10, 1, 0, 10), IP(10, 1, 0, 11),
				   IP(10, 1, 0, 10) };
	char why[LBMSG_ERRMSG_MAX];

	ck_assert_msg(dplab_service(dp.svc, &d, why, sizeof(why)) == 0,
		      "service: %s", why);
	for (uint16_t i = 0; i < 3; i++) {
		struct spec sp = { CLIENT, DN_VIP,	(uint16_t)(40000 + i),
				   80,	   IPPROTO_TCP, SYN,
				   0,	   true,	0 };
		uint32_t got = sent_to(&sp);

		ck_assert_msg(got == want[i], "%s: flow %u went to %08x",
			      load_scheds[_i], i, ntohl(got));
	}
}
END_TEST

/* ---- the unmap guard (net_memif peer leaving during a burst) ------------ */

struct unmap_run {
	struct rte_rcu_qsbr *v;
	void *page;
	int online; /* the reader is registered and online */
	int quiet;  /* the reader reports quiescent states from now on */
	int stop;
	int done; /* munmap() returned */
	int rc;
};

/* A worker: until told, it is "inside a burst" (no quiescent state). */
static void *
unmap_reader(void *arg)
{
	struct unmap_run *r = arg;

	rte_rcu_qsbr_thread_register(r->v, 0);
	rte_rcu_qsbr_thread_online(r->v, 0);
	__atomic_store_n(&r->online, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&r->quiet, __ATOMIC_ACQUIRE))
			rte_rcu_qsbr_quiescent(r->v, 0);
		rte_pause();
	}
	rte_rcu_qsbr_thread_offline(r->v, 0);
	rte_rcu_qsbr_thread_unregister(r->v, 0);
	return NULL;
}

/* The EAL interrupt thread: the PMD unmapping its rings. */
static void *
unmap_caller(void *arg)
{
	struct unmap_run *r = arg;

	r->rc = munmap(r->page, 4096);
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * While a worker may be inside an RX/TX burst, a library's munmap() from
 * another thread waits for the worker's next quiescent state; once the
 * guard is disarmed it does not wait at all.
 */
START_TEST(test_unmap_waits_for_workers)
{
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	struct unmap_run r = { 0 };
	pthread_t rd, ca;
	int early, ca_ok;
	void *page;

	r.v = rte_zmalloc("test_qsv", rte_rcu_qsbr_get_memsize(1),
			  RTE_CACHE_LINE_SIZE);
	ck_assert_ptr_nonnull(r.v);
	ck_assert_int_eq(rte_rcu_qsbr_init(r.v, 1), 0);
	r.page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(r.page, MAP_FAILED);
	ck_assert_int_eq(pthread_create(&rd, NULL, unmap_reader, &r), 0);
	while (!__atomic_load_n(&r.online, __ATOMIC_ACQUIRE))
		rte_pause();
	dp_unmap_guard_arm(r.v);
	ca_ok = pthread_create(&ca, NULL, unmap_caller, &r) == 0;
	if (ca_ok)
		nanosleep(&ts, NULL);
	early = __atomic_load_n(&r.done, __ATOMIC_ACQUIRE);
	__atomic_store_n(&r.quiet, 1, __ATOMIC_RELEASE);
	if (ca_ok)
		pthread_join(ca, NULL);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(rd, NULL);
	dp_unmap_guard_disarm();
	rte_free(r.v);
	ck_assert(ca_ok);
	ck_assert_msg(early == 0, "munmap() returned while a worker was "
				  "inside a burst");
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.rc, 0);
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(page, MAP_FAILED);
	ck_assert_int_eq(munmap(page, 4096), 0);
}
END_TEST

/* ---- ICMP the forwarding path generates ------------------------------------ */

/* Set m's TTL (IP checksum recomputed). */
static void
set_ttl(struct rte_mbuf *m, uint8_t ttl)
{
	struct rte_ipv4_hdr *ip =
		rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);

	ip->time_to_live = ttl;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = pktcheck_ip_csum(ip, 20);
}

/* Receive m on port through worker wk's whole receive path (worker.c). */
static void
rx(unsigned int wk, struct rte_mbuf *m, uint16_t port)
{
	worker_rx_burst(&dp.workers[wk], port, &m, 1);
}

/*
 * An ICMP error in frame m: Ethernet and outer IPv4 as e says (checksums
 * verified from scratch), type/code, its checksum over the whole
 * message, the rest-of-header word, and the quoted datagram equal to the
 * first bytes of q (the packet as it arrived, ql bytes of IP).
 */
static void
check_icmp_err(struct rte_mbuf *m, const struct expect *e, uint8_t type,
	       uint8_t code, uint32_t info, const uint8_t *q, uint16_t ql)
{
	const uint8_t *ip = check_frame(m, e, IPPROTO_ICMP), *ic = ip + 20;
	uint16_t len = (uint16_t)(ip[2] << 8 | ip[3]);
	uint16_t quoted = ql < 548 ? ql : 548;
	uint32_t got;

	ck_assert_uint_eq(ip[1], 0xc0); /* internetwork control */
	ck_assert_uint_eq(len, 28u + quoted);
	ck_assert_uint_eq(ic[0], type);
	ck_assert_uint_eq(ic[1], code);
	ck_assert_uint_eq(pktcheck_sum16(ic, len - 20u, 0), 0xffff);
	memcpy(&got, ic + 4, 4);
	ck_assert_uint_eq(ntohl(got), info);
	/* the datagram as its sender sent it: header (TTL, checksum) and
	 * the first bytes of its payload, unchanged */
	ck_assert_int_eq(memcmp(ic + 8, q, quoted), 0);
	ck_assert_uint_eq(pktcheck_sum16(ic + 8, 20, 0), 0xffff);
}

/* Copy of the IP datagram in m (at 14), for comparing with a quote. */
static uint16_t
ip_copy(struct rte_mbuf *m, uint8_t *buf, size_t size)
{
	uint16_t n = (uint16_t)(rte_pktmbuf_pkt_len(m) - 14);

	ck_assert_uint_le(n, size);
	memcpy(buf, rte_pktmbuf_mtod_offset(m, uint8_t *, 14), n);
	return n;
}

struct mtu_case {
	const char *name;
	struct spec first;  /* from the client: opens the connection */
	struct spec big;    /* DF, 1420 bytes of IP; reply: sport/dport 0
			     * are filled from the forwarded first packet */
	bool reply;	    /* big comes from the backend (port 1) */
	uint16_t mtu;	    /* announced */
	struct expect icmp; /* the answer's frame */
};

#define BIG	(1420 - 28) /* UDP payload of a 1420-byte datagram */
#define BIG_TCP (1420 - 40) /* TCP payload of a 1420-byte segment */

static const struct mtu_case mtu_cases[] = {
	{ "dr",
	  { CLIENT, IP(192, 0, 2, 1), 48000, 53, IPPROTO_UDP, 0, 10, true, 0 },
	  { CLIENT, IP(192, 0, 2, 1), 48000, 53, IPPROTO_UDP, 0, BIG, true, 0 },
	  false,
	  1400,
	  { 0, dplab_mac_router, IP(192, 0, 2, 1), CLIENT, 0, 0, 64 } },
	{ "tunnel",
	  { CLIENT, IP(192, 0, 2, 2), 48001, 53, IPPROTO_UDP, 0, 10, true, 0 },
	  { CLIENT, IP(192, 0, 2, 2), 48001, 53, IPPROTO_UDP, 0, BIG, true, 0 },
	  false,
	  1380,
	  { 0, dplab_mac_router, IP(192, 0, 2, 2), CLIENT, 0, 0, 64 } },
	{ "nat, client to backend",
	  { CLIENT, IP(192, 0, 2, 3), 48002, 53, IPPROTO_UDP, 0, 10, true, 0 },
	  { CLIENT, IP(192, 0, 2, 3), 48002, 53, IPPROTO_UDP, 0, BIG, true, 0 },
	  false,
	  1400,
	  { 0, dplab_mac_router, IP(192, 0, 2, 3), CLIENT, 0, 0, 64 } },
	{ "fnat, client to backend",
	  { CLIENT, IP(192, 0, 2, 4), 48003, 53, IPPROTO_UDP, 0, 10, true, 0 },
	  { CLIENT, IP(192, 0, 2, 4), 48003, 53, IPPROTO_UDP, 0, BIG, true, 0 },
	  false,
	  1400,
	  { 0, dplab_mac_router, IP(192, 0, 2, 4), CLIENT, 0, 0, 64 } },
	{ "nat, backend to client",
	  { CLIENT, IP(192, 0, 2, 3), 48004, 53, IPPROTO_UDP, 0, 10, true, 0 },
	  { IP(10, 1, 0, 10), CLIENT, 0, 0, IPPROTO_UDP, 0, BIG, true, 0 },
	  true,
	  1400,
	  { 1, dplab_mac_b10, IP(10, 1, 0, 1), IP(10, 1, 0, 10), 0, 0, 64 } },
	{ "fnat, backend to client",
	  { CLIENT, IP(192, 0, 2, 4), 48005, 53, IPPROTO_UDP, 0, 10, true, 0 },
	  { IP(10, 1, 0, 11), IP(10, 1, 0, 100), 0, 0, IPPROTO_UDP, 0, BIG,
	    true, 0 },
	  true,
	  1400,
	  { 1, dplab_mac_b10, IP(10, 1, 0, 1), IP(10, 1, 0, 11), 0, 0, 64 } },
	{ "fnat tcp with TOA, client to backend",
	  { CLIENT, IP(192, 0, 2, 4), 48006, 80, IPPROTO_TCP, SYN, 0, true,
	    1460 },
	  { CLIENT, IP(192, 0, 2, 4), 48006, 80, IPPROTO_TCP, ACK, BIG_TCP,
	    true, 0 },
	  false,
	  1400,
	  { 0, dplab_mac_router, IP(192, 0, 2, 4), CLIENT, 0, 0, 64 } },
	{ "nat tcp, backend to client",
	  { CLIENT, IP(192, 0, 2, 3), 48007, 80, IPPROTO_TCP, SYN, 0, true,
	    1460 },
	  { IP(10, 1, 0, 10), CLIENT, 0, 0, IPPROTO_TCP, ACK, BIG_TCP, true,
	    0 },
	  true,
	  1400,
	  { 1, dplab_mac_b10, IP(10, 1, 0, 1), IP(10, 1, 0, 10), 0, 0, 64 } },
};

/*
 * The egress port's MTU is 1400 (the backends' side, or the clients'
 * for a reply): a 1420-byte DF datagram gets fragmentation needed back
 * to its sender, from the VIP to a client and from our port address to
 * a backend, quoting it as sent, with the next-hop MTU (less IPIP's 20
 * for TUNNEL); counted frag_needed and as a sent answer. Without DF it
 * goes on in fragments of at most the MTU (ipfrag.h); one that fits goes
 * through whole.
 */
START_TEST(test_frag_needed)
{
	const struct mtu_case *tc = &mtu_cases[_i];
	struct spec big = tc->big;
	struct rte_mbuf *m, *fwd;
	struct pkt_info pi;
	uint8_t q[1600];
	uint16_t ql, inport = tc->reply ? 1 : 0;

	inject(0, &tc->first, 0);
	fwd = take(0, 1);
	if (tc->reply) {
		const struct rte_udp_hdr *uh = rte_pktmbuf_mtod_offset(
			fwd, const struct rte_udp_hdr *, 14 + 20);

		big.sport = ntohs(uh->dst_port);
		big.dport = ntohs(uh->src_port);
	}
	rte_pktmbuf_free(fwd);
	ports[tc->reply ? 0 : 1].mtu = 1400;

	m = frame(&big, inport);
	ql = ip_copy(m, q, sizeof(q));
	ck_assert_uint_eq(ql, 1420);
	ck_assert_int_eq(pkt_parse(m, &pi), DP_PASS);
	rx(0, m, inport);
	m = take(0, inport);
	check_icmp_err(m, &tc->icmp, 3, 4, tc->mtu, q, ql);
	rte_pktmbuf_free(m);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_FRAG_NEEDED], 1);
	ck_assert_uint_eq(dp.workers[0].icmp_st.frag_needed, 1);

	/* without DF: cut in two fragments on the way out, nothing answered */
	big.df = false;
	rx(0, frame(&big, inport), inport);
	fragments_sent(0, (uint16_t)(1 - inport), 2, 1400);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_TOO_BIG], 0);
	ck_assert_uint_eq(dp.workers[0].frag_st.fragmented, 1);
	ck_assert_uint_eq(dp.workers[0].icmp_st.frag_needed, 1);

	/* what fits the MTU goes on */
	big.df = true;
	big.payload = (uint16_t)(tc->mtu - (1420 - tc->big.payload));
	rx(0, frame(&big, inport), inport);
	m = take(0, 1 - inport);
	rte_pktmbuf_free(m);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_FRAG_NEEDED], 1);
}
END_TEST

/*
 * TTL 1 on a packet to be forwarded: to a service (worker.c's check,
 * answered from the VIP) and a NAT reply from a backend (answered from
 * our address on its side); both get ICMP time exceeded back to the
 * hop they came from, quoting them as they arrived, and are counted.
 * The first fragment of a datagram is answered too. TTL 1 on an ICMP
 * error about a connection, or in a frame from a multicast Ethernet
 * source: dropped, counted, never answered.
 */
START_TEST(test_time_exceeded)
{
	struct spec s = {
		CLIENT, IP(192, 0, 2, 3), 48100, 53, IPPROTO_UDP, 0, 30, true, 0
	};
	struct spec r = { IP(10, 1, 0, 10),
			  CLIENT,
			  5353,
			  48100,
			  IPPROTO_UDP,
			  0,
			  20,
			  true,
			  0 };
	struct expect to_client = {
		0, dplab_mac_router, IP(192, 0, 2, 3), CLIENT, 0, 0, 64
	};
	struct expect to_backend = {
		1, dplab_mac_b10, IP(10, 1, 0, 1), IP(10, 1, 0, 10), 0, 0, 64
	};
	struct rte_ipv4_hdr *ip4;
	struct rte_mbuf *m, *fwd;
	uint8_t q[1600], *ic;
	uint16_t ql;

	m = frame(&s, 0);
	set_ttl(m, 1);
	ql = ip_copy(m, q, sizeof(q));
	rx(0, m, 0);
	m = take(0, 0);
	check_icmp_err(m, &to_client, 11, 0, 0, q, ql);
	rte_pktmbuf_free(m);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_TTL_EXCEEDED], 1);
	ck_assert_uint_eq(dp.workers[0].icmp_st.time_exceeded, 1);

	/* open the connection, then a reply with TTL 1 */
	rx(0, frame(&s, 0), 0);
	fwd = take(0, 1);
	m = frame(&r, 1);
	set_ttl(m, 1);
	ql = ip_copy(m, q, sizeof(q));
	rx(0, m, 1);
	m = take(0, 1);
	check_icmp_err(m, &to_backend, 11, 0, 0, q, ql);
	rte_pktmbuf_free(m);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_TTL_EXCEEDED], 2);
	ck_assert_uint_eq(dp.workers[0].icmp_st.time_exceeded, 2);

	/* an ICMP port unreachable from the backend about what it got,
	 * TTL 1: no error about an error */
	ql = (uint16_t)(rte_pktmbuf_pkt_len(fwd) - 14);
	m = rte_pktmbuf_alloc(pool);
	ck_assert_ptr_nonnull(m);
	ic = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(14 + 28 + ql));
	ck_assert_ptr_nonnull(ic);
	memset(ic, 0, 14 + 28);
	memcpy(ic, dplab_mac_port[1], 6);
	memcpy(ic + 6, dplab_mac_b10, 6);
	ic[12] = 0x08;
	ic += 14;
	ic[0] = 0x45;
	ic[2] = (uint8_t)((28 + ql) >> 8);
	ic[3] = (uint8_t)(28 + ql);
	ic[8] = 1; /* TTL */
	ic[9] = IPPROTO_ICMP;
	memcpy(ic + 12, &r.saddr, 4);
	memcpy(ic + 16, &s.saddr, 4);
	*(uint16_t *)(ic + 10) = pktcheck_ip_csum(ic, 20);
	ic += 20;
	ic[0] = 3;
	ic[1] = 3;
	memcpy(ic + 8, rte_pktmbuf_mtod_offset(fwd, uint8_t *, 14), ql);
	*(uint16_t *)(ic + 2) = pktcheck_ip_csum(ic, 8u + ql);
	rte_pktmbuf_free(fwd);
	rx(0, m, 1);
	nothing_sent(0);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_TTL_EXCEEDED], 3);
	ck_assert_uint_eq(dp.workers[0].icmp_st.time_exceeded, 2);

	/* the first fragment of a datagram (MF, offset 0) is answered */
	m = frame(&s, 0);
	ip4 = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
	ip4->fragment_offset = htons(RTE_IPV4_HDR_MF_FLAG);
	set_ttl(m, 1);
	ql = ip_copy(m, q, sizeof(q));
	rx(0, m, 0);
	m = take(0, 0);
	check_icmp_err(m, &to_client, 11, 0, 0, q, ql);
	rte_pktmbuf_free(m);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_TTL_EXCEEDED], 4);
	ck_assert_uint_eq(dp.workers[0].icmp_st.time_exceeded, 3);

	/* from a multicast Ethernet source: no way back, no answer */
	m = frame(&s, 0);
	set_ttl(m, 1);
	rte_pktmbuf_mtod(m, uint8_t *)[6] = 0x01;
	rx(0, m, 0);
	nothing_sent(0);
	ck_assert_uint_eq(dp.workers[0].drops[DP_DROP_TTL_EXCEEDED], 5);
	ck_assert_uint_eq(dp.workers[0].icmp_st.time_exceeded, 3);
	ck_assert_uint_eq(dp.workers[0].icmp_st.ratelimited, 0);
}
END_TEST

/* Take and free what worker wk queued on either port: the count, each
 * one an ICMP message of type type. */
static unsigned int
drain_icmp(unsigned int wk, uint8_t type)
{
	unsigned int n = 0;

	for (uint16_t p = 0; p < 2; p++) {
		struct dp_txbuf *tb = &dp.workers[wk].tx[p];

		for (uint16_t i = 0; i < tb->n; i++) {
			const uint8_t *ip = rte_pktmbuf_mtod_offset(
				tb->pkts[i], const uint8_t *, 14);

			ck_assert_uint_eq(ip[9], IPPROTO_ICMP);
			ck_assert_uint_eq(ip[20], type);
			rte_pktmbuf_free(tb->pkts[i]);
			n++;
		}
		tb->n = 0;
	}
	return n;
}

struct rl_case {
	const char *name;
	uint32_t rate, burst, dest_rate, dest_burst;
	bool echo;	  /* echo requests to our port address, else TTL 1 */
	unsigned int per; /* answers expected per source /24 */
	unsigned int all; /* ... in all, two /24s sending 1,000 each */
};

static const struct rl_case rl_cases[] = {
	{ "global bucket, time exceeded", 1, 20, 1000000, 1000000, false, 20,
	  20 },
	{ "per-/24 bucket, time exceeded", 1000000, 1000000, 1, 7, false, 7,
	  14 },
	{ "global bucket, echo replies", 1, 20, 1000000, 1000000, true, 20,
	  20 },
	{ "rate 0: nothing", 0, 20, 1000000, 1000000, false, 0, 0 },
};

/*
 * A burst of 1,000 packets that each call for an answer, from one /24,
 * then 1,000 from another: the answers stop at the bucket's depth (the
 * rate is 1/s, and the bursts take milliseconds); the rest are counted
 * as rate-limited (and, for echo requests, as icmp_ratelimited drops).
 * A second /24 has its own per-destination bucket but shares the global
 * one.
 */
START_TEST(test_icmp_ratelimit)
{
	const struct rl_case *tc = &rl_cases[_i];
	const uint32_t src[2] = { CLIENT, IP(198, 51, 100, 9) };
	struct dp_worker *w = &dp.workers[0];
	unsigned int sent[2] = { 0, 0 };
	uint64_t t0 = rte_rdtsc();

	dp.conf.icmp_rate = tc->rate;
	dp.conf.icmp_burst = tc->burst;
	dp.conf.icmp_dest_rate = tc->dest_rate;
	dp.conf.icmp_dest_burst = tc->dest_burst;
	for (unsigned int k = 0; k < 2; k++)
		for (unsigned int i = 0; i < 1000; i++) {
			struct spec s = { src[k],
					  IP(192, 0, 2, 3),
					  (uint16_t)(20000 + i),
					  53,
					  IPPROTO_UDP,
					  0,
					  8,
					  true,
					  0 };
			struct rte_mbuf *m;

			if (tc->echo) {
				s.daddr = IP(10, 0, 0, 1);
				s.proto = IPPROTO_ICMP;
			}
			m = frame(&s, 0);
			if (tc->echo) {
				uint8_t *ic = rte_pktmbuf_mtod_offset(
					m, uint8_t *, 14 + 20);

				memset(ic, 0, 8 + 8);
				ic[0] = 8;
				ic[7] = (uint8_t)i;
				*(uint16_t *)(ic + 2) =
					pktcheck_ip_csum(ic, 8 + 8);
			} else {
				set_ttl(m, 1);
			}
			rx(0, m, 0);
			sent[k] += drain_icmp(0, tc->echo ? 0 : 11);
		}
	/* the bursts must be short against the 1/s rates for the count to
	 * be exact */
	ck_assert_uint_lt(rte_rdtsc() - t0, rte_get_tsc_hz() / 2);
	ck_assert_uint_eq(sent[0], tc->per);
	ck_assert_uint_eq(sent[0] + sent[1], tc->all);
	ck_assert_uint_eq(w->icmp_st.ratelimited, 2000 - tc->all);
	if (tc->echo) {
		ck_assert_uint_eq(w->icmp_st.echo_replies, tc->all);
		ck_assert_uint_eq(w->drops[DP_DROP_ICMP_RATELIMITED],
				  2000 - tc->all);
	} else {
		ck_assert_uint_eq(w->icmp_st.time_exceeded, tc->all);
		ck_assert_uint_eq(w->drops[DP_DROP_TTL_EXCEEDED], 2000);
	}
}
END_TEST

/* Send n TTL-1 datagrams from CLIENT; the time exceeded answers sent. */
static unsigned int
ttl1_burst(unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct spec s = { CLIENT,
				  IP(192, 0, 2, 3),
				  (uint16_t)(21000 + i),
				  53,
				  IPPROTO_UDP,
				  0,
				  8,
				  true,
				  0 };
		struct rte_mbuf *m = frame(&s, 0);

		set_ttl(m, 1);
		rx(0, m, 0);
	}
	return drain_icmp(0, 11);
}

/*
 * Tokens come back with time: at 100/s with a depth of 20, a burst of
 * 30 gets 20 answers; 100 ms later (well short of the 200 ms that refill
 * the bucket) one of 30 gets about 10: at least what 100 ms earn, at most
 * what the whole time since the first burst earns.
 */
START_TEST(test_icmp_refill)
{
	uint64_t hz = rte_get_tsc_hz(), t0, until, t1;
	unsigned int got;

	dp.conf.icmp_rate = 100;
	dp.conf.icmp_burst = 20;
	dp.conf.icmp_dest_rate = 1000000;
	dp.conf.icmp_dest_burst = 1000000;
	t0 = rte_rdtsc();
	ck_assert_uint_eq(ttl1_burst(30), 20);
	until = rte_rdtsc() + hz / 10;
	while (rte_rdtsc() < until)
		;
	got = ttl1_burst(30);
	t1 = rte_rdtsc();
	ck_assert_uint_lt(t1 - t0, hz / 5); /* else the bucket refilled */
	ck_assert_uint_ge(got, 10);
	ck_assert_uint_le(got, (t1 - t0) * 100 / hz + 1);
	ck_assert_uint_eq(dp.workers[0].icmp_st.ratelimited, 60 - 20 - got);
}
END_TEST

static Suite *
fwd_suite(void)
{
	Suite *s = suite_create("fwd");
	TCase *tc = tcase_create("core");
	TCase *lim = tcase_create("limits");
	TCase *icmp = tcase_create("icmp");

	tcase_add_checked_fixture(tc, lab_up, lab_down);
	tcase_add_loop_test(tc, test_first_packet, 0,
			    (int)(sizeof(in_cases) / sizeof(in_cases[0])));
	tcase_add_test(tc, test_tunnel_ip_id);
	tcase_add_test(tc, test_nat_reply);
	tcase_add_test(tc, test_nat_handoff);
	tcase_add_test(tc, test_fnat_toa);
	tcase_add_test(tc, test_fnat_rss);
	tcase_add_loop_test(tc, test_nat_icmp_error, 0,
			    (int)(sizeof(icmp_cases) / sizeof(icmp_cases[0])));
	tcase_add_test(tc, test_fnat_proxy);
	tcase_add_test(tc, test_fnat_proxy_forged);
	tcase_add_test(tc, test_fnat_proxy_fin_only);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(lim, lab_up, lab_down);
	tcase_add_test(lim, test_tunnel_frag_needed);
	tcase_add_test(lim, test_no_conn_and_full);
	tcase_add_test(lim, test_nat_tuple_collision);
	tcase_add_test(lim, test_rst_window);
	tcase_add_loop_test(lim, test_backend_down, 0,
			    (int)(sizeof(down_cases) / sizeof(down_cases[0])));
	tcase_add_loop_test(
		lim, test_load_aware, 0,
		(int)(sizeof(load_scheds) / sizeof(load_scheds[0])));
	tcase_add_test(lim, test_fnat_proxy_limits);
	tcase_add_test(lim, test_unmap_waits_for_workers);
	suite_add_tcase(s, lim);
	tcase_add_checked_fixture(icmp, lab_up, lab_down);
	tcase_add_loop_test(icmp, test_frag_needed, 0,
			    (int)(sizeof(mtu_cases) / sizeof(mtu_cases[0])));
	tcase_add_test(icmp, test_time_exceeded);
	tcase_add_loop_test(icmp, test_icmp_ratelimit, 0,
			    (int)(sizeof(rl_cases) / sizeof(rl_cases[0])));
	tcase_add_test(icmp, test_icmp_refill);
	suite_add_tcase(s, icmp);
	return s;
}

int
main(void)
{
	return dp_test_main("test_fwd", fwd_suite, &pool, 1024);
}
