"""`sma-cross` in Python: the twin of guest-strategies/sma-cross (Rust), signal for signal.

Config: `node` (default `ohlcv:binance:BTC/USDT:1m`) or `nodes` (comma-separated: one
crossover per node), `fast` (default 10), `slow` (default 30), `1 <= fast < slow`.
After each close, once `slow` closes are held: `fast_i` = (sum of the last `fast` closes,
oldest first, from 0.0) / fast, `slow_i` likewise over `slow`, `d_i = fast_i - slow_i`;
`d_{i-1} <= 0 < d_i` is `buy`, `d_{i-1} >= 0 > d_i` is `sell` (value: the close).
Sums are plain loops, oldest first, as in Rust (Python's `sum()` compensates rounding
and would differ in the last bit).
"""

from seamless_strategy import Config, ConfigError, Input, Signal, Strategy, export

MAX_PERIOD = 1_000_000


class Crossover:
    """One input's state: the last `slow` closes and the previous difference."""

    def __init__(self, input: int, fast: int, slow: int):
        self.input, self.fast, self.slow = input, fast, slow
        self.closes = []
        self.prev_d = None
        self.note_buy = f"sma{fast} crossed above sma{slow}"
        self.note_sell = f"sma{fast} crossed below sma{slow}"

    def step(self, t: int, c: float, warmup: bool, out: list) -> None:
        closes = self.closes
        closes.append(c)
        if len(closes) > self.slow:
            del closes[0]
        elif len(closes) < self.slow:
            return
        s = 0.0
        for x in closes:
            s += x
        f = 0.0
        for x in closes[self.slow - self.fast:]:
            f += x
        d = f / self.fast - s / self.slow
        p, self.prev_d = self.prev_d, d
        if p is None or warmup:
            return
        if p <= 0.0 and d > 0.0:
            out.append(Signal(t, self.input, "buy", c, self.note_buy))
        elif p >= 0.0 and d < 0.0:
            out.append(Signal(t, self.input, "sell", c, self.note_sell))


class SmaCross(Strategy):
    keys = ("node", "nodes", "fast", "slow")

    def __init__(self, config: Config):
        nodes = config.nodes("nodes")
        if config.raw("node") is not None and nodes:
            raise ConfigError(
                "config keys `node` and `nodes` both given: use `node` for one input or `nodes` for several"
            )
        if not nodes:
            nodes = [config.node("node")]
        fast = config.int("fast", 10, 1, MAX_PERIOD)
        slow = config.int("slow", 30, 2, MAX_PERIOD)
        if fast >= slow:
            raise ConfigError(
                f"config key `fast` ({fast}) must be smaller than `slow` ({slow}); e.g. fast=10 slow=30"
            )
        self.inputs = [Input(n, warmup=slow) for n in nodes]
        self.each = [Crossover(i, fast, slow) for i in range(len(nodes))]

    def on_candles(self, batch, warmup):
        out = []
        each = self.each
        for i, t, c in zip(batch.inputs, batch.open_time, batch.close):
            each[i].step(t, c, warmup, out)
        return out


Node = export(SmaCross)
