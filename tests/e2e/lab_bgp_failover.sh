#!/usr/bin/env bash
# Failover that keeps connections, DR and TUNNEL with mh (docs/scale-out.md):
# the two-node ECMP topology of lab_bgp_ecmp.sh (bgp_lib.sh), with three
# services on the VIP, all scheduler mh, backends b1..b3 holding the VIP on
# lo and answering the client directly through the router:
#
#   dr     :80    DR,     mh_adopt = yes
#   tun    :8080  TUNNEL, mh_adopt = yes (backends decapsulate with
#                 edgelb-bpf's XDP program, outer source either node)
#   droff  :81    DR,     mh_adopt off (the default)
#
# FLOWS downloads per service (each from its own client address, so that
# mh spreads them over the backends) of BYTES bytes, each read at RATE
# bytes/s through a 64 KiB receive buffer (lbd_lib.sh's paced reader: the
# backend can only send what the client reads, so every download needs the
# balancers' forwarding of its ACKs until its last byte). Once every
# download has read KILL_AT bytes, node 1's dataplane is killed (SIGKILL);
# the router moves node 1's flows to node 2 once BGP withdraws node 1's path.
# Checks:
#   1. both nodes carried flows of each service before the kill;
#   2. every dr and tun download completes with the right sha256, and node 2
#      counted adopted connections (adopted_total);
#   3. some droff downloads break: without mh_adopt node 2 drops the moved
#      flows' segments (no_conn), which proves the option is what keeps them.
# Prints the share of downloads that survived per service.
# shellcheck source=lbd_lib.sh
source "$(dirname "$0")/lbd_lib.sh"
# shellcheck source=bgp_lib.sh
source "$(dirname "$0")/bgp_lib.sh"
LBD_NS_ALL+=(eld-lb2 eld-sw2 eld-cl)
lbd_begin bird birdc
EDGELB_BPF=$LBD_BUILD/tools/edgelb-bpf
[ -x "$EDGELB_BPF" ] || lbd_skip "$EDGELB_BPF is not built (libxdp-dev, clang)"
[ -e "$LBD_BUILD/bpf/tun_decap.o" ] || lbd_skip "bpf/tun_decap.o is not built (clang)"

VIP=$LBD_VIP
FLOWS=${LAB_FAILOVER_FLOWS:-20}
BYTES=${LAB_FAILOVER_BYTES:-1500000}
RATE=${LAB_FAILOVER_RATE:-200000}
KILL_AT=${LAB_FAILOVER_KILL_AT:-300000}
STALL=${LAB_FAILOVER_STALL_S:-30} # a download with no byte for STALL s fails
BIRD_DIR=$LBD_SRC/tests/lab/bird
RT_SOCK=$LBD_DIR/bird-router.ctl
N1=$LBD_DIR/n1
N2=$LBD_DIR/n2
PIN=/sys/fs/bpf/eld-failover
SERVICES=(dr tun droff)
declare -A PORT=([dr]=80 [tun]=8080 [droff]=81)

# ---- helpers -----------------------------------------------------------------------

# write_ini N EXT-IF EXT-IP INT-IF INT-IP CLIENT-GW METRICS LIVE-IF
write_ini() {
	local d=$LBD_DIR/n$1 b s mode adopt
	mkdir -p "$d"
	{
		cat <<-EOF
			[global]
			log_level = info
			ctl_socket = $d/ctl.sock
			state_file = $d/state.ini
			reconcile_interval = 30s
			shutdown_grace = 5s

			[dataplane]
			socket = $d/dp.sock
			mbufs = 8191
			route = 10.96.9.0/24 via $6

			[port ext]
			devargs = net_af_packet0,iface=$2
			address = $3/24

			[port int]
			devargs = net_af_packet1,iface=$4
			address = $5/24

			[metrics]
			listen = $7

			[healthcheck web]
			type = tcp
			interval = ${LBD_HC_INTERVAL_MS}ms
			timeout = ${LBD_HC_TIMEOUT_MS}ms
			rise = $LBD_HC_RISE
			fall = $LBD_HC_FALL
		EOF
		for s in "${SERVICES[@]}"; do
			mode=dr adopt=yes
			[ "$s" = tun ] && mode=tunnel
			[ "$s" = droff ] && adopt=no
			printf '\n[service %s]\nvip = %s:%s\nproto = tcp\nmode = %s\n' \
				"$s" "$VIP" "${PORT[$s]}" "$mode"
			printf 'scheduler = mh\nhealthcheck = web\n'
			[ "$adopt" = yes ] && printf 'mh_adopt = yes\n'
			for b in "${LBD_BACKENDS[@]}"; do
				echo "backend = $(lbd_backend_ip "$b"):${PORT[$s]} weight=1"
			done
		done
		cat <<-EOF

			[bgp]
			bird_socket = $d/bird.ctl
			include_file = $d/edgelb-vips.conf
			liveness_interface = $8
			check_interval = 100ms
			drain_grace = 5s
		EOF
	} >"$d/edgelb.ini"
	"$EDGELBD" --check -c "$d/edgelb.ini" >"$d/check.log" 2>&1 ||
		lbd_fail "edgelbd --check refuses node $1's INI file: $(cat "$d/check.log")"
}

# counter N KIND NAME [SERVICE]: the sum of NAME over node N's STATS_GET
# parts of KIND (of SERVICE, by name, when given).
counter() {
	"$LBCTL" --socket "$LBD_DIR/n$1/dp.sock" -j stats | python3 -c '
import json, sys
kind, name, svc = sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None
print(sum(int(p.get("counters", {}).get(name, 0)) for p in json.load(sys.stdin)
          if p.get("stats_kind") == kind and (svc is None or p.get("name") == svc)))
' "${@:2}"
}

# The paced reader, binding a client address; it writes the body to OUT
# and the bytes read so far to OUT.n, and fails when the connection ends
# early or nothing arrives for STALL seconds.
write_reader() {
	cat >"$LBD_DIR/reader.py" <<-'PY'
		import os, socket, sys, time
		src, vip, port, n, rate, out, stall = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], int(sys.argv[7])
		s = socket.socket()
		s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
		s.settimeout(stall)
		s.bind((src, 0))
		s.connect((vip, port))
		s.sendall(b"GET /bytes?n=%d HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n" % n)
		buf = b""
		while b"\r\n\r\n" not in buf:
		    d = s.recv(4096)
		    if not d:
		        sys.exit("no response header")
		    buf += d
		head, body = buf.split(b"\r\n\r\n", 1)
		if not head.startswith(b"HTTP/1.1 200"):
		    sys.exit("status: %r" % head.split(b"\r\n")[0])
		t0 = time.monotonic()
		got, mark = len(body), 0
		with open(out, "wb", buffering=0) as f:
		    f.write(body)
		    while got < n:
		        try:
		            d = s.recv(min(16384, n - got))
		        except socket.timeout:
		            sys.exit("stalled at %d of %d bytes" % (got, n))
		        if not d:
		            sys.exit("closed at %d of %d bytes" % (got, n))
		        f.write(d)
		        got += len(d)
		        if got - mark >= 65536 or got == n:
		            mark = got
		            with open(out + ".n.tmp", "w") as g:
		                g.write("%d\n" % got)
		            os.replace(out + ".n.tmp", out + ".n")
		        ahead = got / rate - (time.monotonic() - t0)
		        if ahead > 0:
		            time.sleep(ahead)
	PY
}

# Bytes download S-I has read so far (0 before its first report).
got() {
	local n
	n=$(cat "$LBD_DIR/dl/$1.n" 2>/dev/null) || n=0
	echo "${n:-0}"
}

# ---- the lab -------------------------------------------------------------------

bgp_ecmp_topology
# the backends answer the client directly: the router's leg on their
# bridge, the VIP on lo, no ARP for it, no reverse-path filter (replies
# from the VIP arrive on the bridge, not on the router's paths to the VIP)
lbd_veth "$LBD_NS_CLIENT" eldrb0 "$LBD_NS_SW" eldrbs
ip -n "$LBD_NS_SW" link set eldrbs master eldbr0
ip -n "$LBD_NS_CLIENT" addr add 10.96.2.254/24 dev eldrb0
ip netns exec "$LBD_NS_CLIENT" sysctl -q -w net.ipv4.conf.all.rp_filter=0 \
	net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.eldrb0.rp_filter=0
for b in "${LBD_BACKENDS[@]}"; do
	n=${b#b}
	ip -n "eld-$b" addr add "$VIP/32" dev lo
	ip -n "eld-$b" route add 10.96.9.0/24 via 10.96.2.254
	ip netns exec "eld-$b" sysctl -q -w net.ipv4.conf.all.arp_ignore=1 \
		net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 "net.ipv4.conf.eldbe$n.rp_filter=0" \
		net.ipv4.conf.lo.rp_filter=0
	ip netns exec "eld-$b" "$EDGELB_BPF" --pin-dir "$PIN/$b" decap attach \
		"eldbe$n" --mode skb --allow-src 10.96.2.1 --allow-src 10.96.2.2 \
		--vip "$VIP" >>"$LBD_DIR/bpf.log" 2>&1 ||
		lbd_fail "edgelb-bpf decap attach in eld-$b failed: $(tail -n 3 "$LBD_DIR/bpf.log")"
	lbd_backend_start "$b"
	lbd_backend_start "$b" 8080
	lbd_backend_start "$b" 81
done
# one client address per download of a service
for ((i = 0; i < FLOWS; i++)); do
	ip -n eld-cl addr add "10.96.9.$((10 + i))/24" dev eldcl0
done

write_ini 1 eldl0 10.96.1.1 eldl1 10.96.2.1 10.96.1.2 "$LBD_MGMT_IP:9190" eldalive1
write_ini 2 eld2l0 10.96.6.1 eld2l1 10.96.2.2 10.96.6.2 10.96.2.251:9190 eldalive2
bgp_ecmp_bird
node_start 1 "$LBD_NS_LB" "$LBD_NS_SW"
node_start 2 eld-lb2 eld-sw2
wait_hops "via 10.96.1.1 via 10.96.6.1 " 30
lbd_failed && exit 1

# a GET through each service first: the path works before we measure
for s in "${SERVICES[@]}"; do
	ip netns exec eld-cl curl -sS --fail --max-time 5 -o /dev/null \
		"http://$VIP:${PORT[$s]}/" || lbd_fail "GET through service $s failed"
done
lbd_failed && exit 1

# ---- the downloads and the kill -------------------------------------------------------
write_reader
want=$(python3 "$(dirname "$0")/bytes_sha256.py" "$BYTES")
mkdir -p "$LBD_DIR/dl"
declare -A c1 c2 rpid
for s in "${SERVICES[@]}"; do
	c1[$s]=$(counter 1 service conns_total "$s")
	c2[$s]=$(counter 2 service conns_total "$s")
done
for s in "${SERVICES[@]}"; do
	for ((i = 0; i < FLOWS; i++)); do
		ip netns exec eld-cl python3 "$LBD_DIR/reader.py" "10.96.9.$((10 + i))" \
			"$VIP" "${PORT[$s]}" "$BYTES" "$RATE" "$LBD_DIR/dl/$s-$i" "$STALL" \
			2>"$LBD_DIR/dl/$s-$i.err" 8>&- &
		rpid[$s-$i]=$!
	done
done
# every download under way (KILL_AT bytes read), at most 20 s
deadline=$((SECONDS + 20))
for s in "${SERVICES[@]}"; do
	for ((i = 0; i < FLOWS; i++)); do
		until [ "$(got "$s-$i")" -ge "$KILL_AT" ]; do
			((SECONDS < deadline)) || break 3
			sleep 0.05
		done
	done
done
slow=0
for s in "${SERVICES[@]}"; do
	for ((i = 0; i < FLOWS; i++)); do
		[ "$(got "$s-$i")" -ge "$KILL_AT" ] || {
			slow=$((slow + 1))
			lbd_log "service $s download $i: $(got "$s-$i") bytes read; $(cat "$LBD_DIR/dl/$s-$i.err")"
		}
	done
done
((slow == 0)) || lbd_fail "$slow downloads had not read $KILL_AT bytes after 20 s"
for s in "${SERVICES[@]}"; do
	d1=$(counter 1 service conns_total "$s")
	d2=$(counter 2 service conns_total "$s")
	d1=$((d1 - c1[$s])) d2=$((d2 - c2[$s]))
	lbd_log "service $s: node 1 took $d1, node 2 $d2 of the $FLOWS downloads"
	((d1 > 0 && d2 > 0)) || lbd_fail "service $s: node 1 took $d1 and node 2 $d2 downloads; both must carry some for the kill to mean anything"
done
a0=$(counter 2 conntab adopted_total)
n0=$(counter 2 drop no_conn)
pid=$(lbd_pid edgelb-dp1)
left=$(for s in "${SERVICES[@]}"; do for ((i = 0; i < FLOWS; i++)); do got "$s-$i"; done; done | sort -n | head -n 1)
t_kill=$(lbd_now_ms)
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
t_dead=$(lbd_now_ms)
rm -f "$LBD_DIR/edgelb-dp1.pid"
lbd_log "node 1's dataplane killed (gone after $((t_dead - t_kill)) ms); the slowest download had read $left of $BYTES bytes"
wait_hops "via 10.96.6.1 " 20
t_hops=$(lbd_now_ms)
lbd_log "the router's route to the VIP: $(kernel_hops) $((t_hops - t_kill)) ms after the kill"

# ---- the outcome ---------------------------------------------------------------
declare -A ok
for s in "${SERVICES[@]}"; do
	ok[$s]=0
	for ((i = 0; i < FLOWS; i++)); do
		if wait "${rpid[$s-$i]}"; then
			got_sum=$(sha256sum "$LBD_DIR/dl/$s-$i" | cut -d' ' -f1)
			if [ "$got_sum" = "$want" ]; then
				ok[$s]=$((ok[$s] + 1))
			else
				lbd_log "service $s download $i: sha256 $got_sum, expected $want"
			fi
		else
			lbd_log "service $s download $i failed: $(tail -n 1 "$LBD_DIR/dl/$s-$i.err")"
		fi
	done
done
adopted=$(counter 2 conntab adopted_total)
noconn=$(counter 2 drop no_conn)
adopted=$((adopted - a0)) noconn=$((noconn - n0))
for s in "${SERVICES[@]}"; do
	lbd_log "service $s: ${ok[$s]} of $FLOWS downloads survived ($((100 * ok[$s] / FLOWS))%)"
done
lbd_log "node 2: $adopted connections adopted, $noconn segments dropped as no_conn after the kill"
lbd_log "the router's route to the VIP at the end: '$(kernel_hops)'"
((ok[dr] == FLOWS)) || lbd_fail "dr with mh_adopt: ${ok[dr]} of $FLOWS downloads survived, want all"
((ok[tun] == FLOWS)) || lbd_fail "tun with mh_adopt: ${ok[tun]} of $FLOWS downloads survived, want all"
((adopted > 0)) || lbd_fail "node 2 adopted no connection"
((ok[droff] < FLOWS)) || lbd_fail "droff without mh_adopt: all $FLOWS downloads survived, so the lab does not show what the option does"
((noconn > 0)) || lbd_fail "node 2 dropped nothing as no_conn"

lbd_end
