/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fwd_adopt: the mh-adopt service flag (LB_SVC_F_MH_ADOPT), packet by
 * packet, in process (tests/lib/dplab's two-port lab, as test_fwd_limits).
 * A DR or TUNNEL service with scheduler mh and the flag takes a TCP
 * segment with ACK and without SYN or RST that has no connection (a flow
 * another balancer node scheduled before it failed) as a new connection:
 * on the backend a SYN of the same tuple gets on a fresh dataplane,
 * counted (adopted_total), embryonic (SYN_RECV) until the client's next
 * segment, through the limits of any new connection. Without the flag,
 * and for an RST, such a segment is dropped as no_conn. The flag is
 * refused for other schedulers and modes.
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
#include "worker.h"

#define IP  DPLAB_IP
#define SYN RTE_TCP_SYN_FLAG
#define ACK RTE_TCP_ACK_FLAG
#define RST RTE_TCP_RST_FLAG
#define FIN RTE_TCP_FIN_FLAG
#define PSH RTE_TCP_PSH_FLAG

#define NFLOWS 64u

/* network order; variables so that a failed check names them */
static const uint32_t VIP = IP(192, 0, 2, 9);
static const uint32_t CLIENT = IP(203, 0, 113, 7);
static const uint32_t B10 = IP(10, 1, 0, 10);
static const uint32_t B11 = IP(10, 1, 0, 11);

/* the client address of the next frame (mh hashes the source address) */
static uint32_t client;

static struct dp_ctx dp;
static struct dp_port ports[2];
static struct rte_mempool *pool;

/* ---- frames and the lab ---------------------------------------------------- */

/* A client TCP segment to VIP:80 with flags, no payload. */
static struct rte_mbuf *
frame(uint16_t sport, uint8_t flags)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	struct rte_tcp_hdr *th;

	ck_assert_ptr_nonnull(m);
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, 14 + 40);
	ck_assert_ptr_nonnull(eth);
	memset(eth, 0, 14 + 40);
	memcpy(eth->dst_addr.addr_bytes, dplab_mac_port[0], 6);
	memcpy(eth->src_addr.addr_bytes, dplab_mac_router, 6);
	eth->ether_type = htons(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	ip->version_ihl = 0x45;
	ip->total_length = htons(40);
	ip->time_to_live = 60;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = client;
	ip->dst_addr = VIP;
	ip->hdr_checksum = pktcheck_ip_csum(ip, 20);
	th = (struct rte_tcp_hdr *)(ip + 1);
	th->src_port = htons(sport);
	th->dst_port = htons(80);
	th->sent_seq = htonl((flags & SYN) ? 1000 : 1001);
	th->recv_ack = (flags & ACK) ? htonl(9000000) : 0;
	th->data_off = 5 << 4;
	th->tcp_flags = flags;
	th->rx_win = htons(65535);
	th->cksum = pktcheck_l4_csum(client, VIP, IPPROTO_TCP, th, 20);
	return m;
}

/*
 * Send a client segment through worker wk as classify would. Returns the
 * backend the packet went to (by its destination MAC: DR and TUNNEL both
 * send to the backend's MAC), or 0 when nothing was sent.
 */
static uint32_t
send_pkt(unsigned int wk, uint16_t sport, uint8_t flags)
{
	struct rte_mbuf *m = frame(sport, flags);
	struct lb_addr vip = { .family = AF_INET, .v4 = VIP };
	const struct svc *s = svc_lookup(dp.svc, IPPROTO_TCP, &vip, 80);
	struct dp_txbuf *tb = &dp.workers[wk].tx[1];
	struct pkt_info pi;
	uint32_t d = 0;

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(pkt_parse(m, &pi), DP_PASS);
	fwd_forward(&dp.workers[wk], m, 0, &pi, s);
	ck_assert_uint_eq(dp.workers[wk].tx[0].n, 0);
	ck_assert_uint_le(tb->n, 1);
	if (tb->n == 1) {
		const uint8_t *mac =
			rte_pktmbuf_mtod(tb->pkts[0], const uint8_t *);

		if (memcmp(mac, dplab_mac_b10, 6) == 0)
			d = B10;
		else if (memcmp(mac, dplab_mac_b11, 6) == 0)
			d = B11;
		else
			ck_abort_msg("sent to an unknown MAC");
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

static uint64_t
adopted(unsigned int wk)
{
	return dp.fwd->w[wk].adopted;
}

/* The TCP service VIP:80 over .10 (weight 1) and .11 (weight 3). 0, or
 * what the service table refused (why set). */
static int
service(uint8_t mode, const char *sched, uint32_t flags, char *why,
	size_t whylen)
{
	const struct dplab_backend be[2] = { { B10, 8080, 1 },
					     { B11, 8080, 3 } };
	const struct dplab_svc d = { .proto = IPPROTO_TCP,
				     .vip = VIP,
				     .vport = 80,
				     .mode = mode,
				     .sched = sched,
				     .flags = flags,
				     .b = be,
				     .nb = 2 };

	return dplab_service(dp.svc, &d, why, whylen);
}

static void
service_ok(uint8_t mode, uint32_t flags)
{
	char why[LBMSG_ERRMSG_MAX];

	ck_assert_msg(service(mode, "mh", flags, why, sizeof(why)) == 0,
		      "service: %s", why);
}

/* SERVICE_SET of one limit attribute. */
static void
svc_limit(int attr, uint32_t v)
{
	struct nl_msg *m = lbmsg_new(LB_MSG_SERVICE_SET, 0);
	struct lb_addr vip = { .family = AF_INET, .v4 = VIP };
	char why[LBMSG_ERRMSG_MAX];

	ck_assert_int_eq(lbmsg_put_svc_key(m, IPPROTO_TCP, &vip, 80), 0);
	ck_assert_int_eq(nla_put_u32(m, attr, v), 0);
	ck_assert_msg(dplab_ctrl(dp.svc, m, why, sizeof(why)) == 0,
		      "SERVICE_SET: %s", why);
}

/* The connection of client:sport -> VIP:80 on worker wk, or NULL. */
static struct conn *
conn_of(unsigned int wk, uint16_t sport)
{
	struct conn_key k = { .saddr = client,
			      .daddr = VIP,
			      .sport = htons(sport),
			      .dport = htons(80),
			      .proto = IPPROTO_TCP };
	unsigned int dir;

	return conn_lookup(fwd_conn_table(&dp, wk), &k, &dir);
}

static void
lab_up(void)
{
	ck_assert_int_eq(dplab_pair_up(&dp, ports, pool), 0);
	ck_assert_int_eq(dplab_svc_table(&dp, 64), 0);
	ck_assert_int_eq(fwd_init_conns(&dp, 64), 0);
	client = CLIENT;
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

/* ---- the backend of an adopted flow ------------------------------------- */

/* The client of flow i of same_backend(): one address each. */
static uint32_t
flow_client(uint16_t i)
{
	return IP(203, 0, 113, 10 + i);
}

/*
 * NFLOWS SYNs from as many clients on one dataplane (the node that
 * failed) pick a backend each; on a fresh dataplane (the survivor: new tables, same config) a
 * bare ACK of each flow is adopted on exactly that backend, counted,
 * SYN_RECV; the flow's next segment establishes it.
 */
static void
same_backend(uint8_t mode)
{
	uint32_t chosen[NFLOWS], n10 = 0;

	service_ok(mode, LB_SVC_F_MH_ADOPT);
	for (uint16_t i = 0; i < NFLOWS; i++) {
		client = flow_client(i);
		chosen[i] = send_pkt(0, (uint16_t)(20000 + i), SYN);
		ck_assert_uint_ne(chosen[i], 0);
		n10 += chosen[i] == B10;
	}
	/* both backends chosen: the comparison below means something */
	ck_assert_uint_gt(n10, 0);
	ck_assert_uint_lt(n10, NFLOWS);
	ck_assert_uint_eq(adopted(0), 0);

	lab_down();
	lab_up();
	service_ok(mode, LB_SVC_F_MH_ADOPT);
	for (uint16_t i = 0; i < NFLOWS; i++) {
		uint16_t sport = (uint16_t)(20000 + i);
		struct conn *c;

		client = flow_client(i);
		ck_assert_uint_eq(send_pkt(1, sport, ACK), chosen[i]);
		c = conn_of(1, sport);
		ck_assert_ptr_nonnull(c);
		ck_assert_uint_eq(c->baddr, chosen[i]);
		ck_assert_uint_eq(c->state, CONN_S_SYN_RECV);
	}
	ck_assert_uint_eq(adopted(1), NFLOWS);
	ck_assert_uint_eq(drops(1, DP_DROP_NO_CONN), 0);
	/* the next segment: established, same backend, no new adoption */
	client = flow_client(0);
	ck_assert_uint_eq(send_pkt(1, 20000, ACK | PSH), chosen[0]);
	ck_assert_uint_eq(conn_of(1, 20000)->state, CONN_S_ESTABLISHED);
	ck_assert_uint_eq(adopted(1), NFLOWS);
}

START_TEST(test_dr_same_backend)
{
	same_backend(LB_MODE_DR);
}
END_TEST

START_TEST(test_tun_same_backend)
{
	same_backend(LB_MODE_TUNNEL);
}
END_TEST

/* ---- what is not adopted ------------------------------------------------- */

static const struct {
	const char *what;
	uint8_t flags;
	bool adopt;
} flag_cases[] = {
	{ "ACK", ACK, true },
	{ "PSH ACK (data)", PSH | ACK, true },
	{ "FIN ACK", FIN | ACK, true },
	{ "RST", RST, false },
	{ "RST ACK", RST | ACK, false },
	{ "SYN ACK", SYN | ACK, false },
	{ "FIN without ACK", FIN, false },
	{ "no flags", 0, false },
};

/* With the flag: each kind of segment without a connection, adopted or
 * dropped as no_conn. */
START_TEST(test_flags)
{
	uint64_t n = 0, nd = 0;

	service_ok(LB_MODE_DR, LB_SVC_F_MH_ADOPT);
	for (uint16_t i = 0; i < RTE_DIM(flag_cases); i++) {
		uint16_t sport = (uint16_t)(21000 + i);
		uint32_t d = send_pkt(0, sport, flag_cases[i].flags);

		ck_assert_msg((d != 0) == flag_cases[i].adopt, "%s: sent %s",
			      flag_cases[i].what, d != 0 ? "yes" : "no");
		ck_assert_msg((conn_of(0, sport) != NULL) ==
				      flag_cases[i].adopt,
			      "%s: connection", flag_cases[i].what);
		n += flag_cases[i].adopt;
		nd += !flag_cases[i].adopt;
		ck_assert_uint_eq(adopted(0), n);
		ck_assert_uint_eq(drops(0, DP_DROP_NO_CONN), nd);
	}
}
END_TEST

/* Without the flag (the default), an mh DR service drops a bare ACK as
 * before; setting the flag with SERVICE_SET turns adoption on. */
START_TEST(test_off)
{
	struct nl_msg *m;
	struct lb_addr vip = { .family = AF_INET, .v4 = VIP };
	char why[LBMSG_ERRMSG_MAX];

	service_ok(LB_MODE_DR, 0);
	ck_assert_uint_eq(send_pkt(0, 22000, ACK), 0);
	ck_assert_ptr_null(conn_of(0, 22000));
	ck_assert_uint_eq(drops(0, DP_DROP_NO_CONN), 1);
	ck_assert_uint_eq(adopted(0), 0);

	m = lbmsg_new(LB_MSG_SERVICE_SET, 0);
	ck_assert_int_eq(lbmsg_put_svc_key(m, IPPROTO_TCP, &vip, 80), 0);
	ck_assert_int_eq(nla_put_u32(m, LB_ATTR_SVC_FLAGS, LB_SVC_F_MH_ADOPT),
			 0);
	ck_assert_msg(dplab_ctrl(dp.svc, m, why, sizeof(why)) == 0, "%s", why);
	ck_assert_uint_ne(send_pkt(0, 22000, ACK), 0);
	ck_assert_uint_eq(adopted(0), 1);
}
END_TEST

/* ---- limits ------------------------------------------------------------- */

/* max_conns 3 and conn_rate hold for adopted connections as for SYNs; a
 * refused segment counts under the limit's drop reason. */
START_TEST(test_limits)
{
	service_ok(LB_MODE_DR, LB_SVC_F_MH_ADOPT);
	svc_limit(LB_ATTR_MAX_CONNS, 3);
	for (uint16_t i = 0; i < 3; i++)
		ck_assert_uint_ne(send_pkt(0, (uint16_t)(23000 + i), ACK), 0);
	ck_assert_uint_eq(send_pkt(0, 23003, ACK), 0);
	ck_assert_uint_eq(send_pkt(1, 23004, ACK), 0);
	ck_assert_uint_eq(drops(0, DP_DROP_SVC_CONN_LIMIT), 1);
	ck_assert_uint_eq(drops(1, DP_DROP_SVC_CONN_LIMIT), 1);
	ck_assert_uint_eq(adopted(0), 3);
	ck_assert_uint_eq(adopted(1), 0);
	ck_assert_ptr_null(conn_of(0, 23003));
	/* existing ones go on */
	ck_assert_uint_ne(send_pkt(0, 23000, ACK), 0);

	/* conn_rate 10 over two workers: 5 at once on worker 1 */
	svc_limit(LB_ATTR_MAX_CONNS, 0);
	svc_limit(LB_ATTR_CONN_RATE, 10);
	for (uint16_t i = 0; i < 8; i++)
		send_pkt(1, (uint16_t)(23100 + i), ACK);
	ck_assert_uint_eq(adopted(1), 5);
	ck_assert_uint_eq(drops(1, DP_DROP_SVC_RATE_LIMIT), 3);
}
END_TEST

/*
 * A worker's table holds 64: 62 established connections (SYN then ACK)
 * and two adopted ones. A new SYN evicts the older adopted connection
 * (embryonic), not an established one; an adopted connection that saw
 * its second segment is established and no longer evictable.
 */
START_TEST(test_evict)
{
	struct conn_table *ct = fwd_conn_table(&dp, 0);
	struct conn_table_stats st;

	service_ok(LB_MODE_DR, LB_SVC_F_MH_ADOPT);
	for (uint16_t i = 0; i < 62; i++) {
		uint16_t sport = (uint16_t)(24000 + i);

		ck_assert_uint_ne(send_pkt(0, sport, SYN), 0);
		ck_assert_uint_ne(send_pkt(0, sport, ACK), 0);
	}
	ck_assert_uint_ne(send_pkt(0, 24100, ACK), 0);
	ck_assert_uint_ne(send_pkt(0, 24101, ACK), 0);
	conn_get_stats(ct, &st);
	ck_assert_uint_eq(st.conns, 64);
	ck_assert_uint_eq(adopted(0), 2);

	ck_assert_uint_ne(send_pkt(0, 24200, SYN), 0);
	conn_get_stats(ct, &st);
	ck_assert_uint_eq(st.evicted_syn, 1);
	ck_assert_ptr_null(conn_of(0, 24100));
	ck_assert_ptr_nonnull(conn_of(0, 24101));
	for (uint16_t i = 0; i < 62; i++)
		ck_assert_ptr_nonnull(conn_of(0, (uint16_t)(24000 + i)));

	/* 24101's second segment establishes it; 24200's ACK too */
	ck_assert_uint_ne(send_pkt(0, 24101, ACK), 0);
	ck_assert_uint_eq(conn_of(0, 24101)->state, CONN_S_ESTABLISHED);
	ck_assert_uint_ne(send_pkt(0, 24200, ACK), 0);
	/* nothing embryonic left: a bare ACK is refused, table full */
	ck_assert_uint_eq(send_pkt(0, 24300, ACK), 0);
	ck_assert_uint_eq(drops(0, DP_DROP_CONN_TABLE_FULL), 1);
	ck_assert_uint_eq(adopted(0), 2);
}
END_TEST

/* ---- configuration -------------------------------------------------------- */

/* The flag needs scheduler mh and mode dr or tunnel. */
START_TEST(test_refused)
{
	static const struct {
		uint8_t mode;
		const char *sched;
	} bad[] = { { LB_MODE_DR, "rr" },
		    { LB_MODE_TUNNEL, "sh" },
		    { LB_MODE_NAT, "mh" } };
	char why[LBMSG_ERRMSG_MAX];

	for (unsigned int i = 0; i < RTE_DIM(bad); i++) {
		int rc = service(bad[i].mode, bad[i].sched, LB_SVC_F_MH_ADOPT,
				 why, sizeof(why));

		ck_assert_int_eq(rc, -EINVAL);
		ck_assert_msg(strstr(why, "mh-adopt") != NULL, "why: %s", why);
	}
}
END_TEST

static Suite *
adopt_suite(void)
{
	Suite *s = suite_create("fwd_adopt");
	TCase *tc = tcase_create("adopt");

	tcase_add_checked_fixture(tc, lab_up, lab_down);
	tcase_add_test(tc, test_dr_same_backend);
	tcase_add_test(tc, test_tun_same_backend);
	tcase_add_test(tc, test_flags);
	tcase_add_test(tc, test_off);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_evict);
	tcase_add_test(tc, test_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return dp_test_main("test_fwd_adopt", adopt_suite, &pool, 1024);
}
