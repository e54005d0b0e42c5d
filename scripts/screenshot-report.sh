#!/usr/bin/env bash
# The README's report screenshot: trains the autoencoder on MNIST one-class (digit 0, 5 epochs),
# opens its report.html in headless Chromium (installed from Debian's packages when missing) and
# writes docs/screenshots/mnist-autoencoder-report.png. Look at the picture: the gallery of the
# 8 most and 8 least anomalous test images must show digits with red / green frames.
#   scripts/screenshot-report.sh [output.png]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${ANOMALYKIT_DATA:-../shared/data}
TOOL=.build/release/anomaly
out=$(realpath -m "${1:-docs/screenshots/mnist-autoencoder-report.png}")
[ -x "$TOOL" ] || swift build -c release
if ! command -v chromium >/dev/null; then
    sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
runs=$(mktemp -d); trap 'rm -rf "$runs"' EXIT
"$TOOL" train --method autoencoder --dataset mnist --normal-class 0 --option training.epochs=5 \
    --data-dir "$DATA" --output "$runs" >"$runs/train.txt" 2>&1
report=$(sed -n 's/^run written to //p' "$runs/train.txt")/report.html
# --no-sandbox: Chromium refuses to run as root otherwise (this only reads our own file).
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1300,2600 \
    --screenshot="$out" "file://$report" 2>/dev/null
echo "gallery images in the report: $(grep -o 'data:image/bmp;base64' "$report" | wc -l)"
echo "screenshot: $out"
