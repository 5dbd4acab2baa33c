"""The hostile clients of the soak. Their own failures are expected; what is checked is the
server's side of each: a slowloris is cut off by the header timeout, a client that never
reads by the write timeout, oversized input gets its 4xx, a half-closed client its answer.
A server that gets one of these wrong records a check failure, which fails the run.

Where a client must not read (so the server's writes back up), it watches the connection's
TCP state instead (TCP_INFO): CLOSE_WAIT or CLOSE means the server closed or reset it.
"""
import asyncio
import os
import random
import socket
import struct
import time

from httpio import ProtocolError, read_response, request

TCP_ESTABLISHED, TCP_CLOSE, TCP_CLOSE_WAIT = 1, 7, 8
MARGIN = 8  # seconds beyond a server timeout before "not cut off" is a failure (a loaded box)


def tcp_state(writer) -> int:
    sock = writer.get_extra_info("socket")
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    except OSError:
        return TCP_CLOSE


def reset(writer):
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
    sock = writer.get_extra_info("socket")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


async def open_conn(port: int, rcvbuf: int = 0):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    if rcvbuf:  # before connect, so the window stays small: the server's writes back up sooner
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port)), 30)
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock, limit=1 << 20)


async def until_closed_by_server(writer, limit: float) -> float:
    """Seconds until the server closes or resets the connection (without reading), or -1."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if writer.transport.is_closing() or tcp_state(writer) in (TCP_CLOSE, TCP_CLOSE_WAIT):
            return time.monotonic() - start
        await asyncio.sleep(0.1)
    return -1.0


class Hostile:
    def __init__(self, stats, http_port, echo_port, timeouts, rng):
        self.stats, self.http, self.echo, self.t, self.rng = stats, http_port, echo_port, timeouts, rng

    # ---------------------------------------------------------------- resets

    async def reset_mid_request(self):
        r, w = await open_conn(self.http)
        body = os.urandom(self.rng.randint(1, 200_000))
        raw = request("POST", "/echo", body=body)
        w.write(raw[: self.rng.randint(1, len(raw) - 1)])  # a head cut anywhere, or part of the body
        await w.drain()
        await asyncio.sleep(self.rng.random() * 0.05)
        reset(w)
        self.stats.add("hostile_reset_mid_request")

    async def reset_mid_response(self):
        r, w = await open_conn(self.http)
        if self.rng.random() < 0.5:
            body = os.urandom(2_000_000)
            w.write(request("POST", "/echo", body=body))
            await r.readexactly(self.rng.randint(1, 100_000))  # some of the response, not all
        else:
            w.write(request("GET", f"/delay?ms={self.rng.randint(50, 500)}"))  # handler running
            await w.drain()
            await asyncio.sleep(0.02)
        reset(w)
        self.stats.add("hostile_reset_mid_response")

    async def reset_echo(self):
        r, w = await open_conn(self.echo)
        w.write(os.urandom(self.rng.randint(1, 1_000_000)))
        await asyncio.sleep(self.rng.random() * 0.05)
        reset(w)
        self.stats.add("hostile_reset_echo")

    # ---------------------------------------------------------------- slow senders

    async def slowloris(self):
        """A head that trickles in a byte at a time: the header timeout must end it (408)."""
        r, w = await open_conn(self.http)
        start = time.monotonic()
        head = b"GET / HTTP/1.1\r\nHost: soak\r\nX-Slow: " + b"a" * 10_000
        answer = asyncio.ensure_future(r.read())  # what comes back until the server closes
        try:
            for byte in head:
                if answer.done() or time.monotonic() - start > self.t["header"] + MARGIN:
                    break
                w.write(bytes([byte]))
                await asyncio.sleep(0.25)
            got = await asyncio.wait_for(answer, max(0.1, self.t["header"] + MARGIN - (time.monotonic() - start)))
            took = time.monotonic() - start
            if not got.startswith(b"HTTP/1.1 408"):
                self.stats.check_failed("slowloris", f"answered {got[:30]!r} instead of 408")
            else:
                self.stats.add("slowloris_cut_off")
                self.stats.counts["slowloris_max_ms"] = max(self.stats.counts["slowloris_max_ms"], int(took * 1000))
        except (asyncio.TimeoutError, ConnectionError):
            if not answer.done():
                self.stats.check_failed("slowloris", "not cut off by the header timeout")
            else:
                self.stats.add("slowloris_cut_off")
        finally:
            answer.cancel()
            reset(w)

    # ---------------------------------------------------------------- clients that never read

    async def never_reads(self):
        """Floods requests or a body to echo back and never reads: the server's write must
        time out and close the connection instead of buffering the responses."""
        kind = self.rng.randrange(3)
        port = self.echo if kind == 2 else self.http
        r, w = await open_conn(port, rcvbuf=4096)
        if kind == 0:
            w.write(request("GET", "/") * 100_000)  # 2.8 MB of pipelined requests
            limit = self.t["write"]
        elif kind == 1:
            w.write(request("POST", "/echo", body=os.urandom(8 * 1024 * 1024)))  # the largest allowed
            limit = self.t["write"]
        else:
            w.write(os.urandom(8 * 1024 * 1024))
            limit = self.t["echo_idle"]
        took = await until_closed_by_server(w, limit + MARGIN + 10)
        if took < 0:
            self.stats.check_failed("never reads", f"{['pipelined GETs', 'POST /echo', 'echo'][kind]}: not cut off")
        else:
            self.stats.add("never_read_cut_off")
            self.stats.counts["never_read_max_ms"] = max(self.stats.counts["never_read_max_ms"], int(took * 1000))
        reset(w)

    # ---------------------------------------------------------------- half-open and half-closed

    async def silent(self):
        """Connects and sends nothing (what a peer that vanished looks like): closed after the
        header timeout (HTTP) or the idle timeout (echo)."""
        http = self.rng.random() < 0.5
        r, w = await open_conn(self.http if http else self.echo)
        limit = self.t["header"] if http else self.t["echo_idle"]
        start = time.monotonic()
        try:
            got = await asyncio.wait_for(r.read(), limit + MARGIN)
            if got:
                self.stats.check_failed("silent connection", f"got {got[:30]!r}")
            else:
                self.stats.add("silent_closed")
        except asyncio.TimeoutError:
            self.stats.check_failed("silent connection", f"{'http' if http else 'echo'}: open after {time.monotonic() - start:.1f}s")
        finally:
            reset(w)

    async def half_close(self):
        """Sends, then shuts down its write side: it must still get its full answer."""
        http = self.rng.random() < 0.5
        r, w = await open_conn(self.http if http else self.echo)
        connected = time.monotonic()
        late = False
        try:
            if http:
                body = os.urandom(self.rng.randint(0, 50_000))
                w.write(request("POST", "/echo", body=body))
                late = self.late(connected)
                w.write_eof()
                resp = await asyncio.wait_for(read_response(r), 30)
                ok = resp.status == 200 and resp.body == body
            else:
                body = os.urandom(self.rng.randint(1, 200_000))
                w.write(body)
                w.write_eof()
                got = await asyncio.wait_for(r.read(), 30)
                ok = got == body
            if ok:
                self.stats.add("half_close_answered")
                self.stats.add("bytes_verified", len(body))
            else:
                self.stats.check_failed("half-close", f"{'http' if http else 'echo'}: answer differs")
        except (ProtocolError, asyncio.TimeoutError, ConnectionError) as e:
            self.unanswered("half-close", "http" if http else "echo", e, late)
        finally:
            reset(w)

    # ---------------------------------------------------------------- oversized and garbage

    OVERSIZED = [
        ("request line", request("GET", "/" + "a" * 9000), 414),
        ("head", request("GET", "/", extra="X-Big: " + "b" * 17_000 + "\r\n"), 431),
        ("header count", request("GET", "/", extra="".join(f"X-{i}: 1\r\n" for i in range(120))), 431),
        ("body length", b"POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: 9437184\r\n\r\n", 413),
        ("chunk size", b"POST /echo HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n900000\r\n", 413),
    ]

    def late(self, connected: float) -> bool:
        """True if this client sent its first bytes so late after connecting (a busy event loop)
        that the server may rightly have closed the connection as silent (header timeout)."""
        return time.monotonic() - connected > self.t["header"] - 0.5

    def unanswered(self, check: str, what: str, e: Exception, late: bool):
        if late and isinstance(e, ProtocolError) and "after 0 bytes" in str(e):
            self.stats.add("client_late_closed_by_header_timeout")
        else:
            self.stats.check_failed(check, f"{what}: {type(e).__name__}: {e}")

    async def oversized(self):
        what, raw, status = self.rng.choice(self.OVERSIZED)
        r, w = await open_conn(self.http)
        connected = time.monotonic()
        late = False
        try:
            w.write(raw)
            late = self.late(connected)
            resp = await asyncio.wait_for(read_response(r), 30)
            if resp.status != status:
                self.stats.check_failed("oversized", f"{what}: {resp.status} instead of {status}")
            else:
                self.stats.add(f"oversized_{status}")
        except (ProtocolError, asyncio.TimeoutError, ConnectionError) as e:
            self.unanswered("oversized", what, e, late)
        finally:
            reset(w)

    async def garbage(self):
        """Random bytes as a request: a 4xx/5xx and a close, or a close by the header timeout."""
        r, w = await open_conn(self.http)
        try:
            w.write(bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 3000))))
            got = await asyncio.wait_for(r.read(), self.t["header"] + MARGIN)
            if got and not (got.startswith(b"HTTP/1.1 4") or got.startswith(b"HTTP/1.1 5")):
                self.stats.check_failed("garbage", f"answered {got[:30]!r}")
            else:
                self.stats.add("garbage_refused")
        except asyncio.TimeoutError:
            self.stats.check_failed("garbage", "connection left open")
        except ConnectionError:
            self.stats.add("garbage_refused")
        finally:
            reset(w)


async def hostile_loop(name, action, stats, stop, pause):
    """Repeats `action` until `stop`, `pause` seconds apart; its own errors are expected."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(action(), 120)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ProtocolError):
            stats.add("hostile_own_errors")
        try:
            await asyncio.wait_for(stop.wait(), pause)
        except asyncio.TimeoutError:
            pass


def hostile(stats, stop, http_port, echo_port, timeouts, seed=2):
    h = Hostile(stats, http_port, echo_port, timeouts, random.Random(seed))
    plan = [  # (action, concurrent loops, pause between rounds)
        (h.reset_mid_request, 2, 0.05), (h.reset_mid_response, 2, 0.1), (h.reset_echo, 1, 0.1),
        (h.slowloris, 10, 0.2), (h.never_reads, 3, 0.5), (h.silent, 10, 0.2), (h.half_close, 2, 0.1),
        (h.oversized, 2, 0.05), (h.garbage, 2, 0.05),
    ]
    return [hostile_loop(a.__name__, a, stats, stop, p) for a, n, p in plan for _ in range(n)]
