#!/usr/bin/env bash
# The semi-supervised benchmarks of the README (METHODS.md §2.1–2.3, §4.3, §5.1–5.3) on
# Fashion-MNIST at a CPU budget. Scenario 2 of Elsa/HSCL: one normal class, one known anomaly
# class, γl = 0.05 labelled normals and labelled anomalies, γp = 0.1 pollution of the unlabelled
# data (Deep SAD counting), the 10,000 test images scored. Every method of a pair sees the same
# split (same seed). Each stage is an `anomaly bench … --resume FOLDER`: run the script again and
# it reads back finished runs and continues an interrupted one.
#   scripts/bench-semisupervised.sh [stage ...]
#   stages: fmnist-s2-csi fmnist-s2-elsa+ fmnist-s2-hscl fmnist-s2-deepsad
#           fmnist-oc-synthetic (one-class, next to the CSI rows of bench-contrastive.sh),
#           fmnist-oc-synthetic-csi (those networks scored with CSI's score)
#   PAIRS="0:1 2:3" (normal:known-anomaly; default 0:1), POLLUTION (0.1), LABELED (0.05), EPOCHS (5),
#   ANOMALY_TOOL (the binary; default .build/release/anomaly)
# Results: runs/bench/<stage>/<normal>-<known>/results.{md,csv}; table: python3 scripts/semi-table.py
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${ANOMALYKIT_DATA:-../shared/data}
TOOL=${ANOMALY_TOOL:-.build/release/anomaly}   # a copy keeps a long queue off the binary you rebuild
[ -x "$TOOL" ] || swift build -c release
PAIRS=${PAIRS:-"0:1"}
EPOCHS=${EPOCHS:-5}
POLLUTION=${POLLUTION:-0.1}
LABELED=${LABELED:-0.05}
# CPU budget (2 cores), as the CSI rows of bench-contrastive.sh: ResNet-20 (28 → 32 padding),
# Adam 1e-3 with cosine decay, no warm-up, EPOCHS epochs of 16 images a step (× 2 views × 4
# rotations = 128 views), 2 test-time views per rotation.
TRAIN=(--option encoder.architecture=resnet20 --option training.epochs=$EPOCHS --option training.optimizer=adam
    --option training.learningRate=1e-3 --option training.warmupEpochs=0 --option training.warmupMultiplier=1
    --option training.batchSize=16 --option testViews=2)
# Elsa+ fine-tunes the CSI network of the same split (pretrained=<that run>): 6 epochs of 16
# images (128 views) at a constant Adam 1e-4, K = 50 prototypes (refreshed after epochs 0 and 3), early
# stopping on 5 % of the unlabelled data.
ELSA=(--option finetuning.epochs=6 --option finetuning.batchSize=16 --option testViews=2)
split() {
    local normal=$1 known=$2
    echo --datasets fashion-mnist --protocol semi-supervised --normal-class "$normal" --anomaly-class "$known" \
        --labeled-ratio "$LABELED" --pollution "$POLLUTION" --seeds 0 --evaluate-every 1 --data-dir "$DATA"
}
stage() {
    local name=$1
    for pair in $PAIRS; do
        local normal=${pair%%:*} known=${pair##*:}
        local out=runs/bench/$name/$normal-$known
        # shellcheck disable=SC2046
        case "$name" in
        fmnist-s2-csi) "$TOOL" bench --methods csi "${TRAIN[@]}" $(split "$normal" "$known") --resume "$out" ;;
        fmnist-s2-hscl) "$TOOL" bench --methods hscl "${TRAIN[@]}" $(split "$normal" "$known") --resume "$out" ;;
        fmnist-s2-deepsad) "$TOOL" bench --methods deepsad $(split "$normal" "$known") --resume "$out" ;;
        fmnist-s2-elsa+)
            local csi=runs/bench/fmnist-s2-csi/$normal-$known
            [ -f "$csi/results.csv" ] || stage fmnist-s2-csi
            local run
            run=$(tail -n 1 "$csi/results.csv" | awk -F, '{print $NF}')
            "$TOOL" bench --methods elsa+ "${ELSA[@]}" --option pretrained="$csi/$run" $(split "$normal" "$known") \
                --resume "$out" ;;
        fmnist-oc-synthetic)
            # One-class (no labels, no pollution), the budget of bench-contrastive.sh's fmnist-csi,
            # G/E/D at width 128.
            "$TOOL" bench --methods csi-synthetic "${TRAIN[@]}" --option generatorWidth=128 --datasets fashion-mnist \
                --normal-class "$normal" --per-class --seeds 0 --evaluate-every 1 --data-dir "$DATA" \
                --resume runs/bench/fmnist-oc-synthetic ;;
        fmnist-oc-synthetic-csi)
            # Those networks (F) scored with CSI's score instead of Eq. 11 (csi, encoderModel);
            # --merge first: results.csv holds every finished class, not only the last one run.
            "$TOOL" bench --merge runs/bench/fmnist-oc-synthetic >/dev/null
            tail -n +2 runs/bench/fmnist-oc-synthetic/results.csv | while IFS=, read -r _ _ _ c _ _ _ _ _ _ run; do
                [ "$c" = "$normal" ] || continue
                "$TOOL" bench --methods csi --option encoder.architecture=resnet20 --option testViews=2 \
                    --option encoderModel="runs/bench/fmnist-oc-synthetic/$run" --datasets fashion-mnist \
                    --normal-class "$normal" --seeds 0 --data-dir "$DATA" \
                    --resume "runs/bench/fmnist-oc-synthetic-csi/class-$normal" </dev/null
            done ;;
        *) echo "unknown stage $name" >&2; exit 2 ;;
        esac
    done
}
if [ $# -eq 0 ]; then set -- fmnist-s2-csi fmnist-s2-elsa+ fmnist-s2-hscl fmnist-s2-deepsad; fi
for s in "$@"; do stage "$s"; done
