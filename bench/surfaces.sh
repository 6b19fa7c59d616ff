#!/usr/bin/env bash
# Client-API benchmark: one gateway, the same fixed-response upstream, reached through each
# client API (Chat Completions, Anthropic Messages, the Responses API, embeddings), so the
# cost of each ingress shows next to the OpenAI fast path.
#
# Needs: wrk (apt-get install wrk).
# Usage: bench/surfaces.sh [duration_seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
CONNS="${2:-64}"
OUT="bench/out"
mkdir -p "$OUT"
DIR="$(cd "$OUT" && pwd)"
export BENCH_DIR="$DIR" UPSTREAM_PORT=18095 GATEWAY_PORT=18096
command -v wrk >/dev/null || { echo "missing wrk (apt-get install wrk)"; exit 1; }

cargo build --release --locked --bin switchyard
BIN="${CARGO_TARGET_DIR:-target}/release/switchyard"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
"$BIN" mock-provider --listen "127.0.0.1:$UPSTREAM_PORT" 2>"$DIR/mock-surfaces.log" &
pids+=($!)
rm -f "$DIR/bench-providers.db"*
RUST_LOG=warn "$BIN" serve --config bench/providers.yaml 2>"$DIR/gateway-surfaces.log" &
pids+=($!)
for port in $UPSTREAM_PORT $GATEWAY_PORT; do
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$port/health/live" && break
        sleep 0.1
    done
done

CHAT='"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in five words."}],"max_tokens":32'
MSGS='"system":"You are terse.","messages":[{"role":"user","content":"Say hello in five words."}],"max_tokens":32'
RESP='"instructions":"You are terse.","input":"Say hello in five words.","max_output_tokens":32'

echo "== wrk -t2 -c$CONNS -d${DURATION}s through one gateway; upstream: the mock"
printf '%-34s %12s %10s %10s\n' "route (model)" "req/s" "p50" "p99"
run() {
    local name="$1" path="$2" body="$3"
    local slug
    slug=$(printf '%s' "$name" | tr -c 'a-zA-Z0-9' '-')
    local lua="$DIR/surfaces-$slug.lua"
    cat > "$lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-master"
wrk.body = '$body'
LUA
    local url="http://127.0.0.1:$GATEWAY_PORT$path"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer sk-bench-master' \
        -H 'Content-Type: application/json' -d "$body" "$url")
    [ "$code" = 200 ] || { echo "$name answered $code"; exit 1; }
    wrk -t2 -c"$CONNS" -d2s -s "$lua" "$url" >/dev/null
    wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$lua" "$url" > "$DIR/wrk-surfaces-$slug.txt"
    rps=$(awk '/Requests\/sec/ {print $2}' "$DIR/wrk-surfaces-$slug.txt")
    p50=$(awk '$1=="50%" {print $2}' "$DIR/wrk-surfaces-$slug.txt")
    p99=$(awk '$1=="99%" {print $2}' "$DIR/wrk-surfaces-$slug.txt")
    non2xx=$(awk '/Non-2xx/ {print $4}' "$DIR/wrk-surfaces-$slug.txt")
    printf '%-34s %12s %10s %10s %s\n' "$name" "$rps" "$p50" "$p99" "${non2xx:+non-2xx: $non2xx}"
}
run "chat (via-openai, fast path)" /v1/chat/completions "{\"model\":\"via-openai\",$CHAT}"
run "messages (via-anthropic, native)" /v1/messages "{\"model\":\"via-anthropic\",$MSGS}"
run "messages (via-openai, translated)" /v1/messages "{\"model\":\"via-openai\",$MSGS}"
run "responses (via-openai, store:false)" /v1/responses "{\"model\":\"via-openai\",$RESP,\"store\":false}"
run "responses (via-anthropic, store)" /v1/responses "{\"model\":\"via-anthropic\",$RESP}"
run "embeddings (openai/3-small)" /v1/embeddings '{"model":"openai/text-embedding-3-small","input":["first text","second text"]}'
