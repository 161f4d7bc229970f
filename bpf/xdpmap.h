/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * xdpmap: find the XDP program attached to an interface and the maps it
 * uses, and read per-CPU counter arrays. Shared by steer.c (the dataplane's
 * view of steer_map) and the edgelb-bpf loader.
 *
 * Programs attached directly (libbpf, ip link) and programs attached
 * through a libxdp dispatcher (what DPDK's net_af_xdp does with
 * xdp_prog= when libxdp is available) are both found.
 */
#ifndef EDGELB_XDPMAP_H
#define EDGELB_XDPMAP_H

#include <stdint.h>

/* One counter slot of a PERCPU_ARRAY whose value is {packets, bytes}. */
struct xdpmap_counter {
	uint64_t packets;
	uint64_t bytes;
};

/*
 * Open the map called name (as in the object file; at most 15 characters)
 * used by the XDP program(s) on ifindex. Returns a map fd (the caller
 * closes it), -ENOENT if no program is attached or none uses such a map,
 * or another negative errno from the kernel.
 */
int xdpmap_find(int ifindex, const char *name);

/*
 * The id and name (at least 16 bytes) of the XDP program the kernel
 * reports on ifindex; with a libxdp dispatcher that is the dispatcher.
 * Returns 0, -ENOENT if none is attached, or a negative errno.
 */
int xdpmap_attached(int ifindex, uint32_t *prog_id, char *name,
		    uint32_t *xdp_flags);

/*
 * Sum slots [0, n) of a PERCPU_ARRAY of {__u64 packets, bytes} over all
 * possible CPUs into out[0..n). Returns 0 or a negative errno (-EINVAL if
 * the map's value is not 16 bytes).
 */
int xdpmap_counters(int map_fd, struct xdpmap_counter *out, uint32_t n);

/*
 * Pin map_fd at dir/name, creating dir (and its parents) as needed;
 * an existing pin of that name is replaced. dir must be on a bpffs.
 * Returns 0 or a negative errno.
 */
int xdpmap_pin(int map_fd, const char *dir, const char *name);

/*
 * Make sure dir can hold pins: if it is not on a bpffs and it lies under
 * /sys/fs/bpf, mount a bpffs on /sys/fs/bpf. Creates dir. Returns 0,
 * -ENOTSUP if dir is elsewhere and not on a bpffs, or a negative errno.
 */
int xdpmap_prepare_pin_dir(const char *dir);

#endif
