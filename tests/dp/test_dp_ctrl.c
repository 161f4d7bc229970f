/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp.sock round trips against the real edgelb-dp: port addresses, routes,
 * neighbours, ports, configuration and statistics; every bad request is
 * answered with its documented errno. A table of requests, each with the
 * expected error, run in order (later rows depend on earlier ones).
 *
 * usage: test_dp_ctrl /path/to/edgelb-dp
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "dp_harness.h"

static const char ini[] =
	"[dataplane]\n"
	"max_services = 16\n"
	"max_backends = 64\n"
	"mbufs = 4095\n"
	"arp_retry_ms = 60000\n"
	"[port p0]\n"
	"devargs = net_pcap0,rx_pcap=@DIR@/in0.pcap,tx_pcap=@DIR@/out0.pcap\n"
	"mac = 02:00:00:00:00:01\n"
	"address = 10.0.0.1/24\n"
	"[port p1]\n"
	"devargs = net_pcap1,rx_pcap=@DIR@/in1.pcap,tx_pcap=@DIR@/out1.pcap\n"
	"mac = 02:00:00:00:01:01\n"
	"address = 10.1.0.1/24\n";

static struct lb_addr
A(const char *s) {
	struct lb_addr a;

	lb_addr_parse(s, &a);
	return a;
}

/* ---- request builders ---------------------------------------------------- */

static struct nl_msg *
portaddr(uint16_t type, const char *ifname, const char *addr, int plen)
{
	struct nl_msg *m = lbmsg_new(type, 0);
	struct lb_addr a = A(addr);

	nla_put_string(m, LB_ATTR_IFNAME, ifname);
	lbmsg_put_addr(m, LB_ATTR_ADDR, &a);
	if (plen >= 0)
		nla_put_u8(m, LB_ATTR_PREFIXLEN, (uint8_t)plen);
	return m;
}

static struct nl_msg *
route(uint16_t type, const char *dst, int plen, const char *gw,
      const char *ifname)
{
	struct nl_msg *m = lbmsg_new(type, 0);
	struct lb_addr d = A(dst), g;

	lbmsg_put_addr(m, LB_ATTR_DST, &d);
	nla_put_u8(m, LB_ATTR_PREFIXLEN, (uint8_t)plen);
	if (gw != NULL) {
		g = A(gw);
		lbmsg_put_addr(m, LB_ATTR_GATEWAY, &g);
	}
	if (ifname != NULL)
		nla_put_string(m, LB_ATTR_IFNAME, ifname);
	return m;
}

static struct nl_msg *
neigh(uint16_t type, const char *addr, const char *mac, const char *ifname)
{
	struct nl_msg *m = lbmsg_new(type, 0);
	struct lb_addr a = A(addr);
	uint8_t ll[6];

	lbmsg_put_addr(m, LB_ATTR_ADDR, &a);
	if (mac != NULL) {
		lb_mac_parse(mac, ll);
		nla_put(m, LB_ATTR_LLADDR, 6, ll);
	}
	if (ifname != NULL)
		nla_put_string(m, LB_ATTR_IFNAME, ifname);
	return m;
}

static struct nl_msg *
config(int attr, uint32_t v)
{
	struct nl_msg *m = lbmsg_new(LB_MSG_CONFIG_SET, 0);

	nla_put_u32(m, attr, v);
	return m;
}

static struct nl_msg *
service(uint16_t vport, uint32_t persist)
{
	struct nl_msg *m = lbmsg_new(LB_MSG_SERVICE_NEW, 0);
	struct lb_addr vip = A("10.0.0.100");

	nla_put_u8(m, LB_ATTR_PROTO, IPPROTO_TCP);
	lbmsg_put_addr(m, LB_ATTR_VIP, &vip);
	nla_put_u16(m, LB_ATTR_VPORT, vport);
	nla_put_u32(m, LB_ATTR_PERSIST, persist);
	return m;
}

/* A service on 10.0.0.100:vport with the limit attr = v (none: attr 0). */
static struct nl_msg *
svc_limit(uint16_t type, uint16_t vport, int attr, uint32_t v)
{
	struct nl_msg *m = lbmsg_new(type, 0);
	struct lb_addr vip = A("10.0.0.100");

	nla_put_u8(m, LB_ATTR_PROTO, IPPROTO_TCP);
	lbmsg_put_addr(m, LB_ATTR_VIP, &vip);
	nla_put_u16(m, LB_ATTR_VPORT, vport);
	if (attr != 0)
		nla_put_u32(m, attr, v);
	return m;
}

/* A backend 10.1.0.5:80 of 10.0.0.100:vport; a threshold of ~0u is not
 * sent. */
static struct nl_msg *
be_thresh(uint16_t type, uint16_t vport, uint32_t u, uint32_t l)
{
	struct nl_msg *m = svc_limit(type, vport, 0, 0);
	struct lb_addr b = A("10.1.0.5");

	lbmsg_put_addr(m, LB_ATTR_ADDR, &b);
	nla_put_u16(m, LB_ATTR_PORT, 80);
	if (u != ~0u)
		nla_put_u32(m, LB_ATTR_U_THRESH, u);
	if (l != ~0u)
		nla_put_u32(m, LB_ATTR_L_THRESH, l);
	return m;
}

static uint32_t
u32_or_0(struct nlattr **tb, int attr)
{
	return tb[attr] != NULL ? nla_get_u32(tb[attr]) : 0;
}

/* ---- dumps ---------------------------------------------------------------- */

struct dump {
	char rows[32][128]; /* one text line per part */
	int n;
};

static int
dump_part(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	struct dump *d = arg;
	char a[LB_ADDRSTRLEN], b[LB_ADDRSTRLEN], mac[LB_MACSTRLEN];
	struct lb_addr x, y;
	char *row;

	if (d->n == 32)
		return 0;
	row = d->rows[d->n++];
	row[0] = '\0';
	switch (nlh->nlmsg_type) {
	case LB_MSG_PORTADDR_GET:
		lbmsg_get_addr(tb[LB_ATTR_ADDR], &x);
		snprintf(row, 128, "%s %s/%u",
			 nla_get_string(tb[LB_ATTR_IFNAME]),
			 lb_addr_format(&x, a, sizeof(a)),
			 nla_get_u8(tb[LB_ATTR_PREFIXLEN]));
		break;
	case LB_MSG_ROUTE_GET:
		lbmsg_get_addr(tb[LB_ATTR_DST], &x);
		if (tb[LB_ATTR_GATEWAY] != NULL)
			lbmsg_get_addr(tb[LB_ATTR_GATEWAY], &y);
		else
			lb_addr_parse("0.0.0.0", &y);
		snprintf(row, 128, "%s/%u via %s dev %s flags %u",
			 lb_addr_format(&x, a, sizeof(a)),
			 nla_get_u8(tb[LB_ATTR_PREFIXLEN]),
			 lb_addr_format(&y, b, sizeof(b)),
			 nla_get_string(tb[LB_ATTR_IFNAME]),
			 nla_get_u32(tb[LB_ATTR_FLAGS]));
		break;
	case LB_MSG_NEIGH_GET:
		lbmsg_get_addr(tb[LB_ATTR_ADDR], &x);
		snprintf(row, 128, "%s %s %s state %u",
			 lb_addr_format(&x, a, sizeof(a)),
			 tb[LB_ATTR_LLADDR] != NULL
				 ? lb_mac_format(nla_data(tb[LB_ATTR_LLADDR]),
						 mac, sizeof(mac))
				 : "-",
			 nla_get_string(tb[LB_ATTR_IFNAME]),
			 nla_get_u8(tb[LB_ATTR_STATE]));
		break;
	case LB_MSG_PORT_GET:
		snprintf(row, 128, "%s %s mtu %u",
			 nla_get_string(tb[LB_ATTR_IFNAME]),
			 lb_mac_format(nla_data(tb[LB_ATTR_LLADDR]), mac,
				       sizeof(mac)),
			 nla_get_u32(tb[LB_ATTR_MTU]));
		break;
	case LB_MSG_SERVICE_GET:
		snprintf(row, 128,
			 "port %u max_conns %u conn_rate %u "
			 "syn_src_rate %u",
			 nla_get_u16(tb[LB_ATTR_VPORT]),
			 u32_or_0(tb, LB_ATTR_MAX_CONNS),
			 u32_or_0(tb, LB_ATTR_CONN_RATE),
			 u32_or_0(tb, LB_ATTR_SYN_SRC_RATE));
		break;
	case LB_MSG_BACKEND_GET:
		lbmsg_get_addr(tb[LB_ATTR_ADDR], &x);
		snprintf(row, 128, "port %u %s u %u l %u",
			 nla_get_u16(tb[LB_ATTR_VPORT]),
			 lb_addr_format(&x, a, sizeof(a)),
			 u32_or_0(tb, LB_ATTR_U_THRESH),
			 u32_or_0(tb, LB_ATTR_L_THRESH));
		break;
	case LB_MSG_CONFIG_GET:
		snprintf(row, 128, "udp %u syn_recv %u flags %u",
			 nla_get_u32(tb[LB_ATTR_TMO_UDP]),
			 nla_get_u32(tb[LB_ATTR_TMO_SYN_RECV]),
			 nla_get_u32(tb[LB_ATTR_FLAGS]));
		break;
	default:
		break;
	}
	return 0;
}

static bool
dump_has(struct dp_run *r, uint16_t type, const char *row)
{
	struct dump d = { .n = 0 };

	if (dp_req(r, lbmsg_new(type, NLM_F_DUMP), dump_part, &d) != 0)
		return false;
	for (int i = 0; i < d.n; i++)
		if (strcmp(d.rows[i], row) == 0)
			return true;
	if (getenv("DP_TEST_VERBOSE") != NULL)
		for (int i = 0; i < d.n; i++)
			fprintf(stderr, "  %s: '%s'\n", lbmsg_type_name(type),
				d.rows[i]);
	return false;
}

/* ---- the table ------------------------------------------------------------ */

enum step_kind { REQ, HAS, LACKS };

struct step {
	const char *desc;
	enum step_kind kind;
	struct nl_msg *(*build)(void);
	int err;	 /* REQ: expected ack error */
	uint16_t dump;	 /* HAS/LACKS: dump type */
	const char *row; /* HAS/LACKS: dump row */
};

#define B(name, expr)                                                          \
	static struct nl_msg *name(void)                                       \
	{                                                                      \
		return expr;                                                   \
	}

B(pa_unknown_port, portaddr(LB_MSG_PORTADDR_NEW, "nope", "10.9.0.1", 24))
B(pa_dup, portaddr(LB_MSG_PORTADDR_NEW, "p0", "10.0.0.1", 24))
B(pa_plen33, portaddr(LB_MSG_PORTADDR_NEW, "p0", "10.0.0.9", 33))
B(pa_v6, portaddr(LB_MSG_PORTADDR_NEW, "p0", "2001:db8::1", 64))
B(pa_overlap, portaddr(LB_MSG_PORTADDR_NEW, "p0", "10.1.0.9", 16))
B(pa_new, portaddr(LB_MSG_PORTADDR_NEW, "p0", "10.2.0.1", 24))
B(pa_del, portaddr(LB_MSG_PORTADDR_DEL, "p0", "10.2.0.1", -1))
B(pa_del_wrong_port, portaddr(LB_MSG_PORTADDR_DEL, "p1", "10.0.0.1", -1))
B(rt_new, route(LB_MSG_ROUTE_NEW, "192.168.0.0", 16, "10.0.0.254", NULL))
B(rt_new_dev, route(LB_MSG_ROUTE_NEW, "172.16.0.0", 12, "10.1.0.254", "p1"))
B(rt_bad_plen, route(LB_MSG_ROUTE_NEW, "192.169.0.0", 33, "10.0.0.254", NULL))
B(rt_host_bits, route(LB_MSG_ROUTE_NEW, "192.169.1.1", 16, "10.0.0.254", NULL))
B(rt_unreach, route(LB_MSG_ROUTE_NEW, "192.170.0.0", 16, "10.9.9.9", NULL))
B(rt_no_dev, route(LB_MSG_ROUTE_NEW, "192.171.0.0", 16, "10.0.0.254", "nope"))
B(rt_no_gw, route(LB_MSG_ROUTE_NEW, "192.172.0.0", 16, NULL, NULL))
B(rt_del, route(LB_MSG_ROUTE_DEL, "192.168.0.0", 16, NULL, NULL))
B(rt_del_connected, route(LB_MSG_ROUTE_DEL, "10.0.0.0", 24, NULL, NULL))
B(nb_new, neigh(LB_MSG_NEIGH_NEW, "10.0.0.7", "02:aa:bb:cc:dd:ee", "p0"))
B(nb_no_dev, neigh(LB_MSG_NEIGH_NEW, "10.0.0.8", "02:aa:bb:cc:dd:ee", "x"))
B(nb_mcast, neigh(LB_MSG_NEIGH_NEW, "10.0.0.8", "01:00:5e:00:00:01", "p0"))
B(nb_del, neigh(LB_MSG_NEIGH_DEL, "10.0.0.7", NULL, NULL))
B(cf_zero, config(LB_ATTR_TMO_UDP, 0))
B(cf_big, config(LB_ATTR_TMO_SYN_RECV, 8 * 86400))
B(cf_udp, config(LB_ATTR_TMO_UDP, 60))
/* persistence: at most 30 days (2592000 s), the control plane's limit */
B(sv_persist_max, service(80, 2592000))
B(sv_persist_big, service(81, 2592001))
B(sv_persist_huge, service(82, UINT32_MAX))
/* connection limits (docs/dataplane.md): kept, changed, lifted, bounded */
B(lim_svc, svc_limit(LB_MSG_SERVICE_NEW, 90, LB_ATTR_MAX_CONNS, 1000))
B(lim_rate, svc_limit(LB_MSG_SERVICE_SET, 90, LB_ATTR_CONN_RATE, 50))
B(lim_src, svc_limit(LB_MSG_SERVICE_SET, 90, LB_ATTR_SYN_SRC_RATE, 20))
B(lim_lift, svc_limit(LB_MSG_SERVICE_SET, 90, LB_ATTR_MAX_CONNS, 0))
B(lim_big, svc_limit(LB_MSG_SERVICE_SET, 90, LB_ATTR_CONN_RATE, 100000001))
B(be_new, be_thresh(LB_MSG_BACKEND_NEW, 90, 100, 75))
B(be_upper_only, be_thresh(LB_MSG_BACKEND_SET, 90, 200, ~0u))
B(be_lower_above, be_thresh(LB_MSG_BACKEND_SET, 90, ~0u, 201))
B(be_upper_below, be_thresh(LB_MSG_BACKEND_SET, 90, 74, ~0u))
B(be_both_zero, be_thresh(LB_MSG_BACKEND_SET, 90, 0, 0))
B(st_zero, lbmsg_new(LB_MSG_STATS_ZERO, 0))
B(conn_get, lbmsg_new(LB_MSG_CONN_GET, NLM_F_DUMP))

static const struct step steps[] = {
	{ "initial address", HAS, NULL, 0, LB_MSG_PORTADDR_GET,
	  "p0 10.0.0.1/24" },
	{ "connected route", HAS, NULL, 0, LB_MSG_ROUTE_GET,
	  "10.0.0.0/24 via 0.0.0.0 dev p0 flags 1" },
	{ "port list", HAS, NULL, 0, LB_MSG_PORT_GET,
	  "p1 02:00:00:00:01:01 mtu 1500" },
	{ "portaddr on an unknown port", REQ, pa_unknown_port, -ENODEV },
	{ "portaddr duplicate", REQ, pa_dup, -EEXIST },
	{ "portaddr /33", REQ, pa_plen33, -EINVAL },
	{ "portaddr IPv6", REQ, pa_v6, -EINVAL },
	{ "portaddr overlapping p1", REQ, pa_overlap, -EINVAL },
	{ "portaddr add", REQ, pa_new, 0 },
	{ "portaddr listed", HAS, NULL, 0, LB_MSG_PORTADDR_GET,
	  "p0 10.2.0.1/24" },
	{ "its connected route", HAS, NULL, 0, LB_MSG_ROUTE_GET,
	  "10.2.0.0/24 via 0.0.0.0 dev p0 flags 1" },
	{ "portaddr del", REQ, pa_del, 0 },
	{ "portaddr gone", LACKS, NULL, 0, LB_MSG_PORTADDR_GET,
	  "p0 10.2.0.1/24" },
	{ "connected route gone", LACKS, NULL, 0, LB_MSG_ROUTE_GET,
	  "10.2.0.0/24 via 0.0.0.0 dev p0 flags 1" },
	{ "portaddr del again", REQ, pa_del, -ENOENT },
	{ "portaddr del on the wrong port", REQ, pa_del_wrong_port, -ENOENT },
	{ "route add", REQ, rt_new, 0 },
	{ "route listed, port from the gateway", HAS, NULL, 0, LB_MSG_ROUTE_GET,
	  "192.168.0.0/16 via 10.0.0.254 dev p0 flags 0" },
	{ "gateway being resolved", HAS, NULL, 0, LB_MSG_NEIGH_GET,
	  "10.0.0.254 - p0 state 1" },
	{ "route duplicate", REQ, rt_new, -EEXIST },
	{ "route with dev", REQ, rt_new_dev, 0 },
	{ "route with dev listed", HAS, NULL, 0, LB_MSG_ROUTE_GET,
	  "172.16.0.0/12 via 10.1.0.254 dev p1 flags 0" },
	{ "route /33", REQ, rt_bad_plen, -EINVAL },
	{ "route with host bits", REQ, rt_host_bits, -EINVAL },
	{ "route, gateway off-link", REQ, rt_unreach, -ENETUNREACH },
	{ "route on an unknown port", REQ, rt_no_dev, -ENODEV },
	{ "route without gateway or port", REQ, rt_no_gw, -EINVAL },
	{ "route del", REQ, rt_del, 0 },
	{ "route gone", LACKS, NULL, 0, LB_MSG_ROUTE_GET,
	  "192.168.0.0/16 via 10.0.0.254 dev p0 flags 0" },
	{ "route del again", REQ, rt_del, -ENOENT },
	{ "connected route is not deletable", REQ, rt_del_connected, -EPERM },
	{ "neigh add", REQ, nb_new, 0 },
	{ "neigh listed permanent", HAS, NULL, 0, LB_MSG_NEIGH_GET,
	  "10.0.0.7 02:aa:bb:cc:dd:ee p0 state 4" },
	{ "neigh duplicate", REQ, nb_new, -EEXIST },
	{ "neigh on an unknown port", REQ, nb_no_dev, -ENODEV },
	{ "neigh multicast MAC", REQ, nb_mcast, -EINVAL },
	{ "neigh del", REQ, nb_del, 0 },
	{ "neigh gone", LACKS, NULL, 0, LB_MSG_NEIGH_GET,
	  "10.0.0.7 02:aa:bb:cc:dd:ee p0 state 4" },
	{ "neigh del again", REQ, nb_del, -ENOENT },
	{ "config udp timeout 0", REQ, cf_zero, -ERANGE },
	{ "config syn_recv above the maximum", REQ, cf_big, -ERANGE },
	{ "config defaults", HAS, NULL, 0, LB_MSG_CONFIG_GET,
	  "udp 300 syn_recv 30 flags 0" },
	{ "config udp timeout 60", REQ, cf_udp, 0 },
	{ "config read back", HAS, NULL, 0, LB_MSG_CONFIG_GET,
	  "udp 60 syn_recv 30 flags 0" },
	{ "persist at the maximum", REQ, sv_persist_max, 0 },
	{ "persist above the maximum", REQ, sv_persist_big, -ERANGE },
	{ "persist that would wrap the clock", REQ, sv_persist_huge, -ERANGE },
	{ "service with max_conns", REQ, lim_svc, 0 },
	{ "service's conn_rate set", REQ, lim_rate, 0 },
	{ "service's syn_src_rate set", REQ, lim_src, 0 },
	{ "limits read back, each kept", HAS, NULL, 0, LB_MSG_SERVICE_GET,
	  "port 90 max_conns 1000 conn_rate 50 syn_src_rate 20" },
	{ "conn_rate above the maximum", REQ, lim_big, -ERANGE },
	{ "max_conns 0 lifts it", REQ, lim_lift, 0 },
	{ "limits read back, max_conns lifted", HAS, NULL, 0,
	  LB_MSG_SERVICE_GET,
	  "port 90 max_conns 0 conn_rate 50 syn_src_rate 20" },
	{ "backend with thresholds", REQ, be_new, 0 },
	{ "thresholds read back", HAS, NULL, 0, LB_MSG_BACKEND_GET,
	  "port 90 10.1.0.5 u 100 l 75" },
	{ "upper threshold alone: the lower stays", REQ, be_upper_only, 0 },
	{ "thresholds read back, lower kept", HAS, NULL, 0, LB_MSG_BACKEND_GET,
	  "port 90 10.1.0.5 u 200 l 75" },
	{ "lower threshold above the upper", REQ, be_lower_above, -ERANGE },
	{ "upper threshold below the kept lower", REQ, be_upper_below,
	  -ERANGE },
	{ "thresholds unchanged by refusals", HAS, NULL, 0, LB_MSG_BACKEND_GET,
	  "port 90 10.1.0.5 u 200 l 75" },
	{ "thresholds cleared", REQ, be_both_zero, 0 },
	{ "thresholds read back, none", HAS, NULL, 0, LB_MSG_BACKEND_GET,
	  "port 90 10.1.0.5 u 0 l 0" },
	{ "stats zero", REQ, st_zero, 0 },
	{ "conn dump of an idle dataplane", REQ, conn_get, 0 },
};

static int
write_empty_pcap(struct dp_run *r, const char *name)
{
	pcap_t *pd = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d = pcap_dump_open(pd, dp_run_file(r, name));

	if (d == NULL)
		return -1;
	pcap_dump_close(d);
	pcap_close(pd);
	return 0;
}

/* ---- CONN_GET filters: a second dataplane with connections -------------- */

static const char ini_conns[] =
	"[dataplane]\n"
	"wait_config = yes\n"
	"max_services = 16\n"
	"max_backends = 64\n"
	"mbufs = 4095\n"
	"arp_retry_ms = 60000\n"
	"[port p0]\n"
	"devargs = net_pcap0,rx_pcap=@DIR@/in0.pcap,tx_pcap=@DIR@/out0.pcap\n"
	"mac = 02:00:00:00:00:01\n"
	"address = 10.0.0.1/24\n"
	"[port p1]\n"
	"devargs = net_pcap1,rx_pcap=@DIR@/in1.pcap,tx_pcap=@DIR@/out1.pcap\n"
	"mac = 02:00:00:00:01:01\n"
	"address = 10.1.0.1/24\n";

static const char ini_bulk[] =
	"[dataplane]\n"
	"wait_config = yes\n"
	"max_services = 16\n"
	"max_backends = 64\n"
	"mbufs = 8191\n"
	"arp_retry_ms = 60000\n"
	"[port p0]\n"
	"devargs = net_pcap0,rx_pcap=@DIR@/in0.pcap,tx_pcap=@DIR@/out0.pcap\n"
	"mac = 02:00:00:00:00:01\n"
	"address = 10.0.0.1/24\n"
	"[port p1]\n"
	"devargs = net_pcap1,rx_pcap=@DIR@/in1.pcap,tx_pcap=@DIR@/out1.pcap\n"
	"mac = 02:00:00:00:01:01\n"
	"address = 10.1.0.1/24\n";

/* SYNs from client i: 10.0.0.2 ports 40000.. to :80, 10.0.0.3 to :81 */
#define NSYN_80 4
#define NSYN_81 2

static void
put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static size_t
syn_frame(uint8_t *f, const char *src, uint16_t sport, uint16_t dport)
{
	static const uint8_t dst_mac[6] = { 2, 0, 0, 0, 0, 1 };
	static const uint8_t src_mac[6] = { 2, 0, 0, 0, 0, 2 };
	uint8_t *ip = f + 14, *th = ip + 20;
	struct lb_addr s = A(src), d = A("10.0.0.100");

	memset(f, 0, 64);
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	put_be16(f + 12, 0x0800);
	ip[0] = 0x45;
	put_be16(ip + 2, 40);
	put_be16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	memcpy(ip + 12, &s.v4, 4);
	memcpy(ip + 16, &d.v4, 4);
	put_be16(ip + 10, dp_cksum(ip, 20));
	put_be16(th, sport);
	put_be16(th + 2, dport);
	th[12] = 5 << 4;
	th[13] = 0x02;
	put_be16(th + 14, 65535);
	return 14 + 40;
}

static int
write_syns(struct dp_run *r)
{
	pcap_t *pd = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d = pcap_dump_open(pd, dp_run_file(r, "in0.pcap"));
	uint8_t f[64];

	if (d == NULL)
		return -1;
	for (int i = 0; i < NSYN_80 + NSYN_81; i++) {
		struct pcap_pkthdr h = { 0 };

		h.caplen = h.len = (uint32_t)syn_frame(
			f, i < NSYN_80 ? "10.0.0.2" : "10.0.0.3",
			(uint16_t)(40000 + i), i < NSYN_80 ? 80 : 81);
		h.ts.tv_usec = i;
		pcap_dump((u_char *)d, &h, f);
	}
	pcap_dump_close(d);
	pcap_close(pd);
	return 0;
}

/* NSYN_BULK SYNs from 10.0.0.4 to :80: connections for a big dump. */
#define NSYN_BULK 3000

static int
write_bulk_syns(struct dp_run *r)
{
	pcap_t *pd = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d = pcap_dump_open(pd, dp_run_file(r, "in0.pcap"));
	uint8_t f[64];

	if (d == NULL)
		return -1;
	for (int i = 0; i < NSYN_BULK; i++) {
		struct pcap_pkthdr h = { 0 };

		h.caplen = h.len = (uint32_t)syn_frame(
			f, "10.0.0.4", (uint16_t)(10000 + i), 80);
		h.ts.tv_usec = i % 1000000;
		pcap_dump((u_char *)d, &h, f);
	}
	pcap_dump_close(d);
	pcap_close(pd);
	return 0;
}

static struct nl_msg *
dr_service(uint16_t vport, const char *backend, uint16_t bport)
{
	struct nl_msg *m = lbmsg_new(LB_MSG_SERVICE_NEW, 0);
	struct lb_addr vip = A("10.0.0.100"), b = A(backend);
	struct nlattr *list, *rec;

	lbmsg_put_svc_key(m, IPPROTO_TCP, &vip, vport);
	nla_put_u8(m, LB_ATTR_MODE, LB_MODE_DR);
	nla_put_string(m, LB_ATTR_SCHED, "rr");
	list = nla_nest_start(m, LB_ATTR_BACKENDS);
	rec = nla_nest_start(m, LB_ATTR_BACKEND);
	lbmsg_put_addr(m, LB_ATTR_ADDR, &b);
	nla_put_u16(m, LB_ATTR_PORT, bport);
	nla_put_u32(m, LB_ATTR_WEIGHT, 1);
	nla_nest_end(m, rec);
	nla_nest_end(m, list);
	return m;
}

struct conn_row {
	uint32_t caddr, laddr, baddr;
	uint16_t cport, lport, bport, lcore;
	uint8_t state;
};

struct conn_rows {
	struct conn_row r[64];
	int n;
};

static int
conn_part(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	struct conn_rows *d = arg;
	struct conn_row *c;
	struct lb_addr a;

	(void)nlh;
	if (d->n == 64)
		return 0;
	c = &d->r[d->n++];
	memset(c, 0, sizeof(*c));
	if (tb[LB_ATTR_CADDR] && lbmsg_get_addr(tb[LB_ATTR_CADDR], &a) == 0)
		c->caddr = a.v4;
	if (tb[LB_ATTR_LADDR] && lbmsg_get_addr(tb[LB_ATTR_LADDR], &a) == 0)
		c->laddr = a.v4;
	if (tb[LB_ATTR_ADDR] && lbmsg_get_addr(tb[LB_ATTR_ADDR], &a) == 0)
		c->baddr = a.v4;
	if (tb[LB_ATTR_CPORT])
		c->cport = nla_get_u16(tb[LB_ATTR_CPORT]);
	if (tb[LB_ATTR_LPORT])
		c->lport = nla_get_u16(tb[LB_ATTR_LPORT]);
	if (tb[LB_ATTR_PORT])
		c->bport = nla_get_u16(tb[LB_ATTR_PORT]);
	if (tb[LB_ATTR_LCORE])
		c->lcore = nla_get_u16(tb[LB_ATTR_LCORE]);
	if (tb[LB_ATTR_STATE])
		c->state = nla_get_u8(tb[LB_ATTR_STATE]);
	return 0;
}

/* Does row c carry value v (as put in the request) for attribute attr? */
static bool
row_has(const struct conn_row *c, int attr, uint32_t v)
{
	switch (attr) {
	case LB_ATTR_CADDR:
		return c->caddr == v;
	case LB_ATTR_LADDR:
		return c->laddr == v;
	case LB_ATTR_ADDR:
		return c->baddr == v;
	case LB_ATTR_CPORT:
		return c->cport == v;
	case LB_ATTR_LPORT:
		return c->lport == v;
	case LB_ATTR_PORT:
		return c->bport == v;
	case LB_ATTR_STATE:
		return c->state == v;
	case LB_ATTR_LCORE:
		return c->lcore == v;
	}
	return false;
}

static struct nl_msg *
conn_get_filtered(int attr, uint32_t v)
{
	struct nl_msg *m = lbmsg_new(LB_MSG_CONN_GET, NLM_F_DUMP);
	struct lb_addr a = { .family = AF_INET, .v4 = v };

	switch (attr) {
	case LB_ATTR_CADDR:
	case LB_ATTR_LADDR:
	case LB_ATTR_ADDR:
		lbmsg_put_addr(m, attr, &a);
		break;
	case LB_ATTR_STATE:
		nla_put_u8(m, attr, (uint8_t)v);
		break;
	default:
		nla_put_u16(m, attr, (uint16_t)v);
	}
	return m;
}

/*
 * Every CONN_GET filter, each with a value some connections have (the
 * first one's) and with one none has: the filtered dump holds exactly
 * the rows of the full dump that match.
 */
static void
check_conn_filters(struct dp_run *r)
{
	static const struct {
		const char *name;
		int attr;
	} f[] = {
		{ "CADDR", LB_ATTR_CADDR }, { "CPORT", LB_ATTR_CPORT },
		{ "LADDR", LB_ATTR_LADDR }, { "LPORT", LB_ATTR_LPORT },
		{ "ADDR", LB_ATTR_ADDR },   { "PORT", LB_ATTR_PORT },
		{ "STATE", LB_ATTR_STATE }, { "LCORE", LB_ATTR_LCORE },
	};
	static struct conn_rows all, got;
	const int want_all = NSYN_80 + NSYN_81;

	for (int tries = 0; tries < 100; tries++) {
		all.n = 0;
		CHECK(dp_req(r, lbmsg_new(LB_MSG_CONN_GET, NLM_F_DUMP),
			     conn_part, &all) == 0,
		      "CONN_GET");
		if (all.n >= want_all)
			break;
		usleep(50000);
	}
	CHECK(all.n == want_all, "CONN_GET: %d connections, expected %d", all.n,
	      want_all);
	if (all.n == 0)
		return;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		const struct conn_row *c0 = &all.r[all.n - 1];
		uint32_t present = f[i].attr == LB_ATTR_CADDR	? c0->caddr
				   : f[i].attr == LB_ATTR_LADDR ? c0->laddr
				   : f[i].attr == LB_ATTR_ADDR	? c0->baddr
				   : f[i].attr == LB_ATTR_CPORT ? c0->cport
				   : f[i].attr == LB_ATTR_LPORT ? c0->lport
				   : f[i].attr == LB_ATTR_PORT	? c0->bport
				   : f[i].attr == LB_ATTR_STATE ? c0->state
								: c0->lcore;
		/* a value no row has: LCORE 999, state 10, 10.9.9.9, port 9 */
		uint32_t absent = f[i].attr == LB_ATTR_LCORE   ? 999
				  : f[i].attr == LB_ATTR_STATE ? 10
				  : (f[i].attr == LB_ATTR_CADDR ||
				     f[i].attr == LB_ATTR_LADDR ||
				     f[i].attr == LB_ATTR_ADDR)
					  ? A("10.9.9.9").v4
					  : 9;
		uint32_t vals[2] = { present, absent };

		for (int k = 0; k < 2; k++) {
			int want = 0;

			for (int j = 0; j < all.n; j++)
				want += row_has(&all.r[j], f[i].attr, vals[k]);
			got.n = 0;
			CHECK(dp_req(r, conn_get_filtered(f[i].attr, vals[k]),
				     conn_part, &got) == 0,
			      "CONN_GET %s", f[i].name);
			CHECK(got.n == want,
			      "CONN_GET filtered by %s (%s value): %d rows, "
			      "expected %d",
			      f[i].name, k == 0 ? "a present" : "an absent",
			      got.n, want);
			for (int j = 0; j < got.n; j++)
				if (!row_has(&got.r[j], f[i].attr, vals[k])) {
					CHECK(0,
					      "CONN_GET %s: row %d does "
					      "not match",
					      f[i].name, j);
					break;
				}
		}
	}
	/* two filters together: client 10.0.0.3 and backend port 8081 */
	struct nl_msg *m = conn_get_filtered(LB_ATTR_CADDR, A("10.0.0.3").v4);

	nla_put_u16(m, LB_ATTR_PORT, 8081);
	got.n = 0;
	CHECK(dp_req(r, m, conn_part, &got) == 0, "CONN_GET CADDR+PORT");
	CHECK(got.n == NSYN_81, "CONN_GET CADDR+PORT: %d rows, expected %d",
	      got.n, NSYN_81);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Read a dump's answer on fd until the ack or EOF (5 s at most): the
 * number of parts; *done and *ack are the NLMSG_DONE / ack errors, or 1
 * when that message did not come.
 */
static void
read_dump(int fd, int *parts, int *done, int *ack)
{
	static uint8_t buf[LBMSG_MAX_SIZE];
	struct timeval tv = { .tv_sec = 5 };

	*parts = 0;
	*done = *ack = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		const struct nlmsghdr *h = (const struct nlmsghdr *)buf;

		if (n < (ssize_t)sizeof(*h))
			return; /* EOF, timeout */
		if (h->nlmsg_type == NLMSG_DONE && n >= NLMSG_LENGTH(4)) {
			memcpy(done, NLMSG_DATA(h), sizeof(*done));
		} else if (h->nlmsg_type == NLMSG_ERROR &&
			   n >= (ssize_t)NLMSG_LENGTH(sizeof(int))) {
			memcpy(ack, NLMSG_DATA(h), sizeof(*ack));
			return;
		} else if (h->nlmsg_type == LB_MSG_CONN_GET) {
			(*parts)++;
		}
	}
}

/*
 * A client asks for a dump of NSYN_BULK connections and never reads it.
 * Meanwhile another client's requests are answered at once (each within
 * 500 ms, for 3 s): the control thread never waits for the slow reader.
 * Then the slow client reads what it got: parts, then an error or the end.
 */
static void
check_unread_dump(struct dp_run *r)
{
	struct nl_msg *m = lbmsg_new(LB_MSG_CONN_GET, NLM_F_DUMP);
	struct nlmsghdr *h = nlmsg_hdr(m);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t t0, worst = 0;
	int fd, n = 0, slow = 0;

	/* every SYN received (and its connection made in that burst) */
	CHECK(dp_stat_wait(r, "p0", "rx_packets_total", NSYN_BULK, 20000) ==
		      NSYN_BULK,
	      "bulk SYNs not received");
	usleep(200000);
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/dp.sock", r->dir) >=
	    (int)sizeof(sa.sun_path)) {
		CHECK(0, "socket path too long");
		return;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
	      "second client: %s", strerror(errno));
	h->nlmsg_seq = 77;
	CHECK(send(fd, h, h->nlmsg_len, 0) == (ssize_t)h->nlmsg_len,
	      "sending CONN_GET");
	nlmsg_free(m);
	t0 = mono_ms();
	while (mono_ms() - t0 < 3000) {
		int64_t a = mono_ms(), took;

		CHECK(dp_req(r, lbmsg_new(LB_MSG_PORT_GET, NLM_F_DUMP), NULL,
			     NULL) == 0,
		      "PORT_GET while a dump is not read");
		took = mono_ms() - a;
		worst = took > worst ? took : worst;
		slow += took > 500;
		n++;
		usleep(100000);
	}
	CHECK(slow == 0,
	      "%d of %d requests took over 500 ms (worst %lld ms) while "
	      "another client did not read its dump",
	      slow, n, (long long)worst);
	printf("unread dump: %d requests served meanwhile, worst %lld ms\n", n,
	       (long long)worst);
	/* now read: every connection, then NLMSG_DONE and a 0 ack */
	int parts, done, ack;

	read_dump(fd, &parts, &done, &ack);
	CHECK(parts == NSYN_BULK && done == 0 && ack == 0,
	      "late reader: %d parts (expected %d), done %d, ack %d", parts,
	      NSYN_BULK, done, ack);
	close(fd);
	/* a client that reads nothing for longer than the stall limit is hung
	 * up on: it finds a part of the dump, then EOF, no DONE */
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
	      "third client: %s", strerror(errno));
	m = lbmsg_new(LB_MSG_CONN_GET, NLM_F_DUMP);
	h = nlmsg_hdr(m);
	CHECK(send(fd, h, h->nlmsg_len, 0) == (ssize_t)h->nlmsg_len,
	      "sending CONN_GET");
	nlmsg_free(m);
	sleep(7);
	read_dump(fd, &parts, &done, &ack);
	CHECK(parts > 0 && parts < NSYN_BULK && done == 1 && ack == 1,
	      "stalled reader: %d parts, done %d, ack %d (expected some "
	      "parts, then EOF)",
	      parts, done, ack);
	close(fd);
	CHECK(dp_req(r, lbmsg_new(LB_MSG_PORT_GET, NLM_F_DUMP), NULL, NULL) ==
		      0,
	      "PORT_GET after the stalled reader");
}

/*
 * Start another dataplane on ini with write_in's frames on port 0 and
 * none on port 1, add the DR service :80 (and :81 when two), apply
 * CONFIG_SET, run check on it and stop it; name says which in messages.
 */
static void
run_extra(const char *bin, const char *name, const char *ini,
	  int (*write_in)(struct dp_run *r), bool two,
	  void (*check)(struct dp_run *r))
{
	static struct dp_run r;
	int status;

	dp_run_init(&r);
	if (write_in(&r) < 0 || write_empty_pcap(&r, "in1.pcap") < 0 ||
	    dp_run_start(&r, bin, ini) < 0) {
		CHECK(0, "starting the %s dataplane", name);
		return;
	}
	CHECK(dp_req(&r, dr_service(80, "10.1.0.10", 8080), NULL, NULL) == 0,
	      "service :80");
	if (two)
		CHECK(dp_req(&r, dr_service(81, "10.1.0.11", 8081), NULL,
			     NULL) == 0,
		      "service :81");
	CHECK(dp_req(&r, lbmsg_new(LB_MSG_CONFIG_SET, 0), NULL, NULL) == 0,
	      "CONFIG_SET");
	check(&r);
	status = dp_run_stop(&r);
	CHECK(status == 0, "%s edgelb-dp exit status %d", name, status);
	if (dp_failures > 0)
		dp_run_dump_log(&r);
}

int
main(int argc, char **argv)
{
	static struct dp_stats st;
	static struct dp_run r;
	size_t n = sizeof(steps) / sizeof(steps[0]);
	int status;

	if (argc != 2) {
		fprintf(stderr, "usage: %s EDGELB_DP_BINARY\n", argv[0]);
		return 2;
	}
	alarm(120);
	dp_run_init(&r);
	if (write_empty_pcap(&r, "in0.pcap") < 0 ||
	    write_empty_pcap(&r, "in1.pcap") < 0 ||
	    dp_run_start(&r, argv[1], ini) < 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		const struct step *s = &steps[i];
		int rc;

		switch (s->kind) {
		case REQ:
			rc = dp_req(&r, s->build(), NULL, NULL);
			CHECK(rc == s->err, "%s: got %d (%s), expected %d",
			      s->desc, rc, strerror(-rc), s->err);
			break;
		case HAS:
			CHECK(dump_has(&r, s->dump, s->row), "%s: no row '%s'",
			      s->desc, s->row);
			break;
		case LACKS:
			CHECK(!dump_has(&r, s->dump, s->row),
			      "%s: row '%s' still there", s->desc, s->row);
			break;
		}
	}
	CHECK(dp_stats_get(&r, &st) == 0, "STATS_GET");
	if (getenv("DP_TEST_VERBOSE") != NULL)
		for (unsigned int j = 0; j < st.n; j++)
			fprintf(stderr, "  %s %s = %lu\n", st.c[j].scope,
				st.c[j].name, (unsigned long)st.c[j].value);
	CHECK(dp_stat(&st, "lcore", "ctrl_requests_total") > 0,
	      "requests counted after STATS_ZERO");
	/* the worker may be descheduled for a moment on a busy machine */
	CHECK(dp_stat_wait(&r, "lcore", "iterations_total", 1, 5000) > 0,
	      "worker iterations counted");
	status = dp_run_stop(&r);
	CHECK(status == 0, "edgelb-dp exit status %d", status);
	if (dp_failures > 0)
		dp_run_dump_log(&r);
	run_extra(argv[1], "second", ini_conns, write_syns, true,
		  check_conn_filters);
	run_extra(argv[1], "third", ini_bulk, write_bulk_syns, false,
		  check_unread_dump);
	printf("%s: %zu steps, %d failures\n", argv[0], n, dp_failures);
	return dp_failures == 0 ? 0 : 1;
}
