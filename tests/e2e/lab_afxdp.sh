#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# lab_afxdp: edgelb-dp on net_af_xdp ports with xdp_steer, sharing its
# interface with the host kernel.
#
#   elbx-cl-PID  xc0 10.98.0.1/24 ──── xl0 (port "ext")   elbx-lb-PID
#                                     kernel: 10.98.0.2/24, TCP 2222
#                                     dataplane: 10.98.0.3/24,
#                                     VIP 10.98.0.100 tcp 80 (FULL-NAT)
#   elbx-b1-PID  xb0 10.98.1.11/24 ─── xl1 (port "int")
#                lab-backend :80      dataplane: 10.98.1.1/24,
#                                     local address 10.98.1.100
#
# Asserted, from the client's kernel:
#   - ARP for the VIP is answered with xl0's MAC (the LB kernel does not
#     own the VIP: the dataplane answered);
#   - ping to the VIP is answered, and port ext's dataplane counters moved
#     by at least the echo requests and replies;
#   - the LB kernel's own TCP service on 10.98.0.2:2222, on the very
#     interface AF_XDP uses, answers, and so does ping to 10.98.0.2;
#   - HTTP to the VIP reaches the backend through FULL-NAT (the backend
#     sees the local address as its peer, and the client through TOA);
#   - the steering counters (STATS_GET kind xdp, and edgelb-bpf on the
#     interface) show packets redirected and packets passed, and
#     steer_map holds the VIP, the local address and the port address,
#     never the kernel's 10.98.0.2.
#
# Needs root; exits 77 (skipped) without it, without AF_XDP in the kernel
# or in DPDK, or without the BPF objects. Everything it makes is named
# elbx-*-PID and is removed on every exit path.

set -u

E2E_NAME=lab_afxdp
SRC=${EDGELB_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${EDGELB_BUILD:-$SRC/build}
DP=$BUILD/dataplane/edgelb-dp
LBCTL=$BUILD/tools/lbctl/lbctl
BPF=$BUILD/tools/edgelb-bpf
BACKEND=$BUILD/tests/lab/lab-backend
OBJ=${EDGELB_BPF_DIR:-$BUILD/bpf}/xdp_steer.o

NS_LB=elbx-lb-$$
NS_CL=elbx-cl-$$
NS_B1=elbx-b1-$$
VIP=10.98.0.100
KERNEL_IP=10.98.0.2
EXT_IP=10.98.0.3
INT_IP=10.98.1.1
LADDR=10.98.1.100
B1_IP=10.98.1.11
CLIENT_IP=10.98.0.1
TMP=
PIDS=()
FAILED=0

log() { printf '%s: %s\n' "$E2E_NAME" "$*"; }
fail() {
	printf '%s: FAIL: %s\n' "$E2E_NAME" "$*" >&2
	FAILED=1
}
skip() {
	printf '%s: SKIP: %s\n' "$E2E_NAME" "$*"
	exit 77
}

cleanup() {
	local rc=$? pid i
	trap - EXIT
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		for ((i = 0; i < 30; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ -n "$TMP" ]; then
		for f in "$TMP"/*.log; do
			[ -s "$f" ] || continue
			printf '\n---- %s (last 30 lines)\n' "$f" >&2
			tail -n 30 "$f" >&2
		done
	fi
	ip netns del "$NS_CL" 2>/dev/null
	ip netns del "$NS_B1" 2>/dev/null
	ip netns del "$NS_LB" 2>/dev/null
	[ -n "$TMP" ] && rm -rf "$TMP"
	exit "$rc"
}

lbctl() { "$LBCTL" --socket "$TMP/dp.sock" "$@"; }
in_cl() { ip netns exec "$NS_CL" "$@"; }
in_lb() { ip netns exec "$NS_LB" "$@"; }

# stat KIND NAME [IFNAME]: sum of counter NAME over STATS_GET parts.
stat() {
	lbctl -j stats | python3 "$(dirname "${BASH_SOURCE[0]}")/stat_sum.py" "$@"
}

# veth NS1 IF1 NS2 IF2: a pair, up, checksums computed in software on
# both ends (veth leaves them partial for AF_XDP readers otherwise).
veth() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" &&
		ip netns exec "$1" ethtool -K "$2" tx off >/dev/null &&
		ip netns exec "$3" ethtool -K "$4" tx off >/dev/null &&
		ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

# ---- preconditions ----------------------------------------------------------

[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
for t in ip ethtool socat curl ping arping python3; do
	command -v "$t" >/dev/null || skip "$t is not installed"
done
for f in "$DP" "$LBCTL" "$BPF" "$BACKEND"; do
	[ -x "$f" ] || skip "$f is not built"
done
[ -r "$OBJ" ] || skip "no $OBJ (the bpf objects are not built)"
ls /usr/lib/*/dpdk/pmds-*/librte_net_af_xdp.so* >/dev/null 2>&1 ||
	ls /usr/local/lib/*/dpdk/pmds-*/librte_net_af_xdp.so* >/dev/null 2>&1 ||
	skip "DPDK has no net_af_xdp driver"
python3 -c 'import socket; socket.socket(44, socket.SOCK_RAW).close()' \
	2>/dev/null || skip "the kernel has no AF_XDP sockets"

trap cleanup EXIT
trap 'exit 130' INT TERM
TMP=$(mktemp -d /tmp/elbx-afxdp.XXXXXX)

# ---- topology -----------------------------------------------------------------

ip netns add "$NS_LB" && ip netns add "$NS_CL" && ip netns add "$NS_B1" &&
	veth "$NS_CL" xc0 "$NS_LB" xl0 && veth "$NS_B1" xb0 "$NS_LB" xl1 || {
	fail "building the namespaces"
	exit 1
}
ip -n "$NS_CL" addr add "$CLIENT_IP/24" dev xc0
ip -n "$NS_B1" addr add "$B1_IP/24" dev xb0
# The LB kernel keeps an address of its own on the dataplane's interface
# and serves TCP on it; it does not route.
ip -n "$NS_LB" addr add "$KERNEL_IP/24" dev xl0
ip netns exec "$NS_LB" sysctl -q -w net.ipv4.ip_forward=0
ip netns exec "$NS_LB" socat TCP-LISTEN:2222,bind=$KERNEL_IP,reuseaddr,fork \
	SYSTEM:'echo kernel-on-xl0' >"$TMP/socat.log" 2>&1 &
PIDS+=($!)
ip netns exec "$NS_B1" "$BACKEND" --name b1 --tcp-port 80 --toa \
	>"$TMP/backend-b1.log" 2>&1 &
PIDS+=($!)

# ---- edgelb-dp on both veth ends, net_af_xdp with xdp_steer ----------------------

cat >"$TMP/dp.ini" <<EOF
[dataplane]
socket = $TMP/dp.sock
mbufs = 8191
xdp_prog = $OBJ

[port ext]
devargs = net_af_xdp0,iface=xl0,start_queue=0,queue_count=1
address = $EXT_IP/24

[port int]
devargs = net_af_xdp1,iface=xl1,start_queue=0,queue_count=1
address = $INT_IP/24
EOF
ulimit -l unlimited 2>/dev/null || log "ulimit -l unlimited refused; edgelb-dp decides"
ncpu=$(nproc)
ip netns exec "$NS_LB" "$DP" --no-huge -m 512 --no-pci --no-shconf \
	--file-prefix "elbx-afxdp-$$" --lcores "0@0,1@$((ncpu > 1 ? 1 : 0))" \
	-- -c "$TMP/dp.ini" >"$TMP/edgelb-dp.log" 2>&1 &
DPPID=$!
PIDS=("$DPPID" "${PIDS[@]}")
for ((i = 0; i < 150; i++)); do
	[ -S "$TMP/dp.sock" ] && lbctl port show >/dev/null 2>&1 && break
	kill -0 "$DPPID" 2>/dev/null || break
	sleep 0.2
done
lbctl port show >/dev/null 2>&1 || {
	fail "edgelb-dp did not start"
	exit 1
}
log "edgelb-dp running on xl0/xl1 (net_af_xdp, xdp_steer)"

lbctl service add tcp "$VIP:80" mode fnat sched rr toa &&
	lbctl backend add tcp "$VIP:80" "$B1_IP:80" &&
	lbctl laddr add tcp "$VIP:80" "$LADDR" || {
	fail "programming the FULL-NAT service"
	exit 1
}

mac=$(in_lb cat /sys/class/net/xl0/address)
rx0=$(stat port rx_packets_total ext)
tx0=$(stat port tx_packets_total ext)

# ---- the dataplane answers ARP and ping for the VIP -------------------------------

in_cl ip neigh flush dev xc0
out=$(in_cl arping -c 2 -w 4 -I xc0 "$VIP" 2>&1)
log "arping $VIP: $(grep -ci 'reply from' <<<"$out") replies"
grep -qi "reply from $VIP \[$mac\]" <<<"$out" ||
	fail "no ARP reply for $VIP with xl0's MAC $mac: $out"
in_cl ping -c 5 -i 0.2 -W 2 "$VIP" >/dev/null ||
	fail "ping $VIP (answered by the dataplane) failed"
rx1=$(stat port rx_packets_total ext)
tx1=$(stat port tx_packets_total ext)
log "dataplane port ext: rx $rx0 -> $rx1, tx $tx0 -> $tx1"
((rx1 - rx0 >= 7)) || fail "port ext received $((rx1 - rx0)) packets, expected >= 7 (2 ARP + 5 echo)"
((tx1 - tx0 >= 7)) || fail "port ext sent $((tx1 - tx0)) packets, expected >= 7"

# ---- the LB kernel keeps its own address on the same interface --------------------

out=$(in_cl socat -T 5 - "TCP:$KERNEL_IP:2222,connect-timeout=5" </dev/null 2>&1)
log "TCP $KERNEL_IP:2222 (the LB kernel's service): '$out'"
[ "$out" = kernel-on-xl0 ] ||
	fail "the kernel's TCP service on $KERNEL_IP:2222 answered '$out'"
in_cl ping -c 3 -i 0.2 -W 2 "$KERNEL_IP" >/dev/null ||
	fail "ping to the kernel's address $KERNEL_IP failed"

# ---- forwarding: HTTP to the VIP reaches the backend (FULL-NAT) ------------------------

for ((i = 0; i < 3; i++)); do
	body=$(in_cl curl -sS --fail --connect-timeout 5 --max-time 10 \
		"http://$VIP/" 2>&1) || {
		fail "curl http://$VIP/ failed: $body"
		break
	}
	log "GET http://$VIP/ -> $body"
	grep -q "^backend=b1 " <<<"$body" || fail "unexpected body '$body'"
	grep -q " client=$LADDR:" <<<"$body" ||
		fail "backend's peer is not the local address $LADDR"
	grep -q " toa=$CLIENT_IP:" <<<"$body" ||
		fail "TOA does not carry the client $CLIENT_IP"
done

# ---- the steering counters and map ------------------------------------------------

red=$(stat xdp redirected_packets_total ext)
pas=$(stat xdp passed_packets_total ext)
red_int=$(stat xdp redirected_packets_total int)
log "xdp_steer on xl0: redirected $red, passed $pas; on xl1: redirected $red_int"
((red >= 7)) || fail "xl0 redirected $red packets, expected >= 7 (ARP + ping to the VIP)"
((pas >= 3)) || fail "xl0 passed $pas packets, expected >= 3 (the kernel's TCP and ping)"
((red_int >= 1)) || fail "xl1 redirected $red_int packets (the backend's replies to $LADDR)"

show=$(in_lb "$BPF" steer show xl0 -j) || fail "edgelb-bpf steer show xl0"
log "edgelb-bpf steer show xl0: $show"
for m in "any $VIP" "any $LADDR" "any $EXT_IP"; do
	grep -q "\"match\":\"$m\"" <<<"$show" || fail "steer_map of xl0 lacks '$m'"
done
grep -q "\"match\":\"any $KERNEL_IP\"" <<<"$show" &&
	fail "steer_map of xl0 steers the kernel's own $KERNEL_IP"
r=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["counters"]["redirected"]["packets"])' "$show" 2>/dev/null)
((${r:-0} >= red)) || fail "edgelb-bpf counts '$r' redirected, STATS_GET $red"

if [ "$FAILED" != 0 ]; then
	log "FAILED"
	exit 1
fi
log "PASS"
