#!/usr/bin/env python3
"""Tables of scripts/bench-semisupervised.sh (seed 0).

    python3 scripts/semi-table.py [--data-set fmnist|cifar] [--data ../shared/data] [--csv docs/bench/fmnist-semi.csv]

For every setting (γl, γp) and (normal:known) pair of the scenario stages
(runs/bench/DATA-s{1,2}-METHOD/gl<γl>-gp<γp>/<n>-<k>/) prints a markdown row per method: the test
AUROC % against all nine anomaly classes, against the known (labelled) anomaly class alone and
against the eight unseen classes, the AUROC after each epoch (metrics.json) and the fit time
(CSI and SimCLR at γp = 0: the one-class run's network, only its feature bank fitted).
Then the one-class rows of csi-synthetic next to CSI (runs/bench/DATA-oc-synthetic,
runs/bench/DATA-csi). AUROC per class subset is computed from scores.csv and the test labels
(ties count one half, as scikit-learn's roc_auc_score). --csv updates a per-run CSV: the rows
read here replace theirs (same pair or class, stage and setting), the other rows stay (the docs
CSVs keep runs whose folders were on another machine), with the GEMM kernels each run used
(manifest.json; empty for rows saved before they were recorded).

    python3 scripts/semi-table.py --grid gl0.05-gp0.1 [--data-set fmnist] [--csv docs/bench/fmnist-semi.csv]

prints instead one setting of the per-run CSV (default docs/bench/DATA-semi.csv) as a grid: a row
per stage (method and scenario), the AUROC % against all nine anomaly classes per normal:known
pair, then the mean over the pairs, bold where above CSI's cell of the same pair and scenario. A
row missing pairs shows "—" for them and, as its mean, the number of pairs it has; under the table,
the cells whose rows record their kernels, by kernels."""
import argparse, csv, glob, gzip, json, os, re

from benchtables import replace_rows

METHODS = [("csi", "CSI"), ("elsa+", "Elsa+ (fine-tuning that CSI run)"), ("simclr", "SimCLR"),
           ("elsa", "Elsa (fine-tuning that SimCLR run)"), ("hscl", "HSCL"), ("deepsad", "Deep SAD"),
           ("elsa+last", "Elsa+ without early stopping (the last epoch)")]
TEST_LABELS = {"fmnist": ("fashion-mnist/t10k-labels-idx1-ubyte.gz", 8, 1),   # path, header bytes, record bytes
               "cifar": ("cifar-10-jpeg/test_batch.bin.gz", 0, 3073)}


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


def labels(data, data_set):
    path, header, record = TEST_LABELS[data_set]
    raw = gzip.open(os.path.join(data, path)).read()
    return list(raw[header::record])


def row(folder, classes, normal, known):
    results = list(csv.DictReader(open(os.path.join(folder, "results.csv"))))
    r = results[-1]
    run = os.path.join(folder, r["run"])
    scores = {int(s["index"]): float(s["score"]) for s in csv.DictReader(open(os.path.join(run, "scores.csv")))}
    by_class = {c: [v for i, v in scores.items() if classes[i] == c] for c in range(10)}
    unseen = [v for c in range(10) if c not in (normal, known) for v in by_class[c]]
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    phases = [e for key in ("pretraining", "finetuning", "training") for e in metrics.get(key, []) if e.get("testAUROC") is not None]
    # The epoch model selection kept (Elsa's early stopping): metrics.json's selectedEpochs, or
    # for runs written before it was recorded the first epoch with the lowest validation loss.
    kept = {s["phase"]: s["epoch"] for s in metrics.get("selectedEpochs", [])}
    if not kept:
        for e in metrics.get("training", []):
            loss = e["losses"].get("validation")
            if loss is not None and (e["phase"] not in kept or loss < kept[e["phase"]][1]):
                kept[e["phase"]] = (e["epoch"], loss)
        kept = {phase: epoch for phase, (epoch, _) in kept.items()}
    return {
        "all": 100 * float(r["auroc"]),
        "known": 100 * auroc(by_class[normal], by_class[known]) if known is not None else None,
        "unseen": 100 * auroc(by_class[normal], unseen),
        "curve": [100 * e["testAUROC"] for e in phases],
        "fit": float(r["fit_seconds"]),
        "kept": kept,
        "kernels": kernels(run),
        # γp = 0 cells of CSI and SimCLR score the one-class run's network (bench-semisupervised.sh).
        "reused": "encoderModel" in json.load(open(os.path.join(run, "config.json")))["configuration"].get("methodOptions", {}),
    }


def kernels(run):
    """The GEMM kernels a run used (manifest.json's tool.gemm): the OpenBLAS core type
    ("Haswell", "SkylakeX"), or the whole name for another library. Runs on other kernels differ
    as with another seed (README, Reproducibility), so the CSV records them."""
    gemm = json.load(open(os.path.join(run, "manifest.json"))).get("tool", {}).get("gemm", "")
    match = re.search(r", (\S+) kernels\)$", gemm)
    return match.group(1) if match else gemm


def grid(path, prefix, setting):
    """The --grid table of one setting (gl…-gp…) of a per-run CSV."""
    auroc = {}  # (stage, pair) -> AUROC %
    by_kernels = {}  # kernels -> cells, for the rows that record them
    for r in csv.DictReader(open(path, newline="")):
        if r["setting"] == setting:
            auroc[(r["stage"], r["pair_or_class"])] = float(r["auroc_all"])
            if r.get("kernels"):
                by_kernels.setdefault(r["kernels"], []).append(f"{r['stage'].split('-', 2)[2]} {r['pair_or_class'].replace('-', ':')}")
    if not auroc:
        raise SystemExit(f"{path}: no cell of setting {setting}")
    pairs = sorted({p for _, p in auroc}, key=lambda p: tuple(map(int, p.split("-"))))
    print(f"| {setting} | " + " | ".join(p.replace("-", ":") for p in pairs) + " | mean |")
    print("|---|" + "---|" * (len(pairs) + 1))
    for scenario in ("s1", "s2"):
        for method, name in METHODS:
            stage = f"{prefix}-{scenario}-{method}"
            if not any(s == stage for s, _ in auroc):
                continue
            cells = []
            for p in pairs:
                v, csi = auroc.get((stage, p)), auroc.get((f"{prefix}-{scenario}-csi", p))
                cells.append("—" if v is None else f"**{v:.1f}**" if csi is not None and v > csi and method != "csi" else f"{v:.1f}")
            have = [auroc[(stage, p)] for p in pairs if (stage, p) in auroc]
            mean = f"{sum(have) / len(have):.2f}" if len(have) == len(pairs) else f"{len(have)} of {len(pairs)} pairs"
            print(f"| {name.split(' (')[0]} ({scenario}) | " + " | ".join(cells) + f" | {mean} |")
    for k, cells in sorted(by_kernels.items()):
        print(f"\n{k} kernels: {', '.join(cells)}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-set", choices=sorted(TEST_LABELS), default="fmnist")
    parser.add_argument("--data", default=os.environ.get("ANOMALYKIT_DATA", "../shared/data"))
    parser.add_argument("--csv")
    parser.add_argument("--grid", metavar="SETTING", help="one setting (gl0.05-gp0.1) of the per-run CSV as a pairs grid")
    args = parser.parse_args()
    prefix = args.data_set
    if args.grid:
        grid(args.csv or f"docs/bench/{prefix}-semi.csv", prefix, args.grid)
        return
    classes = labels(args.data, prefix)
    rows = []
    print("| setting | normal:known | method | AUROC all | known class | 8 unseen classes | AUROC per epoch | fit s |")
    print("|---|---|---|---|---|---|---|---|")
    cells = sorted({os.path.relpath(p, os.path.dirname(os.path.dirname(p)))
                    for p in glob.glob(f"runs/bench/{prefix}-s[12]-*/gl*-gp*/*-*")},
                   key=lambda c: (c.split("/")[0], tuple(map(int, c.split("/")[1].split("-")))))
    for cell in cells:
        setting, pair = cell.split("/")
        normal, known = map(int, pair.split("-"))
        labeled, pollution = setting[2:].split("-gp")
        for scenario in ("s1", "s2"):
            for method, name in METHODS:
                stage = f"{prefix}-{scenario}-{method}"
                folder = f"runs/bench/{stage}/{cell}"
                if not os.path.exists(os.path.join(folder, "results.csv")):
                    continue
                v = row(folder, classes, normal, known)
                rows.append([pair, stage, setting, v["all"], v["known"], v["unseen"], v["fit"], v["kernels"]])
                c = v["curve"]
                curve = ", ".join(f"{a:.1f}" for a in c) if len(c) <= 8 else \
                    f"{c[0]:.1f}, {c[1]:.1f}, … {c[-2]:.1f}, {c[-1]:.1f} ({len(c)} epochs; best {max(c):.1f})"
                if v["reused"]:
                    name += ", the one-class run's network (bank fitted on the split)"
                if v["kept"]:
                    name += "; kept " + ", ".join(f"{phase} epoch {epoch}" for phase, epoch in v["kept"].items())
                print(f"| γl = {labeled}, γp = {pollution} | {normal}:{known} | {name} | {v['all']:.1f} | {v['known']:.1f} "
                      f"| {v['unseen']:.1f} | {curve} | {v['fit']:.0f} |")
    print()
    print("| one-class, normal class | method | AUROC | AUROC per epoch | fit s |")
    print("|---|---|---|---|---|")
    for stage, name in [(f"{prefix}-csi", "CSI"), (f"{prefix}-oc-synthetic", "CSI + synthetic inliers")]:
        folder = f"runs/bench/{stage}"
        if not os.path.exists(os.path.join(folder, "results.csv")):
            continue
        for r in csv.DictReader(open(os.path.join(folder, "results.csv"))):
            run = os.path.join(folder, r["run"])
            metrics = json.load(open(os.path.join(run, "metrics.json")))
            curve = ", ".join(f"{100 * e['testAUROC']:.1f}" for e in metrics.get("training", []) + metrics.get("pretraining", [])
                              if e.get("testAUROC") is not None)
            rows.append([r["normal_class"], stage, "", 100 * float(r["auroc"]), None, None, float(r["fit_seconds"]), kernels(run)])
            print(f"| {r['normal_class']} | {name} | {100 * float(r['auroc']):.1f} | {curve} | {float(r['fit_seconds']):.0f} |")
    if args.csv:
        header = ["pair_or_class", "stage", "setting", "auroc_all", "auroc_known", "auroc_unseen", "fit_seconds", "kernels"]
        replace_rows(args.csv, header, [["" if v is None else v for v in r] for r in rows], key=lambda r: tuple(map(str, r[:3])))


if __name__ == "__main__":
    main()
