#!/usr/bin/env bash
# What the gateway's filter chain costs: authentication (JWT) + a local
# token bucket + the cache on a miss, against the same gateway with no
# filter; a cache hit against a miss on the same route; the cache alone.
#
#   tests/bench/bench_gw_filters.sh [--build DIR] [--rounds N] [--duration S]
#
# One edgelbd gateway (`workers = 1`, access log off) pinned to CPU 1 in
# front of one nginx backend (one process, `return 200` with a 13-byte
# body and `Cache-Control: max-age=3600`, so every answer may be kept)
# that shares CPU 0 with wrk. Routes, all to that backend:
#   /plain/  no filter;
#   /hs/     jwt (HS256, token in X-Token), ratelimit (token bucket keyed
#            by consumer, 100000000/s: never refuses), cache;
#   /es/     the same with an ES256 key;
#   /c/      the cache alone.
# The cache key holds the query. Cases (one wrk run each):
#   plain     /plain/x?q=TAG-N     a new query per request (as the misses)
#   hs_miss   /hs/x?q=TAG-N        every request a MISS: looked up, sent
#                                  upstream, the answer copied and stored
#                                  (the cache fills and evicts, LRU)
#   hs_hit    /hs/x?q=hit          every request a HIT (no upstream)
#   es_miss   /es/x?q=TAG-N        as hs_miss with ES256
#   c_miss    /c/x?q=TAG-N         the cache alone, misses
#   c_hit     /c/x?q=hit           the cache alone, hits
# TAG is new for every run, N counts the requests of the run (wrk's Lua
# request()), so no run meets another run's entries. Every case sends
# the same X-Token header (the HS256 token; the ES256 one to /es/).
# Each run: taskset -c 0 wrk -t1 -c50 -dS (default 4) -s gen.lua. Rounds (default 7)
# rotate the order of the cases so that the machine's drift reaches all
# alike. Per run: requests/s, p99, and edgelbd's CPU time per request
# (utime + stime of all its threads from /proc/PID/stat over the run,
# over the requests) and the cache's counters over the run (lbctl api
# cache stats: hits, misses, stores, evictions), which must account for
# every request. Prints one JSON object (every run, and per-round ratios)
# on stdout, progress on stderr. Ratios, taken within each round:
#   chain_rps  hs_miss req/s / plain req/s           (goal >= 0.8)
#   chain_cpu  plain CPU/req / hs_miss CPU/req       (the same at equal CPU)
#   hit_rps    hs_hit req/s / hs_miss req/s          (goal >= 1.5)
#   hit_cpu    hs_miss CPU/req / hs_hit CPU/req
#   es_rps, es_cpu  as chain_* for es_miss
# EDGELB_BENCH_SMOKE=1: one round of one second per case: proves the rig
# (answers and X-Cache-Status checked first, counters after each run),
# fails when the gateway serves nothing; asserts no speed. Exit: 0
# measured, 77 skipped (wrk, nginx, curl, python3 with cryptography or
# taskset missing, edgelbd or lbctl not built, fewer than 2 CPUs), 1 the
# rig failed (wrong answers, errors or non-2xx under load, no request
# served, counters that do not match).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${EDGELB_BUILD:-$root/build}
smoke=0
case "${EDGELB_BENCH_SMOKE:-0}" in "" | 0) ;; *) smoke=1 ;; esac
if [ "$smoke" = 1 ]; then rounds=1 dur=1; else rounds=7 dur=4; fi
callgrind=0
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--duration) dur=$2; shift 2 ;;
	--callgrind) callgrind=1; shift ;;
	*) echo "usage: $0 [--build DIR] [--rounds N] [--duration S] [--callgrind]" >&2; exit 2 ;;
	esac
done
EDGELBD=$build/controlplane/edgelbd
LBCTL=$build/tools/lbctl/lbctl
NGINX=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true)
skip() { echo "{\"bench\": \"gw_filters\", \"skipped\": \"$1\"}"; echo "SKIP: $1" >&2; exit 77; }
for tool in wrk curl python3 taskset; do
	command -v "$tool" >/dev/null || skip "$tool not installed"
done
python3 -c 'import cryptography' 2>/dev/null || skip "python3-cryptography not installed"
if [ -z "$NGINX" ] || [ ! -x "$NGINX" ]; then skip "nginx not installed"; fi
[ -x "$EDGELBD" ] || skip "$EDGELBD not built"
[ -x "$LBCTL" ] || skip "$LBCTL not built"
[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs"

T=$(mktemp -d /tmp/elb-bench-gwf.XXXXXX)
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
say() { echo "bench_gw_filters: $*" >&2; }
die() { say "FAIL: $*"; [ -f "$T/gw.log" ] && tail -5 "$T/gw.log" >&2; exit 1; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
BPORT=$(free_port)
GPORT=$(free_port)

# ---- keys and tokens (valid for a day; sub "bench") ------------------------
printf %s 'bench-jwt-secret-bench-jwt-secret-0123456789' >"$T/hs.key"
python3 - "$T" <<'PY' || die "cannot make the JWT keys and tokens"
import base64, hmac, hashlib, json, sys, time
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
d = sys.argv[1]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
claims = b64(json.dumps({"sub": "bench", "iss": "edgelb-bench",
                         "aud": "api", "exp": int(time.time()) + 86400}).encode())
si = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "h1"}).encode()) + b"." + claims
key = open(d + "/hs.key", "rb").read()
sig = hmac.new(key, si, hashlib.sha256).digest()
open(d + "/hs.tok", "wb").write(si + b"." + b64(sig))
pk = ec.generate_private_key(ec.SECP256R1())
open(d + "/es.pem", "wb").write(pk.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
si = b64(json.dumps({"alg": "ES256", "typ": "JWT", "kid": "e1"}).encode()) + b"." + claims
r, s = decode_dss_signature(pk.sign(si, ec.ECDSA(hashes.SHA256())))
open(d + "/es.tok", "wb").write(si + b"." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big")))
PY
HS_TOK=$(cat "$T/hs.tok")
ES_TOK=$(cat "$T/es.tok")

# ---- the backend: nginx, one process ---------------------------------------
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
		location / { add_header Cache-Control "max-age=3600"; return 200 "hello, world\n"; }
	}
}
EOF
taskset -c 0 "$NGINX" -p "$T/be" -c "$T/be/nginx.conf" >"$T/be/out.log" 2>&1 &
BE_PID=$!

# ---- the gateway -------------------------------------------------------------
cat >"$T/gw.ini" <<EOF
[global]
ctl_socket = $T/ctl.sock
log_level = warning

[dataplane]
socket = $T/dp.sock

[gateway]
listen = 127.0.0.1:$GPORT
workers = 1
max_connections = 4096
max_connections_per_addr = 4096
access_log = off
api_db = $T/api.db

[upstream be]
instance = 127.0.0.1:$BPORT

[filter jw_hs]
type = jwt
key = h1 HS256 $T/hs.key
header = X-Token
issuer = edgelb-bench
audience = api

[filter jw_es]
type = jwt
key = e1 ES256 $T/es.pem
header = X-Token
issuer = edgelb-bench
audience = api

[filter rl]
type = ratelimit
rate = 100000000/s
key = consumer

[filter c_hs]
type = cache

[filter c_es]
type = cache

[filter c_only]
type = cache

[route plain]
path_prefix = /plain/
upstream = be

[route hs]
path_prefix = /hs/
upstream = be
filters = jw_hs, rl, c_hs

[route es]
path_prefix = /es/
upstream = be
filters = jw_es, rl, c_es

[route c]
path_prefix = /c/
upstream = be
filters = c_only
EOF
if [ "$callgrind" = 1 ]; then
	command -v valgrind >/dev/null || skip "valgrind not installed"
	taskset -c 1 valgrind --tool=callgrind --callgrind-out-file="$T/cg.out" \
		"$EDGELBD" -f -c "$T/gw.ini" >"$T/gw.log" 2>&1 &
else
	taskset -c 1 "$EDGELBD" -f -c "$T/gw.ini" >"$T/gw.log" 2>&1 &
fi
GW_PID=$!

# probe PATH [TOKEN]: "STATUS X-Cache-Status BODY" (no header: "-")
probe() {
	local tok=${2:-$HS_TOK} x
	curl -sS --max-time 5 -H "X-Token: $tok" -D "$T/p.h" -o "$T/p.b" \
		-w '%{http_code}' "http://127.0.0.1:$GPORT$1" >"$T/p.code" 2>"$T/p.err" ||
		echo 000 >"$T/p.code"
	x=$(sed -n 's/^X-Cache-Status: *\([A-Z]*\).*/\1/Ip' "$T/p.h" | head -1)
	echo "$(cat "$T/p.code") ${x:--} $(cat "$T/p.b" 2>/dev/null)"
}
ok=0
for _ in $(seq 300); do
	if [ "$(probe /plain/x)" == "200 - hello, world" ]; then ok=1; break; fi
	sleep 0.2
done
[ $ok = 1 ] || die "the gateway did not answer /plain/x: $(probe /plain/x)"
# each filtered route: a new query misses and is kept (the same query
# then hits), a wrong token is refused before the cache
for r in hs es c; do
	tok=$HS_TOK
	[ $r = es ] && tok=$ES_TOK
	a=$(probe "/$r/x?q=probe" "$tok")
	[ "$a" == "200 MISS hello, world" ] || die "/$r/x?q=probe: $a"
	a=$(probe "/$r/x?q=probe" "$tok")
	[ "$a" == "200 HIT hello, world" ] || die "/$r/x?q=probe again: $a"
	probe "/$r/x?q=hit" "$tok" >/dev/null
done
a=$(probe "/hs/x?q=probe" "$ES_TOK")
[ "${a%% *}" == 401 ] || die "/hs/ with the ES256 token: $a (want 401)"
a=$(probe "/es/x?q=probe" "${ES_TOK%?}")
[ "${a%% *}" == 401 ] || die "/es/ with a cut signature: $a (want 401)"
say "answers: /plain/ no cache; /hs/, /es/, /c/ MISS then HIT; wrong tokens 401"

# ---- load --------------------------------------------------------------------
cat >"$T/gen.lua" <<'EOF'
-- wrk ... -s gen.lua PREFIX TAG|"" TOKEN HOST: GET PREFIX .. TAG-N (N
-- counts this thread's requests) or, without TAG, PREFIX .. "hit". The
-- request is put together from two strings made once and the number:
-- wrk.format() per request would cost the load generator (which shares
-- a CPU with the backend) more than the gateway's work under test.
local head, tail, fixed, n = nil, nil, nil, 0
function init(args)
	tail = " HTTP/1.1\r\nHost: " .. args[4] .. "\r\nX-Token: " .. args[3] .. "\r\n\r\n"
	if args[2] ~= "" then
		head = "GET " .. args[1] .. args[2] .. "-"
	else
		fixed = "GET " .. args[1] .. "hit" .. tail
	end
end
function request()
	if fixed then
		return fixed
	end
	n = n + 1
	return head .. n .. tail
end
EOF

# cpu_ticks PID: utime + stime of all PID's threads, clock ticks. Not
# /proc/PID/task/*/schedstat: it lags for a thread that runs without a
# break on a tickless CPU (a loop that always has work), /proc/PID/stat
# brings the running threads' time up to date first.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)
# cache_stats: {"c_hs": {...}, ...} from lbctl (three tries: on a
# loaded shared machine an answer can miss lbctl's 5 s)
cache_stats() {
	local i
	for i in 1 2 3; do
		if "$LBCTL" --socket "$T/ctl.sock" api cache stats >"$T/cs.json" 2>"$T/cs.err"; then
			break
		fi
		[ "$i" = 3 ] && die "lbctl api cache stats: $(cat "$T/cs.err")"
		say "lbctl api cache stats: $(cat "$T/cs.err"); again"
	done
	python3 -c 'import json,sys; print(json.dumps({c["filter"]: c for c in json.load(open(sys.argv[1]))["caches"]}))' "$T/cs.json"
}

# case_req CASE: path (up to "q=") and tok of a case
case_req() {
	case $1 in
	plain) path="/plain/x?q=" ;;
	hs_*) path="/hs/x?q=" ;;
	es_*) path="/es/x?q=" ;;
	c_*) path="/c/x?q=" ;;
	esac
	tok=$HS_TOK
	if [ "${1%%_*}" = es ]; then tok=$ES_TOK; fi
}

# run CASE ROUND: one wrk run, a JSON line into $T/runs
run() {
	local name=$1 round=$2 path tok tag c0 c1 s0 s1 rc=0
	case_req "$name"
	nrun=$((nrun + 1))
	tag="r${round}n$nrun$name"
	if [ "${name##*_}" = hit ]; then
		# the misses before may have evicted it (LRU): stored again
		# here, before the counters are read
		tag=""
		probe "${path}hit" "$tok" >/dev/null
	fi
	s0=$(cache_stats)
	[ -d "/proc/$GW_PID" ] || die "edgelbd gone"
	c0=$(cpu_ticks "$GW_PID")
	timeout $((dur + 30)) taskset -c 0 wrk -t1 -c50 -d"$dur" --latency \
		-s "$T/gen.lua" "http://127.0.0.1:$GPORT" -- "$path" "$tag" "$tok" "127.0.0.1:$GPORT" \
		>"$T/wrk.out" 2>&1 || rc=$?
	[ -d "/proc/$GW_PID" ] || die "edgelbd gone"
	c1=$(cpu_ticks "$GW_PID")
	s1=$(cache_stats)
	[ $rc = 0 ] || die "wrk failed ($rc): $(cat "$T/wrk.out")"
	if grep -q "Non-2xx\|Socket errors" "$T/wrk.out"; then
		die "$name: errors under load: $(grep "Non-2xx\|Socket errors" "$T/wrk.out")"
	fi
	python3 - "$T/wrk.out" "$name" "$round" "$((c1 - c0))" "$s0" "$s1" "$CLK_TCK" \
		>>"$T/runs" <<-'PY' || die "$name: $(cat "$T/wrk.out")"
		import json, re, sys
		out, name, rnd, ticks = sys.argv[1:5]
		hz = int(sys.argv[7])
		s0, s1 = json.loads(sys.argv[5]), json.loads(sys.argv[6])
		text = open(out).read()
		m = re.search(r"(\d+) requests in", text)
		rps = re.search(r"Requests/sec:\s*([\d.]+)", text)
		p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
		if not m or not rps or not p99:
		    sys.exit("cannot read wrk's output")
		n = int(m.group(1))
		if n == 0:
		    sys.exit(f"{name}: the gateway served no request")
		p99_us = float(p99.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[p99.group(2)]
		d = {"case": name, "round": int(rnd), "requests": n,
		     "rps": float(rps.group(1)), "p99_us": p99_us,
		     "cpu_us_per_req": int(ticks) * 1e6 / hz / n}
		# the cache's counters over the run: wrk counts the requests it
		# completed; those in flight when it stopped reach the gateway
		# too, so the counters may exceed n by up to the connections
		if name != "plain":
		    c = "c_" + name.split("_")[0] if name[0] != "c" else "c_only"
		    dd = {k: s1[c][k] - s0[c][k] for k in
		          ("hits", "misses", "stores", "evictions", "bypass")}
		    d["cache"] = dd
		    want = "hits" if name.endswith("hit") else "misses"
		    if not n <= dd[want] <= n + 100 or dd["bypass"]:
		        sys.exit(f"{name}: {n} requests but cache counters {dd}")
		    if want == "misses" and not n <= dd["stores"] <= n + 100:
		        sys.exit(f"{name}: {n} misses but {dd['stores']} stores")
		print(json.dumps(d))
	PY
	say "round $round $name: $(tail -1 "$T/runs")"
}

# BENCH_GWF_CASES: another list of cases (a case may repeat), to look
# at one of them
load0=$(cut -d' ' -f1-3 /proc/loadavg)
nrun=0
read -ra cases <<<"${BENCH_GWF_CASES:-plain hs_miss hs_hit es_miss c_miss c_hit}"
nc=${#cases[@]}

# --callgrind: instructions per request of each case, edgelbd under
# valgrind's callgrind, counters zeroed before and dumped after a wrk
# run of 4 connections (requests in flight when wrk stops count to no
# case: at most 4 in thousands). Prints {case: Ir/request} and ends.
if [ "$callgrind" = 1 ]; then
	for name in "${cases[@]}"; do
		case_req "$name"
		tag="cg$name"
		[ "${name##*_}" = hit ] && tag=""
		callgrind_control -z "$GW_PID" >/dev/null || die "callgrind_control -z"
		timeout $((dur + 30)) taskset -c 0 wrk -t1 -c4 -d"$dur" -s "$T/gen.lua" \
			"http://127.0.0.1:$GPORT" -- "$path" "$tag" "$tok" "127.0.0.1:$GPORT" \
			>"$T/wrk.out" 2>&1 || die "wrk failed: $(cat "$T/wrk.out")"
		sleep 0.5
		rm -f "$T"/cg.out.*
		callgrind_control -d "$GW_PID" >/dev/null || die "callgrind_control -d"
		n=$(awk '/requests in/ { print $1 }' "$T/wrk.out")
		ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$T"/cg.out.*)
		[ -n "$n" ] && [ "$n" -gt 0 ] && [ -n "$ir" ] || die "$name: no requests ($n) or no dump"
		say "callgrind $name: $n requests, $((ir / n)) Ir/request"
		[ -z "${CG_KEEP:-}" ] || cp "$T"/cg.out.* "$CG_KEEP.$name"
		echo "$name $n $ir" >>"$T/cg"
	done
	python3 -c 'import json,sys; print(json.dumps({"bench": "gw_filters_callgrind", "ir_per_request": {l.split()[0]: int(l.split()[2]) // int(l.split()[1]) for l in open(sys.argv[1])}}))' "$T/cg"
	exit 0
fi
for r in $(seq "$rounds"); do
	for k in $(seq 0 $((nc - 1))); do
		run "${cases[$(((k + r - 1) % nc))]}" "$r"
	done
done
# still answering after the load: a MISS (if evicted) or a HIT, then a HIT
probe "/hs/x?q=after" >/dev/null
a=$(probe "/hs/x?q=after")
[ "$a" == "200 HIT hello, world" ] || die "/hs/x?q=after after the load: $a"
python3 - "$T/runs" "$smoke" "$dur" "$rounds" "$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')" \
	"$load0" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in runs:
    by.setdefault(r["case"], {})[r["round"]] = r
def stat(v):
    v = sorted(v)
    return {"min": v[0], "median": statistics.median(v), "max": v[-1]} if v else None
ratios = {}
for key, num, den, field, inv in (
        ("chain_rps", "hs_miss", "plain", "rps", False),
        ("chain_cpu", "hs_miss", "plain", "cpu_us_per_req", True),
        ("es_rps", "es_miss", "plain", "rps", False),
        ("es_cpu", "es_miss", "plain", "cpu_us_per_req", True),
        ("hit_rps", "hs_hit", "hs_miss", "rps", False),
        ("hit_cpu", "hs_hit", "hs_miss", "cpu_us_per_req", True),
        ("c_hit_rps", "c_hit", "c_miss", "rps", False),
        ("c_hit_cpu", "c_hit", "c_miss", "cpu_us_per_req", True),
        ("c_miss_rps", "c_miss", "plain", "rps", False),
        ("c_miss_cpu", "c_miss", "plain", "cpu_us_per_req", True)):
    rounds = sorted(set(by.get(num, {})) & set(by.get(den, {})))
    vals = []
    for k in rounds:
        a, b = by[num][k][field], by[den][k][field]
        if a > 0 and b > 0:  # a CPU time under one tick reads 0
            vals.append(b / a if inv else a / b)
    ratios[key] = {"per_round": vals, **(stat(vals) or {})}
print(json.dumps({"bench": "gw_filters", "smoke": sys.argv[2] == "1",
                  "duration": int(sys.argv[3]), "rounds": int(sys.argv[4]),
                  "conns": 50, "body_bytes": 13, "nginx": sys.argv[5],
                  "goals": {"chain": 0.8, "hit": 1.5},
                  "loadavg_start": sys.argv[6], "loadavg_end": sys.argv[7],
                  "runs": runs, "ratios": ratios}))
PY
