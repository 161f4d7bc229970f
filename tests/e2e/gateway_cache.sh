#!/usr/bin/env bash
# The gateway's cache and degrade filters in edgelbd, on loopback: a real
# edgelbd (no dataplane) in front of python3 backends started here that
# count the requests they get, driven by curl and lbctl. Checks:
#   - MISS then HIT, the backend's count unchanged by the HIT; a client's
#     If-None-Match gets 304 from the cache; HEAD is answered from GET's,
#   - max-age expiry: EXPIRED, the gateway revalidates with If-None-Match,
#     the backend answers 304 and the entry is refreshed (next: HIT),
#   - Vary: Accept-Encoding keeps two variants, each served to its own,
#   - no-store is never cached; a body over max_entry streams whole and
#     is not stored,
#   - lbctl api cache purge --prefix empties what it names,
#   - size bound: 300 distinct answers into a 64k cache, the bytes gauge
#     stays <= 65536 and entries were evicted,
#   - stale-if-error: the backend killed, an expired entry is served
#     (STALE); an uncached path gets the route's static fallback; the
#     same when the route is forced into degradation (a fresh entry
#     still answers HIT),
#   - lbctl api degrade ROUTE on: 503 with Retry-After without the
#     upstream, off: served again,
#   - shedding: with 2 requests in flight on a slow backend, the priority
#     0 route is shed (503, Retry-After) while the priority 1 route
#     passes; counters in lbctl api degrade,
#   - event-loop lag: edgelbd stopped (SIGSTOP) for 1.5 s while requests
#     wait; on SIGCONT the priority 0 route (max_lag_ms 300) is shed with
#     503 "event loop lag", the priority 1 route passes, a route with a
#     fallback_route is served by that smaller route's upstream; 1.5 s
#     later the low route is served again,
#   - /metrics: the cache's counters (hits, misses, expired, stale,
#     bypass, evictions, bytes) and the degrade counters (shed by
#     reason, forced, rerouted) with HELP; promtool check metrics when
#     installed.
# Needs: curl, python3. Exits 77 (skipped) when one is missing. Loopback
# only; no root.
set -euo pipefail

# shellcheck source=lo_lib.sh
source "$(dirname "$0")/lo_lib.sh"
lo_need curl python3
lo_need_built "$EDGELBD" "$LBCTL"
lo_begin gwcache
BE_PID=
lo_kill_at_exit BE_PID
GW=$(free_port)
BE=$(free_port)
SL=$(free_port)
LT=$(free_port) # the smaller route's backend
MP=$(free_port) # /metrics

# ---- backends -----------------------------------------------------------------
# backend.py PORT LOG: one line "STATUS PATH" appended to LOG per request.
#   /c/fresh    max-age=60, ETag "v1"
#   /c/short    max-age=1, ETag "s1"; If-None-Match "s1" -> 304
#   /c/vary     max-age=60, Vary: Accept-Encoding; the body names it
#   /c/nostore  no-store
#   /c/stale    max-age=1, no validators
#   /c/big/N    max-age=60, N bytes
#   /low/, /high/  a 2 s wait, then 200 (the slow backend)
cat >"$T/backend.py" <<'EOF'
import http.server, sys, threading, time
port, log = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
served = {}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self, status, hdrs, body):
        with lock:
            with open(log, "a") as f:
                f.write("%d %s\n" % (status, self.path))
        self.send_response(status)
        for k, v in hdrs:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    def do_GET(self):
        p = self.path.split("?")[0]
        with lock:
            served[p] = served.get(p, 0) + 1
            n = served[p]
        if p.startswith("/low/") or p.startswith("/high/"):
            time.sleep(2)
            return self.answer(200, [], b"slow\n")
        if p.startswith("/lag") or p.startswith("/full/"):
            return self.answer(200, [], b"fast\n")
        if p == "/c/fresh":
            return self.answer(200, [("Cache-Control", "max-age=60"), ("ETag", '"v1"')], b"fresh %d\n" % n)
        if p == "/c/short":
            if self.headers.get("If-None-Match") == '"s1"':
                return self.answer(304, [("Cache-Control", "max-age=1"), ("ETag", '"s1"')], b"")
            return self.answer(200, [("Cache-Control", "max-age=1"), ("ETag", '"s1"')], b"short %d\n" % n)
        if p == "/c/vary":
            ae = self.headers.get("Accept-Encoding", "none")
            return self.answer(200, [("Cache-Control", "max-age=60"), ("Vary", "Accept-Encoding")], ("vary %s\n" % ae).encode())
        if p == "/c/nostore":
            return self.answer(200, [("Cache-Control", "no-store, max-age=60")], b"nostore %d\n" % n)
        if p == "/c/stale":
            return self.answer(200, [("Cache-Control", "max-age=1")], b"stale %d\n" % n)
        if p.startswith("/c/big/"):
            return self.answer(200, [("Cache-Control", "max-age=60")], b"x" * int(p[7:]))
        return self.answer(404, [], b"no\n")
    do_HEAD = do_GET
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
S(("127.0.0.1", port), H).serve_forever()
EOF
python3 "$T/backend.py" "$BE" "$T/be.log" &
BE_PID=$!
python3 "$T/backend.py" "$SL" "$T/slow.log" &
PIDS+=($!)
python3 "$T/backend.py" "$LT" "$T/lite.log" &
PIDS+=($!)
touch "$T/be.log" "$T/slow.log" "$T/lite.log"
# backends up before the gateway (a probe would otherwise meet the
# fallback and count in it)
for p in "$BE" "$SL" "$LT"; do
	wait_port "$p" || { fail "backend on $p did not start"; exit 1; }
done

cat >"$T/edgelb.ini" <<EOF
[global]
ctl_socket = $T/ctl.sock
log_level = info

[dataplane]
socket = $T/dp.sock

[metrics]
listen = 127.0.0.1:$MP

[gateway]
listen = 127.0.0.1:$GW
api_db = $T/api.db

[upstream lite]
instance = 127.0.0.1:$LT

[filter lagl]
type = degrade
priority = 0
max_lag_ms = 300
lag_step_ms = 30000

[filter lagh]
type = degrade
priority = 1
max_lag_ms = 300
lag_step_ms = 30000

[filter tolite]
type = degrade
max_lag_ms = 300
fallback_route = lite

[route lagl]
path_prefix = /lagl/
upstream = slow
filters = lagl

[route lagh]
path_prefix = /lagh/
upstream = slow
filters = lagh

[route full]
path_prefix = /full/
upstream = slow
filters = tolite

[route lite]
path_prefix = /lite/
upstream = lite

[upstream be]
instance = 127.0.0.1:$BE
eject_after = 0

[upstream slow]
instance = 127.0.0.1:$SL

[filter cache]
type = cache
max_bytes = 64k
max_entry = 3k
stale_if_error = 60

[filter fb]
type = degrade
fallback_body = {"fallback":true}
fallback_type = application/json

[filter low]
type = degrade
priority = 0
max_inflight = 2
shed_step = 4
retry_after = 3

[filter high]
type = degrade
priority = 1
max_inflight = 2
shed_step = 4
retry_after = 3

[route c]
path_prefix = /c/
upstream = be
retries = 0
filters = cache, fb

[route low]
path_prefix = /low/
upstream = slow
request_timeout_ms = 10000
filters = low

[route high]
path_prefix = /high/
upstream = slow
request_timeout_ms = 10000
filters = high
EOF

LBCTL=("$LBCTL" --socket "$T/ctl.sock")
H=http://127.0.0.1:$GW

# req NAME [curl args...] URL: status in $T/NAME.code, headers in
# $T/NAME.h, body in $T/NAME.b (curl's own failure: code 000)
req() {
	local n=$1
	shift
	curl -sS --max-time 10 -D "$T/$n.h" -o "$T/$n.b" -w '%{http_code}' "$@" \
		>"$T/$n.code" 2>"$T/$n.err" || echo 000 >"$T/$n.code"
}
code() { cat "$T/$1.code"; }
body() { cat "$T/$1.b"; }
hdr() { # NAME HEADER: its value, "" without
	sed -n "s/^$2: *\\([^\\r]*\\)\\r*\$/\\1/Ip" "$T/$1.h" | head -1
}
# how many requests the backend log has for exactly STATUS PATH
hits() { grep -cx -- "$2 $3" "$T/$1.log" || true; }

"$EDGELBD" -f -c "$T/edgelb.ini" >"$T/edgelbd.log" 2>&1 &
LBD_PID=$!
up=0
for _ in $(seq 50); do
	req probe "$H/c/none"
	if [ "$(code probe)" == "404" ]; then up=1; break; fi
	sleep 0.2
done
if [ $up != 1 ]; then
	cat "$T/edgelbd.log" >&2
	fail "edgelbd did not answer"
	exit 1
fi

# ---- MISS, HIT, conditional, HEAD ---------------------------------------------
req a1 "$H/c/fresh"
req a2 "$H/c/fresh"
expect "first: MISS" "200 MISS" "$(code a1) $(hdr a1 X-Cache-Status)"
expect "second: HIT" "200 HIT" "$(code a2) $(hdr a2 X-Cache-Status)"
expect "HIT: the stored body" "fresh 1" "$(body a2)"
expect "HIT: backend not asked again" "1" "$(hits be 200 /c/fresh)"
req a3 -H 'If-None-Match: "v1"' "$H/c/fresh"
expect "If-None-Match matching the entry: 304 from the cache" "304 HIT" "$(code a3) $(hdr a3 X-Cache-Status)"
req a4 -I "$H/c/fresh"
expect "HEAD: from GET's entry" "200 HIT 8" "$(code a4) $(hdr a4 X-Cache-Status) $(hdr a4 Content-Length)"
expect "backend still asked once" "1" "$(hits be 200 /c/fresh)"

# ---- expiry and revalidation ----------------------------------------------------
req b1 "$H/c/short"
sleep 1.3
req b2 "$H/c/short"
req b3 "$H/c/short"
expect "short: MISS" "200 MISS" "$(code b1) $(hdr b1 X-Cache-Status)"
expect "expired: EXPIRED, the stored body" "200 EXPIRED short 1" "$(code b2) $(hdr b2 X-Cache-Status) $(body b2)"
expect "revalidation: backend answered 304 once" "1" "$(hits be 304 /c/short)"
expect "revalidation: no second full answer" "1" "$(hits be 200 /c/short)"
expect "refreshed: HIT" "200 HIT" "$(code b3) $(hdr b3 X-Cache-Status)"

# ---- Vary ------------------------------------------------------------------------
req v1 -H 'Accept-Encoding: gzip' "$H/c/vary"
req v2 -H 'Accept-Encoding: br' "$H/c/vary"
req v3 -H 'Accept-Encoding: gzip' "$H/c/vary"
req v4 -H 'Accept-Encoding: br' "$H/c/vary"
expect "vary gzip: MISS" "MISS" "$(hdr v1 X-Cache-Status)"
expect "vary br: MISS (another variant)" "MISS" "$(hdr v2 X-Cache-Status)"
expect "vary gzip again: HIT, its own body" "HIT vary gzip" "$(hdr v3 X-Cache-Status) $(body v3)"
expect "vary br again: HIT, its own body" "HIT vary br" "$(hdr v4 X-Cache-Status) $(body v4)"
expect "vary: two backend requests" "2" "$(hits be 200 /c/vary)"

# ---- no-store, too big -------------------------------------------------------------
req n1 "$H/c/nostore"
req n2 "$H/c/nostore"
expect "no-store: never HIT" "MISS MISS" "$(hdr n1 X-Cache-Status) $(hdr n2 X-Cache-Status)"
expect "no-store: backend asked twice" "2" "$(hits be 200 /c/nostore)"
req g1 "$H/c/big/5000"
req g2 "$H/c/big/5000"
expect "over max_entry: streamed whole" "200 5000" "$(code g2) $(wc -c <"$T/g2.b" | tr -d ' ')"
expect "over max_entry: not stored" "MISS MISS" "$(hdr g1 X-Cache-Status) $(hdr g2 X-Cache-Status)"

# ---- purge ----------------------------------------------------------------------------
"${LBCTL[@]}" api cache purge --prefix /c/fresh >"$T/purge.out" 2>&1 || echo "rc=$?" >>"$T/purge.out"
expect "purge: one entry" "cache *: 1 entries purged under /c/fresh (1 caches)" "$(cat "$T/purge.out")"
req p1 "$H/c/fresh"
req p2 "$H/c/vary" -H 'Accept-Encoding: gzip'
expect "purged: MISS again" "MISS fresh 2" "$(hdr p1 X-Cache-Status) $(body p1)"
expect "purge kept other paths" "HIT" "$(hdr p2 X-Cache-Status)"

# ---- size bound under load ---------------------------------------------------------------
# 300 distinct 1000-byte answers (curl's URL range: one process, bounded)
curl -sS --max-time 60 -o /dev/null "$H/c/big/1000?i=[1-300]" 2>"$T/load.err" || fail "load loop: curl failed"
"${LBCTL[@]}" api cache stats >"$T/stats.json" 2>&1 || fail "cache stats: lbctl failed"
python3 - "$T/stats.json" >"$T/stats.txt" <<'EOF' || fail "cache stats: not JSON"
import json, sys
c = json.load(open(sys.argv[1]))["caches"][0]
print(c["bytes"], c["max_bytes"], c["evictions"], c["stores"], c["hits"])
EOF
read -r bytes maxb evict stores hits_ <"$T/stats.txt" || true
expect "max_bytes is the configured 64k" "65536" "$maxb"
if [ "${bytes:-999999}" -le 65536 ] && [ "${bytes:-0}" -gt 0 ]; then
	pass "bytes gauge $bytes <= 65536"
else
	fail "bytes gauge '$bytes' not within (0, 65536]"
fi
if [ "${evict:-0}" -gt 0 ]; then pass "evictions: $evict"; else fail "no evictions"; fi
if [ "${stores:-0}" -ge 300 ]; then pass "stores: $stores"; else fail "stores: '$stores' < 300"; fi

# ---- stale-if-error and the fallback ------------------------------------------------------
req s0 "$H/c/fresh" # kept again if the load evicted it
req s1 "$H/c/stale"
sleep 1.3
kill "$BE_PID"
wait "$BE_PID" 2>/dev/null || true
BE_PID=
req s2 "$H/c/stale"
expect "backend dead, expired entry: STALE" "200 STALE stale 1" "$(code s2) $(hdr s2 X-Cache-Status) $(body s2)"
req s3 "$H/c/nostore"
expect "backend dead, nothing cached: the route's fallback" '200 {"fallback":true}' "$(code s3) $(body s3)"

# forced on a route with a cache and a fallback: the cache's stale entry
# first, else the static body; fresh entries still answer
"${LBCTL[@]}" api degrade c on >"$T/deg.out" 2>&1 || fail "degrade c on: lbctl failed: $(cat "$T/deg.out")"
req f1 "$H/c/stale"
req f2 "$H/c/nostore"
req f3 "$H/c/fresh"
"${LBCTL[@]}" api degrade c off >"$T/deg.out" 2>&1 || fail "degrade c off: lbctl failed"
expect "forced, expired entry: STALE" "200 STALE stale 1" "$(code f1) $(hdr f1 X-Cache-Status) $(body f1)"
expect "forced, nothing cached: the fallback" '200 {"fallback":true}' "$(code f2) $(body f2)"
expect "forced, fresh entry: HIT" "200 HIT $(body s0)" "$(code f3) $(hdr f3 X-Cache-Status) $(body f3)"

# ---- degrade by hand -------------------------------------------------------------------------
"${LBCTL[@]}" api degrade low on >"$T/deg.out" 2>&1 || fail "degrade on: lbctl failed: $(cat "$T/deg.out")"
before=$(hits slow 200 /low/x)
req d1 "$H/low/x"
expect "degraded: 503" "503" "$(code d1)"
expect "degraded: Retry-After" "3" "$(hdr d1 Retry-After)"
"${LBCTL[@]}" api degrade low off >"$T/deg.out" 2>&1 || fail "degrade off: lbctl failed"
expect "degraded: upstream not asked" "$before" "$(hits slow 200 /low/x)"
req d2 "$H/low/x"
expect "degrade off: served" "200 slow" "$(code d2) $(body d2)"

# ---- shedding by priority ------------------------------------------------------------------------
req w1 "$H/low/w1" &
PIDS+=($!)
req w2 "$H/low/w2" &
PIDS+=($!)
# both in flight (the backend logs at the end: wait on the gateway side)
sleep 0.7
req l1 "$H/low/l1"
req h1 "$H/high/h1"
expect "2 in flight: priority 0 shed" "503 3" "$(code l1) $(hdr l1 Retry-After)"
expect "2 in flight: priority 1 passes" "200" "$(code h1)"
wait "${PIDS[-1]}" "${PIDS[-2]}" 2>/dev/null || true
expect "the two in flight were served" "200 200" "$(code w1) $(code w2)"
"${LBCTL[@]}" api degrade >"$T/deg.json" 2>&1 || fail "degrade state: lbctl failed"
python3 - "$T/deg.json" >"$T/deg.txt" <<'EOF' || fail "degrade state: not JSON"
import json, sys
d = json.load(open(sys.argv[1]))
f = {x["filter"]: x for x in d["filters"]}
print(f["low"]["shed"], f["low"]["forced"], f["fb"]["forced"], f["fb"]["fallbacks"], len(d["forced"]))
EOF
expect "counters: low shed 1, forced 1; fb forced 2, fallbacks 2; none forced now" "1 1 2 2 0" "$(cat "$T/deg.txt")"

# ---- event-loop lag: the worker stopped, then the smaller route --------------------------------
# a request on each arms its loop's lag timer
req g1 "$H/lagl/a"
req g2 "$H/lagh/a"
req g3 "$H/full/a"
expect "no lag: all served, full by its own upstream" "200 200 200 1 0" \
	"$(code g1) $(code g2) $(code g3) $(hits slow 200 /full/a) $(hits lite 200 /full/a)"
kill -STOP "$LBD_PID"
lagpids=()
req gl "$H/lagl/s" &
lagpids+=($!)
req gh "$H/lagh/s" &
lagpids+=($!)
req gf "$H/full/s" &
lagpids+=($!)
sleep 1.5
kill -CONT "$LBD_PID"
wait "${lagpids[@]}" 2>/dev/null || true
expect "lag 1.5 s: priority 0 shed" "503 5" "$(code gl) $(hdr gl Retry-After)"
contains "lag: the reason" '"reason":"overloaded: shed by priority: event loop lag"' "$(body gl)"
expect "lag 1.5 s: priority 1 passes" "200" "$(code gh)"
expect "lag: full served by the smaller route's upstream" "200 0 1" \
	"$(code gf) $(hits slow 200 /full/s) $(hits lite 200 /full/s)"
sleep 1.5
req gb "$H/lagl/b"
expect "lag gone: priority 0 served again" "200" "$(code gb)"

# ---- /metrics: cache and degrade counters ---------------------------------------------------------
if m=$(curl -sS --max-time 5 "http://127.0.0.1:$MP/metrics"); then
	for n in hits misses expired stale bypass evictions; do
		contains "metrics: cache $n" "^edgelbd_gateway_cache_${n}_total{stage=\"prod\",filter=\"cache\"} [0-9]" "$m"
	done
	contains "metrics: cache hits counted" '^edgelbd_gateway_cache_hits_total{stage="prod",filter="cache"} [1-9]' "$m"
	contains "metrics: cache evictions counted" '^edgelbd_gateway_cache_evictions_total{stage="prod",filter="cache"} [1-9]' "$m"
	contains "metrics: cache bytes gauge" '^# TYPE edgelbd_gateway_cache_bytes gauge' "$m"
	contains "metrics: cache HELP" '^# HELP edgelbd_gateway_cache_stale_total ' "$m"
	contains "metrics: shed by lag" '^edgelbd_gateway_degrade_shed_total{stage="prod",filter="lagl",reason="lag"} 1$' "$m"
	contains "metrics: shed by in-flight" '^edgelbd_gateway_degrade_shed_total{stage="prod",filter="low",reason="inflight"} 1$' "$m"
	contains "metrics: forced" '^edgelbd_gateway_degrade_forced_total{stage="prod",filter="fb"} 2$' "$m"
	contains "metrics: rerouted" '^edgelbd_gateway_degrade_rerouted_total{stage="prod",filter="tolite"} 1$' "$m"
	lo_promtool "$m"
else
	fail "metrics: no answer on /metrics"
fi

lo_end -n 20 "$T/edgelbd.log"
