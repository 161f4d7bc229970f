#!/usr/bin/env bash
# The lab itself, proven without edgelb: the LB namespace is a Linux NAT
# balancer (nftables DNAT, numgen weighted 1:2:3). Scenarios (a) weighted
# distribution over 300 connections, (b) 100 MB download with sha256,
# (c) UDP request/response. This is also the kernel baseline that edgelb
# is compared with.
source "$(dirname "$0")/lib.sh"
e2e_begin nft

lab_up nat --lb kernel --weights "1 2 3"
e2e_scen scen_wrr 300 "1 2 3"
e2e_scen scen_download $((100 * 1024 * 1024))
e2e_scen scen_udp 12
e2e_end
