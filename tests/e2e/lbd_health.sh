#!/usr/bin/env bash
# Health checks drive the dataplane. Service web (NAT, rr, b1..b3) has an
# HTTP check, interval 500ms, timeout 300ms, fall 2, rise 2:
#   - b2's HTTP server is killed: within fall x interval + timeout (+ a
#     2 s margin for a loaded machine) lbctl health show -j reports it
#     down, the dataplane gives it weight 0 and the down flag, and 30
#     GETs through the VIP all succeed, answered by b1 and b3 only;
#   - b2 is started again: within rise x interval + interval + timeout
#     (+ 2 s) it is up, its weight is back (flag cleared), and it takes
#     its share of 30 GETs again.
# shellcheck source=lbd_lib.sh
source "$(dirname "$0")/lbd_lib.sh"
lbd_begin

MARGIN_MS=2000

# State ("up", "down", "unknown") of backend ADDR of service web.
health_of() {
	lbd_lbctl -j health show | python3 -c '
import json, sys
for h in json.load(sys.stdin):
    if h.get("addr") == sys.argv[1] and h.get("vport") == 80:
        print(h.get("state"))
        break
' "$1"
}

# wait_state ADDR STATE BUDGET_MS: poll every 50 ms; prints the time it
# took in ms, fails after BUDGET_MS (and a bounded number of polls).
wait_state() {
	local addr=$1 want=$2 budget=$3 t0 now i st=
	t0=$(lbd_now_ms)
	for ((i = 0; i < 2000; i++)); do
		st=$(health_of "$addr" || true)
		now=$(lbd_now_ms)
		if [ "$st" = "$want" ]; then
			echo $((now - t0))
			return 0
		fi
		((now - t0 <= budget)) || break
		sleep 0.05
	done
	lbd_fail "$addr is '$st', not '$want', after $((now - t0)) ms (budget $budget ms)"
	return 1
}

# wait_dp_weight ADDR WEIGHT BUDGET_MS: the dataplane's weight of ADDR:80.
wait_dp_weight() {
	local addr=$1 want=$2 budget=$3 t0 now i got=
	t0=$(lbd_now_ms)
	for ((i = 0; i < 1000; i++)); do
		got=$(lbd_dp_backends "$LBD_PORT" | sed -n "s|^$addr:$LBD_PORT/||p")
		now=$(lbd_now_ms)
		if [ "$got" = "$want" ]; then
			echo $((now - t0))
			return 0
		fi
		((now - t0 <= budget)) || break
		sleep 0.05
	done
	lbd_fail "dataplane weight of $addr is '$got', not $want, after $((now - t0)) ms"
	return 1
}

# dp_flags ADDR: the dataplane's FLAGS of backend ADDR (bit 0: down).
dp_flags() {
	lbd_dpctl -j backend show tcp "$LBD_VIP:$LBD_PORT" | python3 -c '
import json, sys
for b in json.load(sys.stdin):
    if b.get("addr") == sys.argv[1]:
        print(b.get("flags", 0))
' "$1"
}

lbd_up
b2=$(lbd_backend_ip b2)

# Everyone up first (rise 2: about 1 s after start).
t=$(wait_state "$b2" up 5000)
lbd_log "b2 up $t ms after edgelbd answered"
lbd_lbctl health show

# ---- b2 goes down -------------------------------------------------------
budget=$((LBD_HC_FALL * LBD_HC_INTERVAL_MS + LBD_HC_TIMEOUT_MS + MARGIN_MS))
lbd_backend_stop b2
t_down=$(wait_state "$b2" down "$budget")
lbd_log "b2 killed: reported down after $t_down ms (budget $budget ms =" \
	"fall $LBD_HC_FALL x $LBD_HC_INTERVAL_MS + $LBD_HC_TIMEOUT_MS + $MARGIN_MS)"
t_w=$(wait_dp_weight "$b2" 0 2000)
lbd_log "dataplane weight of b2 is 0 $t_w ms after that"
f=$(dp_flags "$b2") || lbd_fail "backend show failed"
[ "$f" = 1 ] || lbd_fail "b2 down: dataplane flags '$f', expected 1 (down)"
spread=$(lbd_spread 30) || exit 1
lbd_log "b2 down: 30/30 GETs answered: $spread"
grep -q 'b2=' <<<"$spread" && lbd_fail "b2 is down but answered: $spread"
[ "$spread" = "b1=15 b3=15 " ] ||
	lbd_fail "b2 down: expected 'b1=15 b3=15' (rr), got '$spread'"

# ---- b2 comes back --------------------------------------------------------
budget=$((LBD_HC_RISE * LBD_HC_INTERVAL_MS + LBD_HC_INTERVAL_MS + LBD_HC_TIMEOUT_MS + MARGIN_MS))
lbd_backend_start b2
t_up=$(wait_state "$b2" up "$budget")
lbd_log "b2 restarted: reported up after $t_up ms (budget $budget ms =" \
	"rise $LBD_HC_RISE x $LBD_HC_INTERVAL_MS + $LBD_HC_INTERVAL_MS + $LBD_HC_TIMEOUT_MS + $MARGIN_MS)"
t_w=$(wait_dp_weight "$b2" 1 2000)
lbd_log "dataplane weight of b2 is 1 $t_w ms after that"
f=$(dp_flags "$b2") || lbd_fail "backend show failed"
[ "$f" = 0 ] || lbd_fail "b2 up: dataplane flags '$f', expected 0"
spread=$(lbd_spread 30) || exit 1
lbd_log "b2 up again: 30/30 GETs answered: $spread"
[ "$spread" = "b1=10 b2=10 b3=10 " ] ||
	lbd_fail "b2 up: expected 'b1=10 b2=10 b3=10' (rr), got '$spread'"
lbd_lbctl health show
lbd_end
