/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * xdp: the dataplane's side of bpf/xdp_steer on net_af_xdp ports.
 *
 * A [port NAME] whose devargs name a net_af_xdp device gets xdp_prog=PATH
 * appended (PATH: [dataplane] xdp_prog, else xdp_steer.o found as
 * edgelb-bpf finds it), so that DPDK loads xdp_steer instead of its
 * redirect-everything program. Once the port runs, this module keeps the
 * program's steer_map equal to what the dataplane owns on that interface:
 *
 *   - every VIP and FULL-NAT local address of the service table (the
 *     svc address callback): an address-only entry, i.e. all traffic to
 *     the address, ARP/ND for it included, goes to the dataplane;
 *   - the port's own addresses (dp->addrs, polled from the control
 *     loop): address-only entries too, so the dataplane sees the ARP
 *     replies to its own requests and answers ping.
 *
 * Everything else (the kernel's own addresses on the interface, SSH, BGP,
 * health checks) stays with the kernel. An address that is also one of
 * the kernel's addresses of the interface is not steered (a warning says
 * so): the dataplane never takes the host's traffic away.
 *
 * The service table reports addresses only, not (proto, port) pairs, so
 * entries are per address, never per service port.
 *
 * Maps are pinned in [dataplane] xdp_pin_dir/IFACE/ (steer_map,
 * steer_stats) while the dataplane runs. All functions run on the control
 * thread; without net_af_xdp ports they do nothing.
 */
#ifndef EDGELB_DP_XDP_H
#define EDGELB_DP_XDP_H

#include <stdbool.h>
#include <stddef.h>

#include "edgelb/lbmsg.h"
#include "edgelb/types.h"
#include "dp.h"

/* The object file name looked up in the search directories. */
#define XDP_STEER_OBJ "xdp_steer.o"

#ifdef EDGELB_HAVE_STEER

/*
 * Before the ports are opened: when a port uses net_af_xdp, raise
 * RLIMIT_MEMLOCK to unlimited and, for each such port with xdp_steer on,
 * append xdp_prog=PATH to its devargs in dp->conf. Returns 0 or -errno
 * with the reason in err: -EPERM (memlock cannot be raised), -ENOENT (no
 * xdp_steer.o), -EINVAL (devargs without iface=, too long, or a path
 * with a comma), -ENOMEM.
 */
int xdp_init(struct dp_ctx *dp, char *err, size_t errlen);

/*
 * After the ports started: open each steered port's maps, pin them, and
 * fill steer_map with the port's addresses and the service addresses
 * known so far. Returns 0 or -errno with err: -ENOENT when xdp_steer is
 * not attached to a port's interface although this module asked for it
 * (e.g. the device was given to EAL with --vdev without xdp_prog=). A
 * program given by the operator in devargs that lacks steer_map only
 * earns a warning: that port is not synced.
 */
int xdp_start(struct dp_ctx *dp, char *err, size_t errlen);

/* Control loop: bring every steer_map in line with the port addresses
 * (ADDR_ADD/ADDR_DEL change them). Cheap when nothing changed. */
void xdp_poll(struct dp_ctx *dp);

/*
 * svc_addr_cb (arg: the struct dp_ctx): arp_svc_addr_cb first, then add
 * or remove addr in the steer_map of every steered port. Usable before
 * xdp_init and after xdp_fini (it then only calls arp_svc_addr_cb).
 */
void xdp_svc_addr_cb(void *arg, const struct lb_addr *addr, bool added);

/* STATS_GET parts of kind LB_STATS_XDP (IFNAME, PORT_ID and the
 * steering counters summed over CPUs), one per steered port. 0 or
 * -errno. */
int xdp_stats_dump(struct dp_ctx *dp, struct lbmsg_req *req);

/* STATS_ZERO: the steering counters read as 0 from now on. */
void xdp_stats_zero(struct dp_ctx *dp);

/* Remove the pins and close the map handles (before the ports close). */
void xdp_fini(struct dp_ctx *dp);

#else /* built without libxdp: no steering */

#include <string.h>
#include <stdio.h>
#include <errno.h>

#include "arp.h"

static inline int
xdp_init(struct dp_ctx *dp, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < dp->conf.nports; i++) {
		const struct dpconf_port *p = &dp->conf.ports[i];
		bool on = p->xdp_steer < 0 ? dp->conf.xdp_steer : p->xdp_steer;

		if (on && strncmp(p->devargs, "net_af_xdp", 10) == 0) {
			snprintf(err, errlen,
				 "port %s: built without libxdp (Debian: "
				 "libxdp-dev), no XDP steering: set xdp_steer "
				 "= no",
				 p->name);
			return -ENOTSUP;
		}
	}
	return 0;
}

static inline int
xdp_start(struct dp_ctx *dp, char *err, size_t errlen)
{
	(void)dp, (void)err, (void)errlen;
	return 0;
}

static inline void
xdp_poll(struct dp_ctx *dp)
{
	(void)dp;
}

static inline void
xdp_svc_addr_cb(void *arg, const struct lb_addr *addr, bool added)
{
	arp_svc_addr_cb(arg, addr, added);
}

static inline int
xdp_stats_dump(struct dp_ctx *dp, struct lbmsg_req *req)
{
	(void)dp, (void)req;
	return 0;
}

static inline void
xdp_stats_zero(struct dp_ctx *dp)
{
	(void)dp;
}

static inline void
xdp_fini(struct dp_ctx *dp)
{
	(void)dp;
}

#endif /* EDGELB_HAVE_STEER */

#endif
