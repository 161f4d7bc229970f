# The BGP labs' common part (sourced by tests/e2e/lab_bgp*.sh after
# lbd_lib.sh): BIRD instances started into $LBD_DIR (their pid files make
# lbd_cleanup stop them) and the router's routes read with birdc on
# $RT_SOCK.

rt_birdc() { birdc -s "$RT_SOCK" "$@"; }

# The router's route for VIP/32 with its attributes ("" when none).
rt_route() { # VIP
	local out
	if ! out=$(rt_birdc show route "$1/32" all 2>&1); then
		# birdc fails on BIRD's "8001 Network not found": no route
		grep -q "Network not found" <<<"$out" && return 0
		printf '%s\n' "$out" >&2
		return 1
	fi
	grep -A20 "^$1/32" <<<"$out" || true
}

# The BIRD since-time of the router's route for VIP ("" when none).
rt_since() { # VIP
	local r
	r=$(rt_route "$1") || return 1
	sed -n "s|^$1/32 .*\[node[0-9]* \([0-9:.]*\) from.*|\1|p" <<<"$r"
}

# wait_route VIP yes|no SECONDS [PATTERN]: until the router has (or has
# no) route for VIP (whose attributes match PATTERN, a grep -E).
wait_route() {
	local vip=$1 want=$2 deadline=$((SECONDS + $3)) pat=${4:-} r
	while :; do
		r=$(rt_route "$vip") || r="?"
		if [ "$want" = yes ] && [ -n "$r" ] && [ "$r" != "?" ] &&
			{ [ -z "$pat" ] || grep -Eq "$pat" <<<"$r"; }; then
			return 0
		fi
		[ "$want" = no ] && [ -z "$r" ] && return 0
		((SECONDS < deadline)) || {
			lbd_fail "route for $vip: wanted $want${pat:+ ($pat)} within $3 s; router has: ${r:-none}"
			return 1
		}
		sleep 0.05
	done
}

# bird_start NAME NS CONF SOCK [BIRD-OPTION...]: BIRD in the foreground
# in NS; waits (10 s at most) until it answers on SOCK.
bird_start() {
	ip netns exec "$2" bird -f -c "$3" -s "$4" "${@:5}" >>"$LBD_DIR/bird-$1.log" 2>&1 8>&- &
	echo $! >"$LBD_DIR/bird-$1.pid"
	local deadline=$((SECONDS + 10))
	until birdc -s "$4" show status >/dev/null 2>&1; do
		kill -0 "$(lbd_pid "bird-$1")" 2>/dev/null || {
			lbd_fail "bird ($1) exited during start-up"
			return 1
		}
		((SECONDS < deadline)) || {
			lbd_fail "bird ($1) does not answer on $4"
			return 1
		}
		sleep 0.05
	done
}

# Updates the router's BIRD received from node1 so far (its "Import
# updates" count).
rt_updates() {
	local out
	out=$(rt_birdc show protocols all node1) || return 1
	sed -n 's/^ *Import updates: *\([0-9]*\).*/\1/p' <<<"$out"
}

# ---- the two-node ECMP topology (lab_bgp_ecmp.sh, lab_bgp_failover.sh) ----
#
#   eld-cl      the client 10.96.9.2 ── 10.96.9.1 eld-client, the router
#               (ECMP, fib_multipath_hash_policy = 1, no default route)
#   node 1      edgelb-dp in eld-lb (ext 10.96.1.1, int 10.96.2.1),
#               edgelbd + BIRD in eld-sw (mgmt 10.96.4.2)
#   node 2      edgelb-dp in eld-lb2 (ext 10.96.6.1, int 10.96.2.2),
#               edgelbd + BIRD in eld-sw2 (mgmt 10.96.7.2, 10.96.2.251
#               on the backends' bridge)
#
# The scripts set VIP, RT_SOCK, BIRD_DIR, N1, N2 and add eld-lb2 eld-sw2
# eld-cl to LBD_NS_ALL before lbd_begin; each writes its own INI files
# ($N1/edgelb.ini, $N2/edgelb.ini).

# The namespaces, links and addresses (backends not started).
bgp_ecmp_topology() {
	lbd_topology
	ip -n "$LBD_NS_CLIENT" route del default
	# the client behind the router
	lbd_veth eld-cl eldcl0 "$LBD_NS_CLIENT" eldcr0
	ip -n eld-cl addr add 10.96.9.2/24 dev eldcl0
	ip -n eld-cl route add default via 10.96.9.1
	ip -n "$LBD_NS_CLIENT" addr add 10.96.9.1/24 dev eldcr0
	ip netns exec "$LBD_NS_CLIENT" sysctl -q -w net.ipv4.ip_forward=1 \
		net.ipv4.fib_multipath_hash_policy=1
	# node 2's data link to the router and its int port on the bridge
	lbd_veth "$LBD_NS_CLIENT" eldc1 eld-lb2 eld2l0
	ip -n "$LBD_NS_CLIENT" addr add 10.96.6.2/24 dev eldc1
	lbd_veth eld-lb2 eld2l1 "$LBD_NS_SW" eld2sl
	ip -n "$LBD_NS_SW" link set eld2sl master eldbr0
	ip netns exec eld-lb2 sysctl -q -w net.ipv4.ip_forward=0
	ip -n eld-lb2 link set eld2l0 arp off
	ip -n eld-lb2 link set eld2l1 arp off
	# node 2's control namespace: on the bridge (health checks) and on its
	# own management link to the router
	lbd_veth eld-sw2 eld2m0 "$LBD_NS_SW" eld2sm
	ip -n "$LBD_NS_SW" link set eld2sm master eldbr0
	ip -n eld-sw2 addr add 10.96.2.251/24 dev eld2m0
	# management links (BGP, BFD)
	lbd_veth "$LBD_NS_CLIENT" eldrm0 "$LBD_NS_SW" eldrm1
	ip -n "$LBD_NS_CLIENT" addr add 10.96.4.1/24 dev eldrm0
	ip -n "$LBD_NS_SW" addr add 10.96.4.2/24 dev eldrm1
	lbd_veth "$LBD_NS_CLIENT" eldrm2 eld-sw2 eldrm3
	ip -n "$LBD_NS_CLIENT" addr add 10.96.7.1/24 dev eldrm2
	ip -n eld-sw2 addr add 10.96.7.2/24 dev eldrm3
}

# BIRD: node 1 with the example as is, node 2 with its own addresses; the
# router with the example plus a session to node 2.
bgp_ecmp_bird() {
	sed -e "s|/run/bird/edgelb-vips\*.conf|$N1/edgelb-vips*.conf|" \
		"$BIRD_DIR/balancer.conf" >"$N1/bird.conf"
	sed -e "s|/run/bird/edgelb-vips\*.conf|$N2/edgelb-vips*.conf|" \
		-e 's|10\.96\.4\.2|10.96.7.2|g' -e 's|10\.96\.4\.1|10.96.7.1|g' \
		-e 's|bgp_next_hop = 10\.96\.1\.1|bgp_next_hop = 10.96.6.1|' \
		"$BIRD_DIR/balancer.conf" >"$N2/bird.conf"
	grep -q "bgp_next_hop = 10.96.6.1" "$N2/bird.conf" || lbd_fail "node 2's bird.conf: next hop not replaced"
	grep -q "$N2/edgelb-vips" "$N2/bird.conf" || lbd_fail "node 2's bird.conf: include not replaced"
	{
		cat "$BIRD_DIR/router.conf"
		printf '\nprotocol bgp node2 from balancer {\n\tlocal 10.96.7.1 as 65000;\n\tneighbor 10.96.7.2 as 65001;\n}\n'
	} >"$LBD_DIR/router.conf"
	bird_start n1 "$LBD_NS_SW" "$N1/bird.conf" "$N1/bird.ctl"
	bird_start n2 eld-sw2 "$N2/bird.conf" "$N2/bird.ctl"
	bird_start router "$LBD_NS_CLIENT" "$LBD_DIR/router.conf" "$RT_SOCK"
}

# node_start N DP-NS CTL-NS: edgelb-dp and edgelbd of node N.
node_start() {
	local d=$LBD_DIR/n$1 deadline
	ip netns exec "$2" "$EDGELB_DP" --no-huge -m 512 --no-pci --no-shconf \
		-l 0,1 --file-prefix "eld-$$-n$1-$SECONDS" -- -c "$d/edgelb.ini" \
		>>"$LBD_DIR/edgelb-dp$1.log" 2>&1 8>&- &
	echo $! >"$LBD_DIR/edgelb-dp$1.pid"
	deadline=$((SECONDS + 30))
	until "$LBCTL" --socket "$d/dp.sock" port show >/dev/null 2>&1; do
		kill -0 "$(lbd_pid "edgelb-dp$1")" 2>/dev/null || {
			lbd_fail "node $1: edgelb-dp exited during start-up"
			return 1
		}
		((SECONDS < deadline)) || {
			lbd_fail "node $1: edgelb-dp did not open dp.sock in 30 s"
			return 1
		}
		sleep 0.05
	done
	[ -n "${3:-}" ] || return 0
	ip netns exec "$3" "$EDGELBD" -f -c "$d/edgelb.ini" \
		>>"$LBD_DIR/edgelbd$1.log" 2>&1 8>&- &
	echo $! >"$LBD_DIR/edgelbd$1.pid"
	deadline=$((SECONDS + 15))
	until "$LBCTL" --socket "$d/ctl.sock" service show >/dev/null 2>&1; do
		((SECONDS < deadline)) || {
			lbd_fail "node $1: edgelbd did not answer in 15 s"
			return 1
		}
		sleep 0.05
	done
}

# The router kernel's next hops for the VIP, sorted, one line ("" when
# it has no route).
kernel_hops() {
	local r
	r=$(ip -n "$LBD_NS_CLIENT" route show "$VIP") || return 1
	{ grep -o "via [0-9.]*" <<<"$r" || true; } | sort | tr '\n' ' '
}

wait_hops() { # WANT SECONDS
	local deadline=$((SECONDS + $2)) h
	while :; do
		h=$(kernel_hops) || h="?"
		[ "$h" = "$1" ] && return 0
		((SECONDS < deadline)) || {
			lbd_fail "router kernel next hops for $VIP: '$h', wanted '$1' within $2 s"
			return 1
		}
		sleep 0.05
	done
}

