#!/usr/bin/env bash
# sonde the way systemd runs it, without systemd: an unprivileged user with the unit's
# capabilities, NOTIFY_SOCKET and WATCHDOG_USEC set, settings from a file, under strace.
#   - sd_notify: READY with the address, WATCHDOG pings at half the interval, RELOADING then
#     READY around SIGHUP, STOPPING at the end;
#   - SIGHUP: the log level and the bearer token change at once, an invalid file leaves the
#     running settings alone, other changes are reported as needing a restart;
#   - every system call the daemon makes is one the unit's SystemCallFilter allows;
#   - --check-config: one line and exit 0, or one line and exit 2.
source "$(dirname "$0")/lib.bash"
require_bpf
command -v strace >/dev/null || { echo "FAIL: strace is missing; make test installs it"; exit 1; }
command -v python3 >/dev/null || { echo "FAIL: python3 is missing; make test installs it"; exit 1; }
UNIT=${SONDE_SOURCE_DIR:?}/systemd/sonde.service
CAPS=+bpf,+perfmon,+sys_ptrace,+dac_read_search,+syslog

# --- --check-config, which needs no privileges. ---
printf 'frequency = 49\nlog-level = debug\n' >"$TMP/good.conf"
printf 'listen = 127.0.0.1:1\n\nfrequency = 0\n' >"$TMP/bad.conf"
# check_config NAME WANT_RC WANT_STREAM PATTERN ARGS...: exit status, one line on that stream.
check_config() {
	local name=$1 want=$2 stream=$3 pattern=$4 rc=0
	shift 4
	"$SONDE_BIN" --check-config "$@" >"$TMP/cc.out" 2>"$TMP/cc.err" || rc=$?
	check "check-config $name: exit $want (got $rc)" test "$rc" = "$want"
	check "check-config $name: one line: $(cat "$TMP/cc.$stream")" \
		test "$(cat "$TMP/cc.out" "$TMP/cc.err" | wc -l)" = 1 -a -s "$TMP/cc.$stream"
	check "check-config $name: says '$pattern'" grep -q -- "$pattern" "$TMP/cc.$stream"
}
check_config "good file" 0 out "settings are valid (settings file: $TMP/good.conf)" --config "$TMP/good.conf"
check_config "bad file" 2 err "^sonde: $TMP/bad.conf:3: invalid --frequency '0'" --config "$TMP/bad.conf"
# An invalid value is an error even where a higher source overrides it.
check_config "flag over bad file" 2 err "bad.conf:3: invalid --frequency '0'" --config "$TMP/bad.conf" --frequency 10
SONDE_FREQUENCY=5 check_config "environment over bad file" 2 err "bad.conf:3: invalid" --config "$TMP/bad.conf"
SONDE_FREQUENCY=x check_config "bad environment" 2 err "^sonde: SONDE_FREQUENCY: invalid --frequency 'x'"
check_config "missing file" 2 err "cannot read settings file /nonexistent.conf" --config /nonexistent.conf
check_config "missing token file" 2 err "cannot read the auth token file /nonexistent/token" \
	--auth-token-file /nonexistent/token
check_config "tls cert without key" 2 err "tls-cert is set without tls-key" --tls-cert /etc/hostname
check_config "unknown user" 2 err "no such user" --user no-such-user-sonde
check_config "as nobody" 0 out "settings are valid" --config "$TMP/good.conf" --frequency 1 --user nobody

# --- The daemon, as the unit runs it. ---
mkdir -m 0755 "$TMP/run"
NOTIFY=$TMP/run/notify
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", " | ") + "\n")
' "$NOTIFY" "$TMP/notify.log" &
for _ in $(seq 1 50); do [ -S "$NOTIFY" ] && break; sleep 0.1; done
chmod 0666 "$NOTIFY"

head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/token1"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/token2"
chown nobody "$TMP/token1" "$TMP/token2"
chmod 0600 "$TMP/token1" "$TMP/token2"
write_conf() { printf 'listen = 127.0.0.1:0\nno-blockio = true\n' >"$TMP/sonde.conf"; printf '%s\n' "$@" >>"$TMP/sonde.conf"; }
write_conf "log-level = info" "auth-token-file = $TMP/token1"
chmod 0644 "$TMP/sonde.conf"

# LeakSanitizer cannot run under ptrace; the other daemon tests check for leaks.
NOTIFY_SOCKET=$NOTIFY WATCHDOG_USEC=400000 SONDE_CONFIG=$TMP/sonde.conf \
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -o "$TMP/strace.out" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all,$CAPS \
	--ambient-caps=-all,$CAPS --bounding-set=-all,$CAPS --securebits=+noroot,+noroot_locked \
	--no-new-privs "$SONDE_BIN" 2>"$TMP/daemon.log" &
STRACE_PID=$!
check "READY=1 with the address" wait_for_line "$TMP/notify.log" '^READY=1 \| STATUS=serving on http://127.0.0.1:[0-9]+/debug/pprof/$' 20
PORT=$(sed -n 's#^READY=1 | STATUS=serving on http://127.0.0.1:\([0-9]*\)/.*#\1#p' "$TMP/notify.log" | head -1)
DAEMON_PID=$(pgrep -P "$STRACE_PID" | head -1 || true)
[ -n "$PORT" ] && [ -n "$DAEMON_PID" ] ||
	{ cat "$TMP/daemon.log" "$TMP/notify.log"; echo "FAIL: daemon did not start"; exit 1; }
URL=http://127.0.0.1:$PORT
check "READY came after privileges were dropped" grep -q 'running as uid' "$TMP/daemon.log"
sleep 1.3
PINGS=$(grep -c '^WATCHDOG=1$' "$TMP/notify.log" || true)
check "watchdog pinged at half of 400 ms ($PINGS pings in ~1.3 s)" test "$PINGS" -ge 3 -a "$PINGS" -le 12

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "token 1: 200" test "$(code -H "Authorization: Bearer $(cat "$TMP/token1")" "$URL/metrics")" = 200
check "no token: 401" test "$(code "$URL/metrics")" = 401
for kind in profile offcpu wall; do
	check "$kind profile served" test "$(code -H "Authorization: Bearer $(cat "$TMP/token1")" \
		"$URL/debug/pprof/$kind?seconds=1")" = 200
done

# Reload: a new token and a new log level, at once.
write_conf "log-level = debug" "auth-token-file = $TMP/token2"
kill -HUP "$DAEMON_PID"
check "SIGHUP: log level is now debug" wait_for_line "$TMP/daemon.log" 'log level is now debug'
check "SIGHUP: RELOADING=1, then READY=1" wait_for_line "$TMP/notify.log" '^RELOADING=1 \| MONOTONIC_USEC=[0-9]+$'
check "SIGHUP: READY=1 again" test "$(grep -c '^READY=1' "$TMP/notify.log")" -ge 2
check "SIGHUP: token 1 is refused" test "$(code -H "Authorization: Bearer $(cat "$TMP/token1")" "$URL/metrics")" = 401
check "SIGHUP: token 2 is let in" test "$(code -H "Authorization: Bearer $(cat "$TMP/token2")" "$URL/metrics")" = 200

# An invalid file: the error is logged and nothing changes.
write_conf "log-level = debug" "auth-token-file = $TMP/token2" "frequency = 0"
kill -HUP "$DAEMON_PID"
check "invalid reload: logged with its place" wait_for_line "$TMP/daemon.log" \
	"reload failed, the running settings stay: $TMP/sonde.conf:5: invalid --frequency '0'"
check "invalid reload: token 2 still works" test "$(code -H "Authorization: Bearer $(cat "$TMP/token2")" "$URL/metrics")" = 200

# A setting fixed at start-up: reported, not applied.
write_conf "log-level = debug" "auth-token-file = $TMP/token2" "frequency = 49"
kill -HUP "$DAEMON_PID"
check "fixed setting: restart needed" wait_for_line "$TMP/daemon.log" 'take effect at the next restart'

record_daemon_progs
kill -TERM "$DAEMON_PID"
rc=0
wait "$STRACE_PID" || rc=$?
DAEMON_PID=
check "stops with status 0 on SIGTERM" test "$rc" = 0
check "STOPPING=1" wait_for_line "$TMP/notify.log" '^STOPPING=1$'
check "BPF programs released" daemon_progs_released

# --- Every system call after exec is one the unit allows. ---
expand() { # expand @GROUP|NAME: the system call names it stands for
	if [[ $1 == @* ]]; then
		systemd-analyze syscall-filter "$1" </dev/null |
			sed -n 's/^ \{4\}\([@a-z0-9_-]*\)$/\1/p' |
			while read -r x; do expand "$x"; done
	else
		echo "$1"
	fi
}
allowed=$(
	while read -r list; do
		if [[ $list == "~"* ]]; then
			mode=deny
			list=${list#\~}
		else
			mode=allow
		fi
		for item in $list; do expand "$item" | sed "s/^/$mode /"; done
	done < <(sed -n 's/^SystemCallFilter=//p' "$UNIT") |
		awk '$1 == "allow" { ok[$2] = 1 } $1 == "deny" { delete ok[$2] } END { for (s in ok) print s }' |
		sort -u
)
check "the unit's filter allows bpf and perf_event_open" test "$(grep -cxE 'bpf|perf_event_open' <<<"$allowed")" = 2
used=$(awk -v bin="$SONDE_BIN" '
	# strace -f: "PID name(args...) = ..."; the daemon starts at its execve.
	!started && index($2, "execve(\"" bin "\"") == 1 { started = 1; next }
	started && $2 ~ /^[a-z0-9_]+\(/ { sub(/\(.*/, "", $2); print $2 }' "$TMP/strace.out" | sort -u)
check "strace saw the daemon's system calls" test "$(wc -l <<<"$used")" -gt 20
outside=$(comm -23 <(echo "$used") <(echo "$allowed") | tr '\n' ' ')
check "every system call is allowed by SystemCallFilter (outside: ${outside:-none})" test -z "$outside"

finish
