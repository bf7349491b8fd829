"""Fixtures of the seamless_market tests: the exchange simulator (a real process on
127.0.0.1), the `seamless` CLI beside it, and an isolated configuration.

Binaries: `$SEAMLESS_BIN` / `$EXCHANGE_SIM_BIN`, else the workspace's `target/debug/`
(built by `cargo test --workspace` in scripts/test.sh, or `cargo build -p seamless -p exchange-sim`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
SEAMLESS_BIN = os.environ.get("SEAMLESS_BIN", str(TARGET / "debug" / "seamless"))
SIM_BIN = os.environ.get("EXCHANGE_SIM_BIN", str(TARGET / "debug" / "exchange-sim"))
LISTENING = re.compile(r"exchange-sim listening on (http://127\.0\.0\.1:\d+)")

NODE = "ohlcv:binance:BTC/USDT:1m"
# Two days of 1m in the simulator's deterministic market.
START, END = "2024-01-01T00:00:00Z", "2024-01-03T00:00:00Z"
START_MS, END_MS = 1_704_067_200_000, 1_704_240_000_000

# One compiled-component cache for the run (scripts/test.sh passes an empty one in CI).
CACHE_DIR = os.environ.get("SEAMLESS_TEST_CACHE_DIR", str(TARGET / "test-component-cache"))


def pytest_configure(config):
    # No user config file or SEAMLESS_* setting leaks into the tests (the CLI reads the same).
    for k in list(os.environ):
        if k.startswith("SEAMLESS_") and not k.startswith("SEAMLESS_TEST_") and k not in ("SEAMLESS_BIN", "SEAMLESS_WHEEL"):
            del os.environ[k]
    empty = Path(tempfile.mkdtemp(prefix="seamless-py-config-")) / "seamless.toml"
    empty.write_text("")
    os.environ["SEAMLESS_CONFIG"] = str(empty)
    os.environ["SEAMLESS_CACHE_DIR"] = CACHE_DIR


class Simulator:
    """`exchange-sim --port 0`, its URL read from the line it prints."""

    def __init__(self, *args: str):
        if not os.access(SIM_BIN, os.X_OK):
            pytest.fail(f"{SIM_BIN} not found: cargo build -p exchange-sim (or set EXCHANGE_SIM_BIN)")
        self.proc = subprocess.Popen(
            [SIM_BIN, "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for line in self.proc.stdout:
            m = LISTENING.search(line)
            if m:
                self.url = m.group(1)
                break
        else:
            raise RuntimeError(f"exchange-sim exited with {self.proc.wait()} before listening")
        # Keep draining its output so it never blocks on a full pipe.
        import threading

        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def requests(self) -> int:
        """Requests the simulator has answered (its /__sim/stats counter)."""
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{self.url}/__sim/stats", timeout=5) as r:
            return sum(json.load(r)["requests"].values())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def sim():
    s = Simulator()
    yield s
    s.stop()


@pytest.fixture()
def store(tmp_path):
    return f"sqlite:{tmp_path / 'candles.db'}"


@pytest.fixture()
def provider_for(sim):
    """`provider_for(store, **kw)`: a Provider on `store` with binance sent to the simulator."""
    import seamless_market as sm

    def make(store, **kw):
        kw.setdefault("exchange_urls", {"binance": sim.url})
        return sm.Provider(store=store, **kw)

    return make


def cli(*args: str, check: bool = True, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """Run the `seamless` CLI (same environment, so the same config and cache)."""
    if not os.access(SEAMLESS_BIN, os.X_OK):
        pytest.fail(f"{SEAMLESS_BIN} not found: cargo build -p seamless (or set SEAMLESS_BIN)")
    env = {**os.environ, **(env_extra or {})}
    p = subprocess.run([SEAMLESS_BIN, *args], capture_output=True, text=True, env=env)
    if check and p.returncode != 0:
        raise AssertionError(f"seamless {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


def cli_error(p: subprocess.CompletedProcess) -> str:
    """The message of a failed CLI run (its `error: ...` line(s))."""
    text = p.stderr.strip()
    i = text.rfind("error: ")
    assert i >= 0, text
    return text[i + len("error: "):]


PY = sys.executable
