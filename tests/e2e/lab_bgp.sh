#!/usr/bin/env bash
# VIPs announced over BGP through BIRD 2 (docs/scale-out.md), on the lbd_*
# topology plus a management link:
#
#   eld-client  the router (and the client behind it): BIRD with
#               tests/lab/bird/router.conf, kernel routes from BGP, no
#               default route; eldrm0 10.96.4.1 ── eldrm1 10.96.4.2 eld-sw
#   eld-sw      edgelbd and the balancer's BIRD (tests/lab/bird/
#               balancer.conf); the VIPs' next hop is edgelb-dp's
#               10.96.1.1 on the router's link eldc0
#
# Services: web (VIP1:80 -> b1, b2) and other (VIP2:80 -> b3), both with
# HTTP health checks; [bgp] with per-service MED/communities. Checked
# with `birdc show route` on the router:
#   1. both VIPs announced with their attributes; the client reaches VIP1
#      through the BGP route;
#   2. b1 and b2 down -> VIP1 withdrawn; back -> announced; reloaded with
#      min_healthy = 100%, b1 alone down -> VIP1 withdrawn, back ->
#      announced; VIP2's route keeps its BIRD since-time all along (not
#      re-announced, not even by the reloads);
#   3. lbctl node drain during a slow download through VIP1: the VIPs
#      carry GRACEFUL_SHUTDOWN (65535,0) and local_pref 0 while the
#      download runs, the download completes with the right sha256, then
#      both VIPs are withdrawn; lbctl node undrain -> announced again;
#   4. edgelb-dp killed (SIGKILL) -> the VIPs withdrawn on the router
#      within BOUND_MS, measured RUNS times;
#   5. edgelbd killed (SIGKILL) -> its liveness interface disappears and
#      the VIPs are withdrawn within BOUND_MS while edgelb-dp still runs;
#      edgelbd restarted -> announced again;
#   6. SIGTERM to edgelbd (shutdown_grace) -> withdrawn, edgelbd exits.
# shellcheck source=lbd_lib.sh
source "$(dirname "$0")/lbd_lib.sh"
# shellcheck source=bgp_lib.sh
source "$(dirname "$0")/bgp_lib.sh"
lbd_begin bird birdc

VIP1=$LBD_VIP # web
VIP2=198.18.96.11
BOUND_MS=${LAB_BGP_BOUND_MS:-1000} # dataplane kill -> withdrawn on the router
RUNS=${LAB_BGP_RUNS:-3}
SIZE=$((6 * 1024 * 1024))
RATE=$((1024 * 1024)) # bytes/s: the download takes about 6 s
BIRD_DIR=$LBD_SRC/tests/lab/bird
RT_SOCK=$LBD_DIR/bird-router.ctl
LB_SOCK=$LBD_DIR/bird-lb.ctl

write_ini() {
	local b
	cat >"$LBD_DIR/edgelb.ini" <<-EOF
		[global]
		log_level = info
		ctl_socket = $LBD_DIR/ctl.sock
		state_file = $LBD_DIR/state.ini
		reconcile_interval = 30s
		shutdown_grace = 10s

		[dataplane]
		socket = $LBD_DIR/dp.sock
		mbufs = 8191

		[port ext]
		devargs = net_af_packet0,iface=eldl0
		address = $LBD_LB_EXT_IP/24

		[port int]
		devargs = net_af_packet1,iface=eldl1
		address = $LBD_LB_INT_IP/24

		[metrics]
		listen = $LBD_METRICS

		[healthcheck web]
		type = http
		interval = ${LBD_HC_INTERVAL_MS}ms
		timeout = ${LBD_HC_TIMEOUT_MS}ms
		rise = $LBD_HC_RISE
		fall = $LBD_HC_FALL
		path = /

		[service web]
		vip = $VIP1:$LBD_PORT
		proto = tcp
		mode = nat
		scheduler = rr
		healthcheck = web
		backend = $(lbd_backend_ip b1):$LBD_PORT weight=1
		backend = $(lbd_backend_ip b2):$LBD_PORT weight=1

		[service other]
		vip = $VIP2:$LBD_PORT
		proto = tcp
		mode = nat
		scheduler = rr
		healthcheck = web
		backend = $(lbd_backend_ip b3):$LBD_PORT weight=1

		[bgp]
		bird_socket = $LB_SOCK
		include_file = $LBD_DIR/bird/edgelb-vips.conf
		liveness_interface = eldalive0
		min_healthy = any
		check_interval = 100ms
		drain_grace = 20s
		med = 50
		community = 65000:100
		attrs = other med=10 community=65000:200,65000:201
	EOF
}

# ---- the lab -------------------------------------------------------------------

lbd_topology
# the router reaches the VIPs only through what BGP tells it
ip -n "$LBD_NS_CLIENT" route del default
lbd_veth "$LBD_NS_CLIENT" eldrm0 "$LBD_NS_SW" eldrm1
ip -n "$LBD_NS_CLIENT" addr add 10.96.4.1/24 dev eldrm0
ip -n "$LBD_NS_SW" addr add 10.96.4.2/24 dev eldrm1
ip netns exec "$LBD_NS_CLIENT" sysctl -q -w net.ipv4.fib_multipath_hash_policy=1
for b in "${LBD_BACKENDS[@]}"; do lbd_backend_start "$b"; done
write_ini
"$EDGELBD" --check -c "$LBD_DIR/edgelb.ini" >"$LBD_DIR/check.log" 2>&1 ||
	lbd_fail "edgelbd --check refuses the lab's INI file"

# BIRD starts before edgelbd wrote its file (the include is a glob)
mkdir -m 755 "$LBD_DIR/bird"
sed "s|/run/bird/edgelb-vips\*.conf|$LBD_DIR/bird/edgelb-vips*.conf|" \
	"$BIRD_DIR/balancer.conf" >"$LBD_DIR/balancer.conf"
grep -q "$LBD_DIR/bird/edgelb-vips\*.conf" "$LBD_DIR/balancer.conf" ||
	lbd_fail "balancer.conf has no include of /run/bird/edgelb-vips*.conf"
# The balancer's BIRD runs as user bird when there is one, as Debian's
# bird service does: it must be able to read what edgelbd (umask 077, as
# under systemd) writes.
# (the glob of its include lists the directory: it must be readable)
bird_user=()
if id bird >/dev/null 2>&1; then
	bird_user=(-u bird -g bird)
	chmod 711 "$LBD_DIR"
fi
bird_start lb "$LBD_NS_SW" "$LBD_DIR/balancer.conf" "$LB_SOCK" "${bird_user[@]}"
bird_start router "$LBD_NS_CLIENT" "$BIRD_DIR/router.conf" "$RT_SOCK"

lbd_dp_start
umask 077
lbd_daemon_start
umask 022
lbd_wait_dp_services 2 10

# ---- 1. announced, with their attributes -----------------------------------------
wait_route "$VIP1" yes 20 "BGP.med: 50"
wait_route "$VIP2" yes 5 "BGP.med: 10"
r1=$(rt_route "$VIP1")
r2=$(rt_route "$VIP2")
grep -q "via $LBD_LB_EXT_IP on eldc0" <<<"$r1" || lbd_fail "VIP1's next hop is not the dataplane: $r1"
grep -q "BGP.community: (65000,100)$" <<<"$r1" || lbd_fail "VIP1 lacks community (65000,100): $r1"
grep -q "BGP.community: (65000,200) (65000,201)$" <<<"$r2" || lbd_fail "VIP2 lacks its communities: $r2"
ip -n "$LBD_NS_CLIENT" route show "$VIP1" | grep -q "via $LBD_LB_EXT_IP" ||
	lbd_fail "the router's kernel has no route for $VIP1"
body=$(lbd_get) || lbd_fail "GET through $VIP1 (BGP route) failed"
[ -n "$(lbd_backend_of "$body")" ] || lbd_fail "GET through $VIP1: no backend named in '$body'"
out=$(lbd_lbctl module show bgp) || lbd_fail "lbctl module show bgp failed"
grep -Eq "announced +2" <<<"$out" || lbd_fail "lbctl module show bgp: $out"
[ "$(stat -c %a "$LBD_DIR/bird/edgelb-vips.conf")" = 644 ] ||
	lbd_fail "edgelbd's include file has mode $(stat -c %a "$LBD_DIR/bird/edgelb-vips.conf"), not 644"
lbd_log "1. both VIPs announced (next hop $LBD_LB_EXT_IP, MED 50 / 10, communities); GET via BGP route ok"

# ---- 2. all backends of web down, then back -----------------------------------------
since2=$(rt_since "$VIP2")
[ -n "$since2" ] || lbd_fail "no since-time for $VIP2"
lbd_backend_stop b1
lbd_backend_stop b2
wait_route "$VIP1" no 10
[ "$(rt_since "$VIP2")" = "$since2" ] || lbd_fail "VIP2 was re-announced while VIP1 was withdrawn"
lbd_log "2. b1, b2 down: $VIP1 withdrawn; $VIP2 untouched (since $since2)"
lbd_backend_start b1
lbd_backend_start b2
wait_route "$VIP1" yes 10
[ "$(rt_since "$VIP2")" = "$since2" ] || lbd_fail "VIP2 was re-announced while VIP1 came back"
lbd_log "2. b1, b2 back: $VIP1 announced; $VIP2 still since $since2"
# min_healthy = 100%: one of web's two backends down is too few
sed -i 's/^min_healthy = any$/min_healthy = 100%/' "$LBD_DIR/edgelb.ini"
grep -q "^min_healthy = 100%" "$LBD_DIR/edgelb.ini" || lbd_fail "min_healthy not replaced in the INI file"
kill -HUP "$(lbd_pid edgelbd)"
sleep 1
wait_route "$VIP1" yes 2
lbd_backend_stop b1
wait_route "$VIP1" no 10
wait_route "$VIP2" yes 1
lbd_backend_start b1
wait_route "$VIP1" yes 10
sed -i 's/^min_healthy = 100%$/min_healthy = any/' "$LBD_DIR/edgelb.ini"
kill -HUP "$(lbd_pid edgelbd)"
sleep 1
[ "$(rt_since "$VIP2")" = "$since2" ] || lbd_fail "VIP2 was re-announced by the reloads or by VIP1's changes"
lbd_log "2. min_healthy = 100%: b1 down withdraws $VIP1, back announces it; $VIP2 still since $since2 after two reloads"

# ---- 3. drain during a slow download, undrain ----------------------------------------
lbd_write_slow_get
want=$(lbd_bytes_sha256 "$SIZE")
lbd_client timeout 60 python3 "$LBD_DIR/slow_get.py" "$VIP1" "$LBD_PORT" \
	"/bytes?n=$SIZE" "$RATE" "$LBD_DIR/download" \
	>"$LBD_DIR/slow_get.out" 2>"$LBD_DIR/slow_get.log" &
get_pid=$!
sleep 1
lbd_lbctl node drain >"$LBD_DIR/drain.out" || lbd_fail "lbctl node drain failed"
grep -q "^state: draining" "$LBD_DIR/drain.out" || lbd_fail "after drain: $(cat "$LBD_DIR/drain.out")"
sed 's/^/    lbctl node drain: /' "$LBD_DIR/drain.out"
wait_route "$VIP1" yes 5 "BGP.community: .*\(65535,0\)"
wait_route "$VIP2" yes 5 "BGP.community: .*\(65535,0\)"
sleep 1
kill -0 "$get_pid" 2>/dev/null || lbd_fail "the download ended before the check (too fast for the test)"
r1=$(rt_route "$VIP1")
grep -q "BGP.local_pref: 0" <<<"$r1" || lbd_fail "draining VIP1 without local_pref 0: $r1"
lbd_log "3. drained: both VIPs carry (65535,0) and local_pref 0 while the download runs"
wait "$get_pid" || lbd_fail "the download through $VIP1 failed during the drain: $(cat "$LBD_DIR/slow_get.log")"
got=$(sha256sum "$LBD_DIR/download" | cut -d' ' -f1)
[ "$got" = "$want" ] || lbd_fail "download sha256 $got, want $want"
t0=$(lbd_now_ms)
wait_route "$VIP1" no 10
wait_route "$VIP2" no 5
lbd_log "3. the download completed (sha256 ok); withdrawn $(($(lbd_now_ms) - t0)) ms after it ended"
lbd_lbctl node status >"$LBD_DIR/status.out" || lbd_fail "lbctl node status failed"
grep -q "^state: drained" "$LBD_DIR/status.out" || lbd_fail "status after the drain: $(cat "$LBD_DIR/status.out")"
grep -q "^announced: none" "$LBD_DIR/status.out" || lbd_fail "status after the drain: $(cat "$LBD_DIR/status.out")"
sed 's/^/    lbctl node status: /' "$LBD_DIR/status.out"
sleep 1 # stays drained
[ -z "$(rt_route "$VIP1")" ] || lbd_fail "VIP1 came back without undrain"
lbd_lbctl node undrain >/dev/null || lbd_fail "lbctl node undrain failed"
wait_route "$VIP1" yes 5 "BGP.med: 50"
wait_route "$VIP2" yes 5
rt_route "$VIP1" | grep -q "65535,0" && lbd_fail "VIP1 still carries (65535,0) after undrain"
lbd_log "3. undrain: announced again without (65535,0)"

# ---- reload: [bgp] removed, then back ------------------------------------------------
cp "$LBD_DIR/edgelb.ini" "$LBD_DIR/edgelb.ini.full"
sed -i '/^\[bgp\]/,$d' "$LBD_DIR/edgelb.ini"
kill -HUP "$(lbd_pid edgelbd)"
wait_route "$VIP1" no 5
wait_route "$VIP2" no 5
[ -z "$(grep -v '^#' "$LBD_DIR/bird/edgelb-vips.conf")" ] ||
	lbd_fail "[bgp] removed: the include file still has routes"
cp "$LBD_DIR/edgelb.ini.full" "$LBD_DIR/edgelb.ini"
kill -HUP "$(lbd_pid edgelbd)"
wait_route "$VIP1" yes 5
wait_route "$VIP2" yes 5
lbd_log "3. SIGHUP without [bgp]: withdrawn (include file emptied); with it again: announced"

# ---- 4. the dataplane killed ----------------------------------------------------------
worst=0
for ((run = 1; run <= RUNS; run++)); do
	wait_route "$VIP1" yes 20
	pid=$(lbd_pid edgelb-dp)
	t0=$(lbd_now_ms)
	kill -KILL "$pid"
	while [ -n "$(rt_route "$VIP1")" ]; do
		(($(lbd_now_ms) - t0 < 5000)) || break
		sleep 0.01
	done
	ms=$(($(lbd_now_ms) - t0))
	wait "$pid" 2>/dev/null || true
	rm -f "$LBD_DIR/edgelb-dp.pid"
	[ -z "$(rt_route "$VIP1")" ] || lbd_fail "run $run: VIP1 still announced 5 s after the dataplane was killed"
	wait_route "$VIP2" no 1
	((ms <= BOUND_MS)) || lbd_fail "run $run: withdrawn after $ms ms, the bound is $BOUND_MS ms"
	((ms > worst)) && worst=$ms
	lbd_log "4. run $run: dataplane killed -> withdrawn on the router after $ms ms"
	echo "$ms" >>"$LBD_DIR/withdraw_ms"
	lbd_dp_start
done
lbd_log "4. dataplane kill -> withdrawal: worst $worst ms of $RUNS runs (bound $BOUND_MS ms): $(tr '\n' ' ' <"$LBD_DIR/withdraw_ms")"

# ---- 5. edgelbd killed ----------------------------------------------------------------
wait_route "$VIP1" yes 20
ip -n "$LBD_NS_SW" link show eldalive0 >/dev/null 2>&1 || lbd_fail "no liveness interface eldalive0 in $LBD_NS_SW"
pid=$(lbd_pid edgelbd)
t0=$(lbd_now_ms)
kill -KILL "$pid"
while [ -n "$(rt_route "$VIP1")" ]; do
	(($(lbd_now_ms) - t0 < 5000)) || break
	sleep 0.01
done
ms=$(($(lbd_now_ms) - t0))
wait "$pid" 2>/dev/null || true
rm -f "$LBD_DIR/edgelbd.pid"
[ -z "$(rt_route "$VIP1")" ] || lbd_fail "VIP1 still announced 5 s after edgelbd was killed"
wait_route "$VIP2" no 1
((ms <= BOUND_MS)) || lbd_fail "edgelbd killed: withdrawn after $ms ms, the bound is $BOUND_MS ms"
kill -0 "$(lbd_pid edgelb-dp)" || lbd_fail "edgelb-dp died with edgelbd"
lbd_log "5. edgelbd killed (SIGKILL) -> withdrawn on the router after $ms ms (dataplane alive)"
# The dataplane dies too while edgelbd is away: the restarted edgelbd must
# not bring back what its last include file held, not even for a moment
# (the router's count of received updates does not move).
pid=$(lbd_pid edgelb-dp)
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
rm -f "$LBD_DIR/edgelb-dp.pid"
updates=$(rt_updates) || lbd_fail "the router's update counters"
umask 077
lbd_daemon_start
umask 022
sleep 2
[ "$(rt_updates)" = "$updates" ] ||
	lbd_fail "edgelbd restarted without a dataplane: the router received updates ($updates -> $(rt_updates))"
[ -z "$(rt_route "$VIP1")" ] || lbd_fail "edgelbd restarted without a dataplane: VIP1 announced"
lbd_dp_start
wait_route "$VIP1" yes 20
wait_route "$VIP2" yes 5
lbd_log "5. edgelbd restarted: nothing announced while the dataplane is down; with it: announced again"

# ---- 6. SIGTERM to edgelbd -----------------------------------------------------------------
wait_route "$VIP1" yes 20
pid=$(lbd_pid edgelbd)
mark=$(wc -l <"$LBD_DIR/edgelbd.log")
kill -TERM "$pid"
wait_route "$VIP1" no 10
wait_route "$VIP2" no 2
deadline=$((SECONDS + 15))
while kill -0 "$pid" 2>/dev/null; do
	((SECONDS < deadline)) || {
		lbd_fail "edgelbd still runs 15 s after SIGTERM"
		break
	}
	sleep 0.1
done
rm -f "$LBD_DIR/edgelbd.pid"
tail -n +"$((mark + 1))" "$LBD_DIR/edgelbd.log" | grep -q "bgp: drain: no active connection left" ||
	lbd_fail "edgelbd's log does not show the SIGTERM drain"
lbd_log "6. SIGTERM: withdrawn, edgelbd exited"

lbd_end
