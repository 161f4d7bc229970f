# shellcheck shell=bash
# The common part of the loopback end-to-end tests (gateway*.sh,
# httpdns.sh, health_https.sh, push*.sh): edgelbd and the tools run as
# this user on 127.0.0.1, no namespaces, no root. (The namespace labs use
# lib.sh and lbd_lib.sh instead.) A script uses it as
#
#   set -euo pipefail
#   # shellcheck source=lo_lib.sh
#   source "$(dirname "$0")/lo_lib.sh"
#   lo_need curl python3              # SKIP (exit 77) unless installed
#   lo_need_built "$EDGELBD" "$LBCTL" # SKIP (exit 77) unless built
#   lo_begin gwcache                  # T=/tmp/elb-gwcache.XXXXXX
#   ...
#   some_server & PIDS+=($!)          # killed at exit
#   "$EDGELBD" -f -c "$T/edgelb.ini" & LBD_PID=$!
#   expect "what" "$want" "$got"
#   ...
#   lo_end "$T/edgelbd.log"           # exit 1 if a check failed
#
# What it offers:
#   HERE, BUILD, EDGELBD, LBCTL   this folder, the build (EDGELB_BUILD or
#                                 ./build of the source tree) and its
#                                 edgelbd and lbctl
#   lo_need TOOL...               exit 77 ("SKIP: TOOL not installed")
#                                 unless every TOOL is in PATH
#   lo_need_py PYTHON MODULE PKG  exit 77 ("SKIP: PKG not installed")
#                                 unless PYTHON can import MODULE
#   lo_need_built FILE...         exit 77 ("SKIP: FILE not built") unless
#                                 every FILE is executable
#   lo_begin NAME                 makes T (mktemp -d /tmp/elb-NAME.XXXXXX)
#                                 and the EXIT trap: it kills (SIGTERM, or
#                                 LO_KILL_SIGNAL) every pid in the array
#                                 PIDS, in each variable named by
#                                 lo_kill_at_exit and in LBD_PID (empty
#                                 ones skipped), waits for the children and
#                                 removes T (kept when KEEP is set)
#   lo_kill_at_exit VAR...        the pids in these variables (scalars,
#                                 arrays or associative arrays, read at
#                                 exit) are killed at exit too
#   fails, pass, fail             the count of failed checks; "ok: ..." on
#                                 stdout, "FAIL: ..." on stderr (counted)
#   expect WHAT WANT GOT          passes when GOT is WANT
#   contains WHAT REGEX TEXT      passes when grep finds REGEX in TEXT
#   contains_fixed WHAT STR TEXT  the same for a fixed string (grep -F)
#   lacks WHAT REGEX TEXT         passes when grep does not find REGEX
#   lo_promtool TEXT              when promtool is installed, a check that
#                                 `promtool check metrics` accepts TEXT
#   free_port                     a free TCP port on 127.0.0.1
#   wait_port PORT [TRIES]        waits (TRIES x 0.1 s, 50) until PORT on
#                                 127.0.0.1 accepts; 1 if it never does
#   lo_end [-n LINES] [LOG...]    when a check failed: the last LINES (30;
#                                 +1 for all) lines of each LOG and the
#                                 count on stderr, exit 1; else prints that
#                                 all checks passed
# free_port and wait_port run ${PYTHON:-python3}.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${EDGELB_BUILD:-$(cd "$HERE/../.." && pwd)/build}
# shellcheck disable=SC2034 # used by the scripts that source this
EDGELBD=$BUILD/controlplane/edgelbd
# shellcheck disable=SC2034
LBCTL=$BUILD/tools/lbctl/lbctl

lo_need() { # TOOL...
	local tool
	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null; then
			echo "SKIP: $tool not installed"
			exit 77
		fi
	done
}

lo_need_py() { # PYTHON MODULE PACKAGE
	if ! "$1" -c "import $2" 2>/dev/null; then
		echo "SKIP: $3 not installed"
		exit 77
	fi
}

lo_need_built() { # FILE...
	local f
	for f in "$@"; do
		[ -x "$f" ] || { echo "SKIP: $f not built"; exit 77; }
	done
}

# shellcheck disable=SC2034 # read through a nameref in lo_cleanup
PIDS=()
# shellcheck disable=SC2034
LBD_PID=
LO_KILL_VARS=()
lo_kill_at_exit() { # VAR...
	LO_KILL_VARS+=("$@")
}

lo_cleanup() {
	local v p
	for v in PIDS "${LO_KILL_VARS[@]}" LBD_PID; do
		local -n lo_pids=$v
		for p in "${lo_pids[@]}"; do
			if [ -n "$p" ]; then
				kill -"${LO_KILL_SIGNAL:-TERM}" "$p" 2>/dev/null || true
			fi
		done
		unset -n lo_pids
	done
	wait 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}

lo_begin() { # NAME
	T=$(mktemp -d "/tmp/elb-$1.XXXXXX")
	trap lo_cleanup EXIT
}

fails=0
pass() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect() { # WHAT WANT GOT
	if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: want '$2', got '$3'"; fi
}
contains() { # WHAT REGEX TEXT
	if grep -q -- "$2" <<<"$3"; then pass "$1"; else fail "$1: no '$2' in '$3'"; fi
}
contains_fixed() { # WHAT STRING TEXT
	if grep -qF -- "$2" <<<"$3"; then pass "$1"; else fail "$1: no '$2' in '$3'"; fi
}
lacks() { # WHAT REGEX TEXT
	if grep -q -- "$2" <<<"$3"; then fail "$1: '$2' in '$3'"; else pass "$1"; fi
}

lo_promtool() { # METRICS_TEXT
	local out
	command -v promtool >/dev/null || return 0
	if out=$(promtool check metrics <<<"$1" 2>&1); then
		pass "promtool check metrics"
	else
		fail "promtool check metrics: $out"
	fi
}

free_port() {
	"${PYTHON:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # PORT [TRIES of 0.1 s]
	"${PYTHON:-python3}" -c '
import socket, sys, time
for _ in range(int(sys.argv[2])):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
' "$1" "${2:-50}"
}

lo_end() { # [-n LINES] [LOG...]
	local lines=30 log name
	name=$(basename "$0" .sh)
	if [ "${1:-}" = -n ]; then
		lines=$2
		shift 2
	fi
	if [ "$fails" -ne 0 ]; then
		for log in "$@"; do
			echo "--- $log" >&2
			tail -n "$lines" "$log" >&2 || true
		done
		echo "$name: $fails check(s) failed" >&2
		exit 1
	fi
	echo "$name: all checks passed"
}
