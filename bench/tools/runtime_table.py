#!/usr/bin/env python3
"""Summarises bench/runtime.sh output: spindle vs Go per metric, median (min-max), ratio.

Lower is better for every metric except those whose unit says otherwise."""
import glob
import os
import statistics
import sys

# spindle metric -> Go microbench metric
PAIRS = [
    ("idle_rss_per_fiber", "idle_rss_per_goroutine", "B"),
    ("spawn_join_cold_ns_per_fiber", "spawn_join_cold_ns_per_goroutine", "ns"),
    ("spawn_join_warm_ns_per_fiber", "spawn_join_warm_ns_per_goroutine", "ns"),
    ("spawn_join_seq_ns", "spawn_join_seq_ns", "ns"),
    ("ctx_cancel_fanout_ns_per_fiber", "ctx_cancel_fanout_ns_per_goroutine", "ns"),
    ("chan_pingpong_rtt_ns", "chan_pingpong_rtt_ns", "ns"),
    ("chan_pingpong_cross_thread_rtt_ns", "chan_pingpong_rtt_ns", "ns"),
    ("fanout_jobs_per_s", "fanout_jobs_per_s", "jobs/s (higher is better)"),
    ("wg_add_done_ns", "wg_add_done_ns", "ns"),
    ("wg_wait_zero_ns", "wg_wait_zero_ns", "ns"),
]


def read(path):
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and not line.startswith("#"):
                try:
                    out[parts[0]] = float(parts[1])
                except ValueError:
                    pass
    return out


def collect(folder, who, mode):
    runs = [read(p) for p in sorted(glob.glob(os.path.join(folder, f"{who}-{mode}-*.txt")))]
    values = {}
    for r in runs:
        for k, v in r.items():
            values.setdefault(k, []).append(v)
    return values


def cell(xs):
    if not xs:
        return "-", None
    m = statistics.median(xs)
    spread = f" ({min(xs):.0f}-{max(xs):.0f})" if len(xs) > 1 else ""
    return f"{m:.0f}{spread}", m


def main(folder):
    for mode, title in (("P1", "one thread, pinned (GOMAXPROCS=1)"), ("P2", "two threads (GOMAXPROCS=2)")):
        sp, go = collect(folder, "spindle", mode), collect(folder, "go", mode)
        if not sp:
            continue
        print(f"## {title}\n")
        print("| metric | unit | spindle | Go | spindle/Go |")
        print("|---|---|---:|---:|---:|")
        for s_name, g_name, unit in PAIRS:
            s_txt, s_med = cell(sp.get(s_name, []))
            g_txt, g_med = cell(go.get(g_name, [])) if g_name else ("-", None)
            if s_med is None:
                continue
            ratio = f"{s_med / g_med:.2f}x" if s_med is not None and g_med else "-"
            print(f"| {s_name} | {unit} | {s_txt} | {g_txt} | {ratio} |")
        print()


if __name__ == "__main__":
    main(sys.argv[1])
