#!/usr/bin/env bash
# The API gateway in edgelbd, on loopback: a real edgelbd (no dataplane)
# with [gateway], [route] and [upstream] sections in front of real
# backend processes (python3 http.server, started here). Checks:
#   - HTTP/1.1, h2c (prior knowledge) and TLS with ALPN h2, SNI choosing
#     between two certificates made here; a second stage on its own
#     listener sees only its routes,
#   - every matcher kind: host exact, *.suffix, prefix.*, any; path exact,
#     prefix, regex; method; header; query,
#   - rewrites (strip_prefix, rewrite_prefix, request and response
#     headers), redirect, direct answer,
#   - distribution: rr over 3 instances, wrr 1:2:3, ip_hash, hash on a
#     header, least_conn beside a busy instance, least_time against a
#     slow instance,
#   - an upstream bound to an INI service: its backend goes down (health
#     check) and leaves the rotation, comes back and returns,
#   - passive ejection of an instance answering 500, and its return,
#   - retries past a closed port (a PUT's body too, received whole), a
#     timeout answered 504 with the JSON body,
#   - SIGHUP with a changed route while h2load (HTTP/2 and HTTP/1.1,
#     bounded request counts) runs: no failed request, the change is live,
#   - an invalid regex refused with file:line at start (--check) and at
#     reload (the old routes keep serving),
#   - the access log: one valid JSON line per request with its fields,
#     reopened on SIGHUP after a move (logrotate),
#   - /metrics: per-route and per-upstream series (promtool check metrics
#     when installed), lbctl module show gateway,
#   - SIGTERM: a request in flight is answered, then edgelbd exits.
# Needs: curl, openssl, python3, h2load. Exits 77 (skipped) when one is
# missing. Loopback only; no root.
set -euo pipefail

# shellcheck source=lo_lib.sh
source "$(dirname "$0")/lo_lib.sh"
lo_need curl openssl python3 h2load
lo_need_built "$EDGELBD" "$LBCTL"
lo_begin gateway

GW=$(free_port)   # prod, plain
GWS=$(free_port)  # prod, TLS
GWT=$(free_port)  # stage test, plain
MP=$(free_port)   # /metrics
DEAD=$(free_port) # nobody listens here
declare -A BP
for b in r1 r2 r3 w1 w2 w3 s1 s2 good bad slow lag; do
	BP[$b]=$(free_port)
done

# ---- backends ------------------------------------------------------------
# backend.py NAME PORT [MODE]: answers every request with a JSON echo of
# what it received (its name, the path, the request headers, the body's
# SHA-256) and the header X-Backend: NAME; /slow?ms=N waits N ms first; MODE 500 answers
# every request with 500, MODE lag answers every request after 80 ms.
cat >"$T/backend.py" <<'EOF'
import hashlib, http.server, json, sys, time, urllib.parse
name, port = sys.argv[1], int(sys.argv[2])
mode = sys.argv[3] if len(sys.argv) > 3 else "ok"
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        u = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        got = self.rfile.read(n) if n else b""
        if u.path == "/slow":
            ms = int(urllib.parse.parse_qs(u.query).get("ms", ["0"])[0])
            time.sleep(ms / 1000)
        if mode == "lag":
            time.sleep(0.08)
        status = 500 if mode == "500" else 200
        body = json.dumps({"be": name, "path": self.path,
                           "headers": {k.lower(): v for k, v in self.headers.items()},
                           "sha256": hashlib.sha256(got).hexdigest()}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", name)
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_DELETE = answer
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
S(("127.0.0.1", port), H).serve_forever()
EOF

declare -A BPID
start_backend() { # NAME [MODE]
	python3 "$T/backend.py" "$1" "${BP[$1]}" "${2:-ok}" &
	BPID[$1]=$!
	PIDS+=($!)
}
for b in r1 r2 r3 w1 w2 w3 s1 s2 good slow; do
	start_backend "$b"
done
start_backend bad 500
start_backend lag lag
for b in "${!BP[@]}"; do
	wait_port "${BP[$b]}" || { fail "backend $b did not start"; exit 1; }
done

# ---- certificates: a.test and b.test, each self-signed ------------------
for n in a b; do
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=$n.test" \
		-addext "subjectAltName=DNS:$n.test" \
		-keyout "$T/$n.key" -out "$T/$n.crt" 2>/dev/null
done

# ---- configuration ---------------------------------------------------------
write_ini() { # VERSION (the X-Version header of route api) [REGEX]
	cat >"$T/edgelb.ini" <<EOF
[global]
ctl_socket = $T/ctl.sock
log_level = info

[dataplane]
socket = $T/dp.sock

[metrics]
listen = 127.0.0.1:$MP

[healthcheck tcp]
type = tcp
interval = 200ms
timeout = 150ms
rise = 1
fall = 1

[service svc]
vip = 192.0.2.10:80
mode = dr
backend = 127.0.0.1:${BP[s1]}
backend = 127.0.0.1:${BP[s2]}
healthcheck = tcp

[gateway]
listen = 127.0.0.1:$GW
listen = 127.0.0.1:$GWS tls
listen = 127.0.0.1:$GWT stage=test
cert = a.test $T/a.crt $T/a.key
cert = b.test $T/b.crt $T/b.key
cert = * $T/a.crt $T/a.key
access_log = file:$T/access.log

[upstream rr]
instance = 127.0.0.1:${BP[r1]}
instance = 127.0.0.1:${BP[r2]}
instance = 127.0.0.1:${BP[r3]}

[upstream wrr]
balance = wrr
instance = 127.0.0.1:${BP[w1]} 1
instance = 127.0.0.1:${BP[w2]} 2
instance = 127.0.0.1:${BP[w3]} 3

[upstream svc]
service = svc
eject_after = 0

[upstream eject]
instance = 127.0.0.1:${BP[good]}
instance = 127.0.0.1:${BP[bad]}
eject_after = 2
eject_base_ms = 1500

[upstream retry]
instance = 127.0.0.1:$DEAD
instance = 127.0.0.1:${BP[good]}
eject_after = 0

[upstream slow]
instance = 127.0.0.1:${BP[slow]}

[upstream iph]
balance = ip_hash
instance = 127.0.0.1:${BP[r1]}
instance = 127.0.0.1:${BP[r2]}
instance = 127.0.0.1:${BP[r3]}

[upstream hsh]
balance = hash
hash_on = header:X-User
instance = 127.0.0.1:${BP[r1]}
instance = 127.0.0.1:${BP[r2]}
instance = 127.0.0.1:${BP[r3]}

[upstream lc]
balance = least_conn
instance = 127.0.0.1:${BP[r1]}
instance = 127.0.0.1:${BP[r2]}

[upstream lt]
balance = least_time
instance = 127.0.0.1:${BP[good]}
instance = 127.0.0.1:${BP[lag]}

[route host-exact]
host = api.example.test
path_prefix = /
direct = 200 host-exact

[route host-suffix]
host = *.example.test
direct = 200 host-suffix

[route host-prefix]
host = shop.*
direct = 200 host-prefix

[route path-exact]
path = /exact
direct = 200 path-exact

[route path-regex]
path_regex = ${2:-/items/[0-9]+}
direct = 200 path-regex

[route method]
path = /m
method = POST,PUT
direct = 201 method

[route header]
path = /h
header = X-Env: canary
direct = 200 header

[route query]
path = /q
query = v=2
direct = 200 query

[route redirect]
path = /old
redirect = 301 /new

[route api]
path_prefix = /api/
upstream = rr
strip_prefix = /api
request_header_add = X-Gw: yes
response_header_set = X-Version: $1

[route rewrite]
path_prefix = /v1/
upstream = rr
rewrite_prefix = /internal/

[route wrr]
path_prefix = /wrr/
upstream = wrr

[route svc]
path_prefix = /svc/
upstream = svc
retries = 0

[route eject]
path_prefix = /eject/
upstream = eject

[route retry]
path_prefix = /retry/
upstream = retry
retries = 1

[route slow]
path_prefix = /slow
upstream = slow
request_timeout_ms = 400

[route only-test]
path = /stage
stage = test
direct = 200 stage-test

[route iph]
path_prefix = /iph/
upstream = iph

[route hsh]
path_prefix = /hsh/
upstream = hsh

[route lc]
path_prefix = /lc/
upstream = lc
strip_prefix = /lc

[route lt]
path_prefix = /lt/
upstream = lt

[route any]
path_prefix = /
direct = 200 any
EOF
}
write_ini 1

# ---- an invalid regex at start: file:line ----------------------------------
cp "$T/edgelb.ini" "$T/good.ini"
write_ini 1 '/items/[0-9+'
cp "$T/edgelb.ini" "$T/bad.ini"
cp "$T/good.ini" "$T/edgelb.ini"
line=$(grep -n '^path_regex' "$T/bad.ini" | cut -d: -f1)
rc=0
out=$("$EDGELBD" --check -c "$T/bad.ini" 2>&1) || rc=$?
expect "bad regex: --check fails" "1" "$((rc != 0))"
contains "bad regex: file:line named" "$T/bad.ini:$line: \[route path-regex\] path_regex: .*invalid regex" "$out"

"$EDGELBD" -f -c "$T/edgelb.ini" >"$T/edgelbd.log" 2>&1 &
LBD_PID=$!

C=(curl -sS --max-time 5)
H=http://127.0.0.1:$GW
for _ in $(seq 50); do
	out=$("${C[@]}" "$H/exact" 2>/dev/null || true)
	[ "$out" == "path-exact" ] && break
	sleep 0.2
done
if [ "$out" != "path-exact" ]; then
	cat "$T/edgelbd.log" >&2
	fail "edgelbd did not answer: '$out'"
	exit 1
fi

# ---- protocols ---------------------------------------------------------------
expect "HTTP/1.1" "200 1.1" \
	"$("${C[@]}" --http1.1 -o /dev/null -w '%{http_code} %{http_version}' "$H/api/x")"
expect "h2c by prior knowledge" "200 2" \
	"$("${C[@]}" --http2-prior-knowledge -o /dev/null -w '%{http_code} %{http_version}' "$H/api/x")"
for n in a b; do
	expect "TLS SNI $n.test: its certificate, ALPN h2" "200 2" \
		"$("${C[@]}" --cacert "$T/$n.crt" --resolve "$n.test:$GWS:127.0.0.1" \
			-o /dev/null -w '%{http_code} %{http_version}' "https://$n.test:$GWS/api/x")"
done
rc=0
"${C[@]}" --cacert "$T/b.crt" --resolve "a.test:$GWS:127.0.0.1" -o /dev/null \
	"https://a.test:$GWS/" 2>/dev/null || rc=$?
expect "TLS SNI a.test is not served b's certificate" "1" "$((rc != 0))"
expect "TLS HTTP/1.1" "200 1.1" \
	"$("${C[@]}" --http1.1 --cacert "$T/a.crt" --resolve "a.test:$GWS:127.0.0.1" \
		-o /dev/null -w '%{http_code} %{http_version}' "https://a.test:$GWS/api/x")"
expect "stage test serves its route" "stage-test" "$("${C[@]}" "http://127.0.0.1:$GWT/stage")"
expect "stage prod does not" "any" "$("${C[@]}" "$H/stage")"

# ---- matchers -----------------------------------------------------------------
expect "host exact" "host-exact" "$("${C[@]}" -H 'Host: api.example.test' "$H/exact")"
expect "host *.suffix" "host-suffix" "$("${C[@]}" -H 'Host: www.example.test:8080' "$H/exact")"
expect "host prefix.*" "host-prefix" "$("${C[@]}" -H 'Host: shop.example.org' "$H/")"
expect "host any" "any" "$("${C[@]}" -H 'Host: other.org' "$H/zzz")"
expect "path exact" "path-exact" "$("${C[@]}" "$H/exact")"
expect "path exact: not a prefix" "any" "$("${C[@]}" "$H/exact/more")"
expect "path regex" "path-regex" "$("${C[@]}" "$H/items/42")"
expect "path regex: whole path" "any" "$("${C[@]}" "$H/items/42x")"
expect "method POST" "method 201" "$("${C[@]}" -X POST -w ' %{http_code}' "$H/m")"
expect "method GET falls through" "any" "$("${C[@]}" "$H/m")"
expect "header" "header" "$("${C[@]}" -H 'X-Env: canary' "$H/h")"
expect "header: other value" "any" "$("${C[@]}" -H 'X-Env: stable' "$H/h")"
expect "query" "query" "$("${C[@]}" "$H/q?a=1&v=2")"
expect "query: other value" "any" "$("${C[@]}" "$H/q?v=3")"

# ---- rewrites, redirect, direct ------------------------------------------------
out=$("${C[@]}" -D "$T/hdr" "$H/api/users?id=7")
expect "strip_prefix" "/users?id=7" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["path"])' "$out")"
expect "request_header_add" "yes" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["headers"].get("x-gw"))' "$out")"
expect "X-Forwarded-For" "127.0.0.1" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["headers"].get("x-forwarded-for"))' "$out")"
contains "response_header_set" "X-Version: 1" "$(tr -d '\r' <"$T/hdr")"
out=$("${C[@]}" "$H/v1/a/b")
expect "rewrite_prefix" "/internal/a/b" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["path"])' "$out")"
expect "redirect" "301 /new" "$("${C[@]}" -o /dev/null -w '%{http_code} %header{location}' "$H/old")"
expect "direct status" "201" "$("${C[@]}" -X PUT -o /dev/null -w '%{http_code}' "$H/m")"

# ---- distribution ---------------------------------------------------------------
# count URL N: the backends that answered N sequential requests, "name:count"
count() {
	local i
	for ((i = 0; i < $2; i++)); do
		"${C[@]}" -o /dev/null -D - "$1" | tr -d '\r' | sed -n 's/^X-Backend: //p'
	done | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}'
}
expect "rr over 3" "r1:10 r2:10 r3:10 " "$(count "$H/api/x" 30)"
expect "wrr 1:2:3" "w1:10 w2:20 w3:30 " "$(count "$H/wrr/x" 60)"
# ip_hash: one client address, one instance
out=$(count "$H/iph/x" 12)
if [[ "$out" =~ ^r[123]:12\ $ ]]; then pass "ip_hash: one instance ($out)"; else fail "ip_hash: want one instance for 12 requests, got '$out'"; fi
# hash on a header: each user's requests on one instance; the users spread
hseen=""
hbad=0
for u in $(seq 1 20); do
	out=$(for i in 1 2 3; do
		"${C[@]}" -H "X-User: u$u" -o /dev/null -D - "$H/hsh/x" | tr -d '\r' | sed -n 's/^X-Backend: //p'
	done | sort -u)
	[ "$(wc -l <<<"$out")" = 1 ] || hbad=$((hbad + 1))
	hseen+="$out"$'\n'
done
expect "hash on X-User: each user on one instance" "0" "$hbad"
hn=$(sort -u <<<"$hseen" | grep -c .)
if ((hn >= 2)); then pass "hash on X-User: 20 users on $hn instances"; else fail "hash on X-User: 20 users on $hn instance(s)"; fi
# least_conn: while one request waits on an instance, the others go to
# the other one (round robin would alternate)
"${C[@]}" -o /dev/null -D "$T/lc.head" "$H/lc/slow?ms=2500" &
lcpid=$!
sleep 0.5
out=$(count "$H/lc/x" 4)
wait "$lcpid" || fail "least_conn: the slow request failed"
lcbusy=$(tr -d '\r' <"$T/lc.head" | sed -n 's/^X-Backend: //p')
if [[ "$out" =~ ^r[12]:4\ $ ]] && [[ "$out" != "$lcbusy:4 " ]]; then
	pass "least_conn: 4 requests beside a busy $lcbusy went to ${out%%:*}"
else
	fail "least_conn: busy '$lcbusy', the 4 others went to '$out'"
fi
# least_time: of an instance answering at once and one taking 80 ms, the
# quick one gets most requests
out=$(count "$H/lt/x" 20)
ltgood=$(grep -o 'good:[0-9]*' <<<"$out" | cut -d: -f2)
if (( ${ltgood:-0} >= 16 )); then pass "least_time: the quick instance got ${ltgood} of 20 ($out)"; else fail "least_time: want >= 16 of 20 on the quick instance, got '$out'"; fi

codes() { # URL N: the statuses of N requests, "code:count"
	local i
	for ((i = 0; i < $2; i++)); do
		"${C[@]}" -o /dev/null -w '%{http_code}\n' "$1"
	done | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}'
}

# ---- an upstream bound to an INI service: health --------------------------------
expect "service: both backends" "s1:5 s2:5 " "$(count "$H/svc/x" 10)"
kill "${BPID[s2]}"
wait "${BPID[s2]}" 2>/dev/null || true
for _ in $(seq 30); do
	out=$(count "$H/svc/x" 6)
	[ "$out" == "s1:6 " ] && break
	sleep 0.2
done
expect "service: s2 down leaves the rotation" "s1:6 " "$out"
expect "service: no failure while it is down" "200:10 " "$(codes "$H/svc/x" 10)"
start_backend s2
wait_port "${BP[s2]}" || fail "s2 did not restart"
for _ in $(seq 30); do
	out=$(count "$H/svc/x" 10)
	[ "$out" == "s1:5 s2:5 " ] && break
	sleep 0.2
done
expect "service: s2 back in the rotation" "s1:5 s2:5 " "$out"

# ---- passive ejection ------------------------------------------------------------
expect "ejection: bad answers 500 until ejected" "200:2 500:2 " "$(codes "$H/eject/x" 4)"
expect "ejection: then only the good one" "200:10 " "$(codes "$H/eject/x" 10)"
sleep 1.7
expect "ejection: back after eject_base_ms" "200:1 500:1 " "$(codes "$H/eject/x" 2)"

# ---- retries and timeouts ----------------------------------------------------------
expect "retry past a closed port" "200:10 " "$(codes "$H/retry/x" 10)"
# PUTs with a 40 KB body: those that met the closed port are sent again
# with the body (kept up to retry_body_max), which arrives whole
head -c 40000 /dev/urandom >"$T/put.bin"
want=$(sha256sum <"$T/put.bin" | cut -c1-64)
for i in 1 2 3 4 5 6; do
	"${C[@]}" -T "$T/put.bin" -w ' %{http_code}\n' "$H/retry/x" || true
done >"$T/puts.out"
expect "retry of a PUT with its body: 6 answers, body whole" "6" \
	"$(grep -cF "\"sha256\": \"$want\"} 200" "$T/puts.out" || true)"
out=$("${C[@]}" -w ' %{http_code}' "$H/slow?ms=2000")
expect "timeout: 504 with JSON" '{"error":"upstream timeout","route":"slow"} 504' "$(tr -d '\n' <<<"$out")"
expect "no timeout when fast" "200" "$("${C[@]}" -o /dev/null -w '%{http_code}' "$H/slow?ms=10")"

# ---- SIGHUP under load ---------------------------------------------------------------
h2load -n 3000 -c 4 -m 4 "$H/api/x" >"$T/h2load.out" 2>&1 &
L1=$!
PIDS+=($L1)
h2load --h1 -n 1500 -c 4 "$H/api/x" >"$T/h2load_h1.out" 2>&1 &
L2=$!
PIDS+=($L2)
sleep 0.3
for v in 2 3; do
	write_ini "$v"
	kill -HUP "$LBD_PID"
	sleep 0.3
done
rc=0
wait "$L1" || rc=$?
wait "$L2" || rc=$?
expect "h2load exit status" "0" "$rc"
for f in h2load h2load_h1; do
	contains "reload under load ($f): all succeeded" \
		"requests: [0-9]* total, [0-9]* started, [0-9]* done, [0-9]* succeeded, 0 failed, 0 errored, 0 timeout" \
		"$(cat "$T/$f.out")"
	contains "reload under load ($f): all 2xx" "status codes: [0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx" \
		"$(cat "$T/$f.out")"
done
grep -q 'requests: 3000 total' "$T/h2load.out" || fail "h2load did not run 3000 requests"
contains "reload: the changed route is live" "X-Version: 3" \
	"$("${C[@]}" -D - -o /dev/null "$H/api/x" | tr -d '\r')"
expect "reload: two reloads logged" "2" "$(grep -c 'gateway: reloaded' "$T/edgelbd.log")"

# ---- an invalid regex at reload: refused, old routes serve --------------------------
cp "$T/bad.ini" "$T/edgelb.ini"
kill -HUP "$LBD_PID"
for _ in $(seq 20); do
	grep -q 'invalid regex' "$T/edgelbd.log" && break
	sleep 0.1
done
contains "reload: bad regex named with file:line" \
	"$T/edgelb.ini:$line: \[route path-regex\] path_regex: .*invalid regex" "$(cat "$T/edgelbd.log")"
expect "reload refused: the old regex route serves" "path-regex" "$("${C[@]}" "$H/items/7")"
contains "reload refused: the old upstream route serves" "X-Version: 3" \
	"$("${C[@]}" -D - -o /dev/null "$H/api/x" | tr -d '\r')"

# ---- access log -------------------------------------------------------------------
sleep 0.5 # the log is flushed every 200 ms
out=$(python3 - "$T/access.log" <<'EOF'
import json, sys
need = {"time", "stage", "client", "method", "host", "path", "route",
        "upstream", "status", "bytes_in", "bytes_out", "duration_ms",
        "upstream_ms", "attempts", "error"}
n = 0
seen = {"timeout": False, "retry": False, "direct": False, "nr": False}
for line in open(sys.argv[1]):
    d = json.loads(line)
    missing = need - d.keys()
    if missing:
        print("missing", missing, line)
        sys.exit(1)
    n += 1
    if d["route"] == "slow" and d["status"] == 504 and d["error"] == "upstream timeout":
        seen["timeout"] = True
    if d["route"] == "retry" and d["attempts"] == 2 and d["status"] == 200:
        seen["retry"] = True
    if d["route"] == "path-exact" and d["status"] == 200 and d["bytes_out"] == 10:
        seen["direct"] = True
    if d["route"] == "api" and d["upstream"] == "rr" and d["path"] == "/api/users" \
            and d["upstream_ms"] is not None and d["duration_ms"] >= d["upstream_ms"]:
        seen["nr"] = True
print(n, " ".join(k for k, v in sorted(seen.items()) if v))
EOF
)
total=$(awk '{print $1}' <<<"$out")
contains "access log: valid JSON, every field" "direct nr retry timeout" "$out"
[ "${total:-0}" -ge 4600 ] && pass "access log: $total lines (h2load alone sent 4500)" ||
	fail "access log: only '$out' lines"
write_ini 3
mv "$T/access.log" "$T/access.log.1"
kill -HUP "$LBD_PID"
sleep 0.3
"${C[@]}" -o /dev/null "$H/exact"
sleep 0.5
expect "access log reopened after a move" "1" "$(grep -c '"path":"/exact"' "$T/access.log" || true)"

# ---- metrics and lbctl --------------------------------------------------------------
m=$("${C[@]}" "http://127.0.0.1:$MP/metrics")
contains "metrics: per route and class" 'edgelbd_gateway_requests_total{stage="prod",route="api",class="2xx"}' "$m"
contains "metrics: 5xx of the timeout" 'edgelbd_gateway_requests_total{stage="prod",route="slow",class="5xx"} 1' "$m"
contains "metrics: latency histogram" 'edgelbd_gateway_request_duration_seconds_bucket{stage="prod",route="api",le="0.005"}' "$m"
contains "metrics: route retries" 'edgelbd_gateway_retries_total{stage="prod",route="retry"} [1-9]' "$m"
contains "metrics: upstream requests" 'edgelbd_gateway_upstream_requests_total{upstream="wrr",class="2xx"} 60' "$m"
contains "metrics: ejections" 'edgelbd_gateway_upstream_ejections_total{upstream="eject"} [1-9]' "$m"
contains "metrics: connect errors" 'edgelbd_gateway_upstream_connect_errors_total{upstream="retry"} [1-9]' "$m"
contains "metrics: instances" 'edgelbd_gateway_upstream_instances{stage="prod",upstream="svc",state="up"} 2' "$m"
contains "metrics: listener series" 'edgelb_http_requests_total{service="gateway",proto="h2"}' "$m"
lo_promtool "$m"
out=$("$LBCTL" --socket "$T/ctl.sock" module show gateway)
contains "lbctl module show gateway" "requests  *[1-9][0-9]*" "$out"
contains "lbctl module show gateway: retries with a body" "retries_body  *[1-9][0-9]*" "$out"

# ---- SIGTERM: drain ---------------------------------------------------------------
"${C[@]}" -o "$T/drain.out" -w '%{http_code}' "$H/slow?ms=300" >"$T/drain.code" &
DR=$!
sleep 0.1
kill -TERM "$LBD_PID"
rc=0
wait "$DR" || rc=$?
expect "drain: the request in flight is answered" "0 200" "$rc $(cat "$T/drain.code")"
for _ in $(seq 30); do
	kill -0 "$LBD_PID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$LBD_PID" 2>/dev/null; then fail "drain: edgelbd still runs"; else pass "drain: edgelbd exited"; fi
LBD_PID=

lo_end "$T/edgelbd.log"
