#!/usr/bin/env bash
# The cost per sample of unwinding user stacks with CFI (docs/unwinding.md),
# against sonde's frame-pointer path (--unwind-stack-bytes 0) and against
# `perf record --call-graph dwarf`, on the same workload in the same run.
#
# Workload: tests/workloads/unwind_hog cpu (-O2 -fomit-frame-pointer, one busy
# thread), SECONDS per phase (default 10), sampled at HZ (default 499) on
# every CPU:
#   cfi      sonde with the default 8 KiB stack copy, one profile spanning the phase
#   fp       sonde with --unwind-stack-bytes 0
#   perf     perf record -F HZ -a --call-graph dwarf (8 KiB stack dumps, like sonde's
#            copy), then perf script, which does the unwinding perf defers
# Per sample it reports the daemon's (or perf's) user+sys CPU, sonde's BPF run
# time (kernel.bpf_stats_enabled=1), the share of hot_leaf samples whose stack
# holds hot_caller (did unwinding work), and the ratios cfi/fp and cfi/perf.
# perf's in-kernel work (copying the stack in the interrupt) is in no process's
# CPU time and perf has no BPF counter: its rows hold its processes only.
# Usage: bench/unwind.sh [SECONDS] [HZ]   (as root; build first: make build)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.bash
SECS=${1:-10}
HZ=${2:-499}
BUILD=${BUILD:-build}
SONDE=$BUILD/sonde
HOG=$BUILD/tests/workloads/unwind_hog
OUT=$(mktemp -d /tmp/sonde-bench-unwind.XXXXXX)
OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled)
trap 'kill $(jobs -p) 2>/dev/null || true; sysctl -qw kernel.bpf_stats_enabled=$OLD_STATS; rm -rf "$OUT"' EXIT

[ "$(id -u)" -eq 0 ] || { echo "unwind.sh: run as root" >&2; exit 1; }
[ -x "$SONDE" ] && [ -x "$HOG" ] || { echo "unwind.sh: build first (make build)" >&2; exit 1; }
command -v perf >/dev/null || { echo "unwind.sh: needs perf (apt-get install linux-perf)" >&2; exit 1; }
command -v go >/dev/null || { echo "unwind.sh: needs go (go tool pprof)" >&2; exit 1; }
sysctl -qw kernel.bpf_stats_enabled=1

# cpu_ns PID: CPU time of every thread of PID in ns (schedstat: exact, not 10 ms ticks).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
metric() { # metric NAME: a sample of /metrics, the full name with its labels
	curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

# phase_sonde NAME ARGS...: one phase of the daemon; prints "CPU_NS BPF_NS SAMPLES CHAIN".
phase_sonde() {
	local name=$1
	shift
	"$SONDE" --listen 127.0.0.1:0 --frequency "$HZ" --no-offcpu --no-blockio "$@" \
		2>"$OUT/$name.log" &
	SPID=$!
	PORT=$(daemon_port "$OUT/$name.log" $SPID)
	# Warm-up: the first profile reads kallsyms, maps, symbols and CFI, once per daemon.
	"$HOG" cpu --seconds 2 >/dev/null &
	local warm=$!
	curl -sf -o /dev/null "http://127.0.0.1:$PORT/debug/pprof/profile?seconds=1"
	wait $warm
	local t0 b0 n0 t1 b1 n1
	t0=$(cpu_ns $SPID)
	b0=$(metric 'sonde_bpf_run_time_seconds_total{program="oncpu"}')
	n0=$(metric sonde_samples_received_total)
	"$HOG" cpu --seconds "$SECS" >"$OUT/$name.hog" &
	local hp=$!
	sleep 0.2
	curl -sf -o "$OUT/$name.pb.gz" \
		"http://127.0.0.1:$PORT/debug/pprof/profile?seconds=$((SECS - 1))&pid=$(awk '{ print $2; exit }' "$OUT/$name.hog")"
	wait $hp
	t1=$(cpu_ns $SPID)
	b1=$(metric 'sonde_bpf_run_time_seconds_total{program="oncpu"}')
	n1=$(metric sonde_samples_received_total)
	kill -TERM $SPID
	wait $SPID || true
	echo "$((t1 - t0)) $(awk -v a="$b0" -v b="$b1" 'BEGIN { printf "%.0f", (b - a) * 1e9 }') $((n1 - n0)) $(chain "$OUT/$name.pb.gz")"
}

# chain FILE: share of hot_leaf samples whose caller is hot_caller (go tool pprof -traces).
chain() {
	go tool pprof -symbolize=none -traces -sample_index=samples "$1" 2>/dev/null | awk '
	function flush() { if (n && leaf) { all += v; if (ok) good += v } n = 0; leaf = 0; ok = 0 }
	/^-+\+-+$/ { flush(); next }
	$1 ~ /:$/ { next }
	NF == 2 && $1 ~ /^[0-9]+$/ { flush(); v = $1; n = 1; prev = $2; leaf = ($2 == "hot_leaf"); next }
	NF == 1 && n { n++; if (prev == "hot_leaf" && $1 == "hot_caller") ok = 1; prev = $1 }
	END { flush(); printf "%.3f", all ? good / all : 0 }'
}

echo "workload: unwind_hog cpu on $(nproc) CPUs, ${SECS}s per phase, ${HZ} Hz per CPU"
read -r C_CPU C_BPF C_N C_CHAIN < <(phase_sonde cfi)
read -r F_CPU F_BPF F_N F_CHAIN < <(phase_sonde fp --unwind-stack-bytes 0)

# perf: record, then the unwinding it defers to perf script.
"$HOG" cpu --seconds "$SECS" >"$OUT/perf.hog" &
HP=$!
perf record -F "$HZ" -a --call-graph dwarf,8192 -o "$OUT/perf.data" -q -- sleep "$((SECS - 1))" \
	2>/dev/null &
PERF=$!
sleep 0.3
PPID_=$(pgrep -n -x perf)
P_T0=$(cpu_ns "$PPID_")
while kill -0 "$PPID_" 2>/dev/null; do
	P_T1=$(cpu_ns "$PPID_")
	sleep 0.2
done
wait $PERF || true
wait $HP
P_N=$(perf script -i "$OUT/perf.data" -F tid 2>/dev/null | wc -l)
TIMEFORMAT='%3U %3S'
{ time perf script -i "$OUT/perf.data" -F comm,ip,sym >"$OUT/perf.script" 2>/dev/null; } 2>"$OUT/perf.time"
read -r PS_U PS_S <"$OUT/perf.time"
P_CHAIN=$(awk '
	/^[^ \t]/ { if (leaf) { all++; if (ok) good++ } n = 0; leaf = 0; ok = 0; next }
	NF >= 2 { n++; if (n == 1) leaf = ($2 == "hot_leaf"); if (n == 2 && leaf && $2 == "hot_caller") ok = 1 }
	END { if (leaf) { all++; if (ok) good++ } printf "%.3f", all ? good / all : 0 }' "$OUT/perf.script")

awk -v cc="$C_CPU" -v cb="$C_BPF" -v cn="$C_N" -v cch="$C_CHAIN" \
	-v fc="$F_CPU" -v fb="$F_BPF" -v fn="$F_N" -v fch="$F_CHAIN" \
	-v pt0="$P_T0" -v pt1="$P_T1" -v pn="$P_N" -v pu="$PS_U" -v ps="$PS_S" -v pch="$P_CHAIN" 'BEGIN {
	c_cpu = cn ? cc / cn : 0; c_bpf = cn ? cb / cn : 0
	f_cpu = fn ? fc / fn : 0; f_bpf = fn ? fb / fn : 0
	p_rec = pn ? (pt1 - pt0) / pn : 0
	p_scr = pn ? (pu + ps) * 1e9 / pn : 0
	printf "%-10s %9s %16s %16s %16s %14s\n", "", "samples", "user+sys ns/smp", "bpf ns/smp", "total ns/smp", "caller found"
	printf "%-10s %9d %16.0f %16.0f %16.0f %13.1f%%\n", "sonde cfi", cn, c_cpu, c_bpf, c_cpu + c_bpf, 100 * cch
	printf "%-10s %9d %16.0f %16.0f %16.0f %13.1f%%\n", "sonde fp", fn, f_cpu, f_bpf, f_cpu + f_bpf, 100 * fch
	printf "%-10s %9d %16.0f %16s %16.0f %13.1f%%\n", "perf dwarf", pn, p_rec + p_scr, "n/a", p_rec + p_scr, 100 * pch
	printf "  (perf: record %.0f + script %.0f ns/sample; its in-kernel copy is in no process)\n", p_rec, p_scr
	printf "ratio cfi/fp:   user+sys %.2f  bpf %.2f  total %.2f\n", f_cpu ? c_cpu / f_cpu : 0, f_bpf ? c_bpf / f_bpf : 0, (f_cpu + f_bpf) ? (c_cpu + c_bpf) / (f_cpu + f_bpf) : 0
	printf "ratio cfi/perf: user+sys %.2f  total (with bpf) %.2f\n", (p_rec + p_scr) ? c_cpu / (p_rec + p_scr) : 0, (p_rec + p_scr) ? (c_cpu + c_bpf) / (p_rec + p_scr) : 0
}'
