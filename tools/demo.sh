#!/usr/bin/env bash
# Sets up the machine, builds edgelb and runs it on its embedded default
# configuration. Run as root from a checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh
if [ -f build/build.ninja ]; then
	meson setup --reconfigure build >/dev/null
else
	meson setup build >/dev/null
fi
ninja -C build

# The namespace lab (tests/lab/lab.sh): real backends, traffic through
# every mode, stats shown; it tears itself down.
exec tests/lab/lab.sh demo
