#!/usr/bin/env bash
# The push service under load, on loopback (docs/push.md "Benchmark").
#
#   tests/bench/bench_push_deliver.sh [--build DIR] [--devices N]
#                                     [--nodes K] [--rounds N] [--duration S]
#
# 1. Delivery, cluster mode: one redis-server (AOF on, appendfsync
#    everysec) and K edgelbd push nodes sharing it (store = redis; all
#    pinned to CPU 1), N devices (100,000; 1,000 in smoke mode) spread
#    over them, one push_deliver_gen process per node (pinned to CPU 0),
#    each holding its node's share from 32 source addresses 127.3.0.x,
#    each device doing the real device protocol (HELLO, WELCOME, PING
#    every half heartbeat, an ACK for each MESSAGE). K is the fewest
#    nodes whose share fits one process's open-file limit (6 for 100,000
#    under a limit of 20,000; 2 in smoke mode). Once every device on every
#    node is registered, the first generator posts one message to every
#    device ({"all": true}) on node 1 and times, from writing the POST: the
#    202, the MESSAGEs received on every node, the last ACK written and the
#    moment the sum of the nodes' ACK counters counts every ACK; the CPU
#    time of every edgelbd over that span.
#    Then the same on one node with the SQLite store (as many devices as
#    one process may hold, at most N), for comparison.
# 2. Heartbeats: the cluster's connections, PINGs only (heartbeat 60 s:
#    each device pings every 30 s), for a window (30 s; 2 s in smoke
#    mode): the nodes' CPU per second and per PING answered.
#    The heartbeat is 60 s because the node that accepts a broadcast is
#    busy for the whole of it (two synchronous Redis calls per device, on
#    its loop): 100,000 devices kept it busy for 35 s in a run, and a
#    device whose PINGs go unread for two heartbeats is closed.
# 3. Accepted messages per second with durability on: a fresh edgelbd,
#    1,000 devices registered (by push_deliver_gen) and offline, wrk
#    POSTing messages to them in turn, each request a new message, over
#    HTTP/1.1 keep-alive (64 connections, pinned to CPU 0) for --duration
#    seconds (10; 2 in smoke). (Not all to one device: its queue would
#    grow through the run, and each enqueue counts the device's queue
#    for the max_queue bound.) Durable:
#    the SQLite file on this machine's disk (WAL, synchronous=FULL: the
#    202 goes out after the commit's fsync; the commits of one loop
#    iteration are one transaction, so concurrent POSTs share an fsync).
#    Baseline in the same run, alternating: the same edgelbd and load with
#    the file on tmpfs (/dev/shm), where fsync returns at once. Same code
#    and SQL: the difference is what waiting for the disk costs. --rounds
#    pairs (3; 1 in smoke).
#
# Limits: the script raises its open-file limit (ulimit -n, inherited by
# edgelbd and the generator; it ends with the script), or, where the hard
# limit cannot be raised (no CAP_SYS_RESOURCE), measures as many devices
# as it allows and records why ("capped"); it checks that the ephemeral
# ports of 32 source addresses suffice; it changes no sysctl. Prints one JSON object on stdout (read by run.sh/report.py),
# progress on stderr. Exit: 0 measured; 77 skipped (wrk, curl,
# python3 or taskset missing, a program not built, fewer than 2 CPUs); 1
# the rig failed: a device did not get the message exactly once, edgelbd
# did not count every ACK, or a POST under load was not answered 202 (in
# smoke mode as in a full run). Everything started is stopped.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${EDGELB_BUILD:-$root/build}
smoke=0
case "${EDGELB_BENCH_SMOKE:-0}" in "" | 0) ;; *) smoke=1 ;; esac
if [ "$smoke" = 1 ]; then
	devices=1000 rounds=1 dur=2 window=2 gen_timeout=30 nodes=2
else
	devices=100000 rounds=3 dur=10 window=30 gen_timeout=300 nodes=
fi
conns=64
targets=1000 # devices the accepted messages go to, in turn
sources=32
heartbeat=60

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--devices) devices=$2; shift 2 ;;
	--nodes) nodes=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--duration) dur=$2; shift 2 ;;
	-h | --help) sed -n '2,53p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench_push_deliver.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[[ "$devices" =~ ^[0-9]+$ ]] && [ "$devices" -ge 1 ] && [ "$devices" -le 1000000 ] ||
	{ echo "bench_push_deliver.sh: --devices 1..1000000" >&2; exit 2; }
[[ "$rounds" =~ ^[0-9]+$ ]] && [ "$rounds" -ge 1 ] && [ "$rounds" -le 10 ] ||
	{ echo "bench_push_deliver.sh: --rounds 1..10" >&2; exit 2; }
[[ "$dur" =~ ^[0-9]+$ ]] && [ "$dur" -ge 1 ] && [ "$dur" -le 60 ] ||
	{ echo "bench_push_deliver.sh: --duration 1..60 s" >&2; exit 2; }

say() { printf 'bench_push_deliver: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

EDGELBD=$build/controlplane/edgelbd
GEN=$build/tests/bench/push_deliver_gen
for tool in wrk curl python3 taskset redis-server redis-cli; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
for b in "$EDGELBD" "$GEN"; do
	[ -x "$b" ] || { echo "SKIP: $b not built"; exit 77; }
done
[ "$(nproc)" -ge 2 ] || { echo "SKIP: needs 2 CPUs (edgelbd on 1, the load on 0)"; exit 77; }

# Open files: a generator holds one per device of its node, an edgelbd
# one per connection; the limit is the script's own (and its children's).
# Above the hard limit only CAP_SYS_RESOURCE may raise it: the cluster
# takes as many nodes as it needs for every node's share to fit under it
# (less 1,000 for the processes' other files), and the one-node
# comparison as many devices as it allows ("capped", with the reason).
ulimit -n "$(ulimit -Hn)"
hard=$(ulimit -n)
[ "$hard" -gt 2000 ] || die "open-file hard limit $hard"
if [ "$hard" = unlimited ] || [ "$hard" -gt 1000000 ]; then hard=1000000; fi
per_max=$((hard - 1000))
[ -n "$nodes" ] || nodes=$(((devices + per_max - 1) / per_max))
[[ "$nodes" =~ ^[0-9]+$ ]] && [ "$nodes" -ge 1 ] && [ "$nodes" -le 32 ] ||
	die "--nodes 1..32"
[ "$devices" -ge "$nodes" ] || die "--devices below --nodes ($nodes)"
per_node=$(((devices + nodes - 1) / nodes))
[ "$per_node" -le "$per_max" ] ||
	die "$per_node devices per node above the open-file limit ($hard): more --nodes"
single=$devices
capped=
if [ "$single" -gt "$per_max" ]; then
	single=$per_max
	# why: what raising the hard limit by one answers
	if why=$(ulimit -Hn $((hard + 1)) 2>&1); then
		die "the hard open-file limit can be raised: run with it raised"
	fi
	capped="The open-file limit (RLIMIT_NOFILE) of one process is at most $hard here and cannot be raised (setrlimit: ${why##*: }; raising the hard limit needs CAP_SYS_RESOURCE): one edgelbd holds all its device connections, so one node took $single devices"
fi
read -r plo phi </proc/sys/net/ipv4/ip_local_port_range
per_src=$(((per_node + sources - 1) / sources))
[ "$per_src" -lt $((phi - plo)) ] ||
	die "$per_src connections per source address, $((phi - plo)) ephemeral ports"

T=$(mktemp -d /tmp/elb-bench-push.XXXXXX)
SHM=
LBD_PID=
LOAD_PID=
REDIS_PID=
NODE_PIDS=()
GEN_PIDS=()
cleanup() {
	local p
	for p in "$LOAD_PID" "$LBD_PID" "${GEN_PIDS[@]}" "${NODE_PIDS[@]}" "$REDIS_PID"; do
		if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi
	done
	for p in "$LOAD_PID" "$LBD_PID" "${GEN_PIDS[@]}" "${NODE_PIDS[@]}" "$REDIS_PID"; do
		if [ -n "$p" ]; then wait "$p" 2>/dev/null || true; fi
	done
	rm -rf "$T"
	if [ -n "$SHM" ]; then rm -rf "$SHM"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
KEY=bench-api-key-0123456789
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

# lbd_start DIR [NODE]: edgelbd on CPU 1 with its store in DIR (with
# NODE: cluster node NODE on the redis-server at RPORT); sets LBD_PID,
# PPORT, APORT, MPORT.
lbd_start() {
	local dir=$1 node=${2:-} store
	PPORT=$(free_port)
	APORT=$(free_port)
	MPORT=$(free_port)
	mkdir -p "$dir"
	if [ -n "$node" ]; then
		store="store = redis
redis = 127.0.0.1:$RPORT
node = $node"
	else
		store="db = $dir/push.db"
	fi
	cat >"$dir/edgelb.ini" <<-EOF
		[global]
		ctl_socket = $dir/ctl.sock
		log_level = warning

		[dataplane]
		socket = $dir/dp.sock

		[metrics]
		listen = 127.0.0.1:$MPORT

		[push]
		listen = 127.0.0.1:$PPORT
		api_listen = 127.0.0.1:$APORT
		api_key = $KEY
		$store
		heartbeat = ${heartbeat}s
		hello_timeout = 60s
		resend_timeout = 60s
		max_connections = $((devices + 1000))
		max_queue = 10000000
		api_max_connections = 1024
	EOF
	taskset -c 1 "$EDGELBD" -f -c "$dir/edgelb.ini" >"$dir/edgelbd.log" 2>&1 &
	LBD_PID=$!
	for _ in $(seq 100); do
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$APORT/" && return 0
		kill -0 "$LBD_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$dir/edgelbd.log" >&2
	die "edgelbd did not start"
}
lbd_stop() {
	if [ -n "$LBD_PID" ]; then
		kill "$LBD_PID" 2>/dev/null || true
		wait "$LBD_PID" 2>/dev/null || true
	fi
	LBD_PID=
}
metric() { # NAME: its value on edgelbd's metrics page (0 when absent)
	curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics" |
		awk -v n="$1" '$1 == n { v = $2 } END { print v == "" ? 0 : v }'
}

# ---- 1 and 2: delivery to every online device, then heartbeats ------------------
# 1a. the cluster: a redis-server, $nodes nodes, a generator per node
mkdir -p "$T/redis" "$T/sync"
RPORT=$(free_port)
taskset -c 1 redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$T/redis" \
	--appendonly yes --appendfsync everysec --save "" --daemonize no \
	--maxclients 1000 >"$T/redis/log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 100); do
	if redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG; then break; fi
	sleep 0.1
done
redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG || { cat "$T/redis/log" >&2; die "redis-server did not start"; }
mets=() pids=() pports=()
for k in $(seq "$nodes"); do
	lbd_start "$T/node$k" "n$k"
	NODE_PIDS+=("$LBD_PID")
	mets+=(--metrics "127.0.0.1:$MPORT")
	pids+=(--server-pid "$LBD_PID")
	pports+=("$PPORT")
	if [ "$k" = 1 ]; then API1=$APORT; fi
	LBD_PID=
done
say "cluster: $devices devices on $nodes nodes (at most $per_node each, one generator per node) and one redis-server; heartbeat ${heartbeat}s, window ${window}s"
first=0
for k in $(seq "$nodes"); do
	# the devices spread evenly: the first (devices % nodes) take one more
	n=$((devices / nodes + (k <= devices % nodes ? 1 : 0)))
	if [ "$k" = 1 ]; then
		role=(--api "127.0.0.1:$API1" "${mets[@]}" --key "$KEY"
			"${pids[@]}" --peers $((nodes - 1)) --total "$devices"
			--ping-window "$window")
	else
		role=(--follow)
	fi
	timeout 900 taskset -c 0 "$GEN" --server "127.0.0.1:${pports[k - 1]}" \
		--devices "$n" --first "$first" --sources "$sources" \
		--sync "$T/sync" --timeout "$gen_timeout" "${role[@]}" \
		--lat-out "$T/lat.$k" >"$T/gen.$k.json" 2>"$T/gen.$k.err" &
	GEN_PIDS+=($!)
	first=$((first + n))
done
rc=0
for k in $(seq "$nodes"); do
	wait "${GEN_PIDS[k - 1]}" || rc=$((rc ? rc : k))
	cat "$T/gen.$k.err" >&2
done
GEN_PIDS=()
cluster_metric() { # NAME: its sum over the nodes
	local sum=0 k v
	for k in $(seq "$nodes"); do
		MPORT=${mets[2 * k - 1]#127.0.0.1:}
		v=$(metric "$1")
		sum=$(python3 -c 'import sys; print(float(sys.argv[1]) + float(sys.argv[2]))' "$sum" "$v")
	done
	echo "$sum"
}
red=$(cluster_metric edgelbd_push_messages_redelivered_total)
tmo=$(cluster_metric edgelbd_push_heartbeat_timeouts_total)
wakes=$(cluster_metric edgelbd_push_cluster_wakes_received_total)
for p in "${NODE_PIDS[@]}" "$REDIS_PID"; do kill "$p" 2>/dev/null || true; done
for p in "${NODE_PIDS[@]}" "$REDIS_PID"; do wait "$p" 2>/dev/null || true; done
NODE_PIDS=() REDIS_PID=
if [ "$rc" != 0 ]; then
	for k in $(seq "$nodes"); do tail -3 "$T/node$k/edgelbd.log" >&2; done
	die "cluster delivery failed (generator $rc: $(tail -1 "$T/gen.$rc.json" 2>/dev/null || true))"
fi
cat "$T"/lat.* >"$T/lat.all"
deliver=$(python3 - "$T" "$nodes" "$devices" "$red" "$tmo" "$wakes" <<-'PY'
	import json, sys
	t, nodes, devices, red, tmo, wakes = sys.argv[1:7]
	nodes, devices = int(nodes), int(devices)
	gens = [json.loads(open(f"{t}/gen.{k}.json").read().strip().splitlines()[-1])
	        for k in range(1, nodes + 1)]
	lat = sorted(int(x) for x in open(f"{t}/lat.all") if x.strip())
	lead = gens[0]
	if len(lat) != devices or sum(g["delivered"] for g in gens) != devices:
	    sys.exit(f"{len(lat)} arrivals for {devices} devices")
	if any(not g["ok"] or g["duplicates"] or g["wrong_id"] for g in gens):
	    sys.exit("a generator failed")
	d = dict(lead)
	d.update({
	    "devices": devices, "nodes": nodes,
	    "per_node": [g["devices"] for g in gens],
	    "registered": sum(g["registered"] for g in gens),
	    "register_s": max(g["register_s"] for g in gens),
	    "delivered": sum(g["delivered"] for g in gens),
	    "duplicates": sum(g["duplicates"] for g in gens),
	    "first_ms": min(g["first_ms"] for g in gens),
	    "last_ms": max(g["last_ms"] for g in gens),
	    "last_ack_ms": max(g["last_ack_ms"] for g in gens),
	    "p50_ms": lat[len(lat) // 2], "p99_ms": lat[int((len(lat) - 1) * 0.99)],
	    "window_pings": sum(g["window_pings"] for g in gens),
	    "pings": sum(g["pings"] for g in gens),
	    "pongs": sum(g["pongs"] for g in gens),
	    "server_redelivered": float(red),
	    "server_heartbeat_timeouts": float(tmo),
	    "wakes_received": float(wakes),
	    "redis": "one redis-server, appendonly yes, appendfsync everysec",
	})
	print(json.dumps(d))
PY
) || die "cluster delivery: results inconsistent"
say "cluster delivery: $deliver"

# 1b. one node, SQLite: as many devices as one process may hold
rm -rf "$T/sync"
say "one node: $single devices from $sources source addresses"
lbd_start "$T/deliver"
rc=0
timeout 900 taskset -c 0 "$GEN" --server "127.0.0.1:$PPORT" \
	--api "127.0.0.1:$APORT" --metrics "127.0.0.1:$MPORT" --key "$KEY" \
	--devices "$single" --sources "$sources" --server-pid "$LBD_PID" \
	--timeout "$gen_timeout" >"$T/deliver.json" 2>"$T/deliver.err" &
LOAD_PID=$!
wait "$LOAD_PID" || rc=$?
LOAD_PID=
cat "$T/deliver.err" >&2
one=$(tail -1 "$T/deliver.json")
redelivered=$(metric edgelbd_push_messages_redelivered_total)
lbd_stop
if [ "$rc" != 0 ] || [ -z "$one" ]; then
	tail -5 "$T/deliver/edgelbd.log" >&2
	die "one-node delivery failed (push_deliver_gen exit $rc): ${one:-no result}"
fi
one=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["server_redelivered"]=float(sys.argv[2]); d["wanted"]=int(sys.argv[3]); d["capped"]=sys.argv[4] or None; print(json.dumps(d))' "$one" "$redelivered" "$devices" "$capped")
say "one node: $one"

# ---- 3: accepted messages per second, disk against tmpfs --------------------------
# each request a new message to the next of $targets devices
cat >"$T/post.lua" <<LUA
local i = 0
request = function()
	i = i + 1
	local body = string.format('{"device":"bd-%07d","ttl":3600,"payload":{"bench":"accept","n":%d}}', i % $targets, i)
	return wrk.format("POST", "/push/v1/messages",
		{["X-Api-Key"] = "$KEY", ["Content-Type"] = "application/json"}, body)
end
LUA
: >"$T/accept.jsonl"
SHM=$(mktemp -d /dev/shm/elb-bench-push.XXXXXX)
# accept_run STORE DIR ROUND: one wrk run against a fresh edgelbd
accept_run() {
	local store=$1 dir=$2 round=$3 log c0 c1 a0 a1 m0 m1 lrc=0
	rm -rf "$dir"
	lbd_start "$dir"
	# the target devices: registered, then offline
	"$GEN" --server "127.0.0.1:$PPORT" --api "127.0.0.1:$APORT" \
		--metrics "127.0.0.1:$MPORT" --key "$KEY" --devices "$targets" \
		--timeout 60 --register-only >"$T/register.json" 2>"$T/register.err" ||
		{ cat "$T/register.err" >&2; die "registering $targets devices failed"; }
	log=$T/wrk.$store.$round
	a0=$(metric edgelbd_push_messages_accepted_total)
	m0=$(metric edgelbd_push_commits_total)
	c0=$(cpu_ticks "$LBD_PID")
	timeout $((dur + 30)) taskset -c 0 wrk -t1 -c"$conns" -d"${dur}s" \
		--latency -s "$T/post.lua" "http://127.0.0.1:$APORT/" >"$log" 2>&1 &
	LOAD_PID=$!
	wait "$LOAD_PID" || lrc=$?
	LOAD_PID=
	c1=$(cpu_ticks "$LBD_PID")
	a1=$(metric edgelbd_push_messages_accepted_total)
	m1=$(metric edgelbd_push_commits_total)
	lbd_stop
	[ "$lrc" = 0 ] || { cat "$log" >&2; die "wrk failed ($lrc)"; }
	python3 - "$store" "$round" "$log" "$((c1 - c0))" "$CLK_TCK" \
		"$a0" "$a1" "$m0" "$m1" >>"$T/accept.jsonl" <<-'PY'
		import json, re, sys
		store, rnd, log, ticks, hz, a0, a1, m0, m1 = sys.argv[1:10]
		out = open(log).read()
		def lat(s):
		    m = re.match(r"([\d.]+)(us|ms|s)", s)
		    return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
		rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
		done = re.search(r"(\d+) requests in ", out)
		p50 = re.search(r"\s50%\s+(\S+)", out)
		p99 = re.search(r"\s99%\s+(\S+)", out)
		if not rps or not done or not p50 or not p99:
		    sys.exit("cannot read wrk's output:\n" + out)
		sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
		non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
		n = int(done.group(1))
		accepted = int(float(a1) - float(a0))
		commits = int(float(m1) - float(m0))
		print(json.dumps({
		    "store": store, "round": int(rnd), "rps": float(rps.group(1)),
		    "requests": n,
		    "socket_errors": sum(map(int, sock.groups())) if sock else 0,
		    "non2xx": int(non2xx.group(1)) if non2xx else 0,
		    "accepted": accepted, "commits": commits,
		    "per_commit": accepted / commits if commits else None,
		    "p50_ms": lat(p50.group(1)), "p99_ms": lat(p99.group(1)),
		    "cpu_us_per_msg": (int(ticks) / float(hz)) * 1e6 / accepted if accepted else None}))
	PY
	local last
	last=$(tail -1 "$T/accept.jsonl")
	say "accept: $last"
	# every request answered 2xx (only 202 is), each counted as accepted
	# by edgelbd
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["requests"] > 0 and not d["socket_errors"] and not d["non2xx"] and d["accepted"] >= d["requests"] else 1)' "$last" ||
		{ cat "$log" >&2; die "POSTs under load not all answered 202 ($store)"; }
}
for r in $(seq "$rounds"); do
	if [ $((r % 2)) = 1 ]; then
		accept_run disk "$T/accept-disk" "$r"
		accept_run tmpfs "$SHM/accept" "$r"
	else
		accept_run tmpfs "$SHM/accept" "$r"
		accept_run disk "$T/accept-disk" "$r"
	fi
done
fs_disk=$(df -T "$T" | awk 'NR == 2 { print $2 " on " $1 }')

python3 - "$deliver" "$T/accept.jsonl" "$conns" "$dur" "$rounds" "$fs_disk" \
	"$(wrk -v 2>&1 | head -1 | awk '{ print $1 " " $2 }')" "$targets" "$one" <<-'PY'
	import json, sys
	deliver, acc, conns, dur, rounds, fs, tool, targets, one = sys.argv[1:10]
	print(json.dumps({
	    "deliver": json.loads(deliver),
	    "single": json.loads(one),
	    "accept": {"runs": [json.loads(l) for l in open(acc) if l.strip()],
	               "conns": int(conns), "duration": int(dur),
	               "rounds": int(rounds), "disk": fs, "tool": tool,
	               "devices": int(targets)}}))
PY
