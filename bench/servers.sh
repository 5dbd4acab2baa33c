#!/usr/bin/env bash
# servers.sh: spindle-server beside the reference servers (Go, raw Asio), same machine, same
# load generator, same run, servers alternating so drift hits all alike.
#
# Usage: bench/servers.sh [--quick] [SECTIONS...]      SECTIONS: echo idle (default: both)
#   RUNS=3 DUR=10 WARM=2 IDLE_CONNS=10000     (--quick: RUNS=1 DUR=3 WARM=1 IDLE_CONNS=2000)
#
# echo: each server on one thread pinned to cpu 1, the Go closed-loop load generator
#       (../shared/bench/go/echo_load.go) pinned to cpu 0; 64 and 1000 connections, 64 B
#       messages. Reports round trips/s, p50/p99 and the server's CPU time per round trip
#       (the figure that still separates servers when the client saturates its core).
# idle: a fresh server; IDLE_CONNS connections each do one round trip and then idle;
#       reports the server's RSS growth per connection.
# The table (medians over passes, min-max, ratios to Go and to Asio) is printed and written
# to $BUILD/results/servers-<time>/summary.md.
set -euo pipefail
source "$(dirname "$0")/tools/bench_common.sh"

QUICK=0
SECTIONS=()
for a in "$@"; do
  case $a in
    --quick) QUICK=1 ;;
    echo|idle) SECTIONS+=("$a") ;;
    *) die "unknown argument $a (use --quick, echo, idle)" ;;
  esac
done
((${#SECTIONS[@]})) || SECTIONS=(echo idle)
if ((QUICK)); then RUNS=${RUNS:-1} DUR=${DUR:-3} WARM=${WARM:-1} IDLE_CONNS=${IDLE_CONNS:-2000}; fi
RUNS=${RUNS:-3} DUR=${DUR:-10} WARM=${WARM:-2} IDLE_CONNS=${IDLE_CONNS:-10000}
PORT=${PORT:-19500}
CLK_TCK=$(getconf CLK_TCK)
SERVER_PIN=$(pin 1)
CLIENT_PIN=$(pin 0)

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(( $(ulimit -n) >= IDLE_CONNS + 100 )) || die "ulimit -n $(ulimit -n) is below IDLE_CONNS=$IDLE_CONNS"

build_spindle spindle-server
build_go echo_server echo_load
mkdir -p "$BUILD/asio"
for p in echo_server; do
  [[ -x $BUILD/asio/$p && $BUILD/asio/$p -nt $SHARED_BENCH/asio/$p.cpp ]] ||
    g++ -O2 -std=c++20 -DASIO_NO_DEPRECATED -pthread -o "$BUILD/asio/$p" "$SHARED_BENCH/asio/$p.cpp"
done

OUT=$BUILD/results/servers-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
ROWS=$OUT/rows.tsv
: >"$ROWS"

SERVER_PID=""
stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
trap stop_server EXIT

start_server() {  # name
  local name=$1
  case $name in
    spindle) $SERVER_PIN "$BUILD/server/spindle-server" --echo "127.0.0.1:$PORT" --threads 1 \
               --log-level warn --echo-idle-timeout 10m --echo-max-connections 100000 & ;;
    go) GOMAXPROCS=1 $SERVER_PIN "$BUILD/go/echo_server" -addr "127.0.0.1:$PORT" & ;;
    asio) $SERVER_PIN "$BUILD/asio/echo_server" --port "$PORT" --threads 1 & ;;
    *) die "unknown server $name" ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
    sleep 0.05
  done
  die "$name did not start listening on $PORT"
}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$RUN" "$1" "$2" "$3" "$4" >>"$ROWS"; }  # test server metric value

echo_test() {  # server conns
  local name=$1 conns=$2 logf="$OUT/$1.echo-c$2.run$RUN.log"
  $CLIENT_PIN env GOMAXPROCS=1 "$BUILD/go/echo_load" -addr "127.0.0.1:$PORT" -conns "$conns" \
    -size 64 -duration "${WARM}s" >/dev/null 2>&1 || true
  local t0 t1; t0=$(ticks "$SERVER_PID")
  $CLIENT_PIN env GOMAXPROCS=1 "$BUILD/go/echo_load" -addr "127.0.0.1:$PORT" -conns "$conns" \
    -size 64 -duration "${DUR}s" >"$logf" 2>&1
  t1=$(ticks "$SERVER_PID")
  local line; line=$(grep '^echo_load ' "$logf") || { log "no result in $logf"; return; }
  get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
  local rts; rts=$(get round_trips)
  row "echo-c$conns" "$name" rt_per_s "$(get rt_per_s)"
  row "echo-c$conns" "$name" p50_us "$(get p50_us)"
  row "echo-c$conns" "$name" p99_us "$(get p99_us)"
  row "echo-c$conns" "$name" errors "$(get errors)"
  row "echo-c$conns" "$name" srv_us_per_rt "$(awk -v t=$((t1 - t0)) -v h="$CLK_TCK" -v n="$rts" 'BEGIN{printf "%.2f", t / h / n * 1e6}')"
  log "  echo c$conns $name: $(get rt_per_s) rt/s p99 $(get p99_us)us cpu/rt $(awk -v t=$((t1 - t0)) -v h="$CLK_TCK" -v n="$rts" 'BEGIN{printf "%.2f", t / h / n * 1e6}')us"
}

idle_test() {  # server
  local name=$1 logf="$OUT/$1.idle.run$RUN.log"
  start_server "$name"
  sleep 0.5
  local before; before=$(rss_kb "$SERVER_PID")
  $CLIENT_PIN env GOMAXPROCS=1 "$BUILD/go/echo_load" -addr "127.0.0.1:$PORT" -idle "$IDLE_CONNS" \
    -hold 120s >"$logf" 2>&1 &
  local client=$! ok=0
  for _ in $(seq 1200); do
    grep -q '^READY' "$logf" && { ok=1; break; }
    kill -0 "$client" 2>/dev/null || break
    sleep 0.1
  done
  if ((ok)); then
    sleep 1
    local after open; after=$(rss_kb "$SERVER_PID")
    open=$(sed -n 's/^READY .* open=\([0-9]*\) .*/\1/p' "$logf")
    row idle "$name" rss_per_conn_B "$(awk -v a="$before" -v b="$after" -v n="$open" 'BEGIN{printf "%.0f", (b - a) * 1024 / n}')"
    row idle "$name" open_conns "$open"
    log "  idle $name: RSS $before -> $after kB over $open connections"
  else
    log "  idle $name: client never became READY (see $logf)"
  fi
  kill -TERM "$client" 2>/dev/null || true
  wait "$client" 2>/dev/null || true
  stop_server
}

{
  echo "# spindle-server vs reference servers ($(date -u +%Y-%m-%dT%H:%MZ), $RUNS pass(es), ${DUR}s per test)"
  echo
  machine_line
  echo "servers on one thread pinned to cpu 1, load generator pinned to cpu 0"
} >"$OUT/env.txt"

for ((RUN = 1; RUN <= RUNS; RUN++)); do
  if [[ " ${SECTIONS[*]} " == *" echo "* ]]; then
    for server in spindle go asio; do
      log "pass $RUN/$RUNS: echo $server"
      start_server "$server"
      echo_test "$server" 64
      echo_test "$server" 1000
      stop_server
    done
  fi
  if [[ " ${SECTIONS[*]} " == *" idle "* ]]; then
    for server in spindle go asio; do
      log "pass $RUN/$RUNS: idle $server"
      idle_test "$server"
    done
  fi
done

{ cat "$OUT/env.txt"; echo; python3 "$ROOT/bench/tools/servers_table.py" "$ROWS"; } | tee "$OUT/summary.md"
log "results in $OUT"
