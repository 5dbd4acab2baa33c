"""A burst of connections: thousands opened at once, all held open together, each answered.

The burst goes to the HTTP port: after its first request a connection is an idle keep-alive
one, which the server keeps for the idle timeout, so all of them can be open at the same time
(an echo connection would be closed after the echo idle timeout while the rest connect).
"""
import asyncio
import time

from httpio import ProtocolError, read_response, request


async def burst(stats, server, n: int, concurrency: int = 256) -> dict:
    gate = asyncio.Semaphore(concurrency)
    conns = []
    failures = []

    async def exchange(r, w):
        w.write(request("GET", "/"))
        resp = await asyncio.wait_for(read_response(r), 60)
        if resp.status != 200 or resp.body != b"Hello, World!":
            raise ProtocolError(f"status {resp.status}")

    async def open_one():
        async with gate:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", server.http_port), 60)
            except (OSError, asyncio.TimeoutError) as e:
                failures.append(f"connect: {type(e).__name__}: {e}")
                return
            try:
                await exchange(r, w)
                conns.append((r, w))
            except (OSError, asyncio.TimeoutError, ProtocolError) as e:
                failures.append(f"first request: {type(e).__name__}: {e}")
                w.close()

    start = time.monotonic()
    await asyncio.gather(*(open_one() for _ in range(n)))
    opened = time.monotonic() - start
    metrics = await asyncio.to_thread(server.metrics)
    held = int(metrics.get('spindle_connections_open{service="http"}', 0))
    fds_held = await asyncio.to_thread(server.open_fds)

    async def second(r, w):
        async with gate:
            try:
                await exchange(r, w)
                return True
            except (OSError, asyncio.TimeoutError, ProtocolError) as e:
                failures.append(f"second request: {type(e).__name__}: {e}")
                return False

    answered = sum(await asyncio.gather(*(second(r, w) for r, w in conns)))
    for _, w in conns:
        w.close()
    stats.add("burst_requests_ok", len(conns) + answered)
    stats.add("bytes_verified", (len(conns) + answered) * len(b"Hello, World!"))
    result = {
        "connections": n,
        "opened_and_answered": len(conns),
        "open_at_once_server_side": held,
        "server_fds_while_held": fds_held,
        "answered_again_while_all_open": answered,
        "seconds_to_open_all": round(opened, 2),
        "seconds_total": round(time.monotonic() - start, 2),
        "failures": len(failures),
        "failure_samples": failures[:10],
    }
    if failures:
        stats.check_failed("burst", f"{len(failures)} of {n} connections failed, e.g. {failures[0]}")
    elif held < n:
        stats.check_failed("burst", f"only {held} of {n} connections open at once on the server")
    return result
