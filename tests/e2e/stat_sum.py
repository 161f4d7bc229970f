#!/usr/bin/env python3
"""Sum of counter NAME over the STATS_GET parts of kind KIND (port, lcore,
drop, service, xdp, ...), optionally only those of port IFNAME, read as
`lbctl -j stats` prints them on standard input.

Usage: lbctl -j stats | stat_sum.py KIND NAME [IFNAME]
"""
import json
import sys

kind, name = sys.argv[1], sys.argv[2]
ifname = sys.argv[3] if len(sys.argv) > 3 else None
total = 0
for part in json.load(sys.stdin):
    if part.get("stats_kind") != kind:
        continue
    if ifname is not None and part.get("ifname") != ifname:
        continue
    total += int(part.get("counters", {}).get(name, 0))
print(total)
