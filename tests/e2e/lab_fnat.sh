#!/usr/bin/env bash
# edgelb-dp in FULL-NAT mode (backends see the LB's local address and reply
# to it): (a) wrr 1:2:3 over 300 connections, (b) 100 MB download with
# sha256, (c) UDP, (d) the backend learns the real client from TOA.
# (PROXY protocol v2 is lab_fnat_proxy.)
source "$(dirname "$0")/lib.sh"
e2e_begin

lab_up fnat
e2e_scen scen_wrr 300 "1 2 3"
e2e_scen scen_download $((100 * 1024 * 1024))
e2e_scen scen_udp 12
e2e_scen scen_real_client toa
e2e_end
