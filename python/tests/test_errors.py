"""Exceptions: bad input, incomplete data (with the missing ranges) and runtime failure are
separate classes, with the CLI's messages and exit codes."""

from __future__ import annotations

import datetime as dt
import socket

import pytest

import seamless_market as sm
from conftest import END, END_MS, NODE, START, START_MS, cli, cli_error


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize(
    "node,start,end",
    [
        ("ohlcv:binance:BTCUSDT", START, END),  # malformed node id
        ("ohlcv:nope:BTC/USDT:1m", START, END),  # unknown exchange
        ("ohlcv:binance:BTC/USDT:7m", START, END),  # unknown timeframe
        (NODE, "yesterday-ish", END),  # bad time
        (NODE, END, START),  # empty window
    ],
)
def test_bad_input_has_the_cli_message(provider_for, sim, store, node, start, end):
    with pytest.raises(sm.BadInputError) as e:
        provider_for(store).fetch(node, start, end)
    assert isinstance(e.value, ValueError) and e.value.exit_code == 2
    p = cli("fetch", "--node", node, "--start", start, "--end", end, "--store", store,
            "--exchange-url", f"binance={sim.url}", check=False)
    assert p.returncode == 2
    theirs = cli_error(p).replace("--start", "start").replace("--end", "end")
    # The CLI's advice names a flag where Python names a keyword; the finding is the same.
    assert str(e.value).split("; to use")[0] == theirs.split("; to use")[0]


def test_bad_python_values(provider_for, store):
    p = provider_for(store)
    with pytest.raises(sm.BadInputError, match="has no time zone"):
        p.fetch(NODE, dt.datetime(2024, 1, 1), END)
    with pytest.raises(sm.BadInputError, match="unknown strategy 'sometimes'"):
        p.fetch(NODE, START, END, strategy="sometimes")
    with pytest.raises(sm.BadInputError, match="cannot read float"):
        p.fetch(NODE, 1.5, END)
    with pytest.raises(sm.BadInputError, match="unknown store"):
        sm.Provider(store="postgres://x")
    with pytest.raises(sm.BadInputError, match="unknown key `backfill.attempts`"):
        sm.Provider(store=store, settings={"backfill.attempts": 2})
    with pytest.raises(sm.BadInputError, match="base-URL override for exchange 'binanse'"):
        sm.Provider(store=store, exchange_urls={"binanse": "http://127.0.0.1:1"}).fetch(NODE, START, END)


def test_incomplete_carries_the_missing_ranges(provider_for, sim, store):
    p = provider_for(store)
    p.fetch(NODE, START, "2024-01-01T12:00:00Z", strategy="auto-backfill")
    with pytest.raises(sm.IncompleteError) as e:
        p.fetch(NODE, START, END, strategy="fail-fast")
    assert e.value.exit_code == 3
    assert e.value.missing_ms == [(START_MS + 12 * 3_600_000, END_MS)]
    assert e.value.missing[0][0] == dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc)
    cp = cli("fetch", "--node", NODE, "--start", START, "--end", END, "--store", store,
             "--strategy", "fail-fast", check=False)
    assert cp.returncode == 3
    assert str(e.value).replace("pass partial_ok=True", "pass --partial-ok") == cli_error(cp)

    # partial_ok: the partial frame, with the same missing range in its metadata.
    f = p.fetch(NODE, START, END, strategy="fail-fast", partial_ok=True)
    assert f.metadata.partial and len(f) == 720
    assert f.metadata.missing_ms == e.value.missing_ms


def test_unreachable_exchange_is_a_runtime_failure(store):
    url = f"http://127.0.0.1:{closed_port()}"
    settings = {"backfill.max_attempts": 2, "backfill.retry_base_ms": 10}
    p = sm.Provider(store=store, exchange_urls={"binance": url}, settings=settings)
    with pytest.raises(sm.SeamlessRuntimeError) as e:
        p.fetch(NODE, START, "2024-01-01T01:00:00Z", strategy="auto-backfill")
    assert isinstance(e.value, RuntimeError) and e.value.exit_code == 1
    msg = str(e.value)
    assert "gave up after 2 attempts" in msg and "Connection refused" in msg and url in msg
    assert msg.endswith("check the exchange's base URL (Provider(exchange_urls={...})) and that the exchange is up")
    cp = cli("fetch", "--node", NODE, "--start", START, "--end", "2024-01-01T01:00:00Z", "--store", store,
             "--exchange-url", f"binance={url}", "--strategy", "auto-backfill", check=False,
             env_extra={"SEAMLESS_BACKFILL_MAX_ATTEMPTS": "2", "SEAMLESS_BACKFILL_RETRY_BASE_MS": "10"})
    assert cp.returncode == 1
    assert msg.replace("Provider(exchange_urls={...})", "--exchange-url") == cli_error(cp)
