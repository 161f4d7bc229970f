#!/usr/bin/env bash
# Idle device connections on the push service (docs/push.md, "Benchmark"):
#
#   tests/bench/bench_push_idle.sh [--build DIR] [--target N] [--heartbeat S]
#                                  [--window S] [--ramp-max S] [--procs K]
#                                  [--mem-margin MIB]
#
# K edgelbd processes with [push] on loopback (each its own port and
# SQLite store), one tests/bench/push_idle_gen per edgelbd: one process
# may hold only what its open-file limit allows (RLIMIT_NOFILE; without
# CAP_SYS_RESOURCE its hard limit cannot be raised), so --target device
# connections (default 1,000,000) are spread over K = the fewest
# processes whose share fits that limit (--procs K to choose; 2 in smoke
# mode). Each generator opens its share from its own 127.x source
# addresses, each connection doing the real HELLO/WELCOME and BIND/BOUND
# handshake, then idling with a PING every heartbeat (--heartbeat,
# default 30 s). The pairs are started one after the other, each once the
# one before holds its connections, and only while the machine keeps
# --mem-margin MiB (default 4096) of MemAvailable after what the next
# pair needs (about 16 KiB a connection, both sockets and both
# processes) and --ramp-max seconds have not passed; what stopped the
# ramp is reported as the limit. Then it measures, over every edgelbd:
#   * the connections held (the sum of the edgelbds' devices_online and of
#     the generators' bound connections, the smaller of the two, at the
#     end of the window),
#   * user-space bytes per idle connection: the growth of the edgelbds'
#     VmRSS (and of their private memory, smaps_rollup) from before the
#     first connection, summed, divided by the connections held; the
#     same from halfway (half the pairs) to the end (marginal). Socket
#     buffers and socket structs are kernel memory and not in RSS;
#   * kernel memory, apart: TCP socket buffer pages (/proc/net/sockstat)
#     and the growth of the kernel's slab (both ends of every connection:
#     the generator's sockets are on this machine too),
#   * the edgelbds' CPU seconds per second over --window seconds (default
#     two heartbeats) while every device pings once a heartbeat, and per
#     PING.
# It raises, for the run only, what the target needs and puts back what
# it changed on exit: the open-file limit (ulimit -n; fs.nr_open),
# fs.file-max, net.ipv4.ip_local_port_range, net.core.somaxconn and, when
# conntrack is loaded, net.netfilter.nf_conntrack_max (those need root:
# without it, exit 77 unless the target fits the current limits).
# Every wait is bounded; the generator stops by itself.
#
# Prints one JSON object on stdout (last line), progress on stderr.
# EDGELB_BENCH_SMOKE=1: 300 connections on 2 edgelbds, heartbeat 1 s, a
# 3-second window; it fails unless every one of them is held. Exit 0
# measured, 77 skipped, 1 failed. Every process started is stopped.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
smoke=0
case "${EDGELB_BENCH_SMOKE:-0}" in "" | 0) ;; *) smoke=1 ;; esac
build=$root/build
if [ "$smoke" = 1 ]; then
	target=300 hb=1 window=3 ramp_max=60 procs=2 margin=1024
else
	target=1000000 hb=30 window="" ramp_max=1200 procs="" margin=4096
fi
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--target) target=$2; shift 2 ;;
	--heartbeat) hb=$2; shift 2 ;;
	--window) window=$2; shift 2 ;;
	--ramp-max) ramp_max=$2; shift 2 ;;
	--procs) procs=$2; shift 2 ;;
	--mem-margin) margin=$2; shift 2 ;;
	-h | --help) sed -n '2,50p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench_push_idle.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ -n "$window" ] || window=$((2 * hb))
for v in "$target:1:4000000" "$hb:1:3600" "$window:1:3600" "$ramp_max:1:7200" \
	"${procs:-1}:1:256" "$margin:0:1048576"; do
	IFS=: read -r x lo hi <<<"$v"
	if ! [[ "$x" =~ ^[0-9]+$ ]] || [ "$x" -lt "$lo" ] || [ "$x" -gt "$hi" ]; then
		echo "bench_push_idle.sh: '$x' is not in $lo..$hi" >&2
		exit 2
	fi
done

say() { printf 'push_idle: %s\n' "$*" >&2; }
skip() { say "SKIP: $*"; echo "{\"skipped\": \"$*\"}"; exit 77; }

EDGELBD=$build/controlplane/edgelbd
GEN=$build/tests/bench/push_idle_gen
for b in "$EDGELBD" "$GEN"; do
	[ -x "$b" ] || skip "$b not built"
done
command -v python3 >/dev/null || skip "python3 not installed"

# ---- limits ------------------------------------------------------------------
restore=() # "KEY VALUE" pairs of sysctls this run changed
T=""
LBD_PIDS=()
GEN_PIDS=()
sysctl_path() { echo "/proc/sys/${1//.//}"; }
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	local p kv
	for p in "${GEN_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${GEN_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	for p in "${LBD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${LBD_PIDS[@]}"; do
		for _ in $(seq 300); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	for kv in "${restore[@]}"; do
		echo "${kv#*=}" >"$(sysctl_path "${kv%%=*}")" 2>/dev/null ||
			say "could not put back ${kv%%=*}"
	done
	if [ -n "$T" ]; then rm -rf "$T"; fi
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# raise KEY to at least VALUE (a number), remembering the old value
raise() {
	local p old
	p=$(sysctl_path "$1")
	[ -r "$p" ] || return 0
	old=$(cat "$p")
	[ "$old" -ge "$2" ] && return 0
	[ "$(id -u)" = 0 ] || skip "$1 is $old, $2 needed (run as root)"
	restore+=("$1=$old")
	echo "$2" >"$p"
	say "$1: $old -> $2 (for this run)"
}

# the open-file limit of each process: raising the hard limit needs
# CAP_SYS_RESOURCE; without it each edgelbd (and each generator) holds
# what the hard limit leaves (less 256 for its other files), and the
# target is spread over several
asked=$target
nofile_note=""
hard=$(ulimit -Hn)
[ "$hard" != unlimited ] || hard=4000000
per_max=$((target + 256 <= hard ? target : hard - 256))
[ "$per_max" -ge 1 ] || skip "ulimit -Hn is $hard"
if [ "$per_max" -lt "$target" ]; then
	why="ulimit -Hn $((target + 256)) failed"
	if (ulimit -Hn $((target + 256))) 2>/dev/null; then
		ulimit -Hn $((target + 256))
		hard=$((target + 256))
		per_max=$target
	else
		if ! (((0x$(awk '/^CapEff:/ {print $2}' /proc/self/status) >> 24) & 1)); then
			why="this process has no CAP_SYS_RESOURCE"
		fi
		nofile_note="RLIMIT_NOFILE's hard limit is $hard per process here and cannot be raised ($why)"
	fi
fi
ulimit -Sn "$hard"
[ -n "$procs" ] || procs=$(((target + per_max - 1) / per_max))
per=$(((target + procs - 1) / procs))
[ "$per" -le "$per_max" ] ||
	skip "$per connections per process above the open-file limit ($hard): more --procs"
say "target $target: $procs edgelbd processes and $procs generators, at most $per connections each${nofile_note:+ ($nofile_note)}"
raise fs.nr_open $((hard > 1048576 ? hard : 1048576))
raise fs.file-max $(($(cut -f1 /proc/sys/fs/file-nr) + 2 * target + 65536))
raise net.core.somaxconn 4096
if [ -r /proc/sys/net/netfilter/nf_conntrack_max ]; then
	# both ends of every connection, should loopback be tracked
	raise net.netfilter.nf_conntrack_max \
		$(($(cat /proc/sys/net/netfilter/nf_conntrack_count) + 2 * target + 65536))
fi
# source ports: every address gives the kernel's port range, less a margin
read -r plo phi <"$(sysctl_path net.ipv4.ip_local_port_range)"
per_addr=$((phi - plo - 1000))
[ "$per_addr" -gt 5000 ] && per_addr=5000
[ "$per_addr" -ge 1000 ] || skip "ip_local_port_range $plo $phi is too narrow"

# ---- the edgelbds ----------------------------------------------------------------
T=$(mktemp -d /tmp/elb-push-idle.XXXXXX)
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
SECRET=bench-idle-bind-secret-0123456789
PPORTS=()
MPORTS=()
# lbd_start K: edgelbd number K with its own ports and store
lbd_start() {
	local k=$1 pp mp
	pp=$(free_port)
	mp=$(free_port)
	mkdir -p "$T/$k"
	cat >"$T/$k/edgelb.ini" <<-INI
		[global]
		ctl_socket = $T/$k/ctl.sock
		log_level = warning

		[dataplane]
		socket = $T/$k/dp.sock

		[metrics]
		listen = 127.0.0.1:$mp

		[push]
		listen = 127.0.0.1:$pp
		bind_secret = $SECRET
		db = $T/$k/push.db
		heartbeat = ${hb}s
		max_connections = $((per + 1000))
	INI
	"$EDGELBD" -f -c "$T/$k/edgelb.ini" >"$T/$k/edgelbd.log" 2>&1 &
	LBD_PIDS+=($!)
	PPORTS+=("$pp")
	MPORTS+=("$mp")
}
metric() { # NAME: its sum over every edgelbd's metrics page (empty if one fails)
	python3 - "$1" "${MPORTS[@]}" <<'PY'
import sys, urllib.request
total = 0
for port in sys.argv[2:]:
    try:
        page = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port,
                                      timeout=30).read().decode()
    except OSError:
        sys.exit(0)
    v = None
    for line in page.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] == sys.argv[1]:
            v = int(float(f[1]))
    if v is None:
        sys.exit(0)
    total += v
print(total)
PY
}
mem_avail_mib() { awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo; }
for k in $(seq "$procs"); do lbd_start "$k"; done
for _ in $(seq 300); do
	[ -n "$(metric edgelbd_push_devices_online)" ] && break
	for p in "${LBD_PIDS[@]}"; do kill -0 "$p" 2>/dev/null || break 2; done
	sleep 0.2
done
if [ -z "$(metric edgelbd_push_devices_online)" ]; then
	cat "$T"/*/edgelbd.log >&2
	say "FAILED: an edgelbd did not start"
	exit 1
fi

# what is measured at each point, as KEY=VALUE lines (the edgelbds summed)
snapshot() {
	local p
	for p in "${LBD_PIDS[@]}"; do
		awk '/^VmRSS:/ {print "rss_kb=" $2}' "/proc/$p/status"
		awk '/^Private_Dirty:/ {pd=$2} /^Private_Clean:/ {pc=$2} /^Anonymous:/ {an=$2}
			END {print "private_kb=" pd + pc; print "anon_kb=" an}' \
			"/proc/$p/smaps_rollup"
		# utime + stime, clock ticks
		awk '{print "cpu_ticks=" $14 + $15}' "/proc/$p/stat"
	done | awk -F= '{s[$1] += $2} END {for (k in s) print k "=" s[k]}'
	awk '/^Slab:/ {print "slab_kb=" $2} /^MemAvailable:/ {print "avail_kb=" $2}' /proc/meminfo
	awk '$1 == "TCP:" {for (i = 2; i < NF; i += 2) print "tcp_" $i "=" $(i + 1)}' \
		/proc/net/sockstat
	echo "t=$(date +%s.%N)"
	awk '{print "load1=" $1}' /proc/loadavg
}
sleep 1
snapshot >"$T/before"

# ---- the ramp: one pair after the other ---------------------------------------------
phase() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2" 2>/dev/null || true; }
need_mib=$(((per * 16 + 1023) / 1024))
say "ramp to $target connections (heartbeat ${hb}s, $per_addr per source address, at most ${ramp_max}s, keeping ${margin} MiB available; about $need_mib MiB a pair)"
t_start=$(date +%s)
ramp_end=$((t_start + ramp_max))
limit=""
online_half=""
started=0
left=$target
for k in $(seq "$procs"); do
	n=$((left < per ? left : per))
	[ "$n" -gt 0 ] || break
	avail=$(mem_avail_mib)
	if [ $((avail - need_mib)) -lt "$margin" ]; then
		limit="memory: MemAvailable ${avail} MiB, less about $need_mib MiB for $n more connections, is below the margin of $margin MiB"
		break
	fi
	now=$(date +%s)
	if [ "$now" -ge "$ramp_end" ]; then
		limit="the ramp's time bound (${ramp_max} s)"
		break
	fi
	# the generator's source addresses: 127.(80 + k / 250).(k % 250).1 on
	"$GEN" --port "${PPORTS[k - 1]}" --target "$n" --per-addr "$per_addr" \
		--src "127.$((80 + k / 250)).$((k % 250)).1" --prefix "i$k-" \
		--secret "$SECRET" --ramp-max $((ramp_end - now)) \
		--hold $((window + ramp_max + 600)) --status "$T/$k/status" \
		--half-pause 0 >"$T/$k/gen.json" 2>"$T/$k/gen.err" &
	GEN_PIDS+=($!)
	started=$k
	left=$((left - n))
	deadline=$((ramp_end + 120))
	last=0
	while [ "$(phase "$T/$k/status" phase)" != holding ]; do
		if ! kill -0 "${GEN_PIDS[k - 1]}" 2>/dev/null; then
			say "FAILED: generator $k stopped: $(cat "$T/$k/gen.err" "$T/$k/gen.json")"
			exit 1
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			say "FAILED: the ramp of pair $k did not end in time"
			exit 1
		fi
		# a safety stop well below the margin: tear everything down
		if [ "$(mem_avail_mib)" -lt $((margin / 2)) ]; then
			say "FAILED: MemAvailable below $((margin / 2)) MiB during the ramp: stopping"
			exit 1
		fi
		if [ $(($(date +%s) - last)) -ge 10 ]; then
			last=$(date +%s)
			say "ramp: pair $k/$procs: $(cat "$T/$k/status" 2>/dev/null || echo starting)"
		fi
		sleep 0.5
	done
	glimit=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("" if d["held"] >= int(sys.argv[2]) else "x")' "$T/$k/status" "$n" 2>/dev/null || echo x)
	if [ -n "$glimit" ]; then
		limit="generator $k held fewer than its $n connections (see its limit)"
		break
	fi
	# halfway: a second point for the growth per connection
	if [ -z "$online_half" ] && [ "$procs" -ge 2 ] && [ "$k" = $((procs / 2)) ]; then
		sleep 1
		online_half=$(metric edgelbd_push_devices_online)
		snapshot >"$T/half"
	fi
done
ramp_s=$(($(date +%s) - t_start))
[ -z "$limit" ] || say "ramp stopped: $limit"
say "ramp over: $started pairs in ${ramp_s}s, MemAvailable $(mem_avail_mib) MiB"
# the last registrations committed, their buffers freed
sleep 3
online_start=$(metric edgelbd_push_devices_online)
pings_start=$(metric edgelbd_push_pings_total)
snapshot >"$T/idle"
say "measuring CPU for ${window}s ($online_start online)"
sleep "$window"
snapshot >"$T/after"
online_end=$(metric edgelbd_push_devices_online)
pings_end=$(metric edgelbd_push_pings_total)
timeouts=$(metric edgelbd_push_heartbeat_timeouts_total)
rc=0
for p in "${GEN_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${GEN_PIDS[@]}"; do wait "$p" || rc=$?; done
GEN_PIDS=()
: >"$T/gens.jsonl"
for k in $(seq "$started"); do
	tail -1 "$T/$k/gen.json" >>"$T/gens.jsonl"
done

python3 - "$T" "$smoke" "$target" "$hb" "$window" "$(getconf CLK_TCK)" \
	"${online_start:-0}" "${online_end:-0}" "${pings_start:-0}" "${pings_end:-0}" \
	"${timeouts:-0}" "$per_addr" "${restore[*]:-}" "$asked" "$nofile_note" \
	"${online_half:-0}" "$procs" "$started" "$per" "$ramp_s" "$limit" \
	"$margin" >"$T/result.json" <<'PY'
import json, os, sys
(t, smoke, target, hb, window, hz, on0, on1, p0, p1, tmo, per_addr,
 changed, asked, nofile, onh, procs, started, per, ramp_s, limit,
 margin) = sys.argv[1:]
def snap(name):
    d = {}
    for line in open(f"{t}/{name}"):
        k, _, v = line.strip().partition("=")
        d[k] = float(v)
    return d
b, i, a = snap("before"), snap("idle"), snap("after")
gens = [json.loads(l) for l in open(f"{t}/gens.jsonl") if l.strip()]
g = {}
for k in ("target", "opened", "held", "peak", "connect_errors",
          "handshake_errors", "closed_by_server", "pings", "pongs",
          "ping_fail", "error_busy", "error_other", "gen_cpu_s"):
    g[k] = sum(x.get(k, 0) for x in gens)
g["limits"] = sorted({x["limit"] for x in gens if x.get("limit")})
held = min(int(on1), g.get("held", 0))
n = max(held, 1)
secs = a["t"] - i["t"]
cpu = (a["cpu_ticks"] - i["cpu_ticks"]) / int(hz)
pings = int(p1) - int(p0)
marginal = None
if os.path.exists(f"{t}/half") and int(on0) > int(onh) > 0:
    h = snap("half")
    marginal = {
        "from": int(onh), "to": int(on0),
        "bytes_per_conn": round((i["rss_kb"] - h["rss_kb"]) * 1024 /
                                (int(on0) - int(onh))),
        "private_bytes_per_conn": round((i["private_kb"] - h["private_kb"]) *
                                        1024 / (int(on0) - int(onh))),
    }
ramp = float(ramp_s)
out = {
    "asked": int(asked),
    "target": int(target),
    "procs": int(procs), "procs_started": int(started), "per_proc": int(per),
    "nofile": nofile,
    "held": held,
    "online_start": int(on0), "online_end": int(on1),
    "peak": g.get("peak", 0),
    "ramp_s": ramp,
    "half_pause_s": 0,
    "rate_per_s": round(g.get("peak", 0) / ramp) if ramp > 0 else None,
    "limit": limit,
    "mem_margin_mib": int(margin),
    "per_addr": int(per_addr),
    "heartbeat_s": int(hb),
    "user": {
        "rss_before_kb": int(b["rss_kb"]), "rss_idle_kb": int(i["rss_kb"]),
        "bytes_per_conn": round((i["rss_kb"] - b["rss_kb"]) * 1024 / n),
        "private_bytes_per_conn": round((i["private_kb"] - b["private_kb"]) * 1024 / n),
        "anon_bytes_per_conn": round((i["anon_kb"] - b["anon_kb"]) * 1024 / n),
        "marginal": marginal,
    },
    "kernel": {
        "tcp_inuse_before": int(b.get("tcp_inuse", 0)),
        "tcp_inuse": int(i.get("tcp_inuse", 0)),
        "tcp_mem_pages_before": int(b.get("tcp_mem", 0)),
        "tcp_mem_pages_idle": int(i.get("tcp_mem", 0)),
        "slab_bytes_per_conn": round((i["slab_kb"] - b["slab_kb"]) * 1024 / n),
        "slab_growth_kb": int(i["slab_kb"] - b["slab_kb"]),
        "mem_available_before_kb": int(b["avail_kb"]),
        "mem_available_idle_kb": int(i["avail_kb"]),
    },
    "cpu": {
        "window_s": round(secs, 1),
        "cpu_s": round(cpu, 2),
        "cpu_s_per_s": round(cpu / secs, 4) if secs > 0 else None,
        "pings": pings,
        "pings_per_s": round(pings / secs) if secs > 0 else None,
        "us_per_ping": round(cpu * 1e6 / pings, 2) if pings > 0 else None,
        "load1_start": i["load1"], "load1_end": a["load1"],
    },
    "heartbeat_timeouts": int(tmo),
    "gen": g,
    "sysctl_changed": changed,
}
print(json.dumps(out))
PY
cat "$T/result.json"
held=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["held"])' "$T/result.json")
if [ "$held" -eq 0 ]; then
	say "FAILED: no connection held: $(cat "$T"/*/gen.err)"
	exit 1
fi
if [ "$smoke" = 1 ] && [ "$held" -lt "$target" ]; then
	say "FAILED: $held of $target connections held: $(cat "$T/gens.jsonl")"
	exit 1
fi
[ "$rc" = 0 ] || say "a generator exited $rc"
exit 0
