"""The well-behaved clients of the soak: every byte they get back is verified, and anything
unexpected (a wrong status, a wrong byte, a reset, a timeout) counts as an error, which
fails the run.

Each client is a loop that runs until `stop` is set, reconnecting now and then so that
connection setup and teardown are part of the load too.
"""
import asyncio
import os
import random

from httpio import ProtocolError, read_response, request

OP_TIMEOUT = 30  # seconds; a well-behaved exchange slower than this is an error


async def connect(port: int):
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, limit=1 << 20), OP_TIMEOUT)


async def close(writer):
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass


async def run_client(name, stats, stop, body):
    """Runs `body(reader, writer)` on fresh connections until `stop`; errors are counted."""
    while not stop.is_set():
        writer = None
        try:
            reader, writer = await connect(body.port)
            for _ in range(body.rounds):
                if stop.is_set():
                    break
                # Inline, not a task (as wait_for makes): the first request goes out at once
                # after connecting, never left for the server's header timeout by a busy loop.
                async with asyncio.timeout(OP_TIMEOUT):
                    await body(reader, writer)
            stats.add("connections_well_behaved")
        except (ProtocolError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, AssertionError) as e:
            stats.error(name, f"{type(e).__name__}: {e}")
            await asyncio.sleep(0.1)
        finally:
            if writer is not None:
                await close(writer)


class Client:
    """One kind of exchange, repeated `rounds` times per connection."""

    def __init__(self, stats, port, rounds, rng):
        self.stats, self.port, self.rounds, self.rng = stats, port, rounds, rng

    def expect(self, ok: bool, what: str):
        if not ok:
            raise AssertionError(what)


class KeepAliveGet(Client):
    async def __call__(self, reader, writer):
        writer.write(request("GET", "/"))
        r = await read_response(reader)
        self.expect(r.status == 200 and r.body == b"Hello, World!", f"GET / gave {r.status} {r.body[:40]!r}")
        self.stats.add("http_requests_ok")
        self.stats.add("bytes_verified", len(r.body))


class EchoRoundTrip(Client):
    """Binary messages of 1 B to 64 KiB on the echo port, read back exactly."""

    async def __call__(self, reader, writer):
        data = os.urandom(self.rng.choice([1, 7, 512, 4096, 65536, self.rng.randint(1, 65536)]))
        writer.write(data)
        got, _ = await asyncio.gather(reader.readexactly(len(data)), writer.drain())
        self.expect(got == data, f"echo returned {len(got)} bytes that differ from the {len(data)} sent")
        self.stats.add("echo_round_trips_ok")
        self.stats.add("bytes_verified", len(data))


class PostEcho(Client):
    """POST /echo with a binary body sent with Content-Length or chunked, echoed exactly."""

    def __init__(self, *args, chunked: bool):
        super().__init__(*args)
        self.chunked = chunked

    async def __call__(self, reader, writer):
        body = os.urandom(self.rng.choice([0, 1, 1000, 16384, 100_000, self.rng.randint(1, 300_000)]))
        if self.chunked:
            chunks, pos = [], 0
            while pos < len(body):
                n = self.rng.randint(1, 40_000)
                chunks.append(body[pos:pos + n])
                pos += n
            raw = request("POST", "/echo", chunks=chunks)
        else:
            raw = request("POST", "/echo", body=body)
        writer.write(raw)
        r, _ = await asyncio.gather(read_response(reader), writer.drain())
        self.expect(r.status == 200, f"POST /echo gave {r.status}")
        self.expect(r.body == body, f"POST /echo returned {len(r.body)} bytes that differ from the {len(body)} sent")
        self.stats.add("http_requests_ok")
        self.stats.add("bytes_verified", len(body))


class Pipelined(Client):
    """A batch of requests in one write; the responses must come back complete and in order."""

    async def __call__(self, reader, writer):
        batch, expected = [], []
        for i in range(self.rng.randint(2, 16)):
            kind = self.rng.randrange(3)
            if kind == 0:
                batch.append(request("GET", "/"))
                expected.append(b"Hello, World!")
            elif kind == 1:
                batch.append(request("GET", "/healthz"))
                expected.append(b"ok\n")
            else:
                body = os.urandom(self.rng.randint(0, 3000))
                batch.append(request("POST", "/echo", body=body))
                expected.append(body)
        writer.write(b"".join(batch))
        await writer.drain()
        for i, want in enumerate(expected):
            r = await read_response(reader)
            self.expect(r.status == 200 and r.body == want, f"pipelined response {i} of {len(expected)} was wrong")
            self.stats.add("http_requests_ok")
            self.stats.add("bytes_verified", len(want))
        self.stats.add("pipelined_batches_ok")


def well_behaved(stats, stop, http_port, echo_port, seed=1):
    """The steady load: coroutines that run until `stop`."""
    rng = random.Random(seed)
    kinds = [
        ("keep-alive GET", lambda: KeepAliveGet(stats, http_port, 200, rng), 3),
        ("echo round trips", lambda: EchoRoundTrip(stats, echo_port, 100, rng), 2),
        ("POST /echo content-length", lambda: PostEcho(stats, http_port, 20, rng, chunked=False), 2),
        ("POST /echo chunked", lambda: PostEcho(stats, http_port, 20, rng, chunked=True), 2),
        ("pipelined batches", lambda: Pipelined(stats, http_port, 20, rng), 2),
    ]
    return [run_client(f"{name} #{i}", stats, stop, make()) for name, make, n in kinds for i in range(n)]
