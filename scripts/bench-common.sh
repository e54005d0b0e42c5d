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
# What docs/bench already holds. bench-save.sh writes every finished run there, and a new machine
# starts without runs/ (not in git): a stage skips the classes and cells saved there unless its
# folder under runs/bench has them (then they are read back). RERUN_SAVED=1 runs them again — what
# a stage that needs another's network does (Elsa's base run, the one-class networks of γp = 0).
# The per-run CSV of a one-class stage: docs/bench/<stage>-s0.csv, or <stage><variant>.csv.
saved_csv() { local suffix; suffix=$(variant_suffix); echo "docs/bench/$1${suffix:--s0}.csv"; }
# Whether docs/bench holds normal class CLASS of STAGE for every seed of SEEDS.
saved_class() {
    local csv seed
    csv=$(saved_csv "$1")
    [ "${RERUN_SAVED:-0}" = 0 ] && [ -f "$csv" ] || return 1
    for seed in ${SEEDS//,/ }; do
        awk -F, -v c="$2" -v s="$seed" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
            $col["normal_class"] == c && $col["seed"] == s { found = 1 } END { exit !found }' "$csv" || return 1
    done
}
# The classes of the list CLASSES that STAGE (bench folder FOLDER) still has to run or read back:
# all but those saved in docs/bench that FOLDER lacks; the skipped ones named on stderr.
#   classes_to_run STAGE FOLDER CLASSES
classes_to_run() {
    local stage=$1 folder=$2 c here="" left=() skipped=()
    if [ -f "$folder/results.csv" ]; then
        "$TOOL" bench --merge "$folder" >/dev/null
        here=$(runs_of "$folder/results.csv" | awk '{ print $1 }')
    fi
    for c in $3; do
        if ! grep -qx "$c" <<<"$here" && saved_class "$stage" "$c"; then skipped+=("$c"); else left+=("$c"); fi
    done
    [ ${#skipped[@]} -eq 0 ] || echo "$stage: class ${skipped[*]} saved in docs/bench, not run again (RERUN_SAVED=1 runs it)" >&2
    echo "${left[*]}"
}
# A re-scoring needs the networks of its source stage under runs/bench, not only their AUROCs in
# docs/bench (a new machine). Without them: when docs/bench holds the re-scoring's own CSV (made
# on an earlier machine) it is not re-scored again (returns 1: skip); otherwise it fails, naming
# the stage to run (again) first.
#   has_networks SOURCE_FOLDER SOURCE_STAGE STAGE || return 0
has_networks() {
    [ -f "$1/results.csv" ] && return 0
    if [ "${RERUN_SAVED:-0}" = 0 ] && [ -f "$(saved_csv "$3")" ]; then
        echo "$3: saved in docs/bench and the networks of $2 are not here: not re-scored again" >&2
        return 1
    fi
    echo "no networks in $1 to re-score: run stage $2 first (RERUN_SAVED=1 when its results are in docs/bench)" >&2
    exit 1
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
# The pid of the process training a run under the bench folder FOLDER now (it holds the lock of a
# partial run folder, RunFolderLock); nothing when none. The two lanes of bench-remaining.sh meet
# on a cell this way: the second one skips it (the stage run again reads it back) instead of
# failing on the lock.
# (The lock file is opened read-only here, never created: the run removes it just before it
# renames its folder, and a file gone meanwhile is no holder.)
held_by() {
    local lock fd held
    for lock in "$1"/.*.partial/.lock; do
        [ -f "$lock" ] || continue
        { exec {fd}<"$lock"; } 2>/dev/null || continue
        held=0
        flock -n -s "$fd" || held=1
        if [ $held = 1 ]; then tr -d '[:space:]' <&"$fd"; echo; fi
        exec {fd}<&-
        [ $held = 0 ] || return 0
    done
}
