#!/usr/bin/env bash
# edgelb-dp in NAT mode (the backends route through the LB): (a) 300
# connections spread 1:2:3 by wrr, (b) 100 MB download with sha256, (c) UDP
# request/response.
source "$(dirname "$0")/lib.sh"
e2e_begin

lab_up nat
scen_wrr 300 "1 2 3" || true
scen_download $((100 * 1024 * 1024)) || true
scen_udp 12 || true
e2e_end
