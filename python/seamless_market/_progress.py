"""Backfill progress for people.

- In a terminal (stderr is a TTY): one line redrawn in place with ``\\r``, then a summary line
  per series (the CLI's).
- In a Jupyter notebook: a ``tqdm`` bar when tqdm is installed.
- Anywhere else (a pipe, a log file, CI): no redrawn line and no control characters, only the
  summary lines when the backfill ends.
"""

from __future__ import annotations

import sys
import time

from ._time import utc


def _iso(ms: int) -> str:
    return utc(ms).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary_lines(results) -> list[str]:
    """The CLI's per-series line for each result."""
    out = []
    for r in results:
        w = r["window"]
        missing = r["missing"]
        tail = f", {len(missing)} ranges still missing" if missing else ""
        out.append(
            f"{r['node_id']}: [{_iso(w['start'])}, {_iso(w['end'])}) {r['candles']} candles fetched in "
            f"{r['requests']} requests ({r['pages']} pages, {r['chunks']} chunks){tail}"
        )
    return out


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    try:
        return shell.get_ipython().__class__.__name__ == "ZMQInteractiveShell"
    except Exception:  # noqa: BLE001 - any failure means: not a notebook
        return False


class _Silent:
    def tick(self, snapshot):
        pass

    def close(self, results):
        pass


class _Callback(_Silent):
    """Hands every snapshot to the caller's function."""

    def __init__(self, fn):
        self.fn = fn

    def tick(self, snapshot):
        self.fn(snapshot)


class _Plain(_Silent):
    """No redrawing: the summary lines at the end."""

    def __init__(self, stream):
        self.stream = stream

    def close(self, results):
        for line in summary_lines(results):
            print(line, file=self.stream)
        self.stream.flush()


def _totals(snapshot):
    done = sum(min(d, t) for _, d, t, _, _ in snapshot)
    total = sum(t for _, _, t, _, _ in snapshot)
    pages = sum(p for _, _, _, p, _ in snapshot)
    return done, total, pages


class _Terminal(_Plain):
    """One line redrawn in place: series, bar, slots, pages, rate, ETA."""

    WIDTH = 30

    def __init__(self, stream):
        super().__init__(stream)
        self.started = time.monotonic()
        self.drawn = False

    def tick(self, snapshot):
        if not snapshot:
            return
        done, total, pages = _totals(snapshot)
        frac = done / total if total else 1.0
        filled = int(frac * self.WIDTH)
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = done / elapsed
        eta = f"{(total - done) / rate:.0f}s" if rate > 0 and total > done else "-"
        name = snapshot[0][0] if len(snapshot) == 1 else f"{len(snapshot)} series"
        line = (
            f"{name:<32} [{'#' * filled}{'-' * (self.WIDTH - filled)}] {done}/{total} candles, "
            f"{pages} pages, {rate:,.0f}/s, ETA {eta}"
        )
        self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()
        self.drawn = True

    def close(self, results):
        if self.drawn:
            self.stream.write("\n")
        super().close(results)


class _Tqdm(_Silent):
    def __init__(self, tqdm):
        self.tqdm = tqdm
        self.bar = None

    def tick(self, snapshot):
        if not snapshot:
            return
        done, total, pages = _totals(snapshot)
        if self.bar is None:
            self.bar = self.tqdm(total=total, unit="candle", desc="backfill")
        self.bar.total = total
        self.bar.n = done
        self.bar.set_postfix(pages=pages, refresh=False)
        self.bar.refresh()

    def close(self, results):
        if self.bar is not None:
            self.bar.close()


def reporter(progress, stream=None):
    """The progress reporter for ``progress`` (True, False/None, or a callable)."""
    if progress is None or progress is False:
        return _Silent()
    if callable(progress):
        return _Callback(progress)
    stream = stream or sys.stderr
    if _in_notebook():
        try:
            from tqdm.auto import tqdm  # noqa: PLC0415 - optional
        except ImportError:
            return _Plain(stream)
        return _Tqdm(tqdm)
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return _Terminal(stream)
    return _Plain(stream)
