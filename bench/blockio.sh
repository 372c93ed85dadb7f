#!/usr/bin/env bash
# Block-I/O profiling cost: fio 4 KiB random reads with O_DIRECT on a file, IOPS with
# sonde's block-I/O hooks on against the same daemon with them off, in one fio run.
#
# A virtual disk's IOPS wander by ±10 % from one run to the next, far more than the
# few per cent to be resolved, so the two conditions are not separate runs. One fio
# run (--rw=randread --bs=4k --direct=1 --ioengine=libaio, logging its IOPS every
# 500 ms) goes on for the whole measurement while one sonde daemon, started once with
# its profiles on and a GET /debug/pprof/blockio request open, has its block-I/O hooks
# paused and resumed by SIGHUP (`no-blockio` in its settings file) every SEGMENT
# seconds: off, on, off, on, ..., off. Each "on" segment is compared with the mean of
# the "off" segments on either side of it, which cancels any drift that is linear over
# the three; the first second after each switch and the last half second are left out.
# The figure is the median of these ratios (with their spread), per iodepth. Iodepth 1
# measures the latency the hooks add to every request; a deeper queue makes the run
# CPU-bound on a small VM and measures their CPU.
#
# After the timed run, a short run with kernel.bpf_stats_enabled=1 gives the block-I/O
# programs' run time per request (start and completion hooks together).
#
# Usage: bench/blockio.sh [SEGMENT] [PAIRS]   (defaults 5 s and 12)
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
. bench/lib.bash

SEGMENT=${1:-5}
PAIRS=${2:-12}
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

usage="usage: bench/blockio.sh [SEGMENT] [PAIRS] (SEGMENT >= 3 seconds, PAIRS >= 1)"
case "$SEGMENT$PAIRS" in *[!0-9]*) die "$usage" ;; esac
[ "$SEGMENT" -ge 3 ] && [ "$PAIRS" -ge 1 ] || die "$usage"
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
SPID='' CURL='' FIO=''
cleanup() {
	local p
	for p in $FIO $CURL $SPID; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $FIO $CURL $SPID; do wait "$p" 2>/dev/null || true; done
	sysctl -qw kernel.bpf_stats_enabled="$OLD_STATS" || true
	rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_ms() { echo $(($(date +%s%N) / 1000000)); }

metric() { # metric NAME: the value of a sample line of sonde's /metrics (labels included)
	curl -sf --max-time 2 "http://127.0.0.1:$PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

hooks() { # hooks on|off: switch the block-I/O hooks by a reload and wait until it is done
	local want
	if [ "$1" = on ]; then
		printf 'no-blockio = false\n' >"$OUT/sonde.conf"
		want=1
	else
		printf 'no-blockio = true\n' >"$OUT/sonde.conf"
		want=0
	fi
	kill -HUP "$SPID"
	for _ in $(seq 1 100); do
		[ "$(metric sonde_blockio_attached)" = "$want" ] && return
		sleep 0.01
	done
	die "the reload did not turn the block-I/O hooks $1"
}

echo "command: $CMDLINE"
echo "machine: $(nproc) CPUs, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
DEV=$(stat -c %Hd:%Ld "$FIO_DIR")
SYS=$(readlink -f "/sys/dev/block/$DEV")
[ -e "$SYS/partition" ] && SYS=$(dirname "$SYS")
echo "disk: $(basename "$SYS") ($DEV), scheduler $(cat "$SYS/queue/scheduler" 2>/dev/null || echo '?')," \
	"$(stat -f -c %T "$FIO_DIR") at $FIO_DIR"
echo "workload: one fio --rw=randread --bs=4k --direct=1 --ioengine=libaio --size=$SIZE run per" \
	"iodepth ($IODEPTHS), $((2 * PAIRS + 1)) segments of $SEGMENT s: off, on, off, ..., off"
echo "sonde: $SONDE --listen 127.0.0.1:0 --config FILE${SONDE_FLAGS:+ $SONDE_FLAGS}" \
	"+ GET /debug/pprof/blockio open; hooks switched by SIGHUP"
[ "$OLD_STATS" = 0 ] || echo "note: kernel.bpf_stats_enabled was already on; the timed runs include its cost"
if ! [ -f "$FILE" ] || [ "$(stat -c %s "$FILE")" -lt "$(numfmt --from=iec "${SIZE^^}")" ]; then
	echo "laying out $FILE ($SIZE)"
	fio --name=layout --filename="$FILE" --size="$SIZE" --rw=write --bs=1M --direct=1 \
		--output-format=terse >/dev/null 2>&1 || die "cannot lay out $FILE"
fi

printf 'no-blockio = false\n' >"$OUT/sonde.conf"
"$SONDE" --listen 127.0.0.1:0 --config "$OUT/sonde.conf" "${SFLAGS[@]}" 2>"$OUT/sonde.log" &
SPID=$!
PORT=$(daemon_port "$OUT/sonde.log" "$SPID") || die "the daemon did not start serving"
[ "$(metric sonde_blockio_attached)" = 1 ] || die "the daemon has no block-I/O hooks attached"
TOTAL=$(((2 * PAIRS + 1) * SEGMENT))
curl -s --max-time $((TOTAL * 2 + 60)) -o /dev/null \
	"http://127.0.0.1:$PORT/debug/pprof/blockio?seconds=$((TOTAL * 2 + 30))" &
CURL=$!
echo

for qd in $IODEPTHS; do
	hooks off
	rm -f "$OUT"/fio_iops.*.log
	T0=$(now_ms)
	fio --name=randread --filename="$FILE" --size="$SIZE" --rw=randread --bs=4k --direct=1 \
		--ioengine=libaio --iodepth="$qd" --runtime="$TOTAL" --time_based --randrepeat=0 \
		--write_iops_log="$OUT/fio" --log_avg_msec=500 --output-format=json \
		>"$OUT/fio.json" 2>"$OUT/fio.err" &
	FIO=$!
	# Segment k (0-based) is "on" when k is odd; its switch time is written down
	# relative to fio's start.
	: >"$OUT/switches"
	for k in $(seq 1 $((2 * PAIRS))); do
		target=$((T0 + k * SEGMENT * 1000))
		while [ "$(now_ms)" -lt "$target" ]; do sleep 0.02; done
		if [ $((k % 2)) = 1 ]; then hooks on; else hooks off; fi
		echo "$k $(($(now_ms) - T0))" >>"$OUT/switches"
	done
	wait "$FIO" || die "fio failed: $(cat "$OUT/fio.err")"
	FIO=''
	hooks on
	printf 'iodepth %s: %s IOPS over the whole run\n' "$qd" \
		"$(jq -r '.jobs[0].read.iops | floor' "$OUT/fio.json")"
	# Segment means, then each "on" segment against its two "off" neighbours.
	awk -v seg="$SEGMENT" -v pairs="$PAIRS" -v qd="$qd" '
		FILENAME ~ /switches$/ { sw[$1] = $2; next }
		{
			gsub(",", "", $1); gsub(",", "", $2); t = $1 + 0; v = $2 + 0
			for (k = 0; k <= 2 * pairs; k++) {
				lo = (k == 0 ? 0 : sw[k]) + 1000
				hi = (k == 2 * pairs ? (2 * pairs + 1) * seg * 1000 : sw[k + 1]) - 500
				if (t > lo && t <= hi) { sum[k] += v; n[k]++ }
			}
		}
		function median(a, m,   i, j, x) {
			for (i = 2; i <= m; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
			return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
		}
		END {
			m = 0; so = sf = 0
			for (k = 1; k < 2 * pairs; k += 2) {
				if (!n[k - 1] || !n[k] || !n[k + 1]) continue
				on = sum[k] / n[k]; off = (sum[k - 1] / n[k - 1] + sum[k + 1] / n[k + 1]) / 2
				r[++m] = on / off; so += on; sf += off
			}
			if (!m) { print "  no complete segments (is SEGMENT too short?)"; exit 1 }
			lo = hi = r[1]; for (i = 1; i <= m; i++) { if (r[i] < lo) lo = r[i]; if (r[i] > hi) hi = r[i] }
			printf "  hooks on / off: median %.4f over %d pairs (min %.4f, max %.4f); mean IOPS on %.0f, off %.0f\n",
				median(r, m), m, lo, hi, so / m, sf / m
			printf "%s %.4f %d %.4f %.4f %.0f %.0f\n", qd, median(r, m), m, lo, hi, so / m, sf / m >> "'"$OUT/summary"'"
		}' "$OUT/switches" "$OUT"/fio_iops.*.log

	# The stats run: BPF time of the block-I/O programs per request.
	sysctl -qw kernel.bpf_stats_enabled=1
	t0=$(metric 'sonde_bpf_run_time_seconds_total{program="blockio"}')
	s0=$(metric sonde_blockio_started_total)
	fio --name=stats --filename="$FILE" --size="$SIZE" --rw=randread --bs=4k --direct=1 \
		--ioengine=libaio --iodepth="$qd" --runtime=3 --time_based --randrepeat=0 \
		--output-format=terse >/dev/null 2>&1 || die "fio failed"
	t1=$(metric 'sonde_bpf_run_time_seconds_total{program="blockio"}')
	s1=$(metric sonde_blockio_started_total)
	sysctl -qw kernel.bpf_stats_enabled="$OLD_STATS"
	awk -v t0="$t0" -v t1="$t1" -v s0="$s0" -v s1="$s1" 'BEGIN {
		if (s1 > s0) printf "  block-I/O BPF: %.0f ns per request (%d requests)\n", (t1 - t0) * 1e9 / (s1 - s0), s1 - s0 }'
done

echo
echo "summary (iodepth, median on/off, pairs, min, max, mean IOPS on, off):"
cat "$OUT/summary"
echo "sampled out by --blockio-max-rate: $(metric sonde_blockio_sampled_out_total) of" \
	"$(metric sonde_blockio_started_total) requests started"
