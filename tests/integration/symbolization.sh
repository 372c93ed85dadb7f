#!/usr/bin/env bash
# Symbolization beyond plain ELF files on the host:
#  - JIT code named from the process's /tmp/perf-PID.map, read again when
#    it grows, and still named after the process and its map are gone;
#  - a binary that exists only in the process's private mount namespace
#    (unshare -m), read through /proc/PID/root;
#  - symbolize=0: user frames as addresses in build-ID mappings, which an
#    independent client (go tool pprof with the binaries) names by itself;
#  - stripped binaries named from a separate debug file: one installed under
#    /usr/lib/debug/.build-id (removed afterwards), one found by .gnu_debuglink,
#    and one that carries its functions as MiniDebugInfo (.gnu_debugdata);
#  - source lines from DWARF: go tool pprof -list, -raw and -traces show
#    where in hot_alpha the time goes (inlined calls: tests/test_symbolizer.c).
source "$(dirname "$0")/lib.bash"
require_bpf
command -v unshare >/dev/null || { echo "FAIL: unshare is missing (util-linux)"; exit 1; }

start_daemon --window 2s


# --- JIT code and its perf map. ---
"$SONDE_WORKLOADS/jit_hog" --seconds 8 >"$TMP/jit.out" &
JIT=$!
wait_for_line "$TMP/jit.out" '^pid' || fail "jit_hog did not start"
T0=$(date +%s)
curl -sf -o "$TMP/jit1.pb.gz" "$URL/debug/pprof/profile?seconds=2&pid=$JIT"
wait_for_line "$TMP/jit.out" '^phase2' 8 || fail "jit_hog did not reach phase 2"
sleep 0.3
curl -sf -o "$TMP/jit2.pb.gz" "$URL/debug/pprof/profile?seconds=2&pid=$JIT"
wait $JIT
T1=$(($(date +%s) + 1))
check "the perf map is gone with the process" test ! -e "/tmp/perf-$JIT.map"

S1=$(share "$TMP/jit1.pb.gz" jit_hot_loop)
C1=$(share "$TMP/jit1.pb.gz" run_jit)
echo "phase 1: jit_hot_loop $S1 of the samples, run_jit above it $C1"
check "phase 1: JIT frames are named from the perf map (>= 90%)" at_least "$S1" 0.90
check "phase 1: the JIT frame's caller is there (>= 90%)" at_least "$C1" 0.90
H2=$(share "$TMP/jit2.pb.gz" jit_hot_loop)
W2=$(share "$TMP/jit2.pb.gz" jit_warm_loop)
echo "phase 2: jit_hot_loop $H2, jit_warm_loop $W2"
check "phase 2: the grown map is read again (jit_warm_loop >= 35%)" at_least "$W2" 0.35
check "phase 2: both JIT functions together >= 90%" at_least "$(awk -v a="$H2" -v b="$W2" 'BEGIN { print a + b }')" 0.90
check "perf maps were loaded twice or more" test "$(metric sonde_perfmap_loads_total)" -ge 2
check "perf-map frames are counted" test "$(metric sonde_perfmap_lookups_total)" -gt 0

# After exit, with the map file removed, the history still names the JIT frames.
sleep 3
curl -sf -o "$TMP/jit3.pb.gz" "$URL/debug/pprof/profile?start=$T0&end=$T1&pid=$JIT"
H3=$(share "$TMP/jit3.pb.gz" jit_hot_loop)
W3=$(share "$TMP/jit3.pb.gz" jit_warm_loop)
echo "history after exit: jit_hot_loop $H3, jit_warm_loop $W3"
check "after exit: JIT frames still named (>= 90% together)" at_least "$(awk -v a="$H3" -v b="$W3" 'BEGIN { print a + b }')" 0.90

# --- A binary only in a private mount namespace. ---
NS_DIR=$TMP/ns
mkdir -p "$NS_DIR"
unshare -m --propagation private sh -c '
	mount -t tmpfs sonde-ns "$1" && cp "$2" "$1/ns_hog" && exec "$1/ns_hog" --seconds 4 --no-sys
' sh "$NS_DIR" "$SONDE_WORKLOADS/cpu_hog" >"$TMP/ns.out" &
NS_JOB=$!
wait_for_line "$TMP/ns.out" '^pid' || fail "the namespaced cpu_hog did not start"
NS_PID=$(awk '$1 == "pid" { print $2; exit }' "$TMP/ns.out")
check "the binary is not visible from the host" test ! -e "$NS_DIR/ns_hog"
check "the process runs from its namespace's path" \
	sh -c "readlink /proc/$NS_PID/exe | grep -q '$NS_DIR/ns_hog'"
curl -sf -o "$TMP/ns.pb.gz" "$URL/debug/pprof/profile?seconds=2&pid=$NS_PID"
wait $NS_JOB
A=$(share "$TMP/ns.pb.gz" hot_alpha)
B=$(share "$TMP/ns.pb.gz" hot_beta)
G=$(share "$TMP/ns.pb.gz" hot_gamma)
echo "namespaced cpu_hog: hot_alpha $A, hot_beta $B, hot_gamma $G"
check "the namespaced binary's functions are named (>= 90%)" \
	at_least "$(awk -v a="$A" -v b="$B" -v c="$G" 'BEGIN { print a + b + c }')" 0.90
check "its mapping carries the namespace's path" \
	sh -c "go tool pprof -raw '$TMP/ns.pb.gz' 2>/dev/null | grep -q '$NS_DIR/ns_hog'"

# --- symbolize=0: addresses and build IDs for a server to name. ---
"$SONDE_WORKLOADS/cpu_hog" --seconds 3 >"$TMP/raw.out" &
RAWJOB=$!
wait_for_line "$TMP/raw.out" '^pid' || fail "cpu_hog did not start"
RAW_PID=$(awk '$1 == "pid" { print $2; exit }' "$TMP/raw.out")
curl -sf -o "$TMP/raw.pb.gz" "$URL/debug/pprof/profile?seconds=2&pid=$RAW_PID&symbolize=0"
wait $RAWJOB
check "symbolize=0: go tool pprof parses it" go tool pprof -symbolize=none -raw "$TMP/raw.pb.gz" >"$TMP/raw.txt" 2>/dev/null
check "symbolize=0: the consumer rules hold" "$SONDE_WORKLOADS/pprof_lint" "$TMP/raw.pb.gz" >/dev/null
check "symbolize=0: no user function is named" sh -c "! grep -q 'hot_alpha' '$TMP/raw.txt'"
check "symbolize=0: kernel frames keep their names" grep -q 'read_zero\|ksys_read\|vfs_read' "$TMP/raw.txt"
BIN_ID=$(readelf -n "$SONDE_WORKLOADS/cpu_hog" | awk '/Build ID:/ { print $3 }')
check "symbolize=0: the binary's mapping carries its build ID" grep -q "$BIN_ID" "$TMP/raw.txt"
# The independent client names the addresses from the binary, found by build ID.
PPROF_BINARY_PATH=$SONDE_WORKLOADS go tool pprof -top "$TMP/raw.pb.gz" >"$TMP/raw.top" 2>/dev/null || true
check "symbolize=0: go tool pprof names them from the binary" grep -q 'hot_alpha' "$TMP/raw.top"

# --- Stripped binaries and their separate debug files. ---
for t in objcopy strip readelf; do
	command -v $t >/dev/null || { echo "FAIL: $t is missing (binutils)"; exit 1; }
done
# stripped_copy NAME: a cpu_hog without .symtab at $TMP/NAME, its debug part at $TMP/NAME.debug.
stripped_copy() {
	cp "$SONDE_WORKLOADS/cpu_hog" "$TMP/$1"
	objcopy --only-keep-debug "$TMP/$1" "$TMP/$1.debug"
	strip -s "$TMP/$1"
}
# hot_share BINARY: the share of its samples under hot_alpha/beta/gamma over 2 s.
hot_share() {
	local pid f=$TMP/$(basename "$1").pb.gz
	"$1" --seconds 3 --no-sys >"$TMP/hs.out" &
	pid=$!
	wait_for_line "$TMP/hs.out" '^pid' || true
	curl -sf -o "$f" "$URL/debug/pprof/profile?seconds=2&pid=$pid"
	wait $pid
	awk -v a="$(share "$f" hot_alpha)" -v b="$(share "$f" hot_beta)" -v c="$(share "$f" hot_gamma)" \
		'BEGIN { printf "%.3f", a + b + c }'
}
stripped_copy bare_hog
BARE=$(hot_share "$TMP/bare_hog")
echo "stripped, no debug file: hot functions $BARE"
check "a stripped binary without its debug file is not named (the check can fail)" \
	awk -v v="$BARE" 'BEGIN { exit !(v < 0.10) }'

stripped_copy bid_hog
BID=$(readelf -n "$TMP/bid_hog" | awk '/Build ID:/ { print $3 }')
DEBUG_FILE=/usr/lib/debug/.build-id/${BID:0:2}/${BID:2}.debug
if [ -z "$BID" ] || [ -e "$DEBUG_FILE" ]; then
	fail "no build ID, or $DEBUG_FILE exists already"
else
	mkdir -p "$(dirname "$DEBUG_FILE")"
	cp "$TMP/bid_hog.debug" "$DEBUG_FILE"
	trap 'rm -f "$DEBUG_FILE"; rmdir "$(dirname "$DEBUG_FILE")" 2>/dev/null || true; cleanup' EXIT
	BYID=$(hot_share "$TMP/bid_hog")
	rm -f "$DEBUG_FILE"
	rmdir "$(dirname "$DEBUG_FILE")" 2>/dev/null || true
	echo "stripped, debug file under /usr/lib/debug/.build-id: hot functions $BYID"
	check "named from /usr/lib/debug/.build-id (>= 90%)" at_least "$BYID" 0.90
	check "the debug file is removed again" test ! -e "$DEBUG_FILE"
fi

mkdir -p "$TMP/dl/.debug"
stripped_copy dl_hog
mv "$TMP/dl_hog" "$TMP/dl/dl_hog"
mv "$TMP/dl_hog.debug" "$TMP/dl/.debug/dl_hog.debug"
objcopy --add-gnu-debuglink="$TMP/dl/.debug/dl_hog.debug" "$TMP/dl/dl_hog"
BYLINK=$(hot_share "$TMP/dl/dl_hog")
echo "stripped, .gnu_debuglink to .debug/dl_hog.debug: hot functions $BYLINK"
check "named through .gnu_debuglink (>= 90%)" at_least "$BYLINK" 0.90
# A debug file whose CRC does not match is refused.
stripped_copy bad_hog
mkdir -p "$TMP/bad/.debug"
mv "$TMP/bad_hog" "$TMP/bad/bad_hog"
cp "$TMP/bad_hog.debug" "$TMP/bad/.debug/bad_hog.debug"
objcopy --add-gnu-debuglink="$TMP/bad/.debug/bad_hog.debug" "$TMP/bad/bad_hog"
printf 'x' >>"$TMP/bad/.debug/bad_hog.debug"
BAD=$(hot_share "$TMP/bad/bad_hog")
echo "stripped, debuglink CRC mismatch: hot functions $BAD"
check "a debug file with the wrong CRC is not used" awk -v v="$BAD" 'BEGIN { exit !(v < 0.10) }'
check "debug files are counted" test "$(metric sonde_debug_files_total)" -ge 2

# MiniDebugInfo: no debug file anywhere, the functions xz-compressed in .gnu_debugdata.
command -v xz >/dev/null || { echo "FAIL: xz is missing (xz-utils)"; exit 1; }
"$SONDE_SOURCE_DIR/tests/fixtures/make_minidebug.sh" "$SONDE_WORKLOADS/cpu_hog" "$TMP/mini_hog"
check "the MiniDebugInfo copy has no .symtab" \
	bash -c "! readelf -S '$TMP/mini_hog' | grep -q '\.symtab'"
check "the MiniDebugInfo copy has .gnu_debugdata" \
	bash -c "readelf -S '$TMP/mini_hog' | grep -q '\.gnu_debugdata'"
MINI=$(hot_share "$TMP/mini_hog")
echo "stripped, MiniDebugInfo in .gnu_debugdata: hot functions $MINI"
check "named from MiniDebugInfo (>= 90%)" at_least "$MINI" 0.90
check "MiniDebugInfo files are counted" test "$(metric sonde_minidebug_files_total)" -ge 1
check "no MiniDebugInfo errors" test "$(metric sonde_minidebug_errors_total)" -eq 0

# --- Source lines from DWARF: go tool pprof -list shows where in hot_alpha the time goes. ---
SRC=$SONDE_SOURCE_DIR/tests/workloads/cpu_hog.c
FIRST=$(grep -n '^__attribute__((noinline)) void hot_alpha(int units)$' "$SRC" | cut -d: -f1)
LAST=$(awk -v f="$FIRST" 'NR > f && /^}/ { print NR; exit }' "$SRC")
CALL=$(awk -v f="$FIRST" -v l="$LAST" 'NR > f && NR < l && /WORK_UNIT\(x\)/ { print NR; exit }' "$SRC")
echo "hot_alpha is at cpu_hog.c:$FIRST-$LAST, its work at line $CALL"
check "hot_alpha and its work are found in cpu_hog.c" test -n "$FIRST" -a -n "$LAST" -a -n "$CALL"
LINES0=$(metric sonde_symbolize_lines_total)
"$SONDE_WORKLOADS/cpu_hog" --seconds 3 --no-sys >"$TMP/lines.out" &
LJOB=$!
wait_for_line "$TMP/lines.out" '^pid' || fail "cpu_hog did not start"
LPID=$(awk '$1 == "pid" { print $2; exit }' "$TMP/lines.out")
curl -sf -o "$TMP/lines.pb.gz" "$URL/debug/pprof/profile?seconds=2&pid=$LPID"
wait $LJOB
check "lines: the consumer rules hold" "$SONDE_WORKLOADS/pprof_lint" "$TMP/lines.pb.gz" >/dev/null
# -source_path: else pprof trims the path after a directory named like the working one's.
go tool pprof -source_path "$SONDE_SOURCE_DIR" -list '^hot_alpha$' "$TMP/lines.pb.gz" \
	>"$TMP/list.txt" 2>&1
sed -n '1,40p' "$TMP/list.txt"
check "-list: hot_alpha's source is cpu_hog.c" \
	grep -Eq "^ROUTINE =+ hot_alpha in (.*/)?tests/workloads/cpu_hog\.c\$" "$TMP/list.txt"
check "-list: the source file was found and read" sh -c "! grep -qi 'error' '$TMP/list.txt'"
# Source lines inside hot_alpha with samples: "flat cum N: text", '.' for none.
HOT_LINES=$(awk -v lo="$FIRST" -v hi="$LAST" '$3 ~ /^[0-9]+:$/ {
	n = $3 + 0; if (n >= lo && n <= hi && ($1 != "." || $2 != ".")) c++ } END { print c + 0 }' "$TMP/list.txt")
echo "lines of hot_alpha carrying samples: $HOT_LINES"
check "-list: lines inside hot_alpha carry samples" test "$HOT_LINES" -ge 1
# The work loop (a macro) is the line where hot_alpha spends its own time.
CALL_FLAT=$(awk -v l="$CALL" '$3 == l ":" { print $1; exit }' "$TMP/list.txt")
echo "flat at cpu_hog.c:$CALL (the work loop): ${CALL_FLAT:-none}"
check "-list: hot_alpha's own time is on its work line" test -n "$CALL_FLAT" -a "$CALL_FLAT" != "."
go tool pprof -raw "$TMP/lines.pb.gz" >"$TMP/lines.raw" 2>/dev/null
check "-raw: hot_alpha frames carry cpu_hog.c:LINE" \
	grep -Eq "hot_alpha .*/tests/workloads/cpu_hog\.c:$CALL( |$)" "$TMP/lines.raw"
check "-raw: hot_thread, the caller, carries its line too" \
	grep -Eq "hot_thread .*/tests/workloads/cpu_hog\.c:[0-9]+" "$TMP/lines.raw"
go tool pprof -traces -lines "$TMP/lines.pb.gz" >"$TMP/lines.traces" 2>/dev/null
check "-traces -lines: stacks show hot_alpha at cpu_hog.c:$CALL" \
	grep -Eq "hot_alpha .*cpu_hog\.c:$CALL" "$TMP/lines.traces"
check "line look-ups are counted" test "$(metric sonde_symbolize_lines_total)" -gt "$LINES0"
check "no DWARF errors" test "$(metric sonde_dwarf_errors_total)" -eq 0
check "symbolize=0: no source lines for build-ID frames" sh -c "! grep -q 'cpu_hog\.c:' '$TMP/raw.txt'"

check "SIGTERM exits 0" stop_daemon
finish
