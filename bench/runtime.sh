#!/usr/bin/env bash
# runtime.sh: spindle's fiber runtime beside Go's goroutines, same machine, same run.
#
# Usage: bench/runtime.sh [--quick]
#   RUNS=3 passes (--quick: 1); each runs spindle and Go in turn, in both modes, the order
#   swapping from pass to pass so drift hits both alike.
#   SPAWN=200000 IDLE=100000 FANOUT=50000 PINGPONG=200000 SEQ=50000 JOBS=1000000 REPS=3
#   REP_MS=500   problem sizes, the same for both (--quick: a third of each)
#   OUT=DIR      where rows and logs go (default results/bench/<time>-runtime/)
#
# Programs: bench/runtime/runtime_bench.cpp for spindle; bench/reference/go/microbench.go and
# chan_fanout.go (the Go twin of the fan-out jobs test) for Go. Two modes:
#   1 thread   pinned to cpu 1 (--threads 1 / GOMAXPROCS=1)
#   2 threads  unpinned (--threads 2, new fibers spread over both threads / GOMAXPROCS=2)
# The idle-memory test runs in a fresh process in both: later tests leave memory behind.
# Each group of runs (one program family, one mode) is measured as a whole for CPU used by
# others (tools/measure.sh) and run again once when noisy.
# Rows (run test server metric value) go to $OUT/runtime.tsv; the table is printed at the end.
set -euo pipefail
source "$(dirname "$0")/tools/bench_common.sh"
source "$ROOT/bench/tools/measure.sh"

# ---------------------------------------------------------------- one group (run as a child)
# runtime.sh --group WHO THREADS: runs the programs of one side in one mode, printing
# "metric value unit" lines; the parent measures this process as a whole.
if [[ ${1:-} == --group ]]; then
  who=$2 threads=$3 p=""
  ((threads == 1)) && p=$(pin 1)
  run() { $p "$@" || echo "# $(basename "$1") exited with status $?"; }  # the others still run
  if [[ $who == spindle ]]; then
    sp=(--threads "$threads" --spawn "$SPAWN" --fanout "$FANOUT" --pingpong "$PINGPONG" --seq "$SEQ"
        --jobs "$JOBS" --reps "$REPS" --rep-ms "$REP_MS")
    run "$BUILD/bench/runtime_bench" --threads "$threads" --idle "$IDLE" --only idle
    run "$BUILD/bench/runtime_bench" "${sp[@]}" --skip idle
  else
    export GOMAXPROCS=$threads
    run "$BUILD/go/microbench" -idle "$IDLE" -only idle
    for t in spawn chan ctx wg; do
      run "$BUILD/go/microbench" -only $t -spawn "$SPAWN" -fanout "$FANOUT" -pingpong "$PINGPONG" \
        -seq "$SEQ" -reps "$REPS"
    done
    run "$BUILD/go/chan_fanout" -jobs "$JOBS" -reps "$REPS"
  fi
  exit 0
fi

QUICK=0
case ${1:-} in
  --quick) QUICK=1 ;;
  "") ;;
  *) die "unknown argument $1 (use --quick)" ;;
esac
q() { if ((QUICK)); then echo $(($1 / 3)); else echo "$1"; fi; }
export SPAWN=${SPAWN:-$(q 200000)} IDLE=${IDLE:-$(q 100000)} FANOUT=${FANOUT:-$(q 50000)}
export PINGPONG=${PINGPONG:-$(q 200000)} SEQ=${SEQ:-$(q 50000)} JOBS=${JOBS:-$(q 1000000)}
export REPS=${REPS:-3} REP_MS=${REP_MS:-$(q 500)}
((QUICK)) && RUNS=${RUNS:-1}
RUNS=${RUNS:-3}

build_spindle runtime_bench
build_go microbench chan_fanout
export BUILD

results_dir runtime
ROWS=$OUT/runtime.tsv
: >"$ROWS"
{
  echo "machine: $(machine_line)"
  echo "software: $(versions_line)"
  echo "runtime: RUNS=$RUNS SPAWN=$SPAWN IDLE=$IDLE FANOUT=$FANOUT PINGPONG=$PINGPONG SEQ=$SEQ JOBS=$JOBS REPS=$REPS REP_MS=$REP_MS"
} >>"$OUT/env.txt"

group() {  # WHO THREADS TEST
  local who=$1 threads=$2 test=$3 logf="$OUT/logs/$3.$1.run$RUN.log"
  run_measured "$logf" "$ROOT/bench/runtime.sh" --group "$who" "$threads" || true
  local m v _
  while read -r m v _; do
    [[ $m == \#* || -z $m || $m == idle_fibers || $m == idle_goroutines ]] && continue
    [[ $v =~ ^[0-9.e+-]+$ ]] && row "$test" "$who" "$m" "$v"
  done <"$logf"
  log "  $test $who: $(wc -l <"$logf") lines in ${WALL}s (CPU ${CLI_CPU}%, other ${OTHER_CPU}%)"
}

for ((RUN = 1; RUN <= RUNS; RUN++)); do
  for threads in 1 2; do
    test=runtime-${threads}t
    order=(spindle go)
    ((RUN % 2)) || order=(go spindle)
    for who in "${order[@]}"; do
      log "pass $RUN/$RUNS: $test $who"
      measured "$test" "$who" group "$who" "$threads" "$test"
    done
  done
done

if [[ -z ${REPORT_SH:-} ]]; then  # on its own: print the table; report.sh makes its own
  python3 "$ROOT/bench/tools/table.py" "$OUT" | tee "$OUT/summary.md"
  log "results in $OUT"
fi
