#!/usr/bin/env bash
# Two workers, FULL-NAT on af_packet: the kernel spreads packets over the
# two queues by its own flow hash, so replies often arrive on the worker
# that does not own the connection. (e) every request and a 16 MB download
# succeed, and STATS_GET shows packets handed to their owner with none
# lost.
source "$(dirname "$0")/lib.sh"
e2e_begin

lab_up fnat --workers 2
e2e_scen scen_handoff 50
e2e_end
