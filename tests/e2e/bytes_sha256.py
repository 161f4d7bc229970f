#!/usr/bin/env python3
"""sha256 of the first N bytes of lab-backend's /bytes stream, computed here
from its definition (64-bit little-endian words, word k being
(k + 1) * 0x9E3779B97F4A7C15 mod 2^64), not by lab-backend.

Usage: bytes_sha256.py N
"""
import hashlib
import struct
import sys

n = int(sys.argv[1])
C, M = 0x9E3779B97F4A7C15, (1 << 64) - 1
h = hashlib.sha256()
words, step, k = (n + 7) // 8, 1 << 17, 0
while k < words:
    m = min(step, words - k)
    chunk = struct.pack("<%dQ" % m, *[((j + 1) * C) & M for j in range(k, k + m)])
    k += m
    if k == words and n % 8:
        chunk = chunk[: len(chunk) - (8 - n % 8)]
    h.update(chunk)
print(h.hexdigest())
