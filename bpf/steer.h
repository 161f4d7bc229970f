/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * steer: user-space handle on the xdp_steer maps, for the dataplane to
 * keep steer_map in sync with its VIPs and local addresses, and for the
 * edgelb-bpf loader to show them. Plain libbpf (plus libxdp to find a
 * program attached through a dispatcher); no DPDK.
 *
 * The handle is not thread-safe; the kernel map itself may be updated by
 * several handles at once.
 */
#ifndef EDGELB_STEER_H
#define EDGELB_STEER_H

#include <stddef.h>
#include <stdint.h>

#include <edgelb/types.h>
#include "xdp_steer.h"

struct steer;

/* Summed over CPUs; indexes are enum lb_steer_stat. */
struct steer_counters {
	uint64_t packets[LB_STEER_STAT_MAX];
	uint64_t bytes[LB_STEER_STAT_MAX];
};

/*
 * Open the maps pinned in dir (dir/steer_map, and dir/steer_stats if
 * present), e.g. /sys/fs/bpf/edgelb/eth0. Returns NULL and sets errno
 * (ENOENT: no steer_map pinned there; EINVAL: the pinned map does not have
 * steer_map's key and value sizes).
 */
struct steer *steer_open(const char *dir);

/*
 * Open the maps of the xdp_steer program attached to the interface
 * ifname (directly or through a libxdp dispatcher). Returns NULL and sets
 * errno (ENODEV: no such interface; ENOENT: no xdp_steer on it).
 */
struct steer *steer_open_iface(const char *ifname);

/* Pin steer_map and steer_stats into dir (on a bpffs). 0 or -errno. */
int steer_pin(struct steer *h, const char *dir);

void steer_close(struct steer *h);

/*
 * Fill key for (addr, proto, port); port in host order. proto = port = 0
 * means every packet to addr. Returns 0 or -EINVAL (unset family, or a
 * port without a protocol).
 */
int steer_key_init(struct steer_key *key, const struct lb_addr *addr,
		   uint8_t proto, uint16_t port);

/* "tcp 10.0.0.1:80", "udp [2001:db8::1]:53", "any 10.0.0.2"; returns buf
 * (at least LB_STEER_KEYSTRLEN bytes). */
#define LB_STEER_KEYSTRLEN 72
const char *steer_key_format(const struct steer_key *key, char *buf,
			     size_t len);

/*
 * Add key (redirect matching packets); adding an existing key updates its
 * flags. Returns 0, -E2BIG when the map is full, or another -errno.
 */
int steer_add(struct steer *h, const struct steer_key *key);
int steer_add_flags(struct steer *h, const struct steer_key *key,
		    uint32_t flags);

/* Remove key. Returns 0, -ENOENT if absent, or another -errno. */
int steer_del(struct steer *h, const struct steer_key *key);

/*
 * Call fn for every entry (in map order) until it returns non-zero, which
 * is returned. Returns 0 after the last entry, or a negative errno.
 */
int steer_foreach(struct steer *h,
		  int (*fn)(const struct steer_key *key,
			    const struct steer_value *val, void *arg),
		  void *arg);

/* Counters summed over CPUs. 0, -ENOENT without a stats map, or -errno. */
int steer_stats(struct steer *h, struct steer_counters *out);

/* Name of a counter index ("redirected", ...), or "?". */
const char *steer_stat_name(unsigned int idx);

#endif
