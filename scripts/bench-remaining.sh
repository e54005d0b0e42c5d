#!/usr/bin/env bash
# The benchmark stages the README's open tables still need (issues 9 and 12), in priority order.
# Every stage resumes (a finished run is read back, an interrupted one continues from its last
# checkpoint), so run this in the background in each session until it prints "all done":
#   ANOMALY_TOOL=/tmp/anomaly nohup scripts/bench-remaining.sh >> runs/bench/queue.log 2>&1 &
# (copy .build/release/anomaly to /tmp/anomaly first, so rebuilding does not touch the queue's
# binary), or as two lanes side by side (LANE below; scripts/bench-lanes.sh starts both, and
# stops them with --stop):
#   export ANOMALY_TOOL=/tmp/anomaly ANOMALYKIT_THREADS=1
#   LANE=contrastive nohup scripts/bench-remaining.sh >> runs/bench/queue-contrastive.log 2>&1 &
#   LANE=semi nohup scripts/bench-remaining.sh >> runs/bench/queue-semi.log 2>&1 &
# At the CPU budget of the two bench scripts (ResNet-20, 5 epochs) the list up to the
# Fashion-MNIST grid at its end is about 20 hours on the 2-core machine, the grid about 35 more
# for one lane (2026-12-05 estimate; both lanes end with it, so about half that). Tables: scripts/contrastive-table.py, scripts/semi-table.py.
# What finishes is written into docs/bench every SAVE_EVERY seconds (default 300) and at the end
# (scripts/bench-save.sh): runs/ is not in git, and a new machine starts without it.
# A class or cell saved in docs/bench is not run again (bench-common.sh, RERUN_SAVED): a new
# machine picks up the list where the last one left it, less the runs that were in progress.
set -euo pipefail
cd "$(dirname "$0")/.."
# LANE picks half of the list, so that two queues share the machine (each at ANOMALYKIT_THREADS=1:
# two one-thread runs side by side do about 13 % more work on this 2-core machine than one run on
# both cores — anomaly-bench epoch, 2026-12-05): LANE=contrastive runs the one-class stages (issue
# 12, and the CSI networks the semi-supervised stages reuse), LANE=semi the semi-supervised ones
# (issue 9); unset, both, one after the other. A semi stage needing a one-class network the other
# lane has not finished runs it itself; a run folder one process trains is locked, so the lane
# that comes second to it skips that cell with one line and goes on (run again, it reads back).
LANE=${LANE:-all}
case $LANE in all | contrastive | semi) ;; *) echo "LANE must be contrastive, semi or unset, got '$LANE'" >&2; exit 2 ;; esac
lane() { [ "$LANE" = all ] || [ "$LANE" = "$1" ]; }
( while sleep "${SAVE_EVERY:-300}"; do scripts/bench-save.sh; done ) &
saver=$!
trap 'kill $saver 2>/dev/null; scripts/bench-save.sh' EXIT
# A stage that fails (say a run that diverges) is logged and the queue goes on with the next one,
# so one failure does not idle the machine for the rest of a session; the summary at the end
# lists the failed stages (run again, they resume).
failed=()
run_stage() {
    local script=$1 s=$2
    echo "=== $s $(date -u +%FT%TZ)"
    "$script" "$s" || { echo "=== FAILED $s (exit $?) $(date -u +%FT%TZ)"; failed+=("$s"); }
}
contrastive() { for s in "$@"; do run_stage scripts/bench-contrastive.sh "$s"; done; }
semi() { for s in "$@"; do run_stage scripts/bench-semisupervised.sh "$s"; done; }

# Issue 9 on Fashion-MNIST, both lanes at the end of their lists, walking the pairs from opposite
# ends (a cell one lane trains is locked, so they meet in the middle; a cell saved in docs/bench
# is skipped): Scenario 2 (γp = 0.1, with the per-epoch curve; complete since 2026-12-07), then
# the rest of Scenario 2 (γp = 0.05, then 0) and Scenario 1's other two labelled ratios (about
# 20 hours a setting for one lane at this budget, 2026-12-07 cells). Elsa (without the plus)
# fine-tunes the SimCLR run of its split; the issue asks for it beside Elsa+, HSCL, Deep SAD and
# CSI.
# At γp = 0, CSI is the one-class CSI of the normal class (runs/bench/fmnist-csi-tag-amd: this
# machine's, classes 0, 1, 7 from the contrastive lane, the others run when first needed) and
# Elsa+ fine-tunes it.
FMNIST_PAIRS="0:1 1:2 2:3 3:4 4:5 5:6 6:7 7:8 8:9 9:0"
fmnist() {   # $1: forward (0:1 first) or reverse (9:0 first)
    local all=$FMNIST_PAIRS
    [ "$1" = reverse ] && all=$(tr ' ' '\n' <<<"$all" | tac | paste -sd ' ')
    PAIRS=$all POLLUTIONS=0.1 EVALUATE_EVERY=1 semi fmnist-s2-csi fmnist-s2-elsa+ fmnist-s2-hscl \
        fmnist-s2-deepsad fmnist-s2-simclr fmnist-s2-elsa
    export ONE_CLASS_TAG=amd
    for gp in 0.05 0; do
        PAIRS=$all EVALUATE_EVERY=0 POLLUTIONS=$gp semi fmnist-s2-csi \
            fmnist-s2-elsa+ fmnist-s2-hscl fmnist-s2-deepsad fmnist-s2-simclr fmnist-s2-elsa
    done
    PAIRS=$all EVALUATE_EVERY=0 LABELED_RATIOS="0.01 0.1" semi fmnist-s1-csi \
        fmnist-s1-elsa+ fmnist-s1-hscl fmnist-s1-deepsad fmnist-s1-simclr fmnist-s1-elsa
}

if lane contrastive; then
# The Fashion-MNIST stages of issue 12 (one-class and polluted, every method, curves and
# re-scorings; CSI's classes 0, 1, 7 again on the AMD machine as fmnist-csi-tag-amd and
# fmnist-csi-eq11-tag-amd) finished on 2026-12-05: their results are in docs/bench, their
# networks were lost with that machine's runs/.
# Issue 12, CIFAR-10 classes 0-2, clean and polluted (tables only: no per-epoch evaluations):
# every method of the issue (SimCLR, CSI, SS(n), BYOL(n), SC(n), SC(n−), the NSA variants with
# their other scores), the plain SS and SC for NSA's gap, kNN as the floor. CSI and SimCLR first:
# the CIFAR-10 semi-supervised cells at γp = 0 score their networks.
EVALUATE_EVERY=0 contrastive cifar-knn cifar-csi cifar-simclr cifar-ssn cifar-ssn-scores cifar-scn cifar-scn-scores \
    cifar-polluted-knn cifar-polluted-ssn cifar-polluted-scn cifar-polluted-ss cifar-polluted-sc \
    cifar-byoln cifar-scn-neg cifar-byoln-scores cifar-scn-neg-scores \
    cifar-polluted-ssn-scores cifar-polluted-scn-scores cifar-polluted-simclr cifar-polluted-csi \
    cifar-polluted-byoln cifar-polluted-byoln-scores cifar-polluted-scn-neg cifar-polluted-scn-neg-scores
# Those finished on 2026-12-06 (docs/bench), so this lane goes on with issue 9's work that the
# semi lane reaches last: the one-class CIFAR-10 synthetic-inlier runs, then Deep SAD's CIFAR-10
# cells from the other end of the semi lane's pairs (2:3 first; γp = 0.1 first within a pair, so
# that the headline table fills first). A cell one lane trains is locked: the other lane skips
# it with one line and goes on, and a cell either lane finished is read back.
PAIRS="0:0 1:1 2:2" EVALUATE_EVERY=0 semi cifar-oc-synthetic cifar-oc-synthetic-csi
PAIRS="2:3 1:2 0:1" EVALUATE_EVERY=0 POLLUTIONS="0.1 0.05 0" semi cifar-s2-deepsad
# Then Deep SAD's Scenario 1 cells on CIFAR-10 (γl = 0.1 and 0.01, γp = 0; about 80 min each),
# while the semi lane takes the contrastive methods' Scenario 1 cells (a CSI or SimCLR cell at
# γp = 0 only scores the one-class network of cifar-csi/cifar-simclr, so those are short).
PAIRS="2:3 1:2 0:1" EVALUATE_EVERY=0 LABELED_RATIOS="0.1 0.01" semi cifar-s1-deepsad
fmnist reverse
fi

if lane semi; then
# (Issue 9's one-class Fashion-MNIST stages, fmnist-oc-synthetic and its CSI-score re-scoring,
# finished on 2026-12-05: docs/bench.)
# Issue 9, CIFAR-10, pairs 0:1 1:2 2:3: Scenario 2 (γl = 0.05) at γp = 0.1 first (the papers'
# headline comparison), then 0.05, then 0 — whose CSI and SimCLR cells score the networks of
# cifar-csi and cifar-simclr (bench-semisupervised.sh), which the contrastive lane makes early —
# then Scenario 1's other two labelled ratios (γl = 0.05, γp = 0 is Scenario 2's first setting).
for gp in 0.1 0.05 0; do
    PAIRS="0:1 1:2 2:3" EVALUATE_EVERY=0 POLLUTIONS=$gp semi cifar-s2-csi cifar-s2-elsa+ cifar-s2-hscl \
        cifar-s2-simclr cifar-s2-elsa
done
# Deep SAD last: at its paper budget (LeNet, 150 + 150 epochs) a CIFAR-10 cell takes about two
# hours at one thread, six times a CSI cell; it is the papers' baseline, so the methods' own cells
# come first.
PAIRS="0:1 1:2 2:3" EVALUATE_EVERY=0 POLLUTIONS="0.1 0.05 0" semi cifar-s2-deepsad
# Issue 9, one-class CSI with synthetic inliers on CIFAR-10 next to cifar-csi (same budget).
PAIRS="0:0 1:1 2:2" EVALUATE_EVERY=0 semi cifar-oc-synthetic cifar-oc-synthetic-csi
# Scenario 1's other two labelled ratios; Deep SAD last (the contrastive lane starts its cells
# from the other end).
PAIRS="0:1 1:2 2:3" EVALUATE_EVERY=0 LABELED_RATIOS="0.01 0.1" semi cifar-s1-csi cifar-s1-elsa+ cifar-s1-hscl \
    cifar-s1-simclr cifar-s1-elsa cifar-s1-deepsad
# Elsa+ keeping its last fine-tuning epoch (no early stopping) on those cells: at 5 epochs the
# default early stopping keeps epoch 1 on two of them (the README's Scenario 1 paragraph).
PAIRS="0:1 1:2 2:3" EVALUATE_EVERY=0 LABELED_RATIOS="0.1 0.01" semi cifar-s1-elsa+last
# The same under pollution γp = 0.1, the must-show comparison with CSI (early stopping keeps
# epoch 1 on 0:1 there; the base CSI cell is trained again where its run folder is gone).
PAIRS="0:1 1:2 2:3" EVALUATE_EVERY=0 POLLUTIONS=0.1 semi cifar-s2-elsa+last
fmnist forward
fi
if [ ${#failed[@]} -gt 0 ]; then echo "=== done, but these stages failed: ${failed[*]} $(date -u +%FT%TZ)"; exit 1; fi
echo "=== all done $(date -u +%FT%TZ)"
