#!/usr/bin/env bash
# servers.sh: spindle-server beside the reference servers (Go, raw Asio), same machine, same
# load generator, same run, servers alternating so drift hits all alike.
#
# Usage: bench/servers.sh [--quick] [SECTIONS...]      SECTIONS: echo http idle (default: all)
#   RUNS=3 DUR=10 WARM=2 IDLE_CONNS=10000     (--quick: RUNS=1 DUR=3 WARM=1 IDLE_CONNS=2000)
#
# echo: each server on one thread pinned to cpu 1, the Go closed-loop load generator
#       (../shared/bench/go/echo_load.go) pinned to cpu 0; 64 and 1000 connections, 64 B
#       messages. Reports round trips/s, p50/p99 and the server's CPU time per round trip
#       (the figure that still separates servers when the client saturates its core).
# http: spindle-server's HTTP service, Go net/http, the raw-Asio minimal server and nginx, each
#       on one thread (nginx: one worker) pinned to cpu 1, wrk -t1 pinned to cpu 0: GET /
#       keep-alive at 64 and 1000 connections, and 16-deep pipelined at 64; h2load -c64 as a
#       second opinion. Requests/s, p50/p99/p99.9, server CPU per request.
# idle: a fresh server; IDLE_CONNS connections each do one round trip (echo) or one
#       keep-alive GET (http) and then idle; reports the server's RSS growth per connection.
# The table (medians over passes, min-max, ratios to Go and to Asio) is printed and written
# to $BUILD/results/servers-<time>/summary.md.
set -euo pipefail
source "$(dirname "$0")/tools/bench_common.sh"

QUICK=0
SECTIONS=()
for a in "$@"; do
  case $a in
    --quick) QUICK=1 ;;
    echo|http|idle) SECTIONS+=("$a") ;;
    *) die "unknown argument $a (use --quick, echo, http, idle)" ;;
  esac
done
((${#SECTIONS[@]})) || SECTIONS=(echo http idle)
if ((QUICK)); then RUNS=${RUNS:-1} DUR=${DUR:-3} WARM=${WARM:-1} IDLE_CONNS=${IDLE_CONNS:-2000}; fi
RUNS=${RUNS:-3} DUR=${DUR:-10} WARM=${WARM:-2} IDLE_CONNS=${IDLE_CONNS:-10000}
PORT=${PORT:-19500}
CLK_TCK=$(getconf CLK_TCK)
SERVER_PIN=$(pin 1)
CLIENT_PIN=$(pin 0)

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(( $(ulimit -n) >= IDLE_CONNS + 100 )) || die "ulimit -n $(ulimit -n) is below IDLE_CONNS=$IDLE_CONNS"

build_spindle spindle-server
build_go echo_server echo_load http_server
mkdir -p "$BUILD/asio"
for p in echo_server http_server; do
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
server_pids() { echo "$SERVER_PID" $(pgrep -P "$SERVER_PID" 2>/dev/null); }  # nginx: master + worker
trap stop_server EXIT

start_server() {  # name
  local name=$1
  case $name in
    spindle) $SERVER_PIN "$BUILD/server/spindle-server" --echo "127.0.0.1:$PORT" --threads 1 \
               --log-level warn --echo-idle-timeout 10m --echo-max-connections 100000 & ;;
    go) GOMAXPROCS=1 $SERVER_PIN "$BUILD/go/echo_server" -addr "127.0.0.1:$PORT" & ;;
    asio) $SERVER_PIN "$BUILD/asio/echo_server" --port "$PORT" --threads 1 & ;;
    spindle-http) $SERVER_PIN "$BUILD/server/spindle-server" --http "127.0.0.1:$PORT" --echo-enabled false \
                    --threads 1 --log-level warn --http-access-log false --http-idle-timeout 10m \
                    --http-max-connections 100000 & ;;
    go-http) GOMAXPROCS=1 $SERVER_PIN "$BUILD/go/http_server" -addr "127.0.0.1:$PORT" & ;;
    asio-http) $SERVER_PIN "$BUILD/asio/http_server" --port "$PORT" --threads 1 & ;;
    nginx)
      local prefix="$OUT/nginx"
      mkdir -p "$prefix/tmp"
      sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$PORT|g" -e "s|@WORKERS@|1|g" \
        "$SHARED_BENCH/nginx/nginx.conf.in" >"$prefix/nginx.conf"
      $SERVER_PIN nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" & ;;
    *) die "unknown server $name" ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
    sleep 0.05
  done
  die "$name did not start listening on $PORT"
}

ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }
rss_kb() { local t=0 p; for p in "$@"; do t=$((t + $(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo $t; }
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$RUN" "$1" "$2" "$3" "$4" >>"$ROWS"; }  # test server metric value

echo_test() {  # server conns
  local name=$1 conns=$2 logf="$OUT/$1.echo-c$2.run$RUN.log"
  $CLIENT_PIN env GOMAXPROCS=1 "$BUILD/go/echo_load" -addr "127.0.0.1:$PORT" -conns "$conns" \
    -size 64 -duration "${WARM}s" >/dev/null 2>&1 || true
  local t0 t1; t0=$(ticks $(server_pids))
  $CLIENT_PIN env GOMAXPROCS=1 "$BUILD/go/echo_load" -addr "127.0.0.1:$PORT" -conns "$conns" \
    -size 64 -duration "${DUR}s" >"$logf" 2>&1
  t1=$(ticks $(server_pids))
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

to_us() {  # wrk latency "206.00us" "1.2ms" "1.5s" -> microseconds
  awk -v x="$1" 'BEGIN{ v = x + 0; if (x ~ /us$/) m = 1; else if (x ~ /ms$/) m = 1000; else if (x ~ /s$/) m = 1000000; else m = 1; printf "%.1f", v*m }'
}

wrk_test() {  # server test-name conns [pipeline]
  local name=$1 test=$2 conns=$3 script=() logf="$OUT/$1.$2.run$RUN.log"
  [[ ${4:-} == pipeline ]] && script=(-s "$ROOT/bench/tools/pipeline.lua")
  $CLIENT_PIN wrk -t1 -c"$conns" -d"${WARM}s" "${script[@]}" "http://127.0.0.1:$PORT/" >/dev/null 2>&1 || true
  local t0 t1; t0=$(ticks $(server_pids))
  $CLIENT_PIN wrk -t1 -c"$conns" -d"${DUR}s" --latency "${script[@]}" "http://127.0.0.1:$PORT/" >"$logf" 2>&1
  t1=$(ticks $(server_pids))
  local rps total errs
  rps=$(awk '/^Requests\/sec:/{print $2}' "$logf")
  total=$(awk '/ requests in /{print $1}' "$logf")
  errs=$(awk '/Socket errors:/{gsub(",",""); s+=$4+$6+$8+$10} /Non-2xx or 3xx/{s+=$NF} END{print s+0}' "$logf")
  [[ -n $rps ]] || { log "no wrk result in $logf"; return; }
  row "$test" "$name" req_per_s "$rps"
  if [[ -z ${script[*]} ]]; then
    row "$test" "$name" p50_us "$(to_us "$(awk '$1=="50%"{print $2}' "$logf")")"
    row "$test" "$name" p99_us "$(to_us "$(awk '$1=="99%"{print $2}' "$logf")")"
  fi
  row "$test" "$name" errors "$errs"
  local per; per=$(awk -v t=$((t1 - t0)) -v h="$CLK_TCK" -v n="$total" 'BEGIN{printf "%.2f", t / h / n * 1e6}')
  row "$test" "$name" srv_us_per_req "$per"
  log "  $test $name: $rps req/s cpu/req ${per}us errors $errs"
}

h2load_test() {  # server conns
  local name=$1 conns=$2 logf="$OUT/$1.h2load-c$2.run$RUN.log"
  local t0 t1; t0=$(ticks $(server_pids))
  $CLIENT_PIN h2load --h1 -t 1 -c "$conns" -D "$DUR" --warm-up-time=1 "http://127.0.0.1:$PORT/" >"$logf" 2>&1 || true
  t1=$(ticks $(server_pids))
  local rps done
  rps=$(awk '/^finished in/{print $4}' "$logf")
  done=$(awk '/^requests:/{print $8}' "$logf")
  [[ -n $rps && -n $done ]] || { log "no h2load result in $logf"; return; }
  row "h2load-c$conns" "$name" req_per_s "$rps"
  row "h2load-c$conns" "$name" srv_us_per_req "$(awk -v t=$((t1 - t0)) -v h="$CLK_TCK" -v n="$done" 'BEGIN{printf "%.2f", t / h / n * 1e6}')"
}

idle_test() {  # server
  local name=$1 logf="$OUT/$1.idle.run$RUN.log" http=()
  [[ $name == *http* || $name == nginx ]] && http=(-http)
  start_server "$name"
  sleep 0.5
  local before; before=$(rss_kb $(server_pids))
  $CLIENT_PIN env GOMAXPROCS=1 "$BUILD/go/echo_load" -addr "127.0.0.1:$PORT" -idle "$IDLE_CONNS" \
    -hold 120s "${http[@]}" >"$logf" 2>&1 &
  local client=$! ok=0
  for _ in $(seq 1200); do
    grep -q '^READY' "$logf" && { ok=1; break; }
    kill -0 "$client" 2>/dev/null || break
    sleep 0.1
  done
  if ((ok)); then
    sleep 1
    local after open; after=$(rss_kb $(server_pids))
    open=$(sed -n 's/^READY .* open=\([0-9]*\) .*/\1/p' "$logf")
    local test=idle-echo; [[ -n ${http[*]} ]] && test=idle-http
    row "$test" "$name" rss_per_conn_B "$(awk -v a="$before" -v b="$after" -v n="$open" 'BEGIN{printf "%.0f", (b - a) * 1024 / n}')"
    row "$test" "$name" open_conns "$open"
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
  if [[ " ${SECTIONS[*]} " == *" http "* ]]; then
    for server in spindle-http go-http asio-http nginx; do
      log "pass $RUN/$RUNS: http $server"
      start_server "$server"
      wrk_test "$server" wrk-c64 64
      wrk_test "$server" wrk-c1000 1000
      wrk_test "$server" wrk-c64-pipelined16 64 pipeline
      h2load_test "$server" 64
      stop_server
    done
  fi
  if [[ " ${SECTIONS[*]} " == *" idle "* ]]; then
    for server in spindle go asio spindle-http go-http asio-http nginx; do
      log "pass $RUN/$RUNS: idle $server"
      idle_test "$server"
    done
  fi
done

{ cat "$OUT/env.txt"; echo; python3 "$ROOT/bench/tools/servers_table.py" "$ROWS"; } | tee "$OUT/summary.md"
log "results in $OUT"
