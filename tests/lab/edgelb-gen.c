/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelb-gen: the benchmarks' traffic generator.
 *
 * A small DPDK program on one lcore and one port (normally a net_memif
 * client facing edgelb-dp or the baseline dpdk-testpmd). It sends 64-byte
 * (60 + FCS) UDP or TCP frames to a VIP from N distinct flows and counts
 * and validates what comes back on the same port:
 *
 *   flow i  = source 10.1.0.1 + i / 60000, source port 1024 + i % 60000
 *             (--client sets the first address), so up to 10M flows need
 *             no per-flow state on the sending side: one template per
 *             protocol is patched (address, port, both checksums updated
 *             incrementally from the template's partial sums);
 *   --syn     each flow is sent once as a fresh TCP handshake seen from
 *             the client: SYN, then the ACK completing it (new conns/s);
 *   --mode    what a returned frame must look like:
 *               count    anything (only counted);
 *               echo     unchanged (testpmd io);
 *               macswap  MACs swapped, the rest unchanged (testpmd macswap);
 *               dr       dst MAC = the backend's, IP header unchanged;
 *               nat      dst IP/port = a backend's, src = the client;
 *               tunnel   outer IPIP header to a backend around the
 *                        original packet;
 *               fnat     dst = a backend, src = a local address.
 *             Backends are the addresses of --backend-net; the MAC of
 *             backend a.b.c.d is 02:bb:a:b:c:d (the rig installs
 *             permanent neighbours by the same rule). In dr/nat/tunnel,
 *             where the client's tuple survives, every flow must also stay
 *             on one backend (else `inconsistent`). IPv4 and L4 checksums
 *             of rewritten packets are verified.
 *
 *   --synflood R  a spoofed SYN flood with legitimate handshakes in it
 *             (TCP; the generator plays the clients and the backends):
 *             of every R + 1 frames one is a legitimate client's SYN
 *             (flow i as above, sequence number 1000), R are SYNs from
 *             random addresses of --spoof-net with random ports. What
 *             comes back is answered: a SYN to a backend (--backend-net)
 *             with the backend's SYN-ACK (ISN GEN_BACKEND_ISN), a SYN-ACK
 *             to a legitimate client with its ACK; an ACK to a backend
 *             that acknowledges GEN_BACKEND_ISN + 1 is a completed
 *             handshake (whether the balancer relayed the client's ACK or
 *             a SYN proxy made it). The report adds legit_syns,
 *             spoofed_syns, backend_syns, synacks_legit, synacks_spoofed,
 *             handshakes (completed) and handshakes_sending (completed
 *             before sending stopped); --synflood 0 is handshakes only
 *             (new connections per second through a SYN proxy). Answers
 *             wait in a queue of their own and go before the next burst
 *             of SYNs, as a host's own packets would: the flood filling
 *             the TX ring does not drop them.
 *
 * Every run is bounded: it stops after --count frames or --duration
 * seconds, whichever comes first, then drains the port for --drain-ms.
 * The report is one JSON object on stdout; the exit status is 0 when the
 * run completed (whatever the counts), 1 on a set-up failure, 2 on a bad
 * command line.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#define GEN_BURST	   32
#define GEN_MBUFS	   8191
#define GEN_DESC	   1024
#define GEN_FRAME_LEN	   60 /* 64 on the wire with the FCS */
#define GEN_PORTS_PER_ADDR 60000u
#define GEN_SPORT_BASE	   1024u
#define GEN_MAX_FLOWS	   10000000u
#define GEN_BACKEND_ISN	   0x40000000u /* --synflood: the backends' ISN */
#define GEN_CLIENT_ISN	   1000u

enum gen_mode {
	GEN_COUNT,
	GEN_ECHO,
	GEN_MACSWAP,
	GEN_DR,
	GEN_NAT,
	GEN_TUNNEL,
	GEN_FNAT,
};

static const char *const mode_names[] = {
	[GEN_COUNT] = "count", [GEN_ECHO] = "echo", [GEN_MACSWAP] = "macswap",
	[GEN_DR] = "dr",       [GEN_NAT] = "nat",   [GEN_TUNNEL] = "tunnel",
	[GEN_FNAT] = "fnat",
};

/* Why a returned frame failed validation; names as in the report. */
enum gen_bad {
	BAD_ETH,
	BAD_IP,
	BAD_IP_CSUM,
	BAD_L4_CSUM,
	BAD_DST,
	BAD_SRC,
	BAD_PORT,
	BAD_ENCAP,
	BAD_INCONSISTENT,
	BAD_MAX,
};

static const char *const bad_names[BAD_MAX] = {
	"bad_eth", "bad_ip",   "bad_ip_csum", "bad_l4_csum",  "bad_dst",
	"bad_src", "bad_port", "bad_encap",   "inconsistent",
};

struct gen_prefix {
	uint32_t net; /* host order */
	uint32_t mask;
};

struct gen_opts {
	uint16_t port_id;
	uint8_t proto;
	uint32_t vip; /* host order */
	uint16_t vport;
	uint32_t client; /* first client address, host order */
	uint32_t flows;
	uint64_t count;
	double duration;
	unsigned int drain_ms;
	bool syn;
	enum gen_mode mode;
	struct rte_ether_addr dmac;
	bool have_dmac;
	struct gen_prefix backends;
	struct gen_prefix laddrs;
	uint16_t bport; /* 0 = not checked */
	bool flood;	/* --synflood */
	uint32_t flood_ratio;
	struct gen_prefix spoof;
};

struct gen_counts {
	uint64_t tx;
	uint64_t tx_refused; /* offered to the port, not taken */
	uint64_t rx;
	uint64_t rx_ipv4; /* IPv4 frames, the ones validated */
	uint64_t rx_other;
	uint64_t rx_syn; /* TCP SYNs among them (new connections seen) */
	uint64_t valid;
	uint64_t bad[BAD_MAX];
	/* --synflood */
	uint64_t legit_syns, spoofed_syns;
	uint64_t backend_syns, synacks_legit, synacks_spoofed, handshakes;
	uint64_t handshakes_sending; /* completed while it was sending */
};

/* One protocol's frame with source address and port zero. */
struct gen_template {
	uint8_t frame[GEN_FRAME_LEN];
	uint32_t ip_sum; /* raw sums with the zeros, for incremental updates */
	uint32_t l4_sum;
	uint16_t l4_csum_off;
	uint16_t sport_off;
};

static volatile sig_atomic_t quit;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"Usage: edgelb-gen [EAL options] -- --vip A [options]\n"
		"  --port N           port id (default 0)\n"
		"  --proto udp|tcp    (default udp)\n"
		"  --vip A            destination (required)\n"
		"  --vport P          destination port (default 80)\n"
		"  --client A         first client address (default "
		"10.1.0.1)\n"
		"  --flows N          distinct flows, 1..10000000 (default "
		"1024)\n"
		"  --syn              fresh TCP handshakes: SYN + ACK per "
		"flow\n"
		"  --dmac MAC         destination MAC (default: broadcast)\n"
		"  --mode M           count|echo|macswap|dr|nat|tunnel|fnat\n"
		"  --backend-net A/N  backends' addresses "
		"(dr/nat/tunnel/fnat)\n"
		"  --laddr-net A/N    local addresses (fnat)\n"
		"  --bport P          backend port to expect (nat/fnat)\n"
		"  --count N          frames to send (default 10000000)\n"
		"  --duration S       seconds at most (default 10)\n"
		"  --drain-ms MS      receive after sending (default 200)\n"
		"  --synflood R       R spoofed SYNs per legitimate "
		"handshake;\n"
		"                     answers as clients and backends (tcp)\n"
		"  --spoof-net A/N    spoofed sources (default "
		"100.64.0.0/10)\n");
}

static int
parse_prefix(const char *s, struct gen_prefix *p)
{
	char buf[32], *slash;
	struct in_addr a;
	long len;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash == NULL)
		return -EINVAL;
	*slash = '\0';
	len = strtol(slash + 1, NULL, 10);
	if (inet_pton(AF_INET, buf, &a) != 1 || len < 1 || len > 32)
		return -EINVAL;
	p->mask = len == 32 ? 0xffffffffu : ~(0xffffffffu >> len);
	p->net = ntohl(a.s_addr) & p->mask;
	return 0;
}

static int
parse_ip(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

static int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int
parse_args(int argc, char **argv, struct gen_opts *o)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'P' },
		{ "proto", required_argument, NULL, 'p' },
		{ "vip", required_argument, NULL, 'v' },
		{ "vport", required_argument, NULL, 'V' },
		{ "client", required_argument, NULL, 'c' },
		{ "flows", required_argument, NULL, 'f' },
		{ "syn", no_argument, NULL, 's' },
		{ "dmac", required_argument, NULL, 'd' },
		{ "mode", required_argument, NULL, 'm' },
		{ "backend-net", required_argument, NULL, 'b' },
		{ "laddr-net", required_argument, NULL, 'l' },
		{ "bport", required_argument, NULL, 'B' },
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 't' },
		{ "drain-ms", required_argument, NULL, 'D' },
		{ "synflood", required_argument, NULL, 'F' },
		{ "spoof-net", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->proto = IPPROTO_UDP;
	o->vport = 80;
	o->client = 0x0a010001u;
	o->flows = 1024;
	o->count = 10000000;
	o->duration = 10;
	o->drain_ms = 200;
	o->mode = GEN_COUNT;
	memset(&o->dmac, 0xff, sizeof(o->dmac));
	parse_prefix("100.64.0.0/10", &o->spoof);

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int err = 0;

		switch (c) {
		case 'P':
			err = parse_u64(optarg, 0, RTE_MAX_ETHPORTS - 1, &v);
			o->port_id = (uint16_t)v;
			break;
		case 'p':
			if (strcmp(optarg, "udp") == 0)
				o->proto = IPPROTO_UDP;
			else if (strcmp(optarg, "tcp") == 0)
				o->proto = IPPROTO_TCP;
			else
				err = -EINVAL;
			break;
		case 'v':
			err = parse_ip(optarg, &o->vip);
			break;
		case 'V':
			err = parse_u64(optarg, 1, 65535, &v);
			o->vport = (uint16_t)v;
			break;
		case 'c':
			err = parse_ip(optarg, &o->client);
			break;
		case 'f':
			err = parse_u64(optarg, 1, GEN_MAX_FLOWS, &v);
			o->flows = (uint32_t)v;
			break;
		case 's':
			o->syn = true;
			break;
		case 'd':
			err = rte_ether_unformat_addr(optarg, &o->dmac) == 0
				      ? 0
				      : -EINVAL;
			o->have_dmac = true;
			break;
		case 'm':
			err = -EINVAL;
			for (size_t i = 0; i < RTE_DIM(mode_names); i++) {
				if (strcmp(optarg, mode_names[i]) == 0) {
					o->mode = (enum gen_mode)i;
					err = 0;
				}
			}
			break;
		case 'b':
			err = parse_prefix(optarg, &o->backends);
			break;
		case 'l':
			err = parse_prefix(optarg, &o->laddrs);
			break;
		case 'B':
			err = parse_u64(optarg, 1, 65535, &v);
			o->bport = (uint16_t)v;
			break;
		case 'n':
			err = parse_u64(optarg, 1, UINT64_MAX / 2, &o->count);
			break;
		case 't': {
			char *end;

			o->duration = strtod(optarg, &end);
			if (*end != '\0' || !(o->duration > 0) ||
			    o->duration > 3600)
				err = -EINVAL;
			break;
		}
		case 'D':
			err = parse_u64(optarg, 0, 10000, &v);
			o->drain_ms = (unsigned int)v;
			break;
		case 'F':
			err = parse_u64(optarg, 0, 1000000, &v);
			o->flood_ratio = (uint32_t)v;
			o->flood = true;
			break;
		case 'S':
			err = parse_prefix(optarg, &o->spoof);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (err != 0) {
			fprintf(stderr, "edgelb-gen: bad option value '%s'\n",
				optarg);
			return -EINVAL;
		}
	}
	if (o->vip == 0) {
		fprintf(stderr, "edgelb-gen: --vip is required\n");
		return -EINVAL;
	}
	if (o->syn || o->flood)
		o->proto = IPPROTO_TCP;
	if (o->flood && (o->backends.mask == 0 || o->syn)) {
		fprintf(stderr, "edgelb-gen: --synflood needs --backend-net "
				"and excludes --syn\n");
		return -EINVAL;
	}
	if (o->mode >= GEN_DR && o->backends.mask == 0) {
		fprintf(stderr, "edgelb-gen: --mode %s needs --backend-net\n",
			mode_names[o->mode]);
		return -EINVAL;
	}
	if (o->mode == GEN_FNAT && o->laddrs.mask == 0) {
		fprintf(stderr, "edgelb-gen: --mode fnat needs --laddr-net\n");
		return -EINVAL;
	}
	return 0;
}

static int
port_init(const struct gen_opts *o, struct rte_mempool *mp)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t nrx = GEN_DESC, ntx = GEN_DESC;
	int ret;

	if (!rte_eth_dev_is_valid_port(o->port_id)) {
		fprintf(stderr, "edgelb-gen: no port %u (give EAL a --vdev)\n",
			o->port_id);
		return -ENODEV;
	}
	memset(&conf, 0, sizeof(conf));
	ret = rte_eth_dev_info_get(o->port_id, &info);
	if (ret == 0)
		ret = rte_eth_dev_configure(o->port_id, 1, 1, &conf);
	if (ret == 0)
		ret = rte_eth_dev_adjust_nb_rx_tx_desc(o->port_id, &nrx, &ntx);
	if (ret == 0)
		ret = rte_eth_rx_queue_setup(o->port_id, 0, nrx,
					     rte_eth_dev_socket_id(o->port_id),
					     NULL, mp);
	if (ret == 0)
		ret = rte_eth_tx_queue_setup(o->port_id, 0, ntx,
					     rte_eth_dev_socket_id(o->port_id),
					     NULL);
	if (ret == 0)
		ret = rte_eth_dev_start(o->port_id);
	if (ret != 0) {
		fprintf(stderr, "edgelb-gen: port %u: %s\n", o->port_id,
			rte_strerror(-ret));
		return ret;
	}
	rte_eth_promiscuous_enable(o->port_id);
	return 0;
}

/* Wait until the port's link is up (a memif peer is connected). */
static int
wait_link(uint16_t port_id, unsigned int ms)
{
	struct rte_eth_link link;

	for (unsigned int i = 0; i < ms / 10 && !quit; i++) {
		if (rte_eth_link_get_nowait(port_id, &link) == 0 &&
		    link.link_status == RTE_ETH_LINK_UP)
			return 0;
		rte_delay_ms(10);
	}
	return -ETIMEDOUT;
}

static void
build_template(const struct gen_opts *o, const struct rte_ether_addr *smac,
	       uint8_t tcp_flags, struct gen_template *t)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)t->frame;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	uint16_t l4_len = GEN_FRAME_LEN - sizeof(*eth) - sizeof(*ip);
	uint8_t *l4 = (uint8_t *)(ip + 1);
	uint32_t pseudo;

	memset(t, 0, sizeof(*t));
	eth->dst_addr = o->dmac;
	eth->src_addr = *smac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(GEN_FRAME_LEN - sizeof(*eth));
	ip->time_to_live = 64;
	ip->next_proto_id = o->proto;
	ip->dst_addr = rte_cpu_to_be_32(o->vip);
	/* src_addr, hdr_checksum stay 0: filled per packet. */
	t->ip_sum = __rte_raw_cksum(ip, sizeof(*ip), 0);

	if (o->proto == IPPROTO_UDP) {
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)l4;

		udp->dst_port = rte_cpu_to_be_16(o->vport);
		udp->dgram_len = rte_cpu_to_be_16(l4_len);
		memcpy(udp + 1, "edgelb-gen", 10);
		t->l4_csum_off = (uint16_t)(l4 - t->frame) +
				 offsetof(struct rte_udp_hdr, dgram_cksum);
		t->sport_off = (uint16_t)(l4 - t->frame);
	} else {
		struct rte_tcp_hdr *tcp = (struct rte_tcp_hdr *)l4;

		tcp->dst_port = rte_cpu_to_be_16(o->vport);
		tcp->sent_seq = rte_cpu_to_be_32(
			tcp_flags == RTE_TCP_SYN_FLAG ? 1000 : 1001);
		tcp->recv_ack = rte_cpu_to_be_32(
			tcp_flags == RTE_TCP_SYN_FLAG ? 0 : 5001);
		tcp->data_off = (sizeof(*tcp) / 4) << 4;
		tcp->tcp_flags = tcp_flags;
		tcp->rx_win = rte_cpu_to_be_16(65535);
		t->l4_csum_off = (uint16_t)(l4 - t->frame) +
				 offsetof(struct rte_tcp_hdr, cksum);
		t->sport_off = (uint16_t)(l4 - t->frame);
	}
	/* Pseudo header (source 0) plus the L4 bytes (source port 0). */
	pseudo = (ip->dst_addr & 0xffff) + (ip->dst_addr >> 16) +
		 rte_cpu_to_be_16(o->proto) + rte_cpu_to_be_16(l4_len);
	t->l4_sum = __rte_raw_cksum(l4, l4_len, pseudo);
}

static inline uint16_t
fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Fill m with flow i's frame from template t. */
static inline void
make_frame(const struct gen_opts *o, const struct gen_template *t, uint32_t i,
	   struct rte_mbuf *m)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ipv4_hdr *ip =
		(struct rte_ipv4_hdr *)(p + sizeof(struct rte_ether_hdr));
	uint32_t saddr = rte_cpu_to_be_32(o->client + i / GEN_PORTS_PER_ADDR);
	uint16_t sport =
		rte_cpu_to_be_16(GEN_SPORT_BASE + i % GEN_PORTS_PER_ADDR);
	uint32_t addr_sum = (saddr & 0xffff) + (saddr >> 16);
	uint16_t csum;

	memcpy(p, t->frame, GEN_FRAME_LEN);
	ip->src_addr = saddr;
	ip->hdr_checksum = (uint16_t)~fold(t->ip_sum + addr_sum);
	memcpy(p + t->sport_off, &sport, 2);
	csum = (uint16_t)~fold(t->l4_sum + addr_sum + sport);
	if (csum == 0 && o->proto == IPPROTO_UDP)
		csum = 0xffff;
	memcpy(p + t->l4_csum_off, &csum, 2);
	m->data_len = GEN_FRAME_LEN;
	m->pkt_len = GEN_FRAME_LEN;
}

static inline bool
in_prefix(const struct gen_prefix *p, uint32_t be_addr)
{
	return (rte_be_to_cpu_32(be_addr) & p->mask) == p->net;
}

static inline bool
backend_mac_ok(const struct rte_ether_addr *mac, uint32_t be_addr)
{
	return mac->addr_bytes[0] == 0x02 && mac->addr_bytes[1] == 0xbb &&
	       memcmp(&mac->addr_bytes[2], &be_addr, 4) == 0;
}

/* The flow index of a client tuple, or -1 if it is not one of ours. */
static inline int64_t
flow_of(const struct gen_opts *o, uint32_t be_saddr, uint16_t be_sport)
{
	uint32_t a = rte_be_to_cpu_32(be_saddr), p = rte_be_to_cpu_16(be_sport);
	uint64_t i;

	if (a < o->client || p < GEN_SPORT_BASE ||
	    p >= GEN_SPORT_BASE + GEN_PORTS_PER_ADDR)
		return -1;
	i = (uint64_t)(a - o->client) * GEN_PORTS_PER_ADDR +
	    (p - GEN_SPORT_BASE);
	return i < o->flows ? (int64_t)i : -1;
}

/*
 * Validate one returned IPv4 frame; returns a BAD_* or BAD_MAX if valid.
 * owner[] (NULL if not kept) remembers each flow's backend.
 */
static enum gen_bad
validate(const struct gen_opts *o, const struct rte_ether_addr *smac,
	 struct rte_mbuf *m, uint32_t *owner, bool *syn)
{
	uint32_t len = rte_pktmbuf_data_len(m);
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)p;
	const struct rte_ipv4_hdr *ip =
		(const struct rte_ipv4_hdr *)(p + sizeof(*eth));
	const struct rte_ipv4_hdr *cip = ip; /* the client's packet */
	uint32_t backend = 0, ihl;
	const uint8_t *l4;
	uint16_t sport, dport;
	int64_t flow;

	if (len < sizeof(*eth) + sizeof(*ip) || (ip->version_ihl >> 4) != 4)
		return BAD_IP;
	ihl = (ip->version_ihl & 0xf) * 4u;
	if (ihl < sizeof(*ip) || len < sizeof(*eth) + ihl ||
	    rte_be_to_cpu_16(ip->total_length) < ihl ||
	    rte_be_to_cpu_16(ip->total_length) > len - sizeof(*eth))
		return BAD_IP;
	if (rte_ipv4_cksum(ip) != 0 && o->mode >= GEN_DR &&
	    rte_raw_cksum(ip, ihl) != 0xffff)
		return BAD_IP_CSUM;

	switch (o->mode) {
	case GEN_ECHO:
		if (!rte_is_same_ether_addr(&eth->dst_addr, &o->dmac) ||
		    !rte_is_same_ether_addr(&eth->src_addr, smac))
			return BAD_ETH;
		break;
	case GEN_MACSWAP:
		if (!rte_is_same_ether_addr(&eth->dst_addr, smac) ||
		    !rte_is_same_ether_addr(&eth->src_addr, &o->dmac))
			return BAD_ETH;
		break;
	case GEN_DR:
		/* The MAC names the backend; the IP header is untouched. */
		memcpy(&backend, &eth->dst_addr.addr_bytes[2], 4);
		if (eth->dst_addr.addr_bytes[0] != 0x02 ||
		    eth->dst_addr.addr_bytes[1] != 0xbb ||
		    !in_prefix(&o->backends, backend))
			return BAD_ETH;
		break;
	case GEN_NAT:
	case GEN_FNAT:
		backend = ip->dst_addr;
		if (!in_prefix(&o->backends, backend))
			return BAD_DST;
		if (!backend_mac_ok(&eth->dst_addr, backend))
			return BAD_ETH;
		if (o->mode == GEN_FNAT && !in_prefix(&o->laddrs, ip->src_addr))
			return BAD_SRC;
		break;
	case GEN_TUNNEL:
		backend = ip->dst_addr;
		if (ip->next_proto_id != IPPROTO_IPIP)
			return BAD_ENCAP;
		if (!in_prefix(&o->backends, backend))
			return BAD_DST;
		if (!backend_mac_ok(&eth->dst_addr, backend))
			return BAD_ETH;
		cip = (const struct rte_ipv4_hdr *)((const uint8_t *)ip + ihl);
		if (len < sizeof(*eth) + ihl + sizeof(*cip) ||
		    (cip->version_ihl >> 4) != 4 ||
		    (cip->version_ihl & 0xf) * 4u < sizeof(*cip))
			return BAD_ENCAP;
		ihl = (cip->version_ihl & 0xf) * 4u;
		if ((const uint8_t *)cip + ihl + 4 > p + len)
			return BAD_ENCAP;
		if (rte_raw_cksum(cip, ihl) != 0xffff)
			return BAD_IP_CSUM;
		break;
	case GEN_COUNT:
		return BAD_MAX;
	}

	if (cip->next_proto_id != o->proto)
		return BAD_IP;
	l4 = (const uint8_t *)cip + ihl;
	if (l4 + 4 > p + len)
		return BAD_IP;
	memcpy(&sport, l4, 2);
	memcpy(&dport, l4 + 2, 2);
	if (o->proto == IPPROTO_TCP &&
	    l4 + sizeof(struct rte_tcp_hdr) <= p + len)
		*syn = (((const struct rte_tcp_hdr *)l4)->tcp_flags &
			RTE_TCP_SYN_FLAG) != 0;

	if (o->mode == GEN_NAT || o->mode == GEN_FNAT) {
		if (o->bport != 0 && dport != rte_cpu_to_be_16(o->bport))
			return BAD_PORT;
		if (rte_ipv4_udptcp_cksum_verify(cip, l4) != 0)
			return BAD_L4_CSUM;
		if (o->mode == GEN_FNAT)
			return BAD_MAX; /* the client's tuple is gone */
	} else {
		if (cip->dst_addr != rte_cpu_to_be_32(o->vip))
			return BAD_DST;
		if (dport != rte_cpu_to_be_16(o->vport))
			return BAD_PORT;
	}
	flow = flow_of(o, cip->src_addr, sport);
	if (flow < 0)
		return BAD_SRC;
	if (owner != NULL && backend != 0) {
		if (owner[flow] == 0)
			owner[flow] = backend;
		else if (owner[flow] != backend)
			return BAD_INCONSISTENT;
	}
	return BAD_MAX;
}

static void
receive(const struct gen_opts *o, const struct rte_ether_addr *smac,
	uint32_t *owner, struct gen_counts *c)
{
	struct rte_mbuf *rx[GEN_BURST];
	uint16_t n = rte_eth_rx_burst(o->port_id, 0, rx, GEN_BURST);

	for (uint16_t k = 0; k < n; k++) {
		const struct rte_ether_hdr *eth =
			rte_pktmbuf_mtod(rx[k], const struct rte_ether_hdr *);
		bool syn = false;

		c->rx++;
		if (rte_pktmbuf_data_len(rx[k]) < sizeof(*eth) ||
		    eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
			c->rx_other++; /* ARP from the dataplane, etc. */
		} else {
			enum gen_bad b;

			c->rx_ipv4++;
			b = validate(o, smac, rx[k], owner, &syn);
			if (b == BAD_MAX)
				c->valid++;
			else
				c->bad[b]++;
			c->rx_syn += syn;
		}
		rte_pktmbuf_free(rx[k]);
	}
}

/* ---- --synflood ----------------------------------------------------------- */

static inline uint64_t
xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * Frame f of a --synflood run in m: a legitimate client's SYN (flow
 * (f / (R + 1)) % flows) when f % (R + 1) is 0, else a spoofed SYN.
 */
static void
flood_frame(const struct gen_opts *o, const struct gen_template *t, uint64_t f,
	    uint64_t *rng, struct rte_mbuf *m, struct gen_counts *c)
{
	uint64_t r = (uint64_t)o->flood_ratio + 1;
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ipv4_hdr *ip =
		(struct rte_ipv4_hdr *)(p + sizeof(struct rte_ether_hdr));
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
	uint64_t x;

	if (f % r == 0) {
		make_frame(o, t, (uint32_t)((f / r) % o->flows), m);
		c->legit_syns++;
		return;
	}
	x = xorshift(rng);
	memcpy(p, t->frame, GEN_FRAME_LEN);
	ip->src_addr =
		rte_cpu_to_be_32(o->spoof.net | ((uint32_t)x & ~o->spoof.mask));
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	th->src_port = rte_cpu_to_be_16((uint16_t)(1024 + (x >> 32) % 64000));
	th->sent_seq = rte_cpu_to_be_32((uint32_t)(x >> 16));
	th->cksum = 0;
	th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	m->data_len = GEN_FRAME_LEN;
	m->pkt_len = GEN_FRAME_LEN;
	c->spoofed_syns++;
}

static inline bool
legit_client(const struct gen_opts *o, uint32_t be_addr)
{
	uint32_t a = rte_be_to_cpu_32(be_addr);

	return a >= o->client &&
	       a <= o->client + (o->flows - 1) / GEN_PORTS_PER_ADDR;
}

/*
 * Answer the TCP segment m (IPv4 at ip) in place as the party it is
 * addressed to: swap the Ethernet, IP and TCP endpoints, set sequence,
 * ACK number and flags, checksums from scratch. The frame goes back to
 * the balancer (--dmac).
 */
static void
answer(const struct gen_opts *o, const struct rte_ether_addr *smac,
       struct rte_mbuf *m, struct rte_ipv4_hdr *ip, uint32_t seq, uint32_t ack,
       uint8_t flags)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
	uint32_t a = ip->src_addr;
	uint16_t port = th->src_port;
	uint16_t len = (uint16_t)(sizeof(*ip) + sizeof(*th));

	eth->dst_addr = o->dmac;
	eth->src_addr = *smac;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = a;
	ip->total_length = rte_cpu_to_be_16(len);
	ip->time_to_live = 64;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	th->src_port = th->dst_port;
	th->dst_port = port;
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = rte_cpu_to_be_32(ack);
	th->data_off = (sizeof(*th) / 4) << 4;
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16(65535);
	th->tcp_urp = 0;
	th->cksum = 0;
	th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	m->data_len = (uint16_t)(sizeof(*eth) + len);
	m->pkt_len = m->data_len;
}

/*
 * Answers waiting for room in the TX ring: they go before the next
 * flood burst (a host's own queue), so that the flood filling the ring
 * does not drop them; only when GEN_PENDING are waiting is one dropped.
 */
#define GEN_PENDING 4096u
static struct rte_mbuf *pending[GEN_PENDING];
static unsigned int npending;

/* Send what is pending; true when nothing is left. */
static bool
flood_flush(const struct gen_opts *o, struct gen_counts *c)
{
	uint16_t sent;

	if (npending == 0)
		return true;
	sent = rte_eth_tx_burst(
		o->port_id, 0, pending,
		(uint16_t)RTE_MIN(npending, (unsigned int)UINT16_MAX));
	c->tx += sent;
	memmove(pending, pending + sent,
		(npending - sent) * sizeof(pending[0]));
	npending -= sent;
	return npending == 0;
}

/* Receive a burst of a --synflood run: count, answer what a client or
 * a backend answers (queued, flood_flush()), free the rest. */
static void
flood_receive(const struct gen_opts *o, const struct rte_ether_addr *smac,
	      struct gen_counts *c)
{
	struct rte_mbuf *rx[GEN_BURST], *tx[GEN_BURST];
	uint16_t n = rte_eth_rx_burst(o->port_id, 0, rx, GEN_BURST), nt = 0;

	for (uint16_t k = 0; k < n; k++) {
		struct rte_mbuf *m = rx[k];
		const struct rte_ether_hdr *eth =
			rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
		struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
		uint8_t f;

		c->rx++;
		if (rte_pktmbuf_data_len(m) <
			    sizeof(*eth) + sizeof(*ip) + sizeof(*th) ||
		    eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
		    ip->version_ihl != RTE_IPV4_VHL_DEF ||
		    ip->next_proto_id != IPPROTO_TCP) {
			c->rx_other++;
			rte_pktmbuf_free(m);
			continue;
		}
		c->rx_ipv4++;
		f = th->tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG |
				     RTE_TCP_RST_FLAG | RTE_TCP_FIN_FLAG);
		if (f == RTE_TCP_SYN_FLAG &&
		    in_prefix(&o->backends, ip->dst_addr)) {
			c->backend_syns++;
			answer(o, smac, m, ip, GEN_BACKEND_ISN,
			       rte_be_to_cpu_32(th->sent_seq) + 1,
			       RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG);
			tx[nt++] = m;
		} else if (f == (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG) &&
			   legit_client(o, ip->dst_addr) &&
			   rte_be_to_cpu_32(th->recv_ack) ==
				   GEN_CLIENT_ISN + 1) {
			c->synacks_legit++;
			answer(o, smac, m, ip, GEN_CLIENT_ISN + 1,
			       rte_be_to_cpu_32(th->sent_seq) + 1,
			       RTE_TCP_ACK_FLAG);
			tx[nt++] = m;
		} else {
			if (f == (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG))
				c->synacks_spoofed++;
			else if (f == RTE_TCP_ACK_FLAG &&
				 in_prefix(&o->backends, ip->dst_addr) &&
				 rte_be_to_cpu_32(th->recv_ack) ==
					 GEN_BACKEND_ISN + 1)
				c->handshakes++;
			rte_pktmbuf_free(m);
		}
	}
	for (uint16_t k = 0; k < nt; k++) {
		if (npending == GEN_PENDING) {
			c->tx_refused++;
			rte_pktmbuf_free(tx[k]);
			continue;
		}
		pending[npending++] = tx[k];
	}
	flood_flush(o, c);
}

static void
report(const struct gen_opts *o, const struct gen_counts *c, double send_s,
       double total_s)
{
	uint64_t lost = c->tx > c->rx_ipv4 ? c->tx - c->rx_ipv4 : 0;

	printf("{\"mode\": \"%s\", \"proto\": \"%s\", \"flows\": %u, "
	       "\"syn\": %s,\n",
	       mode_names[o->mode], o->proto == IPPROTO_TCP ? "tcp" : "udp",
	       o->flows, o->syn ? "true" : "false");
	printf(" \"send_seconds\": %.6f, \"total_seconds\": %.6f,\n", send_s,
	       total_s);
	printf(" \"tx\": %" PRIu64 ", \"tx_refused\": %" PRIu64
	       ", \"rx\": %" PRIu64 ", \"rx_ipv4\": %" PRIu64
	       ", \"rx_other\": %" PRIu64 ", \"rx_syn\": %" PRIu64
	       ", \"valid\": %" PRIu64 ", \"lost\": %" PRIu64 ",\n",
	       c->tx, c->tx_refused, c->rx, c->rx_ipv4, c->rx_other, c->rx_syn,
	       c->valid, lost);
	printf(" \"tx_pps\": %.0f, \"rx_pps\": %.0f, \"rx_syn_per_s\": %.0f,\n",
	       send_s > 0 ? c->tx / send_s : 0,
	       send_s > 0 ? c->rx_ipv4 / send_s : 0,
	       send_s > 0 ? c->rx_syn / send_s : 0);
	if (o->flood)
		printf(" \"synflood_ratio\": %u, \"legit_syns\": %" PRIu64
		       ", \"spoofed_syns\": %" PRIu64
		       ", \"backend_syns\": %" PRIu64
		       ", \"synacks_legit\": %" PRIu64
		       ", \"synacks_spoofed\": %" PRIu64
		       ", \"handshakes\": %" PRIu64
		       ", \"handshakes_sending\": %" PRIu64 ",\n",
		       o->flood_ratio, c->legit_syns, c->spoofed_syns,
		       c->backend_syns, c->synacks_legit, c->synacks_spoofed,
		       c->handshakes, c->handshakes_sending);
	printf(" \"invalid\": {");
	for (int b = 0; b < BAD_MAX; b++)
		printf("%s\"%s\": %" PRIu64, b ? ", " : "", bad_names[b],
		       c->bad[b]);
	printf("}}\n");
	fflush(stdout);
}

static int
run(const struct gen_opts *o, struct rte_mempool *mp,
    const struct rte_ether_addr *smac, uint32_t *owner)
{
	struct gen_template tpl[2]; /* [0]: data or SYN, [1]: handshake ACK */
	struct rte_mbuf *tx[GEN_BURST];
	struct gen_counts c;
	uint64_t hz = rte_get_tsc_hz(), start, end, now, stop_at, drain_end;
	uint64_t seq = 0; /* frames the port took so far */
	uint64_t rng = 0x9e3779b97f4a7c15ull;

	memset(&c, 0, sizeof(c));
	build_template(o, smac,
		       o->syn || o->flood ? RTE_TCP_SYN_FLAG : RTE_TCP_ACK_FLAG,
		       &tpl[0]);
	build_template(o, smac, RTE_TCP_ACK_FLAG, &tpl[1]);

	start = rte_rdtsc();
	stop_at = start + (uint64_t)(o->duration * (double)hz);
	now = start;
	while (!quit && c.tx < o->count && now < stop_at) {
		uint16_t want = GEN_BURST, sent;

		if (o->count - c.tx < want)
			want = (uint16_t)(o->count - c.tx);
		if (o->flood && !flood_flush(o, &c)) {
			/* the answers first: no new SYNs while they wait */
			flood_receive(o, smac, &c);
			now = rte_rdtsc();
			continue;
		}
		/*
		 * Frame number seq + k is flow (seq + k) % flows, or with
		 * --syn the SYN (even) or ACK (odd) of flow (seq + k) / 2:
		 * what the port refuses is built again next round.
		 */
		if (rte_pktmbuf_alloc_bulk(mp, tx, want) == 0) {
			for (uint16_t k = 0; k < want; k++) {
				uint64_t f = seq + k;

				if (o->flood)
					flood_frame(o, &tpl[0], f, &rng, tx[k],
						    &c);
				else if (o->syn)
					make_frame(
						o, &tpl[f & 1],
						(uint32_t)((f / 2) % o->flows),
						tx[k]);
				else
					make_frame(o, &tpl[0],
						   (uint32_t)(f % o->flows),
						   tx[k]);
			}
			sent = rte_eth_tx_burst(o->port_id, 0, tx, want);
			if (sent < want) {
				c.tx_refused += want - sent;
				if (o->flood) /* built again: not sent */
					for (uint16_t k = sent; k < want; k++) {
						if ((seq +
						     k) % ((uint64_t)o
								   ->flood_ratio +
							   1) ==
						    0)
							c.legit_syns--;
						else
							c.spoofed_syns--;
					}
				rte_pktmbuf_free_bulk(tx + sent, want - sent);
			}
			c.tx += sent;
			seq += sent;
		}
		if (o->flood)
			flood_receive(o, smac, &c);
		else
			receive(o, smac, owner, &c);
		now = rte_rdtsc();
	}
	end = now;
	c.handshakes_sending = c.handshakes;
	drain_end = end + hz * o->drain_ms / 1000;
	while (!quit && rte_rdtsc() < drain_end) {
		if (o->flood)
			flood_receive(o, smac, &c); /* flushes what waits */
		else
			receive(o, smac, owner, &c);
	}
	if (npending > 0) { /* never sent */
		c.tx_refused += npending;
		rte_pktmbuf_free_bulk(pending, npending);
		npending = 0;
	}
	report(o, &c, (double)(end - start) / hz,
	       (double)(rte_rdtsc() - start) / hz);
	return 0;
}

int
main(int argc, char **argv)
{
	struct rte_ether_addr smac;
	struct rte_mempool *mp;
	struct gen_opts o;
	uint32_t *owner = NULL;
	int ret;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "edgelb-gen: EAL: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}
	argc -= ret;
	argv += ret;
	if (parse_args(argc, argv, &o) != 0) {
		rte_eal_cleanup();
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	ret = 1;
	mp = rte_pktmbuf_pool_create("gen", GEN_MBUFS, 256, 0,
				     RTE_MBUF_DEFAULT_BUF_SIZE,
				     rte_socket_id());
	if (mp == NULL) {
		fprintf(stderr, "edgelb-gen: mbuf pool: %s\n",
			rte_strerror(rte_errno));
		goto out;
	}
	if (port_init(&o, mp) != 0)
		goto out;
	rte_eth_macaddr_get(o.port_id, &smac);
	if (wait_link(o.port_id, 10000) != 0) {
		fprintf(stderr, "edgelb-gen: port %u: link down after 10 s\n",
			o.port_id);
		goto stop;
	}
	if (o.mode == GEN_DR || o.mode == GEN_NAT || o.mode == GEN_TUNNEL) {
		owner = calloc(o.flows, sizeof(*owner));
		if (owner == NULL) {
			fprintf(stderr, "edgelb-gen: out of memory\n");
			goto stop;
		}
	}
	ret = run(&o, mp, &smac, owner);
stop:
	rte_eth_dev_stop(o.port_id);
	rte_eth_dev_close(o.port_id);
out:
	free(owner);
	rte_eal_cleanup();
	return ret;
}
