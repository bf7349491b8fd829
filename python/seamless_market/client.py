"""The same calls against a running ``seamless serve`` over HTTP.

``Client(url, token=...)`` asks the server's data API (``/v1/candles`` in the Arrow IPC format,
``/v1/coverage``) and returns the same :class:`~seamless_market.Frame` and
:class:`~seamless_market.Coverage` a :class:`~seamless_market.Provider` returns in process,
with the same exceptions: 400 → :class:`BadInputError`, 409 → :class:`IncompleteError` (with
the missing ranges), anything else → :class:`SeamlessRuntimeError`. Only the standard
library and pyarrow are used; nothing is compiled.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request

import pyarrow as pa
import pyarrow.ipc

from ._time import to_arg
from .errors import BadInputError, IncompleteError, SeamlessRuntimeError
from .frame import META_FINGERPRINT, META_KEY, META_NODE_ID, SCHEMA, Frame, Metadata
from .provider import Coverage

__all__ = ["Client"]


class Client:
    """A client of ``seamless serve``'s HTTP data API at ``url`` (default
    ``http://127.0.0.1:8765``). ``token``: the server's ``api.token``, sent as
    ``Authorization: Bearer TOKEN``. ``timeout``: seconds per call (a backfill may take a
    while)."""

    def __init__(self, url: str = "http://127.0.0.1:8765", token: str | None = None, timeout: float = 300.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        # Never through a proxy: the server is usually on this machine.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _get(self, path: str, params: dict) -> tuple[bytes, dict]:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        req = urllib.request.Request(f"{self.url}{path}?{query}")
        if self.token is not None:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with self._opener.open(req, timeout=self.timeout) as r:
                return r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            body = e.read()
            try:
                v = json.loads(body)
            except ValueError:
                v = {"error": body.decode(errors="replace")}
            message = v.get("error") or f"HTTP {e.code}"
            if e.code == 400:
                raise BadInputError(message) from None
            if e.code == 409:
                raise IncompleteError(message, v.get("missing") or ()) from None
            if e.code == 401:
                raise BadInputError(f"{message} (Client(token=...))") from None
            raise SeamlessRuntimeError(f"{self.url}{path}: HTTP {e.code}: {message}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise SeamlessRuntimeError(
                f"cannot reach {self.url}: {reason}; is `seamless serve` running there (its --listen address)?"
            ) from None

    def fetch(self, node: str, start, end="now", *, strategy: str = "seamless", partial_ok: bool = False) -> Frame:
        """:meth:`Provider.fetch <seamless_market.Provider.fetch>` on the server."""
        body, _ = self._get(
            "/v1/candles",
            {
                "node": str(node),
                "start": to_arg(start, "start"),
                "end": to_arg(end, "end"),
                "strategy": strategy,
                "partial_ok": "true" if partial_ok else None,
                "format": "arrow",
            },
        )
        table = pyarrow.ipc.open_stream(pa.py_buffer(body)).read_all()
        meta_json = table.schema.metadata[META_KEY].decode()
        raw = json.loads(meta_json)
        table = table.cast(SCHEMA).replace_schema_metadata(
            {
                META_KEY: meta_json.encode(),
                META_NODE_ID: raw["node_id"].encode(),
                META_FINGERPRINT: raw["fingerprint"].encode(),
            }
        )
        return Frame(table, Metadata(raw))

    async def fetch_async(
        self, node: str, start, end="now", *, strategy: str = "seamless", partial_ok: bool = False
    ) -> Frame:
        """:meth:`fetch` for asyncio (the HTTP call runs in a worker thread)."""
        return await asyncio.to_thread(self.fetch, node, start, end, strategy=strategy, partial_ok=partial_ok)

    def coverage(self, node: str, start=None, end=None) -> Coverage:
        """:meth:`Provider.coverage <seamless_market.Provider.coverage>` on the server."""
        body, _ = self._get(
            "/v1/coverage",
            {
                "node": str(node),
                "start": None if start is None else to_arg(start, "start"),
                "end": None if end is None else to_arg(end, "end"),
            },
        )
        return Coverage(json.loads(body))

    async def coverage_async(self, node: str, start=None, end=None) -> Coverage:
        """:meth:`coverage` for asyncio."""
        return await asyncio.to_thread(self.coverage, node, start, end)

    def __repr__(self) -> str:
        return f"Client({self.url!r}{', token=***' if self.token else ''})"
