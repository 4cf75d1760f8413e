#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the benchmark guest's RESULT lines into one table: metric, upstream and rvfio
medians, the ratio of the medians and of the per-stack bests, the target and whether it is
met; where the "iommufd" stack ran (upstream's iommufd, IOAS maps through /dev/iommu), its
median and rvfio's ratio against it too. A ratio above 1 means rvfio is better (faster, higher throughput, lower latency),
whatever the unit. Also writes every sample and the summary as CSV, and the ratios as an
SVG bar chart (log scale, target marks).

    bench-report.py RESULTS.LOG [--csv FILE] [--svg FILE] [--markdown]
    bench-report.py RESULTS.LOG --baseline [--markdown]

--baseline compares rvfio with the "baseline" stack instead (an older build of ours in the
same boots, bench.sh's RVFIO_BENCH_BASELINE): ratio > 1 = this tree better; a metric is
"worse" or "better" only when both its median and best ratios are beyond BASELINE_NOISE.
"""
import argparse
import csv
import math
import re
import statistics
import sys

# (metric regex, target ratio, what the issue asks). First match wins. Ratios are
# "rvfio advantage": rvfio/upstream for throughput, upstream/rvfio for time.
TARGETS = [
    (r"unmap_(thp|hugetlb2m|hugetlb1g)_", 10.0, "UNMAP_DMA of huge-page memory >= 10x"),
    (r"unmap_(anon4k|firsttouch)_", 2.0, "UNMAP_DMA at 4 KiB >= 2x"),
    (r"unmap_span_us_per_mapping", 3.0, "one UNMAP spanning many mappings >= 3x per mapping"),
    (r"map_anon4k_", 1.5, "MAP_DMA >= 1.5x at 4 KiB (scattered pages)"),
    (r"map_(thp|hugetlb2m|hugetlb1g)_", 1.0, "MAP_DMA >= 1.0x on huge pages"),
    (r"vm_start_4k", 1.5, "VM start with 4 KiB-backed memory >= 1.5x"),
    (r"vm_stop_", 10.0, "VM teardown >= 10x"),
    (r".*", 1.0, "no worse than upstream"),
]
# Absolute targets on rvfio's own value (not a ratio).
ABSOLUTE = [
    (r"small.*_map_flatness", 1.5, "per-mapping cost flat to the largest count (<= 1.5x of 1k)"),
]


# Before/after: how far both ratios must be from 1 for a change to count, given TCG's
# boot-to-boot noise (docs/benchmarks.md).
BASELINE_NOISE = 0.10


def parse(path):
    """{(metric, stack): [values]}, {metric: (unit, better)}"""
    samples, units = {}, {}
    pat = re.compile(r"^RESULT (\S+) (\d+) (\S+) (\S+) (\S+) (higher|lower)\s*$")
    with open(path, errors="replace") as f:
        for line in f:
            m = pat.match(line.strip())
            if not m:
                continue
            stack, run, metric, value, unit, better = m.groups()
            samples.setdefault((metric, stack), []).append((int(run), float(value)))
            units[metric] = (unit, better)
    return samples, units


def target_for(metric):
    for pattern, target, why in ABSOLUTE:
        if re.fullmatch(pattern, metric):
            return target, why, True
    for pattern, target, why in TARGETS:
        if re.match(pattern, metric):
            return target, why, False
    raise AssertionError("catch-all target missing")


def summarise(samples, units, ref="upstream", cand="rvfio"):
    rows = []
    metrics = []
    for (metric, _stack) in samples:
        if metric not in metrics:
            metrics.append(metric)
    for metric in metrics:
        unit, better = units[metric]
        up = [v for _, v in samples.get((metric, ref), [])]
        rv = [v for _, v in samples.get((metric, cand), [])]
        if not up or not rv:
            continue
        higher = better == "higher"
        best = max if higher else min
        up_med, rv_med = statistics.median(up), statistics.median(rv)
        up_best, rv_best = best(up), best(rv)

        def advantage(u, r):
            if u <= 0 or r <= 0:
                return float("nan")
            return r / u if higher else u / r

        target, why, absolute = target_for(metric)
        ratio_med, ratio_best = advantage(up_med, rv_med), advantage(up_best, rv_best)
        if ref != "upstream":
            absolute, target, why = False, 1.0, "no worse than the baseline"
            ratio_lo, ratio_hi = min(ratio_med, ratio_best), max(ratio_med, ratio_best)
            verdict = ("worse" if ratio_hi < 1 - BASELINE_NOISE else
                       "better" if ratio_lo > 1 + BASELINE_NOISE else "same")
        elif absolute:
            verdict = "met" if rv_med <= target else ("best only" if rv_best <= target else "MISSED")
        elif ratio_med >= target:
            verdict = "met"
        elif ratio_best >= target:
            verdict = "best only"
        else:
            verdict = "MISSED"
        # The third column: upstream's iommufd (IOAS maps through /dev/iommu), where measured.
        io = [v for _, v in samples.get((metric, "iommufd"), [])] if ref == "upstream" else []
        io_med = statistics.median(io) if io else float("nan")
        rows.append(dict(metric=metric, unit=unit, better=better, n_up=len(up), n_rv=len(rv),
                         up_med=up_med, rv_med=rv_med, up_best=up_best, rv_best=rv_best,
                         ratio_med=ratio_med, ratio_best=ratio_best, target=target,
                         absolute=absolute, verdict=verdict, why=why, io_med=io_med,
                         ratio_io=advantage(io_med, rv_med) if io else float("nan")))
    return rows


def fmt(v):
    if v != v:
        return "-"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def table(rows, markdown, ref="upstream"):
    head = ["metric", "unit", f"{ref} med", "rvfio med", "ratio med", "ratio best", "target", "verdict"]
    with_io = any(r["io_med"] == r["io_med"] for r in rows)
    if with_io:
        head += ["iommufd med", "vs iommufd"]
    body = []
    for r in rows:
        tgt = (f"rvfio <= {r['target']:g}" if r["absolute"] else f">= {r['target']:g}x")
        ratio_med = "-" if r["absolute"] else fmt(r["ratio_med"]) + "x"
        ratio_best = "-" if r["absolute"] else fmt(r["ratio_best"]) + "x"
        row = [r["metric"], r["unit"], fmt(r["up_med"]), fmt(r["rv_med"]), ratio_med,
               ratio_best, tgt, r["verdict"]]
        if with_io:
            io_ratio = "-" if r["absolute"] or r["ratio_io"] != r["ratio_io"] else fmt(r["ratio_io"]) + "x"
            row += [fmt(r["io_med"]), io_ratio]
        body.append(row)
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(out)
    widths = [max(len(str(x[i])) for x in [head] + body) for i in range(len(head))]
    line = lambda row: "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                                 for i, (c, w) in enumerate(zip(row, widths)))
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(b) for b in body])


def write_csv(path, samples, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["kind", "metric", "stack", "run", "value", "unit", "better"])
        units = {r["metric"]: (r["unit"], r["better"]) for r in rows}
        for (metric, stack), vals in sorted(samples.items()):
            unit, better = units.get(metric, ("", ""))
            for run, v in vals:
                w.writerow(["sample", metric, stack, run, v, unit, better])
        w.writerow([])
        w.writerow(["kind", "metric", "unit", "upstream_median", "rvfio_median", "upstream_best",
                    "rvfio_best", "ratio_median", "ratio_best", "target", "verdict",
                    "iommufd_median", "ratio_vs_iommufd"])
        for r in rows:
            w.writerow(["summary", r["metric"], r["unit"], r["up_med"], r["rv_med"], r["up_best"],
                        r["rv_best"], r["ratio_med"], r["ratio_best"], r["target"], r["verdict"],
                        r["io_med"], r["ratio_io"]])


def write_svg(path, rows):
    rows = [r for r in rows if not r["absolute"] and r["ratio_med"] == r["ratio_med"]]
    bar_h, gap, left, width = 16, 6, 260, 520
    height = 60 + len(rows) * (bar_h + gap)
    lo, hi = 0.25, max([64.0] + [r["ratio_med"] * 1.2 for r in rows])
    x = lambda v: left + width * (math.log(max(v, lo)) - math.log(lo)) / (math.log(hi) - math.log(lo))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 80}" height="{height}" '
           'font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="18" font-size="13">rvfio vs upstream VFIO, same guest boot: '
           'ratio of medians (&gt;1 = rvfio better), log scale; | = target</text>']
    for tick in (0.25, 0.5, 1, 2, 4, 8, 16, 32, 64):
        if tick > hi:
            break
        out.append(f'<line x1="{x(tick):.1f}" y1="30" x2="{x(tick):.1f}" y2="{height - 10}" '
                   f'stroke="{"#000" if tick == 1 else "#ddd"}"/>')
        out.append(f'<text x="{x(tick):.1f}" y="{height - 1}" text-anchor="middle">{tick:g}x</text>')
    for i, r in enumerate(rows):
        y = 36 + i * (bar_h + gap)
        colour = {"met": "#2a9d4a", "best only": "#e0a000"}.get(r["verdict"], "#d03030")
        x0, x1 = sorted((x(1), x(r["ratio_med"])))
        out.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{r["metric"]}</text>')
        out.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" height="{bar_h}" fill="{colour}"/>')
        out.append(f'<line x1="{x(r["target"]):.1f}" y1="{y - 2}" x2="{x(r["target"]):.1f}" '
                   f'y2="{y + bar_h + 2}" stroke="#000" stroke-width="2"/>')
        out.append(f'<text x="{max(x1, x(1)) + 4:.1f}" y="{y + 12}">{fmt(r["ratio_med"])}x</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--csv")
    ap.add_argument("--svg")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--baseline", action="store_true",
                    help="rvfio against the baseline stack (an older build of ours)")
    ap.add_argument("--require-all", action="store_true",
                    help="fail unless every metric has samples from both stacks")
    a = ap.parse_args()
    samples, units = parse(a.results)
    if a.baseline:
        rows = summarise(samples, units, ref="baseline")
        if not rows:
            print("bench-report: no results from both rvfio and the baseline", file=sys.stderr)
            return 1
        print("this tree (rvfio) vs the baseline build, same boots; ratio > 1 = this tree better;"
              f" worse/better: both ratios beyond {BASELINE_NOISE:.0%}")
        print(table(rows, a.markdown, ref="baseline"))
        worse = [r["metric"] for r in rows if r["verdict"] == "worse"]
        better = [r["metric"] for r in rows if r["verdict"] == "better"]
        print(f"\n{len(rows)} metrics: {len(worse)} worse, {len(better)} better"
              + (f"; worse: {', '.join(worse)}" if worse else ""))
        return 0
    rows = summarise(samples, units)
    if not rows:
        print("bench-report: no results from both stacks", file=sys.stderr)
        return 1
    runs = {s: len({run for (m, st), v in samples.items() if st == s for run, _ in v})
            for s in ("upstream", "rvfio", "iommufd")}
    print(f"rvfio vs upstream VFIO, same boot; runs per stack: upstream {runs['upstream']}, "
          f"rvfio {runs['rvfio']}"
          + (f", upstream's iommufd {runs['iommufd']}" if runs["iommufd"] else "")
          + "; ratio > 1 = rvfio better")
    print(table(rows, a.markdown))
    missed = [r["metric"] for r in rows if r["verdict"] != "met"]
    print(f"\n{len(rows) - len(missed)} of {len(rows)} targets met"
          + (f"; not met: {', '.join(missed)}" if missed else ""))
    if a.csv:
        write_csv(a.csv, samples, rows)
    if a.svg:
        write_svg(a.svg, rows)
    if a.require_all:
        one_sided = {m for (m, _s) in samples} - {r["metric"] for r in rows}
        if one_sided:
            print(f"bench-report: metrics from one stack only: {sorted(one_sided)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
