#!/usr/bin/env bash
# Routing benchmark: throughput of a single-deployment model next to a 4-deployment
# `latency` pool (with per-deployment rpm limits counted), same gateway, same upstream.
#
# Needs: wrk (apt-get install wrk).  Usage: bench/routing.sh [duration_seconds] [connections] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
CONNS="${2:-64}"
ROUNDS="${3:-3}"
OUT="bench/out"
mkdir -p "$OUT"
DIR="$(cd "$OUT" && pwd)"
export BENCH_DIR="$DIR" UPSTREAM_PORT=18100 GATEWAY_PORT=18102
command -v wrk >/dev/null || { echo "missing wrk (apt-get install wrk)"; exit 1; }
cargo build --release --locked --bin switchyard
BIN="${CARGO_TARGET_DIR:-target}/release/switchyard"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
"$BIN" mock-provider --listen "127.0.0.1:$UPSTREAM_PORT" 2>"$DIR/mock-routing.log" &
pids+=($!)
rm -f "$DIR/bench-routing.db"*
RUST_LOG=warn "$BIN" serve --config bench/routing.yaml 2>"$DIR/gateway-routing.log" &
pids+=($!)
for port in $UPSTREAM_PORT $GATEWAY_PORT; do
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$port/health/live" && break
        sleep 0.1
    done
done
URL="http://127.0.0.1:$GATEWAY_PORT/v1/chat/completions"
echo "== wrk -t2 -c$CONNS -d${DURATION}s, $ROUNDS rounds, alternating"
for model in single pool4; do
    sed -e "s/\"model\":\"bench\"/\"model\":\"$model\"/" bench/chat.lua > "$DIR/routing-$model.lua"
    wrk -t2 -c"$CONNS" -d2s -s "$DIR/routing-$model.lua" "$URL" >/dev/null
done
for round in $(seq 1 "$ROUNDS"); do
    for model in single pool4; do
        wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$DIR/routing-$model.lua" "$URL" > "$DIR/wrk-routing-$model-$round.txt"
        rps=$(awk '/Requests\/sec/ {print $2}' "$DIR/wrk-routing-$model-$round.txt")
        p99=$(awk '$1=="99%" {print $2}' "$DIR/wrk-routing-$model-$round.txt")
        non2xx=$(awk '/Non-2xx/ {print $4}' "$DIR/wrk-routing-$model-$round.txt")
        printf '  round %s %-7s %10s req/s  p99 %s %s\n' "$round" "$model" "$rps" "$p99" "${non2xx:+non-2xx: $non2xx}"
    done
done
curl -s -H 'Authorization: Bearer sk-bench-master' "http://127.0.0.1:$GATEWAY_PORT/admin/deployments" \
    | python3 -c 'import json,sys; [print("  ", d["deployment"], d["model"], d["state"], "ewma_total_ms", d["latency_ewma_ms"]["total"]) for d in json.load(sys.stdin)["data"]]'
