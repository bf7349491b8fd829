"""fetch against the `seamless` CLI: the same candles, candle for candle, and the same
metadata, for the same window and store; pandas and polars views of the frame."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

import seamless_market as sm
from conftest import END, END_MS, NODE, START, START_MS, cli

# Metadata fields that depend on when or how fast a call ran, not on what it served.
TIMING = {"as_of", "phases_ms", "staleness_ms"}


def cli_fetch(store, sim, tmp_path, *extra):
    meta = tmp_path / "meta.json"
    p = cli(
        "fetch", "--node", NODE, "--start", START, "--end", END, "--store", store,
        "--exchange-url", f"binance={sim.url}", "--format", "jsonl", "--metadata", str(meta), "--quiet", *extra,
    )
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    return rows, json.loads(meta.read_text())


def test_fetch_equals_cli_jsonl_candle_for_candle(provider_for, sim, store, tmp_path):
    p = provider_for(store)
    cold = p.fetch(NODE, START, END, strategy="auto-backfill")
    assert cold.metadata.rows == 2880 and cold.metadata.fetched == 2880 and not cold.metadata.partial

    # Both from the now warm store, storage only.
    frame = p.fetch(NODE, START, END, strategy="fail-fast")
    rows, meta = cli_fetch(store, sim, tmp_path, "--strategy", "fail-fast")
    assert len(rows) == len(frame) == 2880
    t = frame.table.to_pydict()
    for i, r in enumerate(rows):
        mine = {k: t[k][i] for k in ("open", "high", "low", "close", "volume")}
        mine["open_time"] = frame.table.column("open_time")[i].value  # epoch ms
        assert mine == r, f"row {i}"

    mine = {k: v for k, v in frame.metadata.raw.items() if k not in TIMING}
    theirs = {k: v for k, v in meta.items() if k not in TIMING}
    assert mine == theirs
    assert frame.metadata.fingerprint == cold.metadata.fingerprint == meta["fingerprint"]


def test_frame_views(provider_for, store):
    frame = provider_for(store).fetch(NODE, START_MS, END_MS, strategy="auto-backfill")
    md = frame.metadata
    assert md.node_id == NODE and md.rows == 2880 and md.coverage_ratio == 1.0
    assert md.missing == [] and md.downgrade is None and md.fingerprint.startswith("sha256:")
    assert md.window[0].isoformat() == "2024-01-01T00:00:00+00:00"

    # The table: schema, and the metadata in the schema.
    assert frame.table.schema.equals(sm.SCHEMA)
    smeta = frame.table.schema.metadata
    assert json.loads(smeta[b"seamless"]) == md.raw
    assert smeta[b"seamless.fingerprint"].decode() == md.fingerprint
    assert frame.num_rows == 2880  # Table attributes on the frame
    assert pa.table(frame).num_rows == 2880  # Arrow stream protocol

    df = frame.to_pandas()
    import pandas as pd

    assert isinstance(df.index, pd.DatetimeIndex) and str(df.index.tz) == "UTC"
    assert df.index.name == "open_time" and list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert df.index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert df.index[-1] == pd.Timestamp("2024-01-02T23:59", tz="UTC")
    assert df.index.is_monotonic_increasing and df.index.is_unique
    assert df.attrs["seamless"]["fingerprint"] == md.fingerprint
    assert df["close"].tolist() == frame.table.column("close").to_pylist()
    # The frame pyarrow's own conversion gives, and memory of its own: editing it leaves the
    # table as it was.
    plain = frame.table.to_pandas().set_index("open_time")
    pd.testing.assert_frame_equal(df, plain, check_exact=True)
    first_close = frame.table.column("close")[0].as_py()
    df.iloc[0, df.columns.get_loc("close")] = -1.0
    df["volume"] *= 2
    assert frame.table.column("close")[0].as_py() == first_close
    assert frame.to_pandas()["close"].iloc[0] == first_close
    empty = provider_for(store).fetch(
        NODE, START_MS - 3_600_000, START_MS, strategy="fail-fast", partial_ok=True
    ).to_pandas()
    assert empty.shape == (0, 5) and str(empty.index.tz) == "UTC"

    import polars as pl

    pf = frame.to_polars()
    assert pf.shape == (2880, 6)
    assert pf.schema["open_time"] == pl.Datetime("ms", "UTC")
    assert pf["volume"].to_list() == frame.table.column("volume").to_pylist()


@pytest.mark.parametrize(
    "start,end",
    [
        ("2024-01-01", "2024-01-01T01:00:00Z"),
        (1_704_067_200_000, 1_704_070_800_000),
        ("datetime", "datetime"),
        ("date", "datetime"),
    ],
)
def test_times_as_datetime_iso_or_epoch_ms(provider_for, store, start, end):
    import datetime as dt

    utc = dt.timezone.utc
    if start == "datetime":
        start = dt.datetime(2024, 1, 1, tzinfo=utc)
    if start == "date":
        start = dt.date(2024, 1, 1)
    if end == "datetime":
        end = dt.datetime(2024, 1, 1, 1, tzinfo=utc)
    frame = provider_for(store).fetch(NODE, start, end, strategy="auto-backfill")
    assert frame.metadata.raw["window"] == {"start": 1_704_067_200_000, "end": 1_704_070_800_000}
    assert len(frame) == 60


def test_coverage_equals_cli_json(provider_for, sim, store):
    p = provider_for(store)
    p.fetch(NODE, "2024-01-01T00:00:00Z", "2024-01-01T06:00:00Z", strategy="auto-backfill")
    cov = p.coverage(NODE, START, END)
    theirs = json.loads(cli("coverage", "--node", NODE, "--start", START, "--end", END, "--store", store, "--format", "json").stdout)
    assert cov.raw == theirs
    assert cov.present_ms == [(START_MS, START_MS + 6 * 3_600_000)]
    assert cov.missing_ms == [(START_MS + 6 * 3_600_000, END_MS)]
    assert not cov.complete
