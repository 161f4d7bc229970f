# SPDX-License-Identifier: BSD-3-Clause
"""What the fake push vendors share: arguments, the control file, the log,
TLS, and JWS checks (python3-cryptography), so that each fake checks what
its real vendor checks.

Every fake runs on 127.0.0.1 only, with a certificate the test made, and is
driven through its directory (--dir):
  port        written once it listens (the test waits for it)
  ctl.json    read on every request: which device tokens are unregistered,
              invalid, rate limited ("busy"), failing ("down") or slow, which
              provider/access tokens to treat as expired, token lifetimes
  log.jsonl   one JSON line per request received and what was answered,
              written before the answer goes out
"""
import argparse
import base64
import json
import os
import ssl
import threading
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils


def parse_args(extra):
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    for name in extra:
        ap.add_argument("--" + name, default="")
    return ap.parse_args()


class Fake:
    def __init__(self, args):
        self.dir = args.dir
        self.lock = threading.Lock()
        self.seq = 0

    def ctl(self):
        try:
            with open(os.path.join(self.dir, "ctl.json")) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def log(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            entry["time"] = time.time()
            with open(os.path.join(self.dir, "log.jsonl"), "a") as f:
                f.write(json.dumps(entry, sort_keys=True) + "\n")

    def ready(self, port):
        self.port = port
        tmp = os.path.join(self.dir, "port.tmp")
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, os.path.join(self.dir, "port"))

    def slow(self, ctl, token):
        if token in ctl.get("slow", []):
            time.sleep(ctl.get("slow_ms", 3000) / 1000.0)


def tls_context(args, alpn):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(alpn)
    return ctx


def b64url_decode(s):
    if "=" in s:
        raise ValueError("padding in base64url")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def load_public_key(path):
    with open(path, "rb") as f:
        data = f.read()
    if b"PRIVATE KEY" in data:
        return serialization.load_pem_private_key(data, None).public_key()
    return serialization.load_pem_public_key(data)


def jws_verify(token, pub, alg):
    """(header, claims) of a compact JWS signed with alg by pub's key, or
    raises ValueError saying why."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not three parts")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        sig = b64url_decode(parts[2])
    except Exception as e:
        raise ValueError("bad encoding: %s" % e)
    if header.get("alg") != alg:
        raise ValueError("alg %r, not %s" % (header.get("alg"), alg))
    signed = (parts[0] + "." + parts[1]).encode()
    try:
        if alg == "ES256":
            # JWS form: R||S, 32 bytes each (not DER).
            if len(sig) != 64:
                raise ValueError("ES256 signature of %d bytes" % len(sig))
            der = utils.encode_dss_signature(
                int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            pub.verify(der, signed, ec.ECDSA(hashes.SHA256()))
        elif alg == "RS256":
            pub.verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise ValueError("alg %s" % alg)
    except InvalidSignature:
        raise ValueError("bad signature")
    return header, claims


def serve_http(fake, args, handle):
    """HTTP/1.1 over TLS (ALPN http/1.1) on 127.0.0.1, a thread per
    connection; handle(headers, path, body) -> (status, JSON-able answer),
    called for POST only. Logs every request with its answer."""
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n) if n > 0 else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            seen = {"path": self.path, "headers": headers,
                    "body": body.decode("utf-8", "replace"),
                    "version": self.request_version}
            status, answer = handle(headers, self.path, body, seen)
            data = json.dumps(answer).encode()
            seen.update(status=status, answer=answer)
            fake.log(seen)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (timeout) meanwhile

        def do_GET(self):
            self.send_error(405)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.socket = tls_context(args, ["http/1.1"]).wrap_socket(
        srv.socket, server_side=True)
    fake.ready(srv.server_address[1])
    srv.serve_forever()


class Tokens:
    """Access tokens an OAuth2 endpoint issued, with their expiry."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.issued = {}
        self.lock = threading.Lock()
        self.n = 0

    def issue(self, ttl):
        with self.lock:
            self.n += 1
            tok = "%s.%d.%s" % (self.prefix, self.n, os.urandom(8).hex())
            self.issued[tok] = time.time() + ttl
            return tok

    def valid(self, ctl, auth):
        """'ok', 'missing', 'unknown' or 'expired' for an Authorization."""
        if not auth.startswith("Bearer "):
            return "missing"
        tok = auth[7:]
        with self.lock:
            exp = self.issued.get(tok)
        if exp is None:
            return "unknown"
        if time.time() >= exp or tok in ctl.get("expired_access_tokens", []):
            return "expired"
        return "ok"
