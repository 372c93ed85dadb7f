#!/usr/bin/env bash
# Kernel frames in code that /proc/kallsyms lists only while it is loaded: a JIT-compiled
# BPF program ("bpf_prog_<tag>_<function> [bpf]") loaded after the daemon read kallsyms.
# bpf_burner spends its CPU time in such a program (raw_tp/sys_enter, spinning on its own
# getppid() calls). Its live profile must name the program, in a [bpf] mapping, in nearly
# every sample, with no kernel frame left unnamed. After it exits, the history is queried:
# once right away, and once more after a second program (bpf_burner --alt) has made the
# daemon read kallsyms again; the second answer is only reported.
source "$(dirname "$0")/lib.bash"
require_bpf
[ "$(sysctl -n net.core.bpf_jit_enable 2>/dev/null || echo 0)" != 0 ] ||
	skip "no BPF JIT (net.core.bpf_jit_enable=0): programs have no kallsyms symbol"
# JIT-compiled programs are in kallsyms only with net.core.bpf_jit_kallsyms=1: set for the
# test where it is not, and restored.
JIT_KALLSYMS=$(sysctl -n net.core.bpf_jit_kallsyms)
if [ "$JIT_KALLSYMS" != 1 ]; then
	sysctl -qw net.core.bpf_jit_kallsyms=1 || { echo "FAIL: cannot set bpf_jit_kallsyms"; exit 1; }
	trap 'sysctl -qw net.core.bpf_jit_kallsyms="$JIT_KALLSYMS"; cleanup' EXIT
fi

start_daemon --window 2s

kernel_failures() {
	curl -sf "$URL/metrics" |
		awk '$1 == "sonde_symbolize_failures_total{cause=\"kernel_no_symbol\"}" { print $2 }'
}
# mappings_of FILE FUNCTION: the mapping names of the locations naming FUNCTION, one a line.
mappings_of() {
	go tool pprof -symbolize=none -raw "$1" 2>/dev/null | awk -v f="$2" '
		$1 == "Locations" { sec = "loc"; next }
		$1 == "Mappings" { sec = "map"; next }
		sec == "loc" && $1 ~ /^[0-9]+:$/ && $3 ~ /^M=/ && $4 == f { want[substr($3, 3)] = 1 }
		sec == "map" && $1 ~ /^[0-9]+:$/ { id = $1; sub(/:$/, "", id); if (id in want) print $3 }
	' | sort -u
}
# burner NAME ARGS...: starts bpf_burner, output in $TMP/NAME.out; sets BJOB, BPID, BSYM
# (the main function's kallsyms name) and BSUB (its subprograms', comma-separated).
burner() {
	local name=$1
	shift
	"$SONDE_WORKLOADS/bpf_burner" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	BJOB=$!
	if ! wait_for_line "$TMP/$name.out" '^ksym ' 10; then
		cat "$TMP/$name.err"
		echo "FAIL: bpf_burner $* did not load its program"
		exit 1
	fi
	BPID=$(awk '$1 == "pid" { print $2; exit }' "$TMP/$name.out")
	BSYM=$(awk '$1 == "ksym" { print $2; exit }' "$TMP/$name.out")
	BSUB=$(awk '$1 == "ksym_sub" { print $2 }' "$TMP/$name.out" | paste -sd, -)
	BADDR=$(awk -v s="$BSYM" '$3 == s && $4 == "[bpf]" { print $1; exit }' /proc/kallsyms)
}
# bpf_functions FILE: "NAME SHARE" for each function of FILE in the [bpf] mapping.
bpf_functions() {
	local fn
	go tool pprof -symbolize=none -raw "$1" 2>/dev/null | awk '
		$1 == "Locations" { sec = "loc"; next }
		$1 == "Mappings" { sec = "map"; next }
		sec == "loc" && $1 ~ /^[0-9]+:$/ && $3 ~ /^M=/ { fm[$4] = substr($3, 3) }
		sec == "map" && $1 ~ /^[0-9]+:$/ && $3 == "[bpf]" { id = $1; sub(/:$/, "", id); bpf[id] = 1 }
		END { for (f in fm) if (fm[f] in bpf) print f }
	' | sort | while read -r fn; do echo "  $fn $(share "$1" "$fn")"; done
}

# --- The daemon reads kallsyms for a first profile, before the program exists. ---
# cpu_hog's sys thread reads /dev/zero, so the profile has kernel frames even on a quiet host.
"$SONDE_WORKLOADS/cpu_hog" --seconds 1.5 >/dev/null &
WARM=$!
curl -sf -o "$TMP/warm.pb.gz" "$URL/debug/pprof/profile?seconds=1" ||
	fail "the warm-up profile failed"
wait $WARM
check "kallsyms was read before the program was loaded (kernel frames looked up)" \
	test "$(metric sonde_symbolize_kernel_lookups_total)" -gt 0
F0=$(kernel_failures)

# --- A hot BPF program loaded after that read, in a live profile. ---
T0=$(date +%s)
burner live --seconds 5
echo "bpf_burner pid $BPID: $BSYM at $BADDR (subprograms: ${BSUB:-none})"
check "kallsyms names the program" grep -qE " $BSYM\s+\[bpf\]$" /proc/kallsyms
LIVE=$TMP/live.pb.gz
curl -sf -o "$LIVE" "$URL/debug/pprof/profile?seconds=3&pid=$BPID" ||
	fail "the live profile failed"
F1=$(kernel_failures)
check "bpf_burner ran its program on every call and exited 0" wait "$BJOB"
T1=$(($(date +%s) + 1))
grep "^calls" "$TMP/live.out" || true

check "the consumer rules hold" "$SONDE_WORKLOADS/pprof_lint" "$LIVE" >/dev/null
go tool pprof -symbolize=none -raw "$LIVE" >"$TMP/live.raw" 2>/dev/null ||
	fail "go tool pprof -raw cannot read the live profile"
go tool pprof -symbolize=none -traces "$LIVE" >"$TMP/live.traces" 2>/dev/null ||
	fail "go tool pprof -traces cannot read the live profile"
go tool pprof -symbolize=none -top -nodecount=1000 "$LIVE" >"$TMP/live.top" 2>/dev/null ||
	fail "go tool pprof -top cannot read the live profile"
check "go tool pprof -raw shows the symbol" grep -qw "$BSYM" "$TMP/live.raw"
check "go tool pprof -traces shows the symbol" grep -qw "$BSYM" "$TMP/live.traces"
check "go tool pprof -top shows the symbol" grep -qw "$BSYM" "$TMP/live.top"
TOTAL=$(sum_of "$LIVE" samples)
MAIN=$(share "$LIVE" "$BSYM")
ANY=$(share "$LIVE" "$BSYM${BSUB:+,$BSUB}")
echo "live: $TOTAL samples; $BSYM in $MAIN of the stacks, the program or its subprograms in $ANY"
# 297 at 99 Hz on an idle CPU; a loaded host gives the workload less.
check "the workload was sampled (>= 30 samples in 3 s)" test "$TOTAL" -ge 30
# The program's CPU time is nearly all of the workload's, but a sample taken at the first
# or last instruction of the bpf_loop() callback skips the main function's frame (frame-
# pointer unwinding, the frame not yet set up or already torn down): measured 0.97-0.98
# for the main function and 0.985-0.99 with the callback (0.54-0.75 when the callback did
# a tenth of the work per call), hence wide margins.
check "the program is in >= 50% of the stacks" at_least "$MAIN" 0.50
check "the program or its subprograms are in >= 80% of the stacks" at_least "$ANY" 0.80
MAPS=$(mappings_of "$LIVE" "$BSYM" | paste -sd, -)
echo "mapping of $BSYM: ${MAPS:-none}"
check "the program's locations are in the [bpf] mapping" test "$MAPS" = "[bpf]"
echo "kernel_no_symbol failures: $F0 before the live profile, $F1 after"
# The profile holds this process alone, whose kernel frames are all core text or BPF
# programs that kallsyms lists: any failure means a frame was left unnamed.
check "no kernel frame went unnamed" test -n "$F1" -a "$F1" = "$F0"

# --- After exit: the program is gone from kallsyms. ---
gone=
for _ in $(seq 1 50); do
	grep -qE " $BSYM\s+\[bpf\]$" /proc/kallsyms || { gone=1; break; }
	sleep 0.1
done
check "the program left kallsyms when bpf_burner exited" test -n "$gone"
sleep 3 # the last window closes
HIST=$TMP/hist.pb.gz
curl -sf -o "$HIST" "$URL/debug/pprof/profile?start=$T0&end=$T1&pid=$BPID" ||
	fail "the history query failed"
H=$(share "$HIST" "$BSYM")
HTOTAL=$(sum_of "$HIST" samples)
echo "history after unload: $HTOTAL samples, $BSYM in $H of the stacks"
# Named from the table read while the program was loaded, kept because no frame has missed
# since (a miss outside core text is what makes the daemon read kallsyms again).
check "history after unload still names the program (>= 50%)" at_least "$H" 0.50
check "history after unload: the consumer rules hold" \
	"$SONDE_WORKLOADS/pprof_lint" "$HIST" >/dev/null

# --- A second program makes the daemon read kallsyms again. ---
# Reported, not checked: the table is re-read only on a miss, so a program loaded where an
# unloaded one was (the JIT reuses the space) is named as the unloaded one while its frames
# still hit, and after a re-read the unloaded one's frames in the history take the new name.
LIVE_PID=$BPID LIVE_SYM=$BSYM LIVE_ADDR=$BADDR
burner alt --seconds 3 --alt
echo "bpf_burner --alt pid $BPID: $BSYM at $BADDR" \
	"($([ "$BADDR" = "$LIVE_ADDR" ] && echo "the first one's address" || echo "a new address"))"
ALT=$TMP/alt.pb.gz
curl -sf -o "$ALT" "$URL/debug/pprof/profile?seconds=2&pid=$BPID" ||
	fail "the second live profile failed"
check "bpf_burner --alt exited 0" wait "$BJOB"
check "second program, live: the consumer rules hold" \
	"$SONDE_WORKLOADS/pprof_lint" "$ALT" >/dev/null
echo "second program, live: [bpf] functions and their shares of the stacks:"
bpf_functions "$ALT"
echo "  [unknown] $(share "$ALT" '[unknown]')"
HIST2=$TMP/hist2.pb.gz
curl -sf -o "$HIST2" "$URL/debug/pprof/profile?start=$T0&end=$T1&pid=$LIVE_PID" ||
	fail "the second history query failed"
check "history after the re-read: the consumer rules hold" \
	"$SONDE_WORKLOADS/pprof_lint" "$HIST2" >/dev/null
echo "history of the first program after the re-read: [bpf] functions and their shares:"
bpf_functions "$HIST2"
echo "  [unknown] $(share "$HIST2" '[unknown]')"

finish
