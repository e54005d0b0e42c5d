#!/usr/bin/env python3
"""Markdown table of CANCE and its ablations (scripts/bench-cance.sh stages mnist-cance and
mnist-ablations): AUROC % per normal class, mean ± std over seeds; the last column is the mean
over classes ± the std over seeds of the class-averaged AUROC. Only (class, seed) pairs that
every variant finished enter the means, so the variants are compared on the same seeds; a
variant with no runs at all (no ablation folder) is left out.
  scripts/cance-table.py [CANCE_BENCH_FOLDER|RESULTS.csv [ABLATIONS_FOLDER]] [--csv PER_RUN.csv]
RESULTS.csv: a bench results.csv kept elsewhere (docs/bench/cifar-cance.csv, whose rows come
from several sessions' bench folders)."""
import csv, glob, os, sys
from benchtables import class_row, take_csv_option

args = sys.argv[1:]
csv_out = take_csv_option(args)
cance = args[0] if len(args) > 0 else "runs/bench/mnist-cance"
ablations = args[1] if len(args) > 1 else "runs/bench/mnist-ablations"
variants = [("error", "Error"), ("latnce", "LatNCE"), ("cnce", "CNCE"), ("cance", "CANCE")]
auroc = {}  # (variant, class, seed) -> AUROC %
per_run = []  # variant, normal_class, seed, auroc, fit_seconds, run
results = cance if os.path.isfile(cance) else os.path.join(cance, "results.csv")
if not os.path.exists(results):
    raise SystemExit(f"{results}: no such bench results (run scripts/bench-cance.sh first)")
for r in csv.DictReader(open(results)):
    auroc[("cance", int(r["normal_class"]), int(r["seed"]))] = 100 * float(r["auroc"])
    per_run.append(("cance", r["normal_class"], r["seed"], r["auroc"], r["fit_seconds"], r["run"]))
for variant, _ in variants[:3]:
    for path in glob.glob(os.path.join(ablations, variant, "class-*-seed-*", "results.csv")):
        _, normal, _, seed = os.path.basename(os.path.dirname(path)).split("-")  # class-C-seed-S
        for r in csv.DictReader(open(path)):
            auroc[(variant, int(normal), int(seed))] = 100 * float(r["auroc"])
            per_run.append((variant, normal, seed, r["auroc"], r["fit_seconds"], r["run"]))
if csv_out:
    order = {v: i for i, (v, _) in enumerate(variants)}
    with open(csv_out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["variant", "normal_class", "seed", "auroc", "fit_seconds", "run"])
        w.writerows(sorted(per_run, key=lambda r: (order[r[0]], int(r[1]), int(r[2]))))
variants = [(v, name) for v, name in variants if any(key[0] == v for key in auroc)]
pairs = sorted({(c, s) for (_, c, s) in auroc if all((v, c, s) in auroc for v, _ in variants)})
classes = sorted({c for c, _ in pairs})
seeds = sorted({s for _, s in pairs})
print("| variant | " + " | ".join(map(str, classes)) + " | mean |")
print("|---" * (len(classes) + 2) + "|")
for variant, name in variants:
    cells = class_row({(c, s): auroc[(variant, c, s)] for c, s in pairs}, classes, pairs)
    print(f"| {name} | " + " | ".join(cells) + " |")
print(f"\n{len(pairs)} (class, seed) pairs; seeds {seeds}.")
