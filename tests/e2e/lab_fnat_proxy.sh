#!/usr/bin/env bash
# FULL-NAT with PROXY protocol v2: (d) with the service switched from TOA
# to proxy-v2, the backend learns the real client (address and port) from
# the PROXY header edgelb-dp puts before the client's first bytes.
source "$(dirname "$0")/lib.sh"
e2e_begin

lab_up fnat
lab_lbctl service set tcp "$LAB_VIP:$LAB_TCP_PORT" proxy-v2 ||
	e2e_fail "switching the service to PROXY v2 failed"
e2e_scen scen_real_client proxy
e2e_end
