#!/usr/bin/env python3
"""Markdown table of the thresholds chosen without labelled anomalies (thresholds.json of each
run of a bench folder): the target false-positive rate and what it achieved on the test set
(FPR on the test normals, recall on the test anomalies), per normal class, and the mean.
    python3 scripts/threshold-table.py runs/bench/mnist-ae-thresholds"""
import csv, json, os, statistics, sys

folder = sys.argv[1] if len(sys.argv) > 1 else "runs/bench/mnist-ae-thresholds"
rows = {}
for r in csv.DictReader(open(os.path.join(folder, "results.csv"))):
    metrics = json.load(open(os.path.join(folder, r["run"], "metrics.json")))
    t = metrics.get("thresholds")
    if not t:
        continue
    for threshold in t["thresholds"]:
        if threshold["name"].startswith("fpr"):
            rows.setdefault(threshold["target"], []).append(
                (r["normal_class"], threshold["testFalsePositiveRate"], threshold["testRecall"], t["source"]))
for target, values in sorted(rows.items()):
    print(f"\n**target FPR {100 * target:g} %** (calibration: {values[0][3]} data)\n")
    print("| normal class | " + " | ".join(v[0] for v in values) + " | mean |")
    print("|---" * (len(values) + 2) + "|")
    print("| test FPR % | " + " | ".join(f"{100 * v[1]:.1f}" for v in values) + f" | {100 * statistics.mean(v[1] for v in values):.1f} |")
    print("| recall % | " + " | ".join(f"{100 * v[2]:.1f}" for v in values) + f" | {100 * statistics.mean(v[2] for v in values):.1f} |")
