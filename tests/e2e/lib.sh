# Scenario library for the end-to-end labs (sourced by tests/e2e/*.sh).
#
# Each scenario drives real traffic from the client namespace through the
# VIP of a lab brought up with tests/lab/lab.sh, asserts on what the backends
# answered, prints what it measured and returns non-zero on a failure.
# Every loop is bounded in count and in time.
#
# A test script does:
#   source "$(dirname "$0")/lib.sh"
#   e2e_begin                       # root check (exit 77), trap cleanup
#   lab_up nat --lb kernel          # tests/lab/lab.sh
#   e2e_scen scen_wrr 300 "1 2 3"  # a failure is recorded, the next
#   e2e_scen scen_udp 12            # scenario still runs
#   e2e_end                         # exit 1 if anything failed
#
# A failure must reach the test's own shell even when it happens in a
# subshell ($(...), a pipeline): e2e_fail sets E2E_FAILED and also creates
# the marker file $E2E_TMP/failed, which e2e_end and the exit trap check.

set -euo pipefail

E2E_SRC=${EDGELB_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export EDGELB_SRC=$E2E_SRC
export EDGELB_BUILD=${EDGELB_BUILD:-$E2E_SRC/build}
# shellcheck source=../../tests/lab/lab.sh
source "$E2E_SRC/tests/lab/lab.sh"

E2E_NAME=$(basename "${0%.sh}")
E2E_FAILED=0
E2E_TMP= # created by e2e_begin: the failure marker lives there

e2e_log() { printf '%s: %s\n' "$E2E_NAME" "$*"; }
# e2e_fail MSG: report, record the failure where a subshell can too, and
# return 1.
e2e_fail() {
	printf '%s: FAIL: %s\n' "$E2E_NAME" "$*" >&2
	E2E_FAILED=1
	if [ -n "$E2E_TMP" ]; then
		: >"$E2E_TMP/failed"
	fi
	return 1
}
# True when a failure was recorded, in this shell or in a subshell.
e2e_failed() {
	[ "$E2E_FAILED" != 0 ] || { [ -n "$E2E_TMP" ] && [ -e "$E2E_TMP/failed" ]; }
}
# e2e_scen CMD ARGS...: run one scenario; its failure is recorded (and
# fails the test at e2e_end) but the next scenario still runs. A scenario
# that returns non-zero without having called e2e_fail is a failure too.
e2e_scen() {
	local rc=0
	"$@" || rc=$?
	if [ "$rc" != 0 ]; then
		printf '%s: FAIL: %s returned %s\n' "$E2E_NAME" "$1" "$rc" >&2
		E2E_FAILED=1
		if [ -n "$E2E_TMP" ]; then
			: >"$E2E_TMP/failed"
		fi
	fi
	return 0
}
e2e_skip() {
	printf '%s: SKIP: %s\n' "$E2E_NAME" "$*"
	exit 77
}

e2e_cleanup() {
	local rc=$?
	trap - EXIT
	if [ "$rc" = 0 ] && e2e_failed; then
		echo "$E2E_NAME: a failure was recorded; exiting 1" >&2
		rc=1
	fi
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		if [ -S "$LAB_DIR/dp.sock" ]; then
			echo "---- edgelb-dp counters at the failure" >&2
			lab_lbctl stats 2>&1 | grep -v ' 0$' >&2 || true
		fi
		lab_logs
	fi
	lab_down
	[ -n "$E2E_TMP" ] && rm -rf "$E2E_TMP"
	exit "$rc"
}

# Root check, tools check, cleanup trap (on every exit path).
e2e_begin() {
	local t
	[ "$(id -u)" = 0 ] || e2e_skip "needs root for network namespaces"
	for t in ip ethtool curl socat python3 sha256sum "$@"; do
		command -v "$t" >/dev/null ||
			e2e_skip "$t is not installed (tools/setup.sh installs it)"
	done
	lab_lock || exit 1
	trap e2e_cleanup EXIT
	trap 'exit 130' INT TERM
	E2E_TMP=$(mktemp -d /tmp/elb-e2e.XXXXXX)
}

e2e_end() {
	if e2e_failed; then
		e2e_log "FAILED"
		exit 1
	fi
	e2e_log "PASS"
}

# Which backend answered a "GET /" body: b1, b2, ...
e2e_backend_of() {
	sed -n 's/^backend=\([^ ]*\) .*/\1/p' <<<"$1"
}

# ---- (a) weighted distribution ------------------------------------------

# scen_wrr N "W1 W2 W3": N sequential HTTP requests (one connection each)
# all succeed, and backend i gets W_i / sum(W) of them within 5
# percentage points.
scen_wrr() {
	local n=$1 weights=$2 i body b sum=0 deadline ok=1
	local -a w=($weights)
	local -A count=()
	deadline=$((SECONDS + 180))
	for ((i = 0; i < n; i++)); do
		((SECONDS < deadline)) || {
			e2e_fail "wrr: only $i of $n requests in 180 s"
			return 1
		}
		body=$(lab_get /) || {
			e2e_fail "wrr: request $((i + 1)) of $n failed"
			return 1
		}
		b=$(e2e_backend_of "$body")
		[ -n "$b" ] || {
			e2e_fail "wrr: request $((i + 1)): unexpected body '$body'"
			return 1
		}
		count[$b]=$((${count[$b]:-0} + 1))
	done
	for i in "${w[@]}"; do sum=$((sum + i)); done
	for ((i = 0; i < ${#LAB_BACKENDS[@]}; i++)); do
		local name=${LAB_BACKENDS[i]} got want_pm got_pm
		got=${count[$name]:-0}
		want_pm=$((w[i] * 1000 / sum)) # per mille
		got_pm=$((got * 1000 / n))
		e2e_log "wrr: $name weight ${w[i]}: $got/$n requests" \
			"($((got_pm / 10)).$((got_pm % 10))%, expected" \
			"$((want_pm / 10)).$((want_pm % 10))% +- 5)"
		if ((got_pm < want_pm - 50 || got_pm > want_pm + 50)); then
			ok=0
		fi
	done
	((ok)) || {
		e2e_fail "wrr: distribution outside +-5 percentage points"
		return 1
	}
}

# ---- (b) large download ----------------------------------------------------

# sha256 of the first N bytes of lab-backend's /bytes stream, computed
# here from its definition (64-bit little-endian words, word k being
# (k + 1) * 0x9E3779B97F4A7C15 mod 2^64), not by lab-backend.
e2e_bytes_sha256() {
	python3 "$(dirname "${BASH_SOURCE[0]}")/bytes_sha256.py" "$1"
}

# scen_download BYTES: one GET of /bytes?n=BYTES through the VIP; the body's
# sha256 and length must match the reference.
scen_download() {
	local n=$1 want got t0 t1 refpid reffile
	reffile=$(mktemp)
	e2e_bytes_sha256 "$n" >"$reffile" &
	refpid=$!
	t0=$(date +%s.%N)
	got=$(lab_client curl -sS --fail --connect-timeout 5 --max-time 120 \
		"http://$LAB_VIP:$LAB_TCP_PORT/bytes?n=$n" |
		tee >(wc -c >"$reffile.len") | sha256sum | cut -d' ' -f1) || {
		wait "$refpid" || true
		rm -f "$reffile" "$reffile.len"
		e2e_fail "download: curl of $n bytes failed"
		return 1
	}
	t1=$(date +%s.%N)
	wait "$refpid"
	want=$(cat "$reffile")
	sleep 0.1 # the tee's wc may still be writing
	local len
	len=$(cat "$reffile.len" 2>/dev/null || echo "?")
	rm -f "$reffile" "$reffile.len"
	e2e_log "download: $len bytes in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s, sha256 $got"
	[ "$got" = "$want" ] || {
		e2e_fail "download: sha256 $got, expected $want"
		return 1
	}
}

# ---- (c) UDP ------------------------------------------------------------------

# scen_udp N: N UDP requests (a new source port each) through the VIP;
# every reply is the payload prefixed by the name of a backend.
scen_udp() {
	local n=$1 i payload reply b deadline
	local -A count=()
	deadline=$((SECONDS + 60))
	for ((i = 0; i < n; i++)); do
		((SECONDS < deadline)) || {
			e2e_fail "udp: only $i of $n requests in 60 s"
			return 1
		}
		payload="ping-$i-$RANDOM"
		reply=$(lab_udp "$payload") || true
		b=$(sed -n "s/^backend=\([^ ]*\) $payload\$/\1/p" <<<"$reply")
		[ -n "$b" ] || {
			e2e_fail "udp: request $((i + 1)): reply '$reply' to '$payload'"
			return 1
		}
		count[$b]=$((${count[$b]:-0} + 1))
	done
	local summary=""
	for b in "${LAB_BACKENDS[@]}"; do summary+=" $b=${count[$b]:-0}"; done
	e2e_log "udp: $n/$n replies correct;$summary"
}

# ---- (d) real client address (FULL-NAT) --------------------------------------

# scen_real_client KIND: KIND is toa or proxy; the backend must see the
# FULL-NAT local address as its peer and report the client's own address
# and port through KIND.
scen_real_client() {
	local kind=$1 out body port i
	for ((i = 0; i < 5; i++)); do
		out=$(lab_client curl -sS --fail --max-time 5 \
			-w '\nlocal_port=%{local_port}\n' \
			"http://$LAB_VIP:$LAB_TCP_PORT/") || {
			e2e_fail "real client: request failed"
			return 1
		}
		body=$(head -n 1 <<<"$out")
		port=$(sed -n 's/^local_port=//p' <<<"$out")
		e2e_log "real client ($kind): client port $port -> $body"
		grep -q " client=$LAB_LADDR:" <<<"$body" || {
			e2e_fail "real client: backend's peer is not the local address $LAB_LADDR"
			return 1
		}
		grep -q " $kind=$LAB_CLIENT_IP:$port\( \|\$\)" <<<"$body" || {
			e2e_fail "real client: $kind does not carry $LAB_CLIENT_IP:$port"
			return 1
		}
		grep -q " real_client=$LAB_CLIENT_IP:$port " <<<"$body" || {
			e2e_fail "real client: real_client is not $LAB_CLIENT_IP:$port"
			return 1
		}
	done
}

# ---- (e) handoff between workers ----------------------------------------------

# Sum of the dataplane counters whose name matches an extended regex.
e2e_counter_sum() {
	lab_lbctl -j stats | python3 -c '
import json, re, sys
pat = re.compile(sys.argv[1])
total = 0
def walk(o):
    global total
    if isinstance(o, dict):
        for k, v in o.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and pat.search(k):
                total += v
            else:
                walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
walk(json.load(sys.stdin))
print(int(total))
' "$1"
}

# scen_handoff N: with two workers, N requests all succeed; the handoff
# counters show packets were handed to their owning worker and none was
# lost (enqueued == dequeued, no handoff drops).
scen_handoff() {
	local n=$1 i enq deq drop
	for ((i = 0; i < n; i++)); do
		lab_get / >/dev/null || {
			e2e_fail "handoff: request $((i + 1)) of $n failed"
			return 1
		}
	done
	scen_download $((16 * 1024 * 1024)) || return 1
	enq=$(e2e_counter_sum '^handoff_out_total$')
	deq=$(e2e_counter_sum '^handoff_in_total$')
	drop=$(e2e_counter_sum '^handoff_full$')
	e2e_log "handoff: $n requests ok; handed off $enq, received $deq, dropped $drop"
	((enq > 0)) || {
		e2e_fail "handoff: no packet was handed between workers"
		return 1
	}
	((enq == deq && drop == 0)) || {
		e2e_fail "handoff: enqueued $enq != dequeued $deq or $drop dropped"
		return 1
	}
}

# ---- (f) Maglev consistency ------------------------------------------------------

E2E_MH_CLIENTS=24

# Extra client addresses 10.99.1.100.. so that each is one "client".
e2e_add_clients() {
	local i
	for ((i = 0; i < E2E_MH_CLIENTS; i++)); do
		lab_client ip addr add "10.99.1.$((100 + i))/24" dev elb-c0 2>/dev/null || true
	done
}

# Prints "ADDR BACKEND" per client; fails unless each client's R requests
# all reached one backend.
e2e_mh_map() {
	local r=$1 i j addr body b first
	for ((i = 0; i < E2E_MH_CLIENTS; i++)); do
		addr=10.99.1.$((100 + i))
		first=""
		for ((j = 0; j < r; j++)); do
			body=$(lab_client curl -sS --fail --max-time 5 \
				--interface "$addr" "http://$LAB_VIP:$LAB_TCP_PORT/") || {
				e2e_fail "mh: request from $addr failed"
				return 1
			}
			b=$(e2e_backend_of "$body")
			[ -z "$first" ] && first=$b
			[ "$b" = "$first" ] || {
				e2e_fail "mh: client $addr went to $first and then $b"
				return 1
			}
		done
		echo "$addr $first"
	done
}

# scen_mh R: every client's R connections stay on one backend; after b2 is
# deleted, only b2's clients move.
scen_mh() {
	local r=$1 before after addr b moved=0 wrong=0 b2n=0
	e2e_add_clients
	before=$(e2e_mh_map "$r") || return 1
	e2e_log "mh: $E2E_MH_CLIENTS clients x $r requests, each client on one backend:" \
		"$(awk '{ c[$2]++ } END { for (b in c) printf "%s=%d ", b, c[b] }' <<<"$before")"
	lab_lbctl backend del tcp "$LAB_VIP:$LAB_TCP_PORT" \
		"$(lab_backend_ip b2):$LAB_TCP_PORT" || {
		e2e_fail "mh: deleting backend b2 failed"
		return 1
	}
	after=$(e2e_mh_map "$r") || return 1
	while read -r addr b; do
		local nb
		nb=$(awk -v a="$addr" '$1 == a { print $2 }' <<<"$after")
		if [ "$b" = b2 ]; then
			b2n=$((b2n + 1))
			[ "$nb" != b2 ] && moved=$((moved + 1))
		elif [ "$nb" != "$b" ]; then
			wrong=$((wrong + 1))
		fi
	done <<<"$before"
	e2e_log "mh: after deleting b2: $moved of $b2n b2 clients moved, $wrong other clients moved"
	((b2n > 0)) || {
		e2e_fail "mh: no client was on b2; cannot judge"
		return 1
	}
	((moved == b2n && wrong == 0)) || {
		e2e_fail "mh: expected exactly b2's $b2n clients to move"
		return 1
	}
}

# ---- dataplane counters ---------------------------------------------------------

# e2e_stat KIND NAME [IFNAME]: the sum of counter NAME over the STATS_GET
# parts of kind KIND (port, lcore, drop, service, ...), optionally only
# the port IFNAME.
e2e_stat() {
	lab_lbctl -j stats | python3 "$(dirname "${BASH_SOURCE[0]}")/stat_sum.py" "$@"
}

# MAC of a dataplane port, from PORT_GET.
e2e_port_mac() {
	lab_lbctl -j port show | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("ifname") == sys.argv[1]:
        print(p["lladdr"].lower())
' "$1"
}
