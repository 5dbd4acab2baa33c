#!/usr/bin/env bash
# run.sh: builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a while,
# one after the other (a fuzzer takes a whole core).
#
# Usage: fuzz/run.sh [SECONDS [TARGET...]]     (default: 60 s, every target)
#   targets: http_parser chunked_decoder config_loader   (a "_fuzz" suffix is accepted)
#
# Each target fuzzes a working corpus in build-fuzz/corpus/<target>/, seeded from the
# checked-in fuzz/corpus/<target>/ (which is never modified), with fuzz/<dict> as dictionary.
# A machine-readable summary of each run goes to results/reliability/fuzz-<target>.json:
#   {"target", "seconds", "execs", "new_units", "crashes", ...}
# Crash, leak, timeout and out-of-memory inputs go to build-fuzz/crashes/<target>-*; any new
# one makes the script exit 1 (after the remaining targets have run).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_TARGET=${1:-60}
shift || true
OUT=$ROOT/build-fuzz
RESULTS=$ROOT/results/reliability
ALL_TARGETS=(http_parser chunked_decoder config_loader)
command -v clang++ >/dev/null || { echo "fuzz/run.sh: clang++ not found (scripts/install-deps.sh test installs it)" >&2; exit 1; }
[[ $SECONDS_PER_TARGET =~ ^[0-9]+$ ]] || { echo "fuzz/run.sh: SECONDS must be a whole number" >&2; exit 2; }
mkdir -p "$OUT/crashes" "$RESULTS"

targets=()
(( $# > 0 )) || set -- "${ALL_TARGETS[@]}"
for t in "$@"; do
  t=${t%_fuzz}
  [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "fuzz/run.sh: unknown target $t (${ALL_TARGETS[*]})" >&2; exit 2; }
  targets+=("$t")
done

build() {  # target sources...
  local target=$1; shift
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -DASIO_NO_DEPRECATED -DTOML_EXCEPTIONS=1 \
    -I"$ROOT/server/http/include" -I"$ROOT/config/include" "$@" -o "$OUT/${target}_fuzz"
}

sources() {  # target -> its sources
  case $1 in
    http_parser) echo "$ROOT/fuzz/http_parser_fuzz.cpp $ROOT/server/http/src/parser.cpp" ;;
    chunked_decoder) echo "$ROOT/fuzz/chunked_decoder_fuzz.cpp $ROOT/server/http/src/parser.cpp" ;;
    config_loader) echo "$ROOT/fuzz/config_loader_fuzz.cpp $ROOT/config/src/config.cpp $ROOT/config/src/values.cpp" ;;
  esac
}

dictionary() {
  case $1 in
    http_parser) echo "$ROOT/fuzz/http.dict" ;;
    chunked_decoder) echo "$ROOT/fuzz/chunked.dict" ;;
    config_loader) echo "$ROOT/fuzz/config.dict" ;;
  esac
}

# The value of libFuzzer's final "stat::NAME: N" line in a log (0 if absent).
stat() { grep -oE "^stat::$1: *[0-9]+" "$2" | tail -1 | grep -oE '[0-9]+$' || echo 0; }

failed=0
for t in "${targets[@]}"; do
  # shellcheck disable=SC2046  # the source list is split on purpose
  build "$t" $(sources "$t")
  corpus=$OUT/corpus/$t
  mkdir -p "$corpus"
  cp -n "$ROOT/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null || true
  before=$(find "$OUT/crashes" -name "$t-*" | wc -l)
  log=$OUT/$t.log
  echo "== $t for ${SECONDS_PER_TARGET}s (log: $log)"
  start=$(date +%s)
  # libFuzzer exits non-zero on a finding; the artifacts decide below.
  "$OUT/${t}_fuzz" "$corpus" -dict="$(dictionary "$t")" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
    -artifact_prefix="$OUT/crashes/$t-" -print_final_stats=1 >"$log" 2>&1 || true
  elapsed=$(( $(date +%s) - start ))
  crashes=$(( $(find "$OUT/crashes" -name "$t-*" | wc -l) - before ))
  execs=$(stat number_of_executed_units "$log")
  new_units=$(stat new_units_added "$log")
  corpus_size=$(find "$corpus" -type f | wc -l)
  grep -E "^#[0-9]+ *DONE|ERROR|mismatch|finding|SUMMARY" "$log" || true
  cat >"$RESULTS/fuzz-$t.json" <<EOF
{"target": "$t", "seconds": $elapsed, "seconds_requested": $SECONDS_PER_TARGET, "execs": $execs, "new_units": $new_units, "crashes": $crashes, "corpus_files": $corpus_size, "seeds": $(find "$ROOT/fuzz/corpus/$t" -type f | wc -l), "finished_at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "clang": "$(clang++ --version | head -1 | sed 's/"/\\"/g')"}
EOF
  echo "$t: $execs executions in ${elapsed}s, $new_units new units, $crashes crash inputs -> $RESULTS/fuzz-$t.json"
  if (( crashes > 0 )); then
    echo "$t: crash inputs in $OUT/crashes:" >&2
    find "$OUT/crashes" -name "$t-*" -newer "$OUT/${t}_fuzz" >&2
    failed=1
  fi
done
exit "$failed"
