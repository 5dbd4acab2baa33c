#!/usr/bin/env python3
"""chart.py: draws OUT_DIR/ratios.tsv (written by table.py) as an SVG with gnuplot.

Usage: chart.py OUT_DIR [TITLE_NOTE]   -> OUT_DIR/benchmarks.svg (and the gnuplot script beside it)

One row per comparison, one bar per reference (Go, raw Asio, nginx), on a log scale centred
on 1: every ratio is turned so that a bar to the right means spindle is better by that factor
(more requests per second, or less CPU, memory or time per operation) and a bar to the left
means it is worse. A star marks a ratio from runs flagged as noisy. Beyond CLAMP the bar stops
at the edge of the chart; its label still gives the factor.
"""
import os
import subprocess
import sys

COLORS = {"Go": "#00a3cc", "raw Asio": "#e07b00", "nginx": "#2e9e44"}
BAR_PX = 12  # height of one bar; a row holds one bar per reference
CLAMP = 256  # the axis goes no further than 1/CLAMP .. CLAMP


def value_text(x):
    """1.97 -> '1.97×', 0.0031 -> '1/320×': small factors as fractions, easier to read."""
    if x >= 10:
        return f"{x:.0f}×"
    if x >= 0.095:
        return f"{x:.2f}×"
    return f"1/{1 / x:.0f}×"


def esc(s):
    """Quoted for gnuplot's enhanced text: its markup characters taken literally."""
    for ch in "\\^_@&~{}":
        s = s.replace(ch, "\\\\" + ch)
    return s.replace('"', "'")


def main(out, note=""):
    rows = []  # (group, label, ref, advantage, noisy)
    with open(os.path.join(out, "ratios.tsv")) as f:
        for line in f:
            group, label, ref, ratio, higher, noisy = line.rstrip("\n").split("\t")
            r = float(ratio)
            if r <= 0:
                continue
            rows.append((group, label, ref, r if higher == "1" else 1 / r, noisy == "1"))
    if not rows:
        sys.exit("chart.py: no ratios to draw")

    # Lay out: a header line per group, then one line per label with a bar per reference.
    refs = [r for r in COLORS if any(x[2] == r for x in rows)]
    lines, headers, y = [], [], 0
    pos = {}
    for group, label, ref, adv, noisy in rows:
        if not headers or headers[-1][0] != group:
            headers.append((group, y))
            y += 1
        if (group, label) not in pos:
            pos[(group, label)] = y
            lines.append((label, y))
            y += 1
    n = y
    # Symmetric around 1, in powers of 4, at most CLAMP: bars beyond are cut at the edge (their
    # label still tells the value).
    extreme = max(max(x[3], 1 / x[3]) for x in rows)
    edge = 4
    while edge < extreme and edge < CLAMP:
        edge *= 4
    span = edge * 4  # room for the value labels beyond the longest bars
    tics = []
    t = edge
    while t >= 1 / edge:
        tics.append(f'"{t:.0f}×" {t}' if t >= 1 else f'"1/{1 / t:.0f}×" {t}')
        t /= 4
    bar = 0.8 / len(refs)

    gp = [
        f'set terminal svg size 980,{n * (BAR_PX * len(refs) + 8) + 170} dynamic enhanced font "Helvetica,11" background rgb "white"',
        f'set output "{os.path.join(out, "benchmarks.svg")}"',
        'set title "{/:Bold spindle beside the references}\\n'
        '{/*0.85 bar right of 1×: spindle better by that factor; left: worse (log scale)'
        + (f'; {esc(note)}' if note else "") + '}"',
        "set logscale x 2",
        f"set xrange [{1 / span}:{span}]",
        f"set yrange [{n - 0.5}:-0.5]",
        "set xtics scale 0.5 nomirror (" + ", ".join(tics) + ")",
        "set grid xtics lc rgb '#dddddd'",
        "set ytics scale 0 nomirror font ',10'",
        "set lmargin 34",
        "set key outside bottom center horizontal",
        "set style fill solid 0.85 noborder",
        "set arrow from 1, graph 0 to 1, graph 1 nohead lc rgb '#444444' lw 1.2 front",
        "set ytics (" + ", ".join(f'"{esc(label)}" {yy}' for label, yy in lines) + ")",
    ]
    for group, yy in headers:
        gp.append(f'set label "{{/:Bold {esc(group)}}}" at graph 0, first {yy} right offset -1,0')
    # The bars of a row stay centred on its label whatever references it has.
    in_row = {}
    for group, label, ref, _, _ in rows:
        in_row.setdefault((group, label), []).append(ref)
    # One datablock per reference: bar and its value label.
    for i, ref in enumerate(refs):
        gp.append(f"$d{i} << EOD")
        for group, label, r, adv, noisy in rows:
            if r != ref:
                continue
            mine = in_row[(group, label)]
            yy = pos[(group, label)] + bar * (mine.index(ref) + 0.5 - len(mine) / 2)
            text = value_text(adv) + ("*" if noisy else "")
            end = min(max(adv, 1 / edge), edge)
            # The value label sits beyond the bar's end, on the side the bar grows to.
            gp.append(f'{end} {yy} {min(end, 1)} {max(end, 1)} {yy - bar / 2} {yy + bar / 2} "{text}" '
                      f'{end * 1.06 if adv >= 1 else end / 1.06} {1 if adv >= 1 else 0}')
        gp.append("EOD")
    plots = []
    for i, ref in enumerate(refs):
        plots.append(f"$d{i} using 1:2:3:4:5:6 with boxxyerror lc rgb '{COLORS[ref]}' title '{ref}'")
        plots.append(f"$d{i} using ($9 == 1 ? $8 : NaN):2:7 with labels left font ',8' notitle")
        plots.append(f"$d{i} using ($9 == 0 ? $8 : NaN):2:7 with labels right font ',8' notitle")
    gp.append("plot " + ", \\\n     ".join(plots))
    script = os.path.join(out, "benchmarks.gp")
    with open(script, "w") as f:
        f.write("\n".join(gp) + "\n")
    subprocess.run(["gnuplot", script], check=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")
