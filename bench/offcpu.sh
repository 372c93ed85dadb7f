#!/usr/bin/env bash
# Off-CPU profiling cost: sonde's daemon side by side with libbpf-tools'
# offcputime, on a context-switch storm, in one run.
#
# Workload: `perf bench sched pipe -l LOOPS` pinned to CPU 0 (two processes
# ping-ponging through pipes, two context switches per loop). Unpinned, every
# wake-up is a cross-CPU IPI through the hypervisor and the run measures the VM,
# not the profiler (docs/offcpu.md).
#
# Three conditions, interleaved in every round so that drift hits all of them
# alike (baseline, sonde, offcputime, baseline, sonde, ...), medians reported:
#   baseline    no profiler
#   sonde       build/sonde --listen 127.0.0.1:0 $SONDE_FLAGS, started afresh
#               each round (production configuration: off-CPU on, on-CPU at
#               99 Hz), with one /debug/pprof/offcpu request open throughout
#   offcputime  libbpf-tools' offcputime with its defaults (kernel and user
#               stack at every switch), output to /dev/null
# Each profiler condition runs the benchmark twice while the profiler is up:
#   timed run   the one the slowdown comes from; kernel.bpf_stats_enabled is
#               off (unless it was already on), since with it on every BPF
#               program run pays two extra clock reads
#   stats run   kernel.bpf_stats_enabled=1; run_time_ns and run_cnt of the
#               profiler's programs, read with bpftool before and after, give
#               the BPF time per context switch: the summed run time of ALL the
#               profiler's programs (on-CPU sampling included) divided by the
#               run count of its sched_switch program ("/switch") or, when it
#               has none, by the host's context switches over the same window
#               (the ctxt line of /proc/stat, "/ctxt"; the kernel counts it
#               exactly where it fires the sched_switch tracepoint).
# A profiler's programs are those its process holds open, as a program or
# through a link (/proc/PID/fdinfo: prog_id, and tp_name for raw tracepoints),
# so other BPF users on the host do not count. The sched_switch program is the
# one linked to the sched_switch tracepoint or, failing that, the one whose
# name contains "switch".
#
# Usage: bench/offcpu.sh [LOOPS] [ROUNDS]   (defaults 200000 and 5)
#   as root, after `make build` and `bash cmake/install-deps.sh bench`.
#   SONDE_FLAGS   extra daemon flags, split on blanks
#   OFFCPUTIME    path of the offcputime binary (found with dpkg -L otherwise)
#   BUILD         build directory (default build)
set -euo pipefail
CMDLINE=$(printf '%q' "$0"; printf ' %q' "$@")
[ -n "${SONDE_FLAGS:-}" ] && CMDLINE="SONDE_FLAGS=$(printf '%q' "$SONDE_FLAGS") $CMDLINE"
cd "$(dirname "$0")/.."

LOOPS=${1:-200000}
ROUNDS=${2:-5}
BUILD=${BUILD:-build}
SONDE=$BUILD/sonde
read -r -a SFLAGS <<<"${SONDE_FLAGS:-}"

die() {
	echo "offcpu.sh: $*" >&2
	exit 1
}

case "$LOOPS$ROUNDS" in *[!0-9]*) die "usage: bench/offcpu.sh [LOOPS] [ROUNDS] (positive integers)" ;; esac
if [ "$LOOPS" -eq 0 ] || [ "$ROUNDS" -eq 0 ]; then die "usage: bench/offcpu.sh [LOOPS] [ROUNDS] (positive integers)"; fi
[ "$(id -u)" -eq 0 ] || die "run as root"
[ -x "$SONDE" ] || die "build first (make build)"
for t in perf bpftool jq curl taskset; do
	command -v "$t" >/dev/null || die "needs $t (bash cmake/install-deps.sh bench)"
done
if [ -z "${OFFCPUTIME:-}" ]; then
	# Debian ships it as /usr/sbin/offcputime; other packagings prefix the name.
	OFFCPUTIME=$(dpkg -L libbpf-tools 2>/dev/null | grep -E '/s?bin/[^/]*offcputime$' | head -n 1) || true
fi
[ -x "${OFFCPUTIME:-/nonexistent}" ] || die "needs libbpf-tools' offcputime (bash cmake/install-deps.sh bench)"

OUT=$(mktemp -d /tmp/sonde-offcpu.XXXXXX)
OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled)
SPID='' CURL='' OPID=''
cleanup() {
	local p
	for p in $CURL $SPID $OPID; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $CURL $SPID $OPID; do wait "$p" 2>/dev/null || true; done
	sysctl -qw kernel.bpf_stats_enabled="$OLD_STATS" || true
	rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Stats stay on for the timed runs only if someone had them on already.
STATS_OFF=0
[ "$OLD_STATS" = 0 ] || STATS_OFF=$OLD_STATS

note() { echo "$*" >>"$OUT/notes"; }

bench() { # bench: one pinned run; prints its total time in seconds
	local out t
	out=$(taskset -c 0 perf bench sched pipe -l "$LOOPS" 2>&1) || {
		printf '%s\n' "$out" >&2
		die "perf bench sched pipe failed"
	}
	# "Total time" is printed in whole ms; usecs/op carries the µs.
	t=$(printf '%s\n' "$out" | awk -v n="$LOOPS" '
		/Total time:/ { tot = $3 } $2 == "usecs/op" { us = $1 }
		END { if (us != "") printf "%.6f\n", us * n / 1e6; else if (tot != "") print tot }')
	[ -n "$t" ] || {
		printf '%s\n' "$out" >&2
		die "cannot parse perf bench output"
	}
	echo "$t"
}

owned() { # owned PID: "PROG_ID TP_NAME" for every BPF program PID holds (TP_NAME - if none)
	{ cat /proc/"$1"/fdinfo/* 2>/dev/null || true; } | awk '
		function flush() { if (id != "" && (!(id in tp) || t != "-")) tp[id] = t; id = ""; t = "-" }
		BEGIN { t = "-" }
		$1 == "pos:" { flush() }
		$1 == "prog_id:" { id = $2 }
		$1 == "tp_name:" { t = $2 }
		END { flush(); for (i in tp) print i, tp[i] }'
}

attached() { # attached PID: true once PID holds a BPF link
	grep -qs '^link_type:' /proc/"$1"/fdinfo/*
}

snapshot() { # snapshot FILE: "ID RUN_TIME_NS RUN_CNT TYPE NAME" for every program on the host
	bpftool -j prog show | jq -r '.[] | "\(.id) \(.run_time_ns // 0) \(.run_cnt // 0) \(.type) \(.name // "-")"' >"$1"
}

ctxt() { awk '$1 == "ctxt" { print $2 }' /proc/stat; }

# stats_run COND ROUND PID: the stats run of the benchmark under profiler PID.
# Appends "ROUND DT_NS SWITCH_RUNS CTXT NPROGS" to $OUT/bpf.COND (SWITCH_RUNS 0:
# no sched_switch program) and "NAME TYPE TP DT_NS DCNT" per program to
# $OUT/progs.COND.
stats_run() {
	local x0 x1
	owned "$3" >"$OUT/owned"
	sysctl -qw kernel.bpf_stats_enabled=1
	snapshot "$OUT/before"
	x0=$(ctxt)
	bench >/dev/null
	x1=$(ctxt)
	snapshot "$OUT/after"
	sysctl -qw kernel.bpf_stats_enabled="$STATS_OFF"
	awk -v r="$2" -v x=$((x1 - x0)) -v pf="$OUT/progs.$1" '
		FILENAME == ARGV[1] { tp[$1] = $2; next }
		FILENAME == ARGV[2] { t0[$1] = $2; c0[$1] = $3; next }
		$1 in tp { dt[$1] = $2 - t0[$1]; dc[$1] = $3 - c0[$1]; ty[$1] = $4; nm[$1] = $5 }
		END {
			for (i in dt) if (tp[i] ~ /sched_switch/) sw[i] = 1
			for (i in sw) nsw++
			if (!nsw) for (i in dt) if (nm[i] ~ /switch/) { sw[i] = 1; nsw++ }
			for (i in dt) {
				t += dt[i]; n++
				if (i in sw) s += dc[i]
				printf "%s %s %s %.0f %.0f\n", nm[i], ty[i], tp[i], dt[i], dc[i] >>pf
			}
			printf "%s %.0f %.0f %.0f %d\n", r, t, s, x, n
		}' "$OUT/owned" "$OUT/before" "$OUT/after" >>"$OUT/bpf.$1"
}

start_sonde() { # sets SPID and PORT
	"$SONDE" --listen 127.0.0.1:0 "${SFLAGS[@]}" 2>"$OUT/sonde.log" &
	SPID=$!
	PORT=
	for _ in $(seq 1 100); do
		PORT=$(sed -n 's#.*serving on http://127.0.0.1:\([0-9]*\)/.*#\1#p' "$OUT/sonde.log")
		[ -n "$PORT" ] && return
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$OUT/sonde.log" >&2
	die "the daemon did not start serving"
}

stop() { # stop PID: TERM and reap
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

sessions_open() {
	local n
	n=$(curl -sf --max-time 1 "http://127.0.0.1:$PORT/metrics" |
		awk '$1 == "sonde_profiles_pending" { s += $2 } END { print s + 0 }') || n=0
	echo "$n"
}

run_sonde() { # run_sonde ROUND BASELINE_SECONDS
	local secs code size t ok=0 early=0
	start_sonde
	# Long enough for both runs at 3x the baseline; ends by itself after them.
	secs=$(awk -v b="$2" 'BEGIN { printf "%d\n", int(6 * b) + 2 }')
	curl -s --max-time $((secs + 60)) -o "$OUT/offcpu.pb.gz" -w '%{http_code}' \
		"http://127.0.0.1:$PORT/debug/pprof/offcpu?seconds=$secs" >"$OUT/curl.code" &
	CURL=$!
	for _ in $(seq 1 50); do
		kill -0 "$CURL" 2>/dev/null || break # answered at once: an error, noted below
		[ "$(sessions_open)" -gt 0 ] && ok=1 && break
		sleep 0.05
	done
	[ "$ok" = 1 ] || ! kill -0 "$CURL" 2>/dev/null ||
		note "sonde: no open session showed in /metrics within 2.5 s; timed anyway"
	kill -0 "$SPID" 2>/dev/null || die "the daemon exited: $(cat "$OUT/sonde.log")"
	t=$(bench)
	echo "sonde $1 $t" >>"$OUT/times"
	stats_run sonde "$1" "$SPID"
	kill -0 "$CURL" 2>/dev/null || early=1
	wait "$CURL" || true
	CURL=
	code=$(cat "$OUT/curl.code")
	size=$(stat -c %s "$OUT/offcpu.pb.gz" 2>/dev/null || echo 0)
	case "$code" in
	200) [ "$early" = 0 ] || note "sonde: the offcpu request was over before the benchmark runs were (raise the 6x factor in run_sonde)" ;;
	404) note "sonde: /debug/pprof/offcpu answered 404 (no off-CPU profile in this daemon yet): the sonde row is the daemon as it is" ;;
	*) note "sonde: /debug/pprof/offcpu answered HTTP $code: $(head -c 200 "$OUT/offcpu.pb.gz" 2>/dev/null | tr -c '[:print:]' ' ')" ;;
	esac
	stop "$SPID"
	SPID=
	ROUND_MSG="$ROUND_MSG | sonde $t s (offcpu HTTP $code, $size B)"
}

run_offcputime() { # run_offcputime ROUND
	local t ok=0
	# Its duration only has to outlast both runs: it is stopped right after them.
	"$OFFCPUTIME" 3600 >/dev/null 2>"$OUT/offcputime.err" &
	OPID=$!
	for _ in $(seq 1 200); do
		attached "$OPID" && ok=1 && break
		kill -0 "$OPID" 2>/dev/null || die "offcputime exited: $(cat "$OUT/offcputime.err")"
		sleep 0.05
	done
	[ "$ok" = 1 ] || die "offcputime did not attach within 10 s"
	t=$(bench)
	echo "offcputime $1 $t" >>"$OUT/times"
	stats_run offcputime "$1" "$OPID"
	stop "$OPID"
	OPID=
	ROUND_MSG="$ROUND_MSG | offcputime $t s"
}

echo "command: $CMDLINE"
echo "machine: $(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "workload: taskset -c 0 perf bench sched pipe -l $LOOPS; rounds: $ROUNDS (baseline, sonde, offcputime interleaved)"
echo "sonde: $SONDE --listen 127.0.0.1:0${SONDE_FLAGS:+ $SONDE_FLAGS} + GET /debug/pprof/offcpu open"
echo "offcputime: $OFFCPUTIME 3600 >/dev/null (libbpf-tools $(dpkg-query -W -f='${Version}' libbpf-tools 2>/dev/null || echo '?'); defaults)"
[ "$STATS_OFF" = 0 ] || echo "note: kernel.bpf_stats_enabled was already on; the timed runs include its cost"
sysctl -qw kernel.bpf_stats_enabled="$STATS_OFF"
: >"$OUT/times"
: >"$OUT/notes"
echo

for r in $(seq 1 "$ROUNDS"); do
	b=$(bench)
	echo "baseline $r $b" >>"$OUT/times"
	ROUND_MSG="round $r: baseline $b s"
	run_sonde "$r" "$b"
	run_offcputime "$r"
	echo "$ROUND_MSG"
done

echo
awk -v loops="$LOOPS" '
	function median(a, n,   i, j, t) {
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
		return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	FILENAME ~ /times$/ {
		c = $1; n = ++nt[c]; tm[c, n] = $3
		if (n == 1 || $3 < lo[c]) lo[c] = $3
		if (n == 1 || $3 > hi[c]) hi[c] = $3
		next
	}
	{	# bpf.COND: ROUND DT_NS SWITCH_RUNS CTXT NPROGS
		c = FILENAME; sub(/.*bpf\./, "", c)
		if (!$5) { per[c] = "none"; next }
		p = $3 ? "switch" : "ctxt"
		per[c] = (per[c] == "" || per[c] == p) ? p : "mixed"
		n = ++nb[c]; ns[c, n] = $2 / ($3 ? $3 : $4); sw[c, n] = $3; cx[c, n] = $4
	}
	END {
		split("baseline sonde offcputime", cs, " ")
		for (k = 1; k <= 3; k++) {
			c = cs[k]
			for (i = 1; i <= nt[c]; i++) v[i] = tm[c, i]
			med[c] = median(v, nt[c])
			if (nb[c]) {
				for (i = 1; i <= nb[c]; i++) v[i] = ns[c, i]
				bns[c] = median(v, nb[c])
				for (i = 1; i <= nb[c]; i++) v[i] = sw[c, i]
				bsw[c] = median(v, nb[c])
				for (i = 1; i <= nb[c]; i++) v[i] = cx[c, i]
				bcx[c] = median(v, nb[c])
			}
		}
		printf "%-11s %9s %9s %9s %11s %14s %13s %10s\n", "", "median s", "min s", "max s", "x baseline", "BPF ns", "switch runs", "ctxt"
		for (k = 1; k <= 3; k++) {
			c = cs[k]
			x = (k == 1) ? "1.000" : sprintf("%.3f", med[c] / med["baseline"])
			b = "-"; e = "-"; f = "-"
			if (k > 1 && nb[c]) {
				b = sprintf("%.0f /%s", bns[c], per[c])
				e = bsw[c] ? sprintf("%.0f", bsw[c]) : "none"
				f = sprintf("%.0f", bcx[c])
			} else if (k > 1)
				b = "no programs"
			printf "%-11s %9.4f %9.4f %9.4f %11s %14s %13s %10s\n", c, med[c], lo[c], hi[c], x, b, e, f
		}
		printf "BPF ns: run time of all the profiler\047s programs per run of its sched_switch program (/switch) or,\n"
		printf "        without one, per context switch of the host in /proc/stat (/ctxt); medians of the stats runs.\n"
		printf "switch runs, ctxt: per stats run; the benchmark alone makes %.0f switches on CPU 0.\n", 2 * loops
		ds = med["sonde"] - med["baseline"]; do_ = med["offcputime"] - med["baseline"]
		printf "sonde/offcputime: time %.3f", med["sonde"] / med["offcputime"]
		if (do_ > 0) printf ", added time %.3f", ds / do_
		if (nb["sonde"] && nb["offcputime"] && bns["offcputime"] > 0)
			printf ", BPF ns per switch %.3f", bns["sonde"] / bns["offcputime"]
		printf "\n"
	}' "$OUT/times" "$OUT"/bpf.*

echo
echo "BPF programs, summed over the stats runs:"
for c in sonde offcputime; do
	[ -s "$OUT/progs.$c" ] || {
		echo "  $c: none"
		continue
	}
	awk -v c="$c" '
		{ k = $1 " (" $2 ($3 != "-" ? ", " $3 : "") ")"; dt[k] += $4; dc[k] += $5 }
		END { for (k in dt) printf "  %-11s %-40s %10.0f runs %10.0f ns/run\n", c, k, dc[k], dc[k] ? dt[k] / dc[k] : 0 }' "$OUT/progs.$c"
done
if [ -s "$OUT/notes" ]; then
	echo
	awk '!seen[$0]++ { print "note: " $0 }' "$OUT/notes"
fi
