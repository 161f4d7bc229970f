#!/usr/bin/env bash
# Cluster-wide rate limits, what they cost: decisions/s, Redis round
# trips per request and the p99 latency Redis adds over the local
# limiter, in one edgelbd gateway.
#
#   tests/bench/bench_gw_redis.sh [--build DIR] [--rounds N] [--duration S]
#
# edgelbd's gateway (`workers = 1`, access log off) pinned to CPU 1 in
# front of bench_http_route (a fixed 200); wrk, that backend and a
# redis-server started here (loopback, its own port and directory, no
# persistence) share CPU 0. Four routes, the same limit on each
# (100000000/s, token bucket keyed by route: never refused):
#   none   no filter
#   local  ratelimit, in this process
#   redis  the same with store = redis: one EVALSHA per request, the
#          request held until Redis answers
#   lease  the same with lease = 100: a round trip takes 100 tokens
# Each run: taskset -c 0 wrk -t1 -c50 -dS (default 4) --latency. Rounds (default 7)
# rotate the order of the routes. Per run: requests/s (on a limited
# route every request is one decision), p50 and p99 latency, edgelbd's
# and redis-server's CPU time per request (utime + stime from
# /proc/PID/stat over the run / requests), and the Redis round trips per
# request counted by Redis itself: the calls of EVALSHA and EVAL in
# INFO commandstats over the run / the requests the route answered
# (edgelbd_gateway_requests_total, which also counts the requests wrk
# left in flight; edgelbd's own count of commands sent,
# edgelbd_gateway_ratelimit_redis_total{event="round_trip"}, alongside).
# The p99 (and p50) Redis adds is p99(redis) - p99(local) within each
# round.
# Prints one JSON object on stdout, progress on stderr.
# EDGELB_BENCH_SMOKE=1: one round of one second per route; fails when a
# route answers anything but 200, when a run serves no request, or when
# the redis or lease run made no Redis call (or the local one made any).
# Exit: 0 measured, 77 skipped (redis-server, redis-cli, wrk, curl,
# python3 or taskset missing, not built, fewer than 2 CPUs), 1 failed.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${EDGELB_BUILD:-$root/build}
smoke=0
case "${EDGELB_BENCH_SMOKE:-0}" in "" | 0) ;; *) smoke=1 ;; esac
if [ "$smoke" = 1 ]; then rounds=1 dur=1; else rounds=7 dur=4; fi
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--duration) dur=$2; shift 2 ;;
	*) echo "usage: $0 [--build DIR] [--rounds N] [--duration S]" >&2; exit 2 ;;
	esac
done
EDGELBD=$build/controlplane/edgelbd
ROUTE=$build/tests/bench/bench_http_route
skip() { echo "{\"bench\": \"gw_redis\", \"skipped\": \"$1\"}"; echo "SKIP: $1" >&2; exit 77; }
for tool in redis-server redis-cli wrk curl python3 taskset; do
	command -v "$tool" >/dev/null || skip "$tool not installed"
done
[ -x "$EDGELBD" ] && [ -x "$ROUTE" ] || skip "edgelbd or bench_http_route not built in $build"
[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs"

T=$(mktemp -d /tmp/elb-gwredis-bench.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
say() { echo "bench_gw_redis: $*" >&2; }
die() { say "FAIL: $*"; [ -f "$T/lbd.log" ] && tail -5 "$T/lbd.log" >&2; exit 1; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
	python3 -c '
import socket, sys, time
for _ in range(300):
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

taskset -c 0 redis-server --port "$RP" --bind 127.0.0.1 --dir "$T" --save '' \
	--appendonly no --logfile "$T/redis.log" &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
taskset -c 0 "$ROUTE" --listen "127.0.0.1:$BE" --max-conns 4096 \
	--max-conns-per-addr 4096 --seconds 3600 --quiet &
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
workers = 1
max_connections = 4096
max_connections_per_addr = 4096
access_log = off

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
taskset -c 1 "$EDGELBD" -f -c "$T/e.ini" >"$T/lbd.log" 2>&1 &
GW_PID=$!
PIDS+=("$GW_PID")
for p in "redis-server $RP" "backend $BE" "gateway $GW" "metrics $MP"; do
	wait_port "${p#* }" || die "$p did not open: $(tail -3 "$T/redis.log" 2>/dev/null)"
done

# redis_calls: EVALSHA + EVAL calls so far, from Redis's INFO commandstats
redis_calls() {
	redis-cli -p "$RP" info commandstats >"$T/cs" 2>"$T/cs.err" ||
		die "redis-cli info: $(cat "$T/cs.err")"
	awk -F'[:=,]' '/^cmdstat_(evalsha|eval):/ { n += $3 } END { printf "%d\n", n }' "$T/cs"
}
# gw_counts ROUTE: "ROUND_TRIPS REQUESTS" from edgelbd's metrics: the
# commands it sent to Redis, the requests ROUTE answered (every class)
gw_counts() {
	curl -sS --max-time 5 "http://127.0.0.1:$MP/metrics" >"$T/m" 2>"$T/m.err" ||
		die "metrics: $(cat "$T/m.err")"
	awk -v r="route=\"$1\"" '
		/^edgelbd_gateway_ratelimit_redis_total\{event="round_trip"\} / { t = $2 }
		/^edgelbd_gateway_requests_total\{/ && index($0, r) { n += $2 }
		END { printf "%d %d\n", t, n }' "$T/m"
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

for r in none local redis lease; do
	code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW/$r/x" 2>"$T/c.err") ||
		die "/$r/x: curl failed: $(cat "$T/c.err")"
	[ "$code" = 200 ] || die "/$r/ answered $code"
done
say "every route answers 200"

# run ROUTE ROUND: one wrk run, a JSON line into $T/runs
run() {
	local name=$1 round=$2 rc=0 g0 g1 r0 r1 q0 q1 t0 t1 n0 n1
	[ -d "/proc/$GW_PID" ] && [ -d "/proc/$REDIS_PID" ] || die "edgelbd or redis-server gone"
	q0=$(redis_calls)
	read -r t0 n0 <<<"$(gw_counts "$name")"
	g0=$(cpu_ticks "$GW_PID")
	r0=$(cpu_ticks "$REDIS_PID")
	timeout $((dur + 30)) taskset -c 0 wrk -t1 -c50 -d"$dur" --latency \
		"http://127.0.0.1:$GW/$name/x" >"$T/wrk.out" 2>&1 || rc=$?
	[ -d "/proc/$GW_PID" ] && [ -d "/proc/$REDIS_PID" ] || die "edgelbd or redis-server gone"
	g1=$(cpu_ticks "$GW_PID")
	r1=$(cpu_ticks "$REDIS_PID")
	sleep 0.2 # answers to requests wrk left in flight
	q1=$(redis_calls)
	read -r t1 n1 <<<"$(gw_counts "$name")"
	[ $rc = 0 ] || die "wrk failed ($rc): $(cat "$T/wrk.out")"
	if grep -q "Non-2xx\|Socket errors" "$T/wrk.out"; then
		die "/$name/: errors under load: $(grep "Non-2xx\|Socket errors" "$T/wrk.out")"
	fi
	python3 - "$T/wrk.out" "$name" "$round" "$((g1 - g0))" "$((r1 - r0))" \
		"$((q1 - q0))" "$((t1 - t0))" "$CLK_TCK" "$((n1 - n0))" >>"$T/runs" <<-'PY' || die "/$name/: $(cat "$T/wrk.out")"
		import json, re, sys
		out, name, rnd = sys.argv[1:4]
		gt, rt, calls, trips, hz, served = (int(x) for x in sys.argv[4:10])
		text = open(out).read()
		m = re.search(r"(\d+) requests in", text)
		rps = re.search(r"Requests/sec:\s*([\d.]+)", text)
		def pct(p):
		    x = re.search(r"^\s*" + p + r"%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
		    return float(x.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[x.group(2)] if x else None
		if not m or not rps or pct("99") is None:
		    sys.exit("cannot read wrk's output")
		n = int(m.group(1))
		if n == 0 or served == 0:
		    sys.exit(f"/{name}/: the gateway served no request")
		# wrk counts the answers it read; edgelbd also answered those
		# in flight when wrk stopped: at most one per connection more
		if not n <= served <= n + 100:
		    sys.exit(f"/{name}/: wrk read {n} answers, edgelbd counted {served}")
		d = {"route": name, "round": int(rnd), "requests": n,
		     "rps": float(rps.group(1)), "p50_us": pct("50"), "p99_us": pct("99"),
		     "gw_cpu_us_per_req": gt * 1e6 / hz / n,
		     "redis_cpu_us_per_req": rt * 1e6 / hz / n,
		     "served": served, "redis_calls": calls, "gw_round_trips": trips,
		     "redis_calls_per_req": calls / served}
		# Redis must be asked by the Redis routes, and only by them
		if name in ("redis", "lease") and calls == 0:
		    sys.exit(f"/{name}/: no EVALSHA or EVAL reached Redis")
		if name in ("none", "local") and calls != 0:
		    sys.exit(f"/{name}/: {calls} Redis calls on a route without Redis")
		print(json.dumps(d))
	PY
	say "round $round $name: $(tail -1 "$T/runs")"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
routes=(none local redis lease)
for r in $(seq "$rounds"); do
	for k in 0 1 2 3; do
		run "${routes[$(((k + r - 1) % 4))]}" "$r"
	done
done
python3 - "$T/runs" "$smoke" "$dur" "$rounds" "$(redis-server --version | sed 's/ sha=.*//')" \
	"$load0" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in runs:
    by.setdefault(r["route"], {})[r["round"]] = r
def stat(v):
    v = sorted(v)
    return {"min": v[0], "median": statistics.median(v), "max": v[-1]} if v else {}
rounds = sorted(set.intersection(*(set(by[k]) for k in by)))
per_round = {
    "redis_p99_added_us": [by["redis"][k]["p99_us"] - by["local"][k]["p99_us"] for k in rounds],
    "lease_p99_added_us": [by["lease"][k]["p99_us"] - by["local"][k]["p99_us"] for k in rounds],
    "redis_p50_added_us": [by["redis"][k]["p50_us"] - by["local"][k]["p50_us"] for k in rounds],
    "lease_p50_added_us": [by["lease"][k]["p50_us"] - by["local"][k]["p50_us"] for k in rounds],
    "redis_rps_over_local": [by["redis"][k]["rps"] / by["local"][k]["rps"] for k in rounds],
    "lease_rps_over_local": [by["lease"][k]["rps"] / by["local"][k]["rps"] for k in rounds],
}
print(json.dumps({"bench": "gw_redis", "smoke": sys.argv[2] == "1",
                  "duration": int(sys.argv[3]), "rounds": int(sys.argv[4]),
                  "conns": 50, "lease": 100, "redis": sys.argv[5], "runs": runs,
                  "loadavg_start": sys.argv[6], "loadavg_end": sys.argv[7],
                  "per_round": per_round,
                  "summary": {k: {"per_round": v, **stat(v)} for k, v in per_round.items()}}))
PY
