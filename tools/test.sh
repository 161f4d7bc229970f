#!/usr/bin/env bash
# Sets up the machine, builds edgelb and runs every test suite:
#   1. formatting (clang-format),
#   2. build/      gcc, everything: suites unit, dp, bpf, e2e,
#   3. build-san/  clang with ASan+UBSan: suite unit, then each libFuzzer
#                  target for FUZZ_SECONDS (default 60),
#   4. benchmarks in smoke mode (suite bench) when present.
# Exits non-zero on any failure. Run as root from a checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
JOBS=${JOBS:-$(nproc)}

step() { printf '\n==== %s\n' "$*"; }

rm -f /tmp/edgelb-testlog-*.json

# What the suites start must be gone when they end: edgelb processes and
# lab namespaces present now are not counted against them.
leftovers() {
	{
		pgrep -f 'edgelb-dp|edgelbd|edgelb-gen|lab-backend|dpdk-testpmd' || true
		ip netns list 2>/dev/null | awk '$1 ~ /^(elb|eld|elbx|elbt)-/ { print $1 }'
	} | sort
}
before_leftovers=$(leftovers)

step "setup"
tools/setup.sh

step "format"
tools/check-format.sh

configure() { # dir, options...
	local dir=$1; shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}

step "build (gcc)"
configure build
ninja -C build -j "$JOBS"

step "build (clang, address+undefined sanitizers, fuzz targets)"
CC=clang configure build-san -Db_sanitize=address,undefined -Db_lundef=false \
	-Ddataplane=disabled -Dfuzz=true
ninja -C build-san -j "$JOBS"

status=0

step "tests: build/ (unit, dp, bpf, e2e)"
meson test -C build --no-suite bench --print-errorlogs --num-processes 1 || status=1
cp build/meson-logs/testlog.json /tmp/edgelb-testlog-build.json 2>/dev/null || true

step "tests: build-san/ (unit under ASan/UBSan)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-san --suite unit --print-errorlogs || status=1
cp build-san/meson-logs/testlog.json /tmp/edgelb-testlog-san.json 2>/dev/null || true

# Results outside meson's logs: the fuzz runs and the teardown check.
extra_pass=0 extra_fail=0
step "fuzz: ${FUZZ_SECONDS}s per target"
for target in build-san/tests/fuzz/fuzz_*; do
	[ -f "$target" ] && [ -x "$target" ] || continue
	name=$(basename "$target")
	corpus_seed="tests/fuzz/corpus/${name#fuzz_}"
	work=$(mktemp -d)
	[ -d "$corpus_seed" ] && cp -r "$corpus_seed/." "$work/"
	if (cd "$work" && "$root/$target" -max_total_time="$FUZZ_SECONDS" \
		-rss_limit_mb=2048 -print_final_stats=1 . 2>"$work.log"); then
		echo "fuzz: $name: $(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$work.log" | tail -1), no crash"
		extra_pass=$((extra_pass + 1))
	else
		echo "fuzz: $name FAILED" >&2
		tail -40 "$work.log" >&2
		extra_fail=$((extra_fail + 1))
		status=1
	fi
	rm -rf "$work" "$work.log"
done

if grep -q "suite: 'bench'" tests/bench/meson.build 2>/dev/null; then
	step "benchmarks: smoke mode"
	EDGELB_BENCH_SMOKE=1 meson test -C build --suite bench --print-errorlogs \
		--num-processes 1 || status=1
	cp build/meson-logs/testlog.json /tmp/edgelb-testlog-bench.json 2>/dev/null || true
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
	status=1
	extra_fail=$((extra_fail + 1))
	echo "FAILED: teardown check"
else
	echo "nothing left behind"
	extra_pass=$((extra_pass + 1))
fi

step "summary"
python3 - "$extra_pass" "$extra_fail" /tmp/edgelb-testlog-*.json <<'PY'
import json, sys
fp, ff = int(sys.argv[1]), int(sys.argv[2])
passed, failed, skipped = fp, ff, 0
for path in sys.argv[3:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        r = json.loads(line)
        res = r.get("result")
        if res in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif res == "SKIP":
            skipped += 1
        else:
            failed += 1
            print(f"FAILED: {r.get('name')} ({res})")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
rm -f /tmp/edgelb-testlog-*.json
exit $status
