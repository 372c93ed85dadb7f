#!/usr/bin/env bash
# Block-I/O profiling cost: fio 4 KiB random reads with O_DIRECT on a file, IOPS
# without sonde, under sonde with --no-blockio, and under sonde as in production
# (on-CPU 99 Hz, off-CPU and block I/O on), in one run.
#
# Workload: fio --rw=randread --bs=4k --direct=1 --ioengine=libaio on a file of SIZE
# (default 1 GiB, laid out once and kept), for SECONDS per run, at each iodepth of
# IODEPTHS (default "1 16"). Iodepth 1 measures the latency the hooks add to every
# request; a deeper queue makes the run CPU-bound on a small VM and measures their CPU.
#
# Three conditions, interleaved in every round so that drift hits all of them alike
# (baseline, noblockio, sonde, baseline, ...), medians reported:
#   baseline    no profiler
#   noblockio   build/sonde --no-blockio $SONDE_FLAGS, started afresh for each run,
#               with a GET /debug/pprof/offcpu request open throughout
#   sonde       build/sonde $SONDE_FLAGS, started afresh for each run, with a
#               GET /debug/pprof/blockio request open throughout
# After the timed run of the sonde condition, a short run with
# kernel.bpf_stats_enabled=1 gives the block-I/O programs' run time per request
# (start and completion hooks together, from sonde's /metrics).
#
# Usage: bench/blockio.sh [SECONDS] [ROUNDS]   (defaults 10 and 5)
#   as root, after `make build` and `bash cmake/install-deps.sh bench`.
#   FIO_DIR       where the file lives (default /var/tmp; must be on a block device)
#   SIZE          file size for fio (default 1g)
#   IODEPTHS      iodepths to run (default "1 16")
#   SONDE_FLAGS   extra daemon flags, split on blanks (e.g. --blockio-max-rate 0)
#   BUILD         build directory (default build)
set -euo pipefail
CMDLINE=$(printf '%q' "$0"; printf ' %q' "$@")
for v in FIO_DIR SIZE IODEPTHS SONDE_FLAGS; do
	[ -n "${!v:-}" ] && CMDLINE="$v=$(printf '%q' "${!v}") $CMDLINE"
done
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${1:-10}
ROUNDS=${2:-5}
FIO_DIR=${FIO_DIR:-/var/tmp}
SIZE=${SIZE:-1g}
IODEPTHS=${IODEPTHS:-1 16}
BUILD=${BUILD:-build}
SONDE=$BUILD/sonde
read -r -a SFLAGS <<<"${SONDE_FLAGS:-}"

die() {
	echo "blockio.sh: $*" >&2
	exit 1
}

case "$SECONDS_PER_RUN$ROUNDS" in *[!0-9]*) die "usage: bench/blockio.sh [SECONDS] [ROUNDS] (positive integers)" ;; esac
if [ "$SECONDS_PER_RUN" -eq 0 ] || [ "$ROUNDS" -eq 0 ]; then die "usage: bench/blockio.sh [SECONDS] [ROUNDS] (positive integers)"; fi
[ "$(id -u)" -eq 0 ] || die "run as root"
[ -x "$SONDE" ] || die "build first (make build)"
for t in fio jq curl; do
	command -v "$t" >/dev/null || die "needs $t (bash cmake/install-deps.sh bench)"
done
case "$(stat -f -c %T "$FIO_DIR")" in tmpfs | ramfs) die "$FIO_DIR is $(stat -f -c %T "$FIO_DIR"): O_DIRECT requests would not reach a disk (set FIO_DIR)" ;; esac
[ "$(stat -c %Hd "$FIO_DIR")" -ne 0 ] || die "$FIO_DIR is on no block device (set FIO_DIR)"

FILE=$FIO_DIR/sonde-bench-blockio.fio
OUT=$(mktemp -d /tmp/sonde-blockio.XXXXXX)
OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled)
SPID='' CURL=''
cleanup() {
	local p
	for p in $CURL $SPID; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $CURL $SPID; do wait "$p" 2>/dev/null || true; done
	sysctl -qw kernel.bpf_stats_enabled="$OLD_STATS" || true
	rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fio_iops() { # fio_iops IODEPTH SECONDS: one run; prints its read IOPS
	fio --name=randread --filename="$FILE" --size="$SIZE" --rw=randread --bs=4k --direct=1 \
		--ioengine=libaio --iodepth="$1" --runtime="$2" --time_based --randrepeat=0 \
		--output-format=json 2>"$OUT/fio.err" | jq -r '.jobs[0].read.iops' ||
		die "fio failed: $(cat "$OUT/fio.err")"
}

start_sonde() { # start_sonde FLAGS...: sets SPID and PORT
	"$SONDE" --listen 127.0.0.1:0 "$@" 2>"$OUT/sonde.log" &
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

stop_sonde() {
	[ -n "$CURL" ] && { kill -TERM "$CURL" 2>/dev/null || true; wait "$CURL" 2>/dev/null || true; }
	kill -TERM "$SPID" 2>/dev/null || true
	wait "$SPID" 2>/dev/null || true
	SPID='' CURL=''
}

metric() { # metric NAME: the value of a sample line of sonde's /metrics (labels included)
	curl -sf --max-time 2 "http://127.0.0.1:$PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

open_request() { # open_request PROFILE SECONDS: a profile request held open in the background
	curl -s --max-time $(($2 + 30)) -o /dev/null \
		"http://127.0.0.1:$PORT/debug/pprof/$1?seconds=$2" &
	CURL=$!
	for _ in $(seq 1 50); do
		[ "$(metric sonde_profiles_pending)" = 1 ] && return
		sleep 0.05
	done
	die "the $1 request did not open a session"
}

run_condition() { # run_condition COND IODEPTH ROUND
	local iops t0 s0
	case "$1" in
	baseline)
		iops=$(fio_iops "$2" "$SECONDS_PER_RUN")
		;;
	noblockio)
		start_sonde --no-blockio "${SFLAGS[@]}"
		open_request offcpu $((SECONDS_PER_RUN + 10))
		iops=$(fio_iops "$2" "$SECONDS_PER_RUN")
		stop_sonde
		;;
	sonde)
		start_sonde "${SFLAGS[@]}"
		open_request blockio $((SECONDS_PER_RUN + 15))
		iops=$(fio_iops "$2" "$SECONDS_PER_RUN")
		# The stats run: BPF time of the block-I/O programs per request.
		sysctl -qw kernel.bpf_stats_enabled=1
		t0=$(metric 'sonde_bpf_run_time_seconds_total{program="blockio"}')
		s0=$(metric sonde_blockio_started_total)
		fio_iops "$2" 3 >/dev/null
		echo "$2 $3 $(metric 'sonde_bpf_run_time_seconds_total{program="blockio"}') $t0" \
			"$(metric sonde_blockio_started_total) $s0 $(metric sonde_blockio_sampled_out_total)" \
			>>"$OUT/bpf"
		sysctl -qw kernel.bpf_stats_enabled="$OLD_STATS"
		stop_sonde
		;;
	esac
	echo "$1 $2 $3 $iops" >>"$OUT/iops"
	printf ' %s %.0f' "$1" "$iops"
}

echo "command: $CMDLINE"
echo "machine: $(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
DEV=$(stat -c %Hd:%Ld "$FIO_DIR")
SYS=$(readlink -f "/sys/dev/block/$DEV")
[ -e "$SYS/partition" ] && SYS=$(dirname "$SYS")
echo "disk: $(basename "$SYS") ($DEV), scheduler $(cat "$SYS/queue/scheduler" 2>/dev/null || echo '?')," \
	"$(stat -f -c %T "$FIO_DIR") at $FIO_DIR"
echo "workload: fio --rw=randread --bs=4k --direct=1 --ioengine=libaio --size=$SIZE --runtime=$SECONDS_PER_RUN," \
	"iodepth $IODEPTHS; $ROUNDS rounds (baseline, noblockio, sonde interleaved)"
echo "sonde: $SONDE --listen 127.0.0.1:0${SONDE_FLAGS:+ $SONDE_FLAGS} + GET /debug/pprof/blockio open" \
	"(noblockio: --no-blockio + GET /debug/pprof/offcpu open)"
[ "$OLD_STATS" = 0 ] || echo "note: kernel.bpf_stats_enabled was already on; the timed runs include its cost"
if ! [ -f "$FILE" ] || [ "$(stat -c %s "$FILE")" -lt "$(numfmt --from=iec "${SIZE^^}")" ]; then
	echo "laying out $FILE ($SIZE)"
	fio --name=layout --filename="$FILE" --size="$SIZE" --rw=write --bs=1M --direct=1 \
		--output-format=terse >/dev/null 2>&1 || die "cannot lay out $FILE"
fi
: >"$OUT/iops"
: >"$OUT/bpf"
echo

for r in $(seq 1 "$ROUNDS"); do
	for qd in $IODEPTHS; do
		printf 'round %s iodepth %s:' "$r" "$qd"
		for c in baseline noblockio sonde; do
			run_condition "$c" "$qd" "$r"
		done
		echo
	done
done

echo
awk '
	function median(a, n,   i, j, t) {
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
		return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	FILENAME ~ /iops$/ { n = ++cnt[$1, $2]; v[$1, $2, n] = $4; qds[$2] = 1; next }
	{	# bpf: IODEPTH ROUND T1 T0 STARTED1 STARTED0 SAMPLED_OUT (since the daemon started)
		if ($5 > $6) { m = ++nb[$1]; b[$1, m] = ($3 - $4) * 1e9 / ($5 - $6) }
		st[$1] = $5; so[$1] = $7
	}
	END {
		printf "%-8s %-10s %12s %12s %12s %14s\n", "iodepth", "", "median IOPS", "min", "max", "x baseline"
		for (q in qds) {
			for (k = 1; k <= 3; k++) {
				c = (k == 1) ? "baseline" : (k == 2) ? "noblockio" : "sonde"
				n = cnt[c, q]; lo = hi = v[c, q, 1]
				for (i = 1; i <= n; i++) { a[i] = v[c, q, i]; if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
				med[c] = median(a, n)
				printf "%-8s %-10s %12.0f %12.0f %12.0f %14.4f\n", q, c, med[c], lo, hi, med[c] / med["baseline"]
			}
			printf "%-8s sonde/noblockio %.4f", q, med["sonde"] / med["noblockio"]
			if (nb[q]) {
				for (i = 1; i <= nb[q]; i++) a[i] = b[q, i]
				printf "; block-I/O BPF %.0f ns per request (median of the stats runs)", median(a, nb[q])
			}
			printf "; last sonde run: %s requests started, %s sampled out\n", st[q], so[q]
		}
	}' "$OUT/iops" "$OUT/bpf"
