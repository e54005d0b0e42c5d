#!/usr/bin/env bash
# The contrastive-family benchmarks of the README (METHODS.md §1.3–1.4, §2.4) on Fashion-MNIST
# and CIFAR-10, one class normal (the 6,000 or 5,000 training images of that class; with
# -polluted, NSA's p = 0.1 of other classes added), the 10,000 test images scored.
# Every stage is an `anomaly bench … --resume FOLDER`: run the script again with the same stages
# and it reads back finished runs and continues an interrupted one. Results:
# runs/bench/<stage>/results.{md,csv}; curves and tables: python3 scripts/contrastive-table.py.
#   scripts/bench-contrastive.sh [stage ...]
#   stages: DATA[-polluted]-METHOD with DATA fmnist or cifar (CIFAR-10, classes 0 1 2 unless CLASSES
#           is set) and METHOD knn ssn ss scn sc simclr csi byoln scn-neg (e.g. fmnist-ssn,
#           fmnist-polluted-scn, cifar-csi); and the re-scorings DATA[-polluted]-{ssn,byoln,scn,scn-neg}-scores
#           (centred k-Cos, c-Cos, layer ensembles), fmnist[-polluted]-simclr-cosine, DATA-csi-eq11
#   environment: CLASSES, EPOCHS (5), EVALUATE_EVERY (1; 0: no curve), ANOMALY_TOOL (the binary),
#           SEEDS (one-class stages, comma-separated; default 0, others into runs/bench/<stage>-seeds-S1-S2…;
#           EPOCHS other than 5: runs/bench/<stage>-epochs-E…; TAG=name: runs/bench/<stage>…-tag-name)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${ANOMALYKIT_DATA:-../shared/data}
TOOL=${ANOMALY_TOOL:-.build/release/anomaly}   # a copy keeps a long queue off the binary you rebuild
[ -x "$TOOL" ] || swift build -c release
# dataset_of, EVALUATE_EVERY and EVALUATION
source scripts/bench-common.sh
EPOCHS=${EPOCHS:-5}
# CPU budget (2 cores): ResNet-20 (Fashion-MNIST zero-padded 28 → 32), Adam 1e-3 with cosine decay, no
# warm-up, EPOCHS epochs of 64 images a step (128 views; CSI 16 images = 128 views).
COMMON=(--option encoder.architecture=resnet20 --option training.epochs=$EPOCHS --option training.optimizer=adam
    --option training.learningRate=1e-3 --option training.warmupEpochs=0 --option training.warmupMultiplier=1
    "${EVALUATION[@]}" --data-dir "$DATA")
# SS(n): SimSiam with NSA's normalisations; projector 64→512→512→512, predictor 512→128→128→512
# (the spec's 2048/512 widths scaled to ResNet-20's 64-d feature); uncentred k-Cos (see README).
SSN=(--methods nsa --option variant=simsiam --option normalized=true --option projectionWidth=512
    --option predictorWidth=128 --option training.batchSize=64 --option centering=false)
# BYOL(n): SS(n)'s widths, targets from an EMA copy (decay 0.99).
BYOLN=(--methods nsa --option variant=byol --option normalized=true --option projectionWidth=512
    --option predictorWidth=128 --option training.batchSize=64 --option centering=false)
# SC(n): SimCLR with NSA's normalisations, scored by k-Cos (SC: the same without them; "simclr"
# below is the SimCLR of CSI's paper with CSI's score).
SC=(--methods nsa --option variant=simclr --option normalized=true --option training.batchSize=64 --option centering=false)
# SC(n−): the four rotations are distinct instances, 16 images a step (× 2 views × 4 = 128 views, as CSI).
SCNEG=(--methods nsa --option variant=simclr --option normalized=true --option shiftedNegatives=true
    --option training.batchSize=16 --option centering=false)
# SimCLR and CSI with CSI's score, 2 test-time views (the spec's 10 cost 5× the scoring time).
SIMCLR=(--methods simclr --option training.batchSize=64 --option testViews=2)
CSI=(--methods csi --option training.batchSize=16 --option testViews=2)
POLLUTED=(--protocol contaminated --pollution 0.1 --pollution-rule nsa)
# The other NSA scores of the SS(n), BYOL(n), SC(n) or SC(n−) networks of a stage already run (option
# encoderModel: only the scorers are fitted): centred k-Cos, c-Cos, and the layer ensemble of
# each; a polluted stage is re-scored on its own polluted training set.
#   rescore DATA[-polluted]-{ssn,byoln,scn,scn-neg}-scores
rescore() {
    local source=runs/bench/${1%-scores}$(variant_suffix) output=runs/bench/$1$(variant_suffix) dataset method=() protocol=()
    dataset=$(dataset_of "${1%%-*}")
    case "$1" in *-polluted-*) protocol=("${POLLUTED[@]}") ;; esac
    case "$1" in
    *-ssn-scores) method=("${SSN[@]}") ;;
    *-byoln-scores) method=("${BYOLN[@]}") ;;
    *-scn-neg-scores) method=("${SCNEG[@]}") ;;
    *) method=("${SC[@]}") ;;
    esac
    has_networks "$source" "${1%-scores}" "$1" || return 0
    # --merge first: results.csv holds every finished class, not only those of the last invocation.
    "$TOOL" bench --merge "$source" >/dev/null
    runs_of "$source/results.csv" | while read -r normal seed run; do
        for scoring in "score=kcos centering=true" "score=ccos" "score=kcos ensemble=true" "score=ccos ensemble=true"; do
            name=${scoring// /-}
            options=()
            for o in $scoring; do options+=(--option "$o"); done
            "$TOOL" bench "${method[@]}" --datasets "$dataset" "${protocol[@]}" --normal-class "$normal" --seeds "$seed" \
                --option encoder.architecture=resnet20 --option encoderModel="$source/$run" "${options[@]}" --data-dir "$DATA" \
                --resume "$output/${name//=/-}/class-$normal-seed-$seed" </dev/null
        done
    done
}
# The networks of a bench folder scored again with one option changed (encoderModel), each
# with its own seed (SEEDS: the folders of those seeds).
#   rescore_network SOURCE_STAGE OUTPUT_STAGE OPTION METHOD_ARGUMENTS...
# A polluted source stage (…-polluted-…) is re-scored on its own polluted training set.
rescore_network() {
    local source=runs/bench/$1$(variant_suffix) output=runs/bench/$2$(variant_suffix) option=$3 protocol=() dataset
    dataset=$(dataset_of "${1%%-*}")
    case "$1" in *-polluted-*) protocol=("${POLLUTED[@]}") ;; esac
    has_networks "$source" "$1" "$2" || return 0
    shift 3
    # --merge first: results.csv holds every finished class, not only those of the last invocation.
    "$TOOL" bench --merge "$source" >/dev/null
    runs_of "$source/results.csv" | while read -r normal seed run; do
        local folder
        folder=$(class_folder "$output" "$normal" "$seed")
        "$TOOL" bench "$@" --datasets "$dataset" "${protocol[@]}" --normal-class "$normal" --seeds "$seed" \
            --option encoder.architecture=resnet20 --option encoderModel="$source/$run" \
            --option "$option" --data-dir "$DATA" --resume "$folder" </dev/null
    done
}
# One-class (or polluted one-class) runs of one method on one data set, a run per class and seed:
# stage DATA[-polluted]-METHOD, DATA fmnist (all 10 classes) or cifar (classes 0 1 2 unless
# CLASSES is set), METHOD knn ssn ss scn sc simclr csi byoln scn-neg; results in runs/bench/<stage>.
one_class() {
    local name=$1 data=${1%%-*} rest=${1#*-} dataset classes protocol=()
    dataset=$(dataset_of "$data")
    classes=${CLASSES:-"0 1 2"}
    [ "$data" = fmnist ] && classes=${CLASSES:-"0 1 2 3 4 5 6 7 8 9"}
    if [ "${rest%%-*}" = polluted ]; then protocol=("${POLLUTED[@]}"); rest=${rest#polluted-}; fi
    classes=$(classes_to_run "$name" "runs/bench/$name$(variant_suffix)" "$classes")
    [ -n "$classes" ] || return 0
    local method=()
    case "$rest" in
    knn) method=(--methods knn --data-dir "$DATA") ;;
    ssn) method=("${SSN[@]}" "${COMMON[@]}") ;;
    ss) method=("${SSN[@]}" --option normalized=false "${COMMON[@]}") ;;  # SS(n) without NSA's normalisations
    sc) method=("${SC[@]}" --option normalized=false "${COMMON[@]}") ;;  # SC(n) without NSA's normalisations
    simclr) method=("${SIMCLR[@]}" "${COMMON[@]}") ;;
    csi) method=("${CSI[@]}" "${COMMON[@]}") ;;
    byoln) method=("${BYOLN[@]}" "${COMMON[@]}") ;;
    scn) method=("${SC[@]}" "${COMMON[@]}") ;;
    scn-neg) method=("${SCNEG[@]}" "${COMMON[@]}") ;;
    *) echo "unknown stage $name" >&2; exit 2 ;;
    esac
    "$TOOL" bench "${method[@]}" --datasets "$dataset" "${protocol[@]}" --normal-class $classes --per-class \
        --seeds "$SEEDS" --resume "runs/bench/$name$(variant_suffix)"
}
stage() {
    case "$1" in
    *-ssn-scores | *-byoln-scores | *-scn-scores | *-scn-neg-scores) rescore "$1" ;;
    fmnist-simclr-cosine | fmnist-polluted-simclr-cosine)
        # The SimCLR networks of fmnist[-polluted]-simclr re-scored with normalised test projections
        # (score=cosine; only the feature bank is fitted): does the projection norm invert classes?
        rescore_network "${1%-cosine}" "$1" score=cosine "${SIMCLR[@]}" ;;
    fmnist-csi-eq11 | cifar-csi-eq11)
        # The CSI networks of DATA-csi scored with the synthetic-inlier method's Eq. 11 (one
        # nearest training image shared by the rotations, no weights, no shift logits): what the
        # score alone does, next to csi-synthetic (bench-semisupervised.sh DATA-oc-synthetic).
        rescore_network "${1%-eq11}" "$1" score=sharedNeighbour "${CSI[@]}" ;;
    *) one_class "$1" ;;
    esac
}
if [ $# -eq 0 ]; then set -- fmnist-knn fmnist-ssn fmnist-simclr fmnist-csi; fi
for s in "$@"; do stage "$s"; done
