#!/usr/bin/env bash
# Block-I/O profiles end to end, against a workload that issues O_DIRECT requests of known
# sizes from known functions and times them itself (tests/workloads/blockio_hog.c): the
# requests and bytes attributed to each site match what it issued within 1%, their latency
# is positive and of the order of what the site measured, every sample names the file's
# disk; the same with the raw-tracepoint fallback; the requests are counted in /metrics;
# every daemon stops cleanly.
source "$(dirname "$0")/lib.bash"
require_bpf

LINT=$SONDE_WORKLOADS/pprof_lint
WINDOW=5
WRITES=200
READS=400

# A directory on a real block device (not tmpfs, not a device-less file system), for
# O_DIRECT requests that reach a disk: the build tree, else /var/tmp.
DIR=$(disk_dir)
[ -n "$DIR" ] || skip "no directory on a block device for O_DIRECT requests"
# The disk under it, as the profile names it: the kernel's name of the whole disk (the
# parent of a partition) in /sys/dev/block.
SYS=$(readlink -f "/sys/dev/block/$(stat -c %Hd:%Ld "$DIR")")
[ -e "$SYS/partition" ] && SYS=$(dirname "$SYS")
DISK=$(basename "$SYS")
echo "requests go to $DIR on $(stat -f -c %T "$DIR"), disk $DISK"

# truth NAME FIELD SITE (lib.bash) reads $TMP/NAME.hog; for blockio_hog: FIELD 3 requests, 4 bytes, 5 ns.
percent() { # percent PART WHOLE
	awk -v p="$1" -v w="$2" 'BEGIN { printf "%.2f\n", (w > 0) ? 100 * p / w : 0 }'
}

sample_types() { # the sample-type line of go tool pprof -raw, "[dflt]" on the default
	go tool pprof -symbolize=none -raw "$1" 2>/dev/null |
		awk '$1 == "Samples:" { getline; $1 = $1; print; exit }'
}

# profile_hog NAME: runs blockio_hog inside one request for /debug/pprof/blockio?seconds=
# WINDOW&pid=P. The profile lands in $TMP/NAME.pb.gz and the workload's report in
# $TMP/NAME.hog; sets HOG_PID. False (after a FAIL) if there is no profile.
profile_hog() {
	local name=$1 hog req open0 opened=0 rc=0
	"$SONDE_WORKLOADS/blockio_hog" --writes $WRITES --reads $READS --dir "$DIR" \
		--wait-usr1 >"$TMP/$name.hog" &
	hog=$!
	HOG_PID=$hog
	if ! wait_for_line "$TMP/$name.hog" '^ready$' 30; then
		fail "$name: blockio_hog did not start"
		return 1
	fi
	open0=$(metric sonde_profiles_pending || true)
	curl -sf -o "$TMP/$name.pb.gz" "$URL/debug/pprof/blockio?seconds=$WINDOW&pid=$hog" &
	req=$!
	# A request belongs to the window it completes in: start once the window is open.
	for _ in $(seq 1 100); do
		if [ "$(metric sonde_profiles_pending || true)" -gt "${open0:-0}" ] 2>/dev/null; then
			opened=1
			break
		fi
		kill -0 "$req" 2>/dev/null || break
		sleep 0.05
	done
	check "$name: the daemon opened a session for the request" test "$opened" -eq 1
	kill -USR1 "$hog"
	wait_for_line "$TMP/$name.hog" '^done$' $((WINDOW - 1)) ||
		fail "$name: blockio_hog did not finish inside the window"
	wait "$req" || rc=$?
	# Only now may it exit: its frames are named from /proc/PID/maps when the profile is built.
	kill -USR1 "$hog" 2>/dev/null || true
	wait "$hog" || true
	cat "$TMP/$name.hog"
	check "$name: GET /debug/pprof/blockio answers 200" test "$rc" -eq 0
	[ "$rc" -eq 0 ] && [ -s "$TMP/$name.pb.gz" ]
}

# check_site NAME SITE CALLER OP: the requests, bytes and latency that profile NAME
# attributes to SITE (op=OP, pid of the workload) against what SITE issued and timed.
check_site() {
	local name=$1 site=$2 caller=$3 op=$4 p=$TMP/$1.pb.gz
	local want_n want_b want_ns n b ns at_site where
	want_n=$(truth "$name" 3 "$site")
	want_b=$(truth "$name" 4 "$site")
	want_ns=$(truth "$name" 5 "$site")
	# Debian's libc has no frame pointers: the unwind from inside its pwrite/pread wrapper
	# skips the wrapper's caller (SITE) and resumes in CALLER, which issues nothing else.
	# A sample is matched at the deepest frame present: SITE when the unwinder found it,
	# otherwise CALLER.
	at_site=$(count_of "$p" io "pid=$HOG_PID" "op=$op" "@$site")
	where=$caller
	[ "$at_site" -gt 0 ] && where="$site (and $caller)"
	n=$(sum_of "$p" io "pid=$HOG_PID" "op=$op" "@$site,$caller")
	b=$(sum_of "$p" io_bytes "pid=$HOG_PID" "op=$op" "@$site,$caller")
	ns=$(sum_of "$p" io_latency "pid=$HOG_PID" "op=$op" "@$site,$caller")
	echo "$name: $site: $n requests, $b bytes, $ns ns of latency, matched at $where;" \
		"it issued $want_n requests, $want_b bytes in $want_ns ns" \
		"(requests $(percent "$n" "$want_n")%, bytes $(percent "$b" "$want_b")%," \
		"latency $(percent "$ns" "$want_ns")% of its own time)"
	check "$name: $site: requests within 1% of what it issued" \
		within "$n" "$want_n" "$(awk -v w="$want_n" 'BEGIN { print w / 100 }')"
	check "$name: $site: bytes within 1% of what it issued" \
		within "$b" "$want_b" "$(awk -v w="$want_b" 'BEGIN { print w / 100 }')"
	# The block layer's part of a request is less than the system call's, and more than a
	# tenth of it for requests that reach a disk.
	check "$name: $site: latency positive, within 10x of the site's own time" \
		awk -v l="$ns" -v w="$want_ns" 'BEGIN { exit !(l > 0 && l <= w * 1.01 && l * 10 >= w) }'
	check "$name: $site: every request of it is on disk $DISK" \
		test "$(count_of "$p" io "pid=$HOG_PID" "op=$op" "@$site,$caller" "device!=$DISK")" -eq 0
}

check_profile() { # check_profile NAME: everything asked of one profile of blockio_hog
	local name=$1 p=$TMP/$1.pb.gz key
	check "$name: pprof_lint: consumer rules hold" "$LINT" "$p" >"$TMP/$name.lint"
	cat "$TMP/$name.lint"
	check "$name: go tool pprof parses the profile" go tool pprof -symbolize=none -raw "$p" >/dev/null
	check "$name: sample types io/count, io_bytes/bytes, io_latency/nanoseconds (default)" \
		test "$(sample_types "$p")" = "io/count io_bytes/bytes io_latency/nanoseconds[dflt]"
	for key in pid comm thread_name device op sync; do
		check "$name: every sample has a $key label" test "$(count_of "$p" io "!$key")" -eq 0
	done
	check "$name: every sample is of pid $HOG_PID" test "$(count_of "$p" io "pid!=$HOG_PID")" -eq 0
	check "$name: every op is one of read write flush discard other" test "$(count_of "$p" io \
		op!=read op!=write op!=flush op!=discard op!=other)" -eq 0
	check_site "$name" write_site write_loop write
	check_site "$name" read_site read_loop read
	# -tagfocus, as a user would filter: go tool pprof's own count of the reads.
	local tf
	tf=$(go tool pprof -symbolize=none -sample_index=io -tagfocus="op=read" -top \
		-nodecount=100000 -nodefraction=0 "$p" 2>/dev/null |
		sed -n 's/.*accounting for \([0-9]*\),.*/\1/p' | head -1)
	echo "$name: go tool pprof -tagfocus=op=read: ${tf:-?} requests"
	check "$name: go tool pprof -tagfocus=op=read counts the reads issued, within 1%" \
		within "${tf:-0}" "$(truth "$name" 3 read_site)" "$(truth "$name" 3 read_site | awk '{ print $1 / 100 }')"
}

stop_and_check() { # stop_and_check NAME: SIGTERM, a clean exit, BPF programs released, no errors
	check "$1: SIGTERM exits 0" stop_daemon
	check "$1: every BPF program of the daemon is released" daemon_progs_released
	check "$1: no daemon errors logged" sh -c "! grep -q 'sonde: error' '$TMP/daemon.log'"
	cp "$TMP/daemon.log" "$TMP/daemon-$1.log"
}

# --- 1. The default hook (tp_btf where the kernel has block_io_start), every request kept:
# the workload's 600 requests can exceed the default --blockio-max-rate (200 a second per
# CPU), and sampled counts would only be estimates (test_loader checks the sampling). ---
start_daemon --blockio-max-rate 0
grep -i 'block I/O' "$TMP/daemon.log" || true
check "default: the log names the block-I/O hook" grep -Eq 'block I/O: hook (tp_btf|raw_tp)' "$TMP/daemon.log"
if profile_hog default; then
	check_profile default
fi
curl -sf "$URL/metrics" >"$TMP/metrics.txt"
grep -E '^sonde_blockio_' "$TMP/metrics.txt" || true
check "/metrics counts block-I/O records" \
	test "$(awk '$1 == "sonde_blockio_events_total" { print $2 }' "$TMP/metrics.txt")" -ge $((WRITES + READS))
check "/metrics: no block-I/O request sampled out" \
	test "$(awk '$1 == "sonde_blockio_sampled_out_total" { print $2 }' "$TMP/metrics.txt")" -eq 0
check "/metrics: no block-I/O record dropped" sh -c \
	"! grep -Eq '^sonde_blockio_dropped_total[{].*[}] [1-9]' '$TMP/metrics.txt'"
check "/metrics: every block-I/O completion found its start record" sh -c \
	"! grep -Eq '^sonde_blockio_join_failures_total[{].*[}] [1-9]' '$TMP/metrics.txt'"
check "/metrics: BPF run time of program=blockio" grep -q 'sonde_bpf_run_time_seconds_total{program="blockio"}' "$TMP/metrics.txt"
stop_and_check default

# --- 2. The fallback: block_rq_insert / block_rq_issue raw tracepoints. ---
start_daemon --blockio-hook raw_tp --blockio-max-rate 0
grep -i 'block I/O' "$TMP/daemon.log" || true
check "raw_tp: the log says hook raw_tp" grep -q 'block I/O: hook raw_tp' "$TMP/daemon.log"
if profile_hog raw_tp; then
	check_profile raw_tp
fi
stop_and_check raw_tp

# --- 3. Off: a clear 404. ---
start_daemon --no-blockio
check "--no-blockio: /debug/pprof/blockio answers 404" \
	test "$(curl -s -o "$TMP/off.txt" -w '%{http_code}' "$URL/debug/pprof/blockio?seconds=1")" = 404
check "--no-blockio: the 404 says why" grep -q -- '--no-blockio' "$TMP/off.txt"
stop_and_check off

# --- 4. Paused and resumed by a reload (SIGHUP with no-blockio in the settings file). ---
direct_io() { # 64 O_DIRECT writes of 4 KiB to the disk under test
	dd if=/dev/zero of="$DIR/sonde-pause.$$" bs=4k count=64 oflag=direct status=none
	rm -f "$DIR/sonde-pause.$$"
}
printf 'no-blockio = false\n' >"$TMP/pause.conf"
start_daemon --config "$TMP/pause.conf"
check "reload: attached at start" test "$(metric sonde_blockio_attached)" = 1
printf 'no-blockio = true\n' >"$TMP/pause.conf"
kill -HUP "$DAEMON_PID"
check "reload: paused" wait_for_line "$TMP/daemon.log" 'block-I/O profiling paused'
check "reload: /metrics says detached" test "$(metric sonde_blockio_attached)" = 0
s0=$(metric sonde_blockio_started_total)
direct_io
s1=$(metric sonde_blockio_started_total)
check "reload: paused hooks see no request ($s0 -> $s1)" test "$s1" = "$s0"
check "reload: the endpoint still answers while paused" \
	test "$(curl -s -o /dev/null -w '%{http_code}' "$URL/debug/pprof/blockio?seconds=1")" = 200
printf 'no-blockio = false\n' >"$TMP/pause.conf"
kill -HUP "$DAEMON_PID"
check "reload: resumed" wait_for_line "$TMP/daemon.log" 'block-I/O profiling resumed'
check "reload: /metrics says attached" test "$(metric sonde_blockio_attached)" = 1
direct_io
s2=$(metric sonde_blockio_started_total)
check "reload: resumed hooks count again ($s1 -> $s2)" test "$s2" -ge $((s1 + 64))
stop_and_check reload

finish
