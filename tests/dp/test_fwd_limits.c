/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fwd_limits: the defences of the new-connection path, packet by packet,
 * in process (tests/lib/dplab's two-port lab, as test_fwd): eviction when
 * a worker's connection table is full (SYN_RECV first, then the UDP flow
 * idle for longest), backends over their upper threshold skipped until
 * they fall below the lower one, a service's connection limit, its
 * new-connection rate and the per-source SYN rate. Limits are set with
 * SERVICE_SET / BACKEND_SET requests through svc_ctrl_handle(), as
 * dp.sock does; every verdict is read from what the worker queued for TX
 * and from its drop counters.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
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

#define IP  DPLAB_IP
#define SYN RTE_TCP_SYN_FLAG
#define ACK RTE_TCP_ACK_FLAG

/* network order; variables so that a failed check names them */
static const uint32_t VIP = IP(192, 0, 2, 9);
static const uint32_t CLIENT = IP(203, 0, 113, 7);
static const uint32_t B10 = IP(10, 1, 0, 10);
static const uint32_t B11 = IP(10, 1, 0, 11);

static struct dp_ctx dp;
static struct dp_port ports[2];
static struct rte_mempool *pool;

/* ---- frames and the lab ---------------------------------------------------- */

/* A client packet: TCP with flags, or UDP with 8 payload bytes. */
static struct rte_mbuf *
frame(uint32_t saddr, uint16_t sport, uint16_t dport, uint8_t proto,
      uint8_t flags)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint16_t l4len = proto == IPPROTO_TCP ? 20 : 16;
	uint16_t iplen = (uint16_t)(20 + l4len);
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	uint8_t *l4;

	ck_assert_ptr_nonnull(m);
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, 14 + iplen);
	ck_assert_ptr_nonnull(eth);
	memset(eth, 0, 14 + iplen);
	memcpy(eth->dst_addr.addr_bytes, dplab_mac_port[0], 6);
	memcpy(eth->src_addr.addr_bytes, dplab_mac_router, 6);
	eth->ether_type = htons(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	ip->version_ihl = 0x45;
	ip->total_length = htons(iplen);
	ip->time_to_live = 60;
	ip->next_proto_id = proto;
	ip->src_addr = saddr;
	ip->dst_addr = VIP;
	ip->hdr_checksum = pktcheck_ip_csum(ip, 20);
	l4 = (uint8_t *)(ip + 1);
	if (proto == IPPROTO_TCP) {
		struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)l4;

		th->src_port = htons(sport);
		th->dst_port = htons(dport);
		th->sent_seq = htonl((flags & SYN) ? 1000 : 1001);
		th->recv_ack = (flags & ACK) ? htonl(5001) : 0;
		th->data_off = 5 << 4;
		th->tcp_flags = flags;
		th->rx_win = htons(65535);
		th->cksum = pktcheck_l4_csum(saddr, VIP, IPPROTO_TCP, l4, 20);
	} else {
		struct rte_udp_hdr *uh = (struct rte_udp_hdr *)l4;

		uh->src_port = htons(sport);
		uh->dst_port = htons(dport);
		uh->dgram_len = htons(16);
		uh->dgram_cksum =
			pktcheck_l4_csum(saddr, VIP, IPPROTO_UDP, l4, 16);
	}
	return m;
}

/*
 * Send a client packet through worker wk as classify would. Returns the
 * destination address of what went out to the backends (NAT rewrites
 * it), or 0 when nothing was sent.
 */
static uint32_t
send_pkt(unsigned int wk, uint32_t saddr, uint16_t sport, uint16_t dport,
	 uint8_t proto, uint8_t flags)
{
	struct rte_mbuf *m = frame(saddr, sport, dport, proto, flags);
	struct lb_addr vip = { .family = AF_INET, .v4 = VIP };
	const struct svc *s = svc_lookup(dp.svc, proto, &vip, dport);
	struct dp_txbuf *tb = &dp.workers[wk].tx[1];
	struct pkt_info pi;
	uint32_t d = 0;

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(pkt_parse(m, &pi), DP_PASS);
	fwd_forward(&dp.workers[wk], m, 0, &pi, s);
	ck_assert_uint_eq(dp.workers[wk].tx[0].n, 0);
	ck_assert_uint_le(tb->n, 1);
	if (tb->n == 1) {
		memcpy(&d, rte_pktmbuf_mtod_offset(tb->pkts[0], uint8_t *, 30),
		       4);
		rte_pktmbuf_free(tb->pkts[0]);
		tb->n = 0;
	}
	return d;
}

static uint64_t
drops(unsigned int wk, enum dp_drop why)
{
	return dp.workers[wk].drops[why];
}

static void
ctrl(struct nl_msg *m)
{
	char why[LBMSG_ERRMSG_MAX];
	int rc = dplab_ctrl(dp.svc, m, why, sizeof(why));

	ck_assert_msg(rc == 0, "control request failed: %s", why);
}

/* A NAT service VIP:vport (rr) with backends 10.1.0.10 (and .11); SYN
 * proxy off: these tests fill the table with SYNs on purpose, which would
 * switch auto mode on (test_synproxy covers that). */
static void
service(uint8_t proto, uint16_t vport, unsigned int nb)
{
	const struct dplab_backend be[2] = { { IP(10, 1, 0, 10), 8080, 1 },
					     { IP(10, 1, 0, 11), 8080, 1 } };
	const struct dplab_svc d = { .proto = proto,
				     .vip = VIP,
				     .vport = vport,
				     .mode = LB_MODE_NAT,
				     .sched = "rr",
				     .flags = LB_SVC_F_SYNPROXY_OFF,
				     .b = be,
				     .nb = nb };
	char why[LBMSG_ERRMSG_MAX];

	ck_assert_msg(dplab_service(dp.svc, &d, why, sizeof(why)) == 0,
		      "service: %s", why);
}

/* SERVICE_SET of one limit attribute. */
static void
svc_limit(uint8_t proto, uint16_t vport, int attr, uint32_t v)
{
	struct nl_msg *m = lbmsg_new(LB_MSG_SERVICE_SET, 0);
	struct lb_addr vip = { .family = AF_INET, .v4 = VIP };

	ck_assert_int_eq(lbmsg_put_svc_key(m, proto, &vip, vport), 0);
	ck_assert_int_eq(nla_put_u32(m, attr, v), 0);
	ctrl(m);
}

/* BACKEND_SET of b's thresholds. */
static void
thresholds(uint8_t proto, uint16_t vport, uint32_t b, uint32_t u, uint32_t l)
{
	struct nl_msg *m = lbmsg_new(LB_MSG_BACKEND_SET, 0);
	struct lb_addr vip = { .family = AF_INET, .v4 = VIP };
	struct lb_addr ba = { .family = AF_INET, .v4 = b };

	ck_assert_int_eq(lbmsg_put_svc_key(m, proto, &vip, vport), 0);
	ck_assert_int_eq(lbmsg_put_addr(m, LB_ATTR_ADDR, &ba), 0);
	ck_assert_int_eq(nla_put_u16(m, LB_ATTR_PORT, 8080), 0);
	ck_assert_int_eq(nla_put_u32(m, LB_ATTR_U_THRESH, u), 0);
	ck_assert_int_eq(nla_put_u32(m, LB_ATTR_L_THRESH, l), 0);
	ctrl(m);
}

/* The connection of client sport -> VIP:dport on worker wk, or NULL. */
static struct conn *
conn_of(unsigned int wk, uint32_t saddr, uint16_t sport, uint16_t dport,
	uint8_t proto)
{
	struct conn_key k = { .saddr = saddr,
			      .daddr = VIP,
			      .sport = htons(sport),
			      .dport = htons(dport),
			      .proto = proto };
	unsigned int dir;

	return conn_lookup(fwd_conn_table(&dp, wk), &k, &dir);
}

static void
lab_up(void)
{
	ck_assert_int_eq(dplab_pair_up(&dp, ports, pool), 0);
	ck_assert_int_eq(dplab_svc_table(&dp, 64), 0);
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

/* ---- eviction ------------------------------------------------------------ */

/*
 * Worker 0's table holds 64: two UDP flows (u0, u1) and 62 TCP SYNs
 * (SYN_RECV). A 63rd SYN evicts the oldest SYN (t0), not a UDP flow. Once
 * every TCP connection is established, a new UDP flow evicts the UDP flow
 * idle for longest: u1, because u0 had a packet a second later.
 */
START_TEST(test_evict)
{
	struct conn_table *ct;
	struct conn_table_stats st;

	service(IPPROTO_TCP, 80, 1);
	service(IPPROTO_UDP, 53, 1);
	ct = fwd_conn_table(&dp, 0);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 1000, 53, IPPROTO_UDP, 0), B10);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 1001, 53, IPPROTO_UDP, 0), B10);
	for (uint16_t i = 0; i < 62; i++)
		ck_assert_uint_eq(send_pkt(0, CLIENT, (uint16_t)(2000 + i), 80,
					   IPPROTO_TCP, SYN),
				  B10);
	conn_get_stats(ct, &st);
	ck_assert_uint_eq(st.conns, 64);
	ck_assert_ptr_nonnull(conn_of(0, CLIENT, 2000, 80, IPPROTO_TCP));

	/* full: a new SYN evicts the oldest embryonic connection */
	ck_assert_uint_eq(send_pkt(0, CLIENT, 2062, 80, IPPROTO_TCP, SYN), B10);
	conn_get_stats(ct, &st);
	ck_assert_uint_eq(st.evicted_syn, 1);
	ck_assert_uint_eq(st.evicted_udp, 0);
	ck_assert_uint_eq(st.table_full, 0);
	ck_assert_uint_eq(st.conns, 64);
	ck_assert_uint_eq(drops(0, DP_DROP_CONN_TABLE_FULL), 0);
	ck_assert_ptr_null(conn_of(0, CLIENT, 2000, 80, IPPROTO_TCP));
	ck_assert_ptr_nonnull(conn_of(0, CLIENT, 2001, 80, IPPROTO_TCP));
	ck_assert_ptr_nonnull(conn_of(0, CLIENT, 1000, 53, IPPROTO_UDP));
	ck_assert_ptr_nonnull(conn_of(0, CLIENT, 1001, 53, IPPROTO_UDP));

	/* every TCP connection established: only UDP flows are evictable */
	for (uint16_t i = 1; i < 63; i++) {
		ck_assert_uint_eq(send_pkt(0, CLIENT, (uint16_t)(2000 + i), 80,
					   IPPROTO_TCP, ACK),
				  B10);
		ck_assert_uint_eq(conn_of(0, CLIENT, (uint16_t)(2000 + i), 80,
					  IPPROTO_TCP)
					  ->state,
				  CONN_S_ESTABLISHED);
	}
	/* u0 is active a second later than both were created */
	nanosleep(&(struct timespec){ 1, 100000000 }, NULL);
	conn_tick(ct);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 1000, 53, IPPROTO_UDP, 0), B10);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 1002, 53, IPPROTO_UDP, 0), B10);
	conn_get_stats(ct, &st);
	ck_assert_uint_eq(st.evicted_syn, 1);
	ck_assert_uint_eq(st.evicted_udp, 1);
	ck_assert_ptr_null(conn_of(0, CLIENT, 1001, 53, IPPROTO_UDP));
	ck_assert_ptr_nonnull(conn_of(0, CLIENT, 1000, 53, IPPROTO_UDP));
	ck_assert_ptr_nonnull(conn_of(0, CLIENT, 1002, 53, IPPROTO_UDP));

	/* two UDP flows left: then nothing can be evicted, a SYN is dropped */
	ck_assert_uint_eq(send_pkt(0, CLIENT, 1003, 53, IPPROTO_UDP, 0), B10);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 1004, 53, IPPROTO_UDP, 0), B10);
	conn_get_stats(ct, &st);
	ck_assert_uint_eq(st.evicted_udp, 3);
	ck_assert_uint_eq(st.conns, 64);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 3000, 80, IPPROTO_TCP, SYN), B10);
	conn_get_stats(ct, &st);
	ck_assert_uint_eq(st.evicted_udp, 4);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 3001, 80, IPPROTO_TCP, SYN), B10);
	/* 3000 is SYN_RECV now: the next SYN evicts it */
	conn_get_stats(ct, &st);
	ck_assert_uint_eq(st.evicted_syn, 2);
	ck_assert_ptr_null(conn_of(0, CLIENT, 3000, 80, IPPROTO_TCP));
	ck_assert_uint_eq(send_pkt(0, CLIENT, 3001, 80, IPPROTO_TCP, ACK), B10);
	/* 62 + 1 established, one UDP flow: evict it, then nothing */
	ck_assert_uint_eq(send_pkt(0, CLIENT, 3002, 80, IPPROTO_TCP, SYN), B10);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 3002, 80, IPPROTO_TCP, ACK), B10);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 3003, 80, IPPROTO_TCP, SYN), 0);
	conn_get_stats(ct, &st);
	ck_assert_uint_eq(st.evicted_udp, 5);
	ck_assert_uint_eq(st.table_full, 1);
	ck_assert_uint_eq(drops(0, DP_DROP_CONN_TABLE_FULL), 1);
}
END_TEST

/* ---- backend thresholds ---------------------------------------------------- */

/* Kill the connection of client sport (port 80) on worker 0. */
static void
kill(uint16_t sport)
{
	struct conn *c = conn_of(0, CLIENT, sport, 80, IPPROTO_TCP);

	ck_assert_ptr_nonnull(c);
	conn_kill(fwd_conn_table(&dp, 0), c);
}

/*
 * rr over .10 (u_thresh 2, l_thresh 1) and .11: once .10 holds two
 * connections every new one goes to .11; with one left (below the upper,
 * not below the lower threshold) still; with none, .10 is scheduled again.
 * A service whose only backend is over its threshold drops (counted).
 */
START_TEST(test_thresholds)
{
	uint16_t on10[2], n10 = 0, sport = 4000;

	service(IPPROTO_TCP, 80, 2);
	thresholds(IPPROTO_TCP, 80, B10, 2, 1);
	while (n10 < 2) {
		uint32_t d = send_pkt(0, CLIENT, sport, 80, IPPROTO_TCP, SYN);

		ck_assert_uint_ne(d, 0);
		if (d == B10)
			on10[n10++] = sport;
		ck_assert_uint_lt(++sport, 4010);
	}
	for (int i = 0; i < 4; i++, sport++)
		ck_assert_uint_eq(
			send_pkt(0, CLIENT, sport, 80, IPPROTO_TCP, SYN), B11);
	kill(on10[0]);
	for (int i = 0; i < 4; i++, sport++)
		ck_assert_uint_eq(
			send_pkt(0, CLIENT, sport, 80, IPPROTO_TCP, SYN), B11);
	kill(on10[1]);
	n10 = 0;
	for (int i = 0; i < 2; i++, sport++)
		n10 += send_pkt(0, CLIENT, sport, 80, IPPROTO_TCP, SYN) == B10;
	ck_assert_uint_eq(n10, 1);
	ck_assert_uint_eq(drops(0, DP_DROP_BACKEND_OVERLOADED), 0);

	/* one backend, u_thresh 1 (lower: 3/4 of it, rounded to 0) */
	service(IPPROTO_UDP, 53, 1);
	thresholds(IPPROTO_UDP, 53, B10, 1, 0);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 5000, 53, IPPROTO_UDP, 0), B10);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 5001, 53, IPPROTO_UDP, 0), 0);
	ck_assert_uint_eq(drops(0, DP_DROP_BACKEND_OVERLOADED), 1);
	/* the existing flow goes on */
	ck_assert_uint_eq(send_pkt(0, CLIENT, 5000, 53, IPPROTO_UDP, 0), B10);
}
END_TEST

/* ---- service limits --------------------------------------------------------- */

/*
 * max_conns 3 counts the connections of every worker: two on worker 1 and
 * one on worker 0 fill it; the next is dropped on either; once one ends,
 * a new one passes.
 */
START_TEST(test_svc_conn_limit)
{
	service(IPPROTO_TCP, 80, 1);
	svc_limit(IPPROTO_TCP, 80, LB_ATTR_MAX_CONNS, 3);
	ck_assert_uint_eq(send_pkt(1, CLIENT, 6000, 80, IPPROTO_TCP, SYN), B10);
	ck_assert_uint_eq(send_pkt(1, CLIENT, 6001, 80, IPPROTO_TCP, SYN), B10);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 6002, 80, IPPROTO_TCP, SYN), B10);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 6003, 80, IPPROTO_TCP, SYN), 0);
	ck_assert_uint_eq(send_pkt(1, CLIENT, 6004, 80, IPPROTO_TCP, SYN), 0);
	ck_assert_uint_eq(drops(0, DP_DROP_SVC_CONN_LIMIT), 1);
	ck_assert_uint_eq(drops(1, DP_DROP_SVC_CONN_LIMIT), 1);
	/* existing connections go on */
	ck_assert_uint_eq(send_pkt(0, CLIENT, 6002, 80, IPPROTO_TCP, ACK), B10);
	kill(6002);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 6005, 80, IPPROTO_TCP, SYN), B10);
	/* 0 lifts the limit */
	svc_limit(IPPROTO_TCP, 80, LB_ATTR_MAX_CONNS, 0);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 6006, 80, IPPROTO_TCP, SYN), B10);
	ck_assert_uint_eq(drops(0, DP_DROP_SVC_CONN_LIMIT), 1);
}
END_TEST

/*
 * conn_rate 10 with two workers: each worker takes 5 new flows at once
 * (its bucket holds one second's share), then drops until it refills.
 */
START_TEST(test_conn_rate)
{
	unsigned int sent[2] = { 0, 0 };

	service(IPPROTO_UDP, 53, 1);
	svc_limit(IPPROTO_UDP, 53, LB_ATTR_CONN_RATE, 10);
	for (unsigned int w = 0; w < 2; w++)
		for (uint16_t i = 0; i < 8; i++)
			sent[w] += send_pkt(w, CLIENT,
					    (uint16_t)(7000 + w * 100 + i), 53,
					    IPPROTO_UDP, 0) == B10;
	ck_assert_uint_eq(sent[0], 5);
	ck_assert_uint_eq(sent[1], 5);
	ck_assert_uint_eq(drops(0, DP_DROP_SVC_RATE_LIMIT), 3);
	ck_assert_uint_eq(drops(1, DP_DROP_SVC_RATE_LIMIT), 3);
	/* packets of existing flows are not new connections */
	ck_assert_uint_eq(send_pkt(0, CLIENT, 7000, 53, IPPROTO_UDP, 0), B10);
	/* refilled after a while: 1/5 s per token on each worker */
	nanosleep(&(struct timespec){ 0, 450000000 }, NULL);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 7050, 53, IPPROTO_UDP, 0), B10);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 7051, 53, IPPROTO_UDP, 0), B10);
}
END_TEST

/*
 * syn_src_rate 4 with two workers: 2 SYNs per source at once on worker
 * 0; the next from that source is dropped, another source passes, and a
 * UDP service without the option is not limited. Off by default: the
 * same burst passes before the option is set.
 */
START_TEST(test_syn_src_limit)
{
	const uint32_t other = IP(203, 0, 113, 8);

	service(IPPROTO_TCP, 80, 1);
	for (uint16_t i = 0; i < 4; i++)
		ck_assert_uint_eq(send_pkt(0, other, (uint16_t)(8100 + i), 80,
					   IPPROTO_TCP, SYN),
				  B10);
	svc_limit(IPPROTO_TCP, 80, LB_ATTR_SYN_SRC_RATE, 4);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 8000, 80, IPPROTO_TCP, SYN), B10);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 8001, 80, IPPROTO_TCP, SYN), B10);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 8002, 80, IPPROTO_TCP, SYN), 0);
	ck_assert_uint_eq(send_pkt(0, CLIENT, 8003, 80, IPPROTO_TCP, SYN), 0);
	ck_assert_uint_eq(drops(0, DP_DROP_SYN_SRC_LIMIT), 2);
	ck_assert_uint_eq(send_pkt(0, other, 8200, 80, IPPROTO_TCP, SYN), B10);
	ck_assert_uint_eq(send_pkt(0, other, 8201, 80, IPPROTO_TCP, SYN), B10);
	ck_assert_uint_eq(send_pkt(0, other, 8202, 80, IPPROTO_TCP, SYN), 0);
	/* an established connection's segments are not SYNs of new ones */
	ck_assert_uint_eq(send_pkt(0, CLIENT, 8000, 80, IPPROTO_TCP, ACK), B10);
	ck_assert_uint_eq(drops(0, DP_DROP_SYN_SRC_LIMIT), 3);
}
END_TEST

static Suite *
limits_suite(void)
{
	Suite *s = suite_create("fwd_limits");
	TCase *tc = tcase_create("limits");

	tcase_add_checked_fixture(tc, lab_up, lab_down);
	tcase_add_test(tc, test_evict);
	tcase_add_test(tc, test_thresholds);
	tcase_add_test(tc, test_svc_conn_limit);
	tcase_add_test(tc, test_conn_rate);
	tcase_add_test(tc, test_syn_src_limit);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return dp_test_main("test_fwd_limits", limits_suite, &pool, 1024);
}
