#!/usr/bin/env bash
# install-deps.sh: install what spindle's build, tests and tools need, from Debian packages only.
# Idempotent: packages already present are skipped, and apt is not touched when nothing is missing.
#
# Usage: scripts/install-deps.sh [build|suite|test|bench|all|runtime|container]   (default: test)
#   build      compiler, CMake and the libraries spindle links
#   suite      build + the clients spindle_tests itself drives (curl): what the Dockerfile's
#              build stage needs to run the suite
#   test       suite + the tools of the other CI checks (yamllint, ...) and clang for fuzzing
#   bench      test + the reference servers and load generators of bench/
#   runtime    only the shared libraries spindle-server loads (the container's runtime stage)
#   container  what scripts/container-test.sh needs on the host (podman, runc, debootstrap, ...)
set -euo pipefail

profile=${1:-test}
build_pkgs=(g++ cmake make pkg-config libasio-dev libspdlog-dev libfmt-dev doctest-dev
            libtomlplusplus-dev libcli11-dev)
suite_pkgs=(curl)
test_pkgs=(netcat-openbsd procps python3 yamllint clang libclang-rt-14-dev)
bench_pkgs=(golang-go nginx-light wrk nghttp2-client gnuplot-nox linux-perf)
# The runtime names carry the library's soname version (Debian's policy), so they follow what
# build_pkgs' -dev packages link; the image build runs the binary to prove nothing is missing.
runtime_pkgs=(libspdlog1.10 libfmt9)
container_pkgs=(podman runc netavark aardvark-dns iptables debootstrap curl)

case $profile in
  build) want=("${build_pkgs[@]}") ;;
  suite) want=("${build_pkgs[@]}" "${suite_pkgs[@]}") ;;
  test) want=("${build_pkgs[@]}" "${suite_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench|all) want=("${build_pkgs[@]}" "${suite_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  runtime) want=("${runtime_pkgs[@]}") ;;
  container) want=("${container_pkgs[@]}") ;;
  *) echo "install-deps.sh: unknown profile '$profile' (build|suite|test|bench|all|runtime|container)" >&2
     exit 2 ;;
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
