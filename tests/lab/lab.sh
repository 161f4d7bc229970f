#!/usr/bin/env bash
# The edgelb network-namespace lab: real kernels as client, router and
# backends around a load balancer namespace.
#
#   lab.sh up MODE [--lb dp|kernel] [--workers N] [--port-type af_packet|af_xdp]
#                  [--sched NAME] [--weights "1 2 3"] [--no-service]
#                  [--ext-mtu N]   (edgelb-dp's client-side port MTU)
#   lab.sh down
#   lab.sh status
#   lab.sh demo
#   lab.sh run-test NAME        (tests/e2e/NAME.sh)
#
# MODE is dr, nat, tunnel or fnat. --lb dp (default) runs edgelb-dp on the
# LB namespace's two veth ends; --lb kernel makes the LB namespace a plain
# Linux NAT balancer with nftables (mode nat only), which proves the lab
# itself and is the baseline edgelb is compared with.
#
# Topology (docs/testing.md has the picture):
#   elb-client  elb-c0 10.99.1.2/24 ── elb-r0 10.99.1.1/24   elb-router
#   elb-router  elb-r1 10.99.2.1/24 ── elb-l0 "ext" 10.99.2.2  elb-lb
#   elb-router  elb-r2 10.99.3.254/24 ─┐
#   elb-lb      elb-l1 "int" 10.99.3.1 ─┤ bridge elb-br0 in elb-sw
#   elb-bN      elb-beN 10.99.3.1N/24 ─┘ (N = 1, 2, 3)
# The VIP 198.18.0.10 (TCP 80, UDP 9000) is on-link on the router's elb-r1,
# so the router resolves it by ARP, as a real upstream router would.
#
# The file can be sourced (tests/e2e do): it then only defines functions.
# Every namespace, interface and file the lab makes is named elb-* or
# lives in $LAB_DIR, so "down" removes exactly what "up" made, including
# after a crash.

LAB_SRC=${EDGELB_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LAB_BUILD=${EDGELB_BUILD:-$LAB_SRC/build}
LAB_DIR=${EDGELB_LAB_DIR:-/run/edgelb-lab}
LAB_BPF_PIN=/sys/fs/bpf/elb-lab
LAB_LOCK=${EDGELB_LAB_LOCK:-/run/edgelb-lab.lock}
LAB_LOCK_FD=9 # held for the life of a test or demo; closed in daemons

LAB_NS_CLIENT=elb-client
LAB_NS_ROUTER=elb-router
LAB_NS_LB=elb-lb
LAB_NS_SW=elb-sw
LAB_BACKENDS=(b1 b2 b3)
LAB_NS_ALL=(elb-client elb-router elb-lb elb-sw elb-b1 elb-b2 elb-b3)

LAB_CLIENT_IP=10.99.1.2
LAB_ROUTER_CLIENT_IP=10.99.1.1
LAB_ROUTER_EXT_IP=10.99.2.1
LAB_LB_EXT_IP=10.99.2.2
LAB_LB_INT_IP=10.99.3.1
LAB_ROUTER_INT_IP=10.99.3.254
LAB_LADDR=10.99.3.100
LAB_VIP=198.18.0.10
LAB_TCP_PORT=80
LAB_UDP_PORT=9000

lab_backend_ip() { # b1 -> 10.99.3.11
	echo "10.99.3.1${1#b}"
}

lab_say() { printf 'lab: %s\n' "$*" >&2; }
lab_die() {
	printf 'lab: error: %s\n' "$*" >&2
	return 1
}

lab_ns() { # NS CMD...: run in a lab namespace
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}
lab_ns_exists() { [ -e "/run/netns/$1" ]; }
lab_client() { ip netns exec "$LAB_NS_CLIENT" "$@"; }
lab_router() { ip netns exec "$LAB_NS_ROUTER" "$@"; }
lab_lb() { ip netns exec "$LAB_NS_LB" "$@"; }

lab_bin() { # NAME: path of a built program, or fail
	local p
	case $1 in
	edgelb-dp) p=$LAB_BUILD/dataplane/edgelb-dp ;;
	lbctl) p=$LAB_BUILD/tools/lbctl/lbctl ;;
	lab-backend | edgelb-gen) p=$LAB_BUILD/tests/lab/$1 ;;
	*) p=$LAB_BUILD/tools/$1 ;;
	esac
	[ -x "$p" ] || {
		lab_die "$p is not built (ninja -C $LAB_BUILD)"
		return 1
	}
	echo "$p"
}

lab_lbctl() { # lbctl on the lab's dp.sock
	"$(lab_bin lbctl)" --socket "$LAB_DIR/dp.sock" "$@"
}

# One lab per machine: a test, the demo or an up/down waits (at most
# 15 min) for another to finish. Idempotent within a process; programs
# the lab starts in the background close the fd, so that the lock dies
# with its holder.
lab_lock() {
	[ "${LAB_LOCK_HELD:-}" = "$BASHPID" ] && return 0
	eval "exec $LAB_LOCK_FD>>\"\$LAB_LOCK\""
	if ! flock -n "$LAB_LOCK_FD"; then
		lab_say "another lab run holds $LAB_LOCK; waiting"
		flock -w 900 "$LAB_LOCK_FD" || {
			lab_die "$LAB_LOCK still held after 15 minutes"
			return 1
		}
	fi
	LAB_LOCK_HELD=$BASHPID
}

# ---- teardown ---------------------------------------------------------

# Stop a process recorded in $LAB_DIR/NAME.pid: TERM, then KILL after 3 s.
lab_stop_pidfile() {
	local f=$1 pid i
	[ -f "$f" ] || return 0
	pid=$(cat "$f" 2>/dev/null || true)
	rm -f "$f"
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 30; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

lab_down() {
	local f ns pid
	# The dataplane first: it holds the LB's interfaces.
	lab_stop_pidfile "$LAB_DIR/edgelb-dp.pid"
	for f in "$LAB_DIR"/*.pid; do
		[ -e "$f" ] && lab_stop_pidfile "$f"
	done
	# Anything else still running inside our namespaces was started there
	# by the lab (a test's socat, curl, ...).
	for ns in "${LAB_NS_ALL[@]}"; do
		lab_ns_exists "$ns" || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
	done
	for ns in "${LAB_NS_ALL[@]}"; do
		if lab_ns_exists "$ns"; then
			ip netns del "$ns" 2>/dev/null || true
		fi
	done
	rm -rf "$LAB_BPF_PIN" 2>/dev/null || true
	# Keep the logs of the last run for a post-mortem; drop the rest.
	if [ -d "$LAB_DIR" ]; then
		rm -f "$LAB_DIR/dp.sock" "$LAB_DIR"/*.pid
	fi
}

# Print the tail of every lab log (for failures).
lab_logs() {
	local f
	for f in "$LAB_DIR"/*.log; do
		[ -s "$f" ] || continue
		printf '\n---- %s (last 30 lines)\n' "$f" >&2
		tail -n 30 "$f" >&2
	done
}

# ---- topology -----------------------------------------------------------

lab_veth() { # NS1 IF1 NS2 IF2 [extra ip-link args for the pair]
	local ns1=$1 if1=$2 ns2=$3 if2=$4
	shift 4
	ip link add "$if1" netns "$ns1" "$@" type veth peer name "$if2" \
		netns "$ns2" "$@"
	# veth leaves TCP/UDP checksums partial when TX offload is on, and
	# AF_PACKET/AF_XDP readers then forward broken packets: every end
	# computes its checksums in software.
	ip netns exec "$ns1" ethtool -K "$if1" tx off >/dev/null
	ip netns exec "$ns2" ethtool -K "$if2" tx off >/dev/null
	ip -n "$ns1" link set "$if1" up
	ip -n "$ns2" link set "$if2" up
}

lab_sysctl() { # NS KEY=VALUE...
	local ns=$1
	shift
	ip netns exec "$ns" sysctl -q -w "$@" >/dev/null
}

# Build namespaces, links and addresses. MODE decides the backends'
# routes and loopback VIP; LB decides whether the LB kernel gets addresses.
lab_topology() {
	local mode=$1 lb=$2 queues=${3:-1} ns b n ip
	for ns in "${LAB_NS_ALL[@]}"; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		# No IPv6 chatter (router solicitations, MLD) on the lab links.
		lab_sysctl "$ns" net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1
	done
	# The LB's interfaces get one queue per worker: af_xdp serves queues
	# 0..workers-1 only (af_packet ignores queues).
	lab_veth "$LAB_NS_CLIENT" elb-c0 "$LAB_NS_ROUTER" elb-r0
	lab_veth "$LAB_NS_ROUTER" elb-r1 "$LAB_NS_LB" elb-l0 \
		numtxqueues "$queues" numrxqueues "$queues"
	ip -n "$LAB_NS_SW" link add elb-br0 type bridge
	ip -n "$LAB_NS_SW" link set elb-br0 up
	lab_veth "$LAB_NS_LB" elb-l1 "$LAB_NS_SW" elb-sl \
		numtxqueues "$queues" numrxqueues "$queues"
	lab_veth "$LAB_NS_ROUTER" elb-r2 "$LAB_NS_SW" elb-sr
	ip -n "$LAB_NS_SW" link set elb-sl master elb-br0
	ip -n "$LAB_NS_SW" link set elb-sr master elb-br0

	ip -n "$LAB_NS_CLIENT" addr add "$LAB_CLIENT_IP/24" dev elb-c0
	ip -n "$LAB_NS_CLIENT" route add default via "$LAB_ROUTER_CLIENT_IP"

	ip -n "$LAB_NS_ROUTER" addr add "$LAB_ROUTER_CLIENT_IP/24" dev elb-r0
	ip -n "$LAB_NS_ROUTER" addr add "$LAB_ROUTER_EXT_IP/24" dev elb-r1
	ip -n "$LAB_NS_ROUTER" addr add "$LAB_ROUTER_INT_IP/24" dev elb-r2
	ip -n "$LAB_NS_ROUTER" route add "$LAB_VIP/32" dev elb-r1
	# DR and TUNNEL replies come back from the VIP through elb-r2.
	lab_sysctl "$LAB_NS_ROUTER" net.ipv4.ip_forward=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	for ip in elb-r0 elb-r1 elb-r2; do
		lab_sysctl "$LAB_NS_ROUTER" "net.ipv4.conf.$ip.rp_filter=0"
	done

	for b in "${LAB_BACKENDS[@]}"; do
		n=${b#b}
		ns=elb-$b
		lab_veth "$ns" "elb-be$n" "$LAB_NS_SW" "elb-s$n"
		ip -n "$LAB_NS_SW" link set "elb-s$n" master elb-br0
		ip -n "$ns" addr add "$(lab_backend_ip "$b")/24" dev "elb-be$n"
		case $mode in
		nat) ip -n "$ns" route add default via "$LAB_LB_INT_IP" ;;
		*) ip -n "$ns" route add default via "$LAB_ROUTER_INT_IP" ;;
		esac
		case $mode in
		dr | tunnel)
			ip -n "$ns" addr add "$LAB_VIP/32" dev lo
			lab_sysctl "$ns" net.ipv4.conf.all.arp_ignore=1 \
				net.ipv4.conf.all.arp_announce=2 \
				net.ipv4.conf.all.rp_filter=0 \
				net.ipv4.conf.default.rp_filter=0 \
				"net.ipv4.conf.elb-be$n.rp_filter=0" \
				net.ipv4.conf.lo.rp_filter=0
			;;
		esac
	done

	if [ "$lb" = kernel ]; then
		ip -n "$LAB_NS_LB" addr add "$LAB_LB_EXT_IP/24" dev elb-l0
		ip -n "$LAB_NS_LB" addr add "$LAB_LB_INT_IP/24" dev elb-l1
		ip -n "$LAB_NS_LB" addr add "$LAB_VIP/32" dev lo
		ip -n "$LAB_NS_LB" route add 10.99.1.0/24 via "$LAB_ROUTER_EXT_IP"
		lab_sysctl "$LAB_NS_LB" net.ipv4.ip_forward=1
	else
		# The dataplane owns elb-l0/elb-l1: the LB kernel must neither
		# route nor answer on them.
		lab_sysctl "$LAB_NS_LB" net.ipv4.ip_forward=0
		ip -n "$LAB_NS_LB" link set elb-l0 arp off
		ip -n "$LAB_NS_LB" link set elb-l1 arp off
	fi
}

# ---- backends -------------------------------------------------------------

lab_start_backends() {
	local bin b n=0 deadline
	bin=$(lab_bin lab-backend) || return 1
	for b in "${LAB_BACKENDS[@]}"; do
		ip netns exec "elb-$b" "$bin" --name "$b" \
			--tcp-port "$LAB_TCP_PORT" --udp-port "$LAB_UDP_PORT" \
			--toa >"$LAB_DIR/backend-$b.log" 2>&1 9>&- &
		echo $! >"$LAB_DIR/backend-$b.pid"
	done
	deadline=$((SECONDS + 10))
	for b in "${LAB_BACKENDS[@]}"; do
		until lab_router curl -s --max-time 1 -o /dev/null \
			"http://$(lab_backend_ip "$b"):$LAB_TCP_PORT/"; do
			((SECONDS < deadline)) || {
				lab_die "backend $b does not answer"
				return 1
			}
			sleep 0.2
		done
		n=$((n + 1))
	done
	lab_say "$n backends serving HTTP on :$LAB_TCP_PORT and UDP echo on :$LAB_UDP_PORT"
}

# Attach the IPIP decapsulation XDP program for TUNNEL mode: only what
# the LB (its address on the backend subnet, the tunnel's outer source)
# sends to the VIP is decapsulated.
lab_attach_decap() {
	local bin b n
	bin=$(lab_bin edgelb-bpf) || return 1
	for b in "${LAB_BACKENDS[@]}"; do
		n=${b#b}
		ip netns exec "elb-$b" "$bin" --pin-dir "$LAB_BPF_PIN/$b" \
			decap attach "elb-be$n" --mode skb \
			--allow-src "$LAB_LB_INT_IP" --vip "$LAB_VIP" \
			>>"$LAB_DIR/bpf.log" 2>&1 || {
			lab_die "edgelb-bpf decap attach elb-be$n failed (see $LAB_DIR/bpf.log)"
			return 1
		}
	done
}

# ---- the kernel balancer (nftables) ---------------------------------------

# "1 2 3" -> "0 : 10.99.3.11, 1-2 : 10.99.3.12, 3-5 : 10.99.3.13"; sets
# LAB_NFT_MOD to the weight sum.
lab_nft_map() {
	local -a w=($1)
	local i=0 lo=0 hi map="" sep=""
	for ((i = 0; i < ${#LAB_BACKENDS[@]}; i++)); do
		((w[i] > 0)) || continue
		hi=$((lo + w[i] - 1))
		if ((hi == lo)); then
			map+="$sep$lo : $(lab_backend_ip "${LAB_BACKENDS[i]}")"
		else
			map+="$sep$lo-$hi : $(lab_backend_ip "${LAB_BACKENDS[i]}")"
		fi
		sep=", "
		lo=$((hi + 1))
	done
	LAB_NFT_MOD=$lo
	LAB_NFT_MAP=$map
}

lab_start_kernel_lb() {
	local weights=$1
	lab_nft_map "$weights"
	lab_lb nft -f - <<-EOF
		table ip elb {
			chain pre {
				type nat hook prerouting priority dstnat; policy accept;
				ip daddr $LAB_VIP tcp dport $LAB_TCP_PORT dnat to numgen inc mod $LAB_NFT_MOD map { $LAB_NFT_MAP }
				ip daddr $LAB_VIP udp dport $LAB_UDP_PORT dnat to numgen inc mod $LAB_NFT_MOD map { $LAB_NFT_MAP }
			}
		}
	EOF
	lab_say "kernel LB: nftables DNAT $LAB_VIP -> { $LAB_NFT_MAP } (numgen inc mod $LAB_NFT_MOD)"
}

# ---- the edgelb dataplane --------------------------------------------------

# EAL lcores for 1 + workers threads on this machine's CPUs: lcore i runs
# on CPU min(i, ncpu - 1).
lab_eal_lcores() {
	local workers=$1 ncpu i out="" sep=""
	ncpu=$(nproc)
	for ((i = 0; i <= workers; i++)); do
		out+="$sep$i@$((i < ncpu ? i : ncpu - 1))"
		sep=,
	done
	echo "$out"
}

lab_devargs() { # PORT-TYPE INDEX IFACE WORKERS
	case $1 in
	af_packet) echo "net_af_packet$2,iface=$3,qpairs=$4" ;;
	af_xdp) echo "net_af_xdp$2,iface=$3,start_queue=0,queue_count=$4" ;;
	esac
}

lab_start_dp() {
	local workers=$1 ptype=$2 ext_mtu=${3:-} bin deadline
	bin=$(lab_bin edgelb-dp) || return 1
	cat >"$LAB_DIR/edgelb-dp.ini" <<-EOF
		; written by tests/lab/lab.sh
		[dataplane]
		socket = $LAB_DIR/dp.sock
		route = 10.99.1.0/24 via $LAB_ROUTER_EXT_IP
		mbufs = 8191

		[port ext]
		devargs = $(lab_devargs "$ptype" 0 elb-l0 "$workers")
		address = $LAB_LB_EXT_IP/24
		${ext_mtu:+mtu = $ext_mtu}

		[port int]
		devargs = $(lab_devargs "$ptype" 1 elb-l1 "$workers")
		address = $LAB_LB_INT_IP/24
	EOF
	# AF_XDP pins its UMEM: raise the memlock limit as far as allowed
	# (root's CAP_IPC_LOCK covers the rest).
	if [ "$ptype" = af_xdp ]; then
		ulimit -l unlimited 2>/dev/null ||
			ulimit -l "$(ulimit -H -l)" 2>/dev/null || true
	fi
	# --no-huge implies legacy memory, which --in-memory refuses;
	# --no-shconf and a private prefix keep the run from touching others.
	ip netns exec "$LAB_NS_LB" "$bin" --no-huge -m 512 --no-pci \
		--no-shconf --file-prefix "elb-lab-$$" \
		--lcores "$(lab_eal_lcores "$workers")" \
		-- -c "$LAB_DIR/edgelb-dp.ini" >"$LAB_DIR/edgelb-dp.log" 2>&1 9>&- &
	echo $! >"$LAB_DIR/edgelb-dp.pid"
	deadline=$((SECONDS + 30))
	until [ -S "$LAB_DIR/dp.sock" ] && lab_lbctl port show >/dev/null 2>&1; do
		if ! kill -0 "$(cat "$LAB_DIR/edgelb-dp.pid")" 2>/dev/null; then
			lab_die "edgelb-dp exited during start-up:"
			tail -n 20 "$LAB_DIR/edgelb-dp.log" >&2
			return 1
		fi
		((SECONDS < deadline)) || {
			lab_die "edgelb-dp did not open $LAB_DIR/dp.sock in 30 s"
			return 1
		}
		sleep 0.2
	done
	lab_say "edgelb-dp running ($workers worker(s), $ptype), control socket $LAB_DIR/dp.sock"
}

# Program the services for MODE over dp.sock: TCP and UDP on the VIP,
# three backends with the given weights.
lab_program() {
	local mode=$1 sched=$2 weights=$3 proto port i
	local -a w=($weights) flags
	for proto in tcp udp; do
		port=$LAB_TCP_PORT
		flags=()
		[ "$mode" = fnat ] && flags=(toa)
		if [ "$proto" = udp ]; then
			port=$LAB_UDP_PORT
			flags=()
		fi
		lab_lbctl service add "$proto" "$LAB_VIP:$port" mode "$mode" \
			sched "$sched" "${flags[@]}" || return 1
		for ((i = 0; i < ${#LAB_BACKENDS[@]}; i++)); do
			lab_lbctl backend add "$proto" "$LAB_VIP:$port" \
				"$(lab_backend_ip "${LAB_BACKENDS[i]}"):$port" \
				weight "${w[i]}" || return 1
		done
		if [ "$mode" = fnat ]; then
			lab_lbctl laddr add "$proto" "$LAB_VIP:$port" "$LAB_LADDR" ||
				return 1
		fi
	done
	lab_say "programmed $mode services on $LAB_VIP (tcp $LAB_TCP_PORT, udp $LAB_UDP_PORT), sched $sched, weights $weights"
}

# ---- up -------------------------------------------------------------------

# lab_up MODE [options]: see the header. Leaves the lab running; on any
# failure it prints the logs, tears everything down and returns 1.
lab_up() {
	local mode=${1:-} lb=dp workers=1 ptype=af_packet sched=wrr
	local weights="1 2 3" program=1 ext_mtu=""
	shift || true
	while [ $# -gt 0 ]; do
		case $1 in
		--lb) lb=$2; shift ;;
		--workers) workers=$2; shift ;;
		--port-type) ptype=$2; shift ;;
		--sched) sched=$2; shift ;;
		--weights) weights=$2; shift ;;
		--no-service) program=0 ;;
		--ext-mtu) ext_mtu=$2; shift ;;
		*) lab_die "unknown option '$1'"; return 1 ;;
		esac
		shift
	done
	case $mode in
	dr | nat | tunnel | fnat) ;;
	*) lab_die "MODE must be dr, nat, tunnel or fnat"; return 1 ;;
	esac
	case $lb in
	dp | kernel) ;;
	*) lab_die "--lb must be dp or kernel"; return 1 ;;
	esac
	[ "$lb" = dp ] || [ "$mode" = nat ] || {
		lab_die "--lb kernel implements mode nat only"
		return 1
	}
	case $ptype in
	af_packet | af_xdp) ;;
	*) lab_die "--port-type must be af_packet or af_xdp"; return 1 ;;
	esac
	[[ $workers =~ ^[1-8]$ ]] || {
		lab_die "--workers must be 1..8"
		return 1
	}
	[ "$(id -u)" = 0 ] || {
		lab_die "the lab needs root (network namespaces)"
		return 1
	}

	lab_lock || return 1
	lab_down
	mkdir -p "$LAB_DIR"
	rm -f "$LAB_DIR"/*.log "$LAB_DIR"/*.ini
	echo "$mode $lb $workers $ptype $sched" >"$LAB_DIR/state"
	# The steps run in a subshell with errexit, so that any failing
	# command stops them even when lab_up itself is called from a
	# condition (where bash ignores errexit).
	local had_e=0 rc=0
	[[ $- == *e* ]] && had_e=1
	set +e
	(
		set -e
		lab_topology "$mode" "$lb" "$workers"
		lab_start_backends
		if [ "$lb" = kernel ]; then
			lab_start_kernel_lb "$weights"
		else
			[ "$mode" != tunnel ] || lab_attach_decap
			lab_start_dp "$workers" "$ptype" "$ext_mtu"
			[ "$program" = 0 ] || lab_program "$mode" "$sched" "$weights"
		fi
	)
	rc=$?
	((had_e)) && set -e
	if [ "$rc" != 0 ]; then
		lab_say "setting up the lab failed; logs follow"
		lab_logs
		lab_down
		return 1
	fi
	lab_say "up: mode $mode, LB $lb; client $LAB_CLIENT_IP -> VIP $LAB_VIP"
}

lab_status() {
	local ns
	[ -f "$LAB_DIR/state" ] && echo "state: $(cat "$LAB_DIR/state")"
	for ns in "${LAB_NS_ALL[@]}"; do
		if lab_ns_exists "$ns"; then
			echo "namespace $ns: $(ip netns pids "$ns" | wc -l) process(es)"
		fi
	done
}

# ---- traffic helpers (tests and demo) ---------------------------------------

# One HTTP GET from the client to the VIP; prints the body.
lab_get() { # [PATH]
	lab_client curl -sS --fail --max-time 5 "http://$LAB_VIP:$LAB_TCP_PORT${1:-/}"
}

# One UDP request from the client through the VIP; prints the reply.
lab_udp() { # PAYLOAD
	printf '%s' "$1" | lab_client timeout 5 socat -T 2 - \
		"UDP4:$LAB_VIP:$LAB_UDP_PORT"
}

# ---- demo -------------------------------------------------------------------

lab_demo_dp_basics() {
	local mac
	lab_say "edgelb-dp answers ARP and ping for the VIP and its addresses:"
	lab_router ip neigh flush dev elb-r1 >/dev/null 2>&1 || true
	lab_router arping -c 2 -w 3 -I elb-r1 "$LAB_VIP" || return 1
	lab_router ping -c 2 -W 2 "$LAB_VIP" >/dev/null || return 1
	mac=$(lab_router ip neigh show "$LAB_VIP" dev elb-r1 |
		awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }')
	echo "router's neighbour entry for VIP $LAB_VIP: ${mac:-none}"
	lab_client ping -c 3 -i 0.2 -W 2 "$LAB_VIP" || return 1
	lab_client ping -c 2 -i 0.2 -W 2 "$LAB_LB_EXT_IP" || return 1
}

# A few requests in the current mode; prints who answered. Returns 1 if a
# request fails.
lab_demo_requests() {
	local i body
	for i in 1 2 3 4 5 6; do
		body=$(lab_get /) || return 1
		echo "  GET http://$LAB_VIP/ -> $body"
	done
	body=$(lab_udp "demo-$RANDOM") || true
	echo "  UDP $LAB_VIP:$LAB_UDP_PORT -> ${body:-no reply}"
	[ -n "$body" ]
}

# lbctl stats without zeros, hardware duplicates and cycle counts.
lab_demo_stats() {
	local out
	out=$(lab_lbctl stats) || return 1
	awk '/^[^ ]/ { hdr = $0; next }
		$NF != "0" && $1 !~ /^(hw_|iterations|busy_cycles|idle_cycles|tsc_hz)/ {
			if (hdr != "") { print "    " hdr; hdr = "" }
			print "    " $0
		}' <<<"$out"
}

# One API behind edgelbd's gateway: an edgelbd of its own in the router
# namespace (its dataplane socket has no server: it never touches the
# lab's edgelb-dp) serves /api/ on the router's client side from an
# upstream bound to an INI service of the three backends. Prints a few
# answers through it.
LAB_GW_PORT=8080
lab_demo_gateway() {
	local bin b i body url deadline
	bin=$LAB_BUILD/controlplane/edgelbd
	[ -x "$bin" ] || {
		lab_die "$bin is not built"
		return 1
	}
	{
		printf '[global]\nctl_socket = %s\n' "$LAB_DIR/gw-ctl.sock"
		printf '[dataplane]\nsocket = %s\n' "$LAB_DIR/gw-no-dp.sock"
		printf '[service web]\nvip = %s:%s\nmode = nat\n' \
			"$LAB_VIP" "$LAB_TCP_PORT"
		for b in "${LAB_BACKENDS[@]}"; do
			printf 'backend = %s:%s\n' "$(lab_backend_ip "$b")" \
				"$LAB_TCP_PORT"
		done
		printf '[gateway]\nlisten = %s:%s\n' "$LAB_ROUTER_CLIENT_IP" \
			"$LAB_GW_PORT"
		printf '[upstream web]\nservice = web\n'
		printf '[route api]\npath_prefix = /api/\nstrip_prefix = /api\n'
		printf 'upstream = web\n'
	} >"$LAB_DIR/gateway.ini"
	lab_router "$bin" -f -c "$LAB_DIR/gateway.ini" \
		>"$LAB_DIR/edgelbd-gateway.log" 2>&1 9>&- &
	echo $! >"$LAB_DIR/edgelbd-gateway.pid"
	url=http://$LAB_ROUTER_CLIENT_IP:$LAB_GW_PORT/api/
	deadline=$((SECONDS + 10))
	until lab_client curl -s --max-time 1 -o /dev/null "$url"; do
		((SECONDS < deadline)) || {
			lab_die "edgelbd's gateway does not answer on $url"
			return 1
		}
		sleep 0.2
	done
	echo "  edgelbd's gateway on $LAB_ROUTER_CLIENT_IP:$LAB_GW_PORT, route /api/ -> upstream web (the 3 backends):"
	for i in 1 2 3; do
		body=$(lab_client curl -sS --fail --max-time 5 "$url") || return 1
		echo "  GET $url -> $body"
	done
	lab_stop_pidfile "$LAB_DIR/edgelbd-gateway.pid"
}

# The push service (tests/e2e/push_demo.sh): an edgelbd of its own in
# the router namespace serves the device channel on the router's client
# side and the business API on its backend side; tools/push-client in the
# client namespace is the device, backend b1 the business server that
# posts a message to it. Fails unless the device printed the message and
# its status became "acknowledged".
LAB_PUSH_PORT=5222
LAB_PUSH_API_PORT=8081
lab_demo_push() {
	# shellcheck source=tests/e2e/push_demo.sh
	. "$LAB_SRC/tests/e2e/push_demo.sh" || return 1
	PUSH_DEMO_SRV="ip netns exec $LAB_NS_ROUTER" \
		PUSH_DEMO_DEV="ip netns exec $LAB_NS_CLIENT" \
		PUSH_DEMO_BIZ="ip netns exec elb-b1" \
		push_demo_run "$LAB_BUILD" "$LAB_DIR" \
		"$LAB_ROUTER_CLIENT_IP:$LAB_PUSH_PORT" \
		"$LAB_ROUTER_INT_IP:$LAB_PUSH_API_PORT"
}

# Whether edgelb-dp forwards MODE: one request through the VIP within 3 s.
lab_mode_forwards() {
	lab_client curl -s --max-time 3 -o /dev/null \
		"http://$LAB_VIP:$LAB_TCP_PORT/"
}

lab_demo() {
	local mode rc=0 forwarding=() notyet=() gateway= push=
	lab_lock || return 1
	trap 'lab_down' EXIT
	trap 'exit 130' INT TERM
	echo "==== edgelb lab demo: client -> router -> edgelb-dp -> 3 backends"
	for mode in nat dr tunnel fnat; do
		echo
		echo "==== mode $mode"
		if ! lab_up "$mode"; then
			echo "mode $mode: the lab did not come up"
			return 1
		fi
		if [ "$mode" = nat ]; then
			lab_demo_dp_basics || {
				echo "edgelb-dp did not answer ARP/ping"
				lab_logs
				return 1
			}
		fi
		if lab_mode_forwards; then
			forwarding+=("$mode")
			lab_demo_requests || rc=1
		else
			notyet+=("$mode")
			echo "  mode $mode: edgelb-dp does not forward this mode yet" \
				"(its packets are counted as dropped, see below)"
		fi
		echo "  dataplane counters (non-zero):"
		lab_demo_stats || rc=1
		if [ "$mode" = nat ]; then
			echo
			echo "==== one API behind the gateway"
			if lab_demo_gateway; then
				gateway=ok
			else
				rc=1
			fi
			echo
			echo "==== a message pushed to a device: business server (b1) -> edgelbd's push service -> device (client)"
			if lab_demo_push; then
				push=ok
			else
				rc=1
			fi
		fi
		lab_down
	done
	echo
	echo "==== summary"
	echo "  edgelb-dp answered ARP and ICMP echo for the VIP and its ports"
	[ -n "$gateway" ] && echo "  edgelbd's gateway served /api/ from the backends"
	[ -n "$push" ] && echo "  edgelbd's push service delivered a message to a device, which acknowledged it"
	[ ${#forwarding[@]} -gt 0 ] && echo "  forwarding: ${forwarding[*]}"
	[ ${#notyet[@]} -gt 0 ] && echo "  not forwarding yet: ${notyet[*]}"
	return $rc
}

# ---- main -------------------------------------------------------------------

lab_usage() {
	sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

lab_main() {
	local cmd=${1:-}
	shift || true
	case $cmd in
	up)
		lab_up "$@"
		;;
	down)
		lab_lock
		lab_down
		lab_say "down"
		;;
	status)
		lab_status
		;;
	demo)
		lab_demo
		;;
	run-test)
		[ $# -eq 1 ] && [ -f "$LAB_SRC/tests/e2e/$1.sh" ] || {
			lab_die "run-test NAME: one of: $(cd "$LAB_SRC/tests/e2e" && ls ./*.sh | sed 's|./||; s|\.sh$||' | grep -v '^lib$' | tr '\n' ' ')"
			return 2
		}
		EDGELB_SRC=$LAB_SRC EDGELB_BUILD=$LAB_BUILD \
			bash "$LAB_SRC/tests/e2e/$1.sh"
		;;
	-h | --help | help)
		lab_usage
		;;
	*)
		lab_usage >&2
		return 2
		;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	lab_main "$@"
fi
