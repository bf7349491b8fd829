#!/usr/bin/env python3
"""seamless_market into pandas: warm store vs Parquet, cold backfill vs ccxt.

One window (default 30 days of `ohlcv:binance:BTC/USDT:1m` from 2024-01-01: 43,200 candles)
from the release exchange simulator on 127.0.0.1:

- cold: `Provider.fetch(..., strategy="auto-backfill").to_pandas()` on an empty store,
  against ccxt 4.5.90's paginated `fetch_ohlcv` from the same simulator plus the DataFrame
  (UTC DatetimeIndex) built from its rows (bench/ccxt_compare.py configures ccxt);
- warm: `Provider.fetch(...).to_pandas()` from the now warm store, opened by a new Provider
  after the one that filled it was closed (the default `seamless`
  strategy: a past window is served from storage), against reading the same window from the
  Parquet file `seamless fetch --format parquet` wrote (`pyarrow.parquet.read_table(...)
  .to_pandas()` indexed by `open_time`, the same DataFrame); the median of `--repeat` runs.

Both warm frames are checked equal, and the cold frames candle for candle.

Usage (release builds: `cargo build --release -p seamless -p exchange-sim`, the wheel from
`maturin build --release` installed, and `pip install ccxt==4.5.90`):

    python3 python/bench/fetch_bench.py --days 30 --json target/python-bench.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
import ccxt_compare as cc  # noqa: E402  - the simulator and ccxt set-up of `just bench-ccxt`

import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

import seamless_market as sm  # noqa: E402

NODE = cc.NODE
DAY_MS = 86_400_000


def median_time(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), out


def ccxt_frame(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["open_time", "open", "high", "low", "close", "volume"])
    df.index = pd.DatetimeIndex(pd.to_datetime(df.pop("open_time"), unit="ms", utc=True), name="open_time").as_unit("ms")
    return df


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--start", default="2024-01-01")
    p.add_argument("--repeat", type=int, default=20, help="runs of each warm read (median)")
    p.add_argument("--sim-bin", default=str(REPO / "target/release/exchange-sim"))
    p.add_argument("--seamless", default=str(REPO / "target/release/seamless"))
    p.add_argument("--no-ccxt", action="store_true", help="skip the ccxt run")
    p.add_argument("--json", help="write the results here")
    a = p.parse_args()

    start_ms = int(pd.Timestamp(a.start, tz="UTC").value // 1_000_000)
    end_ms = start_ms + a.days * DAY_MS
    candles = a.days * 1440
    sim = cc.Simulator(None, a.sim_bin, 42)
    work = Path(tempfile.mkdtemp(prefix="seamless-py-bench-"))
    store = f"sqlite:{work / 'bench.db'}"
    out: dict = {"window": [start_ms, end_ms], "candles": candles, "node": NODE}
    try:
        # Untimed: fill the compiled-component cache (a throwaway store, the day before).
        sm.Provider(store=f"sqlite:{work / 'warmup.db'}", exchange_urls={"binance": sim.url}).fetch(
            NODE, start_ms - DAY_MS, start_ms - DAY_MS + 3_600_000, strategy="auto-backfill"
        )
        provider = sm.Provider(store=store, exchange_urls={"binance": sim.url})

        # --- cold -------------------------------------------------------------------------
        t0 = time.perf_counter()
        frame = provider.fetch(NODE, start_ms, end_ms, strategy="auto-backfill")
        cold_df = frame.to_pandas()
        cold_s = time.perf_counter() - t0
        assert len(cold_df) == candles and frame.metadata.fetched == candles, frame.metadata
        out["seamless_cold"] = {"seconds": cold_s, "candles_per_s": candles / cold_s,
                                "requests": frame.metadata.requests}

        if not a.no_ccxt:
            ccxt = cc.import_ccxt()
            t0 = time.perf_counter()
            r = cc.run_ccxt(ccxt, sim.url, start_ms, end_ms)
            ccxt_df = ccxt_frame(r["_rows"])
            ccxt_s = time.perf_counter() - t0
            assert len(ccxt_df) == candles
            pd.testing.assert_frame_equal(ccxt_df, cold_df, check_exact=True)
            out["ccxt_cold"] = {"seconds": ccxt_s, "candles_per_s": candles / ccxt_s,
                                "fetch_seconds": r["seconds"], "requests": r["requests"], "version": r["version"]}

        # --- warm -------------------------------------------------------------------------
        # A warm store as a later session finds it: the provider that filled it is closed
        # (its store checkpoints and closes), and a new one opens the file.
        del provider, frame
        provider = sm.Provider(store=store, exchange_urls={"binance": sim.url})
        fetch_pd = lambda: provider.fetch(NODE, start_ms, end_ms).to_pandas()  # noqa: E731
        fetch_arrow = lambda: provider.fetch(NODE, start_ms, end_ms).table  # noqa: E731
        fetch_pl = lambda: provider.fetch(NODE, start_ms, end_ms).to_polars()  # noqa: E731
        med, best, warm_df = median_time(fetch_pd, a.repeat)
        assert provider.fetch(NODE, start_ms, end_ms).metadata.requests == 0
        out["seamless_warm_pandas"] = {"median_s": med, "min_s": best, "candles_per_s": candles / med}
        med, best, _ = median_time(fetch_arrow, a.repeat)
        out["seamless_warm_arrow"] = {"median_s": med, "min_s": best, "candles_per_s": candles / med}
        med, best, _ = median_time(fetch_pl, a.repeat)
        out["seamless_warm_polars"] = {"median_s": med, "min_s": best, "candles_per_s": candles / med}

        parquet = work / "window.parquet"
        subprocess.run(
            [a.seamless, "fetch", "--node", NODE, "--start", str(start_ms), "--end", str(end_ms),
             "--store", store, "--strategy", "fail-fast", "--format", "parquet", "--output", str(parquet), "-q"],
            check=True, env=cc.clean_env(),
        )
        read_pq = lambda: pq.read_table(parquet).to_pandas().set_index("open_time")  # noqa: E731
        med, best, pq_df = median_time(read_pq, a.repeat)
        pd.testing.assert_frame_equal(warm_df, pq_df, check_exact=True)
        out["parquet_pandas"] = {"median_s": med, "min_s": best, "candles_per_s": candles / med,
                                 "bytes": parquet.stat().st_size}
        med, best, _ = median_time(lambda: pd.read_parquet(parquet).set_index("open_time"), a.repeat)
        out["parquet_pd_read_parquet"] = {"median_s": med, "min_s": best, "candles_per_s": candles / med}

        # Where the warm time goes: the frame assembly in Python (columns → Table → pandas).
        cols_meta = provider._native.fetch(NODE, start_ms, end_ms)
        med, best, _ = median_time(lambda: sm.Frame._from_native(*cols_meta), a.repeat)
        out["frame_assembly"] = {"median_s": med}
        med, best, _ = median_time(lambda: provider._native.fetch(NODE, start_ms, end_ms), a.repeat)
        out["native_fetch"] = {"median_s": med}
    finally:
        sim.stop()

    w, q = out["seamless_warm_pandas"], out["parquet_pandas"]
    print(f"{NODE}, {a.days} days of 1m = {candles} candles")
    print(f"warm  seamless fetch → pandas   {w['median_s'] * 1e3:8.2f} ms  {w['candles_per_s'] / 1e6:6.2f} M candles/s")
    for k in ("seamless_warm_arrow", "seamless_warm_polars"):
        print(f"      {k[14:]:<24} {out[k]['median_s'] * 1e3:8.2f} ms  {out[k]['candles_per_s'] / 1e6:6.2f} M candles/s")
    print(f"      Parquet → pandas          {q['median_s'] * 1e3:8.2f} ms  {q['candles_per_s'] / 1e6:6.2f} M candles/s"
          f"  (seamless/Parquet speed {w['candles_per_s'] / q['candles_per_s']:.2f}×)")
    print(f"      native fetch {out['native_fetch']['median_s'] * 1e3:.2f} ms, frame assembly "
          f"{out['frame_assembly']['median_s'] * 1e3:.2f} ms")
    c = out["seamless_cold"]
    print(f"cold  seamless backfill → pandas {c['seconds']:7.3f} s   {c['candles_per_s']:,.0f} candles/s ({c['requests']} requests)")
    if "ccxt_cold" in out:
        x = out["ccxt_cold"]
        print(f"      ccxt fetch_ohlcv → pandas  {x['seconds']:7.3f} s   {x['candles_per_s']:,.0f} candles/s "
              f"({x['requests']} requests; seamless {c['candles_per_s'] / x['candles_per_s']:.1f}×)")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
