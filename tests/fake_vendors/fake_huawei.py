#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A fake Huawei Push Kit server API with its OAuth2 endpoint (HTTPS,
HTTP/1.1).

POST /oauth2/v3/token: form grant_type=client_credentials, client_id and
client_secret equal to --client-id/--client-secret, else 400
{"error":1101,"error_description":"invalid client"}; answers
{"access_token","expires_in":ctl token_ttl (3600),"token_type":"Bearer"}.

POST /v1/APPID/messages:send: APPID = --app-id, else {"code":"80300002"}
(no permission); "Authorization: Bearer" of a live token it issued, else
401 {"code":"80200003"} (OAuth token expired) or 401 {"code":"80200001"}
(OAuth authentication error, no or unknown token); a message whose token is
a list of 1 to 1000 strings, data a string, android.urgency HIGH or NORMAL,
android.ttl "N" or "Ns", else 400 {"code":"80100001"} (parameter error).
By the device token (ctl.json): unregistered or invalid
{"code":"80300007"} (all tokens invalid), down 500 {"code":"81000001"}
(internal error), slow answered after slow_ms; else {"code":"80000000",
"msg":"Success","requestId":...}.
"""
import json
import re
import urllib.parse

import fakecommon


def main():
    args = fakecommon.parse_args(["client-id", "client-secret", "app-id"])
    fake = fakecommon.Fake(args)
    tokens = fakecommon.Tokens("CgB6e3x9fake")
    sent = [0]

    def token(headers, body, seen):
        try:
            form = urllib.parse.parse_qs(body.decode(), strict_parsing=True)
        except ValueError:
            form = {}
        seen["form_keys"] = sorted(form)
        if form.get("grant_type") != ["client_credentials"]:
            return 400, {"error": 1102, "error_description": "bad grant_type"}
        if form.get("client_id") != [args.client_id] or \
                form.get("client_secret") != [args.client_secret]:
            return 400, {"error": 1101, "error_description": "invalid client"}
        ttl = fake.ctl().get("token_ttl", 3600)
        return 200, {"access_token": tokens.issue(ttl), "expires_in": ttl,
                     "token_type": "Bearer"}

    def send(headers, appid, body, seen):
        ctl = fake.ctl()
        if appid != args.app_id:
            return 200, {"code": "80300002", "msg": "no permission"}
        v = tokens.valid(ctl, headers.get("authorization", ""))
        seen["auth"] = v
        if v == "expired":
            return 401, {"code": "80200003", "msg": "OAuth token expired"}
        if v != "ok":
            return 401, {"code": "80200001",
                         "msg": "Oauth authentication error"}
        try:
            msg = json.loads(body)["message"]
            toks = msg["token"]
            android = msg.get("android", {})
            if not isinstance(toks, list) or not 1 <= len(toks) <= 1000 or \
                    not all(isinstance(t, str) for t in toks) or \
                    not isinstance(msg.get("data", ""), str) or \
                    android.get("urgency", "NORMAL") not in ("HIGH", "NORMAL") \
                    or not re.match(r"^[0-9]+s?$", android.get("ttl", "0")):
                raise ValueError()
        except (ValueError, KeyError, TypeError, AttributeError):
            return 400, {"code": "80100001", "msg": "parameter error"}
        tok = toks[0]
        seen["token"] = tok
        fake.slow(ctl, tok)
        if tok in ctl.get("unregistered", []) or tok in ctl.get("invalid", []):
            return 200, {"code": "80300007", "msg": "All the tokens are invalid"}
        if tok in ctl.get("down", []):
            return 500, {"code": "81000001", "msg": "System inner error"}
        sent[0] += 1
        return 200, {"code": "80000000", "msg": "Success",
                     "requestId": "%d" % sent[0]}

    def handle(headers, path, body, seen):
        if path == "/oauth2/v3/token":
            seen["kind"] = "token"
            return token(headers, body, seen)
        m = re.match(r"^/v1/([^/]+)/messages:send$", path)
        if m:
            seen["kind"] = "send"
            return send(headers, m.group(1), body, seen)
        seen["kind"] = "other"
        return 404, {"code": "404", "msg": "no such path"}

    fakecommon.serve_http(fake, args, handle)


if __name__ == "__main__":
    main()
