#!/usr/bin/env bash
# edgelbd restarts while traffic flows; the dataplane keeps forwarding and
# lbctl changes survive through the state file:
#   - lbctl adds service web2 (VIP:8080 -> b1:80, b2:80) and sets b3's
#     weight on service web to 3;
#   - a 12 MiB GET of /bytes through the VIP is read at 2 MiB/s with a
#     64 KiB receive window; about 2 s in, edgelbd gets SIGTERM; while it is
#     gone new GETs still succeed; it is started again from the same INI
#     file;
#   - the transfer completes with the right size and sha256, and never
#     stalls for 3 s or more;
#   - after the restart lbctl (ctl.sock) and the dataplane both show web2
#     and b3's weight 3, and web2 answers.
# shellcheck source=lbd_lib.sh
source "$(dirname "$0")/lbd_lib.sh"
lbd_begin

SIZE=$((12 * 1024 * 1024))
RATE=$((2 * 1024 * 1024)) # bytes/s

# "ADDR:PORT/WEIGHT" of the backends edgelbd reports for PORT (its
# service show carries the backends; it does not serve BACKEND_GET).
lbd_backends() { # PORT
	lbd_lbctl -j service show | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s.get("vip") == sys.argv[1] and s.get("vport") == int(sys.argv[2]):
        for b in s.get("backends", []):
            print("%s:%s/%s" % (b.get("addr"), b.get("port"), b.get("weight")))
' "$LBD_VIP" "$1" | sort | tr '\n' ' '
}

lbd_up
b3=$(lbd_backend_ip b3)

# ---- lbctl changes ---------------------------------------------------------
lbd_lbctl service add tcp "$LBD_VIP:8080" mode nat sched rr name web2
for b in b1 b2; do
	lbd_lbctl backend add tcp "$LBD_VIP:8080" "$(lbd_backend_ip "$b"):$LBD_PORT"
done
lbd_lbctl backend set tcp "$LBD_VIP:$LBD_PORT" "$b3:$LBD_PORT" weight 3
lbd_wait_dp_services 2 5
[ -s "$LBD_DIR/state.ini" ] || lbd_fail "no state file after the lbctl changes"
grep -q "8080" "$LBD_DIR/state.ini" || lbd_fail "the state file lacks service web2"
before80=$(lbd_backends "$LBD_PORT")
before8080=$(lbd_backends 8080)
lbd_log "before: web: $before80; web2: $before8080"

# ---- the long transfer -------------------------------------------------------
lbd_write_slow_get
want=$(lbd_bytes_sha256 "$SIZE")
lbd_client timeout 120 python3 "$LBD_DIR/slow_get.py" "$LBD_VIP" "$LBD_PORT" \
	"/bytes?n=$SIZE" "$RATE" "$LBD_DIR/download" \
	>"$LBD_DIR/slow_get.out" 2>"$LBD_DIR/slow_get.log" &
get_pid=$!
t_dl=$(lbd_now_ms)
sleep 2
part=$(stat -c %s "$LBD_DIR/download" 2>/dev/null || echo 0)
((part > 0 && part < SIZE)) || lbd_fail "after 2 s the transfer holds $part of $SIZE bytes"

# ---- edgelbd restart ---------------------------------------------------------
lbd_pid_old=$(lbd_pid edgelbd)
t0=$(lbd_now_ms)
lbd_stop edgelbd
kill -0 "$lbd_pid_old" 2>/dev/null && lbd_fail "edgelbd still runs after SIGTERM"
t_stop=$(($(lbd_now_ms) - t0))
# The dataplane forwards on its own.
spread=$(lbd_spread 6) || exit 1
lbd_log "edgelbd stopped by SIGTERM in $t_stop ms at $part/$SIZE bytes; with it gone 6/6 GETs answered: $spread"
lbd_daemon_start
t_back=$(($(lbd_now_ms) - t0))
part2=$(stat -c %s "$LBD_DIR/download" 2>/dev/null || echo 0)
lbd_log "edgelbd answers again $t_back ms after the SIGTERM; transfer at $part2/$SIZE bytes"
((part2 < SIZE)) || lbd_fail "the transfer ended before edgelbd was back: the restart was not mid-transfer"

# ---- the transfer completes -----------------------------------------------------
rc=0
wait "$get_pid" || rc=$?
t_dl=$(($(lbd_now_ms) - t_dl))
got_size=$(stat -c %s "$LBD_DIR/download" 2>/dev/null || echo 0)
got=$(sha256sum "$LBD_DIR/download" | cut -d' ' -f1)
gap=$(cat "$LBD_DIR/slow_get.out" 2>/dev/null || true)
lbd_log "transfer: exit $rc, $got_size bytes in $t_dl ms, longest gap between reads ${gap:-?} s, sha256 $got"
[ "$rc" = 0 ] || lbd_fail "the transfer failed: $(tail -n 3 "$LBD_DIR/slow_get.log")"
awk -v g="$gap" 'BEGIN { exit !(g != "" && g < 3.0) }' ||
	lbd_fail "the transfer stalled for ${gap:-?} s (limit 3 s)"
[ "$got_size" = "$SIZE" ] || lbd_fail "transfer: $got_size bytes, want $SIZE"
[ "$got" = "$want" ] || lbd_fail "transfer: sha256 $got, want $want"

# ---- the lbctl changes survived ---------------------------------------------------
after80=$(lbd_backends "$LBD_PORT")
after8080=$(lbd_backends 8080)
lbd_log "after: web: $after80; web2: $after8080"
[ "$after80" = "$before80" ] || lbd_fail "web's backends changed across the restart"
[ "$after8080" = "$before8080" ] || lbd_fail "web2's backends changed across the restart"
grep -q "$b3:$LBD_PORT/3 " <<<"$after80" || lbd_fail "b3's weight 3 was lost"
dp80=$(lbd_dp_backends "$LBD_PORT" | sort | tr '\n' ' ')
dp8080=$(lbd_dp_backends 8080 | sort | tr '\n' ' ')
lbd_log "dataplane after: web: $dp80; web2: $dp8080"
[ "$dp80" = "$before80" ] || lbd_fail "dataplane: web is '$dp80', want '$before80'"
[ "$dp8080" = "$before8080" ] || lbd_fail "dataplane: web2 is '$dp8080', want '$before8080'"
spread=$(lbd_spread 4 8080) || exit 1
lbd_log "web2 after the restart: $spread"
[ "$spread" = "b1=2 b2=2 " ] || lbd_fail "web2: expected b1=2 b2=2"
# The restarted edgelbd found the dataplane equal to its state: it sent
# no operation (each would be logged as "reconcile: OP ...").
ops=$(awk '/connected; reconciling/ { n++ } n >= 2 && /reconcile: [A-Z_]+ / { c++ } END { print c + 0 }' \
	"$LBD_DIR/edgelbd.log")
lbd_log "operations sent to the dataplane by the restarted edgelbd: $ops"
[ "$ops" = 0 ] || lbd_fail "the restarted edgelbd changed the dataplane ($ops operations)"
lbd_end
