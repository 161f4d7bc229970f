/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Port bring-up and port addresses. See port.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "edgelb/log.h"
#include "port.h"
#include "route.h"

#define PORT_CTRL_RING 1024
#define PORT_RSS_HF    (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP)

/* The device name: devargs up to the first comma. */
static void
devargs_name(const char *devargs, char *name, size_t len)
{
	size_t n = strcspn(devargs, ",");

	if (n >= len)
		n = len - 1;
	memcpy(name, devargs, n);
	name[n] = '\0';
}

static int
port_probe(const struct dpconf_port *pc, uint16_t *id, bool *hotplugged,
	   char *err, size_t errlen)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	int rc;

	devargs_name(pc->devargs, name, sizeof(name));
	*hotplugged = false;
	if (rte_eth_dev_get_port_by_name(name, id) == 0)
		return 0; /* PCI probed by EAL, or --vdev */
	rc = rte_dev_probe(pc->devargs);
	if (rc < 0 && rc != -EEXIST) {
		snprintf(err, errlen,
			 "port %s: cannot probe '%s': %s (check the devargs "
			 "and that the driver is installed)",
			 pc->name, pc->devargs, strerror(-rc));
		return -ENODEV;
	}
	if (rte_eth_dev_get_port_by_name(name, id) != 0) {
		snprintf(err, errlen,
			 "port %s: no ethernet device '%s' after probing "
			 "'%s'",
			 pc->name, name, pc->devargs);
		return -ENODEV;
	}
	*hotplugged = rc == 0 && strncmp(name, "net_", 4) == 0;
	return 0;
}

int
port_open(struct dp_ctx *dp, const struct dpconf_port *pc, unsigned int index,
	  char *err, size_t errlen)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	struct dp_port *p;
	char rname[RTE_RING_NAMESIZE];
	uint16_t nq = (uint16_t)dp->nworkers;
	uint16_t nrx = pc->rx_desc, ntx = pc->tx_desc;
	int socket, rc;

	p = rte_zmalloc("dp_port", sizeof(*p), RTE_CACHE_LINE_SIZE);
	if (p == NULL) {
		snprintf(err, errlen, "port %s: out of memory", pc->name);
		return -ENOMEM;
	}
	snprintf(p->name, sizeof(p->name), "%s", pc->name);
	p->index = (uint16_t)index;
	rc = port_probe(pc, &p->id, &p->hotplugged, err, errlen);
	if (rc < 0)
		goto err;
	rc = rte_eth_dev_info_get(p->id, &info);
	if (rc < 0) {
		snprintf(err, errlen, "port %s: device info: %s", pc->name,
			 strerror(-rc));
		goto err;
	}
	if (info.max_rx_queues < nq || info.max_tx_queues < nq) {
		snprintf(err, errlen,
			 "port %s: %u workers need %u RX and TX queues, the "
			 "device has %u RX and %u TX; use fewer worker lcores "
			 "(EAL -l) or a device with more queues",
			 pc->name, nq, nq, info.max_rx_queues,
			 info.max_tx_queues);
		rc = -EINVAL;
		goto err;
	}
	if (nq > 1 && (info.flow_type_rss_offloads & PORT_RSS_HF) != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			info.flow_type_rss_offloads & PORT_RSS_HF;
		p->rss = true;
	} else if (nq > 1) {
		LB_WARN("port %s: no RSS; only worker 0's queue gets packets",
			pc->name);
	}
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
	rc = rte_eth_dev_configure(p->id, nq, nq, &conf);
	if (rc < 0) {
		snprintf(err, errlen, "port %s: configure: %s", pc->name,
			 strerror(-rc));
		goto err;
	}
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->id, &nrx, &ntx);
	if (rc < 0) {
		snprintf(err, errlen, "port %s: ring sizes: %s", pc->name,
			 strerror(-rc));
		goto err;
	}
	socket = rte_eth_dev_socket_id(p->id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	for (uint16_t q = 0; q < nq; q++) {
		rc = rte_eth_rx_queue_setup(p->id, q, nrx, (unsigned int)socket,
					    NULL, dp->pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(p->id, q, ntx,
						    (unsigned int)socket, NULL);
		if (rc < 0) {
			snprintf(err, errlen, "port %s: queue %u setup: %s",
				 pc->name, q, strerror(-rc));
			goto err;
		}
	}
	rte_eth_macaddr_get(p->id, &p->mac);
	if (pc->has_mac) {
		memcpy(p->mac.addr_bytes, pc->mac, 6);
		rc = rte_eth_dev_default_mac_addr_set(p->id, &p->mac);
		if (rc == -ENOTSUP) {
			/* e.g. pcap, af_packet: use the MAC in software and
			 * let the device hand us every frame */
			LB_INFO("port %s: device cannot change its MAC; "
				"using it in software, promiscuous",
				pc->name);
			rte_eth_promiscuous_enable(p->id);
		} else if (rc < 0) {
			snprintf(err, errlen, "port %s: cannot set mac: %s",
				 pc->name, strerror(-rc));
			goto err;
		}
	}
	if (pc->mtu != 0) {
		rc = rte_eth_dev_set_mtu(p->id, (uint16_t)pc->mtu);
		if (rc < 0) {
			snprintf(err, errlen, "port %s: cannot set mtu %u: %s",
				 pc->name, pc->mtu, strerror(-rc));
			goto err;
		}
	}
	if (rte_eth_dev_get_mtu(p->id, &p->mtu) < 0)
		p->mtu = RTE_ETHER_MTU;
	p->vlan = pc->vlan;
	snprintf(rname, sizeof(rname), "dp_ctx%u", index);
	p->ctrl_txr = rte_ring_create(rname, PORT_CTRL_RING, socket,
				      RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (p->ctrl_txr == NULL) {
		snprintf(err, errlen, "port %s: ring: %s", pc->name,
			 rte_strerror(rte_errno));
		rc = -ENOMEM;
		goto err;
	}
	dp->ports[index] = p;
	LB_INFO("port %s: dpdk port %u, %s, mtu %u, %u queue pair(s)%s, "
		"vlan %u",
		p->name, p->id, pc->devargs, p->mtu, nq, p->rss ? ", rss" : "",
		p->vlan);
	return 0;
err:
	rte_free(p);
	return rc;
}

int
port_start_all(struct dp_ctx *dp, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < dp->nports; i++) {
		struct dp_port *p = dp->ports[i];
		int rc = rte_eth_dev_start(p->id);

		if (rc < 0) {
			snprintf(err, errlen, "port %s: start: %s", p->name,
				 strerror(-rc));
			return rc;
		}
		p->started = true;
	}
	return 0;
}

void
port_close_all(struct dp_ctx *dp)
{
	for (unsigned int i = 0; i < dp->nports; i++) {
		struct dp_port *p = dp->ports[i];
		char name[RTE_ETH_NAME_MAX_LEN];
		struct rte_mbuf *m;

		if (p == NULL)
			continue;
		/* stopping closes the pcap PMD's writers: files are complete */
		if (p->started)
			rte_eth_dev_stop(p->id);
		if (rte_eth_dev_get_name_by_port(p->id, name) != 0)
			name[0] = '\0';
		rte_eth_dev_close(p->id);
		if (p->hotplugged && name[0] != '\0')
			rte_eal_hotplug_remove("vdev", name);
		while (p->ctrl_txr != NULL &&
		       rte_ring_dequeue(p->ctrl_txr, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(p->ctrl_txr);
		rte_free(p);
		dp->ports[i] = NULL;
	}
}

int
port_find(const struct dp_ctx *dp, const char *name)
{
	for (unsigned int i = 0; i < dp->nports; i++)
		if (dp->ports[i] != NULL &&
		    strcmp(dp->ports[i]->name, name) == 0)
			return (int)i;
	return -ENODEV;
}

void
port_ctrl_tx(struct dp_ctx *dp, uint16_t port, struct rte_mbuf *m)
{
	if (port >= dp->nports ||
	    rte_ring_sp_enqueue(dp->ports[port]->ctrl_txr, m) != 0) {
		dp->ctrl_drops[DP_DROP_TX_FULL]++;
		rte_pktmbuf_free(m);
	}
}

/* ---- addresses ---------------------------------------------------------- */

static struct port_addr_set *
addrs_alloc(uint32_t n)
{
	struct port_addr_set *s;

	s = rte_zmalloc("dp_addrs", sizeof(*s) + n * sizeof(s->a[0]),
			RTE_CACHE_LINE_SIZE);
	if (s != NULL)
		s->n = n;
	return s;
}

static void
addrs_publish(struct dp_ctx *dp, struct port_addr_set *s)
{
	struct port_addr_set *old = dp->addrs;

	__atomic_store_n(&dp->addrs, s, __ATOMIC_RELEASE);
	if (old != NULL)
		dp_defer_free(dp, old);
}

int
port_addrs_init(struct dp_ctx *dp)
{
	struct port_addr_set *s = addrs_alloc(0);

	if (s == NULL)
		return -ENOMEM;
	dp->addrs = s;
	return 0;
}

void
port_addrs_fini(struct dp_ctx *dp)
{
	rte_free(dp->addrs);
	dp->addrs = NULL;
}

int
port_addr_add(struct dp_ctx *dp, uint16_t port, uint32_t addr, uint8_t plen,
	      char *err, size_t errlen)
{
	const struct port_addr_set *cur = dp->addrs;
	struct port_addr_set *s;
	uint32_t mask = dpconf_mask(plen);
	int rc;

	if (plen == 0 || plen > 32 || addr == 0 || IN_MULTICAST(ntohl(addr)) ||
	    addr == INADDR_BROADCAST ||
	    (plen <= 30 &&
	     ((addr & ~mask) == 0 || (addr & ~mask) == (~mask)))) {
		snprintf(err, errlen, "bad address or prefix length");
		return -EINVAL;
	}
	for (uint32_t i = 0; i < cur->n; i++) {
		const struct port_addr *a = &cur->a[i];

		if (a->addr == addr) {
			snprintf(err, errlen, "address exists on port %s",
				 dp->ports[a->port]->name);
			return -EEXIST;
		}
		if (a->port != port &&
		    dpconf_prefix_overlap(a->addr, a->plen, addr, plen)) {
			snprintf(err, errlen,
				 "prefix overlaps an address of port %s",
				 dp->ports[a->port]->name);
			return -EINVAL;
		}
	}
	if (cur->n == PORT_MAX_ADDRS) {
		snprintf(err, errlen, "at most %d port addresses",
			 PORT_MAX_ADDRS);
		return -ENOSPC;
	}
	s = addrs_alloc(cur->n + 1);
	if (s == NULL)
		return -ENOMEM;
	memcpy(s->a, cur->a, cur->n * sizeof(cur->a[0]));
	s->a[cur->n] = (struct port_addr){
		.addr = addr,
		.plen = plen,
		.port = port,
	};
	rc = route_connected_add(dp->route, addr & mask, plen, port);
	if (rc < 0 && rc != -EEXIST) {
		snprintf(err, errlen, "connected route: %s", strerror(-rc));
		rte_free(s);
		return rc;
	}
	addrs_publish(dp, s);
	return 0;
}

int
port_addr_del(struct dp_ctx *dp, uint16_t port, uint32_t addr)
{
	const struct port_addr_set *cur = dp->addrs;
	struct port_addr_set *s;
	struct port_addr gone = { 0 };
	uint32_t j = 0;
	bool found = false, covered = false;

	for (uint32_t i = 0; i < cur->n; i++)
		if (cur->a[i].addr == addr && cur->a[i].port == port)
			found = true;
	if (!found)
		return -ENOENT;
	s = addrs_alloc(cur->n - 1);
	if (s == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < cur->n; i++) {
		if (cur->a[i].addr == addr && cur->a[i].port == port)
			gone = cur->a[i];
		else
			s->a[j++] = cur->a[i];
	}
	/* keep the connected route while another address uses the subnet */
	for (uint32_t i = 0; i < s->n; i++)
		if (s->a[i].port == port && s->a[i].plen == gone.plen &&
		    dpconf_prefix_overlap(s->a[i].addr, s->a[i].plen, addr,
					  gone.plen))
			covered = true;
	if (!covered)
		route_connected_del(dp->route, addr & dpconf_mask(gone.plen),
				    gone.plen);
	addrs_publish(dp, s);
	return 0;
}

uint32_t
port_addr_source(const struct dp_ctx *dp, uint16_t port, uint32_t peer)
{
	const struct port_addr_set *s = dp->addrs;
	uint32_t first = 0;

	for (uint32_t i = 0; i < s->n; i++) {
		if (s->a[i].port != port)
			continue;
		if (dpconf_prefix_overlap(s->a[i].addr, s->a[i].plen, peer,
					  s->a[i].plen))
			return s->a[i].addr;
		if (first == 0)
			first = s->a[i].addr;
	}
	return first;
}
