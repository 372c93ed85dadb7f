#!/usr/bin/env bash
# Off-CPU and wall-clock profiles end to end, against a workload that times its
# own blocking (tests/workloads/offcpu_hog.c): the off-CPU time attributed to a
# blocking site matches what the site measured, the sleeper's blocks are
# interruptible sleeps, the wall profile splits a thread's time between its
# on-CPU and off-CPU sites as the thread measured it; the same with the
# raw-tracepoint hook, with hash-map storage and with sampled short blocks; the
# events are counted in /metrics; every daemon stops cleanly.
source "$(dirname "$0")/lib.bash"
require_bpf

LINT=$SONDE_WORKLOADS/pprof_lint
HOG_SECONDS=4 # how long offcpu_hog's threads run ...
WINDOW=6      # ... inside a profile window this long

# truth NAME FIELD SITE (lib.bash) reads $TMP/NAME.hog; for offcpu_hog: FIELD 3 = ns, 4 = calls.
between() { # between VALUE LOW HIGH (integers)
	[ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

percent() { # percent PART WHOLE
	awk -v p="$1" -v w="$2" 'BEGIN { printf "%.2f\n", (w > 0) ? 100 * p / w : 0 }'
}

sample_types() { # the sample-type line of go tool pprof -raw, "[dflt]" on the default
	go tool pprof -symbolize=none -raw "$1" 2>/dev/null |
		awk '$1 == "Samples:" { getline; $1 = $1; print; exit }'
}

# profile_hog KIND NAME [BEFORE]: runs offcpu_hog for HOG_SECONDS inside one request for
# /debug/pprof/KIND?seconds=WINDOW&pid=P, sent BEFORE seconds (default 0) after the
# workload started. The profile lands in $TMP/NAME.pb.gz and the workload's report in
# $TMP/NAME.hog; sets HOG_PID, and DONE_MS to when the workload was seen to finish, in ms
# after the request was sent. False (after a FAIL) if there is no profile.
profile_hog() {
	local kind=$1 name=$2 hog req open0 opened=0 t_req rc=0
	"$SONDE_WORKLOADS/offcpu_hog" --seconds $HOG_SECONDS --wait-usr1 >"$TMP/$name.hog" &
	hog=$!
	HOG_PID=$hog
	DONE_MS=
	if ! wait_for_line "$TMP/$name.hog" '^ready$'; then
		fail "$name: offcpu_hog did not start"
		return 1
	fi
	sleep "${3:-0}"
	open0=$(metric sonde_profiles_pending || true)
	t_req=$(date +%s%N)
	curl -sf -o "$TMP/$name.pb.gz" "$URL/debug/pprof/$kind?seconds=$WINDOW&pid=$hog" &
	req=$!
	# Off-CPU time is reported when a block ends and clipped to the window, so the
	# workload may start blocking only once the window is open: once the daemon counts
	# the session. Its threads do not exist before that.
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
	if wait_for_line "$TMP/$name.hog" '^done$' $((HOG_SECONDS + WINDOW)); then
		DONE_MS=$((($(date +%s%N) - t_req) / 1000000))
		echo "$name: offcpu_hog done ${DONE_MS} ms after the request was sent"
		# Its last block ended before "done" was seen, and the window opened after the
		# request was sent: that is less than WINDOW seconds before the window's end.
		check "$name: offcpu_hog's blocks all ended inside the window" \
			test "$DONE_MS" -lt $((WINDOW * 1000))
	else
		fail "$name: offcpu_hog did not finish"
	fi
	wait "$req" || rc=$?
	# Only now may it exit: the daemon names its frames from /proc/PID/maps when it builds
	# the profile, at the end of the window.
	kill -USR1 "$hog" 2>/dev/null || true
	wait "$hog" || true
	cat "$TMP/$name.hog"
	check "$name: GET /debug/pprof/$kind answers 200" test "$rc" -eq 0
	[ "$rc" -eq 0 ] && [ -s "$TMP/$name.pb.gz" ]
}

lint() { # lint NAME: pprof_lint and go tool pprof accept $TMP/NAME.pb.gz
	local p=$TMP/$1.pb.gz
	check "$1: pprof_lint: consumer rules hold" "$LINT" "$p" >"$TMP/$1.lint"
	cat "$TMP/$1.lint"
	check "$1: go tool pprof parses the profile" go tool pprof -symbolize=none -raw "$p" >/dev/null
}

# check_site NAME THREAD SITE CALLER TOLERANCE [COUNT]: the off-CPU time that profile
# NAME attributes to SITE in thread THREAD is within TOLERANCE % of the time SITE measured;
# with COUNT, its switches are within 2% of SITE's calls (every call blocks once, and no
# block is sampled away).
check_site() {
	local name=$1 thread=$2 site=$3 caller=$4 tol=$5 p=$TMP/$1.pb.gz want got at_site where
	local calls switches
	want=$(truth "$name" 3 "$site")
	calls=$(truth "$name" 4 "$site")
	# Debian's libc is built without frame pointers. A blocked thread's user stack starts
	# at the system call in libc's wrapper (nanosleep, read), which leaves rbp alone: the
	# unwind's first step reads SITE's frame record and yields the return address into
	# CALLER, so SITE itself is missing. A sample is matched at the deepest frame that is
	# present: SITE when the unwinder found it (a sanitizer's read() interceptor, which has
	# a frame pointer, puts it back), otherwise CALLER, which does nothing else that blocks.
	at_site=$(count_of "$p" off_cpu "thread_name=$thread" "@$site")
	got=$(sum_of "$p" off_cpu "thread_name=$thread" "@$site,$caller")
	where=$caller
	[ "$at_site" -gt 0 ] && where="$site (and $caller)"
	switches=$(sum_of "$p" switches "thread_name=$thread" "@$site,$caller")
	echo "$name: $thread: off_cpu $got ns in $switches switches, matched at $where;" \
		"$site timed $want ns in $calls calls ($(percent "$got" "$want")%)"
	check "$name: off-CPU time of $site within $tol% of what it timed" \
		within "$got" "$want" "$(awk -v w="$want" -v t="$tol" 'BEGIN { print w * t / 100 }')"
	if [ -n "${6:-}" ]; then
		check "$name: switches at $site within 2% of its calls" \
			within "$switches" "$calls" "$(awk -v c="$calls" 'BEGIN { print c * 0.02 }')"
	fi
}

# check_offcpu NAME TOLERANCE [COUNT]: everything asked of one off-CPU profile of
# offcpu_hog; COUNT when no block of it is sampled away.
check_offcpu() {
	local name=$1 tol=$2 count=${3:-} p=$TMP/$1.pb.gz key
	lint "$name"
	check "$name: sample types switches/count, off_cpu/nanoseconds (default)" \
		test "$(sample_types "$p")" = "switches/count off_cpu/nanoseconds[dflt]"
	check "$name: off-CPU time recorded" test "$(sum_of "$p" off_cpu)" -gt 0
	for key in pid comm thread_name state; do
		check "$name: every sample has a $key label" test "$(count_of "$p" off_cpu "!$key")" -eq 0
	done
	check "$name: every sample is of pid $HOG_PID" test "$(count_of "$p" off_cpu "pid!=$HOG_PID")" -eq 0
	check "$name: every state is one of S D I R T" test "$(count_of "$p" off_cpu \
		state!=S state!=D state!=I state!=R state!=T)" -eq 0
	check_site "$name" sleeper sleep_site sleeper_loop "$tol" "$count"
	check_site "$name" reader pipe_site reader_loop "$tol" "$count"
	echo "$name: writer: off_cpu $(sum_of "$p" off_cpu thread_name=writer @writer_site,writer_loop)" \
		"ns; writer_site timed $(truth "$name" 3 writer_site) ns (not checked: write() may be preempted)"
}

# stop_and_check NAME: SIGTERM, a clean exit, every BPF program released, no errors logged.
stop_and_check() {
	check "$1: SIGTERM exits 0" stop_daemon
	check "$1: every BPF program of the daemon is released" daemon_progs_released
	check "$1: no daemon errors logged" sh -c "! grep -q 'sonde: error' '$TMP/daemon.log'"
	cp "$TMP/daemon.log" "$TMP/daemon-$1.log"
}

offcpu_log_line() { # what the daemon said about its off-CPU set-up
	grep -i 'off-cpu' "$TMP/daemon.log" || true
}

# --- 1. Default set-up: the off-CPU profile, the wall profile, the metrics. ---
start_daemon
offcpu_log_line
check "default: the log names the sched_switch hook" grep -Eq 'hook (tp_btf|raw_tp)' "$TMP/daemon.log"

# The request is sent 1 s after offcpu_hog starts, while its main thread waits for
# SIGUSR1 (threads start only once the window is open).
if profile_hog offcpu default 1; then
	check_offcpu default 5 count
	P=$TMP/default.pb.gz
	# Clipping: the main thread's first wait began over 1 s before the window; within the
	# window it then only joins its threads, so it cannot have been off CPU longer than
	# from the request until "done" was seen. Unclipped, that wait would add over 1 s.
	MAIN=$(sum_of "$P" off_cpu thread_name=offcpu_hog)
	echo "default: main thread: off_cpu $MAIN ns; done ${DONE_MS:-?} ms after the request"
	check "default: a block that began before the window is clipped to it" \
		between "$MAIN" 1 "$((${DONE_MS:-0} * 1000000))"
	# The sleeper does nothing but sleep in nanosleep: interruptible sleep throughout.
	N=$(count_of "$P" off_cpu thread_name=sleeper)
	NOT_S=$(count_of "$P" off_cpu thread_name=sleeper state!=S)
	echo "default: sleeper: $N samples, $NOT_S not in state S"
	check "default: the sleeper thread has samples" test "$N" -gt 0
	check "default: every sample of the sleeper thread has state=S" test "$NOT_S" -eq 0
	# An independent reading of one number: go tool pprof's own cumulative value.
	CUM=$(pprof_cum "$P" off_cpu sleeper_loop 'thread_name=^sleeper$')
	RAW=$(sum_of "$P" off_cpu thread_name=sleeper @sleeper_loop)
	echo "default: sleeper_loop: go tool pprof -top -cum $CUM ns, -raw sum $RAW ns"
	check "default: go tool pprof -top -cum agrees with the -raw sum" test "$CUM" -eq "$RAW"
fi

# check_wall NAME: the walker's wall time splits between walk_burn and walk_nap as it timed.
check_wall() {
	local name=$1 P=$TMP/$1.pb.gz BURN NAP WALKER T_BURN T_NAP T_WALKER
	lint "$name"
	check "$name: sample types samples/count, wall/nanoseconds (default)" \
		test "$(sample_types "$P")" = "samples/count wall/nanoseconds[dflt]"
	# walk_burn spins and is always on the stack; walk_nap sleeps in libc's nanosleep and
	# is skipped by the unwinder like every site above, so its caller nap_step stands in.
	BURN=$(sum_of "$P" wall thread_name=walker @walk_burn,burn_step)
	NAP=$(sum_of "$P" wall thread_name=walker @walk_nap,nap_step)
	WALKER=$(sum_of "$P" wall thread_name=walker)
	T_BURN=$(truth "$name" 3 walk_burn)
	T_NAP=$(truth "$name" 3 walk_nap)
	T_WALKER=$((T_BURN + T_NAP))
	echo "$name: walker: walk_burn $BURN ns, walk_nap $NAP ns of $WALKER ns;" \
		"timed: $T_BURN ns and $T_NAP ns"
	echo "$name: shares: walk_burn $(percent "$BURN" "$WALKER")% (timed $(percent "$T_BURN" "$T_WALKER")%)," \
		"walk_nap $(percent "$NAP" "$WALKER")% (timed $(percent "$T_NAP" "$T_WALKER")%)"
	check "$name: walk_burn's share of the walker's wall time within 5 points of its own" \
		within "$(percent "$BURN" "$WALKER")" "$(percent "$T_BURN" "$T_WALKER")" 5
	check "$name: walk_nap's share of the walker's wall time within 5 points of its own" \
		within "$(percent "$NAP" "$WALKER")" "$(percent "$T_NAP" "$T_WALKER")" 5
	check "$name: the walker's wall time within 5% of the time it ran" \
		within "$WALKER" "$T_WALKER" "$(awk -v w="$T_WALKER" 'BEGIN { print w * 0.05 }')"
	check "$name: on-CPU samples in walk_burn (no state label)" \
		test "$(count_of "$P" wall thread_name=walker @walk_burn '!state')" -gt 0
	check "$name: off-CPU samples under nap_step (state S)" \
		test "$(count_of "$P" wall thread_name=walker @walk_nap,nap_step state=S)" -gt 0
}

if profile_hog wall wall; then
	check_wall wall
fi

# The same under contention: one spinner pinned to each CPU preempts walk_burn in user
# mode, over and over. Those waits end without a sys_exit; were their user stacks taken
# at the next one (walk_nap's nanosleep), burn time would be charged to walk_nap.
EARLY0=$(metric sonde_offcpu_early_stacks_total || echo 0)
SPINNERS=
for cpu in $(seq 0 $(($(nproc) - 1))); do
	taskset -c "$cpu" sh -c 'while :; do :; done' &
	SPINNERS="$SPINNERS $!"
done
if profile_hog wall wall_busy; then
	check_wall wall_busy
fi
# shellcheck disable=SC2086 # a list of pids
kill $SPINNERS 2>/dev/null
wait $SPINNERS 2>/dev/null || true
EARLY=$(metric sonde_offcpu_early_stacks_total || echo 0)
echo "wall_busy: switch-outs outside a syscall, stacks read at once: $((EARLY - EARLY0))"
check "wall_busy: preemptions in user mode have their stacks read at switch-out" \
	test "$((EARLY - EARLY0))" -gt 0

EVENTS=$(metric sonde_offcpu_events_total || true)
echo "sonde_offcpu_events_total ${EVENTS:-absent}"
check "/metrics counts off-CPU events" test "${EVENTS:-0}" -gt 0
stop_and_check default

# --- 2. The raw-tracepoint fallback for sched_switch. ---
start_daemon --offcpu-hook raw_tp
offcpu_log_line
check "raw_tp: the log says hook raw_tp" grep -q 'hook raw_tp' "$TMP/daemon.log"
# The raw tracepoint cannot hand the incoming task to task storage: it keeps block start
# times in the bounded hash, the other fallback.
check "raw_tp: the log says storage hash" grep -q 'storage hash' "$TMP/daemon.log"
if profile_hog offcpu raw_tp; then
	check_offcpu raw_tp 5 count
fi
stop_and_check raw_tp

# --- 3. Blocks shorter than --offcpu-min are sampled and weighted up: still unbiased. ---
# At 10 ms the sleeper's 5 ms blocks are kept with probability ~0.5 and the reader's 7 ms
# ones with ~0.7; over ~800 and ~570 blocks the totals' standard deviation is ~3.5% and
# ~2.7%, so 15% is more than 4 of them.
start_daemon --offcpu-min 10ms
offcpu_log_line
if profile_hog offcpu sampled; then
	check_offcpu sampled 15
fi
stop_and_check sampled

finish
