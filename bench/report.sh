#!/usr/bin/env bash
# report.sh: spindle's side-by-side performance report in one command. Builds spindle
# (Release) and the reference programs, installs what is missing (scripts/install-deps.sh
# bench), runs the server sections (bench/servers.sh: HTTP, TCP echo, idle memory) and the
# runtime section (bench/runtime.sh), then writes the table and the chart.
#
# Usage: bench/report.sh [--quick] [--publish | --no-publish]
#   default       3 passes: about 10 minutes of measuring after the build (2 cores); publishes
#                 docs/BENCHMARKS.md and docs/benchmarks.svg
#   --quick       1 short pass: about 3 minutes after the build; publishes only with --publish
#   --no-publish  leave docs/ alone
# Everything lands in results/bench/<time>/: summary.md (the tables), benchmarks.svg (the
# chart), BENCHMARKS.md (the page), the raw rows and the logs. The sections' own settings
# (RUNS, DUR, NOISY_PCT, ...: see their headers) pass through the environment.
#
# Time: a test measured while other work used the CPU is measured again once (tools/
# measure.sh), within a time allowance per section (RERUNS_S: servers, then runtime), so a
# busy machine makes the report noisier rather than much longer.
set -euo pipefail
source "$(dirname "$0")/tools/bench_common.sh"

QUICK=0 PUBLISH=""
for a in "$@"; do
  case $a in
    --quick) QUICK=1 ;;
    --publish) PUBLISH=1 ;;
    --no-publish) PUBLISH=0 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d'; exit 0 ;;
    *) die "unknown argument $a (use --quick, --publish, --no-publish)" ;;
  esac
done
[[ -n $PUBLISH ]] || PUBLISH=$((1 - QUICK))
MODE=$([[ $QUICK == 1 ]] && echo quick || echo full)
QARG=()
((QUICK)) && QARG=(--quick)
START=$EPOCHSECONDS

# Seconds each section may spend re-measuring noisy tests (servers, runtime).
if ((QUICK)); then RERUNS_S=${RERUNS_S:-"10 5"}; else RERUNS_S=${RERUNS_S:-"60 20"}; fi
read -r SERVERS_RERUN_S RUNTIME_RERUN_S <<<"$RERUNS_S"

export OUT=${OUT:-$ROOT/results/bench/$(date +%Y%m%d-%H%M%S)}
export REPORT_SH=1
mkdir -p "$OUT/logs"
log "report ($MODE) into $OUT"

# Everything is built first, in one go, so the sections find it ready.
install_deps
log "building spindle (Release) into $BUILD and the reference programs"
build_spindle spindle-server runtime_bench
build_go echo_server echo_load http_server microbench chan_fanout
build_asio echo_server http_server
export SKIP_BUILD=1
BUILD_S=$((EPOCHSECONDS - START))
log "built in ${BUILD_S}s"

COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
  COMMIT="$COMMIT (with uncommitted changes)"
fi

RERUN_BUDGET_S=$SERVERS_RERUN_S "$ROOT/bench/servers.sh" "${QARG[@]}"
RERUN_BUDGET_S=$RUNTIME_RERUN_S "$ROOT/bench/runtime.sh" "${QARG[@]}"

python3 "$ROOT/bench/tools/table.py" "$OUT" >"$OUT/summary.md"
python3 "$ROOT/bench/tools/chart.py" "$OUT" "$MODE run, $(nproc) cpus, $(date -u +%Y-%m-%d)"
WALL=$((EPOCHSECONDS - START))
python3 "$ROOT/bench/tools/document.py" "$OUT" "$MODE" "$WALL" "$BUILD_S" "$COMMIT" benchmarks.svg >"$OUT/BENCHMARKS.md"

cat "$OUT/summary.md"
if ((PUBLISH)); then
  mkdir -p "$ROOT/docs"
  cp "$OUT/BENCHMARKS.md" "$ROOT/docs/BENCHMARKS.md"
  cp "$OUT/benchmarks.svg" "$ROOT/docs/benchmarks.svg"
  log "published docs/BENCHMARKS.md and docs/benchmarks.svg"
fi
log "report ($MODE) done in $((WALL / 60))m$((WALL % 60))s: $OUT"
