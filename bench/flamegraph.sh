#!/usr/bin/env bash
# The flame-graph page with very large profiles: how long the daemon's code
# takes to build the page, how big it is, and how long Debian's headless
# chromium takes to load it, draw it, zoom and search, for synthetic profiles
# of SIZES distinct stacks (default 10000 100000 300000; see
# tests/workloads/flame_fixture.c for their shape).
# Usage: bench/flamegraph.sh [SIZES...]   (make test installs chromium and playwright-core)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FIXTURE=$BUILD/tests/workloads/flame_fixture
OUT=$(mktemp -d /tmp/sonde-flame.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
[ -x "$FIXTURE" ] || { echo "flamegraph.sh: build first (make build)" >&2; exit 1; }
[ -d tests/browser/node_modules/playwright-core ] ||
	{ echo "flamegraph.sh: run make test once (it installs playwright-core)" >&2; exit 1; }
[ $# -gt 0 ] || set -- 10000 100000 300000

echo "command: bench/flamegraph.sh $*"
echo "machine: $(nproc) CPUs, kernel $(uname -r), $(chromium --version 2>/dev/null), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
printf '%-9s %-9s %-9s %-10s %-9s %-11s %-9s %-9s %-9s\n' stacks frames page_MiB build_ms load_ms first_draw elements zoom_ms search_ms
for n in "$@"; do
	t0=$(date +%s%N)
	line=$("$FIXTURE" "$OUT/p$n.html" "$n")
	build_ms=$((($(date +%s%N) - t0) / 1000000))
	frames=$(echo "$line" | awk '{ print $4 }')
	bytes=$(stat -c %s "$OUT/p$n.html")
	r=$(node tests/browser/flame_check.mjs large "$OUT/p$n.html" "$n" | sed -n 's/^large: //p')
	load=$(echo "$r" | sed -n 's/.*load \([0-9]*\) ms.*/\1/p')
	draw=$(echo "$r" | sed -n 's/.*first draw \([0-9.]*\) ms.*/\1/p')
	elems=$(echo "$r" | sed -n 's/.* \([0-9]*\) elements.*/\1/p')
	zoom=$(echo "$r" | sed -n 's/.*zoom \([0-9]*\) ms.*/\1/p')
	search=$(echo "$r" | sed -n 's/.*search \([0-9]*\) ms.*/\1/p')
	printf '%-9s %-9s %-9s %-10s %-9s %-11s %-9s %-9s %-9s\n' "$n" "$frames" \
		"$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')" "$build_ms" "$load" "$draw" \
		"$elems" "$zoom" "$search"
done
