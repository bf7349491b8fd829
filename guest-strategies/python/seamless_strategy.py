"""The seamless strategy SDK for Python: write a strategy as a class, build it into a
sandboxed WebAssembly component with componentize-py (`seamless strategy build DIR`, or
just `seamless run DIR`), and the host feeds it candles in time order.

A strategy module is a file named `strategy.py` that subclasses `Strategy` and ends with
`Node = export(MyStrategy)`:

    from seamless_strategy import Config, Input, Signal, Strategy, export

    class Momentum(Strategy):
        def __init__(self, config: Config):
            self.node = config.node("node", "ohlcv:binance:BTC/USDT:1m")
            self.inputs = [Input(self.node, warmup=1)]
            self.last = None

        def on_candles(self, batch, warmup):
            out = []
            for row in batch.rows():
                if self.last is not None and not warmup and row.close > self.last:
                    out.append(Signal(row.open_time, row.input, "up", row.close))
                self.last = row.close
            return out

    Node = export(Momentum)

State lives on the instance (`self`), from `__init__` to the end of the run: the host
creates one `Node` per run (and a fresh one after a crash, re-warmed on the candles
before it). The same module runs natively (plain `python -m pytest`) with the same
classes, so a strategy is unit-tested without building anything.

This module is the contract of `wit/market.wit` (world `strategy-node`, resource
`strategy.node`) seen from Python; the host that builds a strategy puts its own copy of
this file first on the path, so a strategy always builds against the SDK of the seamless
that runs it.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

__all__ = [
    "Batch",
    "Columns",
    "Config",
    "ConfigError",
    "History",
    "Input",
    "Row",
    "Signal",
    "Strategy",
    "StrategyError",
    "export",
    "format_float",
]

#: The node a strategy reads when none is configured (as in the Rust kit).
DEFAULT_NODE = "ohlcv:binance:BTC/USDT:1m"


class ConfigError(ValueError):
    """A bad configuration: the message names the key and the fix."""


class StrategyError(RuntimeError):
    """A strategy refused a call (natively; inside the component it becomes the WIT error)."""


@dataclass(frozen=True)
class Input:
    """One input stream: a node id `ohlcv:{exchange}:{symbol}:{timeframe}` and the closed
    candles it needs before the first candle of the run."""

    node: str
    warmup: int = 0


@dataclass
class Signal:
    """A signal: the open time (ms) of the candle that produced it, the index of that
    candle's input, what it says, a number and a note for people."""

    time: int
    input: int
    action: str
    value: float
    note: str = ""


class Row(NamedTuple):
    """One candle of a batch with its input index."""

    input: int
    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class Columns:
    """Candles as columns (row `i` of every list is one candle): history answers."""

    __slots__ = ("open_time", "open", "high", "low", "close", "volume")

    def __init__(self, open_time, open, high, low, close, volume):
        self.open_time = open_time
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume

    def __len__(self) -> int:
        return len(self.open_time)


class Batch:
    """A time-ordered run of candles across inputs: `inputs[i]` is the input of row `i`
    of the columns `open_time`, `open`, `high`, `low`, `close`, `volume`. Rows ascend by
    open time; rows with the same open time go in input order."""

    __slots__ = ("inputs", "open_time", "open", "high", "low", "close", "volume")

    def __init__(self, inputs, open_time, open, high, low, close, volume):
        n = len(open_time)
        for name, col in (
            ("inputs", inputs),
            ("open", open),
            ("high", high),
            ("low", low),
            ("close", close),
            ("volume", volume),
        ):
            if len(col) != n:
                raise StrategyError(
                    f"malformed batch: open-time has {n} rows but {name} has {len(col)}"
                )
        self.inputs = inputs
        self.open_time = open_time
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume

    @classmethod
    def of(cls, input: int, candles: Sequence[Sequence[float]]) -> "Batch":
        """A batch of one input from `(open_time, open, high, low, close, volume)` rows
        (for tests)."""
        cols = list(zip(*candles)) if candles else [(), (), (), (), (), ()]
        return cls([input] * len(candles), *[list(c) for c in cols])

    def __len__(self) -> int:
        return len(self.open_time)

    def rows(self) -> Iterator[Row]:
        """Every candle in order, with its input."""
        return map(
            Row._make,
            zip(self.inputs, self.open_time, self.open, self.high, self.low, self.close, self.volume),
        )

    def runs(self) -> Iterator[Tuple[int, int, int]]:
        """Runs of consecutive rows of one input: `(input, start, end)`, rows `start:end`."""
        start, n, inputs = 0, len(self.inputs), self.inputs
        while start < n:
            i, end = inputs[start], start + 1
            while end < n and inputs[end] == i:
                end += 1
            yield i, start, end
            start = end


class History:
    """Closed candles the host serves, bounded to what has closed by the candle being
    processed (no look-ahead). Inside the component it asks the host; natively it answers
    from the candles given to it (for tests)."""

    def __init__(self, candles: Optional[Sequence[Columns]] = None):
        self._candles = candles

    def range(self, input: int, start: int, end: int) -> Columns:
        """Candles of `input` opening in `[start, end)` (ms)."""
        if self._candles is None:
            from wit_world.imports import history, types  # the host's `history` import

            return _columns(history.range(input, types.Window(start=start, end=end)))
        c = self._candles[input]
        keep = [i for i, t in enumerate(c.open_time) if start <= t < end]
        return _pick(c, keep)

    def last(self, input: int, count: int, before: int) -> Columns:
        """The last `count` candles of `input` opening before `before` (ms)."""
        if self._candles is None:
            from wit_world.imports import history

            return _columns(history.last(input, count, before))
        c = self._candles[input]
        keep = [i for i, t in enumerate(c.open_time) if t < before][-count:] if count else []
        return _pick(c, keep)


def _columns(c) -> Columns:
    return Columns(c.open_time, c.open, c.high, c.low, c.close, c.volume)


def _pick(c: Columns, keep: List[int]) -> Columns:
    return Columns(*[[getattr(c, f)[i] for i in keep] for f in Columns.__slots__])


class Config:
    """`key=value` configuration. Unknown and repeated keys are refused up front (the
    error lists the valid keys); the typed getters return the default for an absent key
    and raise `ConfigError` naming the key, what it expects and an example for a bad
    value. Keys and values are trimmed. The messages are the Rust kit's."""

    def __init__(self, pairs: Sequence[Tuple[str, str]], valid: Sequence[str]):
        seen = set()
        for k, _ in pairs:
            k = k.strip()
            if k not in valid:
                hint = (
                    f"valid keys are: {', '.join(valid)}"
                    if valid
                    else "this strategy takes no configuration"
                )
                raise ConfigError(f"unknown config key `{k}`; {hint}")
            if k in seen:
                raise ConfigError(f"config key `{k}` is given twice; give it once")
            seen.add(k)
        self._values = {k.strip(): v.strip() for k, v in pairs}

    def raw(self, key: str) -> Optional[str]:
        """The trimmed value of `key`, if given."""
        return self._values.get(key)

    def string(self, key: str, default: str) -> str:
        v = self.raw(key)
        return default if v is None else v

    def node(self, key: str, default: str = DEFAULT_NODE) -> str:
        """A node id `ohlcv:{exchange}:{symbol}:{timeframe}`, shape-checked."""
        v = self.raw(key)
        try:
            return check_node(default if v is None else v)
        except ConfigError as e:
            raise ConfigError(f"config key `{key}`: {e}") from None

    def nodes(self, key: str) -> List[str]:
        """A comma-separated list of node ids (empty when absent); each once."""
        v = self.raw(key)
        if v is None:
            return []
        out: List[str] = []
        for part in v.split(","):
            try:
                n = check_node(part)
            except ConfigError as e:
                raise ConfigError(f"config key `{key}`: {e}") from None
            if n in out:
                raise ConfigError(f"config key `{key}` names {n} twice; list each node once")
            out.append(n)
        return out

    def int(self, key: str, default: int, lo: int = 0, hi: int = 2**32 - 1) -> int:
        """A whole number in `lo..=hi`."""
        v = self.raw(key)
        if v is None:
            return default
        if v.isascii() and v.isdigit() and lo <= int(v) <= hi:
            return int(v)
        raise ConfigError(
            f"config key `{key}` expects a whole number from {lo} to {hi}, got `{v}`; e.g. {key}={default}"
        )

    def float(self, key: str, default: float) -> float:
        """A finite number."""
        v = self.raw(key)
        if v is None:
            return default
        try:
            x = float(v)
        except ValueError:
            x = None
        if x is None or x != x or x in (float("inf"), float("-inf")):
            raise ConfigError(
                f"config key `{key}` expects a finite number, got `{v}`; e.g. {key}={format_float(default)}"
            )
        return x

    def choice(self, key: str, options: Sequence[str], default: str) -> str:
        """One of `options` (exact match)."""
        v = self.raw(key)
        if v is None:
            return default
        if v in options:
            return v
        raise ConfigError(
            f"config key `{key}` expects one of {', '.join(options)}, got `{v}`; e.g. {key}={default}"
        )


def check_node(s: str) -> str:
    """Check the shape of a node id (as the host's parser: exchange up to the first `:`,
    timeframe after the last); returns it trimmed or raises `ConfigError`."""
    s = s.strip()
    malformed = ConfigError(
        f"malformed node id `{s}`: expected ohlcv:EXCHANGE:SYMBOL:TIMEFRAME, e.g. ohlcv:binance:BTC/USDT:1m"
    )
    if not s.startswith("ohlcv:") or s.count(":") < 3:
        raise malformed
    exchange, rest = s[len("ohlcv:"):].split(":", 1)
    symbol, timeframe = rest.rsplit(":", 1)
    if not exchange or not all(c.islower() or c.isdigit() or c in "-_" for c in exchange):
        raise ConfigError(
            f"bad exchange id `{exchange}` in node id `{s}`: use a lowercase id such as binance"
        )
    if "/" not in symbol or symbol.startswith("/") or symbol.endswith("/"):
        raise ConfigError(
            f"bad symbol `{symbol}` in node id `{s}`: use BASE/QUOTE in capitals, e.g. BTC/USDT"
        )
    if len(timeframe) < 2 or not timeframe[:-1].isdigit() or timeframe[-1] not in "smhdwM":
        raise ConfigError(
            f"bad timeframe `{timeframe}` in node id `{s}`: use a number and a unit (s, m, h, d, w, M), e.g. 1m"
        )
    return s


def format_float(x: float) -> str:
    """`x` as Rust's `{}` prints an f64: the shortest digits that read back as `x`, without
    an exponent, and no `.0` on whole numbers (so notes match the Rust strategies')."""
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    s = format(Decimal(repr(x)), "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s == "-0" and x == 0 else s


class Strategy:
    """Subclass it: `__init__(self, config: Config)` reads the configuration (`Config`
    refuses unknown keys; pass them with `keys`) and sets `self.inputs`, a list of
    `Input`; `on_candles(self, batch: Batch, warmup: bool)` returns a list of `Signal`
    (during warm-up the host drops them, so return none). `self.history` reads closed
    candles the host serves."""

    #: The configuration keys this strategy accepts (`Config` refuses any other).
    keys: Sequence[str] = ()
    inputs: List[Input]
    history: History

    def __init__(self, config: Config):  # pragma: no cover - the subclass's
        raise NotImplementedError("a strategy defines __init__(self, config)")

    def on_candles(self, batch: Batch, warmup: bool) -> List[Signal]:  # pragma: no cover
        raise NotImplementedError("a strategy defines on_candles(self, batch, warmup)")


def _create(cls: Callable[[Config], Strategy], pairs) -> Strategy:
    strategy = cls(Config(list(pairs), list(getattr(cls, "keys", ()))))
    if not getattr(strategy, "inputs", None):
        raise StrategyError(
            f"{cls.__name__}.__init__ must set self.inputs to a list of Input (one per node it reads)"
        )
    if not hasattr(strategy, "history"):
        strategy.history = History()
    return strategy


def export(cls):
    """The `Node` resource of `wit/market.wit` for strategy class `cls`: write
    `Node = export(MyStrategy)` at the end of `strategy.py`. Inside the component it
    implements `wit_world.exports.strategy.Node`; natively it has the same methods and
    raises `StrategyError` where the component returns an error."""
    try:
        from componentize_py_types import Err
        from wit_world.exports import strategy as wit
    except ImportError:  # natively: the same shape, plain Python errors
        wit, Err = None, None

    def fail(message: str):
        return Err(message) if Err is not None else StrategyError(message)

    base = wit.Node if wit is not None else object

    class Node(base):  # type: ignore[misc, valid-type]
        """The configured strategy (`strategy.node`): state lives as long as it does."""

        def __init__(self, strategy: Strategy):
            self.strategy = strategy

        @classmethod
        def create(klass, config):
            try:
                return klass(_create(cls, config))
            except (ConfigError, StrategyError) as e:
                raise fail(str(e)) from None
            except Exception:
                raise fail(f"{cls.__name__}.__init__ raised:\n{traceback.format_exc().rstrip()}") from None

        def inputs(self):
            ins = self.strategy.inputs
            if wit is None:
                return list(ins)
            return [wit.Input(node_id=i.node, warmup=int(i.warmup)) for i in ins]

        def on_candles(self, batch, warmup: bool):
            try:
                if isinstance(batch, Batch):
                    b = batch
                else:
                    c = batch.candles
                    b = Batch(batch.inputs, c.open_time, c.open, c.high, c.low, c.close, c.volume)
                signals = self.strategy.on_candles(b, warmup) or []
            except StrategyError as e:
                raise fail(str(e)) from None
            except Exception:
                raise fail(
                    f"{cls.__name__}.on_candles raised:\n{traceback.format_exc().rstrip()}"
                ) from None
            if wit is None:
                return list(signals)
            return [
                wit.Signal(
                    time=int(s.time),
                    input=int(s.input),
                    action=s.action,
                    value=float(s.value),
                    note=s.note,
                )
                for s in signals
            ]

    Node.__name__ = Node.__qualname__ = "Node"
    return Node
