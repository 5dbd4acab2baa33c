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

# The samplers set TICKS rather than print, so that sampling forks nothing: on a loaded
# machine a fork costs milliseconds, and one between the samples would be counted too.
TICKS=0
proc_ticks() {  # pids... -> TICKS = their utime+stime
  local t=0 p s a
  for p; do
    read -r s 2>/dev/null <"/proc/$p/stat" || continue
    read -ra a <<<"${s##*) }"   # fields after the command name, which may contain spaces
    t=$((t + a[11] + a[12]))
  done
  TICKS=$t
}
child_ticks() { local s a; read -r s <"/proc/$$/stat"; read -ra a <<<"${s##*) }"; TICKS=$((a[13] + a[14])); }
busy_ticks() { local _c u n sy _i _w irq sirq _; read -r _c u n sy _i _w irq sirq _ </proc/stat; TICKS=$((u + n + sy + irq + sirq)); }
rss_kb() { local t=0 p k v _; for p; do while read -r k v _; do [[ $k == VmRSS: ]] && t=$((t + v)); done 2>/dev/null <"/proc/$p/status"; done; echo "$t"; }

# run_measured LOG CMD...: runs CMD (bounded by an outer timeout) with stdout and stderr to
# LOG, as a direct child of this shell so its CPU time lands in child_ticks. Sets WALL (s),
# SRV_TICKS, SRV_CPU, CLI_CPU, OTHER_CPU (percent of one cpu) and OTHER_NOISY (0/1).
# Returns CMD's status.
run_measured() {
  local logf=$1 rc=0; shift
  local b0 s0 c0 t0 b1 s1 c1 t1
  proc_ticks "${SERVER_PIDS[@]}"; s0=$TICKS; child_ticks; c0=$TICKS; busy_ticks; b0=$TICKS
  t0=$EPOCHREALTIME
  timeout -k 5 "${MEASURE_TIMEOUT:-300}" "$@" >"$logf" 2>&1 || rc=$?
  t1=$EPOCHREALTIME
  busy_ticks; b1=$TICKS; child_ticks; c1=$TICKS; proc_ticks "${SERVER_PIDS[@]}"; s1=$TICKS
  SRV_TICKS=$((s1 - s0))
  read -r WALL SRV_CPU CLI_CPU OTHER_CPU OTHER_NOISY <<<"$(awk -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" \
    -v s=$SRV_TICKS -v c=$((c1 - c0)) -v o=$(((b1 - b0) - (s1 - s0) - (c1 - c0))) -v lim="$NOISY_PCT" \
    'BEGIN { w = t1 - t0; if (w <= 0) w = 1e-9
             oc = 100 * o / hz / w
             printf "%.3f %.1f %.1f %.1f %d\n", w, 100 * s / hz / w, 100 * c / hz / w, oc, (oc > lim) }')"
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
  local test=$1 server=$2 attempt t0=0; shift 2
  PENDING=$OUT/.pending.tsv
  for ((attempt = 0; ; attempt++)); do
    : >"$PENDING"
    OTHER_CPU=0 OTHER_NOISY=0
    "$@" || true
    local noisy=$OTHER_NOISY
    ((attempt == 0)) || RERUN_SPENT_US=$((RERUN_SPENT_US + ${EPOCHREALTIME/./} - t0))
    if ((noisy && attempt < RERUNS)) && rerun_allowed; then
      log "  ^ other CPU ${OTHER_CPU}% > ${NOISY_PCT}%: measuring again"
      cat "$PENDING" >>"$OUT/noisy-attempts.tsv"
      t0=${EPOCHREALTIME/./}
      continue
    fi
    row "$test" "$server" other_cpu_pct "$OTHER_CPU"
    row "$test" "$server" noisy "$noisy"
    row "$test" "$server" reruns "$attempt"
    cat "$PENDING" >>"$ROWS"
    return 0
  done
}

# RERUN_BUDGET_S (seconds, set by report.sh; empty: no limit) bounds the time this section
# spends measuring tests again, so that a busy machine, where nearly every test is noisy,
# makes the report noisier rather than twice as long. Rows left noisy stay flagged.
RERUN_SPENT_US=0
rerun_allowed() { [[ -z ${RERUN_BUDGET_S:-} ]] || ((RERUN_SPENT_US < RERUN_BUDGET_S * 1000000)); }
