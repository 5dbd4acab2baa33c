#!/usr/bin/env bash
# check.sh: lean_echo_load against a real spindle-server. 64 connections with 64 B and with
# 4 KiB messages must make round trips with every echo byte-exact; a client that cannot connect
# and one given a bad flag must fail (exit 1 and 2); the server must then drain on SIGTERM and
# exit 0 with every fiber ended. Run by CTest (bench/CMakeLists.txt).
# Usage: bench/load/check.sh SPINDLE_SERVER LEAN_ECHO_LOAD
set -euo pipefail
server=$1 client=$2
log=$(mktemp)
pid=""
cleanup() { [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null; rm -f "$log"; }
trap cleanup EXIT
fail() { echo "check.sh: $*" >&2; cat "$log" >&2; exit 1; }

"$server" --echo 127.0.0.1:0 --http-enabled false --threads 2 --log-format text >"$log" 2>&1 &
pid=$!
addr=""
for _ in $(seq 100); do
  addr=$(sed -n 's/.*echo listening on \(.*\)$/\1/p' "$log")
  [[ -n $addr ]] && break
  sleep 0.1
done
[[ -n $addr ]] || fail "spindle-server did not report its echo address"

for size in 64 4096; do
  line=$("$client" -addr "$addr" -conns 64 -size "$size" -warmup 0.2 -duration 1) ||
    fail "lean_echo_load failed at $size B: $line"
  echo "$line"
  [[ $line =~ round_trips=([0-9]+) ]] && ((BASH_REMATCH[1] > 100)) || fail "too few round trips at $size B"
  [[ $line == *" errors=0 "* ]] || fail "errors at $size B"
done

set +e
"$client" -addr 127.0.0.1:1 -conns 1 -duration 0.1 2>/dev/null
[[ $? == 1 ]] || fail "a client that cannot connect did not exit 1"
"$client" -addr "$addr" -bogus 1 2>/dev/null
[[ $? == 2 ]] || fail "a bad flag did not exit 2"
set -e

kill -TERM "$pid"
wait "$pid" || fail "spindle-server exited $? after SIGTERM"
pid=""
grep -q "every fiber ended" "$log" || fail "spindle-server did not report every fiber ended"
echo "check.sh: ok"
