# bench_common.sh: shared helpers of spindle's benchmark scripts (sourced, not run).
# Builds spindle in Release into $BUILD (default build-bench/ at the project root) and the Go
# reference programs of ../shared/bench/go into $BUILD/go.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
SHARED_BENCH=${SHARED_BENCH:-$ROOT/../shared/bench}

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

build_spindle() {  # targets...
  "$ROOT/scripts/install-deps.sh" bench >&2
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSPINDLE_BUILD_TESTS=OFF \
    -DSPINDLE_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target "$@" >&2
}

build_go() {  # program names of $SHARED_BENCH/go, without .go
  [[ -d $SHARED_BENCH/go ]] || die "reference programs not found in $SHARED_BENCH/go (set SHARED_BENCH)"
  mkdir -p "$BUILD/go"
  export GOCACHE=${GOCACHE:-$BUILD/go/.cache} GO111MODULE=off
  local p
  for p in "$@"; do
    [[ -x $BUILD/go/$p && $BUILD/go/$p -nt $SHARED_BENCH/go/$p.go ]] && continue
    (cd "$SHARED_BENCH/go" && go build -o "$BUILD/go/$p" "$p.go") >&2
  done
}

build_go_own() {  # program names of the project's bench/go, without .go
  mkdir -p "$BUILD/go"
  export GOCACHE=${GOCACHE:-$BUILD/go/.cache} GO111MODULE=off
  local p
  for p in "$@"; do
    [[ -x $BUILD/go/$p && $BUILD/go/$p -nt $ROOT/bench/go/$p.go ]] && continue
    (cd "$ROOT/bench/go" && go build -o "$BUILD/go/$p" "$p.go") >&2
  done
}

# Pinning: the measured program on cpu 1 (the load generator, when there is one, on cpu 0).
pin() { if taskset -c 1 true 2>/dev/null; then echo "taskset -c $1"; fi; }

machine_line() {
  echo "machine: $(nproc) cpus, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(uname -sr)"
}
