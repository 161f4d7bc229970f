/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a worker counts, as plain types: the drop reasons (and DP_PASS, the
 * verdict of a check that drops nothing), the per-port and the per-lcore
 * counters. Each worker writes its own without atomics (dp.h); stats.h
 * sums them for STATS_GET.
 */
#ifndef EDGELB_DP_COUNTERS_H
#define EDGELB_DP_COUNTERS_H

#include <stdint.h>

/*
 * Why a packet was dropped. The names (stats_drop_name()) are the counter
 * names in STATS_GET parts of kind LB_STATS_DROP, so they are part of the
 * interface: docs/dataplane.md lists each one.
 */
enum dp_drop {
	/* not a drop: the packet goes on (what a check returns on success) */
	DP_PASS = -1,
	DP_DROP_TRUNCATED,	   /* frame shorter than its headers */
	DP_DROP_BAD_L2,		   /* unknown ethertype */
	DP_DROP_OTHER_HOST,	   /* unicast to another MAC address */
	DP_DROP_BAD_VERSION,	   /* IPv4 ethertype, IP version not 4 */
	DP_DROP_BAD_IHL,	   /* IHL < 5 or header beyond the frame */
	DP_DROP_BAD_TOTAL_LEN,	   /* total length < IHL or > frame */
	DP_DROP_BAD_IP_CSUM,	   /* IPv4 header checksum wrong */
	DP_DROP_BAD_SADDR,	   /* source is multicast/broadcast/ours */
	DP_DROP_TTL_EXCEEDED,	   /* TTL <= 1 on traffic to be forwarded */
	DP_DROP_FRAGMENT,	   /* non-first fragment (no L4 header) */
	DP_DROP_BAD_L4,		   /* L4 header beyond the IP payload */
	DP_DROP_NOT_OURS,	   /* not addressed to a port address or VIP */
	DP_DROP_NO_SERVICE,	   /* to a VIP, no service for proto/port */
	DP_DROP_HOST_UNSUPPORTED,  /* to a port address, not ICMP echo */
	DP_DROP_ICMP_UNSUPPORTED,  /* ICMP to us other than echo request */
	DP_DROP_BAD_ICMP_CSUM,	   /* echo request with a wrong checksum */
	DP_DROP_IPV6_UNSUPPORTED,  /* IPv6 is recognised, not served yet */
	DP_DROP_ARP_BAD,	   /* malformed ARP (hw/proto type, lengths) */
	DP_DROP_ARP_NOT_OURS,	   /* ARP request for an address not ours */
	DP_DROP_NO_ROUTE,	   /* no route to the destination */
	DP_DROP_NEIGH_QUEUE_FULL,  /* next hop unresolved and its queue full */
	DP_DROP_NEIGH_FAILED,	   /* next hop did not answer ARP */
	DP_DROP_CTRL_RING_FULL,	   /* handing a packet to the control thread */
	DP_DROP_TX_FULL,	   /* the TX queue did not take the packet */
	DP_DROP_FWD_UNIMPLEMENTED, /* no forwarding stage is installed */
	DP_DROP_CONN_TABLE_FULL,   /* new flow, the worker's conn table full */
	DP_DROP_NO_CONN,	   /* TCP without SYN and no connection */
	DP_DROP_NO_BACKEND,	   /* no backend with a weight above 0 */
	DP_DROP_BACKEND_GONE,	   /* conn's backend deleted (policy expire) */
	DP_DROP_NO_LOCAL_PORT,	   /* FULL-NAT: no free local address/port */
	DP_DROP_HANDOFF_FULL,	   /* the owner worker's handoff ring is full */
	DP_DROP_FRAG_NEEDED,	   /* TUNNEL: too big with DF, ICMP sent */
	DP_DROP_TOO_BIG,	   /* TUNNEL: too big without DF */
	DP_DROP_NO_HEADROOM,	   /* no room in the mbuf for a header */
	DP_DROP_PROXY_OVERLAP,	   /* PROXY v2: client data across pp_seq */
	DP_DROP_NAT_TUPLE_COLLISION, /* NAT: out tuple of another conn */
	DP_DROP_RST_OUT_OF_WINDOW,   /* TCP RST outside the seen seq window */
	DP_DROP_ICMP_ERR_BAD_CSUM,   /* ICMP error about a conn: bad checksum */
	DP_DROP_ICMP_ERR_FRAGMENT,   /* ... quoting a non-first fragment */
	DP_DROP_ICMP_ERR_SHORT,	     /* ... quoting too little of the packet */
	DP_DROP_ARP_UNSOLICITED,     /* ARP reply to no request of ours */
	DP_DROP_ARP_BAD_SHA,	     /* ARP sender MAC multicast/broadcast/0 */
	DP_DROP_VLAN_OTHER,	     /* tagged with a VID the port is not on */
	DP_DROP_VLAN_UNTAGGED,	     /* untagged, the port has a VLAN */
	DP_DROP_VLAN_TAGGED,	     /* 802.1Q tagged, the port has no VLAN */
	DP_DROP_QINQ,		     /* 802.1ad (QinQ) frame, never served */
	DP_DROP_SVC_CONN_LIMIT,	     /* new conn, service at its max_conns */
	DP_DROP_SVC_RATE_LIMIT,	     /* new conn over the service's conn_rate */
	DP_DROP_SYN_SRC_LIMIT,	     /* SYN over its source's syn_src_rate */
	DP_DROP_BACKEND_OVERLOADED,  /* every backend over its threshold */
	DP_DROP_ICMP_RATELIMITED, /* echo request, its reply over the limit */
	DP_DROP_SYNPROXY_BAD_COOKIE, /* SYN proxy: ACK with a bad/old cookie */
	DP_DROP_SYNPROXY_PENDING,    /* ... client segment while the backend is
				   * not up (one is held), or odd backend one */
	DP_DROP_SYNPROXY_NO_MBUF,    /* ... no mbuf for a handshake segment */
	DP_DROP_FRAG_TINY,	 /* fragment below frag_min_size (ipfrag.h) */
	DP_DROP_FRAG_SHORT,	 /* first fragment without the L4 header */
	DP_DROP_FRAG_TOO_BIG,	 /* fragment ending past 65535 bytes */
	DP_DROP_FRAG_BAD,	 /* overlapping, duplicate, misaligned, > 8 */
	DP_DROP_FRAG_TABLE_FULL, /* no reassembly entry for a new datagram */
	DP_DROP_FRAG_TIMEOUT,	 /* datagram not whole in frag_timeout_ms */
	DP_DROP_FRAG_NOMEM,	 /* no mbuf to fragment or copy a packet */
	DP_DROP_MAX,
};

/* One worker's counters for one port. */
struct stats_port {
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t tx_packets;
	uint64_t tx_bytes;
	uint64_t tx_dropped; /* not taken by the TX queue */
};

/* ICMP a worker generated (icmp.h), and answers its limits suppressed. */
struct stats_icmp {
	uint64_t echo_replies;
	uint64_t frag_needed; /* destination unreachable, code 4 */
	uint64_t time_exceeded;
	uint64_t ratelimited; /* answers of any kind not sent */
};

/* The SYN proxy (synproxy.h): what each outcome counted. */
struct stats_synproxy {
	uint64_t cookies_sent;	 /* SYN-ACKs with a cookie */
	uint64_t cookies_valid;	 /* ACKs with a valid cookie: connections */
	uint64_t cookies_bad;	 /* ACKs with a bad or expired one: dropped */
	uint64_t backend_syns;	 /* SYNs sent to backends */
	uint64_t backend_done;	 /* backend handshakes completed */
	uint64_t backend_failed; /* proxied connections never completed */
	uint64_t held;		 /* client segments held for the backend */
	uint64_t auto_on;	 /* auto mode switched on */
};

/* Fragments (ipfrag.h): datagrams made whole, and cut on the way out. */
struct stats_frag {
	uint64_t reassembled;	/* datagrams reassembled */
	uint64_t fragmented;	/* packets cut into fragments on TX */
	uint64_t fragments_out; /* ... fragments they made */
	uint64_t handoff_out;	/* datagrams handed to their flow's worker */
	uint64_t handoff_in;	/* ... taken from other workers */
};

/* Per-lcore totals. */
struct stats_lcore {
	uint64_t iterations;
	uint64_t bursts;  /* RX bursts that returned packets */
	uint64_t packets; /* packets received */
	uint64_t busy_cycles;
	uint64_t idle_cycles;
};

#endif
