/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The BGP module of edgelbd ([bgp], docs/scale-out.md): it decides which
 * VIPs this node announces and has BIRD 2 announce exactly those.
 *
 * Mechanism. Every check_interval the module evaluates, from the view
 * snapshot (view.h) and the dataplane client: a VIP (IPv4) is announced
 * while the dataplane is connected and holds the desired state (the
 * last full reconcile succeeded), the node is not drained, and the
 * usable backends of the services on that VIP reach min_healthy (any:
 * one; N%: N percent of its configured backends, and at least one). The
 * announced set is rendered as BIRD static routes ("route VIP/32 via
 * "LIVENESS_IF" { bgp_med = ..; bgp_local_pref = ..;
 * bgp_community.add(..); };", or "blackhole" without a
 * liveness_interface), one per VIP in address order, into include_file,
 * which the
 * operator's bird.conf includes inside a static protocol. When the text
 * differs from what BIRD last loaded, the module writes it (temporary
 * file + rename, so BIRD never reads half a file) and sends "configure"
 * over BIRD's control socket; BIRD's static protocol reconfigures route
 * by route, so the routes of other VIPs are not touched. A failed
 * exchange is counted and retried one second later.
 *
 * Drain (lbctl node drain, or SIGTERM): the VIPs are announced with the
 * GRACEFUL_SHUTDOWN community 65535:0 and local_pref 0 (RFC 8326;
 * drain_shutdown_community = no: withdrawn at once), so routers move new
 * flows to other nodes while this one stays the last resort; the module
 * polls the dataplane's active connections and withdraws everything when
 * none is left or drain_grace has passed (state "drained"). The
 * dataplane keeps its services and forwards whatever still arrives.
 * lbctl node undrain announces again. A reload (SIGHUP) that removes
 * [bgp] or changes include_file or bird_socket first empties the old
 * file and reconfigures the old BIRD, blocking for at most bird_timeout.
 * At start, before anything else, it writes the include file without
 * routes and reconfigures BIRD (bird_timeout bound), so nothing a
 * previous edgelbd left comes back. On exit the module closes the
 * liveness interface, writes an empty file and reconfigures BIRD
 * synchronously (bird_timeout bound).
 *
 * edgelbd's death: with liveness_interface, the routes go through a TAP
 * interface edgelbd holds open (bgp_live.h); the kernel removes it with
 * the process and BIRD withdraws every route via it.
 *
 * lbctl: MODULE_CMD to "bgp" with MOD_CMD "node.drain", "node.undrain"
 * or "node.status"; the reply's MOD_DATA is a JSON object {"state",
 * "announced": [VIP...], "active_conns", "reconfigures", "errors",
 * "last_error"}.
 */
#ifndef EDGELBD_BGP_MODULE_H
#define EDGELBD_BGP_MODULE_H

#include "modules.h"

extern const struct lbd_module bgp_module;

#endif
