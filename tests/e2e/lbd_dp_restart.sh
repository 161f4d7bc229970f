#!/usr/bin/env bash
# edgelb-dp restarts under a running edgelbd. The desired state is service
# web from the INI file (NAT, b1..b3) plus service web2 made with lbctl
# (VIP:8080 -> b1:80, b3:80). Twice, once with SIGKILL and once with
# SIGTERM, edgelb-dp is stopped and started again:
#   - edgelbd re-programs it: lbctl --socket dp.sock service show -j
#     lists both services, with all their backends, within 2 s of the
#     dataplane's socket appearing (polled every 20 ms);
#   - GETs through the VIP then succeed on both services.
# shellcheck source=lbd_lib.sh
source "$(dirname "$0")/lbd_lib.sh"
lbd_begin

BUDGET_MS=2000

# "services/backends" in the dataplane, from one SERVICE_GET dump
# (lbctl --socket dp.sock -j service show: services with their backends).
dp_state() {
	local j
	j=$(lbd_dpctl -j service show 2>/dev/null) || {
		echo "-1/-1"
		return 0
	}
	echo "$(grep -o '"backends":' <<<"$j" | wc -l)/$(grep -o '"addr":' <<<"$j" | wc -l)"
}

lbd_up
lbd_lbctl service add tcp "$LBD_VIP:8080" mode nat sched rr name web2
for b in b1 b3; do
	lbd_lbctl backend add tcp "$LBD_VIP:8080" "$(lbd_backend_ip "$b"):$LBD_PORT"
done
lbd_wait_dp_services 2 5
want=$(dp_state)
[ "$want" = "2/5" ] || lbd_fail "before the restart the dataplane holds $want services/backends, not 2/5"
spread=$(lbd_spread 9) || exit 1
spread2=$(lbd_spread 6 8080) || exit 1
lbd_log "before: dataplane $want (services/backends); web $spread; web2 $spread2"

for sig in KILL TERM; do
	pid=$(lbd_pid edgelb-dp)
	kill "-$sig" "$pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	wait "$pid" 2>/dev/null || true
	kill -0 "$pid" 2>/dev/null && { lbd_fail "edgelb-dp survived SIG$sig for 5 s"; exit 1; }
	rm -f "$LBD_DIR/edgelb-dp.pid" "$LBD_DIR/dp.sock" # a KILLed one leaves it
	# Traffic stops with the dataplane (proof the new one does the work).
	if lbd_client curl -s --max-time 1 -o /dev/null "http://$LBD_VIP:$LBD_PORT/"; then
		lbd_fail "a GET succeeded with edgelb-dp stopped"
	fi

	LBD_DP_STARTS=$((LBD_DP_STARTS + 1))
	ip netns exec "$LBD_NS_LB" "$EDGELB_DP" --no-huge -m 512 --no-pci \
		--no-shconf -l 0,1 --file-prefix "eld-$$-$LBD_DP_STARTS" \
		-- -c "$LBD_DIR/edgelb.ini" >>"$LBD_DIR/edgelb-dp.log" 2>&1 8>&- &
	echo $! >"$LBD_DIR/edgelb-dp.pid"
	t_start=$(lbd_now_ms)
	# The socket appears (30 s at most: EAL start-up on a loaded machine).
	for ((i = 0; i < 1500; i++)); do
		[ -S "$LBD_DIR/dp.sock" ] && break
		kill -0 "$(lbd_pid edgelb-dp)" 2>/dev/null || { lbd_fail "edgelb-dp exited"; exit 1; }
		sleep 0.02
	done
	[ -S "$LBD_DIR/dp.sock" ] || { lbd_fail "no dp.sock 30 s after the start"; exit 1; }
	t0=$(lbd_now_ms)
	got=
	for ((i = 0; i < 500; i++)); do
		t_poll=$(lbd_now_ms)
		got=$(dp_state)
		now=$(lbd_now_ms)
		[ "$got" = "$want" ] && break
		((now - t0 <= BUDGET_MS)) || break
		sleep 0.02
	done
	lbd_log "SIG$sig: socket $((t0 - t_start)) ms after exec; configuration" \
		"$got restored $((now - t0)) ms after the socket appeared (budget $BUDGET_MS ms;" \
		"the successful poll started at $((t_poll - t0)) ms; $((i + 1)) polls)"
	if [ "$got" != "$want" ] || ((now - t0 > BUDGET_MS)); then
		lbd_fail "SIG$sig: dataplane holds $got, want $want, after $((now - t0)) ms"
		exit 1
	fi
	# Traffic: the client's ARP entry for the LB still holds (same MAC).
	spread=$(lbd_spread 9) || exit 1
	spread2=$(lbd_spread 6 8080) || exit 1
	lbd_log "SIG$sig: after the restart: web $spread; web2 $spread2"
	[ "$spread" = "b1=3 b2=3 b3=3 " ] || lbd_fail "web: expected b1=3 b2=3 b3=3"
	[ "$spread2" = "b1=3 b3=3 " ] || lbd_fail "web2: expected b1=3 b3=3"
done
lbd_end
