#!/usr/bin/env bash
# Cluster-wide rate limits: two edgelbd gateway nodes (2 worker loops each)
# sharing one redis-server started here (loopback, its own port and dir,
# no persistence), in front of one python3 backend. Node 2 runs with its
# wall clock an hour ahead (libfaketime, when installed: Debian package
# faketime), so windows taken from the nodes' clocks would differ: the
# limits must hold on Redis's clock. Checks:
#   - 1,000 requests against `fixed_window 100/h` keyed by route, spread
#     over both nodes by 16 concurrent clients: exactly 100 pass (200),
#     900 are 429; the same against `token_bucket 100/h`,
#   - leases of 10 (lease = 10), the same 1,000 requests: fixed_window
#     never passes more than 100 and at most 9 fewer per node (82..100);
#     token_bucket the same here (the bucket does not refill in the run);
#     Redis round trips per request printed (one per lease or refusal
#     remembered, instead of one per request),
#   - the keys live in Redis under edgelb:rl:FILTER:... with an expiry,
#   - Redis stopped: the fail_open filter keeps serving on its local limit
#     (exactly 5 of 8 pass with 5/h), the fail_closed one refuses (503);
#     both counted in /metrics; Redis started again: both are decided by
#     Redis again (200, the keys come back) within a few seconds.
# Needs: redis-server, redis-cli, curl, python3 (exit 77 without);
# faketime for the skew (without it both clocks agree, and it says so).
# Loopback only; no root.
set -euo pipefail

# shellcheck source=lo_lib.sh
source "$(dirname "$0")/lo_lib.sh"
lo_need redis-server redis-cli curl python3
lo_need_built "$EDGELBD"
lo_begin gwredis
RPID=
lo_kill_at_exit RPID
RP=$(free_port)
BE=$(free_port)
G1=$(free_port)
G2=$(free_port)
M1=$(free_port)
M2=$(free_port)
RCLI=(redis-cli -h 127.0.0.1 -p "$RP")

start_redis() {
	redis-server --port "$RP" --bind 127.0.0.1 --dir "$T" --save '' \
		--appendonly no --logfile "$T/redis.log" &
	RPID=$!
	wait_port "$RP" || { fail "redis-server did not start"; cat "$T/redis.log" >&2; exit 1; }
}
start_redis

cat >"$T/backend.py" <<'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
python3 "$T/backend.py" "$BE" &
PIDS+=($!)
wait_port "$BE" || { fail "backend did not start"; exit 1; }

write_ini() { # NODE GWPORT METRICSPORT
	cat >"$T/n$1.ini" <<EOF
[global]
ctl_socket = $T/ctl$1.sock
log_level = info

[dataplane]
socket = $T/dp$1.sock

[metrics]
listen = 127.0.0.1:$3

[gateway]
listen = 127.0.0.1:$2
workers = 2

[upstream be]
instance = 127.0.0.1:$BE

[filter fw]
type = ratelimit
algorithm = fixed_window
rate = 100/h
key = route
store = redis
redis = 127.0.0.1:$RP
redis_timeout = 500

[filter tb]
type = ratelimit
rate = 100/h
key = route
store = redis
redis = 127.0.0.1:$RP
redis_timeout = 500

[filter fwl]
type = ratelimit
algorithm = fixed_window
rate = 100/h
key = route
store = redis
redis = 127.0.0.1:$RP
redis_timeout = 500
lease = 10

[filter tbl]
type = ratelimit
rate = 100/h
key = route
store = redis
redis = 127.0.0.1:$RP
redis_timeout = 500
lease = 10

[filter open]
type = ratelimit
algorithm = fixed_window
rate = 5/h
key = route
store = redis
redis = 127.0.0.1:$RP
redis_timeout = 200
on_redis_error = fail_open

[filter closed]
type = ratelimit
algorithm = fixed_window
rate = 1000/h
key = route
store = redis
redis = 127.0.0.1:$RP
redis_timeout = 200
on_redis_error = fail_closed

[route fw]
path_prefix = /fw/
upstream = be
filters = fw

[route tb]
path_prefix = /tb/
upstream = be
filters = tb

[route fwl]
path_prefix = /fwl/
upstream = be
filters = fwl

[route tbl]
path_prefix = /tbl/
upstream = be
filters = tbl

[route open]
path_prefix = /open/
upstream = be
filters = open

[route closed]
path_prefix = /closed/
upstream = be
filters = closed
EOF
}
write_ini 1 "$G1" "$M1"
write_ini 2 "$G2" "$M2"
"$EDGELBD" -f -c "$T/n1.ini" >"$T/n1.log" 2>&1 &
PIDS+=($!)
FT=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1 || true)
if [ -n "$FT" ]; then
	LD_PRELOAD=$FT FAKETIME=+1h FAKETIME_DONT_FAKE_MONOTONIC=1 \
		"$EDGELBD" -f -c "$T/n2.ini" >"$T/n2.log" 2>&1 &
else
	echo "note: no libfaketime: node 2's clock is not skewed"
	"$EDGELBD" -f -c "$T/n2.ini" >"$T/n2.log" 2>&1 &
fi
PIDS+=($!)
for p in $G1 $G2; do
	if ! wait_port "$p"; then
		cat "$T/n1.log" "$T/n2.log" >&2
		fail "edgelbd on $p did not start"
		exit 1
	fi
done

if [ -n "$FT" ]; then
	# the log's timestamps are the nodes' wall clocks
	h1=$(head -1 "$T/n1.log" | cut -c12-13)
	h2=$(head -1 "$T/n2.log" | cut -c12-13)
	if [ -n "$h1" ] && [ "$(( (10#$h1 + 1) % 24 ))" == "$((10#${h2:-99}))" ]; then
		pass "node 2's clock is an hour ahead (log hours $h1 and $h2)"
	else
		fail "node 2's clock skew: log hours '$h1' and '$h2'"
	fi
fi

# burst.py PATH N CONC PORT...: N GETs of PATH, CONC at a time, request i
# to PORT[i % len]; prints "200 count, 429 count, other count". Each
# request has a 5 s timeout; the whole run is bounded by N.
cat >"$T/burst.py" <<'EOF'
import collections, concurrent.futures, http.client, sys
path, n, conc, ports = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), [int(p) for p in sys.argv[4:]]
def one(i):
    try:
        c = http.client.HTTPConnection("127.0.0.1", ports[i % len(ports)], timeout=5)
        c.request("GET", path)
        s = c.getresponse().status
        c.close()
        return s
    except Exception:
        return 0
with concurrent.futures.ThreadPoolExecutor(conc) as ex:
    res = collections.Counter(ex.map(one, range(n)))
print(res.get(200, 0), res.get(429, 0), n - res.get(200, 0) - res.get(429, 0))
EOF

# A fixed window must not end during the burst: with less than a minute
# left in Redis's hour, wait for the next one (Redis's clock decides).
now=$("${RCLI[@]}" TIME | head -1)
left=$((3600 - now % 3600))
if [ "$left" -lt 60 ]; then
	echo "waiting ${left}s for the next hour window"
	sleep "$((left + 1))"
fi

for f in fw tb; do
	read -r ok limited other < <(python3 "$T/burst.py" "/$f/x" 1000 16 "$G1" "$G2")
	expect "$f: 1000 requests over two nodes: exactly 100 pass" "100" "$ok"
	expect "$f: the other 900 are 429" "900" "$limited"
	expect "$f: no other answers" "0" "$other"
done
# Redis round trips so far, both nodes (from their /metrics)
round_trips() {
	local n=0 v m
	for m in $M1 $M2; do
		v=$(curl -sS --max-time 5 "http://127.0.0.1:$m/metrics" |
			sed -n 's/^edgelbd_gateway_ratelimit_redis_total{event="round_trip"} //p')
		n=$((n + ${v%.*}))
	done
	echo "$n"
}
for f in fwl tbl; do
	rt0=$(round_trips)
	read -r ok limited other < <(python3 "$T/burst.py" "/$f/x" 1000 16 "$G1" "$G2")
	rt1=$(round_trips)
	if [ "$ok" -le 100 ] && [ "$ok" -ge 82 ] && [ "$((ok + limited))" -eq 1000 ]; then
		pass "$f: lease 10: $ok of 1000 pass (82..100), $((rt1 - rt0)) Redis round trips"
	else
		fail "$f: lease 10: $ok pass, $limited refused, $other other (want 82..100 and no other)"
	fi
done

keys=$("${RCLI[@]}" --scan --pattern 'edgelb:rl:fw:*' | head -1)
case "$keys" in
edgelb:rl:fw:fw:*) pass "fixed window key in Redis: $keys" ;;
*) fail "no fixed window key edgelb:rl:fw:fw:* ('$keys')" ;;
esac
now=$("${RCLI[@]}" TIME | head -1)
left=$((3600 - now % 3600))
ttl=$("${RCLI[@]}" PTTL "$keys")
if [ "$ttl" -gt 0 ] && [ "$ttl" -le "$(( (left + 1) * 1000 + 1000 ))" ]; then
	pass "the window key expires ($ttl ms)"
else
	fail "window key expiry: '$ttl'"
fi
ttl=$("${RCLI[@]}" PTTL "edgelb:rl:tb:tb")
if [ "$ttl" -gt 0 ]; then pass "the bucket key expires ($ttl ms)"; else fail "bucket key expiry: '$ttl'"; fi

# ---- Redis down ---------------------------------------------------------------
code() { curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$1" || true; }
expect "fail_closed: 200 while Redis is up" "200" "$(code "http://127.0.0.1:$G1/closed/x")"
kill "$RPID"
wait "$RPID" 2>/dev/null || true
RPID=
sleep 0.3
read -r ok limited other < <(python3 "$T/burst.py" /open/x 8 1 "$G1")
expect "fail_open, Redis down: the local limit (5 of 8 pass)" "5 3 0" "$ok $limited $other"
codes=""
for _ in 1 2 3; do codes="$codes $(code "http://127.0.0.1:$G1/closed/x")"; done
expect "fail_closed, Redis down: refused" " 503 503 503" "$codes"
m=$(curl -sS --max-time 5 "http://127.0.0.1:$M1/metrics")
for ev in fail_open fail_closed; do
	v=$(sed -n "s/^edgelbd_gateway_ratelimit_redis_total{event=\"$ev\"} //p" <<<"$m")
	if [ -n "$v" ] && [ "${v%.*}" -ge 3 ]; then
		pass "metrics: $ev counted ($v)"
	else
		fail "metrics: $ev: '$v'"
	fi
done

# ---- Redis back -----------------------------------------------------------------
start_redis
ok_open=; ok_closed=
for _ in $(seq 50); do # the backoff is at most 2 s
	[ "$(code "http://127.0.0.1:$G1/closed/x")" == "200" ] && ok_closed=1
	[ "$(code "http://127.0.0.1:$G1/open/x")" == "200" ] && ok_open=1
	[ -n "$ok_open" ] && [ -n "$ok_closed" ] && break
	sleep 0.2
done
expect "fail_closed: serves again once Redis is back" "1" "$ok_closed"
expect "fail_open: serves again once Redis is back" "1" "$ok_open"
n=$("${RCLI[@]}" --scan --pattern 'edgelb:rl:open:*' | wc -l)
expect "fail_open: decided by Redis again (its key is back)" "1" "$n"
n=$("${RCLI[@]}" --scan --pattern 'edgelb:rl:closed:*' | wc -l)
expect "fail_closed: decided by Redis again (its key is back)" "1" "$n"

lo_end -n 5 "$T/n1.log" "$T/n2.log"
