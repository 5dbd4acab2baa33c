#!/usr/bin/env bash
# run.sh: builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a while.
#
# Usage: fuzz/run.sh [SECONDS]        (default 60 per target)
# Crashes are written to build-fuzz/crashes/ and make the script fail; new inputs found are
# added to build-fuzz/corpus/ (the checked-in seeds in fuzz/corpus/ are not modified).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_TARGET=${1:-60}
OUT=$ROOT/build-fuzz
command -v clang++ >/dev/null || { echo "fuzz/run.sh: clang++ not found (scripts/install-deps.sh test installs it)" >&2; exit 1; }
mkdir -p "$OUT/crashes"

build() {  # target sources...
  local target=$1; shift
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$ROOT/server/http/include" -I"$ROOT/config/include" "$@" -o "$OUT/$target"
}

build http_parser_fuzz "$ROOT/fuzz/http_parser_fuzz.cpp" "$ROOT/server/http/src/parser.cpp"

for target in http_parser_fuzz; do
  corpus=$OUT/corpus/${target%_fuzz}
  mkdir -p "$corpus"
  cp -n "$ROOT/fuzz/corpus/${target%_fuzz}/"* "$corpus/" 2>/dev/null || true
  echo "== $target for ${SECONDS_PER_TARGET}s"
  "$OUT/$target" "$corpus" -dict="$ROOT/fuzz/http.dict" -max_total_time="$SECONDS_PER_TARGET" \
    -artifact_prefix="$OUT/crashes/$target-" -print_final_stats=1 2>&1 | \
    grep -E "^#[0-9]+ *DONE|stat::number_of_executed_units|stat::new_units_added|ERROR|mismatch" || true
  if ls "$OUT/crashes/$target-"* >/dev/null 2>&1; then
    echo "$target: crash inputs in $OUT/crashes" >&2
    exit 1
  fi
done
