#!/usr/bin/env bash
# A reused pid: process A (cpu_hog, hot_alpha/beta/gamma) runs and exits; process B
# (short_lived, short_lived_burn) is then started with the same pid, forced through
# /proc/sys/kernel/ns_last_pid. A history query over both, filtered to that pid, must
# name each process's frames from its own binary: A's from cpu_hog, although the pid
# runs short_lived when the profile is built, and B's from short_lived.
source "$(dirname "$0")/lib.bash"
require_bpf
[ -w /proc/sys/kernel/ns_last_pid ] || fail "/proc/sys/kernel/ns_last_pid is not writable (root in the initial pid namespace)"

start_daemon --window 2s

T0=$(date +%s)
"$SONDE_WORKLOADS/cpu_hog" --seconds 2 --no-sys >"$TMP/a.out" &
A=$!
wait $A
# B takes A's pid: the next fork gets ns_last_pid + 1. Another fork on the host may win the race.
B=
for _ in $(seq 1 20); do
	echo $((A - 1)) >/proc/sys/kernel/ns_last_pid
	(exec "$SONDE_WORKLOADS/short_lived" --child 2000) &
	B=$!
	[ "$B" = "$A" ] && break
	kill "$B" 2>/dev/null
	wait "$B" 2>/dev/null
	B=
done
[ -n "$B" ] || fail "could not start a process with pid $A"
wait "$B"
sleep 2.5 # the last window closes
T1=$(($(date +%s) + 1))

curl -sf -o "$TMP/both.pb.gz" "$URL/debug/pprof/profile?start=$T0&end=$T1&pid=$A" ||
	fail "history query failed"
check "go tool pprof parses the profile" go tool pprof -raw "$TMP/both.pb.gz" >/dev/null
ALL=$(sum_of "$TMP/both.pb.gz" samples)
HOG=$(sum_of "$TMP/both.pb.gz" samples "@hot_alpha,hot_beta,hot_gamma")
BURN=$(sum_of "$TMP/both.pb.gz" samples "@short_lived_burn")
echo "pid $A: $ALL samples, $HOG under cpu_hog's hot functions, $BURN under short_lived_burn"
frac() { awk -v p="$1" -v a="$ALL" 'BEGIN { printf "%.3f", (a > 0 ? p / a : 0) }'; }
between() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }
# Each ran about 2 s of CPU: about half each.
check "both processes sampled" test "$ALL" -gt 200
check "the first process's frames are named from its own binary (30-70 %)" between "$(frac "$HOG")" 0.30 0.70
check "the second process's frames are named from its own binary (30-70 %)" between "$(frac "$BURN")" 0.30 0.70
check "together they are nearly all the samples (>= 90 %)" between "$(frac $((HOG + BURN)))" 0.90 1.00
check "the reuse is counted" test "$(metric sonde_process_pid_reuses_total)" -ge 1

check "SIGTERM exits 0" stop_daemon
finish
