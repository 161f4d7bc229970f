#!/usr/bin/env bash
# edgelb's benchmarks: runs every figure and writes docs/BENCHMARKS.md.
#
#   tests/bench/run.sh [--build DIR] [--out FILE] [--only LIST [--splice]]
#
# Without --build it configures and builds build-bench/ (release) first.
# --only takes a comma list of:
#   own,baseline,modes,newconn,conn,maglev,ctrl,e2e,httpdns,http_route,
#   gateway,gw_lookup,gw_filters,gw_redis,push_deliver,push_idle,
#   synflood.
# --splice (with --only): the figures run replace their own sections of
# --out (tests/bench/splice.py), each marked with this run's command and
# commit; every other section stays as its run wrote it.
# EDGELB_BENCH_SMOKE=1 runs the smoke mode that CI runs (meson test
# --suite bench): tiny counts, about a second per measurement; it writes to
# --out (default: DIR/bench-smoke.md), never to docs/.
#
# The headline figure ("own") is the dataplane's own cycles per packet,
# measured in one process on a zero-copy ring port (bench_own), each run
# paired with the same harness around a do-nothing forwarder.
#
# The memif figures give the worker's busy cycles per packet and ratios
# against a baseline measured in the same invocation: dpdk-testpmd
# (macswap) on the same memif rig, with the same generator, the same
# lcores and the same frames; every run is paired with a baseline run
# taken just before it, and the report gives the minimum, median and
# maximum over the runs (and marks a figure inconclusive when its ratios
# spread by more than INCONCLUSIVE, max/min). The machine may be small and shared;
# every process is pinned with EAL -l to lcores 0 and 1: the dataplane's
# (or testpmd's) main lcore on 0, its one worker on 1, the generator on 0.
#
# DPDK memory: 2 MiB hugepages, as in production. Before the figures, the
# rig works out how many pages its largest figure needs at once (the -m of
# every DPDK process running together, plus a margin), mounts hugetlbfs on
# /dev/hugepages if needed and raises nr_hugepages until that many pages are
# free; it puts nr_hugepages back on exit. When the kernel cannot give them,
# or EDGELB_BENCH_NO_HUGE=1, the whole run uses 4 KiB pages (--no-huge) and
# the report says so. Smoke mode never reserves pages: it uses hugepages
# only when enough are already free (tools/setup.sh reserves 512).
#
# A figure that cannot be measured (the forwarding stage missing, a tool
# missing, the lab's namespaces in use) is reported as "not measured:
# REASON", never as a number; in smoke mode a figure that forwards
# nothing fails instead. The exit status is 1 when the rig itself fails
# (a program errors, the baseline returns nothing, a rewritten frame
# fails validation, in smoke mode nothing is forwarded), 0 otherwise.
# BENCH_GW_ARGS: extra arguments of bench_gateway.sh (figure "gateway"),
# e.g. "--rounds 3 --duration 5" for a shorter run; the report says the
# rounds and duration used. BENCH_GWF_ARGS, BENCH_GWR_ARGS: the same for
# bench_gw_filters.sh (figure "gw_filters"; its --callgrind pass runs in
# a full run only) and bench_gw_redis.sh (figure "gw_redis").
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/bench
smoke=0
case "${EDGELB_BENCH_SMOKE:-0}" in "" | 0) ;; *) smoke=1 ;; esac
build=""
out=""
only="own,baseline,modes,newconn,conn,maglev,ctrl,e2e,httpdns,http_route,gateway,gw_lookup,gw_filters,gw_redis,push_deliver,push_idle,synflood"
cmdline="tests/bench/run.sh $*"
splice=0

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--splice) splice=1; shift ;;
	-h | --help) sed -n '2,48p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

want() { [[ ",$only," == *",$1,"* ]]; }
say() { printf 'bench: %s\n' "$*" >&2; }

if [ -z "$build" ]; then
	build=$root/build-bench
	# -Wno-error=maybe-uninitialized: gcc -O3 reports false positives
	# that -O2 does not; BENCH_MESON_ARGS replaces it.
	margs=${BENCH_MESON_ARGS:--Dc_args=-Wno-error=maybe-uninitialized}
	if [ ! -f "$build/build.ninja" ]; then
		# shellcheck disable=SC2086
		meson setup "$build" "$root" --buildtype=release $margs >&2
	fi
	ninja -C "$build" -j 2 >&2
fi
build=$(cd "$build" && pwd)
if [ -z "$out" ]; then
	if [ "$smoke" = 1 ]; then out=$build/bench-smoke.md; else out=$root/docs/BENCHMARKS.md; fi
fi

DP=$build/dataplane/edgelb-dp
GEN=$build/tests/lab/edgelb-gen
LBCTL=$build/tools/lbctl/lbctl
EDGELBD=$build/controlplane/edgelbd
TESTPMD=${TESTPMD:-$(command -v dpdk-testpmd || true)}

if [ "$smoke" = 1 ]; then
	REPS=1 DUR=1 FLOWS_BIG=100000 SYN_FLOWS=100000 CONN_SIZES="65536" CTRL_SVCS=100 WRK_DUR=2
	CTRL_MEM=512 E2E_REPS=1
	OWN_ARGS="--smoke" OWN_FLOWS_MAX=20000
else
	REPS=5 DUR=5 FLOWS_BIG=1000000 SYN_FLOWS=4000000 CONN_SIZES="1000000 10000000" CTRL_SVCS=10000 WRK_DUR=10
	CTRL_MEM=1024 E2E_REPS=3
	OWN_ARGS="--flows 1000,1000000,10000000 --reps 5 --packets 2000000 --syn 1000000" OWN_FLOWS_MAX=10000000
fi
FLOWS_SMALL=1000
# SYN flood figure: spoofed SYNs per legitimate handshake, the connection
# table (per worker) the flood is aimed at, legitimate flows. The
# legitimate connections stay (nobody closes them): at 1/128 of a flood
# of up to 3M SYNs/s, a run's fit in the table, so that only the flood
# can fill it (it does at 60k SYNs/s in 5 s without the proxy).
SF_RATIO=127 SF_CONNS=262144 SF_FLOWS=1000000
# new connections/s through the proxy: a table the run cannot fill (the
# generator sends SF_NEWCONN_CONNS / 2 frames at most)
SF_NEWCONN_CONNS=400000
BACKENDS=10 # per service, on the memif rig
LADDRS=100  # FULL-NAT local addresses, on the memif rig
# A figure whose ratios to the baseline spread by more than this (max/min
# over its runs) is marked inconclusive: the machine's drift, not edgelb,
# decides where in that range one run lands.
INCONCLUSIVE=1.5

# DPDK memory (EAL -m, MB) of each process.
GEN_MEM=256 TP_MEM=512
dp_mem() { echo $(($1 * 300 / 1048576 + 512)); } # CONNS: edgelb-dp
# bench_own: a table of 1.125 x its largest flow count (connection table
# and the reverse-map hash fwd_init sizes alike), mbufs and services
own_mem() { echo $((OWN_FLOWS_MAX * 330 / 1048576 + 512)); }
conn_mem() { # bench_conn, for the largest of CONN_SIZES
	local n mem=256
	for n in $CONN_SIZES; do
		mem=$(((n * 300 / 1048576) + 256 > mem ? (n * 300 / 1048576) + 256 : mem))
	done
	echo "$mem"
}

work=$(mktemp -d /tmp/edgelb-bench.XXXXXX)
results=$work/results.jsonl
: >"$results"
pids=()
status=0

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	hp_restore
	if [ -n "${lab_started:-}" ]; then
		"$root/tests/lab/lab.sh" down >/dev/null 2>&1 || true
	fi
	if [ -n "${BENCH_KEEP:-}" ]; then
		say "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# record JSON: one result line (a figure's numbers or its reason).
record() { printf '%s\n' "$1" >>"$results"; }
# no_forwarding FIGURE KEY REASON: a figure that forwards nothing is not
# measured in a full run (the report says why), and a failure in smoke
# mode, whose purpose is to prove that the rig and the dataplane work.
no_forwarding() {
	if [ "$smoke" = 1 ]; then
		rig_failed "$1" "$2" "$3"
	else
		not_measured "$1" "$2" "$3"
	fi
}
not_measured() { # FIGURE KEY REASON
	say "$1 $2: not measured: $3"
	record "$(python3 -c 'import json,sys; print(json.dumps({"figure":sys.argv[1],"key":sys.argv[2],"status":"not measured","reason":sys.argv[3]}))' "$1" "$2" "$3")"
}
rig_failed() { # FIGURE KEY REASON
	say "$1 $2: FAILED: $3"
	status=1
	record "$(python3 -c 'import json,sys; print(json.dumps({"figure":sys.argv[1],"key":sys.argv[2],"status":"failed","reason":sys.argv[3]}))' "$1" "$2" "$3")"
}
measured() { # FIGURE KEY JSON
	record "$(python3 -c 'import json,sys; d=json.loads(sys.argv[3]); print(json.dumps({"figure":sys.argv[1],"key":sys.argv[2],"status":"measured","data":d}))' "$1" "$2" "$3")"
}
# jget JSON EXPR: a Python expression over d (the parsed JSON).
jget() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

memif=$work/memif.sock
# Set by hp_setup: --in-memory with hugepages (no files in hugetlbfs, no
# shared config), --no-huge otherwise (which --in-memory refuses).
EAL_COMMON=(--no-huge --no-pci --no-shconf --log-level=warning)

# ---- DPDK memory ---------------------------------------------------------

HP_SYS=/sys/kernel/mm/hugepages/hugepages-2048kB
HP_MNT=/dev/hugepages
HP_MARGIN=64 # pages (128 MiB) beyond the processes' -m
hugepages=0  # 1: this run's DPDK processes use 2 MiB hugepages
hp_old=""    # nr_hugepages before this run raised it
hp_set=""    # what this run set it to
hp_mounted=""

hp_nr() { cat "$HP_SYS/nr_hugepages" 2>/dev/null || echo 0; }
hp_free() { cat "$HP_SYS/free_hugepages" 2>/dev/null || echo 0; }
hp_pages() { echo $((($1 + 1) / 2)); } # MB: 2 MiB pages

# The most DPDK memory (MB) the figures this run takes use at once: each
# figure's processes run together (edgelb-dp or testpmd with the
# generator), the figures one after another.
hp_need_mb() {
	local need=0 m n
	at_least() { [ "$1" -gt "$need" ] && need=$1; return 0; }
	if want own; then at_least "$(own_mem)"; fi
	if want baseline && [ -n "$TESTPMD" ]; then at_least $((TP_MEM + GEN_MEM)); fi
	if want modes; then at_least $(($(dp_mem "$FLOWS_BIG") + GEN_MEM)); fi
	if want newconn; then at_least $(($(dp_mem "$SYN_FLOWS") + GEN_MEM)); fi
	if want synflood; then at_least $(($(dp_mem "$SF_NEWCONN_CONNS") + GEN_MEM)); fi
	if want conn; then
		at_least "$(conn_mem)"
		for n in $CONN_SIZES; do
			m=$(dp_mem "$n")
			at_least $((m + GEN_MEM))
		done
	fi
	# (dp_start leaves room for a generator, whether or not one runs)
	if want ctrl; then at_least $((CTRL_MEM + GEN_MEM)); fi
	echo "$need"
}

# hp_setup: choose the run's DPDK memory, set EAL_COMMON and record it.
hp_setup() {
	local need_mb need free nr got why=""
	need_mb=$(hp_need_mb)
	need=$(($(hp_pages "$need_mb") + HP_MARGIN))
	free=$(hp_free)
	nr=$(hp_nr)
	if [ "$need_mb" = 0 ]; then
		why="no figure in this run starts a DPDK process"
	elif [ -n "${EDGELB_BENCH_NO_HUGE:-}" ] && [ "$EDGELB_BENCH_NO_HUGE" != 0 ]; then
		why="EDGELB_BENCH_NO_HUGE is set"
	elif [ ! -e "$HP_SYS/nr_hugepages" ]; then
		why="the kernel has no 2 MiB hugepages ($HP_SYS missing)"
	elif [ "$free" -lt "$need" ] && [ "$smoke" = 1 ]; then
		why="$free 2 MiB hugepages free, the smoke run needs $need and does not reserve more"
	elif [ "$free" -lt "$need" ] && [ ! -w "$HP_SYS/nr_hugepages" ]; then
		why="$free 2 MiB hugepages free, $need needed, and nr_hugepages is not writable (run as root)"
	fi
	if [ -z "$why" ] && ! grep -qs " $HP_MNT hugetlbfs " /proc/mounts; then
		if mkdir -p "$HP_MNT" && mount -t hugetlbfs -o pagesize=2M nodev "$HP_MNT" 2>/dev/null; then
			hp_mounted=1
		else
			why="cannot mount hugetlbfs on $HP_MNT"
		fi
	fi
	if [ -z "$why" ] && [ "$free" -lt "$need" ]; then
		# Pages in use (by other processes, or files left in hugetlbfs)
		# are not free: raise by what is missing.
		[ "$nr" -gt "$free" ] &&
			say "hugepages: $((nr - free)) of $nr 2 MiB pages already in use (other processes or files in $HP_MNT)"
		hp_set=$((nr + need - free))
		hp_old=$nr
		echo "$hp_set" >"$HP_SYS/nr_hugepages" 2>/dev/null || true
		got=$(hp_nr)
		hp_set=$got
		free=$(hp_free)
		if [ "$free" -lt "$need" ]; then
			why="the kernel gave $free free 2 MiB hugepages of the $need needed (nr_hugepages $got)"
			hp_restore
		fi
	fi
	if [ -n "$why" ]; then
		say "DPDK memory: 4 KiB pages (--no-huge): $why"
		EAL_COMMON=(--no-huge --no-pci --no-shconf --log-level=warning)
		measured rig memory "$(python3 -c 'import json,sys; print(json.dumps({"hugepages": False, "reason": sys.argv[1]}))' "$why")"
		return
	fi
	hugepages=1
	nr=$(hp_nr)
	say "DPDK memory: 2 MiB hugepages: $free free of $nr, $need needed (${need_mb} MB of -m at once + $HP_MARGIN pages)"
	EAL_COMMON=(--in-memory --no-pci --log-level=warning)
	measured rig memory "{\"hugepages\": true, \"pages\": $nr, \"free\": $free, \"need_pages\": $need, \"need_mb\": $need_mb}"
}

# hp_restore: put nr_hugepages back. Only the pages this run added are
# taken away, so that another run raising it meanwhile keeps its own.
hp_restore() {
	local cur
	if [ -n "$hp_old" ]; then
		cur=$(hp_nr)
		cur=$((cur - (hp_set - hp_old)))
		[ "$cur" -lt 0 ] && cur=0
		echo "$cur" >"$HP_SYS/nr_hugepages" 2>/dev/null ||
			say "hugepages: could not set nr_hugepages back to $cur"
		hp_old=""
	fi
	if [ -n "$hp_mounted" ]; then
		umount "$HP_MNT" 2>/dev/null || true
		hp_mounted=""
	fi
}

# hp_room MB WHO: with hugepages, fail (saying so) unless MB of them are free.
hp_room() {
	local free need
	[ "$hugepages" = 1 ] || return 0
	free=$(hp_free)
	need=$(hp_pages "$1")
	[ "$free" -ge "$need" ] && return 0
	say "$2 needs $need free 2 MiB hugepages, $free are free"
	return 1
}

# ---- the processes -------------------------------------------------------

start_bg() { # LOG CMD...: start, remember the pid in $bg_pid
	"${@:2}" >"$1" 2>&1 &
	bg_pid=$!
	pids+=("$bg_pid")
}

# stop_bg PID: SIGINT (timeout passes it on), then SIGKILL to the process
# and to timeout after 60 s. edgelb-dp takes seconds to free millions of
# connections; killing only timeout would leave it running, holding its
# hugepages while the next figure starts.
stop_bg() {
	kill -INT "$1" 2>/dev/null || true
	for _ in $(seq 600); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		pkill -KILL -P "$1" 2>/dev/null || true
		kill -KILL "$1" 2>/dev/null || true
	fi
	{ wait "$1"; } 2>/dev/null || true
}

dp_pid=""
dp_start() { # [MEM_MB [MAX_CONNS]]: edgelb-dp with one memif server port
	local mem=${1:-512} conns=${2:-262144}
	rm -f "$memif" "$work/dp.sock"
	# with the generator's, which runs against it
	hp_room $((mem + GEN_MEM)) "edgelb-dp (-m $mem) with edgelb-gen (-m $GEN_MEM)" || return 1
	cat >"$work/dp.ini" <<-EOF
		[dataplane]
		socket = $work/dp.sock
		log_level = warning
		max_conns = $conns

		[port p0]
		devargs = net_memif0,role=server,socket=$memif,socket-abstract=no
		mac = 02:00:00:00:00:01
		address = 10.0.0.1/16
	EOF
	start_bg "$work/dp.log" timeout 900 "$DP" -l 0,1 "${EAL_COMMON[@]}" \
		-m "$mem" --file-prefix "bench-dp-$$" -- -c "$work/dp.ini"
	dp_pid=$bg_pid
	for _ in $(seq 100); do
		[ -S "$work/dp.sock" ] && return 0
		kill -0 "$dp_pid" 2>/dev/null || break
		sleep 0.1
	done
	say "edgelb-dp did not start: $(tail -3 "$work/dp.log" | tr '\n' ' ')"
	dp_stop
	return 1
}
dp_stop() { [ -n "$dp_pid" ] && stop_bg "$dp_pid"; dp_pid=""; }
ctl() { "$LBCTL" --socket "$work/dp.sock" "$@"; }

tp_pid=""
tp_start() { # testpmd, macswap, one port looped on itself
	rm -f "$memif"
	hp_room $((TP_MEM + GEN_MEM)) "dpdk-testpmd (-m $TP_MEM) with edgelb-gen (-m $GEN_MEM)" || return 1
	start_bg "$work/testpmd.log" timeout 900 "$TESTPMD" -l 0,1 \
		"${EAL_COMMON[@]}" -m "$TP_MEM" --file-prefix "bench-tp-$$" \
		--vdev="net_memif0,role=server,socket=$memif,socket-abstract=no" -- \
		--forward-mode=macswap --port-topology=loop --nb-cores=1 \
		--total-num-mbufs=16384 --auto-start --stats-period 1
	tp_pid=$bg_pid
	for _ in $(seq 100); do
		# started once it prints its first statistics
		grep -q 'statistics for port' "$work/testpmd.log" && return 0
		kill -0 "$tp_pid" 2>/dev/null || break
		sleep 0.1
	done
	say "dpdk-testpmd did not start: $(tail -3 "$work/testpmd.log" | tr '\n' ' ')"
	tp_stop
	return 1
}
tp_stop() { [ -n "$tp_pid" ] && stop_bg "$tp_pid"; tp_pid=""; }

# gen ARGS...: run the generator on lcore 0; its JSON on stdout.
gen() {
	timeout 120 "$GEN" -l 0 "${EAL_COMMON[@]}" -m "$GEN_MEM" \
		--file-prefix "bench-gen-$$" \
		--vdev="net_memif0,role=client,socket=$memif,socket-abstract=no" -- \
		--vip 10.0.0.100 --dmac 02:00:00:00:00:01 "$@" 2>>"$work/gen.err"
}

# stats EXPR: evaluate EXPR over the dataplane's STATS_GET parts: w is the
# worker lcore's counters, d its drops, t its conn-table counters.
stats() {
	{ ctl -j stats 2>/dev/null || true; } | python3 -c '
import json, sys
try:
    parts = json.load(sys.stdin)
except ValueError:
    parts = []
w = d = t = {}
for p in parts:
    k = p.get("stats_kind")
    if p.get("lcore") == 1:
        if k == "lcore": w = p["counters"]
        elif k == "drop": d = p["counters"]
        elif k == "conntab": t = p["counters"]
print(eval(sys.argv[1]))' "$1"
}

# Service VIP 10.0.0.100:80, $BACKENDS backends 10.0.1.1.. (MAC 02:bb:IP),
# FULL-NAT: $LADDRS local addresses 10.0.2.1..
program() { # PROTO MODE
	local proto=$1 mode=$2 b bport=8080
	case "$mode" in dr | tunnel) bport=80 ;; esac
	# the SYN proxy off: figures 1 and 2 are the plain paths (its
	# automatic mode would take over the SYN bursts of figure 2); the
	# synflood figure sets it itself
	if [ "$proto" = tcp ] && { [ "$mode" = nat ] || [ "$mode" = fnat ]; }; then
		ctl service add "$proto" 10.0.0.100:80 mode "$mode" sched mh synproxy off >/dev/null
	else
		ctl service add "$proto" 10.0.0.100:80 mode "$mode" sched mh >/dev/null
	fi
	for b in $(seq 1 "$BACKENDS"); do
		ctl neigh add "10.0.1.$b" lladdr "$(printf '02:bb:0a:00:01:%02x' "$b")" dev p0 >/dev/null
		ctl backend add "$proto" 10.0.0.100:80 "10.0.1.$b:$bport" >/dev/null
	done
	if [ "$mode" = fnat ]; then
		# ~64k local ports per address: LADDRS=100 covers the 4M
		# connections of the new-connections figure
		for b in $(seq 1 "$LADDRS"); do
			ctl laddr add "$proto" 10.0.0.100:80 "10.0.2.$b" >/dev/null
		done
	fi
}
gen_check() { # MODE: the generator's validation arguments
	case "$1" in
	dr | tunnel) echo "--mode $1 --backend-net 10.0.1.0/24" ;;
	nat) echo "--mode nat --backend-net 10.0.1.0/24 --bport 8080" ;;
	fnat) echo "--mode fnat --backend-net 10.0.1.0/24 --bport 8080 --laddr-net 10.0.2.0/24" ;;
	esac
}

# Why forwarding through the dataplane produced nothing valid, or "".
why_not_forwarding() { # GEN-JSON
	local fu valid
	fu=$(stats 'd.get("fwd_unimplemented", 0)')
	valid=$(jget "$1" 'd["valid"]')
	if [ "$fu" -gt 0 ]; then
		echo "the forwarding stage is not installed in edgelb-dp ($fu frames dropped as fwd_unimplemented)"
	elif [ "$valid" = 0 ]; then
		echo "no frame came back; dataplane drops: $(stats '{k: v for k, v in d.items() if v}')"
	fi
}
alive() { # PID: running (a zombie is not)
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ "$st" != Z* ]]
}
dp_alive() { # FIGURE KEY: fail the figure if edgelb-dp has died
	alive "$dp_pid" && return 0
	rig_failed "$1" "$2" "edgelb-dp died under this traffic: $(grep -v '^EAL\|^TELEMETRY\|mp action' "$work/dp.log" | tail -3 | tr '\n' ' ') (exit status of a crash; log in BENCH_KEEP=1's work directory)"
	dp_stop
	return 1
}
invalid_total() { jget "$1" 'sum(d["invalid"].values())'; }

# baseline_run FLOWS: one generator run against dpdk-testpmd (macswap) on
# a fresh testpmd; its JSON on stdout (one line). Fails when testpmd is
# missing or does not forward valid frames.
baseline_run() {
	local j
	[ -n "$TESTPMD" ] || return 1
	# testpmd's memif port does not survive its client leaving: a fresh
	# testpmd for every generator run.
	tp_start || return 1
	j=$(gen --mode macswap --flows "$1" --duration "$DUR" --count 1000000000) || { tp_stop; return 1; }
	tp_stop
	[ "$(jget "$j" 'd["valid"]')" != 0 ] && [ "$(invalid_total "$j")" = 0 ] || return 1
	python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])))' "$j"
}

# measure FIGURE KEY MODE FLOWS WARMUP_S MEM_MB MAX_CONNS: REPS times, a
# baseline run and right after it a run through a fresh edgelb-dp with
# the same flows (send every flow once so that the measurement sees
# established connections only, zero the counters, forward for DUR
# seconds; record the rate, the worker's busy and idle cycles and drops).
# The machine's speed drifts over minutes; a ratio taken from runs seconds
# apart is what stays comparable. Records every run (median_run).
measure() {
	local fig=$1 key=$2 mode=$3 f=$4 warm=$5 mem=$6 conns=$7 j b pkts cyc idle bursts drops hz r runs=$work/runs.jsonl
	: >"$runs"
	for r in $(seq "$REPS"); do
		b=$(baseline_run "$f") || b='{}'
		dp_start "$mem" "$conns" || { rig_failed "$fig" "$key" "edgelb-dp did not start"; return 0; }
		program udp "$mode"
		# shellcheck disable=SC2046 # word splitting wanted
		gen $(gen_check "$mode") --flows "$f" --count "$f" --duration "$warm" >/dev/null || {
			dp_alive "$fig" "$key" && rig_failed "$fig" "$key" "warm-up failed: $(tail -1 "$work/gen.err")"
			dp_stop
			return 0
		}
		ctl stats zero >/dev/null
		# shellcheck disable=SC2046 # word splitting wanted
		if ! j=$(gen $(gen_check "$mode") --flows "$f" --duration "$DUR" --count 1000000000); then
			rig_failed "$fig" "$key" "edgelb-gen failed (run $r)"
			dp_stop
			return 0
		fi
		dp_alive "$fig" "$key" || return 0
		if [ "$(jget "$j" 'd["valid"]')" = 0 ]; then
			no_forwarding "$fig" "$key" "no frame came back (run $r); dataplane drops: $(stats '{k: v for k, v in d.items() if v}')"
			dp_stop
			return 0
		fi
		pkts=$(stats 'w.get("rx_packets_total", 0)')
		cyc=$(stats 'w.get("busy_cycles_total", 0)')
		idle=$(stats 'w.get("idle_cycles_total", 0)')
		bursts=$(stats 'w.get("rx_bursts_total", 0)')
		drops=$(stats 'json.dumps({k: v for k, v in d.items() if v})')
		hz=$(stats 'w.get("tsc_hz", 0)')
		dp_stop
		if [ -z "$pkts" ] || [ -z "$cyc" ] || [ -z "$idle" ] || [ -z "$bursts" ] || [ -z "$drops" ] || [ -z "$hz" ]; then
			rig_failed "$fig" "$key" "edgelb-dp did not answer STATS_GET after run $r"
			return 0
		fi
		if [ "$(invalid_total "$j")" != 0 ]; then
			rig_failed "$fig" "$key" "rewritten frames failed validation: $(jget "$j" 'd["invalid"]')"
		fi
		python3 -c 'import json,sys; d=json.loads(sys.argv[1]); b=json.loads(sys.argv[5]); d["dp_rx_packets"]=int(sys.argv[2]); d["dp_busy_cycles"]=int(sys.argv[3]); d["dp_drops"]=json.loads(sys.argv[4]); d["baseline_pps"]=b["valid"]/b["send_seconds"] if b.get("send_seconds") else 0; d["dp_tsc_hz"]=int(sys.argv[6]); d["dp_idle_cycles"]=int(sys.argv[7]); d["dp_rx_bursts"]=int(sys.argv[8]); print(json.dumps(d))' "$j" "$pkts" "$cyc" "$drops" "$b" "$hz" "$idle" "$bursts" >>"$runs"
	done
	measured "$fig" "$key" "$(median_run "$runs")"
}

# median_run FILE: of the runs in FILE (one generator JSON a line), the
# one with the median ratio (the median rate when unpaired), with "runs"
# listing every run: Mpps, its baseline's Mpps and the ratio, busy cycles
# per packet and the worker's busy share of its cycles where the
# dataplane's counters were read. The report takes min, median and max
# of each over "runs"; the run carried along supplies counts (frames,
# invalid, drops) only.
median_run() {
	python3 - "$1" <<-'PY'
		import json, sys
		runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
		rate = lambda d: d["valid"] / d["send_seconds"] if d["send_seconds"] else 0
		# paired with a baseline run: the median ratio, else the median rate
		ratio = lambda d: rate(d) / d["baseline_pps"] if d.get("baseline_pps") else 0
		paired = all(x.get("baseline_pps") for x in runs)
		runs.sort(key=ratio if paired else rate)
		d = dict(runs[len(runs) // 2])
		d["ratio"] = ratio(d) if paired else None
		d["runs"] = [{"mpps": round(rate(x) / 1e6, 3),
		              **({"baseline_mpps": round(x["baseline_pps"] / 1e6, 3)}
		                 if x.get("baseline_pps") else {}),
		              **({"ratio": round(ratio(x), 4)} if x.get("baseline_pps") else {}),
		              **({"cycles": round(x["dp_busy_cycles"] / x["dp_rx_packets"])}
		                 if x.get("dp_rx_packets") else {}),
		              # the worker's busy cycles over the TSC cycles of the
		              # generator's send window: 1.0 when it never idled
		              **({"busy_share": round(x["dp_busy_cycles"] / (x["send_seconds"] * x["dp_tsc_hz"]), 3)}
		                 if x.get("dp_busy_cycles") and x.get("dp_tsc_hz") and x["send_seconds"] else {}),
		              **({"per_burst": round(x["dp_rx_packets"] / x["dp_rx_bursts"], 1)}
		                 if x.get("dp_rx_bursts") else {}),
		              "invalid": sum(x.get("invalid", {}).values()),
		              **({"drops": sum(x["dp_drops"].values())} if "dp_drops" in x else {}),
		              **({"syn_per_s": round(x["rx_syn"] / x["send_seconds"])}
		                 if x.get("syn") and x["send_seconds"] else {})} for x in runs]
		print(json.dumps(d))
	PY
}

# ---- figures -----------------------------------------------------------

# The headline: the dataplane's own cycles per packet per mode and flow
# count, and new connections per second, without a driver (bench_own:
# one process, a net_ring port, frames recycled; each run paired with a
# do-nothing forwarder in the same harness, which is subtracted). It
# validates sampled frames itself and exits 1 on a missing or invalid
# frame; its figures are recorded either way, the failure too.
fig_own() {
	local j mem rc=0
	mem=$(own_mem)
	if ! hp_room "$mem" "bench_own (-m $mem)"; then
		rig_failed own all "bench_own needs $(hp_pages "$mem") free 2 MiB hugepages, $(hp_free) are free"
		return
	fi
	# shellcheck disable=SC2086 # word splitting wanted
	j=$(timeout 3600 "$build/tests/bench/bench_own" -l 1 "${EAL_COMMON[@]}" \
		-m "$mem" --file-prefix "bench-own-$$" -- $OWN_ARGS 2>"$work/own.err") || rc=$?
	if python3 -c 'import json,sys; json.loads(sys.argv[1])' "$j" 2>/dev/null; then
		measured own all "$j"
	fi
	if [ "$rc" != 0 ]; then
		rig_failed own all "bench_own exited with status $rc: $(grep -v '^EAL\|^TELEMETRY' "$work/own.err" | tail -4 | tr '\n' ' ')"
	fi
}

fig_baseline() {
	local f j r
	if [ -z "$TESTPMD" ]; then
		not_measured baseline all "dpdk-testpmd not found (Debian package dpdk)"
		return
	fi
	for f in "$FLOWS_SMALL" "$FLOWS_BIG"; do
		: >"$work/runs.jsonl"
		for r in $(seq "$REPS"); do
			if ! baseline_run "$f" >>"$work/runs.jsonl"; then
				rig_failed baseline "$f" "dpdk-testpmd did not forward valid frames (run $r): $(tail -2 "$work/gen.err" | tr '\n' ' ')"
				continue 2
			fi
		done
		j=$(median_run "$work/runs.jsonl")
		measured baseline "$f" "$j"
		say "baseline $f flows: $(jget "$j" 'round(d["valid"] / d["send_seconds"] / 1e6, 3)') Mpps (runs: $(jget "$j" '" ".join(str(x["mpps"]) for x in d["runs"])'))"
	done
}

# Figure 1 (and the receive path without forwarding when it is missing).
fig_modes() {
	local mode f j why cyc pkts drops
	for mode in dr nat tunnel fnat; do
		# The table is sized for the larger flow count, so that every
		# flow is tracked (a full table would measure drops instead).
		dp_start "$(dp_mem "$FLOWS_BIG")" $((FLOWS_BIG + FLOWS_BIG / 8)) ||
			{ rig_failed modes "$mode" "edgelb-dp did not start"; continue; }
		program udp "$mode"
		# shellcheck disable=SC2046 # word splitting wanted
		j=$(gen $(gen_check "$mode") --flows "$FLOWS_SMALL" --count 10000 --duration 2) ||
			{ rig_failed modes "$mode" "edgelb-gen failed"; dp_stop; continue; }
		dp_alive modes "$mode" || continue
		why=$(why_not_forwarding "$j")
		if [ -n "$why" ]; then
			for f in "$FLOWS_SMALL" "$FLOWS_BIG"; do
				no_forwarding modes "$mode/$f" "$why"
			done
			if [ "$mode" = dr ]; then
				# What can be measured meanwhile: receive, parse,
				# classify and drop, through the same rig.
				ctl stats zero >/dev/null
				j=$(gen --mode count --flows "$FLOWS_SMALL" --duration "$DUR" --count 1000000000) || true
				pkts=$(stats 'w.get("rx_packets_total", 0)')
				cyc=$(stats 'w.get("busy_cycles_total", 0)')
				if [ -n "$j" ] && [ "$pkts" -gt 0 ]; then
					measured rx_classify dr "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["dp_rx_packets"]=int(sys.argv[2]); d["dp_busy_cycles"]=int(sys.argv[3]); print(json.dumps(d))' "$j" "$pkts" "$cyc")"
				fi
			fi
			dp_stop
			continue
		fi
		dp_stop
		for f in "$FLOWS_SMALL" "$FLOWS_BIG"; do
			measure modes "$mode/$f" "$mode" "$f" 60 "$(dp_mem "$FLOWS_BIG")" $((FLOWS_BIG + FLOWS_BIG / 8))
		done
	done
}

# Figure 2: fresh TCP handshakes per second through one worker.
fig_newconn() {
	local mode j why created r runs=$work/runs.jsonl
	for mode in dr nat tunnel fnat; do
		: >"$runs"
		why=""
		# every run on a fresh dataplane: the flows must be new
		for r in $(seq "$REPS"); do
			dp_start "$(dp_mem "$SYN_FLOWS")" $((SYN_FLOWS + SYN_FLOWS / 8)) ||
				{ rig_failed newconn "$mode" "edgelb-dp did not start"; continue 2; }
			program tcp "$mode"
			# shellcheck disable=SC2046 # word splitting wanted
			j=$(gen $(gen_check "$mode") --syn --flows "$SYN_FLOWS" --count $((2 * SYN_FLOWS)) --duration "$DUR") ||
				{ rig_failed newconn "$mode" "edgelb-gen failed"; dp_stop; continue 2; }
			dp_alive newconn "$mode" || continue 2
			why=$(why_not_forwarding "$j")
			[ -n "$why" ] && { dp_stop; break; }
			created=$(stats 't.get("created_total", 0)')
			if [ "$(invalid_total "$j")" != 0 ]; then
				rig_failed newconn "$mode" "rewritten frames failed validation: $(jget "$j" 'd["invalid"]')"
			fi
			python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["dp_conns_created"]=int(sys.argv[2]); print(json.dumps(d))' "$j" "${created:-0}" >>"$runs"
			dp_stop
		done
		if [ -n "$why" ]; then
			no_forwarding newconn "$mode" "$why"
		else
			measured newconn "$mode" "$(median_run "$runs")"
		fi
	done
}

# Figure "SYN flood": a spoofed SYN flood at the rig's full rate against
# the FULL-NAT service (SF_RATIO spoofed SYNs from 100.64.0.0/10 per
# legitimate handshake, a table of SF_CONNS connections) with the SYN
# proxy off and on; edgelb-gen plays the legitimate clients and the
# backends (--synflood) and counts the handshakes that complete at the
# backend. Then, with the proxy on: cycles per spoofed SYN (a flood
# without legitimate clients: the worker's busy cycles over the cookies
# it sent) and new connections per second (--synflood 0: handshakes only).
sf_program() { # SYNPROXY: the FULL-NAT service, legitimate clients' neighbours
	local c
	program tcp fnat
	ctl service set tcp 10.0.0.100:80 synproxy "$1" >/dev/null || return 1
	# the clients 10.0.3.1..: replies routed to them (any MAC: memif)
	for c in $(seq 1 $(((SF_FLOWS - 1) / 60000 + 1))); do
		ctl neigh add "10.0.3.$c" lladdr 02:cc:00:00:03:01 dev p0 >/dev/null || return 1
	done
}
sf_run() { # KEY SYNPROXY RATIO CONNS FILE: one run on a fresh dataplane, its JSON (dp_* added) appended to FILE
	local j dp count=100000000
	[ "$3" = 0 ] && count=$(($4 / 2))
	dp_start "$(dp_mem "$4")" "$4" || { rig_failed synflood "$1" "edgelb-dp did not start"; return 1; }
	sf_program "$2" || { rig_failed synflood "$1" "programming the service failed"; dp_stop; return 1; }
	j=$(gen --synflood "$3" --flows "$SF_FLOWS" --client 10.0.3.1 --backend-net 10.0.1.0/24 \
		--count "$count" --duration "$DUR") ||
		{ rig_failed synflood "$1" "edgelb-gen failed: $(tail -2 "$work/gen.err" | tr '\n' ' ')"; dp_stop; return 1; }
	dp_alive synflood "$1" || return 1
	dp=$(stats 'json.dumps({"busy_cycles": w.get("busy_cycles_total", 0), "rx_packets": w.get("rx_packets_total", 0), "tsc_hz": w.get("tsc_hz", 0), "cookies_sent": w.get("synproxy_cookies_sent_total", 0), "cookies_valid": w.get("synproxy_cookies_valid_total", 0), "backend_done": w.get("synproxy_backend_done_total", 0), "conns": t.get("conns", 0), "evicted_syn": t.get("evicted_syn_total", 0), "table_full": t.get("conn_table_full_total", 0), "drops": {k: v for k, v in d.items() if v}})')
	dp_stop
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["dp"]=json.loads(sys.argv[2]); print(json.dumps(d))' "$j" "$dp" >>"$5" ||
		{ rig_failed synflood "$1" "unreadable results: $j / $dp"; return 1; }
}
fig_synflood() {
	local key sp ratio conns r j runs=$work/synflood.jsonl
	for key in off on cookie_cycles newconn; do
		sp=on ratio=$SF_RATIO conns=$SF_CONNS
		case $key in
		off) sp=off ;;
		cookie_cycles) ratio=1000000 ;;
		newconn) ratio=0 conns=$SF_NEWCONN_CONNS ;;
		esac
		: >"$runs"
		for r in $(seq "$REPS"); do
			sf_run "$key" "$sp" "$ratio" "$conns" "$runs" || continue 2
		done
		j=$(python3 -c 'import json,sys; print(json.dumps({"synproxy": sys.argv[2], "ratio": int(sys.argv[3]), "conns": int(sys.argv[4]), "runs": [json.loads(l) for l in open(sys.argv[1]) if l.strip()]}))' \
			"$runs" "$sp" "$ratio" "$conns")
		if [ "$(jget "$j" 'sum(x["rx_ipv4"] for x in d["runs"])')" = 0 ]; then
			no_forwarding synflood "$key" "nothing came back from edgelb-dp: $(jget "$j" 'd["runs"][0]["dp"]["drops"]')"
		else
			measured synflood "$key" "$j"
		fi
	done
}

# Figure 3: memory per tracked connection (the dataplane's table), and
# the forwarding rate with that many connections.
fig_conn() {
	local j mem n
	mem=$(conn_mem)
	# shellcheck disable=SC2086
	if ! hp_room "$mem" "bench_conn (-m $mem)"; then
		rig_failed conn table "bench_conn needs $(hp_pages "$mem") free 2 MiB hugepages, $(hp_free) are free"
	elif j=$(timeout 600 "$build/tests/bench/bench_conn" -l 0 "${EAL_COMMON[@]}" -m "$mem" \
		--file-prefix "bench-conn-$$" -- $CONN_SIZES 2>"$work/conn.err"); then
		measured conn table "$j"
	else
		rig_failed conn table "bench_conn failed: $(tail -2 "$work/conn.err" | tr '\n' ' ')"
	fi
	# Mpps with the table holding n NAT connections: a table sized for
	# them ([dataplane] max_conns), a warm-up pass that sends every flow
	# once, then the measurement over the same n flows.
	for n in $CONN_SIZES; do
		measure conn_mpps "$n" nat "$n" 300 "$(dp_mem "$n")" $((n + n / 8))
	done
}

fig_maglev() {
	local j
	if j=$("$build/tests/bench/bench_maglev" 2>"$work/maglev.err"); then
		measured maglev all "$j"
	else
		rig_failed maglev all "bench_maglev failed: $(tail -2 "$work/maglev.err" | tr '\n' ' ')"
	fi
}

fig_ctrl() {
	local j
	dp_start "$CTRL_MEM" || { rig_failed ctrl dp "edgelb-dp did not start"; return; }
	if j=$("$build/tests/bench/bench_ctrl" --socket "$work/dp.sock" \
		--services "$CTRL_SVCS" --backends 10 2>"$work/ctrl.err"); then
		measured ctrl dp "$j"
	else
		rig_failed ctrl dp "bench_ctrl failed: $(tail -2 "$work/ctrl.err" | tr '\n' ' ')"
	fi
	dp_stop

	# The same through edgelbd: requests to ctl.sock, timed until the
	# dataplane's own dump lists every service and backend.
	dp_start "$CTRL_MEM" || { rig_failed ctrl edgelbd "edgelb-dp did not start"; return; }
	cat >"$work/lbd.ini" <<-EOF
		[global]
		ctl_socket = $work/ctl.sock
		log_level = warning

		[dataplane]
		socket = $work/dp.sock
	EOF
	rm -f "$work/ctl.sock"
	start_bg "$work/lbd.log" timeout 1800 "$EDGELBD" -f -c "$work/lbd.ini"
	lbd_pid=$bg_pid
	for _ in $(seq 100); do
		[ -S "$work/ctl.sock" ] && break
		sleep 0.1
	done
	if j=$("$build/tests/bench/bench_ctrl" --socket "$work/ctl.sock" \
		--dp "$work/dp.sock" --services "$CTRL_SVCS" --backends 10 \
		2>"$work/ctrl-lbd.err"); then
		measured ctrl edgelbd "$j"
	else
		rig_failed ctrl edgelbd "bench_ctrl through edgelbd failed: $(tail -2 "$work/ctrl-lbd.err" | tr '\n' ' ')"
	fi
	stop_bg "$lbd_pid"
	lbd_pid=""
	dp_stop
}

# Figure 6: HTTP through the namespace lab, edgelb against nftables DNAT.
# wrk_run: wrk from the client namespace to the VIP; one JSON line with
# requests/s, p99 and wrk's own error counts (socket errors by kind,
# non-2xx/3xx responses). Fails only when wrk fails or prints no rate.
wrk_run() {
	local o
	o=$(timeout $((WRK_DUR + 30)) ip netns exec elb-client wrk -t1 -c32 \
		-d"${WRK_DUR}s" --latency "http://198.18.0.10/" 2>&1) || return 1
	python3 - "$o" <<-'PY'
		import json, re, sys
		o = sys.argv[1]
		def lat(s):
		    m = re.match(r"([\d.]+)(us|ms|s)", s)
		    return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
		rps = re.search(r"Requests/sec:\s+([\d.]+)", o)
		p99 = re.search(r"\s99%\s+(\S+)", o)
		if not rps or not p99:
		    sys.exit(1)
		sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", o)
		non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", o)
		errors = dict(zip(("connect", "read", "write", "timeout"),
		                  map(int, sock.groups()))) if sock else {}
		print(json.dumps({"requests_per_s": float(rps.group(1)),
		                  "p99_ms": lat(p99.group(1)),
		                  "socket_errors": errors,
		                  "non_2xx": int(non2xx.group(1)) if non2xx else 0}))
	PY
}
# e2e_one LB: bring the lab up with LB (kernel/nat, dp/nat, dp/fnat), run
# wrk once, take it down. The JSON line on stdout; the reason on stderr.
e2e_one() {
	local lb=$1 mode=${1#*/} j rc=0
	lab_started=1
	if ! "$root/tests/lab/lab.sh" up "$mode" --lb "${lb%/*}" >"$work/lab.log" 2>&1; then
		echo "tests/lab/lab.sh up $mode --lb ${lb%/*} failed: $(tail -2 "$work/lab.log" | tr '\n' ' ')" >&2
		rc=1
	elif ! j=$(wrk_run); then
		echo "no HTTP response through the lab" >&2
		rc=2
	fi
	"$root/tests/lab/lab.sh" down >/dev/null 2>&1 || true
	lab_started=""
	[ "$rc" = 0 ] && echo "$j"
	return $rc
}
# E2E_REPS rounds, each nftables then edgelb NAT then edgelb FULL-NAT,
# so that every edgelb run is paired with an nftables run taken just
# before it. A run in which wrk counted errors or non-2xx responses is
# listed but is not a figure.
fig_e2e() {
	local lb r j why rc runs=$work/e2e.jsonl
	if [ "$(id -u)" != 0 ]; then
		not_measured e2e all "needs root (network namespaces)"
		return
	fi
	if ! command -v wrk >/dev/null; then
		not_measured e2e all "wrk not installed (Debian package wrk)"
		return
	fi
	if ip netns list 2>/dev/null | grep -q '^elb-'; then
		not_measured e2e all "the lab's namespaces (elb-*) are in use by another run"
		return
	fi
	export EDGELB_BUILD=$build EDGELB_LAB_DIR=$work/lab
	: >"$runs"
	for r in $(seq "$E2E_REPS"); do
		for lb in kernel/nat dp/nat dp/fnat; do
			rc=0
			j=$(e2e_one "$lb" 2>"$work/e2e.err") || rc=$?
			why=$(tail -1 "$work/e2e.err")
			case $rc in
			0) python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["lb"]=sys.argv[2]; d["round"]=int(sys.argv[3]); print(json.dumps(d))' "$j" "$lb" "$r" >>"$runs" ;;
			2)
				if [ "$lb" = kernel/nat ]; then
					not_measured e2e "$lb" "$why (round $r)"
				else
					no_forwarding e2e "$lb" "$why (round $r)"
				fi
				return
				;;
			*) not_measured e2e "$lb" "$why (round $r)"; return ;;
			esac
		done
	done
	measured e2e all "$(python3 -c 'import json,sys; print(json.dumps({"runs": [json.loads(l) for l in open(sys.argv[1]) if l.strip()]}))' "$runs")"
}

# HttpDNS queries/s against nginx serving the same bodies (its own script;
# it writes a markdown section that is appended to the report).
fig_httpdns() {
	local rc=0
	EDGELB_BENCH_OUT="$work/httpdns.md" "$here/bench_httpdns.sh" \
		--build "$build" >"$work/httpdns.log" 2>&1 || rc=$?
	case $rc in
	0) ;;
	77) not_measured httpdns all "$(tail -1 "$work/httpdns.log")" ;;
	*) rig_failed httpdns all "bench_httpdns.sh failed: $(tail -2 "$work/httpdns.log" | tr '\n' ' ')" ;;
	esac
}

# script_fig FIG CASE OUT SCRIPT ARGS...: a figure measured by its own
# script, which prints its runs as JSON on its last line of stdout (exit
# 77: not measured, the reason on its last line of stdout or stderr);
# stdout goes to $work/OUT.json, stderr to $work/OUT.log. Returns the
# script's status.
script_fig() {
	local fig=$1 case=$2 out=$work/$3 script=$4 rc=0 why
	shift 4
	"$here/$script" --build "$build" "$@" >"$out.json" 2>"$out.log" || rc=$?
	case $rc in
	0) measured "$fig" "$case" "$(tail -1 "$out.json")" ;;
	77)
		why=$(tail -1 "$out.json")
		not_measured "$fig" "$case" "${why:-$(tail -1 "$out.log")}"
		;;
	*) rig_failed "$fig" "$case" "$script $* failed: $(tail -2 "$out.log" | tr '\n' ' ')" ;;
	esac
	return $rc
}

# A trivial route on the HTTP stack against nginx, h2load over HTTP/1.1
# and h2c.
fig_http_route() {
	script_fig http_route all http_route bench_http_route.sh || true
}

# The API gateway against nginx proxy_pass and HAProxy through 1,000
# routes.
fig_gateway() {
	# shellcheck disable=SC2086 # word splitting wanted
	script_fig gateway all gateway bench_gateway.sh ${BENCH_GW_ARGS:-} || true
}

# The gateway's route lookup with 10,000 routes against 50.
fig_gw_lookup() {
	local j
	if j=$("$build/tests/bench/bench_gw_lookup" 2>"$work/gw_lookup.err"); then
		measured gw_lookup all "$j"
	else
		rig_failed gw_lookup all "bench_gw_lookup failed: $(tail -2 "$work/gw_lookup.err" | tr '\n' ' ')"
	fi
}

# The push service: one message to 100,000 online devices delivered and
# acknowledged, heartbeat CPU, accepted messages/s durable against tmpfs.
fig_push_deliver() {
	script_fig push_deliver all push_deliver bench_push_deliver.sh || true
}

# Idle device connections on the push service: held, user-space bytes
# each in edgelbd, kernel memory, CPU for heartbeats.
# BENCH_PUSH_IDLE_ARGS: its extra arguments, e.g. "--target 50000
# --heartbeat 10".
fig_push_idle() {
	# shellcheck disable=SC2086 # word splitting wanted
	script_fig push_idle all push_idle bench_push_idle.sh ${BENCH_PUSH_IDLE_ARGS:-} || true
}

# The gateway's filter chain (JWT + token bucket + cache miss) against
# no filter, and a cache hit against a miss; in a full run also its
# instructions per request under callgrind.
fig_gw_filters() {
	# shellcheck disable=SC2086 # word splitting wanted
	script_fig gw_filters all gw_filters bench_gw_filters.sh ${BENCH_GWF_ARGS:-} || return 0
	[ "$smoke" = 0 ] || return 0
	script_fig gw_filters callgrind gw_filters_cg bench_gw_filters.sh \
		--callgrind --duration 3 || true
}

# Rate limits in Redis: decisions/s, Redis round trips per request, the
# p99 Redis adds over the local limiter.
fig_gw_redis() {
	# shellcheck disable=SC2086 # word splitting wanted
	script_fig gw_redis all gw_redis bench_gw_redis.sh ${BENCH_GWR_ARGS:-} || true
}

say "build $build, work $work, smoke=$smoke"
# The commit measured, and whether the tree differed from it.
rig_commit=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
rig_dirty=$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | wc -l)
measured rig source "$(python3 -c 'import json,sys; print(json.dumps({"commit": sys.argv[1], "dirty_files": int(sys.argv[2])}))' "$rig_commit" "$rig_dirty")"
measured rig params "{\"backends\": $BACKENDS, \"laddrs\": $LADDRS, \"inconclusive\": $INCONCLUSIVE, \"e2e_reps\": $E2E_REPS, \"wrk_seconds\": $WRK_DUR}"
hp_setup
want own && fig_own
want baseline && fig_baseline
want modes && fig_modes
want newconn && fig_newconn
want conn && fig_conn
want maglev && fig_maglev
want ctrl && fig_ctrl
want e2e && fig_e2e
want httpdns && fig_httpdns
want http_route && fig_http_route
want gateway && fig_gateway
want gw_lookup && fig_gw_lookup
want gw_filters && fig_gw_filters
want gw_redis && fig_gw_redis
want push_deliver && fig_push_deliver
want push_idle && fig_push_idle
want synflood && fig_synflood

report=$out
[ "$splice" = 1 ] && report=$work/partial.md
python3 "$here/report.py" --results "$results" --out "$report" \
	--command "$cmdline" --smoke "$smoke" --duration "$DUR" --reps "$REPS"
if [ -s "$work/httpdns.md" ]; then
	printf '\n' >>"$report"
	cat "$work/httpdns.md" >>"$report"
fi
if [ "$splice" = 1 ]; then
	# each figure's section heading in report.py (and httpdns.md)
	declare -A heading=([own]="## Headline" [baseline]="## Baseline"
		[modes]="## 1." [newconn]="## 2." [conn]="## 3." [maglev]="## 4."
		[ctrl]="## 5." [e2e]="## 6." [http_route]="## 7."
		[gateway]="## 8." [gw_lookup]="## 9." [httpdns]="## HttpDNS"
		[gw_filters]="## Gateway filters" [gw_redis]="## Gateway rate limits with Redis"
		[push_deliver]="## Push delivery"
		[push_idle]="## Push: idle"
		[synflood]="## SYN flood")
	hargs=()
	IFS=, read -ra figs <<<"$only"
	for f in "${figs[@]}"; do
		[ -n "${heading[$f]:-}" ] || { say "--splice: unknown figure $f"; exit 2; }
		hargs+=(--heading "${heading[$f]}")
	done
	python3 "$here/splice.py" --partial "$report" --into "$out" "${hargs[@]}" \
		--note "This section was measured apart from the rest of this file: \`$cmdline\` at commit \`$(git -C "$root" rev-parse --short HEAD)\` on $(date -u '+%Y-%m-%d %H:%M UTC')." ||
		exit 1
fi
say "wrote $out"
exit $status
