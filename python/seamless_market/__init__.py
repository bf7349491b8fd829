"""seamless_market: the seamless market-data host in Python.

``Provider(...).fetch(node, start, end)`` serves a window of candles from storage,
backfilling what is missing through sandboxed exchange adapters (built into the package),
and returns a :class:`Frame` (pyarrow Table + metadata, ``.to_pandas()``, ``.to_polars()``);
``Client(url)`` makes the same calls against a running ``seamless serve``.
See docs/python.md in the repository.
"""

from . import _native
from .errors import BadInputError, IncompleteError, SeamlessError, SeamlessRuntimeError
from .frame import SCHEMA, Frame, Metadata
from .provider import BackfillResult, Coverage, Provider
from .client import Client

#: Exchange ids of the adapters built into this package.
BUILTIN_ADAPTERS: list[str] = list(_native.BUILTIN_ADAPTERS)

__all__ = [
    "Provider",
    "Client",
    "Frame",
    "Metadata",
    "Coverage",
    "BackfillResult",
    "SCHEMA",
    "BUILTIN_ADAPTERS",
    "SeamlessError",
    "BadInputError",
    "IncompleteError",
    "SeamlessRuntimeError",
]
