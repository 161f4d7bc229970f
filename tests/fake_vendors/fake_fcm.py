#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A fake FCM HTTP v1 with its OAuth2 token endpoint (HTTPS, HTTP/1.1).

POST /token (the service account's token_uri): form grant_type
urn:ietf:params:oauth:grant-type:jwt-bearer and assertion, an RS256 JWT
verified with the public half of the service account's key (--pub):
kid = private_key_id (--key-id), iss = client_email (--email), aud = this
token URI (https://127.0.0.1:PORT/token),
scope holding firebase.messaging, iat within 5 minutes of now, exp after
iat by at most an hour. Else 400 {"error":"invalid_grant"}. Answers
{"access_token","expires_in":ctl token_ttl (3600),"token_type":"Bearer"}.

POST /v1/projects/PROJECT/messages:send: "Authorization: Bearer" of a token
it issued and that has not expired (nor is in ctl expired_access_tokens),
else 401 UNAUTHENTICATED; PROJECT = --project, else 403 PERMISSION_DENIED;
a message with a token, data values all strings, android.priority HIGH or
NORMAL, android.ttl "Ns", else 400 INVALID_ARGUMENT. By the device token
(ctl.json): unregistered 404 UNREGISTERED, invalid 400 INVALID_ARGUMENT
naming message.token, busy 429 QUOTA_EXCEEDED, down 503 UNAVAILABLE, slow
answered after slow_ms; else 200 {"name":"projects/P/messages/N"}.
"""
import json
import re
import time
import urllib.parse

import fakecommon

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


def error(status, code, message, details=()):
    return status, {"error": {"code": status, "message": message,
                              "status": code, "details": list(details)}}


def fcm_error(status, code, fcm_code, message):
    return error(status, code, message, [{
        "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
        "errorCode": fcm_code}])


def main():
    args = fakecommon.parse_args(["pub", "key-id", "email", "project"])
    fake = fakecommon.Fake(args)
    pub = fakecommon.load_public_key(args.pub)
    tokens = fakecommon.Tokens("ya29.fake")
    sent = [0]

    def token(headers, body, seen):
        form = urllib.parse.parse_qs(body.decode(), strict_parsing=True)
        if form.get("grant_type") != [GRANT] or len(form.get("assertion", [])) != 1:
            return 400, {"error": "unsupported_grant_type"}
        try:
            hdr, claims = fakecommon.jws_verify(form["assertion"][0], pub, "RS256")
        except ValueError as e:
            seen["jwt_error"] = str(e)
            return 400, {"error": "invalid_grant", "error_description": str(e)}
        seen["jwt_header"], seen["jwt_claims"] = hdr, claims
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        aud = "https://127.0.0.1:%d/token" % fake.port
        if hdr.get("kid") != args.key_id or \
                claims.get("iss") != args.email or \
                claims.get("aud") != aud or \
                SCOPE not in claims.get("scope", "").split() or \
                not isinstance(iat, int) or not isinstance(exp, int) or \
                abs(iat - now) > 300 or not 0 < exp - iat <= 3600:
            return 400, {"error": "invalid_grant",
                         "error_description": "bad claims"}
        ttl = fake.ctl().get("token_ttl", 3600)
        return 200, {"access_token": tokens.issue(ttl), "expires_in": ttl,
                     "token_type": "Bearer"}

    def send(headers, path, body, seen):
        ctl = fake.ctl()
        v = tokens.valid(ctl, headers.get("authorization", ""))
        if v != "ok":
            seen["auth"] = v
            return error(401, "UNAUTHENTICATED",
                         "Request had invalid authentication credentials.")
        m = re.match(r"^/v1/projects/([^/]+)/messages:send$", path)
        if m.group(1) != args.project:
            return error(403, "PERMISSION_DENIED", "wrong project")
        try:
            msg = json.loads(body)["message"]
            tok = msg["token"]
            data = msg.get("data", {})
            android = msg.get("android", {})
            if not isinstance(tok, str) or not all(
                    isinstance(x, str) for x in data.values()) or \
                    android.get("priority", "NORMAL") not in ("HIGH", "NORMAL") \
                    or not re.match(r"^[0-9]+(\.[0-9]+)?s$",
                                    android.get("ttl", "0s")):
                raise ValueError()
        except (ValueError, KeyError, TypeError, AttributeError):
            return fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
                             "Invalid JSON payload received.")
        seen["token"] = tok
        fake.slow(ctl, tok)
        if tok in ctl.get("unregistered", []):
            return fcm_error(404, "NOT_FOUND", "UNREGISTERED",
                             "Requested entity was not found.")
        if tok in ctl.get("invalid", []):
            return error(400, "INVALID_ARGUMENT",
                         "The registration token is not a valid FCM "
                         "registration token", [
                             {"@type": "type.googleapis.com/google.rpc.BadRequest",
                              "fieldViolations": [{
                                  "field": "message.token",
                                  "description": "Invalid registration token"}]}])
        if tok in ctl.get("busy", []):
            return fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED",
                             "Quota exceeded.")
        if tok in ctl.get("down", []):
            return fcm_error(503, "UNAVAILABLE", "UNAVAILABLE",
                             "The service is currently unavailable.")
        sent[0] += 1
        return 200, {"name": "projects/%s/messages/%d" % (args.project, sent[0])}

    def handle(headers, path, body, seen):
        if path == "/token":
            seen["kind"] = "token"
            return token(headers, body, seen)
        if re.match(r"^/v1/projects/[^/]+/messages:send$", path):
            seen["kind"] = "send"
            return send(headers, path, body, seen)
        seen["kind"] = "other"
        return error(404, "NOT_FOUND", "no such path")

    fakecommon.serve_http(fake, args, handle)


if __name__ == "__main__":
    main()
