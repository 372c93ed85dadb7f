#!/usr/bin/env bash
# Continuous profiling under process churn: does memory stay under the cap,
# and how fast are history queries?
#
# Runs the daemon with its default windows (10 s, kept 10 min) and a memory
# cap (MAX_MEMORY MiB, default 32 so that a 10-minute run reaches it), and
# a churn workload for MINUTES (default 10): short-lived processes started
# all the time (each a new pid, comm and stack set) next to a steady
# cpu_hog. Every 10 s it records the daemon's RSS, open fds, CPU time and
# the history's own figures, and times GET /debug/pprof/profile?last=5m: its wall
# time, and the daemon's CPU time over it (the query's own, plus the daemon's
# background work meanwhile, about 5 % of a CPU), which unlike the wall time
# does not grow with the host's load.
# Usage: bench/continuous.sh [MINUTES] [MAX_MEMORY_MIB]   (as root; make build first)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.bash
MINUTES=${1:-10}
CAP=${2:-32}
BUILD=${BUILD:-build}
SONDE=$BUILD/sonde
HOG=$BUILD/tests/workloads/cpu_hog
OUT=$(mktemp -d /tmp/sonde-continuous.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$OUT"' EXIT

[ "$(id -u)" -eq 0 ] || { echo "continuous.sh: run as root" >&2; exit 1; }
[ -x "$SONDE" ] && [ -x "$HOG" ] || { echo "continuous.sh: build first (make build)" >&2; exit 1; }

echo "command: bench/continuous.sh $MINUTES $CAP"
echo "machine: $(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%M:%SZ), load average $(cut -d" " -f1-3 /proc/loadavg)"

"$SONDE" --listen 127.0.0.1:0 --max-memory "$CAP" 2>"$OUT/daemon.log" &
SPID=$!
PORT=$(daemon_port "$OUT/daemon.log" "$SPID") || exit 1
URL=http://127.0.0.1:$PORT

# The churn: a steady hog, and new short processes all the time, each with a
# command name of its own so that names and pids never repeat.
END=$(($(date +%s) + MINUTES * 60))
"$HOG" --seconds $((MINUTES * 60 + 5)) >/dev/null &
(
	i=0
	while [ "$(date +%s)" -lt "$END" ]; do
		i=$((i + 1))
		# A fresh name per process: bash's exec -a sets argv[0], comm follows the link name.
		ln -sf "$(command -v sha1sum)" "$OUT/churn$((i % 500))"
		head -c 200000 /dev/urandom | "$OUT/churn$((i % 500))" >/dev/null
	done
) &

metric() { curl -sf "$URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$SPID/status"; }
fds() { ls "/proc/$SPID/fd" | wc -l; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.1f", ($12 + $13) / hz }' "/proc/$SPID/stat"; }
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%d", ($12 + $13) * 1000 / hz }' "/proc/$SPID/stat"; }

printf '%6s %9s %5s %7s %8s %10s %10s %9s %8s\n' t_s rss_MiB fds cpu_s windows hist_MiB evictions query_ms q_cpu_ms
MAX_RSS=0
: >"$OUT/query_ms"
: >"$OUT/query_cpu_ms"
T0=$(date +%s)
while [ "$(date +%s)" -lt "$END" ]; do
	sleep 10
	C0=$(cpu_ms)
	Q0=$(date +%s%N)
	CODE=$(curl -s -o "$OUT/q.pb.gz" -w '%{http_code}' "$URL/debug/pprof/profile?last=5m")
	Q1=$(date +%s%N)
	QCPU=$(($(cpu_ms) - C0))
	QMS=$(((Q1 - Q0) / 1000000))
	[ "$CODE" = 200 ] && echo "$QMS" >>"$OUT/query_ms" && echo "$QCPU" >>"$OUT/query_cpu_ms"
	RSS=$(rss_kib)
	[ "$RSS" -gt "$MAX_RSS" ] && MAX_RSS=$RSS
	# Windows dropped for the history's own cap or for the daemon's RSS.
	EVICT=$(curl -sf "$URL/metrics" | awk '$1 ~ /^sonde_history_evictions_total\{reason="(memory|rss)"\}/ { n += $2 } END { print n + 0 }')
	printf '%6d %9.1f %5d %7s %8s %10.1f %10s %9s %8s\n' $(($(date +%s) - T0)) \
		"$(awk -v k="$RSS" 'BEGIN { print k / 1024 }')" "$(fds)" "$(cpu_s)" \
		"$(metric sonde_history_windows)" \
		"$(awk -v b="$(metric sonde_history_bytes)" 'BEGIN { print b / 1048576 }')" \
		"${EVICT:-0}" "$QMS ($CODE)" "$QCPU"
done

echo
echo "memory cap (--max-memory): $CAP MiB; peak RSS of the daemon: $(awk -v k="$MAX_RSS" 'BEGIN { printf "%.1f", k / 1024 }') MiB"
summary() { # summary WHAT FILE
	sort -n "$2" | awk -v what="$1" '{ v[NR] = $1 } END {
		if (!NR) { print "no successful query"; exit }
		printf "GET profile?last=5m %s: %d queries, median %d ms, p90 %d ms, max %d ms\n",
			what, NR, v[int((NR + 1) / 2)], v[int(NR * 0.9 + 0.5) ? int(NR * 0.9 + 0.5) : 1], v[NR] }'
}
summary "wall time" "$OUT/query_ms"
summary "daemon CPU" "$OUT/query_cpu_ms"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
