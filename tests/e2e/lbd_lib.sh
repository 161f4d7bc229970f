# The edgelbd labs' common part (sourced by tests/e2e/lbd_*.sh).
#
# A compact namespace topology around one edgelb-dp in NAT mode, with
# edgelbd programming it from the same INI file and lbctl driving edgelbd:
#
#   eld-client  eldc0 10.96.1.2/24 ─── eldl0 "ext" 10.96.1.1  eld-lb
#               default via 10.96.1.1          (edgelb-dp, af_packet)
#   eld-lb      eldl1 "int" 10.96.2.1 ──┐
#   eld-sw      bridge eldbr0 10.96.2.250/24 (edgelbd runs here: it
#               reaches the backends for health checks, and serves
#               /metrics on 10.96.2.250:9190)
#   eld-bN      eldbeN 10.96.2.1N/24 ───┘ default via 10.96.2.1 (N = 1..3)
#
# The VIP 198.18.96.10 (TCP 80) is reached through the client's default
# route; edgelb-dp answers ARP for its port addresses. Namespaces are
# named eld-* and interfaces eld*, so these labs and tests/lab/lab.sh's (elb-*)
# can run at the same time. Run files live in $LBD_DIR (a fresh temporary
# directory); everything is removed on every exit path.

set -euo pipefail

LBD_SRC=${EDGELB_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LBD_BUILD=${EDGELB_BUILD:-$LBD_SRC/build}
LBD_NAME=$(basename "${0%.sh}")
LBD_LOCK=${EDGELB_LBD_LOCK:-/run/edgelb-lbd-e2e.lock}

LBD_NS_CLIENT=eld-client
LBD_NS_LB=eld-lb
LBD_NS_SW=eld-sw
LBD_BACKENDS=(b1 b2 b3)
LBD_NS_ALL=(eld-client eld-lb eld-sw eld-b1 eld-b2 eld-b3)

LBD_CLIENT_IP=10.96.1.2
LBD_LB_EXT_IP=10.96.1.1
LBD_LB_INT_IP=10.96.2.1
LBD_MGMT_IP=10.96.2.250
LBD_METRICS=$LBD_MGMT_IP:9190
LBD_VIP=198.18.96.10
LBD_PORT=80

# Health check timing of the [healthcheck web] section.
LBD_HC_INTERVAL_MS=500
LBD_HC_TIMEOUT_MS=300
LBD_HC_RISE=2
LBD_HC_FALL=2

LBD_DIR=
LBD_FAILED=0

lbd_log() { printf '%s: %s\n' "$LBD_NAME" "$*"; }
# lbd_fail MSG: report and return 1, which under errexit ends the test
# (the cleanup trap prints the logs) unless the caller tests it. The
# failure is also recorded in $LBD_DIR/failed, so that one inside a
# subshell ($(...)) still fails the test at lbd_end or in the exit trap.
lbd_fail() {
	printf '%s: FAIL: %s\n' "$LBD_NAME" "$*" >&2
	LBD_FAILED=1
	if [ -n "$LBD_DIR" ]; then
		: >"$LBD_DIR/failed"
	fi
	return 1
}
# True when a failure was recorded, in this shell or in a subshell.
lbd_failed() {
	[ "$LBD_FAILED" != 0 ] || { [ -n "$LBD_DIR" ] && [ -e "$LBD_DIR/failed" ]; }
}
lbd_skip() {
	printf '%s: SKIP: %s\n' "$LBD_NAME" "$*"
	exit 77
}
lbd_backend_ip() { echo "10.96.2.1${1#b}"; } # b1 -> 10.96.2.11
lbd_now_ms() { echo $(($(date +%s%N) / 1000000)); }

EDGELBD=$LBD_BUILD/controlplane/edgelbd
EDGELB_DP=$LBD_BUILD/dataplane/edgelb-dp
LBCTL=$LBD_BUILD/tools/lbctl/lbctl
LAB_BACKEND=$LBD_BUILD/tests/lab/lab-backend

# lbctl on edgelbd's ctl.sock; lbd_dpctl on the dataplane's socket.
lbd_lbctl() { "$LBCTL" --socket "$LBD_DIR/ctl.sock" "$@"; }
lbd_dpctl() { "$LBCTL" --socket "$LBD_DIR/dp.sock" "$@"; }
lbd_client() { ip netns exec "$LBD_NS_CLIENT" "$@"; }
lbd_sw() { ip netns exec "$LBD_NS_SW" "$@"; }

# ---- processes -----------------------------------------------------------

# lbd_stop NAME: TERM the process of $LBD_DIR/NAME.pid, KILL after 3 s.
lbd_stop() {
	local f=$LBD_DIR/$1.pid pid i
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	rm -f "$f"
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 30; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

lbd_pid() { cat "$LBD_DIR/$1.pid"; }

lbd_cleanup() {
	local rc=$? f ns pid
	trap - EXIT
	set +e
	if [ "$rc" = 0 ] && lbd_failed; then
		echo "$LBD_NAME: a failure was recorded; exiting 1" >&2
		rc=1
	fi
	if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ -n "$LBD_DIR" ]; then
		for f in "$LBD_DIR"/*.log; do
			[ -s "$f" ] || continue
			printf '\n---- %s (last 25 lines)\n' "$f" >&2
			tail -n 25 "$f" >&2
		done
	fi
	if [ -n "$LBD_DIR" ]; then
		lbd_stop edgelbd
		lbd_stop edgelb-dp
		for f in "$LBD_DIR"/*.pid; do
			[ -e "$f" ] || continue
			f=${f##*/}
			lbd_stop "${f%.pid}"
		done
	fi
	for ns in "${LBD_NS_ALL[@]}"; do
		[ -e "/run/netns/$ns" ] || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	done
	[ -n "$LBD_DIR" ] && rm -rf "$LBD_DIR"
	exit "$rc"
}

# Root, tools and binaries; lock (one lbd lab at a time); cleanup trap.
lbd_begin() {
	local t
	[ "$(id -u)" = 0 ] || lbd_skip "needs root for network namespaces"
	for t in ip ethtool curl python3 sha256sum flock "$@"; do
		command -v "$t" >/dev/null || lbd_skip "$t is not installed"
	done
	for t in "$EDGELBD" "$EDGELB_DP" "$LBCTL" "$LAB_BACKEND"; do
		[ -x "$t" ] || lbd_skip "$t is not built"
	done
	exec 8>>"$LBD_LOCK"
	flock -w 600 8 || {
		echo "$LBD_NAME: $LBD_LOCK held for 10 minutes" >&2
		exit 1
	}
	trap lbd_cleanup EXIT
	trap 'exit 130' INT TERM
	LBD_DIR=$(mktemp -d /tmp/eld-e2e.XXXXXX)
}

lbd_end() {
	if lbd_failed; then
		lbd_log "FAILED"
		exit 1
	fi
	lbd_log "PASS"
}

# ---- topology ---------------------------------------------------------------

lbd_veth() { # NS1 IF1 NS2 IF2
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
	# Software checksums: AF_PACKET would otherwise forward the partial
	# checksums veth leaves with TX offload on.
	ip netns exec "$1" ethtool -K "$2" tx off >/dev/null
	ip netns exec "$3" ethtool -K "$4" tx off >/dev/null
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

lbd_topology() {
	local ns b n
	for ns in "${LBD_NS_ALL[@]}"; do
		# A namespace left by a killed earlier run.
		[ -e "/run/netns/$ns" ] && ip netns del "$ns"
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 >/dev/null
	done
	lbd_veth "$LBD_NS_CLIENT" eldc0 "$LBD_NS_LB" eldl0
	ip -n "$LBD_NS_SW" link add eldbr0 type bridge
	ip -n "$LBD_NS_SW" link set eldbr0 up
	ip -n "$LBD_NS_SW" addr add "$LBD_MGMT_IP/24" dev eldbr0
	lbd_veth "$LBD_NS_LB" eldl1 "$LBD_NS_SW" eldsl
	ip -n "$LBD_NS_SW" link set eldsl master eldbr0
	for b in "${LBD_BACKENDS[@]}"; do
		n=${b#b}
		lbd_veth "eld-$b" "eldbe$n" "$LBD_NS_SW" "elds$n"
		ip -n "$LBD_NS_SW" link set "elds$n" master eldbr0
		ip -n "eld-$b" addr add "$(lbd_backend_ip "$b")/24" dev "eldbe$n"
		ip -n "eld-$b" route add default via "$LBD_LB_INT_IP"
	done
	ip -n "$LBD_NS_CLIENT" addr add "$LBD_CLIENT_IP/24" dev eldc0
	ip -n "$LBD_NS_CLIENT" route add default via "$LBD_LB_EXT_IP"
	# edgelb-dp owns eldl0/eldl1: the LB kernel stays silent on them.
	ip netns exec "$LBD_NS_LB" sysctl -q -w net.ipv4.ip_forward=0 >/dev/null
	ip -n "$LBD_NS_LB" link set eldl0 arp off
	ip -n "$LBD_NS_LB" link set eldl1 arp off
}

# ---- backends -------------------------------------------------------------

# lbd_backend_start B [TCP-PORT]: lab-backend in eld-B, named B on port 80
# and B-PORT on another port; waits (10 s at most) until it answers.
lbd_backend_start() {
	local b=$1 port=${2:-$LBD_PORT} name=$1 udp=9000 deadline
	if [ "$port" != "$LBD_PORT" ]; then
		name=$b-$port
		udp=$((port + 1000))
	fi
	ip netns exec "eld-$b" "$LAB_BACKEND" --name "$name" \
		--tcp-port "$port" --udp-port "$udp" \
		>>"$LBD_DIR/backend-$name.log" 2>&1 8>&- &
	echo $! >"$LBD_DIR/backend-$name.pid"
	deadline=$((SECONDS + 10))
	until lbd_sw curl -s --max-time 1 -o /dev/null \
		"http://$(lbd_backend_ip "$b"):$port/"; do
		((SECONDS < deadline)) || {
			lbd_fail "backend $name does not answer"
			return 1
		}
		sleep 0.1
	done
}

lbd_backend_stop() { # B [PORT]
	local name=$1
	[ -n "${2:-}" ] && [ "$2" != "$LBD_PORT" ] && name=$1-$2
	lbd_stop "backend-$name"
}

# ---- configuration -------------------------------------------------------

# The one INI file both programs read: edgelbd takes [global], [dataplane]
# socket, [service], [healthcheck], [metrics]; edgelb-dp [dataplane] and
# [port]. One NAT service "web" on the VIP, port 80, rr over b1..b3, with
# an HTTP health check.
lbd_write_ini() {
	local b
	{
		cat <<-EOF
			[global]
			log_level = info
			ctl_socket = $LBD_DIR/ctl.sock
			state_file = $LBD_DIR/state.ini
			reconcile_interval = 30s

			[dataplane]
			socket = $LBD_DIR/dp.sock
			mbufs = 8191

			[port ext]
			devargs = net_af_packet0,iface=eldl0
			address = $LBD_LB_EXT_IP/24

			[port int]
			devargs = net_af_packet1,iface=eldl1
			address = $LBD_LB_INT_IP/24

			[metrics]
			listen = $LBD_METRICS

			[healthcheck web]
			type = http
			interval = ${LBD_HC_INTERVAL_MS}ms
			timeout = ${LBD_HC_TIMEOUT_MS}ms
			rise = $LBD_HC_RISE
			fall = $LBD_HC_FALL
			path = /

			[service web]
			vip = $LBD_VIP:$LBD_PORT
			proto = tcp
			mode = nat
			scheduler = rr
			healthcheck = web
		EOF
		for b in "${LBD_BACKENDS[@]}"; do
			echo "backend = $(lbd_backend_ip "$b"):$LBD_PORT weight=1"
		done
	} >"$LBD_DIR/edgelb.ini"
}

# ---- edgelb-dp and edgelbd ------------------------------------------------

# Start edgelb-dp in the LB namespace; waits (30 s at most) until its
# socket answers. Each start gets its own EAL file prefix.
LBD_DP_STARTS=0
lbd_dp_start() {
	local deadline
	LBD_DP_STARTS=$((LBD_DP_STARTS + 1))
	ip netns exec "$LBD_NS_LB" "$EDGELB_DP" --no-huge -m 512 --no-pci \
		--no-shconf -l 0,1 --file-prefix "eld-$$-$LBD_DP_STARTS" \
		-- -c "$LBD_DIR/edgelb.ini" >>"$LBD_DIR/edgelb-dp.log" 2>&1 8>&- &
	echo $! >"$LBD_DIR/edgelb-dp.pid"
	deadline=$((SECONDS + 30))
	until [ -S "$LBD_DIR/dp.sock" ] && lbd_dpctl port show >/dev/null 2>&1; do
		kill -0 "$(lbd_pid edgelb-dp)" 2>/dev/null || {
			lbd_fail "edgelb-dp exited during start-up"
			return 1
		}
		((SECONDS < deadline)) || {
			lbd_fail "edgelb-dp did not open dp.sock in 30 s"
			return 1
		}
		sleep 0.05
	done
}

# Start edgelbd in the switch namespace; waits (15 s at most) until
# lbctl gets an answer on ctl.sock.
lbd_daemon_start() {
	local deadline
	ip netns exec "$LBD_NS_SW" "$EDGELBD" -f -c "$LBD_DIR/edgelb.ini" \
		>>"$LBD_DIR/edgelbd.log" 2>&1 8>&- &
	echo $! >"$LBD_DIR/edgelbd.pid"
	deadline=$((SECONDS + 15))
	until [ -S "$LBD_DIR/ctl.sock" ] && lbd_lbctl service show >/dev/null 2>&1; do
		kill -0 "$(lbd_pid edgelbd)" 2>/dev/null || {
			lbd_fail "edgelbd exited during start-up"
			return 1
		}
		((SECONDS < deadline)) || {
			lbd_fail "edgelbd did not answer on ctl.sock in 15 s"
			return 1
		}
		sleep 0.05
	done
}

# A paced reader (curl --limit-rate lets bursts through, and the kernel
# would buffer megabytes for it): a 64 KiB receive buffer clamps the TCP
# window, so what has been read is what has crossed the dataplane, give
# or take that window. It prints the longest gap between two reads.
lbd_write_slow_get() {
	cat >"$LBD_DIR/slow_get.py" <<-'PY'
		import socket, sys, time
		vip, port, path, rate, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
		s = socket.socket()
		s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
		s.settimeout(10)
		s.connect((vip, port))
		s.sendall(b"GET %s HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n" % path.encode())
		buf = b""
		while b"\r\n\r\n" not in buf:
		    d = s.recv(4096)
		    if not d:
		        sys.exit("no response header")
		    buf += d
		head, body = buf.split(b"\r\n\r\n", 1)
		if not head.startswith(b"HTTP/1.1 200"):
		    sys.exit("status: %r" % head.split(b"\r\n")[0])
		length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
		t0 = last = time.monotonic()
		got, gap = len(body), 0.0
		with open(out, "wb", buffering=0) as f:
		    f.write(body)
		    while got < length:
		        d = s.recv(min(16384, length - got))
		        now = time.monotonic()
		        if not d:
		            sys.exit("closed at %d of %d bytes" % (got, length))
		        gap = max(gap, now - last)
		        last = now
		        f.write(d)
		        got += len(d)
		        ahead = got / rate - (now - t0)
		        if ahead > 0:
		            time.sleep(ahead)
		print("%.3f" % gap)
	PY
}

# Number of services the dataplane holds (SERVICE_GET on dp.sock).
lbd_dp_nservices() {
	lbd_dpctl -j service show 2>/dev/null |
		python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'
}

# Backends of VIP:PORT in the dataplane as "ADDR:PORT/WEIGHT" lines.
lbd_dp_backends() { # PORT
	lbd_dpctl -j backend show tcp "$LBD_VIP:$1" | python3 -c '
import json, sys
for b in json.load(sys.stdin):
    print("%s:%s/%s" % (b.get("addr"), b.get("port"), b.get("weight")))
'
}

# Wait (up to SECONDS) until the dataplane holds N services.
lbd_wait_dp_services() { # N SECONDS
	local deadline=$((SECONDS + $2))
	until [ "$(lbd_dp_nservices || echo -1)" = "$1" ]; do
		((SECONDS < deadline)) || {
			lbd_fail "dataplane holds $(lbd_dp_nservices || echo '?') services, not $1, after $2 s"
			return 1
		}
		sleep 0.1
	done
}

# The whole lab: topology, backends, INI, edgelb-dp, edgelbd; waits until
# the service is programmed (10 s at most).
lbd_up() {
	local b
	lbd_topology
	for b in "${LBD_BACKENDS[@]}"; do lbd_backend_start "$b"; done
	lbd_write_ini
	"$EDGELBD" --check -c "$LBD_DIR/edgelb.ini" >"$LBD_DIR/check.log" 2>&1 || {
		lbd_fail "edgelbd --check refuses the lab's INI file"
		return 1
	}
	lbd_dp_start
	lbd_daemon_start
	lbd_wait_dp_services 1 10
	lbd_log "up: edgelb-dp + edgelbd, service web $LBD_VIP:$LBD_PORT (nat, rr, ${#LBD_BACKENDS[@]} backends)"
}

# ---- traffic -----------------------------------------------------------------

# One GET from the client through the VIP; prints the body.
lbd_get() { # [PORT] [PATH]
	lbd_client curl -sS --fail --max-time 3 \
		"http://$LBD_VIP:${1:-$LBD_PORT}${2:-/}"
}

# Which backend answered a "GET /" body.
lbd_backend_of() { sed -n 's/^backend=\([^ ]*\) .*/\1/p' <<<"$1"; }

# lbd_spread N [PORT]: N sequential GETs; prints "name=count ..." sorted,
# fails on the first failed request.
lbd_spread() {
	local n=$1 port=${2:-$LBD_PORT} i body b
	local -A count=()
	for ((i = 0; i < n; i++)); do
		body=$(lbd_get "$port") || {
			lbd_fail "request $((i + 1)) of $n to port $port failed"
			return 1
		}
		b=$(lbd_backend_of "$body")
		[ -n "$b" ] || {
			lbd_fail "unexpected body '$body'"
			return 1
		}
		count[$b]=$((${count[$b]:-0} + 1))
	done
	for b in "${!count[@]}"; do echo "$b=${count[$b]}"; done | sort | tr '\n' ' '
	echo
}

# sha256 of the first N bytes of lab-backend's /bytes stream (64-bit
# little-endian words, word k = (k + 1) * 0x9E3779B97F4A7C15 mod 2^64),
# computed from that definition.
lbd_bytes_sha256() {
	python3 "$(dirname "${BASH_SOURCE[0]}")/bytes_sha256.py" "$1"
}
