#!/usr/bin/env bash
# Vendor channels inside edgelbd, on loopback: a real edgelbd (no
# dataplane) with [push] and a [push_vendor huawei] section pointing at the
# fake Huawei Push Kit of tests/fake_vendors/ (HTTPS with a certificate made
# here, its OAuth2 token endpoint on the same port). Checks:
#   - a device registered with a vendor token and offline: a message posted
#     through the business API reaches the fake (its log shows the device's
#     token and the payload), the message's status becomes "sent", and the
#     device still gets it on its channel when it connects (then
#     "acknowledged"),
#   - the fake calls a token invalid (80300007): the device's token is
#     removed (GET /push/v1/devices/ID shows no vendor), the entry stays
#     queued, and the next message makes no vendor request,
#   - the fake calls the access token expired (401 80200003): the channel
#     gets a new one and sends again; the message is "sent",
#   - a device naming a vendor without a section: counted, stays queued,
#   - the vendor metrics on edgelbd's metrics page,
#   - SIGHUP with a changed [push_vendor] section makes the channel again.
# Needs curl, openssl, python3 with python3-cryptography (exit 77 without).
set -euo pipefail

# shellcheck source=lo_lib.sh
source "$(dirname "$0")/lo_lib.sh"
FAKES=$HERE/../fake_vendors
CLIENT=$BUILD/tools/push-client/push-client

lo_need curl openssl python3
lo_need_py python3 cryptography python3-cryptography
lo_need_built "$EDGELBD" "$CLIENT"
lo_begin pushv
FAKE_PID=
lo_kill_at_exit FAKE_PID
PPORT=$(free_port)
APORT=$(free_port)
MPORT=$(free_port)
KEY=e2e-api-key-0123456789
CID=104857600
CSECRET='s3cr3t-e2e'

# ---- the fake Huawei Push Kit ------------------------------------------------
mkdir "$T/hw"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$T/tls.key" -out "$T/tls.crt" 2>/dev/null
python3 "$FAKES/fake_huawei.py" --dir "$T/hw" --cert "$T/tls.crt" \
	--key "$T/tls.key" --client-id "$CID" --client-secret "$CSECRET" \
	--app-id "$CID" >"$T/fake.log" 2>&1 &
# shellcheck disable=SC2034 # killed at exit (lo_lib.sh)
FAKE_PID=$!
for _ in $(seq 100); do
	[ -s "$T/hw/port" ] && break
	sleep 0.1
done
[ -s "$T/hw/port" ] || { cat "$T/fake.log" >&2; echo "FAIL: fake did not start" >&2; exit 1; }
HWPORT=$(cat "$T/hw/port")

cat >"$T/edgelb.ini" <<EOF2
[global]
ctl_socket = $T/ctl.sock
log_level = info

[dataplane]
socket = $T/dp.sock

[metrics]
listen = 127.0.0.1:$MPORT

[push]
listen = 127.0.0.1:$PPORT
api_listen = 127.0.0.1:$APORT
api_key = $KEY
db = $T/push.db
heartbeat = 5s
resend_timeout = 1s

[push_vendor huawei]
type = huawei
endpoint = https://127.0.0.1:$HWPORT
token_url = https://127.0.0.1:$HWPORT/oauth2/v3/token
client_id = $CID
client_secret = $CSECRET
ca_file = $T/tls.crt
request_timeout = 5s
EOF2

"$EDGELBD" -f -c "$T/edgelb.ini" >>"$T/edgelbd.log" 2>&1 &
LBD_PID=$!
for _ in $(seq 100); do
	curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$APORT/" && break
	sleep 0.1
done
curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$APORT/" ||
	{ cat "$T/edgelbd.log" >&2; echo "FAIL: edgelbd did not start" >&2; exit 1; }

A="http://127.0.0.1:$APORT/push/v1"
CURL=(curl -sS --max-time 10 -H "X-Api-Key: $KEY")
post() { # JSON: prints the message id (empty when not 202)
	local out code
	out=$("${CURL[@]}" -w '\n%{http_code}' -d "$1" "$A/messages")
	code=${out##*$'\n'}
	[ "$code" == 202 ] || { echo "post $1: $code ${out%$'\n'*}" >&2; return 0; }
	python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "${out%$'\n'*}"
}
status_of() { # ID DEVICE
	"${CURL[@]}" "$A/messages/$1" | python3 -c '
import json, sys
for d in json.load(sys.stdin)["devices"]:
    if d["device"] == sys.argv[1]:
        print(d["status"] + ("/" + d["reason"] if "reason" in d else ""))' "$2"
}
vendor_of() { # DEVICE: its vendor or "none"
	"${CURL[@]}" "$A/devices/$1" |
		python3 -c 'import json,sys; print(json.load(sys.stdin).get("vendor", "none"))'
}
set_vendor() { # DEVICE VENDOR TOKEN
	local code
	code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' \
		-d "{\"vendor\":\"$2\",\"token\":\"$3\"}" "$A/devices/$1/vendor")
	[[ "$code" == 2* ]] || fail "set vendor of $1: HTTP $code"
}
metric() { # NAME{LABELS}: its value on the metrics page (0 if absent)
	curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics" |
		awk -v n="$1" '$1 == n { v = $2 } END { print v == "" ? 0 : v }'
}
register() {
	local rc=0
	"$CLIENT" -s "127.0.0.1:$PPORT" -d "$1" -T 1 2>"$T/reg.err" >/dev/null || rc=$?
	[ "$rc" == 2 ] || fail "register $1: rc $rc: $(cat "$T/reg.err")"
}
# fake log: the field f of the last request of kind k whose token is tok
fake_last() { # KIND TOKEN FIELD
	python3 - "$T/hw/log.jsonl" "$@" <<'EOF3'
import json, sys
path, kind, tok, field = sys.argv[1:5]
last = ""
try:
    for line in open(path):
        e = json.loads(line)
        if e.get("kind") == kind and (tok == "-" or e.get("token") == tok):
            v = e
            for k in field.split("."):
                v = v.get(k, "") if isinstance(v, dict) else ""
            last = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
except FileNotFoundError:
    pass
print(last)
EOF3
}
fake_count() { # KIND [TOKEN]
	local n=0
	[ -f "$T/hw/log.jsonl" ] &&
		n=$(python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("kind") == sys.argv[2] and (len(sys.argv) < 4 or e.get("token") == sys.argv[3]):
        n += 1
print(n)' "$T/hw/log.jsonl" "$@")
	echo "$n"
}
wait_status() { # ID DEVICE WANT: up to 10 s
	local s=""
	for _ in $(seq 100); do
		s=$(status_of "$1" "$2")
		[ "$s" == "$3" ] && break
		sleep 0.1
	done
	echo "$s"
}

# ---- an offline device is woken through its vendor ---------------------------
TOK_OK=hw-token-AAAAAAAAAAAAAAAAAAAAAAAAAAAA
register dev-v
set_vendor dev-v huawei "$TOK_OK"
id=$(post '{"device":"dev-v","payload":{"title":"hello","n":1}}')
[ -n "$id" ] || fail "message to dev-v not accepted"
expect "status sent once the vendor took it" sent "$(wait_status "$id" dev-v sent)"
expect "one access token fetched" 1 "$(fake_count token)"
expect "the fake got the device's token" 1 "$(fake_count send "$TOK_OK")"
expect "the fake's answer" 80000000 "$(fake_last send "$TOK_OK" answer.code)"
# Huawei carries the payload as the data string
data=$(fake_last send "$TOK_OK" body |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["message"]["data"])')
expect "the fake got the payload" '{"n": 1, "title": "hello"}' \
	"$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), sort_keys=True))' "$data")"
# the device's own channel still delivers it, then it is acknowledged
"$CLIENT" -s "127.0.0.1:$PPORT" -d dev-v -n 1 -T 5 >"$T/got" 2>/dev/null || true
expect "the device still gets it on its channel" "$id" "$(awk '{print $1}' "$T/got")"
expect "then acknowledged" acknowledged "$(wait_status "$id" dev-v acknowledged)"

# ---- the fake's access token expires: renewed, sent again ------------------------
auth=$(fake_last send "$TOK_OK" headers.authorization)
expect "bearer token used" Bearer "${auth%% *}"
printf '{"expired_access_tokens": ["%s"]}\n' "${auth#Bearer }" >"$T/hw/ctl.json"
id2=$(post '{"device":"dev-v","payload":{"n":2}}')
expect "sent after the token refresh" sent "$(wait_status "$id2" dev-v sent)"
expect "a second access token fetched" 2 "$(fake_count token)"
expect "refused once as expired, then sent" "80200003 80000000" \
	"$(python3 -c '
import json, sys
codes = [e["answer"]["code"] for e in map(json.loads, open(sys.argv[1]))
         if e.get("kind") == "send"]
print(" ".join(codes[-2:]))' "$T/hw/log.jsonl")"
rm -f "$T/hw/ctl.json"

# ---- an unregistered token is removed ---------------------------------------------
TOK_BAD=hw-token-UNREGISTERED-BBBBBBBBBBBBBBBB
register dev-u
set_vendor dev-u huawei "$TOK_BAD"
printf '{"unregistered": ["%s"]}\n' "$TOK_BAD" >"$T/hw/ctl.json"
expect "token set" huawei "$(vendor_of dev-u)"
id3=$(post '{"device":"dev-u","payload":{"n":3}}')
for _ in $(seq 100); do
	[ "$(vendor_of dev-u)" == none ] && break
	sleep 0.1
done
expect "unregistered token removed" none "$(vendor_of dev-u)"
expect "the entry stays queued" queued "$(status_of "$id3" dev-u)"
n=$(fake_count send "$TOK_BAD")
post '{"device":"dev-u","payload":{"n":4}}' >/dev/null
sleep 1
expect "no vendor request once removed" "$n" "$(fake_count send "$TOK_BAD")"
expect "counted as vendor_invalid" 1 "$(metric edgelbd_push_vendor_invalid_total)"

# ---- the vendor is down (500): tried again later, then sent -------------------------
TOK_DOWN=hw-token-DOWN-CCCCCCCCCCCCCCCCCCCC
register dev-r
set_vendor dev-r huawei "$TOK_DOWN"
printf '{"down": ["%s"]}\n' "$TOK_DOWN" >"$T/hw/ctl.json"
id6=$(post '{"device":"dev-r","payload":{"n":6}}')
for _ in $(seq 50); do
	[ "$(fake_count send "$TOK_DOWN")" -ge 2 ] && break
	sleep 0.1
done
expect "tried again after a backoff" 2 "$(fake_count send "$TOK_DOWN")"
expect "still queued while the vendor is down" queued "$(status_of "$id6" dev-r)"
rm -f "$T/hw/ctl.json"
expect "sent once the vendor is back" sent "$(wait_status "$id6" dev-r sent)"
# every send after the first was a retry (how many depends on timing)
expect "retries counted" "$(($(fake_count send "$TOK_DOWN") - 1))" \
	"$(metric edgelbd_push_vendor_retries_total)"

# ---- a vendor without a section -------------------------------------------------------
register dev-x
set_vendor dev-x xiaomi tok-x
id5=$(post '{"device":"dev-x","payload":{"n":5}}')
sleep 0.5
expect "no channel: stays queued" queued "$(status_of "$id5" dev-x)"
expect "no channel: counted" 1 \
	"$(metric 'edgelbd_push_vendor_wakes_total{outcome="no_channel"}')"

# ---- metrics -------------------------------------------------------------------------
expect "vendor sends on the metrics page" 3 \
	"$(metric 'edgelbd_push_vendor_results_total{vendor="huawei",type="huawei",result="ok"}')"
expect "bad tokens on the metrics page" 1 \
	"$(metric 'edgelbd_push_vendor_results_total{vendor="huawei",type="huawei",result="bad_token"}')"
expect "token fetches on the metrics page" 2 \
	"$(metric 'edgelbd_push_vendor_token_fetches_total{vendor="huawei",type="huawei"}')"

# ---- SIGHUP with a changed section: the channel is made again -------------------------
sed -i 's/^request_timeout = 5s$/request_timeout = 6s/' "$T/edgelb.ini"
kill -HUP "$LBD_PID"
n=0
for _ in $(seq 50); do
	n=$(grep -c 'vendor channel huawei (huawei)' "$T/edgelbd.log" || true)
	[ "$n" -ge 2 ] && break
	sleep 0.1
done
expect "channel made again on SIGHUP" 2 "$n"
id7=$(post '{"device":"dev-v","payload":{"n":7}}')
expect "the new channel sends" sent "$(wait_status "$id7" dev-v sent)"
expect "the new channel got its own access token" 3 "$(fake_count token)"

if ! kill -0 "$LBD_PID" 2>/dev/null; then
	fail "edgelbd died"
	tail -20 "$T/edgelbd.log" >&2
fi
lo_end "$T/edgelbd.log"
