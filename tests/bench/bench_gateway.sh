#!/usr/bin/env bash
# The API gateway against nginx proxy_pass and HAProxy, through 1,000 routes.
#
#   tests/bench/bench_gateway.sh [--build DIR] [--rounds N] [--duration S]
#                                [--routes N]
#
# Three proxies in front of one backend, each with the same route table:
# edgelbd's gateway ([gateway] with one worker thread, [route]/[upstream]
# sections), nginx (master + worker_processes 1, one `location` per route,
# proxy_pass to keep-alive upstreams) and HAProxy (nbthread 1, one
# `use_backend ... if { ACL }` rule per route, http-reuse always). Each
# proxy runs pinned to CPU 1 (taskset); the load generator and the backend
# (nginx, one process, `return 200` with the 13-byte body "hello, world\n")
# share CPU 0. Loopback only.
#
# The route table (generated, --routes, default 1000, all on any host):
# route rI is, for I % 10 in 0..5, the path prefix /sI/; 6..7, the exact
# path /sI/health; 8..9, the regex ^/api/sI/v[0-9]+/items/[0-9]+$ (20 % of
# the routes). Route I goes to upstream u(I % 10), all ten at the
# backend; the target route, the last regex route (r999 of 1,000), goes to
# its own upstream "target" and adds the answer header X-Route: rI. Every
# request is GET /api/s999/v2/items/4711: the gateway and HAProxy try
# every route (rule) before it in order, nginx its prefix tree and then
# all 200 regex locations in order. Before measuring, each proxy must
# answer the target with 200, the body and X-Route (over HTTP/1.1 and
# h2c), another route with 200 without X-Route, and a path no route
# matches without a 200.
#
# Loads, the same invocation for each proxy:
#   HTTP/1.1 keep-alive: taskset -c 0 wrk -t1 -c50 -dS --latency URL
#   HTTP/2 (h2c, prior knowledge): taskset -c 0 h2load -t1 -c50 -m10 -DS
#     --log-file=F URL  (p50/p99 from the per-request log)
# Rounds (default 5, each HTTP/1.1 then h2c) rotate the order of the three
# proxies (gateway, nginx, haproxy / nginx, haproxy, gateway / ...) so
# that the machine's drift reaches all alike. Per run: requests/s,
# p50/p99 latency, and CPU time per request: utime + stime from
# /proc/PID/stat of every process of the proxy (edgelbd: the process, all
# its threads; nginx: master and worker; haproxy: its process) over the
# run, divided by the requests completed.
#
# Prints one JSON object (every run plus the medians, min..max and ratios
# within a round; read by run.sh and report.py) on stdout, progress on
# stderr. EDGELB_BENCH_SMOKE=1: one round of one second per run, which
# proves the rig works and asserts no speed. Exit status: 0 measured, 77
# skipped (wrk, h2load, nginx, haproxy, curl, python3 or taskset missing,
# edgelbd not built, fewer than 2 CPUs), 1 the rig failed (a proxy did not
# start or answered wrong, a load run saw errors or non-2xx answers).
# Everything started is stopped on exit, also on failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${EDGELB_BUILD:-$root/build}
smoke=0
case "${EDGELB_BENCH_SMOKE:-0}" in "" | 0) ;; *) smoke=1 ;; esac
if [ "$smoke" = 1 ]; then rounds=1 dur=1; else rounds=5 dur=10; fi
nroutes=1000
conns=50
streams=10
PROXY_CPU=1
LOAD_CPU=0

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--duration) dur=$2; shift 2 ;;
	--routes) nroutes=$2; shift 2 ;;
	-h | --help) sed -n '2,48p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench_gateway.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[[ "$rounds" =~ ^[0-9]+$ ]] && [ "$rounds" -ge 1 ] && [ "$rounds" -le 20 ] ||
	{ echo "bench_gateway.sh: --rounds 1..20" >&2; exit 2; }
[[ "$dur" =~ ^[0-9]+$ ]] && [ "$dur" -ge 1 ] && [ "$dur" -le 60 ] ||
	{ echo "bench_gateway.sh: --duration 1..60 s" >&2; exit 2; }
[[ "$nroutes" =~ ^[0-9]+$ ]] && [ "$nroutes" -ge 10 ] && [ "$nroutes" -le 10000 ] ||
	{ echo "bench_gateway.sh: --routes 10..10000 (the gateway's GW_MAX_ROUTES)" >&2; exit 2; }

say() { printf 'bench_gateway: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

EDGELBD=${EDGELBD:-$build/controlplane/edgelbd}
NGINX=${NGINX:-$(command -v nginx || true)}
if [ -z "$NGINX" ] && [ -x /usr/sbin/nginx ]; then NGINX=/usr/sbin/nginx; fi
HAPROXY=${HAPROXY:-$(command -v haproxy || true)}
if [ -z "$HAPROXY" ] && [ -x /usr/sbin/haproxy ]; then HAPROXY=/usr/sbin/haproxy; fi
for tool in wrk h2load curl python3 taskset pgrep; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
if [ -z "$NGINX" ] || [ ! -x "$NGINX" ]; then echo "SKIP: nginx not installed"; exit 77; fi
if [ -z "$HAPROXY" ] || [ ! -x "$HAPROXY" ]; then echo "SKIP: haproxy not installed"; exit 77; fi
[ -x "$EDGELBD" ] || { echo "SKIP: $EDGELBD not built"; exit 77; }
[ "$(nproc)" -ge 2 ] || { echo "SKIP: needs 2 CPUs (proxies on 1, load and backend on 0)"; exit 77; }

T=$(mktemp -d /tmp/elb-bench-gw.XXXXXX)
BE_PID=
GW_PID=
NGX_PID=
HAP_PID=
LOAD_PID=
cleanup() {
	local p
	for p in "$LOAD_PID" "$GW_PID" "$NGX_PID" "$HAP_PID" "$BE_PID"; do
		if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi
	done
	for p in "$LOAD_PID" "$GW_PID" "$NGX_PID" "$HAP_PID" "$BE_PID"; do
		if [ -n "$p" ]; then wait "$p" 2>/dev/null || true; fi
	done
	if [ -n "${BENCH_KEEP:-}" ]; then say "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
BPORT=$(free_port)
GPORT=$(free_port)
NPORT=$(free_port)
N2PORT=$(free_port)
HPORT=$(free_port)
H2PORT=$(free_port)
BODY='hello, world'

# ---- the route table, in each proxy's own form ------------------------------
# Writes $T/gw_routes.ini, $T/nginx_routes.conf, HAProxy's maps
# $T/haproxy_{exact,prefix,regex}.map and backends $T/haproxy_backends.cfg,
# and prints the target route's index.
target=$(python3 - "$T" "$nroutes" "$BPORT" <<-'PY'
	import sys
	d, n, bport = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	def kind(i):
	    k = i % 10
	    return "prefix" if k < 6 else "exact" if k < 8 else "regex"
	target = max(i for i in range(n) if kind(i) == "regex")
	ups = [f"u{k}" for k in range(10)] + ["target"]
	gw, ngx, hap = [], [], []
	maps = {"exact": [], "prefix": [], "regex": []}
	for u in ups:
	    gw += [f"[upstream {u}]", f"instance = 127.0.0.1:{bport}", ""]
	    ngx += [f"upstream {u} {{", f"\tserver 127.0.0.1:{bport};",
	            "\tkeepalive 64;", "\tkeepalive_requests 1000000;", "}"]
	    hap += [f"backend {u}", f"\tserver s 127.0.0.1:{bport}"]
	    if u == "target":
	        hap += [f"\thttp-response set-header X-Route r{target}"]
	ngx += ["server {", "\tlisten 127.0.0.1:@NPORT@;",
	        "\tlisten 127.0.0.1:@N2PORT@ http2;"]
	for i in range(n):
	    up = "target" if i == target else f"u{i % 10}"
	    gw += [f"[route r{i}]"]
	    if kind(i) == "prefix":
	        p = f"/s{i}/"
	        gw += [f"path_prefix = {p}"]
	        loc, key = f"location {p}", p
	    elif kind(i) == "exact":
	        p = f"/s{i}/health"
	        gw += [f"path = {p}"]
	        loc, key = f"location = {p}", p
	    else:
	        p = f"/api/s{i}/v[0-9]+/items/[0-9]+"
	        gw += [f"path_regex = {p}"]
	        loc, key = f"location ~ ^{p}$", f"^{p}$"
	    gw += [f"upstream = {up}"]
	    extra = ""
	    if i == target:
	        gw += [f"response_header_set = X-Route: r{i}"]
	        extra = f" add_header X-Route r{i};"
	    gw += [""]
	    ngx += [f"\t{loc} {{ proxy_pass http://{up};{extra} }}"]
	    maps[kind(i)] += [f"{key} {up}"]
	ngx += ["}"]
	open(f"{d}/gw_routes.ini", "w").write("\n".join(gw) + "\n")
	open(f"{d}/nginx_routes.conf", "w").write("\n".join(ngx) + "\n")
	for k, lines in maps.items():
	    open(f"{d}/haproxy_{k}.map", "w").write("\n".join(lines) + "\n")
	open(f"{d}/haproxy_backends.cfg", "w").write("\n".join(hap) + "\n")
	print(target)
PY
) || die "cannot generate the route table"
TPATH=/api/s$target/v2/items/4711
say "$nroutes routes; every request: GET $TPATH (route r$target, the last regex route)"

# ---- the backend: nginx, one process, on the load's CPU ---------------------
mkdir -p "$T/be" "$T/ngx" "$T/hap" "$T/gw"
ngx_common() { # DIR: the lines every nginx here shares
	cat <<-EOF
		pid $1/nginx.pid;
		error_log $1/error.log warn;
		events {
			worker_connections 4096;
		}
	EOF
}
ngx_http_common() { # DIR
	cat <<-EOF
		access_log off;
		server_tokens off;
		default_type text/plain;
		keepalive_requests 1000000;
		client_body_temp_path $1;
		proxy_temp_path $1;
		fastcgi_temp_path $1;
		uwsgi_temp_path $1;
		scgi_temp_path $1;
	EOF
}
{
	echo "daemon off;"
	echo "master_process off;"
	echo "worker_processes 1;"
	ngx_common "$T/be"
	echo "http {"
	ngx_http_common "$T/be"
	echo "server { listen 127.0.0.1:$BPORT; location / { return 200 \"$BODY\\n\"; } }"
	echo "}"
} >"$T/be/nginx.conf"
taskset -c "$LOAD_CPU" "$NGINX" -p "$T/be" -c "$T/be/nginx.conf" >"$T/be/stdout.log" 2>&1 &
BE_PID=$!

# ---- the gateway: edgelbd, one HTTP worker thread ---------------------------
{
	cat <<-EOF
		[global]
		ctl_socket = $T/gw/ctl.sock
		log_level = warning

		[dataplane]
		socket = $T/gw/dp.sock

		[gateway]
		listen = 127.0.0.1:$GPORT
		workers = 1
		max_connections = 4096
		max_connections_per_addr = 4096
		access_log = off

	EOF
	cat "$T/gw_routes.ini"
} >"$T/gw/edgelb.ini"
taskset -c "$PROXY_CPU" "$EDGELBD" -f -c "$T/gw/edgelb.ini" >"$T/gw/edgelbd.log" 2>&1 &
GW_PID=$!

# ---- nginx: master + one worker, proxy_pass ---------------------------------
{
	echo "daemon off;"
	echo "master_process on;"
	echo "worker_processes 1;"
	echo "pcre_jit on;"
	ngx_common "$T/ngx"
	echo "http {"
	ngx_http_common "$T/ngx"
	cat <<-'EOF'
		http2_max_requests 1000000;
		proxy_http_version 1.1;
		proxy_set_header Connection "";
		proxy_set_header Host $http_host;
		proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
		proxy_set_header X-Forwarded-Proto $scheme;
	EOF
	sed -e "s/@NPORT@/$NPORT/" -e "s/@N2PORT@/$N2PORT/" "$T/nginx_routes.conf"
	echo "}"
} >"$T/ngx/nginx.conf"
taskset -c "$PROXY_CPU" "$NGINX" -p "$T/ngx" -c "$T/ngx/nginx.conf" >"$T/ngx/stdout.log" 2>&1 &
NGX_PID=$!

# ---- HAProxy: one thread ----------------------------------------------------
{
	cat <<-EOF
		global
			nbthread 1
			maxconn 4096
			# every request here has the same path, which the pattern
			# cache would answer from memory after the first; a real
			# mix of paths (item ids) would not
			tune.pattern.cache-size 0

		defaults
			mode http
			timeout connect 5s
			timeout client 30s
			timeout server 30s
			option forwardfor
			http-reuse always

		frontend fe
			bind 127.0.0.1:$HPORT
			bind 127.0.0.1:$H2PORT proto h2
			http-request set-header X-Forwarded-Proto http
			http-request set-var(txn.be) path,map_str($T/haproxy_exact.map)
			http-request set-var(txn.be) path,map_beg($T/haproxy_prefix.map) if !{ var(txn.be) -m found }
			http-request set-var(txn.be) path,map_reg($T/haproxy_regex.map) if !{ var(txn.be) -m found }
			use_backend %[var(txn.be)] if { var(txn.be) -m found }

	EOF
	cat "$T/haproxy_backends.cfg"
} >"$T/hap/haproxy.cfg"
"$HAPROXY" -c -q -f "$T/hap/haproxy.cfg" >"$T/hap/check.log" 2>&1 ||
	{ cat "$T/hap/check.log" >&2; die "haproxy rejects its configuration"; }
taskset -c "$PROXY_CPU" "$HAPROXY" -db -f "$T/hap/haproxy.cfg" >"$T/hap/stdout.log" 2>&1 &
HAP_PID=$!

# ---- is every proxy up and routing? ------------------------------------------
declare -A URL1 URL2 PID
URL1[gateway]=http://127.0.0.1:$GPORT URL2[gateway]=http://127.0.0.1:$GPORT
URL1[nginx]=http://127.0.0.1:$NPORT URL2[nginx]=http://127.0.0.1:$N2PORT
URL1[haproxy]=http://127.0.0.1:$HPORT URL2[haproxy]=http://127.0.0.1:$H2PORT
PID[gateway]=$GW_PID PID[nginx]=$NGX_PID PID[haproxy]=$HAP_PID
logs() { tail -5 "$T/be/error.log" "$T/gw/edgelbd.log" "$T/ngx/error.log" "$T/ngx/stdout.log" "$T/hap/stdout.log" >&2 2>/dev/null || true; }

# probe PROXY PROTO PATH: "STATUS|X-ROUTE|BODY" of one answer (curl).
probe() {
	local url opt=--http1.1
	if [ "$2" = h2 ]; then url=${URL2[$1]}$3; opt=--http2-prior-knowledge; else url=${URL1[$1]}$3; fi
	curl -sS --max-time 2 "$opt" -D "$T/probe.hdr" -o "$T/probe.body" "$url" 2>"$T/probe.err" || return 1
	printf '%s|%s|%s\n' \
		"$(awk 'NR == 1 { print $2 }' "$T/probe.hdr")" \
		"$(tr -d '\r' <"$T/probe.hdr" | awk -F': ' 'tolower($1) == "x-route" { print $2 }')" \
		"$(cat "$T/probe.body")"
}
for p in gateway nginx haproxy; do
	got=
	deadline=$((SECONDS + 20)) # a loaded machine starts 1,000 routes slowly
	for _ in $(seq 200); do
		got=$(probe "$p" h1 "$TPATH") || got=
		[ -n "$got" ] && break
		kill -0 "${PID[$p]}" 2>/dev/null || break
		[ "$SECONDS" -lt "$deadline" ] || break
		sleep 0.1
	done
	[ -n "$got" ] || { logs; die "$p did not answer on ${URL1[$p]} ($(cat "$T/probe.err" 2>/dev/null))"; }
	for proto in h1 h2; do
		got=$(probe "$p" "$proto" "$TPATH") || { logs; die "$p/$proto: no answer for $TPATH: $(cat "$T/probe.err")"; }
		[ "$got" == "200|r$target|$BODY" ] ||
			{ logs; die "$p/$proto: $TPATH answered '$got', not '200|r$target|$BODY' (route r$target)"; }
		got=$(probe "$p" "$proto" /s0/orders/17) || { logs; die "$p/$proto: no answer for /s0/orders/17"; }
		[ "$got" == "200||$BODY" ] || { logs; die "$p/$proto: /s0/orders/17 (route r0) answered '$got'"; }
		got=$(probe "$p" "$proto" /none/of/these) || { logs; die "$p/$proto: no answer for /none/of/these"; }
		[ "${got%%|*}" != 200 ] || die "$p/$proto: /none/of/these (no route) answered 200"
	done
	say "$p routes: $TPATH -> r$target, /s0/orders/17 -> r0, /none/of/these -> ${got%%|*}"
done

# ---- measuring ---------------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)
# cpu_ticks PID: utime + stime of PID and its children (nginx's worker),
# each read from /proc/PID/stat, which counts all of a process's threads.
cpu_ticks() {
	local p sum=0 t
	for p in "$1" $(pgrep -P "$1" || true); do
		t=$(awk '{ print $14 + $15 }' "/proc/$p/stat") || return 1
		sum=$((sum + t))
	done
	echo "$sum"
}
nprocs() { echo $((1 + $(pgrep -c -P "$1" || true))); }

# load PROXY PROTO ROUND: one run; appends a JSON line to $T/runs. Errors
# or non-2xx answers fail the rig.
load() {
	local p=$1 proto=$2 round=$3 pid=${PID[$1]} log=$T/load.$1.$2.$3 rc=0 c0 c1 n
	local url
	if [ "$proto" = h1 ]; then url=${URL1[$p]}$TPATH; else url=${URL2[$p]}$TPATH; fi
	n=$(nprocs "$pid")
	c0=$(cpu_ticks "$pid") || die "cannot read /proc/$pid/stat ($p gone?)"
	if [ "$proto" = h1 ]; then
		timeout $((dur + 30)) taskset -c "$LOAD_CPU" wrk -t1 -c"$conns" -d"${dur}s" --latency "$url" >"$log" 2>&1 &
	else
		timeout $((dur + 30)) taskset -c "$LOAD_CPU" h2load -t1 -c"$conns" -m"$streams" -D"$dur" \
			--log-file="$log.req" "$url" >"$log" 2>&1 &
	fi
	LOAD_PID=$!
	wait "$LOAD_PID" || rc=$?
	LOAD_PID=
	c1=$(cpu_ticks "$pid") || die "cannot read /proc/$pid/stat ($p gone?)"
	[ "$rc" = 0 ] || { cat "$log" >&2; die "$p/$proto: the load generator failed ($rc)"; }
	python3 - "$p" "$proto" "$round" "$log" "$((c1 - c0))" "$CLK_TCK" "$n" >>"$T/runs" <<-'PY' ||
		import json, re, sys
		p, proto, rnd, log, ticks, hz, nproc = sys.argv[1:8]
		out = open(log).read()
		def us(s):
		    m = re.fullmatch(r"([\d.]+)(us|ms|s)", s)
		    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
		d = {"proxy": p, "proto": proto, "round": int(rnd), "procs": int(nproc)}
		if proto == "h1":
		    n = re.search(r"(\d+) requests in ([\d.]+)(ms|s)", out)
		    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
		    p50 = re.search(r"\s50%\s+(\S+)", out)
		    p99 = re.search(r"\s99%\s+(\S+)", out)
		    if not (n and rps and p50 and p99):
		        sys.exit("cannot read wrk's output:\n" + out)
		    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
		    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
		    d.update(requests=int(n.group(1)), rps=float(rps.group(1)),
		             p50_us=us(p50.group(1)), p99_us=us(p99.group(1)),
		             errors=sum(map(int, sock.groups())) if sock else 0,
		             non2xx=int(non2xx.group(1)) if non2xx else 0)
		else:
		    m = re.search(r"finished in ([\d.]+)(ms|s), ([\d.]+) req/s", out)
		    r = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", out)
		    s = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
		    if not (m and r and s):
		        sys.exit("cannot read h2load's output:\n" + out)
		    lat = sorted(int(l.split()[2]) for l in open(log + ".req")
		                 if len(l.split()) >= 3)
		    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else None
		    d.update(requests=int(s.group(1)), rps=float(m.group(3)),
		             p50_us=pct(0.50), p99_us=pct(0.99),
		             errors=int(r.group(5)) + int(r.group(6)) + int(r.group(7)),
		             non2xx=int(s.group(2)) + int(s.group(3)) + int(s.group(4)))
		d["cpu_s"] = int(ticks) / float(hz)
		d["cpu_us_per_req"] = d["cpu_s"] * 1e6 / d["requests"] if d["requests"] else None
		print(json.dumps(d))
	PY
		{ cat "$log" >&2; die "$p/$proto: cannot read the load generator's output"; }
	local last
	last=$(tail -1 "$T/runs")
	say "$last"
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(1 if d["errors"] or d["non2xx"] or not d["requests"] else 0)' "$last" ||
		{ cat "$log" >&2; die "$p/$proto: the load saw errors or non-2xx answers"; }
	kill -0 "$pid" 2>/dev/null || die "$p exited during the run"
}

: >"$T/runs"
say "$rounds round(s) x ${dur}s per proxy and protocol, $conns connections (h2c: $streams streams each)"
orders=("gateway nginx haproxy" "nginx haproxy gateway" "haproxy gateway nginx")
for r in $(seq "$rounds"); do
	for proto in h1 h2; do
		for p in ${orders[$(((r - 1) % 3))]}; do
			load "$p" "$proto" "$r"
		done
	done
done
# still routing after the load
for p in gateway nginx haproxy; do
	got=$(probe "$p" h1 "$TPATH") || die "$p: no answer after the load"
	[ "$got" == "200|r$target|$BODY" ] || die "$p: $TPATH answered '$got' after the load"
done

python3 - "$T/runs" "$rounds" "$dur" "$conns" "$streams" "$nroutes" "$target" "$TPATH" \
	"$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')" \
	"$("$HAPROXY" -v | head -1 | cut -d" " -f1,3)" \
	"$(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)" \
	"$(h2load --version | head -1)" "$smoke" <<-'PY'
	import json, sys
	a = sys.argv
	runs = [json.loads(l) for l in open(a[1]) if l.strip()]
	def stat(v):
	    v = sorted(x for x in v if x is not None)
	    if not v:
	        return None
	    n = len(v)
	    med = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
	    return {"median": med, "min": v[0], "max": v[-1]}
	summary = {}
	for proto in ("h1", "h2"):
	    s = summary[proto] = {}
	    by = {p: {x["round"]: x for x in runs if x["proxy"] == p and x["proto"] == proto}
	          for p in ("gateway", "nginx", "haproxy")}
	    for p, rr in by.items():
	        s[p] = {k: stat([x[k] for x in rr.values()])
	                for k in ("rps", "p50_us", "p99_us", "cpu_us_per_req")}
	    for peer in ("nginx", "haproxy"):
	        g, o = by["gateway"], by[peer]
	        rounds = sorted(set(g) & set(o))
	        # within a round: req/s gateway over peer (above 1: the gateway
	        # is ahead), CPU per request gateway over peer (the gateway's
	        # cost relative to the peer's: below 1, it is cheaper)
	        s[f"rps_ratio_{peer}"] = stat([g[r]["rps"] / o[r]["rps"] for r in rounds if o[r]["rps"]])
	        s[f"cpu_ratio_{peer}"] = stat([g[r]["cpu_us_per_req"] / o[r]["cpu_us_per_req"]
	                                       for r in rounds
	                                       if g[r]["cpu_us_per_req"] and o[r]["cpu_us_per_req"]])
	print(json.dumps({"runs": runs, "summary": summary, "rounds": int(a[2]),
	                  "duration": int(a[3]), "conns": int(a[4]), "streams": int(a[5]),
	                  "routes": int(a[6]), "target_route": f"r{a[7]}", "path": a[8],
	                  "nginx": a[9], "haproxy": a[10], "wrk": a[11], "h2load": a[12],
	                  "smoke": a[13] == "1", "body_bytes": 13,
	                  "goals": {"rps_ratio_nginx": 1.0, "rps_ratio_haproxy": 0.8}}))
PY
