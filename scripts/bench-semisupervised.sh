#!/usr/bin/env bash
# The semi-supervised benchmarks of the README (METHODS.md §2.1–2.3, §4.3, §5.1–5.3) on
# Fashion-MNIST and CIFAR-10 at a CPU budget: one normal class, one known anomaly class, the
# 10,000 test images scored; every method of a pair and setting sees the same split (same seed).
#   Scenario 1 (s1): γp = 0, γl over LABELED_RATIOS (default 0.05; the paper: 0.01 0.05 0.1);
#   Scenario 2 (s2): γl = LABELED (0.05), γp over POLLUTIONS (default 0.1; the paper: 0 0.05 0.1);
# at γp = 0 CSI and SimCLR score the network of the class's one-class run (one_class_network);
# labelled normals and labelled anomalies with Deep SAD counting. Each stage is an
# `anomaly bench … --resume FOLDER`: run the script again and it reads back finished runs and
# continues an interrupted one.
#   scripts/bench-semisupervised.sh [stage ...]
#   stages: DATA-SCENARIO-METHOD, DATA fmnist or cifar, SCENARIO s1 or s2, METHOD csi simclr
#           elsa+ (fine-tunes the csi run of the same split) elsa (fine-tunes the simclr run)
#           elsa+last (elsa+ without early stopping: validationFraction=0 keeps the last epoch)
#           hscl deepsad (e.g. fmnist-s2-hscl, cifar-s1-elsa+);
#           DATA-oc-synthetic (one-class csi-synthetic, next to bench-contrastive.sh's DATA-csi),
#           DATA-oc-synthetic-csi (those networks scored with CSI's score)
#   PAIRS="0:1 2:3" (normal:known-anomaly; default 0:1; the one-class stages use the normal
#   classes), LABELED_RATIOS, POLLUTIONS, LABELED, EPOCHS (5), EVALUATE_EVERY (1; 0: no curve), ANOMALY_TOOL (the binary;
#   default .build/release/anomaly), SEEDS (the one-class stages, comma-separated; default 0, others into
#   runs/bench/<stage>-seeds-S1-S2…; one-class stages with EPOCHS other than 5: runs/bench/<stage>-epochs-E…),
#   ONE_CLASS_TAG (the one-class runs of γp = 0 from runs/bench/DATA-METHOD-tag-TAG),
#   SYNTHETIC_OPTIONS="key=value …" (more csi-synthetic options for DATA-oc-synthetic; give a TAG
#   with them, so the runs land in runs/bench/<stage>…-tag-TAG)
# Results: runs/bench/<stage>/gl<γl>-gp<γp>/<normal>-<known>/results.{md,csv} (one-class:
# runs/bench/<stage>/); table: python3 scripts/semi-table.py
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${ANOMALYKIT_DATA:-../shared/data}
TOOL=${ANOMALY_TOOL:-.build/release/anomaly}   # a copy keeps a long queue off the binary you rebuild
[ -x "$TOOL" ] || swift build -c release
# dataset_of, EVALUATE_EVERY and EVALUATION
source scripts/bench-common.sh
PAIRS=${PAIRS:-"0:1"}
EPOCHS=${EPOCHS:-5}
LABELED=${LABELED:-0.05}
LABELED_RATIOS=${LABELED_RATIOS:-0.05}
POLLUTIONS=${POLLUTIONS:-0.1}
# CPU budget (2 cores), as the CSI rows of bench-contrastive.sh: ResNet-20 (Fashion-MNIST padded
# 28 → 32), Adam 1e-3 with cosine decay, no warm-up, EPOCHS epochs of 16 images a step (× 2
# views × 4 rotations = 128 views; SimCLR 64 images × 2 views), 2 test-time views per rotation.
TRAIN=(--option encoder.architecture=resnet20 --option training.epochs=$EPOCHS --option training.optimizer=adam
    --option training.learningRate=1e-3 --option training.warmupEpochs=0 --option training.warmupMultiplier=1
    --option training.batchSize=16 --option testViews=2)
# Elsa+ / Elsa fine-tune the CSI / SimCLR network of the same split (pretrained=<that run>): 6
# epochs of 16 images (Elsa+: × 4 rotations) at a constant Adam 1e-4, K = 50 prototypes
# (refreshed after epochs 0 and 3), early stopping on 5 % of the unlabelled data.
ELSA=(--option finetuning.epochs=6 --option finetuning.batchSize=16 --option testViews=2)
# The split options of one pair and setting.
split() {
    local dataset=$1 normal=$2 known=$3 labeled=$4 pollution=$5
    echo --datasets "$dataset" --protocol semi-supervised --normal-class "$normal" --anomaly-class "$known" \
        --labeled-ratio "$labeled" --pollution "$pollution" --seeds 0 ${EVALUATION[*]} --data-dir "$DATA"
}
# The run folder of the one finished run in a bench folder.
last_run() { echo "$1/$(tail -n 1 "$1/results.csv" | awk -F, '{print $NF}')"; }
# The run of class CLASS, seed 0, in the one-class bench folder FOLDER (nothing when none).
seed_zero_run() {
    [ -f "$1/results.csv" ] || return 0
    "$TOOL" bench --merge "$1" >/dev/null
    runs_of "$1/results.csv" | awk -v c="$2" '$1 == c && $2 == 0 { r = $3 } END { if (r) print r }'
}
# Whether a pollution ratio is zero ("0", "0.0", …).
unpolluted() { awk -v p="$1" 'BEGIN { exit !(p + 0 == 0) }'; }
# A CSI or SimCLR cell at γp = 0. Neither method reads labels, and without pollution its training
# set (the unlabelled data and the labelled normals) is the whole normal class: the one-class
# training set, in another order. The papers report CSI's one-class AUROC there (Elsa's Tables
# 1-2: 94.3 at γl = 0 and at γp = 0). So the cell scores the network of the one-class run of
# bench-contrastive.sh (stage DATA-METHOD, the same budget; run first if that class is missing)
# on the split, fitting only the feature bank (encoderModel), and Elsa+/Elsa fine-tune that
# network: one CSI run per normal class instead of one per pair and labelled ratio.
# ONE_CLASS_TAG=name reads runs/bench/DATA-METHOD-tag-name (a machine's own one-class runs).
one_class_network() {
    local data=$1 method=$2 normal=$3 options=$4 out=$5 source run
    source=runs/bench/$data-$method$(TAG=${ONE_CLASS_TAG:-} SEEDS=0 variant_suffix)
    run=$(seed_zero_run "$source" "$normal")
    if [ -z "$run" ]; then
        RERUN_SAVED=1 TAG=${ONE_CLASS_TAG:-} CLASSES=$normal SEEDS=0 EVALUATE_EVERY=0 ANOMALY_TOOL=$TOOL scripts/bench-contrastive.sh "$data-$method"
        run=$(seed_zero_run "$source" "$normal")
    fi
    [ -n "$run" ] || { echo "no one-class $method run of class $normal in $source" >&2; exit 1; }
    # shellcheck disable=SC2086
    "$TOOL" bench --methods "$method" --option encoder.architecture=resnet20 --option testViews=2 \
        --option encoderModel="$source/$run" $options --resume "$out"
}
# Whether docs/bench/DATA-semi.csv (bench-save.sh) holds the cell PAIR (normal-known) SETTING
# (gl…-gp…) of STAGE: a new machine starts without runs/, and a saved cell is not run again
# unless RERUN_SAVED=1 (bench-common.sh; Elsa's base run sets it).
saved_cell() {
    local csv=docs/bench/${1%%-*}-semi.csv
    [ "${RERUN_SAVED:-0}" = 0 ] && [ -f "$csv" ] || return 1
    awk -F, -v s="$1" -v p="$2" -v g="$3" '$1 == p && $2 == s && $3 == g { found = 1 } END { exit !found }' "$csv"
}
# One scenario stage over every pair and setting.
scenario() {
    local name=$1 data=${1%%-*} rest=${1#*-}
    local scenario=${rest%%-*} method=${rest#*-} dataset settings=() pair setting
    dataset=$(dataset_of "$data")
    case "$scenario" in
    s1) for l in $LABELED_RATIOS; do settings+=("$l:0"); done ;;
    s2) for p in $POLLUTIONS; do settings+=("$LABELED:$p"); done ;;
    *) echo "unknown stage $name" >&2; exit 2 ;;
    esac
    for pair in $PAIRS; do
        local normal=${pair%%:*} known=${pair##*:}
        for setting in "${settings[@]}"; do
            local labeled=${setting%%:*} pollution=${setting##*:}
            local cell=gl$labeled-gp$pollution/$normal-$known
            local out=runs/bench/$name/$cell options
            if [ ! -f "$out/results.csv" ] && saved_cell "$name" "$normal-$known" "gl$labeled-gp$pollution"; then
                echo "$name $cell: saved in docs/bench, not run again (RERUN_SAVED=1 runs it)" >&2
                continue
            fi
            local holder
            holder=$(held_by "$out")
            if [ -n "$holder" ]; then
                echo "$name $cell: being trained by process $holder, skipped (run the stage again to read it back)" >&2
                continue
            fi
            options=$(split "$dataset" "$normal" "$known" "$labeled" "$pollution")
            # shellcheck disable=SC2086
            case "$method" in
            csi | simclr) if unpolluted "$pollution"; then
                    one_class_network "$data" "$method" "$normal" "$options" "$out"
                elif [ "$method" = csi ]; then
                    "$TOOL" bench --methods csi "${TRAIN[@]}" $options --resume "$out"
                else
                    "$TOOL" bench --methods simclr "${TRAIN[@]}" --option training.batchSize=64 $options --resume "$out"
                fi ;;
            hscl) "$TOOL" bench --methods hscl "${TRAIN[@]}" $options --resume "$out" ;;
            deepsad) "$TOOL" bench --methods deepsad $options --resume "$out" ;;
            elsa+ | elsa | elsa+last)
                local base=csi tool_method=$method extra=()
                [ "$method" = elsa ] && base=simclr
                [ "$method" = elsa+last ] && tool_method=elsa+ extra=(--option validationFraction=0)
                local source=runs/bench/$data-$scenario-$base/$cell
                # The network to fine-tune: that pair and setting of the base stage, run first if missing.
                [ -f "$source/results.csv" ] || RERUN_SAVED=1 PAIRS=$pair LABELED_RATIOS=$labeled POLLUTIONS=$pollution \
                    stage "$data-$scenario-$base"
                [ -f "$source/results.csv" ] || { echo "$name $cell: its $base network is being trained by another process, skipped" >&2; continue; }
                "$TOOL" bench --methods "$tool_method" "${ELSA[@]}" "${extra[@]}" --option pretrained="$(last_run "$source")" \
                    $options --resume "$out" ;;
            *) echo "unknown stage $name" >&2; exit 2 ;;
            esac
        done
    done
}
stage() {
    local name=$1 data=${1%%-*}
    case "${name#*-}" in
    oc-synthetic)
        # One-class (no labels, no pollution), the budget of bench-contrastive.sh's DATA-csi,
        # G/E/D at width 128.
        local extra=()
        for o in ${SYNTHETIC_OPTIONS:-}; do extra+=(--option "$o"); done
        local classes="" normal
        for pair in $PAIRS; do classes+=" ${pair%%:*}"; done
        classes=$(classes_to_run "$name" "runs/bench/$name$(variant_suffix)" "$classes")
        for normal in $classes; do
            "$TOOL" bench --methods csi-synthetic "${TRAIN[@]}" --option generatorWidth=128 "${extra[@]}" --datasets "$(dataset_of "$data")" \
                --normal-class "$normal" --per-class --seeds "$SEEDS" "${EVALUATION[@]}" --data-dir "$DATA" \
                --resume "runs/bench/$name$(variant_suffix)"
        done ;;
    oc-synthetic-csi)
        # Those networks (F) scored with CSI's score instead of Eq. 11 (csi, encoderModel);
        # --merge first: results.csv holds every finished class, not only the last one run.
        local source=runs/bench/$data-oc-synthetic$(variant_suffix)
        has_networks "$source" "$data-oc-synthetic" "$name" || return 0
        "$TOOL" bench --merge "$source" >/dev/null
        for pair in $PAIRS; do
            local normal=${pair%%:*}
            runs_of "$source/results.csv" | while read -r c seed run; do
                [ "$c" = "$normal" ] || continue
                local output
                output=$(class_folder "runs/bench/$name$(variant_suffix)" "$normal" "$seed")
                "$TOOL" bench --methods csi --option encoder.architecture=resnet20 --option testViews=2 \
                    --option encoderModel="$source/$run" --datasets "$(dataset_of "$data")" \
                    --normal-class "$normal" --seeds "$seed" --data-dir "$DATA" --resume "$output" </dev/null
            done
        done ;;
    *) scenario "$name" ;;
    esac
}
if [ $# -eq 0 ]; then set -- fmnist-s2-csi fmnist-s2-elsa+ fmnist-s2-hscl fmnist-s2-deepsad; fi
for s in "$@"; do stage "$s"; done
