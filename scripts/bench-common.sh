# Shared by bench-contrastive.sh and bench-semisupervised.sh (sourced, not run).
# Test AUROC after every EVALUATE_EVERY epochs and after the last (the curves of the tables); 0:
# none, only the final scores (tables that need no curve; the evaluations cost about a third of a
# contrastive run).
EVALUATE_EVERY=${EVALUATE_EVERY:-1}
EVALUATION=()
if [ "$EVALUATE_EVERY" -gt 0 ]; then EVALUATION=(--evaluate-every "$EVALUATE_EVERY"); fi
# Seeds of the one-class stages, comma-separated (default 0). Other seeds go to their own folder,
# runs/bench/<stage>-seeds-1-2 for SEEDS=1,2 (seeds_suffix), so the seed-0 tables stay as they are.
SEEDS=${SEEDS:-0}
seeds_suffix() { if [ "$SEEDS" != 0 ]; then local s=${SEEDS//,/-}; echo "-seeds-$s"; fi; }
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
