#!/usr/bin/env bash
# One-time set-up on a fresh Debian/Ubuntu machine with the Swift toolchain:
#   - zlib1g-dev: zlib headers (gzip, PNG and NPZ readers link against zlib)
#   - libopenblas0-pthread: OpenBLAS, opened at run time for GEMM (without it the engine falls
#     back to its own, slower C kernel)
# then a release build of the package. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pkg in zlib1g-dev libopenblas0-pthread; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=""
    if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo_cmd apt-get update -qq
    $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

echo "setup: building (release)"
swift build -c release
