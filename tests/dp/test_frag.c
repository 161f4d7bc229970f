/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * frag: IPv4 fragments to VIPs (dataplane/ipfrag.h), packet by packet,
 * in process (tests/lib/dplab's two-port lab, as test_fwd_limits).
 * Fragments go in through worker_rx_burst(), as the poll loop hands them
 * over, so parse, the reassembly hook, classification, the mode and the
 * TX path all run; what the worker queued for TX is reassembled here
 * again, independently (by offset, every byte once), and checked with
 * tests/lib/pktcheck's own sums: IPv4 header checksum of each fragment,
 * each within the MTU, the TCP/UDP checksum over the whole datagram, the
 * addresses the mode must write and every payload byte. The attacks
 * (overlap, duplicates, too many, too big, tiny, short first fragment,
 * a flood of datagrams that never complete, expiry) must each be
 * dropped with their own counter and leave no mbuf behind.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "conn.h"
#include "dp.h"
#include "dp_test_main.h"
#include "dplab.h"
#include "fwd.h"
#include "ipfrag.h"
#include "pkt.h"
#include "pktcheck.h"
#include "port.h"
#include "svc.h"
#include "worker.h"

#define IP DPLAB_IP

/* network order; variables so that a failed check names them */
static const uint32_t CLIENT = IP(203, 0, 113, 7);
static const uint32_t V_DR = IP(192, 0, 2, 1);
static const uint32_t V_TUN = IP(192, 0, 2, 2);
static const uint32_t V_NAT = IP(192, 0, 2, 3);
static const uint32_t V_FNAT = IP(192, 0, 2, 4);
static const uint32_t LADDR = IP(10, 1, 0, 100);
static const uint32_t B10 = IP(10, 1, 0, 10);
static const uint32_t PORT1 = IP(10, 1, 0, 1);

static struct dp_ctx dp;
static struct dp_port ports[2];
static struct rte_mempool *pool;
static unsigned int pool_full;

#define DGRAM_MAX 66000

/* ---- the lab ----------------------------------------------------------- */

static void
ctrl_svc(uint8_t proto, uint32_t vip, uint16_t vport, uint8_t mode,
	 uint16_t bport)
{
	const struct dplab_backend be[1] = { { B10, bport, 1 } };
	const struct dplab_svc d = { .proto = proto,
				     .vip = vip,
				     .vport = vport,
				     .mode = mode,
				     .sched = "rr",
				     .b = be,
				     .nb = 1,
				     .laddr = mode == LB_MODE_FNAT ? LADDR : 0,
				     .nladdr = mode == LB_MODE_FNAT ? 1 : 0 };
	char why[LBMSG_ERRMSG_MAX];

	ck_assert_msg(dplab_service(dp.svc, &d, why, sizeof(why)) == 0,
		      "service: %s", why);
}

/* The lab with reassembly as conf says (entries, timeout). */
static void
lab_up_with(uint32_t entries, uint32_t timeout_ms)
{
	char err[256];

	pool_full = rte_mempool_avail_count(pool);
	ck_assert_int_eq(dplab_pair_up(&dp, ports, pool), 0);
	ck_assert_int_eq(dplab_svc_table(&dp, 64), 0);
	ck_assert_int_eq(fwd_init_conns(&dp, 64), 0);
	dp.conf.frag_max_entries = entries;
	dp.conf.frag_timeout_ms = timeout_ms;
	ck_assert_msg(ipfrag_init(&dp, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(dp.frag);
	for (uint8_t p = IPPROTO_TCP; p <= IPPROTO_UDP; p += 11) {
		uint16_t vport = p == IPPROTO_TCP ? 80 : 53;

		ctrl_svc(p, V_DR, vport, LB_MODE_DR, 0);
		ctrl_svc(p, V_TUN, vport, LB_MODE_TUNNEL, 0);
		ctrl_svc(p, V_NAT, vport, LB_MODE_NAT, 8080);
		ctrl_svc(p, V_FNAT, vport, LB_MODE_FNAT, 8080);
	}
}

static void
lab_up(void)
{
	lab_up_with(0, 2000);
}

static void
drain(void)
{
	for (unsigned int w = 0; w < 2; w++)
		for (unsigned int p = 0; p < 2; p++) {
			for (unsigned int i = 0; i < dp.workers[w].tx[p].n; i++)
				rte_pktmbuf_free(dp.workers[w].tx[p].pkts[i]);
			dp.workers[w].tx[p].n = 0;
		}
}

static void
lab_down(void)
{
	drain();
	ipfrag_fini(&dp);
	dplab_down(&dp);
	/* every fragment held, sent or dropped is back */
	ck_assert_uint_eq(rte_mempool_avail_count(pool), pool_full);
}

static uint64_t
drops(enum dp_drop why)
{
	return dp.workers[0].drops[why];
}

/* ---- datagrams and fragments -------------------------------------------- */

/* A datagram: IPv4 header (20 bytes) and TCP or UDP, payload pattern. */
struct dgram {
	uint8_t b[DGRAM_MAX];
	uint32_t len;
};

static void
dgram_make(struct dgram *d, uint8_t proto, uint32_t vip, uint16_t sport,
	   uint16_t dport, uint16_t id, uint32_t payload, uint8_t tflags)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)d->b;
	uint16_t l4 = proto == IPPROTO_TCP ? 20 : 8;
	uint8_t *p = d->b + 20 + l4;

	ck_assert_uint_le(20u + l4 + payload, 65535);
	memset(d->b, 0, 20u + l4);
	d->len = 20u + l4 + payload;
	for (uint32_t i = 0; i < payload; i++)
		p[i] = (uint8_t)(i * 7 + id + (i >> 8));
	ip->version_ihl = 0x45;
	ip->total_length = htons((uint16_t)d->len);
	ip->packet_id = htons(id);
	ip->time_to_live = 60;
	ip->next_proto_id = proto;
	ip->src_addr = CLIENT;
	ip->dst_addr = vip;
	if (proto == IPPROTO_UDP) {
		struct rte_udp_hdr *uh = (struct rte_udp_hdr *)(ip + 1);

		uh->src_port = htons(sport);
		uh->dst_port = htons(dport);
		uh->dgram_len = htons((uint16_t)(8 + payload));
		uh->dgram_cksum = pktcheck_l4_csum(CLIENT, vip, proto, uh,
						   (uint16_t)(8 + payload));
	} else {
		struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);

		th->src_port = htons(sport);
		th->dst_port = htons(dport);
		th->sent_seq = htonl((tflags & RTE_TCP_SYN_FLAG) ? 1000 : 1001);
		th->recv_ack = (tflags & RTE_TCP_ACK_FLAG) ? htonl(5001) : 0;
		th->data_off = 5 << 4;
		th->tcp_flags = tflags;
		th->rx_win = htons(65535);
		th->cksum = pktcheck_l4_csum(CLIENT, vip, proto, th,
					     (uint16_t)(20 + payload));
	}
	ip->hdr_checksum = pktcheck_ip_csum(ip, 20);
}

/*
 * The fragment of d carrying IP payload bytes [off, off + len), MF as
 * more, in a frame from the router to port 0.
 */
static struct rte_mbuf *
frag_of(const struct dgram *d, uint32_t off, uint32_t len, bool more)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;

	ck_assert_ptr_nonnull(m);
	ck_assert_uint_le(14u + 20 + len, rte_pktmbuf_tailroom(m));
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(
		m, (uint16_t)(14 + 20 + len));
	memcpy(eth->dst_addr.addr_bytes, dplab_mac_port[0], 6);
	memcpy(eth->src_addr.addr_bytes, dplab_mac_router, 6);
	eth->ether_type = htons(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	memcpy(ip, d->b, 20);
	memcpy(ip + 1, d->b + 20 + off, len);
	ip->total_length = htons((uint16_t)(20 + len));
	ip->fragment_offset =
		htons((uint16_t)(off / 8 | (more ? RTE_IPV4_HDR_MF_FLAG : 0)));
	ip->hdr_checksum = 0;
	ip->hdr_checksum = pktcheck_ip_csum(ip, 20);
	return m;
}

/* Hand frames to worker 0 from port 0, one burst. */
static void
rx(struct rte_mbuf **m, uint16_t n)
{
	worker_rx_burst(&dp.workers[0], 0, m, n);
}

/* d in fragments of 1480 bytes (the last one shorter), order[] given. */
static void
send_split(const struct dgram *d, const unsigned int *order, unsigned int n)
{
	uint32_t pl = d->len - 20;

	for (unsigned int i = 0; i < n; i++) {
		uint32_t off = order[i] * 1480u;
		uint32_t len = RTE_MIN(1480u, pl - off);
		struct rte_mbuf *m = frag_of(d, off, len, off + len < pl);

		rx(&m, 1);
	}
}

/*
 * Reassemble what worker wk queued on port 1 into out (the IP datagram):
 * each frame one segment, to mac, of at most 1500 IP bytes with a valid
 * header checksum, one ID, protocol and addresses, every payload byte
 * exactly once. With ipip, every frame is a whole IPIP packet from our
 * port address to 10.1.0.10 (checked) and its inner packet is the
 * fragment. Returns the number of frames; frees them.
 */
static unsigned int
collect_ipip(unsigned int wk, struct dgram *out, const uint8_t *mac, bool ipip)
{
	struct dp_txbuf *tb = &dp.workers[wk].tx[1];
	static uint8_t seen[DGRAM_MAX];
	uint32_t end = 0, got = 0;
	unsigned int n = tb->n;
	bool last = false;

	ck_assert_uint_eq(dp.workers[wk].tx[0].n, 0);
	ck_assert_uint_gt(n, 0);
	memset(seen, 0, sizeof(seen));
	for (unsigned int i = 0; i < n; i++) {
		struct rte_mbuf *m = tb->pkts[i];
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
		const struct rte_ipv4_hdr *ip =
			(const struct rte_ipv4_hdr *)(f + 14);
		uint16_t tl = ntohs(ip->total_length);
		uint16_t fo, ftl = tl;
		uint32_t off, len;

		ck_assert_uint_eq(m->nb_segs, 1);
		ck_assert_int_eq(memcmp(f, mac, 6), 0);
		ck_assert_uint_eq(rte_pktmbuf_pkt_len(m), 14u + tl);
		ck_assert_uint_le(tl, 1500);
		if (ipip) {
			/* a whole outer packet around each piece */
			ck_assert_uint_eq(ip->version_ihl, 0x45);
			ck_assert_uint_eq(pktcheck_sum16(ip, 20, 0), 0xffff);
			ck_assert_uint_eq(ip->next_proto_id, IPPROTO_IPIP);
			ck_assert_uint_eq(ntohs(ip->fragment_offset) & 0x3fff,
					  0);
			ck_assert_uint_eq(ip->src_addr, PORT1);
			ck_assert_uint_eq(ip->dst_addr, B10);
			ip++;
			ftl = ntohs(ip->total_length);
			ck_assert_uint_eq(ftl + 20u, tl);
		}
		fo = ntohs(ip->fragment_offset);
		off = (uint32_t)(fo & RTE_IPV4_HDR_OFFSET_MASK) * 8;
		len = ftl - 20u;
		ck_assert_uint_eq(ip->version_ihl, 0x45);
		ck_assert_uint_eq(pktcheck_sum16(ip, 20, 0), 0xffff);
		ck_assert_uint_le(off + len + 20, DGRAM_MAX);
		if (i == 0)
			memcpy(out->b, ip, 20);
		else
			ck_assert_int_eq(memcmp(out->b + 4, &ip->packet_id, 2),
					 0);
		ck_assert_int_eq(memcmp(out->b + 12, &ip->src_addr, 8), 0);
		for (uint32_t j = 0; j < len; j++) {
			ck_assert_uint_eq(seen[off + j], 0);
			seen[off + j] = 1;
		}
		memcpy(out->b + 20 + off, (const uint8_t *)ip + 20, len);
		got += len;
		if (!(fo & RTE_IPV4_HDR_MF_FLAG)) {
			ck_assert(!last);
			last = true;
			end = off + len;
		} else {
			ck_assert_uint_eq(len % 8, 0);
		}
		rte_pktmbuf_free(m);
	}
	tb->n = 0;
	ck_assert(last);
	ck_assert_uint_eq(got, end);
	out->len = 20 + end;
	return n;
}

static unsigned int
collect_on(unsigned int wk, struct dgram *out, const uint8_t *mac)
{
	return collect_ipip(wk, out, mac, false);
}

static unsigned int
collect(struct dgram *out, const uint8_t *mac)
{
	return collect_on(0, out, mac);
}

/* The TCP/UDP segment of datagram d sums right with its addresses. */
static void
l4_ok(const struct dgram *d)
{
	uint8_t proto = d->b[9];

	ck_assert_uint_eq(pktcheck_l4_sum(d->b, proto, d->b + 20,
					  (uint16_t)(d->len - 20)),
			  0xffff);
	if (proto == IPPROTO_UDP)
		ck_assert_uint_eq(d->b[24] << 8 | d->b[25], d->len - 20);
}

/* out carries the payload of in past their L4 headers (hlen bytes). */
static void
payload_same(const struct dgram *out, uint32_t outoff, const struct dgram *in,
	     uint32_t hlen)
{
	ck_assert_uint_eq(out->len - outoff, in->len);
	ck_assert_int_eq(memcmp(out->b + outoff + 20 + hlen, in->b + 20 + hlen,
				in->len - 20 - hlen),
			 0);
}

static uint32_t
addr_at(const uint8_t *b, unsigned int off)
{
	uint32_t a;

	memcpy(&a, b + off, 4);
	return a;
}

/* ---- reassembly, per mode ------------------------------------------------- */

static const unsigned int in_order[3] = { 0, 1, 2 };
static const unsigned int reordered[3] = { 2, 0, 1 };

struct mode_case {
	const char *name;
	uint32_t vip;
	const unsigned int *order;
};

static const struct mode_case mode_cases[] = {
	{ "nat", IP(192, 0, 2, 3), in_order },
	{ "nat, reordered", IP(192, 0, 2, 3), reordered },
	{ "fnat", IP(192, 0, 2, 4), in_order },
	{ "fnat, reordered", IP(192, 0, 2, 4), reordered },
	{ "dr", IP(192, 0, 2, 1), in_order },
	{ "dr, reordered", IP(192, 0, 2, 1), reordered },
	{ "tunnel", IP(192, 0, 2, 2), in_order },
	{ "tunnel, reordered", IP(192, 0, 2, 2), reordered },
};

/*
 * A 3000-byte UDP datagram in three fragments (1480, 1480, 48 bytes of
 * IP payload) reaches the backend as one datagram, cut again for the
 * 1500-byte MTU: NAT and FULL-NAT rewrite the whole datagram (backend
 * 10.1.0.10:8080; FULL-NAT from 10.1.0.100), DR keeps the addresses,
 * TUNNEL cuts the whole datagram and sends each piece in a whole IPIP
 * packet (decapsulators in XDP do not reassemble outer fragments). The
 * UDP checksum is right over the whole payload.
 */
START_TEST(test_udp_modes)
{
	const struct mode_case *tc = &mode_cases[_i];
	static struct dgram in, out;
	const struct dgram *d = &out;
	uint32_t inoff = 0;

	dgram_make(&in, IPPROTO_UDP, tc->vip, 40000, 53, 0x1234, 3000, 0);
	send_split(&in, tc->order, 3);
	ck_assert_uint_eq(dp.workers[0].frag_st.reassembled, 1);
	/* TUNNEL: the inner datagram is cut, each piece in an IPIP packet */
	ck_assert_uint_eq(
		collect_ipip(0, &out, dplab_mac_b10, tc->vip == V_TUN), 3);
	ck_assert_uint_eq(dp.workers[0].frag_st.fragmented, 1);
	l4_ok(d);
	payload_same(d, inoff, &in, 8);
	ck_assert_uint_eq(d->b[8], 59); /* TTL 60, one hop */
	if (tc->vip == V_NAT || tc->vip == V_FNAT) {
		ck_assert_uint_eq(addr_at(d->b, 12),
				  tc->vip == V_FNAT ? LADDR : CLIENT);
		ck_assert_uint_eq(addr_at(d->b, 16), B10);
		ck_assert_uint_eq(d->b[22] << 8 | d->b[23], 8080);
	} else {
		ck_assert_uint_eq(addr_at(d->b, 12), CLIENT);
		ck_assert_uint_eq(addr_at(d->b, 16), tc->vip);
		ck_assert_uint_eq(d->b[22] << 8 | d->b[23], 53);
	}
	ck_assert_uint_eq(drops(DP_DROP_FRAGMENT), 0);
}
END_TEST

/*
 * Fragmented TCP: the SYN whole, then a 3000-byte segment of the same
 * connection in three fragments (NAT and FULL-NAT): it reaches the
 * backend with the rewritten addresses and a checksum right over the
 * whole segment.
 */
START_TEST(test_tcp_segment)
{
	static struct dgram syn, in, out;
	const uint32_t vips[2] = { V_NAT, V_FNAT };

	for (unsigned int v = 0; v < 2; v++) {
		struct rte_mbuf *m;

		dgram_make(&syn, IPPROTO_TCP, vips[v], 41000, 80, 1, 0,
			   RTE_TCP_SYN_FLAG);
		m = frag_of(&syn, 0, syn.len - 20, false);
		rx(&m, 1);
		ck_assert_uint_eq(collect(&out, dplab_mac_b10), 1);
		dgram_make(&in, IPPROTO_TCP, vips[v], 41000, 80, 2, 3000,
			   RTE_TCP_ACK_FLAG);
		send_split(&in, reordered, 3);
		ck_assert_uint_eq(collect(&out, dplab_mac_b10), 3);
		l4_ok(&out);
		payload_same(&out, 0, &in, 20);
		ck_assert_uint_eq(addr_at(out.b, 12),
				  vips[v] == V_FNAT ? LADDR : CLIENT);
		ck_assert_uint_eq(addr_at(out.b, 16), B10);
	}
	ck_assert_uint_eq(dp.workers[0].frag_st.reassembled, 2);
}
END_TEST

/*
 * A datagram that fits the MTU once whole (two fragments of 600 and 400
 * bytes) leaves as one packet, one segment, not fragmented.
 */
START_TEST(test_small_whole)
{
	static struct dgram in, out;
	struct rte_mbuf *m[2];

	dgram_make(&in, IPPROTO_UDP, V_NAT, 40001, 53, 7, 992, 0);
	m[0] = frag_of(&in, 600, 400, false);
	m[1] = frag_of(&in, 0, 600, true);
	rx(m, 2); /* in one burst */
	ck_assert_uint_eq(collect(&out, dplab_mac_b10), 1);
	ck_assert_uint_eq(out.b[6] & 0x3f, 0);
	l4_ok(&out);
	payload_same(&out, 0, &in, 8);
	ck_assert_uint_eq(dp.workers[0].frag_st.fragmented, 0);
}
END_TEST

static void
nothing_sent(void)
{
	ck_assert_uint_eq(dp.workers[0].tx[0].n, 0);
	ck_assert_uint_eq(dp.workers[0].tx[1].n, 0);
}

/*
 * Two workers, RSS on the clients' port hashing UDP ports: fragments are
 * hashed on their addresses only and reach worker 0, while the 4-tuple of
 * the flow belongs to worker 1. The whole datagram goes to worker 1's
 * ring; worker 1 forwards it and owns the connection, where the flow's
 * unfragmented datagrams would go.
 */
START_TEST(test_handoff)
{
	static struct dgram in, out;
	struct fwd_rss r;
	struct conn_key k;
	unsigned int dir;
	uint16_t sport = 42000;

	dplab_rss_conf(&r);
	fwd_rss_set(&dp, 0, &r);
	while (fwd_rss_queue(&r, IPPROTO_UDP, CLIENT, V_NAT, htons(sport),
			     htons(53)) != 1)
		ck_assert_uint_lt(++sport, 42100);
	dgram_make(&in, IPPROTO_UDP, V_NAT, sport, 53, 700, 3000, 0);
	send_split(&in, reordered, 3);
	nothing_sent();
	ck_assert_uint_eq(dp.workers[0].frag_st.reassembled, 1);
	ck_assert_uint_eq(dp.workers[0].frag_st.handoff_out, 1);
	ck_assert_uint_eq(worker_frag_input(&dp.workers[1]), 1);
	ck_assert_uint_eq(dp.workers[1].frag_st.handoff_in, 1);
	ck_assert_uint_eq(collect_on(1, &out, dplab_mac_b10), 3);
	l4_ok(&out);
	payload_same(&out, 0, &in, 8);
	k = (struct conn_key){ .saddr = CLIENT,
			       .daddr = V_NAT,
			       .sport = htons(sport),
			       .dport = htons(53),
			       .proto = IPPROTO_UDP };
	ck_assert_ptr_nonnull(conn_lookup(fwd_conn_table(&dp, 1), &k, &dir));
	ck_assert_ptr_null(conn_lookup(fwd_conn_table(&dp, 0), &k, &dir));
	ck_assert_uint_eq(worker_frag_input(&dp.workers[1]), 0);
}
END_TEST

/* ---- attacks ------------------------------------------------------------- */

/*
 * Overlapping fragments (the second starts 8 bytes inside the first),
 * a duplicate first fragment, an overlap that makes up for a hole, and
 * nine fragments of one datagram (the library holds 8): each set is
 * dropped, every fragment of it counted frag_bad, nothing sent.
 */
START_TEST(test_overlap)
{
	static struct dgram in;
	struct rte_mbuf *m;

	dgram_make(&in, IPPROTO_UDP, V_NAT, 40002, 53, 100, 3000, 0);
	m = frag_of(&in, 0, 1480, true);
	rx(&m, 1);
	m = frag_of(&in, 1472, 1480, true);
	rx(&m, 1);
	m = frag_of(&in, 2952, 3008 - 2952, false);
	rx(&m, 1);
	nothing_sent();
	ck_assert_uint_eq(drops(DP_DROP_FRAG_BAD), 3);

	dgram_make(&in, IPPROTO_UDP, V_NAT, 40002, 53, 101, 3000, 0);
	m = frag_of(&in, 0, 1480, true);
	rx(&m, 1);
	m = frag_of(&in, 0, 1480, true);
	rx(&m, 1);
	nothing_sent();
	ck_assert_uint_eq(drops(DP_DROP_FRAG_BAD), 5);

	/* an overlap that makes up for a hole: the sizes add up, the
	 * library chains the last two before it finds the hole; all four
	 * are counted */
	dgram_make(&in, IPPROTO_UDP, V_NAT, 40002, 53, 103, 2400, 0);
	m = frag_of(&in, 0, 800, true);
	rx(&m, 1);
	m = frag_of(&in, 792, 800, true);
	rx(&m, 1);
	m = frag_of(&in, 1600, 800, true);
	rx(&m, 1);
	m = frag_of(&in, 2400, 8, false);
	rx(&m, 1);
	nothing_sent();
	ck_assert_uint_eq(drops(DP_DROP_FRAG_BAD), 9);

	/* nine fragments of 256 bytes and a last one */
	dgram_make(&in, IPPROTO_UDP, V_NAT, 40002, 53, 102, 9 * 256 + 100, 0);
	for (unsigned int i = 0; i < 9; i++) {
		m = frag_of(&in, i * 256u, 256, true);
		rx(&m, 1);
	}
	m = frag_of(&in, 9 * 256u, in.len - 20 - 9 * 256u, false);
	rx(&m, 1);
	nothing_sent();
	ck_assert_uint_eq(drops(DP_DROP_FRAG_BAD), 9 + 8);
	ck_assert_uint_eq(dp.workers[0].frag_st.reassembled, 0);
}
END_TEST

/*
 * Fragments that are no part of a datagram we would forward, each
 * dropped by its own reason before it takes an entry: ending past 65535
 * bytes, a non-last one below frag_min_size (64) or empty, one that is not a
 * multiple of 8, a TCP one at offset 8 (RFC 1858), a first fragment too
 * short for the UDP header.
 */
START_TEST(test_bad_single)
{
	static struct dgram in;
	struct rte_mbuf *m;

	dgram_make(&in, IPPROTO_UDP, V_NAT, 40003, 53, 200, 3000, 0);
	/* offset 8191 * 8 = 65528, + 1480 */
	m = frag_of(&in, 0, 1480, true);
	rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14)->fragment_offset =
		htons(0x1fff);
	rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14)->hdr_checksum = 0;
	rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14)->hdr_checksum =
		pktcheck_ip_csum(rte_pktmbuf_mtod_offset(m, void *, 14), 20);
	rx(&m, 1);
	ck_assert_uint_eq(drops(DP_DROP_FRAG_TOO_BIG), 1);

	m = frag_of(&in, 1480, 56, true);
	rx(&m, 1);
	ck_assert_uint_eq(drops(DP_DROP_FRAG_TINY), 1);
	m = frag_of(&in, 1480, 0, true);
	rx(&m, 1);
	ck_assert_uint_eq(drops(DP_DROP_FRAG_TINY), 2);

	m = frag_of(&in, 1480, 1476, true);
	rx(&m, 1);
	ck_assert_uint_eq(drops(DP_DROP_FRAG_BAD), 1);

	dgram_make(&in, IPPROTO_TCP, V_NAT, 40003, 80, 201, 3000, 0);
	m = frag_of(&in, 8, 1480, true);
	rx(&m, 1);
	ck_assert_uint_eq(drops(DP_DROP_FRAG_BAD), 2);

	dgram_make(&in, IPPROTO_UDP, V_NAT, 40003, 53, 202, 3000, 0);
	m = frag_of(&in, 0, 4, true);
	rx(&m, 1);
	ck_assert_uint_eq(drops(DP_DROP_FRAG_SHORT), 1);
	nothing_sent();
	ck_assert_uint_eq(drops(DP_DROP_FRAG_TABLE_FULL), 0);
	ck_assert_uint_eq(drops(DP_DROP_BAD_L4), 0);
}
END_TEST

/* A fragment to an address that is not ours is no business of ours. */
START_TEST(test_not_ours)
{
	static struct dgram in;
	struct rte_mbuf *m;

	dgram_make(&in, IPPROTO_UDP, IP(198, 51, 100, 9), 40004, 53, 300, 3000,
		   0);
	m = frag_of(&in, 1480, 1480, true);
	rx(&m, 1);
	nothing_sent();
	ck_assert_uint_eq(drops(DP_DROP_NOT_OURS), 1);
	ck_assert_uint_eq(dp.workers[0].frag_st.reassembled, 0);
}
END_TEST

/*
 * A flood of first fragments that never complete, against a table of 4
 * datagrams: the fifth and later are counted frag_table_full; once they
 * expire (timeout 50 ms) the poll loop counts every held fragment
 * frag_timeout and a new datagram is reassembled again.
 */
START_TEST(test_table_full_timeout)
{
	static struct dgram in, out;
	struct rte_mbuf *m;
	const unsigned int all[3] = { 0, 1, 2 };

	lab_down();
	lab_up_with(4, 50);
	for (uint16_t id = 0; id < 10; id++) {
		dgram_make(&in, IPPROTO_UDP, V_FNAT, 40005, 53,
			   (uint16_t)(400 + id), 3000, 0);
		m = frag_of(&in, 0, 1480, true);
		rx(&m, 1);
	}
	nothing_sent();
	ck_assert_uint_eq(drops(DP_DROP_FRAG_TABLE_FULL), 6);
	ck_assert_uint_eq(drops(DP_DROP_FRAG_TIMEOUT), 0);
	/* the table is full: a whole datagram does not get in either */
	dgram_make(&in, IPPROTO_UDP, V_FNAT, 40005, 53, 500, 3000, 0);
	send_split(&in, all, 3);
	nothing_sent();
	ck_assert_uint_eq(drops(DP_DROP_FRAG_TABLE_FULL), 9);

	nanosleep(&(struct timespec){ 0, 80000000 }, NULL);
	ipfrag_poll(&dp.workers[0]);
	ck_assert_uint_eq(drops(DP_DROP_FRAG_TIMEOUT), 4);
	dgram_make(&in, IPPROTO_UDP, V_FNAT, 40005, 53, 501, 3000, 0);
	send_split(&in, all, 3);
	ck_assert_uint_eq(collect(&out, dplab_mac_b10), 3);
	l4_ok(&out);

	/* a datagram that stays incomplete past the timeout is dropped */
	dgram_make(&in, IPPROTO_UDP, V_FNAT, 40005, 53, 502, 3000, 0);
	m = frag_of(&in, 0, 1480, true);
	rx(&m, 1);
	m = frag_of(&in, 1480, 1480, true);
	rx(&m, 1);
	nanosleep(&(struct timespec){ 0, 80000000 }, NULL);
	ipfrag_poll(&dp.workers[0]);
	ck_assert_uint_eq(drops(DP_DROP_FRAG_TIMEOUT), 6);
	m = frag_of(&in, 2960, 48, false);
	rx(&m, 1);
	nothing_sent();
	ck_assert_uint_eq(dp.workers[0].frag_st.reassembled, 1);
}
END_TEST

/* Reassembly off: fragments to VIPs are dropped as they were before. */
START_TEST(test_off)
{
	static struct dgram in;
	struct rte_mbuf *m;
	char err[128];

	ipfrag_fini(&dp);
	dp.conf.frag_reassembly = false;
	ck_assert_int_eq(ipfrag_init(&dp, err, sizeof(err)), 0);
	ck_assert_ptr_null(dp.frag);
	dgram_make(&in, IPPROTO_UDP, V_NAT, 40006, 53, 600, 3000, 0);
	m = frag_of(&in, 1480, 1480, true);
	rx(&m, 1);
	ck_assert_uint_eq(drops(DP_DROP_FRAGMENT), 1);
	/* and a pool too small for the tables is refused */
	dp.conf.frag_reassembly = true;
	dp.conf.frag_max_entries = 1u << 20;
	ck_assert_int_eq(ipfrag_init(&dp, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(dp.frag);
}
END_TEST

static Suite *
frag_suite(void)
{
	Suite *s = suite_create("frag");
	TCase *tc = tcase_create("reassembly");
	TCase *at = tcase_create("attacks");

	tcase_add_checked_fixture(tc, lab_up, lab_down);
	tcase_add_loop_test(tc, test_udp_modes, 0,
			    (int)(sizeof(mode_cases) / sizeof(mode_cases[0])));
	tcase_add_test(tc, test_tcp_segment);
	tcase_add_test(tc, test_small_whole);
	tcase_add_test(tc, test_handoff);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(at, lab_up, lab_down);
	tcase_add_test(at, test_overlap);
	tcase_add_test(at, test_bad_single);
	tcase_add_test(at, test_not_ours);
	tcase_add_test(at, test_table_full_timeout);
	tcase_add_test(at, test_off);
	suite_add_tcase(s, at);
	return s;
}

int
main(void)
{
	return dp_test_main("test_frag", frag_suite, &pool, 2048);
}
