"""Exceptions of seamless_market.

Three classes tell the failures apart, as the ``seamless`` CLI's exit codes do:

- :class:`BadInputError` (exit code 2): the call is wrong — a malformed node id, an unknown
  exchange, an unsupported timeframe, a bad time, a bad setting. Also a ``ValueError``.
- :class:`IncompleteError` (exit code 3): the data could not be served complete — missing
  ranges (in :attr:`IncompleteError.missing`), a broken SLA budget, a frame refused by the
  conformance checks. Pass ``partial_ok=True`` to get the partial frame instead.
- :class:`SeamlessRuntimeError` (exit code 1): the work failed — the exchange unreachable,
  retries exhausted, a store or component failure. Also a ``RuntimeError``.

The messages are the CLI's, with its advice naming the Python keyword instead of a flag.
"""

from __future__ import annotations

import datetime as _dt

__all__ = ["SeamlessError", "BadInputError", "IncompleteError", "SeamlessRuntimeError"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def _utc(ms: int) -> _dt.datetime:
    return _EPOCH + _dt.timedelta(milliseconds=ms)


class SeamlessError(Exception):
    """Base class of every seamless_market failure."""

    #: The exit code ``seamless`` returns for the same failure.
    exit_code = 1

    def __init__(self, message: str, missing_ms=()):
        super().__init__(message)
        self.message = message


class BadInputError(SeamlessError, ValueError):
    """The call is wrong: the message names the bad part and the fix."""

    exit_code = 2


class IncompleteError(SeamlessError):
    """The window could not be served complete.

    ``missing_ms`` holds the exact missing ranges as ``[(start_ms, end_ms), ...]``
    (half-open), ``missing`` the same as UTC datetimes; both are empty when the cause is an
    SLA budget or the conformance checks rather than missing data.
    """

    exit_code = 3

    def __init__(self, message: str, missing_ms=()):
        super().__init__(message)
        self.missing_ms: list[tuple[int, int]] = [(int(s), int(e)) for s, e in missing_ms]
        self.missing: list[tuple[_dt.datetime, _dt.datetime]] = [
            (_utc(s), _utc(e)) for s, e in self.missing_ms
        ]


class SeamlessRuntimeError(SeamlessError, RuntimeError):
    """The work failed (exchange unreachable, retries exhausted, store or component failure)."""

    exit_code = 1
