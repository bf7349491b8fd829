"""What a fetch returns: the candles as a pyarrow Table, the metadata of the frame, and
conversions to pandas (UTC ``DatetimeIndex``) and polars."""

from __future__ import annotations

import datetime as _dt
import json

import pyarrow as pa

from ._time import utc

__all__ = ["Frame", "Metadata", "SCHEMA"]

#: The candle columns: ``open_time`` (ms, UTC) and five float64 columns, as the CLI's
#: CSV/JSONL/Parquet outputs.
SCHEMA = pa.schema(
    [
        ("open_time", pa.timestamp("ms", tz="UTC")),
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("close", pa.float64()),
        ("volume", pa.float64()),
    ]
)

#: Schema metadata keys: the whole metadata JSON, and the node id and fingerprint as the
#: Parquet export's footer names them.
META_KEY = b"seamless"
META_NODE_ID = b"seamless.node_id"
META_FINGERPRINT = b"seamless.fingerprint"


def _window(w):
    return None if w is None else (utc(w["start"]), utc(w["end"]))


def _ranges(rs):
    return [(utc(s), utc(e)) for s, e in rs]


class Metadata:
    """Exactly what was served, as ``seamless fetch --metadata FILE`` writes it.

    :attr:`raw` is that JSON as a dict (times in epoch ms); the attributes give the same
    values with UTC datetimes: ``node_id``, ``requested``/``window`` (``(start, end)``),
    ``strategy``, ``rows``, ``coverage_bounds``, ``coverage_ratio``, ``missing`` (the exact
    missing ranges; ``missing_ms`` in ms), ``missing_bars``, ``empty``, ``staleness``,
    ``partial``, ``downgrade`` (dict or None), ``conformance`` (dict), ``as_of``,
    ``fingerprint``, ``from_store``, ``fetched``, ``requests``, ``phases_ms``, ``live``.
    """

    def __init__(self, raw: dict):
        self.raw = raw
        self.node_id: str = raw["node_id"]
        self.requested = _window(raw["requested"])
        self.window = _window(raw["window"])
        self.strategy: str = raw["strategy"]
        self.rows: int = raw["rows"]
        self.coverage_bounds = _window(raw["coverage_bounds"])
        self.coverage_ratio: float = raw["coverage_ratio"]
        self.missing_ms: list[tuple[int, int]] = [tuple(r) for r in raw["missing"]]
        self.missing = _ranges(raw["missing"])
        self.missing_bars: int = raw["missing_bars"]
        self.empty = _ranges(raw["empty"])
        st = raw["staleness_ms"]
        self.staleness = None if st is None else _dt.timedelta(milliseconds=st)
        self.partial: bool = raw["partial"]
        self.downgrade: dict | None = raw["downgrade"]
        self.conformance: dict = raw["conformance"]
        self.as_of = utc(raw["as_of"])
        self.fingerprint: str = raw["fingerprint"]
        self.from_store: int = raw["from_store"]
        self.fetched: int = raw["fetched"]
        self.requests: int = raw["requests"]
        self.phases_ms: dict = raw["phases_ms"]
        self.live: dict | None = raw["live"]

    def to_dict(self) -> dict:
        """The metadata JSON as a dict (a copy)."""
        return json.loads(json.dumps(self.raw))

    def __repr__(self) -> str:
        w = self.window
        return (
            f"Metadata({self.node_id} [{w[0].isoformat()}, {w[1].isoformat()}), rows={self.rows}, "
            f"coverage={self.coverage_ratio:.1%}, missing={len(self.missing)} range(s), "
            f"partial={self.partial}, fingerprint={self.fingerprint[:19]}…)"
        )


class Frame:
    """A served window of candles.

    - :attr:`table`: a ``pyarrow.Table`` (schema :data:`SCHEMA`) whose schema metadata
      carries the metadata JSON (``b"seamless"``), the node id and the fingerprint;
    - :attr:`metadata`: :class:`Metadata`;
    - :meth:`to_pandas` (UTC ``DatetimeIndex`` named ``open_time``; ``df.attrs["seamless"]``
      holds the metadata dict) and :meth:`to_polars`.

    Table attributes (``num_rows``, ``column``, ``schema``, …) are reachable on the frame
    itself, and the frame is an Arrow stream (``pyarrow.table(frame)``,
    ``polars.DataFrame(frame)``).
    """

    __slots__ = ("table", "metadata")

    def __init__(self, table: pa.Table, metadata: Metadata):
        self.table = table
        self.metadata = metadata

    @classmethod
    def _from_native(cls, columns, metadata_json: str) -> "Frame":
        # `columns`: the six columns' little-endian values back to back in one buffer.
        buf = memoryview(columns)
        n = len(buf) // (8 * len(SCHEMA))
        arrays = [
            pa.Array.from_buffers(field.type, n, [None, pa.py_buffer(buf[k * n * 8 : (k + 1) * n * 8])])
            for k, field in enumerate(SCHEMA)
        ]
        raw = json.loads(metadata_json)
        schema = SCHEMA.with_metadata(
            {
                META_KEY: metadata_json.encode(),
                META_NODE_ID: raw["node_id"].encode(),
                META_FINGERPRINT: raw["fingerprint"].encode(),
            }
        )
        return cls(pa.Table.from_arrays(arrays, schema=schema), Metadata(raw))

    def to_pandas(self):
        """A pandas DataFrame: ``open, high, low, close, volume`` indexed by a UTC
        ``DatetimeIndex`` named ``open_time``."""
        import numpy as np
        import pandas as pd

        t = self.table
        names = ["open", "high", "low", "close", "volume"]
        # One (5, rows) float block, copied once out of the Arrow buffers: the DataFrame owns
        # writable memory (editing it never changes `.table`) and pandas takes the block as
        # it is, without consolidating five columns.
        values = np.vstack([t.column(n).to_numpy() for n in names])
        index = pd.DatetimeIndex(t.column("open_time").to_numpy(), name="open_time").tz_localize("UTC")
        df = pd.DataFrame(values.T, index=index, columns=names, copy=False)
        df.attrs["seamless"] = self.metadata.raw
        return df

    def to_polars(self):
        """A polars DataFrame with the six columns (``open_time`` as ``Datetime("ms", "UTC")``)."""
        import polars as pl

        return pl.from_arrow(self.table)

    def __arrow_c_stream__(self, requested_schema=None):
        return self.table.__arrow_c_stream__(requested_schema)

    def __len__(self) -> int:
        return self.table.num_rows

    def __getattr__(self, name):
        if name in Frame.__slots__:
            raise AttributeError(name)
        return getattr(self.table, name)

    def __repr__(self) -> str:
        return f"Frame({self.metadata!r})"
