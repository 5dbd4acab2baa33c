#!/usr/bin/env bash
# run.sh: installs what is missing, builds spindle (Release) and runs the Go -> spindle
# examples one after the other, printing each one's output.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
scripts/install-deps.sh build
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DSPINDLE_BUILD_TESTS=OFF \
  -DSPINDLE_BUILD_BENCH=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
for example in go_do_work anonymous_fiber go_with_arguments worker_cancel wait_group fan_out \
               pipeline_select task_group leak_report; do
  printf '\n$ %s\n' "$example"
  build-release/examples/$example || echo "(exit $?)"
done
