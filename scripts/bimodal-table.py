#!/usr/bin/env python3
"""Markdown table of the bimodal MNIST runs (scripts/bench-cance.sh mnist-bimodal): AUROC % of
CANCE and of CNCE on the same autoencoder, per pair of normal classes, mean ± std over the seeds
both finished, and the per-seed difference CANCE − CNCE.
  scripts/bimodal-table.py [FOLDER (default runs/bench/mnist-bimodal)] [--csv PER_RUN.csv]"""
import csv, glob, os, sys
from benchtables import mean_std as fmt, take_csv_option

args = sys.argv[1:]
csv_out = take_csv_option(args)
root = args[0] if args else "runs/bench/mnist-bimodal"
auroc = {}  # (pair, variant, seed) -> AUROC %
per_run = []
for folder in sorted(glob.glob(os.path.join(root, "normal-*"))):
    name = os.path.basename(folder)
    if name.endswith("-cnce"):
        continue
    pair = name[len("normal-"):]
    sources = [("cance", os.path.join(folder, "results.csv"))]
    sources += [("cnce", p) for p in glob.glob(os.path.join(folder + "-cnce", "seed-*", "results.csv"))]
    for variant, path in sources:
        if not os.path.exists(path):
            continue
        for r in csv.DictReader(open(path)):
            auroc[(pair, variant, int(r["seed"]))] = 100 * float(r["auroc"])
            per_run.append((pair, variant, r["seed"], r["auroc"], r["fit_seconds"], r["run"]))
print("| normal classes | CANCE | CNCE | CANCE − CNCE per seed | seeds |")
print("|---|---|---|---|---|")
for pair in sorted({p for p, _, _ in auroc}):
    seeds = sorted(s for p, v, s in auroc if p == pair and v == "cance" and (pair, "cnce", s) in auroc)
    if not seeds:
        continue
    cance = [auroc[(pair, "cance", s)] for s in seeds]
    cnce = [auroc[(pair, "cnce", s)] for s in seeds]
    diff = ", ".join(f"{round(a - b, 2) + 0.0:+.2f}" for a, b in zip(cance, cnce))  # + 0.0: no "-0.00"
    print(f"| ({pair.replace('-', ', ')}) | {fmt(cance)} | {fmt(cnce)} | {diff} | {', '.join(map(str, seeds))} |")
if csv_out:
    with open(csv_out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["normal_classes", "variant", "seed", "auroc", "fit_seconds", "run"])
        w.writerows(sorted(per_run))
