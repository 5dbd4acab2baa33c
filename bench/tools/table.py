#!/usr/bin/env python3
"""table.py: the markdown tables of a benchmark results folder, and the ratios the chart draws.

Usage: table.py OUT_DIR        (reads OUT_DIR/servers.tsv and/or OUT_DIR/runtime.tsv)

Rows are "run test server metric value" (tab separated) as bench/servers.sh and
bench/runtime.sh write them. Every cell is the median over runs followed by the min-max
spread. Below each server table, the median over passes of spindle's figure divided by each
reference's figure of the same pass (servers.sh measures the two seconds apart); below the
runtime tables, spindle's median divided by Go's. A run whose
other_cpu_pct (CPU used by neither server nor client) stayed above the threshold after its
rerun is counted in the "noisy" column. The ratios also go to OUT_DIR/ratios.tsv for
chart.py.
"""
import os
import statistics
import sys
from collections import defaultdict

# test id -> heading
HTTP_TESTS = [
    ("http-c64", "64 connections"),
    ("http-c1000", "1000 connections"),
    ("http-c64-pipe16", "64 connections, 16 requests pipelined"),
]
H2LOAD_TESTS = [
    ("h2load-c64", "64 connections"),
    ("h2load-c1000", "1000 connections"),
]
ECHO_TESTS = [
    ("echo-c64-64B", "64 connections, 64 B messages"),
    ("echo-c1000-64B", "1000 connections, 64 B messages"),
    ("echo-c64-4KiB", "64 connections, 4 KiB messages"),
    ("echo-c1000-4KiB", "1000 connections, 4 KiB messages"),
    ("echo-c64-64B-rate20k", "64 connections, 64 B messages, fixed 20,000 round trips/s"),
    ("echo-c64-64B-rate40k", "64 connections, 64 B messages, fixed 40,000 round trips/s"),
    ("echo-c1000-64B-rate20k", "1000 connections, 64 B messages, fixed 20,000 round trips/s"),
    ("echo-c1000-64B-rate40k", "1000 connections, 64 B messages, fixed 40,000 round trips/s"),
    ("echo-c64-64B-lean", "64 connections, 64 B messages, lean client"),
    ("echo-c1000-64B-lean", "1000 connections, 64 B messages, lean client"),
]
HTTP_COLUMNS = [  # metric, heading
    ("req_per_s", "req/s"), ("p50_us", "p50 µs"), ("p99_us", "p99 µs"), ("p999_us", "p99.9 µs"),
    ("srv_us_per_req", "server CPU µs/req"), ("srv_cpu_pct", "server CPU %"),
    ("cli_cpu_pct", "wrk CPU %"), ("other_cpu_pct", "other CPU %"), ("errors", "errors"),
]
H2LOAD_COLUMNS = [
    ("req_per_s", "req/s"), ("srv_us_per_req", "server CPU µs/req"), ("srv_cpu_pct", "server CPU %"),
    ("cli_cpu_pct", "h2load CPU %"), ("other_cpu_pct", "other CPU %"), ("errors", "errors"),
]
ECHO_COLUMNS = [
    ("rt_per_s", "round trips/s"), ("p50_us", "p50 µs"), ("p99_us", "p99 µs"),
    ("srv_us_per_rt", "server CPU µs/rt"), ("srv_cpu_pct", "server CPU %"),
    ("cli_cpu_pct", "client CPU %"), ("other_cpu_pct", "other CPU %"), ("errors", "errors"),
]
# Ratios only where a ratio means something (not for CPU shares or error counts).
RATIO_METRICS = {"req_per_s", "rt_per_s", "p50_us", "p99_us", "p999_us", "srv_us_per_req",
                 "srv_us_per_rt", "rss_per_conn_B"}
HIGHER_IS_BETTER = {"req_per_s", "rt_per_s", "fanout_jobs_per_s", "fanout_spread_jobs_per_s"}
# The metrics of the server tests the chart shows, and their short names there.
CHART_METRICS = {"req_per_s": "req/s", "srv_us_per_req": "CPU/req", "rt_per_s": "round trips/s",
                 "srv_us_per_rt": "CPU/round trip", "rss_per_conn_B": "RSS/connection"}

# label, spindle metric, Go metric, unit, modes it applies to
RUNTIME_METRICS = [
    ("idle memory per fiber / goroutine", "idle_rss_per_fiber", "idle_rss_per_goroutine", "B", "12"),
    ("spawn + join, cold (first batch)", "spawn_join_cold_ns_per_fiber", "spawn_join_cold_ns_per_goroutine", "ns", "12"),
    ("spawn + join, warm", "spawn_join_warm_ns_per_fiber", "spawn_join_warm_ns_per_goroutine", "ns", "12"),
    ("spawn + join, one at a time", "spawn_join_seq_ns", "spawn_join_seq_ns", "ns", "12"),
    ("context cancel fan-out, per fiber", "ctx_cancel_fanout_ns_per_fiber", "ctx_cancel_fanout_ns_per_goroutine", "ns", "12"),
    ("channel ping-pong round trip", "chan_pingpong_rtt_ns", "chan_pingpong_rtt_ns", "ns", "12"),
    ("channel ping-pong forced across threads ‡", "chan_pingpong_cross_thread_rtt_ns",
     "chan_pingpong_cross_thread_rtt_ns", "ns", "2"),
    ("fan-out: jobs through 8 workers", "fanout_jobs_per_s", "fanout_jobs_per_s", "jobs/s", "12"),
    ("fan-out, workers spread over the threads †", "fanout_spread_jobs_per_s", "fanout_jobs_per_s", "jobs/s", "2"),
    ("WaitGroup add + done", "wg_add_done_ns", "wg_add_done_ns", "ns", "12"),
    ("WaitGroup wait on zero", "wg_wait_zero_ns", "wg_wait_zero_ns", "ns", "12"),
]

NAMES = {"spindle": "spindle", "go": "Go", "asio": "raw Asio", "nginx": "nginx"}


def server_name(server):
    """http/nginx:2 -> 'nginx, 2 workers'; go:1 -> 'Go, GOMAXPROCS=1'."""
    impl = server.split("/")[-1]
    impl, _, threads = impl.partition(":")
    if not threads:
        return NAMES.get(impl, impl)
    n = int(threads)
    if impl == "go":
        return f"Go, GOMAXPROCS={n}"
    unit = "worker" if impl == "nginx" else "thread"
    return f"{NAMES.get(impl, impl)}, {n} {unit}{'s' if n > 1 else ''}"


def rows(out):
    """Yields (run, test, server, metric, value) for every row of OUT's servers.tsv and runtime.tsv."""
    for name in ("servers.tsv", "runtime.tsv"):
        path = os.path.join(out, name)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 5:
                    yield parts


def load(out):
    """-> (data, by_run): data[test][server][metric] = [values by run], in file order, and
    by_run[test][server][metric] = {run: value}."""
    data = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    by_run = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for run, test, server, metric, value in rows(out):
        try:
            data[test][server][metric].append(float(value))
            by_run[test][server][metric][run] = float(value)
        except ValueError:
            pass
    return data, by_run


def paired_ratio(ours, ref):
    """The median over the runs both sides have of ours ÷ ref ({run: value} each)."""
    return med([ours[r] / ref[r] for r in ours if ref.get(r)])


def num(x):
    if x is None:
        return "-"
    a = abs(x)
    if x == int(x) and a < 1000:  # counts, and figures the programs print whole
        return f"{x:.0f}"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def med(xs):
    return statistics.median(xs) if xs else None


def cell(xs):
    if not xs:
        return "-"
    if num(min(xs)) == num(max(xs)):  # no spread worth printing
        return num(med(xs))
    return f"{num(med(xs))} ({num(min(xs))}–{num(max(xs))})"


def ratio_text(a, b):
    return f"{a / b:.2f}×" if a is not None and b else "-"


def noisy_cell(m):
    flags = m.get("noisy", [])
    if not flags:
        return "-"
    n = int(sum(flags))
    return f"**{n}/{len(flags)}**" if n else f"0/{len(flags)}"


class Report:
    def __init__(self, data, by_run):
        self.data = data
        self.by_run = by_run
        self.lines = []
        self.ratios = []  # (group, label, reference, spindle/ref, higher_is_better, noisy)

    def out(self, s=""):
        self.lines.append(s)

    def noisy(self, test, server):
        return any(self.data[test][server].get("noisy", []))

    def server_table(self, test, servers, columns, group, label):
        d = self.data[test]
        servers = [s for s in servers if s in d]
        if not servers:
            return
        self.out("| server | " + " | ".join(h for _, h in columns) + " | noisy runs |")
        self.out("|---|" + "---:|" * (len(columns) + 1))
        for s in servers:
            cells = [cell(d[s].get(m, [])) for m, _ in columns]
            self.out(f"| {server_name(s)} | " + " | ".join(cells) + f" | {noisy_cell(d[s])} |")
        ours = next((s for s in servers if "spindle" in s), None)
        if ours is None:
            return
        for ref in servers:
            if ref == ours:
                continue
            cells = []
            for m, _ in columns:
                if m not in RATIO_METRICS:
                    cells.append("")
                    continue
                r = paired_ratio(self.by_run[test][ours].get(m, {}), self.by_run[test][ref].get(m, {}))
                cells.append(f"{r:.2f}×" if r is not None else "-")
                if r is not None and m in CHART_METRICS:
                    self.ratios.append((group, f"{label}: {CHART_METRICS[m]}", NAMES[ref.split('/')[-1].split(':')[0]],
                                        r, m in HIGHER_IS_BETTER, self.noisy(test, ours) or self.noisy(test, ref)))
            self.out(f"| *spindle ÷ {server_name(ref)}* | " + " | ".join(cells) + " | |")
        self.out()

    def http(self):
        if not any(t in self.data for t, _ in HTTP_TESTS):
            return
        self.out("## HTTP: GET / keep-alive (wrk)")
        self.out()
        for threads, place in ((1, "1 thread each, server pinned to cpu 1, wrk to cpu 0"),
                               (2, "2 threads each, nothing pinned: wrk shares both cores with the server")):
            for test, title in HTTP_TESTS:
                servers = [f"http/{i}:{threads}" for i in ("spindle", "go", "asio", "nginx")]
                if not any(s in self.data.get(test, {}) for s in servers):
                    continue
                self.out(f"### {title} — {place}")
                self.out()
                short = {"http-c64": "64 conns", "http-c1000": "1000 conns", "http-c64-pipe16": "pipelined 16"}[test]
                self.server_table(test, servers, HTTP_COLUMNS,
                                  f"HTTP GET /, {threads} thread{'s' if threads > 1 else ''}", short)
        self.scaling()

    def h2load(self):
        if not any(t in self.data for t, _ in H2LOAD_TESTS):
            return
        self.out("## HTTP, second opinion: GET / keep-alive (h2load --h1)")
        self.out()
        for test, title in H2LOAD_TESTS:
            servers = [f"http/{i}:1" for i in ("spindle", "go", "asio", "nginx")]
            if not any(s in self.data.get(test, {}) for s in servers):
                continue
            self.out(f"### {title} — 1 thread each, server pinned to cpu 1, h2load to cpu 0")
            self.out()
            short = {"h2load-c64": "64 conns", "h2load-c1000": "1000 conns"}[test]
            self.server_table(test, servers, H2LOAD_COLUMNS, "HTTP GET / (h2load), 1 thread", short)

    def scaling(self):
        self.out("### Scaling: requests/s at 1 and at 2 threads")
        self.out()
        self.out("The load generator (wrk, one thread) runs on the same two cores: at 2 threads the "
                 "server competes with it, so this shows what a second thread buys on a small box "
                 "under local load, not the server's ceiling.")
        self.out()
        self.out("| test | server | 1 thread | 2 threads | 2 ÷ 1 |")
        self.out("|---|---|---:|---:|---:|")
        for test, title in HTTP_TESTS:
            d = self.data.get(test, {})
            for impl in ("spindle", "go", "asio", "nginx"):
                one, two = d.get(f"http/{impl}:1"), d.get(f"http/{impl}:2")
                if not one or not two:
                    continue
                a, b = med(one.get("req_per_s", [])), med(two.get("req_per_s", []))
                label = {"go": "Go (GOMAXPROCS)", "nginx": "nginx (workers)"}.get(impl, NAMES[impl])
                self.out(f"| {title} | {label} | {cell(one.get('req_per_s', []))} | "
                         f"{cell(two.get('req_per_s', []))} | {ratio_text(b, a)} |")
        self.out()

    def echo(self):
        if not any(t in self.data for t, _ in ECHO_TESTS):
            return
        self.out("## TCP echo (Go client: closed loop, then at a fixed rate; then the lean client)")
        self.out()
        for test, title in ECHO_TESTS:
            servers = [f"echo/{i}:1" for i in ("spindle", "go", "asio")]
            if test not in self.data:
                continue
            self.out(f"### {title} — 1 thread each, server on cpu 1, client on cpu 0")
            self.out()
            conns, size, *rate = test.removeprefix("echo-c").split("-")
            label = f"{conns} conns, {size.replace('KiB', ' KiB').replace('4B', '4 B')}"
            if rate == ["lean"]:
                label += ", lean client"
            elif rate:
                label += f", {rate[0].removeprefix('rate')}/s"
            self.server_table(test, servers, ECHO_COLUMNS, "TCP echo, 1 thread", label)

    def idle(self):
        tests = [t for t in ("idle-echo", "idle-http") if t in self.data]
        if not tests:
            return
        conns = max((max(m.get("open_conns", [0])) for t in tests for m in self.data[t].values()), default=0)
        self.out(f"## Memory: server RSS per idle connection ({conns:,.0f} connections)")
        self.out()
        self.out("Each connection did one round trip (echo) or one keep-alive GET (HTTP) and then "
                 "stays open; the figure is the server's RSS growth divided by the connections.")
        self.out()
        for test in tests:
            kind = "echo" if test == "idle-echo" else "HTTP keep-alive"
            servers = [f"{test.split('-')[1]}/{i}:1" for i in ("spindle", "go", "asio", "nginx")]
            self.out(f"### {kind}")
            self.out()
            self.server_table(test, servers, [("rss_per_conn_B", "bytes per connection"),
                                              ("open_conns", "connections open"), ("errors", "failed")],
                              "memory, idle connections", kind.split()[0])

    def runtime(self):
        for mode, title in (("1", "1 thread, pinned (--threads 1 / GOMAXPROCS=1)"),
                            ("2", "2 threads, unpinned (--threads 2 / GOMAXPROCS=2)")):
            d = self.data.get(f"runtime-{mode}t")
            if not d:
                continue
            if mode == "1" or "runtime-1t" not in self.data:
                self.out("## Fiber runtime beside Go's goroutines")
                self.out()
            self.out(f"### {title}")
            self.out()
            sp, go = d.get("spindle", {}), d.get("go", {})
            self.out("| metric | unit | spindle | Go | spindle ÷ Go |")
            self.out("|---|---|---:|---:|---:|")
            for label, sm, gm, unit, modes in RUNTIME_METRICS:
                if mode not in modes or sm not in sp:
                    continue
                a, b = med(sp.get(sm, [])), med(go.get(gm, []))
                better = "higher is better" if sm in HIGHER_IS_BETTER else ""
                self.out(f"| {label} | {unit}{' (' + better + ')' if better else ''} | {cell(sp[sm])} | "
                         f"{cell(go.get(gm, []))} | {ratio_text(a, b)} |")
                if a is not None and b:
                    self.ratios.append((f"runtime, {mode} thread{'s' if mode == '2' else ''}", label, "Go", a / b,
                                        sm in HIGHER_IS_BETTER, any(sp.get("noisy", [])) or any(go.get("noisy", []))))
            self.out(f"| noisy runs | | {noisy_cell(sp)} | {noisy_cell(go)} | |")
            self.out()
            if mode == "2" and "chan_pingpong_cross_thread_rtt_ns" in sp:
                self.out("‡ Both sides forced across threads, every message waking the other one: "
                         "spindle's echo fiber is placed on the other worker; Go's two goroutines are "
                         "locked to their own OS threads (runtime.LockOSThread, Go's only way to keep "
                         "them apart), which also hands the P between the threads on every message. "
                         "Left alone, both runtimes keep the pair on one thread: the row above.")
                self.out()
                self.out("† spindle's fan-out workers are spread over both threads on purpose, "
                         "contending for the channels' locks. Go has no such test (its scheduler places "
                         "goroutines itself), so the Go column repeats its ordinary figure: the ratio is "
                         "the price of spreading, not a like-for-like.")
                self.out()


def main(out):
    r = Report(*load(out))
    r.http()
    r.h2load()
    r.echo()
    r.idle()
    r.runtime()
    print("\n".join(r.lines).rstrip() + "\n")
    print("Ratios are spindle ÷ reference: above 1 is better for req/s, round trips/s and jobs/s; "
          "below 1 is better for latency, CPU per operation, memory and time per operation.")
    with open(os.path.join(out, "ratios.tsv"), "w") as f:
        for group, label, ref, ratio, higher, noisy in r.ratios:
            f.write(f"{group}\t{label}\t{ref}\t{ratio:.4f}\t{int(higher)}\t{int(noisy)}\n")


if __name__ == "__main__":
    main(sys.argv[1])
