#!/usr/bin/env bash
# Gateway partitions in edgelbd on loopback (docs/gateway.md, "Partitions"):
# a real edgelbd (no dataplane) in front of two python3 backends started
# here, one slow (every answer after 1 s), one fast; route /a/ goes to the
# slow one, /b/ to the fast one. Load from wrk, bounded in time.
#
# Run 1, partitioned: [partition A] (route a, 2 worker threads) and
# [partition B] (route b, 1 thread), each with its own listener,
# max_requests 16, max_connections 64. Run 2, the contrast: one
# [partition all] with both routes and the same totals (3 workers,
# max_requests 32, max_connections 128) listening on the same two ports.
# In each run:
#   - B alone: wrk on B's port, /b/ (4 connections, 4 s): its p99 and its
#     answers that were not 2xx;
#   - A flooded: 48 wrk connections on A's port, /a/ (a 503 is followed by
#     a 100 ms pause, so refused clients do not spin), while B is measured
#     again the same way.
# Checks:
#   - config errors with file:line: unknown partition in a route,
#     [partition] given twice, workers = 0, a partition without listen;
#   - partitioned: B under A's flood answers every request 2xx and its
#     p99 stays within max(4 x unloaded p99, unloaded p99 + 30 ms) (when
#     only the p99 bound is missed, the run is made once more: the
#     machine is shared and noisy); A's
#     overflow got 503 with Retry-After, counted in
#     edgelbd_gateway_partition_refused_total{partition="A",
#     reason="requests"} (at least the non-2xx answers wrk saw on A) and
#     none for B;
#   - partitioned, A idle again: 70 connections held open on A's port
#     (its 2 threads share max_connections 64): exactly 6 refused (503,
#     closed), the gauge says 64, counted as reason="connections";
#     lbctl module show gateway shows both partitions;
#   - SIGHUP moving route b into partition A and back: served by A's
#     listener only while it is there;
#   - contrast: the same check on B FAILS (B's requests are refused while
#     A holds the shared request slots): partitions are what keeps B whole.
# Needs: curl, python3, wrk. Exits 77 (skipped) when one is missing.
# Loopback only; no root.
set -euo pipefail

# shellcheck source=lo_lib.sh
source "$(dirname "$0")/lo_lib.sh"
lo_need curl python3 wrk
lo_need_built "$EDGELBD"
lo_begin gwpart
FLOOD_PID=
lo_kill_at_exit FLOOD_PID
PA=$(free_port) # partition A's listener
PB=$(free_port) # partition B's listener
SLOW=$(free_port)
FAST=$(free_port)
MP=$(free_port) # /metrics

# ---- backends ----------------------------------------------------------------
# backend.py PORT DELAY: 200 "ok" after DELAY seconds, a thread per
# connection, the whole answer in one write (no Nagle wait).
cat >"$T/backend.py" <<'EOF'
import http.server, sys, time
port, delay = int(sys.argv[1]), float(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_GET(self):
        if delay > 0:
            time.sleep(delay)
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
S(("127.0.0.1", port), H).serve_forever()
EOF
python3 "$T/backend.py" "$SLOW" 1 &
PIDS+=($!)
python3 "$T/backend.py" "$FAST" 0 &
PIDS+=($!)
for p in $SLOW $FAST; do
	wait_port "$p" || { fail "backend on $p did not start"; exit 1; }
done

# ---- wrk scripts ----------------------------------------------------------------
# measure.lua: the figures of a run, one "KEY value" a line.
cat >"$T/measure.lua" <<'EOF'
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("P99_US %d\nP50_US %d\nREQS %d\nNON2XX %d\nSOCKERR %d\n",
		latency:percentile(99), latency:percentile(50), summary.requests,
		e.status, e.connect + e.read + e.write + e.timeout))
end
EOF
# flood.lua: after a 503, wait 100 ms before the next request (a refused
# client backs off instead of spinning on the CPU B needs too).
cat >"$T/flood.lua" <<'EOF'
local refused = false
response = function(status, headers, body)
	refused = status == 503
end
delay = function()
	if refused then
		return 100
	end
	return 0
end
done = function(summary, latency, requests)
	io.write(string.format("REQS %d\nNON2XX %d\n", summary.requests,
		summary.errors.status))
end
EOF
fig() { # KEY FILE: the value of KEY in a wrk figures file, or "missing"
	awk -v k="$1" '$1 == k { print $2; found = 1 } END { if (!found) print "missing" }' "$2"
}

# ---- configuration ----------------------------------------------------------------
common() {
	cat <<EOF
[global]
ctl_socket = $T/ctl.sock
log_level = info

[dataplane]
socket = $T/dp.sock

[metrics]
listen = 127.0.0.1:$MP

[gateway]

[upstream slow]
instance = 127.0.0.1:$SLOW

[upstream fast]
instance = 127.0.0.1:$FAST

EOF
}
write_parted() { # ROUTE_B_PARTITION
	{
		common
		cat <<EOF
[partition A]
listen = 127.0.0.1:$PA
workers = 2
max_requests = 16
max_connections = 64
retry_after = 2

[partition B]
listen = 127.0.0.1:$PB
workers = 1
max_requests = 16
max_connections = 64

[route a]
path_prefix = /a/
upstream = slow
partition = A

[route b]
path_prefix = /b/
upstream = fast
partition = $1
EOF
	} >"$T/edgelb.ini"
}
write_shared() {
	{
		common
		cat <<EOF
[partition all]
listen = 127.0.0.1:$PA
listen = 127.0.0.1:$PB
workers = 3
max_requests = 32
max_connections = 128
retry_after = 2

[route a]
path_prefix = /a/
upstream = slow
partition = all

[route b]
path_prefix = /b/
upstream = fast
partition = all
EOF
	} >"$T/edgelb.ini"
}

# ---- config errors: file:line ---------------------------------------------------
check_err() { # WHAT PATTERN: --check fails and names PATTERN
	local rc=0 out
	out=$("$EDGELBD" --check -c "$T/bad.ini" 2>&1) || rc=$?
	expect "$1: --check fails" "1" "$((rc != 0))"
	contains "$1: named" "$2" "$out"
}
write_parted B
sed 's/^partition = B$/partition = C/' "$T/edgelb.ini" >"$T/bad.ini"
line=$(grep -n '^\[route b\]' "$T/bad.ini" | cut -d: -f1)
check_err "unknown partition" "route b (line $line): partition: no \[partition C\]"
sed 's/^\[partition B\]$/[partition A]/' "$T/edgelb.ini" >"$T/bad.ini"
first=$(grep -n '^\[partition A\]' "$T/bad.ini" | head -1 | cut -d: -f1)
line=$(grep -n '^\[partition A\]' "$T/bad.ini" | tail -1 | cut -d: -f1)
check_err "partition twice" "$T/bad.ini:$line: .*given twice (first on line $first)"
sed '0,/^workers = 1$/s//workers = 0/' "$T/edgelb.ini" >"$T/bad.ini"
line=$(grep -n '^workers = 0$' "$T/bad.ini" | cut -d: -f1)
check_err "zero workers" "$T/bad.ini:$line: .*workers.*expected 1\.\.64"
sed "/^listen = 127.0.0.1:$PB\$/d" "$T/edgelb.ini" >"$T/bad.ini"
line=$(grep -n '^\[partition B\]' "$T/bad.ini" | cut -d: -f1)
check_err "partition without listen" "partition B (line $line): needs a listen"

# ---- one run: B alone, then B while A is flooded --------------------------------
C=(curl -sS --max-time 5)
start_lbd() {
	"$EDGELBD" -f -c "$T/edgelb.ini" >>"$T/edgelbd.log" 2>&1 &
	LBD_PID=$!
	for p in $PA $PB; do
		wait_port "$p" || { fail "gateway on $p did not start"; cat "$T/edgelbd.log" >&2; exit 1; }
	done
	# warm up: every thread's upstream clients made, pools filled
	for _ in 1 2 3 4; do
		"${C[@]}" -o /dev/null "http://127.0.0.1:$PB/b/w" || true
	done
	"${C[@]}" -o /dev/null "http://127.0.0.1:$PA/a/w" || true
}
stop_lbd() {
	kill "$LBD_PID" 2>/dev/null || true
	wait "$LBD_PID" 2>/dev/null || true
	LBD_PID=
}
measure_b() { # OUT: 4 s of B, figures into OUT
	wrk -t1 -c4 -d4s --timeout 5s -s "$T/measure.lua" \
		"http://127.0.0.1:$PB/b/x" >"$1" 2>&1 || true
}
run() { # NAME: B unloaded, B under A's flood; figures in $T/NAME.*
	measure_b "$T/$1.idle"
	wrk -t1 -c48 -d9s --timeout 5s -s "$T/flood.lua" \
		"http://127.0.0.1:$PA/a/x" >"$T/$1.flood" 2>&1 &
	FLOOD_PID=$!
	sleep 2 # A's slots are taken: its answers take 1 s
	measure_b "$T/$1.loaded"
	# one refused answer's head (a freed slot may go to this client:
	# then it waits 1 s and asks again; at most 8 times)
	for _ in $(seq 8); do
		"${C[@]}" -D "$T/$1.a503" -o /dev/null "http://127.0.0.1:$PA/a/h" || true
		grep -q '^HTTP/1.1 503' "$T/$1.a503" && break
	done
	wait "$FLOOD_PID" || true
	FLOOD_PID=
	echo "$1: B alone p50 $(fig P50_US "$T/$1.idle") us p99 $(fig P99_US "$T/$1.idle") us" \
		"$(fig REQS "$T/$1.idle") requests $(fig NON2XX "$T/$1.idle") non-2xx;" \
		"B under A's flood p50 $(fig P50_US "$T/$1.loaded") us p99 $(fig P99_US "$T/$1.loaded") us" \
		"$(fig REQS "$T/$1.loaded") requests $(fig NON2XX "$T/$1.loaded") non-2xx" \
		"$(fig SOCKERR "$T/$1.loaded") socket errors;" \
		"A: $(fig REQS "$T/$1.flood") requests $(fig NON2XX "$T/$1.flood") non-2xx"
}
# b_whole NAME: "ok" when B under the flood kept every answer 2xx and its
# p99 within max(4 x unloaded p99, unloaded p99 + 30 ms); else why not.
b_whole() {
	local p0 p1 bad err reqs bound
	p0=$(fig P99_US "$T/$1.idle")
	p1=$(fig P99_US "$T/$1.loaded")
	bad=$(fig NON2XX "$T/$1.loaded")
	err=$(fig SOCKERR "$T/$1.loaded")
	reqs=$(fig REQS "$T/$1.loaded")
	for v in "$p0" "$p1" "$bad" "$err" "$reqs"; do
		[[ $v =~ ^[0-9]+$ ]] || { echo "no figures from wrk"; return; }
	done
	bound=$((p0 * 4 > p0 + 30000 ? p0 * 4 : p0 + 30000))
	if [ "$reqs" -lt 100 ]; then
		echo "only $reqs requests of B"
	elif [ "$bad" -ne 0 ] || [ "$err" -ne 0 ]; then
		echo "$bad of $reqs not 2xx, $err socket errors"
	elif [ "$p1" -gt "$bound" ]; then
		echo "p99 $p1 us over $bound us"
	else
		echo ok
	fi
}
metric() { # NAME LABELS: the value of one series, or "none"
	curl -sS --max-time 5 "http://127.0.0.1:$MP/metrics" |
		awk -v s="$1{$2}" '$1 == s { print $2; found = 1 } END { if (!found) print "none" }'
}

# ---- run 1: partitioned -----------------------------------------------------------
write_parted B
"$EDGELBD" --check -c "$T/edgelb.ini" >/dev/null 2>&1 ||
	{ fail "partitioned config refused"; "$EDGELBD" --check -c "$T/edgelb.ini" >&2 || true; exit 1; }
start_lbd
expect "route b on B's listener" "200" \
	"$("${C[@]}" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PB/b/1")"
expect "route b not on A's listener" "404" \
	"$("${C[@]}" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PA/b/1")"
run parted
verdict=$(b_whole parted)
if [[ $verdict == p99* ]]; then
	# only the latency bound missed: a noisy neighbour on a shared
	# machine, or A really slowing B; a second run tells (every answer
	# must still be 2xx in both)
	echo "partitioned: $verdict; measuring again"
	run parted
	verdict=$(b_whole parted)
fi
expect "partitioned: B kept whole under A's flood" "ok" "$verdict"
a_bad=$(fig NON2XX "$T/parted.flood")
refused_a=$(metric edgelbd_gateway_partition_refused_total 'partition="A",reason="requests"')
refused_b=$(metric edgelbd_gateway_partition_refused_total 'partition="B",reason="requests"')
echo "partitioned: A's 503 counted $refused_a (wrk saw $a_bad non-2xx on A), B's $refused_b"
if [[ $a_bad =~ ^[0-9]+$ && $refused_a =~ ^[0-9]+$ ]] &&
	[ "$a_bad" -gt 0 ] && [ "$refused_a" -ge "$a_bad" ]; then
	pass "A's overflow answered 503 and counted per partition"
else
	fail "A's overflow: wrk non-2xx '$a_bad', counted '$refused_a'"
fi
expect "no refusal counted for B" "0" "$refused_b"
contains "503 on A: Retry-After" "^Retry-After: 2" "$(tr -d '\r' <"$T/parted.a503")"
contains "503 on A: status" "^HTTP/1.1 503" "$(cat "$T/parted.a503")"
# max_connections, shared by A's 2 threads
cat >"$T/conns.py" <<'EOF'
import socket, sys, time, urllib.request
port, n, mp = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
socks = [socket.create_connection(("127.0.0.1", port), 2) for _ in range(n)]
time.sleep(1)
refused = 0
for s in socks:
    s.setblocking(False)
    try:
        d = s.recv(256)
        if d == b"" or d.startswith(b"HTTP/1.1 503"):
            refused += 1
    except BlockingIOError:
        pass
gauge = "none"
with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mp, timeout=5) as r:
    for line in r.read().decode().splitlines():
        if line.startswith('edgelbd_gateway_partition_connections{partition="A"}'):
            gauge = line.split()[1]
print(refused, gauge)
EOF
ok=0
for _ in $(seq 50); do # the flood's connections are gone
	[ "$(metric edgelbd_gateway_partition_connections 'partition="A"')" = 0 ] && { ok=1; break; }
	sleep 0.1
done
expect "A's connections closed after the flood" "1" "$ok"
read -r c_refused c_gauge < <(python3 "$T/conns.py" "$PA" 70 "$MP" || echo "error error")
expect "max_connections 64 over 2 threads: 6 of 70 refused" "6" "$c_refused"
expect "max_connections: A's gauge with 70 tried" "64" "$c_gauge"
expect "max_connections: refusals counted" "6" \
	"$(metric edgelbd_gateway_partition_refused_total 'partition="A",reason="connections"')"
out=$("$LBCTL" --socket "$T/ctl.sock" module show gateway 2>&1) || true
contains "lbctl: partitions" "partitions  *2" "$out"
contains "lbctl: A's refusals" "partition_a_refused_requests  *[1-9]" "$out"
contains "lbctl: A's workers" "partition_a_workers  *2" "$out"
contains "lbctl: B's workers" "partition_b_workers  *1" "$out"

# SIGHUP: route b into partition A, then back
write_parted A
kill -HUP "$LBD_PID"
ok=0
for _ in $(seq 50); do
	code=$("${C[@]}" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PA/b/2" || true)
	[ "$code" = 200 ] && { ok=1; break; }
	sleep 0.1
done
expect "SIGHUP: route b served by A's listener" "1" "$ok"
expect "SIGHUP: route b gone from B's listener" "404" \
	"$("${C[@]}" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PB/b/2")"
write_parted B
kill -HUP "$LBD_PID"
ok=0
for _ in $(seq 50); do
	code=$("${C[@]}" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PB/b/3" || true)
	[ "$code" = 200 ] && { ok=1; break; }
	sleep 0.1
done
expect "SIGHUP back: route b on B's listener again" "1" "$ok"
stop_lbd

# ---- run 2: the contrast, one partition with the same totals ------------------------
write_shared
start_lbd
run shared
verdict=$(b_whole shared)
echo "shared: B under A's flood: $verdict"
if [ "$verdict" != ok ] && [ "$verdict" != "no figures from wrk" ]; then
	pass "contrast: without partitions B is not kept whole ($verdict)"
else
	fail "contrast: without partitions B was kept whole too ($verdict): the lab proves nothing"
fi
stop_lbd

lo_end "$T/edgelbd.log"
