#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Both ends of tests/e2e/lab_frag.sh: large datagrams and segments that
the network fragments, checked by length and sha256 at the receiver.

  frag_peer.py serve NAME BIND UDP_PORT TCP_PORT
      In a backend namespace: each UDP datagram is answered with
      "NAME LEN SHA256" (of the datagram as received); each TCP
      connection is read to its end (at most 64 MiB, 30 s) and answered
      the same way. The UDP answer leaves from the address the datagram
      was sent to (DR/TUNNEL: the VIP on loopback).
  frag_peer.py udp VIP PORT SIZE
      In the client namespace: send SIZE seeded bytes in one datagram (the
      kernel fragments it for a 1500 MTU); pass when a backend answers
      with the right length and sha256 (5 tries, 2 s each).
  frag_peer.py udpsend VIP PORT SIZE LOGS
      Send such a datagram until a receiver's log (LOGS, a glob) shows it
      arrived whole, for a receiver whose answer does not come back (NAT
      with xdp_steer, see lab_frag.sh); 5 tries, 2 s each.
  frag_peer.py tcp VIP PORT SIZE
      The same over TCP with DF cleared on every segment
      (IP_PMTUDISC_DONT), so that a smaller MTU on the way fragments
      them; shut the write side, read the answer (30 s).

Exit 0 on a right answer (printed), 1 otherwise. Every wait is bounded.
"""
import hashlib
import os
import select
import socket
import struct
import sys
import threading
import time

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
IP_PMTUDISC_DONT = getattr(socket, "IP_PMTUDISC_DONT", 0)
TCP_MAX = 64 << 20
TRIES = 5  # a busy lab machine may lose a datagram: UDP is sent again


def answer(name, data):
    return ("%s %d %s\n" % (name, len(data), hashlib.sha256(data).hexdigest())).encode()


def serve_udp(name, bind, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    s.bind((bind, port))
    while True:
        data, anc, _, peer = s.recvmsg(65536, socket.CMSG_SPACE(12))
        spec = None
        for level, kind, val in anc:
            if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                spec = val[8:12]  # in_pktinfo.ipi_addr: where it was sent
        cmsg = []
        if spec is not None:
            cmsg = [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("i4s4s", 0, spec, b"\0" * 4))]
        a = answer(name, data)
        sys.stdout.write("udp " + a.decode())
        sys.stdout.flush()
        s.sendmsg([a], cmsg, 0, peer)


def serve_tcp_conn(name, c):
    c.settimeout(30)
    buf = bytearray()
    try:
        while len(buf) <= TCP_MAX:
            b = c.recv(65536)
            if not b:
                break
            buf += b
        a = answer(name, bytes(buf))
        sys.stdout.write("tcp " + a.decode())
        sys.stdout.flush()
        c.sendall(a)
    except OSError:
        pass
    finally:
        c.close()


def serve(name, bind, udp_port, tcp_port):
    threading.Thread(target=serve_udp, args=(name, bind, udp_port), daemon=True).start()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((bind, tcp_port))
    ls.listen(16)
    print("%s: serving UDP %d, TCP %d on %s" % (name, udp_port, tcp_port, bind), flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve_tcp_conn, args=(name, c), daemon=True).start()


def payload(size):
    seed = hashlib.sha256(b"%d-%d-%f" % (size, os.getpid(), time.time())).digest()
    out = bytearray()
    while len(out) < size:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return bytes(out[:size])


def check(reply, data):
    words = reply.decode(errors="replace").split()
    want = [str(len(data)), hashlib.sha256(data).hexdigest()]
    print("sent %d bytes sha256 %s; answer: %s" % (len(data), want[1], " ".join(words) or "(none)"))
    return len(words) == 3 and words[1:] == want


def udp(vip, port, size):
    data = payload(size)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((vip, port))
    for i in range(TRIES):
        s.send(data)
        r, _, _ = select.select([s], [], [], 2)
        if r:
            try:
                ok = check(s.recv(4096), data)
                print("(try %d of %d)" % (i + 1, TRIES))
                return ok
            except OSError as e:
                print("recv: %s" % e)
    print("no answer to a %d-byte datagram in %d tries" % (size, TRIES))
    return False


def udpsend(vip, port, size, seen):
    """Send until the file pattern seen (a glob of receiver logs) holds
    the datagram's line (TRIES times, 2 s each)."""
    import glob
    data = payload(size)
    line = "%d %s" % (len(data), hashlib.sha256(data).hexdigest())
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((vip, port))
    for i in range(TRIES):
        s.send(data)
        deadline = time.time() + 2
        while time.time() < deadline:
            for f in glob.glob(seen):
                with open(f, errors="replace") as fh:
                    for ln in fh:
                        w = ln.split()
                        if len(w) == 4 and w[0] == "udp" and " ".join(w[2:]) == line:
                            print("%s received %s (try %d of %d)" % (w[1], line, i + 1, TRIES))
                            return True
            time.sleep(0.1)
    print("%s reached no receiver in %d tries" % (line, TRIES))
    return False


def tcp(vip, port, size):
    data = payload(size)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
    s.settimeout(30)
    try:
        s.connect((vip, port))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        reply = bytearray()
        while len(reply) < 4096:
            b = s.recv(4096)
            if not b:
                break
            reply += b
    except OSError as e:
        print("tcp: %s" % e)
        return False
    return check(bytes(reply), data)


def main(argv):
    if len(argv) == 6 and argv[1] == "serve":
        serve(argv[2], argv[3], int(argv[4]), int(argv[5]))
        return 0
    if len(argv) == 6 and argv[1] == "udpsend":
        return 0 if udpsend(argv[2], int(argv[3]), int(argv[4]), argv[5]) else 1
    if len(argv) == 5 and argv[1] in ("udp", "tcp"):
        f = udp if argv[1] == "udp" else tcp
        return 0 if f(argv[2], int(argv[3]), int(argv[4])) else 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
