#!/usr/bin/env bash
# Continuous profiling end to end: always-on windows, history queries (last=,
# start/end in unix and RFC 3339), filters, labels, format=folded, and
# Pyroscope pushes to a loopback receiver whose bodies go tool pprof decodes.
source "$(dirname "$0")/lib.bash"
require_bpf

LINT=$SONDE_WORKLOADS/pprof_lint
SINK_DIR=$TMP/sink
mkdir -p "$SINK_DIR"

# --- A stand-in Pyroscope server. ---
"$SONDE_WORKLOADS/ingest_sink" --dir "$SINK_DIR" >"$TMP/sink.out" &
SINK=$!
wait_for_line "$TMP/sink.out" '^port [0-9]+' || { echo "FAIL: ingest_sink did not start"; exit 1; }
SINK_PORT=$(awk '$1 == "port" { print $2 }' "$TMP/sink.out")

# --max-memory caps the daemon's RSS, the history giving way; a sanitized daemon gets
# room for ASan's shadow memory (as start_daemon gives it).
CAP_MIB=256
if sanitized_build; then CAP_MIB=4096; fi
# Every 2 s a window ends: it goes into the history and is pushed, per kind.
start_daemon --window 2s --retention 1m --max-memory "$CAP_MIB" \
	--pyroscope-url "http://127.0.0.1:$SINK_PORT" \
	--pyroscope-app testapp --pyroscope-tag env=ci --pyroscope-tag team=perf \
	--labels pid,comm,thread_name,cgroup,unit
check "the log describes the history" grep -q 'history: 2 s windows kept 60 s' "$TMP/daemon.log"
T_START=$(date +%s)

# The workload runs across several windows and stays alive while we query, so its
# frames can be named (symbols are read when a profile is built).
"$SONDE_WORKLOADS/cpu_hog" --seconds 9 >"$TMP/hog.out" &
HOG=$!
wait_for_line "$TMP/hog.out" '^pid' || { echo "FAIL: cpu_hog did not start"; exit 1; }
sleep 6
T_MID=$(date +%s)

fetch() { # fetch NAME QUERY: GET QUERY into $TMP/NAME, prints the HTTP status
	curl -s -o "$TMP/$1" -w '%{http_code}' "$URL$2"
}

# --- last= ---
T0=$(date +%s%N)
check "profile?last=1m answers 200" test "$(fetch last.pb.gz '/debug/pprof/profile?last=1m')" = 200
T1=$(date +%s%N)
echo "last=1m answered in $(((T1 - T0) / 1000000)) ms"
check "pprof_lint accepts the history profile" "$LINT" "$TMP/last.pb.gz" >/dev/null
check "go tool pprof parses it" go tool pprof -raw "$TMP/last.pb.gz" >/dev/null
HOT=$(pprof_flat "$TMP/last.pb.gz" hot_alpha)
echo "hot_alpha samples in the last minute: $HOT"
check "the history holds cpu_hog's hot_alpha" test "$HOT" -gt 50
# Duration is what the merged windows cover: a whole number of 2 s windows (±1 window of timer slack).
DUR=$(go tool pprof -top -nodecount=1 "$TMP/last.pb.gz" 2>/dev/null | sed -n 's/^Duration: \([0-9.]*\)s.*/\1/p' | head -1)
echo "covered duration: ${DUR}s"
check "duration covers at least two windows" awk -v d="${DUR:-0}" 'BEGIN { exit !(d >= 4 && d <= 62) }'

# --- start/end, unix and RFC 3339, give the same windows. ---
S_UNIX=$((T_START - 1))
E_UNIX=$((T_MID + 1))
S_RFC=$(date -u -d "@$S_UNIX" +%Y-%m-%dT%H:%M:%SZ)
# An offset, with its '+' percent-encoded as a URL query needs.
E_RFC=$(date -u -d "@$E_UNIX" +%Y-%m-%dT%H:%M:%S%%2B00:00)
# Both queries must see the same windows: wait until the one holding E_UNIX has closed
# (2 s windows, and a second of slack), or a window closing between them tells them apart.
while [ "$(date +%s)" -le $((E_UNIX + 3)) ]; do sleep 0.2; done
check "start/end in unix seconds answers 200" \
	test "$(fetch unix.pb.gz "/debug/pprof/profile?start=$S_UNIX&end=$E_UNIX&pid=$HOG")" = 200
check "start/end in RFC 3339 answers 200" \
	test "$(fetch rfc.pb.gz "/debug/pprof/profile?start=$S_RFC&end=$E_RFC&pid=$HOG")" = 200
U=$(pprof_sum "$TMP/unix.pb.gz" samples | awk '{ print $1 }')
R=$(pprof_sum "$TMP/rfc.pb.gz" samples | awk '{ print $1 }')
echo "samples of cpu_hog: unix range $U, RFC 3339 range $R"
check "both spellings of one range give the same samples" test "${U:-0}" -gt 0 -a "$U" = "$R"
check "pid= keeps only cpu_hog" test "$(pprof_sum "$TMP/unix.pb.gz" samples pid!=$HOG | awk '{ print $2 }')" = 0

# --- format=folded: same samples, collapsed. ---
check "format=folded answers 200" \
	test "$(fetch folded.txt "/debug/pprof/profile?start=$S_UNIX&end=$E_UNIX&pid=$HOG&format=folded")" = 200
FOLDED_SUM=$(awk '{ s += $NF } END { print s + 0 }' "$TMP/folded.txt")
echo "folded: $(wc -l <"$TMP/folded.txt") lines, $FOLDED_SUM samples"
check "folded lines are root;...;leaf COUNT with integer counts" \
	awk 'NF < 2 || $NF !~ /^[0-9]+$/ { bad = 1 } END { exit bad || NR == 0 }' "$TMP/folded.txt"
# A sample taken between fork and exec carries the parent shell's name, truly:
# the lines through hot_alpha must be rooted at cpu_hog, and almost all weight.
check "folded roots are the process name" awk -F';' '
	{ n = split($NF, a, " "); w = a[n]; all += w }
	$1 == "cpu_hog" { hog += w }
	/hot_alpha/ && $1 != "cpu_hog" { bad = 1 }
	END { exit bad || all == 0 || hog < 0.99 * all }' "$TMP/folded.txt"
check "folded holds hot_alpha as a leaf" grep -q ';hot_alpha [0-9]*$' "$TMP/folded.txt"
check "folded counts add up to the pprof samples" test "$FOLDED_SUM" = "$U"

# --- Filters and labels. ---
check "comm=cpu_hog answers 200" test "$(fetch comm.pb.gz "/debug/pprof/profile?last=1m&comm=cpu_hog")" = 200
check "comm= keeps only that process name" \
	test "$(pprof_sum "$TMP/comm.pb.gz" samples comm!=cpu_hog | awk '{ print $2 }')" = 0
check "comm= keeps cpu_hog's samples" test "$(pprof_sum "$TMP/comm.pb.gz" samples | awk '{ print $2 }')" -gt 0
check "cgroup=/ keeps samples" test "$(fetch cg.pb.gz "/debug/pprof/profile?last=1m&cgroup=/")" = 200
check "samples carry the cgroup label" \
	test "$(pprof_sum "$TMP/cg.pb.gz" samples '!cgroup' | awk '{ print $2 }')" = 0
check "tid is not a label (not in --labels)" \
	test "$(pprof_sum "$TMP/cg.pb.gz" samples '!tid' | awk '{ print $2 }')" = \
	"$(pprof_sum "$TMP/cg.pb.gz" samples | awk '{ print $2 }')"
check "an unknown container keeps nothing" \
	test "$(fetch none.pb.gz "/debug/pprof/profile?last=1m&container=0123456789ab")" = 200
check "... and the profile is empty" test "$(pprof_sum "$TMP/none.pb.gz" samples | awk '{ print $2 }')" = 0

# --- Other kinds from the history. ---
check "offcpu?last=1m answers 200" test "$(fetch off.pb.gz '/debug/pprof/offcpu?last=1m')" = 200
check "wall?last=1m answers 200" test "$(fetch wall.pb.gz '/debug/pprof/wall?last=1m')" = 200
check "go tool pprof parses the history wall profile" go tool pprof -raw "$TMP/wall.pb.gz" >/dev/null

# --- Errors. ---
check "a range before the history -> 404" test "$(fetch e1 '/debug/pprof/profile?start=1000&end=2000')" = 404
check "... saying what the history covers" grep -q 'history covers' "$TMP/e1"
check "seconds with last -> 400" test "$(fetch e2 '/debug/pprof/profile?seconds=5&last=1m')" = 400
check "last with start -> 400" test "$(fetch e3 '/debug/pprof/profile?last=1m&start=1')" = 400
check "end before start -> 400" test "$(fetch e4 "/debug/pprof/profile?start=$E_UNIX&end=$S_UNIX")" = 400
check "bad time -> 400" test "$(fetch e5 '/debug/pprof/profile?start=yesterday')" = 400
check "bad format -> 400" test "$(fetch e6 '/debug/pprof/profile?last=1m&format=svg')" = 400
check "bad container -> 400" test "$(fetch e7 '/debug/pprof/profile?last=1m&container=xyz')" = 400

wait $HOG

# --- Pushes. ---
for _ in $(seq 1 40); do
	[ "$(ls "$SINK_DIR"/*.req 2>/dev/null | wc -l)" -ge 6 ] && break
	sleep 0.25
done
N_REQ=$(ls "$SINK_DIR"/*.req 2>/dev/null | wc -l)
echo "pushes received: $N_REQ"
check "pushes arrived" test "$N_REQ" -ge 6
check "every push is POST /ingest" awk 'FNR == 1 && $0 != "POST /ingest" { bad = 1 } END { exit bad }' "$SINK_DIR"/*.req
check "every push says format=pprof" sh -c "grep -L '^format=pprof$' '$SINK_DIR'/*.req | grep -q . && exit 1 || exit 0"
check "a cpu push is named testapp.cpu{env=ci,team=perf}" grep -qx 'name=testapp.cpu{env=ci,team=perf}' "$SINK_DIR"/*.req
check "an offcpu push is named testapp.offcpu{...}" grep -qx 'name=testapp.offcpu{env=ci,team=perf}' "$SINK_DIR"/*.req
check "a wall push is named testapp.wall{...}" grep -qx 'name=testapp.wall{env=ci,team=perf}' "$SINK_DIR"/*.req
BAD_RANGE=0
for r in "$SINK_DIR"/*.req; do
	FROM=$(sed -n 's/^from=//p' "$r")
	UNTIL=$(sed -n 's/^until=//p' "$r")
	D=$((UNTIL - FROM))
	{ [ "$FROM" -ge "$((T_START - 5))" ] && [ "$D" -ge 1 ] && [ "$D" -le 3 ]; } || BAD_RANGE=1
done
check "every push covers one window (from/until in unix seconds, about 2 s apart)" test "$BAD_RANGE" = 0
CPU_BODY=$(grep -lx 'name=testapp.cpu{env=ci,team=perf}' "$SINK_DIR"/*.req | head -1)
CPU_BODY=${CPU_BODY%.req}.body
check "go tool pprof decodes a pushed body" go tool pprof -raw "$CPU_BODY" >"$TMP/push.raw" 2>&1
check "the pushed profile has samples" grep -q '^Samples:' "$TMP/push.raw"
check "pprof_lint accepts the pushed profile" "$LINT" "$CPU_BODY" >/dev/null

curl -sf "$URL/metrics" >"$TMP/metrics.txt"
check "/metrics: windows held" test "$(awk '$1 == "sonde_history_windows" { print $2 }' "$TMP/metrics.txt")" -gt 0
check "/metrics: pushes sent" test "$(awk '$1 == "sonde_push_sent_total" { print $2 }' "$TMP/metrics.txt")" -ge 6
check "/metrics: history bytes" test "$(awk '$1 == "sonde_history_bytes" { print $2 }' "$TMP/metrics.txt")" -gt 0
metric() { awk -v n="$1" '$1 == n { print $2 }' "$TMP/metrics.txt"; }
# Read at every window's end, the RSS is far from the cap here.
check "/metrics: the memory cap is --max-memory" test "$(metric sonde_memory_max_bytes)" = $((CAP_MIB << 20))
check "/metrics: the daemon's RSS, read at a window's end" test "$(metric sonde_memory_rss_bytes)" -gt $((1 << 20))
check "/metrics: RSS under the cap, nothing dropped for it" test "$(metric sonde_memory_over_total)" = 0
# Windows are named as they end: the queries above found names cached, by file offset.
check "/metrics: frames named from the cache" test "$(metric sonde_frame_cache_hits_total)" -gt 0
check "/metrics: named frames cached" test "$(metric sonde_frame_cache_entries)" -gt 0
check "/metrics: DWARF held, counted" test -n "$(metric sonde_dwarf_bytes)"
check "/metrics: CFI held, counted" test -n "$(metric sonde_unwind_file_bytes)"

check "SIGTERM exits 0" stop_daemon
check "every BPF program of the daemon is released" daemon_progs_released
kill -TERM $SINK 2>/dev/null
wait $SINK 2>/dev/null || true
finish
