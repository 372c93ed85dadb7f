#!/usr/bin/env bash
# Instructions of each last=5m query of histbench, counted by callgrind: a
# figure that does not depend on what else runs on the host.
# Usage: bench/histbench.sh [histbench options]   (as root; build first)
#   BUILD=build-dir (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=$BUILD/bench/histbench
[ -x "$BIN" ] || { echo "histbench.sh: build first ($BIN)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "histbench.sh: valgrind is needed" >&2; exit 1; }
OUT=$(mktemp -d /tmp/sonde-histbench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

echo "command: bench/histbench.sh $* (BUILD=$BUILD)"
valgrind --tool=callgrind --toggle-collect=run_query --dump-after=run_query \
	--callgrind-out-file="$OUT/cg.%p" "$BIN" "$@" 2>"$OUT/valgrind.log"
# One dump per query, in order; the last file (at exit) is empty.
i=0
for f in $(ls "$OUT"/cg.*.* | sort -t. -k3 -n); do
	ir=$(awk '/^totals:/ { print $2 }' "$f")
	printf 'query %d: %s instructions\n' "$i" "$ir"
	i=$((i + 1))
done
