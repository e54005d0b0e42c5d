#!/usr/bin/env bash
# Starts (or resumes) the benchmark queue as its two lanes side by side, each at one thread, in
# the background, detached from this shell: scripts/bench-remaining.sh with LANE=contrastive and
# LANE=semi. Builds the tool first and runs a copy of it (/tmp/anomaly), so that later builds do
# not touch the binary the lanes run. Logs: runs/bench/queue-contrastive.log, queue-semi.log.
#   scripts/bench-lanes.sh           start both lanes (refused while a lane is running)
#   scripts/bench-lanes.sh --stop    stop both after their current epoch (checkpoints kept)
set -euo pipefail
cd "$(dirname "$0")/.."
running() { pgrep -f "scripts/bench-remaining.sh" >/dev/null; }
if [ "${1:-}" = --stop ]; then
    pkill -f "scripts/bench-remaining.sh" || true
    pkill -f "scripts/bench-(contrastive|semisupervised).sh" || true
    # SIGTERM: the tool ends after the current epoch with its checkpoint written.
    pkill -TERM -f "^${ANOMALY_TOOL:-/tmp/anomaly} bench" || true
    echo "stopping: the runs end after their current epoch (watch with: pgrep -fa 'anomaly bench')"
    exit 0
fi
[ $# -eq 0 ] || { echo "usage: scripts/bench-lanes.sh [--stop]" >&2; exit 2; }
if running; then echo "a queue lane is already running (pgrep -fa bench-remaining.sh)" >&2; exit 1; fi
# Every run of a table should use the same GEMM kernels: without OpenBLAS the engine falls back to
# its built-in C kernel, whose rounding differs (scores move by up to a few points after 5 epochs).
# (The list is read whole first: grep -q quitting early would stop ldconfig with SIGPIPE, which
# pipefail reports as a missing library.)
libraries=$(ldconfig -p)
if [[ $libraries != *libopenblas.so.0* ]]; then
    echo "OpenBLAS (libopenblas.so.0) is not installed: run scripts/setup.sh first" >&2; exit 1
fi
swift build -c release --product anomaly
cp .build/release/anomaly /tmp/anomaly
mkdir -p runs/bench
# The second lane starts two minutes after the first: started in the same second, both can find the
# same missing cell (say the CSI network an Elsa+ cell fine-tunes) before either has locked its
# run folder, and train it twice (2026-12-06, CSI 6:7). Two minutes later the first lane's run holds
# its lock, and the second lane skips that cell with one line.
stagger=${LANE_STAGGER:-120}
[[ $stagger =~ ^[0-9]+$ ]] || { echo "LANE_STAGGER must be a whole number of seconds, got '$stagger'" >&2; exit 2; }
for lane in semi contrastive; do
    delay=0
    [ "$lane" = semi ] || delay=$stagger
    ANOMALY_TOOL=/tmp/anomaly ANOMALYKIT_THREADS=1 LANE=$lane DELAY=$delay \
        setsid nohup bash -c 'sleep "$DELAY"; exec scripts/bench-remaining.sh' >> "runs/bench/queue-$lane.log" 2>&1 < /dev/null &
done
echo "lanes started (the contrastive one after ${stagger} s): tail -f runs/bench/queue-contrastive.log runs/bench/queue-semi.log"
