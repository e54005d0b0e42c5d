#!/usr/bin/env bash
# Speed of one Deep SVDD fit (issue: one MNIST class, 30 pre-training + 30 training epochs,
# batch 128) in wall seconds, ours and PyTorch's (bench/deep_svdd_torch.py, 2 threads, the same
# algorithm) in the same invocation. Needs a quiet machine; torch==2.13.0+cpu for the reference.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${ANOMALYKIT_DATA:-../shared/data}
CLASS=${1:-0}
[ -x .build/release/anomaly ] || swift build -c release
out=$(mktemp -d)
ours=$(.build/release/anomaly train --method deepsvdd --dataset mnist --data-dir "$DATA" --normal-class "$CLASS" \
    --option pretraining.epochs=30 --option training.epochs=30 \
    --option pretraining.batchSize=128 --option training.batchSize=128 --output "$out" 2>/dev/null | awk '/^deepsvdd/ {print $5, $8}')
rm -rf "$out"
read -r auroc seconds <<<"$ours"
echo "ours  fit $seconds s, test AUROC $auroc"
if python3 -c 'import torch' 2>/dev/null; then
    theirs=$(python3 bench/deep_svdd_torch.py --data "$DATA/mnist" --normal-class "$CLASS")
    echo "$theirs"
    torch_seconds=$(awk '{print $3}' <<<"$theirs")
    awk -v a="$seconds" -v b="$torch_seconds" 'BEGIN { printf "speed-up (PyTorch time / ours): %.2fx\n", b / a }'
else
    echo "(PyTorch not importable: pip install torch==2.13.0+cpu for the reference)"
fi
