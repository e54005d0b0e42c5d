#!/usr/bin/env python3
"""Markdown table of precision / recall / F1 (mean ± std over seeds) per method and data set,
from the run folders of one or more `anomaly bench … --resume FOLDER` folders (their
results.csv names the runs; metrics.json holds the F1 rule's precision and recall).
    python3 scripts/f1-table.py runs/bench/tabular-cance [more folders]
With --rule drocc the F1 is DROCC's code's instead (METHODS.md §4.8 variant 3: F1 of the
*normal* class, threshold at the 20th percentile of the normality scores), computed by
`anomaly evaluate RUN --f1 drocc` (ANOMALY_TOOL, default .build/release/anomaly); only F1."""
import csv, json, os, statistics, subprocess, sys

args = sys.argv[1:]
rule = "goad"
if "--rule" in args:
    i = args.index("--rule")
    rule = args[i + 1]
    del args[i:i + 2]
tool = os.environ.get("ANOMALY_TOOL", ".build/release/anomaly")


def drocc_f1(run):
    out = subprocess.run([tool, "evaluate", run, "--f1", "drocc"], capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1].split()[-1])


cells = {}  # (method, dataset) -> [(precision, recall, f1)]
for folder in args or ["runs/bench/tabular-cance"]:
    for r in csv.DictReader(open(os.path.join(folder, "results.csv"))):
        run = os.path.join(folder, r["run"])
        if rule == "drocc":
            values = (float("nan"), float("nan"), drocc_f1(run))
        else:
            summary = json.load(open(os.path.join(run, "metrics.json")))["summary"]["f1"]
            values = (summary["precision"], summary["recall"], summary["f1"])
        cells.setdefault((r["method"], r["dataset"]), []).append(values)
fmt = lambda v: f"{statistics.mean(v):.3f} ± {statistics.stdev(v):.3f}" if len(v) > 1 else f"{v[0]:.3f}"
datasets = sorted({d for _, d in cells})
print(f"F1 rule: {rule}\n")
print("| method | " + " | ".join(f"{d} F1" for d in datasets) + " | seeds |")
print("|---" * (len(datasets) + 2) + "|")
for method in sorted({m for m, _ in cells}):
    row = [fmt([f for _, _, f in cells[(method, d)]]) if (method, d) in cells else "—" for d in datasets]
    seeds = max(len(cells.get((method, d), [])) for d in datasets)
    print(f"| {method} | " + " | ".join(row) + f" | {seeds} |")
if rule != "drocc":
    print("\n| method | data set | precision | recall | F1 |\n|---|---|---|---|---|")
    for (method, dataset), values in sorted(cells.items()):
        print(f"| {method} | {dataset} | " + " | ".join(fmt([v[i] for v in values]) for i in range(3)) + " |")
