#!/usr/bin/env bash
# Cluster-wide rate limits, what they cost: one edgelbd gateway (2 worker
# loops) in front of bench_http_route, three routes driven by wrk in turn
# (2 threads, 32 connections, the same duration each):
#   none   no filter
#   local  ratelimit, local token bucket (a limit never reached)
#   redis  the same limit with store = redis (a redis-server started here
#          on loopback, its own port and dir)
#   lease  the same with lease = 100
# Prints one line: requests/s of each (for redis these are decisions/s),
# Redis round trips per request (edgelbd_gateway_ratelimit_redis_total
# round_trip over wrk's requests, for redis and lease), p99 latency of each and the p99 that
# Redis adds over the local limiter. Fails when a route answers anything
# but 200 or the redis route made no Redis decision.
# EDGELB_BENCH_SMOKE=1: 1 s per route. Needs redis-server, wrk, curl.
set -euo pipefail

BUILD=${EDGELB_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
EDGELBD=$BUILD/controlplane/edgelbd
ROUTE=$BUILD/tests/bench/bench_http_route
DUR=${EDGELB_BENCH_SECONDS:-5}
[ "${EDGELB_BENCH_SMOKE:-0}" = 1 ] && DUR=1

for tool in redis-server wrk curl python3; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
[ -x "$EDGELBD" ] && [ -x "$ROUTE" ] || { echo "SKIP: not built"; exit 77; }

T=$(mktemp -d /tmp/elb-gwredis-bench.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
	python3 -c '
import socket, sys, time
for _ in range(50):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
' "$1"
}
RP=$(free_port)
BE=$(free_port)
GW=$(free_port)
MP=$(free_port)

redis-server --port "$RP" --bind 127.0.0.1 --dir "$T" --save '' \
	--appendonly no --logfile "$T/redis.log" &
PIDS+=($!)
"$ROUTE" --listen "127.0.0.1:$BE" --max-conns 4096 --max-conns-per-addr 4096 \
	--seconds 300 --quiet &
PIDS+=($!)
cat >"$T/e.ini" <<EOF
[global]
ctl_socket = $T/ctl.sock
log_level = warning

[dataplane]
socket = $T/dp.sock

[metrics]
listen = 127.0.0.1:$MP

[gateway]
listen = 127.0.0.1:$GW
workers = 2

[upstream be]
instance = 127.0.0.1:$BE

[filter local]
type = ratelimit
rate = 100000000/s
key = route

[filter redis]
type = ratelimit
rate = 100000000/s
key = route
store = redis
redis = 127.0.0.1:$RP
redis_timeout = 1000

[filter lease]
type = ratelimit
rate = 100000000/s
key = route
store = redis
redis = 127.0.0.1:$RP
redis_timeout = 1000
lease = 100

[route none]
path_prefix = /none/
upstream = be

[route local]
path_prefix = /local/
upstream = be
filters = local

[route redis]
path_prefix = /redis/
upstream = be
filters = redis

[route lease]
path_prefix = /lease/
upstream = be
filters = lease
EOF
"$EDGELBD" -f -c "$T/e.ini" >"$T/lbd.log" 2>&1 &
PIDS+=($!)
for p in $RP $BE $GW $MP; do
	wait_port "$p" || { echo "FAIL: port $p did not open" >&2; cat "$T/lbd.log" >&2; exit 1; }
done

round_trips() {
	curl -sS --max-time 5 "http://127.0.0.1:$MP/metrics" >"$T/m"
	sed -n 's/^edgelbd_gateway_ratelimit_redis_total{event="round_trip"} //p' "$T/m"
}

declare -A RPS P99 REQ RT
for r in none local redis lease; do
	code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW/$r/x")
	[ "$code" = 200 ] || { echo "FAIL: /$r/ answered $code" >&2; exit 1; }
	rt0=$(round_trips)
	wrk -t2 -c32 -d"${DUR}s" --latency "http://127.0.0.1:$GW/$r/x" >"$T/wrk.$r"
	if grep -q 'Non-2xx' "$T/wrk.$r"; then
		echo "FAIL: /$r/: non-2xx answers" >&2
		cat "$T/wrk.$r" >&2
		curl -sS -i --max-time 5 "http://127.0.0.1:$GW/$r/x" >&2 || true
		exit 1
	fi
	RPS[$r]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$T/wrk.$r")
	REQ[$r]=$(awk '/requests in/ {print $1}' "$T/wrk.$r")
	# wrk prints 99% as 1.23ms / 456.00us / 1.02s: into ms
	P99[$r]=$(awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
		if (u == "us") v /= 1000; else if (u == "s") v *= 1000; printf "%.2f", v }' "$T/wrk.$r")
	rt1=$(round_trips)
	RT[$r]=$(awk -v a="$rt0" -v b="$rt1" -v n="${REQ[$r]}" 'BEGIN { printf "%.3f", (b - a) / n }')
done
if awk -v a="${RT[redis]}" -v b="${RT[lease]}" 'BEGIN { exit !(a > 0 && b > 0) }'; then :; else
	echo "FAIL: no Redis round trip during the redis or lease run" >&2
	exit 1
fi
added=$(awk -v a="${P99[redis]}" -v b="${P99[local]}" 'BEGIN { printf "%.2f", a - b }')
echo "gw_redis (${DUR}s each, wrk 2 threads 32 conns, 2 loops): none ${RPS[none]} req/s p99 ${P99[none]} ms; local ${RPS[local]} req/s p99 ${P99[local]} ms; redis ${RPS[redis]} decisions/s p99 ${P99[redis]} ms, ${RT[redis]} Redis round trips/request, p99 added over local ${added} ms; lease 100: ${RPS[lease]} req/s p99 ${P99[lease]} ms, ${RT[lease]} round trips/request"
