#!/usr/bin/env bash
# The push service's WebSocket device channel on loopback: a real edgelbd
# (no dataplane) with [push] ws_listen, Debian's python3-websockets as the
# browser (tests/e2e/push_ws_client.py). Checks:
#   - a browser registers (HELLO), binds to a user (HMAC bind token) and
#     gets BOUND; a message posted to the user arrives as one binary
#     WebSocket message holding one MESSAGE frame; its ACK makes it
#     "acknowledged" (the same delivery path as the TCP channel),
#   - messages queued while the browser is away arrive, in order, when it
#     comes back,
#   - lbctl push devices lists the browser while it is connected,
#   - a text message is refused with close code 1003; an upgrade request
#     without Sec-WebSocket-Key is answered 400; both counted,
#   - wss:// (wss_listen, with the cert and key of tls_listen, made here
#     with openssl): a browser trusting that certificate registers, binds,
#     gets a message and acknowledges it; a plain ws:// client on the wss
#     port and a wss:// client trusting another CA fail their handshake
#     at once (no hang) and are counted in ws_tls_errors,
#   - wss_listen without cert and key is refused by --check with the
#     reason; a cert file that cannot be read stops edgelbd at start,
#     naming the file.
# Needs curl, openssl and /usr/bin/python3 with python3-websockets (exit
# 77 without).
set -euo pipefail

# shellcheck source=lo_lib.sh
source "$(dirname "$0")/lo_lib.sh"
PYTHON=/usr/bin/python3
WSC=$HERE/push_ws_client.py

lo_need curl openssl
lo_need_py "$PYTHON" websockets python3-websockets
lo_need_built "$EDGELBD" "$LBCTL"
lo_begin pushws
WS_PID=
lo_kill_at_exit WS_PID
WPORT=$(free_port)
SPORT=$(free_port)
APORT=$(free_port)
MPORT=$(free_port)
KEY=e2e-api-key-0123456789
SECRET=e2e-bind-secret-0123456789

# the server's certificate (also the browser's CA) and an unrelated one
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other \
	-keyout "$T/other-key.pem" -out "$T/other.pem" 2>/dev/null

cat >"$T/edgelb.ini" <<EOF2
[global]
ctl_socket = $T/ctl.sock

[dataplane]
socket = $T/dp.sock

[metrics]
listen = 127.0.0.1:$MPORT

[push]
ws_listen = 127.0.0.1:$WPORT
wss_listen = 127.0.0.1:$SPORT
cert = $T/cert.pem
key = $T/key.pem
api_listen = 127.0.0.1:$APORT
api_key = $KEY
bind_secret = $SECRET
db = $T/push.db
heartbeat = 5s
EOF2

"$EDGELBD" -f -c "$T/edgelb.ini" >>"$T/edgelbd.log" 2>&1 &
LBD_PID=$!
for _ in $(seq 100); do
	curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$APORT/" && break
	sleep 0.1
done
curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$APORT/" ||
	{ cat "$T/edgelbd.log" >&2; echo "FAIL: edgelbd did not start" >&2; exit 1; }

A="http://127.0.0.1:$APORT/push/v1"
CURL=(curl -sS --max-time 10 -H "X-Api-Key: $KEY")
post() {
	local out code
	out=$("${CURL[@]}" -w '\n%{http_code}' -d "$1" "$A/messages")
	code=${out##*$'\n'}
	[ "$code" == 202 ] || { echo "post $1: $code ${out%$'\n'*}" >&2; return 0; }
	"$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "${out%$'\n'*}"
}
status_of() { # ID DEVICE
	"${CURL[@]}" "$A/messages/$1" | "$PYTHON" -c '
import json, sys
for d in json.load(sys.stdin)["devices"]:
    if d["device"] == sys.argv[1]:
        print(d["status"])' "$2"
}
metric() {
	curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics" |
		awk -v n="$1" '$1 == n { v = $2 } END { print v == "" ? 0 : v }'
}
URL="ws://127.0.0.1:$WPORT/"

# ---- register, bind, receive, ack ------------------------------------------------
: >"$T/got"
"$PYTHON" "$WSC" device "$URL" web-1 "$SECRET" alice 1 10 "$T/got" 2>"$T/ws.err" &
WS_PID=$!
for _ in $(seq 100); do
	grep -q '^BOUND' "$T/got" && break
	sleep 0.1
done
expect "bound over WebSocket" "BOUND alice" "$(head -1 "$T/got")"
out=$("$LBCTL" --socket "$T/ctl.sock" -j push devices 2>&1 || true)
expect "lbctl push devices lists the browser and its address" True \
	"$("$PYTHON" -c 'import json,sys; print([d["peer"].startswith("127.0.0.1:") for d in json.loads(sys.argv[1])["devices"] if d["device"] == "web-1"] == [True])' "$out" 2>&1)"
id=$(post '{"user":"alice","payload":{"text":"hi browser"}}')
rc=0
wait "$WS_PID" || rc=$?
WS_PID=
expect "browser exits after its message (rc)" 0 "$rc"
[ "$rc" == 0 ] || cat "$T/ws.err" >&2
expect "message received, one frame per binary message" \
	"$id {\"text\":\"hi browser\"}" "$(sed -n 2p "$T/got")"
s=""
for _ in $(seq 50); do
	s=$(status_of "$id" web-1)
	[ "$s" == acknowledged ] && break
	sleep 0.1
done
expect "acknowledged over WebSocket" acknowledged "$s"

# ---- offline queue, in order, on reconnect ------------------------------------------
: >"$T/want"
for i in 1 2 3; do
	post "{\"device\":\"web-1\",\"payload\":{\"n\":$i}}" >>"$T/want"
done
: >"$T/got"
rc=0
"$PYTHON" "$WSC" device "$URL" web-1 "$SECRET" alice 3 10 "$T/got" 2>"$T/ws.err" || rc=$?
expect "queue delivered after reconnect (rc)" 0 "$rc"
# the queue goes out on HELLO, before BIND is answered: the browser
# waits for BOUND too (closing first would make the server drop it)
expect "bound again after reconnect" 1 "$(grep -c '^BOUND alice$' "$T/got" || true)"
expect "in order" "$(cat "$T/want")" "$(grep -v '^BOUND' "$T/got" | awk '{print $1}')"

# ---- bad input ------------------------------------------------------------------------
expect "text message: close 1003" 1003 "$("$PYTHON" "$WSC" text "$URL" 2>&1 || true)"
expect "no Sec-WebSocket-Key: 400" "HTTP/1.1 400 Bad Request" \
	"$("$PYTHON" "$WSC" bad 127.0.0.1 "$WPORT" 2>&1 || true)"

# ---- wss:// ------------------------------------------------------------------------------
SURL="wss://127.0.0.1:$SPORT/"
: >"$T/got"
"$PYTHON" "$WSC" device "$SURL" wss-1 "$SECRET" bob 1 10 "$T/got" "$T/cert.pem" \
	2>"$T/wss.err" &
WS_PID=$!
for _ in $(seq 100); do
	grep -q '^BOUND' "$T/got" && break
	sleep 0.1
done
expect "bound over wss" "BOUND bob" "$(head -1 "$T/got")"
id=$(post '{"user":"bob","payload":{"text":"hi over TLS"}}')
rc=0
wait "$WS_PID" || rc=$?
WS_PID=
expect "wss browser exits after its message (rc)" 0 "$rc"
[ "$rc" == 0 ] || cat "$T/wss.err" >&2
expect "message received over wss" "$id {\"text\":\"hi over TLS\"}" \
	"$(sed -n 2p "$T/got")"
s=""
for _ in $(seq 50); do
	s=$(status_of "$id" wss-1)
	[ "$s" == acknowledged ] && break
	sleep 0.1
done
expect "acknowledged over wss" acknowledged "$s"
out=$("$PYTHON" "$WSC" refused "ws://127.0.0.1:$SPORT/" 2>&1 || true)
expect "plain ws:// on the wss port fails its handshake" refused "${out%%:*}"
out=$("$PYTHON" "$WSC" refused "$SURL" "$T/other.pem" 2>&1 || true)
expect "wss:// trusting another CA fails its handshake" \
	"refused: SSLCertVerificationError" "$out"
expect "both counted as TLS errors" 2 "$(metric edgelbd_push_ws_tls_errors_total)"

expect "text message counted" 1 "$(metric edgelbd_push_ws_text_messages_total)"
expect "bad handshake counted" 1 "$(metric edgelbd_push_ws_bad_handshakes_total)"
expect "upgrades counted" 4 "$(metric edgelbd_push_ws_upgrades_total)"
# HELLO, BIND, ACK; HELLO, BIND, 3 ACKs; wss: HELLO, BIND, ACK: each a
# message, each a frame
expect "binary messages in" 11 "$(metric edgelbd_push_ws_messages_in_total)"
expect "as many frames parsed" 11 "$(metric edgelbd_push_frames_in_total)"
# WELCOME, BOUND, MESSAGE; WELCOME, BOUND, 3 MESSAGEs; wss: WELCOME,
# BOUND, MESSAGE. Each browser closed only after it had its BOUND and
# messages (WELCOME comes first), so all were counted by now.
expect "binary messages out" 11 "$(metric edgelbd_push_ws_messages_out_total)"

# ---- configuration errors -------------------------------------------------------------------
{
	echo "[push]"
	echo "wss_listen = 127.0.0.1:$SPORT"
	echo "db = $T/check.db"
} >"$T/bad.ini"
rc=0
"$EDGELBD" --check -c "$T/bad.ini" >"$T/check.out" 2>&1 || rc=$?
expect "wss_listen without cert: refused" 1 "$rc"
expect "the reason names wss_listen" 1 \
	"$(grep -c "wss_listen needs cert and key" "$T/check.out" || true)"
P2=$(free_port)
{
	printf '[global]\nctl_socket = %s\n' "$T/ctl2.sock"
	printf '[dataplane]\nsocket = %s\n' "$T/dp2.sock"
	printf '[push]\nwss_listen = 127.0.0.1:%s\n' "$P2"
	printf 'cert = %s\nkey = %s\ndb = %s\n' "$T/none.pem" "$T/key.pem" "$T/p2.db"
} >"$T/nocert.ini"
rc=0
timeout 10 "$EDGELBD" -f -c "$T/nocert.ini" >"$T/nocert.log" 2>&1 || rc=$?
expect "an unreadable cert stops edgelbd (not a timeout)" yes \
	"$([ "$rc" != 0 ] && [ "$rc" != 124 ] && echo yes || echo "no: rc $rc")"
expect "its log names the cert" 1 "$(grep -c "cert $T/none.pem" "$T/nocert.log" || true)"

if ! kill -0 "$LBD_PID" 2>/dev/null; then
	fail "edgelbd died"
fi
lo_end "$T/edgelbd.log"
