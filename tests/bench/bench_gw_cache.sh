#!/usr/bin/env bash
# What the gateway's cache filter costs and saves: a cache hit against a
# cache miss and against no filter, in edgelbd.
#
#   tests/bench/bench_gw_cache.sh [--build DIR] [--rounds N] [--duration S]
#
# edgelbd's gateway (one worker thread) pinned to CPU 1 in front of one
# nginx backend (one process, `return 200` with a 13-byte body) that
# shares CPU 0 with wrk. Three routes to that backend:
#   /plain/  no filter;
#   /miss/   the cache filter; the backend answers Cache-Control:
#            no-store, so every request is a MISS (lookup, upstream, the
#            answer judged and not kept);
#   /hit/    the cache filter; the backend answers max-age=3600, so after
#            the first request every request is a HIT (no upstream).
# Each run: taskset -c 0 wrk -t1 -c50 -dS URL. Rounds (default 3) rotate
# the order (plain, miss, hit / miss, hit, plain / ...). Per run:
# requests/s and edgelbd's CPU time per request (utime + stime from
# /proc/PID/stat over the run / requests). Prints one JSON object with
# every run and the medians and ratios (hit/miss, miss/plain) on stdout,
# progress on stderr. EDGELB_BENCH_SMOKE=1: one round of one second,
# which proves the rig (the answers' X-Cache-Status are checked first)
# and asserts no speed. Exit: 0 measured, 77 skipped (wrk, nginx, curl,
# python3 or taskset missing, edgelbd not built, fewer than 2 CPUs), 1
# the rig failed (wrong answers, errors or non-2xx under load).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${EDGELB_BUILD:-$root/build}
smoke=0
case "${EDGELB_BENCH_SMOKE:-0}" in "" | 0) ;; *) smoke=1 ;; esac
if [ "$smoke" = 1 ]; then rounds=1 dur=1; else rounds=3 dur=10; fi
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--duration) dur=$2; shift 2 ;;
	*) echo "usage: $0 [--build DIR] [--rounds N] [--duration S]" >&2; exit 2 ;;
	esac
done
EDGELBD=$build/controlplane/edgelbd
NGINX=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true)
for tool in wrk curl python3 taskset; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
if [ -z "$NGINX" ] || [ ! -x "$NGINX" ]; then echo "SKIP: nginx not installed"; exit 77; fi
[ -x "$EDGELBD" ] || { echo "SKIP: $EDGELBD not built"; exit 77; }
[ "$(nproc)" -ge 2 ] || { echo "SKIP: needs 2 CPUs"; exit 77; }

T=$(mktemp -d /tmp/elb-bench-gwc.XXXXXX)
BE_PID=
GW_PID=
cleanup() {
	local p
	for p in $GW_PID $BE_PID; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
say() { echo "bench_gw_cache: $*" >&2; }
die() { say "FAIL: $*"; [ -f "$T/gw.log" ] && tail -5 "$T/gw.log" >&2; exit 1; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
BPORT=$(free_port)
GPORT=$(free_port)

mkdir -p "$T/be"
cat >"$T/be/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $T/be/nginx.pid;
error_log $T/be/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_requests 1000000;
	client_body_temp_path $T/be;
	proxy_temp_path $T/be;
	fastcgi_temp_path $T/be;
	uwsgi_temp_path $T/be;
	scgi_temp_path $T/be;
	server {
		listen 127.0.0.1:$BPORT;
		location /hit/ { add_header Cache-Control "max-age=3600"; return 200 "hello, world\n"; }
		location /miss/ { add_header Cache-Control "no-store"; return 200 "hello, world\n"; }
		location / { return 200 "hello, world\n"; }
	}
}
EOF
taskset -c 0 "$NGINX" -p "$T/be" -c "$T/be/nginx.conf" >"$T/be/out.log" 2>&1 &
BE_PID=$!

cat >"$T/gw.ini" <<EOF
[global]
ctl_socket = $T/ctl.sock
log_level = warning

[dataplane]
socket = $T/dp.sock

[gateway]
listen = 127.0.0.1:$GPORT

[upstream be]
instance = 127.0.0.1:$BPORT

[filter c]
type = cache

[route plain]
path_prefix = /plain/
upstream = be

[route miss]
path_prefix = /miss/
upstream = be
filters = c

[route hit]
path_prefix = /hit/
upstream = be
filters = c
EOF
taskset -c 1 "$EDGELBD" -f -c "$T/gw.ini" >"$T/gw.log" 2>&1 &
GW_PID=$!

# probe PATH: "STATUS X-Cache-Status BODY" (no header: "-")
probe() {
	curl -sS --max-time 5 -D "$T/p.h" -o "$T/p.b" -w '%{http_code}' \
		"http://127.0.0.1:$GPORT$1" >"$T/p.code" 2>"$T/p.err" || echo 000 >"$T/p.code"
	local x
	x=$(sed -n 's/^X-Cache-Status: *\([A-Z]*\).*/\1/Ip' "$T/p.h" | head -1)
	echo "$(cat "$T/p.code") ${x:--} $(cat "$T/p.b" 2>/dev/null)"
}
ok=0
for _ in $(seq 50); do
	if [ "$(probe /plain/x)" == "200 - hello, world" ]; then ok=1; break; fi
	sleep 0.2
done
[ $ok = 1 ] || die "the gateway did not answer /plain/x: $(probe /plain/x)"
probe /hit/x >/dev/null
[ "$(probe /hit/x)" == "200 HIT hello, world" ] || die "/hit/x: $(probe /hit/x)"
[ "$(probe /miss/x)" == "200 MISS hello, world" ] || die "/miss/x: $(probe /miss/x)"
say "answers: /plain/ no cache, /miss/ MISS, /hit/ HIT"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

# run NAME ROUND: one wrk run, a JSON line into $T/runs
run() {
	local name=$1 round=$2 c0 c1 rc=0
	c0=$(cpu_ticks "$GW_PID") || die "edgelbd gone"
	timeout $((dur + 30)) taskset -c 0 wrk -t1 -c50 -d"$dur" \
		"http://127.0.0.1:$GPORT/$name/x" >"$T/wrk.out" 2>&1 || rc=$?
	c1=$(cpu_ticks "$GW_PID") || die "edgelbd gone"
	[ $rc = 0 ] || die "wrk failed ($rc): $(cat "$T/wrk.out")"
	if grep -q "Non-2xx\|Socket errors" "$T/wrk.out"; then
		die "$name: errors under load: $(grep "Non-2xx\|Socket errors" "$T/wrk.out")"
	fi
	python3 - "$T/wrk.out" "$name" "$round" "$((c1 - c0))" "$CLK_TCK" "$dur" >>"$T/runs" <<-'PY'
		import json, re, sys
		out, name, rnd, ticks, hz, dur = sys.argv[1:]
		text = open(out).read()
		m = re.search(r"(\d+) requests in", text)
		rps = re.search(r"Requests/sec:\s*([\d.]+)", text)
		if not m or not rps:
		    sys.exit("cannot read wrk's output:\n" + text)
		n = int(m.group(1))
		print(json.dumps({"route": name, "round": int(rnd), "requests": n,
		                  "rps": float(rps.group(1)),
		                  "cpu_us_per_req": int(ticks) * 1e6 / int(hz) / max(n, 1)}))
	PY
	say "round $round $name: $(tail -1 "$T/runs")"
}

order=(plain miss hit)
for r in $(seq "$rounds"); do
	for k in 0 1 2; do
		run "${order[$(((k + r - 1) % 3))]}" "$r"
	done
done
python3 - "$T/runs" "$smoke" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
med = {}
for name in ("plain", "miss", "hit"):
    rs = [r for r in runs if r["route"] == name]
    med[name] = {"rps": statistics.median(r["rps"] for r in rs),
                 "cpu_us_per_req": statistics.median(r["cpu_us_per_req"] for r in rs)}
print(json.dumps({"bench": "gw_cache", "smoke": sys.argv[2] == "1",
                  "runs": runs, "median": med,
                  "hit_over_miss_rps": med["hit"]["rps"] / med["miss"]["rps"],
                  "miss_over_plain_rps": med["miss"]["rps"] / med["plain"]["rps"]},
                 indent=1))
PY
