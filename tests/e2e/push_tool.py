#!/usr/bin/env python3
# Helpers of tests/e2e/push.sh that speak to edgelbd's push service:
#   load      N messages to one device over the business API from
#             several threads, each with its idempotency key, retried
#             (same key) while edgelbd is down, until a deadline; every
#             id answered 202 is appended to a file as it arrives.
#   oversize  HELLO, then a frame header announcing more than the limit:
#             expects ERROR too_large and the connection closed.
#   probe     bad input on live connections: an unknown frame type
#             (ERROR unknown_type, the connection stays), an ACK for an
#             unknown id (ignored), a PING (PONG: still alive); another
#             version (ERROR version, closed); a frame before HELLO
#             (ERROR not_registered, closed); a second connection of the
#             same device (the first is closed).
#   silent    HELLO, then nothing: expects the server to close the
#             connection after two heartbeats (not before one).
#   slowloris partial frames, then silence: a connection with 4 bytes of
#             a HELLO header, and N registered connections that each
#             announce a full-size frame, send part of its body a byte a
#             second for 3 s and then nothing: expects every one closed by
#             the server (the HELLO one within the HELLO timeout, the
#             others two heartbeats after their last byte, not before).
#   claims    N connections that each send a HELLO header announcing the
#             largest frame allowed and one byte of it, then another byte:
#             expects edgelbd's
#             RSS to grow by less than half that frame per connection
#             (memory follows the bytes sent, not the header's claim).
#   flood     HELLO, then N PINGs without reading a single PONG; then
#             reads them all: expects a PONG for every PING while
#             edgelbd's RSS grew by less than half the PONGs' size.
#   busy      N registered connections, then one more: expects ERROR busy
#             and the connection closed.
#   idle      N registered connections held open; prints edgelbd's RSS
#             growth per connection (VmRSS before/after).
# Every loop is bounded in count and in time. Loopback only.
import http.client
import json
import socket
import struct
import sys
import threading
import time


def frame(t, body, flags=0):
    return struct.pack('>BBHI', 1, t, flags, len(body)) + body


def s16(b):
    return struct.pack('>H', len(b)) + b


def hello(device):
    return frame(1, s16(device.encode()) + s16(b'test') + s16(b'e2e') +
                 struct.pack('>Q', 0))


def read_frame(sock):
    hdr = b''
    while len(hdr) < 8:
        chunk = sock.recv(8 - len(hdr))
        if not chunk:
            return None
        hdr += chunk
    _, t, _, n = struct.unpack('>BBHI', hdr)
    body = b''
    while len(body) < n:
        chunk = sock.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return t, body


def load(port, key, device, n, threads, out, deadline_s):
    deadline = time.time() + deadline_s
    lock = threading.Lock()
    nxt = [0]
    stats = {'ok': 0, 'retries': 0, 'gave_up': 0}
    f = open(out, 'a', buffering=1)

    def worker():
        conn = None
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                return
            body = json.dumps({'device': device, 'payload': {'i': i},
                               'idempotency_key': 'load-%d' % i})
            while True:
                if time.time() > deadline:
                    with lock:
                        stats['gave_up'] += 1
                    break
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection('127.0.0.1', port,
                                                          timeout=5)
                    conn.request('POST', '/push/v1/messages', body,
                                 {'X-Api-Key': key,
                                  'Content-Type': 'application/json'})
                    r = conn.getresponse()
                    data = r.read()
                    if r.status == 202:
                        mid = json.loads(data)['id']
                        with lock:
                            f.write('%d %s\n' % (i, mid))
                            stats['ok'] += 1
                        break
                    raise OSError('status %d' % r.status)
                except (OSError, http.client.HTTPException):
                    if conn is not None:
                        conn.close()
                    conn = None
                    with lock:
                        stats['retries'] += 1
                    time.sleep(0.05)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print('load: ok=%d retries=%d gave_up=%d' %
          (stats['ok'], stats['retries'], stats['gave_up']))
    return 0 if stats['gave_up'] == 0 else 1


def oversize(port, limit):
    s = socket.create_connection(('127.0.0.1', port), 5)
    s.settimeout(5)
    s.sendall(hello('oversize-1'))
    t, _ = read_frame(s)
    if t != 2:
        print('oversize: no WELCOME (type %d)' % t)
        return 1
    # a MESSAGE-sized ACK header one byte over the limit, no body
    s.sendall(struct.pack('>BBHI', 1, 6, 0, limit + 1))
    got = read_frame(s)
    if got is None or got[0] != 9:
        print('oversize: no ERROR frame: %r' % (got,))
        return 1
    code = struct.unpack('>H', got[1][:2])[0]
    closed = read_frame(s) is None
    print('oversize: error code %d, closed %s' % (code, closed))
    return 0 if code == 3 and closed else 1


def connect(port):
    s = socket.create_connection(('127.0.0.1', port), 5)
    s.settimeout(5)
    return s


def error_code(got):
    return struct.unpack('>H', got[1][:2])[0] if got and got[0] == 9 else 0


def probe(port):
    res = []
    s = connect(port)
    s.sendall(hello('probe-1'))
    read_frame(s)
    s.sendall(frame(42, b'xyz'))
    res.append(('unknown type: ERROR 8', error_code(read_frame(s)) == 8))
    s.sendall(frame(6, struct.pack('>H', 1) + bytes(16)))
    s.sendall(frame(7, b''))
    got = read_frame(s)
    res.append(('unknown ACK ignored, PING answered', got and got[0] == 8))
    v = connect(port)
    v.sendall(struct.pack('>BBHI', 2, 7, 0, 0))
    res.append(('version 2: ERROR 2, closed',
                error_code(read_frame(v)) == 2 and read_frame(v) is None))
    b = connect(port)
    b.sendall(frame(7, b''))
    res.append(('PING before HELLO: ERROR 4, closed',
                error_code(read_frame(b)) == 4 and read_frame(b) is None))
    t = connect(port)
    t.sendall(hello('probe-1'))
    got = read_frame(t)
    res.append(('takeover: the new connection is welcomed',
                got and got[0] == 2))
    res.append(('takeover: the old connection is closed',
                read_frame(s) is None))
    bad = [name for name, ok in res if not ok]
    print('probe: %d checks, failed: %s' % (len(res), bad or 'none'))
    return 1 if bad else 0


def silent(port):
    s = socket.create_connection(('127.0.0.1', port), 5)
    s.sendall(hello('silent-1'))
    s.settimeout(5)
    t, body = read_frame(s)
    hb = struct.unpack('>I', body[:4])[0]
    start = time.time()
    s.settimeout(4 * hb)
    try:
        got = read_frame(s)
    except socket.timeout:
        got = 'timeout'
    took = time.time() - start
    print('silent: heartbeat %ds, closed after %.1fs (%r)' % (hb, took, got))
    return 0 if got is None and hb <= took <= 3 * hb else 1


def close_times(socks, limit):
    """For each socket, the time.time() at which the server closed it
    (reading whatever it sends), or None if it did not within limit."""
    import selectors
    sel = selectors.DefaultSelector()
    out = [None] * len(socks)
    for i, s in enumerate(socks):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
    end = time.time() + limit
    left = len(socks)
    while left > 0 and time.time() < end:
        for key, _ in sel.select(max(0.05, end - time.time())):
            try:
                data = key.fileobj.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b''
            if not data:
                out[key.data] = time.time()
                sel.unregister(key.fileobj)
                left -= 1
    sel.close()
    return out


def slowloris(port, n, limit, hello_s):
    pre = socket.create_connection(('127.0.0.1', port), 5)
    pre.sendall(hello('slow-pre')[:4])
    pre_at = time.time()
    socks, hb = [], 0
    for i in range(n):
        s = socket.create_connection(('127.0.0.1', port), 5)
        s.settimeout(5)
        s.sendall(hello('slow-%d' % i))
        t, body = read_frame(s)
        hb = struct.unpack('>I', body[:4])[0]
        # an ACK header announcing the largest frame allowed
        s.sendall(struct.pack('>BBHI', 1, 6, 0, limit) + b'\0' * 100)
        socks.append(s)
    for _ in range(3):
        time.sleep(1)
        for s in socks:
            s.sendall(b'\0')
    last = time.time()
    at = close_times(socks + [pre], 3 * hb + hello_s)
    took = [t - last if t is not None else None for t in at[:-1]]
    took_pre = at[-1] - pre_at if at[-1] is not None else None
    ok = (all(t is not None and 2 * hb - 0.5 <= t <= 2 * hb + 2
              for t in took) and took_pre is not None and
          hello_s - 0.5 <= took_pre <= hello_s + 2)
    print('slowloris: heartbeat %ds; %d partial frames closed %s s after '
          'their last byte; a partial HELLO closed after %s s' %
          (hb, n, ['%.1f' % t if t is not None else 'never' for t in took],
           '%.1f' % took_pre if took_pre is not None else 'never'))
    return 0 if ok else 1


def claims(port, pid, n, limit):
    socks = []
    before = rss_kb(pid)
    for i in range(n):
        s = socket.create_connection(('127.0.0.1', port), 5)
        s.sendall(struct.pack('>BBHI', 1, 1, 0, limit) + b'\0')
        socks.append(s)
    # a second byte, read apart from the first ones
    time.sleep(0.5)
    for s in socks:
        s.sendall(b'\0')
    time.sleep(1)
    grown = (rss_kb(pid) - before) * 1024 // n
    for s in socks:
        s.close()
    print('claims: %d connections announcing %d-byte frames, RSS grew %d '
          'bytes each' % (n, limit, grown))
    return 0 if grown < limit // 2 else 1


def flood(port, pid, n):
    # a small receive buffer: what the device does not read stays in
    # edgelbd, not in this kernel's socket
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect(('127.0.0.1', port))
    s.sendall(hello('flood-1'))
    read_frame(s)
    before = rss_kb(pid)
    ping = frame(7, b'') * 1024
    sent = 0
    s.settimeout(2)
    try:
        while sent < n:
            s.sendall(ping)
            sent += 1024
    except socket.timeout:
        pass  # the server stopped reading: so much the better
    grown = rss_kb(pid) - before
    s.settimeout(10)
    got = 0
    buf = b''
    want = sent * 8
    while len(buf) + got * 8 < want:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        buf += chunk
        k = len(buf) // 8
        got += k
        buf = buf[k * 8:]
    print('flood: sent %d PINGs (%d KiB), got %d PONGs, RSS grew %d KiB' %
          (sent, sent * 8 // 1024, got, grown))
    return 0 if got * 8 + len(buf) >= want and grown < sent * 8 // 2048 \
        else 1


def busy(port, n):
    socks = []
    for i in range(n):
        s = socket.create_connection(('127.0.0.1', port), 5)
        s.settimeout(5)
        s.sendall(hello('busy-%d' % i))
        got = read_frame(s)
        if got is None or got[0] != 2:
            print('busy: connection %d got no WELCOME' % i)
            return 1
        socks.append(s)
    s = socket.create_connection(('127.0.0.1', port), 5)
    s.settimeout(5)
    got = read_frame(s)
    closed = read_frame(s) is None
    code = struct.unpack('>H', got[1][:2])[0] if got and got[0] == 9 else 0
    print('busy: connection %d: error code %d, closed %s' % (n + 1, code,
                                                          closed))
    for x in socks:
        x.close()
    return 0 if code == 7 and closed else 1


def rss_kb(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def idle(port, pid, n):
    socks = []
    before = rss_kb(pid)
    for i in range(n):
        s = socket.create_connection(('127.0.0.1', port), 5)
        s.settimeout(5)
        socks.append(s)
    time.sleep(1)
    connected = rss_kb(pid)
    for i, s in enumerate(socks):
        s.sendall(hello('idle-%d' % i))
    for s in socks:
        got = read_frame(s)
        if got is None or got[0] != 2:
            print('idle: a connection got no WELCOME')
            return 1
    time.sleep(1.5)  # their registrations committed, buffers settled
    after = rss_kb(pid)
    print('idle: %d connections, RSS %d -> %d KiB, %d bytes each '
          '(%d connected, %d more once registered)' %
          (n, before, after, (after - before) * 1024 // n,
           (connected - before) * 1024 // n,
           (after - connected) * 1024 // n))
    for s in socks:
        s.close()
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == 'load':
        return load(int(sys.argv[2]), sys.argv[3], sys.argv[4],
                    int(sys.argv[5]), int(sys.argv[6]), sys.argv[7],
                    float(sys.argv[8]))
    if cmd == 'oversize':
        return oversize(int(sys.argv[2]), int(sys.argv[3]))
    if cmd == 'probe':
        return probe(int(sys.argv[2]))
    if cmd == 'silent':
        return silent(int(sys.argv[2]))
    if cmd == 'slowloris':
        return slowloris(int(sys.argv[2]), int(sys.argv[3]),
                         int(sys.argv[4]), float(sys.argv[5]))
    if cmd == 'claims':
        return claims(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
                      int(sys.argv[5]))
    if cmd == 'flood':
        return flood(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    if cmd == 'busy':
        return busy(int(sys.argv[2]), int(sys.argv[3]))
    if cmd == 'idle':
        return idle(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    print('unknown command', cmd)
    return 2


if __name__ == '__main__':
    sys.exit(main())
