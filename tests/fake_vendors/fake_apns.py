#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A fake APNs provider API: HTTP/2 only (TLS, ALPN h2, python3-h2), token
authentication.

POST /3/device/TOKEN is checked as APNs checks it:
  authorization: bearer JWT    ES256 over {"alg","kid"}.{"iss","iat"},
                               verified with the key's public half; kid and
                               iss must be --key-id and --team-id; iat within
                               the last hour (at most 60 s ahead) -- else 403
                               InvalidProviderToken / ExpiredProviderToken;
                               a JWT listed in ctl "expired_jwts": 403
                               ExpiredProviderToken
  apns-topic                   --topic, else 400 TopicDisallowed / MissingTopic
  apns-push-type               alert, background, voip, ... else 400
                               InvalidPushType
  apns-priority                1, 5 or 10 if present, else 400 BadPriority
  apns-expiration              a number if present, else 400 BadExpirationDate
  apns-collapse-id             at most 64 bytes, else 400 BadCollapseId
  apns-id                      a UUID if present, else 400 BadMessageId
  body                         a JSON object of at most 4096 bytes, else 400
                               PayloadEmpty / BadPayload (not Apple's word) /
                               413 PayloadTooLarge
  TOKEN                        hex, else 400 BadDeviceToken
Then, by the device token (ctl.json): "bad" 400 BadDeviceToken,
"unregistered" 410 Unregistered (with a timestamp), "busy" 429
TooManyRequests, "down" 503 ServiceUnavailable, "slow" answered after
slow_ms; anything else 200 with apns-id (the request's or a new one).
"""
import json
import re
import socket
import sys
import threading
import time
import uuid

import h2.config
import h2.connection
import h2.events
import h2.exceptions

import fakecommon

PUSH_TYPES = {"alert", "background", "voip", "complication", "fileprovider",
              "mdm", "location", "liveactivity", "pushtotalk"}
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                  r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class Apns(fakecommon.Fake):
    def __init__(self, args):
        super().__init__(args)
        self.args = args
        self.pub = fakecommon.load_public_key(args.auth_key)

    def judge(self, headers, body):
        """(status, reason or None, apns-id, what was seen)."""
        ctl = self.ctl()
        seen = {"headers": headers, "body": body.decode("utf-8", "replace")}
        path = headers.get(":path", "")
        m = re.match(r"^/3/device/([^/?]*)$", path)
        if headers.get(":method") != "POST":
            return 405, "MethodNotAllowed", None, seen
        if m is None:
            return 404, "BadPath", None, seen
        token = m.group(1)
        seen["token"] = token
        auth = headers.get("authorization", "")
        if not auth.startswith("bearer "):
            return 403, "MissingProviderToken", None, seen
        jwt = auth[7:]
        seen["jwt"] = jwt
        try:
            hdr, claims = fakecommon.jws_verify(jwt, self.pub, "ES256")
        except ValueError as e:
            seen["jwt_error"] = str(e)
            return 403, "InvalidProviderToken", None, seen
        seen["jwt_header"], seen["jwt_claims"] = hdr, claims
        if hdr.get("kid") != self.args.key_id or \
                claims.get("iss") != self.args.team_id:
            return 403, "InvalidProviderToken", None, seen
        iat = claims.get("iat")
        now = time.time()
        if not isinstance(iat, int) or iat > now + 60:
            return 403, "InvalidProviderToken", None, seen
        if iat < now - 3600 or jwt in ctl.get("expired_jwts", []):
            return 403, "ExpiredProviderToken", None, seen
        topic = headers.get("apns-topic")
        if topic is None:
            return 400, "MissingTopic", None, seen
        if topic != self.args.topic:
            return 400, "TopicDisallowed", None, seen
        if headers.get("apns-push-type", "alert") not in PUSH_TYPES:
            return 400, "InvalidPushType", None, seen
        if headers.get("apns-priority", "10") not in ("1", "5", "10"):
            return 400, "BadPriority", None, seen
        if not re.match(r"^[0-9]+$", headers.get("apns-expiration", "0")):
            return 400, "BadExpirationDate", None, seen
        if len(headers.get("apns-collapse-id", "").encode()) > 64:
            return 400, "BadCollapseId", None, seen
        apns_id = headers.get("apns-id")
        if apns_id is not None and not UUID.match(apns_id):
            return 400, "BadMessageId", None, seen
        if len(body) == 0:
            return 400, "PayloadEmpty", None, seen
        if len(body) > 4096:
            return 413, "PayloadTooLarge", None, seen
        try:
            if not isinstance(json.loads(body), dict):
                raise ValueError()
        except ValueError:
            return 400, "BadPayload", None, seen
        if not re.match(r"^[0-9a-fA-F]+$", token) or \
                token in ctl.get("bad", []):
            return 400, "BadDeviceToken", None, seen
        if token in ctl.get("unregistered", []):
            return 410, "Unregistered", None, seen
        if token in ctl.get("busy", []):
            return 429, "TooManyRequests", None, seen
        if token in ctl.get("down", []):
            return 503, "ServiceUnavailable", None, seen
        if token in ctl.get("slow", []):
            seen["delay_ms"] = ctl.get("slow_ms", 3000)
        return 200, None, apns_id or str(uuid.uuid4()).upper(), seen


def serve_conn(fake, sock):
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=False, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    streams = {}
    delayed = []  # (due, stream id, headers list, body)

    def answer(sid, status, reason, apns_id):
        hs = [(":status", str(status))]
        if apns_id is not None:
            hs.append(("apns-id", apns_id))
        if reason is None:
            return hs, b""
        body = {"reason": reason}
        if status == 410:
            body["timestamp"] = int(time.time() * 1000)
        data = json.dumps(body).encode()
        hs += [("content-type", "application/json"),
               ("content-length", str(len(data)))]
        return hs, data

    def send(sid, hs, data):
        try:
            conn.send_headers(sid, hs, end_stream=not data)
            if data:
                conn.send_data(sid, data, end_stream=True)
        except h2.exceptions.StreamClosedError:
            pass  # the client gave up (reset) meanwhile

    while True:
        timeout = None
        if delayed:
            timeout = max(0.0, min(d[0] for d in delayed) - time.time())
        sock.settimeout(timeout)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            data = None
        except OSError:
            return
        now = time.time()
        for d in [d for d in delayed if d[0] <= now]:
            delayed.remove(d)
            send(d[1], d[2], d[3])
        if data is not None:
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    streams[ev.stream_id] = [dict(ev.headers), b""]
                elif isinstance(ev, h2.events.DataReceived):
                    streams[ev.stream_id][1] += ev.data
                    conn.acknowledge_received_data(
                        ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    headers, body = streams.pop(ev.stream_id)
                    status, reason, apns_id, seen = fake.judge(headers, body)
                    seen.update(kind="send", status=status, reason=reason,
                                apns_id=apns_id, http2=True)
                    fake.log(seen)
                    hs, out = answer(ev.stream_id, status, reason, apns_id)
                    if "delay_ms" in seen:
                        delayed.append((now + seen["delay_ms"] / 1000.0,
                                        ev.stream_id, hs, out))
                    else:
                        send(ev.stream_id, hs, out)
                elif isinstance(ev, h2.events.StreamReset):
                    delayed = [d for d in delayed if d[1] != ev.stream_id]
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    sock.sendall(conn.data_to_send())
                    return
        out = conn.data_to_send()
        if out:
            sock.sendall(out)


def main():
    args = fakecommon.parse_args(["auth-key", "key-id", "team-id", "topic"])
    fake = Apns(args)
    ctx = fakecommon.tls_context(args, ["h2"])
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    fake.ready(lsock.getsockname()[1])

    def run(raw):
        try:
            with ctx.wrap_socket(raw, server_side=True) as s:
                if s.selected_alpn_protocol() != "h2":
                    fake.log({"kind": "refused", "alpn":
                              s.selected_alpn_protocol()})
                    return
                serve_conn(fake, s)
        except (OSError, h2.exceptions.ProtocolError) as e:
            print("fake_apns: connection: %s" % e, file=sys.stderr)

    while True:
        raw, _ = lsock.accept()
        threading.Thread(target=run, args=(raw,), daemon=True).start()


if __name__ == "__main__":
    main()
