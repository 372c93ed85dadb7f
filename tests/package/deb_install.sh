#!/usr/bin/env bash
# The .deb on a clean machine: a minimal Debian 12 root made by debootstrap,
# where apt installs the package with nothing but the dependencies it
# declares. Then, inside that root: every shared library resolves, the
# shipped config passes --check-config, the installed daemon serves a CPU
# profile of a workload running on the host (go tool pprof reads it, the hot
# function is named), and the package removes and purges cleanly.
#
# Needs root and deb.debian.org (CI reaches Debian's archive). Takes about
# a minute and a half, most of it debootstrap.
set -euo pipefail
: "${SONDE_BUILD_DIR:?set by ctest}" "${SONDE_WORKLOADS:?set by ctest}"
MIRROR=${SONDE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for debootstrap and chroot"; exit 77; }
for tool in debootstrap cpack go curl; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing; make test installs it"; exit 1; }
done

WORK=$(mktemp -d /tmp/sonde-deb.XXXXXX)
ROOT=$WORK/root
HOG=
DAEMON=
FAILS=0
PASSES=0

# The root gets its own proc and sys mounts. They are taken down before the
# tree is deleted, and the deletion refuses to cross into any mount left.
cleanup() {
	if [ -n "$DAEMON" ]; then kill -TERM "$DAEMON" 2>/dev/null || true; wait "$DAEMON" 2>/dev/null || true; fi
	if [ -n "$HOG" ]; then kill "$HOG" 2>/dev/null || true; wait "$HOG" 2>/dev/null || true; fi
	for m in "$ROOT/sys" "$ROOT/proc" "$ROOT/dev"; do
		if mountpoint -q "$m" 2>/dev/null; then umount -l "$m" || true; fi
	done
	if findmnt -rn -o TARGET | grep -q "^$ROOT/"; then
		echo "cleanup: mounts left under $ROOT; not deleting it" >&2
	else
		rm -rf --one-file-system "$WORK"
	fi
}
trap cleanup EXIT

pass() { echo "ok: $*"; PASSES=$((PASSES + 1)); }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$@"; }

# --- The package, built the way `make deb` builds it. ---
rm -f "$SONDE_BUILD_DIR"/sonde_*.deb
(cd "$SONDE_BUILD_DIR" && cpack -G DEB >"$WORK/cpack.log" 2>&1) || { cat "$WORK/cpack.log"; exit 1; }
DEB=$(ls "$SONDE_BUILD_DIR"/sonde_*.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || { echo "FAIL: cpack made no .deb"; exit 1; }
echo "package: $(basename "$DEB"), $(du -k "$DEB" | cut -f1) KiB"
echo "declared: $(dpkg-deb -f "$DEB" Depends)"

# --- A clean Debian 12: the minimal base, and nothing of this machine's. ---
T0=$(date +%s)
if ! debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
	tail -20 "$WORK/debootstrap.log"
	echo "FAIL: debootstrap $SUITE from $MIRROR"
	exit 1
fi
echo "debootstrap: $(($(date +%s) - T0)) s, $(du -sm "$ROOT" | cut -f1) MiB"
check "the clean root has no sonde dependency beforehand" \
	sh -c "! chroot '$ROOT' dpkg-query -W libmicrohttpd12 >/dev/null 2>&1"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
cp "$DEB" "$ROOT/tmp/sonde.deb"

# --- apt installs it, fetching exactly what it declares. ---
in_root apt-get update -q >"$WORK/apt.log" 2>&1 || { tail "$WORK/apt.log"; exit 1; }
if in_root apt-get install -y -q --no-install-recommends /tmp/sonde.deb >>"$WORK/apt.log" 2>&1; then
	pass "apt-get install ./sonde.deb in a clean Debian 12"
else
	tail -20 "$WORK/apt.log"
	fail "apt-get install ./sonde.deb in a clean Debian 12"
fi
check "dpkg says installed" sh -c "chroot '$ROOT' dpkg-query -W -f='\${Status}' sonde | grep -q 'install ok installed'"
check "every file of the package is in place" \
	test -x "$ROOT/usr/sbin/sonde" -a -f "$ROOT/usr/lib/systemd/system/sonde.service" \
	-a -f "$ROOT/etc/sonde/sonde.conf" -a -f "$ROOT/usr/share/man/man8/sonde.8"
MISSING=$(in_root sh -c 'ldd /usr/sbin/sonde' 2>&1 | grep -c 'not found' || true)
check "every shared library of /usr/sbin/sonde resolves (missing: $MISSING)" test "$MISSING" -eq 0
check "sonde --version runs" sh -c "chroot '$ROOT' /usr/sbin/sonde --version | grep -Eq '^sonde [0-9]+\.[0-9]+\.[0-9]+$'"
check "the shipped config passes --check-config" \
	in_root /usr/sbin/sonde --config /etc/sonde/sonde.conf --check-config

# --- The installed daemon profiles the host. ---
mount -t proc proc "$ROOT/proc"
mount -t sysfs sysfs "$ROOT/sys"
mount -t devtmpfs devtmpfs "$ROOT/dev" 2>/dev/null || true
"$SONDE_WORKLOADS/cpu_hog" --seconds 20 >/dev/null &
HOG=$!
chroot "$ROOT" /usr/sbin/sonde --listen 127.0.0.1:0 2>"$WORK/daemon.log" &
DAEMON=$!
PORT=
for _ in $(seq 1 100); do
	PORT=$(sed -n 's#.*serving on http://127.0.0.1:\([0-9]*\)/.*#\1#p' "$WORK/daemon.log")
	[ -n "$PORT" ] && break
	kill -0 "$DAEMON" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$PORT" ]; then
	cat "$WORK/daemon.log"
	fail "the installed daemon starts and serves"
else
	pass "the installed daemon starts and serves on port $PORT"
	CODE=$(curl -s -o "$WORK/cpu.pb.gz" -w '%{http_code}' \
		"http://127.0.0.1:$PORT/debug/pprof/profile?seconds=3&pid=$HOG")
	check "GET /debug/pprof/profile?seconds=3 answers 200 (got $CODE)" test "$CODE" = 200
	export HOME=${HOME:-/root} GOCACHE=$WORK/gocache PPROF_TMPDIR=$WORK
	go tool pprof -raw "$WORK/cpu.pb.gz" >"$WORK/cpu.raw" 2>"$WORK/pprof.err" || cat "$WORK/pprof.err"
	HOT=$(grep -c 'hot_alpha' "$WORK/cpu.raw" || true)
	echo "profile: $(wc -l <"$WORK/cpu.raw") lines of go tool pprof -raw, $HOT naming hot_alpha"
	check "go tool pprof reads it and cpu_hog's hot_alpha is named" test "$HOT" -gt 0
	kill -TERM "$DAEMON"
	RC=0
	wait "$DAEMON" || RC=$?
	DAEMON=
	check "the installed daemon stops with status 0 on SIGTERM" test "$RC" = 0
fi
kill "$HOG" 2>/dev/null || true
wait "$HOG" 2>/dev/null || true
HOG=
umount -l "$ROOT/dev" 2>/dev/null || true
umount -l "$ROOT/sys" "$ROOT/proc"

# --- And goes away cleanly. ---
check "apt-get remove sonde" in_root apt-get remove -y -q sonde
check "the config stays after remove (a conffile)" test -f "$ROOT/etc/sonde/sonde.conf"
check "apt-get purge sonde" in_root apt-get purge -y -q sonde
check "nothing of the package is left after purge" \
	test ! -e "$ROOT/usr/sbin/sonde" -a ! -e "$ROOT/etc/sonde/sonde.conf" \
	-a ! -e "$ROOT/usr/lib/systemd/system/sonde.service"

echo "deb_install: $PASSES passed, $FAILS failed"
[ "$PASSES" -gt 0 ] && [ "$FAILS" -eq 0 ]
