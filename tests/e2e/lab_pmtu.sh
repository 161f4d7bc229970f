#!/usr/bin/env bash
# Path MTU discovery through edgelb-dp, in NAT and then FULL-NAT (the
# modes whose replies pass the balancer): the LB's client-side port
# (ext) has MTU 1400 while the client, the router and the backends use
# 1500, so a backend's full-size segments (MSS 1460 from the client's
# SYN, DF set by Linux) do not fit the LB's egress. edgelb-dp answers
# each with ICMP fragmentation needed (next-hop MTU 1400) from its
# backend-side address; the backend's kernel lowers its path MTU to the
# client (FULL-NAT: to the LB's local address) and sends again, and a
# 20 MB download completes with the right sha256. Then: a backend's route
# cache holds mtu 1400 for that destination, and the counters show
# frag_needed drops and the ICMP messages sent.
# Without the frag-needed answer the oversized segments die at the
# ext port and the download times out.
source "$(dirname "$0")/lib.sh"
e2e_begin

# The LB's counters, summed over its lcores: NAME -> value (0 if absent).
pmtu_stat() {
	local out
	out=$(lab_lbctl stats) || {
		e2e_fail "lbctl stats failed"
		return 1
	}
	awk -v n="$1" '$1 == n { s += $2 } END { print s + 0 }' <<<"$out"
}

# scen_pmtu_state DST: the counters moved and a backend caches path MTU
# 1400 to DST.
scen_pmtu_state() {
	local dst=$1 b n sent drops cached=""
	sent=$(pmtu_stat icmp_frag_needed_sent_total) || return 1
	drops=$(pmtu_stat frag_needed) || return 1
	e2e_log "frag_needed drops $drops, icmp_frag_needed_sent_total $sent"
	if [ "$sent" -lt 1 ] || [ "$drops" -lt "$sent" ]; then
		e2e_fail "expected frag-needed answers: sent $sent, drops $drops"
		return 1
	fi
	for b in "${LAB_BACKENDS[@]}"; do
		n=$(ip netns exec "elb-$b" ip -o route get "$dst") || {
			e2e_fail "ip route get in elb-$b failed"
			return 1
		}
		if [[ $n == *" mtu 1400"* ]]; then
			cached+=" $b"
		fi
	done
	e2e_log "backends with path MTU 1400 to $dst:${cached:- none}"
	[ -n "$cached" ] || {
		e2e_fail "no backend learned the path MTU 1400"
		return 1
	}
}

lab_up nat --ext-mtu 1400
e2e_scen scen_download $((20 * 1024 * 1024))
e2e_scen scen_pmtu_state "$LAB_CLIENT_IP"

lab_up fnat --ext-mtu 1400
e2e_scen scen_download $((20 * 1024 * 1024))
e2e_scen scen_pmtu_state "$LAB_LADDR"
e2e_end
