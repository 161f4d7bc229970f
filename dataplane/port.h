/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dataplane ports: bring-up of DPDK ports from [port NAME] sections
 * (vdevs by hot-plug, PCI devices by name), one RX and one TX queue per
 * worker, RSS where the device has it; and the IPv4 addresses on them.
 *
 * Port addresses are kept in an immutable struct port_addr_set that the
 * control thread replaces on every change (RCU); workers read it through
 * port_addr_find(). Adding an address installs its connected route and
 * announces it with a gratuitous ARP.
 *
 * Packets the control thread sends (ARP requests and replies, gratuitous
 * ARP, packets released by neighbour resolution) go through a per-port
 * ring that worker 0 drains into its own TX queue, so the control thread
 * never touches a TX queue and workers never wait.
 */
#ifndef EDGELB_DP_PORT_H
#define EDGELB_DP_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ether.h>

#include "dp.h"

#define PORT_MAX_ADDRS 64 /* per process, all ports together */

struct dp_port {
	char name[LB_IFNAME_MAX + 1];
	uint16_t id;	/* DPDK port id */
	uint16_t index; /* our index in dp->ports[] */
	struct rte_ether_addr mac;
	uint16_t mtu;
	uint16_t vlan; /* 802.1Q VID of every frame in and out; 0 = none */
	bool rss;
	bool started;
	bool hotplugged;	   /* probed by us: removed again at close */
	struct rte_ring *ctrl_txr; /* control thread -> worker 0 TX */
};

struct port_addr {
	uint32_t addr; /* network order */
	uint8_t plen;
	uint16_t port; /* port index */
};

/* Published, immutable once visible to workers. */
struct port_addr_set {
	uint32_t n;
	struct port_addr a[];
};

/*
 * Probe (vdev) or find (PCI) the device of pc and configure it with
 * dp->nworkers queue pairs, as dp->ports[index]. Returns 0 or -errno with
 * the reason in err: -ENODEV (no such device / bad devargs), -EINVAL
 * (more workers than queues, bad MTU or MAC), driver errors.
 */
int port_open(struct dp_ctx *dp, const struct dpconf_port *pc,
	      unsigned int index, char *err, size_t errlen);

/* Start every opened port. 0 or -errno (err says which port). */
int port_start_all(struct dp_ctx *dp, char *err, size_t errlen);

/* Stop and close every port (flushes pcap writers), free rings. */
void port_close_all(struct dp_ctx *dp);

/* Index of the port called name, or -ENODEV. */
int port_find(const struct dp_ctx *dp, const char *name);

/* ---- addresses (control thread) ---------------------------------------- */

/* Publish an empty set; 0 or -ENOMEM. */
int port_addrs_init(struct dp_ctx *dp);
void port_addrs_fini(struct dp_ctx *dp);

/*
 * Add addr/plen (network order) on port. Errors: -EINVAL (bad address or
 * prefix, overlaps another port's subnet), -EEXIST (address present),
 * -ENOSPC, -ENOMEM. err explains. The caller announces it (gratuitous
 * ARP, arp_send_garp) once added: ARP sits above the ports.
 */
int port_addr_add(struct dp_ctx *dp, uint16_t port, uint32_t addr, uint8_t plen,
		  char *err, size_t errlen);

/* Remove addr from port: 0 or -ENOENT. */
int port_addr_del(struct dp_ctx *dp, uint16_t port, uint32_t addr);

/* ---- workers ----------------------------------------------------------- */

/* The index of the port that holds addr, or -1. Lock-free. */
static inline int
port_addr_find(const struct dp_ctx *dp, uint32_t addr)
{
	const struct port_addr_set *s =
		__atomic_load_n(&dp->addrs, __ATOMIC_ACQUIRE);

	for (uint32_t i = 0; i < s->n; i++)
		if (s->a[i].addr == addr)
			return s->a[i].port;
	return -1;
}

/* The address of port that shares a subnet with peer (or its first
 * address, or 0): the source for ARP requests to peer. */
uint32_t port_addr_source(const struct dp_ctx *dp, uint16_t port,
			  uint32_t peer);

/*
 * Hand m to worker 0 for transmission on port (control thread only).
 * Frees m and counts DP_DROP_TX_FULL when the ring is full.
 */
void port_ctrl_tx(struct dp_ctx *dp, uint16_t port, struct rte_mbuf *m);

/*
 * dp.sock handlers (port_ctrl.c; req->ctx is the struct dp_ctx):
 * PORTADDR_NEW, PORTADDR_DEL, the PORTADDR_GET and PORT_GET dumps. 0 or
 * -errno, explained.
 */
struct lbmsg_req;
int port_ctrl_addr_new(struct lbmsg_req *req);
int port_ctrl_addr_del(struct lbmsg_req *req);
int port_ctrl_addr_get(struct lbmsg_req *req);
int port_ctrl_get(struct lbmsg_req *req);

#endif
