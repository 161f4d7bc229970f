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

if [ -x tools/lab.sh ]; then
	exec tools/lab.sh demo
fi

cat <<'MSG'

edgelb is built. The namespace lab that forwards traffic through every
mode (DR, NAT, TUNNEL, FULL-NAT) is not part of this version yet; what is
built:
MSG
for b in build/dataplane/edgelb-dp build/controlplane/edgelbd build/tools/lbctl; do
	[ -x "$b" ] && printf '  %s\n' "$b"
done
exit 0
