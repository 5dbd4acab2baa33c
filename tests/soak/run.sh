#!/usr/bin/env bash
# run.sh: the soak test with faults, as one command.
#
# Usage: tests/soak/run.sh SECONDS [--server PATH] [soak.py options...]
#   Without --server it builds spindle-server (RelWithDebInfo) in build-soak/ if needed.
#   Writes results/reliability/soak.json (and soak-SECONDSs.json); exits 1 if the soak failed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[[ ${1:-} =~ ^[0-9]+$ ]] || { echo "usage: tests/soak/run.sh SECONDS [--server PATH] [--burst N] [--seed N]" >&2; exit 2; }
SECS=$1; shift
SERVER=""
ARGS=()
while (( $# )); do
  case $1 in
    --server) SERVER=$2; shift 2 ;;
    --server=*) SERVER=${1#--server=}; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
if [[ -z $SERVER ]]; then
  cmake -S "$ROOT" -B "$ROOT/build-soak" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPINDLE_BUILD_BENCH=OFF >/dev/null
  cmake --build "$ROOT/build-soak" --target spindle-server -j"$(nproc)" >/dev/null
  SERVER=$ROOT/build-soak/server/spindle-server
fi
cd "$ROOT"
exec python3 -B "$ROOT/tests/soak/soak.py" "$SECS" --server "$SERVER" --out "$ROOT/results/reliability/soak.json" "${ARGS[@]}"
