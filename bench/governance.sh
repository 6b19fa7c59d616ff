#!/usr/bin/env bash
# Governance benchmark: throughput with the master key next to a virtual key with RPM,
# TPM and a budget — enforced in process, then through Redis (one round trip per
# request). Needs wrk; Redis at 127.0.0.1:6379 for the second half.
# Usage: bench/governance.sh [duration_seconds] [connections] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
CONNS="${2:-64}"
ROUNDS="${3:-3}"
OUT="bench/out"
mkdir -p "$OUT"
DIR="$(cd "$OUT" && pwd)"
export BENCH_DIR="$DIR" UPSTREAM_PORT=18110 GATEWAY_PORT=18112
command -v wrk >/dev/null || { echo "missing wrk (apt-get install wrk)"; exit 1; }
cargo build --release --locked --bin switchyard
BIN="${CARGO_TARGET_DIR:-target}/release/switchyard"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
"$BIN" mock-provider --listen "127.0.0.1:$UPSTREAM_PORT" 2>"$DIR/mock-gov.log" &
pids+=($!)

wait_up() { for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$1/health/live" && return; sleep 0.1; done; }
wait_up "$UPSTREAM_PORT"

run_mode() { # mode config
    rm -f "$DIR/bench-governance.db"*
    RUST_LOG=warn "$BIN" serve --config "$2" 2>"$DIR/gateway-gov-$1.log" &
    local gw=$!
    wait_up "$GATEWAY_PORT"
    # A key with limits far above the load: every request is checked, none refused.
    local key
    key=$(curl -s -H 'Authorization: Bearer sk-bench-master' -H 'Content-Type: application/json' \
        -d '{"name":"bench","rpm":100000000,"tpm":100000000000,"budget_usd":1000000000,"budget_period":"month"}' \
        "http://127.0.0.1:$GATEWAY_PORT/admin/keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
    sed -e "s/sk-bench-master/$key/" bench/chat.lua > "$DIR/gov-key.lua"
    local url="http://127.0.0.1:$GATEWAY_PORT/v1/chat/completions"
    wrk -t2 -c"$CONNS" -d2s -s bench/chat.lua "$url" >/dev/null
    wrk -t2 -c"$CONNS" -d2s -s "$DIR/gov-key.lua" "$url" >/dev/null
    for round in $(seq 1 "$ROUNDS"); do
        for who in master key; do
            local lua=bench/chat.lua
            [ "$who" = key ] && lua="$DIR/gov-key.lua"
            wrk -t2 -c"$CONNS" -d"${DURATION}s" -s "$lua" "$url" > "$DIR/wrk-gov-$1-$who-$round.txt"
            local rps non2xx
            rps=$(awk '/Requests\/sec/ {print $2}' "$DIR/wrk-gov-$1-$who-$round.txt")
            non2xx=$(awk '/Non-2xx/ {print $4}' "$DIR/wrk-gov-$1-$who-$round.txt")
            printf '  %-9s round %s %-6s %10s req/s %s\n' "$1" "$round" "$who" "$rps" "${non2xx:+non-2xx: $non2xx}"
        done
    done
    kill "$gw"; wait "$gw" 2>/dev/null || true
}

echo "== wrk -t2 -c$CONNS -d${DURATION}s, $ROUNDS rounds: master key vs a virtual key with rpm, tpm and a budget"
run_mode in-process bench/governance.yaml
if redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    sed -e 's#^listen:#redis: redis://127.0.0.1:6379\nlisten:#' bench/governance.yaml > "$DIR/governance-redis.yaml"
    run_mode redis "$DIR/governance-redis.yaml"
else
    echo "  (Redis not reachable: the shared-limits half is skipped)"
fi
