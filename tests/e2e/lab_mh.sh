#!/usr/bin/env bash
# Maglev (mh) in NAT mode: (f) 24 clients (source addresses) x 3
# connections each stay on one backend; after backend b2 is deleted only
# b2's clients move.
source "$(dirname "$0")/lib.sh"
e2e_begin

lab_up nat --sched mh --weights "1 1 1"
e2e_scen scen_mh 3
e2e_end
