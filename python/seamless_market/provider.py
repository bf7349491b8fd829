"""The provider: the seamless host in this process (no server, no subprocess)."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass

from . import _native
from ._progress import reporter
from ._time import to_arg, utc
from .errors import BadInputError
from .frame import Frame

__all__ = ["Provider", "Coverage", "BackfillResult"]


def _ranges(rs):
    return [(utc(s), utc(e)) for s, e in rs]


class Coverage:
    """The ledger of one series over a window, as ``seamless coverage --format json``:
    ``present`` (stored), ``empty`` (the exchange has no candles there) and ``missing``
    (neither, in the closed part of the window), as lists of ``(start, end)`` UTC datetimes
    (``*_ms`` in epoch ms); :attr:`raw` is the JSON."""

    def __init__(self, raw: dict):
        self.raw = raw
        self.node_id: str = raw["node_id"]
        self.window = (utc(raw["window"]["start"]), utc(raw["window"]["end"]))
        self.present_ms = [tuple(r) for r in raw["present"]]
        self.empty_ms = [tuple(r) for r in raw["empty"]]
        self.missing_ms = [tuple(r) for r in raw["missing"]]
        self.present = _ranges(raw["present"])
        self.empty = _ranges(raw["empty"])
        self.missing = _ranges(raw["missing"])

    @property
    def complete(self) -> bool:
        """True when nothing closed is missing."""
        return not self.missing_ms

    def __repr__(self) -> str:
        return (
            f"Coverage({self.node_id} [{self.window[0].isoformat()}, {self.window[1].isoformat()}): "
            f"{len(self.present)} present, {len(self.empty)} empty, {len(self.missing)} missing range(s))"
        )


@dataclass(frozen=True)
class BackfillResult:
    """What a backfill did for one series."""

    node_id: str
    window: tuple
    candles: int
    requests: int
    pages: int
    chunks: int
    #: Closed ranges still missing afterwards, ``(start, end)`` UTC datetimes.
    missing: list

    @classmethod
    def _from_raw(cls, r: dict) -> "BackfillResult":
        return cls(
            node_id=r["node_id"],
            window=(utc(r["window"]["start"]), utc(r["window"]["end"])),
            candles=r["candles"],
            requests=r["requests"],
            pages=r["pages"],
            chunks=r["chunks"],
            missing=_ranges(r["missing"]),
        )


def _setting_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _store_url(store) -> str | None:
    if store is None:
        return None
    if isinstance(store, os.PathLike):
        return f"sqlite:{os.fspath(store)}"
    return str(store)


def _nodes(nodes) -> list[str]:
    if isinstance(nodes, str):
        return [nodes]
    return [str(n) for n in nodes]


async def _await(start, *args, poll=None):
    """Start a native job that reports to a callback and await it on the running loop;
    cancelling the awaiting task aborts the job."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def settle(value, error):
        if fut.done():
            return
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(value)

    def callback(value, error):  # called from a runtime thread
        try:
            loop.call_soon_threadsafe(settle, value, error)
        except RuntimeError:  # the loop was closed meanwhile: nobody waits
            pass

    task = start(*args, callback)
    try:
        if poll is not None:
            while not fut.done():
                await asyncio.wait({fut}, timeout=0.1)
                poll()
        return await fut
    except asyncio.CancelledError:
        task.cancel()
        raise


class Provider:
    """Candles of one series over a window: from the store, backfilled through the exchange's
    sandboxed adapter, topped with the live feed — the ``seamless`` CLI's provider, in process.

    Settings resolve as the CLI's: defaults, then the config file (``config_file``, else
    ``$SEAMLESS_CONFIG``, else the user's ``seamless.toml``), then ``SEAMLESS_*`` variables,
    then these keywords (the CLI's flags):

    - ``store``: ``sqlite:PATH`` or ``questdb://HOST:PORT`` (a ``pathlib.Path`` means SQLite);
      default the user's data folder ``seamless/seamless.db``;
    - ``exchange_urls``: ``{exchange_id: base_url}``, e.g. ``{"binance": "http://127.0.0.1:8080"}``;
    - ``redis``: cluster mode, e.g. ``redis://127.0.0.1:6379/0``;
    - ``adapters``: third-party adapter components (``.wasm`` paths); ``allow_override`` lets
      them replace a built-in adapter;
    - ``settings``: any other config key by its path, e.g. ``{"backfill.max_attempts": 2}``
      (``seamless config keys`` lists them).

    The built-in adapters are inside the package (``seamless_market.BUILTIN_ADAPTERS``).
    """

    def __init__(
        self,
        store=None,
        exchange_urls: dict | None = None,
        redis: str | None = None,
        config_file=None,
        *,
        adapters=(),
        allow_override: bool = False,
        settings: dict | None = None,
    ):
        if exchange_urls is not None and not isinstance(exchange_urls, dict):
            raise BadInputError(
                "exchange_urls must be a dict {exchange: base_url}, e.g. {'binance': 'http://127.0.0.1:8080'}"
            )
        self._native = _native.NativeProvider(
            config_file=None if config_file is None else os.fspath(config_file),
            store=_store_url(store),
            exchange_urls=[(str(k), str(v)) for k, v in (exchange_urls or {}).items()],
            redis=redis,
            adapters=[os.fspath(p) for p in adapters],
            allow_override=allow_override,
            settings=[(str(k), _setting_text(v)) for k, v in (settings or {}).items()],
        )

    @property
    def store_url(self) -> str:
        """The store in use."""
        return self._native.store_url

    # --- fetch -------------------------------------------------------------------------

    def fetch(self, node: str, start, end="now", *, strategy: str = "seamless", partial_ok: bool = False) -> Frame:
        """Serve ``[start, end)`` of ``node`` (``ohlcv:EXCHANGE:SYMBOL:TIMEFRAME``), aligned to
        the timeframe's grid, as :class:`~seamless_market.Frame`.

        ``strategy``: ``seamless`` (store, backfill, live; default), ``fail-fast`` (store
        only), ``auto-backfill``, ``partial-fill``. Raises :class:`IncompleteError` (with the
        missing ranges) unless ``partial_ok``."""
        cols, meta = self._native.fetch(
            str(node), to_arg(start, "start"), to_arg(end, "end"), strategy=strategy, partial_ok=partial_ok
        )
        return Frame._from_native(cols, meta)

    async def fetch_async(
        self, node: str, start, end="now", *, strategy: str = "seamless", partial_ok: bool = False
    ) -> Frame:
        """:meth:`fetch` for asyncio: the work runs on the host's runtime, no thread waits."""
        cols, meta = await _await(
            self._native.fetch_start, str(node), to_arg(start, "start"), to_arg(end, "end"), strategy, partial_ok
        )
        return Frame._from_native(cols, meta)

    # --- coverage ----------------------------------------------------------------------

    def coverage(self, node: str, start=None, end=None) -> Coverage:
        """The ledger of ``node`` over ``[start, end)`` (default: from the first range it
        knows, to now)."""
        s = None if start is None else to_arg(start, "start")
        e = None if end is None else to_arg(end, "end")
        return Coverage(json.loads(self._native.coverage(str(node), s, e)))

    async def coverage_async(self, node: str, start=None, end=None) -> Coverage:
        """:meth:`coverage` for asyncio."""
        s = None if start is None else to_arg(start, "start")
        e = None if end is None else to_arg(end, "end")
        raw = await _await(self._native.coverage_start, str(node), s, e)
        return Coverage(json.loads(raw))

    # --- backfill ----------------------------------------------------------------------

    def backfill(self, nodes, start, end="now", *, progress=True) -> list[BackfillResult]:
        """Fill the store for every node over ``[start, end)`` (resumable: only what the
        ledger lacks is fetched), series concurrently.

        ``progress``: ``True`` draws a bar in a terminal (tqdm in a notebook) and prints the
        CLI's summary lines elsewhere; ``False`` prints nothing; a callable receives
        ``[(node_id, done_slots, total_slots, pages, finished), ...]`` every 100 ms."""
        state = _native.BackfillProgress()
        report = reporter(progress)
        raw = self._native.backfill(
            _nodes(nodes), to_arg(start, "start"), to_arg(end, "end"), state, lambda: report.tick(state.snapshot())
        )
        results = json.loads(raw)
        report.close(results)
        return [BackfillResult._from_raw(r) for r in results]

    async def backfill_async(self, nodes, start, end="now", *, progress=True) -> list[BackfillResult]:
        """:meth:`backfill` for asyncio (the bar is drawn from the event loop)."""
        state = _native.BackfillProgress()
        report = reporter(progress)
        raw = await _await(
            self._native.backfill_start,
            _nodes(nodes),
            to_arg(start, "start"),
            to_arg(end, "end"),
            state,
            poll=lambda: report.tick(state.snapshot()),
        )
        results = json.loads(raw)
        report.close(results)
        return [BackfillResult._from_raw(r) for r in results]

    def __repr__(self) -> str:
        return f"Provider(store={self.store_url!r})"
