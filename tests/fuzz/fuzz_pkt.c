/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the dataplane's packet path: frames go through
 * worker_rx_burst() (pkt_parse, classification, ARP, ICMP, connection
 * lookup and scheduling, every forwarding mode, the reply path, handoff
 * between workers) of a dataplane context built in process as
 * tests/dp/test_fwd.c builds it: EAL without hugepages or PCI, two fake
 * ports (0: clients behind the router 10.0.0.254; 1: backends on
 * 10.1.0.0/24), real route, neighbour and service tables, two workers
 * with their connection tables.
 *
 * Services (programmed through svc_ctrl_handle, as dp.sock does):
 *   192.0.2.1 tcp/80, udp/53   DR      mh  10.1.0.10, 10.1.0.11
 *   192.0.2.2 tcp/80, udp/53   TUNNEL  sh, mh  10.1.0.10, 10.1.0.11
 *   192.0.2.3 tcp/80, udp/53   NAT     mh  10.1.0.10:8080|5353, 10.1.0.12
 *   192.0.2.4 tcp/80, udp/53   FULL-NAT, TOA, laddr 10.1.0.100   mh
 *   192.0.2.5 tcp/443          FULL-NAT, PROXY v2, laddr 10.1.0.101
 *   192.0.2.6 tcp/80           NAT, persistence 60 s, mh (weights 2:1)
 * (10.1.0.12 has no neighbour entry: its packets wait for ARP.)
 *
 * Input: one options byte (bit 0: RSS on port 1, so FULL-NAT picks local
 * ports by Toeplitz), then up to FUZZ_MAX_FRAMES records:
 *   u8 flags, u16 length (big endian), the frame
 * flags: bit 0 the port it arrives on; bit 1 the worker; bit 2 keep the
 * frame's checksums (else the IPv4 header checksum and the TCP, UDP or
 * ICMP checksum are made valid first); bit 3 start a new receive burst;
 * bit 4 instead of a frame, a backend's reply to the last packet sent
 * to a backend (body: TCP flags, payload length, payload; flags 0xff:
 * an ICMP port unreachable quoting that packet instead), so that
 * NAT and FULL-NAT replies, whose local port is not known in advance,
 * are reachable; bit 5 instead of a frame, a control request between
 * bursts (see control(): delete a backend, set its weight, add one, or
 * switch the deleted-backend policy), so that connections whose backend
 * went away are exercised too. Services are restored before the next
 * input. Consecutive frames for the same worker and port form
 * one burst (at most FUZZ_BURST). After each burst every worker polls
 * (handoff ring, timers) and everything sent is checked and freed.
 *
 * Invariants (__builtin_trap() on violation), checked independently of
 * the code under test on every frame sent or queued for ARP resolution:
 *  - the mbuf is sane (rte_mbuf_check), one segment; it is IPv4 or ARP;
 *    queued for TX, its Ethernet source is the port's MAC;
 *  - IPv4: version 4, IHL >= 5, header checksum valid, total length
 *    == frame length - L2 header (no padding, nothing cut); IPIP: the
 *    same for the inner header, inner length == outer - outer IHL;
 *  - a forwarded TCP/UDP packet (the inner one for IPIP) comes from an
 *    input of the same burst with the same IP ID and protocol and a TTL
 *    one higher; when every such input had a valid TCP/UDP checksum and
 *    was no fragment, the output's is valid too;
 *  - an ICMP packet is either a forwarded one (as above, ICMP checksum;
 *    an error's quoted IPv4 header keeps a valid checksum when the
 *    input's had one) or one we generate (echo reply, fragmentation needed: TTL 64) with
 *    a valid ICMP checksum;
 *  - ARP: a well-formed Ethernet/IPv4 ARP reply from the port's MAC;
 *  - no mbuf leaks: once an input is handled, everything sent or queued
 *    freed and the connection tables reset, the mempool holds exactly
 *    the mbufs it held before.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "edgelb/lbmsg.h"
#include "fwd.h"
#include "neigh.h"
#include "pkt.h"
#include "port.h"
#include "route.h"
#include "stats.h"
#include "svc.h"
#include "worker.h"

#define IP(a, b, c, d)                                                         \
	RTE_BE32((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

#define FUZZ_MAX_FRAMES 16
#define FUZZ_BURST	8
#define FUZZ_CONNS	256
#define FUZZ_MBUFS	1023

#define F_PORT	0x01
#define F_WK	0x02
#define F_RAW	0x04
#define F_BURST 0x08
#define F_REPLY 0x10
#define F_CTRL	0x20

static const uint8_t mac_port[2][6] = { { 2, 0, 0, 0, 0, 1 },
					{ 2, 0, 0, 0, 0, 2 } };
static const uint8_t mac_router[6] = { 2, 0, 0, 0, 0, 0xfe };
static const uint8_t mac_b10[6] = { 2, 0, 0, 0, 1, 10 };
static const uint8_t mac_b11[6] = { 2, 0, 0, 0, 1, 11 };

static struct dp_ctx dp;
static struct dp_port ports[2];
static struct rte_mempool *pool;
static unsigned int pool_full;
static bool verbose;	      /* FUZZ_PKT_VERBOSE set: say what happened */
static unsigned int nsent[2]; /* frames out per port, this input */

/* ---- independent checksums ---------------------------------------------- */

static uint32_t
sum16(const uint8_t *p, size_t len, uint32_t acc)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		acc += (uint32_t)p[len - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return acc;
}

static uint32_t
pseudo(const uint8_t *ip, uint8_t proto, uint16_t len)
{
	uint8_t ph[12];

	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = proto;
	ph[10] = (uint8_t)(len >> 8);
	ph[11] = (uint8_t)len;
	return sum16(ph, 12, 0);
}

/* Is the L4 checksum of the IPv4 packet at ip (l4len bytes after the
 * header of ihl bytes) right? UDP 0 means "none" and is right. */
static bool
l4_ok(const uint8_t *ip, uint16_t ihl, uint16_t l4len)
{
	const uint8_t *l4 = ip + ihl;
	uint8_t proto = ip[9];

	switch (proto) {
	case IPPROTO_TCP:
		return l4len >= 20 &&
		       sum16(l4, l4len, pseudo(ip, proto, l4len)) == 0xffff;
	case IPPROTO_UDP:
		if (l4len < 8)
			return false;
		if (l4[6] == 0 && l4[7] == 0)
			return true;
		return sum16(l4, l4len, pseudo(ip, proto, l4len)) == 0xffff;
	case IPPROTO_ICMP:
		return l4len >= 8 && sum16(l4, l4len, 0) == 0xffff;
	default:
		return true;
	}
}

/*
 * The IPv4 header quoted by the ICMP error at icmp (l4len bytes), or
 * NULL when it is not an error or the quoted header does not fit.
 */
static const uint8_t *
quoted(const uint8_t *icmp, uint16_t l4len)
{
	const uint8_t *in = icmp + 8;

	if (l4len < 8 + 20 ||
	    (icmp[0] != 3 && icmp[0] != 11 && icmp[0] != 12) ||
	    (in[0] >> 4) != 4 || (in[0] & 0xf) < 5 ||
	    (in[0] & 0xf) * 4 > l4len - 8)
		return NULL;
	return in;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Make the checksums of the IPv4 packet at ip (avail bytes) valid. */
static void
fix_sums(uint8_t *ip, size_t avail)
{
	uint16_t ihl, tot, l4len, off;
	uint8_t *l4;

	if (avail < 20 || (ip[0] >> 4) != 4)
		return;
	ihl = (uint16_t)((ip[0] & 0xf) * 4);
	tot = (uint16_t)(ip[2] << 8 | ip[3]);
	if (ihl < 20 || ihl > avail)
		return;
	ip[10] = ip[11] = 0;
	put16(ip + 10, (uint16_t)~sum16(ip, ihl, 0));
	off = (uint16_t)((ip[6] << 8 | ip[7]) & 0x3fff);
	if (off != 0 || tot < ihl || tot > avail)
		return; /* a fragment, or a bad length pkt_parse drops */
	l4 = ip + ihl;
	l4len = (uint16_t)(tot - ihl);
	switch (ip[9]) {
	case IPPROTO_TCP:
		if (l4len < 20)
			return;
		l4[16] = l4[17] = 0;
		put16(l4 + 16,
		      (uint16_t)~sum16(l4, l4len,
				       pseudo(ip, IPPROTO_TCP, l4len)));
		break;
	case IPPROTO_UDP: {
		uint16_t s;

		if (l4len < 8)
			return;
		l4[6] = l4[7] = 0;
		s = (uint16_t)~sum16(l4, l4len, pseudo(ip, IPPROTO_UDP, l4len));
		put16(l4 + 6, s == 0 ? 0xffff : s);
		break;
	}
	case IPPROTO_ICMP: {
		uint8_t *in = (uint8_t *)quoted(l4, l4len);

		if (l4len < 8)
			return;
		if (in != NULL) { /* the quoted header's checksum first */
			in[10] = in[11] = 0;
			put16(in + 10,
			      (uint16_t)~sum16(in, (in[0] & 0xfu) * 4, 0));
		}
		l4[2] = l4[3] = 0;
		put16(l4 + 2, (uint16_t)~sum16(l4, l4len, 0));
		break;
	}
	}
}

/* ---- what went in --------------------------------------------------------- */

struct in_rec {
	uint16_t id;
	uint8_t proto;
	uint8_t ttl;
	bool l4_ok;	/* not a fragment, length right, L4 checksum valid */
	bool quoted_ok; /* ICMP error: its quoted IPv4 header is valid */
};

static struct in_rec ins[FUZZ_MAX_FRAMES * 2];
static unsigned int nins;

/* Record the IPv4 packet (if any) of frame f[0..len). */
static void
note_input(const uint8_t *f, size_t len)
{
	size_t l2 = 14;
	uint16_t ihl, tot, off;
	struct in_rec *r;

	if (len < 14 || nins == RTE_DIM(ins))
		return;
	if (f[12] == 0x81 && f[13] == 0x00) {
		if (len < 18)
			return;
		l2 = 18;
	}
	if (f[l2 - 2] != 0x08 || f[l2 - 1] != 0x00 || len < l2 + 20)
		return;
	f += l2;
	len -= l2;
	ihl = (uint16_t)((f[0] & 0xf) * 4);
	tot = (uint16_t)(f[2] << 8 | f[3]);
	off = (uint16_t)((f[6] << 8 | f[7]) & 0x3fff);
	r = &ins[nins++];
	r->id = (uint16_t)(f[4] << 8 | f[5]);
	r->proto = f[9];
	r->ttl = f[8];
	r->quoted_ok = false;
	if (r->proto == IPPROTO_ICMP && off == 0 && ihl >= 20 && tot >= ihl &&
	    tot <= len) {
		const uint8_t *in = quoted(f + ihl, (uint16_t)(tot - ihl));

		r->quoted_ok = in != NULL &&
			       sum16(in, (in[0] & 0xfu) * 4, 0) == 0xffff;
	}
	r->l4_ok = off == 0 && ihl >= 20 && tot >= ihl && tot <= len &&
		   l4_ok(f, ihl, (uint16_t)(tot - ihl));
}

/* ---- the last packet sent to a backend, for F_REPLY ------------------- */

struct last_out {
	bool valid;
	uint8_t proto, flags;
	uint32_t saddr, daddr; /* network order */
	uint16_t sport, dport; /* network order */
	uint32_t seq, ack;     /* host order */
	uint16_t plen;
	uint8_t mac[6];	   /* the backend's */
	uint8_t quote[28]; /* its IPv4 header (no options) and 8 bytes */
};

static struct last_out last;

static void
note_output(const uint8_t *ip, uint16_t ihl, uint16_t tot, const uint8_t *eth)
{
	const uint8_t *l4 = ip + ihl;

	if ((ip[9] != IPPROTO_TCP && ip[9] != IPPROTO_UDP) ||
	    tot < ihl + (ip[9] == IPPROTO_TCP ? 20 : 8))
		return;
	last.valid = true;
	last.proto = ip[9];
	memcpy(last.quote, ip, 20);
	memcpy(last.quote + 20, l4, 8);
	memcpy(&last.saddr, ip + 12, 4);
	memcpy(&last.daddr, ip + 16, 4);
	memcpy(&last.sport, l4, 2);
	memcpy(&last.dport, l4 + 2, 2);
	memcpy(last.mac, eth, 6);
	if (ip[9] == IPPROTO_TCP) {
		uint16_t hl = (uint16_t)((l4[12] >> 4) * 4);

		last.flags = l4[13];
		last.seq = (uint32_t)l4[4] << 24 | (uint32_t)l4[5] << 16 |
			   (uint32_t)l4[6] << 8 | l4[7];
		last.ack = (uint32_t)l4[8] << 24 | (uint32_t)l4[9] << 16 |
			   (uint32_t)l4[10] << 8 | l4[11];
		last.plen = tot >= ihl + hl ? (uint16_t)(tot - ihl - hl) : 0;
	}
}

/* The backend's reply to last: TCP flags f, payload p[0..plen). Returns
 * the frame length written to out (0 if there is nothing to answer). */
static size_t
build_reply(uint8_t *out, size_t cap, uint8_t f, const uint8_t *p,
	    uint16_t plen, uint16_t id)
{
	uint16_t l4len =
		(uint16_t)((last.proto == IPPROTO_TCP ? 20 : 8) + plen);
	uint8_t *ip = out + 14, *l4 = ip + 20;
	uint32_t seq, ack;

	if (!last.valid || 14u + 20 + l4len > cap)
		return 0;
	if (f == 0xff) /* not a reply: the backend's port unreachable */
		l4len = 8 + sizeof(last.quote);
	memset(out, 0, 14 + 20 + l4len);
	memcpy(out, mac_port[1], 6);
	/* from the MAC it was sent to (none yet when it waits for ARP) */
	memcpy(out + 6, last.mac[0] == 0 ? mac_b10 : last.mac, 6);
	out[12] = 0x08;
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + l4len));
	put16(ip + 4, id);
	ip[8] = 64;
	ip[9] = last.proto;
	memcpy(ip + 12, &last.daddr, 4);
	memcpy(ip + 16, &last.saddr, 4);
	if (f == 0xff) {
		ip[9] = IPPROTO_ICMP;
		l4[0] = 3; /* destination unreachable */
		l4[1] = 3; /* port */
		memcpy(l4 + 8, last.quote, sizeof(last.quote));
		return 14u + 20 + l4len;
	}
	memcpy(l4, &last.dport, 2);
	memcpy(l4 + 2, &last.sport, 2);
	if (last.proto == IPPROTO_TCP) {
		seq = (last.flags & RTE_TCP_ACK_FLAG) ? last.ack : 9000;
		ack = last.seq + last.plen +
		      ((last.flags & (RTE_TCP_SYN_FLAG | RTE_TCP_FIN_FLAG))
			       ? 1
			       : 0);
		for (int i = 0; i < 4; i++) {
			l4[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
			l4[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
		}
		l4[12] = 5 << 4;
		l4[13] = f;
		put16(l4 + 14, 65535);
		memcpy(l4 + 20, p, plen);
	} else {
		put16(l4 + 4, l4len);
		memcpy(l4 + 8, p, plen);
	}
	return 14u + 20 + l4len;
}

/* ---- checks on what comes out ---------------------------------------------- */

/* The IPv4 packet at ip (tot bytes) left the dataplane: see the header. */
static void
check_forwarded(const uint8_t *ip, uint16_t ihl, uint16_t tot)
{
	uint16_t id = (uint16_t)(ip[4] << 8 | ip[5]);
	uint16_t off = (uint16_t)((ip[6] << 8 | ip[7]) & 0x3fff);
	uint8_t proto = ip[9], ttl = ip[8];
	unsigned int cand = 0, cand_ok = 0, cand_qok = 0;
	bool sum_ok = l4_ok(ip, ihl, (uint16_t)(tot - ihl));

	for (unsigned int i = 0; i < nins; i++)
		if (ins[i].id == id && ins[i].proto == proto &&
		    ins[i].ttl == ttl + 1) {
			cand++;
			cand_ok += ins[i].l4_ok;
			cand_qok += ins[i].quoted_ok;
		}
	switch (proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		if (cand == 0) {
			fprintf(stderr,
				"fuzz_pkt: %s packet id %u ttl %u "
				"matches no input with ttl %u\n",
				proto == IPPROTO_TCP ? "TCP" : "UDP", id, ttl,
				ttl + 1);
			__builtin_trap();
		}
		if (off == 0 && cand_ok == cand && !sum_ok) {
			fprintf(stderr, "fuzz_pkt: %s checksum wrong\n",
				proto == IPPROTO_TCP ? "TCP" : "UDP");
			__builtin_trap();
		}
		return;
	case IPPROTO_ICMP:
		if (cand == 0) {
			/* ours: an echo reply or fragmentation needed */
			const uint8_t *ic = ip + ihl;

			if (ttl != 64 || tot < ihl + 8 ||
			    !(ic[0] == 0 || (ic[0] == 3 && ic[1] == 4)))
				__builtin_trap();
			if (off == 0 && !sum_ok) {
				fprintf(stderr, "fuzz_pkt: ICMP checksum of "
						"a generated packet wrong\n");
				__builtin_trap();
			}
			return;
		}
		if (off == 0 && cand_ok == cand && !sum_ok) {
			fprintf(stderr, "fuzz_pkt: ICMP checksum wrong\n");
			__builtin_trap();
		}
		if (off == 0 && cand_qok == cand) {
			/* a translated error: its quoted header stays valid */
			const uint8_t *in =
				quoted(ip + ihl, (uint16_t)(tot - ihl));

			if (in == NULL ||
			    sum16(in, (in[0] & 0xfu) * 4, 0) != 0xffff) {
				fprintf(stderr, "fuzz_pkt: quoted IPv4 header "
						"of an ICMP error wrong\n");
				__builtin_trap();
			}
		}
		return;
	default:
		__builtin_trap(); /* nothing else is ever sent */
	}
}

/* Check and free m, sent (queued) on port or waiting for ARP. */
static void
check_out(struct rte_mbuf *m, int port, bool queued)
{
	const char *why = NULL;
	const uint8_t *f, *ip;
	uint16_t len, l2 = 14, ihl, tot;

	if (rte_mbuf_check(m, 1, &why) != 0 || m->nb_segs != 1 ||
	    m->pool != pool) {
		fprintf(stderr, "fuzz_pkt: bad mbuf: %s\n", why ? why : "segs");
		__builtin_trap();
	}
	f = rte_pktmbuf_mtod(m, const uint8_t *);
	len = rte_pktmbuf_data_len(m);
	nsent[port]++;
	if (len < 14 || (queued && memcmp(f + 6, mac_port[port], 6) != 0))
		__builtin_trap();
	if (f[12] == 0x81 && f[13] == 0x00)
		l2 = 18;
	if (len < l2)
		__builtin_trap();
	if (f[l2 - 2] == 0x08 && f[l2 - 1] == 0x06) {
		const uint8_t *a = f + l2;

		if (len < l2 + 28 || a[0] != 0 || a[1] != 1 || a[2] != 8 ||
		    a[3] != 0 || a[4] != 6 || a[5] != 4 || a[6] != 0 ||
		    a[7] != 2 || memcmp(a + 8, mac_port[port], 6) != 0)
			__builtin_trap();
		rte_pktmbuf_free(m);
		return;
	}
	if (f[l2 - 2] != 0x08 || f[l2 - 1] != 0x00 || len < l2 + 20)
		__builtin_trap();
	ip = f + l2;
	ihl = (uint16_t)((ip[0] & 0xf) * 4);
	tot = (uint16_t)(ip[2] << 8 | ip[3]);
	if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl ||
	    (uint32_t)l2 + tot != len || sum16(ip, ihl, 0) != 0xffff) {
		fprintf(stderr,
			"fuzz_pkt: bad IPv4 header: frame %u, l2 %u, ihl "
			"%u, total length %u, header sum %s\n",
			len, l2, ihl, tot,
			sum16(ip, ihl < 20 ? 20 : ihl, 0) == 0xffff ? "ok"
								    : "bad");
		__builtin_trap();
	}
	if (ip[9] == IPPROTO_IPIP) {
		const uint8_t *in = ip + ihl;
		uint16_t iihl, itot;

		if (tot < ihl + 20)
			__builtin_trap();
		iihl = (uint16_t)((in[0] & 0xf) * 4);
		itot = (uint16_t)(in[2] << 8 | in[3]);
		if ((in[0] >> 4) != 4 || iihl < 20 || itot < iihl ||
		    itot != tot - ihl || sum16(in, iihl, 0) != 0xffff) {
			fprintf(stderr, "fuzz_pkt: bad inner IPv4 header\n");
			__builtin_trap();
		}
		check_forwarded(in, iihl, itot);
	} else {
		check_forwarded(ip, ihl, tot);
		if (port == 1)
			note_output(ip, ihl, tot, f);
	}
	rte_pktmbuf_free(m);
}

/* Check and free whatever the workers sent or queued. */
static void
collect(void)
{
	struct rte_mbuf *m;

	for (unsigned int w = 0; w < dp.nworkers; w++)
		for (int p = 0; p < 2; p++) {
			struct dp_txbuf *tb = &dp.workers[w].tx[p];

			for (uint16_t i = 0; i < tb->n; i++)
				check_out(tb->pkts[i], p, true);
			tb->n = 0;
		}
	while (rte_ring_dequeue(dp.pend_ring, (void **)&m) == 0)
		check_out(m, 1, false);
	while (rte_ring_dequeue(dp.arp_ring, (void **)&m) == 0)
		rte_pktmbuf_free(m); /* ARP replies for the control thread */
}

/* ---- the lab ---------------------------------------------------------------- */

static void
ctrl(struct nl_msg *m)
{
	struct nlmsghdr *h = nlmsg_hdr(m);
	struct nlattr *tb[LB_ATTR_MAX + 1];
	struct lbmsg_req req = { 0 };
	char err[256];

	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (lbmsg_parse(h, h->nlmsg_len, tb, err, sizeof(err)) != 0)
		abort();
	req.nlh = h;
	req.tb = tb;
	req.fd = -1;
	if (svc_ctrl_handle(dp.svc, &req) != 0) {
		fprintf(stderr, "fuzz_pkt: set-up failed: %s\n", req.errmsg);
		abort();
	}
	nlmsg_free(m);
}

struct be {
	uint32_t addr;
	uint16_t port;
	uint32_t weight;
};

static void
service(uint8_t proto, uint32_t vip, uint16_t vport, uint8_t mode,
	const char *sched, uint32_t flags, uint32_t persist, const struct be *b,
	unsigned int nb, uint32_t laddr)
{
	struct nl_msg *m = lbmsg_new(LB_MSG_SERVICE_NEW, 0);
	struct lb_addr v = { .family = AF_INET, .v4 = vip };
	struct nlattr *list, *r;

	lbmsg_put_svc_key(m, proto, &v, vport);
	nla_put_u8(m, LB_ATTR_MODE, mode);
	nla_put_string(m, LB_ATTR_SCHED, sched);
	nla_put_u32(m, LB_ATTR_SVC_FLAGS, flags);
	if (persist)
		nla_put_u32(m, LB_ATTR_PERSIST, persist);
	if (strcmp(sched, "mh") == 0)
		nla_put_u32(m, LB_ATTR_MH_SIZE, 251);
	list = nla_nest_start(m, LB_ATTR_BACKENDS);
	for (unsigned int i = 0; i < nb; i++) {
		struct lb_addr ba = { .family = AF_INET, .v4 = b[i].addr };

		r = nla_nest_start(m, LB_ATTR_BACKEND);
		lbmsg_put_addr(m, LB_ATTR_ADDR, &ba);
		nla_put_u16(m, LB_ATTR_PORT, b[i].port);
		nla_put_u32(m, LB_ATTR_WEIGHT, b[i].weight);
		nla_nest_end(m, r);
	}
	nla_nest_end(m, list);
	ctrl(m);
	if (laddr != 0) {
		struct lb_addr la = { .family = AF_INET, .v4 = laddr };

		m = lbmsg_new(LB_MSG_LADDR_NEW, 0);
		lbmsg_put_svc_key(m, proto, &v, vport);
		lbmsg_put_addr(m, LB_ATTR_ADDR, &la);
		ctrl(m);
	}
}

static const struct be b2[] = { { IP(10, 1, 0, 10), 0, 1 },
				{ IP(10, 1, 0, 11), 0, 1 } };
static const struct be nat_tcp[] = { { IP(10, 1, 0, 10), 8080, 1 },
				     { IP(10, 1, 0, 12), 8080, 1 } };
static const struct be nat_udp[] = { { IP(10, 1, 0, 10), 5353, 1 },
				     { IP(10, 1, 0, 12), 5353, 1 } };
static const struct be fnat_tcp[] = { { IP(10, 1, 0, 11), 8080, 1 } };
static const struct be fnat_udp[] = { { IP(10, 1, 0, 11), 5353, 1 } };
static const struct be pp[] = { { IP(10, 1, 0, 11), 8443, 1 } };
static const struct be pers[] = { { IP(10, 1, 0, 10), 80, 2 },
				  { IP(10, 1, 0, 11), 80, 1 } };

static const struct svc_def {
	uint8_t proto;
	uint32_t vip;
	uint16_t vport;
	uint8_t mode;
	const char *sched;
	uint32_t flags, persist;
	const struct be *b;
	unsigned int nb;
	uint32_t laddr;
} svcs[] = {
	{ IPPROTO_TCP, IP(192, 0, 2, 1), 80, LB_MODE_DR, "mh", 0, 0, b2, 2, 0 },
	{ IPPROTO_UDP, IP(192, 0, 2, 1), 53, LB_MODE_DR, "mh", 0, 0, b2, 2, 0 },
	{ IPPROTO_TCP, IP(192, 0, 2, 2), 80, LB_MODE_TUNNEL, "sh", 0, 0, b2, 2,
	  0 },
	{ IPPROTO_UDP, IP(192, 0, 2, 2), 53, LB_MODE_TUNNEL, "mh", 0, 0, b2, 2,
	  0 },
	{ IPPROTO_TCP, IP(192, 0, 2, 3), 80, LB_MODE_NAT, "mh", 0, 0, nat_tcp,
	  2, 0 },
	{ IPPROTO_UDP, IP(192, 0, 2, 3), 53, LB_MODE_NAT, "mh", 0, 0, nat_udp,
	  2, 0 },
	{ IPPROTO_TCP, IP(192, 0, 2, 4), 80, LB_MODE_FNAT, "mh", LB_SVC_F_TOA,
	  0, fnat_tcp, 1, IP(10, 1, 0, 100) },
	{ IPPROTO_UDP, IP(192, 0, 2, 4), 53, LB_MODE_FNAT, "mh", 0, 0, fnat_udp,
	  1, IP(10, 1, 0, 100) },
	{ IPPROTO_TCP, IP(192, 0, 2, 5), 443, LB_MODE_FNAT, "mh",
	  LB_SVC_F_PROXY_V2, 0, pp, 1, IP(10, 1, 0, 101) },
	{ IPPROTO_TCP, IP(192, 0, 2, 6), 80, LB_MODE_NAT, "mh", 0, 60, pers, 2,
	  0 },
};

static bool svc_dirty; /* a control record changed the services */

/*
 * (Re)build the service table of svcs[] (no worker may hold a version).
 * Schedulers are stateless ones (mh, sh), so an input always meets the
 * same choices; one sh only, as its 16384 buckets make it the costly
 * part of a rebuild.
 */
static void
services_up(void)
{
	struct svc_table_conf sc = { .nworkers = 2,
				     .max_services = 64,
				     .max_backends = 256,
				     .socket_id = SOCKET_ID_ANY,
				     .max_laddrs = 64 };

	if (dp.svc != NULL)
		svc_table_destroy(dp.svc);
	dp.svc = svc_table_create(&sc);
	if (dp.svc == NULL)
		abort();
	for (size_t i = 0; i < RTE_DIM(svcs); i++) {
		const struct svc_def *d = &svcs[i];

		service(d->proto, d->vip, d->vport, d->mode, d->sched, d->flags,
			d->persist, d->b, d->nb, d->laddr);
	}
	dp.del_policy = LB_DEL_EXPIRE;
	svc_dirty = false;
}

/*
 * A control record (F_CTRL): body[0] the operation, body[1] the service
 * (index in svcs[]), body[2] the backend (its index, or of 8 new
 * addresses), body[3] a weight. Requests the table refuses (no such
 * backend, exists already) are fine, as long as they say why.
 */
static void
control(const uint8_t *body, size_t len)
{
	uint8_t op = len > 0 ? body[0] % 4 : 0;
	const struct svc_def *d =
		&svcs[(len > 1 ? body[1] : 0) % RTE_DIM(svcs)];
	uint8_t bi = len > 2 ? body[2] : 0;
	struct lb_addr v = { .family = AF_INET, .v4 = d->vip };
	struct lb_addr ba = { .family = AF_INET };
	uint16_t bport = 0;
	struct nl_msg *m;
	struct nlmsghdr *h;
	struct nlattr *tb[LB_ATTR_MAX + 1];
	struct lbmsg_req req = { 0 };
	char err[256];
	int rc;

	svc_dirty = true;
	if (op == 3) {
		dp.del_policy = dp.del_policy == LB_DEL_RESET ? LB_DEL_EXPIRE
							      : LB_DEL_RESET;
		return;
	}
	if (op == 2 || bi >= d->nb) {
		ba.v4 = IP(10, 1, 0, 20 + bi % 8); /* a neighbour nobody has */
		bport = d->b[0].port;
	} else {
		ba.v4 = d->b[bi].addr;
		bport = d->b[bi].port;
	}
	m = lbmsg_new(op == 0	? LB_MSG_BACKEND_DEL
		      : op == 1 ? LB_MSG_BACKEND_SET
				: LB_MSG_BACKEND_NEW,
		      0);
	lbmsg_put_svc_key(m, d->proto, &v, d->vport);
	lbmsg_put_addr(m, LB_ATTR_ADDR, &ba);
	nla_put_u16(m, LB_ATTR_PORT, bport);
	if (op != 0)
		nla_put_u32(m, LB_ATTR_WEIGHT, len > 3 ? body[3] : 0);
	h = nlmsg_hdr(m);
	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (lbmsg_parse(h, h->nlmsg_len, tb, err, sizeof(err)) != 0)
		abort();
	req.nlh = h;
	req.tb = tb;
	req.fd = -1;
	rc = svc_ctrl_handle(dp.svc, &req);
	if (rc > 0 || (rc < 0 && req.errmsg[0] == '\0'))
		__builtin_trap();
	nlmsg_free(m);
}

static void
lab_up(void)
{
	struct port_addr_set *as;

	memset(&dp, 0, sizeof(dp));
	dpconf_defaults(&dp.conf);
	dp.conf.max_backends = 256;
	dp.tmo = dp.conf.tmo;
	dp.pool = pool;
	dp.nworkers = 2;
	dp.workers = rte_zmalloc("w", 2 * sizeof(dp.workers[0]), 64);
	if (dp.workers == NULL)
		abort();
	for (unsigned int i = 0; i < 2; i++) {
		dp.workers[i].dp = &dp;
		dp.workers[i].index = i;
	}
	for (uint16_t p = 0; p < 2; p++) {
		ports[p] = (struct dp_port){ .id = p, .index = p, .mtu = 1500 };
		memcpy(ports[p].mac.addr_bytes, mac_port[p], 6);
		dp.ports[p] = &ports[p];
	}
	dp.nports = 2;
	dp.qsv = rte_zmalloc("qsv", rte_rcu_qsbr_get_memsize(2), 64);
	as = rte_zmalloc("as", sizeof(*as) + 2 * sizeof(as->a[0]), 0);
	dp.arp_ring = rte_ring_create("fz_arp", 64, SOCKET_ID_ANY, 0);
	dp.pend_ring = rte_ring_create("fz_pend", 64, SOCKET_ID_ANY, 0);
	if (dp.qsv == NULL || rte_rcu_qsbr_init(dp.qsv, 2) != 0 || as == NULL ||
	    dp.arp_ring == NULL || dp.pend_ring == NULL)
		abort();
	as->n = 2;
	as->a[0] = (struct port_addr){ IP(10, 0, 0, 1), 24, 0 };
	as->a[1] = (struct port_addr){ IP(10, 1, 0, 1), 24, 1 };
	dp.addrs = as;
	dp.route = route_create(64, NULL, SOCKET_ID_ANY);
	if (dp.route == NULL ||
	    route_connected_add(dp.route, IP(10, 0, 0, 0), 24, 0) != 0 ||
	    route_connected_add(dp.route, IP(10, 1, 0, 0), 24, 1) != 0 ||
	    route_add(dp.route, IP(203, 0, 113, 0), 24, IP(10, 0, 0, 254), 0) !=
		    0 ||
	    neigh_create(&dp) == NULL ||
	    neigh_add(dp.neigh, IP(10, 0, 0, 254), 0, mac_router) != 0 ||
	    neigh_add(dp.neigh, IP(10, 1, 0, 10), 1, mac_b10) != 0 ||
	    neigh_add(dp.neigh, IP(10, 1, 0, 11), 1, mac_b11) != 0)
		abort();
	services_up();
}

/* At exit: free what the tables hold, so LeakSanitizer (which does not
 * scan DPDK memory for pointers) has nothing to report. */
static void
lab_down(void)
{
	char rundir[PATH_MAX];

	fwd_fini(&dp);
	svc_table_destroy(dp.svc);
	neigh_destroy(dp.neigh);
	route_destroy(dp.route);
	rte_ring_free(dp.arp_ring);
	rte_ring_free(dp.pend_ring);
	rte_free(dp.addrs);
	rte_free(dp.qsv);
	rte_free(dp.workers);
	rte_mempool_free(pool);
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	rmdir(rundir); /* --no-shconf leaves it empty */
}

/* Connection state starts empty for every input (reproducible runs). */
static void
conns_reset(bool rss)
{
	static const uint8_t key[40] = {
		0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
		0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
		0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
		0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
	};
	struct fwd_rss r = {
		.on = true, .l4_tcp = true, .l4_udp = true, .reta_size = 128
	};

	fwd_fini(&dp);
	if (svc_dirty)
		services_up();
	if (fwd_init_conns(&dp, FUZZ_CONNS) != 0)
		abort();
	if (rss) {
		memcpy(r.key, key, sizeof(key));
		for (unsigned int i = 0; i < 128; i++)
			r.reta[i] = (uint16_t)((i / 3) % 2);
		fwd_rss_set(&dp, 1, &r);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char prefix[32];
	char *eal[] = { "fuzz_pkt",
			"--no-huge",
			"-m",
			"128",
			"--no-pci",
			"--no-shconf",
			"--file-prefix",
			prefix,
			"--no-telemetry",
			"-l",
			"0",
			"--log-level",
			"error" };

	(void)argc;
	(void)argv;
	snprintf(prefix, sizeof(prefix), "fuzz_pkt_%d", (int)getpid());
	if (rte_eal_init((int)RTE_DIM(eal), eal) < 0) {
		fprintf(stderr, "fuzz_pkt: EAL init failed\n");
		abort();
	}
	pool = rte_pktmbuf_pool_create("fuzz_mbuf", FUZZ_MBUFS, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	if (pool == NULL)
		abort();
	lab_up();
	pool_full = rte_mempool_avail_count(pool);
	verbose = getenv("FUZZ_PKT_VERBOSE") != NULL;
	atexit(lab_down);
	return 0;
}

/* FUZZ_PKT_VERBOSE: the drops (since before) and frames of this input. */
static void
report(const uint64_t (*before)[DP_DROP_MAX])
{
	fprintf(stderr, "fuzz_pkt: sent %u on port 0, %u on port 1", nsent[0],
		nsent[1]);
	for (unsigned int w = 0; w < dp.nworkers; w++)
		for (int d = 0; d < DP_DROP_MAX; d++)
			if (dp.workers[w].drops[d] != before[w][d])
				fprintf(stderr, "; w%u %s %" PRIu64, w,
					stats_drop_name((enum dp_drop)d),
					dp.workers[w].drops[d] - before[w][d]);
	fprintf(stderr, "\n");
}

/* Run the burst pkts[0..n) on worker wk, port, then the polls; check. */
static void
run_burst(struct rte_mbuf **pkts, uint16_t n, unsigned int wk, uint16_t port)
{
	if (n > 0)
		worker_rx_burst(&dp.workers[wk], port, pkts, n);
	for (unsigned int w = 0; w < dp.nworkers; w++)
		dp.poll(&dp.workers[w]);
	collect();
	nins = 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rte_mbuf *burst[FUZZ_BURST];
	unsigned int bwk = 0, nframes = 0;
	uint16_t n = 0, bport = 0;
	size_t at = 1;

	uint64_t before[2][DP_DROP_MAX];

	if (size < 1)
		return 0;
	memcpy(before[0], dp.workers[0].drops, sizeof(before[0]));
	memcpy(before[1], dp.workers[1].drops, sizeof(before[1]));
	nsent[0] = nsent[1] = 0;
	conns_reset(data[0] & 1);
	memset(&last, 0, sizeof(last));
	nins = 0;
	while (at + 3 <= size && nframes < FUZZ_MAX_FRAMES) {
		uint8_t fl = data[at];
		size_t len = (size_t)(data[at + 1] << 8 | data[at + 2]);
		unsigned int wk = (fl & F_WK) ? 1 : 0;
		uint16_t port = (fl & F_PORT) ? 1 : 0;
		const uint8_t *body;
		struct rte_mbuf *m;
		uint8_t *f;

		at += 3;
		if (len > size - at)
			len = size - at;
		nframes++;
		if (fl & F_CTRL) {
			if (n > 0) {
				run_burst(burst, n, bwk, bport);
				n = 0;
			}
			control(data + at, len);
			at += len;
			continue;
		}
		m = rte_pktmbuf_alloc(pool);
		if (m == NULL)
			abort();
		f = rte_pktmbuf_mtod(m, uint8_t *);
		if (fl & F_REPLY) {
			/* body: TCP flags, payload length, payload */
			uint8_t tf = len > 0 ? data[at] : 0;
			uint16_t plen = len > 1 ? data[at + 1] : 0;

			if (plen > len - RTE_MIN(len, 2))
				plen = (uint16_t)(len - RTE_MIN(len, 2));
			if (n > 0) {
				/* what it answers must have been sent */
				run_burst(burst, n, bwk, bport);
				n = 0;
			}
			port = 1;
			body = data + at + RTE_MIN(len, 2);
			at += len;
			len = build_reply(f, rte_pktmbuf_tailroom(m), tf, body,
					  plen, (uint16_t)(0x4200 + nframes));
		} else {
			if (len > rte_pktmbuf_tailroom(m))
				len = rte_pktmbuf_tailroom(m);
			memcpy(f, data + at, len);
			at += len;
		}
		if (len == 0) {
			rte_pktmbuf_free(m);
			continue;
		}
		if (rte_pktmbuf_append(m, (uint16_t)len) == NULL)
			abort();
		if (!(fl & F_RAW) && len >= 14) {
			size_t l2 = (f[12] == 0x81 && f[13] == 0 && len >= 18)
					    ? 18
					    : 14;

			if (f[l2 - 2] == 0x08 && f[l2 - 1] == 0x00)
				fix_sums(f + l2, len - l2);
		}
		if (n > 0 && (n == FUZZ_BURST || (fl & F_BURST) || wk != bwk ||
			      port != bport)) {
			run_burst(burst, n, bwk, bport);
			n = 0;
		}
		note_input(f, len);
		bwk = wk;
		bport = port;
		burst[n++] = m;
	}
	run_burst(burst, n, bwk, bport);
	if (verbose)
		report((const uint64_t(*)[DP_DROP_MAX])before);
	if (rte_mempool_avail_count(pool) != pool_full) {
		fprintf(stderr, "fuzz_pkt: %u mbufs leaked\n",
			pool_full - rte_mempool_avail_count(pool));
		__builtin_trap();
	}
	return 0;
}
