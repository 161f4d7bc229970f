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
#include <unistd.h>

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
	printf("%s: %zu steps, %d failures\n", argv[0], n, dp_failures);
	return dp_failures == 0 ? 0 : 1;
}
