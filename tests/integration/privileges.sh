#!/usr/bin/env bash
# Least privilege: sonde started the way the systemd unit starts it (an
# unprivileged user with ambient capabilities) and started as root with
# --user. Either way it ends up as that user with only the run-time
# capabilities, and still profiles a root process whose binary only root may
# read: user frames (CAP_SYS_PTRACE for /proc/PID/maps, CAP_DAC_READ_SEARCH
# for the file) and kernel frames (CAP_SYSLOG for /proc/kallsyms) all named.
source "$(dirname "$0")/lib.bash"
require_bpf

NOBODY=$(id -u nobody)
START_CAPS=bpf,perfmon,sys_ptrace,dac_read_search,syslog
# CAP_BPF 39, CAP_SYSLOG 34, CAP_SYS_PTRACE 19, CAP_DAC_READ_SEARCH 2: CAP_PERFMON is gone.
RUNTIME_MASK=0000008400080004

# The workload in a directory only root may enter ($TMP is 0700).
mkdir -p "$TMP/private"
cp "$SONDE_WORKLOADS/cpu_hog" "$TMP/private/cpu_hog"
chmod 0700 "$TMP/private/cpu_hog"

# start_as LABEL COMMAND...: like start_daemon, with the command that runs sonde.
start_as() {
	local label=$1
	shift
	"$@" --listen 127.0.0.1:0 --no-blockio 2>"$TMP/$label.log" &
	DAEMON_PID=$!
	PORT=
	for _ in $(seq 1 100); do
		PORT=$(sed -n 's#.*serving on http://127.0.0.1:\([0-9]*\)/.*#\1#p' "$TMP/$label.log")
		[ -n "$PORT" ] && grep -q 'running as uid' "$TMP/$label.log" && break
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$PORT" ] || { cat "$TMP/$label.log"; echo "FAIL: $label: daemon did not start"; exit 1; }
	URL=http://127.0.0.1:$PORT
}

status_field() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$DAEMON_PID/status"; }

failures() { # failures CAUSE: sonde_symbolize_failures_total{cause="CAUSE"}
	curl -sf "$URL/metrics" | awk -v c="sonde_symbolize_failures_total{cause=\"$1\"}" '$1 == c { print $2 }'
}

# profile_checks LABEL: the daemon's credentials, then a 4 s profile of the private workload.
profile_checks() {
	local label=$1 prof="$TMP/$1.pb.gz" hog a b c sum
	check "$label: runs as nobody" test "$(status_field Uid)" = "$NOBODY"
	check "$label: effective capabilities are the run-time ones" test "$(status_field CapEff)" = $RUNTIME_MASK
	check "$label: permitted capabilities are the run-time ones" test "$(status_field CapPrm)" = $RUNTIME_MASK
	check "$label: no ambient capabilities" test "$(status_field CapAmb)" = 0000000000000000
	check "$label: no inheritable capabilities" test "$(status_field CapInh)" = 0000000000000000
	check "$label: no_new_privs" test "$(status_field NoNewPrivs)" = 1

	"$TMP/private/cpu_hog" --seconds 6 >"$TMP/$label.hog" &
	hog=$!
	for _ in $(seq 1 50); do grep -q '^pid' "$TMP/$label.hog" && break; sleep 0.1; done
	check "$label: profile served" curl -sf -o "$prof" "$URL/debug/pprof/profile?seconds=4&pid=$hog"
	wait $hog
	a=$(pprof_flat "$prof" hot_alpha)
	b=$(pprof_flat "$prof" hot_beta)
	c=$(pprof_flat "$prof" hot_gamma)
	sum=$((a + b + c))
	echo "$label: hot_alpha=$a hot_beta=$b hot_gamma=$c"
	check "$label: hot functions named and sampled" test "$sum" -gt 100
	if [ "$sum" -gt 0 ]; then
		check "$label: hot_alpha share 50% +-6" within "$(awk -v x="$a" -v s="$sum" 'BEGIN { print 100 * x / s }')" 50 6
		check "$label: hot_beta share 30% +-6" within "$(awk -v x="$b" -v s="$sum" 'BEGIN { print 100 * x / s }')" 30 6
		check "$label: hot_gamma share 20% +-6" within "$(awk -v x="$c" -v s="$sum" 'BEGIN { print 100 * x / s }')" 20 6
	fi
	go tool pprof -sample_index=samples -focus='^sys_read_zero$' -top -nodecount=200 "$prof" \
		2>/dev/null >"$TMP/$label.sys"
	check "$label: kernel frames named beneath sys_read_zero" \
		grep -Eq ' (ksys_read|vfs_read|read_zero|__x64_sys_read)$' "$TMP/$label.sys"
	# Read from the workload's own profile: /metrics counts failures host-wide, and other
	# processes may rightly stay unreadable (a memfd mapping needs CAP_SYS_ADMIN).
	go tool pprof -traces "$prof" 2>/dev/null >"$TMP/$label.traces"
	check "$label: /proc/PID/maps of a root process read (no [unknown] frame)" \
		sh -c "! grep -q '\[unknown\]' '$TMP/$label.traces'"
	# Unreadable, every cpu_hog frame would be [cpu_hog]; read, only code no symbol
	# covers (a PLT stub) is, in a sample now and then.
	unnamed=$(go tool pprof -sample_index=samples -top -nodecount=1000 "$prof" 2>/dev/null |
		awk '$6 == "[cpu_hog]" { v = $1 } END { print v + 0 }')
	check "$label: a binary only root may read opened ($unnamed of $sum samples in [cpu_hog])" \
		test "$((unnamed * 50))" -le "$sum"
	check "$label: every kernel address named" test "$(failures kernel_no_symbol)" = 0
	check "$label: stops cleanly" stop_daemon
	check "$label: BPF programs released" daemon_progs_released
}

# 1. As the unit starts it: nobody with ambient capabilities, bounding set limited to them,
#    SecureBits=noroot-locked and NoNewPrivileges=yes.
start_as unit setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups \
	--inh-caps=-all,+${START_CAPS//,/,+} --ambient-caps=-all,+${START_CAPS//,/,+} \
	--bounding-set=-all,+${START_CAPS//,/,+} --securebits=+noroot,+noroot_locked --no-new-privs \
	"$SONDE_BIN"
check "unit: bounding set is what systemd gave" test "$(status_field CapBnd)" = 000000c400080004
profile_checks unit

# 2. By hand as root, switching user after start-up.
start_as user "$SONDE_BIN" --user nobody
check "user: bounding set trimmed to the run-time capabilities" test "$(status_field CapBnd)" = $RUNTIME_MASK
check "user: no supplementary groups" test -z "$(awk '$1 == "Groups:" { print $2 }' "/proc/$DAEMON_PID/status")"
profile_checks user

# An unknown user is a settings error, found before anything is loaded.
rc=0
"$SONDE_BIN" --user no-such-user-sonde --listen 127.0.0.1:0 2>"$TMP/nouser.err" || rc=$?
check "--user no-such-user: exit 2" test "$rc" = 2
check "--user no-such-user: one line" test "$(wc -l <"$TMP/nouser.err")" = 1
check "--user no-such-user: says so" grep -q "^sonde: cannot switch to user 'no-such-user-sonde': no such user$" "$TMP/nouser.err"

finish
