#!/usr/bin/env python3
"""Tables of scripts/bench-semisupervised.sh (Fashion-MNIST, seed 0).

    python3 scripts/semi-table.py [--data ../shared/data] [--csv docs/bench/fmnist-semi.csv]

For every (normal:known) pair of the Scenario-2 stages (runs/bench/fmnist-s2-*/<n>-<k>/) prints a
markdown row per method: the test AUROC % against all nine anomaly classes, against the known
(labelled) anomaly class alone and against the eight unseen classes, the AUROC after each epoch
(metrics.json) and the fit time. Then the one-class rows of csi-synthetic next to CSI
(runs/bench/fmnist-oc-synthetic, runs/bench/fmnist-csi). AUROC per class subset is computed from
scores.csv and the test labels (ties count one half, as scikit-learn's roc_auc_score)."""
import argparse, csv, glob, gzip, json, os

STAGES = [("fmnist-s2-csi", "CSI"), ("fmnist-s2-elsa+", "Elsa+ (fine-tuning that CSI run)"),
          ("fmnist-s2-hscl", "HSCL"), ("fmnist-s2-deepsad", "Deep SAD")]


def auroc(normal, anomalous):
    """P(anomaly score > normal score) + ½ P(tie)."""
    pairs = sorted([(s, 0) for s in normal] + [(s, 1) for s in anomalous])
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        mid = (i + 1 + j) / 2  # average rank of the tie group (1-based)
        rank_sum += mid * sum(1 for _, a in pairs[i:j] if a)
        i = j
    n1, n0 = len(anomalous), len(normal)
    return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0)


def labels(data):
    raw = gzip.open(os.path.join(data, "fashion-mnist/t10k-labels-idx1-ubyte.gz")).read()
    return list(raw[8:])


def row(folder, classes, normal, known):
    results = list(csv.DictReader(open(os.path.join(folder, "results.csv"))))
    r = results[-1]
    run = os.path.join(folder, r["run"])
    scores = {int(s["index"]): float(s["score"]) for s in csv.DictReader(open(os.path.join(run, "scores.csv")))}
    by_class = {c: [v for i, v in scores.items() if classes[i] == c] for c in range(10)}
    unseen = [v for c in range(10) if c not in (normal, known) for v in by_class[c]]
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    phases = [e for key in ("pretraining", "finetuning", "training") for e in metrics.get(key, []) if e.get("testAUROC") is not None]
    return {
        "all": 100 * float(r["auroc"]),
        "known": 100 * auroc(by_class[normal], by_class[known]) if known is not None else None,
        "unseen": 100 * auroc(by_class[normal], unseen),
        "curve": [100 * e["testAUROC"] for e in phases],
        "fit": float(r["fit_seconds"]),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("ANOMALYKIT_DATA", "../shared/data"))
    parser.add_argument("--csv")
    args = parser.parse_args()
    classes = labels(args.data)
    rows = []
    print("| normal:known | method | AUROC all | known class | 8 unseen classes | AUROC per epoch | fit s |")
    print("|---|---|---|---|---|---|---|")
    pairs = sorted({os.path.basename(p) for s, _ in STAGES for p in glob.glob(f"runs/bench/{s}/*-*")},
                   key=lambda p: tuple(map(int, p.split("-"))))
    for pair in pairs:
        normal, known = map(int, pair.split("-"))
        for stage, name in STAGES:
            folder = f"runs/bench/{stage}/{pair}"
            if not os.path.exists(os.path.join(folder, "results.csv")):
                continue
            v = row(folder, classes, normal, known)
            rows.append([pair, stage, v["all"], v["known"], v["unseen"], v["fit"]])
            c = v["curve"]
            curve = ", ".join(f"{a:.1f}" for a in c) if len(c) <= 8 else \
                f"{c[0]:.1f}, {c[1]:.1f}, … {c[-2]:.1f}, {c[-1]:.1f} ({len(c)} epochs; best {max(c):.1f})"
            print(f"| {normal}:{known} | {name} | {v['all']:.1f} | {v['known']:.1f} | {v['unseen']:.1f} | {curve} | {v['fit']:.0f} |")
    print()
    print("| one-class, normal class | method | AUROC | AUROC per epoch | fit s |")
    print("|---|---|---|---|---|")
    for stage, name in [("fmnist-csi", "CSI"), ("fmnist-oc-synthetic", "CSI + synthetic inliers")]:
        folder = f"runs/bench/{stage}"
        if not os.path.exists(os.path.join(folder, "results.csv")):
            continue
        for r in csv.DictReader(open(os.path.join(folder, "results.csv"))):
            run = os.path.join(folder, r["run"])
            metrics = json.load(open(os.path.join(run, "metrics.json")))
            curve = ", ".join(f"{100 * e['testAUROC']:.1f}" for e in metrics.get("training", []) + metrics.get("pretraining", [])
                              if e.get("testAUROC") is not None)
            rows.append([r["normal_class"], stage, 100 * float(r["auroc"]), None, None, float(r["fit_seconds"])])
            print(f"| {r['normal_class']} | {name} | {100 * float(r['auroc']):.1f} | {curve} | {float(r['fit_seconds']):.0f} |")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["pair_or_class", "stage", "auroc_all", "auroc_known", "auroc_unseen", "fit_seconds"])
            w.writerows(rows)


if __name__ == "__main__":
    main()
