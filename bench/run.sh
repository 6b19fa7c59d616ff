#!/usr/bin/env bash
# Load benchmark: the same fixed-response upstream (switchyard mock-provider) called
# 1. directly, 2. through nginx proxy_pass, 3. through the Switchyard gateway,
# in one run, on this machine. Then latency at a fixed rate (half the gateway's peak)
# with oha, and the gateway's idle memory.
#
# Needs: wrk and nginx (apt-get install wrk nginx-light), oha (cargo install oha).
# Usage: bench/run.sh [duration_seconds] [connections] [rounds] [latency_connections]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
CONNS="${2:-64}"
ROUNDS="${3:-3}"
LAT_CONNS="${4:-16}"
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

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

run_wrk() { # name url -> req/s
    wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s bench/chat.lua "$2" > "$DIR/wrk-$1-$round.txt"
    awk '/Requests\/sec/ {print $2}' "$DIR/wrk-$1-$round.txt"
}
URL_DIRECT="http://127.0.0.1:$UPSTREAM_PORT/v1/chat/completions"
URL_NGINX="http://127.0.0.1:$NGINX_PORT/v1/chat/completions"
URL_GW="http://127.0.0.1:$GATEWAY_PORT/v1/chat/completions"
echo "== throughput: wrk -t2 -c$CONNS -d${DURATION}s, non-streamed chat completion, $ROUNDS rounds (median)"
wrk -t2 -c"$CONNS" -d3s -s bench/chat.lua "$URL_GW" >/dev/null
wrk -t2 -c"$CONNS" -d3s -s bench/chat.lua "$URL_NGINX" >/dev/null
: > "$DIR/rps.txt"
for round in $(seq 1 "$ROUNDS"); do
    for target in direct nginx gateway; do
        case $target in direct) url=$URL_DIRECT;; nginx) url=$URL_NGINX;; gateway) url=$URL_GW;; esac
        rps=$(run_wrk "$target" "$url")
        echo "$target $rps" >> "$DIR/rps.txt"
        printf '  round %s %-8s %10s req/s\n' "$round" "$target" "$rps"
    done
done
DIRECT_RPS=$(awk '$1=="direct" {print $2}' "$DIR/rps.txt" | median)
NGINX_RPS=$(awk '$1=="nginx" {print $2}' "$DIR/rps.txt" | median)
GW_RPS=$(awk '$1=="gateway" {print $2}' "$DIR/rps.txt" | median)
RATIO=$(awk -v g="$GW_RPS" -v n="$NGINX_RPS" 'BEGIN {printf "%.2f", g / n}')
printf 'median: direct %s, nginx %s, switchyard %s req/s; switchyard / nginx = %s\n' \
    "$DIRECT_RPS" "$NGINX_RPS" "$GW_RPS" "$RATIO"

# Latency at a fixed rate, open loop. LAT_CONNS connections: by Little's law ~12 requests
# are in flight at 12k req/s and 1ms, so 16 connections carry the rate without the load
# generator itself queueing (64 inflated even the direct p99 several-fold here).
HALF=$(awk -v g="$GW_RPS" 'BEGIN {printf "%d", g / 2}')
BODY=$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" bench/chat.lua)
run_oha() { # name url -> "rps p50 p99"
    oha --no-tui -z "${DURATION}s" -q "$HALF" -c "$LAT_CONNS" -m POST \
        -H "Authorization: Bearer sk-bench-master" -H "Content-Type: application/json" \
        -d "$BODY" --output-format json "$2" > "$DIR/oha-$1-$round.json"
    python3 - "$DIR/oha-$1-$round.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["latencyPercentiles"]
codes = d["statusCodeDistribution"]
assert set(codes) == {"200"}, codes
print(f'{d["summary"]["requestsPerSec"]:.0f} {p["p50"]*1000:.3f} {p["p99"]*1000:.3f}')
PY
}
echo "== latency at a fixed $HALF req/s (half the gateway's median peak): oha -q $HALF -c $LAT_CONNS, $ROUNDS rounds"
: > "$DIR/lat.txt"
sleep 0.2
LAT_START=$(wc -l < "$DIR/gateway.log")
for round in $(seq 1 "$ROUNDS"); do
    for target in direct nginx gateway; do
        case $target in direct) url=$URL_DIRECT;; nginx) url=$URL_NGINX;; gateway) url=$URL_GW;; esac
        read -r rps p50 p99 < <(run_oha "$target" "$url")
        echo "$target $rps $p50 $p99" >> "$DIR/lat.txt"
        printf '  round %s %-8s %6s req/s  p50 %sms  p99 %sms\n' "$round" "$target" "$rps" "$p50" "$p99"
    done
done
D_P50=$(awk '$1=="direct" {print $3}' "$DIR/lat.txt" | median)
D_P99=$(awk '$1=="direct" {print $4}' "$DIR/lat.txt" | median)
N_P50=$(awk '$1=="nginx" {print $3}' "$DIR/lat.txt" | median)
N_P99=$(awk '$1=="nginx" {print $4}' "$DIR/lat.txt" | median)
G_P50=$(awk '$1=="gateway" {print $3}' "$DIR/lat.txt" | median)
G_P99=$(awk '$1=="gateway" {print $4}' "$DIR/lat.txt" | median)
printf 'median: direct p50 %sms p99 %sms; nginx p50 %sms p99 %sms; gateway p50 %sms p99 %sms\n' \
    "$D_P50" "$D_P99" "$N_P50" "$N_P99" "$G_P50" "$G_P99"
printf 'added over direct: nginx p50 %.3fms p99 %.3fms; switchyard p50 %.3fms p99 %.3fms\n' \
    "$(awk -v a="$N_P50" -v b="$D_P50" 'BEGIN {print a - b}')" \
    "$(awk -v a="$N_P99" -v b="$D_P99" 'BEGIN {print a - b}')" \
    "$(awk -v a="$G_P50" -v b="$D_P50" 'BEGIN {print a - b}')" \
    "$(awk -v a="$G_P99" -v b="$D_P99" 'BEGIN {print a - b}')"
sleep 0.2
tail -n +"$((LAT_START + 1))" "$DIR/gateway.log" | python3 -c '
import re, sys
total, over = [], []
for line in sys.stdin:
    m = re.search(r"latency_ms=([0-9.]+).*upstream_ms=([0-9.]+)", line)
    if m and "status=200" in line:
        t, u = float(m.group(1)), float(m.group(2))
        total.append(t); over.append(t - u)
total.sort(); over.sort(); n = len(over)
q = lambda a, f: a[min(n - 1, int(n * f))]
print(f"inside the gateway (from its request log, {n} requests): handler time p50 {q(total,.5):.3f}ms p99 {q(total,.99):.3f}ms;"
      f" gateway overhead excluding the upstream wait p50 {q(over,.5)*1000:.0f}us p99 {q(over,.99)*1000:.0f}us p99.9 {q(over,.999)*1000:.0f}us")
'
BUSY_RSS_KB=$(ps -o rss= -p "$GW_PID" | tr -d ' ')
echo "== memory: idle RSS $((IDLE_RSS_KB / 1024)) MiB ($IDLE_RSS_KB KiB), after load $((BUSY_RSS_KB / 1024)) MiB"
echo "gateway request log lines written: $(grep -c 'switchyard::request' "$DIR/gateway.log" || true)"
