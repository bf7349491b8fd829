"""The asyncio twins: same results as the blocking calls, concurrent on one event loop,
errors raised in the awaiting task, cancellation."""

from __future__ import annotations

import asyncio

import pytest

import seamless_market as sm
from conftest import END, NODE, START

NODES = [NODE, "ohlcv:binance:ETH/USDT:1m", "ohlcv:binance:SOL/USDT:1m"]


def test_fetch_async_equals_fetch(provider_for, store):
    p = provider_for(store)

    async def main():
        return await p.fetch_async(NODE, START, END, strategy="auto-backfill")

    got = asyncio.run(main())
    again = p.fetch(NODE, START, END, strategy="fail-fast")
    assert got.table.equals(again.table)
    assert got.metadata.fingerprint == again.metadata.fingerprint


def test_concurrent_fetches_on_one_loop(provider_for, store):
    p = provider_for(store)

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0)
                ticks += 1

        t = asyncio.ensure_future(ticker())
        frames = await asyncio.gather(*(p.fetch_async(n, START, END, strategy="auto-backfill") for n in NODES))
        t.cancel()
        return frames, ticks

    frames, ticks = asyncio.run(main())
    assert [f.metadata.node_id for f in frames] == NODES
    assert all(len(f) == 2880 for f in frames)
    assert len({f.metadata.fingerprint for f in frames}) == 3
    # The loop kept running other tasks while the fetches ran on the host's runtime.
    assert ticks > 0


def test_async_errors_and_coverage_and_backfill(provider_for, store):
    p = provider_for(store)

    async def main():
        with pytest.raises(sm.IncompleteError) as e:
            await p.fetch_async(NODE, START, END, strategy="fail-fast")
        assert e.value.missing_ms
        with pytest.raises(sm.BadInputError):
            await p.fetch_async("ohlcv:nope:BTC/USDT:1m", START, END)
        seen = []
        results = await p.backfill_async(NODES[:2], START, END, progress=seen.append)
        cov = await p.coverage_async(NODE, START, END)
        return results, cov, seen

    results, cov, seen = asyncio.run(main())
    assert [r.node_id for r in results] == NODES[:2]
    assert all(r.candles == 2880 and r.missing == [] for r in results)
    assert cov.complete
    assert seen and all(len(s) == 2 for s in seen)
    assert all(done == total and finished for _, done, total, _, finished in seen[-1])


def test_cancelling_the_awaiting_task(provider_for, store):
    p = provider_for(store)

    async def main():
        task = asyncio.ensure_future(p.fetch_async(NODE, START, END, strategy="auto-backfill"))
        await asyncio.sleep(0)  # let it start
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The provider is still usable afterwards.
        return await p.fetch_async(NODE, START, END, strategy="auto-backfill")

    assert len(asyncio.run(main())) == 2880
