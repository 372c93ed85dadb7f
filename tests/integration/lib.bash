# Shared helpers for the privileged integration tests (sourced, not run).
# Each test: start the real daemon on a free port, run workloads built by
# the test build, fetch profiles over HTTP, check them with go tool pprof.

set -euo pipefail

: "${SONDE_BIN:?SONDE_BIN is set by ctest}"
: "${SONDE_WORKLOADS:?SONDE_WORKLOADS is set by ctest}"

TMP=$(mktemp -d /tmp/sonde-test.XXXXXX)
DAEMON_PID=
FAILS=0
PASSES=0
export HOME=${HOME:-/root}
export PPROF_TMPDIR=$TMP
export GOCACHE=$TMP/gocache
export GOFLAGS=-mod=mod

cleanup() {
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID" 2>/dev/null || true
		wait "$DAEMON_PID" 2>/dev/null || true
	fi
	jobs -p | xargs -r kill 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

skip() {
	echo "SKIP: $*"
	exit 77
}

fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}

pass() {
	echo "ok: $*"
	PASSES=$((PASSES + 1))
}

check() { # check "description" command...
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

finish() {
	echo "$(basename "$0" .sh): $PASSES passed, $FAILS failed"
	[ "$PASSES" -gt 0 ] && [ "$FAILS" -eq 0 ]
}

require_bpf() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to load BPF programs (CAP_BPF, CAP_PERFMON)"
	[ -r /sys/kernel/btf/vmlinux ] || skip "kernel has no BTF (/sys/kernel/btf/vmlinux)"
	command -v go >/dev/null || { echo "FAIL: go is missing; make test installs golang-go"; exit 1; }
}

# IDs of loaded sonde BPF programs, one per line (other sonde instances may own some).
sonde_prog_ids() {
	bpftool prog show 2>/dev/null | awk '/ name sonde_/ { sub(":", "", $1); print $1 }' | sort
}

# start_daemon [ARGS...]: runs sonde on a free loopback port, sets PORT and URL.
start_daemon() {
	sonde_prog_ids >"$TMP/progs.before"
	"$SONDE_BIN" --listen 127.0.0.1:0 "$@" 2>"$TMP/daemon.log" &
	DAEMON_PID=$!
	for _ in $(seq 1 100); do
		PORT=$(sed -n 's#.*serving on http://127.0.0.1:\([0-9]*\)/.*#\1#p' "$TMP/daemon.log")
		[ -n "$PORT" ] && break
		kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$TMP/daemon.log"; echo "FAIL: daemon died"; exit 1; }
		sleep 0.1
	done
	[ -n "$PORT" ] || { cat "$TMP/daemon.log"; echo "FAIL: daemon did not start"; exit 1; }
	URL=http://127.0.0.1:$PORT
}

# True when every sonde BPF program loaded now was already loaded before start_daemon.
daemon_progs_released() {
	sonde_prog_ids >"$TMP/progs.after"
	[ -z "$(comm -13 "$TMP/progs.before" "$TMP/progs.after")" ]
}

stop_daemon() { # returns the daemon's exit status
	local rc=0
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID" || rc=$?
	DAEMON_PID=
	return $rc
}

# proc_cpu_ticks PID: utime+stime of a process in clock ticks.
proc_cpu_ticks() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

metric() { # metric NAME [URL]: value of an unlabelled metric
	curl -sf "$URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

# pprof_count FILE FUNCTION: flat sample count of a function (0 if absent).
pprof_flat() {
	go tool pprof -sample_index=samples -top -nodecount=1000 "$1" 2>/dev/null |
		awk -v f="$2" '$6 == f { v = $1 } END { print v + 0 }'
}

pprof_total() {
	go tool pprof -sample_index=samples -top -nodecount=1 "$1" 2>/dev/null |
		sed -n 's/.*of \([0-9]*\) total.*/\1/p' | head -1
}

within() { # within VALUE EXPECTED TOLERANCE: |VALUE-EXPECTED| <= TOLERANCE (floats)
	awk -v v="$1" -v e="$2" -v t="$3" 'BEGIN { d = v - e; if (d < 0) d = -d; exit !(d <= t) }'
}
