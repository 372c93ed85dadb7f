#!/usr/bin/env bash
# Installs the Debian packages sonde needs that are missing, and nothing else.
#   cmake/install-deps.sh build   what `make run` needs
#   cmake/install-deps.sh test    that, plus what the test suite needs
#   cmake/install-deps.sh bench   that, plus the peers bench/ compares against
#   cmake/install-deps.sh fuzz    that, plus libFuzzer (make fuzz)
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libdeflate-dev
	libmicrohttpd-dev libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev
	libsystemd-dev libcap-dev liblzma-dev libdw-dev binutils xz-utils)
# The browser test drives Debian's chromium through playwright-core from npm (tests/browser).
test_pkgs=(golang-go curl procps clang-format openssl systemd strace python3 debootstrap chromium binutils
	util-linux)
bench_pkgs=(linux-perf bpftrace libbpf-tools fio jq)
# libFuzzer's runtime for `make fuzz`.
fuzz_pkgs=(clang libclang-rt-14-dev)

want=("${build_pkgs[@]}")
case "${1:-build}" in
build) ;;
test) want+=("${test_pkgs[@]}") ;;
bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
fuzz) want+=("${fuzz_pkgs[@]}") ;;
*)
	echo "install-deps.sh: unknown set '$1' (build, test, bench or fuzz)" >&2
	exit 2
	;;
esac

browser=false
case "${1:-build}" in
test | bench)
	browser=true
	# node and npm from Debian only where the machine has none.
	command -v npm >/dev/null || want+=(nodejs npm)
	;;
esac

# tests/browser's npm packages, as its lockfile pins them; npm ci only when they differ.
browser_deps() {
	local dir lock='/"node_modules\/playwright-core"/,/}/p'
	dir="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
	if [ -f "$dir/node_modules/.package-lock.json" ] &&
		cmp -s <(sed -n "$lock" "$dir/package-lock.json") \
			<(sed -n "$lock" "$dir/node_modules/.package-lock.json"); then
		return 0
	fi
	echo "install-deps.sh: npm ci in tests/browser"
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	if $browser; then browser_deps; fi
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: missing packages (${missing[*]}) and not root to install them" >&2
	exit 1
fi
echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if $browser; then browser_deps; fi
