#!/usr/bin/env python3
"""Markdown table of precision / recall / F1 (mean ± std over seeds) per method and data set,
from the run folders of one or more `anomaly bench … --resume FOLDER` folders (their
results.csv names the runs; metrics.json holds the F1 rule's precision and recall).
    python3 scripts/f1-table.py runs/bench/tabular-cance [more folders]"""
import csv, json, os, statistics, sys

cells = {}  # (method, dataset) -> [(precision, recall, f1)]
for folder in sys.argv[1:] or ["runs/bench/tabular-cance"]:
    for r in csv.DictReader(open(os.path.join(folder, "results.csv"))):
        summary = json.load(open(os.path.join(folder, r["run"], "metrics.json")))["summary"]["f1"]
        cells.setdefault((r["method"], r["dataset"]), []).append((summary["precision"], summary["recall"], summary["f1"]))
fmt = lambda v: f"{statistics.mean(v):.3f} ± {statistics.stdev(v):.3f}" if len(v) > 1 else f"{v[0]:.3f}"
datasets = sorted({d for _, d in cells})
print("| method | " + " | ".join(f"{d} F1" for d in datasets) + " | seeds |")
print("|---" * (len(datasets) + 2) + "|")
for method in sorted({m for m, _ in cells}):
    row = [fmt([f for _, _, f in cells[(method, d)]]) if (method, d) in cells else "—" for d in datasets]
    seeds = max(len(cells.get((method, d), [])) for d in datasets)
    print(f"| {method} | " + " | ".join(row) + f" | {seeds} |")
print("\n| method | data set | precision | recall | F1 |\n|---|---|---|---|---|")
for (method, dataset), values in sorted(cells.items()):
    print(f"| {method} | {dataset} | " + " | ".join(fmt([v[i] for v in values]) for i in range(3)) + " |")
