#!/usr/bin/env python3
"""Summarises bench/servers.sh rows (run, test, server, metric, value): per test a table of
medians (min-max over passes) and spindle's ratio to each reference server."""
import statistics
import sys
from collections import defaultdict



def main(path):
    data = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))  # test -> server -> metric -> values
    order_tests, order_servers = [], []
    with open(path) as f:
        for line in f:
            run, test, server, metric, value = line.rstrip("\n").split("\t")
            try:
                v = float(value)
            except ValueError:
                continue
            data[test][server][metric].append(v)
            if test not in order_tests:
                order_tests.append(test)
            if server not in order_servers:
                order_servers.append(server)
    for test in order_tests:
        servers = [s for s in order_servers if s in data[test]]
        metrics = []
        for s in servers:
            for m in data[test][s]:
                if m not in metrics:
                    metrics.append(m)
        print(f"## {test}\n")
        print("| server | " + " | ".join(metrics) + " |")
        print("|---|" + "---:|" * len(metrics))
        med = {}
        for s in servers:
            cells = []
            for m in metrics:
                xs = data[test][s].get(m, [])
                if not xs:
                    cells.append("-")
                    continue
                med[(s, m)] = statistics.median(xs)
                spread = f" ({min(xs):g}-{max(xs):g})" if len(xs) > 1 else ""
                cells.append(f"{med[(s, m)]:g}{spread}")
            print(f"| {s} | " + " | ".join(cells) + " |")
        ours = next((s for s in servers if s.startswith("spindle")), None)
        if ours:
            for ref in servers:
                if ref == ours:
                    continue
                cells = []
                for m in metrics:
                    a, b = med.get((ours, m)), med.get((ref, m))
                    cells.append(f"{a / b:.2f}x" if a is not None and b else "-")
                print(f"| {ours} / {ref} | " + " | ".join(cells) + " |")
        print()
    print("Ratios below 1 are better for latency, CPU and memory; above 1 for throughput.")


if __name__ == "__main__":
    main(sys.argv[1])
