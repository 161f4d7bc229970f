#!/usr/bin/env bash
# Fails when a C file of the repository is not formatted per .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.c' '*.h' | grep -v '^build')
bad=()
for f in "${files[@]}"; do
	[ -f "$f" ] || continue
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
	echo "format: these files need clang-format -i:" >&2
	printf '  %s\n' "${bad[@]}" >&2
	exit 1
fi
echo "format: ${#files[@]} files clean"
