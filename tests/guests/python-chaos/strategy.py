"""A Python strategy that misbehaves on purpose, for the host's tests of Python guests.

Config: `node` (default BTC/USDT 1m on Binance), `mode` and `at` (an open time, ms): when
a batch holds the candle opening at `at`, mode `raise` raises ZeroDivisionError, `loop`
spins forever, `oom` allocates until memory runs out, `error` returns a StrategyError.
Mode `none` only emits a `tick` signal per candle. Mode `config` refuses its
configuration with a plain ValueError (not a ConfigError).
"""

from seamless_strategy import Input, Signal, Strategy, StrategyError, export


def divide(a, b):
    return a / b


class Chaos(Strategy):
    keys = ("node", "mode", "at")

    def __init__(self, config):
        self.mode = config.choice("mode", ["none", "raise", "loop", "oom", "error", "config"], "none")
        if self.mode == "config":
            raise ValueError("chaos: refusing the configuration")
        self.at = int(config.string("at", "0"))
        self.inputs = [Input(config.node("node"), warmup=5)]

    def on_candles(self, batch, warmup):
        if warmup:
            return []
        if self.at in batch.open_time:
            if self.mode == "raise":
                divide(1, 0)
            elif self.mode == "loop":
                n = 0
                while True:
                    n += 1
            elif self.mode == "oom":
                hog = []
                while True:
                    hog.append(bytearray(16 << 20))
            elif self.mode == "error":
                raise StrategyError(f"chaos error at {self.at}")
        return [Signal(t, i, "tick", c) for i, t, c in zip(batch.inputs, batch.open_time, batch.close)]


Node = export(Chaos)
