#!/usr/bin/env bash
# Processes that exit before their profile is built are still named: 200
# processes each spin 20 ms in short_lived_burn() and exit, during a blocking
# profile; then the same from the history, after all of them are gone. At
# least 95 % of their samples must be named (a function at the leaf), and most
# must be under short_lived_burn: the rest is exec, ld.so and exit, whose page
# faults cost more on a busy host (90 % seen on a quiet one, 75 % beside two
# compilers), so the bound is 60 %: far above what a misattribution would give.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
require_bpf

start_daemon --frequency 499 --window 2s
URL_P="$URL/debug/pprof/profile"
curl -sf -o "$TMP/live.pb.gz" "$URL_P?seconds=10" &
REQ=$!
sleep 0.5
"$SONDE_WORKLOADS/short_lived" --count 200 --parallel 2 --ms 20 >"$TMP/workload.out"
cat "$TMP/workload.out"
check "the workload ran its 200 processes" grep -qx 'done 200' "$TMP/workload.out"
wait "$REQ"
sleep 2.5 # the last window closes
check "the history answers" test "$(curl -s -o "$TMP/hist.pb.gz" -w '%{http_code}' "$URL_P?last=1m")" = 200

# named_share FILE: "NAMED ALL" samples of the short_lived processes, NAMED those whose leaf
# frame has a function name (not [unknown], not a bare [mapping]), from go tool pprof -traces.
named_share() {
	go tool pprof -sample_index=samples -traces -tagfocus=comm=short_lived "$1" 2>/dev/null |
		awk '/^-----/ { leaf = 1; next }
		leaf && $1 ~ /^[0-9]+$/ && NF >= 2 { all += $1; if ($2 !~ /^\[/) named += $1; leaf = 0 }
		END { print named + 0, all + 0 }'
}

for name in live hist; do
	P=$TMP/$name.pb.gz
	ALL=$(sum_of "$P" samples comm=short_lived)
	HOT=$(sum_of "$P" samples comm=short_lived @short_lived_burn,short_lived_child)
	read -r NAMED TRACED < <(named_share "$P")
	PCT=$(awk -v n="$NAMED" -v a="$TRACED" 'BEGIN { printf "%.1f", a ? 100 * n / a : 0 }')
	HOT_PCT=$(awk -v n="$HOT" -v a="$ALL" 'BEGIN { printf "%.1f", a ? 100 * n / a : 0 }')
	echo "$name: $ALL samples of the short-lived processes; $NAMED of $TRACED ($PCT %) named at the" \
		"leaf; $HOT ($HOT_PCT %) under short_lived_burn (the rest: exec, the dynamic linker, exit)"
	check "$name: the short-lived processes were sampled (>= 100 samples)" test "$ALL" -ge 100
	check "$name: both readings count the same samples" test "$TRACED" = "$ALL"
	check "$name: at least 95 % of their samples are named" awk -v p="$PCT" 'BEGIN { exit !(p >= 95) }'
	check "$name: at least 60 % are under the hot function" awk -v p="$HOT_PCT" 'BEGIN { exit !(p >= 60) }'
done
check "/metrics counts prefetched processes" test "$(metric sonde_process_prefetches_total)" -ge 100
check "/metrics counts exited processes whose maps were kept" \
	test "$(metric sonde_process_exited_kept_total)" -ge 100
check "SIGTERM exits 0" stop_daemon
check "every BPF program of the daemon is released" daemon_progs_released
finish
