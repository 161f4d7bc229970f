/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelb-dp configuration: the [dataplane] and [port NAME] sections of the
 * INI file shared with edgelbd (whose sections are skipped here).
 *
 * dpconf_load() parses the whole file, then validates it as a whole
 * (every port has devargs, routes name existing ports, no two port
 * addresses overlap); nothing is applied here. docs/dataplane.md lists
 * every key.
 */
#ifndef EDGELB_DPCONF_H
#define EDGELB_DPCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>

#include "edgelb/types.h"

#define DPCONF_MAX_PORTS	   8
#define DPCONF_MAX_ADDRS	   16  /* per port, from the file */
#define DPCONF_MAX_ROUTES	   256 /* from the file */
#define DPCONF_DEVARGS_MAX	   256
#define DPCONF_PATH_MAX		   256
#define DPCONF_DEFAULT_XDP_PIN_DIR "/sys/fs/bpf/edgelb"
#define DPCONF_DEFAULT_MAX_CONNS   262144u /* per worker */
#define DPCONF_MIN_MAX_CONNS	   64u
#define DPCONF_MAX_MAX_CONNS	   (1u << 25) /* x 64 workers fits 32 bits */
#define DPCONF_ICMP_RATE_MAX	   10000000u
/* SYN proxy auto mode (synproxy.h): SYNs per second per worker, percent
 * of a worker's connection table; 0 = that trigger off */
#define DPCONF_SYNPROXY_SYN_RATE 10000u
#define DPCONF_SYNPROXY_FILL	 75u

struct dpconf_addr {
	uint32_t addr; /* network order */
	uint8_t plen;
	int line;
};

struct dpconf_route {
	uint32_t dst; /* network order, host bits clear */
	uint8_t plen;
	uint32_t gw;		     /* network order; 0 = on-link */
	char dev[LB_IFNAME_MAX + 1]; /* "" = by the gateway's subnet */
	int line;
};

struct dpconf_port {
	char name[LB_IFNAME_MAX + 1];
	char devargs[DPCONF_DEVARGS_MAX];
	struct dpconf_addr addrs[DPCONF_MAX_ADDRS];
	unsigned int naddrs;
	uint32_t mtu; /* 0 = leave the device's */
	bool has_mac;
	uint8_t mac[6];
	uint16_t rx_desc; /* ring sizes; adjusted to the device's limits */
	uint16_t tx_desc;
	int8_t xdp_steer; /* net_af_xdp: 1 yes, 0 no, -1 = [dataplane]'s */
	uint16_t vlan;	  /* 802.1Q VID 1..4094; 0 = untagged */
	int line;	  /* first line of the section */
};

/* Conn-tracking timeouts in seconds (CONFIG_SET changes them at run time). */
struct dpconf_timeouts {
	uint32_t syn_recv;
	uint32_t established;
	uint32_t fin_wait;
	uint32_t time_wait;
	uint32_t close;
	uint32_t udp;
};

#define DPCONF_TIMEOUT_MAX (7u * 86400u)

struct dpconf {
	char socket[108]; /* sun_path */
	char socket_group[64];
	int log_level; /* LOG_* */
	uint32_t max_services;
	uint32_t max_backends;
	uint32_t max_routes;
	uint32_t max_neighbours;
	uint32_t neigh_queue_len;   /* packets held per unresolved neighbour */
	uint32_t arp_retry_ms;	    /* interval between ARP requests */
	uint32_t arp_retries;	    /* requests before a neighbour fails */
	uint32_t neigh_reachable_s; /* a learned entry is re-probed after */
	uint32_t mbufs;		    /* packet buffers in the pool */
	uint32_t max_conns;	    /* connections + templates per worker */
	bool wait_config;	    /* RX held until the first CONFIG_SET */
	bool xdp_steer;		    /* load xdp_steer on net_af_xdp ports */
	char xdp_prog[DPCONF_PATH_MAX];	   /* "" = search (see xdp.h) */
	char xdp_pin_dir[DPCONF_PATH_MAX]; /* maps pinned in DIR/IFACE/ */
	struct dpconf_timeouts tmo;
	struct dpconf_route routes[DPCONF_MAX_ROUTES];
	unsigned int nroutes;
	struct dpconf_port ports[DPCONF_MAX_PORTS];
	unsigned int nports;

	/* SYN proxy auto mode (synproxy.h): on above either; 0 = not that */
	uint32_t synproxy_syn_rate; /* SYNs per second per worker */
	uint32_t synproxy_fill;	    /* percent of the conn table in use */

	/* ICMP answers per worker (icmp.h): token buckets; rate 0 = none */
	uint32_t icmp_rate;	  /* all answers, per second */
	uint32_t icmp_burst;	  /* ... bucket depth */
	uint32_t icmp_dest_rate;  /* per destination /24 (hashed) */
	uint32_t icmp_dest_burst; /* ... bucket depth */

	/* IPv4 reassembly per worker (ipfrag.h); 0 = derived (docs) */
	bool frag_reassembly;	      /* off: fragments dropped as before */
	uint32_t frag_timeout_ms;     /* a datagram must be whole within */
	uint32_t frag_min_size;	      /* payload of a non-last fragment */
	uint32_t frag_max_entries;    /* datagrams in reassembly */
	uint32_t frag_buckets;	      /* hash buckets of the table */
	uint32_t frag_bucket_entries; /* entries per bucket (2^n) */
};

/* Fill c with the defaults of every key. */
void dpconf_defaults(struct dpconf *c);

/*
 * Load path into c (which dpconf_defaults() prepared). Returns 0, or a
 * negative errno with "FILE:LINE: [section] key: problem" (or "FILE:
 * problem" when no line applies) in err.
 */
int dpconf_load(struct dpconf *c, const char *path, char *err, size_t errlen);

/* The port named name, or NULL. */
const struct dpconf_port *dpconf_port_find(const struct dpconf *c,
					   const char *name);

/* True when prefixes a/alen and b/blen share an address. */
bool dpconf_prefix_overlap(uint32_t a, uint8_t alen, uint32_t b, uint8_t blen);

/* Network-order mask of plen bits (plen <= 32). */
static inline uint32_t
dpconf_mask(uint8_t plen)
{
	return plen == 0 ? 0 : htonl(~0u << (32 - plen));
}

#endif
