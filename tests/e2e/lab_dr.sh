#!/usr/bin/env bash
# edgelb-dp in DR mode (one L2 with the backends, which hold the VIP on lo
# and answer the client directly through the router): (a) wrr 1:2:3 over
# 300 connections, (b) 100 MB download with sha256, (c) UDP.
source "$(dirname "$0")/lib.sh"
e2e_begin

lab_up dr
scen_wrr 300 "1 2 3" || true
scen_download $((100 * 1024 * 1024)) || true
scen_udp 12 || true
e2e_end
