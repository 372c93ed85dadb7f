#!/usr/bin/env bash
# SIGTERM under heavy load: the daemon answers or cleanly cuts every request
# in flight and exits 0 within 2 s, releasing its BPF programs.
#
# The load: a CPU hog and an off-CPU hog sampled by every profile kind, 24
# blocking `seconds=30` profiles of four kinds in flight, 8 loops of history
# queries and /metrics scrapes, and 4 clients reading a profile at 1 KiB/s
# (their answers fit the socket buffers: they load the daemon, not stall it).
set -euo pipefail
. "$(dirname "$0")/lib.bash"
require_bpf

# The 2 s bound is the production build's. Sanitized, each profile the daemon
# finishes on the way out costs 10-20x as much (3.3 s seen on a clean clone under
# ASan): there the bounds only catch a hang.
STOP_BOUND_MS=2000
HZ_TIMEOUT_S=2
if sanitized_build; then
	STOP_BOUND_MS=10000
	HZ_TIMEOUT_S=10
	echo "sanitized build: exit bound $STOP_BOUND_MS ms, /healthz timeout $HZ_TIMEOUT_S s"
fi

start_daemon --frequency 999 --window 1s
"$SONDE_WORKLOADS/cpu_hog" --seconds 60 >/dev/null &
HOG=$!
"$SONDE_WORKLOADS/offcpu_hog" --seconds 60 >/dev/null &
sleep 3 # some history windows to query

mkdir -p "$TMP/c"
# Blocking profiles: each would take 30 s; SIGTERM comes after 3.
for i in $(seq 1 24); do
	kinds=(profile offcpu wall blockio)
	kind=${kinds[$((i % 4))]}
	curl -s -o "$TMP/c/block$i.body" -w '%{http_code}\n' -m 40 \
		"$URL/debug/pprof/$kind?seconds=30" >"$TMP/c/block$i.code" 2>/dev/null &
done
# History queries and scrapes in a loop, until the daemon is gone.
for i in $(seq 1 8); do
	(
		# curl exits 0 on any HTTP answer, non-zero once the connection is refused or cut.
		while curl -s -o /dev/null -m 5 "$URL/debug/pprof/profile?last=1m&format=folded" &&
			curl -s -o /dev/null -m 5 "$URL/metrics"; do
			:
		done
		echo stopped >"$TMP/c/loop$i.done"
	) &
done
# Slow readers: a history profile read at 1 KiB/s.
for i in $(seq 1 4); do
	curl -s -o /dev/null --limit-rate 1k -m 40 -w '%{http_code}\n' \
		"$URL/debug/pprof/wall?last=1m" >"$TMP/c/slow$i.code" 2>/dev/null &
done
sleep 3
PENDING=$(metric sonde_profiles_pending || echo 0)
echo "in flight before SIGTERM: $PENDING blocking profile sessions"
check "the blocking profiles are in flight when SIGTERM comes" test "${PENDING:-0}" -ge 20
check "/healthz answers under the load" sh -c "curl -sf -m $HZ_TIMEOUT_S '$URL/healthz' | grep -qx ok"

record_daemon_progs
T0=$(date +%s%N)
kill -TERM "$DAEMON_PID"
RC=0
wait "$DAEMON_PID" || RC=$?
T1=$(date +%s%N)
DAEMON_PID=
STOP_MS=$(((T1 - T0) / 1000000))
echo "SIGTERM to exit: $STOP_MS ms (status $RC)"
check "exits with status 0" test "$RC" = 0
check "exits within $((STOP_BOUND_MS / 1000)) s of SIGTERM under load" test "$STOP_MS" -lt "$STOP_BOUND_MS"
check "every BPF program of the daemon is released" daemon_progs_released

# Every blocking client and query loop is done within 2 s more: answered, or cut
# (curl's 000), never left hanging.
all_done() {
	local f
	for f in "$TMP"/c/block*.code; do [ -s "$f" ] || return 1; done
	[ "$(ls "$TMP"/c/loop*.done 2>/dev/null | wc -l)" -eq 8 ]
}
DEADLINE=$(($(date +%s%N) + 2000000000))
while ! all_done && [ "$(date +%s%N)" -lt "$DEADLINE" ]; do
	sleep 0.1
done
kill "$HOG" 2>/dev/null || true
LEFT=0
for f in "$TMP"/c/block*.code; do
	[ -s "$f" ] || LEFT=$((LEFT + 1))
done
LOOPS=$(ls "$TMP"/c/loop*.done 2>/dev/null | wc -l)
# A slow reader may still be reading, at 1 KiB/s, what the kernel buffered for it
# before the daemon exited (more on a busy host, where profiles are larger): that
# is its own pace, not a hang. The daemon's side is over, so each must end by
# itself, within its own 40 s limit, answered or cut.
SLOW_DEADLINE=$(($(date +%s%N) + 45000000000))
for f in "$TMP"/c/slow*.code; do
	while ! [ -s "$f" ] && [ "$(date +%s%N)" -lt "$SLOW_DEADLINE" ]; do
		sleep 0.2
	done
done
echo "clients: $(cat "$TMP"/c/block*.code | sort | uniq -c | tr '\n' ' ') (blocking);" \
	"$(cat "$TMP"/c/slow*.code | sort | uniq -c | tr '\n' ' ') (slow); $LOOPS of 8 query loops ended"
check "no blocking client is left hanging" test "$LEFT" -eq 0
check "every query loop ended" test "$LOOPS" -eq 8
# Slow readers: their answer was started (200) before the end, or they were cut (000).
check "each slow reader was answered or cut" sh -c \
	"for f in '$TMP'/c/slow*.code; do grep -qxE '200|000' \"\$f\" || exit 1; done"
# A cut request gets no status (000); an answered one a 200 whose body go tool pprof reads.
BAD=0
for f in "$TMP"/c/block*.code; do
	code=$(cat "$f")
	case $code in
	000) ;;
	200) go tool pprof -raw "${f%.code}.body" >/dev/null 2>&1 || BAD=$((BAD + 1)) ;;
	*) BAD=$((BAD + 1)) ;;
	esac
done
check "each blocking request was cut or answered with a valid profile" test "$BAD" -eq 0
check "no daemon errors logged" sh -c "! grep -q 'sonde: error' '$TMP/daemon.log'"
finish
