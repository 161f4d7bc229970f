#!/usr/bin/env bash
# Push service lab on loopback: a real edgelbd (no dataplane) with only
# [push] configured, the reference client tools/push-client as devices and
# curl as the business server. Checks:
#   - an offline device gets its queue, in order, when it reconnects,
#   - TTL: an expired message is never delivered and shows "expired",
#   - collapse key: only the newest queued message of a key is delivered,
#   - bind: a token made with openssl (the documented HMAC) binds and a
#     message to the user arrives; a bad and an expired token are refused
#     and counted,
#   - redelivery: an unacknowledged message is sent again with the same
#     id (the client drops the duplicate); once acknowledged, never again,
#   - an oversized frame is answered ERROR too_large, closed, counted,
#   - IDLE_N (2,000) connections announcing the largest frame and sending a byte
#     of it: edgelbd's memory grows by less than half a frame each,
#   - a device that sends PINGs and reads nothing is no longer read once
#     its output is over the bound (counted); it then gets every PONG,
#   - unknown frame types, ACKs of unknown ids, another version, frames
#     before HELLO, a second connection of one device: answered as
#     docs/push.md says, counted,
#   - a device that stops talking is closed after two heartbeats, counted,
#     and so are devices that stop in the middle of a frame (slowloris),
#     and a connection that stops in the middle of its HELLO,
#   - TLS: the channel over TLS with a certificate made here,
#   - kill -9 of edgelbd while messages are accepted and delivered: after
#     the restart every message answered 202 reaches the device, none
#     twice, and every idempotency key kept one id,
#   - memory per idle registered connection (printed, a rough figure),
#   - SIGHUP lowers max_connections: one connection over is refused with
#     ERROR busy and counted.
# Needs curl, openssl and python3 (exit 77 without). Loopback only.
set -euo pipefail

# shellcheck source=lo_lib.sh
source "$(dirname "$0")/lo_lib.sh"
CLIENT=$BUILD/tools/push-client/push-client
TOOL=$HERE/push_tool.py
LOAD_N=${PUSH_LOAD_N:-3000}
IDLE_N=${PUSH_IDLE_N:-2000}

lo_need curl openssl python3
lo_need_built "$EDGELBD" "$CLIENT"
ulimit -n 8192 2>/dev/null || IDLE_N=500
lo_begin push
BG_PIDS=()
lo_kill_at_exit BG_PIDS
PPORT=$(free_port)
SPORT=$(free_port)
APORT=$(free_port)
MPORT=$(free_port)
KEY=e2e-api-key-0123456789
SECRET=e2e-bind-secret-0123456789

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null

cat >"$T/edgelb.ini" <<EOF2
[global]
ctl_socket = $T/ctl.sock
log_level = info

[dataplane]
socket = $T/dp.sock

[metrics]
listen = 127.0.0.1:$MPORT

[push]
listen = 127.0.0.1:$PPORT
tls_listen = 127.0.0.1:$SPORT
cert = $T/cert.pem
key = $T/key.pem
api_listen = 127.0.0.1:$APORT
api_key = $KEY
bind_secret = $SECRET
db = $T/push.db
heartbeat = 5s
resend_timeout = 1s
max_queue = 100000
max_connections = 20000
api_max_connections = 64
EOF2

start_lbd() {
	"$EDGELBD" -f -c "$T/edgelb.ini" >>"$T/edgelbd.log" 2>&1 &
	LBD_PID=$!
	for _ in $(seq 100); do
		if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$APORT/"; then
			return 0
		fi
		sleep 0.1
	done
	cat "$T/edgelbd.log" >&2
	fail "edgelbd did not start"
	exit 1
}

A="http://127.0.0.1:$APORT/push/v1"
CURL=(curl -sS --max-time 10 -H "X-Api-Key: $KEY")
# post JSON: prints the message id (empty when not 202)
post() {
	local out code
	out=$("${CURL[@]}" -w '\n%{http_code}' -d "$1" "$A/messages")
	code=${out##*$'\n'}
	[ "$code" == 202 ] || { echo "post $1: $code ${out%$'\n'*}" >&2; return 0; }
	python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "${out%$'\n'*}"
}
status_of() { # ID DEVICE: the device's status of the message
	"${CURL[@]}" "$A/messages/$1" | python3 -c '
import json, sys
for d in json.load(sys.stdin)["devices"]:
    if d["device"] == sys.argv[1]:
        print(d["status"] + ("/" + d["reason"] if "reason" in d else ""))' "$2"
}
metric() { # NAME: its value on the metrics page
	curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics" |
		awk -v n="$1" '$1 == n { print $2 }'
}
client() { "$CLIENT" -s "127.0.0.1:$PPORT" "$@"; }
# register a device (HELLO), then leave
register() {
	local rc=0
	client -d "$1" -T 1 2>"$T/reg.err" >/dev/null || rc=$?
	[ "$rc" == 2 ] || fail "register $1: rc $rc: $(cat "$T/reg.err")"
}

start_lbd

# a silent device (HELLO, then nothing), closed by the heartbeat
# timeout; checked before the kill -9 part
python3 "$TOOL" silent "$PPORT" >"$T/silent.out" 2>&1 &
SILENT=$!
BG_PIDS+=("$SILENT")
# three devices that stop in the middle of a frame, one in its HELLO
python3 "$TOOL" slowloris "$PPORT" 3 $((4096 + 256)) 10 >"$T/slow.out" 2>&1 &
SLOW=$!
BG_PIDS+=("$SLOW")

# ---- offline queue, in order ----------------------------------------------
register dev-q
: >"$T/want"
for i in $(seq 1 20); do
	post "{\"device\":\"dev-q\",\"payload\":{\"n\":$i}}" >>"$T/want"
done
expect "20 messages accepted" 20 "$(grep -c . "$T/want")"
client -d dev-q -n 20 -T 10 >"$T/got" 2>"$T/got.err" || true
expect "offline queue delivered in order" "$(cat "$T/want")" \
	"$(awk '{print $1}' "$T/got")"
expect "payloads as posted" '{"n":1}' "$(head -1 "$T/got" | awk '{print $2}')"
expect "status after ack" acknowledged "$(status_of "$(head -1 "$T/want")" dev-q)"

# ---- TTL ---------------------------------------------------------------------
register dev-t
short=$(post '{"device":"dev-t","payload":"short","ttl":1}')
long=$(post '{"device":"dev-t","payload":"long","ttl":60}')
sleep 2.5
client -d dev-t -n 1 -T 5 >"$T/got" 2>/dev/null || true
expect "expired message skipped" "$long \"long\"" "$(cat "$T/got")"
expect "expired status" expired "$(status_of "$short" dev-t)"
client -d dev-t -T 2 >"$T/got" 2>/dev/null || true
expect "nothing more for dev-t" "" "$(cat "$T/got")"

# ---- collapse key ----------------------------------------------------------------
register dev-c
c1=$(post '{"device":"dev-c","payload":"score 1","collapse_key":"score"}')
other=$(post '{"device":"dev-c","payload":"other"}')
post '{"device":"dev-c","payload":"score 2","collapse_key":"score"}' >/dev/null
c3=$(post '{"device":"dev-c","payload":"score 3","collapse_key":"score"}')
client -d dev-c -n 2 -T 5 >"$T/got" 2>/dev/null || true
client -d dev-c -T 2 >>"$T/got" 2>/dev/null || true
expect "collapse: newest of the key only" \
	"$other \"other\"|$c3 \"score 3\"" "$(awk '{print $1, $2, $3}' "$T/got" | sed 's/ *$//' | paste -sd'|')"
expect "collapsed status" failed/collapsed "$(status_of "$c1" dev-c)"

# ---- bind tokens ---------------------------------------------------------------------
register dev-b
exp=$(($(date +%s) + 600))
tok=$(printf 'dev-b\nalice\n%s' "$exp" | openssl dgst -sha256 -hmac "$SECRET" | awk '{print $NF}')
rc=0
client -d dev-b -u alice -t "$tok" -e "$((exp + 1))" -T 2 2>"$T/b.err" >/dev/null || rc=$?
expect "bad token refused (exit 3)" 3 "$rc"
contains "bad token: ERROR bad_token" "bad_token" "$(cat "$T/b.err")"
old=$(($(date +%s) - 10))
otok=$(printf 'dev-b\nalice\n%s' "$old" | openssl dgst -sha256 -hmac "$SECRET" | awk '{print $NF}')
rc=0
client -d dev-b -u alice -t "$otok" -e "$old" -T 2 2>"$T/b.err" >/dev/null || rc=$?
expect "expired token refused (exit 3)" 3 "$rc"
contains "expired token: ERROR expired_token" "expired_token" "$(cat "$T/b.err")"
expect "bad tokens counted" 1 "$(metric edgelbd_push_binds_bad_token_total)"
expect "expired tokens counted" 1 "$(metric edgelbd_push_binds_expired_token_total)"
"$CLIENT" -s "127.0.0.1:$PPORT" -d dev-b -u alice -t "$tok" -e "$exp" -n 1 -T 8 \
	>"$T/got" 2>"$T/b.err" &
BG_PIDS+=($!)
for _ in $(seq 50); do
	grep -q "bound to alice" "$T/b.err" && break
	sleep 0.1
done
contains "good token binds" "bound to alice" "$(cat "$T/b.err")"
u=$(post '{"user":"alice","payload":"to alice"}')
wait "${BG_PIDS[-1]}" || true
expect "message to the user reaches the bound device" "$u \"to alice\"" "$(cat "$T/got")"

# ---- redelivery ----------------------------------------------------------------------------
register dev-r
r=$(post '{"device":"dev-r","payload":"again"}')
client -d dev-r --no-ack -T 3 >"$T/got" 2>"$T/r.err" || true
expect "unacknowledged: shown once" "$r \"again\"" "$(cat "$T/got")"
contains "resent with the same id, dropped by the client" "duplicate $r dropped" "$(cat "$T/r.err")"
client -d dev-r -n 1 -T 5 >"$T/got" 2>/dev/null || true
expect "unacknowledged: delivered again on reconnect" "$r \"again\"" "$(cat "$T/got")"
client -d dev-r -T 2 >"$T/got" 2>/dev/null || true
expect "acknowledged: never again" "" "$(cat "$T/got")"
expect "status acknowledged" acknowledged "$(status_of "$r" dev-r)"

# ---- bad input -----------------------------------------------------------------------------
out=$(python3 "$TOOL" oversize "$PPORT" $((4096 + 256)) || true)
contains "oversized frame: ERROR too_large and closed" "code 3, closed True" "$out"
expect "oversized frame counted" 1 "$(metric edgelbd_push_frames_too_large_total)"
rc=0
out=$(python3 "$TOOL" claims "$PPORT" "$LBD_PID" "$IDLE_N" $((4096 + 256))) || rc=$?
if nm -D "$EDGELBD" 2>/dev/null | grep __asan_init >/dev/null; then
	contains "frames announced, not sent: connections kept (ASan build)" "claims: $IDLE_N" "$out"
else
	expect "frames announced, not sent: memory follows the bytes ($out)" 0 "$rc"
fi
rc=0
out=$(python3 "$TOOL" flood "$PPORT" "$LBD_PID" 2000000) || rc=$?
if nm -D "$EDGELBD" 2>/dev/null | grep __asan_init >/dev/null; then
	# ASan keeps freed memory in quarantine: RSS says nothing here
	contains "PING flood without reading: every PONG (ASan build)" \
		"got $(sed -n 's/^flood: sent \([0-9]*\) PINGs.*/\1/p' <<<"$out") PONGs" "$out"
else
	expect "PING flood without reading: every PONG, bounded memory ($out)" 0 "$rc"
fi
expect "PING flood: reading paused (counted)" yes \
	"$([ "$(metric edgelbd_push_read_pauses_total)" -ge 1 ] && echo yes || echo no)"
rc=0
out=$(python3 "$TOOL" probe "$PPORT") || rc=$?
expect "bad frames on live connections ($out)" 0 "$rc"
expect "unknown frame type counted" 1 "$(metric edgelbd_push_frames_unknown_type_total)"
expect "ACK of an unknown id counted" 1 "$(metric edgelbd_push_acks_unknown_total)"
expect "other version counted" 1 "$(metric edgelbd_push_frames_bad_version_total)"
expect "frame before HELLO counted" 1 "$(metric edgelbd_push_frames_before_hello_total)"
expect "takeover counted" 1 "$(metric edgelbd_push_takeovers_total)"
code=$(curl -sS -o /dev/null -w '%{http_code}' -d '{}' "$A/messages")
expect "no API key: 401" 401 "$code"
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -d '{"device":"dev-q"}' "$A/messages")
expect "no payload: 400" 400 "$code"
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -d '{"device":"nobody","payload":1}' "$A/messages")
expect "unknown device: 404" 404 "$code"
big=$(python3 -c 'print("x" * 5000)')
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -d "{\"device\":\"dev-q\",\"payload\":\"$big\"}" "$A/messages")
expect "payload over max_payload: 400" 400 "$code"
i1=$(post '{"device":"dev-q","payload":1,"idempotency_key":"same"}')
i2=$(post '{"device":"dev-q","payload":2,"idempotency_key":"same"}')
expect "idempotency key: same id" "$i1" "$i2"
client -d dev-q -n 1 -T 3 >/dev/null 2>&1 || true

# ---- TLS ---------------------------------------------------------------------------------------
register dev-s
# the demo's helper (push_demo.sh) sends this one
. "$HERE/push_demo.sh"
s=$(push_demo_send "http://127.0.0.1:$APORT" "$KEY" dev-s "over tls")
"$CLIENT" -s "localhost:$SPORT" --tls --ca "$T/cert.pem" -d dev-s -n 1 -T 5 \
	>"$T/got" 2>"$T/s.err" || true
expect "TLS channel (message sent by push_demo_send)" \
	"$s {\"text\":\"over tls\"}" "$(cat "$T/got")"

# ---- lbctl -----------------------------------------------------------------------------------------
if [ -x "$LBCTL" ]; then
	out=$("$LBCTL" --socket "$T/ctl.sock" module show push 2>&1 || true)
	contains "lbctl module show push: counters" "messages_accepted" "$out"
	# lbctl push: a queue, the devices online, a message's status
	register dev-l
	l1=$(post '{"device":"dev-l","payload":{"n":1}}')
	post '{"device":"dev-l","payload":{"n":2}}' >/dev/null
	post '{"device":"dev-l","payload":{"n":3}}' >/dev/null
	out=$("$LBCTL" --socket "$T/ctl.sock" -j push queue dev-l 2>&1 || true)
	expect "lbctl push queue: depth and oldest" "3 $l1 queued" \
		"$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["depth"], j["oldest"][0]["id"], j["oldest"][0]["status"])' "$out" 2>&1)"
	out=$("$LBCTL" --socket "$T/ctl.sock" push message "$l1" 2>&1 || true)
	contains "lbctl push message: per-device status" "^dev-l .* queued" "$out"
	client -d dev-o -T 5 >/dev/null 2>&1 &
	OC=$!
	for _ in $(seq 50); do
		out=$("$LBCTL" --socket "$T/ctl.sock" -j push devices 2>&1 || true)
		grep -q '"dev-o"' <<<"$out" && break
		sleep 0.1
	done
	expect "lbctl push devices: dev-o listed, as many as online" "True True" \
		"$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); ds=[d["device"] for d in j["devices"]]; print("dev-o" in ds, j["online"] == len(ds))' "$out" 2>&1)"
	kill "$OC" 2>/dev/null || true
	wait "$OC" 2>/dev/null || true
	rc=0
	out=$("$LBCTL" --socket "$T/ctl.sock" push queue no-such-dev 2>&1) || rc=$?
	contains "lbctl push queue: unknown device refused (rc $rc)" "no device 'no-such-dev'" "$out"
fi

# ---- heartbeat ---------------------------------------------------------------------------------------
rc=0
wait "$SILENT" || rc=$?
expect "silent connection closed after two heartbeats ($(cat "$T/silent.out"))" 0 "$rc"
rc=0
wait "$SLOW" || rc=$?
expect "partial frames closed after two heartbeats, a partial HELLO after hello_timeout ($(cat "$T/slow.out"))" 0 "$rc"
expect "heartbeat timeouts counted (1 silent, 3 partial frames, 1 partial HELLO)" 5 "$(metric edgelbd_push_heartbeat_timeouts_total)"

# ---- kill -9 while accepting and delivering -----------------------------------------------------------
register dev-k
"$CLIENT" -s "127.0.0.1:$PPORT" -d dev-k >"$T/k.out" 2>"$T/k.err" &
KC=$!
BG_PIDS+=("$KC")
python3 "$TOOL" load "$APORT" "$KEY" dev-k "$LOAD_N" 8 "$T/k.ids" 120 \
	>"$T/load.out" 2>&1 &
LOADER=$!
BG_PIDS+=("$LOADER")
for _ in $(seq 300); do
	[ "$(grep -c . "$T/k.ids" 2>/dev/null || echo 0)" -ge $((LOAD_N / 3)) ] && break
	sleep 0.1
done
before=$(grep -c . "$T/k.out" || true)
kill -9 "$LBD_PID"
wait "$LBD_PID" 2>/dev/null || true
echo "killed edgelbd after $(grep -c . "$T/k.ids") accepted, $before delivered"
sleep 1
start_lbd
wait "$LOADER" || fail "loader: $(cat "$T/load.out")"
cat "$T/load.out"
accepted=$(awk '{print $2}' "$T/k.ids" | sort -u | grep -c . || true)
keys=$(awk '{print $1}' "$T/k.ids" | sort -u | grep -c . || true)
# a key retried after the kill keeps its id: one id per key
expect "one id per idempotency key" "$keys" "$accepted"
expect "every message accepted" "$LOAD_N" "$keys"
for _ in $(seq 600); do
	[ "$(awk '{print $1}' "$T/k.out" | sort -u | grep -c . || true)" -ge "$accepted" ] && break
	sleep 0.1
done
missing=$(comm -23 <(awk '{print $2}' "$T/k.ids" | sort -u) \
	<(awk '{print $1}' "$T/k.out" | sort -u) | grep -c . || true)
expect "every 202 delivered after the restart" 0 "$missing"
twice=$(awk '{print $1}' "$T/k.out" | sort | uniq -d | grep -c . || true)
expect "none shown twice" 0 "$twice"
kill "$KC" 2>/dev/null || true
wait "$KC" 2>/dev/null || true
echo "kill -9 lab: $(tail -1 "$T/k.err")"

# ---- memory per idle connection -------------------------------------------------------------------------
out=$(python3 "$TOOL" idle "$PPORT" "$LBD_PID" "$IDLE_N" || true)
echo "$out"
contains "idle connections held" "idle: $IDLE_N connections" "$out"

# ---- reload: max_connections lowered, one over is refused ------------------------------------------------
sed -i 's/^max_connections = .*/max_connections = 5/' "$T/edgelb.ini"
kill -HUP "$LBD_PID"
for _ in $(seq 50); do
	grep -q "reloaded " "$T/edgelbd.log" && break
	sleep 0.1
done
sleep 0.5
out=$(python3 "$TOOL" busy "$PPORT" 5 || true)
contains "over max_connections (after SIGHUP): ERROR busy, closed" "error code 7, closed True" "$out"
expect "refusal counted" 1 "$(metric edgelbd_push_connections_refused_total)"

lo_end "$T/edgelbd.log"
