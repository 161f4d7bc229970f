#!/usr/bin/env bash
# Fragments through edgelb-dp (docs/dataplane.md "Fragments"): the
# router's link to the LB (elb-r1) has MTU 1400 while everything else has
# 1500, the LB's ports are net_af_xdp.
#  (a) A 3,000-byte UDP datagram from the client: the client's kernel
#      fragments it for its 1500 MTU, the router again for 1400 (five
#      fragments). edgelb-dp reassembles it, forwards it whole and cuts it
#      again for the backends' 1500 MTU (TUNNEL: the outer packet); the
#      backend answers with the length and sha256 of what it received,
#      which must be what the client sent. UDP is sent again, up to 5
#      times, when no answer comes in 2 s (a busy machine may drop one);
#      the try that worked is printed.
#  (b) A 2 MB TCP upload whose segments have DF cleared
#      (IP_PMTUDISC_DONT): the router fragments each full-size segment,
#      edgelb-dp reassembles every one; the backend answers the length and
#      sha256 of the whole stream.
#  (c) The counters: datagrams reassembled, no fragment dropped for a
#      reason of ours.
# FULL-NAT, DR and TUNNEL run (a), (b), (c). NAT runs (a) and (c) with
# the check on the backend's side: with xdp_steer, the NAT backends'
# answers (to the client's address) go to the LB's kernel, not to
# edgelb-dp (docs/dataplane.md, XDP steering), and lab.sh has no switch
# for xdp_steer = no on the backends' port.
# Why net_af_xdp: DPDK 22.11's net_af_packet joins a PACKET_FANOUT group
# with the defragment flag, so the kernel reassembles before edgelb-dp
# sees a fragment (and truncates datagrams over its ~2 KB frames); it
# cannot show the dataplane's reassembly. Without edgelb-bpf (libxdp)
# this lab is skipped.
# Backends run tests/e2e/frag_peer.py on UDP 9100 / TCP 9101, services
# are added for them next to the lab's own.
# Without reassembly (frag_reassembly = no, or the hook removed) the
# non-first fragments are dropped as "fragment" and every transfer fails.
source "$(dirname "$0")/lib.sh"
e2e_begin
lab_bin edgelb-bpf >/dev/null 2>&1 ||
	e2e_skip "needs net_af_xdp with xdp_steer: edgelb-bpf not built (Debian: libxdp-dev)"

FRAG_PEER=$E2E_SRC/tests/e2e/frag_peer.py
FRAG_UDP=9100
FRAG_TCP=9101

# frag_setup MODE: the peers in every backend, their services, the
# router's 1400 MTU towards the LB.
frag_setup() {
	local mode=$1 b proto port deadline
	for b in "${LAB_BACKENDS[@]}"; do
		lab_ns "elb-$b" timeout 900 python3 "$FRAG_PEER" serve "$b" \
			0.0.0.0 "$FRAG_UDP" "$FRAG_TCP" \
			>>"$LAB_DIR/fragpeer-$b.log" 2>&1 9>&- &
		echo $! >"$LAB_DIR/fragpeer-$b.pid"
	done
	for b in "${LAB_BACKENDS[@]}"; do
		deadline=$((SECONDS + 15))
		until lab_ns "elb-$b" ss -Hltn "sport = :$FRAG_TCP" | grep -q .; do
			((SECONDS < deadline)) || {
				e2e_fail "frag_peer did not listen in elb-$b"
				return 1
			}
			sleep 0.2
		done
	done
	for proto in udp tcp; do
		port=$FRAG_UDP
		[ "$proto" = tcp ] && port=$FRAG_TCP
		lab_lbctl service add "$proto" "$LAB_VIP:$port" mode "$mode" \
			sched rr || {
			e2e_fail "service add $proto $port"
			return 1
		}
		for b in "${LAB_BACKENDS[@]}"; do
			lab_lbctl backend add "$proto" "$LAB_VIP:$port" \
				"$(lab_backend_ip "$b"):$port" weight 1 || {
				e2e_fail "backend add $b"
				return 1
			}
		done
		if [ "$mode" = fnat ]; then
			lab_lbctl laddr add "$proto" "$LAB_VIP:$port" \
				"$LAB_LADDR" || {
				e2e_fail "laddr add"
				return 1
			}
		fi
	done
	lab_router ip link set dev elb-r1 mtu 1400 || {
		e2e_fail "router mtu"
		return 1
	}
}

# scen_frag_udp N SIZE: N datagrams of SIZE bytes, each answered right.
scen_frag_udp() {
	local n=$1 size=$2 i out
	for ((i = 0; i < n; i++)); do
		if ! out=$(lab_client timeout 20 python3 "$FRAG_PEER" udp \
			"$LAB_VIP" "$FRAG_UDP" "$size" 2>&1); then
			e2e_fail "udp $size bytes, datagram $((i + 1)): $out"
			return 1
		fi
		e2e_log "udp: $out"
	done
}

# scen_frag_tcp SIZE: an upload of SIZE bytes in fragmented segments.
scen_frag_tcp() {
	local size=$1 out
	if ! out=$(lab_client timeout 60 python3 "$FRAG_PEER" tcp \
		"$LAB_VIP" "$FRAG_TCP" "$size" 2>&1); then
		e2e_fail "tcp upload of $size bytes: $out"
		return 1
	fi
	e2e_log "tcp: $out"
}

# scen_frag_counters MIN: at least MIN datagrams reassembled; no drop of
# a fragment for a reason of ours.
scen_frag_counters() {
	local min=$1 re r v bad=""
	re=$(e2e_stat lcore frag_reassembled_total) || {
		e2e_fail "lbctl stats"
		return 1
	}
	for r in fragment frag_tiny frag_short frag_too_big frag_bad \
		frag_table_full frag_nomem too_big; do
		v=$(e2e_stat drop "$r") || return 1
		[ "$v" = 0 ] || bad+=" $r=$v"
	done
	e2e_log "reassembled $re datagrams; fragment drops:${bad:- none}"
	[ "$re" -ge "$min" ] || {
		e2e_fail "only $re datagrams reassembled, want >= $min"
		return 1
	}
	[ -z "$bad" ] || {
		e2e_fail "fragments dropped:$bad"
		return 1
	}
}

# scen_frag_udp_seen N SIZE: N datagrams of SIZE bytes, each arrived
# whole at a backend (its frag_peer log), no answer expected.
scen_frag_udp_seen() {
	local n=$1 size=$2 i out
	for ((i = 0; i < n; i++)); do
		if ! out=$(lab_client timeout 20 python3 "$FRAG_PEER" udpsend \
			"$LAB_VIP" "$FRAG_UDP" "$size" \
			"$LAB_DIR/fragpeer-b*.log" 2>&1); then
			e2e_fail "udp $size bytes, datagram $((i + 1)): $out"
			return 1
		fi
		e2e_log "udp: $out"
	done
}

for mode in nat fnat dr tunnel; do
	e2e_log "---- mode $mode"
	lab_up "$mode" --port-type af_xdp || {
		e2e_fail "lab_up $mode"
		continue
	}
	frag_setup "$mode" || continue
	# the router learns the VIP's MAC before the first datagram
	lab_client ping -c 2 -i 0.2 -W 2 "$LAB_VIP" >/dev/null ||
		e2e_log "ping of the VIP before the transfers failed"
	if [ "$mode" = nat ]; then
		e2e_scen scen_frag_udp_seen 3 3000
		e2e_scen scen_frag_counters 3
		continue
	fi
	e2e_scen scen_frag_udp 3 3000
	e2e_scen scen_frag_tcp $((2 * 1024 * 1024))
	# 3 datagrams, and each of the upload's full-size segments
	e2e_scen scen_frag_counters 100
done
e2e_end
