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
