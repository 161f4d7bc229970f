#!/usr/bin/env bash
# Push cluster on loopback: one redis-server (Debian redis-server, AOF on,
# appendfsync always, its own directory) and two edgelbd push nodes (a and
# b, [push] store = redis) sharing it; tools/push-client as the device and
# curl as the business server. No L4 balancer: the device connects to
# node a, and after a is killed with kill -9 it connects to node b, as the
# balancer would send it. Checks:
#   - the device's presence names the node that holds it,
#   - a message accepted on b for the device held by a is delivered by a
#     at once (well before any resend or heartbeat could pump it); the
#     wakes are counted on both nodes,
#   - move: messages a sent but the device never acknowledged (device
#     stopped), then a killed with kill -9, then messages accepted on b
#     while the device is away: the device connects to b and gets exactly
#     those, in order; none of the acknowledged ones again, none twice
#     (push-client counts duplicates),
#   - redis-server killed: the API answers 503 (not 202), counted in
#     edgelbd_push_api_errors_total; redis started again on its AOF: the
#     node reconnects (backoff) and answers 202; what was acknowledged
#     before the kill is still acknowledged,
#   - figure: messages accepted per second by one node on Redis and the
#     Redis commands per accepted message (printed).
# Needs redis-server, redis-cli, curl and python3 (exit 77 without).
set -euo pipefail

# shellcheck source=lo_lib.sh
source "$(dirname "$0")/lo_lib.sh"
CLIENT=$BUILD/tools/push-client/push-client
TOOL=$HERE/push_tool.py
LOAD_N=${PUSH_CLUSTER_LOAD_N:-500}

lo_need redis-server redis-cli curl python3
lo_need_built "$EDGELBD" "$CLIENT"
lo_begin pushc
mkdir -p "$T/redis"
declare -A PID=()
lo_kill_at_exit PID
LO_KILL_SIGNAL=KILL
RPORT=$(free_port)
declare -A PPORT=([a]=$(free_port) [b]=$(free_port))
declare -A APORT=([a]=$(free_port) [b]=$(free_port))
declare -A MPORT=([a]=$(free_port) [b]=$(free_port))
KEY=e2e-api-key-0123456789
RCLI=(redis-cli -h 127.0.0.1 -p "$RPORT")

start_redis() {
	redis-server --bind 127.0.0.1 --port "$RPORT" --dir "$T/redis" \
		--appendonly yes --appendfsync always --save '' \
		>>"$T/redis.log" 2>&1 &
	PID[redis]=$!
	for _ in $(seq 100); do
		if [ "$("${RCLI[@]}" ping 2>/dev/null)" == PONG ]; then
			return 0
		fi
		sleep 0.05
	done
	cat "$T/redis.log" >&2
	fail "redis-server did not start"
	exit 1
}

write_conf() { # NODE
	cat >"$T/$1.ini" <<EOF
[global]
ctl_socket = $T/$1.ctl.sock
log_level = info

[dataplane]
socket = $T/$1.dp.sock

[metrics]
listen = 127.0.0.1:${MPORT[$1]}

[push]
listen = 127.0.0.1:${PPORT[$1]}
api_listen = 127.0.0.1:${APORT[$1]}
api_key = $KEY
bind_secret = e2e-bind-secret-0123456789
store = redis
redis = 127.0.0.1:$RPORT
node = $1
heartbeat = 5s
resend_timeout = 30s
EOF
}

start_node() { # NODE
	"$EDGELBD" -f -c "$T/$1.ini" >>"$T/$1.log" 2>&1 &
	PID[$1]=$!
	for _ in $(seq 100); do
		if curl -s -o /dev/null --max-time 1 \
			"http://127.0.0.1:${APORT[$1]}/"; then
			return 0
		fi
		sleep 0.1
	done
	cat "$T/$1.log" >&2
	fail "edgelbd node $1 did not start"
	exit 1
}

CURL=(curl -sS --max-time 10 -H "X-Api-Key: $KEY")
# post NODE JSON: prints the message id; the HTTP code goes to $T/code
post() {
	local out code
	out=$("${CURL[@]}" -w '\n%{http_code}' -d "$2" \
		"http://127.0.0.1:${APORT[$1]}/push/v1/messages") || out=$'\n000'
	code=${out##*$'\n'}
	echo "$code" >"$T/code"
	[ "$code" == 202 ] || { echo "post $2 on $1: $code ${out%$'\n'*}" >&2; return 0; }
	python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "${out%$'\n'*}"
}
status_of() { # NODE ID DEVICE
	"${CURL[@]}" "http://127.0.0.1:${APORT[$1]}/push/v1/messages/$2" |
		python3 -c '
import json, sys
for d in json.load(sys.stdin)["devices"]:
    if d["device"] == sys.argv[1]:
        print(d["status"])' "$3"
}
metric() { # NODE NAME
	curl -sS --max-time 5 "http://127.0.0.1:${MPORT[$1]}/metrics" |
		awk -v n="$2" '$1 == n { print $2 }'
}
# wait_lines FILE N SECONDS: until FILE has N lines (bounded); its count
wait_lines() {
	local i
	for i in $(seq $((${3} * 20))); do
		[ "$(grep -c . "$1" || true)" -ge "$2" ] && break
		sleep 0.05
	done
	grep -c . "$1" || true
}

# ---- configuration errors: clear, before anything starts ----------------------
# check_conf WANT_MESSAGE KEY=VALUE...: --check refuses the [push] section
check_conf() {
	local want=$1 rc=0
	shift
	{
		echo "[push]"
		echo "listen = 127.0.0.1:${PPORT[a]}"
		printf '%s\n' "$@"
	} >"$T/bad.ini"
	"$EDGELBD" --check -c "$T/bad.ini" >"$T/check.out" 2>&1 || rc=$?
	expect "config refused: $*" 1 "$rc"
	expect "config error says: $want" 1 "$(grep -c -- "$want" "$T/check.out" || true)"
}
check_conf "expected sqlite or redis" "store = mysql"
check_conf "expected HOST:PORT" "store = redis" "redis = localhost" "node = a"
check_conf "needs redis = HOST:PORT and node" "store = redis" "redis = 127.0.0.1:$RPORT"
check_conf "expected 1..63 of" "store = redis" "redis = 127.0.0.1:$RPORT" "node = a/b"

start_redis
write_conf a
write_conf b
# a node whose redis does not answer does not start, and says why
sed "s/^redis = .*/redis = 127.0.0.1:$(free_port)/" "$T/a.ini" >"$T/c.ini"
rc=0
timeout 10 "$EDGELBD" -f -c "$T/c.ini" >"$T/c.log" 2>&1 || rc=$?
expect "node with redis down at start refused" 1 "$([ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && echo 1)"
expect "and says why" 1 "$(grep -c 'redis 127.0.0.1:[0-9]*: Connection refused' "$T/c.log" || true)"
start_node a
start_node b
expect "node a on the redis store" 1 \
	"$(grep -c "store redis 127.0.0.1:$RPORT, node a" "$T/a.log" || true)"

# ---- a device on node a ---------------------------------------------------------
"$CLIENT" -s "127.0.0.1:${PPORT[a]}" -d dev-m --once >"$T/c1.out" 2>"$T/c1.err" &
PID[c1]=$!
for _ in $(seq 100); do
	grep -q registered "$T/c1.err" && break
	sleep 0.05
done
expect "device registered on a" 1 "$(grep -c registered "$T/c1.err" || true)"
expect "presence names node a" a "$("${RCLI[@]}" get push:node:dev-m)"

# ---- accepted on b, delivered by a at once ------------------------------------------
: >"$T/want1"
for i in 1 2 3 4; do
	post b "{\"device\":\"dev-m\",\"payload\":{\"n\":$i}}" >>"$T/want1"
done
n=$(wait_lines "$T/c1.out" 4 3)
# the fifth timed: from before its POST on b to its line from a
t0=$(date +%s%N)
post b '{"device":"dev-m","payload":{"n":5}}' >>"$T/want1"
tp=$(date +%s%N)
n=$(wait_lines "$T/c1.out" 5 3)
t1=$(date +%s%N)
expect "5 messages accepted on b" 5 "$(grep -c . "$T/want1")"
expect "messages accepted on b delivered on a within 3 s" 5 "$n"
expect "in order, as posted" "$(cat "$T/want1")" "$(awk '{print $1}' "$T/c1.out")"
expect "wakes published by b" 5 "$(metric b edgelbd_push_cluster_wakes_sent_total)"
expect "wakes received by a" 5 "$(metric a edgelbd_push_cluster_wakes_received_total)"
expect "a subscribed once" 1 "$(metric a edgelbd_push_cluster_subscribes_total)"
echo "figure: one message, POST on b (curl) to its arrival from a:" \
	"$(((t1 - t0) / 1000000)) ms (the POST and its answer alone:" \
	"$(((tp - t0) / 1000000)) ms)"
for _ in $(seq 40); do
	[ "$(status_of b "$(tail -1 "$T/want1")" dev-m)" == acknowledged ] && break
	sleep 0.05
done
expect "acknowledged on a, seen on b" acknowledged \
	"$(status_of b "$(tail -1 "$T/want1")" dev-m)"

# ---- the device moves: a killed, unacknowledged ones delivered by b ----------------
kill -STOP "${PID[c1]}"
: >"$T/want2"
for i in 6 7 8; do
	post b "{\"device\":\"dev-m\",\"payload\":{\"n\":$i}}" >>"$T/want2"
done
for _ in $(seq 40); do
	[ "$(status_of b "$(tail -1 "$T/want2")" dev-m)" == sent ] && break
	sleep 0.05
done
expect "sent by a, not acknowledged (device stopped)" sent \
	"$(status_of b "$(tail -1 "$T/want2")" dev-m)"
kill -9 "${PID[a]}" "${PID[c1]}"
wait "${PID[a]}" "${PID[c1]}" 2>/dev/null || true # "Killed" noise
unset 'PID[a]' 'PID[c1]'
for i in 9 10; do
	post b "{\"device\":\"dev-m\",\"payload\":{\"n\":$i}}" >>"$T/want2"
done
expect "accepted on b while a is down" 5 "$(grep -c . "$T/want2")"
rc=0
"$CLIENT" -s "127.0.0.1:${PPORT[b]}" -d dev-m -n 5 -T 10 \
	>"$T/c2.out" 2>"$T/c2.err" || rc=$?
expect "device on b got 5 messages" 0 "$rc"
expect "exactly the unacknowledged ones, in order" "$(cat "$T/want2")" \
	"$(awk '{print $1}' "$T/c2.out")"
expect "no duplicate on b" 1 "$(grep -c 'duplicates=0 ' "$T/c2.err" || true)"
expect "none twice over both nodes" "" \
	"$(cat "$T/c1.out" "$T/c2.out" | awk '{print $1}' | sort | uniq -d)"
expect "all 10 delivered" 10 "$(cat "$T/c1.out" "$T/c2.out" | grep -c .)"
for _ in $(seq 40); do
	[ -z "$("${RCLI[@]}" get push:node:dev-m)" ] && break
	sleep 0.05
done
expect "presence gone after the device left b" "" \
	"$("${RCLI[@]}" get push:node:dev-m)"
rc=0
"$CLIENT" -s "127.0.0.1:${PPORT[b]}" -d dev-m -T 2 >"$T/c3.out" 2>/dev/null || rc=$?
expect "nothing more for dev-m" "" "$(cat "$T/c3.out")"

# ---- redis down: 503, counted; back: 202 -------------------------------------------
errs0=$(metric b edgelbd_push_api_errors_total)
kill -9 "${PID[redis]}"
wait "${PID[redis]}" 2>/dev/null || true
post b '{"device":"dev-m","payload":"down"}' >/dev/null
expect "redis down: 503" 503 "$(cat "$T/code")"
post b '{"device":"dev-m","payload":"down2"}' >/dev/null
expect "redis down: 503 again" 503 "$(cat "$T/code")"
expect "503s counted" $((${errs0:-0} + 2)) "$(metric b edgelbd_push_api_errors_total)"
start_redis
code=
for _ in $(seq 100); do
	post b '{"device":"dev-m","payload":"back"}' >/dev/null
	code=$(cat "$T/code")
	[ "$code" == 202 ] && break
	sleep 0.1
done
expect "redis back: 202" 202 "$code"
for _ in $(seq 100); do
	[ "$(metric b edgelbd_push_cluster_subscribes_total)" == 2 ] && break
	sleep 0.1
done
expect "b subscribed again after redis came back" 2 \
	"$(metric b edgelbd_push_cluster_subscribes_total)"
expect "acknowledged before the redis kill, still acknowledged" acknowledged \
	"$(status_of b "$(head -1 "$T/want2")" dev-m)"

# ---- figure: accept rate on redis ------------------------------------------------
"$CLIENT" -s "127.0.0.1:${PPORT[b]}" -d dev-load -T 1 >/dev/null 2>&1 || true
# commands (those run by scripts included) and script calls (EVALSHA,
# EVAL: only ever sent by the nodes)
cmds() {
	"${RCLI[@]}" info commandstats | tr -d '\r' |
		awk -F'[=,:]' -v only="$1" \
			'/^cmdstat_/ && (only == "" || $1 ~ only) { s += $3 } END { print s + 0 }'
}
calls0=$(cmds "")
evals0=$(cmds '^cmdstat_eval')
t0=$(date +%s%N)
python3 "$TOOL" load "${APORT[b]}" "$KEY" dev-load "$LOAD_N" 4 "$T/load.ids" 60 \
	>"$T/load.out" 2>&1 || true
t1=$(date +%s%N)
calls1=$(cmds "")
evals1=$(cmds '^cmdstat_eval')
got=$(grep -c . "$T/load.ids" || true)
expect "load: every message accepted" "$LOAD_N" "$got"
ms=$(((t1 - t0) / 1000000))
echo "figure: $got messages accepted on one node in $ms ms" \
	"($((got * 1000 / (ms > 0 ? ms : 1))) per second, 4 HTTP clients)," \
	"$(((calls1 - calls0) / (got > 0 ? got : 1))) Redis commands per message" \
	"(counting those the scripts run), of them" \
	"$(((evals1 - evals0) / (got > 0 ? got : 1))) script calls"

# ---- node b stops on SIGTERM, cleanly (and without a sanitizer report) ------
rc=0
kill -TERM "${PID[b]}"
wait "${PID[b]}" || rc=$?
unset 'PID[b]'
expect "node b exits 0 on SIGTERM" 0 "$rc"
expect "no sanitizer report in the node logs" 0 \
	"$(cat "$T"/[abc].log | grep -c 'AddressSanitizer\|runtime error\|LeakSanitizer' || true)"

lo_end -n 20 "$T/b.log"
