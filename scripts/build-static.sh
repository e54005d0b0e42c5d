#!/usr/bin/env bash
# A release binary of `anomaly` that runs on a Linux machine without Swift: the Swift runtime
# and Foundation are linked statically (--static-swift-stdlib); what stays dynamic are the
# system libraries every Debian/Ubuntu has (libc, libstdc++, zlib, libcurl — Foundation's
# networking, used by `anomaly datasets fetch`). OpenBLAS stays optional, opened at run time.
#   scripts/build-static.sh           → .build-static/release/anomaly
#   scripts/build-static.sh --check   … then trains and scores with it in a clean environment
set -euo pipefail
cd "$(dirname "$0")/.."
# Foundation asks the linker for -lcurl; Debian ships only libcurl.so.4 without the dev package,
# so a private folder provides the unversioned name.
# (awk reads all of its input: an early exit would stop ldconfig with SIGPIPE, fatal under pipefail.)
curl=$(ldconfig -p | awk '/libcurl\.so\.4 .*x86-64|libcurl\.so\.4 .*AArch64/ && !found { print $NF; found = 1 }')
[ -n "$curl" ] || { echo "build-static: libcurl.so.4 not found (apt-get install libcurl4)" >&2; exit 1; }
mkdir -p .build-static/linkshim
ln -sf "$curl" .build-static/linkshim/libcurl.so
swift build -c release --static-swift-stdlib --product anomaly --scratch-path .build-static \
    -Xlinker -L"$PWD/.build-static/linkshim"
binary=.build-static/release/anomaly
echo "build-static: $binary ($(du -h "$binary" | cut -f1))"
[ "${1:-}" = "--check" ] || exit 0

# No Swift library may be needed at run time.
if ldd "$binary" | grep 'libswift\|libFoundation\|libdispatch' >/dev/null; then
    echo "build-static: $binary still links Swift libraries:" >&2; ldd "$binary" >&2; exit 1
fi
# Train on the shipped demo data and score its test file with nothing but the binary, from an
# empty environment and another working folder.
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp "$binary" "$work/anomaly"
(cd "$work" && env -i HOME="$work" ./anomaly train --method pca --dataset fashion-mnist-demo --data-dir "$work" \
    --output "$work/runs" >/dev/null 2>"$work/train.err") || { cat "$work/train.err" >&2; exit 1; }
run=$(ls "$work/runs")
(cd "$work" && env -i HOME="$work" ./anomaly score --run "runs/$run" \
    --input "$OLDPWD/Data/fashion-mnist-demo/t10k-images-idx3-ubyte.gz" --scores-output scores.csv >/dev/null)
lines=$(($(wc -l < "$work/scores.csv") - 1))
[ "$lines" -gt 0 ] || { echo "build-static: no scores written" >&2; exit 1; }
echo "build-static: check passed (trained and scored $lines samples without Swift libraries)"
