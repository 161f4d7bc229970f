#!/usr/bin/env bash
# The gateway's filter chain in edgelbd, on loopback: a real edgelbd (no
# dataplane) with [filter] sections on its routes, in front of python3
# backends started here, driven by curl. Checks:
#   - a bad filter key is refused with file:line by --check,
#   - apikey (keys file of SHA-256 hashes): 401 without and with a wrong
#     key, 200 with a good one; the backend sees X-Consumer: alice and
#     not the client's forged X-Consumer,
#   - jwt (HS256): 200 with a valid token (consumer from sub), 401 for an
#     expired one, for alg "none" and for a wrong audience,
#   - ratelimit (5 per minute per consumer, after apikey): exactly 5 of 8
#     pass, the allowed answers carry the remaining quota, the refused
#     ones are 429 with Retry-After and RateLimit headers,
#   - breaker on a backend that starts failing: 3 failures pass through,
#     then 503 answered by the gateway in under 5 ms (curl time_total,
#     median of 9 on one connection) while the backend counts no
#     request; after recovery
#     and the open time a probe closes it,
#   - /metrics: each route's filters as edgelbd_gateway_filter_passed_total
#     and _answered_total by reason (the breaker's 9, the JWT refusals;
#     promtool check metrics when installed),
#   - transform (after apikey): the backend sees X-User set to the
#     consumer (the client's copy gone), X-Client-Addr with the client's
#     address, no X-Debug, the path rewritten by a regex with a capture,
#     the query's debug removed and via=ROUTE added; the client sees
#     Server replaced and X-Backend removed; a bad regex is refused by
#     --check with file:line; the transform's counters on /metrics,
#   - upstream thresholds: max_conns 1 + max_pending 1 on a backend that
#     takes 1.5 s: of 4 requests at once, 1 is sent, 1 waits for the
#     connection, 2 are answered 503 at once; max_requests 1: of 2, one
#     503; both counted on /metrics,
#   - SIGHUP with a filter whose key file is missing: refused, the old
#     table (and its limits) keeps serving; a good SIGHUP with a larger
#     rate starts the limits afresh.
# Needs: curl, python3. Exits 77 (skipped) when one is missing. Loopback
# only; no root.
set -euo pipefail

# shellcheck source=lo_lib.sh
source "$(dirname "$0")/lo_lib.sh"
lo_need curl python3
lo_need_built "$EDGELBD"
lo_begin gwfilt
GW=$(free_port)
BE=$(free_port)
CB=$(free_port)
MP=$(free_port) # /metrics

# ---- backends ----------------------------------------------------------------
# backend.py PORT COUNTFILE [DOWNFILE]: a JSON echo of the request headers;
# one line appended to COUNTFILE per request; 500 while DOWNFILE exists,
# after 0.3 s (a failing backend that is also slow: what a breaker saves).
cat >"$T/backend.py" <<'EOF'
import http.server, json, os, sys, time
port, count = int(sys.argv[1]), sys.argv[2]
down = sys.argv[3] if len(sys.argv) > 3 else None
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        with open(count, "a") as f:
            f.write(self.path + "\n")
        if "/slow/" in self.path:
            time.sleep(1.5)
        status = 500 if down and os.path.exists(down) else 200
        if status == 500:
            time.sleep(0.3)
        body = json.dumps({"path": self.path,
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Backend", "py")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
S(("127.0.0.1", port), H).serve_forever()
EOF
python3 "$T/backend.py" "$BE" "$T/be.count" &
PIDS+=($!)
python3 "$T/backend.py" "$CB" "$T/cb.count" "$T/cb.down" &
PIDS+=($!)
for p in $BE $CB; do
	wait_port "$p" || { fail "backend on $p did not start"; exit 1; }
done

# ---- keys ----------------------------------------------------------------------
printf '# consumer sha256:hash of the key\nalice sha256:%s\n' \
	"$(printf %s key-of-alice | sha256sum | cut -c1-64)" >"$T/api-keys"
printf %s 'e2e-jwt-secret-e2e-jwt-secret-0123' >"$T/jwt.key"
# token.py ALG EXP AUD: a JWT signed with jwt.key (HS256) or unsigned
cat >"$T/token.py" <<'EOF'
import base64, hmac, hashlib, json, sys
alg, exp, aud = sys.argv[1], int(sys.argv[2]), sys.argv[3]
key = open(sys.argv[4], "rb").read()
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
si = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + b"." + \
     b64(json.dumps({"sub": "bob", "aud": aud, "exp": exp}).encode())
sig = b64(hmac.new(key, si, hashlib.sha256).digest()) if alg == "HS256" else b""
print((si + b"." + sig).decode())
EOF
token() { python3 "$T/token.py" "$1" "$2" "$3" "$T/jwt.key"; }

# ---- configuration ----------------------------------------------------------------
write_ini() { # RATE KEYSFILE
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

[upstream be]
instance = 127.0.0.1:$BE

[upstream cb]
instance = 127.0.0.1:$CB
eject_after = 0

[upstream pend]
instance = 127.0.0.1:$BE
max_conns = 1
max_pending = 1

[upstream capped]
instance = 127.0.0.1:$BE
max_requests = 1

[route pend]
path_prefix = /pend/
upstream = pend
retries = 0

[route capped]
path_prefix = /capped/
upstream = capped
retries = 0

[filter keys]
type = apikey
keys_file = $2

[filter jwt]
type = jwt
key = k1 HS256 $T/jwt.key
audience = e2e

[filter per-consumer]
type = ratelimit
rate = $1
key = consumer
headers = both

[filter cb]
type = breaker
consecutive_failures = 3
failure_ratio = 0
open_ms = 1000

[filter tr]
type = transform
request_header_set = X-User: \${consumer}
request_header_add = X-Client-Addr: \${remote_addr}
request_header_remove = X-Debug
path_regex = ^/tr/users/([0-9]+)\$ /internal/users/\$1
query_remove = debug
query_add = via=\${route}
response_header_set = Server: edge-gw
response_header_remove = X-Backend

[route tr]
path_prefix = /tr/
upstream = be
filters = keys, tr

[route keys]
path_prefix = /keys/
upstream = be
filters = keys

[route jwt]
path_prefix = /jwt/
upstream = be
filters = jwt

[route limited]
path_prefix = /limited/
upstream = be
filters = keys, per-consumer

[route cb]
path_prefix = /cb/
upstream = cb
retries = 0
filters = cb
EOF
}

# ---- a bad key: file:line -------------------------------------------------------
write_ini 5/y "$T/api-keys"
line=$(grep -n '^rate = 5/y' "$T/edgelb.ini" | cut -d: -f1)
rc=0
out=$("$EDGELBD" --check -c "$T/edgelb.ini" 2>&1) || rc=$?
expect "bad rate: --check fails" "1" "$((rc != 0))"
contains "bad rate: file:line named" "$T/edgelb.ini:$line: \[filter per-consumer\] rate: .*LIMIT/PERIOD" "$out"

write_ini 5/m "$T/api-keys"
sed 's|^path_regex = .*|path_regex = ^/tr/(x /y|' "$T/edgelb.ini" >"$T/bad-tr.ini"
line=$(grep -n '^path_regex = ' "$T/bad-tr.ini" | cut -d: -f1)
rc=0
out=$("$EDGELBD" --check -c "$T/bad-tr.ini" 2>&1) || rc=$?
expect "bad transform regex: --check fails" "1" "$((rc != 0))"
contains "bad transform regex: file:line named" \
	"$T/bad-tr.ini:$line: \[filter tr\] path_regex: .*regex: missing closing parenthesis" "$out"

"$EDGELBD" -f -c "$T/edgelb.ini" >"$T/edgelbd.log" 2>&1 &
LBD_PID=$!
C=(curl -sS --max-time 5)
H=http://127.0.0.1:$GW
code=
for _ in $(seq 50); do
	code=$("${C[@]}" -o /dev/null -w '%{http_code}' "$H/keys/x" 2>/dev/null || true)
	[ "$code" == "401" ] && break
	sleep 0.2
done
if [ "$code" != "401" ]; then
	cat "$T/edgelbd.log" >&2
	fail "edgelbd did not answer: '$code'"
	exit 1
fi

# ---- apikey ----------------------------------------------------------------------
out=$("${C[@]}" -i "$H/keys/x")
contains "apikey: 401 without a key" "^HTTP/1.1 401" "$out"
contains "apikey: reason" '"reason":"no credentials"' "$out"
contains "apikey: WWW-Authenticate" "^WWW-Authenticate: ApiKey" "$out"
out=$("${C[@]}" -i -H 'X-API-Key: key-of-bob' "$H/keys/x")
contains "apikey: 401 for an unknown key" '"reason":"unknown key"' "$out"
out=$("${C[@]}" -i -H 'X-API-Key: key-of-alice' -H 'X-Consumer: admin' "$H/keys/x")
contains "apikey: 200 with a good key" "^HTTP/1.1 200" "$out"
contains "apikey: consumer forwarded" '"x-consumer": "alice"' "$out"
lacks "apikey: forged X-Consumer removed" 'admin' "$out"

# ---- jwt ---------------------------------------------------------------------------
now=$(date +%s)
out=$("${C[@]}" -i -H "Authorization: Bearer $(token HS256 $((now + 300)) e2e)" "$H/jwt/x")
contains "jwt: 200 with a valid token" "^HTTP/1.1 200" "$out"
contains "jwt: consumer from sub" '"x-consumer": "bob"' "$out"
out=$("${C[@]}" -i -H "Authorization: Bearer $(token HS256 $((now - 300)) e2e)" "$H/jwt/x")
contains "jwt: expired refused" '"reason":"token expired"' "$out"
out=$("${C[@]}" -i -H "Authorization: Bearer $(token none $((now + 300)) e2e)" "$H/jwt/x")
contains "jwt: alg none refused" '"reason":"algorithm not allowed for this key"' "$out"
out=$("${C[@]}" -i -H "Authorization: Bearer $(token HS256 $((now + 300)) other)" "$H/jwt/x")
contains "jwt: wrong audience refused" '"reason":"wrong audience"' "$out"

# ---- transform ------------------------------------------------------------------------
out=$("${C[@]}" -i -H 'X-API-Key: key-of-alice' -H 'X-User: admin' -H 'X-Debug: 1' \
	"$H/tr/users/42?debug=1&a=b")
contains "transform: 200" "^HTTP/1.1 200" "$out"
contains "transform: X-User set to the consumer" '"x-user": "alice"' "$out"
lacks "transform: client's X-User gone" '"x-user": "admin"' "$out"
contains "transform: client address" '"x-client-addr": "127.0.0.1"' "$out"
lacks "transform: X-Debug removed" '"x-debug"' "$out"
contains "transform: path by regex, query edited" '"path": "/internal/users/42?a=b&via=tr"' "$out"
contains "transform: response Server set" "^Server: edge-gw" "$out"
lacks "transform: response X-Backend removed" "^X-Backend" "$out"
out=$("${C[@]}" -i -H 'X-API-Key: key-of-alice' "$H/tr/other")
contains "transform: a path the regex does not match goes as it came" '"path": "/tr/other?via=tr"' "$out"
out=$("${C[@]}" -i -H 'X-API-Key: key-of-alice' "$H/keys/x")
contains "transform: other routes untouched" "^X-Backend: py" "$out"

# ---- ratelimit ------------------------------------------------------------------------
ok=0 limited=0
for i in $(seq 8); do
	out=$("${C[@]}" -i -H 'X-API-Key: key-of-alice' "$H/limited/$i")
	if grep -q '^HTTP/1.1 200' <<<"$out"; then
		ok=$((ok + 1))
		contains "ratelimit: allowed $ok carries the quota" "^X-RateLimit-Remaining: $((5 - ok))" "$out"
	elif grep -q '^HTTP/1.1 429' <<<"$out"; then
		limited=$((limited + 1))
		last429=$out
	else
		fail "ratelimit: unexpected answer: $out"
	fi
done
expect "ratelimit: 5 of 8 pass" "5 3" "$ok $limited"
contains "ratelimit: Retry-After" "^Retry-After: [0-9]" "${last429:-}"
contains "ratelimit: RateLimit-Policy" '^RateLimit-Policy: "per-consumer";q=5;w=60' "${last429:-}"
contains "ratelimit: RateLimit" '^RateLimit: "per-consumer";r=0;t=' "${last429:-}"
contains "ratelimit: reason" '"reason":"rate limited"' "${last429:-}"

# ---- breaker -----------------------------------------------------------------------------
touch "$T/cb.down"
codes=
for _ in 1 2 3; do
	codes+="$("${C[@]}" -o /dev/null -w '%{http_code}' "$H/cb/x") "
done
expect "breaker: failures pass through" "500 500 500 " "$codes"
before=$(wc -l <"$T/cb.count")
# 9 requests on one kept-alive connection: each one's time from sending
# to the last byte, without the TCP handshakes of a busy machine. The
# median must be under 5 ms (the failing backend takes 300 ms); on a
# saturated machine a round can be descheduled, so up to 3 rounds.
: >"$T/cb.all"
for round in 1 2 3; do
	urls=()
	for i in $(seq 9); do
		urls+=(-o "$T/cb.body" "$H/cb/$round$i")
	done
	"${C[@]}" -w '%{http_code} %{time_total} %{time_connect}\n' "${urls[@]}" \
		>"$T/cb.times"
	cat "$T/cb.times" >>"$T/cb.all"
	median=$(cut -d' ' -f2 "$T/cb.times" | sort -g | sed -n 5p)
	echo "breaker: fail-fast round $round: time_total median ${median}s, max $(cut -d' ' -f2 "$T/cb.times" | sort -g | tail -1)s (9 requests)"
	python3 -c "import sys; sys.exit(0 if $median < 0.005 else 1)" && break
done
expect "breaker: open, answered by the gateway" "yes" \
	"$(awk '{ n++; if ($1 != "503") bad++ }
		END { print (n >= 9 && !bad) ? "yes" : "no: " n " answers, " bad + 0 " not 503" }' "$T/cb.all")"
contains "breaker: reason" '"reason":"circuit open: cb"' "$(cat "$T/cb.body")"
expect "breaker: backend not touched while open" "$before" "$(wc -l <"$T/cb.count")"
expect "breaker: fail-fast under 5 ms" "1" \
	"$(python3 -c "print(int($median < 0.005))")"
rm -f "$T/cb.down"
sleep 1.2
codes=
for _ in 1 2 3; do
	codes+="$("${C[@]}" -o /dev/null -w '%{http_code}' "$H/cb/x") "
done
expect "breaker: closed after recovery" "200 200 200 " "$codes"

# ---- upstream thresholds: max_pending, max_requests ----------------------------------
# burst NAME N PATH: N requests to PATH/1..N at once (0.1 s apart); each
# one's "CODE TIME" in $T/NAMEi.out, its body in $T/NAMEi.body
burst() {
	local i pids=()
	for i in $(seq "$2"); do
		"${C[@]}" -o "$T/$1$i.body" -w '%{http_code} %{time_total}\n' "$H$3/$i" \
			>"$T/$1$i.out" 2>&1 &
		pids+=($!)
		sleep 0.1
	done
	wait "${pids[@]}" || true
}
burst pend 4 /pend/slow
codes=$(cut -d' ' -f1 "$T"/pend[1-4].out | sort | tr '\n' ' ')
expect "max_pending 1: 2 served, 2 refused" "200 200 503 503 " "$codes"
contains "max_pending: the reason" "max_pending" "$(cat "$T"/pend[1-4].body)"
# (no 503 at all: fast stays empty and the check below fails)
fast=$({ grep -h '^503' "$T"/pend[1-4].out || true; } | cut -d' ' -f2 | sort -g | tail -1)
echo "max_pending: slowest 503 after ${fast:-none}s (backend takes 1.5 s)"
expect "max_pending: refused at once (under 0.5 s)" "1" \
	"$(python3 -c "print(int(${fast:-9} < 0.5))")"
burst cap 2 /capped/slow
expect "max_requests 1: one served, one refused" "200 503 " \
	"$(cut -d' ' -f1 "$T"/cap[12].out | sort | tr '\n' ' ')"
contains "max_requests: the reason" "max_requests" "$(cat "$T"/cap[12].body)"

# ---- metrics: the filters' counters ------------------------------------------------
if m=$("${C[@]}" "http://127.0.0.1:$MP/metrics"); then
	L='stage="prod",route="cb",filter="cb",type="breaker"'
	contains "metrics: breaker answers by reason" \
		"edgelbd_gateway_filter_answered_total{$L,reason=\"breaker_open\"} $(wc -l <"$T/cb.all")\$" "$m"
	L='stage="prod",route="jwt",filter="jwt",type="jwt"'
	contains "metrics: jwt expired" \
		"edgelbd_gateway_filter_answered_total{$L,reason=\"expired\"} 1\$" "$m"
	contains "metrics: jwt wrong audience" \
		"edgelbd_gateway_filter_answered_total{$L,reason=\"wrong_audience\"} 1\$" "$m"
	contains "metrics: jwt passed" \
		"edgelbd_gateway_filter_passed_total{$L} [1-9]" "$m"
	contains "metrics: second filter of a chain" \
		'edgelbd_gateway_filter_answered_total{stage="prod",route="limited",filter="per-consumer",type="ratelimit",reason="rate_limited"} 3$' "$m"
	contains "metrics: pending overflow" \
		'edgelbd_gateway_upstream_pending_overflow_total{upstream="pend"} 2$' "$m"
	contains "metrics: max_requests refused" \
		'edgelbd_gateway_upstream_max_requests_total{upstream="capped"} 1$' "$m"
	L='stage="prod",filter="tr"'
	contains "metrics: transform requests" "edgelbd_gateway_transform_requests_total{$L} 2\$" "$m"
	contains "metrics: transform path rewrites" "edgelbd_gateway_transform_path_rewrites_total{$L} 1\$" "$m"
	contains "metrics: transform errors" "edgelbd_gateway_transform_errors_total{$L} 0\$" "$m"
	contains "metrics: transform HELP" "^# HELP edgelbd_gateway_transform_errors_total " "$m"
	lo_promtool "$m"
else
	fail "metrics: no answer on /metrics"
fi

# ---- reloads --------------------------------------------------------------------------------
write_ini 5/m "$T/no-such-keys"
kill -HUP "$LBD_PID"
sleep 1
contains "reload: missing keys file refused" "no-such-keys" "$(cat "$T/edgelbd.log")"
expect "reload: old limits kept" "429" \
	"$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'X-API-Key: key-of-alice' "$H/limited/x")"
write_ini 100/m "$T/api-keys"
kill -HUP "$LBD_PID"
code=
for _ in $(seq 25); do
	code=$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'X-API-Key: key-of-alice' "$H/limited/x")
	[ "$code" == "200" ] && break
	sleep 0.2
done
expect "reload: new rate, limits afresh" "200" "$code"

kill "$LBD_PID"
wait "$LBD_PID" 2>/dev/null || true
LBD_PID=
lo_end -n 20 "$T/edgelbd.log"
