"""spindle-server as the soak's child process: start, probe (RSS, fds, fibers), stop.

The server logs JSON lines to a file (stderr of the child), never to a pipe the soak would
have to drain: a full pipe would stall the server and look like a server fault.
"""
import json
import os
import re
import resource
import signal
import socket
import subprocess
import time


class Server:
    def __init__(self, binary: str, log_path: str, extra_args=()):
        self.binary = binary
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self.proc = None
        self.http_port = 0
        self.echo_port = 0

    # The limits and timeouts the hostile clients run into; short, so a run of a minute sees
    # each of them fire many times.
    ARGS = [
        "--http", "127.0.0.1:0", "--echo", "127.0.0.1:0", "--threads", "2",
        "--log-format", "json", "--log-level", "info", "--http-access-log", "false",
        "--http-header-timeout", "5s", "--http-write-timeout", "2s", "--http-body-timeout", "5s",
        "--http-request-timeout", "20s", "--http-idle-timeout", "120s", "--echo-idle-timeout", "4s",
        "--http-max-body", "8MiB", "--http-max-connections", "15000", "--echo-max-connections", "15000",
        "--shutdown-grace", "5s",
    ]

    def start(self):
        # The burst needs 10,000 descriptors in the server as in the client: raise the soft
        # limit to the hard one, which the child inherits.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([self.binary, *self.ARGS, *self.extra_args], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (self.http_port and self.echo_port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"spindle-server exited with {self.proc.returncode} at start:\n{self.log_text()}")
            text = self.log_text()
            if m := re.search(r"http listening on 127\.0\.0\.1:(\d+)", text):
                self.http_port = int(m.group(1))
            if m := re.search(r"echo listening on 127\.0\.0\.1:(\d+)", text):
                self.echo_port = int(m.group(1))
            time.sleep(0.05)
        if not (self.http_port and self.echo_port):
            raise RuntimeError("spindle-server did not report its ports:\n" + self.log_text())

    def log_text(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def rss_kib(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def fd_limit(self) -> int:
        with open(f"/proc/{self.proc.pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
        return 0

    def get(self, path: str, timeout: float = 10) -> bytes:
        """A blocking GET on its own connection (for probes; not part of the load)."""
        with socket.create_connection(("127.0.0.1", self.http_port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n".encode())
            data = bytearray()
            while chunk := s.recv(65536):
                data += chunk
        head, _, body = bytes(data).partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"GET {path}: {head[:80]!r}")
        if b"transfer-encoding: chunked" in head.lower():
            out, rest = bytearray(), body
            while True:
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line, 16)
                if size == 0:
                    return bytes(out)
                out += rest[:size]
                rest = rest[size + 2:]
        return body

    def metrics(self) -> dict:
        """GET /metrics as {name{labels}: value}."""
        out = {}
        for line in self.get("/metrics").decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def fibers(self) -> list:
        return json.loads(self.get("/debug/fibers?format=json"))

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then the exit code (0: clean, 3: fibers leaked); SIGKILL if it hangs."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -9
        finally:
            self.log.close()
