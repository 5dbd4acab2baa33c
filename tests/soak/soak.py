#!/usr/bin/env python3
"""Soak test with faults: spindle-server under a mixed load of well-behaved and hostile
clients for a given time, then SIGTERM; it must have served every well-behaved client
correctly, held its memory flat, and ended with the descriptors and fibers it began with and
an empty leak report.

Usage: soak.py SECONDS --server PATH [--out FILE] [--burst N] [--seed N]

Python (stdlib asyncio) rather than C++: the clients' variety is the point (resets, trickles,
clients that never read, bursts), not raw load, and one event loop drives all of them with
byte-for-byte checks in a few hundred readable lines; the server does the heavy lifting.

Pass conditions (each failure is listed in the JSON's "failures" and the exit code is 1):
  - well-behaved clients saw 0 errors; every hostile case got the server's promised answer;
  - the burst: every connection opened, answered, and held open at once;
  - RSS flattens: growth over the second half of the run is at most max(8 MiB, 10% of the
    RSS at the middle), and the peak stays under 512 MiB;
  - after the load stops, open fds and live fibers return to their baselines (within 30 s);
  - SIGTERM: exit code 0 and "shutdown complete: every fiber ended" (no leak report).
"""
import argparse
import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from burst import burst  # noqa: E402
from clients import well_behaved  # noqa: E402
from hostile import hostile  # noqa: E402
from server import Server  # noqa: E402
from stats import Stats  # noqa: E402

TIMEOUTS = {"header": 5, "write": 2, "echo_idle": 4}  # as Server.ARGS sets them
RSS_GROWTH_FLOOR_KIB = 8 * 1024
RSS_GROWTH_FRACTION = 0.10
RSS_PEAK_LIMIT_KIB = 512 * 1024


def probe(server: Server, t0: float) -> dict:
    # Descriptors first: the /metrics request's own connection is closed by then.
    fds, rss = server.open_fds(), server.rss_kib()
    m = server.metrics()
    return {
        "t": round(time.monotonic() - t0, 1),
        "rss_kib": rss,
        "fds": fds,
        "fibers": int(m.get("spindle_fibers_live", -1)),
        "http_open": int(m.get('spindle_connections_open{service="http"}', -1)),
        "echo_open": int(m.get('spindle_connections_open{service="echo"}', -1)),
    }


async def sampler(server, t0, samples, stop, every):
    while not stop.is_set():
        samples.append(await asyncio.to_thread(probe, server, t0))
        try:
            await asyncio.wait_for(stop.wait(), every)
        except asyncio.TimeoutError:
            pass


def rss_check(samples, duration) -> dict:
    """RSS at start, middle and end of the load, and whether its growth flattened."""
    during = [s for s in samples if s["t"] <= duration + 1]
    middle = min(during, key=lambda s: abs(s["t"] - duration / 2))
    end = during[-1]
    bound = max(RSS_GROWTH_FLOOR_KIB, int(RSS_GROWTH_FRACTION * middle["rss_kib"]))
    second_half = [s for s in during if s["t"] >= middle["t"]]
    growth = max(s["rss_kib"] for s in second_half) - middle["rss_kib"]
    peak = max(s["rss_kib"] for s in samples)
    return {
        "start": samples[0]["rss_kib"],
        "middle": middle["rss_kib"],
        "end": end["rss_kib"],
        "peak": peak,
        "growth_second_half": growth,
        "growth_bound": bound,
        "flat": growth <= bound and peak <= RSS_PEAK_LIMIT_KIB,
        "rule": f"max RSS over the second half - RSS at the middle <= max({RSS_GROWTH_FLOOR_KIB} KiB, "
                f"{int(RSS_GROWTH_FRACTION * 100)}% of the middle); peak <= {RSS_PEAK_LIMIT_KIB} KiB",
    }


async def settle(server, baseline, t0, limit=30.0) -> dict:
    """Waits for fds and fibers to return to the baseline once the clients are gone."""
    deadline = time.monotonic() + limit
    while True:
        now = await asyncio.to_thread(probe, server, t0)
        if (now["fds"] <= baseline["fds"] and now["fibers"] <= baseline["fibers"]) or time.monotonic() > deadline:
            return now
        await asyncio.sleep(0.5)


async def soak(args) -> dict:
    server = Server(args.server, args.log)
    server.start()
    fd_limit = server.fd_limit()
    stats = Stats()
    t0 = time.monotonic()
    await asyncio.sleep(1)  # the server's threads and pools settle
    baseline = await asyncio.to_thread(probe, server, t0)
    samples = [baseline]
    stop, stop_sampling = asyncio.Event(), asyncio.Event()
    every = max(1.0, min(10.0, args.seconds / 30))
    load_start = time.monotonic()
    tasks = [asyncio.ensure_future(c) for c in well_behaved(stats, stop, server.http_port, server.echo_port, args.seed)]
    tasks += [asyncio.ensure_future(c) for c in hostile(stats, stop, server.http_port, server.echo_port, TIMEOUTS, args.seed + 1)]
    sampling = asyncio.ensure_future(sampler(server, t0, samples, stop_sampling, every))

    burst_result = {}
    # Each burst connection costs a descriptor on both sides, beside the steady load's; a
    # machine whose hard limit is lower than this one's (20,000) gets a smaller burst, noted.
    burst_size = min(args.burst, max(0, fd_limit - 2000))
    if burst_size:
        await asyncio.sleep(args.seconds * 0.2)
        burst_result = await burst(stats, server, burst_size)
        burst_result["requested"] = args.burst
        burst_result["at_s"] = round(time.monotonic() - t0, 1)
    remaining = args.seconds - (time.monotonic() - load_start)
    if remaining > 0:
        await asyncio.sleep(remaining)
    stop.set()
    _, pending = await asyncio.wait(tasks, timeout=150)
    for t in pending:
        t.cancel()
    stop_sampling.set()
    await sampling
    samples.append(await asyncio.to_thread(probe, server, t0))
    load_seconds = time.monotonic() - load_start

    after = await settle(server, baseline, t0)
    metrics = await asyncio.to_thread(server.metrics)
    leftover = [] if after["fibers"] <= baseline["fibers"] else await asyncio.to_thread(server.fibers)
    exit_code = await asyncio.to_thread(server.stop)
    log = server.log_text()
    clean = "shutdown complete: every fiber ended" in log
    leak_lines = [line for line in log.splitlines() if "leak" in line.lower()][:20]

    rss = rss_check(samples, args.seconds + (samples[1]["t"] if len(samples) > 1 else 1))
    c = stats.counts
    served = {k.split('"')[1]: int(v) for k, v in metrics.items() if k.startswith("spindle_http_requests_total")}
    result = {
        "seconds": args.seconds,
        "load_seconds": round(load_seconds, 1),
        "server": os.path.abspath(args.server),
        "server_fd_limit": fd_limit,
        "seed": args.seed,
        "requests": {
            "http_ok_well_behaved": c["http_requests_ok"],
            "echo_round_trips_ok": c["echo_round_trips_ok"],
            "pipelined_batches_ok": c["pipelined_batches_ok"],
            "burst_requests_ok": c["burst_requests_ok"],
            "server_http_requests_by_class": served,
            "server_http_requests_total": sum(served.values()),
            "server_connections_accepted": {k.split('"')[1]: int(v) for k, v in metrics.items()
                                            if k.startswith("spindle_connections_accepted_total")},
        },
        "errors_well_behaved": c["errors"],
        "error_samples": stats.errors[:20],
        "check_failures": c["check_failures"],
        "check_samples": stats.checks[:20],
        "bytes_verified": c["bytes_verified"],
        "hostile": {k: v for k, v in sorted(c.items()) if k.startswith(("hostile", "slowloris", "never_read", "silent",
                                                                         "half_close", "oversized", "garbage", "client_late"))},
        "burst": burst_result,
        "rss_kib": rss,
        "fds": {"baseline": baseline["fds"], "end": after["fds"], "peak": max(s["fds"] for s in samples)},
        "fibers": {"baseline": baseline["fibers"], "end": after["fibers"], "peak": max(s["fibers"] for s in samples),
                   "left_over": leftover[:20]},
        "exit_code": exit_code,
        "leak_report_empty": clean and exit_code == 0,
        "leak_lines": leak_lines,
        "samples": samples,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    failures = []
    if c["errors"]:
        failures.append(f"{c['errors']} errors seen by well-behaved clients")
    if c["check_failures"]:
        failures.append(f"{c['check_failures']} hostile cases handled wrongly")
    if min(c["http_requests_ok"], c["echo_round_trips_ok"], c["pipelined_batches_ok"]) == 0:
        failures.append("a kind of well-behaved client completed nothing")
    if not rss["flat"]:
        failures.append(f"RSS did not flatten: +{rss['growth_second_half']} KiB in the second half "
                        f"(bound {rss['growth_bound']} KiB), peak {rss['peak']} KiB")
    if after["fds"] > baseline["fds"]:
        failures.append(f"open fds {after['fds']} at the end, baseline {baseline['fds']}")
    if after["fibers"] > baseline["fibers"]:
        failures.append(f"live fibers {after['fibers']} at the end, baseline {baseline['fibers']}")
    if exit_code != 0:
        failures.append(f"exit code {exit_code} on SIGTERM (3: fibers leaked)")
    if not clean:
        failures.append("no 'every fiber ended' in the shutdown log")
    result["failures"] = failures
    result["passed"] = not failures
    return result


def summary(r: dict) -> str:
    q, rss = r["requests"], r["rss_kib"]
    lines = [
        f"soak {r['seconds']}s: {'PASSED' if r['passed'] else 'FAILED'}",
        f"  requests: {q['server_http_requests_total']} HTTP served by the server "
        f"({q['http_ok_well_behaved']} verified well-behaved, {q['burst_requests_ok']} in the burst), "
        f"{q['echo_round_trips_ok']} echo round trips, {q['pipelined_batches_ok']} pipelined batches",
        f"  errors seen by well-behaved clients: {r['errors_well_behaved']}; hostile cases handled wrongly: "
        f"{r['check_failures']}; bytes verified: {r['bytes_verified']}",
        f"  hostile: {r['hostile']}",
        f"  burst: {r['burst']}",
        f"  RSS KiB start/middle/end/peak: {rss['start']}/{rss['middle']}/{rss['end']}/{rss['peak']} "
        f"(second-half growth {rss['growth_second_half']}, bound {rss['growth_bound']})",
        f"  fds baseline/end/peak: {r['fds']['baseline']}/{r['fds']['end']}/{r['fds']['peak']}; "
        f"fibers baseline/end/peak: {r['fibers']['baseline']}/{r['fibers']['end']}/{r['fibers']['peak']}",
        f"  exit code {r['exit_code']}, leak report empty: {r['leak_report_empty']}",
    ]
    lines += [f"  FAILURE: {f}" for f in r["failures"]]
    lines += [f"  error: {e}" for e in r["error_samples"][:10]]
    lines += [f"  check: {e}" for e in r["check_samples"][:10]]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("seconds", type=int)
    p.add_argument("--server", required=True, help="spindle-server binary")
    p.add_argument("--out", default="results/reliability/soak.json")
    p.add_argument("--log", default=None, help="server log (default: next to --out)")
    p.add_argument("--burst", type=int, default=10_000, help="connections in the burst (0: none)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    args.log = args.log or os.path.join(out_dir, f"soak-{args.seconds}s-server.log")
    result = asyncio.run(soak(args))
    text = json.dumps(result, indent=1)
    with open(args.out, "w") as f:
        f.write(text + "\n")
    # The last run of each length is kept too, for the reliability report.
    with open(os.path.join(out_dir, f"soak-{args.seconds}s.json"), "w") as f:
        f.write(text + "\n")
    print(summary(result))
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
