#!/usr/bin/env bash
# sonde's cost at 99 Hz, side by side with `perf record -F 99 -a -g`, on the
# same workload in the same run.
#
# Three phases of SECONDS each (default 20) on a workload that keeps every CPU
# busy (tests/workloads/cpu_hog: one compute thread, one syscall thread):
#   baseline   no profiler
#   sonde      the daemon at 99 Hz with one profile request spanning the phase
#   perf       perf record -F 99 -a -g writing to a file
# For each profiler it reports, per wall-clock second:
#   user+sys   CPU of the profiler's own process (/proc/PID/stat)
#   bpf        run time of sonde's BPF program (kernel.bpf_stats_enabled=1)
#   total      user+sys+bpf, also as a percentage of one CPU
# and the workload's slowdown (work done relative to the baseline).
# Usage: bench/overhead.sh [SECONDS]   (run as root; build first: make build)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-20}
BUILD=${BUILD:-build}
SONDE=$BUILD/sonde
HOG=$BUILD/tests/workloads/cpu_hog
OUT=$(mktemp -d /tmp/sonde-bench.XXXXXX)
HZ_TCK=$(getconf CLK_TCK)
trap 'kill $(jobs -p) 2>/dev/null || true; sysctl -qw kernel.bpf_stats_enabled=$OLD_STATS; rm -rf "$OUT"' EXIT

[ "$(id -u)" -eq 0 ] || { echo "overhead.sh: run as root" >&2; exit 1; }
[ -x "$SONDE" ] && [ -x "$HOG" ] || { echo "overhead.sh: build first (make build)" >&2; exit 1; }
command -v perf >/dev/null || { echo "overhead.sh: needs perf (apt-get install linux-perf)" >&2; exit 1; }
OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1

ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
work() { awk '$1 == "hot_rounds" { h = $2 } $1 == "sys_reads" { s = $2 } END { print h, s }' "$1"; }

run_hog() { # run_hog NAME: runs the workload for SECS, output in $OUT/NAME.hog
	"$HOG" --seconds "$SECS" >"$OUT/$1.hog"
}

echo "workload: cpu_hog on $(nproc) CPUs for ${SECS}s per phase"

# Phase 1: baseline.
run_hog baseline

# Phase 2: sonde, with a profile request covering the phase.
"$SONDE" --listen 127.0.0.1:0 --frequency 99 2>"$OUT/sonde.log" &
SPID=$!
for _ in $(seq 1 100); do
	PORT=$(sed -n 's#.*serving on http://127.0.0.1:\([0-9]*\)/.*#\1#p' "$OUT/sonde.log")
	[ -n "$PORT" ] && break
	sleep 0.1
done
[ -n "$PORT" ] || { cat "$OUT/sonde.log"; exit 1; }
bpf_seconds() { curl -sf "http://127.0.0.1:$PORT/metrics" | awk '$1 == "sonde_bpf_run_time_seconds_total" { print $2 }'; }
sleep 1
S_T0=$(ticks $SPID)
S_B0=$(bpf_seconds)
S_W0=$(date +%s.%N)
curl -sf -o "$OUT/sonde.pb.gz" "http://127.0.0.1:$PORT/debug/pprof/profile?seconds=$SECS" &
CURL=$!
run_hog sonde
wait $CURL
S_W1=$(date +%s.%N)
S_T1=$(ticks $SPID)
S_B1=$(bpf_seconds)
kill -TERM $SPID
wait $SPID || true

# Phase 3: perf record.
perf record -F 99 -a -g -o "$OUT/perf.data" -q -- sleep "$((SECS + 1))" 2>/dev/null &
sleep 0.5
PPID_=$(pgrep -n -x perf)
P_T0=$(ticks "$PPID_")
P_W0=$(date +%s.%N)
run_hog perf
P_T1=$(ticks "$PPID_")
P_W1=$(date +%s.%N)
wait || true

read -r BH BS < <(work "$OUT/baseline.hog")
read -r SH SS < <(work "$OUT/sonde.hog")
read -r PH PS < <(work "$OUT/perf.hog")

awk -v hz="$HZ_TCK" \
	-v st0="$S_T0" -v st1="$S_T1" -v sb0="$S_B0" -v sb1="$S_B1" -v sw0="$S_W0" -v sw1="$S_W1" \
	-v pt0="$P_T0" -v pt1="$P_T1" -v pw0="$P_W0" -v pw1="$P_W1" \
	-v bh="$BH" -v bs="$BS" -v sh="$SH" -v ss="$SS" -v ph="$PH" -v ps="$PS" 'BEGIN {
	s_wall = sw1 - sw0; p_wall = pw1 - pw0
	s_cpu = (st1 - st0) / hz / s_wall          # daemon user+sys, CPU-s per s
	s_bpf = (sb1 - sb0) / s_wall               # BPF run time, CPU-s per s
	s_tot = s_cpu + s_bpf
	p_cpu = (pt1 - pt0) / hz / p_wall
	printf "%-8s %12s %12s %12s %10s %12s %12s\n", "", "user+sys/s", "bpf/s", "total/s", "% of 1 CPU", "compute slow", "syscall slow"
	printf "%-8s %12.6f %12.6f %12.6f %9.3f%% %11.2f%% %11.2f%%\n", "sonde", s_cpu, s_bpf, s_tot, 100 * s_tot, 100 * (1 - sh / bh), 100 * (1 - ss / bs)
	printf "%-8s %12.6f %12s %12.6f %9.3f%% %11.2f%% %11.2f%%\n", "perf", p_cpu, "n/a", p_cpu, 100 * p_cpu, 100 * (1 - ph / bh), 100 * (1 - ps / bs)
	printf "ratio sonde/perf total cost: %.3f\n", (p_cpu > 0) ? s_tot / p_cpu : 0
}'
