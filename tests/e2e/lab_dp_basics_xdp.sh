#!/usr/bin/env bash
# lab_dp_basics with the dataplane's ports on net_af_xdp (copy mode on
# veth) instead of net_af_packet.
if ! python3 -c 'import socket; socket.socket(44, socket.SOCK_RAW).close()' 2>/dev/null; then
	echo "lab_dp_basics_xdp: SKIP: AF_XDP sockets are not available"
	exit 77
fi
E2E_PORT_TYPE=af_xdp
source "$(dirname "$0")/lab_dp_basics.sh"
