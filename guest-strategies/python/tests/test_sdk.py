"""Native tests of the Python strategy SDK (no build): configuration messages (the Rust
kit's words), batches, float formatting as Rust prints it, and the exported `Node` shape.
The built components are tested against their Rust twins in tests/all/python_strategy.rs."""

import importlib.util
import os

import pytest

from seamless_strategy import (
    Batch,
    Config,
    ConfigError,
    Input,
    Signal,
    Strategy,
    StrategyError,
    export,
    format_float,
)

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def example(name):
    spec = importlib.util.spec_from_file_location(f"{name}_strategy", os.path.join(HERE, name, "strategy.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_config_refuses_unknown_and_repeated_keys_like_the_rust_kit():
    with pytest.raises(ConfigError, match=r"unknown config key `speed`; valid keys are: fast, slow"):
        Config([("speed", "1")], ["fast", "slow"])
    with pytest.raises(ConfigError, match="this strategy takes no configuration"):
        Config([("x", "1")], [])
    with pytest.raises(ConfigError, match=r"config key `fast` is given twice; give it once"):
        Config([("fast", "1"), (" fast ", "2")], ["fast"])


def test_typed_values_name_the_key_and_an_example():
    c = Config([("n", " 7 "), ("x", "abc"), ("f", "inf"), ("k", "b"), ("node", "BTC")], ["n", "x", "f", "k", "node"])
    assert c.int("n", 3, 1, 10) == 7
    assert c.int("missing", 3, 1, 10) == 3
    with pytest.raises(ConfigError, match=r"`x` expects a whole number from 1 to 10, got `abc`; e.g. x=3"):
        c.int("x", 3, 1, 10)
    with pytest.raises(ConfigError, match=r"`f` expects a finite number, got `inf`; e.g. f=0.5"):
        c.float("f", 0.5)
    with pytest.raises(ConfigError, match=r"`k` expects one of a, c, got `b`; e.g. k=a"):
        c.choice("k", ["a", "c"], "a")
    with pytest.raises(ConfigError, match=r"config key `node`: malformed node id `BTC`"):
        c.node("node")
    assert Config([], []).node("node") == "ohlcv:binance:BTC/USDT:1m"
    two = Config([("nodes", "ohlcv:binance:BTC/USDT:1m, ohlcv:okx:ETH/USDT:1h")], ["nodes"])
    assert two.nodes("nodes") == ["ohlcv:binance:BTC/USDT:1m", "ohlcv:okx:ETH/USDT:1h"]
    with pytest.raises(ConfigError, match="twice"):
        Config([("nodes", "ohlcv:a:B/C:1m,ohlcv:a:B/C:1m")], ["nodes"]).nodes("nodes")


@pytest.mark.parametrize(
    "x, rust",
    [
        (2.0, "2"),
        (0.5, "0.5"),
        (-3.25, "-3.25"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e-7, "0.0000001"),
        (1e21, "1000000000000000000000"),
        (123456.789, "123456.789"),
        (0.0, "0"),
    ],
)
def test_floats_print_as_rust_prints_f64(x, rust):
    assert format_float(x) == rust


def test_batches_check_lengths_and_split_runs():
    b = Batch([0, 0, 1, 0], [1, 2, 2, 3], [1.0] * 4, [1.0] * 4, [1.0] * 4, [5.0, 6.0, 7.0, 8.0], [1.0] * 4)
    assert list(b.runs()) == [(0, 0, 2), (1, 2, 3), (0, 3, 4)]
    rows = list(b.rows())
    assert rows[2].input == 1 and rows[2].close == 7.0 and rows[2].open_time == 2
    assert len(b) == 4
    with pytest.raises(StrategyError, match="open-time has 2 rows but close has 1"):
        Batch([0, 0], [1, 2], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0], [1.0, 1.0])


def test_export_has_the_node_shape_natively():
    class Echo(Strategy):
        keys = ("node",)

        def __init__(self, config):
            self.inputs = [Input(config.node("node"), warmup=2)]

        def on_candles(self, batch, warmup):
            if 99 in batch.open_time:
                raise KeyError("boom")
            return [Signal(t, i, "seen", c) for i, t, c in zip(batch.inputs, batch.open_time, batch.close)]

    Node = export(Echo)
    n = Node.create([])
    assert n.inputs() == [Input("ohlcv:binance:BTC/USDT:1m", 2)]
    out = n.on_candles(Batch.of(0, [(1, 1.0, 1.0, 1.0, 2.5, 1.0)]), False)
    assert out == [Signal(1, 0, "seen", 2.5)]
    with pytest.raises(StrategyError, match="unknown config key `x`"):
        Node.create([("x", "1")])
    with pytest.raises(StrategyError) as e:
        n.on_candles(Batch.of(0, [(99, 1.0, 1.0, 1.0, 1.0, 1.0)]), False)
    assert "Echo.on_candles raised" in str(e.value) and "KeyError: 'boom'" in str(e.value)

    class NoInputs(Strategy):
        def __init__(self, config):
            pass

    with pytest.raises(StrategyError, match="must set self.inputs"):
        export(NoInputs).create([])


def test_sma_cross_example_matches_a_direct_computation():
    sma = example("sma_cross")
    node = sma.Node.create([("fast", "2"), ("slow", "4")])
    closes = [10.0, 11.0, 12.0, 11.0, 9.0, 8.0, 9.0, 12.0, 14.0, 13.0, 10.0, 9.0]
    rows = [(t, c, c, c, c, 1.0) for t, c in enumerate(closes)]
    got = [(s.time, s.action) for s in node.on_candles(Batch.of(0, rows), False)]
    want, prev = [], None
    for i in range(3, len(closes)):
        d = sum(closes[i - 1:i + 1]) / 2 - sum(closes[i - 3:i + 1]) / 4
        if prev is not None:
            if prev <= 0 < d:
                want.append((i, "buy"))
            elif prev >= 0 > d:
                want.append((i, "sell"))
        prev = d
    assert got == want and want


def test_spread_example_refuses_bad_thresholds_with_rust_numbers():
    spread = example("spread")
    with pytest.raises(StrategyError, match=r"config key `exit` must be from 0 to `entry` \(2\), got 3; e.g. exit=0.5"):
        spread.Node.create([("exit", "3")])
