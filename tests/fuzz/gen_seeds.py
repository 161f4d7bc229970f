#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write the seed corpora of the libFuzzer targets into tests/fuzz/corpus/.

Standard library only. Run from anywhere:  python3 tests/fuzz/gen_seeds.py
It (re)writes the files named seed-*; files that fuzzing runs added
(merged with -merge=1) are left alone.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- edgelbd's INI file (fuzz_config) and the state file (fuzz_state) ----

SERVICES = """
[service web]
vip = 192.0.2.1:80
mode = dr
scheduler = wrr
backend = 10.1.0.10:80 weight=3
backend = 10.1.0.11:80
healthcheck = http

[service dns]
vip = 192.0.2.1:53
proto = udp
mode = nat
scheduler = sh
persistence = 300
backend = 10.1.0.10:5353
healthcheck = udp
on_fail = remove

[service tun]
vip = 192.0.2.2:443
mode = tunnel
scheduler = mh
mh_size = 251
backend = 10.1.0.12:443 weight=0

[service full]
vip = [2001:db8::1]:80
mode = fnat
scheduler = lrt
toa = yes
proxy_protocol = v2
backend = 10.1.0.13:8080
backend = [2001:db8:1::13]:8080 weight=65535
laddr = 10.1.0.100
laddr = 10.1.0.101
"""

CHECKS = """
[healthcheck http]
type = http
interval = 500ms
timeout = 0.2s
rise = 1
fall = 2
path = /health
host = www.example.test
expect_status = 204
expect_body = ok

[healthcheck udp]
type = udp
send = ping\\n\\x00
expect = pong
port = 5354

[healthcheck tls]
type = https
interval = 1m
"""

GLOBAL = """; edgelbd configuration
[global]
log_level = debug
log_target = stderr
ctl_socket = /run/edgelb/ctl.sock
reconcile_interval = 30s

[dataplane]
socket = /run/edgelb/dp.sock
max_conns = 1024

[port p0]
devargs = net_ring0
"""

HTTPDNS = """
[httpdns]
listen = 127.0.0.1:8053
ttl = 60
empty_ttl = 5
max_batch = 5
max_body = 4096
secret = s3cr3t
sign_algo = hmac-sha256
trusted_proxy = 10.0.0.0/8
fallback = 198.51.100.53
view = 10.0.0.0/8 internal
view = 2001:db8:1::/48 internal
domain = www.example.test service=web,full
domain = www.example.test service=dns view=internal ttl=30

[metrics]
listen = 127.0.0.1:9100
path = /metrics
"""

put("config", "full.ini", GLOBAL + CHECKS + SERVICES + HTTPDNS)
put("config", "services.ini", CHECKS + SERVICES)
put("config", "minimal.ini", "[service a]\nvip = 10.0.0.1:80\nmode = dr\n"
    "backend = 10.1.0.1:80\n")
put("config", "errors.ini", "[global]\nlog_level = loud\n[service x y]\n"
    "vip = 10.0.0.1:99999\nmode = fnat\n[nosuch]\nkey\n[unterminated\n")
put("config", "continuation.ini", b"\xef\xbb\xbf[service a]\nvip = "
    b"10.0.0.1:80\n  ; comment\nmode = nat\nbackend = 10.1.0.1:80\n"
    b"  weight=2\n")

put("state", "state.ini", "# edgelbd state file\n" + SERVICES)
put("state", "one.ini", "[service a]\nvip = 10.0.0.1:80\nproto = tcp\n"
    "mode = dr\nscheduler = rr\npersistence = 0\non_fail = quiesce\n"
    "backend = 10.1.0.1:80 weight=1\n")
put("state", "empty.ini", "# nothing\n")
put("state", "bad.ini", "[global]\nlog_level = info\n[service b]\n"
    "vip = nonsense\n")

# ---- edgelb-dp's INI (fuzz_dpconf) ----

put("dpconf", "example.ini", """[dataplane]
socket = /run/edgelb/dp.sock
route = 0.0.0.0/0 via 192.0.2.254

[port wan]
devargs = 0000:01:00.0
address = 192.0.2.10/24

[port lan]
devargs = 0000:01:00.1
address = 10.0.0.1/24
""")
put("dpconf", "all.ini", """[global]
log_level = info
[dataplane]
socket = /tmp/dp.sock
socket_group = edgelb
log_level = debug
max_services = 64
max_backends = 256
max_routes = 64
max_neighbours = 64
neigh_queue_len = 4
arp_retry_ms = 100
arp_retries = 2
neigh_reachable_s = 30
mbufs = 4095
max_conns = 4096
icmp_rate = 1000
icmp_burst = 50
icmp_dest_rate = 100
icmp_dest_burst = 10
frag_reassembly = yes
frag_timeout_ms = 1000
frag_min_size = 128
frag_max_entries = 256
frag_buckets = 128
frag_bucket_entries = 4
wait_config = yes
xdp_steer = no
xdp_prog = /usr/lib/edgelb/xdp_steer.o
xdp_pin_dir = /sys/fs/bpf/x
timeout_syn_recv = 30
timeout_established = 900
timeout_fin_wait = 120
timeout_time_wait = 120
timeout_close = 10
timeout_udp = 300
route = 203.0.113.0/24 via 10.1.0.254 dev p1
route = 198.51.100.0/24 dev p0
[port p0]
devargs = net_af_xdp0,iface=veth0
address = 10.0.0.1/24
address = 10.0.0.2/32
mtu = 1500
mac = 02:00:00:00:00:01
rx_desc = 512
tx_desc = 512
xdp_steer = yes
[port p1]
devargs = net_ring1
address = 10.1.0.1/24
[service web]
vip = 10.0.0.1:80
""")
put("dpconf", "overlap.ini", "[port a]\ndevargs = x\naddress = 10.0.0.1/8\n"
    "[port b]\ndevargs = y\naddress = 10.1.0.1/16\n")

# ---- health check responses (fuzz_health): control byte + response ----

put("health", "ok", b"\x00HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
put("health", "body", b"\x01HTTP/1.1 200 OK\r\n\r\nall ok\n")
put("health", "404", b"\x02HTTP/1.0 404 Not Found\r\n\r\n")
put("health", "partial", b"\x00HTTP/1.1 20")
put("health", "udp", b"\x04pong\x00xxpongxx")

if len(sys.argv) > 1 and sys.argv[1] == "--no-pkt":
    sys.exit(0)

# ---- the packet path (fuzz_pkt) ----
# Input layout (see fuzz_pkt.c): an options byte (bit 0: RSS on port 1),
# then records of u8 flags, u16 big-endian length, frame.
# flags: bit 0 arrival port (0: clients, 1: backends), bit 1 worker,
# bit 2 keep the frame's checksums as they are (else the harness fixes
# the IPv4 and TCP/UDP/ICMP checksums), bit 3 start a new burst, bit 4
# a backend's reply to the last packet sent to a backend, bit 5 a
# control request (op, service index, backend index, weight).


def put_pkt(name, data, opts=0):
    put("pkt", name, bytes([opts]) + data)


MAC_P = [bytes([2, 0, 0, 0, 0, 1]), bytes([2, 0, 0, 0, 0, 2])]
MAC_ROUTER = bytes([2, 0, 0, 0, 0, 0xFE])
MAC_B = {10: bytes([2, 0, 0, 0, 1, 10]), 11: bytes([2, 0, 0, 0, 1, 11]),
         12: bytes([2, 0, 0, 0, 1, 12])}
CLIENT = bytes([203, 0, 113, 7])


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(src, dst, proto, l4, ttl=60, df=True, ident=0x1234, tos=0):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(l4), ident,
                      0x4000 if df else 0, ttl, proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + l4


def tcp(src, dst, sport, dport, flags, seq=1000, ack=0, payload=b"",
        opts=b""):
    off = (20 + len(opts)) // 4
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags,
                    65535, 0, 0) + opts
    ph = src + dst + struct.pack("!BBH", 0, 6, len(h) + len(payload))
    c = csum(ph + h + payload)
    return h[:16] + struct.pack("!H", c) + h[18:] + payload


def udp(src, dst, sport, dport, payload):
    h = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    ph = src + dst + struct.pack("!BBH", 0, 17, 8 + len(payload))
    c = csum(ph + h + payload) or 0xFFFF
    return h[:6] + struct.pack("!H", c) + payload


def eth(dst, src, etype, payload, vlan=None):
    if vlan is not None:
        return dst + src + struct.pack("!HHH", 0x8100, vlan, etype) + payload
    return dst + src + struct.pack("!H", etype) + payload


def rec(frame, port=0, worker=0, raw=False, poll=False):
    flags = port | worker << 1 | (4 if raw else 0) | (8 if poll else 0)
    return struct.pack("!BH", flags, len(frame)) + frame


SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08
MSS = b"\x02\x04\x05\xb4"


def from_client(vip, proto, dport, flags=SYN, sport=40000, payload=b"",
                seq=1000, ack=0, opts=b"", vlan=None, ttl=60):
    v = ip4(vip)
    if proto == "tcp":
        l4 = tcp(CLIENT, v, sport, dport, flags, seq, ack, payload, opts)
        p = 6
    else:
        l4 = udp(CLIENT, v, sport, dport, payload)
        p = 17
    return eth(MAC_P[0], MAC_ROUTER, 0x0800, ipv4(CLIENT, v, p, l4, ttl),
               vlan)


def from_backend(b, dst, proto, sport, dport, flags=SYN | ACK, payload=b"",
                 seq=9000, ack=1001):
    s = ip4("10.1.0.%d" % b)
    d = ip4(dst)
    if proto == "tcp":
        l4 = tcp(s, d, sport, dport, flags, seq, ack, payload)
        p = 6
    else:
        l4 = udp(s, d, sport, dport, payload)
        p = 17
    return eth(MAC_P[1], MAC_B[b], 0x0800, ipv4(s, d, p, l4))


# The services fuzz_pkt builds (keep in sync with fuzz_pkt.c):
#  192.0.2.1 tcp 80 / udp 53  DR      -> 10.1.0.10, .11
#  192.0.2.2 tcp 80 / udp 53  TUNNEL  -> 10.1.0.10, .11
#  192.0.2.3 tcp 80 / udp 53  NAT     -> 10.1.0.10:8080/5353, .11
#  192.0.2.4 tcp 80 / udp 53  FULL-NAT, TOA (tcp), laddr 10.1.0.100
#  192.0.2.5 tcp 443          FULL-NAT, PROXY v2, laddr 10.1.0.101
#  192.0.2.6 tcp 80           NAT, persistence 60
SVCS = [("dr", "192.0.2.1"), ("tun", "192.0.2.2"), ("nat", "192.0.2.3"),
        ("fnat", "192.0.2.4")]

for name, vip in SVCS:
    syn = from_client(vip, "tcp", 80, SYN, opts=MSS)
    ack = from_client(vip, "tcp", 80, ACK, seq=1001, ack=9001)
    data = from_client(vip, "tcp", 80, PSH | ACK, seq=1001, ack=9001,
                       payload=b"GET / HTTP/1.0\r\n\r\n")
    fin = from_client(vip, "tcp", 80, FIN | ACK, seq=1019, ack=9001)
    rst = from_client(vip, "tcp", 80, RST, seq=1019)
    q = from_client(vip, "udp", 53, payload=b"\x12\x34\x01\x00" + b"\0" * 8)
    put_pkt(name + "-syn", rec(syn))
    put_pkt(name + "-udp", rec(q))
    put_pkt(name + "-flow", rec(syn) + rec(ack) + rec(data) + rec(fin) +
        rec(rst))
    put_pkt(name + "-vlan", rec(from_client(vip, "tcp", 80, SYN,
                                               opts=MSS, vlan=100)))

# NAT: SYN, then the backend's SYN-ACK (to the client), data both ways
nat_syn = from_client("192.0.2.3", "tcp", 80, SYN, sport=42000, opts=MSS)
nat_sa = from_backend(10, "203.0.113.7", "tcp", 8080, 42000)
nat_ack = from_client("192.0.2.3", "tcp", 80, ACK, sport=42000, seq=1001,
                      ack=9001)
nat_rep = from_backend(10, "203.0.113.7", "tcp", 8080, 42000, PSH | ACK,
                       b"HTTP/1.0 200 OK\r\n\r\n", 9001, 1001)
put_pkt("nat-reply", rec(nat_syn) + rec(nat_sa, port=1) + rec(nat_ack) +
    rec(nat_rep, port=1))
put_pkt("nat-handoff", rec(nat_syn) + rec(nat_sa, port=1, worker=1) +
    rec(nat_rep, port=1, worker=1, poll=True))
nat_q = from_client("192.0.2.3", "udp", 53, sport=42001, payload=b"q" * 20)
nat_r = from_backend(10, "203.0.113.7", "udp", 5353, 42001, payload=b"r" * 40)
put_pkt("nat-udp-reply", rec(nat_q) + rec(nat_r, port=1))

# FULL-NAT: the local port is not known in advance; the harness's
# "reply to the last" record (flags bit 4) answers the last packet the
# dataplane sent to a backend with its addresses and ports swapped.
REPLY_LAST = 16


def rec_reply(flags_tcp, payload=b"", raw=False):
    return struct.pack("!BHBB", 1 | REPLY_LAST | (4 if raw else 0),
                       2 + len(payload), flags_tcp, len(payload)) + payload


for vip, port in (("192.0.2.4", 80), ("192.0.2.5", 443)):
    s = from_client(vip, "tcp", port, SYN, sport=44000, opts=MSS)
    a = from_client(vip, "tcp", port, ACK, sport=44000, seq=1001, ack=9001)
    d = from_client(vip, "tcp", port, PSH | ACK, sport=44000, seq=1001,
                    ack=9001, payload=b"hello")
    flow = (rec(s) + rec_reply(SYN | ACK) + rec(a) + rec(d) +
            rec_reply(PSH | ACK, b"world"))
    put_pkt("fnat-%d-handshake" % port, flow)
    put_pkt("fnat-%d-handshake-rss" % port, flow, opts=1)
put_pkt("fnat-udp-reply", rec(from_client("192.0.2.4", "udp", 53,
                                              sport=44001, payload=b"q")) +
    rec_reply(0, b"answer"))

# ICMP: echo to a VIP and to our address; an error from a NAT backend
def icmp(typ, code, rest, payload):
    h = struct.pack("!BBH", typ, code, 0) + rest + payload
    return h[:2] + struct.pack("!H", csum(h)) + h[4:]


echo = icmp(8, 0, struct.pack("!HH", 7, 1), b"ping" * 8)
put_pkt("icmp-echo-vip", rec(eth(MAC_P[0], MAC_ROUTER, 0x0800,
                                    ipv4(CLIENT, ip4("192.0.2.1"), 1, echo))))
put_pkt("icmp-echo-port", rec(eth(MAC_P[1], MAC_B[10], 0x0800,
                                     ipv4(ip4("10.1.0.10"),
                                          ip4("10.1.0.1"), 1, echo))))
inner = ipv4(ip4("203.0.113.7"), ip4("10.1.0.10"), 17,
             udp(ip4("203.0.113.7"), ip4("10.1.0.10"), 42001, 5353, b"q" * 20))
err = icmp(3, 3, b"\0\0\0\0", inner)
put_pkt("icmp-error-nat", rec(nat_q) + rec(eth(
    MAC_P[1], MAC_B[10], 0x0800, ipv4(ip4("10.1.0.10"), CLIENT, 1, err)),
    port=1))
# the same quoting whatever the dataplane sent (reply record, flags 0xff)
put_pkt("icmp-error-nat-last", rec(nat_q) + rec_reply(0xFF))
put_pkt("icmp-error-fnat-last", rec(from_client("192.0.2.4", "udp", 53,
                                                 sport=44002, payload=b"q")) +
        rec_reply(0xFF))
put_pkt("icmp-error-tcp-last", rec(nat_syn) + rec_reply(0xFF))
inner_c = ipv4(ip4("192.0.2.3"), CLIENT, 6,
               tcp(ip4("192.0.2.3"), CLIENT, 80, 42000, SYN | ACK))
put_pkt("icmp-error-client", rec(nat_syn) + rec(eth(
    MAC_P[0], MAC_ROUTER, 0x0800,
    ipv4(ip4("198.51.100.1"), ip4("192.0.2.3"), 1,
         icmp(11, 0, b"\0\0\0\0", inner_c)))))

# TUNNEL: a SYN too big for the MTU with DF (ICMP frag-needed back)
put_pkt("tun-big", rec(from_client("192.0.2.2", "tcp", 80, SYN,
                                      payload=b"x" * 1456, opts=MSS)))

# ARP requests for a VIP and a port address, an ARP reply, a probe
def arp(op, sha, sip, tha, tip):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, sip, tha,
                       tip)


BC = b"\xff" * 6
put_pkt("arp-vip", rec(eth(BC, MAC_ROUTER, 0x0806,
                              arp(1, MAC_ROUTER, ip4("10.0.0.254"),
                                  b"\0" * 6, ip4("192.0.2.4")))))
put_pkt("arp-port", rec(eth(BC, MAC_B[10], 0x0806,
                               arp(1, MAC_B[10], ip4("10.1.0.10"), b"\0" * 6,
                                   ip4("10.1.0.1"))), port=1))
put_pkt("arp-reply", rec(eth(MAC_P[1], MAC_B[12], 0x0806,
                                arp(2, MAC_B[12], ip4("10.1.0.12"),
                                    MAC_P[1], ip4("10.1.0.1"))), port=1))
put_pkt("arp-vlan", rec(eth(BC, MAC_ROUTER, 0x0806,
                               arp(1, MAC_ROUTER, ip4("10.0.0.254"),
                                   b"\0" * 6, ip4("192.0.2.1")), vlan=7)))

# IPv6 (recognised, dropped), a fragment, a bad header checksum
ip6 = struct.pack("!IHBB16s16s", 0x60000000, 8, 17, 64, b"\x20\x01" + b"\0" *
                  14, b"\x20\x01" + b"\0" * 13 + b"\1") + \
    struct.pack("!HHHH", 1, 53, 8, 0)
put_pkt("ipv6", rec(eth(MAC_P[0], MAC_ROUTER, 0x86DD, ip6)))
frag = bytearray(from_client("192.0.2.3", "udp", 53, payload=b"f" * 64))
frag[14 + 6] = 0x20  # MF
put_pkt("frag-head", rec(bytes(frag)))
put_pkt("bad-ipsum", rec(from_client("192.0.2.1", "tcp", 80, SYN),
                            raw=True) + rec(b"\0" * 10))
put_pkt("ttl1", rec(from_client("192.0.2.3", "udp", 53, ttl=1,
                                   payload=b"x")))
# persistence: two connections from one client stick to one backend
put_pkt("persist", rec(from_client("192.0.2.6", "tcp", 80, SYN,
                                      sport=45000)) +
    rec(from_client("192.0.2.6", "tcp", 80, SYN, sport=45001)))

# control requests: op 0 delete, 1 set weight, 2 add, 3 switch the
# deleted-backend policy; service index into fuzz_pkt.c's svcs[]
CTRL = 0x20


def rec_ctrl(op, svc, be, weight=0):
    return struct.pack("!BHBBBB", CTRL, 4, op, svc, be, weight)


# NAT tcp (svcs[4]): a connection, its backend deleted, more of it
for b in (0, 1):
    s_ = from_client("192.0.2.3", "tcp", 80, SYN, sport=46000 + b)
    a_ = from_client("192.0.2.3", "tcp", 80, ACK, sport=46000 + b, seq=1001,
                     ack=9001)
    put_pkt("ctrl-del-%d" % b, rec(s_) + rec_ctrl(0, 4, b) + rec(a_) +
            rec(s_))
    put_pkt("ctrl-del-reset-%d" % b, rec(s_) + rec_ctrl(3, 0, 0) +
            rec_ctrl(0, 4, b) + rec(a_) + rec(s_))
# weight 0 (quiescent), then weights back; a new backend in DR
put_pkt("ctrl-weight", rec(from_client("192.0.2.1", "udp", 53, sport=47000,
                                        payload=b"q")) +
        rec_ctrl(1, 1, 0, 0) + rec_ctrl(1, 1, 1, 0) +
        rec(from_client("192.0.2.1", "udp", 53, sport=47001, payload=b"q")) +
        rec_ctrl(1, 1, 1, 5) +
        rec(from_client("192.0.2.1", "udp", 53, sport=47002, payload=b"q")))
put_pkt("ctrl-add", rec_ctrl(2, 0, 3, 9) +
        rec(from_client("192.0.2.1", "tcp", 80, SYN, sport=47003)))
# persistence (svcs[9]): template, backend deleted, new connection
put_pkt("ctrl-persist", rec(from_client("192.0.2.6", "tcp", 80, SYN,
                                         sport=45000)) +
        rec_ctrl(0, 9, 0) + rec_ctrl(0, 9, 1) +
        rec(from_client("192.0.2.6", "tcp", 80, SYN, sport=45001)))
# FULL-NAT with its only backend deleted while replies come
put_pkt("ctrl-fnat", rec(from_client("192.0.2.4", "tcp", 80, SYN,
                                      sport=44100, opts=MSS)) +
        rec_ctrl(0, 6, 0) + rec_reply(SYN | ACK) +
        rec(from_client("192.0.2.4", "tcp", 80, ACK, sport=44100, seq=1001,
                        ack=9001)))


# Fragments (dataplane/ipfrag.h): a UDP datagram of 1800 payload bytes to
# each VIP in three fragments (in order, reordered, one overlapping), a
# TCP segment of 1500 bytes of an open connection in two, and the same
# with RSS on port 0 (options bit 1: the datagram may go to the worker of
# its flow). Checksums are fixed by the harness per frame: raw=False
# leaves a fragment's L4 bytes alone.
def frags(frame, cuts):
    """Cut the IPv4 packet of the Ethernet frame at the payload offsets
    cuts (multiples of 8 but the end): [(off, len, more), ...]."""
    l2, ip = frame[:14], frame[14:]
    hdr, pay = ip[:20], ip[20:]
    out = []
    for off, ln, more in cuts:
        h = bytearray(hdr)
        struct.pack_into("!H", h, 2, 20 + ln)
        struct.pack_into("!H", h, 6, (0x2000 if more else 0) | off // 8)
        struct.pack_into("!H", h, 10, 0)
        struct.pack_into("!H", h, 10, csum(bytes(h)))
        out.append(l2 + bytes(h) + pay[off:off + ln])
    return out


for name, vip in SVCS:
    d = from_client(vip, "udp", 53, sport=48000, payload=bytes(
        (i * 7) & 0xFF for i in range(1800)))
    pl = len(d) - 34
    whole = [(0, 800, True), (800, 800, True), (1600, pl - 1600, False)]
    fs = frags(d, whole)
    put_pkt("frag-udp-%s" % name, b"".join(rec(f) for f in fs))
    put_pkt("frag-udp-%s-reorder" % name,
            rec(fs[2]) + rec(fs[0], poll=True) + rec(fs[1], poll=True))
    ov = frags(d, [(0, 800, True), (792, 800, True), (1600, pl - 1600,
                                                      False)])
    put_pkt("frag-udp-%s-overlap" % name, b"".join(rec(f) for f in ov))
    put_pkt("frag-udp-%s-rss" % name, b"".join(rec(f) for f in fs), opts=2)
    syn = from_client(vip, "tcp", 80, SYN, sport=48001, opts=MSS)
    seg = from_client(vip, "tcp", 80, PSH | ACK, sport=48001, seq=1001,
                      ack=9001, payload=bytes(range(256)) * 6)
    tl = len(seg) - 34
    put_pkt("frag-tcp-%s" % name, rec(syn) + b"".join(
        rec(f, poll=True) for f in frags(seg, [(0, 1000, True),
                                               (1000, tl - 1000, False)])))


# ---- the HTTP server over a socketpair (fuzz_h2_server) -----------------
# First byte: options (bit 0 the HTTP/2 preface is prefixed by the target,
# bit 1 a streaming handler, bit 2 the client does not read, bit 3 small
# writes). HPACK without Huffman or the dynamic table.

def h2_frame(typ, flags, sid, payload=b""):
    return (struct.pack(">I", len(payload))[1:] + bytes([typ, flags]) +
            struct.pack(">I", sid) + payload)


def hpack_lit(name, value):
    name, value = name.encode(), value.encode()
    return bytes([0x00, len(name)]) + name + bytes([len(value)]) + value


def h2_req(sid, method="GET", path="/", extra=(), end_stream=True):
    blk = hpack_lit(":method", method) + b"\x86" + hpack_lit(":path", path)
    blk += hpack_lit(":authority", "t")
    for n, v in extra:
        blk += hpack_lit(n, v)
    return h2_frame(1, 0x4 | (0x1 if end_stream else 0), sid, blk)


H2_SETTINGS = h2_frame(4, 0, 0)
put("h2_server", "h2_get", b"\x01" + H2_SETTINGS + h2_req(1))
put("h2_server", "h2_post", b"\x03" + H2_SETTINGS +
    h2_req(1, "POST", "/p", [("content-length", "5")], end_stream=False) +
    h2_frame(0, 0x1, 1, b"hello"))
put("h2_server", "h2_streams", b"\x01" + H2_SETTINGS +
    b"".join(h2_req(i, path="/h") for i in range(1, 24, 2)))
put("h2_server", "h2_stream_down", b"\x05" + H2_SETTINGS + h2_req(1, path="/s") +
    h2_frame(8, 0, 0, struct.pack(">I", 1 << 20)))
put("h2_server", "h2_rst_ping_goaway", b"\x01" + H2_SETTINGS +
    h2_req(1, path="/h") + h2_frame(3, 0, 1, struct.pack(">I", 8)) +
    h2_frame(6, 0, 0, b"12345678") +
    h2_frame(7, 0, 0, struct.pack(">II", 0, 0)))
put("h2_server", "h2_continuation", b"\x09" + H2_SETTINGS +
    h2_frame(1, 0x1, 1, b"\x82\x86") + h2_frame(9, 0x4, 1, b"\x84"))
put("h2_server", "h2_big_body", b"\x03" + H2_SETTINGS +
    h2_req(1, "POST", "/p", end_stream=False) +
    b"".join(h2_frame(0, 0, 1, b"x" * 4000) for _ in range(3)) +
    h2_frame(0, 0x1, 1, b""))
put("h2_server", "h1_keepalive", b"\x00GET /a HTTP/1.1\r\nHost: t\r\n\r\n"
    b"POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
put("h2_server", "h1_chunked_stream", b"\x0aPOST /s HTTP/1.1\r\nHost: t\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
put("h2_server", "h2c_sniff", b"\x00PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" +
    H2_SETTINGS + h2_req(1))
# trailers in ("/t" echoes them as the answer's), too many of them, and
# an HTTP/1.1 upgrade ("/u": the echo protocol) with bytes before the 101
put("h2_server", "h2_trailers", b"\x03" + H2_SETTINGS +
    h2_req(1, "POST", "/t", [("te", "trailers"),
                             ("content-type", "application/grpc")],
           end_stream=False) +
    h2_frame(0, 0, 1, b"\x00\x00\x00\x00\x02hi") +
    h2_frame(1, 0x5, 1, hpack_lit("grpc-status", "0") +
             hpack_lit("x-trailer", "kept")))
put("h2_server", "h2_trailers_many", b"\x01" + H2_SETTINGS +
    h2_req(1, "POST", "/t", end_stream=False) + h2_frame(0, 0, 1, b"x") +
    h2_frame(1, 0x5, 1, b"".join(hpack_lit("x-t%d" % i, "v")
                                 for i in range(70))))
put("h2_server", "h1_upgrade", b"\x00GET /u HTTP/1.1\r\nHost: t\r\n"
    b"Connection: Upgrade\r\nUpgrade: echo\r\n\r\nearly bytes")
put("h2_server", "h1_upgrade_refused", b"\x00GET /a HTTP/1.1\r\nHost: t\r\n"
    b"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x85junk!")


# ---- the gateway's routes (fuzz_gw_route): byte 0 even = a request
# (method, host, path, query, header lines), odd = configuration lines ----

def gw_req(method, host, path, query="", headers=()):
    return b"\x00" + "\n".join([method, host, path, query] +
                                ["%s:%s" % h for h in headers]).encode()


put("gw_route", "exact", gw_req("GET", "api.example.com", "/health"))
put("gw_route", "regex", gw_req("GET", "API.example.com:443",
                                "/v12/users/bob", "", [("Cookie", "sid=abc")]))
put("gw_route", "regex_evil", gw_req("GET", "api.example.com",
                                     "/" + "a" * 40))
put("gw_route", "header_query", gw_req("POST", "api.example.com", "/x",
                                       "a=1&v=2&uid=7",
                                       [("X-Env", "canary")]))
put("gw_route", "suffix_rewrite", gw_req("GET", "eu.example.com",
                                         "/api/items", "q=1",
                                         [("Cookie", "a=1; sid=z")]))
put("gw_route", "prefix_strip", gw_req("GET", "www.example.net",
                                       "/static/app.js"))
put("gw_route", "any_redirect", gw_req("GET", "[::1]:8080", "/old/page"))
put("gw_route", "conf", b"\x01" + "\n".join([
    "upstream", "u", "instance", "127.0.0.1:80 2",
    "upstream", "u", "balance", "least_time",
    "route", "r", "host", "*.a.b",
    "route", "r", "path_regex", "/x(",
    "route", "r", "upstream", "nope",
    "route", "l", "path_prefix", "/l",
    "route", "l", "redirect", "302 /l/x",
]).encode())
