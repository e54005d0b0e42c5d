#!/usr/bin/env python3
"""Mean test score per true class of a run on CIFAR-10, lowest first: which classes a detector
rates as most normal. Reads the run's scores.csv (test rows; `index` is the position in the
official test set) and the labels of the test batch.
  scripts/score-by-class.py RUN_FOLDER [DATA_ROOT (default ../shared/data)]"""
import csv, gzip, os, sys

if len(sys.argv) < 2:
    raise SystemExit(__doc__)
run, root = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "../shared/data"
names = "plane car bird cat deer dog frog horse ship truck".split()
candidates = [os.path.join(root, folder, name) for folder in ("cifar-10-jpeg", "cifar-10-batches-bin", "cifar-10")
              for name in ("test_batch.bin.gz", "test_batch.bin")]
path = next((p for p in candidates if os.path.exists(p)), None)
if path is None:
    raise SystemExit(f"{root}: no CIFAR-10 test_batch.bin(.gz)")
raw = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
labels = raw[::3073]  # records: 1 label byte, 3,072 pixel bytes
sums, counts = [0.0] * 10, [0] * 10
for r in csv.DictReader(open(os.path.join(run, "scores.csv"))):
    if r["source"] == "test":
        k = labels[int(r["index"])]
        sums[k] += float(r["score"])
        counts[k] += 1
means = {names[k]: sums[k] / counts[k] for k in range(10) if counts[k]}
for name in sorted(means, key=means.get):
    print(f"{name:6} {means[name]:.6g}")
