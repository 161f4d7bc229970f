#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# xdp_steer in front of DPDK's net_af_xdp: dpdk-testpmd (rxonly) opens a
# veth end with xdp_prog=xdp_steer.o in namespace "lb"; a client in its own
# namespace sends UDP to a steered port and pings the same address.
# Expected: the UDP datagrams are redirected into the XSK socket (counted
# "redirected", received by testpmd), the ping is passed to the kernel and
# answered. edgelb-bpf finds the maps through the attached program.
#
# usage: test_steer_dpdk.sh EDGELB_BPF IPIP_PROBE   (EDGELB_BPF_DIR: objects)
# Exit 0 pass, 1 fail, 77 skip (not root, no objects, no dpdk-testpmd).

BPF=$1
PROBE=$2
N=5

if [ "$(id -u)" != 0 ]; then
	echo "skip: needs root"
	exit 77
fi
if [ ! -r "${EDGELB_BPF_DIR:-/nonexistent}/xdp_steer.o" ]; then
	echo "skip: no BPF objects in ${EDGELB_BPF_DIR:-(unset)}"
	exit 77
fi
if ! command -v dpdk-testpmd >/dev/null; then
	echo "skip: no dpdk-testpmd (Debian: dpdk)"
	exit 77
fi

LB=elbbpf-dlb-$$
CL=elbbpf-dcl-$$
TMP=$(mktemp -d)
TP=
RC=0

cleanup() {
	exec 3>&- 2>/dev/null
	[ -n "$TP" ] && kill "$TP" 2>/dev/null
	[ -n "$TP" ] && wait "$TP" 2>/dev/null
	ip netns del "$LB" 2>/dev/null
	ip netns del "$CL" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*"
	RC=1
}

ok() {
	echo "ok: $*"
}

counter() {
	sed -n "s/.*\"$1\":{\"packets\":\([0-9]*\),\"bytes\":\([0-9]*\)}.*/\\$2/p"
}

set -e
ip netns add "$LB"
ip netns add "$CL"
ip link add xa netns "$LB" type veth peer name xb netns "$CL"
ip -n "$LB" link set xa up
ip -n "$CL" link set xb up
ip -n "$LB" addr add 10.9.0.2/24 dev xa
ip -n "$CL" addr add 10.9.0.1/24 dev xb
ip netns exec "$CL" ethtool -K xb tx off >/dev/null 2>&1 || true
set +e

# testpmd runs until its standard input (the fifo) closes; stdbuf makes
# its "Press enter to exit" (ready) line appear as it is printed.
mkfifo "$TMP/in"
timeout 60 ip netns exec "$LB" stdbuf -oL dpdk-testpmd --no-huge -m 512 --no-pci \
	--file-prefix "elbbpf$$" \
	--vdev "net_af_xdp0,iface=xa,start_queue=0,queue_count=1,xdp_prog=$EDGELB_BPF_DIR/xdp_steer.o" \
	-- --total-num-mbufs=4096 --forward-mode=rxonly \
	<"$TMP/in" >"$TMP/testpmd.log" 2>&1 &
TP=$!
exec 3>"$TMP/in"

i=0
until ip -n "$LB" link show xa | grep -q "prog/xdp.*xdp_steer"; do
	i=$((i + 1))
	if [ $i -gt 150 ] || ! kill -0 "$TP" 2>/dev/null; then
		fail "xdp_steer not attached by net_af_xdp"
		cat "$TMP/testpmd.log"
		exit 1
	fi
	sleep 0.1
done
ok "net_af_xdp attached xdp_steer"
# Give testpmd time to start forwarding after the port comes up.
i=0
until grep -q "Press enter to exit" "$TMP/testpmd.log"; do
	i=$((i + 1))
	[ $i -gt 150 ] && break
	sleep 0.1
done

ip netns exec "$LB" "$BPF" steer add xa 10.9.0.2 udp 7777 ||
	fail "steer add"
ip netns exec "$LB" "$BPF" steer add xa 10.9.0.2 neigh ||
	fail "steer add neigh"
# ARP requests and replies for 10.9.0.2 now go to testpmd, which does not
# answer them: both sides get static neighbours.
MAC=$(ip netns exec "$LB" cat /sys/class/net/xa/address)
ip -n "$CL" neigh replace 10.9.0.2 lladdr "$MAC" dev xb
MAC=$(ip netns exec "$CL" cat /sys/class/net/xb/address)
ip -n "$LB" neigh replace 10.9.0.1 lladdr "$MAC" dev xa
ip netns exec "$CL" "$PROBE" udp 10.9.0.2 7777 steered $N || fail "send"
ip netns exec "$CL" ping -c 1 -W 2 10.9.0.2 >/dev/null &&
	ok "ping passed to the kernel and answered" || fail "ping not answered"

J=$(ip netns exec "$LB" "$BPF" steer show xa -j)
echo "$J"
R=$(echo "$J" | counter redirected 1)
[ "$R" = $N ] && ok "redirected = $N" || fail "redirected = '$R', expected $N"
P=$(echo "$J" | counter passed 1)
[ "${P:-0}" -ge 1 ] && ok "passed = $P" || fail "passed = '$P'"

# Stop testpmd; its summary counts what reached the XSK socket.
exec 3>&-
wait "$TP"
TP=
RX=$(sed -n 's/.*RX-packets: *\([0-9]*\).*RX-total.*/\1/p' \
	"$TMP/testpmd.log" | tail -1)
[ "$RX" = $N ] && ok "testpmd received $N" ||
	fail "testpmd received '$RX', expected $N"

[ $RC = 0 ] && echo "PASS" || echo "FAILED"
exit $RC
