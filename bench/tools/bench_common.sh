# bench_common.sh: what spindle's benchmark scripts share (sourced, not run): paths, logging,
# building spindle (Release) and the reference programs of bench/reference/, CPU pinning and
# the description of the machine.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
REF=$ROOT/bench/reference

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# A fresh results folder, unless the caller (bench/report.sh) passes one in OUT.
results_dir() {  # name
  OUT=${OUT:-$ROOT/results/bench/$(date +%Y%m%d-%H%M%S)-$1}
  mkdir -p "$OUT/logs"
}

# The Debian packages of the bench profile, checked once per run: report.sh exports
# BENCH_DEPS_DONE so the sections it calls do not check again.
install_deps() {
  [[ -n ${BENCH_DEPS_DONE:-} ]] && return 0
  "$ROOT/scripts/install-deps.sh" bench >&2
  export BENCH_DEPS_DONE=1
}

# SKIP_BUILD=1 reuses what is in $BUILD as it is (re-measuring without rebuilding, e.g. while
# others edit the sources of a shared checkout).
build_spindle() {  # cmake targets...
  [[ -n ${SKIP_BUILD:-} ]] && return 0
  install_deps
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSPINDLE_BUILD_TESTS=OFF \
    -DSPINDLE_BUILD_EXAMPLES=OFF -DSPINDLE_BUILD_BENCH=ON >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target "$@" >&2
}

build_go() {  # programs of bench/reference/go, without .go -> $BUILD/go/<name>
  [[ -n ${SKIP_BUILD:-} ]] && return 0
  install_deps
  mkdir -p "$BUILD/go"
  # The references are single-file programs on the standard library alone: no module needed.
  export GOCACHE=${GOCACHE:-$BUILD/go/.cache} GO111MODULE=off
  local p
  for p in "$@"; do
    [[ -x $BUILD/go/$p && $BUILD/go/$p -nt $REF/go/$p.go ]] && continue
    log "building go/$p"
    (cd "$REF/go" && go build -o "$BUILD/go/$p" "$p.go") >&2
  done
}

build_asio() {  # programs of bench/reference/asio, without .cpp -> $BUILD/asio/<name>
  [[ -n ${SKIP_BUILD:-} ]] && return 0
  install_deps
  mkdir -p "$BUILD/asio"
  local p
  for p in "$@"; do
    [[ -x $BUILD/asio/$p && $BUILD/asio/$p -nt $REF/asio/$p.cpp && $BUILD/asio/$p -nt $REF/asio/common.hpp ]] && continue
    log "building asio/$p"
    g++ -O2 -std=c++20 -DASIO_NO_DEPRECATED -pthread -o "$BUILD/asio/$p" "$REF/asio/$p.cpp"
  done
}

# Pinning: the measured program on cpu 1, the load generator (when there is one) on cpu 0.
# Prints nothing where taskset is missing or not allowed, so the commands still run unpinned.
pin() { if taskset -c "$1" true 2>/dev/null; then echo "taskset -c $1"; fi; }

machine_line() {
  echo "$(nproc) cpus, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)," \
    "$(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
}

versions_line() {
  echo "$(g++ --version | head -1 | awk '{print "g++", $NF}'), asio $(awk '/define ASIO_VERSION /{print $3}' /usr/include/asio/version.hpp 2>/dev/null)," \
    "$(go version 2>/dev/null | awk '{print $3}'), $(nginx -v 2>&1 | sed 's|.*nginx/|nginx |')," \
    "$(wrk -v 2>&1 | head -1 | awk '{print "wrk", $2}')"
}
