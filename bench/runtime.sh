#!/usr/bin/env bash
# runtime.sh: spindle's fiber runtime beside Go's goroutines, same machine, same run.
#
# Usage: bench/runtime.sh [--quick]
#   RUNS=3   passes; each runs spindle and Go alternately, so drift hits both alike
#
# Runs ../shared/bench/go/microbench.go, bench/go/chan_fanout.go (the Go twin of the fan-out
# jobs test) and bench/runtime/runtime_bench.cpp twice per pass:
# pinned to one cpu with one thread (GOMAXPROCS=1 / --threads 1) and unpinned with two
# (GOMAXPROCS=2 / --threads 2, new fibers spread over both threads). Prints a markdown table
# of medians (min-max) and spindle/Go ratios; lower is better for every metric. Raw output
# goes to $BUILD/results/runtime-<time>/.
set -euo pipefail
source "$(dirname "$0")/tools/bench_common.sh"

RUNS=${RUNS:-3}
ARGS=()
if [[ ${1:-} == --quick ]]; then
  RUNS=1
  ARGS=(--spawn 200000 --jobs 200000 --reps 3)
  GO_ARGS=(-spawn 200000 -reps 3)
  JOBS_ARGS=(-jobs 200000 -reps 3)
fi

build_spindle runtime_bench
build_go microbench
build_go_own chan_fanout
OUT=$BUILD/results/runtime-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"

for ((run = 1; run <= RUNS; run++)); do
  for mode in P1 P2; do
    if [[ $mode == P1 ]]; then pinning=$(pin 1); threads=1; else pinning=""; threads=2; fi
    log "pass $run/$RUNS $mode: spindle"
    # The idle test runs in a fresh process in both programs: later tests leave memory behind.
    { $pinning "$BUILD/bench/runtime_bench" --threads $threads --only idle
      $pinning "$BUILD/bench/runtime_bench" --threads $threads ${ARGS[@]+"${ARGS[@]}"} --skip idle
    } >"$OUT/spindle-$mode-$run.txt"
    log "pass $run/$RUNS $mode: go"
    { GOMAXPROCS=$threads $pinning "$BUILD/go/microbench" -only idle
      for t in spawn chan ctx wg; do
        GOMAXPROCS=$threads $pinning "$BUILD/go/microbench" -only $t ${GO_ARGS[@]+"${GO_ARGS[@]}"}
      done
      GOMAXPROCS=$threads $pinning "$BUILD/go/chan_fanout" ${JOBS_ARGS[@]+"${JOBS_ARGS[@]}"}
    } >"$OUT/go-$mode-$run.txt"
  done
done

{
  echo "# spindle runtime vs Go ($(date -u +%Y-%m-%d), $RUNS pass(es))"
  echo
  machine_line
  echo "go: $(go version | awk '{print $3}'), spindle: Release build"
  echo
  python3 "$ROOT/bench/tools/runtime_table.py" "$OUT"
} | tee "$OUT/summary.md"
log "results in $OUT"
