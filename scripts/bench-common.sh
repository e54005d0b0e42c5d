# Shared by bench-contrastive.sh and bench-semisupervised.sh (sourced, not run).
# Test AUROC after every EVALUATE_EVERY epochs and after the last (the curves of the tables); 0:
# none, only the final scores (tables that need no curve; the evaluations cost about a third of a
# contrastive run).
EVALUATE_EVERY=${EVALUATE_EVERY:-1}
EVALUATION=()
if [ "$EVALUATE_EVERY" -gt 0 ]; then EVALUATION=(--evaluate-every "$EVALUATE_EVERY"); fi
# Seeds of the one-class stages, comma-separated (default 0). Other seeds, and a budget other than
# the default 5 epochs, go to their own folder (variant_suffix): runs/bench/<stage>-seeds-1-2 for
# SEEDS=1,2, <stage>-epochs-15 for EPOCHS=15 (both: <stage>-epochs-15-seeds-1-2), so the tables of
# seed 0 at 5 epochs stay as they are and a finished 5-epoch run is never read back as another budget.
# TAG=name adds -tag-name (runs of changed code next to the finished ones: a run is never read
# back as another version's).
SEEDS=${SEEDS:-0}
variant_suffix() {
    if [ "${EPOCHS:-5}" != 5 ]; then printf -- '-epochs-%s' "$EPOCHS"; fi
    if [ "$SEEDS" != 0 ]; then printf -- '-seeds-%s' "${SEEDS//,/-}"; fi
    if [ -n "${TAG:-}" ]; then printf -- '-tag-%s' "$TAG"; fi
    echo
}
# "normal_class seed run" of every row of a bench results.csv, by column name (older files have
# no anomaly_class column).
runs_of() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
             { print $col["normal_class"], $col["seed"], $col["run"] }' "$1"
}
# The folder of one re-scored run: OUTPUT/class-C, with -seed-S for seeds other than 0.
class_folder() { if [ "$3" = 0 ]; then echo "$1/class-$2"; else echo "$1/class-$2-seed-$3"; fi; }
# The tool's data-set name of a stage's DATA prefix.
dataset_of() {
    case "$1" in
    fmnist) echo fashion-mnist ;;
    cifar) echo cifar-10 ;;
    *) echo "unknown data set '$1' (fmnist or cifar)" >&2; exit 2 ;;
    esac
}
