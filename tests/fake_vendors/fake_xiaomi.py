#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A fake Xiaomi (Mi Push) server API (HTTPS, HTTP/1.1).

POST /v3/message/regid with "Authorization: key=APPSECRET" (--app-secret;
else {"result":"error","code":21301,"reason":"authentication failed"}) and
a form body: registration_id, payload, pass_through 0 or 1,
restricted_package_name = --package when given, time_to_live a number when
present, else {"result":"error","code":10017,"reason":"invalid params"}.
By the registration id (ctl.json): unregistered -> code 0 with it in
data.bad_regids (as Mi Push reports invalid ids), invalid ->
{"result":"error","code":20301}, down 503, slow answered after slow_ms;
else {"result":"ok","code":0,"data":{"id":...}}.
"""
import re
import urllib.parse

import fakecommon


def main():
    args = fakecommon.parse_args(["app-secret", "package"])
    fake = fakecommon.Fake(args)
    sent = [0]

    def send(headers, body, seen):
        ctl = fake.ctl()
        if headers.get("authorization") != "key=" + args.app_secret:
            return 200, {"result": "error", "code": 21301,
                         "reason": "authentication failed"}
        try:
            form = urllib.parse.parse_qs(body.decode(), strict_parsing=True)
        except ValueError:
            form = {}
        seen["form"] = {k: v[0] for k, v in form.items()}
        one = all(len(v) == 1 for v in form.values())
        if not one or "registration_id" not in form or \
                "payload" not in form or \
                form.get("pass_through", ["0"])[0] not in ("0", "1") or \
                (args.package and
                 form.get("restricted_package_name") != [args.package]) or \
                not re.match(r"^[0-9]+$", form.get("time_to_live", ["0"])[0]):
            return 200, {"result": "error", "code": 10017,
                         "reason": "invalid params"}
        tok = form["registration_id"][0]
        fake.slow(ctl, tok)
        if tok in ctl.get("down", []):
            return 503, {"result": "error", "code": 10001,
                         "reason": "service unavailable"}
        if tok in ctl.get("invalid", []):
            return 200, {"result": "error", "code": 20301,
                         "reason": "invalid registration id"}
        sent[0] += 1
        data = {"id": "slm%08d" % sent[0]}
        if tok in ctl.get("unregistered", []):
            data["bad_regids"] = tok
        return 200, {"result": "ok", "code": 0, "data": data,
                     "description": "ok", "info": "Received push messages "
                     "for 1 REGID"}

    def handle(headers, path, body, seen):
        if path == "/v3/message/regid":
            seen["kind"] = "send"
            return send(headers, body, seen)
        seen["kind"] = "other"
        return 404, {"result": "error", "code": 404, "reason": "no such path"}

    fakecommon.serve_http(fake, args, handle)


if __name__ == "__main__":
    main()
