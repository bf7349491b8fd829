#!/usr/bin/env bash
# The demo: start the exchange simulator on 127.0.0.1, backfill 7 days of BTC/USDT and
# ETH/USDT 1m candles through the Binance adapter component into a fresh SQLite store,
# print a summary, fetch again (served from the store, no request), run the sandboxed
# strategy components over that history (SMA cross; BTC/ETH spread), follow BTC/USDT 1s
# live for a few candles (WebSocket, seam backfilled), stop the simulator.
#
# The binaries come from `target/demo` (cargo profile `demo`, which `just demo` builds) unless
# SEAMLESS_DEMO_BIN names another folder (e.g. target/release). Each step's wall time is
# printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${SEAMLESS_DEMO_BIN:-target/demo}
demo_dir=target/demo-data
for b in seamless exchange-sim; do
    [ -x "$bin/$b" ] || { echo "$bin/$b is missing: run \`just demo\` (or build it with cargo build --profile demo -p seamless -p exchange-sim)"; exit 2; }
done
timings=()
step_name=""
step_start=0
now() { date +%s.%N; }
# Start timing step "$1" (ends the previous one) and print its title "$2".
step() {
    local t
    t=$(now)
    [ -n "$step_name" ] && timings+=("$step_name $(awk -v a="$step_start" -v b="$t" 'BEGIN{printf "%.1fs", b-a}')")
    step_name=$1
    step_start=$t
    [ -n "${2:-}" ] && echo "== $2"
    return 0
}
mkdir -p "$demo_dir"
rm -f "$demo_dir"/demo.db*
export SEAMLESS_STORE="sqlite:$demo_dir/demo.db"
export SEAMLESS_ADAPTER_DIR="$PWD/target/wasm32-wasip2/guest"

log="$demo_dir/sim.log"
"$bin/exchange-sim" --port 0 >"$log" 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true; wait $sim 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    grep -q "listening on" "$log" && break
    sleep 0.05
done
url=$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -1)
[ -n "$url" ] || { echo "simulator did not start:"; cat "$log"; exit 1; }
echo "simulator: $url"

end=$(date -u +%Y-%m-%d)
start=$(date -u -d "$end - 7 days" +%Y-%m-%d)
step backfill "backfill 7 days of 1m candles through the Binance adapter component"
"$bin/seamless" backfill --exchange binance --symbols BTC/USDT,ETH/USDT --timeframes 1m \
    --start "$start" --end "$end" --exchange-url "binance=$url"
step coverage "coverage ledger"
"$bin/seamless" coverage --node ohlcv:binance:BTC/USDT:1m --start "$start" --end "$end"
step fetch "fetch from the store (no request to the exchange), with metadata"
for symbol in BTC/USDT ETH/USDT; do
    "$bin/seamless" fetch --exchange binance --symbol "$symbol" --timeframe 1m --start "$start" --end "$end" \
        --exchange-url "binance=$url" --strategy fail-fast --format csv \
        --output "$demo_dir/${symbol/\//-}.csv" --metadata "$demo_dir/${symbol/\//-}.meta.json"
done
echo "fingerprints: $(grep -ho '"fingerprint": "[^"]*"' "$demo_dir"/*.meta.json | cut -c17-40 | tr '\n' ' ')"
echo "simulator klines requests in total: $(curl -s "$url/__sim/stats" | tr -d ' \n' | grep -o '"/api/v3/klines":[0-9]*' | cut -d: -f2)"
step strategies "strategies (WASM components) over the stored week: SMA cross, then the BTC/ETH spread"
"$bin/seamless" run sma-cross --start "$start" --end "$end" --config fast=20 --config slow=60 \
    --exchange-url "binance=$url" --output "$demo_dir/sma-cross.jsonl"
"$bin/seamless" run spread --start "$start" --end "$end" --config window=120 \
    --exchange-url "binance=$url" --output "$demo_dir/spread.csv"
echo "first signals: $(head -2 "$demo_dir/sma-cross.jsonl" | tr '\n' ' ')"
step live "live: BTC/USDT 1s candles as they close (WebSocket; the seam is backfilled over REST)"
"$bin/seamless" live --node ohlcv:binance:BTC/USDT:1s --count 3 --duration 20s \
    --exchange-url "binance=$url" | grep -v forming
step end
echo "store: $demo_dir/demo.db; CSV, signals and metadata in $demo_dir/"
echo "step times: ${timings[*]}"
