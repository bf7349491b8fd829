"""`Client(url)` against a real `seamless serve` (the CLI of target/debug) on 127.0.0.1: the
same frames, coverage and exceptions as the in-process Provider."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess

import pytest

import seamless_market as sm
from conftest import END, NODE, SEAMLESS_BIN, START

API_LINE = re.compile(r"api: (http://127\.0\.0\.1:\d+)/v1/")


class Server:
    """`seamless serve --listen 127.0.0.1:0` with binance sent to the simulator."""

    def __init__(self, sim, store, *extra):
        self.proc = subprocess.Popen(
            [SEAMLESS_BIN, "serve", "--listen", "127.0.0.1:0", "--store", store,
             "--exchange-url", f"binance={sim.url}", *extra],
            stderr=subprocess.PIPE, text=True,
        )
        line = self.proc.stderr.readline()
        m = API_LINE.search(line)
        if not m:
            self.proc.kill()
            raise AssertionError(f"seamless serve did not say where it listens: {line!r}")
        self.url = m.group(1)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture()
def server(sim, tmp_path):
    s = Server(sim, f"sqlite:{tmp_path / 'served.db'}")
    yield s
    s.stop()


def data_fields(m: sm.Metadata) -> dict:
    keep = ["node_id", "window", "rows", "coverage_bounds", "coverage_ratio", "missing",
            "missing_bars", "empty", "partial", "downgrade", "fingerprint"]
    return {k: m.raw[k] for k in keep}


def test_client_fetch_equals_the_provider(server, provider_for, store):
    got = sm.Client(server.url).fetch(NODE, START, END)
    want = provider_for(store).fetch(NODE, START, END)
    assert got.table.equals(want.table)
    assert got.table.schema.metadata[b"seamless.fingerprint"] == want.table.schema.metadata[b"seamless.fingerprint"]
    assert data_fields(got.metadata) == data_fields(want.metadata)
    df = got.to_pandas()
    assert len(df) == 2880 and str(df.index.tz) == "UTC"
    assert df.equals(want.to_pandas())
    # Coverage, from the server's store.
    cov = sm.Client(server.url).coverage(NODE, START, END)
    assert cov.complete and cov.present_ms == [(1_704_067_200_000, 1_704_240_000_000)]


def test_client_errors_are_the_providers_classes(server, tmp_path):
    c = sm.Client(server.url)
    with pytest.raises(sm.BadInputError, match="bad node 'ohlcv:binance:BTCUSDT:1m'"):
        c.fetch("ohlcv:binance:BTCUSDT:1m", START, END)
    with pytest.raises(sm.BadInputError, match="start must be before end"):
        c.fetch(NODE, END, START)
    with pytest.raises(sm.IncompleteError, match="partial_ok=true") as e:
        c.fetch("ohlcv:binance:ETH/USDT:1h", START, END, strategy="fail-fast")
    assert e.value.missing_ms == [(1_704_067_200_000, 1_704_240_000_000)]
    part = c.fetch("ohlcv:binance:ETH/USDT:1h", START, END, strategy="fail-fast", partial_ok=True)
    assert len(part) == 0 and part.metadata.partial
    # Nothing listens on a port we just closed.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(sm.SeamlessRuntimeError, match="is `seamless serve` running there"):
        sm.Client(f"http://127.0.0.1:{port}").fetch(NODE, START, END)


def test_client_token_and_async(sim, tmp_path):
    s = Server(sim, f"sqlite:{tmp_path / 'tok.db'}", "--token", "s3cret")
    try:
        with pytest.raises(sm.BadInputError, match="needs a token"):
            sm.Client(s.url).fetch(NODE, START, END)
        with pytest.raises(sm.BadInputError, match="bad token"):
            sm.Client(s.url, token="nope").fetch(NODE, START, END)
        c = sm.Client(s.url, token="s3cret")
        assert "s3cret" not in repr(c)

        async def both():
            return await asyncio.gather(
                c.fetch_async(NODE, START, END), c.coverage_async(NODE, START, END)
            )

        frame, cov = asyncio.run(both())
        assert len(frame) == 2880 and cov.node_id == NODE
    finally:
        s.stop()
