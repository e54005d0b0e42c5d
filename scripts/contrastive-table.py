#!/usr/bin/env python3
"""Tables and AUROC-vs-epoch curves of scripts/bench-contrastive.sh (one class normal, seed 0).

    python3 scripts/contrastive-table.py [--svg docs/bench/fmnist-contrastive-curves.svg]
        [--epochs-csv docs/bench/contrastive-epochs.csv] [--docs docs/bench [--update-docs]]
        [--date YYYYMMDD] [stage ...]

Prints (markdown) the final AUROC % per normal class and its mean for every stage named (by
default the Fashion-MNIST stages) found under runs/bench/, then the class-averaged test AUROC
after each epoch (with the mean vMF κ and MMD to the uniform sphere of the NSA runs), and writes
the curves as an SVG with the first kNN stage's mean as the raw-pixel floor (a horizontal line).
Stage names are those of bench-contrastive.sh: DATA[-polluted]-METHOD, DATA[-polluted]-METHOD-scores
(the four re-scorings of the SS(n), BYOL(n), SC(n) or SC(n−) networks), fmnist-csi-eq11,
fmnist[-polluted]-simclr-cosine. Only classes
that every listed stage finished enter the means. --epochs-csv updates a per-epoch CSV (stage,
class, epoch, test AUROC, κ, MMD, summed loss, seconds): the rows of every stage and class read
here replace theirs and the other rows stay (the docs CSVs keep runs whose folders were on
another machine). A stage holding several runs of one class uses the latest (run ids begin with
their timestamp) and says so; --date keeps only the runs of that day."""
import argparse, csv, glob, json, os, re, statistics, sys

from benchtables import replace_rows

METHODS = {"knn": "kNN, raw pixels", "ssn": "SS(n)", "ss": "SS", "simclr": "SimCLR", "csi": "CSI",
           "byoln": "BYOL(n)", "scn": "SC(n)", "sc": "SC", "scn-neg": "SC(n−)"}
# The re-scorings of a -scores stage: folder name, suffix of the method's name.
RESCORED = [("score-kcos-centering-true", ", centred k-Cos"), ("score-ccos", ", c-Cos"),
            ("score-kcos-ensemble-true", "_E, k-Cos"), ("score-ccos-ensemble-true", "_E, c-Cos")]
RESCORINGS = {"fmnist-csi-eq11": "CSI networks, Eq. 11 score", "fmnist-simclr-cosine": "SimCLR networks, cosine score",
              "fmnist-polluted-simclr-cosine": "SimCLR networks, cosine score, p = 0.1"}
DEFAULT = ["fmnist-knn", "fmnist-ssn", "fmnist-ssn-scores", "fmnist-simclr", "fmnist-csi", "fmnist-byoln", "fmnist-scn",
           "fmnist-scn-neg", "fmnist-polluted-knn", "fmnist-polluted-simclr", "fmnist-polluted-ss", "fmnist-polluted-sc",
           "fmnist-polluted-scn", "fmnist-polluted-ssn", "fmnist-polluted-ssn-scores"]


def label(stage):
    """The table's name for a stage folder (DATA[-polluted]-METHOD[-scores/<scoring>])."""
    if stage in RESCORINGS:
        return RESCORINGS[stage]
    base, _, scoring = stage.partition("/")
    m = re.fullmatch(r"(fmnist|cifar)(-polluted)?-(.+?)(-scores)?", base)
    if not m or m.group(3) not in METHODS:
        return stage
    return (("CIFAR-10 " if m.group(1) == "cifar" else "") + METHODS[m.group(3)] + dict(RESCORED).get(scoring, "")
            + (", p = 0.1" if m.group(2) else ""))


def expand(stage):
    """A -scores stage stands for its four re-scorings."""
    return [f"{stage}/{r}" for r, _ in RESCORED] if stage.endswith("-scores") else [stage]


def other_run_stage(stage):
    """Whether a stage is another seed, budget or tag of one (…-seeds-…, …-epochs-…, …-tag-…),
    whose per-run CSV class-table.py writes (bench-save.sh), a row per run."""
    return re.search(r"-(seeds|epochs|tag)-", stage.partition("/")[0]) is not None


def docs_csv(stage, docs):
    """The committed per-run CSV of a stage, named as bench-save.sh names it: <stage>.csv for
    other seeds, budgets or tags, <stage>-s0.csv otherwise."""
    return os.path.join(docs, stage.partition("/")[0] + (".csv" if other_run_stage(stage) else "-s0.csv"))


def keep(runs, found, date):
    """Adds the run `found` of its class to `runs` unless --date excludes it. A class with several
    runs (a network trained again, say) keeps the latest by run id, which begins with its
    timestamp, whatever order they were read in; a note names the run kept."""
    c, run = found["class"], found["row"].get("run", "")
    if date and not run.startswith(date):
        return
    if c in runs and runs[c]["row"].get("run", "") != run:
        kept = max(runs[c], found, key=lambda r: r["row"].get("run", ""))
        print(f"note: {found['stage']} has several runs of class {c}; using {kept['row'].get('run')}"
              + ("" if date else " (--date picks others)"), file=sys.stderr)
        found = kept
    runs[c] = found


def load(stage, docs=None, date=None):
    """{normal class: {auroc, fit, epochs, row}} of a bench folder, or of the per-class folders of
    a rescoring stage (…-scores/<scoring>/class-C-seed-S); with `docs`, the classes whose run
    folders are not on this machine come from the committed per-run CSV (docs_csv) and the
    per-epoch CSV. With `date` (YYYYMMDD…), only the runs whose id begins with it."""
    runs = from_docs(stage, docs, date) if docs else {}
    folders = [os.path.join("runs/bench", stage)] + sorted(glob.glob(os.path.join("runs/bench", stage, "class-*")))
    for folder in folders:
        path = os.path.join(folder, "results.csv")
        if not os.path.exists(path):
            continue
        for r in csv.DictReader(open(path)):
            metrics = json.load(open(os.path.join(folder, r["run"], "metrics.json")))
            normal = r["normal_class"] or os.path.basename(folder).split("-")[1]  # class-C-seed-S
            keep(runs, {"class": int(normal), "stage": stage, "auroc": 100 * float(r["auroc"]), "fit": float(r["fit_seconds"]),
                        "epochs": metrics.get("training", []), "row": r, "here": True}, date)
    return runs or None


def from_docs(stage, docs, date=None):
    """The classes of `stage` recorded in the committed CSVs under `docs`."""
    scoring = stage.partition("/")[2]
    path = docs_csv(stage, docs)
    runs = {}
    if os.path.exists(path):
        for r in csv.DictReader(open(path, newline="")):
            if scoring and r.get("scoring") != scoring:
                continue
            keep(runs, {"class": int(r["normal_class"]), "stage": stage, "auroc": 100 * float(r["auroc"]),
                        "fit": float(r.get("fit_seconds") or 0), "epochs": [], "row": r}, date)
    epochs = os.path.join(docs, "contrastive-epochs.csv")
    if runs and os.path.exists(epochs):
        for r in csv.DictReader(open(epochs, newline="")):
            c = int(r["normal_class"])
            if r["stage"] == stage and c in runs:
                d = {k: float(r[f]) for k, f in (("vMF kappa", "vmf_kappa"), ("MMD to uniform", "mmd_to_uniform")) if r[f]}
                runs[c]["epochs"].append({"epoch": int(r["epoch"]), "testAUROC": float(r["test_auroc"]) if r["test_auroc"] else None,
                                          "diagnostics": d, "losses": {"loss": float(r["loss"] or 0)},
                                          "seconds": float(r["seconds"] or 0)})
    return runs


def update_docs(stage, runs, docs):
    """Writes the classes read from runs/bench into <docs>/<stage>-s0.csv, keeping its other rows
    (a re-scoring <stage>/<scoring> into <stage>-s0.csv, keyed by scoring and class). The CSVs of
    other seeds, budgets or tags are class-table.py's (bench-save.sh), with a row per run: left alone."""
    scoring = stage.partition("/")[2]
    path = docs_csv(stage, docs)
    if other_run_stage(stage):
        print(f"note: --update-docs leaves {path} to class-table.py (scripts/bench-save.sh)", file=sys.stderr)
        return
    if scoring:
        header = ["scoring", "normal_class", "auroc", "average_precision", "run"]
        rows = [[scoring, str(c)] + [r["row"].get(h, "") for h in header[2:]] for c, r in sorted(runs.items()) if r.get("here")]
        key = lambda r: (r[0], int(r[1]))
    else:
        header = ["method", "dataset", "protocol", "normal_class", "seed", "auroc", "average_precision", "f1", "fit_seconds", "run"]
        rows = [[r["row"].get(h, "") for h in header] for c, r in sorted(runs.items()) if r.get("here")]
        key = lambda r: int(r[3])
    if rows:
        replace_rows(path, header, rows, key=key)


def curve(runs, classes, key):
    """Mean over classes of a per-epoch value, for the epochs every class has."""
    series = [[e.get(key) if key == "testAUROC" else (e.get("diagnostics") or {}).get(key) for e in runs[c]["epochs"]]
              for c in classes]
    length = min(len(s) for s in series)
    out = []
    for i in range(length):
        values = [s[i] for s in series]
        out.append(statistics.mean(values) if all(v is not None for v in values) else None)
    return out


def svg(curves, floor, path):
    w, h, left, bottom = 640, 360, 60, 40
    epochs = max((len(c) for _, c in curves), default=1)
    values = [v for _, c in curves for v in c if v is not None] + ([floor] if floor else [])
    lo, hi = min(values + [50.0]), max(values + [100.0])
    x = lambda e: left + (w - left - 20) * (e / max(epochs, 1))
    y = lambda v: h - bottom - (h - bottom - 20) * (v - lo) / (hi - lo)
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<line x1="{left}" y1="{h-bottom}" x2="{w-20}" y2="{h-bottom}" stroke="black"/>',
           f'<line x1="{left}" y1="20" x2="{left}" y2="{h-bottom}" stroke="black"/>',
           f'<text x="{w/2}" y="{h-8}" text-anchor="middle">epoch</text>',
           f'<text x="14" y="{h/2}" transform="rotate(-90 14 {h/2})" text-anchor="middle">mean test AUROC %</text>']
    for v in range(int(lo // 5 * 5), int(hi) + 1, 5):
        if lo <= v <= hi:
            out.append(f'<text x="{left-6}" y="{y(v)+4}" text-anchor="end">{v}</text>')
    for e in range(0, epochs + 1):
        out.append(f'<text x="{x(e)}" y="{h-bottom+16}" text-anchor="middle">{e}</text>')
    if floor:
        out.append(f'<line x1="{left}" y1="{y(floor)}" x2="{w-20}" y2="{y(floor)}" stroke="gray" stroke-dasharray="6 4"/>')
        out.append(f'<text x="{w-24}" y="{y(floor)-4}" text-anchor="end" fill="gray">kNN on raw pixels {floor:.1f}</text>')
    for i, (name, c) in enumerate(curves):
        points = [(x(e + 1), y(v)) for e, v in enumerate(c) if v is not None]
        color = colors[i % len(colors)]
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in points)}"/>')
        out.append(f'<text x="{left+10}" y="{30+16*i}" fill="{color}">{name}</text>')
    out.append("</svg>")
    open(path, "w").write("\n".join(out))


def write_epochs(path, stages):
    """Replaces the rows of these stages' classes read from runs/bench in the per-epoch CSV at `path`."""
    header = ["stage", "normal_class", "epoch", "test_auroc", "vmf_kappa", "mmd_to_uniform", "loss", "seconds"]
    rows = []
    for stage, runs in stages:
        for c, run in sorted(runs.items()):
            if not run.get("here"):
                continue
            for e in run["epochs"]:
                d = e.get("diagnostics") or {}
                rows.append([stage, str(c), e["epoch"], e.get("testAUROC", ""), d.get("vMF kappa", ""),
                             d.get("MMD to uniform", ""), sum(e.get("losses", {}).values()), f"{e['seconds']:.1f}"])
    replace_rows(path, header, rows, key=lambda r: (r[0], str(r[1])))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--svg", default=None)
    parser.add_argument("--epochs-csv", default=None)
    parser.add_argument("--docs", default=None,
                        help="also read the classes of runs not on this machine from the per-run and per-epoch CSVs here")
    parser.add_argument("--update-docs", action="store_true",
                        help="write the classes read from runs/bench into the --docs per-run CSVs")
    parser.add_argument("--date", default=None,
                        help="only the runs whose id begins with this (YYYYMMDD[-HHMMSS]), to pick one of several runs of a class")
    parser.add_argument("stages", nargs="*")
    args = parser.parse_args()
    names = [n for stage in (args.stages or DEFAULT) for n in expand(stage)]
    if args.date and not re.fullmatch(r"\d{8}(-\d{1,6})?", args.date):
        raise SystemExit(f"--date must be YYYYMMDD or YYYYMMDD-HHMMSS (a prefix of run ids), got '{args.date}'")
    loaded = [(s, label(s), load(s, args.docs, args.date)) for s in names]
    loaded = [(s, n, r) for s, n, r in loaded if r]
    if args.update_docs:
        if not args.docs:
            raise SystemExit("--update-docs needs --docs DIR")
        for s, _, r in loaded:
            update_docs(s, r, args.docs)
    if args.epochs_csv:
        write_epochs(args.epochs_csv, [(stage, runs) for stage, _, runs in loaded])
    classes = sorted(set.intersection(*(set(r) for _, _, r in loaded))) if loaded else []
    if not classes:
        found = "; ".join(f"{s}: {sorted(r)}" for s, _, r in loaded) or "none of these stages under runs/bench"
        raise SystemExit(f"no normal class finished by every stage listed ({found})")
    print("| method | " + " | ".join(map(str, classes)) + " | mean | fit s / class |")
    print("|---" * (len(classes) + 3) + "|")
    for _, name, runs in loaded:
        cells = [f"{runs[c]['auroc']:.1f}" for c in classes]
        mean = statistics.mean(runs[c]["auroc"] for c in classes)
        fit = statistics.mean(runs[c]["fit"] for c in classes)
        print(f"| {name} | " + " | ".join(cells) + f" | **{mean:.1f}** | {fit:.0f} |")
    print(f"\nclasses: {classes}\n")
    curves = []
    print("| method | " + " | ".join(f"epoch {e}" for e in range(1, 1 + max((len(curve(r, classes, 'testAUROC')) for _, _, r in loaded), default=0))) + " |")
    print("|---" * (1 + max((len(curve(r, classes, 'testAUROC')) for _, _, r in loaded), default=0)) + "|")
    for stage, name, runs in loaded:
        c = curve(runs, classes, "testAUROC")
        if not c:
            continue
        c = [None if v is None else 100 * v for v in c]
        curves.append((name, c))
        print(f"| {name} | " + " | ".join("—" if v is None else f"{v:.1f}" for v in c) + " |")
        for key in ("vMF kappa", "MMD to uniform"):
            d = curve(runs, classes, key)
            if d and all(v is not None for v in d):
                print(f"| {name}: {key} | " + " | ".join(f"{v:.3g}" for v in d) + " |")
    floor = next((statistics.mean(r[c]["auroc"] for c in classes) for s, _, r in loaded if s.endswith("-knn")), None)
    if args.svg and curves:
        svg(curves, floor, args.svg)
        print(f"\nwrote {args.svg}")


if __name__ == "__main__":
    main()
