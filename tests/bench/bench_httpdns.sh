#!/usr/bin/env bash
# HttpDNS queries per second on one core, against nginx on the same machine.
#
#   tests/bench/bench_httpdns.sh [--build DIR] [--rounds N] [--duration S]
#
# Starts a real edgelbd on loopback (no dataplane needed) with one
# health-checked service bound to a name in [httpdns], and nginx
# (worker_processes 1, master_process off, access_log off) serving static
# files with exactly the bytes edgelbd answers. Each server runs pinned to
# CPU 1, wrk to CPU 0 (1 thread, 50 keep-alive connections). Rounds
# alternate edgelbd and nginx so that both see the same machine; the
# figures are the medians over rounds of wrk's requests/s and p99 latency,
# and the ratio edgelbd/nginx. The edgelbd URLs are
#   /d?host=NAME  (JSON dialect)   /d?dn=NAME  (text dialect)
# the nginx ones /d.json and /d.txt with the same bodies.
#
# The report (markdown, "## HttpDNS") goes to stdout and, when
# EDGELB_BENCH_OUT is set, to that file. EDGELB_BENCH_SMOKE=1: one round of
# one second, which only proves that the rig works.
#
# Exit status: 0 measured, 77 skipped (wrk, nginx, curl, python3 or taskset
# missing, edgelbd not built, fewer than 2 CPUs), 1 the rig failed (a
# server did not start, a body is wrong, wrk saw errors or non-2xx
# answers). Loopback traffic only; everything started is killed on exit.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${EDGELB_BUILD:-$root/build}
smoke=0
case "${EDGELB_BENCH_SMOKE:-0}" in "" | 0) ;; *) smoke=1 ;; esac
if [ "$smoke" = 1 ]; then rounds=1 dur=1; else rounds=3 dur=5; fi
conns=50
cmdline="tests/bench/bench_httpdns.sh $*"

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--duration) dur=$2; shift 2 ;;
	-h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench_httpdns.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

say() { printf 'bench_httpdns: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

EDGELBD=$build/controlplane/edgelbd
NGINX=${NGINX:-$(command -v nginx || true)}
if [ -z "$NGINX" ] && [ -x /usr/sbin/nginx ]; then NGINX=/usr/sbin/nginx; fi
for tool in wrk curl python3 taskset; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool not installed"
		exit 77
	fi
done
if [ -z "$NGINX" ] || [ ! -x "$NGINX" ]; then
	echo "SKIP: nginx not installed"
	exit 77
fi
[ -x "$EDGELBD" ] || { echo "SKIP: $EDGELBD not built"; exit 77; }
[ "$(nproc)" -ge 2 ] || { echo "SKIP: needs 2 CPUs (server on 1, wrk on 0)"; exit 77; }

T=$(mktemp -d /tmp/elb-bench-httpdns.XXXXXX)
LBD_PID=
NGX_PID=
BE_PID=
WRK_PID=
cleanup() {
	local p
	for p in "$WRK_PID" "$LBD_PID" "$NGX_PID" "$BE_PID"; do
		if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi
	done
	for p in "$WRK_PID" "$LBD_PID" "$NGX_PID" "$BE_PID"; do
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
HPORT=$(free_port)
NPORT=$(free_port)
BPORT=$(free_port)
NAME=www.example.test

# ---- the health-checked backend: a TCP listener that accepts and closes ----
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

# ---- edgelbd ---------------------------------------------------------------
cat >"$T/edgelb.ini" <<EOF
[global]
ctl_socket = $T/ctl.sock
log_level = warning

[dataplane]
socket = $T/dp.sock

[healthcheck tcp]
type = tcp
interval = 1s
timeout = 500ms
rise = 1
fall = 3

[service web]
vip = 192.0.2.10:80
mode = dr
backend = 127.0.0.1:$BPORT
healthcheck = tcp

[httpdns]
listen = 127.0.0.1:$HPORT
ttl = 60
domain = $NAME service=web
EOF
taskset -c 1 "$EDGELBD" -f -c "$T/edgelb.ini" >"$T/edgelbd.log" 2>&1 &
LBD_PID=$!

H=http://127.0.0.1:$HPORT
JSON_URL="$H/d?host=$NAME"
TEXT_URL="$H/d?dn=$NAME"
out=
for _ in $(seq 50); do
	out=$(curl -sS --max-time 2 "$TEXT_URL" 2>/dev/null || true)
	[ "$out" == "192.0.2.10" ] && break
	kill -0 "$LBD_PID" 2>/dev/null || break
	sleep 0.2
done
if [ "$out" != "192.0.2.10" ]; then
	tail -20 "$T/edgelbd.log" >&2
	die "edgelbd did not answer $TEXT_URL with the VIP (got '$out')"
fi

# ---- nginx, serving edgelbd's exact bodies ---------------------------------
mkdir -p "$T/www" "$T/nginx"
curl -sS --max-time 2 -o "$T/www/d.json" "$JSON_URL"
curl -sS --max-time 2 -o "$T/www/d.txt" "$TEXT_URL"
grep -q '"ips":\["192.0.2.10"\]' "$T/www/d.json" ||
	die "JSON answer without the VIP: $(cat "$T/www/d.json")"
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
	etag off;
	# the files stay open: no open/fstat per request
	open_file_cache max=16 inactive=60s;
	open_file_cache_valid 60s;
	keepalive_requests 1000000;
	client_body_temp_path $T/nginx;
	proxy_temp_path $T/nginx;
	fastcgi_temp_path $T/nginx;
	uwsgi_temp_path $T/nginx;
	scgi_temp_path $T/nginx;
	types {
		application/json json;
		text/plain txt;
	}
	server {
		listen 127.0.0.1:$NPORT;
		root $T/www;
	}
}
EOF
taskset -c 1 "$NGINX" -p "$T/nginx" -c "$T/nginx/nginx.conf" \
	>"$T/nginx/stdout.log" 2>&1 &
NGX_PID=$!
N=http://127.0.0.1:$NPORT
for _ in $(seq 50); do
	curl -sS --max-time 2 -o /dev/null "$N/d.txt" 2>/dev/null && break
	kill -0 "$NGX_PID" 2>/dev/null || break
	sleep 0.1
done
for f in d.json d.txt; do
	curl -sS --max-time 2 -o "$T/check" "$N/$f" 2>/dev/null ||
		{ cat "$T/nginx/error.log" "$T/nginx/stdout.log" >&2 || true; die "nginx did not serve /$f"; }
	cmp -s "$T/check" "$T/www/$f" || die "nginx's /$f differs from edgelbd's body"
done
json_bytes=$(stat -c %s "$T/www/d.json")
text_bytes=$(stat -c %s "$T/www/d.txt")
# header bytes of one answer each, for the table (bodies are identical)
hdr_bytes() { curl -sS --max-time 2 -D - -o /dev/null "$1" | wc -c; }

# ---- measuring -------------------------------------------------------------
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

# run_wrk URL TAG PID: one wrk run; appends "TAG RPS P99_US CPU_US_PER_REQ"
# to $T/results, the CPU time (utime + stime of PID, from /proc/PID/stat)
# over the run divided by the requests wrk completed. A run with socket
# errors or non-2xx answers fails the rig.
run_wrk() {
	local url=$1 tag=$2 pid=$3 log=$T/wrk.$2.$RANDOM rc=0 c0 c1
	c0=$(cpu_ticks "$pid")
	# in the background, so that a signal runs the cleanup at once
	taskset -c 0 wrk -t1 -c"$conns" -d"${dur}s" --latency "$url" >"$log" 2>&1 &
	WRK_PID=$!
	wait "$WRK_PID" || rc=$?
	WRK_PID=
	c1=$(cpu_ticks "$pid")
	[ "$rc" = 0 ] || { cat "$log" >&2; die "wrk failed on $url"; }
	if grep -q -e 'Socket errors' -e 'Non-2xx' "$log"; then
		cat "$log" >&2
		die "wrk saw errors on $url"
	fi
	awk -v tag="$tag" -v ticks=$((c1 - c0)) -v hz="$CLK_TCK" '
		function us(v) {
			if (v ~ /us$/) return v + 0;
			if (v ~ /ms$/) return v * 1000;
			if (v ~ /s$/) return v * 1000000;
			return -1;
		}
		$1 == "99%" { p99 = us($2) }
		$1 == "Requests/sec:" { rps = $2 }
		$2 == "requests" && $3 == "in" { n = $1 }
		END {
			if (rps == "" || p99 == "" || n == "" || n == 0) exit 1;
			printf "%s %.0f %.0f %.2f\n", tag, rps, p99, ticks / hz * 1000000 / n;
		}' "$log" >>"$T/results" || { cat "$log" >&2; die "cannot read wrk's output for $url"; }
	say "$(tail -1 "$T/results")"
}

: >"$T/results"
say "$rounds round(s) x ${dur}s per target, $conns connections"
for r in $(seq "$rounds"); do
	# alternate which server goes first, so that neither always runs on a
	# machine warmed (or loaded) by the other
	if [ $((r % 2)) = 1 ]; then
		run_wrk "$JSON_URL" lbd_json "$LBD_PID"; run_wrk "$N/d.json" ngx_json "$NGX_PID"
		run_wrk "$TEXT_URL" lbd_text "$LBD_PID"; run_wrk "$N/d.txt" ngx_text "$NGX_PID"
	else
		run_wrk "$N/d.json" ngx_json "$NGX_PID"; run_wrk "$JSON_URL" lbd_json "$LBD_PID"
		run_wrk "$N/d.txt" ngx_text "$NGX_PID"; run_wrk "$TEXT_URL" lbd_text "$LBD_PID"
	fi
done
# the answer still carries the VIP: the health check held the backend up
[ "$(curl -sS --max-time 2 "$TEXT_URL")" == "192.0.2.10" ] ||
	die "edgelbd's answer changed during the run"

# median TAG FIELD (2 = rps, 3 = p99 µs, 4 = CPU µs per request)
median() {
	awk -v t="$1" -v f="$2" '$1 == t { print $f }' "$T/results" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# spread TAG FIELD: "min–max" over rounds ("" with one round)
spread() {
	awk -v t="$1" -v f="$2" '$1 == t { print $f }' "$T/results" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR > 1) printf " (%s–%s)", v[1], v[NR] }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
fmt_lat() { awk -v u="$1" 'BEGIN { if (u >= 1000) printf "%.2f ms", u / 1000; else printf "%d µs", u }'; }

declare -A M
for tag in lbd_json ngx_json lbd_text ngx_text; do
	M[$tag.rps]=$(median "$tag" 2)
	M[$tag.p99]=$(median "$tag" 3)
	M[$tag.cpu]=$(median "$tag" 4)
	M[$tag.rps_spread]=$(spread "$tag" 2)
	M[$tag.cpu_spread]=$(spread "$tag" 4)
done

model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
mode=measured
[ "$smoke" = 1 ] && mode="smoke run: 1 s, the figures only prove the rig works"
row() { # DIALECT URL_LBD URL_NGX BYTES HDR_LBD HDR_NGX TAG
	printf '| %s | %s | %s | %s B (headers %s / %s B) | %s%s | %s | %s%s | %s%s | %s | %s%s | **%s** | **%s** |\n' \
		"$1" "\`$2\`" "\`$3\`" "$4" "$5" "$6" \
		"${M[lbd_$7.rps]}" "${M[lbd_$7.rps_spread]}" "$(fmt_lat "${M[lbd_$7.p99]}")" \
		"${M[lbd_$7.cpu]}" "${M[lbd_$7.cpu_spread]}" \
		"${M[ngx_$7.rps]}" "${M[ngx_$7.rps_spread]}" "$(fmt_lat "${M[ngx_$7.p99]}")" \
		"${M[ngx_$7.cpu]}" "${M[ngx_$7.cpu_spread]}" \
		"$(ratio "${M[lbd_$7.rps]}" "${M[ngx_$7.rps]}")" \
		"$(ratio "${M[ngx_$7.cpu]}" "${M[lbd_$7.cpu]}")"
}
report() {
	cat <<EOF
## HttpDNS

Machine: $(nproc) CPUs, ${model:-unknown CPU}; $(date -u +%Y-%m-%d).
Mode: $mode.

Command: \`$cmdline\` ($rounds round(s) of ${dur} s per target, alternating
edgelbd and $("$NGINX" -v 2>&1 | sed 's/^nginx version: //')).
Each server is pinned with \`taskset -c 1\` (edgelbd: one service with a TCP
health check bound to \`$NAME\`; nginx: \`worker_processes 1\`,
\`master_process off\`, \`access_log off\`, static files holding edgelbd's
exact answer bytes); the load is
\`taskset -c 0 wrk -t1 -c$conns -d${dur}s --latency URL\` over keep-alive
HTTP/1.1 on loopback. Figures are medians (min–max) over rounds; CPU/req
is the server's utime + stime from /proc/PID/stat over a run divided by
the requests wrk completed; ratio = edgelbd requests/s over nginx
requests/s, CPU ratio = nginx CPU per request over edgelbd's (both: above
1 means edgelbd is ahead).

| dialect | edgelbd URL | nginx URL | body | edgelbd req/s | edgelbd p99 | edgelbd CPU µs/req | nginx req/s | nginx p99 | nginx CPU µs/req | ratio | CPU ratio |
|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|
$(row JSON "/d?host=$NAME" /d.json "$json_bytes" "$(hdr_bytes "$JSON_URL")" "$(hdr_bytes "$N/d.json")" json)
$(row text "/d?dn=$NAME" /d.txt "$text_bytes" "$(hdr_bytes "$TEXT_URL")" "$(hdr_bytes "$N/d.txt")" text)

Every run: $(awk '{ printf "%s%s %s req/s p99 %s µs %s µs CPU/req", (NR > 1 ? "; " : ""), $1, $2, $3, $4 }' "$T/results").
EOF
}
report >"$T/report.md"
cat "$T/report.md"
if [ -n "${EDGELB_BENCH_OUT:-}" ]; then
	cp "$T/report.md" "$EDGELB_BENCH_OUT"
fi
