#!/usr/bin/env bash
# The push service in the demo: source this file, then
#   push_demo_send http://127.0.0.1:APIPORT API_KEY DEVICE "text"
# posts one message to DEVICE through the business API and prints its id
# (exit 1 with the answer on stderr unless it was accepted, 202). A device
# to receive it: tools/push-client (build/tools/push-client/push-client)
#   push-client -s 127.0.0.1:CHANNELPORT -d DEVICE -n 1 -T 10
# prints "ID {"text":"..."}" and exits once it got it. edgelbd needs
#   [push]
#   listen = 127.0.0.1:CHANNELPORT
#   api_listen = 127.0.0.1:APIPORT
#   api_key = API_KEY (16+ characters)
#   db = /path/to/push.db
# The device must have registered once (connected with push-client)
# before the message is sent; it gets it at once if online, else on its
# next connection.
push_demo_send() { # API_URL API_KEY DEVICE TEXT
	local out code body
	body=$(python3 -c 'import json,sys; print(json.dumps({"device": sys.argv[1], "payload": {"text": sys.argv[2]}}))' "$3" "$4")
	out=$(curl -sS --max-time 10 -H "X-Api-Key: $2" -w '\n%{http_code}' \
		-d "$body" "$1/push/v1/messages") || return 1
	code=${out##*$'\n'}
	out=${out%$'\n'*}
	if [ "$code" != 202 ]; then
		echo "push_demo_send: HTTP $code: $out" >&2
		return 1
	fi
	python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$out"
}
