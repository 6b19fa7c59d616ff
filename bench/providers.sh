#!/usr/bin/env bash
# Translation benchmark: throughput of one gateway serving the same fixed-response upstream
# through the OpenAI fast path and through the Anthropic, Gemini and Bedrock adapters
# (non-streamed and streamed), so that translation cost shows next to the fast path.
#
# Needs: wrk (apt-get install wrk).
# Usage: bench/providers.sh [duration_seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
CONNS="${2:-64}"
OUT="bench/out"
mkdir -p "$OUT"
DIR="$(cd "$OUT" && pwd)"
export BENCH_DIR="$DIR" UPSTREAM_PORT=18090 GATEWAY_PORT=18092
command -v wrk >/dev/null || { echo "missing wrk (apt-get install wrk)"; exit 1; }

cargo build --release --locked --bin switchyard
BIN="${CARGO_TARGET_DIR:-target}/release/switchyard"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
"$BIN" mock-provider --listen "127.0.0.1:$UPSTREAM_PORT" 2>"$DIR/mock-providers.log" &
pids+=($!)
rm -f "$DIR/bench-providers.db"*
RUST_LOG=warn "$BIN" serve --config bench/providers.yaml 2>"$DIR/gateway-providers.log" &
pids+=($!)
for port in $UPSTREAM_PORT $GATEWAY_PORT; do
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$port/health/live" && break
        sleep 0.1
    done
done

URL="http://127.0.0.1:$GATEWAY_PORT/v1/chat/completions"
echo "== wrk -t2 -c$CONNS -d${DURATION}s through one gateway; upstream: the mock in each wire format"
printf '%-16s %-8s %12s %10s %10s\n' model stream "req/s" "p50" "p99"
for stream in false true; do
    for model in via-openai via-anthropic via-gemini via-bedrock; do
        lua="$DIR/providers-$model-$stream.lua"
        sed -e "s/\"model\":\"bench\"/\"model\":\"$model\"/" \
            -e "s/\"max_tokens\":32}/\"max_tokens\":32,\"stream\":$stream}/" bench/chat.lua > "$lua"
        # A short warm-up, and a check that the route answers 200 at all.
        code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer sk-bench-master' \
            -H 'Content-Type: application/json' -d "$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$lua")" "$URL")
        [ "$code" = 200 ] || { echo "$model answered $code"; exit 1; }
        wrk -t2 -c"$CONNS" -d2s -s "$lua" "$URL" >/dev/null
        wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$lua" "$URL" > "$DIR/wrk-$model-$stream.txt"
        rps=$(awk '/Requests\/sec/ {print $2}' "$DIR/wrk-$model-$stream.txt")
        p50=$(awk '$1=="50%" {print $2}' "$DIR/wrk-$model-$stream.txt")
        p99=$(awk '$1=="99%" {print $2}' "$DIR/wrk-$model-$stream.txt")
        non2xx=$(awk '/Non-2xx/ {print $4}' "$DIR/wrk-$model-$stream.txt")
        printf '%-16s %-8s %12s %10s %10s %s\n' "$model" "$stream" "$rps" "$p50" "$p99" "${non2xx:+non-2xx: $non2xx}"
    done
done
