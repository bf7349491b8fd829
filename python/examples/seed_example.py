"""The seed's CCXT × Seamless example, rewritten for seamless (docs/python.md walks through
it line by line): one node, a day of 1m candles backfilled into the store, its coverage,
the live feed on top of the newest candles, and the history a strategy input warms up on.

    python python/examples/seed_example.py                      # the real exchange
    python python/examples/seed_example.py --exchange-url http://127.0.0.1:PORT   # the simulator

pytest runs it against the exchange simulator (python/tests/test_examples.py).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from dataclasses import dataclass, field

import seamless_market as sm

UTC = dt.timezone.utc


@dataclass(slots=True)
class ExampleSettings:
    """High-level knobs for the demo."""

    exchange: str = "binance"
    symbols: list[str] = field(default_factory=lambda: ["BTC/USDT"])
    timeframe: str = "1m"
    store: str | None = None  # None: the user's seamless.db; or "questdb://127.0.0.1:9000"
    start: dt.datetime = dt.datetime(2024, 1, 1, tzinfo=UTC)
    end: dt.datetime = dt.datetime(2024, 1, 2, tzinfo=UTC)
    enable_live_feed: bool = True
    warmup_bars: int = 60  # history a strategy input starts with
    exchange_url: str | None = None  # e.g. the exchange simulator


def node_id(s: ExampleSettings) -> str:
    return f"ohlcv:{s.exchange}:{s.symbols[0]}:{s.timeframe}"


def build_provider(s: ExampleSettings) -> sm.Provider:
    """A provider on the store; the exchange's adapter is built into the package."""
    urls = {s.exchange: s.exchange_url} if s.exchange_url else None
    return sm.Provider(store=s.store, exchange_urls=urls)


async def fetch_history(provider: sm.Provider, s: ExampleSettings):
    """Fetch the requested range and print a short summary."""
    node = node_id(s)
    print("▶ Fetching historical window")
    frame = await provider.fetch_async(node, s.start, s.end)
    df = frame.to_pandas()
    print(f"- rows: {len(df)} ({frame.metadata.fetched} fetched, {frame.metadata.from_store} from the store)")
    print(f"- fingerprint: {frame.metadata.fingerprint}")
    if not df.empty:
        print(df.head())

    print("▶ Coverage report")
    coverage = await provider.coverage_async(node)
    for covered_start, covered_end in coverage.present:
        print(f"  - {covered_start.isoformat()} → {covered_end.isoformat()}")
    return df


async def main(s: ExampleSettings) -> None:
    provider = build_provider(s)
    await fetch_history(provider, s)

    node = node_id(s)
    if s.enable_live_feed:
        print("▶ Latest bars (store, backfill, then the live feed)")
        latest = await provider.fetch_async(node, "-5m", "now")
        live = latest.metadata.live or {}
        print(f"- live feed: {live.get('source') or 'none'}, {live.get('closed', 0)} closed candle(s) added")
        print(latest.to_pandas().tail())

    print("▶ Strategy input: warm-up history")
    minutes = s.warmup_bars
    history = await provider.fetch_async(node, f"-{minutes}m", "now")
    closes = history.to_pandas()["close"]
    sma = closes.rolling(20).mean()
    print(f"- {len(closes)} bars of history, last close {closes.iloc[-1]:.2f}, SMA(20) {sma.iloc[-1]:.2f}")


def parse_args() -> ExampleSettings:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--exchange-url", help="send the exchange's requests here (e.g. the simulator)")
    p.add_argument("--store", help="store URL (default: the user's seamless.db)")
    p.add_argument("--no-live", action="store_true", help="skip the live part")
    a = p.parse_args()
    return ExampleSettings(exchange_url=a.exchange_url, store=a.store, enable_live_feed=not a.no_live)


if __name__ == "__main__":
    try:
        asyncio.run(main(parse_args()))
    except KeyboardInterrupt:
        pass
