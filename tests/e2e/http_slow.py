#!/usr/bin/env python3
# Clients for the HTTP limits lab (tests/e2e/http_limits.sh). Every mode
# is bounded in connections and in time, stops by itself and prints one
# JSON object.
#
#   slow  HOST PORT --count N --interval S --duration S [--src A,B,...]
#         N slow clients (slowloris): each connects and sends one byte of
#         a request head every S seconds, never ending it; a client the
#         server cuts connects again (until --duration). Spread over the
#         source addresses of --src, at most --rate connects a second
#         (default 1000). Reports how many were cut and after
#         how long, how many were refused (a 503 or a close before any
#         byte was sent), and how many were open at the end.
#   flood HOST PORT --max N [--src A] [--hold S]
#         opens idle connections one after the other until the server
#         refuses one (a 503 or a close within 200 ms), at most N; holds
#         them --hold seconds, then closes them. Reports the count open
#         when the refusal came and what the refusal was.
#   probe HOST PORT PATH --every S --duration S [--src A]
#         a normal client: a GET on a new connection every S seconds;
#         reports the samples, errors and the slowest answer in ms.
import argparse
import errno
import json
import resource
import selectors
import socket
import sys
import time

HEAD = b"GET /d?dn=www.example.test HTTP/1.1\r\nHost: lab\r\nX-Slow: " + b"a" * 4000


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))], 3)


class Slow:
    __slots__ = ("sock", "src", "t0", "sent", "next")


def slow(a):
    raise_nofile()
    srcs = a.src.split(",") if a.src else [None]
    sel = selectors.DefaultSelector()
    start = time.monotonic()
    end = start + a.duration
    conns = {}
    st = {"connects": 0, "connect_errors": 0, "refused_503": 0,
          "closed_before_send": 0, "cut": 0, "peak_open": 0,
          "reset": 0}
    cut_after = []
    pending = a.count  # clients to (re)start
    k = 0

    def start_one(now):
        nonlocal k
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        src = srcs[k % len(srcs)]
        k += 1
        try:
            if src:
                s.bind((src, 0))
            rc = s.connect_ex((a.host, a.port))
        except OSError:
            s.close()
            st["connect_errors"] += 1
            return
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            st["connect_errors"] += 1
            return
        c = Slow()
        c.sock, c.src, c.t0, c.sent = s, src, None, 0
        c.next = now  # first byte once connected
        conns[s.fileno()] = c
        sel.register(s, selectors.EVENT_READ, c)
        st["connects"] += 1

    def drop(c, why, now):
        sel.unregister(c.sock)
        del conns[c.sock.fileno()]
        c.sock.close()
        st[why] += 1
        if why == "cut":
            cut_after.append(now - c.t0)

    while True:
        now = time.monotonic()
        if now >= end:
            break
        # (re)start clients at --rate per second at most
        allowed = int((now - start) * a.rate) + 1 - st["connects"] - st["connect_errors"]
        for _ in range(max(0, min(pending, allowed))):
            start_one(now)
            pending -= 1
        st["peak_open"] = max(st["peak_open"], len(conns))
        for c in list(conns.values()):
            if c.next > now:
                continue
            try:
                n = c.sock.send(HEAD[c.sent % len(HEAD):c.sent % len(HEAD) + 1])
            except BlockingIOError:
                c.next = now + 0.05  # not connected yet
                continue
            except OSError:
                drop(c, "reset", now)
                pending += 1
                continue
            if c.t0 is None:
                c.t0 = now
            c.sent += n
            c.next = now + a.interval
        for key, _ in sel.select(timeout=0.05):
            c = key.data
            try:
                d = c.sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if d.startswith(b"HTTP/1.1 503"):
                drop(c, "refused_503", time.monotonic())
            elif c.t0 is None:
                drop(c, "closed_before_send", time.monotonic())
            else:
                # a 408 or a plain close: the server cut a slow client
                drop(c, "cut", time.monotonic())
            pending += 1
    st["open_at_end"] = len(conns)
    for c in list(conns.values()):
        c.sock.close()
    st["cut_after_min"] = pct(cut_after, 0)
    st["cut_after_p50"] = pct(cut_after, 50)
    st["cut_after_max"] = pct(cut_after, 100)
    st["seconds"] = round(time.monotonic() - start, 2)
    print(json.dumps(st))


def flood(a):
    raise_nofile()
    held = []
    out = {"opened": 0, "refused_at": None, "refusal": None}
    deadline = time.monotonic() + a.hold + 30
    for i in range(a.max):
        if time.monotonic() > deadline:
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if a.src:
            s.bind((a.src, 0))
        s.settimeout(2)
        try:
            s.connect((a.host, a.port))
        except OSError as e:
            out["refused_at"], out["refusal"] = i, "connect: %s" % e
            s.close()
            break
        s.settimeout(0.2)
        try:
            d = s.recv(4096)
            out["refused_at"] = i
            out["refusal"] = "503" if d.startswith(b"HTTP/1.1 503") else \
                ("close" if not d else "data: %r" % d[:40])
            s.close()
            break
        except socket.timeout:
            held.append(s)  # accepted and open
        except OSError as e:
            out["refused_at"], out["refusal"] = i, "reset: %s" % e
            s.close()
            break
    out["opened"] = len(held)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    time.sleep(a.hold)
    for s in held:
        s.close()


def probe(a):
    start = time.monotonic()
    lat, errs, statuses = [], [], {}
    req = ("GET %s HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n" %
           a.path).encode()
    while time.monotonic() - start < a.duration:
        t0 = time.monotonic()
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if a.src:
                s.bind((a.src, 0))
            s.settimeout(2)
            s.connect((a.host, a.port))
            s.sendall(req)
            buf = b""
            while b"\r\n" not in buf:
                d = s.recv(4096)
                if not d:
                    break
                buf += d
            s.close()
            ms = (time.monotonic() - t0) * 1000
            code = buf.split(b" ", 2)[1].decode() if buf.startswith(b"HTTP/1.1 ") else "none"
            statuses[code] = statuses.get(code, 0) + 1
            if code != "200":
                errs.append("%.1fs: status %s" % (t0 - start, code))
            lat.append(ms)
        except OSError as e:
            errs.append("%.1fs: %s" % (t0 - start, e))
        rest = a.every - (time.monotonic() - t0)
        if rest > 0:
            time.sleep(rest)
    print(json.dumps({
        "samples": len(lat) + len([e for e in errs if "status" not in e]),
        "ok": statuses.get("200", 0), "statuses": statuses,
        "errors": errs[:10], "nerrors": len(errs),
        "max_ms": round(max(lat), 1) if lat else None,
        "p50_ms": pct(lat, 50),
        "over": len([x for x in lat if x >= a.max_ms])}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("slow")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--interval", type=float, default=2.0)
    s.add_argument("--duration", type=float, required=True)
    s.add_argument("--rate", type=float, default=1000.0)
    s.add_argument("--src", default="")
    f = sub.add_parser("flood")
    f.add_argument("host")
    f.add_argument("port", type=int)
    f.add_argument("--max", type=int, required=True)
    f.add_argument("--hold", type=float, default=3.0)
    f.add_argument("--src", default="")
    q = sub.add_parser("probe")
    q.add_argument("host")
    q.add_argument("port", type=int)
    q.add_argument("path")
    q.add_argument("--every", type=float, default=0.2)
    q.add_argument("--duration", type=float, required=True)
    q.add_argument("--max-ms", type=float, default=100.0)
    q.add_argument("--src", default="")
    a = p.parse_args()
    if a.mode == "slow":
        if not (0 < a.count <= 10000 and 0 < a.duration <= 120 and
                0 < a.rate <= 20000):
            sys.exit("slow: --count 1..10000, --duration up to 120 s, "
                     "--rate up to 20000/s")
        slow(a)
    elif a.mode == "flood":
        if not (0 < a.max <= 10000 and 0 <= a.hold <= 120):
            sys.exit("flood: --max 1..10000, --hold up to 120 s")
        flood(a)
    else:
        if not (0 < a.duration <= 120 and a.every >= 0.01):
            sys.exit("probe: --duration up to 120 s, --every at least 0.01")
        probe(a)


if __name__ == "__main__":
    main()
