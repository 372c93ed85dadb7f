#!/usr/bin/env bash
# The command line: help and version, and one clear line on stderr with a
# non-zero exit for each failure (bad flag, bad value, port in use, no
# privileges, no PMU for cycles).
source "$(dirname "$0")/lib.bash"
require_bpf

# expect_fail CODE PATTERN ARGS...: exit status CODE, exactly one stderr line matching PATTERN.
expect_fail() {
	local code=$1 pattern=$2 rc=0
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err" </dev/null || rc=$?
	if [ "$rc" -ne "$code" ]; then
		fail "$* exits $code (got $rc: $(head -c 300 "$TMP/err"))"
	elif [ "$(wc -l <"$TMP/err")" -ne 1 ]; then
		fail "$* prints one line on stderr (got $(wc -l <"$TMP/err")): $(cat "$TMP/err")"
	elif ! grep -Eq "^sonde: .*$pattern" "$TMP/err"; then
		fail "$* says '$pattern' (got: $(cat "$TMP/err"))"
	else
		pass "$* -> exit $code: $(cat "$TMP/err")"
	fi
}

check "--help exits 0 with usage" sh -c "'$SONDE_BIN' --help | grep -q '^Usage: sonde'"
check "--version prints the version" sh -c "'$SONDE_BIN' --version | grep -Eq '^sonde [0-9]+\.[0-9]+\.[0-9]+$'"
expect_fail 2 "unknown option '--bogus'" "$SONDE_BIN" --bogus
expect_fail 2 "invalid --frequency '0'" "$SONDE_BIN" --frequency 0
expect_fail 2 "invalid --frequency 'fast'" "$SONDE_BIN" -F fast
expect_fail 2 "invalid --listen" "$SONDE_BIN" --listen nowhere
expect_fail 2 "needs a value" "$SONDE_BIN" --listen
expect_fail 2 "unexpected argument" "$SONDE_BIN" extra
expect_fail 1 "cannot listen on 203.0.113.7:6060" "$SONDE_BIN" --listen 203.0.113.7:6060

start_daemon
expect_fail 1 "Address already in use" "$SONDE_BIN" --listen "127.0.0.1:$PORT"
check "the first daemon still serves" sh -c "curl -sf '$URL/healthz' | grep -qx ok"
stop_daemon

# Without privileges: run as nobody with no capabilities.
expect_fail 1 "needs CAP_BPF and CAP_PERFMON" \
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
	"$SONDE_BIN" --listen 127.0.0.1:0

# Hardware cycles need a PMU; this machine may or may not have one.
if [ ! -e /sys/bus/event_source/devices/cpu ] && [ ! -e /sys/bus/event_source/devices/cpu_core ]; then
	expect_fail 1 "no PMU" "$SONDE_BIN" --event cycles --listen 127.0.0.1:0
else
	echo "note: this machine has a PMU; --event cycles is exercised by test_loader"
	pass "cycles available"
fi

finish
