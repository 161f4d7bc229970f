/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_own: what the dataplane's own work costs a packet, with no driver
 * copying frames. One process, one thread: the real dataplane context
 * (service table, connection table, routes, neighbours, the forwarding
 * stage) around one DPDK net_ring port, whose RX and TX queues are plain
 * rte_rings; the worker's real poll-loop body (worker_iterate: RX burst,
 * parse, burst lookup, forward, rewrite, TX flush, quiescent states) runs
 * on it. The harness writes each burst of 32 frames into recycled mbufs
 * (a 60-byte frame per flow, patched from one template: client address,
 * port and a flow number, checksums updated), enqueues it on the RX ring,
 * runs one worker iteration, and takes the frames back off the TX ring.
 *
 * The floor is the same harness with a do-nothing forwarder in place of
 * the worker (the burst moved from the RX to the TX queue through the
 * same ethdev calls). A mode's own cost is its cycles per packet minus
 * the floor's, each run paired with a floor run taken just before it.
 *
 * Figures (JSON on stdout):
 *   steady   DR, NAT, TUNNEL, FULL-NAT over N established UDP flows (a
 *            warm-up pass creates one connection per flow), N from
 *            --flows; each repetition sends max(N, --packets) frames in a
 *            fixed pseudo-random flow order.
 *   newconn  every frame a TCP SYN of a flow never seen, into a fresh
 *            table sized for them; connections per second = TSC Hz over
 *            the own cycles per SYN.
 *
 * Every output frame of one burst in VAL_EVERY (every burst with --smoke)
 * is validated independently of the code under test: addresses, ports,
 * TTL, the backend's MAC, IPv4 and L4 checksums recomputed from scratch,
 * the IPIP header for TUNNEL. A frame that does not come back counts as
 * missing. The exit status is 1 when any frame was invalid or missing,
 * when a mode forwarded nothing, or when a warm-up did not create one
 * connection per flow; the figures are printed regardless.
 *
 *   bench_own [EAL args] -- [--smoke] [--flows N,N..] [--reps R]
 *                           [--packets P] [--syn S] [--modes dr,nat,..]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "conn.h"
#include "csum.h"
#include "dp.h"
#include "dplab.h"
#include "fwd.h"
#include "neigh.h"
#include "pktcheck.h"
#include "port.h"
#include "route.h"
#include "svc.h"
#include "worker.h"

#define IPH(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))
#define OWN_SLOTS	16 /* bursts of mbufs in rotation */
#define VAL_EVERY	64 /* validate one burst in this many */
#define NB_BACKENDS	10
#define NB_LADDRS	200 /* ~64k ports each: 10M FULL-NAT flows fit */
#define FLOW_STRIDE	2654435761u /* see stride_for() */
#define FRAME_LEN	60
#define RING_SIZE	1024

struct mode_def {
	const char *name;
	uint8_t mode;
	uint16_t bport;
};

static const struct mode_def mode_defs[] = {
	{ "dr", LB_MODE_DR, 80 },
	{ "nat", LB_MODE_NAT, 8080 },
	{ "tunnel", LB_MODE_TUNNEL, 80 },
	{ "fnat", LB_MODE_FNAT, 8080 },
};
#define NB_MODES (sizeof(mode_defs) / sizeof(mode_defs[0]))

static const struct rte_ether_addr port_mac = { { 2, 0, 0, 0, 0, 1 } };
static const struct rte_ether_addr router_mac = { { 2, 0, 0, 0, 0, 0xfe } };

static struct dp_ctx dp;
static struct dp_port port0;
static struct rte_mempool *pool;
static struct rte_ring *rxr, *txr;
static struct rte_mbuf *slots[OWN_SLOTS][DP_BURST];
static uint64_t prev_tsc;
static bool smoke;

/* ---- independent checks ---------------------------------------------------- */

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* ---- flows and frames -------------------------------------------------- */

static uint32_t
vip_of(const struct mode_def *md)
{
	return IPH(10, 0, 0, 100) + (uint32_t)(md - mode_defs);
}

static uint32_t
client_of(uint32_t flow)
{
	return IPH(10, 1, 0, 1) + flow / 60000;
}

static uint16_t
cport_of(uint32_t flow)
{
	return (uint16_t)(1024 + flow % 60000);
}

struct tmpl {
	uint8_t b[FRAME_LEN];
	uint8_t proto;
};

/* A frame to vip:80 from 0.0.0.0:0, flow number 0, checksums right. */
static void
tmpl_build(struct tmpl *t, uint32_t vip, uint8_t proto)
{
	uint8_t *ip = t->b + 14, *l4 = ip + 20;
	uint16_t iplen = proto == IPPROTO_TCP ? 40 : FRAME_LEN - 14;
	uint16_t s;

	memset(t, 0, sizeof(*t));
	t->proto = proto;
	memcpy(t->b, &port_mac, 6);
	memcpy(t->b + 6, &router_mac, 6);
	t->b[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(iplen >> 8);
	ip[3] = (uint8_t)iplen;
	ip[4] = 0x12;
	ip[5] = 0x34;
	ip[8] = 64;
	ip[9] = proto;
	ip[16] = (uint8_t)(vip >> 24);
	ip[17] = (uint8_t)(vip >> 16);
	ip[18] = (uint8_t)(vip >> 8);
	ip[19] = (uint8_t)vip;
	s = (uint16_t)~pktcheck_sum16(ip, 20, 0);
	ip[10] = (uint8_t)(s >> 8);
	ip[11] = (uint8_t)s;
	l4[2] = 0;
	l4[3] = 80;
	if (proto == IPPROTO_TCP) {
		l4[12] = 5 << 4;
		l4[13] = RTE_TCP_SYN_FLAG;
		l4[14] = 0xff;
		l4[15] = 0xff;
		s = (uint16_t)~pktcheck_l4_sum(ip, ip[9], l4, 20);
		l4[16] = (uint8_t)(s >> 8);
		l4[17] = (uint8_t)s;
	} else {
		uint16_t ulen = (uint16_t)(iplen - 20);

		l4[4] = (uint8_t)(ulen >> 8);
		l4[5] = (uint8_t)ulen;
		for (unsigned int i = 12; i < ulen; i++)
			l4[i] = (uint8_t)(i * 7);
		s = (uint16_t)~pktcheck_l4_sum(ip, ip[9], l4, ulen);
		l4[6] = (uint8_t)(s >> 8);
		l4[7] = (uint8_t)s;
	}
}

/* Offset of the flow number: the TCP sequence number, or the first four
 * bytes of the UDP payload. */
static unsigned int
flow_off(uint8_t proto)
{
	return 14 + 20 + (proto == IPPROTO_TCP ? 4 : 8);
}

/* m := t for flow (the harness's per-packet work, also in the floor). */
static inline void
frame_fill(struct rte_mbuf *m, const struct tmpl *t, uint32_t flow)
{
	uint8_t *p = (uint8_t *)m->buf_addr + RTE_PKTMBUF_HEADROOM;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + 14);
	uint32_t caddr = rte_cpu_to_be_32(client_of(flow));
	uint32_t fl = rte_cpu_to_be_32(flow);
	uint16_t cport = rte_cpu_to_be_16(cport_of(flow));
	uint16_t *l4sum;

	m->data_off = RTE_PKTMBUF_HEADROOM;
	m->data_len = FRAME_LEN;
	m->pkt_len = FRAME_LEN;
	m->ol_flags = 0;
	memcpy(p, t->b, FRAME_LEN);
	ip->src_addr = caddr;
	csum_replace4(CSUM_FIELD(ip, hdr_checksum), 0, caddr);
	memcpy(p + 34, &cport, 2);
	memcpy(p + flow_off(t->proto), &fl, 4);
	l4sum = (uint16_t *)(p + 34 + (t->proto == IPPROTO_TCP ? 16 : 6));
	csum_replace4(l4sum, 0, caddr);
	csum_replace4(l4sum, 0, fl);
	csum_replace2(l4sum, 0, cport);
	if (t->proto == IPPROTO_UDP)
		csum_udp_fix(l4sum);
}

/* ---- validation -------------------------------------------------------- */

enum bad {
	BAD_LEN,
	BAD_MAC,
	BAD_IP_CSUM,
	BAD_L4_CSUM,
	BAD_ADDR,
	BAD_PORT,
	BAD_TTL,
	BAD_OUTER,
	BAD_MAX,
};
static const char *const bad_names[BAD_MAX] = {
	"length",  "mac",  "ip_checksum", "l4_checksum",
	"address", "port", "ttl",	  "ipip_outer",
};

struct tally {
	uint64_t checked;
	uint64_t missing; /* frames that did not come back */
	uint64_t bad[BAD_MAX];
};

/* Check the IPv4 packet at ip of flow from the client (as sent, with
 * source src:sport, destination dst:dport, TTL ttl). */
static int
check_ip(const uint8_t *ip, uint16_t avail, uint8_t proto, uint32_t flow,
	 uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
	 uint8_t ttl)
{
	uint16_t iplen = rd16(ip + 2);
	const uint8_t *l4 = ip + 20;

	if (avail < 20 || iplen > avail || ip[0] != 0x45 || ip[9] != proto)
		return BAD_LEN;
	if (pktcheck_sum16(ip, 20, 0) != 0xffff)
		return BAD_IP_CSUM;
	if (ip[8] != ttl)
		return BAD_TTL;
	if (rd32(ip + 12) != src || rd32(ip + 16) != dst)
		return BAD_ADDR;
	if ((sport != 0 && rd16(l4) != sport) || rd16(l4 + 2) != dport)
		return BAD_PORT;
	if (rd32(ip + flow_off(proto) - 14) != flow)
		return BAD_LEN;
	if (pktcheck_l4_sum(ip, ip[9], l4, (uint16_t)(iplen - 20)) != 0xffff)
		return BAD_L4_CSUM;
	return -1;
}

/* The backend (1..NB_BACKENDS) whose MAC m is sent to, or 0. */
static uint32_t
backend_of_mac(const uint8_t *eth)
{
	static const uint8_t pfx[5] = { 2, 0xbb, 10, 0, 1 };

	if (memcmp(eth + 6, &port_mac, 6) != 0 || memcmp(eth, pfx, 5) != 0 ||
	    eth[5] == 0 || eth[5] > NB_BACKENDS)
		return 0;
	return eth[5];
}

/* -1 when m is what md makes of the frame of flow, else enum bad. */
static int
check_frame(const struct rte_mbuf *m, const struct mode_def *md, uint8_t proto,
	    uint32_t flow)
{
	const uint8_t *eth = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *ip = eth + 14;
	uint16_t avail = (uint16_t)(rte_pktmbuf_data_len(m) - 14);
	uint32_t caddr = client_of(flow), vip, b, baddr;
	uint16_t cport = cport_of(flow);

	if (rte_pktmbuf_data_len(m) < 34 || eth[12] != 0x08 || eth[13] != 0)
		return BAD_LEN;
	if (md == NULL) /* the floor: the frame as sent */
		return memcmp(eth, &port_mac, 6) != 0
			       ? BAD_MAC
			       : check_ip(ip, avail, proto, flow, caddr, cport,
					  IPH(10, 0, 0, 100), 80, 64);
	vip = vip_of(md);
	b = backend_of_mac(eth);
	if (b == 0)
		return BAD_MAC;
	baddr = IPH(10, 0, 1, 0) + b;
	switch (md->mode) {
	case LB_MODE_DR:
		return check_ip(ip, avail, proto, flow, caddr, cport, vip, 80,
				63);
	case LB_MODE_NAT:
		return check_ip(ip, avail, proto, flow, caddr, cport, baddr,
				md->bport, 63);
	case LB_MODE_FNAT: {
		uint32_t la = rd32(ip + 12);

		if (la <= IPH(10, 0, 2, 0) || la > IPH(10, 0, 2, NB_LADDRS))
			return BAD_ADDR;
		return check_ip(ip, avail, proto, flow, la, 0, baddr, md->bport,
				63);
	}
	case LB_MODE_TUNNEL:
		if (avail < 40 || ip[9] != IPPROTO_IPIP ||
		    pktcheck_sum16(ip, 20, 0) != 0xffff ||
		    rd32(ip + 12) != IPH(10, 0, 0, 1) ||
		    rd32(ip + 16) != baddr ||
		    rd16(ip + 2) != rd16(ip + 22) + 20)
			return BAD_OUTER;
		return check_ip(ip + 20, (uint16_t)(avail - 20), proto, flow,
				caddr, cport, vip, 80, 63);
	}
	return BAD_ADDR;
}

/* ---- the lab --------------------------------------------------------------- */

/* The service of md for proto: 10 backends (Maglev), 100 local
 * addresses for FULL-NAT, as the memif rig programs it. The SYN proxy is
 * off: these figures are the plain forwarding and new-connection paths
 * (its automatic mode would take over the SYN bursts of "newconn"; the
 * SYN proxy has its own figure, run.sh's synflood). */
static int
service(const struct mode_def *md, uint8_t proto)
{
	struct dplab_backend b[NB_BACKENDS];
	struct dplab_svc d = { .proto = proto,
			       .vip = rte_cpu_to_be_32(vip_of(md)),
			       .vport = 80,
			       .mode = md->mode,
			       .sched = "mh",
			       .b = b,
			       .nb = NB_BACKENDS };
	char why[LBMSG_ERRMSG_MAX];
	int rc;

	for (uint32_t i = 0; i < NB_BACKENDS; i++)
		b[i] = (struct dplab_backend){
			rte_cpu_to_be_32(IPH(10, 0, 1, i + 1)), md->bport, 1
		};
	if (proto == IPPROTO_TCP &&
	    (md->mode == LB_MODE_NAT || md->mode == LB_MODE_FNAT))
		d.flags = LB_SVC_F_SYNPROXY_OFF;
	if (md->mode == LB_MODE_FNAT) {
		d.laddr = rte_cpu_to_be_32(IPH(10, 0, 2, 1));
		d.nladdr = NB_LADDRS;
	}
	rc = dplab_service(dp.svc, &d, why, sizeof(why));
	if (rc != 0)
		fprintf(stderr, "bench_own: control request: %s\n", why);
	return rc;
}

/* The net_ring port: RX and TX queues are rxr and txr. */
static int
ring_port(void)
{
	struct rte_eth_conf conf = { 0 };
	int id;

	rxr = rte_ring_create("own_rx", RING_SIZE, (int)rte_socket_id(),
			      RING_F_SP_ENQ | RING_F_SC_DEQ);
	txr = rte_ring_create("own_tx", RING_SIZE, (int)rte_socket_id(),
			      RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (rxr == NULL || txr == NULL)
		return -ENOMEM;
	id = rte_eth_from_rings("own0", &rxr, 1, &txr, 1, rte_socket_id());
	if (id < 0)
		return -ENODEV;
	if (rte_eth_dev_configure((uint16_t)id, 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup((uint16_t)id, 0, RING_SIZE, rte_socket_id(),
				   NULL, pool) != 0 ||
	    rte_eth_tx_queue_setup((uint16_t)id, 0, RING_SIZE, rte_socket_id(),
				   NULL) != 0 ||
	    rte_eth_dev_start((uint16_t)id) != 0)
		return -EIO;
	return id;
}

static int
lab_up(void)
{
	static const struct port_addr addr = { RTE_BE32(IPH(10, 0, 0, 1)), 16,
					       0 };
	int id, rc;

	pool = rte_pktmbuf_pool_create("own_pool", 8191, 256, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	if (pool == NULL)
		return -ENOMEM;
	id = ring_port();
	if (id < 0)
		return id;
	rc = dplab_ctx_init(&dp, 1, pool);
	if (rc < 0)
		return rc;
	port0 = (struct dp_port){ .id = (uint16_t)id, .mtu = 1500 };
	snprintf(port0.name, sizeof(port0.name), "p0");
	port0.mac = port_mac;
	port0.ctrl_txr = rte_ring_create("own_ctrl", 64, (int)rte_socket_id(),
					 RING_F_SC_DEQ);
	dp.ports[0] = &port0;
	dp.nports = 1;
	dp.arp_ring = rte_ring_create("own_arp", 1024, (int)rte_socket_id(),
				      RING_F_SC_DEQ);
	dp.pend_ring = rte_ring_create("own_pend", 1024, (int)rte_socket_id(),
				       RING_F_SC_DEQ);
	if (port0.ctrl_txr == NULL || dp.arp_ring == NULL ||
	    dp.pend_ring == NULL || dplab_addrs(&dp, &addr, 1) != 0)
		return -ENOMEM;
	dp.route = route_create(64, NULL, SOCKET_ID_ANY);
	if (dp.route == NULL ||
	    route_connected_add(dp.route, rte_cpu_to_be_32(IPH(10, 0, 0, 0)),
				16, 0) != 0 ||
	    neigh_create(&dp) == NULL)
		return -ENOMEM;
	for (uint32_t b = 1; b <= NB_BACKENDS; b++) {
		uint8_t mac[6] = { 2, 0xbb, 10, 0, 1, (uint8_t)b };

		if (neigh_add(dp.neigh, rte_cpu_to_be_32(IPH(10, 0, 1, b)), 0,
			      mac) != 0)
			return -ENOMEM;
	}
	if (dplab_svc_table(&dp, 512) != 0)
		return -ENOMEM;
	for (unsigned int i = 0; i < NB_MODES; i++)
		if (service(&mode_defs[i], IPPROTO_UDP) != 0 ||
		    service(&mode_defs[i], IPPROTO_TCP) != 0)
			return -EINVAL;
	dp.rx_enabled = 1;
	rte_rcu_qsbr_thread_register(dp.qsv, 0);
	rte_rcu_qsbr_thread_online(dp.qsv, 0);
	svc_worker_online(dp.svc, 0);
	for (unsigned int s = 0; s < OWN_SLOTS; s++)
		if (rte_pktmbuf_alloc_bulk(pool, slots[s], DP_BURST) != 0)
			return -ENOMEM;
	prev_tsc = rte_rdtsc();
	return 0;
}

/* A fresh forwarding stage with a table of conns connections. */
static int
table(uint32_t conns)
{
	if (dp.fwd != NULL) {
		fwd_fini(&dp);
		/* the hash frees deleted keys after a grace period */
		rte_rcu_qsbr_quiescent(dp.qsv, 0);
	}
	return fwd_init_conns(&dp, conns);
}

/* ---- the measured loop ----------------------------------------------------- */

struct run {
	uint64_t pkts;
	uint64_t cycles; /* the loop, validation excluded */
	uint64_t busy;	 /* the worker's own busy-cycle counter */
};

/*
 * Send npkts frames of t: packet k (from k0) is flow (k * stride) % nflows
 * (stride 1: flow k). md NULL: the do-nothing forwarder.
 */
static int
run(const struct mode_def *md, const struct tmpl *t, uint64_t k0,
    uint64_t npkts, uint32_t nflows, uint64_t stride, struct run *r,
    struct tally *ty)
{
	struct dp_worker *w = &dp.workers[0];
	uint64_t busy0 = w->lcore_st.busy_cycles, t0, tv = 0, k = k0;
	unsigned int s = 0, nb = 0;

	t0 = rte_rdtsc();
	for (uint64_t sent = 0; sent < npkts; s = (s + 1) % OWN_SLOTS, nb++) {
		struct rte_mbuf **b = slots[s];
		uint32_t fl[DP_BURST];
		unsigned int n = npkts - sent < DP_BURST
					 ? (unsigned int)(npkts - sent)
					 : DP_BURST,
			     got;

		for (unsigned int i = 0; i < n; i++) {
			fl[i] = (uint32_t)((k + i) * stride % nflows);
			frame_fill(b[i], t, fl[i]);
		}
		if (rte_ring_sp_enqueue_bulk(rxr, (void **)b, n, NULL) != n)
			return -ENOBUFS;
		if (md == NULL) {
			struct rte_mbuf *x[DP_BURST];
			uint16_t m = rte_eth_rx_burst(port0.id, 0, x, DP_BURST);

			if (rte_eth_tx_burst(port0.id, 0, x, m) != m)
				return -ENOBUFS;
		} else {
			/* busy cycles: this iteration only, not the harness */
			prev_tsc = rte_rdtsc();
			worker_iterate(w, &prev_tsc);
		}
		got = rte_ring_sc_dequeue_burst(txr, (void **)b, DP_BURST,
						NULL);
		if (got < n) {
			/* dropped (freed by the worker): replace */
			ty->missing += n - got;
			if (rte_pktmbuf_alloc_bulk(pool, b + got, n - got) != 0)
				return -ENOMEM;
		}
		if (smoke || nb % VAL_EVERY == 0) {
			uint64_t v0 = rte_rdtsc();

			/* the flow number in the frame says which it was */
			for (unsigned int i = 0; i < got; i++) {
				const uint8_t *p =
					rte_pktmbuf_mtod(b[i], const uint8_t *);
				unsigned int off =
					flow_off(t->proto) +
					(md != NULL && md->mode ==
								 LB_MODE_TUNNEL
						 ? 20
						 : 0);
				uint32_t f =
					rte_pktmbuf_data_len(b[i]) >= off + 4
						? rd32(p + off)
						: UINT32_MAX;
				int why = check_frame(b[i], md, t->proto, f);

				ty->checked++;
				if (why >= 0)
					ty->bad[why]++;
			}
			tv += rte_rdtsc() - v0;
		}
		sent += n;
		k += n;
	}
	r->pkts = npkts;
	r->cycles = rte_rdtsc() - t0 - tv;
	r->busy = w->lcore_st.busy_cycles - busy0;
	return 0;
}

/* ---- figures --------------------------------------------------------------- */

static int status;

static uint64_t
bad_total(const struct tally *ty)
{
	uint64_t n = ty->missing;

	for (unsigned int i = 0; i < BAD_MAX; i++)
		n += ty->bad[i];
	return n;
}

static void
print_tally(const char *what, const struct mode_def *md, const struct tally *ty)
{
	printf("\"checked\": %" PRIu64 ", \"missing\": %" PRIu64
	       ", \"invalid\": {",
	       ty->checked, ty->missing);
	for (unsigned int i = 0, first = 1; i < BAD_MAX; i++)
		if (ty->bad[i] != 0) {
			printf("%s\"%s\": %" PRIu64, first ? "" : ", ",
			       bad_names[i], ty->bad[i]);
			first = 0;
		}
	printf("}");
	if (bad_total(ty) != 0 || ty->checked == 0) {
		fprintf(stderr,
			"bench_own: %s %s: %" PRIu64 " frames missing or "
			"invalid, %" PRIu64 " checked\n",
			what, md != NULL ? md->name : "floor", bad_total(ty),
			ty->checked);
		status = 1;
	}
}

static double
cpp(const struct run *r)
{
	return r->pkts != 0 ? (double)r->cycles / (double)r->pkts : 0;
}

/*
 * The step between the flows of consecutive packets: coprime to nflows,
 * so that a run visits every flow, and far from a multiple of it, so that
 * consecutive packets touch connections created far apart (the warm-up
 * creates them in flow order, and the table's array is in that order).
 */
static uint64_t
stride_for(uint32_t nflows)
{
	uint64_t s = FLOW_STRIDE;
	uint64_t a, b, t;

	for (;; s += 2) {
		for (a = s, b = nflows; b != 0; t = a % b, a = b, b = t)
			;
		if (a == 1)
			return s % nflows;
	}
}

/* Established flows: warm-up, then reps runs each paired with a floor. */
static int
fig_steady(const struct mode_def *md, uint32_t nflows, unsigned int reps,
	   uint64_t min_pkts, bool *first)
{
	struct tmpl t;
	struct tally ty = { 0 }, fty = { 0 };
	struct conn_table_stats cs;
	uint64_t npkts = nflows > min_pkts ? nflows : min_pkts;
	uint64_t fpkts = npkts < min_pkts ? npkts : min_pkts;
	struct run wr, fr[64], mr[64];
	int rc;

	tmpl_build(&t, vip_of(md), IPPROTO_UDP);
	rc = table(nflows + nflows / 8);
	if (rc < 0)
		return rc;
	/* every flow once: one connection each */
	rc = run(md, &t, 0, nflows, nflows, 1, &wr, &ty);
	if (rc < 0)
		return rc;
	conn_get_stats(fwd_conn_table(&dp, 0), &cs);
	for (unsigned int i = 0; i < reps && rc == 0; i++) {
		struct tmpl ft;

		tmpl_build(&ft, IPH(10, 0, 0, 100), IPPROTO_UDP);
		rc = run(NULL, &ft, 0, fpkts, nflows, stride_for(nflows),
			 &fr[i], &fty);
		if (rc == 0)
			rc = run(md, &t, (uint64_t)i * npkts, npkts, nflows,
				 stride_for(nflows), &mr[i], &ty);
	}
	if (rc < 0)
		return rc;
	printf("%s\n  {\"mode\": \"%s\", \"flows\": %u, \"packets\": %" PRIu64
	       ", \"conns\": %" PRIu64 ", \"warmup_cycles\": %.1f, ",
	       *first ? "" : ",", md->name, nflows, npkts, cs.created,
	       cpp(&wr));
	*first = false;
	printf("\"runs\": [");
	for (unsigned int i = 0; i < reps; i++)
		printf("%s{\"cycles\": %.1f, \"floor\": %.1f, \"own\": %.1f, "
		       "\"busy\": %.1f}",
		       i ? ", " : "", cpp(&mr[i]), cpp(&fr[i]),
		       cpp(&mr[i]) - cpp(&fr[i]),
		       (double)mr[i].busy / (double)mr[i].pkts);
	printf("], ");
	print_tally("steady", md, &ty);
	printf(", \"floor_check\": {");
	print_tally("floor", NULL, &fty);
	printf("}}");
	if (cs.created != nflows) {
		fprintf(stderr,
			"bench_own: %s %u flows: the warm-up created %" PRIu64
			" connections\n",
			md->name, nflows, cs.created);
		status = 1;
	}
	return 0;
}

/* New connections: SYNs of fresh flows into a fresh table, reps times. */
static int
fig_newconn(const struct mode_def *md, uint32_t nsyn, unsigned int reps,
	    bool *first)
{
	struct tmpl t, ft;
	struct tally ty = { 0 }, fty = { 0 };
	struct conn_table_stats cs;
	struct run fr[64], mr[64];
	uint64_t created[64];
	int rc = 0;

	tmpl_build(&t, vip_of(md), IPPROTO_TCP);
	tmpl_build(&ft, IPH(10, 0, 0, 100), IPPROTO_TCP);
	for (unsigned int i = 0; i < reps && rc == 0; i++) {
		rc = table(nsyn + nsyn / 8);
		if (rc == 0)
			rc = run(NULL, &ft, 0, nsyn, nsyn, 1, &fr[i], &fty);
		if (rc == 0)
			rc = run(md, &t, 0, nsyn, nsyn, 1, &mr[i], &ty);
		conn_get_stats(fwd_conn_table(&dp, 0), &cs);
		created[i] = cs.created;
	}
	if (rc < 0)
		return rc;
	printf("%s\n  {\"mode\": \"%s\", \"syn\": %u, \"runs\": [",
	       *first ? "" : ",", md->name, nsyn);
	*first = false;
	for (unsigned int i = 0; i < reps; i++) {
		printf("%s{\"cycles\": %.1f, \"floor\": %.1f, \"own\": %.1f, "
		       "\"busy\": %.1f, \"created\": %" PRIu64 "}",
		       i ? ", " : "", cpp(&mr[i]), cpp(&fr[i]),
		       cpp(&mr[i]) - cpp(&fr[i]),
		       (double)mr[i].busy / (double)mr[i].pkts, created[i]);
		if (created[i] != nsyn) {
			fprintf(stderr,
				"bench_own: newconn %s: %" PRIu64
				" connections created of %u\n",
				md->name, created[i], nsyn);
			status = 1;
		}
	}
	printf("], ");
	print_tally("newconn", md, &ty);
	printf("}");
	return 0;
}

/* Is name in the comma list? */
static bool
listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p != NULL && *p != '\0';) {
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
		p = strchr(p, ',');
		if (p != NULL)
			p++;
	}
	return false;
}

static int
parse_list(const char *s, uint32_t *out, unsigned int max)
{
	unsigned int n = 0;
	char *end;

	while (*s != '\0' && n < max) {
		unsigned long v = strtoul(s, &end, 10);

		if (end == s || v == 0 || v > 50000000)
			return -1;
		out[n++] = (uint32_t)v;
		s = *end == ',' ? end + 1 : end;
		if (*end != ',' && *end != '\0')
			return -1;
	}
	return (int)n;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "smoke", no_argument, NULL, 's' },
		{ "flows", required_argument, NULL, 'f' },
		{ "reps", required_argument, NULL, 'r' },
		{ "packets", required_argument, NULL, 'p' },
		{ "syn", required_argument, NULL, 'n' },
		{ "modes", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t flows[8] = { 1000, 1000000, 10000000 };
	int nflows = 3, c, rc;
	unsigned int reps = 5;
	uint64_t min_pkts = 2000000;
	uint32_t nsyn = 1000000;
	const char *modes = "dr,nat,tunnel,fnat";
	bool first = true;

	rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		fprintf(stderr, "bench_own: EAL init failed\n");
		return 1;
	}
	argc -= rc;
	argv += rc;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			smoke = true;
			flows[0] = 1000;
			flows[1] = 20000;
			nflows = 2;
			reps = 2;
			min_pkts = 20000;
			nsyn = 20000;
			break;
		case 'f':
			nflows = parse_list(optarg, flows, 8);
			if (nflows <= 0) {
				fprintf(stderr, "bench_own: bad --flows\n");
				return 2;
			}
			break;
		case 'r':
			reps = (unsigned int)atoi(optarg);
			if (reps < 1 || reps > 64) {
				fprintf(stderr, "bench_own: --reps 1..64\n");
				return 2;
			}
			break;
		case 'p':
			min_pkts = strtoull(optarg, NULL, 10);
			break;
		case 'n':
			nsyn = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			modes = optarg;
			break;
		default:
			return 2;
		}
	}
	if (min_pkts == 0 || nsyn == 0 || nsyn > 50000000) {
		fprintf(stderr, "bench_own: bad --packets or --syn\n");
		return 2;
	}
	rc = lab_up();
	if (rc < 0) {
		fprintf(stderr, "bench_own: setting up: %s\n", strerror(-rc));
		return 1;
	}
	printf("{\"tsc_hz\": %" PRIu64 ", \"hugepages\": %s, \"reps\": %u, "
	       "\"burst\": %u, \"frame_bytes\": %u, \"steady\": [",
	       rte_get_tsc_hz(), rte_eal_has_hugepages() ? "true" : "false",
	       reps, DP_BURST, FRAME_LEN);
	for (int f = 0; f < nflows; f++)
		for (unsigned int i = 0; i < NB_MODES; i++) {
			if (!listed(modes, mode_defs[i].name))
				continue;
			rc = fig_steady(&mode_defs[i], flows[f], reps, min_pkts,
					&first);
			if (rc < 0) {
				fprintf(stderr, "bench_own: %s %u flows: %s\n",
					mode_defs[i].name, flows[f],
					strerror(-rc));
				return 1;
			}
			fflush(stdout);
		}
	printf("], \"newconn\": [");
	first = true;
	for (unsigned int i = 0; i < NB_MODES; i++) {
		if (!listed(modes, mode_defs[i].name))
			continue;
		rc = fig_newconn(&mode_defs[i], nsyn, reps, &first);
		if (rc < 0) {
			fprintf(stderr, "bench_own: newconn %s: %s\n",
				mode_defs[i].name, strerror(-rc));
			return 1;
		}
		fflush(stdout);
	}
	printf("]}\n");
	fwd_fini(&dp);
	return status;
}
