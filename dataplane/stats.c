/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Counter aggregation for STATS_GET / STATS_ZERO. See stats.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "edgelb/log.h"
#include "dp.h"
#include "neigh.h"
#include "port.h"
#include "stats.h"
#include "svc.h"
#include "xdp.h"

static const char *const drop_names[DP_DROP_MAX] = {
	[DP_DROP_TRUNCATED] = "truncated",
	[DP_DROP_BAD_L2] = "bad_l2",
	[DP_DROP_OTHER_HOST] = "other_host",
	[DP_DROP_BAD_VERSION] = "bad_version",
	[DP_DROP_BAD_IHL] = "bad_ihl",
	[DP_DROP_BAD_TOTAL_LEN] = "bad_total_len",
	[DP_DROP_BAD_IP_CSUM] = "bad_ip_csum",
	[DP_DROP_BAD_SADDR] = "bad_saddr",
	[DP_DROP_TTL_EXCEEDED] = "ttl_exceeded",
	[DP_DROP_FRAGMENT] = "fragment",
	[DP_DROP_BAD_L4] = "bad_l4",
	[DP_DROP_NOT_OURS] = "not_ours",
	[DP_DROP_NO_SERVICE] = "no_service",
	[DP_DROP_HOST_UNSUPPORTED] = "host_unsupported",
	[DP_DROP_ICMP_UNSUPPORTED] = "icmp_unsupported",
	[DP_DROP_BAD_ICMP_CSUM] = "bad_icmp_csum",
	[DP_DROP_IPV6_UNSUPPORTED] = "ipv6_unsupported",
	[DP_DROP_ARP_BAD] = "arp_bad",
	[DP_DROP_ARP_NOT_OURS] = "arp_not_ours",
	[DP_DROP_NO_ROUTE] = "no_route",
	[DP_DROP_NEIGH_QUEUE_FULL] = "neigh_queue_full",
	[DP_DROP_NEIGH_FAILED] = "neigh_failed",
	[DP_DROP_CTRL_RING_FULL] = "ctrl_ring_full",
	[DP_DROP_TX_FULL] = "tx_full",
	[DP_DROP_FWD_UNIMPLEMENTED] = "fwd_unimplemented",
	[DP_DROP_CONN_TABLE_FULL] = "conn_table_full",
	[DP_DROP_NO_CONN] = "no_conn",
	[DP_DROP_NO_BACKEND] = "no_backend",
	[DP_DROP_BACKEND_GONE] = "backend_gone",
	[DP_DROP_NO_LOCAL_PORT] = "no_local_port",
	[DP_DROP_HANDOFF_FULL] = "handoff_full",
	[DP_DROP_FRAG_NEEDED] = "frag_needed",
	[DP_DROP_TOO_BIG] = "too_big",
	[DP_DROP_NO_HEADROOM] = "no_headroom",
	[DP_DROP_PROXY_OVERLAP] = "proxy_overlap",
	[DP_DROP_NAT_TUPLE_COLLISION] = "nat_tuple_collision",
	[DP_DROP_RST_OUT_OF_WINDOW] = "rst_out_of_window",
	[DP_DROP_ICMP_ERR_BAD_CSUM] = "icmp_err_bad_csum",
	[DP_DROP_ICMP_ERR_FRAGMENT] = "icmp_err_fragment",
	[DP_DROP_ICMP_ERR_SHORT] = "icmp_err_short",
	[DP_DROP_ARP_UNSOLICITED] = "arp_unsolicited",
	[DP_DROP_ARP_BAD_SHA] = "arp_bad_sender_mac",
	[DP_DROP_VLAN_OTHER] = "vlan_other",
	[DP_DROP_VLAN_UNTAGGED] = "vlan_untagged",
	[DP_DROP_VLAN_TAGGED] = "vlan_tagged",
	[DP_DROP_QINQ] = "qinq",
	[DP_DROP_SVC_CONN_LIMIT] = "svc_conn_limit",
	[DP_DROP_SVC_RATE_LIMIT] = "svc_rate_limit",
	[DP_DROP_SYN_SRC_LIMIT] = "syn_src_limit",
	[DP_DROP_BACKEND_OVERLOADED] = "backend_overloaded",
	[DP_DROP_ICMP_RATELIMITED] = "icmp_ratelimited",
	[DP_DROP_SYNPROXY_BAD_COOKIE] = "synproxy_bad_cookie",
	[DP_DROP_SYNPROXY_PENDING] = "synproxy_pending",
	[DP_DROP_SYNPROXY_NO_MBUF] = "synproxy_no_mbuf",
	[DP_DROP_FRAG_TINY] = "frag_tiny",
	[DP_DROP_FRAG_SHORT] = "frag_short",
	[DP_DROP_FRAG_TOO_BIG] = "frag_too_big",
	[DP_DROP_FRAG_BAD] = "frag_bad",
	[DP_DROP_FRAG_TABLE_FULL] = "frag_table_full",
	[DP_DROP_FRAG_TIMEOUT] = "frag_timeout",
	[DP_DROP_FRAG_NOMEM] = "frag_nomem",
};

/* What the counters read at the last STATS_ZERO. */
struct stats_base {
	struct stats_port port[DP_MAX_WORKERS][DP_MAX_PORTS];
	struct stats_lcore lcore[DP_MAX_WORKERS];
	struct stats_icmp icmp[DP_MAX_WORKERS];
	struct stats_synproxy sp[DP_MAX_WORKERS];
	struct stats_frag frag[DP_MAX_WORKERS];
	uint64_t drops[DP_MAX_WORKERS][DP_DROP_MAX];
	uint64_t ctrl_drops[DP_DROP_MAX];
	struct rte_eth_stats hw[DP_MAX_PORTS];
	struct lbmsg_server_stats srv;
};

const char *
stats_drop_name(enum dp_drop d)
{
	/* a reason added to the enum without a name still dumps cleanly */
	if ((unsigned int)d >= DP_DROP_MAX || drop_names[d] == NULL)
		return "unnamed";
	return drop_names[d];
}

int
stats_init(struct dp_ctx *dp)
{
	dp->stats_base = calloc(1, sizeof(*dp->stats_base));
	return dp->stats_base == NULL ? -ENOMEM : 0;
}

void
stats_fini(struct dp_ctx *dp)
{
	free(dp->stats_base);
	dp->stats_base = NULL;
}

uint64_t
stats_drop_total(struct dp_ctx *dp, enum dp_drop d)
{
	const struct stats_base *b = dp->stats_base;
	uint64_t sum = dp->ctrl_drops[d] - b->ctrl_drops[d];

	for (unsigned int i = 0; i < dp->nworkers; i++)
		sum += dp->workers[i].drops[d] - b->drops[i][d];
	return sum;
}

void
stats_zero(struct dp_ctx *dp, const struct lbmsg_server_stats *srv)
{
	struct stats_base *b = dp->stats_base;

	for (unsigned int i = 0; i < dp->nworkers; i++) {
		const struct dp_worker *w = &dp->workers[i];

		memcpy(b->port[i], w->port_st, sizeof(w->port_st));
		b->lcore[i] = w->lcore_st;
		b->icmp[i] = w->icmp_st;
		b->sp[i] = w->sp_st;
		b->frag[i] = w->frag_st;
		memcpy(b->drops[i], w->drops, sizeof(w->drops));
	}
	memcpy(b->ctrl_drops, dp->ctrl_drops, sizeof(b->ctrl_drops));
	for (unsigned int p = 0; p < dp->nports; p++)
		rte_eth_stats_get(dp->ports[p]->id, &b->hw[p]);
	neigh_zero_stats(dp->neigh);
	b->srv = *srv;
	if (dp->svc != NULL)
		svc_stats_zero(dp->svc);
	xdp_stats_zero(dp);
}

/* A counters list: put (name, value) pairs; -EMSGSIZE if full. */
struct cnt {
	const char *name;
	uint64_t v;
};

static int
send_part(struct lbmsg_req *req, uint8_t kind,
	  int (*head)(struct nl_msg *, const void *), const void *harg,
	  const struct cnt *c, size_t n)
{
	struct nl_msg *msg = lbmsg_req_part(req);
	struct nlattr *list;

	if (msg == NULL)
		return -ENOMEM;
	if (nla_put_u8(msg, LB_ATTR_STATS_KIND, kind) < 0 ||
	    (head != NULL && head(msg, harg) < 0))
		goto full;
	list = nla_nest_start(msg, LB_ATTR_COUNTERS);
	if (list == NULL)
		goto full;
	for (size_t i = 0; i < n; i++)
		if (lbmsg_put_counter(msg, c[i].name, c[i].v) < 0)
			goto full;
	nla_nest_end(msg, list);
	return lbmsg_req_send(req, msg);
full:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static int
port_head(struct nl_msg *msg, const void *arg)
{
	const struct dp_port *p = arg;

	if (nla_put_string(msg, LB_ATTR_IFNAME, p->name) < 0 ||
	    nla_put_u16(msg, LB_ATTR_PORT_ID, p->id) < 0)
		return -EMSGSIZE;
	return 0;
}

static int
lcore_head(struct nl_msg *msg, const void *arg)
{
	return nla_put_u16(msg, LB_ATTR_LCORE, *(const uint16_t *)arg);
}

static int
dump_port(struct dp_ctx *dp, struct lbmsg_req *req, unsigned int p)
{
	const struct stats_base *b = dp->stats_base;
	struct stats_port s = { 0 };
	struct rte_eth_stats hw;

	for (unsigned int i = 0; i < dp->nworkers; i++) {
		const struct stats_port *c = &dp->workers[i].port_st[p];
		const struct stats_port *z = &b->port[i][p];

		s.rx_packets += c->rx_packets - z->rx_packets;
		s.rx_bytes += c->rx_bytes - z->rx_bytes;
		s.tx_packets += c->tx_packets - z->tx_packets;
		s.tx_bytes += c->tx_bytes - z->tx_bytes;
		s.tx_dropped += c->tx_dropped - z->tx_dropped;
	}
	if (rte_eth_stats_get(dp->ports[p]->id, &hw) != 0)
		memset(&hw, 0, sizeof(hw));
	const struct rte_eth_stats *h = &b->hw[p];
	const struct cnt c[] = {
		{ "rx_packets_total", s.rx_packets },
		{ "rx_bytes_total", s.rx_bytes },
		{ "tx_packets_total", s.tx_packets },
		{ "tx_bytes_total", s.tx_bytes },
		{ "tx_dropped_total", s.tx_dropped },
		{ "hw_rx_packets_total", hw.ipackets - h->ipackets },
		{ "hw_rx_bytes_total", hw.ibytes - h->ibytes },
		{ "hw_tx_packets_total", hw.opackets - h->opackets },
		{ "hw_tx_bytes_total", hw.obytes - h->obytes },
		{ "rx_missed_total", hw.imissed - h->imissed },
		{ "rx_errors_total", hw.ierrors - h->ierrors },
		{ "tx_errors_total", hw.oerrors - h->oerrors },
		{ "rx_nombuf_total", hw.rx_nombuf - h->rx_nombuf },
	};
	return send_part(req, LB_STATS_PORT, port_head, dp->ports[p], c,
			 RTE_DIM(c));
}

static int
dump_worker(struct dp_ctx *dp, struct lbmsg_req *req, unsigned int i)
{
	const struct dp_worker *w = &dp->workers[i];
	const struct stats_base *b = dp->stats_base;
	const struct stats_lcore *l = &w->lcore_st, *z = &b->lcore[i];
	const struct stats_icmp *ic = &w->icmp_st, *iz = &b->icmp[i];
	const struct stats_synproxy *sp = &w->sp_st, *sz = &b->sp[i];
	const struct stats_frag *fr = &w->frag_st, *fz = &b->frag[i];
	uint16_t lcore = (uint16_t)w->lcore;
	uint64_t tx = 0, drops = 0;
	struct cnt d[DP_DROP_MAX];
	int rc;

	for (unsigned int p = 0; p < dp->nports; p++)
		tx += w->port_st[p].tx_packets - b->port[i][p].tx_packets;
	for (unsigned int r = 0; r < DP_DROP_MAX; r++) {
		d[r].name = stats_drop_name((enum dp_drop)r);
		d[r].v = w->drops[r] - b->drops[i][r];
		drops += d[r].v;
	}
	const struct cnt c[] = {
		{ "rx_packets_total", l->packets - z->packets },
		{ "rx_bursts_total", l->bursts - z->bursts },
		{ "tx_packets_total", tx },
		{ "dropped_total", drops },
		{ "iterations_total", l->iterations - z->iterations },
		{ "busy_cycles_total", l->busy_cycles - z->busy_cycles },
		{ "idle_cycles_total", l->idle_cycles - z->idle_cycles },
		{ "tsc_hz", rte_get_tsc_hz() },
		{ "icmp_echo_replies_total",
		  ic->echo_replies - iz->echo_replies },
		{ "icmp_frag_needed_sent_total",
		  ic->frag_needed - iz->frag_needed },
		{ "icmp_time_exceeded_sent_total",
		  ic->time_exceeded - iz->time_exceeded },
		{ "icmp_ratelimited_total", ic->ratelimited - iz->ratelimited },
		{ "synproxy_cookies_sent_total",
		  sp->cookies_sent - sz->cookies_sent },
		{ "synproxy_cookies_valid_total",
		  sp->cookies_valid - sz->cookies_valid },
		{ "synproxy_cookies_bad_total",
		  sp->cookies_bad - sz->cookies_bad },
		{ "synproxy_backend_syns_total",
		  sp->backend_syns - sz->backend_syns },
		{ "synproxy_backend_done_total",
		  sp->backend_done - sz->backend_done },
		{ "synproxy_backend_failed_total",
		  sp->backend_failed - sz->backend_failed },
		{ "synproxy_held_total", sp->held - sz->held },
		{ "synproxy_auto_on_total", sp->auto_on - sz->auto_on },
		{ "frag_reassembled_total", fr->reassembled - fz->reassembled },
		{ "frag_fragmented_total", fr->fragmented - fz->fragmented },
		{ "frag_fragments_out_total",
		  fr->fragments_out - fz->fragments_out },
		{ "frag_handoff_out_total", fr->handoff_out - fz->handoff_out },
		{ "frag_handoff_in_total", fr->handoff_in - fz->handoff_in },
	};
	rc = send_part(req, LB_STATS_LCORE, lcore_head, &lcore, c, RTE_DIM(c));
	if (rc == 0)
		rc = send_part(req, LB_STATS_DROP, lcore_head, &lcore, d,
			       DP_DROP_MAX);
	return rc;
}

static int
dump_ctrl(struct dp_ctx *dp, struct lbmsg_req *req,
	  const struct lbmsg_server_stats *srv)
{
	const struct stats_base *b = dp->stats_base;
	uint16_t lcore = (uint16_t)dp->main_lcore;
	struct neigh_stats ns;
	struct cnt d[DP_DROP_MAX];
	int rc;

	neigh_get_stats(dp->neigh, &ns);
	const struct cnt c[] = {
		{ "ctrl_requests_total", srv->requests - b->srv.requests },
		{ "ctrl_errors_total", srv->errors - b->srv.errors },
		{ "ctrl_malformed_total", srv->malformed - b->srv.malformed },
		{ "neigh_arp_requests_total", ns.arp_requests },
		{ "neigh_resolved_total", ns.resolved },
		{ "neigh_failed_total", ns.failed },
		{ "neigh_queued_total", ns.queued },
		{ "neigh_released_total", ns.released },
	};
	for (unsigned int r = 0; r < DP_DROP_MAX; r++) {
		d[r].name = stats_drop_name((enum dp_drop)r);
		d[r].v = dp->ctrl_drops[r] - b->ctrl_drops[r];
	}
	rc = send_part(req, LB_STATS_LCORE, lcore_head, &lcore, c, RTE_DIM(c));
	if (rc == 0)
		rc = send_part(req, LB_STATS_DROP, lcore_head, &lcore, d,
			       DP_DROP_MAX);
	return rc;
}

int
stats_dump(struct dp_ctx *dp, struct lbmsg_req *req,
	   const struct lbmsg_server_stats *srv)
{
	int rc = 0;

	for (unsigned int p = 0; p < dp->nports && rc == 0; p++)
		rc = dump_port(dp, req, p);
	if (rc == 0)
		rc = xdp_stats_dump(dp, req);
	for (unsigned int i = 0; i < dp->nworkers && rc == 0; i++)
		rc = dump_worker(dp, req, i);
	if (rc == 0)
		rc = dump_ctrl(dp, req, srv);
	if (rc == 0 && dp->svc != NULL)
		rc = svc_stats_dump(dp->svc, req);
	return rc;
}
