#!/usr/bin/env bash
# One-step, idempotent machine setup for building, running and testing
# edgelb on Debian 12, as root:
#   - installs the Debian packages that are missing (nothing else),
#   - mounts hugetlbfs and reserves 2 MiB hugepages (or says clearly that
#     DPDK will run with --no-huge),
#   - checks the kernel features the labs need: network namespaces, veth,
#     AF_XDP/XDP, BPF filesystem.
# Running it twice changes nothing the second time.
set -euo pipefail

HUGEPAGES=${EDGELB_HUGEPAGES:-512} # 2 MiB pages to reserve (1 GiB)

PACKAGES=(
	# build
	gcc make meson ninja-build pkg-config clang llvm libclang-rt-14-dev
	clang-format git python3
	# libraries
	dpdk dpdk-dev libdpdk-dev libbpf-dev libxdp-dev libnl-3-dev
	libinih-dev check libevent-dev libssl-dev libcjson-dev
	libpcap-dev libelf-dev zlib1g-dev libldns-dev libnghttp2-dev
	libhttp-parser-dev libpcre2-dev libsqlite3-dev libhiredis-dev
	libwslay-dev
	# labs and tests
	iproute2 ethtool curl socat bpftool iputils-ping iputils-arping procps
	kmod openssl nftables wrk prometheus bind9-dnsutils knot-dnsutils
	nginx-light nghttp2-client python3-h2 python3-cryptography
	python3-websockets python3-grpcio haproxy redis-server faketime
	bird2
)

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and configures hugepages)"

install_packages() {
	local missing=()
	for p in "${PACKAGES[@]}"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	if [ ${#missing[@]} -eq 0 ]; then
		say "packages: all ${#PACKAGES[@]} present"
		return
	fi
	say "packages: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
	# Packages that start a server we do not need: only promtool is used
	# of prometheus, and the tests and benchmarks start their own haproxy
	# and redis-server on ports of their own; the BGP lab starts its own
	# bird instances on sockets of their own.
	local svc
	for svc in prometheus haproxy redis-server bird; do
		if systemctl is-active --quiet "$svc" 2>/dev/null; then
			systemctl stop "$svc" || true
			systemctl disable "$svc" >/dev/null 2>&1 || true
		fi
	done
}

setup_hugepages() {
	local mnt=/dev/hugepages nr_file=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
	if [ ! -w "$nr_file" ]; then
		say "hugepages: not available on this kernel; DPDK runs with --no-huge"
		return
	fi
	if ! grep -qs " $mnt hugetlbfs " /proc/mounts; then
		mkdir -p "$mnt"
		if ! mount -t hugetlbfs nodev "$mnt" 2>/dev/null; then
			say "hugepages: cannot mount hugetlbfs; DPDK runs with --no-huge"
			return
		fi
	fi
	if [ "$(cat "$nr_file")" -lt "$HUGEPAGES" ]; then
		echo "$HUGEPAGES" >"$nr_file" 2>/dev/null || true
	fi
	local got
	got=$(cat "$nr_file")
	if [ "$got" -lt "$HUGEPAGES" ]; then
		say "hugepages: only $got of $HUGEPAGES 2 MiB pages could be reserved; tests fall back to --no-huge"
	else
		say "hugepages: $got x 2 MiB reserved, hugetlbfs on $mnt"
	fi
}

check_kernel() {
	local ns="edgelb-setup-$$" ok=1
	if ip netns add "$ns" 2>/dev/null; then
		if ip -n "$ns" link add sv0 type veth peer name sv1 2>/dev/null; then
			say "kernel: network namespaces and veth work"
		else
			say "kernel: veth pairs cannot be created"; ok=0
		fi
		ip netns del "$ns"
	else
		say "kernel: network namespaces cannot be created"; ok=0
	fi
	if python3 -c 'import socket; socket.socket(44, socket.SOCK_RAW).close()' 2>/dev/null; then
		say "kernel: AF_XDP sockets available"
	else
		say "kernel: AF_XDP sockets unavailable (af_xdp ports will not work; af_packet does)"
	fi
	if ! grep -qs ' /sys/fs/bpf bpf ' /proc/mounts; then
		mount -t bpf bpf /sys/fs/bpf 2>/dev/null || say "kernel: cannot mount the BPF filesystem"
	fi
	[ "$ok" = 1 ] || die "the labs need network namespaces and veth"
}

install_packages
setup_hugepages
check_kernel
say "done"
