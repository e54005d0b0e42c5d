#!/usr/bin/env bash
# Feeds every crafted input (scripts/fixtures/crafted_inputs.py) to the `anomaly` tool the way a
# user would — as own data, inside a data root, as input to score, as a run's model — under
# `ulimit -v 4000000` (about 3.8 GiB of address space). Each command must exit non-zero without
# a signal (no trap, no abort, no allocation failure), print exactly one line on stderr that
# starts with "Error:" and names the file, and leave no run folder behind.
#   scripts/crafted-check.sh [--options]   (ANOMALY_TOOL=path to use another binary)
set -uo pipefail
cd "$(dirname "$0")/.."
TOOL=$(realpath "${ANOMALY_TOOL:-.build/release/anomaly}")
[ -x "$TOOL" ] || { echo "crafted-check: build first (swift build -c release)" >&2; exit 2; }
CRAFTED=$PWD/Tests/DatasetsTests/Fixtures/crafted
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
failures=0 checks=0

# A run to score against, trained on the shipped demo data (outside the limit).
"$TOOL" train --method pca --dataset fashion-mnist-demo --output "$work/runs" >/dev/null 2>&1 ||
    { echo "crafted-check: cannot train the reference run" >&2; exit 2; }
run=$work/runs/$(ls "$work/runs")

# check NAME-IN-MESSAGE COMMAND...: runs the command under the limit in an empty output folder.
check() {
    local name=$1; shift
    checks=$((checks + 1))
    rm -rf "$work/out"; mkdir "$work/out"
    (ulimit -v 4000000; cd "$work/out" && "$@" --output "$work/out/runs") >"$work/stdout" 2>"$work/stderr"
    local rc=$? problem=""
    local lines; lines=$(wc -l < "$work/stderr")
    if [ $rc -eq 0 ]; then problem="exit 0 (accepted)"
    elif [ $rc -ge 128 ]; then problem="killed by signal $((rc - 128))"
    elif [ "$lines" -ne 1 ]; then problem="$lines lines on stderr"
    elif ! head -c 6 "$work/stderr" | grep '^Error:' >/dev/null; then problem="stderr does not start with Error:"
    elif ! grep -F -- "$name" "$work/stderr" >/dev/null; then problem="the message does not name $name"
    elif [ -n "$(ls -A "$work/out/runs" 2>/dev/null)" ]; then problem="left $(ls "$work/out/runs") behind"
    fi
    if [ -n "$problem" ]; then
        failures=$((failures + 1))
        printf 'FAIL  %-36s %s\n      %s\n' "$name" "$problem" "$(head -c 300 "$work/stderr" | tr '\n' ' ')"
    else
        printf 'ok    %-36s %s\n' "$name" "$(head -c 140 "$work/stderr")"
    fi
}
# score takes no --output: a wrapper that drops it.
score() { local args=(); while [ $# -gt 0 ]; do [ "$1" = --output ] && { shift 2; continue; }; args+=("$1"); shift; done
    "$TOOL" score "${args[@]}"; }

# As input to `anomaly score`.
for file in idx_overflow-images-idx3-ubyte idx_two_dims-images-idx3-ubyte npy_overflow.npy npy_huge.npy \
    csv_wide.csv.gz csv_nan.csv; do
    check "$file" score --run "$run" --input "$CRAFTED/$file"
done
cp "$CRAFTED/gzip_bomb.gz" "$work/bomb-images-idx3-ubyte.gz"
check bomb-images-idx3-ubyte.gz env ANOMALYKIT_MAX_DECOMPRESSED_MB=1 "$TOOL" score --run "$run" \
    --input "$work/bomb-images-idx3-ubyte.gz" --scores-output "$work/s.csv"

# As own data for `anomaly train`.
for file in csv_wide.csv.gz csv_nan.csv csv_label_range.csv; do
    check "$file" "$TOOL" train --method knn --dataset "$CRAFTED/$file"
done
mkdir -p "$work/pngs/normal"; cp "$CRAFTED/png_40gb.png" "$work/pngs/normal/"
check png_40gb.png "$TOOL" train --method knn --dataset "$work/pngs"

# Inside a data root, under a catalogue name.
root=$work/root
mkdir -p "$root/mnist" "$root/cifar-10" "$root/svhn"
cp "$CRAFTED/idx_overflow-images-idx3-ubyte" "$root/mnist/train-images-idx3-ubyte"
cp "$CRAFTED/idx_label_range/t10k-labels-idx1-ubyte" "$root/mnist/train-labels-idx1-ubyte"
check train-images-idx3-ubyte "$TOOL" train --method knn --dataset mnist --data-dir "$root"
rm -rf "$root/mnist"; cp -r "$CRAFTED/idx_label_range" "$root/mnist"
check train-labels-idx1-ubyte "$TOOL" train --method knn --dataset mnist --data-dir "$root"
for f in test_batch data_batch_1; do cp "$CRAFTED/cifar_label_range.bin" "$root/cifar-10/$f.bin"; done
check data_batch_1.bin "$TOOL" train --method knn --dataset cifar-10 --data-dir "$root"
for file in svhn_dims.mat svhn_short.mat; do
    cp "$CRAFTED/$file" "$root/svhn/train_32x32.mat"
    check train_32x32.mat "$TOOL" train --method knn --dataset svhn --data-dir "$root"
done

# As a run's saved model.
for file in safetensors_strides.safetensors safetensors_header_length.safetensors; do
    rm -rf "$work/badrun"; cp -r "$run" "$work/badrun"; cp "$CRAFTED/$file" "$work/badrun/model.safetensors"
    check model.safetensors score --run "$work/badrun" --input "$CRAFTED/csv_nan.csv"
done

# An option at the top of its range that asks for more memory than there is (a 65,536-wide
# MLP: 16 GiB of weights): one line, not a crash report.
check "out of memory" "$TOOL" train --method autoencoder --dataset "$PWD/Data/mini/tabular/thyroid.csv.gz" \
    --option network.hiddenWidths=65536,65536

echo "crafted-check: $((checks - failures)) of $checks inputs refused cleanly under ulimit -v 4000000"

# --options: every option of every method at -1, 2^63 − 1, 1e300 and nan (about 1,300 runs, a
# few minutes): each is refused with one line, or accepted and run (cut after 3 s), never a trap.
if [ "${1:-}" = --options ]; then
    option_failures=0 option_runs=0
    # One tool run ($1: what to call it; the rest: the arguments), cut after 3 s: a failure is a
    # signal, or a non-zero exit with other than one line on stderr.
    option_run() {
        local what=$1; shift
        option_runs=$((option_runs + 1))
        (ulimit -v 4000000; cd "$work" && timeout 3 "$TOOL" "$@") >/dev/null 2>"$work/stderr"
        local rc=$? lines
        lines=$(wc -l < "$work/stderr")
        [ -n "${VERBOSE:-}" ] && echo "$rc $what: $(head -c 150 "$work/stderr")"
        if [ $rc -ge 125 ] || { [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$lines" -ne 1 ]; }; then
            option_failures=$((option_failures + 1))
            echo "FAIL  $what: exit $rc, $(head -c 200 "$work/stderr" | tr '\n' ' ')"
        fi
    }
    while read -r method option; do
        case $method in simclr | csi | csi-synthetic | nsa | elsa | elsa+ | hscl) dataset=fashion-mnist-demo ;;
        *) dataset=$PWD/Data/mini/tabular/thyroid.csv.gz ;; esac
        for value in -1 9223372036854775807 1e300 nan; do
            option_run "$method $option=$value" train --method "$method" --dataset "$dataset" \
                --option "$option=$value" --output "$work/option-runs"
        done
    done < <("$TOOL" methods | awk '/^[a-z0-9+-]+:/ { m = $1; sub(":", "", m) } /--option/ { split($2, a, "="); print m, a[1] }')
    # The tool's own flags, with the same extremes and a word: ArgumentParser's usage errors end
    # with one line too.
    flags=(train:--seed train:--normal-class train:--validation-fraction train:--labeled-ratio train:--pollution
        train:--checkpoint-every train:--evaluate-every train:--training-subsample serve:--port serve:--max-body-mb
        serve:--max-concurrent serve:--max-queued predict:--fpr predict:--contamination predict:--threshold)
    for entry in "${flags[@]}"; do
        command=${entry%%:*} flag=${entry#*:}
        case $command in
        train) base=(train --method knn --dataset "$PWD/Data/mini/tabular/thyroid.csv.gz" --output "$work/option-runs") ;;
        serve | predict) base=("$command" --run "$run") ;;
        esac
        [ "$command" = predict ] && base+=(--input "$CRAFTED/csv_nan.csv")
        for value in -1 9223372036854775807 1e300 nan abc; do
            option_run "$command $flag $value" "${base[@]}" "$flag" "$value"
        done
    done
    echo "crafted-check: $((option_runs - option_failures)) of $option_runs extreme option values refused or run cleanly"
    failures=$((failures + option_failures))
fi
[ $failures -eq 0 ]
