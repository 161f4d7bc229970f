/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the dataplane's packet path: frames go through
 * worker_rx_burst() (pkt_parse, classification, ARP, ICMP, connection
 * lookup and scheduling, every forwarding mode, the reply path, handoff
 * between workers) of a dataplane context built in process by
 * tests/lib/dplab, as for tests/dp/test_fwd.c: EAL without hugepages or
 * PCI, two fake ports (0: clients behind the router 10.0.0.254; 1:
 * backends on 10.1.0.0/24), real route, neighbour and service tables,
 * two workers with their connection tables.
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
 * ports by Toeplitz; bit 1: RSS on port 0, so a reassembled datagram may
 * go to the worker of its flow), then up to FUZZ_MAX_FRAMES records:
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
 * (handoff rings, timers, expired fragments) and everything sent is
 * checked and freed. Fragments to the VIPs and local addresses go
 * through IPv4 reassembly (dataplane/ipfrag.h, a table of 16 datagrams
 * per worker); what it holds at the end of an input is freed with it.
 *
 * Invariants (__builtin_trap() on violation), checked independently of
 * the code under test on every frame sent or queued for ARP resolution:
 *  - the mbuf is sane (rte_mbuf_check), one segment; it is IPv4 or ARP;
 *    queued for TX, its Ethernet source is the port's MAC;
 *  - IPv4: version 4, IHL >= 5, header checksum valid, total length
 *    == frame length - L2 header (no padding, nothing cut); IPIP: the
 *    same for the inner header, inner length == outer - outer IHL;
 *  - a forwarded TCP/UDP packet (the inner one for IPIP) comes from an
 *    input of the same burst, or a fragment of an earlier burst of the
 *    input (reassembled), with the same IP ID and protocol and a TTL
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
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_tcp.h>

#include "edgelb/lbmsg.h"
#include "edgelb/log.h"
#include "dplab.h"
#include "fwd.h"
#include "ipfrag.h"
#include "pkt.h"
#include "pktcheck.h"
#include "port.h"
#include "stats.h"
#include "svc.h"
#include "worker.h"

#define IP DPLAB_IP /* short, for the tables */

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

static struct dp_ctx dp;
static struct dp_port ports[2];
static struct rte_mempool *pool;
static unsigned int pool_full;
static bool verbose;	      /* FUZZ_PKT_VERBOSE set: say what happened */
static unsigned int nsent[2]; /* frames out per port, this input */

/* ---- independent checksums ---------------------------------------------- */

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
		       pktcheck_l4_sum(ip, proto, l4, l4len) == 0xffff;
	case IPPROTO_UDP:
		if (l4len < 8)
			return false;
		if (l4[6] == 0 && l4[7] == 0)
			return true;
		return pktcheck_l4_sum(ip, proto, l4, l4len) == 0xffff;
	case IPPROTO_ICMP:
		return l4len >= 8 && pktcheck_sum16(l4, l4len, 0) == 0xffff;
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
	put16(ip + 10, (uint16_t)~pktcheck_sum16(ip, ihl, 0));
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
		      (uint16_t)~pktcheck_l4_sum(ip, IPPROTO_TCP, l4, l4len));
		break;
	case IPPROTO_UDP: {
		uint16_t s;

		if (l4len < 8)
			return;
		l4[6] = l4[7] = 0;
		s = (uint16_t)~pktcheck_l4_sum(ip, IPPROTO_UDP, l4, l4len);
		put16(l4 + 6, s == 0 ? 0xffff : s);
		break;
	}
	case IPPROTO_ICMP: {
		uint8_t *in = (uint8_t *)quoted(l4, l4len);

		if (l4len < 8)
			return;
		if (in != NULL) { /* the quoted header's checksum first */
			in[10] = in[11] = 0;
			put16(in + 10, (uint16_t)~pktcheck_sum16(
					       in, (in[0] & 0xfu) * 4, 0));
		}
		l4[2] = l4[3] = 0;
		put16(l4 + 2, (uint16_t)~pktcheck_sum16(l4, l4len, 0));
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
/* the fragments of the whole input: reassembly spans bursts */
static struct in_rec frag_ins[FUZZ_MAX_FRAMES];
static unsigned int nfrag_ins;

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

		r->quoted_ok =
			in != NULL &&
			pktcheck_sum16(in, (in[0] & 0xfu) * 4, 0) == 0xffff;
	}
	r->l4_ok = off == 0 && ihl >= 20 && tot >= ihl && tot <= len &&
		   l4_ok(f, ihl, (uint16_t)(tot - ihl));
	if (((f[6] << 8 | f[7]) & 0x3fff) != 0 &&
	    nfrag_ins < RTE_DIM(frag_ins)) {
		frag_ins[nfrag_ins] = *r;
		frag_ins[nfrag_ins++].l4_ok = false;
	}
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
	memcpy(out, dplab_mac_port[1], 6);
	/* from the MAC it was sent to (none yet when it waits for ARP) */
	memcpy(out + 6, last.mac[0] == 0 ? dplab_mac_b10 : last.mac, 6);
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

	for (unsigned int i = 0; i < nins + nfrag_ins; i++) {
		const struct in_rec *r =
			i < nins ? &ins[i] : &frag_ins[i - nins];

		if (r->id == id && r->proto == proto && r->ttl == ttl + 1) {
			cand++;
			cand_ok += r->l4_ok;
			cand_qok += r->quoted_ok;
		}
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
			/* ours: an echo reply, fragmentation needed or
			 * time exceeded in transit */
			const uint8_t *ic = ip + ihl;

			if (ttl != 64 || tot < ihl + 8 ||
			    !(ic[0] == 0 || (ic[0] == 3 && ic[1] == 4) ||
			      (ic[0] == 11 && ic[1] == 0)))
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

			if (in == NULL || pktcheck_sum16(in, (in[0] & 0xfu) * 4,
							 0) != 0xffff) {
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
	if (len < 14 || (queued && memcmp(f + 6, dplab_mac_port[port], 6) != 0))
		__builtin_trap();
	if (f[12] == 0x81 && f[13] == 0x00)
		l2 = 18;
	if (len < l2)
		__builtin_trap();
	if (f[l2 - 2] == 0x08 && f[l2 - 1] == 0x06) {
		const uint8_t *a = f + l2;

		if (len < l2 + 28 || a[0] != 0 || a[1] != 1 || a[2] != 8 ||
		    a[3] != 0 || a[4] != 6 || a[5] != 4 || a[6] != 0 ||
		    a[7] != 2 || memcmp(a + 8, dplab_mac_port[port], 6) != 0)
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
	    (uint32_t)l2 + tot != len || pktcheck_sum16(ip, ihl, 0) != 0xffff) {
		fprintf(stderr,
			"fuzz_pkt: bad IPv4 header: frame %u, l2 %u, ihl "
			"%u, total length %u, header sum %s\n",
			len, l2, ihl, tot,
			pktcheck_sum16(ip, ihl < 20 ? 20 : ihl, 0) == 0xffff
				? "ok"
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
		    itot != tot - ihl ||
		    pktcheck_sum16(in, iihl, 0) != 0xffff) {
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
	while (rte_ring_dequeue(dp.pend_ring, (void **)&m) == 0) {
		/* what waits for ARP may be a reassembled datagram (a
		 * chain): it leaves through dp_worker_tx, which splits it */
		struct rte_mbuf *out[IPFRAG_OUT_MAX];
		unsigned int n = 1;

		if (m->nb_segs > 1 ||
		    rte_pktmbuf_pkt_len(m) > 14u + ports[1].mtu)
			n = ipfrag_split(&dp.workers[0], m, ports[1].mtu, out);
		else
			out[0] = m;
		for (unsigned int i = 0; i < n; i++)
			check_out(out[i], 1, false);
	}
	while (rte_ring_dequeue(dp.arp_ring, (void **)&m) == 0)
		rte_pktmbuf_free(m); /* ARP replies for the control thread */
}

/* ---- the lab ---------------------------------------------------------------- */

static const struct dplab_backend b2[] = { { IP(10, 1, 0, 10), 0, 1 },
					   { IP(10, 1, 0, 11), 0, 1 } };
static const struct dplab_backend nat_tcp[] = { { IP(10, 1, 0, 10), 8080, 1 },
						{ IP(10, 1, 0, 12), 8080, 1 } };
static const struct dplab_backend nat_udp[] = { { IP(10, 1, 0, 10), 5353, 1 },
						{ IP(10, 1, 0, 12), 5353, 1 } };
static const struct dplab_backend fnat_tcp[] = { { IP(10, 1, 0, 11), 8080,
						   1 } };
static const struct dplab_backend fnat_udp[] = { { IP(10, 1, 0, 11), 5353,
						   1 } };
static const struct dplab_backend pp[] = { { IP(10, 1, 0, 11), 8443, 1 } };
static const struct dplab_backend pers[] = { { IP(10, 1, 0, 10), 80, 2 },
					     { IP(10, 1, 0, 11), 80, 1 } };

/* proto, vip, vport, mode, sched, flags, persist, mh_size, backends,
 * local address and count; mh with a small table (251 entries) */
static const struct dplab_svc svcs[] = {
	{ IPPROTO_TCP, IP(192, 0, 2, 1), 80, LB_MODE_DR, "mh", 0, 0, 251, b2, 2,
	  0, 0 },
	{ IPPROTO_UDP, IP(192, 0, 2, 1), 53, LB_MODE_DR, "mh", 0, 0, 251, b2, 2,
	  0, 0 },
	{ IPPROTO_TCP, IP(192, 0, 2, 2), 80, LB_MODE_TUNNEL, "sh", 0, 0, 0, b2,
	  2, 0, 0 },
	{ IPPROTO_UDP, IP(192, 0, 2, 2), 53, LB_MODE_TUNNEL, "mh", 0, 0, 251,
	  b2, 2, 0, 0 },
	{ IPPROTO_TCP, IP(192, 0, 2, 3), 80, LB_MODE_NAT, "mh", 0, 0, 251,
	  nat_tcp, 2, 0, 0 },
	{ IPPROTO_UDP, IP(192, 0, 2, 3), 53, LB_MODE_NAT, "mh", 0, 0, 251,
	  nat_udp, 2, 0, 0 },
	{ IPPROTO_TCP, IP(192, 0, 2, 4), 80, LB_MODE_FNAT, "mh", LB_SVC_F_TOA,
	  0, 251, fnat_tcp, 1, IP(10, 1, 0, 100), 1 },
	{ IPPROTO_UDP, IP(192, 0, 2, 4), 53, LB_MODE_FNAT, "mh", 0, 0, 251,
	  fnat_udp, 1, IP(10, 1, 0, 100), 1 },
	{ IPPROTO_TCP, IP(192, 0, 2, 5), 443, LB_MODE_FNAT, "mh",
	  LB_SVC_F_PROXY_V2, 0, 251, pp, 1, IP(10, 1, 0, 101), 1 },
	{ IPPROTO_TCP, IP(192, 0, 2, 6), 80, LB_MODE_NAT, "mh", 0, 60, 251,
	  pers, 2, 0, 0 },
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
	char why[LBMSG_ERRMSG_MAX];

	if (dp.svc != NULL)
		svc_table_destroy(dp.svc);
	if (dplab_svc_table(&dp, 64) != 0)
		abort();
	for (size_t i = 0; i < RTE_DIM(svcs); i++)
		if (dplab_service(dp.svc, &svcs[i], why, sizeof(why)) != 0) {
			fprintf(stderr, "fuzz_pkt: set-up failed: %s\n", why);
			abort();
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
	const struct dplab_svc *d =
		&svcs[(len > 1 ? body[1] : 0) % RTE_DIM(svcs)];
	uint8_t bi = len > 2 ? body[2] : 0;
	struct lb_addr v = { .family = AF_INET, .v4 = d->vip };
	struct lb_addr ba = { .family = AF_INET };
	uint16_t bport = 0;
	struct nl_msg *m;
	char why[LBMSG_ERRMSG_MAX];
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
	rc = dplab_ctrl(dp.svc, m, why, sizeof(why));
	if (rc > 0 || (rc < 0 && why[0] == '\0'))
		__builtin_trap();
}

static void
lab_up(void)
{
	if (dplab_pair_up(&dp, ports, pool) != 0)
		abort();
	dp.arp_ring = rte_ring_create("fz_arp", 64, SOCKET_ID_ANY, 0);
	dp.pend_ring = rte_ring_create("fz_pend", 64, SOCKET_ID_ANY, 0);
	if (dp.arp_ring == NULL || dp.pend_ring == NULL)
		abort();
	services_up();
}

/* At exit: free what the tables hold, so LeakSanitizer (which does not
 * scan DPDK memory for pointers) has nothing to report. */
static void
lab_down(void)
{
	char rundir[PATH_MAX];

	ipfrag_fini(&dp);
	dplab_down(&dp);
	rte_mempool_free(pool);
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	rmdir(rundir); /* --no-shconf leaves it empty */
}

/* Connection state starts empty for every input (reproducible runs). */
static void
conns_reset(uint8_t opts)
{
	struct fwd_rss r;
	char err[256];

	fwd_fini(&dp);
	if (svc_dirty)
		services_up();
	if (fwd_init_conns(&dp, FUZZ_CONNS) != 0)
		abort();
	dplab_rss_conf(&r);
	if (opts & 1)
		fwd_rss_set(&dp, 1, &r);
	if (opts & 2)
		fwd_rss_set(&dp, 0, &r);
	dp.conf.frag_max_entries = 16;
	if (ipfrag_init(&dp, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_pkt: %s\n", err);
		abort();
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
	/* quiet: every input builds its reassembly tables anew */
	lb_log_set_level(LOG_WARNING);
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
	for (unsigned int w = 0; w < dp.nworkers; w++) {
		fwd_poll(&dp.workers[w]);
		worker_frag_input(&dp.workers[w]);
		ipfrag_poll(&dp.workers[w]);
	}
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
	conns_reset(data[0]);
	memset(&last, 0, sizeof(last));
	nins = 0;
	nfrag_ins = 0;
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
	/* fragments still waiting for the rest of their datagram */
	ipfrag_fini(&dp);
	if (verbose)
		report((const uint64_t(*)[DP_DROP_MAX])before);
	if (rte_mempool_avail_count(pool) != pool_full) {
		fprintf(stderr, "fuzz_pkt: %u mbufs leaked\n",
			pool_full - rte_mempool_avail_count(pool));
		__builtin_trap();
	}
	return 0;
}
