#!/usr/bin/env bash
# run.sh: installs what is missing, builds spindle (Release) and runs spindle-server with its
# defaults (echo on port 7007) in the foreground. Arguments are passed to spindle-server
# (see --help). Ctrl-C or SIGTERM shuts it down gracefully.
#   scripts/run.sh --examples   builds and runs the Go -> spindle examples instead
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
scripts/install-deps.sh build >&2
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DSPINDLE_BUILD_TESTS=OFF \
  -DSPINDLE_BUILD_BENCH=OFF >/dev/null
if [[ ${1:-} == --examples ]]; then
  cmake --build build-release -j"$(nproc)" >/dev/null
  for example in go_do_work anonymous_fiber go_with_arguments worker_cancel wait_group fan_out \
                 pipeline_select task_group leak_report; do
    printf '\n$ %s\n' "$example"
    build-release/examples/$example || echo "(exit $?)"
  done
  exit 0
fi
cmake --build build-release -j"$(nproc)" --target spindle-server >/dev/null
exec build-release/server/spindle-server "$@"
