#!/usr/bin/env python3
"""Compare ccxt (Python) with seamless on the same window from the same exchange simulator.

Both clients backfill `BTC/USDT` 1m candles for `[start, start + days)` from the local
simulator (`target/release/exchange-sim`, Binance spot REST on 127.0.0.1):

- ccxt 4.5.90: `binance.fetch_ohlcv(..., params={'paginate': True, ...})`, every URL pointed at
  the simulator, markets injected with `set_markets` so no `load_markets` request is made, and a
  guard on `exchange.fetch` that refuses (and counts) every request;
- seamless: `seamless fetch ... --exchange-url binance=SIM --store sqlite:<fresh temp db>`, timed
  as the wall time of the process.

Then seamless is run once more from the (now warm) store into a CSV to check that both clients
got the same candles.

Usage:
    python3 -m pip install ccxt==4.5.90
    python3 bench/ccxt_compare.py --days 30 --json /tmp/ccxt_compare.json

Only the standard library and ccxt are used. Nothing but 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

CCXT_VERSION = "4.5.90"
PIP_COMMAND = f"python3 -m pip install ccxt=={CCXT_VERSION}"
SYMBOL = "BTC/USDT"
TIMEFRAME = "1m"
TF_MS = 60_000
NODE = f"ohlcv:binance:{SYMBOL}:{TIMEFRAME}"
REPO = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"exchange-sim listening on (http://127\.0\.0\.1:\d+)")
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")

# urllib without proxies: the simulator is local and must be reached directly.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def die(msg: str, code: int = 1) -> None:
    print(f"ccxt_compare: {msg}", file=sys.stderr)
    sys.exit(code)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=int, default=30, help="window length in days (default 30)")
    p.add_argument("--start", default="2024-01-01", help="window start, YYYY-MM-DD (UTC; default 2024-01-01)")
    p.add_argument("--sim", help="simulator URL (http://127.0.0.1:PORT); default: start --sim-bin and stop it at the end")
    p.add_argument("--sim-bin", default=str(REPO / "target/release/exchange-sim"), help="simulator binary")
    p.add_argument("--seed", type=int, default=42, help="simulator seed when it is started here (default 42)")
    p.add_argument("--seamless", default=str(REPO / "target/release/seamless"), help="seamless binary")
    p.add_argument("--json", help="write the results as JSON to this file")
    p.add_argument("--ccxt-rate-limit", action="store_true",
                   help="run ccxt with its default enableRateLimit=True (as shipped) instead of False")
    p.add_argument("--no-warmup", action="store_true",
                   help="skip the untimed seamless run (one hour, the day before the window, throwaway store) "
                        "that fills the compiled-component cache before the timed run")
    a = p.parse_args()
    if a.days <= 0:
        die("--days must be positive", 2)
    return a


def import_ccxt():
    try:
        import ccxt  # noqa: PLC0415
    except ImportError:
        print(f"ccxt is not installed; run:\n    {PIP_COMMAND}", file=sys.stderr)
        sys.exit(2)
    if ccxt.__version__ != CCXT_VERSION:
        print(f"warning: ccxt {ccxt.__version__} is installed, the benchmark is pinned to {CCXT_VERSION} "
              f"({PIP_COMMAND})", file=sys.stderr)
    return ccxt


def check_local(url: str) -> str:
    """The simulator URL must be http://127.0.0.1:PORT (nothing else is ever contacted)."""
    url = url.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname != "127.0.0.1" or parts.port is None or parts.path:
        die(f"--sim must look like http://127.0.0.1:PORT, got {url!r}", 2)
    return url


# ---------------------------------------------------------------------------------------------
# The simulator


class Simulator:
    """The simulator process when this script starts it (else only the URL)."""

    def __init__(self, url: str | None, binary: str, seed: int):
        self.proc: subprocess.Popen | None = None
        self.log = None
        if url:
            self.url = check_local(url)
            return
        if not os.access(binary, os.X_OK):
            die(f"simulator binary {binary} not found; build it (cargo build --release -p exchange-sim) "
                "or pass --sim URL", 2)
        self.log = tempfile.NamedTemporaryFile(prefix="exchange-sim-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--seed", str(seed)],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=clean_env(),
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=30)
        m = LISTENING.search(line[0]) if line else None
        if not m:
            self.stop()
            die(f"the simulator did not print its address within 30 s (got {line[:1]!r}); see {self.log.name}")
        self.url = check_local(m.group(1))

    def stats(self) -> dict:
        with _LOCAL.open(f"{self.url}/__sim/stats", timeout=10) as r:
            return json.load(r)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def klines_requests(stats: dict) -> int:
    return int(stats.get("requests", {}).get("/api/v3/klines", 0))


def clean_env() -> dict:
    """Environment for child processes: no proxies, no SEAMLESS_* settings but the adapter dir."""
    env = {k: v for k, v in os.environ.items()
           if k not in PROXY_VARS and not (k.startswith("SEAMLESS_") and k != "SEAMLESS_ADAPTER_DIR")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


# ---------------------------------------------------------------------------------------------
# ccxt


def rewrite_urls(value, sim: str):
    """Point every http(s) URL in ccxt's `urls` tree at the simulator, keeping the path."""
    if isinstance(value, str) and re.match(r"https?://", value):
        parts = urlsplit(value)
        return sim + parts.path + (f"?{parts.query}" if parts.query else "")
    if isinstance(value, dict):
        return {k: rewrite_urls(v, sim) for k, v in value.items()}
    if isinstance(value, list):
        return [rewrite_urls(v, sim) for v in value]
    return value


def btc_usdt_market() -> dict:
    """A minimal BTC/USDT spot market, enough for ccxt's fetch_ohlcv."""
    return {
        "id": "BTCUSDT", "lowercaseId": "btcusdt", "symbol": SYMBOL,
        "base": "BTC", "quote": "USDT", "baseId": "BTC", "quoteId": "USDT", "settle": None, "settleId": None,
        "type": "spot", "spot": True, "margin": False, "swap": False, "future": False, "option": False,
        "contract": False, "linear": None, "inverse": None, "active": True,
        "contractSize": None, "expiry": None, "expiryDatetime": None, "strike": None, "optionType": None,
        "precision": {"amount": 0.00001, "price": 0.01, "base": 1e-8, "quote": 1e-8},
        "limits": {"amount": {"min": 0.00001, "max": 9000.0}, "price": {"min": 0.01, "max": 1000000.0},
                   "cost": {"min": 5.0, "max": None}, "leverage": {"min": None, "max": None}},
        "info": {},
    }


def run_ccxt(ccxt, sim: str, start_ms: int, end_ms: int, rate_limit: bool = False) -> dict:
    # enableRateLimit True is ccxt's shipped default (its own 50 ms spacing for binance);
    # False measures the client alone.
    exchange = ccxt.binance({"enableRateLimit": rate_limit, "requests_trust_env": False})
    if getattr(exchange, "session", None) is not None:
        exchange.session.trust_env = False  # never use an environment proxy
    exchange.urls = rewrite_urls(exchange.urls, sim)
    leftovers = [u for u in json.dumps(exchange.urls).split('"') if re.match(r"https?://", u) and not u.startswith(sim)]
    assert not leftovers, f"urls not rewritten: {leftovers}"

    requested: list[str] = []
    refused: list[str] = []
    original_fetch = exchange.fetch

    def guarded_fetch(url, method="GET", headers=None, body=None):
        if not url.startswith(sim + "/"):
            refused.append(url)
            raise RuntimeError(f"ccxt tried to contact {url}, outside the simulator {sim}")
        requested.append(url)
        return original_fetch(url, method, headers, body)

    exchange.fetch = guarded_fetch
    exchange.set_markets([btc_usdt_market()])

    t0 = time.perf_counter()
    rows = exchange.fetch_ohlcv(SYMBOL, TIMEFRAME, since=start_ms, params={
        "paginate": True, "paginationCalls": 10000, "until": end_ms - 1,
    })
    seconds = time.perf_counter() - t0
    if hasattr(exchange, "close"):
        exchange.close()

    assert not refused, f"ccxt tried to leave the simulator: {refused}"
    assert all(u.startswith(sim + "/api/v3/klines?") for u in requested), \
        f"unexpected ccxt requests: {[u for u in requested if '/api/v3/klines?' not in u][:5]}"
    inside = [r for r in rows if start_ms <= r[0] < end_ms]
    return {
        "version": ccxt.__version__,
        "candles": len(inside),
        "rows_returned": len(rows),
        "seconds": seconds,
        "requests": len(requested),
        "first_url": requested[0] if requested else None,
        "_rows": inside,
    }


# ---------------------------------------------------------------------------------------------
# seamless


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def seamless_cmd(binary: str, sim: str, store: Path, start_ms: int, end_ms: int, output: str) -> list[str]:
    return [binary, "fetch", "--node", NODE, "--start", iso(start_ms), "--end", iso(end_ms),
            "--exchange-url", f"binance={sim}", "--store", f"sqlite:{store}",
            "--format", "csv", "--output", output, "-q"]


def run_seamless(binary: str, sim: str, start_ms: int, end_ms: int, workdir: Path, warmup: bool) -> dict:
    if not os.access(binary, os.X_OK):
        die(f"seamless binary {binary} not found; build it (cargo build --release -p seamless) or pass --seamless", 2)
    warmup_seconds = None
    if warmup:
        # Untimed: a different window into a throwaway store, so the adapter is compiled and
        # cached on disk (a one-time cost per machine) before the timed run.
        w0 = start_ms - 86_400_000
        cmd = seamless_cmd(binary, sim, workdir / "warmup.db", w0, w0 + 3_600_000, os.devnull)
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=clean_env())
        warmup_seconds = time.perf_counter() - t
        if proc.returncode != 0:
            die(f"seamless warm-up failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stderr.strip()}")
    store = workdir / "seamless.db"
    cmd = seamless_cmd(binary, sim, store, start_ms, end_ms, os.devnull)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=clean_env())
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        die(f"seamless failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stderr.strip()}")

    # Verification run from the warm store (not timed): the rows it serves.
    out = workdir / "seamless.csv"
    cmd2 = seamless_cmd(binary, sim, store, start_ms, end_ms, str(out))
    t1 = time.perf_counter()
    proc2 = subprocess.run(cmd2, capture_output=True, text=True, env=clean_env())
    warm = time.perf_counter() - t1
    if proc2.returncode != 0:
        die(f"seamless (warm run) failed (exit {proc2.returncode}): {' '.join(cmd2)}\n{proc2.stderr.strip()}")
    with out.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        rows = [[int(r[0])] + [float(x) for x in r[1:6]] for r in reader if r]
    inside = [r for r in rows if start_ms <= r[0] < end_ms]
    return {
        "command": " ".join(cmd),
        "seconds": seconds,
        "warm_seconds": warm,
        "warmup_seconds": warmup_seconds,
        "csv_header": header,
        "_rows": inside,
    }


def compare(a: list, b: list) -> dict:
    """Same open times and the same OHLCV values (to 1e-9 relative) in both frames."""
    ta = {r[0]: r for r in a}
    tb = {r[0]: r for r in b}
    only_a = sorted(set(ta) - set(tb))
    only_b = sorted(set(tb) - set(ta))
    differ = 0
    for t in set(ta) & set(tb):
        if not all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12) for x, y in zip(ta[t][1:6], tb[t][1:6])):
            differ += 1
    return {"only_ccxt": len(only_a), "only_seamless": len(only_b), "values_differ": differ,
            "identical": not only_a and not only_b and differ == 0}


# ---------------------------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    ccxt = import_ccxt()
    try:
        start = dt.datetime.strptime(args.start, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        die(f"--start must be YYYY-MM-DD, got {args.start!r}", 2)
    start_ms = int(start.timestamp() * 1000)
    end_ms = start_ms + args.days * 86_400_000
    expected = (end_ms - start_ms) // TF_MS

    sim = Simulator(args.sim, args.sim_bin, args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="ccxt-compare-"))
    try:
        s0 = sim.stats()
        c = run_ccxt(ccxt, sim.url, start_ms, end_ms, args.ccxt_rate_limit)
        s1 = sim.stats()
        s = run_seamless(args.seamless, sim.url, start_ms, end_ms, workdir, not args.no_warmup)
        s2 = sim.stats()
    finally:
        sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    c["sim_klines_requests"] = klines_requests(s1) - klines_requests(s0)
    # Counts the warm-up (1 request), the timed run and the verification run from the warm store
    # (which should need no request).
    s["sim_klines_requests"] = klines_requests(s2) - klines_requests(s1)
    s["candles"] = len(s["_rows"])
    check = compare(c.pop("_rows"), s.pop("_rows"))
    c["candles_per_s"] = c["candles"] / c["seconds"] if c["seconds"] > 0 else None
    s["candles_per_s"] = s["candles"] / s["seconds"] if s["seconds"] > 0 else None
    ratio = s["candles_per_s"] / c["candles_per_s"] if c["candles_per_s"] and s["candles_per_s"] else None

    print(f"window: {NODE} [{iso(start_ms)}, {iso(end_ms)}) = {expected} slots, simulator {sim.url}")
    print(f"ccxt: {c['candles']} candles in {c['seconds']:.3f} s ({c['candles_per_s']:.0f} candles/s), "
          f"{c['requests']} requests (simulator counted {c['sim_klines_requests']} klines requests)")
    print(f"seamless: {s['candles']} candles in {s['seconds']:.3f} s ({s['candles_per_s']:.0f} candles/s), "
          f"process wall time; warm re-read {s['warm_seconds']:.3f} s; "
          f"simulator counted {s['sim_klines_requests']} klines requests")
    print(f"ratio: seamless/ccxt = {ratio:.2f} x" if ratio else "ratio: n/a")
    print("same candles: yes" if check["identical"] else f"same candles: NO {check}")

    result = {
        "node": NODE, "start_ms": start_ms, "end_ms": end_ms, "days": args.days, "expected_slots": expected,
        "simulator": sim.url, "simulator_started_here": args.sim is None,
        "ccxt": c, "seamless": s, "ratio_seamless_over_ccxt": ratio, "comparison": check,
        "python": sys.version.split()[0], "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(),
    }
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0 if check["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
