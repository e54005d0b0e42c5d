"""Helpers shared by the table scripts (cance-table.py, bimodal-table.py)."""
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
