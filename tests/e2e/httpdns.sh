#!/usr/bin/env bash
# HttpDNS lab on loopback: a real edgelbd (no dataplane needed) with only
# services, one TCP health check and [httpdns] configured; HTTPS with a
# self-signed certificate made here. Checks:
#   - dig +https and kdig +https (HTTP/2 DoH, GET and POST) get the VIPs,
#   - curl gets the JSON and text dialects, DNS JSON, over HTTP/1.1 and h2,
#   - a per-CIDR view answers per client (ip=, and X-Real-IP through a
#     trusted proxy),
#   - health: the backend stops, its VIP leaves the answer;
#     it comes back, the VIP returns,
#   - the metrics page counts the requests.
# Needs: curl, openssl, dig (bind9-dnsutils), kdig (knot-dnsutils),
# python3. Exits 77 (skipped) when one is missing. Loopback only.
set -euo pipefail

# shellcheck source=lo_lib.sh
source "$(dirname "$0")/lo_lib.sh"
lo_need curl openssl dig kdig python3
lo_need_built "$EDGELBD"
lo_begin httpdns
BE_PID=
lo_kill_at_exit BE_PID

HPORT=$(free_port)
SPORT=$(free_port)
MPORT=$(free_port)
BPORT=$(free_port)

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null

cat >"$T/edgelb.ini" <<EOF
[global]
ctl_socket = $T/ctl.sock
log_level = info

[dataplane]
socket = $T/dp.sock

[metrics]
listen = 127.0.0.1:$MPORT

[healthcheck tcp]
type = tcp
interval = 200ms
timeout = 150ms
rise = 1
fall = 1

[service web]
vip = 192.0.2.10:80
mode = dr
backend = 127.0.0.1:$BPORT
healthcheck = tcp

[service web6]
vip = [2001:db8::10]:80
mode = dr
backend = [2001:db8::20]:80

[service inner]
vip = 10.9.9.9:80
mode = dr
backend = 10.9.9.10:80

[httpdns]
listen = 127.0.0.1:$HPORT
https_listen = 127.0.0.1:$SPORT
cert = $T/cert.pem
key = $T/key.pem
ttl = 60
empty_ttl = 5
trusted_proxy = 127.0.0.0/8
fallback = 198.51.100.53
view = 10.0.0.0/8 internal
domain = www.example.test service=web,web6
domain = www.example.test service=inner view=internal
EOF

start_backend() {
	python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
while True:
    c, _ = s.accept()
    c.close()
' "$BPORT" &
	BE_PID=$!
}

# the backend listens before edgelbd starts checking it
start_backend
wait_port "$BPORT" || { fail "backend did not start"; exit 1; }
"$EDGELBD" -f -c "$T/edgelb.ini" >"$T/edgelbd.log" 2>&1 &
# shellcheck disable=SC2034 # killed at exit (lo_lib.sh)
LBD_PID=$!

H=http://127.0.0.1:$HPORT
S=https://127.0.0.1:$SPORT
CURL=(curl -sS --max-time 5 --cacert "$T/cert.pem")

# wait for the listener and the first health check (web UP)
for _ in $(seq 50); do
	out=$("${CURL[@]}" "$H/d?dn=www.example.test" 2>/dev/null || true)
	[ "$out" == "192.0.2.10" ] && break
	sleep 0.2
done
if [ "$out" != "192.0.2.10" ]; then
	cat "$T/edgelbd.log" >&2
	fail "edgelbd did not answer: '$out'"
	exit 1
fi

# ---- DoH with the standard clients (HTTP/2) ---------------------------
expect "dig +https (POST)" "192.0.2.10" \
	"$(dig +https @127.0.0.1 -p "$SPORT" +tls-ca="$T/cert.pem" \
		+tls-hostname=localhost +short +tries=1 +time=3 www.example.test A)"
expect "dig +https-get AAAA" "2001:db8::10" \
	"$(dig +https-get @127.0.0.1 -p "$SPORT" +tls-ca="$T/cert.pem" \
		+tls-hostname=localhost +short +tries=1 +time=3 \
		www.example.test AAAA)"
expect "kdig +https" "192.0.2.10" \
	"$(kdig @127.0.0.1 -p "$SPORT" +https +tls-ca="$T/cert.pem" \
		+tls-hostname=localhost +short +timeout=3 +retry=0 \
		www.example.test A)"
out=$(kdig @127.0.0.1 -p "$SPORT" +https-get +tls-ca="$T/cert.pem" \
	+tls-hostname=localhost +timeout=3 +retry=0 other.test A || true)
contains "kdig: unbound name refused" "REFUSED" "$out"
out=$(dig +https @127.0.0.1 -p "$SPORT" +tls-ca="$T/cert.pem" \
	+tls-hostname=localhost +tries=1 +time=3 \
	+subnet=10.1.2.0/24 www.example.test A)
contains "dig +subnet selects the view" "10.9.9.9" "$out"

# ---- the dialects with curl -------------------------------------------
expect "JSON /d" '{"host":"www.example.test","ips":["192.0.2.10"],"ipsv6":["2001:db8::10"],"ttl":60,"origin_ttl":60,"client_ip":"127.0.0.1"}' \
	"$("${CURL[@]}" "$H/d?host=www.example.test&query=4,6")"
expect "text /d over TLS" "192.0.2.10,60-2001:db8::10,60" \
	"$("${CURL[@]}" --http1.1 "$S/d?dn=www.example.test&ttl=1&type=addrs")"
expect "text /d over h2" "192.0.2.10" \
	"$("${CURL[@]}" --http2 "$S/d?dn=www.example.test")"
contains "batch /resolve" '"type":28' \
	"$("${CURL[@]}" "$H/resolve?host=www.example.test,other.test&query=4,6")"
contains "DNS JSON" '"data":"192.0.2.10"' \
	"$("${CURL[@]}" -H 'Accept: application/dns-json' "$S/dns-query?name=www.example.test&type=A")"
hdrs=$("${CURL[@]}" -D - -o /dev/null "$H/d?dn=www.example.test&ttl=1")
contains "Cache-Control" "Cache-Control: max-age=60" "$hdrs"
expect "bad request status" "400" \
	"$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$H/resolve?host=a.t,b.t,c.t,d.t,e.t,f.t")"
# keep-alive: two requests, one connection
n=$("${CURL[@]}" -v "$H/d?dn=www.example.test" "$H/d?dn=www.example.test" 2>&1 |
	grep -c "Re-using existing connection" || true)
expect "keep-alive" "1" "$n"

# ---- views --------------------------------------------------------------
expect "view by ip=" "10.9.9.9" \
	"$("${CURL[@]}" "$H/d?dn=www.example.test&ip=10.1.1.1")"
expect "view by X-Real-IP from a trusted proxy" "10.9.9.9|10.2.2.2" \
	"$("${CURL[@]}" -H 'X-Real-IP: 10.2.2.2' "$H/d?dn=www.example.test&clientip=1")"
expect "outside the view" "192.0.2.10" \
	"$("${CURL[@]}" "$H/d?dn=www.example.test&ip=203.0.113.1")"

# ---- health: the VIP leaves and returns ---------------------------------
kill "$BE_PID"
wait "$BE_PID" 2>/dev/null || true
BE_PID=
for _ in $(seq 50); do
	out=$("${CURL[@]}" "$H/d?dn=www.example.test&ttl=1")
	[ "$out" == "192.0.2.10,60" ] || break
	sleep 0.2
done
# web6 has no check, so it stays: the answer keeps it and drops web
expect "backend down: v4 VIP gone" "0" "$out"
expect "still up: v6" "2001:db8::10,60" \
	"$("${CURL[@]}" "$H/d?dn=www.example.test&ttl=1&type=aaaa")"
start_backend
wait_port "$BPORT" || fail "backend did not restart"
for _ in $(seq 50); do
	out=$("${CURL[@]}" "$H/d?dn=www.example.test&ttl=1")
	[ "$out" == "192.0.2.10,60" ] && break
	sleep 0.2
done
expect "backend back: VIP returns" "192.0.2.10,60" "$out"

# ---- metrics ------------------------------------------------------------
m=$(curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics")
contains "metrics: requests" 'edgelbd_httpdns_requests_total{dialect="doh",qtype="A",status="200"}' "$m"
contains "metrics: latency" 'edgelbd_httpdns_request_duration_seconds_bucket{dialect="text"' "$m"
contains "metrics: h2 connections" 'edgelbd_httpdns_connections_total{proto="h2"}' "$m"

lo_end "$T/edgelbd.log"
