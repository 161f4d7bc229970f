#!/usr/bin/env bash
# Bad input against edgelbd's HTTP services, on the edgelbd labs' topology
# (lbd_lib.sh): edgelbd in eld-sw with HTTP health checks of b1..b3 and
# [httpdns] on 10.96.2.250:8053; the attackers and a normal client in
# eld-client, on a second link to the switch (10.96.2.20 the normal
# client, 10.96.2.21 the flooder, 10.96.2.100-199 the slow clients). No
# edgelb-dp: HttpDNS does not need it, and its polling lcore would skew
# the CPU and latency figures on a small machine.
#
# Three scenarios, per target:
#   slowloris  2000 slow clients (20 per source address), one head byte
#              every 2 s each, reconnecting when cut, for 12 s: they are
#              cut at header_timeout (3 s) and counted (head_timeout);
#              a normal client sampled every 200 ms is answered, each
#              time in under 100 ms; health checks see no failure.
#   per_addr   one address opens idle connections until the server
#              refuses one: exactly max_connections_per_addr (32) stay
#              open, the refusal is a 503 or a close, counted per_addr;
#              meanwhile the second address is answered.
#   emfile     the target restarted with 256 descriptors (prlimit), 400
#              slow clients for 10 s: the process does not spin (CPU time
#              under 20% of the attack), logs a bounded number of accept
#              and refusal lines, keeps descriptors free (fd_budget
#              refusals counted), health checks see no failure, and the
#              normal client is answered again once the attack ends.
#
# Targets ($HTTP_LIMITS_TARGETS, default "route httpdns"):
#   route    tests/bench/bench_http_route on the same HTTP stack with the
#            same limits (10.96.2.250:8080): proves the lab itself;
#   httpdns  edgelbd's HttpDNS with the [httpdns] keys workers,
#            max_connections, max_connections_per_addr, header_timeout,
#            idle_timeout, and its edgelb_http_*{service="httpdns"}
#            metrics on /metrics.
set -euo pipefail

source "$(dirname "$0")/lbd_lib.sh"
# shellcheck source=../../tests/lab/lab.sh
source "$LBD_SRC/tests/lab/lab.sh"

SLOW=$LBD_SRC/tests/e2e/http_slow.py
ROUTE=$LBD_BUILD/tests/bench/bench_http_route
TARGETS=${HTTP_LIMITS_TARGETS:-route httpdns}

HDNS_PORT=8053
ROUTE_PORT=8080
NORMAL_IP=10.96.2.20
FLOOD_IP=10.96.2.21
SLOW_SRCS=$(seq -s, -f '10.96.2.%g' 100 199)
HEAD_TIMEOUT_S=3
PER_ADDR=32
MAX_CONNS=4096
FD_LIMIT=256
CLK_TCK=$(getconf CLK_TCK)

lbd_begin prlimit jq
# The machine-wide lab lock too: the latency and CPU figures need a quiet
# machine, and the other labs load it.
lab_lock || exit 1
[ -x "$ROUTE" ] || lbd_skip "$ROUTE is not built"

# ---- set-up ----------------------------------------------------------------

write_ini() {
	lbd_write_ini
	# no [port]: edgelb-dp is not started; the rest of the lab's INI stays
	sed -i '/^\[port /,/^$/d' "$LBD_DIR/edgelb.ini"
	has_httpdns || return 0
	cat >>"$LBD_DIR/edgelb.ini" <<-EOF

		[httpdns]
		listen = $LBD_MGMT_IP:$HDNS_PORT
		ttl = 60
		domain = www.example.test service=web
	EOF
	# HTTP_LIMITS_NO_KEYS=1: without the limit keys, to see how an
	# HttpDNS that does not know them fares (a diagnosis, not a test)
	[ -n "${HTTP_LIMITS_NO_KEYS:-}" ] && return 0
	cat >>"$LBD_DIR/edgelb.ini" <<-EOF
		workers = 1
		max_connections = $MAX_CONNS
		max_connections_per_addr = $PER_ADDR
		header_timeout = ${HEAD_TIMEOUT_S}s
		idle_timeout = 30s
	EOF
}

has_httpdns() { [[ " $TARGETS " == *" httpdns "* ]]; }

# The attackers' link: eld-client to the switch's bridge.
client_link() {
	local i
	lbd_veth "$LBD_NS_CLIENT" eldc1 "$LBD_NS_SW" eldsc
	ip -n "$LBD_NS_SW" link set eldsc master eldbr0
	ip -n "$LBD_NS_CLIENT" addr add "$NORMAL_IP/24" dev eldc1
	ip -n "$LBD_NS_CLIENT" addr add "$FLOOD_IP/24" dev eldc1
	for i in $(seq 100 199); do
		ip -n "$LBD_NS_CLIENT" addr add "10.96.2.$i/24" dev eldc1
	done
	# room for 2000 client sockets in TIME_WAIT and a fast reconnect
	ip netns exec "$LBD_NS_CLIENT" sysctl -q -w \
		net.ipv4.ip_local_port_range="10000 60999" >/dev/null
}

# start_edgelbd [NOFILE]: edgelbd in eld-sw (under prlimit with NOFILE);
# waits until its checks see every backend up and HttpDNS answers.
start_edgelbd() {
	local pre=() deadline
	[ -n "${1:-}" ] && pre=(prlimit --nofile="$1:$1" --)
	ip netns exec "$LBD_NS_SW" "${pre[@]}" "$EDGELBD" -f \
		-c "$LBD_DIR/edgelb.ini" >>"$LBD_DIR/edgelbd.log" 2>&1 8>&- 9>&- &
	echo $! >"$LBD_DIR/edgelbd.pid"
	deadline=$((SECONDS + 15))
	until scrape health "$LBD_DIR/m.txt" 2>/dev/null &&
		[ "$(mcount "$LBD_DIR/m.txt" edgelbd_health_state 1)" = 3 ] &&
		{ ! has_httpdns ||
			normal_get "$HDNS_PORT" /d?dn=www.example.test >/dev/null 2>&1; }; do
		kill -0 "$(lbd_pid edgelbd)" 2>/dev/null || {
			lbd_fail "edgelbd exited during start-up"
			return 1
		}
		((SECONDS < deadline)) || {
			lbd_fail "edgelbd: not all backends up or HttpDNS not answering in 15 s"
			return 1
		}
		sleep 0.2
	done
}

# start_route [NOFILE]: the stand-in service in eld-sw, same limits.
start_route() {
	local pre=() deadline
	[ -n "${1:-}" ] && pre=(prlimit --nofile="$1:$1" --)
	ip netns exec "$LBD_NS_SW" "${pre[@]}" "$ROUTE" \
		--listen "$LBD_MGMT_IP:$ROUTE_PORT" --max-conns "$MAX_CONNS" \
		--max-conns-per-addr "$PER_ADDR" \
		--header-timeout $((HEAD_TIMEOUT_S * 1000)) --seconds 300 \
		>>"$LBD_DIR/route.log" 2>&1 8>&- 9>&- &
	echo $! >"$LBD_DIR/route.pid"
	deadline=$((SECONDS + 10))
	until normal_get "$ROUTE_PORT" / >/dev/null 2>&1; do
		((SECONDS < deadline)) || {
			lbd_fail "bench_http_route does not answer"
			return 1
		}
		sleep 0.1
	done
}

normal_get() { # PORT PATH
	lbd_client curl -sS --fail --max-time 2 --interface "$NORMAL_IP" \
		"http://$LBD_MGMT_IP:$1$2"
}

# ---- reading counters ------------------------------------------------------

# scrape health|TARGET FILE: edgelbd's /metrics (health, httpdns) or the
# route's into FILE; fails when the page cannot be read.
scrape() {
	local url=http://$LBD_METRICS/metrics
	[ "$1" = route ] && url=http://$LBD_MGMT_IP:$ROUTE_PORT/metrics
	lbd_sw curl -sS --fail --max-time 3 -o "$2" "$url"
}

# mval FILE NAME [LABEL=VALUE...]: the sum of NAME's samples with all of
# the labels; "missing" when there is none.
mval() {
	local f=$1 name=$2
	shift 2
	python3 - "$f" "$name" "$@" <<-'PY'
		import re, sys
		f, name, want = sys.argv[1], sys.argv[2], sys.argv[3:]
		tot, seen = 0.0, False
		for line in open(f):
		    m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)', line)
		    if not m or m.group(1) != name:
		        continue
		    labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
		    if all(labels.get(k) == v for k, v in (w.split("=", 1) for w in want)):
		        tot += float(m.group(3))
		        seen = True
		print(("%d" % tot if tot == int(tot) else "%g" % tot) if seen else "missing")
	PY
}

# mcount FILE NAME VALUE: how many of NAME's samples equal VALUE.
mcount() {
	awk -v n="$2" -v v="$3" '{ split($1, a, "{") } a[1] == n && $2 == v { c++ }
		END { print c + 0 }' "$1"
}

# jget FILE KEY: a field of a JSON object.
jget() { jq -r ".$2" "$1"; }

# A named counter of TARGET: "svc NAME LABEL=VALUE..." as a number or
# "missing".
target_file() { echo "$LBD_DIR/m-$1-$2.txt"; } # TARGET TAG
svc_label() { if [ "$1" = route ]; then echo route; else echo httpdns; fi; }

# snap TARGET TAG: edgelbd's page and the target's page.
snap() {
	scrape health "$LBD_DIR/h-$2.txt" || {
		lbd_fail "edgelbd's /metrics unreadable ($2)"
		return 1
	}
	if [ "$1" = route ]; then
		scrape route "$(target_file "$1" "$2")" || {
			lbd_fail "the route's /metrics unreadable ($2)"
			return 1
		}
	else
		cp "$LBD_DIR/h-$2.txt" "$(target_file "$1" "$2")"
	fi
}

# delta TARGET NAME FROM TO [LABEL=VALUE...]: the change of a target's
# counter between two snaps; "missing" if absent in either.
delta() {
	local t=$1 name=$2 a b
	a=$(mval "$(target_file "$t" "$3")" "$name" service="$(svc_label "$t")" "${@:5}")
	b=$(mval "$(target_file "$t" "$4")" "$name" service="$(svc_label "$t")" "${@:5}")
	if [ "$a" = missing ] || [ "$b" = missing ]; then
		echo missing
	else
		echo $((b - a))
	fi
}

# Health checks between two snaps: no failed or timed-out check, no
# transition to down, every backend up.
check_health() { # FROM TO WHAT
	local f t n bad=0
	f=$LBD_DIR/h-$1.txt
	t=$LBD_DIR/h-$2.txt
	for r in fail timeout; do
		n=$(($(mval "$t" edgelbd_health_checks_total result=$r) - \
			$(mval "$f" edgelbd_health_checks_total result=$r)))
		bad=$((bad + n))
		[ "$n" = 0 ] || nok "$3: $n health checks ended '$r' during the attack"
	done
	n=$(($(mval "$t" edgelbd_health_transitions_total to=down) - \
		$(mval "$f" edgelbd_health_transitions_total to=down)))
	[ "$n" = 0 ] || nok "$3: $n backends went down during the attack (flaps)"
	n=$(($(mval "$t" edgelbd_health_checks_total result=ok) - \
		$(mval "$f" edgelbd_health_checks_total result=ok)))
	[ "$n" -gt 0 ] || nok "$3: no health check finished during the attack"
	[ "$(mcount "$t" edgelbd_health_state 1)" = 3 ] ||
		nok "$3: not every backend up after the attack"
	lbd_log "$3: health checks during the attack: $n ok, $bad failed or timed out"
}

# A failed check: recorded (lbd_end fails the lab), the lab goes on so
# that one run shows every check.
nok() { lbd_fail "$@" || true; }

# want WHAT VALUE OP LIMIT: a numeric check; "missing" fails.
want() {
	if [ "$2" = missing ] || [ "$2" = null ] || [ -z "$2" ]; then
		nok "$1: no value ($2)"
		return 0
	fi
	if python3 -c "import sys; sys.exit(0 if float('$2') $3 float('$4') else 1)"; then
		lbd_log "ok: $1 = $2 ($3 $4)"
	else
		nok "$1 = $2, want $3 $4"
	fi
}

target_port() { if [ "$1" = route ]; then echo $ROUTE_PORT; else echo $HDNS_PORT; fi; }
target_path() { if [ "$1" = route ]; then echo /; else echo /d?dn=www.example.test; fi; }
target_proc() { if [ "$1" = route ]; then echo route; else echo edgelbd; fi; }

cpu_ticks() { # PID: utime + stime
	awk '{print $14 + $15}' "/proc/$1/stat"
}

# ---- scenarios -------------------------------------------------------------

slowloris() { # TARGET
	local t=$1 port path n
	port=$(target_port "$t")
	path=$(target_path "$t")
	lbd_log "[$t] slowloris: 2000 slow clients for 12 s, head deadline ${HEAD_TIMEOUT_S}s"
	snap "$t" s0
	lbd_client python3 "$SLOW" slow "$LBD_MGMT_IP" "$port" --count 2000 \
		--interval 2 --duration 12 --rate 1000 --src "$SLOW_SRCS" \
		>"$LBD_DIR/slow-$t.json" 2>"$LBD_DIR/slow-$t.err" &
	local spid=$!
	lbd_client python3 "$SLOW" probe "$LBD_MGMT_IP" "$port" "$path" \
		--src "$NORMAL_IP" --every 0.2 --duration 12 --max-ms 100 \
		>"$LBD_DIR/probe-$t.json" 2>"$LBD_DIR/probe-$t.err" &
	local ppid=$!
	wait "$spid" || nok "[$t] slow client tool failed: $(cat "$LBD_DIR/slow-$t.err")"
	wait "$ppid" || nok "[$t] probe failed: $(cat "$LBD_DIR/probe-$t.err")"
	sleep 0.5 # the server sees the last closes
	snap "$t" s1
	lbd_log "[$t] slow clients: $(cat "$LBD_DIR/slow-$t.json")"
	lbd_log "[$t] normal client: $(cat "$LBD_DIR/probe-$t.json")"
	n=$(jget "$LBD_DIR/slow-$t.json" cut)
	want "[$t] slow clients cut by the server" "$n" ">=" 2000
	want "[$t] slow clients open at the end (not cut yet)" \
		"$(jget "$LBD_DIR/slow-$t.json" open_at_end)" "<=" 2000
	want "[$t] first cut after (s)" "$(jget "$LBD_DIR/slow-$t.json" cut_after_min)" \
		">=" $((HEAD_TIMEOUT_S - 1))
	want "[$t] last cut after (s)" "$(jget "$LBD_DIR/slow-$t.json" cut_after_max)" \
		"<=" $((HEAD_TIMEOUT_S + 2))
	want "[$t] head_timeout counted" "$(delta "$t" edgelb_http_errors_total s0 s1 reason=head_timeout)" \
		">=" "$n"
	want "[$t] normal client samples" "$(jget "$LBD_DIR/probe-$t.json" samples)" ">=" 30
	want "[$t] normal client errors" "$(jget "$LBD_DIR/probe-$t.json" nerrors)" "==" 0
	want "[$t] normal client samples >= 100 ms" "$(jget "$LBD_DIR/probe-$t.json" over)" "==" 0
	check_health s0 s1 "[$t] slowloris"
}

per_addr() { # TARGET
	local t=$1 port path deadline
	port=$(target_port "$t")
	path=$(target_path "$t")
	lbd_log "[$t] per_addr: $FLOOD_IP opens connections until refused"
	snap "$t" p0
	lbd_client python3 "$SLOW" flood "$LBD_MGMT_IP" "$port" --max 80 \
		--hold 3 --src "$FLOOD_IP" >"$LBD_DIR/flood-$t.json" \
		2>"$LBD_DIR/flood-$t.err" &
	local fpid=$!
	deadline=$((SECONDS + 20))
	until [ -s "$LBD_DIR/flood-$t.json" ]; do
		((SECONDS < deadline)) || break
		sleep 0.1
	done
	# while the flooder holds its connections: the other address
	lbd_client python3 "$SLOW" probe "$LBD_MGMT_IP" "$port" "$path" \
		--src "$NORMAL_IP" --every 0.2 --duration 1.5 --max-ms 100 \
		>"$LBD_DIR/probe2-$t.json" || nok "[$t] probe failed"
	wait "$fpid" || nok "[$t] flood tool failed: $(cat "$LBD_DIR/flood-$t.err")"
	snap "$t" p1
	lbd_log "[$t] flooder: $(cat "$LBD_DIR/flood-$t.json")"
	lbd_log "[$t] other address: $(cat "$LBD_DIR/probe2-$t.json")"
	want "[$t] connections open when refused" "$(jget "$LBD_DIR/flood-$t.json" opened)" "==" "$PER_ADDR"
	case $(jget "$LBD_DIR/flood-$t.json" refusal) in
	503 | close) lbd_log "ok: [$t] refusal: $(jget "$LBD_DIR/flood-$t.json" refusal)" ;;
	*) nok "[$t] refusal: $(jget "$LBD_DIR/flood-$t.json" refusal)" ;;
	esac
	want "[$t] per_addr refusals counted" "$(delta "$t" edgelb_http_refused_total p0 p1 reason=per_addr)" ">=" 1
	want "[$t] other address answered" "$(jget "$LBD_DIR/probe2-$t.json" ok)" ">=" 5
	want "[$t] other address errors" "$(jget "$LBD_DIR/probe2-$t.json" nerrors)" "==" 0
}

emfile() { # TARGET
	local t=$1 port path proc pid c0 c1 l0 l1 r0 r1 fds
	port=$(target_port "$t")
	path=$(target_path "$t")
	proc=$(target_proc "$t")
	lbd_log "[$t] emfile: restarted with $FD_LIMIT descriptors, 400 slow clients for 10 s"
	lbd_stop "$proc"
	if [ "$t" = route ]; then start_route "$FD_LIMIT"; else start_edgelbd "$FD_LIMIT"; fi
	pid=$(lbd_pid "$proc")
	[ "$(awk '/Max open files/ {print $4}' "/proc/$pid/limits")" = "$FD_LIMIT" ] ||
		nok "[$t] the descriptor limit did not apply"
	snap "$t" e0
	c0=$(cpu_ticks "$pid")
	l0=$(grep -c "accept" "$LBD_DIR/$proc.log" || true)
	r0=$(grep -c "refused" "$LBD_DIR/$proc.log" || true)
	lbd_client python3 "$SLOW" slow "$LBD_MGMT_IP" "$port" --count 400 \
		--interval 2 --duration 10 --rate 200 --src "$SLOW_SRCS" \
		>"$LBD_DIR/eslow-$t.json" 2>"$LBD_DIR/eslow-$t.err" &
	local spid=$!
	sleep 6
	fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
	wait "$spid" || nok "[$t] slow client tool failed: $(cat "$LBD_DIR/eslow-$t.err")"
	c1=$(cpu_ticks "$pid")
	sleep 0.5
	# the attack is over: the budget frees, the normal client is answered
	lbd_client python3 "$SLOW" probe "$LBD_MGMT_IP" "$port" "$path" \
		--src "$NORMAL_IP" --every 0.2 --duration 2 --max-ms 100 \
		>"$LBD_DIR/eprobe-$t.json" || nok "[$t] probe failed"
	snap "$t" e1
	l1=$(grep -c "accept" "$LBD_DIR/$proc.log" || true)
	r1=$(grep -c "refused" "$LBD_DIR/$proc.log" || true)
	lbd_log "[$t] slow clients: $(cat "$LBD_DIR/eslow-$t.json")"
	lbd_log "[$t] after: $(cat "$LBD_DIR/eprobe-$t.json")"
	want "[$t] CPU seconds over the 10 s attack" \
		"$(python3 -c "print(round(($c1 - $c0) / $CLK_TCK, 2))")" "<" 2
	want "[$t] accept-error log lines" $((l1 - l0)) "<=" 150
	want "[$t] refusal log lines" $((r1 - r0)) "<=" 150
	want "[$t] descriptors open mid-attack (limit $FD_LIMIT)" "$fds" "<=" $((FD_LIMIT - 64))
	want "[$t] fd_budget refusals counted" "$(delta "$t" edgelb_http_refused_total e0 e1 reason=fd_budget)" ">=" 1
	want "[$t] answered after the attack" "$(jget "$LBD_DIR/eprobe-$t.json" ok)" ">=" 5
	want "[$t] errors after the attack" "$(jget "$LBD_DIR/eprobe-$t.json" nerrors)" "==" 0
	check_health e0 e1 "[$t] emfile"
	# back to the normal limit for what follows
	lbd_stop "$proc"
	if [ "$t" = route ]; then start_route; else start_edgelbd; fi
}

# ---- the lab -----------------------------------------------------------------

lbd_topology
client_link
for b in "${LBD_BACKENDS[@]}"; do lbd_backend_start "$b"; done
write_ini
if ! "$EDGELBD" --check -c "$LBD_DIR/edgelb.ini" >"$LBD_DIR/check.log" 2>&1; then
	cat "$LBD_DIR/check.log" >&2
	has_httpdns || {
		lbd_fail "edgelbd --check refuses the lab's INI file"
		exit 1
	}
	# an HttpDNS without the limit keys: a failure; the other targets
	# still run, without [httpdns]
	nok "edgelbd --check refuses the lab's INI file (the [httpdns] limit keys): HttpDNS target not run"
	TARGETS=${TARGETS//httpdns/}
	write_ini
fi
start_edgelbd
start_route
lbd_log "up: edgelbd (health checks of b1..b3, HttpDNS :$HDNS_PORT), route :$ROUTE_PORT"

for t in $TARGETS; do
	slowloris "$t"
	per_addr "$t"
	emfile "$t"
done
lbd_end
