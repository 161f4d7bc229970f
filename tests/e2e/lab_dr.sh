#!/usr/bin/env bash
# edgelb-dp in DR mode (one L2 with the backends, which hold the VIP on lo
# and answer the client directly through the router): (a) wrr 1:2:3 over
# 300 connections, (b) 100 MB download with sha256, (c) UDP.
source "$(dirname "$0")/lib.sh"
e2e_begin

lab_up dr
e2e_scen scen_wrr 300 "1 2 3"
e2e_scen scen_download $((100 * 1024 * 1024))
e2e_scen scen_udp 12
e2e_end
