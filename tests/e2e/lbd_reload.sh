#!/usr/bin/env bash
# SIGHUP reloads the INI file and applies only the difference:
#   - while a 12 MiB GET through service web (VIP:80) is read at 2 MiB/s,
#     service web2 (VIP:8080 -> b1, b2) is appended to the INI file and
#     edgelbd gets SIGHUP;
#   - web2 reaches the dataplane and answers; every operation edgelbd sent
#     after the reload concerns web2 only (web is untouched);
#   - the transfer through web completes with the right sha256 and never
#     stalls for 3 s or more;
#   - a broken INI file on SIGHUP is refused: the running configuration
#     stays, and both services keep answering.
# shellcheck source=lbd_lib.sh
source "$(dirname "$0")/lbd_lib.sh"
lbd_begin

SIZE=$((12 * 1024 * 1024))
RATE=$((2 * 1024 * 1024)) # bytes/s

lbd_up
[ -e "$LBD_DIR/state.ini" ] && lbd_fail "a state file exists: it would take precedence over the INI file"

# ---- the long transfer through web -------------------------------------------
lbd_write_slow_get
want=$(lbd_bytes_sha256 "$SIZE")
lbd_client timeout 120 python3 "$LBD_DIR/slow_get.py" "$LBD_VIP" "$LBD_PORT" \
	"/bytes?n=$SIZE" "$RATE" "$LBD_DIR/download" \
	>"$LBD_DIR/slow_get.out" 2>"$LBD_DIR/slow_get.log" &
get_pid=$!
sleep 2
part=$(stat -c %s "$LBD_DIR/download" 2>/dev/null || echo 0)
((part > 0 && part < SIZE)) || lbd_fail "after 2 s the transfer holds $part of $SIZE bytes"

# ---- add web2 and reload ------------------------------------------------------
mark=$(wc -l <"$LBD_DIR/edgelbd.log")
cat >>"$LBD_DIR/edgelb.ini" <<EOF

[service web2]
vip = $LBD_VIP:8080
proto = tcp
mode = nat
scheduler = rr
backend = $(lbd_backend_ip b1):$LBD_PORT weight=1
backend = $(lbd_backend_ip b2):$LBD_PORT weight=1
EOF
t0=$(lbd_now_ms)
kill -HUP "$(lbd_pid edgelbd)"
lbd_wait_dp_services 2 5
lbd_log "web2 in the dataplane $(($(lbd_now_ms) - t0)) ms after SIGHUP"
spread=$(lbd_spread 4 8080) || exit 1
[ "$spread" = "b1=2 b2=2 " ] || lbd_fail "web2: '$spread', expected b1=2 b2=2"

# Operations after the reload ("reconcile: OP tcp VIP:PORT ..."): web2's only.
ops=$(tail -n +"$((mark + 1))" "$LBD_DIR/edgelbd.log" | grep -E 'reconcile: [A-Z_]+ tcp ' || true)
n_ops=$(grep -c . <<<"$ops" || true)
n_web=$(grep -c " $LBD_VIP:$LBD_PORT " <<<"$ops" || true)
lbd_log "operations after the reload: $n_ops, of them on web: $n_web"
((n_ops >= 3)) || lbd_fail "expected web2's SERVICE_NEW and 2 BACKEND_NEW (or one SERVICE_NEW with backends), saw: $ops"
[ "$n_web" = 0 ] || lbd_fail "the reload touched web: $ops"

# ---- the transfer completes ---------------------------------------------------
rc=0
wait "$get_pid" || rc=$?
got=$(sha256sum "$LBD_DIR/download" | cut -d' ' -f1)
gap=$(cat "$LBD_DIR/slow_get.out" 2>/dev/null || true)
lbd_log "transfer: exit $rc, longest gap between reads ${gap:-?} s"
[ "$rc" = 0 ] || lbd_fail "the transfer failed: $(tail -n 3 "$LBD_DIR/slow_get.log")"
awk -v g="$gap" 'BEGIN { exit !(g != "" && g < 3.0) }' ||
	lbd_fail "the transfer stalled for ${gap:-?} s (limit 3 s)"
[ "$got" = "$want" ] || lbd_fail "transfer: sha256 $got, want $want"

# ---- a broken file is refused ---------------------------------------------------
echo "this line is not INI" >>"$LBD_DIR/edgelb.ini"
kill -HUP "$(lbd_pid edgelbd)"
for _ in $(seq 50); do
	grep -q "reload of .* failed" "$LBD_DIR/edgelbd.log" && break
	sleep 0.1
done
grep -q "reload of .* failed" "$LBD_DIR/edgelbd.log" || lbd_fail "a broken INI file was not refused"
kill -0 "$(lbd_pid edgelbd)" 2>/dev/null || lbd_fail "edgelbd exited on a broken INI file"
[ "$(lbd_dp_nservices)" = 2 ] || lbd_fail "the dataplane lost services after a refused reload"
lbd_spread 3 >/dev/null || exit 1
lbd_spread 2 8080 >/dev/null || exit 1
lbd_end
