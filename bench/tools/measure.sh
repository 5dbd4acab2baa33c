# measure.sh: CPU accounting of one measured run, and what to do when other work on the
# machine interfered with it (sourced, not run; needs bench_common.sh).
#
# Every figure comes from /proc in clock ticks (getconf CLK_TCK, usually 100 a second):
#   server   utime+stime of the server's processes (all their threads), read before and after
#   client   cutime+cstime of this shell: what its reaped children used, i.e. the load
#            generator (or the benchmark program), which run_measured starts and waits for
#   machine  busy ticks of all cpus from /proc/stat
# other_cpu_pct = machine - server - client, as a percentage of one cpu over the run: CPU used
# by neither side (other tenants, builds, the kernel's own threads). A few percent is tick
# sampling noise; above NOISY_PCT the run is re-measured once, and flagged if still noisy.

CLK_TCK=$(getconf CLK_TCK)
NOISY_PCT=${NOISY_PCT:-10}
RERUNS=${RERUNS:-1}

SERVER_PIDS=()   # set by whoever starts the server (nginx: master and workers)

proc_ticks() {  # pids... -> utime+stime summed
  local t=0 p s a
  for p in "$@"; do
    { s=$(<"/proc/$p/stat"); } 2>/dev/null || continue
    read -ra a <<<"${s##*) }"   # fields after the command name, which may contain spaces
    t=$((t + a[11] + a[12]))
  done
  echo "$t"
}
child_ticks() { local s a; s=$(<"/proc/$$/stat"); read -ra a <<<"${s##*) }"; echo $((a[13] + a[14])); }
busy_ticks() { local _c u n sy _i _w irq sirq _; read -r _c u n sy _i _w irq sirq _ </proc/stat; echo $((u + n + sy + irq + sirq)); }
rss_kb() { local t=0 p v; for p in "$@"; do v=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null); t=$((t + ${v:-0})); done; echo "$t"; }
pct() { awk -v t="$1" -v hz="$CLK_TCK" -v s="$2" 'BEGIN{ if (s > 0) printf "%.1f", 100*t/hz/s; else print 0 }'; }

# run_measured LOG CMD...: runs CMD (bounded by an outer timeout) with stdout and stderr to
# LOG, as a direct child of this shell so its CPU time lands in child_ticks. Sets WALL (s),
# SRV_TICKS, SRV_CPU, CLI_CPU and OTHER_CPU (percent of one cpu). Returns CMD's status.
run_measured() {
  local logf=$1 rc=0; shift
  local b0 s0 c0 t0 b1 s1 c1 t1
  b0=$(busy_ticks); s0=$(proc_ticks "${SERVER_PIDS[@]}"); c0=$(child_ticks); t0=$EPOCHREALTIME
  timeout -k 5 "${MEASURE_TIMEOUT:-300}" "$@" >"$logf" 2>&1 || rc=$?
  t1=$EPOCHREALTIME; c1=$(child_ticks); s1=$(proc_ticks "${SERVER_PIDS[@]}"); b1=$(busy_ticks)
  WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')
  SRV_TICKS=$((s1 - s0))
  SRV_CPU=$(pct "$SRV_TICKS" "$WALL")
  CLI_CPU=$(pct $((c1 - c0)) "$WALL")
  OTHER_CPU=$(pct $(((b1 - b0) - (s1 - s0) - (c1 - c0))) "$WALL")
  ((rc == 0)) || log "  (exit status $rc, see $logf)"
  return "$rc"
}

# Rows of the test being measured wait in PENDING until it is accepted.
ROWS=${ROWS:-}
PENDING=""
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$RUN" "$1" "$2" "$3" "$4" >>"$PENDING"; }  # test server metric value

# measured TEST SERVER FN ARGS...: runs FN (which calls run_measured once and writes its rows
# with row()); when other CPU use exceeded NOISY_PCT, sets the rows aside in
# noisy-attempts.tsv and measures again, up to RERUNS times. The rows kept carry
# other_cpu_pct and noisy (0/1), so the table can flag them.
measured() {
  local test=$1 server=$2 attempt; shift 2
  PENDING=$OUT/.pending.tsv
  for ((attempt = 0; ; attempt++)); do
    : >"$PENDING"
    OTHER_CPU=0
    "$@" || true
    local noisy; noisy=$(awk -v o="$OTHER_CPU" -v l="$NOISY_PCT" 'BEGIN{print ((o > l) ? 1 : 0)}')
    if ((noisy && attempt < RERUNS)) && ! over_budget; then
      log "  ^ other CPU ${OTHER_CPU}% > ${NOISY_PCT}%: measuring again"
      cat "$PENDING" >>"$OUT/noisy-attempts.tsv"
      continue
    fi
    row "$test" "$server" other_cpu_pct "$OTHER_CPU"
    row "$test" "$server" noisy "$noisy"
    row "$test" "$server" reruns "$attempt"
    cat "$PENDING" >>"$ROWS"
    return 0
  done
}

# Reruns stop once the run has used its time: BUDGET_END (epoch seconds, set by report.sh)
# keeps a run on a busy machine inside its promised wall time; its noisy rows stay flagged.
over_budget() { [[ -n ${BUDGET_END:-} ]] && ((EPOCHSECONDS > BUDGET_END)); }
