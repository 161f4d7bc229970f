#!/usr/bin/env bash
# Sets up the machine, builds edgelb and runs every test suite:
#   1. formatting (clang-format),
#   2. build/      gcc, everything: suites unit, dp, bpf, e2e,
#   3. build-san/  clang with ASan+UBSan, the dataplane included: suite
#                  unit (the dataplane's conn, svc and sched suites among
#                  them) and the in-process forwarding suite fwd, then each
#                  libFuzzer target for FUZZ_SECONDS (default 60),
#   4. benchmarks in smoke mode (suite bench) when present.
# Always ends with the line "N passed, N failed, N skipped", whatever
# failed on the way (a failed setup, format or build step counts as one
# failure), after the names of the failed and of the skipped tests. Exits
# non-zero on any failure. A fuzz target's crashing input is kept in
# build-san/fuzz-artifacts/TARGET/ and printed (hex dump and base64).
# Run as root from a checkout.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
JOBS=${JOBS:-$(nproc)}
LOGS=$(mktemp -d /tmp/edgelb-testlogs.XXXXXX)

step() { printf '\n==== %s\n' "$*"; }

# Results outside meson's logs: steps, fuzz runs, the teardown check.
extra_pass=0 extra_fail=0
failed_steps=()
status=0
summary_done=0

# ok_step / fail_step NAME: count a result that is not a meson test.
ok_step() { extra_pass=$((extra_pass + 1)); }
fail_step() {
	extra_fail=$((extra_fail + 1))
	failed_steps+=("$1")
	status=1
	echo "FAILED: $1" >&2
}

# run_step NAME CMD...: run a setup/build step; a failure is counted and
# reported, and the script goes on (what depends on the step checks it).
run_step() {
	local name=$1
	shift
	step "$name"
	if "$@"; then
		ok_step
		return 0
	fi
	fail_step "$name"
	return 1
}

# meson_tests LOGNAME BUILDDIR ARGS...: meson test, its testlog kept for
# the summary (a copy per run: each run overwrites meson's own).
meson_tests() {
	local log=$1 dir=$2
	shift 2
	local rc=0
	rm -f "$dir/meson-logs/testlog.json"
	meson test -C "$dir" "$@" || rc=$?
	if [ -f "$dir/meson-logs/testlog.json" ]; then
		cp "$dir/meson-logs/testlog.json" "$LOGS/$log.json"
	fi
	if [ "$rc" != 0 ]; then
		status=1
		# a meson failure with no test result (bad arguments, a build
		# error in its rebuild) must still count
		[ -s "$LOGS/$log.json" ] || fail_step "meson test $log"
	fi
}

summary() {
	[ "$summary_done" = 0 ] || return 0
	summary_done=1
	step "summary"
	local steps
	steps=$(printf '%s\n' "${failed_steps[@]+"${failed_steps[@]}"}")
	if ! python3 - "$extra_pass" "$extra_fail" "$steps" "$LOGS" <<'PY'; then
import glob, json, os, sys
passed, failed = int(sys.argv[1]), int(sys.argv[2])
skipped = 0
fails, skips = [], []
for s in sys.argv[3].splitlines():
    if s:
        fails.append(f"FAILED: step '{s}'")
for path in sorted(glob.glob(os.path.join(sys.argv[4], "*.json"))):
    where = os.path.basename(path)[:-5]
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        try:
            r = json.loads(line)
        except ValueError:
            continue
        res, name = r.get("result"), r.get("name")
        if res in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif res == "SKIP":
            skipped += 1
            why = ""
            for out in (r.get("stdout") or "").splitlines()[::-1]:
                if "skip" in out.lower():
                    why = ": " + out.strip()[:160]
                    break
            skips.append(f"SKIPPED: {name} [{where}]{why}")
        else:
            failed += 1
            fails.append(f"FAILED: {name} [{where}] ({res})")
for s in skips + fails:
    print(s)
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
		# no python: the counts this script has itself
		echo "summary: python3 failed; meson results not counted" >&2
		echo "$extra_pass passed, $((extra_fail + 1)) failed, 0 skipped"
		status=1
	fi
	rm -rf "$LOGS"
}

# The summary line is printed on every way out, an unexpected one included.
on_exit() {
	local rc=$?
	trap - EXIT
	if [ "$summary_done" = 0 ]; then
		[ "$rc" = 0 ] || fail_step "tools/test.sh stopped early (status $rc)"
		summary
	fi
	[ "$rc" = 0 ] || exit "$rc"
	exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# What the suites start must be gone when they end: edgelb processes and
# lab namespaces present now are not counted against them.
leftovers() {
	{
		pgrep -f 'edgelb-dp|edgelbd|edgelb-gen|lab-backend|dpdk-testpmd' || true
		ip netns list 2>/dev/null | awk '$1 ~ /^(elb|eld|elbx|elbt)-/ { print $1 }'
	} | sort
}
before_leftovers=$(leftovers)

run_step "setup" tools/setup.sh
run_step "format" tools/check-format.sh

configure() { # dir, options...
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}

build_gcc() { configure build && ninja -C build -j "$JOBS"; }
# The dataplane is built too: its unit suites run under the sanitizers,
# and fuzz targets may link it.
build_san() {
	CC=clang configure build-san -Db_sanitize=address,undefined \
		-Db_lundef=false -Ddataplane=enabled -Dfuzz=true &&
		ninja -C build-san -j "$JOBS"
}
gcc_ok=0 san_ok=0
run_step "build (gcc)" build_gcc && gcc_ok=1
run_step "build (clang, address+undefined sanitizers, dataplane, fuzz targets)" \
	build_san && san_ok=1

if ((gcc_ok)); then
	step "tests: build/ (unit, dp, bpf, e2e)"
	meson_tests build build --no-suite bench --print-errorlogs --num-processes 1
fi

if ((san_ok)); then
	# The dataplane's suites start DPDK's EAL with --no-huge, so its
	# memory is ordinary mmap'd memory and LeakSanitizer finds no false
	# leaks in it: no suppressions are needed.
	step "tests: build-san/ (unit, the dataplane's conn, svc, sched among them, under ASan/UBSan)"
	ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson_tests san-unit build-san --suite unit --print-errorlogs
	step "tests: build-san/ (the dataplane's fwd suite under ASan/UBSan)"
	ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson_tests san-fwd build-san fwd --print-errorlogs
fi

# A crashing input is kept in build-san/fuzz-artifacts/TARGET/ (it stays
# in the checkout after the run) and printed, so that it can be
# reproduced from the log alone: ./build-san/tests/fuzz/TARGET FILE
fuzz_report() { # target name, artifact dir
	local f n=0
	for f in "$2"/crash-* "$2"/leak-* "$2"/timeout-* "$2"/oom-*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		echo "fuzz: $1: input kept as $f ($(stat -c %s "$f") bytes)" >&2
		echo "---- hex dump (first 1 KiB)" >&2
		head -c 1024 "$f" | od -A x -t x1z -v >&2
		echo "---- base64 (first 64 KiB; base64 -d > input)" >&2
		head -c 65536 "$f" | base64 >&2
	done
	((n > 0)) || echo "fuzz: $1: no crashing input was written" >&2
}

# One target for FUZZ_SECONDS from its seed corpus, in the background:
# its verdict (0 or the exit status) goes to $dir/rc, its output to
# $dir/log; crashing inputs to build-san/fuzz-artifacts/TARGET/.
fuzz_start() { # target path, work dir
	local name corpus_seed art
	name=$(basename "$1")
	corpus_seed="tests/fuzz/corpus/${name#fuzz_}"
	art=$root/build-san/fuzz-artifacts/$name
	rm -rf "$art"
	mkdir -p "$art" "$2/corpus"
	[ -d "$corpus_seed" ] && cp -r "$corpus_seed/." "$2/corpus/"
	(
		cd "$2/corpus" && "$root/$1" -max_total_time="$FUZZ_SECONDS" \
			-rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix="$art/" . 2>"$2/log"
		echo $? >"$2/rc"
	) &
}

fuzz_verdict() { # target path, work dir
	local name art
	name=$(basename "$1")
	art=$root/build-san/fuzz-artifacts/$name
	if [ "$(cat "$2/rc" 2>/dev/null)" = 0 ]; then
		echo "fuzz: $name: $(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$2/log" | tail -1), no crash"
		ok_step
		rmdir "$art" 2>/dev/null || true
	else
		echo "fuzz: $name FAILED" >&2
		tail -40 "$2/log" >&2
		fuzz_report "$name" "$art"
		cp "$2/log" "$art/fuzz.log"
		fail_step "fuzz $name"
	fi
	rm -rf "$2"
}

# The targets run FUZZ_JOBS at a time (one per CPU by default), each
# for FUZZ_SECONDS, so their number does not lengthen CI one minute each.
if ((san_ok)); then
	FUZZ_JOBS=${FUZZ_JOBS:-$(nproc)}
	step "fuzz: ${FUZZ_SECONDS}s per target, $FUZZ_JOBS at a time"
	targets=()
	for target in build-san/tests/fuzz/fuzz_*; do
		[ -f "$target" ] && [ -x "$target" ] && targets+=("$target")
	done
	for ((i = 0; i < ${#targets[@]}; i += FUZZ_JOBS)); do
		batch=("${targets[@]:i:FUZZ_JOBS}")
		dirs=()
		for target in "${batch[@]}"; do
			dirs+=("$(mktemp -d)")
			fuzz_start "$target" "${dirs[-1]}"
		done
		wait
		for j in "${!batch[@]}"; do
			fuzz_verdict "${batch[j]}" "${dirs[j]}"
		done
	done
fi

if ((gcc_ok)) && grep -q "suite: 'bench'" tests/bench/meson.build 2>/dev/null; then
	step "benchmarks: smoke mode"
	EDGELB_BENCH_SMOKE=1 meson_tests bench build --suite bench \
		--print-errorlogs --num-processes 1
fi

step "teardown check"
after_leftovers=$(comm -13 <(echo "$before_leftovers") <(leftovers))
if [ -n "$after_leftovers" ]; then
	echo "tests left processes or namespaces behind:" >&2
	echo "$after_leftovers" | while read -r x; do
		if [ -d "/proc/$x" ]; then
			printf '  pid %s: %s\n' "$x" "$(tr '\0' ' ' </proc/"$x"/cmdline | cut -c1-150)"
		else
			printf '  %s\n' "$x"
		fi
	done >&2
	fail_step "teardown check"
else
	echo "nothing left behind"
	ok_step
fi

summary
exit "$status"
