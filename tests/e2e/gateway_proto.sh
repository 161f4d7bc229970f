#!/usr/bin/env bash
# WebSocket and gRPC through the gateway, on loopback, with real ends:
# python3-websockets as WebSocket server and client, python3-grpcio as
# gRPC server and client (generic handlers, bytes in and out), a raw
# socket server that gets WebSocket wrong, curl. Everything is started
# here and stopped on every exit path. Checks:
#   WebSocket (HTTP/1.1): text, binary, a 1 MiB message, close from the
#     client and from the server, over plain TCP and TLS (wss); 16 MiB sent before reading (the tunnel
#     pauses a side: ws_held); a frame sent before the 101; an idle
#     tunnel closed by the route's idle_timeout_ms; an upstream 101
#     without Upgrade (502, counted) and a refusal (403 relayed as it
#     came, connection closed); no tunnel left at the end.
#   gRPC over HTTP/2 (h2c, and h2 by ALPN on the TLS listener) to an h2c
#     upstream: unary with a trailing-metadata entry,
#     server streaming, bidi streaming (8 x 100 KiB each way), NOT_FOUND
#     with its message, UNAVAILABLE in gRPC's form when the backend is
#     down.
#   edgelbd only: the same WebSocket and gRPC counters on /metrics
#     (edgelbd_gateway_websocket_*, _grpc_errors_total, _trailers_total;
#     promtool check metrics when installed).
# The gateway: edgelbd's gateway module ([gateway] listen, the same
# [route]/[upstream] sections; counters from lbctl module show gateway),
# or with GATEWAY_PROTO_RUNNER=harness (or without edgelbd built)
# tests/e2e/gw_harness, the library on one loop. Exit 77 when a tool is
# missing.
set -euo pipefail

# shellcheck source=lo_lib.sh
source "$(dirname "$0")/lo_lib.sh"
SRC=${EDGELB_SRC:-$(cd "$HERE/../.." && pwd)}
HARNESS=$BUILD/tests/e2e/gw_harness
PY=$SRC/tests/e2e/gw_proto.py
RUNNER=${GATEWAY_PROTO_RUNNER:-edgelbd}
if [ "$RUNNER" = edgelbd ] && { [ ! -x "$EDGELBD" ] || [ ! -x "$LBCTL" ]; }; then
	RUNNER=harness
fi

# Debian's python3, where python3-websockets and python3-grpcio live (a
# python3 earlier in PATH may be another one)
PYTHON=${PYTHON:-/usr/bin/python3}
lo_need curl openssl
[ -x "$PYTHON" ] || { echo "SKIP: $PYTHON not installed"; exit 77; }
lo_need_py "$PYTHON" websockets python3-websockets
lo_need_py "$PYTHON" grpc python3-grpcio
[ "$RUNNER" = edgelbd ] || [ -x "$HARNESS" ] ||
	{ echo "SKIP: neither edgelbd nor $HARNESS built"; exit 77; }
# loopback only: no proxy from the environment
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY grpc_proxy all_proxy ALL_PROXY

lo_begin gwproto

# wait_file FILE PATTERN: up to 10 s for PATTERN in FILE
wait_file() {
	for _ in $(seq 1 100); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "FAIL: $1 never said '$2':" >&2
	cat "$1" >&2 || true
	exit 1
}

# a python end in the background, its output in $T/NAME.log
start_py() {
	local name=$1
	shift
	"$PYTHON" "$PY" "$@" >"$T/$name.log" 2>&1 &
	PIDS+=($!)
	wait_file "$T/$name.log" ready
}

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	-keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
WS_PORT=$(free_port)
GRPC_PORT=$(free_port)
FAKE_PORT=$(free_port)
DEAD_PORT=$(free_port)
start_py ws ws-server "$WS_PORT"
start_py grpc grpc-server "$GRPC_PORT"
start_py fake fake-up "$FAKE_PORT"

# A sanitizer build's gateway: freed memory goes back at once (ASan's
# quarantine would count as held in the memory check below).
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0

# the routes and upstreams, one gw_conf_key a line: SECTION NAME KEY VALUE
cat >"$T/gw.conf" <<CONF
upstream ws instance 127.0.0.1:$WS_PORT
upstream fake instance 127.0.0.1:$FAKE_PORT
upstream grpc instance 127.0.0.1:$GRPC_PORT
upstream grpc proto h2c
upstream grpcdown instance 127.0.0.1:$DEAD_PORT
upstream grpcdown proto h2c
route grpcdown host down.test
route grpcdown upstream grpcdown
route grpcdown retries 0
route wsidle path_prefix /idle/
route wsidle upstream ws
route wsidle idle_timeout_ms 1000
route ws path_prefix /ws/
route ws upstream ws
route fake path_prefix /fake/
route fake upstream fake
route grpc path_prefix /test.Echo/
route grpc upstream grpc
CONF

if [ "$RUNNER" = edgelbd ]; then
	GW_PORT=$(free_port)
	GWS_PORT=$(free_port)
	MP=$(free_port) # /metrics
	{
		printf '[global]\nctl_socket = %s\nlog_level = info\n\n' "$T/ctl.sock"
		printf '[dataplane]\nsocket = %s\n\n' "$T/dp.sock"
		printf '[metrics]\nlisten = 127.0.0.1:%s\n\n' "$MP"
		printf '[gateway]\nlisten = 127.0.0.1:%s\n' "$GW_PORT"
		printf 'listen = 127.0.0.1:%s tls\n' "$GWS_PORT"
		printf 'cert = * %s %s\n' "$T/cert.pem" "$T/key.pem"
		# the same keys as INI sections, in their order
		awk '{ sec = $1 " " $2; v = $0
		       sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", v)
		       if (sec != last) { printf "\n[%s]\n", sec; last = sec }
		       printf "%s = %s\n", $3, v }' "$T/gw.conf"
	} >"$T/edgelb.ini"
	"$EDGELBD" -f -c "$T/edgelb.ini" >"$T/gw.log" 2>&1 &
	GW_PID=$!
	PIDS+=($GW_PID)
	for _ in $(seq 1 100); do
		"$PYTHON" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
			"$GWS_PORT" 2>/dev/null && break
		sleep 0.1
	done
	echo "gateway: edgelbd ($T/edgelb.ini)"
else
	"$HARNESS" "$T/gw.conf" "$T/gw.port" "$T/gw.stats" "$T/cert.pem" \
		"$T/key.pem" >"$T/gw.log" 2>&1 &
	GW_PID=$!
	PIDS+=($GW_PID)
	for _ in $(seq 1 100); do
		[ "$(wc -l <"$T/gw.port" 2>/dev/null || echo 0)" -ge 2 ] && break
		sleep 0.1
	done
	GW_PORT=$(sed -n 1p "$T/gw.port")
	GWS_PORT=$(sed -n 2p "$T/gw.port")
	echo "gateway: gw_harness"
fi
GW=127.0.0.1:$GW_PORT
GWS=127.0.0.1:$GWS_PORT

# stat NAME: the gateway's counter now ("missing" if it has none)
stat() {
	if [ "$RUNNER" = edgelbd ]; then
		"$LBCTL" --socket "$T/ctl.sock" module show gateway >"$T/gw.stats" 2>&1 || true
	else
		rm -f "$T/gw.stats"
		kill -USR1 "$GW_PID"
		for _ in $(seq 1 50); do
			[ -s "$T/gw.stats" ] && break
			sleep 0.1
		done
	fi
	awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print "missing" }' \
		"$T/gw.stats"
}

# py DESCRIPTION ARGS...: a python client; its ok lines shown
py() {
	local what=$1 out
	shift
	if out=$("$PYTHON" "$PY" "$@" 2>&1); then
		echo "$out"
	else
		echo "$out" >&2
		fail "$what"
	fi
}

echo "== WebSocket"
py "websocket echo and closes" ws-client "ws://$GW"
expect "two tunnels opened" 2 "$(stat ws_upgrades)"
CA=$T/cert.pem py "wss: echo and closes over TLS" ws-client "wss://localhost:$GWS_PORT"
expect "two more tunnels, over TLS" 4 "$(stat ws_upgrades)"
if [ "$RUNNER" = harness ]; then
	expect "the servers handed four connections over" 4 "$(stat http_upgrades)"
fi
up=$(stat ws_bytes_up)
[ "$up" != missing ] && [ "$up" -gt $((1 << 20)) ] &&
	pass "bytes up counted ($up)" || fail "bytes up: $up"

# the gateway's peak memory (VmHWM, KiB) before and after 16 MiB each way
# with a client that does not read: held back, not buffered
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$GW_PID/status"; }
hwm0=$(hwm)
py "back-pressure" ws-flood "ws://$GW"
hwm1=$(hwm)
[ $((hwm1 - hwm0)) -lt 8192 ] &&
	pass "gateway peak memory grew $((hwm1 - hwm0)) KiB for 16 MiB each way" ||
	fail "gateway peak memory grew $((hwm1 - hwm0)) KiB (8192 allowed)"
held=$(stat ws_held)
[ "$held" != missing ] && [ "$held" -gt 0 ] &&
	pass "the tunnel paused a side for a slow reader ($held times)" ||
	fail "ws_held: $held"

py "early frame" ws-early "$GW"
expect "client bytes before the 101 counted" 1 "$(stat ws_early)"

py "idle timeout" ws-idle "ws://$GW"
expect "idle close counted" 1 "$(stat ws_idle_closes)"

WSH=(-H 'Connection: Upgrade' -H 'Upgrade: websocket'
	-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==')
code=$(curl -s -o "$T/bad101.body" -w '%{http_code}' --max-time 10 --http1.1 \
	"${WSH[@]}" "http://$GW/fake/no-upgrade")
expect "upstream 101 without Upgrade: 502" 502 "$code"
expect "  and counted as a failed upgrade" 1 "$(stat ws_failed)"
curl -s -D "$T/refuse.head" -o "$T/refuse.body" --max-time 10 --http1.1 \
	"${WSH[@]}" "http://$GW/fake/refuse" || true
expect "a refused upgrade is relayed: status" "HTTP/1.1 403 Forbidden" \
	"$(head -1 "$T/refuse.head" | tr -d '\r')"
expect "  body" nope "$(cat "$T/refuse.body")"
grep -qi '^Connection: close' "$T/refuse.head" &&
	pass "  and the client connection closes after it" ||
	fail "no Connection: close after a refused upgrade"
expect "  counted" 1 "$(stat ws_refused)"

for _ in $(seq 1 50); do
	[ "$(stat ws_active)" == 0 ] && break
	sleep 0.1
done
expect "every tunnel closed both ways" 0 "$(stat ws_active)"

echo "== gRPC"
py "grpc calls" grpc-client "$GW"
CA=$T/cert.pem py "grpc calls over TLS (h2 by ALPN)" grpc-client "$GWS"
tr=$(stat trailers_out)
# unary, streaming, bidi each time (NOT_FOUND is trailers-only: one
# HEADERS frame)
[ "$tr" != missing ] && [ "$tr" -ge 6 ] &&
	pass "answers relayed with trailers ($tr)" || fail "trailers_out: $tr"
py "grpc backend down" grpc-down "$GW"
expect "gRPC-style error counted" 1 "$(stat grpc_errors)"

if [ "$RUNNER" = edgelbd ]; then
	echo "== metrics"
	# the lbctl counters above, as Prometheus series
	if m=$("$PYTHON" -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
		"http://127.0.0.1:$MP/metrics"); then
		series() { # NAME: its value in $m, or "missing"
			awk -v n="$1" '$1 == n { print $2; f = 1 }
			    END { if (!f) print "missing" }' <<<"$m"
		}
		expect "websocket_upgrades_total" "$(stat ws_upgrades)" \
			"$(series edgelbd_gateway_websocket_upgrades_total)"
		expect "websocket_refused_total" 1 \
			"$(series edgelbd_gateway_websocket_refused_total)"
		expect "websocket_failed_total" 1 \
			"$(series edgelbd_gateway_websocket_failed_total)"
		expect "websocket_idle_closes_total" 1 \
			"$(series edgelbd_gateway_websocket_idle_closes_total)"
		expect "websocket_active" 0 \
			"$(series edgelbd_gateway_websocket_active)"
		expect "websocket bytes up" "$(stat ws_bytes_up)" \
			"$(series 'edgelbd_gateway_websocket_bytes_total{direction="up"}')"
		expect "grpc_errors_total" 1 \
			"$(series edgelbd_gateway_grpc_errors_total)"
		expect "trailers out" "$(stat trailers_out)" \
			"$(series 'edgelbd_gateway_trailers_total{direction="out"}')"
		lo_promtool "$m"
	else
		fail "metrics: no answer on /metrics"
	fi
fi

kill -0 "$GW_PID" 2>/dev/null && pass "the gateway is still up" ||
	fail "the gateway died"
lo_end -n +1 "$T/gw.log"
