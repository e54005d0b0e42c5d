"""Helpers shared by the table scripts (cance-table.py, bimodal-table.py, one-vs-nine-table.py, class-table.py,
contrastive-table.py, semi-table.py)."""
import csv
import os
import statistics


def take_csv_option(args):
    """Removes `--csv PATH` from args (a list) and returns PATH, or None."""
    if "--csv" not in args:
        return None
    i = args.index("--csv")
    if i + 1 >= len(args):
        raise SystemExit("--csv needs a file name")
    path = args[i + 1]
    del args[i:i + 2]
    return path


def mean_std(values):
    """'mean ± std' of AUROC percentages (one decimal); a single value alone."""
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}" if len(values) > 1 else f"{values[0]:.1f}"


def class_row(auroc, classes, pairs):
    """Table cells for one method: AUROC % per class (mean ± std over its seeds), then the mean
    over classes ± the std over seeds of the class-averaged AUROC (seeds that have every class).
    auroc: {(class, seed): AUROC %}; pairs: the (class, seed) pairs to use."""
    seeds = sorted({s for _, s in pairs})
    cells = [mean_std([auroc[(c, s)] for s in seeds if (c, s) in pairs]) for c in classes]
    full_seeds = [s for s in seeds if all((c, s) in pairs for c in classes)]
    per_seed = [statistics.mean(auroc[(c, s)] for c in classes) for s in full_seeds]
    return cells + [mean_std(per_seed) if per_seed else "—"]


def replace_rows(path, header, rows, key):
    """Writes `rows` (lists in `header` order) into the CSV at `path`: its rows whose key(row) is
    that of a new row go, the others stay in front of the new ones. The docs CSVs keep runs whose
    folders were on another machine, so a table script updates them rather than rewriting them."""
    fresh = {key(r) for r in rows}
    kept = []
    if os.path.exists(path):
        kept = [[r.get(h, "") for h in header] for r in csv.DictReader(open(path, newline=""))]
        kept = [r for r in kept if key(r) not in fresh]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(kept + rows)
