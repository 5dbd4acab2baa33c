#!/usr/bin/env bash
# install-deps.sh: install what spindle's build, tests and tools need, from Debian packages only.
# Idempotent: packages already present are skipped, and apt is not touched when nothing is missing.
#
# Usage: scripts/install-deps.sh [build|test|bench|all]   (default: test)
#   build  compiler, CMake and the libraries spindle links
#   test   build + the real clients the test suite drives (curl, ...) and clang for fuzzing
#   bench  test + the reference servers and load generators of bench/
set -euo pipefail

profile=${1:-test}
build_pkgs=(g++ cmake make pkg-config libasio-dev libspdlog-dev libfmt-dev doctest-dev
            libtomlplusplus-dev libcli11-dev)
test_pkgs=(curl netcat-openbsd procps python3 clang libclang-rt-14-dev)
bench_pkgs=(golang-go nginx-light wrk nghttp2-client gnuplot-nox linux-perf)

case $profile in
  build) want=("${build_pkgs[@]}") ;;
  test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench|all) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "install-deps.sh: unknown profile '$profile' (build|test|bench|all)" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps.sh: all ${#want[@]} packages present"
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  command -v sudo >/dev/null || { echo "install-deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps.sh: done"
