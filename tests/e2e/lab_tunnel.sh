#!/usr/bin/env bash
# edgelb-dp in TUNNEL mode (IPIP to the backends, which decapsulate with
# edgelb-bpf's XDP program and answer the client directly): (a) wrr 1:2:3
# over 300 connections, (b) 100 MB download with sha256, (c) UDP.
source "$(dirname "$0")/lib.sh"
e2e_begin

lab_up tunnel
e2e_scen scen_wrr 300 "1 2 3"
e2e_scen scen_download $((100 * 1024 * 1024))
e2e_scen scen_udp 12
e2e_end
