"""`spread` in Python: the twin of guest-strategies/spread (Rust), signal for signal.

Two inputs `a` and `b` (defaults BTC/USDT and ETH/USDT on Binance, 1m); when both have a
candle at the same open time, `r = close_a / close_b` joins the last `window` ratios.
Once `window` ratios exist: mean and variance over them (plain sums, oldest first, from
0.0), `z = (r - mean) / std` when `std > 0`. Flat and `z > entry` → `short-spread`, flat
and `z < -entry` → `long-spread`, in a position and `|z| < exit` → `exit`. Warm-up pairs
only fill the window. `window` (default 60, ≥ 2), `entry` (default 2.0, > 0), `exit`
(default 0.5, 0..=entry).
"""

import math

from seamless_strategy import Config, ConfigError, Input, Signal, Strategy, export, format_float

MAX_WINDOW = 1_000_000


class Spread(Strategy):
    keys = ("a", "b", "window", "entry", "exit")

    def __init__(self, config: Config):
        a = config.node("a", "ohlcv:binance:BTC/USDT:1m")
        b = config.node("b", "ohlcv:binance:ETH/USDT:1m")
        window = config.int("window", 60, 2, MAX_WINDOW)
        entry = config.float("entry", 2.0)
        exit_ = config.float("exit", 0.5)
        if not entry > 0.0:
            raise ConfigError(
                f"config key `entry` must be a number above 0, got {format_float(entry)}; e.g. entry=2"
            )
        if not 0.0 <= exit_ <= entry:
            raise ConfigError(
                f"config key `exit` must be from 0 to `entry` ({format_float(entry)}), got {format_float(exit_)}; e.g. exit=0.5"
            )
        self.inputs = [Input(a, warmup=window), Input(b, warmup=window)]
        self.window, self.entry, self.exit = window, entry, exit_
        self.entry_s, self.exit_s = format_float(entry), format_float(exit_)
        self.ratios = []
        self.latest = [None, None]
        self.position = "flat"

    def on_candles(self, batch, warmup):
        out = []
        latest, ratios, window = self.latest, self.ratios, self.window
        for k, t, c in zip(batch.inputs, batch.open_time, batch.close):
            latest[k] = (t, c)
            other = latest[1 - k]
            if other is None or other[0] != t:
                continue
            r = c / other[1] if k == 0 else other[1] / c
            ratios.append(r)
            if len(ratios) > window:
                del ratios[0]
            if warmup or len(ratios) < window:
                continue
            z = self.z(r)
            if z is not None:
                self.decide(t, k, z, out)
        return out

    def z(self, r):
        total = 0.0
        for x in self.ratios:
            total += x
        mean = total / self.window
        sq = 0.0
        for x in self.ratios:
            d = x - mean
            sq += d * d
        std = math.sqrt(sq / self.window)
        return (r - mean) / std if std > 0.0 else None

    def decide(self, t, k, z, out):
        if self.position == "flat" and z > self.entry:
            action, position, note = "short-spread", "short", f"z {z:.4f} > {self.entry_s}: short a, long b"
        elif self.position == "flat" and z < -self.entry:
            action, position, note = "long-spread", "long", f"z {z:.4f} < -{self.entry_s}: long a, short b"
        elif self.position != "flat" and abs(z) < self.exit:
            action, position, note = "exit", "flat", f"|z| {abs(z):.4f} < {self.exit_s}: close the spread"
        else:
            return
        self.position = position
        out.append(Signal(t, k, action, z, note))


Node = export(Spread)
