/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The liveness interface of the [bgp] module: a TAP interface that
 * edgelbd creates and holds open. The kernel removes a non-persistent
 * TAP interface when its last descriptor closes, so it exists exactly as
 * long as the edgelbd process (SIGKILL, a crash or an OOM kill included).
 * The announced VIPs are BIRD static routes "via" this interface: when it
 * goes away BIRD's device protocol hears it from the kernel at once and
 * the static routes, hence their BGP announcements, are withdrawn.
 */
#ifndef EDGELBD_BGP_LIVE_H
#define EDGELBD_BGP_LIVE_H

/*
 * Create the TAP interface name (at most IFNAMSIZ - 1 bytes) and set it
 * up. Returns its descriptor (close it to remove the interface) or
 * -errno: -EEXIST when an interface of that name exists and is
 * persistent (it would outlive edgelbd), -EPERM without CAP_NET_ADMIN,
 * -ENOENT without /dev/net/tun.
 */
int bgp_live_open(const char *name);

#endif
