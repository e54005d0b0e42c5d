#!/usr/bin/env python3
"""Markdown table of CANCE and its ablations (scripts/bench-cance.sh stages mnist-cance and
mnist-ablations): AUROC % per normal class, mean ± std over seeds; the last column is the mean
over classes ± the std over seeds of the class-averaged AUROC. Only (class, seed) pairs that
every variant finished enter the means, so the variants are compared on the same seeds."""
import csv, glob, os, statistics, sys

cance = sys.argv[1] if len(sys.argv) > 1 else "runs/bench/mnist-cance"
ablations = sys.argv[2] if len(sys.argv) > 2 else "runs/bench/mnist-ablations"
variants = [("error", "Error"), ("latnce", "LatNCE"), ("cnce", "CNCE"), ("cance", "CANCE")]
auroc = {}  # (variant, class, seed) -> AUROC %
for r in csv.DictReader(open(os.path.join(cance, "results.csv"))):
    auroc[("cance", int(r["normal_class"]), int(r["seed"]))] = 100 * float(r["auroc"])
for variant, _ in variants[:3]:
    for path in glob.glob(os.path.join(ablations, variant, "class-*-seed-*", "results.csv")):
        _, normal, _, seed = os.path.basename(os.path.dirname(path)).split("-")  # class-C-seed-S
        for r in csv.DictReader(open(path)):
            auroc[(variant, int(normal), int(seed))] = 100 * float(r["auroc"])
pairs = sorted({(c, s) for (_, c, s) in auroc if all((v, c, s) in auroc for v, _ in variants)})
classes = sorted({c for c, _ in pairs})
seeds = sorted({s for _, s in pairs})
fmt = lambda v: f"{statistics.mean(v):.1f} ± {statistics.stdev(v):.1f}" if len(v) > 1 else f"{v[0]:.1f}"
print("| variant | " + " | ".join(map(str, classes)) + " | mean |")
print("|---" * (len(classes) + 2) + "|")
for variant, name in variants:
    cells = [fmt([auroc[(variant, c, s)] for s in seeds if (c, s) in pairs]) for c in classes]
    full_seeds = [s for s in seeds if all((c, s) in pairs for c in classes)]
    per_seed = [statistics.mean(auroc[(variant, c, s)] for c in classes) for s in full_seeds]
    print(f"| {name} | " + " | ".join(cells) + f" | {fmt(per_seed) if per_seed else '—'} |")
print(f"\n{len(pairs)} (class, seed) pairs; seeds {seeds}.")
