#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A browser-side device of tests/e2e/push_ws.sh over WebSocket (Debian's
python3-websockets): every device frame is one binary message.

  device  URL DEVICE SECRET USER N TIMEOUT_S OUT [CA]
          (wss:// URLs: TLS trusting only the PEM certificate CA) HELLO, BIND (token: HMAC-SHA256(SECRET, device "\\n" user "\\n"
          expiry)), then prints "BOUND user" and, for each MESSAGE, "id
          payload" to OUT (flushed) and ACKs it; exits 0 once it has N
          messages and BOUND (queued messages come before BOUND: closing
          earlier would race the server's BOUND), 2 when TIMEOUT_S passes,
          1 on an ERROR frame or a lost connection. Checks each binary
          message holds exactly one frame.
  text    URL: sends a text message; expects the close code 1003.
  bad     HOST PORT: an upgrade request without Sec-WebSocket-Key over a
          plain socket; prints the HTTP status line.
  refused URL [CA]: a client that must not get through (ws:// to a TLS
          port, or wss:// with a CA that did not sign the server's
          certificate); prints "refused: REASON" and exits 0 when the
          handshake fails within 5 s, "connected" and exits 1 otherwise.
"""
import asyncio
import hashlib
import hmac
import socket
import ssl
import struct
import sys
import time
import uuid

import websockets


def frame(t, body):
    return struct.pack('>BBHI', 1, t, 0, len(body)) + body


def s16(b):
    return struct.pack('>H', len(b)) + b


def parse(msg):
    """(type, body) of one binary message; raises if it is not exactly
    one frame."""
    if len(msg) < 8:
        raise ValueError("message of %d bytes" % len(msg))
    ver, t, _, n = struct.unpack('>BBHI', msg[:8])
    if ver != 1 or len(msg) != 8 + n:
        raise ValueError("not one frame: version %d, %d+%d != %d" %
                         (ver, 8, n, len(msg)))
    return t, msg[8:]


def tls_context(url, ca):
    """The client's TLS context for a wss:// URL: the server's
    certificate must chain to ca (hostname checked); None for ws://."""
    if not url.startswith('wss://'):
        return None
    return ssl.create_default_context(cafile=ca)


async def device(url, dev, secret, user, n, timeout_s, out, ca=None):
    deadline = time.monotonic() + timeout_s
    got = 0
    bound = False
    async with websockets.connect(url, max_size=1 << 20,
                                  ssl=tls_context(url, ca)) as ws:
        await ws.send(frame(1, s16(dev.encode()) + s16(b'browser') +
                            s16(b'e2e') + struct.pack('>Q', 0)))
        expiry = int(time.time()) + 600
        tok = hmac.new(secret.encode(),
                       ('%s\n%s\n%d' % (dev, user, expiry)).encode(),
                       hashlib.sha256).digest()
        await ws.send(frame(3, s16(user.encode()) +
                            struct.pack('>Q', expiry) + tok))
        with open(out, 'a') as f:
            while got < n or not bound:
                left = deadline - time.monotonic()
                if left <= 0:
                    return 2
                try:
                    msg = await asyncio.wait_for(ws.recv(), left)
                except asyncio.TimeoutError:
                    return 2
                if isinstance(msg, str):
                    print("text message from the server", file=sys.stderr)
                    return 1
                t, body = parse(msg)
                if t == 9:
                    code, = struct.unpack('>H', body[:2])
                    print("ERROR %d %s" % (code, body[4:].decode()),
                          file=sys.stderr)
                    return 1
                if t == 4:
                    f.write("BOUND %s\n" % body[2:].decode())
                    f.flush()
                    bound = True
                elif t == 5:
                    mid = body[:16]
                    klen, = struct.unpack('>H', body[37:39])
                    payload = body[39 + klen:]
                    f.write("%s %s\n" % (uuid.UUID(bytes=mid),
                                         payload.decode()))
                    f.flush()
                    got += 1
                    await ws.send(frame(6, struct.pack('>H', 1) + mid))
    return 0


async def text(url):
    async with websockets.connect(url) as ws:
        await ws.send("hello")
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed:
            pass
        await ws.wait_closed()
        print(ws.close_code)
    return 0


async def refused(url, ca=None):
    try:
        async with websockets.connect(url, ssl=tls_context(url, ca),
                                      open_timeout=5):
            print("connected")
            return 1
    except asyncio.TimeoutError:
        print("timeout: the handshake hung")
        return 1
    except (OSError, websockets.InvalidHandshake,
            websockets.ConnectionClosed, EOFError) as e:
        print("refused: %s" % type(e).__name__)
        return 0


def bad(host, port):
    s = socket.create_connection((host, int(port)), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
    print(s.recv(256).split(b"\r\n")[0].decode())
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == 'device':
        url, dev, secret, user, n, t, out = sys.argv[2:9]
        ca = sys.argv[9] if len(sys.argv) > 9 else None
        return asyncio.run(device(url, dev, secret, user, int(n), float(t),
                                  out, ca))
    if cmd == 'text':
        return asyncio.run(text(sys.argv[2]))
    if cmd == 'refused':
        return asyncio.run(refused(sys.argv[2],
                                   sys.argv[3] if len(sys.argv) > 3 else None))
    if cmd == 'bad':
        return bad(sys.argv[2], sys.argv[3])
    print("unknown command", file=sys.stderr)
    return 64


if __name__ == '__main__':
    sys.exit(main())
