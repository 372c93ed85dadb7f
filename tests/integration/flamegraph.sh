#!/usr/bin/env bash
# The flame-graph view in a real browser: Debian's headless chromium, driven
# by playwright-core (tests/browser), loads pages the daemon builds from a
# profile taken during the test. The hot function's frame must be as wide as
# go tool pprof says its share is, a click must zoom, a search must find the
# hot functions and their share; the differential view must colour growth and
# shrinkage; a 100k-stack page must draw only what is wider than a pixel.
source "$(dirname "$0")/lib.bash"
require_bpf

BROWSER_DIR=$SONDE_SOURCE_DIR/tests/browser
CHECK="node $BROWSER_DIR/flame_check.mjs"
[ -x /usr/bin/chromium ] || { echo "FAIL: /usr/bin/chromium is missing; make test installs it"; exit 1; }
[ -d "$BROWSER_DIR/node_modules/playwright-core" ] ||
	{ echo "FAIL: playwright-core is missing in tests/browser; make test installs it"; exit 1; }
SHOTS=${SONDE_SCREENSHOT_DIR:-$TMP}
mkdir -p "$SHOTS"

start_daemon --window 2s
WIN=2

# An idle stretch first, the base of the differential view: windows end every 2 s.
IDLE_START=$(date +%s)
sleep $((3 * WIN))
IDLE_END=$(date +%s)
# The windows that overlap the idle range end up to a window (and the second
# date truncated) after IDLE_END: the hog must not start inside them, or the
# base holds part of the hot stretch and the change reads as "same".
sleep $((WIN + 2))

"$SONDE_WORKLOADS/cpu_hog" --seconds 8 >"$TMP/hog.out" &
HOG=$!
for _ in $(seq 1 50); do grep -q '^pid' "$TMP/hog.out" && break; sleep 0.1; done
HOT_START=$(($(date +%s) + 1))
wait $HOG
HOT_END=$(date +%s)
# The last window of the hot stretch must be finished before it is read.
sleep $((WIN + 1))

RANGE="start=$HOT_START&end=$HOT_END"
# The view and the pprof it is checked against take only the test's hog: the
# host may run other processes with the same function names.
VRANGE="$RANGE&pid=$HOG"
curl -sf -o "$TMP/cpu.pb.gz" "$URL/debug/pprof/profile?$VRANGE"
check "go tool pprof parses the same range's profile" go tool pprof -raw "$TMP/cpu.pb.gz" >/dev/null
TOTAL=$(sum_of "$TMP/cpu.pb.gz" samples)
ALPHA=$(sum_of "$TMP/cpu.pb.gz" samples @hot_alpha)
HOTS=$(sum_of "$TMP/cpu.pb.gz" samples @hot_alpha,hot_beta,hot_gamma)
echo "pprof over $RANGE: total $TOTAL samples, hot_alpha $ALPHA, hot_* $HOTS"
check "the profile has the workload in it" test "$ALPHA" -gt 50
SHARE=$(awk -v a="$ALPHA" -v t="$TOTAL" 'BEGIN { printf "%.4f", t ? a / t : 0 }')
HSHARE=$(awk -v a="$HOTS" -v t="$TOTAL" 'BEGIN { printf "%.4f", t ? a / t : 0 }')

# --- The page over HTTP. ---
FG="$URL/debug/pprof/flamegraph?kind=cpu&$VRANGE"
curl -s -D "$TMP/fg.h" -o "$TMP/fg.html" "$FG"
check "the page is HTML" grep -qi '^Content-Type: text/html; charset=utf-8' "$TMP/fg.h"
check "the page may fetch nothing (Content-Security-Policy)" \
	grep -qi "^Content-Security-Policy: default-src 'none'" "$TMP/fg.h"
check "the page carries the profile" grep -q 'id="sonde-data"' "$TMP/fg.html"
check "the index links to the views" sh -c "curl -sf '$URL/debug/pprof/' | grep -q 'flamegraph?kind=cpu'"
code() { curl -s -o "$TMP/err.txt" -w '%{http_code}' "$1"; }
check "kind=bogus is a 400" test "$(code "$URL/debug/pprof/flamegraph?kind=bogus&last=1m")" = 400
check "format= is a 400 on the view" test "$(code "$URL/debug/pprof/flamegraph?format=folded&last=1m")" = 400
check "a base range without a history range is a 400" \
	test "$(code "$URL/debug/pprof/flamegraph?seconds=1&base_last=1m")" = 400
check "base_last on a pprof endpoint is a 400" test "$(code "$URL/debug/pprof/profile?last=1m&base_last=1m")" = 400
for k in offcpu wall blockio; do
	check "kind=$k serves a page" test "$(code "$URL/debug/pprof/flamegraph?kind=$k&last=5m")" = 200
done
check "value=latency serves a block-I/O page" \
	test "$(code "$URL/debug/pprof/flamegraph?kind=blockio&value=latency&last=5m")" = 200
check "seconds=1 waits and serves a page" \
	sh -c "curl -sf '$URL/debug/pprof/flamegraph?kind=cpu&seconds=1' | grep -q 'id=\"sonde-data\"'"

# --- The browser. ---
echo "== view: hot_alpha share $SHARE, hot_* share $HSHARE"
if $CHECK view "$FG" hot_alpha "$SHARE" 'hot_' "$HSHARE" "^cpu_hog \\($HOG\\)\$" '^hot \([0-9]+\)$' \
	"$SHOTS/flamegraph.png" >"$TMP/view.txt" 2>&1; then
	pass "browser: the view"
else
	fail "browser: the view"
fi
cat "$TMP/view.txt"
check "browser: a screenshot was saved" test -s "$SHOTS/flamegraph.png"

echo "== differential: the hot stretch against the idle one, and back"
DIFF="$URL/debug/pprof/flamegraph?kind=cpu&$RANGE&base_start=$IDLE_START&base_end=$IDLE_END"
if $CHECK diff "$DIFF" hot_alpha grew "$SHOTS/flamegraph-diff.png" >"$TMP/diff.txt" 2>&1; then
	pass "browser: growth is red"
else
	fail "browser: growth is red"
fi
cat "$TMP/diff.txt"
BACK="$URL/debug/pprof/flamegraph?kind=cpu&start=$IDLE_START&end=$IDLE_END&base_start=$HOT_START&base_end=$HOT_END"
if $CHECK diff "$BACK" hot_alpha shrank "" base >"$TMP/back.txt" 2>&1; then
	pass "browser: shrinkage is blue"
else
	fail "browser: shrinkage is blue"
fi
cat "$TMP/back.txt"

echo "== a page with 100k distinct stacks"
"$SONDE_WORKLOADS/flame_fixture" "$TMP/large.html" 100000
if $CHECK large "$TMP/large.html" 100000 >"$TMP/large.txt" 2>&1; then
	pass "browser: the large page"
else
	fail "browser: the large page"
fi
cat "$TMP/large.txt"

check "pages are counted on /metrics" test "$(metric sonde_flamegraph_pages_total)" -ge 5
check "SIGTERM exits 0" stop_daemon
finish
