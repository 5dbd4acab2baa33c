# spindle-server container image.
#
#   podman build --pull=never --format docker -t spindle-server .     (or: docker build -t ...)
#   podman run --rm -p 8080:8080 -p 7007:7007 spindle-server
#
# Every setting is a SPINDLE_* environment variable (spindle-server --help lists them), e.g.
# -e SPINDLE_THREADS=2 -e SPINDLE_SHUTDOWN_GRACE=20s, or a TOML file through SPINDLE_CONFIG.
# scripts/container-test.sh builds and checks this image; docs/DEPLOY.md explains the rest.

# ---------------------------------------------------------------- build: compile and test
FROM debian:bookworm-slim AS build
WORKDIR /src
# The toolchain comes from the project's own dependency script, as on a developer's machine
# (one source of truth; tests/deploy checks this stays so). It is copied alone so that this
# layer, the slowest to download, stays cached while the sources change.
COPY scripts/install-deps.sh scripts/
RUN scripts/install-deps.sh suite && rm -rf /var/lib/apt/lists/*
# Only what the server and its suite are built from: an edit to docs or bench rebuilds nothing.
COPY CMakeLists.txt ./
COPY cmake cmake
COPY runtime runtime
COPY config config
COPY server server
COPY handlers handlers
COPY tests tests
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DSPINDLE_BUILD_EXAMPLES=OFF \
          -DSPINDLE_BUILD_BENCH=OFF >/dev/null \
 && cmake --build /build -j"$(nproc)" --target spindle-server spindle_tests
# The unit suite runs here, on loopback inside the build container: a red suite is no image.
RUN /build/tests/spindle_tests
RUN install -D -s -m 0755 /build/server/spindle-server /out/spindle-server

# ---------------------------------------------------------------- runtime: the binary only
FROM debian:bookworm-slim
# The shared libraries spindle-server loads beyond the base system (spdlog, fmt), named in
# the same dependency script. A fixed numeric uid/gid, so that Kubernetes' runAsNonRoot can
# verify it without reading /etc/passwd.
COPY scripts/install-deps.sh /tmp/
RUN /tmp/install-deps.sh runtime \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log /tmp/install-deps.sh \
 && groupadd --system --gid 10001 spindle \
 && useradd --system --uid 10001 --gid spindle --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin spindle
COPY --from=build /out/spindle-server /usr/local/bin/spindle-server
# Fails the build if a shared library is missing, rather than the first container start.
RUN spindle-server --print-config >/dev/null

USER 10001:10001
# In a container the log goes to a collector: one JSON object per line, whatever the terminal.
ENV SPINDLE_LOG_FORMAT=json
EXPOSE 8080/tcp 7007/tcp
# The server drains on SIGTERM (/readyz 503, in-flight requests finish within shutdown_grace)
# and exits 0; give `podman stop -t` / `docker stop -t` more than shutdown_grace + 2 s.
STOPSIGNAL SIGTERM
# GET /healthz with bash's /dev/tcp: no curl or wget in the image. It follows SPINDLE_HTTP
# (a wildcard address is probed on loopback); a port set only in a TOML file or a flag needs
# SPINDLE_HTTP too, or its own --health-cmd.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["bash", "-c", "a=${SPINDLE_HTTP:-0.0.0.0:8080}; h=${a%:*}; h=${h#\\[}; h=${h%\\]}; case $h in ''|0.0.0.0) h=127.0.0.1;; ::) h=::1;; esac; exec 3<>/dev/tcp/$h/${a##*:} && printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && read -r -t 2 _ s _ <&3 && [[ $s == 200 ]]"]
# Exec form: spindle-server is PID 1 and receives SIGTERM itself (no shell in between).
ENTRYPOINT ["/usr/local/bin/spindle-server"]
