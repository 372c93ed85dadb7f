#!/usr/bin/env bash
# Installs the Debian packages sonde needs that are missing, and nothing else.
#   cmake/install-deps.sh build   what `make run` needs
#   cmake/install-deps.sh test    that, plus what the test suite needs
#   cmake/install-deps.sh bench   that, plus the peers bench/ compares against
#   cmake/install-deps.sh fuzz    that, plus libFuzzer (make fuzz)
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libdeflate-dev
	libmicrohttpd-dev libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev
	libsystemd-dev libcap-dev)
test_pkgs=(golang-go curl procps clang-format openssl systemd strace python3 debootstrap)
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

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: missing packages (${missing[*]}) and not root to install them" >&2
	exit 1
fi
echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
