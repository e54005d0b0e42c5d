#!/usr/bin/env bash
# Writes what every benchmark stage under runs/bench has finished into the docs CSVs under
# docs/bench (per-run AUROCs, per-epoch curves; the semi-supervised summary), keeping the rows of
# runs made elsewhere. runs/ is not in git: a session that is cut off, or a new machine, loses
# the run folders, and these CSVs are what the README's tables are made from (contrastive-table.py
# --docs). bench-remaining.sh calls this every SAVE_EVERY seconds and when it stops.
#   scripts/bench-save.sh
set -uo pipefail
cd "$(dirname "$0")/.."
TOOL=${ANOMALY_TOOL:-.build/release/anomaly}
# Two queues (bench-remaining.sh's lanes) save into the same CSVs: one save at a time.
mkdir -p runs/bench
if command -v flock >/dev/null; then exec 9>runs/bench/.bench-save.lock && flock 9; fi
contrastive=() semi=()
# Every finished run of a one-class bench folder (or its per-class folders) into a per-run CSV
# of docs/bench, the rows already there kept (class-table.py; a run counts once).
save_runs() {
    local folder=$1 out=$2 sources=("$1")
    [ -f "$folder/results.csv" ] && "$TOOL" bench --merge "$folder" >/dev/null 2>&1
    [ -f "$out" ] && sources=("$out" "$folder")
    # A folder whose only run is still in progress has nothing to save yet: not a failure.
    local error
    if ! error=$(python3 scripts/class-table.py "${sources[@]}" --csv "$out" 2>&1 >/dev/null); then
        case "$error" in *": no finished runs") ;; *) echo "bench-save: class-table.py $folder: ${error##*$'\n'}" >&2 ;; esac
    fi
}
for folder in runs/bench/fmnist-* runs/bench/cifar-*; do
    [ -d "$folder" ] || continue
    stage=${folder#runs/bench/}
    # Other seeds, budgets or tags of a one-class stage (SEEDS=…, EPOCHS=…, TAG=…:
    # runs/bench/<stage>-seeds-…, <stage>-epochs-…, <stage>-tag-…): docs/bench/<that folder>.csv.
    if [[ $stage == *-seeds-* || $stage == *-epochs-* || $stage == *-tag-* ]]; then
        save_runs "$folder" "docs/bench/$stage.csv"
        continue
    fi
    # The one-class synthetic-inlier stages (seed 0) keep their per-run CSVs too; the semi
    # summary below has one row per class only.
    if [[ $stage =~ ^(fmnist|cifar)-oc-synthetic(-csi)?$ ]]; then save_runs "$folder" "docs/bench/$stage-s0.csv"; fi
    # Only the stages of bench-contrastive.sh and bench-semisupervised.sh: bench-deep.sh and
    # bench-cance.sh write fmnist-svdd, cifar-cance, … here too, with their own tables.
    if [[ $stage =~ ^(fmnist|cifar)-(s1|s2|oc)- ]]; then
        semi+=("${stage%%-*}")
    elif [[ $stage =~ ^(fmnist|cifar)(-polluted)?-(knn|ssn|ss|sc|scn|simclr|csi|byoln|scn-neg)(-scores|-cosine|-eq11)?$ ]]; then
        contrastive+=("$stage")
    fi
done
if [ ${#contrastive[@]} -gt 0 ]; then
    # It also exits non-zero when the stages share no class (the CSVs are written before that).
    if ! error=$(python3 scripts/contrastive-table.py --docs docs/bench --update-docs \
        --epochs-csv docs/bench/contrastive-epochs.csv "${contrastive[@]}" 2>&1 >/dev/null); then
        case "$error" in "no normal class finished by every stage"*) ;; *) echo "bench-save: $error" >&2 ;; esac
    fi
fi
for data in $(printf '%s\n' "${semi[@]}" | sort -u); do
    python3 scripts/semi-table.py --data-set "$data" --csv "docs/bench/$data-semi.csv" >/dev/null 2>&1 \
        || echo "bench-save: semi-table.py --data-set $data failed" >&2
done
