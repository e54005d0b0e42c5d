#!/usr/bin/env python3
"""Markdown table of the Deep SAD vs Deep SVDD stage of scripts/bench-deep.sh (runs/bench/mnist-sad):
AUROC % mean ± std over seeds per normal/known-anomaly pair, and the mean over pairs."""
import csv, glob, os, statistics, sys

root = sys.argv[1] if len(sys.argv) > 1 else "runs/bench/mnist-sad"
rows, means = [], {"deepsad": [], "deepsvdd": []}
for folder in sorted(glob.glob(os.path.join(root, "normal-*-known-*"))):
    path = os.path.join(folder, "results.csv")
    if not os.path.exists(path):
        continue
    by = {}
    for r in csv.DictReader(open(path)):
        by.setdefault(r["method"], []).append(100 * float(r["auroc"]))
    _, normal, _, known = os.path.basename(folder).split("-")
    cells = []
    complete = all(by.get(m) for m in ("deepsad", "deepsvdd"))
    for m in ("deepsad", "deepsvdd"):
        v = by.get(m, [])
        if v and complete:
            means[m].append(statistics.mean(v))
        cells.append("—" if not v else f"{statistics.mean(v):.1f} ± {statistics.stdev(v):.1f} ({len(v)})" if len(v) > 1 else f"{v[0]:.1f} (1)")
    rows.append(f"| {normal} | {known} | " + " | ".join(cells) + " |")
print("| normal class | known anomaly class | Deep SAD (seeds) | Deep SVDD (seeds) |")
print("|---|---|---|---|")
print("\n".join(rows))
if all(means.values()):
    print(f"| mean of the {len(means['deepsad'])} complete pairs | | {statistics.mean(means['deepsad']):.1f} | {statistics.mean(means['deepsvdd']):.1f} |")
