#!/usr/bin/env bash
# Idle device connections on the push service (docs/push.md, "Benchmark"):
#
#   tests/bench/bench_push_idle.sh [--build DIR] [--target N] [--heartbeat S]
#                                  [--window S] [--ramp-max S]
#
# edgelbd alone with [push] on loopback (SQLite store in a directory of
# its own); tests/bench/push_idle_gen opens --target device connections
# (default 1,000,000) from many 127.x source addresses, each doing the
# real HELLO/WELCOME and BIND/BOUND handshake, then idling with a PING
# every heartbeat (--heartbeat, default 30 s). Once the ramp is over (all
# bound, --ramp-max seconds passed, or no more could be opened) it
# measures, on edgelbd:
#   * the connections held (edgelbd's devices_online and the generator's
#     bound connections, the smaller of the two, at the end of the window),
#   * user-space bytes per idle connection: the growth of edgelbd's VmRSS
#     (and of its private anonymous memory, smaps_rollup) from before the
#     first connection, divided by the connections held. Socket buffers
#     and socket structs are kernel memory and not in a process's RSS;
#   * kernel memory, apart: TCP socket buffer pages (/proc/net/sockstat)
#     and the growth of the kernel's slab (both ends of every connection:
#     the generator's sockets are on this machine too),
#   * edgelbd's CPU seconds per second over --window seconds (default two
#     heartbeats) while every device pings once a heartbeat, and per PING.
# It raises, for the run only, what the target needs and puts back what
# it changed on exit: the open-file limit (ulimit -n; fs.nr_open),
# fs.file-max, net.ipv4.ip_local_port_range, net.core.somaxconn and, when
# conntrack is loaded, net.netfilter.nf_conntrack_max (those need root:
# without it, exit 77 unless the target fits the current limits).
# Every wait is bounded; the generator stops by itself.
#
# Prints one JSON object on stdout (last line), progress on stderr.
# EDGELB_BENCH_SMOKE=1: 300 connections, heartbeat 1 s, a 3-second window;
# it fails unless every one of them is held. Exit 0 measured, 77 skipped,
# 1 failed.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
smoke=0
case "${EDGELB_BENCH_SMOKE:-0}" in "" | 0) ;; *) smoke=1 ;; esac
build=$root/build
if [ "$smoke" = 1 ]; then
	target=300 hb=1 window=3 ramp_max=60
else
	target=1000000 hb=30 window="" ramp_max=1200
fi
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--target) target=$2; shift 2 ;;
	--heartbeat) hb=$2; shift 2 ;;
	--window) window=$2; shift 2 ;;
	--ramp-max) ramp_max=$2; shift 2 ;;
	-h | --help) sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench_push_idle.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ -n "$window" ] || window=$((2 * hb))
for v in "$target:1:4000000" "$hb:1:3600" "$window:1:3600" "$ramp_max:1:7200"; do
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
LBD_PID=""
GEN_PID=""
sysctl_path() { echo "/proc/sys/${1//.//}"; }
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	if [ -n "$GEN_PID" ]; then
		kill "$GEN_PID" 2>/dev/null || true
		wait "$GEN_PID" 2>/dev/null || true
	fi
	if [ -n "$LBD_PID" ]; then
		kill "$LBD_PID" 2>/dev/null || true
		for _ in $(seq 300); do
			kill -0 "$LBD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$LBD_PID" 2>/dev/null || true
		wait "$LBD_PID" 2>/dev/null || true
	fi
	local kv
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

fds=$((target + 256))
raise fs.nr_open $((fds > 1048576 ? fds : 1048576))
# the open-file limit of edgelbd and of the generator (one process each):
# raising the hard limit needs CAP_SYS_RESOURCE; without it the target is
# what the hard limit leaves (less 256 for each process's other files)
capped=""
asked=$target
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$fds" ]; then
	hard=$(ulimit -Hn)
	if ! (ulimit -Hn "$fds") 2>/dev/null; then
		# CAP_SYS_RESOURCE is bit 24 of the effective capabilities
		why="ulimit -Hn $fds failed"
		if (((0x$(awk '/^CapEff:/ {print $2}' /proc/self/status) >> 24) & 1)); then :; else
			why="this process has no CAP_SYS_RESOURCE"
		fi
		capped="the open-file limit: RLIMIT_NOFILE's hard limit is $hard per process here and cannot be raised ($why)"
		target=$((hard - 256)) # below the target: hard < target + 256
		[ "$target" -ge 1 ] || skip "ulimit -Hn is $hard"
		fds=$hard
		say "target $asked capped to $target: $capped"
	else
		ulimit -Hn "$fds"
	fi
fi
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$fds" ]; then
	ulimit -Sn "$fds"
fi
raise fs.file-max $(($(cut -f1 /proc/sys/fs/file-nr) + 2 * target + 65536))
raise net.core.somaxconn 4096
if [ -r /proc/sys/net/netfilter/nf_conntrack_max ]; then
	# both ends of every connection, should loopback be tracked
	raise net.netfilter.nf_conntrack_max \
		$(($(cat /proc/sys/net/netfilter/nf_conntrack_count) + 2 * target + 65536))
fi
# source ports: every address gives the kernel's port range, less a margin
read -r plo phi <"$(sysctl_path net.ipv4.ip_local_port_range)"
if [ $((phi - plo)) -lt 60000 ] && [ "$target" -gt $((phi - plo - 1000)) ]; then
	if [ "$(id -u)" = 0 ]; then
		restore+=("net.ipv4.ip_local_port_range=$plo $phi")
		echo "1024 65535" >"$(sysctl_path net.ipv4.ip_local_port_range)"
		say "net.ipv4.ip_local_port_range: $plo $phi -> 1024 65535 (for this run)"
		plo=1024 phi=65535
	fi
fi
per_addr=$((phi - plo - 1000))
[ "$per_addr" -gt 5000 ] && per_addr=5000
[ "$per_addr" -ge 1000 ] || skip "ip_local_port_range $plo $phi is too narrow"

# ---- edgelbd --------------------------------------------------------------------
T=$(mktemp -d /tmp/elb-push-idle.XXXXXX)
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
PPORT=$(free_port)
MPORT=$(free_port)
SECRET=bench-idle-bind-secret-0123456789
cat >"$T/edgelb.ini" <<EOF
[global]
ctl_socket = $T/ctl.sock
log_level = warning

[dataplane]
socket = $T/dp.sock

[metrics]
listen = 127.0.0.1:$MPORT

[push]
listen = 127.0.0.1:$PPORT
bind_secret = $SECRET
db = $T/push.db
heartbeat = ${hb}s
max_connections = $((target + 1000 > 4000000 ? 4000000 : target + 1000))
EOF
"$EDGELBD" -f -c "$T/edgelb.ini" >"$T/edgelbd.log" 2>&1 &
LBD_PID=$!
metric() { # NAME: its value on edgelbd's metrics page (empty if none)
	python3 - "$MPORT" "$1" <<'PY'
import sys, urllib.request
try:
    page = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1],
                                  timeout=30).read().decode()
except OSError:
    sys.exit(0)
for line in page.splitlines():
    f = line.split()
    if len(f) == 2 and f[0] == sys.argv[2]:
        print(int(float(f[1])))
PY
}
for _ in $(seq 100); do
	[ -n "$(metric edgelbd_push_devices_online)" ] && break
	kill -0 "$LBD_PID" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$(metric edgelbd_push_devices_online)" ]; then
	cat "$T/edgelbd.log" >&2
	say "FAILED: edgelbd did not start"
	exit 1
fi

# what is measured at each point, as KEY=VALUE lines
snapshot() {
	awk '/^VmRSS:/ {print "rss_kb=" $2}' "/proc/$LBD_PID/status"
	awk '/^Private_Dirty:/ {pd=$2} /^Private_Clean:/ {pc=$2} /^Anonymous:/ {an=$2}
		END {print "private_kb=" pd + pc; print "anon_kb=" an}' \
		"/proc/$LBD_PID/smaps_rollup"
	awk '/^Slab:/ {print "slab_kb=" $2}' /proc/meminfo
	awk '$1 == "TCP:" {for (i = 2; i < NF; i += 2) print "tcp_" $i "=" $(i + 1)}' \
		/proc/net/sockstat
	# utime + stime, clock ticks
	awk '{print "cpu_ticks=" $14 + $15}' "/proc/$LBD_PID/stat"
	echo "t=$(date +%s.%N)"
	awk '{print "load1=" $1}' /proc/loadavg
}
sleep 1
snapshot >"$T/before"

# ---- the ramp ----------------------------------------------------------------------
say "ramp to $target connections (heartbeat ${hb}s, $per_addr per source address, at most ${ramp_max}s)"
"$GEN" --port "$PPORT" --target "$target" --per-addr "$per_addr" \
	--secret "$SECRET" --ramp-max "$ramp_max" --hold $((window + ramp_max + 600)) \
	--status "$T/status" --half-pause 4 >"$T/gen.json" 2>"$T/gen.err" &
GEN_PID=$!
phase() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/status" "$1" 2>/dev/null || true; }
deadline=$(($(date +%s) + ramp_max + 120))
last=0
online_half=""
while [ "$(phase phase)" != holding ]; do
	# halfway: a second point for the growth per connection
	if [ -z "$online_half" ] && [ "$(phase phase)" = half ]; then
		sleep 1
		online_half=$(metric edgelbd_push_devices_online)
		snapshot >"$T/half"
	fi
	if ! kill -0 "$GEN_PID" 2>/dev/null; then
		say "FAILED: the generator stopped: $(cat "$T/gen.err" "$T/gen.json")"
		exit 1
	fi
	if [ "$(date +%s)" -ge "$deadline" ]; then
		say "FAILED: the ramp did not end within $((ramp_max + 120)) s"
		exit 1
	fi
	if [ $(($(date +%s) - last)) -ge 10 ]; then
		last=$(date +%s)
		say "ramp: $(cat "$T/status" 2>/dev/null || echo starting)"
	fi
	sleep 0.5
done
say "ramp over: $(cat "$T/status")"
# the last registrations committed, their buffers freed
sleep 3
online_start=$(metric edgelbd_push_devices_online)
pings_start=$(metric edgelbd_push_pings_total)
snapshot >"$T/idle"
say "measuring CPU for ${window}s"
sleep "$window"
snapshot >"$T/after"
online_end=$(metric edgelbd_push_devices_online)
pings_end=$(metric edgelbd_push_pings_total)
timeouts=$(metric edgelbd_push_heartbeat_timeouts_total)
kill "$GEN_PID"
for _ in $(seq 600); do
	kill -0 "$GEN_PID" 2>/dev/null || break
	sleep 0.1
done
rc=0
wait "$GEN_PID" || rc=$?
GEN_PID=""
gen=$(tail -1 "$T/gen.json")
[ -n "$gen" ] || gen='{}'

python3 - "$T" "$gen" "$smoke" "$target" "$hb" "$window" "$(getconf CLK_TCK)" \
	"${online_start:-0}" "${online_end:-0}" "${pings_start:-0}" "${pings_end:-0}" \
	"${timeouts:-0}" "$per_addr" "${restore[*]:-}" "$asked" "$capped" \
	"${online_half:-0}" <<'PY'
import json, os, sys
(t, gen, smoke, target, hb, window, hz, on0, on1, p0, p1, tmo, per_addr,
 changed, asked, capped, onh) = sys.argv[1:]
def snap(name):
    d = {}
    for line in open(f"{t}/{name}"):
        k, _, v = line.strip().partition("=")
        d[k] = float(v)
    return d
b, i, a = snap("before"), snap("idle"), snap("after")
g = json.loads(gen)
held = min(int(on1), g.get("held", 0))
n = max(held, 1)
secs = a["t"] - i["t"]
cpu = (a["cpu_ticks"] - i["cpu_ticks"]) / int(hz)
pings = int(p1) - int(p0)
page = 4096
# growth from the halfway point to the end of the ramp, per connection
# added (fixed costs such as SQLite's page cache mostly left out)
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
out = {
    "asked": int(asked),
    "target": int(target),
    "capped_by": capped,
    "held": held,
    "online_start": int(on0), "online_end": int(on1),
    "peak": g.get("peak", 0),
    "ramp_s": g.get("ramp_s"),
    "half_pause_s": g.get("half_pause_s", 0),
    # connections bound per second of ramp, the halfway pause left out
    "rate_per_s": (round(g.get("peak", 0) /
                         (g["ramp_s"] - g.get("half_pause_s", 0)))
                   if g.get("ramp_s", 0) > g.get("half_pause_s", 0) else None),
    "limit": g.get("limit", ""),
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
held=$(python3 -c 'import json,sys; print(min(int(sys.argv[1] or 0), json.loads(sys.argv[2]).get("held", 0)))' \
	"${online_end:-0}" "$gen")
if [ "$held" -eq 0 ]; then
	say "FAILED: no connection held: $(cat "$T/gen.err") $gen"
	exit 1
fi
if [ "$smoke" = 1 ] && [ "$held" -lt "$target" ]; then
	say "FAILED: $held of $target connections held: $gen"
	exit 1
fi
[ "$rc" = 0 ] || say "the generator exited $rc"
exit 0
