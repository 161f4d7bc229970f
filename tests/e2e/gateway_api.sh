#!/usr/bin/env bash
# The gateway's API lifecycle (lbctl api) on loopback: a real edgelbd (no
# dataplane) with two gateway listeners, stage test and stage prod, and an
# API store ([gateway] api_db); real HTTP backends started here, each
# answering its own body ("v1", "v2"). Checks:
#   - create a draft, diff it, publish it to test, then to prod; a second
#     version published to test only: each stage serves its own version,
#     the INI's static route beside them;
#   - diff against what is live, history (who, actions, order), list/show,
#     and lbctl's errors and exit codes (bad route text with its line,
#     unknown API, a publish of what is live);
#   - under a bounded load (h2load, plus a client that reads every answer),
#     publish/rollback flips and a SIGHUP: no failed request, every answer
#     from one version whole (body and the version's own response header
#     agree);
#   - deprecate: Deprecation and Sunset headers; retire: 410 with JSON
#     (Content-Type application/json);
#   - edgelbd killed (SIGKILL) and started again: the same versions are
#     served, history and live state kept.
# Needs: curl, h2load, python3. Exits 77 (skipped) when one is missing.
set -euo pipefail

# shellcheck source=lo_lib.sh
source "$(dirname "$0")/lo_lib.sh"
lo_need curl h2load python3
lo_need_built "$EDGELBD" "$LBCTL"
lo_begin gwapi
BE_PIDS=()
BG_PIDS=()
lo_kill_at_exit BG_PIDS BE_PIDS
PROD=$(free_port)
TEST=$(free_port)
B1=$(free_port)
B2=$(free_port)

# ---- backends: each answers its own body --------------------------------
cat >"$T/backend.py" <<'EOF'
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = sys.argv[2].encode()


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # head and body in one write (no Nagle stall)

    def do_GET(self):
        if "slow" in self.path:  # a request still in flight at a swap
            time.sleep(1.5)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer.allow_reuse_address = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
python3 "$T/backend.py" "$B1" v1 &
BE_PIDS+=($!)
python3 "$T/backend.py" "$B2" v2 &
BE_PIDS+=($!)

# ---- the client that reads every answer (bounded: count and time) --------
# It asks GET /items on a keep-alive connection until told to stop (the
# file $3 appears) or N requests or S seconds; every answer must be 200
# with body vN and header X-Api-Version: N. Prints one line of JSON.
cat >"$T/reader.py" <<'EOF'
import http.client, json, os, sys, time

port, n_max, stop, secs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
res = {"n": 0, "bad": 0, "v1": 0, "v2": 0, "errors": 0, "first_bad": None}
deadline = time.monotonic() + secs
conn = None
while res["n"] < n_max and time.monotonic() < deadline and not os.path.exists(stop):
    try:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/items")
        r = conn.getresponse()
        body = r.read().decode(errors="replace")
        ver = r.getheader("X-Api-Version")
        res["n"] += 1
        if r.status == 200 and body in ("v1", "v2") and ver == body[1:]:
            res[body] += 1
        else:
            res["bad"] += 1
            if res["first_bad"] is None:
                res["first_bad"] = "%d %r X-Api-Version=%r" % (r.status, body, ver)
        if r.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = None
    except Exception as e:
        res["n"] += 1
        res["errors"] += 1
        if res["first_bad"] is None:
            res["first_bad"] = repr(e)
        conn = None
print(json.dumps(res))
EOF

# ---- configuration and the API's versions ----------------------------------
cat >"$T/edgelb.ini" <<EOF
[global]
ctl_socket = $T/ctl.sock
log_level = info

[dataplane]
socket = $T/dp.sock

[gateway]
listen = 127.0.0.1:$PROD stage=prod
listen = 127.0.0.1:$TEST stage=test
; requests are served on worker threads while lbctl's publish rebuilds
; the tables on the main loop: the swap has to be atomic
workers = 2
api_db = $T/api.db

[route static]
path = /static
direct = 200 static
EOF

cat >"$T/v1.ini" <<EOF
; shop, version 1
[upstream be]
instance = 127.0.0.1:$B1

[route items]
path_prefix = /items
upstream = be
response_header_set = X-Api-Version: 1
EOF

cat >"$T/v2.ini" <<EOF
; shop, version 2
[upstream be]
instance = 127.0.0.1:$B2

[route items]
path_prefix = /items
upstream = be
response_header_set = X-Api-Version: 2

[route ping]
path = /ping
direct = 200 pong
filters = tag

[filter tag]
type = transform
request_header_add = X-Api: shop
EOF

cat >"$T/bad.ini" <<EOF
[upstream be]
instance = 127.0.0.1:$B1

[route items]
path_prefix = /items
upstream = nowhere
EOF

LBCTL=("$LBCTL" --socket "$T/ctl.sock")
CURL=(curl -sS --max-time 5)

start_lbd() {
	"$EDGELBD" -f -c "$T/edgelb.ini" >>"$T/edgelbd.log" 2>&1 &
	LBD_PID=$!
	for _ in $(seq 50); do
		out=$("${CURL[@]}" "http://127.0.0.1:$PROD/static" 2>/dev/null || true)
		[ "$out" == "static" ] && return 0
		sleep 0.2
	done
	cat "$T/edgelbd.log" >&2
	return 1
}

# status and body of GET PATH on PORT: "200 v1"
get() {
	"${CURL[@]}" -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$1$2" >"$T/code" 2>/dev/null || true
	echo "$(cat "$T/code") $(cat "$T/body" 2>/dev/null)"
}

# lbctl with its exit status: "rc=N" on the last line of the output
lbctl_rc() {
	local rc=0
	"${LBCTL[@]}" "$@" >"$T/out" 2>&1 || rc=$?
	cat "$T/out"
	echo "rc=$rc"
}

# backends up before the gateway proxies to them
for p in "$B1" "$B2"; do
	for _ in $(seq 50); do
		"${CURL[@]}" -o /dev/null "http://127.0.0.1:$p/" 2>/dev/null && break
		sleep 0.1
	done
done
start_lbd || { fail "edgelbd did not start"; exit 1; }
pass "edgelbd serves the INI's static route"

# ---- create, diff, publish to test then prod -------------------------------
out=$(lbctl_rc api create shop --file "$T/v1.ini")
contains_fixed "create v1" "rc=0" "$out"
out=$(lbctl_rc api diff shop --stage test)
contains_fixed "diff against nothing live: all added" "+[route items]" "$out"
contains_fixed "diff labels" "+++ shop draft" "$out"
expect "nothing live on test yet" "404" "$(get "$TEST" /items | cut -d' ' -f1)"
out=$(lbctl_rc api publish shop --stage test)
contains_fixed "publish the draft to test" "version 1 live on stage test" "$out"
expect "test serves v1" "200 v1" "$(get "$TEST" /items)"
expect "prod does not serve it yet" "404" "$(get "$PROD" /items | cut -d' ' -f1)"
out=$(lbctl_rc api publish shop --version 1 --stage prod)
contains_fixed "publish version 1 to prod" "rc=0" "$out"
expect "prod serves v1" "200 v1" "$(get "$PROD" /items)"
expect "the static route is still there" "200 static" "$(get "$PROD" /static)"

out=$(lbctl_rc api create shop --file "$T/v2.ini")
contains_fixed "create v2" "rc=0" "$out"
out=$(lbctl_rc api diff shop --stage prod)
contains_fixed "diff: old instance removed" "-instance = 127.0.0.1:$B1" "$out"
contains_fixed "diff: new instance added" "+instance = 127.0.0.1:$B2" "$out"
contains_fixed "diff: hunk header" "@@ -1," "$out"
out=$(lbctl_rc api publish shop --stage test)
contains_fixed "publish v2 to test" "version 2 live on stage test" "$out"
expect "test serves v2" "200 v2" "$(get "$TEST" /items)"
expect "v2's new route on test" "200 pong" "$(get "$TEST" /ping)"
expect "prod still serves v1" "200 v1" "$(get "$PROD" /items)"
expect "v2's new route not on prod" "404" "$(get "$PROD" /ping | cut -d' ' -f1)"

# ---- errors and exit codes --------------------------------------------------
out=$(lbctl_rc api create shop --file "$T/bad.ini")
contains_fixed "bad route text: exit 1" "rc=1" "$out"
contains_fixed "bad route text names the line" "line 6: route items: upstream: unknown upstream \"nowhere\"" "$out"
out=$(lbctl_rc api publish nosuch --stage prod)
contains_fixed "unknown API: exit 3" "rc=3" "$out"
out=$(lbctl_rc api publish shop --version 1 --stage prod)
contains_fixed "publish what is live: exit 5" "rc=5" "$out"
out=$(lbctl_rc api rollback shop --stage prod)
contains_fixed "rollback without --version: usage, exit 2" "rc=2" "$out"
out=$(lbctl_rc api publish shop --version 9 --stage prod)
contains_fixed "unknown version: exit 3" "rc=3" "$out"

# ---- history, list, show -------------------------------------------------
out=$("${LBCTL[@]}" -j api history shop)
expect "history: actions in order" \
	"create:-:- publish:test:1 publish:prod:1 create:-:- publish:test:2" \
	"$(python3 -c '
import json, sys
h = json.load(sys.stdin)["history"]
print(" ".join("%s:%s:%s" % (e["action"], e["stage"] or "-", e["version"] or "-") for e in h))' <<<"$out")"
contains_fixed "history: who" "\"who\":\"$(id -un)\"" "$out"
out=$("${LBCTL[@]}" -j api list)
contains_fixed "list: live per stage" '"live":{"prod":1,"test":2}' "$out"
out=$("${LBCTL[@]}" api show shop)
contains_fixed "show: versions table" "VERSION" "$out"
out=$("${LBCTL[@]}" api show shop --version 2)
contains_fixed "show --version: the version's filters" "; filter tag (transform), routes: ping" "$(tail -1 <<<"$out")"

# ---- a request in flight across a publish and a SIGHUP ------------------------
# it matched version 1's table and finishes on it, whole
"${CURL[@]}" -D "$T/slow.hdr" -o "$T/slow.body" -w '%{http_code}' \
	"http://127.0.0.1:$PROD/items/slow" >"$T/slow.code" 2>&1 &
SLOW=$!
BG_PIDS+=($SLOW)
sleep 0.5
"${LBCTL[@]}" api publish shop --version 2 --stage prod >/dev/null || fail "publish during a slow request"
kill -HUP "$LBD_PID"
expect "a new request sees version 2 at once" "200 v2" "$(get "$PROD" /items)"
wait "$SLOW" || true
expect "the request in flight was not dropped, answered by version 1" \
	"200 v1 X-Api-Version: 1" \
	"$(cat "$T/slow.code") $(cat "$T/slow.body") $(grep -i '^X-Api-Version' "$T/slow.hdr" | tr -d '\r')"
"${LBCTL[@]}" api rollback shop --version 1 --stage prod >/dev/null || fail "rollback to 1"

# ---- publish/rollback and SIGHUP under load --------------------------------
rm -f "$T/stop"
python3 "$T/reader.py" "$PROD" 200000 "$T/stop" 60 >"$T/reader.json" &
READER=$!
BG_PIDS+=($READER)
h2load -n 20000 -c 8 -t 1 "http://127.0.0.1:$PROD/items" >"$T/h2load.txt" 2>&1 &
H2=$!
BG_PIDS+=($H2)
sleep 0.2
# flips for as long as h2load runs (at most 60), a SIGHUP among them
flips=0
flip_fail=0
while kill -0 "$H2" 2>/dev/null && [ "$flips" -lt 60 ]; do
	if [ $((flips % 2)) == 0 ]; then
		"${LBCTL[@]}" api publish shop --version 2 --stage prod >/dev/null || flip_fail=1
	else
		"${LBCTL[@]}" api rollback shop --version 1 --stage prod >/dev/null || flip_fail=1
	fi
	flips=$((flips + 1))
	if [ "$flips" == 3 ]; then
		kill -HUP "$LBD_PID"
	fi
	sleep 0.1
done
# end on version 2
if [ $((flips % 2)) == 0 ]; then
	"${LBCTL[@]}" api publish shop --version 2 --stage prod >/dev/null || flip_fail=1
	flips=$((flips + 1))
fi
h2rc=0
wait "$H2" || h2rc=$?
: >"$T/stop"
wait "$READER" || true
expect "publish/rollback under load: every lbctl call succeeded" "0" "$flip_fail"
expect "h2load exit status" "0" "$h2rc"
h2line=$(grep -E '^requests:' "$T/h2load.txt" || true)
codes=$(grep -E '^status codes:' "$T/h2load.txt" || true)
echo "h2load: $h2line; $codes ($flips flips, one SIGHUP)"
contains_fixed "h2load: all 20000 succeeded, none failed or errored" \
	"20000 succeeded, 0 failed, 0 errored" "$h2line"
contains_fixed "h2load: all 2xx" "status codes: 20000 2xx" "$codes"
r=$(cat "$T/reader.json")
echo "reader: $r"
expect "reader: no bad answer, no error" "0 0 None" \
	"$(python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["bad"], r["errors"], r["first_bad"])' <<<"$r")"
expect "reader: saw both versions" "True" \
	"$(python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["v1"] > 0 and r["v2"] > 0)' <<<"$r")"
expect "prod serves v2 after the flips" "200 v2" "$(get "$PROD" /items)"
expect "API routes survive SIGHUP" "200 pong" "$(get "$PROD" /ping)"

# ---- deprecate, retire -------------------------------------------------------
out=$(lbctl_rc api deprecate shop --version 2 --sunset 2030-01-01)
contains_fixed "deprecate v2" "rc=0" "$out"
contains_fixed "deprecate: lbctl says until when" "version 2 deprecated, sunset 2030-01-01T00:00:00Z" "$out"
hdrs=$("${CURL[@]}" -D - -o /dev/null "http://127.0.0.1:$PROD/items")
contains_fixed "Deprecation header" "Deprecation: @" "$hdrs"
contains_fixed "Sunset header" "Sunset: Tue, 01 Jan 2030 00:00:00 GMT" "$hdrs"
expect "a deprecated version still answers" "200 v2" "$(get "$PROD" /items)"
out=$(lbctl_rc api rollback shop --version 1 --stage test)
contains_fixed "test back to v1" "rc=0" "$out"
out=$(lbctl_rc api retire shop --version 1)
contains_fixed "retire v1" "rc=0" "$out"
expect "retired: 410" "410" "$(get "$TEST" /items | cut -d' ' -f1)"
contains_fixed "retired: JSON body" '"error":"gone","api":"shop","version":1' "$(cat "$T/body")"
hdrs=$("${CURL[@]}" -D - -o /dev/null "http://127.0.0.1:$TEST/items" | tr -d '\r' | tr 'A-Z' 'a-z')
contains_fixed "retired: sent as JSON" "content-type: application/json" "$hdrs"
out=$(lbctl_rc api publish shop --version 1 --stage prod)
contains_fixed "a retired version is not published again" "is retired" "$out"
expect "prod unaffected by v1's retirement" "200 v2" "$(get "$PROD" /items)"
nhist=$("${LBCTL[@]}" -j api history shop | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["history"]))')

# ---- kill and start again: the store is what is served ---------------------------
kill -KILL "$LBD_PID"
wait "$LBD_PID" 2>/dev/null || true
LBD_PID=
start_lbd || { fail "edgelbd did not start again"; exit 1; }
expect "after restart: prod serves v2" "200 v2" "$(get "$PROD" /items)"
hdrs=$("${CURL[@]}" -D - -o /dev/null "http://127.0.0.1:$PROD/items")
contains_fixed "after restart: still deprecated" "Sunset: Tue, 01 Jan 2030 00:00:00 GMT" "$hdrs"
expect "after restart: test still retired" "410" "$(get "$TEST" /items | cut -d' ' -f1)"
out=$("${LBCTL[@]}" -j api list)
contains_fixed "after restart: live per stage" '"live":{"prod":2,"test":1}' "$out"
expect "after restart: history kept" "$nhist" \
	"$("${LBCTL[@]}" -j api history shop | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["history"]))')"
out=$("${LBCTL[@]}" -j module show gateway)
contains_fixed "module counters: api commands" "api_commands" "$out"

# SIGTERM: edgelbd drains and exits 0; under the sanitizer build
# (EDGELB_BUILD=build-san) its log must hold no report
kill -TERM "$LBD_PID"
lbd_rc=0
for _ in $(seq 100); do
	kill -0 "$LBD_PID" 2>/dev/null || break
	sleep 0.1
done
wait "$LBD_PID" || lbd_rc=$?
LBD_PID=
expect "edgelbd exits 0 on SIGTERM" "0" "$lbd_rc"
expect "no sanitizer report in edgelbd's log" "0" \
	"$(grep -c -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/edgelbd.log" || true)"

lo_end "$T/edgelbd.log"
