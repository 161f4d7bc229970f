#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# edgelb-dp keeps xdp_steer's steer_map in sync on a net_af_xdp port.
#
# In a namespace of its own, edgelb-dp runs on one end of a veth pair
# (copy-mode AF_XDP) whose kernel side holds its own address 10.88.0.2;
# the dataplane's port address is 10.88.0.3. The maps are pinned on a
# bpffs this test mounts (xdp_pin_dir), and the PINNED steer_map is read
# with bpftool after every change made over dp.sock:
#   - at start: the port address only (never the kernel's address);
#   - services, local addresses and port addresses added and removed,
#     with shared addresses (two services on one VIP, a VIP equal to the
#     port address) kept while any owner remains;
#   - a VIP equal to the kernel's address is not steered;
#   - STATS_GET's xdp part and edgelb-bpf see the same map; ping to the
#     port address is redirected, ping to the kernel's address passed;
#   - SIGTERM removes the pins;
#   - xdp_steer = no: no steer_map, DPDK's own program takes everything.
#
# usage: test_xdp_steer.sh EDGELB_DP LBCTL EDGELB_BPF  (EDGELB_BPF_DIR set)
# Exit 0 pass, 1 fail, 77 skip (not root, no bpftool, no objects, no
# AF_XDP in the kernel or in DPDK).

DP=$1
LBCTL=$2
BPF=$3

skip() {
	echo "SKIP: $*"
	exit 77
}

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, XDP)"
command -v bpftool >/dev/null || skip "no bpftool (Debian: bpftool)"
command -v python3 >/dev/null || skip "no python3"
[ -r "${EDGELB_BPF_DIR:-/nonexistent}/xdp_steer.o" ] ||
	skip "no xdp_steer.o in ${EDGELB_BPF_DIR:-(EDGELB_BPF_DIR unset)}"
ls /usr/lib/*/dpdk/pmds-*/librte_net_af_xdp.so* >/dev/null 2>&1 ||
	ls /usr/local/lib/*/dpdk/pmds-*/librte_net_af_xdp.so* >/dev/null 2>&1 ||
	skip "DPDK has no net_af_xdp driver"
python3 -c 'import socket; socket.socket(44, socket.SOCK_RAW).close()' \
	2>/dev/null || skip "the kernel has no AF_XDP sockets"

NS=elbt-xs-$$
CL=elbt-xc-$$
TMP=$(mktemp -d /tmp/elbt-xdp.XXXXXX)
PIN=$TMP/bpffs/edgelb/xs0
DPPID=
RC=0

cleanup() {
	if [ -n "$DPPID" ]; then
		kill -TERM "$DPPID" 2>/dev/null
		for _ in $(seq 30); do
			kill -0 "$DPPID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$DPPID" 2>/dev/null
		wait "$DPPID" 2>/dev/null
	fi
	ip netns del "$NS" 2>/dev/null
	ip netns del "$CL" 2>/dev/null
	umount "$TMP/bpffs" 2>/dev/null
	if [ -n "${DP_TEST_KEEP:-}" ]; then
		echo "kept $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "FAIL: $*"
	RC=1
}

ok() {
	echo "ok: $*"
}

lbctl() {
	"$LBCTL" --socket "$TMP/dp.sock" "$@"
}

# The pinned steer_map as sorted lines "PROTO ADDR[:PORT] FLAGS", from
# the raw key bytes (family, proto, port, addr[16]).
pinned_keys() {
	bpftool -j map dump pinned "$PIN/steer_map" 2>/dev/null |
		python3 -c '
import ipaddress, json, sys
out = []
for e in json.load(sys.stdin):
    k = [int(b, 16) for b in e["key"]]
    v = [int(b, 16) for b in e["value"]]
    fam, proto, port = k[0], k[1], k[2] << 8 | k[3]
    a = bytes(k[4:8]) if fam == 2 else bytes(k[4:20])
    addr = str(ipaddress.ip_address(a))
    name = {0: "any", 6: "tcp", 17: "udp"}.get(proto, str(proto))
    flags = int.from_bytes(bytes(v[:4]), "little")
    out.append("%s %s%s %d" % (name, addr, ":%d" % port if port else "", flags))
print(" | ".join(sorted(out)))
'
}

# expect_keys WHAT "KEY | KEY ...": the pinned map holds exactly these keys.
expect_keys() {
	local what=$1 want got i
	want=$(tr '|' '\n' <<<"$2" | sed 's/^ *//; s/ *$//' | LC_ALL=C sort |
		paste -sd '|' | sed 's/|/ | /g')
	# port addresses are synced from the control loop: allow 2 s
	for i in $(seq 20); do
		got=$(pinned_keys)
		[ "$got" = "$want" ] && break
		sleep 0.1
	done
	if [ "$got" = "$want" ]; then
		ok "$what: steer_map = [$got]"
	else
		fail "$what: steer_map = [$got], expected [$want]"
	fi
}

# Counter NAME of the xdp part of port ext in STATS_GET.
xdp_stat() {
	lbctl -j stats | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("stats_kind") == "xdp" and p.get("ifname") == "ext":
        print(p["counters"][sys.argv[1]])
' "$1"
}

# write_ini XDP_STEER [DATAPLANE-LINE]: the INI for port ext on xs0.
write_ini() {
	cat >"$TMP/dp.ini" <<-EOF
		[dataplane]
		socket = $TMP/dp.sock
		mbufs = 4095
		xdp_pin_dir = $TMP/bpffs/edgelb
		${2:-}

		[port ext]
		devargs = net_af_xdp0,iface=xs0,start_queue=0,queue_count=1
		address = 10.88.0.3/24
		xdp_steer = $1
	EOF
}

# run_dp: replace the calling (sub)shell by edgelb-dp in the namespace.
run_dp() {
	local ncpu
	ncpu=$(nproc)
	rm -f "$TMP/dp.sock"
	ulimit -l unlimited 2>/dev/null
	# exec: the caller's $! is edgelb-dp itself
	exec ip netns exec "$NS" "$DP" --no-huge -m 512 --no-pci --no-shconf \
		--file-prefix "elbt-xs-$$" \
		--lcores "0@0,1@$((ncpu > 1 ? 1 : 0))" \
		-- -c "$TMP/dp.ini" >"$TMP/dp.log" 2>&1
}

# start_fail WHAT DATAPLANE-LINE MESSAGE: edgelb-dp refuses to start with
# MESSAGE on stderr.
start_fail() {
	local rc
	write_ini yes "$2"
	timeout 60 bash -c "$(declare -f run_dp); NS=$NS DP=$DP TMP=$TMP run_dp"
	rc=$?
	if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -qF "$3" "$TMP/dp.log"; then
		ok "$1: refused (exit $rc): $(grep -F "$3" "$TMP/dp.log")"
	else
		fail "$1: exit $rc, expected a failure saying '$3': $(cat "$TMP/dp.log")"
	fi
}

# start_dp XDP_STEER: write the INI and start edgelb-dp; waits for dp.sock.
start_dp() {
	local i
	write_ini "$1"
	run_dp &
	DPPID=$!
	for i in $(seq 150); do
		[ -S "$TMP/dp.sock" ] && lbctl port show >/dev/null 2>&1 &&
			return 0
		kill -0 "$DPPID" 2>/dev/null || break
		sleep 0.2
	done
	echo "edgelb-dp did not start:"
	cat "$TMP/dp.log"
	return 1
}

# stop_dp: SIGTERM, and the exit status must be 0.
stop_dp() {
	local rc
	kill -TERM "$DPPID"
	wait "$DPPID"
	rc=$?
	DPPID=
	[ "$rc" = 0 ] && ok "edgelb-dp exited cleanly" ||
		fail "edgelb-dp exited with $rc"
}

set -e
mkdir -p "$TMP/bpffs"
mount -t bpf bpf "$TMP/bpffs"
ip netns add "$NS"
ip netns add "$CL"
ip link add xs0 netns "$NS" type veth peer name xc0 netns "$CL"
ip netns exec "$NS" ethtool -K xs0 tx off >/dev/null 2>&1 || true
ip netns exec "$CL" ethtool -K xc0 tx off >/dev/null 2>&1 || true
ip -n "$NS" link set xs0 up
ip -n "$CL" link set xc0 up
ip -n "$NS" addr add 10.88.0.2/24 dev xs0
ip -n "$CL" addr add 10.88.0.1/24 dev xc0
set +e

# ---- configuration errors ----------------------------------------------------
start_fail "relative xdp_prog" "xdp_prog = xdp_steer.o" \
	"[dataplane] xdp_prog: need an absolute path"
start_fail "missing xdp_prog" "xdp_prog = $TMP/none.o" \
	"[dataplane] xdp_prog: cannot read $TMP/none.o"
start_fail "bad xdp_steer" "xdp_steer = maybe" \
	"[dataplane] xdp_steer: 'maybe' is not yes or no"
ip -n "$NS" link show xs0 | grep -q "prog/xdp" &&
	fail "a refused start left an XDP program on xs0"

# ---- steering on (the default) --------------------------------------------
start_dp yes || exit 1
grep -q "xdp_prog=$EDGELB_BPF_DIR/xdp_steer.o" "$TMP/dp.log" &&
	ok "xdp_prog= added to the devargs" ||
	fail "the devargs did not get xdp_prog=: $(grep 'port ext' "$TMP/dp.log")"
ip -n "$NS" link show xs0 | grep -q "prog/xdp" &&
	ok "an XDP program is attached to xs0" || fail "no XDP program on xs0"
[ -e "$PIN/steer_map" ] && [ -e "$PIN/steer_stats" ] &&
	ok "maps pinned in $PIN" || fail "no pins in $PIN: $(ls -R "$TMP/bpffs")"

P="any 10.88.0.3 0"
expect_keys "at start" "$P"

lbctl service add tcp 10.88.0.100:80 mode fnat sched rr || fail "service add"
expect_keys "tcp service on 10.88.0.100" "$P | any 10.88.0.100 0"
lbctl laddr add tcp 10.88.0.100:80 10.88.0.50 || fail "laddr add"
expect_keys "local address 10.88.0.50" \
	"any 10.88.0.100 0 | $P | any 10.88.0.50 0"
lbctl service add udp 10.88.0.100:53 mode dr sched rr || fail "service add udp"
expect_keys "second service on the same VIP" \
	"any 10.88.0.100 0 | $P | any 10.88.0.50 0"
lbctl service del tcp 10.88.0.100:80 || fail "service del tcp"
expect_keys "tcp service deleted (udp keeps the VIP)" \
	"$P | any 10.88.0.100 0"
lbctl service del udp 10.88.0.100:53 || fail "service del udp"
expect_keys "last service on the VIP deleted" "$P"

lbctl addr add 10.88.0.4/24 dev ext || fail "addr add"
expect_keys "port address 10.88.0.4 added" "$P | any 10.88.0.4 0"
lbctl addr del 10.88.0.4/24 dev ext || fail "addr del"
expect_keys "port address 10.88.0.4 deleted" "$P"

lbctl service add tcp 10.88.0.3:8080 mode dr sched rr || fail "service add"
lbctl service del tcp 10.88.0.3:8080 || fail "service del"
expect_keys "service on the port address came and went" "$P"

lbctl service add tcp 10.88.0.2:80 mode dr sched rr || fail "service add"
expect_keys "VIP equal to the kernel's address" "$P"
grep -q "10.88.0.2 is also the kernel's address on xs0" "$TMP/dp.log" &&
	ok "warned about the kernel's address" ||
	fail "no warning about the kernel's address"
lbctl service del tcp 10.88.0.2:80 || fail "service del"

# traffic: the port address goes to the dataplane, the kernel's to the kernel
ip netns exec "$CL" ping -c 3 -i 0.2 -W 2 10.88.0.3 >/dev/null &&
	ok "ping to the port address answered (by the dataplane)" ||
	fail "ping to the port address 10.88.0.3 not answered"
ip netns exec "$CL" ping -c 3 -i 0.2 -W 2 10.88.0.2 >/dev/null &&
	ok "ping to the kernel's address answered (by the kernel)" ||
	fail "ping to the kernel's address 10.88.0.2 not answered"
red=$(xdp_stat redirected_packets_total)
pas=$(xdp_stat passed_packets_total)
ent=$(xdp_stat entries)
echo "STATS_GET xdp ext: redirected $red, passed $pas, entries $ent"
[ "${red:-0}" -ge 3 ] && ok "redirected $red >= 3" ||
	fail "redirected '$red', expected >= 3 (3 echo requests)"
[ "${pas:-0}" -ge 3 ] && ok "passed $pas >= 3" ||
	fail "passed '$pas', expected >= 3 (3 echo requests)"
[ "$ent" = 1 ] && ok "entries = 1" || fail "entries '$ent', expected 1"
show=$(ip netns exec "$NS" "$BPF" steer show xs0 -j)
grep -q '"entries":\[{"match":"any 10.88.0.3","flags":0}\]' <<<"$show" &&
	ok "edgelb-bpf steer show finds the same map" ||
	fail "edgelb-bpf steer show: $show"
lbctl stats zero || fail "stats zero"
red=$(xdp_stat redirected_packets_total)
[ "$red" = 0 ] && ok "STATS_ZERO zeroes the steering counters" ||
	fail "redirected '$red' after STATS_ZERO"

stop_dp
[ ! -e "$PIN/steer_map" ] && [ ! -d "$PIN" ] && ok "pins removed at exit" ||
	fail "pins left behind: $(ls "$PIN" 2>&1)"
ip -n "$NS" link show xs0 | grep -q "prog/xdp" &&
	fail "an XDP program is still attached after exit"

# ---- steering off: DPDK's own program redirects everything --------------------
start_dp no || exit 1
grep -q "xdp_prog=" "$TMP/dp.log" && fail "xdp_prog= added with xdp_steer = no"
[ ! -e "$PIN" ] && ok "xdp_steer = no: nothing pinned" || fail "pins with xdp_steer = no"
ip netns exec "$NS" "$BPF" steer show xs0 >/dev/null 2>&1 &&
	fail "xdp_steer = no: edgelb-bpf found a steer_map"
[ -z "$(xdp_stat entries)" ] && ok "xdp_steer = no: no xdp part in STATS_GET" ||
	fail "xdp_steer = no: STATS_GET has an xdp part"
ip netns exec "$CL" ping -c 2 -i 0.2 -W 2 10.88.0.3 >/dev/null &&
	ok "xdp_steer = no: the dataplane answers its address" ||
	fail "xdp_steer = no: ping 10.88.0.3 not answered"
ip netns exec "$CL" ping -c 2 -i 0.2 -W 1 10.88.0.2 >/dev/null &&
	fail "xdp_steer = no: the kernel still got its traffic" ||
	ok "xdp_steer = no: the kernel's address is unreachable (all to the dataplane)"
stop_dp

if [ "$RC" != 0 ]; then
	echo "---- edgelb-dp log"
	cat "$TMP/dp.log"
	echo "FAILED"
else
	echo "PASS"
fi
exit $RC
