#!/usr/bin/env bash
# User stacks through code without frame pointers, unwound with CFI from the
# stack copy (docs/unwinding.md). unwind_hog is built -O2 -fomit-frame-pointer
# and calls into Debian's libc (no frame pointers either):
#   cpu:   at least 90% of hot_leaf's samples carry hot_leaf <- hot_caller <- main;
#   block: at least 95% of its off-CPU time names the function that called
#          nanosleep or read (nap_site, pipe_site, writer_site);
#   libc:  at least 90% of its samples (memcpy, qsort) name copy_site or sort_site;
#   io:    at least 90% of its block-I/O requests (O_DIRECT pwrite through libc)
#          name io_site, the function that called pwrite.
# The same with --unwind-stack-bytes 0 (frame pointers only) must show the
# defect, or the test would not prove that the feature matters. Checked with
# go tool pprof -traces and -raw, not our own decoder.
source "$(dirname "$0")/lib.bash"
require_bpf

FREQ=199
HOG=$SONDE_WORKLOADS/unwind_hog

# A directory on a disk (not tmpfs) for the io mode's O_DIRECT writes: the build tree,
# else /var/tmp.
IO_DIR=$(disk_dir)

# profile_mode MODE ENDPOINT OUT: runs unwind_hog MODE for 6 s and fetches a 4 s profile
# of it (pid filter) from ENDPOINT into OUT.
profile_mode() {
	local mode=$1 endpoint=$2 out=$3 pid code
	"$HOG" "$mode" --seconds 6 --dir "${IO_DIR:-.}" >"$TMP/$mode.hog" &
	local hp=$!
	if ! wait_for_line "$TMP/$mode.hog" '^pid ' 10; then
		echo "unwind_hog $mode printed no pid"
		kill $hp
		return 1
	fi
	pid=$(awk '$1 == "pid" { print $2 }' "$TMP/$mode.hog")
	sleep 0.5
	code=$(curl -s -o "$out" -w '%{http_code}' "$URL/debug/pprof/$endpoint?seconds=4&pid=$pid") ||
		code="curl failed ($?)"
	wait $hp || true
	if [ "$code" != 200 ]; then
		echo "$endpoint of unwind_hog $mode: $code; the daemon's log ends:"
		tail -5 "$TMP/daemon.log"
		return 1
	fi
}

# chain_share FILE: of the samples whose stack holds hot_leaf, the share (0..1) in which
# hot_caller is hot_leaf's caller and main is further out, from go tool pprof -traces.
chain_share() {
	go tool pprof -symbolize=none -traces -sample_index=samples "$1" 2>/dev/null | awk '
	function flush() {
		if (n == 0)
			return
		for (i = 1; i <= n; i++) {
			if (fr[i] != "hot_leaf")
				continue
			all += v
			ok = (i < n && fr[i + 1] == "hot_caller")
			seen_main = 0
			for (j = i + 2; j <= n; j++)
				if (fr[j] == "main")
					seen_main = 1
			if (ok && seen_main)
				good += v
			break
		}
		n = 0
	}
	/^-+\+-+$/ { flush(); next }
	$1 ~ /:$/ { next }                  # labels: "pid:  123"
	NF == 2 && $1 ~ /^[0-9]+$/ { flush(); v = $1; n = 1; fr[1] = $2; next }
	NF == 1 && v != "" { fr[++n] = $1; next }
	END { flush(); printf "%.3f %d\n", (all > 0 ? good / all : 0), all }'
}

# time_share FILE TYPE FUNCTIONS: share of the TYPE total whose stack holds one of FUNCTIONS.
time_share() {
	local all part
	all=$(sum_of "$1" "$2")
	part=$(sum_of "$1" "$2" "@$3")
	awk -v a="$all" -v p="$part" 'BEGIN { printf "%.3f", (a > 0 ? p / a : 0) }'
}

# measure LABEL: profiles the three modes with the daemon that runs now; sets
# CPU_SHARE, CPU_N, BLOCK_SHARE, LIBC_SHARE.
measure() {
	local label=$1 r
	check "$label: cpu profile fetched" profile_mode cpu profile "$TMP/$label.cpu.pb.gz"
	r=$(chain_share "$TMP/$label.cpu.pb.gz") || r="0 0"
	CPU_SHARE=${r% *}
	CPU_N=${r#* }
	echo "$label: hot_leaf <- hot_caller <- main in $CPU_SHARE of $CPU_N hot_leaf samples"

	check "$label: off-CPU profile fetched" profile_mode block offcpu "$TMP/$label.block.pb.gz"
	BLOCK_SHARE=$(time_share "$TMP/$label.block.pb.gz" off_cpu nap_site,pipe_site,writer_site) ||
		BLOCK_SHARE=0
	echo "$label: off-CPU time under nap_site/pipe_site/writer_site: $BLOCK_SHARE of" \
		"$(sum_of "$TMP/$label.block.pb.gz" off_cpu) ns"
	go tool pprof -symbolize=none -traces "$TMP/$label.block.pb.gz" 2>/dev/null |
		grep -v ':  ' | head -80 >"$TMP/$label.block.traces" || true

	check "$label: libc profile fetched" profile_mode libc profile "$TMP/$label.libc.pb.gz"
	LIBC_SHARE=$(time_share "$TMP/$label.libc.pb.gz" samples copy_site,sort_site) || LIBC_SHARE=0
	echo "$label: samples under copy_site/sort_site: $LIBC_SHARE of" \
		"$(sum_of "$TMP/$label.libc.pb.gz" samples)"

	IO_SHARE=0
	IO_N=0
	if [ -n "$IO_DIR" ]; then
		check "$label: block-I/O profile fetched" profile_mode io blockio "$TMP/$label.io.pb.gz"
		IO_SHARE=$(time_share "$TMP/$label.io.pb.gz" io io_site) || IO_SHARE=0
		IO_N=$(sum_of "$TMP/$label.io.pb.gz" io)
		echo "$label: block-I/O requests under io_site: $IO_SHARE of $IO_N" \
			"($(awk '$1 == "writes" { print $2 }' "$TMP/io.hog") writes)"
	fi
}

# --- With CFI (the default copy of 8 KiB). ---
start_daemon --frequency $FREQ
check "the daemon says it unwinds with CFI" grep -q 'unwinding user stacks with CFI' "$TMP/daemon.log"
measure cfi
check "cpu: enough hot_leaf samples" test "$CPU_N" -ge 200
check "cpu: >= 90% of hot_leaf samples carry hot_caller and main" at_least "$CPU_SHARE" 0.90
check "block: >= 95% of off-CPU time names the caller of nanosleep/read" at_least "$BLOCK_SHARE" 0.95
at_least "$BLOCK_SHARE" 0.95 || cat "$TMP/cfi.block.traces"
check "block: nanosleep's caller follows libc's wrapper" \
	grep -Eq '^ +nap_site$' "$TMP/cfi.block.traces"
check "libc: >= 90% of samples name copy_site or sort_site" at_least "$LIBC_SHARE" 0.90
check "io: a disk for O_DIRECT writes" test -n "$IO_DIR"
check "io: enough block-I/O requests" test "${IO_N:-0}" -ge 100
check "io: >= 90% of block-I/O requests name the caller of pwrite" at_least "$IO_SHARE" 0.90
check "libc: memcpy is under copy_site" test "$(sum_of "$TMP/cfi.libc.pb.gz" samples \
	@copy_site)" -gt 0
curl -sf "$URL/metrics" >"$TMP/metrics.txt"
grep -E '^sonde_(unwind|offcpu_unwind|offcpu_records)' "$TMP/metrics.txt"
CFI_FRAMES=$(awk '$1 == "sonde_unwind_frames_total{method=\"cfi\"}" { print $2 }' "$TMP/metrics.txt")
check "/metrics counts frames recovered with CFI" test "${CFI_FRAMES:-0}" -gt 0
for cause in complete truncated no_cfi bad_rule; do
	check "/metrics has the $cause stop" grep -q "^sonde_unwind_stops_total{cause=\"$cause\"} " \
		"$TMP/metrics.txt"
done
check "/metrics has frames by frame pointer" \
	grep -q '^sonde_unwind_frames_total{method="frame_pointer"} ' "$TMP/metrics.txt"
check "/metrics caches are bounded gauges" grep -q '^sonde_unwind_rules_cached ' "$TMP/metrics.txt"
# The shares above hold with the stack tops learnt: most copies of the
# workloads' threads end at their top, with no frame-pointer walk in BPF.
TO_TOP=$(awk '$1 == "sonde_unwind_copies_to_top_total" { print $2 }' "$TMP/metrics.txt")
LEARNT=$(awk '$1 == "sonde_unwind_stack_tops_learnt_total" { print $2 }' "$TMP/metrics.txt")
echo "copies cut at a learnt stack top: $TO_TOP (tops learnt: $LEARNT)"
check "stack tops are learnt" test "${LEARNT:-0}" -gt 0
check "copies are cut at learnt stack tops" test "${TO_TOP:-0}" -gt "$((CPU_N / 2))"
check "SIGTERM exits 0" stop_daemon
check "no daemon errors logged" sh -c "! grep -q 'sonde: error' '$TMP/daemon.log'"

# --- Frame pointers only: the defect the copy fixes. ---
start_daemon --frequency $FREQ --unwind-stack-bytes 0
measure fp
check "fp only: hot_caller is lost (under 50%)" awk -v s="$CPU_SHARE" 'BEGIN { exit !(s < 0.5) }'
check "fp only: the callers of nanosleep/read are lost (under 50%)" \
	awk -v s="$BLOCK_SHARE" 'BEGIN { exit !(s < 0.5) }'
check "fp only: the callers of memcpy/qsort are lost (under 50%)" \
	awk -v s="$LIBC_SHARE" 'BEGIN { exit !(s < 0.5) }'
# Under ASan, pwrite goes through libasan's interceptor, which keeps a frame
# pointer: the frame-pointer walk then finds io_site, and there is no defect to show.
if sanitized_build; then
	echo "fp only: block I/O through libasan's pwrite interceptor keeps io_site ($IO_SHARE)"
else
	check "fp only: the caller of pwrite is lost in block I/O (under 50%)" \
		awk -v s="$IO_SHARE" 'BEGIN { exit !(s < 0.5) }'
fi
curl -sf "$URL/metrics" >"$TMP/metrics0.txt"
check "fp only: nothing is unwound with CFI" \
	grep -q '^sonde_unwind_stacks_total 0$' "$TMP/metrics0.txt"
check "SIGTERM exits 0 (fp only)" stop_daemon

finish
