#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write the seed corpus of fuzz_http_client into tests/fuzz/corpus/http_client/.

Standard library only. Run from anywhere: python3 tests/fuzz/gen_client_seeds.py
Input layout (see fuzz_http_client.c): one flags byte (bit 0 h2c, bit 1
HEAD, bit 2 pause, bit 3 a WebSocket upgrade on HTTP/1.1), then what the
upstream sends.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
D = os.path.join(HERE, "corpus", "http_client")

H1, H2, HEAD, PAUSE, UPGRADE = 0, 1, 2, 4, 8


def put(name, flags, data):
    os.makedirs(D, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(D, "seed-" + name), "wb") as f:
        f.write(bytes([flags]) + data)


def frame(typ, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([typ, flags]) + \
        struct.pack(">I", sid) + payload


DATA, HEADERS, RST, SETTINGS, GOAWAY, WINDOW = 0, 1, 3, 4, 7, 8
END_STREAM, END_HEADERS, ACK = 1, 4, 1
PREFACE = frame(SETTINGS, 0, 0) + frame(SETTINGS, ACK, 0)
# HPACK: 0x88 is ":status: 200" (static table 8), 0x8d ":status: 404";
# a literal without indexing: 0x0f 0x0d <len> "2" is content-length: 2
S200, S404 = b"\x88", b"\x8d"
CL2 = b"\x0f\x0d\x01" + b"2"


def lit(name, value):
    """HPACK literal without indexing, new name, no Huffman."""
    name, value = name.encode(), value.encode()
    return bytes([0x00, len(name)]) + name + bytes([len(value)]) + value


def h1():
    put("ok_cl", H1, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    put("chunked", H1 | PAUSE, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
        "chunked\r\n\r\n2\r\nok\r\n3\r\nabc\r\n0\r\n\r\n")
    put("continue", H1, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
        "Content-Length: 0\r\n\r\n")
    put("eof_body", H1 | PAUSE, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
        "\r\nuntil the end")
    put("head", H1 | HEAD, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    put("no_content", H1, "HTTP/1.1 204 No Content\r\n\r\n")
    put("cl_cl", H1, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
        "Content-Length: 3\r\n\r\nok")
    put("te_cl", H1, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    put("too_big", H1, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
    put("extra", H1, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1"
        " 200 OK\r\n\r\n")
    put("empty", H1, "")
    put("upgrade_101", H1 | UPGRADE, "HTTP/1.1 101 Switching Protocols\r\n"
        "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x02hi")
    put("upgrade_101_no_upgrade", H1 | UPGRADE,
        "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\r\n")
    put("upgrade_refused", H1 | UPGRADE, "HTTP/1.1 403 Forbidden\r\n"
        "Content-Length: 4\r\n\r\nnope")
    put("unasked_101", H1, "HTTP/1.1 101 Switching Protocols\r\n"
        "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n")


def h2():
    put("h2_ok", H2, PREFACE +
        frame(HEADERS, END_HEADERS | END_STREAM, 1, S200) +
        frame(HEADERS, END_HEADERS, 3, S404 + CL2) +
        frame(DATA, END_STREAM, 3, b"no"))
    put("h2_pause", H2 | PAUSE, PREFACE +
        frame(HEADERS, END_HEADERS, 1, S200) +
        frame(DATA, 0, 1, b"abc") + frame(DATA, END_STREAM, 1, b"def") +
        frame(HEADERS, END_HEADERS | END_STREAM, 3, S200))
    put("h2_refused", H2, PREFACE +
        frame(RST, 0, 1, struct.pack(">I", 7)) +
        frame(HEADERS, END_HEADERS | END_STREAM, 3, S200))
    put("h2_goaway", H2, PREFACE +
        frame(GOAWAY, 0, 0, struct.pack(">II", 1, 0)) +
        frame(HEADERS, END_HEADERS | END_STREAM, 1, S200))
    put("h2_cl_mismatch", H2, PREFACE +
        frame(HEADERS, END_HEADERS, 1, S200 + CL2) +
        frame(DATA, END_STREAM, 1, b"toolong"))
    put("h2_window", H2, PREFACE + frame(WINDOW, 0, 0, struct.pack(">I", 1000)))
    put("h2_garbage", H2, b"HTTP/1.1 200 OK\r\n\r\n")
    # trailers after the body, a trailers-only answer, too many trailers
    put("h2_trailers", H2, PREFACE +
        frame(HEADERS, END_HEADERS, 1, S200) + frame(DATA, 0, 1, b"ab") +
        frame(HEADERS, END_HEADERS | END_STREAM, 1,
              lit("grpc-status", "0") + lit("grpc-message", "ok")) +
        frame(HEADERS, END_HEADERS | END_STREAM, 3,
              S200 + lit("grpc-status", "14")))
    put("h2_trailers_many", H2, PREFACE +
        frame(HEADERS, END_HEADERS, 1, S200) +
        frame(HEADERS, END_HEADERS | END_STREAM, 1,
              b"".join(lit("x-t%d" % i, "v") for i in range(70))))


h1()
h2()
