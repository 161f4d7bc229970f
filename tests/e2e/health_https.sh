#!/usr/bin/env bash
# HTTPS and UDP health checks end to end, on loopback: a real edgelbd (no
# dataplane needed) checks
#   - a TLS backend (openssl s_server -www, a self-signed certificate made
#     here) with an https GET expecting 200: up while it serves, down once
#     it is stopped, up again when it is back;
#   - an https check against a plain-TCP listener (no TLS): down;
#   - a UDP backend (send/expect) that answers: up.
# State is read through lbctl on ctl.sock, as an operator would.
# Needs: openssl, python3. Exits 77 (skipped) when one is missing.
set -euo pipefail

# shellcheck source=lo_lib.sh
source "$(dirname "$0")/lo_lib.sh"
lo_need openssl python3
lo_need_built "$EDGELBD" "$LBCTL"
lo_begin hchttps
TLS_PID=
lo_kill_at_exit TLS_PID

TLS_PORT=$(free_port)
PLAIN_PORT=$(free_port)
UDP_PORT=$(free_port)

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
	-keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null

start_tls() {
	openssl s_server -quiet -www -accept "127.0.0.1:$TLS_PORT" \
		-cert "$T/cert.pem" -key "$T/key.pem" </dev/null >"$T/tls.log" 2>&1 &
	TLS_PID=$!
}

# A TCP listener that accepts and closes (speaks no TLS).
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept(); c.close()
' "$PLAIN_PORT" &
PIDS+=($!)
# A UDP backend answering "pong" to "ping".
python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    d, a = s.recvfrom(512)
    if d == b"ping":
        s.sendto(b"pong", a)
' "$UDP_PORT" &
PIDS+=($!)
start_tls

cat >"$T/edgelb.ini" <<EOF
[global]
ctl_socket = $T/ctl.sock
log_level = info

[dataplane]
socket = $T/dp.sock

[healthcheck tls]
type = https
interval = 300ms
timeout = 250ms
rise = 1
fall = 1
path = /
expect_status = 200

[healthcheck dns]
type = udp
interval = 300ms
timeout = 250ms
rise = 1
fall = 1
send = ping
expect = pong

[service web]
vip = 192.0.2.10:443
mode = nat
backend = 127.0.0.1:$TLS_PORT
backend = 127.0.0.1:$PLAIN_PORT
healthcheck = tls

[service dns]
vip = 192.0.2.10:53
proto = udp
mode = nat
backend = 127.0.0.1:$UDP_PORT
healthcheck = dns
EOF

"$EDGELBD" -f -c "$T/edgelb.ini" >"$T/edgelbd.log" 2>&1 &
PIDS+=($!)

# state VPORT BACKEND_PORT -> up/down/unknown ("" while edgelbd starts)
state() {
	"$LBCTL" --socket "$T/ctl.sock" -j health show 2>/dev/null | python3 -c '
import json, sys
try:
    rows = json.load(sys.stdin)
except ValueError:
    sys.exit(0)
for h in rows:
    if h.get("vport") == int(sys.argv[1]) and h.get("port") == int(sys.argv[2]):
        print(h.get("state")); break
' "$1" "$2" || true
}

# wait_for DESC VPORT BACKEND_PORT STATE: at most 10 s
wait_for() {
	local st=
	for _ in $(seq 1 100); do
		st=$(state "$2" "$3")
		if [ "$st" = "$4" ]; then
			pass "$1 ($4)"
			return 0
		fi
		sleep 0.1
	done
	fail "$1: state '$st', want '$4'"
	sed -n '1,40p' "$T/edgelbd.log" >&2
	return 0
}

wait_for "https check against a TLS server" 443 "$TLS_PORT" up
wait_for "https check against a plain TCP listener" 443 "$PLAIN_PORT" down
wait_for "udp send/expect" 53 "$UDP_PORT" up
kill "$TLS_PID"
wait "$TLS_PID" 2>/dev/null || true
TLS_PID=
wait_for "https check after the TLS server stopped" 443 "$TLS_PORT" down
start_tls
wait_for "https check after the TLS server came back" 443 "$TLS_PORT" up

# shellcheck disable=SC2119 # no log to show: the checks print theirs
lo_end
