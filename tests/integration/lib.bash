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
# disk_dir: prints a directory on a real block device (not tmpfs, not a device-less file
# system), for O_DIRECT requests that reach a disk: the build tree, else /var/tmp; prints
# nothing when there is none.
disk_dir() {
	local d
	for d in "$SONDE_WORKLOADS" /var/tmp; do
		case "$(stat -f -c %T "$d" 2>/dev/null)" in tmpfs | ramfs | "") continue ;; esac
		[ "$(stat -c %Hd "$d")" -ne 0 ] || continue
		echo "$d"
		return 0
	done
	return 0
}

# sanitized_build: whether $SONDE_BIN is the ASan build. Not `ldd | grep -q`: under
# pipefail, grep leaving early made ldd die of SIGPIPE now and then, and a sanitized
# run got the plain build's bounds.
sanitized_build() {
	case "$(ldd "$SONDE_BIN" 2>/dev/null)" in *libasan*) return 0 ;; esac
	return 1
}

# --max-memory caps the daemon's RSS, and ASan's shadow memory and quarantine count in
# it: a sanitized daemon gets room for them (a test's own --max-memory, later, wins), or
# its history would give way to them.
start_daemon() {
	local room=()

	if sanitized_build; then room=(--max-memory 4096); fi
	"$SONDE_BIN" --listen 127.0.0.1:0 "${room[@]}" "$@" 2>"$TMP/daemon.log" &
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
# The kernel frees programs asynchronously (RCU, and task work still queued
# holds a reference until it runs or is cancelled): allow it a few seconds.
# daemon_own_progs PID: the ids of the BPF programs PID holds open, from its fdinfo.
# Other daemons (a parallel test run) may load programs meanwhile: only these count.
daemon_own_progs() {
	{ cat /proc/"$1"/fdinfo/* 2>/dev/null || true; } | awk '$1 == "prog_id:" { print $2 }' | sort -u
}

# daemon_progs_released: none of the programs recorded by stop_daemon (or by
# record_daemon_progs) is still loaded once the daemon is gone.
daemon_progs_released() {
	if [ ! -s "$TMP/progs.own" ]; then
		echo "no BPF program was recorded for the daemon before it stopped"
		return 1
	fi
	for _ in $(seq 1 30); do
		sonde_prog_ids >"$TMP/progs.after"
		[ -z "$(comm -12 "$TMP/progs.own" "$TMP/progs.after")" ] && return 0
		sleep 0.1
	done
	echo "still loaded: $(comm -12 "$TMP/progs.own" "$TMP/progs.after" | tr '\n' ' ')"
	return 1
}

record_daemon_progs() { daemon_own_progs "$DAEMON_PID" >"$TMP/progs.own"; }

stop_daemon() { # returns the daemon's exit status
	local rc=0
	record_daemon_progs
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

# wait_for_line FILE REGEX [SECONDS]: waits (default 5 s) until a line of FILE matches REGEX.
wait_for_line() {
	local tries=$((${3:-5} * 20))
	until grep -Eq "$2" "$1" 2>/dev/null; do
		tries=$((tries - 1))
		[ "$tries" -ge 0 ] || return 1
		sleep 0.05
	done
}

# pprof_cum FILE SAMPLE_TYPE FUNCTION [TAGFOCUS]: cumulative value of FUNCTION as go tool
# pprof computes it (nanoseconds for time types; 0 if absent), optionally under -tagfocus.
pprof_cum() {
	go tool pprof -symbolize=none -sample_index="$2" ${4:+-tagfocus="$4"} -unit=ns -top -cum \
		-nodecount=100000 -nodefraction=0 -edgefraction=0 "$1" 2>/dev/null |
		awk -v f="$3" '$6 == f { v = $4; sub(/[a-z]+$/, "", v) } END { printf "%.0f\n", v }'
}

# pprof_sum FILE SAMPLE_TYPE [FILTER...]: prints "SUM COUNT", the total of SAMPLE_TYPE over
# the samples that pass every FILTER and how many samples those are. Reads the exact values
# of go tool pprof -raw. A FILTER is
#   KEY=VALUE    string label KEY is VALUE        KEY!=VALUE   it is not (or KEY is absent)
#   !KEY         the sample has no label KEY      @F1,F2,...   the stack holds F1 or F2 or ...
# Label values with spaces are not supported.
pprof_sum() {
	local file=$1 type=$2
	shift 2
	if ! [ "$file.raw" -nt "$file" ]; then
		go tool pprof -symbolize=none -raw "$file" >"$file.raw" 2>/dev/null || return 1
	fi
	awk -v type="$type" -v filters="$*" '
	BEGIN {
		nf = split(filters, f, " ")
		for (i = 1; i <= nf; i++) {
			if (substr(f[i], 1, 1) == "@") {
				kind[i] = "fn"
				n = split(substr(f[i], 2), fl, ",")
				for (j = 1; j <= n; j++)
					want[i, fl[j]] = 1
			} else if (substr(f[i], 1, 1) == "!") {
				kind[i] = "absent"
				key[i] = substr(f[i], 2)
			} else if ((p = index(f[i], "!=")) > 0) {
				kind[i] = "ne"
				key[i] = substr(f[i], 1, p - 1)
				val[i] = substr(f[i], p + 2)
			} else if ((p = index(f[i], "=")) > 0) {
				kind[i] = "eq"
				key[i] = substr(f[i], 1, p - 1)
				val[i] = substr(f[i], p + 1)
			} else {
				print "pprof_sum: bad filter " f[i] > "/dev/stderr"
				bad = 1
				exit 2
			}
		}
	}
	# go tool pprof -raw: "Samples:", a line of TYPE/UNIT columns ("[dflt]" marks the
	# default), then per sample "V1 V2 ...: LOC-ID ..." and a line of key:[value] labels;
	# "Locations", then "ID: 0xADDR [M=N] [[F]] FUNCTION FILE:LINE s=N" plus one indented
	# "FUNCTION FILE:LINE s=N" line per further inlined function; then "Mappings".
	$1 == "Samples:" { sec = "types"; next }
	sec == "types" {
		for (i = 1; i <= NF; i++) {
			t = $i
			sub(/\/.*/, "", t)
			if (t == type)
				col = i
		}
		sec = "samples"
		next
	}
	$1 == "Locations" { sec = "locations"; next }
	$1 == "Mappings" { sec = ""; next }
	sec == "samples" && $1 ~ /^[0-9]+:?$/ {
		ns++
		for (i = 1; i <= NF; i++)
			if ($i ~ /:$/)
				break
		value[ns] = col ? $col : 0
		sub(/:$/, "", value[ns])
		stack[ns] = ""
		for (j = i + 1; j <= NF; j++)
			stack[ns] = stack[ns] " " $j
		next
	}
	sec == "samples" && ns > 0 {
		for (i = 1; i <= NF; i++) {
			if ((p = index($i, ":[")) == 0)
				continue
			v = substr($i, p + 2)
			sub(/\]$/, "", v)
			label[ns, substr($i, 1, p - 1)] = v
			has[ns, substr($i, 1, p - 1)] = 1
		}
		next
	}
	sec == "locations" && $1 ~ /^[0-9]+:$/ {
		id = $1
		sub(/:$/, "", id)
		k = 3
		if ($k ~ /^M=/)
			k++
		if ($k == "[F]")
			k++
		funcs[id] = " " $k " "
		next
	}
	sec == "locations" && NF > 0 { funcs[id] = funcs[id] $1 " "; next }
	END {
		if (bad)
			exit 2
		if (!col) {
			print "pprof_sum: no sample type " type > "/dev/stderr"
			exit 1
		}
		sum = 0
		count = 0
		for (s = 1; s <= ns; s++) {
			ok = 1
			for (i = 1; i <= nf && ok; i++) {
				if (kind[i] == "eq")
					ok = has[s, key[i]] && label[s, key[i]] == val[i]
				else if (kind[i] == "ne")
					ok = !has[s, key[i]] || label[s, key[i]] != val[i]
				else if (kind[i] == "absent")
					ok = !has[s, key[i]]
				else {
					ok = 0
					n = split(stack[s], ids, " ")
					for (j = 1; j <= n && !ok; j++) {
						m = split(funcs[ids[j]], fs, " ")
						for (q = 1; q <= m && !ok; q++)
							ok = (i, fs[q]) in want
					}
				}
			}
			if (ok) {
				sum += value[s]
				count++
			}
		}
		printf "%.0f %d\n", sum, count
	}' "$file.raw"
}

# truth NAME FIELD SITE: field FIELD of the "site SITE ..." line a workload printed to
# $TMP/NAME.hog (its own measurement of what it did there).
truth() {
	awk -v f="$2" -v s="$3" '$1 == "site" && $2 == s { v = $f } END { printf "%.0f\n", v }' \
		"$TMP/$1.hog"
}

sum_of() { # sum_of FILE TYPE FILTER...: first field of pprof_sum, 0 on error
	local r
	r=$(pprof_sum "$@") || r="0 0"
	echo "${r% *}"
}

count_of() { # count_of FILE TYPE FILTER...: second field of pprof_sum, -1 on error
	local r
	r=$(pprof_sum "$@") || r="0 -1"
	echo "${r#* }"
}

# share FILE FUNCTION[,FUNCTION...]: the share of FILE's samples whose stack holds one (0..1).
share() {
	local all part
	all=$(sum_of "$1" samples)
	part=$(sum_of "$1" samples "@$2")
	awk -v a="$all" -v p="$part" 'BEGIN { printf "%.3f", (a > 0 ? p / a : 0) }'
}
at_least() { awk -v v="$1" -v m="$2" 'BEGIN { exit !(v >= m) }'; } # at_least VALUE MIN (floats)
