#!/usr/bin/env bash
# A trivial route on edgelbd's HTTP stack against nginx, with h2load.
#
#   tests/bench/bench_http_route.sh [--build DIR] [--rounds N] [--duration S]
#
# bench_http_route (controlplane/http/, one thread, a fixed 200 with the
# 13-byte body "hello, world\n") and nginx (worker_processes 1,
# master_process off, access_log off, `return 200` with the same body)
# each run pinned to CPU 1; h2load runs pinned to CPU 0 with one thread and
# 50 connections: HTTP/1.1 keep-alive (`h2load --h1`, one request at a time
# per connection) and HTTP/2 over cleartext with prior knowledge (10
# streams per connection; nginx: `listen ... http2` without ssl). Rounds
# alternate which server goes first. Per run: requests/s (h2load), p99
# latency (from h2load's per-request log) and the server's CPU time per
# request (utime + stime from /proc/PID/stat over the run, divided by the
# requests done). When the route answers h2 with an error (no HTTP/2 in
# the stack yet), the h2 rows are skipped with that reason.
#
# Prints one JSON object (the runs; read by run.sh and report.py) on
# stdout, progress on stderr. EDGELB_BENCH_SMOKE=1: one round of one
# second. Exit status: 0 measured, 77 skipped (h2load, nginx, taskset or
# python3 missing, bench_http_route not built, fewer than 2 CPUs), 1 the
# rig failed (a server did not start or answered wrong, h2load saw failed
# requests on HTTP/1.1). Loopback only; everything started is killed.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${EDGELB_BUILD:-$root/build}
smoke=0
case "${EDGELB_BENCH_SMOKE:-0}" in "" | 0) ;; *) smoke=1 ;; esac
if [ "$smoke" = 1 ]; then rounds=1 dur=1; else rounds=3 dur=5; fi
conns=50
streams=10

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--duration) dur=$2; shift 2 ;;
	-h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench_http_route.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[[ "$rounds" =~ ^[0-9]+$ ]] && [ "$rounds" -ge 1 ] && [ "$rounds" -le 20 ] ||
	{ echo "bench_http_route.sh: --rounds 1..20" >&2; exit 2; }
[[ "$dur" =~ ^[0-9]+$ ]] && [ "$dur" -ge 1 ] && [ "$dur" -le 60 ] ||
	{ echo "bench_http_route.sh: --duration 1..60 s" >&2; exit 2; }

say() { printf 'bench_http_route: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

ROUTE=$build/tests/bench/bench_http_route
NGINX=${NGINX:-$(command -v nginx || true)}
if [ -z "$NGINX" ] && [ -x /usr/sbin/nginx ]; then NGINX=/usr/sbin/nginx; fi
for tool in h2load curl python3 taskset; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
if [ -z "$NGINX" ] || [ ! -x "$NGINX" ]; then echo "SKIP: nginx not installed"; exit 77; fi
[ -x "$ROUTE" ] || { echo "SKIP: $ROUTE not built"; exit 77; }
[ "$(nproc)" -ge 2 ] || { echo "SKIP: needs 2 CPUs (server on 1, h2load on 0)"; exit 77; }

T=$(mktemp -d /tmp/elb-bench-route.XXXXXX)
RT_PID=
NGX_PID=
LOAD_PID=
cleanup() {
	local p
	for p in "$LOAD_PID" "$RT_PID" "$NGX_PID"; do
		if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi
	done
	for p in "$LOAD_PID" "$RT_PID" "$NGX_PID"; do
		if [ -n "$p" ]; then wait "$p" 2>/dev/null || true; fi
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
RPORT=$(free_port)
NPORT=$(free_port)
N2PORT=$(free_port)
BODY='hello, world'

# ---- the route ---------------------------------------------------------------
taskset -c 1 "$ROUTE" --listen "127.0.0.1:$RPORT" --max-conns 1024 \
	--max-conns-per-addr 1024 --seconds $((rounds * dur * 6 + 120)) --quiet \
	>"$T/route.log" 2>&1 &
RT_PID=$!

# ---- nginx -------------------------------------------------------------------
mkdir -p "$T/nginx"
cat >"$T/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events {
	worker_connections 1024;
}
http {
	access_log off;
	server_tokens off;
	keepalive_requests 1000000;
	http2_max_requests 1000000;
	client_body_temp_path $T/nginx;
	proxy_temp_path $T/nginx;
	fastcgi_temp_path $T/nginx;
	uwsgi_temp_path $T/nginx;
	scgi_temp_path $T/nginx;
	server {
		listen 127.0.0.1:$NPORT;
		listen 127.0.0.1:$N2PORT http2;
		location / {
			default_type text/plain;
			return 200 "$BODY\n";
		}
	}
}
EOF
taskset -c 1 "$NGINX" -p "$T/nginx" -c "$T/nginx/nginx.conf" \
	>"$T/nginx/stdout.log" 2>&1 &
NGX_PID=$!

for url in "http://127.0.0.1:$RPORT/" "http://127.0.0.1:$NPORT/"; do
	got=
	for _ in $(seq 50); do
		got=$(curl -sS --max-time 2 "$url" 2>/dev/null || true)
		[ "$got" == "$BODY" ] && break
		sleep 0.1
	done
	[ "$got" == "$BODY" ] || {
		cat "$T/route.log" "$T/nginx/error.log" >&2 2>/dev/null || true
		die "$url did not answer '$BODY' (got '$got')"
	}
done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

# load SERVER PROTO URL: one h2load run; appends a JSON line to $T/runs.
# HTTP/1.1 runs with failed requests fail the rig; an h2 run whose
# requests all fail marks h2 as unsupported by that server.
load() {
	local server=$1 proto=$2 url=$3 pid log=$T/h2load.$1.$2.$RANDOM rc=0 c0 c1
	local args=(-c "$conns" -t 1 -D "$dur" --log-file="$log.req")
	if [ "$proto" = h1 ]; then args+=(--h1 -m 1); else args+=(-m "$streams"); fi
	if [ "$server" = route ]; then pid=$RT_PID; else pid=$NGX_PID; fi
	c0=$(cpu_ticks "$pid")
	timeout $((dur + 20)) taskset -c 0 h2load "${args[@]}" "$url" >"$log" 2>&1 &
	LOAD_PID=$!
	wait "$LOAD_PID" || rc=$?
	LOAD_PID=
	c1=$(cpu_ticks "$pid")
	[ "$rc" = 0 ] || { cat "$log" >&2; die "h2load failed ($rc) on $url"; }
	python3 - "$server" "$proto" "$log" "$log.req" "$((c1 - c0))" "$CLK_TCK" >>"$T/runs" <<-'PY'
		import json, re, sys
		server, proto, log, reqlog, ticks, hz = sys.argv[1:7]
		out = open(log).read()
		# h2load says "finished in 999.48ms" under a second, "5.00s" above
		m = re.search(r"finished in ([\d.]+)(ms|s), ([\d.]+) req/s", out)
		r = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", out)
		s = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
		if not m or not r or not s:
		    sys.exit("cannot read h2load's output:\n" + out)
		lat = sorted(int(l.split()[2]) for l in open(reqlog) if len(l.split()) >= 3)
		ok = int(s.group(1))
		secs = float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)
		d = {"server": server, "proto": proto, "rps": float(m.group(3)),
		     "seconds": secs, "succeeded": ok,
		     "failed": int(r.group(5)) + int(r.group(6)) + int(r.group(7)),
		     "non2xx": int(s.group(2)) + int(s.group(3)) + int(s.group(4)),
		     "p99_us": lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else None,
		     "cpu_s": int(ticks) / float(hz),
		     "cpu_us_per_req": (int(ticks) / float(hz)) * 1e6 / ok if ok else None}
		print(json.dumps(d))
	PY
	local last
	last=$(tail -1 "$T/runs")
	say "$last"
	if [ "$proto" = h1 ] && python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["failed"] or d["non2xx"] or not d["succeeded"] else 1)' "$last"; then
		cat "$log" >&2
		die "h2load saw failed or non-2xx requests on $url"
	fi
}

# Does the route speak h2c with prior knowledge? One short h2load run.
h2_skip=
timeout 20 h2load -n 1 -c 1 "http://127.0.0.1:$RPORT/" >"$T/h2probe" 2>&1 || true
if ! grep -q "1 succeeded" "$T/h2probe" || ! grep -q "status codes: 1 2xx" "$T/h2probe"; then
	h2_skip="bench_http_route answers HTTP/2 (h2c prior knowledge) with an error (h2load: $(grep -m1 -e '^requests:' "$T/h2probe" || echo 'no summary'))"
	say "h2 rows skipped: $h2_skip"
fi

: >"$T/runs"
say "$rounds round(s) x ${dur}s per target, $conns connections"
for r in $(seq "$rounds"); do
	order="route nginx"
	[ $((r % 2)) = 0 ] && order="nginx route"
	for s in $order; do
		if [ "$s" = route ]; then load route h1 "http://127.0.0.1:$RPORT/"; else load nginx h1 "http://127.0.0.1:$NPORT/"; fi
	done
	if [ -z "$h2_skip" ]; then
		for s in $order; do
			if [ "$s" = route ]; then load route h2 "http://127.0.0.1:$RPORT/"; else load nginx h2 "http://127.0.0.1:$N2PORT/"; fi
		done
	fi
done

python3 - "$T/runs" "$rounds" "$dur" "$conns" "$streams" "$h2_skip" \
	"$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')" \
	"$(h2load --version | head -1)" <<-'PY'
	import json, sys
	runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
	print(json.dumps({"runs": runs, "rounds": int(sys.argv[2]),
	                  "duration": int(sys.argv[3]), "conns": int(sys.argv[4]),
	                  "streams": int(sys.argv[5]),
	                  "h2_skipped": sys.argv[6] or None,
	                  "nginx": sys.argv[7], "h2load": sys.argv[8],
	                  "body_bytes": 13}))
PY
