"""Shared by the tabular reference scripts (goad_tabular_torch.py, drocc_tabular_torch.py):
reading one of our tables and the split a run folder's manifest recorded."""
import csv
import gzip
import json

import numpy as np


def read_table(path):
    """Features and 0/1 labels of a CSV[.gz] table (the `label` column, else the last one)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], [r for r in rows[1:] if r]
    label = header.index("label") if "label" in header else len(header) - 1
    values = np.array([[float(v) for v in r] for r in body], dtype=np.float64)
    return np.delete(values, label, axis=1), values[:, label].astype(int)


def run_split(run, data):
    """(train rows, test rows, test is-anomaly) of DATA as RUN's manifest.json split it."""
    features, _ = read_table(data)
    split = json.load(open(f"{run}/manifest.json"))["split"]
    return features[split["unlabeled"]], features[split["test"]], np.array(split["testIsAnomaly"], dtype=bool)


def seed_range(text):
    """'0-19' -> range(0, 20); '3' -> range(3, 4)."""
    lo, _, hi = text.partition("-")
    return range(int(lo), int(hi or lo) + 1)


def f1_at_count(scores, is_anomaly):
    """Anomaly-class F1 with the threshold at the test anomaly count (GOAD's rule; ties flagged)."""
    n = int(is_anomaly.sum())
    threshold = np.sort(scores)[::-1][n - 1]
    predicted = scores >= threshold
    tp = int((predicted & is_anomaly).sum())
    precision = tp / max(int(predicted.sum()), 1)
    recall = tp / n
    return 0.0 if tp == 0 else 2 * precision * recall / (precision + recall)
