#!/usr/bin/env python3
"""Markdown table of CANCE's multimodal one-vs-nine runs (scripts/bench-cance.sh
fmnist-one-vs-nine: one class anomalous, the other nine normal): AUROC % per anomalous class,
mean ± std over seeds, and the mean over classes ± the std over seeds of the class average.
  scripts/one-vs-nine-table.py [FOLDER|PER_RUN.csv] [--csv PER_RUN.csv]
FOLDER (default runs/bench/fmnist-one-vs-nine) holds one bench folder per anomalous class,
anomaly-K; PER_RUN.csv is what --csv wrote (docs/bench/fmnist-one-vs-nine.csv)."""
import csv, glob, os, sys
from benchtables import class_row, take_csv_option

args = sys.argv[1:]
csv_out = take_csv_option(args)
source = args[0] if args else "runs/bench/fmnist-one-vs-nine"
per_run = []  # anomaly_class, seed, auroc, fit_seconds, run
if os.path.isfile(source):
    for r in csv.DictReader(open(source)):
        per_run.append((r["anomaly_class"], r["seed"], r["auroc"], r["fit_seconds"], r["run"]))
else:
    for path in glob.glob(os.path.join(source, "anomaly-*", "results.csv")):
        anomaly = os.path.basename(os.path.dirname(path))[len("anomaly-"):]
        for r in csv.DictReader(open(path)):
            per_run.append((anomaly, r["seed"], r["auroc"], r["fit_seconds"], r["run"]))
if not per_run:
    raise SystemExit(f"{source}: no one-vs-nine runs (run scripts/bench-cance.sh fmnist-one-vs-nine first)")
per_run.sort(key=lambda r: (int(r[0]), int(r[1])))
if csv_out:
    with open(csv_out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["anomaly_class", "seed", "auroc", "fit_seconds", "run"])
        w.writerows(per_run)
auroc = {(int(a), int(s)): 100 * float(v) for a, s, v, _, _ in per_run}
classes = sorted({c for c, _ in auroc})
print("| anomalous class | " + " | ".join(map(str, classes)) + " | mean | fit s / run |")
print("|---" * (len(classes) + 3) + "|")
fit = sum(float(r[3]) for r in per_run) / len(per_run)
print("| CANCE | " + " | ".join(class_row(auroc, classes, set(auroc))) + f" | {fit:.0f} |")
print(f"\n{len(auroc)} (class, seed) runs; seeds {sorted({s for _, s in auroc})}.")
