#!/usr/bin/env bash
# A spoofed SYN flood into the FULL-NAT service while curl keeps working.
# tests/e2e/syn_flood.py sends SYNs from random addresses of the client's
# /24 (16384 distinct tuples, at most FLOOD_COUNT frames in FLOOD_SECS
# seconds, at most FLOOD_RATE a second: a rate the lab's veth and
# AF_PACKET ring carry on a busy 2-core machine, so that what is tested is
# the dataplane's answer to the flood, not frames of the requests lost in
# the kernel before it) into the VIP from the client namespace; while it runs the
# client makes sequential requests (curl, 10 s each: a client's SYN
# retransmissions at 1, 3 and 7 s; at most MAX_CURLS, at least
# MIN_CURLS must have been made before the flood ends). With `synproxy
# on` the dataplane answers every SYN with a cookie and keeps no state
# for it, so: every request succeeds, every frame the dataplane received
# on its client side but the requests' own (at most 20 each) was answered
# with a cookie (the kernel's AF_PACKET ring may drop part of the flood
# before: that part counts neither way), the requests' backend
# handshakes completed, and the connection table holds
# no more than the requests' own connections (no embryonic entry, nothing
# evicted). With `synproxy off` each spoofed tuple would sit in the table
# as a SYN_RECV connection for 30 s.
source "$(dirname "$0")/lib.sh"
e2e_begin

FLOOD_COUNT=${FLOOD_COUNT:-1000000}
FLOOD_SECS=${FLOOD_SECS:-8}
FLOOD_RATE=${FLOOD_RATE:-10000}
MIN_CURLS=10
MAX_CURLS=300
FLOOD_PY=$(dirname "$0")/syn_flood.py

# stat KIND NAME: the counter summed over the dataplane's parts
stat() {
	local v
	v=$(e2e_stat "$1" "$2") || {
		e2e_fail "lbctl stats failed"
		return 1
	}
	echo "$v"
}

scen_flood() {
	local mode=$1 pid ok=0 n=0 j sent cookies bad hs conns evicted c0 d0 e0 r0 rx
	lab_lbctl service set tcp "$LAB_VIP:$LAB_TCP_PORT" toa synproxy "$mode" ||
		{ e2e_fail "lbctl service set ... synproxy $mode failed"; return 1; }
	c0=$(stat lcore synproxy_cookies_sent_total) || return 1
	d0=$(stat lcore synproxy_backend_done_total) || return 1
	e0=$(stat conntab evicted_syn_total) || return 1
	r0=$(e2e_stat port rx_packets_total ext) || { e2e_fail "lbctl stats failed"; return 1; }
	lab_client timeout $((FLOOD_SECS + 10)) python3 "$FLOOD_PY" "$LAB_VIP" \
		"$LAB_TCP_PORT" 10.99.1 "$FLOOD_COUNT" "$FLOOD_SECS" "$FLOOD_RATE" \
		>"$E2E_TMP/flood.json" 2>"$E2E_TMP/flood.err" &
	pid=$!
	sleep 1
	while kill -0 "$pid" 2>/dev/null && ((n < MAX_CURLS)); do
		n=$((n + 1))
		if lab_client curl -sS --fail --max-time 10 -o /dev/null \
			"http://$LAB_VIP:$LAB_TCP_PORT/" 2>>"$E2E_TMP/curl.err"; then
			ok=$((ok + 1))
		fi
	done
	# sampled while the flood's SYN_RECV entries (if any) would still live
	conns=$(stat conntab conns) || return 1
	wait "$pid" || { e2e_fail "syn_flood.py failed: $(cat "$E2E_TMP/flood.err")"; return 1; }
	j=$(cat "$E2E_TMP/flood.json")
	sent=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["sent"])' "$j") ||
		{ e2e_fail "syn_flood.py printed '$j'"; return 1; }
	cookies=$(($(stat lcore synproxy_cookies_sent_total) - c0))
	hs=$(($(stat lcore synproxy_backend_done_total) - d0))
	evicted=$(($(stat conntab evicted_syn_total) - e0))
	rx=$(($(e2e_stat port rx_packets_total ext) - r0))
	bad=$(stat drop synproxy_bad_cookie) || return 1
	e2e_log "synproxy $mode: flood $j; curl $ok/$n ok during it;" \
		"$rx frames received on ext, cookies sent $cookies, backend handshakes $hs, bad cookies $bad;" \
		"conn table $conns connections, $evicted embryonic evicted"
	((sent >= 1000)) || { e2e_fail "the flood sent only $sent SYNs"; return 1; }
	((n >= MIN_CURLS)) || { e2e_fail "only $n requests during the flood"; return 1; }
	((ok == n)) || { e2e_fail "only $ok of $n requests succeeded"; return 1; }
	((rx >= 1000)) || { e2e_fail "the dataplane received only $rx frames"; return 1; }
	((cookies + 20 * n >= rx)) ||
		{ e2e_fail "$cookies cookies for $rx frames received ($n requests)"; return 1; }
	((hs >= ok)) ||
		{ e2e_fail "$hs backend handshakes for $ok requests"; return 1; }
	((conns <= n + 8)) ||
		{ e2e_fail "$conns connections in the table after $n requests"; return 1; }
	((evicted == 0)) || { e2e_fail "$evicted embryonic connections evicted"; return 1; }
}

lab_up fnat
e2e_scen scen_flood on
e2e_end
