#!/usr/bin/env bash
# edgelb-dp in NAT mode (the backends route through the LB): (a) 300
# connections spread 1:2:3 by wrr, (b) 100 MB download with sha256, (c) UDP
# request/response.
source "$(dirname "$0")/lib.sh"
e2e_begin

lab_up nat
e2e_scen scen_wrr 300 "1 2 3"
e2e_scen scen_download $((100 * 1024 * 1024))
e2e_scen scen_udp 12
e2e_end
