#!/usr/bin/env bash
# Two balancer nodes behind a BIRD router with ECMP (docs/scale-out.md):
#
#   eld-cl      the client 10.96.9.2 ── 10.96.9.1 eld-client, the router:
#               BIRD (tests/lab/bird/router.conf plus a node2 session),
#               merge paths, fib_multipath_hash_policy = 1, no default route
#   node 1      edgelb-dp in eld-lb (ext 10.96.1.1 on the router's eldc0,
#               int 10.96.2.1), edgelbd + BIRD in eld-sw (mgmt 10.96.4.2)
#   node 2      edgelb-dp in eld-lb2 (ext 10.96.6.1 on the router's eldc1,
#               int 10.96.2.2), edgelbd + BIRD in eld-sw2 (mgmt 10.96.7.2,
#               10.96.2.251 on the backends' bridge for health checks)
#
# One FULL-NAT service web (VIP:80 -> b1..b3), local address 10.96.2.101 on
# node 1 and 10.96.2.102 on node 2 (each node gets its own replies). Checks:
#   1. the router's kernel route for the VIP has both nodes as next hops,
#      and CONNS new connections from the client reach both dataplanes;
#   2. lbctl node drain on node 1: the router prefers node 2's route (the
#      kernel route has node 2 alone) and new connections all reach node 2;
#      undrain: both next hops again;
#   3. node 1's dataplane killed: node 1's path withdrawn within BOUND_MS,
#      every GET still answered (through node 2);
#   4. node 2 "powered off" (its dataplane killed and its management
#      traffic dropped): the router's BFD drops the session, the VIP's
#      route goes within BOUND_MS.
# shellcheck source=lbd_lib.sh
source "$(dirname "$0")/lbd_lib.sh"
# shellcheck source=bgp_lib.sh
source "$(dirname "$0")/bgp_lib.sh"
LBD_NS_ALL+=(eld-lb2 eld-sw2 eld-cl)
lbd_begin bird birdc nft

VIP=$LBD_VIP
CONNS=${LAB_BGP_CONNS:-40}
BOUND_MS=${LAB_BGP_BOUND_MS:-1000}
BIRD_DIR=$LBD_SRC/tests/lab/bird
RT_SOCK=$LBD_DIR/bird-router.ctl
N1=$LBD_DIR/n1
N2=$LBD_DIR/n2

# ---- helpers -----------------------------------------------------------------------

# write_ini N EXT-IF EXT-IP INT-IF INT-IP CLIENT-GW LADDR METRICS LIVE-IF
write_ini() {
	local d=$LBD_DIR/n$1 b
	mkdir -p "$d"
	{
		cat <<-EOF
			[global]
			log_level = info
			ctl_socket = $d/ctl.sock
			state_file = $d/state.ini
			reconcile_interval = 30s
			shutdown_grace = 5s

			[dataplane]
			socket = $d/dp.sock
			mbufs = 8191
			route = 10.96.9.0/24 via $6

			[port ext]
			devargs = net_af_packet0,iface=$2
			address = $3/24

			[port int]
			devargs = net_af_packet1,iface=$4
			address = $5/24

			[metrics]
			listen = $8

			[healthcheck web]
			type = http
			interval = ${LBD_HC_INTERVAL_MS}ms
			timeout = ${LBD_HC_TIMEOUT_MS}ms
			rise = $LBD_HC_RISE
			fall = $LBD_HC_FALL
			path = /

			[service web]
			vip = $VIP:$LBD_PORT
			proto = tcp
			mode = fnat
			scheduler = rr
			healthcheck = web
			laddr = $7
		EOF
		for b in "${LBD_BACKENDS[@]}"; do
			echo "backend = $(lbd_backend_ip "$b"):$LBD_PORT weight=1"
		done
		cat <<-EOF

			[bgp]
			bird_socket = $d/bird.ctl
			include_file = $d/edgelb-vips.conf
			liveness_interface = $9
			check_interval = 100ms
			drain_grace = 5s
		EOF
	} >"$d/edgelb.ini"
	"$EDGELBD" --check -c "$d/edgelb.ini" >"$d/check.log" 2>&1 ||
		lbd_fail "edgelbd --check refuses node $1's INI file: $(cat "$d/check.log")"
}

# Connections node N's dataplane has made for its services so far.
node_conns() { # N
	"$LBCTL" --socket "$LBD_DIR/n$1/dp.sock" -j stats |
		python3 "$(dirname "$0")/stat_sum.py" service conns_total
}

# N GETs from the client through the VIP, each a new connection; fails on
# the first one not answered.
gets() { # N
	local i
	for ((i = 0; i < $1; i++)); do
		ip netns exec eld-cl curl -sS --fail --max-time 3 -o /dev/null \
			"http://$VIP:$LBD_PORT/" || {
			lbd_fail "GET $((i + 1)) of $1 through $VIP failed"
			return 1
		}
	done
}

# ---- the lab -------------------------------------------------------------------

bgp_ecmp_topology
for b in "${LBD_BACKENDS[@]}"; do lbd_backend_start "$b"; done

write_ini 1 eldl0 10.96.1.1 eldl1 10.96.2.1 10.96.1.2 10.96.2.101 "$LBD_MGMT_IP:9190" eldalive1
write_ini 2 eld2l0 10.96.6.1 eld2l1 10.96.2.2 10.96.6.2 10.96.2.102 10.96.2.251:9190 eldalive2
bgp_ecmp_bird

node_start 1 "$LBD_NS_LB" "$LBD_NS_SW"
node_start 2 eld-lb2 eld-sw2

# ---- 1. ECMP over both nodes ----------------------------------------------------------
both="via 10.96.1.1 via 10.96.6.1 "
wait_hops "$both" 30
c1=$(node_conns 1) && c2=$(node_conns 2) || lbd_fail "stats of the dataplanes"
gets "$CONNS"
d1=$(($(node_conns 1) - c1))
d2=$(($(node_conns 2) - c2))
((d1 > 0 && d2 > 0 && d1 + d2 == CONNS)) ||
	lbd_fail "$CONNS connections: node 1 got $d1, node 2 got $d2 (want both > 0, sum $CONNS)"
lbd_log "1. kernel route: $(kernel_hops); $CONNS connections: node 1 $d1, node 2 $d2"

# ---- 2. drain node 1 -------------------------------------------------------------------
"$LBCTL" --socket "$N1/ctl.sock" node drain >/dev/null || lbd_fail "node 1: lbctl node drain failed"
wait_hops "via 10.96.6.1 " 10
c1=$(node_conns 1) && c2=$(node_conns 2) || lbd_fail "stats of the dataplanes"
gets 20
d1=$(($(node_conns 1) - c1))
d2=$(($(node_conns 2) - c2))
((d1 == 0 && d2 == 20)) || lbd_fail "drained node 1: 20 new connections went node 1 $d1, node 2 $d2"
lbd_log "2. node 1 drained: kernel route $(kernel_hops); 20 new connections: node 1 $d1, node 2 $d2"
"$LBCTL" --socket "$N1/ctl.sock" node undrain >/dev/null || lbd_fail "node 1: lbctl node undrain failed"
wait_hops "$both" 10
lbd_log "2. node 1 undrained: kernel route $(kernel_hops)"

# ---- 3. node 1's dataplane killed -----------------------------------------------------------
pid=$(lbd_pid edgelb-dp1)
t0=$(lbd_now_ms)
kill -KILL "$pid"
until [ "$(kernel_hops)" = "via 10.96.6.1 " ]; do
	(($(lbd_now_ms) - t0 < 5000)) || break
	sleep 0.01
done
ms=$(($(lbd_now_ms) - t0))
wait "$pid" 2>/dev/null || true
rm -f "$LBD_DIR/edgelb-dp1.pid"
[ "$(kernel_hops)" = "via 10.96.6.1 " ] || lbd_fail "node 1's path still in the router's kernel 5 s after its dataplane was killed"
((ms <= BOUND_MS)) || lbd_fail "node 1's dataplane killed: its path left the router's kernel after $ms ms, the bound is $BOUND_MS ms"
gets 20
lbd_log "3. node 1's dataplane killed: its path left the router's kernel route after $ms ms; 20 GETs answered by node 2"

# ---- 4. node 2 powered off: BFD ------------------------------------------------------------
ip netns exec eld-sw2 nft -f - <<-'EOF'
	table inet poweroff {
		chain pre { type filter hook prerouting priority -300; policy accept; }
	}
EOF
pid=$(lbd_pid edgelb-dp2)
t0=$(lbd_now_ms)
ip netns exec eld-sw2 nft add rule inet poweroff pre iifname eldrm3 drop
ip netns exec eld-sw2 nft add chain inet poweroff out '{ type filter hook output priority -300; policy drop; }'
kill -KILL "$pid"
until [ -z "$(rt_route "$VIP")" ]; do
	(($(lbd_now_ms) - t0 < 5000)) || break
	sleep 0.01
done
ms=$(($(lbd_now_ms) - t0))
wait "$pid" 2>/dev/null || true
rm -f "$LBD_DIR/edgelb-dp2.pid"
[ -z "$(rt_route "$VIP")" ] || lbd_fail "the VIP still routed 5 s after node 2 was powered off"
((ms <= BOUND_MS)) || lbd_fail "node 2 powered off: withdrawn after $ms ms, the bound is $BOUND_MS ms"
rt_birdc show protocols node2 >"$LBD_DIR/node2.proto" 2>&1 || true
grep -q "BFD session down" "$LBD_DIR/node2.proto" ||
	lbd_fail "the router's session to node 2 did not end through BFD: $(tail -n 1 "$LBD_DIR/node2.proto")"
lbd_log "4. node 2 powered off (dataplane killed, management traffic dropped): withdrawn on the router after $ms ms ($(tail -n 1 "$LBD_DIR/node2.proto" | tr -s ' '))"

lbd_end
