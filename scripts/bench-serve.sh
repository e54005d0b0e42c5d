#!/usr/bin/env bash
# Load test of `anomaly serve` on loopback (the README's serving figures):
#   1. trains the autoencoder on MNIST one-class (digit 0; 10 epochs) unless RUN names a run;
#   2. measures in-process scoring throughput: `anomaly score` on 10,000 test images minus
#      `anomaly score` on one (start-up and model loading cancel out);
#   3. starts `anomaly serve`, checks that a body over the limit gets 413, a malformed one 400
#      (one line), and that the server still answers afterwards;
#   4. wrk, 30 s, 32 connections, 2 threads, POST /score with one image (.npy) per request,
#      then again with 64 images per request; resident size before and after each;
#   5. prints a summary (Markdown rows) and leaves the raw outputs in runs/bench/serve/.
#   scripts/bench-serve.sh            (DURATION=30 CONNECTIONS=32 RUN=runs/<id> to change)
# Needs wrk (installed from Debian's packages when missing) and python3 with NumPy (to write
# the request bodies). The machine should be quiet: this measures speed.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${ANOMALYKIT_DATA:-../shared/data}
TOOL=.build/release/anomaly
DURATION=${DURATION:-30}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18080}
OUT=runs/bench/serve
[ -x "$TOOL" ] || swift build -c release
if ! command -v wrk >/dev/null; then
    sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq wrk >/dev/null
fi
mkdir -p "$OUT"

if [ -z "${RUN:-}" ]; then
    "$TOOL" train --method autoencoder --dataset mnist --normal-class 0 --option training.epochs=10 \
        --data-dir "$DATA" --output "$OUT/runs" >"$OUT/train.txt" 2>&1
    RUN=$(sed -n 's/^run written to //p' "$OUT/train.txt" | tail -1)
fi
echo "model: $RUN"

# Request bodies: MNIST test images as float32 .npy, scaled to [0, 1] as the IDX reader does.
python3 - "$DATA/mnist/t10k-images-idx3-ubyte.gz" "$OUT" <<'EOF'
import gzip, sys
import numpy as np
raw = gzip.open(sys.argv[1]).read()
n, h, w = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
images = (np.frombuffer(raw, np.uint8, offset=16).reshape(n, 1, h, w) / 255.0).astype(np.float32)
np.save(f"{sys.argv[2]}/one.npy", images[:1])
np.save(f"{sys.argv[2]}/batch64.npy", images[:64])
np.save(f"{sys.argv[2]}/all.npy", images[:10000])
EOF

seconds() { python3 -c 'import time; print(time.monotonic())'; }
t0=$(seconds); "$TOOL" score --run "$RUN" --input "$OUT/one.npy" --scores-output "$OUT/one.csv" >/dev/null 2>&1
t1=$(seconds); "$TOOL" score --run "$RUN" --input "$OUT/all.npy" --scores-output "$OUT/all.csv" >/dev/null 2>&1
t2=$(seconds)
inprocess=$(python3 -c "print(f'{9999 / (($t2 - $t1) - ($t1 - $t0)):.0f}')")
echo "in-process scoring: $inprocess images/s (10,000 images in one call, start-up subtracted)"

"$TOOL" serve --run "$RUN" --port "$PORT" >"$OUT/serve.out" 2>"$OUT/serve.err" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
rss() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$server/status"; }
curl -sf --data-binary @"$OUT/one.npy" "http://127.0.0.1:$PORT/score" >/dev/null

# Limits: 413 for 17 MiB, 400 for a malformed CSV, then still serving.
head -c $((17 << 20)) /dev/zero >"$OUT/large.bin"
large=$(curl -s -o "$OUT/large.json" -w '%{http_code}' --data-binary @"$OUT/large.bin" "http://127.0.0.1:$PORT/score")
bad=$(printf 'a,b\n1,x\n' | curl -s -o "$OUT/bad.json" -w '%{http_code}' --data-binary @- -H 'Content-Type: text/csv' "http://127.0.0.1:$PORT/score")
after=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$OUT/one.npy" "http://127.0.0.1:$PORT/score")
echo "limits: over-limit body $large $(cat "$OUT/large.json"); malformed $bad $(cat "$OUT/bad.json"); next request $after"

cat >"$OUT/post.lua" <<'EOF'
local file = os.getenv("BODY")
local handle = io.open(file, "rb")
wrk.method = "POST"
wrk.body = handle:read("*a")
handle:close()
wrk.headers["Content-Type"] = "application/x-npy"
EOF
rows=()
for body in one batch64; do
    images=$([ "$body" = one ] && echo 1 || echo 64)
    before=$(rss)
    BODY="$OUT/$body.npy" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$OUT/post.lua" \
        "http://127.0.0.1:$PORT/score" >"$OUT/wrk-$body.txt"
    after_rss=$(rss)
    requests=$(awk '/requests in/ {print $1}' "$OUT/wrk-$body.txt")
    rate=$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk-$body.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$OUT/wrk-$body.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$OUT/wrk-$body.txt")
    failed=$(awk '/Non-2xx/ {print $NF}' "$OUT/wrk-$body.txt"); failed=${failed:-0}
    errors=$(awk '/Socket errors/ {print $0}' "$OUT/wrk-$body.txt")
    perimage=$(python3 -c "print(f'{$rate * $images:.0f}')")
    echo "wrk $images image(s)/request: $requests requests, $rate requests/s ($perimage images/s), p50 $p50, p99 $p99, non-2xx $failed ${errors:+($errors)}; RSS $before → $after_rss MiB"
    rows+=("| $images | $CONNECTIONS | $requests | $failed | $rate | $perimage | $p50 | $p99 | $before → $after_rss |")
done
curl -s "http://127.0.0.1:$PORT/metrics" >"$OUT/metrics.txt"
kill -TERM $server; wait $server || true
echo
echo "| images/request | connections | requests in ${DURATION} s | failed | requests/s | images/s | p50 | p99 | RSS MiB before → after |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo "in-process: $inprocess images/s"
