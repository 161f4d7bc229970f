#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""WebSocket and gRPC ends for tests/e2e/gateway_proto.sh (loopback only).

  gw_proto.py ws-server PORT          echo server (python3-websockets)
  gw_proto.py ws-client URL           the WebSocket checks, through URL
  gw_proto.py grpc-server PORT        generic gRPC service (python3-grpcio)
  gw_proto.py grpc-client HOST:PORT   the gRPC checks
  gw_proto.py grpc-down HOST:PORT     a call whose backend is down
  gw_proto.py ws-flood URL            16 MiB sent before reading the echoes
  gw_proto.py ws-idle URL             an idle tunnel must be closed
  gw_proto.py ws-early HOST:PORT      a frame sent before the 101
  gw_proto.py fake-up PORT            a bad upstream: 101 without Upgrade
                                      (/fake/no-upgrade), 403 (/fake/refuse)

With CA=FILE in the environment, ws-client and grpc-client speak TLS
(wss://, gRPC over h2 by ALPN) and trust FILE for the name localhost.
Servers print "ready" once they listen and run until killed. Clients
print one "ok: ..." line per check that held and exit 1 at the first that
did not ("FAIL: ..." on stderr). Every wait is bounded (TIMEOUT seconds).
"""
import asyncio
import os
import sys

TIMEOUT = 20
BIG = 1 << 20  # the 1 MiB message


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def ok(msg):
    print("ok: " + msg, flush=True)


# ---- WebSocket ------------------------------------------------------------


async def ws_handler(ws, path=None):
    """Echo each message as it came (text stays text). On the path
    /close the server closes (code 4001) after its first echo."""
    path = path if path is not None else ws.path
    async for msg in ws:
        await ws.send(msg)
        if path == "/ws/close":
            await ws.close(code=4001, reason="server says bye")
            return


async def ws_server(port):
    import websockets

    async with websockets.serve(ws_handler, "127.0.0.1", port,
                                max_size=4 * BIG, compression=None):
        print("ready", flush=True)
        await asyncio.Future()


def client_tls():
    """An SSL context trusting $CA, or None for plaintext."""
    import ssl

    ca = os.environ.get("CA")
    if not ca:
        return None
    ctx = ssl.create_default_context(cafile=ca)
    return ctx


async def ws_client(url):
    import websockets

    tls = {"ssl": client_tls(), "server_hostname": "localhost"} \
        if url.startswith("wss:") else {}

    async def one():
        async with websockets.connect(url + "/ws/echo", max_size=4 * BIG,
                                      compression=None,
                                      open_timeout=TIMEOUT, **tls) as ws:
            await ws.send("hello gateway")
            got = await asyncio.wait_for(ws.recv(), TIMEOUT)
            if got != "hello gateway":
                fail("text echo: got %r" % (got,))
            ok("text echo")
            data = bytes(range(256)) * 4
            await ws.send(data)
            got = await asyncio.wait_for(ws.recv(), TIMEOUT)
            if got != data:
                fail("binary echo differs")
            ok("binary echo (1 KiB, every byte value)")
            big = os.urandom(BIG)
            await ws.send(big)
            got = await asyncio.wait_for(ws.recv(), TIMEOUT)
            if got != big:
                fail("1 MiB echo differs (%d bytes back)" % len(got))
            ok("1 MiB binary message echoed intact")
            # the client closes: the close handshake crosses the gateway
            await asyncio.wait_for(ws.close(code=1000, reason="done"),
                                   TIMEOUT)
            if ws.close_code != 1000:
                fail("client close: close code %r" % (ws.close_code,))
            ok("client-side close (1000) answered by the server")

    async def server_closes():
        async with websockets.connect(url + "/ws/close",
                                      open_timeout=TIMEOUT, **tls) as ws:
            await ws.send("bye")
            got = await asyncio.wait_for(ws.recv(), TIMEOUT)
            if got != "bye":
                fail("echo before the server's close: %r" % (got,))
            try:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
                fail("the server's close did not arrive")
            except websockets.ConnectionClosed as e:
                if e.rcvd is None or e.rcvd.code != 4001:
                    fail("server close: got %r" % (e.rcvd,))
            ok("server-side close (4001 'server says bye') reached the client")

    await one()
    await server_closes()


async def ws_flood(url):
    """Back-pressure: 16 x 1 MiB go out before a single echo is read, so
    the gateway's side toward this client fills up and the tunnel has to
    pause the upstream; then every echo must come back intact."""
    import websockets

    async with websockets.connect(url + "/ws/echo", max_size=4 * BIG,
                                  compression=None, max_queue=1,
                                  write_limit=64 * 1024,
                                  open_timeout=TIMEOUT) as ws:
        msgs = [os.urandom(BIG) for _ in range(16)]
        for m in msgs:
            await asyncio.wait_for(ws.send(m), TIMEOUT)
        await asyncio.sleep(1.0)
        for i, m in enumerate(msgs):
            got = await asyncio.wait_for(ws.recv(), TIMEOUT)
            if got != m:
                fail("flood: echo %d differs" % i)
        await ws.close()
    ok("16 x 1 MiB sent before reading: every echo intact")


async def ws_idle(url):
    import time
    import websockets

    async with websockets.connect(url + "/idle/x", ping_interval=None,
                                  open_timeout=TIMEOUT) as ws:
        await ws.send("once")
        if await asyncio.wait_for(ws.recv(), TIMEOUT) != "once":
            fail("idle route: no echo")
        t0 = time.monotonic()
        try:
            await asyncio.wait_for(ws.recv(), 10)
            fail("idle tunnel: a message came")
        except websockets.ConnectionClosed:
            pass
        except asyncio.TimeoutError:
            fail("idle tunnel still open after 10 s")
        took = time.monotonic() - t0
        if not 0.5 <= took <= 5:
            fail("idle tunnel closed after %.1f s (idle_timeout_ms 1000)" %
                 took)
    ok("an idle tunnel was closed after %.1f s (idle_timeout_ms 1000)" % took)


def ws_frame(payload, opcode=1):
    """A masked client frame (payload under 126 bytes)."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


def ws_early(hostport):
    """A client that does not wait for the 101: its frame goes with the
    request; the gateway holds it and forwards it behind the 101."""
    import base64
    import socket

    host, port = hostport.rsplit(":", 1)
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET /ws/echo HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\n"
           "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Key: %s\r\n\r\n" % (hostport, key)).encode()
    s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    s.sendall(req + ws_frame(b"early bird"))
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            fail("early: closed before the 101")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 101"):
        fail("early: %r" % head[:80])
    while len(rest) < 2 or len(rest) < 2 + (rest[1] & 0x7f):
        d = s.recv(4096)
        if not d:
            fail("early: closed before the echo")
        rest += d
    n = rest[1] & 0x7f
    if rest[0] != 0x81 or rest[2:2 + n] != b"early bird":
        fail("early: echo %r" % rest[:40])
    s.close()
    ok("a frame sent before the 101 was forwarded after it and echoed")


def fake_up(port):
    """An upstream that gets WebSocket wrong, one connection at a time."""
    import socket

    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    print("ready", flush=True)
    while True:
        c, _ = ls.accept()
        c.settimeout(TIMEOUT)
        buf = b""
        try:
            while b"\r\n\r\n" not in buf and len(buf) < 65536:
                d = c.recv(4096)
                if not d:
                    break
                buf += d
            if b"/fake/no-upgrade" in buf:
                c.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                          b"Connection: upgrade\r\n\r\n")
            else:
                c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5"
                          b"\r\nContent-Type: text/plain\r\n\r\nnope\n")
        except OSError:
            pass
        c.close()


# ---- gRPC -----------------------------------------------------------------


def grpc_handlers():
    import grpc

    def unary(req, ctx):
        ctx.set_trailing_metadata((("x-trailer", "kept"),))
        return b"echo:" + req

    def stream(req, ctx):
        for i in range(5):
            yield b"part-%d:" % i + req
        ctx.set_trailing_metadata((("x-count", "5"),))

    def bidi(it, ctx):
        for req in it:
            yield req[::-1]

    def notfound(req, ctx):
        ctx.abort(grpc.StatusCode.NOT_FOUND, "no such thing: " +
                  req.decode(errors="replace"))

    return grpc.method_handlers_generic_handler("test.Echo", {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "Stream": grpc.unary_stream_rpc_method_handler(stream),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
        "NotFound": grpc.unary_unary_rpc_method_handler(notfound),
    })


def grpc_server(port):
    from concurrent import futures
    import grpc

    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    srv.add_generic_rpc_handlers((grpc_handlers(),))
    if srv.add_insecure_port("127.0.0.1:%d" % port) == 0:
        fail("grpc server: cannot listen on %d" % port)
    srv.start()
    print("ready", flush=True)
    srv.wait_for_termination()


def channel(target, authority=None):
    import grpc

    # no proxy from the environment: loopback only
    opts = [("grpc.enable_http_proxy", 0), ("grpc.enable_retries", 0)]
    if authority is not None:
        opts.append(("grpc.default_authority", authority))
    ca = os.environ.get("CA")
    if ca:
        with open(ca, "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        opts.append(("grpc.ssl_target_name_override", "localhost"))
        return grpc.secure_channel(target, creds, options=opts)
    return grpc.insecure_channel(target, options=opts)


def grpc_client(target):
    import grpc

    ch = channel(target)
    unary = ch.unary_unary("/test.Echo/Unary")
    resp, call = unary.with_call(b"ping", timeout=TIMEOUT)
    if resp != b"echo:ping":
        fail("unary: %r" % (resp,))
    tm = dict(call.trailing_metadata() or ())
    if tm.get("x-trailer") != "kept":
        fail("unary: trailing metadata %r" % (tm,))
    ok("unary call, its trailer x-trailer: kept")

    stream = ch.unary_stream("/test.Echo/Stream")
    it = stream(b"s", timeout=TIMEOUT)
    got = [m for m in it]
    want = [b"part-%d:s" % i for i in range(5)]
    if got != want:
        fail("server streaming: %r" % (got,))
    tm = dict(it.trailing_metadata() or ())
    if tm.get("x-count") != "5" or it.code() != grpc.StatusCode.OK:
        fail("server streaming: status %r trailers %r" % (it.code(), tm))
    ok("server-streaming call: 5 messages, then OK and x-count: 5")

    bidi = ch.stream_stream("/test.Echo/Bidi")
    msgs = [os.urandom(100 * 1024) for _ in range(8)]
    got = list(bidi(iter(msgs), timeout=TIMEOUT))
    if got != [m[::-1] for m in msgs]:
        fail("bidi streaming: %d messages back" % len(got))
    ok("bidi-streaming call: 8 x 100 KiB each way")

    nf = ch.unary_unary("/test.Echo/NotFound")
    try:
        nf(b"widget", timeout=TIMEOUT)
        fail("NotFound call succeeded")
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.NOT_FOUND or \
                e.details() != "no such thing: widget":
            fail("status error: %r %r" % (e.code(), e.details()))
    ok("NOT_FOUND 'no such thing: widget' arrived intact")


def grpc_down(target):
    import grpc

    # the route of a dead backend is chosen by this authority
    ch = channel(target, "down.test")
    unary = ch.unary_unary("/test.Echo/Unary")
    try:
        unary(b"ping", timeout=TIMEOUT)
        fail("a call to a down backend succeeded")
    except grpc.RpcError as e:
        # the gateway's own grpc-message, not grpc's synthesis from 502
        if e.code() != grpc.StatusCode.UNAVAILABLE or \
                e.details() != "upstream connect failed or reset":
            fail("backend down: %r %r" % (e.code(), e.details()))
    ok("backend down: UNAVAILABLE 'upstream connect failed or reset'")


def main():
    if len(sys.argv) != 3:
        fail(__doc__)
    cmd, arg = sys.argv[1], sys.argv[2]
    if cmd == "ws-server":
        asyncio.run(ws_server(int(arg)))
    elif cmd == "ws-client":
        asyncio.run(asyncio.wait_for(ws_client(arg), 4 * TIMEOUT))
    elif cmd == "grpc-server":
        grpc_server(int(arg))
    elif cmd == "grpc-client":
        grpc_client(arg)
    elif cmd == "grpc-down":
        grpc_down(arg)
    elif cmd == "ws-flood":
        asyncio.run(asyncio.wait_for(ws_flood(arg), 4 * TIMEOUT))
    elif cmd == "ws-idle":
        asyncio.run(asyncio.wait_for(ws_idle(arg), 4 * TIMEOUT))
    elif cmd == "ws-early":
        ws_early(arg)
    elif cmd == "fake-up":
        fake_up(int(arg))
    else:
        fail("unknown command " + cmd)


if __name__ == "__main__":
    main()
