#!/usr/bin/env bash
# Load benchmark: the same fixed-response upstream (switchyard mock-provider) called
# 1. directly, 2. through nginx proxy_pass, 3. through the Switchyard gateway,
# in one run, on this machine. Then latency at a fixed rate (half the gateway's peak)
# with oha, and the gateway's idle memory.
#
# Needs: wrk and nginx (apt-get install wrk nginx-light), oha (cargo install oha).
# Usage: bench/run.sh [duration_seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-15}"
CONNS="${2:-64}"
OUT="bench/out"
mkdir -p "$OUT/tmp"
DIR="$(cd "$OUT" && pwd)"
export BENCH_DIR="$DIR" UPSTREAM_PORT=18080 NGINX_PORT=18081 GATEWAY_PORT=18082

for tool in wrk nginx oha; do
    command -v "$tool" >/dev/null || { echo "missing $tool (see the header of $0)"; exit 1; }
done

cargo build --release --locked --bin switchyard
BIN="${CARGO_TARGET_DIR:-target}/release/switchyard"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -f "$DIR/nginx.pid" ] && kill "$(cat "$DIR/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT

"$BIN" mock-provider --listen "127.0.0.1:$UPSTREAM_PORT" 2>"$DIR/mock.log" &
pids+=($!)
sed -e "s#__DIR__#$DIR#g" -e "s#__UPSTREAM_PORT__#$UPSTREAM_PORT#g" -e "s#__NGINX_PORT__#$NGINX_PORT#g" \
    bench/nginx.conf.tmpl > "$DIR/nginx.conf"
nginx -c "$DIR/nginx.conf" -p "$DIR"
rm -f "$DIR/bench.db"*
RUST_LOG="${RUST_LOG:-info}" "$BIN" serve --config bench/gateway.yaml 2>"$DIR/gateway.log" &
GW_PID=$!
pids+=($GW_PID)
for port in $UPSTREAM_PORT $NGINX_PORT $GATEWAY_PORT; do
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$port/health/live" && break
        sleep 0.1
    done
done
sleep 1
IDLE_RSS_KB=$(ps -o rss= -p "$GW_PID" | tr -d ' ')

run_wrk() { # name url
    wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s bench/chat.lua "$2" > "$DIR/wrk-$1.txt"
    local rps
    rps=$(awk '/Requests\/sec/ {print $2}' "$DIR/wrk-$1.txt")
    echo "$1 $rps"
}
echo "== throughput: wrk -t2 -c$CONNS -d${DURATION}s (non-streamed chat completion)"
URL_DIRECT="http://127.0.0.1:$UPSTREAM_PORT/v1/chat/completions"
URL_NGINX="http://127.0.0.1:$NGINX_PORT/v1/chat/completions"
URL_GW="http://127.0.0.1:$GATEWAY_PORT/v1/chat/completions"
# Warm-up, then measured runs.
wrk -t2 -c"$CONNS" -d3s -s bench/chat.lua "$URL_GW" >/dev/null
wrk -t2 -c"$CONNS" -d3s -s bench/chat.lua "$URL_NGINX" >/dev/null
read -r _ DIRECT_RPS < <(run_wrk direct "$URL_DIRECT")
read -r _ NGINX_RPS < <(run_wrk nginx "$URL_NGINX")
read -r _ GW_RPS < <(run_wrk gateway "$URL_GW")
RATIO=$(awk -v g="$GW_RPS" -v n="$NGINX_RPS" 'BEGIN {printf "%.2f", g / n}')
printf '%-10s %12s req/s\n' direct "$DIRECT_RPS" nginx "$NGINX_RPS" switchyard "$GW_RPS"
echo "switchyard / nginx = $RATIO"

HALF=$(awk -v g="$GW_RPS" 'BEGIN {printf "%d", g / 2}')
BODY=$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" bench/chat.lua)
run_oha() { # name url
    oha --no-tui -z "${DURATION}s" -q "$HALF" -c "$CONNS" -m POST \
        -H "Authorization: Bearer sk-bench-master" -H "Content-Type: application/json" \
        -d "$BODY" --output-format json "$2" > "$DIR/oha-$1.json"
    python3 - "$DIR/oha-$1.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["latencyPercentiles"]
ok = d["statusCodeDistribution"]
print(f'{d["summary"]["requestsPerSec"]:.0f} {p["p50"]*1000:.3f} {p["p99"]*1000:.3f} {ok}')
PY
}
echo "== latency at a fixed $HALF req/s (half the gateway's peak): oha -q $HALF -c $CONNS"
read -r D_RPS D_P50 D_P99 D_CODES < <(run_oha direct "$URL_DIRECT")
read -r G_RPS G_P50 G_P99 G_CODES < <(run_oha gateway "$URL_GW")
ADDED_P50=$(awk -v a="$G_P50" -v b="$D_P50" 'BEGIN {printf "%.3f", a - b}')
ADDED_P99=$(awk -v a="$G_P99" -v b="$D_P99" 'BEGIN {printf "%.3f", a - b}')
echo "direct   : $D_RPS req/s  p50 ${D_P50}ms  p99 ${D_P99}ms  $D_CODES"
echo "gateway  : $G_RPS req/s  p50 ${G_P50}ms  p99 ${G_P99}ms  $G_CODES"
echo "added by the gateway: p50 ${ADDED_P50}ms  p99 ${ADDED_P99}ms"
BUSY_RSS_KB=$(ps -o rss= -p "$GW_PID" | tr -d ' ')
echo "== memory: idle RSS $((IDLE_RSS_KB / 1024)) MiB ($IDLE_RSS_KB KiB), after load $((BUSY_RSS_KB / 1024)) MiB"
echo "gateway log lines: $(grep -c 'switchyard::request' "$DIR/gateway.log" || true)"
