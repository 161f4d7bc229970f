#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# edgelb-bpf in a lab of two network namespaces joined by a veth pair:
#   lb      (va, 192.0.2.1; client address 198.51.100.7 on lo)
#   backend (vb, 192.0.2.10; VIP 10.0.0.1 on lo; tun_decap on vb)
# Checks decap attach/show/detach against `ip link`, pinned maps, that
# IPIP-encapsulated UDP and ICMP echo reach the backend's kernel only while
# tun_decap is attached, only from the balancer (192.0.2.1) to the VIP,
# the outer-destination filter, and steer
# attach/add/show/del/detach. Everything stays inside the namespaces,
# which are removed on exit.
#
# usage: test_loader.sh EDGELB_BPF IPIP_PROBE   (EDGELB_BPF_DIR: objects)
# Exit 0 pass, 1 fail, 77 skip.

BPF=$1
PROBE=$2

if [ "$(id -u)" != 0 ]; then
	echo "skip: needs root"
	exit 77
fi
if [ ! -r "${EDGELB_BPF_DIR:-/nonexistent}/tun_decap.o" ] ||
	[ ! -r "$EDGELB_BPF_DIR/xdp_steer.o" ]; then
	echo "skip: no BPF objects in ${EDGELB_BPF_DIR:-(unset)}"
	exit 77
fi
if ! command -v ip >/dev/null; then
	echo "skip: no ip(8)"
	exit 77
fi

LB=elbbpf-lb-$$
BE=elbbpf-be-$$
TMP=$(mktemp -d)
PINS=$TMP/bpffs
RC=0

cleanup() {
	ip netns del "$LB" 2>/dev/null
	ip netns del "$BE" 2>/dev/null
	umount "$PINS" 2>/dev/null
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

lb() { ip netns exec "$LB" "$@"; }
be() { ip netns exec "$BE" "$@"; }
ebpf() { be "$BPF" --pin-dir "$PINS/edgelb" "$@"; }

# JSON counter value: counter NAME FIELD < json
counter() {
	sed -n "s/.*\"$1\":{\"packets\":\([0-9]*\),\"bytes\":\([0-9]*\)}.*/\\$2/p"
}

set -e
mkdir -p "$PINS"
mount -t bpf bpf "$PINS"
ip netns add "$LB"
ip netns add "$BE"
ip link add va netns "$LB" type veth peer name vb netns "$BE"
lb ip link set lo up
lb ip link set va up
lb ip addr add 192.0.2.1/24 dev va
lb ip addr add 198.51.100.7/32 dev lo
be ip link set lo up
be ip link set vb up
be ip addr add 192.0.2.10/24 dev vb
be ip addr add 10.0.0.1/32 dev lo
be ip route add 198.51.100.0/24 via 192.0.2.1
lb ethtool -K va tx off >/dev/null 2>&1 || true
be ethtool -K vb tx off >/dev/null 2>&1 || true
VB_MAC=$(be cat /sys/class/net/vb/address)
# Resolve the neighbours once so the probes' first packets are not lost.
lb ping -c 1 -W 2 192.0.2.10 >/dev/null
set +e

# UDP through the tunnel: 0 if the backend's socket got PAYLOAD.
# udp_through PAYLOAD WAIT OUTER_DST [OUTER_SRC [INNER_DST]]
udp_through() {
	be "$PROBE" recv 10.0.0.1 5000 "$1" "$2" >"$TMP/recv.out" 2>&1 &
	pid=$!
	i=0
	while ! grep -q listening "$TMP/recv.out" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 50 ] && break
		sleep 0.1
	done
	lb "$PROBE" send va "$VB_MAC" "${4:-192.0.2.1}" "$3" 198.51.100.7 \
		"${5:-10.0.0.1}" 5000 "$1"
	wait $pid
}

# --- decap attach / show / pins -------------------------------------------
ebpf decap attach vb --mode skb 2>/dev/null &&
	fail "attach without --allow-src/--vip accepted" ||
	ok "attach without the balancers and VIPs refused"
ebpf decap attach vb --mode skb --allow-src 192.0.2.1 2>/dev/null &&
	fail "attach without --vip accepted" || ok "attach without --vip refused"
ebpf decap attach vb --mode skb --any-src --allow-src 192.0.2.1 \
	--vip 10.0.0.1 2>/dev/null &&
	fail "--any-src with --allow-src accepted" ||
	ok "--any-src with --allow-src refused"
DECAP_ALLOW="--allow-src 192.0.2.1 --vip 10.0.0.1 --vip 2001:db8::1"
# shellcheck disable=SC2086
if ebpf decap attach vb --mode skb $DECAP_ALLOW; then ok "decap attach"; else fail "decap attach"; fi
be ip link show vb | grep -q "prog/xdp.*name tun_decap" &&
	ok "ip link shows tun_decap" || fail "ip link does not show tun_decap"
be ip link show vb | grep -q xdpgeneric &&
	ok "attached in skb mode" || fail "not in skb (xdpgeneric) mode"
for m in decap_stats decap_filter decap_cfg decap_src decap_vip decap_vip6; do
	[ -e "$PINS/edgelb/vb/$m" ] && ok "pinned $m" || fail "$m not pinned"
done
# shellcheck disable=SC2086
ebpf decap attach vb --mode skb $DECAP_ALLOW 2>/dev/null &&
	fail "second attach succeeded" || ok "second attach refused"
ebpf decap show vb >"$TMP/show.txt" || fail "decap show"
grep -q "decapsulated" "$TMP/show.txt" && ok "decap show" ||
	fail "decap show output: $(cat "$TMP/show.txt")"

# --- real traffic --------------------------------------------------------
udp_through hello-ipip 5 192.0.2.10 && ok "inner UDP delivered" ||
	fail "inner UDP not delivered: $(cat "$TMP/recv.out")"
lb "$PROBE" ping va "$VB_MAC" 192.0.2.1 192.0.2.10 198.51.100.7 10.0.0.1 &&
	ok "inner ICMP echo answered" || fail "inner ICMP echo not answered"
J=$(ebpf decap show vb -j)
echo "$J"
D=$(echo "$J" | counter decapsulated 1)
[ "$D" = 2 ] && ok "decapsulated = 2" || fail "decapsulated = '$D', expected 2"
DR=$(echo "$J" | counter dropped 1)
[ "$DR" = 0 ] && ok "dropped = 0" || fail "dropped = '$DR'"
echo "$J" | grep -q '"allow_src":\["192.0.2.1"\],"vips":\["10.0.0.1"\],"vips6":\["2001:db8::1"\]' &&
	ok "allow lists shown" || fail "allow lists not shown: $J"
# Who may tunnel: another source, or an inner destination that is no VIP,
# is dropped and counted, never handed to the kernel.
udp_through spoofed-src 1 192.0.2.10 192.0.2.66 &&
	fail "IPIP from a non-balancer delivered" ||
	ok "IPIP from a non-balancer not delivered"
udp_through not-a-vip 1 192.0.2.10 192.0.2.1 192.0.2.10
J=$(ebpf decap show vb -j)
RS=$(echo "$J" | counter refused_source 1)
[ "$RS" = 1 ] && ok "refused_source = 1" || fail "refused_source = '$RS': $J"
RV=$(echo "$J" | counter refused_vip 1)
[ "$RV" = 1 ] && ok "refused_vip = 1" || fail "refused_vip = '$RV': $J"
DR=$(echo "$J" | counter dropped 1)
[ "$DR" = 2 ] && ok "dropped = 2" || fail "dropped = '$DR', expected 2"
# The pinned map holds the same counters.
if command -v bpftool >/dev/null; then
	bpftool map dump pinned "$PINS/edgelb/vb/decap_stats" >/dev/null &&
		ok "pinned decap_stats readable" || fail "pinned decap_stats"
fi

# --- detach --------------------------------------------------------------
if ebpf decap detach vb; then ok "decap detach"; else fail "decap detach"; fi
be ip link show vb | grep -q "prog/xdp" &&
	fail "ip link still shows an XDP program" || ok "ip link shows none"
[ -e "$PINS/edgelb/vb" ] && fail "pins left behind" || ok "pins removed"
ebpf decap show vb 2>/dev/null && fail "show after detach" ||
	ok "show after detach fails"
ebpf decap detach vb 2>/dev/null && fail "second detach succeeded" ||
	ok "second detach refused"
# Negative control: without tun_decap the kernel does not deliver it.
udp_through no-decap 1 192.0.2.10 && fail "delivered without tun_decap" ||
	ok "not delivered without tun_decap"

# --- filter ---------------------------------------------------------------
ebpf decap attach vb --mode skb --any-src --any-vip --addr 192.0.2.99 ||
	fail "attach --addr"
udp_through filtered 1 192.0.2.10 && fail "filtered packet delivered" ||
	ok "outer destination not in the filter: not decapsulated"
J=$(ebpf decap show vb -j)
F=$(echo "$J" | counter filtered 1)
[ "$F" = 1 ] && ok "filtered = 1" || fail "filtered = '$F': $J"
echo "$J" | grep -q '"filter":true,"addresses":\["192.0.2.99"\]' &&
	ok "filter shown" || fail "filter not shown: $J"
ebpf decap detach vb || fail "detach after filter"

# --- steer ---------------------------------------------------------------
ebpf steer attach vb --mode skb || fail "steer attach"
ebpf decap detach vb 2>/dev/null && fail "decap detach removed xdp_steer" ||
	ok "decap detach leaves xdp_steer alone"
ebpf steer add vb 10.0.0.1 udp 5000 || fail "steer add"
ebpf steer add vb 10.0.0.1 neigh || fail "steer add neigh"
ebpf steer add vb 2001:db8::1 tcp 443 || fail "steer add v6"
ebpf steer add vb 10.0.0.1 udp 70000 2>/dev/null && fail "bad port accepted"
[ -e "$PINS/edgelb/vb/steer_map" ] && ok "steer_map pinned" ||
	fail "steer_map not pinned"
# UDP to the steered port: no XSK socket on vb, so it reaches the kernel
# and is counted as no_xsk; the plain ping is passed.
be "$PROBE" recv 10.0.0.1 5000 x 1 >/dev/null 2>&1 &
lb ping -c 1 -W 1 192.0.2.10 >/dev/null || fail "ping through xdp_steer"
wait
J=$(ebpf steer show vb -j)
echo "$J"
echo "$J" | grep -q '"match":"udp 10.0.0.1:5000"' && ok "steer entry shown" ||
	fail "steer entry missing"
echo "$J" | grep -q '"match":"tcp \[2001:db8::1\]:443"' &&
	ok "IPv6 steer entry shown" || fail "IPv6 steer entry missing"
P=$(echo "$J" | counter passed 1)
[ "${P:-0}" -ge 1 ] && ok "steer passed = $P" || fail "steer passed = '$P'"
ebpf steer del vb 10.0.0.1 udp 5000 || fail "steer del"
ebpf steer del vb 10.0.0.1 udp 5000 2>/dev/null && fail "second del succeeded"
ebpf steer show vb | grep -q "udp 10.0.0.1:5000" && fail "entry still shown" ||
	ok "entry deleted"
ebpf steer detach vb || fail "steer detach"
be ip link show vb | grep -q "prog/xdp" && fail "xdp_steer still attached" ||
	ok "steer detached"

[ $RC = 0 ] && echo "PASS" || echo "FAILED"
exit $RC
