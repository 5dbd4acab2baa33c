#!/usr/bin/env bash
# container-test.sh: builds the spindle-server image from the Dockerfile with podman and checks
# it the way an operator uses it, on a machine with no Docker engine and no registry.
#
# Usage: scripts/container-test.sh
#   1. installs what is missing (scripts/install-deps.sh container: podman, runc, debootstrap, ...)
#   2. keeps podman's state in its own folder (CONTAINER_STATE, default build-container/podman),
#      never in /etc or /var/lib/containers
#   3. makes the base image debian:bookworm-slim with debootstrap, only if it is missing
#      (from the Debian mirror of this machine's apt sources; nothing asks a registry)
#   4. builds the image (the build stage runs the unit tests) with --pull=never
#   5. runs it on random loopback ports and checks /healthz, /, POST /echo, the echo port, a
#      non-root uid, JSON logs, the HEALTHCHECK, a graceful `podman stop` with a request in
#      flight (exit code 0, the request answered in full, /readyz 503 while draining), and that
#      --print-config shows an environment override
# Prints the figures (image size, build time, start to healthy, stop) and exits non-zero with a
# message naming the failed check. Containers it started are removed on exit.
# Environment: SPINDLE_IMAGE (tag, default localhost/spindle-server:test), CONTAINER_STATE.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

IMAGE=${SPINDLE_IMAGE:-localhost/spindle-server:test}
STATE=${CONTAINER_STATE:-$ROOT/build-container/podman}
BASE=docker.io/library/debian:bookworm-slim
NAME=spindle-ct-$$
started=$SECONDS

step() { printf '\n---- %s (%s)\n' "$*" "$(date +%H:%M:%S)"; }
fail() { printf '\ncontainer-test.sh: FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf '  ok  %s\n' "$*"; }
now_ms() { date +%s%3N; }
secs() { printf '%d.%01d s' $(($1 / 1000)) $(($1 % 1000 / 100)); }  # milliseconds -> "1.2 s"

step "dependencies"
scripts/install-deps.sh container

# Podman runs rootful: debootstrap needs root, and rootless podman needs subordinate ids and
# user-mode networking that these machines are not set up for.
sudo=()
if ((EUID != 0)); then
  command -v sudo >/dev/null || fail "podman needs root here: run as root or install sudo"
  sudo=(sudo --preserve-env=CONTAINERS_CONF,CONTAINERS_STORAGE_CONF)
fi
pm() { "${sudo[@]}" podman "$@"; }
# Health checks run on a timer only through systemd, which these machines lack: podman logs an
# error for that on every run of an image with a HEALTHCHECK. The script runs the check itself.
pm_run() { pm run "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }

# ---------------------------------------------------------------- podman's private state
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
export CONTAINERS_CONF=$STATE/containers.conf CONTAINERS_STORAGE_CONF=$STATE/storage.conf
# nofile: podman's default (1048576) is above what this machine may grant without
# CAP_SYS_RESOURCE, and the server needs well above 1024 for its connection limits.
# runc: crun refuses the hybrid cgroup layout of these machines.
cat >"$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
tmp_dir = "$STATE/run/libpod"
[network]
network_backend = "netavark"
network_config_dir = "$STATE/networks"
EOF
cat >"$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "overlay"
graphroot = "$STATE/storage"
runroot = "$STATE/run/storage"
EOF

tmp=$(mktemp -d)
bg_pids=()
cleanup() {
  local pid
  for pid in "${bg_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  local c
  for c in "$NAME" "$NAME-print"; do pm rm --force --ignore --time 0 "$c" >/dev/null 2>&1 || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# ---------------------------------------------------------------- the base image
# The URI of the first deb source of this machine serving SUITE (deb822 files, then the
# one-line format). Empty if none.
apt_uri() {
  local suite=$1 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    awk -v want="$suite" 'BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; uris = ""; suites = ""
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^Types:/) { sub(/^Types:[ \t]*/, "", line); types = line }
          else if (line ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", line); uris = line }
          else if (line ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", line); suites = line }
        }
        if (types !~ /(^|[ \t])deb([ \t]|$)/) next
        n = split(suites, s, /[ \t]+/)
        for (j = 1; j <= n; j++) if (s[j] == want) { split(uris, u, /[ \t]+/); print u[1]; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    awk -v want="$suite" '$1 == "deb" {
        i = 2
        if ($2 ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == want) { print $i; exit }
      }' "$f"
  done
}

make_base_image() {
  local mirror security rootfs=$STATE/rootfs
  mirror=$(apt_uri bookworm | head -n1)
  [[ -n $mirror ]] || mirror=$(apt_uri "$(. /etc/os-release && echo "$VERSION_CODENAME")" | head -n1)
  [[ -n $mirror ]] || fail "no Debian mirror found in /etc/apt/sources.list{,.d/*} to debootstrap from"
  security=$(apt_uri bookworm-security | head -n1)
  echo "debootstrap bookworm from $mirror"
  rm -rf "$rootfs"
  "${sudo[@]}" debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$STATE/debootstrap.log" 2>&1 ||
    { tail -n 20 "$STATE/debootstrap.log"; fail "debootstrap failed (log: $STATE/debootstrap.log)"; }
  # apt inside image builds uses the same mirror; the one-line list debootstrap wrote goes.
  "${sudo[@]}" rm -f "$rootfs/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\n' "$mirror"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    if [[ -n $security ]]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\n' "$security"
      printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    fi
  } | "${sudo[@]}" tee "$rootfs/etc/apt/sources.list.d/debian.sources" >/dev/null
  # "slim": packages installed later leave out documentation, manuals and translations, and
  # what debootstrap installed loses them now; apt keeps no downloaded archives.
  "${sudo[@]}" tee "$rootfs/etc/dpkg/dpkg.cfg.d/01-slim" >/dev/null <<'EOF'
# No documentation, manuals or translations in container images (copyright files stay).
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
EOF
  echo 'APT::Keep-Downloaded-Packages "false";' |
    "${sudo[@]}" tee "$rootfs/etc/apt/apt.conf.d/01-no-archives" >/dev/null
  "${sudo[@]}" find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  "${sudo[@]}" rm -rf "$rootfs"/usr/share/{man,info,groff,lintian,locale}/* \
    "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  "${sudo[@]}" tar -C "$rootfs" -c . | pm import --change 'CMD ["bash"]' - localhost/debian:bookworm >/dev/null
  pm tag localhost/debian:bookworm "$BASE" docker.io/library/debian:bookworm
  "${sudo[@]}" rm -rf "$rootfs"
}

step "base image $BASE"
if pm image exists "$BASE"; then
  echo "present"
  base_ms=0
else
  t=$(now_ms)
  make_base_image
  base_ms=$(($(now_ms) - t))
  echo "made in $(secs "$base_ms")"
fi

# ---------------------------------------------------------------- build
step "podman build $IMAGE (the build stage compiles and runs spindle_tests)"
t=$(now_ms)
# The full log goes to a file; the steps (with the time each began) and the suite's summary
# show as they happen.
if ! pm build --pull=never --format docker -t "$IMAGE" . 2>&1 | tee "$STATE/build.log" |
     grep --line-buffered -E '^(\[[0-9]/[0-9]\] )?STEP [0-9]+|^\[doctest\] (test cases|Status)' |
     while IFS= read -r line; do printf '%s %.100s\n' "$(date +%T)" "$line"; done; then
  tail -n 40 "$STATE/build.log"
  fail "image build failed (full log: $STATE/build.log)"
fi
build_ms=$(($(now_ms) - t))
size_bytes=$(pm image inspect --format '{{.Size}}' "$IMAGE")
base_bytes=$(pm image inspect --format '{{.Size}}' "$BASE")
[[ $(pm image inspect --format '{{.Config.User}}' "$IMAGE") =~ ^[0-9]+(:[0-9]+)?$ ]] ||
  fail "the image's USER must be numeric so that Kubernetes' runAsNonRoot can check it"

# ---------------------------------------------------------------- run and check
step "run on random loopback ports, locked down as deploy/kubernetes runs it"
t=$(now_ms)
# Read-only root, no capabilities, no privilege escalation: the Deployment's securityContext.
pm_run -d --name "$NAME" -p 127.0.0.1::8080 -p 127.0.0.1::7007 \
  --read-only --cap-drop=ALL --security-opt=no-new-privileges "$IMAGE" >/dev/null ||
  fail "podman run failed"
exited() {  # fails with the container's last log lines and exit code if it is not running
  [[ $(pm inspect --format '{{.State.Running}}' "$NAME") == true ]] && return 1
  pm logs "$NAME" 2>&1 | tail -n 20
  fail "the container exited (code $(pm inspect --format '{{.State.ExitCode}}' "$NAME")) $1"
}
http_port=$(pm port "$NAME" 8080/tcp | sed -n '1s/.*://p')
echo_port=$(pm port "$NAME" 7007/tcp | sed -n '1s/.*://p')
if [[ -z $http_port || -z $echo_port ]]; then
  exited "at once" || true
  fail "no published ports (podman port $NAME)"
fi
url=http://127.0.0.1:$http_port
echo "http on 127.0.0.1:$http_port, echo on 127.0.0.1:$echo_port"

for ((i = 0; ; i++)); do
  curl -fsS --max-time 1 -o /dev/null "$url/healthz" 2>/dev/null && break
  exited "before /healthz answered" || true
  ((i < 300)) || { pm logs "$NAME" 2>&1 | tail -n 20; fail "/healthz did not answer 200 within 30 s"; }
  sleep 0.1
done
healthy_ms=$(($(now_ms) - t))
ok "/healthz 200, $(secs "$healthy_ms") after podman run"

[[ $(curl -fsS --max-time 5 "$url/") == "Hello, World!" ]] || fail "GET / did not answer Hello, World!"
ok "GET / -> Hello, World!"

head -c 300000 /dev/urandom >"$tmp/body"
curl -fsS --max-time 10 --data-binary @"$tmp/body" -o "$tmp/echoed" "$url/echo" || fail "POST /echo failed"
cmp -s "$tmp/body" "$tmp/echoed" || fail "POST /echo did not send the 300000-byte body back unchanged"
ok "POST /echo returns a 300000-byte body unchanged"

# The echo service over the published port, with bash's /dev/tcp (no netcat needed).
line=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "spindle echo check\n" >&3 &&
                             read -r -t 4 l <&3 && printf %s "$l"' _ "$echo_port") || true
[[ $line == "spindle echo check" ]] || fail "the echo port answered '$line' instead of the line sent"
ok "echo port sends the line back"

# PID 1 is the server itself (exec-form ENTRYPOINT: it gets SIGTERM directly) and not root.
[[ $(pm exec "$NAME" cat /proc/1/comm) == spindle-server ]] || fail "PID 1 of the container is not spindle-server"
uid=$(pm exec "$NAME" awk '/^Uid:/ { print $2 }' /proc/1/status)
[[ $uid =~ ^[0-9]+$ && $uid != 0 ]] || fail "spindle-server runs as uid '$uid' (must not be root)"
ok "PID 1 is spindle-server, uid $uid"

pm logs "$NAME" >"$tmp/log" 2>&1
grep -q . "$tmp/log" || fail "the server wrote no log lines"
if grep -vqE '^\{.*\}$' "$tmp/log"; then
  grep -vE '^\{.*\}$' "$tmp/log" | head -n 3
  fail "log lines are not JSON objects (SPINDLE_LOG_FORMAT=json is the image's default)"
fi
ok "logs are JSON lines"

pm healthcheck run "$NAME" >/dev/null || fail "podman healthcheck run: the image's HEALTHCHECK reports unhealthy"
ok "HEALTHCHECK passes"

step "graceful stop with a request in flight"
curl -sS --max-time 20 -o "$tmp/delay.body" -w '%{http_code}' "$url/delay?ms=3000" >"$tmp/delay.code" 2>"$tmp/delay.err" &
delay_pid=$!
bg_pids+=("$delay_pid")
# In flight = the server counts two open HTTP connections: the /delay one and this probe's.
for ((i = 0; ; i++)); do
  open=$(curl -fsS --max-time 2 "$url/metrics" | awk '/^spindle_connections_open\{service="http"\}/ { print $2 }')
  (( ${open:-0} >= 2 )) && break
  ((i < 50)) || fail "the /delay request never reached the server"
  sleep 0.05
done
t=$(now_ms)
pm stop -t 15 "$NAME" >/dev/null 2>"$tmp/stop.err" &
stop_pid=$!
bg_pids+=("$stop_pid")
# While it drains, a new connection is still answered, with 503 and Connection: close.
for ((i = 0; ; i++)); do
  readyz=$(curl -sS -i --max-time 2 "$url/readyz" 2>/dev/null | tr -d '\r') || true
  [[ $readyz == "HTTP/1.1 503"* ]] && break
  ((i < 100)) || fail "/readyz did not turn 503 within 2 s of podman stop"
  sleep 0.02
done
grep -qi '^connection: close$' <<<"$readyz" || fail "/readyz while draining came without Connection: close"
ok "/readyz 503 with Connection: close while draining"
wait "$stop_pid" || { cat "$tmp/stop.err"; fail "podman stop failed"; }
stop_ms=$(($(now_ms) - t))
exit_code=$(pm inspect --format '{{.State.ExitCode}}' "$NAME")
wait "$delay_pid" || true
[[ $exit_code == 0 ]] || { pm logs "$NAME" 2>&1 | tail -n 20; fail "exit code after SIGTERM is $exit_code, not 0"; }
ok "exit code 0 after SIGTERM, $(secs "$stop_ms") after podman stop"
[[ $(cat "$tmp/delay.code") == 200 && $(cat "$tmp/delay.body") == done ]] ||
  fail "the in-flight /delay got '$(cat "$tmp/delay.code")' '$(cat "$tmp/delay.body")' $(cat "$tmp/delay.err"), not 200 done"
ok "the in-flight /delay?ms=3000 got 200 done"
pm logs "$NAME" 2>&1 | grep -q 'shutdown complete: every fiber ended' ||
  fail "the log does not end with a clean shutdown (no 'every fiber ended')"
ok "log: shutdown complete: every fiber ended"

step "--print-config with an environment override"
pm_run --rm --name "$NAME-print" -e SPINDLE_THREADS=3 "$IMAGE" --print-config >"$tmp/config" ||
  fail "podman run IMAGE --print-config failed"
grep -qx 'threads = 3  # environment SPINDLE_THREADS' "$tmp/config" ||
  { cat "$tmp/config"; fail "--print-config does not show threads = 3 from SPINDLE_THREADS"; }
grep -qx 'format = "json"  # environment SPINDLE_LOG_FORMAT' "$tmp/config" ||
  fail "--print-config does not show the image's SPINDLE_LOG_FORMAT=json"
ok "threads = 3 from environment SPINDLE_THREADS; log.format json from the image's environment"

# deploy/kubernetes' preStop hook runs the image's own sleep.
pm_run --rm --name "$NAME-print" --entrypoint sleep "$IMAGE" 0 ||
  fail "the image has no sleep binary for the Kubernetes preStop hook"
ok "sleep is there for the preStop hook"

step "figures"
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
echo "image size:             $(mb "$size_bytes") (base $(mb "$base_bytes"), +$(mb $((size_bytes - base_bytes))))"
((base_ms > 0)) && echo "base image made in:     $(secs "$base_ms")"
echo "build time:             $(secs "$build_ms")"
echo "podman run -> healthy:  $(secs "$healthy_ms")"
echo "SIGTERM exit code:      $exit_code (podman stop took $(secs "$stop_ms"), /delay had 3 s to go)"
echo "total:                  $((SECONDS - started)) s"
echo "container-test.sh: all checks passed"
