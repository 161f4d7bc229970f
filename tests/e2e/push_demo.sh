#!/usr/bin/env bash
# The push service in the demo. Sourced (tests/lab/lab.sh demo,
# tests/e2e/push.sh) it defines two functions; run as a script it runs
# push_demo_run on loopback (the meson test push_demo), so that CI checks
# what the demo shows.
#
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
# next connection. PUSH_DEMO_BIZ (a command prefix, e.g. "ip netns exec
# elb-b1") runs the business server's curl elsewhere.
#
#   push_demo_run BUILD DIR CHANNEL_ADDR API_ADDR
# the whole story, printed as it happens: edgelbd (BUILD/controlplane/
# edgelbd, files in DIR, its pid in DIR/edgelbd-push.pid) serves the
# device channel on CHANNEL_ADDR and the business API on API_ADDR (both
# IP:PORT); a device (push-client) connects and registers; the business
# server posts a message to it; the device prints it and acknowledges it;
# GET /push/v1/messages/ID shows it "acknowledged". Returns 0 only then;
# stops edgelbd and the device in every case. Each wait is bounded (10 s).
# Command prefixes for running the parts in other network namespaces:
# PUSH_DEMO_SRV (edgelbd), PUSH_DEMO_DEV (the device), PUSH_DEMO_BIZ (the
# business server's curl); empty: here.

PUSH_DEMO_KEY=demo-api-key-0123456789
PUSH_DEMO_DEVICE=demo-phone

push_demo_send() { # API_URL API_KEY DEVICE TEXT
	local out code body
	body=$(python3 -c 'import json,sys; print(json.dumps({"device": sys.argv[1], "payload": {"text": sys.argv[2]}}))' "$3" "$4")
	# shellcheck disable=SC2086 # a command prefix, split on purpose
	out=$(${PUSH_DEMO_BIZ:-} curl -sS --max-time 10 -H "X-Api-Key: $2" \
		-w '\n%{http_code}' -d "$body" "$1/push/v1/messages") || return 1
	code=${out##*$'\n'}
	out=${out%$'\n'*}
	if [ "$code" != 202 ]; then
		echo "push_demo_send: HTTP $code: $out" >&2
		return 1
	fi
	python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$out"
}

# GET on the business API (prefix PUSH_DEMO_BIZ); the body on stdout.
push_demo_get() { # API_URL PATH
	# shellcheck disable=SC2086
	${PUSH_DEMO_BIZ:-} curl -sS --fail --max-time 5 \
		-H "X-Api-Key: $PUSH_DEMO_KEY" "$1$2"
}

# A field of a JSON text: python3 expression over d.
push_demo_json() { # JSON EXPR
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

push_demo_stop() { # PIDFILE
	local pid
	[ -f "$1" ] || return 0
	pid=$(cat "$1")
	rm -f "$1"
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 30); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

push_demo_run() { # BUILD DIR CHANNEL_ADDR API_ADDR
	local build=$1 dir=$2 chan=$3 api=$4 url id out st rc=0 dev_pid deadline
	local lbd=$build/controlplane/edgelbd pc=$build/tools/push-client/push-client
	local dev=$PUSH_DEMO_DEVICE text="hello from the edgelb demo"
	for b in "$lbd" "$pc"; do
		[ -x "$b" ] || {
			echo "push demo: $b is not built" >&2
			return 1
		}
	done
	url=http://$api/push/v1
	{
		printf '[global]\nctl_socket = %s\n' "$dir/push-ctl.sock"
		printf '[dataplane]\nsocket = %s\n' "$dir/push-no-dp.sock"
		printf '[push]\nlisten = %s\napi_listen = %s\n' "$chan" "$api"
		printf 'api_key = %s\ndb = %s\nheartbeat = 10s\n' \
			"$PUSH_DEMO_KEY" "$dir/push.db"
	} >"$dir/push.ini"
	rm -f "$dir/push.db" "$dir/push.db-wal" "$dir/push.db-shm"
	# shellcheck disable=SC2086 # a command prefix, split on purpose
	${PUSH_DEMO_SRV:-} "$lbd" -f -c "$dir/push.ini" \
		>"$dir/edgelbd-push.log" 2>&1 9>&- &
	echo $! >"$dir/edgelbd-push.pid"
	deadline=$((SECONDS + 10))
	# shellcheck disable=SC2086
	until [ "$(${PUSH_DEMO_BIZ:-} curl -s -o /dev/null -w '%{http_code}' \
		--max-time 1 "$url/devices/$dev" || true)" != 000 ]; do
		if ((SECONDS >= deadline)); then
			echo "push demo: edgelbd's business API does not answer on $api" >&2
			tail -5 "$dir/edgelbd-push.log" >&2
			push_demo_stop "$dir/edgelbd-push.pid"
			return 1
		fi
		sleep 0.2
	done
	echo "  edgelbd's push service: device channel on $chan, business API on $api"

	# shellcheck disable=SC2086
	${PUSH_DEMO_DEV:-} "$pc" -s "$chan" -d "$dev" -p demo -a demo -n 1 -T 15 \
		>"$dir/device.out" 2>"$dir/device.err" 9>&- &
	dev_pid=$!
	deadline=$((SECONDS + 10))
	until [ "$(push_demo_json "$(push_demo_get "$url" "/devices/$dev" 2>/dev/null || echo '{}')" 'd.get("online")')" = True ]; do
		if ((SECONDS >= deadline)) || ! kill -0 "$dev_pid" 2>/dev/null; then
			echo "push demo: device $dev did not register" >&2
			cat "$dir/device.err" >&2
			rc=1
			break
		fi
		sleep 0.2
	done
	if [ "$rc" = 0 ]; then
		echo "  device $dev (tools/push-client) connected and registered"
		if id=$(push_demo_send "http://$api" "$PUSH_DEMO_KEY" "$dev" "$text"); then
			echo "  POST /push/v1/messages {\"device\": \"$dev\", \"payload\": {\"text\": \"$text\"}} -> 202, id $id"
		else
			rc=1
		fi
	fi
	# the device exits after one message (or at its 15 s timeout)
	if [ "$rc" = 0 ] && wait "$dev_pid"; then
		out=$(cat "$dir/device.out")
		echo "  the device printed: $out"
		[ "$out" = "$id {\"text\":\"$text\"}" ] || {
			echo "push demo: the device did not print the message" >&2
			rc=1
		}
	elif [ "$rc" = 0 ]; then
		echo "push demo: the device got no message: $(tail -1 "$dir/device.err")" >&2
		rc=1
	fi
	kill "$dev_pid" 2>/dev/null || true
	wait "$dev_pid" 2>/dev/null || true
	if [ "$rc" = 0 ]; then
		deadline=$((SECONDS + 10))
		st=
		while ((SECONDS < deadline)); do
			st=$(push_demo_json "$(push_demo_get "$url" "/messages/$id" || echo '{"devices":[]}')" \
				'" ".join(x["device"] + ": " + x["status"] for x in d["devices"])')
			[ "$st" = "$dev: acknowledged" ] && break
			sleep 0.2
		done
		echo "  GET /push/v1/messages/$id -> $st"
		[ "$st" = "$dev: acknowledged" ] || rc=1
	fi
	push_demo_stop "$dir/edgelbd-push.pid"
	return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	# The meson test push_demo: push_demo_run on loopback.
	set -euo pipefail
	BUILD=${EDGELB_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
	command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
	T=$(mktemp -d /tmp/elb-pushdemo.XXXXXX)
	trap 'push_demo_stop "$T/edgelbd-push.pid"; rm -rf "$T"' EXIT
	port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
	rc=0
	push_demo_run "$BUILD" "$T" "127.0.0.1:$(port)" "127.0.0.1:$(port)" || rc=$?
	if [ "$rc" != 0 ]; then
		echo "--- edgelbd log" >&2
		tail -20 "$T/edgelbd-push.log" >&2 || true
		echo "FAIL: the demo's message was not delivered and acknowledged" >&2
		exit 1
	fi
	echo "ok: the demo's message was delivered and acknowledged"
fi
