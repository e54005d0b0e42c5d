#!/usr/bin/env bash
# Fuzzes the file readers and the checkpoint loader with libFuzzer (harnesses:
# Sources/FuzzHarnesses; binary: Sources/anomaly-fuzz).
#
#   scripts/fuzz.sh [--seconds N] [target ...]   fuzz each target for N seconds (default 60;
#                                                 all targets when none is named)
#   scripts/fuzz.sh --runs N [target ...]        N inputs per target from libFuzzer seed 1 on
#                                                 a fresh copy of the seeds: the same inputs on
#                                                 every machine, so CI cannot fail by chance
#   scripts/fuzz.sh --replay [target ...]        replay Fuzz/regressions/<target>/* with the
#                                                 normal build's replay tool
#
# Fuzzing builds anomaly-fuzz once with -DANOMALY_FUZZING and -sanitize=fuzzer,address into
# .build-fuzz (release: overflow and bounds checks stay on, and it runs several times faster
# than a debug build). Each target runs on a working copy of its seeds in
# .build-fuzz/corpus/<target> (the committed Fuzz/corpus is never written to; the working
# corpus grows across runs), with Fuzz/dict/<target>.dict when there is one. A crash, timeout
# or out-of-memory input is saved in Fuzz/findings/<target>/ (ignored by git: copy the ones to
# keep into Fuzz/regressions/<target>/, which the replay and the test run DatasetsTests'
# FuzzRegressionTests check). One summary line per target; the exit status is 1 when any
# target found something.
#
# Replay runs each regression input in its own process (so one trap does not hide the rest)
# and fails when one dies (a trap) instead of returning or throwing.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
runs=""
replay=0
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --seconds=*) seconds="${1#--seconds=}"; shift ;;
        --runs) runs="$2"; shift 2 ;;
        --runs=*) runs="${1#--runs=}"; shift ;;
        --replay) replay=1; shift ;;
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
if [ ${#targets[@]} -eq 0 ]; then
    # Every harness has a seed folder (scripts/fuzz-corpus.py writes one per target).
    for folder in Fuzz/corpus/*/; do targets+=("$(basename "$folder")"); done
fi

if [ "$replay" -eq 1 ]; then
    # The release configuration, as CI has already built it (scripts/setup.sh).
    if ! output=$(swift build -c release --product anomaly-fuzz 2>&1); then
        echo "$output" >&2
        echo "fuzz.sh: the replay tool did not build" >&2
        exit 2
    fi
    tool=.build/release/anomaly-fuzz
    failed=0
    total=0
    for target in "${targets[@]}"; do
        [ -d "Fuzz/regressions/$target" ] || continue
        for input in "Fuzz/regressions/$target"/*; do
            [ -f "$input" ] || continue
            total=$((total + 1))
            status=0
            line=$("$tool" "$target" "$input" 2>/dev/null) || status=$?
            if [ "$status" -eq 0 ]; then
                echo "replay $target: $line"
            else
                # 128+n: killed by signal n (a Swift trap is SIGILL or SIGTRAP).
                echo "replay $target: $input: FAILED (exit status $status)"
                failed=$((failed + 1))
            fi
        done
    done
    echo "replay: $total inputs, $failed failed"
    [ "$failed" -eq 0 ]
    exit
fi

start=$(date +%s)
if ! output=$(swift build -c release --product anomaly-fuzz --scratch-path .build-fuzz \
    -Xswiftc -DANOMALY_FUZZING -Xswiftc -sanitize=fuzzer,address 2>&1); then
    echo "$output" >&2
    echo "fuzz.sh: the fuzz build failed" >&2
    exit 2
fi
fuzzer=.build-fuzz/release/anomaly-fuzz
echo "fuzz.sh: fuzz build took $(($(date +%s) - start)) s"

# libFuzzer settings:
#  -max_len=65536       every format's structure is in its headers and first records; 64 KiB
#                       still holds a CIFAR record, an SVHN image or a 32x32 PNG, and shorter
#                       inputs mean more executions per second.
#  -timeout=10          a 64 KiB input parses in milliseconds; 10 s is a hang even under ASan
#                       on a loaded 2-core CI runner.
#  -malloc_limit_mb=1024  no input of 64 KiB justifies a 1 GiB allocation (inflating 64 KiB
#                       gives at most ~66 MB), so a larger one is a size taken on trust from
#                       a header: reported as out-of-memory with the input that asked.
#  -rss_limit_mb=2048   the process as a whole (ASan's shadow and quarantine included) stays
#                       well inside a CI runner's memory.
#  -detect_leaks=0      (and ASan's detect_leaks=0 for the check at exit) a leak is not a
#                       crash, and the Swift runtime's one-time caches would
#                       be reported as leaks.
options=(-max_len=65536 -timeout=10 -malloc_limit_mb=1024 -rss_limit_mb=2048 -detect_leaks=0
    -print_final_stats=1)
if [ -n "$runs" ]; then options+=(-runs="$runs" -seed=1); else options+=(-max_total_time="$seconds"); fi
mkdir -p .build-fuzz/logs
found=0
for target in "${targets[@]}"; do
    if [ ! -d "Fuzz/corpus/$target" ]; then
        echo "fuzz.sh: no seeds for '$target' (Fuzz/corpus/$target)" >&2
        exit 2
    fi
    work=".build-fuzz/corpus/$target"
    # A counted run starts from the committed seeds alone, as it would on a fresh machine.
    [ -n "$runs" ] && work=".build-fuzz/fresh-corpus/$target" && rm -rf "$work"
    findings="Fuzz/findings/$target"
    log=".build-fuzz/logs/$target.log"
    mkdir -p "$work" "$findings"
    cp -n "Fuzz/corpus/$target"/* "$work"/ 2>/dev/null || true
    dictionary=()
    [ -f "Fuzz/dict/$target.dict" ] && dictionary=(-dict="Fuzz/dict/$target.dict")
    status=0
    # SWIFT_BACKTRACE=enable=no: the Swift runtime's own crash backtracer would run inside the
    # crashed process first and trip ASan (reading memory from a helper thread); without it,
    # libFuzzer prints the stack, whose first frame names the Swift runtime failure.
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
        ANOMALY_FUZZ_TARGET="$target" "$fuzzer" "${options[@]}" "${dictionary[@]}" \
        -artifact_prefix="$findings/" "$work" >"$log" 2>&1 &
    pid=$!
    wait "$pid" || status=$?
    # A crashing process leaves its scratch folder behind (anomaly-fuzz-<pid>-…).
    rm -rf /dev/shm/anomaly-fuzz-"$pid"-* "${TMPDIR:-/tmp}"/anomaly-fuzz-"$pid"-* 2>/dev/null || true

    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')
    features=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | sed 's/ft: //')
    artifact=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
    if [ "$status" -eq 0 ]; then
        result="ok"
    else
        found=1
        case "$(basename "${artifact:-none}")" in
            crash-*) kind="crash" ;;
            timeout-*) kind="timeout" ;;
            oom-*) kind="out-of-memory" ;;
            leak-*) kind="leak" ;;
            *) kind="failed (exit status $status)" ;;
        esac
        # One line: the Swift runtime failure (a trap's first stack frame) or the sanitizer's
        # or libFuzzer's verdict, and the first frame in the package's own sources.
        summary=$(grep -m1 -oE 'in Swift runtime failure: [^/]*' "$log" | sed 's/^in //; s/ *$//' || true)
        if [ -z "$summary" ]; then
            summary=$(grep -m1 -E '^SUMMARY: |ERROR: libFuzzer: ' "$log" |
                sed 's/^SUMMARY: //; s/^==[0-9]*== *ERROR: //' | cut -c1-100 || true)
        fi
        frame=$(grep -m1 -oE 'Sources/(Datasets|Layers|Tensors)/[^ ]*' "$log" || true)
        result="$kind: ${artifact:-no artifact} (${summary:-see $log}${frame:+ at $frame})"
    fi
    printf '%-12s %9s execs  cov %5s  ft %6s  %s\n' "$target" "${executions:-?}" "${coverage:-?}" \
        "${features:-?}" "$result"
done
echo "fuzz.sh: total $(($(date +%s) - start)) s; logs in .build-fuzz/logs"
exit "$found"
