# seamless task runner. `just demo` runs the demo, `just test` the whole test suite.

set shell := ["bash", "-euo", "pipefail", "-c"]


# Show the recipes.
default:
    @just --list

# Install what a fresh machine lacks for building (the wasm32-wasip2 target).
setup:
    @rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

# Build the guest components (adapters, test guests) into target/wasm32-wasip2/guest/.
guests: setup
    cargo build --profile guest --target wasm32-wasip2 --workspace --exclude seamless --exclude exchange-sim --exclude seamless-python

# The demo: simulator + backfill of 7 days of BTC/USDT and ETH/USDT 1m into SQLite.
# Builds only what it runs: the Binance adapter and the two strategies it uses, and the host
# and simulator in the quick-to-compile `demo` profile (Cargo.toml) into target/demo/.
demo: setup
    cargo build --profile guest --target wasm32-wasip2 -p binance-adapter -p sma-cross-strategy -p spread-strategy
    cargo build --profile demo -p seamless -p exchange-sim
    scripts/demo.sh

# The Python package (python/, distribution `seamless-market`) as a release wheel in
# target/wheels, with the built-in adapters inside: `pip install target/wheels/seamless_market-*.whl`.
python-wheel: guests
    python3 -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2"
    python3 -m maturin build --release --manifest-path python/Cargo.toml -o target/wheels

# The whole test suite: unit tests of every crate and the integration tests (tests/all),
# with real QuestDB and Redis started on 127.0.0.1 for the run.
test: guests
    scripts/test.sh

# Covers every adapter's parse and live-parse through the real component and the config loader
# (tests/all/fuzz.rs), the time, node-id and timeframe parsers (host/src/domain), and the
# adapter kit's JSON scanner and number parser (seamless-adapter-kit).
# Property tests ("fuzzing"), `cases` per property instead of the suite's bounded run.
fuzz cases="20000": guests
    PROPTEST_CASES={{cases}} cargo test -p seamless --lib domain::
    PROPTEST_CASES={{cases}} cargo test -p seamless-adapter-kit
    PROPTEST_CASES={{cases}} cargo test -p seamless --test all fuzz:: -- --nocapture

# Workers and live followers under 429/418/503, bad bodies, WebSocket drops, Redis and QuestDB
# restarts and a kill -9 (tests/all/soak.rs; it starts its own Redis and QuestDB); prints the
# faults survived (docs/reliability.md keeps a copy).
# Chaos soak with a fault phase of `secs` seconds; every stored series must equal the truth.
soak secs="240": guests
    @ls "${QUESTDB_CACHE:-$HOME/.cache/seamless/questdb}"/questdb-*.jar >/dev/null 2>&1 || { scripts/services.sh up questdb && scripts/services.sh down questdb; }
    SEAMLESS_SOAK_SECS={{secs}} cargo test -p seamless --test all soak:: -- --nocapture

# Real services as local processes (QuestDB jar from Maven Central, Debian's redis-server).
services-up:
    scripts/services.sh up all

services-down:
    scripts/services.sh down all

questdb-up:
    scripts/services.sh up questdb

questdb-down:
    scripts/services.sh down questdb

redis-up:
    scripts/services.sh up redis

redis-down:
    scripts/services.sh down redis

# Benchmarks (figures go to docs/benchmarks.md); starts QuestDB for its section.
bench: guests
    scripts/services.sh up questdb
    bash -c 'set -a; eval "$(scripts/services.sh env)"; set +a; cargo bench -p seamless --bench host; s=$?; scripts/services.sh down questdb; exit $s'

# seamless vs ccxt (Python) on the same window from the same simulator.
bench-ccxt: guests
    cargo build --release -p seamless -p exchange-sim
    python3 -m pip install --quiet --disable-pip-version-check ccxt==4.5.90
    python3 bench/ccxt_compare.py --days 30 --json target/ccxt-compare.json
    python3 bench/ccxt_compare.py --days 30 --ccxt-rate-limit --json target/ccxt-compare-ratelimited.json

# Format and lint.
fmt:
    cargo fmt --all

lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
