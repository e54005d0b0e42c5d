#!/usr/bin/env python3
"""Markdown table of one-class runs, one row per method: AUROC % per normal class (mean ± std
over seeds), then the mean over classes ± the std over seeds of the class-averaged AUROC, and
the mean fit seconds of a run.
  scripts/class-table.py [LABEL=]SOURCE... [--classes C...] [--csv PER_RUN.csv]
Each SOURCE is a bench results.csv (the per-run CSVs in docs/bench have the same columns) or a
folder searched for them (a bench folder, or a stage's folder of per-class bench folders such
as runs/bench/cifar-baselines). LABEL= names the row of that source's runs instead of their
method (two sources of one method, e.g. a network scored two ways); --classes keeps those normal
classes only. --csv writes the rows read, merged, in results.csv's columns (without the labels).
A method that lacks some of the table's classes gets no mean. Example (the one-class CIFAR-10
table of the README's CANCE section):
  scripts/class-table.py runs/bench/cifar-baselines --csv docs/bench/cifar-baselines.csv
  scripts/class-table.py docs/bench/cifar-cance.csv docs/bench/cifar-svdd.csv docs/bench/cifar-baselines.csv"""
import csv, glob, os, statistics, sys
from benchtables import class_row, take_csv_option

args = sys.argv[1:]
csv_out = take_csv_option(args)
only_classes = None
if "--classes" in args:
    i = args.index("--classes")
    j = i + 1
    while j < len(args) and args[j].isdigit():
        j += 1
    if j == i + 1:
        raise SystemExit("--classes needs one or more class numbers")
    only_classes = {int(c) for c in args[i + 1:j]}
    del args[i:j]
if not args:
    raise SystemExit(__doc__)
files = []  # (label or None, results.csv)
for arg in args:
    label, source = arg.split("=", 1) if "=" in arg and not os.path.exists(arg) else (None, arg)
    if os.path.isfile(source):
        files.append((label, source))
    elif os.path.isdir(source):
        files += [(label, f) for f in sorted(glob.glob(os.path.join(source, "**", "results.csv"), recursive=True))]
    else:
        raise SystemExit(f"{source}: no such file or folder")
rows, seen, labels = [], set(), {}
for label, path in files:
    for r in csv.DictReader(open(path)):
        if (label, r["run"]) in seen:  # a run listed by two sources counts once
            continue
        seen.add((label, r["run"]))
        if only_classes is not None and r["normal_class"].isdigit() and int(r["normal_class"]) not in only_classes:
            continue
        if not r["normal_class"] or "+" in r["normal_class"]:
            # anomaly bench names a grid's one normal class; older results.csv files left it empty.
            raise SystemExit(f"{path}: run {r['run']} names no single normal class (a folder tabled "
                             f"by an older anomaly: re-table it with anomaly bench --merge FOLDER)")
        labels[id(r)] = label or r["method"]
        rows.append(r)
if not rows:
    raise SystemExit(f"{', '.join(args)}: no finished runs")
methods = list(dict.fromkeys(labels[id(r)] for r in rows))
rows.sort(key=lambda r: (methods.index(labels[id(r)]), int(r["normal_class"]), int(r["seed"])))
if csv_out:
    unique = list({r["run"]: r for r in reversed(rows)}.values())[::-1]  # a run once, whatever its label
    fields = list(dict.fromkeys(k for r in unique for k in r))  # older files lack anomaly_class
    with open(csv_out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, restval="", lineterminator="\n")
        w.writeheader()
        w.writerows(unique)
classes = sorted({int(r["normal_class"]) for r in rows})
print("| method | " + " | ".join(map(str, classes)) + " | mean | fit s / run |")
print("|---" * (len(classes) + 3) + "|")
for method in methods:
    mine = [r for r in rows if labels[id(r)] == method]
    auroc = {(int(r["normal_class"]), int(r["seed"])): 100 * float(r["auroc"]) for r in mine}
    mine_classes = [c for c in classes if any(k[0] == c for k in auroc)]
    cells = class_row(auroc, mine_classes, set(auroc))
    by_class = dict(zip(mine_classes, cells))
    fit = statistics.mean(float(r["fit_seconds"]) for r in mine)
    mean = cells[-1] if mine_classes == classes else f"— ({len(mine_classes)} of {len(classes)} classes)"
    print(f"| {method} | " + " | ".join(by_class.get(c, "—") for c in classes) + f" | {mean} | {fit:.0f} |")
print(f"\n{len(rows)} runs; seeds {sorted({int(r['seed']) for r in rows})}.")
