#!/usr/bin/env bash
# test.sh: everything CI checks, from a clean clone on a fresh Debian 12 machine.
#
# Usage: scripts/test.sh [--fast]
#   1. installs missing Debian packages (scripts/install-deps.sh test)
#   2. builds with -Wall -Wextra -Werror (the benchmark programs too) and runs the doctest suite
#      (exhaustion cases included) and the other CTest tests (installed-package consumer, deploy
#      manifest checks, 60 s soak, the lean echo load generator against the server)
#   3. builds the suite with -fsanitize=address,undefined and runs it
#   4. builds the suite with -fsanitize=thread and runs it
#   5. builds the libFuzzer targets with clang and runs each briefly (FUZZ_SECONDS, default 60)
#   6. builds the container image with podman and checks it (scripts/container-test.sh;
#      CONTAINER_STATE=DIR keeps podman's images between runs)
# --fast stops after step 2. Build folders: build-test/, build-asan/, build-tsan/.
# Exits non-zero on the first failure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=${JOBS:-$(nproc)}

step() { printf '\n==== %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }

step "dependencies"
scripts/install-deps.sh test

build() {  # dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DSPINDLE_WERROR=ON -DSPINDLE_BUILD_BENCH=OFF "$@" >/dev/null
  cmake --build "$dir" -j"$JOBS"
}

step "build (-Werror) and test"
build build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPINDLE_BUILD_BENCH=ON
build-test/tests/spindle_tests
(cd build-test && ctest --output-on-failure -E '^spindle_tests$')

[[ ${1:-} == --fast ]] && exit 0

step "AddressSanitizer + UndefinedBehaviorSanitizer"
build build-asan -DCMAKE_BUILD_TYPE=Debug -DSPINDLE_SANITIZE=address,undefined
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  build-asan/tests/spindle_tests

step "ThreadSanitizer"
build build-tsan -DCMAKE_BUILD_TYPE=Debug -DSPINDLE_SANITIZE=thread
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 build-tsan/tests/spindle_tests

if command -v clang++ >/dev/null; then
  step "fuzz each target (short run; fuzz/run.sh 600 for a long one)"
  fuzz/run.sh "${FUZZ_SECONDS:-60}"
fi

step "container image: podman build (suite in the build stage), run, drain (scripts/container-test.sh)"
scripts/container-test.sh

step "all green"
