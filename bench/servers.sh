#!/usr/bin/env bash
# servers.sh: spindle-server beside the reference servers of bench/reference/ (Go, raw Asio,
# nginx) on the same machine, with the same load generators, in the same run. Each load test
# runs every server back to back, each freshly started, in an order that rotates from pass to
# pass: the two sides of a ratio are measured seconds apart, so the drift of a shared virtual
# machine (which can slow everything by a third for minutes) hits both alike.
#
# Usage: bench/servers.sh [--quick] [SECTIONS...]     SECTIONS: http echo idle (default: all)
#   RUNS=3 DUR=2 WARM=1 IDLE_CONNS=10000 IDLE_RUNS=1 NOISY_PCT=10 RERUNS=1
#   --quick: RUNS=1 DUR=1 IDLE_CONNS=2000
#   OUT=DIR  where rows and logs go (default results/bench/<time>-servers/)
#   ONLY=REGEX  only the load tests whose name matches (e.g. ONLY=lean: the lean-client echo)
#
# http: GET / keep-alive with wrk -t1: 64 and 1000 connections, and 64 connections with 16
#       requests pipelined. Each server on 1 thread (Go: GOMAXPROCS=1, nginx: 1 worker)
#       pinned to cpu 1 with wrk pinned to cpu 0; and on 2 threads with nothing pinned, where
#       the load generator shares both cores with the server. Then, as a second opinion,
#       h2load --h1 -t1 at 64 and 1000 connections against the 1-thread servers (throughput,
#       server CPU per request; h2load reports no latency percentiles).
# echo: TCP echo on 1 thread pinned to cpu 1, the Go closed-loop load generator
#       (reference/go/echo_load.go) on cpu 0: 64 and 1000 connections, 64 B and 4 KiB messages;
#       then 64 and 1000 connections at a fixed 20,000 and 40,000 round trips/s (echo_load
#       -rate: open loop), where every server keeps up and CPU per round trip is the server's
#       own work rather than the client's pace. Then the closed loop again at 64 and 1000
#       connections, 64 B, with the lean client (load/lean_echo_load.cpp: C++, one thread, epoll,
#       one send and one recv per round trip), cheap enough that a costlier server sets the pace.
# idle: a fresh 1-thread server; IDLE_CONNS connections each do one round trip (echo) or one
#       keep-alive GET (http) and then stay open; RSS growth of the server per connection.
#       RSS barely moves between passes, so only the first IDLE_RUNS passes measure it.
# Every load test records throughput, latency percentiles, the server's CPU time per
# operation (the figure that still separates servers when the client saturates its core),
# and the CPU used by neither side (tools/measure.sh: noisy tests are measured again).
# Rows (run test server metric value) go to $OUT/servers.tsv; the table is printed at the end.
set -euo pipefail
source "$(dirname "$0")/tools/bench_common.sh"
source "$ROOT/bench/tools/measure.sh"

QUICK=0
SECTIONS=()
for a in "$@"; do
  case $a in
    --quick) QUICK=1 ;;
    http|echo|idle) SECTIONS+=("$a") ;;
    *) die "unknown argument $a (use --quick, http, echo, idle)" ;;
  esac
done
((${#SECTIONS[@]})) || SECTIONS=(http echo idle)
if ((QUICK)); then RUNS=${RUNS:-1} DUR=${DUR:-1} IDLE_CONNS=${IDLE_CONNS:-2000}; fi
RUNS=${RUNS:-3} DUR=${DUR:-2} WARM=${WARM:-1} IDLE_CONNS=${IDLE_CONNS:-10000} IDLE_RUNS=${IDLE_RUNS:-1}
has() { [[ " ${SECTIONS[*]} " == *" $1 "* ]]; }
wanted() { [[ $1 =~ ${ONLY:-.} ]]; }  # TEST -> whether ONLY lets it run

# 10,000 idle connections need as many descriptors in the server and in the client.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(($(ulimit -n) >= IDLE_CONNS + 100)) || die "ulimit -n $(ulimit -n) is below IDLE_CONNS=$IDLE_CONNS + 100"

build_spindle spindle-server lean_echo_load
build_go echo_server echo_load http_server
build_asio echo_server http_server

results_dir servers
ROWS=$OUT/servers.tsv
: >"$ROWS"
LOGS=$OUT/logs

# ---------------------------------------------------------------- servers
# A server is KIND/IMPL:THREADS, e.g. http/nginx:2. One thread: pinned to cpu 1 (its client
# to cpu 0). Two threads: nothing pinned.
SERVER_PID="" PORT=""
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  local p
  for p in "${SERVER_PIDS[@]}"; do  # nginx workers leave with their master; make sure
    [[ $p == "$SERVER_PID" ]] || ! kill -0 "$p" 2>/dev/null || { sleep 0.3; kill -KILL "$p" 2>/dev/null || true; }
  done
  SERVER_PID="" SERVER_PIDS=()
}
trap stop_server EXIT

start_server() {  # KIND/IMPL:THREADS
  local kind=${1%%/*} impl=${1#*/} threads=${1##*:} spin="" logf
  impl=${impl%%:*}
  ((threads == 1)) && spin=$(pin 1)
  logf="$LOGS/${kind}-${impl}-${threads}.server.log"
  # A port nobody listens on: others may run servers on this machine too.
  PORT=${BASE_PORT:-19500}
  while port_open "$PORT"; do PORT=$((PORT + 1)); done
  local addr=127.0.0.1:$PORT
  case $kind/$impl in
    http/spindle) $spin "$BUILD/server/spindle-server" --http "$addr" --echo-enabled false --threads "$threads" \
                    --log-level warn --http-access-log false --http-idle-timeout 10m \
                    --http-max-connections 100000 --shutdown-grace 1s >>"$logf" 2>&1 & ;;
    echo/spindle) $spin "$BUILD/server/spindle-server" --echo "$addr" --http-enabled false --threads "$threads" \
                    --log-level warn --echo-idle-timeout 10m --echo-max-connections 100000 \
                    --shutdown-grace 1s >>"$logf" 2>&1 & ;;
    http/go) GOMAXPROCS=$threads $spin "$BUILD/go/http_server" -addr "$addr" >>"$logf" 2>&1 & ;;
    echo/go) GOMAXPROCS=$threads $spin "$BUILD/go/echo_server" -addr "$addr" >>"$logf" 2>&1 & ;;
    http/asio|echo/asio)
      $spin "$BUILD/asio/${kind}_server" --addr 127.0.0.1 --port "$PORT" --threads "$threads" >>"$logf" 2>&1 & ;;
    http/nginx)
      local prefix=$OUT/nginx-$threads
      mkdir -p "$prefix/tmp"
      sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$PORT|g" -e "s|@WORKERS@|$threads|g" \
        "$REF/nginx/nginx.conf.in" >"$prefix/nginx.conf"
      $spin nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" >>"$logf" 2>&1 & ;;
    *) die "unknown server $1" ;;
  esac
  SERVER_PID=$! SERVER_PIDS=("$!")
  for _ in $(seq 200); do
    port_open "$PORT" && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "$1 exited at start (see $logf)"
    sleep 0.05
  done
  port_open "$PORT" || die "$1 is not listening on $PORT (see $logf)"
  if [[ $impl == nginx ]]; then  # the workers do the work: count their CPU and memory too
    local kids=""
    for _ in $(seq 50); do
      kids=$(cat /proc/"$SERVER_PID"/task/*/children 2>/dev/null || true)
      (($(wc -w <<<"$kids") >= threads)) && break
      sleep 0.05
    done
    SERVER_PIDS+=($kids)
  fi
}

client_pin() { [[ ${1##*:} == 1 ]] && pin 0; return 0; }  # SERVER -> the client's taskset prefix
rotate() { local k=$1; shift; local a=("$@") i; for ((i = 0; i < ${#a[@]}; i++)); do echo "${a[(i + k) % ${#a[@]}]}"; done; }
declare -A KV
parse_kv() { KV=(); local w; for w in $1; do [[ $w == *=* ]] && KV[${w%%=*}]=${w#*=}; done; }  # "k=v ..." -> KV[k]=v

# ---------------------------------------------------------------- tests
us_per_request() { awk -v t="$SRV_TICKS" -v h="$CLK_TCK" -v n="$1" 'BEGIN{printf "%.2f", (n > 0 ? t / h / n * 1e6 : 0)}'; }  # REQUESTS -> server CPU µs each

wrk_test() {  # SERVER TEST CONNS DEPTH
  local server=$1 test=$2 conns=$3 depth=$4 logf line cpin
  logf="$LOGS/${test}.${server//[\/:]/-}.run$RUN.log"
  cpin=$(client_pin "$server")
  run_measured "$logf" $cpin wrk -t1 -c"$conns" -d"${DUR}s" -s "$ROOT/bench/tools/wrk.lua" \
    "http://127.0.0.1:$PORT/" -- "$depth" || true
  line=$(grep '^WRK ' "$logf") || { log "  $test $server: no wrk result (see $logf)"; return 1; }
  parse_kv "$line"
  local n=${KV[requests]} rps=${KV[req_per_s]} per
  per=$(us_per_request "$n")
  row "$test" "$server" req_per_s "$rps"
  # Pipelined, wrk times whole batches and its latency correction (which assumes one request
  # per connection at a time) corrupts the percentiles: only throughput and CPU count there.
  if ((depth == 1)); then
    row "$test" "$server" p50_us "${KV[p50_us]}"
    row "$test" "$server" p99_us "${KV[p99_us]}"
    row "$test" "$server" p999_us "${KV[p999_us]}"
  fi
  row "$test" "$server" srv_us_per_req "$per"
  row "$test" "$server" srv_cpu_pct "$SRV_CPU"
  row "$test" "$server" cli_cpu_pct "$CLI_CPU"
  row "$test" "$server" errors "${KV[errors]}"
  log "  $test $server: $rps req/s, ${per} us CPU/req (server ${SRV_CPU}%, wrk ${CLI_CPU}%, other ${OTHER_CPU}%)"
}

h2load_test() {  # SERVER TEST CONNS: the second opinion on GET / (h2load over HTTP/1.1)
  local server=$1 test=$2 conns=$3 logf line n failed rps per cpin
  logf="$LOGS/${test}.${server//[\/:]/-}.run$RUN.log"
  cpin=$(client_pin "$server")
  run_measured "$logf" $cpin h2load --h1 -t1 -c"$conns" -D "$DUR" "http://127.0.0.1:$PORT/" || true
  line=$(grep '^requests: ' "$logf") || { log "  $test $server: no h2load result (see $logf)"; return 1; }
  # "requests: T total, S started, D done, OK succeeded, F failed, E errored, X timeout"
  n=$(awk '{print $8}' <<<"$line") failed=$(awk '{print $10 + $12 + $14}' <<<"$line")
  rps=$(awk '/^finished in/ {print $4}' "$logf")
  per=$(us_per_request "$n")
  row "$test" "$server" req_per_s "$rps"
  row "$test" "$server" srv_us_per_req "$per"
  row "$test" "$server" srv_cpu_pct "$SRV_CPU"
  row "$test" "$server" cli_cpu_pct "$CLI_CPU"
  row "$test" "$server" errors "$failed"
  log "  $test $server: $rps req/s, ${per} us CPU/req (server ${SRV_CPU}%, h2load ${CLI_CPU}%, other ${OTHER_CPU}%)"
}

echo_test() {  # SERVER TEST CONNS SIZE RATE (0: closed loop; "lean": closed loop, lean client)
  local server=$1 test=$2 conns=$3 size=$4 rate=$5 logf line cpin client
  logf="$LOGS/${test}.${server//[\/:]/-}.run$RUN.log"
  cpin=$(client_pin "$server")
  # The warm-up runs inside the client, on the connections it then measures.
  if [[ $rate == lean ]]; then
    client=("$BUILD/bench/lean_echo_load")
  else
    client=(env GOMAXPROCS=1 "$BUILD/go/echo_load" -rate "$rate")
  fi
  run_measured "$logf" $cpin "${client[@]}" -addr "127.0.0.1:$PORT" \
    -conns "$conns" -size "$size" -warmup "${WARM}s" -duration "${DUR}s" || true
  line=$(grep '^echo_load ' "$logf") || { log "  $test $server: no echo_load result (see $logf)"; return 1; }
  parse_kv "$line"
  local rts=${KV[rt_per_s]} per
  # The server's CPU covers warm-up and measured window alike: divide by both.
  per=$(awk -v t="$SRV_TICKS" -v h="$CLK_TCK" -v r="$rts" -v s=$((WARM + DUR)) \
    'BEGIN{printf "%.2f", (r > 0 ? t / h / (r * s) * 1e6 : 0)}')
  row "$test" "$server" rt_per_s "$rts"
  row "$test" "$server" p50_us "${KV[p50_us]}"
  row "$test" "$server" p99_us "${KV[p99_us]}"
  row "$test" "$server" srv_us_per_rt "$per"
  row "$test" "$server" srv_cpu_pct "$SRV_CPU"
  row "$test" "$server" cli_cpu_pct "$CLI_CPU"
  row "$test" "$server" errors "${KV[errors]}"
  log "  $test $server: $rts rt/s, p99 ${KV[p99_us]} us, ${per} us CPU/rt (server ${SRV_CPU}%, client ${CLI_CPU}%, other ${OTHER_CPU}%)"
}

idle_test() {  # SERVER
  local server=$1 kind=${1%%/*} logf client ok=0 flags=()
  logf="$LOGS/idle-$kind.${server//[\/:]/-}.run$RUN.log"
  [[ $kind == http ]] && flags=(-http)
  start_server "$server"
  sleep 0.5
  local before; before=$(rss_kb "${SERVER_PIDS[@]}")
  $(pin 0) env GOMAXPROCS=1 "$BUILD/go/echo_load" -addr "127.0.0.1:$PORT" -idle "$IDLE_CONNS" \
    -hold 120s "${flags[@]}" >"$logf" 2>&1 &
  client=$!
  for _ in $(seq 1200); do
    grep -qs '^READY' "$logf" && { ok=1; break; }
    kill -0 "$client" 2>/dev/null || break
    sleep 0.1
  done
  if ((ok)); then
    sleep 0.5  # the last connections reach their idle state
    local after open failed
    after=$(rss_kb "${SERVER_PIDS[@]}")
    open=$(sed -n 's/^READY .* open=\([0-9]*\) .*/\1/p' "$logf")
    failed=$(sed -n 's/^READY .*dial_failed=\([0-9]*\) ping_failed=\([0-9]*\).*/\1 \2/p' "$logf" | awk '{print $1 + $2}')
    local per; per=$(awk -v a="$before" -v b="$after" -v n="$open" 'BEGIN{printf "%.0f", (n > 0 ? (b - a) * 1024 / n : 0)}')
    PENDING=$ROWS
    row "idle-$kind" "$server" rss_per_conn_B "$per"
    row "idle-$kind" "$server" open_conns "$open"
    row "idle-$kind" "$server" errors "${failed:-0}"
    log "  idle-$kind $server: $per B/connection (RSS $before -> $after kB over $open connections)"
  else
    log "  idle-$kind $server: the client never held its connections (see $logf)"
  fi
  kill -TERM "$client" 2>/dev/null || true
  wait "$client" 2>/dev/null || true
  stop_server
}

# ---------------------------------------------------------------- passes
HTTP_SERVERS=(http/spindle:1 http/go:1 http/asio:1 http/nginx:1 http/spindle:2 http/go:2 http/asio:2 http/nginx:2)
ECHO_SERVERS=(echo/spindle:1 echo/go:1 echo/asio:1)
IDLE_SERVERS=(echo/spindle:1 echo/go:1 echo/asio:1 http/spindle:1 http/go:1 http/asio:1 http/nginx:1)

{
  echo "machine: $(machine_line)"
  echo "software: $(versions_line)"
  echo "servers: RUNS=$RUNS DUR=${DUR}s WARM=${WARM}s IDLE_CONNS=$IDLE_CONNS NOISY_PCT=$NOISY_PCT RERUNS=$RERUNS"
} >>"$OUT/env.txt"

# One server through one test: started fresh, warmed up, measured, stopped.
http_one() {  # SERVER TEST FN ARGS...: FN (wrk_test, h2load_test) gets SERVER TEST ARGS...
  local server=$1 test=$2 fn=$3
  shift 3
  start_server "$server"
  # One unrecorded run first: caches, Go's heap, nginx's and spindle's pools reach steady state.
  timeout -k 5 60 $(client_pin "$server") wrk -t1 -c64 -d"${WARM}s" "http://127.0.0.1:$PORT/" >/dev/null 2>&1 || true
  measured "$test" "$server" "$fn" "$server" "$test" "$@"
  stop_server
}
echo_one() {  # SERVER TEST CONNS SIZE RATE (the client warms up on its own connections)
  start_server "$1"
  measured "$2" "$1" echo_test "$1" "$2" "$3" "$4" "$5"
  stop_server
}

for ((RUN = 1; RUN <= RUNS; RUN++)); do
  if has http; then
    for spec in "http-c64 64 1" "http-c1000 1000 1" "http-c64-pipe16 64 16"; do
      read -r test conns depth <<<"$spec"
      wanted "$test" || continue
      for server in $(rotate "$RUN" "${HTTP_SERVERS[@]}"); do
        log "pass $RUN/$RUNS: $test $server"
        http_one "$server" "$test" wrk_test "$conns" "$depth"
      done
    done
    for spec in "h2load-c64 64" "h2load-c1000 1000"; do  # second opinion, 1 thread
      read -r test conns <<<"$spec"
      wanted "$test" || continue
      for server in $(rotate "$RUN" "${HTTP_SERVERS[@]}"); do
        [[ $server == *:1 ]] || continue
        log "pass $RUN/$RUNS: $test $server"
        http_one "$server" "$test" h2load_test "$conns"
      done
    done
  fi
  if has echo; then
    for spec in "echo-c64-64B 64 64 0" "echo-c1000-64B 1000 64 0" "echo-c64-4KiB 64 4096 0" \
      "echo-c1000-4KiB 1000 4096 0" "echo-c64-64B-rate20k 64 64 20000" "echo-c64-64B-rate40k 64 64 40000" \
      "echo-c1000-64B-rate20k 1000 64 20000" "echo-c1000-64B-rate40k 1000 64 40000" \
      "echo-c64-64B-lean 64 64 lean" "echo-c1000-64B-lean 1000 64 lean"; do
      read -r test conns size rate <<<"$spec"
      wanted "$test" || continue
      for server in $(rotate "$RUN" "${ECHO_SERVERS[@]}"); do
        log "pass $RUN/$RUNS: $test $server"
        echo_one "$server" "$test" "$conns" "$size" "$rate"
      done
    done
  fi
  if has idle && ((RUN <= IDLE_RUNS)); then
    for server in $(rotate "$RUN" "${IDLE_SERVERS[@]}"); do
      log "pass $RUN/$RUNS: idle $server ($IDLE_CONNS connections)"
      idle_test "$server"
    done
  fi
done

if [[ -z ${REPORT_SH:-} ]]; then  # on its own: print the table; report.sh makes its own
  python3 "$ROOT/bench/tools/table.py" "$OUT" | tee "$OUT/summary.md"
  log "results in $OUT"
fi
